/* Checkpoint interop: importing open_clip, EVA-CLIP, timm and LAVIS weights into visft's (timm-style) parameter
 * names, and exporting visft weights back to those key names or as a HF PEFT LoRA adapter.
 *
 * One rule table per format (core/nn/import_rules.c) maps a file key to a visft name plus a layout transform
 * (class_embedding [D] <-> cls_token [1,1,D], positional_embedding [L,D] <-> pos_embed [1,L,D], proj [D,E] <->
 * head.weight [E,D], separate q/k/v projections <-> fused qkv). Import reads through the table, export runs it
 * backwards, so the two cannot drift apart.
 *
 * A mismatch is never silent: every parameter of the model must be found with the right shape and every key of
 * the file must land somewhere, or the load fails listing the missing, mis-shaped and unexpected names (first
 * few of each, with counts). The caller relaxes that only by naming what may be missing or ignored. */
#ifndef VISFT_CHECKPOINT_H
#define VISFT_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>

#include "visft/context.h"
#include "visft/error.h"
#include "visft/nn.h"
#include "visft/safetensors.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vt_ckpt_format {
    VT_CKPT_AUTO = 0,  /* detect from the keys */
    VT_CKPT_VISFT,     /* visft's own names (files written by visft carry __metadata__ format=visft) */
    VT_CKPT_OPEN_CLIP, /* visual.conv1, visual.transformer.resblocks.N..., text tower at the top level */
    VT_CKPT_EVA_CLIP,  /* visual.blocks.N... with q_bias/v_bias, visual.head, text tower under text. */
    VT_CKPT_TIMM,      /* timm Eva / VisionTransformer names, optionally under open_clip's visual.trunk. */
    VT_CKPT_LAVIS,     /* LAVIS eva_vit_g (39 blocks, no final norm), optionally BLIP-2's visual_encoder. */
    VT_CKPT_FORMAT_COUNT
} vt_ckpt_format;

/* "auto", "visft", "open_clip", "eva_clip", "timm", "lavis". */
const char *vt_ckpt_format_name(vt_ckpt_format f);
vt_status vt_ckpt_format_parse(const char *name, vt_ckpt_format *out, vt_err *err);
/* Tells the key format of an open file; VT_EFORMAT naming the file when no known layout fits. */
vt_status vt_ckpt_detect(const vt_st_file *f, vt_ckpt_format *out, vt_err *err);
/* Whether checkpoints of this format carry a final norm after the last block (LAVIS eva_vit_g: no). */
bool vt_ckpt_format_has_final_norm(vt_ckpt_format f, const vt_st_file *file);

/* Adjusts a preset to what a format's checkpoints are: LAVIS eva_vit_g has EVA-CLIP-g's first 39 blocks (depth
 * set to the blocks the file has when fewer than the preset's), no final norm unless the file brings BLIP-2's
 * ln_vision, and no projection head. Other formats leave cfg as it is. note (may be NULL) gets a one-line account
 * of the changes, empty when none, for the caller to print. */
vt_status vt_ckpt_adapt_config(vt_ckpt_format fmt, const vt_st_file *file, vt_vit_config *cfg, char *note, size_t cap);

typedef struct vt_ckpt_load_opts {
    vt_ckpt_format format;            /* VT_CKPT_AUTO: detected */
    const char *const *allow_missing; /* NULL-terminated visft-name prefixes that may be absent (may be NULL) */
    const char *const *ignore;        /* NULL-terminated file-key prefixes to skip (may be NULL) */
    bool allow_unexpected;            /* file keys that fit no parameter are skipped instead of failing */
} vt_ckpt_load_opts;

typedef struct vt_ckpt_report {
    vt_ckpt_format format; /* the format used (detected when AUTO) */
    size_t loaded;         /* parameters filled from the file */
    size_t zero_filled;    /* parameters the format has implicitly as zeros (open_clip's conv1 bias, EVA's k bias) */
    size_t missing_allowed, ignored, unexpected_allowed;
} vt_ckpt_report;

/* Fills every tensor of params (visft names, f32) from the checkpoint at path, converting names, layouts and
 * f16/bf16. Fails, changing nothing, when anything does not fit (see the top of this file). rep may be NULL. */
vt_status vt_ckpt_load(vt_ctx *c, const vt_tensor_list *params, const char *path, const vt_ckpt_load_opts *opts,
                       vt_ckpt_report *rep, vt_err *err);

/* Writes params (visft names) under the key names of fmt (VT_CKPT_OPEN_CLIP, VT_CKPT_EVA_CLIP or VT_CKPT_VISFT),
 * atomically. A parameter the format cannot express exactly fails the export (a non-zero patch-embedding bias
 * for open_clip, a non-zero k bias for EVA-CLIP); ones it expresses as implicit zeros are dropped. */
vt_status vt_ckpt_export(const vt_tensor_list *params, vt_ckpt_format fmt, const char *path, vt_err *err);

/* ---- LoRA adapters in HF PEFT's on-disk format ----
 * DIR/adapter_config.json (peft_type LORA, r, lora_alpha, target_modules, ...) and DIR/adapter_model.safetensors
 * with base_model.model.<module>.lora_A.weight [r, in] / lora_B.weight [out, r] under timm module names.
 * PEFT has no per-slice mask for an nn.Linear, so an adapter on some slices of a fused qkv (ViSFT: q and v) is
 * written as one full-width adapter: A stacks the slices' A matrices ([r·slices, in]) and B is block-diagonal
 * with zero rows for the slices without an adapter; the effective rank is r·slices and lora_alpha is scaled so
 * that alpha/r is unchanged. B·A is then exactly the visft update, slice for slice. */
typedef struct vt_peft_adapter_info {
    int rank;         /* visft rank per slice */
    double alpha;     /* visft alpha (scaling alpha/rank) */
    int n_slices;     /* 3 for a fused qkv */
    unsigned mask;    /* enabled slices */
    int blocks;       /* blocks with an adapter */
} vt_peft_adapter_info;

/* Reads a visft LoRA file (blocks.N.attn.qkv.lora_A.q.weight ...) and writes the PEFT adapter directory
 * (created if absent). base_model names the model in the config (may be NULL). */
vt_status vt_peft_export(const char *lora_path, double alpha, const char *base_model, const char *out_dir,
                         vt_peft_adapter_info *info, vt_err *err);

#ifdef __cplusplus
}
#endif
#endif
