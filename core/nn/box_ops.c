/* Differentiable box utilities for DETR's losses, written with visft ops so autograd handles them. Max/min
 * select by comparing values on the host (an exact select; an arithmetic (a+b±|a−b|)/2 would round); device
 * boxes are compared through host copies (synchronising) and the mask goes back to their device. */
#include <math.h>

#include "ops/op_util.h"
#include "visft/detr_loss.h"
#include "visft/ops.h"

static vt_tensor *col(vt_ctx *c, vt_tensor *b, int i) { return vt_slice(c, b, b ? b->ndim - 1 : 0, i, i + 1, 1); }

static bool check_boxes(vt_ctx *c, const char *op, vt_tensor *b) {
    if (!b) return false;
    if (b->dtype != VT_F32 || b->ndim < 1 || b->shape[b->ndim - 1] != 4) {
        char s[VT_SHAPE_STR_MAX];
        vt_ctx_fail(c, VT_ESHAPE, "%s: boxes must be f32 [..., 4], got %s %s", op, vt_dtype_name(b->dtype),
                    vt_shape_str(b, s, sizeof s));
        return false;
    }
    return true;
}

vt_tensor *vt_box_cxcywh_to_xyxy(vt_ctx *c, vt_tensor *b) {
    if (!check_boxes(c, "box_cxcywh_to_xyxy", b)) return NULL;
    vt_tensor *cx = col(c, b, 0), *cy = col(c, b, 1);
    vt_tensor *hw = vt_mul_scalar(c, col(c, b, 2), 0.5), *hh = vt_mul_scalar(c, col(c, b, 3), 0.5);
    vt_tensor *parts[4] = {vt_sub(c, cx, hw), vt_sub(c, cy, hh), vt_add(c, cx, hw), vt_add(c, cy, hh)};
    return vt_concat(c, 4, parts, b->ndim - 1);
}

vt_tensor *vt_box_xyxy_to_cxcywh(vt_ctx *c, vt_tensor *b) {
    if (!check_boxes(c, "box_xyxy_to_cxcywh", b)) return NULL;
    vt_tensor *x0 = col(c, b, 0), *y0 = col(c, b, 1), *x1 = col(c, b, 2), *y1 = col(c, b, 3);
    vt_tensor *parts[4] = {vt_mul_scalar(c, vt_add(c, x0, x1), 0.5), vt_mul_scalar(c, vt_add(c, y0, y1), 0.5),
                           vt_sub(c, x1, x0), vt_sub(c, y1, y0)};
    return vt_concat(c, 4, parts, b->ndim - 1);
}

/* Elementwise max (want_max) or min of broadcastable a, b: both expanded to the common shape, then a where()
 * on a mask computed from their values. */
static vt_tensor *select_ext(vt_ctx *c, vt_tensor *a, vt_tensor *b, bool want_max) {
    vt_tensor *shape = vt_add(c, a, b); /* the broadcast shape (and a shape error if there is none) */
    if (!shape) return NULL;
    vt_tensor *ae = vt_contiguous(c, vt_expand(c, a, shape->ndim, shape->shape));
    vt_tensor *be = vt_contiguous(c, vt_expand(c, b, shape->ndim, shape->shape));
    vt_tensor *mask = vt_empty(c, VT_U8, shape->ndim, shape->shape);
    if (!ae || !be || !mask) return NULL;
    vt_tensor *ha = vt_on_cpu(ae) ? ae : vt_host_copy(c, ae), *hb = vt_on_cpu(be) ? be : vt_host_copy(c, be);
    const float *pa = vt_f32(ha), *pb = vt_f32(hb);
    uint8_t *pm = mask->data;
    if (!pa || !pb) {
        if (vt_ctx_ok(c)) vt_ctx_fail(c, VT_EUNSUPPORTED, "generalized_box_iou: boxes could not be read on the host");
        return NULL;
    }
    for (int64_t i = 0, n = vt_numel(shape); i < n; i++) pm[i] = want_max ? pa[i] >= pb[i] : pa[i] <= pb[i];
    if (!vt_on_cpu(ae)) mask = vt_to_device(c, mask, ae->device);
    return vt_where(c, mask, ae, be);
}

static vt_tensor *area_of(vt_ctx *c, vt_tensor *x0, vt_tensor *y0, vt_tensor *x1, vt_tensor *y1, bool clamp) {
    vt_tensor *w = vt_sub(c, x1, x0), *h = vt_sub(c, y1, y0);
    if (clamp) w = vt_clamp(c, w, 0.0, INFINITY), h = vt_clamp(c, h, 0.0, INFINITY);
    return vt_mul(c, w, h);
}

vt_tensor *vt_generalized_box_iou(vt_ctx *c, vt_tensor *a, vt_tensor *b) {
    if (!check_boxes(c, "generalized_box_iou", a) || !check_boxes(c, "generalized_box_iou", b)) return NULL;
    vt_tensor *ax0 = col(c, a, 0), *ay0 = col(c, a, 1), *ax1 = col(c, a, 2), *ay1 = col(c, a, 3);
    vt_tensor *bx0 = col(c, b, 0), *by0 = col(c, b, 1), *bx1 = col(c, b, 2), *by1 = col(c, b, 3);
    vt_tensor *area_a = area_of(c, ax0, ay0, ax1, ay1, false), *area_b = area_of(c, bx0, by0, bx1, by1, false);
    vt_tensor *inter = area_of(c, select_ext(c, ax0, bx0, true), select_ext(c, ay0, by0, true),
                               select_ext(c, ax1, bx1, false), select_ext(c, ay1, by1, false), true);
    vt_tensor *uni = vt_sub(c, vt_add(c, area_a, area_b), inter);
    vt_tensor *iou = vt_div(c, inter, uni);
    vt_tensor *hull = area_of(c, select_ext(c, ax0, bx0, false), select_ext(c, ay0, by0, false),
                              select_ext(c, ax1, bx1, true), select_ext(c, ay1, by1, true), true);
    vt_tensor *g = vt_sub(c, iou, vt_div(c, vt_sub(c, hull, uni), hull));
    return g ? vt_squeeze(c, g, g->ndim - 1) : NULL;
}
