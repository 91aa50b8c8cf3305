/* coco_detection, loaded from the build tree with the shapes dataset and a fake model whose predict hook
 * returns the batch's own ground-truth boxes (a perfect detector: AP 1), nothing (AP 0), or shifted boxes
 * (AP50 only partly); bad params, unknown datasets/tasks and hosts without the hook are clear errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "visft/batch.h"
#include "visft/config.h"
#include "visft/model.h"
#include "visft/registry.h"
#include "visft/visft.h"
#include "support/bench_fixture.h"
#include "vt_test.h"

enum { PERFECT, EMPTY, SHIFTED };
static int mode;
static vt_named_tensor outs[4];

/* The ground truth as detections: boxes_xyxy -> xywh, score 1 (SHIFTED: moved by a box width). */
static vt_status fake_predict(vt_model *m, vt_ctx *ctx, const char *task, const vt_batch *b,
                              vt_named_tensors *outputs, vt_err *err) {
    (void)m;
    if (strcmp(task, "det") != 0) return vt_err_set(err, VT_EINVAL, "predict: no task '%s' (tasks: det)", task);
    vt_tensor *xy = vt_batch_target(b, "boxes_xyxy"), *bl = vt_batch_target(b, "box_labels");
    vt_tensor *bi = vt_batch_target(b, "box_image");
    int64_t K = mode == EMPTY ? 0 : xy->shape[0];
    vt_tensor *bx = vt_zeros(ctx, VT_F32, VT_SHAPE(K, 4)), *sc = vt_zeros(ctx, VT_F32, VT_SHAPE(K));
    vt_tensor *lb = vt_zeros(ctx, VT_I64, VT_SHAPE(K)), *im = vt_zeros(ctx, VT_I64, VT_SHAPE(K));
    for (int64_t k = 0; k < K; k++) {
        const float *q = vt_f32(xy) + 4 * k;
        float *o = vt_f32(bx) + 4 * k;
        o[0] = q[0] + (mode == SHIFTED && k % 2 ? q[2] - q[0] : 0);
        o[1] = q[1];
        o[2] = q[2] - q[0];
        o[3] = q[3] - q[1];
        vt_f32(sc)[k] = 1.0f - 0.001f * (float)k;
        vt_i64(lb)[k] = vt_i64(bl)[k];
        vt_i64(im)[k] = vt_i64(bi)[k];
    }
    outs[0] = (vt_named_tensor){"boxes", bx, 0};
    outs[1] = (vt_named_tensor){"scores", sc, 0};
    outs[2] = (vt_named_tensor){"labels", lb, 0};
    outs[3] = (vt_named_tensor){"box_image", im, 0};
    outputs->items = outs;
    outputs->n = 4;
    return VT_OK;
}

static vt_status bench_open(bench_t *t, const char *yaml, const vt_host *host, vt_err *err) {
    return bench_open_named(t, "coco_detection", yaml, host, err);
}

static vt_model fake_model(vt_registry *reg) {
    vt_model m = {.struct_size = sizeof m, .name = "fake", .stage = "before", .width = 8, .embed_dim = 8,
                  .image_size = 32, .patch_size = 8, .mean = {0.5f, 0.5f, 0.5f}, .std = {0.25f, 0.25f, 0.25f},
                  .registry = reg, .predict = fake_predict};
    return m;
}

static const char *const det_yaml =
    "task: det\ndataset: {plugin: shapes, image_size: 32, val_size: 20, seed: 3}\nbatch_size: 6\nnum_classes: 8\n";

/* The 12 stats of one run (host may be NULL: temporary files). */
static void run_bench(int m_mode, const vt_host *host, double stats[12]) {
    bench_t t;
    vt_err err = {0};
    ck_assert_msg(bench_open(&t, det_yaml, host, &err) == VT_OK, "%s", err.msg);
    vt_ctx *ctx = vt_ctx_create(NULL);
    vt_model m = fake_model(t.reg);
    mode = m_mode;
    vt_bench_result r;
    ck_assert_msg(t.comp->vt.benchmark.run(t.b, ctx, &m, &r, &err) == VT_OK, "%s", err.msg);
    ck_assert_uint_eq(r.n_metrics, 12);
    ck_assert_str_eq(r.metrics[0].name, "AP");
    ck_assert_str_eq(r.metrics[1].name, "AP50");
    ck_assert_str_eq(r.metrics[11].name, "ARl");
    for (int i = 0; i < 12; i++) stats[i] = r.metrics[i].value;
    if (host && host->run_dir) {
        ck_assert_uint_eq(r.n_artifacts, 2);
        for (size_t i = 0; i < 2; i++) {
            ck_assert_int_eq(access(r.artifacts[i].path, R_OK), 0);
            unlink(r.artifacts[i].path);
        }
    } else {
        ck_assert_uint_eq(r.n_artifacts, 0);
    }
    vt_ctx_destroy(ctx);
    bench_close(&t);
}

START_TEST(test_perfect_detector_scores_one) {
    char dir[] = "/tmp/visft_cocodet_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    vt_host host = {.struct_size = sizeof host, .run_dir = dir};
    double s[12];
    run_bench(PERFECT, &host, s);
    ck_assert_msg(s[0] > 0.999 && s[1] > 0.999 && s[8] > 0.999, "AP %g AP50 %g AR100 %g", s[0], s[1], s[8]);
    ck_assert_int_eq(rmdir(dir), 0); /* the two artifacts were all it wrote */
}
END_TEST

START_TEST(test_empty_detector_scores_zero) {
    double s[12];
    run_bench(EMPTY, NULL, s);
    ck_assert_msg(s[0] == 0 && s[1] == 0 && s[8] == 0, "AP %g AP50 %g AR100 %g", s[0], s[1], s[8]);
}
END_TEST

START_TEST(test_half_wrong_detector_scores_between) {
    double s[12];
    run_bench(SHIFTED, NULL, s);
    ck_assert_msg(s[1] > 0.2 && s[1] < 0.9, "AP50 %g", s[1]);
}
END_TEST

START_TEST(test_errors_are_clear) {
    bench_t t;
    vt_err err = {0};
    ck_assert_int_ne(bench_open(&t, "dataset: {plugin: shapes}\n", NULL, &err), VT_OK);
    ck_assert_msg(strstr(err.msg, "task"), "%s", err.msg);
    bench_close(&t);
    ck_assert_int_ne(bench_open(&t, "task: det\n", NULL, &err), VT_OK);
    ck_assert_msg(strstr(err.msg, "dataset"), "%s", err.msg);
    bench_close(&t);
    ck_assert_int_ne(bench_open(&t, "task: det\ndataset: {plugin: shapes}\niou_type: segm\n", NULL, &err), VT_OK);
    ck_assert_msg(strstr(err.msg, "segm"), "%s", err.msg);
    bench_close(&t);
    vt_ctx *ctx = vt_ctx_create(NULL);
    const char *bad[][2] = {{"task: det\ndataset: {plugin: shapez}\n", "shapez"},
                            {"task: det\ndataset: {image_size: 32}\n", "plugin"},
                            {"task: seg\ndataset: {plugin: shapes, image_size: 32, val_size: 4}\n", "no task 'seg'"},
                            {"task: det\ndataset: {plugin: shapes, image_size: 32, val_size: 4}\nsplit: nosuch\n",
                             "nosuch"},
                            {"task: det\ndataset: {plugin: shapes, image_size: 32, val_size: 4}\n", "predict"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(bench_open(&t, bad[i][0], NULL, &err) == VT_OK, "%s", err.msg);
        vt_model m = fake_model(t.reg);
        if (i == 4) m.struct_size = offsetof(vt_model, predict); /* a host built before the hook existed */
        vt_bench_result r;
        ck_assert_int_ne(t.comp->vt.benchmark.run(t.b, ctx, &m, &r, &err), VT_OK);
        ck_assert_msg(strstr(err.msg, bad[i][1]), "case %zu: %s", i, err.msg);
        bench_close(&t);
    }
    vt_ctx_destroy(ctx);
}
END_TEST

VT_TEST_MAIN("coco_detection", test_perfect_detector_scores_one, test_empty_detector_scores_zero,
             test_half_wrong_detector_scores_between, test_errors_are_clear)
