/* `visft config CONFIG [--set k=v]...`: the config after _base_ inheritance, ${VAR} expansion and overrides,
 * printed as YAML (the same text a run writes into its run directory). */
#include <stdio.h>

#include "cli/commands.h"
#include "visft/config.h"

typedef struct config_args {
    const char *config;
    vt_cli_strings set;
} config_args;

static int config_run(const vt_cli_io *io, void *vargs) {
    config_args *a = vargs;
    vt_err err;
    vt_err_clear(&err);
    vt_cfg *cfg = NULL;
    vt_status st = vt_cfg_load_file(a->config, &cfg, &err);
    for (size_t i = 0; st == VT_OK && i < a->set.n; i++) st = vt_cfg_set(cfg, a->set.v[i], &err);
    /* plugin_paths is read by every command that loads plugins: a malformed one is this config's error. */
    if (st == VT_OK) {
        vt_registry *reg = NULL;
        st = vt_registry_create(&reg, &err);
        if (st == VT_OK) st = vt_registry_add_config_paths(reg, vt_cfg_child(vt_cfg_root(cfg), "plugin_paths"), &err);
        vt_registry_destroy(reg);
    }
    if (st == VT_OK) st = vt_cfg_emit(vt_cfg_root(cfg), io->out, &err);
    vt_cfg_free(cfg);
    return st == VT_OK ? VT_CLI_OK : vt_cli_fail(io, "%s", err.msg);
}

static const vt_cli_option config_options[] = {
    {"set", 's', VT_CLI_STRINGS, offsetof(config_args, set), "K=V",
     "override a value after loading: a.b[2].c=value (value read as YAML)"},
    {0},
};

static const vt_cli_arg config_arguments[] = {
    {"CONFIG", offsetof(config_args, config), false, "YAML experiment config (may use _base_ and ${VAR})"},
    {0},
};

const vt_cli_command vt_cmd_config = {
    .name = "config",
    .summary = "print the resolved config (bases merged, ${VAR}s expanded, --set applied)",
    .options = config_options,
    .args = config_arguments,
    .args_size = sizeof(config_args),
    .run = config_run,
};
