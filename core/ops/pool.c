/* avg_pool2d, max_pool2d, adaptive_avg_pool2d: argument checks, PyTorch's output-size rule, autograd.
 * Kernels: pool_cpu.c. Pools see the N·C planes of an NCHW tensor as one batch of images. */
#include <string.h>

#include "ops/conv_kernels.h"
#include "ops/op_util.h"
#include "visft/ops.h"

/* The window geometry and the input's N, C travel in the node's iattr. */
enum { A_N, A_C, A_EXCL, A_GEOM };

static void save_geom(vt_node *n, const vt_tensor *x, const vt_win2d *g, bool exclude_pad) {
    n->iattr[A_N] = x->shape[0];
    n->iattr[A_C] = x->shape[1];
    n->iattr[A_EXCL] = exclude_pad;
    memcpy(&n->iattr[A_GEOM], g, sizeof *g);
}

static vt_win2d load_geom(const vt_node *n) {
    vt_win2d g;
    memcpy(&g, &n->iattr[A_GEOM], sizeof g);
    return g;
}

_Static_assert(A_GEOM + sizeof(vt_win2d) / sizeof(int64_t) <= VT_NODE_MAX_ATTRS, "pool geometry fits in iattr");

static bool pool_input(vt_ctx *c, const char *op, vt_tensor *x) {
    if (!VT_OP_READY(c, op, x) || !vt_op_dtype(c, op, "input", x, VT_F32)) return false;
    if (x->ndim != 4 || x->shape[2] < 1 || x->shape[3] < 1) {
        char s[VT_SHAPE_STR_MAX];
        vt_ctx_fail(c, VT_ESHAPE, "%s: expected a [N, C, H, W] input with H, W >= 1, got %s", op,
                    vt_shape_str(x, s, sizeof s));
        return false;
    }
    return true;
}

/* PyTorch's pooling_output_shape: floor (or ceil) division, and with ceil_mode the last window must start
 * inside the input or its left padding. */
static int64_t pool_out(int64_t in, int64_t k, int64_t s, int64_t p, bool ceil_mode) {
    int64_t num = in + 2 * p - (k - 1) - 1 + (ceil_mode ? s - 1 : 0);
    int64_t q = num >= 0 ? num / s : -((-num + s - 1) / s);
    int64_t out = q + 1;
    if (ceil_mode && (out - 1) * s >= in + p) out--;
    return out;
}

static bool pool_geom(vt_ctx *c, const char *op, const vt_tensor *x, const vt_pool2d_opts *o, vt_win2d *g) {
    char s[VT_SHAPE_STR_MAX];
    vt_shape_str(x, s, sizeof s);
    int64_t k[2], st[2], out[2];
    for (int i = 0; i < 2; i++) {
        k[i] = o->kernel[i];
        st[i] = o->stride[i] ? o->stride[i] : k[i];
        if (k[i] < 1 || st[i] < 1 || o->padding[i] < 0 || o->padding[i] > k[i] / 2) {
            vt_ctx_fail(c, VT_EINVAL,
                        "%s: kernel (%lld, %lld), stride (%lld, %lld), padding (%lld, %lld) on input %s: need "
                        "kernel, stride >= 1 and 0 <= padding <= kernel / 2",
                        op, (long long)o->kernel[0], (long long)o->kernel[1], (long long)o->stride[0],
                        (long long)o->stride[1], (long long)o->padding[0], (long long)o->padding[1], s);
            return false;
        }
        out[i] = pool_out(x->shape[2 + i], k[i], st[i], o->padding[i], o->ceil_mode);
        if (out[i] < 1) {
            vt_ctx_fail(c, VT_ESHAPE, "%s: kernel (%lld, %lld) is larger than padded input %s", op,
                        (long long)o->kernel[0], (long long)o->kernel[1], s);
            return false;
        }
    }
    vt_win2d v = {.C = x->shape[0] * x->shape[1], .H = x->shape[2], .W = x->shape[3], .kh = k[0], .kw = k[1],
                  .sh = st[0], .sw = st[1], .ph = o->padding[0], .pw = o->padding[1], .dh = 1, .dw = 1,
                  .Ho = out[0], .Wo = out[1]};
    *g = v;
    return true;
}

static vt_tensor *pool_output(vt_ctx *c, const vt_tensor *x, const vt_win2d *g) {
    return vt_empty_on(c, x->device, VT_F32, VT_SHAPE(x->shape[0], x->shape[1], g->Ho, g->Wo));
}

/* ---- avg_pool2d ---- */

static vt_status avg_pool_backward(vt_ctx *c, vt_node *n, vt_tensor *gy, vt_tensor **grad_in) {
    vt_win2d g = load_geom(n);
    const vt_conv_kernels *k = vt_kernels(c, gy->device, VT_FAM_CONV, n->op);
    gy = vt_contiguous_data(c, gy);
    vt_tensor *gx = vt_empty_on(c, gy->device, VT_F32, VT_SHAPE(n->iattr[A_N], n->iattr[A_C], g.H, g.W));
    if (!k || !gy || !gx) return c->err.code;
    k->avg_pool_backward(c, &g, n->iattr[A_EXCL] != 0, vt_dptr_f32(gy), vt_dptr_f32(gx));
    grad_in[0] = gx;
    return VT_OK;
}

vt_tensor *vt_avg_pool2d(vt_ctx *c, vt_tensor *x, const vt_pool2d_opts *opts) {
    static const char *op = "avg_pool2d";
    vt_win2d g;
    if (!pool_input(c, op, x)) return NULL;
    if (!opts) {
        vt_ctx_fail(c, VT_EINVAL, "avg_pool2d: options with a kernel size are required");
        return NULL;
    }
    if (!pool_geom(c, op, x, opts, &g)) return NULL;
    const vt_conv_kernels *k = vt_kernels(c, x->device, VT_FAM_CONV, op);
    vt_tensor *xc = vt_contiguous_data(c, x), *y = pool_output(c, x, &g);
    if (!k || !xc || !y) return NULL;
    k->avg_pool(c, &g, opts->exclude_pad, vt_dptr_f32(xc), vt_dptr_f32(y));
    if (vt_needs_grad(c, 1, &x)) {
        vt_node *n = vt_node_attach(c, y, op, avg_pool_backward, 1, &x);
        if (!n) return NULL;
        save_geom(n, x, &g, opts->exclude_pad);
    }
    return y;
}

/* ---- max_pool2d ---- */

static vt_status max_pool_backward(vt_ctx *c, vt_node *n, vt_tensor *gy, vt_tensor **grad_in) {
    vt_win2d g = load_geom(n);
    const vt_conv_kernels *k = vt_kernels(c, gy->device, VT_FAM_CONV, n->op);
    gy = vt_contiguous_data(c, gy);
    vt_tensor *gx = vt_empty_on(c, gy->device, VT_F32, VT_SHAPE(n->iattr[A_N], n->iattr[A_C], g.H, g.W));
    if (!k || !gy || !gx) return c->err.code;
    k->max_pool_backward(c, &g, vt_dptr_f32(gy), vt_dptr_i64(n->saved[0]), vt_dptr_f32(gx));
    grad_in[0] = gx;
    return VT_OK;
}

vt_tensor *vt_max_pool2d(vt_ctx *c, vt_tensor *x, const vt_pool2d_opts *opts) {
    static const char *op = "max_pool2d";
    vt_win2d g;
    if (!pool_input(c, op, x)) return NULL;
    if (!opts) {
        vt_ctx_fail(c, VT_EINVAL, "max_pool2d: options with a kernel size are required");
        return NULL;
    }
    if (!pool_geom(c, op, x, opts, &g)) return NULL;
    const vt_conv_kernels *k = vt_kernels(c, x->device, VT_FAM_CONV, op);
    vt_tensor *xc = vt_contiguous_data(c, x), *y = pool_output(c, x, &g);
    vt_tensor *idx = y ? vt_empty_on(c, x->device, VT_I64, y->ndim, y->shape) : NULL;
    if (!k || !xc || !y || !idx) return NULL;
    k->max_pool(c, &g, vt_dptr_f32(xc), vt_dptr_f32(y), vt_dptr_i64(idx));
    if (vt_needs_grad(c, 1, &x)) {
        vt_node *n = vt_node_attach(c, y, op, max_pool_backward, 1, &x);
        if (!n || vt_node_save(c, n, 0, idx) != VT_OK) return NULL;
        save_geom(n, x, &g, false);
    }
    return y;
}

/* ---- adaptive_avg_pool2d ---- */

static vt_status adaptive_backward(vt_ctx *c, vt_node *n, vt_tensor *gy, vt_tensor **grad_in) {
    vt_win2d g = load_geom(n);
    const vt_conv_kernels *k = vt_kernels(c, gy->device, VT_FAM_CONV, n->op);
    gy = vt_contiguous_data(c, gy);
    vt_tensor *gx = vt_empty_on(c, gy->device, VT_F32, VT_SHAPE(n->iattr[A_N], n->iattr[A_C], g.H, g.W));
    if (!k || !gy || !gx) return c->err.code;
    k->adaptive_avg_pool_backward(c, &g, vt_dptr_f32(gy), vt_dptr_f32(gx));
    grad_in[0] = gx;
    return VT_OK;
}

vt_tensor *vt_adaptive_avg_pool2d(vt_ctx *c, vt_tensor *x, int64_t out_h, int64_t out_w) {
    static const char *op = "adaptive_avg_pool2d";
    if (!pool_input(c, op, x)) return NULL;
    if (out_h < 1 || out_w < 1) {
        char s[VT_SHAPE_STR_MAX];
        vt_ctx_fail(c, VT_EINVAL, "adaptive_avg_pool2d: output size (%lld, %lld) for input %s must be >= 1",
                    (long long)out_h, (long long)out_w, vt_shape_str(x, s, sizeof s));
        return NULL;
    }
    vt_win2d g = {.C = x->shape[0] * x->shape[1], .H = x->shape[2], .W = x->shape[3], .Ho = out_h, .Wo = out_w};
    const vt_conv_kernels *k = vt_kernels(c, x->device, VT_FAM_CONV, op);
    vt_tensor *xc = vt_contiguous_data(c, x), *y = pool_output(c, x, &g);
    if (!k || !xc || !y) return NULL;
    k->adaptive_avg_pool(c, &g, vt_dptr_f32(xc), vt_dptr_f32(y));
    if (vt_needs_grad(c, 1, &x)) {
        vt_node *n = vt_node_attach(c, y, op, adaptive_backward, 1, &x);
        if (!n) return NULL;
        save_geom(n, x, &g, false);
    }
    return y;
}
