/* Reductions and normalised exponentials. */
#ifndef VISFT_OPS_REDUCE_H
#define VISFT_OPS_REDUCE_H

#include <stdbool.h>

#include "visft/context.h"
#include "visft/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Sum / mean over the listed dims (negative allowed); ndims == 0 reduces over everything. */
vt_tensor *vt_sum(vt_ctx *c, vt_tensor *x, int ndims, const int *dims, bool keepdim);
vt_tensor *vt_mean(vt_ctx *c, vt_tensor *x, int ndims, const int *dims, bool keepdim);
vt_tensor *vt_sum_all(vt_ctx *c, vt_tensor *x);
vt_tensor *vt_mean_all(vt_ctx *c, vt_tensor *x);

/* Max over one dim (negative allowed). The gradient goes to the first index attaining the max; NaN counts as
 * the largest value (PyTorch). Fails on an empty dim. */
vt_tensor *vt_max(vt_ctx *c, vt_tensor *x, int dim, bool keepdim);
/* Index (i64) of the first max along dim, as vt_max picks it. Not differentiable. */
vt_tensor *vt_argmax(vt_ctx *c, vt_tensor *x, int dim, bool keepdim);
/* Max over every element as a 0-d tensor; the gradient is shared evenly by all elements equal to it. */
vt_tensor *vt_max_all(vt_ctx *c, vt_tensor *x);

/* Numerically stable softmax / log_softmax along dim (negative allowed). */
vt_tensor *vt_softmax(vt_ctx *c, vt_tensor *x, int dim);
vt_tensor *vt_log_softmax(vt_ctx *c, vt_tensor *x, int dim);

#ifdef __cplusplus
}
#endif
#endif
