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

    /// For kernel tap `j`, the output positions `lo..<hi` that read inside the input (the rest is padding).
    func validPositions(tap j: Int) -> Range<Int> {
        let offset = j * dilation - padding        // input position of output 0
        var lo = 0, hi = outputLength
        while lo < hi && offset + lo * stride < 0 { lo += 1 }
        while hi > lo && offset + (hi - 1) * stride >= inputLength { hi -= 1 }
        return lo..<hi
    }

    /// Visits every contiguous run that im2col1d copies and col2im1d folds back: for each tap `j`, channel
    /// `c` and sequence `b`, `body(image, column, valid)` with the offset in the image `(B, C, L)` that output
    /// position 0 reads (position `t` reads `image + t·stride`), the offset of the run in the columns
    /// `(C·k, B·Lout)`, and the output positions that read inside the input.
    @inline(__always)
    func forEachRun(batch: Int, channels: Int, _ body: (_ image: Int, _ column: Int, _ valid: Range<Int>) -> Void) {
        let lout = outputLength, width = batch * lout
        for j in 0..<kernelSize {
            let valid = validPositions(tap: j), offset = j * dilation - padding
            for c in 0..<channels {
                for b in 0..<batch { body((b * channels + c) * inputLength + offset, (c * kernelSize + j) * width + b * lout, valid) }
            }
        }
    }

    /// `floor((L + 2p − d(k−1) − 1) / s) + 1`, as PyTorch's Conv1d.
    public var outputLength: Int {
        let span = inputLength + 2 * padding - dilation * (kernelSize - 1) - 1
        return span < 0 ? 0 : span / stride + 1
    }
}

extension Tensor {
    /// Unfolds `(B, C, L)` into channel-major columns `(C · k, B · Lout)`: row `(c, j)`, column `(b, t)`
    /// holds `x[b, c, t·s + j·d − p]` (zero outside the input). In this layout each (row, sequence) pair
    /// is one contiguous run of Lout values copied from one input row, and the convolution is
    /// `W (Cout, C·k) · cols` with the output channels as rows.
    public func im2col1d(_ g: Conv1DGeometry) -> Tensor {
        precondition(rank == 3 && shape[2] == g.inputLength, "im2col1d of \(shape) with input length \(g.inputLength)")
        let (batch, channels) = (shape[0], shape[1])
        let cols = Tensor(shape: [channels * g.kernelSize, batch * g.outputLength], repeating: 0)
        let src = storage.pointer, dst = cols.storage.pointer
        g.forEachRun(batch: batch, channels: channels) { image, column, valid in
            let x = src + image, r = dst + column
            if g.stride == 1 {
                for t in valid { r[t] = x[t] }
            } else {
                for t in valid { r[t] = x[t * g.stride] }
            }
        }
        return cols
    }

    /// Folds columns `(C · k, B · Lout)` back into `(B, C, L)`, summing overlapping taps (adjoint of im2col1d).
    public func col2im1d(_ g: Conv1DGeometry, batch: Int, channels: Int) -> Tensor {
        let expected: Shape = [channels * g.kernelSize, batch * g.outputLength]
        precondition(shape == expected, "col2im1d of \(shape), expected \(expected)")
        let out = Tensor(shape: [batch, channels, g.inputLength], repeating: 0)
        let src = storage.pointer, dst = out.storage.pointer
        g.forEachRun(batch: batch, channels: channels) { image, column, valid in
            let y = dst + image, r = src + column
            if g.stride == 1 {
                for t in valid { y[t] += r[t] }
            } else {
                for t in valid { y[t * g.stride] += r[t] }
            }
        }
        return out
    }
}
