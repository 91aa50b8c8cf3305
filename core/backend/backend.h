/* The op interface between visft's ops and its backends.
 *
 * An op (core/ops/<family>.c) checks shapes and dtypes, allocates its output, records autograd, and calls a
 * kernel from its family's table on the tensors' backend. A backend is a small struct of per-family kernel
 * tables; a NULL table or NULL entry means "not supported here", which the op reports as an error naming the
 * op and the backend (ggml's supports_op idea) instead of crashing. Adding a family appends an enum value;
 * each family's table type lives in core/ops/<family>_kernels.h and carries its own size. */
#ifndef VISFT_CORE_BACKEND_H
#define VISFT_CORE_BACKEND_H

#include <stddef.h>

#include "visft/context.h"
#include "visft/tensor.h"

typedef enum vt_op_family {
    VT_FAM_ELEMENTWISE = 0, /* unary, binary (broadcasting), scalar ops, activations */
    VT_FAM_MATMUL,          /* matmul, bmm, linear */
    VT_FAM_REDUCE,          /* sum/mean/max/argmax, softmax, log_softmax */
    VT_FAM_NORM,            /* layer_norm, group_norm */
    VT_FAM_INDEX,           /* concat, index_select, gather, scatter_add, embedding, topk, sort */
    VT_FAM_CONV,            /* conv2d, pooling */
    VT_FAM_RESAMPLE,        /* interpolate, grid_sample */
    VT_FAM_ATTENTION,       /* scaled dot-product attention */
    VT_FAM_LOSS,            /* cross_entropy, bce_with_logits, l1, mse */
    VT_FAM_RANDOM,          /* dropout and random fills */
    VT_FAM_OPTIM,           /* fused optimizer updates */
    VT_FAM_COUNT
} vt_op_family;

/* Memory of a non-CPU backend (the CPU's is the context's allocator in core/tensor/alloc.c). Per-context
 * device state (streams, handles, the device allocator's cache) lives in the context's slot for the device
 * kind (vt_ctx_backend_slot) and is released by release_state when the context is destroyed. */
typedef struct vt_mem_ops {
    size_t size;
    /* Devices usable on this machine (0: none; never an error). */
    int (*device_count)(void);
    /* nbytes (> 0) on device index dev; *capacity receives the bytes reserved. NULL + ctx error on failure. */
    void *(*alloc)(vt_ctx *c, int dev, size_t nbytes, size_t *capacity);
    void (*free)(vt_ctx *c, int dev, void *p, size_t capacity);
    /* dst = src for tensors of equal numel where at least one is on this backend's devices; any strides, any
     * dtype conversion. Ordered after all earlier work of the context; a copy to the host returns once the
     * host data is valid. */
    vt_status (*copy)(vt_ctx *c, vt_tensor *dst, const vt_tensor *src);
    /* Every element of t (any strides) = value. */
    vt_status (*fill)(vt_ctx *c, vt_tensor *t, double value);
    /* Waits for all queued work of the context on device dev. */
    vt_status (*synchronize)(vt_ctx *c, int dev);
    /* Frees what the backend keeps in the context's slot (called by vt_ctx_destroy). */
    void (*release_state)(vt_ctx *c, void *state);
    /* Allocator statistics of device dev for the context (zeros when unused). */
    vt_mem_stats (*stats)(vt_ctx *c, int dev);
} vt_mem_ops;

typedef struct vt_backend {
    size_t size; /* sizeof(vt_backend) the backend was built with */
    const char *name;
    vt_device_kind kind;
    const void *families[VT_FAM_COUNT];
    const vt_mem_ops *mem; /* NULL for the CPU backend */
} vt_backend;

/* The kernel table of `fam` for device dev, or NULL with a ctx error "OP: not supported on BACKEND". */
const void *vt_kernels(vt_ctx *c, vt_device dev, vt_op_family fam, const char *op);

/* The CPU backend (always present). */
const vt_backend *vt_cpu_backend(void);
/* The emulated accelerator (core/backend/emu/): VT_EMU_DEVICES devices whose memory is host memory that faults
 * on any access outside its kernels and memory operations, which run the CPU backend's code. */
#define VT_EMU_DEVICES 4
const vt_backend *vt_emu_backend(void);
/* The backend of a device kind, or NULL when this build has none (the CUDA backend is libvisft_cuda.so, built
 * with VISFT_CUDA and opened on first use: core/backend/cuda_loader.c). */
const vt_backend *vt_backend_of(vt_device_kind kind);
/* The CUDA library's backend (loading it once), NULL when there is none; then why, in one line. A symbol of
 * the CUDA library (NULL without it): how the core reaches its NCCL communicator. */
const vt_backend *vt_cuda_backend_loaded(void);
const char *vt_cuda_backend_unavailable_reason(void);
void *vt_cuda_backend_symbol(const char *name);

/* The context's state slot for a device kind (owned by that kind's backend), and the device index its last
 * kernel-table lookup was for: CUDA kernels run on that device's stream. */
void **vt_ctx_backend_slot(vt_ctx *c, vt_device_kind kind);
int vt_ctx_current_device(const vt_ctx *c);

#endif
