/* Kernel table of the conv family: the layout changes conv2d needs around its GEMMs (im2col, col2im, the
 * patch-embedding rearrangement; the GEMMs themselves go through the matmul family) and the pooling kernels.
 * Every image is a contiguous [planes, H, W] f32 block. */
#ifndef VISFT_CORE_CONV_KERNELS_H
#define VISFT_CORE_CONV_KERNELS_H

#include <stdbool.h>

#include "backend/backend.h"

/* Geometry of a sliding-window op from [C, H, W] to [C or O, Ho, Wo]. */
typedef struct vt_win2d {
    int64_t C, H, W;                /* input channels (conv) or planes N·C (pools) */
    int64_t kh, kw, sh, sw, ph, pw, dh, dw;
    int64_t Ho, Wo;
} vt_win2d;

typedef struct vt_conv_kernels {
    size_t size;
    /* col [C·kh·kw, (oh1-oh0)·Wo] = the receptive fields of output rows [oh0, oh1) of one image x [C, H, W];
     * row (c, i, j) holds x[c, oh·sh - ph + i·dh, ow·sw - pw + j·dw], 0 in the padding. */
    void (*im2col)(vt_ctx *c, const vt_win2d *g, const float *x, float *col, int64_t oh0, int64_t oh1);
    /* gx [C, H, W] += the transpose of im2col applied to col (same layout). */
    void (*col2im)(vt_ctx *c, const vt_win2d *g, const float *col, float *gx, int64_t oh0, int64_t oh1);
    /* Non-overlapping windows (kernel == stride, no padding, no dilation): p [N, Ho·Wo, C·kh·kw] from
     * x [N, C, H, W]. */
    void (*patchify)(vt_ctx *c, const vt_win2d *g, int64_t N, const float *x, float *p);
    /* gx [N, C, H, W] = the inverse of patchify; pixels no patch covers (H % kh, W % kw) get 0. */
    void (*unpatchify)(vt_ctx *c, const vt_win2d *g, int64_t N, const float *p, float *gx);

    /* Pools over g->C planes (dh = dw = 1). idx holds the argmax's offset inside its plane. */
    void (*avg_pool)(vt_ctx *c, const vt_win2d *g, bool exclude_pad, const float *x, float *y);
    void (*avg_pool_backward)(vt_ctx *c, const vt_win2d *g, bool exclude_pad, const float *gy, float *gx);
    void (*max_pool)(vt_ctx *c, const vt_win2d *g, const float *x, float *y, int64_t *idx);
    void (*max_pool_backward)(vt_ctx *c, const vt_win2d *g, const float *gy, const int64_t *idx, float *gx);
    /* Adaptive bins (g->kh etc. unused). */
    void (*adaptive_avg_pool)(vt_ctx *c, const vt_win2d *g, const float *x, float *y);
    void (*adaptive_avg_pool_backward)(vt_ctx *c, const vt_win2d *g, const float *gy, float *gx);
} vt_conv_kernels;

/* The CPU pooling kernels (pool_cpu.c), gathered into vt_cpu_conv_kernels by conv_cpu.c. */
void vt_cpu_avg_pool(vt_ctx *c, const vt_win2d *g, bool exclude_pad, const float *x, float *y);
void vt_cpu_avg_pool_backward(vt_ctx *c, const vt_win2d *g, bool exclude_pad, const float *gy, float *gx);
void vt_cpu_max_pool(vt_ctx *c, const vt_win2d *g, const float *x, float *y, int64_t *idx);
void vt_cpu_max_pool_backward(vt_ctx *c, const vt_win2d *g, const float *gy, const int64_t *idx, float *gx);
void vt_cpu_adaptive_avg_pool(vt_ctx *c, const vt_win2d *g, const float *x, float *y);
void vt_cpu_adaptive_avg_pool_backward(vt_ctx *c, const vt_win2d *g, const float *gy, float *gx);

#endif
