/* CUDA loss kernels (contract: core/ops/loss_kernels.h; reference: core/ops/loss_cpu.c).
 *
 * Cross-entropy runs one block per row (grid-stride over rows): block-wide max, Σexp and the smoothing sums
 * are reduced with a fixed tree (warp shuffles, then the warp totals added in warp order), so results are
 * deterministic for a given C. The binary losses are elementwise. Every kernel runs on the context's stream. */
#include <math.h>
#include <stdint.h>

#include "cuda_state.h"
#include "ops/loss_kernels.h"

#define EW_THREADS 256

/* Block size for a row of C classes: a power of two in [32, 256], so small rows do not idle 256 threads. */
static unsigned row_threads(int64_t C) {
    unsigned t = 32;
    while (t < 256 && (int64_t)t < C) t *= 2;
    return t;
}

/* Sum over the block (blockDim.x a multiple of 32); every thread gets the same total. sh holds 32 floats.
 * The leading barrier keeps a previous call's readers of sh safe from this call's writers. */
static __device__ float block_sum(float v, float *sh) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    const int lane = (int)(threadIdx.x & 31), warp = (int)(threadIdx.x >> 5), nw = (int)(blockDim.x >> 5);
    __syncthreads();
    if (lane == 0) sh[warp] = v;
    __syncthreads();
    float t = 0.0f;
    for (int i = 0; i < nw; i++) t += sh[i];
    return t;
}

/* Max over the block (NaN ignored by fmaxf; a NaN in the row still turns the lse into NaN through exp). */
static __device__ float block_max(float v, float *sh) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    const int lane = (int)(threadIdx.x & 31), warp = (int)(threadIdx.x >> 5), nw = (int)(blockDim.x >> 5);
    __syncthreads();
    if (lane == 0) sh[warp] = v;
    __syncthreads();
    float t = -INFINITY;
    for (int i = 0; i < nw; i++) t = fmaxf(t, sh[i]);
    return t;
}

/* log Σ exp(x) of one row with the max taken out (a row of -inf gives NaN, as on the CPU). */
static __device__ float row_lse(const float *xr, int64_t C, float *sh) {
    float m = -INFINITY;
    for (int64_t k = threadIdx.x; k < C; k += blockDim.x) m = fmaxf(m, xr[k]);
    m = block_max(m, sh);
    float s = 0.0f;
    for (int64_t k = threadIdx.x; k < C; k += blockDim.x) s += expf(xr[k] - m);
    s = block_sum(s, sh);
    return m + logf(s);
}

/* ---- cross-entropy with class-index targets ---- */

/* The lowest sample whose target is neither in [0, C) nor ignore_index (atomicMin: the minimum is
 * order-independent). */
static __global__ void ce_validate(const int64_t *t, int64_t S, int64_t C, int64_t ignore, unsigned long long *bad) {
    for (int64_t s = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; s < S; s += (int64_t)gridDim.x * blockDim.x) {
        const int64_t ts = t[s];
        if (ts != ignore && (ts < 0 || ts >= C)) atomicMin(bad, (unsigned long long)s);
    }
}

static __global__ void ce_forward(const float *x, const int64_t *t, const float *w, int64_t S, int64_t C,
                                  int64_t ignore, float eps, float *lse, float *loss, float *wt) {
    __shared__ float sh[32];
    const float sc = eps / (float)C;
    for (int64_t s = blockIdx.x; s < S; s += gridDim.x) {
        const float *xr = x + s * C;
        const float l = row_lse(xr, C, sh);
        const int64_t ts = t[s]; /* the same for the whole block, so the branches below are uniform */
        if (ts == ignore) {
            if (threadIdx.x == 0) lse[s] = l, loss[s] = 0.0f, wt[s] = 0.0f;
            continue;
        }
        float sm = 0.0f;
        if (eps > 0.0f) { /* Σ w·(lse − x) directly: no cancellation between two large sums */
            for (int64_t k = threadIdx.x; k < C; k += blockDim.x) sm += (w ? w[k] : 1.0f) * (l - xr[k]);
            sm = block_sum(sm, sh);
        }
        if (threadIdx.x == 0) {
            const float wts = w ? w[ts] : 1.0f;
            float v = (1.0f - eps) * wts * (l - xr[ts]);
            if (eps > 0.0f) v += sc * sm;
            lse[s] = l;
            loss[s] = v;
            wt[s] = wts;
        }
    }
}

static int64_t cuda_cross_entropy(vt_ctx *c, const float *x, const int64_t *t, const float *w, int64_t S, int64_t C,
                                  int64_t ignore_index, float eps, float *lse, float *loss, float *wt) {
    vt_cuda_state *st = vt_cuda_current(c);
    if (!st || S <= 0) return -1;
    /* validate first: the CPU writes nothing when a target is bad, and neither do we */
    unsigned long long *bad = (unsigned long long *)vt_cuda_scratch(c, sizeof *bad);
    if (!bad) return -1;
    unsigned long long hbad = ~0ull;
    bool ok = vt_cuda_ok(c, cudaMemsetAsync(bad, 0xff, sizeof *bad, st->stream), "cross_entropy: memset");
    if (ok) {
        ce_validate<<<vt_cuda_blocks(S, EW_THREADS), EW_THREADS, 0, st->stream>>>(t, S, C, ignore_index, bad);
        ok = vt_cuda_launched(c, "cross_entropy_validate") &&
             vt_cuda_ok(c, cudaMemcpyAsync(&hbad, bad, sizeof hbad, cudaMemcpyDeviceToHost, st->stream),
                        "cross_entropy: copy invalid target") &&
             vt_cuda_sync(c);
    }
    vt_cuda_scratch_free(c, bad, sizeof *bad);
    if (!ok) return -1; /* the context holds the error */
    if (hbad != ~0ull) return (int64_t)hbad;
    ce_forward<<<vt_cuda_blocks(S, 1), row_threads(C), 0, st->stream>>>(x, t, w, S, C, ignore_index, eps, lse, loss,
                                                                       wt);
    vt_cuda_launched(c, "cross_entropy");
    return -1;
}

/* loss = Σ_k a_k·(lse − x_k) with a_k = (1−ε)·w_t·[k = t] + ε/C·w_k, so dx_k = g·(p_k·Σa − a_k). */
static __global__ void ce_backward(const float *x, const int64_t *t, const float *w, const float *lse, const float *g,
                                   int64_t gs, int64_t S, int64_t C, int64_t ignore, float eps, float *dx) {
    __shared__ float sh[32];
    const float sc = eps / (float)C;
    float sw = (float)C; /* Σ w, once per block */
    if (w) {
        float p = 0.0f;
        for (int64_t k = threadIdx.x; k < C; k += blockDim.x) p += w[k];
        sw = block_sum(p, sh);
    }
    for (int64_t s = blockIdx.x; s < S; s += gridDim.x) {
        const float *xr = x + s * C;
        float *dr = dx + s * C;
        const int64_t ts = t[s];
        if (ts == ignore) { /* also keeps an all-ignored mean's 0/0 scale out of the gradient */
            for (int64_t k = threadIdx.x; k < C; k += blockDim.x) dr[k] = 0.0f;
            continue;
        }
        const float gi = g[s * gs], l = lse[s], at = (1.0f - eps) * (w ? w[ts] : 1.0f), tot = at + sc * sw;
        for (int64_t k = threadIdx.x; k < C; k += blockDim.x) {
            float v = gi * (expf(xr[k] - l) * tot - sc * (w ? w[k] : 1.0f));
            if (k == ts) v -= gi * at;
            dr[k] = v;
        }
    }
}

static void cuda_cross_entropy_backward(vt_ctx *c, const float *x, const int64_t *t, const float *w,
                                        const float *lse, const float *g, int64_t gs, int64_t S, int64_t C,
                                        int64_t ignore_index, float eps, float *dx) {
    vt_cuda_state *st = vt_cuda_current(c);
    if (!st || S <= 0 || C <= 0) return;
    ce_backward<<<vt_cuda_blocks(S, 1), row_threads(C), 0, st->stream>>>(x, t, w, lse, g, gs, S, C, ignore_index,
                                                                        eps, dx);
    vt_cuda_launched(c, "cross_entropy_backward");
}

/* ---- cross-entropy with probability targets: q = (1−ε)·p + ε/C ---- */

static __global__ void ce_soft_forward(const float *x, const float *p, const float *w, int64_t S, int64_t C, float eps,
                                       float *lse, float *loss) {
    __shared__ float sh[32];
    const float sc = eps / (float)C;
    for (int64_t s = blockIdx.x; s < S; s += gridDim.x) {
        const float *xr = x + s * C, *pr = p + s * C;
        const float l = row_lse(xr, C, sh);
        float v = 0.0f;
        for (int64_t k = threadIdx.x; k < C; k += blockDim.x)
            v += (w ? w[k] : 1.0f) * ((1.0f - eps) * pr[k] + sc) * (l - xr[k]);
        v = block_sum(v, sh);
        if (threadIdx.x == 0) lse[s] = l, loss[s] = v;
    }
}

static void cuda_cross_entropy_soft(vt_ctx *c, const float *x, const float *p, const float *w, int64_t S, int64_t C,
                                    float eps, float *lse, float *loss) {
    vt_cuda_state *st = vt_cuda_current(c);
    if (!st || S <= 0) return;
    ce_soft_forward<<<vt_cuda_blocks(S, 1), row_threads(C), 0, st->stream>>>(x, p, w, S, C, eps, lse, loss);
    vt_cuda_launched(c, "cross_entropy_soft");
}

/* dx_k = g·(softmax_k·Σa − a_k) with a_k = w_k·q_k. */
static __global__ void ce_soft_backward(const float *x, const float *p, const float *w, const float *lse,
                                        const float *g, int64_t gs, int64_t S, int64_t C, float eps, float *dx) {
    __shared__ float sh[32];
    const float sc = eps / (float)C;
    for (int64_t s = blockIdx.x; s < S; s += gridDim.x) {
        const float *xr = x + s * C, *pr = p + s * C;
        float *dr = dx + s * C;
        const float gi = g[s * gs], l = lse[s];
        float tot = 0.0f;
        for (int64_t k = threadIdx.x; k < C; k += blockDim.x) tot += (w ? w[k] : 1.0f) * ((1.0f - eps) * pr[k] + sc);
        tot = block_sum(tot, sh);
        for (int64_t k = threadIdx.x; k < C; k += blockDim.x)
            dr[k] = gi * (expf(xr[k] - l) * tot - (w ? w[k] : 1.0f) * ((1.0f - eps) * pr[k] + sc));
    }
}

static void cuda_cross_entropy_soft_backward(vt_ctx *c, const float *x, const float *p, const float *w,
                                             const float *lse, const float *g, int64_t gs, int64_t S, int64_t C,
                                             float eps, float *dx) {
    vt_cuda_state *st = vt_cuda_current(c);
    if (!st || S <= 0 || C <= 0) return;
    ce_soft_backward<<<vt_cuda_blocks(S, 1), row_threads(C), 0, st->stream>>>(x, p, w, lse, g, gs, S, C, eps, dx);
    vt_cuda_launched(c, "cross_entropy_soft_backward");
}

/* ---- binary cross-entropy with logits ---- */

/* softplus(−x) = log(1 + exp(−x)) without overflow for either sign of x. */
static __device__ float softplus_neg(float x) { return log1pf(expf(-fabsf(x))) + (x < 0.0f ? -x : 0.0f); }

static __global__ void bce_forward(const float *x, const float *t, const float *w, const float *pw, float *loss,
                                   int64_t n) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        const float lw = pw ? 1.0f + (pw[i] - 1.0f) * t[i] : 1.0f;
        const float v = (1.0f - t[i]) * x[i] + lw * softplus_neg(x[i]);
        loss[i] = w ? w[i] * v : v;
    }
}

static void cuda_bce_with_logits(vt_ctx *c, const float *x, const float *t, const float *w, const float *pw,
                                 float *loss, int64_t n) {
    vt_cuda_state *st = vt_cuda_current(c);
    if (!st || n <= 0) return;
    bce_forward<<<vt_cuda_blocks(n, EW_THREADS), EW_THREADS, 0, st->stream>>>(x, t, w, pw, loss, n);
    vt_cuda_launched(c, "bce_with_logits");
}

static __global__ void bce_backward(const float *x, const float *t, const float *w, const float *pw, const float *g,
                                    int64_t gs, float *dx, float *dt, int64_t n) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        const float gi = g[i * gs] * (w ? w[i] : 1.0f), p = pw ? pw[i] : 1.0f;
        if (dx) dx[i] = gi * ((1.0f + (p - 1.0f) * t[i]) * (1.0f / (1.0f + expf(-x[i]))) - p * t[i]);
        if (dt) dt[i] = gi * ((p - 1.0f) * softplus_neg(x[i]) - x[i]);
    }
}

static void cuda_bce_with_logits_backward(vt_ctx *c, const float *x, const float *t, const float *w, const float *pw,
                                          const float *g, int64_t gs, float *dx, float *dt, int64_t n) {
    vt_cuda_state *st = vt_cuda_current(c);
    if (!st || n <= 0 || (!dx && !dt)) return;
    bce_backward<<<vt_cuda_blocks(n, EW_THREADS), EW_THREADS, 0, st->stream>>>(x, t, w, pw, g, gs, dx, dt, n);
    vt_cuda_launched(c, "bce_with_logits_backward");
}

extern "C" const vt_loss_kernels vt_cuda_loss_kernels = {
    sizeof(vt_loss_kernels),
    cuda_cross_entropy,
    cuda_cross_entropy_backward,
    cuda_cross_entropy_soft,
    cuda_cross_entropy_soft_backward,
    cuda_bce_with_logits,
    cuda_bce_with_logits_backward,
};
