/* CPU kernels of the random family. Work is split over Philox blocks (4 elements each); a block's words depend
 * only on (seed, block number), so any split gives the same output. dropout and uniform generate GROUP blocks
 * at a time with Philox running across SIMD lanes (it is 32-bit multiplies and xors), about 8x faster than
 * one block at a time; the elements after the last full group are done one by one. */
#include <math.h>

#include "ops/random_kernels.h"
#include "visft/rng.h"

#define PAR_BLOCKS 4096 /* blocks below which threading costs more than it saves */

static inline void block_words(uint64_t seed, uint64_t b, uint32_t w[4]) {
    vt_philox4x32_10_inline((uint32_t)b, (uint32_t)(b >> 32), 0, 0, (uint32_t)seed, (uint32_t)(seed >> 32), w);
}

/* The words of GROUP consecutive blocks from b, in stream order: Philox runs across blocks in SIMD lanes. */
#define GROUP 16
static inline void group_words(uint64_t seed, uint64_t b, uint32_t u[4 * GROUP]) {
    uint32_t w0[GROUP], w1[GROUP], w2[GROUP], w3[GROUP];
    const uint32_t key0 = (uint32_t)seed, key1 = (uint32_t)(seed >> 32);
#pragma omp simd
    for (int l = 0; l < GROUP; l++) { /* vt_philox4x32_10_inline, one lane per block, rounds in registers */
        uint32_t c0 = (uint32_t)(b + (uint64_t)l), c1 = (uint32_t)((b + (uint64_t)l) >> 32), c2 = 0, c3 = 0;
        uint32_t k0 = key0, k1 = key1;
        for (int r = 0; r < 10; r++) {
            uint64_t p0 = (uint64_t)VT_PHILOX_M0 * c0, p1 = (uint64_t)VT_PHILOX_M1 * c2;
            uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0, n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
            c0 = n0;
            c1 = (uint32_t)p1;
            c2 = n2;
            c3 = (uint32_t)p0;
            k0 += VT_PHILOX_W0;
            k1 += VT_PHILOX_W1;
        }
        w0[l] = c0;
        w1[l] = c1;
        w2[l] = c2;
        w3[l] = c3;
    }
    for (int l = 0; l < GROUP; l++) {
        u[4 * l] = w0[l];
        u[4 * l + 1] = w1[l];
        u[4 * l + 2] = w2[l];
        u[4 * l + 3] = w3[l];
    }
}

static void cpu_dropout(vt_ctx *c, uint64_t seed, uint64_t block0, const float *x, float *y, int64_t n,
                        uint32_t threshold, float scale) {
    const int64_t groups = n / (4 * GROUP);
#pragma omp parallel for num_threads(vt_ctx_threads(c)) if (groups > PAR_BLOCKS / GROUP)
    for (int64_t g = 0; g < groups; g++) {
        uint32_t u[4 * GROUP];
        group_words(seed, block0 + (uint64_t)(g * GROUP), u);
        const float *px = x + g * 4 * GROUP;
        float *py = y + g * 4 * GROUP;
#pragma omp simd
        for (int e = 0; e < 4 * GROUP; e++) py[e] = u[e] < threshold ? 0.0f : px[e] * scale;
    }
    for (int64_t i = groups * 4 * GROUP; i < n; i++) /* the last partial group */
        y[i] = vt_rng_u32(seed, block0, (uint64_t)i) < threshold ? 0.0f : x[i] * scale;
}

static inline float uniform_at(uint32_t u, double lo, double span, float hi) {
    float v = (float)(lo + span * (double)vt_rng_unit(u));
    return v < hi ? v : nextafterf(hi, (float)lo); /* rounding must not reach hi */
}

static void cpu_uniform(vt_ctx *c, uint64_t seed, uint64_t block0, float *out, int64_t n, double lo, double hi) {
    const int64_t groups = n / (4 * GROUP);
    const double span = hi - lo;
#pragma omp parallel for num_threads(vt_ctx_threads(c)) if (groups > PAR_BLOCKS / GROUP)
    for (int64_t g = 0; g < groups; g++) {
        uint32_t u[4 * GROUP];
        group_words(seed, block0 + (uint64_t)(g * GROUP), u);
        for (int e = 0; e < 4 * GROUP; e++) out[g * 4 * GROUP + e] = uniform_at(u[e], lo, span, (float)hi);
    }
    for (int64_t i = groups * 4 * GROUP; i < n; i++)
        out[i] = uniform_at(vt_rng_u32(seed, block0, (uint64_t)i), lo, span, (float)hi);
}

static void cpu_normal(vt_ctx *c, uint64_t seed, uint64_t block0, float *out, int64_t n, double mean, double std) {
    const int64_t nb = (n + 3) / 4;
#pragma omp parallel for num_threads(vt_ctx_threads(c)) if (nb > PAR_BLOCKS / 8)
    for (int64_t b = 0; b < nb; b++) {
        uint32_t w[4];
        float z[4];
        block_words(seed, block0 + (uint64_t)b, w);
        vt_rng_normal4(w, z);
        for (int64_t i = 4 * b; i < 4 * b + 4 && i < n; i++) out[i] = (float)(mean + std * (double)z[i - 4 * b]);
    }
}

/* Inverse error function: Giles' approximation ("Approximating the erfinv function", GPU Gems, 2010), then
 * two Newton steps on erf(x) = y to reach double accuracy. */
static double erfinv(double y) {
    if (y <= -1.0) return -INFINITY;
    if (y >= 1.0) return INFINITY;
    double w = -log((1.0 - y) * (1.0 + y)), x;
    if (w < 5.0) {
        w -= 2.5;
        x = 2.81022636e-08;
        x = 3.43273939e-07 + x * w;
        x = -3.5233877e-06 + x * w;
        x = -4.39150654e-06 + x * w;
        x = 0.00021858087 + x * w;
        x = -0.00125372503 + x * w;
        x = -0.00417768164 + x * w;
        x = 0.246640727 + x * w;
        x = 1.50140941 + x * w;
    } else {
        w = sqrt(w) - 3.0;
        x = -0.000200214257;
        x = 0.000100950558 + x * w;
        x = 0.00134934322 + x * w;
        x = -0.00367342844 + x * w;
        x = 0.00573950773 + x * w;
        x = -0.0076224613 + x * w;
        x = 0.00943887047 + x * w;
        x = 1.00167406 + x * w;
        x = 2.83297682 + x * w;
    }
    x *= y;
    for (int it = 0; it < 2; it++) x -= (erf(x) - y) / (1.1283791670955126 * exp(-x * x));
    return x;
}

static double norm_cdf(double x) { return 0.5 * (1.0 + erf(x / 1.4142135623730951)); }

static void cpu_trunc_normal(vt_ctx *c, uint64_t seed, uint64_t block0, float *out, int64_t n, double mean,
                             double std, double a, double b) {
    const double lo = 2.0 * norm_cdf((a - mean) / std) - 1.0, hi = 2.0 * norm_cdf((b - mean) / std) - 1.0;
    const int64_t nb = (n + 3) / 4;
#pragma omp parallel for num_threads(vt_ctx_threads(c)) if (nb > PAR_BLOCKS / 8)
    for (int64_t blk = 0; blk < nb; blk++) {
        uint32_t w[4];
        block_words(seed, block0 + (uint64_t)blk, w);
        for (int64_t i = 4 * blk; i < 4 * blk + 4 && i < n; i++) {
            double v = mean + std * 1.4142135623730951 * erfinv(lo + (hi - lo) * (double)vt_rng_unit(w[i - 4 * blk]));
            out[i] = (float)(v < a ? a : (v > b ? b : v));
        }
    }
}

const vt_random_kernels vt_cpu_random_kernels = {
    .size = sizeof(vt_random_kernels),
    .uniform = cpu_uniform,
    .normal = cpu_normal,
    .trunc_normal = cpu_trunc_normal,
    .dropout = cpu_dropout,
};
