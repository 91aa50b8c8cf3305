/* Emitting the resolved config: deterministic text that re-loads to an equal tree (types included). */
#include "vt_test.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg_test.h"
#include "visft/config.h"

static char *emit_ok(const vt_cfg *cfg) {
    vt_err err = {0};
    char *text = NULL;
    ck_assert_msg(vt_cfg_emit_string(vt_cfg_root(cfg), &text, &err) == VT_OK, "%s", err.msg);
    return text;
}

/* emit -> parse -> equal, and emitting the re-parsed tree gives the same text */
static void assert_round_trip(const vt_cfg *cfg) {
    char *text = emit_ok(cfg);
    vt_err err = {0};
    vt_cfg *again = NULL;
    ck_assert_msg(vt_cfg_load_string(text, strlen(text), "emitted.yaml", VT_CFG_NO_BASE, &again, &err) == VT_OK,
                  "%s\n%s", err.msg, text);
    ck_assert_msg(vt_cfg_equal(vt_cfg_root(cfg), vt_cfg_root(again)), "round trip changed the tree:\n%s", text);
    char *text2 = emit_ok(again);
    ck_assert_str_eq(text, text2);
    free(text2);
    free(text);
    vt_cfg_free(again);
}

START_TEST(test_round_trip_keeps_types_and_text) {
    vt_cfg *cfg = load_ok(FIXTURE("roundtrip.yaml"));
    assert_round_trip(cfg);
    char *text = emit_ok(cfg);
    vt_err err = {0};
    vt_cfg *again = NULL;
    ck_assert_int_eq(vt_cfg_load_string(text, strlen(text), NULL, VT_CFG_NO_BASE, &again, &err), VT_OK);
    const vt_cfg_node *r = vt_cfg_root(again);
    ck_assert_int_eq(vt_cfg_typeof(vt_cfg_get(r, "strings.quoted_int")), VT_CFG_STRING);
    ck_assert_int_eq(vt_cfg_typeof(vt_cfg_get(r, "strings.quoted_bool")), VT_CFG_STRING);
    ck_assert_int_eq(vt_cfg_typeof(vt_cfg_get(r, "strings.empty")), VT_CFG_STRING);
    ck_assert_int_eq(vt_cfg_typeof(vt_cfg_get(r, "ints[3]")), VT_CFG_INT);
    ck_assert_int_eq(vt_cfg_typeof(vt_cfg_get(r, "floats[1]")), VT_CFG_FLOAT);
    ck_assert_int_eq(vt_cfg_typeof(vt_cfg_get(r, "empty_null")), VT_CFG_NULL);
    ck_assert_str_eq(vt_cfg_text(vt_cfg_get(r, "strings.multi")), "line one\nline two\n");
    ck_assert_str_eq(vt_cfg_text(vt_cfg_get(r, "strings.spaces")), "  padded  ");
    ck_assert_str_eq(vt_cfg_key(r, vt_cfg_len(r) - 6), "3");
    ck_assert(vt_cfg_equal(vt_cfg_get(r, "anchors.base"), vt_cfg_get(r, "anchors.copy")));
    /* null always prints as `null`; a string that looks like an int is quoted */
    ck_assert_ptr_nonnull(strstr(text, "empty_null: null\n"));
    ck_assert_ptr_nonnull(strstr(text, "quoted_int: '3'\n"));
    ck_assert_ptr_nonnull(strstr(text, "- 1e-4\n"));
    free(text);
    vt_cfg_free(again);
    vt_cfg_free(cfg);
}
END_TEST

START_TEST(test_round_trip_after_bases_and_overrides) {
    vt_cfg *cfg = load_ok(FIXTURE("child.yaml"));
    vt_err err = {0};
    ck_assert_int_eq(vt_cfg_set(cfg, "model.lora.targets=[q, k, v]", &err), VT_OK);
    ck_assert_int_eq(vt_cfg_set(cfg, "optimizer.betas[1]=0.95", &err), VT_OK);
    ck_assert_int_eq(vt_cfg_set(cfg, "note=\"${not expanded}: 1\"", &err), VT_OK);
    assert_round_trip(cfg);
    char *text = emit_ok(cfg);
    const char *want = "model:\n"
                       "  arch: eva02_clip_e14\n"
                       "  width: 1024\n"
                       "  lora:\n"
                       "    rank: 8\n"
                       "    targets:\n"
                       "    - q\n"
                       "    - k\n"
                       "    - v\n"
                       "optimizer:\n"
                       "  type: adamw\n"
                       "  lr: 0.0002\n"
                       "  betas:\n"
                       "  - 0.8\n"
                       "  - 0.95\n"
                       "schedule:\n"
                       "  warmup: 500\n"
                       "  iters: 10000\n"
                       "extra:\n"
                       "- 1\n"
                       "- 2\n"
                       "note: \"$${not expanded}: 1\"\n";
    ck_assert_str_eq(text, want);
    free(text);
    vt_cfg_free(cfg);
}
END_TEST

START_TEST(test_equal_sees_differences) {
    vt_cfg *a = load_ok(FIXTURE("experiment.yaml"));
    vt_cfg *b = load_ok(FIXTURE("experiment.yaml"));
    ck_assert(vt_cfg_equal(vt_cfg_root(a), vt_cfg_root(b)));
    vt_err err = {0};
    const char *changes[] = {"run.seed=\"42\"", "run.seed=43", "stages[1].rank=null", "run.new=1",
                             "tasks.det.sizes=[224]"};
    for (size_t i = 0; i < sizeof changes / sizeof changes[0]; i++) {
        vt_cfg *c = load_ok(FIXTURE("experiment.yaml"));
        ck_assert_int_eq(vt_cfg_set(c, changes[i], &err), VT_OK);
        ck_assert_msg(!vt_cfg_equal(vt_cfg_root(a), vt_cfg_root(c)), "%s not seen", changes[i]);
        vt_cfg_free(c);
    }
    vt_cfg_free(a);
    vt_cfg_free(b);
}
END_TEST

START_TEST(test_write_file_then_reload) {
    vt_cfg *cfg = load_ok(FIXTURE("experiment.yaml"));
    char dir[] = "/tmp/vt_cfg_runXXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/config.yaml", dir);
    vt_err err = {0};
    ck_assert_msg(vt_cfg_write_file(vt_cfg_root(cfg), path, &err) == VT_OK, "%s", err.msg);
    vt_cfg *again = load_ok(path);
    ck_assert(vt_cfg_equal(vt_cfg_root(cfg), vt_cfg_root(again)));
    ck_assert_int_eq(vt_cfg_where(vt_cfg_get(vt_cfg_root(again), "run.seed")).line, 4);
    vt_cfg_free(again);
    remove(path);
    rmdir(dir);
    char bad[96];
    snprintf(bad, sizeof bad, "%s/missing_dir/config.yaml", dir);
    ck_assert_int_eq(vt_cfg_write_file(vt_cfg_root(cfg), bad, &err), VT_EIO);
    ck_assert_ptr_nonnull(strstr(err.msg, "cannot write"));
    vt_cfg_free(cfg);
}
END_TEST

VT_TEST_MAIN("config_emit", test_round_trip_keeps_types_and_text, test_round_trip_after_bases_and_overrides,
             test_equal_sees_differences, test_write_file_then_reload)
