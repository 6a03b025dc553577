// A fully connected layer on a few rows, the activation fused: the inference of small models (a key's
// VanillaAE scores its window as 3 rows of 12 values through layers of 8–16 units), where a BLAS call costs
// more than the arithmetic and the Swift loops compile only for baseline x86-64. Each block of up to four
// rows keeps its outputs in registers over the whole input loop: per input value one vector of weights is
// read and multiplied into every row of the block.
#include "CKernels.h"
#include "Vectors.h"

// The vector tanh of Kernels.c (same constants as TensorCore's ScalarMath.fastTanh).
AEF_INLINE vf dense_tanh(vf x) {
    vf xc = __builtin_elementwise_min(__builtin_elementwise_max(x, (vf)-7.90531110763549805f), (vf)7.90531110763549805f);
    vf x2 = xc * xc;
    vf p = -2.76076847742355e-16f;
    p = p * x2 + 2.00018790482477e-13f;
    p = p * x2 + -8.60467152213735e-11f;
    p = p * x2 + 5.12229709037114e-08f;
    p = p * x2 + 1.48572235717979e-05f;
    p = p * x2 + 6.37261928875436e-04f;
    p = p * x2 + 4.89352455891786e-03f;
    p = p * xc;
    vf q = 1.19825839466702e-06f;
    q = q * x2 + 1.18534705686654e-04f;
    q = q * x2 + 2.26843463243900e-03f;
    q = q * x2 + 4.89352518554385e-03f;
    vi small = __builtin_elementwise_abs(x) < 0.0004f;
    return small ? x : p / q;
}

AEF_INLINE vf dense_activate(vf v, int activation) {
    switch (activation) {
    case AEF_DENSE_RELU: return __builtin_elementwise_max(v, (vf)0);
    case AEF_DENSE_TANH: return dense_tanh(v);
    default: return v;
    }
}

// The first n (1…16) lanes of v to p, lane by lane (a store of the whole vector would write into the next
// row; a variable-length copy is a library call).
AEF_INLINE void store_lanes(float *p, vf v, ptrdiff_t n) {
    if (n == W) { __builtin_memcpy(p, &v, sizeof v); return; }
    for (ptrdiff_t i = 0; i < n; i++) p[i] = v[i];
}

// R rows (a constant once inlined) from row r, output columns [j, j + n).
AEF_INLINE void dense_rows(const aef_dense_step *s, const int R, ptrdiff_t r, ptrdiff_t j, ptrdiff_t n) {
    const ptrdiff_t ni = s->inputs, no = s->outputs;
    const float *x = s->x + r * ni;
    vf b;
    __builtin_memcpy(&b, s->bias + j, sizeof b);   // whole vectors: the caller pads (see CKernels.h)
    // With fewer than three rows, even and odd inputs go to two sums per row: one chain of dependent
    // multiply-adds would wait on each other's latency.
    vf acc[4], odd[4];
    for (int q = 0; q < R; q++) { acc[q] = b; odd[q] = 0; }
    ptrdiff_t c = 0;
    if (R < 3) {
        for (; c + 2 <= ni; c += 2) {
            vf w0, w1;
            __builtin_memcpy(&w0, s->weight + c * no + j, sizeof w0);
            __builtin_memcpy(&w1, s->weight + (c + 1) * no + j, sizeof w1);
            for (int q = 0; q < R; q++) { acc[q] += x[q * ni + c] * w0; odd[q] += x[q * ni + c + 1] * w1; }
        }
    }
    for (; c < ni; c++) {
        vf w;
        __builtin_memcpy(&w, s->weight + c * no + j, sizeof w);
        for (int q = 0; q < R; q++) acc[q] += x[q * ni + c] * w;
    }
    for (int q = 0; q < R; q++) store_lanes(s->y + (r + q) * no + j, dense_activate(acc[q] + odd[q], s->activation), n);
}

AEF_INLINE void dense_body(const aef_dense_step *s) {
    const ptrdiff_t no = s->outputs, rows = s->rows;
    ptrdiff_t r = 0;
    for (; r + 4 <= rows; r += 4)
        for (ptrdiff_t j = 0; j < no; j += W) dense_rows(s, 4, r, j, no - j < W ? no - j : W);
    const ptrdiff_t rest = rows - r;
    for (ptrdiff_t j = 0; j < no && rest > 0; j += W) {
        const ptrdiff_t n = no - j < W ? no - j : W;
        switch (rest) {
        case 3: dense_rows(s, 3, r, j, n); break;
        case 2: dense_rows(s, 2, r, j, n); break;
        default: dense_rows(s, 1, r, j, n); break;
        }
    }
}

static void dense_baseline(const aef_dense_step *s) { dense_body(s); }
#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) static void dense_avx2(const aef_dense_step *s) { dense_body(s); }
__attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma"))) static void dense_avx512(const aef_dense_step *s) { dense_body(s); }
#endif

void aef_dense(int isa, const aef_dense_step *s) {
    const int supported = aef_isa_supported();
    const int level = isa > supported ? supported : isa;
#if defined(__x86_64__)
    if (level >= AEF_ISA_AVX512) { dense_avx512(s); return; }
    if (level == AEF_ISA_AVX2) { dense_avx2(s); return; }
#endif
    (void)level;
    dense_baseline(s);
}
