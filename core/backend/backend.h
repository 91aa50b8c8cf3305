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

typedef struct vt_backend {
    size_t size; /* sizeof(vt_backend) the backend was built with */
    const char *name;
    vt_device_kind kind;
    const void *families[VT_FAM_COUNT];
} vt_backend;

/* The kernel table of `fam` for device dev, or NULL with a ctx error "OP: not supported on BACKEND". */
const void *vt_kernels(vt_ctx *c, vt_device dev, vt_op_family fam, const char *op);

/* The CPU backend (always present). */
const vt_backend *vt_cpu_backend(void);

#endif
