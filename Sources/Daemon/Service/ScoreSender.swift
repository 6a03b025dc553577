import Foundation
import Logging
import Stage
import SystemCalls
import ZMQ

/// The score socket, shared by the scoring workers: each worker sends its own scores, in the order it produced
/// them, under one lock (a ZeroMQ socket is used by one thread at a time; the lock's barrier is what libzmq asks of
/// a socket that moves between threads). A score used to go through the publisher thread: one more thread to wake
/// per point, a third of the daemon's time at 100k points/s spent switching threads.
/// What is not a score (train requests, points the windows refused) still goes to the publisher.
final class ScoreSender: @unchecked Sendable {
    // @unchecked: the socket, `topic`, `arrivals` and `limiter` are touched only under `lock`.
    private let socket: ZMQSocket
    private let metrics: ScoringMetrics
    private let lock = NSLock()
    private var topic: [UInt8] = []
    /// The arrivals of a batch's sent scores: their latencies are recorded once the batch is sent, against one clock
    /// read (a latency is over-reported by at most the rest of its batch's sending, never under-reported).
    private var arrivals: [Double] = []
    private var limiter: RateLimitedLog
    private var closed = false
    /// Scores handed to the sender, and those the socket took.
    private var accepted = 0, sent = 0

    init(socket: ZMQSocket, metrics: ScoringMetrics, logger: Logger) {
        (self.socket, self.metrics) = (socket, metrics)
        limiter = RateLimitedLog(logger: logger, perSeconds: 10)
    }

    /// Sends the scores among `emissions` (in order) and returns the rest, in order, for the publisher.
    func send(_ emissions: consuming [Emission]) -> [Emission] {
        var rest: [Emission] = []
        lock.lock()
        defer { lock.unlock() }
        precondition(!closed, "a score sent after the score socket closed")
        for e in emissions.draining() {
            guard case .score(let key, let body, let arrival, let status, let anomalyOf) = e else {
                rest.append(e)
                continue
            }
            accepted += 1
            do throws(ZMQError) {
                if socket.kind == .pub {
                    topic.removeAll(keepingCapacity: true)
                    for (i, v) in key.enumerated() {
                        if i > 0 { topic.append(UInt8(ascii: ":")) }
                        topic.append(contentsOf: v.utf8)
                    }
                    try socket.send(topic, body, dontWait: true)
                } else {
                    try socket.send(body, dontWait: true)
                }
                sent += 1
                metrics.answered(status, anomalyOf: anomalyOf)
                arrivals.append(arrival)
            } catch {
                // The consumer is not reading (its queue is at the high-water mark) or none is connected.
                metrics.outputDropped("scores")
                limiter.log("score not sent", ["reason": "scores_\(error.kind == .wouldBlock ? "full" : "failed")", "error": "\(error)"])
            }
        }
        if !arrivals.isEmpty {
            let now = MonotonicClock.now()
            for a in arrivals { metrics.latency.record(now - a) }
            arrivals.removeAll(keepingCapacity: true)
        }
        return rest
    }

    /// Scores handed to the sender so far, and those sent.
    var counts: (accepted: Int, sent: Int) { lock.lock(); defer { lock.unlock() }; return (accepted, sent) }

    /// Closes the socket (flushing what is queued, up to its linger); every worker has stopped.
    func close() {
        lock.lock()
        defer { lock.unlock() }
        closed = true
        socket.close()
    }
}
