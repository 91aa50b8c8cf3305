/* Helpers shared by the config tests: fixture paths, message assertions and loaders that fail the test
 * with the loader's own message. */
#ifndef VT_CFG_TEST_H
#define VT_CFG_TEST_H

#include <check.h>
#include <string.h>

#include "visft/config.h"

#define FIXTURE(name) VISFT_TEST_DATA_DIR "/config/" name

#define ck_msg_has(err, s) \
    ck_assert_msg(strstr((err).msg, (s)) != NULL, "message \"%s\" lacks \"%s\"", (err).msg, (s))

static inline vt_cfg *load_ok(const char *path) {
    vt_err err = {0};
    vt_cfg *cfg = NULL;
    vt_status st = vt_cfg_load_file(path, &cfg, &err);
    ck_assert_msg(st == VT_OK, "load %s: %s", path, err.msg);
    return cfg;
}

#endif
