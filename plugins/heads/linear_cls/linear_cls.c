/* linear_cls: the classification head of ViSFT's first real task. The backbone's feature map [B, C, H, W] is
 * pooled (mean over H, W, or the top-left cell where a backbone keeps its class token), optionally
 * LayerNorm-ed, and mapped to class logits by one linear layer trained with cross-entropy against the
 * batch's "labels" target [B] i64. Written against the public headers only (visft/visft.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <visft/visft.h>

typedef struct lc_params {
    int64_t num_classes;
    char *pool;
    bool norm;
    double init_std;
    double label_smoothing;
} lc_params;

static const char *const pool_choices[] = {"mean", "cls", NULL};

static const vt_param_spec lc_specs[] = {
    {.name = "num_classes", .type = VT_PARAM_INT, .offset = offsetof(lc_params, num_classes), .required = true,
     .min = 2, .max = 1000000, .help = "number of output classes"},
    {.name = "pool", .type = VT_PARAM_ENUM, .offset = offsetof(lc_params, pool), .default_value = "mean",
     .choices = pool_choices, .min = 1, .max = 0,
     .help = "mean over the feature map, or its top-left cell (a class token kept in the map)"},
    {.name = "norm", .type = VT_PARAM_BOOL, .offset = offsetof(lc_params, norm), .default_value = "false",
     .min = 1, .max = 0, .help = "LayerNorm the pooled features before the linear layer"},
    {.name = "init_std", .type = VT_PARAM_FLOAT, .offset = offsetof(lc_params, init_std),
     .default_value = "0.01", .min = 0, .max = 1, .help = "std of the normal init of fc.weight (0: zeros)"},
    {.name = "label_smoothing", .type = VT_PARAM_FLOAT, .offset = offsetof(lc_params, label_smoothing),
     .default_value = "0.0", .min = 0, .max = 0.5, .help = "cross-entropy label smoothing"},
    VT_PARAM_END,
};

typedef struct lc_head {
    vt_tensor *w, *b, *ln_w, *ln_b; /* fc [classes, width], [classes]; norm [width] x2 (NULL without norm) */
    vt_named_tensor params[4];
    size_t n_params;
    int64_t num_classes;
    bool cls_pool;
    double label_smoothing;
    vt_named_tensor terms[1];
    vt_named_tensor outputs[2];
} lc_head;

static void lc_destroy(void *self) {
    lc_head *h = self;
    if (!h) return;
    vt_tensor_release(h->w);
    vt_tensor_release(h->b);
    vt_tensor_release(h->ln_w);
    vt_tensor_release(h->ln_b);
    free(h);
}

static vt_status lc_create(struct vt_ctx *ctx, const void *params, const vt_backbone_info *backbone,
                           const vt_host *host, void **out, vt_err *err) {
    const lc_params *p = params;
    if (!backbone || backbone->width <= 0)
        return vt_err_set(err, VT_EINVAL, "linear_cls: backbone width %lld is not positive",
                          backbone ? (long long)backbone->width : 0LL);
    lc_head *h = calloc(1, sizeof *h);
    if (!h) return vt_err_set(err, VT_ENOMEM, "linear_cls: out of memory");
    int64_t C = p->num_classes, D = backbone->width;
    h->w = vt_tensor_create(ctx, VT_F32, VT_SHAPE(C, D));
    h->b = vt_tensor_create(ctx, VT_F32, VT_SHAPE(C));
    if (p->norm) {
        h->ln_w = vt_tensor_create(ctx, VT_F32, VT_SHAPE(D));
        h->ln_b = vt_tensor_create(ctx, VT_F32, VT_SHAPE(D));
    }
    if (!h->w || !h->b || (p->norm && (!h->ln_w || !h->ln_b))) {
        lc_destroy(h);
        return vt_err_set(err, VT_ENOMEM, "linear_cls: out of memory for %lld x %lld weights", (long long)C,
                          (long long)D);
    }
    if (p->init_std > 0) vt_init_normal_(ctx, h->w, 0.0, p->init_std); /* bias starts at zero */
    if (h->ln_w) {
        float *g = vt_f32(h->ln_w);
        for (int64_t i = 0; i < D; i++) g[i] = 1.0f;
        vt_set_requires_grad(h->ln_w, true);
        vt_set_requires_grad(h->ln_b, true);
        h->params[h->n_params++] = (vt_named_tensor){"norm.weight", h->ln_w, VT_TENSOR_TRAINABLE};
        h->params[h->n_params++] = (vt_named_tensor){"norm.bias", h->ln_b, VT_TENSOR_TRAINABLE};
    }
    vt_set_requires_grad(h->w, true);
    vt_set_requires_grad(h->b, true);
    h->params[h->n_params++] = (vt_named_tensor){"fc.weight", h->w, VT_TENSOR_TRAINABLE};
    h->params[h->n_params++] = (vt_named_tensor){"fc.bias", h->b, VT_TENSOR_TRAINABLE};
    h->num_classes = C;
    h->cls_pool = strcmp(p->pool, "cls") == 0;
    h->label_smoothing = p->label_smoothing;
    if (host && host->log) {
        char line[128];
        snprintf(line, sizeof line, "linear_cls: %lld classes on %lld-d %s-pooled features", (long long)C,
                 (long long)D, p->pool);
        host->log(host, VT_LOG_INFO, line);
    }
    *out = h;
    return VT_OK;
}

static vt_status lc_parameters(void *self, vt_named_tensors *out, vt_err *err) {
    (void)err;
    lc_head *h = self;
    out->items = h->params;
    out->n = h->n_params;
    return VT_OK;
}

static vt_status ctx_fail(vt_ctx *ctx, vt_err *err, const char *what) {
    const vt_err *e = vt_ctx_error(ctx);
    return vt_err_set(err, e && e->code ? e->code : VT_EINVAL, "linear_cls: %s: %s", what,
                      e && e->code ? e->msg : "failed");
}

/* features [B, C, H, W] -> logits [B, classes]; NULL with err set. */
static vt_tensor *lc_logits(lc_head *h, vt_ctx *c, vt_tensor *features, vt_err *err) {
    if (!features || features->ndim != 4 || features->shape[1] != h->w->shape[1]) {
        vt_err_set(err, VT_EINVAL, "linear_cls: features must be [B, %lld, H, W]", (long long)h->w->shape[1]);
        return NULL;
    }
    vt_tensor *pooled = h->cls_pool
                            ? vt_flatten(c, vt_slice(c, vt_slice(c, features, 2, 0, 1, 1), 3, 0, 1, 1), 1, 3)
                            : vt_mean(c, features, 2, (int[]){2, 3}, false);
    if (h->ln_w) pooled = vt_layer_norm(c, pooled, h->ln_w, h->ln_b, 1e-6);
    vt_tensor *logits = vt_linear(c, pooled, h->w, h->b);
    if (!logits) ctx_fail(c, err, "logits");
    return logits;
}

static vt_status lc_loss(void *self, struct vt_ctx *ctx, struct vt_tensor *features, const struct vt_batch *batch,
                         struct vt_tensor **total, vt_named_tensors *terms, vt_err *err) {
    lc_head *h = self;
    vt_tensor *labels = vt_batch_target(batch, "labels");
    if (!labels) return vt_err_set(err, VT_EINVAL, "linear_cls: the batch has no \"labels\" target");
    if (labels->dtype != VT_I64 || labels->ndim != 1)
        return vt_err_set(err, VT_EINVAL, "linear_cls: \"labels\" must be [B] i64");
    vt_tensor *logits = lc_logits(h, ctx, features, err);
    if (!logits) return err->code;
    if (labels->shape[0] != logits->shape[0])
        return vt_err_set(err, VT_EINVAL, "linear_cls: %lld labels for %lld feature maps",
                          (long long)labels->shape[0], (long long)logits->shape[0]);
    vt_cross_entropy_opts o = vt_cross_entropy_defaults();
    o.label_smoothing = h->label_smoothing;
    vt_tensor *loss = vt_cross_entropy(ctx, logits, labels, &o);
    if (!loss) return ctx_fail(ctx, err, "cross-entropy");
    *total = loss;
    h->terms[0] = (vt_named_tensor){"ce", loss, 0};
    terms->items = h->terms;
    terms->n = 1;
    return VT_OK;
}

static vt_status lc_predict(void *self, struct vt_ctx *ctx, struct vt_tensor *features,
                            const struct vt_batch *batch, vt_named_tensors *outputs, vt_err *err) {
    (void)batch;
    lc_head *h = self;
    vt_tensor *logits = lc_logits(h, ctx, features, err);
    if (!logits) return err->code;
    vt_tensor *labels = vt_argmax(ctx, logits, 1, false);
    if (!labels) return ctx_fail(ctx, err, "argmax");
    h->outputs[0] = (vt_named_tensor){"logits", logits, 0};
    h->outputs[1] = (vt_named_tensor){"labels", labels, 0};
    outputs->items = h->outputs;
    outputs->n = 2;
    return VT_OK;
}

static const vt_head_vtable lc_vtable = {
    .struct_size = sizeof(vt_head_vtable),
    .create = lc_create,
    .destroy = lc_destroy,
    .parameters = lc_parameters,
    .loss = lc_loss,
    .predict = lc_predict,
};

static vt_status lc_init(vt_registrar *reg, vt_err *err) {
    return vt_register_head(reg, "linear_cls", "pooled backbone features -> classes, cross-entropy", lc_specs,
                            sizeof(lc_params), &lc_vtable, err);
}

VISFT_PLUGIN_DEFINE("linear_cls", "0.1.0", "linear classification head (ViSFT classification task)", "MIT",
                    lc_init);
