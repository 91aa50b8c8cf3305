/* where and masked_fill: one broadcasting select kernel serves both, forward and backward (the gradient of a
 * select is the same select with zeros in place of the other branch). */
#include <string.h>

#include "ops/index_kernels.h"
#include "ops/op_util.h"
#include "visft/ops.h"

static bool check_mask_dtype(vt_ctx *c, const char *op, const char *what, const vt_tensor *m) {
    if (m->dtype == VT_BOOL || m->dtype == VT_U8) return true;
    char s[VT_SHAPE_STR_MAX];
    vt_ctx_fail(c, VT_EDTYPE, "%s: %s must be bool or u8, got %s %s", op, what, vt_dtype_name(m->dtype),
                vt_shape_str(m, s, sizeof s));
    return false;
}

/* out (f32, shape) = cond ? a : b with all three broadcast to shape; no autograd. */
static vt_tensor *select_raw(vt_ctx *c, const char *op, vt_tensor *cond, vt_tensor *a, vt_tensor *b, int nd,
                             const int64_t *shape) {
    const vt_index_kernels *k = vt_kernels(c, a->device, VT_FAM_INDEX, op);
    vt_tensor *out = vt_empty_on(c, a->device, VT_F32, nd, shape);
    if (!k || !out) return NULL;
    vt_tensor *cv = vt_broadcast_view(c, cond, nd, shape), *av = vt_broadcast_view(c, a, nd, shape),
              *bv = vt_broadcast_view(c, b, nd, shape);
    if (cv && av && bv) k->where(c, cv, av, bv, out);
    vt_tensor_release(cv);
    vt_tensor_release(av);
    vt_tensor_release(bv);
    return vt_ctx_ok(c) ? out : NULL;
}

/* ---- where ---- */

static vt_status where_backward(vt_ctx *c, vt_node *n, vt_tensor *g, vt_tensor **grad_in) {
    vt_tensor *cond = n->saved[0], *zero = vt_zeros_on(c, g->device, VT_F32, 0, NULL);
    if (!zero) return c->err.code;
    for (int i = 0; i < 2; i++) {
        const vt_tensor *x = n->inputs[i + 1];
        if (!x) continue;
        vt_tensor *gs = select_raw(c, n->op, cond, i == 0 ? g : zero, i == 0 ? zero : g, g->ndim, g->shape);
        grad_in[i + 1] = vt_sum_to_shape(c, gs, x->ndim, x->shape);
    }
    return vt_ctx_ok(c) ? VT_OK : c->err.code;
}

vt_tensor *vt_where(vt_ctx *c, vt_tensor *cond, vt_tensor *a, vt_tensor *b) {
    const char *op = "where";
    if (!VT_OP_READY(c, op, cond, a, b) || !check_mask_dtype(c, op, "condition", cond) ||
        !vt_op_dtype(c, op, "first value", a, VT_F32) || !vt_op_dtype(c, op, "second value", b, VT_F32))
        return NULL;
    int nd = 0;
    int64_t shape[VT_MAX_DIMS];
    const vt_tensor *ts[3] = {cond, a, b};
    for (int t = 0; t < 3; t++) nd = ts[t]->ndim > nd ? ts[t]->ndim : nd;
    for (int i = 0; i < nd; i++) {
        shape[i] = 1;
        for (int t = 0; t < 3; t++) {
            int it = ts[t]->ndim - nd + i;
            int64_t d = it >= 0 ? ts[t]->shape[it] : 1;
            if (d == 1 || d == shape[i]) continue;
            if (shape[i] != 1) {
                char s0[VT_SHAPE_STR_MAX], s1[VT_SHAPE_STR_MAX], s2[VT_SHAPE_STR_MAX];
                vt_ctx_fail(c, VT_ESHAPE, "%s: condition %s and values %s, %s do not broadcast (dimension %d)", op,
                            vt_shape_str(cond, s0, sizeof s0), vt_shape_str(a, s1, sizeof s1),
                            vt_shape_str(b, s2, sizeof s2), i);
                return NULL;
            }
            shape[i] = d;
        }
    }
    vt_tensor *y = select_raw(c, op, cond, a, b, nd, shape);
    vt_tensor *ins[3] = {NULL, a, b}; /* the condition gets no gradient */
    if (y && vt_needs_grad(c, 3, ins)) {
        vt_node *n = vt_node_attach(c, y, op, where_backward, 3, ins);
        if (!n || vt_node_save(c, n, 0, cond) != VT_OK) return NULL;
    }
    return y;
}

/* ---- masked_fill ---- */

static vt_status masked_fill_backward(vt_ctx *c, vt_node *n, vt_tensor *g, vt_tensor **grad_in) {
    vt_tensor *zero = vt_zeros_on(c, g->device, VT_F32, 0, NULL);
    grad_in[0] = zero ? select_raw(c, n->op, n->saved[0], zero, g, g->ndim, g->shape) : NULL;
    return grad_in[0] ? VT_OK : c->err.code;
}

vt_tensor *vt_masked_fill(vt_ctx *c, vt_tensor *x, vt_tensor *mask, double value) {
    const char *op = "masked_fill";
    if (!VT_OP_READY(c, op, x, mask) || !vt_op_dtype(c, op, "input", x, VT_F32) ||
        !check_mask_dtype(c, op, "mask", mask))
        return NULL;
    bool ok = mask->ndim <= x->ndim;
    for (int i = 0; ok && i < mask->ndim; i++) {
        int64_t d = mask->shape[i], want = x->shape[x->ndim - mask->ndim + i];
        ok = d == 1 || d == want;
    }
    if (!ok) {
        char s[VT_SHAPE_STR_MAX], sm[VT_SHAPE_STR_MAX];
        vt_ctx_fail(c, VT_ESHAPE, "%s: mask %s does not broadcast to input %s", op, vt_shape_str(mask, sm, sizeof sm),
                    vt_shape_str(x, s, sizeof s));
        return NULL;
    }
    vt_tensor *fill = vt_full_on(c, x->device, VT_F32, 0, NULL, value);
    vt_tensor *y = fill ? select_raw(c, op, mask, fill, x, x->ndim, x->shape) : NULL;
    if (y && vt_needs_grad(c, 1, &x)) {
        vt_node *n = vt_node_attach(c, y, op, masked_fill_backward, 1, &x);
        if (!n || vt_node_save(c, n, 0, mask) != VT_OK) return NULL;
    }
    return y;
}
