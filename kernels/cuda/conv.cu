/* CUDA conv-family kernels (contract: core/ops/conv_kernels.h; reference: core/ops/conv_cpu.c, pool_cpu.c).
 *
 * Every kernel is one thread per element of what it writes. The adjoints (col2im and the pool backwards)
 * are gathers, no atomics: each input pixel finds the windows that can contain it and adds their
 * contributions in the CPU's order (window (i, j) order for col2im, increasing output index for the pools),
 * so they are deterministic and, the arithmetic being plain adds and divides, equal to the CPU bit for bit. */
#include <math.h>
#include <stdint.h>

#include "cuda_state.h"
#include "ops/conv_kernels.h"

#define THREADS 256

#define GRID_LOOP(i, n) \
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < (n); i += (int64_t)gridDim.x * blockDim.x)

static __device__ int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }
static __device__ int64_t imax(int64_t a, int64_t b) { return a > b ? a : b; }

/* ceil(a / b) for b > 0 and any sign of a. */
static __device__ int64_t ceil_div(int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }
/* floor(a / b) for b > 0 and any sign of a. */
static __device__ int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

/* ---- im2col / col2im ---- */

/* col[r, l], r = (ch, i, j), l = (oh - oh0)·Wo + ow. */
static __global__ void im2col_k(vt_win2d g, const float *x, float *col, int64_t oh0, int64_t L, int64_t K) {
    GRID_LOOP(e, K * L) {
        const int64_t r = e / L, l = e % L;
        const int64_t oh = oh0 + l / g.Wo, ow = l % g.Wo;
        const int64_t j = r % g.kw, i = (r / g.kw) % g.kh, ch = r / (g.kw * g.kh);
        const int64_t ih = oh * g.sh - g.ph + i * g.dh, iw = ow * g.sw - g.pw + j * g.dw;
        col[e] = (ih >= 0 && ih < g.H && iw >= 0 && iw < g.W) ? x[(ch * g.H + ih) * g.W + iw] : 0.0f;
    }
}

static void cuda_im2col(vt_ctx *c, const vt_win2d *g, const float *x, float *col, int64_t oh0, int64_t oh1) {
    vt_cuda_state *st = vt_cuda_current(c);
    const int64_t K = g->C * g->kh * g->kw, L = (oh1 - oh0) * g->Wo;
    if (!st || K <= 0 || L <= 0) return;
    im2col_k<<<vt_cuda_blocks(K * L, THREADS), THREADS, 0, st->stream>>>(*g, x, col, oh0, L, K);
    vt_cuda_launched(c, "im2col");
}

/* gx[ch, ih, iw] += every col entry that im2col took from it: for each (i, j) at most one (oh, ow), added in
 * (i, j) order as the CPU does. */
static __global__ void col2im_k(vt_win2d g, const float *col, float *gx, int64_t oh0, int64_t oh1) {
    const int64_t L = (oh1 - oh0) * g.Wo;
    GRID_LOOP(e, g.C * g.H * g.W) {
        const int64_t iw = e % g.W, ih = (e / g.W) % g.H, ch = e / (g.H * g.W);
        float acc = gx[e];
        for (int64_t i = 0; i < g.kh; i++) {
            const int64_t t = ih + g.ph - i * g.dh; /* = oh·sh */
            if (t < 0 || t % g.sh != 0) continue;
            const int64_t oh = t / g.sh;
            if (oh < oh0 || oh >= oh1) continue;
            for (int64_t j = 0; j < g.kw; j++) {
                const int64_t u = iw + g.pw - j * g.dw; /* = ow·sw */
                if (u < 0 || u % g.sw != 0) continue;
                const int64_t ow = u / g.sw;
                if (ow >= g.Wo) continue;
                acc += col[((ch * g.kh + i) * g.kw + j) * L + (oh - oh0) * g.Wo + ow];
            }
        }
        gx[e] = acc;
    }
}

static void cuda_col2im(vt_ctx *c, const vt_win2d *g, const float *col, float *gx, int64_t oh0, int64_t oh1) {
    vt_cuda_state *st = vt_cuda_current(c);
    const int64_t total = g->C * g->H * g->W;
    if (!st || total <= 0 || oh1 <= oh0 || g->Wo <= 0) return;
    col2im_k<<<vt_cuda_blocks(total, THREADS), THREADS, 0, st->stream>>>(*g, col, gx, oh0, oh1);
    vt_cuda_launched(c, "col2im");
}

/* ---- patchify / unpatchify: p[n, oh·Wo + ow, (ch·kh + i)·kw + j] = x[n, ch, oh·kh + i, ow·kw + j] ---- */

static __global__ void patchify_k(vt_win2d g, int64_t N, const float *x, float *p) {
    const int64_t K = g.C * g.kh * g.kw;
    GRID_LOOP(e, N * g.Ho * g.Wo * K) {
        const int64_t k = e % K, t = e / K;
        const int64_t ow = t % g.Wo, oh = (t / g.Wo) % g.Ho, n = t / (g.Wo * g.Ho);
        const int64_t j = k % g.kw, i = (k / g.kw) % g.kh, ch = k / (g.kw * g.kh);
        p[e] = x[((n * g.C + ch) * g.H + oh * g.kh + i) * g.W + ow * g.kw + j];
    }
}

static void cuda_patchify(vt_ctx *c, const vt_win2d *g, int64_t N, const float *x, float *p) {
    vt_cuda_state *st = vt_cuda_current(c);
    const int64_t total = N * g->Ho * g->Wo * g->C * g->kh * g->kw;
    if (!st || total <= 0) return;
    patchify_k<<<vt_cuda_blocks(total, THREADS), THREADS, 0, st->stream>>>(*g, N, x, p);
    vt_cuda_launched(c, "patchify");
}

/* Every gx pixel written: from its patch, or 0 where no patch covers it (H % kh, W % kw). */
static __global__ void unpatchify_k(vt_win2d g, int64_t N, const float *p, float *gx) {
    const int64_t K = g.C * g.kh * g.kw;
    GRID_LOOP(e, N * g.C * g.H * g.W) {
        const int64_t iw = e % g.W, ih = (e / g.W) % g.H, nc = e / (g.H * g.W), ch = nc % g.C, n = nc / g.C;
        const int64_t oh = ih / g.kh, i = ih % g.kh, ow = iw / g.kw, j = iw % g.kw;
        gx[e] = (oh < g.Ho && ow < g.Wo) ? p[((n * g.Ho + oh) * g.Wo + ow) * K + (ch * g.kh + i) * g.kw + j] : 0.0f;
    }
}

static void cuda_unpatchify(vt_ctx *c, const vt_win2d *g, int64_t N, const float *p, float *gx) {
    vt_cuda_state *st = vt_cuda_current(c);
    const int64_t total = N * g->C * g->H * g->W;
    if (!st || total <= 0) return;
    unpatchify_k<<<vt_cuda_blocks(total, THREADS), THREADS, 0, st->stream>>>(*g, N, p, gx);
    vt_cuda_launched(c, "unpatchify");
}

/* ---- avg_pool ---- */

/* Window [lo, hi) of output index o along one axis, and the divisor's extent counting padding. */
typedef struct win1d {
    int64_t lo, hi, padded;
} win1d;

static __device__ win1d avg_window(int64_t o, int64_t k, int64_t s, int64_t p, int64_t n) {
    const int64_t lo = o * s - p, hi = imin(lo + k, n + p);
    win1d w = {imax(lo, 0), imin(hi, n), hi - lo};
    return w;
}

static __device__ float avg_divisor(win1d a, win1d b, bool exclude_pad) {
    return exclude_pad ? (float)((a.hi - a.lo) * (b.hi - b.lo)) : (float)(a.padded * b.padded);
}

static __global__ void avg_pool_k(vt_win2d g, bool exclude_pad, const float *x, float *y) {
    GRID_LOOP(e, g.C * g.Ho * g.Wo) {
        const int64_t ow = e % g.Wo, oh = (e / g.Wo) % g.Ho, p = e / (g.Ho * g.Wo);
        const win1d a = avg_window(oh, g.kh, g.sh, g.ph, g.H), b = avg_window(ow, g.kw, g.sw, g.pw, g.W);
        if (a.lo >= a.hi || b.lo >= b.hi) {
            y[e] = 0.0f;
            continue;
        }
        const float *xp = x + p * g.H * g.W;
        float sum = 0.0f;
        for (int64_t ih = a.lo; ih < a.hi; ih++)
            for (int64_t iw = b.lo; iw < b.hi; iw++) sum += xp[ih * g.W + iw];
        y[e] = sum / avg_divisor(a, b, exclude_pad);
    }
}

static void cuda_avg_pool(vt_ctx *c, const vt_win2d *g, bool exclude_pad, const float *x, float *y) {
    vt_cuda_state *st = vt_cuda_current(c);
    const int64_t total = g->C * g->Ho * g->Wo;
    if (!st || total <= 0) return;
    avg_pool_k<<<vt_cuda_blocks(total, THREADS), THREADS, 0, st->stream>>>(*g, exclude_pad, x, y);
    vt_cuda_launched(c, "avg_pool");
}

/* Output indices whose raw window [o·s − p, o·s − p + span] can contain input i: a superset, the callers test
 * membership exactly. Empty when lo > hi. */
static __device__ void candidates(int64_t i, int64_t s, int64_t p, int64_t span, int64_t out, int64_t *lo,
                                  int64_t *hi) {
    *lo = imax(ceil_div(i + p - span, s), 0);
    *hi = imin(floor_div(i + p, s), out - 1);
}

/* gx[p, ih, iw] = Σ over the windows holding it, in increasing output index, of gy / divisor (overwrites). */
static __global__ void avg_pool_backward_k(vt_win2d g, bool exclude_pad, const float *gy, float *gx) {
    GRID_LOOP(e, g.C * g.H * g.W) {
        const int64_t iw = e % g.W, ih = (e / g.W) % g.H, p = e / (g.H * g.W);
        const float *yp = gy + p * g.Ho * g.Wo;
        int64_t oh0, oh1, ow0, ow1;
        candidates(ih, g.sh, g.ph, g.kh - 1, g.Ho, &oh0, &oh1);
        candidates(iw, g.sw, g.pw, g.kw - 1, g.Wo, &ow0, &ow1);
        float acc = 0.0f;
        for (int64_t oh = oh0; oh <= oh1; oh++) {
            const win1d a = avg_window(oh, g.kh, g.sh, g.ph, g.H);
            if (ih < a.lo || ih >= a.hi) continue;
            for (int64_t ow = ow0; ow <= ow1; ow++) {
                const win1d b = avg_window(ow, g.kw, g.sw, g.pw, g.W);
                if (iw < b.lo || iw >= b.hi) continue;
                acc += yp[oh * g.Wo + ow] / avg_divisor(a, b, exclude_pad);
            }
        }
        gx[e] = acc;
    }
}

static void cuda_avg_pool_backward(vt_ctx *c, const vt_win2d *g, bool exclude_pad, const float *gy, float *gx) {
    vt_cuda_state *st = vt_cuda_current(c);
    const int64_t total = g->C * g->H * g->W;
    if (!st || total <= 0) return;
    avg_pool_backward_k<<<vt_cuda_blocks(total, THREADS), THREADS, 0, st->stream>>>(*g, exclude_pad, gy, gx);
    vt_cuda_launched(c, "avg_pool_backward");
}

/* ---- max_pool ---- */

static __global__ void max_pool_k(vt_win2d g, const float *x, float *y, int64_t *idx) {
    GRID_LOOP(e, g.C * g.Ho * g.Wo) {
        const int64_t ow = e % g.Wo, oh = (e / g.Wo) % g.Ho, p = e / (g.Ho * g.Wo);
        const float *xp = x + p * g.H * g.W;
        int64_t h0 = oh * g.sh - g.ph, w0 = ow * g.sw - g.pw;
        const int64_t h1 = imin(h0 + (g.kh - 1) * g.dh + 1, g.H), w1 = imin(w0 + (g.kw - 1) * g.dw + 1, g.W);
        while (h0 < 0) h0 += g.dh;
        while (w0 < 0) w0 += g.dw;
        int64_t best = h0 * g.W + w0;
        float m = -INFINITY;
        for (int64_t ih = h0; ih < h1; ih += g.dh)
            for (int64_t iw = w0; iw < w1; iw += g.dw) {
                const float v = xp[ih * g.W + iw];
                if (v > m || isnan(v)) { /* the last NaN wins, as on the CPU */
                    m = v;
                    best = ih * g.W + iw;
                }
            }
        y[e] = m;
        idx[e] = best;
    }
}

static void cuda_max_pool(vt_ctx *c, const vt_win2d *g, const float *x, float *y, int64_t *idx) {
    vt_cuda_state *st = vt_cuda_current(c);
    const int64_t total = g->C * g->Ho * g->Wo;
    if (!st || total <= 0) return;
    max_pool_k<<<vt_cuda_blocks(total, THREADS), THREADS, 0, st->stream>>>(*g, x, y, idx);
    vt_cuda_launched(c, "max_pool");
}

/* Gather over the windows that can contain the pixel (an argmax always lies in its own window), adding gy
 * where the window's argmax is this pixel, in increasing output index like the CPU's scatter. */
static __global__ void max_pool_backward_k(vt_win2d g, const float *gy, const int64_t *idx, float *gx) {
    GRID_LOOP(e, g.C * g.H * g.W) {
        const int64_t iw = e % g.W, ih = (e / g.W) % g.H, p = e / (g.H * g.W);
        const int64_t me = ih * g.W + iw, HWo = g.Ho * g.Wo;
        int64_t oh0, oh1, ow0, ow1;
        candidates(ih, g.sh, g.ph, (g.kh - 1) * g.dh, g.Ho, &oh0, &oh1);
        candidates(iw, g.sw, g.pw, (g.kw - 1) * g.dw, g.Wo, &ow0, &ow1);
        float acc = 0.0f;
        for (int64_t oh = oh0; oh <= oh1; oh++)
            for (int64_t ow = ow0; ow <= ow1; ow++) {
                const int64_t o = p * HWo + oh * g.Wo + ow;
                if (idx[o] == me) acc += gy[o];
            }
        gx[e] = acc;
    }
}

static void cuda_max_pool_backward(vt_ctx *c, const vt_win2d *g, const float *gy, const int64_t *idx, float *gx) {
    vt_cuda_state *st = vt_cuda_current(c);
    const int64_t total = g->C * g->H * g->W;
    if (!st || total <= 0) return;
    max_pool_backward_k<<<vt_cuda_blocks(total, THREADS), THREADS, 0, st->stream>>>(*g, gy, idx, gx);
    vt_cuda_launched(c, "max_pool_backward");
}

/* ---- adaptive_avg_pool: PyTorch's bins [floor(o·n/out), ceil((o+1)·n/out)) ---- */

static __device__ int64_t bin_start(int64_t o, int64_t out, int64_t n) { return (o * n) / out; }
static __device__ int64_t bin_end(int64_t o, int64_t out, int64_t n) { return ((o + 1) * n + out - 1) / out; }

static __global__ void adaptive_avg_pool_k(vt_win2d g, const float *x, float *y) {
    GRID_LOOP(e, g.C * g.Ho * g.Wo) {
        const int64_t ow = e % g.Wo, oh = (e / g.Wo) % g.Ho, p = e / (g.Ho * g.Wo);
        const float *xp = x + p * g.H * g.W;
        const int64_t h0 = bin_start(oh, g.Ho, g.H), h1 = bin_end(oh, g.Ho, g.H);
        const int64_t w0 = bin_start(ow, g.Wo, g.W), w1 = bin_end(ow, g.Wo, g.W);
        float sum = 0.0f;
        for (int64_t ih = h0; ih < h1; ih++)
            for (int64_t iw = w0; iw < w1; iw++) sum += xp[ih * g.W + iw];
        y[e] = sum / (float)(h1 - h0) / (float)(w1 - w0);
    }
}

static void cuda_adaptive_avg_pool(vt_ctx *c, const vt_win2d *g, const float *x, float *y) {
    vt_cuda_state *st = vt_cuda_current(c);
    const int64_t total = g->C * g->Ho * g->Wo;
    if (!st || total <= 0) return;
    adaptive_avg_pool_k<<<vt_cuda_blocks(total, THREADS), THREADS, 0, st->stream>>>(*g, x, y);
    vt_cuda_launched(c, "adaptive_avg_pool");
}

/* The bins holding input i are o in [floor(i·out/n), ceil((i+1)·out/n) − 1]; membership is tested exactly. */
static __global__ void adaptive_avg_pool_backward_k(vt_win2d g, const float *gy, float *gx) {
    GRID_LOOP(e, g.C * g.H * g.W) {
        const int64_t iw = e % g.W, ih = (e / g.W) % g.H, p = e / (g.H * g.W);
        const float *yp = gy + p * g.Ho * g.Wo;
        const int64_t oh0 = (ih * g.Ho) / g.H, oh1 = imin(((ih + 1) * g.Ho + g.H - 1) / g.H, g.Ho);
        const int64_t ow0 = (iw * g.Wo) / g.W, ow1 = imin(((iw + 1) * g.Wo + g.W - 1) / g.W, g.Wo);
        float acc = 0.0f;
        for (int64_t oh = oh0; oh < oh1; oh++) {
            const int64_t h0 = bin_start(oh, g.Ho, g.H), h1 = bin_end(oh, g.Ho, g.H);
            if (ih < h0 || ih >= h1) continue;
            for (int64_t ow = ow0; ow < ow1; ow++) {
                const int64_t w0 = bin_start(ow, g.Wo, g.W), w1 = bin_end(ow, g.Wo, g.W);
                if (iw < w0 || iw >= w1) continue;
                acc += yp[oh * g.Wo + ow] / (float)(h1 - h0) / (float)(w1 - w0);
            }
        }
        gx[e] = acc;
    }
}

static void cuda_adaptive_avg_pool_backward(vt_ctx *c, const vt_win2d *g, const float *gy, float *gx) {
    vt_cuda_state *st = vt_cuda_current(c);
    const int64_t total = g->C * g->H * g->W;
    if (!st || total <= 0) return;
    adaptive_avg_pool_backward_k<<<vt_cuda_blocks(total, THREADS), THREADS, 0, st->stream>>>(*g, gy, gx);
    vt_cuda_launched(c, "adaptive_avg_pool_backward");
}

extern "C" const vt_conv_kernels vt_cuda_conv_kernels = {
    sizeof(vt_conv_kernels),
    cuda_im2col,
    cuda_col2im,
    cuda_patchify,
    cuda_unpatchify,
    cuda_avg_pool,
    cuda_avg_pool_backward,
    cuda_max_pool,
    cuda_max_pool_backward,
    cuda_adaptive_avg_pool,
    cuda_adaptive_avg_pool_backward,
};
