/* --set overrides: YAML-typed values, created keys, list indices, and errors that name the override. */
#include "vt_test.h"

#include <stdlib.h>
#include <string.h>

#include "cfg_test.h"
#include "visft/config.h"

static void set_ok(vt_cfg *cfg, const char *a) {
    vt_err err = {0};
    vt_status st = vt_cfg_set(cfg, a, &err);
    ck_assert_msg(st == VT_OK, "--set %s: %s", a, err.msg);
}

static void set_fails(vt_cfg *cfg, const char *a, const char *want) {
    vt_err err = {0};
    char *before, *after;
    ck_assert_int_eq(vt_cfg_emit_string(vt_cfg_root(cfg), &before, &err), VT_OK);
    ck_assert_msg(vt_cfg_set(cfg, a, &err) != VT_OK, "--set %s succeeded", a);
    ck_msg_has(err, want);
    ck_assert_int_eq(vt_cfg_emit_string(vt_cfg_root(cfg), &after, &err), VT_OK);
    ck_assert_str_eq(before, after); /* a failed override changes nothing */
    free(before);
    free(after);
}

START_TEST(test_set_values_are_parsed_as_yaml) {
    vt_cfg *cfg = load_ok(FIXTURE("experiment.yaml"));
    const vt_cfg_node *r;
    set_ok(cfg, "run.seed=3");
    set_ok(cfg, "run.name=\"3\"");
    set_ok(cfg, "run.out_dir=[1, 2]");
    set_ok(cfg, "run.deterministic=false");
    set_ok(cfg, "run.extra={a: 1, b: [x]}");
    set_ok(cfg, "run.nothing=");
    set_ok(cfg, "run.lr=1e-4");
    r = vt_cfg_root(cfg);
    ck_assert_int_eq(vt_cfg_typeof(vt_cfg_get(r, "run.seed")), VT_CFG_INT);
    ck_assert_int_eq(vt_cfg_typeof(vt_cfg_get(r, "run.name")), VT_CFG_STRING);
    ck_assert_str_eq(vt_cfg_text(vt_cfg_get(r, "run.name")), "3");
    ck_assert_int_eq(vt_cfg_typeof(vt_cfg_get(r, "run.out_dir")), VT_CFG_SEQ);
    ck_assert_int_eq(vt_cfg_len(vt_cfg_get(r, "run.out_dir")), 2);
    ck_assert_int_eq(vt_cfg_typeof(vt_cfg_get(r, "run.deterministic")), VT_CFG_BOOL);
    ck_assert_int_eq(vt_cfg_typeof(vt_cfg_get(r, "run.extra.b")), VT_CFG_SEQ);
    ck_assert_int_eq(vt_cfg_typeof(vt_cfg_get(r, "run.nothing")), VT_CFG_NULL);
    ck_assert_int_eq(vt_cfg_typeof(vt_cfg_get(r, "run.lr")), VT_CFG_FLOAT);
    /* a value containing '=' keeps it */
    set_ok(cfg, "run.name=a=b");
    ck_assert_str_eq(vt_cfg_text(vt_cfg_get(vt_cfg_root(cfg), "run.name")), "a=b");
    vt_cfg_free(cfg);
}
END_TEST

START_TEST(test_set_records_its_origin) {
    vt_cfg *cfg = load_ok(FIXTURE("experiment.yaml"));
    set_ok(cfg, "run.seed=abc");
    const vt_cfg_node *seed = vt_cfg_get(vt_cfg_root(cfg), "run.seed");
    ck_assert_str_eq(vt_cfg_where(seed).file, "--set run.seed=abc");
    vt_err err = {0};
    int64_t v;
    ck_assert_int_eq(vt_cfg_as_int(seed, &v, &err), VT_EINVAL);
    ck_msg_has(err, "--set run.seed=abc: run.seed: expected int, got string 'abc'");
    /* nodes next to it keep their file positions */
    ck_assert_int_eq(vt_cfg_where(vt_cfg_get(vt_cfg_root(cfg), "run.name")).line, 3);
    vt_cfg_free(cfg);
}
END_TEST

START_TEST(test_set_creates_missing_map_keys) {
    vt_cfg *cfg = load_ok(FIXTURE("experiment.yaml"));
    set_ok(cfg, "tasks.seg.head.layers=6");
    set_ok(cfg, "brand_new=x");
    const vt_cfg_node *r = vt_cfg_root(cfg);
    ck_assert_str_eq(vt_cfg_text(vt_cfg_get(r, "tasks.seg.head.layers")), "6");
    ck_assert_str_eq(vt_cfg_key(r, vt_cfg_len(r) - 1), "brand_new");
    ck_assert_str_eq(vt_cfg_key(vt_cfg_get(r, "tasks"), 1), "seg"); /* appended after det */
    char p[64];
    ck_assert_str_eq(vt_cfg_path_str(vt_cfg_get(r, "tasks.seg.head.layers"), p, sizeof p), "tasks.seg.head.layers");
    vt_cfg_free(cfg);
}
END_TEST

START_TEST(test_set_list_indices) {
    vt_cfg *cfg = load_ok(FIXTURE("experiment.yaml"));
    set_ok(cfg, "stages[1].iters=5");
    set_ok(cfg, "tasks.det.sizes[0]=112");
    set_ok(cfg, "stages[0]={name: warmup}");
    set_ok(cfg, "matrix=[[1, 2], [3, 4]]");
    set_ok(cfg, "matrix[1][0]=30");
    set_ok(cfg, " stages[1].note = spaced");
    const vt_cfg_node *r = vt_cfg_root(cfg);
    ck_assert_str_eq(vt_cfg_text(vt_cfg_get(r, "stages[1].iters")), "5");
    ck_assert_str_eq(vt_cfg_text(vt_cfg_get(r, "stages[1].rank")), "64");
    ck_assert_str_eq(vt_cfg_text(vt_cfg_get(r, "tasks.det.sizes[0]")), "112");
    ck_assert_str_eq(vt_cfg_text(vt_cfg_get(r, "tasks.det.sizes[1]")), "448");
    ck_assert_int_eq(vt_cfg_len(vt_cfg_get(r, "stages[0]")), 1);
    ck_assert_str_eq(vt_cfg_text(vt_cfg_get(r, "matrix[1][0]")), "30");
    ck_assert_str_eq(vt_cfg_text(vt_cfg_get(r, "stages[1].note")), "spaced");
    vt_cfg_free(cfg);
}
END_TEST

START_TEST(test_set_index_past_end_or_into_scalar) {
    vt_cfg *cfg = load_ok(FIXTURE("experiment.yaml"));
    set_fails(cfg, "stages[2].iters=1",
              "--set stages[2].iters=1: index 2 is past the end of 'stages' (2 items) (defined at ");
    set_fails(cfg, "tasks.det.sizes[7]=1", "index 7 is past the end of 'tasks.det.sizes' (2 items)");
    set_fails(cfg, "run.seed.low=1",
              "--set run.seed.low=1: 'run.seed' is an int, not a map, so it has no key 'low' (defined at ");
    ck_assert_msg(strstr(vt_cfg_loc_str(vt_cfg_get(vt_cfg_root(cfg), "run.seed"), (char[64]){0}, 64),
                         "experiment.yaml:5:9") != NULL,
                  "location of run.seed");
    set_fails(cfg, "run[0]=1", "'run' is a map, not a list, so it cannot be indexed");
    set_fails(cfg, "stages.name=x", "'stages' is a list, not a map, so it has no key 'name'");
    set_fails(cfg, "nothing[0]=1", "--set nothing[0]=1: 'nothing' does not exist, so it cannot be indexed");
    set_fails(cfg, "run.name[0]=1", "'run.name' is a string, not a list");
    vt_cfg_free(cfg);
}
END_TEST

START_TEST(test_set_bad_paths) {
    vt_cfg *cfg = load_ok(FIXTURE("experiment.yaml"));
    set_fails(cfg, "noequals", "--set noequals: expected key=value");
    set_fails(cfg, "=3", "--set =3: bad key path: empty path");
    set_fails(cfg, "a..b=1", "--set a..b=1: bad key path: empty key at offset 2");
    set_fails(cfg, "a.=1", "bad key path: empty key at offset 2");
    set_fails(cfg, "a[x]=1", "--set a[x]=1: bad key path: bad index at offset 1");
    set_fails(cfg, "a[-1]=1", "bad index at offset 1");
    set_fails(cfg, "a[1=2", "bad index at offset 1");
    set_fails(cfg, "a]b=2", "bad key path: unexpected ']' at offset 1");
    set_fails(cfg, "a[99999999999999999999]=2", "bad index");
    set_fails(cfg, "[0]=2", "the top level is a map, not a list");
    set_fails(cfg, "run.seed=[1", "--set run.seed=[1: YAML syntax error");
    set_fails(cfg, "run.seed=*x", "alias '*x' names no finished anchor");
    set_fails(cfg, "_base_=x.yaml", "--set _base_=x.yaml: '_base_' can only be used inside config files");
    set_fails(cfg, "run={_delete_: true}", "'_delete_' can only be used inside config files");
    vt_cfg_free(cfg);
}
END_TEST

VT_TEST_MAIN("config_override", test_set_values_are_parsed_as_yaml, test_set_records_its_origin,
             test_set_creates_missing_map_keys, test_set_list_indices, test_set_index_past_end_or_into_scalar,
             test_set_bad_paths)
