/* `visft data`: dataset tools. `visft data export shapes [--set k=v]... --split S --count N --to coco DIR`
 * writes the procedural shapes dataset as COCO files (PNG images, instances and captions JSON) that
 * pycocotools and the `coco` plugin read. --set takes the shapes plugin's parameters (`visft plugins
 * describe shapes`), validated against the same spec table. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "data/check.h"
#include "data/shapes.h"
#include "data/shapes_export.h"
#include "visft/config.h"
#include "visft/experiment.h"

typedef struct export_args {
    const char *dataset, *dir, *to, *split, *count, *start;
    vt_cli_strings set;
} export_args;

static bool parse_size(const char *s, unsigned long long *out) {
    if (!s || !*s || *s == '-' || *s == '+') return false;
    char *end;
    errno = 0;
    *out = strtoull(s, &end, 10);
    return errno == 0 && *end == 0;
}

/* The shapes params from --set overrides over the spec's defaults. */
static vt_status shapes_params_from_sets(const vt_cli_strings *sets, vt_shapes_params *p, vt_err *err) {
    vt_cfg *cfg = NULL;
    vt_status st = vt_cfg_load_string("{}", 2, "--set", VT_CFG_NO_BASE, &cfg, err);
    for (size_t i = 0; st == VT_OK && i < sets->n; i++) st = vt_cfg_set(cfg, sets->v[i], err);
    vt_cfg_validate_opts vo = {.section = "shapes"};
    if (st == VT_OK) st = vt_cfg_validate(vt_cfg_root(cfg), vt_shapes_param_specs, p, &vo, err);
    vt_cfg_free(cfg);
    return st;
}

static int export_run(const vt_cli_io *io, void *vargs) {
    export_args *a = vargs;
    if (strcmp(a->dataset, "shapes") != 0)
        return vt_cli_fail(io, "data export: dataset '%s' cannot be exported (supported: shapes)", a->dataset);
    if (!a->to || strcmp(a->to, "coco") != 0)
        return vt_cli_fail(io, "data export: --to %s: unknown format (supported: coco)", a->to ? a->to : "(missing)");
    const char *split = a->split ? a->split : "train";
    unsigned long long start = 0, count = 0;
    if (a->start && !parse_size(a->start, &start))
        return vt_cli_fail(io, "data export: --start '%s' is not a non-negative integer", a->start);
    if (a->count && !parse_size(a->count, &count))
        return vt_cli_fail(io, "data export: --count '%s' is not a non-negative integer", a->count);

    vt_err err;
    vt_err_clear(&err);
    vt_shapes_params p;
    memset(&p, 0, sizeof p);
    vt_shapes_opts o;
    size_t length = 0;
    vt_status st = shapes_params_from_sets(&a->set, &p, &err);
    if (st != VT_OK) return vt_cli_fail(io, "%s", err.msg);
    st = vt_shapes_opts_from_params(&p, &o, &err);
    if (st == VT_OK) st = vt_shapes_split_length(&p, split, &length, &err);
    vt_params_free(vt_shapes_param_specs, &p);
    if (st != VT_OK) return vt_cli_fail(io, "%s", err.msg);
    if (start > length) return vt_cli_fail(io, "data export: --start %llu is past the end of split %s (%zu samples)", start, split, length);
    if (!a->count) count = length - start;
    if (count > length - start)
        return vt_cli_fail(io, "data export: --count %llu from %llu exceeds split %s (%zu samples)", count, start, split, length);

    vt_shapes_export_stats stats;
    st = vt_shapes_export_coco(&o, split, start, (size_t)count, a->dir, &stats, &err);
    if (st != VT_OK) return vt_cli_fail(io, "%s", err.msg);
    fprintf(io->out, "wrote %zu images, %zu annotations, %zu captions to %s (annotations/instances_%s.json)\n",
            stats.images, stats.annotations, stats.captions, a->dir, split);
    return VT_CLI_OK;
}

static const vt_cli_option export_options[] = {
    {"set", 's', VT_CLI_STRINGS, offsetof(export_args, set), "K=V",
     "a dataset parameter (see 'visft plugins describe shapes'), e.g. --set image_size=64"},
    {"split", 0, VT_CLI_STRING, offsetof(export_args, split), "NAME", "split to export (default train)"},
    {"count", 'n', VT_CLI_STRING, offsetof(export_args, count), "N", "samples to write (default: the rest of the split)"},
    {"start", 0, VT_CLI_STRING, offsetof(export_args, start), "I", "first sample index (default 0)"},
    {"to", 0, VT_CLI_STRING, offsetof(export_args, to), "FORMAT", "output format: coco (required)"},
    {0},
};

static const vt_cli_arg export_arguments[] = {
    {"DATASET", offsetof(export_args, dataset), false, "dataset to export: shapes", false},
    {"DIR", offsetof(export_args, dir), false, "output directory (images/ and annotations/ are created in it)", false},
    {0},
};

static const vt_cli_command cmd_export = {
    .name = "export",
    .summary = "write a dataset as COCO files (PNG images + instances/captions JSON)",
    .options = export_options,
    .args = export_arguments,
    .args_size = sizeof(export_args),
    .run = export_run,
    .epilog = "Example: visft data export shapes --set seed=1 --split val --count 100 --to coco out/shapes\n",
};

/* ---- data check (core/data/check.c) ---- */
typedef struct check_args {
    const char *config, *dataset, *split, *max_list, *tolerate;
    vt_cli_strings set, plugin_path;
} check_args;

typedef struct check_limits {
    unsigned long long max_list, tolerate;
    bool usable;
} check_limits;

/* Opens `split` of comp with params, checks it, closes it; clears lim->usable on problems. */
static vt_status check_one(const vt_cli_io *io, const vt_component *comp, const void *params, const char *split,
                           const char *label, check_limits *lim, vt_err *err) {
    void *ds = NULL;
    vt_status st = comp->vt.dataset.open(params, split, NULL, &ds, err);
    if (st != VT_OK) return vt_err_prefix(err, "%sdataset %s, split %s", label, comp->name, split);
    vt_data_check_report rep;
    st = vt_data_check(&comp->vt.dataset, ds, label, (size_t)lim->max_list, io->out, &rep, err);
    comp->vt.dataset.close(ds);
    if (st == VT_OK && (rep.images == 0 || vt_data_check_problems(&rep) > lim->tolerate)) lim->usable = false;
    return st;
}

static vt_status check_config(const vt_cli_io *io, const check_args *a, const char *split, check_limits *lim,
                              vt_err *err) {
    vt_cfg *cfg = NULL;
    vt_registry *reg = NULL;
    vt_experiment *exp = NULL;
    vt_status st = vt_cfg_load_file(a->config, &cfg, err);
    for (size_t i = 0; st == VT_OK && i < a->set.n; i++) st = vt_cfg_set(cfg, a->set.v[i], err);
    if (st == VT_OK) st = vt_cli_open_registry(&a->plugin_path, cfg, &reg, err);
    if (st == VT_OK) st = vt_experiment_load(cfg, reg, &exp, err);
    for (size_t t = 0; st == VT_OK && t < exp->n_tasks; t++) {
        const vt_exp_task *task = &exp->tasks[t];
        char label[160];
        snprintf(label, sizeof label, "%s: ", task->name);
        st = check_one(io, task->dataset.comp, task->dataset.params, split, label, lim, err);
    }
    if (st == VT_OK && exp->n_tasks == 0) st = vt_err_set(err, VT_EINVAL, "%s: no tasks, so no datasets to check", a->config);
    vt_experiment_free(exp);
    vt_registry_destroy(reg);
    vt_cfg_free(cfg);
    return st;
}

static vt_status check_dataset(const vt_cli_io *io, const check_args *a, const char *split, check_limits *lim,
                               vt_err *err) {
    vt_cfg *cfg = NULL;
    vt_registry *reg = NULL;
    const vt_component *comp = NULL;
    void *params = NULL;
    vt_status st = vt_cfg_load_string("{}", 2, "--set", VT_CFG_NO_BASE, &cfg, err);
    for (size_t i = 0; st == VT_OK && i < a->set.n; i++) st = vt_cfg_set(cfg, a->set.v[i], err);
    if (st == VT_OK) st = vt_cli_open_registry(&a->plugin_path, NULL, &reg, err);
    if (st == VT_OK) st = vt_registry_lookup(reg, VT_COMPONENT_DATASET, a->dataset, &comp, err);
    if (st == VT_OK) st = vt_component_params_new(comp, vt_cfg_root(cfg), NULL, &params, err);
    if (st == VT_OK) st = check_one(io, comp, params, split, "", lim, err);
    if (params) vt_component_params_free(comp, params);
    vt_registry_destroy(reg);
    vt_cfg_free(cfg);
    return st;
}

static int check_run(const vt_cli_io *io, void *vargs) {
    check_args *a = vargs;
    if (!a->config == !a->dataset) {
        vt_cli_fail(io, "data check: give either CONFIG or --dataset PLUGIN (not both)");
        return VT_CLI_USAGE;
    }
    check_limits lim = {.max_list = 20, .tolerate = 0, .usable = true};
    if (a->max_list && !parse_size(a->max_list, &lim.max_list)) {
        vt_cli_fail(io, "data check: --max-list '%s' is not a non-negative integer", a->max_list);
        return VT_CLI_USAGE;
    }
    if (a->tolerate && !parse_size(a->tolerate, &lim.tolerate)) {
        vt_cli_fail(io, "data check: --tolerate '%s' is not a non-negative integer", a->tolerate);
        return VT_CLI_USAGE;
    }
    const char *split = a->split ? a->split : "train";
    vt_err err;
    vt_err_clear(&err);
    vt_status st = a->config ? check_config(io, a, split, &lim, &err) : check_dataset(io, a, split, &lim, &err);
    if (st != VT_OK) return vt_cli_fail(io, "%s", err.msg);
    if (!lim.usable) return vt_cli_fail(io, "data check: not usable (no images, or more than %llu bad samples)", lim.tolerate);
    fprintf(io->out, "usable\n");
    return VT_CLI_OK;
}

static const vt_cli_option check_options[] = {
    {"dataset", 'd', VT_CLI_STRING, offsetof(check_args, dataset), "PLUGIN", "check this dataset plugin instead of a config"},
    {"set", 's', VT_CLI_STRINGS, offsetof(check_args, set), "K=V",
     "with CONFIG: a config override; with --dataset: a dataset parameter (see 'visft plugins describe PLUGIN')"},
    {"split", 0, VT_CLI_STRING, offsetof(check_args, split), "NAME", "split to check (default train)"},
    {"max-list", 0, VT_CLI_STRING, offsetof(check_args, max_list), "N", "problems listed per kind (default 20)"},
    {"tolerate", 0, VT_CLI_STRING, offsetof(check_args, tolerate), "N",
     "bad samples allowed per dataset before it is called unusable (default 0; the loader skips them)"},
    VT_CLI_PLUGIN_PATH_OPTION(check_args, plugin_path),
    {0},
};

static const vt_cli_arg check_arguments[] = {
    {"CONFIG", offsetof(check_args, config), true, "experiment config: every task's dataset is checked", false},
    {0},
};

static const vt_cli_command cmd_check = {
    .name = "check",
    .summary = "read every sample: counts, missing/corrupt files, invalid annotations; exit 0 when usable",
    .options = check_options,
    .args = check_arguments,
    .args_size = sizeof(check_args),
    .run = check_run,
    .epilog = "Examples: visft data check configs/x.yaml\n"
              "          visft data check --dataset imagefolder --set root=data/pets --split train\n",
};

static const vt_cli_command *const data_subcommands[] = {&cmd_export, &cmd_check, NULL};

const vt_cli_command vt_cmd_data = {
    .name = "data",
    .summary = "dataset tools (export, check)",
    .subcommands = data_subcommands,
};
