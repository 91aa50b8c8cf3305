/* conv2d and pooling: PyTorch parity (forward and every gradient) on each conv path (generic im2col, 1x1,
 * patch embedding, groups, depthwise, dilation), finite-difference gradients, the row-tiled im2col on an
 * image too big for one tile, thread-count independence, and error reporting. */
#include <math.h>
#include <string.h>

#include "golden.h"
#include "vt_test.h"

/* Golden cases carry their options in input 0 (see tests/ref/gen_conv.py). */
static vt_tensor *golden_conv(vt_ctx *c, vt_tensor **in, void *user) {
    (void)user;
    const int64_t *a = vt_i64(in[0]);
    vt_conv2d_opts o = {.stride = {a[0], a[1]}, .padding = {a[2], a[3]}, .dilation = {a[4], a[5]}, .groups = a[6]};
    return vt_conv2d(c, in[1], in[2], a[7] ? in[3] : NULL, &o);
}

static vt_pool2d_opts pool_opts(const int64_t *a) {
    vt_pool2d_opts o = {.kernel = {a[0], a[1]}, .stride = {a[2], a[3]}, .padding = {a[4], a[5]}, .ceil_mode = a[6],
                        .exclude_pad = !a[7]};
    return o;
}
static vt_tensor *golden_avg(vt_ctx *c, vt_tensor **in, void *user) {
    (void)user;
    vt_pool2d_opts o = pool_opts(vt_i64(in[0]));
    return vt_avg_pool2d(c, in[1], &o);
}
static vt_tensor *golden_max(vt_ctx *c, vt_tensor **in, void *user) {
    (void)user;
    vt_pool2d_opts o = pool_opts(vt_i64(in[0]));
    return vt_max_pool2d(c, in[1], &o);
}
static vt_tensor *golden_adaptive(vt_ctx *c, vt_tensor **in, void *user) {
    (void)user;
    const int64_t *a = vt_i64(in[0]);
    return vt_adaptive_avg_pool2d(c, in[1], a[0], a[1]);
}

START_TEST(conv2d_matches_pytorch) {
    static const char *cases[] = {
        "conv_s1_p1", "conv_s1_p0_nobias", "conv_s2_p1", "conv_s2_p0_nobias", "conv_dil2", "conv_dil2_s2_nobias",
        "conv_groups2", "conv_depthwise", "conv_depthwise_s2_mult2", "conv_patch", "conv_patch_crop_nobias",
        "conv_patch_rect", "conv_1x1", "conv_1x1_groups2_nobias", "conv_1x1_s2", "conv_rect_asym",
    };
    vt_ctx *c = vt_test_ctx();
    vt_golden *g = vt_golden_open("conv.safetensors");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        vt_golden_check(c, g, cases[i], golden_conv, NULL, 1e-5, 1e-4);
    vt_golden_close(g);
    vt_ctx_destroy(c);
}
END_TEST

START_TEST(pools_match_pytorch) {
    static const char *avg[] = {"avg_k2s2", "avg_k3s2p1", "avg_k3s2p1_excl", "avg_ceil", "avg_ceil_excl", "avg_rect"};
    static const char *max[] = {"max_k2s2", "max_k3s2p1", "max_ceil", "max_rect", "max_ties"};
    static const char *adaptive[] = {"adaptive_7to3", "adaptive_uneven", "adaptive_up", "adaptive_global"};
    vt_ctx *c = vt_test_ctx();
    vt_golden *g = vt_golden_open("conv.safetensors");
    for (size_t i = 0; i < sizeof avg / sizeof avg[0]; i++) vt_golden_check(c, g, avg[i], golden_avg, NULL, 1e-6, 1e-5);
    for (size_t i = 0; i < sizeof max / sizeof max[0]; i++) vt_golden_check(c, g, max[i], golden_max, NULL, 1e-7, 0);
    for (size_t i = 0; i < sizeof adaptive / sizeof adaptive[0]; i++)
        vt_golden_check(c, g, adaptive[i], golden_adaptive, NULL, 1e-6, 1e-5);
    vt_golden_close(g);
    vt_ctx_destroy(c);
}
END_TEST

/* ---- finite differences ---- */

typedef struct conv_case {
    int64_t x[4], w[4];
    vt_conv2d_opts o;
    bool bias;
} conv_case;

static vt_tensor *run_conv(vt_ctx *c, vt_tensor **in, void *user) {
    const conv_case *k = user;
    return vt_conv2d(c, in[0], in[1], k->bias ? in[2] : NULL, &k->o);
}

START_TEST(conv2d_gradients_match_finite_differences) {
    static const conv_case cases[] = {
        {{2, 3, 5, 6}, {4, 3, 3, 3}, {.padding = {1, 1}}, true},                          /* generic */
        {{1, 4, 7, 6}, {2, 2, 3, 2}, {.stride = {2, 1}, .dilation = {2, 2}, .groups = 2}, false},
        {{2, 3, 6, 5}, {3, 1, 3, 3}, {.stride = {2, 2}, .padding = {1, 1}, .groups = 3}, true}, /* depthwise */
        {{2, 2, 9, 8}, {3, 2, 4, 4}, {.stride = {4, 4}}, true},                           /* patch, cropped */
        {{2, 4, 3, 4}, {2, 2, 1, 1}, {.groups = 2}, true},                                /* pointwise */
        {{1, 3, 4, 5}, {2, 3, 1, 1}, {.groups = 1}, false},
    };
    vt_ctx *c = vt_test_ctx();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const conv_case *k = &cases[i];
        vt_tensor *in[3] = {vt_test_param(c, 4, k->x, 10 + i, 1.0f), vt_test_param(c, 4, k->w, 20 + i, 0.5f),
                            vt_test_param(c, 1, k->w, 30 + i, 1.0f)};
        char why[512];
        ck_assert_msg(vt_gradcheck(c, run_conv, k->bias ? 3 : 2, in, (void *)k, 1e-2, 2e-3, 2e-2, why, sizeof why),
                      "case %zu: %s", i, why);
        for (int j = 0; j < 3; j++) vt_tensor_release(in[j]);
    }
    vt_ctx_destroy(c);
}
END_TEST

typedef struct pool_case {
    int kind; /* 0 avg, 1 max, 2 adaptive */
    vt_pool2d_opts o;
    int64_t out[2];
} pool_case;

static vt_tensor *run_pool(vt_ctx *c, vt_tensor **in, void *user) {
    const pool_case *k = user;
    if (k->kind == 0) return vt_avg_pool2d(c, in[0], &k->o);
    if (k->kind == 1) return vt_max_pool2d(c, in[0], &k->o);
    return vt_adaptive_avg_pool2d(c, in[0], k->out[0], k->out[1]);
}

START_TEST(pool_gradients_match_finite_differences) {
    static const pool_case cases[] = {
        {0, {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}}, {0}},
        {0, {.kernel = {3, 2}, .stride = {2, 2}, .padding = {1, 1}, .ceil_mode = true, .exclude_pad = true}, {0}},
        {1, {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .ceil_mode = true}, {0}},
        {1, {.kernel = {2, 3}, .stride = {1, 2}}, {0}},
        {2, {.ceil_mode = false}, {3, 4}},
    };
    vt_ctx *c = vt_test_ctx();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vt_tensor *x = vt_test_param(c, VT_SHAPE(2, 2, 7, 6), 40 + i, 1.0f);
        /* distinct values 0.1 apart, so the ±eps probes never change which element is a window's maximum */
        float *p = vt_f32(x);
        for (int j = 0; j < 168; j++) p[j] = 0.1f * (float)((j * 37) % 168) - 8.0f;
        char why[512];
        ck_assert_msg(vt_gradcheck(c, run_pool, 1, &x, (void *)&cases[i], 1e-2, 2e-3, 2e-2, why, sizeof why),
                      "case %zu: %s", i, why);
        vt_tensor_release(x);
    }
    vt_ctx_destroy(c);
}
END_TEST

/* ---- an image whose im2col needs several row tiles, checked against direct sums ---- */

START_TEST(tiled_im2col_matches_direct_sums) {
    vt_ctx *c = vt_test_ctx();
    const int64_t C = 32, H = 160, W = 256, O = 4, G = 2, Cg = C / G, Og = O / G;
    vt_tensor *x = vt_test_param(c, VT_SHAPE(1, C, H, W), 1, 1.0f);
    vt_tensor *w = vt_test_param(c, VT_SHAPE(O, Cg, 3, 3), 2, 0.2f);
    vt_conv2d_opts o = {.padding = {1, 1}, .groups = G};
    vt_tensor *y = vt_conv2d(c, x, w, NULL, &o);
    ck_assert_msg(y != NULL, "%s", vt_ctx_error(c)->msg);
    vt_tensor *gy = vt_test_randn(c, VT_SHAPE(1, O, H, W), 3, 1.0f);
    ck_assert_int_eq(vt_backward_with(c, y, gy), VT_OK);
    const float *px = vt_f32(x), *pw = vt_f32(w), *py = vt_f32(y), *pg = vt_f32(gy);
    const float *gx = vt_f32(x->grad), *gw = vt_f32(w->grad);
    uint64_t s = 12345;
#define RND(n) ((int64_t)((s = s * 6364136223846793005ull + 1442695040888963407ull) >> 33) % (n))
#define X(ch, h, ww) ((h) < 0 || (h) >= H || (ww) < 0 || (ww) >= W ? 0.0 : (double)px[((ch) * H + (h)) * W + (ww)])
    for (int t = 0; t < 40; t++) { /* output points, rows from every tile */
        int64_t oc = RND(O), oh = RND(H), ow = RND(W), g = oc / Og;
        double ref = 0;
        for (int64_t ci = 0; ci < Cg; ci++)
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 3; j++)
                    ref += pw[((oc * Cg + ci) * 3 + i) * 3 + j] * X(g * Cg + ci, oh - 1 + i, ow - 1 + j);
        ck_assert_double_eq_tol(py[(oc * H + oh) * W + ow], ref, 1e-4);
    }
    for (int t = 0; t < 6; t++) { /* weight gradient: a sum over every output position */
        int64_t oc = RND(O), ci = RND(Cg), i = RND(3), j = RND(3), g = oc / Og;
        double ref = 0;
        for (int64_t oh = 0; oh < H; oh++)
            for (int64_t ow = 0; ow < W; ow++)
                ref += pg[(oc * H + oh) * W + ow] * X(g * Cg + ci, oh - 1 + i, ow - 1 + j);
        ck_assert_double_eq_tol(gw[((oc * Cg + ci) * 3 + i) * 3 + j], ref, 2e-3 * (1 + fabs(ref)) + 1e-2);
    }
    for (int t = 0; t < 40; t++) { /* input gradient */
        int64_t ch = RND(C), ih = RND(H), iw = RND(W), g = ch / Cg;
        double ref = 0;
        for (int64_t oc = g * Og; oc < (g + 1) * Og; oc++)
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 3; j++) {
                    int64_t oh = ih + 1 - i, ow = iw + 1 - j;
                    if (oh < 0 || oh >= H || ow < 0 || ow >= W) continue;
                    ref += pg[(oc * H + oh) * W + ow] * pw[((oc * Cg + ch % Cg) * 3 + i) * 3 + j];
                }
        ck_assert_double_eq_tol(gx[(ch * H + ih) * W + iw], ref, 1e-4);
    }
#undef X
#undef RND
    vt_tensor_release(x);
    vt_tensor_release(w);
    vt_ctx_destroy(c);
}
END_TEST

/* ---- thread-count independence ---- */

/* Runs fn forward and backward with the given thread count; returns out and input grads concatenated. */
static vt_tensor *run_with_threads(vt_ctx *c, int threads, vt_test_fn fn, int n, vt_tensor **in, void *user) {
    vt_ctx_set_threads(c, threads);
    for (int i = 0; i < n; i++) vt_zero_grad(in[i]);
    vt_tensor *y = fn(c, in, user);
    ck_assert_msg(y != NULL, "%s", vt_ctx_error(c)->msg);
    ck_assert_int_eq(vt_backward_with(c, y, vt_test_randn(c, y->ndim, y->shape, 5, 1.0f)), VT_OK);
    vt_tensor *parts[4] = {vt_flatten(c, y, 0, -1)};
    for (int i = 0; i < n; i++) parts[i + 1] = vt_flatten(c, in[i]->grad, 0, -1);
    return vt_concat(c, n + 1, parts, 0);
}

START_TEST(results_do_not_depend_on_thread_count) {
    static const conv_case cases[] = {
        {{2, 8, 20, 18}, {6, 4, 3, 3}, {.stride = {2, 2}, .padding = {1, 1}, .groups = 2}, true},
        {{2, 3, 32, 32}, {24, 3, 8, 8}, {.stride = {8, 8}}, true},
        {{2, 16, 9, 9}, {16, 1, 3, 3}, {.padding = {1, 1}, .groups = 16}, true},
    };
    static const pool_case pools[] = {
        {0, {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}}, {0}},
        {1, {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}}, {0}},
        {2, {.ceil_mode = false}, {5, 3}},
    };
    vt_ctx *c = vt_test_ctx();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const conv_case *k = &cases[i];
        vt_tensor *in[3] = {vt_test_param(c, 4, k->x, 50 + i, 1.0f), vt_test_param(c, 4, k->w, 60 + i, 0.5f),
                            vt_test_param(c, 1, k->w, 70 + i, 1.0f)};
        vt_tensor *a = run_with_threads(c, 1, run_conv, 3, in, (void *)k);
        vt_tensor *b = run_with_threads(c, 2, run_conv, 3, in, (void *)k);
        ck_assert_msg(memcmp(vt_f32(a), vt_f32(b), vt_nbytes(a)) == 0, "conv case %zu differs across threads", i);
        for (int j = 0; j < 3; j++) vt_tensor_release(in[j]);
    }
    for (size_t i = 0; i < sizeof pools / sizeof pools[0]; i++) {
        vt_tensor *x = vt_test_param(c, VT_SHAPE(4, 16, 33, 30), 80 + i, 1.0f);
        vt_tensor *a = run_with_threads(c, 1, run_pool, 1, &x, (void *)&pools[i]);
        vt_tensor *b = run_with_threads(c, 2, run_pool, 1, &x, (void *)&pools[i]);
        ck_assert_msg(memcmp(vt_f32(a), vt_f32(b), vt_nbytes(a)) == 0, "pool case %zu differs across threads", i);
        vt_tensor_release(x);
    }
    vt_ctx_destroy(c);
}
END_TEST

/* ---- errors ---- */

#define ASSERT_FAILS_WITH(c, expr, text)                                                                  \
    do {                                                                                                  \
        ck_assert_ptr_null(expr);                                                                         \
        ck_assert_msg(strstr(vt_ctx_error(c)->msg, text), "message '%s' lacks '%s'", vt_ctx_error(c)->msg, \
                      text);                                                                              \
        vt_ctx_clear_error(c);                                                                            \
    } while (0)

START_TEST(bad_arguments_report_op_and_shapes) {
    vt_ctx *c = vt_test_ctx();
    vt_tensor *x = vt_zeros(c, VT_F32, VT_SHAPE(2, 4, 8, 8));
    vt_tensor *w = vt_zeros(c, VT_F32, VT_SHAPE(6, 3, 3, 3));
    ASSERT_FAILS_WITH(c, vt_conv2d(c, x, w, NULL, NULL), "conv2d: input [2, 4, 8, 8], weight [6, 3, 3, 3]");
    vt_tensor *w2 = vt_zeros(c, VT_F32, VT_SHAPE(6, 2, 3, 3));
    ASSERT_FAILS_WITH(c, vt_conv2d(c, x, w2, NULL, &(vt_conv2d_opts){.groups = 3}), "groups 3 do not fit");
    ASSERT_FAILS_WITH(c, vt_conv2d(c, x, w2, vt_zeros(c, VT_F32, VT_SHAPE(5)), &(vt_conv2d_opts){.groups = 2}),
                      "bias [5]");
    vt_tensor *big = vt_zeros(c, VT_F32, VT_SHAPE(1, 4, 9, 9));
    ASSERT_FAILS_WITH(c, vt_conv2d(c, x, big, NULL, NULL), "does not fit input [2, 4, 8, 8]");
    ASSERT_FAILS_WITH(c, vt_conv2d(c, x, w2, NULL, &(vt_conv2d_opts){.stride = {-1, 1}}), "negative stride");
    ASSERT_FAILS_WITH(c, vt_conv2d(c, vt_zeros(c, VT_I64, VT_SHAPE(2, 4, 8, 8)), w, NULL, NULL),
                      "conv2d: input must be f32, got i64");
    ASSERT_FAILS_WITH(c, vt_conv2d(c, vt_zeros(c, VT_F32, VT_SHAPE(4, 8, 8)), w, NULL, NULL), "input [4, 8, 8]");

    ASSERT_FAILS_WITH(c, vt_avg_pool2d(c, x, &(vt_pool2d_opts){.kernel = {3, 3}, .padding = {2, 2}}),
                      "avg_pool2d: kernel (3, 3), stride (0, 0), padding (2, 2) on input [2, 4, 8, 8]");
    ASSERT_FAILS_WITH(c, vt_max_pool2d(c, x, &(vt_pool2d_opts){.kernel = {9, 2}}),
                      "max_pool2d: kernel (9, 2) is larger than padded input [2, 4, 8, 8]");
    ASSERT_FAILS_WITH(c, vt_max_pool2d(c, x, NULL), "max_pool2d: options");
    ASSERT_FAILS_WITH(c, vt_adaptive_avg_pool2d(c, x, 0, 3), "adaptive_avg_pool2d: output size (0, 3)");
    ASSERT_FAILS_WITH(c, vt_adaptive_avg_pool2d(c, vt_zeros(c, VT_F32, VT_SHAPE(2, 0, 3)), 1, 1),
                      "adaptive_avg_pool2d: expected a [N, C, H, W] input");
    /* NULL input: NULL out, the first error kept */
    ck_assert_ptr_null(vt_conv2d(c, NULL, w, NULL, NULL));
    ck_assert_ptr_null(vt_max_pool2d(c, vt_conv2d(c, x, w, NULL, NULL), &(vt_pool2d_opts){.kernel = {2, 2}}));
    ck_assert_msg(strstr(vt_ctx_error(c)->msg, "conv2d:"), "%s", vt_ctx_error(c)->msg);
    vt_ctx_destroy(c);
}
END_TEST

/* A ViT stem: a patch-embedding conv that is one GEMM, with a bias, on an empty batch too. */
START_TEST(patch_embedding_handles_empty_batch) {
    vt_ctx *c = vt_test_ctx();
    vt_tensor *x = vt_zeros(c, VT_F32, VT_SHAPE(0, 3, 32, 32));
    vt_tensor *w = vt_test_param(c, VT_SHAPE(8, 3, 16, 16), 1, 1.0f);
    vt_tensor *y = vt_conv2d(c, x, w, NULL, &(vt_conv2d_opts){.stride = {16, 16}});
    ck_assert_msg(y != NULL, "%s", vt_ctx_error(c)->msg);
    ck_assert_int_eq(y->shape[0], 0);
    ck_assert_int_eq(y->shape[1], 8);
    ck_assert_int_eq(y->shape[2], 2);
    ck_assert_int_eq(vt_backward(c, vt_sum_all(c, y)), VT_OK);
    ck_assert_double_eq(vt_item_at(w->grad, 0), 0.0);
    vt_tensor_release(w);
    vt_ctx_destroy(c);
}
END_TEST

VT_TEST_MAIN("ops_conv", conv2d_matches_pytorch, pools_match_pytorch, conv2d_gradients_match_finite_differences,
             pool_gradients_match_finite_differences, tiled_im2col_matches_direct_sums,
             results_do_not_depend_on_thread_count, bad_arguments_report_op_and_shapes,
             patch_embedding_handles_empty_batch)
