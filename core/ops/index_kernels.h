/* Kernel table of the index family: row selection and its scatter-add adjoint, gather/scatter, where,
 * sort/topk, cumsum, one_hot and arange. Index values are validated by the op layer before any call. */
#ifndef VISFT_CORE_INDEX_KERNELS_H
#define VISFT_CORE_INDEX_KERNELS_H

#include <stdbool.h>

#include "backend/backend.h"

/* One element of a line being sorted (scratch layout of `sort`). */
typedef struct vt_sort_item {
    float v;
    int64_t i;
} vt_sort_item;

typedef struct vt_index_kernels {
    size_t size;
    /* x contiguous [outer, rows, inner] of elem-byte elements: out[o, j, :] = x[o, idx[j], :] for j < n. */
    void (*index_select)(vt_ctx *c, const void *x, const int64_t *idx, void *out, int64_t outer, int64_t rows,
                         int64_t n, int64_t inner, size_t elem);
    /* Adjoint of index_select: gx[o, idx[j], :] += g[o, j, :], each element summed in order of j (no races, so
     * thread-count independent). Rows equal to skip receive nothing (skip < 0: none). */
    void (*index_add)(vt_ctx *c, const float *g, const int64_t *idx, float *gx, int64_t outer, int64_t rows,
                      int64_t n, int64_t inner, int64_t skip);
    /* PyTorch gather: out[p] = x[p with coordinate dim replaced by idx[p]]; all contiguous (x, out f32), out has
     * idx's shape. */
    void (*gather)(vt_ctx *c, const vt_tensor *x, int dim, const vt_tensor *idx, vt_tensor *out);
    /* PyTorch scatter_add_: out[p with coordinate dim replaced by idx[p]] += src[p] for every position p of idx
     * (src may be larger than idx); each out element summed in increasing p. All contiguous. */
    void (*scatter_add)(vt_ctx *c, vt_tensor *out, int dim, const vt_tensor *idx, const vt_tensor *src);
    /* out = cond ? a : b; cond (bool or u8), a, b (f32) are views broadcast to out's shape; out contiguous. */
    void (*where)(vt_ctx *c, const vt_tensor *cond, const vt_tensor *a, const vt_tensor *b, vt_tensor *out);
    /* For every line x[o, :, i] of contiguous x [outer, n, inner]: the first k elements of its stable order
     * (ascending, or descending; NaN counts as largest; ties by lower index) into vals/idx [outer, k, inner],
     * or those k in index order when !sorted. scratch: vt_ctx_threads(c) * n items. */
    void (*sort)(vt_ctx *c, const float *x, float *vals, int64_t *idx, int64_t outer, int64_t n, int64_t inner,
                 int64_t k, bool descending, bool sorted, vt_sort_item *scratch);
    /* y[o, :, i] = running sums of x[o, :, i] (from the end when reverse), accumulated in double like PyTorch. */
    void (*cumsum)(vt_ctx *c, const float *x, float *y, int64_t outer, int64_t n, int64_t inner, bool reverse);
    /* out [n, classes] = one-hot rows of ids. */
    void (*one_hot)(vt_ctx *c, const int64_t *ids, float *out, int64_t n, int64_t classes);
    /* out[i] = start + i·step (computed in double) as f32 or i64. */
    void (*arange)(vt_ctx *c, void *out, vt_dtype dt, int64_t n, double start, double step);
} vt_index_kernels;

#endif
