import Foundation
import Scoring
import Stage
import Synchronization
import SystemCalls

// MARK: scoring workers

extension DaemonRuntime {
    /// One worker's thread: its engine (the keys of its shard), restored from the snapshot and with the store's
    /// models read before it reports ready; then it scores what it is given, in order, and hands the encoded
    /// outputs to the publisher. On `.stop` (after everything queued before it) its engine goes to the
    /// publisher for the shutdown snapshot. It takes and scores its queue inside its room (`ScoringWorker.room`),
    /// where the ingest thread scores a small share in its place while it is idle (`SharePlacement`).
    func workerLoop(_ w: ScoringWorker, seed: UInt64) {
        defer { w.done.signal() }
        let engine = ScoringEngine(config: config, router: ingest.router, models: w.models, metrics: metrics, logger: logger,
                                   seed: seed &+ UInt64(w.shard.index) &* 0x9E37_79B9_7F4A_7C15, shard: w.shard, keyBudget: keyBudget)
        // Before reporting ready: this worker's keys' windows from the last shutdown, and the models already in the store.
        engine.restoreSnapshot()
        engine.scoreSink = scoreSink
        var filled = 0
        for (pi, series) in prefill { filled += engine.prefill(pipeline: pi, series, now: MonotonicClock.now()) }
        if !prefill.isEmpty { logger.info("windows filled from the metrics store", metadata: ["rows": "\(filled)", "worker": "\(w.shard)"]) }
        if !w.models.waitForPreload(timeout: config.store.preloadTimeoutSeconds) {
            logger.warning("store still loading at start; keys whose model is being read answer model_not_ready meanwhile",
                           metadata: ["timeout_s": "\(config.store.preloadTimeoutSeconds)", "worker": "\(w.shard)"])
        }
        w.models.applyLoaderResults()
        w.room.lock(); w.engine = engine; w.room.unlock()
        startup.signal()
        var nextExpiry = MonotonicClock.now() + 1
        var nextListing = 0.0
        var running = true
        while running {
            w.queue.waitForItems(timeout: 0.25)
            // Taken inside the room: what the ingest thread scores in place (queue empty, room free) is never
            // newer than something this thread holds unscored.
            w.room.lock()
            defer { w.room.unlock() }
            let items = w.queue.popAll(timeout: 0)
            let idle = items.isEmpty
            let now = MonotonicClock.now()
            var batch: [RoutedPoint] = []
            func flush() {
                guard !batch.isEmpty else { return }
                send(engine.process(batch, now: now))
                batch = []   // (the array is usually the ingest thread's: keeping its capacity would allocate a fresh one)
            }
            for var item in items.draining() {
                if let ps = item.takePoints() {
                    // Small shares are joined (one model call for their keys; the points moved, not copied); a large
                    // one is scored as it came.
                    if batch.isEmpty {
                        batch = ps
                    } else if batch.count + ps.count > 512 {
                        flush()
                        batch = ps
                    } else {
                        for p in ps.draining() { batch.append(consume p) }
                    }
                    continue
                }
                switch consume item {
                case .points: break   // (taken above)
                case .window(let window, let arrival, let frames):
                    flush()
                    switch engine.processWindow(window, arrival: arrival, now: now) {
                    case .success(let e): send(e)
                    case .failure(let r): outputs.push(.rejected(frames: frames, r, totalBytes: nil, point: nil))
                    }
                case .request(let share, let update, let gather):
                    flush()
                    gather.complete(answer(share, update: update, engine: engine))
                case .stop:
                    running = false
                }
            }
            flush()
            if idle {
                w.models.applyLoaderResults()
                w.models.rebalance()   // a worker without points of its own still gives back its share
            }
            if now >= nextExpiry || !running {
                engine.expire(now: now)
                nextExpiry = now + 1
            }
            // `/v1/models` at most every 0.2 s: under key churn the cache changes on every batch.
            if now >= nextListing, w.models.takeChanges() {
                let listing = w.models.listing()
                lock.lock(); listings[w.shard.index] = listing; lock.unlock()
                nextListing = now + 0.2
            }
            metrics.queueDepth.set(Int64(queuedPoints))
        }
        w.room.lock(); w.engine = nil; w.room.unlock()
        outputs.push(.stopped(engine))
    }

    /// A worker's emissions: its scores straight to the score socket, the rest (train requests, refused points) to
    /// the publisher.
    func send(_ emissions: consuming [Emission]) {
        let rest = scores.send(emissions)
        if !rest.isEmpty { outputs.push(.emissions(rest), weight: rest.count) }
    }

    /// Each served pipeline's points of the last `window_size` steps plus five minutes (Prometheus's lookback: a key
    /// whose source scrapes late still fills its window) from the metrics store, every key (`prometheus_conf.
    /// prefill_windows`; each engine keeps a key's newest `window_size`), within `prefill_timeout_s`: a store that fails
    /// or is slow is logged and the daemon starts without it.
    func readPrefill() -> [Int: [HistorySeries]] {
        guard let source = historySource, let conf = config.prometheus, conf.prefillWindows else { return [:] }
        let targets = ingest.router.targets.enumerated().filter { source.serves($0.element) }
        guard !targets.isEmpty else { return [:] }
        let result = Mutex<[Int: [HistorySeries]]>([:])
        let done = DispatchSemaphore(value: 0)
        let logger = logger
        let nowMs = Int64(Date().timeIntervalSince1970 * 1000)
        let t = ThreadName.thread("aeflow-prefill") {
            defer { done.signal() }
            for (pi, target) in targets {
                let step = source.stepMs(target)
                do {
                    let series = try source.fetch(target, key: nil, startMs: nowMs - step * Int64(target.stream.windowSize) - 300_000,
                                                    endMs: nowMs)
                    result.withLock { $0[pi] = series }
                } catch {
                    logger.warning("windows not filled from the metrics store", metadata: ["pipeline_id": "\(target.pipeline.pipelineID)", "error": "\(error)"])
                }
            }
        }
        t.start()
        if done.wait(timeout: .now() + conf.prefillTimeoutSeconds) == .timedOut {
            logger.warning("windows not filled from the metrics store: it did not answer in time", metadata: ["timeout_s": "\(conf.prefillTimeoutSeconds)"])
            return [:]
        }
        let r = result.withLock { $0 }
        logger.info("read windows from the metrics store", metadata: ["pipelines": "\(r.count)", "keys": "\(r.values.reduce(0) { $0 + $1.count })"])
        return r
    }

    /// A worker's share of an HTTP request, scored on its thread. With `update` its points enter the windows like
    /// any others and train requests go out as usual; without, they are scored on copies of the windows
    /// (``ScoringEngine/preview``). The scores are the HTTP response (not also published on the score socket);
    /// train requests and points the windows refuse (late, duplicate) go to the publisher.
    func answer(_ share: RequestShare, update: Bool, engine: ScoringEngine) -> Result<[(position: Int, body: [UInt8])], Rejection> {
        let emissions: [Emission]
        let positions: [Int]
        switch share {
        case .window(let window, let arrival):
            switch engine.processWindow(window, arrival: arrival, now: MonotonicClock.now()) {
            case .success(let e): (emissions, positions) = (e, Array(e.indices))
            case .failure(let r): metrics.rejected(r.reason); return .failure(r)
            }
        case .points(let routed, let at):
            let now = MonotonicClock.now()
            // The first `routed.count` emissions answer the points, in order; train requests follow.
            emissions = update ? engine.process(routed, now: now) : engine.preview(routed, now: now)
            positions = at
        }
        var bodies: [(position: Int, body: [UInt8])] = []
        var others: [Emission] = []
        for (i, e) in emissions.enumerated() {
            if case .score(_, let body, _, let status, let anomalyOf) = e {
                bodies.append((positions[i], body))
                metrics.answered(status, anomalyOf: anomalyOf)
            } else {
                others.append(e)
            }
        }
        if !others.isEmpty { outputs.push(.emissions(others), weight: others.count) }
        return .success(bodies)
    }
}
