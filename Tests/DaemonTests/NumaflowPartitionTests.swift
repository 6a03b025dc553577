import Foundation
import Scoring
import Stage
import Testing
import TestSupport
import TensorCore

/// Scaling out on Numaflow: `aeflow transform` (driven by Python grpcio with stubs generated from Numaflow's own
/// sourcetransform.proto) keys each point by its composite key and times it by its timestamp, so keyed
/// partitions follow the data; and `aeflow udf` replicas that each own a partition's keys answer exactly what
/// one replica answers for all keys.
@Suite(.serialized) struct NumaflowPartitionTests {
    static func message(_ id: String, _ keys: [String], _ value: String, eventTime: Int64? = nil) -> String {
        var o = JSONObject([("id", .string(id)), ("keys", .array(keys.map { .string($0) })), ("value", .string(value))])
        if let eventTime { o["event_time_ms"] = .int(eventTime) }
        return JSONValue.object(o).serialized()
    }

    @Test func theTransformerKeysAndTimesEveryPointAndTagsWhatItCannotRead() throws {
        guard TestPython.isAvailable else { Issue.record("no test Python at \(TestPython.path); run `make test-deps`"); return }
        let dir = try TemporaryDirectory(prefix: "aeflow-transform")
        try DaemonHarness.config(store: dir.file("models")).write(toFile: dir.file("cfg.yaml"), atomically: true, encoding: .utf8)
        let transform = try LineProcess(Subprocess.aeflow, ["transform", "--config", dir.file("cfg.yaml"), "--socket", dir.file("t.sock"),
                                                            "--server-info", dir.file("server-info")])
        defer { transform.signal(SIGKILL) }
        let ready = try #require(transform.waitForLine(containing: "msg=\"transform ready\"", timeout: 60), "\(transform.stderrLines.suffix(5))")
        let info = try String(contentsOfFile: dir.file("server-info"), encoding: .utf8)
        #expect(info.hasPrefix("{\"protocol\":\"uds\"") && info.hasSuffix("U+005C__END__"))
        let single = point("web", 3, cpu: 1.5, mem: 2)
        let pair = "[" + point("a", 4, cpu: 0.1, mem: 7) + "," + point("b", 5, cpu: 3e-7, mem: 8) + "]"
        let lines = [
            Self.message("one", ["source-key"], single, eventTime: 1),
            Self.message("two", ["source-key"], pair, eventTime: 1),
            Self.message("bad", ["source-key"], "{not json", eventTime: 12_345),
            Self.message("nometric", ["source-key"], "{\"key\":\"web\",\"timestamp\":1700000000000,\"metrics\":{\"disk\":1}}", eventTime: 777),
        ]
        try lines.joined(separator: "\n").write(toFile: dir.file("messages.jsonl"), atomically: true, encoding: .utf8)
        let client = try Subprocess.run(TestPython.path, [TestPython.script("transform_client.py"), "--socket", dir.file("t.sock"),
                                                          "--proto", UDFTests.proto, "--stubs", dir.file("stubs"), "--messages", dir.file("messages.jsonl")])
        #expect(client.status == 0, "\(client.stderr)")
        let out = client.stdout.split(separator: "\n").map(String.init)
        #expect(out.contains("READY True") && out.contains("HANDSHAKE True"))
        var byID: [String: [JSONObject]] = [:]
        for line in out where line.hasPrefix("{") {
            let o = try #require(try JSONValue.parse(line).objectValue)
            byID[o["id"]!.stringValue!] = o["results"]!.arrayValue!.compactMap(\.objectValue)
        }
        #expect(byID.keys.sorted() == ["bad", "nometric", "one", "two"])
        // One point: its own key and timestamp, its bytes unchanged, tagged for the scoring edge.
        let one = try #require(byID["one"]?.first)
        #expect(one["keys"] == .array([.string("web")]) && one["event_time_ms"]?.intValue == DaemonHarness.t0 + 3 * 60_000)
        #expect(one["value"]?.stringValue == single && one["tags"] == .array([.string("output")]))
        // Two points of two keys: split, each keyed and timed by itself, each value one point that reads back the same.
        let two = try #require(byID["two"])
        #expect(two.map { $0["keys"]?.arrayValue?.first?.stringValue } == ["a", "b"])
        #expect(two.map { $0["event_time_ms"]?.intValue } == [DaemonHarness.t0 + 4 * 60_000, DaemonHarness.t0 + 5 * 60_000])
        let decoder = InputDecoder(AEFlowConfig.Windows())
        for (r, original) in zip(two, [("a", 4, Float(0.1), Float(7)), ("b", 5, Float(3e-7), Float(8))]) {
            guard case .success(.points(let ps)) = decoder.decode(Array(r["value"]!.stringValue!.utf8)), let p = ps.first, ps.count == 1 else {
                Issue.record("not one point: \(r)"); continue
            }
            #expect(p.key == [original.0] && p.timestamp == DaemonHarness.t0 + Int64(original.1) * 60_000)
            #expect(p.value(of: "cpu") == .some(original.2) && p.value(of: "mem") == .some(original.3))
        }
        // What cannot be read keeps the request's keys and event time and goes to the dead-letter edge with the reason.
        for (id, reason, time) in [("bad", "bad_json", Int64(12_345)), ("nometric", "unknown_metric_set", Int64(777))] {
            let r = try #require(byID[id]?.first)
            #expect(r["tags"] == .array([.string("dead_letter")]) && r["keys"] == .array([.string("source-key")]) && r["event_time_ms"]?.intValue == time)
            #expect(try JSONValue.parse(r["value"]!.stringValue!).objectValue?["error"]?.stringValue == reason, "\(r)")
        }
        // Its HTTP side counts what it did.
        let port = try #require(ready.split(separator: " ").first { $0.hasPrefix("http_port=") }.flatMap { Int($0.dropFirst(10)) })
        #expect(try LocalHTTP.metric(port: port, "aeflow_points_in_total") == 3)
        #expect(try LocalHTTP.metric(port: port, "aeflow_points_rejected_total{reason=\"bad_json\"}") == 1)
        #expect(try LocalHTTP.request(port: port, "GET", "/readyz").0 == 200)
    }

    /// Keyed partitions: two UDF replicas, each fed only its partition's keys (as Numaflow routes a key's messages
    /// to one partition), give every key exactly the answers one replica gives when it sees all keys.
    @Test func twoReplicasEachOwningAPartitionAnswerLikeOne() throws {
        guard TestPython.isAvailable else { Issue.record("no test Python at \(TestPython.path); run `make test-deps`"); return }
        let dir = try TemporaryDirectory(prefix: "aeflow-partitions")
        let store = CheckpointStore(root: dir.file("models"), keepVersions: 5)
        let keys = (0..<6).map { "h\($0)" }
        try DaemonHarness.publishModel(store: store, keys: keys.prefix(4).map { [$0] })   // two keys stay without a model
        var rng = RandomGenerator(seed: 21)
        var all: [(key: String, line: String)] = []
        for i in 0..<20 {
            let r = DaemonHarness.row(i, noise: &rng)
            for (k, key) in keys.enumerated() {
                all.append((key, Self.message("\(key)-\(i)", [key], point(key, i, cpu: r.cpu + Float(k), mem: r.mem))))
            }
        }
        // Partition by a hash of the key, as Numaflow does (which hash does not matter: each key goes to one partition).
        let partitions = [0, 1].map { p in all.filter { KeyShard.of([$0.key], count: 2) == p } }
        #expect(partitions.allSatisfy { !$0.isEmpty })
        func run(_ name: String, _ messages: [(key: String, line: String)]) throws -> [String: [String]] {
            let cfg = DaemonHarness.config(store: store.root, extra: "windows: {snapshot_path: null}")
            try cfg.write(toFile: dir.file("\(name).yaml"), atomically: true, encoding: .utf8)
            let udf = try LineProcess(Subprocess.aeflow, ["udf", "--config", dir.file("\(name).yaml"), "--socket", dir.file("\(name).sock"),
                                                          "--server-info", dir.file("\(name).info")])
            defer { udf.signal(SIGKILL) }
            guard udf.waitForLine(containing: "msg=\"udf ready\"", timeout: 60) != nil else { throw DaemonHarness.HarnessError("\(name) not ready") }
            try messages.map(\.line).joined(separator: "\n").write(toFile: dir.file("\(name).jsonl"), atomically: true, encoding: .utf8)
            let client = try Subprocess.run(TestPython.path, [TestPython.script("udf_client.py"), "--socket", dir.file("\(name).sock"),
                                                              "--proto", UDFTests.proto, "--stubs", dir.file("stubs-\(name)"), "--messages", dir.file("\(name).jsonl")])
            #expect(client.status == 0, "\(client.stderr)")
            var answers: [String: [String]] = [:]
            for r in UDFTests.parse(client.stdout.split(separator: "\n").map(String.init)) {
                for x in r.results where x.tags == ["output"] {
                    let meta = x.value?["metadata"]?.objectValue
                    answers[x.keys.first ?? "", default: []].append(
                        "\(x.value?["timestamp"]?.intValue ?? -1) \(meta?["status"]?.stringValue ?? "?") \(x.value?["unified_anomaly"]?.doubleValue ?? -1)")
                }
            }
            return answers
        }
        let whole = try run("whole", all)
        let split = try run("p0", partitions[0]).merging(try run("p1", partitions[1])) { a, _ in a }
        #expect(whole.keys.sorted() == keys && whole.values.allSatisfy { $0.count == 20 })
        #expect(split == whole)
        #expect(whole["h0"]?.last?.contains(" scored ") == true && whole["h5"]?.last?.contains(" model_not_ready ") == true)
    }
}
