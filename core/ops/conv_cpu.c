/* CPU layout kernels for conv2d: im2col / col2im (the generic path) and patchify / unpatchify (the ViT
 * patch-embedding path, where windows do not overlap and the rearrangement is a pure permutation copy).
 * Each parallel loop owns disjoint output rows or planes, so results never depend on the thread count. */
#include <string.h>

#include "ops/conv_kernels.h"

#define PAR_THRESHOLD 32768 /* elements below which threading costs more than it saves */

/* Output columns [lo, hi) whose input column ow·sw + off lies inside [0, W). */
static void valid_cols(const vt_win2d *g, int64_t off, int64_t *lo, int64_t *hi) {
    int64_t l = off >= 0 ? 0 : (-off + g->sw - 1) / g->sw;
    int64_t h = g->W - 1 - off < 0 ? 0 : (g->W - 1 - off) / g->sw + 1;
    if (h > g->Wo) h = g->Wo;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

static void cpu_im2col(vt_ctx *c, const vt_win2d *g, const float *x, float *col, int64_t oh0, int64_t oh1) {
    const int64_t K = g->C * g->kh * g->kw, Wo = g->Wo, L = (oh1 - oh0) * Wo;
#pragma omp parallel for num_threads(vt_ctx_threads(c)) if (K * L > PAR_THRESHOLD)
    for (int64_t r = 0; r < K; r++) {
        const int64_t j = r % g->kw, i = (r / g->kw) % g->kh, ch = r / (g->kw * g->kh);
        const float *xp = x + ch * g->H * g->W;
        const int64_t off = j * g->dw - g->pw;
        int64_t lo, hi;
        valid_cols(g, off, &lo, &hi);
        float *dst = col + r * L;
        for (int64_t oh = oh0; oh < oh1; oh++, dst += Wo) {
            const int64_t ih = oh * g->sh - g->ph + i * g->dh;
            if (ih < 0 || ih >= g->H) {
                memset(dst, 0, (size_t)Wo * sizeof *dst);
                continue;
            }
            const float *src = xp + ih * g->W;
            for (int64_t ow = 0; ow < lo; ow++) dst[ow] = 0.0f;
            if (g->sw == 1 && hi > lo)
                memcpy(dst + lo, src + (lo + off), (size_t)(hi - lo) * sizeof *dst);
            else
                for (int64_t ow = lo; ow < hi; ow++) dst[ow] = src[ow * g->sw + off];
            for (int64_t ow = hi; ow < Wo; ow++) dst[ow] = 0.0f;
        }
    }
}

/* Parallel over channels: the kh·kw rows of a channel all land in that channel's plane only. */
static void cpu_col2im(vt_ctx *c, const vt_win2d *g, const float *col, float *gx, int64_t oh0, int64_t oh1) {
    const int64_t Wo = g->Wo, L = (oh1 - oh0) * Wo, KK = g->kh * g->kw;
#pragma omp parallel for num_threads(vt_ctx_threads(c)) if (g->C * KK * L > PAR_THRESHOLD)
    for (int64_t ch = 0; ch < g->C; ch++) {
        float *xp = gx + ch * g->H * g->W;
        for (int64_t ij = 0; ij < KK; ij++) {
            const int64_t i = ij / g->kw, j = ij % g->kw;
            const int64_t off = j * g->dw - g->pw;
            int64_t lo, hi;
            valid_cols(g, off, &lo, &hi);
            const float *src = col + (ch * KK + ij) * L;
            for (int64_t oh = oh0; oh < oh1; oh++, src += Wo) {
                const int64_t ih = oh * g->sh - g->ph + i * g->dh;
                if (ih < 0 || ih >= g->H) continue;
                float *dst = xp + ih * g->W;
                if (g->sw == 1) {
#pragma omp simd
                    for (int64_t ow = lo; ow < hi; ow++) dst[ow + off] += src[ow];
                } else {
                    for (int64_t ow = lo; ow < hi; ow++) dst[ow * g->sw + off] += src[ow];
                }
            }
        }
    }
}

/* p[n, oh·Wo + ow, (ch·kh + i)·kw + j] = x[n, ch, oh·kh + i, ow·kw + j]: kw-long contiguous runs both sides. */
static void cpu_patchify(vt_ctx *c, const vt_win2d *g, int64_t N, const float *x, float *p) {
    const int64_t K = g->C * g->kh * g->kw, HW = g->H * g->W;
    const size_t run = (size_t)g->kw * sizeof *x;
#pragma omp parallel for num_threads(vt_ctx_threads(c)) if (N * g->Ho * g->Wo * K > PAR_THRESHOLD)
    for (int64_t r = 0; r < N * g->Ho; r++) {
        const int64_t n = r / g->Ho, oh = r % g->Ho;
        for (int64_t ow = 0; ow < g->Wo; ow++) {
            float *dst = p + ((n * g->Ho + oh) * g->Wo + ow) * K;
            for (int64_t ch = 0; ch < g->C; ch++) {
                const float *src = x + n * g->C * HW + ch * HW + oh * g->kh * g->W + ow * g->kw;
                for (int64_t i = 0; i < g->kh; i++, dst += g->kw) memcpy(dst, src + i * g->W, run);
            }
        }
    }
}

static void cpu_unpatchify(vt_ctx *c, const vt_win2d *g, int64_t N, const float *p, float *gx) {
    const int64_t K = g->C * g->kh * g->kw, HW = g->H * g->W;
    const size_t run = (size_t)g->kw * sizeof *gx;
    if (g->Ho * g->kh != g->H || g->Wo * g->kw != g->W) memset(gx, 0, (size_t)(N * g->C * HW) * sizeof *gx);
#pragma omp parallel for num_threads(vt_ctx_threads(c)) if (N * g->Ho * g->Wo * K > PAR_THRESHOLD)
    for (int64_t r = 0; r < N * g->Ho; r++) {
        const int64_t n = r / g->Ho, oh = r % g->Ho;
        for (int64_t ow = 0; ow < g->Wo; ow++) {
            const float *src = p + ((n * g->Ho + oh) * g->Wo + ow) * K;
            for (int64_t ch = 0; ch < g->C; ch++) {
                float *dst = gx + n * g->C * HW + ch * HW + oh * g->kh * g->W + ow * g->kw;
                for (int64_t i = 0; i < g->kh; i++, src += g->kw) memcpy(dst + i * g->W, src, run);
            }
        }
    }
}

const vt_conv_kernels vt_cpu_conv_kernels = {
    .size = sizeof(vt_conv_kernels),
    .im2col = cpu_im2col,
    .col2im = cpu_col2im,
    .patchify = cpu_patchify,
    .unpatchify = cpu_unpatchify,
    .avg_pool = vt_cpu_avg_pool,
    .avg_pool_backward = vt_cpu_avg_pool_backward,
    .max_pool = vt_cpu_max_pool,
    .max_pool_backward = vt_cpu_max_pool_backward,
    .adaptive_avg_pool = vt_cpu_adaptive_avg_pool,
    .adaptive_avg_pool_backward = vt_cpu_adaptive_avg_pool_backward,
};
