/* Shape ops, sum/mean and matmul/linear: PyTorch parity, gradients, view semantics and errors. */
#include <string.h>

#include "golden.h"
#include "vt_test.h"

static vt_tensor *f_reshape(vt_ctx *c, vt_tensor **in, void *u) { return vt_reshape(c, in[0], VT_SHAPE(4, -1)); }
static vt_tensor *f_permute(vt_ctx *c, vt_tensor **in, void *u) {
    return vt_contiguous(c, vt_permute(c, in[0], (int[]){2, 0, 1}));
}
static vt_tensor *f_transpose(vt_ctx *c, vt_tensor **in, void *u) { return vt_transpose(c, in[0], 0, 2); }
static vt_tensor *f_slice(vt_ctx *c, vt_tensor **in, void *u) {
    return vt_slice(c, vt_slice(c, in[0], 1, 1, 3, 1), 2, 0, 100, 2);
}
static vt_tensor *f_expand(vt_ctx *c, vt_tensor **in, void *u) { return vt_expand(c, in[0], VT_SHAPE(5, 3, 4)); }
static vt_tensor *f_concat(vt_ctx *c, vt_tensor **in, void *u) { return vt_concat(c, 2, in, 1); }
static vt_tensor *f_sum_last(vt_ctx *c, vt_tensor **in, void *u) { return vt_sum(c, in[0], 1, (int[]){-1}, false); }
static vt_tensor *f_sum_first(vt_ctx *c, vt_tensor **in, void *u) { return vt_sum(c, in[0], 1, (int[]){0}, false); }
static vt_tensor *f_sum_mid(vt_ctx *c, vt_tensor **in, void *u) { return vt_sum(c, in[0], 1, (int[]){1}, true); }
static vt_tensor *f_sum_02(vt_ctx *c, vt_tensor **in, void *u) { return vt_sum(c, in[0], 2, (int[]){0, 2}, false); }
static vt_tensor *f_mean_all(vt_ctx *c, vt_tensor **in, void *u) { return vt_mean_all(c, in[0]); }
static vt_tensor *f_mean_12(vt_ctx *c, vt_tensor **in, void *u) { return vt_mean(c, in[0], 2, (int[]){1, 2}, false); }
static vt_tensor *f_matmul(vt_ctx *c, vt_tensor **in, void *u) { return vt_matmul(c, in[0], in[1]); }
static vt_tensor *f_matmul_t(vt_ctx *c, vt_tensor **in, void *u) {
    return vt_matmul(c, vt_transpose(c, in[0], -1, -2), vt_transpose(c, in[1], -1, -2));
}
static vt_tensor *f_linear(vt_ctx *c, vt_tensor **in, void *u) { return vt_linear(c, in[0], in[1], in[2]); }

static vt_tensor *f_lora(vt_ctx *c, vt_tensor **in, void *u) {
    vt_tensor *A[3] = {in[3], NULL, in[5]}, *B[3] = {in[4], NULL, in[6]};
    return vt_lora_linear(c, in[0], in[1], in[2], vt_mul_scalar(c, in[0], 0.5), 3, A, B, 2.0);
}

static const struct {
    const char *name;
    vt_test_fn fn;
} cases[] = {
    {"reshape", f_reshape},       {"permute", f_permute},         {"transpose", f_transpose},
    {"slice", f_slice},           {"expand", f_expand},           {"concat", f_concat},
    {"sum_last", f_sum_last},     {"sum_first", f_sum_first},     {"sum_middle_keep", f_sum_mid},
    {"sum_02", f_sum_02},         {"mean_all", f_mean_all},       {"mean_12", f_mean_12},
    {"matmul_2d", f_matmul},      {"matmul_batched", f_matmul},   {"matmul_bcast", f_matmul},
    {"matmul_fold", f_matmul},    {"matmul_vec", f_matmul},       {"matmul_transposed", f_matmul_t},
    {"linear", f_linear},         {"linear_nobias", f_linear},   {"lora_linear", f_lora},
};
#define N_CASES (sizeof cases / sizeof cases[0])

START_TEST(core_ops_match_pytorch) {
    vt_ctx *c = vt_test_ctx();
    vt_golden *g = vt_golden_open("core.safetensors");
    for (size_t i = 0; i < N_CASES; i++) vt_golden_check(c, g, cases[i].name, cases[i].fn, NULL, 1e-5, 1e-5);
    vt_golden_close(g);
    vt_ctx_destroy(c);
}
END_TEST

START_TEST(core_ops_gradcheck) {
    vt_ctx *c = vt_test_ctx();
    vt_golden *g = vt_golden_open("core.safetensors");
    for (size_t i = 0; i < N_CASES; i++) {
        char key[128];
        vt_tensor *in[8] = {0};
        int n = 0;
        vt_scope_push(c);
        for (; n < 8; n++) {
            snprintf(key, sizeof key, "%s.in.%d", cases[i].name, n);
            vt_tensor *x = vt_golden_get(c, g, key);
            if (!x) break;
            in[n] = vt_tensor_create(c, VT_F32, x->ndim, x->shape);
            vt_copy_(c, in[n], x);
            vt_set_requires_grad(in[n], true);
        }
        char why[512];
        ck_assert_msg(vt_gradcheck(c, cases[i].fn, n, in, NULL, 1e-2, 2e-3, 2e-2, why, sizeof why), "%s: %s",
                      cases[i].name, why);
        vt_scope_pop(c);
        for (int j = 0; j < n; j++) vt_tensor_release(in[j]);
    }
    vt_golden_close(g);
    vt_ctx_destroy(c);
}
END_TEST

START_TEST(views_share_storage) {
    vt_ctx *c = vt_test_ctx();
    vt_tensor *x = vt_test_randn(c, VT_SHAPE(2, 3, 4), 1, 1.0f);
    vt_tensor *views[] = {vt_reshape(c, x, VT_SHAPE(6, 4)), vt_permute(c, x, (int[]){2, 0, 1}),
                          vt_transpose(c, x, 0, 1), vt_slice(c, x, 2, 1, 3, 1), vt_unsqueeze(c, x, 0),
                          vt_expand(c, vt_slice(c, x, 0, 0, 1, 1), VT_SHAPE(5, 3, 4))};
    for (size_t i = 0; i < sizeof views / sizeof views[0]; i++) {
        ck_assert_ptr_nonnull(views[i]);
        ck_assert_ptr_eq(views[i]->storage, x->storage);
    }
    /* a permuted (non-contiguous) tensor reshaped gets copied, and values follow the logical order */
    vt_tensor *p = vt_permute(c, x, (int[]){2, 0, 1});
    ck_assert(!vt_is_contiguous(p));
    vt_tensor *r = vt_reshape(c, p, VT_SHAPE(-1));
    ck_assert_ptr_ne(r->storage, x->storage);
    ck_assert_float_eq(vt_f32(r)[1], vt_f32(x)[4]); /* p[0,0,1] = x[0,1,0] */
    vt_ctx_destroy(c);
}
END_TEST

/* Property: permute followed by the inverse permute is the identity on random shapes and permutations. */
START_TEST(permute_inverse_is_identity) {
    vt_ctx *c = vt_test_ctx();
    uint64_t s = 7;
    for (int trial = 0; trial < 100; trial++) {
        vt_scope_push(c);
        int nd = 1 + trial % 5;
        int64_t shape[5];
        int perm[5], inv[5];
        for (int d = 0; d < nd; d++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            shape[d] = 1 + (int64_t)((s >> 40) % 4);
            perm[d] = d;
        }
        for (int d = nd - 1; d > 0; d--) { /* Fisher-Yates */
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            int j = (int)((s >> 33) % (uint64_t)(d + 1)), t = perm[d];
            perm[d] = perm[j];
            perm[j] = t;
        }
        for (int d = 0; d < nd; d++) inv[perm[d]] = d;
        vt_tensor *x = vt_test_randn(c, nd, shape, (uint64_t)trial, 1.0f);
        vt_tensor *y = vt_contiguous(c, vt_permute(c, vt_contiguous(c, vt_permute(c, x, perm)), inv));
        ck_assert_ptr_nonnull(y);
        ck_assert(vt_same_shape(x, y));
        ck_assert_int_eq(memcmp(x->data, y->data, vt_nbytes(x)), 0);
        vt_scope_pop(c);
    }
    vt_ctx_destroy(c);
}
END_TEST

START_TEST(shape_errors_name_the_op) {
    vt_ctx *c = vt_test_ctx();
    vt_tensor *a = vt_zeros(c, VT_F32, VT_SHAPE(2, 3)), *b = vt_zeros(c, VT_F32, VT_SHAPE(4, 5));
    ck_assert_ptr_null(vt_matmul(c, a, b));
    ck_assert_msg(strstr(vt_ctx_error(c)->msg, "matmul: shapes [2, 3] and [4, 5] are not compatible"), "%s",
                  vt_ctx_error(c)->msg);
    vt_ctx_clear_error(c);
    ck_assert_ptr_null(vt_linear(c, a, b, NULL));
    ck_assert_msg(strstr(vt_ctx_error(c)->msg, "linear: input [2, 3], weight [4, 5]"), "%s", vt_ctx_error(c)->msg);
    vt_ctx_clear_error(c);
    ck_assert_ptr_null(vt_reshape(c, a, VT_SHAPE(4, 2)));
    ck_assert_msg(strstr(vt_ctx_error(c)->msg, "reshape: cannot reshape [2, 3]"), "%s", vt_ctx_error(c)->msg);
    vt_ctx_clear_error(c);
    ck_assert_ptr_null(vt_concat(c, 2, (vt_tensor *[]){a, b}, 0));
    ck_assert_msg(strstr(vt_ctx_error(c)->msg, "concat: input 1 [4, 5]"), "%s", vt_ctx_error(c)->msg);
    vt_ctx_clear_error(c);
    ck_assert_ptr_null(vt_sum(c, a, 1, (int[]){5}, false));
    ck_assert_msg(strstr(vt_ctx_error(c)->msg, "sum: dim 5 out of range"), "%s", vt_ctx_error(c)->msg);
    vt_ctx_destroy(c);
}
END_TEST

VT_TEST_MAIN("ops_core", core_ops_match_pytorch, core_ops_gradcheck, views_share_storage,
             permute_inverse_is_identity, shape_errors_name_the_op)
