/* detr: ViSFT's UniT-style detection head. Network in detr_net.c; trained with DETR's set criterion
 * (visft/detr_loss.h) on the final and every auxiliary decoder layer, reading the batch's "boxes" [N, 4]
 * (normalised cxcywh), "box_labels" [N] and "box_image" [N]. predict gives the top-k detections per image by
 * softmax score (no-object excluded) in pixels of the batch image, COCO xywh: "boxes" [B*K, 4], "scores",
 * "labels" and "box_image" [B*K]. Written against the public headers only. */
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "detr_net.h"

typedef struct detr_params {
    int64_t num_classes;
    int64_t enc_width, enc_layers, enc_heads, enc_ffn;
    int64_t dec_width, dec_layers, dec_heads, dec_ffn;
    int64_t num_queries, top_k;
    double dropout;
    bool aux_loss;
} detr_params;

#define INT_SPEC(field, def, lo, hi, text)                                                                     \
    {.name = #field, .type = VT_PARAM_INT, .offset = offsetof(detr_params, field), .default_value = def,        \
     .min = lo, .max = hi, .help = text}

static const vt_param_spec detr_specs[] = {
    {.name = "num_classes", .type = VT_PARAM_INT, .offset = offsetof(detr_params, num_classes), .required = true,
     .min = 1, .max = 100000, .help = "object classes (a no-object class is added)"},
    INT_SPEC(enc_width, "128", 4, 65536, "encoder width (the 1x1 input projection's output)"),
    INT_SPEC(enc_layers, "6", 0, 64, "encoder layers (post-norm)"),
    INT_SPEC(enc_heads, "8", 1, 256, "encoder attention heads"),
    INT_SPEC(enc_ffn, "1024", 1, 1 << 20, "encoder FFN hidden width"),
    INT_SPEC(dec_width, "256", 4, 65536, "decoder width"),
    INT_SPEC(dec_layers, "6", 1, 64, "decoder layers (post-norm); each gives an auxiliary output"),
    INT_SPEC(dec_heads, "8", 1, 256, "decoder attention heads"),
    INT_SPEC(dec_ffn, "1024", 1, 1 << 20, "decoder FFN hidden width"),
    INT_SPEC(num_queries, "100", 1, 100000, "learned object queries"),
    INT_SPEC(top_k, "100", 1, 100000, "detections kept per image at predict"),
    {.name = "dropout", .type = VT_PARAM_FLOAT, .offset = offsetof(detr_params, dropout), .default_value = "0.1",
     .min = 0, .max = 0.99, .help = "dropout in the encoder and decoder (training only)"},
    {.name = "aux_loss", .type = VT_PARAM_BOOL, .offset = offsetof(detr_params, aux_loss),
     .default_value = "true", .min = 1, .max = 0, .help = "add the set loss of every auxiliary decoder layer"},
    VT_PARAM_END,
};

typedef struct detr_head {
    detr_net net;
    int64_t top_k;
    bool aux_loss;
    vt_detr_pred *layers;
    vt_named_tensor terms[3];
    vt_named_tensor outputs[4];
} detr_head;

static void detr_destroy(void *self) {
    detr_head *h = self;
    if (!h) return;
    detr_net_free(&h->net);
    free(h->layers);
    free(h);
}

static vt_status detr_create(struct vt_ctx *ctx, const void *params, const vt_backbone_info *backbone,
                             const vt_host *host, void **out, vt_err *err) {
    const detr_params *p = params;
    if (!backbone || backbone->width <= 0)
        return vt_err_set(err, VT_EINVAL, "detr: backbone width %lld is not positive",
                          backbone ? (long long)backbone->width : 0LL);
    detr_head *h = calloc(1, sizeof *h);
    if (!h) return vt_err_set(err, VT_ENOMEM, "detr: out of memory");
    detr_sizes s = {.in_width = backbone->width, .num_classes = p->num_classes, .enc_width = p->enc_width,
                    .enc_layers = p->enc_layers, .enc_heads = p->enc_heads, .enc_ffn = p->enc_ffn,
                    .dec_width = p->dec_width, .dec_layers = p->dec_layers, .dec_heads = p->dec_heads,
                    .dec_ffn = p->dec_ffn, .num_queries = p->num_queries, .dropout = p->dropout};
    vt_status st = detr_net_init(&h->net, ctx, &s, err);
    if (st != VT_OK) {
        free(h);
        return st;
    }
    h->layers = calloc((size_t)p->dec_layers, sizeof *h->layers);
    if (!h->layers) {
        detr_destroy(h);
        return vt_err_set(err, VT_ENOMEM, "detr: out of memory");
    }
    h->top_k = p->top_k;
    h->aux_loss = p->aux_loss;
    if (host && host->log) {
        char line[200];
        snprintf(line, sizeof line, "detr: %lld classes, %lld queries, encoder %lldx%lld, decoder %lldx%lld, %zu tensors",
                 (long long)p->num_classes, (long long)p->num_queries, (long long)p->enc_layers,
                 (long long)p->enc_width, (long long)p->dec_layers, (long long)p->dec_width, h->net.n_params);
        host->log(host, VT_LOG_INFO, line);
    }
    *out = h;
    return VT_OK;
}

static vt_status detr_parameters(void *self, vt_named_tensors *out, vt_err *err) {
    (void)err;
    detr_head *h = self;
    out->items = h->net.params;
    out->n = h->net.n_params;
    return VT_OK;
}

static vt_status ctx_fail(vt_ctx *ctx, vt_err *err, const char *what) {
    const vt_err *e = vt_ctx_error(ctx);
    return vt_err_set(err, e && e->code ? e->code : VT_EINVAL, "detr: %s: %s", what,
                      e && e->code ? e->msg : "failed");
}

/* t itself on the CPU, else a host copy in the current scope (targets live on the backbone's device). */
static vt_tensor *on_host(vt_ctx *ctx, vt_tensor *t) {
    if (!t || t->device.kind == VT_DEVICE_CPU) return t;
    vt_no_grad_begin(ctx);
    vt_tensor *h = vt_to_device(ctx, t, vt_cpu());
    vt_no_grad_end(ctx);
    return h;
}

static vt_status check_targets(vt_ctx *ctx, const vt_detr_targets *t, int64_t B, int64_t C, vt_err *err) {
    if (!t->boxes || !t->labels || !t->image)
        return vt_err_set(err, VT_EINVAL, "detr: the batch lacks a \"%s\" target",
                          !t->boxes ? "boxes" : !t->labels ? "box_labels" : "box_image");
    int64_t N = t->boxes->ndim == 2 ? t->boxes->shape[0] : -1;
    if (t->boxes->dtype != VT_F32 || t->boxes->ndim != 2 || t->boxes->shape[1] != 4)
        return vt_err_set(err, VT_EINVAL, "detr: \"boxes\" must be [N, 4] f32");
    if (t->labels->dtype != VT_I64 || t->labels->ndim != 1 || t->labels->shape[0] != N || t->image->dtype != VT_I64 ||
        t->image->ndim != 1 || t->image->shape[0] != N || !vt_is_contiguous(t->labels) || !vt_is_contiguous(t->image))
        return vt_err_set(err, VT_EINVAL, "detr: \"box_labels\" and \"box_image\" must be [%lld] i64", (long long)N);
    /* the matcher indexes with these: range-check them here so bad data is an error, not a crash */
    vt_tensor *hl = on_host(ctx, t->labels), *hi = on_host(ctx, t->image);
    if (!hl || !hi) return ctx_fail(ctx, err, "targets to host");
    const int64_t *lab = vt_i64(hl), *img = vt_i64(hi);
    for (int64_t i = 0; i < N; i++) {
        if (lab[i] < 0 || lab[i] >= C)
            return vt_err_set(err, VT_EINVAL, "detr: box_labels[%lld] = %lld is outside [0, %lld)", (long long)i,
                              (long long)lab[i], (long long)C);
        if (img[i] < 0 || img[i] >= B)
            return vt_err_set(err, VT_EINVAL, "detr: box_image[%lld] = %lld is outside [0, %lld)", (long long)i,
                              (long long)img[i], (long long)B);
    }
    return VT_OK;
}

static vt_status detr_loss(void *self, struct vt_ctx *ctx, struct vt_tensor *features, const struct vt_batch *batch,
                           struct vt_tensor **total, vt_named_tensors *terms, vt_err *err) {
    detr_head *h = self;
    vt_detr_targets t = vt_detr_targets_from_batch(batch);
    int64_t B = features && features->ndim == 4 ? features->shape[0] : 0;
    vt_status st = check_targets(ctx, &t, B, h->net.s.num_classes, err);
    if (st != VT_OK) return st;
    st = detr_net_forward(&h->net, ctx, features, h->layers, err);
    if (st != VT_OK) return st;
    int nl = (int)h->net.s.dec_layers;
    int first = h->aux_loss ? 0 : nl - 1;
    vt_detr_loss_parts parts[64];
    vt_tensor *loss = vt_detr_set_loss(ctx, h->layers + first, nl - first, &t, NULL, parts);
    if (!loss) return ctx_fail(ctx, err, "set loss");
    vt_detr_loss_parts *fin = &parts[nl - first - 1]; /* the final layer's terms are the ones logged */
    h->terms[0] = (vt_named_tensor){"ce", fin->ce, 0};
    h->terms[1] = (vt_named_tensor){"bbox", fin->bbox, 0};
    h->terms[2] = (vt_named_tensor){"giou", fin->giou, 0};
    *total = loss;
    terms->items = h->terms;
    terms->n = 3;
    return VT_OK;
}

static vt_status detr_predict(void *self, struct vt_ctx *ctx, struct vt_tensor *features,
                              const struct vt_batch *batch, vt_named_tensors *outputs, vt_err *err) {
    detr_head *h = self;
    vt_no_grad_begin(ctx);
    vt_status st = detr_net_forward(&h->net, ctx, features, h->layers, err);
    vt_no_grad_end(ctx);
    if (st != VT_OK) return st;
    const vt_detr_pred *fin = &h->layers[h->net.s.dec_layers - 1];
    /* the top-k selection runs on the host: outputs are CPU tensors whatever the backbone's device */
    vt_tensor *prob = on_host(ctx, vt_contiguous(ctx, vt_softmax(ctx, fin->logits, 2)));
    vt_tensor *bx = on_host(ctx, vt_contiguous(ctx, fin->boxes));
    if (!prob || !bx) return ctx_fail(ctx, err, "predict");
    int64_t B = prob->shape[0], Q = prob->shape[1], C1 = prob->shape[2], K = h->top_k < Q ? h->top_k : Q;
    /* pixels of the batch image (the transformed one the boxes were normalised against) */
    double iw = 1, ih = 1;
    if (batch && batch->images && batch->images->ndim == 4) {
        ih = (double)batch->images->shape[2];
        iw = (double)batch->images->shape[3];
    }
    vt_tensor *ob = vt_zeros(ctx, VT_F32, 2, (int64_t[]){B * K, 4});
    vt_tensor *os = vt_zeros(ctx, VT_F32, 1, (int64_t[]){B * K});
    vt_tensor *ol = vt_zeros(ctx, VT_I64, 1, (int64_t[]){B * K});
    vt_tensor *oi = vt_zeros(ctx, VT_I64, 1, (int64_t[]){B * K});
    float *best = malloc((size_t)Q * sizeof *best);
    int64_t *cls = malloc((size_t)Q * sizeof *cls);
    if (!ob || !os || !ol || !oi || !best || !cls) {
        free(best);
        free(cls);
        return vt_err_set(err, VT_ENOMEM, "detr: out of memory in predict");
    }
    const float *pp = vt_f32(prob), *pb = vt_f32(bx);
    /* the collate's per-image map back to the stored image (absent: boxes stay in batch-image pixels) */
    vt_tensor *mt = on_host(ctx, vt_batch_target(batch, "image_to_orig"));
    const float *map = mt && mt->dtype == VT_F32 && mt->ndim == 2 && mt->shape[0] == B && mt->shape[1] == 4 &&
                               vt_is_contiguous(mt) ? vt_f32(mt) : NULL;
    for (int64_t b = 0; b < B; b++) {
        for (int64_t q = 0; q < Q; q++) { /* each query's best real class */
            const float *r = pp + (b * Q + q) * C1;
            int64_t k = 0;
            for (int64_t j = 1; j < C1 - 1; j++)
                if (r[j] > r[k]) k = j;
            best[q] = r[k];
            cls[q] = k;
        }
        for (int64_t i = 0; i < K; i++) { /* partial selection: K is small next to the copy cost */
            int64_t m = -1;
            for (int64_t q = 0; q < Q; q++)
                if (best[q] >= 0 && (m < 0 || best[q] > best[m])) m = q;
            int64_t o = b * K + i;
            const float *bb = pb + (b * Q + m) * 4;
            float *w = vt_f32(ob) + o * 4;
            double x0 = (bb[0] - 0.5 * bb[2]) * iw, y0 = (bb[1] - 0.5 * bb[3]) * ih;
            double x1 = x0 + bb[2] * iw, y1 = y0 + bb[3] * ih;
            if (map) { /* to the stored image's pixels (a flip makes a < 0: keep the corners ordered) */
                const float *mb = map + 4 * b;
                double ax = mb[0] * x0 + mb[1], bx2 = mb[0] * x1 + mb[1], ay = mb[2] * y0 + mb[3], by2 = mb[2] * y1 + mb[3];
                x0 = fmin(ax, bx2), x1 = fmax(ax, bx2), y0 = fmin(ay, by2), y1 = fmax(ay, by2);
            }
            w[0] = (float)x0;
            w[1] = (float)y0;
            w[2] = (float)(x1 - x0);
            w[3] = (float)(y1 - y0);
            vt_f32(os)[o] = best[m];
            vt_i64(ol)[o] = cls[m];
            vt_i64(oi)[o] = b;
            best[m] = -1;
        }
    }
    free(best);
    free(cls);
    h->outputs[0] = (vt_named_tensor){"boxes", ob, 0};
    h->outputs[1] = (vt_named_tensor){"scores", os, 0};
    h->outputs[2] = (vt_named_tensor){"labels", ol, 0};
    h->outputs[3] = (vt_named_tensor){"box_image", oi, 0};
    outputs->items = h->outputs;
    outputs->n = 4;
    return VT_OK;
}

static const vt_head_vtable detr_vtable = {
    .struct_size = sizeof(vt_head_vtable),
    .create = detr_create,
    .destroy = detr_destroy,
    .parameters = detr_parameters,
    .loss = detr_loss,
    .predict = detr_predict,
};

static vt_status detr_init(vt_registrar *reg, vt_err *err) {
    return vt_register_head(reg, "detr", "UniT-style DETR detection head (set criterion, top-k boxes)", detr_specs,
                            sizeof(detr_params), &detr_vtable, err);
}

VISFT_PLUGIN_DEFINE("detr", "0.1.0", "DETR detection head (ViSFT detection task)", "MIT", detr_init);
