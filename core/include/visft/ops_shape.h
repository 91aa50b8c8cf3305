/* Shape ops. reshape/permute/transpose/slice/expand/squeeze/unsqueeze return views (no copy) when the
 * layout allows; contiguous() copies only when needed; concat copies. */
#ifndef VISFT_OPS_SHAPE_H
#define VISFT_OPS_SHAPE_H

#include "visft/context.h"
#include "visft/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One dimension may be -1 (inferred). A view when x is contiguous, a copy otherwise. */
vt_tensor *vt_reshape(vt_ctx *c, vt_tensor *x, int ndim, const int64_t *shape);
/* Merges dims [start, end] (inclusive; negative counts from the end) into one. */
vt_tensor *vt_flatten(vt_ctx *c, vt_tensor *x, int start, int end);
vt_tensor *vt_permute(vt_ctx *c, vt_tensor *x, const int *perm);
vt_tensor *vt_transpose(vt_ctx *c, vt_tensor *x, int d0, int d1);
/* Elements start, start+step, ... < end along dim (PyTorch slicing; start/end clamped, negative from end). */
vt_tensor *vt_slice(vt_ctx *c, vt_tensor *x, int dim, int64_t start, int64_t end, int64_t step);
/* Broadcast view to shape (-1 keeps a dim). */
vt_tensor *vt_expand(vt_ctx *c, vt_tensor *x, int ndim, const int64_t *shape);
vt_tensor *vt_unsqueeze(vt_ctx *c, vt_tensor *x, int dim);
vt_tensor *vt_squeeze(vt_ctx *c, vt_tensor *x, int dim);
vt_tensor *vt_contiguous(vt_ctx *c, vt_tensor *x);
vt_tensor *vt_concat(vt_ctx *c, int n, vt_tensor *const *xs, int dim);
/* Splits dim into pieces of `size` (last may be smaller); writes up to max_out views, returns the count. */
int vt_split(vt_ctx *c, vt_tensor *x, int64_t size, int dim, vt_tensor **out, int max_out);
/* Converts dtype (f32 <-> bf16/f16/ints); differentiable only f32 -> f32. */
vt_tensor *vt_to_dtype(vt_ctx *c, vt_tensor *x, vt_dtype dt);

#ifdef __cplusplus
}
#endif
#endif
