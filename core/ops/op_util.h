/* Helpers shared by op implementations: argument checks that record one-line errors naming the op, the
 * shapes and dtypes; broadcasting; and the gradient reduction back to an input's shape. */
#ifndef VISFT_CORE_OP_UTIL_H
#define VISFT_CORE_OP_UTIL_H

#include <stdbool.h>

#include "autograd/node.h"
#include "backend/backend.h"
#include "tensor/internal.h"

/* ctx has no error, every tensor is non-NULL and all are on one device. */
bool vt_op_ready(vt_ctx *c, const char *op, int n, vt_tensor *const *ts);
#define VT_OP_READY(c, op, ...) \
    vt_op_ready((c), (op), (int)(sizeof((vt_tensor *[]){__VA_ARGS__}) / sizeof(vt_tensor *)), (vt_tensor *[]){__VA_ARGS__})

/* t has dtype dt, else an error "op: NAME must be f32, got i64 [shape]". */
bool vt_op_dtype(vt_ctx *c, const char *op, const char *what, const vt_tensor *t, vt_dtype dt);

/* Broadcast shapes of a and b (numpy rules) into out_shape; false + error when they do not broadcast. */
bool vt_broadcast_shape(vt_ctx *c, const char *op, const vt_tensor *a, const vt_tensor *b, int *ndim,
                        int64_t *out_shape);
/* A stride-0 view of t expanded to shape (t must broadcast to it). Caller-owned struct. */
vt_tensor *vt_broadcast_view(vt_ctx *c, const vt_tensor *t, int ndim, const int64_t *shape);

/* Sums g over the dimensions that broadcasting added or expanded, giving a tensor of `shape`. */
vt_tensor *vt_sum_to_shape(vt_ctx *c, vt_tensor *g, int ndim, const int64_t *shape);

/* x itself when contiguous, else a contiguous copy in the current scope (no autograd). */
vt_tensor *vt_contiguous_data(vt_ctx *c, vt_tensor *x);

/* Normalises a possibly negative dim against ndim; false + error if out of range. */
bool vt_op_dim(vt_ctx *c, const char *op, int ndim, int *dim);

#endif
