import Foundation

/// A bounded multi-producer queue. `push` blocks while the queue holds `capacity` units of work, so a
/// slow consumer slows its producers down instead of losing accepted work; `popAll` takes everything
/// available, waiting up to a timeout when empty.
public final class BlockingQueue<Element>: @unchecked Sendable {
    // @unchecked: every access to `items` and `load` happens under `condition`.
    // The weights are only summed (`popAll` takes everything, so the load drops to zero), not kept per item: the
    // queue's storage is handed out whole, without copying (retaining and releasing) its elements one by one.
    private var items: [Element] = []
    private var load = 0
    private let capacity: Int
    private let condition = NSCondition()

    public init(capacity: Int) { self.capacity = capacity }

    /// Adds `element` weighing `weight` units (points, say), waiting for room.
    /// (`element` is consumed: moved into the queue under the lock. Borrowed, the queue held a copy and the caller's
    /// reference went only after the lock was released — a consumer already draining it found it shared and copied it.)
    public func push(_ element: consuming Element, weight: Int = 1) {
        condition.lock()
        while load > 0 && load + weight > capacity { condition.wait() }
        items.append(consume element)
        load += weight
        condition.broadcast()
        condition.unlock()
    }

    /// Adds `element` if it fits now; false (nothing queued) when the queue is full.
    public func tryPush(_ element: consuming Element, weight: Int = 1) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard load == 0 || load + weight <= capacity else { return false }
        items.append(consume element)
        load += weight
        condition.broadcast()
        return true
    }

    /// Everything queued; waits up to `timeout` seconds when nothing is.
    public func popAll(timeout: Double) -> [Element] {
        condition.lock()
        defer { condition.unlock() }
        if items.isEmpty { _ = condition.wait(until: Date(timeIntervalSinceNow: timeout)) }
        var out: [Element] = []
        swap(&out, &items)
        items.reserveCapacity(out.count)
        load = 0
        condition.broadcast()
        return out
    }

    /// Waits up to `timeout` seconds for something to be queued (nothing is taken).
    public func waitForItems(timeout: Double) {
        condition.lock()
        defer { condition.unlock() }
        if items.isEmpty { _ = condition.wait(until: Date(timeIntervalSinceNow: timeout)) }
    }

    /// Whether nothing is queued.
    public var isEmpty: Bool {
        condition.lock()
        defer { condition.unlock() }
        return items.isEmpty
    }

    public var depth: Int {
        condition.lock()
        defer { condition.unlock() }
        return load
    }
}
