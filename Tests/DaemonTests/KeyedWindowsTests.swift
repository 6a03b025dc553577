@testable import Daemon
@testable import Stage
import Scoring
import SystemCalls
import Testing
import TensorCore

/// The window store against a plain reference (a sorted list per key), over random operations, every
/// policy, ring wrap-around and eviction.
@Suite struct KeyedWindowsTests {
    struct Reference {
        var rows: [Int: [(Int64, [Float])]] = [:]
        var order: [Int] = []   // most recent last
        let length: Int, capacity: Int
        var duplicates: DuplicatePolicy, late: LatePolicy

        mutating func append(_ key: Int, _ t: Int64, _ row: [Float]) -> AppendOutcome {
            if rows[key] == nil {
                if rows.count == capacity { let victim = order.removeFirst(); rows[victim] = nil }
                rows[key] = []
            }
            order.removeAll { $0 == key }
            order.append(key)
            var r = rows[key]!
            defer { rows[key] = r }
            if let newest = r.last?.0 {
                if t == newest {
                    guard duplicates == .replace else { return .rejectedDuplicate }
                    r[r.count - 1].1 = row
                    return .replaced(count: r.count)
                }
                if t < newest {
                    guard late == .insert else { return .rejectedLate }
                    if let i = r.firstIndex(where: { $0.0 == t }) {
                        guard duplicates == .replace else { return .rejectedDuplicate }
                        r[i].1 = row
                        return .stored(count: r.count)
                    }
                    if r.count == length && t < r[0].0 { return .rejectedLate }
                    r.insert((t, row), at: r.firstIndex { $0.0 > t } ?? r.count)
                    if r.count > length { r.removeFirst() }
                    return .stored(count: r.count)
                }
            }
            r.append((t, row))
            if r.count > length { r.removeFirst() }
            return .stored(count: r.count)
        }
    }

    @Test(arguments: [(DuplicatePolicy.replace, LatePolicy.drop), (.drop, .drop), (.replace, .insert), (.drop, .insert)])
    func matchesTheReference(_ duplicates: DuplicatePolicy, _ late: LatePolicy) {
        var store = KeyedWindows<Int>(length: 5, features: 2, capacity: 4)
        var ref = Reference(length: 5, capacity: 4, duplicates: duplicates, late: late)
        var rng = RandomGenerator(seed: 11)
        var clock: [Int: Int64] = [:]
        for step in 0..<5000 {
            let key = Int(rng.next() % 7)
            var t = clock[key, default: 100] + Int64(rng.next() % 3) - 1   // sometimes equal, sometimes older
            if rng.next() % 10 == 0 { t -= Int64(rng.next() % 8) }
            clock[key] = max(clock[key, default: 100], t)
            let row: [Float] = [Float(step), Float(key)]
            let (slot, _) = store.slot(for: key, now: Double(step))
            let got = row.withUnsafeBufferPointer { store.append(slot: slot, timestamp: t, row: $0, duplicates: duplicates, late: late) }
            let want = ref.append(key, t, row)
            #expect(got == want, "step \(step) key \(key) t \(t)")
            let expected = ref.rows[key]!
            #expect(store.timestamps(slot: slot) == expected.map(\.0))
            var buf = [Float](repeating: 0, count: 10)
            let n = buf.withUnsafeMutableBufferPointer { store.copyWindow(slot: slot, into: $0.baseAddress!) }
            #expect(Array(buf[0..<(n * 2)]) == expected.flatMap(\.1))
            // appendWindow: the same rows after what `out` held, the rows not held yet as zeros.
            var out: [Float] = [7, 7]
            store.appendWindow(slot: slot, to: &out)
            #expect(out == [7, 7] + expected.flatMap(\.1) + [Float](repeating: 0, count: (5 - expected.count) * 2))
            #expect(store.count == ref.rows.count && store.count <= 4)
        }
        #expect(store.evictions > 0)
    }

    @Test func idleKeysExpireOldestFirst() {
        var store = KeyedWindows<String>(length: 3, features: 1, capacity: 10)
        for (i, k) in ["a", "b", "c"].enumerated() {
            let (s, _) = store.slot(for: k, now: Double(i))
            _ = [Float(1)].withUnsafeBufferPointer { store.append(slot: s, timestamp: 1, row: $0, duplicates: .replace, late: .drop) }
        }
        _ = store.slot(for: "a", now: 10)   // touched again
        #expect(store.expire(idleSince: 5) == ["b", "c"])
        #expect(store.count == 1 && store.contains("a") && store.expirations == 2)
        let (s, evicted) = store.slot(for: "d", now: 11)   // reuses a freed slot
        #expect(evicted == nil && store.rowCount(slot: s) == 0)
    }
}

@Suite struct InputDecoderTests {
    let decoder = InputDecoder()

    func reason(_ text: String) -> RejectReason? {
        if case .failure(let r) = decoder.decode(Array(text.utf8)) { return r.reason }
        return nil
    }

    @Test func pointsArraysAndWindows() throws {
        guard case .success(.points(let ps)) = decoder.decode(Array(#"{"key":["ns","app"],"timestamp":1700000000000,"metrics":{"cpu":0.4,"mem":null},"uuid":"u1","config_id":"c"}"#.utf8)) else {
            Issue.record("point not decoded"); return
        }
        #expect(ps.count == 1 && ps[0].key == ["ns", "app"] && ps[0].uuid == "u1" && ps[0].configID == "c")
        #expect(ps[0].value(of: "cpu") == .some(0.4) && ps[0].value(of: "mem") == .some(nil) && ps[0].value(of: "disk") == nil)
        guard case .success(.points(let two)) = decoder.decode(Array(#"[{"key":"a","timestamp":1,"metrics":{"x":1}},{"key":"b","timestamp":2,"metrics":{"x":2}}]"#.utf8)) else {
            Issue.record("array not decoded"); return
        }
        #expect(two.map(\.key) == [["a"], ["b"]])
        let window = #"{"uuid":"w","config_id":"c","composite_keys":["a","b"],"data":[{"timestamp":1,"x":1},{"timestamp":2,"x":2}],"metadata":{}}"#
        guard case .success(.window(let w)) = decoder.decode(Array(window.utf8)) else { Issue.record("window not decoded"); return }
        #expect(w.key == ["a", "b"] && w.timestamps == [1, 2] && w.rows.count == 2)
    }

    /// Timestamps far ahead of the wall clock are `future` (they would steer windows and retention); 1e19 does
    /// not fit epoch milliseconds and is refused before any conversion; a byte-order mark is not an error.
    @Test func futureHugeAndBOMTimestamps() {
        var d = InputDecoder()
        d.wallClock = .fixed(1_700_000_000_000)
        d.maximumFutureMs = 3_600_000
        func reason(_ text: String, _ bytes: [UInt8] = []) -> RejectReason? {
            if case .failure(let r) = d.decode(bytes + Array(text.utf8)) { return r.reason }
            return nil
        }
        #expect(reason(#"{"key":"a","timestamp":1700003600000,"metrics":{"x":1}}"#) == nil, "exactly the limit ahead")
        #expect(reason(#"{"key":"a","timestamp":1700003600001,"metrics":{"x":1}}"#) == .future)
        #expect(reason(#"{"key":"a","timestamp":9999999999999,"metrics":{"x":1}}"#) == .future)
        #expect(reason(#"[{"key":"a","timestamp":1,"metrics":{"x":1}},{"key":"b","timestamp":9999999999999,"metrics":{"x":1}}]"#) == .future)
        #expect(reason(#"{"key":"a","timestamp":1e19,"metrics":{"x":1}}"#) == .invalidTimestamp)
        #expect(reason(#"{"key":"a","timestamp":-1e19,"metrics":{"x":1}}"#) == .invalidTimestamp)
        #expect(reason(#"{"key":"a","timestamp":1,"metrics":{"x":1}}"#, [0xEF, 0xBB, 0xBF]) == nil)
        #expect(reason(#"{"key":"a","timestamp":1,"metrics":{"x":1}}"#, [0xEF, 0xBB]) == .badJSON)
    }

    /// The system clock's future check is exact although it reads the coarse clock first: with no allowance at all,
    /// points stamped with the precise wall clock's current millisecond (mostly ahead of the kernel's last tick)
    /// are all accepted, and one a second ahead is not.
    @Test func theSystemClocksFutureLimitIsExact() {
        var d = InputDecoder()
        d.maximumFutureMs = 0
        var refused = 0, aheadOfCoarse = 0
        for _ in 0..<2_000 {
            let t = WallClock.milliseconds()
            if t > WallClock.coarseMilliseconds() { aheadOfCoarse += 1 }
            if case .failure = d.decode(Array(#"{"key":"a","timestamp":\#(t),"metrics":{"x":1}}"#.utf8)) { refused += 1 }
        }
        #expect(refused == 0, "\(refused) of 2000 points stamped now refused (\(aheadOfCoarse) were ahead of the coarse clock)")
        let ahead = WallClock.milliseconds() + 1_000
        guard case .failure(let r) = d.decode(Array(#"{"key":"a","timestamp":\#(ahead),"metrics":{"x":1}}"#.utf8)) else {
            Issue.record("a point a second ahead was accepted with no allowance"); return
        }
        #expect(r.reason == .future)
    }

    @Test func rejectionsAreTyped() {
        #expect(reason("{") == .badJSON)
        #expect(reason("\"x\"") == .notAnObject)
        #expect(reason("[]") == .notAnObject)
        #expect(reason(#"{"timestamp":1,"metrics":{"x":1}}"#) == .missingField)
        #expect(reason(#"{"key":"a","metrics":{"x":1}}"#) == .missingField)
        #expect(reason(#"{"key":"a","timestamp":1}"#) == .missingField)
        #expect(reason(#"{"key":"a","timestamp":1,"metrics":{"x":"1"}}"#) == .wrongType)
        #expect(reason(#"{"key":"a","timestamp":1,"metrics":{"x":1},"extra":1}"#) == .wrongType)
        #expect(reason(#"{"key":"a","timestamp":1.5,"metrics":{"x":1}}"#) == .wrongType)
        #expect(reason(#"{"key":"a","timestamp":0,"metrics":{"x":1}}"#) == .invalidTimestamp)
        #expect(reason(#"{"key":[],"timestamp":1,"metrics":{"x":1}}"#) == .invalidKey)
        #expect(reason(#"{"key":"a\u0001","timestamp":1,"metrics":{"x":1}}"#) == .invalidKey)
        #expect(reason(#"{"key":"a","timestamp":1,"metrics":{}}"#) == .unknownMetricSet)
        #expect(reason(#"{"key":"a","timestamp":1,"metrics":{"x":1e39}}"#) == .nonFinite)
        #expect(reason("{" + String(repeating: " ", count: 2 << 20) + "}") == .tooLarge)
        #expect(reason("[" + Array(repeating: #"{"key":"a","timestamp":1,"metrics":{"x":1}}"#, count: 10_001).joined(separator: ",") + "]") == .tooManyPoints)
    }

    @Test func outputsAreValidJSONWithNumalogicsFields() throws {
        let o = ScoreOutput(uuid: "u", configID: "c", pipelineID: "p", key: ["a\"b", "c"], timestamp: 5, unified: 1.5, metrics: ["cpu", "mem"],
                            features: [1.5, 0.25], modelVersion: 3, threshold: [2, 4], status: .scored)
        let v = try JSONValue.parse(OutputEncoder.encode(o)).objectValue!
        #expect(v.keys == ["uuid", "config_id", "pipeline_id", "composite_keys", "timestamp", "unified_anomaly", "data", "metadata"])
        #expect(v["composite_keys"] == .array([.string("a\"b"), .string("c")]) && v["unified_anomaly"] == .double(1.5))
        #expect(v["data"]?.objectValue?["unified_ML"] == .double(1.5) && v["data"]?.objectValue?["mem"] == .double(0.25))
        #expect(v["metadata"]?.objectValue?["model_version"] == .int(3) && v["metadata"]?.objectValue?["status"] == .string("scored"))
        let pending = ScoreOutput(uuid: "u", configID: "c", pipelineID: "p", key: ["a"], timestamp: 5, unified: nil, metrics: ["x"],
                                  features: nil, modelVersion: nil, threshold: nil, status: .modelNotReady)
        let p = try JSONValue.parse(OutputEncoder.encode(pending)).objectValue!
        #expect(p["unified_anomaly"] == .null && p["data"] == .object(JSONObject()) && p["metadata"]?.objectValue?["status"] == .string("model_not_ready"))
        let tr = try JSONValue.parse(OutputEncoder.trainRequest(uuid: "u", configID: "c", pipelineID: "p", key: ["k"], metrics: ["x"])).objectValue!
        #expect(tr["header"] == .string("request_training") && tr["metrics"] == .array([.string("x")]))
        var g = UUIDGenerator(seed: 1)
        let id = g.next()
        #expect(id.count == 36 && id.split(separator: "-").map(\.count) == [8, 4, 4, 4, 12] && id != g.next())
        // RFC 4122 version 4: lowercase hex, version nibble 4, variant 10xx; a seed gives one sequence.
        var a = UUIDGenerator(seed: 7), b = UUIDGenerator(seed: 7)
        var seen = Set<String>()
        for _ in 0..<1000 {
            let u = Array(a.next().utf8)
            #expect(String(decoding: u, as: UTF8.self) == b.next())
            #expect(u.enumerated().allSatisfy { [8, 13, 18, 23].contains($0.offset) ? $0.element == UInt8(ascii: "-") : Array("0123456789abcdef".utf8).contains($0.element) })
            #expect(u[14] == UInt8(ascii: "4") && Array("89ab".utf8).contains(u[19]))
            seen.insert(String(decoding: u, as: UTF8.self))
        }
        #expect(seen.count == 1000)
    }
}

/// The fast decoding path agrees with the generic one on every accepted message.
@Suite struct FastDecoderTests {
    @Test func fastAndGenericPathsAgree() throws {
        let d = InputDecoder()
        let accepted = [
            #"{"key":"a","timestamp":1700000000000,"metrics":{"x":1,"y":-2.5e3,"z":null}}"#,
            #" { "uuid" : "u" , "key" : [ "a" , "b\"c" ] , "metrics" : { "x" : 0 } , "timestamp" : 5 , "config_id" : null } "#,
            #"[{"key":"a","timestamp":1,"metrics":{"x":1}},{"key":"b","timestamp":2,"metrics":{"x":2},"pipeline_id":"p"}]"#,
        ]
        for text in accepted {
            let fast = try #require(d.fastPoints(Array(text.utf8)), "fast path refused \(text)")
            guard case .success(.points(let generic)) = d.decode(Array(text.utf8)) else { Issue.record("generic refused \(text)"); continue }
            #expect(fast == generic)
            // and the generic tree decoder, bypassing the fast path, gives the same points
            let tree = try JSONValue.parse(text)
            let viaTree: [InputPoint] = switch tree {
            case .array(let items): items.map { try! d.point($0.objectValue!).get() }
            default: [try d.point(tree.objectValue!).get()]
            }
            #expect(fast == viaTree)
        }
        // Anything odd leaves the fast path (the generic path then rejects or accepts precisely).
        for text in [#"{"key":"a","key":"b","timestamp":1,"metrics":{"x":1}}"#, #"{"key":"a","timestamp":1,"metrics":{"x":1},"x":2}"#,
                     #"{"key":"a","timestamp":1,"metrics":{"x":"1"}}"#, #"{"key":"a","timestamp":1,"metrics":{"x":1,"x":2}}"#,
                     #"{"key":"a","timestamp":1,"metrics":{"x":1,"y":2,"x":3}}"#,
                     #"{"key":"a","timestamp":1,"metrics":{"m0":0,"m1":1,"m2":2,"m3":3,"m4":4,"m5":5,"m6":6,"m7":7,"m8":8,"m3":9}}"#,
                     #"{"key":"a","timestamp":1,"metrics":{"x":1}} trailing"#, #"{"data":[]}"#] {
            #expect(d.fastPoints(Array(text.utf8)) == nil, "\(text)")
            if case .success = d.decode(Array(text.utf8)) { Issue.record("accepted \(text)") }
        }
    }
}

@Suite struct OutputTemplateTests {
    /// Integers (timestamps, model versions) are written as `String` writes them, at the edges of their range too.
    @Test func integersAreWrittenAsStringWritesThem() {
        var values: [Int64] = [0, 1, -1, 9, 10, -10, 99, 100, Int64.max, Int64.min, Int64.max - 1, Int64.min + 1, 1_700_000_000_000]
        var p: Int64 = 1
        for _ in 0..<18 { p *= 10; values += [p - 1, p, p + 1, -p] }
        for v in values {
            var out: [UInt8] = [0x78]
            OutputEncoder.appendInt(v, to: &out)
            #expect(out == [0x78] + Array(String(v).utf8), "\(v)")
        }
    }

    @Test func templateEncodingEqualsTheGenericEncoder() {
        let t = OutputTemplate(pipelineID: "p\"1", metrics: ["cpu", "m\\em"])
        for o in [
            ScoreOutput(uuid: "u", configID: "c", pipelineID: "p\"1", key: ["a", "b"], timestamp: 5, unified: 1.5, metrics: ["cpu", "m\\em"],
                        features: [1.5, 0.25], modelVersion: 3, threshold: [2, 4], status: .scored),
            ScoreOutput(uuid: "u", configID: "c", pipelineID: "p\"1", key: ["a"], timestamp: 5, unified: nil, metrics: ["cpu", "m\\em"],
                        features: nil, modelVersion: nil, threshold: nil, status: .warmingUp),
            // The template keeps the last threshold array's digits: a different one, then the first again.
            ScoreOutput(uuid: "v", configID: "c", pipelineID: "p\"1", key: ["b"], timestamp: 6, unified: 0.125, metrics: ["cpu", "m\\em"],
                        features: [0.5, 0.75], modelVersion: 4, threshold: [3, 0.1], status: .scored, isAnomaly: false, expected: [1, 2]),
            ScoreOutput(uuid: "w", configID: "c", pipelineID: "p\"1", key: ["b"], timestamp: 7, unified: 9, metrics: ["cpu", "m\\em"],
                        features: [9, 8], modelVersion: 3, threshold: [2, 4], status: .scored, isAnomaly: true),
        ] {
            #expect(t.encode(o) == OutputEncoder.encode(o))
        }
        // At the template's size bound: every string escaped at its longest (control bytes as \u00XX), long and
        // inline uuids, many metrics, the longest float spellings.
        let names = (0..<24).map { "m\u{01}\($0)" }
        let wide = OutputTemplate(pipelineID: String(repeating: "\u{02}", count: 50), metrics: names)
        let longest: [Float] = [-1.17549435e-38, -3.4028235e38, -Float.leastNonzeroMagnitude, -0.000123456789, -16777215]
        let values = (0..<24).map { longest[$0 % longest.count] }
        for uuid in [String(repeating: "\u{1f}", count: 40), String(repeating: "\"\u{7}", count: 150)] {
            let o = ScoreOutput(uuid: uuid, configID: String(repeating: "\u{0}", count: 64), pipelineID: String(repeating: "\u{02}", count: 50),
                                key: [String(repeating: "\u{1b}", count: 100), "", String(repeating: "\\", count: 30)], timestamp: Int64.min,
                                unified: -1.17549435e-38, metrics: names, features: values, modelVersion: Int.min, threshold: values,
                                status: .modelNotReady, isAnomaly: true, expected: values)
            let body = wide.encode(o)
            #expect(body == OutputEncoder.encode(o))
            #expect((try? JSONValue.parse(body))?.objectValue?["uuid"]?.stringValue == uuid)
        }
    }

    /// The writer's bounds hold for every number it writes: a float's shortest spelling (random bit patterns and the
    /// edges of the range) and an integer's, so its bounds check never stops the daemon on a real output.
    @Test func numbersFitTheWritersBounds() {
        var rng = RandomGenerator(seed: 3)
        var floats: [Float] = [.greatestFiniteMagnitude, -.greatestFiniteMagnitude, .leastNormalMagnitude, -.leastNormalMagnitude,
                               .leastNonzeroMagnitude, -.leastNonzeroMagnitude, -0.0, 16_777_215, -16_777_216, -0.000123456789, .nan, .infinity]
        for _ in 0..<300_000 { floats.append(Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()))) }
        var longest = 0
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: ByteWriter.floatBound) { buf in
            for x in floats {
                var w = ByteWriter(buf.baseAddress!, capacity: ByteWriter.floatBound)
                w.float(x)
                longest = max(longest, w.count)
                if x.isFinite { #expect(String(decoding: UnsafeBufferPointer(start: buf.baseAddress, count: w.count), as: UTF8.self) == x.description) }
            }
        }
        #expect(longest <= 16, "longest float \(longest) bytes")
        for v in [Int64.min, Int64.max, 0, -1] {
            var out: [UInt8] = []
            OutputEncoder.appendInt(v, to: &out)
            #expect(out.count <= ByteWriter.intBound)
        }
    }

    /// Strings that need escaping and strings that do not (the one-copy path) both come back as they went in.
    @Test func encodedStringsParseBackToThemselves() throws {
        let keys = ["plain-key_1", "quo\"te", "back\\slash", "new\nline", "tab\tcr\r", "\u{01}ctl", "ünïcødé ✓", "", "a:b/c"]
        let t = OutputTemplate(pipelineID: "p", metrics: ["cpu"])
        for k in keys {
            let o = ScoreOutput(uuid: k, configID: "c\(k)", pipelineID: "p", key: [k, "x"], timestamp: 1_700_000_000_000, unified: 0.1 + 0.2,
                                metrics: ["cpu"], features: [3.4028235e38], modelVersion: 12, threshold: [-0.0], status: .scored,
                                isAnomaly: false, expected: [1e-7])
            let v = try #require(try JSONValue.parse(t.encode(o)).objectValue, "\(k)")
            #expect(v["uuid"]?.stringValue == k && v["config_id"]?.stringValue == "c\(k)")
            #expect(v["composite_keys"] == .array([.string(k), .string("x")]))
            #expect(v["timestamp"]?.intValue == 1_700_000_000_000)
            // Floats are written with their shortest round-trip digits: read back as Float, they are the same value.
            #expect(v["unified_anomaly"]?.doubleValue.map(Float.init) == Float(0.1 + 0.2))
            #expect(v["data"]?.objectValue?["cpu"]?.doubleValue.map(Float.init) == Float(3.4028235e38))
            #expect(v["metadata"]?.objectValue?["model_version"]?.intValue == 12)
            #expect(v["metadata"]?.objectValue?["expected"]?.objectValue?["cpu"]?.doubleValue.map(Float.init) == Float(1e-7))
        }
    }
}
