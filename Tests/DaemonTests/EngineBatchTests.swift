import Foundation
import Logging
import Scoring
import Stage
import Testing
import TestSupport
import TensorCore

/// How the scoring engine splits a batch among models — one key's many windows as one batch for its model, the
/// single windows of many keys' models in one stacked pass, keys without a model, a key several times — changes
/// no answer: the same points one at a time give the same outputs.
@Suite struct EngineBatchTests {
    @Test func aBatchIsAnsweredAsItsPointsOneByOne() throws {
        let dir = try TemporaryDirectory(prefix: "aeflow-engine-batch")
        let store = CheckpointStore(root: dir.file("models"), keepVersions: 5)
        let modelKeys = (0..<6).map { ["m\($0)"] }
        try DaemonHarness.publishModel(store: store, keys: modelKeys)
        var config = try ScoringWorkersTests.config(workers: 1)
        config.store.path = store.root
        let ingest = Ingest(config: config)
        let metrics = ScoringMetrics()
        func engine() -> (ScoringEngine, ModelRegistry) {
            let registry = ModelRegistry(config: config, metrics: metrics, logger: Logger(label: "t"))
            registry.start()
            return (ScoringEngine(config: config, router: ingest.router, models: registry, metrics: metrics, logger: Logger(label: "t"), seed: 1), registry)
        }
        let (batched, r1) = engine(), (alone, r2) = engine()
        defer { r1.stop(); r2.stop() }
        #expect(r1.waitForPreload(timeout: 60) && r2.waitForPreload(timeout: 60))

        var rng = RandomGenerator(seed: 5)
        var step = [String: Int]()
        func next(_ key: String) throws -> [RoutedPoint] {
            let i = step[key, default: 0]
            step[key] = i + 1
            let r = DaemonHarness.row(i, noise: &rng)
            let text = "{\"key\":\"\(key)\",\"timestamp\":\(DaemonHarness.t0 + Int64(i) * 60_000),\"uuid\":\"\(key)-\(i)\","
                + "\"metrics\":{\"cpu\":\(r.cpu + (i == 20 ? 40 : 0)),\"mem\":\(r.mem)}}"
            guard case .points(let ps, let refused) = ingest(Array(text.utf8), arrival: 0), refused.isEmpty else { throw DaemonHarness.HarnessError(text) }
            return ps
        }
        // Batches: every key warming up together; then m0 with 10 points (more than a stacked pass takes) among the
        // others' one or two and a key without a model; then one point of each.
        var batches: [[RoutedPoint]] = []
        let keys = modelKeys.map(\.[0]) + ["cold"]
        for _ in 0..<11 { batches.append(try keys.flatMap { try next($0) }) }
        var mixed: [RoutedPoint] = []
        for j in 0..<10 {
            mixed += try next("m0")
            if j < keys.count - 1 { mixed += try next(keys[j + 1]) }
            if j == 3 || j == 7 { mixed += try next("m2") }
        }
        batches.append(mixed)
        for _ in 0..<3 { batches.append(try keys.flatMap { try next($0) }) }

        var byBatch: [String: JSONValue] = [:], byPoint: [String: JSONValue] = [:]
        func collect(_ emissions: [Emission], into answers: inout [String: JSONValue]) throws {
            for e in emissions {
                guard case .score(_, let body, _, _, _) = e else { continue }
                let o = try JSONValue.parse(body)
                answers[o.objectValue!["uuid"]!.stringValue!] = o
            }
        }
        for (n, b) in batches.enumerated() {
            try collect(batched.process(b, now: Double(n)), into: &byBatch)
            for p in b { try collect(alone.process([p], now: Double(n)), into: &byPoint) }
        }
        let points = batches.reduce(0) { $0 + $1.count }
        #expect(byBatch.count == points && byPoint.count == points)
        var scored = 0
        for (uuid, a) in byBatch {
            let b = try #require(byPoint[uuid])
            let (ma, mb) = (a.objectValue!["metadata"]!.objectValue!, b.objectValue!["metadata"]!.objectValue!)
            #expect(ma["status"] == mb["status"] && ma["model_version"] == mb["model_version"], "\(uuid)")
            #expect(a.objectValue!["timestamp"] == b.objectValue!["timestamp"], "\(uuid)")
            if ma["status"]?.stringValue == "scored" { scored += 1 }
            // Within float rounding: ten windows of one model go through one batched product.
            let (ua, ub) = (a.objectValue!["unified_anomaly"]?.doubleValue, b.objectValue!["unified_anomaly"]?.doubleValue)
            #expect((ua == nil) == (ub == nil), "\(uuid)")
            if let ua, let ub { #expect(abs(ua - ub) <= 1e-4 * max(1, abs(ub)), "\(uuid): \(ua) batched, \(ub) alone") }
        }
        // Every model key's points from the twelfth on were scored (the mixed batch's ones included); "cold" never.
        #expect(scored == points - 11 * keys.count - (step["cold"]! - 11))
    }
}
