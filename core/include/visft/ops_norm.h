/* Normalisation layers' ops: layer_norm (transformer blocks) and group_norm (convolutional heads).
 * Backward is fused (dx, dweight and dbias in one pass) and reproducible for any thread count. */
#ifndef VISFT_OPS_NORM_H
#define VISFT_OPS_NORM_H

#include <stdint.h>

#include "visft/context.h"
#include "visft/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Normalises x [..., D] over its last dim: (x − mean) / sqrt(var + eps) · weight + bias, with the biased
 * variance (PyTorch). weight and bias are [D] or NULL. */
vt_tensor *vt_layer_norm(vt_ctx *c, vt_tensor *x, vt_tensor *weight, vt_tensor *bias, double eps);
/* x [N, C, *] normalised over each of num_groups groups of C / num_groups channels (and all of *), then
 * scaled and shifted per channel by weight and bias ([C] or NULL). */
vt_tensor *vt_group_norm(vt_ctx *c, vt_tensor *x, int64_t num_groups, vt_tensor *weight, vt_tensor *bias,
                         double eps);

#ifdef __cplusplus
}
#endif
#endif
