import Logging
import Scoring
import Stage
import Testing
import TestSupport

/// `store.max_models`: the registry's cache of models (and of keys known to have none) stays within its
/// capacity under churn through far more keys, evicting the least recently used.
@Suite struct ModelRegistryTests {
    @Test func churnThroughManyMoreKeysThanMaxModelsStaysBoundedAndKeepsTheBusyKey() throws {
        let dir = try TemporaryDirectory(prefix: "aeflow-lru")
        let registry = ModelRegistry(store: CheckpointStore(root: dir.file("models")), capacity: 64, pollInterval: 1,
                                     requirements: [:], metrics: ScoringMetrics(), logger: Logger(label: "test"))
        let busy = ModelID(pipelineID: "p", key: ["busy"])
        var largest = 0
        for i in 0..<5_000 {
            let now = Double(i)
            _ = registry.lookup(ModelID(pipelineID: "p", key: ["k\(i)"]), now: now)
            if i % 8 == 0 { _ = registry.lookup(busy, now: now) }
            if i % 50 == 0 { largest = max(largest, registry.listing().count) }
        }
        #expect(largest <= 64 && largest > 32, "cache sizes seen: up to \(largest)")
        let ids = Set(registry.listing().map(\.id))
        #expect(ids.contains(busy), "the key used every 8th point stays")
        #expect(ids.contains(ModelID(pipelineID: "p", key: ["k4999"])), "the newest key is there")
        #expect(!ids.contains(ModelID(pipelineID: "p", key: ["k0"])), "the oldest is gone")
    }

    /// Two workers' registries share one capacity: together they stay within it, and a worker that owns most
    /// of the live keys grows past an even half (the other's models stay until it evicts for a new key of its own).
    @Test func workersShareTheCapacity() throws {
        let dir = try TemporaryDirectory(prefix: "aeflow-lru-shared")
        let budget = KeyBudget(limit: 64, pipelines: 1)
        let registries = (0..<2).map {
            ModelRegistry(store: CheckpointStore(root: dir.file("models")), capacity: 64, pollInterval: 1, requirements: [:],
                          metrics: ScoringMetrics(), logger: Logger(label: "test"), shard: KeyShard(index: $0, count: 2), budget: budget)
        }
        var largest = 0
        for i in 0..<5_000 {
            let key = ["k\(i)"]
            _ = registries[KeyShard.of(key, count: 2)].lookup(ModelID(pipelineID: "p", key: key), now: Double(i))
            largest = max(largest, registries[0].listing().count + registries[1].listing().count)
        }
        #expect(largest <= 64 && budget.used(0) == registries[0].listing().count + registries[1].listing().count)
        // Only worker 1's keys from now on.
        var i = 5_000, fed = 0
        while fed < 500 {
            let key = ["k\(i)"]
            i += 1
            guard KeyShard.of(key, count: 2) == 1 else { continue }
            _ = registries[1].lookup(ModelID(pipelineID: "p", key: key), now: Double(i))
            fed += 1
        }
        let before = registries[0].listing().count
        #expect(registries[1].listing().count > 32 && registries[1].listing().count + before >= 56, "worker 1 holds \(registries[1].listing().count)")
        #expect(registries[0].listing().count + registries[1].listing().count <= 64)
    }
}
