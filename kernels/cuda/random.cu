/* CUDA kernels of the random family (ops/random_kernels.h), reproducing core/ops/random_cpu.c.
 *
 * One thread per Philox block (4 elements), grid-stride. Every value depends only on (seed, block0, i), as on
 * the CPU. The CPU is built as ISO C11 (GCC's -ffp-contract=off), so its products and sums round separately;
 * here every product that feeds a sum uses __dmul_rn/__dadd_rn so nvcc cannot fuse them into an FMA.
 *
 * Exactness against the CPU:
 *   dropout, uniform: bit-identical (integer Philox, exactly rounded IEEE arithmetic, host-computed bounds).
 *   normal, trunc_normal: the arithmetic is the same, in double, but log/sin/cos (normal) and log/exp/erf
 *   (erfinv's Newton steps) come from CUDA's libdevice (1-2 ulp in double) instead of glibc. A double that
 *   differs in its last bits changes the final float only when it lies within ~2^-52 of a float rounding
 *   boundary: about one element in 10^8 may differ by one float ulp. Exact equality would need glibc's
 *   correctly rounded algorithms ported to the device. trunc_normal's bounds (through erf) are computed on
 *   the host with the same libm as the CPU, so they are identical. */
#include <math.h>
#include <stdint.h>

#include "cuda_state.h"
#include "ops/random_kernels.h"
#include "visft/rng.h"

#define THREADS 256

/* vt_philox4x32_10_inline of rng.h on the device: the 32x32 -> 64-bit products as __umulhi + low word. */
static __device__ __forceinline__ void philox_block(uint64_t seed, uint64_t b, uint32_t w[4]) {
    uint32_t c0 = (uint32_t)b, c1 = (uint32_t)(b >> 32), c2 = 0, c3 = 0;
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
#pragma unroll
    for (int r = 0; r < 10; r++) {
        if (r) {
            k0 += VT_PHILOX_W0;
            k1 += VT_PHILOX_W1;
        }
        const uint32_t hi0 = __umulhi(VT_PHILOX_M0, c0), lo0 = VT_PHILOX_M0 * c0;
        const uint32_t hi1 = __umulhi(VT_PHILOX_M1, c2), lo1 = VT_PHILOX_M1 * c2;
        const uint32_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
        c0 = n0;
        c1 = lo1;
        c2 = n2;
        c3 = lo0;
    }
    w[0] = c0;
    w[1] = c1;
    w[2] = c2;
    w[3] = c3;
}

/* vt_rng_unit: top 24 bits, exact in float. */
static __device__ __forceinline__ float unit24(uint32_t u) { return (float)(u >> 8) * (1.0f / 16777216.0f); }
/* vt_rng_unit_open: (0, 1], exact in double. */
static __device__ __forceinline__ double unit_open(uint32_t u) { return ((double)u + 1.0) * (1.0 / 4294967296.0); }

static __device__ __forceinline__ int64_t first_item() { return (int64_t)blockIdx.x * blockDim.x + threadIdx.x; }
static __device__ __forceinline__ int64_t item_step() { return (int64_t)gridDim.x * blockDim.x; }

static __global__ void dropout_kernel(uint64_t seed, uint64_t block0, const float *x, float *y, int64_t n,
                                      uint32_t threshold, float scale) {
    const int64_t nb = (n + 3) / 4;
    for (int64_t b = first_item(); b < nb; b += item_step()) {
        uint32_t w[4];
        philox_block(seed, block0 + (uint64_t)b, w);
#pragma unroll
        for (int e = 0; e < 4; e++) {
            const int64_t i = 4 * b + e;
            if (i < n) y[i] = w[e] < threshold ? 0.0f : __fmul_rn(x[i], scale);
        }
    }
}

/* below = nextafterf(hi, lo), from the host's libm: rounding must not reach hi (random_cpu.c's uniform_at). */
static __global__ void uniform_kernel(uint64_t seed, uint64_t block0, float *out, int64_t n, double lo, double span,
                                      float hi, float below) {
    const int64_t nb = (n + 3) / 4;
    for (int64_t b = first_item(); b < nb; b += item_step()) {
        uint32_t w[4];
        philox_block(seed, block0 + (uint64_t)b, w);
#pragma unroll
        for (int e = 0; e < 4; e++) {
            const int64_t i = 4 * b + e;
            if (i < n) {
                const float v = __double2float_rn(__dadd_rn(lo, __dmul_rn(span, (double)unit24(w[e]))));
                out[i] = v < hi ? v : below;
            }
        }
    }
}

/* vt_rng_normal4 (core/base/rng.c) and out = (float)(mean + std·z). */
static __global__ void normal_kernel(uint64_t seed, uint64_t block0, float *out, int64_t n, double mean, double std) {
    const int64_t nb = (n + 3) / 4;
    for (int64_t b = first_item(); b < nb; b += item_step()) {
        uint32_t w[4];
        float z[4];
        philox_block(seed, block0 + (uint64_t)b, w);
#pragma unroll
        for (int j = 0; j < 4; j += 2) {
            const double r = sqrt(__dmul_rn(-2.0, log(unit_open(w[j]))));
            const double t = __dmul_rn(6.283185307179586, unit_open(w[j + 1]));
            z[j] = __double2float_rn(__dmul_rn(r, cos(t)));
            z[j + 1] = __double2float_rn(__dmul_rn(r, sin(t)));
        }
#pragma unroll
        for (int e = 0; e < 4; e++) {
            const int64_t i = 4 * b + e;
            if (i < n) out[i] = __double2float_rn(__dadd_rn(mean, __dmul_rn(std, (double)z[e])));
        }
    }
}

/* x = c + x·w without contraction (Horner step of random_cpu.c's erfinv). */
static __device__ __forceinline__ double horner(double c, double x, double w) { return __dadd_rn(c, __dmul_rn(x, w)); }

/* random_cpu.c's erfinv, operation for operation: Giles' approximation, then two Newton steps on erf. */
static __device__ double erfinv_d(double y) {
    if (y <= -1.0) return -INFINITY;
    if (y >= 1.0) return INFINITY;
    double w = -log(__dmul_rn(__dsub_rn(1.0, y), __dadd_rn(1.0, y))), x;
    if (w < 5.0) {
        w = __dsub_rn(w, 2.5);
        x = 2.81022636e-08;
        x = horner(3.43273939e-07, x, w);
        x = horner(-3.5233877e-06, x, w);
        x = horner(-4.39150654e-06, x, w);
        x = horner(0.00021858087, x, w);
        x = horner(-0.00125372503, x, w);
        x = horner(-0.00417768164, x, w);
        x = horner(0.246640727, x, w);
        x = horner(1.50140941, x, w);
    } else {
        w = __dsub_rn(sqrt(w), 3.0);
        x = -0.000200214257;
        x = horner(0.000100950558, x, w);
        x = horner(0.00134934322, x, w);
        x = horner(-0.00367342844, x, w);
        x = horner(0.00573950773, x, w);
        x = horner(-0.0076224613, x, w);
        x = horner(0.00943887047, x, w);
        x = horner(1.00167406, x, w);
        x = horner(2.83297682, x, w);
    }
    x = __dmul_rn(x, y);
    for (int it = 0; it < 2; it++)
        x = __dsub_rn(x, __ddiv_rn(__dsub_rn(erf(x), y), __dmul_rn(1.1283791670955126, exp(__dmul_rn(-x, x)))));
    return x;
}

/* lo, hi: 2Φ(a')−1 and 2Φ(b')−1 from the host. */
static __global__ void trunc_normal_kernel(uint64_t seed, uint64_t block0, float *out, int64_t n, double mean,
                                           double std, double a, double b, double lo, double hi) {
    const int64_t nb = (n + 3) / 4;
    const double span = __dsub_rn(hi, lo), k = __dmul_rn(std, 1.4142135623730951);
    for (int64_t blk = first_item(); blk < nb; blk += item_step()) {
        uint32_t w[4];
        philox_block(seed, block0 + (uint64_t)blk, w);
#pragma unroll
        for (int e = 0; e < 4; e++) {
            const int64_t i = 4 * blk + e;
            if (i < n) {
                /* CPU: mean + std * 1.4142135623730951 * erfinv(lo + (hi - lo) * U), left to right */
                const double v = __dadd_rn(mean, __dmul_rn(k, erfinv_d(horner(lo, span, (double)unit24(w[e])))));
                out[i] = __double2float_rn(v < a ? a : (v > b ? b : v));
            }
        }
    }
}

static void cuda_dropout(vt_ctx *c, uint64_t seed, uint64_t block0, const float *x, float *y, int64_t n,
                         uint32_t threshold, float scale) {
    vt_cuda_state *s = vt_cuda_current(c);
    if (!s || n <= 0) return;
    dropout_kernel<<<vt_cuda_blocks((n + 3) / 4, THREADS), THREADS, 0, s->stream>>>(seed, block0, x, y, n, threshold,
                                                                                   scale);
    vt_cuda_launched(c, "dropout");
}

static void cuda_uniform(vt_ctx *c, uint64_t seed, uint64_t block0, float *out, int64_t n, double lo, double hi) {
    vt_cuda_state *s = vt_cuda_current(c);
    if (!s || n <= 0) return;
    const float hif = (float)hi, below = nextafterf(hif, (float)lo);
    uniform_kernel<<<vt_cuda_blocks((n + 3) / 4, THREADS), THREADS, 0, s->stream>>>(seed, block0, out, n, lo, hi - lo,
                                                                                   hif, below);
    vt_cuda_launched(c, "rand_uniform");
}

static void cuda_normal(vt_ctx *c, uint64_t seed, uint64_t block0, float *out, int64_t n, double mean, double std) {
    vt_cuda_state *s = vt_cuda_current(c);
    if (!s || n <= 0) return;
    normal_kernel<<<vt_cuda_blocks((n + 3) / 4, THREADS), THREADS, 0, s->stream>>>(seed, block0, out, n, mean, std);
    vt_cuda_launched(c, "randn");
}

/* Host copy of random_cpu.c's norm_cdf: same libm erf, so the same bounds. */
static double norm_cdf(double x) { return 0.5 * (1.0 + erf(x / 1.4142135623730951)); }

static void cuda_trunc_normal(vt_ctx *c, uint64_t seed, uint64_t block0, float *out, int64_t n, double mean,
                              double std, double a, double b) {
    vt_cuda_state *s = vt_cuda_current(c);
    if (!s || n <= 0) return;
    const double lo = 2.0 * norm_cdf((a - mean) / std) - 1.0, hi = 2.0 * norm_cdf((b - mean) / std) - 1.0;
    trunc_normal_kernel<<<vt_cuda_blocks((n + 3) / 4, THREADS), THREADS, 0, s->stream>>>(seed, block0, out, n, mean,
                                                                                        std, a, b, lo, hi);
    vt_cuda_launched(c, "trunc_normal");
}

extern "C" const vt_random_kernels vt_cuda_random_kernels = {
    sizeof(vt_random_kernels), cuda_uniform, cuda_normal, cuda_trunc_normal, cuda_dropout,
};
