/* linear_cls, loaded from the build tree through the registry: ln(C) at zero weights, gradients against
 * central differences, a few SGD steps separate a toy problem, bad params and batches are errors. */
#include <math.h>
#include <string.h>

#include "visft/config.h"
#include "visft/registry.h"
#include "visft/visft.h"
#include "head_fixture.h"
#include "vt_test.h"

static vt_status head_open(head_t *t, vt_ctx *ctx, const char *yaml, int64_t width, vt_err *err) {
    return head_open_named(t, "linear_cls", ctx, yaml, width, 16, err);
}

static vt_tensor *param(head_t *t, const char *name) {
    vt_named_tensors ps;
    vt_err err = {0};
    ck_assert_int_eq(t->comp->vt.head.parameters(t->h, &ps, &err), VT_OK);
    for (size_t i = 0; i < ps.n; i++)
        if (strcmp(ps.items[i].name, name) == 0) {
            ck_assert_uint_eq(ps.items[i].flags & VT_TENSOR_TRAINABLE, VT_TENSOR_TRAINABLE);
            return ps.items[i].tensor;
        }
    return NULL;
}

/* Toy data: class k has a large channel k (mean over the 2x2 map). */
static void toy(vt_ctx *ctx, int64_t B, int64_t C, int64_t D, vt_tensor **x, vt_tensor **y) {
    *x = vt_zeros(ctx, VT_F32, VT_SHAPE(B, D, 2, 2));
    *y = vt_zeros(ctx, VT_I64, VT_SHAPE(B));
    float *px = vt_f32(*x);
    for (int64_t b = 0; b < B; b++) {
        int64_t k = b % C;
        vt_i64(*y)[b] = k;
        for (int64_t d = 0; d < D; d++)
            for (int q = 0; q < 4; q++) px[(b * D + d) * 4 + q] = (d == k ? 2.0f : 0.0f) + 0.1f * (float)((b * 7 + d * 3 + q) % 5) - 0.2f;
    }
}

static double loss_of(head_t *t, vt_ctx *ctx, vt_tensor *x, vt_batch *b) {
    vt_tensor *total;
    vt_named_tensors terms;
    vt_err err = {0};
    ck_assert_msg(t->comp->vt.head.loss(t->h, ctx, x, b, &total, &terms, &err) == VT_OK, "%s", err.msg);
    ck_assert_uint_eq(terms.n, 1);
    ck_assert_str_eq(terms.items[0].name, "ce");
    return vt_f32(vt_contiguous(ctx, total))[0];
}

START_TEST(test_zero_weights_give_log_classes) {
    vt_ctx *ctx = vt_ctx_create(NULL);
    head_t t;
    vt_err err = {0};
    ck_assert_msg(head_open(&t, ctx, "num_classes: 5\ninit_std: 0\n", 8, &err) == VT_OK, "%s", err.msg);
    ck_assert_ptr_nonnull(param(&t, "fc.weight"));
    ck_assert_ptr_nonnull(param(&t, "fc.bias"));
    vt_tensor *x, *y;
    toy(ctx, 6, 5, 8, &x, &y);
    vt_named_tensor tg = {"labels", y, 0};
    vt_batch b = {.struct_size = sizeof b, .size = 6, .targets = {&tg, 1}};
    ck_assert_double_eq_tol(loss_of(&t, ctx, x, &b), log(5.0), 1e-6);
    vt_named_tensors outs;
    ck_assert_int_eq(t.comp->vt.head.predict(t.h, ctx, x, &b, &outs, &err), VT_OK);
    ck_assert_uint_eq(outs.n, 2);
    ck_assert_str_eq(outs.items[0].name, "logits");
    ck_assert_str_eq(outs.items[1].name, "labels");
    ck_assert_int_eq(outs.items[0].tensor->shape[1], 5);
    /* bad batches are errors, not crashes */
    vt_batch none = {.struct_size = sizeof none, .size = 6};
    vt_tensor *total;
    vt_named_tensors terms;
    ck_assert_int_ne(t.comp->vt.head.loss(t.h, ctx, x, &none, &total, &terms, &err), VT_OK);
    ck_assert_ptr_nonnull(strstr(err.msg, "labels"));
    vt_tensor *bad = vt_zeros(ctx, VT_F32, VT_SHAPE(6, 3, 2, 2));
    ck_assert_int_ne(t.comp->vt.head.loss(t.h, ctx, bad, &b, &total, &terms, &err), VT_OK);
    head_close(&t);
    vt_ctx_destroy(ctx);
}
END_TEST

START_TEST(test_gradients_match_finite_differences) {
    vt_ctx *ctx = vt_ctx_create(NULL);
    head_t t;
    vt_err err = {0};
    ck_assert_msg(head_open(&t, ctx, "num_classes: 3\ninit_std: 0.5\nnorm: true\nlabel_smoothing: 0.1\n", 4, &err) == VT_OK,
                  "%s", err.msg);
    vt_tensor *x, *y;
    toy(ctx, 5, 3, 4, &x, &y);
    vt_named_tensor tg = {"labels", y, 0};
    vt_batch b = {.struct_size = sizeof b, .size = 5, .targets = {&tg, 1}};
    vt_tensor *total;
    vt_named_tensors terms;
    ck_assert_int_eq(t.comp->vt.head.loss(t.h, ctx, x, &b, &total, &terms, &err), VT_OK);
    ck_assert_int_eq(vt_backward(ctx, total), VT_OK);
    const char *names[] = {"fc.weight", "fc.bias", "norm.weight", "norm.bias"};
    for (int k = 0; k < 4; k++) {
        vt_tensor *p = param(&t, names[k]);
        ck_assert_ptr_nonnull(p);
        ck_assert_ptr_nonnull(p->grad);
        float *pv = vt_f32(p);
        const float *g = vt_f32(p->grad);
        for (int64_t i = 0; i < vt_numel(p); i++) {
            float keep = pv[i];
            const double h = 1e-2;
            pv[i] = keep + (float)h;
            double lp = loss_of(&t, ctx, x, &b);
            pv[i] = keep - (float)h;
            double lm = loss_of(&t, ctx, x, &b);
            pv[i] = keep;
            ck_assert_msg(fabs((lp - lm) / (2 * h) - g[i]) < 2e-3, "%s[%lld]: fd %g vs grad %g", names[k], (long long)i,
                          (lp - lm) / (2 * h), g[i]);
        }
    }
    head_close(&t);
    vt_ctx_destroy(ctx);
}
END_TEST

START_TEST(test_sgd_separates_a_toy_problem) {
    vt_ctx *ctx = vt_ctx_create(NULL);
    head_t t;
    vt_err err = {0};
    ck_assert_msg(head_open(&t, ctx, "num_classes: 4\n", 6, &err) == VT_OK, "%s", err.msg);
    vt_tensor *x, *y;
    toy(ctx, 16, 4, 6, &x, &y);
    vt_named_tensor tg = {"labels", y, 0};
    vt_batch b = {.struct_size = sizeof b, .size = 16, .targets = {&tg, 1}};
    vt_optim_options oo = vt_sgd_options(0.0, false);
    vt_optim *opt = vt_optim_create(ctx, &oo);
    ck_assert_int_ge(vt_optim_add_group(opt, (vt_tensor *[]){param(&t, "fc.weight"), param(&t, "fc.bias")}, 2, 0.5, 0), 0);
    double first = 0, last = 0;
    for (int s = 0; s < 30; s++) {
        vt_scope_push(ctx);
        vt_tensor *total;
        vt_named_tensors terms;
        ck_assert_int_eq(t.comp->vt.head.loss(t.h, ctx, x, &b, &total, &terms, &err), VT_OK);
        last = vt_f32(total)[0];
        if (s == 0) first = last;
        ck_assert_int_eq(vt_backward(ctx, total), VT_OK);
        ck_assert_int_eq(vt_optim_step(opt), VT_OK);
        vt_optim_zero_grad(opt);
        vt_scope_pop(ctx);
    }
    ck_assert_msg(last < 0.2 * first, "loss %g -> %g", first, last);
    vt_named_tensors outs;
    ck_assert_int_eq(t.comp->vt.head.predict(t.h, ctx, x, &b, &outs, &err), VT_OK);
    const int64_t *pred = vt_i64(vt_contiguous(ctx, outs.items[1].tensor));
    for (int64_t i = 0; i < 16; i++) ck_assert_int_eq(pred[i], vt_i64(y)[i]);
    vt_optim_destroy(opt);
    head_close(&t);
    vt_ctx_destroy(ctx);
}
END_TEST

START_TEST(test_bad_params_are_clear_errors) {
    vt_ctx *ctx = vt_ctx_create(NULL);
    head_t t;
    vt_err err = {0};
    ck_assert_int_ne(head_open(&t, ctx, "pool: mean\n", 8, &err), VT_OK);
    ck_assert_msg(strstr(err.msg, "num_classes"), "%s", err.msg);
    head_close(&t);
    ck_assert_int_ne(head_open(&t, ctx, "num_classes: 3\npool: max\n", 8, &err), VT_OK);
    ck_assert_msg(strstr(err.msg, "pool"), "%s", err.msg);
    head_close(&t);
    ck_assert_int_ne(head_open(&t, ctx, "num_classes: 3\n", 0, &err), VT_OK);
    ck_assert_msg(strstr(err.msg, "width"), "%s", err.msg);
    head_close(&t);
    vt_ctx_destroy(ctx);
}
END_TEST

VT_TEST_MAIN("linear_cls", test_zero_weights_give_log_classes, test_gradients_match_finite_differences,
             test_sgd_separates_a_toy_problem, test_bad_params_are_clear_errors)
