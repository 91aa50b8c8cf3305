/* Checkpoint interop: format detection, import from open_clip / EVA-CLIP / timm / LAVIS layouts (golden files
 * from tests/ref/gen_checkpoint.py), export round trips, refusals, and the key-mismatch report. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "golden.h"
#include "visft/data.h"
#include "visft/checkpoint.h"
#include "vt_test.h"

#define G(name) VISFT_GOLDEN_DIR "/checkpoint_" name ".safetensors"

static vt_vit_config base_config(void) {
    vt_vit_config c = {.image_size = 32, .patch_size = 8, .in_chans = 3, .width = 32, .depth = 2, .heads = 2,
                       .mlp_hidden = 64, .act = VT_ACT_GELU, .qkv_bias = VT_QKV_BIAS_ALL, .class_token = true,
                       .final_norm = true, .ln_eps = 1e-6, .patch_bias = true, .embed_dim = 16};
    return c;
}

static vt_vit_config open_clip_config(void) {
    vt_vit_config c = base_config();
    c.patch_bias = false, c.ln_pre = true, c.proj_bias = false;
    return c;
}

static vt_vit_config eva_config(void) {
    vt_vit_config c = base_config();
    c.qkv_bias = VT_QKV_BIAS_QV, c.proj_bias = true;
    return c;
}

static vt_vit_config lavis_config(void) {
    vt_vit_config c = eva_config();
    c.final_norm = false, c.embed_dim = 0, c.proj_bias = false;
    return c;
}

static vt_vit *make(vt_ctx *c, vt_vit_config cfg) {
    vt_err err = {0};
    vt_vit *m = vt_vit_create(c, &cfg, &err);
    ck_assert_msg(m != NULL, "%s", err.msg);
    return m;
}

/* Every parameter equals expected["<prefix>.<name>"] exactly. */
static void assert_params_equal(const vt_vit *m, const char *prefix) {
    vt_st_file *f = NULL;
    vt_err err = {0};
    ck_assert_int_eq(vt_st_open(G("expected"), &f, &err), VT_OK);
    for (size_t i = 0; i < m->params.n; i++) {
        char key[300];
        snprintf(key, sizeof key, "%s.%s", prefix, m->params.items[i].name);
        const vt_st_tensor *t = vt_st_find(f, key);
        ck_assert_msg(t != NULL, "expected file lacks %s", key);
        size_t n = (size_t)vt_numel(m->params.items[i].tensor);
        float *want = malloc(n * sizeof *want);
        ck_assert_int_eq(vt_st_read_f32(f, t, want, n, &err), VT_OK);
        ck_assert_msg(memcmp(want, vt_f32(m->params.items[i].tensor), n * sizeof *want) == 0, "%s differs", key);
        free(want);
    }
    vt_st_close(f);
}

static vt_status load(vt_ctx *c, vt_vit *m, const char *path, const vt_ckpt_load_opts *o, vt_ckpt_report *rep,
                      vt_err *err) {
    return vt_ckpt_load(c, &m->params, path, o, rep, err);
}

static const char *const text_keys[] = {"token_embedding.", "positional_embedding", "transformer.", "ln_final.",
                                        "text_projection", "logit_scale", "text.", NULL};

START_TEST(test_detects_each_format) {
    struct { const char *file; vt_ckpt_format fmt; } cases[] = {
        {G("open_clip"), VT_CKPT_OPEN_CLIP}, {G("eva_clip"), VT_CKPT_EVA_CLIP}, {G("eva_split"), VT_CKPT_EVA_CLIP},
        {G("timm_trunk"), VT_CKPT_TIMM},     {G("lavis"), VT_CKPT_LAVIS},       {G("blip2"), VT_CKPT_LAVIS},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        vt_st_file *f = NULL;
        vt_err err = {0};
        vt_ckpt_format fmt = VT_CKPT_AUTO;
        ck_assert_int_eq(vt_st_open(cases[i].file, &f, &err), VT_OK);
        ck_assert_int_eq(vt_ckpt_detect(f, &fmt, &err), VT_OK);
        ck_assert_msg(fmt == cases[i].fmt, "%s: detected %s", cases[i].file, vt_ckpt_format_name(fmt));
        vt_st_close(f);
    }
    vt_st_file *f = NULL;
    vt_err err = {0};
    vt_ckpt_format fmt;
    ck_assert_int_eq(vt_st_open(VISFT_GOLDEN_DIR "/norm.safetensors", &f, &err), VT_OK);
    ck_assert_int_eq(vt_ckpt_detect(f, &fmt, &err), VT_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "cannot tell the checkpoint format"));
    vt_st_close(f);
    ck_assert_int_eq(vt_ckpt_format_parse("openclip", &fmt, &err), VT_EINVAL);
    ck_assert_int_eq(vt_ckpt_format_parse("eva_clip", &fmt, &err), VT_OK);
    ck_assert_int_eq(fmt, VT_CKPT_EVA_CLIP);
}
END_TEST

START_TEST(test_open_clip_import_converts_layouts) {
    vt_ctx *c = vt_test_ctx();
    vt_vit *m = make(c, open_clip_config());
    vt_err err = {0};
    vt_ckpt_report rep = {0};
    vt_ckpt_load_opts o = {.ignore = text_keys};
    ck_assert_msg(load(c, m, G("open_clip"), &o, &rep, &err) == VT_OK, "%s", err.msg);
    ck_assert_int_eq(rep.format, VT_CKPT_OPEN_CLIP);
    ck_assert_uint_eq(rep.loaded, m->params.n);
    ck_assert_uint_eq(rep.ignored, 6);
    assert_params_equal(m, "open_clip"); /* cls [D]->[1,1,D], pos [L,D]->[1,L,D], proj transposed, f16 */
    vt_vit_destroy(m);
    vt_ctx_destroy(c);
}
END_TEST

/* Loads the original file's vision tensors as f32 by name. */
static void assert_files_equal_on(const char *a_path, const char *b_path, const char *only_prefix, size_t want_count) {
    vt_st_file *a = NULL, *b = NULL;
    vt_err err = {0};
    ck_assert_int_eq(vt_st_open(a_path, &a, &err), VT_OK);
    ck_assert_int_eq(vt_st_open(b_path, &b, &err), VT_OK);
    size_t seen = 0;
    for (size_t i = 0; i < vt_st_count(a); i++) {
        const vt_st_tensor *ta = vt_st_tensor_at(a, i);
        if (strncmp(ta->name, only_prefix, strlen(only_prefix)) != 0) continue;
        const vt_st_tensor *tb = vt_st_find(b, ta->name);
        ck_assert_msg(tb != NULL, "export lacks %s", ta->name);
        ck_assert_int_eq(ta->ndim, tb->ndim);
        for (int d = 0; d < ta->ndim; d++) ck_assert_int_eq(ta->shape[d], tb->shape[d]);
        float *x = malloc(ta->numel * sizeof *x), *y = malloc(ta->numel * sizeof *y);
        ck_assert_int_eq(vt_st_read_f32(a, ta, x, ta->numel, &err), VT_OK);
        ck_assert_int_eq(vt_st_read_f32(b, tb, y, tb->numel, &err), VT_OK);
        ck_assert_msg(memcmp(x, y, ta->numel * sizeof *x) == 0, "%s differs after the round trip", ta->name);
        free(x), free(y);
        seen++;
    }
    ck_assert_uint_eq(seen, want_count);
    ck_assert_uint_eq(vt_st_count(b), want_count);
    vt_st_close(a);
    vt_st_close(b);
}

static void tmp_path(char *buf, size_t cap, const char *name) {
    snprintf(buf, cap, "%s/tests/ckpt_%d_%s", VISFT_BUILD_DIR, (int)getpid(), name);
}

START_TEST(test_open_clip_round_trip_is_exact) {
    vt_ctx *c = vt_test_ctx();
    vt_vit *m = make(c, open_clip_config());
    vt_err err = {0};
    vt_ckpt_load_opts o = {.ignore = text_keys};
    ck_assert_int_eq(load(c, m, G("open_clip"), &o, NULL, &err), VT_OK);
    char out[512];
    tmp_path(out, sizeof out, "oc.safetensors");
    ck_assert_msg(vt_ckpt_export(&m->params, VT_CKPT_OPEN_CLIP, out, &err) == VT_OK, "%s", err.msg);
    assert_files_equal_on(G("open_clip"), out, "visual.", m->params.n);
    /* and the export imports back to the same parameters */
    vt_vit *m2 = make(c, open_clip_config());
    ck_assert_int_eq(load(c, m2, out, NULL, NULL, &err), VT_OK);
    assert_params_equal(m2, "open_clip");
    remove(out);
    vt_vit_destroy(m);
    vt_vit_destroy(m2);
    vt_ctx_destroy(c);
}
END_TEST

START_TEST(test_eva_clip_import_and_round_trip) {
    vt_ctx *c = vt_test_ctx();
    vt_err err = {0};
    vt_ckpt_load_opts o = {.ignore = text_keys};
    const char *files[] = {G("eva_clip"), G("eva_split"), G("timm_trunk")};
    for (int i = 0; i < 3; i++) {
        vt_vit *m = make(c, eva_config());
        ck_assert_msg(load(c, m, files[i], &o, NULL, &err) == VT_OK, "%s: %s", files[i], err.msg);
        assert_params_equal(m, "eva_clip");
        vt_vit_destroy(m);
    }
    vt_vit *m = make(c, eva_config());
    ck_assert_int_eq(load(c, m, G("eva_clip"), &o, NULL, &err), VT_OK);
    char out[512];
    tmp_path(out, sizeof out, "eva.safetensors");
    ck_assert_msg(vt_ckpt_export(&m->params, VT_CKPT_EVA_CLIP, out, &err) == VT_OK, "%s", err.msg);
    assert_files_equal_on(G("eva_clip"), out, "visual.", m->params.n);
    remove(out);
    vt_vit_destroy(m);
    vt_ctx_destroy(c);
}
END_TEST

START_TEST(test_eva_biases_fill_a_full_qkv_bias) {
    /* q_bias/v_bias into a model with one qkv bias: [q, 0, v]; exported to EVA-CLIP again since k is zero */
    vt_ctx *c = vt_test_ctx();
    vt_vit_config cfg = eva_config();
    cfg.qkv_bias = VT_QKV_BIAS_ALL;
    vt_vit *m = make(c, cfg);
    vt_err err = {0};
    vt_ckpt_load_opts o = {.ignore = text_keys};
    ck_assert_msg(load(c, m, G("eva_clip"), &o, NULL, &err) == VT_OK, "%s", err.msg);
    const float *b = vt_f32(vt_tensor_list_find(&m->params, "blocks.1.attn.qkv.bias"));
    for (int i = 32; i < 64; i++) ck_assert_float_eq(b[i], 0.0f);
    char out[512];
    tmp_path(out, sizeof out, "eva_all.safetensors");
    ck_assert_msg(vt_ckpt_export(&m->params, VT_CKPT_EVA_CLIP, out, &err) == VT_OK, "%s", err.msg);
    assert_files_equal_on(G("eva_clip"), out, "visual.", m->params.n + 2);
    /* a non-zero k bias has no place in EVA-CLIP's q_bias/v_bias */
    vt_f32(vt_tensor_list_find(&m->params, "blocks.1.attn.qkv.bias"))[40] = 0.5f;
    ck_assert_int_eq(vt_ckpt_export(&m->params, VT_CKPT_EVA_CLIP, out, &err), VT_EUNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(err.msg, "blocks.1.attn.qkv.bias has a non-zero k bias"));
    remove(out);
    vt_vit_destroy(m);
    vt_ctx_destroy(c);
}
END_TEST

START_TEST(test_open_clip_export_refuses_a_patch_bias) {
    vt_ctx *c = vt_test_ctx();
    vt_vit_config cfg = open_clip_config();
    cfg.patch_bias = true;
    vt_vit *m = make(c, cfg);
    vt_err err = {0};
    char out[512];
    tmp_path(out, sizeof out, "refuse.safetensors");
    ck_assert_int_eq(vt_ckpt_export(&m->params, VT_CKPT_OPEN_CLIP, out, &err), VT_OK); /* zero: dropped */
    vt_f32(m->patch_b)[3] = 1.0f;
    ck_assert_int_eq(vt_ckpt_export(&m->params, VT_CKPT_OPEN_CLIP, out, &err), VT_EUNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(err.msg, "patch_embed.proj.bias has no place in the open_clip format"));
    remove(out);
    vt_vit_destroy(m);
    vt_ctx_destroy(c);
}
END_TEST

START_TEST(test_lavis_has_no_final_norm_on_purpose) {
    vt_ctx *c = vt_test_ctx();
    vt_err err = {0};
    /* the preset adapted to LAVIS's layout: fewer blocks, no final norm, no head */
    vt_st_file *f = NULL;
    ck_assert_int_eq(vt_st_open(G("lavis"), &f, &err), VT_OK);
    vt_vit_config cfg = eva_config();
    cfg.depth = 3;
    char note[256];
    ck_assert_int_eq(vt_ckpt_adapt_config(VT_CKPT_LAVIS, f, &cfg, note, sizeof note), VT_OK);
    ck_assert_str_eq(note, "lavis layout: 2 blocks (preset 3), no final norm, no head");
    ck_assert(!cfg.final_norm && cfg.depth == 2 && cfg.embed_dim == 0);
    vt_st_close(f);
    vt_vit *m = make(c, cfg);
    ck_assert_msg(load(c, m, G("lavis"), NULL, NULL, &err) == VT_OK, "%s", err.msg);
    assert_params_equal(m, "lavis");
    vt_vit_destroy(m);
    /* a backbone that expects a final norm is told why it fails */
    vt_vit_config with_norm = lavis_config();
    with_norm.final_norm = true;
    m = make(c, with_norm);
    ck_assert_int_eq(load(c, m, G("lavis"), NULL, NULL, &err), VT_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "2 missing (norm.weight, norm.bias)"));
    ck_assert_ptr_nonnull(strstr(err.msg, "LAVIS eva_vit_g has no final norm"));
    vt_vit_destroy(m);
    /* BLIP-2's ln_vision is the final norm; its Q-Former is not part of the ViT */
    m = make(c, with_norm);
    const char *const qformer[] = {"Qformer.", NULL};
    vt_ckpt_load_opts o = {.ignore = qformer};
    ck_assert_msg(load(c, m, G("blip2"), &o, NULL, &err) == VT_OK, "%s", err.msg);
    vt_vit_destroy(m);
    vt_ctx_destroy(c);
}
END_TEST

START_TEST(test_mismatch_report_lists_everything) {
    vt_ctx *c = vt_test_ctx();
    vt_vit *m = make(c, open_clip_config());
    vt_err err = {0};
    float before = vt_f32(m->pos_embed)[0];
    ck_assert_int_eq(load(c, m, G("mismatch"), NULL, NULL, &err), VT_EFORMAT);
    ck_assert_str_eq(err.msg,
                     VISFT_GOLDEN_DIR "/checkpoint_mismatch.safetensors (open_clip): 12 missing (blocks.1.norm1.weight, "
                     "blocks.1.norm1.bias, blocks.1.attn.qkv.weight, blocks.1.attn.qkv.bias, ...); 1 with mismatched "
                     "shapes (norm.weight: file [33], model [32]); 1 unexpected (visual.extra_key)");
    ck_assert_float_eq(vt_f32(m->pos_embed)[0], before); /* nothing loaded */
    /* named as allowed, the same file loads */
    const char *const allow[] = {"blocks.1.", "norm.weight", NULL};
    const char *const ignore[] = {"visual.ln_post.weight", NULL};
    vt_ckpt_load_opts o = {.allow_missing = allow, .ignore = ignore, .allow_unexpected = true};
    vt_ckpt_report rep = {0};
    ck_assert_msg(load(c, m, G("mismatch"), &o, &rep, &err) == VT_OK, "%s", err.msg);
    ck_assert_uint_eq(rep.missing_allowed, 13);
    ck_assert_uint_eq(rep.unexpected_allowed, 1);
    ck_assert_uint_eq(rep.ignored, 1);
    vt_vit_destroy(m);
    vt_ctx_destroy(c);
}
END_TEST

START_TEST(test_bad_inputs_fail_cleanly) {
    vt_ctx *c = vt_test_ctx();
    vt_vit *m = make(c, open_clip_config());
    vt_err err = {0};
    ck_assert_int_eq(load(c, m, "/nonexistent/x.safetensors", NULL, NULL, &err), VT_EIO);
    char path[512];
    tmp_path(path, sizeof path, "garbage.safetensors");
    FILE *fp = fopen(path, "wb");
    fputs("not a safetensors file at all", fp);
    fclose(fp);
    ck_assert_int_eq(load(c, m, path, NULL, NULL, &err), VT_EFORMAT);
    remove(path);
    /* a file whose format is forced wrong is a listed mismatch, not a crash */
    vt_ckpt_load_opts o = {.format = VT_CKPT_EVA_CLIP};
    ck_assert_int_eq(load(c, m, G("open_clip"), &o, NULL, &err), VT_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "missing"));
    ck_assert_int_eq(vt_ckpt_export(&m->params, VT_CKPT_LAVIS, path, &err), VT_EUNSUPPORTED);
    vt_vit_destroy(m);
    vt_ctx_destroy(c);
}
END_TEST

/* The PEFT adapter's B·A·(lora_alpha/r) equals visft's per-slice update, with zero rows for k. */
START_TEST(test_peft_adapter_is_the_same_update) {
    vt_ctx *c = vt_test_ctx();
    vt_vit *m = make(c, base_config());
    vt_tensor_list lp;
    vt_tensor_list_init(&lp);
    vt_err err = {0};
    vt_lora_config lc = {.rank = 4, .alpha = 8.0, .n_slices = 3, .mask = 0x5};
    ck_assert_int_eq(vt_vit_add_lora(c, m, &lc, &lp, &err), VT_OK);
    for (size_t i = 0; i < lp.n; i++) { /* B is zero at creation: make it non-trivial */
        float *p = vt_f32(lp.items[i].tensor);
        for (int64_t j = 0; j < vt_numel(lp.items[i].tensor); j++) p[j] = (float)((i * 7 + (size_t)j * 13) % 17) / 17.0f - 0.5f;
    }
    char lora[512], dir[512], file[600];
    tmp_path(lora, sizeof lora, "lora.safetensors");
    tmp_path(dir, sizeof dir, "peft");
    ck_assert_int_eq(vt_tensor_list_save(&lp, lora, &err), VT_OK);
    vt_peft_adapter_info info;
    ck_assert_int_eq(vt_peft_export(lora, 0, NULL, dir, &info, &err), VT_EINVAL); /* alpha unknown */
    ck_assert_ptr_nonnull(strstr(err.msg, "--lora-alpha"));
    ck_assert_msg(vt_peft_export(lora, 8.0, "tiny", dir, &info, &err) == VT_OK, "%s", err.msg);
    ck_assert_int_eq(info.blocks, 2);
    snprintf(file, sizeof file, "%s/adapter_model.safetensors", dir);
    vt_st_file *f = NULL;
    ck_assert_int_eq(vt_st_open(file, &f, &err), VT_OK);
    const vt_st_tensor *A = vt_st_find(f, "base_model.model.blocks.1.attn.qkv.lora_A.weight");
    const vt_st_tensor *B = vt_st_find(f, "base_model.model.blocks.1.attn.qkv.lora_B.weight");
    ck_assert(A && B && A->shape[0] == 8 && A->shape[1] == 32 && B->shape[0] == 96 && B->shape[1] == 8);
    const float *a = A->data, *b = B->data;
    /* PEFT scaling = lora_alpha / r = 16 / 8 = visft's 8 / 4 */
    vt_tensor *w = vt_tensor_create(c, VT_F32, VT_SHAPE(96, 32));
    ck_assert_int_eq(vt_lora_merge(c, m->blocks[1].qkv_lora, w), VT_OK);
    for (int o = 0; o < 96; o++)
        for (int i = 0; i < 32; i++) {
            double s = 0;
            for (int k = 0; k < 8; k++) s += (double)b[o * 8 + k] * a[k * 32 + i];
            ck_assert_msg(fabs(2.0 * s - vt_f32(w)[o * 32 + i]) < 1e-5, "delta[%d][%d]", o, i);
        }
    vt_st_close(f);
    snprintf(file, sizeof file, "%s/adapter_config.json", dir);
    FILE *fp = fopen(file, "rb");
    char text[4096] = "";
    ck_assert_ptr_nonnull(fp);
    text[fread(text, 1, sizeof text - 1, fp)] = 0;
    fclose(fp);
    ck_assert_ptr_nonnull(strstr(text, "\"peft_type\":\"LORA\""));
    ck_assert_ptr_nonnull(strstr(text, "\"r\":8,\"lora_alpha\":16"));
    ck_assert_ptr_nonnull(strstr(text, "\"target_modules\":[\"blocks.0.attn.qkv\",\"blocks.1.attn.qkv\"]"));
    vt_tensor_release(w);
    remove(file);
    snprintf(file, sizeof file, "%s/adapter_model.safetensors", dir);
    remove(file);
    rmdir(dir);
    remove(lora);
    vt_tensor_list_free(&lp);
    vt_vit_destroy(m);
    vt_ctx_destroy(c);
}
END_TEST

static int cli(const char *line) {
    char buf[2048], *argv[32];
    int argc = 0;
    snprintf(buf, sizeof buf, "%s", line);
    for (char *t = strtok(buf, " "); t && argc < 31; t = strtok(NULL, " ")) argv[argc++] = t;
    argv[argc] = NULL;
    FILE *out = tmpfile(), *err = tmpfile();
    int rc = vt_cli_main(argc, argv, out, err);
    fclose(out);
    fclose(err);
    return rc;
}

/* convert -> export -> convert back is exact; features writes one embedding per image. */
START_TEST(test_cli_convert_export_features) {
    vt_ctx *c = vt_test_ctx();
    vt_err err = {0};
    vt_vit_config cfg;
    ck_assert_int_eq(vt_vit_preset("tiny", &cfg, &err), VT_OK);
    vt_vit *m = make(c, cfg);
    char eva[512], vt[512], back[512], png[512], feats[512], line[4096];
    tmp_path(eva, sizeof eva, "cli_eva.safetensors");
    tmp_path(vt, sizeof vt, "cli_vt.safetensors");
    tmp_path(back, sizeof back, "cli_back.safetensors");
    tmp_path(png, sizeof png, "cli.png");
    tmp_path(feats, sizeof feats, "cli_feats.safetensors");
    vt_f32(m->pos_embed)[5] = 0.25f;
    ck_assert_int_eq(vt_ckpt_export(&m->params, VT_CKPT_EVA_CLIP, eva, &err), VT_OK);
    snprintf(line, sizeof line, "visft convert %s --backbone tiny --out %s", eva, vt);
    ck_assert_int_eq(cli(line), 0);
    snprintf(line, sizeof line, "visft export --backbone tiny --checkpoint %s --format eva_clip --out %s", vt, back);
    ck_assert_int_eq(cli(line), 0);
    assert_files_equal_on(eva, back, "", m->params.n + 2); /* each qkv.bias is q_bias + v_bias there */
    snprintf(line, sizeof line, "visft convert %s --backbone vit-s-16 --out %s", eva, vt);
    ck_assert_int_eq(cli(line), 1); /* mismatch report, nothing written over */
    snprintf(line, sizeof line, "visft export --backbone tiny --checkpoint %s --format timm --out %s", vt, back);
    ck_assert_int_eq(cli(line), 1);
    vt_image img = {0};
    ck_assert_int_eq(vt_image_alloc(&img, 40, 30, &err), VT_OK);
    for (size_t i = 0; i < img.stride * 30; i++) img.data[i] = (uint8_t)(i * 7);
    ck_assert_int_eq(vt_image_save_png(&img, png, &err), VT_OK);
    vt_image_free(&img);
    snprintf(line, sizeof line, "visft features --backbone tiny --checkpoint %s %s %s --feature-map --out %s",
             vt, png, png, feats);
    ck_assert_int_eq(cli(line), 0);
    snprintf(line, sizeof line, "visft features --backbone tiny --checkpoint %s --out %s", vt, feats);
    ck_assert_int_eq(cli(line), 2); /* IMAGES... is required: a usage error */
    vt_st_file *f = NULL;
    ck_assert_int_eq(vt_st_open(feats, &f, &err), VT_OK);
    const vt_st_tensor *e = vt_st_find(f, "embedding"), *fm = vt_st_find(f, "features");
    ck_assert(e && e->shape[0] == 2 && e->shape[1] == 64 && fm && fm->shape[1] == 64 && fm->shape[2] == 4);
    const float *ev = e->data;
    for (int i = 0; i < 64; i++) ck_assert_float_eq(ev[i], ev[64 + i]); /* same image, same embedding */
    vt_st_close(f);
    remove(eva), remove(vt), remove(back), remove(png), remove(feats);
    vt_vit_destroy(m);
    vt_ctx_destroy(c);
}
END_TEST

VT_TEST_MAIN("checkpoint", test_cli_convert_export_features, test_peft_adapter_is_the_same_update, test_detects_each_format, test_open_clip_import_converts_layouts,
             test_open_clip_round_trip_is_exact, test_eva_clip_import_and_round_trip,
             test_eva_biases_fill_a_full_qkv_bias, test_open_clip_export_refuses_a_patch_bias,
             test_lavis_has_no_final_norm_on_purpose, test_mismatch_report_lists_everything,
             test_bad_inputs_fail_cleanly)
