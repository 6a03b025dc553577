/// Writes JSON pieces into memory sized beforehand: an output body is written into temporary memory of its bound
/// (``OutputTemplate``, which then copies it once into an array of its size), without the capacity and uniqueness
/// checks an `Array.append` makes per piece. The one
/// implementation of the encoders' strings (escaped as JSON needs), integers and floats; `OutputEncoder`'s
/// array helpers write through it. Every write is bounds-checked: a bound too small stops the process rather than
/// write past the memory.
struct ByteWriter {
    let base: UnsafeMutablePointer<UInt8>
    let capacity: Int
    private(set) var count = 0

    init(_ base: UnsafeMutablePointer<UInt8>, capacity: Int) { (self.base, self.capacity) = (base, capacity) }

    /// Bytes a string of `n` UTF-8 bytes takes at most, quoted and escaped (`\u00XX` for a control byte).
    static func stringBound(_ n: Int) -> Int { 6 * n + 2 }
    /// Bytes a float (or `null`) and an integer take at most.
    static let floatBound = 32, intBound = 20

    @inline(__always) mutating func byte(_ b: UInt8) {
        precondition(count < capacity, "ByteWriter: bound exceeded")
        base[count] = b
        count &+= 1
    }

    @inline(__always) mutating func bytes(_ p: UnsafeBufferPointer<UInt8>) {
        precondition(p.count <= capacity &- count, "ByteWriter: bound exceeded")
        if let a = p.baseAddress { (base + count).initialize(from: a, count: p.count) }
        count &+= p.count
    }

    @inline(__always) mutating func bytes(_ a: [UInt8]) { a.withUnsafeBufferPointer { bytes($0) } }

    @inline(__always) mutating func raw(_ s: StaticString) {
        bytes(UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    /// A JSON string: most (uuids, ids, keys) need no escaping and go in with one copy.
    mutating func string(utf8 p: UnsafeBufferPointer<UInt8>) {
        for b in p where b < 0x20 || b == 0x22 || b == 0x5C {
            escaped(p)
            return
        }
        byte(0x22)
        bytes(p)
        byte(0x22)
    }

    mutating func string(_ s: String) {
        var s = s
        s.withUTF8 { string(utf8: $0) }
    }

    private mutating func escaped(_ p: UnsafeBufferPointer<UInt8>) {
        byte(0x22)
        for b in p {
            switch b {
            case 0x22: byte(0x5C); byte(0x22)
            case 0x5C: byte(0x5C); byte(0x5C)
            case 0x0A: byte(0x5C); byte(0x6E)
            case 0x0D: byte(0x5C); byte(0x72)
            case 0x09: byte(0x5C); byte(0x74)
            case 0..<0x20:
                let hex: StaticString = "0123456789abcdef"
                byte(0x5C); byte(0x75); byte(0x30); byte(0x30)
                byte(hex.utf8Start[Int(b >> 4)]); byte(hex.utf8Start[Int(b & 15)])
            default: byte(b)
            }
        }
        byte(0x22)
    }

    /// `String(v)`'s bytes, written digit by digit from the end of a stack buffer.
    mutating func int(_ v: Int64) {
        var m = v.magnitude
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var i = digits.count
            repeat {
                i -= 1
                digits[i] = 0x30 + UInt8(truncatingIfNeeded: m % 10)
                m /= 10
            } while m > 0
            if v < 0 { byte(0x2D) }
            bytes(UnsafeBufferPointer(rebasing: digits[i...]))
        }
    }

    /// The shortest digits that read back as `x` (Swift's `description`), `null` for nil and non-finite values.
    mutating func float(_ x: Float?) {
        guard let x, x.isFinite else { raw("null"); return }
        var d = x.description   // a small string (no allocation)
        d.withUTF8 { bytes($0) }
    }
}
