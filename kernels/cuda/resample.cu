/* CUDA resample kernels (contract: core/ops/resample_kernels.h; reference: core/ops/resample_cpu.c and
 * grid_sample_cpu.c).
 *
 * Arithmetic: the CPU is built as ISO C11 (no FMA contraction), so every float expression whose rounding
 * matters here (source indices, tap weights, the sums) is written with the _rn intrinsics, which nvcc never
 * fuses: tap indices, and with them nearest and the border cases, come out as on the CPU.
 *
 * interpolate: per-axis tap tables (index, weight) are computed once per call by a kernel into scratch.
 * Forward is one thread per output pixel. Backward is a gather, no atomics: tap indices are non-decreasing
 * in the output index, so the outputs reading input i form a range found by binary search; one thread per
 * input pixel sums over that range (deterministic).
 *
 * grid_sample backward (input gradient) is a gather too: points are sorted stably (cub radix sort) by the
 * cell of their north-west corner; one thread per input pixel merges the four neighbouring cells' point
 * lists in increasing point order, which is the CPU's summation order, so the sums match it exactly. The
 * grid gradient is one thread per point, looping over channels in order. */
#include <math.h>
#include <stdint.h>

#include <cub/device/device_radix_sort.cuh>

#include "cuda_state.h"
#include "ops/resample_kernels.h"

#define THREADS 256

typedef unsigned long long u64;

#define GRID_LOOP(i, n) \
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < (n); i += (int64_t)gridDim.x * blockDim.x)

/* Unfused float arithmetic (see the file comment). */
static __device__ __forceinline__ float fm(float a, float b) { return __fmul_rn(a, b); }
static __device__ __forceinline__ float fa(float a, float b) { return __fadd_rn(a, b); }
static __device__ __forceinline__ float fs(float a, float b) { return __fsub_rn(a, b); }

/* ---- interpolate ---- */

/* One axis of the resampling: sizes and PyTorch's float scale (computed on the host as the CPU does). */
typedef struct axis {
    int64_t in, out;
    float scale;
} axis;

typedef struct taps {
    int64_t i[4];
    float w[4];
} taps;

typedef struct interp_cfg {
    vt_interp_mode mode;
    bool align;
    int nt;
} interp_cfg;

static int tap_count(vt_interp_mode m) { return m == VT_INTERP_NEAREST ? 1 : m == VT_INTERP_BILINEAR ? 2 : 4; }

static axis make_axis(const vt_interp_geom *g, bool vertical) {
    const int64_t in = vertical ? g->H : g->W, out = vertical ? g->Ho : g->Wo;
    const double user = vertical ? g->scale_h : g->scale_w;
    axis a = {in, out, 0.0f};
    if (g->align_corners && g->mode != VT_INTERP_NEAREST)
        a.scale = out > 1 ? (float)(in - 1) / (float)(out - 1) : 0.0f;
    else
        a.scale = user > 0 ? (float)(1.0 / user) : (float)in / (float)out;
    return a;
}

/* area_pixel_compute_source_index: the half-pixel shift is computed in double, then rounded to float. */
static __device__ float source_index(const axis &a, int64_t o, bool align, bool cubic) {
    if (align) return fm(a.scale, (float)o);
    const float s = __double2float_rn(__dadd_rn(__dmul_rn((double)a.scale, __dadd_rn((double)o, 0.5)), -0.5));
    return (!cubic && s < 0.0f) ? 0.0f : s;
}

static __device__ int64_t clampi(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : (v > hi ? hi : v); }

/* Keys' cubic convolution weights (A = -0.75) for the taps at -1, 0, 1, 2 around t in [0, 1), term by term
 * as the CPU writes them. */
static __device__ float cubic_outer(float x) { /* ((A·x − 5A)·x + 8A)·x − 4A for x in [1, 2] */
    const float A = -0.75f;
    return fs(fm(fa(fm(fs(fm(A, x), 5.0f * A), x), 8.0f * A), x), 4.0f * A);
}
static __device__ float cubic_inner(float x) { /* ((A + 2)·x − (A + 3))·x·x + 1 for x in [0, 1] */
    const float A = -0.75f;
    return fa(fm(fm(fs(fm(A + 2.0f, x), A + 3.0f), x), x), 1.0f);
}

static __device__ void axis_taps(const axis &a, const interp_cfg &cfg, int64_t o, taps *t) {
    switch (cfg.mode) {
    case VT_INTERP_NEAREST:
        t->i[0] = clampi((int64_t)floorf(fm((float)o, a.scale)), 0, a.in - 1);
        t->w[0] = 1.0f;
        break;
    case VT_INTERP_BILINEAR:
        if (a.out == a.in) {
            t->i[0] = t->i[1] = o;
            t->w[0] = 1.0f;
            t->w[1] = 0.0f;
        } else {
            const float r = source_index(a, o, cfg.align, false);
            const int64_t i0 = (int64_t)r;
            t->i[0] = i0;
            t->i[1] = i0 + (i0 < a.in - 1 ? 1 : 0);
            float l1 = fs(r, (float)i0);
            l1 = l1 < 0.0f ? 0.0f : (l1 > 1.0f ? 1.0f : l1);
            t->w[0] = fs(1.0f, l1);
            t->w[1] = l1;
        }
        break;
    case VT_INTERP_BICUBIC: {
        const float r = source_index(a, o, cfg.align, true);
        const float f = floorf(r);
        const int64_t i0 = (int64_t)f;
        const float x1 = fs(r, f), x2 = fs(1.0f, x1);
        t->w[0] = cubic_outer(fa(x1, 1.0f));
        t->w[1] = cubic_inner(x1);
        t->w[2] = cubic_inner(x2);
        t->w[3] = cubic_outer(fa(x2, 1.0f));
        for (int k = 0; k < 4; k++) t->i[k] = clampi(i0 - 1 + k, 0, a.in - 1);
        break;
    }
    }
}

static __global__ void taps_k(axis a, interp_cfg cfg, taps *out) {
    GRID_LOOP(o, a.out) {
        taps t = {{0, 0, 0, 0}, {0.0f, 0.0f, 0.0f, 0.0f}};
        axis_taps(a, cfg, o, &t);
        out[o] = t;
    }
}

static __global__ void interp_forward_k(interp_cfg cfg, const taps *ty_, const taps *tx_, const float *x, float *y,
                                        int64_t planes, int64_t H, int64_t W, int64_t Ho, int64_t Wo) {
    GRID_LOOP(e, planes * Ho * Wo) {
        const int64_t ow = e % Wo, oh = (e / Wo) % Ho, p = e / (Ho * Wo);
        const taps ty = ty_[oh], tx = tx_[ow];
        const float *xp = x + p * H * W;
        float acc = 0.0f;
        for (int j = 0; j < cfg.nt; j++) {
            const float *xr = xp + ty.i[j] * W;
            float row = 0.0f;
            for (int i = 0; i < cfg.nt; i++) row = fa(row, fm(xr[tx.i[i]], tx.w[i]));
            acc = fa(acc, fm(row, ty.w[j]));
        }
        y[e] = acc;
    }
}

/* Outputs [lo, hi) of an axis that may read input i: the first o whose last tap reaches i, up to the first
 * o whose first tap passes i (both tap ends are non-decreasing in o). */
static __global__ void ranges_k(const taps *t, int64_t in, int64_t out, int nt, int64_t *range) {
    GRID_LOOP(i, in) {
        int64_t lo = 0, hi = out;
        while (lo < hi) { /* first o with t[o].i[nt-1] >= i */
            const int64_t m = lo + (hi - lo) / 2;
            if (t[m].i[nt - 1] >= i) hi = m;
            else lo = m + 1;
        }
        const int64_t first = lo;
        lo = first, hi = out;
        while (lo < hi) { /* first o with t[o].i[0] > i */
            const int64_t m = lo + (hi - lo) / 2;
            if (t[m].i[0] > i) hi = m;
            else lo = m + 1;
        }
        range[2 * i] = first;
        range[2 * i + 1] = lo;
    }
}

/* gx[p, ih, iw] = Σ over the taps (oh, j) hitting ih and (ow, i) hitting iw of wy·wx·gy (overwrites). */
static __global__ void interp_backward_k(interp_cfg cfg, const taps *ty_, const taps *tx_, const int64_t *ry,
                                         const int64_t *rx, const float *gy, float *gx, int64_t planes, int64_t H,
                                         int64_t W, int64_t Ho, int64_t Wo) {
    GRID_LOOP(e, planes * H * W) {
        const int64_t iw = e % W, ih = (e / W) % H, p = e / (H * W);
        const float *gp = gy + p * Ho * Wo;
        const int64_t oh0 = ry[2 * ih], oh1 = ry[2 * ih + 1], ow0 = rx[2 * iw], ow1 = rx[2 * iw + 1];
        float acc = 0.0f;
        for (int64_t oh = oh0; oh < oh1; oh++) {
            const taps ty = ty_[oh];
            for (int j = 0; j < cfg.nt; j++) {
                if (ty.i[j] != ih) continue;
                float row = 0.0f;
                for (int64_t ow = ow0; ow < ow1; ow++) {
                    const taps &tx = tx_[ow];
                    const float v = gp[oh * Wo + ow];
                    for (int i = 0; i < cfg.nt; i++)
                        if (tx.i[i] == iw) row = fa(row, fm(tx.w[i], v));
                }
                acc = fa(acc, fm(ty.w[j], row));
            }
        }
        gx[e] = acc;
    }
}

/* Tap tables of both axes in one scratch block: [Ho] y taps, then [Wo] x taps. */
static taps *make_tables(vt_ctx *c, cudaStream_t s, const vt_interp_geom *g, const interp_cfg &cfg, size_t *bytes) {
    *bytes = (size_t)(g->Ho + g->Wo) * sizeof(taps);
    taps *t = (taps *)vt_cuda_scratch(c, *bytes ? *bytes : 1);
    if (!t) return NULL;
    const axis ay = make_axis(g, true), ax = make_axis(g, false);
    bool ok = true;
    if (g->Ho > 0) {
        taps_k<<<vt_cuda_blocks(g->Ho, THREADS), THREADS, 0, s>>>(ay, cfg, t);
        ok = vt_cuda_launched(c, "interpolate: taps");
    }
    if (ok && g->Wo > 0) {
        taps_k<<<vt_cuda_blocks(g->Wo, THREADS), THREADS, 0, s>>>(ax, cfg, t + g->Ho);
        ok = vt_cuda_launched(c, "interpolate: taps");
    }
    if (!ok) {
        vt_cuda_scratch_free(c, t, *bytes ? *bytes : 1);
        return NULL;
    }
    return t;
}

static void cuda_interpolate(vt_ctx *c, const vt_interp_geom *g, const float *x, float *y) {
    vt_cuda_state *st = vt_cuda_current(c);
    const int64_t total = g->planes * g->Ho * g->Wo;
    if (!st || total <= 0) return;
    const interp_cfg cfg = {g->mode, g->align_corners, tap_count(g->mode)};
    size_t bytes;
    taps *t = make_tables(c, st->stream, g, cfg, &bytes);
    if (!t) return;
    interp_forward_k<<<vt_cuda_blocks(total, THREADS), THREADS, 0, st->stream>>>(cfg, t, t + g->Ho, x, y, g->planes,
                                                                                g->H, g->W, g->Ho, g->Wo);
    vt_cuda_launched(c, "interpolate");
    vt_cuda_scratch_free(c, t, bytes ? bytes : 1);
}

static void cuda_interpolate_backward(vt_ctx *c, const vt_interp_geom *g, const float *gy, float *gx) {
    vt_cuda_state *st = vt_cuda_current(c);
    const int64_t total = g->planes * g->H * g->W;
    if (!st || total <= 0) return;
    const interp_cfg cfg = {g->mode, g->align_corners, tap_count(g->mode)};
    size_t tbytes;
    taps *t = make_tables(c, st->stream, g, cfg, &tbytes);
    if (!t) return;
    const size_t rbytes = (size_t)(g->H + g->W) * 2 * sizeof(int64_t);
    int64_t *r = (int64_t *)vt_cuda_scratch(c, rbytes);
    if (r) {
        ranges_k<<<vt_cuda_blocks(g->H, THREADS), THREADS, 0, st->stream>>>(t, g->H, g->Ho, cfg.nt, r);
        bool ok = vt_cuda_launched(c, "interpolate_backward: ranges");
        if (ok) {
            ranges_k<<<vt_cuda_blocks(g->W, THREADS), THREADS, 0, st->stream>>>(t + g->Ho, g->W, g->Wo, cfg.nt,
                                                                              r + 2 * g->H);
            ok = vt_cuda_launched(c, "interpolate_backward: ranges");
        }
        if (ok) {
            interp_backward_k<<<vt_cuda_blocks(total, THREADS), THREADS, 0, st->stream>>>(
                cfg, t, t + g->Ho, r, r + 2 * g->H, gy, gx, g->planes, g->H, g->W, g->Ho, g->Wo);
            vt_cuda_launched(c, "interpolate_backward");
        }
        vt_cuda_scratch_free(c, r, rbytes);
    }
    vt_cuda_scratch_free(c, t, tbytes ? tbytes : 1);
}

/* ---- grid_sample (bilinear, zero padding) ---- */

/* Bilinear parameters of one sample point, as grid_sample_cpu.c computes them. */
typedef struct pt {
    int64_t xw, yn;   /* west column, north row (clamped far outside, where every corner is masked) */
    float e, w, s, n; /* distances: 1 - (x - xw), x - xw, 1 - (y - yn), y - yn */
    bool in_w, in_e, in_n, in_s;
} pt;

static __device__ int64_t safe_floor(float f, int64_t size) {
    if (!(f >= -2.0f)) return -2; /* also NaN */
    if (f > (float)size) return size;
    return (int64_t)f;
}

static __device__ pt make_pt(float gx, float gy, int64_t H, int64_t W, bool align) {
    const float sx = align ? (float)(W - 1) / 2 : (float)W / 2, sy = align ? (float)(H - 1) / 2 : (float)H / 2;
    float x = fm(fa(gx, 1.0f), sx), y = fm(fa(gy, 1.0f), sy);
    if (!align) {
        x = fs(x, 0.5f);
        y = fs(y, 0.5f);
    }
    const float fx = floorf(x), fy = floorf(y);
    pt p;
    p.w = fs(x, fx);
    p.e = fs(1.0f, p.w);
    p.n = fs(y, fy);
    p.s = fs(1.0f, p.n);
    p.xw = safe_floor(fx, W);
    p.yn = safe_floor(fy, H);
    p.in_w = p.xw >= 0 && p.xw < W;
    p.in_e = p.xw + 1 >= 0 && p.xw + 1 < W;
    p.in_n = p.yn >= 0 && p.yn < H;
    p.in_s = p.yn + 1 >= 0 && p.yn + 1 < H;
    return p;
}

/* The four corner values of plane x at p (0 outside). */
static __device__ void corners(const float *x, int64_t W, const pt &p, float *nw, float *ne, float *sw, float *se) {
    const int64_t o = p.yn * W + p.xw;
    *nw = p.in_n && p.in_w ? x[o] : 0.0f;
    *ne = p.in_n && p.in_e ? x[o + 1] : 0.0f;
    *sw = p.in_s && p.in_w ? x[o + W] : 0.0f;
    *se = p.in_s && p.in_e ? x[o + W + 1] : 0.0f;
}

static __global__ void grid_sample_k(bool align, int64_t N, int64_t C, int64_t H, int64_t W, int64_t P,
                                     const float *x, const float *grid, float *y) {
    GRID_LOOP(e, N * C * P) {
        const int64_t q = e % P, nc = e / P, n = nc / C;
        const float *g = grid + (n * P + q) * 2;
        const pt p = make_pt(g[0], g[1], H, W, align);
        float nw, ne, sw, se;
        corners(x + nc * H * W, W, p, &nw, &ne, &sw, &se);
        y[e] = fa(fa(fa(fm(nw, fm(p.s, p.e)), fm(ne, fm(p.s, p.w))), fm(sw, fm(p.n, p.e))), fm(se, fm(p.n, p.w)));
    }
}

static void cuda_grid_sample(vt_ctx *c, bool align, int64_t N, int64_t C, int64_t H, int64_t W, int64_t Ho, int64_t Wo,
                             const float *x, const float *grid, float *y) {
    vt_cuda_state *st = vt_cuda_current(c);
    const int64_t P = Ho * Wo, total = N * C * P;
    if (!st || total <= 0) return;
    grid_sample_k<<<vt_cuda_blocks(total, THREADS), THREADS, 0, st->stream>>>(align, N, C, H, W, P, x, grid, y);
    vt_cuda_launched(c, "grid_sample");
}

/* d out / d grid, summed over channels in order per point, times the unnormalisation's slope. */
static __global__ void grid_grad_k(bool align, int64_t N, int64_t C, int64_t H, int64_t W, int64_t P, const float *x,
                                   const float *grid, const float *gy, float *ggrid) {
    const float mx = align ? (float)(W - 1) / 2 : (float)W / 2, my = align ? (float)(H - 1) / 2 : (float)H / 2;
    GRID_LOOP(u, N * P) {
        const int64_t n = u / P, q = u % P;
        const pt p = make_pt(grid[u * 2], grid[u * 2 + 1], H, W, align);
        float ax = 0.0f, ay = 0.0f;
        for (int64_t ch = 0; ch < C; ch++) {
            float nw, ne, sw, se;
            corners(x + (n * C + ch) * H * W, W, p, &nw, &ne, &sw, &se);
            const float g = gy[(n * C + ch) * P + q];
            ax = fa(ax, fm(fa(fm(fs(ne, nw), p.s), fm(fs(se, sw), p.n)), g));
            ay = fa(ay, fm(fa(fm(fs(sw, nw), p.e), fm(fs(se, ne), p.w)), g));
        }
        ggrid[u * 2] = fm(ax, mx);
        ggrid[u * 2 + 1] = fm(ay, my);
    }
}

/* Sort key of point u: the cell (yn, xw) of its north-west corner, yn in [-1, H-1] and xw in [-1, W-1]
 * (cells that can touch the image), numbered per image; any other point (also NaN) gets the sentinel, which
 * sorts after every cell. */
static __global__ void cell_keys_k(bool align, int64_t N, int64_t H, int64_t W, int64_t P, const float *grid, u64 *key,
                                   int64_t *pos) {
    const int64_t ncell = (H + 1) * (W + 1);
    GRID_LOOP(u, N * P) {
        const pt p = make_pt(grid[u * 2], grid[u * 2 + 1], H, W, align);
        const int64_t n = u / P;
        const bool touches = p.yn >= -1 && p.yn <= H - 1 && p.xw >= -1 && p.xw <= W - 1;
        key[u] = touches ? (u64)(n * ncell + (p.yn + 1) * (W + 1) + (p.xw + 1)) : (u64)(N * ncell);
        pos[u] = u;
    }
}

/* start[kv] = the first sorted position whose key is >= kv, for kv in [0, nkeys]. */
static __global__ void cell_starts_k(const u64 *key, int64_t total, int64_t nkeys, int64_t *start) {
    GRID_LOOP(kv, nkeys + 1) {
        int64_t lo = 0, hi = total;
        while (lo < hi) {
            const int64_t m = lo + (hi - lo) / 2;
            if (key[m] >= (u64)kv) hi = m;
            else lo = m + 1;
        }
        start[kv] = lo;
    }
}

/* gx[n, ch, ih, iw]: the points whose NW corner cell is (ih, iw), (ih, iw-1), (ih-1, iw), (ih-1, iw-1) reach
 * this pixel as their NW, NE, SW, SE corner. Their lists are merged by point index, the CPU's order. */
static __global__ void grid_input_grad_k(bool align, int64_t N, int64_t C, int64_t H, int64_t W, int64_t P,
                                         const float *grid, const float *gy, const int64_t *start, const int64_t *pos,
                                         float *gx) {
    const int64_t ncell = (H + 1) * (W + 1);
    GRID_LOOP(e, N * C * H * W) {
        const int64_t iw = e % W, ih = (e / W) % H, nc = e / (H * W), n = nc / C;
        int64_t b[4], end[4];
        for (int k = 0; k < 4; k++) { /* k: 0 NW, 1 NE, 2 SW, 3 SE — the cell is (ih - k/2, iw - k%2) */
            const int64_t cy = ih - k / 2, cx = iw - k % 2; /* >= -1 always, so the cell exists */
            const int64_t kv = n * ncell + (cy + 1) * (W + 1) + (cx + 1);
            b[k] = start[kv];
            end[k] = start[kv + 1];
        }
        const float *gp = gy + nc * P;
        float acc = 0.0f;
        for (;;) {
            int best = -1;
            int64_t bu = 0;
            for (int k = 0; k < 4; k++)
                if (b[k] < end[k] && (best < 0 || pos[b[k]] < bu)) best = k, bu = pos[b[k]];
            if (best < 0) break;
            b[best]++;
            const pt p = make_pt(grid[bu * 2], grid[bu * 2 + 1], H, W, align);
            const float wgt = best == 0 ? fm(p.s, p.e) : best == 1 ? fm(p.s, p.w) : best == 2 ? fm(p.n, p.e)
                                                                                                : fm(p.n, p.w);
            acc = fa(acc, fm(gp[bu - n * P], wgt));
        }
        gx[e] = acc;
    }
}

static void grid_input_grad(vt_ctx *c, cudaStream_t s, bool align, int64_t N, int64_t C, int64_t H, int64_t W,
                            int64_t P, const float *grid, const float *gy, float *gx) {
    const int64_t total = N * C * H * W, pts = N * P, nkeys = N * (H + 1) * (W + 1);
    if (total <= 0) return;
    if (pts <= 0) { /* no points: nothing reaches the input */
        vt_cuda_ok(c, cudaMemsetAsync(gx, 0, (size_t)total * sizeof *gx, s), "grid_sample_backward: memset");
        return;
    }
    const size_t bytes = (size_t)pts * 2 * (sizeof(u64) + sizeof(int64_t)) + (size_t)(nkeys + 1) * sizeof(int64_t);
    char *buf = (char *)vt_cuda_scratch(c, bytes);
    if (!buf) return;
    u64 *kin = (u64 *)buf, *kout = kin + pts;
    int64_t *pin = (int64_t *)(kout + pts), *pout = pin + pts, *start = pout + pts;
    cell_keys_k<<<vt_cuda_blocks(pts, THREADS), THREADS, 0, s>>>(align, N, H, W, P, grid, kin, pin);
    bool ok = vt_cuda_launched(c, "grid_sample_backward: cell keys");
    int end_bit = 1;
    while (end_bit < 64 && ((u64)nkeys >> end_bit) != 0) end_bit++;
    size_t tbytes = 0;
    ok = ok && vt_cuda_ok(c, cub::DeviceRadixSort::SortPairs(nullptr, tbytes, kin, kout, pin, pout, pts, 0, end_bit, s),
                          "grid_sample_backward: radix sort (size query)");
    void *tmp = ok ? vt_cuda_scratch(c, tbytes ? tbytes : 1) : NULL;
    if (tmp) {
        ok = vt_cuda_ok(c, cub::DeviceRadixSort::SortPairs(tmp, tbytes, kin, kout, pin, pout, pts, 0, end_bit, s),
                        "grid_sample_backward: radix sort");
        vt_cuda_scratch_free(c, tmp, tbytes ? tbytes : 1);
        if (ok) {
            cell_starts_k<<<vt_cuda_blocks(nkeys + 1, THREADS), THREADS, 0, s>>>(kout, pts, nkeys, start);
            ok = vt_cuda_launched(c, "grid_sample_backward: cell starts");
        }
        if (ok) {
            grid_input_grad_k<<<vt_cuda_blocks(total, THREADS), THREADS, 0, s>>>(align, N, C, H, W, P, grid, gy, start,
                                                                                 pout, gx);
            vt_cuda_launched(c, "grid_sample_backward: input");
        }
    }
    vt_cuda_scratch_free(c, buf, bytes);
}

static void cuda_grid_sample_backward(vt_ctx *c, bool align, int64_t N, int64_t C, int64_t H, int64_t W, int64_t Ho,
                                      int64_t Wo, const float *x, const float *grid, const float *gy, float *gx,
                                      float *ggrid) {
    vt_cuda_state *st = vt_cuda_current(c);
    if (!st) return;
    const int64_t P = Ho * Wo;
    if (gx) grid_input_grad(c, st->stream, align, N, C, H, W, P, grid, gy, gx);
    if (ggrid && N * P > 0) {
        grid_grad_k<<<vt_cuda_blocks(N * P, THREADS), THREADS, 0, st->stream>>>(align, N, C, H, W, P, x, grid, gy,
                                                                                ggrid);
        vt_cuda_launched(c, "grid_sample_backward: grid");
    }
}

extern "C" const vt_resample_kernels vt_cuda_resample_kernels = {
    sizeof(vt_resample_kernels),
    cuda_interpolate,
    cuda_interpolate_backward,
    cuda_grid_sample,
    cuda_grid_sample_backward,
};
