/* The experiment config's schema: one vt_param_spec table per core section, so vt_cfg_validate gives
 * every section the same typing, ranges, defaults and "did you mean"; this file adds only what a table
 * cannot say (cross-references between sections, exclusive bounds, the device string) and the plugin
 * sections' lookups through the registry. The first error wins; each is one line starting with the
 * location of the value (or key) at fault. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg_internal.h"
#include "visft/experiment.h"

#define NORANGE .min = 1, .max = 0
#define LOC_MAX (VT_ERR_MSG_MAX / 4)
#define PATH_MAX_ 160

/* ---- spec tables ---------------------------------------------------------------------------------- */

/* The top level's sections, validated for their shape only; each is then validated on its own. */
typedef struct top_sections {
    const vt_cfg_node *run, *backbone, *text, *tasks, *stages, *benchmarks;
    vt_param_list plugin_paths;
    char *plugin_path; /* plugin_paths written as a single string (the registry accepts that too) */
} top_sections;

static const vt_param_spec top_specs[] = {
    {.name = "run", .type = VT_PARAM_MAP, .offset = offsetof(top_sections, run), NORANGE,
     .help = "name, out_dir, seed, device, threads, checkpoint_every, keep_last, precision"},
    {.name = "backbone", .type = VT_PARAM_MAP, .offset = offsetof(top_sections, backbone), .required = true,
     NORANGE, .help = "preset, checkpoint, key_format, image_size"},
    {.name = "text", .type = VT_PARAM_MAP, .offset = offsetof(top_sections, text), NORANGE,
     .help = "text tower (optional)"},
    {.name = "tasks", .type = VT_PARAM_MAP, .offset = offsetof(top_sections, tasks), NORANGE,
     .help = "task name -> head, dataset, transforms, batch_size, ratio, loss_weight"},
    {.name = "stages", .type = VT_PARAM_SEQ, .elem_type = VT_PARAM_MAP, .offset = offsetof(top_sections, stages),
     NORANGE, .help = "training stages, in order"},
    {.name = "benchmarks", .type = VT_PARAM_SEQ, .elem_type = VT_PARAM_MAP,
     .offset = offsetof(top_sections, benchmarks), NORANGE, .help = "out-of-domain evaluations"},
    {.name = "plugin_paths", .type = VT_PARAM_LIST, .elem_type = VT_PARAM_STRING,
     .offset = offsetof(top_sections, plugin_paths), NORANGE, .help = "extra plugin directories or .so files"},
    VT_PARAM_END,
};
#define TOP_PLUGIN_PATHS 6 /* index of plugin_paths above */

static const char *const precisions[] = {"f32", "bf16", NULL};

static const vt_param_spec run_specs[] = {
    {.name = "name", .type = VT_PARAM_STRING, .offset = offsetof(vt_exp_run, name), .default_value = "visft",
     NORANGE, .help = "run name"},
    {.name = "out_dir", .type = VT_PARAM_STRING, .offset = offsetof(vt_exp_run, out_dir), .default_value = "runs",
     NORANGE, .help = "where run directories are made"},
    {.name = "seed", .type = VT_PARAM_INT, .offset = offsetof(vt_exp_run, seed), .default_value = "0", .min = 0,
     .max = HUGE_VAL, .help = "RNG seed"},
    {.name = "device", .type = VT_PARAM_STRING, .offset = offsetof(vt_exp_run, device), .default_value = "cpu",
     NORANGE, .help = "cpu or cuda:N"},
    {.name = "threads", .type = VT_PARAM_INT, .offset = offsetof(vt_exp_run, threads), .default_value = "0",
     .min = 0, .max = 1024, .help = "CPU threads; 0 = all cores"},
    {.name = "checkpoint_every", .type = VT_PARAM_INT, .offset = offsetof(vt_exp_run, checkpoint_every),
     .default_value = "0", .min = 0, .max = HUGE_VAL, .help = "run checkpoint every N steps; 0 = at stage ends only"},
    {.name = "keep_last", .type = VT_PARAM_INT, .offset = offsetof(vt_exp_run, keep_last), .default_value = "3",
     .min = 1, .max = 1000000, .help = "run checkpoints kept"},
    {.name = "precision", .type = VT_PARAM_ENUM, .offset = offsetof(vt_exp_run, precision), .default_value = "f32",
     .choices = precisions, NORANGE, .help = "f32, or bf16: GEMMs on bf16 inputs with f32 accumulation and f32 weights"},
    VT_PARAM_END,
};

static const char *const key_formats[] = {"auto", "timm", "open_clip", "eva_clip", "lavis", NULL};

static const vt_param_spec backbone_specs[] = {
    {.name = "preset", .type = VT_PARAM_STRING, .offset = offsetof(vt_exp_backbone, preset), .required = true,
     NORANGE, .help = "backbone architecture preset"},
    {.name = "checkpoint", .type = VT_PARAM_STRING, .offset = offsetof(vt_exp_backbone, checkpoint),
     .default_value = "''", NORANGE, .help = "safetensors weights; empty = random init"},
    {.name = "key_format", .type = VT_PARAM_ENUM, .offset = offsetof(vt_exp_backbone, key_format),
     .default_value = "auto", .choices = key_formats, NORANGE, .help = "checkpoint key names"},
    {.name = "image_size", .type = VT_PARAM_INT, .offset = offsetof(vt_exp_backbone, image_size),
     .default_value = "0", .min = 0, .max = HUGE_VAL, .help = "input side; 0 = the preset's"},
    VT_PARAM_END,
};

static const vt_param_spec task_specs[] = {
    {.name = "head", .type = VT_PARAM_MAP, .offset = offsetof(vt_exp_task, head.node), .required = true, NORANGE,
     .help = "plugin: a head component; the rest are its params"},
    {.name = "dataset", .type = VT_PARAM_MAP, .offset = offsetof(vt_exp_task, dataset.node), .required = true,
     NORANGE, .help = "plugin: a dataset component; the rest are its params"},
    {.name = "transforms", .type = VT_PARAM_SEQ, .offset = offsetof(vt_exp_task, transforms), NORANGE,
     .help = "data transforms, in order"},
    {.name = "batch_size", .type = VT_PARAM_INT, .offset = offsetof(vt_exp_task, batch_size), .default_value = "8",
     .min = 1, .max = HUGE_VAL, .help = "images per step"},
    {.name = "ratio", .type = VT_PARAM_FLOAT, .offset = offsetof(vt_exp_task, ratio), .default_value = "1.0",
     .min = 0, .max = HUGE_VAL, .help = "sampling weight in lora/full stages"},
    {.name = "loss_weight", .type = VT_PARAM_FLOAT, .offset = offsetof(vt_exp_task, loss_weight),
     .default_value = "1.0", .min = 0, .max = HUGE_VAL, .help = "multiplies the task's loss"},
    VT_PARAM_END,
};

/* A plugin section is checked here only for its `plugin` key; the component's spec checks the rest. */
static const vt_param_spec plugin_specs[] = {
    {.name = "plugin", .type = VT_PARAM_STRING, .offset = offsetof(vt_exp_plugin, plugin), .required = true,
     NORANGE, .help = "component name"},
    VT_PARAM_END,
};

static const char *const stage_kinds[] = {"heads", "lora", "full", NULL};
static const char *const optimizers[] = {"adamw", "sgd", NULL};
static const char *const schedules[] = {"cosine", "step", "constant", NULL};

static const vt_param_spec stage_specs[] = {
    {.name = "kind", .type = VT_PARAM_ENUM, .offset = offsetof(vt_exp_stage, kind_name), .choices = stage_kinds,
     .required = true, NORANGE, .help = "heads | lora | full"},
    {.name = "tasks", .type = VT_PARAM_LIST, .elem_type = VT_PARAM_STRING, .offset = offsetof(vt_exp_stage, tasks),
     NORANGE, .help = "task names; empty = all"},
    {.name = "iterations", .type = VT_PARAM_INT, .offset = offsetof(vt_exp_stage, iterations), .required = true,
     .min = 0, .max = HUGE_VAL, .help = "per task (heads) or in total (lora, full)"},
    {.name = "optimizer", .type = VT_PARAM_ENUM, .offset = offsetof(vt_exp_stage, optimizer_name),
     .default_value = "adamw", .choices = optimizers, NORANGE, .help = "adamw | sgd"},
    {.name = "lr", .type = VT_PARAM_FLOAT, .offset = offsetof(vt_exp_stage, lr), .default_value = "1e-4", .min = 0,
     .max = HUGE_VAL, .help = "peak learning rate (> 0)"},
    {.name = "weight_decay", .type = VT_PARAM_FLOAT, .offset = offsetof(vt_exp_stage, weight_decay),
     .default_value = "0.05", .min = 0, .max = HUGE_VAL, .help = "decoupled weight decay"},
    {.name = "warmup", .type = VT_PARAM_INT, .offset = offsetof(vt_exp_stage, warmup), .default_value = "0",
     .min = 0, .max = HUGE_VAL, .help = "linear warmup steps"},
    {.name = "schedule", .type = VT_PARAM_ENUM, .offset = offsetof(vt_exp_stage, schedule_name),
     .default_value = "cosine", .choices = schedules, NORANGE, .help = "cosine | step | constant"},
    {.name = "min_lr", .type = VT_PARAM_FLOAT, .offset = offsetof(vt_exp_stage, min_lr), .default_value = "0",
     .min = 0, .max = HUGE_VAL, .help = "cosine floor"},
    {.name = "clip_norm", .type = VT_PARAM_FLOAT, .offset = offsetof(vt_exp_stage, clip_norm), .default_value = "0",
     .min = 0, .max = HUGE_VAL, .help = "global gradient-norm clip; 0 = off"},
    {.name = "lora", .type = VT_PARAM_MAP, .offset = offsetof(vt_exp_stage, lora_node), NORANGE,
     .help = "LoRA spec (kind lora only)"},
    VT_PARAM_END,
};

static const char *const lora_target_names[] = {"q", "k", "v", NULL};

static const vt_param_spec lora_specs[] = {
    {.name = "rank", .type = VT_PARAM_INT, .offset = offsetof(vt_exp_lora, rank), .default_value = "64", .min = 1,
     .max = 2147483647.0, .help = "adapter rank"},
    {.name = "alpha", .type = VT_PARAM_FLOAT, .offset = offsetof(vt_exp_lora, alpha), .default_value = "1.0",
     .min = 0, .max = HUGE_VAL, .help = "scaling = alpha / rank (> 0)"},
    {.name = "dropout", .type = VT_PARAM_FLOAT, .offset = offsetof(vt_exp_lora, dropout), .default_value = "0",
     .min = 0, .max = 1, .help = "adapter input dropout, [0, 1)"},
    {.name = "targets", .type = VT_PARAM_LIST, .elem_type = VT_PARAM_STRING, .offset = offsetof(vt_exp_lora, targets),
     .default_value = "[q, v]", NORANGE, .help = "slices of the fused qkv: q, k, v"},
    VT_PARAM_END,
};

/* ---- helpers -------------------------------------------------------------------------------------- */

/* Location of `n`, else of `fallback` (a value that came from a default has no location of its own). */
static const char *loc_of(const vt_cfg_node *n, const vt_cfg_node *fallback, char *buf) {
    return vt_cfg_loc_str(n ? n : fallback, buf, LOC_MAX);
}

/* Location of `key` as written in `map` (for keys that are wrong where they stand). */
static const char *key_loc(const vt_cfg_node *map, const char *key, char *buf) {
    for (size_t i = 0; i < vt_cfg_len(map); i++)
        if (!strcmp(vt_cfg_key(map, i), key)) return vt__loc_fmt(vt_cfg_key_where(map, i), buf, LOC_MAX);
    return vt_cfg_loc_str(map, buf, LOC_MAX);
}

static vt_status validate(const vt_cfg_node *map, const char *section, const vt_param_spec *specs, void *out,
                          vt_err *err) {
    vt_cfg_validate_opts opts = {.section = section};
    return vt_cfg_validate(map, specs, out, &opts, err);
}

/* Ranges cannot say "finite": .inf passes [0, inf]. */
static vt_status check_finite(const vt_cfg_node *map, const char *section, const vt_param_spec *specs,
                              const void *base, vt_err *err) {
    for (const vt_param_spec *s = specs; s->name; s++) {
        if (s->type != VT_PARAM_FLOAT) continue;
        double v = *(const double *)((const char *)base + s->offset);
        if (isfinite(v)) continue;
        char loc[LOC_MAX];
        return vt_err_set(err, VT_EINVAL, "%s: %s.%s: must be finite, got %g",
                          loc_of(map ? vt_cfg_child(map, s->name) : NULL, map, loc), section, s->name, v);
    }
    return VT_OK;
}

static vt_status need_text(const vt_cfg_node *map, const char *section, const char *key, const char *value,
                           vt_err *err) {
    if (value && *value) return VT_OK;
    char loc[LOC_MAX];
    return vt_err_set(err, VT_EINVAL, "%s: %s.%s: must be a non-empty string",
                      loc_of(map ? vt_cfg_child(map, key) : NULL, map, loc), section, key);
}

static int choice_index(const char *const *choices, const char *s) {
    for (int i = 0; s && choices[i]; i++)
        if (!strcmp(choices[i], s)) return i;
    return 0; /* unreachable after validation: the enum was one of the choices */
}

/* A device vt_device_parse accepts ("cpu", "cuda[:N]", ...): cuda:N -> N, any other kind -> -1. */
static bool parse_device(const char *s, int *index) {
    vt_device d;
    vt_err e;
    if (vt_device_parse(s, &d, &e) != VT_OK) return false;
    *index = d.kind == VT_DEVICE_CUDA ? d.index : -1;
    return true;
}

/* ---- sections ------------------------------------------------------------------------------------- */

static vt_status load_run(const vt_cfg_node *node, vt_exp_run *run, vt_err *err) {
    vt_status st = validate(node, "run", run_specs, run, err);
    if (st == VT_OK) st = need_text(node, "run", "name", run->name, err);
    if (st == VT_OK) st = need_text(node, "run", "out_dir", run->out_dir, err);
    if (st == VT_OK) st = need_text(node, "run", "device", run->device, err);
    if (st == VT_OK && !parse_device(run->device, &run->cuda_index)) {
        char loc[LOC_MAX];
        st = vt_err_set(err, VT_EINVAL, "%s: run.device: '%.60s' is not a device (expected cpu or cuda:N)",
                        loc_of(vt_cfg_child(node, "device"), node, loc), run->device);
    }
    return st;
}

static vt_status load_backbone(const vt_cfg_node *node, vt_exp_backbone *bb, vt_err *err) {
    vt_status st = validate(node, "backbone", backbone_specs, bb, err);
    if (st == VT_OK) st = need_text(node, "backbone", "preset", bb->preset, err);
    if (st == VT_OK && !bb->checkpoint && !(bb->checkpoint = strdup("")))
        st = vt_err_set(err, VT_ENOMEM, "out of memory");
    return st;
}

/* A `plugin: NAME` section: the name, then (given a registry) the component and its params. */
static vt_status load_plugin(const vt_cfg_node *node, const char *path, vt_component_kind kind,
                             vt_registry *reg, vt_exp_plugin *p, vt_err *err) {
    vt_cfg_validate_opts opts = {.section = path, .allow_unknown = true};
    vt_status st = vt_cfg_validate(node, plugin_specs, p, &opts, err);
    if (st != VT_OK) return st;
    p->node = node;
    char loc[LOC_MAX];
    const vt_cfg_node *name_node = vt_cfg_child(node, "plugin");
    if (!p->plugin || !*p->plugin)
        return vt_err_set(err, VT_EINVAL, "%s: %s.plugin: must name a %s plugin", loc_of(name_node, node, loc),
                          path, vt_component_kind_name(kind));
    if (!reg) return VT_OK;
    st = vt_registry_lookup(reg, kind, p->plugin, &p->comp, err);
    if (st != VT_OK) return vt_err_prefix(err, "%s: %s.plugin", loc_of(name_node, node, loc), path);
    return vt_component_params_new(p->comp, node, (const char *[]){"plugin", NULL}, &p->params, err);
}

static void free_plugin(vt_exp_plugin *p) {
    vt_component_params_free(p->comp, p->params);
    vt_params_free(plugin_specs, p);
    p->params = NULL;
    p->comp = NULL;
}

static vt_status load_tasks(const vt_cfg_node *node, vt_registry *reg, vt_experiment *e, vt_err *err) {
    size_t n = vt_cfg_typeof(node) == VT_CFG_MAP ? vt_cfg_len(node) : 0;
    if (n == 0) return VT_OK;
    if (!(e->tasks = calloc(n, sizeof *e->tasks))) return vt_err_set(err, VT_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        vt_exp_task *t = &e->tasks[i];
        e->n_tasks = i + 1;
        t->name = vt_cfg_key(node, i);
        t->node = vt_cfg_item(node, i);
        char path[PATH_MAX_], sub[PATH_MAX_ + 16];
        snprintf(path, sizeof path, "tasks.%.140s", t->name);
        vt_status st = validate(t->node, path, task_specs, t, err);
        if (st == VT_OK) st = check_finite(t->node, path, task_specs, t, err);
        /* the node, not the validated field: a null `head:` still has a location to name */
        snprintf(sub, sizeof sub, "%s.head", path);
        if (st == VT_OK)
            st = load_plugin(vt_cfg_child(t->node, "head"), sub, VT_COMPONENT_HEAD, reg, &t->head, err);
        snprintf(sub, sizeof sub, "%s.dataset", path);
        if (st == VT_OK)
            st = load_plugin(vt_cfg_child(t->node, "dataset"), sub, VT_COMPONENT_DATASET, reg, &t->dataset, err);
        if (st != VT_OK) return st;
    }
    return VT_OK;
}

static vt_status load_lora(const vt_cfg_node *stage, const char *path, vt_exp_stage *s, vt_err *err) {
    char loc[LOC_MAX], sec[PATH_MAX_ + 8];
    if (s->kind != VT_STAGE_LORA) {
        if (!s->lora_node) return VT_OK;
        return vt_err_set(err, VT_EINVAL, "%s: %s.lora: only a lora stage takes a lora map (this stage is %s)",
                          key_loc(stage, "lora", loc), path, s->kind_name);
    }
    const vt_cfg_node *node = vt_cfg_child(stage, "lora");
    snprintf(sec, sizeof sec, "%s.lora", path);
    vt_exp_lora *l = &s->lora;
    vt_status st = validate(node, sec, lora_specs, l, err);
    if (st == VT_OK) st = check_finite(node, sec, lora_specs, l, err);
    if (st != VT_OK) return st;
    if (l->alpha <= 0)
        return vt_err_set(err, VT_EINVAL, "%s: %s.alpha: must be > 0, got %g",
                          loc_of(vt_cfg_child(node, "alpha"), node, loc), sec, l->alpha);
    if (l->dropout >= 1)
        return vt_err_set(err, VT_EINVAL, "%s: %s.dropout: must be below 1, got %g",
                          loc_of(vt_cfg_child(node, "dropout"), node, loc), sec, l->dropout);
    const vt_cfg_node *tnode = vt_cfg_child(node, "targets");
    if (l->targets.n == 0)
        return vt_err_set(err, VT_EINVAL, "%s: %s.targets: needs at least one of q, k, v",
                          loc_of(tnode, node ? node : stage, loc), sec);
    for (size_t i = 0; i < l->targets.n; i++) {
        const char *t = l->targets.v.s[i];
        int k = -1;
        for (int j = 0; lora_target_names[j]; j++)
            if (!strcmp(lora_target_names[j], t)) k = j;
        if (k >= 0) {
            l->qkv_mask |= 1u << k;
            continue;
        }
        const char *guess = vt_suggest(t, lora_target_names, 3);
        char hint[80] = "";
        if (guess) snprintf(hint, sizeof hint, " (did you mean '%s'?)", guess);
        return vt_err_set(err, VT_EINVAL, "%s: %s.targets[%zu]: '%.60s' is not one of: q, k, v%s",
                          loc_of(vt_cfg_item(tnode, i), node, loc), sec, i, t, hint);
    }
    return VT_OK;
}

/* The stage's task list as indices; every name must be a task, once. */
static vt_status resolve_stage_tasks(const vt_cfg_node *stage, const char *path, const vt_experiment *e,
                                     vt_exp_stage *s, vt_err *err) {
    char loc[LOC_MAX];
    size_t n = s->tasks.n ? s->tasks.n : e->n_tasks;
    if (n == 0)
        return vt_err_set(err, VT_EINVAL, "%s: %s: no tasks to train (the config's tasks: is empty)",
                          vt_cfg_loc_str(stage, loc, sizeof loc), path);
    if (!(s->task_index = calloc(n, sizeof *s->task_index))) return vt_err_set(err, VT_ENOMEM, "out of memory");
    s->n_tasks = n;
    if (!s->tasks.n) {
        for (size_t i = 0; i < n; i++) s->task_index[i] = i;
        return VT_OK;
    }
    const vt_cfg_node *list = vt_cfg_child(stage, "tasks");
    for (size_t i = 0; i < n; i++) {
        const char *want = s->tasks.v.s[i];
        size_t k = 0;
        while (k < e->n_tasks && strcmp(e->tasks[k].name, want)) k++;
        if (k == e->n_tasks) {
            const char **names = calloc(e->n_tasks + 1, sizeof *names);
            if (!names) return vt_err_set(err, VT_ENOMEM, "out of memory");
            for (size_t j = 0; j < e->n_tasks; j++) names[j] = e->tasks[j].name;
            const char *guess = vt_suggest(want, names, e->n_tasks);
            char hint[100];
            if (guess)
                snprintf(hint, sizeof hint, " (did you mean '%.60s'?)", guess);
            else
                snprintf(hint, sizeof hint, "%s", e->n_tasks ? " (see tasks:)" : " (the config has no tasks)");
            free(names);
            return vt_err_set(err, VT_EINVAL, "%s: %s.tasks[%zu]: no task '%.60s'%s",
                              loc_of(vt_cfg_item(list, i), stage, loc), path, i, want, hint);
        }
        for (size_t j = 0; j < i; j++)
            if (s->task_index[j] == k)
                return vt_err_set(err, VT_EINVAL, "%s: %s.tasks[%zu]: task '%.60s' is listed twice",
                                  loc_of(vt_cfg_item(list, i), stage, loc), path, i, want);
        s->task_index[i] = k;
    }
    return VT_OK;
}

static vt_status load_stage(const vt_cfg_node *node, const char *path, const vt_experiment *e, vt_exp_stage *s,
                            vt_err *err) {
    s->node = node;
    vt_status st = validate(node, path, stage_specs, s, err);
    if (st == VT_OK) st = check_finite(node, path, stage_specs, s, err);
    if (st != VT_OK) return st;
    s->kind = (vt_stage_kind)choice_index(stage_kinds, s->kind_name);
    s->optimizer = choice_index(optimizers, s->optimizer_name) == 0 ? VT_OPTIM_ADAMW : VT_OPTIM_SGD;
    static const vt_lr_kind sched[] = {VT_LR_COSINE, VT_LR_STEP, VT_LR_CONSTANT};
    s->schedule = sched[choice_index(schedules, s->schedule_name)];
    char loc[LOC_MAX];
    if (s->lr <= 0)
        return vt_err_set(err, VT_EINVAL, "%s: %s.lr: must be > 0, got %g", loc_of(vt_cfg_child(node, "lr"), node, loc),
                          path, s->lr);
    if (s->min_lr > s->lr)
        return vt_err_set(err, VT_EINVAL, "%s: %s.min_lr: %g is above lr %g",
                          loc_of(vt_cfg_child(node, "min_lr"), node, loc), path, s->min_lr, s->lr);
    if (s->warmup > s->iterations)
        return vt_err_set(err, VT_EINVAL, "%s: %s.warmup: %lld steps is more than the stage's %lld iterations",
                          loc_of(vt_cfg_child(node, "warmup"), node, loc), path, (long long)s->warmup,
                          (long long)s->iterations);
    if ((st = load_lora(node, path, s, err)) || (st = resolve_stage_tasks(node, path, e, s, err))) return st;
    if (s->kind == VT_STAGE_HEADS) return VT_OK;
    /* lora/full pick one task per iteration by ratio: the weights must not all be zero */
    double sum = 0;
    for (size_t i = 0; i < s->n_tasks; i++) sum += e->tasks[s->task_index[i]].ratio;
    if (sum > 0) return VT_OK;
    return vt_err_set(err, VT_EINVAL,
                      "%s: %s: the ratios of its tasks sum to 0 (a %s stage samples its tasks by ratio)",
                      vt_cfg_loc_str(node, loc, sizeof loc), path, s->kind_name);
}

static vt_status load_stages(const vt_cfg_node *node, vt_experiment *e, vt_err *err) {
    size_t n = vt_cfg_typeof(node) == VT_CFG_SEQ ? vt_cfg_len(node) : 0;
    if (n == 0) return VT_OK;
    if (!(e->stages = calloc(n, sizeof *e->stages))) return vt_err_set(err, VT_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        e->n_stages = i + 1;
        char path[32];
        snprintf(path, sizeof path, "stages[%zu]", i);
        vt_status st = load_stage(vt_cfg_item(node, i), path, e, &e->stages[i], err);
        if (st != VT_OK) return st;
    }
    return VT_OK;
}

static vt_status load_benchmarks(const vt_cfg_node *node, vt_registry *reg, vt_experiment *e, vt_err *err) {
    size_t n = vt_cfg_typeof(node) == VT_CFG_SEQ ? vt_cfg_len(node) : 0;
    if (n == 0) return VT_OK;
    if (!(e->benchmarks = calloc(n, sizeof *e->benchmarks))) return vt_err_set(err, VT_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        e->n_benchmarks = i + 1;
        char path[32];
        snprintf(path, sizeof path, "benchmarks[%zu]", i);
        vt_status st = load_plugin(vt_cfg_item(node, i), path, VT_COMPONENT_BENCHMARK, reg, &e->benchmarks[i], err);
        if (st != VT_OK) return st;
    }
    return VT_OK;
}

/* The top level: its keys, then plugin_paths (kept), then each section. */
static vt_status load_top(const vt_cfg_node *root, vt_registry *reg, vt_experiment *e, vt_err *err) {
    /* plugin_paths may be one path, as the registry reads it: validate that shape as a string */
    vt_param_spec specs[sizeof top_specs / sizeof top_specs[0]];
    memcpy(specs, top_specs, sizeof specs);
    const vt_cfg_node *pp = vt_cfg_child(root, "plugin_paths");
    vt_cfg_type ppt = vt_cfg_typeof(pp);
    bool single = pp && ppt != VT_CFG_NULL && ppt != VT_CFG_SEQ && ppt != VT_CFG_MAP;
    if (single) {
        specs[TOP_PLUGIN_PATHS].type = VT_PARAM_STRING;
        specs[TOP_PLUGIN_PATHS].offset = offsetof(top_sections, plugin_path);
    }
    top_sections top = {0};
    vt_cfg_validate_opts opts = {.section = ""};
    vt_status st = vt_cfg_validate(root, specs, &top, &opts, err);
    if (st != VT_OK) return st;
    if (single) {
        top.plugin_paths.v.s = malloc(sizeof(char *));
        if (!top.plugin_paths.v.s) {
            free(top.plugin_path);
            return vt_err_set(err, VT_ENOMEM, "out of memory");
        }
        top.plugin_paths.v.s[0] = top.plugin_path;
        top.plugin_paths.n = 1;
    }
    e->plugin_paths = top.plugin_paths; /* owned by e from here on */
    e->text = top.text;
    if ((st = load_run(vt_cfg_child(root, "run"), &e->run, err))) return st;
    if ((st = load_backbone(vt_cfg_child(root, "backbone"), &e->backbone, err))) return st;
    if ((st = load_tasks(top.tasks, reg, e, err))) return st;
    if ((st = load_stages(top.stages, e, err))) return st;
    return load_benchmarks(top.benchmarks, reg, e, err);
}

vt_status vt_experiment_load(const vt_cfg *cfg, vt_registry *reg, vt_experiment **out, vt_err *err) {
    if (!out) return vt_err_set(err, VT_EINVAL, "vt_experiment_load: NULL out");
    *out = NULL;
    if (!cfg) return vt_err_set(err, VT_EINVAL, "vt_experiment_load: NULL config");
    vt_experiment *e = calloc(1, sizeof *e);
    if (!e) return vt_err_set(err, VT_ENOMEM, "out of memory");
    e->plugins_checked = reg != NULL;
    vt_status st = load_top(vt_cfg_root(cfg), reg, e, err);
    if (st != VT_OK) {
        vt_experiment_free(e);
        return st;
    }
    *out = e;
    return VT_OK;
}

void vt_experiment_free(vt_experiment *e) {
    if (!e) return;
    vt_params_free(run_specs, &e->run);
    vt_params_free(backbone_specs, &e->backbone);
    for (size_t i = 0; i < e->n_tasks; i++) {
        free_plugin(&e->tasks[i].head);
        free_plugin(&e->tasks[i].dataset);
    }
    free(e->tasks);
    for (size_t i = 0; i < e->n_stages; i++) {
        vt_params_free(stage_specs, &e->stages[i]);
        vt_params_free(lora_specs, &e->stages[i].lora);
        free(e->stages[i].task_index);
    }
    free(e->stages);
    for (size_t i = 0; i < e->n_benchmarks; i++) free_plugin(&e->benchmarks[i]);
    free(e->benchmarks);
    for (size_t i = 0; i < e->plugin_paths.n; i++) free(e->plugin_paths.v.s[i]);
    free(e->plugin_paths.v.s);
    free(e);
}

const vt_exp_task *vt_experiment_task(const vt_experiment *e, const char *name) {
    for (size_t i = 0; e && name && i < e->n_tasks; i++)
        if (!strcmp(e->tasks[i].name, name)) return &e->tasks[i];
    return NULL;
}

const char *vt_stage_kind_name(vt_stage_kind kind) {
    return (unsigned)kind < 3 ? stage_kinds[kind] : "unknown";
}
