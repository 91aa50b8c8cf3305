/* interpolate (by size or by scale factor): argument checks, PyTorch's output-size rule, autograd.
 * Kernels: resample_cpu.c. Backward is linear in the output gradient, so nothing but geometry is saved. */
#include <math.h>
#include <string.h>

#include "ops/op_util.h"
#include "ops/resample_kernels.h"
#include "visft/ops.h"

static const char *mode_name(vt_interp_mode m) {
    switch (m) {
    case VT_INTERP_NEAREST: return "nearest";
    case VT_INTERP_BILINEAR: return "bilinear";
    case VT_INTERP_BICUBIC: return "bicubic";
    }
    return "?";
}

/* iattr: N, C, then the geometry's integers; fattr: the scale factors. */
enum { A_N, A_C, A_H, A_W, A_HO, A_WO, A_MODE, A_ALIGN };

static vt_interp_geom load_geom(const vt_node *n) {
    vt_interp_geom g = {.planes = n->iattr[A_N] * n->iattr[A_C], .H = n->iattr[A_H], .W = n->iattr[A_W],
                        .Ho = n->iattr[A_HO], .Wo = n->iattr[A_WO], .scale_h = n->fattr[0], .scale_w = n->fattr[1],
                        .mode = (vt_interp_mode)n->iattr[A_MODE], .align_corners = n->iattr[A_ALIGN] != 0};
    return g;
}

static vt_status interpolate_backward(vt_ctx *c, vt_node *n, vt_tensor *gy, vt_tensor **grad_in) {
    vt_interp_geom g = load_geom(n);
    const vt_resample_kernels *k = vt_kernels(c, gy->device, VT_FAM_RESAMPLE, "interpolate");
    gy = vt_contiguous_data(c, gy);
    vt_tensor *gx = vt_empty_on(c, gy->device, VT_F32, VT_SHAPE(n->iattr[A_N], n->iattr[A_C], g.H, g.W));
    if (!k || !gy || !gx) return c->err.code;
    k->interpolate_backward(c, &g, vt_dptr_f32(gy), vt_dptr_f32(gx));
    grad_in[0] = gx;
    return VT_OK;
}

static vt_tensor *interpolate(vt_ctx *c, vt_tensor *x, int64_t out_h, int64_t out_w, double scale_h,
                              double scale_w, vt_interp_mode mode, bool align_corners) {
    static const char *op = "interpolate";
    if (!VT_OP_READY(c, op, x) || !vt_op_dtype(c, op, "input", x, VT_F32)) return NULL;
    char s[VT_SHAPE_STR_MAX];
    vt_shape_str(x, s, sizeof s);
    if (mode != VT_INTERP_NEAREST && mode != VT_INTERP_BILINEAR && mode != VT_INTERP_BICUBIC) {
        vt_ctx_fail(c, VT_EINVAL, "interpolate: unknown mode %d", (int)mode);
        return NULL;
    }
    if (mode == VT_INTERP_NEAREST && align_corners) {
        vt_ctx_fail(c, VT_EINVAL, "interpolate: align_corners applies to bilinear and bicubic, not nearest");
        return NULL;
    }
    if (x->ndim != 4 || x->shape[2] < 1 || x->shape[3] < 1) {
        vt_ctx_fail(c, VT_ESHAPE, "interpolate: expected a [N, C, H, W] input with H, W >= 1, got %s", s);
        return NULL;
    }
    if (out_h < 1 || out_w < 1) {
        vt_ctx_fail(c, VT_EINVAL, "interpolate (%s): output size (%lld, %lld) for input %s must be >= 1",
                    mode_name(mode), (long long)out_h, (long long)out_w, s);
        return NULL;
    }
    vt_interp_geom g = {.planes = x->shape[0] * x->shape[1], .H = x->shape[2], .W = x->shape[3], .Ho = out_h,
                        .Wo = out_w, .scale_h = scale_h, .scale_w = scale_w, .mode = mode,
                        .align_corners = align_corners};
    const vt_resample_kernels *k = vt_kernels(c, x->device, VT_FAM_RESAMPLE, op);
    vt_tensor *xc = vt_contiguous_data(c, x);
    vt_tensor *y = vt_empty_on(c, x->device, VT_F32, VT_SHAPE(x->shape[0], x->shape[1], out_h, out_w));
    if (!k || !xc || !y) return NULL;
    k->interpolate(c, &g, vt_dptr_f32(xc), vt_dptr_f32(y));
    if (vt_needs_grad(c, 1, &x)) {
        vt_node *n = vt_node_attach(c, y, op, interpolate_backward, 1, &x);
        if (!n) return NULL;
        const int64_t a[] = {[A_N] = x->shape[0], [A_C] = x->shape[1], [A_H] = g.H, [A_W] = g.W, [A_HO] = out_h,
                             [A_WO] = out_w, [A_MODE] = mode, [A_ALIGN] = align_corners};
        memcpy(n->iattr, a, sizeof a);
        n->fattr[0] = scale_h;
        n->fattr[1] = scale_w;
    }
    return y;
}

vt_tensor *vt_interpolate(vt_ctx *c, vt_tensor *x, int64_t out_h, int64_t out_w, vt_interp_mode mode,
                          bool align_corners) {
    return interpolate(c, x, out_h, out_w, 0.0, 0.0, mode, align_corners);
}

vt_tensor *vt_interpolate_scale(vt_ctx *c, vt_tensor *x, double scale_h, double scale_w, vt_interp_mode mode,
                                bool align_corners) {
    if (!VT_OP_READY(c, "interpolate", x)) return NULL;
    /* PyTorch: the output size is the product truncated, computed in double */
    double dh = x->ndim == 4 ? floor((double)x->shape[2] * scale_h) : 0.0;
    double dw = x->ndim == 4 ? floor((double)x->shape[3] * scale_w) : 0.0;
    if (!(scale_h > 0) || !(scale_w > 0) || !(dh < 0x1p40) || !(dw < 0x1p40)) {
        char s[VT_SHAPE_STR_MAX];
        vt_ctx_fail(c, VT_EINVAL, "interpolate: scale factors (%g, %g) for input %s must be positive and finite",
                    scale_h, scale_w, vt_shape_str(x, s, sizeof s));
        return NULL;
    }
    return interpolate(c, x, (int64_t)dh, (int64_t)dw, scale_h, scale_w, mode, align_corners);
}
