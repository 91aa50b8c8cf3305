/* layer_norm and group_norm: argument checks, statistics saved for backward, autograd. Kernels: norm_cpu.c.
 * Both save the (contiguous) input plus the per-row mean and rstd, so backward never recomputes moments. */
#include "ops/norm_kernels.h"
#include "ops/op_util.h"
#include "visft/ops.h"

/* weight/bias, when given, are f32 vectors of length n. */
static bool check_affine(vt_ctx *c, const char *op, const char *what, const vt_tensor *p, int64_t n,
                         const vt_tensor *x) {
    if (!p) return true;
    if (!vt_op_dtype(c, op, what, p, VT_F32)) return false;
    if (p->ndim == 1 && p->shape[0] == n) return true;
    char sp[VT_SHAPE_STR_MAX], sx[VT_SHAPE_STR_MAX];
    vt_ctx_fail(c, VT_ESHAPE, "%s: %s must have shape [%lld] for input %s, got %s", op, what, (long long)n,
                vt_shape_str(x, sx, sizeof sx), vt_shape_str(p, sp, sizeof sp));
    return false;
}

static bool ready3(vt_ctx *c, const char *op, vt_tensor *x, vt_tensor *w, vt_tensor *b) {
    vt_tensor *ts[3] = {x, w ? w : x, b ? b : x}; /* weight and bias are optional */
    return vt_op_ready(c, op, 3, ts) && vt_op_dtype(c, op, "input", x, VT_F32);
}

/* Gradient buffers for the inputs that need one; scratch when weight or bias does. */
static bool alloc_grads(vt_ctx *c, vt_node *n, const vt_tensor *x, int64_t nw, int64_t nscratch, vt_tensor **dx,
                        vt_tensor **dw, vt_tensor **db, vt_tensor **scratch) {
    *dx = n->inputs[0] ? vt_empty_like(c, x) : NULL;
    *dw = n->inputs[1] ? vt_empty_on(c, x->device, VT_F32, 1, &nw) : NULL;
    *db = n->inputs[2] ? vt_empty_on(c, x->device, VT_F32, 1, &nw) : NULL;
    *scratch = (*dw || *db || nscratch) ? vt_empty_on(c, x->device, VT_F32, 1, &nscratch) : NULL;
    return vt_ctx_ok(c);
}

static float *f32_or_null(const vt_tensor *t) { return t ? vt_dptr_f32(t) : NULL; }

/* ---- layer_norm ---- */

static vt_status layer_norm_backward(vt_ctx *c, vt_node *n, vt_tensor *g, vt_tensor **grad_in) {
    const vt_norm_kernels *k = vt_kernels(c, g->device, VT_FAM_NORM, n->op);
    const int64_t rows = n->iattr[0], d = n->iattr[1];
    vt_tensor *gc = vt_contiguous_data(c, g), *dx, *dw, *db, *scratch;
    if (!k || !gc) return c->err.code;
    bool affine_grads = n->inputs[1] || n->inputs[2];
    if (!alloc_grads(c, n, n->saved[0], d, affine_grads ? 2 * vt_layer_norm_chunks(rows) * d : 0, &dx, &dw, &db,
                     &scratch))
        return c->err.code;
    k->layer_norm_backward(c, vt_dptr_f32(n->saved[0]), f32_or_null(n->saved[1]), vt_dptr_f32(n->saved[2]),
                           vt_dptr_f32(n->saved[3]), vt_dptr_f32(gc), f32_or_null(dx), f32_or_null(dw), f32_or_null(db),
                           f32_or_null(scratch), rows, d);
    grad_in[0] = dx, grad_in[1] = dw, grad_in[2] = db;
    return VT_OK;
}

vt_tensor *vt_layer_norm(vt_ctx *c, vt_tensor *x, vt_tensor *weight, vt_tensor *bias, double eps) {
    const char *op = "layer_norm";
    if (!ready3(c, op, x, weight, bias)) return NULL;
    if (x->ndim < 1) {
        vt_ctx_fail(c, VT_ESHAPE, "layer_norm: input must have at least 1 dimension, got a scalar");
        return NULL;
    }
    const int64_t d = x->shape[x->ndim - 1], rows = d ? vt_numel(x) / d : 0;
    if (!check_affine(c, op, "weight", weight, d, x) || !check_affine(c, op, "bias", bias, d, x)) return NULL;
    const vt_norm_kernels *k = vt_kernels(c, x->device, VT_FAM_NORM, op);
    vt_tensor *xc = vt_contiguous_data(c, x), *wc = vt_contiguous_data(c, weight), *bc = vt_contiguous_data(c, bias);
    vt_tensor *y = vt_empty_like(c, x);
    vt_tensor *mean = vt_empty_on(c, x->device, VT_F32, 1, &rows), *rstd = vt_empty_on(c, x->device, VT_F32, 1, &rows);
    if (!k || !xc || !y || !mean || !rstd || !vt_ctx_ok(c)) return NULL;
    if (vt_numel(x))
        k->layer_norm(c, vt_dptr_f32(xc), f32_or_null(wc), f32_or_null(bc), vt_dptr_f32(y), vt_dptr_f32(mean), vt_dptr_f32(rstd), rows,
                      d, (float)eps);
    vt_tensor *ins[3] = {x, weight, bias};
    if (vt_needs_grad(c, 3, ins)) {
        vt_node *n = vt_node_attach(c, y, op, layer_norm_backward, 3, ins);
        if (!n || vt_node_save(c, n, 0, xc) != VT_OK || (wc && vt_node_save(c, n, 1, wc) != VT_OK) ||
            vt_node_save(c, n, 2, mean) != VT_OK || vt_node_save(c, n, 3, rstd) != VT_OK)
            return NULL;
        n->iattr[0] = rows, n->iattr[1] = d;
    }
    return y;
}

/* ---- group_norm ---- */

static vt_status group_norm_backward(vt_ctx *c, vt_node *n, vt_tensor *g, vt_tensor **grad_in) {
    const vt_norm_kernels *k = vt_kernels(c, g->device, VT_FAM_NORM, n->op);
    const int64_t N = n->iattr[0], C = n->iattr[1], hw = n->iattr[2], groups = n->iattr[3];
    vt_tensor *gc = vt_contiguous_data(c, g), *dx, *dw, *db, *scratch;
    if (!k || !gc || !alloc_grads(c, n, n->saved[0], C, 2 * N * C, &dx, &dw, &db, &scratch)) return c->err.code;
    k->group_norm_backward(c, vt_dptr_f32(n->saved[0]), f32_or_null(n->saved[1]), vt_dptr_f32(n->saved[2]),
                           vt_dptr_f32(n->saved[3]), vt_dptr_f32(gc), f32_or_null(dx), f32_or_null(dw), f32_or_null(db),
                           vt_dptr_f32(scratch), N, C, hw, groups);
    grad_in[0] = dx, grad_in[1] = dw, grad_in[2] = db;
    return VT_OK;
}

vt_tensor *vt_group_norm(vt_ctx *c, vt_tensor *x, int64_t num_groups, vt_tensor *weight, vt_tensor *bias,
                         double eps) {
    const char *op = "group_norm";
    if (!ready3(c, op, x, weight, bias)) return NULL;
    char sx[VT_SHAPE_STR_MAX];
    if (x->ndim < 2) {
        vt_ctx_fail(c, VT_ESHAPE, "group_norm: input must be [N, C, *], got %s", vt_shape_str(x, sx, sizeof sx));
        return NULL;
    }
    const int64_t N = x->shape[0], C = x->shape[1];
    if (num_groups <= 0 || C % num_groups != 0) {
        vt_ctx_fail(c, VT_EINVAL, "group_norm: %lld channels of input %s do not split into %lld groups",
                    (long long)C, vt_shape_str(x, sx, sizeof sx), (long long)num_groups);
        return NULL;
    }
    if (!check_affine(c, op, "weight", weight, C, x) || !check_affine(c, op, "bias", bias, C, x)) return NULL;
    int64_t hw = 1;
    for (int i = 2; i < x->ndim; i++) hw *= x->shape[i];
    const vt_norm_kernels *k = vt_kernels(c, x->device, VT_FAM_NORM, op);
    vt_tensor *xc = vt_contiguous_data(c, x), *wc = vt_contiguous_data(c, weight), *bc = vt_contiguous_data(c, bias);
    vt_tensor *y = vt_empty_like(c, x);
    vt_tensor *mean = vt_empty_on(c, x->device, VT_F32, VT_SHAPE(N, num_groups)),
              *rstd = vt_empty_on(c, x->device, VT_F32, VT_SHAPE(N, num_groups));
    if (!k || !xc || !y || !mean || !rstd || !vt_ctx_ok(c)) return NULL;
    if (vt_numel(x))
        k->group_norm(c, vt_dptr_f32(xc), f32_or_null(wc), f32_or_null(bc), vt_dptr_f32(y), vt_dptr_f32(mean), vt_dptr_f32(rstd), N, C,
                      hw, num_groups, (float)eps);
    vt_tensor *ins[3] = {x, weight, bias};
    if (vt_needs_grad(c, 3, ins)) {
        vt_node *n = vt_node_attach(c, y, op, group_norm_backward, 3, ins);
        if (!n || vt_node_save(c, n, 0, xc) != VT_OK || (wc && vt_node_save(c, n, 1, wc) != VT_OK) ||
            vt_node_save(c, n, 2, mean) != VT_OK || vt_node_save(c, n, 3, rstd) != VT_OK)
            return NULL;
        n->iattr[0] = N, n->iattr[1] = C, n->iattr[2] = hw, n->iattr[3] = num_groups;
    }
    return y;
}
