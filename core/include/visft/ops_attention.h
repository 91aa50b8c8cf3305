/* Fused scaled-dot-product attention: softmax(q·kᵀ·scale + mask)·v without materialising the score matrix.
 *
 * Semantics follow PyTorch's torch.nn.functional.scaled_dot_product_attention, with one deliberate
 * difference: a query row whose keys are all masked out (boolean false, additive -inf, or causal with no
 * visible key) gives an output row of zeros and zero gradients, where the explicit PyTorch formula gives NaN.
 * Padding rows in a batch then cannot poison the loss. */
#ifndef VISFT_OPS_ATTENTION_H
#define VISFT_OPS_ATTENTION_H

#include <stdbool.h>

#include "visft/context.h"
#include "visft/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* q [B, H, Lq, D], k [B, H, Lk, D], v [B, H, Lk, Dv] (f32) -> [B, H, Lq, Dv], contiguous.
 *
 * q, k and v may be strided views (e.g. permuted slices of one fused [B, L, 3, H, D] projection): only the
 * last dim needs unit stride and the token stride must be at least D; other layouts are copied first. Batch
 * and head strides may be 0 (a k/v expanded over heads).
 * mask: NULL, or broadcastable to [B, H, Lq, Lk]; f32 is added to the scaled scores (and gets a gradient
 * when it requires one: learned position biases), u8/bool keeps the positions that are true.
 * scale: 0 means 1/sqrt(D).
 * is_causal: query i sees keys j <= i (top-left aligned when Lq != Lk, as PyTorch); combines with mask. */
vt_tensor *vt_sdpa(vt_ctx *c, vt_tensor *q, vt_tensor *k, vt_tensor *v, vt_tensor *mask, double scale,
                   bool is_causal);

#ifdef __cplusplus
}
#endif
#endif
