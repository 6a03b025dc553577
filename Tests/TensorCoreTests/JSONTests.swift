import Foundation
import Testing
@testable import TensorCore

@Suite struct JSONTests {
    @Test func parsesDocuments() throws {
        let v = try JSONValue.parse(#"{"a": [1, -2.5, 1e3, true, false, null], "b": {"c": "x\"y\u00e9\n"}, "big": 1700000000000}"#)
        let o = try #require(v.objectValue)
        #expect(o.keys == ["a", "b", "big"])
        #expect(o["a"] == .array([.int(1), .double(-2.5), .double(1000), .bool(true), .bool(false), .null]))
        #expect(o["b"]?.objectValue?["c"] == .string("x\"y\u{e9}\n"))
        #expect(o["big"]?.intValue == 1_700_000_000_000)
        #expect(try JSONValue.parse("\"\\ud83d\\ude00\"") == .string("😀"))
    }

    @Test(arguments: [
        "", "{", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "01", "1.", "-", "1e", "tru", "\"abc", "\"\\x\"",
        "\"\u{01}\"", "{\"a\":1}{", "[1] x", "\"\\ud800\"", "{\"a\":1,\"a\":2}", "NaN", "Infinity", "1e999",
    ])
    func rejectsMalformed(_ text: String) {
        #expect(throws: JSONParseError.self) { try JSONValue.parse(text) }
    }

    @Test func rejectsInvalidUTF8AndDeepNesting() throws {
        #expect(throws: JSONParseError.self) { try JSONValue.parse([0x22, 0xFF, 0xFE, 0x22]) }
        // Unescaped strings: ASCII takes the fast path, anything else is validated (a cut-off sequence fails).
        #expect(try JSONValue.parse(Array("\"host-01.eu\"".utf8)) == .string("host-01.eu"))
        #expect(try JSONValue.parse(Array("\"héllo 😀\"".utf8)) == .string("héllo 😀"))
        #expect(throws: JSONParseError.self) { try JSONValue.parse([0x22, 0x61, 0x62, 0xC3, 0x22]) }
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(throws: JSONParseError.self) { try JSONValue.parse(deep) }
        let ok = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect((try? JSONValue.parse(ok)) != nil)
    }

    @Test func serialisesAndRoundTrips() throws {
        let doc = JSONValue.object(JSONObject([
            ("s", .string("tab\tquote\"slash\\ctl\u{1}é")), ("n", .int(-3)), ("d", .double(0.5)),
            ("a", .array([.null, .bool(true)])), ("o", .object(JSONObject())),
        ]))
        let text = doc.serialized()
        #expect(text == #"{"s":"tab\tquote\"slash\\ctl\u0001é","n":-3,"d":0.5,"a":[null,true],"o":{}}"#)
        #expect(try JSONValue.parse(text) == doc)
    }
}

/// Numbers are read from their digits where that is exact (integers in Int64's range; Clinger's fast path for
/// decimals): every value must be the one the text conversions give (`Int64(text)`, else `Double(text)`).
@Suite struct JSONNumberTests {
    func reference(_ text: String) -> JSONValue? {
        if !text.contains(where: { ".eE".contains($0) }), let v = Int64(text) { return .int(v) }
        return Double(text).flatMap { $0.isFinite ? .double($0) : nil }
    }

    @Test func numbersReadFromTheirDigitsEqualTheTextConversions() throws {
        var fixed = ["0", "-0", "0.0", "-0.0", "1", "-1", "1700000000000", "9223372036854775807", "-9223372036854775808",
                     "9223372036854775808", "-9223372036854775809", "18446744073709551615", "123456789012345678901234",
                     "0.1", "0.2", "0.30000000000000004", "1e22", "1e23", "9007199254740992.5", "9007199254740993", "9007199254740993.0",
                     "1.7976931348623157e308", "4.9e-324", "2.2250738585072014e-308", "1e-22", "1E+22", "123.456e-7",
                     "57.123456789012344", "0.000000000000000000000001", "1e000010", "5e-0000001", "12345678901234567890.5"]
        var rng = RandomGenerator(seed: 5)
        for _ in 0..<20_000 {
            let r = rng.next()
            let d = Double(bitPattern: (r & 0x3FFF_FFFF_FFFF_FFFF) | (r >> 63 == 0 ? 0 : 0x8000_0000_0000_0000))
            let shapes = [d.description, "\(Float(r % 100_000) / 100)", "\(Int64(bitPattern: r) >> Int(r % 60))",
                          "\(r % 10_000).\(r % 977)", "\(r % 1000)e\(Int(r % 45) - 22)", "-\(r % 100_000).\(r % 1_000_000_007)"]
            fixed.append(shapes[Int(r % UInt64(shapes.count))])
        }
        for text in fixed where Double(text)?.isFinite == true {
            let got = try Array(text.utf8).withUnsafeBufferPointer { buf -> JSONValue in
                var cursor = JSONCursor(buf)
                return try cursor.readNumber()
            }
            let want = try #require(reference(text), "\(text)")
            switch (got, want) {
            case (.double(let a), .double(let b)): #expect(a.bitPattern == b.bitPattern, "\(text): \(a) vs \(b)")
            default: #expect(got == want, "\(text)")
            }
        }
    }
}

/// Decimals of up to 19 digits beyond Clinger's fast path (a double's 17-digit shortest forms, long fractions, large
/// and small exponents) are read without their text (`DecimalToDouble`): each must be, bit for bit, the double
/// `strtod` gives for the same text, across the whole exponent range, and the reader must decide nearly all of them
/// itself (else the test would pass on the fallback alone).
@Suite struct DecimalToDoubleTests {
    func strtodValue(_ text: String) -> Double { text.withCString { strtod($0, nil) } }

    @Test func everyDoubleShapeEqualsStrtod() throws {
        var rng = RandomGenerator(seed: 17)
        var texts: [String] = ["2.2250738585072011e-308", "2.2250738585072012e-308", "1.7976931348623157e308",
                               "1.7976931348623158e308", "4.9406564584124654e-324", "9007199254740993.0", "9007199254740992.9999",
                               "0.30000000000000004", "7.038531e-26", "1.00000000000000011102230246251565404", "8.98846567431158e307",
                               "123456789012345678e-340", "9999999999999999999e-343", "1e-342", "1e308", "-1.0000000000000002"]
        for _ in 0..<150_000 {
            let r = rng.next(), s = rng.next()
            var d = Double(bitPattern: r & 0x7FFF_FFFF_FFFF_FFFF)
            if !d.isFinite { d = Double(bitPattern: r & 0x3FFF_FFFF_FFFF_FFFF) }
            if r >> 63 == 1 { d = -d }
            switch s % 5 {
            case 0: texts.append(d.description)
            case 1: texts.append(String(format: "%.17g", d))
            case 2: texts.append(String(format: "%.\(Int(s >> 8) % 19)e", d))
            case 3: texts.append("\(s % 10_000_000_000_000_000_000)e\(Int((s >> 32) % 660) - 345)")   // 19 digits, any exponent
            default: texts.append("\(Double(Int64(r % 2_000) - 1_000) + 10 * Double(s % 1_000_000) / 1_000_000)")   // metric-like
            }
        }
        var decided = 0, inRange = 0
        for text in texts {
            let want = strtodValue(text)
            guard want.isFinite else { continue }
            let got = try Array(text.utf8).withUnsafeBufferPointer { buf -> JSONValue in
                var cursor = JSONCursor(buf)
                return try cursor.readNumber()
            }
            #expect(got.doubleValue?.bitPattern == want.bitPattern, "\(text): \(String(describing: got)) vs \(want)")
            // The reader itself, where it answers: the digits and exponent as the text has them.
            let parts = text.lowercased().split(separator: "e")
            let mantissa = String(parts[0]).replacingOccurrences(of: "-", with: "")
            let pieces = mantissa.split(separator: ".", omittingEmptySubsequences: false)
            let digits = pieces.joined()
            let exponent = (parts.count > 1 ? Int(parts[1])! : 0) - (pieces.count > 1 ? pieces[1].count : 0)
            if digits.count <= 19, let w = UInt64(digits), want.isNormal {
                inRange += 1
                if let v = DecimalToDouble.value(significand: w, exponent: exponent, negative: text.hasPrefix("-")) {
                    decided += 1
                    #expect(v.bitPattern == want.bitPattern, "\(text): \(v) vs \(want)")
                }
            }
        }
        #expect(inRange > 100_000)
        // Undecided: "9007199254740993.0" (an exact halfway point through a fraction) and "2.2250738585072012e-308"
        // (rounds up into the normal range from below it).
        #expect(decided >= inRange - 2, "decided \(decided) of \(inRange)")
    }

    @Test func outsideTheNormalRangeTheTextDecides() {
        #expect(DecimalToDouble.value(significand: 49, exponent: -325, negative: false) == nil)   // subnormal
        #expect(DecimalToDouble.value(significand: 2, exponent: 308, negative: false) == nil)     // overflow
        #expect(DecimalToDouble.value(significand: 1, exponent: 309, negative: false) == nil)     // beyond the table
        #expect(DecimalToDouble.value(significand: 0, exponent: 400, negative: true)?.bitPattern == (-0.0).bitPattern)
        // Exact halfway points between two doubles: integers (an exact product) round to even; through a fraction
        // (90071992547409930e-1: 5^-1 is not exact in binary) the text decides.
        #expect(DecimalToDouble.value(significand: 9_007_199_254_740_993, exponent: 0, negative: false) == 9_007_199_254_740_992)
        #expect(DecimalToDouble.value(significand: 9_007_199_254_740_995, exponent: 0, negative: false) == 9_007_199_254_740_996)
        #expect(DecimalToDouble.value(significand: 18_014_398_509_481_986, exponent: 0, negative: true) == -18_014_398_509_481_984)
        #expect(DecimalToDouble.value(significand: 90_071_992_547_409_930, exponent: -1, negative: false) == nil)
    }
}
