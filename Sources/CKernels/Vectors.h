// The 16-lane generic vector both kernel files are written against (lowered to 4 SSE, 2 AVX or 1 AVX-512
// register per operation, by the target of the function it is inlined into), with loads and stores that
// take a partial tail of n < 16 floats. Private to CKernels.
#ifndef AEFLOW_CKERNELS_VECTORS_H
#define AEFLOW_CKERNELS_VECTORS_H

#include <stddef.h>

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

#endif
