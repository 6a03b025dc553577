import Autoencoders
import Foundation
import NN
import Scoring
import Testing
import TestSupport
import TensorCore
import Training

/// A small trained pipeline, shared by the checkpoint tests.
enum Trained {
    static let metrics = ["cpu", "mem"]

    static func series(_ n: Int = 600, seed: UInt64 = 3) -> Tensor {
        var g = SyntheticSeriesGenerator(length: n, numSeries: 2)
        g.seed = seed
        g.primaryPeriod = 60
        g.secondaryPeriod = nil
        g.seasonalProbability = 1
        return g.generate().values
    }

    static func conf(epochs: Int = 3) -> NumalogicConf {
        var t = TrainerConf()
        t.minTrainSize = 100
        t.maxEpochs = epochs
        t.seed = 1
        return NumalogicConf(model: ModelSpec(name: "VanillaAE", conf: JSONObject([("seq_len", .int(12)), ("n_features", .int(2))])),
                             trainer: t)
    }

    static let result: PipelineTrainer.Result = try! PipelineTrainer(conf: conf(), metrics: metrics, pipelineID: "p1", key: ["app", "ns"])
        .train(series(), timestamps: (0..<600).map { Int64($0) * 60_000 }, now: 1_700_000_000_000)
}

@Suite struct SHA256Tests {
    @Test func standardVectors() {
        #expect(SHA256.hex([UInt8]()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        var h = SHA256()
        for _ in 0..<1000 { h.update([UInt8](repeating: 0x61, count: 1000)) }  // one million 'a'
        #expect(h.finalize().map { String(format: "%02x", $0) }.joined() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }
}

@Suite struct CheckpointTests {
    @Test func roundTripScoresIdentically() throws {
        let r = Trained.result
        let dir = try TemporaryDirectory()
        let path = dir.file("model.safetensors")
        try r.checkpoint.write(to: path)
        let (c, pipeline) = try Checkpoint.load(path: path)
        #expect(c.metrics == Trained.metrics && c.seqLen == 12 && c.pipelineID == "p1" && c.key == ["app", "ns"] && c.version == 1)
        #expect(c.createdAt == "2023-11-14T22:13:20.000Z")
        #expect(c.train["rows"]?.intValue == 600 && c.train["first_timestamp"]?.intValue == 0)
        #expect(c.modelState == r.checkpoint.modelState)
        let window = Trained.series().slice(axis: 0, 100..<112)
        var s1 = KeyScoreState(), s2 = KeyScoreState()
        let a = r.pipeline.score(window: window, state: &s1), b = pipeline.score(window: window, state: &s2)
        #expect(a.unified == b.unified && a.features == b.features)
        // Re-encoding a loaded checkpoint reproduces the file byte for byte.
        #expect(c.encoded() == [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))))
        let file = try SafeTensorsFile.read(contentsOf: path)
        #expect(file.names.contains("model.encoder.encoder.1.weight") && file.names.contains("preprocess.0.mean")
                && file.names.contains("threshold.threshold") && file.metadata["format"] == "aeflow.checkpoint.v1")
    }

    func problem(_ bytes: [UInt8]) -> CheckpointError.Problem? {
        do {
            _ = try Checkpoint.decode(bytes, path: "bad")
            return nil
        } catch {
            return error.problem
        }
    }

    @Test func truncatedAndCorruptedFilesAreRejected() {
        let bytes = Trained.result.checkpoint.encoded()
        for n in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 300)) {
            #expect(problem(Array(bytes[0..<n])) != nil, "a checkpoint truncated to \(n) bytes loaded")
        }
        // Any flipped byte in the data section fails the SHA-256 check.
        var rng = RandomGenerator(seed: 2)
        let headerEnd = 8 + bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        for _ in 0..<50 {
            var b = bytes
            let i = headerEnd + Int(rng.next() % UInt64(bytes.count - headerEnd))
            b[i] ^= 0x5A
            guard case .integrity? = problem(b) else { Issue.record("corruption at \(i) not detected"); continue }
        }
        // Random corruption anywhere never traps.
        for _ in 0..<300 {
            var b = bytes
            b[Int(rng.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: rng.next())
            _ = problem(b)
        }
    }

    /// Builds a file like `checkpoint`'s with `edit` applied, re-hashing the data so only the edit is wrong.
    func edited(_ edit: (inout SafeTensorsFile) -> Void) -> [UInt8] {
        var f = Trained.result.checkpoint.file()
        edit(&f)
        var h = SHA256()
        for n in f.names { h.update(f[n]!.bytes) }
        if f.metadata["data_sha256"] != nil { f.metadata["data_sha256"] = h.finalize().map { String(format: "%02x", $0) }.joined() }
        return f.encoded()
    }

    @Test func wrongFormatsAndHostileContentAreRejected() {
        #expect(problem(edited { $0.metadata["format"] = "aeflow.checkpoint.v0" }) == .format("aeflow.checkpoint.v0"))
        #expect(problem(edited { $0.metadata["format"] = nil }) == .format(nil))
        #expect(problem(SafeTensorsFile(tensors: [("w", Tensor([1]))]).encoded()) == .format(nil))  // a plain safetensors file
        let noHash = problem(edited { $0.metadata["data_sha256"] = nil })
        if case .metadata(key: "data_sha256", _)? = noHash {} else { Issue.record("missing hash: \(String(describing: noHash))") }
        if case .metadata(key: "spec", _)? = problem(edited { $0.metadata["spec"] = "{not json" }) {} else { Issue.record("bad spec JSON accepted") }
        if case .metadata(key: "spec", _)? = problem(edited { $0.metadata["spec"] = #"{"model":{"name":"VanillaAE","conf":{}},"extra":1}"# }) {} else {
            Issue.record("spec with unknown keys accepted")
        }
        if case .metadata(key: "seq_len", _)? = problem(edited { $0.metadata["seq_len"] = "-3" }) {} else { Issue.record("bad seq_len accepted") }
        if case .metadata(key: "created_at", _)? = problem(edited { $0.metadata["created_at"] = "yesterday" }) {} else { Issue.record("bad created_at accepted") }
        if case .metadata(key: "metrics", _)? = problem(edited { $0.metadata["metrics"] = #"["cpu","cpu"]"# }) {} else { Issue.record("duplicate metrics accepted") }
        #expect(problem(edited { $0.metadata["metrics"] = #"["cpu","mem","disk"]"# }) != nil, "metric count mismatch accepted")
        if case .tensors? = problem(edited { $0.set("model.encoder.encoder.9.weight", Tensor([1])) }) {} else { Issue.record("extra model tensor accepted") }
        if case .tensors? = problem(edited { $0.set("sneaky", Tensor([1])) }) {} else { Issue.record("unknown tensor accepted") }
        if case .tensors? = problem(edited { $0.set("preprocess.7.mean", Tensor([1, 2])) }) {} else { Issue.record("preprocess index beyond the spec accepted") }
        if case .tensors? = problem(edited { $0.set("model.encoder.encoder.1.weight", Tensor.zeros([3, 3])) }) {} else { Issue.record("mis-shaped weight accepted") }
        if case .tensors? = problem(edited { $0.set("model.decoder.decoder.0.bias", Tensor(shape: [16], repeating: .nan)) }) {} else { Issue.record("NaN weights accepted") }
        if case .tensors? = problem(edited { $0.set("threshold.threshold", Tensor([0, 0])) }) {} else { Issue.record("zero threshold accepted") }
        let gpt = problem(edited { $0.metadata["spec"] = #"{"model":{"name":"GPT","conf":{}},"preprocess":[{"name":"StandardScaler"}],"threshold":{"name":"StdDevThreshold"}}"# })
        if case .spec(let why)? = gpt, why.contains("unknown model \"GPT\"") {} else { Issue.record("unknown model: \(String(describing: gpt))") }
    }

    @Test func errorsNameTheFile() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("x.safetensors")
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: path))
        do {
            _ = try Checkpoint.load(path: path)
            Issue.record("loaded garbage")
        } catch {
            #expect(error.description.hasPrefix(path + ": truncated"))
        }
        #expect(throws: CheckpointError.self) { try Checkpoint.load(path: dir.file("missing.safetensors")) }
    }
}

@Suite struct PipelineTests {
    @Test func anomaliesScoreHighAndNormalWindowsLow() throws {
        let r = try PipelineTrainer(conf: Trained.conf(epochs: 30), metrics: Trained.metrics).train(Trained.series(), now: 0)
        let test = Trained.series(200, seed: 3)
        var spiked = test
        for c in 0..<2 { spiked[150, c] = test[150, c] * 3 + 100 }
        var s = KeyScoreState()
        let normal = r.pipeline.score(window: test.slice(axis: 0, 139..<151), state: &s)
        let anomalous = r.pipeline.score(window: spiked.slice(axis: 0, 139..<151), state: &s)
        // One spiked point in twelve: numalogic's mean over the window dilutes it, yet it stands out clearly.
        #expect(normal.unified < 3, "normal window scored \(normal.unified)")
        #expect(anomalous.unified > 4 && anomalous.unified > 3 * normal.unified, "spiked window scored \(anomalous.unified)")
        #expect(anomalous.unified > normal.unified)
        #expect(anomalous.features.count == 2 && anomalous.newestErrors.count == 2)
        #expect(anomalous.unified <= 10 && normal.unified >= 0)
        // numalogic's recipe: unified = TanhNorm(max over features of mean-over-window ratios)
        let ratios = r.pipeline.threshold.scoreSamples(anomalous.errors)
        let raw = (0..<2).map { c in (0..<12).map { ratios[$0, c] }.reduce(0, +) / 12 }
        expectClose(anomalous.rawUnified, raw.max()!, atol: 1e-5)
        expectClose(anomalous.unified, Float(10 * tanh(Double(raw.max()!) / 10)), atol: 1e-4)
    }

    /// Both row-scoring thresholds train, save, load and score through the whole pipeline.
    @Test(arguments: ["MahalanobisThreshold", "RobustMahalanobisThreshold"])
    func rowThresholdsTrainSaveAndScore(_ name: String) throws {
        var conf = Trained.conf(epochs: 20)
        conf.threshold = ComponentSpec(name: name, conf: JSONObject([("max_outlier_prob", .double(0.1))]))
        let r = try PipelineTrainer(conf: conf, metrics: Trained.metrics).train(Trained.series(), now: 0)
        let dir = try TemporaryDirectory()
        try r.checkpoint.write(to: dir.file("m.safetensors"))
        let (c, loaded) = try Checkpoint.load(path: dir.file("m.safetensors"))
        #expect(c.threshold.name == name && c.thresholdStats.count == 3)
        let test = Trained.series(200, seed: 3)
        var spiked = test
        for col in 0..<2 { spiked[150, col] = test[150, col] * 3 + 100 }
        var s1 = KeyScoreState(), s2 = KeyScoreState(), s3 = KeyScoreState()
        let normal = loaded.score(window: test.slice(axis: 0, 139..<151), state: &s1)
        let anomalous = loaded.score(window: spiked.slice(axis: 0, 139..<151), state: &s2)
        #expect(anomalous.unified == r.pipeline.score(window: spiked.slice(axis: 0, 139..<151), state: &s3).unified)
        #expect(anomalous.unified > 2 * normal.unified && anomalous.unified > 2, "\(name): spiked \(anomalous.unified), normal \(normal.unified)")
    }

    @Test func batchScoringEqualsOneAtATime() {
        let p = Trained.result.pipeline
        let data = Trained.series()
        let windows = Tensor.stack((0..<5).map { data.slice(axis: 0, ($0 * 7)..<($0 * 7 + 12)) }, axis: 0)
        var states = [KeyScoreState](repeating: KeyScoreState(), count: 5)
        let batch = p.score(windows: windows, states: &states)
        for i in 0..<5 {
            var s = KeyScoreState()
            let one = p.score(window: data.slice(axis: 0, (i * 7)..<(i * 7 + 12)), state: &s)
            expectClose(one.unified, batch[i].unified, atol: 1e-5)
        }
    }

    @Test func adaptiveModeFollowsTheKeysRecentErrors() throws {
        var conf = Trained.conf(epochs: 5)
        conf.score.mode = .adaptive
        conf.score.adaptive.halflife = 20
        let r = try PipelineTrainer(conf: conf, metrics: Trained.metrics).train(Trained.series(), now: 0)
        // A key whose errors sit persistently higher than training: adaptive scores fall as it adapts.
        let shifted = Trained.series(400, seed: 9) * 1.3
        var state = KeyScoreState()
        var scores: [Float] = []
        for start in 0..<200 { scores.append(r.pipeline.score(window: shifted.slice(axis: 0, start..<(start + 12)), state: &state).unified) }
        let early = scores.prefix(10).reduce(0, +) / 10, late = scores.suffix(50).reduce(0, +) / 50
        #expect(late < early, "adaptive scores did not settle: early \(early), late \(late)")
        #expect(state.adaptiveMean != nil && state.scoredWindows == 200)
    }

    @Test func staticAdjustmentAndMovingAveragePostprocess() throws {
        var conf = Trained.conf()
        conf.score.adjust = ScoreConfig.Adjust(upperLimits: [("cpu", 100)], featureAgg: .max)
        conf.postprocess = ComponentSpec(name: "ExpMovingAverage", conf: JSONObject([("beta", .double(0.5))]), stateful: false)
        let r = try PipelineTrainer(conf: conf, metrics: Trained.metrics).train(Trained.series(), now: 0)
        var window = Trained.series().slice(axis: 0, 0..<12)
        for l in 0..<12 { window[l, 0] = 1000 }   // far above cpu's static limit of 100
        var s = KeyScoreState()
        let scored = r.pipeline.score(window: window, state: &s)
        expectClose(scored.unified, 10, atol: 1e-3)   // the static limit dominates
        #expect(s.emaDenominator == 1)
    }

    @Test func trainingRefusesTooLittleDataAndDropsNonFiniteRows() throws {
        var conf = Trained.conf()
        conf.trainer.minTrainSize = 1000
        #expect(throws: PipelineTrainingError.insufficientData(rows: 600, needed: 1000)) {
            try PipelineTrainer(conf: conf, metrics: Trained.metrics).train(Trained.series(), now: 0)
        }
        var data = Trained.series()
        data[5, 1] = .nan
        data[9, 0] = .infinity
        let r = try PipelineTrainer(conf: Trained.conf(), metrics: Trained.metrics).train(data, now: 0)
        #expect(r.droppedRows == 2 && r.checkpoint.train["dropped_rows"]?.intValue == 2)
    }
}

#if canImport(Glibc)
import Glibc
#endif
