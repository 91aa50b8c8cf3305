/* Schema validation against vt_param_spec tables: filling a params struct by offset, defaults, and one
 * message per kind of mistake (unknown key with did-you-mean, wrong type, range, enum, missing key). */
#include "vt_test.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cfg_test.h"
#include "visft/config.h"

typedef struct det_params {
    int64_t batch_size;
    double lr;
    double weight_decay;
    int64_t num_queries;
    char *optimizer;
    vt_param_list sizes;
    vt_param_list classes;
    vt_param_list scales;
    bool amp;
    char *name;
    const vt_cfg_node *aux;
} det_params;

static const char *const optimizers[] = {"adamw", "sgd", "lamb", NULL};

static const vt_param_spec det_spec[] = {
    {"batch_size", VT_PARAM_INT, offsetof(det_params, batch_size), NULL, 1, 4096, NULL, 0, true, "per-GPU batch"},
    {"lr", VT_PARAM_FLOAT, offsetof(det_params, lr), "1e-4", 0, 1, NULL, 0, false, "learning rate"},
    {"weight_decay", VT_PARAM_FLOAT, offsetof(det_params, weight_decay), "0.05", VT_PARAM_RANGE_NONE, NULL, 0, false,
     "AdamW decay"},
    {"num_queries", VT_PARAM_INT, offsetof(det_params, num_queries), "100", 1, 1000, NULL, 0, false, "queries"},
    {"optimizer", VT_PARAM_ENUM, offsetof(det_params, optimizer), "adamw", VT_PARAM_RANGE_NONE, optimizers, 0, false,
     "optimizer"},
    {"sizes", VT_PARAM_LIST, offsetof(det_params, sizes), "[224]", 32, 4096, NULL, VT_PARAM_INT, false, "sizes"},
    {"classes", VT_PARAM_LIST, offsetof(det_params, classes), NULL, VT_PARAM_RANGE_NONE, NULL, VT_PARAM_STRING, false,
     "class names"},
    {"scales", VT_PARAM_LIST, offsetof(det_params, scales), "[0.5, 1.0]", VT_PARAM_RANGE_NONE, NULL, VT_PARAM_FLOAT,
     false, "scales"},
    {"amp", VT_PARAM_BOOL, offsetof(det_params, amp), "true", VT_PARAM_RANGE_NONE, NULL, 0, false, "autocast"},
    {"name", VT_PARAM_STRING, offsetof(det_params, name), NULL, VT_PARAM_RANGE_NONE, NULL, 0, false, "label"},
    {"aux", VT_PARAM_MAP, offsetof(det_params, aux), NULL, VT_PARAM_RANGE_NONE, NULL, 0, false, "aux head"},
    VT_PARAM_END,
};

static const char *const ignore_plugin[] = {"plugin", NULL};

static void validate_fails(const char *section, const char *want) {
    vt_cfg *cfg = load_ok(FIXTURE("schema_errors.yaml"));
    const vt_cfg_node *map = vt_cfg_get(vt_cfg_root(cfg), section);
    ck_assert_ptr_nonnull(map);
    det_params p;
    memset(&p, 0xAB, sizeof p); /* validate must not trust what is there */
    vt_err err = {0};
    ck_assert_msg(vt_cfg_validate(map, det_spec, &p, NULL, &err) != VT_OK, "%s validated", section);
    ck_msg_has(err, want);
    ck_assert_ptr_null(p.optimizer); /* nothing left allocated */
    ck_assert_ptr_null(p.sizes.v.i);
    vt_params_free(det_spec, &p); /* and freeing again is harmless */
    vt_cfg_free(cfg);
}

START_TEST(test_validate_fills_params_and_defaults) {
    vt_cfg *cfg = load_ok(FIXTURE("experiment.yaml"));
    const vt_cfg_node *det = vt_cfg_get(vt_cfg_root(cfg), "tasks.det");
    det_params p;
    vt_err err = {0};
    vt_cfg_validate_opts opts = {.ignore_keys = ignore_plugin};
    ck_assert_msg(vt_cfg_validate(det, det_spec, &p, &opts, &err) == VT_OK, "%s", err.msg);
    ck_assert_int_eq(p.batch_size, 16);
    ck_assert_double_eq_tol(p.lr, 1e-4, 1e-15);
    ck_assert_double_eq_tol(p.weight_decay, 0.05, 1e-15);
    ck_assert_int_eq(p.num_queries, 100);
    ck_assert_str_eq(p.optimizer, "adamw");
    ck_assert_uint_eq(p.sizes.n, 2);
    ck_assert_int_eq(p.sizes.v.i[1], 448);
    ck_assert_uint_eq(p.classes.n, 2);
    ck_assert_str_eq(p.classes.v.s[1], "car");
    ck_assert_uint_eq(p.scales.n, 2); /* from the default text */
    ck_assert_double_eq(p.scales.v.f[0], 0.5);
    ck_assert(p.amp);
    ck_assert_ptr_null(p.name);
    ck_assert_ptr_eq(p.aux, vt_cfg_get(det, "aux"));
    vt_params_free(det_spec, &p);
    ck_assert_ptr_null(p.optimizer);
    ck_assert_uint_eq(p.sizes.n, 0);
    vt_cfg_free(cfg);
}
END_TEST

START_TEST(test_unknown_key_did_you_mean) {
    validate_fails("tasks.unknown",
                   "schema_errors.yaml:3:5: unknown key 'batchsize' in tasks.unknown (did you mean 'batch_size'?)");
    /* without a close match the valid keys are listed */
    vt_cfg *cfg = load_ok(FIXTURE("experiment.yaml"));
    det_params p;
    vt_err err = {0};
    ck_assert_int_eq(vt_cfg_validate(vt_cfg_get(vt_cfg_root(cfg), "tasks.det"), det_spec, &p, NULL, &err), VT_EINVAL);
    ck_msg_has(err, "experiment.yaml:9:5: unknown key 'plugin' in tasks.det (valid keys: batch_size, lr,");
    vt_cfg_validate_opts opts = {.allow_unknown = true};
    ck_assert_int_eq(vt_cfg_validate(vt_cfg_get(vt_cfg_root(cfg), "tasks.det"), det_spec, &p, &opts, &err), VT_OK);
    vt_params_free(det_spec, &p);
    vt_cfg_free(cfg);
}
END_TEST

START_TEST(test_wrong_type_names_expected_type) {
    validate_fails("tasks.wrong_type",
                   "schema_errors.yaml:6:17: tasks.wrong_type.batch_size: expected int, got string 'sixteen'");
    validate_fails("tasks.bad_list", "schema_errors.yaml:14:18: tasks.bad_list.sizes[1]: expected int, got string 'big'");
}
END_TEST

START_TEST(test_out_of_range_names_the_range) {
    validate_fails("tasks.out_of_range", "schema_errors.yaml:8:17: tasks.out_of_range.batch_size: 0 is out of range [1, 4096]");
    validate_fails("tasks.list_range", "schema_errors.yaml:16:18: tasks.list_range.sizes[1]: 99999 is out of range [32, 4096]");
    validate_fails("tasks.float_range", "schema_errors.yaml:19:9: tasks.float_range.lr: 2.5 is out of range [0, 1]");
}
END_TEST

START_TEST(test_missing_required_names_section) {
    validate_fails("tasks.missing", "schema_errors.yaml:9:3: missing required key 'batch_size' in tasks.missing");
    det_params p;
    vt_err err = {0};
    vt_cfg_validate_opts opts = {.section = "tasks.det"};
    ck_assert_int_eq(vt_cfg_validate(NULL, det_spec, &p, &opts, &err), VT_EINVAL);
    ck_assert_str_eq(err.msg, "missing required key 'batch_size' in tasks.det");
}
END_TEST

START_TEST(test_enum_choices) {
    validate_fails("tasks.bad_enum", "schema_errors.yaml:12:16: tasks.bad_enum.optimizer: 'adamx' is not one of: "
                                     "adamw, sgd, lamb (did you mean 'adamw'?)");
}
END_TEST

/* A core section: `run:` keys plus `stages:`, a list of maps each validated by the caller. */
typedef struct run_params {
    char *name;
    char *out_dir;
    int64_t seed;
    bool deterministic;
} run_params;
static const vt_param_spec run_spec[] = {
    {"name", VT_PARAM_STRING, offsetof(run_params, name), NULL, VT_PARAM_RANGE_NONE, NULL, 0, true, "run name"},
    {"out_dir", VT_PARAM_STRING, offsetof(run_params, out_dir), "runs", VT_PARAM_RANGE_NONE, NULL, 0, false, "dir"},
    {"seed", VT_PARAM_INT, offsetof(run_params, seed), "0", 0, 4294967295.0, NULL, 0, false, "seed"},
    {"deterministic", VT_PARAM_BOOL, offsetof(run_params, deterministic), "false", VT_PARAM_RANGE_NONE, NULL, 0, false,
     "deterministic kernels"},
    VT_PARAM_END,
};
typedef struct top_params {
    const vt_cfg_node *run, *tasks, *stages;
} top_params;
static const vt_param_spec top_spec[] = {
    {"run", VT_PARAM_MAP, offsetof(top_params, run), NULL, VT_PARAM_RANGE_NONE, NULL, 0, true, "run settings"},
    {"tasks", VT_PARAM_MAP, offsetof(top_params, tasks), NULL, VT_PARAM_RANGE_NONE, NULL, 0, false, "tasks"},
    {"stages", VT_PARAM_SEQ, offsetof(top_params, stages), NULL, VT_PARAM_RANGE_NONE, NULL, VT_PARAM_MAP, false,
     "stages"},
    VT_PARAM_END,
};
typedef struct stage_params {
    char *name;
    int64_t iters;
    int64_t rank;
} stage_params;
static const vt_param_spec stage_spec[] = {
    {"name", VT_PARAM_STRING, offsetof(stage_params, name), NULL, VT_PARAM_RANGE_NONE, NULL, 0, true, "stage"},
    {"iters", VT_PARAM_INT, offsetof(stage_params, iters), NULL, 1, 1e9, NULL, 0, true, "iterations"},
    {"rank", VT_PARAM_INT, offsetof(stage_params, rank), "64", 1, 1024, NULL, 0, false, "LoRA rank"},
    VT_PARAM_END,
};

START_TEST(test_nested_core_sections) {
    vt_cfg *cfg = load_ok(FIXTURE("experiment.yaml"));
    vt_err err = {0};
    top_params top;
    ck_assert_msg(vt_cfg_validate(vt_cfg_root(cfg), top_spec, &top, NULL, &err) == VT_OK, "%s", err.msg);
    run_params run;
    ck_assert_msg(vt_cfg_validate(top.run, run_spec, &run, NULL, &err) == VT_OK, "%s", err.msg);
    ck_assert_str_eq(run.name, "visft-small");
    ck_assert_int_eq(run.seed, 42);
    ck_assert(run.deterministic);
    vt_params_free(run_spec, &run);
    ck_assert_uint_eq(vt_cfg_len(top.stages), 2);
    for (size_t i = 0; i < vt_cfg_len(top.stages); i++) {
        stage_params st;
        ck_assert_msg(vt_cfg_validate(vt_cfg_item(top.stages, i), stage_spec, &st, NULL, &err) == VT_OK, "%s", err.msg);
        ck_assert_int_eq(st.rank, 64);
        vt_params_free(stage_spec, &st);
    }
    ck_assert_int_eq(vt_cfg_set(cfg, "stages[1].iters=0", &err), VT_OK);
    stage_params st;
    ck_assert_int_eq(vt_cfg_validate(vt_cfg_get(vt_cfg_root(cfg), "stages[1]"), stage_spec, &st, NULL, &err),
                     VT_EINVAL);
    ck_msg_has(err, "--set stages[1].iters=0: stages[1].iters: 0 is out of range [1, 1000000000]");
    ck_assert_int_eq(vt_cfg_set(cfg, "stages=[{name: a, iters: 1}, 3]", &err), VT_OK);
    ck_assert_int_eq(vt_cfg_validate(vt_cfg_root(cfg), top_spec, &top, NULL, &err), VT_EINVAL);
    ck_msg_has(err, "--set stages=[{name: a, iters: 1}, 3]: stages[1]: expected map, got int");
    ck_assert_int_eq(vt_cfg_set(cfg, "run=7", &err), VT_OK);
    ck_assert_int_eq(vt_cfg_validate(vt_cfg_root(cfg), top_spec, &top, NULL, &err), VT_EINVAL);
    ck_msg_has(err, "--set run=7: run: expected map, got int");
    vt_cfg_free(cfg);

    /* an absent section gets its defaults; a present but empty one too */
    ck_assert_int_eq(vt_cfg_validate(NULL, stage_spec + 2, &st, NULL, &err), VT_OK);
    ck_assert_int_eq(st.rank, 64);
    const char *text = "run:\n";
    ck_assert_int_eq(vt_cfg_load_string(text, strlen(text), "e.yaml", 0, &cfg, &err), VT_OK);
    ck_assert_int_eq(vt_cfg_validate(vt_cfg_get(vt_cfg_root(cfg), "run"), run_spec, &run, NULL, &err), VT_EINVAL);
    ck_msg_has(err, "e.yaml:1:1: missing required key 'name' in run");
    vt_cfg_free(cfg);
}
END_TEST

START_TEST(test_bad_default_in_spec_is_reported) {
    static const vt_param_spec bad[] = {
        {"n", VT_PARAM_INT, 0, "many", VT_PARAM_RANGE_NONE, NULL, 0, false, "broken default"},
        VT_PARAM_END,
    };
    int64_t n;
    vt_err err = {0};
    vt_cfg_validate_opts opts = {.section = "heads.x"};
    ck_assert_int_eq(vt_cfg_validate(NULL, bad, &n, &opts, &err), VT_EINVAL);
    ck_msg_has(err, "default of heads.x.n: heads.x.n: expected int, got string 'many'");
}
END_TEST

START_TEST(test_top_level_unknown_key) {
    const char *text = "run: {name: a}\nstagse: []\n";
    vt_cfg *cfg = NULL;
    vt_err err = {0};
    ck_assert_int_eq(vt_cfg_load_string(text, strlen(text), "t.yaml", 0, &cfg, &err), VT_OK);
    top_params top;
    ck_assert_int_eq(vt_cfg_validate(vt_cfg_root(cfg), top_spec, &top, NULL, &err), VT_EINVAL);
    ck_assert_str_eq(err.msg, "t.yaml:2:1: unknown key 'stagse' at the top level (did you mean 'stages'?)");
    vt_cfg_free(cfg);
}
END_TEST

START_TEST(test_suggest) {
    const char *c[] = {"batch_size", "lr", "weight_decay", "num_queries"};
    ck_assert_str_eq(vt_suggest("batchsize", c, 4), "batch_size");
    ck_assert_str_eq(vt_suggest("weigth_decay", c, 4), "weight_decay");
    ck_assert_str_eq(vt_suggest("Lr", c, 4), "lr");
    ck_assert_ptr_null(vt_suggest("wd", c, 4));
    ck_assert_ptr_null(vt_suggest("completely_different", c, 4));
}
END_TEST

VT_TEST_MAIN("config_schema", test_validate_fills_params_and_defaults, test_unknown_key_did_you_mean,
             test_wrong_type_names_expected_type, test_out_of_range_names_the_range,
             test_missing_required_names_section, test_enum_choices, test_nested_core_sections,
             test_bad_default_in_spec_is_reported, test_top_level_unknown_key, test_suggest)
