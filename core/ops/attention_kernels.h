/* Kernel table of the attention family. */
#ifndef VISFT_CORE_ATTENTION_KERNELS_H
#define VISFT_CORE_ATTENTION_KERNELS_H

#include <stdbool.h>
#include <stdint.h>

#include "backend/backend.h"

typedef enum vt_sdpa_mask_kind { VT_SDPA_MASK_NONE = 0, VT_SDPA_MASK_ADD, VT_SDPA_MASK_KEEP } vt_sdpa_mask_kind;

/* One attention problem, already checked by the op layer. q/k/v have a unit-stride last dim and a token
 * stride >= their head dim (the GEMM's leading dimension); batch/head strides are free (0 broadcasts). */
typedef struct vt_sdpa_args {
    int64_t B, H, Lq, Lk, D, Dv;
    const float *q, *k, *v;
    int64_t qs[3], ks[3], vs[3]; /* element strides of batch, head, token */
    vt_sdpa_mask_kind mask_kind;
    const void *mask;            /* f32 (ADD) or one byte per element (KEEP: nonzero keeps) */
    int64_t ms[4];               /* mask strides over [B, H, Lq, Lk], 0 where broadcast */
    float scale;
    bool causal;
} vt_sdpa_args;

typedef struct vt_attention_kernels {
    size_t size;
    /* out [B, H, Lq, Dv] contiguous; lse [B, H, Lq] (logsumexp of each score row, +inf for a row with no
     * visible key) or NULL when no backward will follow. */
    void (*sdpa_forward)(vt_ctx *c, const vt_sdpa_args *a, float *out, float *lse);
    /* Recomputes the scores tile by tile. out, lse, gout as from forward (contiguous); delta is scratch of
     * B·H·Lq floats. dq/dk/dv (contiguous, shaped like q/k/v) and dmask (contiguous [B, H, Lq, Lk], the
     * gradient of the additive mask before any broadcast reduction) are each NULL when not wanted. */
    void (*sdpa_backward)(vt_ctx *c, const vt_sdpa_args *a, const float *out, const float *lse, const float *gout,
                          float *delta, float *dq, float *dk, float *dv, float *dmask);
} vt_attention_kernels;

#endif
