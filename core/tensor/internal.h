/* Internal pieces of the tensor core shared by tensor, context, allocator, autograd and ops.
 * Not part of the public API. */
#ifndef VISFT_CORE_TENSOR_INTERNAL_H
#define VISFT_CORE_TENSOR_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "visft/context.h"
#include "visft/tensor.h"

/* Reference-counted buffer. */
struct vt_storage {
    void *base;
    size_t nbytes;    /* usable bytes requested */
    size_t capacity;  /* bytes actually allocated (size class) */
    int refcount;
    vt_device device;
    vt_ctx *ctx;
    struct vt_storage *next_free; /* free-list link while pooled */
};

/* Caching allocator: freed buffers are kept in size-class free lists and handed out again, so a training
 * step that repeats the same shapes does no malloc after the first step. */
#define VT_ALLOC_CLASSES 256
typedef struct vt_allocator {
    void *free_lists[VT_ALLOC_CLASSES]; /* singly linked through the first word of each buffer */
    vt_mem_stats stats;
} vt_allocator;

void *vt_alloc_get(vt_allocator *a, size_t nbytes, size_t *capacity);
void vt_alloc_put(vt_allocator *a, void *p, size_t capacity);
void vt_alloc_trim(vt_allocator *a);

/* Device kinds (vt_device_kind values), each with one backend state slot per context. */
#define VT_DEVICE_KINDS 3

typedef struct vt_scope {
    vt_tensor **items;
    size_t n, cap;
} vt_scope;

#define VT_MAX_SCOPES 64

struct vt_ctx {
    vt_err err;
    int threads;
    int no_grad_depth;
    bool training;
    uint64_t seed;
    uint64_t rng_offset;
    int64_t node_seq;
    vt_allocator alloc;
    vt_scope scopes[VT_MAX_SCOPES];
    int nscopes;
    /* pools of structs so a step does not malloc thousands of small objects */
    vt_tensor *tensor_pool;
    vt_storage *storage_pool;
    vt_node *node_pool;
    bool profiling;
    vt_profile profile;
    vt_dtype autocast; /* VT_F32 (off) or VT_BF16: GEMM inputs rounded to bf16 */
    /* Per device kind: the backend's state for this context (CUDA: streams, handles, device caches), and
     * the device index of the last kernel-table lookup. */
    void *backend_state[VT_DEVICE_KINDS];
    int current_device;
};

/* Allocates a storage of nbytes on device (CPU: the context's allocator; others: their backend's). */
vt_storage *vt_storage_new(vt_ctx *c, size_t nbytes, vt_device dev);
void vt_storage_retain(vt_storage *s);
void vt_storage_release(vt_storage *s);

/* New tensor struct (refcount 1, owned by caller) viewing storage s (retained) with the given geometry. */
vt_tensor *vt_tensor_view_raw(vt_ctx *c, vt_storage *s, vt_dtype dt, int ndim, const int64_t *shape,
                              const int64_t *stride, int64_t offset);
/* Adds a caller-owned tensor to the innermost scope (the scope takes over the reference). */
vt_tensor *vt_scope_adopt(vt_ctx *c, vt_tensor *t);
/* The bytes of a contiguous tensor on any device, to or from host memory (nbytes = vt_nbytes(t)); device
 * transfers go through the tensor's context and synchronise. For checkpoints and other host-side I/O. */
vt_status vt_tensor_read_bytes(const vt_tensor *t, void *dst);
vt_status vt_tensor_write_bytes(vt_tensor *t, const void *src);

/* Fills contiguous strides for shape. */
void vt_contiguous_strides(int ndim, const int64_t *shape, int64_t *stride);
int64_t vt_shape_numel(int ndim, const int64_t *shape);
/* Validates a shape (ndim range, non-negative dims, numel overflow); records an error named by op. */
bool vt_check_shape(vt_ctx *c, const char *op, int ndim, const int64_t *shape);

#endif
