import Foundation
import Stage
import TensorCore
import Testing

/// The pieces a point and its output cross threads in: its values held in the point, arrays drained by moving
/// their elements out, and the queue handing over what it holds whole.
@Suite struct HandOffTests {
    @Test func pointValuesKeepEveryValueAndGapInOrderInlineAndBeyond() {
        for n in [0, 1, 3, 7, 8, 9, 20] {
            let expected: [Float?] = (0..<n).map { (k: Int) -> Float? in
                let x = Float(k) * 1.5 - 2
                return k % 3 == 1 ? nil : x
            }
            var v = PointValues()
            for x in expected { v.append(x) }
            #expect(v.count == n)
            #expect(Array(v) == expected, "\(n) values")
            #expect((0..<n).allSatisfy { v[$0] == expected[$0] })
        }
        let literal: PointValues = [1, nil, 3]
        #expect(Array(literal) == [1, nil, 3])
        #expect(literal == [1, nil, 3] && literal != [1, 2, 3] && literal != [1, nil])
        // A zero written inline is a value, not a gap.
        #expect(Array([0, nil] as PointValues) == [0, nil])
    }

    final class Box { let id: Int; init(_ id: Int) { self.id = id } }

    @Test func drainingMovesEachElementOutInOrder() {
        for n in [0, 1, 2, 5, 6] {
            var seen: [Int] = []
            var unique = true
            for var b in (0..<n).map(Box.init).draining() {
                // Moved out, not copied: the loop's element is the only reference left to it.
                unique = unique && isKnownUniquelyReferenced(&b)
                seen.append(b.id)
            }
            #expect(seen == Array(0..<n), "\(n) elements")
            #expect(unique, "\(n) elements: an element was copied, not moved")
        }
        // A copy of the array kept elsewhere is left whole.
        let kept = (0..<4).map(Box.init)
        #expect(kept.draining().map(\.id) == [0, 1, 2, 3])
        #expect(kept.map(\.id) == [0, 1, 2, 3])
    }

    @Test func popAllHandsOverEverythingInOrderAndFreesTheRoom() {
        let q = BlockingQueue<[Int]>(capacity: 10)
        q.push([1, 2], weight: 2)
        q.push([3], weight: 1)
        #expect(!q.tryPush(Array(4..<12), weight: 8))
        #expect(q.depth == 3)
        #expect(q.popAll(timeout: 0) == [[1, 2], [3]])
        #expect(q.depth == 0)
        #expect(q.tryPush(Array(4..<12), weight: 8))
        q.push([12], weight: 1)
        #expect(q.popAll(timeout: 0) == [Array(4..<12), [12]])
        #expect(q.popAll(timeout: 0).isEmpty)
    }

    @Test func shortTextHoldsAnyTextInlineOrNot() {
        let texts = ["", "u", String(repeating: "a", count: 36), String(repeating: "b", count: 40), String(repeating: "c", count: 41),
                     String(repeating: "d", count: 300), "é√ü—", "0f8fad5b-d9cb-469f-a165-70867728950e"]
        for t in texts {
            let a = ShortText(t)
            var copy = t
            let b = copy.withUTF8 { ShortText(validUTF8: $0) }
            #expect(a.string == t && b.string == t && a.utf8Count == t.utf8.count, "\(t.utf8.count) bytes")
            #expect(a == b && a.hashValue == b.hashValue)
            #expect(a.withUTF8 { Array($0) } == Array(t.utf8))
        }
        #expect(ShortText("a") != ShortText("b") && ShortText(String(repeating: "e", count: 50)) != ShortText(String(repeating: "e", count: 51)))
    }

    /// A point's uuid from its message to its output, as the fast decoder reads it (plain bytes) and as it reads any
    /// other (escaped, non-ASCII, long): the output carries the same text.
    @Test func uuidsReachTheOutputAsSent() throws {
        let decoder = InputDecoder()
        let template = OutputTemplate(pipelineID: "p", metrics: ["x"])
        let uuids = ["u1", "0f8fad5b-d9cb-469f-a165-70867728950e", "q\"uo\\te", "é√", String(repeating: "7", count: 200)]
        for u in uuids {
            let text = #"{"key":"a","timestamp":1,"metrics":{"x":1},"uuid":"# + JSONValue.string(u).serialized() + "}"
            guard case .success(.points(let ps)) = decoder.decode(Array(text.utf8)) else {
                Issue.record("not decoded: \(text)"); continue
            }
            #expect(ps[0].uuid?.string == u)
            let body = template.encode(uuid: ps[0].uuid!, configID: "c", key: ["a"], timestamp: 1, unified: nil, features: nil,
                                       modelVersion: nil, threshold: nil, status: .warmingUp, isAnomaly: nil, expected: nil)
            #expect(try JSONValue.parse(body).objectValue?["uuid"]?.stringValue == u, "\(u)")
        }
        guard case .success(.points(let none)) = decoder.decode(Array(#"{"key":"a","timestamp":1,"metrics":{"x":1},"uuid":null}"#.utf8)) else {
            Issue.record("null uuid not decoded"); return
        }
        #expect(none[0].uuid == nil)
    }

    /// What a producer pushes reaches the consumer with no other reference left: the queue takes the value itself
    /// (a borrowed push kept a copy, and the producer's own went only after the lock was released — a consumer
    /// draining it meanwhile found it shared and copied it whole). The window is a few instructions wide: a queue
    /// that borrows fails this test in some runs, not every run (a copy costs time, never an answer).
    @Test func aPushedArrayReachesTheConsumerUnshared() {
        let q = BlockingQueue<[Box]>(capacity: 1 << 20)
        let rounds = 20_000
        let producer = Thread { for i in 0..<rounds { q.push([Box(i), Box(i)], weight: 1) } }
        producer.start()
        var got = 0, shared = 0
        while got < rounds {
            for arr in q.popAll(timeout: 1).draining() {
                for var b in (consume arr).draining() where !isKnownUniquelyReferenced(&b) { shared += 1 }
                got += 1
            }
        }
        #expect(shared == 0, "\(shared) of \(2 * rounds) elements were still shared when drained")
    }
}
