/* linear_probe, loaded from the build tree with the shapes dataset: a fake model whose features carry the
 * image content scores well above chance, random features near chance, bad params are clear errors.
 * The fake features (random ReLU projections of coarse colour grids) do not generalise across shapes
 * scenes, so the probe is scored on the train split it was fitted on: this checks the mechanics (features,
 * pipeline, sweep, fit, metrics, JSON), not a backbone's quality. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "visft/config.h"
#include "visft/model.h"
#include "visft/registry.h"
#include "visft/visft.h"
#include "support/bench_fixture.h"
#include "vt_test.h"

#define GRID 4
#define NF 256

/* Fake encoder: per-channel means of a GRID x GRID grid, then a fixed random ReLU projection (random
 * features); random mode returns noise unrelated to the image. */
static float proj[NF][3 * GRID * GRID];
static int random_mode;
static uint64_t noise_state = 1;

static float urand(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((*s >> 40) & 0xFFFFFF) / (float)0x1000000 - 0.5f;
}

static vt_status fake_encode(vt_model *m, vt_ctx *ctx, vt_tensor *images, vt_tensor **pooled, vt_tensor **fmap,
                             vt_err *err) {
    (void)m, (void)fmap, (void)err;
    vt_tensor *im = vt_contiguous(ctx, images);
    int64_t B = im->shape[0], H = im->shape[2], W = im->shape[3];
    float *out = calloc((size_t)(B * NF), sizeof *out);
    for (int64_t b = 0; b < B; b++) {
        float cell[3 * GRID * GRID] = {0};
        for (int c = 0; c < 3; c++)
            for (int64_t yy = 0; yy < H; yy++)
                for (int64_t xx = 0; xx < W; xx++)
                    cell[(c * GRID + yy * GRID / H) * GRID + xx * GRID / W] +=
                        vt_f32(im)[((b * 3 + c) * H + yy) * W + xx] * (float)(GRID * GRID) / (float)(H * W);
        for (int f = 0; f < NF; f++) {
            float s = 0;
            for (int k = 0; k < 3 * GRID * GRID; k++) s += proj[f][k] * cell[k];
            out[b * NF + f] = random_mode ? urand(&noise_state) : fmaxf(s, 0.0f);
        }
    }
    *pooled = vt_from_f32(ctx, VT_SHAPE(B, NF), out);
    free(out);
    return VT_OK;
}

static vt_status bench_open(bench_t *t, const char *yaml, const vt_host *host, vt_err *err) {
    return bench_open_named(t, "linear_probe", yaml, host, err);
}

static vt_model fake_model(vt_registry *reg) {
    uint64_t s = 42;
    for (int f = 0; f < NF; f++)
        for (int k = 0; k < 3 * GRID * GRID; k++) proj[f][k] = 2.0f * urand(&s);
    vt_model m = {.struct_size = sizeof m, .name = "fake", .stage = "before", .width = NF, .embed_dim = NF,
                  .image_size = 32, .patch_size = 8, .mean = {0.5f, 0.5f, 0.5f}, .std = {0.25f, 0.25f, 0.25f},
                  .encode_image = fake_encode, .registry = reg};
    return m;
}

static const char *const probe_yaml =
    "dataset: {plugin: shapes, image_size: 32, train_size: 300, test_size: 100, label: dominant_shape, seed: 5}\n"
    "test_split: train\nepochs: 150\nlr: 0.02\n";

static double run_probe(int rnd, const vt_host *host, double *chance) {
    bench_t t;
    vt_err err = {0};
    ck_assert_msg(bench_open(&t, probe_yaml, host, &err) == VT_OK, "%s", err.msg);
    vt_ctx *ctx = vt_ctx_create(NULL);
    vt_model m = fake_model(t.reg);
    random_mode = rnd;
    vt_bench_result r;
    ck_assert_msg(t.comp->vt.benchmark.run(t.b, ctx, &m, &r, &err) == VT_OK, "%s", err.msg);
    ck_assert_uint_eq(r.n_metrics, 3);
    ck_assert_str_eq(r.metrics[0].name, "acc1");
    ck_assert_str_eq(r.metrics[1].name, "acc5");
    ck_assert_str_eq(r.metrics[2].name, "mean_per_class_recall");
    ck_assert(r.metrics[1].value >= r.metrics[0].value);
    double acc = r.metrics[0].value;
    if (host && host->run_dir) {
        ck_assert_uint_eq(r.n_artifacts, 1);
        FILE *f = fopen(r.artifacts[0].path, "r");
        ck_assert_ptr_nonnull(f);
        char buf[1024] = {0};
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        ck_assert_uint_gt(n, 0);
        ck_assert_msg(strstr(buf, "\"task\": \"linear_probe\"") && strstr(buf, "\"dataset\": \"shapes\"") &&
                          strstr(buf, "\"model\": \"fake\"") && strstr(buf, "\"acc1\""),
                      "%s", buf);
        unlink(r.artifacts[0].path);
    }
    *chance = 0.125; /* 8 shape classes */
    vt_ctx_destroy(ctx);
    bench_close(&t);
    return acc;
}

START_TEST(test_separable_features_score_well_above_chance) {
    char dir[] = "/tmp/visft_probe_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    vt_host host = {.struct_size = sizeof host, .run_dir = dir};
    double chance, acc = run_probe(0, &host, &chance);
    fprintf(stderr, "linear_probe: image features acc1 %.3f\n", acc);
    ck_assert_msg(acc > 2 * chance, "acc1 %g", acc);
    rmdir(dir);
}
END_TEST

START_TEST(test_random_features_score_near_chance) {
    double chance, acc = run_probe(1, NULL, &chance);
    fprintf(stderr, "linear_probe: random features acc1 %.3f\n", acc);
    ck_assert_msg(acc < chance + 0.15, "acc1 %g", acc);
}
END_TEST

START_TEST(test_bad_params_are_clear_errors) {
    bench_t t;
    vt_err err = {0};
    ck_assert_int_ne(bench_open(&t, "epochs: 3\n", NULL, &err), VT_OK);
    ck_assert_msg(strstr(err.msg, "dataset"), "%s", err.msg);
    bench_close(&t);
    ck_assert_int_ne(bench_open(&t, "dataset: {plugin: shapes}\nwd: []\n", NULL, &err), VT_OK);
    ck_assert_msg(strstr(err.msg, "wd"), "%s", err.msg);
    bench_close(&t);
    vt_ctx *ctx = vt_ctx_create(NULL);
    const char *bad[][2] = {{"dataset: {image_size: 32}\n", "plugin"},
                            {"dataset: {plugin: shapez}\n", "shapez"},
                            {"dataset: {plugin: shapes, colour: red}\n", "colour"},
                            {"dataset: {plugin: shapes, image_size: 32, train_size: 20, test_size: 10}\n"
                             "test_split: nosuch\nepochs: 2\n", "nosuch"},
                            {"dataset: {plugin: shapes, image_size: 32, train_size: 20, test_size: 10}\n"
                             "num_classes: 2\nepochs: 2\n", "label"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(bench_open(&t, bad[i][0], NULL, &err) == VT_OK, "%s", err.msg);
        vt_model m = fake_model(t.reg);
        vt_bench_result r;
        ck_assert_int_ne(t.comp->vt.benchmark.run(t.b, ctx, &m, &r, &err), VT_OK);
        ck_assert_msg(strstr(err.msg, bad[i][1]), "case %zu: %s", i, err.msg);
        bench_close(&t);
    }
    vt_ctx_destroy(ctx);
}
END_TEST

VT_TEST_MAIN("linear_probe", test_separable_features_score_well_above_chance, test_random_features_score_near_chance,
             test_bad_params_are_clear_errors)
