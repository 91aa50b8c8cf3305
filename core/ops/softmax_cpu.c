/* CPU softmax / log_softmax, forward and backward.
 *
 * Softmax over the last dim (attention scores, classification logits) is the hot case: each row is
 * reduced in L1 with vectorised max, exp-sum and scale passes, rows spread over threads. Over any other dim
 * the input is [outer, n, inner] and the same passes run on blocks of up to BLK adjacent inner positions, so
 * the innermost loop still walks contiguous memory. Every output element depends only on its own row, so
 * results do not depend on the thread count. */

#include <math.h>

#include "ops/reduce_cpu.h"
#include "ops/reduce_row.h"

#define PAR_THRESHOLD 16384 /* elements; below this a parallel region costs more than it saves */
#define BLK 64

static void softmax_row(const float *x, float *y, int64_t n, bool log) {
    const float m = vt_row_max(x, n);
    if (log) {
        const float lse = m + logf(vt_row_expsum(x, m, n));
#pragma omp simd
        for (int64_t i = 0; i < n; i++) y[i] = x[i] - lse;
        return;
    }
#pragma omp simd
    for (int64_t i = 0; i < n; i++) y[i] = vt_expf(x[i] - m);
    const float r = 1.0f / vt_row_sum(y, n);
#pragma omp simd
    for (int64_t i = 0; i < n; i++) y[i] *= r;
}

/* Columns i0 .. i0+w of one [n, inner] slab (x, y point at the slab). */
static void softmax_block(const float *x, float *y, int64_t n, int64_t inner, int64_t w, bool log) {
    float m[BLK], s[BLK];
    for (int64_t j = 0; j < w; j++) m[j] = -INFINITY, s[j] = 0.0f;
    for (int64_t k = 0; k < n; k++) {
        const float *xr = x + k * inner;
#pragma omp simd
        for (int64_t j = 0; j < w; j++) m[j] = xr[j] > m[j] ? xr[j] : m[j];
    }
    for (int64_t k = 0; k < n; k++) {
        const float *xr = x + k * inner;
        float *yr = y + k * inner;
#pragma omp simd
        for (int64_t j = 0; j < w; j++) {
            float e = vt_expf(xr[j] - m[j]);
            if (!log) yr[j] = e;
            s[j] += e;
        }
    }
    if (log) {
        for (int64_t j = 0; j < w; j++) s[j] = m[j] + logf(s[j]);
        for (int64_t k = 0; k < n; k++) {
            const float *xr = x + k * inner;
            float *yr = y + k * inner;
#pragma omp simd
            for (int64_t j = 0; j < w; j++) yr[j] = xr[j] - s[j];
        }
    } else {
        for (int64_t j = 0; j < w; j++) s[j] = 1.0f / s[j];
        for (int64_t k = 0; k < n; k++) {
            float *yr = y + k * inner;
#pragma omp simd
            for (int64_t j = 0; j < w; j++) yr[j] *= s[j];
        }
    }
}

void vt_cpu_softmax(vt_ctx *c, const float *x, float *y, int64_t outer, int64_t n, int64_t inner, bool log) {
    const int nt = vt_ctx_threads(c);
    const int64_t total = outer * n * inner;
    if (inner == 1) {
#pragma omp parallel for num_threads(nt) if (total > PAR_THRESHOLD) schedule(static)
        for (int64_t r = 0; r < outer; r++) softmax_row(x + r * n, y + r * n, n, log);
        return;
    }
    const int64_t nblk = (inner + BLK - 1) / BLK;
#pragma omp parallel for num_threads(nt) if (total > PAR_THRESHOLD) schedule(static)
    for (int64_t t = 0; t < outer * nblk; t++) {
        int64_t o = t / nblk, i0 = (t % nblk) * BLK;
        int64_t w = inner - i0 < BLK ? inner - i0 : BLK;
        int64_t off = o * n * inner + i0;
        softmax_block(x + off, y + off, n, inner, w, log);
    }
}

static void softmax_row_backward(const float *y, const float *gy, float *gx, int64_t n, bool log) {
    if (log) {
        const float s = vt_row_sum(gy, n);
#pragma omp simd
        for (int64_t i = 0; i < n; i++) gx[i] = gy[i] - vt_expf(y[i]) * s;
    } else {
        const float d = vt_row_dot(gy, y, n);
#pragma omp simd
        for (int64_t i = 0; i < n; i++) gx[i] = y[i] * (gy[i] - d);
    }
}

static void softmax_block_backward(const float *y, const float *gy, float *gx, int64_t n, int64_t inner, int64_t w,
                                   bool log) {
    float s[BLK];
    for (int64_t j = 0; j < w; j++) s[j] = 0.0f;
    for (int64_t k = 0; k < n; k++) {
        const float *yr = y + k * inner, *gr = gy + k * inner;
        if (log) {
#pragma omp simd
            for (int64_t j = 0; j < w; j++) s[j] += gr[j];
        } else {
#pragma omp simd
            for (int64_t j = 0; j < w; j++) s[j] += gr[j] * yr[j];
        }
    }
    for (int64_t k = 0; k < n; k++) {
        const float *yr = y + k * inner, *gr = gy + k * inner;
        float *xr = gx + k * inner;
        if (log) {
#pragma omp simd
            for (int64_t j = 0; j < w; j++) xr[j] = gr[j] - vt_expf(yr[j]) * s[j];
        } else {
#pragma omp simd
            for (int64_t j = 0; j < w; j++) xr[j] = yr[j] * (gr[j] - s[j]);
        }
    }
}

void vt_cpu_softmax_backward(vt_ctx *c, const float *y, const float *gy, float *gx, int64_t outer, int64_t n,
                             int64_t inner, bool log) {
    const int nt = vt_ctx_threads(c);
    const int64_t total = outer * n * inner;
    if (inner == 1) {
#pragma omp parallel for num_threads(nt) if (total > PAR_THRESHOLD) schedule(static)
        for (int64_t r = 0; r < outer; r++) softmax_row_backward(y + r * n, gy + r * n, gx + r * n, n, log);
        return;
    }
    const int64_t nblk = (inner + BLK - 1) / BLK;
#pragma omp parallel for num_threads(nt) if (total > PAR_THRESHOLD) schedule(static)
    for (int64_t t = 0; t < outer * nblk; t++) {
        int64_t o = t / nblk, i0 = (t % nblk) * BLK;
        int64_t w = inner - i0 < BLK ? inner - i0 : BLK;
        int64_t off = o * n * inner + i0;
        softmax_block_backward(y + off, gy + off, gx + off, n, inner, w, log);
    }
}
