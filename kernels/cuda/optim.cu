/* CUDA kernels of the optimizer family (the CPU twin is core/optim/optim_cpu.c, the specification).
 *
 * adamw / sgd: one grid-stride pass, each element's arithmetic in the CPU's order. The CPU is built as ISO C
 * (no FMA contraction), so the products and sums are spelled with the round-to-nearest intrinsics, which
 * nvcc never fuses into an FMA: with IEEE sqrt and division (nvcc's defaults) the update matches the CPU
 * bit for bit.
 * norm_pow: fixed-size chunks (the CPU's sizes, a function of n only), one block per chunk reducing in
 * double by a fixed shuffle tree, then the chunk results combined on the host in chunk order, exactly as
 * the CPU combines its chunks. */
#include <math.h>
#include <stdint.h>

#include "cuda_state.h"
#include "ops/optim_kernels.h"

#define EW_THREADS 256
#define NORM_THREADS 256
#define NORM_MIN_CHUNK 8192 /* elements per partial, at least (as the CPU) */
#define NORM_MAX_CHUNKS 512 /* partials per tensor, at most (as the CPU) */

/* ---- AdamW ---- */

static __global__ void adamw_kernel(float *p, const float *g, float *m, float *v, int64_t n, vt_adamw_hparams h) {
    const int64_t step = (int64_t)gridDim.x * blockDim.x;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step) {
        const float gi = g[i];
        /* exp_avg.mul_(β1).add_(g, alpha=1−β1) */
        const float mi = __fadd_rn(__fmul_rn(m[i], h.beta1), __fmul_rn(h.one_m_beta1, gi));
        /* exp_avg_sq.mul_(β2).addcmul_(g, g, value=1−β2): (1−β2)·g·g left to right */
        const float vi = __fadd_rn(__fmul_rn(v[i], h.beta2), __fmul_rn(__fmul_rn(h.one_m_beta2, gi), gi));
        const float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(vi), h.bc2_sqrt), h.eps);
        m[i] = mi;
        v[i] = vi;
        /* mul_(1−lr·wd), then addcdiv_(m, denom, value=−step): (−step·m) / denom */
        p[i] = __fadd_rn(__fmul_rn(p[i], h.decay), __fdiv_rn(__fmul_rn(h.neg_step_size, mi), denom));
    }
}

static void cuda_adamw(vt_ctx *c, float *p, const float *g, float *m, float *v, int64_t n, const vt_adamw_hparams *h) {
    vt_cuda_state *s = vt_cuda_current(c);
    if (!s || n <= 0) return;
    adamw_kernel<<<vt_cuda_blocks(n, EW_THREADS), EW_THREADS, 0, s->stream>>>(p, g, m, v, n, *h);
    vt_cuda_launched(c, "adamw");
}

/* ---- SGD ---- */

/* decay: weight_decay != 0; mom: a momentum buffer is in use. The flags are uniform across the grid. */
static __global__ void sgd_kernel(float *p, const float *g, float *buf, int64_t n, vt_sgd_hparams h, bool decay,
                                  bool mom) {
    const int64_t step = (int64_t)gridDim.x * blockDim.x;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step) {
        float d = g[i];
        if (decay) d = __fadd_rn(d, __fmul_rn(h.weight_decay, p[i]));
        if (mom) {
            const float b = h.first ? d : __fadd_rn(__fmul_rn(buf[i], h.momentum), __fmul_rn(h.one_m_damp, d));
            buf[i] = b;
            d = h.nesterov ? __fadd_rn(d, __fmul_rn(h.momentum, b)) : b;
        }
        p[i] = __fadd_rn(p[i], __fmul_rn(h.neg_lr, d));
    }
}

static void cuda_sgd(vt_ctx *c, float *p, const float *g, float *buf, int64_t n, const vt_sgd_hparams *h) {
    vt_cuda_state *s = vt_cuda_current(c);
    if (!s || n <= 0) return;
    const bool decay = h->weight_decay != 0.0f, mom = buf && h->momentum != 0.0f; /* as the CPU */
    sgd_kernel<<<vt_cuda_blocks(n, EW_THREADS), EW_THREADS, 0, s->stream>>>(p, g, buf, n, *h, decay, mom);
    vt_cuda_launched(c, "sgd");
}

/* ---- norm_pow ---- */

enum { NP_SQUARE, NP_ABS, NP_MAX, NP_POW };

/* max that propagates NaN (either side). */
static __device__ __forceinline__ double nan_max(double a, double b) {
    if (a != a) return a;
    if (b != b) return b;
    return b > a ? b : a;
}

static __device__ __forceinline__ double np_combine(int mode, double a, double b) {
    return mode == NP_MAX ? nan_max(a, b) : a + b;
}

/* Block b: Σ|x|^p (or max |x|) over chunk b, x[b·chunk, min(n, b·chunk + chunk)), into part[b]. Each thread
 * walks its strided elements in order, then a fixed shuffle tree combines the threads. */
static __global__ void __launch_bounds__(NORM_THREADS)
    norm_pow_chunks_kernel(const float *x, int64_t n, int64_t chunk, int mode, double p, double *part) {
    __shared__ double sh[NORM_THREADS / 32];
    const int64_t lo = (int64_t)blockIdx.x * chunk, hi = lo + chunk < n ? lo + chunk : n;
    double s = 0.0;
    for (int64_t i = lo + threadIdx.x; i < hi; i += blockDim.x) {
        const double a = fabs((double)x[i]);
        switch (mode) {
        case NP_SQUARE: s += a * a; break; /* exact: a float squared fits in a double */
        case NP_ABS: s += a; break;
        case NP_MAX: s = nan_max(s, a); break;
        default: s += pow(a, p); break;
        }
    }
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    for (int o = 16; o > 0; o >>= 1) s = np_combine(mode, s, __shfl_down_sync(0xffffffffu, s, o));
    if (lane == 0) sh[warp] = s;
    __syncthreads();
    if (threadIdx.x == 0) {
        double t = sh[0];
        for (int w = 1; w < nw; w++) t = np_combine(mode, t, sh[w]);
        part[blockIdx.x] = t;
    }
}

static double cuda_norm_pow(vt_ctx *c, const float *x, int64_t n, double p) {
    vt_cuda_state *s = vt_cuda_current(c);
    if (!s || n <= 0) return 0.0;
    /* the chunking depends on n only (the CPU's), never on the device */
    int64_t chunk = (n + NORM_MAX_CHUNKS - 1) / NORM_MAX_CHUNKS;
    if (chunk < NORM_MIN_CHUNK) chunk = NORM_MIN_CHUNK;
    const int nchunks = (int)((n + chunk - 1) / chunk);
    const int mode = p == 2.0 ? NP_SQUARE : p == 1.0 ? NP_ABS : isinf(p) ? NP_MAX : NP_POW;
    const size_t bytes = (size_t)nchunks * sizeof(double);
    double *dpart = (double *)vt_cuda_scratch(c, bytes);
    if (!dpart) return 0.0;
    double part[NORM_MAX_CHUNKS];
    bool ok = false;
    norm_pow_chunks_kernel<<<(unsigned)nchunks, NORM_THREADS, 0, s->stream>>>(x, n, chunk, mode, p, dpart);
    if (vt_cuda_launched(c, "norm_pow"))
        ok = vt_cuda_ok(c, cudaMemcpyAsync(part, dpart, bytes, cudaMemcpyDeviceToHost, s->stream),
                        "norm_pow: copy partials") &&
             vt_cuda_sync(c);
    vt_cuda_scratch_free(c, dpart, bytes);
    if (!ok) return 0.0; /* the error is in the context; 0 leaves the gradients untouched */
    const bool is_max = mode == NP_MAX;
    double total = 0.0;
    for (int j = 0; j < nchunks; j++) {
        if (!is_max) total += part[j];
        else if (isnan(part[j]) || part[j] > total) total = part[j]; /* NaN sticks: NaN > x is false */
    }
    return total;
}

extern "C" const vt_optim_kernels vt_cuda_optim_kernels = {
    sizeof(vt_optim_kernels),
    cuda_adamw,
    cuda_sgd,
    cuda_norm_pow,
};
