import Foundation

/// A bounded multi-producer queue. `push` blocks while the queue holds `capacity` units of work, so a
/// slow consumer slows its producers down instead of losing accepted work; `popAll` takes everything
/// available, waiting up to a timeout when empty.
final class BlockingQueue<Element>: @unchecked Sendable {
    // @unchecked: every access to `items` and `load` happens under `condition`.
    private var items: [(Element, Int)] = []
    private var load = 0
    private let capacity: Int
    private let condition = NSCondition()

    init(capacity: Int) { self.capacity = capacity }

    /// Adds `element` weighing `weight` units (points, say), waiting for room.
    func push(_ element: Element, weight: Int = 1) {
        condition.lock()
        while load > 0 && load + weight > capacity { condition.wait() }
        items.append((element, weight))
        load += weight
        condition.broadcast()
        condition.unlock()
    }

    /// Everything queued; waits up to `timeout` seconds when nothing is.
    func popAll(timeout: Double) -> [Element] {
        condition.lock()
        defer { condition.unlock() }
        if items.isEmpty { _ = condition.wait(until: Date(timeIntervalSinceNow: timeout)) }
        let out = items.map(\.0)
        items.removeAll(keepingCapacity: true)
        load = 0
        condition.broadcast()
        return out
    }

    var depth: Int {
        condition.lock()
        defer { condition.unlock() }
        return load
    }
}
