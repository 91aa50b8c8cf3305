/* Runs the visft CLI in process for tests: `RUN("plugins", "describe", "x")` calls vt_cli_main with captured
 * stdout/stderr, kept in `last` (rc, out, err) until the next run. */
#ifndef VT_CLI_RUN_H
#define VT_CLI_RUN_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#ifndef VISFT_FIXTURE_DIR
#define VISFT_FIXTURE_DIR VISFT_BUILD_DIR "/tests/plugins"
#endif

typedef struct run_result {
    int rc;
    char *out, *err;
} run_result;

static run_result last;

/* Runs `visft ARGS...` (NULL-terminated) and keeps stdout/stderr text in `last`. */
static inline int run_argv(const char *const *args) {
    free(last.out);
    free(last.err);
    char *argv[64] = {"visft"};
    int argc = 1;
    for (; args[argc - 1] && argc < 63; argc++) argv[argc] = (char *)args[argc - 1];
    size_t no = 0, ne = 0;
    FILE *out = open_memstream(&last.out, &no), *err = open_memstream(&last.err, &ne);
    ck_assert(out && err);
    last.rc = vt_cli_main(argc, argv, out, err);
    fclose(out);
    fclose(err);
    return last.rc;
}
#define RUN(...) run_argv((const char *const[]){__VA_ARGS__, NULL})
#define RUN0() run_argv((const char *const[]){NULL})

#endif
