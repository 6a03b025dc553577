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
