/* CUDA index kernels (contract: core/ops/index_kernels.h; reference: core/ops/index_cpu.c).
 *
 * Determinism: the accumulating kernels (index_add, scatter_add) never race. Their contributions are
 * grouped by destination with a stable radix sort (cub) of (destination, source position) pairs; one thread
 * then owns each destination and adds its contributions in increasing source position, exactly the CPU's
 * order. sort/topk is one stable radix sort of (line, order key) over all lines; cumsum gives each line to
 * one thread accumulating in double. Shapes and strides travel to the kernels by value. */
#include <math.h>
#include <stdint.h>

#include <cub/device/device_radix_sort.cuh>

#include "cuda_state.h"
#include "ops/index_kernels.h"

#define THREADS 256

typedef unsigned long long u64;

/* Grid-stride loop over [0, n). */
#define GRID_LOOP(i, n) \
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < (n); i += (int64_t)gridDim.x * blockDim.x)

/* Bits needed to hold every value in [0, maxval] (at least 1). */
static int bits_for(u64 maxval) {
    int b = 1;
    while (b < 64 && (maxval >> b) != 0) b++;
    return b;
}

static __global__ void iota_k(int64_t *v, int64_t n) {
    GRID_LOOP(i, n) v[i] = i;
}

/* Stable ascending radix sort of (key, value) pairs on keys' bits [0, end_bit), on the stream. */
static bool sort_pairs(vt_ctx *c, cudaStream_t s, const u64 *kin, u64 *kout, const int64_t *vin, int64_t *vout,
                       int64_t n, int end_bit) {
    size_t bytes = 0;
    if (!vt_cuda_ok(c, cub::DeviceRadixSort::SortPairs(nullptr, bytes, kin, kout, vin, vout, n, 0, end_bit, s),
                    "radix sort (size query)"))
        return false;
    if (bytes == 0) bytes = 1;
    void *tmp = vt_cuda_scratch(c, bytes);
    if (!tmp) return false;
    bool ok = vt_cuda_ok(c, cub::DeviceRadixSort::SortPairs(tmp, bytes, kin, kout, vin, vout, n, 0, end_bit, s),
                         "radix sort");
    vt_cuda_scratch_free(c, tmp, bytes);
    return ok;
}

static bool sort_keys(vt_ctx *c, cudaStream_t s, const u64 *kin, u64 *kout, int64_t n, int end_bit) {
    size_t bytes = 0;
    if (!vt_cuda_ok(c, cub::DeviceRadixSort::SortKeys(nullptr, bytes, kin, kout, n, 0, end_bit, s),
                    "radix sort (size query)"))
        return false;
    if (bytes == 0) bytes = 1;
    void *tmp = vt_cuda_scratch(c, bytes);
    if (!tmp) return false;
    bool ok = vt_cuda_ok(c, cub::DeviceRadixSort::SortKeys(tmp, bytes, kin, kout, n, 0, end_bit, s), "radix sort");
    vt_cuda_scratch_free(c, tmp, bytes);
    return ok;
}

/* ---- index_select: a row copy in the widest word the alignment allows ---- */

template <typename T>
static __global__ void index_select_k(const T *x, const int64_t *idx, T *out, int64_t outer, int64_t rows, int64_t n,
                                      int64_t words) {
    GRID_LOOP(e, outer * n * words) {
        const int64_t w = e % words, oj = e / words, j = oj % n, o = oj / n;
        out[e] = x[(o * rows + idx[j]) * words + w];
    }
}

static void cuda_index_select(vt_ctx *c, const void *x, const int64_t *idx, void *out, int64_t outer, int64_t rows,
                              int64_t n, int64_t inner, size_t elem) {
    vt_cuda_state *st = vt_cuda_current(c);
    if (!st) return;
    const u64 rowbytes = (u64)inner * elem;
    if (outer <= 0 || n <= 0 || rowbytes == 0) return;
    const u64 align = (u64)(uintptr_t)x | (u64)(uintptr_t)out | rowbytes;
    const unsigned blk = THREADS;
    if (align % 8 == 0) {
        const int64_t words = (int64_t)(rowbytes / 8);
        index_select_k<<<vt_cuda_blocks(outer * n * words, blk), blk, 0, st->stream>>>(
            (const uint64_t *)x, idx, (uint64_t *)out, outer, rows, n, words);
    } else if (align % 4 == 0) {
        const int64_t words = (int64_t)(rowbytes / 4);
        index_select_k<<<vt_cuda_blocks(outer * n * words, blk), blk, 0, st->stream>>>(
            (const uint32_t *)x, idx, (uint32_t *)out, outer, rows, n, words);
    } else if (align % 2 == 0) {
        const int64_t words = (int64_t)(rowbytes / 2);
        index_select_k<<<vt_cuda_blocks(outer * n * words, blk), blk, 0, st->stream>>>(
            (const uint16_t *)x, idx, (uint16_t *)out, outer, rows, n, words);
    } else {
        const int64_t words = (int64_t)rowbytes;
        index_select_k<<<vt_cuda_blocks(outer * n * words, blk), blk, 0, st->stream>>>(
            (const uint8_t *)x, idx, (uint8_t *)out, outer, rows, n, words);
    }
    vt_cuda_launched(c, "index_select");
}

/* ---- index_add ----
 * idx sorted stably with its positions j: equal rows form runs with j ascending. The thread at the start of
 * a run owns gx[o, row, t] and adds g[o, j, t] for the run's j in order. */
static __global__ void index_add_k(const float *g, const u64 *key, const int64_t *pos, float *gx, int64_t outer,
                                   int64_t rows, int64_t n, int64_t inner, int64_t skip) {
    GRID_LOOP(e, outer * n * inner) {
        const int64_t t = e % inner, s = (e / inner) % n, o = e / (inner * n);
        if (s > 0 && key[s] == key[s - 1]) continue; /* not the start of a run */
        const u64 r = key[s];
        if ((int64_t)r == skip) continue;
        float *dst = gx + (o * rows + (int64_t)r) * inner + t;
        float acc = *dst;
        for (int64_t s2 = s; s2 < n && key[s2] == r; s2++) acc += g[(o * n + pos[s2]) * inner + t];
        *dst = acc;
    }
}

static void cuda_index_add(vt_ctx *c, const float *g, const int64_t *idx, float *gx, int64_t outer, int64_t rows,
                           int64_t n, int64_t inner, int64_t skip) {
    vt_cuda_state *st = vt_cuda_current(c);
    if (!st || outer <= 0 || n <= 0 || inner <= 0 || rows <= 0) return;
    /* one block: sorted keys, positions in and out (indices are validated: 0 <= idx < rows) */
    const size_t bytes = (size_t)n * (sizeof(u64) + 2 * sizeof(int64_t));
    char *buf = (char *)vt_cuda_scratch(c, bytes);
    if (!buf) return;
    u64 *kout = (u64 *)buf;
    int64_t *pin = (int64_t *)(buf + (size_t)n * sizeof(u64)), *pout = pin + n;
    iota_k<<<vt_cuda_blocks(n, THREADS), THREADS, 0, st->stream>>>(pin, n);
    if (vt_cuda_launched(c, "index_add: iota") &&
        sort_pairs(c, st->stream, (const u64 *)idx, kout, pin, pout, n, bits_for((u64)(rows - 1)))) {
        index_add_k<<<vt_cuda_blocks(outer * n * inner, THREADS), THREADS, 0, st->stream>>>(g, kout, pout, gx, outer,
                                                                                           rows, n, inner, skip);
        vt_cuda_launched(c, "index_add");
    }
    vt_cuda_scratch_free(c, buf, bytes);
}

/* ---- gather / scatter_add ---- */

/* idx's shape and the strides of idx, the indexed tensor (x or out) and the companion (out or src). */
typedef struct idx_geom {
    int nd, dim;
    int64_t shape[VT_MAX_DIMS];
    int64_t is[VT_MAX_DIMS], bs[VT_MAX_DIMS], cs[VT_MAX_DIMS];
} idx_geom;

static idx_geom make_geom(int dim, const vt_tensor *idx, const vt_tensor *big, const vt_tensor *comp) {
    idx_geom g;
    g.nd = idx->ndim;
    g.dim = dim;
    for (int d = 0; d < VT_MAX_DIMS; d++) {
        const bool in = d < idx->ndim;
        g.shape[d] = in ? idx->shape[d] : 1;
        g.is[d] = in ? idx->stride[d] : 0;
        g.bs[d] = in ? big->stride[d] : 0;
        g.cs[d] = in ? comp->stride[d] : 0;
    }
    return g;
}

/* Offsets of position p of idx (row-major over idx's shape) in idx, the indexed tensor (without the dim
 * coordinate) and the companion. */
static __device__ void geom_offsets(const idx_geom &g, int64_t p, int64_t *oi, int64_t *ob, int64_t *oc) {
    int64_t i = 0, b = 0, cc = 0;
    for (int d = g.nd - 1; d >= 0; d--) {
        const int64_t q = p % g.shape[d];
        p /= g.shape[d];
        i += q * g.is[d];
        cc += q * g.cs[d];
        if (d != g.dim) b += q * g.bs[d];
    }
    *oi = i;
    *ob = b;
    *oc = cc;
}

static __global__ void gather_k(idx_geom g, const float *x, const int64_t *idx, float *out, int64_t total) {
    GRID_LOOP(p, total) {
        int64_t oi, ob, oc;
        geom_offsets(g, p, &oi, &ob, &oc);
        out[oc] = x[ob + idx[oi] * g.bs[g.dim]];
    }
}

static void cuda_gather(vt_ctx *c, const vt_tensor *x, int dim, const vt_tensor *idx, vt_tensor *out) {
    vt_cuda_state *st = vt_cuda_current(c);
    if (!st) return;
    const int64_t total = vt_numel(idx);
    if (total <= 0) return;
    const idx_geom g = make_geom(dim, idx, x, out);
    gather_k<<<vt_cuda_blocks(total, THREADS), THREADS, 0, st->stream>>>(g, (const float *)x->data,
                                                                        (const int64_t *)idx->data,
                                                                        (float *)out->data, total);
    vt_cuda_launched(c, "gather");
}

/* Destination offset in out of every position p of idx. */
static __global__ void scatter_keys_k(idx_geom g, const int64_t *idx, u64 *key, int64_t total) {
    GRID_LOOP(p, total) {
        int64_t oi, ob, oc;
        geom_offsets(g, p, &oi, &ob, &oc);
        key[p] = (u64)(ob + idx[oi] * g.bs[g.dim]);
    }
}

/* Runs of equal destinations in sorted order, positions ascending inside a run: the run's first thread sums
 * them into out in that order. */
static __global__ void scatter_add_k(idx_geom g, const u64 *key, const int64_t *pos, const float *src, float *out,
                                     int64_t total) {
    GRID_LOOP(s, total) {
        if (s > 0 && key[s] == key[s - 1]) continue;
        const u64 dst = key[s];
        float acc = out[dst];
        for (int64_t s2 = s; s2 < total && key[s2] == dst; s2++) {
            int64_t oi, ob, oc;
            geom_offsets(g, pos[s2], &oi, &ob, &oc);
            acc += src[oc];
        }
        out[dst] = acc;
    }
}

static void cuda_scatter_add(vt_ctx *c, vt_tensor *out, int dim, const vt_tensor *idx, const vt_tensor *src) {
    vt_cuda_state *st = vt_cuda_current(c);
    if (!st) return;
    const int64_t total = vt_numel(idx);
    if (total <= 0) return;
    const idx_geom g = make_geom(dim, idx, out, src);
    u64 maxoff = 0; /* the largest offset into out, for the sort's key width */
    for (int d = 0; d < out->ndim; d++) maxoff += (u64)((out->shape[d] - 1) * out->stride[d]);
    const size_t bytes = (size_t)total * 2 * (sizeof(u64) + sizeof(int64_t));
    char *buf = (char *)vt_cuda_scratch(c, bytes);
    if (!buf) return;
    u64 *kin = (u64 *)buf, *kout = kin + total;
    int64_t *pin = (int64_t *)(kout + total), *pout = pin + total;
    const unsigned nb = vt_cuda_blocks(total, THREADS);
    scatter_keys_k<<<nb, THREADS, 0, st->stream>>>(g, (const int64_t *)idx->data, kin, total);
    bool ok = vt_cuda_launched(c, "scatter_add: keys");
    if (ok) {
        iota_k<<<nb, THREADS, 0, st->stream>>>(pin, total);
        ok = vt_cuda_launched(c, "scatter_add: iota");
    }
    if (ok && sort_pairs(c, st->stream, kin, kout, pin, pout, total, bits_for(maxoff))) {
        scatter_add_k<<<nb, THREADS, 0, st->stream>>>(g, kout, pout, (const float *)src->data, (float *)out->data,
                                                      total);
        vt_cuda_launched(c, "scatter_add");
    }
    vt_cuda_scratch_free(c, buf, bytes);
}

/* ---- where: broadcast views (strides may be 0), contiguous out ---- */

typedef struct where_geom {
    int nd;
    int64_t shape[VT_MAX_DIMS];
    int64_t cs[VT_MAX_DIMS], as[VT_MAX_DIMS], bs[VT_MAX_DIMS];
} where_geom;

static __global__ void where_k(where_geom g, const uint8_t *cond, const float *a, const float *b, float *out,
                               int64_t total) {
    GRID_LOOP(e, total) {
        int64_t rem = e, oc = 0, oa = 0, ob = 0;
        for (int d = g.nd - 1; d >= 0; d--) {
            const int64_t q = rem % g.shape[d];
            rem /= g.shape[d];
            oc += q * g.cs[d];
            oa += q * g.as[d];
            ob += q * g.bs[d];
        }
        out[e] = cond[oc] ? a[oa] : b[ob];
    }
}

static void cuda_where(vt_ctx *c, const vt_tensor *cond, const vt_tensor *a, const vt_tensor *b, vt_tensor *out) {
    vt_cuda_state *st = vt_cuda_current(c);
    if (!st) return;
    const int64_t total = vt_numel(out);
    if (total <= 0) return;
    where_geom g;
    g.nd = out->ndim;
    for (int d = 0; d < VT_MAX_DIMS; d++) {
        const bool in = d < out->ndim;
        g.shape[d] = in ? out->shape[d] : 1;
        g.cs[d] = in ? cond->stride[d] : 0;
        g.as[d] = in ? a->stride[d] : 0;
        g.bs[d] = in ? b->stride[d] : 0;
    }
    where_k<<<vt_cuda_blocks(total, THREADS), THREADS, 0, st->stream>>>(
        g, (const uint8_t *)cond->data, (const float *)a->data, (const float *)b->data, (float *)out->data, total);
    vt_cuda_launched(c, "where");
}

/* ---- sort / topk ----
 * Key of item j of line l: (l << 32) | order(x), with order() a 32-bit key ascending in the CPU's order (-0
 * and +0 equal, NaN above +inf, every NaN equal), complemented for descending. A stable sort then leaves
 * equal values in index order, as the CPU's ties-by-lower-index rule wants, in both directions. */
static __device__ uint32_t order_key(float v, bool desc) {
    uint32_t k;
    if (isnan(v)) {
        k = 0xffffffffu;
    } else {
        uint32_t u = __float_as_uint(v);
        if ((u & 0x7fffffffu) == 0) u = 0; /* -0 sorts as +0 (equal values, then by index) */
        k = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
    }
    return desc ? ~k : k;
}

static __global__ void sort_keys_k(const float *x, u64 *key, int64_t *pos, int64_t n, int64_t inner, int64_t total,
                                   bool desc) {
    GRID_LOOP(t, total) {
        const int64_t l = t / n, j = t % n, o = l / inner, i = l % inner;
        key[t] = ((u64)l << 32) | order_key(x[(o * n + j) * inner + i], desc);
        pos[t] = j;
    }
}

/* The first k of each sorted line (positions in sorted order) to vals/idx [outer, k, inner]. */
static __global__ void sort_out_k(const float *x, const int64_t *pos, float *vals, int64_t *idx, int64_t n,
                                  int64_t inner, int64_t k, int64_t total) {
    GRID_LOOP(t, total) {
        const int64_t l = t / k, m = t % k, o = l / inner, i = l % inner;
        const int64_t j = pos[l * n + m];
        vals[(o * k + m) * inner + i] = x[(o * n + j) * inner + i];
        idx[(o * k + m) * inner + i] = j;
    }
}

/* !sorted: the kept k items of each line keyed (line, index), to be put back in index order. */
static __global__ void unsort_keys_k(const int64_t *pos, u64 *key, int64_t n, int64_t k, int64_t total) {
    GRID_LOOP(t, total) {
        const int64_t l = t / k, m = t % k;
        key[t] = ((u64)l << 32) | (u64)pos[l * n + m];
    }
}

static __global__ void unsort_out_k(const float *x, const u64 *key, float *vals, int64_t *idx, int64_t n,
                                    int64_t inner, int64_t k, int64_t total) {
    GRID_LOOP(t, total) {
        const int64_t l = t / k, m = t % k, o = l / inner, i = l % inner;
        const int64_t j = (int64_t)(key[t] & 0xffffffffull);
        vals[(o * k + m) * inner + i] = x[(o * n + j) * inner + i];
        idx[(o * k + m) * inner + i] = j;
    }
}

static void cuda_sort(vt_ctx *c, const float *x, float *vals, int64_t *idx, int64_t outer, int64_t n, int64_t inner,
                      int64_t k, bool descending, bool sorted, vt_sort_item *scratch) {
    (void)scratch; /* sized for CPU threads; we take our own */
    vt_cuda_state *st = vt_cuda_current(c);
    if (!st) return;
    const int64_t lines = outer * inner, total = lines * n, kept = lines * k;
    if (lines <= 0 || n <= 0 || k <= 0) return;
    if ((u64)n > 0xffffffffull || (u64)lines > 0xffffffffull) {
        vt_ctx_fail(c, VT_EUNSUPPORTED, "sort: cuda sorts lines of at most 2^32 - 1 items and 2^32 - 1 lines");
        return;
    }
    const int end_bit = 32 + bits_for((u64)(lines - 1));
    const size_t bytes = (size_t)total * 2 * (sizeof(u64) + sizeof(int64_t));
    char *buf = (char *)vt_cuda_scratch(c, bytes);
    if (!buf) return;
    u64 *kin = (u64 *)buf, *kout = kin + total;
    int64_t *pin = (int64_t *)(kout + total), *pout = pin + total;
    sort_keys_k<<<vt_cuda_blocks(total, THREADS), THREADS, 0, st->stream>>>(x, kin, pin, n, inner, total, descending);
    if (vt_cuda_launched(c, "sort: keys") && sort_pairs(c, st->stream, kin, kout, pin, pout, total, end_bit)) {
        if (sorted) {
            sort_out_k<<<vt_cuda_blocks(kept, THREADS), THREADS, 0, st->stream>>>(x, pout, vals, idx, n, inner, k,
                                                                                 kept);
            vt_cuda_launched(c, "sort");
        } else { /* kept <= total: reuse kin/kout for the (line, index) keys */
            unsort_keys_k<<<vt_cuda_blocks(kept, THREADS), THREADS, 0, st->stream>>>(pout, kin, n, k, kept);
            if (vt_cuda_launched(c, "topk: index keys") && sort_keys(c, st->stream, kin, kout, kept, end_bit)) {
                unsort_out_k<<<vt_cuda_blocks(kept, THREADS), THREADS, 0, st->stream>>>(x, kout, vals, idx, n, inner,
                                                                                       k, kept);
                vt_cuda_launched(c, "topk");
            }
        }
    }
    vt_cuda_scratch_free(c, buf, bytes);
}

/* ---- cumsum: one thread per line, a double accumulator like the CPU (and PyTorch) ---- */

static __global__ void cumsum_k(const float *x, float *y, int64_t outer, int64_t n, int64_t inner, bool reverse) {
    GRID_LOOP(l, outer * inner) {
        const int64_t o = l / inner, i = l % inner;
        double acc = 0.0;
        for (int64_t s = 0; s < n; s++) {
            const int64_t j = reverse ? n - 1 - s : s;
            const int64_t off = (o * n + j) * inner + i;
            acc += (double)x[off];
            y[off] = (float)acc;
        }
    }
}

static void cuda_cumsum(vt_ctx *c, const float *x, float *y, int64_t outer, int64_t n, int64_t inner, bool reverse) {
    vt_cuda_state *st = vt_cuda_current(c);
    if (!st || outer <= 0 || n <= 0 || inner <= 0) return;
    cumsum_k<<<vt_cuda_blocks(outer * inner, THREADS), THREADS, 0, st->stream>>>(x, y, outer, n, inner, reverse);
    vt_cuda_launched(c, "cumsum");
}

/* ---- one_hot, arange ---- */

static __global__ void one_hot_k(const int64_t *ids, float *out, int64_t n, int64_t classes) {
    GRID_LOOP(e, n * classes) out[e] = ids[e / classes] == e % classes ? 1.0f : 0.0f;
}

static void cuda_one_hot(vt_ctx *c, const int64_t *ids, float *out, int64_t n, int64_t classes) {
    vt_cuda_state *st = vt_cuda_current(c);
    if (!st || n <= 0 || classes <= 0) return;
    one_hot_k<<<vt_cuda_blocks(n * classes, THREADS), THREADS, 0, st->stream>>>(ids, out, n, classes);
    vt_cuda_launched(c, "one_hot");
}

/* start + step·i rounded separately (no fused multiply-add), as the CPU computes it. */
static __global__ void arange_f32_k(float *out, int64_t n, double start, double step) {
    GRID_LOOP(i, n) out[i] = (float)__dadd_rn(start, __dmul_rn(step, (double)i));
}

static __global__ void arange_i64_k(int64_t *out, int64_t n, double start, double step) {
    GRID_LOOP(i, n) out[i] = (int64_t)__dadd_rn(start, __dmul_rn(step, (double)i));
}

static void cuda_arange(vt_ctx *c, void *out, vt_dtype dt, int64_t n, double start, double step) {
    vt_cuda_state *st = vt_cuda_current(c);
    if (!st || n <= 0) return;
    if (dt == VT_I64)
        arange_i64_k<<<vt_cuda_blocks(n, THREADS), THREADS, 0, st->stream>>>((int64_t *)out, n, start, step);
    else
        arange_f32_k<<<vt_cuda_blocks(n, THREADS), THREADS, 0, st->stream>>>((float *)out, n, start, step);
    vt_cuda_launched(c, "arange");
}

extern "C" const vt_index_kernels vt_cuda_index_kernels = {
    sizeof(vt_index_kernels),
    cuda_index_select,
    cuda_index_add,
    cuda_gather,
    cuda_scatter_add,
    cuda_where,
    cuda_sort,
    cuda_cumsum,
    cuda_one_hot,
    cuda_arange,
};
