// Kernels written once against the generic vectors of Vectors.h and instantiated per instruction-set level
// by inlining the bodies into functions that carry a target attribute. Tails shorter than a vector go through the same code with partial loads and stores.
#include "CKernels.h"
#include "Vectors.h"

#include <stdatomic.h>

// tanh as the [13/6] rational approximation TensorCore's ScalarMath.fastTanh uses (Eigen's constants):
// clamped to ±7.9053, exact for |x| < 4e-4.
AEF_INLINE vf vtanh(vf x) {
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

// The logistic function as ½·tanh(x/2) + ½ (absolute error ≤ 2e-7).
AEF_INLINE vf vsigmoid(vf x) { return 0.5f * vtanh(0.5f * x) + 0.5f; }

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

// One function per level and kernel. The AVX bodies exist on x86-64 only.
#define AEF_LEVELS(name, body, arg_t)                                                                          \
    static void name##_baseline(const arg_t *s) { body(s); }                                                  \
    AEF_X86_LEVELS(name, body, arg_t)

#if defined(__x86_64__)
#define AEF_AVX2 __attribute__((target("avx2,fma")))
#define AEF_AVX512 __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")))
#define AEF_X86_LEVELS(name, body, arg_t)                                                                      \
    AEF_AVX2 static void name##_avx2(const arg_t *s) { body(s); }                                             \
    AEF_AVX512 static void name##_avx512(const arg_t *s) { body(s); }
#define AEF_DISPATCH(name, isa, s)                                                                             \
    do {                                                                                                       \
        if ((isa) >= AEF_ISA_AVX512) name##_avx512(s);                                                         \
        else if ((isa) == AEF_ISA_AVX2) name##_avx2(s);                                                        \
        else name##_baseline(s);                                                                               \
    } while (0)
#else
#define AEF_X86_LEVELS(name, body, arg_t)
#define AEF_DISPATCH(name, isa, s) name##_baseline(s)
#endif

AEF_LEVELS(lstm_forward, lstm_forward_body, aef_lstm_forward_step)
AEF_LEVELS(lstm_backward, lstm_backward_body, aef_lstm_backward_step)

// A level above what the machine supports is lowered to the supported one, so no caller can run an
// instruction the CPU lacks.
static int clamp_isa(int isa) {
    int supported = aef_isa_supported();
    return isa > supported ? supported : (isa < 0 ? AEF_ISA_BASELINE : isa);
}

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
