import Stage
import Testing

/// The pieces a point and its output cross threads in: its values held in the point, arrays drained by moving
/// their elements out, and the queue handing over what it holds whole.
@Suite struct HandOffTests {
    @Test func pointValuesKeepEveryValueAndGapInOrderInlineAndBeyond() {
        for n in [0, 1, 3, 7, 8, 9, 20] {
            let expected: [Float?] = (0..<n).map { $0 % 3 == 1 ? nil : Float($0) * 1.5 - 2 }
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
}
