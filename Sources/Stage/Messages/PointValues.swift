/// A routed point's values in its pipeline's metric order (`nil`: missing), held in the point itself for up to
/// ``inlineCapacity`` metrics (in an array beyond): a point crosses from the ingest thread to its worker without
/// a heap object for its values — one allocation, one cross-thread release and the retains of every copy less.
public struct PointValues: Sendable, Equatable, RandomAccessCollection, ExpressibleByArrayLiteral {
    public static let inlineCapacity = 8
    private var inline = InlineArray<8, Float>(repeating: 0)
    /// Bit `i`: value `i` (of the inline ones) is missing.
    private var missing: UInt8 = 0
    /// Every value, when there are more than ``inlineCapacity``.
    private var spilled: [Float?]?
    public private(set) var count = 0

    public init() {}

    public init(arrayLiteral values: Float?...) {
        for v in values { append(v) }
    }

    public mutating func append(_ v: Float?) {
        if spilled == nil && count == Self.inlineCapacity { spilled = Array(self) }
        if spilled != nil {
            spilled!.append(v)
        } else {
            if let v { inline[count] = v } else { missing |= 1 << UInt8(count) }
        }
        count += 1
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { count }

    public subscript(i: Int) -> Float? {
        precondition(i >= 0 && i < count, "value \(i) of \(count)")
        if let spilled { return spilled[i] }
        return missing & (1 << UInt8(i)) != 0 ? nil : inline[i]
    }

    public static func == (a: PointValues, b: PointValues) -> Bool { a.elementsEqual(b) }
}
