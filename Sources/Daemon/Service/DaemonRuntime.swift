import Foundation
import Logging
import Scoring
import Stage
import TensorCore
import ZMQ
import SystemCalls

/// Work passed from the ingest thread (and the HTTP server) to a scoring worker.
enum WorkItem {
    case points([RoutedPoint])
    case window(InputWindow, arrival: Double, frames: [[UInt8]])
    /// A worker's share of an HTTP request.
    case request(RequestShare, update: Bool, gather: RequestGather)
    case stop

    /// Its points, moved out (the item keeps none). Taken so, they have one reference and drain without a copy:
    /// a payload bound by a `switch` is a second reference while the item lives (`draining()` then copies).
    mutating func takePoints() -> [RoutedPoint]? {
        guard case .points(let ps) = self else { return nil }
        self = .points([])
        return ps
    }
}

/// The part of an HTTP request one worker answers: the points of its keys (with their positions in the
/// request), or the request's window.
enum RequestShare {
    case points([RoutedPoint], positions: [Int])
    case window(InputWindow, arrival: Double)
}

/// Work passed from the workers (and the ingest thread's rejections) to the publisher thread.
enum PublishItem {
    case emissions([Emission])
    /// A rejected message: what was kept of its frames, its size over all frames, the rejected point's index.
    case rejected(frames: [[UInt8]], Rejection, totalBytes: Int?, point: Int?)
    /// A worker has drained: its engine, for the shutdown snapshot.
    case stopped(ScoringEngine)

    /// Its emissions, moved out (see ``WorkItem/takePoints()``).
    mutating func takeEmissions() -> [Emission]? {
        guard case .emissions(let e) = self else { return nil }
        self = .emissions([])
        return e
    }
}

/// Where the ingest thread's share of an input round for one worker is scored.
///
/// At moderate rates a round is a message or a few, and handing each to its worker costs a thread wake-up a point
/// (a tenth of the daemon's CPU at 100k points/s, and tens of µs of latency on a virtual machine); at high rates
/// rounds are large and the workers score them on both cores. A share is scored in place only when that cannot
/// reorder a key or hold the input up for long: the worker is idle (its room is free), nothing of its keys is
/// queued (everything older was scored and sent), and the share is small.
enum SharePlacement: Equatable {
    /// By the ingest thread, now, inside the worker's room.
    case inPlace
    /// On the worker's queue, in arrival order.
    case queued

    /// The most points of a share scored in place: at a few µs a point, the input waits at most ~0.1 ms for a
    /// pipeline-wide model (more for a large per-key model: the next round, larger, then goes to the worker).
    static let inPlaceLimit = 32

    /// Whether a share of `points` is small enough to be scored in place at all (the only part of the decision
    /// known before the worker's room is tried).
    static func sizeAllows(_ points: Int) -> Bool { points > 0 && points <= inPlaceLimit }

    static func of(points: Int, roomFree: Bool, queueEmpty: Bool, engineReady: Bool) -> SharePlacement {
        sizeAllows(points) && roomFree && queueEmpty && engineReady ? .inPlace : .queued
    }
}

/// One scoring worker: a thread that owns a share of the keys (``KeyShard``), with their windows, score states
/// and model cache (its own ``ModelRegistry`` and loader thread). It scores what is routed to it in order, so
/// outputs of one key keep their order. The engine is used inside the worker's room: by its thread, or by the
/// ingest thread scoring a small share in its place (``SharePlacement``).
final class ScoringWorker: @unchecked Sendable {
    // @unchecked: the queue is thread-safe; `engine` and the registry's cache are touched only inside `room`.
    let shard: KeyShard
    let queue: BlockingQueue<WorkItem>
    let models: ModelRegistry
    let done = DispatchSemaphore(value: 0)
    /// The worker's room: its engine (and the model cache it reads) is used only by the thread holding it — the
    /// worker's own, or the ingest thread scoring a small round in place while the worker is idle.
    let room = NSLock()
    /// The worker's engine, once it is ready (guarded by `room`).
    var engine: ScoringEngine?

    init(shard: KeyShard, queueCapacity: Int, models: ModelRegistry) {
        (self.shard, self.models) = (shard, models)
        queue = BlockingQueue(capacity: queueCapacity)
    }
}

/// The running daemon: an ingest thread that owns the input sockets (receive, decode, validate, route to the
/// worker that owns each key), `windows.workers` scoring workers (windows, models, inference, output encoding,
/// sending their scores through ``ScoreSender``), a publisher thread that owns the other output sockets (train
/// requests, dead letters) and closes the score socket at the end, and a model loader
/// per worker. `stop()` drains: inputs close first, everything already accepted is scored and published, then
/// the outputs are flushed and closed.
public final class DaemonRuntime: @unchecked Sendable {
    // @unchecked: mutable state is confined to its thread (see each member); cross-thread flags use `lock`.
    public let config: AEFlowConfig
    public let metrics: ScoringMetrics
    let logger: Logger
    let context: ZMQContext
    let workers: [ScoringWorker]
    /// Encoded outputs on their way to the sockets (bounded: workers wait when the publisher is behind). 8,192 cost
    /// 7-10 % of the per-key throughput (workers waiting on a busy publisher); shutdown stays prompt because input
    /// rounds are bounded (1 MiB), not because this queue is small.
    let outputs = BlockingQueue<PublishItem>(capacity: 65_536)
    /// The score socket, which the workers send on (opened by `start`, closed by the publisher once they stopped).
    private(set) var scores: ScoreSender!
    /// The one way in (decoding and routing), shared by the sockets and HTTP.
    public let ingest: Ingest
    /// `windows.max_keys`, shared by the workers.
    let keyBudget: KeyBudget

    let lock = NSLock()
    private var stopping = false
    private var ready = false
    /// Each worker's `/v1/models` entries (guarded by `lock`).
    var listings: [[ModelRegistry.Listing]]
    let ingestDone = DispatchSemaphore(value: 0), publisherDone = DispatchSemaphore(value: 0)
    let startup = DispatchSemaphore(value: 0)
    var startupError: Error?
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
    /// A metrics store the windows are filled from at start (`prometheus_conf.prefill_windows`); set before `start`.
    public var historySource: HistorySource?
    /// Where every worker's scores also go (remote write); set before `start`.
    public var scoreSink: ScoreSink?
    /// The windows' fill from the store, by router target index (read once before the workers start).
    var prefill: [Int: [HistorySeries]] = [:]

    /// `router`: the process's one router, shared with an in-process retrain stage (built from `config` when nil).
    public init(config: AEFlowConfig, logger: Logger, link: RetrainLink? = nil, router: PointRouter? = nil) throws {
        self.config = config
        self.logger = logger
        self.link = link
        let metrics = ScoringMetrics()
        self.metrics = metrics
        let n = config.windows.resolvedWorkers
        let modelBudget = KeyBudget(limit: max(1, config.store.maxModels), pipelines: 1)   // store.max_models over every worker
        workers = (0..<n).map { i in
            let shard = KeyShard(index: i, count: n)
            return ScoringWorker(shard: shard, queueCapacity: max(4096, 65_536 / n),
                                 models: ModelRegistry(config: config, metrics: metrics, logger: logger, shard: shard, budget: modelBudget))
        }
        listings = Array(repeating: [], count: n)
        context = try ZMQContext(ioThreads: 1, flushOnTerminate: true)
        monitor = SocketMonitor(context: context)
        security = try SocketSecurity.load(config)
        ingest = Ingest(config: config, router: router)
        keyBudget = KeyBudget(limit: config.windows.maxKeys, pipelines: ingest.router.targets.count)
    }

    public var isReady: Bool { lock.lock(); defer { lock.unlock() }; return ready }
    /// Every worker's models, for `/v1/models`.
    public var modelListing: [ModelRegistry.Listing] {
        lock.lock()
        let all = listings
        lock.unlock()
        return ModelRegistry.Listing.sorted(all.joined())
    }

    /// Accepted points waiting to be scored, over every worker.
    var queuedPoints: Int { workers.reduce(0) { $0 + $1.queue.depth } }

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
        scores = ScoreSender(socket: try open(config.outputs.scores, role: "outputs.scores", receiving: false), metrics: metrics, logger: logger)
        let publisher = ThreadName.thread("aeflow-publish") { [self] in publishLoop() }
        publisher.start()
        startup.wait()
        if let e = startupError { throw e }
        prefill = readPrefill()
        let seed = UInt64(MonotonicClock.now() * 1e6)
        for w in workers {
            w.models.start()
            let t = ThreadName.thread(workers.count == 1 ? "aeflow-scoring" : "aeflow-scoring-\(w.shard.index)") { [self] in workerLoop(w, seed: seed) }
            t.start()
        }
        for _ in workers { startup.wait() }
        logger.info("scoring workers started", metadata: ["workers": "\(workers.count)"])
        let ingest = ThreadName.thread("aeflow-ingest") { [self] in ingestLoop() }
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
        for w in workers { w.done.wait() }
        publisherDone.wait()
        for w in workers { w.models.stop() }
        monitor.stop()
        zap?.stop()
    }

    var isStopping: Bool { lock.lock(); defer { lock.unlock() }; return stopping }

    /// libzmq's per-frame backstop: 4× the message limit, at least 64 MiB (README "Limits").
    static func transportFrameLimit(_ messageLimit: Int) -> Int { Swift.max(64 << 20, 4 * messageLimit) }

    /// Submits an HTTP scoring request to the workers that own its keys; `reply` is called once, from the last
    /// of them (or at once when the request does not decode or route).
    /// With `update`, the request's points enter their keys' windows like streamed ones; without, they are scored
    /// on copies and leave the live state as it was. A request is answered whole or refused whole.
    public func submit(_ message: Ingest.Outcome, arrival: Double, update: Bool = false, reply: @escaping @Sendable (Result<[[UInt8]], Rejection>) -> Void) {
        switch message {
        case .rejected(let r):
            metrics.rejected(r.reason)
            reply(.failure(r))
        case .points(let routed, let refused):
            if let first = refused.first {
                metrics.rejected(first.rejection.reason)
                reply(.failure(first.rejection))
                return
            }
            var shares = [(points: [RoutedPoint], positions: [Int])](repeating: ([], []), count: workers.count)
            for (i, p) in routed.enumerated() {
                let w = KeyShard.of(p.key, count: workers.count)
                shares[w].points.append(p)
                shares[w].positions.append(i)
            }
            let busy = shares.indices.filter { !shares[$0].points.isEmpty }
            guard !busy.isEmpty else { reply(.success([])); return }
            let gather = RequestGather(shares: busy.count, reply: reply)
            for w in busy {
                workers[w].queue.push(.request(.points(shares[w].points, positions: shares[w].positions), update: update, gather: gather),
                                      weight: shares[w].points.count)
            }
        case .window(let w):
            workers[KeyShard.of(w.key, count: workers.count)].queue.push(
                .request(.window(w, arrival: arrival), update: update, gather: RequestGather(shares: 1, reply: reply)))
        }
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
            for w in workers { w.queue.push(.stop) }   // the workers and the publisher wind down
            return
        }
        startup.signal()
        let n = workers.count
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
            // Each worker's share of this round's points, in arrival order.
            var shares = [[RoutedPoint]](repeating: [], count: n)
            func hand(_ w: Int) {
                // The share itself goes (a copy left here would be a second reference while its worker drains it).
                var share: [RoutedPoint] = []
                share.reserveCapacity(shares[w].count)
                swap(&share, &shares[w])
                let weight = share.count
                workers[w].queue.push(.points(consume share), weight: weight)
            }
            let limit = config.windows.maxMessageBytes
            for i in readable {
                // Everything pending on this socket, in bounded rounds; a stop ends the round at once.
                // A round is at most 4,096 messages or 1 MiB of them: a round is accepted whole, so it bounds what a
                // stop finds already read (1,000-point arrays would otherwise make a round of millions of points).
                var round: [(frames: [[UInt8]], arrival: Double)] = []
                var roundBytes = 0, received = 0
                // The arrival time is read every 16 messages (each read was 2 % of the ingest thread): a message's
                // arrival is at most 15 receives (a few µs) early, so its latency is never under-reported.
                var clock = 0.0
                defer { metrics.messagesIn.increment(by: Int64(received)) }
                for _ in 0..<4096 where !isStopping && roundBytes < 1 << 20 {
                    let message: ZMQSocket.BoundedMessage
                    // The whole message counts (every frame); an optional topic frame is at most 4 KiB of it.
                    do { message = try inputs[i].receive(dontWait: true, limit: limit + 4096, keep: DeadLetter.copyBytes) } catch { break }
                    if received & 15 == 0 { clock = MonotonicClock.now() }
                    received += 1
                    let frames = message.frames
                    if message.isOversize || (frames.last?.count ?? 0) > limit {
                        outputs.push(.rejected(frames: frames, Rejection(.tooLarge, "\(message.totalBytes) bytes in \(frames.count) frame(s) (limit \(limit))"),
                                             totalBytes: message.totalBytes, point: nil))
                        continue
                    }
                    guard !frames.isEmpty else { continue }
                    round.append((frames, clock))
                    roundBytes += message.totalBytes
                }
                var outcomes = decode(round)
                for k in outcomes.indices {
                    // Each outcome is moved out of the round's array, and its points on into the workers' shares: a
                    // copy of a point retains (and later releases) its key, values, uuid and source, on a busy thread.
                    var outcome = Ingest.Outcome.points([], refused: [])
                    swap(&outcome, &outcomes[k])
                    let (frames, arrival) = round[k]
                    if outcome.decoded {
                        // The retrain stage's history: in process (the routed points), or forwarded verbatim; never blocking.
                        if let link { link.history(outcome) } else if let history {
                            do { try history.send(frames[frames.count - 1], dontWait: true) } catch {
                                if historyConsumers.current == 0 {
                                    metrics.historyUnconsumed.increment()   // no retrain stage connected: nothing was lost to it
                                } else {
                                    metrics.historyDropped.increment()
                                    metrics.outputDropped("history")
                                }
                            }
                        }
                    }
                    if let (routed, refused) = outcome.takePoints() {
                        if n == 1 && shares[0].isEmpty {
                            shares[0] = routed
                        } else {
                            for p in routed.draining() { shares[n == 1 ? 0 : KeyShard.of(p.key, count: n)].append(consume p) }
                        }
                        for f in refused { outputs.push(.rejected(frames: frames, f.rejection, totalBytes: nil, point: f.index)) }
                    } else {
                        switch consume outcome {
                        case .points: break   // (taken above)
                        case .rejected(let r):
                            outputs.push(.rejected(frames: frames, r, totalBytes: nil, point: nil))
                        case .window(let w):
                            // After the points of this round already routed to its worker: outputs keep arrival order.
                            let owner = KeyShard.of(w.key, count: n)
                            if !shares[owner].isEmpty { hand(owner) }
                            workers[owner].queue.push(.window(w, arrival: arrival, frames: frames))
                        }
                    }
                    for w in 0..<n where shares[w].count >= 4096 { hand(w) }
                }
            }
            // The shares scored here go out together once the round is scored: a burst of sends that finds libzmq's
            // I/O thread asleep wakes it (tens of µs of CPU on a virtual machine), and a burst after each worker's
            // share woke it ~1.7 times a round at 100k points/s (BENCHMARKS.md P21).
            var inPlace: [Emission] = []
            for w in 0..<n where !shares[w].isEmpty {
                if !scoredInPlace(&shares[w], by: workers[w], into: &inPlace) { hand(w) }
            }
            if !inPlace.isEmpty { send(inPlace) }
            metrics.queueDepth.set(Int64(queuedPoints))
        }
        for s in inputs { s.close() }
        history?.close()
        for w in workers { w.queue.push(.stop) }
    }

    /// Scores `share` on this thread when ``SharePlacement`` says so, inside the worker's room, appending its
    /// emissions to `emissions` (sent by the caller, after the room is left: the worker's keys get no newer points
    /// meanwhile, since only this thread routes stream points); whether it did (the share is then empty). At most
    /// one attempt at the room a round and worker, and none for a large share.
    func scoredInPlace(_ share: inout [RoutedPoint], by worker: ScoringWorker, into emissions: inout [Emission]) -> Bool {
        // A share too large is not worth the room: trying it takes the worker's lock when free (at high rates,
        // every round and worker), and keeps the worker out meanwhile.
        guard SharePlacement.sizeAllows(share.count) else { return false }
        let roomFree = worker.room.try()
        defer { if roomFree { worker.room.unlock() } }
        // The queue and the engine are read only with the room taken.
        guard SharePlacement.of(points: share.count, roomFree: roomFree, queueEmpty: roomFree && worker.queue.isEmpty,
                                engineReady: roomFree && worker.engine != nil) == .inPlace,
              let engine = worker.engine else { return false }
        var taken: [RoutedPoint] = []
        swap(&taken, &share)
        metrics.pointsScoredInPlace.increment(by: Int64(taken.count))
        let scored = engine.process(taken, now: MonotonicClock.now())
        if emissions.isEmpty { emissions = scored } else { emissions.append(contentsOf: scored) }
        return true
    }

    /// Decodes and routes one socket round of messages (their last frame each), in order. A round large enough
    /// to pay for it is decoded by as many threads as there are scoring workers, each taking a contiguous part;
    /// the results keep the round's order, so per-key order is what it was on the wire.
    func decode(_ round: [(frames: [[UInt8]], arrival: Double)]) -> [Ingest.Outcome] {
        let parts = round.count >= 512 ? min(workers.count, round.count / 256) : 1
        let ingest = self.ingest
        guard parts > 1 else { return round.map { ingest($0.frames[$0.frames.count - 1], arrival: $0.arrival, source: $0.frames) } }
        /// Each part initializes only its own range of the slots (every slot, since the parts cover the round).
        struct Slots: @unchecked Sendable { let base: UnsafeMutablePointer<Ingest.Outcome> }
        return [Ingest.Outcome](unsafeUninitializedCapacity: round.count) { buffer, initialized in
            let slots = Slots(base: buffer.baseAddress!)
            DispatchQueue.concurrentPerform(iterations: parts) { p in
                for k in (round.count * p / parts)..<(round.count * (p + 1) / parts) {
                    let m = round[k]
                    (slots.base + k).initialize(to: ingest(m.frames[m.frames.count - 1], arrival: m.arrival, source: m.frames))
                }
            }
            initialized = round.count
        }
    }
}
