/* dropout and random tensor factories. Dropout's backward regenerates the forward's mask from the saved seed
 * and first counter, so no mask is kept between forward and backward. */
#include <math.h>

#include "ops/op_util.h"
#include "ops/random_kernels.h"
#include "visft/ops.h"
#include "visft/rng.h"

/* dropout node attributes */
enum { DROP_SEED, DROP_BLOCK, DROP_THRESHOLD };

static vt_status dropout_backward(vt_ctx *c, vt_node *n, vt_tensor *g, vt_tensor **grad_in) {
    const vt_random_kernels *k = vt_kernels(c, g->device, VT_FAM_RANDOM, n->op);
    vt_tensor *gc = vt_contiguous_data(c, g), *gx = vt_empty_on(c, g->device, VT_F32, g->ndim, g->shape);
    if (!k || !gc || !gx) return c->err.code;
    k->dropout(c, (uint64_t)n->iattr[DROP_SEED], (uint64_t)n->iattr[DROP_BLOCK], vt_dptr_f32(gc), vt_dptr_f32(gx),
               vt_numel(gx), (uint32_t)n->iattr[DROP_THRESHOLD], (float)n->fattr[0]);
    grad_in[0] = gx;
    return VT_OK;
}

vt_tensor *vt_dropout(vt_ctx *c, vt_tensor *x, double p) {
    if (!VT_OP_READY(c, "dropout", x) || !vt_op_dtype(c, "dropout", "input", x, VT_F32)) return NULL;
    if (!(p >= 0.0 && p <= 1.0)) {
        vt_ctx_fail(c, VT_EINVAL, "dropout: probability %g is outside [0, 1]", p);
        return NULL;
    }
    if (!vt_is_training(c) || p == 0.0) return x;
    const vt_random_kernels *k = vt_kernels(c, x->device, VT_FAM_RANDOM, "dropout");
    vt_tensor *xc = vt_contiguous_data(c, x), *y = vt_empty_on(c, x->device, VT_F32, x->ndim, x->shape);
    if (!k || !xc || !y) return NULL;
    const int64_t n = vt_numel(y);
    const uint64_t seed = vt_ctx_get_seed(c), block0 = vt_ctx_rng_reserve(c, vt_rng_blocks((uint64_t)n));
    /* drop when the element's word < p·2^32; p = 1 drops everything through a zero scale */
    double t = ldexp(p, 32);
    const uint32_t threshold = t >= 4294967295.0 ? UINT32_MAX : (uint32_t)t;
    const float scale = p < 1.0 ? (float)(1.0 / (1.0 - p)) : 0.0f;
    k->dropout(c, seed, block0, vt_dptr_f32(xc), vt_dptr_f32(y), n, threshold, scale);
    if (vt_needs_grad(c, 1, &x)) {
        vt_node *nd = vt_node_attach(c, y, "dropout", dropout_backward, 1, &x);
        if (!nd) return NULL;
        nd->iattr[DROP_SEED] = (int64_t)seed;
        nd->iattr[DROP_BLOCK] = (int64_t)block0;
        nd->iattr[DROP_THRESHOLD] = threshold;
        nd->fattr[0] = scale;
    }
    return y;
}

vt_tensor *vt_rand_uniform(vt_ctx *c, int ndim, const int64_t *shape, double lo, double hi) {
    if (!vt_ctx_ok(c)) return NULL;
    if (!(lo <= hi) || !isfinite(lo) || !isfinite(hi)) {
        vt_ctx_fail(c, VT_EINVAL, "rand_uniform: bounds [%g, %g) are not a finite interval", lo, hi);
        return NULL;
    }
    const vt_random_kernels *k = vt_kernels(c, vt_cpu(), VT_FAM_RANDOM, "rand_uniform");
    vt_tensor *y = vt_empty(c, VT_F32, ndim, shape);
    if (!k || !y) return NULL;
    const int64_t n = vt_numel(y);
    const uint64_t seed = vt_ctx_get_seed(c), block0 = vt_ctx_rng_reserve(c, vt_rng_blocks((uint64_t)n));
    k->uniform(c, seed, block0, vt_dptr_f32(y), n, lo, hi);
    return y;
}

vt_tensor *vt_randn(vt_ctx *c, int ndim, const int64_t *shape) {
    if (!vt_ctx_ok(c)) return NULL;
    const vt_random_kernels *k = vt_kernels(c, vt_cpu(), VT_FAM_RANDOM, "randn");
    vt_tensor *y = vt_empty(c, VT_F32, ndim, shape);
    if (!k || !y) return NULL;
    const int64_t n = vt_numel(y);
    const uint64_t seed = vt_ctx_get_seed(c), block0 = vt_ctx_rng_reserve(c, vt_rng_blocks((uint64_t)n));
    k->normal(c, seed, block0, vt_dptr_f32(y), n, 0.0, 1.0);
    return y;
}
