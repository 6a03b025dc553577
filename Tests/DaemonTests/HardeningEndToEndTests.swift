import Daemon
import Stage
import Foundation
import Scoring
import Testing
import TestSupport
import TensorCore

/// The daemon (a real process, real sockets, a pyzmq client) against the hostile inputs of an outside test
/// campaign: every bad message is counted and dead-lettered with its original bytes, no valid point around it is
/// lost, output queues stay bounded, a bad model on disk costs only its own key, and SIGTERM under load exits
/// promptly having published everything it accepted.
@Suite(.serialized) struct HardeningEndToEndTests {
    static func points(_ key: String, _ range: Range<Int>, seed: UInt64 = 3) -> [String] {
        var rng = RandomGenerator(seed: seed)
        return range.map { i in let r = DaemonHarness.row(i, noise: &rng); return point(key, i, cpu: r.cpu, mem: r.mem) }
    }

    /// More keys than `store.max_models`, in strict rotation (every lookup a miss once the cache is full): every point
    /// is answered once, the cache stays within its bound, and once the churn stops the keys still sent get their
    /// models (the loader is not left behind on reads it no longer needs).
    @Test func churnThroughMoreKeysThanMaxModelsAnswersEveryPointAndRecovers() throws {
        let keys = (0..<24).map { "c\($0)" }
        let h = try DaemonHarness(storeExtra: ", max_models: 4") { store in
            try DaemonHarness.publishModel(store: store, keys: keys.map { [$0] })
        }
        let rotation = (0..<16).flatMap { i in keys.map { Self.points($0, i..<(i + 1))[0] } }
        let churned = try h.stream(rotation, expect: rotation.count)
        #expect(churned.count == rotation.count)
        let answered = Set(churned.map { "\($0["composite_keys"]?.arrayValue?.first?.stringValue ?? "?")@\($0["timestamp"]?.intValue ?? -1)" })
        #expect(answered.count == rotation.count, "each point answered once")
        let statuses = Set(churned.compactMap { $0["metadata"]?.objectValue?["status"]?.stringValue })
        #expect(statuses.isSubset(of: ["warming_up", "scored", "model_not_ready"]), "\(statuses)")
        // `max_models` is shared by the scoring workers (one per core here): each evicts down to its even share, so the
        // total can run over by up to one worker's share until a worker whose keys went quiet gives its surplus back
        // (README "Inference"); `/v1/models` shows each worker's entries as of its last snapshot.
        let workers = ProcessInfo.processInfo.activeProcessorCount
        let bound = workers == 1 ? 4 : 4 + (4 + workers - 1) / workers
        #expect(try h.metric("aeflow_models_loaded") <= Double(bound))
        let listed = try JSONValue.parse(try h.http("GET", "/v1/models").1)["models"]?.arrayValue ?? []
        #expect(listed.count <= bound, "\(listed.count) models listed (bound \(bound))")
        // Two keys only from now on, paced, a round of 20 points each at a time: both are read back and scored within a
        // few rounds (the loader first finishes the reads under way when the churn stopped).
        var next = 16, recovered = false
        for _ in 0..<10 where !recovered {
            let calm = (next..<(next + 20)).flatMap { i in ["c0", "c1"].map { Self.points($0, i..<(i + 1))[0] } }
            next += 20
            let after = try h.stream(calm, expect: calm.count, extraArguments: ["--rate-per-s", "200"])
            #expect(after.count == calm.count)
            recovered = ["c0", "c1"].allSatisfy { key in
                after.last { $0["composite_keys"]?.arrayValue?.first?.stringValue == key }?["metadata"]?.objectValue?["status"]?.stringValue == "scored"
            }
        }
        #expect(recovered, "c0 and c1 still not scored after \(next - 16) points each")
        #expect(h.stop() == 0)
    }

    @Test func hostileMessagesAreCountedDeadLetteredAndLoseNothing() throws {
        let h = try DaemonHarness(extraConfig: "windows: {max_message_bytes: 65536, max_future_s: 3600}") {
            try DaemonHarness.publishModel(store: $0, key: ["web"])
        }
        let future = "{\"key\":\"web\",\"timestamp\":9999999999999,\"metrics\":{\"cpu\":1,\"mem\":2}}"
        let late = point("web", 3, cpu: 1, mem: 2)
        var messages = Self.points("web", 0..<30)
        messages.append("MULTI 200 1000")                     // 200 frames of 1 KB: 200 KB, over the 64 KiB limit
        messages += Self.points("web", 30..<35)
        messages.append(late)                                 // older than the key's newest point
        messages.append(future)                               // 9999999999999: far beyond the wall clock
        messages.append("BIG 100000")                         // one 100 KB frame
        messages += Self.points("web", 35..<40)
        let outputs = try h.stream(messages, expect: 40, extraArguments: ["--dead-letter", h.endpoints["outputs.dead_letter"]!, "--dead-letters", "4"])
        // Every valid point answered, in order, around the hostile ones.
        #expect(outputs.count == 40)
        #expect(outputs.compactMap { $0["timestamp"]?.intValue } == (0..<40).map { DaemonHarness.t0 + Int64($0) * 60_000 })
        #expect(outputs.suffix(28).allSatisfy { $0["metadata"]?.objectValue?["status"]?.stringValue == "scored" })
        #expect(outputs.last?["metadata"]?.objectValue?["is_anomaly"]?.boolValue != nil)
        // Each rejection dead-lettered with its reason and the original message (or its first 16 KiB, flagged).
        let dead = Dictionary(grouping: h.deadLetters) { $0["reason"]?.stringValue ?? "" }
        #expect(dead["too_large"]?.count == 2 && dead["late"]?.count == 1 && dead["future"]?.count == 1, "\(h.deadLetters)")
        let multi = try #require(dead["too_large"]?.first { $0["meta"]?.objectValue?["bytes"]?.intValue == 200_000 })
        #expect(multi["meta"]?.objectValue?["truncated"]?.boolValue == true)
        let copied = (multi["frames"]?.arrayValue ?? []).compactMap { (v: JSONValue) in v.intValue }
        #expect(copied.reduce(0, +) == Int64(DeadLetter.copyBytes) && copied.count < 200, "\(copied.count) frames")
        #expect(dead["late"]?.first?["last"]?.stringValue == late && dead["late"]?.first?["meta"]?.objectValue?["truncated"]?.boolValue == false)
        #expect(dead["future"]?.first?["last"]?.stringValue == future)
        #expect(try h.metric("aeflow_points_rejected_total{reason=\"too_large\"}") == 2)
        #expect(try h.metric("aeflow_points_rejected_total{reason=\"future\"}") == 1)
        #expect(try h.metric("aeflow_points_rejected_total{reason=\"late\"}") == 1)
        // Outputs by status (only "scored" was scored); the history feed has no retrain stage: unconsumed, not dropped.
        #expect(try h.metric("aeflow_outputs_total{status=\"scored\"}") == 29 && h.metric("aeflow_outputs_total{status=\"warming_up\"}") == 11)
        // Every published output's latency is recorded (once its batch is sent), none twice.
        #expect(try h.metric("aeflow_score_latency_seconds_count") == 40)
        #expect(try h.metric("aeflow_history_forward_unconsumed_total") > 0 && h.metric("aeflow_history_forward_dropped_total") == 0)
        // HEAD answers like GET on the probe and scrape endpoints.
        #expect(try h.http("HEAD", "/metrics").0 == 200 && h.http("HEAD", "/healthz").0 == 200)
        #expect(h.stop() == 0)
    }

    /// A dead-letter consumer that connects and never reads: the daemon's queue for it stays bounded (drops are
    /// counted), its memory stays flat and every valid point is still answered.
    @Test func aConsumerThatNeverReadsCostsBoundedMemory() throws {
        let h = try DaemonHarness { try DaemonHarness.publishModel(store: $0, key: ["web"]) }
        let bad = "{\"key\":\"web\",\"timestamp\":\"soon\",\"metrics\":{\"cpu\":1},\"pad\":\"" + String(repeating: "x", count: 8000) + "\"}"
        let messages = Array(repeating: bad, count: 4000) + Self.points("web", 0..<20)
        let outputs = try h.stream(messages, expect: 20, extraArguments: ["--stall-dead-letter", h.endpoints["outputs.dead_letter"]!])
        #expect(outputs.count == 20)
        #expect(try h.metric("aeflow_points_rejected_total{reason=\"wrong_type\"}") == 4000)
        #expect(try h.metric("aeflow_outputs_dropped_total{output=\"dead_letter\"}") > 0)
        let status = try String(contentsOfFile: "/proc/\(h.daemon.pid)/status", encoding: .utf8)
        let rssKB = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }.flatMap { Int($0.split(separator: " ")[1]) } ?? .max
        #expect(rssKB < 400_000, "RSS \(rssKB) kB")
        #expect(h.stop() == 0)
    }

    /// A store whose LATEST for one key names a checkpoint with a spec of 10^12 units: the daemon starts, refuses
    /// and counts it, and serves the other keys.
    @Test func anOversizedSpecInTheStoreCostsOnlyItsKey() throws {
        let h = try DaemonHarness { store in
            try DaemonHarness.publishModel(store: store, key: ["web"])
            try DaemonHarness.publishModel(store: store, key: ["db"])
            let dir = store.keyDirectory(pipeline: "default", key: ["db"])
            var file = try SafeTensorsFile.read(contentsOf: "\(dir)/000001.safetensors")
            file.metadata["spec"] = file.metadata["spec"]!.replacingOccurrences(of: "\"seq_len\":12", with: "\"seq_len\":1000000000000")
            try Data(file.encoded()).write(to: URL(fileURLWithPath: "\(dir)/000002.safetensors"))
            try AtomicFile.write(Array("000002.safetensors\n".utf8), to: "\(dir)/LATEST")
        }
        let messages = Self.points("web", 0..<14) + Self.points("db", 0..<14)
        let outputs = try h.stream(messages, expect: 28)
        func status(_ key: String, _ i: Int) -> String? {
            let ts = DaemonHarness.t0 + Int64(i) * 60_000
            let o = outputs.first { (o: JSONObject) -> Bool in
                o["composite_keys"]?.arrayValue?.first?.stringValue == key && o["timestamp"]?.intValue == ts
            }
            return o?["metadata"]?.objectValue?["status"]?.stringValue
        }
        #expect(outputs.count == 28 && status("web", 13) == "scored" && status("db", 13) == "model_not_ready")
        #expect(try h.metric("aeflow_model_load_failures_total") >= 1)
        #expect(h.daemon.stderrLines.contains { $0.contains("msg=\"model version refused\"") && $0.contains("exceeds") })
        #expect(h.stop() == 0)
    }

    /// SIGTERM under a steady stream of 1,000-point arrays: reading stops at once, everything accepted is scored
    /// and published, and the process exits well inside a Kubernetes grace period.
    @Test func sigtermUnderAnArrayStreamExitsPromptlyLosingNothing() throws {
        guard TestPython.isAvailable else { Issue.record("no test Python at \(TestPython.path); run `make test-deps`"); return }
        let h = try DaemonHarness { try DaemonHarness.publishModel(store: $0, key: ["web"]) }
        let c = try LineProcess(TestPython.path, [TestPython.script("stream_client.py"), "--input", h.endpoints["inputs[0]"]!,
                                                  "--scores", h.endpoints["outputs.scores"]!, "--send", "-", "--expect", "0",
                                                  "--array-stream", "1000", "--key", "web"])
        #expect(c.waitForLine(containing: "STREAMING", inStderr: false, timeout: 30) != nil)
        // Wait until the daemon has scored a good amount (the stream is steady), then stop it.
        var scored = 0.0
        for _ in 0..<600 where scored < 20_000 {
            scored = try h.metric("aeflow_points_in_total")
            _ = c.waitForLine(containing: "never printed", inStderr: false, timeout: 0.05)
        }
        let signalled = Date()
        h.daemon.signal(SIGTERM)
        #expect(h.daemon.waitForExit(timeout: 60) == 0)
        let seconds = Date().timeIntervalSince(signalled)
        #expect(seconds < 5, "exit took \(seconds) s: \(h.daemon.stderrLines.suffix(8).joined(separator: " | "))")
        c.signal(SIGUSR1)
        #expect(c.waitForExit(timeout: 30) == 0)
        let drained = try #require(h.daemon.stderrLines.last { $0.contains("msg=\"scoring drained\"") })
        let fields = Dictionary(uniqueKeysWithValues: drained.split(separator: " ").compactMap { f -> (String, String)? in
            let kv = f.split(separator: "=", maxSplits: 1).map(String.init)
            return kv.count == 2 ? (kv[0], kv[1]) : nil
        })
        let accepted = try #require(Int(fields["accepted"] ?? ""))
        #expect(accepted >= 20_000 && fields["published"] == String(accepted), "\(drained)")
        let received = c.stdoutLines.last { $0.hasPrefix("DONE ") }.flatMap { Int($0.dropFirst(5)) }
        #expect(received == accepted, "accepted \(accepted), received \(received ?? -1)")
    }
}

/// Restarts that lose nothing (a real process restarted on the same store and config).
@Suite(.serialized) struct RestartEndToEndTests {
    static let keys = (0..<10).map { "k\($0)" }

    @Test func storedModelsServeAtOnceAndWindowsSurviveARestart() throws {
        // k9's checkpoint carries no score.* tensors (ARCHITECTURE.md §3): it loads and scores like the others.
        let h = try DaemonHarness { store in for k in Self.keys { try DaemonHarness.publishModel(store: store, key: [k], scoreStatistics: k != "k9") } }
        // A burst right after "ready": every key's full window is scored by its stored model; nothing is requested.
        var burst: [String] = []
        for i in 0..<12 { burst += Self.keys.map { k in point(k, i, cpu: 50 + Float(i % 5), mem: 200) } }
        let first = try h.stream(burst, expect: burst.count)
        let scored = first.filter { $0["metadata"]?.objectValue?["status"]?.stringValue == "scored" }
        #expect(scored.count == Self.keys.count, "the 12th point of every key is scored: \(first.count) outputs")
        #expect(scored.allSatisfy { $0["metadata"]?.objectValue?["model_version"]?.intValue == 1 })
        #expect(h.trainRequests.isEmpty, "no train request while a model sits in the store")
        // SIGTERM and restart: the next point of every key is scored, not warming_up.
        #expect(try h.restart() == 0)
        // Each scoring worker restores its own keys (one line each).
        let restored = h.daemon.stderrLines.filter { $0.contains("msg=\"windows restored\"") }.compactMap { line in
            line.split(separator: " ").first { $0.hasPrefix("keys=") }.flatMap { Int($0.dropFirst(5)) }
        }
        #expect(!restored.isEmpty && restored.reduce(0, +) == 10, "\(restored)")
        // A scoring request for k0 (a wild value) leaves its live window alone: k0 and k1 see identical streams and
        // have identical models, so their next streamed scores must be equal.
        let (code, _) = try h.http("POST", "/v1/score", body: point("k0", 12, cpu: 5000, mem: 200))
        #expect(code == 200)
        let next = try h.stream(Self.keys.map { k in point(k, 12, cpu: 52, mem: 200) }, expect: Self.keys.count)
        #expect(next.count == 10 && next.allSatisfy { $0["metadata"]?.objectValue?["status"]?.stringValue == "scored" }, "\(next)")
        let score = { (k: String) in next.first { $0["composite_keys"]?.arrayValue?.first?.stringValue == k }?["unified_anomaly"]?.doubleValue }
        #expect(score("k0") != nil && score("k0") == score("k1"), "k0 \(score("k0") ?? -1), k1 \(score("k1") ?? -1)")
        #expect(h.stop() == 0)
    }
}
