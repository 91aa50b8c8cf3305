/* DETR's set criterion from a matching (see visft/detr_loss.h): every query gets a class target (its matched
 * box's label, else no-object) for a class-weighted cross-entropy; matched queries' boxes are gathered and
 * compared with their targets by L1 and GIoU, both summed and divided by num_boxes. */
#include <stdlib.h>

#include "ops/op_util.h"
#include "visft/detr_loss.h"
#include "visft/ops.h"

/* t itself when already on dev, else a copy there (host-made index and weight tensors follow the data). */
static vt_tensor *to_dev(vt_ctx *c, vt_tensor *t, vt_device dev) {
    return !t || vt_device_equal(t->device, dev) ? t : vt_to_device(c, t, dev);
}

static vt_tensor *layer_loss(vt_ctx *c, const vt_detr_pred *p, const vt_detr_targets *t, int64_t N,
                             const vt_detr_loss_opts *o, vt_detr_loss_parts *part) {
    int64_t B = p->logits->shape[0], Q = p->logits->shape[1], C1 = p->logits->shape[2];
    int64_t *qot = malloc((size_t)(N ? N : 1) * sizeof *qot), *cls = malloc((size_t)(B * Q) * sizeof *cls);
    int64_t *src = malloc((size_t)(N ? N : 1) * sizeof *src), *tgt = malloc((size_t)(N ? N : 1) * sizeof *tgt);
    float *w = malloc((size_t)C1 * sizeof *w);
    vt_tensor *out = NULL;
    if (!qot || !cls || !src || !tgt || !w) {
        vt_ctx_fail(c, VT_ENOMEM, "detr_loss: out of memory");
        goto done;
    }
    if (vt_detr_match(c, p, t, o, qot) != VT_OK) goto done;
    /* the targets' image and label indices are read on the host: device ones through one synchronising copy */
    vt_tensor *timg = N > 0 && !vt_on_cpu(t->image) ? vt_host_copy(c, t->image) : (N > 0 ? t->image : NULL);
    vt_tensor *tlab = N > 0 && !vt_on_cpu(t->labels) ? vt_host_copy(c, t->labels) : (N > 0 ? t->labels : NULL);
    if (N > 0 && (!timg || !tlab)) goto done;
    for (int64_t i = 0; i < B * Q; i++) cls[i] = C1 - 1;
    for (int64_t i = 0; i < N; i++)
        if (qot[i] >= 0) cls[(int64_t)vt_item_at(timg, i) * Q + qot[i]] = (int64_t)vt_item_at(tlab, i);
    /* matched pairs by (image, query): the slot of query q of image b holds its target */
    int64_t M = 0;
    int64_t *tgt_of_slot = malloc((size_t)(B * Q) * sizeof *tgt_of_slot);
    if (!tgt_of_slot) {
        vt_ctx_fail(c, VT_ENOMEM, "detr_loss: out of memory");
        goto done;
    }
    for (int64_t i = 0; i < B * Q; i++) tgt_of_slot[i] = -1;
    for (int64_t i = 0; i < N; i++)
        if (qot[i] >= 0) tgt_of_slot[(int64_t)vt_item_at(timg, i) * Q + qot[i]] = i;
    for (int64_t s = 0; s < B * Q; s++)
        if (tgt_of_slot[s] >= 0) src[M] = s, tgt[M] = tgt_of_slot[s], M++;
    free(tgt_of_slot);
    for (int64_t k = 0; k < C1; k++) w[k] = k == C1 - 1 ? (float)o->eos_coef : 1.0f;

    vt_cross_entropy_opts ce_o = vt_cross_entropy_defaults();
    const vt_device dev = p->logits->device;
    ce_o.weight = to_dev(c, vt_from_f32(c, VT_SHAPE(C1), w), dev);
    vt_tensor *ce = vt_cross_entropy(c, vt_reshape(c, p->logits, VT_SHAPE(B * Q, C1)),
                                     to_dev(c, vt_from_i64(c, VT_SHAPE(B * Q), cls), dev), &ce_o);
    double inv_nb = 1.0 / (double)(N > 1 ? N : 1);
    vt_tensor *l1, *gi;
    if (M == 0) { /* nothing matched: both box losses are 0, with a zero gradient for the boxes (PyTorch's) */
        l1 = vt_mul_scalar(c, vt_sum_all(c, p->boxes), 0.0), gi = vt_mul_scalar(c, vt_sum_all(c, p->boxes), 0.0);
    } else {
        vt_tensor *sb = vt_index_select(c, vt_reshape(c, p->boxes, VT_SHAPE(B * Q, 4)), 0,
                                        to_dev(c, vt_from_i64(c, VT_SHAPE(M), src), p->boxes->device));
        vt_tensor *tb = vt_index_select(c, t->boxes, 0, to_dev(c, vt_from_i64(c, VT_SHAPE(M), tgt), t->boxes->device));
        tb = to_dev(c, tb, p->boxes->device); /* host targets of device predictions */
        l1 = vt_mul_scalar(c, vt_l1_loss(c, sb, tb, VT_REDUCTION_SUM), inv_nb);
        vt_tensor *g = vt_generalized_box_iou(c, vt_box_cxcywh_to_xyxy(c, sb), vt_box_cxcywh_to_xyxy(c, tb));
        gi = vt_mul_scalar(c, vt_sum_all(c, vt_rsub_scalar(c, g, 1.0)), inv_nb);
    }
    if (part) part->ce = ce, part->bbox = l1, part->giou = gi;
    out = vt_add(c, vt_add(c, vt_mul_scalar(c, ce, o->w_ce), vt_mul_scalar(c, l1, o->w_bbox)),
                 vt_mul_scalar(c, gi, o->w_giou));
done:
    free(qot), free(cls), free(src), free(tgt), free(w);
    return out;
}

vt_tensor *vt_detr_set_loss(vt_ctx *c, const vt_detr_pred *layers, int n_layers, const vt_detr_targets *t,
                            const vt_detr_loss_opts *opts, vt_detr_loss_parts *parts) {
    if (!vt_ctx_ok(c)) return NULL;
    if (!layers || n_layers < 1) {
        vt_ctx_fail(c, VT_EINVAL, "detr_loss: need at least one layer of predictions, got %d", n_layers);
        return NULL;
    }
    vt_detr_loss_opts o = opts ? *opts : vt_detr_loss_defaults();
    int64_t N = t && t->boxes ? t->boxes->shape[0] : 0;
    vt_tensor *total = NULL;
    for (int i = 0; i < n_layers; i++) {
        vt_tensor *l = layer_loss(c, &layers[i], t, N, &o, parts ? &parts[i] : NULL);
        if (!l) {
            vt_ctx_fail(c, VT_EINVAL, "detr_loss: layer %d failed", i); /* keeps the first, more precise error */
            return NULL;
        }
        total = total ? vt_add(c, total, l) : l;
    }
    return total;
}
