import Testing
import TensorCore

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
