import Autoencoders
import Foundation
import Autograd
import NN
import TensorCore

/// Per-key scoring state: the adaptive error statistics, the post-processing moving average, and the
/// likelihood mode's recent residuals, long-run statistics, observed range and level.
///
/// ``startModel(carry:)`` forgets what belongs to one model and keeps what belongs to the key (its level).
public struct KeyScoreState: Sendable, Equatable {
    public var adaptiveMean: [Float]?
    public var adaptiveVariance: [Float]?
    public var emaNumerator: Double = 0
    public var emaDenominator: Double = 0
    public var scoredWindows: Int = 0
    /// Likelihood mode: the last `smoothing` residual levels per feature (ring, row-major `smoothing × F`).
    public var recent: [Float] = []
    public var recentCount = 0, recentNext = 0
    /// Likelihood mode: long-run mean and variance of the smoothed level per feature.
    public var longMean: [Float] = [], longVariance: [Float] = []
    /// The key's observed range (range rule) and exponentially weighted level (follow), in metric units.
    public var rangeLow: [Float] = [], rangeHigh: [Float] = []
    public var level: [Float] = [], levelBase: [Float] = []
    public init() {}

    /// A new model (or version) starts scoring this key; `carry` keeps the likelihood statistics too.
    public mutating func startModel(carry: Bool = false) {
        let kept = level   // the model's own baseline (levelBase) and starting range come from its training rows
        let stats = (recent, recentCount, recentNext, longMean, longVariance, scoredWindows)
        self = KeyScoreState()
        level = kept
        if carry { (recent, recentCount, recentNext, longMean, longVariance, scoredWindows) = stats }
    }
}

extension KeyScoreState {
    /// Every field, for window snapshots (a restarted process continues each key's statistics).
    public var json: JSONValue {
        func floats(_ v: [Float]) -> JSONValue { .array(v.map { .double(Double($0)) }) }
        return .object(JSONObject([
            ("adaptive_mean", adaptiveMean.map(floats) ?? .null), ("adaptive_variance", adaptiveVariance.map(floats) ?? .null),
            ("ema_numerator", .double(emaNumerator)), ("ema_denominator", .double(emaDenominator)), ("scored", .int(Int64(scoredWindows))),
            ("recent", floats(recent)), ("recent_count", .int(Int64(recentCount))), ("recent_next", .int(Int64(recentNext))),
            ("long_mean", floats(longMean)), ("long_variance", floats(longVariance)), ("range_low", floats(rangeLow)),
            ("range_high", floats(rangeHigh)), ("level", floats(level)), ("level_base", floats(levelBase)),
        ]))
    }

    /// Reads ``json``; nil when anything is missing or malformed (the key then starts afresh).
    public init?(json v: JSONValue) {
        guard let o = v.objectValue else { return nil }
        func floats(_ k: String) -> [Float]? {
            guard let a = o[k]?.arrayValue else { return nil }
            let out = a.compactMap { $0.doubleValue.map(Float.init) }
            return out.count == a.count && out.allSatisfy(\.isFinite) ? out : nil
        }
        func int(_ k: String) -> Int? { o[k]?.intValue.map(Int.init) }
        self.init()
        adaptiveMean = o["adaptive_mean"] == .null ? nil : floats("adaptive_mean")
        adaptiveVariance = o["adaptive_variance"] == .null ? nil : floats("adaptive_variance")
        guard let en = o["ema_numerator"]?.doubleValue, let ed = o["ema_denominator"]?.doubleValue, let sc = int("scored"),
              let r = floats("recent"), let rc = int("recent_count"), let rn = int("recent_next"), let lm = floats("long_mean"),
              let lv = floats("long_variance"), let lo = floats("range_low"), let hi = floats("range_high"), let le = floats("level"),
              let lb = floats("level_base"), rc >= 0, rn >= 0, r.isEmpty || rn < r.count else { return nil }
        (emaNumerator, emaDenominator, scoredWindows) = (en, ed, sc)
        (recent, recentCount, recentNext, longMean, longVariance) = (r, rc, rn, lm, lv)
        (rangeLow, rangeHigh, level, levelBase) = (lo, hi, le, lb)
    }
}

/// The scores of one window.
public struct WindowScore: Sendable {
    /// Final unified score (post-processed, adjusted), 0…10 with the default TanhNorm.
    public var unified: Float
    /// Final per-feature scores (post-processed), in metric order.
    public var features: [Float]
    /// Aggregated ratio-scores before post-processing.
    public var rawUnified: Float
    public var rawFeatures: [Float]
    /// Element-wise reconstruction errors `(L, F)` in preprocessed units.
    public var errors: Tensor
    /// The errors of the window's newest point (its last row).
    public var newestErrors: [Float]
    /// The threshold(s) used (`metadata.threshold`).
    public var threshold: [Float]
    /// Whether `unified` reached the pipeline's alert threshold.
    public var isAnomaly: Bool = false
    /// Per metric, the value the model expected for the newest point (its reconstruction in the metric's units);
    /// nil when the preprocess chain has no inverse.
    public var expected: [Float]? = nil
}

/// A score's arrays, owned by the caller and reused from window to window (the scoring engine keeps one set per
/// thread): written by ``ScoringPipeline/score(_:index:raw:state:into:)``, whose per-window arrays (features, raw
/// features, newest errors, expected values, a column) were allocated and freed once per scored point.
public struct ScoreBuffers {
    /// Per-feature scores (post-processed), in metric order.
    public internal(set) var features: [Float] = []
    /// Per-feature ratio-scores before post-processing.
    public internal(set) var rawFeatures: [Float] = []
    /// The errors of the window's newest point.
    public internal(set) var newestErrors: [Float] = []
    /// The threshold(s) used.
    public internal(set) var threshold: [Float] = []
    /// The newest point's expected values in metric units; empty when the preprocess chain has no inverse.
    public internal(set) var expected: [Float] = []
    var column: [Float] = []

    public init() {}
}

/// The scalars of a score written into ``ScoreBuffers``.
public struct ScoreValues: Sendable {
    public let unified: Float
    public let rawUnified: Float
    public let isAnomaly: Bool
}

extension WindowScore {
    /// A score from its scalars and a copy of its buffers (`expected` nil when they hold none).
    init(_ v: ScoreValues, _ b: ScoreBuffers, errors: Tensor) {
        self.init(unified: v.unified, features: b.features, rawUnified: v.rawUnified, rawFeatures: b.rawFeatures, errors: errors,
                  newestErrors: b.newestErrors, threshold: b.threshold, isAnomaly: v.isAnomaly, expected: b.expected.isEmpty ? nil : b.expected)
    }
}

extension Array where Element == Float {
    /// Sets the array to `count` values from `p`, reusing its storage when it is already that long.
    mutating func assign(_ p: UnsafePointer<Float>, count n: Int) {
        if count != n { self = [Float](repeating: 0, count: n) }
        guard n > 0 else { return }
        withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: p, count: n) }
    }

    /// Sets the array to the values of `p`, reusing its storage when it is already that long.
    mutating func assign(_ p: UnsafeBufferPointer<Float>) {
        if let base = p.baseAddress { assign(base, count: p.count) } else { removeAll(keepingCapacity: true) }
    }

    /// Sets the array to `count` copies of `value`, reusing its storage when it is already that long.
    mutating func assign(repeating value: Float, count n: Int) {
        if count != n { self = [Float](repeating: value, count: n) } else { for i in 0..<n { self[i] = value } }
    }
}

/// One model pass over a batch of windows, every tensor `(B, L, F)`: the preprocessed input, its reconstruction
/// and the element-wise errors.
public struct ForwardPass: Sendable {
    public var input: Tensor
    public var reconstruction: Tensor
    public var errors: Tensor
}

/// A loaded checkpoint's components composed into numalogic's scoring recipe:
/// preprocess → model → element-wise errors → threshold ratios (or adaptive ratios) → window aggregation →
/// feature aggregation → post-processing → optional static adjustment.
///
/// Thread safety: after `init` the pipeline is only read. The model stays in evaluation mode and is run
/// under no-grad, which reads weights without mutating them, so one pipeline may score from several
/// threads (`@unchecked Sendable` on that basis; per-key state is passed in by the caller).
public final class ScoringPipeline: @unchecked Sendable {
    public let model: any Autoencoder
    public let preprocess: [any PreprocessTransform]
    public let threshold: any ThresholdModel
    public let postprocess: Postprocess?
    public let score: ScoreConfig
    public let metrics: [String]
    public let stats: ScoreStats
    /// The unified score at which an output is `is_anomaly`.
    public let alertThreshold: Float
    /// Per metric: which deviations count and the smallest that does (metric units).
    public let directions: [ScoreConfig.Direction]
    public let minDeviations: [Float]
    /// Whether the preprocess chain can map reconstructions back to metric units.
    public let invertible: Bool
    /// The model compiled for inference (every family has a compiler); `inferenceFallback` says why not when nil,
    /// and scoring then runs the autograd path.
    public let plan: (any InferencePlan)?
    /// The plan object's address (for prefetching it ahead of use without a retain, which would itself wait on it).
    let planAddress: UnsafeRawPointer?
    public let inferenceFallback: InferenceCompileError?
    /// Whether every preprocess step maps rows on their own (none looks across rows, like differences and moving
    /// averages do), so a batch of windows is preprocessed as one matrix of rows.
    let rowwise: Bool
    /// Whether a window of this pipeline can be scored in a stacked pass with other pipelines' windows
    /// (``forward(stacked:_:scratch:)``): it has a compiled plan and a per-element preprocess chain. (Stored: the
    /// engine asks per window.)
    public let stackable: Bool
    /// The empty `(0, F)` errors of a score from raw memory (made once, not per score).
    let noErrors: Tensor
    /// The threshold's values and whether it scores elements at all (its per-column divisors, when its element score
    /// is a division, are in ``constants``) — read once: each read through the `any ThresholdModel` copied it.
    let thresholdValues: [Float]
    let thresholdScoresElements: Bool

    /// The window length and metric count, read once (the engine and the stacked pass ask per window; `model.seqLen`
    /// is a call through the `any Autoencoder`).
    public let seqLen: Int
    public let features: Int
    /// The per-window constants (the preprocess chain and its inverse as steps, the threshold's divisors) in one
    /// allocation, and the model's error criterion: what a stacked pass and a score read per window, kept where
    /// reading them costs one cold line, not one per object.
    let constants: PipelineConstants
    let errorCriterion: ErrorCriterion

    public init(model: any Autoencoder, preprocess: [any PreprocessTransform], threshold: any ThresholdModel, postprocess: Postprocess?,
                score: ScoreConfig, metrics: [String], stats: ScoreStats) throws(CheckpointError.Problem) {
        guard model.nFeatures == metrics.count else {
            throw .spec("the model takes \(model.nFeatures) features but \(metrics.count) metrics are named")
        }
        for (m, _) in score.adjust?.upperLimits ?? [] where !metrics.contains(m) {
            throw .spec("score.adjust.upper_limits names unknown metric \"\(m)\"")
        }
        (self.model, self.preprocess, self.threshold, self.postprocess, self.score, self.metrics) =
            (model, preprocess, threshold, postprocess, score, metrics)
        (seqLen, features) = (model.seqLen, metrics.count)
        try stats.validate(features: metrics.count)
        self.stats = stats
        for (m, _) in score.direction + score.minDeviation.map({ ($0.0, ScoreConfig.Direction.both) }) where m != "*" && !metrics.contains(m) {
            throw .spec("score names unknown metric \"\(m)\" (metrics: \(metrics.joined(separator: ", ")))")
        }
        directions = ScoreConfig.perMetric(score.direction, metrics: metrics, fallback: .both)
        minDeviations = ScoreConfig.perMetric(score.minDeviation, metrics: metrics, fallback: 0)
        alertThreshold = score.alertThreshold ?? ScoreConfig.defaultAlertThreshold(mode: score.mode, postprocess: postprocess)
        var probe: Tensor? = Tensor.zeros([1, metrics.count])
        for t in preprocess.reversed() { probe = probe.flatMap { t.inverseTransform($0) } }
        invertible = probe != nil
        rowwise = preprocess.allSatisfy { !($0 is DifferenceTransform || $0 is ExpMovingAverage) }
        let maps = preprocess.compactMap(\.elementwise)
        // The chain as per-element maps when every step is one (see ``stackable``), and its inverse as maps in the
        // order they apply (last step's inverse first) when every step's inverse is one.
        let elementwisePreprocess = maps.count == preprocess.count ? maps : nil
        let inverses = preprocess.reversed().compactMap(\.elementwiseInverse)
        let elementwiseInverse = inverses.count == preprocess.count ? inverses : nil
        model.eval()
        do throws(InferenceCompileError) {
            if ScoringPipeline.autogradRequested {
                throw InferenceCompileError(model: model.name, reason: "\(ScoringPipeline.inferenceVariable)=autograd")
            }
            plan = try InferenceCompiler.compile(model)
            inferenceFallback = nil
        } catch {
            (plan, inferenceFallback) = (nil, error)
        }
        planAddress = plan.map { UnsafeRawPointer(Unmanaged.passUnretained($0 as AnyObject).toOpaque()) }
        stackable = plan != nil && elementwisePreprocess != nil
        noErrors = Tensor.zeros([0, metrics.count])
        thresholdValues = threshold.thresholdValues
        let thresholdDivisors = threshold.elementDivisors.flatMap { $0.count == metrics.count ? $0 : nil }
        thresholdScoresElements = threshold.elementScore(0, column: 0) != nil
        errorCriterion = model.errorCriterion
        constants = PipelineConstants(preprocess: elementwisePreprocess, inverse: elementwiseInverse, divisors: thresholdDivisors,
                                      thresholds: thresholdValues)
    }

    deinit { constants.deallocate() }

    /// Builds every component of `checkpoint` and restores its state (all mismatches are reported).
    public convenience init(checkpoint c: Checkpoint) throws(CheckpointError.Problem) {
        var rng = RandomGenerator(seed: 0)
        let model: any Autoencoder
        // The spec is metadata: before building its model, check it asks for no more than the file's tensors hold
        // (the estimate is within 2× of a model's size), so a spec of 10^12 units is refused, not allocated.
        let held = c.modelState.elementCount
        do {
            model = try ModelFactory.make(c.model, using: &rng, limit: Swift.min(ModelFactory.maximumParameters, 2 * held + 20_000))
        } catch {
            if case .unsupportedImport(let why) = error { throw .spec(why) }
            throw .spec("model: \(error)")
        }
        guard model.seqLen == c.seqLen else { throw .spec("seq_len \(c.seqLen) differs from the model's \(model.seqLen)") }
        do {
            try model.loadStateDict(c.modelState)
        } catch {
            throw .tensors("model.*: \(error)")
        }
        var transforms: [any PreprocessTransform] = []
        for (i, spec) in c.preprocess.enumerated() {
            var t: any PreprocessTransform
            do { t = try ComponentFactory.preprocess(spec, path: "spec.preprocess[\(i)]") } catch { throw .spec(error.description) }
            let stats = Dictionary(c.preprocessStats[i], uniquingKeysWith: { a, _ in a })
            guard stats.count == c.preprocessStats[i].count else { throw .tensors("preprocess.\(i): duplicate statistics") }
            if t.isStateful && spec.stateful || !stats.isEmpty {
                do { try t.restore(stats, features: c.metrics.count) } catch { throw .tensors("preprocess.\(i) (\(spec.name)): \(error)") }
            }
            transforms.append(t)
        }
        var thr: any ThresholdModel
        do { thr = try ComponentFactory.threshold(c.threshold, path: "spec.threshold") } catch { throw .spec(error.description) }
        do {
            try thr.restore(Dictionary(c.thresholdStats, uniquingKeysWith: { a, _ in a }), features: c.metrics.count)
        } catch {
            throw .tensors("threshold (\(c.threshold.name)): \(error)")
        }
        var post: Postprocess?
        if let p = c.postprocess {
            do { post = try Postprocess.make(p, path: "spec.postprocess") } catch { throw .spec(error.description) }
        }
        try self.init(model: model, preprocess: transforms, threshold: thr, postprocess: post, score: c.score, metrics: c.metrics,
                      stats: c.scoreStats)
    }

    /// Preprocessed windows: transforms that look across rows (differences, moving averages) run per window.
    public func preprocessed(_ windows: Tensor) -> Tensor {
        precondition(windows.rank == 3 && windows.shape[2] == features, "windows \(windows.shape) for \(features) metrics")
        let (b, l, f) = (windows.shape[0], windows.shape[1], windows.shape[2])
        guard !preprocess.isEmpty else { return windows }
        if rowwise {
            var x = windows.reshaped([b * l, f])
            for t in preprocess { x = t.transform(x) }
            return x.reshaped([b, l, f])
        }
        return Tensor.stack((0..<b).map { i in
            var x = windows.slice(axis: 0, i..<(i + 1)).reshaped([l, f])
            for t in preprocess { x = t.transform(x) }
            return x
        }, axis: 0)
    }

    /// Element-wise reconstruction errors `(B, L, F)` of raw windows `(B, L, F)`.
    public func errors(_ rawWindows: Tensor) -> Tensor { forward(rawWindows).errors }

    /// The model pass over raw windows `(B, L, F)`, through the compiled plan with `scratch` (the caller's, reused
    /// across calls on its thread; a fresh one when nil), or through the autograd engine for batches beyond the
    /// plan's `largestBatch` (where batched BLAS products are faster; the two agree within 1e-5).
    public func forward(_ rawWindows: Tensor, scratch: InferenceScratch? = nil) -> ForwardPass {
        guard let plan, rawWindows.shape[0] <= plan.largestBatch else { return autogradForward(rawWindows) }
        let x = preprocessed(rawWindows)
        var r = Tensor(uninitializedShape: x.shape), e = Tensor(uninitializedShape: x.shape)
        let n = x.shape.elementCount
        x.withUnsafeBufferPointer { xp in
            r.withUnsafeMutableBufferPointer { rp in
                plan.reconstruct(xp.baseAddress!, batch: x.shape[0], into: rp.baseAddress!, scratch: scratch ?? InferenceScratch())
                e.withUnsafeMutableBufferPointer { model.elementwiseErrors(xp.baseAddress!, rp.baseAddress!, into: $0.baseAddress!, count: n) }
            }
        }
        return ForwardPass(input: x, reconstruction: r, errors: e)
    }

    /// One pass over windows `(B, L, F)` of which window `j` is scored by `pipelines[j]` (each ``stackable``, all for
    /// `L`×`F` windows): each window is preprocessed in place with its pipeline's statistics, reconstructed by its
    /// plan with its own packed weights and its errors taken, in one loop over shared buffers. With a model per key a
    /// batch holds one or two windows of each key; scored model by model, each paid for its own tensors, preprocess
    /// copies and call plumbing, which cost more than the arithmetic. Window `j` of the result equals
    /// `pipelines[j].forward` of that window alone (the same arithmetic in the same order).
    public static func forward(stacked pipelines: [ScoringPipeline], _ rawWindows: Tensor, scratch: InferenceScratch) -> ForwardPass {
        precondition(rawWindows.rank == 3 && rawWindows.shape[0] == pipelines.count, "\(pipelines.count) pipelines for windows \(rawWindows.shape)")
        let (l, f) = (rawWindows.shape[1], rawWindows.shape[2]), n = l * f
        var x = rawWindows
        var r = Tensor(uninitializedShape: x.shape), e = Tensor(uninitializedShape: x.shape)
        x.withUnsafeMutableBufferPointer { xp in
            r.withUnsafeMutableBufferPointer { rp in
                e.withUnsafeMutableBufferPointer { ep in
                    for (j, p) in pipelines.enumerated() {
                        // The memory of the windows ahead is read early, in three steps so that no step waits on a
                        // miss of its own: the pipeline object three ahead, the plan object two ahead (found through
                        // the pipeline read the step before), the next one's constants and weights (found through
                        // both; each key's are cold with many keys).
                        pipelines.withUnsafeBufferPointer { ps in
                            // No retain on the way (a retain writes the object's count: it would wait on the miss).
                            if j + 3 < ps.count { Kernels.prefetchObject(ps, j + 3, lines: 8) }
                            if j + 2 < ps.count {
                                Unmanaged<ScoringPipeline>.fromOpaque(Kernels.address(of: ps, j + 2))
                                    ._withUnsafeGuaranteedRef { if let a = $0.planAddress { Kernels.prefetch(a, lines: 2) } }
                            }
                        }
                        if j + 1 < pipelines.count {
                            pipelines[j + 1].constants.prefetch()
                            pipelines[j + 1].plan?.prefetch()
                        }
                        precondition(p.stackable && p.seqLen == l && p.features == f, "pipeline \(j) cannot be stacked with \(l)×\(f) windows")
                        let (xj, rj) = (xp.baseAddress! + j * n, rp.baseAddress! + j * n)
                        for step in p.constants.preprocess! { step.apply(xj, count: n, features: f) }
                        p.plan!.reconstruct(xj, batch: 1, into: rj, scratch: scratch)
                        p.errorCriterion.errors(xj, rj, into: ep.baseAddress! + j * n, count: n)
                    }
                }
            }
        }
        return ForwardPass(input: x, reconstruction: r, errors: e)
    }

    /// `AEFLOW_INFERENCE=autograd` scores through the autograd engine instead of the compiled plans (for
    /// comparison, and as a way out should a plan ever be in doubt); each model load then logs why.
    public static let inferenceVariable = "AEFLOW_INFERENCE"
    static let autogradRequested = ProcessInfo.processInfo.environment[inferenceVariable] == "autograd"

    /// The model pass through the autograd engine (the reference the compiled plan is tested against).
    public func autogradForward(_ rawWindows: Tensor) -> ForwardPass {
        let x = Variable(preprocessed(rawWindows))
        return withNoGrad {
            let r = model.forward(x).reconstruction
            return ForwardPass(input: x.value, reconstruction: r.value, errors: model.elementwiseError(x, r).value)
        }
    }

    /// Maps preprocessed rows `(N, F)` back to metric units; nil when a transform has no inverse.
    public func inverse(_ rows: Tensor) -> Tensor? {
        var x: Tensor? = rows
        for t in preprocess.reversed() { x = x.flatMap { t.inverseTransform($0) } }
        return x
    }

    /// Scores one window from its errors `(L, F)` and raw values `(L, F)` (for the static adjustment).
    public func score(errors e: Tensor, raw: Tensor, state: inout KeyScoreState) -> WindowScore {
        precondition(e.rank == 2 && e.shape == raw.shape && e.shape[1] == features, "window scores need (L, \(features)) errors and values")
        var s = e.withUnsafeBufferPointer { ep in
            raw.withUnsafeBufferPointer { rp in score(errors: ep.baseAddress!, raw: rp.baseAddress!, length: e.shape[0], state: &state) }
        }
        s.errors = e
        return s
    }

    /// Scores window `index` of a forward pass; `raw` points at that window's `length × features` values in metric
    /// units (as received, before any level shift).
    public func score(_ pass: ForwardPass, index j: Int, raw: UnsafePointer<Float>, state: inout KeyScoreState) -> WindowScore {
        var b = ScoreBuffers()
        let v = score(pass, index: j, raw: raw, state: &state, into: &b)
        return WindowScore(v, b, errors: noErrors)
    }

    /// ``score(_:index:raw:state:)`` written into the caller's `buffers` (reused across windows: nothing is allocated
    /// once they have grown to this pipeline's widths); returns the scalars.
    public func score(_ pass: ForwardPass, index j: Int, raw: UnsafePointer<Float>, state: inout KeyScoreState,
                      into b: inout ScoreBuffers) -> ScoreValues {
        let (l, f) = (pass.errors.shape[1], pass.errors.shape[2])
        let at = j * l * f
        if score.mode == .likelihood {
            let s = scoreLikelihood(errors: pass.errors.basePointer + at, input: pass.input.basePointer + at,
                                    reconstruction: pass.reconstruction.basePointer + at, raw: raw, length: l, state: &state)
            (b.features, b.rawFeatures, b.newestErrors, b.threshold, b.expected) = (s.features, s.rawFeatures, s.newestErrors, s.threshold, s.expected ?? [])
            return ScoreValues(unified: s.unified, rawUnified: s.rawUnified, isAnomaly: s.isAnomaly)
        }
        let v = score(errors: pass.errors.basePointer + at, raw: raw, length: l, state: &state, into: &b)
        b.expected.removeAll(keepingCapacity: true)
        if invertible {
            let newest = pass.reconstruction.basePointer + at + (l - 1) * f
            if let steps = constants.inverse {
                b.expected.append(contentsOf: UnsafeBufferPointer(start: newest, count: f))
                b.expected.withUnsafeMutableBufferPointer { row in for step in steps { step.apply(row.baseAddress!, count: f, features: f) } }
            } else if let x = inverse(Tensor(shape: [1, f], scalars: Array(UnsafeBufferPointer(start: newest, count: f))))?.scalars {
                b.expected = x
            }
        }
        return v
    }

    /// numalogic's (or the adaptive) recipe on raw memory: `errors` and `raw` point at `length × features` floats
    /// (one window, row-major); `errors` of the result is empty.
    public func score(errors e: UnsafePointer<Float>, raw: UnsafePointer<Float>, length l: Int, state: inout KeyScoreState) -> WindowScore {
        var b = ScoreBuffers()
        let v = score(errors: e, raw: raw, length: l, state: &state, into: &b)
        return WindowScore(v, b, errors: noErrors)
    }

    /// ``score(errors:raw:length:state:)`` written into the caller's `buffers` (`expected` is left as it was).
    public func score(errors e: UnsafePointer<Float>, raw: UnsafePointer<Float>, length l: Int, state: inout KeyScoreState,
                      into b: inout ScoreBuffers) -> ScoreValues {
        precondition(score.mode != .likelihood, "the likelihood mode scores a forward pass (score(_:index:raw:state:))")
        let f = features
        b.newestErrors.assign(e + (l - 1) * f, count: f)
        var limits: [Float]? = nil
        b.threshold.assign(constants.thresholds)
        if score.mode == .adaptive {
            let k = score.adaptive.stdFactor
            let mean = state.adaptiveMean ?? stats.errorMean ?? startingErrorMean
            let variance = state.adaptiveVariance ?? (stats.errorStd ?? startingErrorStd).map { $0 * $0 }
            let limit = zip(mean, variance).map { max($0 + k * $1.squareRoot(), 1e-6) }
            limits = limit
            b.threshold = limit
            // Exponentially weighted update with the newest point, winsorised at twice the limit.
            let w = 1 - Float(exp(-0.693_147_18 / score.adaptive.halflife))
            var m = mean, v = variance
            for c in 0..<f {
                let x = min(b.newestErrors[c], 2 * limit[c]), d = x - m[c]
                m[c] += w * d
                v[c] = (1 - w) * (v[c] + w * d * d)
            }
            state.adaptiveMean = m
            state.adaptiveVariance = v
        }
        // Ratio-scores, column by column; estimators that score whole rows go through their tensor API.
        b.rawFeatures.assign(repeating: 0, count: f)
        b.column.assign(repeating: 0, count: l)
        let windowAgg = score.windowAgg
        func divided(by divisors: UnsafePointer<Float>) {
            for c in 0..<f {
                let d = divisors[c]
                for r in 0..<l { b.column[r] = e[r * f + c] / d }
                b.rawFeatures[c] = windowAgg.reduce(b.column)
            }
        }
        if let limits {
            limits.withUnsafeBufferPointer { divided(by: $0.baseAddress!) }
        } else if let divisors = constants.divisors {
            divided(by: divisors)
        } else if !thresholdScoresElements {
            let ratios = threshold.scoreSamples(Tensor(shape: [l, f], scalars: Array(UnsafeBufferPointer(start: e, count: l * f))))
            b.rawFeatures = windowAgg.reduceColumns(ratios)
        } else {
            for c in 0..<f {
                for r in 0..<l { b.column[r] = threshold.elementScore(e[r * f + c], column: c)! }
                b.rawFeatures[c] = windowAgg.reduce(b.column)
            }
        }
        let rawUnified = score.featureAgg.reduce(b.rawFeatures)
        var unified = rawUnified
        b.features.assign(repeating: 0, count: f)
        switch postprocess {
        case .expMovingAverage(let beta)?:
            // Smooth the key's consecutive unified ratios, then map to 0…10 like the default TanhNorm.
            state.emaNumerator = state.emaNumerator * Double(beta) + Double(rawUnified)
            state.emaDenominator = state.emaDenominator * Double(beta) + 1
            let norm = Postprocess.tanhNorm(scaleFactor: 10, smoothFactor: 10)
            unified = norm.apply(Float(state.emaNumerator / state.emaDenominator))
            for c in 0..<f { b.features[c] = norm.apply(b.rawFeatures[c]) }
        case let p?:
            unified = p.apply(rawUnified)
            for c in 0..<f { b.features[c] = p.apply(b.rawFeatures[c]) }
        case nil:
            for c in 0..<f { b.features[c] = b.rawFeatures[c] }
        }
        if let adjust = score.adjust,
           let staticScore = adjust.score(raw: Tensor(shape: [l, f], scalars: Array(UnsafeBufferPointer(start: raw, count: l * f))), metrics: metrics) {
            unified = max(unified, staticScore)
        }
        state.scoredWindows += 1
        return ScoreValues(unified: unified, rawUnified: rawUnified, isAnomaly: unified >= alertThreshold)
    }

    /// The adaptive mode's start without `score.errormean`/`errorstd`: the threshold's `mean` and `std` statistics
    /// when it has them (StdDevThreshold), else the threshold itself as the mean with no spread.
    var startingErrorMean: [Float] {
        if let m = threshold.stats.first(where: { $0.0 == "mean" })?.1.scalars, m.count == features { return m }
        let t = thresholdValues
        return t.count == features ? t : [Float](repeating: t.first ?? 1, count: features)
    }
    var startingErrorStd: [Float] {
        threshold.stats.first { $0.0 == "std" }.map { $0.1.scalars }.flatMap { $0.count == features ? $0 : nil } ?? [Float](repeating: 0, count: features)
    }

    /// Scores raw windows `(B, L, F)` in one model pass; `states[i]` belongs to window `i`'s key.
    /// `scratch`: the caller's working memory for the compiled plan, reused across calls on its thread.
    public func score(windows raw: Tensor, states: inout [KeyScoreState], scratch: InferenceScratch? = nil) -> [WindowScore] {
        precondition(states.count == raw.shape[0], "\(states.count) states for \(raw.shape[0]) windows")
        let (l, f) = (raw.shape[1], raw.shape[2])
        var input = raw
        input.withUnsafeMutableBufferPointer { p in
            for i in 0..<raw.shape[0] { shiftForModel(window: p.baseAddress! + i * l * f, length: l, state: &states[i]) }
        }
        let pass = forward(input, scratch: scratch)
        return raw.withUnsafeBufferPointer { rp in
            (0..<raw.shape[0]).map { i in
                var s = score(pass, index: i, raw: rp.baseAddress! + i * l * f, state: &states[i])
                s.errors = pass.errors.slice(axis: 0, i..<(i + 1)).reshaped([l, f])
                return s
            }
        }
    }

    /// Scores one raw window `(L, F)`.
    public func score(window raw: Tensor, state: inout KeyScoreState, scratch: InferenceScratch? = nil) -> WindowScore {
        var states = [state]
        let s = score(windows: raw.reshaped([1, raw.shape[0], raw.shape[1]]), states: &states, scratch: scratch)[0]
        state = states[0]
        return s
    }
}

#if canImport(Glibc)
import Glibc
#endif
