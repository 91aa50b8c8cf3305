/* The coco dataset plugin: samples carry the decoded image and the task's targets (boxes with remapped
 * labels, masks, captions); empty_images keep|skip; {split} in paths; bad params and files are errors. */
#include <unistd.h>

#include "test_loader_dataset.h"

static char *make_images(void) {
    char *root = test_tmpdir(), p[512];
    snprintf(p, sizeof p, "%s/val", root);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/val/a.png", root);
    test_write_png(p, 8, 6, 10);
    snprintf(p, sizeof p, "%s/val/b.png", root);
    test_write_png(p, 5, 4, 20);
    snprintf(p, sizeof p, "%s/val/empty.png", root);
    test_write_png(p, 4, 4, 30);
    return root;
}

static void open_ds(test_ds *t, const char *root, const char *file, const char *extra) {
    char yaml[1024];
    vt_err err = {0};
    snprintf(yaml, sizeof yaml, "annotations: %s/coco/%s\nimages: %s/{split}\n%s", VISFT_TEST_DATA_DIR, file, root,
             extra);
    ck_assert_msg(test_ds_open(t, "coco", yaml, "val", &err) == VT_OK, "%s", err.msg);
}

START_TEST(test_instance_segmentation_samples) {
    char *root = make_images();
    test_ds t;
    open_ds(&t, root, "instances_small.json", "task: instance_segmentation\n");
    const vt_dataset_vtable *vt = &t.comp->vt.dataset;
    ck_assert_uint_eq(vt->length(t.ds), 2); /* empty.png has no annotations: skipped by default */
    vt_sample s;
    vt_sample_init(&s);
    vt_err err = {0};
    ck_assert_msg(vt->sample(t.ds, 0, &s, &err) == VT_OK, "%s", err.msg);
    ck_assert_int_eq(s.image_id, 42);
    ck_assert(s.image.width == 8 && s.image.height == 6 && s.image.data[0] == 10);
    ck_assert_uint_eq(s.n_instances, 3);
    const vt_instance *in = &s.instances[0];
    ck_assert(in->label == 2 && in->category_id == 18 && !in->iscrowd);
    ck_assert(in->box[0] == 1.5f && in->box[1] == 1.0f && in->box[2] == 5.5f && in->box[3] == 4.25f);
    ck_assert(in->mask.kind == VT_MASK_POLYGONS && in->mask.n_polys == 2 && in->mask.coords[0] == 1.5);
    ck_assert(s.instances[1].mask.kind == VT_MASK_RLE && s.instances[1].label == 0);
    /* the rasterised union of both polygons has pycocotools' area for this annotation (14) */
    uint8_t px[48];
    ck_assert_msg(vt_mask_rasterize(&in->mask, 8, 6, px, &err) == VT_OK, "%s", err.msg);
    int area = 0;
    for (int i = 0; i < 48; i++) area += px[i];
    ck_assert_int_eq(area, 14);
    vt_sample_clear(&s);
    ck_assert_msg(vt->sample(t.ds, 1, &s, &err) == VT_OK, "%s", err.msg);
    ck_assert(s.image_id == 7 && s.n_instances == 1 && s.instances[0].iscrowd == 1);
    ck_assert_int_eq(vt->sample(t.ds, 2, &s, &err), VT_EINVAL);
    vt_sample_free(&s);
    test_ds_close(&t);
    test_rm_rf(root);
}
END_TEST

START_TEST(test_detection_keeps_empty_images_when_asked) {
    char *root = make_images();
    test_ds t;
    open_ds(&t, root, "instances_small.json", "empty_images: keep\ncrowd: false\n");
    const vt_dataset_vtable *vt = &t.comp->vt.dataset;
    ck_assert_uint_eq(vt->length(t.ds), 3);
    vt_sample s;
    vt_sample_init(&s);
    vt_err err = {0};
    ck_assert_msg(vt->sample(t.ds, 1, &s, &err) == VT_OK, "%s", err.msg);
    ck_assert_uint_eq(s.n_instances, 0); /* its only annotation is a crowd */
    vt_sample_clear(&s);
    ck_assert_msg(vt->sample(t.ds, 0, &s, &err) == VT_OK, "%s", err.msg);
    ck_assert(s.n_instances == 3 && s.instances[0].mask.kind == VT_MASK_NONE); /* detection: no masks */
    vt_sample_clear(&s);
    ck_assert_msg(vt->sample(t.ds, 2, &s, &err) == VT_OK, "%s", err.msg);
    ck_assert(s.image_id == 9 && s.n_instances == 0);
    vt_sample_free(&s);
    test_ds_close(&t);
    test_rm_rf(root);
}
END_TEST

START_TEST(test_captioning_samples) {
    char *root = make_images();
    test_ds t;
    open_ds(&t, root, "captions_small.json", "task: captioning\n");
    const vt_dataset_vtable *vt = &t.comp->vt.dataset;
    ck_assert_uint_eq(vt->length(t.ds), 2);
    vt_sample s;
    vt_sample_init(&s);
    vt_err err = {0};
    ck_assert_msg(vt->sample(t.ds, 0, &s, &err) == VT_OK, "%s", err.msg);
    ck_assert_uint_eq(s.n_captions, 2);
    ck_assert_str_eq(s.captions[0].text, "a dog on grass");
    vt_sample_free(&s);
    test_ds_close(&t);
    test_rm_rf(root);
}
END_TEST

START_TEST(test_missing_files_are_errors) {
    char *root = make_images();
    test_ds t;
    vt_err err = {0};
    char yaml[512];
    snprintf(yaml, sizeof yaml, "annotations: %s/nope.json\nimages: %s\n", root, root);
    ck_assert_int_eq(test_ds_open(&t, "coco", yaml, "val", &err), VT_EIO);
    ck_assert_msg(strstr(err.msg, "nope.json"), "%s", err.msg);
    test_ds_close(&t);
    /* an image listed but missing: the sample fails naming the file */
    snprintf(yaml, sizeof yaml, "annotations: %s/coco/instances_small.json\nimages: %s\n", VISFT_TEST_DATA_DIR, root);
    ck_assert_msg(test_ds_open(&t, "coco", yaml, "val", &err) == VT_OK, "%s", err.msg);
    vt_sample s;
    vt_sample_init(&s);
    ck_assert_int_ne(t.comp->vt.dataset.sample(t.ds, 0, &s, &err), VT_OK);
    ck_assert_msg(strstr(err.msg, "a.png"), "%s", err.msg);
    vt_sample_free(&s);
    test_ds_close(&t);
    /* a bad enum value is refused by the host */
    snprintf(yaml, sizeof yaml, "annotations: x.json\nimages: %s\ntask: segmentation\n", root);
    ck_assert_int_ne(test_ds_open(&t, "coco", yaml, "val", &err), VT_OK);
    test_ds_close(&t);
    test_rm_rf(root);
}
END_TEST

VT_TEST_MAIN("coco_plugin", test_instance_segmentation_samples, test_detection_keeps_empty_images_when_asked,
             test_captioning_samples, test_missing_files_are_errors)
