/* Elementwise ops: broadcasting binary arithmetic, scalar arithmetic, math functions and activations.
 * f32 only. Broadcasting follows numpy/PyTorch rules. */
#ifndef VISFT_OPS_ELEMENTWISE_H
#define VISFT_OPS_ELEMENTWISE_H

#include "visft/context.h"
#include "visft/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

vt_tensor *vt_add(vt_ctx *c, vt_tensor *a, vt_tensor *b);
vt_tensor *vt_sub(vt_ctx *c, vt_tensor *a, vt_tensor *b);
vt_tensor *vt_mul(vt_ctx *c, vt_tensor *a, vt_tensor *b);
vt_tensor *vt_div(vt_ctx *c, vt_tensor *a, vt_tensor *b);

vt_tensor *vt_add_scalar(vt_ctx *c, vt_tensor *x, double s);   /* x + s */
vt_tensor *vt_mul_scalar(vt_ctx *c, vt_tensor *x, double s);   /* x * s */
vt_tensor *vt_rsub_scalar(vt_ctx *c, vt_tensor *x, double s);  /* s - x */
vt_tensor *vt_rdiv_scalar(vt_ctx *c, vt_tensor *x, double s);  /* s / x */
vt_tensor *vt_pow_scalar(vt_ctx *c, vt_tensor *x, double p);   /* x ^ p */

vt_tensor *vt_neg(vt_ctx *c, vt_tensor *x);
vt_tensor *vt_exp(vt_ctx *c, vt_tensor *x);
vt_tensor *vt_log(vt_ctx *c, vt_tensor *x);
vt_tensor *vt_sqrt(vt_ctx *c, vt_tensor *x);
vt_tensor *vt_rsqrt(vt_ctx *c, vt_tensor *x);
vt_tensor *vt_abs(vt_ctx *c, vt_tensor *x);
vt_tensor *vt_clamp(vt_ctx *c, vt_tensor *x, double lo, double hi); /* use ±INFINITY for one-sided */

vt_tensor *vt_tanh(vt_ctx *c, vt_tensor *x);
vt_tensor *vt_sigmoid(vt_ctx *c, vt_tensor *x);
vt_tensor *vt_relu(vt_ctx *c, vt_tensor *x);
vt_tensor *vt_gelu(vt_ctx *c, vt_tensor *x);      /* exact: x·Φ(x) (erf form) */
vt_tensor *vt_gelu_tanh(vt_ctx *c, vt_tensor *x); /* tanh approximation */
vt_tensor *vt_quick_gelu(vt_ctx *c, vt_tensor *x);/* x·σ(1.702x) (OpenAI CLIP) */
vt_tensor *vt_silu(vt_ctx *c, vt_tensor *x);

#ifdef __cplusplus
}
#endif
#endif
