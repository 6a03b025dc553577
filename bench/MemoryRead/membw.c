/* One core's read speed from memory, for setting a model per key beside it (BENCHMARKS.md P21).
 *
 *   clang -O2 -march=native -o /tmp/membw bench/MemoryRead/membw.c && /tmp/membw   (or bench/run.py memory)
 *
 * Reads a 512 MiB array (far beyond every cache) two ways and prints one JSON line:
 *   sequential — the whole array in order (the hardware prefetchers' best case);
 *   blocks     — 6 KiB blocks in a shuffled order, each read start to end: what a stream of windows over many keys
 *                asks of memory when each window needs its key's own model (a VanillaAE(12, 3)'s packed weights are
 *                about 6 KiB). No software prefetch: the scoring engine's prefetch is what this leaves room for.
 * Best of several passes; the sums are printed so the reads cannot be optimised away.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* Eight independent sums, so that the loop is bound by the loads, not by one chain of additions. */
static float sum_range(const float *p, size_t n) {
    float s[8] = {0};
    for (size_t i = 0; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) s[k] += p[i + k];
    return s[0] + s[1] + s[2] + s[3] + s[4] + s[5] + s[6] + s[7];
}

int main(void) {
    const size_t bytes = (size_t)512 << 20, n = bytes / sizeof(float);
    const size_t block = 6144 / sizeof(float), blocks = n / block;
    float *a = aligned_alloc(64, bytes);
    uint32_t *order = malloc(blocks * sizeof *order);
    if (!a || !order) { fprintf(stderr, "out of memory\n"); return 1; }
    for (size_t i = 0; i < n; i++) a[i] = (float)(i & 1023);
    for (size_t i = 0; i < blocks; i++) order[i] = (uint32_t)i;
    uint64_t x = 0x9E3779B97F4A7C15ull;   /* a fixed shuffle (xorshift), the same every run */
    for (size_t i = blocks - 1; i > 0; i--) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        size_t j = x % (i + 1);
        uint32_t t = order[i]; order[i] = order[j]; order[j] = t;
    }
    double sequential = 1e9, shuffled = 1e9;
    float check = 0;
    for (int pass = 0; pass < 5; pass++) {
        double t0 = seconds();
        check += sum_range(a, n);
        double t1 = seconds();
        for (size_t b = 0; b < blocks; b++) check += sum_range(a + (size_t)order[b] * block, block);
        double t2 = seconds();
        if (t1 - t0 < sequential) sequential = t1 - t0;
        if (t2 - t1 < shuffled) shuffled = t2 - t1;
    }
    const double blockBytes = (double)block * sizeof(float);
    printf("{\"bench\": \"memory_read\", \"array_mib\": 512, \"sequential_gb_per_s\": %.2f, \"sequential_ns_per_block\": %.0f, "
           "\"block_bytes\": %.0f, \"shuffled_blocks_gb_per_s\": %.2f, \"shuffled_ns_per_block\": %.0f, \"check\": %g}\n",
           bytes / sequential / 1e9, sequential / (bytes / blockBytes) * 1e9, blockBytes,
           blocks * blockBytes / shuffled / 1e9, shuffled / blocks * 1e9, check);
    free(order);
    free(a);
    return 0;
}
