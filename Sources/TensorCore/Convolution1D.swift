/// The index geometry shared by 1-D convolution, its transpose and their gradients.
///
/// Output position `t` and kernel tap `j` read input position `t·stride + j·dilation − padding`
/// (positions outside `0..<inputLength` are zero padding).
public struct Conv1DGeometry: Hashable, Sendable {
    public let inputLength: Int
    public let kernelSize: Int
    public let stride: Int
    public let padding: Int
    public let dilation: Int

    public init(inputLength: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0, dilation: Int = 1) {
        precondition(kernelSize >= 1 && stride >= 1 && dilation >= 1 && padding >= 0,
                     "invalid conv geometry k=\(kernelSize) s=\(stride) p=\(padding) d=\(dilation)")
        self.inputLength = inputLength
        self.kernelSize = kernelSize
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
    }

    /// For each output position, the kernel taps `lo..<hi` that read inside the input (the rest is padding).
    func validTaps() -> [(Int, Int)] {
        (0..<outputLength).map { t in
            let start = t * stride - padding
            var lo = 0, hi = kernelSize
            while lo < hi && start + lo * dilation < 0 { lo += 1 }
            while hi > lo && start + (hi - 1) * dilation >= inputLength { hi -= 1 }
            return (lo, hi)
        }
    }

    /// `floor((L + 2p − d(k−1) − 1) / s) + 1`, as PyTorch's Conv1d.
    public var outputLength: Int {
        let span = inputLength + 2 * padding - dilation * (kernelSize - 1) - 1
        return span < 0 ? 0 : span / stride + 1
    }
}

extension Tensor {
    /// Unfolds `(B, C, L)` into columns `(B · Lout, C · k)`: row `(b, t)`, column `(c, j)` holds
    /// `x[b, c, t·s + j·d − p]` (zero outside the input).
    public func im2col1d(_ g: Conv1DGeometry) -> Tensor {
        precondition(rank == 3 && shape[2] == g.inputLength, "im2col1d of \(shape) with input length \(g.inputLength)")
        let (batch, channels, length) = (shape[0], shape[1], shape[2])
        let lout = g.outputLength, k = g.kernelSize
        let cols = Tensor(shape: [batch * lout, channels * k], repeating: 0)
        let src = storage.pointer, dst = cols.storage.pointer
        let rowWidth = channels * k
        let taps = g.validTaps()
        for b in 0..<batch {
            for t in 0..<lout {
                let row = dst + (b * lout + t) * rowWidth
                let start = t * g.stride - g.padding
                let (lo, hi) = taps[t]
                for c in 0..<channels {
                    let x = src + (b * channels + c) * length + start
                    let r = row + c * k
                    if g.dilation == 1 {
                        for j in lo..<hi { r[j] = x[j] }
                    } else {
                        for j in lo..<hi { r[j] = x[j * g.dilation] }
                    }
                }
            }
        }
        return cols
    }

    /// Folds columns `(B · Lout, C · k)` back into `(B, C, L)`, summing overlapping taps (adjoint of im2col1d).
    public func col2im1d(_ g: Conv1DGeometry, batch: Int, channels: Int) -> Tensor {
        let lout = g.outputLength, k = g.kernelSize, length = g.inputLength
        precondition(shape == [batch * lout, channels * k], "col2im1d of \(shape), expected \([batch * lout, channels * k])")
        let out = Tensor(shape: [batch, channels, length], repeating: 0)
        let src = storage.pointer, dst = out.storage.pointer
        let rowWidth = channels * k
        let taps = g.validTaps()
        for b in 0..<batch {
            for t in 0..<lout {
                let row = src + (b * lout + t) * rowWidth
                let start = t * g.stride - g.padding
                let (lo, hi) = taps[t]
                for c in 0..<channels {
                    let y = dst + (b * channels + c) * length + start
                    let r = row + c * k
                    if g.dilation == 1 {
                        for j in lo..<hi { y[j] += r[j] }
                    } else {
                        for j in lo..<hi { y[j * g.dilation] += r[j] }
                    }
                }
            }
        }
        return out
    }
}
