/* CPU kernels of the index family.
 *
 * Determinism: every accumulating kernel (index_add, scatter_add, cumsum) gives each output element to exactly
 * one thread and sums into it in a fixed order, so results never depend on the thread count. Work is split
 * over (outer, inner-chunk) pairs rather than over the indexed dimension, which is where collisions happen. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "ops/index_kernels.h"

#define PAR_THRESHOLD 32768 /* elements; below this threading costs more than it saves */
#define CHUNK 256           /* inner elements per work unit of the accumulating kernels */

static void cpu_index_select(vt_ctx *c, const void *x, const int64_t *idx, void *out, int64_t outer, int64_t rows,
                             int64_t n, int64_t inner, size_t elem) {
    const char *px = x;
    char *po = out;
    const size_t row = (size_t)inner * elem;
#pragma omp parallel for collapse(2) num_threads(vt_ctx_threads(c)) if (outer * n * inner > PAR_THRESHOLD)
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < n; j++)
            memcpy(po + (size_t)(o * n + j) * row, px + (size_t)(o * rows + idx[j]) * row, row);
}

static void cpu_index_add(vt_ctx *c, const float *g, const int64_t *idx, float *gx, int64_t outer, int64_t rows,
                          int64_t n, int64_t inner, int64_t skip) {
    const int64_t nchunks = (inner + CHUNK - 1) / CHUNK;
#pragma omp parallel for collapse(2) num_threads(vt_ctx_threads(c)) if (outer * n * inner > PAR_THRESHOLD)
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t ch = 0; ch < nchunks; ch++) {
            const int64_t c0 = ch * CHUNK, len = inner - c0 < CHUNK ? inner - c0 : CHUNK;
            for (int64_t j = 0; j < n; j++) {
                if (idx[j] == skip) continue;
                float *dst = gx + (o * rows + idx[j]) * inner + c0;
                const float *src = g + (o * n + j) * inner + c0;
#pragma omp simd
                for (int64_t t = 0; t < len; t++) dst[t] += src[t];
            }
        }
    }
}

/* ---- gather / scatter_add ----
 * idx is walked in groups: a group fixes every coordinate except `dim` and, when dim is not the last one, the
 * last coordinate too (so the innermost loop stays contiguous). Within a group, j runs along dim and k along
 * the last dim. A group's output elements are disjoint from every other group's. */
typedef struct walk {
    int64_t groups, J, K;
    int ng, gdim[VT_MAX_DIMS];
    int64_t gshape[VT_MAX_DIMS];
    int64_t is[VT_MAX_DIMS], bs[VT_MAX_DIMS], cs[VT_MAX_DIMS]; /* strides: idx, indexed tensor, companion */
    int64_t isj, isk, bsj, bsk, csj, csk;
} walk;

static walk walk_init(int dim, const vt_tensor *idx, const vt_tensor *big, const vt_tensor *comp) {
    walk w = {.groups = 1, .J = idx->shape[dim], .K = 1};
    const int nd = idx->ndim, last = nd - 1;
    for (int d = 0; d < nd; d++) {
        w.is[d] = idx->stride[d];
        w.bs[d] = big->stride[d];
        w.cs[d] = comp->stride[d];
        if (d == dim || (d == last && dim != last)) continue;
        w.gdim[w.ng] = d;
        w.gshape[w.ng++] = idx->shape[d];
        w.groups *= idx->shape[d];
    }
    if (dim != last) w.K = idx->shape[last];
    w.isj = w.is[dim];
    w.bsj = w.bs[dim];
    w.csj = w.cs[dim];
    w.isk = dim != last ? w.is[last] : 0;
    w.bsk = dim != last ? w.bs[last] : 0;
    w.csk = dim != last ? w.cs[last] : 0;
    return w;
}

static inline void walk_base(const walk *w, int64_t g, int64_t *bi, int64_t *bb, int64_t *bc) {
    int64_t oi = 0, ob = 0, oc = 0;
    for (int t = w->ng - 1; t >= 0; t--) {
        int64_t q = g % w->gshape[t];
        g /= w->gshape[t];
        oi += q * w->is[w->gdim[t]];
        ob += q * w->bs[w->gdim[t]];
        oc += q * w->cs[w->gdim[t]];
    }
    *bi = oi;
    *bb = ob;
    *bc = oc;
}

static void cpu_gather(vt_ctx *c, const vt_tensor *x, int dim, const vt_tensor *idx, vt_tensor *out) {
    const walk w = walk_init(dim, idx, x, out);
    const float *px = x->data;
    const int64_t *pi = idx->data;
    float *po = out->data;
#pragma omp parallel for num_threads(vt_ctx_threads(c)) if (w.groups > 1 && vt_numel(idx) > PAR_THRESHOLD)
    for (int64_t g = 0; g < w.groups; g++) {
        int64_t bi, bb, bc;
        walk_base(&w, g, &bi, &bb, &bc);
        for (int64_t j = 0; j < w.J; j++)
            for (int64_t k = 0; k < w.K; k++)
                po[bc + j * w.csj + k * w.csk] = px[bb + pi[bi + j * w.isj + k * w.isk] * w.bsj + k * w.bsk];
    }
}

static void cpu_scatter_add(vt_ctx *c, vt_tensor *out, int dim, const vt_tensor *idx, const vt_tensor *src) {
    const walk w = walk_init(dim, idx, out, src);
    float *po = out->data;
    const int64_t *pi = idx->data;
    const float *ps = src->data;
    const int64_t nchunks = (w.K + CHUNK - 1) / CHUNK;
    /* (group, k-chunk) units own disjoint outputs; j runs in order inside each */
#pragma omp parallel for collapse(2) num_threads(vt_ctx_threads(c)) if (vt_numel(idx) > PAR_THRESHOLD)
    for (int64_t g = 0; g < w.groups; g++) {
        for (int64_t ch = 0; ch < nchunks; ch++) {
            int64_t bi, bb, bc;
            walk_base(&w, g, &bi, &bb, &bc);
            const int64_t k0 = ch * CHUNK, k1 = w.K - k0 < CHUNK ? w.K : k0 + CHUNK;
            for (int64_t j = 0; j < w.J; j++)
                for (int64_t k = k0; k < k1; k++)
                    po[bb + pi[bi + j * w.isj + k * w.isk] * w.bsj + k * w.bsk] += ps[bc + j * w.csj + k * w.csk];
        }
    }
}

/* ---- where ---- */

static void cpu_where(vt_ctx *c, const vt_tensor *cond, const vt_tensor *a, const vt_tensor *b, vt_tensor *out) {
    const int nd = out->ndim;
    const uint8_t *pc = cond->data;
    const float *pa = a->data, *pb = b->data;
    float *po = out->data;
    const int64_t total = vt_numel(out);
    if (total == 0) return;
    if (nd == 0) {
        po[0] = pc[0] ? pa[0] : pb[0];
        return;
    }
    const int64_t inner = out->shape[nd - 1], rows = total / inner;
    const int64_t sc = cond->stride[nd - 1], sa = a->stride[nd - 1], sb = b->stride[nd - 1];
#pragma omp parallel for num_threads(vt_ctx_threads(c)) if (total > PAR_THRESHOLD)
    for (int64_t r = 0; r < rows; r++) {
        int64_t oc = 0, oa = 0, ob = 0, rem = r;
        for (int d = nd - 2; d >= 0; d--) {
            int64_t q = rem % out->shape[d];
            rem /= out->shape[d];
            oc += q * cond->stride[d];
            oa += q * a->stride[d];
            ob += q * b->stride[d];
        }
        const uint8_t *rc = pc + oc;
        const float *ra = pa + oa, *rb = pb + ob;
        float *ro = po + r * inner;
        if (sc == 1 && sa == 1 && sb == 1) {
#pragma omp simd
            for (int64_t j = 0; j < inner; j++) ro[j] = rc[j] ? ra[j] : rb[j];
        } else {
            for (int64_t j = 0; j < inner; j++) ro[j] = rc[j * sc] ? ra[j * sa] : rb[j * sb];
        }
    }
}

/* ---- sort / topk ---- */

/* The order: NaN above every number; equal values keep index order (a stable sort). */
static inline bool before(const vt_sort_item *a, const vt_sort_item *b, bool desc) {
    bool an = isnan(a->v), bn = isnan(b->v);
    if (an != bn) return desc ? an : bn;
    if (!an && a->v != b->v) return desc ? a->v > b->v : a->v < b->v;
    return a->i < b->i;
}
static int cmp_asc(const void *a, const void *b) {
    return before(a, b, false) ? -1 : (before(b, a, false) ? 1 : 0);
}
static int cmp_desc(const void *a, const void *b) {
    return before(a, b, true) ? -1 : (before(b, a, true) ? 1 : 0);
}
static int cmp_index(const void *a, const void *b) {
    int64_t x = ((const vt_sort_item *)a)->i, y = ((const vt_sort_item *)b)->i;
    return (x > y) - (x < y);
}

/* Keeps the first k of the order in it[0..k) (unordered): a heap whose root is the last of those kept. */
static void select_k(vt_sort_item *it, int64_t n, int64_t k, bool desc) {
    for (int64_t m = 1; m < k; m++) { /* build: sift up */
        int64_t ch = m;
        while (ch > 0 && before(&it[(ch - 1) / 2], &it[ch], desc)) {
            vt_sort_item t = it[ch];
            it[ch] = it[(ch - 1) / 2];
            it[(ch - 1) / 2] = t;
            ch = (ch - 1) / 2;
        }
    }
    for (int64_t m = k; m < n; m++) {
        if (!before(&it[m], &it[0], desc)) continue;
        vt_sort_item x = it[m];
        int64_t p = 0;
        for (;;) { /* sift down: the child that comes last in the order rises */
            int64_t l = 2 * p + 1, r = l + 1, w = p;
            const vt_sort_item *wv = &x;
            if (l < k && before(wv, &it[l], desc)) w = l, wv = &it[l];
            if (r < k && before(wv, &it[r], desc)) w = r;
            if (w == p) break;
            it[p] = it[w];
            p = w;
        }
        it[p] = x;
    }
}

static void cpu_sort(vt_ctx *c, const float *x, float *vals, int64_t *idx, int64_t outer, int64_t n, int64_t inner,
                     int64_t k, bool descending, bool sorted, vt_sort_item *scratch) {
    const int64_t lines = outer * inner;
#pragma omp parallel for num_threads(vt_ctx_threads(c)) if (lines > 1 && lines * n > PAR_THRESHOLD / 8)
    for (int64_t l = 0; l < lines; l++) {
        const int64_t o = l / inner, i = l % inner;
        vt_sort_item *it = scratch + (int64_t)omp_get_thread_num() * n;
        const float *px = x + o * n * inner + i;
        for (int64_t j = 0; j < n; j++) it[j] = (vt_sort_item){px[j * inner], j};
        if (k < n / 4) select_k(it, n, k, descending);
        qsort(it, (size_t)(k < n / 4 ? k : n), sizeof *it, descending ? cmp_desc : cmp_asc);
        if (!sorted) qsort(it, (size_t)k, sizeof *it, cmp_index);
        float *pv = vals + o * k * inner + i;
        int64_t *pi = idx + o * k * inner + i;
        for (int64_t j = 0; j < k; j++) {
            pv[j * inner] = it[j].v;
            pi[j * inner] = it[j].i;
        }
    }
}

/* ---- cumsum, one_hot, arange ---- */

#define SCAN_BLOCK 64

static void cpu_cumsum(vt_ctx *c, const float *x, float *y, int64_t outer, int64_t n, int64_t inner, bool reverse) {
    const int64_t nblocks = (inner + SCAN_BLOCK - 1) / SCAN_BLOCK;
#pragma omp parallel for collapse(2) num_threads(vt_ctx_threads(c)) if (outer * n * inner > PAR_THRESHOLD)
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t b = 0; b < nblocks; b++) {
            const int64_t i0 = b * SCAN_BLOCK, len = inner - i0 < SCAN_BLOCK ? inner - i0 : SCAN_BLOCK;
            double acc[SCAN_BLOCK] = {0};
            for (int64_t s = 0; s < n; s++) {
                const int64_t j = reverse ? n - 1 - s : s;
                const float *px = x + (o * n + j) * inner + i0;
                float *py = y + (o * n + j) * inner + i0;
#pragma omp simd
                for (int64_t t = 0; t < len; t++) {
                    acc[t] += px[t];
                    py[t] = (float)acc[t];
                }
            }
        }
    }
}

static void cpu_one_hot(vt_ctx *c, const int64_t *ids, float *out, int64_t n, int64_t classes) {
    memset(out, 0, (size_t)(n * classes) * sizeof *out);
    for (int64_t i = 0; i < n; i++) out[i * classes + ids[i]] = 1.0f;
}

static void cpu_arange(vt_ctx *c, void *out, vt_dtype dt, int64_t n, double start, double step) {
    if (dt == VT_I64) {
        int64_t *p = out;
        for (int64_t i = 0; i < n; i++) p[i] = (int64_t)(start + step * (double)i);
    } else {
        float *p = out;
        for (int64_t i = 0; i < n; i++) p[i] = (float)(start + step * (double)i);
    }
}

const vt_index_kernels vt_cpu_index_kernels = {
    .size = sizeof(vt_index_kernels),
    .index_select = cpu_index_select,
    .index_add = cpu_index_add,
    .gather = cpu_gather,
    .scatter_add = cpu_scatter_add,
    .where = cpu_where,
    .sort = cpu_sort,
    .cumsum = cpu_cumsum,
    .one_hot = cpu_one_hot,
    .arange = cpu_arange,
};
