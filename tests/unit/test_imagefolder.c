/* The imagefolder dataset plugin: classes sorted, labels = class index, non-images ignored, bad trees refused,
 * and through the loader a corrupt image is skipped and counted. */
#include <unistd.h>

#include "test_loader_dataset.h"
#include "visft/loader.h"

static char *make_tree(void) {
    char *root = test_tmpdir();
    char p[512];
    const char *classes[] = {"zebra", "cat", "dog"}; /* created out of order: sorted on open */
    for (int c = 0; c < 3; c++) {
        snprintf(p, sizeof p, "%s/%s", root, classes[c]);
        ck_assert_int_eq(mkdir(p, 0755), 0);
        for (int i = 0; i < 2; i++) {
            snprintf(p, sizeof p, "%s/%s/img%d.png", root, classes[c], i);
            test_write_png(p, 5 + c, 4, 10 * c + i);
        }
    }
    snprintf(p, sizeof p, "%s/dog/notes.txt", root);
    test_write_text(p, "not an image");
    snprintf(p, sizeof p, "%s/dog/.hidden.png", root);
    test_write_text(p, "hidden");
    snprintf(p, sizeof p, "%s/dog/UPPER.PNG", root); /* extensions are case-insensitive */
    test_write_png(p, 3, 3, 200);
    snprintf(p, sizeof p, "%s/cat/broken.jpg", root); /* a truncated JPEG: listed, fails to decode */
    test_write_text(p, "\xFF\xD8\xFF\xE0\x00\x10JFIF");
    snprintf(p, sizeof p, "%s/README", root); /* a file at class level is not a class */
    test_write_text(p, "readme");
    return root;
}

START_TEST(test_classes_sorted_and_labelled_by_index) {
    char *root = make_tree();
    char yaml[600];
    snprintf(yaml, sizeof yaml, "root: %s\n", root);
    test_ds t;
    vt_err err = {0};
    ck_assert_msg(test_ds_open(&t, "imagefolder", yaml, "train", &err) == VT_OK, "%s", err.msg);
    const vt_dataset_vtable *vt = &t.comp->vt.dataset;
    ck_assert_uint_eq(vt->length(t.ds), 8); /* cat: 2 + broken, dog: 2 + UPPER, zebra: 2 */
    const int64_t want_label[8] = {0, 0, 0, 1, 1, 1, 2, 2};
    const int want_width[8] = {-1, 6, 6, 3, 7, 7, 5, 5}; /* cat/broken.jpg sorts first and is bad */
    vt_sample s;
    vt_sample_init(&s);
    for (size_t i = 0; i < 8; i++) {
        vt_sample_clear(&s);
        vt_status st = vt->sample(t.ds, i, &s, &err);
        if (want_width[i] < 0) {
            ck_assert_int_ne(st, VT_OK);
            ck_assert_ptr_nonnull(strstr(err.msg, "broken.jpg"));
            continue;
        }
        ck_assert_msg(st == VT_OK, "%zu: %s", i, err.msg);
        ck_assert_int_eq(s.label, want_label[i]);
        ck_assert_int_eq(s.image.width, want_width[i]);
        ck_assert_int_eq(s.image_id, (int64_t)i);
    }
    ck_assert_int_eq(vt->sample(t.ds, 8, &s, &err), VT_EINVAL);
    vt_sample_free(&s);
    test_ds_close(&t);
    test_rm_rf(root);
}
END_TEST

typedef struct label_batch {
    size_t n;
    int64_t labels[16];
} label_batch;

static vt_status collate_labels(void *user, int worker, vt_sample *const *samples, size_t n, void **out,
                                vt_err *err) {
    label_batch *b = calloc(1, sizeof *b);
    if (!b) return vt_err_set(err, VT_ENOMEM, "oom");
    b->n = n;
    for (size_t i = 0; i < n && i < 16; i++) b->labels[i] = samples[i]->label;
    *out = b;
    return VT_OK;
}

START_TEST(test_loader_over_imagefolder_skips_the_corrupt_image) {
    char *root = make_tree();
    char yaml[600];
    snprintf(yaml, sizeof yaml, "root: %s\n", root);
    test_ds t;
    vt_err err = {0};
    ck_assert_msg(test_ds_open(&t, "imagefolder", yaml, "train", &err) == VT_OK, "%s", err.msg);
    vt_loader_opts o = vt_loader_defaults();
    o.batch_size = 3;
    o.workers = 2;
    o.epochs = 1;
    o.hooks.collate = collate_labels;
    vt_loader *L = NULL;
    ck_assert_msg(vt_loader_create(&t.comp->vt.dataset, t.ds, &o, &L, &err) == VT_OK, "%s", err.msg);
    int per_class[3] = {0};
    void *vb;
    while (vt_loader_next(L, &vb, NULL, &err) == VT_OK && vb) {
        label_batch *b = vb;
        for (size_t i = 0; i < b->n; i++) per_class[b->labels[i]]++;
        vt_loader_release(L, vb);
    }
    ck_assert_int_eq(per_class[0], 2);
    ck_assert_int_eq(per_class[1], 3);
    ck_assert_int_eq(per_class[2], 2);
    vt_loader_stats s = vt_loader_get_stats(L);
    ck_assert_uint_eq(s.bad_samples, 1);
    const char *line;
    ck_assert_uint_eq(vt_loader_bad_log(L, &line, 1), 1);
    ck_assert_ptr_nonnull(strstr(line, "broken.jpg"));
    vt_loader_destroy(L);

    o.on_bad = VT_LOADER_FAIL; /* the same file stops the loader under fail */
    ck_assert_int_eq(vt_loader_create(&t.comp->vt.dataset, t.ds, &o, &L, &err), VT_OK);
    vt_status st;
    while ((st = vt_loader_next(L, &vb, NULL, &err)) == VT_OK && vb) vt_loader_release(L, vb);
    ck_assert_int_ne(st, VT_OK);
    ck_assert_ptr_nonnull(strstr(err.msg, "broken.jpg"));
    vt_loader_destroy(L);
    test_ds_close(&t);
    test_rm_rf(root);
}
END_TEST

START_TEST(test_bad_trees_are_refused_with_the_path) {
    char *root = test_tmpdir();
    char yaml[600], p[512];
    test_ds t;
    vt_err err = {0};
    snprintf(yaml, sizeof yaml, "root: %s/missing\n", root);
    ck_assert_int_eq(test_ds_open(&t, "imagefolder", yaml, "train", &err), VT_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(err.msg, "missing"));
    test_ds_close(&t);

    snprintf(yaml, sizeof yaml, "root: %s\n", root); /* no class folders */
    ck_assert_int_eq(test_ds_open(&t, "imagefolder", yaml, "train", &err), VT_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "no class folders"));
    test_ds_close(&t);

    snprintf(p, sizeof p, "%s/empty", root); /* classes without images */
    ck_assert_int_eq(mkdir(p, 0755), 0);
    ck_assert_int_eq(test_ds_open(&t, "imagefolder", yaml, "train", &err), VT_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "no images"));
    test_ds_close(&t);

    /* split_subdirs reads root/<split>/ */
    snprintf(p, sizeof p, "%s/val", root);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/val/a", root);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/val/a/x.png", root);
    test_write_png(p, 2, 2, 1);
    snprintf(yaml, sizeof yaml, "root: %s\nsplit_subdirs: true\n", root);
    ck_assert_msg(test_ds_open(&t, "imagefolder", yaml, "val", &err) == VT_OK, "%s", err.msg);
    ck_assert_uint_eq(t.comp->vt.dataset.length(t.ds), 1);
    test_ds_close(&t);

    /* the root param is required */
    ck_assert_int_ne(test_ds_open(&t, "imagefolder", "split_subdirs: true\n", "val", &err), VT_OK);
    ck_assert_ptr_nonnull(strstr(err.msg, "root"));
    test_ds_close(&t);
    test_rm_rf(root);
}
END_TEST

VT_TEST_MAIN("imagefolder", test_classes_sorted_and_labelled_by_index,
             test_loader_over_imagefolder_skips_the_corrupt_image, test_bad_trees_are_refused_with_the_path)
