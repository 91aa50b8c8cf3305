/* `visft config CONFIG [--set k=v]...`: the config after _base_ inheritance, ${VAR} expansion and overrides,
 * printed as YAML (the same text a run writes into its run directory) once it validates as an experiment:
 * core sections against their schemas, plugin sections against the plugins' param specs. --no-check prints
 * it without validating (to inspect a config that does not validate yet). */
#include <stdio.h>

#include "cli/commands.h"
#include "visft/config.h"
#include "visft/experiment.h"

typedef struct config_args {
    const char *config;
    vt_cli_strings set;
    vt_cli_strings plugin_path;
    bool no_check;
} config_args;

/* Loads plugins the way `visft run` will, so what passes here passes there. */
static vt_status check(const config_args *a, const vt_cfg *cfg, vt_err *err) {
    vt_registry *reg = NULL;
    vt_status st = vt_cli_open_registry(&a->plugin_path, cfg, &reg, err);
    if (st != VT_OK) return st;
    vt_experiment *exp = NULL;
    st = vt_experiment_load(cfg, reg, &exp, err);
    vt_experiment_free(exp);
    vt_registry_destroy(reg);
    return st;
}

static int config_run(const vt_cli_io *io, void *vargs) {
    config_args *a = vargs;
    vt_err err;
    vt_err_clear(&err);
    vt_cfg *cfg = NULL;
    vt_status st = vt_cfg_load_file(a->config, &cfg, &err);
    for (size_t i = 0; st == VT_OK && i < a->set.n; i++) st = vt_cfg_set(cfg, a->set.v[i], &err);
    if (st == VT_OK && !a->no_check) st = check(a, cfg, &err);
    if (st == VT_OK) st = vt_cfg_emit(vt_cfg_root(cfg), io->out, &err);
    vt_cfg_free(cfg);
    return st == VT_OK ? VT_CLI_OK : vt_cli_fail(io, "%s", err.msg);
}

static const vt_cli_option config_options[] = {
    {"set", 's', VT_CLI_STRINGS, offsetof(config_args, set), "K=V",
     "override a value after loading: a.b[2].c=value (value read as YAML)"},
    VT_CLI_PLUGIN_PATH_OPTION(config_args, plugin_path),
    {"no-check", 0, VT_CLI_FLAG, offsetof(config_args, no_check), NULL,
     "print without validating against the schemas and plugin param specs"},
    {0},
};

static const vt_cli_arg config_arguments[] = {
    {"CONFIG", offsetof(config_args, config), false, "YAML experiment config (may use _base_ and ${VAR})", false},
    {0},
};

const vt_cli_command vt_cmd_config = {
    .name = "config",
    .summary = "check the config and print it resolved (bases merged, ${VAR}s expanded, --set applied)",
    .options = config_options,
    .args = config_arguments,
    .args_size = sizeof(config_args),
    .run = config_run,
};
