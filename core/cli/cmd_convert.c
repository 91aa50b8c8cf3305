/* `visft convert IN --from FORMAT --backbone PRESET --out OUT`: any supported checkpoint rewritten under visft's
 * own names, after it has loaded completely into the preset's backbone (so a converted file always loads). */
#include <stdlib.h>
#include <string.h>

#include "cli/ckpt_cli.h"
#include "cli/commands.h"

/* Text-tower keys of the CLIP formats, skipped by --vision-only. */
static const char *const text_keys[] = {"token_embedding.", "positional_embedding", "transformer.", "ln_final.",
                                        "text_projection", "logit_scale", "text.", NULL};

static vt_status prefixes(const vt_cli_strings *user, bool add_text, const char ***out) {
    size_t n = user->n + (add_text ? sizeof text_keys / sizeof *text_keys : 1);
    const char **p = calloc(n + 1, sizeof *p);
    if (!p) return VT_ENOMEM;
    for (size_t i = 0; i < user->n; i++) p[i] = user->v[i];
    for (size_t i = 0; add_text && text_keys[i]; i++) p[user->n + i] = text_keys[i];
    *out = p;
    return VT_OK;
}

vt_status vt_cli_load_backbone(vt_ctx *c, const vt_cli_backbone *b, vt_vit **out, FILE *info, vt_err *err) {
    *out = NULL;
    if (!b->preset || !b->checkpoint)
        return vt_err_set(err, VT_EINVAL, "--backbone PRESET and a checkpoint are required");
    vt_vit_config cfg;
    vt_ckpt_format fmt = VT_CKPT_AUTO;
    vt_status st = vt_vit_preset(b->preset, &cfg, err);
    if (st == VT_OK && b->from) st = vt_ckpt_format_parse(b->from, &fmt, err);
    if (st != VT_OK) return st;
    vt_st_file *f = NULL;
    if ((st = vt_st_open(b->checkpoint, &f, err)) != VT_OK) return st;
    if (fmt == VT_CKPT_AUTO) st = vt_ckpt_detect(f, &fmt, err);
    char note[256] = "";
    if (st == VT_OK) st = vt_ckpt_adapt_config(fmt, f, &cfg, note, sizeof note);
    vt_st_close(f);
    if (st != VT_OK) return st;
    if (info && note[0]) fprintf(info, "%s\n", note);
    cfg.skip_init = b->allow_missing.n == 0; /* everything comes from the file: no random init to pay for */
    vt_vit *m = vt_vit_create(c, &cfg, err);
    if (!m) return err->code;
    const char **allow = NULL, **ignore = NULL;
    if (prefixes(&b->allow_missing, false, &allow) != VT_OK || prefixes(&b->ignore, b->vision_only, &ignore) != VT_OK)
        st = vt_err_set(err, VT_ENOMEM, "out of memory");
    vt_ckpt_load_opts o = {.format = fmt, .allow_missing = allow, .ignore = ignore,
                           .allow_unexpected = b->allow_unexpected};
    vt_ckpt_report rep = {0};
    if (st == VT_OK) st = vt_ckpt_load(c, &m->params, b->checkpoint, &o, &rep, err);
    free(allow);
    free(ignore);
    if (st != VT_OK) {
        vt_vit_destroy(m);
        return st;
    }
    if (info)
        fprintf(info, "%s: %s format, %zu parameters loaded, %zu zero by the format, %zu allowed missing, %zu keys "
                      "ignored, %zu unexpected skipped\n",
                b->checkpoint, vt_ckpt_format_name(rep.format), rep.loaded, rep.zero_filled, rep.missing_allowed,
                rep.ignored, rep.unexpected_allowed);
    *out = m;
    return VT_OK;
}

vt_status vt_cli_attach_lora(vt_ctx *c, vt_vit *m, const char *path, double alpha, vt_tensor_list *lora_params,
                             vt_err *err) {
    vt_st_file *f = NULL;
    vt_status st = vt_st_open(path, &f, err);
    if (st != VT_OK) return st;
    vt_lora_config lc = {.n_slices = 3};
    for (int s = 0; s < 3; s++) {
        char key[64];
        snprintf(key, sizeof key, "blocks.0.attn.qkv.lora_A.%c.weight", "qkv"[s]);
        const vt_st_tensor *t = vt_st_find(f, key);
        if (!t) continue;
        lc.mask |= 1u << s;
        lc.rank = t->ndim == 2 ? (int)t->shape[0] : 0;
    }
    const char *a = vt_st_metadata(f, "lora_alpha");
    lc.alpha = alpha > 0 ? alpha : a ? strtod(a, NULL) : 0;
    vt_st_close(f);
    if (!lc.mask || lc.rank <= 0)
        return vt_err_set(err, VT_EFORMAT, "%s: no blocks.0.attn.qkv.lora_A.<q|k|v>.weight: not a visft LoRA file", path);
    if (!(lc.alpha > 0))
        return vt_err_set(err, VT_EINVAL, "%s: no lora_alpha in the file's metadata: give it (--lora-alpha)", path);
    if ((st = vt_vit_add_lora(c, m, &lc, lora_params, err)) != VT_OK) return st;
    return vt_tensor_list_load(c, lora_params, path, false, NULL, err);
}

typedef struct convert_args {
    const char *in, *out;
    vt_cli_backbone b;
} convert_args;

static int convert_run(const vt_cli_io *io, void *vargs) {
    convert_args *a = vargs;
    vt_err err;
    vt_err_clear(&err);
    if (!a->out) return vt_cli_fail(io, "convert: --out FILE is required");
    a->b.checkpoint = a->in;
    vt_ctx *c = vt_ctx_create(NULL);
    if (!c) return vt_cli_fail(io, "convert: out of memory");
    vt_vit *m = NULL;
    vt_status st = vt_cli_load_backbone(c, &a->b, &m, io->out, &err);
    if (st == VT_OK) st = vt_ckpt_export(&m->params, VT_CKPT_VISFT, a->out, &err);
    if (st == VT_OK) fprintf(io->out, "wrote %s (%zu tensors, visft names)\n", a->out, m->params.n);
    vt_vit_destroy(m);
    vt_ctx_destroy(c);
    return st == VT_OK ? VT_CLI_OK : vt_cli_fail(io, "%s", err.msg);
}

static const vt_cli_option convert_options[] = {
    VT_CLI_BACKBONE_OPTIONS(convert_args, b),
    {"out", 'o', VT_CLI_STRING, offsetof(convert_args, out), "FILE", "visft-native safetensors file to write"},
    {0},
};

static const vt_cli_arg convert_arguments[] = {
    {"IN", offsetof(convert_args, in), false, "checkpoint (.safetensors) in open_clip, EVA-CLIP, timm or LAVIS names", false},
    {0},
};

const vt_cli_command vt_cmd_convert = {
    .name = "convert",
    .summary = "rewrite an open_clip / EVA-CLIP / timm / LAVIS checkpoint under visft's parameter names",
    .description = "visft convert: load a checkpoint into a backbone preset (every parameter found with the right\n"
                   "shape, every key used, or a listed report and failure), then write it under visft's names.",
    .options = convert_options,
    .args = convert_arguments,
    .args_size = sizeof(convert_args),
    .run = convert_run,
};
