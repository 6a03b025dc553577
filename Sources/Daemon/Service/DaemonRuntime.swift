import Foundation
import Logging
import Scoring
import Stage
import TensorCore
import ZMQ
import SystemCalls

/// Work passed from the ingest thread (and the HTTP server) to the scoring thread.
enum WorkItem {
    case points([RoutedPoint])
    case window(InputWindow, arrival: Double, frames: [[UInt8]])
    /// A rejected message: what was kept of its frames, its size over all frames, the rejected point's index.
    case rejected(frames: [[UInt8]], Rejection, totalBytes: Int?, point: Int?)
    case request(Ingest.Outcome, arrival: Double, update: Bool, reply: @Sendable (Result<[[UInt8]], Rejection>) -> Void)
    case stop
}

/// The running daemon: an ingest thread that owns the input sockets (receive, decode, validate, route),
/// a scoring thread that owns the windows, the models and the output sockets (score, publish, train
/// requests, dead letters), and the model loader thread. `stop()` drains: inputs close first, everything
/// already accepted is scored and published, then the outputs are flushed and closed.
public final class DaemonRuntime: @unchecked Sendable {
    // @unchecked: mutable state is confined to its thread (see each member); cross-thread flags use `lock`.
    public let config: AEFlowConfig
    public let metrics: ScoringMetrics
    public let models: ModelRegistry
    let logger: Logger
    let context: ZMQContext
    let queue = BlockingQueue<WorkItem>(capacity: 65_536)
    /// The one way in (decoding and routing), shared by the sockets and HTTP.
    public let ingest: Ingest

    private let lock = NSLock()
    private var stopping = false
    private var ready = false
    private var snapshot: [ModelRegistry.Listing] = []
    private let ingestDone = DispatchSemaphore(value: 0), scoringDone = DispatchSemaphore(value: 0)
    private let startup = DispatchSemaphore(value: 0)
    private var startupError: Error?
    /// Endpoints actually bound (port 0 resolved), by config role.
    public private(set) var endpoints: [String: String] = [:]

    /// CURVE keys when `security.curve` is configured, and the context's ZAP handler.
    let security: SocketSecurity?
    private var zap: ZAPHandler?
    /// Watches this process's sockets: failed CURVE handshakes on server sockets (with `security.curve`) and the
    /// history feed's consumers.
    private let monitor: SocketMonitor
    /// Retrain stages connected to `outputs.history` (a feed nobody reads is not a feed that drops).
    let historyConsumers = PeerCount()
    /// The retrain stage in this process, if any (then `outputs.history` and `outputs.train_requests` are not opened).
    public let link: RetrainLink?

    /// `router`: the process's one router, shared with an in-process retrain stage (built from `config` when nil).
    public init(config: AEFlowConfig, logger: Logger, link: RetrainLink? = nil, router: PointRouter? = nil) throws {
        self.config = config
        self.logger = logger
        self.link = link
        metrics = ScoringMetrics()
        models = ModelRegistry(config: config, metrics: metrics, logger: logger)
        context = try ZMQContext(ioThreads: 1, flushOnTerminate: true)
        monitor = SocketMonitor(context: context)
        security = try SocketSecurity.load(config)
        ingest = Ingest(config: config, router: router)
    }

    public var isReady: Bool { lock.lock(); defer { lock.unlock() }; return ready }
    public var modelListing: [ModelRegistry.Listing] { lock.lock(); defer { lock.unlock() }; return snapshot }

    /// Binds/connects every socket and starts the threads; throws if a socket cannot be set up.
    public func start() throws {
        if let security {
            // Before any server socket binds: libzmq admits every key while no handler is bound.
            let metrics = metrics, logger = logger
            let limiter = RateLimitedLogBox(logger: logger)
            zap = try security.startZAP(context) { address, key in
                metrics.curveRefused(.unlistedKey)
                limiter.log("connection refused", ["reason": HandshakeFailure.unlistedKey.rawValue, "address": address, "client_key": key])
            }
            // Plain-text clients and clients of another server key fail before ZAP: the socket monitor sees them.
            monitor.onFailure = { reason, address in
                metrics.curveRefused(reason)
                limiter.log("connection refused", ["reason": reason.rawValue, "address": address])
            }
            logger.info("CURVE on every socket", metadata: ["public_key": "\(security.keys.publicKey)", "allowed_clients": "\(security.allowed.count)"])
        }
        models.start()
        let scoring = Thread { [self] in scoringLoop() }
        scoring.name = "aeflow-scoring"
        scoring.start()
        startup.wait()
        if let e = startupError { throw e }
        let ingest = Thread { [self] in ingestLoop() }
        ingest.name = "aeflow-ingest"
        ingest.start()
        startup.wait()
        if let e = startupError { throw e }
        lock.lock(); ready = true; lock.unlock()
    }

    /// Drains and stops; blocks until every accepted point is published and the sockets are closed.
    public func stop() {
        lock.lock()
        let wasStopping = stopping
        stopping = true
        ready = false
        lock.unlock()
        guard !wasStopping else { return }
        ingestDone.wait()
        scoringDone.wait()
        models.stop()
        monitor.stop()
        zap?.stop()
    }

    var isStopping: Bool { lock.lock(); defer { lock.unlock() }; return stopping }

    /// libzmq's per-frame backstop: 4× the message limit, at least 64 MiB (README "Limits").
    static func transportFrameLimit(_ messageLimit: Int) -> Int { Swift.max(64 << 20, 4 * messageLimit) }

    /// Submits an HTTP scoring request to the scoring thread.
    /// With `update`, the request's points enter their keys' windows like streamed ones; without, they are scored
    /// on copies and leave the live state as it was.
    public func submit(_ message: Ingest.Outcome, arrival: Double, update: Bool = false, reply: @escaping @Sendable (Result<[[UInt8]], Rejection>) -> Void) {
        queue.push(.request(message, arrival: arrival, update: update, reply: reply))
    }

    // MARK: sockets

    /// Output queues are bounded (README "Limits"): beyond `highWaterMark` queued messages a send does not wait,
    /// the output is dropped and counted (`aeflow_outputs_dropped_total{output}`).
    func open(_ c: SocketConfig, role: String, receiving: Bool, highWaterMark: Int = 100_000, peers: PeerCount? = nil) throws -> ZMQSocket {
        let watch = (c.bind && security != nil) || peers != nil
        let s = try c.open(context, as: c.socketKind, security: security) { [monitor] s in
            if watch { try monitor.watch(s, peers: peers) }
            if receiving {
                // AEFlow measures whole messages itself (`windows.max_message_bytes`, every frame counted); libzmq's
                // own per-frame limit is only a backstop against frames that could not be held in memory at all.
                try s.setMaximumMessageSize(Self.transportFrameLimit(config.windows.maxMessageBytes))
                try s.setReceiveHighWaterMark(100_000)
            } else {
                try s.setSendHighWaterMark(highWaterMark)
                try s.setLinger(5000)
                if s.kind == .pub { try s.setPublishNoDrop() }
            }
        }
        let actual = c.bind ? s.lastEndpoint : c.endpoint
        lock.lock(); endpoints[role] = actual; lock.unlock()
        return s
    }

    // MARK: ingest thread

    func ingestLoop() {
        defer { ingestDone.signal() }
        var inputs: [ZMQSocket] = []
        var history: ZMQSocket?
        do {
            for (i, c) in config.inputs.enumerated() { inputs.append(try open(c, role: "inputs[\(i)]", receiving: true)) }
            if link == nil, let h = config.outputs.history {
                history = try open(h, role: "outputs.history", receiving: false, highWaterMark: 100_000, peers: historyConsumers)
            }
        } catch {
            startupError = error
            startup.signal()
            return
        }
        startup.signal()
        var poller = ZMQPoller()
        for s in inputs { poller.add(s) }
        while !isStopping {
            let readable: [Int]
            do { readable = try poller.poll(timeoutMs: 100) } catch {
                if error.kind == .terminated { break }
                logger.error("input poll failed", metadata: ["error": "\(error)"])
                continue
            }
            guard !readable.isEmpty else { continue }
            var points: [RoutedPoint] = []
            let limit = config.windows.maxMessageBytes
            for i in readable {
                // Everything pending on this socket, in bounded rounds; a stop ends the round at once.
                for _ in 0..<4096 where !isStopping {
                    let message: ZMQSocket.BoundedMessage
                    // The whole message counts (every frame); an optional topic frame is at most 4 KiB of it.
                    do { message = try inputs[i].receive(dontWait: true, limit: limit + 4096, keep: DeadLetter.copyBytes) } catch { break }
                    metrics.messagesIn.increment()
                    let frames = message.frames
                    let arrival = MonotonicClock.now()
                    if message.isOversize || (frames.last?.count ?? 0) > limit {
                        queue.push(.rejected(frames: frames, Rejection(.tooLarge, "\(message.totalBytes) bytes in \(frames.count) frame(s) (limit \(limit))"),
                                             totalBytes: message.totalBytes, point: nil))
                        continue
                    }
                    guard let body = frames.last else { continue }
                    let outcome = ingest(body, arrival: arrival, source: frames)
                    if outcome.decoded {
                        // The retrain stage's history: in process (the routed points), or forwarded verbatim; never blocking.
                        if let link { link.history(outcome) } else if let history {
                            do { try history.send(body, dontWait: true) } catch {
                                if historyConsumers.current == 0 {
                                    metrics.historyUnconsumed.increment()   // no retrain stage connected: nothing was lost to it
                                } else {
                                    metrics.historyDropped.increment()
                                    metrics.outputDropped("history")
                                }
                            }
                        }
                    }
                    switch outcome {
                    case .rejected(let r):
                        queue.push(.rejected(frames: frames, r, totalBytes: nil, point: nil))
                    case .window(let w):
                        queue.push(.window(w, arrival: arrival, frames: frames))
                    case .points(let routed, let refused):
                        points += routed
                        for f in refused { queue.push(.rejected(frames: frames, f.rejection, totalBytes: nil, point: f.index)) }
                    }
                    if points.count >= 4096 {
                        queue.push(.points(points), weight: points.count)
                        points.removeAll(keepingCapacity: true)
                    }
                }
            }
            if !points.isEmpty { queue.push(.points(points), weight: points.count) }
            metrics.queueDepth.set(Int64(queue.depth))
        }
        for s in inputs { s.close() }
        history?.close()
        queue.push(.stop)
    }

    // MARK: scoring thread

    func scoringLoop() {
        defer { scoringDone.signal() }
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
        let engine = ScoringEngine(config: config, router: ingest.router, models: models, metrics: metrics, logger: logger, seed: UInt64(MonotonicClock.now() * 1e6))
        // Before reporting ready: every key's window from the last shutdown, and the models already in the store.
        engine.restoreSnapshot()
        if !models.waitForPreload(timeout: config.store.preloadTimeoutSeconds) {
            logger.warning("store still loading at start; keys whose model is being read answer model_not_ready meanwhile",
                           metadata: ["timeout_s": "\(config.store.preloadTimeoutSeconds)"])
        }
        engine.models.applyLoaderResults()
        startup.signal()
        var limiter = RateLimitedLog(logger: logger, perSeconds: 10)
        var nextExpiry = MonotonicClock.now() + 1
        var running = true
        var accepted = 0, published = 0
        func publish(_ emissions: [Emission]) {
            for e in emissions {
                switch e {
                case .score(let key, let body, let arrival, let status):
                    accepted += 1
                    do {
                        if scores.kind == .pub {
                            try scores.send([Array(key.joined(separator: ":").utf8), body], dontWait: true)
                        } else {
                            try scores.send(body, dontWait: true)
                        }
                        published += 1
                        metrics.scored(status)
                        metrics.latency.record(MonotonicClock.now() - arrival)
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
        while running {
            let items = queue.popAll(timeout: 0.25)
            let now = MonotonicClock.now()
            var batch: [RoutedPoint] = []
            func flush() {
                guard !batch.isEmpty else { return }
                publish(engine.process(batch, now: now))
                batch.removeAll(keepingCapacity: true)
            }
            for item in items {
                switch item {
                case .points(let ps): batch += ps
                case .window(let w, let arrival, let frames):
                    flush()
                    switch engine.processWindow(w, arrival: arrival, now: now) {
                    case .success(let e): publish(e)
                    case .failure(let r): reject(r, frames: frames, totalBytes: nil, point: nil)
                    }
                case .rejected(let frames, let r, let total, let point):
                    flush()
                    reject(r, frames: frames, totalBytes: total, point: point)
                case .request(let message, let arrival, let update, let reply):
                    flush()
                    reply(answer(message, arrival: arrival, update: update, engine: engine, publish: publish))
                case .stop:
                    running = false
                }
            }
            flush()
            if items.isEmpty { engine.models.applyLoaderResults() }
            if now >= nextExpiry || !running {
                engine.expire(now: now)
                nextExpiry = now + 1
            }
            if engine.models.takeChanges() {
                let listing = engine.models.listing()
                lock.lock(); snapshot = listing; lock.unlock()
            }
            metrics.queueDepth.set(Int64(queue.depth))
        }
        logger.info("scoring drained", metadata: ["accepted": "\(accepted)", "published": "\(published)"])
        engine.writeSnapshot()
        scores.close()
        trainRequests?.close()
        deadLetter?.close()
    }

    /// An HTTP request scored on the scoring thread. With `update` its points enter the windows like any others
    /// and train requests go out as usual; without, they are scored on copies of the windows (``ScoringEngine/preview``).
    /// The outputs are the HTTP response (not also published on the score socket).
    /// A request is answered whole or refused whole: one point that does not route refuses it.
    func answer(_ message: Ingest.Outcome, arrival: Double, update: Bool, engine: ScoringEngine, publish: ([Emission]) -> Void) -> Result<[[UInt8]], Rejection> {
        let emissions: [Emission]
        switch message {
        case .rejected(let r):
            metrics.rejected(r.reason)
            return .failure(r)
        case .window(let w):
            switch engine.processWindow(w, arrival: arrival, now: MonotonicClock.now()) {
            case .success(let e): emissions = e
            case .failure(let r): metrics.rejected(r.reason); return .failure(r)
            }
        case .points(let routed, let refused):
            if let first = refused.first { metrics.rejected(first.rejection.reason); return .failure(first.rejection) }
            emissions = update ? engine.process(routed, now: MonotonicClock.now()) : engine.preview(routed, now: MonotonicClock.now())
        }
        var bodies: [[UInt8]] = []
        var others: [Emission] = []
        for e in emissions {
            if case .score(_, let body, _, let status) = e {
                bodies.append(body)
                metrics.scored(status)
            } else {
                others.append(e)
            }
        }
        publish(others)
        return .success(bodies)
    }
}

