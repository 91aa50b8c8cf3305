/* `visft run|train|eval CONFIG [--set k=v]...`: the experiment pipeline.
 *   run    benchmarks on the backbone as configured ("before"), the stages, the benchmarks again ("after");
 *          prints the table (benchmark, metric, before, after, delta), writes RUN_DIR/results.json.
 *   train  the stages only; the final weights go to RUN_DIR/final.safetensors.
 *   run and train write run checkpoints to RUN_DIR/checkpoints (run.checkpoint_every, run.keep_last);
 *   --resume RUN_DIR continues such a run where its newest valid checkpoint left off.
 *   eval   the benchmarks only (RUN_DIR/eval.json).
 * RUN_DIR = run.out_dir/run.name; every command writes the resolved config to RUN_DIR/config.yaml. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/commands.h"
#include "visft/comm.h"
#include "visft/config.h"
#include "visft/experiment.h"
#include "visft/trainer.h"

typedef struct run_args {
    const char *config, *resume;
    vt_cli_strings set, plugin_path;
    bool quiet;
} run_args;

enum { MODE_RUN, MODE_TRAIN, MODE_EVAL };

/* mkdir -p for the run directory (relative or absolute). */
static vt_status make_dirs(const char *path, vt_err *err) {
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return vt_err_set(err, VT_EINVAL, "run directory path too long: %s", path);
    for (char *p = buf + 1;; p++) {
        bool end = *p == '\0';
        if (*p == '/' || end) {
            *p = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return vt_err_set(err, VT_EIO, "cannot create %s: %s", buf, strerror(errno));
            if (end) break;
            *p = '/';
        }
    }
    return VT_OK;
}

static vt_status save_final(vt_trainer *t, const char *path, vt_err *err) {
    vt_tensor_list all;
    vt_tensor_list_init(&all);
    vt_vit *m = vt_trainer_backbone(t);
    const vt_tensor_list *lora = vt_trainer_lora_params(t);
    vt_status st = VT_OK;
    for (size_t i = 0; st == VT_OK && i < m->params.n; i++)
        st = vt_tensor_list_add(&all, m->params.items[i].tensor, "backbone.%s", m->params.items[i].name);
    for (size_t i = 0; st == VT_OK && i < lora->n; i++)
        st = vt_tensor_list_add(&all, lora->items[i].tensor, "lora.%s", lora->items[i].name);
    if (st != VT_OK) st = vt_err_set(err, st, "final weights: out of memory");
    if (st == VT_OK) st = vt_trainer_head_params(t, &all, err);
    if (st == VT_OK) st = vt_tensor_list_save(&all, path, err);
    vt_tensor_list_free(&all);
    return st;
}

static vt_status pipeline(const run_args *a, int mode, vt_comm *comm, FILE *out, vt_err *err) {
    bool root = comm->rank == 0; /* data-parallel: only rank 0 writes files and prints */
    vt_cfg *cfg = NULL;
    vt_registry *reg = NULL;
    vt_experiment *exp = NULL;
    vt_trainer *t = NULL;
    vt_bench_values before = {0}, after = {0};
    char run_dir[4096], path[4200], *config_text = NULL;
    vt_status st = vt_cfg_load_file(a->config, &cfg, err);
    for (size_t i = 0; st == VT_OK && i < a->set.n; i++) st = vt_cfg_set(cfg, a->set.v[i], err);
    if (st == VT_OK) st = vt_cli_open_registry(&a->plugin_path, cfg, &reg, err);
    if (st == VT_OK) st = vt_experiment_load(cfg, reg, &exp, err);
    if (st == VT_OK && mode == MODE_EVAL && a->resume) st = vt_err_set(err, VT_EINVAL, "--resume: eval does not train");
    /* --resume RUN_DIR continues that run in place, whatever run.out_dir/run.name say. */
    if (st == VT_OK && snprintf(run_dir, sizeof run_dir, "%s%s%s", a->resume ? a->resume : exp->run.out_dir,
                                a->resume ? "" : "/", a->resume ? "" : exp->run.name) >= (int)sizeof run_dir)
        st = vt_err_set(err, VT_EINVAL, "run directory path too long");
    if (st == VT_OK) st = vt_cfg_emit_string(vt_cfg_root(cfg), &config_text, err);
    if (st == VT_OK) st = make_dirs(run_dir, err);
    if (st == VT_OK && root) {
        snprintf(path, sizeof path, "%s/config.yaml", run_dir);
        st = vt_cfg_write_file(vt_cfg_root(cfg), path, err);
    }
    vt_trainer_opts o = vt_trainer_defaults();
    o.run_dir = run_dir;
    o.metrics = true;
    o.log = a->quiet ? NULL : out;
    o.checkpoints = true;
    o.config_text = config_text;
    o.comm = comm;
    if (!root) o.metrics = o.checkpoints = false, o.log = NULL;
    if (st == VT_OK) st = vt_trainer_create(exp, reg, &o, &t, err);
    if (st == VT_OK && mode != MODE_TRAIN) st = vt_trainer_run_benchmarks(t, "before", &before, err);
    /* After "before": that is the configured backbone, not the checkpoint's. */
    if (st == VT_OK && a->resume) st = vt_trainer_resume(t, run_dir, err);
    if (st == VT_OK && mode != MODE_EVAL) st = vt_trainer_run_stages(t, err);
    if (st == VT_OK && mode == MODE_TRAIN && root) {
        snprintf(path, sizeof path, "%s/final.safetensors", run_dir);
        st = save_final(t, path, err);
        if (st == VT_OK) fprintf(out, "wrote %s\n", path);
    }
    if (st == VT_OK && mode == MODE_RUN) st = vt_trainer_run_benchmarks(t, "after", &after, err);
    if (st == VT_OK && mode != MODE_TRAIN) {
        vt_trainer_print_table(out, &before, mode == MODE_RUN ? &after : NULL);
        snprintf(path, sizeof path, "%s/%s", run_dir, mode == MODE_RUN ? "results.json" : "eval.json");
        st = vt_trainer_write_results(path, exp->run.name, &before, mode == MODE_RUN ? &after : NULL, err);
        if (st == VT_OK) fprintf(out, "wrote %s\n", path);
    }
    vt_bench_values_free(&before);
    vt_bench_values_free(&after);
    vt_trainer_destroy(t);
    free(config_text);
    vt_experiment_free(exp);
    vt_registry_destroy(reg);
    vt_cfg_free(cfg);
    return st;
}

static int run_mode(const vt_cli_io *io, void *vargs, int mode) {
    vt_err err;
    vt_err_clear(&err);
    vt_comm *comm = NULL; /* under mpirun: MPI (docs/config.md, Data-parallel) */
    vt_status st = vt_comm_from_env(NULL, NULL, &comm, &err);
    /* Ranks other than 0 train only: benchmarks run on rank 0 once training is done. */
    bool root = st != VT_OK || comm->rank == 0;
    if (st == VT_OK && (root || mode != MODE_EVAL)) st = pipeline(vargs, root ? mode : MODE_TRAIN, comm, io->out, &err);
    /* On failure with other ranks, skip MPI_Finalize (it would wait for ranks stuck in a collective): mpirun
     * sees a rank exit without finalizing and stops the job. */
    if (st == VT_OK || !comm || comm->world_size == 1) vt_comm_destroy(comm);
    return st == VT_OK ? VT_CLI_OK : vt_cli_fail(io, "%s", err.msg);
}
static int run_run(const vt_cli_io *io, void *a) { return run_mode(io, a, MODE_RUN); }
static int train_run(const vt_cli_io *io, void *a) { return run_mode(io, a, MODE_TRAIN); }
static int eval_run(const vt_cli_io *io, void *a) { return run_mode(io, a, MODE_EVAL); }

#define COMMON_OPTIONS                                                                                      \
    {"set", 's', VT_CLI_STRINGS, offsetof(run_args, set), "K=V",                                          \
     "override a config value: a.b[2].c=value (value read as YAML)"},                                      \
    VT_CLI_PLUGIN_PATH_OPTION(run_args, plugin_path),                                                       \
    {"quiet", 'q', VT_CLI_FLAG, offsetof(run_args, quiet), NULL, "no progress lines"}

#define RESUME_OPTION \
    {"resume", 0, VT_CLI_STRING, offsetof(run_args, resume), "RUN_DIR", \
     "continue the run saved in RUN_DIR from its newest checkpoint (completed stages are skipped)"}

static const vt_cli_option run_options[] = {COMMON_OPTIONS, RESUME_OPTION, {0}};
static const vt_cli_option eval_options[] = {COMMON_OPTIONS, {0}};
static const vt_cli_option train_options[] = {COMMON_OPTIONS, RESUME_OPTION, {0}};

static const vt_cli_arg run_arguments[] = {
    {"CONFIG", offsetof(run_args, config), false, "YAML experiment config", false},
    {0},
};

const vt_cli_command vt_cmd_run = {
    .name = "run",
    .summary = "benchmarks before, the stages, benchmarks after: the before/after table and results.json",
    .options = run_options,
    .args = run_arguments,
    .args_size = sizeof(run_args),
    .run = run_run,
};

const vt_cli_command vt_cmd_train = {
    .name = "train",
    .summary = "run the experiment's stages (heads, lora, full)",
    .options = train_options,
    .args = run_arguments,
    .args_size = sizeof(run_args),
    .run = train_run,
};

const vt_cli_command vt_cmd_eval = {
    .name = "eval",
    .summary = "run the experiment's benchmarks on the configured backbone",
    .options = eval_options,
    .args = run_arguments,
    .args_size = sizeof(run_args),
    .run = eval_run,
};
