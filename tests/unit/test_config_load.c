/* Config loading: YAML syntax errors, core-schema typing, typed accessors, ${VAR} expansion, and the
 * guards against hostile input (aliases, nesting, duplicates). */
#include "vt_test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cfg_test.h"
#include "visft/config.h"

static vt_cfg *str_ok(const char *text) {
    vt_err err = {0};
    vt_cfg *cfg = NULL;
    vt_status st = vt_cfg_load_string(text, strlen(text), "inline.yaml", VT_CFG_NO_BASE, &cfg, &err);
    ck_assert_msg(st == VT_OK, "load: %s", err.msg);
    return cfg;
}

static vt_status str_fail(const char *text, vt_err *err) {
    vt_cfg *cfg = NULL;
    vt_status st = vt_cfg_load_string(text, strlen(text), "inline.yaml", VT_CFG_NO_BASE, &cfg, err);
    ck_assert_msg(st != VT_OK, "expected a failure for:\n%s", text);
    ck_assert_ptr_null(cfg);
    return st;
}

START_TEST(test_syntax_error_names_file_line_col) {
    vt_err err = {0};
    vt_cfg *cfg = NULL;
    vt_status st = vt_cfg_load_file(FIXTURE("syntax_error.yaml"), &cfg, &err);
    ck_assert_int_eq(st, VT_EFORMAT);
    ck_assert_ptr_null(cfg);
    /* the unclosed flow sequence opened on line 3, column 10 is noticed on line 4 */
    ck_msg_has(err, "syntax_error.yaml:4:");
    ck_msg_has(err, "YAML syntax error");
    ck_msg_has(err, "(while parsing a flow sequence started at line 3, column 10)");
}
END_TEST

START_TEST(test_syntax_error_in_string_counts_lines) {
    vt_err err = {0};
    str_fail("a: 1\nb: [\n", &err);
    ck_msg_has(err, "inline.yaml:3:1: YAML syntax error");
    str_fail("a: 1\n  b: 2\n", &err);
    ck_msg_has(err, "inline.yaml:2:4: YAML syntax error: mapping values are not allowed");
}
END_TEST

START_TEST(test_missing_file_is_an_io_error) {
    vt_err err = {0};
    vt_cfg *cfg = NULL;
    ck_assert_int_eq(vt_cfg_load_file(FIXTURE("nope.yaml"), &cfg, &err), VT_EIO);
    ck_msg_has(err, "nope.yaml: cannot open config: No such file or directory");
    ck_assert_int_eq(vt_cfg_load_file(FIXTURE("base"), &cfg, &err), VT_EIO);
    ck_msg_has(err, "is a directory");
}
END_TEST

START_TEST(test_core_schema_types) {
    vt_cfg *cfg = str_ok("i: [0, -3, +7, 0x1F, 0o17]\n"
                         "f: [1.5, 1e-4, -2.5E+3, .inf, -.inf, .nan, 1., .5]\n"
                         "b: [true, False, TRUE]\n"
                         "n: [null, ~, Null]\n"
                         "e:\n"
                         "s: [\"3\", 'true', yes, 1e, 0x, 1_000, 1.2.3, !!str 5]\n");
    const vt_cfg_node *r = vt_cfg_root(cfg);
    const char *groups[] = {"i", "f", "b", "n", "s"};
    vt_cfg_type types[] = {VT_CFG_INT, VT_CFG_FLOAT, VT_CFG_BOOL, VT_CFG_NULL, VT_CFG_STRING};
    for (size_t g = 0; g < 5; g++) {
        const vt_cfg_node *seq = vt_cfg_child(r, groups[g]);
        ck_assert_int_eq(vt_cfg_typeof(seq), VT_CFG_SEQ);
        for (size_t i = 0; i < vt_cfg_len(seq); i++)
            ck_assert_msg(vt_cfg_typeof(vt_cfg_item(seq, i)) == types[g], "%s[%zu] = '%s' typed %s", groups[g], i,
                          vt_cfg_text(vt_cfg_item(seq, i)), vt_cfg_type_name(vt_cfg_typeof(vt_cfg_item(seq, i))));
    }
    ck_assert_int_eq(vt_cfg_typeof(vt_cfg_get(r, "e")), VT_CFG_NULL);

    vt_err err = {0};
    int64_t iv;
    double dv;
    bool bv;
    ck_assert_int_eq(vt_cfg_get_int(r, "i[1]", &iv, &err), VT_OK);
    ck_assert_int_eq(iv, -3);
    ck_assert_int_eq(vt_cfg_get_int(r, "i[3]", &iv, &err), VT_OK);
    ck_assert_int_eq(iv, 31);
    ck_assert_int_eq(vt_cfg_get_int(r, "i[4]", &iv, &err), VT_OK);
    ck_assert_int_eq(iv, 15);
    ck_assert_int_eq(vt_cfg_get_double(r, "f[1]", &dv, &err), VT_OK);
    ck_assert_double_eq_tol(dv, 1e-4, 1e-12);
    ck_assert_int_eq(vt_cfg_get_double(r, "f[4]", &dv, &err), VT_OK);
    ck_assert(dv < 0 && isinf(dv));
    ck_assert_int_eq(vt_cfg_get_double(r, "f[5]", &dv, &err), VT_OK);
    ck_assert(isnan(dv));
    ck_assert_int_eq(vt_cfg_get_double(r, "i[2]", &dv, &err), VT_OK); /* ints widen to double */
    ck_assert_double_eq(dv, 7.0);
    ck_assert_int_eq(vt_cfg_get_bool(r, "b[1]", &bv, &err), VT_OK);
    ck_assert(!bv);
    vt_cfg_free(cfg);
}
END_TEST

START_TEST(test_typed_accessors_name_location_and_type) {
    vt_cfg *cfg = load_ok(FIXTURE("experiment.yaml"));
    const vt_cfg_node *r = vt_cfg_root(cfg);
    vt_err err = {0};
    int64_t bs;
    ck_assert_int_eq(vt_cfg_get_int(r, "tasks.det.batch_size", &bs, &err), VT_OK);
    ck_assert_int_eq(bs, 16);
    const char *s;
    ck_assert_int_eq(vt_cfg_get_string(r, "stages[1].name", &s, &err), VT_OK);
    ck_assert_str_eq(s, "lora");
    ck_assert_int_eq(vt_cfg_get_string(r, "tasks.det.sizes[0]", &s, &err), VT_OK); /* any scalar reads as text */
    ck_assert_str_eq(s, "224");

    ck_assert_int_eq(vt_cfg_get_int(r, "tasks.det.lr", &bs, &err), VT_EINVAL);
    ck_msg_has(err, "experiment.yaml:11:9: tasks.det.lr: expected int, got float '1e-4'");
    bool b;
    ck_assert_int_eq(vt_cfg_get_bool(r, "run.name", &b, &err), VT_EINVAL);
    ck_msg_has(err, "experiment.yaml:3:9: run.name: expected bool (true/false), got string 'visft-small'");
    ck_assert_int_eq(vt_cfg_get_string(r, "tasks.det.aux", &s, &err), VT_EINVAL);
    ck_msg_has(err, "experiment.yaml:18:7: tasks.det.aux: expected string, got map");
    ck_assert_int_eq(vt_cfg_get_int(r, "tasks.det.batchsize", &bs, &err), VT_ENOTFOUND);
    ck_msg_has(err, "missing key 'tasks.det.batchsize'");

    const vt_cfg_node *stage = vt_cfg_get(r, "stages[1]");
    ck_assert_ptr_nonnull(stage);
    ck_assert_int_eq(vt_cfg_get_int(stage, "rank", &bs, &err), VT_OK);
    ck_assert_int_eq(bs, 64);
    char path[64];
    ck_assert_str_eq(vt_cfg_path_str(vt_cfg_get(stage, "rank"), path, sizeof path), "stages[1].rank");
    ck_assert_ptr_eq(vt_cfg_get(vt_cfg_get(r, "stages"), "[1].rank"), vt_cfg_get(stage, "rank"));
    ck_assert_ptr_null(vt_cfg_get(r, "stages[2]"));
    ck_assert_ptr_null(vt_cfg_get(r, "run.name.x"));
    ck_assert_ptr_null(vt_cfg_get(r, "run..name"));

    ck_assert_int_eq(vt_cfg_len(r), 3);
    ck_assert_str_eq(vt_cfg_key(r, 0), "run");
    ck_assert_str_eq(vt_cfg_key(r, 2), "stages");
    vt_cfg_loc kl = vt_cfg_key_where(vt_cfg_get(r, "tasks"), 0);
    ck_assert_int_eq(kl.line, 8);
    ck_assert_int_eq(kl.col, 3);
    vt_cfg_free(cfg);
}
END_TEST

START_TEST(test_int_overflow_is_reported) {
    vt_cfg *cfg = str_ok("big: 99999999999999999999\n");
    vt_err err = {0};
    int64_t v;
    ck_assert_int_eq(vt_cfg_get_int(vt_cfg_root(cfg), "big", &v, &err), VT_EINVAL);
    ck_msg_has(err, "inline.yaml:1:6: big: 99999999999999999999 does not fit in a 64-bit int");
    vt_cfg_free(cfg);
}
END_TEST

START_TEST(test_env_interpolation) {
    setenv("VT_TEST_DATA_ROOT", "/mnt/data", 1);
    unsetenv("VT_TEST_WORKERS");
    vt_cfg *cfg = load_ok(FIXTURE("env.yaml"));
    const vt_cfg_node *r = vt_cfg_root(cfg);
    vt_err err = {0};
    const char *s;
    int64_t w;
    ck_assert_int_eq(vt_cfg_get_string(r, "data.root", &s, &err), VT_OK);
    ck_assert_str_eq(s, "/mnt/data/coco");
    ck_assert_int_eq(vt_cfg_get_int(r, "data.workers", &w, &err), VT_OK); /* typed after expansion */
    ck_assert_int_eq(w, 4);
    ck_assert_str_eq(vt_cfg_text(vt_cfg_get(r, "data.literal")), "${NOT_EXPANDED}");
    ck_assert_str_eq(vt_cfg_text(vt_cfg_get(r, "data.escaped")), "${HOME}");
    vt_cfg_free(cfg);

    setenv("VT_TEST_WORKERS", "12", 1);
    cfg = load_ok(FIXTURE("env.yaml"));
    ck_assert_int_eq(vt_cfg_get_int(vt_cfg_root(cfg), "data.workers", &w, &err), VT_OK);
    ck_assert_int_eq(w, 12);
    vt_cfg_free(cfg);
    setenv("VT_TEST_WORKERS", "", 1); /* set but empty: the default applies, as in the shell */
    cfg = load_ok(FIXTURE("env.yaml"));
    ck_assert_int_eq(vt_cfg_get_int(vt_cfg_root(cfg), "data.workers", &w, &err), VT_OK);
    ck_assert_int_eq(w, 4);
    vt_cfg_free(cfg);
    unsetenv("VT_TEST_WORKERS");
}
END_TEST

START_TEST(test_env_undefined_names_location) {
    unsetenv("VT_TEST_SURELY_UNSET_VARIABLE");
    vt_err err = {0};
    vt_cfg *cfg = NULL;
    ck_assert_int_eq(vt_cfg_load_file(FIXTURE("env_missing.yaml"), &cfg, &err), VT_EINVAL);
    ck_msg_has(err, "env_missing.yaml:3:10: environment variable 'VT_TEST_SURELY_UNSET_VARIABLE' is not set");
    str_fail("a: ${unterminated\n", &err);
    ck_msg_has(err, "inline.yaml:1:4: unterminated '${'");
    str_fail("a: x${1BAD}\n", &err);
    ck_msg_has(err, "inline.yaml:1:4: bad variable reference '${1BAD}'");
}
END_TEST

START_TEST(test_duplicate_key_is_an_error) {
    vt_err err = {0};
    str_fail("a: 1\nb:\n  c: 2\n  c: 3\n", &err);
    ck_msg_has(err, "inline.yaml:4:3: duplicate key 'c' (first defined at inline.yaml:3:3)");
}
END_TEST

START_TEST(test_top_level_must_be_a_map) {
    vt_err err = {0};
    str_fail("- 1\n- 2\n", &err);
    ck_msg_has(err, "inline.yaml:1:1: the top level of a config must be a map, got list");
    str_fail("a: 1\n---\nb: 2\n", &err);
    ck_msg_has(err, "only one YAML document");
    vt_cfg *cfg = str_ok("# only a comment\n");
    ck_assert_int_eq(vt_cfg_typeof(vt_cfg_root(cfg)), VT_CFG_MAP);
    ck_assert_int_eq(vt_cfg_len(vt_cfg_root(cfg)), 0);
    vt_cfg_free(cfg);
}
END_TEST

START_TEST(test_aliases_copy_and_are_bounded) {
    vt_cfg *cfg = str_ok("base: &b {lr: 0.1}\ncopy: *b\n&k key: 1\nother: *k\n");
    const vt_cfg_node *r = vt_cfg_root(cfg);
    ck_assert(vt_cfg_equal(vt_cfg_get(r, "base"), vt_cfg_get(r, "copy")));
    ck_assert_ptr_ne(vt_cfg_get(r, "base"), vt_cfg_get(r, "copy"));
    ck_assert_str_eq(vt_cfg_text(vt_cfg_get(r, "other")), "key");
    vt_cfg_free(cfg);

    /* billion laughs: 10^9 nodes if expanded */
    char bomb[2048] = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
    for (char c = 'b'; c <= 'j'; c++) {
        char line[128];
        snprintf(line, sizeof line, "%c: &%c [*%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c]\n", c, c, c - 1, c - 1,
                 c - 1, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1);
        strcat(bomb, line);
    }
    vt_err err = {0};
    str_fail(bomb, &err);
    ck_msg_has(err, "document too large");
    str_fail("a: *nope\n", &err);
    ck_msg_has(err, "inline.yaml:1:4: alias '*nope' names no finished anchor");
}
END_TEST

START_TEST(test_deep_nesting_is_rejected) {
    char deep[4096] = "a: ";
    for (int i = 0; i < 1000; i++) strcat(deep, "[");
    vt_err err = {0};
    str_fail(deep, &err);
    ck_msg_has(err, "nesting deeper than 100 levels");
}
END_TEST

START_TEST(test_odd_input_never_crashes) {
    const char *cases[] = {"\xff\xfe bad utf8: \xc3\x28\n", "a: \"\\0nul\"\n", "? [a]\n: 1\n", "a: !custom x\n",
                           "a: b: c\n", "{", "]", "a: 'x\n", "a: &x [1, *x]\n", "[*a, &a 1]"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vt_err err = {0};
        vt_cfg *cfg = NULL;
        vt_status st = vt_cfg_load_string(cases[i], strlen(cases[i]), NULL, VT_CFG_NO_BASE, &cfg, &err);
        ck_assert_msg(st != VT_OK, "case %zu loaded", i);
        ck_assert_msg(strncmp(err.msg, "<string>", 8) == 0, "case %zu: message \"%s\" lacks the origin", i,
                      err.msg);
    }
}
END_TEST

VT_TEST_MAIN("config_load", test_syntax_error_names_file_line_col, test_syntax_error_in_string_counts_lines,
             test_missing_file_is_an_io_error, test_core_schema_types, test_typed_accessors_name_location_and_type,
             test_int_overflow_is_reported, test_env_interpolation, test_env_undefined_names_location,
             test_duplicate_key_is_an_error, test_top_level_must_be_a_map, test_aliases_copy_and_are_bounded,
             test_deep_nesting_is_rejected, test_odd_input_never_crashes)
