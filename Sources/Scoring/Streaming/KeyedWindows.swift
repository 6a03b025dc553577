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
/// Not thread-safe: owned by the scoring thread.
public struct KeyedWindows<Key: Hashable> {
    public let length: Int
    public let features: Int
    public let capacity: Int

    private var index: [Key: Int32] = [:]
    private var keys: [Key?] = []
    private var values: [Float] = []       // slot × length × features, ring order
    private var stamps: [Int64] = []       // slot × length
    private var head: [Int32] = []         // ring index of the oldest row
    private var counts: [Int32] = []
    private var lastSeen: [Double] = []
    private var prev: [Int32] = [], next: [Int32] = []   // LRU list, most recent at `mru`
    private var mru: Int32 = -1, lru: Int32 = -1
    private var free: [Int32] = []

    public private(set) var evictions = 0
    public private(set) var expirations = 0

    public init(length: Int, features: Int, capacity: Int) {
        precondition(length >= 1 && features >= 1 && capacity >= 1, "invalid window store \(length)×\(features)×\(capacity)")
        (self.length, self.features, self.capacity) = (length, features, capacity)
    }

    public var count: Int { index.count }

    public func contains(_ key: Key) -> Bool { index[key] != nil }

    /// The slot of `key` if it has one (no side effect: not created, not touched).
    public func existingSlot(_ key: Key) -> Int? { index[key].map(Int.init) }

    /// The slot of `key`, creating it (and evicting the least recently used key if needed).
    /// Returns the slot and the evicted key, if any.
    public mutating func slot(for key: Key, now: Double) -> (slot: Int, evicted: Key?) {
        slot(for: key, now: now, admit: { true })
    }

    /// As ``slot(for:now:)``, for a store that shares a key limit with others (scoring workers): a new key
    /// asks `admit` whether the shared limit has room; when it has not, this store's least recently used key
    /// makes room (an empty store takes the key anyway).
    public mutating func slot(for key: Key, now: Double, admit: () -> Bool) -> (slot: Int, evicted: Key?) {
        if let s = index[key] {
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
            head.append(0); counts.append(0); lastSeen.append(0); prev.append(-1); next.append(-1)
        } else {
            s = lru
            evicted = keys[Int(s)]
            remove(slot: s)
            evictions += 1
        }
        keys[Int(s)] = key
        index[key] = s
        head[Int(s)] = 0
        counts[Int(s)] = 0
        link(s)
        lastSeen[Int(s)] = now
        return (Int(s), evicted)
    }

    /// Adds a row (`features` values) at `timestamp` to a slot.
    public mutating func append(slot s: Int, timestamp: Int64, row: UnsafeBufferPointer<Float>,
                                duplicates: DuplicatePolicy, late: LatePolicy) -> AppendOutcome {
        precondition(row.count == features, "row of \(row.count) values for \(features) features")
        let n = Int(counts[s])
        if n > 0 {
            let newestPos = (Int(head[s]) + n - 1) % length
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
            write(s, pos: (Int(head[s]) + n) % length, timestamp: timestamp, row)
            counts[s] = Int32(n + 1)
            return .stored(count: n + 1)
        }
        write(s, pos: Int(head[s]), timestamp: timestamp, row)   // overwrite the oldest
        head[s] = Int32((Int(head[s]) + 1) % length)
        return .stored(count: n)
    }

    private mutating func insertLate(_ s: Int, timestamp: Int64, row: UnsafeBufferPointer<Float>, duplicates: DuplicatePolicy) -> AppendOutcome {
        let n = Int(counts[s])
        var rows = (0..<n).map { i -> (Int64, [Float]) in
            let pos = (Int(head[s]) + i) % length
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
        head[s] = 0
        counts[s] = Int32(rows.count)
        return .stored(count: rows.count)
    }

    private mutating func write(_ s: Int, pos: Int, timestamp: Int64, _ row: UnsafeBufferPointer<Float>) {
        stamps[s * length + pos] = timestamp
        let base = (s * length + pos) * features
        for f in 0..<features { values[base + f] = row[f] }
    }

    /// Rows held for a slot.
    public func rowCount(slot s: Int) -> Int { Int(counts[s]) }

    /// The newest row's values of a slot.
    public func newestRow(slot s: Int) -> [Float]? {
        let n = Int(counts[s])
        guard n > 0 else { return nil }
        let pos = (Int(head[s]) + n - 1) % length
        return Array(values[((s * length + pos) * features)..<((s * length + pos + 1) * features)])
    }

    /// Copies a slot's rows, oldest first, into `out` (`count × features` floats) and returns the count.
    @discardableResult
    public func copyWindow(slot s: Int, into out: UnsafeMutablePointer<Float>) -> Int {
        let n = Int(counts[s])
        values.withUnsafeBufferPointer { v in
            for i in 0..<n {
                let pos = (Int(head[s]) + i) % length
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
    public mutating func appendWindow(slot s: Int, to out: inout [Float]) {
        let (n, start, l, f) = (Int(counts[s]), Int(head[s]), length, features)
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
        (0..<Int(counts[s])).map { stamps[s * length + (Int(head[s]) + $0) % length] }
    }

    public func key(slot s: Int) -> Key? { keys[s] }

    /// Removes keys not touched since `cutoff` (monotonic seconds); returns them.
    @discardableResult
    public mutating func expire(idleSince cutoff: Double) -> [Key] {
        var removed: [Key] = []
        while lru >= 0 && lastSeen[Int(lru)] < cutoff {
            let s = lru
            if let k = keys[Int(s)] { removed.append(k) }
            remove(slot: s)
            free.append(s)
            expirations += 1
        }
        return removed
    }

    public mutating func remove(_ key: Key) {
        guard let s = index[key] else { return }
        remove(slot: s)
        free.append(s)
    }

    private mutating func remove(slot s: Int32) {
        if let k = keys[Int(s)] { index[k] = nil }
        keys[Int(s)] = nil
        unlink(s)
        counts[Int(s)] = 0
    }

    private mutating func touch(_ s: Int32, now: Double) {
        lastSeen[Int(s)] = now
        guard mru != s else { return }
        unlink(s)
        link(s)
    }

    private mutating func link(_ s: Int32) {
        prev[Int(s)] = -1
        next[Int(s)] = mru
        if mru >= 0 { prev[Int(mru)] = s }
        mru = s
        if lru < 0 { lru = s }
    }

    private mutating func unlink(_ s: Int32) {
        let p = prev[Int(s)], n = next[Int(s)]
        if p >= 0 { next[Int(p)] = n } else if mru == s { mru = n }
        if n >= 0 { prev[Int(n)] = p } else if lru == s { lru = p }
        prev[Int(s)] = -1
        next[Int(s)] = -1
    }

    /// Every (key, slot) held, most recently used first (for listings).
    public var entries: [(Key, Int)] {
        var out: [(Key, Int)] = []
        var s = mru
        while s >= 0 {
            if let k = keys[Int(s)] { out.append((k, Int(s))) }
            s = next[Int(s)]
        }
        return out
    }
}
