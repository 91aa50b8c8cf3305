/* Helpers shared by the checkpoint commands (convert, export, features): a backbone built from a preset and
 * filled from a checkpoint of any known format, and a visft LoRA file attached to it. */
#ifndef VISFT_CLI_CKPT_CLI_H
#define VISFT_CLI_CKPT_CLI_H

#include "cli/cli.h"
#include "visft/checkpoint.h"

typedef struct vt_cli_backbone {
    const char *preset, *checkpoint, *from; /* from: format name or NULL for auto */
    vt_cli_strings allow_missing, ignore;
    bool allow_unexpected, vision_only;
} vt_cli_backbone;

/* Options every checkpoint-reading command offers, stored in a vt_cli_backbone field of the args struct. */
#define VT_CLI_BACKBONE_OPTIONS(args_type, f)                                                                     \
    {"backbone", 'b', VT_CLI_STRING, offsetof(args_type, f.preset), "PRESET",                                  \
     "ViT preset (eva01-g-14, eva02-e-14, openclip-vit-b-16, openclip-vit-l-14, vit-s-16, tiny, ...)"},        \
    {"from", 0, VT_CLI_STRING, offsetof(args_type, f.from), "FORMAT",                                          \
     "key format of the checkpoint: auto (default), visft, open_clip, eva_clip, timm, lavis"},                 \
    {"allow-missing", 0, VT_CLI_STRINGS, offsetof(args_type, f.allow_missing), "PREFIX",                      \
     "parameters starting with PREFIX may be absent from the checkpoint (keep their initial values)"},         \
    {"ignore", 0, VT_CLI_STRINGS, offsetof(args_type, f.ignore), "PREFIX", "skip checkpoint keys starting with PREFIX"}, \
    {"allow-unexpected", 0, VT_CLI_FLAG, offsetof(args_type, f.allow_unexpected), NULL,                       \
     "skip checkpoint keys that fit no parameter instead of failing"},                                         \
    {"vision-only", 0, VT_CLI_FLAG, offsetof(args_type, f.vision_only), NULL,                                  \
     "skip the text tower and logit_scale of a CLIP checkpoint"}

/* Builds the preset's ViT (adapted to the format, e.g. LAVIS's 39 blocks) and loads the checkpoint into it;
 * prints what it did to `info` (may be NULL). */
vt_status vt_cli_load_backbone(vt_ctx *c, const vt_cli_backbone *b, vt_vit **out, FILE *info, vt_err *err);
/* Attaches the adapters of a visft LoRA file (rank and slices read from it; alpha from the argument when > 0,
 * else from the file's lora_alpha metadata); their tensors are appended to lora_params. */
vt_status vt_cli_attach_lora(vt_ctx *c, vt_vit *m, const char *path, double alpha, vt_tensor_list *lora_params,
                             vt_err *err);

#endif
