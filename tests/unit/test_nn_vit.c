/* Vision transformer and LoRA: parity with the PyTorch reference model (tests/ref/vit_model.py) for the
 * logits and every parameter gradient; ViT-S/16 at full size when VISFT_VIT_S_REF names a reference file
 * (tests/integration/vit_s_parity.sh makes one with PyTorch and runs this test). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "golden.h"
#include "visft/nn.h"
#include "visft/safetensors.h"
#include "vt_test.h"

static vt_vit_config tiny_config(void) {
    vt_vit_config cfg = vt_vit_config_small16();
    cfg.image_size = 32, cfg.patch_size = 8, cfg.width = 32, cfg.depth = 2, cfg.heads = 2, cfg.mlp_hidden = 64;
    cfg.num_classes = 10;
    return cfg;
}

/* Loads `prefix + name` for every tensor of list from path. */
static void load_prefixed(vt_ctx *c, const vt_tensor_list *list, const char *path, const char *prefix) {
    vt_tensor_list renamed;
    vt_tensor_list_init(&renamed);
    for (size_t i = 0; i < list->n; i++) vt_tensor_list_add(&renamed, list->items[i].tensor, "%s%s", prefix, list->items[i].name);
    vt_err err = {0};
    ck_assert_msg(vt_tensor_list_load(c, &renamed, path, true, NULL, &err) == VT_OK, "%s", err.msg);
    vt_tensor_list_free(&renamed);
}

/* max|a-b| / max|b|: the error relative to the tensor's scale. */
static double rel_err(const vt_tensor *a, const float *b, int64_t n) {
    double num = 0, den = 1e-30;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs(vt_item_at(a, i) - b[i]);
        if (!(d <= num)) num = d;
        if (fabs(b[i]) > den) den = fabs(b[i]);
    }
    return num / den;
}

static void check_against(const char *path, const vt_vit_config *cfg, bool lora, double tol_logits, double tol_grad) {
    vt_ctx *c = vt_test_ctx();
    vt_err err = {0};
    vt_vit *m = vt_vit_create(c, cfg, &err);
    ck_assert_msg(m != NULL, "%s", err.msg);
    vt_tensor_list lora_params;
    vt_tensor_list_init(&lora_params);
    if (lora) {
        vt_lora_config lc = {.rank = 4, .alpha = 8.0, .n_slices = 3, .mask = 0x5};
        ck_assert_int_eq(vt_vit_add_lora(c, m, &lc, &lora_params, &err), VT_OK);
        vt_tensor_list_set_requires_grad(&m->params, false); /* ViSFT stage 2: only LoRA trains */
    }
    load_prefixed(c, &m->params, path, "param.");
    if (lora) load_prefixed(c, &lora_params, path, "param.");

    vt_st_file *f = NULL;
    ck_assert_int_eq(vt_st_open(path, &f, &err), VT_OK);
    const vt_st_tensor *ti = vt_st_find(f, "images"), *tl = vt_st_find(f, "logits"), *tg = vt_st_find(f, "gout");
    ck_assert(ti && tl && tg);
    vt_tensor *images = vt_empty(c, VT_F32, ti->ndim, ti->shape);
    vt_st_read_f32(f, ti, vt_f32(images), (size_t)vt_numel(images), &err);
    vt_tensor *gout = vt_empty(c, VT_F32, tg->ndim, tg->shape);
    vt_st_read_f32(f, tg, vt_f32(gout), (size_t)vt_numel(gout), &err);

    vt_vit_output o;
    ck_assert_msg(vt_vit_forward(c, m, images, &o) == VT_OK, "%s", vt_ctx_error(c)->msg);
    double e = rel_err(o.logits, tl->data, (int64_t)tl->numel);
    ck_assert_msg(e <= tol_logits, "logits: relative error %.3g > %.1g", e, tol_logits);
    ck_assert_msg(vt_backward_with(c, o.logits, gout) == VT_OK, "%s", vt_ctx_error(c)->msg);

    const vt_tensor_list *trained = lora ? &lora_params : &m->params;
    double worst_grad = 0;
    const char *worst_name = "";
    for (size_t i = 0; i < trained->n; i++) {
        char key[300];
        snprintf(key, sizeof key, "grad.%s", trained->items[i].name);
        const vt_st_tensor *g = vt_st_find(f, key);
        ck_assert_msg(g != NULL, "reference has no %s", key);
        vt_tensor *got = trained->items[i].tensor->grad;
        ck_assert_msg(got != NULL, "%s received no gradient", trained->items[i].name);
        e = rel_err(got, g->data, (int64_t)g->numel);
        ck_assert_msg(e <= tol_grad, "gradient of %s: relative error %.3g > %.1g", trained->items[i].name, e, tol_grad);
        if (e > worst_grad) worst_grad = e, worst_name = trained->items[i].name;
    }
    printf("%s: logits relative error %.2g; worst of %zu parameter gradients %.2g (%s)\n", path,
           rel_err(o.logits, tl->data, (int64_t)tl->numel), trained->n, worst_grad, worst_name);
    if (lora) /* frozen weights get no gradient at all */
        for (size_t i = 0; i < m->params.n; i++) ck_assert_ptr_null(m->params.items[i].tensor->grad);
    vt_st_close(f);
    vt_tensor_list_free(&lora_params);
    vt_vit_destroy(m);
    vt_ctx_destroy(c);
}

START_TEST(tiny_vit_matches_pytorch) {
    vt_vit_config cfg = tiny_config();
    check_against(VISFT_GOLDEN_DIR "/vit_tiny.safetensors", &cfg, false, 1e-5, 1e-4);
}
END_TEST

START_TEST(tiny_vit_lora_matches_pytorch) {
    vt_vit_config cfg = tiny_config();
    check_against(VISFT_GOLDEN_DIR "/vit_tiny_lora.safetensors", &cfg, true, 1e-5, 1e-4);
}
END_TEST

START_TEST(vit_s16_matches_pytorch) {
    const char *path = getenv("VISFT_VIT_S_REF");
    if (!path || !*path) {
        printf("vit_s16_matches_pytorch: VISFT_VIT_S_REF not set; run by tests/integration/vit_s_parity.sh\n");
        return;
    }
    vt_vit_config cfg = vt_vit_config_small16();
    check_against(path, &cfg, false, 1e-4, 1e-3);
}
END_TEST

START_TEST(fresh_lora_is_identity_and_merge_matches) {
    vt_ctx *c = vt_test_ctx();
    vt_err err = {0};
    vt_vit_config cfg = tiny_config();
    vt_vit *m = vt_vit_create(c, &cfg, &err);
    vt_tensor *x = vt_test_randn(c, VT_SHAPE(2, 3, 32, 32), 5, 1.0f);
    vt_vit_output a, b;
    ck_assert_int_eq(vt_vit_forward(c, m, x, &a), VT_OK);
    vt_tensor_list lp;
    vt_tensor_list_init(&lp);
    vt_lora_config lc = {.rank = 4, .alpha = 1.0, .n_slices = 3, .mask = 0x5};
    ck_assert_int_eq(vt_vit_add_lora(c, m, &lc, &lp, &err), VT_OK);
    ck_assert_int_eq((int)lp.n, 2 * 2 * cfg.depth); /* A and B for q and v, per block */
    ck_assert_int_eq(vt_vit_forward(c, m, x, &b), VT_OK);
    VT_ASSERT_CLOSE(b.logits, a.logits, 0, 0); /* B = 0: exactly the base model */
    /* give B values, then merging into qkv must reproduce the adapted output without the adapter */
    for (size_t i = 0; i < lp.n; i++)
        if (strstr(lp.items[i].name, "lora_B")) {
            float *p = vt_f32(lp.items[i].tensor);
            for (int64_t j = 0; j < vt_numel(lp.items[i].tensor); j++) p[j] = 0.01f * (float)((j * 7) % 13 - 6);
        }
    vt_vit_output adapted, merged;
    ck_assert_int_eq(vt_vit_forward(c, m, x, &adapted), VT_OK);
    for (int i = 0; i < cfg.depth; i++) ck_assert_int_eq(vt_lora_merge(c, m->blocks[i].qkv_lora, m->blocks[i].qkv_w), VT_OK);
    ck_assert_int_eq(vt_vit_forward(c, m, x, &merged), VT_OK);
    VT_ASSERT_CLOSE(merged.logits, adapted.logits, 1e-5, 1e-4);
    ck_assert_int_eq(vt_lora_merge(c, m->blocks[0].qkv_lora, m->blocks[0].qkv_w), VT_ESTATE); /* once only */
    vt_ctx_clear_error(c);
    for (int i = 0; i < cfg.depth; i++) ck_assert_int_eq(vt_lora_unmerge(c, m->blocks[i].qkv_lora, m->blocks[i].qkv_w), VT_OK);
    ck_assert_int_eq(vt_vit_forward(c, m, x, &b), VT_OK);
    VT_ASSERT_CLOSE(b.logits, adapted.logits, 1e-5, 1e-4);
    vt_tensor_list_free(&lp);
    vt_vit_destroy(m);
    vt_ctx_destroy(c);
}
END_TEST

START_TEST(bad_images_and_configs_are_errors) {
    vt_ctx *c = vt_test_ctx();
    vt_err err = {0};
    vt_vit_config cfg = tiny_config();
    cfg.heads = 3; /* 32 is not a multiple of 3 */
    ck_assert_ptr_null(vt_vit_create(c, &cfg, &err));
    ck_assert_msg(strstr(err.msg, "multiple of heads 3"), "%s", err.msg);
    cfg = tiny_config();
    vt_vit *m = vt_vit_create(c, &cfg, &err);
    vt_vit_output o;
    ck_assert_int_eq(vt_vit_forward(c, m, vt_zeros(c, VT_F32, VT_SHAPE(1, 3, 30, 32)), &o), VT_ESHAPE);
    ck_assert_msg(strstr(vt_ctx_error(c)->msg, "multiples of 8"), "%s", vt_ctx_error(c)->msg);
    vt_vit_destroy(m);
    vt_ctx_destroy(c);
}
END_TEST

START_TEST(truncated_checkpoint_is_an_error) {
    vt_ctx *c = vt_test_ctx();
    vt_err err = {0};
    vt_vit_config cfg = tiny_config();
    vt_vit *m = vt_vit_create(c, &cfg, &err);
    /* the golden file names parameters "param.*": loading it unprefixed lists what is missing and unexpected */
    ck_assert_int_ne(vt_tensor_list_load(c, &m->params, VISFT_GOLDEN_DIR "/vit_tiny.safetensors", false, NULL, &err),
                     VT_OK);
    ck_assert_msg(strstr(err.msg, "missing (patch_embed.proj.weight"), "%s", err.msg);
    ck_assert_msg(strstr(err.msg, "unexpected"), "%s", err.msg);
    vt_vit_destroy(m);
    vt_ctx_destroy(c);
}
END_TEST

VT_TEST_MAIN("nn_vit", tiny_vit_matches_pytorch, tiny_vit_lora_matches_pytorch, vit_s16_matches_pytorch,
             fresh_lora_is_identity_and_merge_matches, bad_images_and_configs_are_errors,
             truncated_checkpoint_is_an_error)
