/* bf16 autocast (vt_ctx_set_autocast) on the CPU, the specification other backends follow: every GEMM —
 * matmul, linear, conv, forward and backward — equals the f32 GEMM of its inputs rounded to bf16, bit for bit;
 * other ops and the parameters stay f32; turning it off restores f32 exactly. */
#include <math.h>
#include <string.h>

#include "testutil.h"
#include "visft/ops.h"
#include "vt_test.h"

static vt_tensor *randn(vt_ctx *c, uint64_t seed, int nd, const int64_t *shape) {
    vt_ctx_seed(c, seed);
    return vt_randn(c, nd, shape);
}

/* A copy with every element rounded to bf16 precision. */
static vt_tensor *rounded(vt_ctx *c, vt_tensor *x) {
    vt_tensor *y = vt_empty_like(c, x);
    for (int64_t i = 0; i < vt_numel(x); i++) vt_f32(y)[i] = vt_bf16_to_f32(vt_f32_to_bf16(vt_f32(x)[i]));
    return y;
}

static void assert_bits_equal(vt_tensor *a, vt_tensor *b, const char *what) {
    ck_assert_int_eq(vt_numel(a), vt_numel(b));
    ck_assert_msg(memcmp(vt_f32(a), vt_f32(b), vt_nbytes(a)) == 0, "%s differs", what);
}

START_TEST(matmul_equals_f32_on_rounded_inputs) {
    vt_ctx *c = vt_ctx_create(NULL);
    ck_assert_int_eq(vt_ctx_autocast(c), VT_F32);
    ck_assert(!vt_ctx_set_autocast(c, VT_F16)); /* only bf16 */
    vt_tensor *a = randn(c, 1, VT_SHAPE(33, 130)), *b = randn(c, 2, VT_SHAPE(130, 47));
    vt_tensor *ref = vt_matmul(c, rounded(c, a), rounded(c, b));
    vt_tensor *f32 = vt_matmul(c, a, b);
    ck_assert(vt_ctx_set_autocast(c, VT_BF16));
    vt_tensor *got = vt_matmul(c, a, b);
    assert_bits_equal(got, ref, "matmul under autocast");
    /* it is a real change of precision ... */
    double maxd = 0;
    for (int64_t i = 0; i < vt_numel(got); i++) maxd = fmax(maxd, fabs(vt_f32(got)[i] - vt_f32(f32)[i]));
    ck_assert_msg(maxd > 1e-4 && maxd < 0.5, "bf16 vs f32 max difference %g", maxd);
    /* ... that switching off undoes */
    ck_assert(vt_ctx_set_autocast(c, VT_F32));
    assert_bits_equal(vt_matmul(c, a, b), f32, "matmul after autocast off");
    ck_assert(vt_ctx_ok(c));
    vt_ctx_destroy(c);
}
END_TEST

START_TEST(linear_gradients_use_rounded_operands) {
    vt_ctx *c = vt_ctx_create(NULL);
    vt_tensor *x = randn(c, 3, VT_SHAPE(6, 40)), *w = randn(c, 4, VT_SHAPE(24, 40)), *g = randn(c, 5, VT_SHAPE(6, 24));
    vt_set_requires_grad(x, true);
    vt_set_requires_grad(w, true);
    ck_assert(vt_ctx_set_autocast(c, VT_BF16));
    ck_assert_int_eq(vt_backward(c, vt_sum_all(c, vt_mul(c, vt_linear(c, x, w, NULL), g))), VT_OK);
    ck_assert(vt_ctx_set_autocast(c, VT_F32));
    /* dx = g·w and dw = gᵀ·x, each on bf16-rounded operands */
    vt_tensor *dx = vt_matmul(c, rounded(c, g), rounded(c, w));
    vt_tensor *dw = vt_matmul(c, vt_transpose(c, rounded(c, g), 0, 1), rounded(c, x));
    assert_bits_equal(x->grad, vt_contiguous(c, dx), "dx");
    assert_bits_equal(w->grad, vt_contiguous(c, dw), "dw");
    vt_ctx_destroy(c);
}
END_TEST

START_TEST(conv_follows_autocast_and_elementwise_does_not) {
    vt_ctx *c = vt_ctx_create(NULL);
    vt_tensor *x = randn(c, 6, VT_SHAPE(2, 3, 16, 16)), *w = randn(c, 7, VT_SHAPE(8, 3, 4, 4));
    vt_conv2d_opts o = {.stride = {4, 4}};
    vt_tensor *ref = vt_conv2d(c, rounded(c, x), rounded(c, w), NULL, &o);
    ck_assert(vt_ctx_set_autocast(c, VT_BF16));
    assert_bits_equal(vt_conv2d(c, x, w, NULL, &o), ref, "patch-embedding conv under autocast");
    /* elementwise ops keep f32 */
    vt_tensor *s = vt_mul(c, x, x);
    ck_assert_float_eq(vt_f32(s)[5], vt_f32(x)[5] * vt_f32(x)[5]);
    ck_assert(vt_ctx_ok(c));
    vt_ctx_destroy(c);
}
END_TEST

VT_TEST_MAIN("autocast", matmul_equals_f32_on_rounded_inputs, linear_gradients_use_rounded_operands,
             conv_follows_autocast_and_elementwise_does_not)
