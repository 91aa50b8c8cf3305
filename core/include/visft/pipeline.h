/* The data pipeline: a loader (loader.h) over one dataset with the dataset's transforms and collate wired in,
 * handing out vt_batch batches — what the trainer and benchmarks consume.
 *
 * It sets the loader hooks: each worker thread gets its own vt_ctx with 1 thread (loader workers already
 * run in parallel; OpenMP teams inside each would oversubscribe the cores), samples are transformed with
 * (seed, epoch, dataset index) — so batches are identical whatever the number of workers — and collated by
 * vt_collate with the pipeline's normalisation. Captions reach heads through vt_batch.captions.
 *
 * Batch tensors belong to the worker's context: read them, copy what must outlive the batch, and release
 * the batch (vt_pipeline_release) before vt_pipeline_destroy. */
#ifndef VISFT_PIPELINE_H
#define VISFT_PIPELINE_H

#include <stddef.h>

#include "visft/batch.h"
#include "visft/data.h"
#include "visft/loader.h"
#include "visft/registry.h"

#ifdef __cplusplus
extern "C" {
#endif

struct vt_cfg_node;
struct vt_exp_task;

typedef struct vt_pipeline_opts {
    size_t struct_size;
    /* Batch size, workers, seed, shuffle, shards, epochs, bad-sample policy. Its hooks are ignored (the
     * pipeline sets them). decode.min_short == 0 takes the transforms' hint (vt_transforms_min_short). */
    vt_loader_opts loader;
    /* Targets and size_divisibility; mean/std are replaced by the transforms' normalize. */
    vt_collate_opts collate;
    /* Optional: caption token ids. With a tokenizer, every caption is tokenized on the loader threads
     * (context_length ids, SOT/EOT, zero padding; 0 means 77) and the batch gets "caption_tokens"
     * [n_captions, context_length] i64 beside caption_image. Not owned; must outlive the pipeline. */
    const struct vt_bpe *tokenizer;
    int64_t context_length;
} vt_pipeline_opts;

/* vt_loader_defaults() and vt_collate_opts_default(). */
vt_pipeline_opts vt_pipeline_defaults(void);

typedef struct vt_pipeline vt_pipeline;

/* A pipeline over an opened dataset instance `ds` (not owned: close it after vt_pipeline_destroy).
 * transforms: a YAML sequence (vt_transforms_from_cfg) or NULL for none; errors name file:line:col. */
vt_status vt_pipeline_create(const vt_dataset_vtable *vtable, void *ds, const struct vt_cfg_node *transforms,
                             const vt_pipeline_opts *opts, vt_pipeline **out, vt_err *err);
/* The same, opening `split` of a dataset component with its params struct (vt_component_params_new); the
 * pipeline owns the opened instance and closes it. host may be NULL. */
vt_status vt_pipeline_open(const vt_component *comp, const void *params, const char *split, const vt_host *host,
                           const struct vt_cfg_node *transforms, const vt_pipeline_opts *opts, vt_pipeline **out,
                           vt_err *err);
/* One experiment task's pipeline (loaded with a registry): its dataset, transforms and batch_size over
 * opts' other settings (opts may be NULL: defaults). */
vt_status vt_pipeline_open_task(const struct vt_exp_task *task, const char *split, const vt_host *host,
                                const vt_pipeline_opts *opts, vt_pipeline **out, vt_err *err);
void vt_pipeline_destroy(vt_pipeline *p);

/* The next batch (NULL after the last epoch); release it with vt_pipeline_release. */
vt_status vt_pipeline_next(vt_pipeline *p, const vt_batch **batch, vt_loader_position *pos, vt_err *err);
void vt_pipeline_release(vt_pipeline *p, const vt_batch *batch);

/* The loader underneath (tell/seek, stats, summary). */
vt_loader *vt_pipeline_loader(vt_pipeline *p);
size_t vt_pipeline_dataset_length(const vt_pipeline *p);

#ifdef __cplusplus
}
#endif
#endif
