/// Entries by key, each with the time it was last used, laid out so that finding the least recently used reads only
/// the times: one contiguous array of numbers, not the entries. The model registry evicts from it under key churn; a
/// dictionary of (entry, time) pairs had to be walked entry by entry there, copying and retaining every cold model
/// it held (a fifth of the daemon in the strict-rotation churn row).
///
/// A value type over plain arrays (slots reused through a free list): tested without threads.
struct UsageTable<Key: Hashable, Value> {
    private var slots: [Key: Int] = [:]
    private var keys: [Key?] = []
    private var values: [Value?] = []
    /// Last use per slot; a free slot's is +infinity, so it is never among the least recently used.
    private var times: [Double] = []
    private var free: [Int] = []

    var count: Int { slots.count }

    subscript(key: Key) -> Value? { slots[key].flatMap { values[$0] } }

    /// `key`'s value, marked used at `now`.
    mutating func touch(_ key: Key, now: Double) -> Value? {
        guard let i = slots[key] else { return nil }
        times[i] = now
        return values[i]
    }

    /// Sets `key`'s value; `usedAt` nil keeps its time (0 for a new key). Returns the value it replaced.
    @discardableResult
    mutating func set(_ key: Key, _ value: Value, usedAt: Double? = nil) -> Value? {
        if let i = slots[key] {
            let old = values[i]
            values[i] = value
            if let usedAt { times[i] = usedAt }
            return old
        }
        let i: Int
        if let reused = free.popLast() {
            i = reused
            (keys[i], values[i], times[i]) = (key, value, usedAt ?? 0)
        } else {
            i = keys.count
            keys.append(key)
            values.append(value)
            times.append(usedAt ?? 0)
        }
        slots[key] = i
        return nil
    }

    /// Removes `key`; returns its value.
    @discardableResult
    mutating func remove(_ key: Key) -> Value? {
        guard let i = slots.removeValue(forKey: key) else { return nil }
        let old = values[i]
        (keys[i], values[i], times[i]) = (nil, nil, .infinity)
        free.append(i)
        return old
    }

    /// The `n` least recently used keys (ties in slot order), at most `count`; `sparing` is never among them.
    func leastRecentlyUsed(_ n: Int, sparing: Key? = nil) -> [Key] {
        var times = times
        let spared = sparing.flatMap { slots[$0] }
        if let spared { times[spared] = .infinity }   // ranked as a free slot
        let n = Swift.min(n, count - (spared == nil ? 0 : 1))
        guard n > 0 else { return [] }
        var sorted = times
        sorted.sort()
        let cutoff = sorted[n - 1]
        var out: [Key] = []
        out.reserveCapacity(n)
        for i in times.indices where times[i] < cutoff { out.append(keys[i]!) }
        for i in times.indices where out.count < n && times[i] == cutoff { out.append(keys[i]!) }
        return out
    }

    /// Every entry, in no particular order.
    var entries: [(key: Key, value: Value)] {
        slots.map { ($0.key, values[$0.value]!) }
    }
}
