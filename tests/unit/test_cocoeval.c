/* COCO evaluation against pycocotools' COCOeval (tests/golden/cocoeval.safetensors from
 * tests/ref/gen_cocoeval.py): the 12 numbers for bbox, segm and segm-with-box-areas on randomized ground
 * truth and detections, independent of the thread count; pycocotools' summary text; the CLI; malformed
 * results files with their messages. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "data/coco_json.h"
#include "visft/cocoeval.h"
#include "visft/safetensors.h"
#include "vt_test.h"

/* Golden tensor `name` as malloc'd bytes (NUL-terminated) or int64s. */
static int64_t *get_i64(vt_st_file *f, const char *name, size_t *n) {
    vt_err err = {0};
    const vt_st_tensor *t = NULL;
    ck_assert_msg(vt_st_get(f, name, &t, &err) == VT_OK, "%s", err.msg);
    int64_t *a = malloc((t->numel + 1) * sizeof *a);
    ck_assert_msg(vt_st_read_i64(f, t, a, t->numel, &err) == VT_OK, "%s", err.msg);
    *n = t->numel;
    return a;
}

static char *get_text(vt_st_file *f, const char *name, size_t *len) {
    size_t n;
    int64_t *a = get_i64(f, name, &n);
    char *s = malloc(n + 1);
    for (size_t i = 0; i < n; i++) s[i] = (char)a[i];
    s[n] = 0;
    free(a);
    *len = n;
    return s;
}

static char *write_tmp(const char *text, size_t len) {
    char tmpl[] = "/tmp/visft_cocoeval_XXXXXX";
    int fd = mkstemp(tmpl);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
    close(fd);
    return strdup(tmpl);
}

typedef struct fixture {
    vt_st_file *f;
    char *gt_path;
    vt_coco *gt;
} fixture;

static fixture open_fixture(void) {
    fixture fx = {0};
    vt_err err = {0};
    ck_assert_msg(vt_st_open(VISFT_GOLDEN_DIR "/cocoeval.safetensors", &fx.f, &err) == VT_OK, "%s", err.msg);
    size_t len;
    char *text = get_text(fx.f, "gt.json", &len);
    fx.gt_path = write_tmp(text, len);
    free(text);
    vt_coco_opts o = {.on_bad = VT_COCO_FAIL};
    ck_assert_msg(vt_coco_load(fx.gt_path, &o, &fx.gt, &err) == VT_OK, "%s", err.msg);
    return fx;
}

static void close_fixture(fixture *fx) {
    vt_coco_free(fx->gt);
    unlink(fx->gt_path);
    free(fx->gt_path);
    vt_st_close(fx->f);
}

static void check_case(fixture *fx, const char *res, const char *stats_key, vt_cocoeval_iou iou) {
    vt_err err = {0};
    size_t len, n;
    char *text = get_text(fx->f, res, &len);
    vt_coco_dets dt;
    ck_assert_msg(vt_coco_dets_parse(text, len, res, fx->gt, &dt, &err) == VT_OK, "%s", err.msg);
    free(text);
    int64_t *want = get_i64(fx->f, stats_key, &n);
    ck_assert_uint_eq(n, VT_COCOEVAL_NSTATS);
    double got1[VT_COCOEVAL_NSTATS], got3[VT_COCOEVAL_NSTATS];
    vt_cocoeval_opts o1 = {.iou_type = iou, .threads = 1}, o3 = {.iou_type = iou, .threads = 3};
    ck_assert_msg(vt_cocoeval(fx->gt, &dt, &o1, got1, &err) == VT_OK, "%s", err.msg);
    ck_assert_msg(vt_cocoeval(fx->gt, &dt, &o3, got3, &err) == VT_OK, "%s", err.msg);
    for (int i = 0; i < VT_COCOEVAL_NSTATS; i++) {
        double w;
        memcpy(&w, &want[i], sizeof w);
        ck_assert_msg(fabs(got1[i] - w) <= 1e-6, "%s %s: %.10f, pycocotools %.10f", stats_key,
                      vt_cocoeval_stat_name(i), got1[i], w);
        ck_assert_msg(memcmp(&got1[i], &got3[i], sizeof(double)) == 0, "%s %s: 1 vs 3 threads differ", stats_key,
                      vt_cocoeval_stat_name(i));
    }
    free(want);
    vt_coco_dets_free(&dt);
}

START_TEST(test_bbox_matches_pycocotools) {
    fixture fx = open_fixture();
    check_case(&fx, "res_bbox.json", "stats.bbox", VT_COCOEVAL_BBOX);
    close_fixture(&fx);
}
END_TEST

START_TEST(test_segm_matches_pycocotools) {
    fixture fx = open_fixture();
    check_case(&fx, "res_segm.json", "stats.segm", VT_COCOEVAL_SEGM);
    check_case(&fx, "res_both.json", "stats.both", VT_COCOEVAL_SEGM); /* areas from boxes (loadRes) */
    check_case(&fx, "res_bbox.json", "stats.boxsegm", VT_COCOEVAL_SEGM); /* masks from box polygons */
    close_fixture(&fx);
}
END_TEST

START_TEST(test_summary_layout) {
    char line[160];
    vt_cocoeval_summary_line(0, 0.3724, line, sizeof line);
    ck_assert_str_eq(line, " Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.372");
    vt_cocoeval_summary_line(1, 0.5, line, sizeof line);
    ck_assert_str_eq(line, " Average Precision  (AP) @[ IoU=0.50      | area=   all | maxDets=100 ] = 0.500");
    vt_cocoeval_summary_line(4, -1, line, sizeof line);
    ck_assert_str_eq(line, " Average Precision  (AP) @[ IoU=0.50:0.95 | area=medium | maxDets=100 ] = -1.000");
    vt_cocoeval_summary_line(6, 0.25, line, sizeof line);
    ck_assert_str_eq(line, " Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets=  1 ] = 0.250");
    vt_cocoeval_summary_line(9, 0.0625, line, sizeof line);
    ck_assert_str_eq(line, " Average Recall     (AR) @[ IoU=0.50:0.95 | area= small | maxDets=100 ] = 0.062");
}
END_TEST

/* No detections: AP and AR 0 for categories with ground truth; no ground truth at all: -1 everywhere. */
START_TEST(test_empty_inputs) {
    fixture fx = open_fixture();
    vt_err err = {0};
    vt_coco_dets dt;
    ck_assert_msg(vt_coco_dets_parse("[]", 2, "empty", fx.gt, &dt, &err) == VT_OK, "%s", err.msg);
    double s[VT_COCOEVAL_NSTATS];
    vt_cocoeval_opts o = {.iou_type = VT_COCOEVAL_SEGM};
    ck_assert_msg(vt_cocoeval(fx.gt, &dt, &o, s, &err) == VT_OK, "%s", err.msg);
    for (int i = 0; i < VT_COCOEVAL_NSTATS; i++) ck_assert_msg(s[i] == 0, "%s = %g", vt_cocoeval_stat_name(i), s[i]);
    vt_coco_dets_free(&dt);
    close_fixture(&fx);

    const char *gt_text = "{\"images\": [{\"id\": 1, \"file_name\": \"a.png\", \"width\": 10, \"height\": 10}], \"annotations\": [],"
                          " \"categories\": [{\"id\": 3, \"name\": \"x\"}]}";
    char *path = write_tmp(gt_text, strlen(gt_text));
    vt_coco *gt = NULL;
    ck_assert_msg(vt_coco_load(path, NULL, &gt, &err) == VT_OK, "%s", err.msg);
    const char *res = "[{\"image_id\": 1, \"category_id\": 3, \"bbox\": [1, 1, 4, 4], \"score\": 0.5}]";
    ck_assert_msg(vt_coco_dets_parse(res, strlen(res), "r", gt, &dt, &err) == VT_OK, "%s", err.msg);
    ck_assert_msg(vt_cocoeval(gt, &dt, NULL, s, &err) == VT_OK, "%s", err.msg);
    for (int i = 0; i < VT_COCOEVAL_NSTATS; i++) ck_assert(s[i] == -1);
    vt_coco_dets_free(&dt);
    vt_coco_free(gt);
    unlink(path);
    free(path);
}
END_TEST

START_TEST(test_malformed_results) {
    fixture fx = open_fixture();
    int64_t img = fx.gt->images[0].id;
    struct {
        const char *text, *want;
    } cases[] = {
        {"{\"image_id\": 1}", "results must be a list of detections, not object"},
        {"[1]", "entry 0: not an object"},
        {"[{\"category_id\": 1, \"bbox\": [0, 0, 1, 1], \"score\": 1}]", "entry 0: image_id is missing or not an integer"},
        {"[{\"image_id\": 1.5, \"category_id\": 1, \"bbox\": [0, 0, 1, 1], \"score\": 1}]", "image_id is missing or not an integer"},
        {"[{\"image_id\": 5, \"category_id\": 1, \"bbox\": [0, 0, 1, 1], \"score\": 1}]",
         "entry 0: image_id 5 is not in the ground truth's images"},
        {"[{\"image_id\": %lld, \"bbox\": [0, 0, 1, 1], \"score\": 1}]", "category_id is missing or not an integer"},
        {"[{\"image_id\": %lld, \"category_id\": 1, \"bbox\": [0, 0, 1, 1], \"score\": \"high\"}]",
         "score is missing or not a finite number"},
        {"[{\"image_id\": %lld, \"category_id\": 1, \"bbox\": [0, 0, 1], \"score\": 1}]", "bbox is not [x, y, w, h]"},
        {"[{\"image_id\": %lld, \"category_id\": 1, \"bbox\": [0, 0, 1, null], \"score\": 1}]", "bbox[3] is not a finite number"},
        {"[{\"image_id\": %lld, \"category_id\": 1, \"bbox\": [0, 0, 1, 1], \"score\": 1},"
         " {\"image_id\": %lld, \"category_id\": 1, \"score\": 1, \"segmentation\": {\"size\": [2, 2], \"counts\": [4]}}]",
         "entry 1: bbox is missing (entry 0 has one"},
        {"[{\"image_id\": %lld, \"category_id\": 1, \"score\": 1}]", "entry 0: has neither bbox nor segmentation"},
        {"[{\"image_id\": %lld, \"category_id\": 1, \"score\": 1, \"segmentation\": {\"size\": [2, 2], \"counts\": [3]}}]",
         "entry 0: "},
        {"[{\"image_id\": %lld, \"category_id\": 1, \"score\": 1, \"segmentation\": {\"size\": [2], \"counts\": [4]}}]",
         "segmentation.size is not [height, width] integers"},
        {"[{\"image_id\": %lld, \"category_id\": 1, \"score\": 1, \"segmentation\": {\"size\": [2, 2], \"counts\": \"\\u007f\"}}]",
         "entry 0: "},
        {"[{\"image_id\": %lld, \"category_id\": 1, \"score\": 1, \"segmentation\": {\"size\": [2, 2], \"counts\": [1, \"x\"]}}]",
         "segmentation.counts[1] is not an integer"},
        {"[{\"image_id\": %lld, \"category_id\": 1, \"score\": 1, \"segmentation\": [[1, 2, 3]]}]", "entry 0: "},
        {"[{\"image_id\": %lld, \"category_id\": 1, \"score\": 1, \"segmentation\": 7}]",
         "segmentation is neither an RLE object nor a list of polygons"},
        {"[{\"image_id\": %lld, ", "bad.json:1:"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[512];
        snprintf(text, sizeof text, cases[i].text, (long long)img, (long long)img);
        vt_coco_dets dt;
        vt_err err = {0};
        ck_assert_msg(vt_coco_dets_parse(text, strlen(text), "bad.json", fx.gt, &dt, &err) != VT_OK, "case %zu accepted", i);
        ck_assert_msg(strncmp(err.msg, "bad.json", 8) == 0 && strstr(err.msg, cases[i].want), "case %zu: %s", i, err.msg);
        ck_assert_ptr_null(dt.v);
    }
    /* segm evaluation of box-only results works (box polygons, as loadRes); bbox needs boxes */
    char text[256];
    snprintf(text, sizeof text, "[{\"image_id\": %lld, \"category_id\": 1, \"score\": 1, \"segmentation\": [[1, 1, 9, 1, 9, 9]]}]",
             (long long)img);
    vt_coco_dets dt;
    vt_err err = {0};
    ck_assert_msg(vt_coco_dets_parse(text, strlen(text), "p.json", fx.gt, &dt, &err) == VT_OK, "%s", err.msg);
    ck_assert(dt.v[0].has_bbox && dt.v[0].area > 0);
    vt_coco_dets_free(&dt);
    vt_coco_dets missing;
    ck_assert(vt_coco_dets_load("/nonexistent/res.json", fx.gt, &missing, &err) == VT_EIO);
    ck_assert_msg(strstr(err.msg, "/nonexistent/res.json: cannot open"), "%s", err.msg);
    close_fixture(&fx);
}
END_TEST

START_TEST(test_cli) {
    fixture fx = open_fixture();
    size_t len;
    char *text = get_text(fx.f, "res_bbox.json", &len);
    char *res = write_tmp(text, len);
    free(text);
    char json[] = "/tmp/visft_cocoeval_json_XXXXXX";
    close(mkstemp(json));
    char *argv[] = {"visft", "cocoeval", fx.gt_path, res, "--iou-type", "bbox", "--json", json, "-j", "2", NULL};
    FILE *out = tmpfile(), *err = tmpfile();
    ck_assert_int_eq(vt_cli_main(10, argv, out, err), VT_CLI_OK);
    rewind(out);
    char line[256], want[160];
    size_t n;
    int64_t *stats = get_i64(fx.f, "stats.bbox", &n);
    for (int i = 0; i < VT_COCOEVAL_NSTATS; i++) {
        ck_assert_ptr_nonnull(fgets(line, sizeof line, out));
        line[strcspn(line, "\n")] = 0;
        double w;
        memcpy(&w, &stats[i], sizeof w);
        vt_cocoeval_summary_line(i, w, want, sizeof want);
        ck_assert_str_eq(line, want);
    }
    FILE *jf = fopen(json, "r");
    ck_assert_ptr_nonnull(jf);
    char buf[2048] = {0};
    size_t got = fread(buf, 1, sizeof buf - 1, jf);
    fclose(jf);
    ck_assert_msg(got > 0 && strstr(buf, "\"iou_type\":\"bbox\"") && strstr(buf, "\"AP50\":") && strstr(buf, "\"stats\":["),
                  "%s", buf);
    /* bad iou type: usage error; malformed results: one line naming the file */
    char *bad_argv[] = {"visft", "cocoeval", fx.gt_path, res, "--iou-type", "keypoints", NULL};
    ck_assert_int_eq(vt_cli_main(6, bad_argv, out, err), VT_CLI_USAGE);
    char *bad = write_tmp("[{\"image_id\": true}]", 20);
    char *bad2_argv[] = {"visft", "cocoeval", fx.gt_path, bad, NULL};
    ck_assert_int_eq(vt_cli_main(4, bad2_argv, out, err), VT_CLI_FAIL);
    fclose(out);
    fclose(err);
    free(stats);
    unlink(bad), free(bad);
    unlink(res), free(res);
    unlink(json);
    close_fixture(&fx);
}
END_TEST

VT_TEST_MAIN("cocoeval", test_bbox_matches_pycocotools, test_segm_matches_pycocotools, test_summary_layout,
             test_empty_inputs, test_malformed_results, test_cli)
