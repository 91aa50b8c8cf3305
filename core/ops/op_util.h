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

/* Typed data pointer of a tensor on any device, for passing to that device's kernel table: a device address
 * for non-CPU tensors, which host code must never dereference. NULL when t is NULL or of another dtype. On
 * CPU tensors the same as vt_f32 / vt_i64 (which return NULL for non-CPU tensors). */
static inline float *vt_dptr_f32(const vt_tensor *t) { return t && t->dtype == VT_F32 ? (float *)t->data : NULL; }
static inline int64_t *vt_dptr_i64(const vt_tensor *t) { return t && t->dtype == VT_I64 ? (int64_t *)t->data : NULL; }

/* True when t lives in host memory (its ->data may be read and written by host code). */
static inline bool vt_on_cpu(const vt_tensor *t) { return t->device.kind == VT_DEVICE_CPU; }

/* Zero-fills t: memset for a contiguous CPU tensor (as the ops always did), the device backend's fill
 * otherwise. */
vt_status vt_zero_(vt_ctx *c, vt_tensor *t);

/* A CPU copy of t in the current scope (t itself, retained into the scope, when already on the CPU), made
 * without autograd recording. Synchronises with the device: use it only for values the host must read. */
vt_tensor *vt_host_copy(vt_ctx *c, vt_tensor *t);

/* Normalises a possibly negative dim against ndim; false + error if out of range. */
bool vt_op_dim(vt_ctx *c, const char *op, int ndim, int *dim);

#endif
