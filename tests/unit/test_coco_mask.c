/* COCO mask math against pycocotools (tests/golden/coco.safetensors from tests/ref/gen_coco.py): polygon
 * rasterisation, encode/decode, compressed strings, merge, area, bbox and IoU must match bit for bit.
 * Plus every malformed-input class with its message. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "visft/coco_mask.h"
#include "visft/safetensors.h"
#include "vt_test.h"

static vt_st_file *golden(void) {
    vt_st_file *f = NULL;
    vt_err err = {0};
    ck_assert_msg(vt_st_open(VISFT_GOLDEN_DIR "/coco.safetensors", &f, &err) == VT_OK, "%s", err.msg);
    return f;
}

/* Any integer tensor (I64, I32, U8) as a malloc'd int64 array. */
static int64_t *get(vt_st_file *f, const char *name, size_t *n) {
    vt_err err = {0};
    const vt_st_tensor *t = NULL;
    ck_assert_msg(vt_st_get(f, name, &t, &err) == VT_OK, "%s", err.msg);
    int64_t *a = malloc((t->numel ? t->numel : 1) * sizeof *a);
    ck_assert_msg(vt_st_read_i64(f, t, a, t->numel, &err) == VT_OK, "%s", err.msg);
    if (n) *n = t->numel;
    return a;
}

static double as_double(int64_t bits) {
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

static void assert_counts(const vt_rle *r, const int64_t *want, size_t n, const char *what, size_t i) {
    ck_assert_msg(r->m == n, "%s %zu: %zu counts, pycocotools %zu", what, i, r->m, n);
    for (size_t j = 0; j < n; j++)
        ck_assert_msg(r->counts[j] == (uint32_t)want[j], "%s %zu: count %zu is %u, pycocotools %lld", what, i, j,
                      r->counts[j], (long long)want[j]);
}

static void assert_string(const vt_rle *r, const int64_t *want, size_t n, const char *what, size_t i) {
    size_t len = 0;
    char *s = vt_rle_to_string(r, &len);
    ck_assert_ptr_nonnull(s);
    ck_assert_msg(len == n, "%s %zu: string length %zu, pycocotools %zu", what, i, len, n);
    for (size_t j = 0; j < n; j++)
        ck_assert_msg((unsigned char)s[j] == want[j], "%s %zu: string differs at %zu", what, i, j);
    free(s);
}

static void assert_bits(double got, int64_t want, const char *what, size_t i) {
    ck_assert_msg(memcmp(&got, &want, sizeof got) == 0, "%s %zu: %.17g, pycocotools %.17g", what, i, got,
                  as_double(want));
}

START_TEST(test_polygons_match_pycocotools) {
    vt_st_file *f = golden();
    size_t n;
    int64_t *h = get(f, "poly.h", &n), *w = get(f, "poly.w", NULL), *xo = get(f, "poly.xy_off", NULL);
    int64_t *xy = get(f, "poly.xy", NULL), *co = get(f, "poly.counts_off", NULL), *c = get(f, "poly.counts", NULL);
    int64_t *so = get(f, "poly.str_off", NULL), *s = get(f, "poly.str", NULL), *area = get(f, "poly.area", NULL);
    int64_t *bb = get(f, "poly.bbox", NULL);
    ck_assert_uint_ge(n, 1000);
    for (size_t i = 0; i < n; i++) {
        size_t k = (size_t)(xo[i + 1] - xo[i]);
        double *p = malloc((k ? k : 1) * sizeof *p);
        for (size_t j = 0; j < k; j++) p[j] = as_double(xy[xo[i] + j]);
        vt_rle r;
        vt_err err = {0};
        ck_assert_msg(vt_rle_from_poly(p, k, h[i], w[i], &r, &err) == VT_OK, "poly %zu: %s", i, err.msg);
        assert_counts(&r, c + co[i], (size_t)(co[i + 1] - co[i]), "poly", i);
        assert_string(&r, s + so[i], (size_t)(so[i + 1] - so[i]), "poly", i);
        ck_assert_msg(vt_rle_area(&r) == (uint32_t)area[i], "poly %zu area", i);
        double box[4];
        vt_rle_to_bbox(&r, box);
        for (int q = 0; q < 4; q++) assert_bits(box[q], bb[4 * i + q], "poly bbox", i);
        vt_rle_free(&r);
        free(p);
    }
    free(h), free(w), free(xo), free(xy), free(co), free(c), free(so), free(s), free(area), free(bb);
    vt_st_close(f);
}
END_TEST

START_TEST(test_masks_match_pycocotools) {
    vt_st_file *f = golden();
    size_t n;
    int64_t *h = get(f, "mask.h", &n), *w = get(f, "mask.w", NULL), *po = get(f, "mask.px_off", NULL);
    int64_t *px = get(f, "mask.px", NULL), *co = get(f, "mask.counts_off", NULL), *c = get(f, "mask.counts", NULL);
    int64_t *so = get(f, "mask.str_off", NULL), *s = get(f, "mask.str", NULL), *area = get(f, "mask.area", NULL);
    int64_t *bb = get(f, "mask.bbox", NULL);
    for (size_t i = 0; i < n; i++) {
        size_t np = (size_t)(h[i] * w[i]);
        uint8_t *m = malloc(np), *back = malloc(np);
        for (size_t j = 0; j < np; j++) m[j] = (uint8_t)px[po[i] + j];
        vt_rle r, r2;
        vt_err err = {0};
        ck_assert_msg(vt_rle_encode(m, h[i], w[i], &r, &err) == VT_OK, "%s", err.msg);
        assert_counts(&r, c + co[i], (size_t)(co[i + 1] - co[i]), "mask", i);
        assert_string(&r, s + so[i], (size_t)(so[i + 1] - so[i]), "mask", i);
        ck_assert_msg(vt_rle_area(&r) == (uint32_t)area[i], "mask %zu area", i);
        double box[4];
        vt_rle_to_bbox(&r, box);
        for (int q = 0; q < 4; q++) assert_bits(box[q], bb[4 * i + q], "mask bbox", i);
        vt_rle_to_mask(&r, back);
        ck_assert_msg(memcmp(m, back, np) == 0, "mask %zu: decode differs from the original", i);
        /* pycocotools' string decodes back to the same counts */
        size_t sl = (size_t)(so[i + 1] - so[i]);
        char *str = malloc(sl + 1);
        for (size_t j = 0; j < sl; j++) str[j] = (char)s[so[i] + j];
        ck_assert_msg(vt_rle_from_string(str, sl, h[i], w[i], &r2, &err) == VT_OK, "mask %zu: %s", i, err.msg);
        assert_counts(&r2, c + co[i], (size_t)(co[i + 1] - co[i]), "mask from string", i);
        vt_rle_free(&r), vt_rle_free(&r2);
        free(m), free(back), free(str);
    }
    free(h), free(w), free(po), free(px), free(co), free(c), free(so), free(s), free(area), free(bb);
    vt_st_close(f);
}
END_TEST

START_TEST(test_uncompressed_counts_match_pycocotools) {
    vt_st_file *f = golden();
    size_t n;
    int64_t *h = get(f, "ucrle.h", &n), *w = get(f, "ucrle.w", NULL), *co = get(f, "ucrle.counts_off", NULL);
    int64_t *c = get(f, "ucrle.counts", NULL), *so = get(f, "ucrle.str_off", NULL), *s = get(f, "ucrle.str", NULL);
    for (size_t i = 0; i < n; i++) {
        vt_rle r, r2;
        vt_err err = {0};
        size_t m = (size_t)(co[i + 1] - co[i]);
        ck_assert_msg(vt_rle_from_counts(c + co[i], m, h[i], w[i], &r, &err) == VT_OK, "%s", err.msg);
        assert_string(&r, s + so[i], (size_t)(so[i + 1] - so[i]), "ucrle", i);
        char *str = vt_rle_to_string(&r, NULL);
        ck_assert_msg(vt_rle_from_string(str, strlen(str), h[i], w[i], &r2, &err) == VT_OK, "%s", err.msg);
        assert_counts(&r2, c + co[i], m, "ucrle round trip", i);
        free(str);
        vt_rle_free(&r), vt_rle_free(&r2);
    }
    free(h), free(w), free(co), free(c), free(so), free(s);
    vt_st_close(f);
}
END_TEST

START_TEST(test_boxes_match_pycocotools) {
    vt_st_file *f = golden();
    size_t n;
    int64_t *h = get(f, "bbox.h", &n), *w = get(f, "bbox.w", NULL), *b = get(f, "bbox.box", NULL);
    int64_t *co = get(f, "bbox.counts_off", NULL), *c = get(f, "bbox.counts", NULL);
    for (size_t i = 0; i < n; i++) {
        double box[4];
        for (int q = 0; q < 4; q++) box[q] = as_double(b[4 * i + q]);
        vt_rle r;
        vt_err err = {0};
        ck_assert_msg(vt_rle_from_bbox(box, h[i], w[i], &r, &err) == VT_OK, "%s", err.msg);
        assert_counts(&r, c + co[i], (size_t)(co[i + 1] - co[i]), "bbox", i);
        vt_rle_free(&r);
    }
    free(h), free(w), free(b), free(co), free(c);
    vt_st_close(f);
}
END_TEST

/* RLEs [first, last) of a ragged group as vt_rle structs of size h x w. */
static vt_rle *load_rles(const int64_t *off, const int64_t *c, size_t first, size_t last, int64_t h, int64_t w) {
    vt_rle *r = calloc(last - first, sizeof *r);
    for (size_t k = first; k < last; k++) {
        vt_err err = {0};
        ck_assert_msg(vt_rle_from_counts(c + off[k], (size_t)(off[k + 1] - off[k]), h, w, &r[k - first], &err) ==
                          VT_OK,
                      "%s", err.msg);
    }
    return r;
}

static void free_rles(vt_rle *r, size_t n) {
    for (size_t k = 0; k < n; k++) vt_rle_free(&r[k]);
    free(r);
}

START_TEST(test_merge_matches_pycocotools) {
    vt_st_file *f = golden();
    size_t n;
    int64_t *go = get(f, "merge.group_off", &n), *hw = get(f, "merge.hw", NULL), *io = get(f, "merge.in_off", NULL);
    int64_t *in = get(f, "merge.in", NULL), *uo = get(f, "merge.union_off", NULL), *u = get(f, "merge.union", NULL);
    int64_t *no = get(f, "merge.inter_off", NULL), *it = get(f, "merge.inter", NULL);
    for (size_t g = 0; g + 1 < n; g++) {
        size_t cnt = (size_t)(go[g + 1] - go[g]);
        vt_rle *r = load_rles(io, in, (size_t)go[g], (size_t)go[g + 1], hw[2 * g], hw[2 * g + 1]);
        vt_rle out;
        vt_err err = {0};
        ck_assert_msg(vt_rle_merge(r, cnt, false, &out, &err) == VT_OK, "%s", err.msg);
        assert_counts(&out, u + uo[g], (size_t)(uo[g + 1] - uo[g]), "union", g);
        vt_rle_free(&out);
        ck_assert_msg(vt_rle_merge(r, cnt, true, &out, &err) == VT_OK, "%s", err.msg);
        assert_counts(&out, it + no[g], (size_t)(no[g + 1] - no[g]), "intersection", g);
        vt_rle_free(&out);
        free_rles(r, cnt);
    }
    free(go), free(hw), free(io), free(in), free(uo), free(u), free(no), free(it);
    vt_st_close(f);
}
END_TEST

START_TEST(test_iou_matches_pycocotools) {
    vt_st_file *f = golden();
    size_t n;
    int64_t *hw = get(f, "iou.hw", NULL), *nd = get(f, "iou.nd", &n), *ng = get(f, "iou.ng", NULL);
    int64_t *dto = get(f, "iou.dt_off", NULL), *dt = get(f, "iou.dt", NULL), *gto = get(f, "iou.gt_off", NULL);
    int64_t *gt = get(f, "iou.gt", NULL), *crowd = get(f, "iou.crowd", NULL), *want = get(f, "iou.out", NULL);
    int64_t *bdt = get(f, "iou.bdt", NULL), *bgt = get(f, "iou.bgt", NULL), *bwant = get(f, "iou.bout", NULL);
    size_t d0 = 0, g0 = 0, o0 = 0;
    for (size_t i = 0; i < n; i++) {
        size_t m = (size_t)nd[i], k = (size_t)ng[i];
        vt_rle *d = load_rles(dto, dt, d0, d0 + m, hw[2 * i], hw[2 * i + 1]);
        vt_rle *g = load_rles(gto, gt, g0, g0 + k, hw[2 * i], hw[2 * i + 1]);
        uint8_t cr[8];
        double o[64], db[32], gb[32];
        for (size_t q = 0; q < k; q++) cr[q] = (uint8_t)crowd[g0 + q];
        vt_rle_iou(d, m, g, k, cr, o);
        for (size_t q = 0; q < m * k; q++) assert_bits(o[q], want[o0 + q], "mask iou", i);
        for (size_t q = 0; q < 4 * m; q++) db[q] = as_double(bdt[4 * d0 + q]);
        for (size_t q = 0; q < 4 * k; q++) gb[q] = as_double(bgt[4 * g0 + q]);
        vt_bbox_iou(db, m, gb, k, cr, o);
        for (size_t q = 0; q < m * k; q++) assert_bits(o[q], bwant[o0 + q], "box iou", i);
        free_rles(d, m), free_rles(g, k);
        d0 += m, g0 += k, o0 += m * k;
    }
    free(hw), free(nd), free(ng), free(dto), free(dt), free(gto), free(gt), free(crowd), free(want);
    free(bdt), free(bgt), free(bwant);
    vt_st_close(f);
}
END_TEST

static void expect_fail(vt_status st, const vt_err *err, const char *want, vt_rle *r) {
    ck_assert_msg(st != VT_OK, "expected failure '%s'", want);
    ck_assert_msg(strstr(err->msg, want), "error '%s' lacks '%s'", err->msg, want);
    ck_assert_ptr_null(r->counts);
}

START_TEST(test_malformed_inputs_are_errors) {
    vt_rle r;
    vt_err err = {0};
    int64_t bad_sum[] = {3, 4, 2};
    expect_fail(vt_rle_from_counts(bad_sum, 3, 3, 4, &r, &err), &err, "counts sum to 9, expected h*w = 3*4 = 12", &r);
    int64_t neg[] = {5, -1, 8};
    expect_fail(vt_rle_from_counts(neg, 3, 3, 4, &r, &err), &err, "count 1 is -1", &r);
    int64_t ok[] = {12};
    expect_fail(vt_rle_from_counts(ok, 1, -3, -4, &r, &err), &err, "negative mask size -3x-4", &r);
    expect_fail(vt_rle_from_counts(ok, 1, 70000, 70000, &r, &err), &err, "2^32 pixels", &r);

    double odd[] = {1, 2, 3, 4, 5};
    expect_fail(vt_rle_from_poly(odd, 5, 10, 10, &r, &err), &err, "odd number of coordinates (5)", &r);
    double nan_xy[] = {1, 2, NAN, 4, 5, 6};
    expect_fail(vt_rle_from_poly(nan_xy, 6, 10, 10, &r, &err), &err, "coordinate 2", &r);
    double huge[] = {1, 2, 3e9, 4, 5, 6};
    expect_fail(vt_rle_from_poly(huge, 6, 10, 10, &r, &err), &err, "coordinate 2", &r);
    expect_fail(vt_rle_from_poly(odd, 4, 10, -1, &r, &err), &err, "negative mask size", &r);

    /* strings: "52" is counts [5, 2] */
    expect_fail(vt_rle_from_string("52", 2, 2, 4, &r, &err), &err, "counts sum to 7, expected h*w = 2*4 = 8", &r);
    expect_fail(vt_rle_from_string("5 2", 3, 1, 7, &r, &err), &err, "invalid character 0x20 at byte 1", &r);
    expect_fail(vt_rle_from_string("5\x80", 2, 1, 7, &r, &err), &err, "invalid character 0x80 at byte 1", &r);
    expect_fail(vt_rle_from_string("5P", 2, 1, 7, &r, &err), &err, "cut off at the end", &r); /* 'P': more bit */
    expect_fail(vt_rle_from_string("PPPPPPP0", 8, 1, 7, &r, &err), &err, "longer than 7", &r);
    expect_fail(vt_rle_from_string("5O", 2, 1, 7, &r, &err), &err, "count 1 (byte 1) is -1", &r); /* O: -1 */
    expect_fail(vt_rle_from_string("52", 2, -2, 4, &r, &err), &err, "negative mask size", &r);

    vt_rle a, b, pair[2];
    ck_assert(vt_rle_from_counts(ok, 1, 3, 4, &a, &err) == VT_OK);
    ck_assert(vt_rle_from_counts(ok, 1, 4, 3, &b, &err) == VT_OK);
    pair[0] = a, pair[1] = b;
    expect_fail(vt_rle_merge(pair, 2, false, &r, &err), &err, "mask 1 is 4x3, mask 0 is 3x4", &r);
    pair[1].h = 3, pair[1].w = 4, pair[1].counts[0] = 11; /* hand-broken: no longer covers the mask */
    expect_fail(vt_rle_merge(pair, 2, false, &r, &err), &err, "mask 1: counts do not sum", &r);
    vt_rle_free(&a), vt_rle_free(&b);
}
END_TEST

START_TEST(test_edge_cases) {
    vt_rle r;
    vt_err err = {0};
    /* no coordinates: an empty mask */
    ck_assert(vt_rle_from_poly(NULL, 0, 3, 4, &r, &err) == VT_OK);
    ck_assert_uint_eq(r.m, 1);
    ck_assert_uint_eq(r.counts[0], 12);
    vt_rle_free(&r);
    /* empty image: one zero count, and it survives the string form */
    uint8_t px = 0;
    ck_assert(vt_rle_encode(&px, 0, 5, &r, &err) == VT_OK);
    ck_assert_uint_eq(r.m, 1);
    ck_assert_uint_eq(r.counts[0], 0);
    char *s = vt_rle_to_string(&r, NULL);
    ck_assert_str_eq(s, "0");
    vt_rle r2;
    ck_assert(vt_rle_from_string(s, 1, 0, 5, &r2, &err) == VT_OK);
    free(s);
    double bb[4];
    vt_rle_to_bbox(&r2, bb);
    ck_assert(bb[0] == 0 && bb[2] == 0);
    vt_rle_free(&r), vt_rle_free(&r2);
    /* merge of nothing and of one */
    ck_assert(vt_rle_merge(NULL, 0, false, &r, &err) == VT_OK);
    ck_assert_uint_eq(r.m, 0);
    /* a full square: runs wrap across columns, the box spans full height */
    uint8_t sq[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    ck_assert(vt_rle_encode(sq, 3, 3, &r, &err) == VT_OK);
    ck_assert_uint_eq(r.m, 2);
    ck_assert_uint_eq(vt_rle_area(&r), 9);
    vt_rle_to_bbox(&r, bb);
    ck_assert(bb[0] == 0 && bb[1] == 0 && bb[2] == 3 && bb[3] == 3);
    /* a mask of one size against another: -1 when the boxes overlap */
    uint8_t big[16];
    memset(big, 1, sizeof big);
    ck_assert(vt_rle_encode(big, 4, 4, &r2, &err) == VT_OK);
    double o;
    vt_rle_iou(&r, 1, &r2, 1, NULL, &o);
    ck_assert(o == -1);
    vt_rle_free(&r), vt_rle_free(&r2);
}
END_TEST

VT_TEST_MAIN("coco_mask", test_polygons_match_pycocotools,
             test_masks_match_pycocotools, test_uncompressed_counts_match_pycocotools, test_boxes_match_pycocotools,
             test_merge_matches_pycocotools, test_iou_matches_pycocotools, test_malformed_inputs_are_errors,
             test_edge_cases)
