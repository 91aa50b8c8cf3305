/* The trainer on a device: the same experiment (a linear_cls and a detr task, both stages, both benchmark
 * kinds) on the CPU and on the emulated accelerator "emu:0" — host memory that faults when host code touches
 * it outside kernels, running the CPU's kernels — must give bit-identical weights and benchmark numbers. That
 * checks every device path of the trainer (parameters moved once, batches copied per step, benchmarks fed
 * host tensors, device gradients through the optimizer and clipping) without a GPU. Run checkpoints of device
 * tensors are written and restored too. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support/testutil.h"
#include "tensor/internal.h"
#include "visft/config.h"
#include "visft/experiment.h"
#include "visft/trainer.h"
#include "vt_test.h"

#define SHAPES "{plugin: shapes, image_size: 32, train_size: 64, val_size: 16, test_size: 16}"

static const char *const EXP_YAML =
    "run: {name: dev, out_dir: /tmp, seed: 5, threads: 1, device: %s, precision: %s}\n"
    "backbone: {preset: tiny}\n"
    "tasks:\n"
    "  cls:\n"
    "    head: {plugin: linear_cls, num_classes: 8}\n"
    "    dataset: " SHAPES "\n"
    "    transforms: [{normalize: {mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25]}}]\n"
    "    batch_size: 4\n"
    "    ratio: 0.5\n"
    "  det:\n"
    "    head: {plugin: detr, num_classes: 8, enc_width: 32, enc_layers: 1, enc_heads: 2, enc_ffn: 64,\n"
    "           dec_width: 32, dec_layers: 2, dec_heads: 2, dec_ffn: 64, num_queries: 6, top_k: 6, dropout: 0.1}\n"
    "    dataset: " SHAPES "\n"
    "    transforms: [{normalize: {mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25]}}]\n"
    "    batch_size: 4\n"
    "    ratio: 0.5\n"
    "stages:\n"
    "  - {kind: heads, iterations: 3, lr: 0.001, clip_norm: 0.5}\n"
    "  - {kind: lora, iterations: 4, lr: 0.001, lora: {rank: 2, alpha: 4}}\n"
    "benchmarks:\n"
    "  - {plugin: linear_probe, dataset: " SHAPES ", epochs: 2}\n"
    "  - {plugin: coco_detection, task: det, dataset: " SHAPES ", split: val, num_classes: 8}\n";

typedef struct outcome {
    float *w;     /* every weight, in list order */
    size_t n;
    double bench[64];
    size_t n_bench;
} outcome;

static void append(outcome *o, const vt_tensor_list *l) {
    for (size_t i = 0; i < l->n; i++) {
        vt_tensor *t = l->items[i].tensor;
        size_t k = (size_t)vt_numel(t);
        o->w = realloc(o->w, (o->n + k) * sizeof *o->w);
        ck_assert_ptr_nonnull(o->w);
        ck_assert_int_eq(vt_tensor_read_bytes(t, o->w + o->n), VT_OK);
        o->n += k;
    }
}

/* The experiment on device dev at the given precision, with everything it was loaded from. */
typedef struct loaded {
    vt_cfg *cfg;
    vt_registry *reg;
    vt_experiment *exp;
} loaded;

static void load(const char *dev, const char *precision, loaded *l) {
    char yaml[4096];
    snprintf(yaml, sizeof yaml, EXP_YAML, dev, precision);
    vt_err err = {0};
    memset(l, 0, sizeof *l);
    ck_assert_int_eq(vt_cfg_load_string(yaml, strlen(yaml), "dev.yaml", VT_CFG_NO_BASE, &l->cfg, &err), VT_OK);
    ck_assert_int_eq(vt_registry_create(&l->reg, &err), VT_OK);
    ck_assert_int_eq(vt_registry_add_path(l->reg, VISFT_BUILD_DIR "/plugins", &err), VT_OK);
    ck_assert_int_eq(vt_registry_load(l->reg, &err), VT_OK);
    ck_assert_msg(vt_experiment_load(l->cfg, l->reg, &l->exp, &err) == VT_OK, "%s", err.msg);
}

static void unload(loaded *l) {
    vt_experiment_free(l->exp);
    vt_registry_destroy(l->reg);
    vt_cfg_free(l->cfg);
}

/* Every weight of the trainer (backbone, LoRA, heads) in list order. */
static void collect(vt_trainer *t, outcome *o) {
    vt_err err = {0};
    memset(o, 0, sizeof *o);
    append(o, &vt_trainer_backbone(t)->params);
    append(o, vt_trainer_lora_params(t));
    vt_tensor_list heads;
    vt_tensor_list_init(&heads);
    ck_assert_int_eq(vt_trainer_head_params(t, &heads, &err), VT_OK);
    append(o, &heads);
    vt_tensor_list_free(&heads);
}

/* Trains (and benchmarks after) on device dev; with run_dir, writes run checkpoints there. */
static void train_on(const char *dev, const char *precision, const char *run_dir, outcome *o) {
    loaded l;
    load(dev, precision, &l);
    vt_err err = {0};
    vt_trainer_opts opts = vt_trainer_defaults();
    opts.workers = 0;
    opts.run_dir = run_dir;
    opts.checkpoints = run_dir != NULL;
    vt_trainer *t = NULL;
    ck_assert_msg(vt_trainer_create(l.exp, l.reg, &opts, &t, &err) == VT_OK, "%s: %s", dev, err.msg);
    ck_assert_msg(vt_trainer_run_stages(t, &err) == VT_OK, "%s: %s", dev, err.msg);
    vt_bench_values after = {0};
    ck_assert_msg(vt_trainer_run_benchmarks(t, "after", &after, &err) == VT_OK, "%s: %s", dev, err.msg);
    collect(t, o);
    for (size_t i = 0; i < after.n && i < 64; i++) o->bench[o->n_bench++] = after.v[i].value;
    vt_bench_values_free(&after);
    vt_trainer_destroy(t);
    unload(&l);
}

static void expect_equal(const outcome *a, const outcome *b) {
    ck_assert_uint_eq(a->n, b->n);
    size_t diff = 0, first = 0;
    for (size_t i = 0; i < a->n; i++)
        if (memcmp(&a->w[i], &b->w[i], sizeof(float)) && diff++ == 0) first = i;
    ck_assert_msg(diff == 0, "%zu of %zu weights differ (first at %zu: %.9g vs %.9g)", diff, a->n, first,
                  a->w[first], b->w[first]);
    ck_assert_uint_eq(a->n_bench, b->n_bench);
    ck_assert_uint_gt(a->n_bench, 0);
    for (size_t i = 0; i < a->n_bench; i++)
        ck_assert_msg(a->bench[i] == b->bench[i] || (isnan(a->bench[i]) && isnan(b->bench[i])),
                      "benchmark value %zu: %.9g vs %.9g", i, a->bench[i], b->bench[i]);
}

START_TEST(test_emu_training_equals_cpu_training) {
    outcome cpu, emu;
    train_on("cpu", "f32", NULL, &cpu);
    train_on("emu:0", "f32", NULL, &emu);
    expect_equal(&cpu, &emu);
    free(cpu.w);
    free(emu.w);
}
END_TEST

/* run.precision bf16: GEMMs under bf16 autocast, the same on both; and not the f32 run */
START_TEST(test_bf16_autocast_training_on_emu_equals_cpu) {
    outcome cpu, emu, f32;
    train_on("cpu", "bf16", NULL, &cpu);
    train_on("emu:0", "bf16", NULL, &emu);
    expect_equal(&cpu, &emu);
    train_on("cpu", "f32", NULL, &f32);
    ck_assert_uint_eq(f32.n, cpu.n);
    ck_assert_msg(memcmp(f32.w, cpu.w, f32.n * sizeof(float)) != 0, "bf16 training gave the f32 weights");
    free(cpu.w);
    free(emu.w);
    free(f32.w);
}
END_TEST

START_TEST(test_device_checkpoints_round_trip) {
    char dir[] = "/tmp/vt_trainer_dev_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    outcome a;
    train_on("emu:0", "f32", dir, &a); /* run checkpoints of device tensors at each stage end */
    /* a second trainer on the device resumes the finished run: its weights are the checkpoint's */
    loaded l;
    load("emu:0", "f32", &l);
    vt_err err = {0};
    vt_trainer_opts opts = vt_trainer_defaults();
    opts.workers = 0;
    opts.run_dir = dir;
    vt_trainer *t = NULL;
    ck_assert_msg(vt_trainer_create(l.exp, l.reg, &opts, &t, &err) == VT_OK, "%s", err.msg);
    ck_assert_msg(vt_trainer_resume(t, dir, &err) == VT_OK, "%s", err.msg);
    outcome b;
    collect(t, &b);
    ck_assert_uint_eq(a.n, b.n);
    ck_assert_msg(memcmp(a.w, b.w, a.n * sizeof(float)) == 0, "restored weights differ from the trained ones");
    vt_trainer_destroy(t);
    unload(&l);
    free(a.w);
    free(b.w);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

VT_TEST_MAIN("trainer_device", test_emu_training_equals_cpu_training, test_bf16_autocast_training_on_emu_equals_cpu,
             test_device_checkpoints_round_trip)
