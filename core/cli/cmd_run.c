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
    const char *dist_init, *rank, *world_size, *local_rank; /* NCCL over a TCP rendezvous */
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

/* A non-negative integer option (dflt when absent). */
static vt_status int_arg(const char *name, const char *s, int dflt, int *out, vt_err *err) {
    if (!s) {
        *out = dflt;
        return VT_OK;
    }
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < 0 || v > 65535) return vt_err_set(err, VT_EINVAL, "--%s must be an integer in [0, 65535], got '%s'", name, s);
    *out = (int)v;
    return VT_OK;
}

/* This process's local rank on its node: --local-rank, or what mpirun exports, or 0. */
static int env_local_rank(void) {
    const char *v = getenv("OMPI_COMM_WORLD_LOCAL_RANK");
    if (!v) v = getenv("MPI_LOCALRANKID");
    return v ? atoi(v) : 0;
}

/* Data-parallel on CUDA devices: the NCCL communicator, over --dist-init's TCP rendezvous or, under mpirun,
 * bootstrapped over MPI (*comm stays the MPI one for finalisation). Each rank takes run.device's index plus its
 * local rank. Nothing to do on the CPU or in a single process. */
static vt_status open_nccl(const run_args *a, const vt_experiment *exp, vt_comm *comm, vt_comm **nccl, int *local,
                           vt_err *err) {
    *nccl = NULL;
    *local = 0;
    bool tcp = a->dist_init != NULL;
    if (!tcp && (!comm || comm->world_size <= 1 || exp->run.cuda_index < 0)) return VT_OK;
    if (exp->run.cuda_index < 0)
        return vt_err_set(err, VT_EINVAL, "--dist-init: NCCL data-parallel needs run.device: cuda[:N], got '%s'",
                          exp->run.device);
    int rank = 0, world = 1;
    vt_status st = VT_OK;
    if (tcp) {
        if (!a->rank || !a->world_size) return vt_err_set(err, VT_EINVAL, "--dist-init needs --rank and --world-size");
        if ((st = int_arg("rank", a->rank, 0, &rank, err)) != VT_OK) return st;
        if ((st = int_arg("world-size", a->world_size, 1, &world, err)) != VT_OK) return st;
        if ((st = int_arg("local-rank", a->local_rank, rank, local, err)) != VT_OK) return st;
    } else {
        *local = env_local_rank();
    }
    return vt_comm_nccl_open(a->dist_init, rank, world, exp->run.cuda_index + *local, nccl, err);
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
    vt_comm *nccl = NULL;
    int local_rank = 0;
    if (st == VT_OK) st = open_nccl(a, exp, comm, &nccl, &local_rank, err);
    if (nccl) {
        comm = nccl;
        root = comm->rank == 0;
        if (!root && mode != MODE_TRAIN) mode = MODE_TRAIN; /* benchmarks run on rank 0 */
    }
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
    o.device_offset = local_rank;
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
    vt_comm_destroy(nccl);
    free(config_text);
    vt_experiment_free(exp);
    vt_registry_destroy(reg);
    vt_cfg_free(cfg);
    return st;
}

static int run_mode(const vt_cli_io *io, void *vargs, int mode) {
    vt_err err;
    vt_err_clear(&err);
    const run_args *a = vargs;
    vt_comm *comm = NULL; /* under mpirun: MPI (docs/config.md, Data-parallel); --dist-init: NCCL, opened later */
    vt_status st = a->dist_init ? VT_OK : vt_comm_from_env(NULL, NULL, &comm, &err);
    if (a->dist_init) {
        comm = vt_comm_single(); /* the pipeline replaces it by the NCCL communicator */
        int rank = 0;
        if (int_arg("rank", a->rank, 0, &rank, &err) != VT_OK) return vt_cli_fail(io, "%s", err.msg);
        if (rank != 0 && mode == MODE_EVAL) return VT_CLI_OK; /* benchmarks run on rank 0 */
        mode = rank == 0 ? mode : MODE_TRAIN;
    }
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

#define DIST_OPTIONS                                                                                       \
    {"dist-init", 0, VT_CLI_STRING, offsetof(run_args, dist_init), "tcp://HOST:PORT",                        \
     "data-parallel over NCCL (run.device: cuda): rank 0's address for the rendezvous"},                      \
        {"rank", 0, VT_CLI_STRING, offsetof(run_args, rank), "R", "this process's rank (with --dist-init)"}, \
        {"world-size", 0, VT_CLI_STRING, offsetof(run_args, world_size), "W", "number of ranks (with --dist-init)"}, \
        {"local-rank", 0, VT_CLI_STRING, offsetof(run_args, local_rank), "L",                                 \
         "rank on this node: GPU = run.device's index + L (default: --rank)"}

#define RESUME_OPTION \
    {"resume", 0, VT_CLI_STRING, offsetof(run_args, resume), "RUN_DIR", \
     "continue the run saved in RUN_DIR from its newest checkpoint (completed stages are skipped)"}

static const vt_cli_option run_options[] = {COMMON_OPTIONS, RESUME_OPTION, DIST_OPTIONS, {0}};
static const vt_cli_option eval_options[] = {COMMON_OPTIONS, {0}};
static const vt_cli_option train_options[] = {COMMON_OPTIONS, RESUME_OPTION, DIST_OPTIONS, {0}};

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
