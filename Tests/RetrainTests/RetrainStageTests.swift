import Daemon
import Stage
import Foundation
import Logging
import Retrain
import Scoring
import Testing
import TestSupport
import TensorCore

/// The retrain stage in this process (as `serve --with-retrain` runs it), fed through its `RetrainLink`
/// side, training into a real store and history file.
@Suite struct RetrainStageTests {
    let dir: TemporaryDirectory
    init() throws { dir = try TemporaryDirectory(prefix: "aeflow-stage") }

    func config(scope: String = "key", trainer: String = "min_train_size: 200, retry_sec: 3600, pltrainer_conf: {max_epochs: 5}",
                retrain: String = "", concurrency: Int = 2) throws -> AEFlowConfig {
        let yaml = """
            http: {port: 0}
            store: {path: "\(dir.file("models"))"}
            history: {path: "\(dir.file("history.sqlite"))"}
            retrain: {concurrency: \(concurrency), scan_interval_s: 0.05\(retrain.isEmpty ? "" : ", " + retrain)}
            stream_confs:
              default:
                window_size: 12
                composite_keys: [host]
                ml_pipelines:
                  default:
                    metrics: [cpu, mem]
                    model_scope: \(scope)
                    numalogic_conf:
                      model: {name: VanillaAE, conf: {seq_len: 12, n_features: 2}}
                      preprocess: [{name: StandardScaler}]
                      trainer: {\(trainer)}
            """
        try yaml.write(toFile: dir.file("cfg.yaml"), atomically: true, encoding: .utf8)
        return try AEFlowConfig.load(path: dir.file("cfg.yaml"))
    }

    /// Collects the stage's events; `wait` blocks until `n` outcomes (or skips) arrived or the deadline passes.
    final class Outcomes: @unchecked Sendable {
        private let cond = NSCondition()
        private var items: [(ModelID, TrainOutcome)] = []
        private var skips: [(ModelID, SkipReason)] = []
        func add(_ r: ModelID, _ e: RetrainStage.Event) {
            cond.lock()
            switch e {
            case .finished(let o): items.append((r, o))
            case .skipped(let s): skips.append((r, s))
            }
            cond.broadcast()
            cond.unlock()
        }
        func wait(_ n: Int, timeout: Double = 60) -> [(ModelID, TrainOutcome)] {
            let deadline = Date(timeIntervalSinceNow: timeout)
            cond.lock(); defer { cond.unlock() }
            while items.count < n { if !cond.wait(until: deadline) { break } }
            return items
        }
        func waitSkips(_ n: Int, timeout: Double = 30) -> [(ModelID, SkipReason)] {
            let deadline = Date(timeIntervalSinceNow: timeout)
            cond.lock(); defer { cond.unlock() }
            while skips.count < n { if !cond.wait(until: deadline) { break } }
            return skips
        }
    }

    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var n = 0
        func increment() { lock.lock(); n += 1; lock.unlock() }
        var value: Int { lock.lock(); defer { lock.unlock() }; return n }
    }

    func stage(_ cfg: AEFlowConfig) throws -> (RetrainStage, Outcomes) {
        let s = try RetrainStage(config: cfg, logger: Logger(label: "test.retrain"))
        let o = Outcomes()
        s.observer = { o.add($0, $1) }
        try s.start(sockets: false)
        return (s, o)
    }

    static func feed(_ stage: RetrainStage, keys: [String], rows: Range<Int>, spike: Bool = false) {
        var rng = RandomGenerator(seed: 11)
        var decoder = InputDecoder()
        decoder.maximumBodyBytes = 1 << 24
        for k in keys {
            var body = "["
            for i in rows {
                let cpu = 50 + 10 * sin(2 * Double.pi * Double(i) / 60) + Double(rng.nextNormal())
                let mem = 200 + 20 * cos(2 * Double.pi * Double(i) / 90) + 2 * Double(rng.nextNormal())
                body += (i == rows.lowerBound ? "" : ",") + "{\"key\":\"\(k)\",\"timestamp\":\(1_700_000_000_000 + Int64(i) * 60_000),\"metrics\":{\"cpu\":\(cpu),\"mem\":\(mem)}}"
            }
            body += "]"
            guard case .success(let m) = decoder.decode(Array(body.utf8)) else { Issue.record("bad test body"); return }
            stage.history(Ingest(config: stage.config).route(m, arrival: 0))
        }
    }

    func metric(_ stage: RetrainStage, _ name: String) -> Double {
        let text = String(decoding: stage.metrics.exposition(), as: UTF8.self)
        return LocalHTTP.sample(name, in: text)
    }

    @Test func missingModelsAreTrainedOnceEnoughHistoryExists() throws {
        let (stage, outcomes) = try stage(try config())
        defer { stage.stop() }
        Self.feed(stage, keys: ["a", "b"], rows: 0..<150)
        // Below min_train_size nothing trains; a request is decided (skipped) and cleared.
        stage.trainRequest(TrainRequest(uuid: "u", configID: "default", pipelineID: "default", key: ["a"], metrics: ["cpu", "mem"]))
        Self.feed(stage, keys: ["a", "b", "c"], rows: 150..<260)
        let done = outcomes.wait(2)
        #expect(done.count == 2)
        #expect(Set(done.map(\.0.key)) == [["a"], ["b"]])
        for (_, o) in done { if case .succeeded(let v, let rows) = o { #expect(v == 1 && rows == 260) } else { Issue.record("\(o)") } }
        let latest = try #require(stage.checkpoints.latest(pipeline: "default", key: ["a"]))
        let (ckpt, _) = try Checkpoint.load(path: latest.path)
        #expect(ckpt.version == 1 && ckpt.key == ["a"] && ckpt.metrics == ["cpu", "mem"])
        #expect(ckpt.train["rows"]?.intValue == 260)
        #expect(stage.checkpoints.latest(pipeline: "default", key: ["c"]) == nil, "c has 110 rows")
        #expect(metric(stage, "aeflow_retrain_trainings_succeeded_total") == 2)
        #expect(metric(stage, "aeflow_retrain_trainings_running_max") <= 2)
        #expect(metric(stage, "aeflow_history_rows_written_total") == 150 * 2 + 110 * 3)
        #expect(try stage.history.state(ModelID(pipelineID: "default", key: ["a"]))?.trainTs != nil)
    }

    @Test func aRequestWithTooLittleHistoryIsSkippedWithItsReason() throws {
        let (stage, outcomes) = try stage(try config())
        defer { stage.stop() }
        Self.feed(stage, keys: ["a"], rows: 0..<50)
        stage.retrainNow(ModelID(pipelineID: "default", key: ["a"]))
        stage.retrainNow(ModelID(pipelineID: "nope", key: ["a"]))
        let skips = outcomes.waitSkips(2)
        #expect(Set(skips.map(\.1)) == [.insufficientData, .unknownPipeline])
        #expect(metric(stage, "aeflow_retrain_trainings_skipped_total{reason=\"insufficient_data\"}") == 1)
        #expect(metric(stage, "aeflow_retrain_trainings_skipped_total{reason=\"unknown_pipeline\"}") == 1)
        #expect(try stage.history.pendingRequests().isEmpty)
        #expect(metric(stage, "aeflow_retrain_trainings_started_total") == 0)
    }

    @Test func theValidationGateRefusesAVersionWorseThanTheLiveOne() throws {
        // A well trained live version 1, then a retrain with one epoch and no tolerance.
        let good = try config(trainer: "min_train_size: 200, retry_sec: 3600, pltrainer_conf: {max_epochs: 60}")
        do {
            let (stage, outcomes) = try stage(good)
            Self.feed(stage, keys: ["a"], rows: 0..<400)
            #expect(outcomes.wait(1).count == 1)
            stage.stop()
        }
        let (stage, outcomes) = try stage(try config(trainer: "min_train_size: 200, retry_sec: 3600, pltrainer_conf: {max_epochs: 1}",
                                                      retrain: "max_loss_ratio: 1.0"))
        defer { stage.stop() }
        stage.retrainNow(ModelID(pipelineID: "default", key: ["a"]))
        let done = outcomes.wait(1)
        guard case .failed(.validation, let why)? = done.first?.1 else { Issue.record("expected a rejection, got \(done)"); return }
        #expect(why.contains("exceeds"))
        #expect(stage.checkpoints.versions(pipeline: "default", key: ["a"]) == [1], "nothing was written")
        #expect(metric(stage, "aeflow_retrain_trainings_failed_total{reason=\"validation\"}") == 1)
        let s = try #require(try stage.history.state(ModelID(pipelineID: "default", key: ["a"])))
        #expect(s.lastOutcome == "rejected" && s.lastVersion == 1 && s.failures == 1)
    }

    /// "Retrain now" that arrives while the model's training is still under way waits for it and then
    /// trains again (the CI race: the request landed between the outcome and the end of the job); an
    /// ordinary request in that window is a duplicate and is skipped as in progress.
    @Test func retrainNowDuringATrainingRunsAfterItAndAnOrdinaryRequestIsADuplicate() throws {
        let cfg = try config(trainer: "min_train_size: 200, retry_sec: 0, retrain_freq_hr: 24, pltrainer_conf: {max_epochs: 2}",
                             retrain: "max_loss_ratio: 1000", concurrency: 3)   // a slot is free for the requests
        let stage = try RetrainStage(config: cfg, logger: Logger(label: "test.retrain"))
        defer { stage.stop() }
        let o = Outcomes()
        let a = ModelID(pipelineID: "default", key: ["a"]), b = ModelID(pipelineID: "default", key: ["b"])
        let decided = Counter()
        stage.observer = { ref, event in
            // Still inside the job (the model counts as running): request, and let the scheduler decide.
            if case .finished(.succeeded(1, _)) = event {
                if ref == a { stage.retrainNow(a) } else {
                    stage.trainRequest(TrainRequest(uuid: "u", configID: "default", pipelineID: "default", key: ["b"], metrics: ["cpu", "mem"]))
                }
                if stage.waitForSchedulingRounds(2, timeout: 30) { decided.increment() }
            }
            o.add(ref, event)
        }
        try stage.start(sockets: false)
        Self.feed(stage, keys: ["a", "b"], rows: 0..<300)
        let done = o.wait(3)
        #expect(decided.value == 2, "the scheduler ran while both trainings were still running")
        #expect(done.filter { $0.0 == a }.count == 2 && stage.checkpoints.latest(pipeline: "default", key: ["a"])?.version == 2)
        #expect(o.waitSkips(1).map(\.1) == [.inProgress])
        #expect(done.count == 3 && done.filter { $0.0 == b }.count == 1, "b's duplicate request was dropped, not trained")
        #expect(try stage.history.pendingRequests().isEmpty)
    }

    @Test func aModelSharedByThePipelineTrainsOnEveryKeyWithoutCrossingKeys() throws {
        let (stage, outcomes) = try stage(try config(scope: "pipeline", trainer: "min_train_size: 250, retry_sec: 3600, pltrainer_conf: {max_epochs: 2}"))
        defer { stage.stop() }
        Self.feed(stage, keys: ["a", "b", "c"], rows: 0..<100)
        let done = outcomes.wait(1)
        guard case .succeeded(1, 300)? = done.first?.1 else { Issue.record("\(done)"); return }
        #expect(done.first?.0 == ModelID(pipelineID: "default", key: []))
        let latest = try #require(stage.checkpoints.latest(pipeline: "default", key: []))
        let (ckpt, _) = try Checkpoint.load(path: latest.path)
        let windows = try #require(ckpt.train["windows"]?.intValue)
        #expect(windows == Int64(3 * (100 - 12 + 1)), "windows of 12 within each of the three 100-row keys")
    }

    @Test func aModelAlreadyInTheStoreCountsItsAgeInsteadOfBeingRetrainedAtOnce() throws {
        let cfg = try config()
        // Trained elsewhere (aeflow train --store, say) before the stage ever saw the key.
        let store = CheckpointStore(root: cfg.store.path, keepVersions: 5)
        var rng = RandomGenerator(seed: 2)
        let data = Tensor(shape: [300, 2], scalars: (0..<600).map { _ in rng.nextNormal() })
        let conf = cfg.streams[0].pipelines[0].numalogicConf
        let trained = try PipelineTrainer(conf: conf, metrics: ["cpu", "mem"], pipelineID: "default", key: ["a"]).train(data, now: 0)
        try store.publish(trained.checkpoint)
        let (stage, outcomes) = try stage(cfg)
        defer { stage.stop() }
        Self.feed(stage, keys: ["a"], rows: 0..<300)
        #expect(outcomes.waitSkips(1).map(\.1) == [.fresh])
        #expect(metric(stage, "aeflow_retrain_trainings_skipped_total{reason=\"model_fresh\"}") == 1)
        #expect(metric(stage, "aeflow_retrain_trainings_started_total") == 0)
        #expect(try stage.history.state(ModelID(pipelineID: "default", key: ["a"]))?.lastVersion == 1)
    }
}
