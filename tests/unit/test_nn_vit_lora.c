/* LoRA on a linear layer: the adapted output is W x + b + (alpha/r)·B_s A_s x on the enabled output slices
 * only, applied exactly once whether merged or not; merge/unmerge round-trip the base weight; dropout acts on
 * the adapter input in training mode only; LoRA weights save and load on their own. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "visft/nn.h"
#include "visft/ops.h"
#include "testutil.h"
#include "vt_test.h"

static void fill(vt_tensor *t, int salt) {
    float *p = vt_f32(t);
    for (int64_t j = 0; j < vt_numel(t); j++) p[j] = 0.05f * (float)((j * 7 + salt) % 13 - 6);
}

/* reference: y = x Wᵀ + b, then slice s += scaling · x Aᵀ Bᵀ for every enabled slice, in plain loops */
static void reference(const vt_lora *l, const float *x, int64_t n, const float *w, const float *b, float *y) {
    int64_t in = l->in_features, out = l->out_features, sl = out / l->cfg.n_slices, r = l->cfg.rank;
    double scaling = l->cfg.alpha / l->cfg.rank;
    for (int64_t i = 0; i < n; i++)
        for (int64_t o = 0; o < out; o++) {
            double acc = b[o];
            for (int64_t k = 0; k < in; k++) acc += (double)x[i * in + k] * w[o * in + k];
            int s = (int)(o / sl);
            if (l->A[s]) {
                const float *A = vt_f32(l->A[s]), *B = vt_f32(l->B[s]);
                for (int64_t q = 0; q < r; q++) {
                    double ax = 0;
                    for (int64_t k = 0; k < in; k++) ax += (double)A[q * in + k] * x[i * in + k];
                    acc += scaling * B[(o - s * sl) * r + q] * ax;
                }
            }
            y[i * out + o] = (float)acc;
        }
}

START_TEST(forward_adds_the_update_once_on_enabled_slices) {
    vt_ctx *c = vt_test_ctx();
    vt_err err = {0};
    vt_lora_config lc = {.rank = 3, .alpha = 6.0, .n_slices = 3, .mask = 0x5};
    vt_lora *l = vt_lora_create(c, &lc, 8, 12, &err);
    ck_assert_ptr_nonnull(l);
    ck_assert_ptr_null(l->A[1]); /* k slice: no adapter */
    /* A is Kaiming-uniform(a=√5): within ±1/√in and not constant; B starts at zero */
    float lo = 1, hi = -1;
    for (int64_t j = 0; j < vt_numel(l->A[0]); j++) {
        float v = vt_f32(l->A[0])[j];
        lo = v < lo ? v : lo, hi = v > hi ? v : hi;
        ck_assert(fabsf(v) <= 1.0f / sqrtf(8.0f));
    }
    ck_assert(hi - lo > 0.2f);
    for (int64_t j = 0; j < vt_numel(l->B[2]); j++) ck_assert(vt_f32(l->B[2])[j] == 0.0f);
    fill(l->B[0], 1), fill(l->B[2], 5);
    vt_tensor *w = vt_test_param(c, VT_SHAPE(12, 8), 3, 0.3f), *b = vt_test_param(c, VT_SHAPE(12), 4, 0.3f);
    vt_tensor *x = vt_test_randn(c, VT_SHAPE(5, 8), 5, 1.0f);
    float want[60];
    reference(l, vt_f32(x), 5, vt_f32(w), vt_f32(b), want);
    vt_tensor *y = vt_lora_forward(c, l, x, w, b);
    vt_tensor *ref = vt_from_f32(c, VT_SHAPE(5, 12), want);
    VT_ASSERT_CLOSE(y, ref, 1e-5, 1e-5);
    /* merged: the base layer alone gives the same output (the update is not added a second time) */
    ck_assert_int_eq(vt_lora_merge(c, l, w), VT_OK);
    VT_ASSERT_CLOSE(vt_lora_forward(c, l, x, w, b), ref, 1e-5, 1e-5);
    ck_assert_int_eq(vt_lora_unmerge(c, l, w), VT_OK);
    VT_ASSERT_CLOSE(vt_lora_forward(c, l, x, w, b), ref, 1e-5, 1e-5);
    vt_tensor_release(w), vt_tensor_release(b);
    vt_lora_destroy(l);
    vt_ctx_destroy(c);
}
END_TEST

START_TEST(merge_then_unmerge_restores_the_weight) {
    vt_ctx *c = vt_test_ctx();
    vt_err err = {0};
    vt_lora_config lc = {.rank = 4, .alpha = 16.0, .n_slices = 1, .mask = 0x1};
    vt_lora *l = vt_lora_create(c, &lc, 16, 8, &err);
    fill(l->B[0], 2);
    vt_tensor *w = vt_test_param(c, VT_SHAPE(8, 16), 7, 0.5f);
    float before[128];
    memcpy(before, vt_f32(w), sizeof before);
    ck_assert_int_eq(vt_lora_merge(c, l, w), VT_OK);
    ck_assert(memcmp(before, vt_f32(w), sizeof before) != 0);
    ck_assert_int_eq(vt_lora_merge(c, l, w), VT_ESTATE); /* never twice */
    vt_ctx_clear_error(c);
    ck_assert_int_eq(vt_lora_unmerge(c, l, w), VT_OK);
    for (int i = 0; i < 128; i++) ck_assert_msg(fabsf(vt_f32(w)[i] - before[i]) <= 1e-6f, "w[%d]", i);
    ck_assert_int_eq(vt_lora_unmerge(c, l, w), VT_ESTATE);
    vt_ctx_clear_error(c);
    vt_tensor *wrong = vt_test_param(c, VT_SHAPE(8, 15), 8, 0.5f);
    ck_assert_int_eq(vt_lora_merge(c, l, wrong), VT_ESHAPE);
    vt_ctx_clear_error(c);
    vt_tensor_release(w), vt_tensor_release(wrong);
    vt_lora_destroy(l);
    vt_ctx_destroy(c);
}
END_TEST

START_TEST(dropout_only_in_training_mode) {
    vt_ctx *c = vt_test_ctx();
    vt_err err = {0};
    vt_lora_config lc = {.rank = 4, .alpha = 4.0, .dropout = 0.5, .n_slices = 1, .mask = 0x1};
    vt_lora *l = vt_lora_create(c, &lc, 16, 8, &err);
    fill(l->B[0], 3);
    vt_tensor *w = vt_test_param(c, VT_SHAPE(8, 16), 7, 0.5f), *x = vt_test_randn(c, VT_SHAPE(4, 16), 2, 1.0f);
    float want[32];
    reference(l, vt_f32(x), 4, vt_f32(w), (float[8]){0}, want);
    vt_tensor *ref = vt_from_f32(c, VT_SHAPE(4, 8), want);
    vt_set_training(c, false);
    VT_ASSERT_CLOSE(vt_lora_forward(c, l, x, w, NULL), ref, 1e-5, 1e-5);
    vt_set_training(c, true);
    vt_tensor *y = vt_lora_forward(c, l, x, w, NULL);
    double diff = 0;
    for (int i = 0; i < 32; i++) diff += fabs(vt_item_at(y, i) - want[i]);
    ck_assert_msg(diff > 1e-3, "dropout changed nothing in training mode");
    vt_tensor_release(w);
    vt_lora_destroy(l);
    vt_ctx_destroy(c);
}
END_TEST

START_TEST(only_lora_weights_train_and_they_save_on_their_own) {
    vt_ctx *c = vt_test_ctx();
    vt_err err = {0};
    vt_vit_config cfg;
    ck_assert_int_eq(vt_vit_preset("tiny", &cfg, &err), VT_OK);
    vt_vit *m = vt_vit_create(c, &cfg, &err);
    vt_tensor_list lp;
    vt_tensor_list_init(&lp);
    vt_lora_config lc = {.rank = 4, .alpha = 8, .n_slices = 3, .mask = 0x5};
    ck_assert_int_eq(vt_vit_add_lora(c, m, &lc, &lp, &err), VT_OK);
    ck_assert_int_eq(vt_vit_add_lora(c, m, &lc, NULL, &err), VT_ESTATE); /* one adapter per layer */
    vt_tensor_list_set_requires_grad(&m->params, false);
    for (size_t i = 0; i < lp.n; i++)
        if (strstr(lp.items[i].name, "lora_B")) fill(lp.items[i].tensor, (int)i);
    vt_tensor *x = vt_test_randn(c, VT_SHAPE(2, 3, 32, 32), 9, 1.0f);
    vt_vit_output o;
    ck_assert_int_eq(vt_vit_forward(c, m, x, &o), VT_OK);
    ck_assert_int_eq(vt_backward(c, vt_sum(c, o.logits, 0, NULL, false)), VT_OK);
    for (size_t i = 0; i < m->params.n; i++) ck_assert_ptr_null(m->params.items[i].tensor->grad);
    for (size_t i = 0; i < lp.n; i++) ck_assert_ptr_nonnull(lp.items[i].tensor->grad);
    ck_assert_str_eq(lp.items[0].name, "blocks.0.attn.qkv.lora_A.q.weight");

    char path[] = "/tmp/visft_lora_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert_msg(vt_tensor_list_save(&lp, path, &err) == VT_OK, "%s", err.msg);
    /* a fresh model with the same base weights and freshly initialised adapters, then the saved adapters */
    vt_vit *m2 = vt_vit_create(c, &cfg, &err);
    vt_tensor_list lp2;
    vt_tensor_list_init(&lp2);
    ck_assert_int_eq(vt_vit_add_lora(c, m2, &lc, &lp2, &err), VT_OK);
    ck_assert_msg(vt_tensor_list_load(c, &lp2, path, false, NULL, &err) == VT_OK, "%s", err.msg); /* exact key set */
    vt_no_grad_begin(c);
    vt_vit_output a, b;
    ck_assert_int_eq(vt_vit_forward(c, m, x, &a), VT_OK);
    ck_assert_int_eq(vt_vit_forward(c, m2, x, &b), VT_OK);
    vt_no_grad_end(c);
    VT_ASSERT_CLOSE(b.logits, a.logits, 0, 0);
    /* the adapter file is not a backbone checkpoint: loading it as one lists what is missing */
    ck_assert_int_ne(vt_tensor_list_load(c, &m2->params, path, false, NULL, &err), VT_OK);
    ck_assert_msg(strstr(err.msg, "missing"), "%s", err.msg);
    unlink(path);
    vt_tensor_list_free(&lp), vt_tensor_list_free(&lp2);
    vt_vit_destroy(m), vt_vit_destroy(m2);
    vt_ctx_destroy(c);
}
END_TEST

START_TEST(bad_lora_configs_are_errors) {
    vt_ctx *c = vt_test_ctx();
    vt_err err = {0};
    vt_lora_config bad[] = {{.rank = 0, .alpha = 1, .n_slices = 3, .mask = 1},
                            {.rank = 4, .alpha = 1, .n_slices = 5, .mask = 1},
                            {.rank = 4, .alpha = 1, .n_slices = 3, .mask = 0},
                            {.rank = 4, .alpha = 1, .n_slices = 3, .mask = 0x8},
                            {.rank = 4, .alpha = 1, .dropout = 1.0, .n_slices = 3, .mask = 1}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ck_assert_ptr_null(vt_lora_create(c, &bad[i], 8, 12, &err));
        ck_assert_msg(strstr(err.msg, "lora: invalid config"), "%s", err.msg);
    }
    vt_lora_config odd = {.rank = 4, .alpha = 1, .n_slices = 3, .mask = 1};
    ck_assert_ptr_null(vt_lora_create(c, &odd, 8, 10, &err)); /* 10 outputs do not split in 3 */
    vt_ctx_destroy(c);
}
END_TEST

VT_TEST_MAIN("nn_vit_lora", forward_adds_the_update_once_on_enabled_slices, merge_then_unmerge_restores_the_weight,
             dropout_only_in_training_mode, only_lora_weights_train_and_they_save_on_their_own,
             bad_lora_configs_are_errors)
