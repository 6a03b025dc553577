import TensorCore

// One LSTM layer over a whole sequence as a single graph node: the forward saves the activated gates,
// cell states and tanh(c); the backward runs back-propagation through time with GEMMs for the weight
// gradients. Composing the cell from slices and pointwise ops costs ~15 nodes and allocations per step.
// The pointwise work of a step is one fused kernel (TensorCore's Kernels, at the machine's vector width).
// The per-step GEMMs read and write the strided step rows of the whole-sequence buffers in place (lda/ldc of L rows,
// beta 1), so nothing is gathered or added per step. The gates' sigmoid is computed as ½·tanh(x/2) + ½
// (absolute error ≤ 2e-7, half the cost of the exp-based sigmoid on these loops).

extension Variable {
    /// PyTorch's LSTM recurrence (gates `[i, f, g, o]`, zero initial state) for one layer.
    ///
    /// Shape: x `(B, L, in)`, weightIH `(4H, in)`, weightHH `(4H, H)`, biases `(4H)` →
    /// `(B, L, 2H)`: the hidden state `h_t` in `[..., 0..<H]` and the cell state `c_t` in `[..., H..<2H]`.
    /// With `repeatedFor: L`, x is `(B, in)` and is the input at every one of the L steps — the same result
    /// as passing it repeated along a time axis (the LSTM decoders' repeated latent), with its input
    /// projection computed once instead of L times and its gradients summed over the steps first.
    public static func lstmLayer(
        _ x: Variable, repeatedFor steps: Int? = nil,
        weightIH: Variable, weightHH: Variable, biasIH: Variable?, biasHH: Variable?
    ) -> Variable {
        precondition(x.rank == (steps == nil ? 3 : 2) && (steps ?? 1) >= 1 && weightIH.rank == 2 && weightHH.rank == 2
                     && weightIH.shape[1] == x.shape[x.rank - 1]
                     && weightHH.shape[0] == weightIH.shape[0] && weightHH.shape[0] == 4 * weightHH.shape[1],
                     "lstmLayer of input \(x.shape) (repeated for \(steps.map(String.init) ?? "-") steps) "
                     + "with weights \(weightIH.shape), \(weightHH.shape)")
        let (batch, length, inF) = (x.shape[0], steps ?? x.shape[1], x.shape[x.rank - 1])
        let h = weightHH.shape[1], h4 = 4 * h
        let wih = weightIH.value, whh = weightHH.value
        // Input projections (once per row of x) with both biases folded in; laid out per step, they become
        // the activated gates in place.
        let rows = steps == nil ? batch * length : batch
        var gates = Tensor.matmul(x.value.reshaped([rows, inF]), wih, transposeB: true)
        if biasIH != nil || biasHH != nil {
            var bias = Tensor.zeros([h4])
            if let b = biasIH { bias.addInPlace(b.value) }
            if let b = biasHH { bias.addInPlace(b.value) }
            gates = gates + bias
        }
        if steps != nil { gates = gates.reshaped([batch, 1, h4]).broadcast(to: [batch, length, h4]) }
        var out = Tensor(uninitializedShape: [batch, length, 2 * h])   // [h | c] per step
        var tanhC = Tensor(uninitializedShape: [batch, length, h])
        let gp = gates.withUnsafeMutableBufferPointer { $0.baseAddress! }
        let op = out.withUnsafeMutableBufferPointer { $0.baseAddress! }
        let tp = tanhC.withUnsafeMutableBufferPointer { $0.baseAddress! }
        let (gStride, oStride, tStride) = (length * h4, length * 2 * h, length * h)
        let whhT = length > 1 ? whh.transposed() : whh   // (H, 4H): the steps' products read it in place
        for t in 0..<length {
            if t > 0 {
                // gates_t += h_{t-1} · W_hhᵀ: h_{t-1} read from the output's step t-1 rows, accumulated
                // into the gates' step t rows (both strided by the sequence length).
                BLAS.sgemm(transposeA: false, transposeB: false, m: batch, n: h4, k: h, a: op + (t - 1) * 2 * h,
                           lda: oStride, b: whhT.basePointer, ldb: h4, beta: 1, c: gp + t * h4, ldc: gStride)
            }
            Kernels.lstmForwardStep(
                batch: batch, hidden: h, gates: gp + t * h4, gatesStride: gStride,
                cPrev: t > 0 ? UnsafePointer(op + (t - 1) * 2 * h + h) : nil, cPrevStride: oStride,
                out: op + t * 2 * h, outStride: oStride, tanhC: tp + t * h, tanhCStride: tStride)
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
            var hShift: Tensor? = nhh ? Tensor(uninitializedShape: [batch, length, h]) : nil  // h_{t-1}
            let gp = gates.basePointer, op = out.basePointer, tp = tanhC.basePointer, dp = grad.basePointer
            let dgp = dGates.withUnsafeMutableBufferPointer { $0.baseAddress! }
            let hsp = hShift?.withUnsafeMutableBufferPointer { $0.baseAddress! }
            // Scratch, zeroed: the gradients carried back into step t (dh, dc: B × H each).
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 2 * batch * h)
            defer { scratch.deallocate() }
            scratch.initialize(repeating: 0, count: 2 * batch * h)
            let dhp = scratch, dcp = dhp + batch * h
            // Summed by the kernel as the gate gradients are made: over the steps for a repeated input,
            // over every row for the biases.
            var dStepSum: Tensor? = steps == nil ? nil : Tensor.zeros([batch, h4])
            var dBias: Tensor? = nbih || nbhh ? Tensor.zeros([h4]) : nil
            let dsp = dStepSum?.withUnsafeMutableBufferPointer { $0.baseAddress! }
            let dbp = dBias?.withUnsafeMutableBufferPointer { $0.baseAddress! }
            for t in stride(from: length - 1, through: 0, by: -1) {
                Kernels.lstmBackwardStep(
                    batch: batch, hidden: h, gates: gp + t * h4, gatesStride: gStride, tanhC: tp + t * h,
                    tanhCStride: tStride, dOut: dp + t * 2 * h, dOutStride: oStride,
                    prev: t > 0 ? op + (t - 1) * 2 * h : nil, prevStride: oStride, dhCarry: dhp, dcCarry: dcp,
                    dGates: dgp + t * h4, dGatesStride: gStride, hPrevCopy: hsp.map { $0 + t * h },
                    hPrevCopyStride: tStride, dGatesSum: dsp, dGatesSumStride: h4, dBias: dbp)
                // dh_{t-1} = dGates_t · W_hh, from the step's strided rows.
                if t > 0 {
                    BLAS.sgemm(transposeA: false, transposeB: false, m: batch, n: h, k: h4, a: dgp + t * h4, lda: gStride,
                               b: whh.basePointer, ldb: h, c: dhp, ldc: h)
                }
            }
            let dg2 = dGates.reshaped([batch * length, h4])
            // A repeated input's gradients: the steps' gate gradients summed first, then one product each.
            let dIn = dStepSum ?? dg2
            var grads: [Tensor?] = [
                nx ? Tensor.matmul(dIn, wih).reshaped(xv.shape) : nil,
                nih ? Tensor.matmul(dIn, xv.reshaped([rows, inF]), transposeA: true) : nil,
                hShift.map { Tensor.matmul(dg2, $0.reshaped([batch * length, h]), transposeA: true) },
            ]
            if hasBiasIH { grads.append(nbih ? dBias : nil) }
            if hasBiasHH { grads.append(nbhh ? dBias : nil) }
            return grads
        }
    }
}
