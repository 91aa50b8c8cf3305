/* Run checkpoints (visft/run_checkpoint.h): round trip, bit-exact resume, keep-last-K, fallback from a
 * corrupt newest checkpoint, SIGKILL during a save, malformed metadata. */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "visft/nn.h"
#include "visft/optim.h"
#include "visft/run_checkpoint.h"
#include "visft/safetensors.h"
#include "vt_test.h"

typedef struct model {
    vt_tensor *w, *b;
    vt_tensor_list list;
    vt_optim *opt;
} model;

static void model_init(vt_ctx *c, model *m, uint64_t seed) {
    m->w = vt_test_param(c, VT_SHAPE(4, 3), seed, 0.5f);
    m->b = vt_test_param(c, VT_SHAPE(4), seed + 1, 0.5f);
    vt_tensor_set_name(m->w, "fc.weight");
    vt_tensor_set_name(m->b, "fc.bias");
    vt_tensor_list_init(&m->list);
    vt_tensor_list_add(&m->list, m->w, "fc.weight");
    vt_tensor_list_add(&m->list, m->b, "fc.bias");
    vt_optim_options o = vt_adamw_options();
    m->opt = vt_optim_create(c, &o);
    vt_tensor *ps[2] = {m->w, m->b};
    ck_assert_int_eq(vt_optim_add_group(m->opt, ps, 2, 0.05, 0.1), 0);
}

static void model_free(model *m) {
    vt_optim_destroy(m->opt);
    vt_tensor_list_free(&m->list);
    vt_tensor_release(m->w);
    vt_tensor_release(m->b);
}

/* One AdamW step on an MSE loss; the batch depends on the step so every step differs. */
static void train_step(vt_ctx *c, model *m, int step) {
    vt_scope_push(c);
    vt_tensor *x = vt_test_randn(c, VT_SHAPE(8, 3), 100 + (uint64_t)step, 1.0f);
    vt_tensor *y = vt_test_randn(c, VT_SHAPE(8, 4), 200 + (uint64_t)step, 1.0f);
    vt_tensor *loss = vt_mse_loss(c, vt_linear(c, x, m->w, m->b), y, VT_REDUCTION_MEAN);
    ck_assert_msg(loss != NULL, "%s", vt_ctx_error(c)->msg);
    ck_assert_int_eq(vt_backward(c, loss), VT_OK);
    ck_assert_int_eq(vt_optim_step(m->opt), VT_OK);
    vt_optim_zero_grad(m->opt);
    vt_scope_pop(c);
}

static char *make_run_dir(void) {
    char *d = strdup("/tmp/vt_runckpt_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(d));
    return d;
}

static void remove_dir(char *d) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    ck_assert_int_eq(system(cmd), 0);
    free(d);
}

static vt_run_state state_at(int64_t step) {
    vt_run_state st = {.step = step, .stage = 1, .rng_seed = 1234, .rng_offset = 77 + (uint64_t)step,
                       .n_loaders = 2, .config = "run:\n  name: \"t\"\n"};
    st.loaders[0] = (vt_loader_position){3, (uint64_t)step, 0xdeadbeefcafef00dull};
    st.loaders[1] = (vt_loader_position){0, 9, 42};
    return st;
}

static void save(const char *dir, model *m, int64_t step, int keep) {
    vt_run_state st = state_at(step);
    vt_run_weights wg = {"head", &m->list};
    vt_run_optim og = {"head", m->opt};
    vt_err err = {0};
    vt_run_ckpt_opts o = {.keep_last = keep};
    ck_assert_msg(vt_run_ckpt_save(dir, &st, &wg, 1, &og, 1, &o, &err) == VT_OK, "%s", err.msg);
}

static bool exists(const char *dir, int64_t step) {
    char p[512];
    snprintf(p, sizeof p, "%s/checkpoints/step_%lld.safetensors", dir, (long long)step);
    return access(p, F_OK) == 0;
}

START_TEST(resume_continues_bit_identically) {
    vt_ctx *c = vt_test_ctx();
    char *dir = make_run_dir();
    model a, b;
    model_init(c, &a, 1);
    for (int s = 0; s < 4; s++) train_step(c, &a, s);
    save(dir, &a, 4, 3);
    for (int s = 4; s < 10; s++) train_step(c, &a, s); /* the uninterrupted run */

    model_init(c, &b, 99); /* a different init: everything must come from the checkpoint */
    vt_run_ckpt *ck;
    vt_err err = {0};
    char note[VT_RUN_NOTE_MAX];
    ck_assert_msg(vt_run_ckpt_load_latest(dir, &ck, note, sizeof note, &err) == VT_OK, "%s", err.msg);
    ck_assert_str_eq(note, "");
    const vt_run_state *st = vt_run_ckpt_state(ck), want = state_at(4);
    ck_assert_int_eq(st->step, 4);
    ck_assert_int_eq(st->stage, 1);
    ck_assert_uint_eq(st->rng_seed, want.rng_seed);
    ck_assert_uint_eq(st->rng_offset, want.rng_offset);
    ck_assert_uint_eq(st->n_loaders, 2);
    ck_assert(!memcmp(st->loaders, want.loaders, 2 * sizeof want.loaders[0]));
    ck_assert_str_eq(st->config, want.config);
    ck_assert_msg(vt_run_ckpt_restore_weights(ck, "head", &b.list, &err) == VT_OK, "%s", err.msg);
    ck_assert_msg(vt_run_ckpt_restore_optim(ck, "head", b.opt, &err) == VT_OK, "%s", err.msg);
    ck_assert_int_eq(vt_optim_step_count(b.opt), 4);
    vt_run_ckpt_close(ck);
    for (int s = 4; s < 10; s++) train_step(c, &b, s);
    ck_assert(!memcmp(vt_f32(a.w), vt_f32(b.w), vt_nbytes(a.w)));
    ck_assert(!memcmp(vt_f32(a.b), vt_f32(b.b), vt_nbytes(a.b)));
    model_free(&a);
    model_free(&b);
    remove_dir(dir);
    vt_ctx_destroy(c);
}
END_TEST

START_TEST(keeps_the_last_k) {
    vt_ctx *c = vt_test_ctx();
    char *dir = make_run_dir();
    model m;
    model_init(c, &m, 1);
    train_step(c, &m, 0);
    for (int s = 1; s <= 5; s++) save(dir, &m, s, 2);
    for (int s = 1; s <= 5; s++) ck_assert_int_eq(exists(dir, s), s >= 4);
    char p[512], line[64] = {0};
    snprintf(p, sizeof p, "%s/checkpoints/latest", dir);
    FILE *f = fopen(p, "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    fclose(f);
    ck_assert_str_eq(line, "step_5.safetensors\n");
    save(dir, &m, 3, 2); /* resumed from an older one: 4 and 5 belong to an abandoned timeline */
    ck_assert(!exists(dir, 4) && !exists(dir, 5) && exists(dir, 3));
    model_free(&m);
    remove_dir(dir);
    vt_ctx_destroy(c);
}
END_TEST

static void damage(const char *dir, int64_t step, bool truncate_it) {
    char p[512];
    snprintf(p, sizeof p, "%s/checkpoints/step_%lld.safetensors", dir, (long long)step);
    struct stat sb;
    ck_assert_int_eq(stat(p, &sb), 0);
    if (truncate_it) {
        ck_assert_int_eq(truncate(p, sb.st_size - 5), 0);
        return;
    }
    FILE *f = fopen(p, "r+b");
    ck_assert_ptr_nonnull(f);
    fseek(f, sb.st_size - 3, SEEK_SET); /* inside the data buffer: only the checksum can see it */
    int ch = fgetc(f);
    fseek(f, sb.st_size - 3, SEEK_SET);
    fputc(ch ^ 0x10, f);
    fclose(f);
}

START_TEST(corrupt_newest_falls_back_with_a_note) {
    vt_ctx *c = vt_test_ctx();
    for (int mode = 0; mode < 2; mode++) {
        char *dir = make_run_dir();
        model m;
        model_init(c, &m, 1);
        train_step(c, &m, 0);
        save(dir, &m, 1, 3);
        save(dir, &m, 2, 3);
        damage(dir, 2, mode == 0);
        vt_run_ckpt *ck;
        vt_err err = {0};
        char note[VT_RUN_NOTE_MAX];
        ck_assert_msg(vt_run_ckpt_load_latest(dir, &ck, note, sizeof note, &err) == VT_OK, "%s", err.msg);
        ck_assert_int_eq(vt_run_ckpt_state(ck)->step, 1);
        ck_assert_msg(strstr(note, "step_2.safetensors") && !strchr(note, '\n'), "note: %s", note);
        ck_assert_msg(mode == 0 || strstr(note, "checksum"), "note: %s", note);
        vt_run_ckpt_close(ck);
        damage(dir, 1, true); /* nothing valid left: a clear error, not a crash */
        ck_assert_int_eq(vt_run_ckpt_load_latest(dir, &ck, note, sizeof note, &err), VT_EFORMAT);
        ck_assert_ptr_null(ck);
        ck_assert_ptr_nonnull(strstr(err.msg, "no valid checkpoint"));
        model_free(&m);
        remove_dir(dir);
    }
    vt_run_ckpt *ck;
    vt_err err = {0};
    ck_assert_int_eq(vt_run_ckpt_load_latest("/nonexistent/run", &ck, NULL, 0, &err), VT_ENOTFOUND);
    vt_ctx_destroy(c);
}
END_TEST

static void kill_self(int phase, void *user) {
    if (phase == *(int *)user) raise(SIGKILL);
}

/* The child saves checkpoints whose bias holds the step number, forever or until its hook kills it. */
static void child_saves(const char *dir, int kill_phase) {
    vt_ctx *c = vt_ctx_create(NULL);
    model m;
    model_init(c, &m, 1);
    vt_run_ckpt_opts o = {.keep_last = 2, .hook = kill_phase ? kill_self : NULL, .hook_user = &kill_phase};
    for (int64_t s = 2;; s++) {
        vt_fill_(c, m.b, (double)s);
        vt_run_state st = state_at(s);
        vt_run_weights wg = {"head", &m.list};
        if (vt_run_ckpt_save(dir, &st, &wg, 1, NULL, 0, &o, NULL) != VT_OK) _exit(3);
    }
}

static void check_consistent(vt_ctx *c, const char *dir) {
    model m;
    model_init(c, &m, 5);
    vt_run_ckpt *ck;
    vt_err err = {0};
    char note[VT_RUN_NOTE_MAX];
    ck_assert_msg(vt_run_ckpt_load_latest(dir, &ck, note, sizeof note, &err) == VT_OK, "%s", err.msg);
    ck_assert_msg(note[0] == 0, "%s", note); /* a killed save never leaves a bad file under a final name */
    ck_assert_msg(vt_run_ckpt_restore_weights(ck, "head", &m.list, &err) == VT_OK, "%s", err.msg);
    int64_t step = vt_run_ckpt_state(ck)->step;
    for (int i = 0; i < 4; i++) ck_assert_float_eq(vt_f32(m.b)[i], (float)step);
    vt_run_ckpt_close(ck);
    model_free(&m);
}

START_TEST(sigkill_during_save_leaves_a_good_checkpoint) {
    vt_ctx *c = vt_test_ctx();
    char *dir = make_run_dir();
    model m;
    model_init(c, &m, 1);
    vt_fill_(c, m.b, 1.0);
    vt_run_state st = state_at(1);
    vt_run_weights wg = {"head", &m.list};
    vt_err err = {0};
    ck_assert_msg(vt_run_ckpt_save(dir, &st, &wg, 1, NULL, 0, NULL, &err) == VT_OK, "%s", err.msg);
    model_free(&m);
    /* at each exact phase, then at random times */
    srand((unsigned)time(NULL));
    for (int round = 0; round < 3 + 12; round++) {
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) child_saves(dir, round < 3 ? round + 1 : 0);
        if (round >= 3) {
            usleep((useconds_t)(rand() % 20000));
            kill(pid, SIGKILL);
        }
        int status;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "child status %d", status);
        check_consistent(c, dir);
    }
    remove_dir(dir);
    vt_ctx_destroy(c);
}
END_TEST

static vt_status write_bad(const char *path, const char *key, const char *value) {
    static const float data[4] = {1, 2, 3, 4};
    vt_st_writer *w = vt_st_writer_new();
    vt_st_writer_add(w, "weights/head/fc.bias", VT_F32, VT_SHAPE(4), data, NULL);
    const char *kv[][2] = {{"format", "visft-run-checkpoint"}, {"version", "1"}, {"step", "3"}, {"stage", "0"},
                           {"rng_seed", "1"}, {"rng_offset", "2"}, {"loaders", "1"}, {"loader.0", "1,2,3"},
                           {"checksum", "0"}};
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        if (strcmp(kv[i][0], key)) vt_st_writer_set_metadata(w, kv[i][0], kv[i][1], NULL);
    if (value) vt_st_writer_set_metadata(w, key, value, NULL);
    vt_status s = vt_st_writer_save(w, path, NULL);
    vt_st_writer_free(w);
    return s;
}

START_TEST(malformed_metadata_and_mismatches_are_reported) {
    char *dir = make_run_dir(), path[512];
    snprintf(path, sizeof path, "%s/x.safetensors", dir);
    struct { const char *key, *value, *expect; } cases[] = {
        {"format", "something-else", "not a run checkpoint"},
        {"version", "7", "unsupported run checkpoint version"},
        {"step", "-3", "'step'"},
        {"step", NULL, "no 'step'"},
        {"rng_offset", "12x", "'rng_offset'"},
        {"loaders", "999", "'loaders'"},
        {"loader.0", "1,2", "'loader.0'"},
        {"loader.0", "1,,3", "'loader.0'"},
        {"checksum", "0123", "checksum mismatch"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ck_assert_int_eq(write_bad(path, cases[i].key, cases[i].value), VT_OK);
        vt_run_ckpt *ck;
        vt_err err = {0};
        ck_assert_int_eq(vt_run_ckpt_open(path, &ck, &err), VT_EFORMAT);
        ck_assert_msg(strstr(err.msg, cases[i].expect) && strstr(err.msg, path), "case %zu: %s", i, err.msg);
    }
    /* name/shape mismatches on restore are listed and change nothing */
    vt_ctx *c = vt_test_ctx();
    model m, other;
    model_init(c, &m, 1);
    train_step(c, &m, 0);
    save(dir, &m, 1, 3);
    vt_tensor *w2 = vt_test_param(c, VT_SHAPE(2, 3), 7, 1.0f);
    vt_tensor_list l;
    vt_tensor_list_init(&l);
    vt_tensor_list_add(&l, w2, "fc.weight");
    vt_tensor_list_add(&l, m.b, "fc.extra");
    vt_run_ckpt *ck;
    vt_err err = {0};
    ck_assert_int_eq(vt_run_ckpt_load_latest(dir, &ck, NULL, 0, &err), VT_OK);
    float before[6];
    memcpy(before, vt_f32(w2), sizeof before);
    ck_assert_int_eq(vt_run_ckpt_restore_weights(ck, "head", &l, &err), VT_ESHAPE);
    ck_assert_msg(strstr(err.msg, "1 missing [fc.extra]") && strstr(err.msg, "1 mismatched dtype/shape [fc.weight]") &&
                      strstr(err.msg, "1 unexpected [fc.bias]"), "%s", err.msg);
    ck_assert(!memcmp(before, vt_f32(w2), sizeof before));
    ck_assert_int_eq(vt_run_ckpt_restore_weights(ck, "nope", &m.list, &err), VT_ESHAPE);
    ck_assert_int_eq(vt_run_ckpt_restore_optim(ck, "nope", m.opt, &err), VT_EFORMAT);
    /* an optimizer over differently named parameters */
    model_init(c, &other, 3);
    vt_tensor_set_name(other.w, "other.weight");
    vt_optim_destroy(other.opt);
    vt_optim_options o = vt_adamw_options();
    other.opt = vt_optim_create(c, &o);
    vt_tensor *ps[2] = {other.w, other.b};
    vt_optim_add_group(other.opt, ps, 2, 0.05, 0.1);
    ck_assert_int_eq(vt_run_ckpt_restore_optim(ck, "head", other.opt, &err), VT_ESHAPE);
    ck_assert_msg(strstr(err.msg, "unexpected [fc.weight."), "%s", err.msg);
    ck_assert(vt_ctx_ok(c));
    vt_run_ckpt_close(ck);
    vt_tensor_list_free(&l);
    vt_tensor_release(w2);
    model_free(&m);
    model_free(&other);
    vt_ctx_destroy(c);
    remove_dir(dir);
}
END_TEST

VT_TEST_MAIN("run_checkpoint", resume_continues_bit_identically, keeps_the_last_k,
             corrupt_newest_falls_back_with_a_note, sigkill_during_save_leaves_a_good_checkpoint,
             malformed_metadata_and_mismatches_are_reported)
