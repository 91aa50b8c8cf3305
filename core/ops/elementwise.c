/* Elementwise ops: argument checks, output allocation, autograd recording. Kernels: elementwise_cpu.c. */
#include <math.h>

#include "ops/elementwise_kernels.h"
#include "ops/op_util.h"
#include "visft/ops.h"

static const char *unary_names[VT_UN_COUNT] = {
    [VT_UN_NEG] = "neg", [VT_UN_EXP] = "exp", [VT_UN_LOG] = "log", [VT_UN_SQRT] = "sqrt",
    [VT_UN_RSQRT] = "rsqrt", [VT_UN_ABS] = "abs", [VT_UN_CLAMP] = "clamp", [VT_UN_TANH] = "tanh",
    [VT_UN_SIGMOID] = "sigmoid", [VT_UN_RELU] = "relu", [VT_UN_GELU] = "gelu", [VT_UN_GELU_TANH] = "gelu_tanh",
    [VT_UN_QUICK_GELU] = "quick_gelu", [VT_UN_SILU] = "silu", [VT_UN_ADD_S] = "add_scalar",
    [VT_UN_MUL_S] = "mul_scalar", [VT_UN_RSUB_S] = "rsub_scalar", [VT_UN_RDIV_S] = "rdiv_scalar",
    [VT_UN_POW_S] = "pow_scalar",
};

/* Which of x and y = f(x) the derivative needs (saving less keeps less memory alive). */
static bool bwd_needs_x(vt_unary_op op) {
    switch (op) {
    case VT_UN_EXP: case VT_UN_SQRT: case VT_UN_RSQRT: case VT_UN_TANH: case VT_UN_SIGMOID:
    case VT_UN_NEG: case VT_UN_ADD_S: case VT_UN_MUL_S: case VT_UN_RSUB_S:
        return false;
    default:
        return true;
    }
}
static bool bwd_needs_y(vt_unary_op op) {
    return op == VT_UN_EXP || op == VT_UN_SQRT || op == VT_UN_RSQRT || op == VT_UN_TANH || op == VT_UN_SIGMOID;
}

static vt_status unary_backward(vt_ctx *c, vt_node *n, vt_tensor *gy, vt_tensor **grad_in) {
    vt_unary_op op = (vt_unary_op)n->iattr[0];
    const vt_elementwise_kernels *k = vt_kernels(c, gy->device, VT_FAM_ELEMENTWISE, n->op);
    gy = vt_contiguous_data(c, gy);
    vt_tensor *gx = vt_empty_like(c, gy);
    if (!k || !gx) return c->err.code;
    k->unary_backward(c, op, n->saved[0] ? vt_dptr_f32(n->saved[0]) : NULL, n->saved[1] ? vt_dptr_f32(n->saved[1]) : NULL,
                      vt_dptr_f32(gy), vt_dptr_f32(gx), vt_numel(gy), n->fattr[0], n->fattr[1]);
    grad_in[0] = gx;
    return VT_OK;
}

static vt_tensor *unary(vt_ctx *c, vt_unary_op op, vt_tensor *x, double p0, double p1) {
    const char *name = unary_names[op];
    if (!VT_OP_READY(c, name, x) || !vt_op_dtype(c, name, "input", x, VT_F32)) return NULL;
    const vt_elementwise_kernels *k = vt_kernels(c, x->device, VT_FAM_ELEMENTWISE, name);
    vt_tensor *xc = vt_contiguous_data(c, x);
    vt_tensor *y = vt_empty_like(c, x);
    if (!k || !xc || !y) return NULL;
    k->unary(c, op, vt_dptr_f32(xc), vt_dptr_f32(y), vt_numel(y), p0, p1);
    if (vt_needs_grad(c, 1, &x)) {
        vt_node *n = vt_node_attach(c, y, name, unary_backward, 1, &x);
        if (!n) return NULL;
        n->iattr[0] = op;
        n->fattr[0] = p0;
        n->fattr[1] = p1;
        if (bwd_needs_x(op) && vt_node_save(c, n, 0, xc) != VT_OK) return NULL;
        if (bwd_needs_y(op) && vt_node_save(c, n, 1, y) != VT_OK) return NULL;
    }
    return y;
}

vt_tensor *vt_neg(vt_ctx *c, vt_tensor *x) { return unary(c, VT_UN_NEG, x, 0, 0); }
vt_tensor *vt_exp(vt_ctx *c, vt_tensor *x) { return unary(c, VT_UN_EXP, x, 0, 0); }
vt_tensor *vt_log(vt_ctx *c, vt_tensor *x) { return unary(c, VT_UN_LOG, x, 0, 0); }
vt_tensor *vt_sqrt(vt_ctx *c, vt_tensor *x) { return unary(c, VT_UN_SQRT, x, 0, 0); }
vt_tensor *vt_rsqrt(vt_ctx *c, vt_tensor *x) { return unary(c, VT_UN_RSQRT, x, 0, 0); }
vt_tensor *vt_abs(vt_ctx *c, vt_tensor *x) { return unary(c, VT_UN_ABS, x, 0, 0); }
vt_tensor *vt_clamp(vt_ctx *c, vt_tensor *x, double lo, double hi) {
    if (lo > hi) {
        vt_ctx_fail(c, VT_EINVAL, "clamp: lower bound %g is above upper bound %g", lo, hi);
        return NULL;
    }
    return unary(c, VT_UN_CLAMP, x, lo, hi);
}
vt_tensor *vt_tanh(vt_ctx *c, vt_tensor *x) { return unary(c, VT_UN_TANH, x, 0, 0); }
vt_tensor *vt_sigmoid(vt_ctx *c, vt_tensor *x) { return unary(c, VT_UN_SIGMOID, x, 0, 0); }
vt_tensor *vt_relu(vt_ctx *c, vt_tensor *x) { return unary(c, VT_UN_RELU, x, 0, 0); }
vt_tensor *vt_gelu(vt_ctx *c, vt_tensor *x) { return unary(c, VT_UN_GELU, x, 0, 0); }
vt_tensor *vt_gelu_tanh(vt_ctx *c, vt_tensor *x) { return unary(c, VT_UN_GELU_TANH, x, 0, 0); }
vt_tensor *vt_quick_gelu(vt_ctx *c, vt_tensor *x) { return unary(c, VT_UN_QUICK_GELU, x, 0, 0); }
vt_tensor *vt_silu(vt_ctx *c, vt_tensor *x) { return unary(c, VT_UN_SILU, x, 0, 0); }
vt_tensor *vt_add_scalar(vt_ctx *c, vt_tensor *x, double s) { return unary(c, VT_UN_ADD_S, x, s, 0); }
vt_tensor *vt_mul_scalar(vt_ctx *c, vt_tensor *x, double s) { return unary(c, VT_UN_MUL_S, x, s, 0); }
vt_tensor *vt_rsub_scalar(vt_ctx *c, vt_tensor *x, double s) { return unary(c, VT_UN_RSUB_S, x, s, 0); }
vt_tensor *vt_rdiv_scalar(vt_ctx *c, vt_tensor *x, double s) { return unary(c, VT_UN_RDIV_S, x, s, 0); }
vt_tensor *vt_pow_scalar(vt_ctx *c, vt_tensor *x, double p) { return unary(c, VT_UN_POW_S, x, p, 0); }

/* ---- broadcasting binary ops ---- */

static const char *binary_names[] = {"add", "sub", "mul", "div"};

static vt_tensor *binary_raw(vt_ctx *c, vt_binary_op op, vt_tensor *a, vt_tensor *b);

static vt_status binary_backward(vt_ctx *c, vt_node *n, vt_tensor *g, vt_tensor **grad_in) {
    vt_binary_op op = (vt_binary_op)n->iattr[0];
    vt_tensor *a = n->saved[0], *b = n->saved[1];
    int nda = (int)n->iattr[1], ndb = (int)n->iattr[2];
    const int64_t *sha = &n->iattr[3], *shb = &n->iattr[3 + VT_MAX_DIMS / 2];
    int64_t shape_a[VT_MAX_DIMS], shape_b[VT_MAX_DIMS];
    /* shapes were packed in iattr when they fit, else taken from the saved tensors */
    for (int i = 0; i < nda; i++) shape_a[i] = a ? a->shape[i] : sha[i];
    for (int i = 0; i < ndb; i++) shape_b[i] = b ? b->shape[i] : shb[i];
    if (n->inputs[0]) {
        vt_tensor *ga = g;
        if (op == VT_BIN_MUL) ga = binary_raw(c, VT_BIN_MUL, g, b);
        if (op == VT_BIN_DIV) ga = binary_raw(c, VT_BIN_DIV, g, b);
        grad_in[0] = vt_sum_to_shape(c, ga, nda, shape_a);
    }
    if (n->inputs[1]) {
        vt_tensor *gb = g;
        if (op == VT_BIN_SUB) gb = vt_neg(c, g);
        if (op == VT_BIN_MUL) gb = binary_raw(c, VT_BIN_MUL, g, a);
        if (op == VT_BIN_DIV) /* -g·a/b² */
            gb = vt_neg(c, binary_raw(c, VT_BIN_DIV, binary_raw(c, VT_BIN_MUL, g, a), binary_raw(c, VT_BIN_MUL, b, b)));
        grad_in[1] = vt_sum_to_shape(c, gb, ndb, shape_b);
    }
    return vt_ctx_ok(c) ? VT_OK : c->err.code;
}

static vt_tensor *binary_raw(vt_ctx *c, vt_binary_op op, vt_tensor *a, vt_tensor *b) {
    const char *name = binary_names[op];
    if (!VT_OP_READY(c, name, a, b) || !vt_op_dtype(c, name, "first input", a, VT_F32) ||
        !vt_op_dtype(c, name, "second input", b, VT_F32))
        return NULL;
    int nd;
    int64_t shape[VT_MAX_DIMS];
    if (!vt_broadcast_shape(c, name, a, b, &nd, shape)) return NULL;
    const vt_elementwise_kernels *k = vt_kernels(c, a->device, VT_FAM_ELEMENTWISE, name);
    vt_tensor *out = vt_empty_on(c, a->device, VT_F32, nd, shape);
    if (!k || !out) return NULL;
    vt_tensor *av = vt_broadcast_view(c, a, nd, shape), *bv = vt_broadcast_view(c, b, nd, shape);
    if (av && bv) k->binary(c, op, av, bv, out);
    vt_tensor_release(av);
    vt_tensor_release(bv);
    return vt_ctx_ok(c) ? out : NULL;
}

static vt_tensor *binary(vt_ctx *c, vt_binary_op op, vt_tensor *a, vt_tensor *b) {
    vt_tensor *out = binary_raw(c, op, a, b);
    vt_tensor *ins[2] = {a, b};
    if (!out || !vt_needs_grad(c, 2, ins)) return out;
    vt_node *n = vt_node_attach(c, out, binary_names[op], binary_backward, 2, ins);
    if (!n) return NULL;
    n->iattr[0] = op;
    n->iattr[1] = a->ndim;
    n->iattr[2] = b->ndim;
    /* add/sub only need the input shapes; mul/div need the values */
    bool save_vals = op == VT_BIN_MUL || op == VT_BIN_DIV;
    if (save_vals || a->ndim > VT_MAX_DIMS / 2 || b->ndim > VT_MAX_DIMS / 2) {
        if (vt_node_save(c, n, 0, a) != VT_OK || vt_node_save(c, n, 1, b) != VT_OK) return NULL;
    } else {
        for (int i = 0; i < a->ndim; i++) n->iattr[3 + i] = a->shape[i];
        for (int i = 0; i < b->ndim; i++) n->iattr[3 + VT_MAX_DIMS / 2 + i] = b->shape[i];
    }
    return out;
}

vt_tensor *vt_add(vt_ctx *c, vt_tensor *a, vt_tensor *b) { return binary(c, VT_BIN_ADD, a, b); }
vt_tensor *vt_sub(vt_ctx *c, vt_tensor *a, vt_tensor *b) { return binary(c, VT_BIN_SUB, a, b); }
vt_tensor *vt_mul(vt_ctx *c, vt_tensor *a, vt_tensor *b) { return binary(c, VT_BIN_MUL, a, b); }
vt_tensor *vt_div(vt_ctx *c, vt_tensor *a, vt_tensor *b) { return binary(c, VT_BIN_DIV, a, b); }
