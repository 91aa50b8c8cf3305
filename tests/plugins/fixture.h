/* Shared pieces of the test-only plugins: a trivial head, dataset and benchmark with one parameter of
 * each type. Every fixture .c includes this and then shows, in a few lines, the one thing it gets right
 * or wrong. */
#ifndef VISFT_TEST_FIXTURE_H
#define VISFT_TEST_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>

#include "visft/plugin.h"

#define FX_UNUSED __attribute__((unused))

typedef struct fx_params {
    bool flag;
    int64_t n;
    double lr;
    char *name;
    char *mode;
    vt_param_list sizes;
} fx_params;

static const char *const fx_modes[] = {"fast", "slow", NULL};

static const vt_param_spec fx_specs[] FX_UNUSED = {
    {.name = "flag", .type = VT_PARAM_BOOL, .offset = offsetof(fx_params, flag), .default_value = "false",
     .min = 1, .max = 0, .help = "a bool"},
    {.name = "n", .type = VT_PARAM_INT, .offset = offsetof(fx_params, n), .default_value = "3", .min = 1,
     .max = 10, .help = "an int in [1, 10]"},
    {.name = "lr", .type = VT_PARAM_FLOAT, .offset = offsetof(fx_params, lr), .default_value = "0.5", .min = 0,
     .max = 1, .help = "a float in [0, 1]"},
    {.name = "name", .type = VT_PARAM_STRING, .offset = offsetof(fx_params, name), .required = true, .min = 1,
     .max = 0, .help = "a required string"},
    {.name = "mode", .type = VT_PARAM_ENUM, .offset = offsetof(fx_params, mode), .default_value = "fast",
     .choices = fx_modes, .min = 1, .max = 0, .help = "an enum"},
    {.name = "sizes", .type = VT_PARAM_LIST, .elem_type = VT_PARAM_INT, .offset = offsetof(fx_params, sizes),
     .default_value = "[1, 2]", .min = 1, .max = 0, .help = "a list of ints"},
    VT_PARAM_END,
};

/* ---- head: remembers its width; loss/predict produce nothing (no tensors in these fixtures) ---- */
typedef struct fx_head {
    int64_t width;
    int64_t n;
} fx_head;

static vt_status fx_head_create(struct vt_ctx *ctx, const void *params, const vt_backbone_info *bb,
                                const vt_host *host, void **out, vt_err *err) {
    if (bb->width <= 0) return vt_err_set(err, VT_EINVAL, "fx_head: backbone width %lld", (long long)bb->width);
    fx_head *h = malloc(sizeof *h);
    if (!h) return vt_err_set(err, VT_ENOMEM, "fx_head: out of memory");
    h->width = bb->width;
    h->n = params ? ((const fx_params *)params)->n : 0;
    *out = h;
    return VT_OK;
}
static void fx_head_destroy(void *self) { free(self); }
static vt_status fx_head_parameters(void *self, vt_named_tensors *out, vt_err *err) {
    out->items = NULL;
    out->n = 0;
    return VT_OK;
}
static vt_status fx_head_loss(void *self, struct vt_ctx *ctx, struct vt_tensor *f, const struct vt_batch *b,
                              struct vt_tensor **total, vt_named_tensors *terms, vt_err *err) {
    return vt_err_set(err, VT_EUNSUPPORTED, "fx_head: no loss (width %lld)", (long long)((fx_head *)self)->width);
}
static vt_status fx_head_predict(void *self, struct vt_ctx *ctx, struct vt_tensor *f, const struct vt_batch *b,
                                 vt_named_tensors *outputs, vt_err *err) {
    outputs->items = NULL;
    outputs->n = 0;
    return VT_OK;
}
static const vt_head_vtable fx_head_vtable FX_UNUSED = {
    sizeof(vt_head_vtable), fx_head_create, fx_head_destroy, fx_head_parameters, fx_head_loss, fx_head_predict,
};

/* ---- dataset: `n` samples ---- */
static vt_status fx_ds_open(const void *params, const char *split, const vt_host *host, void **out, vt_err *err) {
    int64_t *n = malloc(sizeof *n);
    if (!n) return vt_err_set(err, VT_ENOMEM, "fx_data: out of memory");
    *n = ((const fx_params *)params)->n;
    *out = n;
    return VT_OK;
}
static void fx_ds_close(void *self) { free(self); }
static size_t fx_ds_length(void *self) { return (size_t)*(int64_t *)self; }
static vt_status fx_ds_sample(void *self, size_t i, struct vt_sample *out, vt_err *err) {
    if (i >= fx_ds_length(self)) return vt_err_set(err, VT_EINVAL, "fx_data: index %zu out of range", i);
    return VT_OK;
}
static const vt_dataset_vtable fx_ds_vtable FX_UNUSED = {
    sizeof(vt_dataset_vtable), fx_ds_open, fx_ds_close, fx_ds_length, fx_ds_sample,
};

/* ---- benchmark: one metric counting its runs ---- */
typedef struct fx_bench {
    vt_metric metric;
    double runs;
} fx_bench;
static vt_status fx_bench_create(const void *params, const vt_host *host, void **out, vt_err *err) {
    fx_bench *b = calloc(1, sizeof *b);
    if (!b) return vt_err_set(err, VT_ENOMEM, "fx_bench: out of memory");
    *out = b;
    return VT_OK;
}
static void fx_bench_destroy(void *self) { free(self); }
static vt_status fx_bench_run(void *self, struct vt_ctx *ctx, struct vt_model *model, vt_bench_result *out,
                              vt_err *err) {
    fx_bench *b = self;
    b->runs += 1;
    b->metric = (vt_metric){"runs", b->runs};
    *out = (vt_bench_result){&b->metric, 1, NULL, 0};
    return VT_OK;
}
static const vt_benchmark_vtable fx_bench_vtable FX_UNUSED = {
    sizeof(vt_benchmark_vtable), fx_bench_create, fx_bench_destroy, fx_bench_run,
};

/* Registers one head named `name` with the full spec table. */
static FX_UNUSED vt_status fx_register_head(vt_registrar *reg, const char *name, vt_err *err) {
    return vt_register_head(reg, name, "fixture head", fx_specs, sizeof(fx_params), &fx_head_vtable, err);
}

#endif
