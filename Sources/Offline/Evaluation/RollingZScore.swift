import TensorCore

/// The baseline every evaluation runs beside the autoencoder: a rolling z-score. Per metric, the newest value's
/// distance from the mean of the previous `window` values in their standard deviations (population, floored at
/// `minStd` of the metric's own scale so flat stretches do not divide by zero); the row's score is the largest
/// |z| over its metrics, and it alarms at `threshold`. Strictly causal: a value is never part of its own baseline.
public struct RollingZScore: Sendable, Equatable {
    public var window: Int
    public var threshold: Float
    public var minStd: Float

    public init(window: Int = 288, threshold: Float = 4, minStd: Float = 1e-6) {
        precondition(window >= 2, "rolling z-score window must be at least 2, got \(window)")
        (self.window, self.threshold, self.minStd) = (window, threshold, minStd)
    }

    /// Scores every row of `values` `(N, F)` (NaN cells are skipped); rows before `window` values exist score nil.
    public func scores(_ values: Tensor) -> [Float?] {
        let (n, f) = (values.shape[0], values.shape[1])
        var out = [Float?](repeating: nil, count: n)
        let v = values.scalars
        for c in 0..<f {
            // Running sums over the previous `window` finite values of this column (doubles: no drift over long series).
            var ring = [Double](repeating: 0, count: window)
            var (count, next) = (0, 0)
            var (sum, sumSq) = (0.0, 0.0)
            for r in 0..<n {
                let x = Double(v[r * f + c])
                guard x.isFinite else { continue }
                if count == window {
                    let mean = sum / Double(window)
                    let variance = max(0, sumSq / Double(window) - mean * mean)
                    let scale = max(abs(mean), 1)
                    let z = Float(abs(x - mean) / max(variance.squareRoot(), Double(minStd) * scale))
                    out[r] = max(out[r] ?? 0, z)
                    let old = ring[next]
                    sum -= old; sumSq -= old * old
                } else {
                    count += 1
                }
                ring[next] = x
                next = (next + 1) % window
                sum += x; sumSq += x * x
            }
        }
        return out
    }
}
