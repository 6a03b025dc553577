import Foundation
@testable import Daemon
import Logging
import Scoring
import Stage
import Testing
import TestSupport
import TensorCore
import ZMQ

/// `windows.workers`: keys are sharded over scoring workers by a stable hash; each worker owns its keys'
/// windows and models. What the daemon answers does not depend on the worker count, except that keys on
/// different workers interleave (each key keeps its order).
@Suite struct ScoringWorkersTests {
    @Test func keysHashStablyAndEvenly() {
        // Pinned: a publisher or a tool may compute the same shard (FNV-1a + fmix64; README "Scaling").
        let pinned: [Int] = [KeyShard.of(["web"], count: 7), KeyShard.of(["a", "b"], count: 7), KeyShard.of(["ab"], count: 7),
                             KeyShard.of(["é"], count: 7), KeyShard.of([], count: 7)]
        #expect(pinned == [6, 5, 0, 3, 1])
        var counts = [0, 0, 0, 0]
        for i in 0..<10_000 { counts[KeyShard.of(["k\(i)"], count: 4)] += 1 }
        #expect(counts.allSatisfy { (2_300...2_700).contains($0) }, "\(counts)")
        #expect((0..<100).allSatisfy { KeyShard.of(["k\($0)"], count: 1) == 0 })
        let shard = KeyShard(index: KeyShard.of(["web"], count: 3), count: 3)
        #expect(shard.owns(["web"]) && shard.holdsModel(of: ["web"]) && shard.holdsModel(of: []))
        let other = KeyShard(index: (shard.index + 1) % 3, count: 3)
        #expect(!other.owns(["web"]) && !other.holdsModel(of: ["web"]) && other.holdsModel(of: []))
    }

    @Test func storeDirectoryNamesGiveTheirKeysBack() {
        for key: [String] in [["web"], ["a b", "c/d"], ["", "x"], ["../etc"], ["é+%"], [], ["%"], ["+"], ["a", ""]] {
            #expect(CheckpointStore.key(fromDirectoryName: CheckpointStore.directoryName(key)) == key, "\(key)")
        }
        // Cut and hashed names, and names the encoder never makes, give no key.
        #expect(CheckpointStore.key(fromDirectoryName: CheckpointStore.directoryName([String(repeating: "x", count: 300)])) == nil)
        for name in ["a%zz", "a%4", "%41", "a.b", "%FF", ""] { #expect(CheckpointStore.key(fromDirectoryName: name) == nil, "\(name)") }
    }

    /// A large round of messages decoded on several threads gives exactly what one thread gives, in order.
    @Test func parallelDecodeKeepsTheRoundsOrder() throws {
        let runtime = try DaemonRuntime(config: try Self.config(workers: 3), logger: Logger(label: "t"))
        var round: [(frames: [[UInt8]], arrival: Double)] = []
        for i in 0..<2_000 {
            let body = i % 97 == 0 ? "{not json" : i % 5 == 0 ? "[" + point("a\(i)", i, cpu: 1, mem: 2) + "," + point("b\(i)", i, cpu: 3, mem: 4) + "]"
                : point("k\(i % 13)", i, cpu: Float(i), mem: 1)
            round.append(([Array(body.utf8)], Double(i)))
        }
        func summary(_ o: Ingest.Outcome) -> String {
            switch o {
            case .rejected(let r): "rejected \(r.reason)"
            case .window(let w): "window \(w.key)"
            case .points(let ps, let refused): ps.map { "\($0.key) \($0.timestamp) \($0.values) \($0.arrival)" }.joined(separator: ";") + " \(refused.count)"
            }
        }
        let parallel = runtime.decode(round).map(summary)
        let sequential = round.map { summary(runtime.ingest($0.frames[0], arrival: $0.arrival, source: $0.frames)) }
        #expect(parallel.count == 2_000 && parallel == sequential)
        #expect(parallel.filter { $0.hasPrefix("rejected") }.count == 21)
    }

    static func config(workers: Int, maxKeys: Int = 100_000) throws -> AEFlowConfig {
        let yaml = DaemonHarness.config(store: "/nonexistent-store", extra: "windows: {workers: \(workers), snapshot_path: null, max_keys: \(maxKeys)}")
        return try AEFlowConfig.read(try YAMLDocument.parse(yaml, source: "test.yaml"), source: "test.yaml")
    }

    static func engines(_ config: AEFlowConfig, count: Int) -> [ScoringEngine] {
        let metrics = ScoringMetrics(), router = PointRouter(config: config)
        let budget = KeyBudget(limit: config.windows.maxKeys, pipelines: router.targets.count)
        return (0..<count).map {
            let shard = KeyShard(index: $0, count: count)
            return ScoringEngine(config: config, router: router, models: ModelRegistry(config: config, metrics: metrics, logger: Logger(label: "t"), shard: shard),
                                 metrics: metrics, logger: Logger(label: "t"), seed: 1, shard: shard, keyBudget: budget)
        }
    }

    /// `windows.max_keys` holds over all workers together, and a worker that owns more of the live keys holds more.
    @Test func maxKeysIsSharedByTheWorkers() throws {
        let config = try Self.config(workers: 2, maxKeys: 10)
        let ingest = Ingest(config: config)
        let two = Self.engines(config, count: 2)
        func feed(_ key: String) throws {
            guard case .points(let r, _) = ingest(Array(point(key, 0, cpu: 1, mem: 1).utf8), arrival: 0) else { throw DaemonHarness.HarnessError(key) }
            _ = two[KeyShard.of([key], count: 2)].process(r, now: 1)
        }
        for i in 0..<500 { try feed("k\(i)") }
        #expect(two[0].keyCount + two[1].keyCount == 10, "\(two[0].keyCount) + \(two[1].keyCount)")
        // Only keys of worker 0 from now on: it ends up with all ten.
        for key in (500..<5_000).map({ "k\($0)" }).filter({ KeyShard.of([$0], count: 2) == 0 }).prefix(50) { try feed(key) }
        #expect(two[0].keyCount == 10 - two[1].keyCount || two[0].keyCount + two[1].keyCount == 10)
        #expect(two[0].keyCount >= 5)
        // Idle keys expire and give their room back.
        for e in two { e.expire(now: 1e9) }
        #expect(two[0].keyCount + two[1].keyCount == 0)
        for i in 0..<10 { try feed("n\(i)") }
        #expect(two[0].keyCount + two[1].keyCount == 10)
    }

    /// A snapshot written by two workers is read back whole by one worker and by three: every key lands on
    /// the worker that owns it under the new count, with its full window.
    @Test func snapshotsMoveBetweenWorkerCounts() throws {
        let config = try Self.config(workers: 2)
        let ingest = Ingest(config: config)
        func routed(_ key: [String], _ i: Int) throws -> [RoutedPoint] {
            guard case .points(let r, let refused) = ingest(Array(point(key[0], i, cpu: 1, mem: Float(i)).utf8), arrival: 0), refused.isEmpty else {
                throw DaemonHarness.HarnessError("\(key) did not route")
            }
            return r
        }
        let two = Self.engines(config, count: 2)
        let keys = (0..<50).map { ["h\($0)"] }
        for i in 0..<12 {
            var shares: [[RoutedPoint]] = [[], []]
            for key in keys {
                shares[KeyShard.of(key, count: 2)] += try routed(key, i)
            }
            for w in 0..<2 { _ = two[w].process(shares[w], now: 1) }
        }
        #expect(two[0].keyCount > 0 && two[1].keyCount > 0 && two[0].keyCount + two[1].keyCount == 50)
        let bytes = ScoringEngine.snapshot(of: two)
        let one = Self.engines(config, count: 1)[0]
        #expect(try one.restore(bytes).keys == 50)
        let three = Self.engines(config, count: 3)
        let reports = try three.map { try $0.restore(bytes) }
        #expect(reports.map(\.keys).reduce(0, +) == 50 && reports.allSatisfy { $0.keys + $0.otherWorkers == 50 })
        for (w, e) in three.enumerated() { #expect(e.keyCount == keys.filter { KeyShard.of($0, count: 3) == w }.count) }
        // The next point of every key finds its whole window (no model: model_not_ready, not warming_up).
        for key in keys {
            let e = three[KeyShard.of(key, count: 3)].process(try routed(key, 12), now: 2)
            guard case .score(_, _, _, let status, _) = e.first else { Issue.record("no score for \(key)"); continue }
            #expect(status == .modelNotReady, "\(key)")
        }
    }

    /// Each worker's registry reads only its own keys' models from the store (and every pipeline-wide one),
    /// including a key whose directory name is hashed (it learns the key from the checkpoint).
    @Test func eachWorkerPreloadsItsOwnKeysModels() throws {
        let dir = try TemporaryDirectory(prefix: "aeflow-shard-preload")
        let store = CheckpointStore(root: dir.file("models"), keepVersions: 5)
        let keys = (0..<6).map { ["h\($0)"] } + [[String(repeating: "long", count: 80)], []]
        try DaemonHarness.publishModel(store: store, keys: keys)
        var config = try Self.config(workers: 2)
        config.store.path = store.root
        let metrics = ScoringMetrics()
        var held: [Set<ModelID>] = []
        for w in 0..<2 {
            let registry = ModelRegistry(config: config, metrics: metrics, logger: Logger(label: "t"), shard: KeyShard(index: w, count: 2))
            registry.start()
            #expect(registry.waitForPreload(timeout: 60))
            registry.applyLoaderResults()
            held.append(Set(registry.listing().filter { $0.status == "ready" }.map(\.id)))
            registry.stop()
        }
        for w in 0..<2 {
            let expected = Set(keys.filter { $0.isEmpty || KeyShard.of($0, count: 2) == w }.map { ModelID(pipelineID: "default", key: $0) })
            #expect(held[w] == expected, "worker \(w)")
        }
        #expect(LocalHTTP.sample("aeflow_models_loaded", in: String(decoding: metrics.exposition(), as: UTF8.self)) == Double(held[0].count + held[1].count))
    }

    /// The same stream through one worker and through three, and paced through two (a point a message, and arrays
    /// over every worker's keys): per key the same statuses and scores (within float rounding: a batch's size changes
    /// its summation order) in the same order, every point answered once; an HTTP request over keys of every worker
    /// is answered in its own order.
    @Test func theWorkerCountChangesNoAnswer() throws {
        let modelKeys = (0..<6).map { ["m\($0)"] }
        var rng = RandomGenerator(seed: 11)
        var messages: [String] = []
        // The same points a step to a message (an array over every worker's keys), the window payload on its own.
        var groupedMessages: [String] = []
        // 800 messages: rounds of more than 512 are decoded on several threads (DaemonRuntime.decode) by the three-worker daemon.
        for i in 0..<100 {
            let r = DaemonHarness.row(i, noise: &rng)
            let step = (0..<8).map { k in point(k < 6 ? "m\(k)" : "cold\(k)", i, cpu: r.cpu + Float(k), mem: r.mem) }
            messages += step
            groupedMessages.append("[" + step.joined(separator: ",") + "]")
            // A whole-window payload for m1 among its points (timestamps of points i-11 … i): its output comes after the
            // outputs of the points before it, though it is routed apart from them (the per-key order checks below).
            if i == 60 {
                let rows = (49...60).map { j in "{\"timestamp\":\(DaemonHarness.t0 + Int64(j) * 60_000),\"cpu\":\(50 + j % 7),\"mem\":200}" }
                messages.append("{\"uuid\":\"w\",\"composite_keys\":[\"m1\"],\"data\":[\(rows.joined(separator: ","))]}")
                groupedMessages.append(messages[messages.count - 1])
            }
        }
        let preview = "[" + (0..<8).map { point($0 < 6 ? "m\($0)" : "cold\($0)", 100, cpu: 80, mem: 150) }.joined(separator: ",") + "]"
        #expect(Set(modelKeys.map { KeyShard.of($0, count: 3) }).count == 3, "the keys span every worker")
        func run(workers: Int, paced: Bool = false, grouped: Bool = false) throws -> (perKey: [String: [String]], preview: [String], models: Int, inPlace: Double) {
            let h = try DaemonHarness(extraConfig: "windows: {workers: \(workers)}") { try DaemonHarness.publishModel(store: $0, keys: modelKeys) }
            #expect(h.daemon.waitForLine(containing: "workers=\(workers)", timeout: 10) != nil)
            let outputs = try h.stream(grouped ? groupedMessages : messages, expect: messages.count, extraArguments: paced ? ["--rate-per-s", grouped ? "500" : "2000"] : [])
            #expect(outputs.count == messages.count)
            let inPlace = try h.metric("aeflow_points_scored_in_place_total")
            var perKey: [String: [String]] = [:]
            for o in outputs {
                let meta = o["metadata"]!.objectValue!
                let line = "\(o["timestamp"]!.intValue!) \(meta["status"]!.stringValue!) \(o["unified_anomaly"]?.doubleValue ?? -1)"
                perKey[o["composite_keys"]!.arrayValue![0].stringValue!, default: []].append(line)
            }
            let (code, body) = try h.http("POST", "/v1/score", body: preview)
            #expect(code == 200, "\(body)")
            let answered = try JSONValue.parse(body).arrayValue ?? []
            let previewKeys = answered.map { $0.objectValue!["composite_keys"]!.arrayValue![0].stringValue! + " " + $0.objectValue!["metadata"]!.objectValue!["status"]!.stringValue! }
            let models = Int(try h.metric("aeflow_models_loaded"))
            #expect(try h.metric("aeflow_keys") == 8)
            let (_, listing) = try h.http("GET", "/v1/models")
            #expect(modelKeys.allSatisfy { listing.contains("\"\($0[0])\"") }, "\(listing)")
            #expect(h.stop() == 0)
            return (perKey, previewKeys, models, inPlace)
        }
        // Sent at once, most rounds are large and go to the workers; paced, most are a message each and are scored by
        // the ingest thread in place (SharePlacement), between the workers' own batches.
        // Paced arrays of every worker's keys: a round's shares are scored in place one after another and their
        // scores sent together once the round is scored.
        let one = try run(workers: 1), three = try run(workers: 3), paced = try run(workers: 2, paced: true)
        let pacedArrays = try run(workers: 2, paced: true, grouped: true)
        for (name, r) in [("paced", paced), ("paced arrays", pacedArrays)] {
            #expect(r.inPlace > 0, "the \(name) stream was scored in place, at least in part")
            #expect(r.inPlace < Double(messages.count + 8), "no point counted twice (\(name))")
        }
        #expect(one.perKey.count == 8 && one.perKey.allSatisfy { $0.value.count == ($0.key == "m1" ? 101 : 100) })
        #expect(one.perKey["m1"]?.filter { $0.hasPrefix("\(DaemonHarness.t0 + 60 * 60_000) scored") }.count == 2, "the point and the window of minute 60")
        func fields(_ lines: [String]?) -> [(time: Int64, status: String, score: Double)] {
            (lines ?? []).map { let f = $0.split(separator: " "); return (Int64(f[0])!, String(f[1]), Double(f[2])!) }
        }
        for (key, lines) in one.perKey {
            let a = fields(lines)
            #expect(a.map(\.time) == a.map(\.time).sorted(), "\(key) in order")
            for (name, other) in [("three workers", three.perKey[key]), ("paced", paced.perKey[key]), ("paced arrays", pacedArrays.perKey[key])] {
                let b = fields(other)
                #expect(a.map(\.time) == b.map(\.time) && a.map(\.status) == b.map(\.status), "\(key), \(name)")
                #expect(zip(a, b).allSatisfy { abs($0.score - $1.score) <= 1e-5 * max(1, abs($0.score)) }, "\(key), \(name)")
                #expect(b.map(\.time) == b.map(\.time).sorted(), "\(key) in order, \(name)")
            }
        }
        #expect(try #require(one.perKey["m0"]?.last).contains(" scored "))
        #expect(one.preview == (0..<8).map { $0 < 6 ? "m\($0) scored" : "cold\($0) model_not_ready" })
        #expect(three.preview == one.preview && paced.preview == one.preview && pacedArrays.preview == one.preview)
        #expect(one.models == 6 && three.models == 6 && paced.models == 6 && pacedArrays.models == 6)
    }

    /// The ingest thread scores a share itself only when that can neither reorder a key (its worker is idle and has
    /// nothing queued) nor hold the input up long (a small share), and only once the worker's engine is ready.
    @Test func aShareIsScoredInPlaceOnlyWhenItsWorkerIsIdleAndEmpty() {
        #expect(SharePlacement.of(points: 1, roomFree: true, queueEmpty: true, engineReady: true) == .inPlace)
        #expect(SharePlacement.of(points: SharePlacement.inPlaceLimit, roomFree: true, queueEmpty: true, engineReady: true) == .inPlace)
        #expect(SharePlacement.of(points: SharePlacement.inPlaceLimit + 1, roomFree: true, queueEmpty: true, engineReady: true) == .queued)
        #expect(SharePlacement.of(points: 0, roomFree: true, queueEmpty: true, engineReady: true) == .queued)
        #expect(SharePlacement.of(points: 1, roomFree: false, queueEmpty: true, engineReady: true) == .queued, "the worker is scoring")
        #expect(SharePlacement.of(points: 1, roomFree: true, queueEmpty: false, engineReady: true) == .queued, "older points of its keys wait")
        #expect(SharePlacement.of(points: 1, roomFree: true, queueEmpty: true, engineReady: false) == .queued, "the worker is still starting")
    }
}

/// The input thread serves one input socket or several (`zmq_poll` over all of them): every point sent on any input is
/// answered once, each key in order (in process, real sockets).
@Suite struct InputWaitTests {
    @Test(arguments: [1, 2])
    func everyPointOfEveryInputIsAnswered(inputs: Int) throws {
        let dir = try TemporaryDirectory()
        let one = #"inputs: [{endpoint: "tcp://127.0.0.1:0", type: pull, bind: true}]"#
        let many = "inputs: [" + Array(repeating: #"{endpoint: "tcp://127.0.0.1:0", type: pull, bind: true}"#, count: inputs).joined(separator: ", ") + "]"
        let yaml = DaemonHarness.config(store: dir.file("models"), extra: "windows: {snapshot_path: null}").replacingOccurrences(of: one, with: many)
        let config = try AEFlowConfig.read(try YAMLDocument.parse(yaml, source: "test.yaml"), source: "test.yaml")
        #expect(config.inputs.count == inputs)
        let runtime = try DaemonRuntime(config: config, logger: Logger(label: "t"))
        try runtime.start()
        let context = try ZMQContext()
        defer { context.shutdown() }
        let scores = try ZMQSocket(context, .pull)
        try scores.setReceiveTimeout(20_000)
        try scores.connect(try #require(runtime.endpoints["outputs.scores"]))
        var senders: [ZMQSocket] = []
        for i in 0..<inputs {
            let s = try ZMQSocket(context, .push)
            try s.connect(try #require(runtime.endpoints["inputs[\(i)]"]))
            senders.append(s)
        }
        // Keys k0…k5, 30 points each; key k belongs to input k % inputs, so each key's points arrive in order.
        for step in 0..<30 {
            for k in 0..<6 { try senders[k % inputs].send(point("k\(k)", step, cpu: Float(step), mem: 1)) }
        }
        var seen: [String: [Int64]] = [:]
        for _ in 0..<180 {
            let body = try scores.receive()
            let o = try #require(JSONValue.parse(body[body.count - 1]).objectValue)
            seen[o["composite_keys"]!.arrayValue![0].stringValue!, default: []].append(o["timestamp"]!.intValue!)
        }
        runtime.stop()
        for s in senders { s.close() }
        scores.close()
        #expect(seen.count == 6)
        for (key, stamps) in seen { #expect(stamps == (0..<30).map { DaemonHarness.t0 + Int64($0) * 60_000 }, "\(key)") }
    }
}
