/* COCO annotation loader: the fixture in tests/data/coco loads with ids remapped, annotations grouped by
 * image and masks equal to pycocotools' annToRLE; invalid entries are counted (skip) or errors (fail) with
 * line, column and byte; malformed JSON reports the parser's position. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/coco_json.h"
#include "visft/json.h"
#include "vt_test.h"

#define FIXTURE VISFT_TEST_DATA_DIR "/coco/instances_small.json"

static vt_coco *load_ok(const char *path, vt_coco_policy pol) {
    vt_coco *c = NULL;
    vt_err err = {0};
    vt_coco_opts o = {.on_bad = pol};
    ck_assert_msg(vt_coco_load(path, &o, &c, &err) == VT_OK, "%s", err.msg);
    return c;
}

static char *write_tmp(const char *text) {
    char tmpl[] = "/tmp/visft_coco_XXXXXX";
    int fd = mkstemp(tmpl);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return strdup(tmpl);
}

static const char *ann_string(const vt_coco *c, const vt_coco_ann *a, char *buf, size_t n) {
    vt_rle r;
    vt_err err = {0};
    ck_assert_msg(vt_coco_ann_rle(c, a, &r, &err) == VT_OK, "%s", err.msg);
    char *s = vt_rle_to_string(&r, NULL);
    snprintf(buf, n, "%s", s);
    free(s);
    vt_rle_free(&r);
    return buf;
}

START_TEST(test_fixture_loads_like_pycocotools) {
    vt_coco *c = load_ok(FIXTURE, VT_COCO_FAIL);
    ck_assert_uint_eq(c->n_images, 3);
    ck_assert_uint_eq(c->n_anns, 4);
    ck_assert_uint_eq(c->n_cats, 3);
    /* categories sorted by id; label = index */
    ck_assert(c->cats[0].id == 1 && c->cats[1].id == 3 && c->cats[2].id == 18);
    ck_assert_str_eq(vt_coco_str(c, c->cats[2].name), "dog");
    ck_assert_str_eq(vt_coco_str(c, c->cats[2].supercategory), "animal");
    ck_assert_str_eq(vt_coco_str(c, c->cats[0].supercategory), "");
    /* images in file order, annotations grouped by image in file order (pycocotools' imgToAnns) */
    ck_assert_int_eq(vt_coco_find_image(c, 7), 1);
    ck_assert_int_eq(vt_coco_find_image(c, 8), -1);
    const vt_coco_image *im = &c->images[0];
    ck_assert(im->id == 42 && im->width == 8 && im->height == 6 && im->n_anns == 3);
    ck_assert_str_eq(vt_coco_str(c, im->file_name), "a.png");
    ck_assert_uint_eq(c->images[2].n_anns, 0);
    const vt_coco_ann *a = &c->anns[im->first_ann];
    ck_assert(a[0].id == 1 && a[1].id == 3 && a[2].id == 4);
    ck_assert_int_eq(a[0].label, 2);
    ck_assert(a[0].bbox[0] == 1.5 && a[0].bbox[3] == 3.25 && a[0].area == 9.5);
    ck_assert(a[0].seg_kind == VT_COCO_SEG_POLYGONS && a[0].n_polys == 2 && a[0].seg_fixed);
    ck_assert(a[2].seg_kind == VT_COCO_SEG_POLYGONS && !a[2].seg_fixed); /* 2.333333: kept as a double */
    double xy[16];
    vt_coco_ann_coords(c, &a[0], xy);
    ck_assert(xy[0] == 1.5 && xy[5] == 4.25);
    vt_coco_ann_coords(c, &a[2], xy);
    ck_assert(xy[0] == 2.333333);
    /* masks: the strings pycocotools' COCO.annToRLE gives for this file */
    char s[64];
    ck_assert_str_eq(ann_string(c, &a[0], s, sizeof s), "015012M00000;");
    ck_assert_str_eq(ann_string(c, &a[1], s, sizeof s), "02i0O\\O0003");
    ck_assert_str_eq(ann_string(c, &a[2], s, sizeof s), "`1");
    const vt_coco_ann *crowd = &c->anns[c->images[1].first_ann];
    ck_assert(crowd->iscrowd == 1 && crowd->seg_kind == VT_COCO_SEG_RLE && crowd->rle_h == 4);
    ck_assert_str_eq(ann_string(c, crowd, s, sizeof s), "0220<");
    char sum[64];
    ck_assert_uint_eq(vt_coco_summary(c, sum, sizeof sum), 0);
    vt_coco_free(c);
}
END_TEST

START_TEST(test_captions) {
    vt_coco *c = load_ok(VISFT_TEST_DATA_DIR "/coco/captions_small.json", VT_COCO_FAIL);
    ck_assert_uint_eq(c->n_caps, 3);
    ck_assert_uint_eq(c->n_anns, 0);
    const vt_coco_image *im = &c->images[0];
    ck_assert_uint_eq(im->n_caps, 2);
    ck_assert_str_eq(vt_coco_str(c, c->caps[im->first_cap].text), "a dog on grass");
    ck_assert_str_eq(vt_coco_str(c, c->caps[im->first_cap + 1].text), "brown dog \xc3\xa9t\xc3\xa9");
    ck_assert_str_eq(vt_coco_str(c, c->caps[c->images[1].first_cap].text), "a person");
    vt_coco_free(c);
}
END_TEST

/* One file with one bad annotation of every kind (and one good one). */
static const char *k_bad =
    "{\"images\": [{\"id\": 1, \"file_name\": \"a.png\", \"width\": 4, \"height\": 4},\n"
    "            {\"id\": 1, \"file_name\": \"dup.png\", \"width\": 4, \"height\": 4}],\n"
    " \"annotations\": [\n"
    "  {\"id\": 10, \"image_id\": 999, \"category_id\": 1, \"bbox\": [0, 0, 1, 1]},\n"
    "  {\"id\": 11, \"image_id\": 1, \"category_id\": 1, \"bbox\": [0, 0, -3, 1]},\n"
    "  {\"id\": 12, \"image_id\": 1, \"category_id\": 77, \"bbox\": [0, 0, 1, 1]},\n"
    "  {\"id\": 13, \"image_id\": 1, \"category_id\": 1, \"bbox\": [0, 0, 1, 1], \"segmentation\": [[1, 2, 3]]},\n"
    "  {\"id\": 14, \"image_id\": 1, \"category_id\": 1, \"bbox\": [0, 0, 1, 1],\n"
    "   \"segmentation\": {\"counts\": [3, 4], \"size\": [4, 4]}},\n"
    "  {\"id\": 15, \"image_id\": 1, \"category_id\": 1, \"bbox\": [0, 0, 1, 1],\n"
    "   \"segmentation\": {\"counts\": [16], \"size\": [-4, -4]}},\n"
    "  {\"id\": 16, \"image_id\": 1, \"category_id\": 1, \"bbox\": [0, 0, 1, 1]}],\n"
    " \"categories\": [{\"id\": 1, \"name\": \"x\"}]}\n";

START_TEST(test_bad_entries_are_counted_when_skipping) {
    char *path = write_tmp(k_bad);
    vt_coco *c = load_ok(path, VT_COCO_SKIP);
    ck_assert_uint_eq(c->n_images, 1);
    ck_assert_uint_eq(c->n_anns, 1);
    ck_assert(c->anns[0].id == 16);
    ck_assert_uint_eq(c->n_bad[VT_COCO_BAD_IMAGE], 1);
    ck_assert_uint_eq(c->n_bad[VT_COCO_BAD_NO_IMAGE], 1);
    ck_assert_uint_eq(c->n_bad[VT_COCO_BAD_BOX], 1);
    ck_assert_uint_eq(c->n_bad[VT_COCO_BAD_CATEGORY], 1);
    ck_assert_uint_eq(c->n_bad[VT_COCO_BAD_SEGMENTATION], 3);
    char sum[2048];
    vt_coco_summary(c, sum, sizeof sum);
    ck_assert_msg(strstr(sum, "skipped 3 annotations: bad segmentation"), "%s", sum);
    ck_assert_msg(strstr(sum, ":5:3: annotation id 11: negative box width -3"), "%s", sum);
    ck_assert_msg(strstr(sum, "annotation id 10: image_id 999 is not in images"), "%s", sum);
    ck_assert_msg(strstr(sum, "annotation id 13: polygon 0 has an odd number of coordinates (3)"), "%s", sum);
    ck_assert_msg(strstr(sum, "duplicate image id 1"), "%s", sum);
    vt_coco_free(c);
    unlink(path);
    free(path);
}
END_TEST

/* Under fail, each kind alone is an error naming line:col and byte. */
START_TEST(test_bad_entries_fail_with_position) {
    struct {
        const char *ann, *want;
    } cases[] = {
        {"{\"id\": 10, \"image_id\": 999, \"category_id\": 1, \"bbox\": [0, 0, 1, 1]}", "image_id 999 is not in images"},
        {"{\"id\": 11, \"image_id\": 1, \"category_id\": 1, \"bbox\": [0, 0, -3, 1]}", "negative box width -3"},
        {"{\"id\": 12, \"image_id\": 1, \"category_id\": 77, \"bbox\": [0, 0, 1, 1]}", "unknown category_id 77"},
        {"{\"id\": 13, \"image_id\": 1, \"category_id\": 1, \"bbox\": [0, 0, 1, 1], \"segmentation\": [[1, 2, 3]]}",
         "odd number of coordinates (3)"},
        {"{\"id\": 14, \"image_id\": 1, \"category_id\": 1, \"bbox\": [0, 0, 1, 1], \"segmentation\": "
         "{\"counts\": [3, 4], \"size\": [4, 4]}}",
         "RLE counts sum to 7, expected h*w = 4*4 = 16"},
        {"{\"id\": 15, \"image_id\": 1, \"category_id\": 1, \"bbox\": [0, 0, 1, 1], \"segmentation\": "
         "{\"counts\": \"5\", \"size\": [4, 4]}}",
         "counts sum to 5"},
        {"{\"id\": 16, \"image_id\": 1, \"category_id\": 1, \"bbox\": [0, 0, 1, 1], \"segmentation\": "
         "{\"counts\": [16], \"size\": [-4, 4]}}",
         "negative mask size"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char text[1024];
        const char *head = "{\"images\": [{\"id\": 1, \"file_name\": \"a.png\", \"width\": 4, \"height\": 4}],\n"
                           "\"annotations\": [\n  ";
        snprintf(text, sizeof text, "%s%s], \"categories\": [{\"id\": 1, \"name\": \"x\"}]}", head, cases[k].ann);
        char *path = write_tmp(text);
        vt_coco *c = NULL;
        vt_err err = {0};
        vt_coco_opts o = {.on_bad = VT_COCO_FAIL};
        ck_assert_int_eq(vt_coco_load(path, &o, &c, &err), VT_EFORMAT);
        ck_assert_ptr_null(c);
        char want_pos[256];
        snprintf(want_pos, sizeof want_pos, "%s:3:3: ", path);
        ck_assert_msg(strstr(err.msg, want_pos) == err.msg, "case %zu: '%s'", k, err.msg);
        ck_assert_msg(strstr(err.msg, cases[k].want), "case %zu: '%s' lacks '%s'", k, err.msg, cases[k].want);
        char byte[32];
        snprintf(byte, sizeof byte, "(byte %zu)", strlen(head));
        ck_assert_msg(strstr(err.msg, byte), "case %zu: '%s' lacks '%s'", k, err.msg, byte);
        unlink(path);
        free(path);
    }
}
END_TEST

START_TEST(test_malformed_json_reports_parser_position) {
    const char *texts[] = {
        "{\"images\": [{\"id\": 1, \"width\": 4, \"height\": 4, \"file_name\": \"a\"}\n, {\"id\": 2,, }]}",
        "{\"images\": [], \"annotations\": [{\"id\": 1}\n\n {\"id\": 2}]}",
        "{\"images\": [{\"id\": 1, \"width\": 4, \"height\": 4, \"file_name\": \"a",
        "{\"info\": {\"a\": tru}, \"images\": []}",
        "{\"images\": []} trailing",
        "",
        "[1, 2]",
    };
    for (size_t k = 0; k < sizeof texts / sizeof texts[0]; k++) {
        char *path = write_tmp(texts[k]);
        vt_coco *c = NULL;
        vt_err err = {0}, want = {0};
        ck_assert_int_ne(vt_coco_load(path, NULL, &c, &err), VT_OK);
        ck_assert_ptr_null(c);
        /* same message as the JSON parser's on the whole file, whenever the text is not JSON */
        vt_json_doc *doc = NULL;
        if (vt_json_parse_file(path, NULL, &doc, &want) != VT_OK) {
            ck_assert_msg(!strcmp(err.msg, want.msg), "case %zu: '%s' vs parser '%s'", k, err.msg, want.msg);
            ck_assert_msg(strstr(err.msg, "(byte "), "case %zu: %s", k, err.msg);
        } else {
            vt_json_doc_free(doc);
            ck_assert_msg(strstr(err.msg, "not a COCO annotation file"), "case %zu: %s", k, err.msg);
        }
        unlink(path);
        free(path);
    }
    vt_coco *c = NULL;
    vt_err err = {0};
    ck_assert_int_eq(vt_coco_load("/nonexistent/x.json", NULL, &c, &err), VT_EIO);
    ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent/x.json"));
    char *path = write_tmp("{\"annotations\": {\"id\": 1}}");
    ck_assert_int_eq(vt_coco_load(path, NULL, &c, &err), VT_EFORMAT);
    ck_assert_msg(strstr(err.msg, "\"annotations\" must be an array"), "%s", err.msg);
    unlink(path);
    free(path);
}
END_TEST

/* Arrays bigger than one batch (1 MB) parse in several pieces with identical results. */
START_TEST(test_many_batches) {
    size_t n = 30000, cap = n * 140 + 512, len = 0;
    char *text = malloc(cap);
    len += (size_t)snprintf(text + len, cap - len, "{\"images\": [{\"id\": 5, \"file_name\": \"a\", \"width\": 9, "
                                                   "\"height\": 9}], \"annotations\": [");
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(text + len, cap - len,
                                "%s{\"id\": %zu, \"image_id\": 5, \"category_id\": %zu, \"bbox\": [1, 2, 3, 4], "
                                "\"segmentation\": [[1.25, 2, 3, 4.5, 0, 0]]}",
                                i ? ",\n" : "", i, 1 + i % 3);
    len += (size_t)snprintf(text + len, cap - len, "], \"categories\": [{\"id\": 3, \"name\": \"c\"}, "
                                                   "{\"id\": 1, \"name\": \"a\"}, {\"id\": 2, \"name\": \"b\"}]}");
    ck_assert_uint_gt(len, (size_t)3 << 20);
    char *path = write_tmp(text);
    vt_coco *c = load_ok(path, VT_COCO_FAIL);
    ck_assert_uint_eq(c->n_anns, n);
    for (size_t i = 0; i < n; i++) {
        ck_assert(c->anns[i].id == (int64_t)i && c->anns[i].label == (int32_t)(i % 3));
        ck_assert(c->fixed[c->anns[i].data_off] == 125);
    }
    vt_coco_free(c);
    unlink(path);
    free(path);
    free(text);
}
END_TEST

/* ---- the fast annotations reader (coco_json_fast.c) against the batch path ---- */

static uint64_t lcg(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

/* A coordinate in one of many spellings, all valid JSON. */
static int coord_text(char *buf, size_t n, uint64_t *s) {
    double v = (double)(lcg(s) % 100000) / 97.0;
    switch (lcg(s) % 14) {
    case 0: return snprintf(buf, n, "%.0f", v);
    case 1: return snprintf(buf, n, "%.1f", v);
    case 2: return snprintf(buf, n, "%.3f", v);
    case 3: return snprintf(buf, n, "%.17g", v);
    case 4: return snprintf(buf, n, "%.6e", v);
    case 5: return snprintf(buf, n, "-%.2f", v);
    case 6: return snprintf(buf, n, "%s", lcg(s) % 2 ? "-0" : "-0.0");
    case 7: return snprintf(buf, n, "%.2fE0", v);
    case 8: return snprintf(buf, n, "0.00%u", (unsigned)(lcg(s) % 10));
    case 9: return snprintf(buf, n, "%.25f", v); /* more digits than a double holds */
    case 10: return snprintf(buf, n, "%u000000.5", 5 + (unsigned)(lcg(s) % 10)); /* maybe past VT_RLE_MAX_COORD */
    default: return snprintf(buf, n, "%.2f", v);
    }
}

/* Annotations of every shape the fast reader takes or hands to the DOM, some invalid, some captions. */
static char *varied_file(size_t n_anns, uint64_t seed) {
    size_t cap = n_anns * 700 + 4096, len = 0;
    char *t = malloc(cap);
    uint64_t s = seed;
    len += (size_t)snprintf(t + len, cap - len, "{\"info\": {}, \"images\": [");
    for (int i = 1; i <= 20; i++)
        len += (size_t)snprintf(t + len, cap - len, "%s{\"id\": %d, \"file_name\": \"%d.jpg\", \"width\": 64, "
                                "\"height\": 48}", i > 1 ? ", " : "", i, i);
    /* images the fast reader hands to the DOM, or skips */
    len += (size_t)snprintf(t + len, cap - len,
                            ", {\"id\": 101, \"file_name\": \"e\\u00e9.jpg\", \"width\": 4, \"height\": 4}"
                            ", {\"id\": 102, \"file_name\": \"\xc3\xa9.jpg\", \"width\": 4, \"height\": 4, \"x\": null}"
                            ", {\"id\": 103, \"file_name\": \"w.jpg\", \"width\": 4.0, \"height\": 4e0}"
                            ", {\"id\": 104, \"file_name\": \"m.jpg\", \"height\": 4}"
                            ", {\"id\": 3, \"file_name\": \"dup.jpg\", \"width\": 4, \"height\": 4}"
                            ", {\"id\": 105, \"file_name\": \"a.jpg\", \"width\": 4, \"height\": 4, \"id\": 7}"
                            ", {\"license\": 3, \"id\": 106, \"flickr_url\": \"http://x/y\", \"file_name\": \"n.jpg\","
                            "  \"width\": 4, \"height\": 0}"
                            ", {\"id\": 107, \"file_name\": \"o.jpg\", \"width\": 4, \"height\": 4, \"meta\": {\"a\": [1]}}"
                            ", 5, {\"id\": 108, \"file_name\": 7, \"width\": 4, \"height\": 4}");
    len += (size_t)snprintf(t + len, cap - len, "],\n\"annotations\" : [ ");
    for (size_t i = 0; i < n_anns; i++) {
        const char *sep = lcg(&s) % 5 ? "," : " ,\n\t ";
        if (i) len += (size_t)snprintf(t + len, cap - len, "%s", sep);
        unsigned kind = (unsigned)(lcg(&s) % 40), img = 1 + (unsigned)(lcg(&s) % 21), cat = 1 + (unsigned)(lcg(&s) % 4);
        if (kind == 0) {
            len += (size_t)snprintf(t + len, cap - len, "{\"id\": %zu, \"image_id\": %u, \"caption\": \"x},{y\\\" %zu\"}",
                                    i, img, i);
            continue;
        }
        const char *extra[] = {"", ", \"attributes\": {\"a\": [1, {}]}", ", \"iscrowd\": 2", ", \"area\": \"x\"",
                               ", \"id\": 7", ", \"image_id\": 1.0", ", \"\\u0069d2\": 1", ", \"iscrowd\": 1"};
        char bbox[200];
        char c0[64], c1[64];
        coord_text(c0, sizeof c0, &s), coord_text(c1, sizeof c1, &s);
        snprintf(bbox, sizeof bbox, "[%s, %s, %s, %s]", c0, c1, lcg(&s) % 50 ? "3.5" : "-1", "4");
        len += (size_t)snprintf(t + len, cap - len, "{\"id\": %zu, \"image_id\": %u, \"category_id\": %u, "
                                "\"bbox\" :%s, \"area\": %s%s, \"segmentation\": ", i, img, cat, bbox,
                                lcg(&s) % 2 ? "12.5" : "2765.1486500000005", kind < 8 ? extra[kind] : "");
        if (kind == 9) {
            len += (size_t)snprintf(t + len, cap - len, "{\"counts\": [1, %u, 5], \"size\": [48, 64]}",
                                    lcg(&s) % 4 ? 48 * 64 - 6 : 7);
        } else if (kind == 10) {
            len += (size_t)snprintf(t + len, cap - len, "{\"size\": [48, 64], \"counts\": \"0j`0\"}");
        } else if (kind == 11) {
            len += (size_t)snprintf(t + len, cap - len, "%s", lcg(&s) % 2 ? "[]" : "null");
        } else {
            unsigned np = 1 + (unsigned)(lcg(&s) % 3);
            len += (size_t)snprintf(t + len, cap - len, "[");
            for (unsigned k = 0; k < np; k++) {
                unsigned nc = 2 * (unsigned)(lcg(&s) % 12) + (lcg(&s) % 60 == 0);
                len += (size_t)snprintf(t + len, cap - len, "%s[", k ? ", " : "");
                for (unsigned j = 0; j < nc; j++) {
                    char c[64];
                    coord_text(c, sizeof c, &s);
                    len += (size_t)snprintf(t + len, cap - len, "%s%s", j ? "," : "", c);
                }
                len += (size_t)snprintf(t + len, cap - len, "]");
            }
            len += (size_t)snprintf(t + len, cap - len, "]");
        }
        len += (size_t)snprintf(t + len, cap - len, "}");
    }
    len += (size_t)snprintf(t + len, cap - len, "\n],\n\"categories\": [{\"id\": 1, \"name\": \"a\"}, {\"id\": 2, "
                            "\"name\": \"b\"}, {\"id\": 3, \"name\": \"c\"}]}\n");
    ck_assert_uint_lt(len, cap);
    return t;
}

static void assert_same(const vt_coco *a, const vt_coco *b, const char *what) {
    ck_assert_msg(a->n_images == b->n_images && a->n_anns == b->n_anns && a->n_caps == b->n_caps, "%s: counts", what);
    ck_assert_msg(!memcmp(a->images, b->images, a->n_images * sizeof *a->images), "%s: images", what);
    for (size_t i = 0; i < a->n_anns; i++) {
        vt_coco_ann x = a->anns[i], y = b->anns[i];
        ck_assert_msg(x.id == y.id && !memcmp(x.bbox, y.bbox, sizeof x.bbox) && !memcmp(&x.area, &y.area, 8) &&
                          x.image == y.image && x.label == y.label && x.iscrowd == y.iscrowd &&
                          x.seg_kind == y.seg_kind && x.seg_fixed == y.seg_fixed && x.n_polys == y.n_polys &&
                          x.n_data == y.n_data && x.rle_h == y.rle_h && x.rle_w == y.rle_w,
                      "%s: annotation %zu (id %lld)", what, i, (long long)x.id);
        if (x.seg_kind == VT_COCO_SEG_POLYGONS) {
            double u[256], v[256];
            ck_assert(x.n_data <= 256);
            vt_coco_ann_coords(a, &x, u), vt_coco_ann_coords(b, &y, v);
            ck_assert_msg(!memcmp(u, v, x.n_data * sizeof *u), "%s: coordinates of annotation %zu", what, i);
            ck_assert(!memcmp(a->poly_lens + x.lens_off, b->poly_lens + y.lens_off, x.n_polys * sizeof(int32_t)));
        } else if (x.seg_kind == VT_COCO_SEG_RLE) {
            ck_assert(!memcmp(a->counts + x.data_off, b->counts + y.data_off, x.n_data * sizeof(uint32_t)));
        }
    }
    for (size_t i = 0; i < a->n_caps; i++)
        ck_assert_msg(a->caps[i].id == b->caps[i].id && a->caps[i].image == b->caps[i].image &&
                          !strcmp(vt_coco_str(a, a->caps[i].text), vt_coco_str(b, b->caps[i].text)),
                      "%s: caption %zu", what, i);
    char sa[2048], sb[2048];
    vt_coco_summary(a, sa, sizeof sa), vt_coco_summary(b, sb, sizeof sb);
    ck_assert_msg(!strcmp(sa, sb), "%s: summaries differ:\n%s---\n%s", what, sa, sb);
}

static const char *const k_pieces[] = {"100000000", "20000", "3000", "700", "1"};
/* read windows for each of k_pieces: the default, and small ones that cut elements and separators */
static const char *const k_windows[] = {NULL, "64", "1000", "333", NULL};

/* Loads path with the batch path (NULL piece) or the fast reader cut into pieces of about piece bytes. */
static vt_status load_with(const char *path, const char *piece, vt_coco **c, vt_err *err) {
    if (piece) unsetenv("VISFT_COCO_BATCH"), setenv("VISFT_COCO_PIECE_BYTES", piece, 1);
    else setenv("VISFT_COCO_BATCH", "1", 1);
    for (size_t k = 0; piece && k < sizeof k_pieces / sizeof k_pieces[0]; k++)
        if (k_pieces[k] == piece && k_windows[k]) setenv("VISFT_COCO_WINDOW_BYTES", k_windows[k], 1);
    vt_status st = vt_coco_load(path, NULL, c, err);
    unsetenv("VISFT_COCO_BATCH"), unsetenv("VISFT_COCO_PIECE_BYTES"), unsetenv("VISFT_COCO_WINDOW_BYTES");
    return st;
}

START_TEST(test_fast_reader_matches_batch_path) {
    char *text = varied_file(400, 1234);
    char *path = write_tmp(text);
    vt_coco *ref = NULL, *c = NULL;
    vt_err err = {0};
    ck_assert_msg(load_with(path, NULL, &ref, &err) == VT_OK, "%s", err.msg);
    ck_assert_uint_gt(ref->n_anns, 50);
    ck_assert_uint_gt(ref->n_caps, 0);
    ck_assert_uint_gt(ref->n_bad[VT_COCO_BAD_SEGMENTATION], 0);
    for (size_t k = 0; k < sizeof k_pieces / sizeof k_pieces[0]; k++) {
        ck_assert_msg(load_with(path, k_pieces[k], &c, &err) == VT_OK, "%s", err.msg);
        assert_same(c, ref, k_pieces[k]);
        vt_coco_free(c);
    }
    vt_coco_free(ref);
    unlink(path);
    free(path);
    free(text);
}
END_TEST

/* Guessed piece starts that are wrong: "},{" inside strings, and past the array (in a long categories
 * array). The pieces before them notice, and the rest is read in order. */
START_TEST(test_fast_reader_wrong_guesses) {
    size_t cap = 400000, len = 0;
    char *t = malloc(cap);
    len += (size_t)snprintf(t + len, cap - len, "{\"images\": [{\"id\": 1, \"file_name\": \"a\", \"width\": 9, "
                            "\"height\": 9}], \"annotations\": [");
    for (int i = 0; i < 1000; i++)
        len += (size_t)snprintf(t + len, cap - len, "%s{\"id\": %d, \"image_id\": 1, %s}", i ? "," : "", i,
                                i % 3 ? "\"caption\": \"x},{y\"" : "\"category_id\": 5, \"bbox\": [1, 2, 3, 4]");
    len += (size_t)snprintf(t + len, cap - len, "], \"categories\": [");
    for (int i = 0; i < 2000; i++)
        len += (size_t)snprintf(t + len, cap - len, "%s{\"id\": %d, \"name\": \"c%d\"}", i ? "," : "", i, i);
    len += (size_t)snprintf(t + len, cap - len, "]}");
    ck_assert_uint_lt(len, cap);
    char *path = write_tmp(t);
    vt_coco *ref = NULL, *c = NULL;
    vt_err err = {0};
    ck_assert_msg(load_with(path, NULL, &ref, &err) == VT_OK, "%s", err.msg);
    ck_assert_uint_eq(ref->n_caps, 666);
    ck_assert_uint_eq(ref->n_anns, 334);
    const char *sizes[] = {"100", "5000", "9000", "20000"};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        ck_assert_msg(load_with(path, sizes[k], &c, &err) == VT_OK, "%s", err.msg);
        assert_same(c, ref, sizes[k]);
        vt_coco_free(c);
    }
    vt_coco_free(ref);
    unlink(path);
    free(path);
    free(t);
}
END_TEST

/* Enough annotations for coco_finish's two threads: each image's annotations in file order. */
START_TEST(test_grouping_with_threads) {
    size_t n = 120000, n_img = 50, cap = n * 96 + 4096, len = 0;
    char *t = malloc(cap);
    len += (size_t)snprintf(t + len, cap - len, "{\"images\": [");
    for (size_t i = 1; i <= n_img; i++)
        len += (size_t)snprintf(t + len, cap - len, "%s{\"id\": %zu, \"file_name\": \"a\", \"width\": 9, "
                                "\"height\": 9}", i > 1 ? "," : "", i);
    len += (size_t)snprintf(t + len, cap - len, "], \"annotations\": [");
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(t + len, cap - len, "%s{\"id\":%zu,\"image_id\":%zu,\"category_id\":1,"
                                "\"bbox\":[1,2,3,4]}", i ? "," : "", i, 1 + (i * 7919) % (n_img + 1));
    len += (size_t)snprintf(t + len, cap - len, "], \"categories\": [{\"id\": 1, \"name\": \"a\"}]}");
    ck_assert_uint_lt(len, cap);
    char *path = write_tmp(t);
    for (int fast = 0; fast < 2; fast++) {
        vt_coco *c = NULL;
        vt_err err = {0};
        ck_assert_msg(load_with(path, fast ? "1000000" : NULL, &c, &err) == VT_OK, "%s", err.msg);
        size_t want = 0;
        for (size_t i = 0; i < n; i++) want += (i * 7919) % (n_img + 1) < n_img; /* image 51 is not there */
        ck_assert_uint_eq(c->n_anns, want);
        ck_assert_uint_eq(c->n_bad[VT_COCO_BAD_NO_IMAGE], n - want);
        size_t seen = 0;
        for (size_t k = 0; k < c->n_images; k++) {
            const vt_coco_image *im = &c->images[k];
            ck_assert_uint_eq(im->first_ann, seen);
            for (uint32_t j = 0; j < im->n_anns; j++) {
                const vt_coco_ann *a = &c->anns[im->first_ann + j];
                ck_assert_uint_eq(a->image, k);
                ck_assert_uint_eq(1 + ((size_t)a->id * 7919) % (n_img + 1), (size_t)im->id);
                if (j) ck_assert_int_lt(a[-1].id, a->id);
            }
            seen += im->n_anns;
        }
        ck_assert_uint_eq(seen, want);
        vt_coco_free(c);
    }
    unlink(path);
    free(path);
    free(t);
}
END_TEST

/* Broken JSON anywhere in the images or annotations gives the batch path's (the JSON parser's) message. */
START_TEST(test_fast_reader_broken_json) {
    char *text = varied_file(120, 99);
    size_t len = strlen(text);
    const char *arr = strstr(text, "\"images\"");
    uint64_t s = 7;
    for (int round = 0; round < 24; round++) {
        char *t = strdup(text);
        size_t at = (size_t)(arr - text) + 20 + (size_t)(lcg(&s) % (len - (size_t)(arr - text) - 200));
        const char *junk[] = {";", "}", "]", "\"", "01", "-", "1.", "{", ",,"};
        const char *j = junk[lcg(&s) % (sizeof junk / sizeof junk[0])];
        memcpy(t + at, j, strlen(j));
        if (round == 23) t[len - 5] = '\0'; /* cut short */
        char *path = write_tmp(t);
        vt_coco *ref = NULL, *c = NULL;
        vt_err want = {0}, err = {0};
        vt_status st = load_with(path, NULL, &ref, &want);
        for (size_t k = 0; k < sizeof k_pieces / sizeof k_pieces[0]; k++) {
            ck_assert_int_eq(load_with(path, k_pieces[k], &c, &err), st);
            if (st) ck_assert_msg(!strcmp(err.msg, want.msg), "round %d: '%s' vs '%s'", round, err.msg, want.msg);
            else assert_same(c, ref, "still valid"), vt_coco_free(c);
        }
        vt_coco_free(ref);
        unlink(path);
        free(path);
        free(t);
    }
    free(text);
}
END_TEST

VT_TEST_MAIN("coco_json", test_fixture_loads_like_pycocotools, test_captions, test_bad_entries_are_counted_when_skipping,
             test_bad_entries_fail_with_position, test_malformed_json_reports_parser_position, test_many_batches,
             test_fast_reader_matches_batch_path, test_fast_reader_wrong_guesses,
             test_grouping_with_threads, test_fast_reader_broken_json)
