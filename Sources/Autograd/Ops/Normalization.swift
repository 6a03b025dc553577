import TensorCore

// Batch normalisation as one node (forward and backward in two passes over the data) instead of nine
// composed ops. Layout: (B, C) or (B, C, L); statistics per channel over every other axis.

extension Variable {
    /// Normalises per channel and applies `weight`/`bias` (C).
    ///
    /// With `runningMean`/`runningVariance` (evaluation) those statistics are used; otherwise the batch's
    /// own mean and biased variance, which are returned for the running-statistics update.
    /// Shape: `(B, C)` or `(B, C, L)` → same.
    public static func batchNorm(
        _ x: Variable, weight: Variable, bias: Variable, runningMean: Tensor? = nil, runningVariance: Tensor? = nil,
        eps: Float = 1e-5
    ) -> (output: Variable, mean: Tensor, variance: Tensor) {
        precondition((x.rank == 2 || x.rank == 3) && weight.shape == [x.shape[1]] && bias.shape == weight.shape,
                     "batchNorm of input \(x.shape) with weight \(weight.shape) and bias \(bias.shape)")
        let (batch, channels) = (x.shape[0], x.shape[1])
        let inner = x.rank == 3 ? x.shape[2] : 1
        let n = batch * inner
        let xp = x.value.basePointer
        var mean = [Float](repeating: 0, count: channels), variance = mean
        if let rm = runningMean, let rv = runningVariance {
            mean = rm.scalars
            variance = rv.scalars
        } else {
            precondition(n > 0, "batchNorm of an empty batch")
            for b in 0..<batch { for c in 0..<channels {
                let row = xp + (b * channels + c) * inner
                var s: Float = 0
                for l in 0..<inner { s += row[l] }
                mean[c] += s
            } }
            for c in 0..<channels { mean[c] /= Float(n) }
            for b in 0..<batch { for c in 0..<channels {
                let row = xp + (b * channels + c) * inner
                let m = mean[c]
                var s: Float = 0
                for l in 0..<inner { let d = row[l] - m; s += d * d }
                variance[c] += s
            } }
            for c in 0..<channels { variance[c] /= Float(n) }
        }
        let invStd = variance.map { 1 / ($0 + eps).squareRoot() }
        let w = weight.value.scalars, bv = bias.value.scalars
        var normalized = Tensor(uninitializedShape: x.shape)
        var y = Tensor(uninitializedShape: x.shape)
        normalized.withUnsafeMutableBufferPointer { xh in
            y.withUnsafeMutableBufferPointer { yy in
                for b in 0..<batch { for c in 0..<channels {
                    let base = (b * channels + c) * inner
                    let (m, s, wc, bc) = (mean[c], invStd[c], w[c], bv[c])
                    for l in 0..<inner {
                        let v = (xp[base + l] - m) * s
                        xh[base + l] = v
                        yy[base + l] = v * wc + bc
                    }
                } }
            }
        }
        let stats = (Tensor(mean), Tensor(variance))
        let xhat = normalized
        guard GradMode.isEnabled, x.requiresGrad || weight.requiresGrad || bias.requiresGrad else {
            return (Variable(y), stats.0, stats.1)
        }
        let training = runningMean == nil
        let (nx, nw, nb) = (x.requiresGrad, weight.requiresGrad, bias.requiresGrad)
        let out = record(y, inputs: [x, weight, bias]) { g in
            let gp = g.basePointer, hp = xhat.basePointer
            var sumG = [Float](repeating: 0, count: channels), sumGX = sumG
            for b in 0..<batch { for c in 0..<channels {
                let base = (b * channels + c) * inner
                var s: Float = 0, sx: Float = 0
                for l in 0..<inner { s += gp[base + l]; sx += gp[base + l] * hp[base + l] }
                sumG[c] += s
                sumGX[c] += sx
            } }
            var dx: Tensor?
            if nx {
                var d = Tensor(uninitializedShape: g.shape)
                d.withUnsafeMutableBufferPointer { dd in
                    for b in 0..<batch { for c in 0..<channels {
                        let base = (b * channels + c) * inner
                        let k = w[c] * invStd[c]
                        if training {
                            // dx = w·σ⁻¹·(g − mean(g) − x̂·mean(g·x̂))
                            let mg = sumG[c] / Float(n), mgx = sumGX[c] / Float(n)
                            for l in 0..<inner { dd[base + l] = k * (gp[base + l] - mg - hp[base + l] * mgx) }
                        } else {
                            for l in 0..<inner { dd[base + l] = k * gp[base + l] }
                        }
                    } }
                }
                dx = d
            }
            return [dx, nw ? Tensor(sumGX) : nil, nb ? Tensor(sumG) : nil]
        }
        return (out, stats.0, stats.1)
    }
}
