/* probe_template: a minimal visft head plugin — a linear probe on the backbone's feature map.
 *
 * Copy this folder to start a plugin. The parts, top to bottom:
 *   1. the params struct the host fills from YAML, and its spec table (types, defaults, ranges, help);
 *   2. the head's functions and its vtable;
 *   3. init, registering the head, and VISFT_PLUGIN_DEFINE, exporting the descriptor.
 * `visft plugins describe probe_template` prints section 1. docs/writing-plugins.md walks through it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <visft/visft.h>

/* ---- 1. parameters ---------------------------------------------------------------------------------- */

typedef struct probe_params {
    int64_t num_classes;
    char *pool;               /* enum: "mean" or "cls" */
    double init_std;
    double label_smoothing;
    bool bias;
    vt_param_list class_names; /* list of strings; may be empty */
} probe_params;

static const char *const pool_choices[] = {"mean", "cls", NULL};

static const vt_param_spec probe_specs[] = {
    {.name = "num_classes", .type = VT_PARAM_INT, .offset = offsetof(probe_params, num_classes), .required = true,
     .min = 2, .max = 1000000, .help = "number of output classes"},
    {.name = "pool", .type = VT_PARAM_ENUM, .offset = offsetof(probe_params, pool), .default_value = "mean",
     .choices = pool_choices, .min = 1, .max = 0, .help = "mean over all tokens, or the class token only"},
    {.name = "init_std", .type = VT_PARAM_FLOAT, .offset = offsetof(probe_params, init_std), .default_value = "0.02",
     .min = 0, .max = 1, .help = "std of the normal weight init"},
    {.name = "label_smoothing", .type = VT_PARAM_FLOAT, .offset = offsetof(probe_params, label_smoothing),
     .default_value = "0.0", .min = 0, .max = 0.5, .help = "cross-entropy label smoothing"},
    {.name = "bias", .type = VT_PARAM_BOOL, .offset = offsetof(probe_params, bias), .default_value = "true",
     .min = 1, .max = 0, .help = "learn a per-class bias"},
    {.name = "class_names", .type = VT_PARAM_LIST, .elem_type = VT_PARAM_STRING,
     .offset = offsetof(probe_params, class_names), .default_value = "[]", .min = 1, .max = 0,
     .help = "optional names for the classes (for readable predictions)"},
    VT_PARAM_END,
};

/* ---- 2. the head ------------------------------------------------------------------------------------ */

typedef struct probe {
    vt_tensor *w, *b;          /* [classes, width], [classes] (b NULL without bias) */
    vt_named_tensor params[2];
    bool cls_pool;
    double label_smoothing;
    vt_tensor *last_logits;    /* kept between loss and its terms list */
    vt_named_tensor terms[1];
    vt_named_tensor outputs[2];
} probe;

static vt_status probe_create(struct vt_ctx *ctx, const void *params, const vt_backbone_info *backbone,
                              const vt_host *host, void **out, vt_err *err) {
    const probe_params *p = params;
    /* The host validated p against probe_specs; what the spec cannot express is checked here. */
    if (p->class_names.n != 0 && p->class_names.n != (size_t)p->num_classes)
        return vt_err_set(err, VT_EINVAL, "probe_template: %zu class_names for %lld classes", p->class_names.n,
                          (long long)p->num_classes);
    if (backbone->width <= 0)
        return vt_err_set(err, VT_EINVAL, "probe_template: backbone width %lld", (long long)backbone->width);
    probe *pr = calloc(1, sizeof *pr);
    if (!pr) return vt_err_set(err, VT_ENOMEM, "probe_template: out of memory");
    pr->w = vt_tensor_create(ctx, VT_F32, VT_SHAPE(p->num_classes, backbone->width));
    pr->b = p->bias ? vt_tensor_create(ctx, VT_F32, VT_SHAPE(p->num_classes)) : NULL;
    if (!pr->w || (p->bias && !pr->b)) {
        vt_tensor_release(pr->w);
        free(pr);
        return vt_err_set(err, VT_ENOMEM, "probe_template: out of memory for %lld x %lld weights",
                          (long long)p->num_classes, (long long)backbone->width);
    }
    vt_init_normal_(ctx, pr->w, 0.0, p->init_std); /* the bias starts at zero */
    vt_set_requires_grad(pr->w, true);
    pr->params[0] = (vt_named_tensor){"fc.weight", pr->w, VT_TENSOR_TRAINABLE};
    if (pr->b) {
        vt_set_requires_grad(pr->b, true);
        pr->params[1] = (vt_named_tensor){"fc.bias", pr->b, VT_TENSOR_TRAINABLE};
    }
    pr->cls_pool = strcmp(p->pool, "cls") == 0;
    pr->label_smoothing = p->label_smoothing;
    if (host && host->log) {
        char line[128];
        snprintf(line, sizeof line, "linear probe: %lld classes on %lld-d features", (long long)p->num_classes,
                 (long long)backbone->width);
        host->log(host, VT_LOG_INFO, line);
    }
    *out = pr;
    return VT_OK;
}

static void probe_destroy(void *self) {
    probe *pr = self;
    if (!pr) return;
    vt_tensor_release(pr->w);
    vt_tensor_release(pr->b);
    free(pr);
}

static vt_status probe_parameters(void *self, vt_named_tensors *out, vt_err *err) {
    probe *pr = self;
    out->items = pr->params;
    out->n = pr->b ? 2 : 1;
    return VT_OK;
}

/* features [B, C, H, W] -> logits [B, classes]. "cls" pooling takes the top-left token, which is where a
 * backbone that keeps its class token in the map puts it; "mean" averages the whole map. */
static vt_tensor *probe_logits(probe *pr, vt_ctx *c, vt_tensor *features) {
    vt_tensor *pooled = pr->cls_pool ? vt_flatten(c, vt_slice(c, vt_slice(c, features, 2, 0, 1, 1), 3, 0, 1, 1), 1, 3)
                                     : vt_mean(c, features, 2, (int[]){2, 3}, false);
    return vt_linear(c, pooled, pr->w, pr->b);
}

static vt_status probe_loss_fn(void *self, struct vt_ctx *ctx, struct vt_tensor *features,
                               const struct vt_batch *batch, struct vt_tensor **total, vt_named_tensors *terms,
                               vt_err *err) {
    probe *pr = self;
    vt_tensor *labels = vt_batch_target(batch, "labels");
    if (!labels) return vt_err_set(err, VT_EINVAL, "probe_template: the batch has no \"labels\" target");
    vt_cross_entropy_opts o = vt_cross_entropy_defaults();
    o.label_smoothing = pr->label_smoothing;
    vt_tensor *loss = vt_cross_entropy(ctx, probe_logits(pr, ctx, features), labels, &o);
    if (!loss) return vt_err_set(err, vt_ctx_error(ctx)->code, "probe_template: %s", vt_ctx_error(ctx)->msg);
    *total = loss;
    pr->terms[0] = (vt_named_tensor){"ce", loss, 0};
    terms->items = pr->terms;
    terms->n = 1;
    return VT_OK;
}

static vt_status probe_predict(void *self, struct vt_ctx *ctx, struct vt_tensor *features,
                               const struct vt_batch *batch, vt_named_tensors *outputs, vt_err *err) {
    probe *pr = self;
    vt_tensor *logits = probe_logits(pr, ctx, features);
    vt_tensor *labels = vt_argmax(ctx, logits, 1, false);
    if (!labels) return vt_err_set(err, vt_ctx_error(ctx)->code, "probe_template: %s", vt_ctx_error(ctx)->msg);
    pr->outputs[0] = (vt_named_tensor){"logits", logits, 0};
    pr->outputs[1] = (vt_named_tensor){"labels", labels, 0};
    outputs->items = pr->outputs;
    outputs->n = 2;
    return VT_OK;
}

static const vt_head_vtable probe_vtable = {
    .struct_size = sizeof(vt_head_vtable),
    .create = probe_create,
    .destroy = probe_destroy,
    .parameters = probe_parameters,
    .loss = probe_loss_fn,
    .predict = probe_predict,
};

/* ---- 3. registration -------------------------------------------------------------------------------- */

static vt_status probe_init_plugin(vt_registrar *reg, vt_err *err) {
    return vt_register_head(reg, "probe_template", "linear classifier on pooled backbone features", probe_specs,
                            sizeof(probe_params), &probe_vtable, err);
}

VISFT_PLUGIN_DEFINE("probe_template", "0.1.0", "template head plugin: a linear probe", "MIT", probe_init_plugin);
