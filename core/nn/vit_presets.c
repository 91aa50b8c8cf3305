/* Named vision-transformer presets. Each mirrors the reference model it is named after, so checkpoints of
 * that model load into it once their keys are mapped to visft's timm-style names:
 *
 *   eva01-g-14          EVA-CLIP EVA01-g/14 (timm eva_giant_patch14_clip_224): q/v bias, pre-norm, head 1024
 *   eva02-e-14          EVA-CLIP EVA02-E/14 (timm eva02_enormous_patch14_clip_224): post-norm blocks, head 1024.
 *                       Its attention bias is EVA's q_bias/v_bias pair (k bias zero) in both EVA-CLIP and timm.
 *   openclip-vit-b-16   open_clip ViT-B-16: no patch bias, ln_pre, LayerNorm eps 1e-5, proj to 512 (no bias)
 *   openclip-vit-l-14   open_clip ViT-L-14: same layout, proj to 768
 *   *-quickgelu         the same with QuickGELU, as OpenAI's CLIP weights were trained
 *   vit-s-16            timm vit_small_patch16_224
 *   tiny                64 wide, 2 deep, 32 px: tests and the quickstart */
#include <string.h>

#include "visft/config.h"
#include "visft/nn.h"

static vt_vit_config eva(int width, int depth, int mlp, bool post_norm) {
    vt_vit_config c = {.image_size = 224, .patch_size = 14, .in_chans = 3, .width = width, .depth = depth,
                       .heads = 16, .mlp_hidden = mlp, .act = VT_ACT_GELU, .qkv_bias = VT_QKV_BIAS_QV,
                       .class_token = true, .ln_pre = false, .final_norm = true, .ln_eps = 1e-6, .patch_bias = true,
                       .post_norm = post_norm, .embed_dim = 1024, .proj_bias = true, .pos_antialias = false};
    return c;
}

static vt_vit_config openclip(int patch, int width, int depth, int heads, int embed, vt_act_kind act) {
    vt_vit_config c = {.image_size = 224, .patch_size = patch, .in_chans = 3, .width = width, .depth = depth,
                       .heads = heads, .mlp_hidden = 4 * width, .act = act, .qkv_bias = VT_QKV_BIAS_ALL,
                       .class_token = true, .ln_pre = true, .final_norm = true, .ln_eps = 1e-5, .patch_bias = false,
                       .embed_dim = embed, .proj_bias = false, .pos_antialias = true};
    return c;
}

vt_vit_config vt_vit_config_small16(void) {
    vt_vit_config c = {.image_size = 224, .patch_size = 16, .in_chans = 3, .width = 384, .depth = 12, .heads = 6,
                       .mlp_hidden = 1536, .act = VT_ACT_GELU, .qkv_bias = VT_QKV_BIAS_ALL, .class_token = true,
                       .ln_pre = false, .final_norm = true, .ln_eps = 1e-6, .num_classes = 1000,
                       .patch_bias = true, .pos_antialias = true};
    return c;
}

static const char *const names[] = {"eva01-g-14",
                                    "eva02-e-14",
                                    "openclip-vit-b-16",
                                    "openclip-vit-b-16-quickgelu",
                                    "openclip-vit-l-14",
                                    "openclip-vit-l-14-quickgelu",
                                    "vit-s-16",
                                    "tiny",
                                    NULL};

const char *const *vt_vit_preset_names(void) { return names; }

vt_status vt_vit_preset(const char *name, vt_vit_config *cfg, vt_err *err) {
    if (!name) name = "";
    if (!strcmp(name, "eva01-g-14")) *cfg = eva(1408, 40, 6144, false);
    else if (!strcmp(name, "eva02-e-14")) *cfg = eva(1792, 64, 15360, true);
    else if (!strcmp(name, "openclip-vit-b-16")) *cfg = openclip(16, 768, 12, 12, 512, VT_ACT_GELU);
    else if (!strcmp(name, "openclip-vit-b-16-quickgelu")) *cfg = openclip(16, 768, 12, 12, 512, VT_ACT_QUICK_GELU);
    else if (!strcmp(name, "openclip-vit-l-14")) *cfg = openclip(14, 1024, 24, 16, 768, VT_ACT_GELU);
    else if (!strcmp(name, "openclip-vit-l-14-quickgelu")) *cfg = openclip(14, 1024, 24, 16, 768, VT_ACT_QUICK_GELU);
    else if (!strcmp(name, "vit-s-16")) *cfg = vt_vit_config_small16();
    else if (!strcmp(name, "tiny")) {
        *cfg = vt_vit_config_small16();
        cfg->image_size = 32, cfg->patch_size = 8, cfg->width = 64, cfg->depth = 2, cfg->heads = 2;
        cfg->mlp_hidden = 128, cfg->num_classes = 10;
    } else {
        const char *s = vt_suggest(name, names, sizeof names / sizeof *names - 1);
        if (s) return vt_err_set(err, VT_ENOTFOUND, "vit: unknown preset '%s' (did you mean '%s'?)", name, s);
        return vt_err_set(err, VT_ENOTFOUND,
                          "vit: unknown preset '%s' (one of eva01-g-14, eva02-e-14, openclip-vit-b-16[-quickgelu], "
                          "openclip-vit-l-14[-quickgelu], vit-s-16, tiny)",
                          name);
    }
    return VT_OK;
}
