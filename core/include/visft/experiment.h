/* The typed view of an experiment config: what `visft run/train/eval` read after the YAML is resolved.
 *
 * vt_experiment_load checks the whole resolved config against the core sections' schemas (run, backbone,
 * text, tasks, stages, benchmarks, plugin_paths; docs/config.md) and, given a registry, every head,
 * dataset and benchmark section against its plugin's param spec. The first problem fails the load with
 * one line that starts with file:line:col (or the --set origin) and names the dotted key:
 *   exp.yaml:12:5: unknown key 'lrr' in stages[0] (did you mean 'lr'?)
 *   exp.yaml:7:13: tasks.det.head.plugin: no head plugin 'detrr' (did you mean 'detr'?)
 *
 * Ownership: the experiment owns its strings, lists, arrays and component params structs; map/sequence
 * nodes (text, transforms, the plugin sections) and task names are borrowed from the vt_cfg, which must
 * outlive the experiment and not be changed (vt_cfg_set) while it is in use. */
#ifndef VISFT_EXPERIMENT_H
#define VISFT_EXPERIMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "visft/config.h"
#include "visft/error.h"
#include "visft/optim.h"
#include "visft/params.h"
#include "visft/registry.h"

#ifdef __cplusplus
extern "C" {
#endif

/* run: */
typedef struct vt_exp_run {
    char *name;      /* default "visft" */
    char *out_dir;   /* default "runs" */
    int64_t seed;    /* >= 0, default 0 */
    char *device;    /* "cpu" (default) or "cuda:N" */
    int64_t threads; /* 0..1024; 0 (default) = all cores */
    int cuda_index;  /* N of "cuda:N"; -1 on cpu */
    int64_t checkpoint_every; /* >= 0; a run checkpoint every this many steps; 0 (default) = stage ends only */
    int64_t keep_last;        /* >= 1, default 3: run checkpoints kept */
    char *precision;          /* "f32" (default) or "bf16": GEMMs under bf16 autocast (visft/context.h) */
} vt_exp_run;

/* backbone: */
typedef struct vt_exp_backbone {
    char *preset;       /* required (a name; presets are resolved by the backbone code) */
    char *checkpoint;   /* default "" = none */
    char *key_format;   /* auto (default), timm, open_clip, eva_clip, lavis */
    int64_t image_size; /* >= 0; 0 (default) = the preset's */
} vt_exp_backbone;

/* A section naming a plugin component: `plugin: NAME` plus that component's params. */
typedef struct vt_exp_plugin {
    char *plugin;                    /* the component's name */
    const struct vt_cfg_node *node;  /* the whole section, `plugin` included (borrowed) */
    const vt_component *comp;        /* NULL when loaded without a registry */
    void *params;                    /* comp's params struct filled from the section; NULL without one */
} vt_exp_plugin;

/* tasks: NAME: */
typedef struct vt_exp_task {
    const char *name;                     /* its key under tasks: (borrowed) */
    vt_exp_plugin head, dataset;          /* both required */
    const struct vt_cfg_node *transforms; /* a sequence (borrowed) or NULL */
    int64_t batch_size;                   /* >= 1, default 8 */
    double ratio;                         /* >= 0, default 1: sampling weight in lora/full stages */
    double loss_weight;                   /* >= 0, default 1 */
    const struct vt_cfg_node *node;
} vt_exp_task;

typedef enum vt_stage_kind { VT_STAGE_HEADS = 0, VT_STAGE_LORA, VT_STAGE_FULL } vt_stage_kind;

/* stages[i].lora: (kind lora only) */
typedef struct vt_exp_lora {
    int64_t rank;          /* >= 1, default 64 */
    double alpha;          /* > 0, default 1 */
    double dropout;        /* [0, 1), default 0 */
    vt_param_list targets; /* strings among q, k, v; default [q, v] */
    unsigned qkv_mask;     /* the targets as a vt_lora_config mask: bit 0 q, 1 k, 2 v */
} vt_exp_lora;

/* stages[i]: */
typedef struct vt_exp_stage {
    char *kind_name;       /* required: heads | lora | full */
    vt_param_list tasks;   /* as written (strings); empty (default) = every task */
    int64_t iterations;    /* required, >= 0: per task for heads, in total for lora/full */
    char *optimizer_name;  /* adamw (default) | sgd */
    double lr;             /* > 0, default 1e-4 */
    double weight_decay;   /* >= 0, default 0.05 */
    int64_t warmup;        /* >= 0 steps, default 0 */
    char *schedule_name;   /* cosine (default) | step | constant */
    double min_lr;         /* [0, lr], default 0 */
    double clip_norm;      /* >= 0, default 0 = off */
    const struct vt_cfg_node *lora_node; /* the lora: map as written, or NULL */
    /* Derived from the above. */
    vt_stage_kind kind;
    vt_optim_kind optimizer;
    vt_lr_kind schedule;
    vt_exp_lora lora;      /* filled (defaults at least) for kind lora; zero otherwise */
    size_t *task_index;    /* the stage's tasks as indices into vt_experiment.tasks (all when none listed) */
    size_t n_tasks;
    const struct vt_cfg_node *node;
} vt_exp_stage;

typedef struct vt_experiment {
    vt_exp_run run;
    vt_exp_backbone backbone;
    const struct vt_cfg_node *text; /* optional map (borrowed), NULL when absent */
    vt_exp_task *tasks;             /* in config order */
    size_t n_tasks;
    vt_exp_stage *stages;
    size_t n_stages;
    vt_exp_plugin *benchmarks;
    size_t n_benchmarks;
    vt_param_list plugin_paths;     /* strings, as written (a single path reads as one entry) */
    bool plugins_checked;           /* loaded with a registry: every comp/params is filled */
} vt_experiment;

/* Validates the resolved config and fills a new experiment. reg may be NULL: plugin names are then only
 * checked to be present, and comp/params stay NULL. On failure *out is NULL and err holds one line. */
vt_status vt_experiment_load(const vt_cfg *cfg, vt_registry *reg, vt_experiment **out, vt_err *err);
void vt_experiment_free(vt_experiment *exp);

/* The task of that name, or NULL. */
const vt_exp_task *vt_experiment_task(const vt_experiment *exp, const char *name);

/* "heads", "lora", "full". */
const char *vt_stage_kind_name(vt_stage_kind kind);

#ifdef __cplusplus
}
#endif
#endif
