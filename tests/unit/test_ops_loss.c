/* Losses: PyTorch parity for every option combination (ignore_index, class weights with label smoothing,
 * all-ignored batches, probability targets, pos_weight, reductions), finite-difference gradients,
 * thread-count independence and error reporting. */
#include <math.h>
#include <string.h>

#include "golden.h"
#include "vt_test.h"

typedef enum { L_CE, L_BCE, L_L1, L_MSE } loss_kind;
typedef struct {
    const char *name;
    loss_kind kind;
    vt_reduction red;
    int64_t ignore_index;
    double smoothing;
    bool has_w, has_pw; /* extra inputs after (logits, targets), in this order */
} loss_case;

static vt_tensor *run_case(vt_ctx *c, vt_tensor **in, void *user) {
    const loss_case *lc = user;
    switch (lc->kind) {
    case L_CE: {
        vt_cross_entropy_opts o = vt_cross_entropy_defaults();
        o.reduction = lc->red;
        o.ignore_index = lc->ignore_index;
        o.label_smoothing = lc->smoothing;
        o.weight = lc->has_w ? in[2] : NULL;
        /* golden files store a 0-d target as [1] (numpy's ascontiguousarray) */
        vt_tensor *t = in[0]->ndim == 1 && in[1]->ndim == 1 ? vt_reshape(c, in[1], 0, NULL) : in[1];
        return vt_cross_entropy(c, in[0], t, &o);
    }
    case L_BCE: {
        vt_bce_opts o = {lc->has_w ? in[2] : NULL, lc->has_pw ? in[lc->has_w ? 3 : 2] : NULL, lc->red};
        return vt_binary_cross_entropy_with_logits(c, in[0], in[1], &o);
    }
    case L_L1: return vt_l1_loss(c, in[0], in[1], lc->red);
    case L_MSE: return vt_mse_loss(c, in[0], in[1], lc->red);
    }
    return NULL;
}

#define MEAN VT_REDUCTION_MEAN
#define SUM VT_REDUCTION_SUM
#define NONE VT_REDUCTION_NONE

static const loss_case golden_cases[] = {
    {"ce_mean", L_CE, MEAN, -100, 0, false, false},
    {"ce_sum", L_CE, SUM, -100, 0, false, false},
    {"ce_none", L_CE, NONE, -100, 0, false, false},
    {"ce_ignore", L_CE, MEAN, -100, 0, false, false},
    {"ce_ignore_valid_class", L_CE, MEAN, 3, 0, false, false},
    {"ce_weight", L_CE, MEAN, -100, 0, true, false},
    {"ce_smooth", L_CE, MEAN, -100, 0.1, false, false},
    {"ce_weight_smooth", L_CE, MEAN, -100, 0.2, true, false},
    {"ce_weight_smooth_sum", L_CE, SUM, -100, 0.2, true, false},
    {"ce_weight_smooth_none", L_CE, NONE, -100, 0.2, true, false},
    {"ce_large_logits", L_CE, MEAN, -100, 0.1, false, false},
    {"ce_spatial", L_CE, MEAN, -100, 0.15, true, false},
    {"ce_spatial_none", L_CE, NONE, -100, 0, false, false},
    {"ce_1d", L_CE, MEAN, -100, 0, false, false},
    {"ce_all_ignored_sum", L_CE, SUM, -100, 0, false, false},
    {"ce_soft", L_CE, MEAN, -100, 0, false, false},
    {"ce_soft_weight_smooth", L_CE, MEAN, -100, 0.1, true, false},
    {"ce_soft_spatial_none", L_CE, NONE, -100, 0, false, false},
    {"bce_mean", L_BCE, MEAN, 0, 0, false, false},
    {"bce_pos_weight_sum", L_BCE, SUM, 0, 0, false, true},
    {"bce_weights_none", L_BCE, NONE, 0, 0, true, true},
    {"bce_extreme", L_BCE, MEAN, 0, 0, false, false},
    {"l1_mean", L_L1, MEAN, 0, 0, false, false},
    {"l1_sum", L_L1, SUM, 0, 0, false, false},
    {"l1_none", L_L1, NONE, 0, 0, false, false},
    {"mse_mean", L_MSE, MEAN, 0, 0, false, false},
    {"mse_sum", L_MSE, SUM, 0, 0, false, false},
    {"mse_none", L_MSE, NONE, 0, 0, false, false},
    {"mse_broadcast", L_MSE, MEAN, 0, 0, false, false},
};

START_TEST(losses_match_pytorch) {
    vt_ctx *c = vt_test_ctx();
    vt_golden *g = vt_golden_open("loss.safetensors");
    for (size_t i = 0; i < sizeof golden_cases / sizeof golden_cases[0]; i++)
        vt_golden_check(c, g, golden_cases[i].name, run_case, (void *)&golden_cases[i], 2e-5, 2e-5);
    vt_golden_close(g);
    vt_ctx_destroy(c);
}
END_TEST

/* A batch with every target ignored: the mean is 0/0 = NaN and the gradient 0, as in PyTorch (checked
 * here by hand because NaN never compares close). */
START_TEST(all_ignored_batch_gives_nan_mean_and_zero_gradient) {
    vt_ctx *c = vt_test_ctx();
    vt_golden *g = vt_golden_open("loss.safetensors");
    const char *names[2] = {"ce_all_ignored", "ce_all_ignored_weight_smooth"};
    for (int i = 0; i < 2; i++) {
        vt_scope_push(c);
        char key[128];
        snprintf(key, sizeof key, "%s.in.0", names[i]);
        vt_tensor *x = vt_tensor_create(c, VT_F32, VT_SHAPE(8, 10));
        vt_copy_(c, x, vt_golden_get(c, g, key));
        vt_set_requires_grad(x, true);
        snprintf(key, sizeof key, "%s.in.1", names[i]);
        vt_tensor *in[3] = {x, vt_golden_get(c, g, key), NULL};
        snprintf(key, sizeof key, "%s.in.2", names[i]);
        in[2] = vt_golden_get(c, g, key);
        loss_case lc = {names[i], L_CE, MEAN, -100, i ? 0.1 : 0.0, i == 1, false};
        vt_tensor *loss = run_case(c, in, &lc);
        ck_assert_msg(loss != NULL, "%s", vt_ctx_error(c)->msg);
        snprintf(key, sizeof key, "%s.out", names[i]);
        ck_assert(isnan(vt_item(vt_golden_get(c, g, key))));
        ck_assert_msg(isnan(vt_item(loss)), "%s: loss %g", names[i], vt_item(loss));
        ck_assert_int_eq(vt_backward(c, loss), VT_OK);
        snprintf(key, sizeof key, "%s.grad.0", names[i]);
        VT_ASSERT_CLOSE(x->grad, vt_golden_get(c, g, key), 1e-12, 0.0);
        vt_tensor_release(x);
        vt_scope_pop(c);
    }
    vt_golden_close(g);
    vt_ctx_destroy(c);
}
END_TEST

START_TEST(gradients_match_finite_differences) {
    vt_ctx *c = vt_test_ctx();
    /* cross-entropy with weights, smoothing and an ignored sample, over [N, C] and [N, C, d1, d2] */
    {
        vt_tensor *x = vt_test_param(c, VT_SHAPE(5, 4), 1, 1.5f);
        vt_tensor *in[3] = {x, vt_from_i64(c, VT_SHAPE(5), (int64_t[]){2, -100, 0, 3, 1}),
                            vt_from_f32(c, VT_SHAPE(4), (float[]){0.5f, 1.5f, 1.0f, 2.0f})};
        loss_case lc = {"ce", L_CE, MEAN, -100, 0.2, true, false};
        VT_ASSERT_GRADCHECK(c, run_case, 3, in, &lc);
        lc.red = NONE;
        VT_ASSERT_GRADCHECK(c, run_case, 3, in, &lc);
        vt_tensor_release(x);
    }
    {
        vt_tensor *x = vt_test_param(c, VT_SHAPE(2, 3, 2, 2), 2, 1.5f);
        vt_tensor *in[2] = {x, vt_from_i64(c, VT_SHAPE(2, 2, 2), (int64_t[]){0, 2, 1, -100, 2, 2, 0, 1})};
        loss_case lc = {"ce_spatial", L_CE, SUM, -100, 0.1, false, false};
        VT_ASSERT_GRADCHECK(c, run_case, 2, in, &lc);
        vt_tensor_release(x);
    }
    {
        vt_tensor *x = vt_test_param(c, VT_SHAPE(3, 5), 3, 1.5f);
        vt_tensor *p = vt_softmax(c, vt_test_randn(c, VT_SHAPE(3, 5), 4, 1.0f), 1);
        vt_tensor *in[2] = {x, p};
        loss_case lc = {"ce_soft", L_CE, MEAN, -100, 0.1, false, false};
        VT_ASSERT_GRADCHECK(c, run_case, 2, in, &lc);
        vt_tensor_release(x);
    }
    /* BCE: gradients in both logits and targets, with weight and pos_weight broadcast */
    {
        vt_tensor *x = vt_test_param(c, VT_SHAPE(4, 3), 5, 2.0f);
        vt_tensor *t = vt_tensor_create(c, VT_F32, VT_SHAPE(4, 3));
        vt_copy_(c, t, vt_test_uniform(c, VT_SHAPE(4, 3), 6, 0.0f, 1.0f));
        vt_set_requires_grad(t, true);
        vt_tensor *in[4] = {x, t, vt_test_uniform(c, VT_SHAPE(4, 1), 7, 0.5f, 2.0f),
                            vt_test_uniform(c, VT_SHAPE(3), 8, 0.5f, 3.0f)};
        loss_case lc = {"bce", L_BCE, MEAN, 0, 0, true, true};
        VT_ASSERT_GRADCHECK(c, run_case, 4, in, &lc);
        lc.red = NONE;
        VT_ASSERT_GRADCHECK(c, run_case, 4, in, &lc);
        vt_tensor_release(x);
        vt_tensor_release(t);
    }
    /* L1 (differences kept away from the kink at 0) and MSE with a broadcast target */
    {
        vt_tensor *a = vt_test_param(c, VT_SHAPE(3, 4), 9, 1.0f), *b = vt_test_param(c, VT_SHAPE(4), 10, 1.0f);
        for (int i = 0; i < 12; i++)
            if (fabsf(vt_f32(a)[i] - vt_f32(b)[i % 4]) < 0.05f) vt_f32(a)[i] += 0.2f;
        vt_tensor *in[2] = {a, b};
        loss_case l1 = {"l1", L_L1, MEAN, 0, 0, false, false}, mse = {"mse", L_MSE, SUM, 0, 0, false, false};
        VT_ASSERT_GRADCHECK(c, run_case, 2, in, &l1);
        VT_ASSERT_GRADCHECK(c, run_case, 2, in, &mse);
        vt_tensor_release(a);
        vt_tensor_release(b);
    }
    vt_ctx_destroy(c);
}
END_TEST

/* Classification-sized cross-entropy (threaded path) gives bitwise-equal loss and gradient on 1 and 2
 * threads. */
START_TEST(cross_entropy_does_not_depend_on_thread_count) {
    float ref[2] = {0}, *gref = NULL;
    for (int threads = 1; threads <= 2; threads++) {
        vt_ctx *c = vt_test_ctx();
        vt_ctx_set_threads(c, threads);
        vt_tensor *x = vt_test_param(c, VT_SHAPE(256, 1000), 1, 3.0f);
        int64_t t[256];
        for (int i = 0; i < 256; i++) t[i] = (i * 7919) % 1000;
        vt_cross_entropy_opts o = vt_cross_entropy_defaults();
        o.label_smoothing = 0.1;
        vt_tensor *loss = vt_cross_entropy(c, x, vt_from_i64(c, VT_SHAPE(256), t), &o);
        ck_assert_int_eq(vt_backward(c, loss), VT_OK);
        float l = (float)vt_item(loss), g0 = vt_f32(x->grad)[12345];
        if (threads == 1) {
            ref[0] = l, ref[1] = g0;
            gref = malloc(vt_nbytes(x->grad));
            memcpy(gref, x->grad->data, vt_nbytes(x->grad));
        } else {
            ck_assert(memcmp(&ref[0], &l, sizeof l) == 0);
            ck_assert(memcmp(gref, x->grad->data, vt_nbytes(x->grad)) == 0);
            free(gref);
        }
        vt_tensor_release(x);
        vt_ctx_destroy(c);
    }
}
END_TEST

#define ASSERT_FAILS_WITH(expr, text)                                                                       \
    do {                                                                                                   \
        ck_assert_ptr_null(expr);                                                                          \
        ck_assert_msg(strstr(vt_ctx_error(c)->msg, text), "expected \"%s\", got \"%s\"", text, vt_ctx_error(c)->msg); \
        vt_ctx_clear_error(c);                                                                             \
    } while (0)

START_TEST(bad_arguments_report_op_and_shapes) {
    vt_ctx *c = vt_test_ctx();
    vt_tensor *x = vt_zeros(c, VT_F32, VT_SHAPE(3, 4));
    vt_tensor *t = vt_from_i64(c, VT_SHAPE(3), (int64_t[]){0, 4, 1});
    ASSERT_FAILS_WITH(vt_cross_entropy(c, x, t, NULL),
                      "cross_entropy: target of sample 1 (targets [3]) is outside [0, 4) and not ignore_index -100");
    ASSERT_FAILS_WITH(vt_cross_entropy(c, x, vt_zeros(c, VT_I64, VT_SHAPE(4)), NULL),
                      "cross_entropy: class-index targets [4] do not match logits [3, 4]");
    ASSERT_FAILS_WITH(vt_cross_entropy(c, x, vt_zeros(c, VT_I32, VT_SHAPE(3)), NULL),
                      "cross_entropy: targets must be i64 class indices or f32 probabilities, got i32 [3]");
    vt_cross_entropy_opts o = vt_cross_entropy_defaults();
    o.weight = vt_zeros(c, VT_F32, VT_SHAPE(3));
    ASSERT_FAILS_WITH(vt_cross_entropy(c, x, vt_zeros(c, VT_I64, VT_SHAPE(3)), &o),
                      "cross_entropy: weight must have shape [4] for logits [3, 4], got [3]");
    o = vt_cross_entropy_defaults();
    o.label_smoothing = 1.5;
    ASSERT_FAILS_WITH(vt_cross_entropy(c, x, vt_zeros(c, VT_I64, VT_SHAPE(3)), &o),
                      "cross_entropy: label_smoothing must be in [0, 1], got 1.5");
    o = vt_cross_entropy_defaults();
    o.reduction = (vt_reduction)7;
    ASSERT_FAILS_WITH(vt_cross_entropy(c, x, vt_zeros(c, VT_I64, VT_SHAPE(3)), &o), "cross_entropy: unknown reduction 7");
    ASSERT_FAILS_WITH(vt_binary_cross_entropy_with_logits(c, x, vt_zeros(c, VT_F32, VT_SHAPE(4, 3)), NULL),
                      "binary_cross_entropy_with_logits: targets [4, 3] must have the shape of logits [3, 4]");
    vt_bce_opts bo = {NULL, vt_zeros(c, VT_F32, VT_SHAPE(3)), VT_REDUCTION_MEAN};
    ASSERT_FAILS_WITH(vt_binary_cross_entropy_with_logits(c, x, x, &bo),
                      "binary_cross_entropy_with_logits: shapes [3, 4] and [3] do not broadcast");
    bo.pos_weight = vt_zeros(c, VT_F32, VT_SHAPE(2, 3, 4));
    ASSERT_FAILS_WITH(vt_binary_cross_entropy_with_logits(c, x, x, &bo),
                      "binary_cross_entropy_with_logits: pos_weight [2, 3, 4] does not broadcast to logits [3, 4]");
    ASSERT_FAILS_WITH(vt_l1_loss(c, x, vt_zeros(c, VT_F32, VT_SHAPE(5)), VT_REDUCTION_MEAN),
                      "l1_loss: shapes [3, 4] and [5] do not broadcast");
    ASSERT_FAILS_WITH(vt_mse_loss(c, x, vt_zeros(c, VT_I64, VT_SHAPE(3, 4)), VT_REDUCTION_MEAN),
                      "mse_loss: target must be f32, got i64 [3, 4]");
    vt_ctx_destroy(c);
}
END_TEST

VT_TEST_MAIN("ops_loss", losses_match_pytorch, all_ignored_batch_gives_nan_mean_and_zero_gradient,
             gradients_match_finite_differences, cross_entropy_does_not_depend_on_thread_count,
             bad_arguments_report_op_and_shapes)
