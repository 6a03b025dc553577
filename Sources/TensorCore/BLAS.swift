import CKernels
import COpenBLAS

/// The one place AEFlow calls CBLAS (OpenBLAS). Row-major throughout. On AVX-512 machines, products
/// whose op(B) stays in the core's cache run CKernels' register-blocked kernel instead: the thin products
/// of recurrent steps and per-layer gradients, where OpenBLAS's per-call overhead and (on this project's
/// AMD machines) its AVX2 kernels left half the speed unused (bench/EngineBench, BENCHMARKS.md).
public enum BLAS {
    /// Sets OpenBLAS's worker threads. Call once at start-up, before any concurrent use.
    public static func setThreads(_ n: Int) {
        precondition(n >= 1, "BLAS threads must be at least 1, got \(n)")
        openblas_set_num_threads(Int32(n))
    }

    public static var threads: Int { Int(openblas_get_num_threads()) }

    /// The largest op(B), in floats padded to whole 16-float rows, the AVX-512 kernel takes (1 MiB: a
    /// core's L2), and the most multiply-adds it takes when OpenBLAS runs more than one thread.
    public static let kernelPanelLimit = Int(AEF_SGEMM_SMALL_PANEL)
    public static let kernelWorkLimitThreaded = 1 << 20

    /// `C = alpha · op(A) · op(B) + beta · C` with op(X) = Xᵀ when the flag is set; op(A) is m×k, op(B) k×n.
    /// `isa` below `.avx512` always uses OpenBLAS (tests compare the two).
    @inlinable
    public static func sgemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int,
        isa: KernelISA = .active
    ) {
        if m == 0 || n == 0 { return }
        if k == 0 {
            // BLAS leaves C scaled by beta when the inner dimension is empty; make that explicit.
            for i in 0..<m { for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] } }
            return
        }
        if isa == .avx512 && k * n <= kernelPanelLimit && (m * n * k <= kernelWorkLimitThreaded || threads == 1)
            && aef_sgemm_small(Int32(isa.rawValue), transposeA ? 1 : 0, transposeB ? 1 : 0, m, n, k, alpha,
                               a, lda, b, ldb, beta, c, ldc) == 1 {
            return
        }
        cblas_sgemm(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}
