import Foundation
import Scoring
import Testing
import TestSupport
import TensorCore

/// `aeflow udf` as a real process, driven by Python grpcio with stubs generated from the same map.proto.
@Suite(.serialized) struct UDFTests {
    static let proto = Fixtures.directory.deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Sources/NumaflowUDF/Proto").path

    struct Response { let id: String; let results: [(keys: [String], value: JSONObject?, raw: String, tags: [String])] }

    static func parse(_ lines: [String]) -> [Response] {
        lines.filter { $0.hasPrefix("{") }.compactMap { line in
            guard case .object(let o)? = try? JSONValue.parse(line), let id = o["id"]?.stringValue, let rs = o["results"]?.arrayValue else { return nil }
            return Response(id: id, results: rs.compactMap(\.objectValue).map { r in
                let raw = r["value"]?.stringValue ?? ""
                return (r["keys"]?.arrayValue?.compactMap(\.stringValue) ?? [], try? JSONValue.parse(raw).objectValue, raw,
                        r["tags"]?.arrayValue?.compactMap(\.stringValue) ?? [])
            })
        }
    }

    /// The UDF's HTTP side (real requests): health, readiness once the socket listens, and the daemon's metrics
    /// counting what the map stream answered.
    @Test func healthReadinessAndMetricsOverHTTP() throws {
        guard TestPython.isAvailable else { Issue.record("no test Python at \(TestPython.path); run `make test-deps`"); return }
        let dir = try TemporaryDirectory(prefix: "aeflow-udf-http")
        // SIGTERM writes the window snapshot: into this test's directory, not the shared working directory.
        try DaemonHarness.config(store: dir.file("models"), extra: "windows: {snapshot_path: \"\(dir.file("windows.snapshot"))\"}")
            .write(toFile: dir.file("cfg.yaml"), atomically: true, encoding: .utf8)
        let udf = try LineProcess(Subprocess.aeflow, ["udf", "--config", dir.file("cfg.yaml"), "--socket", dir.file("map.sock"),
                                                      "--server-info", dir.file("server-info")])
        defer { udf.signal(SIGKILL) }
        let ready = try #require(udf.waitForLine(containing: "msg=\"udf ready\"", timeout: 60), "\(udf.stderrLines.suffix(5))")
        let port = try #require(ready.split(separator: " ").first { $0.hasPrefix("http_port=") }.flatMap { Int($0.dropFirst(10)) })
        #expect(try LocalHTTP.request(port: port, "GET", "/healthz").0 == 200)
        #expect(try LocalHTTP.request(port: port, "GET", "/readyz").0 == 200)
        let lines = (0..<3).map { i in
            JSONValue.object(JSONObject([("id", .string("h\(i)")), ("keys", .array([.string("web")])), ("value", .string(point("web", i, cpu: 1, mem: 2)))])).serialized()
        } + [JSONValue.object(JSONObject([("id", .string("bad")), ("keys", .array([.string("web")])), ("value", .string("{not json"))])).serialized()]
        try lines.joined(separator: "\n").write(toFile: dir.file("messages.jsonl"), atomically: true, encoding: .utf8)
        let client = try Subprocess.run(TestPython.path, [TestPython.script("udf_client.py"), "--socket", dir.file("map.sock"), "--proto", Self.proto,
                                                          "--stubs", dir.file("stubs"), "--messages", dir.file("messages.jsonl")])
        #expect(client.status == 0, "\(client.stderr)")
        #expect(try LocalHTTP.metric(port: port, "aeflow_outputs_total{status=\"warming_up\"}") == 3)
        #expect(try LocalHTTP.metric(port: port, "aeflow_points_rejected_total{reason=\"bad_json\"}") == 1)
        let (code, text) = try LocalHTTP.request(port: port, "GET", "/metrics")
        #expect(code == 200 && text.contains("# TYPE aeflow_points_in_total counter"))
        udf.signal(SIGTERM)
        #expect(udf.waitForExit(timeout: 30) == 0)
    }

    /// A fatal error (the socket's directory cannot be made) fails the command and leaves Numaflow's runtime
    /// error file, in the SDKs' layout and format.
    /// Remote write from the UDF: the scores it answers Numaflow with are also written to a real VictoriaMetrics,
    /// the same values at the same timestamps.
    @Test func theUDFsScoresAreWrittenBackByRemoteWrite() throws {
        guard TestPython.isAvailable else { Issue.record("no test Python at \(TestPython.path); run `make test-deps`"); return }
        let dir = try TemporaryDirectory(prefix: "aeflow-udf-rw")
        let vm = try MetricsServer(.victoriaMetrics, dataDir: dir.file("vm"))
        let store = dir.file("models")
        try DaemonHarness.publishModel(store: CheckpointStore(root: store, keepVersions: 5), key: ["web"])
        try DaemonHarness.config(store: store, extra: "remote_write: {url: \"\(vm.writeURL)\", flush_interval_ms: 50}")
            .write(toFile: dir.file("cfg.yaml"), atomically: true, encoding: .utf8)
        let udf = try LineProcess(Subprocess.aeflow, ["udf", "--config", dir.file("cfg.yaml"), "--socket", dir.file("map.sock"),
                                                      "--server-info", dir.file("server-info"), "--http-port", "0"])
        defer { udf.signal(SIGKILL) }
        let ready = try #require(udf.waitForLine(containing: "msg=\"udf ready\"", timeout: 60), "\(udf.stderrLines.suffix(5))")
        let port = try #require(ready.split(separator: " ").first { $0.hasPrefix("http_port=") }.flatMap { Int($0.dropFirst(10)) })
        var rng = RandomGenerator(seed: 11)
        let lines = (0..<20).map { i -> String in
            let r = DaemonHarness.row(i, noise: &rng)
            return JSONValue.object(JSONObject([("id", .string("m\(i)")), ("keys", .array([.string("web")])),
                                                ("value", .string(point("web", i, cpu: r.cpu, mem: r.mem)))])).serialized()
        }
        try lines.joined(separator: "\n").write(toFile: dir.file("messages.txt"), atomically: true, encoding: .utf8)
        let client = try Subprocess.run(TestPython.path, [TestPython.script("udf_client.py"), "--socket", dir.file("map.sock"), "--proto", Self.proto,
                                                          "--stubs", dir.file("stubs"), "--messages", dir.file("messages.txt")])
        #expect(client.status == 0, "\(client.stderr)")
        let outputs = Self.parse(client.stdout.split(separator: "\n").map(String.init)).flatMap(\.results).filter { $0.tags == ["output"] }.compactMap(\.value)
        #expect(outputs.count == 20)
        #expect(outputs.filter { $0["metadata"]?["status"]?.stringValue == "scored" }.count == 9)
        #expect(try LocalHTTP.metric(port: port, "aeflow_remote_write_samples_sent_total", reaching: 36, within: 20) == 36)
        try waitForScores(9, in: vm, host: "web", outputs: outputs)
        try expectWrittenBack(outputs, in: vm, host: "web")
    }

    @Test func aFatalErrorWritesNumaflowsRuntimeErrorFile() throws {
        let dir = try TemporaryDirectory(prefix: "aeflow-udf-fatal")
        try DaemonHarness.config(store: dir.file("models")).write(toFile: dir.file("cfg.yaml"), atomically: true, encoding: .utf8)
        let r = try Subprocess.run(Subprocess.aeflow, ["udf", "--config", dir.file("cfg.yaml"), "--socket", "/proc/aeflow-none/map.sock",
                                                       "--server-info", dir.file("server-info"), "--runtime-errors-dir", dir.file("errors")],
                                   environment: ["NUMAFLOW_UD_CONTAINER_TYPE": "udf"])
        #expect(r.status != 0)
        let files = (try? FileManager.default.contentsOfDirectory(atPath: dir.file("errors/udf"))) ?? []
        #expect(files.count == 1 && files[0].hasSuffix("-udf.json") && Int(files[0].dropLast("-udf.json".count)) != nil, "\(files) \(r.stderr)")
        let name = files.first ?? "none"
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: dir.file("errors/udf/" + name))))
        let entry = try #require(try JSONValue.parse(bytes).objectValue)
        #expect(entry["container"] == .string("udf") && entry["code"] == .string("Internal error"))
        #expect(entry["message"]?.stringValue?.contains("serving") == true && entry["details"]?.stringValue?.contains("/proc/aeflow-none") == true, "\(entry)")
        let stamp = entry["timestamp"]?.stringValue.flatMap(RFC3339.parse)
        #expect(stamp.map { abs($0 - Int64(Date().timeIntervalSince1970 * 1000)) < 600_000 } == true)
    }

    @Test func handshakePointsRedeliveryMalformedInputAndReadinessMatchTheDaemon() throws {
        guard TestPython.isAvailable else { Issue.record("no test Python at \(TestPython.path); run `make test-deps`"); return }
        let dir = try TemporaryDirectory(prefix: "aeflow-udf")
        let store = dir.file("models")
        try DaemonHarness.publishModel(store: CheckpointStore(root: store, keepVersions: 5), key: ["web"])
        try DaemonHarness.config(store: store).write(toFile: dir.file("cfg.yaml"), atomically: true, encoding: .utf8)
        let udf = try LineProcess(Subprocess.aeflow, ["udf", "--config", dir.file("cfg.yaml"), "--socket", dir.file("map.sock"),
                                                      "--server-info", dir.file("server-info")])
        defer { udf.signal(SIGKILL) }
        #expect(udf.waitForLine(containing: "msg=\"udf ready\"", timeout: 60) != nil, "\(udf.stderrLines.suffix(5))")
        // The server-info file: JSON then numaflow's end marker, written once the socket listens.
        let info = try String(contentsOfFile: dir.file("server-info"), encoding: .utf8)
        #expect(info.hasSuffix("U+005C__END__"))
        let infoJSON = try #require(try JSONValue.parse(String(info.dropLast("U+005C__END__".count))).objectValue)
        #expect(infoJSON["protocol"] == .string("uds") && infoJSON["metadata"]?.objectValue?["MAP_MODE"] == .string("unary-map"))

        // The stream: points for two keys (one spike), a redelivery under the same id, the newest point again
        // under a new id, a malformed value, then one more point.
        var rng = RandomGenerator(seed: 7)
        var bodies: [String] = []
        for i in 0..<60 {
            var r = DaemonHarness.row(i, noise: &rng)
            if i == 45 { r.cpu += 80 }
            bodies.append(point("web", i, cpu: r.cpu, mem: r.mem))
        }
        for i in 0..<15 { let r = DaemonHarness.row(i, noise: &rng); bodies.append(point("cold", i, cpu: r.cpu, mem: r.mem)) }
        let last = DaemonHarness.row(60, noise: &rng)
        let final = point("web", 60, cpu: last.cpu, mem: last.mem)
        func message(_ id: String, _ key: String, _ value: String) -> String {
            JSONValue.object(JSONObject([("id", .string(id)), ("keys", .array([.string(key)])), ("value", .string(value))])).serialized()
        }
        var lines = bodies.enumerated().map { message("m\($0.offset)", $0.offset < 60 ? "web" : "cold", $0.element) }
        lines.append(message("m25", "web", "a redelivery carries the same id; its value is not even read"))
        lines.append(message("again", "web", bodies[59]))
        lines.append(message("bad", "web", "{not json"))
        lines.append(message("m-final", "web", final))
        try lines.joined(separator: "\n").write(toFile: dir.file("messages.txt"), atomically: true, encoding: .utf8)
        let client = try Subprocess.run(TestPython.path, [TestPython.script("udf_client.py"), "--socket", dir.file("map.sock"), "--proto", Self.proto,
                                                          "--stubs", dir.file("stubs"), "--messages", dir.file("messages.txt")])
        #expect(client.status == 0, "\(client.stderr)")
        let out = client.stdout.split(separator: "\n").map(String.init)
        #expect(out.contains("READY True") && out.contains("HANDSHAKE True"))
        let responses = Self.parse(out)
        #expect(responses.map(\.id) == (0..<75).map { "m\($0)" } + ["m25", "again", "bad", "m-final"], "one response per request, ids echoed")
        let byID = Dictionary(responses.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        // The redelivered id gets exactly its first answer (same uuid): no state was touched.
        let first25 = try #require(responses.first { $0.id == "m25" }), again25 = try #require(responses.last { $0.id == "m25" })
        #expect(first25.results.map(\.raw) == again25.results.map(\.raw))
        // The malformed value is answered, tagged for a dead-letter edge.
        let bad = try #require(byID["bad"]?.results.first)
        #expect(bad.tags == ["dead_letter"] && bad.value?["error"]?.stringValue == "bad_json" && bad.keys == ["web"])
        // Cold keys: model_not_ready scores plus one train request, tagged for the retrain edge.
        let cold = (60..<75).flatMap { byID["m\($0)"]!.results }
        #expect(cold.filter { $0.tags == ["train"] }.count == 1)
        #expect(cold.filter { $0.tags == ["output"] }.count == 15)

        // The same points through `aeflow serve`: the same statuses and scores.
        let h = try DaemonHarness { try DaemonHarness.publishModel(store: $0, key: ["web"]) }
        let daemonOut = try h.stream(bodies + [final], expect: 76)
        #expect(h.stop() == 0)
        func scoreKey(_ o: JSONObject) -> String { "\(o["composite_keys"]!.arrayValue![0].stringValue!)@\(o["timestamp"]!.intValue!)" }
        let daemonScores = Dictionary(daemonOut.map { (scoreKey($0), $0) }, uniquingKeysWith: { a, _ in a })
        var compared = 0
        for id in (0..<75).map({ "m\($0)" }) + ["m-final"] {
            for r in byID[id]!.results where r.tags == ["output"] {
                let mine = try #require(r.value), theirs = try #require(daemonScores[scoreKey(mine)])
                #expect(mine["metadata"]?.objectValue?["status"] == theirs["metadata"]?.objectValue?["status"])
                let a = mine["unified_anomaly"]?.doubleValue, b = theirs["unified_anomaly"]?.doubleValue
                #expect((a == nil && b == nil) || abs((a ?? .nan) - (b ?? .nan)) <= 1e-6, "\(id): \(String(describing: a)) vs \(String(describing: b))")
                compared += 1
            }
        }
        #expect(compared == 76)
        // The newest point under a new id replaced itself: the final point's window is the daemon's.
        let finalScore = try #require(byID["m-final"]?.results.first { $0.tags == ["output"] }?.value)
        #expect(finalScore["metadata"]?.objectValue?["status"] == .string("scored"))
        let again = try #require(byID["again"]?.results.first?.value)
        #expect(again["timestamp"]?.intValue == DaemonHarness.t0 + 59 * 60_000)
        // The spike stands out in the UDF's scores too.
        let spike = try #require(byID["m45"]?.results.first?.value?["unified_anomaly"]?.doubleValue)
        let normal = (20..<40).compactMap { byID["m\($0)"]?.results.first?.value?["unified_anomaly"]?.doubleValue }
        #expect(spike > 3 * (normal.max() ?? 0))

        // A stream that does not start with the handshake is refused; the server keeps serving.
        let rude = try Subprocess.run(TestPython.path, [TestPython.script("udf_client.py"), "--socket", dir.file("map.sock"), "--proto", Self.proto,
                                                        "--stubs", dir.file("stubs"), "--messages", dir.file("messages.txt"), "--no-handshake"])
        #expect(rude.stdout.contains("ERROR INVALID_ARGUMENT"), "\(rude.stdout.suffix(300))")
        udf.signal(SIGTERM)
        #expect(udf.waitForExit(timeout: 60) == 0)
        #expect(udf.stderrLines.contains { $0.contains("msg=\"udf stopped\"") })
    }

    /// The UDF feeds a retrain sidecar (history and train requests over ipc): a cold key gets a model
    /// the UDF then scores with, without a restart.
    @Test func aRetrainSidecarTrainsFromTheUDFsFeed() throws {
        guard TestPython.isAvailable else { Issue.record("no test Python at \(TestPython.path); run `make test-deps`"); return }
        let dir = try TemporaryDirectory(prefix: "aeflow-udf-retrain")
        let d = dir.path
        try """
            outputs:
              train_requests: {endpoint: "ipc://\(d)/train.ipc", type: push, bind: true}
              history: {endpoint: "ipc://\(d)/history.ipc", type: push, bind: true}
            store: {path: "\(d)/models", poll_interval_ms: 100}
            history: {path: "\(d)/history.sqlite"}
            retrain: {scan_interval_s: 0.1, http: {port: 0}}
            stream_confs:
              default:
                window_size: 12
                composite_keys: [host]
                ml_pipelines:
                  default:
                    metrics: [cpu, mem]
                    numalogic_conf:
                      model: {name: VanillaAE, conf: {seq_len: 12, n_features: 2}}
                      trainer: {min_train_size: 200, retry_sec: 1, pltrainer_conf: {max_epochs: 3}}
            """.write(toFile: dir.file("cfg.yaml"), atomically: true, encoding: .utf8)
        let udf = try LineProcess(Subprocess.aeflow, ["udf", "--config", dir.file("cfg.yaml"), "--socket", dir.file("map.sock"), "--server-info", dir.file("info")])
        defer { udf.signal(SIGKILL) }
        #expect(udf.waitForLine(containing: "msg=\"udf ready\"", timeout: 60) != nil)
        let stage = try LineProcess(Subprocess.aeflow, ["retrain", "--config", dir.file("cfg.yaml")])
        defer { stage.signal(SIGKILL) }
        #expect(stage.waitForLine(containing: "msg=\"retrain ready\"", timeout: 60) != nil)
        var rng = RandomGenerator(seed: 3)
        func send(_ range: Range<Int>, _ name: String) throws -> [Response] {
            let lines = range.map { i -> String in
                let r = DaemonHarness.row(i, noise: &rng)
                return JSONValue.object(JSONObject([("id", .string("p\(i)")), ("keys", .array([.string("svc")])),
                                                    ("value", .string(point("svc", i, cpu: r.cpu, mem: r.mem)))])).serialized()
            }
            try lines.joined(separator: "\n").write(toFile: dir.file(name), atomically: true, encoding: .utf8)
            let c = try Subprocess.run(TestPython.path, [TestPython.script("udf_client.py"), "--socket", dir.file("map.sock"), "--proto", Self.proto,
                                                         "--stubs", dir.file("stubs"), "--messages", dir.file(name)])
            #expect(c.status == 0, "\(c.stderr)")
            return Self.parse(c.stdout.split(separator: "\n").map(String.init))
        }
        let first = try send(0..<250, "first.txt")
        #expect(first.count == 250 && first.allSatisfy { $0.results.contains { $0.value?["metadata"]?.objectValue?["status"]?.stringValue != "scored" } })
        #expect(stage.waitForLine(containing: "msg=\"retrain succeeded\"", timeout: 60)?.contains("version=1") == true, "\(stage.stderrLines.suffix(4))")
        let second = try send(250..<300, "second.txt")
        let statuses = second.flatMap { $0.results.compactMap { $0.value?["metadata"]?.objectValue } }
        #expect(statuses.contains { $0["status"] == .string("scored") && $0["model_version"]?.intValue == 1 }, "the UDF scores with the sidecar's model")
        stage.signal(SIGTERM)
        #expect(stage.waitForExit(timeout: 60) == 0)
        udf.signal(SIGTERM)
        #expect(udf.waitForExit(timeout: 60) == 0)
    }

    /// SIGTERM while Numaflow keeps its stream open: the answers already given stand, the stream is cancelled
    /// after the grace period, and the process exits 0.
    @Test func sigtermWithAnOpenStreamStopsAfterTheGracePeriod() throws {
        guard TestPython.isAvailable else { Issue.record("no test Python at \(TestPython.path); run `make test-deps`"); return }
        let dir = try TemporaryDirectory(prefix: "aeflow-udf-stop")
        try DaemonHarness.config(store: dir.file("models")).write(toFile: dir.file("cfg.yaml"), atomically: true, encoding: .utf8)
        // The grace period comes from Numaflow's environment variable (5 s, as the Python SDK, without it).
        let udf = try LineProcess(Subprocess.aeflow, ["udf", "--config", dir.file("cfg.yaml"), "--socket", dir.file("map.sock"), "--server-info", dir.file("info")],
                                  environment: ["NUMAFLOW_GRACEFUL_TIMEOUT_SECS": "2"])
        defer { udf.signal(SIGKILL) }
        #expect(udf.waitForLine(containing: "msg=\"udf ready\"", timeout: 60) != nil)
        let m = JSONValue.object(JSONObject([("id", .string("a")), ("keys", .array([.string("web")])), ("value", .string(point("web", 0, cpu: 1, mem: 2)))]))
        try m.serialized().write(toFile: dir.file("m.txt"), atomically: true, encoding: .utf8)
        let client = try LineProcess(TestPython.path, [TestPython.script("udf_client.py"), "--socket", dir.file("map.sock"), "--proto", Self.proto,
                                                       "--stubs", dir.file("stubs"), "--messages", dir.file("m.txt"), "--hold"])
        defer { client.signal(SIGKILL) }
        #expect(client.waitForLines(count: 1, timeout: 60) { $0.hasPrefix("{\"id\": \"a\"") } == 1, "the message was answered")
        udf.signal(SIGTERM)
        #expect(udf.waitForExit(timeout: 40) == 0)
        #expect(udf.stderrLines.contains { $0.contains("msg=\"udf stopping\"") && $0.contains("grace_seconds=2.0") }, "\(udf.stderrLines.suffix(4))")
        #expect(udf.stderrLines.contains { $0.contains("msg=\"udf stopped\"") })
    }
}
