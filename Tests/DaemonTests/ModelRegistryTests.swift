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
}
