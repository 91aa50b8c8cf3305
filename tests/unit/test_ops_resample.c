/* interpolate and grid_sample: PyTorch parity (forward and gradients) for every mode × align_corners ×
 * up/down × size/scale factor, grid points outside [-1, 1], finite-difference gradients, thread-count
 * independence, and error reporting. */
#include <math.h>
#include <string.h>

#include "golden.h"
#include "vt_test.h"

/* Golden cases carry their options in input 0 (see tests/ref/gen_resample.py). */
static vt_tensor *golden_interp(vt_ctx *c, vt_tensor **in, void *user) {
    (void)user;
    const int64_t *a = vt_i64(in[0]);
    vt_interp_mode mode = (vt_interp_mode)a[0];
    if (a[2])
        return vt_interpolate_scale(c, in[1], (double)a[5] / (double)a[6], (double)a[7] / (double)a[8], mode, a[1]);
    return vt_interpolate(c, in[1], a[3], a[4], mode, a[1]);
}

static vt_tensor *golden_grid(vt_ctx *c, vt_tensor **in, void *user) {
    (void)user;
    return vt_grid_sample(c, in[1], in[2], vt_i64(in[0])[0] != 0);
}

START_TEST(interpolate_matches_pytorch) {
    static const char *tags[] = {"nearest_hp", "bilinear_hp", "bilinear_ac", "bicubic_hp", "bicubic_ac"};
    static const char *kinds[] = {"up_size", "down_size", "up_scale", "down_scale", "mixed_size"};
    static const char *modes[] = {"nearest", "bilinear", "bicubic"};
    static const char *scales[] = {"third_scale", "big_scale", "same_size_scale"};
    static const char *extra[] = {"nearest_x2_scale", "nearest_x3_size", "bilinear_to_1x1", "bicubic_posembed"};
    vt_ctx *c = vt_test_ctx();
    vt_golden *g = vt_golden_open("resample.safetensors");
    char name[64];
    for (size_t t = 0; t < sizeof tags / sizeof tags[0]; t++)
        for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
            snprintf(name, sizeof name, "%s_%s", tags[t], kinds[k]);
            vt_golden_check(c, g, name, golden_interp, NULL, 1e-5, 1e-5);
        }
    for (size_t m = 0; m < 3; m++)
        for (size_t k = 0; k < 3; k++) {
            snprintf(name, sizeof name, "%s_%s", modes[m], scales[k]);
            vt_golden_check(c, g, name, golden_interp, NULL, 1e-5, 1e-5);
        }
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++)
        vt_golden_check(c, g, extra[i], golden_interp, NULL, 1e-5, 1e-5);
    vt_golden_close(g);
    vt_ctx_destroy(c);
}
END_TEST

START_TEST(grid_sample_matches_pytorch) {
    vt_ctx *c = vt_test_ctx();
    vt_golden *g = vt_golden_open("resample.safetensors");
    vt_golden_check(c, g, "grid_sample_hp", golden_grid, NULL, 1e-5, 1e-5);
    vt_golden_check(c, g, "grid_sample_ac", golden_grid, NULL, 1e-5, 1e-5);
    vt_golden_check(c, g, "grid_sample_points", golden_grid, NULL, 1e-5, 1e-5);
    vt_golden_check(c, g, "grid_sample_border_hp", golden_grid, NULL, 1e-5, 1e-5);
    vt_golden_check(c, g, "grid_sample_border_ac", golden_grid, NULL, 1e-5, 1e-5);
    vt_golden_close(g);
    vt_ctx_destroy(c);
}
END_TEST

/* ---- finite differences ---- */

typedef struct interp_case {
    vt_interp_mode mode;
    bool align;
    int64_t out[2];
    double scale[2]; /* used when non-zero */
} interp_case;

static vt_tensor *run_interp(vt_ctx *c, vt_tensor **in, void *user) {
    const interp_case *k = user;
    if (k->scale[0] > 0) return vt_interpolate_scale(c, in[0], k->scale[0], k->scale[1], k->mode, k->align);
    return vt_interpolate(c, in[0], k->out[0], k->out[1], k->mode, k->align);
}

START_TEST(interpolate_gradients_match_finite_differences) {
    static const interp_case cases[] = {
        {VT_INTERP_NEAREST, false, {7, 3}, {0}},      {VT_INTERP_NEAREST, false, {0}, {1.6, 0.7}},
        {VT_INTERP_BILINEAR, false, {7, 3}, {0}},     {VT_INTERP_BILINEAR, true, {7, 3}, {0}},
        {VT_INTERP_BILINEAR, false, {0}, {1.6, 0.7}}, {VT_INTERP_BICUBIC, false, {8, 3}, {0}},
        {VT_INTERP_BICUBIC, true, {8, 3}, {0}},       {VT_INTERP_BICUBIC, false, {0}, {2.5, 0.6}},
    };
    vt_ctx *c = vt_test_ctx();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vt_tensor *x = vt_test_param(c, VT_SHAPE(2, 2, 4, 5), 10 + i, 1.0f);
        char why[512];
        ck_assert_msg(vt_gradcheck(c, run_interp, 1, &x, (void *)&cases[i], 1e-2, 2e-3, 2e-2, why, sizeof why),
                      "case %zu: %s", i, why);
        vt_tensor_release(x);
    }
    vt_ctx_destroy(c);
}
END_TEST

static vt_tensor *run_grid(vt_ctx *c, vt_tensor **in, void *user) {
    return vt_grid_sample(c, in[0], in[1], *(const bool *)user);
}

START_TEST(grid_sample_gradients_match_finite_differences) {
    vt_ctx *c = vt_test_ctx();
    static const bool align[] = {false, true};
    for (int a = 0; a < 2; a++) {
        vt_tensor *in[2] = {vt_test_param(c, VT_SHAPE(2, 3, 4, 5), 1 + a, 1.0f),
                            vt_test_param(c, VT_SHAPE(2, 3, 4, 2), 3 + a, 1.0f)};
        /* points spread over and a little beyond [-1, 1], kept off the pixel-grid lines where the bilinear
         * surface has kinks (a ±eps probe across one breaks finite differences) */
        float *g = vt_f32(in[1]);
        for (int i = 0; i < 48; i++) {
            float size = (i % 2 ? 4.0f : 5.0f) - (align[a] ? 1.0f : 0.0f);
            float v = fmaxf(-1.2f, fminf(1.2f, 0.6f * g[i]));
            float pix = (v + 1.0f) * size / 2.0f - (align[a] ? 0.0f : 0.5f);
            float frac = pix - floorf(pix);
            if (frac < 0.1f || frac > 0.9f) v += 0.4f / size;
            g[i] = v;
        }
        char why[512];
        ck_assert_msg(vt_gradcheck(c, run_grid, 2, in, (void *)&align[a], 1e-3, 2e-3, 2e-2, why, sizeof why),
                      "align_corners %d: %s", a, why);
        vt_tensor_release(in[0]);
        vt_tensor_release(in[1]);
    }
    vt_ctx_destroy(c);
}
END_TEST

/* ---- properties ---- */

/* Bilinear and bicubic at the input's own size reproduce the input exactly, as do integer nearest upsamples
 * of their source pixels. */
START_TEST(identity_resampling_is_exact) {
    vt_ctx *c = vt_test_ctx();
    vt_tensor *x = vt_test_randn(c, VT_SHAPE(2, 3, 6, 5), 1, 1.0f);
    for (int m = VT_INTERP_BILINEAR; m <= VT_INTERP_BICUBIC; m++)
        for (int a = 0; a < 2; a++) {
            vt_tensor *y = vt_interpolate(c, x, 6, 5, (vt_interp_mode)m, a);
            ck_assert_msg(y && memcmp(vt_f32(y), vt_f32(x), vt_nbytes(x)) == 0, "mode %d align %d", m, a);
        }
    vt_tensor *y = vt_interpolate_scale(c, x, 3.0, 2.0, VT_INTERP_NEAREST, false);
    ck_assert_int_eq(y->shape[2], 18);
    ck_assert_int_eq(y->shape[3], 10);
    for (int64_t p = 0; p < 6; p++)
        for (int64_t h = 0; h < 18; h++)
            for (int64_t w = 0; w < 10; w++)
                ck_assert_float_eq(vt_f32(y)[(p * 18 + h) * 10 + w], vt_f32(x)[(p * 6 + h / 3) * 5 + w / 2]);
    vt_ctx_destroy(c);
}
END_TEST

/* grid_sample at the pixel centres (align_corners) returns the pixels; far outside it returns 0. */
START_TEST(grid_sample_hits_pixels_and_zero_outside) {
    vt_ctx *c = vt_test_ctx();
    vt_tensor *x = vt_test_randn(c, VT_SHAPE(1, 2, 3, 4), 1, 1.0f);
    float pts[3 * 4 * 2 + 2 * 2];
    for (int h = 0; h < 3; h++)
        for (int w = 0; w < 4; w++) {
            pts[(h * 4 + w) * 2] = -1.0f + 2.0f * (float)w / 3.0f;
            pts[(h * 4 + w) * 2 + 1] = -1.0f + (float)h;
        }
    pts[24] = 5.0f, pts[25] = 0.0f, pts[26] = -1e30f, pts[27] = 1e30f;
    vt_tensor *grid = vt_from_f32(c, VT_SHAPE(1, 1, 14, 2), pts);
    vt_tensor *y = vt_grid_sample(c, x, grid, true);
    ck_assert_msg(y != NULL, "%s", vt_ctx_error(c)->msg);
    for (int ch = 0; ch < 2; ch++) {
        for (int i = 0; i < 12; i++) ck_assert_float_eq_tol(vt_f32(y)[ch * 14 + i], vt_f32(x)[ch * 12 + i], 1e-6);
        ck_assert_float_eq(vt_f32(y)[ch * 14 + 12], 0.0f);
        ck_assert_float_eq(vt_f32(y)[ch * 14 + 13], 0.0f);
    }
    vt_ctx_destroy(c);
}
END_TEST

static vt_tensor *run_with_threads(vt_ctx *c, int threads, vt_test_fn fn, int n, vt_tensor **in, void *user) {
    vt_ctx_set_threads(c, threads);
    for (int i = 0; i < n; i++) vt_zero_grad(in[i]);
    vt_tensor *y = fn(c, in, user);
    ck_assert_msg(y != NULL, "%s", vt_ctx_error(c)->msg);
    ck_assert_int_eq(vt_backward_with(c, y, vt_test_randn(c, y->ndim, y->shape, 5, 1.0f)), VT_OK);
    vt_tensor *parts[3] = {vt_flatten(c, y, 0, -1)};
    for (int i = 0; i < n; i++) parts[i + 1] = vt_flatten(c, in[i]->grad, 0, -1);
    return vt_concat(c, n + 1, parts, 0);
}

START_TEST(results_do_not_depend_on_thread_count) {
    static const interp_case cases[] = {
        {VT_INTERP_NEAREST, false, {61, 300}, {0}},
        {VT_INTERP_BILINEAR, false, {61, 300}, {0}},
        {VT_INTERP_BICUBIC, true, {0}, {2.6, 9.3}},
    };
    vt_ctx *c = vt_test_ctx();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vt_tensor *x = vt_test_param(c, VT_SHAPE(2, 5, 23, 31), 20 + i, 1.0f);
        vt_tensor *a = run_with_threads(c, 1, run_interp, 1, &x, (void *)&cases[i]);
        vt_tensor *b = run_with_threads(c, 2, run_interp, 1, &x, (void *)&cases[i]);
        ck_assert_msg(memcmp(vt_f32(a), vt_f32(b), vt_nbytes(a)) == 0, "interpolate case %zu differs", i);
        vt_tensor_release(x);
    }
    static const bool align = false;
    vt_tensor *in[2] = {vt_test_param(c, VT_SHAPE(2, 40, 12, 12), 30, 1.0f),
                        vt_test_param(c, VT_SHAPE(2, 50, 30, 2), 31, 0.7f)};
    vt_tensor *a = run_with_threads(c, 1, run_grid, 2, in, (void *)&align);
    vt_tensor *b = run_with_threads(c, 2, run_grid, 2, in, (void *)&align);
    ck_assert_msg(memcmp(vt_f32(a), vt_f32(b), vt_nbytes(a)) == 0, "grid_sample differs");
    vt_tensor_release(in[0]);
    vt_tensor_release(in[1]);
    vt_ctx_destroy(c);
}
END_TEST

#define ASSERT_FAILS_WITH(c, expr, text)                                                                  \
    do {                                                                                                  \
        ck_assert_ptr_null(expr);                                                                         \
        ck_assert_msg(strstr(vt_ctx_error(c)->msg, text), "message '%s' lacks '%s'", vt_ctx_error(c)->msg, \
                      text);                                                                              \
        vt_ctx_clear_error(c);                                                                            \
    } while (0)

START_TEST(bad_arguments_report_op_and_shapes) {
    vt_ctx *c = vt_test_ctx();
    vt_tensor *x = vt_zeros(c, VT_F32, VT_SHAPE(2, 3, 4, 5));
    ASSERT_FAILS_WITH(c, vt_interpolate(c, x, 8, 10, VT_INTERP_NEAREST, true), "interpolate: align_corners");
    ASSERT_FAILS_WITH(c, vt_interpolate(c, x, 0, 10, VT_INTERP_BILINEAR, false),
                      "interpolate (bilinear): output size (0, 10) for input [2, 3, 4, 5]");
    ASSERT_FAILS_WITH(c, vt_interpolate(c, vt_zeros(c, VT_F32, VT_SHAPE(3, 4, 5)), 8, 10, VT_INTERP_BICUBIC, false),
                      "interpolate: expected a [N, C, H, W] input with H, W >= 1, got [3, 4, 5]");
    ASSERT_FAILS_WITH(c, vt_interpolate_scale(c, x, 0.1, 2.0, VT_INTERP_BILINEAR, false), "output size (0, 10)");
    ASSERT_FAILS_WITH(c, vt_interpolate_scale(c, x, -1.0, 2.0, VT_INTERP_BILINEAR, false),
                      "interpolate: scale factors (-1, 2) for input [2, 3, 4, 5]");
    ASSERT_FAILS_WITH(c, vt_interpolate_scale(c, x, NAN, 2.0, VT_INTERP_BILINEAR, false), "scale factors");
    ASSERT_FAILS_WITH(c, vt_interpolate(c, vt_zeros(c, VT_I64, VT_SHAPE(2, 3, 4, 5)), 8, 10, VT_INTERP_BILINEAR, false),
                      "interpolate: input must be f32, got i64 [2, 3, 4, 5]");
    ASSERT_FAILS_WITH(c, vt_grid_sample(c, x, vt_zeros(c, VT_F32, VT_SHAPE(2, 6, 7, 3)), false),
                      "grid_sample: input [2, 3, 4, 5] and grid [2, 6, 7, 3] do not fit");
    ASSERT_FAILS_WITH(c, vt_grid_sample(c, x, vt_zeros(c, VT_F32, VT_SHAPE(1, 6, 7, 2)), false), "grid [1, 6, 7, 2]");
    ck_assert_ptr_null(vt_grid_sample(c, x, NULL, false));
    vt_ctx_destroy(c);
}
END_TEST

VT_TEST_MAIN("ops_resample", interpolate_matches_pytorch, grid_sample_matches_pytorch,
             interpolate_gradients_match_finite_differences, grid_sample_gradients_match_finite_differences,
             identity_resampling_is_exact, grid_sample_hits_pixels_and_zero_outside,
             results_do_not_depend_on_thread_count, bad_arguments_report_op_and_shapes)
