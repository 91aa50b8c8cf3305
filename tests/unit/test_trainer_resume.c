/* Exact resume of the trainer (vt_trainer_resume, issue 6): a run SIGKILLed mid-stage and resumed ends with
 * the same weights, byte for byte (CPU, one thread), as an uninterrupted run — killed in the heads stage
 * (mid-task, with two tasks) and in the lora stage (LoRA dropout draws from the ctx RNG). Plus: checkpoints
 * are pruned to keep_last, completed stages are skipped, and resuming an empty directory fails cleanly. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "visft/config.h"
#include "visft/experiment.h"
#include "visft/trainer.h"
#include "vt_test.h"

/* heads: 2 tasks × 4 steps = global steps 0..7; lora: 6 steps = 8..13. Checkpoints after steps 3, 6, 8
 * (stage end), 9, 12 and 14 (stage end); the last 2 are kept. */
static const char *const EXP_YAML =
    "run: {name: r, out_dir: /tmp, seed: 5, threads: 1, checkpoint_every: 3, keep_last: 2}\n"
    "backbone: {preset: tiny}\n"
    "tasks:\n"
    "  a:\n"
    "    head: {plugin: linear_cls, num_classes: 8}\n"
    "    dataset: {plugin: shapes, image_size: 32, train_size: 40, label: dominant_shape}\n"
    "    transforms: [{normalize: {mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25]}}]\n"
    "    batch_size: 8\n"
    "  b:\n"
    "    head: {plugin: linear_cls, num_classes: 8}\n"
    "    dataset: {plugin: shapes, image_size: 32, train_size: 24, label: dominant_shape, seed: 9}\n"
    "    batch_size: 4\n"
    "    ratio: 2\n"
    "stages:\n"
    "  - {kind: heads, iterations: 4, lr: 0.01, warmup: 1}\n"
    "  - {kind: lora, tasks: [a, b], iterations: 6, lr: 0.002, warmup: 2, clip_norm: 1.0,\n"
    "     lora: {rank: 2, alpha: 4, dropout: 0.2}}\n";

typedef struct kill_at {
    int64_t step; /* the process SIGKILLs itself when this global step computed its loss; < 0: never */
} kill_at;

static double maybe_die(void *user, int64_t step, double loss) {
    const kill_at *k = user;
    if (k->step >= 0 && step == k->step) raise(SIGKILL);
    return loss;
}

static vt_status save_weights(vt_trainer *t, const char *path, vt_err *err) {
    vt_tensor_list all;
    vt_tensor_list_init(&all);
    vt_vit *m = vt_trainer_backbone(t);
    const vt_tensor_list *lora = vt_trainer_lora_params(t);
    vt_status st = VT_OK;
    for (size_t i = 0; st == VT_OK && i < m->params.n; i++)
        st = vt_tensor_list_add(&all, m->params.items[i].tensor, "backbone.%s", m->params.items[i].name);
    for (size_t i = 0; st == VT_OK && i < lora->n; i++)
        st = vt_tensor_list_add(&all, lora->items[i].tensor, "lora.%s", lora->items[i].name);
    if (st == VT_OK) st = vt_trainer_head_params(t, &all, err);
    if (st == VT_OK) st = vt_tensor_list_save(&all, path, err);
    vt_tensor_list_free(&all);
    return st;
}

/* Trains the config in run_dir (resuming it when asked) and writes run_dir/final.safetensors. */
static vt_status train(const char *run_dir, bool resume, int64_t die_at, vt_err *err) {
    vt_cfg *cfg = NULL;
    vt_registry *reg = NULL;
    vt_experiment *exp = NULL;
    vt_trainer *t = NULL;
    char *text = NULL, path[512];
    kill_at k = {die_at};
    vt_status st = vt_cfg_load_string(EXP_YAML, strlen(EXP_YAML), "r.yaml", VT_CFG_NO_BASE, &cfg, err);
    if (st == VT_OK) st = vt_registry_create(&reg, err);
    if (st == VT_OK) st = vt_registry_add_path(reg, VISFT_BUILD_DIR "/plugins", err);
    if (st == VT_OK) st = vt_registry_load(reg, err);
    if (st == VT_OK) st = vt_experiment_load(cfg, reg, &exp, err);
    if (st == VT_OK) st = vt_cfg_emit_string(vt_cfg_root(cfg), &text, err);
    vt_trainer_opts o = vt_trainer_defaults();
    o.run_dir = run_dir;
    o.checkpoints = true;
    o.config_text = text;
    o.workers = 2; /* prefetching loaders: seek must drop what they read ahead */
    o.loss_hook = maybe_die;
    o.hook_user = &k;
    if (st == VT_OK) st = vt_trainer_create(exp, reg, &o, &t, err);
    if (st == VT_OK && resume) st = vt_trainer_resume(t, run_dir, err);
    if (st == VT_OK) st = vt_trainer_run_stages(t, err);
    snprintf(path, sizeof path, "%s/final.safetensors", run_dir);
    if (st == VT_OK) st = save_weights(t, path, err);
    vt_trainer_destroy(t);
    free(text);
    vt_experiment_free(exp);
    vt_registry_destroy(reg);
    vt_cfg_free(cfg);
    return st;
}

static char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)len + 1);
    ck_assert_uint_eq(fread(buf, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return buf;
}

static size_t count_checkpoints(const char *run_dir) {
    char path[512];
    snprintf(path, sizeof path, "%s/checkpoints", run_dir);
    DIR *d = opendir(path);
    if (!d) return 0;
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d));) n += strncmp(e->d_name, "step_", 5) == 0;
    closedir(d);
    return n;
}

static void rm_rf(const char *dir) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Kills a child run at global step die_at, resumes it here and compares with an uninterrupted run. */
static void kill_and_resume(int64_t die_at) {
    char killed[] = "/tmp/vt_resume_killed_XXXXXX", clean[] = "/tmp/vt_resume_clean_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(killed));
    ck_assert_ptr_nonnull(mkdtemp(clean));
    vt_err err;
    vt_err_clear(&err);
    /* The child first: nothing is created in this process before the fork. */
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) _exit(train(killed, false, die_at, &err) == VT_OK ? 3 : 4);
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "the child was not killed (status %d)", status);
    ck_assert_uint_gt(count_checkpoints(killed), 0);

    ck_assert_msg(train(clean, false, -1, &err) == VT_OK, "uninterrupted: %s", err.msg);
    ck_assert_msg(train(killed, true, -1, &err) == VT_OK, "resume: %s", err.msg);
    ck_assert_uint_eq(count_checkpoints(killed), 2); /* keep_last */

    char pa[512], pb[512];
    snprintf(pa, sizeof pa, "%s/final.safetensors", clean);
    snprintf(pb, sizeof pb, "%s/final.safetensors", killed);
    size_t na, nb;
    char *a = slurp(pa, &na), *b = slurp(pb, &nb);
    ck_assert_uint_eq(na, nb);
    ck_assert_msg(memcmp(a, b, na) == 0, "killed at step %lld and resumed: final weights differ from the "
                  "uninterrupted run", (long long)die_at);
    free(a);
    free(b);
    rm_rf(killed);
    rm_rf(clean);
}

/* Latest checkpoint after step 3: task a of the heads stage, 3 of 4 steps done (its AdamW state restored). */
START_TEST(test_killed_in_heads_stage_resumes_exactly) { kill_and_resume(5); }
END_TEST

/* Latest checkpoint after step 9: the lora stage, 1 of 6 steps done (LoRA recreated, RNG offset restored). */
START_TEST(test_killed_in_lora_stage_resumes_exactly) { kill_and_resume(11); }
END_TEST

/* Resuming a finished run runs nothing more and leaves the weights as they were. */
START_TEST(test_resume_of_finished_run_skips_every_stage) {
    char dir[] = "/tmp/vt_resume_done_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    vt_err err;
    vt_err_clear(&err);
    ck_assert_msg(train(dir, false, -1, &err) == VT_OK, "%s", err.msg);
    char p[512];
    snprintf(p, sizeof p, "%s/final.safetensors", dir);
    size_t na, nb;
    char *a = slurp(p, &na);
    ck_assert_msg(train(dir, true, 0, &err) == VT_OK, "%s", err.msg); /* would die at any step */
    char *b = slurp(p, &nb);
    ck_assert_uint_eq(na, nb);
    ck_assert(memcmp(a, b, na) == 0);
    free(a);
    free(b);
    rm_rf(dir);
}
END_TEST

START_TEST(test_resume_without_checkpoints_fails_cleanly) {
    char dir[] = "/tmp/vt_resume_empty_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    vt_err err;
    vt_err_clear(&err);
    ck_assert_int_ne(train(dir, true, -1, &err), VT_OK);
    ck_assert_msg(strstr(err.msg, "resume") != NULL, "%s", err.msg);
    rm_rf(dir);
}
END_TEST

VT_TEST_MAIN("trainer_resume", test_killed_in_heads_stage_resumes_exactly, test_killed_in_lora_stage_resumes_exactly,
             test_resume_of_finished_run_skips_every_stage, test_resume_without_checkpoints_fails_cleanly)
