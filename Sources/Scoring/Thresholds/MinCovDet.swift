import Foundation
import TensorCore

/// Minimum covariance determinant: a robust location and covariance, estimated from the `h` rows whose
/// covariance has the smallest determinant, found by FastMCD (Rousseeuw & Van Driessen, "A fast
/// algorithm for the minimum covariance determinant estimator", Technometrics 1999) and then corrected
/// and re-weighted the way scikit-learn's `MinCovDet` does (the estimator numalogic's
/// `RobustMahalanobisThreshold` fits):
///
/// 1. Raw MCD. `h = ⌊support_fraction·n⌋` (or `min(⌈(n+p+1)/2⌉, n)` when no fraction is given).
///    One feature: the shortest interval holding `h` sorted values (the mean of the midpoints of all
///    equally short ones) and the `h` values nearest to it. Several features: concentration steps
///    ("C-steps": mean and covariance of the support → the `h` rows nearest in Mahalanobis distance)
///    from 30 random `h`-subsets, two steps each; the 10 with the smallest determinants are iterated to
///    convergence and the best kept. Above 500 rows, candidates come from disjoint subsets of about 300
///    rows, are refined on a merged sample of up to 1500 rows and, above 1500 rows, on all of them.
/// 2. Consistency correction: raw distances divided by `c(h/n)`, with
///    `c(α) = α / F_{χ²(p+2)}(F⁻¹_{χ²(p)}(α))`.
/// 3. Re-weighting: rows with corrected distance below the 97.5 % quantile of `χ²(p)` give the final
///    location (mean) and covariance (population covariance × `c(0.975)`); the precision is its
///    pseudo-inverse.
///
/// The random starts use a fixed seed, so a fit is deterministic. Like any FastMCD it finds a local
/// optimum; on data with one clear bulk every start converges to the same support as scikit-learn's.
public struct MinCovDet: Sendable {
    public var supportFraction: Double?
    public var seed: UInt64

    public init(supportFraction: Double? = nil, seed: UInt64 = 0x4D43_4400) {
        (self.supportFraction, self.seed) = (supportFraction, seed)
    }

    public struct Estimate: Sendable {
        public var location: [Double]
        public var covariance: [Double]
        public var precision: [Double]
        /// Rows of the raw MCD support and of the re-weighted support.
        public var rawSupport: [Bool]
        public var support: [Bool]
        /// `log det` of the raw support's covariance: the objective FastMCD minimises.
        public var rawLogDeterminant: Double
    }

    /// Fits on `n × p` rows (row-major).
    public func fit(_ x: [Double], rows n: Int, features p: Int) throws(ScoringError) -> Estimate {
        guard n >= 2, p >= 1, x.count == n * p else { throw .invalidData("MinCovDet needs at least two rows, got \(n)") }
        guard x.allSatisfy(\.isFinite) else { throw .invalidData("MinCovDet needs finite data") }
        let data = Rows(values: x, n: n, p: p)
        let h: Int
        if let f = supportFraction {
            guard f > 0 && f <= 1 else { throw .invalidConfig(path: "support_fraction", reason: "must be in (0, 1], got \(f)") }
            h = Int(f * Double(n))
        } else {
            h = min(Int((0.5 * Double(n + p + 1)).rounded(.up)), n)
        }
        guard h >= 1 else { throw .invalidData("MinCovDet: support_fraction \(supportFraction ?? 0) of \(n) rows leaves no support") }
        var rng = RandomGenerator(seed: seed)
        var raw = p == 1 ? Self.univariate(data, h: h) : Self.fastMCD(data, h: h, rng: &rng)

        // Consistency correction of the raw distances.
        let rawCount = raw.support.filter { $0 }.count
        if rawCount < n && raw.covariance.allSatisfy({ abs($0) <= 1e-8 }) {
            throw .invalidData("MinCovDet: the covariance of the \(rawCount) most central rows is zero (a feature is constant on most rows); raise support_fraction or use MahalanobisThreshold")
        }
        let factor = ChiSquared.consistencyFactor(features: p, alpha: Double(rawCount) / Double(n))
        for i in raw.dist.indices { raw.dist[i] /= factor }

        // Re-weighting.
        let cut = ChiSquared(degrees: Double(p)).quantile(0.975)
        let mask = raw.dist.map { $0 < cut }
        let kept = (0..<n).filter { mask[$0] }
        guard kept.count >= 1 else { throw .invalidData("MinCovDet: no row is within the re-weighting cut-off") }
        let location = data.mean(kept)
        var covariance = data.covariance(kept, location: location)
        let c = ChiSquared.consistencyFactor(features: p, alpha: 0.975)
        for i in covariance.indices { covariance[i] *= c }
        let precision = SymmetricEigen.pseudoInverseHermitian(covariance, n: p)
        return Estimate(location: location, covariance: covariance, precision: precision, rawSupport: raw.support, support: mask,
                        rawLogDeterminant: raw.logDet)
    }

    // MARK: raw estimate

    struct Raw {
        var location: [Double]
        var covariance: [Double]
        var logDet: Double
        var support: [Bool]
        var dist: [Double]
    }

    /// Row-major data with the few operations FastMCD needs.
    struct Rows {
        let values: [Double]
        let n: Int, p: Int

        func subset(_ idx: [Int]) -> Rows {
            var v = [Double](); v.reserveCapacity(idx.count * p)
            for i in idx { v.append(contentsOf: values[(i * p)..<(i * p + p)]) }
            return Rows(values: v, n: idx.count, p: p)
        }

        func mean(_ idx: [Int]) -> [Double] {
            var m = [Double](repeating: 0, count: p)
            for i in idx { for j in 0..<p { m[j] += values[i * p + j] } }
            return m.map { $0 / Double(idx.count) }
        }

        /// Population covariance (ddof 0) of the rows `idx` around `location`.
        func covariance(_ idx: [Int], location: [Double]) -> [Double] {
            var c = [Double](repeating: 0, count: p * p)
            var d = [Double](repeating: 0, count: p)
            for i in idx {
                for j in 0..<p { d[j] = values[i * p + j] - location[j] }
                for a in 0..<p { for b in a..<p { c[a * p + b] += d[a] * d[b] } }
            }
            for a in 0..<p { for b in a..<p {
                c[a * p + b] /= Double(idx.count)
                c[b * p + a] = c[a * p + b]
            } }
            return c
        }

        /// Squared Mahalanobis distance of every row.
        func distances(location: [Double], precision: [Double]) -> [Double] {
            var out = [Double](repeating: 0, count: n)
            var d = [Double](repeating: 0, count: p)
            for i in 0..<n {
                for j in 0..<p { d[j] = values[i * p + j] - location[j] }
                var q = 0.0
                for a in 0..<p {
                    var row = 0.0
                    for b in 0..<p { row += d[b] * precision[b * p + a] }
                    q += row * d[a]
                }
                out[i] = q
            }
            return out
        }

        /// The `h` rows with the smallest distances (ties by position).
        static func smallest(_ dist: [Double], _ h: Int) -> [Int] {
            Array(dist.indices.sorted { dist[$0] != dist[$1] ? dist[$0] < dist[$1] : $0 < $1 }.prefix(h))
        }
    }

    /// One feature: the centre of the shortest `h`-interval of the sorted values (all values: their mean).
    static func univariate(_ x: Rows, h: Int) -> Raw {
        let n = x.n, v = x.values
        let idx: [Int], centre: Double
        if h >= n {
            idx = Array(0..<n)
            centre = x.mean(idx)[0]
        } else {
            let sorted = v.sorted()
            let widths = (0..<(n - h)).map { sorted[$0 + h] - sorted[$0] }
            let shortest = widths.min()!
            let starts = widths.indices.filter { widths[$0] == shortest }
            centre = 0.5 * starts.map { sorted[$0 + h] + sorted[$0] }.reduce(0, +) / Double(starts.count)
            idx = Rows.smallest(v.map { abs($0 - centre) }, h)
        }
        let c = x.covariance(idx, location: x.mean(idx))
        let prec = SymmetricEigen.pseudoInverseHermitian(c, n: 1)
        // The distances are taken from the interval's centre (with the support's variance).
        return Raw(location: [centre], covariance: c, logDet: log(c[0]), support: mask(idx, n),
                   dist: v.map { ($0 - centre) * prec[0] * ($0 - centre) })
    }

    enum Start {
        case random
        case estimate(location: [Double], covariance: [Double])
    }

    /// Concentration steps from one start, at most `iterations`; keeps the previous support if the
    /// determinant went up.
    static func concentrate(_ x: Rows, h: Int, start: Start, iterations: Int, rng: inout RandomGenerator) -> Raw {
        let p = x.p
        var support: [Int]
        switch start {
        case .random:
            support = Array(shuffled(x.n, &rng).prefix(h))
        case .estimate(let loc, let cov):
            support = Rows.smallest(x.distances(location: loc, precision: SymmetricEigen.pseudoInverseHermitian(cov, n: p)), h)
        }
        var location = x.mean(support)
        var covariance = x.covariance(support, location: location)
        // One eigen-decomposition per covariance gives both its determinant and its pseudo-inverse.
        var (det, inverse) = SymmetricEigen.logDeterminantAndPseudoInverse(covariance, n: p)
        var precision = inverse
        var previous: (location: [Double], covariance: [Double], logDet: Double, support: [Int], dist: [Double])?
        var remaining = iterations
        while remaining > 0, det.isFinite, det < (previous?.logDet ?? .infinity) {
            precision = inverse
            let dist = x.distances(location: location, precision: precision)
            previous = (location, covariance, det, support, dist)
            support = Rows.smallest(dist, h)
            location = x.mean(support)
            covariance = x.covariance(support, location: location)
            (det, inverse) = SymmetricEigen.logDeterminantAndPseudoInverse(covariance, n: p)
            remaining -= 1
        }
        if remaining > 0, det.isFinite, let previous, det > previous.logDet, !isClose(det, previous.logDet) {
            return Raw(location: previous.location, covariance: previous.covariance, logDet: previous.logDet,
                       support: mask(previous.support, x.n), dist: previous.dist)
        }
        // The distances of the result use the precision of the last step's starting covariance.
        return Raw(location: location, covariance: covariance, logDet: det, support: mask(support, x.n),
                   dist: x.distances(location: location, precision: precision))
    }

    /// Runs every start and keeps the `keep` results with the smallest determinants.
    static func candidates(_ x: Rows, h: Int, starts: [Start], keep: Int, iterations: Int, rng: inout RandomGenerator) -> [Raw] {
        let all = starts.map { concentrate(x, h: h, start: $0, iterations: iterations, rng: &rng) }
        let order = all.indices.sorted { all[$0].logDet != all[$1].logDet ? all[$0].logDet < all[$1].logDet : $0 < $1 }
        return order.prefix(keep).map { all[$0] }
    }

    static func fastMCD(_ x: Rows, h: Int, rng: inout RandomGenerator) -> Raw {
        let n = x.n
        func starts(_ r: [Raw]) -> [Start] { r.map { .estimate(location: $0.location, covariance: $0.covariance) } }
        func random(_ count: Int) -> [Start] { Array(repeating: .random, count: count) }
        guard n > 500 else {
            let best = candidates(x, h: h, starts: random(30), keep: 10, iterations: 2, rng: &rng)
            return candidates(x, h: h, starts: starts(best), keep: 1, iterations: 30, rng: &rng)[0]
        }
        // Disjoint subsets of about 300 rows, ten candidates from each.
        let subsets = n / 300, perSubset = n / subsets
        let order = shuffled(n, &rng)
        // (Evaluated in scikit-learn's order: h/n first, so that the rounding matches.)
        let hSubset = Int((Double(perSubset) * (Double(h) / Double(n))).rounded(.up))
        let trials = max(10, 500 / subsets)
        var pooled: [Raw] = []
        for s in 0..<subsets {
            let part = x.subset(Array(order[(s * perSubset)..<((s + 1) * perSubset)]))
            pooled += candidates(part, h: hSubset, starts: random(trials), keep: 10, iterations: 2, rng: &rng)
        }
        // Refined on a merged sample of up to 1500 rows.
        let merged = min(1500, n)
        let hMerged = Int((Double(merged) * (Double(h) / Double(n))).rounded(.up))
        let selection = Array(shuffled(n, &rng).prefix(merged))
        let sample = x.subset(selection)
        let best = candidates(sample, h: hMerged, starts: starts(pooled), keep: n > 1500 ? 10 : 1, iterations: 30, rng: &rng)
        if n <= 1500 {
            // The sample is every row, in another order: map the result back.
            var r = best[0]
            var support = [Bool](repeating: false, count: n), dist = [Double](repeating: 0, count: n)
            for (k, i) in selection.enumerated() { support[i] = r.support[k]; dist[i] = r.dist[k] }
            (r.support, r.dist) = (support, dist)
            return r
        }
        return candidates(x, h: h, starts: starts(best), keep: 1, iterations: 30, rng: &rng)[0]
    }

    static func mask(_ idx: [Int], _ n: Int) -> [Bool] {
        var m = [Bool](repeating: false, count: n)
        for i in idx { m[i] = true }
        return m
    }

    /// A uniformly random permutation of `0..<n` (Fisher–Yates).
    static func shuffled(_ n: Int, _ rng: inout RandomGenerator) -> [Int] {
        var a = Array(0..<n)
        if n > 1 {
            for i in stride(from: n - 1, to: 0, by: -1) {
                let j = Int(rng.next() % UInt64(i + 1))
                a.swapAt(i, j)
            }
        }
        return a
    }

    /// NumPy's `allclose` for two scalars (rtol 1e-5, atol 1e-8).
    static func isClose(_ a: Double, _ b: Double) -> Bool { abs(a - b) <= 1e-8 + 1e-5 * abs(b) }
}

/// The chi-squared distribution: CDF by the regularised lower incomplete gamma function, quantiles by
/// bisection (double precision).
public struct ChiSquared: Sendable {
    public let k: Double

    public init(degrees: Double) { k = degrees }

    public func cdf(_ x: Double) -> Double { x <= 0 ? 0 : Self.regularizedLowerGamma(k / 2, x / 2) }

    public func quantile(_ q: Double) -> Double {
        precondition(q > 0 && q < 1)
        var lo = 0.0, hi = max(1.0, k)
        while cdf(hi) < q { hi *= 2 }
        for _ in 0..<200 {
            let mid = 0.5 * (lo + hi)
            if mid == lo || mid == hi { break }
            if cdf(mid) < q { lo = mid } else { hi = mid }
        }
        return 0.5 * (lo + hi)
    }

    /// `c(α) = α / F_{χ²(p+2)}(F⁻¹_{χ²(p)}(α))` (Croux & Haesbroeck 1999; Pison et al. 2002).
    public static func consistencyFactor(features p: Int, alpha: Double) -> Double {
        guard alpha < 1 else { return 1 }
        let q = ChiSquared(degrees: Double(p)).quantile(alpha)
        return alpha / ChiSquared(degrees: Double(p + 2)).cdf(q)
    }

    /// P(a, x): a series below `a + 1`, a continued fraction (modified Lentz) above.
    static func regularizedLowerGamma(_ a: Double, _ x: Double) -> Double {
        if x <= 0 { return 0 }
        let logPrefix = -x + a * log(x) - lgamma(a)
        if x < a + 1 {
            var term = 1 / a, sum = term, ap = a
            for _ in 0..<10_000 {
                ap += 1
                term *= x / ap
                sum += term
                if abs(term) < abs(sum) * 1e-17 { break }
            }
            return min(1, sum * exp(logPrefix))
        }
        let tiny = 1e-300
        var b = x + 1 - a, c = 1 / tiny, d = 1 / b, h = d
        for i in 1..<10_000 {
            let an = -Double(i) * (Double(i) - a)
            b += 2
            d = an * d + b; if abs(d) < tiny { d = tiny }
            c = b + an / c; if abs(c) < tiny { c = tiny }
            d = 1 / d
            let delta = d * c
            h *= delta
            if abs(delta - 1) < 1e-16 { break }
        }
        return max(0, 1 - exp(logPrefix) * h)
    }
}
