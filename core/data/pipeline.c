/* vt_pipeline: a loader whose hooks are transforms + vt_collate with one single-threaded vt_ctx per worker
 * (see visft/pipeline.h). A batch handed out is the vt_batch inside a heap vt_collated; free_batch gets the
 * vt_collated back from it. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "visft/context.h"
#include "visft/experiment.h"
#include "visft/pipeline.h"
#include "visft/text.h"

struct vt_pipeline {
    vt_loader *loader;
    vt_transforms *transforms;
    vt_collate_opts collate;
    vt_ctx **ctx;        /* one per loader worker */
    int n_ctx;
    uint64_t seed;
    const vt_dataset_vtable *vt;
    void *ds;
    bool owns_ds;
    size_t length;
    const vt_bpe *tokenizer;
    int64_t context_length;
};

vt_pipeline_opts vt_pipeline_defaults(void) {
    vt_pipeline_opts o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.loader = vt_loader_defaults();
    vt_collate_opts_default(&o.collate);
    return o;
}

static vt_collated *collated_of(const vt_batch *b) {
    return (vt_collated *)(void *)((char *)(uintptr_t)b - offsetof(vt_collated, batch));
}

static vt_status hook_worker_start(void *user, int worker, vt_err *err) {
    vt_pipeline *p = user;
    if (worker < 0 || worker >= p->n_ctx) return vt_err_set(err, VT_EINVAL, "pipeline: worker %d out of range", worker);
    /* One thread: the loader's workers are the parallelism (workers x OpenMP would oversubscribe). */
    vt_ctx_options co = {.threads = 1, .seed = p->seed};
    p->ctx[worker] = vt_ctx_create(&co);
    if (!p->ctx[worker]) return vt_err_set(err, VT_ENOMEM, "pipeline: cannot create a context");
    return VT_OK;
}

static void hook_worker_stop(void *user, int worker) {
    vt_pipeline *p = user;
    if (worker < 0 || worker >= p->n_ctx) return;
    vt_ctx_destroy(p->ctx[worker]);
    p->ctx[worker] = NULL;
}

static vt_status hook_transform(void *user, int worker, vt_sample *s, uint64_t seed, uint64_t epoch,
                                uint64_t index, vt_err *err) {
    (void)worker;
    vt_pipeline *p = user;
    vt_status st = vt_transforms_apply(p->transforms, s, seed, epoch, index, err);
    for (size_t i = 0; st == VT_OK && p->tokenizer && i < s->n_captions; i++) {
        vt_caption *cap = &s->captions[i];
        int64_t *ids = malloc(sizeof *ids * (size_t)p->context_length);
        int32_t *tok = realloc(cap->tokens, sizeof *tok * (size_t)p->context_length);
        if (!ids || !tok) {
            free(ids);
            if (tok) cap->tokens = tok;
            return vt_err_set(err, VT_ENOMEM, "out of memory tokenizing captions");
        }
        cap->tokens = tok;
        st = vt_bpe_tokenize(p->tokenizer, cap->text, strlen(cap->text), p->context_length, ids, err);
        for (int64_t k = 0; st == VT_OK && k < p->context_length; k++) tok[k] = (int32_t)ids[k];
        cap->n_tokens = st == VT_OK ? (int32_t)p->context_length : 0;
        free(ids);
    }
    return st;
}

static vt_status hook_collate(void *user, int worker, vt_sample *const *samples, size_t n, void **out,
                              vt_err *err) {
    vt_pipeline *p = user;
    vt_collated *c = malloc(sizeof *c);
    if (!c) return vt_err_set(err, VT_ENOMEM, "pipeline: out of memory for a batch");
    vt_status st = vt_collate(p->ctx[worker], (const vt_sample *const *)samples, n, &p->collate, c, err);
    if (st != VT_OK) {
        free(c);
        return st;
    }
    c->batch.captions = (const char *const *)c->captions;
    c->batch.caption_image = c->caption_image;
    c->batch.n_captions = c->n_captions;
    *out = &c->batch;
    return VT_OK;
}

static void hook_free_batch(void *user, int worker, void *batch) {
    (void)user;
    (void)worker;
    if (!batch) return;
    vt_collated *c = collated_of(batch);
    vt_collated_free(c); /* tensors go back to the worker's context cache: we are on that worker */
    free(c);
}

vt_status vt_pipeline_create(const vt_dataset_vtable *vtable, void *ds, const struct vt_cfg_node *transforms,
                             const vt_pipeline_opts *opts, vt_pipeline **out, vt_err *err) {
    *out = NULL;
    if (!vtable || !vtable->length || !vtable->sample)
        return vt_err_set(err, VT_EINVAL, "pipeline: dataset vtable lacks length/sample");
    vt_pipeline_opts def = vt_pipeline_defaults();
    if (!opts) opts = &def;
    if (opts->loader.workers < 0 || opts->loader.workers > 256)
        return vt_err_set(err, VT_EINVAL, "pipeline: workers must be in [0, 256], got %d", opts->loader.workers);
    vt_pipeline *p = calloc(1, sizeof *p);
    if (!p) return vt_err_set(err, VT_ENOMEM, "pipeline: out of memory");
    p->vt = vtable;
    p->ds = ds;
    p->seed = opts->loader.seed;
    p->length = vtable->length(ds);
    p->collate = opts->collate;
    p->collate.struct_size = sizeof p->collate;
    /* fields past the caller's struct_size keep their defaults (a caller built against an older header) */
    if (opts->struct_size >= offsetof(vt_pipeline_opts, context_length) + sizeof opts->context_length) {
        p->tokenizer = opts->tokenizer;
        p->context_length = opts->context_length > 0 ? opts->context_length : VT_CLIP_CONTEXT_LENGTH;
    }
    p->n_ctx = opts->loader.workers > 0 ? opts->loader.workers : 1;
    p->ctx = calloc((size_t)p->n_ctx, sizeof *p->ctx);
    vt_status st = p->ctx ? VT_OK : vt_err_set(err, VT_ENOMEM, "pipeline: out of memory");
    if (st == VT_OK) st = vt_transforms_from_cfg(transforms, &p->transforms, err);
    if (st != VT_OK) {
        vt_pipeline_destroy(p);
        return st;
    }
    vt_transforms_normalization(p->transforms, p->collate.mean, p->collate.std);
    vt_loader_opts lo = opts->loader;
    if (lo.decode.min_short == 0) lo.decode.min_short = vt_transforms_min_short(p->transforms);
    lo.hooks = (vt_loader_hooks){
        .user = p,
        .worker_start = hook_worker_start,
        .worker_stop = hook_worker_stop,
        .transform = hook_transform,
        .collate = hook_collate,
        .free_batch = hook_free_batch,
    };
    st = vt_loader_create(vtable, ds, &lo, &p->loader, err);
    if (st != VT_OK) {
        vt_pipeline_destroy(p);
        return vt_err_prefix(err, "pipeline");
    }
    *out = p;
    return VT_OK;
}

vt_status vt_pipeline_open(const vt_component *comp, const void *params, const char *split, const vt_host *host,
                           const struct vt_cfg_node *transforms, const vt_pipeline_opts *opts, vt_pipeline **out,
                           vt_err *err) {
    *out = NULL;
    if (!comp || comp->kind != VT_COMPONENT_DATASET)
        return vt_err_set(err, VT_EINVAL, "pipeline: '%s' is not a dataset component", comp ? comp->name : "(null)");
    const vt_dataset_vtable *vt = &comp->vt.dataset;
    if (!vt->open || !vt->close) return vt_err_set(err, VT_EINVAL, "pipeline: dataset '%s' lacks open/close", comp->name);
    void *ds = NULL;
    vt_status st = vt->open(params, split, host, &ds, err);
    if (st != VT_OK) return st;
    st = vt_pipeline_create(vt, ds, transforms, opts, out, err);
    if (st != VT_OK) {
        vt->close(ds);
        return st;
    }
    (*out)->owns_ds = true;
    return VT_OK;
}

vt_status vt_pipeline_open_task(const struct vt_exp_task *task, const char *split, const vt_host *host,
                                const vt_pipeline_opts *opts, vt_pipeline **out, vt_err *err) {
    *out = NULL;
    if (!task->dataset.comp)
        return vt_err_set(err, VT_EINVAL, "pipeline: task '%s': the experiment was loaded without a registry",
                          task->name);
    vt_pipeline_opts o = opts ? *opts : vt_pipeline_defaults();
    o.loader.batch_size = task->batch_size;
    vt_status st = vt_pipeline_open(task->dataset.comp, task->dataset.params, split, host, task->transforms, &o,
                                    out, err);
    return st == VT_OK ? VT_OK : vt_err_prefix(err, "task '%s'", task->name);
}

void vt_pipeline_destroy(vt_pipeline *p) {
    if (!p) return;
    vt_loader_destroy(p->loader); /* frees every batch on its worker, then stops the workers' contexts */
    for (int i = 0; p->ctx && i < p->n_ctx; i++) vt_ctx_destroy(p->ctx[i]); /* only if create failed midway */
    free(p->ctx);
    vt_transforms_free(p->transforms);
    if (p->owns_ds) p->vt->close(p->ds);
    free(p);
}

vt_status vt_pipeline_next(vt_pipeline *p, const vt_batch **batch, vt_loader_position *pos, vt_err *err) {
    void *b = NULL;
    vt_status st = vt_loader_next(p->loader, &b, pos, err);
    *batch = st == VT_OK ? b : NULL;
    return st;
}

void vt_pipeline_release(vt_pipeline *p, const vt_batch *batch) {
    if (batch) vt_loader_release(p->loader, (void *)(uintptr_t)batch);
}

vt_loader *vt_pipeline_loader(vt_pipeline *p) { return p->loader; }

size_t vt_pipeline_dataset_length(const vt_pipeline *p) { return p->length; }
