/* _base_ inheritance: merge order, _delete_, locations that survive merging, cycles and missing bases. */
#include "vt_test.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg_test.h"
#include "visft/config.h"

static bool has_key_anywhere(const vt_cfg_node *n, const char *key) {
    for (size_t i = 0; i < vt_cfg_len(n); i++) {
        if (vt_cfg_key(n, i) && !strcmp(vt_cfg_key(n, i), key)) return true;
        if (has_key_anywhere(vt_cfg_item(n, i), key)) return true;
    }
    return false;
}

static void assert_loc(const vt_cfg_node *n, const char *file_suffix, int line, int col) {
    ck_assert_ptr_nonnull(n);
    vt_cfg_loc l = vt_cfg_where(n);
    size_t a = strlen(l.file), b = strlen(file_suffix);
    ck_assert_msg(a >= b && !strcmp(l.file + a - b, file_suffix), "file %s, want *%s", l.file, file_suffix);
    ck_assert_int_eq(l.line, line);
    ck_assert_int_eq(l.col, col);
}

START_TEST(test_base_chain_merges_in_order) {
    vt_cfg *cfg = load_ok(FIXTURE("child.yaml"));
    const vt_cfg_node *r = vt_cfg_root(cfg);
    vt_err err = {0};
    const char *s;
    int64_t i;
    double d;
    /* inherited from base/model.yaml through base/schedule.yaml */
    ck_assert_int_eq(vt_cfg_get_string(r, "model.arch", &s, &err), VT_OK);
    ck_assert_str_eq(s, "eva02_clip_e14");
    assert_loc(vt_cfg_get(r, "model.arch"), "base/model.yaml", 2, 9);
    /* overridden by the child */
    ck_assert_int_eq(vt_cfg_get_int(r, "model.width", &i, &err), VT_OK);
    ck_assert_int_eq(i, 1024);
    assert_loc(vt_cfg_get(r, "model.width"), "child.yaml", 4, 10);
    /* schedule.yaml overrides model.yaml's lr; the child only replaces betas */
    ck_assert_int_eq(vt_cfg_get_double(r, "optimizer.lr", &d, &err), VT_OK);
    ck_assert_double_eq(d, 0.0002);
    assert_loc(vt_cfg_get(r, "optimizer.lr"), "base/schedule.yaml", 3, 7);
    ck_assert_str_eq(vt_cfg_text(vt_cfg_get(r, "optimizer.type")), "adamw");
    ck_assert_int_eq(vt_cfg_len(vt_cfg_get(r, "optimizer.betas")), 2);
    ck_assert_str_eq(vt_cfg_text(vt_cfg_get(r, "optimizer.betas[0]")), "0.8");
    ck_assert_int_eq(vt_cfg_get_int(r, "schedule.iters", &i, &err), VT_OK);
    ck_assert_int_eq(i, 10000);
    /* base keys first, in base order; new keys after */
    const char *order[] = {"model", "optimizer", "schedule", "extra"};
    ck_assert_int_eq(vt_cfg_len(r), 4);
    for (size_t k = 0; k < 4; k++) ck_assert_str_eq(vt_cfg_key(r, k), order[k]);
    ck_assert(!has_key_anywhere(r, "_base_"));
    vt_cfg_free(cfg);
}
END_TEST

START_TEST(test_delete_replaces_inherited_map) {
    vt_cfg *cfg = load_ok(FIXTURE("child.yaml"));
    const vt_cfg_node *r = vt_cfg_root(cfg);
    const vt_cfg_node *lora = vt_cfg_get(r, "model.lora");
    ck_assert_int_eq(vt_cfg_len(lora), 1); /* `targets` from the base is gone */
    ck_assert_str_eq(vt_cfg_key(lora, 0), "rank");
    ck_assert_str_eq(vt_cfg_text(vt_cfg_get(lora, "rank")), "8");
    ck_assert(!has_key_anywhere(r, "_delete_"));
    vt_cfg_free(cfg);

    vt_err err = {0};
    const char *bad = "a:\n  _delete_: yes\n  b: 1\n";
    ck_assert_int_eq(vt_cfg_load_string(bad, strlen(bad), "d.yaml", 0, &cfg, &err), VT_EINVAL);
    ck_msg_has(err, "d.yaml:2:13: '_delete_' must be true or false, got string");
    const char *alone = "a:\n  _delete_: true\n  b: 1\n";
    ck_assert_int_eq(vt_cfg_load_string(alone, strlen(alone), "d.yaml", 0, &cfg, &err), VT_OK);
    ck_assert(!has_key_anywhere(vt_cfg_root(cfg), "_delete_"));
    ck_assert_str_eq(vt_cfg_text(vt_cfg_get(vt_cfg_root(cfg), "a.b")), "1");
    vt_cfg_free(cfg);
}
END_TEST

START_TEST(test_base_cycle_names_the_chain) {
    vt_err err = {0};
    vt_cfg *cfg = NULL;
    ck_assert_int_eq(vt_cfg_load_file(FIXTURE("cycle_a.yaml"), &cfg, &err), VT_EINVAL);
    ck_assert_ptr_null(cfg);
    ck_msg_has(err, "cycle_c.yaml:3:5: _base_ cycle: ");
    ck_msg_has(err, "cycle_a.yaml -> ");
    ck_msg_has(err, "cycle_b.yaml -> ");
    ck_msg_has(err, "cycle_c.yaml -> ");
    const char *tail = strrchr(err.msg, '>');
    ck_assert_ptr_nonnull(tail);
    ck_assert_msg(strstr(tail, "cycle_a.yaml") != NULL, "chain must end at the repeated file: %s", err.msg);
}
END_TEST

START_TEST(test_self_include_is_a_cycle) {
    char path[] = "/tmp/vt_cfg_selfXXXXXX.yaml";
    int fd = mkstemps(path, 5);
    ck_assert_int_ge(fd, 0);
    const char *slash = strrchr(path, '/');
    char text[128];
    int len = snprintf(text, sizeof text, "_base_: %s\n", slash + 1);
    ck_assert_int_eq(write(fd, text, (size_t)len), len);
    close(fd);
    vt_err err = {0};
    vt_cfg *cfg = NULL;
    ck_assert_int_eq(vt_cfg_load_file(path, &cfg, &err), VT_EINVAL);
    ck_msg_has(err, ":1:9: _base_ cycle: ");
    remove(path);
}
END_TEST

START_TEST(test_missing_base_names_including_file) {
    vt_err err = {0};
    vt_cfg *cfg = NULL;
    ck_assert_int_eq(vt_cfg_load_file(FIXTURE("missing_base.yaml"), &cfg, &err), VT_EIO);
    ck_assert_ptr_null(cfg);
    ck_msg_has(err, "missing_base.yaml:3:5: cannot open _base_ file '");
    ck_msg_has(err, "config/base/does_not_exist.yaml': No such file or directory");
}
END_TEST

START_TEST(test_base_shape_errors) {
    vt_err err = {0};
    vt_cfg *cfg = NULL;
    const char *cases[][2] = {
        {"_base_: {a: 1}\n", "b.yaml:1:9: _base_ entries must be file paths, got map"},
        {"_base_: [\"\"]\n", "b.yaml:1:10: _base_ entries must be file paths, got string"},
        {"a:\n  _base_: x.yaml\n", "b.yaml:2:3: '_base_' is only allowed at the top level of a file"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ck_assert_int_ne(vt_cfg_load_string(cases[i][0], strlen(cases[i][0]), "b.yaml", 0, &cfg, &err), VT_OK);
        ck_msg_has(err, cases[i][1]);
    }
    const char *text = "_base_: base/model.yaml\n";
    ck_assert_int_eq(vt_cfg_load_string(text, strlen(text), "b.yaml", VT_CFG_NO_BASE, &cfg, &err), VT_EINVAL);
    ck_msg_has(err, "b.yaml:1:1: '_base_' is not allowed here");
}
END_TEST

START_TEST(test_string_bases_resolve_against_its_name) {
    const char *text = "_base_: [base/model.yaml]\nmodel: {width: 8}\n";
    vt_err err = {0};
    vt_cfg *cfg = NULL;
    ck_assert_int_eq(vt_cfg_load_string(text, strlen(text), FIXTURE("virtual.yaml"), 0, &cfg, &err), VT_OK);
    ck_assert_str_eq(vt_cfg_text(vt_cfg_get(vt_cfg_root(cfg), "model.arch")), "eva02_clip_e14");
    ck_assert_str_eq(vt_cfg_text(vt_cfg_get(vt_cfg_root(cfg), "model.width")), "8");
    vt_cfg_free(cfg);
}
END_TEST

VT_TEST_MAIN("config_base", test_base_chain_merges_in_order, test_delete_replaces_inherited_map,
             test_base_cycle_names_the_chain, test_self_include_is_a_cycle, test_missing_base_names_including_file,
             test_base_shape_errors, test_string_bases_resolve_against_its_name)
