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
        let registry = ModelRegistryTests.emptyStore(capacity: 64, in: dir)
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

    /// A registry over the empty store in `dir` (one worker's alone unless `shard` and `budget` say otherwise).
    static func emptyStore(capacity: Int, in dir: TemporaryDirectory, shard: KeyShard = .whole, budget: KeyBudget? = nil) -> ModelRegistry {
        ModelRegistry(store: CheckpointStore(root: dir.file("models")), capacity: capacity, pollInterval: 1, requirements: [:],
                      metrics: ScoringMetrics(), logger: Logger(label: "test"), shard: shard, budget: budget)
    }

    /// Two scoring workers' registries over one store, sharing `capacity` through their budget.
    static func twoWorkers(capacity: Int, in dir: TemporaryDirectory) -> ([ModelRegistry], KeyBudget) {
        let budget = KeyBudget(limit: capacity, pipelines: 1)
        let registries = (0..<2).map { emptyStore(capacity: capacity, in: dir, shard: KeyShard(index: $0, count: 2), budget: budget) }
        return (registries, budget)
    }

    /// A worker whose keys went quiet gives its share of the capacity back: the other worker's new keys are kept (up
    /// to its even share) instead of evicting each other at every point.
    @Test func aQuietWorkersModelsMakeRoomForTheOthersKeys() throws {
        let dir = try TemporaryDirectory(prefix: "aeflow-lru-rebalance")
        let (registries, budget) = Self.twoWorkers(capacity: 4, in: dir)
        var i = 0
        func newID(of worker: Int) -> ModelID {
            while true {
                let key = ["k\(i)"]
                i += 1
                if KeyShard.of(key, count: 2) == worker { return ModelID(pipelineID: "p", key: key) }
            }
        }
        for t in 0..<4 { _ = registries[0].lookup(newID(of: 0), now: Double(t)) }
        let (a, b) = (newID(of: 1), newID(of: 1))
        _ = registries[1].lookup(a, now: 10)
        _ = registries[1].lookup(b, now: 11)
        #expect(Set(registries[1].listing().map(\.id)) == [a, b], "worker 1 keeps its two keys")
        #expect(budget.used(0) == 6)
        registries[0].rebalance()
        #expect(registries[0].listing().count == 2 && budget.used(0) == 4, "worker 0 gave back what it held over its share")
        registries[1].rebalance()
        #expect(registries[1].listing().count == 2, "at its share: nothing to give")
        let c = newID(of: 1)
        _ = registries[1].lookup(c, now: 12)
        #expect(Set(registries[1].listing().map(\.id)) == [b, c] && budget.used(0) == 4, "over its share it evicts its own oldest")
    }

    /// Two workers' registries share one capacity: together they stay within it, and a worker whose keys went quiet
    /// gives back what it holds over its even share to the worker whose keys are live.
    @Test func workersShareTheCapacity() throws {
        let dir = try TemporaryDirectory(prefix: "aeflow-lru-shared")
        let (registries, budget) = Self.twoWorkers(capacity: 64, in: dir)
        var largest = 0
        for i in 0..<5_000 {
            let key = ["k\(i)"]
            _ = registries[KeyShard.of(key, count: 2)].lookup(ModelID(pipelineID: "p", key: key), now: Double(i))
            largest = max(largest, registries[0].listing().count + registries[1].listing().count)
        }
        #expect(largest <= 64 && budget.used(0) == registries[0].listing().count + registries[1].listing().count)
        // Only worker 1's keys from now on; worker 0, idle, rebalances now and then (as its scoring loop does).
        var i = 5_000, fed = 0
        while fed < 500 {
            let key = ["k\(i)"]
            i += 1
            guard KeyShard.of(key, count: 2) == 1 else { continue }
            _ = registries[1].lookup(ModelID(pipelineID: "p", key: key), now: Double(i))
            fed += 1
            if fed % 50 == 0 { registries[0].rebalance() }
        }
        let (quiet, busy) = (registries[0].listing().count, registries[1].listing().count)
        // Each within a sixteenth of its even share (32): the idle worker gives back only while the total is over.
        #expect(quiet <= 34 && busy >= 30 && quiet + busy >= 56, "worker 0 holds \(quiet), worker 1 \(busy)")
        #expect(quiet + busy <= 64)
    }
}

/// A key whose model the start-up preload read is watched from then on: a new version is heard at once, not at the
/// first full poll (here ten minutes away).
@Suite struct PreloadWatchTests {
    @Test func aPreloadedKeysNewVersionIsHeardBeforeTheFirstPoll() throws {
        let dir = try TemporaryDirectory(prefix: "aeflow-preload-watch")
        let store = CheckpointStore(root: dir.file("models"), keepVersions: 5)
        let key = ["h1"]
        let v1 = try DaemonHarness.publishModel(store: store, key: key)
        let registry = ModelRegistry(store: store, capacity: 16, pollInterval: 600,
                                     requirements: ["default": .init(metrics: ["cpu", "mem"], windowSize: 12)],
                                     metrics: ScoringMetrics(), logger: Logger(label: "test"))
        registry.start()
        defer { registry.stop() }
        #expect(registry.waitForPreload(timeout: 60))
        let id = ModelID(pipelineID: "default", key: key)
        func served() -> Int? {
            registry.applyLoaderResults()
            if case .ready(_, let v) = registry.lookup(id, now: 0) { return v }
            return nil
        }
        #expect(eventually(within: 10) { served() == v1 })
        let v2 = try DaemonHarness.publishModel(store: store, key: key, seed: 2)
        #expect(v2 > v1)
        #expect(eventually(within: 10) { served() == v2 }, "still serving \(served().map(String.init) ?? "none")")
    }
}

/// What the worker's `/v1/models` snapshot follows: the registry reports a change when an entry comes, goes or
/// changes state, not when a lookup only marks a known model used (the busy path's every batch), and the snapshot
/// is ordered by the ids' text only when it is read.
@Suite struct ModelListingTests {
    @Test func onlyNewAndEvictedEntriesCountAsChanges() throws {
        let dir = try TemporaryDirectory(prefix: "aeflow-listing")
        let registry = ModelRegistryTests.emptyStore(capacity: 32, in: dir)
        let first = ModelID(pipelineID: "p", key: ["a"])
        _ = registry.lookup(first, now: 0)
        #expect(registry.takeChanges(), "a new id is a change")
        #expect(!registry.takeChanges(), "taken once")
        for t in 1...100 { _ = registry.lookup(first, now: Double(t)) }
        #expect(!registry.takeChanges(), "looking up a known id only marks it used")
        for i in 0..<31 { _ = registry.lookup(ModelID(pipelineID: "p", key: ["k\(i)"]), now: Double(200 + i)) }
        #expect(registry.takeChanges() && registry.listing().count == 32)
        _ = registry.lookup(ModelID(pipelineID: "p", key: ["over"]), now: 300)   // over capacity: evicts down to 15/16
        #expect(registry.takeChanges())
        let ids = Set(registry.listing().map(\.id))
        #expect(ids.count == 30 && !ids.contains(first), "the least recently used went: \(ids.count) left")
    }

    @Test func theListingIsOrderedByTheIdsText() {
        let ids = [["b"], ["a", "z"], ["a"], ["k10"], ["k9"]].map { ModelID(pipelineID: "p", key: $0) }
            + [ModelID(pipelineID: "o", key: ["z"])]
        let listings = ids.map { ModelRegistry.Listing(id: $0, version: nil, loadedAt: nil, path: nil, status: "loading") }
        #expect(ModelRegistry.Listing.sorted(listings).map(\.id.description) == ["o/z", "p/a", "p/a:z", "p/b", "p/k10", "p/k9"])
        #expect(ModelRegistry.Listing.sorted(listings.reversed()).map(\.id) == ModelRegistry.Listing.sorted(listings).map(\.id))
    }
}

/// The registry's entries with their times of last use: eviction order from the times alone.
@Suite struct UsageTableTests {
    @Test func theLeastRecentlyUsedComeFromTheTimesAndSlotsAreReused() {
        var t = UsageTable<String, Int>()
        for (i, k) in ["a", "b", "c", "d", "e"].enumerated() { t.set(k, i, usedAt: Double(i)) }
        #expect(t.touch("a", now: 10) == 0 && t.touch("zz", now: 11) == nil)
        #expect(t.leastRecentlyUsed(2) == ["b", "c"])
        #expect(t.set("b", 7) == 1 && t["b"] == 7, "a new value keeps the time of last use")
        #expect(t.leastRecentlyUsed(1) == ["b"])
        #expect(t.remove("b") == 1 + 6 && t.remove("b") == nil && t.count == 4)
        t.set("f", 5)                               // a new key without a time: used at 0, first to go
        #expect(t.leastRecentlyUsed(2) == ["f", "c"] && t.leastRecentlyUsed(99).count == 5)
        #expect(Set(t.entries.map(\.key)) == ["a", "c", "d", "e", "f"] && t["f"] == 5)
        // Ties at the cut-off: exactly n, never a removed slot.
        var u = UsageTable<Int, Int>()
        for k in 0..<10 { u.set(k, k, usedAt: 1) }
        for k in 0..<5 { u.remove(k) }
        #expect(u.leastRecentlyUsed(3).count == 3 && Set(u.leastRecentlyUsed(5)) == [5, 6, 7, 8, 9])
    }
}

/// The loader's work list under churn: evictions cancel waiting loads, requests after an eviction ask again.
@Suite struct LoadQueueTests {
    @Test func anEvictionCancelsAWaitingLoadAndANewRequestAsksAgain() {
        var q = LoadQueue<Int>()
        for id in 0..<10 { q.want(id) }
        q.want(3)                                   // already waiting: once
        #expect(q.count == 10)
        #expect(q.cancel(4) && q.cancel(5) && !q.cancel(42))
        #expect(q.take(3) == [0, 1, 2])
        q.want(5)                                   // evicted, then asked for again: waits at its first place
        #expect(q.take(4) == [3, 5, 6, 7])
        q.want(0)                                   // taken before: a new request
        #expect(q.take(10) == [8, 9, 0] && q.isEmpty && q.take(1).isEmpty)
    }

    /// Strict rotation through ten times the capacity, as LoadGen's churn row: the scoring thread asks for a new id
    /// per point and evicts the oldest sixteenth whenever full; the loader reads 32 ids a tick and a tick passes per
    /// 200 points. Only ids still in the cache are read, and none twice for one request.
    @Test func churnReadsOnlyWhatIsStillCached() {
        var q = LoadQueue<Int>()
        var cached: [Int] = [], read: [Int] = []
        let capacity = 1_000
        for id in 0..<10_000 {
            cached.append(id)
            q.want(id)
            if cached.count > capacity {
                for gone in cached.prefix(capacity / 16) { q.cancel(gone) }
                cached.removeFirst(capacity / 16)
            }
            if id % 200 == 199 {
                let taken = q.take(32)
                let live = Set(cached)
                #expect(taken.allSatisfy(live.contains))
                read += taken
            }
        }
        #expect(Set(read).count == read.count)
        #expect(read.count <= 50 * 32 && q.count <= capacity, "\(read.count) read, \(q.count) waiting")
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
