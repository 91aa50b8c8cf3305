/* The commands `visft` offers. To add one (run, train, eval, bench, convert, export):
 *   1. write core/cli/cmd_<name>.c defining `const vt_cli_command vt_cmd_<name>` (its options table, args
 *      struct and handler; see cmd_config.c for a small one);
 *   2. declare it below and add &vt_cmd_<name> to the table in commands.c.
 * The parser and `visft --help` pick it up from there. */
#ifndef VISFT_CLI_COMMANDS_H
#define VISFT_CLI_COMMANDS_H

#include "cli/cli.h"
#include "visft/error.h"
#include "visft/registry.h"

struct vt_cfg;

extern const vt_cli_command vt_cmd_plugins;
extern const vt_cli_command vt_cmd_config;
extern const vt_cli_command vt_cmd_bench;
extern const vt_cli_command vt_cmd_convert;
extern const vt_cli_command vt_cmd_export;
extern const vt_cli_command vt_cmd_features;
extern const vt_cli_command vt_cmd_data;
extern const vt_cli_command vt_cmd_run;
extern const vt_cli_command vt_cmd_train;
extern const vt_cli_command vt_cmd_eval;
extern const vt_cli_command vt_cmd_cocoeval;

/* The option every command that loads plugins offers: -P/--plugin-path DIR, stored in a vt_cli_strings
 * field of the args struct. */
#define VT_CLI_PLUGIN_PATH_OPTION(args_type, field)                                                        \
    {"plugin-path", 'P', VT_CLI_STRINGS, offsetof(args_type, field), "DIR",                               \
     "search DIR (a directory or a .so) for plugins first"}

/* A registry loaded in the documented search order: --plugin-path values, VISFT_PLUGIN_PATH, the
 * config's plugin_paths (cfg may be NULL), the build tree, the install prefix. */
vt_status vt_cli_open_registry(const vt_cli_strings *plugin_paths, const struct vt_cfg *cfg, vt_registry **out,
                               vt_err *err);

#endif
