import TensorCore

extension Variable {
    /// Matrix product of rank-2 variables. Shape: `(m, k) × (k, n) → (m, n)`.
    public static func matmul(_ a: Variable, _ b: Variable) -> Variable {
        let (av, bv) = (a.value, b.value)
        let y = Tensor.matmul(av, bv)
        guard recording(a, b) else { return Variable(y) }
        let (na, nb) = (a.requiresGrad, b.requiresGrad)
        return record(y, inputs: [a, b]) { g in
            [na ? Tensor.matmul(g, bv, transposeB: true) : nil, nb ? Tensor.matmul(av, g, transposeA: true) : nil]
        }
    }

    /// Batched matrix product over equal leading dimensions, optionally transposing the last two axes
    /// of either operand. Shape: `(…, m, k) × (…, k, n) → (…, m, n)`.
    public static func batchedMatmul(
        _ a: Variable, _ b: Variable, transposeA: Bool = false, transposeB: Bool = false
    ) -> Variable {
        let (av, bv) = (a.value, b.value)
        let y = Tensor.batchedMatmul(av, bv, transposeA: transposeA, transposeB: transposeB)
        guard recording(a, b) else { return Variable(y) }
        let (na, nb) = (a.requiresGrad, b.requiresGrad)
        return record(y, inputs: [a, b]) { g in
            // C = op(A)·op(B): dop(A) = G·op(B)ᵀ, dop(B) = op(A)ᵀ·G, then undo each op.
            let ga: Tensor? = !na ? nil : transposeA
                ? Tensor.batchedMatmul(bv, g, transposeA: transposeB, transposeB: true)
                : Tensor.batchedMatmul(g, bv, transposeB: !transposeB)
            let gb: Tensor? = !nb ? nil : transposeB
                ? Tensor.batchedMatmul(g, av, transposeA: true, transposeB: transposeA)
                : Tensor.batchedMatmul(av, g, transposeA: !transposeA)
            return [ga, gb]
        }
    }

    /// Fused affine map `x·Wᵀ + b` over the last axis (PyTorch's `F.linear`).
    ///
    /// Shape: x `(…, in)`, weight `(out, in)`, bias `(out)` → `(…, out)`.
    public static func linear(_ x: Variable, weight: Variable, bias: Variable?) -> Variable {
        let (xv, wv) = (x.value, weight.value)
        let inF = wv.shape[1], outF = wv.shape[0]
        precondition(x.rank >= 1 && x.shape[x.rank - 1] == inF && weight.rank == 2,
                     "linear of input \(x.shape) with weight \(weight.shape)")
        if let bias { precondition(bias.shape == [outF], "linear bias \(bias.shape) for weight \(weight.shape)") }
        let rows = xv.scalarCount / Swift.max(inF, 1)
        var outDims = x.shape.dims
        outDims[outDims.count - 1] = outF
        var y = Tensor(uninitializedShape: Shape(outDims))
        y.withUnsafeMutableBufferPointer { out in
            let po = out.baseAddress!
            if let bias {
                let pb = bias.value.basePointer
                for r in 0..<rows { (po + r * outF).update(from: pb, count: outF) }
            }
            BLAS.sgemm(transposeA: false, transposeB: true, m: rows, n: outF, k: inF,
                       a: xv.basePointer, lda: inF, b: wv.basePointer, ldb: inF,
                       beta: bias == nil ? 0 : 1, c: po, ldc: outF)
        }
        let inputs = bias.map { [x, weight, $0] } ?? [x, weight]
        let hasBias = bias != nil
        guard GradMode.isEnabled, inputs.contains(where: \.requiresGrad) else { return Variable(y) }
        let (nx, nw, nbias) = (x.requiresGrad, weight.requiresGrad, bias?.requiresGrad ?? false)
        let xShape = x.shape
        return record(y, inputs: inputs) { g in
            let g2 = g.reshaped([rows, outF])
            let x2 = xv.reshaped([rows, inF])
            var grads: [Tensor?] = [
                nx ? Tensor.matmul(g2, wv).reshaped(xShape) : nil,
                nw ? Tensor.matmul(g2, x2, transposeA: true) : nil,
            ]
            if hasBias { grads.append(nbias ? g2.sum(alongAxes: [0]) : nil) }
            return grads
        }
    }
}
