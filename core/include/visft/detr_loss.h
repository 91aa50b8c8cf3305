/* DETR's set criterion (Carion et al. 2020) as ViSFT trains its detection head with it: predictions are matched
 * one-to-one with ground-truth boxes by an exact Hungarian assignment on a class + L1 + GIoU cost (no gradient),
 * then cross-entropy over all queries (no-object class down-weighted), L1 and 1 − GIoU over matched pairs are
 * built from visft ops, so autograd differentiates them. Also the differentiable box utilities it uses.
 * Host (CPU) tensors: the matcher reads their values. */
#ifndef VISFT_DETR_LOSS_H
#define VISFT_DETR_LOSS_H

#include <stdint.h>

#include "visft/batch.h"
#include "visft/context.h"
#include "visft/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- boxes (f32 [..., 4], differentiable) ---- */
/* (cx, cy, w, h) -> (x0, y0, x1, y1) and back. */
vt_tensor *vt_box_cxcywh_to_xyxy(vt_ctx *c, vt_tensor *boxes);
vt_tensor *vt_box_xyxy_to_cxcywh(vt_ctx *c, vt_tensor *boxes);
/* Generalized IoU of xyxy boxes a and b, broadcasting their leading dims ([..., 4] x [..., 4] -> [...]); for the
 * N×M matrix pass a as [N, 1, 4] and b as [M, 4]. Boxes must be proper (x1 >= x0, y1 >= y0). Where two
 * coordinates tie exactly, max/min send the gradient to a (PyTorch splits it in half). */
vt_tensor *vt_generalized_box_iou(vt_ctx *c, vt_tensor *a, vt_tensor *b);

/* ---- criterion ---- */
typedef struct vt_detr_loss_opts {
    double cost_class, cost_bbox, cost_giou; /* matching cost weights (ViSFT/DETR: 1, 5, 2) */
    double eos_coef;                         /* cross-entropy weight of the no-object class (0.1) */
    double w_ce, w_bbox, w_giou;             /* loss weights (1, 5, 2) */
} vt_detr_loss_opts;

static inline vt_detr_loss_opts vt_detr_loss_defaults(void) {
    vt_detr_loss_opts o = {1.0, 5.0, 2.0, 0.1, 1.0, 5.0, 2.0};
    return o;
}

/* Ground truth of a batch, in visft/batch.h's detection format. N may be 0. */
typedef struct vt_detr_targets {
    vt_tensor *boxes;  /* [N, 4] f32, normalised cxcywh ("boxes") */
    vt_tensor *labels; /* [N] i64 in [0, num_classes) ("box_labels") */
    vt_tensor *image;  /* [N] i64 in [0, B): each box's image ("box_image") */
} vt_detr_targets;

static inline vt_detr_targets vt_detr_targets_from_batch(const vt_batch *b) {
    vt_detr_targets t = {vt_batch_target(b, "boxes"), vt_batch_target(b, "box_labels"), vt_batch_target(b, "box_image")};
    return t;
}

/* One decoder layer's predictions. */
typedef struct vt_detr_pred {
    vt_tensor *logits; /* [B, Q, num_classes + 1] f32, last class = no object */
    vt_tensor *boxes;  /* [B, Q, 4] f32, cxcywh (sigmoid outputs) */
} vt_detr_pred;

/* One layer's unweighted losses (0-d): ce, L1 / num_boxes, (1 − GIoU) / num_boxes. */
typedef struct vt_detr_loss_parts {
    vt_tensor *ce, *bbox, *giou;
} vt_detr_loss_parts;

/* Hungarian matching of one layer (no gradient): query_of_target[n] gets the query matched with target box n,
 * or -1 when its image has fewer queries than boxes and it was left out. */
vt_status vt_detr_match(vt_ctx *c, const vt_detr_pred *p, const vt_detr_targets *t, const vt_detr_loss_opts *o,
                        int64_t *query_of_target);

/* Σ over layers of w_ce·ce + w_bbox·L1 + w_giou·GIoU, each layer matched on its own (layers: the final one
 * and every auxiliary one, any order); num_boxes = max(N, 1). parts (may be NULL) gets n_layers entries.
 * opts NULL means the defaults. A 0-d tensor, or NULL with the context's error set. */
vt_tensor *vt_detr_set_loss(vt_ctx *c, const vt_detr_pred *layers, int n_layers, const vt_detr_targets *t,
                            const vt_detr_loss_opts *opts, vt_detr_loss_parts *parts);

#ifdef __cplusplus
}
#endif
#endif
