import Foundation
import Scoring
import Stage
import SystemCalls
import ZMQ

// MARK: publisher thread

extension DaemonRuntime {
    /// The output sockets' thread: sends what the workers encoded (scores, train requests) and what was
    /// rejected (dead letters), in the order each worker produced it, and records latency from arrival to send.
    /// It ends when every worker has stopped, after writing their windows' snapshot and flushing the sockets.
    func publishLoop() {
        defer { publisherDone.signal() }
        let scores: ZMQSocket, trainRequests: ZMQSocket?, deadLetter: ZMQSocket?
        do {
            scores = try open(config.outputs.scores, role: "outputs.scores", receiving: false)
            trainRequests = link == nil ? try open(config.outputs.trainRequests, role: "outputs.train_requests", receiving: false, highWaterMark: 10_000) : nil
            // Dead letters hold at most DeadLetter.copyBytes of their message: 1,000 of them bound the queue to ~16 MB.
            deadLetter = try config.outputs.deadLetter.map { try open($0, role: "outputs.dead_letter", receiving: false, highWaterMark: 1_000) }
        } catch {
            startupError = error
            startup.signal()
            return
        }
        startup.signal()
        var limiter = RateLimitedLog(logger: logger, perSeconds: 10)
        var accepted = 0, published = 0
        var topic: [UInt8] = []
        // The arrivals of a batch's published scores: their latencies are recorded once the batch is sent, against one
        // clock read (a read per output was a tenth of this thread; a latency is over-reported by at most the rest of
        // its batch's sending, never under-reported).
        var arrivals: [Double] = []
        func publish(_ emissions: consuming [Emission]) {
            defer {
                let now = MonotonicClock.now()
                for a in arrivals { metrics.latency.record(now - a) }
                arrivals.removeAll(keepingCapacity: true)
            }
            for e in emissions.draining() {
                switch consume e {
                case .score(let key, let body, let arrival, let status, let anomalyOf):
                    accepted += 1
                    do throws(ZMQError) {
                        if scores.kind == .pub {
                            topic.removeAll(keepingCapacity: true)
                            for (i, v) in key.enumerated() {
                                if i > 0 { topic.append(UInt8(ascii: ":")) }
                                topic.append(contentsOf: v.utf8)
                            }
                            try scores.send(topic, body, dontWait: true)
                        } else {
                            try scores.send(body, dontWait: true)
                        }
                        published += 1
                        metrics.answered(status, anomalyOf: anomalyOf)
                        arrivals.append(arrival)
                    } catch {
                        // The consumer is not reading (its queue is at the high-water mark) or none is connected.
                        metrics.outputDropped("scores")
                        limiter.log("score not sent", ["reason": "scores_\(error.kind == .wouldBlock ? "full" : "failed")", "error": "\(error)"])
                    }
                case .trainRequest(let request):
                    if let link {
                        link.trainRequest(request)
                        metrics.trainRequests.increment()
                        continue
                    }
                    do {
                        try trainRequests?.send(request.json, dontWait: true)
                        metrics.trainRequests.increment()
                    } catch {
                        metrics.trainRequestsDropped.increment()
                        metrics.outputDropped("train_requests")
                    }
                case .rejected(let r, let source, let index):
                    reject(r, frames: source ?? [], totalBytes: nil, point: index)
                }
            }
        }
        func reject(_ r: Rejection, frames: [[UInt8]], totalBytes: Int?, point: Int?) {
            metrics.rejected(r.reason)
            limiter.log("input rejected", ["reason": r.reason.rawValue, "detail": r.detail])
            guard let deadLetter else { return }
            do {
                try deadLetter.send(DeadLetter.frames(r, original: frames, totalBytes: totalBytes, point: point), dontWait: true)
            } catch {
                metrics.deadLettersDropped.increment()
                metrics.outputDropped("dead_letter")
            }
        }
        var stopped: [ScoringEngine] = []
        while stopped.count < workers.count {
            for var item in outputs.popAll(timeout: 0.25).draining() {
                if let e = item.takeEmissions() {
                    publish(e)
                    continue
                }
                switch consume item {
                case .emissions: break   // (taken above)
                case .rejected(let frames, let r, let total, let point): reject(r, frames: frames, totalBytes: total, point: point)
                case .stopped(let engine): stopped.append(engine)
                }
            }
        }
        logger.info("scoring drained", metadata: ["accepted": "\(accepted)", "published": "\(published)"])
        ScoringEngine.writeSnapshot(of: stopped.sorted { $0.shard.index < $1.shard.index })
        scores.close()
        trainRequests?.close()
        deadLetter?.close()
    }
}
