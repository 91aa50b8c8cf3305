/* Model building blocks: named parameter lists, LoRA adapters and the vision transformer.
 *
 * Parameters are caller-owned leaf tensors (vt_tensor_create) named with PyTorch-style dotted keys
 * ("blocks.3.attn.qkv.weight"), so state dicts load from and save to safetensors under the same names. */
#ifndef VISFT_NN_H
#define VISFT_NN_H

#include <stdbool.h>
#include <stdio.h>

#include "visft/autograd.h"
#include "visft/context.h"
#include "visft/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- named tensor lists ---- */

typedef struct vt_tensor_list_item {
    char *name;
    vt_tensor *tensor; /* borrowed: the list does not own it */
} vt_tensor_list_item;

typedef struct vt_tensor_list {
    vt_tensor_list_item *items;
    size_t n, cap;
} vt_tensor_list;

void vt_tensor_list_init(vt_tensor_list *l);
void vt_tensor_list_free(vt_tensor_list *l);
/* Appends (name is copied; printf-style). */
vt_status vt_tensor_list_add(vt_tensor_list *l, vt_tensor *t, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
vt_tensor *vt_tensor_list_find(const vt_tensor_list *l, const char *name);
int64_t vt_tensor_list_numel(const vt_tensor_list *l);
/* Sets requires_grad on every tensor of the list. */
void vt_tensor_list_set_requires_grad(const vt_tensor_list *l, bool on);
void vt_tensor_list_zero_grad(const vt_tensor_list *l);

/* Loads every tensor of the list from a safetensors file by name (f16/bf16 converted). Missing names,
 * unexpected names (unless allow_unexpected) and shape mismatches are listed in the error and fail the load,
 * except names matching one of the `optional` prefixes (may be NULL). */
vt_status vt_tensor_list_load(vt_ctx *c, const vt_tensor_list *l, const char *path, bool allow_unexpected,
                              const char *const *optional, vt_err *err);
/* Saves the list atomically (f32). */
vt_status vt_tensor_list_save(const vt_tensor_list *l, const char *path, vt_err *err);

/* ---- LoRA ---- */

typedef struct vt_lora_config {
    int rank;
    double alpha;      /* scaling = alpha / rank */
    double dropout;    /* on the adapter input, training mode only */
    int n_slices;      /* output split into equal slices (3 for a fused qkv) */
    unsigned mask;     /* bit i: slice i gets an adapter (q and v of qkv: 0b101) */
} vt_lora_config;

/* A low-rank update on one linear layer: y = W x + b + scaling · Σ_slices B_s A_s x. */
typedef struct vt_lora {
    vt_lora_config cfg;
    int64_t in_features, out_features;
    vt_tensor *A[8], *B[8]; /* per enabled slice: A [rank, in] Kaiming-uniform, B [out/n_slices, rank] zeros */
    bool merged;
} vt_lora;

vt_lora *vt_lora_create(vt_ctx *c, const vt_lora_config *cfg, int64_t in_features, int64_t out_features, vt_err *err);
void vt_lora_destroy(vt_lora *l);
/* The adapted layer's output for x: base weight and bias plus the adapter (dropout on its input in training
 * mode), fused in one op; just the base layer once merged. */
vt_tensor *vt_lora_forward(vt_ctx *c, const vt_lora *l, vt_tensor *x, vt_tensor *weight, vt_tensor *bias);
/* Folds scaling·BA into weight [out, in] (and back). */
vt_status vt_lora_merge(vt_ctx *c, vt_lora *l, vt_tensor *weight);
vt_status vt_lora_unmerge(vt_ctx *c, vt_lora *l, vt_tensor *weight);
vt_status vt_lora_parameters(const vt_lora *l, vt_tensor_list *out, const char *prefix);

/* ---- vision transformer ---- */

typedef enum vt_act_kind { VT_ACT_GELU = 0, VT_ACT_GELU_TANH, VT_ACT_QUICK_GELU } vt_act_kind;
/* QV: EVA's separate q_bias and v_bias parameters with a zero k bias (timm Eva / EVA-CLIP). */
typedef enum vt_qkv_bias { VT_QKV_BIAS_ALL = 0, VT_QKV_BIAS_NONE, VT_QKV_BIAS_QV } vt_qkv_bias;

typedef struct vt_vit_config {
    int image_size, patch_size, in_chans;
    int width, depth, heads, mlp_hidden;
    vt_act_kind act;
    vt_qkv_bias qkv_bias;
    bool class_token, ln_pre, final_norm;
    double ln_eps;
    int num_classes; /* > 0: linear classification head on the pooled token ("head", with bias) */
    /* --- family options (presets set them; zero keeps the timm ViT behaviour where noted) --- */
    bool patch_bias;     /* patch_embed.proj.bias (timm, EVA: yes; open_clip conv1: no) */
    bool post_norm;      /* EVA02-E blocks: x + LN(attn(x)), x + LN(mlp(x)) instead of pre-norm */
    int embed_dim;       /* > 0: projection head "head.weight" [embed_dim, width] (CLIP proj / EVA-CLIP head);
                            exclusive with num_classes */
    bool proj_bias;      /* projection head has "head.bias" (EVA-CLIP: yes; open_clip proj: no) */
    bool pos_antialias;  /* position-embedding resampling: true = timm/open_clip F.interpolate(bicubic,
                            antialias=True), false = EVA-CLIP's bicubic without antialias */
    bool grad_checkpoint; /* recompute each block in backward instead of keeping its activations */
    bool skip_init;       /* parameters start at zero: every one will be loaded from a checkpoint (a 1B-parameter
                             model's random init takes tens of seconds) */
} vt_vit_config;

/* ViT-S/16 as in timm's vit_small_patch16_224 (384 wide, 12 deep, 6 heads, MLP 1536, 1000 classes). */
vt_vit_config vt_vit_config_small16(void);
/* Named presets: eva01-g-14, eva02-e-14, openclip-vit-b-16, openclip-vit-l-14, vit-s-16, tiny. Unknown names
 * fail with a "did you mean". */
vt_status vt_vit_preset(const char *name, vt_vit_config *cfg, vt_err *err);
/* NULL-terminated list of the preset names. */
const char *const *vt_vit_preset_names(void);

typedef struct vt_vit_block {
    vt_tensor *norm1_w, *norm1_b, *qkv_w, *qkv_b, *proj_w, *proj_b;
    vt_tensor *norm2_w, *norm2_b, *fc1_w, *fc1_b, *fc2_w, *fc2_b;
    vt_lora *qkv_lora; /* NULL unless LoRA is injected */
    vt_tensor *q_bias, *v_bias; /* VT_QKV_BIAS_QV only ("blocks.N.attn.q_bias" / "v_bias") */
    const struct vt_vit *owner;
} vt_vit_block;

typedef struct vt_vit {
    vt_vit_config cfg;
    vt_tensor *patch_w, *patch_b; /* [width, in_chans, p, p], [width] */
    vt_tensor *cls_token, *pos_embed;
    vt_tensor *ln_pre_w, *ln_pre_b, *norm_w, *norm_b, *head_w, *head_b;
    vt_vit_block *blocks;
    vt_tensor_list params; /* every backbone parameter, timm names */
} vt_vit;

typedef struct vt_vit_output {
    vt_tensor *tokens;   /* [B, L, width] after the final norm */
    vt_tensor *features; /* patch tokens as a map [B, width, H/p, W/p] */
    vt_tensor *pooled;   /* [B, width]: class token (or mean of patch tokens) */
    vt_tensor *logits;   /* [B, num_classes] or NULL */
    vt_tensor *embedding; /* [B, embed_dim]: pooled through the projection head (pooled itself without one) */
} vt_vit_output;

/* Creates a ViT with timm-style initialisation from the ctx RNG-independent fixed scheme. */
vt_vit *vt_vit_create(vt_ctx *c, const vt_vit_config *cfg, vt_err *err);
void vt_vit_destroy(vt_vit *m);
/* images [B, in_chans, H, W], H and W multiples of the patch size; a grid other than image_size/patch gets the
 * position embedding resampled bicubically (class token kept), as cfg.pos_antialias says. */
vt_status vt_vit_forward(vt_ctx *c, const vt_vit *m, vt_tensor *images, vt_vit_output *out);
/* Adds LoRA to every block's fused qkv (cfg->n_slices should be 3); its parameters are appended to list. */
vt_status vt_vit_add_lora(vt_ctx *c, vt_vit *m, const vt_lora_config *cfg, vt_tensor_list *lora_params, vt_err *err);
/* The position embedding resampled to a gh × gw grid ([1, prefix + gh·gw, width]; differentiable). */
vt_tensor *vt_vit_pos_embed(vt_ctx *c, const vt_vit *m, int64_t gh, int64_t gw);

/* ---- gradient checkpointing ---- */

/* A function of one tensor whose parameters are leaves it reaches through user. */
typedef vt_tensor *(*vt_checkpoint_fn)(vt_ctx *c, void *user, vt_tensor *x);
/* y = fn(x) computed under no_grad, keeping only x (and the RNG offset): backward recomputes fn with grad
 * and backpropagates through it, so parameter gradients land in the leaves as usual. params lists the
 * leaves fn uses (only read now, to know whether a gradient is needed); user must outlive the backward. */
vt_tensor *vt_checkpoint(vt_ctx *c, vt_checkpoint_fn fn, void *user, vt_tensor *x, int n_params,
                         vt_tensor *const *params);

/* FLOPs of one forward pass for batch B (multiply-adds × 2), for throughput reporting. */
double vt_vit_forward_flops(const vt_vit_config *cfg, int batch);

#ifdef __cplusplus
}
#endif
#endif
