import Autoencoders
import Foundation
import Offline
import Scoring
import Testing
import TestSupport
import TensorCore
import Training

@Suite struct EventMetricsTests {
    /// Alarms at rows 2, 5, 6 and 12 against windows 4…7 and 10…11, the first row in probation (hand-computed).
    @Test func eventMeasuresMatchHandComputedValues() {
        var alarms = [Bool](repeating: false, count: 15)
        for r in [0, 2, 5, 6, 12] { alarms[r] = true }
        let c = DetectionCounts.judge(alarms: alarms, windows: [LabelledWindow(first: 4, last: 7), LabelledWindow(first: 10, last: 11)], probation: 1)
        #expect(c.events == 2 && c.detected == 1 && c.falseAlarms == 2 && c.rows == 14)
        expectClose(Float(c.precision), 1 / 3, atol: 1e-6)
        expectClose(Float(c.recall), 0.5, atol: 1e-6)
        expectClose(Float(c.f1), 0.4, atol: 1e-6)
        expectClose(Float(c.falseAlarmsPer1k), 142.857, atol: 1e-3)
        #expect(c.delays == [1] && c.medianDelay == 1)
        expectClose(Float(c.earlyRaw), -0.35502756, atol: 1e-6)
        expectClose(Float(c.earlyPerfect), 1.8023289, atol: 1e-6)
        expectClose(Float(c.earlyScore), 43.262234, atol: 1e-4)
        // Never alarming scores 0, alarming on each window's first row 100.
        #expect(DetectionCounts.judge(alarms: [Bool](repeating: false, count: 15), windows: [LabelledWindow(first: 4, last: 7)], probation: 0).earlyScore == 0)
        var perfect = [Bool](repeating: false, count: 15)
        perfect[4] = true
        expectClose(Float(DetectionCounts.judge(alarms: perfect, windows: [LabelledWindow(first: 4, last: 7)], probation: 0).earlyScore), 100, atol: 1e-4)
    }

    @Test func averagePrecisionRanksScores() {
        // Positives ranked 1st and 3rd: AP = (1/1 + 2/3) / 2.
        expectClose(Float(averagePrecision(scores: [0.9, 0.8, 0.7, 0.1], labels: [true, false, true, false])), Float((1 + 2.0 / 3) / 2), atol: 1e-6)
        #expect(averagePrecision(scores: [1, 2], labels: [false, false]) == 0)
    }

    @Test func aCorpusReadsLabelColumnsBesideFilesAndSharedLabels() throws {
        let dir = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir.file("cat"), withIntermediateDirectories: true)
        try "timestamp,value,label\n1,1,0\n2,5,1\n3,5,1\n4,1,0\n5,9,1\n".write(toFile: dir.file("cat/a.csv"), atomically: true, encoding: .utf8)
        try "timestamp,value\n2024-01-01 00:00:00,1\n2024-01-01 00:05:00,2\n2024-01-01 00:10:00,3\n".write(toFile: dir.file("cat/b.csv"), atomically: true, encoding: .utf8)
        try #"[["2024-01-01 00:05:00", "2024-01-01 00:07:00"]]"#.write(toFile: dir.file("cat/b.json"), atomically: true, encoding: .utf8)
        try "timestamp,value\n10,1\n20,2\n30,3\n40,4\n".write(toFile: dir.file("c.csv"), atomically: true, encoding: .utf8)
        try #"{"c.csv": [[20, 30]]}"#.write(toFile: dir.file("labels.json"), atomically: true, encoding: .utf8)
        let corpus = try LabelledCorpus.load(root: dir.path)
        #expect(corpus.map(\.name) == ["c.csv", "cat/a.csv", "cat/b.csv"])
        #expect(corpus.map(\.category) == [".", "cat", "cat"])
        #expect(corpus[0].windows == [LabelledWindow(first: 1, last: 2)], "epoch seconds 20…30")
        #expect(corpus[1].windows == [LabelledWindow(first: 1, last: 2), LabelledWindow(first: 4, last: 4)])
        #expect(corpus[1].table.metrics == ["value"] && corpus[1].table.labels == nil)
        #expect(corpus[2].windows == [LabelledWindow(first: 1, last: 1)])
        try "timestamp,value\n1,1\n".write(toFile: dir.file("unlabelled.csv"), atomically: true, encoding: .utf8)
        #expect(throws: CorpusError.self) { try LabelledCorpus.load(root: dir.path) }
    }

    @Test func theRollingZScoreIsCausal() {
        let values = Tensor(shape: [6, 1], scalars: [1, 3, 1, 3, 2, 10])
        let z = RollingZScore(window: 4, threshold: 3).scores(values)
        #expect(z[0...3].allSatisfy { $0 == nil })
        // Row 4 against rows 0–3 (mean 2, sd 1): |2 − 2| / 1 = 0; row 5 against rows 1–4 (mean 2.25, sd 0.829).
        expectClose(z[4]!, 0, atol: 1e-6)
        expectClose(z[5]!, Float(7.75 / (0.6875 as Double).squareRoot()), atol: 1e-4)
    }
}
