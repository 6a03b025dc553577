import Autoencoders
import TensorCore
import Training

/// numalogic's `TrainerConf` (+ `LightningTrainerConf` as `pltrainer_conf`), with AEFlow's trainer extras.
public struct TrainerConf: Equatable, Sendable {
    public var trainHours: Double = 192
    public var minTrainSize: Int = 2000
    public var retrainFreqHr: Double = 24
    /// AEFlow: retrain when a key's usable history has grown to this multiple of the last training's rows
    /// (0: only by `retrain_freq_hr`). With a short first warm-up, models improve as data arrives.
    public var retrainGrowth: Double = 2
    public var retrySec: Double = 600
    public var batchSize: Int = 64
    public var dataFreqSec: Double = 60
    public var dsStride: Int = 1
    /// Applied before preprocess during training only and never saved (numalogic's `transforms`).
    public var transforms: [ComponentSpec] = []
    public var maxEpochs: Int = 50
    public var checkValEveryNEpoch: Int = 5
    public var logFreq: Int = 5
    /// AEFlow: shuffle windows each epoch, hold out a validation split, early stopping, seed.
    public var shuffle = false
    public var valSplitRatio: Double?
    public var earlyStopping: EarlyStopping?
    public var seed: UInt64?

    public init() {}

    /// Lightning settings numalogic configs carry that have no meaning here (accepted, ignored).
    static let ignoredLightningKeys = ["accelerator", "logger", "enable_checkpointing", "enable_progress_bar",
                                       "enable_model_summary", "deterministic", "devices", "num_sanity_val_steps"]

    public static func read(_ value: JSONValue?, path: String) throws(ConfigReadError) -> TrainerConf {
        var r = try JSONObjectReader(value, path: path)
        var t = TrainerConf()
        t.trainHours = try r.double("train_hours", default: 192, range: 0.0...1e6)
        t.minTrainSize = try r.int("min_train_size", default: 2000, range: 1...Int(Int32.max))
        t.retrainFreqHr = try r.double("retrain_freq_hr", default: 24, range: 0.0...1e6)
        t.retrainGrowth = try r.double("retrain_growth", default: 2, range: 0.0...1e6)
        if t.retrainGrowth > 0 && t.retrainGrowth <= 1 {
            throw ConfigReadError(path: r.child("retrain_growth"), reason: "must be 0 (off) or greater than 1, got \(t.retrainGrowth)")
        }
        t.retrySec = try r.double("retry_sec", default: 600, range: 0.0...1e9)
        t.batchSize = try r.int("batch_size", default: 64, range: 1...1_000_000)
        t.dataFreqSec = try r.double("data_freq_sec", default: 60, range: 0.001...1e9)
        t.dsStride = try r.int("ds_stride", default: 1, range: 1...1_000_000)
        t.transforms = try r.array("transforms").enumerated().map { (i, v) throws(ConfigReadError) in
            try ComponentSpec.read(v, path: "\(r.child("transforms"))[\(i)]", defaultStateful: false)
        }
        var pl = try r.object("pltrainer_conf")
        t.maxEpochs = try pl.int("max_epochs", default: 50, range: 1...1_000_000)
        t.checkValEveryNEpoch = try pl.int("check_val_every_n_epoch", default: 5, range: 1...1_000_000)
        t.logFreq = try pl.int("log_freq", default: 5, range: 1...1_000_000)
        for k in ignoredLightningKeys { _ = pl.value(k) }
        try pl.finish()
        t.shuffle = try r.bool("shuffle", default: false)
        if r.has("val_split_ratio") { t.valSplitRatio = try r.double("val_split_ratio", range: 0.0...1.0) }
        if let es = r.value("early_stopping"), es != .null {
            var e = try JSONObjectReader(es, path: r.child("early_stopping"))
            t.earlyStopping = EarlyStopping(patience: try e.int("patience", default: 3, range: 1...1_000_000),
                                            minDelta: try e.float("min_delta", default: 0, range: 0...1e9),
                                            restoreBestWeights: try e.bool("restore_best_weights", default: true))
            try e.finish()
        }
        if r.has("seed") { t.seed = UInt64(try r.int("seed", range: 0...Int.max)) }
        try r.finish()
        return t
    }

    public var schedule: TrainingSchedule {
        TrainingSchedule(minTrainSize: minTrainSize, trainHours: trainHours, retrainFreqHr: retrainFreqHr, retrainGrowth: retrainGrowth)
    }

    /// Rows `train_hours` can hold at the stream's cadence (`data_freq_sec`), or nil when that reaches
    /// `min_train_size`: a configuration whose keys would never train (`aeflow config validate` warns).
    public var unreachableTrainSize: Int? {
        let rows = Int((trainHours * 3600 / dataFreqSec).rounded(.down)) + 1
        return rows < minTrainSize ? rows : nil
    }

    public var trainerConfig: TrainerConfig {
        TrainerConfig(maxEpochs: maxEpochs, batchSize: batchSize, shuffle: shuffle, checkValEveryNEpoch: checkValEveryNEpoch,
                      earlyStopping: earlyStopping, seed: seed, logEveryNEpochs: logFreq)
    }
}

/// numalogic's `NumalogicConf`: model, preprocess chain, threshold, postprocess, trainer and score settings.
public struct NumalogicConf: Equatable, Sendable {
    public var model: ModelSpec
    public var preprocess: [ComponentSpec]
    public var threshold: ComponentSpec
    public var postprocess: ComponentSpec?
    public var trainer: TrainerConf
    public var score: ScoreConfig

    public init(model: ModelSpec, preprocess: [ComponentSpec] = [ComponentSpec(name: "StandardScaler")],
                threshold: ComponentSpec = ComponentSpec(name: "StdDevThreshold"),
                postprocess: ComponentSpec? = ComponentSpec(name: "TanhNorm", stateful: false),
                trainer: TrainerConf = TrainerConf(), score: ScoreConfig = ScoreConfig()) {
        (self.model, self.preprocess, self.threshold, self.postprocess, self.trainer, self.score) =
            (model, preprocess, threshold, postprocess, trainer, score)
    }

    /// Reads and validates every component by building it once (so bad names and conf keys fail at load).
    public static func read(_ value: JSONValue?, path: String) throws(ConfigReadError) -> NumalogicConf {
        var r = try JSONObjectReader(value, path: path)
        try r.expect(["model", "preprocess", "threshold", "postprocess", "trainer", "score"])
        // Everything is read (unknown keys anywhere reported first), then each component is built once to check it.
        var mr = try r.object("model")
        let modelSpec = ModelSpec(name: try mr.string("name"), conf: try mr.object("conf").object)
        _ = try mr.bool("stateful", default: true)
        try mr.finish()
        let pre = try r.array("preprocess").enumerated().map { (i, v) throws(ConfigReadError) in
            try ComponentSpec.read(v, path: "\(r.child("preprocess"))[\(i)]")
        }
        let threshold = r.has("threshold") ? try ComponentSpec.read(r.value("threshold"), path: r.child("threshold"))
            : ComponentSpec(name: "StdDevThreshold")
        var post: ComponentSpec? = ComponentSpec(name: "TanhNorm", stateful: false)
        if r.has("postprocess") {
            let v = r.value("postprocess")
            post = v == .null ? nil : try ComponentSpec.read(v, path: r.child("postprocess"), defaultStateful: false)
        }
        let trainer = try TrainerConf.read(r.value("trainer"), path: r.child("trainer"))
        let score = try ScoreConfig.read(r.value("score"), path: r.child("score"))
        try r.finish()
        var rng = RandomGenerator(seed: 0)
        do {
            _ = try ModelFactory.make(modelSpec, using: &rng)
        } catch {
            throw ConfigReadError(path: r.child("model"), reason: error.description)
        }
        for (i, p) in pre.enumerated() { _ = try ComponentFactory.preprocess(p, path: "\(r.child("preprocess"))[\(i)]") }
        _ = try ComponentFactory.threshold(threshold, path: r.child("threshold"))
        if let post { _ = try Postprocess.make(post, path: r.child("postprocess")) }
        return NumalogicConf(model: modelSpec, preprocess: pre, threshold: threshold, postprocess: post, trainer: trainer, score: score)
    }
}

extension NumalogicConf {
    /// This configuration for `n` metrics: the model's `n_features` set to `n` when its conf has that setting (the
    /// embedded default run on a CSV's columns, or an evaluation over series of different widths). A model
    /// without that setting must already take `n` features.
    public func withFeatures(_ n: Int) throws(ConfigReadError) -> NumalogicConf {
        var c = self
        if c.model.conf["n_features"] != nil { c.model.conf["n_features"] = .int(Int64(n)) }
        var rng = RandomGenerator(seed: 0)
        let m: any Autoencoder
        do { m = try ModelFactory.make(c.model, using: &rng) } catch { throw ConfigReadError(path: "model", reason: error.description) }
        guard m.nFeatures == n else {
            throw ConfigReadError(path: "model.conf", reason: "\(c.model.name) takes \(m.nFeatures) features, the data has \(n) metrics")
        }
        return c
    }
}
