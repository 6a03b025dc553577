/// A short string held in the value itself (up to ``inlineCapacity`` UTF-8 bytes: a uuid's 32 or 36), in a
/// `String` beyond. A point's uuid goes from its message to its output without a heap object of its own: one
/// allocation on the decoding thread and one release on the worker less per point.
public struct ShortText: Sendable, Hashable, ExpressibleByStringLiteral, CustomStringConvertible {
    public static let inlineCapacity = 40
    private var bytes = InlineArray<40, UInt8>(repeating: 0)
    private var length: UInt8 = 0
    /// The text, when it is longer than ``inlineCapacity`` bytes.
    private var long: String?

    public init(_ s: String) {
        var s = s
        if s.utf8.count > Self.inlineCapacity {
            long = s   // (shared, not rebuilt from its bytes)
        } else {
            s.withUTF8 { store($0) }
        }
    }

    public init(stringLiteral s: String) { self.init(s) }

    /// Text from bytes the caller knows are valid UTF-8.
    public init(validUTF8 b: UnsafeBufferPointer<UInt8>) {
        if b.count > Self.inlineCapacity { long = String(decoding: b, as: UTF8.self) } else { store(b) }
    }

    /// Holds `b` (at most ``inlineCapacity`` bytes) in the value.
    private mutating func store(_ b: UnsafeBufferPointer<UInt8>) {
        for k in 0..<b.count { bytes[k] = b[k] }
        length = UInt8(b.count)
    }

    /// The text's bytes, for the length of `body`.
    public func withUTF8<R>(_ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        if var long { return long.withUTF8(body) }
        return withUnsafeBytes(of: bytes) { raw in
            body(UnsafeBufferPointer(start: raw.baseAddress!.assumingMemoryBound(to: UInt8.self), count: Int(length)))
        }
    }

    public var string: String { long ?? withUTF8 { String(decoding: $0, as: UTF8.self) } }
    public var description: String { string }
    public var utf8Count: Int { long?.utf8.count ?? Int(length) }

    public static func == (a: ShortText, b: ShortText) -> Bool {
        a.withUTF8 { x in b.withUTF8 { y in x.elementsEqual(y) } }
    }

    public func hash(into h: inout Hasher) { withUTF8 { h.combine(bytes: UnsafeRawBufferPointer($0)) } }
}
