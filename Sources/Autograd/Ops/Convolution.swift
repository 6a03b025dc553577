import TensorCore

// 1-D convolution as im2col + one GEMM, and its transpose as one GEMM + col2im. Both share
// `Conv1DGeometry`: the transposed convolution's output is the geometry's input side. Columns are
// channel-major `(C·k, B·L)`, so the GEMMs produce channels-by-positions and the only reordering left is
// swapping the batch and channel axes, which moves whole contiguous rows of L.

extension Variable {
    /// PyTorch's `conv1d` (groups 1).
    ///
    /// Shape: x `(B, Cin, L)`, weight `(Cout, Cin, k)`, bias `(Cout)` → `(B, Cout, Lout)` with
    /// `Lout = floor((L + 2p − d(k−1) − 1)/s) + 1`.
    public static func conv1d(
        _ x: Variable, weight: Variable, bias: Variable?, stride: Int = 1, padding: Int = 0, dilation: Int = 1
    ) -> Variable {
        let (xv, wv) = (x.value, weight.value)
        precondition(x.rank == 3 && weight.rank == 3 && x.shape[1] == weight.shape[1],
                     "conv1d of input \(x.shape) with weight \(weight.shape)")
        let (batch, cin, length) = (x.shape[0], x.shape[1], x.shape[2])
        let (cout, k) = (weight.shape[0], weight.shape[2])
        let geo = Conv1DGeometry(inputLength: length, kernelSize: k, stride: stride, padding: padding, dilation: dilation)
        let lout = geo.outputLength
        precondition(lout > 0, "conv1d output would be empty for input \(x.shape), kernel \(k), \(geo)")
        let cols = xv.im2col1d(geo)                        // (Cin·k, B·Lout)
        let w2 = wv.reshaped([cout, cin * k])
        var y2 = Tensor.matmul(w2, cols)                   // (Cout, B·Lout)
        if let bias { y2 = y2 + bias.value.reshaped([cout, 1]) }
        let y = y2.reshaped([cout, batch, lout]).permuted([1, 0, 2])
        let inputs = bias.map { [x, weight, $0] } ?? [x, weight]
        let hasBias = bias != nil
        guard GradMode.isEnabled, inputs.contains(where: \.requiresGrad) else { return Variable(y) }
        let (nx, nw, nb) = (x.requiresGrad, weight.requiresGrad, bias?.requiresGrad ?? false)
        let wShape = weight.shape
        return record(y, inputs: inputs) { g in
            let g2 = g.permuted([1, 0, 2]).reshaped([cout, batch * lout])
            var grads: [Tensor?] = [
                nx ? Tensor.matmul(w2, g2, transposeA: true).col2im1d(geo, batch: batch, channels: cin) : nil,
                nw ? Tensor.matmul(g2, cols, transposeB: true).reshaped(wShape) : nil,
            ]
            if hasBias { grads.append(nb ? g2.sum(alongAxes: [1]) : nil) }
            return grads
        }
    }

    /// PyTorch's `conv_transpose1d` (groups 1).
    ///
    /// Shape: x `(B, Cin, L)`, weight `(Cin, Cout, k)`, bias `(Cout)` → `(B, Cout, Lout)` with
    /// `Lout = (L − 1)s − 2p + d(k−1) + outputPadding + 1`.
    public static func convTranspose1d(
        _ x: Variable, weight: Variable, bias: Variable?, stride: Int = 1, padding: Int = 0,
        outputPadding: Int = 0, dilation: Int = 1
    ) -> Variable {
        let (xv, wv) = (x.value, weight.value)
        precondition(x.rank == 3 && weight.rank == 3 && x.shape[1] == weight.shape[0],
                     "convTranspose1d of input \(x.shape) with weight \(weight.shape)")
        precondition(outputPadding < Swift.max(stride, dilation),
                     "output padding \(outputPadding) must be smaller than stride \(stride) or dilation \(dilation)")
        let (batch, cin, length) = (x.shape[0], x.shape[1], x.shape[2])
        let (cout, k) = (weight.shape[1], weight.shape[2])
        let lout = (length - 1) * stride - 2 * padding + dilation * (k - 1) + outputPadding + 1
        precondition(lout > 0, "convTranspose1d output would be empty for input \(x.shape) and weight \(weight.shape)")
        let geo = Conv1DGeometry(inputLength: lout, kernelSize: k, stride: stride, padding: padding, dilation: dilation)
        let x2 = xv.permuted([1, 0, 2]).reshaped([cin, batch * length])
        let w2 = wv.reshaped([cin, cout * k])
        let cols = Tensor.matmul(w2, x2, transposeA: true)  // (Cout·k, B·L)
        var y = cols.col2im1d(geo, batch: batch, channels: cout)
        if let bias { y = y + bias.value.reshaped([1, cout, 1]) }
        let inputs = bias.map { [x, weight, $0] } ?? [x, weight]
        let hasBias = bias != nil
        guard GradMode.isEnabled, inputs.contains(where: \.requiresGrad) else { return Variable(y) }
        let (nx, nw, nb) = (x.requiresGrad, weight.requiresGrad, bias?.requiresGrad ?? false)
        let wShape = weight.shape
        return record(y, inputs: inputs) { g in
            let gcols = g.im2col1d(geo)                    // (Cout·k, B·L)
            var grads: [Tensor?] = [
                nx ? Tensor.matmul(w2, gcols).reshaped([cin, batch, length]).permuted([1, 0, 2]) : nil,
                nw ? Tensor.matmul(x2, gcols, transposeB: true).reshaped(wShape) : nil,
            ]
            if hasBias { grads.append(nb ? g.sum(alongAxes: [0, 2]) : nil) }
            return grads
        }
    }
}
