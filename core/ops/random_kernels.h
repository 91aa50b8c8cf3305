/* Kernel table of the random family. Every kernel draws element i from word i%4 of block block0 + i/4 of the
 * Philox stream `seed` (see visft/rng.h), so its output depends on (seed, block0, i) only. */
#ifndef VISFT_CORE_RANDOM_KERNELS_H
#define VISFT_CORE_RANDOM_KERNELS_H

#include "backend/backend.h"

typedef struct vt_random_kernels {
    size_t size;
    /* out[i] = lo + (hi - lo)·U, U uniform in [0, 1) (24 bits). */
    void (*uniform)(vt_ctx *c, uint64_t seed, uint64_t block0, float *out, int64_t n, double lo, double hi);
    /* out[i] = mean + std·Z, Z standard normal (Box–Muller, vt_rng_normal4). */
    void (*normal)(vt_ctx *c, uint64_t seed, uint64_t block0, float *out, int64_t n, double mean, double std);
    /* timm's trunc_normal_: V uniform in [2Φ(a')−1, 2Φ(b')−1] (a' = (a−mean)/std, b' likewise),
     * out[i] = clamp(mean + std·√2·erfinv(V), a, b). */
    void (*trunc_normal)(vt_ctx *c, uint64_t seed, uint64_t block0, float *out, int64_t n, double mean, double std,
                         double a, double b);
    /* y[i] = word i < threshold ? 0 : x[i]·scale. Applied to the upstream gradient with the same stream it is
     * dropout's backward. */
    void (*dropout)(vt_ctx *c, uint64_t seed, uint64_t block0, const float *x, float *y, int64_t n,
                    uint32_t threshold, float scale);
} vt_random_kernels;

#endif
