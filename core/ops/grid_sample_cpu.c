/* CPU grid_sample (bilinear, zero padding), in the arithmetic of PyTorch's vectorised CPU kernel
 * (GridSamplerKernel.cpp): unnormalise as (g + 1)·s - 0.5 (s = size/2) or (g + 1)·s (s = (size-1)/2 with
 * align_corners), corner weights from the floor, out-of-range corners read as 0 but keep their weight, so a
 * NaN coordinate gives NaN as in PyTorch.
 *
 * Points are handled in blocks whose interpolation parameters are computed once and reused for every
 * channel. The input gradient is a scatter: each parallel unit owns whole (image, channel-range) planes and
 * visits points in order, so the sums never depend on the thread count. */
#include <math.h>
#include <string.h>

#include "ops/resample_kernels.h"

#define BLK 64
#define PAR_THRESHOLD 8192

/* Bilinear parameters of one sample point. */
typedef struct pt {
    int64_t xw, yn;           /* west column, north row (clamped far outside, where every corner is masked) */
    float e, w, s, n;         /* distances: 1 - (x - xw), x - xw, 1 - (y - yn), y - yn */
    bool in_w, in_e, in_n, in_s;
} pt;

static inline int64_t safe_floor(float f, int64_t size) {
    if (!(f >= -2.0f)) return -2; /* also NaN */
    if (f > (float)size) return size;
    return (int64_t)f;
}

static inline void make_pt(float gx, float gy, int64_t H, int64_t W, bool align, pt *p) {
    float sx = align ? (float)(W - 1) / 2 : (float)W / 2, sy = align ? (float)(H - 1) / 2 : (float)H / 2;
    float x = (gx + 1.0f) * sx, y = (gy + 1.0f) * sy;
    if (!align) {
        x -= 0.5f;
        y -= 0.5f;
    }
    float fx = floorf(x), fy = floorf(y);
    p->w = x - fx;
    p->e = 1.0f - p->w;
    p->n = y - fy;
    p->s = 1.0f - p->n;
    p->xw = safe_floor(fx, W);
    p->yn = safe_floor(fy, H);
    p->in_w = p->xw >= 0 && p->xw < W;
    p->in_e = p->xw + 1 >= 0 && p->xw + 1 < W;
    p->in_n = p->yn >= 0 && p->yn < H;
    p->in_s = p->yn + 1 >= 0 && p->yn + 1 < H;
}

/* The four corner values of plane x at p (0 outside). */
static inline void corners(const float *x, int64_t W, const pt *p, float *nw, float *ne, float *sw, float *se) {
    const int64_t o = p->yn * W + p->xw;
    *nw = p->in_n && p->in_w ? x[o] : 0.0f;
    *ne = p->in_n && p->in_e ? x[o + 1] : 0.0f;
    *sw = p->in_s && p->in_w ? x[o + W] : 0.0f;
    *se = p->in_s && p->in_e ? x[o + W + 1] : 0.0f;
}

static void block_params(const float *grid, int64_t n, int64_t P, int64_t q0, int64_t q1, int64_t H, int64_t W,
                         bool align, pt *ps) {
    for (int64_t q = q0; q < q1; q++) {
        const float *g = grid + (n * P + q) * 2;
        make_pt(g[0], g[1], H, W, align, &ps[q - q0]);
    }
}

void vt_cpu_grid_sample(vt_ctx *c, bool align, int64_t N, int64_t C, int64_t H, int64_t W, int64_t Ho, int64_t Wo,
                        const float *x, const float *grid, float *y) {
    const int64_t P = Ho * Wo, nblk = (P + BLK - 1) / BLK;
#pragma omp parallel for num_threads(vt_ctx_threads(c)) if (N * C * P > PAR_THRESHOLD)
    for (int64_t u = 0; u < N * nblk; u++) {
        const int64_t n = u / nblk, q0 = (u % nblk) * BLK, q1 = q0 + BLK < P ? q0 + BLK : P;
        pt ps[BLK];
        block_params(grid, n, P, q0, q1, H, W, align, ps);
        for (int64_t ch = 0; ch < C; ch++) {
            const float *xp = x + (n * C + ch) * H * W;
            float *yp = y + (n * C + ch) * P;
            for (int64_t q = q0; q < q1; q++) {
                const pt *p = &ps[q - q0];
                float nw, ne, sw, se;
                corners(xp, W, p, &nw, &ne, &sw, &se);
                yp[q] = nw * (p->s * p->e) + ne * (p->s * p->w) + sw * (p->n * p->e) + se * (p->n * p->w);
            }
        }
    }
}

/* gx planes: units of (image, channel range). */
static void grad_input(vt_ctx *c, bool align, int64_t N, int64_t C, int64_t H, int64_t W, int64_t P,
                       const float *grid, const float *gy, float *gx) {
    int nt = vt_ctx_threads(c);
    int64_t cb = C / (4 * (int64_t)nt) > 1 ? C / (4 * (int64_t)nt) : 1; /* enough units to balance the threads */
    const int64_t ncb = (C + cb - 1) / cb;
#pragma omp parallel for num_threads(nt) if (N * C * P > PAR_THRESHOLD)
    for (int64_t u = 0; u < N * ncb; u++) {
        const int64_t n = u / ncb, c0 = (u % ncb) * cb, c1 = c0 + cb < C ? c0 + cb : C;
        memset(gx + (n * C + c0) * H * W, 0, (size_t)((c1 - c0) * H * W) * sizeof *gx);
        pt ps[BLK];
        for (int64_t q0 = 0; q0 < P; q0 += BLK) {
            const int64_t q1 = q0 + BLK < P ? q0 + BLK : P;
            block_params(grid, n, P, q0, q1, H, W, align, ps);
            for (int64_t ch = c0; ch < c1; ch++) {
                float *xp = gx + (n * C + ch) * H * W;
                const float *gp = gy + (n * C + ch) * P;
                for (int64_t q = q0; q < q1; q++) {
                    const pt *p = &ps[q - q0];
                    const float g = gp[q];
                    const int64_t o = p->yn * W + p->xw;
                    if (p->in_n && p->in_w) xp[o] += g * (p->s * p->e);
                    if (p->in_n && p->in_e) xp[o + 1] += g * (p->s * p->w);
                    if (p->in_s && p->in_w) xp[o + W] += g * (p->n * p->e);
                    if (p->in_s && p->in_e) xp[o + W + 1] += g * (p->n * p->w);
                }
            }
        }
    }
}

/* d out / d grid, summed over channels per point, times the unnormalisation's slope. */
static void grad_grid(vt_ctx *c, bool align, int64_t N, int64_t C, int64_t H, int64_t W, int64_t P,
                      const float *x, const float *grid, const float *gy, float *ggrid) {
    const int64_t nblk = (P + BLK - 1) / BLK;
    const float mx = align ? (float)(W - 1) / 2 : (float)W / 2, my = align ? (float)(H - 1) / 2 : (float)H / 2;
#pragma omp parallel for num_threads(vt_ctx_threads(c)) if (N * C * P > PAR_THRESHOLD)
    for (int64_t u = 0; u < N * nblk; u++) {
        const int64_t n = u / nblk, q0 = (u % nblk) * BLK, q1 = q0 + BLK < P ? q0 + BLK : P;
        pt ps[BLK];
        float ax[BLK] = {0}, ay[BLK] = {0};
        block_params(grid, n, P, q0, q1, H, W, align, ps);
        for (int64_t ch = 0; ch < C; ch++) {
            const float *xp = x + (n * C + ch) * H * W;
            const float *gp = gy + (n * C + ch) * P;
            for (int64_t q = q0; q < q1; q++) {
                const pt *p = &ps[q - q0];
                float nw, ne, sw, se;
                corners(xp, W, p, &nw, &ne, &sw, &se);
                const float g = gp[q];
                ax[q - q0] += ((ne - nw) * p->s + (se - sw) * p->n) * g;
                ay[q - q0] += ((sw - nw) * p->e + (se - ne) * p->w) * g;
            }
        }
        for (int64_t q = q0; q < q1; q++) {
            ggrid[(n * P + q) * 2] = ax[q - q0] * mx;
            ggrid[(n * P + q) * 2 + 1] = ay[q - q0] * my;
        }
    }
}

void vt_cpu_grid_sample_backward(vt_ctx *c, bool align, int64_t N, int64_t C, int64_t H, int64_t W, int64_t Ho,
                                 int64_t Wo, const float *x, const float *grid, const float *gy, float *gx,
                                 float *ggrid) {
    const int64_t P = Ho * Wo;
    if (gx) grad_input(c, align, N, C, H, W, P, grid, gy, gx);
    if (ggrid) grad_grid(c, align, N, C, H, W, P, x, grid, gy, ggrid);
}
