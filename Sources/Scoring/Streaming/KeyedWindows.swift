/// What to do with a point whose timestamp equals the key's newest.
public enum DuplicatePolicy: String, Sendable { case replace, drop }
/// What to do with a point older than the key's newest.
public enum LatePolicy: String, Sendable {
    /// Reject it (counted).
    case drop
    /// Insert it in timestamp order when it falls inside the window; older points are rejected.
    case insert
}

/// The outcome of adding a point to a key's window.
public enum AppendOutcome: Equatable, Sendable {
    /// Stored; `count` rows are now held (the window is full when `count == length`).
    case stored(count: Int)
    /// Replaced the newest row (same timestamp).
    case replaced(count: Int)
    case rejectedDuplicate
    case rejectedLate
}

/// Sliding windows for many keys in slab arrays: each slot holds the newest `length` rows of `features`
/// values with their timestamps, in timestamp order. The number of slots is bounded by `capacity`; when
/// full, the least recently used key is evicted. Keys idle for longer than a timeout can be swept.
/// Memory is `capacity × length × (features + 2) × 4 bytes` plus the key table, whatever the cardinality.
///
/// Not thread-safe: owned by the scoring thread. The key lookups are pre-specialized for `[String]` (the daemon's
/// composite keys): called from another module unspecialized, every hash and comparison went through value
/// witnesses (a retain and release of the key per probe).
public struct KeyedWindows<Key: Hashable> {
    public let length: Int
    public let features: Int
    public let capacity: Int

    private var index = SlotIndex()
    private var keys: [Key?] = []
    private var values: [Float] = []       // slot × length × features, ring order
    private var stamps: [Int64] = []       // slot × length
    /// A slot's bookkeeping in one record (32 bytes): a point touches its slot's ring position, count, last-seen
    /// time and LRU links together, so together they cost one cache line, not five arrays' worth.
    @usableFromInline
    struct SlotMeta {
        var head: Int32 = 0        // ring index of the oldest row
        @usableFromInline var count: Int32 = 0
        var prev: Int32 = -1, next: Int32 = -1   // LRU list, most recent at `mru`
        var lastSeen: Double = 0
        var hash = 0               // the key's `hashValue` (its entry in `index`)
    }
    @usableFromInline private(set) var meta: [SlotMeta] = []
    private var mru: Int32 = -1, lru: Int32 = -1
    private var free: [Int32] = []

    public private(set) var evictions = 0
    public private(set) var expirations = 0

    public init(length: Int, features: Int, capacity: Int) {
        precondition(length >= 1 && features >= 1 && capacity >= 1, "invalid window store \(length)×\(features)×\(capacity)")
        (self.length, self.features, self.capacity) = (length, features, capacity)
    }

    public var count: Int { index.count }

    @_specialize(exported: true, where Key == [String])
    public func contains(_ key: Key) -> Bool { index.find(key, hash: key.hashValue, keys: keys) != nil }

    /// The slot of `key` if it has one (no side effect: not created, not touched).
    @_specialize(exported: true, where Key == [String])
    public func existingSlot(_ key: Key) -> Int? { index.find(key, hash: key.hashValue, keys: keys).map(Int.init) }

    /// The slot of `key`, creating it (and evicting the least recently used key if needed).
    /// Returns the slot and the evicted key, if any.
    public mutating func slot(for key: Key, now: Double) -> (slot: Int, evicted: Key?) {
        slot(for: key, now: now, admit: { true })
    }

    /// As ``slot(for:now:)``, for a store that shares a key limit with others (scoring workers): a new key
    /// asks `admit` whether the shared limit has room; when it has not, this store's least recently used key
    /// makes room (an empty store takes the key anyway).
    @_specialize(exported: true, where Key == [String])
    public mutating func slot(for key: Key, now: Double, admit: () -> Bool) -> (slot: Int, evicted: Key?) {
        slot(for: key, hash: key.hashValue, now: now, admit: admit)
    }

    /// Hints that the key table's entry for a key of `hash` (its `hashValue`) will be read soon: a batch asks for its
    /// points' keys a few points ahead, so that with thousands of keys the table's misses overlap the work between.
    @_specialize(exported: true, where Key == [String])
    public func prefetchKey(hash: Int) { index.prefetch(hash: hash) }

    /// ``slot(for:now:admit:)`` with the key's `hashValue` already computed (for ``prefetchKey(hash:)``).
    @_specialize(exported: true, where Key == [String])
    public mutating func slot(for key: Key, hash: Int, now: Double, admit: () -> Bool) -> (slot: Int, evicted: Key?) {
        assert(hash == key.hashValue, "the hash given is not the key's")
        if let s = index.find(key, hash: hash, keys: keys) {
            touch(s, now: now)
            return (Int(s), nil)
        }
        var evicted: Key?
        if !admit(), lru >= 0 {
            let victim = lru
            evicted = keys[Int(victim)]
            remove(slot: victim)
            free.append(victim)
            evictions += 1
        }
        let s: Int32
        if let f = free.popLast() {
            s = f
        } else if keys.count < capacity {
            s = Int32(keys.count)
            keys.append(nil)
            values.append(contentsOf: repeatElement(0, count: length * features))
            stamps.append(contentsOf: repeatElement(0, count: length))
            meta.append(SlotMeta())
        } else {
            s = lru
            evicted = keys[Int(s)]
            remove(slot: s)
            evictions += 1
        }
        keys[Int(s)] = key
        index.insert(hash: hash, slot: s)
        meta[Int(s)].hash = hash
        meta[Int(s)].head = 0
        meta[Int(s)].count = 0
        link(s)
        meta[Int(s)].lastSeen = now
        return (Int(s), evicted)
    }

    /// Adds a row (`features` values) at `timestamp` to a slot.
    @_specialize(exported: true, where Key == [String])
    public mutating func append(slot s: Int, timestamp: Int64, row: UnsafeBufferPointer<Float>,
                                duplicates: DuplicatePolicy, late: LatePolicy) -> AppendOutcome {
        precondition(row.count == features, "row of \(row.count) values for \(features) features")
        let n = Int(meta[s].count)
        if n > 0 {
            let newestPos = (Int(meta[s].head) + n - 1) % length
            let newest = stamps[s * length + newestPos]
            if timestamp == newest {
                guard duplicates == .replace else { return .rejectedDuplicate }
                write(s, pos: newestPos, timestamp: timestamp, row)
                return .replaced(count: n)
            }
            if timestamp < newest {
                guard late == .insert else { return .rejectedLate }
                return insertLate(s, timestamp: timestamp, row: row, duplicates: duplicates)
            }
        }
        if n < length {
            write(s, pos: (Int(meta[s].head) + n) % length, timestamp: timestamp, row)
            meta[s].count = Int32(n + 1)
            return .stored(count: n + 1)
        }
        write(s, pos: Int(meta[s].head), timestamp: timestamp, row)   // overwrite the oldest
        meta[s].head = Int32((Int(meta[s].head) + 1) % length)
        return .stored(count: n)
    }

    private mutating func insertLate(_ s: Int, timestamp: Int64, row: UnsafeBufferPointer<Float>, duplicates: DuplicatePolicy) -> AppendOutcome {
        let n = Int(meta[s].count)
        var rows = (0..<n).map { i -> (Int64, [Float]) in
            let pos = (Int(meta[s].head) + i) % length
            return (stamps[s * length + pos], Array(values[((s * length + pos) * features)..<((s * length + pos + 1) * features)]))
        }
        if let existing = rows.firstIndex(where: { $0.0 == timestamp }) {
            guard duplicates == .replace else { return .rejectedDuplicate }
            rows[existing].1 = Array(row)
        } else {
            // Older than everything in a full window: it would be evicted at once.
            if n == length && timestamp < rows[0].0 { return .rejectedLate }
            let at = rows.firstIndex { $0.0 > timestamp } ?? rows.count
            rows.insert((timestamp, Array(row)), at: at)
            if rows.count > length { rows.removeFirst() }
        }
        for (i, r) in rows.enumerated() { r.1.withUnsafeBufferPointer { write(s, pos: i, timestamp: r.0, $0) } }
        meta[s].head = 0
        meta[s].count = Int32(rows.count)
        return .stored(count: rows.count)
    }

    private mutating func write(_ s: Int, pos: Int, timestamp: Int64, _ row: UnsafeBufferPointer<Float>) {
        stamps[s * length + pos] = timestamp
        let base = (s * length + pos) * features
        for f in 0..<features { values[base + f] = row[f] }
    }

    /// Rows held for a slot. (Inlinable: called on a window store held in a class's array, a call copied the
    /// whole store — retaining each of its arrays — to pass it.)
    @inlinable
    public func rowCount(slot s: Int) -> Int { Int(meta[s].count) }

    /// The newest row's values of a slot.
    @_specialize(exported: true, where Key == [String])
    public func newestRow(slot s: Int) -> [Float]? {
        let n = Int(meta[s].count)
        guard n > 0 else { return nil }
        let pos = (Int(meta[s].head) + n - 1) % length
        return Array(values[((s * length + pos) * features)..<((s * length + pos + 1) * features)])
    }

    /// Copies a slot's rows, oldest first, into `out` (`count × features` floats) and returns the count.
    @discardableResult
    @_specialize(exported: true, where Key == [String])
    public func copyWindow(slot s: Int, into out: UnsafeMutablePointer<Float>) -> Int {
        let n = Int(meta[s].count)
        values.withUnsafeBufferPointer { v in
            for i in 0..<n {
                let pos = (Int(meta[s].head) + i) % length
                (out + i * features).update(from: v.baseAddress! + (s * length + pos) * features, count: features)
            }
        }
        return n
    }

    /// Appends a slot's full window (`length × features` floats, oldest row first; rows the slot does not hold yet
    /// are zeros) to `out`. Unlike ``copyWindow(slot:into:)`` it needs no pointer closure around the call, in which
    /// the caller's stored windows would be copied (every array of them retained and released) once per call.
    /// `mutating` although it changes nothing: called on a class's stored windows while the caller holds another
    /// `inout` (`&groups[id].windows`), a non-mutating call was compiled as a copy of the whole `KeyedWindows`.
    @_specialize(exported: true, where Key == [String])
    public mutating func appendWindow(slot s: Int, to out: inout [Float]) {
        let (n, start, l, f) = (Int(meta[s].count), Int(meta[s].head), length, features)
        out.reserveCapacity(out.count + l * f)
        // (No closure captures `self` here either: that copied the windows too.)
        values.withUnsafeBufferPointer { v in
            for i in 0..<n {
                out.append(contentsOf: UnsafeBufferPointer(start: v.baseAddress! + (s * l + (start + i) % l) * f, count: f))
            }
        }
        if n < l { out.append(contentsOf: repeatElement(0, count: (l - n) * f)) }
    }

    public func timestamps(slot s: Int) -> [Int64] {
        (0..<Int(meta[s].count)).map { stamps[s * length + (Int(meta[s].head) + $0) % length] }
    }

    public func key(slot s: Int) -> Key? { keys[s] }

    /// Removes keys not touched since `cutoff` (monotonic seconds); returns them.
    @discardableResult
    @_specialize(exported: true, where Key == [String])
    public mutating func expire(idleSince cutoff: Double) -> [Key] {
        var removed: [Key] = []
        while lru >= 0 && meta[Int(lru)].lastSeen < cutoff {
            let s = lru
            if let k = keys[Int(s)] { removed.append(k) }
            remove(slot: s)
            free.append(s)
            expirations += 1
        }
        return removed
    }

    @_specialize(exported: true, where Key == [String])
    public mutating func remove(_ key: Key) {
        guard let s = index.find(key, hash: key.hashValue, keys: keys) else { return }
        remove(slot: s)
        free.append(s)
    }

    private mutating func remove(slot s: Int32) {
        if keys[Int(s)] != nil { index.remove(hash: meta[Int(s)].hash, slot: s) }
        keys[Int(s)] = nil
        unlink(s)
        meta[Int(s)].count = 0
    }

    private mutating func touch(_ s: Int32, now: Double) {
        meta[Int(s)].lastSeen = now
        guard mru != s else { return }
        unlink(s)
        link(s)
    }

    private mutating func link(_ s: Int32) {
        meta[Int(s)].prev = -1
        meta[Int(s)].next = mru
        if mru >= 0 { meta[Int(mru)].prev = s }
        mru = s
        if lru < 0 { lru = s }
    }

    private mutating func unlink(_ s: Int32) {
        let p = meta[Int(s)].prev, n = meta[Int(s)].next
        if p >= 0 { meta[Int(p)].next = n } else if mru == s { mru = n }
        if n >= 0 { meta[Int(n)].prev = p } else if lru == s { lru = p }
        meta[Int(s)].prev = -1
        meta[Int(s)].next = -1
    }

    /// Every (key, slot) held, most recently used first (for listings).
    public var entries: [(Key, Int)] {
        var out: [(Key, Int)] = []
        var s = mru
        while s >= 0 {
            if let k = keys[Int(s)] { out.append((k, Int(s))) }
            s = meta[Int(s)].next
        }
        return out
    }
}
