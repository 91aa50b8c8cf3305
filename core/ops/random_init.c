/* Parameter initialisers (PyTorch's nn.init and timm's trunc_normal_), filling f32 tensors in place from the
 * context's Philox stream. Not recorded by autograd: they set a leaf's values. */
#include <math.h>

#include "ops/op_util.h"
#include "ops/random_kernels.h"
#include "visft/ops.h"
#include "visft/rng.h"

typedef enum init_kind { INIT_UNIFORM, INIT_NORMAL, INIT_TRUNC } init_kind;

static vt_status init_fill(vt_ctx *c, const char *op, vt_tensor *t, init_kind kind, double p0, double p1, double p2,
                           double p3) {
    if (!vt_ctx_ok(c)) return c->err.code;
    if (!t) return vt_ctx_fail(c, VT_EINVAL, "%s: tensor is NULL", op);
    if (!vt_op_dtype(c, op, "tensor", t, VT_F32)) return c->err.code;
    const vt_random_kernels *k = vt_kernels(c, t->device, VT_FAM_RANDOM, op);
    if (!k) return c->err.code;
    vt_scope_push(c);
    /* write in place when contiguous, else through a contiguous temporary */
    vt_tensor *dst = vt_is_contiguous(t) ? t : vt_empty_on(c, t->device, VT_F32, t->ndim, t->shape);
    if (dst) {
        const int64_t n = vt_numel(t);
        const uint64_t seed = vt_ctx_get_seed(c), block0 = vt_ctx_rng_reserve(c, vt_rng_blocks((uint64_t)n));
        float *p = dst->data;
        if (kind == INIT_UNIFORM) k->uniform(c, seed, block0, p, n, p0, p1);
        if (kind == INIT_NORMAL) k->normal(c, seed, block0, p, n, p0, p1);
        if (kind == INIT_TRUNC) k->trunc_normal(c, seed, block0, p, n, p0, p1, p2, p3);
        if (dst != t) vt_copy_(c, t, dst);
    }
    vt_scope_pop(c);
    return c->err.code;
}

vt_status vt_init_uniform_(vt_ctx *c, vt_tensor *t, double lo, double hi) {
    if (!(lo <= hi) || !isfinite(lo) || !isfinite(hi))
        return vt_ctx_fail(c, VT_EINVAL, "init_uniform: bounds [%g, %g) are not a finite interval", lo, hi);
    return init_fill(c, "init_uniform", t, INIT_UNIFORM, lo, hi, 0, 0);
}

vt_status vt_init_normal_(vt_ctx *c, vt_tensor *t, double mean, double std) {
    if (!(std >= 0.0) || !isfinite(mean) || !isfinite(std))
        return vt_ctx_fail(c, VT_EINVAL, "init_normal: mean %g / std %g invalid (std must be finite and >= 0)", mean,
                           std);
    return init_fill(c, "init_normal", t, INIT_NORMAL, mean, std, 0, 0);
}

vt_status vt_init_trunc_normal_(vt_ctx *c, vt_tensor *t, double std, double a, double b) {
    if (!(std > 0.0) || !isfinite(std) || !(a < b))
        return vt_ctx_fail(c, VT_EINVAL, "init_trunc_normal: needs std > 0 and a < b, got std %g, [%g, %g]", std, a,
                           b);
    return init_fill(c, "init_trunc_normal", t, INIT_TRUNC, 0.0, std, a, b);
}

/* PyTorch's _calculate_fan_in_and_fan_out. */
static bool fans(vt_ctx *c, const char *op, const vt_tensor *t, double *fan_in, double *fan_out) {
    if (!vt_ctx_ok(c)) return false;
    if (!t) {
        vt_ctx_fail(c, VT_EINVAL, "%s: tensor is NULL", op);
        return false;
    }
    char s[VT_SHAPE_STR_MAX];
    if (t->ndim < 2 || vt_numel(t) == 0) {
        vt_ctx_fail(c, VT_ESHAPE, "%s: fan in and fan out need a non-empty tensor with at least 2 dims, got %s", op,
                    vt_shape_str(t, s, sizeof s));
        return false;
    }
    double rf = 1.0;
    for (int d = 2; d < t->ndim; d++) rf *= (double)t->shape[d];
    *fan_in = (double)t->shape[1] * rf;
    *fan_out = (double)t->shape[0] * rf;
    return true;
}

vt_status vt_init_kaiming_uniform_(vt_ctx *c, vt_tensor *t, double a) {
    double fan_in, fan_out;
    if (!fans(c, "init_kaiming_uniform", t, &fan_in, &fan_out)) return c->err.code;
    const double gain = sqrt(2.0 / (1.0 + a * a)), bound = sqrt(3.0) * gain / sqrt(fan_in);
    return init_fill(c, "init_kaiming_uniform", t, INIT_UNIFORM, -bound, bound, 0, 0);
}

vt_status vt_init_xavier_uniform_(vt_ctx *c, vt_tensor *t) {
    double fan_in, fan_out;
    if (!fans(c, "init_xavier_uniform", t, &fan_in, &fan_out)) return c->err.code;
    const double bound = sqrt(3.0) * sqrt(2.0 / (fan_in + fan_out));
    return init_fill(c, "init_xavier_uniform", t, INIT_UNIFORM, -bound, bound, 0, 0);
}
