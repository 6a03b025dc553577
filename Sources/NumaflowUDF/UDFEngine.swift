import Stage
import Foundation
import Logging
import Scoring
import TensorCore
import ZMQ
import SystemCalls

/// One Numaflow message, as the engine sees it.
public struct UDFRequest: Sendable {
    public var id: String
    public var keys: [String]
    public var value: [UInt8]
    public init(id: String, keys: [String], value: [UInt8]) { (self.id, self.keys, self.value) = (id, keys, value) }
}

/// One result message for Numaflow: keys, value, and tags that conditional forwarding routes on.
public struct UDFResult: Sendable, Equatable {
    public var keys: [String]
    public var value: [UInt8]
    public var tags: [String]

    /// A score (numalogic's OutputPayload, as the daemon publishes it).
    public static let outputTag = "output"
    /// A train request (§5), for a vertex that feeds the retrain stage (numalogic routes these as `train`).
    public static let trainTag = "train"
    /// Input that could not be accepted, with the reason: route it to a dead-letter sink or drop it.
    public static let deadLetterTag = "dead_letter"
}

/// The daemon's scoring (per-key windows, the model registry with hot swap over the store, the scoring
/// engine) behind Numaflow's map protocol: requests are answered on one dedicated scoring thread, in order.
///
/// Numaflow delivers at least once. A message redelivered with the same request id gets the answer it got
/// the first time without touching any state (a bounded cache of recent ids); a point redelivered under a
/// new id replaces the window's newest point rather than shifting the window (duplicate_policy replace),
/// or is answered as a late point.
public final class UDFEngine: @unchecked Sendable {
    // @unchecked: the engine, the id cache and the decoder are touched only by the scoring thread; the
    // work queue is a thread-safe BlockingQueue.
    public let config: AEFlowConfig
    public let metrics: ScoringMetrics
    public let models: ModelRegistry
    let logger: Logger
    /// The one way in (decoding and routing).
    let ingest: Ingest
    private let queue = BlockingQueue<Work>(capacity: 65_536)
    private let finished = DispatchSemaphore(value: 0)
    private var answered: [String: [UDFResult]] = [:]
    private var answeredOrder: [String] = []
    private var answeredHead = 0
    public let idCacheSize: Int
    /// Where scores also go (remote write); set before `start`.
    public var scoreSink: ScoreSink?

    enum Work {
        case request(UDFRequest, reply: @Sendable ([UDFResult]) -> Void)
        case stop
    }

    public init(config: AEFlowConfig, logger: Logger, idCacheSize: Int = 100_000) {
        self.config = config
        self.logger = logger
        self.idCacheSize = idCacheSize
        metrics = ScoringMetrics()
        models = ModelRegistry(config: config, metrics: metrics, logger: logger)
        ingest = Ingest(config: config)
    }

    /// Starts the model loader and the scoring thread.
    public func start() {
        models.start()
        let t = ThreadName.thread("aeflow-udf-scoring") { [self] in loop() }
        t.start()
    }

    /// Answers every queued request, then stops.
    public func stop() {
        queue.push(.stop)
        finished.wait()
        models.stop()
    }

    /// The results for one message (on the scoring thread; suspends the caller until they are ready).
    public func handle(_ request: UDFRequest) async -> [UDFResult] {
        await withCheckedContinuation { (c: CheckedContinuation<[UDFResult], Never>) in
            queue.push(.request(request, reply: { c.resume(returning: $0) }))
        }
    }

    /// The retrain feed: accepted values to `outputs.history`, train requests to `outputs.train_requests`
    /// (so an `aeflow retrain` sidecar can keep history and train), never blocking; scoring-thread only.
    private var historyFeed: ZMQSocket?
    private var trainFeed: ZMQSocket?
    private var feedContext: ZMQContext?

    private func openFeeds() {
        do {
            let ctx = try ZMQContext(ioThreads: 1, flushOnTerminate: false)
            feedContext = ctx
            let security = try SocketSecurity.load(config)
            func open(_ c: SocketConfig?) throws -> ZMQSocket? {
                try c?.open(ctx, as: c?.type == .pub ? .pub : .push, security: security) { try $0.setSendHighWaterMark(100_000) }
            }
            historyFeed = try open(config.outputs.history)
            trainFeed = try open(config.outputs.trainRequests)
        } catch {
            logger.error("retrain feed sockets not opened; scoring continues without them", metadata: ["error": "\(error)"])
        }
    }

    private func loop() {
        defer {
            historyFeed?.close()
            trainFeed?.close()
            finished.signal()
        }
        openFeeds()
        let engine = ScoringEngine(config: config, router: ingest.router, models: models, metrics: metrics, logger: logger, seed: UInt64(MonotonicClock.now() * 1e6))
        engine.scoreSink = scoreSink
        engine.restoreSnapshot()
        _ = models.waitForPreload(timeout: config.store.preloadTimeoutSeconds)
        engine.models.applyLoaderResults()
        defer { engine.writeSnapshot() }
        var nextExpiry = MonotonicClock.now() + 1
        while true {
            let items = queue.popAll(timeout: 0.25)
            if items.isEmpty { models.applyLoaderResults() }
            for item in items {
                switch item {
                case .stop:
                    return
                case .request(let r, let reply):
                    reply(answer(r, engine: engine))
                }
            }
            let now = MonotonicClock.now()
            if now >= nextExpiry {
                engine.expire(now: now)
                nextExpiry = now + 1
            }
        }
    }

    func answer(_ r: UDFRequest, engine: ScoringEngine) -> [UDFResult] {
        if !r.id.isEmpty, let previous = answered[r.id] {
            metrics.redelivered.increment()
            return previous
        }
        metrics.messagesIn.increment()
        let now = MonotonicClock.now()
        var results: [UDFResult] = []
        let outcome = ingest(r.value, arrival: now)
        if outcome.decoded, let historyFeed {
            do { try historyFeed.send(r.value, dontWait: true) } catch { metrics.historyDropped.increment() }
        }
        switch outcome {
        case .rejected(let rejection):
            results.append(deadLetter(rejection, request: r))
        case .window(let w):
            switch engine.processWindow(w, arrival: now, now: now) {
            case .success(let emissions): results = emissions.map { result($0, request: r) }
            case .failure(let rejection): results.append(deadLetter(rejection, request: r))
            }
        case .points(let routed, let refused):
            for f in refused { results.append(deadLetter(f.rejection, request: r)) }
            if !routed.isEmpty { results += engine.process(routed, now: now).map { result($0, request: r) } }
        }
        remember(r.id, results)
        return results
    }

    private func remember(_ id: String, _ results: [UDFResult]) {
        guard !id.isEmpty, idCacheSize > 0 else { return }
        answered[id] = results
        answeredOrder.append(id)
        if answeredOrder.count - answeredHead > idCacheSize {
            answered[answeredOrder[answeredHead]] = nil
            answeredHead += 1
            if answeredHead > idCacheSize {
                answeredOrder.removeFirst(answeredHead)
                answeredHead = 0
            }
        }
    }

    func result(_ e: Emission, request: UDFRequest) -> UDFResult {
        switch e {
        case .score(let key, let body, _, let status, let anomalyOf):
            metrics.answered(status, anomalyOf: anomalyOf)
            return UDFResult(keys: key, value: body, tags: [UDFResult.outputTag])
        case .trainRequest(let train):
            metrics.trainRequests.increment()
            let body = train.json
            if let trainFeed { do { try trainFeed.send(body, dontWait: true) } catch { metrics.trainRequestsDropped.increment() } }
            return UDFResult(keys: request.keys, value: body, tags: [UDFResult.trainTag])
        case .rejected(let rejection, _, _):
            return deadLetter(rejection, request: request)
        }
    }

    /// A rejection answered on the dead-letter edge with the original message (its first DeadLetter.copyBytes).
    func deadLetter(_ rejection: Rejection, request: UDFRequest) -> UDFResult {
        metrics.rejected(rejection.reason)
        return UDFResult(keys: request.keys, value: DeadLetter.udfBody(rejection, message: request.value, id: request.id),
                         tags: [UDFResult.deadLetterTag])
    }
}
