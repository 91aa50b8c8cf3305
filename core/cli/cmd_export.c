/* `visft export`: the backbone (LoRA merged in) under open_clip or EVA-CLIP key names, or a LoRA file as a HF
 * PEFT adapter directory:
 *     visft export --backbone PRESET --checkpoint W [--lora L] --format open_clip|eva_clip --out FILE
 *     visft export --lora L --format peft --out DIR [--lora-alpha A] [--base-model NAME] */
#include <stdlib.h>
#include <string.h>

#include "cli/ckpt_cli.h"
#include "cli/commands.h"

typedef struct export_args {
    const char *format, *out, *lora, *lora_alpha, *base_model;
    vt_cli_backbone b;
} export_args;

static vt_status export_backbone(const export_args *a, double alpha, vt_ckpt_format fmt, FILE *info, vt_err *err) {
    vt_ctx *c = vt_ctx_create(NULL);
    if (!c) return vt_err_set(err, VT_ENOMEM, "export: out of memory");
    vt_vit *m = NULL;
    vt_tensor_list lp;
    vt_tensor_list_init(&lp);
    vt_status st = vt_cli_load_backbone(c, &a->b, &m, info, err);
    if (st == VT_OK && a->lora) st = vt_cli_attach_lora(c, m, a->lora, alpha, &lp, err);
    for (int i = 0; st == VT_OK && a->lora && i < m->cfg.depth; i++) {
        st = vt_lora_merge(c, m->blocks[i].qkv_lora, m->blocks[i].qkv_w);
        if (st != VT_OK) vt_err_set(err, st, "export: merging the LoRA of block %d: %s", i, vt_ctx_error(c)->msg);
    }
    if (st == VT_OK) st = vt_ckpt_export(&m->params, fmt, a->out, err);
    if (st == VT_OK)
        fprintf(info, "wrote %s (%s names%s)\n", a->out, vt_ckpt_format_name(fmt), a->lora ? ", LoRA merged" : "");
    vt_tensor_list_free(&lp);
    vt_vit_destroy(m);
    vt_ctx_destroy(c);
    return st;
}

static int export_run(const vt_cli_io *io, void *vargs) {
    export_args *a = vargs;
    vt_err err;
    vt_err_clear(&err);
    if (!a->out || !a->format) return vt_cli_fail(io, "export: --format and --out are required");
    double alpha = 0;
    if (a->lora_alpha) {
        char *end;
        alpha = strtod(a->lora_alpha, &end);
        if (*end || !(alpha > 0)) return vt_cli_fail(io, "export: --lora-alpha must be a positive number, got '%s'", a->lora_alpha);
    }
    vt_status st;
    if (strcmp(a->format, "peft") == 0) {
        if (!a->lora) return vt_cli_fail(io, "export: --format peft needs --lora FILE");
        vt_peft_adapter_info pi;
        st = vt_peft_export(a->lora, alpha, a->base_model ? a->base_model : a->b.preset, a->out, &pi, &err);
        if (st == VT_OK)
            fprintf(io->out, "wrote %s: PEFT LoRA adapter on %d modules (visft rank %d, alpha %g, slices %s%s%s -> "
                             "PEFT r %d)\n",
                    a->out, pi.blocks, pi.rank, pi.alpha, pi.mask & 1 ? "q" : "", pi.mask & 2 ? "k" : "",
                    pi.mask & 4 ? "v" : "", pi.rank * ((pi.mask & 1) + ((pi.mask >> 1) & 1) + ((pi.mask >> 2) & 1)));
    } else {
        vt_ckpt_format fmt;
        st = vt_ckpt_format_parse(a->format, &fmt, &err);
        if (st == VT_OK && fmt != VT_CKPT_OPEN_CLIP && fmt != VT_CKPT_EVA_CLIP && fmt != VT_CKPT_VISFT)
            st = vt_err_set(&err, VT_EINVAL, "export: --format must be open_clip, eva_clip, visft or peft");
        if (st == VT_OK) st = export_backbone(a, alpha, fmt, io->out, &err);
    }
    return st == VT_OK ? VT_CLI_OK : vt_cli_fail(io, "%s", err.msg);
}

static const vt_cli_option export_options[] = {
    VT_CLI_BACKBONE_OPTIONS(export_args, b),
    {"checkpoint", 'c', VT_CLI_STRING, offsetof(export_args, b.checkpoint), "FILE", "backbone weights (any format)"},
    {"lora", 0, VT_CLI_STRING, offsetof(export_args, lora), "FILE", "visft LoRA file (merged in, or exported as PEFT)"},
    {"lora-alpha", 0, VT_CLI_STRING, offsetof(export_args, lora_alpha), "A",
     "LoRA alpha when the file's metadata has none (scaling alpha/rank)"},
    {"format", 'f', VT_CLI_STRING, offsetof(export_args, format), "FORMAT", "open_clip, eva_clip, visft or peft"},
    {"base-model", 0, VT_CLI_STRING, offsetof(export_args, base_model), "NAME",
     "base_model_name_or_path written into the PEFT config (default: the preset)"},
    {"out", 'o', VT_CLI_STRING, offsetof(export_args, out), "PATH", "file to write (a directory for peft)"},
    {0},
};

const vt_cli_command vt_cmd_export = {
    .name = "export",
    .summary = "write the backbone in open_clip / EVA-CLIP names, or a LoRA file as a HF PEFT adapter",
    .description = "visft export: the backbone with its LoRA merged, under open_clip or EVA-CLIP key names (a\n"
                   "parameter the format cannot hold exactly fails the export), or a LoRA file as a PEFT adapter\n"
                   "directory (adapter_config.json + adapter_model.safetensors, timm module names).",
    .options = export_options,
    .args_size = sizeof(export_args),
    .run = export_run,
};
