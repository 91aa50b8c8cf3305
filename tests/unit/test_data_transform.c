/* Transforms (core/data/transform*.c): resize parity with PIL, the YAML declaration and its errors, box and
 * mask arithmetic of flip / crop / resize, and per-sample deterministic randomness. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "golden.h"
#include "visft/config.h"
#include "visft/data.h"
#include "data/transform_internal.h"
#include "vt_test.h"

#define IMG(name) VISFT_TEST_DATA_DIR "/images/" name

static vt_transforms *parse(const char *yaml, vt_err *err, vt_status *st_out) {
    vt_cfg *cfg = NULL;
    vt_status st = vt_cfg_load_string(yaml, strlen(yaml), "t.yaml", VT_CFG_NO_BASE, &cfg, err);
    ck_assert_msg(st == VT_OK, "%s", err->msg);
    vt_transforms *t = NULL;
    st = vt_transforms_from_cfg(vt_cfg_get(vt_cfg_root(cfg), "transforms"), &t, err);
    if (st_out) *st_out = st;
    vt_cfg_free(cfg);
    return t;
}

static vt_transforms *parse_ok(const char *yaml) {
    vt_err err = {0};
    vt_status st;
    vt_transforms *t = parse(yaml, &err, &st);
    ck_assert_msg(st == VT_OK && t, "%s", err.msg);
    return t;
}

/* A w x h sample whose pixel (x, y) is (x, y, x ^ y). */
static void make_sample(vt_sample *s, int32_t w, int32_t h) {
    vt_sample_init(s);
    vt_err err = {0};
    ck_assert_int_eq(vt_sample_new_image(s, w, h, &err), VT_OK);
    for (int32_t y = 0; y < h; y++)
        for (int32_t x = 0; x < w; x++) {
            uint8_t *p = s->image.data + (size_t)y * s->image.stride + 3 * (size_t)x;
            p[0] = (uint8_t)x, p[1] = (uint8_t)y, p[2] = (uint8_t)(x ^ y);
        }
}

static void add_box(vt_sample *s, float x0, float y0, float x1, float y1, int64_t label) {
    vt_err err = {0};
    const float b[4] = {x0, y0, x1, y1};
    ck_assert_int_eq(vt_sample_add_instance(s, b, label, label + 100, false, (x1 - x0) * (y1 - y0), NULL, &err), VT_OK);
}

#define ASSERT_BOX(in, a, b, c, d)                                                                            \
    ck_assert_msg(fabsf((in).box[0] - (a)) < 1e-4f && fabsf((in).box[1] - (b)) < 1e-4f &&                     \
                      fabsf((in).box[2] - (c)) < 1e-4f && fabsf((in).box[3] - (d)) < 1e-4f,                   \
                  "box [%g %g %g %g], expected [%g %g %g %g]", (in).box[0], (in).box[1], (in).box[2], (in).box[3], \
                  (double)(a), (double)(b), (double)(c), (double)(d))

/* ---- resize parity with PIL ---- */

START_TEST(test_resize_matches_pil) {
    vt_ctx *c = vt_test_ctx();
    vt_scope_push(c);
    vt_golden *g = vt_golden_open("data.safetensors");
    const int sizes[][2] = {{40, 30}, {25, 19}, {13, 7}, {110, 80}, {97, 40}, {60, 73}, {8, 8}};
    const char *filters[] = {"bilinear", "bicubic"};
    vt_sample s;
    vt_sample_init(&s);
    vt_err err = {0};
    ck_assert_int_eq(vt_sample_load_image(&s, IMG("src.png"), &err), VT_OK);
    for (int f = 0; f < 2; f++)
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            char yaml[256], key[64];
            snprintf(yaml, sizeof yaml, "transforms:\n  - resize: {size: [%d, %d], interp: %s}\n", sizes[i][1],
                     sizes[i][0], filters[f]);
            snprintf(key, sizeof key, "resize.%s.%dx%d", filters[f], sizes[i][0], sizes[i][1]);
            vt_transforms *t = parse_ok(yaml);
            vt_sample w;
            vt_sample_init(&w);
            ck_assert_int_eq(vt_sample_copy(&w, &s, &err), VT_OK);
            ck_assert_msg(vt_transforms_apply(t, &w, 0, 0, 0, &err) == VT_OK, "%s", err.msg);
            vt_tensor *ref = vt_golden_get(c, g, key);
            ck_assert_msg(ref, "%s missing", key);
            ck_assert_int_eq(w.image.width, sizes[i][0]);
            ck_assert_int_eq(w.image.height, sizes[i][1]);
            const uint8_t *r = ref->data;
            double sum = 0;
            int worst = 0;
            for (int32_t y = 0; y < w.image.height; y++)
                for (int32_t x = 0; x < 3 * w.image.width; x++) {
                    int d = abs((int)w.image.data[(size_t)y * w.image.stride + x] - (int)r[((size_t)y * w.image.width) * 3 + x]);
                    sum += d;
                    worst = d > worst ? d : worst;
                }
            double mean = sum / (3.0 * w.image.width * w.image.height);
            /* The issue asks for mean <= 1 level; the port of Pillow's Resample.c is in fact exact. */
            ck_assert_msg(mean <= 1.0 && worst == 0, "%s: mean |diff| %.4f, max %d vs PIL", key, mean, worst);
            vt_sample_free(&w);
            vt_transforms_free(t);
        }
    vt_sample_free(&s);
    vt_golden_close(g);
    vt_scope_pop(c);
    vt_ctx_destroy(c);
}
END_TEST

/* ---- sizes ---- */

START_TEST(test_resize_short_and_max_sizes) {
    struct { int32_t w, h, s, max, ow, oh; } cases[] = {
        {64, 48, 80, 0, 106, 80},  /* int(80 * 64 / 48) */
        {48, 64, 80, 1333, 80, 106},
        {100, 20, 50, 120, 120, 24}, /* long side capped: short = round(120 * 20 / 100) */
        {30, 30, 30, 0, 30, 30},     /* already there */
        {33, 20, 10, 0, 16, 10},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char yaml[160];
        if (cases[i].max) snprintf(yaml, sizeof yaml, "transforms: [{resize: {short: %d, max: %d}}]", cases[i].s, cases[i].max);
        else snprintf(yaml, sizeof yaml, "transforms: [{resize: {short: %d}}]", cases[i].s);
        vt_transforms *t = parse_ok(yaml);
        vt_sample s;
        make_sample(&s, cases[i].w, cases[i].h);
        add_box(&s, 4, 2, 10, 8, 1);
        vt_err err = {0};
        ck_assert_int_eq(vt_transforms_apply(t, &s, 1, 2, 3, &err), VT_OK);
        ck_assert_msg(s.image.width == cases[i].ow && s.image.height == cases[i].oh, "case %zu: %dx%d", i, s.image.width,
                      s.image.height);
        float fx = (float)cases[i].ow / cases[i].w, fy = (float)cases[i].oh / cases[i].h;
        ASSERT_BOX(s.instances[0], 4 * fx, 2 * fy, 10 * fx, 8 * fy);
        ck_assert_float_eq_tol(s.instances[0].area, 36 * fx * fy, 1e-3);
        vt_sample_free(&s);
        vt_transforms_free(t);
    }
}
END_TEST

/* A JPEG decoded at 1/2 scale resizes to the size a full decode gets. */
START_TEST(test_downscaled_decode_gives_the_same_output_size) {
    vt_transforms *t = parse_ok("transforms: [{resize: {short: 50, max: 90}}]");
    ck_assert_int_eq(vt_transforms_min_short(t), 50);
    vt_sample a, b;
    vt_sample_init(&a);
    vt_sample_init(&b);
    b.decode.min_short = vt_transforms_min_short(t);
    vt_err err = {0};
    ck_assert_int_eq(vt_sample_load_image(&a, IMG("large.jpg"), &err), VT_OK);
    ck_assert_int_eq(vt_sample_load_image(&b, IMG("large.jpg"), &err), VT_OK);
    ck_assert_int_eq(b.image.width, 80); /* 160x120 decoded at 1/2 */
    ck_assert_int_eq(vt_transforms_apply(t, &a, 0, 0, 0, &err), VT_OK);
    ck_assert_int_eq(vt_transforms_apply(t, &b, 0, 0, 0, &err), VT_OK);
    ck_assert_int_eq(a.image.width, 66);
    ck_assert_int_eq(a.image.height, 50);
    ck_assert_int_eq(b.image.width, a.image.width);
    ck_assert_int_eq(b.image.height, a.image.height);
    double sum = 0;
    for (size_t i = 0; i < a.image.stride * (size_t)a.image.height; i++) sum += abs((int)a.image.data[i] - (int)b.image.data[i]);
    ck_assert_msg(sum / (a.image.stride * (size_t)a.image.height) < 6.0, "DCT-scaled result drifts: %.2f",
                  sum / (a.image.stride * (size_t)a.image.height));
    vt_sample_free(&a);
    vt_sample_free(&b);
    vt_transforms_free(t);
    /* pipelines whose first geometric op is not a resize give no hint */
    t = parse_ok("transforms: [{random_flip: {}}, {random_crop: {min: 4, max: 8}}, {resize: {short: 8}}]");
    ck_assert_int_eq(vt_transforms_min_short(t), 0);
    vt_transforms_free(t);
    t = parse_ok("transforms: [random_flip, {random_resize: {short: [4, 12, 8]}}]");
    ck_assert_int_eq(vt_transforms_min_short(t), 12);
    vt_transforms_free(t);
}
END_TEST

/* ---- flip ---- */

START_TEST(test_flip_moves_pixels_boxes_and_masks) {
    vt_transforms *t = parse_ok("transforms: [{random_flip: {p: 1.0}}]");
    vt_sample s;
    make_sample(&s, 10, 6);
    add_box(&s, 1, 2, 4, 5, 3);
    add_box(&s, 0, 0, 10, 6, 4);
    vt_err err = {0};
    /* instance 0: a polygon; instance 1: an RLE of an L-shaped region */
    ck_assert_int_eq(vt_sample_set_polygons(&s, 0, 1, (const int32_t[]){8}, (const double[]){1, 2, 4, 2, 4, 5, 1, 5}, &err),
                     VT_OK);
    uint8_t before[60] = {0}, after[60], want[60];
    for (int y = 0; y < 6; y++)
        for (int x = 0; x < 10; x++) before[y * 10 + x] = (x < 3) || (y == 5);
    /* column-major runs of `before` */
    uint32_t counts[64];
    size_t n = 0;
    uint8_t cur = 0;
    counts[0] = 0;
    for (int x = 0; x < 10; x++)
        for (int y = 0; y < 6; y++) {
            if (before[y * 10 + x] != cur) counts[++n] = 0, cur ^= 1;
            counts[n]++;
        }
    ck_assert_int_eq(vt_sample_set_rle(&s, 1, 6, 10, counts, n + 1, &err), VT_OK);
    uint8_t poly_before[60];
    ck_assert_int_eq(vt_mask_rasterize(&s.instances[0].mask, 10, 6, poly_before, &err), VT_OK);
    ck_assert_int_eq(vt_transforms_apply(t, &s, 7, 0, 0, &err), VT_OK);
    ASSERT_BOX(s.instances[0], 6, 2, 9, 5);
    ASSERT_BOX(s.instances[1], 0, 0, 10, 6);
    for (int y = 0; y < 6; y++)
        for (int x = 0; x < 10; x++) {
            const uint8_t *p = s.image.data + (size_t)y * s.image.stride + 3 * (size_t)x;
            ck_assert_int_eq(p[0], 9 - x);
            ck_assert_int_eq(p[1], y);
            want[y * 10 + x] = before[y * 10 + 9 - x];
        }
    ck_assert_int_eq(vt_mask_rasterize(&s.instances[1].mask, 10, 6, after, &err), VT_OK);
    ck_assert_int_eq(memcmp(after, want, 60), 0);
    /* the polygon's pixels mirror too */
    ck_assert_int_eq(vt_mask_rasterize(&s.instances[0].mask, 10, 6, after, &err), VT_OK);
    for (int y = 0; y < 6; y++)
        for (int x = 0; x < 10; x++)
            ck_assert_msg(after[y * 10 + x] == poly_before[y * 10 + 9 - x], "polygon pixel (%d, %d)", x, y);
    vt_sample_free(&s);
    vt_transforms_free(t);
}
END_TEST

/* ---- crops ---- */

START_TEST(test_random_crop_clips_and_drops_boxes) {
    vt_transforms *t = parse_ok("transforms: [{random_crop: {min: 5, max: 8}}]");
    for (uint64_t idx = 0; idx < 50; idx++) {
        vt_sample s;
        make_sample(&s, 20, 16);
        add_box(&s, 0, 0, 20, 16, 0); /* always survives, clipped to the crop */
        add_box(&s, 2, 3, 3, 4, 1);   /* tiny: survives only if the crop covers it */
        vt_err err = {0};
        ck_assert_int_eq(vt_transforms_apply(t, &s, 11, 0, idx, &err), VT_OK);
        int32_t w = s.image.width, h = s.image.height;
        ck_assert(w >= 5 && w <= 8 && h >= 5 && h <= 8);
        ck_assert_int_eq(s.valid_width, w);
        ASSERT_BOX(s.instances[0], 0, 0, w, h);
        ck_assert_float_eq_tol(s.instances[0].area, (float)(w * h), 1e-4);
        /* crop origin from the pixel values (x, y) of the top-left pixel */
        int x0 = s.image.data[0], y0 = s.image.data[1];
        bool covers = x0 < 3 && x0 + w > 2 && y0 < 4 && y0 + h > 3;
        ck_assert_int_eq(s.n_instances, covers ? 2u : 1u);
        if (covers) {
            float bx0 = fmaxf(2 - x0, 0), by0 = fmaxf(3 - y0, 0), bx1 = fminf(3 - x0, w), by1 = fminf(4 - y0, h);
            ASSERT_BOX(s.instances[1], bx0, by0, bx1, by1);
            ck_assert_int_eq(s.instances[1].label, 1);
        }
        vt_sample_free(&s);
    }
    vt_transforms_free(t);
}
END_TEST

/* to_image follows every resize, flip and crop: mapping an unclipped box back through its inverse gives the
 * box as stored (what predictions are reported in). */
START_TEST(test_to_image_map_inverts_the_transforms) {
    vt_transforms *t = parse_ok("transforms: [{resize: {size: 30}}, {random_flip: {p: 0.5}},"
                                " {random_crop: {min: 24, max: 28}}, {pad: {size: [32, 32]}}]");
    int flipped = 0;
    for (uint64_t idx = 0; idx < 40; idx++) {
        vt_sample s;
        make_sample(&s, 40, 40);
        add_box(&s, 15, 16, 25, 24, 0); /* central: never clipped by a 24..28 crop of the 30 px image */
        vt_err err = {0};
        ck_assert_int_eq(vt_transforms_apply(t, &s, 3, 0, idx, &err), VT_OK);
        ck_assert_uint_eq(s.n_instances, 1u);
        const double *m = s.to_image;
        double x0 = (s.instances[0].box[0] - m[1]) / m[0], x1 = (s.instances[0].box[2] - m[1]) / m[0];
        double y0 = (s.instances[0].box[1] - m[3]) / m[2], y1 = (s.instances[0].box[3] - m[3]) / m[2];
        flipped += m[0] < 0;
        ck_assert_msg(fabs(fmin(x0, x1) - 15) < 1e-3 && fabs(fmax(x0, x1) - 25) < 1e-3 && fabs(y0 - 16) < 1e-3 &&
                          fabs(y1 - 24) < 1e-3,
                      "index %llu: back to [%g %g %g %g]", (unsigned long long)idx, fmin(x0, x1), y0, fmax(x0, x1), y1);
        vt_sample_free(&s);
    }
    ck_assert(flipped > 0 && flipped < 40); /* both branches were taken */
    vt_transforms_free(t);
}
END_TEST

START_TEST(test_center_crop_and_pad) {
    vt_transforms *t = parse_ok("transforms: [{center_crop: {size: [4, 6]}}]");
    vt_sample s;
    make_sample(&s, 11, 8);
    add_box(&s, 0, 0, 3, 3, 0);
    add_box(&s, 4, 3, 6, 5, 1);
    vt_err err = {0};
    ck_assert_int_eq(vt_transforms_apply(t, &s, 0, 0, 0, &err), VT_OK);
    ck_assert_int_eq(s.image.width, 6);
    ck_assert_int_eq(s.image.height, 4);
    /* torchvision: left = round((11 - 6) / 2) = 2 (half to even), top = round((8 - 4) / 2) = 2 */
    ck_assert_int_eq(s.image.data[0], 2);
    ck_assert_int_eq(s.image.data[1], 2);
    ck_assert_uint_eq(s.n_instances, 2);
    ASSERT_BOX(s.instances[0], 0, 0, 1, 1);
    ASSERT_BOX(s.instances[1], 2, 1, 4, 3);
    vt_sample_free(&s);
    vt_transforms_free(t);
    /* smaller image: zero padding around it, centred */
    t = parse_ok("transforms: [{center_crop: {size: 6}}]");
    make_sample(&s, 3, 4);
    ck_assert_int_eq(vt_transforms_apply(t, &s, 0, 0, 0, &err), VT_OK);
    ck_assert_int_eq(s.image.width, 6);
    const uint8_t *p = s.image.data + 1 * s.image.stride + 3 * 1; /* source (0, 0) lands at (1, 1) */
    ck_assert_int_eq(p[0] + p[1] + p[2], 0);
    ck_assert_int_eq(s.image.data[0], 0);
    p = s.image.data + 2 * s.image.stride + 3 * 3; /* source (2, 1) */
    ck_assert_int_eq(p[0], 2);
    ck_assert_int_eq(p[1], 1);
    vt_sample_free(&s);
    vt_transforms_free(t);
    /* pad keeps the valid region */
    t = parse_ok("transforms: [{pad: {size: [9, 7]}}]");
    make_sample(&s, 5, 4);
    ck_assert_int_eq(vt_transforms_apply(t, &s, 0, 0, 0, &err), VT_OK);
    ck_assert_int_eq(s.image.width, 7);
    ck_assert_int_eq(s.image.height, 9);
    ck_assert_int_eq(s.valid_width, 5);
    ck_assert_int_eq(s.valid_height, 4);
    vt_sample_free(&s);
    vt_transforms_free(t);
}
END_TEST

START_TEST(test_lsj_output_is_fixed_size) {
    vt_transforms *t = parse_ok("transforms: [{lsj: {size: 32, min_scale: 0.3, max_scale: 2.0}}]");
    ck_assert_int_eq(vt_transforms_min_short(t), 64);
    int smaller = 0, cropped = 0;
    for (uint64_t idx = 0; idx < 40; idx++) {
        vt_sample s;
        make_sample(&s, 40, 24);
        add_box(&s, 10, 6, 30, 18, 0);
        vt_err err = {0};
        ck_assert_int_eq(vt_transforms_apply(t, &s, 5, 1, idx, &err), VT_OK);
        ck_assert_int_eq(s.image.width, 32);
        ck_assert_int_eq(s.image.height, 32);
        ck_assert(s.valid_width <= 32 && s.valid_height <= 32 && s.valid_width > 0);
        smaller += s.valid_width < 32;
        cropped += s.valid_width == 32;
        for (size_t i = 0; i < s.n_instances; i++)
            ck_assert(s.instances[i].box[2] <= s.valid_width && s.instances[i].box[3] <= s.valid_height);
        vt_sample_free(&s);
    }
    ck_assert(smaller > 0 && cropped > 0);
    vt_transforms_free(t);
}
END_TEST

/* ---- randomness ---- */

static uint64_t digest(const vt_sample *s) {
    uint64_t h = 1469598103934665603ull;
    for (int32_t y = 0; y < s->image.height; y++)
        for (int32_t x = 0; x < 3 * s->image.width; x++) h = (h ^ s->image.data[(size_t)y * s->image.stride + x]) * 1099511628211ull;
    h ^= (uint64_t)s->image.width << 32 | (uint64_t)s->image.height;
    return h;
}

START_TEST(test_randomness_depends_only_on_seed_epoch_index) {
    vt_transforms *t = parse_ok(
        "transforms:\n"
        "  - random_flip\n"
        "  - random_select:\n"
        "      p: 0.5\n"
        "      a: [{random_resize: {short: [12, 14, 16], max: 30}}]\n"
        "      b: [{random_resize: {short: [10, 20]}}, {random_crop: {min: 6, max: 12}}]\n");
    uint64_t first[16];
    for (int pass = 0; pass < 2; pass++)
        for (int k = 0; k < 16; k++) {
            uint64_t idx = pass == 0 ? (uint64_t)k : (uint64_t)(15 - k); /* another order: same results */
            vt_sample s;
            make_sample(&s, 24, 18);
            vt_err err = {0};
            ck_assert_int_eq(vt_transforms_apply(t, &s, 42, 3, idx, &err), VT_OK);
            if (pass == 0) first[idx] = digest(&s);
            else ck_assert_msg(first[idx] == digest(&s), "sample %llu differs between runs", (unsigned long long)idx);
            vt_sample_free(&s);
        }
    int distinct = 0;
    for (int k = 1; k < 16; k++) distinct += first[k] != first[0];
    ck_assert_int_gt(distinct, 8);
    /* another epoch changes the draws */
    int changed = 0;
    for (int k = 0; k < 16; k++) {
        vt_sample s;
        make_sample(&s, 24, 18);
        vt_err err = {0};
        ck_assert_int_eq(vt_transforms_apply(t, &s, 42, 4, (uint64_t)k, &err), VT_OK);
        changed += digest(&s) != first[k];
        vt_sample_free(&s);
    }
    ck_assert_int_gt(changed, 4);
    vt_transforms_free(t);
}
END_TEST

/* ---- declaration errors ---- */

static void expect_parse_error(const char *yaml, const char *needle) {
    vt_err err = {0};
    vt_status st;
    vt_transforms *t = parse(yaml, &err, &st);
    ck_assert_msg(st != VT_OK && !t, "accepted: %s", yaml);
    ck_assert_msg(strstr(err.msg, needle) != NULL, "'%s' lacks '%s'", err.msg, needle);
    ck_assert_msg(strncmp(err.msg, "t.yaml:", 7) == 0, "no location: %s", err.msg);
}

START_TEST(test_parse_errors_name_the_location) {
    expect_parse_error("transforms:\n  - resise: {short: 3}\n", "t.yaml:2:5: transforms[0]: unknown transform 'resise' (did you mean 'resize'?)");
    expect_parse_error("transforms:\n  - resize: {short: 3, maxx: 4}\n", "t.yaml:2:24: transforms[0].resize: unknown key 'maxx' (did you mean 'max'?)");
    expect_parse_error("transforms:\n  - resize: {short: abc}\n", "expected int");
    expect_parse_error("transforms:\n  - resize: {short: 0}\n", "out of range");
    expect_parse_error("transforms:\n  - resize: {max: 4}\n", "needs `short` or `size`");
    expect_parse_error("transforms:\n  - resize: {short: 3, size: 4}\n", "not both");
    expect_parse_error("transforms:\n  - random_flip: {p: 1.5}\n", "out of range");
    expect_parse_error("transforms:\n  - random_crop: {min: 9, max: 4}\n", "max is below min");
    expect_parse_error("transforms:\n  - normalize: {mean: [1, 2], std: [1, 1, 1]}\n", "list of 3 numbers");
    expect_parse_error("transforms:\n  - normalize: {mean: [1, 2, 3], std: [1, 0, 1]}\n", "std must be > 0");
    expect_parse_error("transforms: {resize: {short: 3}}\n", "expected a list of transforms");
    expect_parse_error("transforms:\n  - {resize: {short: 3}, random_flip: {}}\n", "one-key map");
    expect_parse_error("transforms:\n  - center_crop: {size: [1, 2, 3]}\n", "[height, width]");
    expect_parse_error("transforms:\n  - random_resize: {short: []}\n", "1 to 32 sizes");
    expect_parse_error("transforms:\n  - random_select: {a: [], b: [{bogus: 1}]}\n", "unknown transform 'bogus'");
    expect_parse_error("transforms:\n  - lsj: {size: 8, min_scale: 2, max_scale: 1}\n", "max_scale is below");
    expect_parse_error("transforms:\n  - resize: {short: 4, interp: nearest}\n", "bilinear or bicubic");
    /* an absent or empty list is the identity */
    vt_err err = {0};
    vt_status st;
    vt_transforms *t = parse("other: 1\n", &err, &st);
    ck_assert_int_eq(st, VT_OK);
    float mean[3], stdv[3];
    vt_transforms_normalization(t, mean, stdv);
    ck_assert(mean[0] == 0 && stdv[2] == 1);
    vt_transforms_free(t);
    t = parse_ok("transforms:\n  - normalize: {mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225]}\n");
    vt_transforms_normalization(t, mean, stdv);
    ck_assert_float_eq_tol(mean[1], 0.456f, 1e-6);
    ck_assert_float_eq_tol(stdv[2], 0.225f, 1e-6);
    vt_transforms_free(t);
}
END_TEST

/* The windowed resample the transform runner uses for resize -> flip -> crop must equal resizing in full,
 * flipping and cropping, pixel for pixel, for any window, either interpolation, up or down. */
START_TEST(test_resample_window_equals_full_resize_flip_crop) {
    vt_err err = {0};
    vt_image src = {0};
    ck_assert_int_eq(vt_image_alloc(&src, 97, 61, &err), VT_OK);
    for (int32_t y = 0; y < 61; y++)
        for (int32_t x = 0; x < 97 * 3; x++) src.data[(size_t)y * src.stride + x] = (uint8_t)((x * 37 + y * 91) ^ (x * y));
    uint64_t r = 12345;
    for (int trial = 0; trial < 60; trial++) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        int32_t ow = 8 + (int32_t)((r >> 33) % 150), oh = 8 + (int32_t)((r >> 45) % 120);
        if (trial % 7 == 0) ow = 97; /* no horizontal pass */
        if (trial % 11 == 0) oh = 61; /* no vertical pass */
        int32_t ww = 1 + (int32_t)((r >> 20) % (uint64_t)ow), wh = 1 + (int32_t)((r >> 27) % (uint64_t)oh);
        int32_t wx = (int32_t)((r >> 13) % (uint64_t)(ow - ww + 1)), wy = (int32_t)((r >> 7) % (uint64_t)(oh - wh + 1));
        bool flip = (r >> 62) & 1;
        vt_image_filter interp = (r >> 61) & 1 ? VT_FILTER_BICUBIC : VT_FILTER_BILINEAR;
        vt_image full = {0}, win = {0};
        ck_assert_int_eq(vt_image_resample(&src, 97, 61, &full, ow, oh, interp, &err), VT_OK);
        ck_assert_int_eq(vt_image_resample_window(&src, 97, 61, &win, ow, oh, wx, wy, ww, wh, flip, interp, &err), VT_OK);
        for (int32_t y = 0; y < wh; y++)
            for (int32_t x = 0; x < ww; x++) {
                int32_t fx = flip ? wx + ww - 1 - x : wx + x; /* flip mirrors the window's content */
                for (int c = 0; c < 3; c++)
                    ck_assert_msg(win.data[(size_t)y * win.stride + 3 * x + c] ==
                                      full.data[(size_t)(wy + y) * full.stride + 3 * fx + c],
                                  "trial %d: %dx%d window %dx%d@%d,%d flip %d differs at (%d, %d)", trial, ow, oh, ww,
                                  wh, wx, wy, flip, x, y);
            }
        vt_image_free(&full);
        vt_image_free(&win);
    }
    ck_assert_int_ne(vt_image_resample_window(&src, 97, 61, &(vt_image){0}, 50, 40, 45, 0, 10, 10, false,
                                              VT_FILTER_BILINEAR, &err), VT_OK);
    vt_image_free(&src);
}
END_TEST

VT_TEST_MAIN("data_transform", test_resample_window_equals_full_resize_flip_crop, test_resize_matches_pil, test_resize_short_and_max_sizes,
             test_downscaled_decode_gives_the_same_output_size, test_flip_moves_pixels_boxes_and_masks,
             test_random_crop_clips_and_drops_boxes, test_to_image_map_inverts_the_transforms, test_center_crop_and_pad, test_lsj_output_is_fixed_size,
             test_randomness_depends_only_on_seed_epoch_index, test_parse_errors_name_the_location)
