/* Key rules of the checkpoint formats visft reads and writes, and format detection.
 *
 * Sources of the names (read from the projects' model code, not copied):
 *   open_clip  VisionTransformer: conv1 (no bias), class_embedding [D], positional_embedding [L,D], ln_pre,
 *              transformer.resblocks.N.{ln_1, attn.in_proj_weight/bias, attn.out_proj, ln_2, mlp.c_fc, mlp.c_proj},
 *              ln_post, proj [D,E] (used as x @ proj); TextTransformer at the top level.
 *   EVA-CLIP   visual.{patch_embed.proj, cls_token, pos_embed, blocks.N.{norm1, attn.qkv (no bias) + q_bias/v_bias
 *              or attn.{q,k,v}_proj, attn.proj, norm2, mlp.fc1, mlp.fc2}, norm or fc_norm, head}; text. prefix.
 *   timm Eva   the same names without prefix (k_bias is a non-persistent zero buffer); open_clip's TimmModel
 *              wraps them as visual.trunk. with its projection at visual.head.proj.
 *   LAVIS      eva_vit_g: timm-Eva names, 39 blocks, no norm and no head; BLIP-2 checkpoints prefix them with
 *              visual_encoder. and keep their final LayerNorm outside the ViT as ln_vision, which is what
 *              visft calls the final norm. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/import_internal.h"

#define RB(file, visft) {"visual.transformer.resblocks.#." file, "blocks.#." visft, VT_XF_COPY}

/* open_clip text-tower names, kept as they are (the text tower uses open_clip's names). */
#define OPEN_CLIP_TEXT(prefix)                                                                                   \
    {prefix "token_embedding.*", "token_embedding.*", VT_XF_COPY},                                              \
    {prefix "positional_embedding", "positional_embedding", VT_XF_COPY},                                        \
    {prefix "transformer.*", "transformer.*", VT_XF_COPY}, {prefix "ln_final.*", "ln_final.*", VT_XF_COPY},   \
    {prefix "text_projection", "text_projection", VT_XF_COPY}, {"logit_scale", "logit_scale", VT_XF_COPY}

static const vt_ckpt_rule open_clip_rules[] = {
    {"visual.conv1.weight", "patch_embed.proj.weight", VT_XF_COPY},
    {"visual.class_embedding", "cls_token", VT_XF_LEAD2},
    {"visual.positional_embedding", "pos_embed", VT_XF_LEAD1},
    {"visual.ln_pre.*", "norm_pre.*", VT_XF_COPY},
    RB("ln_1.*", "norm1.*"),
    RB("attn.in_proj_weight", "attn.qkv.weight"),
    RB("attn.in_proj_bias", "attn.qkv.bias"),
    RB("attn.out_proj.*", "attn.proj.*"),
    RB("ln_2.*", "norm2.*"),
    RB("mlp.c_fc.*", "mlp.fc1.*"),
    RB("mlp.c_proj.*", "mlp.fc2.*"),
    {"visual.ln_post.*", "norm.*", VT_XF_COPY},
    {"visual.proj", "head.weight", VT_XF_T},
    OPEN_CLIP_TEXT(""),
};

/* Shared by EVA-CLIP (prefix "visual."), timm-in-open_clip ("visual.trunk.") and BLIP-2 ("visual_encoder."). */
#define EVA_VISION(p)                                                                                           \
    {p "blocks.#.attn.q_proj.weight", "blocks.#.attn.qkv.weight", VT_XF_SLOT0},                                 \
    {p "blocks.#.attn.k_proj.weight", "blocks.#.attn.qkv.weight", VT_XF_SLOT1},                                 \
    {p "blocks.#.attn.v_proj.weight", "blocks.#.attn.qkv.weight", VT_XF_SLOT2},                                 \
    {p "*", "*", VT_XF_COPY}

static const vt_ckpt_rule eva_clip_rules[] = {
    OPEN_CLIP_TEXT("text."),
    EVA_VISION("visual."),
};

static const vt_ckpt_rule timm_rules[] = {
    {"visual.head.proj.weight", "head.weight", VT_XF_COPY},
    {"visual.head.proj.bias", "head.bias", VT_XF_COPY},
    EVA_VISION("visual.trunk."),
    OPEN_CLIP_TEXT(""),
    EVA_VISION(""),
};

static const vt_ckpt_rule lavis_rules[] = {
    {"ln_vision.*", "norm.*", VT_XF_COPY},
    EVA_VISION("visual_encoder."),
    EVA_VISION(""),
};

static const vt_ckpt_rule visft_rules[] = {{"*", "*", VT_XF_COPY}};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

const vt_ckpt_rule *vt_ckpt_rules(vt_ckpt_format f, size_t *n) {
    switch (f) {
    case VT_CKPT_OPEN_CLIP: *n = N_OF(open_clip_rules); return open_clip_rules;
    case VT_CKPT_EVA_CLIP: *n = N_OF(eva_clip_rules); return eva_clip_rules;
    case VT_CKPT_TIMM: *n = N_OF(timm_rules); return timm_rules;
    case VT_CKPT_LAVIS: *n = N_OF(lavis_rules); return lavis_rules;
    default: *n = N_OF(visft_rules); return visft_rules;
    }
}

const char *const *vt_ckpt_implicit_zeros(vt_ckpt_format f) {
    /* open_clip's conv1 and proj have no bias; EVA's k bias is a constant zero buffer. */
    static const char *const open_clip[] = {"patch_embed.proj.bias", "head.bias", NULL};
    static const char *const none[] = {NULL};
    return f == VT_CKPT_OPEN_CLIP ? open_clip : none;
}

/* ---- patterns ---- */

/* Matches name against pattern, returning the captures: the block index ('#', digits) and the tail ('*'). */
static bool match(const char *p, const char *s, const char **num, size_t *num_len, const char **tail) {
    *num = NULL, *num_len = 0, *tail = NULL;
    while (*p) {
        if (*p == '*' && p[1] == '\0') {
            if (!*s) return false; /* '*' stands for something */
            *tail = s;
            return true;
        }
        if (*p == '#') {
            size_t k = 0;
            while (s[k] >= '0' && s[k] <= '9') k++;
            if (k == 0 || k > 6 || (k > 1 && s[0] == '0')) return false;
            *num = s, *num_len = k;
            s += k, p++;
            continue;
        }
        if (*p != *s) return false;
        p++, s++;
    }
    return *s == '\0';
}

bool vt_ckpt_match(const char *pattern, const char *name) {
    const char *num, *tail;
    size_t nl;
    return match(pattern, name, &num, &nl, &tail);
}

bool vt_ckpt_translate(const char *pattern, const char *to, const char *name, char *out, size_t cap) {
    const char *num, *tail;
    size_t nl, o = 0;
    if (!match(pattern, name, &num, &nl, &tail)) return false;
    for (const char *t = to; *t; t++) {
        const char *piece = t;
        size_t len = 1;
        if (*t == '#') piece = num, len = nl;
        else if (*t == '*' && t[1] == '\0') piece = tail, len = tail ? strlen(tail) : 0;
        if (!piece || o + len + 1 > cap) return false;
        memcpy(out + o, piece, len);
        o += len;
    }
    out[o] = '\0';
    return true;
}

/* ---- names and detection ---- */

static const char *const format_names[VT_CKPT_FORMAT_COUNT] = {"auto", "visft", "open_clip", "eva_clip", "timm",
                                                               "lavis"};

const char *vt_ckpt_format_name(vt_ckpt_format f) {
    return (unsigned)f < VT_CKPT_FORMAT_COUNT ? format_names[f] : "unknown";
}

vt_status vt_ckpt_format_parse(const char *name, vt_ckpt_format *out, vt_err *err) {
    for (int i = 0; i < VT_CKPT_FORMAT_COUNT; i++)
        if (name && strcmp(name, format_names[i]) == 0) {
            *out = (vt_ckpt_format)i;
            return VT_OK;
        }
    return vt_err_set(err, VT_EINVAL, "unknown checkpoint format '%s' (auto, visft, open_clip, eva_clip, timm, lavis)",
                      name ? name : "");
}

static bool has(const vt_st_file *f, const char *key) { return vt_st_find(f, key) != NULL; }

bool vt_ckpt_format_has_final_norm(vt_ckpt_format fmt, const vt_st_file *f) {
    if (fmt != VT_CKPT_LAVIS) return true;
    /* eva_vit_g drops EVA-CLIP's norm; a BLIP-2 checkpoint brings its ln_vision instead. */
    return f && (has(f, "ln_vision.weight") || has(f, "norm.weight"));
}

vt_status vt_ckpt_detect(const vt_st_file *f, vt_ckpt_format *out, vt_err *err) {
    const char *meta = vt_st_metadata(f, "format");
    if (meta && strcmp(meta, "visft") == 0) *out = VT_CKPT_VISFT;
    else if (has(f, "visual.conv1.weight") || has(f, "visual.transformer.resblocks.0.attn.in_proj_weight"))
        *out = VT_CKPT_OPEN_CLIP;
    else if (has(f, "visual.trunk.patch_embed.proj.weight") || has(f, "visual.trunk.pos_embed"))
        *out = VT_CKPT_TIMM;
    else if (has(f, "visual.patch_embed.proj.weight") || has(f, "visual.blocks.0.norm1.weight"))
        *out = VT_CKPT_EVA_CLIP;
    else if (has(f, "visual_encoder.patch_embed.proj.weight") || has(f, "visual_encoder.blocks.0.norm1.weight"))
        *out = VT_CKPT_LAVIS;
    else if (has(f, "patch_embed.proj.weight") || has(f, "blocks.0.norm1.weight")) {
        /* Bare timm names: LAVIS's eva_vit_g is the EVA layout (q/v bias) with neither final norm nor head. */
        bool eva = has(f, "blocks.0.attn.q_bias");
        bool tail = has(f, "norm.weight") || has(f, "fc_norm.weight") || has(f, "head.weight");
        *out = eva && !tail ? VT_CKPT_LAVIS : VT_CKPT_TIMM;
    } else
        return vt_err_set(err, VT_EFORMAT,
                          "%s: cannot tell the checkpoint format: no patch embedding under any known name "
                          "(visual.conv1, visual.patch_embed, visual.trunk.patch_embed, visual_encoder.patch_embed, "
                          "patch_embed); name it with --from",
                          vt_st_path(f));
    return VT_OK;
}

/* ---- configs the formats imply ---- */

static int count_blocks(const vt_st_file *f, const char *prefix) {
    char key[128];
    int n = 0;
    for (;; n++) {
        snprintf(key, sizeof key, "%sblocks.%d.norm1.weight", prefix, n);
        if (!has(f, key)) return n;
    }
}

vt_status vt_ckpt_adapt_config(vt_ckpt_format fmt, const vt_st_file *f, vt_vit_config *cfg, char *note, size_t cap) {
    if (note && cap) note[0] = '\0';
    if (fmt != VT_CKPT_LAVIS) return VT_OK;
    /* LAVIS builds eva_vit_g with EVA-CLIP-g's first 39 of 40 blocks, no final norm and no head. */
    const char *prefix = has(f, "visual_encoder.blocks.0.norm1.weight") ? "visual_encoder." : "";
    int blocks = count_blocks(f, prefix);
    int old_depth = cfg->depth;
    if (blocks > 0 && blocks < cfg->depth) cfg->depth = blocks;
    cfg->final_norm = vt_ckpt_format_has_final_norm(fmt, f);
    bool head = has(f, "head.weight") || has(f, "visual_encoder.head.weight");
    if (!head) cfg->embed_dim = 0, cfg->proj_bias = false, cfg->num_classes = 0;
    if (note)
        snprintf(note, cap, "lavis layout: %d blocks (preset %d), %s, %s", cfg->depth, old_depth,
                 cfg->final_norm ? "final norm from ln_vision" : "no final norm", head ? "head kept" : "no head");
    return VT_OK;
}
