import Daemon
import Stage
import Foundation
import Scoring
import Testing
import TestSupport
import TensorCore

/// `aeflow serve` as a real process, driven by a pyzmq client and plain HTTP.
@Suite(.serialized) struct DaemonEndToEndTests {
    @Test func everyAcceptedPointComesBackScoredAndAnomaliesStandOut() throws {
        let h = try DaemonHarness { try DaemonHarness.publishModel(store: $0, key: ["web"]) }
        var rng = RandomGenerator(seed: 7)
        var messages: [String] = []
        for i in 0..<200 {
            var r = DaemonHarness.row(i, noise: &rng)
            if i == 150 { r.cpu += 80 }                  // one spike
            messages.append(point("web", i, cpu: r.cpu, mem: r.mem))
        }
        for i in 0..<30 { let r = DaemonHarness.row(i, noise: &rng); messages.append(point("cold", i, cpu: r.cpu, mem: r.mem)) }
        // Arrays of points are one message.
        messages.append("[" + (200..<205).map { let r = DaemonHarness.row($0, noise: &rng); return point("web", $0, cpu: r.cpu, mem: r.mem) }.joined(separator: ",") + "]")
        let outputs = try h.stream(messages, expect: 235)
        #expect(outputs.count == 235, "one output per accepted point")
        let web = outputs.filter { $0["composite_keys"]?.arrayValue?.first?.stringValue == "web" }
        let status = { (o: JSONObject) in o["metadata"]!.objectValue!["status"]!.stringValue! }
        #expect(web.prefix(11).allSatisfy { status($0) == "warming_up" })
        #expect(web.dropFirst(11).allSatisfy { status($0) == "scored" && $0["metadata"]!.objectValue!["model_version"]!.intValue == 1 })
        let cold = outputs.filter { $0["composite_keys"]?.arrayValue?.first?.stringValue == "cold" }
        #expect(cold.count == 30 && cold.dropFirst(11).allSatisfy { status($0) == "model_not_ready" })
        // The spike and the windows right after it score far above the rest.
        func score(_ o: JSONObject) -> Double { o["unified_anomaly"]?.doubleValue ?? 0 }
        let byTime = Dictionary(uniqueKeysWithValues: web.map { ($0["timestamp"]!.intValue!, score($0)) })
        let spike = byTime[DaemonHarness.t0 + 150 * 60_000]!
        let normal = (20..<140).compactMap { byTime[DaemonHarness.t0 + Int64($0) * 60_000] }
        // One spiked point in twelve is diluted by numalogic's window mean, yet stands far above the rest
        // and above the score of an error exactly at the threshold (≈ 1).
        #expect(spike > 3 * (normal.max() ?? 0) && spike > 1, "spike \(spike) vs normal max \(normal.max() ?? 0)")
        let first = try #require(web.last)
        #expect(first["data"]?.objectValue?.keys == ["cpu", "mem", "unified_ML"])
        #expect(try h.metric("aeflow_points_in_total") == 235)
        // The spike alarms, and every is_anomaly output is counted for its pipeline.
        let alarms = outputs.filter { $0["metadata"]?.objectValue?["is_anomaly"] == .bool(true) }.count
        let counted = try h.metric("aeflow_anomalies_total{pipeline=\"default\"}")
        #expect(alarms > 0 && counted == Double(alarms), "\(alarms) alarms, \(counted) counted")
        let request = try #require(h.trainRequests.first)            // for "cold", once (retry_sec 3600)
        #expect(h.trainRequests.count == 1)
        #expect(request["header"]?.stringValue == "request_training" && request["composite_keys"] == .array([.string("cold")]))
        #expect(request["metrics"] == .array([.string("cpu"), .string("mem")]))
        // Each thread carries its name for `top -H`, `ps -L` and `perf` (the daemon's config leaves the workers at
        // the machine's core count).
        let tasks = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(h.daemon.pid)/task")
        let names = Set(tasks.compactMap { try? String(contentsOfFile: "/proc/\(h.daemon.pid)/task/\($0)/comm", encoding: .utf8) }
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) })
        let workers = ProcessInfo.processInfo.activeProcessorCount
        let scoring = workers == 1 ? ["scoring"] : (0..<workers).map { "scoring-\($0)" }
        #expect(Set(["ingest", "publish", "model-loader"] + scoring).isSubset(of: names), "threads: \(names.sorted())")
        #expect(h.stop() == 0)
    }

    @Test func malformedAndHostileInputIsRejectedAndTheDaemonKeepsServing() throws {
        let h = try DaemonHarness(extraConfig: "windows: {max_keys: 1000, max_message_bytes: 65536}") {
            try DaemonHarness.publishModel(store: $0, key: ["web"])
        }
        var messages = [
            "{not json", "RAW ffff00", "[]", "42", "{\"key\":\"web\"}", "{\"key\":\"web\",\"timestamp\":1700000000000,\"metrics\":{\"cpu\":\"high\",\"mem\":1}}",
            "{\"key\":\"web\",\"timestamp\":\"yesterday\",\"metrics\":{\"cpu\":1,\"mem\":1}}",
            "{\"key\":\"web\",\"timestamp\":-5,\"metrics\":{\"cpu\":1,\"mem\":1}}",
            "{\"key\":\"web\",\"timestamp\":1700000000000,\"metrics\":{\"cpu\":NaN,\"mem\":1}}",
            "{\"key\":\"web\",\"timestamp\":1700000000000,\"metrics\":{\"cpu\":1e999,\"mem\":1}}",
            "{\"key\":\"web\",\"timestamp\":1700000000000,\"metrics\":{\"disk\":1}}",
            "{\"key\":[],\"timestamp\":1700000000000,\"metrics\":{\"cpu\":1,\"mem\":1}}",
            "{\"key\":{\"a\":1},\"timestamp\":1700000000000,\"metrics\":{\"cpu\":1,\"mem\":1}}",
            "BIG 200000",                                               // over max_message_bytes: dropped by libzmq
            String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000),
        ]
        // Keys that look like paths are just data, and 60,000 distinct keys (in arrays of 500 points) stay
        // within max_keys 1000.
        messages.append(point("../../etc", 0, cpu: 1, mem: 2))
        messages.append(point("a/b/../../x", 0, cpu: 1, mem: 2))
        // (Fewer outputs than the score socket's 100,000-message queue: this client reads only after sending all,
        // and the daemon drops, and counts, what a consumer that is not reading leaves beyond that queue.)
        for batch in 0..<120 { messages.append("[" + (0..<500).map { point("k\(batch * 500 + $0)", 0, cpu: 1, mem: 2) }.joined(separator: ",") + "]") }
        var rng = RandomGenerator(seed: 3)
        for i in 0..<20 { let r = DaemonHarness.row(i, noise: &rng); messages.append(point("web", i, cpu: r.cpu, mem: r.mem)) }
        let outputs = try h.stream(messages, expect: 60_022, timeout: 60)
        #expect(outputs.count == 60_022, "dropped \((try? h.metric("aeflow_outputs_dropped_total{output=\"scores\"}")) ?? -1), in \((try? h.metric("aeflow_points_in_total")) ?? -1), keys \((try? h.metric("aeflow_keys")) ?? -1), rejected \((try? h.metric("aeflow_points_rejected_total{reason=\"duplicate\"}")) ?? -1)/\((try? h.metric("aeflow_points_rejected_total{reason=\"late\"}")) ?? -1), warming \((try? h.metric("aeflow_outputs_total{status=\"warming_up\"}")) ?? -1)")
        // Outputs keep their order per key (keys on different scoring workers interleave).
        let web = outputs.filter { $0["composite_keys"]?.arrayValue?.first?.stringValue == "web" }
        #expect(web.last?["metadata"]?.objectValue?["status"]?.stringValue == "scored")
        #expect(try h.metric("aeflow_keys") <= 1001)
        #expect(try h.metric("aeflow_keys_evicted_total") >= 59_000)
        for reason in ["bad_json", "not_an_object", "missing_field", "wrong_type", "invalid_timestamp", "unknown_metric_set", "invalid_key"] {
            #expect(try h.metric("aeflow_points_rejected_total{reason=\"\(reason)\"}") >= 1, "\(reason) not counted")
        }
        // Nothing was written outside the store for hostile keys.
        #expect(!FileManager.default.fileExists(atPath: h.dir.file("etc")))
        let (code, _) = try h.http("GET", "/readyz")
        #expect(code == 200)
        #expect(h.stop() == 0)
    }

    /// With `http.bearer_token`, everything but the health endpoints needs the token.
    @Test func theBearerTokenGuardsAllButHealth() throws {
        let h = try DaemonHarness(extraConfig: "") { _ in }
        #expect(h.stop() == 0)
        let cfg = try String(contentsOfFile: h.dir.file("cfg.yaml"), encoding: .utf8).replacingOccurrences(of: "http: {port: 0}", with: "http: {port: 0, bearer_token: s3cret}")
        try cfg.write(toFile: h.dir.file("cfg.yaml"), atomically: true, encoding: .utf8)
        let (daemon, _, port) = try DaemonHarness.launch(h.dir)
        defer { daemon.signal(SIGKILL) }
        for path in ["/healthz", "/readyz"] { #expect(try LocalHTTP.request(port: port, "GET", path).0 == 200, "\(path)") }
        for path in ["/metrics", "/v1/models"] {
            #expect(try LocalHTTP.request(port: port, "GET", path).0 == 401, "\(path) without the token")
            #expect(try LocalHTTP.request(port: port, "GET", path, bearer: "wrong").0 == 401, "\(path) with another token")
            #expect(try LocalHTTP.request(port: port, "GET", path, bearer: "s3cret").0 == 200, "\(path) with the token")
        }
        #expect(try LocalHTTP.request(port: port, "POST", "/v1/score", body: point("web", 0, cpu: 1, mem: 1)).0 == 401)
    }

    @Test func newCheckpointsAreHotSwappedAndCorruptOnesRefused() throws {
        let h = try DaemonHarness { try DaemonHarness.publishModel(store: $0, key: ["web"]) }
        var rng = RandomGenerator(seed: 5)
        var i = 0
        func scoreOnce() throws -> (Int?, String) {
            let r = DaemonHarness.row(i, noise: &rng)
            i += 1
            let (code, body) = try h.http("POST", "/v1/score?update=true", body: point("web", i, cpu: r.cpu, mem: r.mem))
            #expect(code == 200, "\(body)")
            let o = try #require(JSONValue.parse(body).arrayValue?.first?.objectValue)
            let meta = o["metadata"]!.objectValue!
            return (meta["model_version"]?.intValue.map(Int.init), meta["status"]!.stringValue!)
        }
        for _ in 0..<12 { _ = try scoreOnce() }
        #expect(try scoreOnce() == (1, "scored"))
        // A new version appears in the store: picked up without restart.
        #expect(try DaemonHarness.publishModel(store: h.store, key: ["web"], seed: 2) == 2)
        var version: Int?
        for _ in 0..<500 where version != 2 {
            version = try scoreOnce().0
            _ = h.daemon.waitForLine(containing: "to_version=2", timeout: 0.05)
        }
        #expect(version == 2)
        #expect(h.daemon.waitForLine(containing: "msg=\"model swapped\"", timeout: 5) != nil)
        // A corrupt version 3 is refused; version 2 keeps serving.
        let dir = h.store.keyDirectory(pipeline: "default", key: ["web"])
        try Data(repeating: 0x41, count: 4096).write(to: URL(fileURLWithPath: "\(dir)/000003.safetensors"))
        try AtomicFile.write(Array("000003.safetensors\n".utf8), to: "\(dir)/LATEST")
        #expect(h.daemon.waitForLine(containing: "msg=\"model version refused\"", timeout: 10) != nil)
        #expect(try scoreOnce() == (2, "scored"))
        #expect(try h.metric("aeflow_model_load_failures_total") >= 1)
        let (code, models) = try h.http("GET", "/v1/models")
        #expect(code == 200 && models.contains("\"version\":2") && models.contains("\"status\":\"ready\""), "\(models)")
        #expect(h.stop() == 0)
    }

    @Test func sigtermLosesNoAcceptedPoint() throws {
        let h = try DaemonHarness { try DaemonHarness.publishModel(store: $0, key: ["web"]) }
        var rng = RandomGenerator(seed: 9)
        var messages: [String] = []
        for i in 0..<3000 { let r = DaemonHarness.row(i, noise: &rng); messages.append(point("web", i, cpu: r.cpu, mem: r.mem)) }
        let outputs = try h.stream(messages, expect: 3000, timeout: 30, extraArguments: ["--until-disconnected"]) { client in
            // Stop the daemon as soon as the client has handed everything to ZeroMQ.
            _ = client.waitForLine(containing: "SENT", inStderr: false, timeout: 60)
            h.daemon.signal(SIGTERM)
        }
        #expect(h.daemon.waitForExit(timeout: 60) == 0)
        // The daemon reports what it accepted and published while draining; the client received all of it.
        let drained = try #require(h.daemon.stderrLines.last { $0.contains("msg=\"scoring drained\"") })
        let fields = Dictionary(uniqueKeysWithValues: drained.split(separator: " ").compactMap { f -> (String, String)? in
            let kv = f.split(separator: "=", maxSplits: 1).map(String.init)
            return kv.count == 2 ? (kv[0], kv[1]) : nil
        })
        let accepted = try #require(Int(fields["accepted"] ?? ""))
        #expect(accepted > 0 && fields["published"] == String(accepted), "\(drained)")
        #expect(outputs.count == accepted, "accepted \(accepted), received \(outputs.count)")
        #expect(Set(outputs.compactMap { $0["timestamp"]?.intValue }).count == outputs.count)
    }
}
