import Foundation
import Logging
import Stage
import SystemCalls

/// Writes accepted points into the history file on its own thread, from its own bounded queue (rows beyond
/// `history.queue_capacity` are dropped and counted, never blocking the daemon), and applies retention every 10 s.
/// `onNewRows` is called after rows were written (new rows can make a model due).
final class HistoryWriter: @unchecked Sendable {
    // @unchecked: `queue` is thread-safe; everything else is touched by the writer thread only, or immutable.
    let history: HistoryStore
    let metrics: RetrainMetrics
    let logger: Logger
    let retention: [String: Retention]
    private let queue: BlockingQueue<[HistoryRow]>

    init(history: HistoryStore, capacity: Int, retention: [String: Retention], metrics: RetrainMetrics, logger: Logger) {
        (self.history, self.retention, self.metrics, self.logger) = (history, retention, metrics, logger)
        queue = BlockingQueue(capacity: capacity)
    }

    /// Queues rows without waiting; false (and counted) when the queue is full.
    @discardableResult
    func submit(_ rows: [HistoryRow]) -> Bool {
        guard !rows.isEmpty else { return true }
        if queue.tryPush(rows, weight: rows.count) { return true }
        metrics.historyDropped.increment(by: Int64(rows.count))
        return false
    }

    var depth: Int { queue.depth }

    /// Appends one chunk, retrying once (a busy file, say); after a second failure the rows are dropped and counted.
    private func write(_ chunk: [HistoryRow]) -> Bool {
        for attempt in 1...2 {
            do {
                let r = try history.append(chunk)
                metrics.historyRows.increment(by: Int64(r.inserted))
                metrics.historyReplaced.increment(by: Int64(r.replaced))
                metrics.historyTrimmed.increment(by: Int64(r.trimmed))
                return true
            } catch {
                metrics.historyWriteErrors.increment()
                logger.error("history write failed", metadata: ["error": "\(error)", "rows": "\(chunk.count)", "attempt": "\(attempt)"])
            }
        }
        metrics.historyDropped.increment(by: Int64(chunk.count))
        return false
    }

    /// The writer thread's loop: returns once `isStopping()` and everything queued is written.
    func run(isStopping: () -> Bool, onNewRows: () -> Void) {
        var nextRetention = MonotonicClock.now() + 1
        while true {
            let stoppingNow = isStopping()
            var rows: [HistoryRow] = []
            for b in queue.popAll(timeout: 0.2) { rows += b }
            var wrote = false
            var offset = 0
            while offset < rows.count {
                let chunk = Array(rows[offset..<min(offset + 50_000, rows.count)])
                offset += chunk.count
                if write(chunk) { wrote = true }
            }
            metrics.historyQueue.set(Int64(queue.depth))
            let now = MonotonicClock.now()
            if now >= nextRetention {
                nextRetention = now + 10
                do {
                    metrics.historyTrimmed.increment(by: Int64(try history.enforceRetention(retention)))
                } catch {
                    logger.error("history retention failed", metadata: ["error": "\(error)"])
                }
                if let (_, keys) = try? history.totals() { metrics.historyKeys.set(Int64(keys)) }
            }
            if wrote { onNewRows() }
            if stoppingNow && queue.depth == 0 { break }
        }
    }
}
