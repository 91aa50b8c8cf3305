/* Indexing ops: selecting and scattering by integer indices, masks and conditions, sorting, running sums and
 * index-valued factories. PyTorch semantics unless noted. Index tensors are i64; an index outside its
 * dimension is an error naming the op, the bad value and its position (never a crash). Backward passes that
 * scatter gradients sum in a fixed order, so gradients do not depend on the thread count. */
#ifndef VISFT_OPS_INDEX_H
#define VISFT_OPS_INDEX_H

#include <stdbool.h>
#include <stdint.h>

#include "visft/context.h"
#include "visft/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Rows idx (0-d or 1-d, values in [0, x.shape[dim])) of x along dim; any dtype, differentiable for f32. */
vt_tensor *vt_index_select(vt_ctx *c, vt_tensor *x, int dim, vt_tensor *idx);
/* out[p] = x[p with coordinate dim replaced by idx[p]]; idx has x's ndim and idx.shape[d] <= x.shape[d] for
 * d != dim; out has idx's shape. f32; gradient for x. */
vt_tensor *vt_gather(vt_ctx *c, vt_tensor *x, int dim, vt_tensor *idx);
/* A copy of x with src[p] added at (p with coordinate dim replaced by idx[p]) for every position p of idx;
 * idx.shape[d] <= src.shape[d] for all d and <= x.shape[d] for d != dim. f32; gradients for x and src. */
vt_tensor *vt_scatter_add(vt_ctx *c, vt_tensor *x, int dim, vt_tensor *idx, vt_tensor *src);

/* padding_idx value meaning "no padding row". */
#define VT_NO_PADDING INT64_MIN
/* weight [V, D] rows looked up by ids (i64, any shape) -> [ids..., D]. The padding_idx row (negative counts
 * from the end, as in PyTorch) gets no gradient; pass VT_NO_PADDING for none. */
vt_tensor *vt_embedding(vt_ctx *c, vt_tensor *weight, vt_tensor *ids, int64_t padding_idx);

/* x with value wherever mask (bool or u8, broadcastable to x's shape) is set. f32; gradient for x. */
vt_tensor *vt_masked_fill(vt_ctx *c, vt_tensor *x, vt_tensor *mask, double value);
/* cond ? a : b elementwise, all three broadcast together (cond bool or u8; a, b f32); gradients for a, b. */
vt_tensor *vt_where(vt_ctx *c, vt_tensor *cond, vt_tensor *a, vt_tensor *b);

/* Sorting (no gradient). Order: NaN counts as larger than every number, and equal values keep their original
 * order (lower index first) in both directions — PyTorch's sort(stable=True). PyTorch's default unstable sort
 * and its topk may order ties differently; the values always agree. Either output pointer may be NULL.
 * sorted=false returns the k selected elements in index order. */
vt_status vt_sort(vt_ctx *c, vt_tensor *x, int dim, bool descending, vt_tensor **values, vt_tensor **indices);
vt_status vt_topk(vt_ctx *c, vt_tensor *x, int64_t k, int dim, bool largest, bool sorted, vt_tensor **values,
                  vt_tensor **indices);

/* ids (i64, any shape, values in [0, num_classes)) -> f32 [ids..., num_classes]; num_classes <= 0 takes
 * max(ids) + 1. */
vt_tensor *vt_one_hot(vt_ctx *c, vt_tensor *ids, int64_t num_classes);
/* start, start + step, ... < end (> end for negative step), as f32 or i64; values computed in double. */
vt_tensor *vt_arange(vt_ctx *c, double start, double end, double step, vt_dtype dt);
/* Running sum along dim (accumulated in double, like PyTorch on CPU). f32; gradient for x. */
vt_tensor *vt_cumsum(vt_ctx *c, vt_tensor *x, int dim);

#ifdef __cplusplus
}
#endif
#endif
