import Testing
import TestSupport
import TensorCore
@testable import Training

@Suite struct DatasetTests {
    let data = Tensor.arange(0, 60).reshaped([30, 2])

    @Test func windowsCountsAndOverlap() throws {
        let ds = try StreamingDataset(data, seqLen: 12)
        #expect(ds.count == 19)
        let w = ds.allWindows()
        #expect(w.shape == [19, 12, 2])
        for i in 0..<18 { #expect(w[i, 1, 0] == w[i + 1, 0, 0]) }   // consecutive windows overlap
        #expect(try ds.window(3) == data.slice(axis: 0, 3..<15))
        let strided = try StreamingDataset(data, seqLen: 12, stride: 5)
        #expect(strided.count == (30 - 12) / 5 + 1)
        #expect(try strided.window(2) == data.slice(axis: 0, 10..<22))
        #expect(try StreamingDataset(data, seqLen: 30).count == 1)
    }

    @Test func segmentedDatasetsNeverWindowAcrossTwoSeries() throws {
        // Three series of 10, 3 and 17 rows: 10−4+1 + 0 + 17−4+1 windows of 4.
        let ds = try StreamingDataset(data, seqLen: 4, segments: [10, 3, 17])
        #expect(ds.count == 7 + 14)
        #expect(try ds.window(6) == data.slice(axis: 0, 6..<10))
        #expect(try ds.window(7) == data.slice(axis: 0, 13..<17), "the 3-row series is skipped, the third starts at row 13")
        #expect(ds.allWindows().shape == [21, 4, 2])
        #expect(try StreamingDataset(data, seqLen: 4, stride: 2, segments: [10, 20]).count == 4 + 9)
        #expect(throws: TrainingError.self) { try StreamingDataset(data, seqLen: 4, segments: [10, 10]) }
        #expect(throws: TrainingError.self) { try StreamingDataset(data, seqLen: 12, segments: [10, 10, 10]) }
    }

    @Test func slicingFollowsNumalogic() throws {
        let ds = try StreamingDataset(data, seqLen: 12)
        #expect(try ds.windows(rows: 3..<15).shape == [1, 12, 2])
        #expect(try ds.windows(rows: 0..<100).shape[0] == 19)
        #expect(throws: TrainingError.emptySlice(start: 3, end: 14)) { try ds.windows(rows: 3..<14) }
        #expect(throws: TrainingError.indexOutOfRange(index: 19, count: 19)) { try ds.window(19) }
    }

    @Test func errorsFollowNumalogic() {
        #expect(throws: TrainingError.sequenceLongerThanData(seqLen: 31, rows: 30)) { try StreamingDataset(data, seqLen: 31) }
        #expect(throws: TrainingError.strideTooLarge(stride: 12, seqLen: 12)) { try StreamingDataset(data, seqLen: 12, stride: 12) }
        #expect(throws: TrainingError.strideTooLarge(stride: 1, seqLen: 1)) { try StreamingDataset(data, seqLen: 1) }
        #expect(throws: TrainingError.invalidDataShape("expected (rows, features), got [60]")) { try StreamingDataset(Tensor.arange(0, 60), seqLen: 4) }
        var bad = data
        bad[7, 1] = .nan
        #expect(throws: TrainingError.nonFiniteData(row: 7, column: 1)) { try StreamingDataset(bad, seqLen: 4) }
    }

    @Test func dataModuleSplitsChronologically() throws {
        let dm = try TimeseriesDataModule(seqLen: 4, data: data, valSplitRatio: 0.2, batchSize: 8)
        #expect(dm.train.rows == 24 && dm.validation.rows == 6)
        #expect(dm.validation.data == data.slice(axis: 0, 24..<30))
        #expect(throws: TrainingError.self) { try TimeseriesDataModule(seqLen: 4, data: data, valSplitRatio: 1) }
        #expect(throws: TrainingError.self) { try TimeseriesDataModule(seqLen: 4, data: data, valSplitRatio: 0) }
        #expect(throws: TrainingError.self) { try TimeseriesDataModule(seqLen: 12, data: data, valSplitRatio: 0.1) }
    }

    @Test func inverseWindowRoundTripsForStrideOne() throws {
        let ds = try StreamingDataset(data, seqLen: 5)
        let w = ds.allWindows()
        #expect(InverseWindow.keepFirst(w) == data)
        #expect(InverseWindow.keepLast(w) == data)
        #expect(InverseWindow(rawValue: "keep_last") == .keepLast)
        #expect(InverseWindow(rawValue: "keep_middle") == nil)
        // keep_last takes the newest step of each window
        let marked = w * Tensor.arange(1, 6).reshaped([1, 5, 1])
        #expect(InverseWindow.keepLast(marked)[29, 0] == 5 * data[29, 0])
        #expect(InverseWindow.keepFirst(marked)[0, 0] == data[0, 0])
    }

    @Test func trailingSingleWindowJoinsThePreviousBatch() {
        #expect(AutoencoderTrainer.batches(Array(0..<129), size: 64).map(\.count) == [64, 65])
        #expect(AutoencoderTrainer.batches(Array(0..<130), size: 64).map(\.count) == [64, 64, 2])
        #expect(AutoencoderTrainer.batches(Array(0..<1), size: 64).map(\.count) == [1])
    }
}
