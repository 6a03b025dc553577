import COpenBLAS

/// The one place AEFlow calls CBLAS (OpenBLAS). Row-major throughout.
public enum BLAS {
    /// Sets OpenBLAS's worker threads. Call once at start-up, before any concurrent use.
    public static func setThreads(_ n: Int) {
        precondition(n >= 1, "BLAS threads must be at least 1, got \(n)")
        openblas_set_num_threads(Int32(n))
    }

    public static var threads: Int { Int(openblas_get_num_threads()) }

    /// `C = alpha · op(A) · op(B) + beta · C` with op(X) = Xᵀ when the flag is set; op(A) is m×k, op(B) k×n.
    @inlinable
    public static func sgemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        if m == 0 || n == 0 { return }
        if k == 0 {
            // BLAS leaves C scaled by beta when the inner dimension is empty; make that explicit.
            for i in 0..<m { for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] } }
            return
        }
        cblas_sgemm(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}
