/* Collate (core/data/collate.c): padding to the largest image, the padding mask, normalisation, and the
 * named targets of visft/batch.h — labels, normalised cxcywh boxes with their image index, masks at the
 * padded size, captions beside the batch. */
#include <math.h>
#include <string.h>

#include "testutil.h"
#include "visft/config.h"
#include "visft/data.h"
#include "vt_test.h"

static void make_sample(vt_sample *s, int32_t w, int32_t h, uint8_t value) {
    vt_sample_init(s);
    vt_err err = {0};
    ck_assert_int_eq(vt_sample_new_image(s, w, h, &err), VT_OK);
    memset(s->image.data, value, s->image.stride * (size_t)h);
}

START_TEST(test_collate_pads_normalises_and_masks) {
    vt_ctx *c = vt_test_ctx();
    vt_sample a, b;
    make_sample(&a, 5, 4, 255);
    make_sample(&b, 3, 6, 0);
    a.label = 7;
    vt_err err = {0};
    size_t idx;
    ck_assert_int_eq(vt_sample_add_instance(&a, (const float[]){1, 1, 3, 3}, 2, 18, false, 4, &idx, &err), VT_OK);
    ck_assert_int_eq(vt_sample_set_polygons(&a, idx, 1, (const int32_t[]){8}, (const double[]){1, 1, 3, 1, 3, 3, 1, 3}, &err),
                     VT_OK);
    ck_assert_int_eq(vt_sample_add_instance(&b, (const float[]){0, 3, 3, 6}, 0, 1, true, 9, NULL, &err), VT_OK);
    ck_assert_int_eq(vt_sample_add_instance(&b, (const float[]){0, 0, 1, 2}, 1, 3, false, 2, NULL, &err), VT_OK);
    ck_assert_int_eq(vt_sample_add_caption(&b, "a black square", &err), VT_OK);
    vt_collate_opts o;
    vt_collate_opts_default(&o);
    for (int k = 0; k < 3; k++) o.mean[k] = 0.5f, o.std[k] = 0.25f;
    const vt_sample *list[2] = {&a, &b};
    vt_collated out;
    ck_assert_msg(vt_collate(c, list, 2, &o, &out, &err) == VT_OK, "%s", err.msg);
    const vt_batch *bt = &out.batch;
    ck_assert_int_eq(bt->size, 2);
    vt_tensor *im = bt->images;
    ck_assert_int_eq(im->ndim, 4);
    ck_assert(im->shape[0] == 2 && im->shape[1] == 3 && im->shape[2] == 6 && im->shape[3] == 5);
    const float *px = vt_f32(im);
    /* a: (1 - 0.5) / 0.25 = 2 inside, 0 in its padding rows 4..5; b: (0 - 0.5) / 0.25 = -2, 0 right of x = 3 */
    ck_assert_float_eq(px[0], 2.0f);
    ck_assert_float_eq(px[(size_t)(2 * 30 + 3 * 5 + 4)], 2.0f);
    ck_assert_float_eq(px[(size_t)(1 * 30 + 4 * 5 + 0)], 0.0f);
    ck_assert_float_eq(px[90 + 0], -2.0f);
    ck_assert_float_eq(px[90 + 2 * 30 + 5 * 5 + 2], -2.0f);
    ck_assert_float_eq(px[90 + 5 * 5 + 3], 0.0f);
    ck_assert_ptr_nonnull(bt->pad_mask);
    const uint8_t *pm = bt->pad_mask->data;
    ck_assert_int_eq(pm[0 * 30 + 3 * 5 + 4], 0);
    ck_assert_int_eq(pm[0 * 30 + 4 * 5 + 0], 1);
    ck_assert_int_eq(pm[30 + 5 * 5 + 2], 0);
    ck_assert_int_eq(pm[30 + 0 * 5 + 3], 1);
    int pads = 0;
    for (int i = 0; i < 60; i++) pads += pm[i];
    ck_assert_int_eq(pads, 10 + 12);
    /* targets */
    vt_tensor *labels = vt_batch_target(bt, "labels");
    ck_assert_ptr_nonnull(labels);
    ck_assert_int_eq(vt_i64(labels)[0], 7);
    ck_assert_int_eq(vt_i64(labels)[1], -1);
    vt_tensor *boxes = vt_batch_target(bt, "boxes"), *bimg = vt_batch_target(bt, "box_image"),
              *blab = vt_batch_target(bt, "box_labels"), *crowd = vt_batch_target(bt, "box_crowd");
    ck_assert(boxes && bimg && blab && crowd);
    ck_assert_int_eq(boxes->shape[0], 3);
    ck_assert_int_eq(boxes->shape[1], 4);
    const float *bx = vt_f32(boxes);
    /* a's box [1,1,3,3] on 5x4: cx 2/5, cy 2/4, w 2/5, h 2/4 */
    ck_assert_float_eq_tol(bx[0], 0.4f, 1e-6);
    ck_assert_float_eq_tol(bx[1], 0.5f, 1e-6);
    ck_assert_float_eq_tol(bx[2], 0.4f, 1e-6);
    ck_assert_float_eq_tol(bx[3], 0.5f, 1e-6);
    /* b's first box [0,3,3,6] on 3x6: cx 0.5, cy 0.75, w 1, h 0.5 */
    ck_assert_float_eq_tol(bx[4], 0.5f, 1e-6);
    ck_assert_float_eq_tol(bx[5], 0.75f, 1e-6);
    ck_assert_float_eq_tol(bx[6], 1.0f, 1e-6);
    ck_assert_float_eq_tol(bx[7], 0.5f, 1e-6);
    ck_assert(vt_i64(bimg)[0] == 0 && vt_i64(bimg)[1] == 1 && vt_i64(bimg)[2] == 1);
    ck_assert(vt_i64(blab)[0] == 2 && vt_i64(blab)[1] == 0 && vt_i64(blab)[2] == 1);
    ck_assert(((uint8_t *)crowd->data)[1] == 1 && ((uint8_t *)crowd->data)[2] == 0);
    vt_tensor *masks = vt_batch_target(bt, "masks");
    ck_assert_ptr_nonnull(masks);
    ck_assert(masks->shape[0] == 3 && masks->shape[1] == 6 && masks->shape[2] == 5);
    const uint8_t *m = masks->data;
    int set = 0;
    for (int i = 0; i < 30; i++) set += m[i];
    ck_assert_int_eq(set, 4); /* the 2x2 square, pycocotools-rasterised */
    ck_assert(m[1 * 5 + 1] && m[2 * 5 + 2] && !m[0] && !m[3 * 5 + 3]);
    for (int i = 30; i < 90; i++) ck_assert_int_eq(m[i], 0); /* b's instances have no mask */
    ck_assert_uint_eq(out.n_captions, 1);
    ck_assert_str_eq(out.captions[0], "a black square");
    ck_assert_int_eq(out.caption_image[0], 1);
    vt_collated_free(&out);
    vt_sample_free(&a);
    vt_sample_free(&b);
    vt_ctx_destroy(c);
}
END_TEST

START_TEST(test_collate_same_sizes_has_no_pad_mask_and_divisibility_pads) {
    vt_ctx *c = vt_test_ctx();
    vt_sample a, b;
    make_sample(&a, 4, 4, 10);
    make_sample(&b, 4, 4, 20);
    a.label = 1, b.label = 0;
    const vt_sample *list[2] = {&a, &b};
    vt_collated out;
    vt_err err = {0};
    ck_assert_int_eq(vt_collate(c, list, 2, NULL, &out, &err), VT_OK);
    ck_assert_ptr_null(out.batch.pad_mask);
    ck_assert_ptr_null(vt_batch_target(&out.batch, "boxes"));
    ck_assert_float_eq_tol(vt_f32(out.batch.images)[0], 10.0f / 255.0f, 1e-6);
    vt_collated_free(&out);
    vt_collate_opts o;
    vt_collate_opts_default(&o);
    o.size_divisibility = 8;
    o.targets = VT_COLLATE_BOXES | VT_COLLATE_LABELS; /* boxes requested: present even when empty */
    ck_assert_int_eq(vt_collate(c, list, 2, &o, &out, &err), VT_OK);
    ck_assert_int_eq(out.batch.images->shape[3], 8);
    ck_assert_ptr_nonnull(out.batch.pad_mask);
    vt_tensor *boxes = vt_batch_target(&out.batch, "boxes");
    ck_assert_ptr_nonnull(boxes);
    ck_assert_int_eq(boxes->shape[0], 0);
    vt_collated_free(&out);
    /* bad input: no samples, a sample without an image */
    ck_assert_int_eq(vt_collate(c, list, 0, NULL, &out, &err), VT_EINVAL);
    vt_sample empty;
    vt_sample_init(&empty);
    const vt_sample *bad[2] = {&a, &empty};
    ck_assert_int_eq(vt_collate(c, bad, 2, NULL, &out, &err), VT_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "sample 1"));
    vt_sample_free(&a);
    vt_sample_free(&b);
    vt_ctx_destroy(c);
}
END_TEST

/* Masks follow a whole pipeline: an RLE mask flipped and resized stays inside its (moved) box. */
START_TEST(test_rle_mask_follows_resize_and_flip) {
    vt_sample s;
    make_sample(&s, 8, 4, 0);
    vt_err err = {0};
    ck_assert_int_eq(vt_sample_add_instance(&s, (const float[]){0, 0, 2, 4}, 0, 1, false, 8, NULL, &err), VT_OK);
    /* columns 0-1 set: column-major runs [0, 8, 24] */
    ck_assert_int_eq(vt_sample_set_rle(&s, 0, 4, 8, (const uint32_t[]){0, 8, 24}, 3, &err), VT_OK);
    ck_assert_int_eq(vt_sample_set_rle(&s, 0, 4, 8, (const uint32_t[]){0, 8, 23}, 3, &err), VT_EFORMAT);
    vt_cfg *cfg = NULL;
    const char *y = "t: [{random_flip: {p: 1}}, {resize: {size: [8, 16]}}]";
    ck_assert_int_eq(vt_cfg_load_string(y, strlen(y), "t.yaml", VT_CFG_NO_BASE, &cfg, &err), VT_OK);
    vt_transforms *t = NULL;
    ck_assert_int_eq(vt_transforms_from_cfg(vt_cfg_get(vt_cfg_root(cfg), "t"), &t, &err), VT_OK);
    vt_cfg_free(cfg);
    ck_assert_int_eq(vt_transforms_apply(t, &s, 0, 0, 0, &err), VT_OK);
    ck_assert_float_eq(s.instances[0].box[0], 12);
    ck_assert_float_eq(s.instances[0].box[2], 16);
    uint8_t m[8 * 16];
    ck_assert_int_eq(vt_mask_rasterize(&s.instances[0].mask, 16, 8, m, &err), VT_OK);
    for (int yy = 0; yy < 8; yy++)
        for (int x = 0; x < 16; x++) ck_assert_msg(m[yy * 16 + x] == (x >= 12), "pixel (%d, %d)", x, yy);
    vt_transforms_free(t);
    vt_sample_free(&s);
}
END_TEST

VT_TEST_MAIN("data_collate", test_collate_pads_normalises_and_masks,
             test_collate_same_sizes_has_no_pad_mask_and_divisibility_pads, test_rle_mask_follows_resize_and_flip)
