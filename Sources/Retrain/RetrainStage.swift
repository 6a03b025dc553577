import Autoencoders
import Stage
import Foundation
import Logging
import Scoring
import TensorCore
import Training
import ZMQ
import SystemCalls

/// The retrain stage: keeps the point history, decides which models need training (missing, stale,
/// requested), trains them on a bounded pool of dedicated threads, validates and publishes checkpoints
/// that the daemon hot-swaps.
///
/// Threads: an ingest thread (only as its own process: reads the history feed and train requests from
/// ZeroMQ), a history writer (batches points into SQLite, applies retention), a scheduler (scans on
/// events and every `retrain.scan_interval_s`), `retrain.concurrency` training threads, and with a metrics store
/// (`historySource`) a backfill thread that reads history from it. All
/// de-duplication state lives in the history file (`HistoryStore`), not in memory, so a restarted stage
/// carries on where the last one stopped.
public final class RetrainStage: RetrainLink, @unchecked Sendable {
    // @unchecked: shared mutable state (`inbox`, `scheduler`, `jobs`, `stopping`, `wake`, counters) is
    // guarded by `cond`; the rest is immutable or thread-safe.
    public let config: AEFlowConfig
    public let history: HistoryStore
    public let metrics: RetrainMetrics
    public let checkpoints: CheckpointStore
    let router: PointRouter
    let logger: Logger
    let writer: HistoryWriter
    /// Pipelines by id, with the stream they belong to.
    let pipelines: [String: PointRouter.Target]

    private let cond = NSCondition()
    private var inbox: [(ModelID, Bool)] = []
    /// Which trainings run: claimed or running models and their memory (a value-type state machine).
    private var scheduler: TrainingScheduler
    private var jobs: [TrainingJob] = []
    private var stopping = false
    private var wake = false
    private var runningMax = 0
    private var done = (succeeded: 0, failed: 0, skipped: 0)
    private var threads: [Thread] = []
    private let finished = DispatchGroup()
    /// Endpoints actually bound or connected, by config role.
    public private(set) var endpoints: [String: String] = [:]
    private var context: ZMQContext?
    private var security: SocketSecurity?
    private var zap: ZAPHandler?
    private var started = false
    /// What the stage decided about a model: reported to `observer`.
    public enum Event: Sendable, Equatable {
        case finished(TrainOutcome)
        case skipped(SkipReason)
    }
    /// A metrics store some pipelines read history from (`source: prometheus`); set before `start`.
    public var historySource: HistorySource?
    /// Reads from `historySource` waiting for the backfill thread (guarded by `cond`): nil stands for the catch-up of
    /// every served pipeline at start.
    private var backfills: [ModelID?] = []
    /// When each model's history was last read from the store (guarded by `cond`): once per `retry_sec`.
    private var backfilledAt: [ModelID: Double] = [:]
    /// Called after every training's outcome is recorded (on its training thread) and every skip (on the
    /// scheduler thread). Set before `start`.
    public var observer: (@Sendable (ModelID, Event) -> Void)?
    /// Started and not stopping.
    public var isReady: Bool { cond.lock(); defer { cond.unlock() }; return started && !stopping }

    /// The working memory a training of `rows` rows is expected to need: the rows and their preprocessed
    /// copy, the element-wise errors of every window (`rows × L × F`, the largest part), a batch, and the
    /// model with its gradients and Adam's two moments.
    static func estimatedBytes(rows: Int, target: PointRouter.Target) -> Int {
        let f = target.pipeline.metrics.count, l = target.stream.windowSize
        let conf = target.pipeline.numalogicConf
        let params = (try? { () throws -> Int in
            var rng = RandomGenerator(seed: 0)
            return try ModelFactory.make(conf.model, using: &rng).parameterCount
        }()) ?? 0
        return 4 * (rows * f * (2 * l + 6) + conf.trainer.batchSize * l * f * 8 + params * 4) + (1 << 20)
    }

    /// `router`: the process's one router, shared with an in-process daemon (built from `config` when nil).
    public init(config: AEFlowConfig, router: PointRouter? = nil, logger: Logger, metrics: RetrainMetrics = RetrainMetrics()) throws(HistoryError) {
        self.config = config
        self.logger = logger
        self.metrics = metrics
        history = try HistoryStore(path: config.history.path, maxRowsPerKey: config.history.maxRowsPerKey)
        checkpoints = CheckpointStore(root: config.store.path, keepVersions: config.store.keepVersions)
        self.router = router ?? PointRouter(config: config)
        var p: [String: PointRouter.Target] = [:]
        for t in self.router.targets where p[t.pipeline.pipelineID] == nil { p[t.pipeline.pipelineID] = t }
        pipelines = p
        writer = HistoryWriter(history: history, capacity: config.history.queueCapacity,
                               retention: p.mapValues { Retention(spanMs: Int64($0.pipeline.numalogicConf.trainer.trainHours * 3_600_000)) },
                               metrics: metrics, logger: logger)
        scheduler = TrainingScheduler(limits: .init(concurrency: config.retrain.concurrency, memoryBudgetBytes: config.retrain.memoryBudgetMB << 20))
    }

    static func rules(_ conf: NumalogicConf) -> DedupRules {
        DedupRules(retrySec: conf.trainer.retrySec, retrainFreqSec: conf.trainer.retrainFreqHr * 3600,
                   minTrainSize: conf.trainer.minTrainSize, dataFreqSec: conf.trainer.dataFreqSec, retrainGrowth: conf.trainer.retrainGrowth)
    }

    static func wallClock() -> Double { Date().timeIntervalSince1970 }

    // MARK: lifecycle

    /// Starts the threads. With `sockets`, the stage reads its history feed (`history.inputs`) and train
    /// requests (`retrain.requests`) from ZeroMQ (a separate `aeflow retrain`); without, the daemon in the
    /// same process calls `history(_:)` and `trainRequest(_:)`.
    public func start(sockets: Bool) throws {
        if sockets {
            let ctx = try ZMQContext(ioThreads: 1, flushOnTerminate: false)
            context = ctx
            security = try SocketSecurity.load(config)
            if let security {
                zap = try security.startZAP(ctx) { [logger] address, key in
                    logger.warning("connection refused", metadata: ["reason": "curve_key_not_allowed", "address": "\(address)", "client_key": "\(key)"])
                }
            }
            // The sockets are opened, used and closed on the ingest thread (they are not thread-safe).
            let started = DispatchSemaphore(value: 0)
            nonisolated(unsafe) var failure: Error?
            spawn("aeflow-retrain-ingest") { [self] in
                var opened: [(ZMQSocket, Bool)] = []   // (socket, is the request socket)
                do {
                    for (i, c) in config.history.inputs.enumerated() { opened.append((try open(ctx, c, role: "history.inputs[\(i)]"), false)) }
                    if let r = config.retrain.requests { opened.append((try open(ctx, r, role: "retrain.requests"), true)) }
                } catch {
                    for (s, _) in opened { s.close() }
                    failure = error
                    started.signal()
                    return
                }
                started.signal()
                ingestLoop(opened)
            }
            started.wait()
            if let failure { throw failure }
        }
        // History writing and training yield the CPU to scoring when both want it (nice 10 per thread).
        spawn("aeflow-history-writer") { [self] in
            Self.lowerPriority()
            writer.run(isStopping: { isStopping }, onNewRows: { poke() })
        }
        spawn("aeflow-train-scheduler") { [self] in schedulerLoop() }
        if let source = historySource, pipelines.values.contains(where: { source.serves($0) }) {
            cond.lock(); backfills.append(nil); cond.unlock()
            spawn("aeflow-backfill") { [self] in backfillLoop(source) }
        }
        for i in 0..<config.retrain.concurrency {
            spawn("aeflow-training-\(i)", stackSize: 16 << 20) { [self] in
                Self.lowerPriority()
                workerLoop()
            }
        }
        cond.lock(); started = true; cond.unlock()
        let (rows, keys) = (try? history.totals()) ?? (0, 0)
        metrics.historyKeys.set(Int64(keys))
        logger.info("retrain stage started", metadata: [
            "history": "\(config.history.path)", "history_rows": "\(rows)", "history_keys": "\(keys)", "store": "\(config.store.path)",
            "concurrency": "\(config.retrain.concurrency)", "feed": "\(sockets ? "sockets" : "in-process")",
        ])
    }

    private func spawn(_ name: String, stackSize: Int = 0, _ body: @escaping @Sendable () -> Void) {
        finished.enter()
        let t = ThreadName.thread(name, stackSize: stackSize) { [finished] in
            body()
            finished.leave()
        }
        threads.append(t)
        t.start()
    }

    /// Stops: inputs close, queued history is written, running trainings get `grace` seconds to finish;
    /// the claims of any still running are released so that a restarted stage trains them at once.
    public func stop(grace: Double = 10) {
        cond.lock()
        let already = stopping
        stopping = true
        cond.broadcast()
        let unfinished = scheduler.running
        cond.unlock()
        guard !already else { return }
        if finished.wait(timeout: .now() + grace) == .timedOut {
            cond.lock()
            let left = scheduler.running
            cond.unlock()
            for ref in left { try? history.finish(ref, now: Self.wallClock(), outcome: .interrupted) }
            logger.warning("retrain stage stopped with trainings unfinished", metadata: ["models": "\(left.map(\.description).sorted())"])
        } else if !unfinished.isEmpty {
            logger.info("running trainings finished before stopping", metadata: ["count": "\(unfinished.count)"])
        }
        zap?.stop()
        logger.info("retrain stage stopped", metadata: ["succeeded": "\(done.succeeded)", "failed": "\(done.failed)"])
    }

    var isStopping: Bool { cond.lock(); defer { cond.unlock() }; return stopping }

    /// Wakes the scheduler now.
    func poke() {
        cond.lock()
        wake = true
        cond.broadcast()
        cond.unlock()
    }

    // MARK: feed (RetrainLink)

    /// A decoded and routed message: its points (per pipeline) go to the history write queue; never blocks.
    public func history(_ accepted: Ingest.Outcome) {
        var rows: [HistoryRow] = []
        switch accepted {
        case .rejected:
            metrics.historyRejected.increment()
        case .points(let routed, let refused):
            if !refused.isEmpty { metrics.historyRejected.increment(by: Int64(refused.count)) }
            rows.reserveCapacity(routed.count)
            for r in routed {
                rows.append(HistoryRow(pipelineID: router.targets[r.pipeline].pipeline.pipelineID, key: r.key, timestamp: r.timestamp,
                                       values: r.values.map { $0 ?? .nan }))
            }
        case .window(let w):
            guard let (_, candidates) = router.streamTargets(w.configID) else { metrics.historyRejected.increment(); return }
            for t in candidates {
                let target = router.targets[t]
                if let pid = w.pipelineID, pid != target.pipeline.pipelineID { continue }
                for (ts, row) in zip(w.timestamps, w.rows) {
                    let values = target.pipeline.metrics.map { m in row.first { $0.0 == m }.flatMap(\.1) ?? .nan }
                    rows.append(HistoryRow(pipelineID: target.pipeline.pipelineID, key: w.key, timestamp: ts, values: values))
                }
            }
        }
        guard !rows.isEmpty else { return }
        writer.submit(rows)
    }

    /// A train request from the daemon in this process.
    public func trainRequest(_ request: TrainRequest) { enqueueRequest(request.model, forced: false) }

    /// A train request read from the `retrain.requests` socket (another process's daemon).
    func trainRequest(body: [UInt8]) {
        switch TrainRequest.decode(body) {
        case .success(let r): trainRequest(r)
        case .failure: metrics.historyRejected.increment()
        }
    }

    public func metricsExposition() -> [UInt8] { metrics.exposition() }

    /// "Retrain now" (HTTP or command line): trains as soon as a thread is free, whatever the model's age.
    public func retrainNow(_ ref: ModelID) { enqueueRequest(ref, forced: true) }

    func enqueueRequest(_ ref: ModelID, forced: Bool) {
        metrics.trainRequests.increment()
        cond.lock()
        if inbox.count < 100_000 { inbox.append((ref, forced)) }
        wake = true
        cond.broadcast()
        cond.unlock()
    }

    // MARK: ingest (own process)

    func open(_ ctx: ZMQContext, _ c: SocketConfig, role: String) throws -> ZMQSocket {
        let s = try c.open(ctx, as: c.type == .sub ? .sub : .pull, security: security) { s in
            try s.setMaximumMessageSize(config.windows.maxMessageBytes + 4096)
            try s.setReceiveHighWaterMark(100_000)
        }
        cond.lock(); endpoints[role] = c.bind ? s.lastEndpoint : c.endpoint; cond.unlock()
        return s
    }

    func ingestLoop(_ sockets: [(ZMQSocket, Bool)]) {
        let ingest = Ingest(config: config, router: router)
        var poller = ZMQPoller()
        for (s, _) in sockets { poller.add(s) }
        while !isStopping {
            let readable: [Int]
            do { readable = try poller.poll(timeoutMs: 100) } catch {
                if error.kind == .terminated { break }
                logger.error("history feed poll failed", metadata: ["error": "\(error)"])
                continue
            }
            for i in readable {
                for _ in 0..<4096 {
                    guard let frames = try? sockets[i].0.receive(dontWait: true), let body = frames.last else { break }
                    if sockets[i].1 {
                        trainRequest(body: body)
                        continue
                    }
                    history(ingest(body, arrival: 0))
                }
            }
        }
        for (s, _) in sockets { s.close() }
    }

    // MARK: scheduler

    func schedulerLoop() {
        var lastProgress = MonotonicClock.now()
        var lastCount = 0
        while true {
            cond.lock()
            if !wake && !stopping { _ = cond.wait(until: Date(timeIntervalSinceNow: config.retrain.scanIntervalSeconds)) }
            wake = false
            let requests = inbox
            inbox.removeAll()
            let stop = stopping
            cond.unlock()
            if stop { break }
            let now = Self.wallClock()
            for (ref, forced) in requests {
                do { try history.request(ref, now: now, forced: forced) } catch {
                    logger.error("train request not recorded", metadata: ["model": "\(ref)", "error": "\(error)"])
                }
            }
            schedule(now: now)
            cond.lock()
            rounds += 1
            if roundWaiters > 0 { cond.broadcast() }
            cond.unlock()
            // Progress: every 100 trainings ended or every 10 s while work is under way.
            cond.lock()
            let (r, d, bytes) = (scheduler.running.count, done, scheduler.reservedBytes)
            cond.unlock()
            let ended = d.succeeded + d.failed
            if ended - lastCount >= 100 || (r > 0 && MonotonicClock.now() - lastProgress >= 10) {
                lastProgress = MonotonicClock.now()
                lastCount = ended
                logger.info("retrain progress", metadata: [
                    "running": "\(r)", "succeeded": "\(d.succeeded)", "failed": "\(d.failed)", "skipped": "\(d.skipped)",
                    "due": "\(lastDue)", "reserved_mb": "\(bytes >> 20)", "peak_rss_mb": "\(Self.peakResidentBytes() >> 20)",
                ])
            }
            metrics.peakResidentBytes.set(Int64(Self.peakResidentBytes()))
        }
        cond.lock()
        jobs.removeAll()
        cond.broadcast()
        cond.unlock()
    }

    /// Scheduling rounds completed, and callers waiting for them (guarded by `cond`).
    private var rounds = 0, roundWaiters = 0

    /// Blocks until `count` more scheduling rounds have completed (each round first records the requests
    /// received before it began), or `timeout` seconds pass; returns whether they did.
    public func waitForSchedulingRounds(_ count: Int, timeout: Double) -> Bool {
        let deadline = Date(timeIntervalSinceNow: timeout)
        cond.lock()
        roundWaiters += 1
        defer { roundWaiters -= 1; cond.unlock() }
        let target = rounds + count
        while rounds < target { if !cond.wait(until: deadline) { return rounds >= target } }
        return true
    }

    private var freeSlots: Int { cond.lock(); defer { cond.unlock() }; return scheduler.freeSlots }

    private func isRunning(_ ref: ModelID) -> Bool { cond.lock(); defer { cond.unlock() }; return scheduler.running.contains(ref) }

    func countSkip(_ reason: SkipReason, _ ref: ModelID) {
        metrics.skipped(reason)
        cond.lock(); done.skipped += 1; cond.unlock()
        logger.debug("training skipped", metadata: ["model": "\(ref)", "reason": "\(reason.rawValue)"])
        observer?(ref, .skipped(reason))
    }

    /// One scheduling round: pending requests first (forced first), then models that are missing or stale,
    /// planned by ``TrainingScheduler`` and carried out here. Everything else stays in the store for the next round.
    private var lastDue = 0

    func schedule(now: Double) {
        var due = 0
        defer { lastDue = due }
        // Requests: each is decided once (trained, or skipped with a reason) and cleared.
        if let pending = try? history.pendingRequests() {
            due += pending.count
            execute(plan(pending.map { candidate($0.ref, forced: $0.forced, fromRequest: true) }), now: now)
        }
        // Missing or stale models, per pipeline.
        for (pid, target) in pipelines.sorted(by: { $0.key < $1.key }) {
            let free = freeSlots
            guard free > 0 else { break }
            let rules = Self.rules(target.pipeline.numalogicConf)
            var ids: [ModelID] = []
            if target.pipeline.modelScope == .pipeline {
                let ref = ModelID(pipelineID: pid, key: [])
                if !isRunning(ref), (try? history.pipelineDue(pipeline: pid, now: now, rules: rules)) == true { ids = [ref] }
            } else {
                ids = ((try? history.dueKeys(pipeline: pid, now: now, rules: rules, limit: free + 64)) ?? []).map { ModelID(pipelineID: pid, key: $0) }
            }
            due += ids.count
            execute(plan(ids.map { candidate($0, forced: false, fromRequest: false) }), now: now)
        }
        metrics.queued.set(Int64(due))
    }

    /// What the scheduler needs to know about a model.
    func candidate(_ ref: ModelID, forced: Bool, fromRequest: Bool) -> TrainingScheduler.Candidate {
        guard let target = pipelines[ref.pipelineID] else {
            return .init(id: ref, forced: forced, fromRequest: fromRequest, knownPipeline: false, rows: 0, minRows: 0, estimatedBytes: 0)
        }
        let rows = target.pipeline.modelScope == .pipeline
            ? (try? history.rowCount(pipeline: ref.pipelineID)) ?? 0
            : (try? history.rowCount(pipeline: ref.pipelineID, key: ref.key)) ?? 0
        return .init(id: ref, forced: forced, fromRequest: fromRequest, rows: rows, minRows: target.pipeline.numalogicConf.trainer.minTrainSize,
                     estimatedBytes: Self.estimatedBytes(rows: min(config.history.maxRowsPerKey, rows), target: target))
    }

    func plan(_ candidates: [TrainingScheduler.Candidate]) -> [TrainingScheduler.Action] {
        cond.lock(); defer { cond.unlock() }
        return scheduler.plan(candidates)
    }

    /// Carries out the scheduler's actions: skips are recorded (and their requests cleared); claims go to the
    /// history file (numalogic's rules, atomic across stages) and, when they hold, to a training thread.
    func execute(_ actions: [TrainingScheduler.Action], now: Double) {
        for action in actions {
            switch action {
            case .skip(let ref, let reason, let dropRequest):
                if dropRequest { try? history.dropRequest(ref) }
                // A new key, or one whose history is short: read it from the metrics store, then ask again.
                if reason == .insufficientData, dropRequest, requestBackfill(ref, now: now) {
                    logger.debug("history short; reading it from the metrics store", metadata: ["model": "\(ref)"])
                    continue
                }
                countSkip(reason, ref)
            case .claim(let ref, let forced, _):
                guard let target = pipelines[ref.pipelineID] else { continue }
                // A model already in the store (trained offline, or before this history existed) counts its age.
                if (try? history.state(ref))?.trainTs == nil, let live = checkpoints.latest(pipeline: ref.pipelineID, key: ref.key) {
                    try? history.adopt(ref, trainedAt: Files.modificationTime(live.path) ?? now, version: live.version)
                }
                let reason: SkipReason?
                do { reason = try history.claim(ref, now: now, rules: Self.rules(target.pipeline.numalogicConf), forced: forced) } catch {
                    logger.error("training not claimed", metadata: ["model": "\(ref)", "error": "\(error)"])
                    cond.lock(); _ = scheduler.claimFailed(ref, reason: .inProgress); scheduler.finished(ref); cond.unlock()
                    continue
                }
                cond.lock()
                if let reason {
                    let follow = scheduler.claimFailed(ref, reason: reason)
                    cond.unlock()
                    if let follow { execute([follow], now: now) }
                    continue
                }
                scheduler.claimed(ref)
                runningMax = max(runningMax, scheduler.running.count)
                metrics.running.set(Int64(scheduler.running.count))
                metrics.runningMax.set(Int64(runningMax))
                jobs.append(TrainingJob(ref: ref, target: target, forced: forced, estimate: scheduler.reserved[ref] ?? 0))
                cond.broadcast()
                cond.unlock()
            }
        }
    }

    // MARK: history from the metrics store

    /// Queues a read of `ref`'s history from the store when its pipeline has one and it was not read within the
    /// pipeline's `retry_sec`; returns whether it did.
    func requestBackfill(_ ref: ModelID, now: Double) -> Bool {
        guard let source = historySource, let target = pipelines[ref.pipelineID], source.serves(target) else { return false }
        cond.lock()
        defer { cond.unlock() }
        if let last = backfilledAt[ref], now - last < target.pipeline.numalogicConf.trainer.retrySec { return false }
        if backfilledAt.count >= 100_000 {
            // Bounded under key churn: entries past every pipeline's retry_sec decide nothing any more.
            let longest = pipelines.values.map(\.pipeline.numalogicConf.trainer.retrySec).max() ?? 0
            backfilledAt = backfilledAt.filter { now - $0.value < longest }
        }
        backfilledAt[ref] = now
        backfills.append(ref)
        cond.broadcast()
        return true
    }

    /// The backfill thread: reads history from the store into the history file — every served pipeline's keys at
    /// start (the catch-up after downtime: rows the file already has are replaced by the same values), one model's
    /// keys when its request found too few rows (then the request is made again). Failures are logged and counted;
    /// scoring and training of everything else go on.
    func backfillLoop(_ source: HistorySource) {
        Self.lowerPriority()
        while true {
            cond.lock()
            while backfills.isEmpty && !stopping { cond.wait() }
            if stopping { cond.unlock(); return }
            let job = backfills.removeFirst()
            cond.unlock()
            let nowMs = Int64(Self.wallClock() * 1000)
            let jobs: [(PointRouter.Target, [String]?, ModelID?)] = job.map { ref in
                pipelines[ref.pipelineID].map { [($0, $0.pipeline.modelScope == .pipeline ? nil : ref.key, ref)] } ?? []
            } ?? pipelines.values.filter { source.serves($0) }.sorted { $0.pipeline.pipelineID < $1.pipeline.pipelineID }.map { ($0, nil, nil) }
            for (target, key, ref) in jobs {
                let start = MonotonicClock.now()
                let pid = target.pipeline.pipelineID
                do {
                    // Page by page into the history file: with many keys a catch-up never holds more than a page.
                    var keys = Set<[String]>(), rowCount = 0, inserted = 0
                    let f = target.pipeline.metrics.count
                    try source.fetchPages(target, key: key, startMs: nowMs - source.lookbackMs(target, maxRows: config.history.maxRowsPerKey),
                                          endMs: nowMs) { (page) throws(HistorySourceError) in
                        var rows: [HistoryRow] = []
                        for s in page {
                            keys.insert(s.key)
                            for (i, t) in s.timestamps.enumerated() {
                                let values = Array(s.values[(i * f)..<((i + 1) * f)])
                                if values.allSatisfy(\.isNaN) { continue }
                                rows.append(HistoryRow(pipelineID: pid, key: s.key, timestamp: t, values: values))
                            }
                        }
                        do { inserted += try history.append(rows).inserted } catch {
                            throw HistorySourceError(reason: "history", detail: "\(error)")
                        }
                        rowCount += rows.count
                        metrics.backfilledRows.increment(by: Int64(rows.count))
                    }
                    metrics.backfills["ok"]?.increment()
                    logger.info("history read from the metrics store", metadata: [
                        "pipeline_id": "\(pid)", "key": "\(key.map { $0.joined(separator: ":") } ?? "*")", "keys": "\(keys.count)",
                        "rows": "\(rowCount)", "new_rows": "\(inserted)", "seconds": "\(String(format: "%.3f", MonotonicClock.now() - start))",
                    ])
                } catch {
                    metrics.backfills["failed"]?.increment()
                    logger.warning("history not read from the metrics store", metadata: [
                        "pipeline_id": "\(pid)", "key": "\(key.map { $0.joined(separator: ":") } ?? "*")", "error": "\(error)"])
                }
                // The request that found too few rows is made again (once: the next read waits retry_sec).
                if let ref {
                    cond.lock()
                    inbox.append((ref, false))
                    wake = true
                    cond.broadcast()
                    cond.unlock()
                } else {
                    poke()
                }
            }
        }
    }

    // MARK: training threads

    func workerLoop() {
        while true {
            cond.lock()
            while jobs.isEmpty && !stopping { cond.wait() }
            if stopping && jobs.isEmpty { cond.unlock(); return }
            let job = jobs.removeFirst()
            cond.unlock()
            let outcome = run(job)
            cond.lock()
            scheduler.finished(job.ref)
            metrics.running.set(Int64(scheduler.running.count))
            if case .succeeded = outcome { done.succeeded += 1 } else { done.failed += 1 }
            wake = true
            cond.broadcast()
            cond.unlock()
        }
    }

    /// Runs one claimed training and records its outcome in the store, the metrics and the log.
    func run(_ job: TrainingJob) -> TrainOutcome {
        let ref = job.ref
        let start = MonotonicClock.now()
        metrics.started.increment()
        var meta: Logger.Metadata = ["model": "\(ref)", "pipeline_id": "\(ref.pipelineID)", "key": "\(ref.key.joined(separator: ":"))"]
        logger.info("retrain started", metadata: meta)
        let context = TrainingJob.Context(history: history, checkpoints: checkpoints, maxRows: config.history.maxRowsPerKey,
                                          missing: config.windows.missingPolicy, maxLossRatio: config.retrain.maxLossRatio,
                                          logger: logger, now: { Self.wallClock() })
        let outcome = job.run(in: context, metadata: &meta)
        let seconds = MonotonicClock.now() - start
        meta["seconds"] = "\(String(format: "%.3f", seconds))"
        do { try history.finish(ref, now: Self.wallClock(), outcome: outcome) } catch {
            logger.error("training outcome not recorded", metadata: ["model": "\(ref)", "error": "\(error)"])
        }
        switch outcome {
        case .succeeded(_, let rows):
            metrics.succeeded.increment()
            metrics.rowsUsed.record(Int64(rows))
            metrics.duration.record(seconds)
            logger.info("retrain succeeded", metadata: meta)
        case .insufficientData(let rows):
            metrics.skipped(.insufficientData)
            cond.lock(); done.skipped += 1; cond.unlock()
            logger.info("retrain skipped", metadata: meta.merging(["reason": "insufficient_data", "rows": "\(rows)"]) { $1 })
        case .failed(let failure, let detail):
            metrics.failed(failure)
            metrics.duration.record(seconds)
            logger.warning("retrain failed", metadata: meta.merging(["reason": "\(failure.rawValue)", "error": "\(detail)"]) { $1 })
        case .interrupted:
            break
        }
        observer?(ref, .finished(outcome))
        return outcome
    }

    /// Lowers the calling thread's scheduling priority (on Linux, nice values are per thread).
    static func lowerPriority() { ProcessInfoSystem.lowerThreadPriority() }

    /// Peak resident memory of the process (VmHWM), in bytes.
    public static func peakResidentBytes() -> Int { ProcessInfoSystem.peakResidentBytes() }
}
