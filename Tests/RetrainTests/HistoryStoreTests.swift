import Foundation
import Retrain
import Stage
import Testing
import TestSupport

/// The history store on real SQLite files.
@Suite struct HistoryStoreTests {
    let dir: TemporaryDirectory
    init() throws { dir = try TemporaryDirectory(prefix: "aeflow-history") }

    func rows(_ key: [String], _ range: Range<Int>, pipeline: String = "p", value: (Int) -> [Float] = { [Float($0), Float($0) * 2] }) -> [HistoryRow] {
        range.map { HistoryRow(pipelineID: pipeline, key: key, timestamp: Int64($0) * 60_000, values: value($0)) }
    }

    @Test func pointsRoundTripInTimeOrderAndSurviveReopening() throws {
        let path = dir.file("h.sqlite")
        do {
            let store = try HistoryStore(path: path, maxRowsPerKey: 1000)
            // Out of order, two keys, in two transactions.
            try store.append(rows(["a"], 50..<100) + rows(["b"], 0..<10))
            let r = try store.append(rows(["a"], 0..<50))
            #expect(r.inserted == 50 && r.replaced == 0)
        }
        let reopened = try HistoryStore(path: path, maxRowsPerKey: 1000)
        let a = try #require(try reopened.series(pipeline: "p", key: ["a"], spanMs: nil, limit: 10_000))
        #expect(a.timestamps == (0..<100).map { Int64($0) * 60_000 })
        #expect(a.values == (0..<100).flatMap { [Float($0), Float($0) * 2] })
        #expect(a.features == 2)
        #expect(try reopened.rowCount(pipeline: "p", key: ["b"]) == 10)
        #expect(try reopened.totals() == (rows: 110, keys: 2))
        #expect(try reopened.integrityCheck() == "ok")
        #expect(try reopened.series(pipeline: "p", key: ["nope"], spanMs: nil, limit: 10) == nil)
    }

    @Test func aPointAtAnExistingTimeReplacesItAndIsNotCountedTwice() throws {
        let store = try HistoryStore(path: dir.file("h.sqlite"), maxRowsPerKey: 1000)
        try store.append(rows(["a"], 0..<5))
        let r = try store.append(rows(["a"], 3..<8) { [Float($0) + 100, 0] })
        #expect(r.inserted == 3 && r.replaced == 2)
        let a = try #require(try store.series(pipeline: "p", key: ["a"], spanMs: nil, limit: 100))
        #expect(a.count == 8)
        #expect(try store.rowCount(pipeline: "p", key: ["a"]) == 8)
        #expect(Array(a.values[6..<8]) == [103, 0])
    }

    @Test func rowCountRetentionKeepsTheNewestRows() throws {
        let store = try HistoryStore(path: dir.file("h.sqlite"), maxRowsPerKey: 100)
        // Appends trim once a key is past the limit by the slack (64 rows here).
        for chunk in stride(from: 0, to: 1000, by: 50) { try store.append(rows(["a"], chunk..<(chunk + 50))) }
        #expect(try store.rowCount(pipeline: "p", key: ["a"]) <= 100 + 64)
        try store.enforceRetention([:])
        let a = try #require(try store.series(pipeline: "p", key: ["a"], spanMs: nil, limit: 10_000))
        #expect(a.count == 100)
        #expect(a.timestamps.first == 900 * 60_000 && a.timestamps.last == 999 * 60_000)
        #expect(try store.rowCount(pipeline: "p", key: ["a"]) == 100)
    }

    @Test func ageRetentionIsMeasuredPerKeyAndDropsDeadKeys() throws {
        let store = try HistoryStore(path: dir.file("h.sqlite"), maxRowsPerKey: 100_000)
        try store.append(rows(["old"], 0..<10))                 // minutes 0…9
        try store.append(rows(["live"], 0..<600))               // minutes 0…599
        try store.append(rows(["live2"], 590..<600))
        try store.append(rows(["other"], 0..<10, pipeline: "q"))
        let deleted = try store.enforceRetention(["p": Retention(spanMs: 60 * 60_000), "q": Retention(spanMs: 60 * 60_000)])
        #expect(deleted == 10 + 539)
        let live = try #require(try store.series(pipeline: "p", key: ["live"], spanMs: nil, limit: 10_000))
        #expect(live.timestamps.first == 539 * 60_000 && live.count == 61)
        #expect(try store.series(pipeline: "p", key: ["old"], spanMs: nil, limit: 10) == nil, "a key with nothing left is forgotten")
        #expect(try store.rowCount(pipeline: "q") == 10, "each pipeline has its own clock")
        // One far-future point ages out nobody else's history: each key keeps the span before its own newest point.
        try store.append(rows(["future"], 9_999_999..<10_000_000))
        #expect(try store.enforceRetention(["p": Retention(spanMs: 60 * 60_000)]) == 0)
        #expect(try store.rowCount(pipeline: "p", key: ["live"]) == 61)
        #expect(try store.rowCount(pipeline: "p", key: ["live2"]) == 10)
        // Reads can narrow to a span too.
        #expect(try store.series(pipeline: "p", key: ["live"], spanMs: 10 * 60_000, limit: 10_000)?.count == 11)
        #expect(try store.series(pipeline: "p", key: ["live"], spanMs: nil, limit: 5)?.timestamps.last == 599 * 60_000)
    }

    @Test func hostileKeysAreJustData() throws {
        let store = try HistoryStore(path: dir.file("h.sqlite"), maxRowsPerKey: 1000)
        let keys: [[String]] = [["'; DROP TABLE points; --"], ["../../etc/passwd"], ["\"quoted\"", "ü\u{0}n"], [""], ["a", "b"], ["a:b"]]
        for (i, k) in keys.enumerated() { try store.append(rows(k, 0..<(i + 1))) }
        for (i, k) in keys.enumerated() { #expect(try store.rowCount(pipeline: "p", key: k) == i + 1, "\(k)") }
        #expect(Set(try store.rowCounts(pipeline: "p").map(\.key)) == Set(keys))
        #expect(try store.integrityCheck() == "ok")
    }

    @Test func aFileThatIsNotADatabaseIsATypedError() throws {
        let path = dir.file("junk.sqlite")
        try Data(repeating: 0x42, count: 8192).write(to: URL(fileURLWithPath: path))
        #expect(throws: HistoryError.self) { try HistoryStore(path: path, maxRowsPerKey: 10) }
    }

    @Test func allSeriesOfAPipelineComeBackAsSeparateSegments() throws {
        let store = try HistoryStore(path: dir.file("h.sqlite"), maxRowsPerKey: 1000)
        try store.append(rows(["a"], 0..<30) + rows(["b"], 10..<50) + rows(["c"], 0..<5, pipeline: "other"))
        let all = try store.allSeries(pipeline: "p", spanMs: nil, limit: 1000)
        #expect(all.map(\.count).sorted() == [30, 40])
        #expect(Set(all.map(\.key)) == [["a"], ["b"]])
        #expect(try store.allSeries(pipeline: "p", spanMs: nil, limit: 35).map(\.count).reduce(0, +) == 35)
    }
}

/// numalogic's training de-duplication rules, kept in the store.
@Suite struct TrainStateTests {
    let dir: TemporaryDirectory
    init() throws { dir = try TemporaryDirectory(prefix: "aeflow-trainstate") }

    let rules = DedupRules(retrySec: 600, retrainFreqSec: 24 * 3600, minTrainSize: 2000, dataFreqSec: 60)
    let ref = ModelID(pipelineID: "p", key: ["web", "eu"])

    @Test func oneClaimAtATimeThenRetryBackoffThenFreshness() throws {
        let store = try HistoryStore(path: dir.file("h.sqlite"), maxRowsPerKey: 100)
        let t: Double = 1_000_000
        #expect(try store.claim(ref, now: t, rules: rules, forced: false) == nil)
        #expect(try store.claim(ref, now: t + 10, rules: rules, forced: false) == .inProgress)
        #expect(try store.claim(ref, now: t + 10, rules: rules, forced: true) == .inProgress, "retrain-now never doubles a running training")
        // A claim that never finished (a killed stage) expires after retry_sec.
        #expect(try store.claim(ref, now: t + 601, rules: rules, forced: false) == nil)
        try store.finish(ref, now: t + 700, outcome: .succeeded(version: 1, rows: 2500))
        let s = try #require(try store.state(ref))
        #expect(s.trainTs == t + 700 && s.lastVersion == 1 && s.trainings == 1 && s.runningSince == nil)
        #expect(try store.claim(ref, now: t + 800, rules: rules, forced: false) == .retryBackoff)
        #expect(try store.claim(ref, now: t + 2000, rules: rules, forced: false) == .fresh)
        #expect(try store.claim(ref, now: t + 2000, rules: rules, forced: true) == nil, "retrain-now ignores the model's age")
        try store.finish(ref, now: t + 2001, outcome: .succeeded(version: 2, rows: 2500))
        #expect(try store.claim(ref, now: t + 2001 + 24 * 3600, rules: rules, forced: false) == nil, "stale after retrain_freq_hr")
    }

    /// AEFlow's growth rule (TrainingSchedule): a fresh model is retrained once the key's history has grown to
    /// `retrain_growth` × the rows it was trained on, by a claim and by the periodic scan.
    @Test func aModelIsRetrainedWhenItsKeysHistoryDoubles() throws {
        let store = try HistoryStore(path: dir.file("h.sqlite"), maxRowsPerKey: 100_000)
        let growth = DedupRules(retrySec: 600, retrainFreqSec: 24 * 3600, minTrainSize: 200, dataFreqSec: 60, retrainGrowth: 2)
        let t: Double = 9_000_000
        try store.append((0..<250).map { HistoryRow(pipelineID: "p", key: ["web", "eu"], timestamp: Int64($0) * 60_000, values: [1, 2]) })
        #expect(try store.claim(ref, now: t, rules: growth, forced: false) == nil)
        try store.finish(ref, now: t + 1, outcome: .succeeded(version: 1, rows: 250))
        #expect(try store.claim(ref, now: t + 700, rules: growth, forced: false) == .fresh)
        #expect(try store.dueKeys(pipeline: "p", now: t + 700, rules: growth, limit: 10).isEmpty)
        try store.append((250..<500).map { HistoryRow(pipelineID: "p", key: ["web", "eu"], timestamp: Int64($0) * 60_000, values: [1, 2]) })
        #expect(try store.dueKeys(pipeline: "p", now: t + 700, rules: growth, limit: 10) == [["web", "eu"]])
        #expect(try store.dueKeys(pipeline: "p", now: t + 700, rules: rules, limit: 10).isEmpty, "numalogic's rules: only by age")
        #expect(try store.claim(ref, now: t + 700, rules: growth, forced: false) == nil)
    }

    @Test func insufficientDataBacksOffInProportionToWhatIsMissing() throws {
        let store = try HistoryStore(path: dir.file("h.sqlite"), maxRowsPerKey: 100)
        let t: Double = 5_000_000
        #expect(try store.claim(ref, now: t, rules: rules, forced: false) == nil)
        try store.finish(ref, now: t + 1, outcome: .insufficientData(rows: 1990))
        // 10 rows missing at 60 s each: 600 s from the claim.
        #expect(try store.claim(ref, now: t + 599, rules: rules, forced: false) == .insufficientDataBackoff)
        #expect(try store.claim(ref, now: t + 601, rules: rules, forced: false) == nil)
        try store.finish(ref, now: t + 602, outcome: .failed(.training, "boom"))
        let s = try #require(try store.state(ref))
        #expect(s.failures == 1 && s.lastOutcome == "failed" && s.lastDetail == "boom")
        #expect(try store.claim(ref, now: t + 700, rules: rules, forced: false) == .insufficientDataBackoff)
    }

    @Test func twoStoresOnOneFileNeverBothClaim() throws {
        let path = dir.file("h.sqlite")
        let a = try HistoryStore(path: path, maxRowsPerKey: 100), b = try HistoryStore(path: path, maxRowsPerKey: 100)
        let refs = (0..<50).map { ModelID(pipelineID: "p", key: ["k\($0)"]) }
        final class Box: @unchecked Sendable { var wins = [Int](repeating: 0, count: 50); let lock = NSLock() }
        let box = Box()
        let rules = self.rules
        DispatchQueue.concurrentPerform(iterations: 100) { i in
            let store = i % 2 == 0 ? a : b
            if (try? store.claim(refs[i / 2], now: 1000, rules: rules, forced: false)) == .some(nil) {
                box.lock.lock(); box.wins[i / 2] += 1; box.lock.unlock()
            }
        }
        #expect(box.wins == [Int](repeating: 1, count: 50))
    }

    @Test func requestsAreKeptUntilDecidedAndForcedOnesComeFirst() throws {
        let store = try HistoryStore(path: dir.file("h.sqlite"), maxRowsPerKey: 100)
        let other = ModelID(pipelineID: "p", key: ["api"])
        try store.request(ref, now: 10, forced: false)
        try store.request(other, now: 20, forced: true)
        try store.request(ref, now: 30, forced: false)
        #expect(try store.pendingRequests().map(\.ref) == [other, ref])
        #expect(try store.state(ref)?.requestedAt == 10, "the first request's time is kept")
        #expect(try store.claim(other, now: 40, rules: rules, forced: true) == nil)
        try store.dropRequest(ref)
        #expect(try store.pendingRequests().isEmpty)
    }

    @Test func dueKeysAreMissingOrStaleModelsWithEnoughRowsOutsideBackoffs() throws {
        let store = try HistoryStore(path: dir.file("h.sqlite"), maxRowsPerKey: 10_000)
        var r = rules
        r.minTrainSize = 100
        func fill(_ k: String, _ n: Int) throws {
            try store.append((0..<n).map { HistoryRow(pipelineID: "p", key: [k], timestamp: Int64($0), values: [1]) })
        }
        try fill("few", 50); try fill("new", 150); try fill("stale", 150); try fill("fresh", 150); try fill("retrying", 150)
        let now: Double = 10_000_000
        for (k, trained) in [("stale", now - 25 * 3600), ("fresh", now - 3600)] {
            let m = ModelID(pipelineID: "p", key: [k])
            #expect(try store.claim(m, now: trained, rules: r, forced: true) == nil)
            try store.finish(m, now: trained, outcome: .succeeded(version: 1, rows: 150))
        }
        #expect(try store.claim(ModelID(pipelineID: "p", key: ["retrying"]), now: now - 10, rules: r, forced: false) == nil)
        try store.finish(ModelID(pipelineID: "p", key: ["retrying"]), now: now - 5, outcome: .failed(.training, "x"))
        #expect(try store.dueKeys(pipeline: "p", now: now, rules: r, limit: 10) == [["new"], ["stale"]])
        #expect(try store.dueKeys(pipeline: "p", now: now, rules: r, limit: 1) == [["new"]])
    }
}
