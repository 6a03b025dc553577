@testable import Scoring
import Testing
import TensorCore

/// The window store's key table (open addressing, entries removed by shifting their probe chain back) against a
/// plain reference, with keys whose hashes collide on purpose: chains that run into each other and wrap around the
/// table's end, removals from their middle, growth, and least-recently-used eviction at the capacity.
@Suite struct SlotIndexTests {
    /// A key whose `hashValue` depends only on `id % classes` (every key of a class collides).
    struct Colliding: Hashable {
        let id: Int
        let classes: Int
        func hash(into h: inout Hasher) { h.combine(id % classes) }
        static func == (a: Self, b: Self) -> Bool { a.id == b.id }
    }

    /// Random creations, touches and removals; after each, every key of the universe is found exactly when the
    /// reference holds it, at a slot that holds that key, and the count agrees.
    @Test(arguments: [(classes: 1, universe: 40, capacity: 24), (classes: 5, universe: 200, capacity: 64),
                      (classes: 37, universe: 600, capacity: 300), (classes: 1 << 40, universe: 3000, capacity: 1500)])
    func findsWhatTheReferenceHolds(_ classes: Int, _ universe: Int, _ capacity: Int) {
        var store = KeyedWindows<Colliding>(length: 2, features: 1, capacity: capacity)
        var held: [Int] = []   // least recently used first
        var rng = RandomGenerator(seed: UInt64(classes % 1000 + universe))
        var evictions = 0
        for step in 0..<(universe * 12) {
            let id = Int(rng.next() % UInt64(universe))
            let key = Colliding(id: id, classes: classes)
            if rng.next() % 4 == 0 {
                store.remove(key)
                held.removeAll { $0 == id }
            } else {
                let (slot, evicted) = store.slot(for: key, now: Double(step))
                #expect(store.key(slot: slot) == key)
                if let i = held.firstIndex(of: id) {
                    held.remove(at: i)
                    #expect(evicted == nil)
                } else if held.count == capacity {
                    #expect(evicted?.id == held.removeFirst(), "the least recently used key goes")
                    evictions += 1
                } else {
                    #expect(evicted == nil)
                }
                held.append(id)
            }
            if step % max(97, universe / 4) == 0 || step == universe * 12 - 1 {
                #expect(store.count == held.count)
                let heldSet = Set(held)
                for other in 0..<universe {
                    let k = Colliding(id: other, classes: classes)
                    let s = store.existingSlot(k)
                    #expect((s != nil) == heldSet.contains(other), "key \(other) at step \(step)")
                    if let s { #expect(store.key(slot: s) == k) }
                }
            }
        }
        #expect(evictions > 0, "the run reached the capacity")
    }

    /// The table alone, with hashes chosen so that chains start at the table's last entries and wrap around to its
    /// first: random insertions and removals (some for slots not held), every slot found exactly when held.
    @Test func chainsThatWrapAroundTheEnd() {
        var index = SlotIndex()
        var held: [Int32: Int] = [:]   // slot -> hash
        var rng = RandomGenerator(seed: 5)
        let universe = 24
        // Slot s's key is s itself; its hash puts its home at one of the last three entries of a 16- or 32-entry table.
        let hashes = (0..<universe).map { s in [15, 14, 31, 30, 13, 29][s % 6] + 64 * s }
        let keys: [Int?] = (0..<universe).map { $0 }
        var wrapped = 0
        for step in 0..<4000 {
            let s = Int32(rng.next() % UInt64(universe))
            if held[s] != nil, rng.next() % 2 == 0 {
                index.remove(hash: hashes[Int(s)], slot: s)
                held[s] = nil
            } else if held[s] == nil, held.count < 15 {
                index.insert(hash: hashes[Int(s)], slot: s)
                held[s] = hashes[Int(s)]
            } else if held[s] == nil {
                index.remove(hash: hashes[Int(s)], slot: s)   // not held: nothing
            }
            #expect(index.count == held.count, "step \(step)")
            for k in 0..<universe {
                let found = index.find(k, hash: hashes[k], keys: keys)
                #expect((found != nil) == (held[Int32(k)] != nil), "slot \(k) at step \(step)")
                if let found { #expect(found == Int32(k)) }
            }
            if held.count >= 4 { wrapped += 1 }
        }
        #expect(wrapped > 1000, "chains long enough to wrap were built")
    }

    /// The lookup with the hash given (the engine's, a few points after asking for the entry) finds the same slots.
    @Test func aGivenHashFindsTheSameSlot() {
        var store = KeyedWindows<[String]>(length: 3, features: 1, capacity: 1000)
        var slots: [Int] = []
        for i in 0..<800 {
            let key = ["ns", "k\(i)"]
            store.prefetchKey(hash: key.hashValue)
            slots.append(store.slot(for: key, hash: key.hashValue, now: 0, admit: { true }).slot)
        }
        #expect(Set(slots).count == 800)
        for i in 0..<800 {
            let key = ["ns", "k\(i)"]
            #expect(store.slot(for: key, now: 1).slot == slots[i])
            #expect(store.existingSlot(key) == slots[i])
        }
        #expect(store.existingSlot(["ns", "k800"]) == nil)
        #expect(store.existingSlot(["ns:k1"]) == nil)
    }
}
