/* 2-d convolution and pooling over NCHW f32 images, with PyTorch's semantics (torch.nn.functional.conv2d,
 * avg_pool2d, max_pool2d, adaptive_avg_pool2d). All are differentiable.
 *
 * Options come in small structs where a zero field means PyTorch's default, so a call names only what
 * differs: vt_conv2d(c, x, w, b, &(vt_conv2d_opts){.stride = {2, 2}, .padding = {1, 1}}). NULL options mean
 * all defaults. */
#ifndef VISFT_OPS_CONV_H
#define VISFT_OPS_CONV_H

#include <stdbool.h>

#include "visft/context.h"
#include "visft/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vt_conv2d_opts {
    int64_t stride[2];   /* (h, w); 0 means 1 */
    int64_t padding[2];  /* zero padding on each side */
    int64_t dilation[2]; /* 0 means 1 */
    int64_t groups;      /* 0 means 1; groups == C is depthwise */
} vt_conv2d_opts;

/* x [N, C, H, W] * w [O, C/groups, kh, kw] (+ bias [O], may be NULL) -> [N, O, Ho, Wo] with
 * Ho = (H + 2·ph - dh·(kh-1) - 1) / sh + 1 (floor), likewise Wo. */
vt_tensor *vt_conv2d(vt_ctx *c, vt_tensor *x, vt_tensor *w, vt_tensor *bias, const vt_conv2d_opts *opts);

typedef struct vt_pool2d_opts {
    int64_t kernel[2];  /* (h, w); required */
    int64_t stride[2];  /* 0 means the kernel size */
    int64_t padding[2]; /* at most half the kernel */
    bool ceil_mode;     /* round the output size up (a window must still start inside the padded input) */
    bool exclude_pad;   /* avg_pool2d: divide by the in-bounds count (PyTorch count_include_pad=False) */
} vt_pool2d_opts;

/* x [N, C, H, W] -> [N, C, Ho, Wo]. avg_pool2d counts padding in the divisor unless exclude_pad. */
vt_tensor *vt_avg_pool2d(vt_ctx *c, vt_tensor *x, const vt_pool2d_opts *opts);
/* Padding acts as -inf; a tie picks the first maximum in the window and NaN wins (as PyTorch). */
vt_tensor *vt_max_pool2d(vt_ctx *c, vt_tensor *x, const vt_pool2d_opts *opts);
/* Output cell i averages input rows floor(i·H/Ho) .. ceil((i+1)·H/Ho) - 1 (likewise columns). */
vt_tensor *vt_adaptive_avg_pool2d(vt_ctx *c, vt_tensor *x, int64_t out_h, int64_t out_w);

#ifdef __cplusplus
}
#endif
#endif
