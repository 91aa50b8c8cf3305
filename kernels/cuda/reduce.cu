/* CUDA kernels of the reduce family (the CPU twins are core/ops/reduce_cpu.c and softmax_cpu.c, the
 * specification).
 *
 * Determinism: every float sum is taken in an order fixed by the shapes alone. A row reduction runs on one
 * block whose size is a function of the row length (row_threads); each thread adds its strided elements in
 * index order, then the block combines the thread sums by a fixed shuffle tree. Long rows with few of them
 * go through two stages: fixed-length chunks into scratch, then the chunk sums in the same way. Column sums
 * add rows in order (per chunk of rows, then the chunks in order). max/argmax use a total order (NaN
 * largest, then the lower index on ties), so any combination tree gives the CPU's sequential answer. */
#include <math.h>
#include <stdint.h>

#include "cuda_state.h"
#include "ops/reduce_kernels.h"

#define MAX_THREADS 256  /* block size of row reductions (power of two) */
#define EW_THREADS 256   /* block size of per-element / per-column kernels */
#define MAX_GRID (1 << 20) /* row kernels loop over rows beyond this many blocks */
#define ROW_CHUNK 16384  /* elements per partial of a long row (two-stage reductions) */
#define MAX_CHUNKS 4096  /* partials per row, at most */
#define FEW_ROWS 1024    /* long rows are split only when there are fewer rows than this */

/* Threads of a block reducing rows of n elements: the smallest power of two >= n, within [32, MAX_THREADS]. */
static unsigned row_threads(int64_t n) {
    unsigned t = 32;
    while (t < MAX_THREADS && (int64_t)t < n) t <<= 1;
    return t;
}

static unsigned row_blocks(int64_t rows) { return (unsigned)(rows < MAX_GRID ? (rows < 1 ? 1 : rows) : MAX_GRID); }

/* Chunking of rows of n elements into partials: *L elements per chunk, *nch chunks (1: no second stage). */
static void row_chunks(int64_t rows, int64_t n, int64_t *L, int64_t *nch) {
    if (rows >= FEW_ROWS || n <= 2 * ROW_CHUNK) {
        *L = n;
        *nch = 1;
        return;
    }
    int64_t l = ROW_CHUNK;
    if ((n + l - 1) / l > MAX_CHUNKS) l = (n + MAX_CHUNKS - 1) / MAX_CHUNKS;
    *L = l;
    *nch = (n + l - 1) / l;
}

/* ---- block-wide reductions (blockDim.x a multiple of 32, at most 1024) ---- */

/* Sum of v over the block, returned to every thread. Fixed order for a given blockDim. sh: 32 floats. */
static __device__ float block_sum(float v, float *sh) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    if (lane == 0) sh[warp] = v;
    __syncthreads();
    /* every warp reduces the warp sums the same way, so all threads hold the same result */
    float t = lane < nw ? sh[lane] : 0.0f;
    for (int o = 16; o > 0; o >>= 1) t += __shfl_down_sync(0xffffffffu, t, o);
    t = __shfl_sync(0xffffffffu, t, 0);
    __syncthreads(); /* sh may be reused right after */
    return t;
}

/* Max as the CPU's softmax takes it (v > m ? v : m from -inf: NaN never wins; exp turns a NaN row into NaN
 * either way). */
static __device__ __forceinline__ float fmax_cpu(float a, float b) { return b > a ? b : a; }

static __device__ float block_max(float v, float *sh) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    for (int o = 16; o > 0; o >>= 1) v = fmax_cpu(v, __shfl_down_sync(0xffffffffu, v, o));
    if (lane == 0) sh[warp] = v;
    __syncthreads();
    float t = lane < nw ? sh[lane] : -INFINITY;
    for (int o = 16; o > 0; o >>= 1) t = fmax_cpu(t, __shfl_down_sync(0xffffffffu, t, o));
    t = __shfl_sync(0xffffffffu, t, 0);
    __syncthreads();
    return t;
}

/* (v1, i1) ranks above (v2, i2): NaN above everything, then the larger value, then the lower index. A total
 * order, so the combination order does not matter. Index -1 marks "no candidate" and ranks lowest. */
static __device__ __forceinline__ bool arg_better(float v1, int64_t i1, float v2, int64_t i2) {
    if (i2 < 0) return i1 >= 0;
    if (i1 < 0) return false;
    const bool n1 = v1 != v1, n2 = v2 != v2;
    if (n1 || n2) return n1 && n2 ? i1 < i2 : n1;
    if (v1 != v2) return v1 > v2;
    return i1 < i2;
}

static __device__ void block_argmax(float *v, int64_t *i, float *shv, int64_t *shi) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    float bv = *v;
    int64_t bi = *i;
    for (int o = 16; o > 0; o >>= 1) {
        const float ov = __shfl_down_sync(0xffffffffu, bv, o);
        const int64_t oi = __shfl_down_sync(0xffffffffu, bi, o);
        if (arg_better(ov, oi, bv, bi)) bv = ov, bi = oi;
    }
    if (lane == 0) shv[warp] = bv, shi[warp] = bi;
    __syncthreads();
    bv = lane < nw ? shv[lane] : 0.0f;
    bi = lane < nw ? shi[lane] : -1;
    for (int o = 16; o > 0; o >>= 1) {
        const float ov = __shfl_down_sync(0xffffffffu, bv, o);
        const int64_t oi = __shfl_down_sync(0xffffffffu, bi, o);
        if (arg_better(ov, oi, bv, bi)) bv = ov, bi = oi;
    }
    *v = __shfl_sync(0xffffffffu, bv, 0);
    *i = __shfl_sync(0xffffffffu, bi, 0);
    __syncthreads();
}

/* ---- sums ---- */

/* x is [rows, cols]; block b (of rows·nch) sums chunk b % nch (elements [ch·L, min(cols, ch·L + L))) of row
 * b / nch into out[b]. One stage: L = cols, nch = 1. */
static __global__ void row_sum_kernel(const float *x, float *out, int64_t rows, int64_t cols, int64_t L,
                                      int64_t nch) {
    __shared__ float sh[32];
    for (int64_t b = blockIdx.x; b < rows * nch; b += gridDim.x) {
        const int64_t r = b / nch, lo = (b % nch) * L, hi = lo + L < cols ? lo + L : cols;
        const float *xr = x + r * cols;
        float s = 0.0f;
        for (int64_t j = lo + threadIdx.x; j < hi; j += blockDim.x) s += xr[j];
        s = block_sum(s, sh);
        if (threadIdx.x == 0) out[b] = s;
    }
}

static void cuda_sum_rows(vt_ctx *c, const float *x, float *out, int64_t rows, int64_t cols) {
    vt_cuda_state *s = vt_cuda_current(c);
    if (!s || rows <= 0) return;
    int64_t L, nch;
    row_chunks(rows, cols, &L, &nch);
    if (nch == 1) {
        row_sum_kernel<<<row_blocks(rows), row_threads(cols), 0, s->stream>>>(x, out, rows, cols, cols, 1);
        vt_cuda_launched(c, "sum_rows");
        return;
    }
    const size_t bytes = (size_t)(rows * nch) * sizeof(float);
    float *part = (float *)vt_cuda_scratch(c, bytes);
    if (!part) return;
    row_sum_kernel<<<row_blocks(rows * nch), MAX_THREADS, 0, s->stream>>>(x, part, rows, cols, L, nch);
    if (vt_cuda_launched(c, "sum_rows (partials)")) {
        row_sum_kernel<<<row_blocks(rows), row_threads(nch), 0, s->stream>>>(part, out, rows, nch, nch, 1);
        vt_cuda_launched(c, "sum_rows");
    }
    vt_cuda_scratch_free(c, part, bytes);
}

/* x is [rows, cols]; thread (ch, j) sums column j over rows [ch·R, min(rows, ch·R + R)) in row order into
 * out[ch·cols + j]. One stage: R = rows, one chunk. */
static __global__ void col_sum_kernel(const float *x, float *out, int64_t rows, int64_t cols, int64_t R,
                                      int64_t nch) {
    const int64_t step = (int64_t)gridDim.x * blockDim.x;
    for (int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; t < nch * cols; t += step) {
        const int64_t ch = t / cols, j = t % cols;
        const int64_t lo = ch * R, hi = lo + R < rows ? lo + R : rows;
        float s = 0.0f;
        for (int64_t r = lo; r < hi; r++) s += x[r * cols + j];
        out[t] = s;
    }
}

static void cuda_sum_cols(vt_ctx *c, const float *x, float *out, int64_t rows, int64_t cols) {
    vt_cuda_state *s = vt_cuda_current(c);
    if (!s || cols <= 0) return;
    /* tall inputs (bias gradients: [tokens, d]) split the rows into at most 256 chunks of >= 64 rows */
    int64_t R = (rows + 255) / 256;
    if (R < 64) R = 64;
    const int64_t nch = (rows + R - 1) / R;
    if (nch <= 1 || cols >= 65536) {
        col_sum_kernel<<<vt_cuda_blocks(cols, EW_THREADS), EW_THREADS, 0, s->stream>>>(x, out, rows, cols,
                                                                                       rows, 1);
        vt_cuda_launched(c, "sum_cols");
        return;
    }
    const size_t bytes = (size_t)(nch * cols) * sizeof(float);
    float *part = (float *)vt_cuda_scratch(c, bytes);
    if (!part) return;
    col_sum_kernel<<<vt_cuda_blocks(nch * cols, EW_THREADS), EW_THREADS, 0, s->stream>>>(x, part, rows, cols, R,
                                                                                         nch);
    if (vt_cuda_launched(c, "sum_cols (partials)")) {
        /* the partials are [nch, cols]: a column sum of them, chunks in order */
        col_sum_kernel<<<vt_cuda_blocks(cols, EW_THREADS), EW_THREADS, 0, s->stream>>>(part, out, nch, cols, nch,
                                                                                       1);
        vt_cuda_launched(c, "sum_cols");
    }
    vt_cuda_scratch_free(c, part, bytes);
}

/* ---- max / argmax ---- */

/* x is [rows, n] (inner == 1); block b (of rows·nch) takes the max of chunk b % nch of row b / nch. A
 * candidate's index is k, or xi[r·n + k] when xi is given (the second stage over chunk partials). Either
 * output may be NULL. */
static __global__ void row_argmax_kernel(const float *x, const int64_t *xi, float *ov, int64_t *oi, int64_t rows,
                                         int64_t n, int64_t L, int64_t nch) {
    __shared__ float shv[32];
    __shared__ int64_t shi[32];
    for (int64_t b = blockIdx.x; b < rows * nch; b += gridDim.x) {
        const int64_t r = b / nch, lo = (b % nch) * L, hi = lo + L < n ? lo + L : n;
        float bv = 0.0f;
        int64_t bi = -1;
        for (int64_t k = lo + threadIdx.x; k < hi; k += blockDim.x) {
            const float v = x[r * n + k];
            const int64_t i = xi ? xi[r * n + k] : k;
            if (arg_better(v, i, bv, bi)) bv = v, bi = i;
        }
        block_argmax(&bv, &bi, shv, shi);
        if (threadIdx.x == 0) {
            if (ov) ov[b] = bv;
            if (oi) oi[b] = bi;
        }
    }
}

/* v replaces the running best when larger, or when it is the first NaN (the CPU's max_beats). */
static __device__ __forceinline__ bool max_beats(float v, float best) { return v > best || (v != v && best == best); }

/* inner > 1: thread (o, i) scans x[o, :, i] in order, stopping at the first NaN, exactly as the CPU. */
static __global__ void strided_max_kernel(const float *x, float *val, int64_t *idx, int64_t outer, int64_t n,
                                          int64_t inner) {
    const int64_t step = (int64_t)gridDim.x * blockDim.x;
    for (int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; t < outer * inner; t += step) {
        const int64_t o = t / inner, i = t % inner;
        const float *xp = x + o * n * inner + i;
        float best = xp[0];
        int64_t bi = 0;
        for (int64_t k = 1; k < n && best == best; k++) {
            const float v = xp[k * inner];
            if (max_beats(v, best)) best = v, bi = k;
        }
        if (val) val[t] = best;
        if (idx) idx[t] = bi;
    }
}

static void cuda_max_dim(vt_ctx *c, const float *x, float *val, int64_t *idx, int64_t outer, int64_t n,
                         int64_t inner) {
    vt_cuda_state *s = vt_cuda_current(c);
    if (!s || outer <= 0 || inner <= 0 || n <= 0 || (!val && !idx)) return;
    if (inner > 1) {
        strided_max_kernel<<<vt_cuda_blocks(outer * inner, EW_THREADS), EW_THREADS, 0, s->stream>>>(
            x, val, idx, outer, n, inner);
        vt_cuda_launched(c, "max_dim");
        return;
    }
    int64_t L, nch;
    row_chunks(outer, n, &L, &nch);
    if (nch == 1) {
        row_argmax_kernel<<<row_blocks(outer), row_threads(n), 0, s->stream>>>(x, NULL, val, idx, outer, n, n, 1);
        vt_cuda_launched(c, "max_dim");
        return;
    }
    const size_t vbytes = (size_t)(outer * nch) * sizeof(float), ibytes = (size_t)(outer * nch) * sizeof(int64_t);
    float *pv = (float *)vt_cuda_scratch(c, vbytes);
    int64_t *pi = pv ? (int64_t *)vt_cuda_scratch(c, ibytes) : NULL;
    if (pv && pi) {
        row_argmax_kernel<<<row_blocks(outer * nch), MAX_THREADS, 0, s->stream>>>(x, NULL, pv, pi, outer, n, L, nch);
        if (vt_cuda_launched(c, "max_dim (partials)")) {
            row_argmax_kernel<<<row_blocks(outer), row_threads(nch), 0, s->stream>>>(pv, pi, val, idx, outer, nch,
                                                                                     nch, 1);
            vt_cuda_launched(c, "max_dim");
        }
    }
    if (pi) vt_cuda_scratch_free(c, pi, ibytes);
    if (pv) vt_cuda_scratch_free(c, pv, vbytes);
}

/* gx[o, k, i] = gy[o, i] where k == idx[o, i], else 0: one thread per element of gx. */
static __global__ void max_dim_backward_kernel(const int64_t *idx, const float *gy, float *gx, int64_t outer,
                                               int64_t n, int64_t inner) {
    const int64_t total = outer * n * inner, step = (int64_t)gridDim.x * blockDim.x;
    for (int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; t < total; t += step) {
        const int64_t i = t % inner, k = (t / inner) % n, o = t / (inner * n);
        const int64_t oi = o * inner + i;
        gx[t] = idx[oi] == k ? gy[oi] : 0.0f;
    }
}

static void cuda_max_dim_backward(vt_ctx *c, const int64_t *idx, const float *gy, float *gx, int64_t outer, int64_t n,
                                  int64_t inner) {
    vt_cuda_state *s = vt_cuda_current(c);
    const int64_t total = outer * n * inner;
    if (!s || total <= 0) return;
    max_dim_backward_kernel<<<vt_cuda_blocks(total, EW_THREADS), EW_THREADS, 0, s->stream>>>(idx, gy, gx, outer, n,
                                                                                           inner);
    vt_cuda_launched(c, "max_dim_backward");
}

static __device__ __forceinline__ bool max_match(float v, float m) { return v == m || (m != m && v != v); }

/* Adds the number of elements equal to m[0] (NaN matching NaN) into *count. Integer adds commute exactly, so
 * the atomic keeps the result deterministic. */
static __global__ void count_max_kernel(const float *x, const float *mp, int64_t n, unsigned long long *count) {
    __shared__ unsigned long long sh[32];
    const float m = mp[0];
    const int64_t step = (int64_t)gridDim.x * blockDim.x;
    unsigned long long k = 0;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step) k += max_match(x[i], m);
    for (int o = 16; o > 0; o >>= 1) k += __shfl_down_sync(0xffffffffu, k, o);
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    if (lane == 0) sh[warp] = k;
    __syncthreads();
    if (threadIdx.x == 0) {
        unsigned long long t = 0;
        for (int w = 0; w < nw; w++) t += sh[w];
        if (t) atomicAdd(count, t);
    }
}

static __global__ void max_all_backward_kernel(const float *x, const float *mp, const float *gy, float *gx, int64_t n,
                                               const unsigned long long *count) {
    const float m = mp[0];
    const float share = gy[0] / (float)(int64_t)*count; /* as the CPU: gy / (float)count */
    const int64_t step = (int64_t)gridDim.x * blockDim.x;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step)
        gx[i] = max_match(x[i], m) ? share : 0.0f;
}

static void cuda_max_all_backward(vt_ctx *c, const float *x, const float *m, const float *gy, float *gx, int64_t n) {
    vt_cuda_state *s = vt_cuda_current(c);
    if (!s || n <= 0) return;
    unsigned long long *count = (unsigned long long *)vt_cuda_scratch(c, sizeof *count);
    if (!count) return;
    const unsigned blocks = vt_cuda_blocks(n, EW_THREADS);
    if (vt_cuda_ok(c, cudaMemsetAsync(count, 0, sizeof *count, s->stream), "max_all_backward: memset")) {
        count_max_kernel<<<blocks, EW_THREADS, 0, s->stream>>>(x, m, n, count);
        if (vt_cuda_launched(c, "max_all_backward (count)")) {
            max_all_backward_kernel<<<blocks, EW_THREADS, 0, s->stream>>>(x, m, gy, gx, n, count);
            vt_cuda_launched(c, "max_all_backward");
        }
    }
    vt_cuda_scratch_free(c, count, sizeof *count);
}

/* ---- softmax / log_softmax ---- */

/* inner == 1: one block per row of n. Three passes as the CPU: max, Σ exp(x − m), then the output (softmax
 * multiplies exp(x − m) by 1/Σ, log_softmax subtracts m + log Σ). */
static __global__ void softmax_rows_kernel(const float *x, float *y, int64_t rows, int64_t n, bool log) {
    __shared__ float sh[32];
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
        const float *xr = x + r * n;
        float *yr = y + r * n;
        float m = -INFINITY;
        for (int64_t j = threadIdx.x; j < n; j += blockDim.x) m = fmax_cpu(m, xr[j]);
        m = block_max(m, sh);
        float e = 0.0f;
        for (int64_t j = threadIdx.x; j < n; j += blockDim.x) e += expf(xr[j] - m);
        e = block_sum(e, sh);
        if (log) {
            const float lse = m + logf(e);
            for (int64_t j = threadIdx.x; j < n; j += blockDim.x) yr[j] = xr[j] - lse;
        } else {
            const float inv = 1.0f / e;
            for (int64_t j = threadIdx.x; j < n; j += blockDim.x) yr[j] = expf(xr[j] - m) * inv;
        }
    }
}

/* inner > 1: thread (o, i) walks x[o, :, i] in order (coalesced across i), as the CPU's blocked kernel. */
static __global__ void softmax_strided_kernel(const float *x, float *y, int64_t outer, int64_t n, int64_t inner,
                                              bool log) {
    const int64_t step = (int64_t)gridDim.x * blockDim.x;
    for (int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; t < outer * inner; t += step) {
        const int64_t o = t / inner, i = t % inner;
        const float *xp = x + o * n * inner + i;
        float *yp = y + o * n * inner + i;
        float m = -INFINITY;
        for (int64_t k = 0; k < n; k++) m = fmax_cpu(m, xp[k * inner]);
        float e = 0.0f;
        for (int64_t k = 0; k < n; k++) e += expf(xp[k * inner] - m);
        if (log) {
            const float lse = m + logf(e);
            for (int64_t k = 0; k < n; k++) yp[k * inner] = xp[k * inner] - lse;
        } else {
            const float inv = 1.0f / e;
            for (int64_t k = 0; k < n; k++) yp[k * inner] = expf(xp[k * inner] - m) * inv;
        }
    }
}

static void cuda_softmax(vt_ctx *c, const float *x, float *y, int64_t outer, int64_t n, int64_t inner, bool log) {
    vt_cuda_state *s = vt_cuda_current(c);
    if (!s || outer <= 0 || n <= 0 || inner <= 0) return;
    if (inner == 1)
        softmax_rows_kernel<<<row_blocks(outer), row_threads(n), 0, s->stream>>>(x, y, outer, n, log);
    else
        softmax_strided_kernel<<<vt_cuda_blocks(outer * inner, EW_THREADS), EW_THREADS, 0, s->stream>>>(
            x, y, outer, n, inner, log);
    vt_cuda_launched(c, log ? "log_softmax" : "softmax");
}

/* softmax: gx = y·(gy − Σ gy·y); log_softmax: gx = gy − exp(y)·Σ gy. */
static __global__ void softmax_backward_rows_kernel(const float *y, const float *gy, float *gx, int64_t rows,
                                                    int64_t n, bool log) {
    __shared__ float sh[32];
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
        const float *yr = y + r * n, *gr = gy + r * n;
        float *xr = gx + r * n;
        float d = 0.0f;
        if (log)
            for (int64_t j = threadIdx.x; j < n; j += blockDim.x) d += gr[j];
        else
            for (int64_t j = threadIdx.x; j < n; j += blockDim.x) d += gr[j] * yr[j];
        d = block_sum(d, sh);
        if (log)
            for (int64_t j = threadIdx.x; j < n; j += blockDim.x) xr[j] = gr[j] - expf(yr[j]) * d;
        else
            for (int64_t j = threadIdx.x; j < n; j += blockDim.x) xr[j] = yr[j] * (gr[j] - d);
    }
}

static __global__ void softmax_backward_strided_kernel(const float *y, const float *gy, float *gx, int64_t outer,
                                                       int64_t n, int64_t inner, bool log) {
    const int64_t step = (int64_t)gridDim.x * blockDim.x;
    for (int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; t < outer * inner; t += step) {
        const int64_t o = t / inner, i = t % inner, off = o * n * inner + i;
        const float *yp = y + off, *gp = gy + off;
        float *xp = gx + off;
        float d = 0.0f;
        if (log)
            for (int64_t k = 0; k < n; k++) d += gp[k * inner];
        else
            for (int64_t k = 0; k < n; k++) d += gp[k * inner] * yp[k * inner];
        if (log)
            for (int64_t k = 0; k < n; k++) xp[k * inner] = gp[k * inner] - expf(yp[k * inner]) * d;
        else
            for (int64_t k = 0; k < n; k++) xp[k * inner] = yp[k * inner] * (gp[k * inner] - d);
    }
}

static void cuda_softmax_backward(vt_ctx *c, const float *y, const float *gy, float *gx, int64_t outer, int64_t n,
                                  int64_t inner, bool log) {
    vt_cuda_state *s = vt_cuda_current(c);
    if (!s || outer <= 0 || n <= 0 || inner <= 0) return;
    if (inner == 1)
        softmax_backward_rows_kernel<<<row_blocks(outer), row_threads(n), 0, s->stream>>>(y, gy, gx, outer, n, log);
    else
        softmax_backward_strided_kernel<<<vt_cuda_blocks(outer * inner, EW_THREADS), EW_THREADS, 0, s->stream>>>(
            y, gy, gx, outer, n, inner, log);
    vt_cuda_launched(c, log ? "log_softmax backward" : "softmax backward");
}

extern "C" const vt_reduce_kernels vt_cuda_reduce_kernels = {
    sizeof(vt_reduce_kernels),
    cuda_sum_rows,
    cuda_sum_cols,
    cuda_max_dim,
    cuda_max_dim_backward,
    cuda_max_all_backward,
    cuda_softmax,
    cuda_softmax_backward,
};
