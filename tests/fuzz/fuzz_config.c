/* libFuzzer target for the YAML config loader. Besides "never crash", it checks:
 *   - round trip: whatever loads is emitted, and that text must load to a vt_cfg_equal tree and emit to
 *     the same text again;
 *   - overrides: a first line "#set PATH=VALUE" (a YAML comment, so the rest still parses) is applied
 *     with vt_cfg_set, then PATH is looked up and the tree must still round-trip;
 *   - validation against a small spec table (any outcome is fine, it must not crash or leak).
 * No file access: _base_ is refused with VT_CFG_NO_BASE. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "visft/config.h"

typedef struct fuzz_params {
    int64_t n;
    double lr;
    bool flag;
    char *name;
    char *mode;
    vt_param_list ints, floats, strings;
    const vt_cfg_node *map, *seq;
} fuzz_params;

static const char *const modes[] = {"a", "bb", "ccc", NULL};
static const vt_param_spec spec[] = {
    {"n", VT_PARAM_INT, offsetof(fuzz_params, n), "1", 0, 100, NULL, 0, false, ""},
    {"lr", VT_PARAM_FLOAT, offsetof(fuzz_params, lr), "1e-3", 0, 1, NULL, 0, false, ""},
    {"flag", VT_PARAM_BOOL, offsetof(fuzz_params, flag), "false", VT_PARAM_RANGE_NONE, NULL, 0, false, ""},
    {"name", VT_PARAM_STRING, offsetof(fuzz_params, name), NULL, VT_PARAM_RANGE_NONE, NULL, 0, false, ""},
    {"mode", VT_PARAM_ENUM, offsetof(fuzz_params, mode), "a", VT_PARAM_RANGE_NONE, modes, 0, false, ""},
    {"ints", VT_PARAM_LIST, offsetof(fuzz_params, ints), "[1, 2]", -5, 5, NULL, VT_PARAM_INT, false, ""},
    {"floats", VT_PARAM_LIST, offsetof(fuzz_params, floats), NULL, VT_PARAM_RANGE_NONE, NULL, VT_PARAM_FLOAT, false, ""},
    {"strings", VT_PARAM_LIST, offsetof(fuzz_params, strings), NULL, VT_PARAM_RANGE_NONE, NULL, VT_PARAM_STRING, false,
     ""},
    {"map", VT_PARAM_MAP, offsetof(fuzz_params, map), NULL, VT_PARAM_RANGE_NONE, NULL, 0, false, ""},
    {"seq", VT_PARAM_SEQ, offsetof(fuzz_params, seq), NULL, VT_PARAM_RANGE_NONE, NULL, VT_PARAM_MAP, false, ""},
    VT_PARAM_END,
};

static void check_round_trip(const vt_cfg *cfg) {
    vt_err err;
    char *text = NULL;
    if (vt_cfg_emit_string(vt_cfg_root(cfg), &text, &err) != VT_OK) {
        fprintf(stderr, "emit failed: %s\n", err.msg);
        abort();
    }
    vt_cfg *again = NULL;
    if (vt_cfg_load_string(text, strlen(text), "emitted.yaml", VT_CFG_NO_BASE, &again, &err) != VT_OK) {
        fprintf(stderr, "emitted text does not load: %s\n---\n%s---\n", err.msg, text);
        abort();
    }
    if (!vt_cfg_equal(vt_cfg_root(cfg), vt_cfg_root(again))) {
        fprintf(stderr, "round trip changed the tree:\n---\n%s---\n", text);
        abort();
    }
    char *text2 = NULL;
    if (vt_cfg_emit_string(vt_cfg_root(again), &text2, &err) != VT_OK || strcmp(text, text2) != 0) {
        fprintf(stderr, "emit is not stable:\n---\n%s---\n%s---\n", text, text2 ? text2 : "(failed)");
        abort();
    }
    free(text2);
    free(text);
    vt_cfg_free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    vt_err err;
    vt_cfg *cfg = NULL;
    if (vt_cfg_load_string((const char *)data, size, "fuzz.yaml", VT_CFG_NO_BASE, &cfg, &err) != VT_OK) {
        if (cfg || !err.msg[0]) abort(); /* a failure always explains itself and returns nothing */
        return 0;
    }
    check_round_trip(cfg);

    fuzz_params p;
    if (vt_cfg_validate(vt_cfg_root(cfg), spec, &p, NULL, &err) == VT_OK) vt_params_free(spec, &p);
    vt_cfg_validate_opts opts = {.allow_unknown = true, .section = "fuzz"};
    if (vt_cfg_validate(vt_cfg_root(cfg), spec, &p, &opts, &err) == VT_OK) vt_params_free(spec, &p);

    if (size > 5 && !memcmp(data, "#set ", 5)) {
        const char *start = (const char *)data + 5;
        const char *nl = memchr(start, '\n', size - 5);
        size_t len = nl ? (size_t)(nl - start) : size - 5;
        char *assign = malloc(len + 1);
        if (!assign) abort();
        memcpy(assign, start, len);
        assign[len] = '\0';
        if (strlen(assign) == len && vt_cfg_set(cfg, assign, &err) == VT_OK) {
            char *eq = strchr(assign, '=');
            *eq = '\0';
            const vt_cfg_node *n = vt_cfg_get(vt_cfg_root(cfg), assign);
            int64_t i;
            double d;
            bool b;
            const char *s;
            if (n) {
                (void)vt_cfg_as_int(n, &i, &err);
                (void)vt_cfg_as_double(n, &d, &err);
                (void)vt_cfg_as_bool(n, &b, &err);
                (void)vt_cfg_as_string(n, &s, &err);
            }
            check_round_trip(cfg);
        }
        free(assign);
    }
    vt_cfg_free(cfg);
    return 0;
}
