/* softmax and log_softmax along one dim. Both save only their output: the backward formulas need y alone
 * (softmax: y·(g − Σ g·y); log_softmax: g − exp(y)·Σ g). Kernels: softmax_cpu.c. */
#include "ops/op_util.h"
#include "ops/reduce_kernels.h"
#include "visft/ops.h"

static vt_status softmax_backward(vt_ctx *c, vt_node *n, vt_tensor *g, vt_tensor **grad_in) {
    const vt_reduce_kernels *k = vt_kernels(c, g->device, VT_FAM_REDUCE, n->op);
    vt_tensor *gc = vt_contiguous_data(c, g);
    vt_tensor *gx = gc ? vt_empty_like(c, gc) : NULL;
    if (!k || !gx) return c->err.code;
    k->softmax_backward(c, vt_dptr_f32(n->saved[0]), vt_dptr_f32(gc), vt_dptr_f32(gx), n->iattr[0], n->iattr[1], n->iattr[2],
                        n->iattr[3] != 0);
    grad_in[0] = gx;
    return VT_OK;
}

static vt_tensor *softmax_op(vt_ctx *c, const char *op, vt_tensor *x, int dim, bool log) {
    if (!VT_OP_READY(c, op, x) || !vt_op_dtype(c, op, "input", x, VT_F32) || !vt_op_dim(c, op, x->ndim, &dim))
        return NULL;
    int64_t outer = 1, n = x->ndim ? x->shape[dim] : 1, inner = 1;
    for (int i = 0; i < x->ndim; i++) {
        if (i < dim) outer *= x->shape[i];
        if (i > dim) inner *= x->shape[i];
    }
    const vt_reduce_kernels *k = vt_kernels(c, x->device, VT_FAM_REDUCE, op);
    vt_tensor *xc = vt_contiguous_data(c, x);
    vt_tensor *y = vt_empty_on(c, x->device, VT_F32, x->ndim, x->shape);
    if (!k || !xc || !y) return NULL;
    if (vt_numel(y)) k->softmax(c, vt_dptr_f32(xc), vt_dptr_f32(y), outer, n, inner, log);
    if (vt_needs_grad(c, 1, &x)) {
        vt_node *nd = vt_node_attach(c, y, op, softmax_backward, 1, &x);
        if (!nd || vt_node_save(c, nd, 0, y) != VT_OK) return NULL;
        nd->iattr[0] = outer, nd->iattr[1] = n, nd->iattr[2] = inner, nd->iattr[3] = log;
    }
    return y;
}

vt_tensor *vt_softmax(vt_ctx *c, vt_tensor *x, int dim) { return softmax_op(c, "softmax", x, dim, false); }
vt_tensor *vt_log_softmax(vt_ctx *c, vt_tensor *x, int dim) { return softmax_op(c, "log_softmax", x, dim, true); }
