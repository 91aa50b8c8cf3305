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

#include <visft/plugin.h>

#include "probe_math.h"

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

static vt_status probe_create(struct vt_ctx *ctx, const void *params, const vt_backbone_info *backbone,
                              const vt_host *host, void **out, vt_err *err) {
    const probe_params *p = params;
    /* The host validated p against probe_specs; what the spec cannot express is checked here. */
    if (p->class_names.n != 0 && p->class_names.n != (size_t)p->num_classes)
        return vt_err_set(err, VT_EINVAL, "probe_template: %zu class_names for %lld classes", p->class_names.n,
                          (long long)p->num_classes);
    if (backbone->width <= 0)
        return vt_err_set(err, VT_EINVAL, "probe_template: backbone width %lld", (long long)backbone->width);
    probe *pr = malloc(sizeof *pr);
    if (!pr || !probe_init(pr, backbone->width, p->num_classes, p->bias, strcmp(p->pool, "cls") == 0,
                           p->label_smoothing, p->init_std)) {
        free(pr);
        return vt_err_set(err, VT_ENOMEM, "probe_template: out of memory for %lld x %lld weights",
                          (long long)p->num_classes, (long long)backbone->width);
    }
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
    if (!self) return;
    probe_free(self);
    free(self);
}

/* TODO(tensor API): expose w and b as vt_tensors ("fc.weight", "fc.bias", VT_TENSOR_TRAINABLE) and compute
 * loss/predict with visft ops, using probe_math.c as the reference the tensor version is tested against. */
static vt_status probe_parameters(void *self, vt_named_tensors *out, vt_err *err) {
    out->items = NULL;
    out->n = 0;
    return VT_OK;
}

static vt_status probe_loss_fn(void *self, struct vt_ctx *ctx, struct vt_tensor *features,
                               const struct vt_batch *batch, struct vt_tensor **total, vt_named_tensors *terms,
                               vt_err *err) {
    return vt_err_set(err, VT_EUNSUPPORTED, "probe_template: loss on visft tensors is not written yet");
}

static vt_status probe_predict(void *self, struct vt_ctx *ctx, struct vt_tensor *features,
                               const struct vt_batch *batch, vt_named_tensors *outputs, vt_err *err) {
    return vt_err_set(err, VT_EUNSUPPORTED, "probe_template: predict on visft tensors is not written yet");
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
