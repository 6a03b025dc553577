import Daemon
import Stage
import Foundation
import Retrain
import Scoring
import Testing
import TestSupport
import TensorCore

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A daemon and a retrain stage as real processes sharing a store and history in a temporary directory,
/// wired over ipc:// endpoints inside it.
final class StageHarness {
    let dir: TemporaryDirectory
    var config: String { dir.file("cfg.yaml") }

    init(trainer: String, retrain: String = "", history: String = "", features: Int = 2, extra: String = "") throws {
        dir = try TemporaryDirectory(prefix: "aeflow-e2e")
        try write(trainer: trainer, retrain: retrain, history: history, features: features, extra: extra)
    }

    func write(trainer: String, retrain: String = "", history: String = "", features: Int = 2, extra: String = "") throws {
        let metrics = features == 1 ? "[value]" : "[cpu, mem]"
        let d = dir.path
        try """
            inputs: [{endpoint: "ipc://\(d)/in.ipc", type: pull, bind: true}]
            outputs:
              scores: {endpoint: "ipc://\(d)/scores.ipc", type: push, bind: true}
              train_requests: {endpoint: "ipc://\(d)/train.ipc", type: push, bind: true}
              history: {endpoint: "ipc://\(d)/history.ipc", type: push, bind: true}
            http: {port: 0}
            store: {path: "\(d)/models", poll_interval_ms: 100}
            # Room for every point a slow run sends (1,500/s for up to 120 s): the tests compare the history with what was sent.
            history: {path: "\(d)/history.sqlite", max_rows_per_key: 100000\(history.isEmpty ? "" : ", " + history)}
            retrain: {concurrency: 2, scan_interval_s: 0.1, http: {port: 0}\(retrain.isEmpty ? "" : ", " + retrain)}
            \(extra)
            stream_confs:
              default:
                window_size: 12
                composite_keys: [host]
                ml_pipelines:
                  default:
                    metrics: \(metrics)
                    numalogic_conf:
                      model: {name: VanillaAE, conf: {seq_len: 12, n_features: \(features)}}
                      preprocess: [{name: StandardScaler}]
                      trainer: {\(trainer)}
            """.write(toFile: config, atomically: true, encoding: .utf8)
    }

    static func ready(_ p: LineProcess, _ line: String) throws -> [String: String] {
        guard let ready = p.waitForLine(containing: "msg=\"\(line)\"", timeout: 60) else {
            throw HarnessError("no \"\(line)\": \(p.stderrLines.suffix(8).joined(separator: "\n"))")
        }
        var e: [String: String] = [:]
        for field in ready.split(separator: " ") {
            let kv = field.split(separator: "=", maxSplits: 1).map(String.init)
            if kv.count == 2 { e[kv[0]] = kv[1] }
        }
        return e
    }

    func serve(withRetrain: Bool = false) throws -> (LineProcess, Int) {
        let p = try LineProcess(Subprocess.aeflow, ["serve", "--config", config] + (withRetrain ? ["--with-retrain"] : []))
        let e = try Self.ready(p, "daemon ready")
        return (p, Int(e["http_port"] ?? "") ?? -1)
    }

    func retrain(environment: [String: String] = [:]) throws -> (LineProcess, Int) {
        let p = try LineProcess(Subprocess.aeflow, ["retrain", "--config", config], environment: environment)
        let e = try Self.ready(p, "retrain ready")
        return (p, Int(e["http_port"] ?? "") ?? -1)
    }

    /// Fills the history file directly (as a stage fed for a while would have): `keys` keys × `rows` rows.
    func seedHistory(keys: Int, rows: Int, features: Int = 2) throws {
        let store = try HistoryStore(path: dir.file("history.sqlite"), maxRowsPerKey: 5000)
        var rng = RandomGenerator(seed: 5)
        for k in 0..<keys {
            try store.append((0..<rows).map { i in
                let v: [Float] = (0..<features).map { f in 50 + 10 * Float(sin(Double(i) / 9 + Double(f))) + rng.nextNormal() }
                return HistoryRow(pipelineID: "default", key: ["k\(k)"], timestamp: 1_700_000_000_000 + Int64(i) * 60_000, values: v)
            })
        }
    }

    static func metric(port: Int, _ name: String) throws -> Double { try LocalHTTP.metric(port: port, name) }

    static func http(port: Int, _ method: String, _ path: String, body: String? = nil) throws -> (Int, String) {
        try LocalHTTP.request(port: port, method, path, body: body)
    }

    struct HarnessError: Error, CustomStringConvertible { let description: String; init(_ d: String) { description = d } }
}

@Suite(.serialized) struct RetrainEndToEndTests {
    /// Cold start: the daemon answers `model_not_ready` until the stage has trained version 1 from the
    /// history it was fed, then scores with it, then with version 2 after a retrain period — no restart,
    /// every point answered. Once with two processes, once with `serve --with-retrain`.
    @Test(arguments: [false, true])
    func aColdDaemonGetsModelsThenFresherModelsWithoutRestartOrLoss(inProcess: Bool) throws {
        guard TestPython.isAvailable else { Issue.record("no Python with pyzmq at \(TestPython.path); run `make test-deps`"); return }
        // retrain_freq_hr 0.001 = 3.6 s; retry_sec 1. train_hours: a slow run's points (one a minute of event time per
        // key, up to 45,000 a key) all stay within it, so the history can be compared with what was sent.
        let h = try StageHarness(trainer: "min_train_size: 150, retry_sec: 1, retrain_freq_hr: 0.001, train_hours: 10000, pltrainer_conf: {max_epochs: 3}")
        let (daemon, daemonPort) = try h.serve(withRetrain: inProcess)
        var stage: LineProcess?
        if !inProcess { stage = try h.retrain().0 }
        let d = h.dir.path
        let client = try LineProcess(TestPython.path, [TestPython.script("live_stream.py"), "--input", "ipc://\(d)/in.ipc", "--scores", "ipc://\(d)/scores.ipc",
                                                       "--keys", "4", "--rate", "1500", "--until-version", "2", "--max-seconds", "120"])
        #expect(client.waitForExit(timeout: 200) == 0, "\(client.stderrLines.suffix(5))")
        let lines = client.stdoutLines
        let sent = lines.first { $0.hasPrefix("SENT ") }.flatMap { Int($0.dropFirst(5)) } ?? -1
        let received = lines.first { $0.hasPrefix("DONE ") }.flatMap { Int($0.dropFirst(5)) } ?? -2
        #expect(sent > 0 && received == sent, "every accepted point yields one output: sent \(sent), received \(received)")
        // Per key, in arrival order: warming_up, model_not_ready, then version 1, then version 2; never back.
        var byKey: [String: [(status: String, version: Int)]] = [:]
        for l in lines where l.hasPrefix("OUT ") {
            let f = l.split(separator: " ").map(String.init)
            byKey[f[1], default: []].append((f[3], Int(f[4]) ?? 0))
        }
        #expect(byKey.count == 4)
        for (key, outs) in byKey.sorted(by: { $0.key < $1.key }) {
            #expect(outs.prefix(11).allSatisfy { $0.status == "warming_up" }, "\(key)")
            #expect(outs.dropFirst(11).first?.status == "model_not_ready", "\(key) starts cold")
            let versions = outs.filter { $0.status == "scored" }.map(\.version)
            #expect(versions.contains(1) && versions.contains(2), "\(key) was scored by versions \(Set(versions).sorted())")
            #expect(versions == versions.sorted(), "\(key) never goes back to an older version")
            let firstScored = outs.firstIndex { $0.status == "scored" } ?? outs.count
            #expect(outs[firstScored...].allSatisfy { $0.status == "scored" }, "\(key): once a model serves, every point is scored")
        }
        #expect(daemon.process.isRunning, "the daemon was never restarted")
        #expect(try StageHarness.metric(port: daemonPort, "aeflow_model_swaps_total") >= 4)
        if let stage {
            stage.signal(SIGTERM)
            #expect(stage.waitForExit(timeout: 60) == 0)
        }
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit(timeout: 60) == 0)
        // The history kept every point the daemon accepted.
        let history = try HistoryStore(path: h.dir.file("history.sqlite"), maxRowsPerKey: 5000)
        #expect(try history.totals() == (rows: sent, keys: 4))
        #expect(try history.integrityCheck() == "ok")
    }

    /// With CURVE on every socket, the daemon and a separate retrain stage (one shared identity) still get
    /// from cold start to scoring, and the client is an allowed CURVE client.
    @Test func theDaemonAndTheRetrainStageTalkOverCurve() throws {
        guard TestPython.isAvailable else { Issue.record("no Python with pyzmq at \(TestPython.path); run `make test-deps`"); return }
        let keys = try TemporaryDirectory(prefix: "aeflow-keys")
        for (dir, name) in [("server", "aeflow"), ("clients", "publisher")] {
            #expect(try Subprocess.aeflow(["keys", "generate", "--dir", keys.file(dir), "--name", name]).status == 0)
        }
        let h = try StageHarness(trainer: "min_train_size: 150, retry_sec: 1, pltrainer_conf: {max_epochs: 3}", extra: """
            security: {curve: {secret_key_file: "\(keys.file("server/aeflow.key_secret"))", allowed_clients: ["\(keys.file("clients"))"]}}
            """)
        let (daemon, _) = try h.serve()
        let (stage, _) = try h.retrain()
        #expect(stage.stderrLines.contains { $0.contains("retrain ready") })
        let d = h.dir.path
        let client = try LineProcess(TestPython.path, [TestPython.script("live_stream.py"), "--input", "ipc://\(d)/in.ipc", "--scores", "ipc://\(d)/scores.ipc",
                                                       "--keys", "2", "--rate", "1500", "--until-version", "1", "--max-seconds", "90",
                                                       "--server-key", keys.file("server/aeflow.key"), "--client-secret", keys.file("clients/publisher.key_secret"),
                                                       "--client-public", keys.file("clients/publisher.key")])
        #expect(client.waitForExit(timeout: 150) == 0)
        let sent = client.stdoutLines.first { $0.hasPrefix("SENT ") }.flatMap { Int($0.dropFirst(5)) } ?? -1
        let received = client.stdoutLines.first { $0.hasPrefix("DONE ") }.flatMap { Int($0.dropFirst(5)) } ?? -2
        #expect(sent > 0 && received == sent)
        #expect(client.stdoutLines.contains { $0.hasPrefix("OUT ") && $0.hasSuffix(" scored 1") }, "the stage trained from the CURVE history feed")
        stage.signal(SIGTERM)
        #expect(stage.waitForExit(timeout: 60) == 0)
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit(timeout: 60) == 0)
    }

    /// SIGKILL in the middle of a training: the history is intact, nothing half-made is in the store, and a
    /// restarted stage carries on (the dead claim expires after retry_sec) and publishes version 1.
    @Test func killingTheStageDuringTrainingLosesNothingAndARestartCarriesOn() throws {
        let h = try StageHarness(trainer: "min_train_size: 200, retry_sec: 1, pltrainer_conf: {max_epochs: 1000000}")
        try h.seedHistory(keys: 1, rows: 400)
        let (stage, _) = try h.retrain()
        #expect(stage.waitForLines(count: 1, inStderr: true, timeout: 60) { $0.contains("msg=\"epoch ended\"") && $0.contains("run=default/k0") } == 1)
        stage.signal(SIGKILL)
        stage.waitForExit(timeout: 30)
        let history = try HistoryStore(path: h.dir.file("history.sqlite"), maxRowsPerKey: 5000)
        #expect(try history.integrityCheck() == "ok")
        #expect(try history.totals() == (rows: 400, keys: 1))
        let ref = ModelID(pipelineID: "default", key: ["k0"])
        #expect(try history.state(ref)?.runningSince != nil, "the dead stage's claim is still recorded")
        let store = CheckpointStore(root: h.dir.file("models"))
        #expect(store.versions(pipeline: "default", key: ["k0"]).isEmpty && store.latest(pipeline: "default", key: ["k0"]) == nil)

        try h.write(trainer: "min_train_size: 200, retry_sec: 1, pltrainer_conf: {max_epochs: 3}")
        let (again, port) = try h.retrain()
        let done = again.waitForLine(containing: "msg=\"retrain succeeded\"", timeout: 60)
        #expect(done?.contains("version=1") == true, "\(again.stderrLines.suffix(5))")
        #expect(store.latest(pipeline: "default", key: ["k0"])?.version == 1)
        #expect(try StageHarness.metric(port: port, "aeflow_retrain_trainings_succeeded_total") == 1)
        again.signal(SIGTERM)
        #expect(again.waitForExit(timeout: 60) == 0)
        #expect(try history.state(ref)?.runningSince == nil)
    }

    /// SIGKILL while the checkpoint file is half written: the daemon never loads the partial file (the key
    /// stays `model_not_ready`, nothing is refused), and after a restart the stage writes a good version 1,
    /// cleaning the leftover, which the daemon then serves.
    @Test func killingTheStageDuringTheCheckpointWriteNeverExposesAPartialFile() throws {
        let h = try StageHarness(trainer: "min_train_size: 200, retry_sec: 1, pltrainer_conf: {max_epochs: 3}")
        try h.seedHistory(keys: 1, rows: 400)
        let (daemon, daemonPort) = try h.serve()
        let window = "{\"uuid\":\"w\",\"config_id\":\"default\",\"composite_keys\":[\"k0\"],\"data\":["
            + (0..<12).map { "{\"timestamp\":\(1_700_100_000_000 + $0 * 60_000),\"cpu\":50,\"mem\":51}" }.joined(separator: ",") + "]}"
        func scoreWindow() throws -> (String, Int?) {
            let (code, body) = try StageHarness.http(port: daemonPort, "POST", "/v1/score", body: window)
            guard code == 200, case .array(let a) = try JSONValue.parse(body), let meta = a.first?.objectValue?["metadata"]?.objectValue else { return ("http \(code)", nil) }
            return (meta["status"]?.stringValue ?? "", meta["model_version"]?.intValue.map(Int.init))
        }
        #expect(try scoreWindow().0 == "model_not_ready")

        let (stage, _) = try h.retrain(environment: ["AEFLOW_FAULT": "checkpoint-write"])
        let fault = try #require(stage.waitForLine(containing: "fault injected: checkpoint-write", timeout: 60))
        let partial = String(fault.split(separator: " ").last!)
        #expect(FileManager.default.fileExists(atPath: partial), "the half-written temporary file is there")
        stage.signal(SIGKILL)
        stage.waitForExit(timeout: 30)
        let store = CheckpointStore(root: h.dir.file("models"))
        #expect(store.versions(pipeline: "default", key: ["k0"]).isEmpty && store.latest(pipeline: "default", key: ["k0"]) == nil)
        #expect(try scoreWindow().0 == "model_not_ready")
        #expect(try StageHarness.metric(port: daemonPort, "aeflow_model_load_failures_total") == 0, "the partial file was never even tried")
        let history = try HistoryStore(path: h.dir.file("history.sqlite"), maxRowsPerKey: 5000)
        #expect(try history.integrityCheck() == "ok" && history.totals() == (rows: 400, keys: 1))

        let (again, _) = try h.retrain()
        #expect(again.waitForLine(containing: "msg=\"retrain succeeded\"", timeout: 60)?.contains("version=1") == true)
        #expect(!FileManager.default.fileExists(atPath: partial), "the leftover is cleaned under the key's lock")
        #expect(daemon.waitForLine(containing: "msg=\"model loaded\" model=default/k0 version=1", timeout: 30) != nil)
        let (status, version) = try scoreWindow()
        #expect(status == "scored" && version == 1)
        _ = try Checkpoint.load(path: try #require(store.latest(pipeline: "default", key: ["k0"])).path)
        again.signal(SIGTERM)
        #expect(again.waitForExit(timeout: 60) == 0)
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit(timeout: 60) == 0)
    }

    /// The stage's own subscription to a publisher's stream (not through the daemon) fills the history and
    /// trains from it.
    @Test func theStageCanSubscribeToThePublishersStreamItself() throws {
        guard TestPython.isAvailable else { Issue.record("no Python with pyzmq at \(TestPython.path); run `make test-deps`"); return }
        let h = try StageHarness(trainer: "min_train_size: 250, retry_sec: 600, pltrainer_conf: {max_epochs: 2}")
        let feed = "ipc://\(h.dir.path)/feed.ipc"
        try h.write(trainer: "min_train_size: 300, retry_sec: 600, pltrainer_conf: {max_epochs: 2}",
                    history: "inputs: [{endpoint: \"\(feed)\", type: sub, bind: false, topics: [k0]}]")
        let publisher = try LineProcess(TestPython.path, [TestPython.script("publish_points.py"), "--bind", feed, "--key", "k0", "--count", "300"])
        #expect(publisher.waitForLine(containing: "BOUND", inStderr: false, timeout: 30) != nil)
        let (stage, _) = try h.retrain()
        #expect(publisher.waitForExit(timeout: 60) == 0)
        let done = stage.waitForLine(containing: "msg=\"retrain succeeded\"", timeout: 60)
        #expect(done?.contains("rows=300") == true && done?.contains("version=1") == true, "\(stage.stderrLines.suffix(4))")
        stage.signal(SIGTERM)
        #expect(stage.waitForExit(timeout: 60) == 0)
        #expect(try HistoryStore(path: h.dir.file("history.sqlite"), maxRowsPerKey: 5000).totals() == (rows: 300, keys: 1))
    }

    /// "Retrain now" over HTTP and from the command line retrains a fresh model; bad requests are refused.
    @Test func retrainNowOverHTTPAndTheCommandLine() throws {
        let h = try StageHarness(trainer: "min_train_size: 200, retry_sec: 0, retrain_freq_hr: 24, pltrainer_conf: {max_epochs: 2}",
                                 retrain: "max_loss_ratio: 1000")
        try h.seedHistory(keys: 1, rows: 300)
        let (stage, port) = try h.retrain()
        func succeeded(_ n: Int) -> Int {
            stage.waitForLines(count: n, inStderr: true, timeout: 60) { $0.contains("msg=\"retrain succeeded\"") }
        }
        #expect(succeeded(1) == 1, "the missing model is trained by itself")
        let (code, body) = try StageHarness.http(port: port, "POST", "/v1/retrain", body: #"{"pipeline_id": "default", "key": ["k0"]}"#)
        #expect(code == 202 && body.contains("\"queued\":true"))
        #expect(succeeded(2) == 2)
        let (_, state) = try StageHarness.http(port: port, "GET", "/v1/retrain?pipeline_id=default&key=k0")
        let s = try #require(try JSONValue.parse(state).objectValue)
        #expect(s["last_version"]?.intValue == 2 && s["trainings"]?.intValue == 2 && s["last_outcome"]?.stringValue == "succeeded")
        let cli = try Subprocess.run(Subprocess.aeflow, ["retrain", "--config", h.config, "--now", "k0"])
        #expect(cli.status == 0 && cli.stdout.contains("queued"), "\(cli.stderr)")
        #expect(succeeded(3) == 3, "the running stage picks the command line's request from the history file")
        #expect(CheckpointStore(root: h.dir.file("models")).latest(pipeline: "default", key: ["k0"])?.version == 3)
        #expect(try StageHarness.http(port: port, "POST", "/v1/retrain", body: "{nope").0 == 400)
        #expect(try StageHarness.http(port: port, "POST", "/v1/retrain", body: #"{"pipeline_id": "other", "key": "k0"}"#).0 == 404)
        #expect(try StageHarness.http(port: port, "POST", "/v1/retrain", body: #"{"key": ["k0", "extra"]}"#).0 == 400)
        #expect(try StageHarness.http(port: port, "GET", "/v1/retrain?key=never").0 == 404)
        #expect(try Subprocess.run(Subprocess.aeflow, ["retrain", "--config", h.config, "--now", "a:b"]).status != 0)
        #expect(try StageHarness.metric(port: port, "aeflow_retrain_requests_total") == 1, "HTTP requests are counted; the file one is not seen as a message")
        stage.signal(SIGTERM)
        #expect(stage.waitForExit(timeout: 60) == 0)
    }

    /// 1,000 keys need a model at once: the stage trains them all, never more than `concurrency` at a
    /// time, within its memory budget, with progress in the logs and the metrics.
    @Test func athousandKeysAreTrainedWithinTheConfiguredConcurrencyAndMemory() throws {
        let h = try StageHarness(trainer: "min_train_size: 150, retry_sec: 600, pltrainer_conf: {max_epochs: 2}",
                                 retrain: "memory_budget_mb: 64", features: 1)
        try h.seedHistory(keys: 1000, rows: 200, features: 1)
        let (stage, port) = try h.retrain()
        let early = stage.waitForLines(count: 100, inStderr: true, timeout: 300) { $0.contains("msg=\"retrain succeeded\"") }
        #expect(early >= 100)
        let rssEarly = try StageHarness.metric(port: port, "aeflow_retrain_peak_resident_bytes")
        let n = stage.waitForLines(count: 1000, inStderr: true, timeout: 600) { $0.contains("msg=\"retrain succeeded\"") }
        #expect(n == 1000)
        #expect(try StageHarness.metric(port: port, "aeflow_retrain_trainings_succeeded_total") == 1000)
        #expect(try StageHarness.metric(port: port, "aeflow_retrain_trainings_running_max") <= 2, "concurrency 2")
        #expect(try StageHarness.metric(port: port, "aeflow_retrain_training_rows_count") == 1000)
        let progress = stage.stderrLines.filter { $0.contains("msg=\"retrain progress\"") }
        #expect(progress.count >= 9, "a progress line every 100 trainings")
        // Memory: a few MB per training at most, and none of it kept per key.
        let rssEnd = try StageHarness.metric(port: port, "aeflow_retrain_peak_resident_bytes")
        #expect(rssEnd < 400 * 1_048_576, "peak RSS \(Int(rssEnd) >> 20) MiB")
        #expect(rssEnd - rssEarly < 48 * 1_048_576, "peak RSS grew \(Int(rssEnd - rssEarly) >> 20) MiB from the 100th to the 1000th training")
        let store = CheckpointStore(root: h.dir.file("models"))
        #expect((0..<1000).allSatisfy { store.latest(pipeline: "default", key: ["k\($0)"])?.version == 1 })
        stage.signal(SIGTERM)
        #expect(stage.waitForExit(timeout: 60) == 0)
    }
}
