// AEFlow's vector kernels: the inner loops the Swift optimizer can only compile for baseline x86-64 (SSE2),
// written once with clang's generic vectors and compiled for baseline, AVX2+FMA and AVX-512; TensorCore picks the
// widest level the CPU and OS support (or a lower one named by AEFLOW_KERNELS_ISA). Imported by TensorCore only (Sources/TensorCore/Kernels.swift).
#ifndef AEFLOW_CKERNELS_H
#define AEFLOW_CKERNELS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// A hint that the cache line at `p` will be read soon (no fault, no effect on results).
static inline void aef_prefetch(const void *p) { __builtin_prefetch(p, 0, 3); }
/// The same, into the second-level cache only (x86 `prefetcht1`).
static inline void aef_prefetch_l2(const void *p) { __builtin_prefetch(p, 0, 2); }

/// Instruction-set levels. Every level computes the same formulas; results differ only by rounding
/// (fused multiply-add on the AVX levels).
enum {
    AEF_ISA_BASELINE = 0,
    AEF_ISA_AVX2 = 1,
    AEF_ISA_AVX512 = 2,
};

/// The widest level this CPU and OS support (AEF_ISA_BASELINE on non-x86 machines).
int aef_isa_supported(void);

/// One LSTM time step over a batch, PyTorch's gate order [i, f, g, o]. Row b of each operand starts at
/// base + b * stride.
typedef struct {
    ptrdiff_t batch, hidden;
    float *gates; ptrdiff_t gates_stride;          // 4H pre-activations in; activated gates out
    const float *c_prev; ptrdiff_t c_prev_stride;  // c_{t-1}; NULL for the zero initial state
    float *out; ptrdiff_t out_stride;              // h_t in [0, H), c_t in [H, 2H)
    float *tanh_c; ptrdiff_t tanh_c_stride;        // tanh(c_t)
} aef_lstm_forward_step;

/// The backward of one step. `d_out` holds the upstream gradients of h_t and c_t ([0, H) and [H, 2H));
/// `dh_carry`/`dc_carry` (B × H, contiguous) the gradients flowing back from step t+1: dh_carry is read,
/// dc_carry is read and replaced by the gradient for c_{t-1}. `d_gates` receives the pre-activation gradients.
/// When h_prev_copy is not NULL, h_{t-1} (zeros for t = 0) is copied there (the weight_hh gradient's input).
/// When d_gates_sum is not NULL, each row of d_gates is also added to its row there (the sum over steps a
/// repeated input's gradient needs); when d_bias is not NULL, the rows' sum is added to it (4H).
typedef struct {
    ptrdiff_t batch, hidden;
    const float *gates; ptrdiff_t gates_stride;    // activated gates of step t
    const float *tanh_c; ptrdiff_t tanh_c_stride;
    const float *d_out; ptrdiff_t d_out_stride;
    const float *prev; ptrdiff_t prev_stride;      // [h_{t-1} | c_{t-1}] rows; NULL for t = 0
    const float *dh_carry;
    float *dc_carry;
    float *d_gates; ptrdiff_t d_gates_stride;
    float *h_prev_copy; ptrdiff_t h_prev_copy_stride;
    float *d_gates_sum; ptrdiff_t d_gates_sum_stride;
    float *d_bias;
} aef_lstm_backward_step;

void aef_lstm_forward(int isa, const aef_lstm_forward_step *step);
void aef_lstm_backward(int isa, const aef_lstm_backward_step *step);

/// The activations ``aef_dense`` fuses.
enum {
    AEF_DENSE_IDENTITY = 0,
    AEF_DENSE_RELU = 1,
    AEF_DENSE_TANH = 2,
};

/// y[r] = activation(x[r] · weight + bias) for `rows` rows: x is rows × inputs, weight inputs × outputs (PyTorch's
/// weight transposed), y rows × outputs, all row-major and contiguous; y does not overlap x. Weight rows and the
/// bias are read in whole 16-float vectors: up to 15 floats past the end of each (the caller pads the array
/// they are in) must be readable; what is read there does not reach y.
typedef struct {
    ptrdiff_t rows, inputs, outputs;
    const float *x;
    const float *weight;
    const float *bias;
    float *y;
    int activation;   // AEF_DENSE_*
} aef_dense_step;

void aef_dense(int isa, const aef_dense_step *step);

/// The most floats op(B) may take once padded to whole 16-float rows (1 MiB: a core's L2 cache).
#define AEF_SGEMM_SMALL_PANEL 262144

/// C = alpha · op(A) · op(B) + beta · C (row-major; op(X) = Xᵀ when trans_x is non-zero; op(A) m × k,
/// op(B) k × n) with register-blocked AVX-512 code, when isa is AEF_ISA_AVX512, the machine has it and
/// op(B) fits AEF_SGEMM_SMALL_PANEL: returns 1. Otherwise (also when op(B) needs packing, is over 64 KiB and
/// A has fewer than 32 rows, or when a panel to pack cannot be allocated)
/// returns 0 and touches nothing (the caller uses BLAS). C is not read when beta is 0.
int aef_sgemm_small(int isa, int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha,
                    const float *a, ptrdiff_t lda, const float *b, ptrdiff_t ldb, float beta, float *c, ptrdiff_t ldc);

#ifdef __cplusplus
}
#endif

#endif
