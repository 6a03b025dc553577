import Logging
import Testing
import TestSupport
import TensorCore
import Training

@Suite struct SyntheticTests {
    @Test func seriesAreReproducibleSeasonalAndTimestamped() {
        var g = SyntheticSeriesGenerator(length: 2880, numSeries: 4)
        g.seasonalProbability = 1
        g.secondaryPeriod = nil
        g.noiseRange = 0.5...0.5
        let a = g.generate(), b = g.generate()
        #expect(a.values == b.values)
        #expect(a.values.shape == [2880, 4] && a.names == ["s1", "s2", "s3", "s4"])
        #expect(a.timestamps.last == g.endTimestamp && a.timestamps[1] - a.timestamps[0] == 60_000)
        // The primary period repeats: a day apart the values agree up to noise and trend.
        let day1 = a.values.slice(axis: 0, 0..<1440), day2 = a.values.slice(axis: 0, 1440..<2880)
        let diff = (day2 - day1).abs().mean(alongAxes: [0]).scalars
        #expect(diff.allSatisfy { $0 < 20 }, "\(diff)")
        let level = a.values.mean().scalar
        #expect(level > 150 && level < 450)
        g.seed = 43
        #expect(g.generate().values != a.values)
    }

    @Test(arguments: AnomalyGenerator.Kind.allCases)
    func anomaliesChangeOnlyTheLabelledCells(_ kind: AnomalyGenerator.Kind) {
        let series = SyntheticSeriesGenerator(length: 1000, numSeries: 3).generate().values
        let gen = AnomalyGenerator(reference: series.slice(axis: 0, 0..<500), kind: kind, ratio: 0.05)
        let out = gen.inject(into: series.slice(axis: 0, 500..<1000))
        let original = series.slice(axis: 0, 500..<1000)
        let changed = Tensor.zip(out.data, original) { $0 != $1 ? 1 : 0 }
        #expect(Tensor.zip(changed, out.mask) { $0 > $1 ? 1 : 0 }.sumOfElements == 0, "cells changed outside the mask")
        #expect(out.mask.sumOfElements == Float(25 * out.columns.count))
        #expect(out.labels.reduce(0, +) >= 25 && out.labels.allSatisfy { $0 == 0 || $0 == 1 })
        #expect(out.columns.count == (kind == .global || kind == .contextual ? 1 : 2))
        #expect(Set(out.columns).count == out.columns.count)
        let a = gen.inject(into: original)
        #expect(a.data == out.data)  // seeded
    }
}

/// Captures swift-log records for assertions.
final class CapturingLogHandler: LogHandler, @unchecked Sendable {
    // @unchecked: only touched from the test's own thread.
    final class Store { var records: [(String, Logger.Metadata)] = [] }
    let store: Store
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace
    init(_ store: Store) { self.store = store }
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String, function: String, line: UInt) {
        store.records.append((message.description, metadata ?? [:]))
    }
}

@Suite struct ProgressTests {
    @Test func plainLinesAtNumalogicsCadence() throws {
        let store = CapturingLogHandler.Store()
        let logger = Logger(label: "test") { _ in CapturingLogHandler(store) }
        let progress = TrainingProgress(style: .lines, logEveryNEpochs: 5, label: "app:ns", logger: logger)
        progress.trainingStarted(model: "VanillaAE", windows: 100, maxEpochs: 12)
        for e in 1...12 { progress.epochEnded(EpochMetrics(epoch: e, trainLoss: 1 / Float(e), valLoss: e % 5 == 0 ? 0.5 : nil, seconds: 0.01, batches: 2), maxEpochs: 12) }
        progress.trainingEnded(TrainingSummary(epochs: [], windows: 100, stoppedEarly: false, bestValLoss: nil, seconds: 0.1))
        let epochs = store.records.filter { $0.0 == "epoch ended" }.map { $0.1["epoch"]!.description }
        #expect(epochs == ["1", "5", "10", "12"])
        #expect(store.records.first?.0 == "training started" && store.records.last?.0 == "training finished")
        let five = try #require(store.records.first { $0.1["epoch"]?.description == "5" })
        #expect(five.1["train_loss"]?.description == "0.2" && five.1["val_loss"]?.description == "0.5" && five.1["run"]?.description == "app:ns")
    }
}
