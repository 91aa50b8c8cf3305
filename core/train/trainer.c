/* The trainer's lifetime: backbone, heads, the host handed to plugins and the vt_model benchmarks see. */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "train/trainer_internal.h"
#include "visft/autograd.h"
#include "visft/checkpoint.h"
#include "visft/run_checkpoint.h"

vt_trainer_opts vt_trainer_defaults(void) {
    vt_trainer_opts o;
    memset(&o, 0, sizeof o);
    o.nan_patience = 5;
    o.workers = -1;
    o.log_every = 10;
    return o;
}

void vt_trainer_logf(const vt_trainer *t, const char *fmt, ...) {
    if (!t->opts.log) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(t->opts.log, fmt, ap);
    va_end(ap);
    fputc('\n', t->opts.log);
    fflush(t->opts.log);
}

static void host_log(const vt_host *host, vt_log_level level, const char *msg) {
    const vt_trainer *t = host->host_data;
    if (level >= VT_LOG_INFO) vt_trainer_logf(t, "  %s", msg);
}

/* vt_model.encode_image: the backbone as it is now, without grad. */
static vt_status encode_image(vt_model *m, vt_ctx *ctx, vt_tensor *images, vt_tensor **pooled,
                              vt_tensor **feature_map, vt_err *err) {
    vt_trainer *t = m->impl;
    vt_vit_output o;
    bool training = vt_is_training(ctx);
    vt_set_training(ctx, false);
    vt_no_grad_begin(ctx);
    /* benchmarks hand host images and compute on host tensors: the backbone's device is a detail here */
    vt_status st = vt_vit_forward(ctx, t->vit, vt_trainer_input_to_device(t, ctx, images), &o);
    if (st == VT_OK) {
        o.embedding = vt_trainer_to_host(ctx, o.embedding);
        if (feature_map) o.features = vt_trainer_to_host(ctx, o.features);
        st = vt_ctx_ok(ctx) ? VT_OK : vt_ctx_error(ctx)->code;
    }
    vt_no_grad_end(ctx);
    vt_set_training(ctx, training);
    if (st != VT_OK) return vt_err_set(err, st, "encode_image: %s", vt_ctx_error(ctx)->msg);
    *pooled = o.embedding;
    if (feature_map) *feature_map = o.features;
    return VT_OK;
}

static vt_status build_backbone(vt_trainer *t, vt_err *err) {
    const vt_exp_backbone *b = &t->exp->backbone;
    vt_vit_config cfg;
    vt_status st = vt_vit_preset(b->preset, &cfg, err);
    if (st != VT_OK) return st;
    if (b->image_size > 0) cfg.image_size = (int)b->image_size;
    if (!(t->vit = vt_vit_create(t->c, &cfg, err))) return err->code ? err->code : VT_ENOMEM;
    if (b->checkpoint && *b->checkpoint) {
        vt_ckpt_load_opts lo;
        memset(&lo, 0, sizeof lo);
        if ((st = vt_ckpt_format_parse(b->key_format ? b->key_format : "auto", &lo.format, err)) != VT_OK) return st;
        lo.allow_unexpected = true; /* e.g. a CLIP text tower next to the vision weights */
        if ((st = vt_ckpt_load(t->c, &t->vit->params, b->checkpoint, &lo, NULL, err)) != VT_OK) return st;
        vt_trainer_logf(t, "backbone %s: loaded %s", b->preset, b->checkpoint);
    }
    return VT_OK;
}

static vt_status build_heads(vt_trainer *t, vt_err *err) {
    const vt_experiment *exp = t->exp;
    t->heads = calloc(exp->n_tasks ? exp->n_tasks : 1, sizeof *t->heads);
    if (!t->heads) return vt_err_set(err, VT_ENOMEM, "trainer: out of memory");
    vt_backbone_info bi;
    memset(&bi, 0, sizeof bi);
    bi.struct_size = sizeof bi;
    bi.width = t->vit->cfg.width;
    bi.patch_size = bi.feature_stride = t->vit->cfg.patch_size;
    bi.image_size = t->vit->cfg.image_size;
    bi.prefix_tokens = t->vit->cfg.class_token ? 1 : 0;
    bi.device = exp->run.device;
    for (size_t i = 0; i < exp->n_tasks; i++) {
        const vt_exp_task *task = &exp->tasks[i];
        vt_trainer_head *h = &t->heads[i];
        h->task = task;
        if (!task->head.comp || !task->dataset.comp)
            return vt_err_set(err, VT_EINVAL, "trainer: tasks.%s: the experiment was loaded without plugins", task->name);
        h->vt = &task->head.comp->vt.head;
        t->n_heads = i + 1;
        vt_status st = h->vt->create(t->c, task->head.params, &bi, &t->host, &h->self, err);
        if (st != VT_OK) return vt_err_prefix(err, "tasks.%s.head (%s)", task->name, task->head.plugin);
    }
    return VT_OK;
}

vt_status vt_trainer_create(const vt_experiment *exp, vt_registry *reg, const vt_trainer_opts *opts,
                            vt_trainer **out, vt_err *err) {
    *out = NULL;
    if (!exp || !exp->plugins_checked)
        return vt_err_set(err, VT_EINVAL, "trainer: the experiment must be loaded with a plugin registry");
    vt_device dev;
    if (vt_device_parse(exp->run.device ? exp->run.device : "cpu", &dev, err) != VT_OK ||
        vt_device_check(dev, err) != VT_OK)
        return vt_err_prefix(err, "trainer: run.device");
    if (dev.kind == VT_DEVICE_CUDA && opts && opts->device_offset > 0) {
        dev.index += opts->device_offset; /* this rank's GPU */
        if (vt_device_check(dev, err) != VT_OK) return vt_err_prefix(err, "trainer: run.device + local rank");
    }
    vt_trainer *t = calloc(1, sizeof *t);
    if (!t) return vt_err_set(err, VT_ENOMEM, "trainer: out of memory");
    t->exp = exp;
    t->reg = reg;
    t->dev = dev;
    t->opts = opts ? *opts : vt_trainer_defaults();
    if (t->opts.nan_patience <= 0) t->opts.nan_patience = 5;
    if (t->opts.log_every <= 0) t->opts.log_every = 10;
    vt_tensor_list_init(&t->lora);
    vt_ctx_options co = {(int)exp->run.threads, (uint64_t)exp->run.seed};
    t->c = vt_ctx_create(&co);
    if (t->c && exp->run.precision && !strcmp(exp->run.precision, "bf16")) vt_ctx_set_autocast(t->c, VT_BF16);
    t->host.struct_size = sizeof t->host;
    t->host.run_dir = t->opts.run_dir;
    t->host.host_data = t;
    t->host.log = host_log;
    vt_status st = t->c ? VT_OK : vt_err_set(err, VT_ENOMEM, "trainer: out of memory");
    if (st == VT_OK && t->opts.metrics && t->opts.run_dir) st = vt_metrics_open(t->opts.run_dir, NULL, &t->metrics, err);
    if (st == VT_OK) st = build_backbone(t, err);
    if (st == VT_OK) st = build_heads(t, err);
    if (st == VT_OK) st = vt_trainer_to_device(t, err);
    if (st != VT_OK) {
        vt_trainer_destroy(t);
        return st;
    }
    vt_model *m = &t->model;
    m->struct_size = sizeof *m;
    m->name = exp->backbone.preset;
    m->stage = "before";
    m->width = t->vit->cfg.width;
    m->embed_dim = t->vit->cfg.embed_dim > 0 ? t->vit->cfg.embed_dim : t->vit->cfg.width;
    m->image_size = t->vit->cfg.image_size;
    m->patch_size = t->vit->cfg.patch_size;
    /* The tiny and timm presets use ImageNet statistics; CLIP families OpenAI's (as `visft features`). */
    bool clip = strncmp(exp->backbone.preset, "eva", 3) == 0 || strncmp(exp->backbone.preset, "openclip", 8) == 0;
    const float in_mean[3] = {0.485f, 0.456f, 0.406f}, in_std[3] = {0.229f, 0.224f, 0.225f};
    const float cl_mean[3] = {0.48145466f, 0.4578275f, 0.40821073f}, cl_std[3] = {0.26862954f, 0.26130258f, 0.27577711f};
    memcpy(m->mean, clip ? cl_mean : in_mean, sizeof m->mean);
    memcpy(m->std, clip ? cl_std : in_std, sizeof m->std);
    m->encode_image = encode_image;
    m->registry = reg;
    m->impl = t;
    *out = t;
    return VT_OK;
}

void vt_trainer_destroy(vt_trainer *t) {
    if (!t) return;
    for (size_t i = 0; i < t->n_heads; i++) {
        if (t->heads[i].pipe) vt_pipeline_destroy(t->heads[i].pipe);
        if (t->heads[i].self) t->heads[i].vt->destroy(t->heads[i].self);
    }
    free(t->heads);
    free(t->dev_items);
    vt_run_ckpt_close(t->resume);
    vt_metrics_close(t->metrics, NULL);
    vt_tensor_list_free(&t->lora);
    vt_vit_destroy(t->vit);
    vt_ctx_destroy(t->c);
    free(t);
}

vt_trainer_stats vt_trainer_get_stats(const vt_trainer *t) { return t->stats; }
vt_vit *vt_trainer_backbone(vt_trainer *t) { return t->vit; }
const vt_tensor_list *vt_trainer_lora_params(const vt_trainer *t) { return &t->lora; }

static vt_status head_params(vt_trainer_head *h, vt_tensor_list *out, bool trainable_only, vt_err *err) {
    vt_named_tensors nt = {0};
    vt_status st = h->vt->parameters(h->self, &nt, err);
    for (size_t i = 0; st == VT_OK && i < nt.n; i++) {
        if (trainable_only && !(nt.items[i].flags & VT_TENSOR_TRAINABLE)) continue;
        if (vt_tensor_list_add(out, nt.items[i].tensor, "heads.%s.%s", h->task->name, nt.items[i].name) != VT_OK)
            st = vt_err_set(err, VT_ENOMEM, "trainer: out of memory");
    }
    return st;
}

vt_status vt_trainer_head_trainable(vt_trainer_head *h, vt_tensor_list *out, vt_err *err) {
    return head_params(h, out, true, err);
}

vt_status vt_trainer_head_params(vt_trainer *t, vt_tensor_list *out, vt_err *err) {
    vt_status st = VT_OK;
    for (size_t i = 0; st == VT_OK && i < t->n_heads; i++) st = head_params(&t->heads[i], out, false, err);
    return st;
}

vt_status vt_trainer_pipe(vt_trainer *t, vt_trainer_head *h, vt_err *err) {
    if (h->pipe) return VT_OK;
    vt_pipeline_opts po = vt_pipeline_defaults();
    po.loader.seed = (uint64_t)t->exp->run.seed;
    po.loader.shuffle = true;
    po.loader.drop_last = true; /* equal batch sizes: the step cost and the loss scale stay even */
    po.loader.epochs = 0;       /* endless: stages count steps, not epochs */
    if (t->opts.workers >= 0) po.loader.workers = t->opts.workers;
    vt_exp_task local; /* data-parallel: this rank's batch size and shard */
    vt_status st = vt_trainer_dist_task(t, h->task, &po, &local, err);
    if (st == VT_OK) st = vt_pipeline_open_task(&local, "train", &t->host, &po, &h->pipe, err);
    if (st != VT_OK) return vt_err_prefix(err, "tasks.%s.dataset", h->task->name);
    return VT_OK;
}
