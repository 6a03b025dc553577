import TensorCore

// One LSTM layer over a whole sequence as a single graph node: the forward saves the activated gates,
// cell states and tanh(c); the backward runs back-propagation through time with GEMMs for the weight
// gradients. Composing the cell from slices and pointwise ops costs ~15 nodes and allocations per step.
// Inner loops run over contiguous gate blocks so they vectorise (fastTanh is branch-free). The per-step
// GEMMs read and write the strided step rows of the whole-sequence buffers in place (lda/ldc of L rows,
// beta 1), so nothing is gathered or added per step. The gates' sigmoid is computed as ½·tanh(x/2) + ½
// (absolute error ≤ 2e-7, half the cost of the exp-based sigmoid on these loops).

extension Variable {
    /// PyTorch's LSTM recurrence (gates `[i, f, g, o]`, zero initial state) for one layer.
    ///
    /// Shape: x `(B, L, in)`, weightIH `(4H, in)`, weightHH `(4H, H)`, biases `(4H)` →
    /// `(B, L, 2H)`: the hidden state `h_t` in `[..., 0..<H]` and the cell state `c_t` in `[..., H..<2H]`.
    public static func lstmLayer(
        _ x: Variable, weightIH: Variable, weightHH: Variable, biasIH: Variable?, biasHH: Variable?
    ) -> Variable {
        precondition(x.rank == 3 && weightIH.rank == 2 && weightHH.rank == 2 && weightIH.shape[1] == x.shape[2]
                     && weightHH.shape[0] == weightIH.shape[0] && weightHH.shape[0] == 4 * weightHH.shape[1],
                     "lstmLayer of input \(x.shape) with weights \(weightIH.shape), \(weightHH.shape)")
        let (batch, length, inF) = (x.shape[0], x.shape[1], x.shape[2])
        let h = weightHH.shape[1], h4 = 4 * h
        let wih = weightIH.value, whh = weightHH.value
        // Input projections for all steps with both biases folded in; becomes the activated gates in place.
        var gates = Tensor.matmul(x.value.reshaped([batch * length, inF]), wih, transposeB: true)
        if biasIH != nil || biasHH != nil {
            var bias = Tensor.zeros([h4])
            if let b = biasIH { bias.addInPlace(b.value) }
            if let b = biasHH { bias.addInPlace(b.value) }
            gates = gates + bias
        }
        var out = Tensor(uninitializedShape: [batch, length, 2 * h])   // [h | c] per step
        var tanhC = Tensor(uninitializedShape: [batch, length, h])
        let zeros = [Float](repeating: 0, count: h)
        let gp = gates.withUnsafeMutableBufferPointer { $0.baseAddress! }
        let op = out.withUnsafeMutableBufferPointer { $0.baseAddress! }
        let tp = tanhC.withUnsafeMutableBufferPointer { $0.baseAddress! }
        @inline(__always) func sigmoid(_ x: Float) -> Float { 0.5 * ScalarMath.fastTanh(0.5 * x) + 0.5 }
        zeros.withUnsafeBufferPointer { zp in
            for t in 0..<length {
                if t > 0 {
                    // gates_t += h_{t-1} · W_hhᵀ: h_{t-1} read from the output's step t-1 rows, accumulated
                    // into the gates' step t rows (both strided by the sequence length).
                    BLAS.sgemm(transposeA: false, transposeB: true, m: batch, n: h4, k: h, a: op + (t - 1) * 2 * h,
                               lda: length * 2 * h, b: whh.basePointer, ldb: h, beta: 1, c: gp + t * h4, ldc: length * h4)
                }
                for b in 0..<batch {
                    let g = gp + (b * length + t) * h4
                    for k in 0..<(2 * h) { g[k] = sigmoid(g[k]) }
                    for k in (2 * h)..<(3 * h) { g[k] = ScalarMath.fastTanh(g[k]) }
                    for k in (3 * h)..<h4 { g[k] = sigmoid(g[k]) }
                    let o = op + (b * length + t) * 2 * h
                    let cPrev = t > 0 ? UnsafePointer(op + (b * length + t - 1) * 2 * h + h) : zp.baseAddress!
                    let tc = tp + (b * length + t) * h
                    for j in 0..<h { o[h + j] = g[h + j] * cPrev[j] + g[j] * g[2 * h + j] }
                    for j in 0..<h { tc[j] = ScalarMath.fastTanh(o[h + j]) }
                    for j in 0..<h { o[j] = g[3 * h + j] * tc[j] }
                }
            }
        }
        let inputs = [x, weightIH, weightHH] + [biasIH, biasHH].compactMap { $0 }
        guard GradMode.isEnabled, inputs.contains(where: \.requiresGrad) else { return Variable(out) }
        let (nx, nih, nhh) = (x.requiresGrad, weightIH.requiresGrad, weightHH.requiresGrad)
        let (hasBiasIH, hasBiasHH) = (biasIH != nil, biasHH != nil)
        let (nbih, nbhh) = (biasIH?.requiresGrad ?? false, biasHH?.requiresGrad ?? false)
        let xv = x.value
        let saved = (gates, out, tanhC)
        return record(out, inputs: inputs) { grad in
            let (gates, out, tanhC) = saved
            var dGates = Tensor(uninitializedShape: [batch, length, h4])  // pre-activation gradients
            var hShift = Tensor(uninitializedShape: [batch, length, h])   // h_{t-1}
            let gp = gates.basePointer, op = out.basePointer, tp = tanhC.basePointer, dp = grad.basePointer
            let dgp = dGates.withUnsafeMutableBufferPointer { $0.baseAddress! }
            let hsp = hShift.withUnsafeMutableBufferPointer { $0.baseAddress! }
            // Scratch, zeroed: the gradients carried back into step t (dh, dc: B × H each), one sequence's
            // total dh_t and dc_t (H each), and the zero state before step 0 (H).
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 2 * batch * h + 3 * h)
            defer { scratch.deallocate() }
            scratch.initialize(repeating: 0, count: 2 * batch * h + 3 * h)
            let dhp = scratch, dcp = dhp + batch * h, dhv = dcp + batch * h, dcv = dhv + h
            let zp = UnsafePointer(dcv + h)
            for t in stride(from: length - 1, through: 0, by: -1) {
                for b in 0..<batch {
                    let g = gp + (b * length + t) * h4
                    let tc = tp + (b * length + t) * h, d = dp + (b * length + t) * 2 * h
                    let prev = t > 0 ? op + (b * length + t - 1) * 2 * h : nil
                    let hPrev = prev.map(UnsafePointer.init) ?? zp, cPrev = prev.map { UnsafePointer($0 + h) } ?? zp
                    let s = dgp + (b * length + t) * h4, dh = dhp + b * h, dc = dcp + b * h
                    for j in 0..<h {
                        let og = g[3 * h + j], t2 = tc[j]
                        dhv[j] = d[j] + dh[j]
                        dcv[j] = d[h + j] + dc[j] + dhv[j] * og * (1 - t2 * t2)
                    }
                    for j in 0..<h {
                        let (ig, fg, gg, og) = (g[j], g[h + j], g[2 * h + j], g[3 * h + j])
                        s[j] = dcv[j] * gg * ig * (1 - ig)
                        s[h + j] = dcv[j] * cPrev[j] * fg * (1 - fg)
                        s[2 * h + j] = dcv[j] * ig * (1 - gg * gg)
                        s[3 * h + j] = dhv[j] * tc[j] * og * (1 - og)
                        dc[j] = dcv[j] * fg
                    }
                    (hsp + (b * length + t) * h).update(from: hPrev, count: h)
                }
                // dh_{t-1} = dGates_t · W_hh, from the step's strided rows.
                if t > 0 {
                    BLAS.sgemm(transposeA: false, transposeB: false, m: batch, n: h, k: h4, a: dgp + t * h4, lda: length * h4,
                               b: whh.basePointer, ldb: h, c: dhp, ldc: h)
                }
            }
            let dg2 = dGates.reshaped([batch * length, h4])
            var grads: [Tensor?] = [
                nx ? Tensor.matmul(dg2, wih).reshaped([batch, length, inF]) : nil,
                nih ? Tensor.matmul(dg2, xv.reshaped([batch * length, inF]), transposeA: true) : nil,
                nhh ? Tensor.matmul(dg2, hShift.reshaped([batch * length, h]), transposeA: true) : nil,
            ]
            let dBias: Tensor? = nbih || nbhh ? dg2.sum(alongAxes: [0]) : nil
            if hasBiasIH { grads.append(nbih ? dBias : nil) }
            if hasBiasHH { grads.append(nbhh ? dBias : nil) }
            return grads
        }
    }
}
