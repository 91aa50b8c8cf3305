/* The command table of `visft`: the one place a new command is listed (see commands.h). */
#include <stdio.h>

#include "cli/commands.h"
#include "visft/plugin.h"

#ifndef VISFT_VERSION_STRING
#define VISFT_VERSION_STRING "unknown"
#endif

static const vt_cli_command *const commands[] = {
    &vt_cmd_plugins,
    &vt_cmd_config,
    &vt_cmd_bench,
    &vt_cmd_convert,
    &vt_cmd_export,
    &vt_cmd_features,
    &vt_cmd_data,
    &vt_cmd_run,
    &vt_cmd_train,
    &vt_cmd_eval,
    &vt_cmd_cocoeval,
    NULL,
};

typedef struct root_args {
    bool version;
} root_args;

static const vt_cli_option root_options[] = {
    {"version", 0, VT_CLI_FLAG, offsetof(root_args, version), NULL, "print visft's version and plugin ABI, then exit"},
    {0},
};

static int root_run(const vt_cli_io *io, void *vargs) {
    const root_args *a = vargs;
    if (a->version) {
        fprintf(io->out, "visft %s (plugin ABI %d.%d)\n", VISFT_VERSION_STRING, VT_PLUGIN_ABI_MAJOR,
                VT_PLUGIN_ABI_MINOR);
        return VT_CLI_OK;
    }
    vt_cli_print_help(&vt_cli_root, "visft", io->err); /* bare `visft`: a usage error, help to stderr */
    return VT_CLI_USAGE;
}

const vt_cli_command vt_cli_root = {
    .name = "visft",
    .summary = "supervised fine-tuning of vision transformers",
    .description = "visft: supervised fine-tuning of vision transformers (ViSFT). Task heads, datasets and\n"
                   "benchmarks are plugins; experiments are YAML configs.",
    .options = root_options,
    .args_size = sizeof(root_args),
    .run = root_run,
    .subcommands = commands,
};
