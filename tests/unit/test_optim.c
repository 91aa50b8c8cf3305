/* Optimizers, gradient clipping and lr schedules: parity with torch.optim over ten steps (two groups, a
 * skipped parameter, a mid-run lr change), exact checkpoint round trips, thread-count independence and
 * argument errors. References: tests/ref/gen_optim.py. */
#include <math.h>
#include <string.h>

#include "golden.h"
#include "visft/optim.h"
#include "vt_test.h"

#define STEPS 10
#define NP 3

/* Hyper-parameters of each case in gen_optim.py's OPT_CASES (keep in sync). Group 0 = params 0 and 2. */
static const struct {
    const char *name;
    vt_optim_options opt;
    double lr0, wd0, lr1, wd1;
} opt_cases[] = {
    {"adamw", {.kind = VT_OPTIM_ADAMW, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8}, 1e-2, 0.05, 5e-3, 0.0},
    {"adamw_eps", {.kind = VT_OPTIM_ADAMW, .beta1 = 0.8, .beta2 = 0.95, .eps = 1e-3}, 3e-2, 0.1, 1e-2, 0.02},
    {"sgd", {.kind = VT_OPTIM_SGD}, 0.1, 0.01, 0.05, 0.0},
    {"sgd_momentum", {.kind = VT_OPTIM_SGD, .momentum = 0.9}, 0.05, 0.1, 0.02, 0.0},
    {"sgd_nesterov", {.kind = VT_OPTIM_SGD, .momentum = 0.9, .nesterov = true}, 0.05, 0.05, 0.02, 0.0},
    {"sgd_dampening", {.kind = VT_OPTIM_SGD, .momentum = 0.8, .dampening = 0.3}, 0.05, 0.02, 0.03, 0.01},
};
#define N_OPT_CASES (sizeof opt_cases / sizeof opt_cases[0])

/* The golden run's inputs: initial parameters, per-step gradients and which parameters have one. */
typedef struct fixture {
    vt_golden *g;
    vt_tensor *init[NP], *grads[NP], *has_grad;
} fixture;

static fixture fixture_open(vt_ctx *c) {
    fixture f = {.g = vt_golden_open("optim.safetensors")};
    char key[64];
    for (int i = 0; i < NP; i++) {
        snprintf(key, sizeof key, "init.%d", i);
        f.init[i] = vt_golden_get(c, f.g, key);
        snprintf(key, sizeof key, "grads.%d", i);
        f.grads[i] = vt_golden_get(c, f.g, key);
        ck_assert(f.init[i] && f.grads[i]);
    }
    f.has_grad = vt_golden_get(c, f.g, "has_grad");
    ck_assert_ptr_nonnull(f.has_grad);
    return f;
}

/* Caller-owned leaves holding the initial values, named so their state has stable names. */
static void make_params(vt_ctx *c, const fixture *f, vt_tensor **ps) {
    static const char *names[NP] = {"w", "b", "v"};
    for (int i = 0; i < NP; i++) {
        ps[i] = vt_tensor_create(c, VT_F32, f->init[i]->ndim, f->init[i]->shape);
        vt_copy_(c, ps[i], f->init[i]);
        vt_set_requires_grad(ps[i], true);
        vt_tensor_set_name(ps[i], names[i]);
    }
}

static void release_all(vt_tensor **ps, int n) {
    for (int i = 0; i < n; i++) vt_tensor_release(ps[i]);
}

static vt_optim *make_optim(vt_ctx *c, size_t k, vt_tensor **ps) {
    vt_optim *o = vt_optim_create(c, &opt_cases[k].opt);
    ck_assert_msg(o != NULL, "%s", vt_ctx_error(c)->msg);
    vt_tensor *g0[2] = {ps[0], ps[2]};
    ck_assert_int_eq(vt_optim_add_group(o, g0, 2, opt_cases[k].lr0, opt_cases[k].wd0), 0);
    ck_assert_int_eq(vt_optim_add_group(o, &ps[1], 1, opt_cases[k].lr1, opt_cases[k].wd1), 1);
    return o;
}

/* Gives each parameter its gradient of step s (or none), as the golden run did. */
static void set_grads(vt_ctx *c, const fixture *f, vt_tensor **ps, int s) {
    for (int i = 0; i < NP; i++) {
        vt_zero_grad(ps[i]);
        if (!vt_i64(f->has_grad)[s * NP + i]) continue;
        int64_t n = vt_numel(ps[i]);
        ps[i]->grad = vt_tensor_create(c, VT_F32, ps[i]->ndim, ps[i]->shape);
        memcpy(vt_f32(ps[i]->grad), vt_f32(f->grads[i]) + s * n, (size_t)n * sizeof(float));
    }
}

/* One step of the golden schedule: group 0's lr halves from step 5 on. */
static void golden_step(vt_ctx *c, const fixture *f, vt_optim *o, size_t k, vt_tensor **ps, int s) {
    if (s == 5) ck_assert_int_eq(vt_optim_set_lr(o, 0, opt_cases[k].lr0 * 0.5), VT_OK);
    set_grads(c, f, ps, s);
    ck_assert_msg(vt_optim_step(o) == VT_OK, "%s step %d: %s", opt_cases[k].name, s, vt_ctx_error(c)->msg);
}

static void check_params(vt_ctx *c, const fixture *f, size_t k, vt_tensor **ps, int s) {
    char key[64], why[256];
    for (int i = 0; i < NP; i++) {
        snprintf(key, sizeof key, "%s.p%d", opt_cases[k].name, i);
        vt_tensor *all = vt_golden_get(c, f->g, key);
        ck_assert_msg(all != NULL, "golden %s missing", key);
        vt_tensor *want = vt_from_f32(c, ps[i]->ndim, ps[i]->shape, vt_f32(all) + s * vt_numel(ps[i]));
        double r = vt_test_close_ratio(ps[i], want, 1e-6, 1e-5, why, sizeof why);
        ck_assert_msg(r <= 1.0, "%s: param %d after step %d vs PyTorch: %s", opt_cases[k].name, i, s, why);
    }
}

static void run_parity(bool adamw) {
    vt_ctx *c = vt_test_ctx();
    fixture f = fixture_open(c);
    for (size_t k = 0; k < N_OPT_CASES; k++) {
        if ((opt_cases[k].opt.kind == VT_OPTIM_ADAMW) != adamw) continue;
        vt_tensor *ps[NP];
        make_params(c, &f, ps);
        vt_optim *o = make_optim(c, k, ps);
        for (int s = 0; s < STEPS; s++) {
            vt_scope_push(c);
            golden_step(c, &f, o, k, ps, s);
            check_params(c, &f, k, ps, s);
            vt_scope_pop(c);
        }
        ck_assert_int_eq(vt_optim_step_count(o), STEPS);
        vt_optim_destroy(o);
        release_all(ps, NP);
    }
    vt_golden_close(f.g);
    vt_ctx_destroy(c);
}

START_TEST(adamw_matches_pytorch_over_ten_steps) { run_parity(true); }
END_TEST

START_TEST(sgd_matches_pytorch_over_ten_steps) { run_parity(false); }
END_TEST

START_TEST(params_without_grad_are_skipped_and_keep_no_state) {
    vt_ctx *c = vt_test_ctx();
    vt_tensor *a = vt_test_param(c, VT_SHAPE(3, 4), 1, 1.0f), *b = vt_test_param(c, VT_SHAPE(5), 2, 1.0f);
    float before[5];
    memcpy(before, vt_f32(b), sizeof before);
    vt_optim_options opt = vt_adamw_options();
    vt_optim *o = vt_optim_create(c, &opt);
    vt_tensor *ps[2] = {a, b};
    ck_assert_int_eq(vt_optim_add_group(o, ps, 2, 0.1, 0.5), 0); /* decay would move b if it were visited */
    a->grad = vt_tensor_create(c, VT_F32, VT_SHAPE(3, 4));
    vt_fill_(c, a->grad, 0.25);
    ck_assert_int_eq(vt_optim_step(o), VT_OK);
    ck_assert_int_eq(memcmp(before, vt_f32(b), sizeof before), 0);
    ck_assert_uint_eq(vt_optim_state_count(o), 3); /* step, exp_avg, exp_avg_sq of a only */
    vt_optim_state_entry e;
    ck_assert(vt_optim_state_at(o, 0, &e));
    ck_assert_str_eq(e.name, "group0.param0.step");
    ck_assert_int_eq(vt_i64(e.tensor)[0], 1);
    ck_assert(!vt_optim_state_at(o, 3, &e));
    ck_assert_ptr_null(vt_optim_state_lookup(o, "group0.param1.exp_avg", false));
    ck_assert_int_eq(vt_ctx_error(c)->code, VT_ENOTFOUND);
    vt_ctx_clear_error(c);
    vt_optim_zero_grad(o);
    ck_assert_ptr_null(a->grad);
    vt_optim_destroy(o);
    release_all(ps, 2);
    vt_ctx_destroy(c);
}
END_TEST

/* Runs a case five steps, copies its state by name into a fresh optimizer over copies of the parameters,
 * and checks that both then take bit-identical steps (and that without the state they would not). */
static void round_trip(size_t k) {
    vt_ctx *c = vt_test_ctx();
    fixture f = fixture_open(c);
    vt_tensor *pa[NP], *pb[NP], *pc[NP];
    make_params(c, &f, pa);
    vt_optim *a = make_optim(c, k, pa);
    for (int s = 0; s < 5; s++) golden_step(c, &f, a, k, pa, s);
    make_params(c, &f, pb);
    make_params(c, &f, pc);
    for (int i = 0; i < NP; i++) {
        vt_copy_(c, pb[i], pa[i]);
        vt_copy_(c, pc[i], pa[i]);
    }
    vt_optim *b = make_optim(c, k, pb), *fresh = make_optim(c, k, pc);
    vt_optim_state_entry e;
    for (size_t i = 0; vt_optim_state_at(a, i, &e); i++) {
        vt_tensor *t = vt_optim_state_lookup(b, e.name, true);
        ck_assert_msg(t != NULL, "%s: %s", e.name, vt_ctx_error(c)->msg);
        ck_assert_int_eq(vt_copy_(c, t, e.tensor), VT_OK);
    }
    ck_assert_uint_eq(vt_optim_state_count(b), vt_optim_state_count(a));
    vt_optim_set_step_count(b, vt_optim_step_count(a));
    ck_assert_int_eq(vt_optim_step_count(b), 5);
    for (int s = 5; s < STEPS; s++) {
        golden_step(c, &f, a, k, pa, s);
        golden_step(c, &f, b, k, pb, s);
        golden_step(c, &f, fresh, k, pc, s);
        for (int i = 0; i < NP; i++)
            ck_assert_msg(!memcmp(vt_f32(pa[i]), vt_f32(pb[i]), vt_nbytes(pa[i])), "%s: param %d differs at step %d",
                          opt_cases[k].name, i, s);
    }
    ck_assert_msg(memcmp(vt_f32(pa[0]), vt_f32(pc[0]), vt_nbytes(pa[0])), "%s: state made no difference",
                  opt_cases[k].name);
    vt_optim_destroy(a);
    vt_optim_destroy(b);
    vt_optim_destroy(fresh);
    release_all(pa, NP);
    release_all(pb, NP);
    release_all(pc, NP);
    vt_golden_close(f.g);
    vt_ctx_destroy(c);
}

START_TEST(state_round_trip_gives_identical_steps) {
    round_trip(1); /* adamw_eps: step counts differ per parameter */
    round_trip(5); /* sgd_dampening: a restored buffer must not count as fresh */
}
END_TEST

START_TEST(clip_grad_norm_matches_pytorch) {
    vt_ctx *c = vt_test_ctx();
    vt_golden *g = vt_golden_open("optim.safetensors");
    static const struct {
        const char *name;
        double max_norm, norm_type;
    } cases[] = {{"clip_l2", 1.0, 2.0}, {"clip_inf", 0.5, INFINITY}, {"clip_l1", 3.0, 1.0},
                 {"clip_p3", 0.7, 3.0}, {"clip_noop", 100.0, 2.0}};
    char key[64], why[256];
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        vt_scope_push(c);
        vt_tensor *ps[4];
        for (int i = 0; i < 3; i++) {
            snprintf(key, sizeof key, "clip.g%d", i);
            vt_tensor *gi = vt_golden_get(c, g, key);
            ps[i] = vt_tensor_create(c, VT_F32, gi->ndim, gi->shape);
            vt_set_requires_grad(ps[i], true);
            ps[i]->grad = vt_tensor_create(c, VT_F32, gi->ndim, gi->shape);
            vt_copy_(c, ps[i]->grad, gi);
        }
        ps[3] = vt_test_param(c, VT_SHAPE(2), 9, 1.0f); /* no gradient: ignored */
        double total = vt_clip_grad_norm(c, ps, 4, cases[k].max_norm, cases[k].norm_type);
        snprintf(key, sizeof key, "%s.total", cases[k].name);
        double want = vt_item(vt_golden_get(c, g, key));
        ck_assert_msg(fabs(total - want) <= 2e-6 * want, "%s: total %.9g, PyTorch %.9g", cases[k].name, total, want);
        for (int i = 0; i < 3; i++) {
            snprintf(key, sizeof key, "%s.g%d", cases[k].name, i);
            double r = vt_test_close_ratio(ps[i]->grad, vt_golden_get(c, g, key), 1e-7, 2e-6, why, sizeof why);
            ck_assert_msg(r <= 1.0, "%s: gradient %d: %s", cases[k].name, i, why);
        }
        ck_assert_ptr_null(ps[3]->grad);
        release_all(ps, 4);
        vt_scope_pop(c);
    }
    /* no gradients at all: 0, as PyTorch */
    vt_tensor *p = vt_test_param(c, VT_SHAPE(3), 1, 1.0f);
    ck_assert(vt_clip_grad_norm(c, &p, 1, 1.0, 2.0) == 0.0);
    vt_tensor_release(p);
    vt_golden_close(g);
    vt_ctx_destroy(c);
}
END_TEST

/* Schedules of gen_optim.py's sched_cases, over groups with base lr 0.1 and 0.01. */
START_TEST(schedules_match_pytorch) {
    vt_ctx *c = vt_test_ctx();
    vt_golden *g = vt_golden_open("optim.safetensors");
    static const struct {
        const char *name;
        vt_lr_schedule s;
    } cases[] = {
        {"sched_cosine_warmup", {.kind = VT_LR_COSINE, .warmup_steps = 5, .warmup_start_ratio = 0.1,
                                 .total_steps = 30, .min_lr = 1e-4}},
        {"sched_cosine", {.kind = VT_LR_COSINE, .total_steps = 20}},
        {"sched_cosine_hf", {.kind = VT_LR_COSINE, .warmup_steps = 4, .total_steps = 16, .min_lr_ratio = 0.05}},
        {"sched_step", {.kind = VT_LR_STEP, .milestones = {4, 9, 15}, .n_milestones = 3, .gamma = 0.1}},
        {"sched_step_warmup", {.kind = VT_LR_STEP, .warmup_steps = 3, .warmup_start_ratio = 0.25,
                               .milestones = {4, 9, 15}, .n_milestones = 3, .gamma = 0.1}},
        {"sched_constant_warmup", {.kind = VT_LR_CONSTANT, .warmup_steps = 8, .warmup_start_ratio = 0.2}},
    };
    vt_tensor *ps[2] = {vt_test_param(c, VT_SHAPE(1), 1, 1.0f), vt_test_param(c, VT_SHAPE(1), 2, 1.0f)};
    vt_optim_options opt = vt_sgd_options(0.0, false);
    vt_optim *o = vt_optim_create(c, &opt);
    vt_optim_add_group(o, &ps[0], 1, 0.1, 0.0);
    vt_optim_add_group(o, &ps[1], 1, 0.01, 0.0);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        vt_err err = {0};
        ck_assert_msg(vt_lr_schedule_check(&cases[k].s, &err) == VT_OK, "%s: %s", cases[k].name, err.msg);
        vt_tensor *want = vt_golden_get(c, g, cases[k].name);
        ck_assert_ptr_nonnull(want);
        for (int64_t s = 0; s < want->shape[0]; s++) {
            ck_assert_int_eq(vt_optim_apply_schedule(o, &cases[k].s, s), VT_OK);
            for (int gi = 0; gi < 2; gi++) {
                double w = vt_f32(want)[s * 2 + gi], got = vt_optim_get_lr(o, (size_t)gi);
                ck_assert_msg(fabs(got - w) <= 1e-6 * w + 1e-12, "%s step %lld group %d: %.9g, PyTorch %.9g",
                              cases[k].name, (long long)s, gi, got, w);
            }
        }
        ck_assert(vt_optim_base_lr(o, 0) == 0.1); /* schedules never move the base */
    }
    vt_optim_destroy(o);
    release_all(ps, 2);
    vt_golden_close(g);
    vt_ctx_destroy(c);
}
END_TEST

START_TEST(schedule_edges_follow_the_documented_formulas) {
    vt_lr_schedule cos = {.kind = VT_LR_COSINE, .warmup_steps = 10, .total_steps = 110, .min_lr = 1e-5};
    ck_assert(vt_lr_at(&cos, 1e-3, 0) == 0.0);                 /* base·s/W starts at 0 */
    ck_assert(fabs(vt_lr_at(&cos, 1e-3, 5) - 5e-4) < 1e-18);
    ck_assert(vt_lr_at(&cos, 1e-3, 10) == 1e-3);               /* peak right after warmup */
    ck_assert(fabs(vt_lr_at(&cos, 1e-3, 60) - (1e-5 + 0.5 * (1e-3 - 1e-5))) < 1e-15); /* half way */
    ck_assert(vt_lr_at(&cos, 1e-3, 110) == 1e-5);              /* held at the floor after the end */
    ck_assert(vt_lr_at(&cos, 1e-3, 100000) == 1e-5);
    ck_assert(vt_lr_at(&cos, 1e-3, -3) == 0.0);                /* negative steps count as 0 */
    vt_lr_schedule cst = {.kind = VT_LR_CONSTANT};
    ck_assert(vt_lr_at(&cst, 0.5, 0) == 0.5 && vt_lr_at(&cst, 0.5, 1000) == 0.5);
    vt_lr_schedule st = {.kind = VT_LR_STEP, .milestones = {3}, .n_milestones = 1, .gamma = 0.5};
    ck_assert(vt_lr_at(&st, 1.0, 2) == 1.0 && vt_lr_at(&st, 1.0, 3) == 0.5);

    vt_err err = {0};
    vt_lr_schedule bad = {.kind = VT_LR_COSINE, .warmup_steps = 10, .total_steps = 10};
    ck_assert_int_eq(vt_lr_schedule_check(&bad, &err), VT_EINVAL);
    ck_assert_msg(strstr(err.msg, "total_steps 10 must exceed warmup_steps 10"), "%s", err.msg);
    vt_lr_schedule bad2 = {.kind = VT_LR_STEP, .milestones = {5, 5}, .n_milestones = 2, .gamma = 0.1};
    ck_assert_int_eq(vt_lr_schedule_check(&bad2, &err), VT_EINVAL);
    ck_assert_msg(strstr(err.msg, "milestones must be increasing"), "%s", err.msg);
}
END_TEST

/* AdamW, SGD and the clipping norm over tensors big enough to be threaded: same bits for 1, 2 and 3 threads. */
START_TEST(results_do_not_depend_on_thread_count) {
    vt_ctx *c = vt_test_ctx();
    const int64_t n = 600000; /* threaded, and split into many partial sums by the norm kernel */
    float *ref[2] = {NULL, NULL};
    double ref_norm = 0.0;
    for (int threads = 1; threads <= 3; threads++) {
        vt_ctx_set_threads(c, threads);
        for (int kind = 0; kind < 2; kind++) {
            vt_scope_push(c);
            vt_tensor *p = vt_test_param(c, VT_SHAPE(n), 5, 1.0f);
            vt_optim_options opt = kind ? vt_adamw_options() : vt_sgd_options(0.9, true);
            vt_optim *o = vt_optim_create(c, &opt);
            vt_optim_add_group(o, &p, 1, 1e-2, 0.1);
            for (int s = 0; s < 3; s++) {
                vt_zero_grad(p);
                p->grad = vt_tensor_create(c, VT_F32, VT_SHAPE(n));
                vt_copy_(c, p->grad, vt_test_randn(c, VT_SHAPE(n), 100 + (uint64_t)s, 1.0f));
                double norm = vt_optim_clip_grad_norm(o, 100.0, 2.0);
                if (kind == 0 && s == 0 && threads == 1) ref_norm = norm;
                if (kind == 0 && s == 0) ck_assert_msg(norm == ref_norm, "norm %.17g vs %.17g", norm, ref_norm);
                ck_assert_int_eq(vt_optim_step(o), VT_OK);
            }
            if (!ref[kind]) {
                ref[kind] = malloc((size_t)n * sizeof(float));
                memcpy(ref[kind], vt_f32(p), (size_t)n * sizeof(float));
            } else {
                ck_assert_msg(!memcmp(ref[kind], vt_f32(p), (size_t)n * sizeof(float)), "kind %d, %d threads", kind,
                              threads);
            }
            vt_optim_destroy(o);
            vt_tensor_release(p);
            vt_scope_pop(c);
        }
    }
    free(ref[0]);
    free(ref[1]);
    vt_ctx_destroy(c);
}
END_TEST

START_TEST(bad_params_options_and_grads_are_reported) {
    vt_ctx *c = vt_test_ctx();
    vt_optim_options opt = vt_adamw_options();
    vt_optim *o = vt_optim_create(c, &opt);
    vt_tensor *p = vt_test_param(c, VT_SHAPE(4, 5), 1, 1.0f);
    vt_tensor_set_name(p, "head.weight");

    vt_tensor *y = vt_mul_scalar(c, p, 2.0); /* not a leaf */
    ck_assert_int_eq(vt_optim_add_group(o, &y, 1, 0.1, 0.0), VT_EINVAL);
    ck_assert_msg(strstr(vt_ctx_error(c)->msg, "optim: parameter 0 of group 0 ('' [4, 5]) is not a leaf"), "%s",
                  vt_ctx_error(c)->msg);
    vt_ctx_clear_error(c);

    vt_tensor *i64 = vt_tensor_create(c, VT_I64, VT_SHAPE(3));
    vt_tensor *two[2] = {p, i64};
    ck_assert_int_eq(vt_optim_add_group(o, two, 2, 0.1, 0.0), VT_EDTYPE);
    ck_assert_msg(strstr(vt_ctx_error(c)->msg, "parameter 1 of group 0 ('' [3]) must be f32, got i64"), "%s",
                  vt_ctx_error(c)->msg);
    vt_ctx_clear_error(c);
    ck_assert_uint_eq(vt_optim_num_groups(o), 0); /* a rejected group adds nothing */

    ck_assert_int_eq(vt_optim_add_group(o, &p, 1, 0.1, 0.0), 0);
    ck_assert_int_eq(vt_optim_add_group(o, &p, 1, 0.1, 0.0), VT_EINVAL); /* already in group 0 */
    ck_assert_msg(strstr(vt_ctx_error(c)->msg, "already in the optimizer"), "%s", vt_ctx_error(c)->msg);
    vt_ctx_clear_error(c);
    ck_assert_int_eq(vt_optim_add_group(o, NULL, 0, -1.0, 0.0), VT_EINVAL);
    vt_ctx_clear_error(c);

    /* a gradient of the wrong shape fails the step and leaves the parameter alone */
    float before[20];
    memcpy(before, vt_f32(p), sizeof before);
    p->grad = vt_tensor_create(c, VT_F32, VT_SHAPE(5, 4));
    ck_assert_int_eq(vt_optim_step(o), VT_ESHAPE);
    ck_assert_msg(strstr(vt_ctx_error(c)->msg, "adamw: gradient of 'head.weight' is [5, 4] f32, parameter is [4, 5]"),
                  "%s", vt_ctx_error(c)->msg);
    ck_assert_int_eq(memcmp(before, vt_f32(p), sizeof before), 0);
    ck_assert_int_eq(vt_optim_step_count(o), 0);
    vt_ctx_clear_error(c);

    ck_assert_ptr_null(vt_optim_state_lookup(o, "head.weight.momentum_buffer", true));
    ck_assert_int_eq(vt_ctx_error(c)->code, VT_ENOTFOUND);
    vt_ctx_clear_error(c);
    ck_assert_ptr_null(vt_optim_state_lookup(o, "head.bias.exp_avg", true));
    ck_assert_msg(strstr(vt_ctx_error(c)->msg, "no parameter named 'head.bias'"), "%s", vt_ctx_error(c)->msg);
    vt_ctx_clear_error(c);
    ck_assert(vt_clip_grad_norm(c, &p, 1, 1.0, 0.0) < 0);
    ck_assert_msg(strstr(vt_ctx_error(c)->msg, "clip_grad_norm: norm_type 0 must be > 0"), "%s", vt_ctx_error(c)->msg);
    vt_ctx_clear_error(c);
    vt_optim_destroy(o);

    vt_optim_options nest = {.kind = VT_OPTIM_SGD, .nesterov = true};
    ck_assert_ptr_null(vt_optim_create(c, &nest));
    ck_assert_msg(strstr(vt_ctx_error(c)->msg, "nesterov needs momentum > 0"), "%s", vt_ctx_error(c)->msg);
    vt_ctx_clear_error(c);
    vt_optim_options betas = vt_adamw_options();
    betas.beta2 = 1.0;
    ck_assert_ptr_null(vt_optim_create(c, &betas));
    ck_assert_int_eq(vt_ctx_error(c)->code, VT_EINVAL);
    vt_tensor_release(p);
    vt_tensor_release(i64);
    vt_ctx_destroy(c);
}
END_TEST

VT_TEST_MAIN("optim", adamw_matches_pytorch_over_ten_steps, sgd_matches_pytorch_over_ten_steps,
             params_without_grad_are_skipped_and_keep_no_state, state_round_trip_gives_identical_steps,
             clip_grad_norm_matches_pytorch, schedules_match_pytorch, schedule_edges_follow_the_documented_formulas,
             results_do_not_depend_on_thread_count, bad_params_options_and_grads_are_reported)
