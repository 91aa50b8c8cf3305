/* Kernel table of the elementwise family. */
#ifndef VISFT_CORE_ELEMENTWISE_KERNELS_H
#define VISFT_CORE_ELEMENTWISE_KERNELS_H

#include "backend/backend.h"

typedef enum vt_unary_op {
    VT_UN_NEG, VT_UN_EXP, VT_UN_LOG, VT_UN_SQRT, VT_UN_RSQRT, VT_UN_ABS, VT_UN_CLAMP,
    VT_UN_TANH, VT_UN_SIGMOID, VT_UN_RELU, VT_UN_GELU, VT_UN_GELU_TANH, VT_UN_QUICK_GELU, VT_UN_SILU,
    VT_UN_ADD_S, VT_UN_MUL_S, VT_UN_RSUB_S, VT_UN_RDIV_S, VT_UN_POW_S,
    VT_UN_COUNT
} vt_unary_op;

typedef enum vt_binary_op { VT_BIN_ADD, VT_BIN_SUB, VT_BIN_MUL, VT_BIN_DIV } vt_binary_op;

typedef struct vt_elementwise_kernels {
    size_t size;
    /* y = f(x) over n contiguous elements; p0, p1 are the op's scalars (clamp bounds, s, p). */
    void (*unary)(vt_ctx *c, vt_unary_op op, const float *x, float *y, int64_t n, double p0, double p1);
    /* gx = gy · f'(x) (y = f(x) is passed for ops whose derivative is cheaper from it). */
    void (*unary_backward)(vt_ctx *c, vt_unary_op op, const float *x, const float *y, const float *gy, float *gx,
                           int64_t n, double p0, double p1);
    /* out = a ∘ b where a and b are views already broadcast to out's shape (stride 0 where expanded) and out
     * is contiguous. */
    void (*binary)(vt_ctx *c, vt_binary_op op, const vt_tensor *a, const vt_tensor *b, vt_tensor *out);
} vt_elementwise_kernels;

#endif
