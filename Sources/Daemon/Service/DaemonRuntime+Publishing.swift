import Foundation
import Scoring
import Stage
import SystemCalls
import ZMQ

// MARK: publisher thread

extension DaemonRuntime {
    /// The output sockets' thread: sends the train requests and dead letters of the workers (and of the ingest
    /// thread), in the order each produced them. It ends when every worker has stopped, after writing their windows'
    /// snapshot and flushing the sockets (the score socket's too: the workers send on it themselves).
    func publishLoop() {
        defer { publisherDone.signal() }
        let trainRequests: ZMQSocket?, deadLetter: ZMQSocket?
        do {
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
        func publish(_ emissions: consuming [Emission]) {
            for e in emissions.draining() {
                switch consume e {
                case .score: preconditionFailure("a score handed to the publisher: the workers send their own")
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
        let (accepted, published) = scores.counts
        logger.info("scoring drained", metadata: ["accepted": "\(accepted)", "published": "\(published)"])
        ScoringEngine.writeSnapshot(of: stopped.sorted { $0.shard.index < $1.shard.index })
        scores.close()
        trainRequests?.close()
        deadLetter?.close()
    }
}
