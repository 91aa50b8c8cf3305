/* `visft data`: dataset tools. `visft data export shapes [--set k=v]... --split S --count N --to coco DIR`
 * writes the procedural shapes dataset as COCO files (PNG images, instances and captions JSON) that
 * pycocotools and the `coco` plugin read. --set takes the shapes plugin's parameters (`visft plugins
 * describe shapes`), validated against the same spec table. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "data/shapes.h"
#include "data/shapes_export.h"
#include "visft/config.h"

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
    {"DATASET", offsetof(export_args, dataset), false, "dataset to export: shapes"},
    {"DIR", offsetof(export_args, dir), false, "output directory (images/ and annotations/ are created in it)"},
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

static const vt_cli_command *const data_subcommands[] = {&cmd_export, NULL};

const vt_cli_command vt_cmd_data = {
    .name = "data",
    .summary = "dataset tools (export)",
    .subcommands = data_subcommands,
};
