/* Losses: argument checks, per-sample kernels (loss_cpu.c), reduction through the reduce family, autograd.
 * L1 and MSE are compositions of existing ops (their gradients then come for free, in both operands). */
#include <math.h>

#include "ops/loss_kernels.h"
#include "ops/op_util.h"
#include "visft/ops.h"

static bool reduction_ok(vt_ctx *c, const char *op, vt_reduction r) {
    if (r == VT_REDUCTION_MEAN || r == VT_REDUCTION_SUM || r == VT_REDUCTION_NONE) return true;
    vt_ctx_fail(c, VT_EINVAL, "%s: unknown reduction %d (expected mean, sum or none)", op, (int)r);
    return false;
}

/* mean as sum·(1/n), NaN for no elements (PyTorch). */
static vt_tensor *reduce_loss(vt_ctx *c, vt_tensor *loss, vt_reduction r) {
    if (r == VT_REDUCTION_NONE || !loss) return loss;
    vt_tensor *s = vt_sum_all(c, loss);
    if (r == VT_REDUCTION_SUM) return s;
    int64_t n = vt_numel(loss);
    return vt_mul_scalar(c, s, n ? 1.0 / (double)n : NAN);
}

/* The upstream gradient as per-sample coefficients: (pointer tensor, stride) for the backward kernels. */
static vt_tensor *loss_grad_coeffs(vt_ctx *c, vt_tensor *g, vt_reduction r, vt_tensor *mean_den, int64_t count,
                                   int64_t *gs) {
    *gs = r == VT_REDUCTION_NONE ? 1 : 0;
    g = vt_contiguous_data(c, g);
    if (r != VT_REDUCTION_MEAN) return g;
    if (mean_den) return vt_div(c, g, mean_den);
    return vt_mul_scalar(c, g, count ? 1.0 / (double)count : NAN);
}

/* ---- cross-entropy ---- */

enum { CE_X, CE_T, CE_W, CE_LSE, CE_DEN }; /* saved slots */

/* Permutation moving dim `from` to `to` (all others keep their order). */
static void move_dim(int nd, int from, int to, int *perm) {
    int p = 0;
    for (int i = 0; i < nd; i++) {
        if (p == to) perm[p++] = from;
        if (i != from) perm[p++] = i;
    }
    if (p == to) perm[p++] = from;
}

static vt_status cross_entropy_backward(vt_ctx *c, vt_node *n, vt_tensor *g, vt_tensor **grad_in) {
    const vt_loss_kernels *k = vt_kernels(c, g->device, VT_FAM_LOSS, n->op);
    const int64_t S = n->iattr[0], C = n->iattr[1], ignore = n->iattr[2];
    const vt_reduction red = (vt_reduction)n->iattr[3];
    const bool soft = n->iattr[4];
    const int nd = (int)n->iattr[5];
    const float eps = (float)n->fattr[0];
    int64_t gs;
    vt_tensor *gc = loss_grad_coeffs(c, g, red, n->saved[CE_DEN], S, &gs);
    vt_tensor *dx = vt_empty_on(c, g->device, VT_F32, VT_SHAPE(S, C));
    if (!k || !gc || !dx) return c->err.code;
    const float *w = n->saved[CE_W] ? vt_dptr_f32(n->saved[CE_W]) : NULL;
    if (soft)
        k->cross_entropy_soft_backward(c, vt_dptr_f32(n->saved[CE_X]), vt_dptr_f32(n->saved[CE_T]), w, vt_dptr_f32(n->saved[CE_LSE]),
                                       vt_dptr_f32(gc), gs, S, C, eps, vt_dptr_f32(dx));
    else
        k->cross_entropy_backward(c, vt_dptr_f32(n->saved[CE_X]), vt_dptr_i64(n->saved[CE_T]), w, vt_dptr_f32(n->saved[CE_LSE]),
                                  vt_dptr_f32(gc), gs, S, C, ignore, eps, vt_dptr_f32(dx));
    const int64_t *shape = &n->iattr[6];
    if (nd <= 2) {
        grad_in[0] = vt_reshape(c, dx, nd, shape);
    } else { /* rows were [N, d1, ..., C]: move the class dim back to 1 */
        int64_t rows_shape[VT_MAX_DIMS];
        int perm[VT_MAX_DIMS];
        move_dim(nd, 1, nd - 1, perm);
        for (int i = 0; i < nd; i++) rows_shape[i] = shape[perm[i]];
        move_dim(nd, nd - 1, 1, perm);
        grad_in[0] = vt_contiguous(c, vt_permute(c, vt_reshape(c, dx, nd, rows_shape), perm));
    }
    return grad_in[0] ? VT_OK : c->err.code;
}

/* Targets shaped like logits without the class dim (dim 1; a 0-d target for 1-d logits). */
static bool ce_check_shapes(vt_ctx *c, const char *op, const vt_tensor *x, const vt_tensor *t, bool soft,
                            int *tnd, int64_t *tshape) {
    char sx[VT_SHAPE_STR_MAX], st[VT_SHAPE_STR_MAX];
    if (x->ndim < 1 || x->shape[x->ndim == 1 ? 0 : 1] == 0) {
        vt_ctx_fail(c, VT_ESHAPE, "%s: logits must be [N, C, ...] or [C] with C > 0, got %s", op,
                    vt_shape_str(x, sx, sizeof sx));
        return false;
    }
    *tnd = 0;
    for (int i = 0; i < x->ndim; i++)
        if (i != (x->ndim == 1 ? 0 : 1)) tshape[(*tnd)++] = x->shape[i];
    bool ok = soft ? vt_same_shape(x, t) : t->ndim == *tnd;
    for (int i = 0; ok && !soft && i < *tnd; i++) ok = t->shape[i] == tshape[i];
    if (!ok)
        vt_ctx_fail(c, VT_ESHAPE, "%s: %s targets %s do not match logits %s", op,
                    soft ? "probability" : "class-index", vt_shape_str(t, st, sizeof st), vt_shape_str(x, sx, sizeof sx));
    return ok;
}

vt_tensor *vt_cross_entropy(vt_ctx *c, vt_tensor *logits, vt_tensor *targets, const vt_cross_entropy_opts *opts) {
    const char *op = "cross_entropy";
    const vt_cross_entropy_opts o = opts ? *opts : vt_cross_entropy_defaults();
    if (!VT_OP_READY(c, op, logits, targets, o.weight ? o.weight : logits) ||
        !vt_op_dtype(c, op, "logits", logits, VT_F32) || !reduction_ok(c, op, o.reduction))
        return NULL;
    char s1[VT_SHAPE_STR_MAX], s2[VT_SHAPE_STR_MAX];
    const bool soft = targets->dtype == VT_F32;
    if (!soft && targets->dtype != VT_I64) {
        vt_ctx_fail(c, VT_EDTYPE, "%s: targets must be i64 class indices or f32 probabilities, got %s %s", op,
                    vt_dtype_name(targets->dtype), vt_shape_str(targets, s1, sizeof s1));
        return NULL;
    }
    if (!(o.label_smoothing >= 0.0 && o.label_smoothing <= 1.0)) {
        vt_ctx_fail(c, VT_EINVAL, "%s: label_smoothing must be in [0, 1], got %g", op, o.label_smoothing);
        return NULL;
    }
    int tnd;
    int64_t tshape[VT_MAX_DIMS];
    if (!ce_check_shapes(c, op, logits, targets, soft, &tnd, tshape)) return NULL;
    const int nd = logits->ndim;
    const int64_t C = logits->shape[nd == 1 ? 0 : 1], S = vt_numel(logits) / C;
    if (o.weight && (!vt_op_dtype(c, op, "weight", o.weight, VT_F32) || o.weight->ndim != 1 || o.weight->shape[0] != C)) {
        if (vt_ctx_ok(c))
            vt_ctx_fail(c, VT_ESHAPE, "%s: weight must have shape [%lld] for logits %s, got %s", op, (long long)C,
                        vt_shape_str(logits, s1, sizeof s1), vt_shape_str(o.weight, s2, sizeof s2));
        return NULL;
    }
    const vt_loss_kernels *k = vt_kernels(c, logits->device, VT_FAM_LOSS, op);
    /* rows [S, C]: [N, C, d1, ...] has its class dim moved last */
    vt_tensor *xr, *tr = targets;
    vt_no_grad_begin(c);
    if (nd > 2) {
        int perm[VT_MAX_DIMS];
        move_dim(nd, 1, nd - 1, perm);
        xr = vt_contiguous_data(c, vt_permute(c, logits, perm));
        if (soft) tr = vt_permute(c, targets, perm);
    } else {
        xr = vt_contiguous_data(c, logits);
    }
    tr = vt_contiguous_data(c, tr);
    vt_no_grad_end(c);
    vt_tensor *w = vt_contiguous_data(c, o.weight);
    vt_tensor *lse = vt_empty_on(c, logits->device, VT_F32, 1, &S), *loss = vt_empty_on(c, logits->device, VT_F32, 1, &S);
    vt_tensor *wt = soft ? NULL : vt_empty_on(c, logits->device, VT_F32, 1, &S);
    if (!k || !xr || !tr || !lse || !loss || (!soft && !wt) || !vt_ctx_ok(c)) return NULL;
    const float eps = (float)o.label_smoothing;
    if (soft) {
        k->cross_entropy_soft(c, vt_dptr_f32(xr), vt_dptr_f32(tr), w ? vt_dptr_f32(w) : NULL, S, C, eps, vt_dptr_f32(lse), vt_dptr_f32(loss));
    } else {
        int64_t bad = k->cross_entropy(c, vt_dptr_f32(xr), vt_dptr_i64(tr), w ? vt_dptr_f32(w) : NULL, S, C, o.ignore_index, eps,
                                       vt_dptr_f32(lse), vt_dptr_f32(loss), vt_dptr_f32(wt));
        if (bad >= 0) {
            vt_ctx_fail(c, VT_EINVAL, "%s: target of sample %lld (targets %s) is outside [0, %lld) and not ignore_index %lld",
                        op, (long long)bad, vt_shape_str(targets, s1, sizeof s1), (long long)C,
                        (long long)o.ignore_index);
            return NULL;
        }
    }
    vt_tensor *out, *den = NULL;
    if (o.reduction == VT_REDUCTION_NONE) {
        out = vt_reshape(c, loss, tnd, tshape);
    } else if (o.reduction == VT_REDUCTION_MEAN && !soft) { /* weighted mean: Σ loss / Σ w[target] */
        den = vt_sum_all(c, wt);
        out = vt_div(c, vt_sum_all(c, loss), den);
    } else {
        out = reduce_loss(c, loss, o.reduction);
    }
    if (!out) return NULL;
    if (vt_needs_grad(c, 1, &logits)) {
        vt_node *n = vt_node_attach(c, out, op, cross_entropy_backward, 1, &logits);
        if (!n || vt_node_save(c, n, CE_X, xr) != VT_OK || vt_node_save(c, n, CE_T, tr) != VT_OK ||
            (w && vt_node_save(c, n, CE_W, w) != VT_OK) || vt_node_save(c, n, CE_LSE, lse) != VT_OK ||
            (den && vt_node_save(c, n, CE_DEN, den) != VT_OK))
            return NULL;
        n->iattr[0] = S, n->iattr[1] = C, n->iattr[2] = o.ignore_index, n->iattr[3] = o.reduction;
        n->iattr[4] = soft, n->iattr[5] = nd;
        for (int i = 0; i < nd; i++) n->iattr[6 + i] = logits->shape[i];
        n->fattr[0] = o.label_smoothing;
    }
    return out;
}

/* ---- binary cross-entropy with logits ---- */

enum { BCE_X, BCE_T, BCE_W, BCE_PW }; /* saved slots */

static vt_status bce_backward(vt_ctx *c, vt_node *n, vt_tensor *g, vt_tensor **grad_in) {
    const vt_loss_kernels *k = vt_kernels(c, g->device, VT_FAM_LOSS, n->op);
    vt_tensor *x = n->saved[BCE_X], *w = n->saved[BCE_W], *pw = n->saved[BCE_PW];
    int64_t gs;
    vt_tensor *gc = loss_grad_coeffs(c, g, (vt_reduction)n->iattr[0], NULL, vt_numel(x), &gs);
    vt_tensor *dx = n->inputs[0] ? vt_empty_like(c, x) : NULL, *dt = n->inputs[1] ? vt_empty_like(c, x) : NULL;
    if (!k || !gc || !vt_ctx_ok(c)) return c->err.code;
    k->bce_with_logits_backward(c, vt_dptr_f32(x), vt_dptr_f32(n->saved[BCE_T]), w ? vt_dptr_f32(w) : NULL, pw ? vt_dptr_f32(pw) : NULL,
                                vt_dptr_f32(gc), gs, dx ? vt_dptr_f32(dx) : NULL, dt ? vt_dptr_f32(dt) : NULL, vt_numel(x));
    grad_in[0] = dx, grad_in[1] = dt;
    return VT_OK;
}

/* A weight broadcast to x's shape and made contiguous (they are small: one value per logit at most). */
static vt_tensor *full_weight(vt_ctx *c, const char *op, const char *what, vt_tensor *p, const vt_tensor *x) {
    int nd;
    int64_t shape[VT_MAX_DIMS];
    if (!vt_op_dtype(c, op, what, p, VT_F32) || !vt_broadcast_shape(c, op, x, p, &nd, shape)) return NULL;
    if (nd != x->ndim || vt_shape_numel(nd, shape) != vt_numel(x)) {
        char sp[VT_SHAPE_STR_MAX], sx[VT_SHAPE_STR_MAX];
        vt_ctx_fail(c, VT_ESHAPE, "%s: %s %s does not broadcast to logits %s", op, what, vt_shape_str(p, sp, sizeof sp),
                    vt_shape_str(x, sx, sizeof sx));
        return NULL;
    }
    vt_no_grad_begin(c);
    vt_tensor *full = vt_contiguous_data(c, vt_expand(c, p, x->ndim, x->shape));
    vt_no_grad_end(c);
    return full;
}

vt_tensor *vt_binary_cross_entropy_with_logits(vt_ctx *c, vt_tensor *logits, vt_tensor *targets,
                                               const vt_bce_opts *opts) {
    const char *op = "binary_cross_entropy_with_logits";
    const vt_bce_opts o = opts ? *opts : (vt_bce_opts){NULL, NULL, VT_REDUCTION_MEAN};
    if (!VT_OP_READY(c, op, logits, targets, o.weight ? o.weight : logits, o.pos_weight ? o.pos_weight : logits) ||
        !vt_op_dtype(c, op, "logits", logits, VT_F32) || !vt_op_dtype(c, op, "targets", targets, VT_F32) ||
        !reduction_ok(c, op, o.reduction))
        return NULL;
    if (!vt_same_shape(logits, targets)) {
        char sx[VT_SHAPE_STR_MAX], st[VT_SHAPE_STR_MAX];
        vt_ctx_fail(c, VT_ESHAPE, "%s: targets %s must have the shape of logits %s", op,
                    vt_shape_str(targets, st, sizeof st), vt_shape_str(logits, sx, sizeof sx));
        return NULL;
    }
    vt_tensor *w = o.weight ? full_weight(c, op, "weight", o.weight, logits) : NULL;
    vt_tensor *pw = o.pos_weight ? full_weight(c, op, "pos_weight", o.pos_weight, logits) : NULL;
    const vt_loss_kernels *k = vt_kernels(c, logits->device, VT_FAM_LOSS, op);
    vt_tensor *xc = vt_contiguous_data(c, logits), *tc = vt_contiguous_data(c, targets);
    vt_tensor *loss = vt_empty_like(c, logits);
    if (!k || !xc || !tc || !loss || !vt_ctx_ok(c)) return NULL;
    k->bce_with_logits(c, vt_dptr_f32(xc), vt_dptr_f32(tc), w ? vt_dptr_f32(w) : NULL, pw ? vt_dptr_f32(pw) : NULL, vt_dptr_f32(loss),
                       vt_numel(loss));
    vt_tensor *out = reduce_loss(c, loss, o.reduction);
    vt_tensor *ins[2] = {logits, targets};
    if (out && vt_needs_grad(c, 2, ins)) {
        vt_node *n = vt_node_attach(c, out, op, bce_backward, 2, ins);
        if (!n || vt_node_save(c, n, BCE_X, xc) != VT_OK || vt_node_save(c, n, BCE_T, tc) != VT_OK ||
            (w && vt_node_save(c, n, BCE_W, w) != VT_OK) || (pw && vt_node_save(c, n, BCE_PW, pw) != VT_OK))
            return NULL;
        n->iattr[0] = o.reduction;
    }
    return out;
}

/* ---- L1 and MSE ---- */

static vt_tensor *pointwise_loss(vt_ctx *c, const char *op, vt_tensor *a, vt_tensor *b, vt_reduction r, bool square) {
    int nd;
    int64_t shape[VT_MAX_DIMS];
    if (!VT_OP_READY(c, op, a, b) || !vt_op_dtype(c, op, "input", a, VT_F32) ||
        !vt_op_dtype(c, op, "target", b, VT_F32) || !reduction_ok(c, op, r) || !vt_broadcast_shape(c, op, a, b, &nd, shape))
        return NULL;
    vt_tensor *d = vt_sub(c, a, b);
    return reduce_loss(c, square ? vt_mul(c, d, d) : vt_abs(c, d), r);
}

vt_tensor *vt_l1_loss(vt_ctx *c, vt_tensor *input, vt_tensor *target, vt_reduction reduction) {
    return pointwise_loss(c, "l1_loss", input, target, reduction, false);
}

vt_tensor *vt_mse_loss(vt_ctx *c, vt_tensor *input, vt_tensor *target, vt_reduction reduction) {
    return pointwise_loss(c, "mse_loss", input, target, reduction, true);
}
