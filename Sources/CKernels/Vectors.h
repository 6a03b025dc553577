// The 16-lane generic vector the kernel files are written against (lowered to 4 SSE, 2 AVX or 1 AVX-512
// register per operation, by the target of the function it is inlined into), with loads and stores that
// take a partial tail of n < 16 floats; the vector activations; and the macros that instantiate a kernel body
// per instruction-set level and pick one at run time. Private to CKernels.
#ifndef AEFLOW_CKERNELS_VECTORS_H
#define AEFLOW_CKERNELS_VECTORS_H

#include <stddef.h>

#include "CKernels.h"

// Every vector helper is always_inline and a vector never crosses a call boundary between levels, so the
// warning about the vector ABI of functions compiled without AVX-512 does not apply.
#pragma clang diagnostic ignored "-Wpsabi"

#define AEF_INLINE static inline __attribute__((always_inline))
#define W 16

typedef float vf __attribute__((ext_vector_type(W)));
typedef int vi __attribute__((ext_vector_type(W)));

// The first n (1…16) floats at p; lanes past n are zero.
AEF_INLINE vf load(const float *p, ptrdiff_t n) {
    vf v = 0;
    if (n == W) __builtin_memcpy(&v, p, sizeof v);
    else __builtin_memcpy(&v, p, (size_t)n * sizeof(float));
    return v;
}

// Writes the first n (1…16) lanes of v to p.
AEF_INLINE void store(float *p, vf v, ptrdiff_t n) {
    if (n == W) __builtin_memcpy(p, &v, sizeof v);
    else __builtin_memcpy(p, &v, (size_t)n * sizeof(float));
}


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

// A level above what the machine supports is lowered to the supported one, so no caller can run an
// instruction the CPU lacks.
AEF_INLINE int clamp_isa(int isa) {
    int supported = aef_isa_supported();
    return isa > supported ? supported : (isa < 0 ? AEF_ISA_BASELINE : isa);
}

#endif
