/* Random ops: dropout statistics, mask reproducibility and thread independence, its gradient (same mask in
 * backward), random fills and the parameter initialisers' distributions and bounds. */
#include <math.h>
#include <string.h>

#include "visft/rng.h"
#include "vt_test.h"
#include "testutil.h"

static vt_ctx *ctx_with(int threads, uint64_t seed) {
    vt_ctx_options o = {.threads = threads, .seed = seed};
    return vt_ctx_create(&o);
}

static void moments(const vt_tensor *t, double *mean, double *std, double *lo, double *hi) {
    double s = 0, s2 = 0;
    *lo = INFINITY;
    *hi = -INFINITY;
    const int64_t n = vt_numel(t);
    for (int64_t i = 0; i < n; i++) {
        double v = vt_item_at(t, i);
        s += v;
        s2 += v * v;
        *lo = v < *lo ? v : *lo;
        *hi = v > *hi ? v : *hi;
    }
    *mean = s / (double)n;
    *std = sqrt(s2 / (double)n - *mean * *mean);
}

START_TEST(dropout_zeroes_a_fraction_p_and_preserves_the_mean) {
    vt_ctx *c = vt_test_ctx();
    enum { N = 200000 };
    vt_tensor *x = vt_full(c, VT_F32, VT_SHAPE(N), 1.0);
    const double ps[] = {0.1, 0.3, 0.5, 0.9};
    for (int t = 0; t < 4; t++) {
        const double p = ps[t];
        vt_tensor *y = vt_dropout(c, x, p);
        ck_assert_ptr_nonnull(y);
        const float keep = (float)(1.0 / (1.0 - p));
        int64_t zeros = 0;
        double sum = 0;
        for (int64_t i = 0; i < N; i++) {
            float v = vt_f32(y)[i];
            ck_assert(v == 0.0f || v == keep);
            zeros += v == 0.0f;
            sum += v;
        }
        const double se = sqrt(p * (1 - p) / N); /* standard error of the zero fraction */
        ck_assert_msg(fabs((double)zeros / N - p) < 5 * se, "p %g: zero fraction %g", p, (double)zeros / N);
        ck_assert_msg(fabs(sum / N - 1.0) < 5 * se * keep, "p %g: mean %g", p, sum / N);
    }
    vt_ctx_destroy(c);
}
END_TEST

START_TEST(dropout_is_identity_in_eval_mode_and_at_the_edges) {
    vt_ctx *c = vt_test_ctx();
    vt_tensor *x = vt_test_randn(c, VT_SHAPE(4, 5), 1, 1.0f);
    ck_assert_ptr_eq(vt_dropout(c, x, 0.0), x);
    vt_set_training(c, false);
    uint64_t off = vt_ctx_rng_offset(c);
    ck_assert_ptr_eq(vt_dropout(c, x, 0.5), x);
    ck_assert_uint_eq(vt_ctx_rng_offset(c), off); /* eval mode draws nothing */
    vt_set_training(c, true);
    vt_tensor *z = vt_dropout(c, x, 1.0);
    for (int i = 0; i < 20; i++) ck_assert_float_eq(vt_f32(z)[i], 0.0f);
    ck_assert_ptr_null(vt_dropout(c, x, 1.5));
    ck_assert_msg(strstr(vt_ctx_error(c)->msg, "dropout: probability 1.5 is outside [0, 1]"), "%s",
                  vt_ctx_error(c)->msg);
    vt_ctx_clear_error(c);
    ck_assert_ptr_null(vt_dropout(c, vt_zeros(c, VT_I64, VT_SHAPE(3)), 0.5));
    ck_assert_msg(strstr(vt_ctx_error(c)->msg, "dropout: input must be f32, got i64 [3]"), "%s", vt_ctx_error(c)->msg);
    vt_ctx_destroy(c);
}
END_TEST

/* Element i's fate depends only on (seed, first counter, i): compare with vt_rng_u32 directly, across thread
 * counts, and across a reseed. Consecutive calls draw fresh counters. */
START_TEST(dropout_mask_is_reproducible_and_thread_independent) {
    enum { N = 100003 }; /* odd, so the last Philox block is partial */
    vt_ctx *c1 = ctx_with(1, 99), *c2 = ctx_with(2, 99);
    vt_tensor *x1 = vt_test_randn(c1, VT_SHAPE(N), 3, 1.0f), *x2 = vt_test_randn(c2, VT_SHAPE(N), 3, 1.0f);
    uint64_t b0 = vt_ctx_rng_offset(c1);
    vt_tensor *y1 = vt_dropout(c1, x1, 0.25), *y2 = vt_dropout(c2, x2, 0.25);
    ck_assert_mem_eq(y1->data, y2->data, vt_nbytes(y1));
    const uint32_t thr = (uint32_t)ldexp(0.25, 32);
    for (int64_t i = 0; i < N; i++)
        ck_assert_msg((vt_f32(y1)[i] == 0.0f) == (vt_rng_u32(99, b0, (uint64_t)i) < thr) || vt_f32(x1)[i] == 0.0f,
                      "element %lld", (long long)i);
    ck_assert_uint_eq(vt_ctx_rng_offset(c1), b0 + vt_rng_blocks(N));
    vt_tensor *y3 = vt_dropout(c1, x1, 0.25);
    ck_assert(memcmp(y1->data, y3->data, vt_nbytes(y1)) != 0);
    vt_ctx_seed(c1, 99);
    vt_tensor *y4 = vt_dropout(c1, x1, 0.25);
    ck_assert_mem_eq(y1->data, y4->data, vt_nbytes(y1));
    vt_ctx_destroy(c1);
    vt_ctx_destroy(c2);
}
END_TEST

/* Restarting the counter before each call makes dropout a fixed function of x, so finite differences apply. */
static vt_tensor *fixed_dropout(vt_ctx *c, vt_tensor **in, void *user) {
    vt_ctx_set_rng_offset(c, 5);
    return vt_dropout(c, in[0], *(double *)user);
}

START_TEST(dropout_backward_reuses_the_forward_mask) {
    vt_ctx *c = vt_test_ctx();
    vt_tensor *x = vt_test_param(c, VT_SHAPE(6, 7), 4, 1.0f);
    double p = 0.4;
    VT_ASSERT_GRADCHECK(c, fixed_dropout, 1, &x, &p);
    /* the gradient of sum(dropout(x)) is exactly the mask times the scale, even with the counter moved on */
    vt_zero_grad(x);
    vt_tensor *y = fixed_dropout(c, &x, &p);
    vt_tensor *other = vt_dropout(c, x, 0.4);
    ck_assert_ptr_nonnull(other);
    ck_assert_int_eq(vt_backward(c, vt_sum_all(c, y)), VT_OK);
    int dropped = 0;
    for (int i = 0; i < 42; i++) {
        float want = vt_f32(y)[i] == 0.0f ? 0.0f : (float)(1.0 / 0.6);
        ck_assert_float_eq(vt_f32(x->grad)[i], want);
        dropped += want == 0.0f;
    }
    ck_assert(dropped > 0 && dropped < 42);
    vt_tensor_release(x);
    vt_ctx_destroy(c);
}
END_TEST

START_TEST(random_fills_have_the_right_distribution) {
    vt_ctx *c = vt_test_ctx();
    double mean, std, lo, hi;
    vt_tensor *u = vt_rand_uniform(c, VT_SHAPE(300, 400), -2.0, 3.0);
    moments(u, &mean, &std, &lo, &hi);
    ck_assert_msg(fabs(mean - 0.5) < 0.01 && fabs(std - 5.0 / sqrt(12.0)) < 0.01, "uniform %g %g", mean, std);
    ck_assert(lo >= -2.0 && hi < 3.0 && lo < -1.99 && hi > 2.99);
    vt_tensor *z = vt_randn(c, VT_SHAPE(300, 400));
    moments(z, &mean, &std, &lo, &hi);
    ck_assert_msg(fabs(mean) < 0.01 && fabs(std - 1.0) < 0.01 && lo < -4.0 && hi > 4.0, "normal %g %g", mean, std);
    ck_assert_ptr_null(vt_rand_uniform(c, VT_SHAPE(3), 1.0, 0.0));
    ck_assert_msg(strstr(vt_ctx_error(c)->msg, "rand_uniform: bounds [1, 0)"), "%s", vt_ctx_error(c)->msg);
    vt_ctx_destroy(c);
}
END_TEST

START_TEST(random_fills_do_not_depend_on_thread_count) {
    vt_ctx *c1 = ctx_with(1, 7), *c2 = ctx_with(2, 7);
    for (int t = 0; t < 3; t++) {
        vt_tensor *a = NULL, *b = NULL;
        if (t == 0) a = vt_rand_uniform(c1, VT_SHAPE(70001), 0, 1), b = vt_rand_uniform(c2, VT_SHAPE(70001), 0, 1);
        if (t == 1) a = vt_randn(c1, VT_SHAPE(70001)), b = vt_randn(c2, VT_SHAPE(70001));
        if (t == 2) {
            a = vt_tensor_create(c1, VT_F32, VT_SHAPE(300, 257));
            b = vt_tensor_create(c2, VT_F32, VT_SHAPE(300, 257));
            ck_assert_int_eq(vt_init_trunc_normal_(c1, a, 0.5, -1, 1), VT_OK);
            ck_assert_int_eq(vt_init_trunc_normal_(c2, b, 0.5, -1, 1), VT_OK);
        }
        ck_assert_mem_eq(a->data, b->data, vt_nbytes(a));
        if (t == 0) /* element i is word i of the reserved range, in the vectorised groups and the tail */
            for (int64_t i = 0; i < 70001; i += 997)
                ck_assert_float_eq(vt_f32(a)[i], vt_rng_unit(vt_rng_u32(7, 0, (uint64_t)i)));
        if (t == 2) {
            vt_tensor_release(a);
            vt_tensor_release(b);
        }
    }
    vt_ctx_destroy(c1);
    vt_ctx_destroy(c2);
}
END_TEST

START_TEST(initialisers_follow_pytorch_formulas) {
    vt_ctx *c = vt_test_ctx();
    double mean, std, lo, hi;
    vt_tensor *w = vt_tensor_create(c, VT_F32, VT_SHAPE(512, 384));

    ck_assert_int_eq(vt_init_kaiming_uniform_(c, w, sqrt(5.0)), VT_OK); /* nn.Linear: bound 1/sqrt(fan_in) */
    moments(w, &mean, &std, &lo, &hi);
    const double kb = 1.0 / sqrt(384.0);
    ck_assert_msg(lo >= -kb && hi < kb && hi > 0.99 * kb && fabs(std - kb / sqrt(3.0)) < 0.01 * kb, "kaiming %g %g",
                  hi, std);

    ck_assert_int_eq(vt_init_xavier_uniform_(c, w), VT_OK);
    moments(w, &mean, &std, &lo, &hi);
    const double xb = sqrt(6.0 / (512 + 384));
    ck_assert_msg(lo >= -xb && hi < xb && hi > 0.99 * xb, "xavier %g", hi);

    ck_assert_int_eq(vt_init_normal_(c, w, 0.5, 0.02), VT_OK);
    moments(w, &mean, &std, &lo, &hi);
    ck_assert_msg(fabs(mean - 0.5) < 1e-3 && fabs(std - 0.02) < 4e-4, "normal %g %g", mean, std);

    ck_assert_int_eq(vt_init_uniform_(c, w, -0.1, 0.3), VT_OK);
    moments(w, &mean, &std, &lo, &hi);
    ck_assert(lo >= -0.1 && hi < 0.3 && fabs(mean - 0.1) < 2e-3);

    /* ViT's trunc_normal_(std=.02): bounds ±2 are 100 std away, so it is a plain N(0, 0.02²) */
    ck_assert_int_eq(vt_init_trunc_normal_(c, w, 0.02, -2, 2), VT_OK);
    moments(w, &mean, &std, &lo, &hi);
    ck_assert_msg(fabs(mean) < 1e-3 && fabs(std - 0.02) < 4e-4, "trunc_normal wide %g %g", mean, std);
    /* std 1 truncated at ±2: the truncated normal's std is sqrt(1 - 4·φ(2)/(Φ(2) - Φ(-2))) = 0.87957 */
    ck_assert_int_eq(vt_init_trunc_normal_(c, w, 1.0, -2, 2), VT_OK);
    moments(w, &mean, &std, &lo, &hi);
    ck_assert_msg(lo >= -2 && hi <= 2 && lo < -1.99 && hi > 1.99 && fabs(mean) < 0.01 && fabs(std - 0.87957) < 0.005,
                  "trunc_normal [-2, 2]: %g %g %g %g", mean, std, lo, hi);
    /* one-sided window: [0.5, 3] in units of std 1 */
    ck_assert_int_eq(vt_init_trunc_normal_(c, w, 1.0, 0.5, 3.0), VT_OK);
    moments(w, &mean, &std, &lo, &hi);
    ck_assert_msg(lo >= 0.5 && hi <= 3.0 && fabs(mean - 1.13166) < 0.01, "trunc_normal [0.5, 3]: %g", mean);

    /* conv weights: fan_in = in_channels · kh · kw; a transposed (non-contiguous) view is filled too */
    vt_tensor *k = vt_tensor_create(c, VT_F32, VT_SHAPE(64, 3, 16, 16));
    ck_assert_int_eq(vt_init_kaiming_uniform_(c, k, sqrt(5.0)), VT_OK);
    moments(k, &mean, &std, &lo, &hi);
    ck_assert(hi < 1.0 / sqrt(768.0) && hi > 0.99 / sqrt(768.0));
    vt_tensor *kt = vt_transpose(c, k, 0, 1);
    ck_assert_int_eq(vt_init_uniform_(c, kt, 5.0, 6.0), VT_OK);
    moments(k, &mean, &std, &lo, &hi);
    ck_assert(lo >= 5.0 && hi < 6.0);

    vt_tensor *b = vt_tensor_create(c, VT_F32, VT_SHAPE(10));
    ck_assert_int_eq(vt_init_xavier_uniform_(c, b), VT_ESHAPE);
    ck_assert_msg(strstr(vt_ctx_error(c)->msg, "init_xavier_uniform: fan in and fan out need a non-empty tensor with at least 2 dims, got [10]"),
                  "%s", vt_ctx_error(c)->msg);
    vt_ctx_clear_error(c);
    ck_assert_int_eq(vt_init_trunc_normal_(c, b, 1.0, 2.0, 1.0), VT_EINVAL);
    vt_tensor_release(w);
    vt_tensor_release(k);
    vt_tensor_release(b);
    vt_ctx_destroy(c);
}
END_TEST

VT_TEST_MAIN("ops_random", dropout_zeroes_a_fraction_p_and_preserves_the_mean,
             dropout_is_identity_in_eval_mode_and_at_the_edges, dropout_mask_is_reproducible_and_thread_independent,
             dropout_backward_reuses_the_forward_mask, random_fills_have_the_right_distribution,
             random_fills_do_not_depend_on_thread_count, initialisers_follow_pytorch_formulas)
