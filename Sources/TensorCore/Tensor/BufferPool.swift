import Synchronization

/// Recycles the large buffers behind tensors. A training step allocates and frees the same large buffers
/// (activations, gradients) every iteration; handed back to the C allocator they are unmapped or trimmed
/// off the heap and the next step pays a page fault per 4 KiB to map them again (a quarter of LSTMAE's
/// training time before this pool). Buffers of at least ``minimumBytes`` are rounded up to whole pages and
/// kept on release, up to ``limitBytes`` in all (64 MiB for the shared pool; oldest dropped first); an
/// allocation takes the most recently released buffer of exactly its rounded size. Smaller buffers go
/// straight to the allocator.
public final class BufferPool: Sendable {
    /// The pool every tensor allocates from.
    public static let shared = BufferPool(limitBytes: 64 << 20)

    public static let minimumBytes = 64 << 10
    static let page = 4096
    static let alignment = 64

    /// A buffer owned by the pool; ownership moves with the entry, under the lock or to one caller.
    private struct Entry: @unchecked Sendable {
        let bytes: Int
        let pointer: UnsafeMutableRawPointer
    }

    private struct State: ~Copyable {
        var entries: [Entry] = []   // oldest first
        var cached = 0
        var limit: Int
    }

    private let state: Mutex<State>

    public init(limitBytes: Int) {
        precondition(limitBytes >= 0, "buffer pool limit must not be negative, got \(limitBytes)")
        state = Mutex(State(limit: limitBytes))
    }

    deinit {
        state.withLock { s in for e in s.entries { e.pointer.deallocate() } }
    }

    /// The most bytes kept for reuse; lowering it releases the excess now, 0 turns the pool off.
    public var limitBytes: Int {
        get { state.withLock { $0.limit } }
        set {
            precondition(newValue >= 0, "buffer pool limit must not be negative, got \(newValue)")
            let dropped = state.withLock { s -> [Entry] in
                s.limit = newValue
                return Self.evict(&s)
            }
            for e in dropped { e.pointer.deallocate() }
        }
    }

    /// Bytes held for reuse now.
    public var cachedBytes: Int { state.withLock { $0.cached } }

    /// The size a request of `bytes` is allocated and kept at.
    @usableFromInline
    static func rounded(_ bytes: Int) -> Int {
        bytes < minimumBytes ? bytes : (bytes + page - 1) / page * page
    }

    /// `bytes` uninitialised bytes, 64-byte aligned.
    @usableFromInline
    func allocate(bytes: Int) -> UnsafeMutableRawPointer {
        let size = Self.rounded(bytes)
        if size >= Self.minimumBytes {
            let reused = state.withLock { s -> UnsafeMutableRawPointer? in
                guard let k = s.entries.lastIndex(where: { $0.bytes == size }) else { return nil }
                s.cached -= size
                return s.entries.remove(at: k).pointer
            }
            if let reused { return reused }
        }
        return UnsafeMutableRawPointer.allocate(byteCount: size, alignment: Self.alignment)
    }

    /// Takes back a buffer from ``allocate(bytes:)`` of the same `bytes`.
    @usableFromInline
    func release(_ pointer: UnsafeMutableRawPointer, bytes: Int) {
        let size = Self.rounded(bytes)
        guard size >= Self.minimumBytes else { return pointer.deallocate() }
        let dropped = state.withLock { s -> [Entry] in
            guard size <= s.limit else { return [Entry(bytes: size, pointer: pointer)] }
            s.entries.append(Entry(bytes: size, pointer: pointer))
            s.cached += size
            return Self.evict(&s)
        }
        for e in dropped { e.pointer.deallocate() }
    }

    /// Removes the oldest entries until the pool is within its limit; the caller frees them outside the lock.
    private static func evict(_ s: inout State) -> [Entry] {
        var n = 0, cached = s.cached
        while cached > s.limit { cached -= s.entries[n].bytes; n += 1 }
        guard n > 0 else { return [] }
        let dropped = Array(s.entries[..<n])
        s.entries.removeFirst(n)
        s.cached = cached
        return dropped
    }
}
