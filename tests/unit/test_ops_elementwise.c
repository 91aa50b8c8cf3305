/* Elementwise ops: PyTorch parity (forward and backward), finite-difference gradients, broadcasting
 * properties and error reporting. */
#include <math.h>
#include <string.h>

#include "golden.h"
#include "vt_test.h"

typedef vt_tensor *(*unary_fn)(vt_ctx *, vt_tensor *);
typedef vt_tensor *(*binary_fn)(vt_ctx *, vt_tensor *, vt_tensor *);

static vt_tensor *clamp_fn(vt_ctx *c, vt_tensor *x) { return vt_clamp(c, x, -0.5, 0.7); }
static vt_tensor *add_s(vt_ctx *c, vt_tensor *x) { return vt_add_scalar(c, x, 0.25); }
static vt_tensor *mul_s(vt_ctx *c, vt_tensor *x) { return vt_mul_scalar(c, x, -1.5); }
static vt_tensor *rsub_s(vt_ctx *c, vt_tensor *x) { return vt_rsub_scalar(c, x, 2.0); }
static vt_tensor *rdiv_s(vt_ctx *c, vt_tensor *x) { return vt_rdiv_scalar(c, x, 2.0); }
static vt_tensor *pow_s(vt_ctx *c, vt_tensor *x) { return vt_pow_scalar(c, x, 2.5); }

static const struct {
    const char *name;
    unary_fn fn;
    bool positive; /* domain for the finite-difference check */
} unary_ops[] = {
    {"neg", vt_neg, false},         {"exp", vt_exp, false},
    {"log", vt_log, true},          {"sqrt", vt_sqrt, true},
    {"rsqrt", vt_rsqrt, true},      {"abs", vt_abs, false},
    {"clamp", clamp_fn, false},     {"tanh", vt_tanh, false},
    {"sigmoid", vt_sigmoid, false}, {"relu", vt_relu, false},
    {"gelu", vt_gelu, false},       {"gelu_tanh", vt_gelu_tanh, false},
    {"quick_gelu", vt_quick_gelu, false}, {"silu", vt_silu, false},
    {"add_scalar", add_s, false},   {"mul_scalar", mul_s, false},
    {"rsub_scalar", rsub_s, false}, {"rdiv_scalar", rdiv_s, true},
    {"pow_scalar", pow_s, true},
};
#define N_UNARY (sizeof unary_ops / sizeof unary_ops[0])

static vt_tensor *call_unary(vt_ctx *c, vt_tensor **in, void *user) { return ((unary_fn)user)(c, in[0]); }
static vt_tensor *call_binary(vt_ctx *c, vt_tensor **in, void *user) { return ((binary_fn)user)(c, in[0], in[1]); }

START_TEST(unary_ops_match_pytorch) {
    vt_ctx *c = vt_test_ctx();
    vt_golden *g = vt_golden_open("elementwise.safetensors");
    for (size_t i = 0; i < N_UNARY; i++)
        vt_golden_check(c, g, unary_ops[i].name, call_unary, (void *)unary_ops[i].fn, 1e-5, 1e-5);
    vt_golden_close(g);
    vt_ctx_destroy(c);
}
END_TEST

START_TEST(binary_ops_match_pytorch) {
    vt_ctx *c = vt_test_ctx();
    vt_golden *g = vt_golden_open("elementwise.safetensors");
    vt_golden_check(c, g, "add_bcast", call_binary, (void *)vt_add, 1e-6, 1e-5);
    vt_golden_check(c, g, "sub_bcast", call_binary, (void *)vt_sub, 1e-6, 1e-5);
    vt_golden_check(c, g, "mul_bcast", call_binary, (void *)vt_mul, 1e-6, 1e-5);
    vt_golden_check(c, g, "div_bcast", call_binary, (void *)vt_div, 1e-6, 1e-5);
    vt_golden_check(c, g, "mul_same", call_binary, (void *)vt_mul, 1e-6, 1e-5);
    vt_golden_check(c, g, "add_row", call_binary, (void *)vt_add, 1e-6, 1e-5);
    vt_golden_close(g);
    vt_ctx_destroy(c);
}
END_TEST

START_TEST(unary_gradients_match_finite_differences) {
    vt_ctx *c = vt_test_ctx();
    for (size_t i = 0; i < N_UNARY; i++) {
        vt_tensor *x = vt_test_param(c, VT_SHAPE(3, 4), 10 + i, 1.0f);
        if (unary_ops[i].positive) { /* shift into (0.3, ...) */
            float *p = vt_f32(x);
            for (int j = 0; j < 12; j++) p[j] = 0.3f + fabsf(p[j]);
        } else { /* keep away from kinks at 0 and the clamp bounds */
            float *p = vt_f32(x);
            for (int j = 0; j < 12; j++)
                if (fabsf(p[j]) < 0.05f || fabsf(p[j] + 0.5f) < 0.05f || fabsf(p[j] - 0.7f) < 0.05f) p[j] += 0.17f;
        }
        char why[512];
        ck_assert_msg(vt_gradcheck(c, call_unary, 1, &x, (void *)unary_ops[i].fn, 1e-2, 2e-3, 2e-2, why, sizeof why),
                      "%s: %s", unary_ops[i].name, why);
        vt_tensor_release(x);
    }
    vt_ctx_destroy(c);
}
END_TEST

START_TEST(binary_gradients_match_finite_differences) {
    vt_ctx *c = vt_test_ctx();
    binary_fn fns[] = {vt_add, vt_sub, vt_mul, vt_div};
    for (int i = 0; i < 4; i++) {
        vt_tensor *a = vt_test_param(c, VT_SHAPE(2, 3, 4), 1, 1.0f);
        vt_tensor *b = vt_test_param(c, VT_SHAPE(3, 1), 2, 1.0f);
        float *pb = vt_f32(b);
        for (int j = 0; j < 3; j++) pb[j] = 1.0f + fabsf(pb[j]); /* safe divisor */
        vt_tensor *in[2] = {a, b};
        VT_ASSERT_GRADCHECK(c, call_binary, 2, in, (void *)fns[i]);
        vt_tensor_release(a);
        vt_tensor_release(b);
    }
    vt_ctx_destroy(c);
}
END_TEST

/* Property: for random broadcastable shapes, add(a, b) equals the elementwise sum computed by index. */
START_TEST(broadcasting_matches_index_arithmetic) {
    vt_ctx *c = vt_test_ctx();
    uint64_t s = 42;
    for (int trial = 0; trial < 200; trial++) {
        vt_scope_push(c);
        int nd = 1 + (int)((s = s * 6364136223846793005ull + 1) >> 60) % 4;
        int64_t out[4], sa[4], sb[4];
        for (int d = 0; d < nd; d++) {
            s = s * 6364136223846793005ull + 1;
            out[d] = 1 + (int64_t)((s >> 33) % 4);
            sa[d] = ((s >> 20) & 1) ? 1 : out[d];
            sb[d] = ((s >> 21) & 1) ? 1 : out[d];
        }
        int nda = nd - (int)((s >> 40) % 2), off = nd - nda; /* a may have fewer leading dims */
        vt_tensor *a = vt_test_randn(c, nda, sa + off, (uint64_t)trial, 1.0f);
        vt_tensor *b = vt_test_randn(c, nd, sb, (uint64_t)trial + 1000, 1.0f);
        vt_tensor *y = vt_add(c, a, b);
        ck_assert_msg(y != NULL, "%s", vt_ctx_error(c)->msg);
        ck_assert_int_eq(y->ndim, nd);
        for (int d = 0; d < nd; d++) ck_assert_int_eq(y->shape[d], d >= off && sa[d] > sb[d] ? sa[d] : sb[d]);
        for (int64_t i = 0; i < vt_numel(y); i++) {
            int64_t rem = i, ia = 0, ib = 0, sta = 1, stb = 1;
            for (int d = nd - 1; d >= 0; d--) {
                int64_t idx = rem % y->shape[d]; /* a dim is 1 when both inputs are 1 there */
                rem /= y->shape[d];
                if (d >= off) {
                    ia += (sa[d] == 1 ? 0 : idx) * sta;
                    sta *= sa[d];
                }
                ib += (sb[d] == 1 ? 0 : idx) * stb;
                stb *= sb[d];
            }
            ck_assert_float_eq_tol(vt_f32(y)[i], vt_f32(a)[ia] + vt_f32(b)[ib], 1e-6);
        }
        vt_scope_pop(c);
    }
    vt_ctx_destroy(c);
}
END_TEST

START_TEST(mismatched_shapes_report_op_and_shapes) {
    vt_ctx *c = vt_test_ctx();
    vt_tensor *a = vt_zeros(c, VT_F32, VT_SHAPE(2, 3));
    vt_tensor *b = vt_zeros(c, VT_F32, VT_SHAPE(4));
    ck_assert_ptr_null(vt_mul(c, a, b));
    ck_assert_int_eq(vt_ctx_error(c)->code, VT_ESHAPE);
    ck_assert_msg(strstr(vt_ctx_error(c)->msg, "mul: shapes [2, 3] and [4] do not broadcast"), "%s",
                  vt_ctx_error(c)->msg);
    /* the chain stays NULL and keeps the first error */
    ck_assert_ptr_null(vt_exp(c, vt_mul(c, a, b)));
    ck_assert_msg(strstr(vt_ctx_error(c)->msg, "mul:"), "%s", vt_ctx_error(c)->msg);
    vt_ctx_clear_error(c);
    vt_tensor *i = vt_zeros(c, VT_I64, VT_SHAPE(2, 3));
    ck_assert_ptr_null(vt_exp(c, i));
    ck_assert_int_eq(vt_ctx_error(c)->code, VT_EDTYPE);
    ck_assert_msg(strstr(vt_ctx_error(c)->msg, "exp: input must be f32, got i64 [2, 3]"), "%s", vt_ctx_error(c)->msg);
    vt_ctx_destroy(c);
}
END_TEST

START_TEST(nan_propagates_through_transcendentals) {
    vt_ctx *c = vt_test_ctx();
    vt_tensor *x = vt_full(c, VT_F32, VT_SHAPE(16), NAN);
    unary_fn fns[] = {vt_exp, vt_tanh, vt_sigmoid, vt_gelu, vt_silu};
    for (int i = 0; i < 5; i++) ck_assert(isnan(vt_f32(fns[i](c, x))[3]));
    vt_ctx_destroy(c);
}
END_TEST

VT_TEST_MAIN("ops_elementwise", unary_ops_match_pytorch, binary_ops_match_pytorch,
             unary_gradients_match_finite_differences, binary_gradients_match_finite_differences,
             broadcasting_matches_index_arithmetic, mismatched_shapes_report_op_and_shapes,
             nan_propagates_through_transcendentals)
