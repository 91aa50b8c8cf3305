/* The ViT family against the real reference implementations: timm's Eva (EVA01 pre-norm and EVA02-E
 * post-norm, q/v bias), timm's VisionTransformer (norm_pre, QuickGELU) and open_clip's VisionTransformer (no
 * patch bias, ln_pre, proj, QuickGELU), scaled down, random weights (tests/ref/gen_vit_family.py; golden files
 * committed). The patch feature map and the projected embedding must match to a relative error of 1e-4, at the
 * native size and at a non-native one (position embedding resampled as each reference does). Also: presets,
 * gradient checkpointing, and the q/v-only bias's gradients. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "golden.h"
#include "visft/nn.h"
#include "visft/safetensors.h"
#include "vt_test.h"

/* the scaled-down shape every reference shares: width 64, depth 2, 4 heads, patch 8, 32 px, embedding 48 */
static vt_vit_config small(int mlp, vt_act_kind act, vt_qkv_bias bias, bool ln_pre, bool patch_bias, double eps,
                           bool proj_bias, bool post_norm) {
    vt_vit_config c = {.image_size = 32, .patch_size = 8, .in_chans = 3, .width = 64, .depth = 2, .heads = 4,
                       .mlp_hidden = mlp, .act = act, .qkv_bias = bias, .class_token = true, .ln_pre = ln_pre,
                       .final_norm = true, .ln_eps = eps, .patch_bias = patch_bias, .post_norm = post_norm,
                       .embed_dim = 48, .proj_bias = proj_bias, .pos_antialias = true};
    return c;
}

static double rel_err(const vt_tensor *a, const vt_st_tensor *b) {
    const float *r = b->data;
    double num = 0, den = 1e-30;
    for (int64_t i = 0; i < (int64_t)b->numel; i++) {
        double d = fabs(vt_item_at(a, i) - r[i]);
        if (!(d <= num)) num = d;
        if (fabs(r[i]) > den) den = fabs(r[i]);
    }
    return num / den;
}

static vt_tensor *read(vt_ctx *c, vt_st_file *f, const char *name) {
    const vt_st_tensor *t = vt_st_find(f, name);
    ck_assert_msg(t != NULL, "%s: no %s", vt_st_path(f), name);
    vt_tensor *x = vt_empty(c, VT_F32, t->ndim, t->shape);
    vt_err err = {0};
    ck_assert_msg(vt_st_read_f32(f, t, vt_f32(x), (size_t)vt_numel(x), &err) == VT_OK, "%s", err.msg);
    return x;
}

/* Loads the "param." tensors strictly (every model parameter present, no extra param.* key) and compares the
 * outputs for the inputs tagged `tag` ("" native, "big." resampled) with expected outputs tagged `want`. */
static void check_case(vt_ctx *c, vt_vit *m, vt_st_file *f, const char *tag, const char *want) {
    char key[64];
    snprintf(key, sizeof key, "%simages", tag);
    vt_tensor *images = read(c, f, key);
    vt_vit_output o;
    ck_assert_msg(vt_vit_forward(c, m, images, &o) == VT_OK, "%s", vt_ctx_error(c)->msg);
    const char *what[] = {"features", "embedding"};
    vt_tensor *got[] = {o.features, o.embedding};
    for (int i = 0; i < 2; i++) {
        snprintf(key, sizeof key, "%s%s", want, what[i]);
        const vt_st_tensor *ref = vt_st_find(f, key);
        ck_assert_msg(ref && ref->ndim == got[i]->ndim && ref->numel == (size_t)vt_numel(got[i]), "%s shape", key);
        for (int d = 0; d < ref->ndim; d++) ck_assert_int_eq(ref->shape[d], got[i]->shape[d]);
        double e = rel_err(got[i], ref);
        printf("  %s %-20s relative error %.2g\n", vt_st_path(f) + strlen(VISFT_GOLDEN_DIR) + 1, key, e);
        ck_assert_msg(e <= 1e-4, "%s %s: relative error %.3g > 1e-4", vt_st_path(f), key, e);
    }
}

static void parity(const char *file, vt_vit_config cfg, bool noaa_too) {
    vt_ctx *c = vt_test_ctx();
    vt_err err = {0};
    char path[512];
    snprintf(path, sizeof path, "%s/%s", VISFT_GOLDEN_DIR, file);
    vt_st_file *f = NULL;
    ck_assert_msg(vt_st_open(path, &f, &err) == VT_OK, "%s", err.msg);
    vt_vit *m = vt_vit_create(c, &cfg, &err);
    ck_assert_msg(m != NULL, "%s", err.msg);
    vt_tensor_list named;
    vt_tensor_list_init(&named);
    for (size_t i = 0; i < m->params.n; i++) vt_tensor_list_add(&named, m->params.items[i].tensor, "param.%s", m->params.items[i].name);
    ck_assert_msg(vt_tensor_list_load(c, &named, path, true, NULL, &err) == VT_OK, "%s", err.msg);
    size_t in_file = 0;
    for (size_t i = 0; i < vt_st_count(f); i++) in_file += strncmp(vt_st_tensor_at(f, i)->name, "param.", 6) == 0;
    ck_assert_int_eq((int)in_file, (int)m->params.n); /* the model has exactly the reference's parameters */
    check_case(c, m, f, "", "");
    check_case(c, m, f, "big.", "big.");
    if (noaa_too) { /* EVA-CLIP's resample: bicubic without antialias */
        m->cfg.pos_antialias = false;
        check_case(c, m, f, "big.", "bignoaa.");
    }
    vt_tensor_list_free(&named);
    vt_vit_destroy(m);
    vt_st_close(f);
    vt_ctx_destroy(c);
}

START_TEST(eva01_matches_timm_eva) {
    parity("vit_family_eva01.safetensors", small(128, VT_ACT_GELU, VT_QKV_BIAS_QV, false, true, 1e-6, true, false), true);
}
END_TEST

START_TEST(eva02e_post_norm_matches_timm_eva) {
    parity("vit_family_eva02e.safetensors", small(128, VT_ACT_GELU, VT_QKV_BIAS_QV, false, true, 1e-6, true, true), true);
}
END_TEST

START_TEST(clip_layout_matches_timm_vision_transformer) {
    parity("vit_family_timm_vit.safetensors",
           small(192, VT_ACT_QUICK_GELU, VT_QKV_BIAS_ALL, true, false, 1e-6, true, false), false);
}
END_TEST

START_TEST(openclip_matches_open_clip_vision_transformer) {
    parity("vit_family_openclip.safetensors",
           small(256, VT_ACT_QUICK_GELU, VT_QKV_BIAS_ALL, true, false, 1e-5, false, false), false);
}
END_TEST

START_TEST(presets_have_the_published_shapes) {
    vt_vit_config cfg;
    vt_err err = {0};
    ck_assert_int_eq(vt_vit_preset("eva01-g-14", &cfg, &err), VT_OK);
    ck_assert(cfg.width == 1408 && cfg.depth == 40 && cfg.heads == 16 && cfg.mlp_hidden == 6144 && cfg.patch_size == 14);
    ck_assert(cfg.qkv_bias == VT_QKV_BIAS_QV && !cfg.post_norm && cfg.embed_dim == 1024 && cfg.proj_bias);
    ck_assert_int_eq(vt_vit_preset("eva02-e-14", &cfg, &err), VT_OK);
    ck_assert(cfg.width == 1792 && cfg.depth == 64 && cfg.heads == 16 && cfg.mlp_hidden == 15360 && cfg.post_norm);
    ck_assert_int_eq(vt_vit_preset("openclip-vit-l-14-quickgelu", &cfg, &err), VT_OK);
    ck_assert(cfg.width == 1024 && cfg.act == VT_ACT_QUICK_GELU && cfg.ln_pre && !cfg.patch_bias && !cfg.proj_bias);
    ck_assert(cfg.embed_dim == 768 && cfg.ln_eps == 1e-5);
    ck_assert_int_eq(vt_vit_preset("openclip-vit-b-16", &cfg, &err), VT_OK);
    ck_assert(cfg.width == 768 && cfg.patch_size == 16 && cfg.act == VT_ACT_GELU && cfg.embed_dim == 512);
    /* every preset is a valid config; the small ones build */
    for (const char *const *n = vt_vit_preset_names(); *n; n++) ck_assert_int_eq(vt_vit_preset(*n, &cfg, &err), VT_OK);
    ck_assert_int_eq(vt_vit_preset("eva01-g14", &cfg, &err), VT_ENOTFOUND);
    ck_assert_msg(strstr(err.msg, "did you mean 'eva01-g-14'"), "%s", err.msg);
    ck_assert_int_eq(vt_vit_preset("resnet50", &cfg, &err), VT_ENOTFOUND);
    ck_assert_msg(strstr(err.msg, "unknown preset 'resnet50'"), "%s", err.msg);
    vt_ctx *c = vt_test_ctx();
    ck_assert_int_eq(vt_vit_preset("tiny", &cfg, &err), VT_OK);
    vt_vit *m = vt_vit_create(c, &cfg, &err);
    ck_assert_msg(m != NULL, "%s", err.msg);
    vt_vit_output o;
    ck_assert_int_eq(vt_vit_forward(c, m, vt_test_randn(c, VT_SHAPE(2, 3, 32, 48), 1, 1.0f), &o), VT_OK);
    ck_assert(o.features->shape[1] == 64 && o.features->shape[2] == 4 && o.features->shape[3] == 6);
    ck_assert(o.logits->shape[1] == 10 && o.embedding == o.pooled);
    vt_vit_destroy(m);
    cfg.num_classes = 10, cfg.embed_dim = 8; /* a classifier and a projection are both "head": one at a time */
    ck_assert_ptr_null(vt_vit_create(c, &cfg, &err));
    ck_assert_msg(strstr(err.msg, "at most one"), "%s", err.msg);
    vt_ctx_destroy(c);
}
END_TEST

/* sum(embedding · R) and its gradients, with or without checkpointing, LoRA dropout on (its mask must repeat in
 * the recomputation) */
static void grads(vt_vit_config cfg, bool ckpt, double *loss_out, vt_tensor_list *out_grads, vt_ctx *keep) {
    vt_ctx_options co = {.threads = 2, .seed = 9};
    vt_ctx *c = vt_ctx_create(&co);
    vt_set_training(c, true); /* LoRA dropout active: the recomputation must redraw the same masks */
    vt_err err = {0};
    cfg.grad_checkpoint = ckpt;
    vt_vit *m = vt_vit_create(c, &cfg, &err);
    vt_tensor_list lp;
    vt_tensor_list_init(&lp);
    vt_lora_config lc = {.rank = 4, .alpha = 8, .dropout = 0.3, .n_slices = 3, .mask = 0x5};
    ck_assert_int_eq(vt_vit_add_lora(c, m, &lc, &lp, &err), VT_OK);
    for (size_t i = 0; i < lp.n; i++) /* non-zero B so the adapter (and its dropout) matters */
        if (strstr(lp.items[i].name, "lora_B")) {
            float *p = vt_f32(lp.items[i].tensor);
            for (int64_t j = 0; j < vt_numel(lp.items[i].tensor); j++) p[j] = 0.05f * (float)((j * 7) % 13 - 6);
        }
    vt_tensor *x = vt_test_randn(c, VT_SHAPE(2, 3, 32, 32), 5, 1.0f);
    vt_ctx_reset_peak(c);
    vt_vit_output o;
    ck_assert_int_eq(vt_vit_forward(c, m, x, &o), VT_OK);
    vt_tensor *r = vt_test_randn(c, 2, o.embedding->shape, 6, 1.0f);
    vt_tensor *loss = vt_sum(c, vt_mul(c, o.embedding, r), 0, NULL, false);
    *loss_out = vt_item(loss);
    ck_assert_msg(vt_backward(c, loss) == VT_OK, "%s", vt_ctx_error(c)->msg);
    for (size_t i = 0; i < m->params.n; i++) {
        vt_tensor *g = m->params.items[i].tensor->grad;
        ck_assert_msg(g != NULL, "%s has no gradient", m->params.items[i].name);
        vt_tensor *copy = vt_tensor_create(keep, VT_F32, g->ndim, g->shape);
        memcpy(vt_f32(copy), vt_f32(g), (size_t)vt_numel(g) * 4);
        vt_tensor_list_add(out_grads, copy, "%s", m->params.items[i].name);
    }
    for (size_t i = 0; i < lp.n; i++) {
        vt_tensor *g = lp.items[i].tensor->grad;
        ck_assert_msg(g != NULL, "%s has no gradient", lp.items[i].name);
        vt_tensor *copy = vt_tensor_create(keep, VT_F32, g->ndim, g->shape);
        memcpy(vt_f32(copy), vt_f32(g), (size_t)vt_numel(g) * 4);
        vt_tensor_list_add(out_grads, copy, "%s", lp.items[i].name);
    }
    vt_tensor_list_free(&lp);
    vt_vit_destroy(m);
    vt_ctx_destroy(c);
}

START_TEST(checkpointed_blocks_give_the_same_gradients) {
    vt_vit_config cfgs[] = {small(128, VT_ACT_GELU, VT_QKV_BIAS_QV, false, true, 1e-6, true, true),
                            small(256, VT_ACT_QUICK_GELU, VT_QKV_BIAS_ALL, true, false, 1e-5, false, false)};
    for (int k = 0; k < 2; k++) {
        vt_ctx *keep = vt_test_ctx();
        vt_tensor_list a, b;
        vt_tensor_list_init(&a), vt_tensor_list_init(&b);
        double la, lb;
        grads(cfgs[k], false, &la, &a, keep);
        grads(cfgs[k], true, &lb, &b, keep);
        ck_assert_msg(la == lb, "loss %.9g vs %.9g", la, lb); /* same RNG offsets: identical dropout masks */
        ck_assert_int_eq((int)a.n, (int)b.n);
        for (size_t i = 0; i < a.n; i++) VT_ASSERT_CLOSE(b.items[i].tensor, a.items[i].tensor, 1e-6, 1e-5);
        for (size_t i = 0; i < a.n; i++) vt_tensor_release(a.items[i].tensor), vt_tensor_release(b.items[i].tensor);
        vt_tensor_list_free(&a), vt_tensor_list_free(&b);
        vt_ctx_destroy(keep);
    }
}
END_TEST

/* The k third of the fused bias is a constant zero: q_bias and v_bias get gradients, the qkv weight's k rows
 * too, and no "qkv.bias" parameter exists. */
START_TEST(qv_bias_trains_q_and_v_only) {
    vt_ctx *c = vt_test_ctx();
    vt_err err = {0};
    vt_vit_config cfg = small(128, VT_ACT_GELU, VT_QKV_BIAS_QV, false, true, 1e-6, true, false);
    vt_vit *m = vt_vit_create(c, &cfg, &err);
    ck_assert_ptr_null(vt_tensor_list_find(&m->params, "blocks.0.attn.qkv.bias"));
    ck_assert_ptr_nonnull(vt_tensor_list_find(&m->params, "blocks.1.attn.q_bias"));
    ck_assert_ptr_nonnull(vt_tensor_list_find(&m->params, "blocks.1.attn.v_bias"));
    vt_vit_output o;
    ck_assert_int_eq(vt_vit_forward(c, m, vt_test_randn(c, VT_SHAPE(1, 3, 32, 32), 2, 1.0f), &o), VT_OK);
    ck_assert_int_eq(vt_backward(c, vt_sum(c, o.embedding, 0, NULL, false)), VT_OK);
    ck_assert_ptr_nonnull(m->blocks[0].q_bias->grad);
    ck_assert_ptr_nonnull(m->blocks[0].v_bias->grad);
    vt_vit_destroy(m);
    vt_ctx_destroy(c);
}
END_TEST

VT_TEST_MAIN("nn_vit_family", eva01_matches_timm_eva, eva02e_post_norm_matches_timm_eva,
             clip_layout_matches_timm_vision_transformer, openclip_matches_open_clip_vision_transformer,
             presets_have_the_published_shapes, checkpointed_blocks_give_the_same_gradients,
             qv_bias_trains_q_and_v_only)
