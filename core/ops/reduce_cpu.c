/* CPU reduction kernels. Row sums accumulate 8 independent partial sums (vectorised, and less rounding
 * error than one running sum); column sums are vectorised across columns. max/argmax keep PyTorch's rules:
 * the first index wins a tie and NaN beats everything. Softmax kernels: softmax_cpu.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/reduce_cpu.h"

static float sum_contig(const float *x, int64_t n) {
    float acc[16] = {0};
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
#pragma omp simd
        for (int k = 0; k < 16; k++) acc[k] += x[i + k];
    }
    float s = 0.0f;
    for (; i < n; i++) s += x[i];
    float t = 0.0f;
    for (int k = 0; k < 16; k++) t += acc[k];
    return t + s;
}

static void cpu_sum_rows(vt_ctx *c, const float *x, float *out, int64_t rows, int64_t cols) {
    if (rows == 1 && cols > (1 << 16)) { /* one long row: split across threads, then combine */
        int nt = vt_ctx_threads(c);
        float part[64] = {0};
        if (nt > 64) nt = 64;
        int64_t chunk = (cols + nt - 1) / nt;
#pragma omp parallel for num_threads(nt)
        for (int t = 0; t < nt; t++) {
            int64_t lo = t * chunk, hi = lo + chunk < cols ? lo + chunk : cols;
            part[t] = lo < hi ? sum_contig(x + lo, hi - lo) : 0.0f;
        }
        float s = 0.0f;
        for (int t = 0; t < nt; t++) s += part[t];
        out[0] = s;
        return;
    }
#pragma omp parallel for num_threads(vt_ctx_threads(c)) if (rows * cols > 32768)
    for (int64_t r = 0; r < rows; r++) out[r] = sum_contig(x + r * cols, cols);
}

static void cpu_sum_cols(vt_ctx *c, const float *x, float *out, int64_t rows, int64_t cols) {
    int nt = vt_ctx_threads(c);
    if (rows * cols <= 32768 || cols >= 64 * nt) {
        /* parallel over column blocks */
        const int64_t blk = 256;
        int64_t nblk = (cols + blk - 1) / blk;
#pragma omp parallel for num_threads(nt) if (rows * cols > 32768)
        for (int64_t b = 0; b < nblk; b++) {
            int64_t lo = b * blk, hi = lo + blk < cols ? lo + blk : cols;
            float *o = out + lo;
            memset(o, 0, (size_t)(hi - lo) * sizeof *o);
            for (int64_t r = 0; r < rows; r++) {
                const float *xr = x + r * cols + lo;
#pragma omp simd
                for (int64_t j = 0; j < hi - lo; j++) o[j] += xr[j];
            }
        }
        return;
    }
    /* few columns, many rows: per-thread partial column sums */
    if (nt > 64) nt = 64;
    float *part = calloc((size_t)nt * (size_t)cols, sizeof *part);
    if (!part) { /* fall back to a serial sum rather than fail */
        memset(out, 0, (size_t)cols * sizeof *out);
        for (int64_t r = 0; r < rows; r++)
            for (int64_t j = 0; j < cols; j++) out[j] += x[r * cols + j];
        return;
    }
    int64_t chunk = (rows + nt - 1) / nt;
#pragma omp parallel for num_threads(nt)
    for (int t = 0; t < nt; t++) {
        float *p = part + (int64_t)t * cols;
        int64_t lo = t * chunk, hi = lo + chunk < rows ? lo + chunk : rows;
        for (int64_t r = lo; r < hi; r++)
            for (int64_t j = 0; j < cols; j++) p[j] += x[r * cols + j];
    }
    for (int64_t j = 0; j < cols; j++) {
        float s = 0.0f;
        for (int t = 0; t < nt; t++) s += part[(int64_t)t * cols + j];
        out[j] = s;
    }
    free(part);
}

/* v replaces the running best when larger, or when it is the first NaN (later NaNs lose: first index). */
static inline bool max_beats(float v, float best) { return v > best || (v != v && best == best); }

/* Max of x[0], x[s], ... x[(n-1)s]; stops at the first NaN. */
static void max_strided(const float *x, int64_t s, int64_t n, float *val, int64_t *idx) {
    float best = x[0];
    int64_t bi = 0;
    for (int64_t k = 1; k < n && best == best; k++)
        if (max_beats(x[k * s], best)) best = x[k * s], bi = k;
    *val = best;
    *idx = bi;
}

#define MAX_CHUNKS 64

static void cpu_max_dim(vt_ctx *c, const float *x, float *val, int64_t *idx, int64_t outer, int64_t n, int64_t inner) {
    const int nt = vt_ctx_threads(c);
    if (outer * inner == 1 && n > 65536) {
        /* one long reduction: a fixed number of chunks (not the thread count), combined in order */
        float cv[MAX_CHUNKS];
        int64_t ci[MAX_CHUNKS];
        const int64_t chunk = (n + MAX_CHUNKS - 1) / MAX_CHUNKS;
#pragma omp parallel for num_threads(nt)
        for (int t = 0; t < MAX_CHUNKS; t++) {
            int64_t lo = t * chunk, hi = lo + chunk < n ? lo + chunk : n;
            cv[t] = NAN;
            ci[t] = -1;
            if (lo < hi) {
                max_strided(x + lo, 1, hi - lo, &cv[t], &ci[t]);
                ci[t] += lo;
            }
        }
        float best = cv[0];
        int64_t bi = ci[0];
        for (int t = 1; t < MAX_CHUNKS; t++)
            if (ci[t] >= 0 && max_beats(cv[t], best)) best = cv[t], bi = ci[t];
        if (val) val[0] = best;
        if (idx) idx[0] = bi;
        return;
    }
#pragma omp parallel for num_threads(nt) if (outer * n * inner > 32768)
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < inner; i++) {
            float v;
            int64_t k;
            max_strided(x + o * n * inner + i, inner, n, &v, &k);
            if (val) val[o * inner + i] = v;
            if (idx) idx[o * inner + i] = k;
        }
    }
}

static void cpu_max_dim_backward(vt_ctx *c, const int64_t *idx, const float *gy, float *gx, int64_t outer, int64_t n,
                                 int64_t inner) {
#pragma omp parallel for num_threads(vt_ctx_threads(c)) if (outer * n * inner > 32768)
    for (int64_t o = 0; o < outer; o++) {
        float *g = gx + o * n * inner;
        memset(g, 0, (size_t)(n * inner) * sizeof *g);
        for (int64_t i = 0; i < inner; i++) g[idx[o * inner + i] * inner + i] = gy[o * inner + i];
    }
}

static void cpu_max_all_backward(vt_ctx *c, const float *x, const float *mp, const float *gy, float *gx, int64_t n) {
    const float m = mp[0];
    const bool nan = m != m;
    int64_t count = 0;
#pragma omp parallel for simd num_threads(vt_ctx_threads(c)) if (n > 65536) reduction(+ : count)
    for (int64_t i = 0; i < n; i++) count += (x[i] == m || (nan && x[i] != x[i]));
    const float share = gy[0] / (float)count;
#pragma omp parallel for simd num_threads(vt_ctx_threads(c)) if (n > 65536)
    for (int64_t i = 0; i < n; i++) gx[i] = (x[i] == m || (nan && x[i] != x[i])) ? share : 0.0f;
}

const vt_reduce_kernels vt_cpu_reduce_kernels = {
    .size = sizeof(vt_reduce_kernels),
    .sum_rows = cpu_sum_rows,
    .sum_cols = cpu_sum_cols,
    .max_dim = cpu_max_dim,
    .max_dim_backward = cpu_max_dim_backward,
    .max_all_backward = cpu_max_all_backward,
    .softmax = vt_cpu_softmax,
    .softmax_backward = vt_cpu_softmax_backward,
};
