/* CPU interpolate kernels. The source index and weights of each output row/column follow PyTorch's
 * UpSample.h helpers in the same float arithmetic (area_pixel_compute_scale, ..._source_index, nearest_idx,
 * the A = -0.75 cubic coefficients), so sizes, scale factors and align_corners give PyTorch's results.
 * Backward is the exact adjoint of forward. (PyTorch's own nearest and bicubic backward shortcut an axis
 * whose output size equals the input's to a copy, even when a scale factor made forward resample it; there
 * they are not the gradient of PyTorch's forward, and ours differ from them.)
 *
 * Output is produced in blocks of BLK columns whose column taps are computed once per block and plane, so
 * the tap arithmetic costs O(Wo + Ho) per plane instead of O(Ho·Wo). Forward is parallel over (plane, block);
 * backward over planes only, since neighbouring column blocks share input columns. */
#include <math.h>
#include <string.h>

#include "ops/resample_kernels.h"

#define PAR_THRESHOLD 16384
#define BLK 128

/* One axis of the resampling: sizes and PyTorch's float scale. */
typedef struct axis {
    int64_t in, out;
    double user;   /* the user's scale factor, 0 if none */
    float scale;   /* input step per output step */
} axis;

typedef struct taps {
    int64_t i[4];
    float w[4];
} taps;

static int tap_count(vt_interp_mode m) { return m == VT_INTERP_NEAREST ? 1 : m == VT_INTERP_BILINEAR ? 2 : 4; }

static axis make_axis(const vt_interp_geom *g, bool vertical) {
    axis a = {vertical ? g->H : g->W, vertical ? g->Ho : g->Wo, vertical ? g->scale_h : g->scale_w, 0.0f};
    if (g->align_corners && g->mode != VT_INTERP_NEAREST)
        a.scale = a.out > 1 ? (float)(a.in - 1) / (float)(a.out - 1) : 0.0f;
    else
        a.scale = a.user > 0 ? (float)(1.0 / a.user) : (float)a.in / (float)a.out;
    return a;
}

/* area_pixel_compute_source_index: the half-pixel shift is computed in double, then rounded to float. */
static inline float source_index(const axis *a, int64_t o, bool align_corners, bool cubic) {
    if (align_corners) return a->scale * (float)o;
    float s = (float)((double)a->scale * ((double)o + 0.5) - 0.5);
    return (!cubic && s < 0.0f) ? 0.0f : s;
}

static inline int64_t clampi(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : (v > hi ? hi : v); }

/* Keys' cubic convolution weights for the taps at -1, 0, 1, 2 around a point t in [0, 1). */
static inline void cubic_weights(float t, float *w) {
    const float A = -0.75f;
    float x1 = t, x2 = 1.0f - t;
    w[0] = ((A * (x1 + 1.0f) - 5.0f * A) * (x1 + 1.0f) + 8.0f * A) * (x1 + 1.0f) - 4.0f * A;
    w[1] = ((A + 2.0f) * x1 - (A + 3.0f)) * x1 * x1 + 1.0f;
    w[2] = ((A + 2.0f) * x2 - (A + 3.0f)) * x2 * x2 + 1.0f;
    w[3] = ((A * (x2 + 1.0f) - 5.0f * A) * (x2 + 1.0f) + 8.0f * A) * (x2 + 1.0f) - 4.0f * A;
}

static void axis_taps(const vt_interp_geom *g, const axis *a, int64_t o, taps *t) {
    switch (g->mode) {
    case VT_INTERP_NEAREST:
        t->i[0] = clampi((int64_t)floorf((float)o * a->scale), 0, a->in - 1);
        t->w[0] = 1.0f;
        break;
    case VT_INTERP_BILINEAR:
        if (a->out == a->in) {
            t->i[0] = t->i[1] = o;
            t->w[0] = 1.0f;
            t->w[1] = 0.0f;
        } else {
            float r = source_index(a, o, g->align_corners, false);
            int64_t i0 = (int64_t)r;
            t->i[0] = i0;
            t->i[1] = i0 + (i0 < a->in - 1 ? 1 : 0);
            float l1 = r - (float)i0;
            l1 = l1 < 0.0f ? 0.0f : (l1 > 1.0f ? 1.0f : l1);
            t->w[0] = 1.0f - l1;
            t->w[1] = l1;
        }
        break;
    case VT_INTERP_BICUBIC: {
        float r = source_index(a, o, g->align_corners, true);
        float f = floorf(r);
        int64_t i0 = (int64_t)f;
        cubic_weights(r - f, t->w);
        for (int k = 0; k < 4; k++) t->i[k] = clampi(i0 - 1 + k, 0, a->in - 1);
        break;
    }
    }
}

/* Output columns [ow0, ow1) of every row of one plane. */
static void interp_block(const vt_interp_geom *g, const axis *ay, const taps *tx, int nt, const float *x,
                         float *y, int64_t ow0, int64_t ow1) {
    for (int64_t oh = 0; oh < g->Ho; oh++) {
        taps ty;
        axis_taps(g, ay, oh, &ty);
        float *yr = y + oh * g->Wo;
        for (int64_t ow = ow0; ow < ow1; ow++) {
            const taps *t = &tx[ow - ow0];
            float acc = 0.0f;
            for (int j = 0; j < nt; j++) {
                const float *xr = x + ty.i[j] * g->W;
                float row = 0.0f;
                for (int i = 0; i < nt; i++) row += xr[t->i[i]] * t->w[i];
                acc += row * ty.w[j];
            }
            yr[ow] = acc;
        }
    }
}

static void cpu_interpolate(vt_ctx *c, const vt_interp_geom *g, const float *x, float *y) {
    const axis ay = make_axis(g, true), ax = make_axis(g, false);
    const int nt = tap_count(g->mode);
    const int64_t nblk = (g->Wo + BLK - 1) / BLK, HW = g->H * g->W, HWo = g->Ho * g->Wo;
#pragma omp parallel for num_threads(vt_ctx_threads(c)) if (g->planes * HWo * nt * nt > PAR_THRESHOLD)
    for (int64_t u = 0; u < g->planes * nblk; u++) {
        const int64_t p = u / nblk, ow0 = (u % nblk) * BLK, ow1 = ow0 + BLK < g->Wo ? ow0 + BLK : g->Wo;
        taps tx[BLK];
        for (int64_t ow = ow0; ow < ow1; ow++) axis_taps(g, &ax, ow, &tx[ow - ow0]);
        interp_block(g, &ay, tx, nt, x + p * HW, y + p * HWo, ow0, ow1);
    }
}

static void cpu_interpolate_backward(vt_ctx *c, const vt_interp_geom *g, const float *gy, float *gx) {
    const axis ay = make_axis(g, true), ax = make_axis(g, false);
    const int nt = tap_count(g->mode);
    const int64_t HW = g->H * g->W, HWo = g->Ho * g->Wo;
#pragma omp parallel for num_threads(vt_ctx_threads(c)) if (g->planes * HWo * nt * nt > PAR_THRESHOLD)
    for (int64_t p = 0; p < g->planes; p++) {
        float *xp = gx + p * HW;
        const float *yp = gy + p * HWo;
        memset(xp, 0, (size_t)HW * sizeof *xp);
        taps tx[BLK];
        for (int64_t ow0 = 0; ow0 < g->Wo; ow0 += BLK) {
            const int64_t ow1 = ow0 + BLK < g->Wo ? ow0 + BLK : g->Wo;
            for (int64_t ow = ow0; ow < ow1; ow++) axis_taps(g, &ax, ow, &tx[ow - ow0]);
            for (int64_t oh = 0; oh < g->Ho; oh++) {
                taps ty;
                axis_taps(g, &ay, oh, &ty);
                for (int64_t ow = ow0; ow < ow1; ow++) {
                    const taps *t = &tx[ow - ow0];
                    const float v = yp[oh * g->Wo + ow];
                    for (int j = 0; j < nt; j++) {
                        float *xr = xp + ty.i[j] * g->W;
                        for (int i = 0; i < nt; i++) xr[t->i[i]] += ty.w[j] * t->w[i] * v;
                    }
                }
            }
        }
    }
}

const vt_resample_kernels vt_cpu_resample_kernels = {
    .size = sizeof(vt_resample_kernels),
    .interpolate = cpu_interpolate,
    .interpolate_backward = cpu_interpolate_backward,
    .grid_sample = vt_cpu_grid_sample,
    .grid_sample_backward = vt_cpu_grid_sample_backward,
};
