/* Scaled dot-product attention: PyTorch parity (output and every gradient), finite-difference gradients,
 * rows with no visible key, thread-count independence, in-place strided operands, memory that stays
 * O(L·D), and error reporting. */
#include <math.h>
#include <string.h>

#include "golden.h"
#include "vt_test.h"

/* Options of each golden case (tests/ref/gen_attention.py builds the inputs under the same names). */
typedef struct sdpa_case {
    const char *name;
    double scale; /* 0: default 1/sqrt(D) */
    bool causal;
    bool fused;   /* in[0] is a fused [B, L, 3·H·D] projection */
} sdpa_case;

static const sdpa_case cases[] = {
    {"plain", 0, false, false},          {"additive", 0, false, false},
    {"bool_heads", 0, false, false},     {"u8_padding", 0, false, false},
    {"causal", 0, true, false},          {"causal_tall", 0, true, false},
    {"causal_wide", 0, true, false},     {"causal_padding", 0, true, false},
    {"cross", 0, false, false},          {"l197", 0, false, false},
    {"d64", 0, false, false},            {"d88", 0, false, false},
    {"d5", 0.3, false, false},           {"fused_qkv", 0, false, true},
    {"dead_rows_bool", 0, false, false}, {"dead_rows_additive", 0, false, false},
};

/* The ViT's layout: q, k, v are permuted slices of x [B, L, 3·H·D], read in place. */
static void split_fused(vt_ctx *c, vt_tensor *x, int64_t H, vt_tensor **qkv) {
    int64_t B = x->shape[0], L = x->shape[1], D = x->shape[2] / (3 * H);
    vt_tensor *t = vt_permute(c, vt_reshape(c, x, 5, (int64_t[]){B, L, 3, H, D}), (int[]){2, 0, 3, 1, 4});
    for (int i = 0; i < 3; i++) qkv[i] = vt_squeeze(c, vt_slice(c, t, 0, i, i + 1, 1), 0);
}

static vt_tensor *call_sdpa(vt_ctx *c, vt_tensor **in, void *user) {
    const sdpa_case *k = user;
    if (!k->fused) return vt_sdpa(c, in[0], in[1], in[2], in[3], k->scale, k->causal);
    vt_tensor *qkv[3];
    split_fused(c, in[0], 2, qkv);
    ck_assert(qkv[0] && !vt_is_contiguous(qkv[0]));
    return vt_sdpa(c, qkv[0], qkv[1], qkv[2], NULL, k->scale, k->causal);
}

START_TEST(sdpa_matches_pytorch) {
    vt_ctx *c = vt_test_ctx();
    vt_golden *g = vt_golden_open("attention.safetensors");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        vt_golden_check(c, g, cases[i].name, call_sdpa, (void *)&cases[i], 2e-5, 1e-4);
    vt_golden_close(g);
    vt_ctx_destroy(c);
}
END_TEST

START_TEST(sdpa_gradients_match_finite_differences) {
    vt_ctx *c = vt_test_ctx();
    /* additive mask that needs a gradient, broadcast over the batch */
    vt_tensor *in[4] = {vt_test_param(c, VT_SHAPE(2, 2, 3, 3), 1, 1.0f), vt_test_param(c, VT_SHAPE(2, 2, 4, 3), 2, 1.0f),
                        vt_test_param(c, VT_SHAPE(2, 2, 4, 2), 3, 1.0f), vt_test_param(c, VT_SHAPE(1, 2, 3, 4), 4, 1.0f)};
    sdpa_case plain = {"fd", 0, false, false}, causal = {"fd_causal", 0.7, true, false};
    VT_ASSERT_GRADCHECK(c, call_sdpa, 4, in, &plain);
    VT_ASSERT_GRADCHECK(c, call_sdpa, 4, in, &causal);
    for (int i = 0; i < 4; i++) vt_tensor_release(in[i]);
    vt_ctx_destroy(c);
}
END_TEST

/* The explicit formula gives NaN for a row that sees no key; sdpa defines it as zeros with zero gradients. */
START_TEST(rows_without_visible_keys_give_zeros) {
    vt_ctx *c = vt_test_ctx();
    vt_tensor *q = vt_test_param(c, VT_SHAPE(1, 1, 4, 8), 1, 1.0f), *k = vt_test_param(c, VT_SHAPE(1, 1, 6, 8), 2, 1.0f);
    vt_tensor *v = vt_test_param(c, VT_SHAPE(1, 1, 6, 8), 3, 1.0f);
    vt_tensor *keep = vt_full(c, VT_BOOL, VT_SHAPE(4, 6), 1.0);
    for (int j = 0; j < 6; j++) ((uint8_t *)keep->data)[1 * 6 + j] = 0; /* query 1 sees nothing */
    vt_tensor *y = vt_sdpa(c, q, k, v, keep, 0, false);
    ck_assert_msg(y != NULL, "%s", vt_ctx_error(c)->msg);
    ck_assert_int_eq(vt_backward_with(c, y, vt_full(c, VT_F32, VT_SHAPE(1, 1, 4, 8), 1.0)), VT_OK);
    for (int d = 0; d < 8; d++) {
        ck_assert_float_eq(vt_f32(y)[8 + d], 0.0f);
        ck_assert_float_eq(vt_f32(q->grad)[8 + d], 0.0f);
        ck_assert(vt_f32(y)[d] != 0.0f);
    }
    for (int64_t i = 0; i < 48; i++) ck_assert(isfinite(vt_f32(k->grad)[i]) && isfinite(vt_f32(v->grad)[i]));
    /* no key at all */
    vt_tensor *k0 = vt_zeros(c, VT_F32, VT_SHAPE(1, 1, 0, 8));
    vt_tensor *y0 = vt_sdpa(c, q, k0, k0, NULL, 0, false);
    ck_assert_msg(y0 != NULL, "%s", vt_ctx_error(c)->msg);
    for (int i = 0; i < 32; i++) ck_assert_float_eq(vt_f32(y0)[i], 0.0f);
    ck_assert_int_eq(vt_backward_with(c, y0, vt_full(c, VT_F32, VT_SHAPE(1, 1, 4, 8), 1.0)), VT_OK);
    vt_tensor_release(q);
    vt_tensor_release(k);
    vt_tensor_release(v);
    vt_ctx_destroy(c);
}
END_TEST

START_TEST(nan_inputs_reach_the_output) {
    vt_ctx *c = vt_test_ctx();
    vt_tensor *q = vt_test_randn(c, VT_SHAPE(1, 1, 3, 4), 1, 1.0f), *k = vt_test_randn(c, VT_SHAPE(1, 1, 5, 4), 2, 1.0f);
    vt_f32(q)[4] = NAN; /* query 1 */
    vt_tensor *y = vt_sdpa(c, q, k, k, NULL, 0, false);
    ck_assert_msg(y != NULL, "%s", vt_ctx_error(c)->msg);
    for (int d = 0; d < 4; d++) ck_assert(isnan(vt_f32(y)[4 + d]) && !isnan(vt_f32(y)[d]));
    vt_ctx_destroy(c);
}
END_TEST

/* Runs fwd+bwd of a causal, masked problem with `threads` threads; copies output and gradients to res. */
static void run_threads(int threads, int64_t B, int64_t H, float *res[5]) {
    vt_ctx *c = vt_test_ctx();
    vt_ctx_set_threads(c, threads);
    int64_t L = 150, D = 16;
    vt_tensor *q = vt_test_param(c, 4, (int64_t[]){B, H, L, D}, 1, 1.0f);
    vt_tensor *k = vt_test_param(c, 4, (int64_t[]){B, H, L, D}, 2, 1.0f);
    vt_tensor *v = vt_test_param(c, 4, (int64_t[]){B, H, L, D}, 3, 1.0f);
    vt_tensor *m = vt_test_param(c, 4, (int64_t[]){1, H, L, L}, 4, 1.0f);
    vt_tensor *y = vt_sdpa(c, q, k, v, m, 0, true);
    ck_assert_msg(y != NULL, "%s", vt_ctx_error(c)->msg);
    ck_assert_int_eq(vt_backward_with(c, y, vt_test_randn(c, y->ndim, y->shape, 5, 1.0f)), VT_OK);
    vt_tensor *all[5] = {y, q->grad, k->grad, v->grad, m->grad};
    for (int i = 0; i < 5; i++) {
        res[i] = malloc(vt_nbytes(all[i]));
        memcpy(res[i], all[i]->data, vt_nbytes(all[i]));
    }
    vt_tensor_release(q);
    vt_tensor_release(k);
    vt_tensor_release(v);
    vt_tensor_release(m);
    vt_ctx_destroy(c);
}

/* Few heads split the backward into key-block and query-block items, many heads make one item per head;
 * both must give the single-thread result bit for bit. */
START_TEST(results_do_not_depend_on_thread_count) {
    int64_t shapes[2][2] = {{1, 2}, {2, 5}};
    for (int s = 0; s < 2; s++) {
        int64_t B = shapes[s][0], H = shapes[s][1], L = 150, D = 16;
        float *one[5], *two[5];
        run_threads(1, B, H, one);
        run_threads(2, B, H, two);
        size_t n[5] = {B * H * L * D, B * H * L * D, B * H * L * D, B * H * L * D, H * L * L};
        const char *what[5] = {"output", "dq", "dk", "dv", "dmask"};
        for (int i = 0; i < 5; i++) {
            ck_assert_msg(memcmp(one[i], two[i], n[i] * sizeof(float)) == 0, "B=%lld H=%lld: %s differs", (long long)B,
                          (long long)H, what[i]);
            free(one[i]);
            free(two[i]);
        }
    }
}
END_TEST

/* Strided q/k/v (the fused projection's views) are read where they are: the forward allocates only its
 * output, and agrees bitwise with contiguous copies. */
START_TEST(strided_operands_are_read_in_place) {
    vt_ctx *c = vt_test_ctx();
    vt_tensor *x = vt_test_randn(c, VT_SHAPE(2, 33, 3 * 3 * 16), 7, 1.0f);
    vt_tensor *qkv[3], *cont[3];
    split_fused(c, x, 3, qkv);
    for (int i = 0; i < 3; i++) cont[i] = vt_contiguous(c, qkv[i]);
    uint64_t before = vt_ctx_mem_stats(c).allocs;
    vt_tensor *y = vt_sdpa(c, qkv[0], qkv[1], qkv[2], NULL, 0, false);
    ck_assert_msg(y != NULL, "%s", vt_ctx_error(c)->msg);
    ck_assert_int_eq(vt_ctx_mem_stats(c).allocs - before, 1);
    vt_tensor *yc = vt_sdpa(c, cont[0], cont[1], cont[2], NULL, 0, false);
    ck_assert(memcmp(y->data, yc->data, vt_nbytes(y)) == 0);
    vt_ctx_destroy(c);
}
END_TEST

/* The 1024×1024 score matrix (4 MiB) must never exist: forward + backward stay far below it. */
START_TEST(memory_stays_linear_in_sequence_length) {
    vt_ctx *c = vt_test_ctx();
    int64_t L = 1024, D = 16;
    vt_tensor *q = vt_test_param(c, VT_SHAPE(1, 1, L, D), 1, 1.0f), *k = vt_test_param(c, VT_SHAPE(1, 1, L, D), 2, 1.0f);
    vt_tensor *v = vt_test_param(c, VT_SHAPE(1, 1, L, D), 3, 1.0f);
    vt_tensor *gy = vt_test_randn(c, VT_SHAPE(1, 1, L, D), 4, 1.0f);
    vt_ctx_reset_peak(c);
    uint64_t base = vt_ctx_mem_stats(c).live_bytes;
    vt_tensor *y = vt_sdpa(c, q, k, v, NULL, 0, true);
    ck_assert_int_eq(vt_backward_with(c, y, gy), VT_OK);
    uint64_t used = vt_ctx_mem_stats(c).peak_bytes - base;
    ck_assert_msg(used < (uint64_t)(L * L * sizeof(float)) / 4, "peak grew by %llu bytes", (unsigned long long)used);
    vt_tensor_release(q);
    vt_tensor_release(k);
    vt_tensor_release(v);
    vt_ctx_destroy(c);
}
END_TEST

static void expect_error(vt_ctx *c, vt_tensor *y, vt_status code, const char *msg) {
    ck_assert_ptr_null(y);
    ck_assert_int_eq(vt_ctx_error(c)->code, code);
    ck_assert_msg(strstr(vt_ctx_error(c)->msg, msg), "got \"%s\", want \"%s\"", vt_ctx_error(c)->msg, msg);
    vt_ctx_clear_error(c);
}

START_TEST(bad_inputs_report_op_and_shapes) {
    vt_ctx *c = vt_test_ctx();
    vt_tensor *q = vt_zeros(c, VT_F32, VT_SHAPE(2, 3, 5, 8)), *k = vt_zeros(c, VT_F32, VT_SHAPE(2, 3, 7, 8));
    vt_tensor *k4 = vt_zeros(c, VT_F32, VT_SHAPE(2, 3, 7, 4)), *v6 = vt_zeros(c, VT_F32, VT_SHAPE(2, 3, 6, 8));
    expect_error(c, vt_sdpa(c, q, k4, k, NULL, 0, false), VT_ESHAPE,
                 "sdpa: q [2, 3, 5, 8], k [2, 3, 7, 4], v [2, 3, 7, 8] do not match");
    expect_error(c, vt_sdpa(c, q, k, v6, NULL, 0, false), VT_ESHAPE, "v [2, 3, 6, 8] do not match");
    expect_error(c, vt_sdpa(c, vt_zeros(c, VT_F32, VT_SHAPE(3, 5, 8)), k, k, NULL, 0, false), VT_ESHAPE,
                 "sdpa: q, k, v must be 4-d [B, H, L, D], got q [3, 5, 8]");
    expect_error(c, vt_sdpa(c, q, k, k, vt_zeros(c, VT_F32, VT_SHAPE(2, 5, 7)), 0, false), VT_ESHAPE,
                 "sdpa: mask [2, 5, 7] does not broadcast to [B, H, Lq, Lk] = [2, 3, 5, 7]");
    expect_error(c, vt_sdpa(c, q, k, k, vt_zeros(c, VT_I64, VT_SHAPE(5, 7)), 0, false), VT_EDTYPE,
                 "sdpa: mask must be f32 (additive) or bool/u8 (true keeps), got i64 [5, 7]");
    expect_error(c, vt_sdpa(c, vt_zeros(c, VT_I32, VT_SHAPE(2, 3, 5, 8)), k, k, NULL, 0, false), VT_EDTYPE,
                 "sdpa: q must be f32, got i32");
    expect_error(c, vt_sdpa(c, q, k, k, NULL, NAN, false), VT_EINVAL, "sdpa: scale must be finite");
    /* a NULL input from a failed op keeps that op's error */
    ck_assert_ptr_null(vt_sdpa(c, vt_matmul(c, q, q), k, k, NULL, 0, false));
    ck_assert_msg(strstr(vt_ctx_error(c)->msg, "matmul:"), "%s", vt_ctx_error(c)->msg);
    vt_ctx_destroy(c);
}
END_TEST

VT_TEST_MAIN("ops_attention", sdpa_matches_pytorch, sdpa_gradients_match_finite_differences,
             rows_without_visible_keys_give_zeros, nan_inputs_reach_the_output, results_do_not_depend_on_thread_count,
             strided_operands_are_read_in_place, memory_stays_linear_in_sequence_length,
             bad_inputs_report_op_and_shapes)
