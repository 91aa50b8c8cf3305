/* COCO annotation loader: the fixture in tests/data/coco loads with ids remapped, annotations grouped by
 * image and masks equal to pycocotools' annToRLE; invalid entries are counted (skip) or errors (fail) with
 * line, column and byte; malformed JSON reports the parser's position. */
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

VT_TEST_MAIN("coco_json", test_fixture_loads_like_pycocotools, test_captions, test_bad_entries_are_counted_when_skipping,
             test_bad_entries_fail_with_position, test_malformed_json_reports_parser_position, test_many_batches)
