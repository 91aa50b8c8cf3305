/* The trainer (visft/trainer.h): task draws, NaN/Inf skipping and its patience, stage freezing, the
 * before/after report — on the tiny backbone with the shapes dataset and the linear_cls head. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/testutil.h"
#include "visft/config.h"
#include "visft/experiment.h"
#include "visft/json.h"
#include "visft/trainer.h"
#include "vt_test.h"

static const char *const EXP_YAML =
    "run: {name: t, out_dir: /tmp, seed: 3, threads: 1}\n"
    "backbone: {preset: tiny}\n"
    "tasks:\n"
    "  cls:\n"
    "    head: {plugin: linear_cls, num_classes: 8}\n"
    "    dataset: {plugin: shapes, image_size: 32, train_size: 64, label: dominant_shape}\n"
    "    transforms: [{normalize: {mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25]}}]\n"
    "    batch_size: 8\n"
    "stages:\n"
    "  - {kind: heads, iterations: 6, lr: 0.01}\n"
    "  - {kind: lora, iterations: 6, lr: 0.001, lora: {rank: 2, alpha: 4}}\n";

typedef struct fixture {
    vt_cfg *cfg;
    vt_registry *reg;
    vt_experiment *exp;
    vt_err err;
} fixture;

static void setup(fixture *f, const char *yaml) {
    memset(f, 0, sizeof *f);
    ck_assert_int_eq(vt_cfg_load_string(yaml, strlen(yaml), "t.yaml", VT_CFG_NO_BASE, &f->cfg, &f->err), VT_OK);
    ck_assert_int_eq(vt_registry_create(&f->reg, &f->err), VT_OK);
    ck_assert_int_eq(vt_registry_add_path(f->reg, VISFT_BUILD_DIR "/plugins", &f->err), VT_OK);
    ck_assert_int_eq(vt_registry_load(f->reg, &f->err), VT_OK);
    ck_assert_msg(vt_experiment_load(f->cfg, f->reg, &f->exp, &f->err) == VT_OK,
                  "%s (are the linear_cls and shapes plugins built?)", f->err.msg);
}

static void teardown(fixture *f) {
    vt_experiment_free(f->exp);
    vt_registry_destroy(f->reg);
    vt_cfg_free(f->cfg);
}

/* Steps listed in nan_steps (until a negative) get a NaN loss. */
static double poison(void *user, int64_t step, double loss) {
    for (const int64_t *s = user; *s >= 0; s++)
        if (*s == step) return NAN;
    return loss;
}

static vt_trainer_opts quiet_opts(void) {
    vt_trainer_opts o = vt_trainer_defaults();
    o.workers = 0; /* batches on the caller's thread: deterministic and cheap */
    return o;
}

START_TEST(test_task_draw_is_pure_and_follows_ratios) {
    const double r[3] = {1, 0, 3};
    size_t count[3] = {0};
    for (int64_t s = 0; s < 4000; s++) {
        size_t k = vt_trainer_sample_task(11, s, r, 3);
        ck_assert_uint_lt(k, 3);
        ck_assert_uint_eq(k, vt_trainer_sample_task(11, s, r, 3)); /* same on every rank */
        count[k]++;
    }
    ck_assert_uint_eq(count[1], 0); /* ratio 0: never */
    double frac = (double)count[2] / 4000;
    ck_assert_msg(frac > 0.72 && frac < 0.78, "task 2 drawn %.3f of the time, expected 0.75", frac);
    /* Another seed gives another sequence. */
    int diff = 0;
    for (int64_t s = 0; s < 64; s++) diff += vt_trainer_sample_task(11, s, r, 3) != vt_trainer_sample_task(12, s, r, 3);
    ck_assert_int_gt(diff, 0);
    const double zero[2] = {0, 0};
    ck_assert_uint_lt(vt_trainer_sample_task(1, 5, zero, 2), 2); /* all zero: uniform, still in range */
    ck_assert_uint_eq(vt_trainer_sample_task(1, 5, r, 1), 0);
}
END_TEST

/* All values of a tensor list, concatenated (contiguous f32 parameters). */
static float *snapshot(const vt_tensor_list *l, size_t *n) {
    *n = (size_t)vt_tensor_list_numel(l);
    float *v = malloc(*n * sizeof *v + 1), *p = v;
    for (size_t i = 0; i < l->n; i++) {
        size_t k = (size_t)vt_numel(l->items[i].tensor);
        memcpy(p, vt_f32(l->items[i].tensor), k * sizeof *v);
        p += k;
    }
    return v;
}

typedef struct between {
    vt_trainer *t;
    float *heads;
    size_t n;
} between;

/* At the first lora step (global step 6), keeps the heads as stage 1 left them. */
static double at_stage2(void *user, int64_t step, double loss) {
    between *b = user;
    if (step == 6 && !b->heads) {
        vt_tensor_list h;
        vt_tensor_list_init(&h);
        vt_err err;
        ck_assert_int_eq(vt_trainer_head_params(b->t, &h, &err), VT_OK);
        b->heads = snapshot(&h, &b->n);
        vt_tensor_list_free(&h);
    }
    return loss;
}

START_TEST(test_stages_train_only_what_they_should) {
    fixture f;
    setup(&f, EXP_YAML);
    vt_trainer_opts o = quiet_opts();
    between b = {0};
    o.loss_hook = at_stage2;
    o.hook_user = &b;
    vt_trainer *t;
    ck_assert_msg(vt_trainer_create(f.exp, f.reg, &o, &t, &f.err) == VT_OK, "%s", f.err.msg);
    b.t = t;
    vt_vit *m = vt_trainer_backbone(t);
    vt_tensor_list heads;
    vt_tensor_list_init(&heads);
    ck_assert_int_eq(vt_trainer_head_params(t, &heads, &f.err), VT_OK);
    size_t nb, nh, n;
    float *bb0 = snapshot(&m->params, &nb), *h0 = snapshot(&heads, &nh);
    ck_assert_msg(vt_trainer_run_stages(t, &f.err) == VT_OK, "%s", f.err.msg);
    float *bb1 = snapshot(&m->params, &n), *h2 = snapshot(&heads, &n);
    ck_assert_msg(memcmp(bb0, bb1, nb * sizeof(float)) == 0, "backbone weights changed (they are frozen)");
    ck_assert_ptr_nonnull(b.heads);
    ck_assert_msg(memcmp(h0, b.heads, nh * sizeof(float)) != 0, "the heads stage did not train the head");
    ck_assert_msg(memcmp(b.heads, h2, nh * sizeof(float)) == 0, "the lora stage changed the frozen head");
    const vt_tensor_list *lora = vt_trainer_lora_params(t);
    ck_assert_uint_eq(lora->n, 2u * 2u * 2u); /* 2 blocks x (q, v) x (A, B) */
    double bsum = 0;
    for (size_t i = 0; i < lora->n; i++)
        if (strstr(lora->items[i].name, "B"))
            for (int64_t k = 0; k < vt_numel(lora->items[i].tensor); k++) bsum += fabs(vt_f32(lora->items[i].tensor)[k]);
    ck_assert_msg(bsum > 0, "LoRA B matrices are still zero: the lora stage trained nothing");
    vt_trainer_stats st = vt_trainer_get_stats(t);
    ck_assert_int_eq(st.steps, 12);
    ck_assert_int_eq(st.skipped, 0);
    ck_assert(isfinite(st.last_loss));
    ck_assert(st.timing.total_s > 0 && st.timing.fwd_bwd_s > 0 && st.timing.overhead_s >= 0);
    ck_assert(st.timing.data_s + st.timing.fwd_bwd_s + st.timing.optim_s <= st.timing.total_s + 1e-9);
    free(bb0), free(bb1), free(h0), free(h2), free(b.heads);
    vt_tensor_list_free(&heads);
    vt_trainer_destroy(t);
    teardown(&f);
}
END_TEST

START_TEST(test_nan_steps_are_skipped_and_counted) {
    fixture f;
    setup(&f, EXP_YAML);
    int64_t bad[] = {2, 3, 7, 8, 9, 10, -1}; /* two runs, each shorter than the patience of 5 */
    vt_trainer_opts o = quiet_opts();
    o.loss_hook = poison;
    o.hook_user = bad;
    vt_trainer *t;
    ck_assert_int_eq(vt_trainer_create(f.exp, f.reg, &o, &t, &f.err), VT_OK);
    vt_vit *m = vt_trainer_backbone(t);
    ck_assert_msg(vt_trainer_run_stages(t, &f.err) == VT_OK, "%s", f.err.msg);
    vt_trainer_stats st = vt_trainer_get_stats(t);
    ck_assert_int_eq(st.steps, 12);
    ck_assert_int_eq(st.skipped, 6);
    ck_assert(isfinite(st.last_loss));
    for (size_t i = 0; i < m->params.n; i++) /* nothing non-finite ever reached the weights */
        for (int64_t k = 0; k < vt_numel(m->params.items[i].tensor); k++)
            ck_assert(isfinite(vt_f32(m->params.items[i].tensor)[k]));
    vt_trainer_destroy(t);
    teardown(&f);
}
END_TEST

START_TEST(test_k_nan_steps_in_a_row_stop_the_run) {
    fixture f;
    setup(&f, EXP_YAML);
    int64_t bad[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, -1};
    vt_trainer_opts o = quiet_opts();
    o.loss_hook = poison;
    o.hook_user = bad;
    o.nan_patience = 3;
    vt_trainer *t;
    ck_assert_int_eq(vt_trainer_create(f.exp, f.reg, &o, &t, &f.err), VT_OK);
    ck_assert_int_ne(vt_trainer_run_stages(t, &f.err), VT_OK);
    ck_assert_msg(strstr(f.err.msg, "3 non-finite steps in a row"), "%s", f.err.msg);
    ck_assert_msg(strstr(f.err.msg, "stages[0]"), "%s", f.err.msg);
    vt_trainer_stats st = vt_trainer_get_stats(t);
    ck_assert_int_eq(st.skipped, 3);
    ck_assert_int_eq(st.steps, 4); /* step 0 good, then 1, 2, 3 bad: stopped */
    vt_trainer_destroy(t);
    teardown(&f);
}
END_TEST

START_TEST(test_results_json_and_table) {
    vt_bench_values before = {0}, after = {0};
    vt_bench_value bv[2] = {{"lp", "acc1", 0.25}, {"lp", "acc5", 0.5}}, av[2] = {{"lp", "acc1", 0.5}, {"lp", "acc5", NAN}};
    before.v = bv, before.n = 2, after.v = av, after.n = 2;
    char path[] = "/tmp/vt_trainer_results_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    vt_err err;
    ck_assert_int_eq(vt_trainer_write_results(path, "r\"1", &before, &after, &err), VT_OK);
    vt_json_doc *doc;
    ck_assert_msg(vt_json_parse_file(path, NULL, &doc, &err) == VT_OK, "%s", err.msg);
    const vt_json *root = vt_json_root(doc);
    ck_assert_str_eq(vt_json_string(vt_json_get(root, "run")), "r\"1");
    ck_assert_double_eq(vt_json_number(vt_json_get(vt_json_get(vt_json_get(root, "delta"), "lp"), "acc1")), 0.25);
    ck_assert(vt_json_is_null(vt_json_get(vt_json_get(vt_json_get(root, "after"), "lp"), "acc5")));
    vt_json_doc_free(doc);
    remove(path);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    vt_trainer_print_table(f, &before, &after);
    fclose(f);
    ck_assert_msg(strstr(buf, "+0.2500"), "%s", buf);
    free(buf);
    ck_assert_int_ne(vt_trainer_write_results("/nonexistent-dir/x.json", "r", &before, NULL, &err), VT_OK);
    ck_assert_msg(strstr(err.msg, "/nonexistent-dir"), "%s", err.msg);
}
END_TEST

VT_TEST_MAIN("trainer", test_task_draw_is_pure_and_follows_ratios, test_stages_train_only_what_they_should,
             test_nan_steps_are_skipped_and_counted, test_k_nan_steps_in_a_row_stop_the_run, test_results_json_and_table)
