/* layer_norm and group_norm: PyTorch parity (forward and all gradients), finite-difference gradients,
 * normalisation properties, thread-count independence of the fused backward, and error reporting. */
#include <math.h>
#include <string.h>

#include "golden.h"
#include "vt_test.h"

typedef struct {
    const char *name;
    bool group; /* group_norm, else layer_norm */
    bool has_w, has_b;
    int64_t groups;
    double eps;
} norm_case;

/* in[] is x, then weight and/or bias as the case has them */
static vt_tensor *run_case(vt_ctx *c, vt_tensor **in, void *user) {
    const norm_case *nc = user;
    vt_tensor *w = nc->has_w ? in[1] : NULL, *b = nc->has_b ? in[nc->has_w ? 2 : 1] : NULL;
    return nc->group ? vt_group_norm(c, in[0], nc->groups, w, b, nc->eps) : vt_layer_norm(c, in[0], w, b, nc->eps);
}

static const norm_case golden_cases[] = {
    {"ln_affine", false, true, true, 0, 1e-5},      {"ln_plain", false, false, false, 0, 1e-5},
    {"ln_weight_only", false, true, false, 0, 1e-5}, {"ln_bias_only", false, false, true, 0, 1e-5},
    {"ln_many_rows", false, true, true, 0, 1e-6},   {"ln_offset", false, true, true, 0, 1e-5},
    {"gn_affine", true, true, true, 3, 1e-5},       {"gn_plain_3d", true, false, false, 2, 1e-5},
    {"gn_no_spatial", true, true, true, 2, 1e-5},   {"gn_instance", true, true, true, 6, 1e-3},
    {"gn_one_group", true, true, false, 1, 1e-5},
};

START_TEST(norms_match_pytorch) {
    vt_ctx *c = vt_test_ctx();
    vt_golden *g = vt_golden_open("norm.safetensors");
    for (size_t i = 0; i < sizeof golden_cases / sizeof golden_cases[0]; i++) {
        /* ln_offset: inputs near 300 carry ~3e-5 of rounding, which normalisation scales up */
        double tol = strcmp(golden_cases[i].name, "ln_offset") == 0 ? 2e-3 : 2e-5;
        vt_golden_check(c, g, golden_cases[i].name, run_case, (void *)&golden_cases[i], tol, 1e-4);
    }
    vt_golden_close(g);
    vt_ctx_destroy(c);
}
END_TEST

START_TEST(gradients_match_finite_differences) {
    vt_ctx *c = vt_test_ctx();
    static const norm_case cases[] = {
        {"ln_affine", false, true, true, 0, 1e-5},
        {"ln_plain", false, false, false, 0, 1e-5},
        {"gn_affine", true, true, true, 2, 1e-5},
        {"gn_plain", true, false, false, 3, 1e-5},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vt_tensor *in[3] = {cases[i].group ? vt_test_param(c, VT_SHAPE(2, 6, 5), 21, 1.0f)
                                           : vt_test_param(c, VT_SHAPE(3, 2, 9), 22, 1.0f),
                            NULL, NULL};
        int64_t nw = cases[i].group ? 6 : 9;
        int n = 1;
        if (cases[i].has_w) in[n++] = vt_test_param(c, 1, &nw, 23, 1.0f);
        if (cases[i].has_b) in[n++] = vt_test_param(c, 1, &nw, 24, 1.0f);
        char why[512];
        ck_assert_msg(vt_gradcheck(c, run_case, n, in, (void *)&cases[i], 1e-2, 2e-3, 2e-2, why, sizeof why),
                      "%s: %s", cases[i].name, why);
        for (int j = 0; j < n; j++) vt_tensor_release(in[j]);
    }
    vt_ctx_destroy(c);
}
END_TEST

/* Without affine parameters every row has mean 0 and (biased) variance 1/(1 + eps/var) ≈ 1. */
START_TEST(normalised_rows_have_zero_mean_unit_variance) {
    vt_ctx *c = vt_test_ctx();
    vt_tensor *x = vt_add_scalar(c, vt_test_randn(c, VT_SHAPE(8, 384), 3, 5.0f), 40.0);
    vt_tensor *y = vt_layer_norm(c, x, NULL, NULL, 1e-6);
    vt_tensor *m = vt_mean(c, y, 1, (int[]){-1}, false);
    vt_tensor *v = vt_mean(c, vt_mul(c, y, y), 1, (int[]){-1}, false);
    for (int r = 0; r < 8; r++) {
        ck_assert_float_eq_tol(vt_f32(m)[r], 0.0f, 1e-5);
        ck_assert_float_eq_tol(vt_f32(v)[r], 1.0f, 1e-4);
    }
    vt_ctx_destroy(c);
}
END_TEST

/* Bitwise-equal outputs and gradients (dx, dweight, dbias) with 1 and 2 threads, at a size that takes the
 * parallel, many-chunk path. */
START_TEST(backward_does_not_depend_on_thread_count) {
    float *ref[8] = {0};
    for (int threads = 1; threads <= 2; threads++) {
        vt_ctx *c = vt_test_ctx();
        vt_ctx_set_threads(c, threads);
        vt_tensor *x = vt_test_param(c, VT_SHAPE(1000, 384), 1, 1.0f);
        vt_tensor *w = vt_test_param(c, VT_SHAPE(384), 2, 1.0f), *b = vt_test_param(c, VT_SHAPE(384), 3, 1.0f);
        vt_tensor *gx = vt_test_param(c, VT_SHAPE(16, 32, 8, 9), 4, 1.0f);
        vt_tensor *gw = vt_test_param(c, VT_SHAPE(32), 5, 1.0f), *gb = vt_test_param(c, VT_SHAPE(32), 6, 1.0f);
        vt_tensor *y1 = vt_layer_norm(c, x, w, b, 1e-6), *y2 = vt_group_norm(c, gx, 8, gw, gb, 1e-5);
        vt_backward_with(c, y1, vt_test_randn(c, VT_SHAPE(1000, 384), 7, 1.0f));
        vt_backward_with(c, y2, vt_test_randn(c, VT_SHAPE(16, 32, 8, 9), 8, 1.0f));
        vt_tensor *outs[8] = {y1, x->grad, w->grad, b->grad, y2, gx->grad, gw->grad, gb->grad};
        for (int i = 0; i < 8; i++) {
            ck_assert_ptr_nonnull(outs[i]);
            size_t nb = vt_nbytes(outs[i]);
            if (threads == 1) {
                ref[i] = malloc(nb);
                memcpy(ref[i], outs[i]->data, nb);
            } else {
                ck_assert_msg(memcmp(ref[i], outs[i]->data, nb) == 0, "tensor %d differs between 1 and 2 threads", i);
                free(ref[i]);
            }
        }
        vt_tensor *leaves[6] = {x, w, b, gx, gw, gb};
        for (int i = 0; i < 6; i++) vt_tensor_release(leaves[i]);
        vt_ctx_destroy(c);
    }
}
END_TEST

/* Gradients flow to weight/bias alone when the input is a constant (frozen backbone features). */
START_TEST(affine_gradients_without_input_gradient) {
    vt_ctx *c = vt_test_ctx();
    vt_tensor *x = vt_test_randn(c, VT_SHAPE(5, 12), 1, 1.0f);
    vt_tensor *w = vt_test_param(c, VT_SHAPE(12), 2, 1.0f), *b = vt_test_param(c, VT_SHAPE(12), 3, 1.0f);
    vt_tensor *in[3] = {x, w, b};
    const norm_case nc = {"ln", false, true, true, 0, 1e-5};
    VT_ASSERT_GRADCHECK(c, run_case, 3, in, (void *)&nc);
    vt_tensor_release(w);
    vt_tensor_release(b);
    vt_ctx_destroy(c);
}
END_TEST

START_TEST(bad_arguments_report_op_and_shapes) {
    vt_ctx *c = vt_test_ctx();
    vt_tensor *x = vt_zeros(c, VT_F32, VT_SHAPE(2, 6, 4));
    ck_assert_ptr_null(vt_layer_norm(c, x, vt_zeros(c, VT_F32, VT_SHAPE(6)), NULL, 1e-5));
    ck_assert_msg(strstr(vt_ctx_error(c)->msg, "layer_norm: weight must have shape [4] for input [2, 6, 4], got [6]"),
                  "%s", vt_ctx_error(c)->msg);
    vt_ctx_clear_error(c);
    ck_assert_ptr_null(vt_layer_norm(c, x, NULL, vt_zeros(c, VT_I64, VT_SHAPE(4)), 1e-5));
    ck_assert_msg(strstr(vt_ctx_error(c)->msg, "layer_norm: bias must be f32, got i64 [4]"), "%s",
                  vt_ctx_error(c)->msg);
    vt_ctx_clear_error(c);
    ck_assert_ptr_null(vt_group_norm(c, x, 4, NULL, NULL, 1e-5));
    ck_assert_msg(strstr(vt_ctx_error(c)->msg, "group_norm: 6 channels of input [2, 6, 4] do not split into 4 groups"),
                  "%s", vt_ctx_error(c)->msg);
    vt_ctx_clear_error(c);
    ck_assert_ptr_null(vt_group_norm(c, vt_zeros(c, VT_F32, VT_SHAPE(6)), 2, NULL, NULL, 1e-5));
    ck_assert_msg(strstr(vt_ctx_error(c)->msg, "group_norm: input must be [N, C, *], got [6]"), "%s",
                  vt_ctx_error(c)->msg);
    vt_ctx_clear_error(c);
    ck_assert_ptr_null(vt_group_norm(c, x, 3, vt_zeros(c, VT_F32, VT_SHAPE(3)), NULL, 1e-5));
    ck_assert_msg(strstr(vt_ctx_error(c)->msg, "group_norm: weight must have shape [6]"), "%s", vt_ctx_error(c)->msg);
    vt_ctx_clear_error(c);
    ck_assert_ptr_null(vt_layer_norm(c, vt_zeros(c, VT_I64, VT_SHAPE(3)), NULL, NULL, 1e-5));
    ck_assert_int_eq(vt_ctx_error(c)->code, VT_EDTYPE);
    vt_ctx_destroy(c);
}
END_TEST

VT_TEST_MAIN("ops_norm", norms_match_pytorch, gradients_match_finite_differences,
             normalised_rows_have_zero_mean_unit_variance, backward_does_not_depend_on_thread_count,
             affine_gradients_without_input_gradient, bad_arguments_report_op_and_shapes)
