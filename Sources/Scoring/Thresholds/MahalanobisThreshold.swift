import Foundation
import TensorCore

/// numalogic's `MahalanobisThreshold`: fits the column mean and the pseudo-inverse of the sample
/// covariance (ddof 1); a row's distance is `md = √((x − μ)ᵀ C⁺ (x − μ))`; the threshold is
/// `mean(md) + k·std(md)` over the training rows with Chebyshev's `k = 1/√max_outlier_prob`.
/// Scores are `md / threshold` per row, repeated across features (numalogic returns one column).
/// Stats `mean (F)`, `icov (F, F)`, `threshold (1)`.
public struct MahalanobisThreshold: ThresholdModel {
    public let name = "MahalanobisThreshold"
    public var maxOutlierProb: Double
    public private(set) var mean: [Double] = [], icov: [Double] = [], threshold: Double = 0
    public var conf: JSONObject { JSONObject([("max_outlier_prob", .double(maxOutlierProb))]) }
    public var k: Double { 1 / maxOutlierProb.squareRoot() }

    public init(maxOutlierProb: Double = 0.1) throws(ScoringError) {
        guard maxOutlierProb > 0 && maxOutlierProb < 1 else {
            throw .invalidConfig(path: "MahalanobisThreshold.max_outlier_prob", reason: "must be between 0 and 1 (exclusive), got \(maxOutlierProb)")
        }
        self.maxOutlierProb = maxOutlierProb
    }

    public mutating func fit(_ x: Tensor) throws(ScoringError) {
        try checkFitData(x, name)
        let (n, f) = (x.shape[0], x.shape[1])
        guard n > 1 else { throw .invalidData("\(name) needs at least two rows to estimate a covariance") }
        let cols = ColumnStats.columns(x)
        mean = cols.map(ColumnStats.mean)
        var cov = [Double](repeating: 0, count: f * f)
        for i in 0..<f { for j in i..<f {
            var s = 0.0
            for r in 0..<n { s += (cols[i][r] - mean[i]) * (cols[j][r] - mean[j]) }
            cov[i * f + j] = s / Double(n - 1)
            cov[j * f + i] = cov[i * f + j]
        } }
        icov = SymmetricEigen.pseudoInverse(cov, n: f)
        threshold = Self.threshold(distances(x), k: k)
        // Kept at the precision the checkpoint stores, so a reloaded model scores exactly like this one.
        (mean, icov, threshold) = (Self.float32(mean), Self.float32(icov), Double(Float(threshold)))
    }

    static func float32(_ v: [Double]) -> [Double] { v.map { Double(Float($0)) } }

    /// Mahalanobis distance of every row.
    public func distances(_ x: Tensor) -> [Double] { Self.distances(x, center: mean, precision: icov) }

    /// `√((x − c)ᵀ P (x − c))` of every row of `x`.
    static func distances(_ x: Tensor, center: [Double], precision: [Double]) -> [Double] {
        let (n, f) = (x.shape[0], x.shape[1])
        let v = x.scalars
        return (0..<n).map { r in
            var q = 0.0
            for i in 0..<f {
                let di = Double(v[r * f + i]) - center[i]
                var row = 0.0
                for j in 0..<f { row += precision[i * f + j] * (Double(v[r * f + j]) - center[j]) }
                q += di * row
            }
            return max(q, 0).squareRoot()
        }
    }

    /// `mean(md) + k·std(md)` (population std).
    static func threshold(_ md: [Double], k: Double) -> Double {
        let m = md.reduce(0, +) / Double(md.count)
        let sd = (md.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(md.count)).squareRoot()
        return m + k * sd
    }

    /// Row scores repeated across the features.
    static func rowScores(_ d: [Double], features f: Int, _ transform: (Double) -> Float) -> Tensor {
        Tensor(shape: [d.count, f], scalars: d.flatMap { [Float](repeating: transform($0), count: f) })
    }

    public func scoreSamples(_ x: Tensor) -> Tensor { Self.rowScores(distances(x), features: x.shape[1]) { Float($0 / threshold) } }
    public func predict(_ x: Tensor) -> Tensor { Self.rowScores(distances(x), features: x.shape[1]) { $0 >= threshold ? 1 : 0 } }

    public var thresholdValues: [Float] { [Float(threshold)] }
    public var stats: [(String, Tensor)] {
        let f = mean.count
        return [("mean", Tensor(mean.map(Float.init))), ("icov", Tensor(shape: [f, f], scalars: icov.map(Float.init))),
                ("threshold", Tensor([Float(threshold)]))]
    }

    public mutating func restore(_ stats: [String: Tensor], features: Int) throws(ScoringError) {
        guard Set(stats.keys) == ["mean", "icov", "threshold"] else {
            throw .invalidShape("\(name) needs statistics [icov, mean, threshold], got \(stats.keys.sorted())")
        }
        guard stats["mean"]!.shape == [features], stats["icov"]!.shape == [features, features], stats["threshold"]!.shape == [1] else {
            throw .invalidShape("\(name) statistics have shapes mean \(stats["mean"]!.shape), icov \(stats["icov"]!.shape), threshold \(stats["threshold"]!.shape) for \(features) features")
        }
        guard stats.values.allSatisfy(\.isFinite), stats["threshold"]!.scalar > 0 else { throw .invalidData("\(name) statistics must be finite with a positive threshold") }
        mean = stats["mean"]!.scalars.map(Double.init)
        icov = stats["icov"]!.scalars.map(Double.init)
        threshold = Double(stats["threshold"]!.scalar)
    }
}

/// Eigen-decomposition of small symmetric matrices by cyclic Jacobi rotations (double precision).
enum SymmetricEigen {
    /// `(eigenvalues, eigenvectors as columns of a row-major n×n matrix)`.
    static func decompose(_ a: [Double], n: Int) -> ([Double], [Double]) {
        var m = a
        var v = [Double](repeating: 0, count: n * n)
        for i in 0..<n { v[i * n + i] = 1 }
        let total = a.reduce(0) { $0 + $1 * $1 }
        for _ in 0..<100 {
            var off = 0.0
            for i in 0..<n { for j in 0..<n where i != j { off += m[i * n + j] * m[i * n + j] } }
            if off <= 1e-32 * total { break }   // relative: the matrix's scale does not matter
            for p in 0..<n { for q in (p + 1)..<n {
                let apq = m[p * n + q]
                guard abs(apq) > 1e-300 else { continue }
                let theta = (m[q * n + q] - m[p * n + p]) / (2 * apq)
                let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                let c = 1 / (t * t + 1).squareRoot(), s = t * c
                for k in 0..<n {
                    let mkp = m[k * n + p], mkq = m[k * n + q]
                    m[k * n + p] = c * mkp - s * mkq
                    m[k * n + q] = s * mkp + c * mkq
                }
                for k in 0..<n {
                    let mpk = m[p * n + k], mqk = m[q * n + k]
                    m[p * n + k] = c * mpk - s * mqk
                    m[q * n + k] = s * mpk + c * mqk
                }
                for k in 0..<n {
                    let vkp = v[k * n + p], vkq = v[k * n + q]
                    v[k * n + p] = c * vkp - s * vkq
                    v[k * n + q] = s * vkp + c * vkq
                }
            } }
        }
        return ((0..<n).map { m[$0 * n + $0] }, v)
    }

    /// Moore–Penrose pseudo-inverse of a symmetric matrix; eigenvalues below NumPy's default cut-off
    /// (`1e-15 · max|λ|`, as `np.linalg.pinv`'s rcond) are treated as zero.
    static func pseudoInverse(_ a: [Double], n: Int) -> [Double] { pseudoInverse(a, n: n, relativeCutoff: 1e-15) }

    /// The pseudo-inverse with SciPy's `pinvh` cut-off (`n · ε · max|λ|`).
    static func pseudoInverseHermitian(_ a: [Double], n: Int) -> [Double] {
        pseudoInverse(a, n: n, relativeCutoff: Double(n) * Double.ulpOfOne)
    }

    /// `log det` of a symmetric matrix — `-∞` unless it is positive definite (NumPy's `fast_logdet`) —
    /// and its pseudo-inverse with SciPy's `pinvh` cut-off, from one decomposition.
    static func logDeterminantAndPseudoInverse(_ a: [Double], n: Int) -> (Double, [Double]) {
        let (lambda, v) = decompose(a, n: n)
        let logDet = lambda.allSatisfy({ $0 > 0 }) ? lambda.reduce(0) { $0 + log($1) } : -.infinity
        return (logDet, pseudoInverse(lambda, v, n: n, relativeCutoff: Double(n) * Double.ulpOfOne))
    }

    static func pseudoInverse(_ a: [Double], n: Int, relativeCutoff: Double) -> [Double] {
        let (lambda, v) = decompose(a, n: n)
        return pseudoInverse(lambda, v, n: n, relativeCutoff: relativeCutoff)
    }

    /// `Σ_k v_k v_kᵀ / λ_k` over the eigenvalues above `relativeCutoff · max|λ|`.
    static func pseudoInverse(_ lambda: [Double], _ v: [Double], n: Int, relativeCutoff: Double) -> [Double] {
        let cutoff = relativeCutoff * (lambda.map(abs).max() ?? 0)
        var out = [Double](repeating: 0, count: n * n)
        for k in 0..<n where abs(lambda[k]) > cutoff {
            let inv = 1 / lambda[k]
            for i in 0..<n { for j in 0..<n { out[i * n + j] += v[i * n + k] * inv * v[j * n + k] } }
        }
        return out
    }
}

/// numalogic's `RobustMahalanobisThreshold`: the Mahalanobis threshold with a robust location and
/// precision from the minimum covariance determinant (`MinCovDet`, as scikit-learn's with numalogic's
/// `support_fraction` default 0.7), so that anomalies in the training errors do not inflate the
/// covariance. `md = √((x − μ)ᵀ P (x − μ))` from the MCD's location and precision; threshold
/// `mean(md) + k·std(md)` over the training rows, `k = 1/√max_outlier_prob`; scores `md / threshold`.
/// Stats `location (F)` (the MCD's `location_`), `icov (F, F)` (numalogic's `_cov_inv`: the MCD's precision),
/// `threshold (1)`.
public struct RobustMahalanobisThreshold: ThresholdModel {
    public let name = "RobustMahalanobisThreshold"
    public var maxOutlierProb: Double
    public var supportFraction: Double?
    public private(set) var location: [Double] = [], precision: [Double] = [], threshold: Double = 0
    public var conf: JSONObject {
        JSONObject([("max_outlier_prob", .double(maxOutlierProb)), ("support_fraction", supportFraction.map(JSONValue.double) ?? .null)])
    }
    public var k: Double { 1 / maxOutlierProb.squareRoot() }

    public init(maxOutlierProb: Double = 0.1, supportFraction: Double? = 0.7) throws(ScoringError) {
        guard maxOutlierProb > 0 && maxOutlierProb < 1 else {
            throw .invalidConfig(path: "RobustMahalanobisThreshold.max_outlier_prob", reason: "must be between 0 and 1 (exclusive), got \(maxOutlierProb)")
        }
        if let f = supportFraction, !(f > 0 && f <= 1) {
            throw .invalidConfig(path: "RobustMahalanobisThreshold.support_fraction", reason: "must be in (0, 1] or null, got \(f)")
        }
        (self.maxOutlierProb, self.supportFraction) = (maxOutlierProb, supportFraction)
    }

    public mutating func fit(_ x: Tensor) throws(ScoringError) {
        try checkFitData(x, name)
        let estimate = try MinCovDet(supportFraction: supportFraction).fit(x.scalars.map(Double.init), rows: x.shape[0], features: x.shape[1])
        (location, precision) = (estimate.location, estimate.precision)
        threshold = MahalanobisThreshold.threshold(distances(x), k: k)
        // Kept at the precision the checkpoint stores, so a reloaded model scores exactly like this one.
        (location, precision, threshold) = (MahalanobisThreshold.float32(location), MahalanobisThreshold.float32(precision), Double(Float(threshold)))
        guard threshold.isFinite && threshold > 0 else {
            throw .invalidData("\(name): the training errors give a threshold of \(threshold); they need some spread")
        }
    }

    public func distances(_ x: Tensor) -> [Double] { MahalanobisThreshold.distances(x, center: location, precision: precision) }
    public func scoreSamples(_ x: Tensor) -> Tensor {
        MahalanobisThreshold.rowScores(distances(x), features: x.shape[1]) { Float($0 / threshold) }
    }
    public func predict(_ x: Tensor) -> Tensor {
        MahalanobisThreshold.rowScores(distances(x), features: x.shape[1]) { $0 >= threshold ? 1 : 0 }
    }

    public var thresholdValues: [Float] { [Float(threshold)] }
    public var stats: [(String, Tensor)] {
        let f = location.count
        return [("location", Tensor(location.map(Float.init))), ("icov", Tensor(shape: [f, f], scalars: precision.map(Float.init))),
                ("threshold", Tensor([Float(threshold)]))]
    }

    public mutating func restore(_ stats: [String: Tensor], features: Int) throws(ScoringError) {
        guard Set(stats.keys) == ["location", "icov", "threshold"] else {
            throw .invalidShape("\(name) needs statistics [icov, location, threshold], got \(stats.keys.sorted())")
        }
        let (l, p, t) = (stats["location"]!, stats["icov"]!, stats["threshold"]!)
        guard l.shape == [features], p.shape == [features, features], t.shape == [1] else {
            throw .invalidShape("\(name) statistics have shapes location \(l.shape), icov \(p.shape), threshold \(t.shape) for \(features) features")
        }
        guard stats.values.allSatisfy(\.isFinite), t.scalar > 0 else { throw .invalidData("\(name) statistics must be finite with a positive threshold") }
        location = l.scalars.map(Double.init)
        precision = p.scalars.map(Double.init)
        threshold = Double(t.scalar)
    }
}
