/* Kernel table of the optimizer family: fused per-parameter updates (one pass over p, g and the state) and
 * the gradient norm of clipping (the rescale itself is the elementwise family's in-place mul_scalar).
 * The scalars are computed once per parameter on the host, in double, and handed over as floats, so every
 * backend sees the same rounding of lr, betas and bias corrections. */
#ifndef VISFT_CORE_OPTIM_KERNELS_H
#define VISFT_CORE_OPTIM_KERNELS_H

#include <stdbool.h>

#include "backend/backend.h"

typedef struct vt_adamw_hparams {
    float decay;         /* 1 − lr·wd */
    float beta1, beta2;
    float one_m_beta1;   /* 1 − β1 */
    float one_m_beta2;   /* 1 − β2 */
    float neg_step_size; /* −lr / (1 − β1^t) */
    float bc2_sqrt;      /* sqrt(1 − β2^t) */
    float eps;
} vt_adamw_hparams;

typedef struct vt_sgd_hparams {
    float neg_lr;         /* −lr */
    float weight_decay;
    float momentum;       /* 0: no buffer (buf may be NULL) */
    float one_m_damp;     /* 1 − dampening */
    bool nesterov;
    bool first;           /* buffer not yet initialised: buf = d */
} vt_sgd_hparams;

typedef struct vt_optim_kernels {
    size_t size;
    /* In place over n contiguous elements: p, m (exp_avg) and v (exp_avg_sq) from gradient g. */
    void (*adamw)(vt_ctx *c, float *p, const float *g, float *m, float *v, int64_t n, const vt_adamw_hparams *h);
    /* In place: p and the momentum buffer buf (NULL when momentum is 0). */
    void (*sgd)(vt_ctx *c, float *p, const float *g, float *buf, int64_t n, const vt_sgd_hparams *h);
    /* Σ|x|^p in double (p = 2 squares exactly; p = INFINITY gives max |x|), summed in an order that does
     * not depend on the thread count. NaN in x gives NaN. */
    double (*norm_pow)(vt_ctx *c, const float *x, int64_t n, double p);
} vt_optim_kernels;

#endif
