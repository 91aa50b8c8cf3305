/* Random ops and parameter initialisers. All draw from the context's Philox stream (visft/rng.h): each call
 * reserves a fresh counter range with vt_ctx_rng_reserve, so results depend on the seed and the sequence of
 * calls, never on the thread count. vt_ctx_seed restarts the stream. */
#ifndef VISFT_OPS_RANDOM_H
#define VISFT_OPS_RANDOM_H

#include "visft/context.h"
#include "visft/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Training mode (vt_is_training): zeroes each element with probability p and scales the rest by 1/(1-p);
 * eval mode or p == 0: returns x itself. f32; differentiable (backward regenerates the same mask from the
 * saved seed and counter, storing nothing). */
vt_tensor *vt_dropout(vt_ctx *c, vt_tensor *x, double p);

/* New f32 tensors: uniform in [lo, hi), and standard normal (Box–Muller). */
vt_tensor *vt_rand_uniform(vt_ctx *c, int ndim, const int64_t *shape, double lo, double hi);
vt_tensor *vt_randn(vt_ctx *c, int ndim, const int64_t *shape);

/* In-place initialisers of f32 tensors (parameters); not recorded by autograd. PyTorch / timm formulas. */
vt_status vt_init_uniform_(vt_ctx *c, vt_tensor *t, double lo, double hi);
vt_status vt_init_normal_(vt_ctx *c, vt_tensor *t, double mean, double std);
/* timm's trunc_normal_(t, mean=0, std, a, b): normal(0, std²) restricted to [a, b] (absolute bounds, not in
 * units of std; ViT uses std 0.02 with a = -2, b = 2). */
vt_status vt_init_trunc_normal_(vt_ctx *c, vt_tensor *t, double std, double a, double b);
/* kaiming_uniform_(t, a, fan_in, leaky_relu): bound = sqrt(6 / ((1 + a²)·fan_in)); a = sqrt(5) gives
 * nn.Linear's default 1/sqrt(fan_in). fan_in = shape[1]·prod(shape[2:]); t needs at least 2 dims. */
vt_status vt_init_kaiming_uniform_(vt_ctx *c, vt_tensor *t, double a);
/* xavier_uniform_(t, gain=1): bound = sqrt(6 / (fan_in + fan_out)), fan_out = shape[0]·prod(shape[2:]). */
vt_status vt_init_xavier_uniform_(vt_ctx *c, vt_tensor *t);

#ifdef __cplusplus
}
#endif
#endif
