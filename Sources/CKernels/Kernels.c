// Kernels written once against the generic vectors of Vectors.h and instantiated per instruction-set level
// by inlining the bodies into functions that carry a target attribute. Tails shorter than a vector go through the same code with partial loads and stores.
#include "CKernels.h"
#include "Vectors.h"

#include <stdatomic.h>

AEF_INLINE void lstm_forward_body(const aef_lstm_forward_step *s) {
    const ptrdiff_t h = s->hidden;
    for (ptrdiff_t b = 0; b < s->batch; b++) {
        float *g = s->gates + b * s->gates_stride;
        const float *cp = s->c_prev ? s->c_prev + b * s->c_prev_stride : NULL;
        float *o = s->out + b * s->out_stride;
        float *tc = s->tanh_c + b * s->tanh_c_stride;
        for (ptrdiff_t j = 0; j < h; j += W) {
            const ptrdiff_t n = h - j < W ? h - j : W;
            vf ig = vsigmoid(load(g + j, n));
            vf fg = vsigmoid(load(g + h + j, n));
            vf gg = vtanh(load(g + 2 * h + j, n));
            vf og = vsigmoid(load(g + 3 * h + j, n));
            vf c = ig * gg;
            if (cp) c += fg * load(cp + j, n);
            vf t = vtanh(c);
            store(g + j, ig, n);
            store(g + h + j, fg, n);
            store(g + 2 * h + j, gg, n);
            store(g + 3 * h + j, og, n);
            store(o + h + j, c, n);
            store(tc + j, t, n);
            store(o + j, og * t, n);
        }
    }
}

// Adds v to the n floats at p.
AEF_INLINE void accumulate(float *p, vf v, ptrdiff_t n) { store(p, load(p, n) + v, n); }

AEF_INLINE void lstm_backward_body(const aef_lstm_backward_step *s) {
    const ptrdiff_t h = s->hidden;
    // Column blocks outside, rows inside: the bias gradient of a block is summed in registers over the rows.
    for (ptrdiff_t j = 0; j < h; j += W) {
        const ptrdiff_t n = h - j < W ? h - j : W;
        vf bias[4] = {0, 0, 0, 0};
        for (ptrdiff_t b = 0; b < s->batch; b++) {
            const float *g = s->gates + b * s->gates_stride;
            const float *tc = s->tanh_c + b * s->tanh_c_stride;
            const float *d = s->d_out + b * s->d_out_stride;
            const float *prev = s->prev ? s->prev + b * s->prev_stride : NULL;
            float *dcc = s->dc_carry + b * h;
            float *dg = s->d_gates + b * s->d_gates_stride;
            vf ig = load(g + j, n), fg = load(g + h + j, n), gg = load(g + 2 * h + j, n), og = load(g + 3 * h + j, n);
            vf t = load(tc + j, n);
            vf cp = prev ? load(prev + h + j, n) : (vf)0;
            vf dh = load(d + j, n) + load(s->dh_carry + b * h + j, n);
            vf dc = load(d + h + j, n) + load(dcc + j, n) + dh * og * (1.0f - t * t);
            vf gate[4] = {
                dc * gg * ig * (1.0f - ig), dc * cp * fg * (1.0f - fg),
                dc * ig * (1.0f - gg * gg), dh * t * og * (1.0f - og),
            };
            for (int k = 0; k < 4; k++) {
                store(dg + k * h + j, gate[k], n);
                bias[k] += gate[k];
            }
            if (s->d_gates_sum) {
                float *dsum = s->d_gates_sum + b * s->d_gates_sum_stride;
                for (int k = 0; k < 4; k++) accumulate(dsum + k * h + j, gate[k], n);
            }
            store(dcc + j, dc * fg, n);
            if (s->h_prev_copy) store(s->h_prev_copy + b * s->h_prev_copy_stride + j, prev ? load(prev + j, n) : (vf)0, n);
        }
        if (s->d_bias)
            for (int k = 0; k < 4; k++) accumulate(s->d_bias + k * h + j, bias[k], n);
    }
}

AEF_LEVELS(lstm_forward, lstm_forward_body, aef_lstm_forward_step)
AEF_LEVELS(lstm_backward, lstm_backward_body, aef_lstm_backward_step)

void aef_lstm_forward(int isa, const aef_lstm_forward_step *s) { AEF_DISPATCH(lstm_forward, clamp_isa(isa), s); }
void aef_lstm_backward(int isa, const aef_lstm_backward_step *s) { AEF_DISPATCH(lstm_backward, clamp_isa(isa), s); }

int aef_isa_supported(void) {
    static atomic_int cached = -1;
    int level = atomic_load_explicit(&cached, memory_order_relaxed);
    if (level >= 0) return level;
    level = AEF_ISA_BASELINE;
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) level = AEF_ISA_AVX2;
    if (level == AEF_ISA_AVX2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")
        && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw"))
        level = AEF_ISA_AVX512;
#endif
    atomic_store_explicit(&cached, level, memory_order_relaxed);
    return level;
}
