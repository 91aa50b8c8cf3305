/* DETR's Hungarian matcher and set criterion (see visft/detr_loss.h). The matcher works in double on the host
 * values (its result is a discrete choice; no gradient flows through it); the losses are visft ops on the
 * matched rows, so their gradients come from autograd. Matched pairs are listed image by image in increasing
 * query order, as DETR's reference concatenates them. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op_util.h"
#include "visft/autograd.h"
#include "visft/detr_loss.h"
#include "visft/hungarian.h"
#include "visft/ops.h"

static bool check_pred(vt_ctx *c, const vt_detr_pred *p, int layer) {
    char s1[VT_SHAPE_STR_MAX], s2[VT_SHAPE_STR_MAX];
    if (!p->logits || !p->boxes) {
        if (vt_ctx_ok(c)) vt_ctx_fail(c, VT_EINVAL, "detr_loss: layer %d: logits or boxes missing", layer);
        return false;
    }
    vt_tensor *l = p->logits, *b = p->boxes;
    if (l->dtype != VT_F32 || b->dtype != VT_F32 || l->ndim != 3 || b->ndim != 3 || l->shape[2] < 2 ||
        b->shape[2] != 4 || b->shape[0] != l->shape[0] || b->shape[1] != l->shape[1]) {
        vt_ctx_fail(c, VT_ESHAPE, "detr_loss: layer %d: want logits f32 [B, Q, C+1] and boxes f32 [B, Q, 4], got %s %s and %s %s",
                    layer, vt_dtype_name(l->dtype), vt_shape_str(l, s1, sizeof s1), vt_dtype_name(b->dtype),
                    vt_shape_str(b, s2, sizeof s2));
        return false;
    }
    if (!vt_device_equal(l->device, b->device)) { /* device predictions are matched through host copies */
        vt_ctx_fail(c, VT_EINVAL, "detr_loss: layer %d: logits and boxes are on different devices", layer);
        return false;
    }
    return true;
}

/* N, or -1 after recording an error; checks shapes, dtypes and every label / image index. */
static int64_t check_targets(vt_ctx *c, const vt_detr_targets *t, int64_t B, int64_t n_cls) {
    if (!t) return 0;
    if (!t->boxes && !t->labels && !t->image) return 0;
    char s[3][VT_SHAPE_STR_MAX];
    if (!t->boxes || !t->labels || !t->image || t->boxes->dtype != VT_F32 || t->boxes->ndim != 2 ||
        t->boxes->shape[1] != 4 || t->labels->dtype != VT_I64 || t->image->dtype != VT_I64 || t->labels->ndim != 1 ||
        t->image->ndim != 1 || !vt_is_contiguous(t->labels) || !vt_is_contiguous(t->image) || t->labels->shape[0] != t->boxes->shape[0] || t->image->shape[0] != t->boxes->shape[0]) {
        vt_ctx_fail(c, VT_ESHAPE, "detr_loss: targets: want boxes f32 [N, 4], box_labels i64 [N], box_image i64 [N], got %s, %s, %s",
                    t->boxes ? vt_shape_str(t->boxes, s[0], sizeof s[0]) : "none",
                    t->labels ? vt_shape_str(t->labels, s[1], sizeof s[1]) : "none",
                    t->image ? vt_shape_str(t->image, s[2], sizeof s[2]) : "none");
        return -1;
    }
    int64_t n = t->boxes->shape[0];
    /* device targets are validated on host copies (one synchronising copy each, freed below) */
    vt_tensor *labels = t->labels, *image = t->image, *boxes = t->boxes;
    bool pushed = false;
    if (!vt_on_cpu(labels) || !vt_on_cpu(image) || !vt_on_cpu(boxes)) {
        int depth = vt_scope_depth(c);
        vt_scope_push(c);
        pushed = vt_scope_depth(c) > depth;
        labels = vt_host_copy(c, labels), image = vt_host_copy(c, image), boxes = vt_host_copy(c, boxes);
        if (!labels || !image || !boxes) n = -1;
    }
    for (int64_t i = 0; i < n; i++) {
        double lab = vt_item_at(labels, i), img = vt_item_at(image, i);
        if (lab < 0 || lab >= (double)n_cls || img < 0 || img >= (double)B) {
            vt_ctx_fail(c, VT_EINVAL, "detr_loss: target %lld: box_labels %g must be in [0, %lld) and box_image %g in [0, %lld)",
                        (long long)i, lab, (long long)n_cls, img, (long long)B);
            n = -1;
            break;
        }
        bool finite = true;
        for (int k = 0; finite && k < 4; k++) finite = isfinite(vt_item_at(boxes, 4 * i + k));
        if (!finite) {
            vt_ctx_fail(c, VT_EINVAL, "detr_loss: target %lld: box is not finite", (long long)i);
            n = -1;
            break;
        }
    }
    if (pushed) vt_scope_pop(c);
    return n;
}

static void xyxy(const double *b, double *o) {
    o[0] = b[0] - 0.5 * b[2], o[1] = b[1] - 0.5 * b[3], o[2] = b[0] + 0.5 * b[2], o[3] = b[1] + 0.5 * b[3];
}

static double giou(const double *a, const double *b) {
    double iw = fmax(fmin(a[2], b[2]) - fmax(a[0], b[0]), 0.0), ih = fmax(fmin(a[3], b[3]) - fmax(a[1], b[1]), 0.0);
    double inter = iw * ih;
    double uni = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
    double hw = fmax(fmax(a[2], b[2]) - fmin(a[0], b[0]), 0.0), hh = fmax(fmax(a[3], b[3]) - fmin(a[1], b[1]), 0.0);
    double hull = hw * hh;
    return inter / uni - (hull - uni) / hull;
}

vt_status vt_detr_match(vt_ctx *c, const vt_detr_pred *p, const vt_detr_targets *t, const vt_detr_loss_opts *opts,
                        int64_t *query_of_target) {
    if (!vt_ctx_ok(c)) return vt_ctx_error(c)->code;
    if (!p || !check_pred(c, p, 0)) return vt_ctx_ok(c) ? vt_ctx_fail(c, VT_EINVAL, "detr_match: no predictions") : vt_ctx_error(c)->code;
    vt_detr_loss_opts o = opts ? *opts : vt_detr_loss_defaults();
    int64_t B = p->logits->shape[0], Q = p->logits->shape[1], C1 = p->logits->shape[2];
    int64_t N = check_targets(c, t, B, C1 - 1);
    if (N < 0) return vt_ctx_error(c)->code;
    if (N == 0) return VT_OK;
    vt_scope_push(c);
    /* the matcher reads values on the host: device tensors through host copies (synchronising) */
    vt_tensor *lg = vt_on_cpu(p->logits) ? vt_contiguous(c, vt_detach(c, p->logits)) : vt_host_copy(c, p->logits);
    vt_tensor *bx = vt_on_cpu(p->boxes) ? vt_contiguous(c, vt_detach(c, p->boxes)) : vt_host_copy(c, p->boxes);
    vt_tensor *tb = vt_on_cpu(t->boxes) ? vt_contiguous(c, t->boxes) : vt_host_copy(c, t->boxes);
    vt_tensor *tl = vt_on_cpu(t->labels) ? vt_contiguous(c, t->labels) : vt_host_copy(c, t->labels);
    vt_tensor *ti = vt_on_cpu(t->image) ? vt_contiguous(c, t->image) : vt_host_copy(c, t->image);
    vt_status st = vt_ctx_ok(c) ? VT_OK : vt_ctx_error(c)->code;
    double *prob = malloc((size_t)(Q * C1) * sizeof *prob), *pbox = malloc((size_t)Q * 4 * sizeof *pbox);
    double *cost = malloc((size_t)(Q * N) * sizeof *cost);
    int64_t *tid = malloc((size_t)N * sizeof *tid), *rows = malloc((size_t)N * sizeof *rows),
            *cols = malloc((size_t)N * sizeof *cols);
    if (st == VT_OK && (!prob || !pbox || !cost || !tid || !rows || !cols))
        st = vt_ctx_fail(c, VT_ENOMEM, "detr_match: out of memory (%lld queries, %lld targets)", (long long)Q, (long long)N);
    for (int64_t i = 0; st == VT_OK && i < N; i++) query_of_target[i] = -1;
    for (int64_t b = 0; st == VT_OK && b < B; b++) {
        int64_t nb = 0; /* this image's targets in order of appearance, as DETR's per-image lists */
        for (int64_t i = 0; i < N; i++)
            if (vt_i64(ti)[i] == b) tid[nb++] = i;
        if (nb == 0) continue;
        const float *L = vt_f32(lg) + b * Q * C1, *P = vt_f32(bx) + b * Q * 4;
        for (int64_t q = 0; q < Q; q++) { /* softmax in double */
            double mx = -INFINITY, s = 0;
            for (int64_t k = 0; k < C1; k++) mx = fmax(mx, L[q * C1 + k]);
            for (int64_t k = 0; k < C1; k++) s += prob[q * C1 + k] = exp(L[q * C1 + k] - mx);
            for (int64_t k = 0; k < C1; k++) prob[q * C1 + k] /= s;
            double cb[4];
            for (int k = 0; k < 4; k++) cb[k] = P[q * 4 + k];
            xyxy(cb, pbox + q * 4);
            for (int64_t j = 0; j < nb; j++) {
                double tbx[4], txy[4], l1 = 0;
                for (int k = 0; k < 4; k++) tbx[k] = vt_f32(tb)[tid[j] * 4 + k], l1 += fabs(cb[k] - tbx[k]);
                xyxy(tbx, txy);
                cost[q * nb + j] = o.cost_bbox * l1 - o.cost_class * prob[q * C1 + vt_i64(tl)[tid[j]]] -
                                   o.cost_giou * giou(pbox + q * 4, txy);
            }
        }
        vt_err err = {0};
        if (vt_linear_sum_assignment(cost, Q, nb, rows, cols, NULL, &err) != VT_OK) {
            st = vt_ctx_fail(c, err.code, "detr_match: image %lld: %s (non-finite predictions?)", (long long)b, err.msg);
            break;
        }
        for (int64_t k = 0; k < (Q < nb ? Q : nb); k++) query_of_target[tid[cols[k]]] = rows[k];
    }
    free(prob), free(pbox), free(cost), free(tid), free(rows), free(cols);
    vt_scope_pop(c);
    return st;
}
