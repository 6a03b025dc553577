extension Tensor {
    /// Matrix product of rank-2 tensors, optionally transposing either operand first.
    ///
    /// Shape: `(m, k) × (k, n) → (m, n)` after the transposes.
    public static func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
        precondition(a.rank == 2 && b.rank == 2, "matmul needs rank-2 tensors, got \(a.shape) and \(b.shape)")
        let m = transposeA ? a.shape[1] : a.shape[0]
        let k = transposeA ? a.shape[0] : a.shape[1]
        let kb = transposeB ? b.shape[1] : b.shape[0]
        let n = transposeB ? b.shape[0] : b.shape[1]
        precondition(k == kb, "matmul of \(a.shape)\(transposeA ? "ᵀ" : "") and \(b.shape)\(transposeB ? "ᵀ" : "")")
        let out = Tensor(uninitializedShape: [m, n])
        BLAS.sgemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                   a: a.basePointer, lda: a.shape[1], b: b.basePointer, ldb: b.shape[1],
                   c: out.storage.pointer, ldc: n)
        return out
    }

    /// Batched matrix product over equal leading dimensions: `(…, m, k) × (…, k, n) → (…, m, n)`.
    public static func batchedMatmul(
        _ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false
    ) -> Tensor {
        precondition(a.rank >= 2 && a.rank == b.rank && a.shape.dims.dropLast(2) == b.shape.dims.dropLast(2),
                     "batchedMatmul of \(a.shape) and \(b.shape)")
        let r = a.rank
        let (ar, ac, br, bc) = (a.shape[r - 2], a.shape[r - 1], b.shape[r - 2], b.shape[r - 1])
        let m = transposeA ? ac : ar, k = transposeA ? ar : ac
        let kb = transposeB ? bc : br, n = transposeB ? br : bc
        precondition(k == kb, "batchedMatmul inner dimensions differ: \(a.shape) and \(b.shape)")
        let batch = a.shape.dims.dropLast(2).reduce(1, *)
        var dims = Array(a.shape.dims.dropLast(2))
        dims += [m, n]
        let out = Tensor(uninitializedShape: Shape(dims))
        for i in 0..<batch {
            BLAS.sgemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                       a: a.basePointer + i * ar * ac, lda: ac, b: b.basePointer + i * br * bc, ldb: bc,
                       c: out.storage.pointer + i * m * n, ldc: n)
        }
        return out
    }
}
