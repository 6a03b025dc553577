import TensorCore

/// Sliding windows over a `(N, F)` series (numalogic's `StreamingDataset`).
///
/// Window `k` is rows `k·stride ..< k·stride + seqLen`, for `k = 0 … (N − seqLen)/stride`.
/// Windows are materialised only when asked for (a batch at a time), so the dataset costs the series.
public struct StreamingDataset: Sendable {
    public let data: Tensor
    public let seqLen: Int
    public let stride: Int
    /// For a dataset of several series laid end to end: the first row of every window (none crosses from
    /// one series into the next). Nil for one series.
    let starts: [Int]?

    /// Same errors as numalogic: `seqLen > N`, `stride ≥ seqLen` (so `seqLen = 1` is impossible with
    /// stride 1), data not 2-D. Non-finite values are refused too (numalogic would train on them).
    public init(_ data: Tensor, seqLen: Int, stride: Int = 1) throws(TrainingError) {
        guard data.rank == 2 else { throw .invalidDataShape("expected (rows, features), got \(data.shape)") }
        guard seqLen >= 1, stride >= 1 else { throw .invalidSetting("seq_len and stride must be positive, got \(seqLen) and \(stride)") }
        guard seqLen <= data.shape[0] else { throw .sequenceLongerThanData(seqLen: seqLen, rows: data.shape[0]) }
        guard stride < seqLen else { throw .strideTooLarge(stride: stride, seqLen: seqLen) }
        let f = data.shape[1]
        let bad = data.withUnsafeBufferPointer { $0.firstIndex { !$0.isFinite } }
        if let bad { throw .nonFiniteData(row: bad / max(f, 1), column: bad % max(f, 1)) }
        (self.data, self.seqLen, self.stride, self.starts) = (data, seqLen, stride, nil)
    }

    /// Several series (same features) laid end to end in `data`, of the given row counts: windows are taken
    /// within each series (a series shorter than `seqLen` contributes none), never across two.
    public init(_ data: Tensor, seqLen: Int, stride: Int = 1, segments: [Int]) throws(TrainingError) {
        let whole = try StreamingDataset(data, seqLen: seqLen, stride: stride)
        guard segments.allSatisfy({ $0 >= 0 }), segments.reduce(0, +) == data.shape[0] else {
            throw .invalidDataShape("segments \(segments) do not add up to the \(data.shape[0]) rows")
        }
        var starts: [Int] = []
        var offset = 0
        for n in segments {
            if n >= seqLen { starts += Swift.stride(from: offset, through: offset + n - seqLen, by: stride) }
            offset += n
        }
        guard !starts.isEmpty else { throw .sequenceLongerThanData(seqLen: seqLen, rows: segments.max() ?? 0) }
        (self.data, self.seqLen, self.stride, self.starts) = (whole.data, seqLen, stride, starts)
    }

    public var rows: Int { data.shape[0] }
    public var features: Int { data.shape[1] }
    /// `(N − seqLen)/stride + 1` for one series.
    public var count: Int { starts?.count ?? (rows - seqLen) / stride + 1 }

    /// The first row of window `k`.
    @inline(__always) func start(_ k: Int) -> Int { starts?[k] ?? k * stride }

    /// Window `index` as `(seqLen, F)`.
    public func window(_ index: Int) throws(TrainingError) -> Tensor {
        guard index >= 0 && index < count else { throw .indexOutOfRange(index: index, count: count) }
        return data.slice(axis: 0, start(index)..<(start(index) + seqLen))
    }

    /// Windows with the given indices stacked as `(B, seqLen, F)` (indices must be valid).
    public func batch(_ indices: some Collection<Int>) -> Tensor {
        let rowSize = seqLen * features
        var out = Tensor(uninitializedShape: [indices.count, seqLen, features])
        data.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for (b, k) in indices.enumerated() {
                    precondition(k >= 0 && k < count, "window \(k) out of range (\(count) windows)")
                    (dst.baseAddress! + b * rowSize).update(from: src.baseAddress! + start(k) * features, count: rowSize)
                }
            }
        }
        return out
    }

    /// numalogic's `ds[start:end]` (on the rows as laid out, whatever the segments): windows starting at raw rows `start, start + stride, …` that end by
    /// `min(end, N)`, stacked `(n, seqLen, F)`. An empty result is an error, as in numalogic.
    public func windows(rows range: Range<Int>) throws(TrainingError) -> Tensor {
        let start = max(range.lowerBound, 0), stop = min(range.upperBound, rows)
        let starts = Array(Swift.stride(from: start, through: stop - seqLen, by: stride))
        guard !starts.isEmpty else { throw .emptySlice(start: range.lowerBound, end: range.upperBound) }
        let rowSize = seqLen * features
        var out = Tensor(uninitializedShape: [starts.count, seqLen, features])
        data.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for (b, r) in starts.enumerated() {
                    (dst.baseAddress! + b * rowSize).update(from: src.baseAddress! + r * features, count: rowSize)
                }
            }
        }
        return out
    }

    /// Every window `(count, seqLen, F)` (numalogic's `as_array`).
    public func allWindows() -> Tensor { batch(0..<count) }
}

/// Windows back to points (numalogic's `inverse_window`): `(n, L, F)` → `(n + L − 1, F)`.
public enum InverseWindow: String, Sendable {
    /// The first step of every window, then steps 1… of the last window.
    case keepFirst = "keep_first"
    /// Steps …L−2 of the first window, then the last step of every window.
    case keepLast = "keep_last"

    public func callAsFunction(_ windows: Tensor) -> Tensor {
        precondition(windows.rank == 3 && windows.shape[0] > 0, "inverse window of \(windows.shape)")
        let (n, l) = (windows.shape[0], windows.shape[1])
        switch self {
        case .keepFirst:
            let firsts = windows.slice(axis: 1, 0..<1).reshaped([n, windows.shape[2]])
            let tail = windows.slice(axis: 0, (n - 1)..<n).slice(axis: 1, 1..<l).reshaped([l - 1, windows.shape[2]])
            return Tensor.concat([firsts, tail], axis: 0)
        case .keepLast:
            let head = windows.slice(axis: 0, 0..<1).slice(axis: 1, 0..<(l - 1)).reshaped([l - 1, windows.shape[2]])
            let lasts = windows.slice(axis: 1, (l - 1)..<l).reshaped([n, windows.shape[2]])
            return Tensor.concat([head, lasts], axis: 0)
        }
    }
}

/// numalogic's `TimeseriesDataModule`: a chronological split, the last `floor(ratio·N)` rows for validation.
public struct TimeseriesDataModule: Sendable {
    public let train: StreamingDataset
    public let validation: StreamingDataset
    public let batchSize: Int

    public init(seqLen: Int, data: Tensor, valSplitRatio: Double = 0.1, batchSize: Int = 64) throws(TrainingError) {
        guard valSplitRatio > 0 && valSplitRatio < 1 else {
            throw .invalidSplit("val_split_ratio can only accept values between 0.0 and 1.0, got \(valSplitRatio)")
        }
        guard batchSize >= 1 else { throw .invalidSetting("batch_size must be positive, got \(batchSize)") }
        guard data.rank == 2 else { throw .invalidDataShape("expected (rows, features), got \(data.shape)") }
        let n = data.shape[0]
        let valSize = Int((valSplitRatio * Double(n)).rounded(.down))
        // numalogic crashes when the split leaves too few rows for a window; say so instead.
        guard valSize >= seqLen, n - valSize >= seqLen else {
            throw .insufficientData("\(n) rows split \(n - valSize)/\(valSize) leave fewer than seq_len \(seqLen) rows on one side")
        }
        train = try StreamingDataset(data.slice(axis: 0, 0..<(n - valSize)), seqLen: seqLen)
        validation = try StreamingDataset(data.slice(axis: 0, (n - valSize)..<n), seqLen: seqLen)
        self.batchSize = batchSize
    }
}
