import Autoencoders
import Logging
import Scoring
import TensorCore

/// What the engine wants sent after a batch.
public enum Emission: Sendable {
    /// A score message: the key (its values joined by `:` are the PUB topic), JSON body, arrival time, status,
    /// and the pipeline whose alert threshold the score reached (`metadata.is_anomaly` true), if it did.
    case score(key: [String], body: [UInt8], arrival: Double, status: ScoreStatus, anomalyOf: String?)
    case trainRequest(TrainRequest)
    /// A point rejected by its key's window (late, duplicate), with the message it came in and its index there.
    case rejected(Rejection, source: [[UInt8]]?, index: Int?)
}

/// The scoring thread's state and logic: per-key windows, per-key scoring state, model lookup, batched
/// inference and output encoding. Every accepted point yields exactly one score emission (whatever its
/// status); duplicates and late points rejected by the window policy yield a rejection instead.
/// Confined to one thread.
public final class ScoringEngine {
    struct KeyExtra {
        var state = KeyScoreState()
        var lastTrainRequest: Double = -.infinity
        var modelVersion: Int?
        /// The registry's answer for this key, valid while the registry generation is unchanged.
        var cachedModel: (ScoringPipeline, Int)?
        var cachedGeneration = -1
    }

    struct PipelineState {
        let target: PointRouter.Target
        var windows: KeyedWindows<[String]>
        var extras: [KeyExtra] = []
        let template: OutputTemplate
    }

    let config: AEFlowConfig
    let router: PointRouter
    var pipelines: [PipelineState]
    public let models: ModelRegistry
    let metrics: ScoringMetrics
    let logger: Logger
    /// The keys this engine owns (one scoring worker's share).
    public let shard: KeyShard
    var uuids: UUIDGenerator
    /// The compiled plans' working memory on this engine's thread.
    let inference = InferenceScratch()
    /// The row of the point being applied (reused).
    private var row: [Float] = []
    /// The arrays of the window being scored (reused).
    private var scoreBuffers = ScoreBuffers()

    /// `windows.max_keys`, shared with the other workers' engines.
    let keyBudget: KeyBudget

    /// Where scores go besides the emissions (remote write), once per batch; nil: nowhere.
    public var scoreSink: ScoreSink?
    /// The batch's scores for `scoreSink` (none are collected while previewing).
    var samples: [ScoreSample] = []
    var previewing = false

    /// `router` is the process's one router (built from `config`); `shard` the keys this engine owns (it is
    /// given only those; a snapshot restores only those); `keyBudget` the `windows.max_keys` it shares with the
    /// other workers' engines (its own when nil).
    public init(config: AEFlowConfig, router: PointRouter, models: ModelRegistry, metrics: ScoringMetrics, logger: Logger, seed: UInt64,
                shard: KeyShard = .whole, keyBudget: KeyBudget? = nil) {
        self.config = config
        self.router = router
        self.shard = shard
        self.keyBudget = keyBudget ?? KeyBudget(limit: config.windows.maxKeys, pipelines: router.targets.count)
        pipelines = router.targets.map {
            PipelineState(target: $0, windows: KeyedWindows(length: $0.stream.windowSize, features: $0.pipeline.metrics.count,
                                                            capacity: config.windows.maxKeys),
                          template: OutputTemplate(pipelineID: $0.pipeline.pipelineID, metrics: $0.pipeline.metrics))
        }
        (self.models, self.metrics, self.logger) = (models, metrics, logger)
        uuids = UUIDGenerator(seed: seed)
    }

    /// The window slot of `key` in pipeline `pi`, creating it within the shared `windows.max_keys` (beyond it
    /// this engine's least recently used key of the pipeline goes).
    /// `hash`: the key's `hashValue` if already computed.
    func keySlot(_ pi: Int, _ key: [String], hash: Int? = nil, now: Double) -> (slot: Int, evicted: [String]?) {
        let budget = keyBudget
        let empty = pipelines[pi].windows.count == 0
        var admitted = false
        let r = pipelines[pi].windows.slot(for: key, hash: hash ?? key.hashValue, now: now) {
            admitted = budget.take(pi)
            if !admitted && empty { budget.force(pi); admitted = true }
            return admitted
        }
        if admitted && r.evicted != nil { budget.release(pi, 1) }   // this engine's own capacity made the room
        return r
    }

    public var keyCount: Int { pipelines.reduce(0) { $0 + $1.windows.count } }

    func modelID(_ p: PipelineState, key: [String]) -> ModelID {
        ModelID(pipelineID: p.target.pipeline.pipelineID, key: p.target.pipeline.modelScope == .pipeline ? [] : key)
    }

    /// Drops idle keys; returns how many.
    @discardableResult
    public func expire(now: Double) -> Int {
        var n = 0
        for i in pipelines.indices {
            let gone = pipelines[i].windows.expire(idleSince: now - config.windows.idleTimeoutSeconds).count
            keyBudget.release(i, gone)
            n += gone
        }
        if n > 0 { metrics.keysExpired.increment(by: Int64(n)) }
        metrics.setKeys(keyCount, shard: shard)
        return n
    }

    /// How many points ahead of its turn a point's key is hashed and its table entry prefetched.
    static let keyAhead = 8
    /// The batch's keys' hashes, in batch order (reused).
    private var keyHashes: [Int] = []

    @inline(__always)
    private func hashKey(_ bp: UnsafeBufferPointer<RoutedPoint>, _ j: Int) {
        let h = bp[j].key.hashValue
        keyHashes.append(h)
        pipelines[bp[j].pipeline].windows.prefetchKey(hash: h)
    }

    /// A point whose window a model scores in this batch.
    struct Pending {
        let index: Int          // the point's position in the batch (and of its output)
        let pipeline: Int       // its pipeline (two streams may share a pipeline id, and so a model)
        let slot: Int
        let model: Int          // its model among the batch's (``BatchModel``)
    }

    /// A model that scores windows in this batch, and how many.
    struct BatchModel {
        let model: ScoringPipeline
        let version: Int
        var windows = 0
    }

    /// Models with fewer windows than this in a batch are stacked (``ScoringPipeline/forward(stacked:_:scratch:)``):
    /// below 8 rows the dense plans run the same row loop either way, so stacking only saves per-model overhead.
    static let stackedBelow = 8

    /// Which model scores each window of ``scoreWindows(_:_:by:_:into:)``.
    enum Scorer {
        /// One model (and version) for every window, in one batch.
        case shared(ScoringPipeline, version: Int)
        /// Window `j` by `models[j]` (version `versions[j]`), stacked.
        case each([ScoringPipeline], versions: [Int])

        func model(_ j: Int) -> (ScoringPipeline, Int) {
            switch self {
            case .shared(let m, let v): (m, v)
            case .each(let ms, let vs): (ms[j], vs[j])
            }
        }
    }

    /// Scores the ready windows of pipeline `pi` (`items` in batch order, their windows `(B, L, F)` in `windows`):
    /// a model with few windows (with a model per key, most have one) in a stacked pass with the other such
    /// models, a model with more as one batch. When every window goes one way (the usual case: a model per key,
    /// or one pipeline-wide model), the windows go as they were gathered, without a second copy.
    func scoreReady(_ items: [Pending], _ windows: [Float], of pi: Int, models: [BatchModel], _ bp: UnsafeBufferPointer<RoutedPoint>,
                    into out: inout [Emission?]) {
        let target = pipelines[pi].target
        let n = target.stream.windowSize * target.pipeline.metrics.count
        func stacks(_ m: BatchModel) -> Bool {
            m.windows < Self.stackedBelow && m.model.stackable && m.model.seqLen == target.stream.windowSize
                && m.model.features == target.pipeline.metrics.count
        }
        var stacked = 0, oneModel = true
        for p in items {
            if stacks(models[p.model]) { stacked += 1 }
            if p.model != items[0].model { oneModel = false }
        }
        func each(_ items: [Pending]) -> Scorer { .each(items.map { models[$0.model].model }, versions: items.map { models[$0.model].version }) }
        if stacked == items.count {
            scoreWindows(items, windows, by: each(items), bp, into: &out)
        } else if oneModel {
            scoreWindows(items, windows, by: .shared(models[items[0].model].model, version: models[items[0].model].version), bp, into: &out)
        } else {
            var stack: (items: [Pending], windows: [Float]) = ([], [])
            var shared: [Int: (items: [Pending], windows: [Float])] = [:]
            var sharedOrder: [Int] = []
            for (j, p) in items.enumerated() {
                let w = windows[(j * n)..<((j + 1) * n)]
                if stacks(models[p.model]) {
                    stack.items.append(p)
                    stack.windows += w
                } else {
                    if shared[p.model] == nil { shared[p.model] = ([], []); sharedOrder.append(p.model) }
                    shared[p.model]!.items.append(p)
                    shared[p.model]!.windows += w
                }
            }
            for m in sharedOrder {
                let g = shared.removeValue(forKey: m)!
                scoreWindows(g.items, g.windows, by: .shared(models[m].model, version: models[m].version), bp, into: &out)
            }
            if !stack.items.isEmpty { scoreWindows(stack.items, stack.windows, by: each(stack.items), bp, into: &out) }
        }
    }

    /// Scores the windows `(B, L, F)` of `items` (points of one pipeline, in batch order) and sets their outputs.
    func scoreWindows(_ items: [Pending], _ windows: [Float], by scorer: Scorer, _ bp: UnsafeBufferPointer<RoutedPoint>, into out: inout [Emission?]) {
        let target = pipelines[items[0].pipeline].target
        let (l, f) = (target.stream.windowSize, target.pipeline.metrics.count)
        let raw = Tensor(shape: [items.count, l, f], scalars: windows)
        var input = raw
        for (j, p) in items.enumerated() {
            // With a model per key, each window's pipeline object is first read here, one after another: the objects
            // a few windows ahead are read early (their addresses taken without a retain, which would itself wait).
            if case .each(let models, _) = scorer, j + 4 < models.count {
                models.withUnsafeBufferPointer { Kernels.prefetchObject($0, j + 4, lines: 4) }
            }
            let (model, version) = scorer.model(j)
            // A new model (or version) starts its own score statistics; the key's range and level carry over.
            if pipelines[p.pipeline].extras[p.slot].modelVersion != version {
                pipelines[p.pipeline].extras[p.slot].state.startModel(carry: model.score.likelihood.carry)
                pipelines[p.pipeline].extras[p.slot].modelVersion = version
            }
            if model.score.follow != nil {
                input.withUnsafeMutableBufferPointer { ip in
                    model.shiftForModel(window: ip.baseAddress! + j * l * f, length: l, state: &pipelines[p.pipeline].extras[p.slot].state)
                }
            }
        }
        let pass = switch scorer {
        case .shared(let model, _): model.forward(input, scratch: inference)
        case .each(let models, _): ScoringPipeline.forward(stacked: models, input, scratch: inference)
        }
        let rp = raw.basePointer
        for (j, p) in items.enumerated() {
            let (model, version) = scorer.model(j)
            let s = model.score(pass, index: j, raw: rp + j * l * f, state: &pipelines[p.pipeline].extras[p.slot].state, into: &scoreBuffers)
            out[p.index] = emission(bp.baseAddress! + p.index, target: target, status: .scored, unified: s.unified, features: scoreBuffers.features,
                                    version: version, threshold: scoreBuffers.threshold, isAnomaly: s.isAnomaly,
                                    expected: scoreBuffers.expected.isEmpty ? nil : scoreBuffers.expected)
        }
    }

    /// Applies a batch of routed points in order and returns the emissions, in order.
    public func process(_ batch: [RoutedPoint], now: Double) -> [Emission] {
        // Points are read in place throughout (a copy of a point retains its key, values, uuid, stream id and source).
        batch.withUnsafeBufferPointer { process($0, now: now) }
    }

    func process(_ bp: UnsafeBufferPointer<RoutedPoint>, now: Double) -> [Emission] {
        models.applyLoaderResults()
        models.rebalance()
        var out = [Emission?](repeating: nil, count: bp.count)
        var trainRequests: [Emission] = []
        // Each ready point's window is copied when its point is applied (a later point of its key in the batch moves
        // the window on) into its pipeline's buffer, in batch order; each model scoring any is listed once.
        var batchModels: [BatchModel] = []
        var modelIndex: [ObjectIdentifier: Int] = [:]
        var ready = [[Pending]](repeating: [], count: pipelines.count)
        var windows = [[Float]](repeating: [], count: pipelines.count)
        // Each point's key hashed `Self.keyAhead` points before its turn, and the key table's entry asked for then:
        // with thousands of keys that entry is a cache miss, which now overlaps the points between.
        keyHashes.removeAll(keepingCapacity: true)
        for j in 0..<min(Self.keyAhead, bp.count) { hashKey(bp, j) }
        for i in bp.indices {
            if i + Self.keyAhead < bp.count { hashKey(bp, i + Self.keyAhead) }
            let pi = bp[i].pipeline
            let (slot, evicted) = keySlot(pi, bp[i].key, hash: keyHashes[i], now: now)
            if evicted != nil { metrics.keysEvicted.increment() }
            if slot >= pipelines[pi].extras.count {
                pipelines[pi].extras.append(contentsOf: repeatElement(KeyExtra(), count: slot + 1 - pipelines[pi].extras.count))
            }
            if evicted != nil || pipelines[pi].windows.rowCount(slot: slot) == 0 { pipelines[pi].extras[slot] = KeyExtra() }
            // Missing values: previous value of the key (or zero), per policy. The row is the engine's (one array
            // reused for every point, not one allocated per point).
            let width = bp[i].values.count
            if row.count != width { row = [Float](repeating: 0, count: width) }
            var filled = 0
            for c in 0..<width {
                if let v = bp[i].values[c] { row[c] = v } else { row[c] = 0; filled += 1 }
            }
            if filled > 0 {
                metrics.filledValues.increment(by: Int64(filled))
                if config.windows.missingPolicy == .previous, let previous = pipelines[pi].windows.newestRow(slot: slot) {
                    for (c, v) in bp[i].values.enumerated() where v == nil { row[c] = previous[c] }
                }
            }
            let outcome = row.withUnsafeBufferPointer {
                pipelines[pi].windows.append(slot: slot, timestamp: bp[i].timestamp, row: $0,
                                             duplicates: config.windows.duplicatePolicy, late: config.windows.latePolicy)
            }
            let count: Int
            switch outcome {
            case .rejectedDuplicate:
                out[i] = .rejected(Rejection(.duplicate, "key \(bp[i].key.joined(separator: ":")) already has timestamp \(bp[i].timestamp)"),
                                   source: bp[i].source, index: bp[i].index)
                continue
            case .rejectedLate:
                out[i] = .rejected(Rejection(.late, "key \(bp[i].key.joined(separator: ":")) is past timestamp \(bp[i].timestamp)"),
                                   source: bp[i].source, index: bp[i].index)
                continue
            case .stored(let c), .replaced(let c):
                count = c
            }
            metrics.pointsIn.increment()
            let target = pipelines[pi].target
            let length = target.stream.windowSize, f = target.pipeline.metrics.count
            if count < length {
                out[i] = emission(bp.baseAddress! + i, target: target, status: .warmingUp)
                continue
            }
            let lookup: ModelRegistry.Lookup
            if pipelines[pi].extras[slot].cachedGeneration == models.generation, let (m, v) = pipelines[pi].extras[slot].cachedModel {
                lookup = .ready(m, version: v)
            } else {
                lookup = models.lookup(modelID(pipelines[pi], key: bp[i].key), now: now)
                if case .ready(let m, let v) = lookup {
                    pipelines[pi].extras[slot].cachedModel = (m, v)
                    pipelines[pi].extras[slot].cachedGeneration = models.generation
                }
            }
            switch lookup {
            case .ready(let model, let version):
                let oid = ObjectIdentifier(model)
                let m: Int
                if let known = modelIndex[oid] {
                    m = known
                } else {
                    if modelIndex.isEmpty { modelIndex.reserveCapacity(bp.count - i) }
                    m = batchModels.count
                    modelIndex[oid] = m
                    batchModels.append(BatchModel(model: model, version: version))
                }
                batchModels[m].windows += 1
                if ready[pi].isEmpty {
                    ready[pi].reserveCapacity(bp.count - i)
                    windows[pi].reserveCapacity((bp.count - i) * length * f)
                }
                pipelines[pi].windows.appendWindow(slot: slot, to: &windows[pi])
                ready[pi].append(Pending(index: i, pipeline: pi, slot: slot, model: m))
            case .loading, .missing:
                let id = modelID(pipelines[pi], key: bp[i].key)
                let conf = target.pipeline.numalogicConf
                // Only a model the store does not have is requested; one being read is on its way.
                if case .missing = lookup, now - pipelines[pi].extras[slot].lastTrainRequest >= conf.trainer.retrySec {
                    pipelines[pi].extras[slot].lastTrainRequest = now
                    trainRequests.append(.trainRequest(TrainRequest(
                        uuid: uuids.next(), configID: bp[i].configID, pipelineID: target.pipeline.pipelineID, key: id.key,
                        metrics: target.pipeline.metrics)))
                }
                var window: [Float] = []
                pipelines[pi].windows.appendWindow(slot: slot, to: &window)
                if let adjust = conf.score.adjust,
                   let s = adjust.score(raw: Tensor(shape: [length, f], scalars: window), metrics: target.pipeline.metrics) {
                    let alert = conf.score.alertThreshold ?? ScoreConfig.defaultAlertThreshold(
                        mode: conf.score.mode, postprocess: conf.postprocess.flatMap { try? Postprocess.make($0, path: "postprocess") })
                    out[i] = emission(bp.baseAddress! + i, target: target, status: .staticThreshold, unified: s, isAnomaly: s >= alert)
                } else {
                    out[i] = emission(bp.baseAddress! + i, target: target, status: .modelNotReady)
                }
            }
        }
        for pi in pipelines.indices where !ready[pi].isEmpty {
            scoreReady(ready[pi], windows[pi], of: pi, models: batchModels, bp, into: &out)
        }
        metrics.setKeys(keyCount, shard: shard)
        var result: [Emission] = []
        result.reserveCapacity(out.count + trainRequests.count)
        for i in out.indices { result.append(out[i].take()!) }   // moved, not copied
        result.append(contentsOf: trainRequests)
        flushSamples()
        return result
    }

    /// Scores `batch` exactly as ``process(_:now:)`` would, but on copies of its keys' windows and score
    /// states: the live state is left as it was and no train request is sent (`POST /v1/score` without
    /// `update`). Points of one key in the batch follow each other in the copy.
    public func preview(_ batch: [RoutedPoint], now: Double) -> [Emission] {
        let live = pipelines
        var copies = live.map { p in
            PipelineState(target: p.target, windows: KeyedWindows(length: p.windows.length, features: p.windows.features,
                                                                 capacity: Swift.max(1, batch.count)), template: p.template)
        }
        for point in batch where !copies[point.pipeline].windows.contains(point.key) {
            let pi = point.pipeline
            let slot = copies[pi].windows.slot(for: point.key, now: now).slot
            while copies[pi].extras.count <= slot { copies[pi].extras.append(KeyExtra()) }
            guard let liveSlot = live[pi].windows.existingSlot(point.key) else { continue }
            let f = live[pi].windows.features
            var rows = [Float](repeating: 0, count: live[pi].windows.length * f)
            let n = rows.withUnsafeMutableBufferPointer { live[pi].windows.copyWindow(slot: liveSlot, into: $0.baseAddress!) }
            for (i, t) in live[pi].windows.timestamps(slot: liveSlot).prefix(n).enumerated() {
                _ = rows[(i * f)..<((i + 1) * f)].withUnsafeBufferPointer {
                    copies[pi].windows.append(slot: slot, timestamp: t, row: $0, duplicates: .replace, late: .insert)
                }
            }
            copies[pi].extras[slot] = live[pi].extras[liveSlot]
        }
        pipelines = copies
        previewing = true
        defer {
            pipelines = live
            previewing = false
            metrics.setKeys(keyCount, shard: shard)
        }
        return process(batch, now: now).filter { if case .trainRequest = $0 { false } else { true } }
    }

    /// The output of the point at `p` (read field by field: a copy of the whole point would retain and release its
    /// values and source too, once per point).
    func emission(_ p: UnsafePointer<RoutedPoint>, target: PointRouter.Target, status: ScoreStatus, unified: Float? = nil, features: [Float]? = nil,
                  version: Int? = nil, threshold: [Float]? = nil, isAnomaly: Bool? = nil, expected: [Float]? = nil) -> Emission {
        let key = p.pointee.key, timestamp = p.pointee.timestamp
        if scoreSink != nil, !previewing, let unified {
            samples.append(ScoreSample(pipelineID: target.pipeline.pipelineID, keyNames: target.stream.compositeKeys, key: key, timestamp: timestamp,
                                       score: unified, metrics: target.pipeline.metrics, metricScores: features, isAnomaly: isAnomaly == true))
        }
        let body = pipelines[p.pointee.pipeline].template.encode(
            uuid: p.pointee.uuid ?? uuids.nextText(), configID: p.pointee.configID, key: key, timestamp: timestamp, unified: unified,
            features: features, modelVersion: version, threshold: threshold, status: status,
            isAnomaly: isAnomaly, expected: expected)
        return .score(key: key, body: body, arrival: p.pointee.arrival, status: status, anomalyOf: isAnomaly == true ? target.pipeline.pipelineID : nil)
    }

    func flushSamples() {
        guard !samples.isEmpty, let sink = scoreSink else { return }
        sink.submit(samples)
        samples.removeAll(keepingCapacity: true)
    }

    /// Scores a numalogic window payload as a whole (no per-key state is kept or changed).
    public func processWindow(_ w: InputWindow, arrival: Double, now: Double) -> Result<[Emission], Rejection> {
        guard let (configID, candidates) = router.streamTargets(w.configID) else {
            return .failure(Rejection(.unknownStream, "no stream \"\(w.configID ?? "")\" and no default stream"))
        }
        let chosen = w.pipelineID.map { pid in candidates.filter { pipelines[$0].target.pipeline.pipelineID == pid } } ?? candidates
        guard !chosen.isEmpty else { return .failure(Rejection(.unknownPipeline, "no pipeline \"\(w.pipelineID ?? "")\"")) }
        var emissions: [Emission] = []
        for pi in chosen {
            let target = pipelines[pi].target
            let (l, metricNames) = (target.stream.windowSize, target.pipeline.metrics)
            guard w.rows.count >= l else { return .failure(Rejection(.shortWindow, "\(w.rows.count) rows, the window needs \(l)")) }
            var values: [Float] = []
            for row in w.rows.suffix(l) {
                for m in metricNames {
                    // numalogic fills missing values of a window payload with 0.
                    values.append(row.first { $0.0 == m }.flatMap(\.1) ?? 0)
                }
            }
            let point = RoutedPoint(pipeline: pi, key: w.key, timestamp: w.timestamps.last!, values: [], uuid: w.uuid.map { ShortText($0) }, configID: configID, arrival: arrival)
            metrics.pointsIn.increment()
            switch models.lookup(modelID(pipelines[pi], key: w.key), now: now) {
            case .ready(let model, let version):
                var state = KeyScoreState()
                let s = model.score(window: Tensor(shape: [l, metricNames.count], scalars: values), state: &state)
                emissions.append(withUnsafePointer(to: point) {
                    emission($0, target: target, status: .scored, unified: s.unified, features: s.features, version: version, threshold: s.threshold,
                             isAnomaly: s.isAnomaly, expected: s.expected)
                })
            case .loading, .missing:
                emissions.append(withUnsafePointer(to: point) { emission($0, target: target, status: .modelNotReady) })
            }
        }
        flushSamples()
        return .success(emissions)
    }
}
