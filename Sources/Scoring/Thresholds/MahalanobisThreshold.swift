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
        let md = distances(x)
        let m = md.reduce(0, +) / Double(md.count)
        let sd = (md.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(md.count)).squareRoot()
        threshold = m + k * sd
    }

    /// Mahalanobis distance of every row.
    public func distances(_ x: Tensor) -> [Double] {
        let (n, f) = (x.shape[0], x.shape[1])
        let v = x.scalars
        return (0..<n).map { r in
            var q = 0.0
            for i in 0..<f {
                let di = Double(v[r * f + i]) - mean[i]
                var row = 0.0
                for j in 0..<f { row += icov[i * f + j] * (Double(v[r * f + j]) - mean[j]) }
                q += di * row
            }
            return max(q, 0).squareRoot()
        }
    }

    public func scoreSamples(_ x: Tensor) -> Tensor {
        let d = distances(x).map { Float($0 / threshold) }
        let f = x.shape[1]
        return Tensor(shape: x.shape, scalars: d.flatMap { [Float](repeating: $0, count: f) })
    }

    public func predict(_ x: Tensor) -> Tensor {
        let d = distances(x), f = x.shape[1]
        return Tensor(shape: x.shape, scalars: d.flatMap { [Float](repeating: $0 >= threshold ? 1 : 0, count: f) })
    }

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
        for _ in 0..<100 {
            var off = 0.0
            for i in 0..<n { for j in 0..<n where i != j { off += m[i * n + j] * m[i * n + j] } }
            if off < 1e-30 { break }
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
    static func pseudoInverse(_ a: [Double], n: Int) -> [Double] {
        let (lambda, v) = decompose(a, n: n)
        let cutoff = 1e-15 * (lambda.map(abs).max() ?? 0)
        var out = [Double](repeating: 0, count: n * n)
        for k in 0..<n where abs(lambda[k]) > cutoff {
            let inv = 1 / lambda[k]
            for i in 0..<n { for j in 0..<n { out[i * n + j] += v[i * n + k] * inv * v[j * n + k] } }
        }
        return out
    }
}
