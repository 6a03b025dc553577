/// The model loader's work list: the ids the scoring thread asked about, oldest first, less those it evicted before
/// the loader reached them. Under churn through more keys than `store.max_models` the scoring thread asks faster
/// than checkpoints can be read, and an id is often evicted before its turn: reading its checkpoint then was wasted
/// work on the cores the scoring workers share (two fifths of the daemon in the strict-rotation churn row).
///
/// An eviction cancels an earlier request for the same id; a request after an eviction asks again. A value type (no
/// clock, no threads): the loader applies the scoring thread's events in the order they were made and takes a few
/// ids at a time, applying newer events in between.
struct LoadQueue<ID: Hashable> {
    private var order: [ID] = []
    private var head = 0
    private var pending: Set<ID> = []

    /// Ids asked for and neither taken nor cancelled.
    var count: Int { pending.count }
    var isEmpty: Bool { pending.isEmpty }

    /// `id` is wanted (again); nothing if it already waits.
    mutating func want(_ id: ID) {
        if pending.insert(id).inserted { order.append(id) }
    }

    /// `id` was evicted: a waiting request for it is cancelled. True when one was.
    @discardableResult
    mutating func cancel(_ id: ID) -> Bool {
        pending.remove(id) != nil
    }

    /// Up to `limit` waiting ids, oldest request first; they no longer wait.
    mutating func take(_ limit: Int) -> [ID] {
        var out: [ID] = []
        while out.count < limit, head < order.count {
            let id = order[head]
            head += 1
            // A cancelled id's place is skipped; one asked again after a cancel is taken at its first place.
            if pending.remove(id) != nil { out.append(id) }
        }
        if head == order.count || head > 4_096 && head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
        return out
    }
}
