/* `visft data check`, run in process: counts, missing and corrupt files listed by name, exit status 0 only
 * for a usable dataset, from a dataset spec (--dataset --set) or from an experiment config's tasks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli_run.h"
#include "data/check.h"
#include "test_loader_dataset.h"

#define ASSERT_OUT_HAS(s) ck_assert_msg(strstr(last.out, (s)), "stdout lacks '%s':\n%s", (s), last.out)
#define ASSERT_ERR_HAS(s) ck_assert_msg(strstr(last.err, (s)), "stderr lacks '%s':\n%s", (s), last.err)

/* root/a/{0,1}.png, root/b/{0.png, broken.jpg (truncated)} */
static char *make_folder(void) {
    char *root = test_tmpdir();
    char p[512];
    for (int c = 0; c < 2; c++) {
        snprintf(p, sizeof p, "%s/%c", root, 'a' + c);
        ck_assert_int_eq(mkdir(p, 0755), 0);
    }
    snprintf(p, sizeof p, "%s/a/0.png", root), test_write_png(p, 6, 5, 10);
    snprintf(p, sizeof p, "%s/a/1.png", root), test_write_png(p, 6, 5, 20);
    snprintf(p, sizeof p, "%s/b/0.png", root), test_write_png(p, 4, 4, 30);
    snprintf(p, sizeof p, "%s/b/broken.jpg", root), test_write_text(p, "\xFF\xD8\xFF\xE0\x00\x10JFIF");
    return root;
}

START_TEST(test_imagefolder_with_a_corrupt_file_is_not_usable) {
    unsetenv("VISFT_PLUGIN_PATH");
    char *root = make_folder();
    char set[600];
    snprintf(set, sizeof set, "root=%s", root);
    ck_assert_int_eq(RUN("data", "check", "--dataset", "imagefolder", "--set", set), 1);
    ASSERT_OUT_HAS("corrupt: sample 3: ");
    ASSERT_OUT_HAS("broken.jpg");
    ASSERT_OUT_HAS("4 samples: 3 images, 0 annotations, 0 captions, 0 categories, 2 classes; 0 missing, 1 corrupt");
    ASSERT_ERR_HAS("not usable");
    ck_assert_int_eq(RUN("data", "check", "--dataset", "imagefolder", "--set", set, "--tolerate", "1"), 0);
    ASSERT_OUT_HAS("usable");
    test_rm_rf(root);
}
END_TEST

START_TEST(test_missing_file_is_listed_by_name) {
    unsetenv("VISFT_PLUGIN_PATH");
    char *dir = test_tmpdir();
    char p[512], ann[600], imgs[600];
    snprintf(p, sizeof p, "%s/here.png", dir), test_write_png(p, 5, 5, 1);
    snprintf(p, sizeof p, "%s/c.csv", dir);
    test_write_text(p, "filepath,caption\nhere.png,a dot\ngone.png,a missing dot\n");
    snprintf(ann, sizeof ann, "annotations=%s", p);
    snprintf(imgs, sizeof imgs, "images_root=%s", dir);
    ck_assert_int_eq(RUN("data", "check", "-d", "image_text", "-s", ann, "-s", imgs), 1);
    ASSERT_OUT_HAS("missing: sample 1: ");
    ASSERT_OUT_HAS("gone.png");
    ASSERT_OUT_HAS("2 samples: 1 images, 0 annotations, 1 captions");
    ASSERT_OUT_HAS("1 missing, 0 corrupt, 0 invalid");
    test_rm_rf(dir);
}
END_TEST

START_TEST(test_shapes_is_usable) {
    unsetenv("VISFT_PLUGIN_PATH");
    ck_assert_int_eq(RUN("data", "check", "--dataset", "shapes", "--set", "val_size=30", "--split", "val"), 0);
    ASSERT_OUT_HAS("30 samples: 30 images, ");
    ASSERT_OUT_HAS("0 missing, 0 corrupt, 0 invalid");
    ASSERT_OUT_HAS("usable");
    ck_assert_msg(!strstr(last.out, " 0 annotations"), "%s", last.out);
}
END_TEST

START_TEST(test_config_checks_every_task) {
    unsetenv("VISFT_PLUGIN_PATH");
    char *root = make_folder();
    char yaml[1200], p[600];
    snprintf(yaml, sizeof yaml,
             "backbone: {preset: tiny}\n"
             "tasks:\n"
             "  det:\n"
             "    head: {plugin: fx_head, name: h}\n"
             "    dataset: {plugin: shapes, train_size: 12}\n"
             "  cls:\n"
             "    head: {plugin: fx_head, name: h}\n"
             "    dataset: {plugin: imagefolder, root: %s}\n",
             root);
    snprintf(p, sizeof p, "%s/exp.yaml", root);
    test_write_text(p, yaml);
    ck_assert_int_eq(RUN("data", "check", p, "-P", VISFT_FIXTURE_DIR "/good_a.so"), 1);
    ASSERT_OUT_HAS("det: 12 samples: 12 images");
    ASSERT_OUT_HAS("cls: corrupt: sample 3: ");
    ASSERT_OUT_HAS("cls: 4 samples: 3 images");
    /* --set overrides the config: with the broken file tolerated, both are usable */
    ck_assert_int_eq(RUN("data", "check", p, "-P", VISFT_FIXTURE_DIR "/good_a.so", "--tolerate", "1", "--set",
                         "tasks.det.dataset.train_size=3"),
                     0);
    ASSERT_OUT_HAS("det: 3 samples");
    test_rm_rf(root);
}
END_TEST

START_TEST(test_usage_and_open_errors) {
    unsetenv("VISFT_PLUGIN_PATH");
    ck_assert_int_eq(RUN("data", "check"), 2);
    ASSERT_ERR_HAS("either CONFIG or --dataset");
    ck_assert_int_eq(RUN("data", "check", "x.yaml", "--dataset", "shapes"), 2);
    ck_assert_int_eq(RUN("data", "check", "--dataset", "shapes", "--tolerate", "-1"), 2);
    ck_assert_int_eq(RUN("data", "check", "--dataset", "shapse"), 1);
    ASSERT_ERR_HAS("shapes"); /* did you mean */
    ck_assert_int_eq(RUN("data", "check", "--dataset", "imagefolder", "--set", "root=/nonexistent/visft"), 1);
    ASSERT_ERR_HAS("/nonexistent/visft");
    ck_assert_int_eq(RUN("data", "check", "--dataset", "shapes", "--set", "image_sise=3"), 1);
    ASSERT_ERR_HAS("image_sise");
    ck_assert_int_eq(RUN("data", "check", "/nonexistent/exp.yaml"), 1);
    ASSERT_ERR_HAS("/nonexistent/exp.yaml");
    free(last.out);
    free(last.err);
    last.out = last.err = NULL;
}
END_TEST

/* sample 0: one good box; 1: an inverted box (refused by the fill API); 2: a box outside its 10x10 image */
static size_t bad_ann_length(void *self) {
    (void)self;
    return 3;
}
static vt_status bad_ann_sample(void *self, size_t i, vt_sample *s, vt_err *err) {
    (void)self;
    vt_status st = vt_sample_new_image(s, 10, 10, err);
    if (st != VT_OK) return st;
    const float boxes[3][4] = {{1, 1, 5, 5}, {5, 1, 2, 5}, {0, 0, 50, 50}};
    return vt_sample_add_instance(s, boxes[i], 0, 7 + (int64_t)i, false, 1.0f, NULL, err);
}

START_TEST(test_invalid_annotations_are_counted) {
    const vt_dataset_vtable vt = {.struct_size = sizeof vt, .length = bad_ann_length, .sample = bad_ann_sample};
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    vt_data_check_report rep;
    vt_err err = {0};
    ck_assert_int_eq(vt_data_check(&vt, NULL, "t: ", 10, out, &rep, &err), VT_OK);
    fclose(out);
    ck_assert_uint_eq(rep.images, 2);
    ck_assert_uint_eq(rep.annotations, 2);
    ck_assert_uint_eq(rep.categories, 2);
    ck_assert_uint_eq(rep.invalid, 2);
    ck_assert_uint_eq(vt_data_check_problems(&rep), 2);
    ck_assert_msg(strstr(text, "t: invalid annotation: sample 1: "), "%s", text);
    ck_assert_msg(strstr(text, "t: invalid annotation: sample 2: instance 0 (category 9): box outside the image"), "%s",
                  text);
    free(text);
}
END_TEST

VT_TEST_MAIN("data_check", test_invalid_annotations_are_counted, test_imagefolder_with_a_corrupt_file_is_not_usable, test_missing_file_is_listed_by_name,
             test_shapes_is_usable, test_config_checks_every_task, test_usage_and_open_errors)
