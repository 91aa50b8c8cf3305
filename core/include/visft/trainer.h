/* The ViSFT trainer: carries out an experiment's stages (visft/experiment.h) on a ViT backbone with task
 * heads and datasets from plugins, and evaluates the backbone with the experiment's benchmarks.
 *
 * Stages (docs/config.md):
 *   heads  backbone frozen and run under no_grad; each listed task's head trained on its own for
 *          `iterations` steps with its own AdamW (no weight decay on biases/norms/1-D tensors), warmup +
 *          schedule and clip_norm.
 *   lora   LoRA injected into every block's qkv per the stage's lora spec; backbone and heads frozen; one
 *          task per step drawn by ratio from Philox(run seed, global step) — the same on every rank —
 *          loss = loss_weight × that task's loss; the optimizer holds only the LoRA parameters.
 *   full   every backbone parameter and the stage's heads trained, tasks sampled as in lora.
 * A step whose loss or gradient norm is NaN/Inf is skipped (no update) and counted; nan_patience such
 * steps in a row stop the run with an error.
 *
 *     vt_trainer *t;
 *     vt_trainer_create(exp, reg, NULL, &t, &err);   // exp loaded with the registry
 *     vt_trainer_run_benchmarks(t, "before", &before, &err);
 *     vt_trainer_run_stages(t, &err);
 *     vt_trainer_run_benchmarks(t, "after", &after, &err);
 *     vt_trainer_destroy(t); */
#ifndef VISFT_TRAINER_H
#define VISFT_TRAINER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "visft/error.h"
#include "visft/experiment.h"
#include "visft/nn.h"
#include "visft/registry.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vt_trainer_opts {
    const char *run_dir;  /* handed to plugins as vt_host.run_dir; NULL: nothing is written */
    bool metrics;         /* with run_dir: training scalars to run_dir/metrics.jsonl and tb/ (metrics.h) */
    int nan_patience;     /* non-finite steps in a row that stop the run; 0 = 5 */
    int workers;          /* loader threads per task; < 0 = the loader's default */
    FILE *log;            /* progress lines (NULL: silent) */
    int64_t log_every;    /* a progress line every this many steps; 0 = 10 */
    /* Test hook: called with each step's loss; the trainer goes on with the value it returns (return
     * NAN to simulate a diverged step). NULL: none. */
    double (*loss_hook)(void *user, int64_t global_step, double loss);
    void *hook_user;
    /* With run_dir: run checkpoints (visft/run_checkpoint.h) in run_dir/checkpoints every
     * run.checkpoint_every steps and at each stage's end, keeping run.keep_last. */
    bool checkpoints;
    const char *config_text; /* the resolved config, stored in checkpoints; may be NULL */
    /* Data-parallel (visft/comm.h): shards each task's loader by rank, global batch = batch_size, loss and
     * gradients averaged over ranks. NULL (or world size 1): single process. Not owned. */
    struct vt_comm *comm;
    /* Added to run.device's CUDA index: each data-parallel rank takes its own GPU (its local rank). 0 = none. */
    int device_offset;
} vt_trainer_opts;

vt_trainer_opts vt_trainer_defaults(void);

/* Seconds summed over every step of every stage. overhead = step wall time − (data + fwd_bwd + optim). */
typedef struct vt_trainer_timing {
    double data_s, fwd_bwd_s, optim_s, overhead_s, total_s;
    int64_t steps, images;
} vt_trainer_timing;

typedef struct vt_trainer_stats {
    int64_t steps;          /* steps attempted, all stages */
    int64_t skipped;        /* non-finite steps skipped */
    double last_loss;       /* of the last finite step */
    vt_trainer_timing timing;
} vt_trainer_stats;

/* One metric of one benchmark. */
typedef struct vt_bench_value {
    char *benchmark; /* the plugin name, suffixed "#2", "#3"... when the plugin is listed again */
    char *metric;
    double value;
} vt_bench_value;

typedef struct vt_bench_values {
    vt_bench_value *v;
    size_t n, cap;
} vt_bench_values;

void vt_bench_values_free(vt_bench_values *r);

typedef struct vt_trainer vt_trainer;

/* Builds the backbone (preset, image size, checkpoint), the heads of every task and the contexts. exp
 * must be loaded with a registry (plugins_checked) and outlive the trainer. opts may be NULL. */
vt_status vt_trainer_create(const vt_experiment *exp, vt_registry *reg, const vt_trainer_opts *opts,
                            vt_trainer **out, vt_err *err);
void vt_trainer_destroy(vt_trainer *t);

/* Runs every stage in order (after vt_trainer_resume: from where the checkpoint left off). */
vt_status vt_trainer_run_stages(vt_trainer *t, vt_err *err);
/* Continues the run saved in run_dir: opens its newest valid checkpoint, recreates LoRA when the checkpoint
 * is in or after a lora stage, restores backbone, LoRA and head weights, the RNG offset, the step and the
 * loader positions; the stage's optimizer state is restored when vt_trainer_run_stages reaches it.
 * Completed stages are skipped. Call once, after vt_trainer_create and before run_stages. On CPU with a
 * fixed thread count the result is bit-identical to an uninterrupted run. */
vt_status vt_trainer_resume(vt_trainer *t, const char *run_dir, vt_err *err);
/* Runs every benchmark on the backbone as it is now; appends to out (label is vt_model.stage). */
vt_status vt_trainer_run_benchmarks(vt_trainer *t, const char *label, vt_bench_values *out, vt_err *err);

vt_trainer_stats vt_trainer_get_stats(const vt_trainer *t);
vt_vit *vt_trainer_backbone(vt_trainer *t);
/* The LoRA parameters (empty before a lora stage). */
const vt_tensor_list *vt_trainer_lora_params(const vt_trainer *t);
/* Every head's parameters, named "heads.<task>.<name>". */
vt_status vt_trainer_head_params(vt_trainer *t, vt_tensor_list *out, vt_err *err);

/* The task index a lora/full stage trains at global_step: a Philox draw from (seed, step) against the
 * stage's ratios (tasks with ratio 0 are never drawn; all 0 = uniform). Pure: equal on every rank. */
size_t vt_trainer_sample_task(uint64_t seed, int64_t global_step, const double *ratios, size_t n);

/* results.json: {"before": {bench: {metric: v}}, "after": {...}, "delta": {...}}; before/after may be
 * NULL (that section is left out). */
vt_status vt_trainer_write_results(const char *path, const char *run_name, const vt_bench_values *before,
                                   const vt_bench_values *after, vt_err *err);
/* The table (benchmark, metric, before, after, delta); either side may be NULL. */
void vt_trainer_print_table(FILE *f, const vt_bench_values *before, const vt_bench_values *after);

#ifdef __cplusplus
}
#endif
#endif
