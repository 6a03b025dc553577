import Autoencoders
import Daemon
import Stage
import Foundation
import Scoring
import Testing
import TestSupport
import TensorCore
import Training

/// A running `aeflow serve` process on ephemeral ports with its own store, plus helpers to drive it.
final class DaemonHarness {
    let dir: TemporaryDirectory
    private(set) var daemon: LineProcess
    private(set) var endpoints: [String: String]
    private(set) var httpPort: Int
    var store: CheckpointStore { CheckpointStore(root: dir.file("models"), keepVersions: 5) }

    static func config(store: String, extra: String = "", scoresType: String = "push", streamExtra: String = "", storeExtra: String = "",
                       trainer: String = "min_train_size: 300, retry_sec: 3600, pltrainer_conf: {max_epochs: 15}") -> String {
        """
        inputs: [{endpoint: "tcp://127.0.0.1:0", type: pull, bind: true}]
        outputs:
          scores: {endpoint: "tcp://127.0.0.1:0", type: \(scoresType), bind: true}
          train_requests: {endpoint: "tcp://127.0.0.1:0", type: push, bind: true}
          dead_letter: {endpoint: "tcp://127.0.0.1:0", type: push, bind: true}
          history: {endpoint: "tcp://127.0.0.1:0", type: push, bind: true}
        http: {port: 0}
        store: {path: "\(store)", poll_interval_ms: 100\(storeExtra)}
        \(extra)
        stream_confs:
          default:
            window_size: 12
            composite_keys: [host]
            \(streamExtra)
            ml_pipelines:
              default:
                metrics: [cpu, mem]
                numalogic_conf:
                  model: {name: VanillaAE, conf: {seq_len: 12, n_features: 2}}
                  trainer: {\(trainer)}
        """
    }

    /// Normal behaviour of a key: two seasonal metrics.
    static func row(_ i: Int, noise: inout RandomGenerator) -> (cpu: Float, mem: Float) {
        (50 + 10 * Float(sin(2 * Double.pi * Double(i) / 60)) + noise.nextNormal(), 200 + 20 * Float(cos(2 * Double.pi * Double(i) / 90)) + 2 * noise.nextNormal())
    }

    static let t0: Int64 = 1_700_000_000_000

    /// Trains a model on normal data and publishes it for `key` (returns its version).
    @discardableResult
    /// Trains and publishes a model for `key`. Without `scoreStatistics` its checkpoint carries no `score.*` tensors,
    /// as ARCHITECTURE.md §3 writes it (and numalogic's artifacts have none).
    static func publishModel(store: CheckpointStore, key: [String], seed: UInt64 = 1, scoreStatistics: Bool = true) throws -> Int {
        var rng = RandomGenerator(seed: seed)
        var values: [Float] = []
        for i in 0..<600 { let r = row(i, noise: &rng); values += [r.cpu, r.mem] }
        var t = TrainerConf()
        t.minTrainSize = 300
        t.maxEpochs = 15
        t.seed = seed
        let conf = NumalogicConf(model: ModelSpec(name: "VanillaAE", conf: JSONObject([("seq_len", .int(12)), ("n_features", .int(2))])), trainer: t)
        let r = try PipelineTrainer(conf: conf, metrics: ["cpu", "mem"], pipelineID: "default", key: key)
            .train(Tensor(shape: [600, 2], scalars: values), now: t0)
        var c = r.checkpoint
        if !scoreStatistics { c.scoreStats = ScoreStats() }
        return try store.publish(c).version
    }

    /// Trains one model and publishes it for every key in `keys` (version 1 each): many keys with a model
    /// for the price of one training.
    static func publishModel(store: CheckpointStore, keys: [[String]], seed: UInt64 = 1) throws {
        guard let first = keys.first else { return }
        _ = try publishModel(store: store, key: first, seed: seed)
        let (c, _) = try Checkpoint.load(path: try #require(store.latest(pipeline: "default", key: first)).path)
        for key in keys.dropFirst() {
            var copy = c
            copy.key = key
            _ = try store.publish(copy)
        }
    }

    let arguments: [String]

    /// `storeExtra`: more `store:` settings, each with a leading comma (", max_models: 4").
    init(extraConfig: String = "", scoresType: String = "push", streamExtra: String = "", storeExtra: String = "", trainer: String? = nil,
         arguments: [String] = [], prepare: (CheckpointStore) throws -> Void = { _ in }) throws {
        dir = try TemporaryDirectory(prefix: "aeflow-daemon")
        self.arguments = arguments
        try prepare(CheckpointStore(root: dir.file("models"), keepVersions: 5))
        let models = dir.file("models")
        let text = trainer.map { Self.config(store: models, extra: extraConfig, scoresType: scoresType, streamExtra: streamExtra, storeExtra: storeExtra,
                                             trainer: $0) }
            ?? Self.config(store: models, extra: extraConfig, scoresType: scoresType, streamExtra: streamExtra, storeExtra: storeExtra)
        try text.write(toFile: dir.file("cfg.yaml"), atomically: true, encoding: .utf8)
        (daemon, endpoints, httpPort) = try Self.launch(dir, arguments: arguments)
    }

    /// Starts `aeflow serve` on the directory's config and waits for its ready line (endpoints as bound).
    static func launch(_ dir: TemporaryDirectory, arguments: [String] = []) throws -> (LineProcess, [String: String], Int) {
        let daemon = try LineProcess(Subprocess.aeflow, ["serve", "--config", dir.file("cfg.yaml")] + arguments)
        guard let ready = daemon.waitForLine(containing: "msg=\"daemon ready\"", timeout: 60) else {
            throw HarnessError("the daemon did not become ready: \(daemon.stderrLines.suffix(5).joined(separator: "\n"))")
        }
        var e: [String: String] = [:]
        for field in ready.split(separator: " ") {
            let kv = field.split(separator: "=", maxSplits: 1).map(String.init)
            if kv.count == 2 { e[kv[0]] = kv[1] }
        }
        return (daemon, e, Int(e["http_port"] ?? "") ?? -1)
    }

    /// Stops the daemon with SIGTERM (its exit status is returned) and starts a new one on the same store and config.
    @discardableResult
    func restart() throws -> Int32 {
        let status = stop()
        (daemon, endpoints, httpPort) = try Self.launch(dir, arguments: arguments)
        return status
    }

    struct HarnessError: Error, CustomStringConvertible { let description: String; init(_ d: String) { description = d } }

    /// Sends `messages` with the pyzmq client and returns the outputs it collected (parsed JSON objects).
    var trainRequests: [JSONObject] = []

    /// Dead letters the last `stream` collected (with `--dead-letter`): reason, metadata, copied frame sizes, last frame.
    var deadLetters: [JSONObject] = []

    func stream(_ messages: [String], expect: Int, timeout: Double = 20, extraArguments: [String] = [],
                client: ((LineProcess) -> Void)? = nil) throws -> [JSONObject] {
        guard TestPython.isAvailable else { throw HarnessError("no Python with pyzmq at \(TestPython.path); run `make test-deps`") }
        let file = dir.file("messages-\(UUID().uuidString).txt")
        try messages.joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
        let c = try LineProcess(TestPython.path, [TestPython.script("stream_client.py"), "--input", endpoints["inputs[0]"]!,
                                                  "--scores", endpoints["outputs.scores"]!, "--send", file, "--expect", String(expect),
                                                  "--timeout", String(timeout)]
                                                  + (endpoints["outputs.train_requests"].map { ["--train-requests", $0] } ?? []) + extraArguments)
        client?(c)
        let status = c.waitForExit(timeout: timeout + 60)
        guard status == 0 else { throw HarnessError("client exited \(status): \(c.stderrLines.joined(separator: "\n"))") }
        trainRequests += c.stdoutLines.filter { $0.hasPrefix("TRAIN ") }.compactMap { try? JSONValue.parse(String($0.dropFirst(6))).objectValue }
        deadLetters = c.stdoutLines.filter { $0.hasPrefix("DEAD ") }.compactMap { try? JSONValue.parse(String($0.dropFirst(5))).objectValue }
        let outputs = c.stdoutLines.filter { $0.hasPrefix("{") }.compactMap { try? JSONValue.parse($0).objectValue }
        if outputs.count < expect { print(shortfall(outputs.count, of: expect)) }
        return outputs
    }

    /// What the daemon says about a stream that brought fewer outputs than expected (printed in the test log, so a
    /// failure that follows shows whether the daemon took the points, and dropped or never produced their outputs).
    func shortfall(_ got: Int, of expected: Int) -> String {
        let counters = ["aeflow_points_in_total", "aeflow_outputs_dropped_total{output=\"scores\"}", "aeflow_queue_depth"]
            .map { "\($0)=\((try? metric($0)).map { String($0) } ?? "?")" }
        return "stream: \(got) of \(expected) outputs; daemon \(counters.joined(separator: " ")); its last log lines: "
            + daemon.stderrLines.suffix(8).joined(separator: " | ")
    }

    func http(_ method: String, _ path: String, body: String? = nil) throws -> (Int, String) {
        try LocalHTTP.request(port: httpPort, method, path, body: body)
    }

    func metric(_ name: String) throws -> Double { try LocalHTTP.metric(port: httpPort, name) }
    func metric(_ name: String, reaching atLeast: Double, within: Double = 10) throws -> Double {
        try LocalHTTP.metric(port: httpPort, name, reaching: atLeast, within: within)
    }

    func stop() -> Int32 {
        daemon.signal(SIGTERM)
        return daemon.waitForExit(timeout: 60)
    }
}

/// A point message body.
func point(_ key: String, _ i: Int, cpu: Float, mem: Float) -> String {
    "{\"key\":\"\(key)\",\"timestamp\":\(DaemonHarness.t0 + Int64(i) * 60_000),\"metrics\":{\"cpu\":\(cpu),\"mem\":\(mem)}}"
}

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
