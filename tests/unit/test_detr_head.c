/* detr head, loaded from the build tree through the registry: output shapes, a finite loss whose gradient
 * reaches every parameter, a short AdamW run on a toy detection problem drives the loss down clearly, and bad
 * params and batches are errors. */
#include <math.h>
#include <string.h>

#include "visft/config.h"
#include "visft/registry.h"
#include "visft/visft.h"
#include "head_fixture.h"
#include "vt_test.h"

static vt_status head_open(head_t *t, vt_ctx *ctx, const char *yaml, int64_t width, vt_err *err) {
    return head_open_named(t, "detr", ctx, yaml, width, 8, err);
}

/* Toy detection data on a 4x4 map of D channels: image b holds one object of class b % C in the grid cell
 * (r, c) = ((b * 5) % 4, (b * 3) % 4); its cell carries a class-coded pattern, the rest small noise. */
typedef struct toy_t {
    vt_tensor *x, *boxes, *labels, *image, *images;
    vt_named_tensor tg[3];
    vt_batch b;
} toy_t;

static void toy(vt_ctx *ctx, toy_t *t, int64_t B, int64_t C, int64_t D) {
    const int64_t G = 4;
    t->x = vt_zeros(ctx, VT_F32, VT_SHAPE(B, D, G, G));
    t->boxes = vt_zeros(ctx, VT_F32, VT_SHAPE(B, 4));
    t->labels = vt_zeros(ctx, VT_I64, VT_SHAPE(B));
    t->image = vt_zeros(ctx, VT_I64, VT_SHAPE(B));
    t->images = vt_zeros(ctx, VT_F32, VT_SHAPE(B, 3, 32, 32));
    float *px = vt_f32(t->x), *pb = vt_f32(t->boxes);
    for (int64_t b = 0; b < B; b++) {
        int64_t k = b % C, r = (b * 5) % G, c = (b * 3) % G;
        for (int64_t d = 0; d < D; d++)
            for (int64_t i = 0; i < G * G; i++)
                px[(b * D + d) * G * G + i] = 0.05f * (float)((b * 7 + d * 3 + i) % 5) - 0.1f;
        for (int64_t d = 0; d < D; d++) px[(b * D + d) * G * G + r * G + c] += (d % C == k) ? 2.0f : -0.5f;
        pb[b * 4 + 0] = ((float)c + 0.5f) / (float)G;
        pb[b * 4 + 1] = ((float)r + 0.5f) / (float)G;
        pb[b * 4 + 2] = 1.0f / (float)G;
        pb[b * 4 + 3] = 1.0f / (float)G;
        vt_i64(t->labels)[b] = k;
        vt_i64(t->image)[b] = b;
    }
    t->tg[0] = (vt_named_tensor){"boxes", t->boxes, 0};
    t->tg[1] = (vt_named_tensor){"box_labels", t->labels, 0};
    t->tg[2] = (vt_named_tensor){"box_image", t->image, 0};
    t->b = (vt_batch){.struct_size = sizeof t->b, .size = B, .images = t->images, .targets = {t->tg, 3}};
}

static const char *tiny_yaml = "num_classes: 3\nenc_width: 16\nenc_layers: 1\nenc_heads: 2\nenc_ffn: 32\n"
                               "dec_width: 16\ndec_layers: 2\ndec_heads: 2\ndec_ffn: 32\nnum_queries: 5\ntop_k: 4\n";

START_TEST(test_shapes_loss_and_gradients) {
    vt_ctx *ctx = vt_ctx_create(NULL);
    vt_set_training(ctx, true);
    head_t t;
    vt_err err = {0};
    ck_assert_msg(head_open(&t, ctx, tiny_yaml, 8, &err) == VT_OK, "%s", err.msg);
    toy_t d;
    toy(ctx, &d, 3, 3, 8);
    vt_tensor *total;
    vt_named_tensors terms;
    ck_assert_msg(t.comp->vt.head.loss(t.h, ctx, d.x, &d.b, &total, &terms, &err) == VT_OK, "%s", err.msg);
    ck_assert_uint_eq(terms.n, 3);
    ck_assert_str_eq(terms.items[0].name, "ce");
    ck_assert_str_eq(terms.items[1].name, "bbox");
    ck_assert_str_eq(terms.items[2].name, "giou");
    double L = vt_f32(vt_contiguous(ctx, total))[0];
    ck_assert_msg(isfinite(L) && L > 0, "loss %g", L);
    ck_assert_int_eq(vt_backward(ctx, total), VT_OK);
    vt_named_tensors ps;
    ck_assert_int_eq(t.comp->vt.head.parameters(t.h, &ps, &err), VT_OK);
    ck_assert_uint_gt(ps.n, 40);
    for (size_t i = 0; i < ps.n; i++) {
        vt_tensor *g = ps.items[i].tensor->grad;
        ck_assert_msg(g != NULL, "%s has no gradient", ps.items[i].name);
        double s = 0;
        for (int64_t j = 0; j < vt_numel(g); j++) s += fabs(vt_f32(g)[j]);
        /* the first decoder layer's queries start at zero (DETR's tgt), so its self-attention value weight
         * multiplies zeros: it gets a gradient, and it is exactly zero */
        if (strcmp(ps.items[i].name, "decoder.0.self_attn.v.weight") == 0) continue;
        ck_assert_msg(s > 0 && isfinite(s), "%s: |grad| = %g", ps.items[i].name, s);
    }
    vt_set_training(ctx, false);
    vt_named_tensors outs;
    ck_assert_msg(t.comp->vt.head.predict(t.h, ctx, d.x, &d.b, &outs, &err) == VT_OK, "%s", err.msg);
    ck_assert_uint_eq(outs.n, 4);
    const char *names[] = {"boxes", "scores", "labels", "box_image"};
    for (int i = 0; i < 4; i++) {
        ck_assert_str_eq(outs.items[i].name, names[i]);
        ck_assert_int_eq(outs.items[i].tensor->shape[0], 12); /* 3 images x top_k 4 */
    }
    ck_assert_int_eq(outs.items[0].tensor->shape[1], 4);
    for (int64_t i = 0; i < 12; i++) {
        ck_assert_int_eq(vt_i64(outs.items[3].tensor)[i], i / 4);
        ck_assert_int_lt(vt_i64(outs.items[2].tensor)[i], 3);
        float s = vt_f32(outs.items[1].tensor)[i];
        ck_assert(s >= 0 && s <= 1);
        if (i % 4) ck_assert(s <= vt_f32(outs.items[1].tensor)[i - 1]); /* sorted by score */
        const float *b = vt_f32(outs.items[0].tensor) + i * 4;
        ck_assert(b[2] >= 0 && b[2] <= 32 && b[3] >= 0 && b[3] <= 32); /* pixels of the 32 px image */
    }
    head_close(&t);
    vt_ctx_destroy(ctx);
}
END_TEST

START_TEST(test_head_learns_a_toy_detection_problem) {
    vt_ctx *ctx = vt_ctx_create(NULL);
    vt_set_training(ctx, true);
    head_t t;
    vt_err err = {0};
    ck_assert_msg(head_open(&t, ctx, tiny_yaml, 8, &err) == VT_OK, "%s", err.msg);
    toy_t d;
    toy(ctx, &d, 6, 3, 8);
    vt_named_tensors ps;
    ck_assert_int_eq(t.comp->vt.head.parameters(t.h, &ps, &err), VT_OK);
    vt_tensor *list[256];
    ck_assert_uint_le(ps.n, 256);
    for (size_t i = 0; i < ps.n; i++) list[i] = ps.items[i].tensor;
    vt_optim_options oo = vt_adamw_options();
    vt_optim *opt = vt_optim_create(ctx, &oo);
    ck_assert_int_ge(vt_optim_add_group(opt, list, ps.n, 1e-3, 0), 0);
    double first = 0, last = 0;
    for (int s = 0; s < 100; s++) {
        vt_scope_push(ctx);
        vt_tensor *total;
        vt_named_tensors terms;
        ck_assert_msg(t.comp->vt.head.loss(t.h, ctx, d.x, &d.b, &total, &terms, &err) == VT_OK, "%s", err.msg);
        last = vt_f32(total)[0];
        if (s == 0) first = last;
        ck_assert_int_eq(vt_backward(ctx, total), VT_OK);
        ck_assert_int_eq(vt_optim_step(opt), VT_OK);
        vt_optim_zero_grad(opt);
        vt_scope_pop(ctx);
    }
    ck_assert_msg(last < 0.5 * first, "loss %g -> %g", first, last);
    vt_optim_destroy(opt);
    head_close(&t);
    vt_ctx_destroy(ctx);
}
END_TEST

START_TEST(test_bad_params_and_batches_are_errors) {
    vt_ctx *ctx = vt_ctx_create(NULL);
    head_t t;
    vt_err err = {0};
    ck_assert_int_ne(head_open(&t, ctx, "enc_width: 16\n", 8, &err), VT_OK);
    ck_assert_msg(strstr(err.msg, "num_classes"), "%s", err.msg);
    head_close(&t);
    ck_assert_int_ne(head_open(&t, ctx, "num_classes: 3\nenc_width: 18\nenc_heads: 4\n", 8, &err), VT_OK);
    ck_assert_msg(strstr(err.msg, "enc_width"), "%s", err.msg);
    head_close(&t);
    ck_assert_msg(head_open(&t, ctx, tiny_yaml, 8, &err) == VT_OK, "%s", err.msg);
    toy_t d;
    toy(ctx, &d, 3, 3, 8);
    vt_tensor *total;
    vt_named_tensors terms;
    vt_batch none = {.struct_size = sizeof none, .size = 3};
    ck_assert_int_ne(t.comp->vt.head.loss(t.h, ctx, d.x, &none, &total, &terms, &err), VT_OK);
    ck_assert_msg(strstr(err.msg, "boxes"), "%s", err.msg);
    vt_i64(d.labels)[1] = 3; /* == num_classes: out of range */
    ck_assert_int_ne(t.comp->vt.head.loss(t.h, ctx, d.x, &d.b, &total, &terms, &err), VT_OK);
    ck_assert_msg(strstr(err.msg, "box_labels"), "%s", err.msg);
    vt_i64(d.labels)[1] = 1;
    vt_i64(d.image)[2] = 7;
    ck_assert_int_ne(t.comp->vt.head.loss(t.h, ctx, d.x, &d.b, &total, &terms, &err), VT_OK);
    ck_assert_msg(strstr(err.msg, "box_image"), "%s", err.msg);
    vt_i64(d.image)[2] = 2;
    vt_tensor *bad = vt_zeros(ctx, VT_F32, VT_SHAPE(3, 5, 4, 4));
    ck_assert_int_ne(t.comp->vt.head.loss(t.h, ctx, bad, &d.b, &total, &terms, &err), VT_OK);
    ck_assert_msg(strstr(err.msg, "features"), "%s", err.msg);
    head_close(&t);
    vt_ctx_destroy(ctx);
}
END_TEST

VT_TEST_MAIN("detr_head", test_shapes_loss_and_gradients, test_head_learns_a_toy_detection_problem,
             test_bad_params_and_batches_are_errors)
