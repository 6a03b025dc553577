import TensorCore

/// The anomaly likelihood's arithmetic (Numenta HTM's method, reference: streaming-scoring.md): a Gaussian upper
/// tail of the recent level against the long-run distribution, reported on a log scale.
public enum AnomalyLikelihood {
    /// `Q(z)`, the standard normal upper tail.
    public static func tail(_ z: Double) -> Double { 0.5 * erfc(z / 2.0.squareRoot()) }

    /// `10 · log(tail + 1e-10) / log(1e-10)`, clamped to 0…10: 0 for tail 1, ≈ 3 at 1e-3, 5 at 1e-5, 10 at 0.
    public static func score(tail: Double) -> Float {
        Float(Swift.min(10, Swift.max(0, 10 * log(Swift.max(0, tail) + 1e-10) / log(1e-10))))
    }

    /// The smoothing factor of an exponentially weighted statistic with this half-life (points).
    public static func weight(halflife: Double) -> Float { Float(1 - pow(2, -1 / halflife)) }

    /// One exponentially weighted update of a mean and variance (West's form), `x` capped at `cap`.
    public static func update(mean: inout Float, variance: inout Float, with x: Float, weight w: Float) {
        let d = x - mean
        mean += w * d
        variance = (1 - w) * (variance + w * d * d)
    }
}

extension ScoringPipeline {
    /// Shifts a raw window (`length × features`, in place) by the key's level offset when `score.follow` is set:
    /// the model then sees the key's recent values re-centred on its training mean. A no-op otherwise.
    public func shiftForModel(window w: UnsafeMutablePointer<Float>, length l: Int, state: inout KeyScoreState) {
        guard score.follow != nil else { return }
        let f = features
        if state.levelBase.count != f {
            // The baseline: the training rows' mean, or (without it) this first window's mean.
            state.levelBase = stats.dataMean ?? (0..<f).map { c in (0..<l).reduce(Float(0)) { $0 + w[$1 * f + c] } / Float(l) }
        }
        if state.level.count != f { state.level = state.levelBase }
        for r in 0..<l { for c in 0..<f { w[r * f + c] -= state.level[c] - state.levelBase[c] } }
    }

    /// The likelihood mode (ScoreConfig `likelihood`): see the type's documentation for each step.
    func scoreLikelihood(errors e: UnsafePointer<Float>, input x: UnsafePointer<Float>, reconstruction y: UnsafePointer<Float>,
                         raw: UnsafePointer<Float>, length l: Int, state: inout KeyScoreState) -> WindowScore {
        let f = features, lk = score.likelihood, a = lk.smoothing
        let newestRow = (l - 1) * f
        // Expected values (metric units) of the newest point: the reconstruction mapped back, plus the level shift.
        var expected: [Float]? = nil
        if invertible {
            let rows = Tensor(shape: [1, f], scalars: Array(UnsafeBufferPointer(start: y + newestRow, count: f)))
            if var v = inverse(rows)?.scalars {
                if score.follow != nil, state.level.count == f, state.levelBase.count == f {
                    for c in 0..<f { v[c] += state.level[c] - state.levelBase[c] }
                }
                expected = v
            }
        }
        // 1. The residual per feature, filtered by direction and minimum deviation.
        var residual = [Float](repeating: 0, count: f)
        var column = [Float](repeating: 0, count: l)
        for c in 0..<f {
            let d = x[newestRow + c] - y[newestRow + c]
            var r: Float
            switch lk.point {
            case .newest: r = abs(d)
            case .window:
                for row in 0..<l { column[row] = abs(x[row * f + c] - y[row * f + c]) }
                r = score.windowAgg.reduce(column)
            }
            switch directions[c] {
            case .spikes where d < 0, .dips where d > 0: r = 0
            default: break
            }
            if let ex = expected, abs(raw[newestRow + c] - ex[c]) < minDeviations[c] { r = 0 }
            residual[c] = r.isFinite ? r : 0
        }
        // 2. The recent level: the mean of the last `smoothing` residuals.
        if state.recent.count != a * f {
            state.recent = [Float](repeating: 0, count: a * f)
            (state.recentCount, state.recentNext) = (0, 0)
        }
        for c in 0..<f { state.recent[state.recentNext * f + c] = residual[c] }
        state.recentNext = (state.recentNext + 1) % a
        state.recentCount = Swift.min(state.recentCount + 1, a)
        var level = [Float](repeating: 0, count: f)
        for k in 0..<state.recentCount { for c in 0..<f { level[c] += state.recent[k * f + c] } }
        for c in 0..<f { level[c] /= Float(state.recentCount) }
        let logScale = lk.scale == .log
        if logScale { for c in 0..<f { level[c] = log(level[c] + lk.minStd) } }
        // 3. Long-run statistics, starting from the training residuals (a mean of `a` points has 1/√a of the spread).
        if state.longMean.count != f {
            let m = stats.residualMean ?? level
            let sd = stats.residualStd ?? [Float](repeating: 0, count: f)
            if logScale {
                // log(X + c) of a level with mean m and spread s: mean ≈ log(m + c), spread ≈ s / (m + c).
                state.longMean = m.map { log($0 + lk.minStd) }
                state.longVariance = zip(m, sd).map { let r = $1 / ($0 + lk.minStd); return r * r / Float(a) }
            } else {
                state.longMean = m
                state.longVariance = sd.map { $0 * $0 / Float(a) }
            }
        }
        // 4. Tail probability per feature; neutral while learning.
        let learning = state.scoredWindows < lk.learning
        var tails = [Double](repeating: 1, count: f)
        var scores = [Float](repeating: 0, count: f)
        for c in 0..<f {
            let sd = Swift.max(state.longVariance[c].squareRoot(), logScale ? 0.1 : lk.minStd)
            if !learning {
                tails[c] = AnomalyLikelihood.tail(Double((level[c] - state.longMean[c]) / sd))
                scores[c] = AnomalyLikelihood.score(tail: tails[c])
            }
            let capped = lk.winsorize > 0 ? Swift.min(level[c], state.longMean[c] + lk.winsorize * sd) : level[c]
            AnomalyLikelihood.update(mean: &state.longMean[c], variance: &state.longVariance[c], with: capped,
                                     weight: AnomalyLikelihood.weight(halflife: lk.halflife))
        }
        // 5. The range rule on the raw values (metric units), then the observed range grows to include them.
        if let rule = score.range {
            if state.rangeLow.count != f {
                state.rangeLow = stats.dataMin ?? (0..<f).map { c in (0..<l).map { raw[$0 * f + c] }.min()! }
                state.rangeHigh = stats.dataMax ?? (0..<f).map { c in (0..<l).map { raw[$0 * f + c] }.max()! }
            }
            for c in 0..<f {
                let v = raw[newestRow + c]
                guard v.isFinite else { continue }
                let (lo, hi) = (state.rangeLow[c], state.rangeHigh[c])
                let margin = rule.tolerance * (hi - lo)
                let deviates = expected.map { abs(v - $0[c]) >= minDeviations[c] } ?? true
                let above = v > hi + margin && directions[c] != .dips
                let below = v < lo - margin && directions[c] != .spikes
                if hi > lo, deviates, above || below, !learning { scores[c] = Swift.max(scores[c], alertThreshold) }
            }
            // The range grows with every value (an alarm once is news; the same level again is not).
            do {
                for c in 0..<f where raw[newestRow + c].isFinite {
                    state.rangeLow[c] = Swift.min(state.rangeLow[c], raw[newestRow + c])
                    state.rangeHigh[c] = Swift.max(state.rangeHigh[c], raw[newestRow + c])
                }
            }
        }
        // 6. The key's level (follow) moves towards the newest values.
        if let follow = score.follow, state.level.count == f {
            let w = AnomalyLikelihood.weight(halflife: follow.halflife)
            for c in 0..<f where raw[newestRow + c].isFinite { state.level[c] += w * (raw[newestRow + c] - state.level[c]) }
        }
        var unified = score.featureAgg.reduce(scores)
        if let adjust = score.adjust,
           let staticScore = adjust.score(raw: Tensor(shape: [l, f], scalars: Array(UnsafeBufferPointer(start: raw, count: l * f))), metrics: metrics) {
            unified = Swift.max(unified, staticScore)
        }
        state.scoredWindows += 1
        let newestErrors = Array(UnsafeBufferPointer(start: e + newestRow, count: f))
        return WindowScore(unified: unified, features: scores, rawUnified: Float(tails.min() ?? 1), rawFeatures: tails.map { Float($0) },
                           errors: noErrors, newestErrors: newestErrors, threshold: thresholdValues,
                           isAnomaly: unified >= alertThreshold, expected: expected)
    }
}

#if canImport(Glibc)
import Glibc
#endif
