/* Reverse-mode automatic differentiation (define-by-run).
 *
 * Ops record a graph as they run when grad mode is on (see vt_no_grad_begin) and an input requires grad.
 * vt_backward walks it once, accumulating into each leaf's `grad` (so repeated backward calls over
 * micro-batches sum their gradients), and frees every node's saved activations as it goes. */
#ifndef VISFT_AUTOGRAD_H
#define VISFT_AUTOGRAD_H

#include "visft/context.h"
#include "visft/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Backward from a single-element tensor (seed gradient 1). */
vt_status vt_backward(vt_ctx *c, vt_tensor *loss);
/* Backward from any tensor with an explicit upstream gradient of the same shape. */
vt_status vt_backward_with(vt_ctx *c, vt_tensor *out, vt_tensor *grad_out);

/* Marks a leaf as a parameter to differentiate (or not). Fails on a non-leaf. */
vt_status vt_set_requires_grad(vt_tensor *t, bool requires_grad);
/* Drops the accumulated gradient of a leaf. */
void vt_zero_grad(vt_tensor *t);
/* A scope-owned alias sharing storage, cut from the graph. */
vt_tensor *vt_detach(vt_ctx *c, vt_tensor *t);

#ifdef __cplusplus
}
#endif
#endif
