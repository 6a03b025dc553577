/// Which of a process's scoring workers owns a key. A key always lands on the same worker, so its window,
/// score state and model cache stay confined to one thread (`windows.workers`). The hash is FNV-1a over the
/// key's UTF-8 values (each followed by a 0 byte), finalized by MurmurHash3's fmix64: stable across processes and runs, so a window snapshot
/// written by one worker count is read back by another.
public struct KeyShard: Sendable, Equatable, CustomStringConvertible {
    public let index: Int
    public let count: Int

    /// Everything on one worker (the UDF, tools, tests).
    public static let whole = KeyShard(index: 0, count: 1)

    public init(index: Int, count: Int) {
        precondition(count >= 1 && index >= 0 && index < count, "shard \(index) of \(count)")
        (self.index, self.count) = (index, count)
    }

    /// The worker of `key` among `count`.
    @inline(__always)
    public static func of(_ key: [String], count: Int) -> Int {
        guard count > 1 else { return 0 }
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for value in key {
            for b in value.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
            h = (h ^ 0) &* 0x0000_0100_0000_01b3
        }
        // FNV alone leaves the low bits of keys that differ in their last byte alike ("k0", "k1", …): a
        // finalizer (MurmurHash3's fmix64) spreads every input bit over the whole word.
        h ^= h >> 33
        h = h &* 0xff51_afd7_ed55_8ccd
        h ^= h >> 33
        h = h &* 0xc4ce_b9fe_1a85_ec53
        h ^= h >> 33
        return Int(h % UInt64(count))
    }

    public func owns(_ key: [String]) -> Bool { count == 1 || Self.of(key, count: count) == index }

    /// A model for this key is this worker's to hold: its own keys' models, and every pipeline-wide model
    /// (empty key), which each worker holds a copy of.
    public func holdsModel(of key: [String]) -> Bool { key.isEmpty || owns(key) }

    public var description: String { "\(index)/\(count)" }
}
