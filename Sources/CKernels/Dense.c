// A fully connected layer on a few rows, the activation fused: the inference of small models (a key's
// VanillaAE scores its window as 3 rows of 12 values through layers of 8–16 units), where a BLAS call costs
// more than the arithmetic and the Swift loops compile only for baseline x86-64. Each block of up to four
// rows keeps its outputs in registers over the whole input loop: per input value one vector of weights is
// read and multiplied into every row of the block.
#include "CKernels.h"
#include "Vectors.h"

AEF_INLINE vf dense_activate(vf v, int activation) {
    switch (activation) {
    case AEF_DENSE_RELU: return __builtin_elementwise_max(v, (vf)0);
    case AEF_DENSE_TANH: return vtanh(v);
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

AEF_LEVELS(dense, dense_body, aef_dense_step)

void aef_dense(int isa, const aef_dense_step *s) { AEF_DISPATCH(dense, clamp_isa(isa), s); }
