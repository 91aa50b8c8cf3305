/* CPU layer_norm and group_norm.
 *
 * layer_norm (ViT: rows of 384..1408 floats, thousands of rows) works one row at a time in L1: forward is
 * mean, then Σ(x − mean)² (two passes: no cancellation for rows with a large mean), then the affine
 * output. Backward, with x̂ = (x − mean)·rstd and g = dy·w:
 *     dx = rstd · (g − mean(g) − x̂ · mean(g·x̂))      dw = Σ_rows dy·x̂      db = Σ_rows dy
 * Rows are split into chunks by vt_layer_norm_chunk_rows (row count only); each chunk accumulates its own
 * dw/db partial while it writes dx, and the partials are then summed column by column in chunk order. So the
 * result is the same for any thread count, and one pass over x and dy does all three gradients. */

#include <math.h>
#include <string.h>

#include "ops/norm_kernels.h"
#include "ops/reduce_row.h"

#define PAR_THRESHOLD 16384

/* mean and 1/sqrt(var + eps) of n contiguous values (biased variance, as PyTorch normalises). The mean is
 * taken around x[0] so that a large common offset does not cost the sum its precision. */
static inline void moments(const float *x, int64_t n, float eps, float *mean, float *rstd) {
    const float x0 = n ? x[0] : 0.0f;
    float s[VT_LANES] = {0}, v[VT_LANES] = {0};
    VT_LANE_FOR(n, j, k, s[k] += x[j] - x0;);
    const float m = x0 + vt_lanes_sum(s) / (float)n;
    VT_LANE_FOR(n, j, k, v[k] += (x[j] - m) * (x[j] - m););
    *mean = m;
    *rstd = 1.0f / sqrtf(vt_lanes_sum(v) / (float)n + eps);
}

static void cpu_layer_norm(vt_ctx *c, const float *x, const float *w, const float *b, float *y, float *mean,
                           float *rstd, int64_t rows, int64_t d, float eps) {
#pragma omp parallel for num_threads(vt_ctx_threads(c)) if (rows * d > PAR_THRESHOLD) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * d;
        float *yr = y + r * d, m, rs;
        moments(xr, d, eps, &m, &rs);
        mean[r] = m;
        rstd[r] = rs;
        if (w && b) {
#pragma omp simd
            for (int64_t i = 0; i < d; i++) yr[i] = (xr[i] - m) * rs * w[i] + b[i];
        } else if (w) {
#pragma omp simd
            for (int64_t i = 0; i < d; i++) yr[i] = (xr[i] - m) * rs * w[i];
        } else if (b) {
#pragma omp simd
            for (int64_t i = 0; i < d; i++) yr[i] = (xr[i] - m) * rs + b[i];
        } else {
#pragma omp simd
            for (int64_t i = 0; i < d; i++) yr[i] = (xr[i] - m) * rs;
        }
    }
}

/* dx of one row, and its contribution to the chunk partials pw, pb (each may be NULL). */
static inline void layer_norm_row_backward(const float *x, const float *w, float m, float rs, const float *gy,
                                           float *dx, float *pw, float *pb, int64_t d) {
    if (dx) {
        float sg[VT_LANES] = {0}, sgx[VT_LANES] = {0};
        if (w) {
            VT_LANE_FOR(d, i, k, const float g = gy[i] * w[i]; sg[k] += g; sgx[k] += g * (x[i] - m) * rs;);
        } else {
            VT_LANE_FOR(d, i, k, sg[k] += gy[i]; sgx[k] += gy[i] * (x[i] - m) * rs;);
        }
        const float a = vt_lanes_sum(sg) / (float)d, bb = vt_lanes_sum(sgx) / (float)d;
        if (w && pw && pb) { /* the hot case: all three gradients in one sweep */
#pragma omp simd
            for (int64_t i = 0; i < d; i++) {
                float xh = (x[i] - m) * rs;
                dx[i] = rs * (gy[i] * w[i] - a - xh * bb);
                pw[i] += gy[i] * xh;
                pb[i] += gy[i];
            }
            return;
        }
        if (w) {
#pragma omp simd
            for (int64_t i = 0; i < d; i++) dx[i] = rs * (gy[i] * w[i] - a - (x[i] - m) * rs * bb);
        } else {
#pragma omp simd
            for (int64_t i = 0; i < d; i++) dx[i] = rs * (gy[i] - a - (x[i] - m) * rs * bb);
        }
    }
    if (pw) {
#pragma omp simd
        for (int64_t i = 0; i < d; i++) pw[i] += gy[i] * (x[i] - m) * rs;
    }
    if (pb) {
#pragma omp simd
        for (int64_t i = 0; i < d; i++) pb[i] += gy[i];
    }
}

static void cpu_layer_norm_backward(vt_ctx *c, const float *x, const float *w, const float *mean, const float *rstd,
                                    const float *gy, float *dx, float *dw, float *db, float *scratch, int64_t rows,
                                    int64_t d) {
    const int nt = vt_ctx_threads(c);
    const int64_t per = vt_layer_norm_chunk_rows(rows), nch = vt_layer_norm_chunks(rows);
    const bool par = rows * d > PAR_THRESHOLD;
#pragma omp parallel for num_threads(nt) if (par) schedule(static)
    for (int64_t ch = 0; ch < nch; ch++) {
        float *pw = dw ? scratch + ch * 2 * d : NULL, *pb = db ? scratch + ch * 2 * d + d : NULL;
        if (pw) memset(pw, 0, (size_t)d * sizeof *pw);
        if (pb) memset(pb, 0, (size_t)d * sizeof *pb);
        const int64_t hi = (ch + 1) * per < rows ? (ch + 1) * per : rows;
        for (int64_t r = ch * per; r < hi; r++)
            layer_norm_row_backward(x + r * d, w, mean[r], rstd[r], gy + r * d, dx ? dx + r * d : NULL, pw, pb, d);
    }
    if (!dw && !db) return;
    /* column blocks in parallel; within a column the chunks are added in order */
    const int64_t blk = 64, nblk = (d + blk - 1) / blk;
#pragma omp parallel for num_threads(nt) if (par) schedule(static)
    for (int64_t bi = 0; bi < nblk; bi++) {
        const int64_t lo = bi * blk, n = d - lo < blk ? d - lo : blk;
        for (int half = 0; half < 2; half++) {
            float *out = half ? db : dw;
            if (!out) continue;
            float acc[64] = {0};
            for (int64_t ch = 0; ch < nch; ch++) {
                const float *p = scratch + ch * 2 * d + half * d + lo;
#pragma omp simd
                for (int64_t j = 0; j < n; j++) acc[j] += p[j];
            }
            memcpy(out + lo, acc, (size_t)n * sizeof *out);
        }
    }
}

/* ---- group_norm: x [n, C, hw]; group g of sample s is the contiguous block of C/groups channels ---- */

static void cpu_group_norm(vt_ctx *c, const float *x, const float *w, const float *b, float *y, float *mean,
                           float *rstd, int64_t n, int64_t C, int64_t hw, int64_t groups, float eps) {
    const int64_t cpg = C / groups;
#pragma omp parallel for num_threads(vt_ctx_threads(c)) if (n * C * hw > PAR_THRESHOLD) schedule(static)
    for (int64_t sg = 0; sg < n * groups; sg++) {
        const float *xg = x + sg * cpg * hw;
        float *yg = y + sg * cpg * hw, m, rs;
        moments(xg, cpg * hw, eps, &m, &rs);
        mean[sg] = m;
        rstd[sg] = rs;
        for (int64_t k = 0; k < cpg; k++) {
            const int64_t ch = (sg % groups) * cpg + k;
            const float scale = rs * (w ? w[ch] : 1.0f), shift = (b ? b[ch] : 0.0f) - m * scale;
            const float *xc = xg + k * hw;
            float *yc = yg + k * hw;
#pragma omp simd
            for (int64_t i = 0; i < hw; i++) yc[i] = xc[i] * scale + shift;
        }
    }
}

static void cpu_group_norm_backward(vt_ctx *c, const float *x, const float *w, const float *mean, const float *rstd,
                                    const float *gy, float *dx, float *dw, float *db, float *scratch, int64_t n,
                                    int64_t C, int64_t hw, int64_t groups) {
    const int64_t cpg = C / groups;
    float *sa = scratch, *sb = scratch + n * C; /* [n, C]: Σ_hw dy·x̂ and Σ_hw dy */
    const int nt = vt_ctx_threads(c);
    const bool par = n * C * hw > PAR_THRESHOLD;
#pragma omp parallel for num_threads(nt) if (par) schedule(static)
    for (int64_t sg = 0; sg < n * groups; sg++) {
        const int64_t s = sg / groups, c0 = (sg % groups) * cpg, off = sg * cpg * hw;
        const float m = mean[sg], rs = rstd[sg];
        float A = 0.0f, B = 0.0f; /* Σ w·dy and Σ w·dy·x̂ over the group */
        for (int64_t k = 0; k < cpg; k++) {
            const float *xc = x + off + k * hw, *gc = gy + off + k * hw;
            float la[VT_LANES] = {0}, lb[VT_LANES] = {0};
            VT_LANE_FOR(hw, i, l, la[l] += gc[i] * (xc[i] - m) * rs; lb[l] += gc[i];);
            const float a = vt_lanes_sum(la), bsum = vt_lanes_sum(lb);
            sa[s * C + c0 + k] = a;
            sb[s * C + c0 + k] = bsum;
            const float wc = w ? w[c0 + k] : 1.0f;
            A += wc * bsum;
            B += wc * a;
        }
        if (!dx) continue;
        const float M = (float)(cpg * hw), ca = A / M, cb = B / M;
        for (int64_t k = 0; k < cpg; k++) {
            const float wc = w ? w[c0 + k] : 1.0f;
            const float *xc = x + off + k * hw, *gc = gy + off + k * hw;
            float *dc = dx + off + k * hw;
#pragma omp simd
            for (int64_t i = 0; i < hw; i++) dc[i] = rs * (wc * gc[i] - ca - (xc[i] - m) * rs * cb);
        }
    }
    /* per-channel sums over samples, in sample order */
    for (int64_t ch = 0; ch < C; ch++) {
        float pw = 0.0f, pb = 0.0f;
        for (int64_t s = 0; s < n; s++) pw += sa[s * C + ch], pb += sb[s * C + ch];
        if (dw) dw[ch] = pw;
        if (db) db[ch] = pb;
    }
}

const vt_norm_kernels vt_cpu_norm_kernels = {
    .size = sizeof(vt_norm_kernels),
    .layer_norm = cpu_layer_norm,
    .layer_norm_backward = cpu_layer_norm_backward,
    .group_norm = cpu_group_norm,
    .group_norm_backward = cpu_group_norm_backward,
};
