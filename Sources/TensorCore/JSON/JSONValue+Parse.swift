/// Why a JSON document was rejected, with the byte offset where reading stopped.
public struct JSONParseError: Error, Equatable, CustomStringConvertible {
    public let offset: Int
    public let reason: String
    public var description: String { "invalid JSON at byte \(offset): \(reason)" }
}

extension JSONValue {
    /// The deepest nesting accepted; deeper documents are rejected instead of exhausting the stack.
    public static let maximumDepth = 128

    /// Parses one JSON document (RFC 8259) strictly: valid UTF-8, no duplicate keys, no trailing
    /// content except whitespace, bounded nesting.
    public static func parse(_ bytes: some Collection<UInt8>) throws(JSONParseError) -> JSONValue {
        let array = Array(bytes)
        return try array.withUnsafeBufferPointer { (buf) throws(JSONParseError) -> JSONValue in
            var p = JSONCursor(buf)
            p.skipWhitespace()
            let v = try p.value(depth: 0)
            p.skipWhitespace()
            guard p.i == buf.count else { throw p.error("unexpected content after the document") }
            return v
        }
    }

    public static func parse(_ text: String) throws(JSONParseError) -> JSONValue { try parse(Array(text.utf8)) }
}

/// A position in a JSON byte buffer with the strict reader's primitives, for decoders that read a known
/// shape directly (without building a ``JSONValue`` tree). Valid while the buffer is.
public struct JSONCursor {
    public let b: UnsafeBufferPointer<UInt8>
    public var i = 0

    public init(_ b: UnsafeBufferPointer<UInt8>) { self.b = b }

    func error(_ reason: String) -> JSONParseError { JSONParseError(offset: i, reason: reason) }

    /// The next byte, or nil at the end.
    @inlinable public var peek: UInt8? { i < b.count ? b[i] : nil }

    /// Consumes `byte` (after whitespace) if it is next.
    @inlinable public mutating func consume(_ byte: UInt8) -> Bool {
        skipWhitespace()
        guard i < b.count, b[i] == byte else { return false }
        i += 1
        return true
    }

    public var isAtEnd: Bool { i >= b.count }

    /// Reads a string literal (the cursor on its opening quote).
    public mutating func readString() throws(JSONParseError) -> String { try string() }

    /// The bytes of the string literal next (after whitespace), consumed, when it is plain ASCII (no escape, no
    /// control character, nothing beyond 0x7F: its bytes are its text, valid UTF-8); nil, and nothing consumed,
    /// otherwise. The buffer is the cursor's own (valid while it is).
    public mutating func readPlainASCII() -> UnsafeBufferPointer<UInt8>? {
        skipWhitespace()
        guard i < b.count, b[i] == 0x22 else { return nil }
        var j = i + 1
        while j < b.count, b[j] != 0x22 {
            guard b[j] >= 0x20, b[j] < 0x80, b[j] != 0x5C else { return nil }
            j += 1
        }
        guard j < b.count else { return nil }
        defer { i = j + 1 }
        return UnsafeBufferPointer(rebasing: b[(i + 1)..<j])
    }

    /// Reads a number literal.
    public mutating func readNumber() throws(JSONParseError) -> JSONValue { try number() }

    /// Reads any value.
    public mutating func readValue() throws(JSONParseError) -> JSONValue { try value(depth: 0) }

    /// Consumes `null` if it is next.
    public mutating func readNull() -> Bool {
        guard i + 4 <= b.count, b[i] == 0x6E, b[i + 1] == 0x75, b[i + 2] == 0x6C, b[i + 3] == 0x6C else { return false }
        i += 4
        return true
    }

    @inlinable public mutating func skipWhitespace() {
        while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 }
    }

    public mutating func value(depth: Int) throws(JSONParseError) -> JSONValue {
        guard depth <= JSONValue.maximumDepth else { throw error("nesting deeper than \(JSONValue.maximumDepth)") }
        guard i < b.count else { throw error("unexpected end of input") }
        switch b[i] {
        case UInt8(ascii: "{"): return try object(depth: depth)
        case UInt8(ascii: "["): return try array(depth: depth)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default: throw error("unexpected character")
        }
    }

    mutating func literal(_ word: StaticString) throws(JSONParseError) {
        let n = word.utf8CodeUnitCount
        guard i + n <= b.count else { throw error("unexpected end of input") }
        for k in 0..<n where b[i + k] != word.utf8Start[k] { throw error("invalid literal") }
        i += n
    }

    mutating func object(depth: Int) throws(JSONParseError) -> JSONValue {
        i += 1
        var obj = JSONObject()
        skipWhitespace()
        if i < b.count, b[i] == UInt8(ascii: "}") { i += 1; return .object(obj) }
        while true {
            skipWhitespace()
            guard i < b.count, b[i] == UInt8(ascii: "\"") else { throw error("expected a string key") }
            let keyOffset = i
            let key = try string()
            guard obj[key] == nil else { throw JSONParseError(offset: keyOffset, reason: "duplicate key \"\(key)\"") }
            skipWhitespace()
            guard i < b.count, b[i] == UInt8(ascii: ":") else { throw error("expected ':'") }
            i += 1
            skipWhitespace()
            obj[key] = try value(depth: depth + 1)
            skipWhitespace()
            guard i < b.count else { throw error("unexpected end of input") }
            if b[i] == UInt8(ascii: ",") { i += 1; continue }
            if b[i] == UInt8(ascii: "}") { i += 1; return .object(obj) }
            throw error("expected ',' or '}'")
        }
    }

    mutating func array(depth: Int) throws(JSONParseError) -> JSONValue {
        i += 1
        var items: [JSONValue] = []
        skipWhitespace()
        if i < b.count, b[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
        while true {
            skipWhitespace()
            items.append(try value(depth: depth + 1))
            skipWhitespace()
            guard i < b.count else { throw error("unexpected end of input") }
            if b[i] == UInt8(ascii: ",") { i += 1; continue }
            if b[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
            throw error("expected ',' or ']'")
        }
    }

    mutating func hex4() throws(JSONParseError) -> UInt32 {
        guard i + 4 <= b.count else { throw error("truncated \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = b[i]
            let d: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
            default: throw error("invalid hex digit in \\u escape")
            }
            v = v << 4 | d
            i += 1
        }
        return v
    }

    /// 10⁰ … 10²², each exact in a double.
    static let powersOfTen: [Double] = (0...22).map { e in (0..<e).reduce(1.0) { r, _ in r * 10 } }

    mutating func string() throws(JSONParseError) -> String {
        i += 1
        let start = i
        // Fast path: no escapes.
        var high: UInt8 = 0
        while i < b.count, b[i] != UInt8(ascii: "\""), b[i] != UInt8(ascii: "\\"), b[i] >= 0x20 { high |= b[i]; i += 1 }
        if i < b.count, b[i] == UInt8(ascii: "\"") {
            let s = UnsafeBufferPointer(rebasing: b[start..<i])
            if high < 0x80 {   // ASCII is valid UTF-8: skip the (generic, slower) validating initialiser
                i += 1
                return String(decoding: s, as: UTF8.self)
            }
            guard let str = String(validating: s, as: UTF8.self) else {
                throw JSONParseError(offset: start, reason: "string is not valid UTF-8")
            }
            i += 1
            return str
        }
        var out = Array(b[start..<i])
        while true {
            guard i < b.count else { throw error("unterminated string") }
            let c = b[i]
            if c == UInt8(ascii: "\"") { i += 1; break }
            if c < 0x20 { throw error("unescaped control character in string") }
            if c != UInt8(ascii: "\\") { out.append(c); i += 1; continue }
            i += 1
            guard i < b.count else { throw error("unterminated escape") }
            let e = b[i]
            i += 1
            switch e {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if (0xD800..<0xDC00).contains(scalar) {
                    guard i + 2 <= b.count, b[i] == UInt8(ascii: "\\"), b[i + 1] == UInt8(ascii: "u") else {
                        throw error("unpaired surrogate in \\u escape")
                    }
                    i += 2
                    let low = try hex4()
                    guard (0xDC00..<0xE000).contains(low) else { throw error("invalid low surrogate") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00..<0xE000).contains(scalar) {
                    throw error("unpaired surrogate in \\u escape")
                }
                guard let u = Unicode.Scalar(scalar) else { throw error("invalid \\u escape") }
                out.append(contentsOf: Array(String(Character(u)).utf8))
            default: throw error("invalid escape")
            }
        }
        guard let str = String(validating: out, as: UTF8.self) else {
            throw JSONParseError(offset: start, reason: "string is not valid UTF-8")
        }
        return str
    }

    mutating func number() throws(JSONParseError) -> JSONValue {
        let start = i
        var isInteger = true
        // The digits as an integer while they fit (no fraction digit is lost: every digit counts), the fraction's
        // digit count and the exponent: most numbers are read from these without text (see below).
        var significand: UInt64 = 0, digits = 0, fractionDigits = 0, exponent = 0, exponentDigits = 0
        var negative = false, exponentNegative = false
        @inline(__always) func take(_ d: UInt8) {
            if significand <= (UInt64.max - 9) / 10 { significand = significand * 10 + UInt64(d - UInt8(ascii: "0")) } else { digits = 100 }
            digits += 1
        }
        if b[i] == UInt8(ascii: "-") { negative = true; i += 1 }
        guard i < b.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b[i]) else { throw error("invalid number") }
        if b[i] == UInt8(ascii: "0") {
            i += 1
        } else {
            while i < b.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b[i]) { take(b[i]); i += 1 }
        }
        if i < b.count, b[i] == UInt8(ascii: ".") {
            isInteger = false
            i += 1
            guard i < b.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b[i]) else { throw error("invalid fraction") }
            while i < b.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b[i]) { take(b[i]); fractionDigits += 1; i += 1 }
        }
        if i < b.count, b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E") {
            isInteger = false
            i += 1
            if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") { exponentNegative = b[i] == UInt8(ascii: "-"); i += 1 }
            guard i < b.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b[i]) else { throw error("invalid exponent") }
            while i < b.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b[i]) {
                if exponentDigits < 6 { exponent = exponent * 10 + Int(b[i] - UInt8(ascii: "0")) }
                exponentDigits += 1
                i += 1
            }
        }
        if digits <= 19 {
            if isInteger {
                // Int64's range, as `Int64(text)` reads it (beyond it, the double below).
                if !negative, significand <= UInt64(Int64.max) { return .int(Int64(significand)) }
                if negative, significand <= UInt64(Int64.max) + 1 { return .int(significand == 0 ? 0 : 0 &- Int64(truncatingIfNeeded: significand)) }
            }
            if !isInteger, exponentDigits <= 6 {
                let e10 = (exponentNegative ? -exponent : exponent) - fractionDigits
                if significand <= 1 << 53, (-22...22).contains(e10) {
                    // Clinger's fast path: a significand and a power of ten both exact in a double give the correctly
                    // rounded value in one operation, the same double the text conversion (strtod) returns.
                    let m = Double(significand), p = Self.powersOfTen[abs(e10)]
                    let v = e10 < 0 ? m / p : m * p
                    return .double(negative ? -v : v)
                }
                // Up to 19 digits otherwise (a double's 17-digit shortest forms among them): the same double, from the
                // digits and the exponent (nil in the rare cases it cannot decide, and outside the normal range).
                if let v = DecimalToDouble.value(significand: significand, exponent: e10, negative: negative) { return .double(v) }
            }
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: b[start..<i]), as: UTF8.self)
        if isInteger, let v = Int64(text) { return .int(v) }
        guard let d = Double(text), d.isFinite else { throw JSONParseError(offset: start, reason: "number out of range") }
        return .double(d)
    }
}
