import Foundation
import Logging
import Scoring
import SystemCalls

#if canImport(Glibc)
import Glibc
#endif

/// Loaded models with hot swap over the on-disk store (ARCHITECTURE.md §4).
///
/// The scoring thread owns the cache (``lookup(_:now:)``, ``applyLoaderResults()``); a dedicated loader
/// thread reads `LATEST`, loads and fully validates new versions off the hot path, and watches known key
/// directories (inotify where available, polling every `pollInterval` as well). Results are swapped in by
/// the scoring thread between batches; a bad new file is logged and counted while the previous version
/// keeps serving. The cache holds at most `capacity` models (least recently used evicted); the registries of
/// several scoring workers share that capacity (`budget`), each evicting its own least recently used.
public final class ModelRegistry: @unchecked Sendable {
    // @unchecked: `cache` is touched only by the scoring thread; the event and result
    // queues are guarded by `lock`; the loader's own state is touched only by the loader thread.

    public struct Requirement: Sendable {
        public let metrics: [String]
        public let windowSize: Int
        public init(metrics: [String], windowSize: Int) { (self.metrics, self.windowSize) = (metrics, windowSize) }
    }

    public enum Lookup {
        case ready(ScoringPipeline, version: Int)
        /// Being read from the store (or not yet asked about): no train request.
        case loading
        /// The store has no usable model for it: a train request is due.
        case missing
    }

    public struct Listing: Sendable {
        public let id: ModelID
        public let version: Int?
        public let loadedAt: Double?
        public let path: String?
        public let status: String

        /// `listings` by their ids' text (`/v1/models`' order), each id written once.
        public static func sorted(_ listings: some Sequence<Listing>) -> [Listing] {
            listings.map { ($0.id.description, $0) }.sorted { $0.0 < $1.0 }.map(\.1)
        }
    }

    enum State {
        case loading
        case missing
        case ready(ScoringPipeline, version: Int, loadedAt: Double, path: String)
    }

    /// What the scoring thread tells the loader, in the order it happened.
    enum LoaderEvent {
        case want(ModelID)
        /// Evicted: a waiting load of it is cancelled, and its entry (with its model) is released on the loader thread.
        case forget(ModelID, State)
    }

    enum LoaderResult {
        /// `preloaded`: read by the start-up scan (taken while there is room, its key not asked for yet).
        case loaded(ModelID, ScoringPipeline, version: Int, path: String, preloaded: Bool)
        case missing(ModelID)
        case failed(ModelID, version: Int, reason: String)
        /// A stored live version the start-up scan could not use (its key unknown until it loads).
        case refused(path: String, reason: String)
    }

    public let store: CheckpointStore
    /// With inotify, keys whose directory is watched are re-read once every this many polls, spread over the ticks
    /// in between (``RecheckSchedule``).
    static let watchedPollRounds = 15
    public let capacity: Int
    /// Requests the loader reads between two looks at the scoring thread's newer events.
    static let loadsPerTick = 32
    /// Entries over every registry sharing `capacity` (this one's alone unless given).
    let budget: KeyBudget
    public let pollInterval: Double
    /// The keys whose models this registry holds: one scoring worker's share (and every pipeline-wide model).
    public let shard: KeyShard
    let requirements: [String: Requirement]
    let logger: Logger
    let metrics: ScoringMetrics

    private var cache = UsageTable<ModelID, State>()
    /// Set when an entry came, went or changed state (scoring thread only; not when a lookup only marks an entry
    /// used); see ``takeChanges()``.
    private var changed = false
    /// Entries whose model is ready (scoring thread only; kept as entries change, not counted again).
    private var readyCount = 0
    /// Incremented whenever a served model changes, so callers may cache lookups between changes.
    public private(set) var generation = 0
    private let lock = NSLock()
    private var events: [LoaderEvent] = []
    private var results: [LoaderResult] = []
    private let wake = DispatchSemaphore(value: 0)
    private var stopping = false
    private var loaderThread: Thread?
    private let loaderDone = DispatchSemaphore(value: 0)
    private let preloaded = DispatchSemaphore(value: 0)
    /// Key directories with a live version the loader has seen in the store (guarded by `lock`), and whether
    /// the start-up scan is done.
    private var onDisk: Set<String> = []
    private var preloadFinished = false

    /// Waits (up to `timeout` seconds) until the models already in the store are read, so a restarted process
    /// scores its keys' first points with them. True when the preload finished in time.
    public func waitForPreload(timeout: Double) -> Bool {
        guard loaderThread != nil else { return true }
        guard preloaded.wait(timeout: .now() + timeout) == .success else { return false }
        preloaded.signal()   // later waiters pass too
        return true
    }

    /// The registry over `config.store`, checking every model against its pipeline's metrics and window. With
    /// several scoring workers each has its own registry for its shard of the keys, and they share
    /// `store.max_models` through `budget`.
    public convenience init(config: AEFlowConfig, metrics: ScoringMetrics, logger: Logger, shard: KeyShard = .whole, budget: KeyBudget? = nil) {
        var requirements: [String: Requirement] = [:]
        for s in config.streams { for p in s.pipelines { requirements[p.pipelineID] = .init(metrics: p.metrics, windowSize: s.windowSize) } }
        self.init(store: CheckpointStore(root: config.store.path, keepVersions: config.store.keepVersions),
                  capacity: config.store.maxModels, pollInterval: Double(config.store.pollIntervalMs) / 1000,
                  requirements: requirements, metrics: metrics, logger: logger, shard: shard, budget: budget)
    }

    /// `budget`: shared with the other workers' registries (limit `capacity`); its own when nil.
    public init(store: CheckpointStore, capacity: Int, pollInterval: Double, requirements: [String: Requirement],
                metrics: ScoringMetrics, logger: Logger, shard: KeyShard = .whole, budget: KeyBudget? = nil) {
        (self.store, self.capacity, self.pollInterval, self.requirements, self.metrics, self.logger, self.shard) =
            (store, max(1, capacity), pollInterval, requirements, metrics, logger, shard)
        self.budget = budget ?? KeyBudget(limit: max(1, capacity), pipelines: 1)
    }

    // MARK: scoring thread

    /// The current model for `id`; an unknown id starts a load in the background.
    public func lookup(_ id: ModelID, now: Double) -> Lookup {
        if let state = cache.touch(id, now: now) {
            switch state {
            case .ready(let p, let v, _, _): return .ready(p, version: v)
            case .loading: return .loading
            case .missing: return .missing
            }
        }
        // Not seen yet: a key the store had nothing for at start is missing at once (its train request need not
        // wait for the loader); otherwise it is being read. Either way the loader now watches its directory.
        let directory = store.keyDirectory(pipeline: id.pipelineID, key: id.key)   // built outside the loader's lock
        lock.lock()
        let missing = preloadFinished && !onDisk.contains(directory)
        lock.unlock()
        setEntry(id, missing ? .missing : .loading, usedAt: now)
        budget.force(0)
        tell(.want(id))
        evictIfNeeded(sparing: id)
        return missing ? .missing : .loading
    }

    /// Swaps in what the loader finished. Returns the ids whose model changed.
    @discardableResult
    public func applyLoaderResults() -> [ModelID] {
        lock.lock()
        let done = results
        results.removeAll()
        lock.unlock()
        var changed: [ModelID] = []
        guard !done.isEmpty else { return changed }   // called per batch: nothing to count again
        for r in done {
            switch r {
            case .loaded(let id, let p, let v, let path, let preloaded):
                // Unknown ids from the start-up preload are taken while there is room; a read of a key evicted since it
                // was asked for is dropped (kept, it took a share of `max_models` no key was using, for good when
                // this worker's keys go quiet).
                guard let state = cache[id] ?? (preloaded && budget.take(0) ? State.loading : nil) else { continue }
                if case .ready(_, let old, _, _) = state {
                    metrics.modelSwaps.increment()
                    logger.info("model swapped", metadata: ["model": "\(id)", "from_version": "\(old)", "to_version": "\(v)"])
                } else {
                    logger.info("model loaded", metadata: ["model": "\(id)", "version": "\(v)"])
                }
                if let why = p.inferenceFallback {
                    logger.warning("model scores through the autograd engine", metadata: ["model": "\(id)", "reason": "\(why)"])
                }
                setEntry(id, .ready(p, version: v, loadedAt: Date().timeIntervalSince1970, path: path))
                changed.append(id)
                generation += 1
            case .missing(let id):
                // Only a read under way becomes missing (LATEST vanished under a ready model: keep serving what we have).
                if case .loading? = cache[id] { setEntry(id, .missing) }
            case .refused(let path, let reason):
                metrics.modelLoadFailures.increment()
                logger.error("model version refused", metadata: ["path": "\(path)", "reason": "\(reason)"])
            case .failed(let id, let v, let reason):
                metrics.modelLoadFailures.increment()
                logger.error("model version refused", metadata: ["model": "\(id)", "version": "\(v)", "reason": "\(reason)"])
                if case .loading? = cache[id] { setEntry(id, .missing) }
            }
        }
        reportLoaded()
        return changed
    }

    /// Whether anything changed since the last call (new ids, loads, swaps, evictions).
    public func takeChanges() -> Bool {
        defer { changed = false }
        return changed
    }

    /// A snapshot for `/v1/models`, in no particular order (``Listing/sorted(_:)`` orders it when asked: the worker
    /// takes a snapshot every 0.2 s while its keys churn, and sorting there cost a string per id per comparison).
    public func listing() -> [Listing] {
        cache.entries.map { id, state in
            switch state {
            case .ready(_, let v, let at, let path): Listing(id: id, version: v, loadedAt: at, path: path, status: "ready")
            case .loading: Listing(id: id, version: nil, loadedAt: nil, path: nil, status: "loading")
            case .missing: Listing(id: id, version: nil, loadedAt: nil, path: nil, status: "missing")
            }
        }
    }

    private func reportLoaded() {
        metrics.setModelsLoaded(readyCount, shard: shard)
    }

    /// Writes (or with nil removes) `id`'s entry (`usedAt` nil: its time of last use stays), keeping ``readyCount``
    /// and ``changed``.
    @discardableResult
    private func setEntry(_ id: ModelID, _ state: State?, usedAt: Double? = nil) -> State? {
        func ready(_ s: State?) -> Int { if case .ready? = s { 1 } else { 0 } }
        let old = state.map { cache.set(id, $0, usedAt: usedAt) } ?? cache.remove(id)
        readyCount += ready(state) - ready(old)
        changed = true
        return old
    }

    /// Over capacity (over every registry sharing it), this registry's least recently used entries go, down to
    /// 15/16 of the capacity at once: one sort (of the times alone) per capacity/16 new keys rather than one per key,
    /// so churn through far more keys than `store.max_models` costs O(log n) per new key (LoadGen --scope key with
    /// 100k keys over max_models 10k).
    /// A registry evicts only what it holds over its even share of the capacity (`shareKeep`): one holding less
    /// lets the total run over until the others give back theirs (``rebalance()``), since evicting its own would
    /// read its few live keys again and again while other workers' quiet models fill the shared capacity. `sparing`:
    /// the key just asked for, never evicted for its own sake.
    private func evictIfNeeded(sparing: ModelID? = nil) {
        let used = budget.used(0)
        guard used > capacity else { return }
        let keep = capacity >= 16 ? capacity - capacity / 16 : capacity
        let count = min(cache.count - (sparing == nil ? 0 : 1), used - keep, cache.count - shareKeep)
        guard count > 0 else { return }
        // Found from the times alone (UsageTable): sorting the entries themselves copied and retained every cold model.
        let victims = cache.leastRecentlyUsed(count, sparing: sparing)
        var gone: [LoaderEvent] = []
        gone.reserveCapacity(count)
        for v in victims { if let state = setEntry(v, nil) { gone.append(.forget(v, state)) } }
        budget.release(0, victims.count)
        generation += 1
        reportLoaded()
        lock.lock()
        events += gone
        lock.unlock()
    }

    /// Over the shared capacity, a registry holding more than its even share evicts its own least recently used down
    /// to that share, also when none of its own keys is new (the scoring engine calls it once a batch): so a worker
    /// whose keys went quiet gives back the capacity another worker's keys need.
    public func rebalance() {
        guard cache.count > shareKeep else { return }
        evictIfNeeded()
    }

    /// This registry's even share of the capacity, less the sixteenth evicted at once (as `keep` is of the capacity).
    private var shareKeep: Int {
        let share = max(1, capacity / max(1, shard.count))
        return share >= 16 ? share - share / 16 : share
    }

    private func tell(_ e: LoaderEvent) {
        lock.lock()
        events.append(e)
        lock.unlock()
        wake.signal()
    }

    // MARK: loader thread

    public func start() {
        let t = ThreadName.thread("aeflow-model-loader") { [self] in loaderLoop() }
        loaderThread = t
        t.start()
    }

    public func stop() {
        lock.lock()
        stopping = true
        lock.unlock()
        wake.signal()
        if loaderThread != nil { loaderDone.wait() }
    }

    private func loaderLoop() {
        defer { loaderDone.signal() }
        var known: [ModelID: Int?] = [:]           // id → version served (nil when none)
        let watcher = DirectoryWatcher()
        var watchedIDs: [Int32: ModelID] = [:]
        var watchOf: [ModelID: Int32] = [:]          // the reverse of watchedIDs (the poll asks per id)
        func remember(_ wd: Int32, _ id: ModelID) {
            watchedIDs[wd] = id
            watchOf[id] = wd
        }
        // The preloaded keys are watched from their load on: the first full poll then has nothing to catch up with
        // (it re-read and watched every one of them at once, a second of the loader's work beside scoring).
        for (wd, id) in preload(&known, watcher: watcher) { remember(wd, id) }
        lock.lock()
        preloadFinished = true
        lock.unlock()
        preloaded.signal()
        func watch(_ id: ModelID) {
            guard watchOf[id] == nil, let wd = watcher.add(store.keyDirectory(pipeline: id.pipelineID, key: id.key)) else { return }
            remember(wd, id)
        }
        var nextPoll = MonotonicClock.now() + pollInterval
        var recheck = RecheckSchedule<ModelID>(period: pollInterval * Double(Self.watchedPollRounds))
        var queue = LoadQueue<ModelID>()
        while true {
            // A short tick: directory events (inotify) or a request wake it; the full poll runs every pollInterval.
            // With requests still waiting it only looks for new events and goes on.
            let wait = queue.isEmpty ? 0.05 : 0
            let changes = watcher.isAvailable ? watcher.wait(seconds: wait) : []
            if !watcher.isAvailable { _ = wake.wait(timeout: .now() + wait) }
            for wd in changes { if let id = watchedIDs[wd] { check(id, &known) } }
            lock.lock()
            let stop = stopping
            let news = events
            events.removeAll()
            lock.unlock()
            if stop { return }
            for e in news {
                switch e {
                case .want(let id):
                    queue.want(id)
                case .forget(let id, _):   // the entry's model is released with `news`, here
                    queue.cancel(id)
                    known[id] = nil
                    if let wd = watchOf.removeValue(forKey: id) { watcher.remove(wd); watchedIDs[wd] = nil }
                }
            }
            // A few at a time: evictions made meanwhile cancel the rest's waiting loads before they are read.
            for id in queue.take(Self.loadsPerTick) {
                if known[id] == nil { known[id] = .some(nil) }
                check(id, &known)
                watch(id)
            }
            // Keys whose directory is watched hear of changes at once; re-reading their LATEST is only a safety net,
            // once every `watchedPollRounds` polls, a share each tick.
            for id in recheck.due(at: MonotonicClock.now(), watched: { Array(watchOf.keys) }, isWatched: { watchOf[$0] != nil }) {
                check(id, &known)
            }
            if MonotonicClock.now() >= nextPoll {
                // Keys without a watch (no directory yet: a new key's first model) are checked every poll, and watched
                // once their directory exists (a lookup per id: this ran a linear search per id, quadratic in the
                // keys, every poll).
                for id in known.keys where watchOf[id] == nil {
                    check(id, &known)
                    watch(id)
                }
                nextPoll = MonotonicClock.now() + pollInterval
            }
        }
    }

    /// Loads the live version of every key already in the store for a configured pipeline (up to the
    /// cache capacity), so a restarted daemon scores at once instead of waiting for each key's first point.
    /// Returns the watches set on the loaded keys' directories (`watcher`'s descriptors).
    private func preload(_ known: inout [ModelID: Int?], watcher: DirectoryWatcher) -> [(Int32, ModelID)] {
        var loaded = 0
        var watches: [(Int32, ModelID)] = []
        for pipelineID in requirements.keys.sorted() {
            let dir = "\(store.root)/\(CheckpointStore.directoryName([pipelineID]))"
            for name in CheckpointStore.listDirectory(dir).sorted() {
                // Another worker's key (when the name says which) is that worker's to load.
                if let key = CheckpointStore.key(fromDirectoryName: name), !shard.holdsModel(of: key) { continue }
                // A key to be loaded is watched before its LATEST is read, so a version published meanwhile is heard;
                // the watch goes again unless the key is loaded.
                let wd = loaded < capacity ? watcher.add("\(dir)/\(name)") : nil
                var watched = false
                defer { if !watched, let wd { watcher.remove(wd) } }
                guard let latest = CheckpointStore.latest(in: "\(dir)/\(name)") else { continue }
                // Every key with a live version counts as on disk (its first point waits for a load, no train request);
                // up to the cache's capacity they are loaded now.
                lock.lock()
                onDisk.insert("\(dir)/\(name)")
                lock.unlock()
                guard loaded < capacity else { continue }
                do {
                    let (c, pipeline) = try Checkpoint.load(path: latest.path)
                    let id = ModelID(pipelineID: pipelineID, key: c.key)
                    guard shard.holdsModel(of: c.key) else { continue }   // a hashed directory name of another worker's key
                    guard store.keyDirectory(pipeline: pipelineID, key: c.key) == "\(dir)/\(name)", c.pipelineID == pipelineID else { continue }
                    guard let req = requirements[pipelineID], c.metrics == req.metrics, c.seqLen == req.windowSize else { continue }
                    known[id] = .some(latest.version)
                    post(.loaded(id, pipeline, version: latest.version, path: latest.path, preloaded: true))
                    loaded += 1
                    if let wd { watches.append((wd, id)); watched = true }
                } catch {
                    post(.refused(path: latest.path, reason: "\(error)"))
                }
            }
        }
        if loaded > 0 { logger.info("models preloaded", metadata: ["count": "\(loaded)"]) }
        return watches
    }

    /// Loads `id`'s live version if it differs from the one served.
    private func check(_ id: ModelID, _ known: inout [ModelID: Int?]) {
        guard let latest = store.latest(pipeline: id.pipelineID, key: id.key) else {
            if (known[id] ?? nil) == nil { post(.missing(id)) }
            return
        }
        lock.lock()
        onDisk.insert(store.keyDirectory(pipeline: id.pipelineID, key: id.key))
        lock.unlock()
        if let served = known[id] ?? nil, served == latest.version { return }
        known[id] = .some(latest.version)      // a refused version is not retried until LATEST changes
        do {
            let (c, pipeline) = try Checkpoint.load(path: latest.path)
            if let req = requirements[id.pipelineID] {
                guard c.metrics == req.metrics else {
                    throw CheckpointError(path: latest.path, .spec("metrics \(c.metrics) differ from the pipeline's \(req.metrics)"))
                }
                guard c.seqLen == req.windowSize else {
                    throw CheckpointError(path: latest.path, .spec("seq_len \(c.seqLen) differs from the window size \(req.windowSize)"))
                }
            }
            post(.loaded(id, pipeline, version: latest.version, path: latest.path, preloaded: false))
        } catch {
            post(.failed(id, version: latest.version, reason: "\(error)"))
        }
    }

    private func post(_ r: LoaderResult) {
        lock.lock()
        results.append(r)
        lock.unlock()
    }
}
