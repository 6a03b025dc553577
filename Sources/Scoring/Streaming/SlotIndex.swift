import TensorCore

/// The key table of ``KeyedWindows``: from a key's hash to its slot, by open addressing with linear probing, each
/// entry holding the key's hash (its low 32 bits) beside its slot. A probe compares hashes in the table's own memory and reads a
/// stored key only when the hash matches (almost always the key sought), where a `Dictionary` read and compared the
/// stored key of every bucket it probed: each a pointer chase to a key's array, a cache miss once there are thousands
/// of keys (the top symbol of the scoring engine at 10,000 keys). The hashes are the keys' `hashValue`s (Swift's
/// seeded SipHash), so crafted key names cannot aim at one bucket. At most half full; removal shifts the probe chain
/// back (no tombstones). Not thread-safe: part of its window store.
struct SlotIndex {
    /// 8 bytes: the hash's low 32 bits (its home and its check) and the slot, eight entries a cache line.
    struct Entry {
        var hash: UInt32
        var slot: Int32   // -1: empty
    }

    private var entries: [Entry] = []
    private(set) var count = 0

    /// Where a probe for `hash` starts in a table of `mask + 1` entries (from the 32 bits an entry keeps).
    @inline(__always)
    private static func home(_ hash: UInt32, _ mask: Int) -> Int { Int(hash) & mask }

    /// The slot whose key equals `key` (its hash `hash`), looking keys up in `keys` (by slot).
    @inline(__always)
    func find<K: Equatable>(_ key: K, hash: Int, keys: [K?]) -> Int32? {
        guard count > 0 else { return nil }
        let mask = entries.count - 1
        return entries.withUnsafeBufferPointer { e in
            let h = UInt32(truncatingIfNeeded: hash)
            var i = Self.home(h, mask)
            while true {
                let s = e[i].slot
                if s < 0 { return nil }
                if e[i].hash == h && keys[Int(s)] == key { return s }
                i = (i + 1) & mask
            }
        }
    }

    /// Hints that the entry a lookup of `hash` reads first will be read soon (no effect on results).
    @inline(__always)
    func prefetch(hash: Int) {
        guard count > 0 else { return }
        entries.withUnsafeBufferPointer { Kernels.prefetch($0.baseAddress! + Self.home(UInt32(truncatingIfNeeded: hash), $0.count - 1)) }
    }

    /// Adds `slot` under `hash` (its key not in the table).
    mutating func insert(hash: Int, slot: Int32) {
        if (count + 1) * 2 > entries.count { grow() }
        place(Entry(hash: UInt32(truncatingIfNeeded: hash), slot: slot))
        count += 1
    }

    /// Removes the entry of `slot` (stored under `hash`); nothing if it is not there.
    mutating func remove(hash: Int, slot: Int32) {
        guard count > 0 else { return }
        let mask = entries.count - 1
        var i = Self.home(UInt32(truncatingIfNeeded: hash), mask)
        while entries[i].slot != slot {
            if entries[i].slot < 0 { return }
            i = (i + 1) & mask
        }
        // Backward shift: move up every later entry of the chain that may sit at `i` (its home is not in (i, j]).
        var j = i
        while true {
            j = (j + 1) & mask
            if entries[j].slot < 0 { break }
            let home = Self.home(entries[j].hash, mask)
            let stays = i <= j ? (i < home && home <= j) : (i < home || home <= j)
            if stays { continue }
            entries[i] = entries[j]
            i = j
        }
        entries[i].slot = -1
        count -= 1
    }

    private mutating func place(_ entry: Entry) {
        let mask = entries.count - 1
        var i = Self.home(entry.hash, mask)
        while entries[i].slot >= 0 { i = (i + 1) & mask }
        entries[i] = entry
    }

    private mutating func grow() {
        let old = entries
        entries = Array(repeating: Entry(hash: 0, slot: -1), count: max(16, old.count * 2))
        for e in old where e.slot >= 0 { place(e) }
    }
}
