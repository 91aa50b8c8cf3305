/* Internals of the trainer (visft/trainer.h), shared by core/train/trainer*.c. */
#ifndef VISFT_TRAINER_INTERNAL_H
#define VISFT_TRAINER_INTERNAL_H

#include "visft/context.h"
#include "visft/metrics.h"
#include "visft/model.h"
#include "visft/optim.h"
#include "visft/pipeline.h"
#include "visft/trainer.h"

typedef struct vt_trainer_head {
    const vt_exp_task *task;
    void *self;                 /* the head instance */
    const vt_head_vtable *vt;
    vt_pipeline *pipe;          /* opened on first use */
} vt_trainer_head;

struct vt_trainer {
    const vt_experiment *exp;
    vt_registry *reg;
    vt_trainer_opts opts;
    vt_ctx *c;
    vt_device dev;              /* run.device: where the backbone, the heads and each batch live */
    vt_named_tensor *dev_items; /* scratch: a batch's targets (or a head's outputs) moved across devices */
    size_t dev_items_cap;
    vt_vit *vit;
    vt_tensor_list lora;        /* LoRA parameters once a lora stage ran */
    bool has_lora;
    vt_trainer_head *heads;     /* one per experiment task */
    size_t n_heads;
    vt_host host;
    vt_model model;
    int64_t global_step;        /* steps taken over all stages (drives task sampling) */
    int consecutive_bad;
    vt_trainer_stats stats;
    vt_metrics *metrics;        /* RUN_DIR/metrics.jsonl + TensorBoard events when opts.metrics */
    /* Resume (trainer_resume.c): the checkpoint stays open until the resumed stage took its optimizer
     * state; stages before resume_stage are skipped, resume_offset steps of resume_stage are done. */
    struct vt_run_ckpt *resume;
    bool resumed;
    size_t resume_stage;
    int64_t resume_offset;
};

/* One training step of `head` with the optimizer over `params`: fetches a batch, forwards (backbone under
 * no_grad when frozen), backpropagates weight × loss, checks finiteness, clips, steps. *skipped tells
 * whether the step was dropped as non-finite. */
vt_status vt_trainer_step(vt_trainer *t, vt_trainer_head *head, bool backbone_grad, double weight, vt_optim *o,
                          const vt_exp_stage *s, int64_t stage_step, bool *skipped, vt_err *err);

/* The pipeline of a head's task (opened lazily, train split, shuffled, endless). */
vt_status vt_trainer_pipe(vt_trainer *t, vt_trainer_head *h, vt_err *err);

/* AdamW/SGD over params with the stage's lr and weight decay; no decay on 1-D tensors and names ending in
 * "bias" or containing "norm". */
vt_status vt_trainer_make_optim(vt_trainer *t, const vt_exp_stage *s, const vt_tensor_list *params, vt_optim **out,
                                vt_err *err);
vt_lr_schedule vt_trainer_schedule(const vt_exp_stage *s, int64_t total);
/* A head's trainable parameters appended to out (names "heads.<task>.<name>"). */
vt_status vt_trainer_head_trainable(vt_trainer_head *h, vt_tensor_list *out, vt_err *err);

/* Steps a stage takes: heads iterations per task, lora/full iterations in total. */
int64_t vt_trainer_stage_steps(const vt_exp_stage *s);
/* After a step of stage `stage` (o: its optimizer, in use): saves a run checkpoint when one is due
 * (every run.checkpoint_every global steps, and at the stage's end when stage_end). */
vt_status vt_trainer_checkpoint(vt_trainer *t, size_t stage, vt_optim *o, bool stage_end, vt_err *err);
/* At the start of a stage: the steps of it already done (0 unless it is the resumed one). */
int64_t vt_trainer_resume_offset(const vt_trainer *t, size_t stage);
/* Hands the resumed stage's optimizer state to o (a fresh optimizer over the same parameters) when the
 * checkpoint was taken mid-way (restore true), then closes the checkpoint. No-op when not resuming. */
vt_status vt_trainer_resume_optim(vt_trainer *t, vt_optim *o, bool restore, vt_err *err);
/* LoRA injected per stage s (no-op once present). */
vt_status vt_trainer_add_lora(vt_trainer *t, const vt_exp_stage *s, vt_err *err);

void vt_trainer_logf(const vt_trainer *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Devices (trainer_device.c). Parameters of the backbone and every head moved to t->dev; a batch with its images
 * and targets on t->dev (tensors in the current scope; *out's target array is the trainer's scratch); tensors
 * copied to the host in place in a named-tensor array (for benchmarks, which work on host tensors). */
vt_status vt_trainer_to_device(vt_trainer *t, vt_err *err);
vt_status vt_trainer_device_batch(vt_trainer *t, const vt_batch *b, vt_batch *out, vt_err *err);
vt_status vt_trainer_outputs_to_host(vt_trainer *t, vt_ctx *ctx, vt_named_tensors *outputs, vt_err *err);
vt_tensor *vt_trainer_input_to_device(vt_trainer *t, vt_ctx *ctx, vt_tensor *x);
vt_tensor *vt_trainer_to_host(vt_ctx *ctx, vt_tensor *x);

/* Data-parallel (trainer_dist.c; no-ops without opts.comm or with world size 1). */
/* The task as this rank loads it (batch_size / world) and the loader's shard in po; error when the batch
 * size is not divisible by the world size. */
vt_status vt_trainer_dist_task(const vt_trainer *t, const vt_exp_task *task, vt_pipeline_opts *po,
                               vt_exp_task *local, vt_err *err);
/* *loss := its mean over ranks; checks every rank trains the same task at the same global step. */
vt_status vt_trainer_dist_loss(vt_trainer *t, size_t task_index, double *loss, vt_err *err);
/* Averages the gradients of o's parameters over ranks (after backward, before clipping). */
vt_status vt_trainer_dist_grads(vt_trainer *t, const vt_optim *o, vt_err *err);

#endif
