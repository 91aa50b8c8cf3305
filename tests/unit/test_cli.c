/* The visft CLI, run in process: help generated from the command table, usage errors as one line with
 * exit status 2, `plugins` / `plugins describe` over the test fixtures, `config` printing the resolved YAML. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli_run.h"
#include "vt_test.h"


static size_t count_lines(const char *s) {
    size_t n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

#define ASSERT_OUT_HAS(s) ck_assert_msg(strstr(last.out, (s)), "stdout lacks '%s':\n%s", (s), last.out)
#define ASSERT_ERR_HAS(s) ck_assert_msg(strstr(last.err, (s)), "stderr lacks '%s':\n%s", (s), last.err)

static void setup_env(void) {
    unsetenv("VISFT_PLUGIN_PATH"); /* the developer's own setting must not leak into the tests */
}

START_TEST(test_help_lists_the_commands) {
    setup_env();
    ck_assert_int_eq(RUN("--help"), 0);
    ASSERT_OUT_HAS("usage: visft");
    ASSERT_OUT_HAS("  plugins ");
    ASSERT_OUT_HAS("  config ");
    ASSERT_OUT_HAS("--version");
    ck_assert_str_eq(last.err, "");
    ASSERT_OUT_HAS("  run ");
    ASSERT_OUT_HAS("  train ");
    ASSERT_OUT_HAS("  eval ");
    ck_assert_int_eq(RUN("-h"), 0);
}
END_TEST

/* Walks the command tree: every command's --help succeeds and names every option and argument it parses. */
static void check_help(const vt_cli_command *cmd, const char **words, int depth) {
    const char *args[16];
    for (int i = 0; i < depth; i++) args[i] = words[i];
    args[depth] = "--help";
    args[depth + 1] = NULL;
    ck_assert_int_eq(run_argv(args), 0);
    for (size_t i = 0; cmd->options && cmd->options[i].name; i++) {
        char opt[64];
        snprintf(opt, sizeof opt, "--%s", cmd->options[i].name);
        ck_assert_msg(strstr(last.out, opt), "help of '%s' lacks %s", cmd->name, opt);
        ck_assert_msg(strstr(last.out, cmd->options[i].help), "help of '%s' lacks help of %s", cmd->name, opt);
    }
    for (size_t i = 0; cmd->args && cmd->args[i].name; i++)
        ck_assert_msg(strstr(last.out, cmd->args[i].name), "help of '%s' lacks %s", cmd->name, cmd->args[i].name);
    for (size_t i = 0; cmd->subcommands && cmd->subcommands[i]; i++)
        ck_assert_msg(strstr(last.out, cmd->subcommands[i]->summary), "help of '%s' lacks '%s'", cmd->name,
                      cmd->subcommands[i]->name);
    for (size_t i = 0; cmd->subcommands && cmd->subcommands[i]; i++) { /* recursing overwrites `last` */
        words[depth] = cmd->subcommands[i]->name;
        check_help(cmd->subcommands[i], words, depth + 1);
    }
}

START_TEST(test_every_command_help_matches_its_table) {
    setup_env();
    const char *words[16];
    check_help(&vt_cli_root, words, 0);
    ck_assert_int_eq(RUN("plugins", "describe", "--help"), 0);
    ASSERT_OUT_HAS("usage: visft plugins describe [-h] [-P DIR]... NAME");
}
END_TEST

START_TEST(test_usage_errors_are_one_line_with_status_2) {
    setup_env();
    ck_assert_int_eq(RUN("plugin"), 2);
    ASSERT_ERR_HAS("visft: unknown command 'plugin' (did you mean 'plugins'?)");
    ck_assert_uint_eq(count_lines(last.err), 1);
    ck_assert_int_eq(RUN("config", "--sett", "a=1", "x.yaml"), 2);
    ASSERT_ERR_HAS("visft config: unknown option '--sett' (did you mean '--set'?)");
    ck_assert_uint_eq(count_lines(last.err), 1);
    ck_assert_int_eq(RUN("config"), 2);
    ASSERT_ERR_HAS("missing argument CONFIG");
    ck_assert_int_eq(RUN("config", "a.yaml", "--set"), 2);
    ASSERT_ERR_HAS("option '--set' needs a value");
    ck_assert_int_eq(RUN("config", "a.yaml", "b.yaml"), 2);
    ASSERT_ERR_HAS("unexpected argument 'b.yaml'");
    ck_assert_int_eq(RUN("--version=3"), 2);
    ASSERT_ERR_HAS("takes no value");
    ck_assert_int_eq(RUN("plugins", "describe"), 2);
    ASSERT_ERR_HAS("missing argument NAME");
    ck_assert_int_eq(RUN("plugins", "-x"), 2);
    ASSERT_ERR_HAS("unknown option '-x'");
    ck_assert_str_eq(last.out, "");
}
END_TEST

START_TEST(test_bare_visft_prints_help_to_stderr) {
    setup_env();
    ck_assert_int_eq(RUN0(), 2);
    ck_assert_str_eq(last.out, "");
    ASSERT_ERR_HAS("usage: visft");
}
END_TEST

START_TEST(test_version) {
    setup_env();
    ck_assert_int_eq(RUN("--version"), 0);
    ck_assert_str_eq(last.out, "visft " VISFT_TEST_VERSION " (plugin ABI 1.0)\n");
}
END_TEST

START_TEST(test_plugins_lists_components_and_refusals) {
    setup_env();
    ck_assert_int_eq(RUN("plugins", "-P", VISFT_FIXTURE_DIR "/good_a.so", "--plugin-path=" VISFT_FIXTURE_DIR), 0);
    ASSERT_OUT_HAS("KIND");
    ASSERT_OUT_HAS("fx_head");
    ASSERT_OUT_HAS("1.2.3");
    ASSERT_OUT_HAS(VISFT_FIXTURE_DIR "/good_a.so");
    ASSERT_OUT_HAS("refused:\n");
    ASSERT_OUT_HAS(VISFT_FIXTURE_DIR "/bad_major.so: ABI major mismatch");
    ASSERT_OUT_HAS(VISFT_FIXTURE_DIR "/bad_dup.so: head 'fx_head' is already registered by " VISFT_FIXTURE_DIR
                   "/good_a.so");
    ASSERT_OUT_HAS("searched: " VISFT_FIXTURE_DIR "/good_a.so " VISFT_FIXTURE_DIR " ");
}
END_TEST

START_TEST(test_plugin_path_env_is_searched_after_the_option) {
    setup_env();
    setenv("VISFT_PLUGIN_PATH", "/nonexistent/a:" VISFT_FIXTURE_DIR "/good_b.so", 1);
    ck_assert_int_eq(RUN("plugins", "-P", VISFT_FIXTURE_DIR "/good_a.so"), 0);
    ASSERT_OUT_HAS("fx_head_b");
    ASSERT_OUT_HAS("search path problems:\n  /nonexistent/a: No such file or directory");
    ASSERT_OUT_HAS("searched: " VISFT_FIXTURE_DIR "/good_a.so /nonexistent/a " VISFT_FIXTURE_DIR "/good_b.so");
}
END_TEST

START_TEST(test_describe_prints_every_parameter) {
    setup_env();
    ck_assert_int_eq(RUN("plugins", "describe", "fx_head", "-P", VISFT_FIXTURE_DIR "/good_a.so"), 0);
    ASSERT_OUT_HAS("plugin good_a 1.2.3 (license MIT, plugin ABI 1.0)");
    ASSERT_OUT_HAS("head fx_head: fixture head");
    ck_assert_ptr_null(strstr(last.out, "dataset fx_data")); /* asked for one component */
    const char *rows[] = {"PARAMETER", "flag", "bool", "n ", "int", "[1, 10]", "an int in [1, 10]", "lr", "float",
                          "0.5", "[0, 1]", "(required)", "a required string", "enum", "fast|slow", "list[int]",
                          "[1, 2]"};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) ASSERT_OUT_HAS(rows[i]);

    /* by plugin name: every component */
    ck_assert_int_eq(RUN("plugins", "describe", "good_a", "-P", VISFT_FIXTURE_DIR "/good_a.so"), 0);
    ASSERT_OUT_HAS("dataset fx_data");
    ASSERT_OUT_HAS("benchmark fx_bench\n  (no parameters)");
}
END_TEST

START_TEST(test_describe_misses_fail_with_a_reason) {
    setup_env();
    ck_assert_int_eq(RUN("plugins", "describe", "fx_haed", "-P", VISFT_FIXTURE_DIR "/good_a.so"), 1);
    ck_assert_str_eq(last.err, "visft: no plugin or component named 'fx_haed' (did you mean 'fx_head'?)\n");
    ck_assert_int_eq(RUN("plugins", "describe", "bad_init_fails", "-P", VISFT_FIXTURE_DIR), 1);
    ASSERT_ERR_HAS("was refused: init failed: fixture: cannot open /nonexistent/weights.bin");
    ck_assert_uint_eq(count_lines(last.err), 1);
}
END_TEST

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

START_TEST(test_config_prints_the_resolved_config) {
    setup_env();
    char dir[] = "/tmp/vt_cli_config_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char base[256], exp[256];
    snprintf(base, sizeof base, "%s/base.yaml", dir);
    snprintf(exp, sizeof exp, "%s/exp.yaml", dir);
    write_file(base, "train:\n  lr: 0.1\n  steps: 10\n");
    write_file(exp, "_base_: base.yaml\ntrain:\n  steps: 20\n");

    /* not an experiment (no backbone:): this checks resolution only */
    ck_assert_int_eq(RUN("config", exp, "--no-check", "--set", "train.lr=0.5", "-strain.warmup=3"), 0);
    ASSERT_OUT_HAS("lr: 0.5");
    ASSERT_OUT_HAS("steps: 20");
    ASSERT_OUT_HAS("warmup: 3");
    ck_assert_str_eq(last.err, "");

    ck_assert_int_eq(RUN("config", exp, "--set", "train.lr"), 1);
    ck_assert_uint_eq(count_lines(last.err), 1);
    ck_assert_int_eq(RUN("config", "/nonexistent/exp.yaml"), 1);
    ASSERT_ERR_HAS("/nonexistent/exp.yaml");
    ck_assert_uint_eq(count_lines(last.err), 1);

    write_file(exp, "plugin_paths: [{a: 1}]\n");
    ck_assert_int_eq(RUN("config", exp), 1);
    ASSERT_ERR_HAS("exp.yaml:1:");
    unlink(base);
    unlink(exp);
    rmdir(dir);
}
END_TEST

/* `visft config` validates the experiment (core schemas and, through -P, the plugins' specs) before it
 * prints; --no-check prints anyway. */
START_TEST(test_config_validates_the_experiment) {
    setup_env();
    char dir[] = "/tmp/vt_cli_exp_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char exp[256], loc[300];
    snprintf(exp, sizeof exp, "%s/exp.yaml", dir);
    const char *good = "backbone:\n  preset: tiny\n"
                       "tasks:\n  det:\n    head: {plugin: fx_head, name: h}\n    dataset: {plugin: fx_data, name: d}\n"
                       "stages:\n  - {kind: heads, iterations: 10}\n";
    write_file(exp, good);
    ck_assert_int_eq(RUN("config", exp, "-P", VISFT_FIXTURE_DIR "/good_a.so"), 0);
    ASSERT_OUT_HAS("preset: tiny");
    ASSERT_OUT_HAS("plugin: fx_head");
    ck_assert_str_eq(last.err, "");

    /* a plugin param of the wrong type, found through the fixture's spec */
    ck_assert_int_eq(RUN("config", exp, "-P", VISFT_FIXTURE_DIR "/good_a.so", "--set", "tasks.det.head.n=abc"), 1);
    ASSERT_ERR_HAS("visft: --set tasks.det.head.n=abc: tasks.det.head.n: expected int, got string 'abc'");
    ck_assert_uint_eq(count_lines(last.err), 1);
    ck_assert_str_eq(last.out, "");

    /* a typo in a plugin name: one line with the place and a suggestion; --no-check prints it anyway */
    write_file(exp, "backbone:\n  preset: tiny\n"
                    "tasks:\n  det:\n    head: {plugin: fx_haed, name: h}\n    dataset: {plugin: fx_data, name: d}\n");
    ck_assert_int_eq(RUN("config", exp, "-P", VISFT_FIXTURE_DIR "/good_a.so"), 1);
    snprintf(loc, sizeof loc, "visft: %s:5:20: tasks.det.head.plugin: no head plugin 'fx_haed' (did you mean 'fx_head'?)\n",
             exp);
    ck_assert_str_eq(last.err, loc);
    ck_assert_str_eq(last.out, "");
    ck_assert_int_eq(RUN("config", exp, "--no-check"), 0);
    ASSERT_OUT_HAS("plugin: fx_haed");
    ck_assert_str_eq(last.err, "");

    /* core schema errors need no plugins */
    write_file(exp, "backbone:\n  preset: tiny\nstagse: []\n");
    ck_assert_int_eq(RUN("config", exp), 1);
    ASSERT_ERR_HAS("exp.yaml:3:1: unknown key 'stagse' at the top level (did you mean 'stages'?)");
    ck_assert_uint_eq(count_lines(last.err), 1);
    ck_assert_int_eq(RUN("config", exp, "--no-check"), 0);
    ASSERT_OUT_HAS("stagse: []");
    write_file(exp, "backbone:\n  preset: tiny\n");
    ck_assert_int_eq(RUN("config", exp, "--set", "run.device=gpu"), 1);
    ASSERT_ERR_HAS("--set run.device=gpu: run.device: 'gpu' is not a device (expected cpu or cuda:N)");
    unlink(exp);
    rmdir(dir);
}
END_TEST

VT_TEST_MAIN("cli", test_help_lists_the_commands, test_every_command_help_matches_its_table,
             test_usage_errors_are_one_line_with_status_2, test_bare_visft_prints_help_to_stderr, test_version,
             test_plugins_lists_components_and_refusals, test_plugin_path_env_is_searched_after_the_option,
             test_describe_prints_every_parameter, test_describe_misses_fail_with_a_reason,
             test_config_prints_the_resolved_config, test_config_validates_the_experiment)
