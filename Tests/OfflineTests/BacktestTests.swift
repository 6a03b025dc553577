import Autoencoders
import Foundation
import Offline
import Scoring
import Testing
import TestSupport
import TensorCore
import Training

@Suite struct BacktestTests {
    /// A CSV with a gap, a repeated timestamp and a decreasing one: one output row per input row, statuses as the
    /// daemon gives them under each policy.
    static func table() throws -> MetricTable {
        var lines = ["timestamp,value"]
        for i in 0..<40 { lines.append("\(1_700_000_000 + i * 60),\(Float(i % 7))") }
        lines.insert("\(1_700_000_000 + 20 * 60),99", at: 22)      // row 21 repeats row 20's timestamp
        lines.insert("\(1_700_000_000 + 5 * 60),3", at: 31)        // row 30 goes back in time
        lines.append("\(1_700_000_000 + 500 * 60),4")              // a gap of 460 minutes
        return try MetricTable.parse(lines.joined(separator: "\n"), source: "mem")
    }

    static func conf() -> NumalogicConf {
        var t = TrainerConf()
        t.minTrainSize = 10
        t.maxEpochs = 2
        t.seed = 1
        var c = NumalogicConf(model: ModelSpec(name: "VanillaAE", conf: JSONObject([("seq_len", .int(4)), ("n_features", .int(1))])), trainer: t)
        c.score.mode = .likelihood
        return c
    }

    @Test func oneRowOutPerRowInWithTheDaemonsStatuses() throws {
        let t = try Self.table()
        #expect(t.rows == 43)
        let replace = Backtest(conf: Self.conf(), windowSize: 4, duplicates: .replace, late: .drop).run(t)
        #expect(replace.rows.count == 43)
        #expect(replace.rows[0..<3].allSatisfy { $0.outcome == .output(.warmingUp) })
        #expect(replace.rows[3..<9].allSatisfy { $0.outcome == .output(.modelNotReady) })
        #expect(replace.rows[9].outcome == .output(.scored) && replace.trainings.first?.row == 9 && replace.trainings.first?.rows == 10)
        #expect(replace.rows[21].outcome == .output(.scored), "a repeated timestamp replaces the newest point and is scored")
        #expect(replace.rows[30].outcome == .late)
        #expect(replace.rows[42].outcome == .output(.scored))
        #expect(replace.rows.filter { $0.outcome == .output(.scored) }.allSatisfy { $0.isAnomaly != nil && $0.expected?.count == 1 })
        let drop = Backtest(conf: Self.conf(), windowSize: 4, duplicates: .drop, late: .insert).run(t)
        #expect(drop.rows.count == 43)
        #expect(drop.rows[21].outcome == .duplicate)
        #expect(drop.rows[30].outcome == .late, "older than the whole window: rejected even under insert")
        // The CSV keeps the input's cells and adds the outputs.
        let csv = ScoreCSV.document(t, replace.rows).split(separator: "\n")
        #expect(csv.count == 44 && csv[0] == "timestamp,value,status,unified,is_anomaly,value_score,value_expected,value_error,model_version")
        #expect(csv[31].hasPrefix("\(1_700_000_000 + 5 * 60),3,late,,,"))
    }

    @Test func growthRetrainsAsDataArrives() throws {
        var c = Self.conf()
        c.trainer.retrainFreqHr = 1000
        let rows = (0..<100).map { "\(1_700_000_000 + $0 * 60),\(Float($0 % 5))" }
        let t = try MetricTable.parse((["timestamp,value"] + rows).joined(separator: "\n"), source: "mem")
        let r = Backtest(conf: c, windowSize: 4).run(t)
        #expect(r.trainings.map(\.rows) == [10, 20, 40, 80])
        #expect(r.trainings.map(\.reason) == [.first, .growth, .growth, .growth])
    }
}
