/// Why data could not be windowed or a model could not be trained (numalogic raises ValueError,
/// InvalidDataShapeError or IndexError for the data cases).
public enum TrainingError: Error, Equatable, CustomStringConvertible {
    case invalidDataShape(String)
    case sequenceLongerThanData(seqLen: Int, rows: Int)
    case strideTooLarge(stride: Int, seqLen: Int)
    case indexOutOfRange(index: Int, count: Int)
    case emptySlice(start: Int, end: Int)
    case invalidSplit(String)
    case invalidSetting(String)
    case nonFiniteData(row: Int, column: Int)
    case nonFiniteLoss(epoch: Int, batch: Int)
    case insufficientData(String)

    public var description: String {
        switch self {
        case .invalidDataShape(let s): "invalid data shape: \(s)"
        case .sequenceLongerThanData(let l, let n): "sequence length \(l) is more than the data size \(n)"
        case .strideTooLarge(let s, let l): "stride \(s) should be less than the sequence length \(l)"
        case .indexOutOfRange(let i, let n): "window \(i) is out of range (\(n) windows)"
        case .emptySlice(let a, let b): "rows \(a)..<\(b) hold no complete window"
        case .invalidSplit(let s): s
        case .invalidSetting(let s): s
        case .nonFiniteData(let r, let c): "data row \(r), column \(c) is NaN or infinite"
        case .nonFiniteLoss(let e, let b): "training diverged: non-finite loss in epoch \(e), batch \(b)"
        case .insufficientData(let s): "insufficient data: \(s)"
        }
    }
}
