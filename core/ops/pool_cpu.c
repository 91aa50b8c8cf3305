/* CPU pooling kernels, following PyTorch's CPU loops (AvgPoolKernel.cpp, MaxPoolKernel.cpp,
 * AdaptiveAvgPoolKernel.cpp) so window bounds, divisors, tie-breaking and NaN handling agree exactly.
 * Every loop is parallel over planes: a plane's gradient is written by one thread, in a fixed order. */
#include <math.h>
#include <string.h>

#include "ops/conv_kernels.h"

#define PAR_THRESHOLD 16384

static inline int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t imax(int64_t a, int64_t b) { return a > b ? a : b; }

/* Window [lo, hi) of output index o along one axis, and the divisor's extent counting padding. */
typedef struct win1d {
    int64_t lo, hi, padded;
} win1d;

static inline win1d avg_window(int64_t o, int64_t k, int64_t s, int64_t p, int64_t n) {
    int64_t lo = o * s - p, hi = imin(lo + k, n + p);
    win1d w = {imax(lo, 0), imin(hi, n), hi - lo};
    return w;
}

static inline float avg_divisor(win1d a, win1d b, bool exclude_pad) {
    return exclude_pad ? (float)((a.hi - a.lo) * (b.hi - b.lo)) : (float)(a.padded * b.padded);
}

void vt_cpu_avg_pool(vt_ctx *c, const vt_win2d *g, bool exclude_pad, const float *x, float *y) {
    const int64_t HW = g->H * g->W, HWo = g->Ho * g->Wo;
#pragma omp parallel for num_threads(vt_ctx_threads(c)) if (g->C * HWo * g->kh * g->kw > PAR_THRESHOLD)
    for (int64_t p = 0; p < g->C; p++) {
        const float *xp = x + p * HW;
        float *yp = y + p * HWo;
        for (int64_t oh = 0; oh < g->Ho; oh++) {
            win1d a = avg_window(oh, g->kh, g->sh, g->ph, g->H);
            for (int64_t ow = 0; ow < g->Wo; ow++) {
                win1d b = avg_window(ow, g->kw, g->sw, g->pw, g->W);
                if (a.lo >= a.hi || b.lo >= b.hi) {
                    yp[oh * g->Wo + ow] = 0.0f;
                    continue;
                }
                float sum = 0.0f;
                for (int64_t ih = a.lo; ih < a.hi; ih++)
                    for (int64_t iw = b.lo; iw < b.hi; iw++) sum += xp[ih * g->W + iw];
                yp[oh * g->Wo + ow] = sum / avg_divisor(a, b, exclude_pad);
            }
        }
    }
}

void vt_cpu_avg_pool_backward(vt_ctx *c, const vt_win2d *g, bool exclude_pad, const float *gy, float *gx) {
    const int64_t HW = g->H * g->W, HWo = g->Ho * g->Wo;
#pragma omp parallel for num_threads(vt_ctx_threads(c)) if (g->C * HWo * g->kh * g->kw > PAR_THRESHOLD)
    for (int64_t p = 0; p < g->C; p++) {
        float *xp = gx + p * HW;
        const float *yp = gy + p * HWo;
        memset(xp, 0, (size_t)HW * sizeof *xp);
        for (int64_t oh = 0; oh < g->Ho; oh++) {
            win1d a = avg_window(oh, g->kh, g->sh, g->ph, g->H);
            for (int64_t ow = 0; ow < g->Wo; ow++) {
                win1d b = avg_window(ow, g->kw, g->sw, g->pw, g->W);
                if (a.lo >= a.hi || b.lo >= b.hi) continue;
                const float d = yp[oh * g->Wo + ow] / avg_divisor(a, b, exclude_pad);
                for (int64_t ih = a.lo; ih < a.hi; ih++)
                    for (int64_t iw = b.lo; iw < b.hi; iw++) xp[ih * g->W + iw] += d;
            }
        }
    }
}

void vt_cpu_max_pool(vt_ctx *c, const vt_win2d *g, const float *x, float *y, int64_t *idx) {
    const int64_t HW = g->H * g->W, HWo = g->Ho * g->Wo;
#pragma omp parallel for num_threads(vt_ctx_threads(c)) if (g->C * HWo * g->kh * g->kw > PAR_THRESHOLD)
    for (int64_t p = 0; p < g->C; p++) {
        const float *xp = x + p * HW;
        for (int64_t oh = 0; oh < g->Ho; oh++) {
            int64_t h0 = oh * g->sh - g->ph, h1 = imin(h0 + (g->kh - 1) * g->dh + 1, g->H);
            while (h0 < 0) h0 += g->dh;
            for (int64_t ow = 0; ow < g->Wo; ow++) {
                int64_t w0 = ow * g->sw - g->pw, w1 = imin(w0 + (g->kw - 1) * g->dw + 1, g->W);
                while (w0 < 0) w0 += g->dw;
                int64_t best = h0 * g->W + w0;
                float m = -INFINITY;
                for (int64_t ih = h0; ih < h1; ih += g->dh)
                    for (int64_t iw = w0; iw < w1; iw += g->dw) {
                        const float v = xp[ih * g->W + iw];
                        if (v > m || isnan(v)) {
                            m = v;
                            best = ih * g->W + iw;
                        }
                    }
                y[p * HWo + oh * g->Wo + ow] = m;
                idx[p * HWo + oh * g->Wo + ow] = best;
            }
        }
    }
}

void vt_cpu_max_pool_backward(vt_ctx *c, const vt_win2d *g, const float *gy, const int64_t *idx, float *gx) {
    const int64_t HW = g->H * g->W, HWo = g->Ho * g->Wo;
#pragma omp parallel for num_threads(vt_ctx_threads(c)) if (g->C * (HW + HWo) > PAR_THRESHOLD)
    for (int64_t p = 0; p < g->C; p++) {
        float *xp = gx + p * HW;
        memset(xp, 0, (size_t)HW * sizeof *xp);
        for (int64_t o = 0; o < HWo; o++) xp[idx[p * HWo + o]] += gy[p * HWo + o];
    }
}

/* PyTorch's adaptive bins: [floor(o·n/out), ceil((o+1)·n/out)). */
static inline int64_t bin_start(int64_t o, int64_t out, int64_t n) { return (o * n) / out; }
static inline int64_t bin_end(int64_t o, int64_t out, int64_t n) { return ((o + 1) * n + out - 1) / out; }

void vt_cpu_adaptive_avg_pool(vt_ctx *c, const vt_win2d *g, const float *x, float *y) {
    const int64_t HW = g->H * g->W, HWo = g->Ho * g->Wo;
#pragma omp parallel for num_threads(vt_ctx_threads(c)) if (g->C * (HW + HWo) > PAR_THRESHOLD)
    for (int64_t p = 0; p < g->C; p++) {
        const float *xp = x + p * HW;
        for (int64_t oh = 0; oh < g->Ho; oh++) {
            const int64_t h0 = bin_start(oh, g->Ho, g->H), h1 = bin_end(oh, g->Ho, g->H);
            for (int64_t ow = 0; ow < g->Wo; ow++) {
                const int64_t w0 = bin_start(ow, g->Wo, g->W), w1 = bin_end(ow, g->Wo, g->W);
                float sum = 0.0f;
                for (int64_t ih = h0; ih < h1; ih++)
                    for (int64_t iw = w0; iw < w1; iw++) sum += xp[ih * g->W + iw];
                y[p * HWo + oh * g->Wo + ow] = sum / (float)(h1 - h0) / (float)(w1 - w0);
            }
        }
    }
}

void vt_cpu_adaptive_avg_pool_backward(vt_ctx *c, const vt_win2d *g, const float *gy, float *gx) {
    const int64_t HW = g->H * g->W, HWo = g->Ho * g->Wo;
#pragma omp parallel for num_threads(vt_ctx_threads(c)) if (g->C * (HW + HWo) > PAR_THRESHOLD)
    for (int64_t p = 0; p < g->C; p++) {
        float *xp = gx + p * HW;
        memset(xp, 0, (size_t)HW * sizeof *xp);
        for (int64_t oh = 0; oh < g->Ho; oh++) {
            const int64_t h0 = bin_start(oh, g->Ho, g->H), h1 = bin_end(oh, g->Ho, g->H);
            for (int64_t ow = 0; ow < g->Wo; ow++) {
                const int64_t w0 = bin_start(ow, g->Wo, g->W), w1 = bin_end(ow, g->Wo, g->W);
                const float d = gy[p * HWo + oh * g->Wo + ow] / (float)(h1 - h0) / (float)(w1 - w0);
                for (int64_t ih = h0; ih < h1; ih++)
                    for (int64_t iw = w0; iw < w1; iw++) xp[ih * g->W + iw] += d;
            }
        }
    }
}
