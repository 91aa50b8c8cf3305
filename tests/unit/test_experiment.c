/* The experiment schema (visft/experiment.h): a valid config read into typed sections with defaults
 * filled, and one message per kind of mistake, each a single line naming file:line:col and the key.
 * Plugin sections are checked through the fixture plugins in tests/plugins (good_a: fx_head, fx_data,
 * fx_bench; fx_head/fx_data take fx_specs: flag, n in [1, 10], lr, name (required), mode, sizes). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "visft/config.h"
#include "visft/experiment.h"
#include "visft/registry.h"
#include "vt_test.h"

#ifndef VISFT_FIXTURE_DIR
#define VISFT_FIXTURE_DIR VISFT_BUILD_DIR "/tests/plugins"
#endif
#define DATA(name) VISFT_TEST_DATA_DIR "/experiment/" name

/* Task and stage bits most tests share. */
#define BACKBONE "backbone:\n  preset: tiny\n"
#define TASK_DET                                         \
    "tasks:\n"                                           \
    "  det:\n"                                           \
    "    head: {plugin: fx_head, name: h}\n"             \
    "    dataset: {plugin: fx_data, name: d}\n"

static vt_cfg *load_text(const char *text) {
    vt_cfg *cfg = NULL;
    vt_err err = {0};
    vt_status st = vt_cfg_load_string(text, strlen(text), "exp.yaml", VT_CFG_NO_BASE, &cfg, &err);
    ck_assert_msg(st == VT_OK, "fixture text does not load: %s", err.msg);
    return cfg;
}

/* The fixture plugins, loaded as `visft` would find them through --plugin-path. */
static vt_registry *fixture_registry(void) {
    vt_registry *reg = NULL;
    vt_err err = {0};
    ck_assert_int_eq(vt_registry_create(&reg, &err), VT_OK);
    ck_assert_int_eq(vt_registry_add_path(reg, VISFT_FIXTURE_DIR "/good_a.so", &err), VT_OK);
    ck_assert_int_eq(vt_registry_add_path(reg, VISFT_FIXTURE_DIR "/good_b.so", &err), VT_OK);
    ck_assert_int_eq(vt_registry_load(reg, &err), VT_OK);
    ck_assert_msg(vt_registry_find(reg, VT_COMPONENT_HEAD, "fx_head"),
                  "fixture plugins missing from " VISFT_FIXTURE_DIR " (build target visft_plugin_fixtures)");
    return reg;
}

static vt_experiment *load_ok(const vt_cfg *cfg, vt_registry *reg) {
    vt_experiment *exp = NULL;
    vt_err err = {0};
    vt_status st = vt_experiment_load(cfg, reg, &exp, &err);
    ck_assert_msg(st == VT_OK, "experiment rejected: %s", err.msg);
    ck_assert_ptr_nonnull(exp);
    return exp;
}

/* Loads `text` expecting rejection; every NULL-terminated `want` must be in the one-line message. */
static void fails_with(const char *text, vt_registry *reg, const char *const *want) {
    vt_cfg *cfg = load_text(text);
    vt_experiment *exp = (vt_experiment *)1;
    vt_err err = {0};
    vt_status st = vt_experiment_load(cfg, reg, &exp, &err);
    ck_assert_msg(st != VT_OK, "accepted:\n%s", text);
    ck_assert_ptr_null(exp);
    ck_assert_msg(!strchr(err.msg, '\n'), "message is not one line: %s", err.msg);
    for (; *want; want++) ck_assert_msg(strstr(err.msg, *want), "message \"%s\" lacks \"%s\"", err.msg, *want);
    vt_cfg_free(cfg);
}
#define FAILS(text, ...) fails_with((text), NULL, (const char *const[]){__VA_ARGS__, NULL})
#define FAILS_REG(reg, text, ...) fails_with((text), (reg), (const char *const[]){__VA_ARGS__, NULL})

START_TEST(test_minimal_config_gets_every_default) {
    vt_err err = {0};
    vt_cfg *cfg = NULL;
    ck_assert_int_eq(vt_cfg_load_file(DATA("minimal.yaml"), &cfg, &err), VT_OK);
    vt_experiment *e = load_ok(cfg, NULL);
    ck_assert_str_eq(e->run.name, "visft");
    ck_assert_str_eq(e->run.out_dir, "runs");
    ck_assert_int_eq(e->run.seed, 0);
    ck_assert_str_eq(e->run.device, "cpu");
    ck_assert_int_eq(e->run.cuda_index, -1);
    ck_assert_int_eq(e->run.threads, 0);
    ck_assert_str_eq(e->backbone.preset, "tiny");
    ck_assert_str_eq(e->backbone.checkpoint, "");
    ck_assert_str_eq(e->backbone.key_format, "auto");
    ck_assert_int_eq(e->backbone.image_size, 0);
    ck_assert_ptr_null(e->text);
    ck_assert_uint_eq(e->n_tasks, 0);
    ck_assert_uint_eq(e->n_stages, 0);
    ck_assert_uint_eq(e->n_benchmarks, 0);
    ck_assert_uint_eq(e->plugin_paths.n, 0);
    ck_assert(!e->plugins_checked);
    vt_experiment_free(e);
    vt_cfg_free(cfg);
}
END_TEST

START_TEST(test_full_config_is_typed_and_resolved) {
    vt_err err = {0};
    vt_cfg *cfg = NULL;
    ck_assert_int_eq(vt_cfg_load_file(DATA("full.yaml"), &cfg, &err), VT_OK);
    vt_experiment *e = load_ok(cfg, NULL);
    ck_assert_str_eq(e->run.device, "cuda:1");
    ck_assert_int_eq(e->run.cuda_index, 1);
    ck_assert_int_eq(e->run.seed, 7);
    ck_assert_str_eq(e->backbone.key_format, "open_clip");
    ck_assert_int_eq(vt_cfg_typeof(e->text), VT_CFG_MAP);

    ck_assert_uint_eq(e->n_tasks, 2);
    const vt_exp_task *cls = vt_experiment_task(e, "cls"), *seg = vt_experiment_task(e, "seg");
    ck_assert_ptr_eq(cls, &e->tasks[0]);
    ck_assert_ptr_null(vt_experiment_task(e, "nope"));
    ck_assert_str_eq(cls->head.plugin, "fx_head");
    ck_assert_str_eq(cls->dataset.plugin, "fx_data");
    ck_assert_ptr_null(cls->head.params); /* no registry: names only */
    ck_assert_uint_eq(vt_cfg_len(cls->transforms), 2);
    ck_assert_int_eq(cls->batch_size, 4);
    ck_assert(cls->ratio == 2.0 && cls->loss_weight == 1.0);
    ck_assert(seg->batch_size == 8 && seg->ratio == 1.0 && seg->loss_weight == 0.5);

    ck_assert_uint_eq(e->n_stages, 3);
    const vt_exp_stage *s0 = &e->stages[0], *s1 = &e->stages[1], *s2 = &e->stages[2];
    ck_assert_int_eq(s0->kind, VT_STAGE_HEADS);
    ck_assert_int_eq(s0->optimizer, VT_OPTIM_SGD);
    ck_assert_int_eq(s0->schedule, VT_LR_CONSTANT);
    ck_assert_uint_eq(s0->n_tasks, 2); /* none listed: every task */
    ck_assert(s0->weight_decay == 0.05 && s0->clip_norm == 0.0);
    ck_assert_int_eq(s0->lora.rank, 0); /* not a lora stage */

    ck_assert_int_eq(s1->kind, VT_STAGE_LORA);
    ck_assert_int_eq(s1->optimizer, VT_OPTIM_ADAMW);
    ck_assert_int_eq(s1->schedule, VT_LR_COSINE);
    ck_assert(s1->lr == 1e-4 && s1->min_lr == 1e-6 && s1->warmup == 20);
    ck_assert_uint_eq(s1->n_tasks, 2);
    ck_assert_uint_eq(s1->task_index[0], 1); /* listed order: seg, cls */
    ck_assert_uint_eq(s1->task_index[1], 0);
    ck_assert_int_eq(s1->lora.rank, 8);
    ck_assert(s1->lora.alpha == 16 && s1->lora.dropout == 0.1);
    ck_assert_uint_eq(s1->lora.qkv_mask, 7u);

    ck_assert_int_eq(s2->kind, VT_STAGE_FULL);
    ck_assert_str_eq(vt_stage_kind_name(s2->kind), "full");
    ck_assert_uint_eq(s2->n_tasks, 1);

    ck_assert_uint_eq(e->n_benchmarks, 1);
    ck_assert_str_eq(e->benchmarks[0].plugin, "fx_bench");
    ck_assert_uint_eq(e->plugin_paths.n, 1); /* one path written as a string */
    ck_assert_str_eq(e->plugin_paths.v.s[0], "plugins");
    vt_experiment_free(e);
    vt_cfg_free(cfg);
}
END_TEST

START_TEST(test_lora_stage_without_a_lora_map_gets_the_paper_defaults) {
    vt_cfg *cfg = load_text(BACKBONE TASK_DET "stages:\n  - {kind: lora, iterations: 10}\n");
    vt_experiment *e = load_ok(cfg, NULL);
    const vt_exp_lora *l = &e->stages[0].lora;
    ck_assert_int_eq(l->rank, 64);
    ck_assert(l->alpha == 1.0 && l->dropout == 0.0);
    ck_assert_uint_eq(l->targets.n, 2);
    ck_assert_str_eq(l->targets.v.s[0], "q");
    ck_assert_str_eq(l->targets.v.s[1], "v");
    ck_assert_uint_eq(l->qkv_mask, 5u); /* q and v of the fused qkv */
    vt_experiment_free(e);
    vt_cfg_free(cfg);
}
END_TEST

START_TEST(test_unknown_top_level_key_suggests_the_section) {
    FAILS(BACKBONE "stagse: []\n", "exp.yaml:3:1: unknown key 'stagse' at the top level (did you mean 'stages'?)");
    FAILS(BACKBONE "optimizer: adamw\n", "exp.yaml:3:1: unknown key 'optimizer' at the top level (valid keys: run,");
}
END_TEST

START_TEST(test_unknown_key_in_a_section_suggests_the_key) {
    FAILS(BACKBONE TASK_DET "stages:\n  - kind: heads\n    iterations: 1\n    lrr: 0.1\n",
          "exp.yaml:10:5: unknown key 'lrr' in stages[0] (did you mean 'lr'?)");
    FAILS("run:\n  sead: 1\n" BACKBONE, "exp.yaml:2:3: unknown key 'sead' in run (did you mean 'seed'?)");
    FAILS(BACKBONE TASK_DET "    batchsize: 4\n",
          "exp.yaml:7:5: unknown key 'batchsize' in tasks.det (did you mean 'batch_size'?)");
    FAILS(BACKBONE TASK_DET "stages:\n  - kind: lora\n    iterations: 1\n    lora: {rnak: 8}\n",
          "unknown key 'rnak' in stages[0].lora (did you mean 'rank'?)", "exp.yaml:10:12:");
}
END_TEST

START_TEST(test_wrong_type_names_the_key_and_types) {
    FAILS("run: {seed: abc}\n" BACKBONE, "exp.yaml:1:13: run.seed: expected int, got string");
    FAILS(BACKBONE TASK_DET "stages:\n  - {kind: heads, iterations: 1.5}\n",
          "exp.yaml:8:31: stages[0].iterations: expected int, got float");
    FAILS(BACKBONE "stages: {kind: heads}\n", "exp.yaml:3:9: stages: expected a list of maps, got map");
    FAILS(BACKBONE "stages: [heads]\n", "stages[0]: expected map, got string");
    FAILS(BACKBONE "tasks: [det]\n", "exp.yaml:3:8: tasks: expected map, got list");
    FAILS(BACKBONE TASK_DET "    transforms: flip\n", "tasks.det.transforms: expected list, got string");
    FAILS("backbone: tiny\n", "exp.yaml:1:11: backbone: expected map, got string");
    FAILS(BACKBONE "plugin_paths: [{a: 1}]\n", "plugin_paths[0]: expected string, got map");
    FAILS(BACKBONE TASK_DET "stages:\n  - {kind: lora, iterations: 1, lora: {targets: q}}\n",
          "stages[0].lora.targets: expected a list of string, got string");
}
END_TEST

START_TEST(test_out_of_range_and_bad_choices_say_what_is_allowed) {
    FAILS("run: {threads: 2000}\n" BACKBONE, "exp.yaml:1:16: run.threads: 2000 is out of range [0, 1024]");
    FAILS("run: {seed: -1}\n" BACKBONE, "run.seed: -1 is out of range [0, inf]");
    FAILS(BACKBONE "  key_format: openclip\n",
          "exp.yaml:3:15: backbone.key_format: 'openclip' is not one of: auto, timm, open_clip, eva_clip, lavis "
          "(did you mean 'open_clip'?)");
    FAILS(BACKBONE TASK_DET "    batch_size: 0\n", "exp.yaml:7:17: tasks.det.batch_size: 0 is out of range [1, inf]");
    FAILS(BACKBONE TASK_DET "    ratio: -1\n", "tasks.det.ratio: -1 is out of range [0, inf]");
    FAILS(BACKBONE TASK_DET "    loss_weight: .inf\n", "exp.yaml:7:18: tasks.det.loss_weight: must be finite");
    FAILS(BACKBONE TASK_DET "stages:\n  - {kind: heads, iterations: 1, lr: 0}\n",
          "exp.yaml:8:38: stages[0].lr: must be > 0, got 0");
    FAILS(BACKBONE TASK_DET "stages:\n  - {kind: heads, iterations: 1, lr: .nan}\n", "stages[0].lr: ");
    FAILS(BACKBONE TASK_DET "stages:\n  - {kind: heads, iterations: 10, lr: 0.1, min_lr: 0.5}\n",
          "stages[0].min_lr: 0.5 is above lr 0.1");
    FAILS(BACKBONE TASK_DET "stages:\n  - {kind: heads, iterations: 10, warmup: 11}\n",
          "stages[0].warmup: 11 steps is more than the stage's 10 iterations");
    FAILS(BACKBONE TASK_DET "stages:\n  - {kind: head, iterations: 1}\n",
          "exp.yaml:8:12: stages[0].kind: 'head' is not one of: heads, lora, full (did you mean 'heads'?)");
    FAILS(BACKBONE TASK_DET "stages:\n  - {kind: heads, iterations: 1, optimizer: adam}\n",
          "stages[0].optimizer: 'adam' is not one of: adamw, sgd (did you mean 'adamw'?)");
    FAILS(BACKBONE TASK_DET "stages:\n  - {kind: lora, iterations: 1, lora: {dropout: 1}}\n",
          "stages[0].lora.dropout: must be below 1, got 1");
    FAILS(BACKBONE TASK_DET "stages:\n  - {kind: lora, iterations: 1, lora: {alpha: 0}}\n",
          "stages[0].lora.alpha: must be > 0, got 0");
    FAILS(BACKBONE TASK_DET "stages:\n  - {kind: lora, iterations: 1, lora: {rank: 0}}\n",
          "stages[0].lora.rank: 0 is out of range [1, 2147483647]");
    FAILS(BACKBONE TASK_DET "stages:\n  - {kind: lora, iterations: 1, lora: {targets: [q, vv]}}\n",
          "exp.yaml:8:53: stages[0].lora.targets[1]: 'vv' is not one of: q, k, v");
    FAILS(BACKBONE TASK_DET "stages:\n  - {kind: lora, iterations: 1, lora: {targets: []}}\n",
          "stages[0].lora.targets: needs at least one of q, k, v");
}
END_TEST

START_TEST(test_device_must_be_cpu_or_cuda_n) {
    FAILS("run: {device: gpu}\n" BACKBONE, "exp.yaml:1:15: run.device: 'gpu' is not a device (expected cpu or cuda:N)");
    const char *bad[] = {"cuda:", "cuda:x", "cuda:-1", "cuda:1a", "CPU", "cuda:123456"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[128];
        snprintf(text, sizeof text, "run: {device: '%s'}\n" BACKBONE, bad[i]);
        FAILS(text, "run.device: ", "is not a device");
    }
    vt_cfg *cfg = load_text("run: {device: 'cuda:2'}\n" BACKBONE);
    vt_experiment *e = load_ok(cfg, NULL);
    ck_assert_int_eq(e->run.cuda_index, 2);
    vt_experiment_free(e);
    vt_cfg_free(cfg);
    cfg = load_text("run: {device: cuda}\n" BACKBONE); /* cuda alone is cuda:0 */
    e = load_ok(cfg, NULL);
    ck_assert_int_eq(e->run.cuda_index, 0);
    vt_experiment_free(e);
    vt_cfg_free(cfg);
}
END_TEST

START_TEST(test_missing_required_keys_are_named_where_they_belong) {
    FAILS("run: {seed: 1}\n", "exp.yaml:1:1: missing required key 'backbone' at the top level");
    FAILS("backbone:\n  image_size: 224\n", "exp.yaml:1:1: missing required key 'preset' in backbone");
    FAILS("backbone:\n", "exp.yaml:1:1: missing required key 'preset' in backbone");
    FAILS("backbone: {preset: ''}\n", "exp.yaml:1:20: backbone.preset: must be a non-empty string");
    FAILS(BACKBONE TASK_DET "stages:\n  - iterations: 3\n", "exp.yaml:8:5: missing required key 'kind' in stages[0]");
    FAILS(BACKBONE TASK_DET "stages:\n  - kind: heads\n", "missing required key 'iterations' in stages[0]");
    FAILS(BACKBONE "tasks:\n  det:\n    dataset: {plugin: fx_data}\n",
          "exp.yaml:4:3: missing required key 'head' in tasks.det");
    FAILS(BACKBONE "tasks:\n  det:\n    head:\n    dataset: {plugin: fx_data}\n",
          "exp.yaml:5:5: missing required key 'plugin' in tasks.det.head");
    FAILS(BACKBONE "tasks:\n  det:\n    head: {plugin: ''}\n    dataset: {plugin: fx_data}\n",
          "exp.yaml:5:20: tasks.det.head.plugin: must name a head plugin");
    FAILS(BACKBONE "benchmarks:\n  - {name: x}\n", "missing required key 'plugin' in benchmarks[0]");
}
END_TEST

START_TEST(test_stage_naming_an_unknown_task_suggests_one) {
    vt_err err = {0};
    vt_cfg *cfg = NULL;
    ck_assert_int_eq(vt_cfg_load_file(DATA("unknown_task.yaml"), &cfg, &err), VT_OK);
    vt_experiment *e = (vt_experiment *)1;
    ck_assert_int_ne(vt_experiment_load(cfg, NULL, &e, &err), VT_OK);
    ck_assert_ptr_null(e);
    ck_assert_str_eq(err.msg, DATA("unknown_task.yaml") ":10:18: stages[0].tasks[1]: no task 'clss' (did you "
                                                        "mean 'cls'?)");
    vt_cfg_free(cfg);

    FAILS(BACKBONE TASK_DET "stages:\n  - {kind: heads, iterations: 1, tasks: [det, det]}\n",
          "exp.yaml:8:47: stages[0].tasks[1]: task 'det' is listed twice");
    FAILS(BACKBONE "stages:\n  - {kind: heads, iterations: 1, tasks: [det]}\n",
          "stages[0].tasks[0]: no task 'det' (the config has no tasks)");
    FAILS(BACKBONE "stages:\n  - {kind: heads, iterations: 1}\n",
          "exp.yaml:4:5: stages[0]: no tasks to train (the config's tasks: is empty)");
}
END_TEST

START_TEST(test_lora_map_only_on_a_lora_stage) {
    FAILS(BACKBONE TASK_DET "stages:\n  - kind: heads\n    iterations: 1\n    lora: {rank: 8}\n",
          "exp.yaml:10:5: stages[0].lora: only a lora stage takes a lora map (this stage is heads)");
    FAILS(BACKBONE TASK_DET "stages:\n  - {kind: full, iterations: 1, lora: {}}\n",
          "stages[0].lora: only a lora stage takes a lora map (this stage is full)");
}
END_TEST

START_TEST(test_sampling_stages_need_a_positive_ratio) {
    FAILS(BACKBONE TASK_DET "    ratio: 0\nstages:\n  - {kind: lora, iterations: 1}\n",
          "exp.yaml:9:5: stages[0]: the ratios of its tasks sum to 0 (a lora stage samples its tasks by ratio)");
    /* heads stages train each task on its own: a zero ratio is fine there */
    vt_cfg *cfg = load_text(BACKBONE TASK_DET "    ratio: 0\nstages:\n  - {kind: heads, iterations: 1}\n");
    vt_experiment *e = load_ok(cfg, NULL);
    vt_experiment_free(e);
    vt_cfg_free(cfg);
}
END_TEST

START_TEST(test_plugin_params_are_validated_through_the_registry) {
    vt_registry *reg = fixture_registry();
    vt_err err = {0};
    vt_cfg *cfg = NULL;
    ck_assert_int_eq(vt_cfg_load_file(DATA("full.yaml"), &cfg, &err), VT_OK);
    vt_experiment *e = load_ok(cfg, reg);
    ck_assert(e->plugins_checked);
    const vt_exp_task *cls = &e->tasks[0];
    ck_assert_ptr_nonnull(cls->head.comp);
    ck_assert_str_eq(cls->head.comp->name, "fx_head");
    ck_assert_int_eq(cls->head.comp->kind, VT_COMPONENT_HEAD);
    ck_assert_str_eq(cls->dataset.comp->name, "fx_data");
    /* the fixture's params struct starts: bool flag; int64_t n; double lr; char *name; char *mode; */
    typedef struct {
        bool flag;
        int64_t n;
        double lr;
        char *name;
        char *mode;
    } fx_prefix;
    const fx_prefix *hp = cls->head.params, *dp = cls->dataset.params;
    ck_assert_int_eq(hp->n, 5);
    ck_assert_str_eq(hp->name, "cls_head");
    ck_assert_str_eq(hp->mode, "fast"); /* default from the plugin's spec */
    ck_assert(hp->lr == 0.5);
    ck_assert_str_eq(dp->mode, "slow");
    ck_assert_int_eq(((const fx_prefix *)e->tasks[1].head.params)->n, 3);
    ck_assert_ptr_nonnull(e->benchmarks[0].comp);
    ck_assert_ptr_nonnull(e->benchmarks[0].params); /* a component without params still gets a block */
    vt_experiment_free(e);
    vt_cfg_free(cfg);
    vt_registry_destroy(reg);
}
END_TEST

START_TEST(test_unknown_plugin_names_suggest_the_nearest_component) {
    vt_registry *reg = fixture_registry();
    FAILS_REG(reg, BACKBONE "tasks:\n  det:\n    head: {plugin: fx_haed, name: h}\n    dataset: {plugin: fx_data, name: d}\n",
              "exp.yaml:5:20: tasks.det.head.plugin: no head plugin 'fx_haed' (did you mean 'fx_head'?)");
    FAILS_REG(reg, BACKBONE "tasks:\n  det:\n    head: {plugin: fx_head, name: h}\n    dataset: {plugin: fx_head, name: d}\n",
              "exp.yaml:6:23: tasks.det.dataset.plugin: no dataset plugin 'fx_head'");
    FAILS_REG(reg, BACKBONE "benchmarks:\n  - plugin: fx_bnch\n",
              "exp.yaml:4:13: benchmarks[0].plugin: no benchmark plugin 'fx_bnch' (did you mean 'fx_bench'?)");
    /* without a registry the names are not looked up */
    vt_cfg *cfg = load_text(BACKBONE "benchmarks:\n  - plugin: fx_bnch\n    anything: 1\n");
    vt_experiment *e = load_ok(cfg, NULL);
    ck_assert_ptr_null(e->benchmarks[0].comp);
    vt_experiment_free(e);
    vt_cfg_free(cfg);
    vt_registry_destroy(reg);
}
END_TEST

START_TEST(test_plugin_param_errors_name_file_line_col_and_key) {
    vt_registry *reg = fixture_registry();
    FAILS_REG(reg, BACKBONE "tasks:\n  det:\n    head: {plugin: fx_head, name: h, n: abc}\n    dataset: {plugin: fx_data, name: d}\n",
              "exp.yaml:5:41: tasks.det.head.n: expected int, got string 'abc'");
    FAILS_REG(reg, BACKBONE "tasks:\n  det:\n    head: {plugin: fx_head, name: h, n: 11}\n    dataset: {plugin: fx_data, name: d}\n",
              "exp.yaml:5:41: tasks.det.head.n: 11 is out of range [1, 10]");
    FAILS_REG(reg, BACKBONE "tasks:\n  det:\n    head: {plugin: fx_head, name: h}\n    dataset: {plugin: fx_data, nmae: d}\n",
              "exp.yaml:6:32: unknown key 'nmae' in tasks.det.dataset (did you mean 'name'?)");
    FAILS_REG(reg, BACKBONE "tasks:\n  det:\n    head: {plugin: fx_head}\n    dataset: {plugin: fx_data, name: d}\n",
              "exp.yaml:5:5: missing required key 'name' in tasks.det.head");
    FAILS_REG(reg, BACKBONE "benchmarks:\n  - plugin: fx_bench\n    top_k: 5\n",
              "exp.yaml:5:5: unknown key 'top_k' in benchmarks[0] (no keys are accepted here)");
    vt_registry_destroy(reg);
}
END_TEST

START_TEST(test_override_errors_name_the_override) {
    vt_cfg *cfg = load_text(BACKBONE);
    vt_err err = {0};
    ck_assert_int_eq(vt_cfg_set(cfg, "run.seed=-1", &err), VT_OK);
    vt_experiment *e = (vt_experiment *)1;
    ck_assert_int_ne(vt_experiment_load(cfg, NULL, &e, &err), VT_OK);
    ck_assert_str_eq(err.msg, "--set run.seed=-1: run.seed: -1 is out of range [0, inf]");
    vt_cfg_free(cfg);
}
END_TEST

/* Odd shapes anywhere in the tree are rejected with a one-line message, never a crash. */
START_TEST(test_malformed_shapes_fail_cleanly) {
    vt_registry *reg = fixture_registry();
    const char *bad[] = {
        "backbone: []\n",
        "backbone: {preset: [a]}\n",
        "backbone: {preset: tiny}\ntext: 3\n",
        "backbone: {preset: tiny}\nrun: [1]\n",
        "backbone: {preset: tiny}\ntasks:\n  det: 3\n",
        "backbone: {preset: tiny}\ntasks:\n  det:\n",
        "backbone: {preset: tiny}\ntasks:\n  det: {head: [], dataset: {plugin: fx_data}}\n",
        "backbone: {preset: tiny}\ntasks:\n  det: {head: {plugin: [x]}, dataset: {plugin: fx_data}}\n",
        "backbone: {preset: tiny}\nstages: [[]]\n",
        "backbone: {preset: tiny}\nstages: [{kind: lora, iterations: 1, lora: []}]\n",
        "backbone: {preset: tiny}\nstages: [{kind: lora, iterations: 1, tasks: 3}]\n",
        "backbone: {preset: tiny}\nstages: [{kind: lora, iterations: 1, tasks: [[a]]}]\n",
        "backbone: {preset: tiny}\nbenchmarks: [3]\n",
        "backbone: {preset: tiny}\nbenchmarks: [{}]\n",
        "backbone: {preset: tiny}\nbenchmarks: {plugin: fx_bench}\n",
        "backbone: {preset: tiny}\nplugin_paths: {a: b}\n",
        "backbone: {preset: tiny}\nplugin_paths: [a, null]\n",
        "backbone: {preset: tiny}\nrun: {name: null}\n",
        "backbone: {preset: tiny}\nrun: {device: null}\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fails_with(bad[i], NULL, (const char *const[]){"exp.yaml:", NULL});
        fails_with(bad[i], reg, (const char *const[]){"exp.yaml:", NULL});
    }
    /* plugin params are only read with a registry */
    const char *bad_params[] = {
        "backbone: {preset: tiny}\ntasks:\n  det: {head: {plugin: fx_head, name: h, sizes: {a: 1}}, dataset: {plugin: fx_data}}\n",
        "backbone: {preset: tiny}\ntasks:\n  det: {head: {plugin: fx_head, name: h, sizes: [1, [2]]}, dataset: {plugin: fx_data}}\n",
        "backbone: {preset: tiny}\ntasks:\n  det: {head: {plugin: fx_head, name: {x: 1}}, dataset: {plugin: fx_data}}\n",
        "backbone: {preset: tiny}\ntasks:\n  det: {head: {plugin: fx_head, name: h, flag: 1}, dataset: {plugin: fx_data}}\n",
        "backbone: {preset: tiny}\nbenchmarks: [{plugin: fx_head}]\n",
    };
    for (size_t i = 0; i < sizeof bad_params / sizeof bad_params[0]; i++)
        fails_with(bad_params[i], reg, (const char *const[]){"exp.yaml:", NULL});
    vt_experiment *e = (vt_experiment *)1;
    vt_err err = {0};
    ck_assert_int_ne(vt_experiment_load(NULL, NULL, &e, &err), VT_OK);
    ck_assert_ptr_null(e);
    vt_experiment_free(NULL);
    vt_registry_destroy(reg);
}
END_TEST

VT_TEST_MAIN("experiment", test_minimal_config_gets_every_default, test_full_config_is_typed_and_resolved,
             test_lora_stage_without_a_lora_map_gets_the_paper_defaults,
             test_unknown_top_level_key_suggests_the_section, test_unknown_key_in_a_section_suggests_the_key,
             test_wrong_type_names_the_key_and_types, test_out_of_range_and_bad_choices_say_what_is_allowed,
             test_device_must_be_cpu_or_cuda_n, test_missing_required_keys_are_named_where_they_belong,
             test_stage_naming_an_unknown_task_suggests_one, test_lora_map_only_on_a_lora_stage,
             test_sampling_stages_need_a_positive_ratio, test_plugin_params_are_validated_through_the_registry,
             test_unknown_plugin_names_suggest_the_nearest_component,
             test_plugin_param_errors_name_file_line_col_and_key, test_override_errors_name_the_override,
             test_malformed_shapes_fail_cleanly)
