/* CLIP text transformer (open_clip's TextTransformer with the default argmax pooling), built only from visft
 * ops so autograd covers it.
 *
 * open_clip runs nn.MultiheadAttention with an additive -inf upper-triangular mask; that is exactly vt_sdpa's
 * is_causal, so no mask tensor is built. q, k and v are strided views of the fused in_proj output, as in the
 * ViT. Pooling takes row b's token at the first position of its largest id (torch.argmax: the EOT, the
 * highest id in the vocabulary) by index_select on the flattened [B·L, width] tokens. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op_util.h"
#include "visft/ops.h"
#include "visft/text.h"

static vt_text_config base_config(int width, int heads, int layers, int embed) {
    vt_text_config c = {.context_length = VT_CLIP_CONTEXT_LENGTH, .vocab_size = 49408, .width = width,
                        .heads = heads, .layers = layers, .mlp_hidden = 4 * width, .embed_dim = embed,
                        .act = VT_ACT_GELU, .ln_eps = 1e-5};
    return c;
}

vt_text_config vt_text_config_openclip_b16(void) { return base_config(512, 8, 12, 512); }
vt_text_config vt_text_config_openclip_l14(void) { return base_config(768, 12, 12, 768); }
vt_text_config vt_text_config_tiny(void) { return base_config(64, 4, 2, 32); }

vt_status vt_text_config_preset(const char *name, vt_text_config *out, vt_err *err) {
    if (name && strcmp(name, "openclip-vit-b-16") == 0) *out = vt_text_config_openclip_b16();
    else if (name && strcmp(name, "openclip-vit-l-14") == 0) *out = vt_text_config_openclip_l14();
    else if (name && strcmp(name, "tiny") == 0) *out = vt_text_config_tiny();
    else
        return vt_err_set(err, VT_ENOTFOUND, "text tower: unknown preset '%s' (expected openclip-vit-b-16, "
                          "openclip-vit-l-14 or tiny)", name ? name : "(null)");
    return VT_OK;
}

typedef struct builder {
    vt_ctx *c;
    vt_text_tower *m;
    vt_err *err;
    bool failed;
} builder;

/* A parameter named like open_clip's; std > 0: normal(0, std), else the constant. */
static vt_tensor *param(builder *b, double std, double value, int ndim, const int64_t *shape, const char *fmt,
                        int idx) {
    if (b->failed) return NULL;
    char name[128];
    snprintf(name, sizeof name, fmt, idx);
    vt_tensor *t = vt_tensor_create(b->c, VT_F32, ndim, shape);
    vt_status st = !t ? VT_ENOMEM : std > 0 ? vt_init_normal_(b->c, t, 0.0, std) : vt_fill_(b->c, t, value);
    if (st == VT_OK && vt_tensor_list_add(&b->m->params, t, "%s", name) != VT_OK) st = VT_ENOMEM;
    if (st != VT_OK) {
        vt_tensor_release(t);
        vt_err_set(b->err, st, "text tower: cannot create parameter %s", name);
        b->failed = true;
        return NULL;
    }
    vt_set_requires_grad(t, true);
    return t;
}

#define P(b, std, v, name, idx, ...) param(b, std, v, VT_SHAPE(__VA_ARGS__), name, idx)

vt_text_tower *vt_text_tower_create(vt_ctx *c, const vt_text_config *cfg, vt_err *err) {
    if (cfg->width <= 0 || cfg->heads <= 0 || cfg->width % cfg->heads || cfg->layers <= 0 || cfg->mlp_hidden <= 0 ||
        cfg->context_length <= 0 || cfg->vocab_size <= 0 || cfg->embed_dim <= 0 || !(cfg->ln_eps > 0)) {
        vt_err_set(err, VT_EINVAL,
                   "text tower: invalid config (width %d must be a positive multiple of heads %d; layers %d, mlp %d, "
                   "context %d, vocab %d, embed %d and ln_eps positive)",
                   cfg->width, cfg->heads, cfg->layers, cfg->mlp_hidden, cfg->context_length, cfg->vocab_size,
                   cfg->embed_dim);
        return NULL;
    }
    if (cfg->act != VT_ACT_GELU && cfg->act != VT_ACT_QUICK_GELU && cfg->act != VT_ACT_GELU_TANH) {
        vt_err_set(err, VT_EINVAL, "text tower: unknown activation %d", (int)cfg->act);
        return NULL;
    }
    vt_text_tower *m = calloc(1, sizeof *m);
    if (!m || !(m->blocks = calloc((size_t)cfg->layers, sizeof *m->blocks))) {
        free(m);
        vt_err_set(err, VT_ENOMEM, "text tower: out of memory");
        return NULL;
    }
    m->cfg = *cfg;
    vt_tensor_list_init(&m->params);
    builder b = {c, m, err, false};
    int64_t D = cfg->width, F = cfg->mlp_hidden;
    /* TextTransformer.init_parameters */
    double attn_std = 1.0 / sqrt((double)D), proj_std = attn_std / sqrt(2.0 * cfg->layers), fc_std = 1.0 / sqrt(2.0 * D);
    m->token_embedding = P(&b, 0.02, 0, "token_embedding.weight", 0, cfg->vocab_size, D);
    m->positional_embedding = P(&b, 0.01, 0, "positional_embedding", 0, cfg->context_length, D);
    for (int i = 0; i < cfg->layers; i++) {
        vt_text_block *k = &m->blocks[i];
        k->ln_1_w = P(&b, 0, 1, "transformer.resblocks.%d.ln_1.weight", i, D);
        k->ln_1_b = P(&b, 0, 0, "transformer.resblocks.%d.ln_1.bias", i, D);
        k->in_proj_w = P(&b, attn_std, 0, "transformer.resblocks.%d.attn.in_proj_weight", i, 3 * D, D);
        k->in_proj_b = P(&b, 0, 0, "transformer.resblocks.%d.attn.in_proj_bias", i, 3 * D);
        k->out_proj_w = P(&b, proj_std, 0, "transformer.resblocks.%d.attn.out_proj.weight", i, D, D);
        k->out_proj_b = P(&b, 0, 0, "transformer.resblocks.%d.attn.out_proj.bias", i, D);
        k->ln_2_w = P(&b, 0, 1, "transformer.resblocks.%d.ln_2.weight", i, D);
        k->ln_2_b = P(&b, 0, 0, "transformer.resblocks.%d.ln_2.bias", i, D);
        k->c_fc_w = P(&b, fc_std, 0, "transformer.resblocks.%d.mlp.c_fc.weight", i, F, D);
        k->c_fc_b = P(&b, 0, 0, "transformer.resblocks.%d.mlp.c_fc.bias", i, F);
        k->c_proj_w = P(&b, proj_std, 0, "transformer.resblocks.%d.mlp.c_proj.weight", i, D, F);
        k->c_proj_b = P(&b, 0, 0, "transformer.resblocks.%d.mlp.c_proj.bias", i, D);
    }
    m->ln_final_w = P(&b, 0, 1, "ln_final.weight", 0, D);
    m->ln_final_b = P(&b, 0, 0, "ln_final.bias", 0, D);
    m->text_projection = P(&b, attn_std, 0, "text_projection", 0, D, cfg->embed_dim);
    if (b.failed) {
        vt_text_tower_destroy(m);
        return NULL;
    }
    return m;
}

void vt_text_tower_destroy(vt_text_tower *m) {
    if (!m) return;
    for (size_t i = 0; i < m->params.n; i++) vt_tensor_release(m->params.items[i].tensor);
    vt_tensor_list_free(&m->params);
    free(m->blocks);
    free(m);
}

static vt_tensor *act(vt_ctx *c, vt_act_kind a, vt_tensor *x) {
    switch (a) {
    case VT_ACT_QUICK_GELU: return vt_quick_gelu(c, x);
    case VT_ACT_GELU_TANH: return vt_gelu_tanh(c, x);
    default: return vt_gelu(c, x);
    }
}

static vt_tensor *block_forward(vt_ctx *c, const vt_text_config *cfg, const vt_text_block *k, vt_tensor *x) {
    int64_t B = x->shape[0], L = x->shape[1], D = cfg->width, H = cfg->heads, hd = D / H;
    vt_tensor *h = vt_layer_norm(c, x, k->ln_1_w, k->ln_1_b, cfg->ln_eps);
    vt_tensor *qkv = vt_linear(c, h, k->in_proj_w, k->in_proj_b);
    vt_tensor *t = vt_permute(c, vt_reshape(c, qkv, VT_SHAPE(B, L, 3, H, hd)), (int[]){2, 0, 3, 1, 4});
    vt_tensor *q = vt_squeeze(c, vt_slice(c, t, 0, 0, 1, 1), 0);
    vt_tensor *kk = vt_squeeze(c, vt_slice(c, t, 0, 1, 2, 1), 0);
    vt_tensor *v = vt_squeeze(c, vt_slice(c, t, 0, 2, 3, 1), 0);
    vt_tensor *o = vt_sdpa(c, q, kk, v, NULL, 1.0 / sqrt((double)hd), true); /* [B, H, L, hd] */
    o = vt_reshape(c, vt_permute(c, o, (int[]){0, 2, 1, 3}), VT_SHAPE(B, L, D));
    x = vt_add(c, x, vt_linear(c, o, k->out_proj_w, k->out_proj_b));
    h = vt_layer_norm(c, x, k->ln_2_w, k->ln_2_b, cfg->ln_eps);
    h = vt_linear(c, act(c, cfg->act, vt_linear(c, h, k->c_fc_w, k->c_fc_b)), k->c_proj_w, k->c_proj_b);
    return vt_add(c, x, h);
}

vt_status vt_text_tower_forward(vt_ctx *c, const vt_text_tower *m, vt_tensor *ids, vt_text_output *out) {
    memset(out, 0, sizeof *out);
    if (!vt_ctx_ok(c)) return vt_ctx_error(c)->code;
    const vt_text_config *cfg = &m->cfg;
    char s[VT_SHAPE_STR_MAX];
    if (!ids || ids->dtype != VT_I64 || ids->ndim != 2 || ids->shape[0] < 1 || ids->shape[1] < 1 ||
        ids->shape[1] > cfg->context_length)
        return vt_ctx_fail(c, VT_ESHAPE, "text tower: ids must be i64 [B, L] with 1 <= L <= %d, got %s%s",
                           cfg->context_length, ids ? vt_shape_str(ids, s, sizeof s) : "NULL",
                           ids && ids->dtype != VT_I64 ? " (not i64)" : "");
    ids = vt_contiguous(c, ids);
    if (!ids) return vt_ctx_error(c)->code;
    int64_t B = ids->shape[0], L = ids->shape[1], D = cfg->width;
    /* the ids are read on the host: device ids through a synchronising host copy */
    vt_tensor *hids = vt_on_cpu(ids) ? ids : vt_host_copy(c, ids);
    if (!hids) return vt_ctx_error(c)->code;
    /* pooling positions (argmax: first maximum), checked against the vocabulary on the way */
    int64_t *pos = malloc((size_t)B * sizeof *pos);
    if (!pos) return vt_ctx_fail(c, VT_ENOMEM, "text tower: out of memory");
    const int64_t *id = vt_i64(hids);
    for (int64_t b = 0; b < B; b++) {
        int64_t best = 0;
        for (int64_t j = 0; j < L; j++) {
            int64_t v = id[b * L + j];
            if (v < 0 || v >= cfg->vocab_size) {
                free(pos);
                return vt_ctx_fail(c, VT_EINVAL, "text tower: token id %lld at [%lld, %lld] is outside the vocabulary "
                                   "[0, %d)", (long long)v, (long long)b, (long long)j, cfg->vocab_size);
            }
            if (v > id[b * L + best]) best = j;
        }
        pos[b] = b * L + best;
    }
    vt_tensor *x = vt_embedding(c, m->token_embedding, ids, VT_NO_PADDING);
    x = vt_add(c, x, vt_slice(c, m->positional_embedding, 0, 0, L, 1));
    for (int i = 0; i < cfg->layers; i++) x = block_forward(c, cfg, &m->blocks[i], x);
    x = vt_layer_norm(c, x, m->ln_final_w, m->ln_final_b, cfg->ln_eps);
    vt_tensor *idx = vt_from_i64(c, VT_SHAPE(B), pos);
    if (idx && !vt_on_cpu(ids)) idx = vt_to_device(c, idx, ids->device);
    free(pos);
    vt_tensor *pooled = vt_index_select(c, vt_reshape(c, x, VT_SHAPE(B * L, D)), 0, idx);
    vt_tensor *embeds = vt_matmul(c, pooled, m->text_projection);
    if (!embeds) return vt_ctx_error(c)->code;
    out->tokens = x, out->pooled = pooled, out->embeds = embeds;
    return VT_OK;
}
