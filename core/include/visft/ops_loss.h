/* Training losses, with PyTorch's semantics (torch.nn.functional): cross-entropy (class indices or class
 * probabilities, ignore_index, class weights, label smoothing), binary cross-entropy on logits, L1 and MSE.
 * Each reduces to a scalar by default. */
#ifndef VISFT_OPS_LOSS_H
#define VISFT_OPS_LOSS_H

#include <stdint.h>

#include "visft/context.h"
#include "visft/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vt_reduction {
    VT_REDUCTION_MEAN = 0, /* the default: weighted mean for cross-entropy, plain mean otherwise */
    VT_REDUCTION_SUM,
    VT_REDUCTION_NONE,     /* one loss per sample (per element for the elementwise losses) */
} vt_reduction;

typedef struct vt_cross_entropy_opts {
    vt_tensor *weight;      /* [C] class weights, or NULL; not differentiated */
    int64_t ignore_index;   /* samples with this target add nothing (PyTorch default -100) */
    double label_smoothing; /* ε in [0, 1]: the target becomes (1−ε)·onehot + ε/C */
    vt_reduction reduction;
} vt_cross_entropy_opts;

static inline vt_cross_entropy_opts vt_cross_entropy_defaults(void) {
    vt_cross_entropy_opts o = {NULL, -100, 0.0, VT_REDUCTION_MEAN};
    return o;
}

/* logits [N, C] or [N, C, d1, ...] (or [C] with a 0-d target) against
 *   - class indices: i64 targets [N] / [N, d1, ...]. The mean divides by the summed weight w[target] of the
 *     non-ignored samples (their count without weights); when every sample is ignored it is NaN, as in PyTorch.
 *   - class probabilities: f32 targets shaped like logits (mixup / cutmix); the mean divides by the number of
 *     samples; ignore_index does not apply. Targets get no gradient.
 * opts NULL means vt_cross_entropy_defaults(). A target outside [0, C) that is not ignore_index is an error. */
vt_tensor *vt_cross_entropy(vt_ctx *c, vt_tensor *logits, vt_tensor *targets, const vt_cross_entropy_opts *opts);

typedef struct vt_bce_opts {
    vt_tensor *weight;     /* broadcast to logits' shape, or NULL; not differentiated */
    vt_tensor *pos_weight; /* weight of positive targets, broadcast to logits' shape (usually [C]), or NULL */
    vt_reduction reduction;
} vt_bce_opts;

/* Numerically stable binary cross-entropy of sigmoid(logits) against targets in [0, 1] (same shape).
 * Differentiable in logits and targets. opts NULL: no weights, mean. */
vt_tensor *vt_binary_cross_entropy_with_logits(vt_ctx *c, vt_tensor *logits, vt_tensor *targets,
                                               const vt_bce_opts *opts);

/* |input − target| and (input − target)², broadcasting, differentiable in both operands. */
vt_tensor *vt_l1_loss(vt_ctx *c, vt_tensor *input, vt_tensor *target, vt_reduction reduction);
vt_tensor *vt_mse_loss(vt_ctx *c, vt_tensor *input, vt_tensor *target, vt_reduction reduction);

#ifdef __cplusplus
}
#endif
#endif
