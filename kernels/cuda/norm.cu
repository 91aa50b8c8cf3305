/* CUDA kernels of the norm family (the CPU twin is core/ops/norm_cpu.c, the specification).
 *
 * Forward: one block per row (layer_norm) or per (sample, group) (group_norm): mean around the first element,
 * then Σ(x − mean)², then the affine output, with the CPU's formulas. Backward, with x̂ = (x − mean)·rstd:
 *   layer_norm: dx by one block per row; dw/db by one thread per (chunk, column) summing its chunk's rows in
 *   order into the contract's scratch partials (chunks of vt_layer_norm_chunk_rows rows), then one thread
 *   per column adding the chunk partials in chunk order (the CPU's order exactly).
 *   group_norm: per-(sample, channel) sums Σ dy·x̂ and Σ dy into scratch [2, n, C]; dx by one block per
 *   (sample, group) from those; dw/db by one thread per channel adding samples in order.
 * Block sizes depend on the shapes only and every block sum uses a fixed shuffle tree, so results are
 * bitwise reproducible run to run. */
#include <math.h>
#include <stdint.h>

#include "cuda_state.h"
#include "ops/norm_kernels.h"

#define EW_THREADS 256     /* per-element / per-column kernels */
#define MAX_GRID (1 << 20) /* block-per-row kernels loop over rows beyond this many blocks */

/* Threads of a block reducing n elements: the smallest power of two >= n, within [32, maxt]. */
static unsigned row_threads(int64_t n, unsigned maxt) {
    unsigned t = 32;
    while (t < maxt && (int64_t)t < n) t <<= 1;
    return t;
}

static unsigned row_blocks(int64_t rows) { return (unsigned)(rows < MAX_GRID ? (rows < 1 ? 1 : rows) : MAX_GRID); }

/* Sum of v over the block (blockDim.x a multiple of 32), returned to every thread; fixed order. sh: 32. */
static __device__ float block_sum(float v, float *sh) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    if (lane == 0) sh[warp] = v;
    __syncthreads();
    float t = lane < nw ? sh[lane] : 0.0f; /* every warp does the same, so all threads get the result */
    for (int o = 16; o > 0; o >>= 1) t += __shfl_down_sync(0xffffffffu, t, o);
    t = __shfl_sync(0xffffffffu, t, 0);
    __syncthreads(); /* sh may be reused right after */
    return t;
}

/* mean and 1/sqrt(var + eps) of n contiguous values (biased variance), the mean taken around x[0] as the
 * CPU does so that a large common offset keeps its precision. Every thread of the block gets both. */
static __device__ void block_moments(const float *x, int64_t n, float eps, float *sh, float *mean, float *rstd) {
    const float x0 = n ? x[0] : 0.0f;
    float s = 0.0f;
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) s += x[j] - x0;
    const float m = x0 + block_sum(s, sh) / (float)n;
    float v = 0.0f;
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) v += (x[j] - m) * (x[j] - m);
    *mean = m;
    *rstd = 1.0f / sqrtf(block_sum(v, sh) / (float)n + eps);
}

/* ---- layer_norm ---- */

static __global__ void layer_norm_kernel(const float *x, const float *w, const float *b, float *y, float *mean,
                                         float *rstd, int64_t rows, int64_t d, float eps) {
    __shared__ float sh[32];
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
        const float *xr = x + r * d;
        float *yr = y + r * d, m, rs;
        block_moments(xr, d, eps, sh, &m, &rs);
        if (threadIdx.x == 0) mean[r] = m, rstd[r] = rs;
        for (int64_t i = threadIdx.x; i < d; i += blockDim.x) {
            if (w && b) yr[i] = (xr[i] - m) * rs * w[i] + b[i];
            else if (w) yr[i] = (xr[i] - m) * rs * w[i];
            else if (b) yr[i] = (xr[i] - m) * rs + b[i];
            else yr[i] = (xr[i] - m) * rs;
        }
    }
}

static void cuda_layer_norm(vt_ctx *c, const float *x, const float *w, const float *b, float *y, float *mean,
                            float *rstd, int64_t rows, int64_t d, float eps) {
    vt_cuda_state *s = vt_cuda_current(c);
    if (!s || rows <= 0) return;
    layer_norm_kernel<<<row_blocks(rows), row_threads(d, 256), 0, s->stream>>>(x, w, b, y, mean, rstd, rows, d, eps);
    vt_cuda_launched(c, "layer_norm");
}

/* dx of each row: dx = rstd·(g − mean(g) − x̂·mean(g·x̂)) with g = dy·w (dy when w is NULL). */
static __global__ void layer_norm_dx_kernel(const float *x, const float *w, const float *mean, const float *rstd,
                                            const float *gy, float *dx, int64_t rows, int64_t d) {
    __shared__ float sh[32];
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
        const float *xr = x + r * d, *gr = gy + r * d;
        float *dr = dx + r * d;
        const float m = mean[r], rs = rstd[r];
        float sg = 0.0f, sgx = 0.0f;
        for (int64_t i = threadIdx.x; i < d; i += blockDim.x) {
            const float g = w ? gr[i] * w[i] : gr[i];
            sg += g;
            sgx += g * (xr[i] - m) * rs;
        }
        const float a = block_sum(sg, sh) / (float)d, bb = block_sum(sgx, sh) / (float)d;
        for (int64_t i = threadIdx.x; i < d; i += blockDim.x) {
            const float g = w ? gr[i] * w[i] : gr[i];
            const float xh = (xr[i] - m) * rs;
            dr[i] = rs * (g - a - xh * bb);
        }
    }
}

/* Thread (ch, i): Σ dy·x̂ and Σ dy of column i over the rows of chunk ch, in row order, into the scratch
 * partials scratch[ch·2d + i] (dw) and scratch[ch·2d + d + i] (db). */
static __global__ void layer_norm_partials_kernel(const float *x, const float *mean, const float *rstd,
                                                  const float *gy, float *scratch, bool want_w, bool want_b,
                                                  int64_t rows, int64_t d, int64_t per, int64_t nch) {
    const int64_t step = (int64_t)gridDim.x * blockDim.x;
    for (int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; t < nch * d; t += step) {
        const int64_t ch = t / d, i = t % d;
        const int64_t lo = ch * per, hi = lo + per < rows ? lo + per : rows;
        float pw = 0.0f, pb = 0.0f;
        for (int64_t r = lo; r < hi; r++) {
            const float g = gy[r * d + i];
            const float xh = (x[r * d + i] - mean[r]) * rstd[r];
            pw += g * xh;
            pb += g;
        }
        if (want_w) scratch[ch * 2 * d + i] = pw;
        if (want_b) scratch[ch * 2 * d + d + i] = pb;
    }
}

/* dw[i], db[i]: the chunk partials of column i added in chunk order. */
static __global__ void layer_norm_wb_kernel(const float *scratch, float *dw, float *db, int64_t d, int64_t nch) {
    const int64_t step = (int64_t)gridDim.x * blockDim.x;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < d; i += step) {
        float sw = 0.0f, sb = 0.0f;
        for (int64_t ch = 0; ch < nch; ch++) { /* only the wanted halves were written */
            if (dw) sw += scratch[ch * 2 * d + i];
            if (db) sb += scratch[ch * 2 * d + d + i];
        }
        if (dw) dw[i] = sw;
        if (db) db[i] = sb;
    }
}

static void cuda_layer_norm_backward(vt_ctx *c, const float *x, const float *w, const float *mean, const float *rstd,
                                     const float *gy, float *dx, float *dw, float *db, float *scratch, int64_t rows,
                                     int64_t d) {
    vt_cuda_state *s = vt_cuda_current(c);
    if (!s || d <= 0) return;
    if (dx && rows > 0) {
        layer_norm_dx_kernel<<<row_blocks(rows), row_threads(d, 256), 0, s->stream>>>(x, w, mean, rstd, gy, dx, rows,
                                                                                      d);
        if (!vt_cuda_launched(c, "layer_norm backward (dx)")) return;
    }
    if (!dw && !db) return;
    const int64_t per = vt_layer_norm_chunk_rows(rows), nch = vt_layer_norm_chunks(rows);
    if (nch > 0) {
        layer_norm_partials_kernel<<<vt_cuda_blocks(nch * d, EW_THREADS), EW_THREADS, 0, s->stream>>>(
            x, mean, rstd, gy, scratch, dw != NULL, db != NULL, rows, d, per, nch);
        if (!vt_cuda_launched(c, "layer_norm backward (partials)")) return;
    }
    /* with no rows (nch = 0) this writes zeros, as the CPU */
    layer_norm_wb_kernel<<<vt_cuda_blocks(d, EW_THREADS), EW_THREADS, 0, s->stream>>>(scratch, dw, db, d, nch);
    vt_cuda_launched(c, "layer_norm backward (dw, db)");
}

/* ---- group_norm: x [n, C, hw]; group g of sample s is the contiguous block of C/groups channels ---- */

/* One block per (sample, group) sg: statistics over its cpg·hw values, then y = x·scale + shift per channel. */
static __global__ void __launch_bounds__(1024)
    group_norm_kernel(const float *x, const float *w, const float *b, float *y, float *mean, float *rstd, int64_t n,
                      int64_t C, int64_t hw, int64_t groups, float eps) {
    __shared__ float sh[32];
    const int64_t cpg = C / groups, M = cpg * hw;
    for (int64_t sg = blockIdx.x; sg < n * groups; sg += gridDim.x) {
        const float *xg = x + sg * M;
        float *yg = y + sg * M, m, rs;
        block_moments(xg, M, eps, sh, &m, &rs);
        if (threadIdx.x == 0) mean[sg] = m, rstd[sg] = rs;
        const int64_t c0 = (sg % groups) * cpg;
        for (int64_t j = threadIdx.x; j < M; j += blockDim.x) {
            const int64_t ch = c0 + j / hw;
            const float scale = rs * (w ? w[ch] : 1.0f), shift = (b ? b[ch] : 0.0f) - m * scale;
            yg[j] = xg[j] * scale + shift;
        }
    }
}

static void cuda_group_norm(vt_ctx *c, const float *x, const float *w, const float *b, float *y, float *mean,
                            float *rstd, int64_t n, int64_t C, int64_t hw, int64_t groups, float eps) {
    vt_cuda_state *s = vt_cuda_current(c);
    if (!s || n <= 0 || groups <= 0) return;
    const int64_t M = (C / groups) * hw;
    group_norm_kernel<<<row_blocks(n * groups), row_threads(M, 1024), 0, s->stream>>>(x, w, b, y, mean, rstd, n, C,
                                                                                     hw, groups, eps);
    vt_cuda_launched(c, "group_norm");
}

/* One block per (sample, channel) sc: sa[sc] = Σ_hw dy·x̂, sb[sc] = Σ_hw dy. */
static __global__ void group_norm_channel_sums_kernel(const float *x, const float *mean, const float *rstd,
                                                      const float *gy, float *sa, float *sb, int64_t n, int64_t C,
                                                      int64_t hw, int64_t groups) {
    __shared__ float sh[32];
    const int64_t cpg = C / groups;
    for (int64_t sc = blockIdx.x; sc < n * C; sc += gridDim.x) {
        const int64_t sg = (sc / C) * groups + (sc % C) / cpg;
        const float m = mean[sg], rs = rstd[sg];
        const float *xc = x + sc * hw, *gc = gy + sc * hw;
        float la = 0.0f, lb = 0.0f;
        for (int64_t i = threadIdx.x; i < hw; i += blockDim.x) {
            la += gc[i] * (xc[i] - m) * rs;
            lb += gc[i];
        }
        la = block_sum(la, sh);
        lb = block_sum(lb, sh);
        if (threadIdx.x == 0) sa[sc] = la, sb[sc] = lb;
    }
}

/* One block per (sample, group) sg: dx = rstd·(w·dy − A/M − x̂·B/M) with A = Σ w·Σdy, B = Σ w·Σdy·x̂ over the
 * group's channels (added in channel order, as the CPU) and M = cpg·hw. */
static __global__ void __launch_bounds__(1024)
    group_norm_dx_kernel(const float *x, const float *w, const float *mean, const float *rstd, const float *gy,
                         const float *sa, const float *sb, float *dx, int64_t n, int64_t C, int64_t hw,
                         int64_t groups) {
    __shared__ float shc[2];
    const int64_t cpg = C / groups, M = cpg * hw;
    for (int64_t sg = blockIdx.x; sg < n * groups; sg += gridDim.x) {
        const int64_t s = sg / groups, c0 = (sg % groups) * cpg, off = sg * M;
        const float m = mean[sg], rs = rstd[sg];
        if (threadIdx.x == 0) {
            float A = 0.0f, B = 0.0f;
            for (int64_t k = 0; k < cpg; k++) {
                const float wc = w ? w[c0 + k] : 1.0f;
                A += wc * sb[s * C + c0 + k];
                B += wc * sa[s * C + c0 + k];
            }
            const float Mf = (float)M;
            shc[0] = A / Mf;
            shc[1] = B / Mf;
        }
        __syncthreads();
        const float ca = shc[0], cb = shc[1];
        for (int64_t j = threadIdx.x; j < M; j += blockDim.x) {
            const float wc = w ? w[c0 + j / hw] : 1.0f;
            dx[off + j] = rs * (wc * gy[off + j] - ca - (x[off + j] - m) * rs * cb);
        }
        __syncthreads(); /* shc is rewritten for the next group */
    }
}

/* dw[ch], db[ch]: the per-sample channel sums added in sample order. */
static __global__ void group_norm_wb_kernel(const float *sa, const float *sb, float *dw, float *db, int64_t n,
                                            int64_t C) {
    const int64_t step = (int64_t)gridDim.x * blockDim.x;
    for (int64_t ch = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; ch < C; ch += step) {
        float pw = 0.0f, pb = 0.0f;
        for (int64_t s = 0; s < n; s++) pw += sa[s * C + ch], pb += sb[s * C + ch];
        if (dw) dw[ch] = pw;
        if (db) db[ch] = pb;
    }
}

static void cuda_group_norm_backward(vt_ctx *c, const float *x, const float *w, const float *mean, const float *rstd,
                                     const float *gy, float *dx, float *dw, float *db, float *scratch, int64_t n,
                                     int64_t C, int64_t hw, int64_t groups) {
    vt_cuda_state *s = vt_cuda_current(c);
    if (!s || C <= 0 || groups <= 0) return;
    float *sa = scratch, *sb = scratch + n * C; /* [n, C] each */
    if (n > 0) {
        group_norm_channel_sums_kernel<<<row_blocks(n * C), row_threads(hw, 256), 0, s->stream>>>(
            x, mean, rstd, gy, sa, sb, n, C, hw, groups);
        if (!vt_cuda_launched(c, "group_norm backward (channel sums)")) return;
    }
    if (dx && n > 0) {
        const int64_t M = (C / groups) * hw;
        group_norm_dx_kernel<<<row_blocks(n * groups), row_threads(M, 1024), 0, s->stream>>>(
            x, w, mean, rstd, gy, sa, sb, dx, n, C, hw, groups);
        if (!vt_cuda_launched(c, "group_norm backward (dx)")) return;
    }
    if (!dw && !db) return;
    /* with no samples this writes zeros, as the CPU */
    group_norm_wb_kernel<<<vt_cuda_blocks(C, EW_THREADS), EW_THREADS, 0, s->stream>>>(sa, sb, dw, db, n, C);
    vt_cuda_launched(c, "group_norm backward (dw, db)");
}

extern "C" const vt_norm_kernels vt_cuda_norm_kernels = {
    sizeof(vt_norm_kernels),
    cuda_layer_norm,
    cuda_layer_norm_backward,
    cuda_group_norm,
    cuda_group_norm_backward,
};
