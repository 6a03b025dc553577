import TensorCore

extension Variable {
    /// PyTorch's `max_pool1d` (floor mode, implicit −inf padding). Ties keep the first maximum, and the
    /// gradient flows to that position only.
    ///
    /// Shape: `(B, C, L)` → `(B, C, floor((L + 2p − k)/s) + 1)`.
    public func maxPool1d(kernelSize k: Int, stride: Int? = nil, padding: Int = 0) -> Variable {
        let s = stride ?? k
        precondition(rank == 3 && k >= 1 && s >= 1 && padding >= 0 && padding <= k / 2,
                     "maxPool1d(k: \(k), s: \(s), p: \(padding)) of \(shape)")
        let (rows, length) = (shape[0] * shape[1], shape[2])
        let lout = (length + 2 * padding - k) / s + 1
        precondition(lout > 0, "maxPool1d output would be empty for \(shape)")
        var y = Tensor(uninitializedShape: [shape[0], shape[1], lout])
        var positions = [Int32](repeating: 0, count: rows * lout)
        let src = value.basePointer
        y.withUnsafeMutableBufferPointer { out in
          positions.withUnsafeMutableBufferPointer { argmax in
            if k == 2 && s == 2 && padding == 0 {
                // The common case (numalogic's pool of 2): pairs, first index wins ties, NaN propagates.
                for r in 0..<rows {
                    let x = src + r * length
                    for t in 0..<lout {
                        // Branch-free (a data-dependent branch here mispredicts half the time).
                        let a = x[2 * t], b = x[2 * t + 1]
                        let second: Int32 = (b > a ? 1 : 0) | (b.isNaN ? 1 : 0)
                        out[r * lout + t] = second != 0 ? b : a
                        argmax[r * lout + t] = Int32(truncatingIfNeeded: 2 * t) + second
                    }
                }
                return
            }
            for r in 0..<rows {
                for t in 0..<lout {
                    var best = -Float.infinity
                    var at = -1
                    for j in 0..<k {
                        let pos = t * s + j - padding
                        guard pos >= 0 && pos < length else { continue }
                        let v = src[r * length + pos]
                        if at < 0 || v > best || v.isNaN { best = v; at = pos }
                    }
                    out[r * lout + t] = best
                    argmax[r * lout + t] = Int32(at)
                }
            }
          }
        }
        guard Variable.recording(self) else { return Variable(y) }
        let inShape = shape
        let argmax = positions  // captured immutably (a captured `var` would be boxed)
        return Variable.record(y, inputs: [self]) { g in
            var dx = Tensor.zeros(inShape)
            dx.withUnsafeMutableBufferPointer { d in
                let pg = g.basePointer
                for r in 0..<rows { for t in 0..<lout { d[r * length + Int(argmax[r * lout + t])] += pg[r * lout + t] } }
            }
            return [dx]
        }
    }

    /// PyTorch's `Upsample(scale_factor:, mode: "linear", align_corners: false)`.
    ///
    /// Output index `i` samples source `max(0, (i + 0.5)/scale − 0.5)` with linear interpolation between
    /// its neighbours (clamped at the end). Shape: `(B, C, L)` → `(B, C, floor(L·scale))`.
    public func upsampleLinear1d(scaleFactor: Float) -> Variable {
        precondition(rank == 3 && scaleFactor > 0, "upsampleLinear1d(scale: \(scaleFactor)) of \(shape)")
        let (rows, length) = (shape[0] * shape[1], shape[2])
        let lout = Int((Float(length) * scaleFactor).rounded(.down))
        precondition(lout > 0, "upsampleLinear1d output would be empty for \(shape)")
        let ratio = 1 / scaleFactor
        var lower = [Int](repeating: 0, count: lout), upper = lower
        var weights = [Float](repeating: 0, count: lout)
        for i in 0..<lout {
            let src = Swift.max(0, ratio * (Float(i) + 0.5) - 0.5)
            let i0 = Swift.min(Int(src), length - 1)
            lower[i] = i0
            upper[i] = i0 < length - 1 ? i0 + 1 : i0
            weights[i] = src - Float(i0)
        }
        let (i0s, i1s, w1s) = (lower, upper, weights)  // immutable captures
        var y = Tensor(uninitializedShape: [shape[0], shape[1], lout])
        let src = value.basePointer
        y.withUnsafeMutableBufferPointer { out in
            for r in 0..<rows {
                let x = src + r * length
                for i in 0..<lout { out[r * lout + i] = (1 - w1s[i]) * x[i0s[i]] + w1s[i] * x[i1s[i]] }
            }
        }
        guard Variable.recording(self) else { return Variable(y) }
        let inShape = shape
        return Variable.record(y, inputs: [self]) { g in
            var dx = Tensor.zeros(inShape)
            let pg = g.basePointer
            dx.withUnsafeMutableBufferPointer { d in
                for r in 0..<rows {
                    for i in 0..<lout {
                        let gi = pg[r * lout + i]
                        d[r * length + i0s[i]] += (1 - w1s[i]) * gi
                        d[r * length + i1s[i]] += w1s[i] * gi
                    }
                }
            }
            return [dx]
        }
    }
}
