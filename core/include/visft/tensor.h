/* Tensors: typed, strided views onto reference-counted storage on a device.
 *
 * Ownership, in one rule: a tensor returned by an op (or by vt_empty/vt_zeros/...) belongs to the context's
 * innermost scope and is released when that scope is popped (see context.h). To keep one longer, take a
 * reference with vt_tensor_retain and drop it with vt_tensor_release. vt_tensor_create returns a tensor
 * owned by the caller (refcount 1, in no scope): use it for parameters and other long-lived state.
 *
 * Views (reshape, permute, transpose, slice, expand) share storage; `offset` and `stride` are in elements. */
#ifndef VISFT_TENSOR_H
#define VISFT_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "visft/dtype.h"
#include "visft/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VT_MAX_DIMS 8

/* VT_DEVICE_EMU: an emulated accelerator for testing device code paths on the CPU: host memory that faults when
 * touched outside kernels. */
typedef enum vt_device_kind { VT_DEVICE_CPU = 0, VT_DEVICE_CUDA = 1, VT_DEVICE_EMU = 2 } vt_device_kind;

typedef struct vt_device {
    vt_device_kind kind;
    int index;
} vt_device;

typedef struct vt_ctx vt_ctx;
typedef struct vt_storage vt_storage;
typedef struct vt_node vt_node;

typedef struct vt_tensor {
    vt_dtype dtype;
    int ndim;
    int64_t shape[VT_MAX_DIMS];
    int64_t stride[VT_MAX_DIMS]; /* in elements */
    int64_t offset;              /* in elements from the storage base */
    vt_device device;
    vt_storage *storage;
    void *data;                  /* storage base + offset (device address for non-CPU tensors) */

    /* autograd */
    bool requires_grad;
    struct vt_tensor *grad;      /* accumulated gradient of a leaf (owned by the tensor) */
    vt_node *grad_fn;            /* node that produced this tensor, NULL for leaves */

    int refcount;
    vt_ctx *ctx;
    char *name;                  /* optional (parameters); owned */
} vt_tensor;

static inline vt_device vt_cpu(void) {
    vt_device d = {VT_DEVICE_CPU, 0};
    return d;
}
static inline vt_device vt_cuda(int index) {
    vt_device d = {VT_DEVICE_CUDA, index};
    return d;
}
static inline vt_device vt_emu(int index) {
    vt_device d = {VT_DEVICE_EMU, index};
    return d;
}
static inline bool vt_device_equal(vt_device a, vt_device b) { return a.kind == b.kind && a.index == b.index; }

/* ---- devices ---- */
/* Number of devices of a kind usable in this build on this machine: 1 for CPU; for CUDA, the GPUs the CUDA
 * runtime reports (0 in a build without CUDA, or without a GPU or driver); 4 for EMU. */
int vt_device_count(vt_device_kind kind);
/* Parses "cpu", "cuda" (= cuda:0), "cuda:N", "emu" (= emu:0) or "emu:N" (N < 4) into *out; VT_EINVAL with a
 * one-line message otherwise. It does not check that the device exists (vt_device_check does). */
vt_status vt_device_parse(const char *s, vt_device *out, vt_err *err);
/* VT_OK when d is usable here; otherwise VT_EUNSUPPORTED naming the device and why (no CUDA in this build, no
 * GPU, index out of range). */
vt_status vt_device_check(vt_device d, vt_err *err);
/* Writes "cpu", "cuda:N" or "emu:N" into buf; returns buf. */
char *vt_device_str(vt_device d, char *buf, size_t len);
/* Waits until all work the context queued on d has finished (a no-op on the CPU, where ops are synchronous);
 * reports errors of asynchronous device work. */
vt_status vt_device_synchronize(vt_ctx *c, vt_device d);

/* ---- creation ---- */
/* New uninitialised tensor in the current scope. NULL (and ctx error) on failure. */
vt_tensor *vt_empty(vt_ctx *c, vt_dtype dt, int ndim, const int64_t *shape);
vt_tensor *vt_zeros(vt_ctx *c, vt_dtype dt, int ndim, const int64_t *shape);
vt_tensor *vt_full(vt_ctx *c, vt_dtype dt, int ndim, const int64_t *shape, double value);
vt_tensor *vt_empty_like(vt_ctx *c, const vt_tensor *t);
vt_tensor *vt_zeros_like(vt_ctx *c, const vt_tensor *t);
/* f32 tensor in the current scope holding a copy of `values` (numel of shape). */
vt_tensor *vt_from_f32(vt_ctx *c, int ndim, const int64_t *shape, const float *values);
vt_tensor *vt_from_i64(vt_ctx *c, int ndim, const int64_t *shape, const int64_t *values);
/* Scalar (0-d) f32 tensor. */
vt_tensor *vt_scalar(vt_ctx *c, float value);
/* Caller-owned zero-filled tensor (refcount 1, in no scope). */
vt_tensor *vt_tensor_create(vt_ctx *c, vt_dtype dt, int ndim, const int64_t *shape);
/* The same on a given device (the functions above create CPU tensors, except *_like, which use t's device). */
vt_tensor *vt_empty_on(vt_ctx *c, vt_device dev, vt_dtype dt, int ndim, const int64_t *shape);
vt_tensor *vt_zeros_on(vt_ctx *c, vt_device dev, vt_dtype dt, int ndim, const int64_t *shape);
vt_tensor *vt_full_on(vt_ctx *c, vt_device dev, vt_dtype dt, int ndim, const int64_t *shape, double value);
vt_tensor *vt_tensor_create_on(vt_ctx *c, vt_device dev, vt_dtype dt, int ndim, const int64_t *shape);
/* A copy of t on dev in the current scope (t itself, retained into the scope, when already there). Recorded
 * by autograd: the gradient flows back to t's device. */
vt_tensor *vt_to_device(vt_ctx *c, vt_tensor *t, vt_device dev);
/* Moves a parameter-like tensor (contiguous, owning its whole storage, no other tensor viewing it) to dev in
 * place: same struct, new storage; its gradient, if any, is dropped. For moving models between devices. */
vt_status vt_tensor_move_(vt_ctx *c, vt_tensor *t, vt_device dev);

/* Shorthand for literal shapes: VT_SHAPE(2, 3) expands to `2, (const int64_t[]){2, 3}`. */
#define VT_SHAPE(...) \
    (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (const int64_t[]){__VA_ARGS__}

/* ---- references ---- */
vt_tensor *vt_tensor_retain(vt_tensor *t);
void vt_tensor_release(vt_tensor *t);
/* Sets a tensor's name (copied); used in error messages and checkpoints. */
void vt_tensor_set_name(vt_tensor *t, const char *name);

/* ---- queries ---- */
int64_t vt_numel(const vt_tensor *t);
size_t vt_nbytes(const vt_tensor *t);
bool vt_is_contiguous(const vt_tensor *t);
bool vt_same_shape(const vt_tensor *a, const vt_tensor *b);
/* Writes "[2, 3, 4]" into buf; returns buf. */
char *vt_shape_str(const vt_tensor *t, char *buf, size_t len);
#define VT_SHAPE_STR_MAX 96

/* CPU data access for contiguous tensors (NULL if not CPU or wrong dtype). */
float *vt_f32(const vt_tensor *t);
int64_t *vt_i64(const vt_tensor *t);
int32_t *vt_i32(const vt_tensor *t);
/* Reads element i of a contiguous CPU tensor of any dtype as a double (tests and debugging). */
double vt_item_at(const vt_tensor *t, int64_t i);
double vt_item(const vt_tensor *t); /* a single-element tensor */

/* Copies src into dst (same shape; any strides; dtype converted; across devices too). Not recorded by
 * autograd. */
vt_status vt_copy_(vt_ctx *c, vt_tensor *dst, const vt_tensor *src);
/* Fills with a constant. Not recorded by autograd. */
vt_status vt_fill_(vt_ctx *c, vt_tensor *t, double value);

#ifdef __cplusplus
}
#endif
#endif
