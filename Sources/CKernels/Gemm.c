// A register-blocked single-precision matrix product for the small, thin products of recurrent steps and
// per-layer gradients (m·n·k up to about a million), where OpenBLAS's call, packing and threading overhead
// is most of the cost. AVX-512 only: on other levels the caller keeps using OpenBLAS.
//
// C (m × n) = alpha · op(A) · op(B) + beta · C, row-major. op(B) is used in place when it is k × n rows
// of whole vectors, otherwise packed (zero-padded to whole vectors; on the stack up to 64 KiB, else on the
// heap). Each call to the micro-kernel keeps MR rows × NV vectors of C in registers over the whole k loop.
#include "CKernels.h"
#include "Vectors.h"

#include <stdlib.h>

// MR rows from `a` (element (r, p) at a[r * ars + p * acs]) times NV vectors of the k × (NV·W) panel `b`
// (row p at b + p * ldb) into C at `c`; the last vector has `tail` valid columns.
AEF_INLINE void micro(const int MR, const int NV, ptrdiff_t k, const float *a, ptrdiff_t ars, ptrdiff_t acs,
                      const float *b, ptrdiff_t ldb, float alpha, float beta, float *c, ptrdiff_t ldc, ptrdiff_t tail) {
    vf acc[8][4];
    for (int r = 0; r < MR; r++)
        for (int v = 0; v < NV; v++) acc[r][v] = 0;
    for (ptrdiff_t p = 0; p < k; p++) {
        vf bv[4];
        for (int v = 0; v < NV; v++) bv[v] = load(b + p * ldb + v * W, W);
        for (int r = 0; r < MR; r++) {
            const float s = a[r * ars + p * acs];
            for (int v = 0; v < NV; v++) acc[r][v] += s * bv[v];
        }
    }
    for (int r = 0; r < MR; r++) {
        for (int v = 0; v < NV; v++) {
            const ptrdiff_t n = v == NV - 1 ? tail : W;
            float *cp = c + r * ldc + v * W;
            vf o = alpha == 1.0f ? acc[r][v] : alpha * acc[r][v];
            if (beta != 0.0f) o += beta * load(cp, n);
            store(cp, o, n);
        }
    }
}

// Rows [0, m) of one column block of NV vectors: MR rows at a time, then one at a time.
#define AEF_ROWS(MR, NV)                                                                                       \
    do {                                                                                                       \
        ptrdiff_t i = 0;                                                                                       \
        for (; i + (MR) <= m; i += (MR))                                                                       \
            micro((MR), (NV), k, a + i * ars, ars, acs, b, ldb, alpha, beta, c + i * ldc, ldc, tail);          \
        for (; i < m; i++) micro(1, (NV), k, a + i * ars, ars, acs, b, ldb, alpha, beta, c + i * ldc, ldc, tail); \
    } while (0)

AEF_INLINE void column_block(int nv, ptrdiff_t m, ptrdiff_t k, const float *a, ptrdiff_t ars, ptrdiff_t acs,
                             const float *b, ptrdiff_t ldb, float alpha, float beta, float *c, ptrdiff_t ldc,
                             ptrdiff_t tail) {
    switch (nv) {
    case 4: AEF_ROWS(4, 4); break;
    case 3: AEF_ROWS(4, 3); break;
    case 2: AEF_ROWS(6, 2); break;
    default: AEF_ROWS(8, 1); break;
    }
}

#if defined(__x86_64__)
__attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")))
static void sgemm_avx512(int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha,
                         const float *A, ptrdiff_t lda, const float *B, ptrdiff_t ldb, float beta, float *C,
                         ptrdiff_t ldc, float *packed) {
    const ptrdiff_t np = (n + W - 1) / W * W;
    const float *panel = B;
    ptrdiff_t ldp = ldb;
    if (packed) {
        for (ptrdiff_t p = 0; p < k; p++) {
            float *row = packed + p * np;
            if (trans_b) for (ptrdiff_t j = 0; j < n; j++) row[j] = B[j * ldb + p];
            else __builtin_memcpy(row, B + p * ldb, (size_t)n * sizeof(float));
            for (ptrdiff_t j = n; j < np; j++) row[j] = 0;
        }
        panel = packed;
        ldp = np;
    }
    const ptrdiff_t ars = trans_a ? 1 : lda, acs = trans_a ? lda : 1;
    for (ptrdiff_t j = 0; j < np; j += 4 * W) {
        const int nv = (int)((np - j) / W < 4 ? (np - j) / W : 4);
        const ptrdiff_t last = j + (nv - 1) * W;
        column_block(nv, m, k, A, ars, acs, panel + j, ldp, alpha, beta, C + j, ldc, n - last < W ? n - last : W);
    }
}
#endif

int aef_sgemm_small(int isa, int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha,
                    const float *a, ptrdiff_t lda, const float *b, ptrdiff_t ldb, float beta, float *c, ptrdiff_t ldc) {
#if defined(__x86_64__)
    const ptrdiff_t panel = k * ((n + W - 1) / W * W);
    if (isa < AEF_ISA_AVX512 || aef_isa_supported() < AEF_ISA_AVX512 || m <= 0 || n <= 0 || k <= 0
        || panel > AEF_SGEMM_SMALL_PANEL)
        return 0;
    if (!(trans_b || n % W)) {
        sgemm_avx512(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, NULL);
    } else if (panel > 16384 && m < 32) {
        return 0;   // packing a large op(B) for a few rows of A costs more than OpenBLAS's whole call
    } else if (panel <= 16384) {
        float packed[panel] __attribute__((aligned(64)));
        sgemm_avx512(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, packed);
    } else {
        float *packed = aligned_alloc(64, (size_t)panel * sizeof(float));
        if (!packed) return 0;
        sgemm_avx512(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, packed);
        free(packed);
    }
    return 1;
#else
    (void)isa; (void)trans_a; (void)trans_b; (void)m; (void)n; (void)k; (void)alpha; (void)a; (void)lda;
    (void)b; (void)ldb; (void)beta; (void)c; (void)ldc;
    return 0;
#endif
}
