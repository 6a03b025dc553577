import Synchronization

/// A limit shared by the scoring workers of a process: `windows.max_keys` (per pipeline) for their windows,
/// `store.max_models` for their model caches. Each pipeline's keys over all workers stay within it, while a worker that happens to own more keys than another may hold more of them. A worker whose
/// new key finds no room evicts its own least recently used key (KeyedWindows.slot(for:now:admit:)). Asked
/// only for new keys, so one lock is cheap.
public final class KeyBudget: Sendable {
    public let limit: Int
    private let used: Mutex<[Int]>

    public init(limit: Int, pipelines: Int) {
        self.limit = limit
        used = Mutex(Array(repeating: 0, count: max(1, pipelines)))
    }

    /// Takes room for one new key of `pipeline`; false when the limit is reached.
    public func take(_ pipeline: Int) -> Bool {
        used.withLock { u in
            guard u[pipeline] < limit else { return false }
            u[pipeline] += 1
            return true
        }
    }

    /// Takes room whatever the limit (a worker's first key).
    public func force(_ pipeline: Int) { used.withLock { $0[pipeline] += 1 } }

    /// Gives back room for `count` keys of `pipeline` that went (expired).
    public func release(_ pipeline: Int, _ count: Int) {
        guard count > 0 else { return }
        used.withLock { $0[pipeline] -= count }
    }

    public func used(_ pipeline: Int) -> Int { used.withLock { $0[pipeline] } }
}
