/* `visft features --backbone PRESET --checkpoint FILE [--lora FILE] IMAGES... --out FILE.safetensors`:
 * embeddings for users. Each image goes through the preset's own preprocessing (bicubic resize of the short
 * side to the input size, center crop, OpenAI CLIP or ImageNet mean/std as the preset's family uses), then the
 * backbone; the output file holds "embedding" [N, E] (pooled, through the projection head when the preset has
 * one), optionally "features" [N, C, H, W] (the patch-token map after the final norm), and the image paths in
 * its metadata ("image.0", ...). Images run one at a time (no batch padding; memory stays one image). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/ckpt_cli.h"
#include "cli/commands.h"
#include "visft/config.h"
#include "visft/data.h"

typedef struct features_args {
    const char *out, *lora, *lora_alpha;
    vt_cli_strings images;
    bool feature_map;
    vt_cli_backbone b;
} features_args;

/* The preprocessing the preset's weights were trained with, as a transform pipeline. */
static vt_status preprocessing(const char *preset, int size, vt_transforms **out, vt_err *err) {
    /* open_clip and EVA-CLIP use OpenAI's CLIP statistics; timm's ViT-S/16 (and tiny) ImageNet's. */
    bool clip = strncmp(preset, "eva", 3) == 0 || strncmp(preset, "openclip", 8) == 0;
    char y[512];
    snprintf(y, sizeof y,
             "t: [{resize: {short: %d, interp: bicubic}}, {center_crop: {size: %d}}, {normalize: {mean: [%s], std: [%s]}}]",
             size, size, clip ? "0.48145466, 0.4578275, 0.40821073" : "0.485, 0.456, 0.406",
             clip ? "0.26862954, 0.26130258, 0.27577711" : "0.229, 0.224, 0.225");
    vt_cfg *cfg = NULL;
    vt_status st = vt_cfg_load_string(y, strlen(y), "preprocessing", VT_CFG_NO_BASE, &cfg, err);
    if (st == VT_OK) st = vt_transforms_from_cfg(vt_cfg_get(vt_cfg_root(cfg), "t"), out, err);
    vt_cfg_free(cfg);
    return st;
}

static vt_status run(const features_args *a, FILE *info, vt_err *err) {
    vt_ctx *c = vt_ctx_create(NULL);
    if (!c) return vt_err_set(err, VT_ENOMEM, "features: out of memory");
    vt_vit *m = NULL;
    vt_transforms *tf = NULL;
    vt_tensor *emb = NULL, *fmap = NULL;
    vt_tensor_list lp;
    vt_tensor_list_init(&lp);
    vt_st_writer *w = NULL;
    double alpha = a->lora_alpha ? strtod(a->lora_alpha, NULL) : 0;
    vt_status st = vt_cli_load_backbone(c, &a->b, &m, info, err);
    if (st == VT_OK && a->lora) st = vt_cli_attach_lora(c, m, a->lora, alpha, &lp, err);
    if (st == VT_OK) st = preprocessing(a->b.preset, m->cfg.image_size, &tf, err);
    vt_no_grad_begin(c);
    for (size_t i = 0; st == VT_OK && i < a->images.n; i++) {
        vt_sample s;
        vt_sample_init(&s);
        st = vt_sample_load_image(&s, a->images.v[i], err);
        if (st == VT_OK) st = vt_transforms_apply(tf, &s, 0, 0, i, err);
        vt_collate_opts co;
        vt_collate_opts_default(&co);
        vt_transforms_normalization(tf, co.mean, co.std);
        co.targets = 0;
        vt_collated col;
        memset(&col, 0, sizeof col);
        const vt_sample *one[1] = {&s};
        if (st == VT_OK) st = vt_collate(c, one, 1, &co, &col, err);
        vt_scope_push(c);
        vt_vit_output o;
        if (st == VT_OK && (st = vt_vit_forward(c, m, col.batch.images, &o)) != VT_OK)
            vt_err_set(err, st, "%s: %s", a->images.v[i], vt_ctx_error(c)->msg);
        if (st == VT_OK && i == 0) {
            int64_t E = o.embedding->shape[1];
            emb = vt_tensor_create(c, VT_F32, VT_SHAPE((int64_t)a->images.n, E));
            if (a->feature_map)
                fmap = vt_tensor_create(c, VT_F32, VT_SHAPE((int64_t)a->images.n, o.features->shape[1],
                                                            o.features->shape[2], o.features->shape[3]));
            if (!emb || (a->feature_map && !fmap)) st = vt_err_set(err, VT_ENOMEM, "features: out of memory");
        }
        if (st == VT_OK) {
            int64_t E = emb->shape[1], F = fmap ? vt_numel(fmap) / fmap->shape[0] : 0;
            vt_tensor *row = vt_empty(c, VT_F32, VT_SHAPE(1, E)), *fm = fmap ? vt_empty_like(c, o.features) : NULL;
            st = row ? vt_copy_(c, row, o.embedding) : VT_ENOMEM;
            if (st == VT_OK && fm) st = vt_copy_(c, fm, o.features); /* the map is a permuted view */
            if (st == VT_OK) memcpy(vt_f32(emb) + (int64_t)i * E, vt_f32(row), (size_t)E * sizeof(float));
            if (st == VT_OK && fm) memcpy(vt_f32(fmap) + (int64_t)i * F, vt_f32(fm), (size_t)F * sizeof(float));
            if (st != VT_OK) vt_err_set(err, st, "features: %s", vt_ctx_error(c)->msg);
        }
        vt_scope_pop(c);
        vt_collated_free(&col);
        vt_sample_free(&s);
    }
    vt_no_grad_end(c);
    if (st == VT_OK && !(w = vt_st_writer_new())) st = vt_err_set(err, VT_ENOMEM, "features: out of memory");
    if (st == VT_OK) st = vt_st_writer_add(w, "embedding", VT_F32, emb->ndim, emb->shape, vt_f32(emb), err);
    if (st == VT_OK && fmap) st = vt_st_writer_add(w, "features", VT_F32, fmap->ndim, fmap->shape, vt_f32(fmap), err);
    if (st == VT_OK) st = vt_st_writer_set_metadata(w, "backbone", a->b.preset, err);
    for (size_t i = 0; st == VT_OK && i < a->images.n; i++) {
        char key[32];
        snprintf(key, sizeof key, "image.%zu", i);
        st = vt_st_writer_set_metadata(w, key, a->images.v[i], err);
    }
    if (st == VT_OK) st = vt_st_writer_save(w, a->out, err);
    if (st == VT_OK)
        fprintf(info, "wrote %s: embedding [%lld, %lld]%s\n", a->out, (long long)emb->shape[0],
                (long long)emb->shape[1], fmap ? " and the feature map" : "");
    vt_st_writer_free(w);
    vt_tensor_release(emb);
    vt_tensor_release(fmap);
    vt_transforms_free(tf);
    vt_tensor_list_free(&lp);
    vt_vit_destroy(m);
    vt_ctx_destroy(c);
    return st;
}

static int features_run(const vt_cli_io *io, void *vargs) {
    features_args *a = vargs;
    vt_err err;
    vt_err_clear(&err);
    if (!a->out || !a->b.checkpoint || !a->b.preset)
        return vt_cli_fail(io, "features: --backbone, --checkpoint and --out are required");
    if (a->images.n == 0) return vt_cli_fail(io, "features: give at least one image");
    return run(a, io->out, &err) == VT_OK ? VT_CLI_OK : vt_cli_fail(io, "%s", err.msg);
}

static const vt_cli_option features_options[] = {
    VT_CLI_BACKBONE_OPTIONS(features_args, b),
    {"checkpoint", 'c', VT_CLI_STRING, offsetof(features_args, b.checkpoint), "FILE", "backbone weights (any format)"},
    {"lora", 0, VT_CLI_STRING, offsetof(features_args, lora), "FILE", "visft LoRA file applied to the backbone"},
    {"lora-alpha", 0, VT_CLI_STRING, offsetof(features_args, lora_alpha), "A", "LoRA alpha if the file has none"},
    {"feature-map", 0, VT_CLI_FLAG, offsetof(features_args, feature_map), NULL, "also write the patch feature map"},
    {"out", 'o', VT_CLI_STRING, offsetof(features_args, out), "FILE", "safetensors file to write"},
    {0},
};

static const vt_cli_arg features_arguments[] = {
    {"IMAGES", offsetof(features_args, images), false, "JPEG or PNG files, in the order their rows are written", true},
    {0},
};

const vt_cli_command vt_cmd_features = {
    .name = "features",
    .args = features_arguments,
    .summary = "embeddings (and optionally feature maps) of images with the preset's preprocessing",
    .options = features_options,
    .args_size = sizeof(features_args),
    .run = features_run,
};
