/* vt_pipeline: batches do not depend on the number of workers, images are normalised as the transforms
 * declare, shapes batches carry boxes, labels and masks, captions reach the batch, bad input is an error. */
#include <math.h>

#include "test_loader_dataset.h"
#include "visft/config.h"
#include "visft/pipeline.h"
#include "visft/text.h"
#include "visft/tensor.h"

/* ---- a fake dataset: sample i is a (8 + i % 5) x 6 image of value 10 * i, label i % 3, one caption -------- */

typedef struct fake_ds {
    size_t n;
    size_t bad; /* this index fails as a corrupt file (SIZE_MAX: none) */
} fake_ds;

static size_t fake_length(void *self) { return ((fake_ds *)self)->n; }

static vt_status fake_sample(void *self, size_t i, vt_sample *s, vt_err *err) {
    fake_ds *d = self;
    if (i == d->bad) return vt_err_set(err, VT_EFORMAT, "fake%zu.jpg: corrupt", i);
    vt_status st = vt_sample_new_image(s, 8 + (int32_t)(i % 5), 6, err);
    if (st != VT_OK) return st;
    for (int32_t y = 0; y < s->image.height; y++)
        for (int32_t x = 0; x < s->image.width; x++)
            for (int c = 0; c < 3; c++) s->image.data[y * s->image.stride + 3 * x + c] = (uint8_t)(10 * i + c + x);
    s->label = (int64_t)(i % 3);
    s->image_id = (int64_t)i;
    char cap[32];
    snprintf(cap, sizeof cap, "caption %zu", i);
    return vt_sample_add_caption(s, cap, err);
}

static const vt_dataset_vtable fake_vt = {.struct_size = sizeof(vt_dataset_vtable), .length = fake_length,
                                          .sample = fake_sample};

/* Loads `transforms:` + the lines of list (each indented), so list starts at line 2 of t.yaml. */
static vt_cfg *load_yaml(const char *list) {
    char yaml[1024] = "transforms:\n";
    size_t n = strlen(yaml);
    for (const char *l = list; *l && n + 4 < sizeof yaml; l++) {
        if (l == list || l[-1] == '\n') yaml[n++] = ' ', yaml[n++] = ' ';
        yaml[n++] = *l;
    }
    yaml[n] = 0;
    vt_cfg *cfg = NULL;
    vt_err err = {0};
    ck_assert_msg(vt_cfg_load_string(yaml, n, "t.yaml", VT_CFG_NO_BASE, &cfg, &err) == VT_OK, "%s", err.msg);
    return cfg;
}
#define TR(cfg) vt_cfg_child(vt_cfg_root(cfg), "transforms")

/* FNV-1a over a tensor's bytes (NULL: a fixed value), to compare whole batches. */
static uint64_t hash_bytes(uint64_t h, const void *p, size_t n) {
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ull;
    return h;
}
static uint64_t hash_tensor(uint64_t h, const vt_tensor *t) {
    if (!t) return hash_bytes(h, "null", 4);
    h = hash_bytes(h, t->shape, sizeof(int64_t) * (size_t)t->ndim);
    return hash_bytes(h, t->data, (size_t)vt_nbytes(t));
}
static uint64_t hash_batch(const vt_batch *b) {
    uint64_t h = 1469598103934665603ull;
    h = hash_tensor(h, b->images);
    h = hash_tensor(h, b->pad_mask);
    for (size_t i = 0; i < b->targets.n; i++) {
        h = hash_bytes(h, b->targets.items[i].name, strlen(b->targets.items[i].name));
        h = hash_tensor(h, b->targets.items[i].tensor);
    }
    for (size_t i = 0; i < b->n_captions; i++) {
        h = hash_bytes(h, b->captions[i], strlen(b->captions[i]));
        h = hash_bytes(h, &b->caption_image[i], sizeof b->caption_image[i]);
    }
    return h;
}

/* Hashes of every batch of `epochs` epochs with `workers` workers. */
static size_t run_hashes(const vt_dataset_vtable *vt, void *ds, const vt_cfg_node *tr, int workers, uint64_t *out,
                         size_t max) {
    vt_pipeline_opts o = vt_pipeline_defaults();
    o.loader.batch_size = 4;
    o.loader.workers = workers;
    o.loader.seed = 7;
    o.loader.epochs = 2;
    vt_pipeline *p;
    vt_err err = {0};
    ck_assert_msg(vt_pipeline_create(vt, ds, tr, &o, &p, &err) == VT_OK, "%s", err.msg);
    size_t n = 0;
    for (;;) {
        const vt_batch *b;
        ck_assert_msg(vt_pipeline_next(p, &b, NULL, &err) == VT_OK, "%s", err.msg);
        if (!b) break;
        ck_assert_uint_lt(n, max);
        out[n++] = hash_batch(b);
        vt_pipeline_release(p, b);
    }
    vt_pipeline_destroy(p);
    return n;
}

static const char *const aug_yaml = "- random_flip\n"
                                    "- {random_resize: {short: [6, 7, 9]}}\n"
                                    "- {random_crop: {min: 4, max: 6}}\n"
                                    "- {normalize: {mean: [0.5, 0.25, 0.125], std: [0.5, 0.25, 2.0]}}\n";

START_TEST(test_fake_batches_identical_with_1_and_3_workers) {
    vt_cfg *cfg = load_yaml(aug_yaml);
    fake_ds d = {.n = 23, .bad = SIZE_MAX};
    uint64_t h1[32], h3[32], h0[32];
    size_t n1 = run_hashes(&fake_vt, &d, TR(cfg), 1, h1, 32);
    size_t n3 = run_hashes(&fake_vt, &d, TR(cfg), 3, h3, 32);
    size_t n0 = run_hashes(&fake_vt, &d, TR(cfg), 0, h0, 32);
    ck_assert_uint_eq(n1, 12); /* 2 epochs x ceil(23 / 4) */
    ck_assert_uint_eq(n3, n1);
    ck_assert_uint_eq(n0, n1);
    for (size_t i = 0; i < n1; i++) {
        ck_assert_msg(h1[i] == h3[i], "batch %zu differs between 1 and 3 workers", i);
        ck_assert_msg(h1[i] == h0[i], "batch %zu differs between 1 worker and none", i);
    }
    ck_assert(h1[0] != h1[6]); /* epochs are shuffled and augmented differently */
    vt_cfg_free(cfg);
}
END_TEST

START_TEST(test_images_normalised_and_captions_in_the_batch) {
    vt_cfg *cfg = load_yaml("- {normalize: {mean: [0.5, 0.25, 0.125], std: [0.5, 0.25, 2.0]}}\n");
    fake_ds d = {.n = 3, .bad = SIZE_MAX};
    vt_pipeline_opts o = vt_pipeline_defaults();
    o.loader.batch_size = 3;
    o.loader.shuffle = false;
    o.loader.workers = 2;
    o.loader.epochs = 1;
    vt_pipeline *p;
    vt_err err = {0};
    ck_assert_msg(vt_pipeline_create(&fake_vt, &d, TR(cfg), &o, &p, &err) == VT_OK, "%s", err.msg);
    const vt_batch *b;
    ck_assert_msg(vt_pipeline_next(p, &b, NULL, &err) == VT_OK, "%s", err.msg);
    ck_assert_ptr_nonnull(b);
    ck_assert(VT_BATCH_HAS_CAPTIONS(b));
    ck_assert_int_eq(b->size, 3);
    const vt_tensor *im = b->images;
    ck_assert_int_eq(im->ndim, 4);
    ck_assert_int_eq(im->shape[2], 6);
    ck_assert_int_eq(im->shape[3], 10); /* widths 8, 9, 10: padded to the widest */
    const float mean[3] = {0.5f, 0.25f, 0.125f}, stdv[3] = {0.5f, 0.25f, 2.0f};
    const float *px = vt_f32(im);
    for (int64_t i = 0; i < 3; i++)
        for (int c = 0; c < 3; c++)
            for (int x = 0; x < 8 + i; x++) {
                float want = ((float)(10 * i + c + x) / 255.0f - mean[c]) / stdv[c];
                float got = px[((i * 3 + c) * 6 + 2) * 10 + x];
                ck_assert_msg(fabsf(got - want) < 1e-5f, "image %lld c %d x %d: %g != %g", (long long)i, c, x, got,
                              want);
            }
    ck_assert_ptr_nonnull(b->pad_mask);
    ck_assert_uint_eq(((const uint8_t *)b->pad_mask->data)[0 * 60 + 9], 1); /* image 0 is 8 wide */
    ck_assert_uint_eq(((const uint8_t *)b->pad_mask->data)[2 * 60 + 9], 0);
    const vt_tensor *labels = vt_batch_target(b, "labels");
    ck_assert_ptr_nonnull(labels);
    ck_assert_int_eq(vt_i64(labels)[2], 2);
    ck_assert_uint_eq(b->n_captions, 3);
    ck_assert_str_eq(b->captions[1], "caption 1");
    ck_assert_int_eq(b->caption_image[2], 2);
    vt_pipeline_release(p, b);
    ck_assert_int_eq(vt_pipeline_next(p, &b, NULL, &err), VT_OK);
    ck_assert_ptr_null(b); /* one epoch */
    vt_pipeline_destroy(p);
    vt_cfg_free(cfg);
}
END_TEST

START_TEST(test_corrupt_sample_skipped_and_counted) {
    fake_ds d = {.n = 5, .bad = 2};
    vt_pipeline_opts o = vt_pipeline_defaults();
    o.loader.batch_size = 5;
    o.loader.shuffle = false;
    o.loader.epochs = 1;
    vt_pipeline *p;
    vt_err err = {0};
    ck_assert_msg(vt_pipeline_create(&fake_vt, &d, NULL, &o, &p, &err) == VT_OK, "%s", err.msg);
    const vt_batch *b;
    ck_assert_int_eq(vt_pipeline_next(p, &b, NULL, &err), VT_OK);
    ck_assert_int_eq(b->size, 4);
    vt_pipeline_release(p, b);
    ck_assert_uint_eq(vt_loader_get_stats(vt_pipeline_loader(p)).bad_samples, 1);
    vt_pipeline_destroy(p);
}
END_TEST

START_TEST(test_bad_transforms_and_options_are_errors) {
    fake_ds d = {.n = 5, .bad = SIZE_MAX};
    vt_cfg *cfg = load_yaml("- resise: {short: 4}\n");
    vt_pipeline *p = (vt_pipeline *)1;
    vt_err err = {0};
    ck_assert_int_ne(vt_pipeline_create(&fake_vt, &d, TR(cfg), NULL, &p, &err), VT_OK);
    ck_assert_ptr_null(p);
    ck_assert_msg(strstr(err.msg, "t.yaml:2:") && strstr(err.msg, "resise"), "%s", err.msg);
    vt_cfg_free(cfg);
    vt_pipeline_opts o = vt_pipeline_defaults();
    o.loader.batch_size = 0;
    ck_assert_int_eq(vt_pipeline_create(&fake_vt, &d, NULL, &o, &p, &err), VT_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "batch"));
    o = vt_pipeline_defaults();
    o.loader.workers = -1;
    ck_assert_int_eq(vt_pipeline_create(&fake_vt, &d, NULL, &o, &p, &err), VT_EINVAL);
    vt_dataset_vtable empty = {.struct_size = sizeof empty};
    ck_assert_int_eq(vt_pipeline_create(&empty, &d, NULL, NULL, &p, &err), VT_EINVAL);
}
END_TEST

/* ---- shapes, through the built plugin ------------------------------------------------------------------ */

static const char *const shapes_yaml = "seed: 3\nimage_size: 48\ntrain_size: 10\nmax_objects: 3\n";
static const char *const shapes_tr = "- random_flip\n"
                                     "- {random_resize: {short: [32, 40]}}\n"
                                     "- {normalize: {mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225]}}\n";

START_TEST(test_shapes_batches_have_targets_and_match_across_workers) {
    test_ds t;
    vt_err err = {0};
    ck_assert_msg(test_ds_open(&t, "shapes", shapes_yaml, "train", &err) == VT_OK, "%s", err.msg);
    vt_cfg *cfg = load_yaml(shapes_tr);
    const vt_dataset_vtable *vt = &t.comp->vt.dataset;
    uint64_t h1[16], h3[16];
    size_t n1 = run_hashes(vt, t.ds, TR(cfg), 1, h1, 16);
    size_t n3 = run_hashes(vt, t.ds, TR(cfg), 3, h3, 16);
    ck_assert_uint_eq(n1, 6);
    ck_assert_uint_eq(n3, n1);
    for (size_t i = 0; i < n1; i++) ck_assert_msg(h1[i] == h3[i], "shapes batch %zu differs", i);

    vt_pipeline_opts o = vt_pipeline_defaults();
    o.loader.batch_size = 4;
    o.loader.workers = 2;
    o.collate.size_divisibility = 16;
    vt_pipeline *p;
    ck_assert_msg(vt_pipeline_create(vt, t.ds, TR(cfg), &o, &p, &err) == VT_OK, "%s", err.msg);
    const vt_batch *b;
    ck_assert_msg(vt_pipeline_next(p, &b, NULL, &err) == VT_OK, "%s", err.msg);
    ck_assert_int_eq(b->size, 4);
    ck_assert_int_eq(b->images->shape[2] % 16, 0);
    ck_assert_int_eq(b->images->shape[3] % 16, 0);
    const vt_tensor *boxes = vt_batch_target(b, "boxes"), *labels = vt_batch_target(b, "box_labels");
    const vt_tensor *masks = vt_batch_target(b, "masks"), *cls = vt_batch_target(b, "labels");
    ck_assert_ptr_nonnull(boxes);
    ck_assert_ptr_nonnull(labels);
    ck_assert_ptr_nonnull(masks);
    ck_assert_ptr_nonnull(cls);
    int64_t N = boxes->shape[0];
    ck_assert_int_ge(N, 4); /* at least one object per image */
    ck_assert_int_eq(masks->shape[0], N);
    ck_assert_int_eq(masks->shape[1], b->images->shape[2]);
    const float *bx = vt_f32(boxes);
    const uint8_t *mk = masks->data;
    size_t plane = (size_t)(masks->shape[1] * masks->shape[2]);
    for (int64_t k = 0; k < N; k++) {
        for (int j = 0; j < 4; j++) ck_assert(bx[4 * k + j] >= 0.0f && bx[4 * k + j] <= 1.0f);
        size_t on = 0;
        for (size_t q = 0; q < plane; q++) on += mk[k * plane + q];
        ck_assert_msg(on > 0, "mask %lld is empty", (long long)k);
    }
    /* normalised: values leave [0, 1] and centre near 0 */
    const float *px = vt_f32(b->images);
    float lo = px[0], hi = px[0];
    for (int64_t q = 0; q < vt_numel(b->images); q++) lo = fminf(lo, px[q]), hi = fmaxf(hi, px[q]);
    ck_assert(lo < -0.5f && hi > 1.0f);
    ck_assert_uint_gt(b->n_captions, 0); /* shapes captions its scenes */
    vt_pipeline_release(p, b);
    vt_pipeline_destroy(p); /* an unlimited-epoch loader stops cleanly */
    vt_cfg_free(cfg);
    test_ds_close(&t);
}
END_TEST

START_TEST(test_open_owns_the_dataset) {
    test_ds t;
    vt_err err = {0};
    ck_assert_msg(test_ds_open(&t, "shapes", shapes_yaml, "train", &err) == VT_OK, "%s", err.msg);
    vt_pipeline *p;
    vt_pipeline_opts o = vt_pipeline_defaults();
    o.loader.workers = 0;
    ck_assert_msg(vt_pipeline_open(t.comp, t.params, "val", NULL, NULL, &o, &p, &err) == VT_OK, "%s", err.msg);
    ck_assert_uint_eq(vt_pipeline_dataset_length(p), 200);
    const vt_batch *b;
    ck_assert_int_eq(vt_pipeline_next(p, &b, NULL, &err), VT_OK);
    ck_assert_int_eq(b->size, 8);
    vt_pipeline_release(p, b);
    vt_pipeline_destroy(p);
    ck_assert_int_ne(vt_pipeline_open(t.comp, t.params, "nosuchsplit", NULL, NULL, &o, &p, &err), VT_OK);
    ck_assert_ptr_nonnull(strstr(err.msg, "nosuchsplit"));
    test_ds_close(&t);
}
END_TEST

/* With a tokenizer, every caption of the batch arrives as a row of token ids: SOT first, EOT, zero padding. */
START_TEST(test_captions_are_tokenized_into_the_batch) {
    test_ds t;
    vt_err err = {0};
    ck_assert_msg(test_ds_open(&t, "shapes", shapes_yaml, "train", &err) == VT_OK, "%s", err.msg);
    vt_bpe *bpe = NULL;
    ck_assert_msg(vt_bpe_load(VISFT_TEST_DATA_DIR "/text/tiny_vocab.txt", &bpe, &err) == VT_OK, "%s", err.msg);
    vt_pipeline_opts o = vt_pipeline_defaults();
    o.loader.workers = 2;
    o.loader.batch_size = 3;
    o.tokenizer = bpe;
    o.context_length = 24;
    vt_pipeline *p;
    ck_assert_msg(vt_pipeline_create(&t.comp->vt.dataset, t.ds, NULL, &o, &p, &err) == VT_OK, "%s", err.msg);
    const vt_batch *b;
    ck_assert_msg(vt_pipeline_next(p, &b, NULL, &err) == VT_OK, "%s", err.msg);
    const vt_tensor *tok = vt_batch_target(b, "caption_tokens");
    ck_assert_ptr_nonnull(tok);
    ck_assert_int_eq(tok->shape[0], (int64_t)b->n_captions);
    ck_assert_int_eq(tok->shape[1], 24);
    for (int64_t r = 0; r < tok->shape[0]; r++) {
        const int64_t *row = vt_i64(tok) + r * 24;
        int64_t want[24];
        ck_assert_int_eq(vt_bpe_tokenize(bpe, b->captions[r], strlen(b->captions[r]), 24, want, &err), VT_OK);
        ck_assert_int_eq(row[0], vt_bpe_sot_id(bpe));
        for (int k = 0; k < 24; k++) ck_assert_int_eq(row[k], want[k]);
    }
    vt_pipeline_release(p, b);
    vt_pipeline_destroy(p);
    vt_bpe_free(bpe);
    test_ds_close(&t);
}
END_TEST

VT_TEST_MAIN("pipeline", test_captions_are_tokenized_into_the_batch, test_fake_batches_identical_with_1_and_3_workers,
             test_images_normalised_and_captions_in_the_batch, test_corrupt_sample_skipped_and_counted,
             test_bad_transforms_and_options_are_errors, test_shapes_batches_have_targets_and_match_across_workers,
             test_open_owns_the_dataset)
