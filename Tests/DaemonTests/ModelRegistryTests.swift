import Logging
import Scoring
@testable import Stage
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

/// The loader's safety-net re-read, spread over its period (a value type: ticks are given, no clock or thread).
@Suite struct RecheckScheduleTests {
    /// 10,000 watched keys, a 30 s period, 50 ms ticks: every key once a period, about 17 a tick, never a burst.
    @Test func everyKeyOnceAPeriodInSmallShares() {
        var schedule = RecheckSchedule<Int>(period: 30)
        let keys = Array(0..<10_000)
        var seen: [Int: Int] = [:], largest = 0
        #expect(schedule.due(at: 0, watched: { keys }, isWatched: { _ in true }).isEmpty, "the first tick starts the clock")
        for tick in 1...600 {
            let due = schedule.due(at: Double(tick) * 0.05, watched: { keys }, isWatched: { _ in true })
            largest = max(largest, due.count)
            for k in due { seen[k, default: 0] += 1 }
        }
        #expect(seen.count == 10_000 && seen.values.allSatisfy { $0 == 1 })
        #expect(largest <= 17, "at most 10,000 × 0.05 / 30 (16.7) a tick, got \(largest)")
    }

    /// A stalled loader (a long gap between ticks) re-reads the keys once, not once per period missed; keys no
    /// longer watched are skipped, and keys watched after a round began wait for the next round.
    @Test func stallsUnwatchedAndNewKeys() {
        var schedule = RecheckSchedule<Int>(period: 10)
        var watched = Set(0..<100)
        func tick(_ t: Double) -> [Int] { schedule.due(at: t, watched: { watched.sorted() }, isWatched: { watched.contains($0) }) }
        #expect(tick(0).isEmpty)
        #expect(tick(1_000) == Array(0..<100), "one round after a stall of a hundred periods")
        #expect(tick(1_001).isEmpty, "a new round starts")
        #expect(tick(1_006) == Array(0..<50), "half the period, half the keys")
        watched = Set((0..<100).filter { $0 % 2 == 1 }).union([500])
        #expect(tick(1_011) == (50..<100).filter { $0 % 2 == 1 }, "unwatched keys skipped, the new one not in this round")
        #expect(tick(1_012).isEmpty)
        #expect(tick(1_022) == (0..<100).filter { $0 % 2 == 1 } + [500])
    }
}
