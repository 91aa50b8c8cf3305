/* Reductions and softmax: PyTorch parity (forward and backward), finite-difference gradients, PyTorch's
 * tie and NaN rules for max, thread-count independence and error reporting. */
#include <math.h>
#include <string.h>

#include "golden.h"
#include "vt_test.h"

/* Which reduction a case runs, and over which dim. */
typedef enum { R_SUM, R_MEAN, R_MAX, R_ARGMAX, R_MAX_ALL, R_SOFTMAX, R_LOG_SOFTMAX } red_kind;
typedef struct {
    const char *name;
    red_kind kind;
    int ndims;
    int dims[3];
    bool keepdim;
} red_case;

static vt_tensor *run_case(vt_ctx *c, vt_tensor **in, void *user) {
    const red_case *rc = user;
    switch (rc->kind) {
    case R_SUM: return vt_sum(c, in[0], rc->ndims, rc->dims, rc->keepdim);
    case R_MEAN: return vt_mean(c, in[0], rc->ndims, rc->dims, rc->keepdim);
    case R_MAX: return vt_max(c, in[0], rc->dims[0], rc->keepdim);
    case R_ARGMAX: return vt_argmax(c, in[0], rc->dims[0], rc->keepdim);
    case R_MAX_ALL: return vt_max_all(c, in[0]);
    case R_SOFTMAX: return vt_softmax(c, in[0], rc->dims[0]);
    case R_LOG_SOFTMAX: return vt_log_softmax(c, in[0], rc->dims[0]);
    }
    return NULL;
}

static const red_case golden_cases[] = {
    {"sum_dims02", R_SUM, 2, {0, 2}, false},
    {"sum_all", R_SUM, 0, {0}, false},
    {"mean_last_keep", R_MEAN, 1, {-1}, true},
    {"max_dim1", R_MAX, 1, {1}, false},
    {"max_last_keep", R_MAX, 1, {-1}, true},
    {"max_dim0", R_MAX, 1, {0}, false},
    {"argmax_dim1", R_ARGMAX, 1, {1}, false},
    {"argmax_last_keep", R_ARGMAX, 1, {-1}, true},
    {"max_all_ties", R_MAX_ALL, 0, {0}, false},
    {"softmax_last", R_SOFTMAX, 1, {-1}, false},
    {"softmax_dim1", R_SOFTMAX, 1, {1}, false},
    {"softmax_dim0", R_SOFTMAX, 1, {0}, false},
    {"softmax_large", R_SOFTMAX, 1, {-1}, false},
    {"log_softmax_last", R_LOG_SOFTMAX, 1, {-1}, false},
    {"log_softmax_dim1", R_LOG_SOFTMAX, 1, {1}, false},
    {"log_softmax_large", R_LOG_SOFTMAX, 1, {-1}, false},
    {"softmax_masked", R_SOFTMAX, 1, {-1}, false},
    {"log_softmax_masked_dim0", R_LOG_SOFTMAX, 1, {0}, false},
};

START_TEST(reductions_match_pytorch) {
    vt_ctx *c = vt_test_ctx();
    vt_golden *g = vt_golden_open("reduce.safetensors");
    for (size_t i = 0; i < sizeof golden_cases / sizeof golden_cases[0]; i++)
        vt_golden_check(c, g, golden_cases[i].name, run_case, (void *)&golden_cases[i], 1e-5, 1e-5);
    vt_golden_close(g);
    vt_ctx_destroy(c);
}
END_TEST

START_TEST(gradients_match_finite_differences) {
    vt_ctx *c = vt_test_ctx();
    /* random normals have no ties, so max is differentiable at the sample point */
    static const red_case cases[] = {
        {"max", R_MAX, 1, {1}, false},         {"max_keep", R_MAX, 1, {-1}, true},
        {"max_all", R_MAX_ALL, 0, {0}, false}, {"softmax_last", R_SOFTMAX, 1, {-1}, false},
        {"softmax_mid", R_SOFTMAX, 1, {1}, false}, {"log_softmax_last", R_LOG_SOFTMAX, 1, {2}, false},
        {"log_softmax_first", R_LOG_SOFTMAX, 1, {0}, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vt_tensor *x = vt_test_param(c, VT_SHAPE(3, 4, 5), 7 + i, 1.5f);
        char why[512];
        ck_assert_msg(vt_gradcheck(c, run_case, 1, &x, (void *)&cases[i], 1e-2, 2e-3, 2e-2, why, sizeof why), "%s: %s",
                      cases[i].name, why);
        vt_tensor_release(x);
    }
    vt_ctx_destroy(c);
}
END_TEST

START_TEST(max_prefers_first_index_and_nan) {
    vt_ctx *c = vt_test_ctx();
    vt_tensor *x = vt_from_f32(c, VT_SHAPE(2, 4), (float[]){1, 3, 3, 2, 5, NAN, 7, NAN});
    vt_tensor *i = vt_argmax(c, x, 1, false);
    ck_assert_int_eq(vt_i64(i)[0], 1);
    ck_assert_int_eq(vt_i64(i)[1], 1);
    vt_tensor *v = vt_max(c, x, -1, false);
    ck_assert_float_eq(vt_f32(v)[0], 3.0f);
    ck_assert(isnan(vt_f32(v)[1]));
    ck_assert(isnan(vt_item(vt_max_all(c, x))));
    vt_ctx_destroy(c);
}
END_TEST

/* The long-row max_all path splits into chunks; the earliest of several equal maxima must still win and
 * the gradient be shared between them. */
START_TEST(max_all_over_long_input_shares_gradient_between_ties) {
    vt_ctx *c = vt_test_ctx();
    const int64_t n = 300000;
    vt_tensor *x = vt_test_param(c, VT_SHAPE(n), 3, 1.0f);
    vt_f32(x)[123457] = 50.0f;
    vt_f32(x)[299999] = 50.0f;
    vt_tensor *m = vt_max_all(c, x);
    ck_assert_float_eq(vt_item(m), 50.0f);
    ck_assert_int_eq(vt_item(vt_argmax(c, x, 0, false)), 123457);
    ck_assert_int_eq(vt_backward(c, m), VT_OK);
    ck_assert_float_eq(vt_f32(x->grad)[123457], 0.5f);
    ck_assert_float_eq(vt_f32(x->grad)[299999], 0.5f);
    ck_assert_float_eq(vt_f32(x->grad)[0], 0.0f);
    vt_tensor_release(x);
    vt_ctx_destroy(c);
}
END_TEST

START_TEST(softmax_rows_sum_to_one_and_survive_extremes) {
    vt_ctx *c = vt_test_ctx();
    vt_tensor *x = vt_from_f32(c, VT_SHAPE(3, 3), (float[]){1e30f, 0, -1e30f, -INFINITY, 0, -INFINITY, 88, 89, 90});
    vt_tensor *y = vt_softmax(c, x, 1);
    ck_assert_float_eq_tol(vt_f32(y)[0], 1.0f, 1e-7);
    ck_assert_float_eq(vt_f32(y)[3], 0.0f);
    ck_assert_float_eq_tol(vt_f32(y)[4], 1.0f, 1e-7);
    for (int r = 0; r < 3; r++)
        ck_assert_float_eq_tol(vt_f32(y)[3 * r] + vt_f32(y)[3 * r + 1] + vt_f32(y)[3 * r + 2], 1.0f, 1e-6);
    vt_tensor *l = vt_log_softmax(c, x, 1);
    ck_assert_float_eq_tol(vt_f32(l)[8], -0.40760596f, 2e-5); /* one ulp at 90 is 7.6e-6 */
    ck_assert(isinf(vt_f32(l)[3]) && vt_f32(l)[3] < 0);
    vt_ctx_destroy(c);
}
END_TEST

/* Same inputs under 1 and 2 threads give bitwise-equal outputs and gradients. */
START_TEST(results_do_not_depend_on_thread_count) {
    float *ref[4] = {0};
    size_t bytes[4] = {0};
    for (int threads = 1; threads <= 2; threads++) {
        vt_ctx *c = vt_test_ctx();
        vt_ctx_set_threads(c, threads);
        vt_tensor *x = vt_test_param(c, VT_SHAPE(64, 33, 40), 5, 2.0f);
        vt_tensor *outs[4] = {
            vt_softmax(c, x, -1), vt_log_softmax(c, x, 1), vt_max(c, x, 0, false), NULL,
        };
        vt_tensor *loss = vt_add(c, vt_add(c, vt_sum_all(c, vt_mul(c, outs[0], outs[1])), vt_sum_all(c, outs[2])),
                                 vt_max_all(c, outs[1]));
        ck_assert_int_eq(vt_backward(c, loss), VT_OK);
        outs[3] = x->grad;
        for (int i = 0; i < 4; i++) {
            if (threads == 1) {
                bytes[i] = vt_nbytes(outs[i]);
                ref[i] = malloc(bytes[i]);
                memcpy(ref[i], outs[i]->data, bytes[i]);
            } else {
                ck_assert_msg(memcmp(ref[i], outs[i]->data, bytes[i]) == 0, "output %d differs between 1 and 2 threads", i);
                free(ref[i]);
            }
        }
        vt_tensor_release(x);
        vt_ctx_destroy(c);
    }
}
END_TEST

START_TEST(bad_arguments_report_op_and_shape) {
    vt_ctx *c = vt_test_ctx();
    vt_tensor *x = vt_zeros(c, VT_F32, VT_SHAPE(2, 3));
    ck_assert_ptr_null(vt_softmax(c, x, 2));
    ck_assert_msg(strstr(vt_ctx_error(c)->msg, "softmax: dim 2 out of range for a 2-d tensor"), "%s",
                  vt_ctx_error(c)->msg);
    vt_ctx_clear_error(c);
    ck_assert_ptr_null(vt_log_softmax(c, vt_zeros(c, VT_I64, VT_SHAPE(4)), 0));
    ck_assert_msg(strstr(vt_ctx_error(c)->msg, "log_softmax: input must be f32, got i64 [4]"), "%s",
                  vt_ctx_error(c)->msg);
    vt_ctx_clear_error(c);
    ck_assert_ptr_null(vt_max(c, vt_zeros(c, VT_F32, VT_SHAPE(2, 0)), 1, false));
    ck_assert_msg(strstr(vt_ctx_error(c)->msg, "max: cannot reduce [2, 0] over its empty dim 1"), "%s",
                  vt_ctx_error(c)->msg);
    vt_ctx_clear_error(c);
    ck_assert_ptr_null(vt_argmax(c, x, -3, false));
    ck_assert_msg(strstr(vt_ctx_error(c)->msg, "argmax: dim -3 out of range"), "%s", vt_ctx_error(c)->msg);
    vt_ctx_clear_error(c);
    ck_assert_ptr_null(vt_max_all(c, vt_zeros(c, VT_F32, VT_SHAPE(0, 3))));
    ck_assert_msg(strstr(vt_ctx_error(c)->msg, "max_all: cannot reduce the empty tensor [0, 3]"), "%s",
                  vt_ctx_error(c)->msg);
    vt_ctx_clear_error(c);
    ck_assert_ptr_null(vt_softmax(c, NULL, 0)); /* a NULL input is reported, no crash */
    vt_ctx_destroy(c);
}
END_TEST

VT_TEST_MAIN("ops_reduce", reductions_match_pytorch, gradients_match_finite_differences,
             max_prefers_first_index_and_nan, max_all_over_long_input_shares_gradient_between_ties,
             softmax_rows_sum_to_one_and_survive_extremes, results_do_not_depend_on_thread_count,
             bad_arguments_report_op_and_shape)
