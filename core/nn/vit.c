/* Vision transformer family (timm ViT, open_clip ViT, EVA / EVA-CLIP), built only from visft ops so autograd
 * covers it. One block type, configured: pre-norm (x + attn(LN(x))) or EVA02-E post-norm (x + LN(attn(x))),
 * fused qkv bias all / none / EVA's q and v only (k bias fixed at zero), GELU or QuickGELU, optional class
 * token, ln_pre, final norm and projection head. Names follow timm (see vt_vit_create).
 *
 * Patch embedding is the conv-as-GEMM identity: with kernel == stride == p the convolution is a reshape of
 * the image into [B, patches, C·p·p] followed by one linear layer with the conv weight viewed as [D, C·p·p].
 * Attention takes q, k and v as strided views of the fused qkv output (no copies) and runs the fused,
 * tiled SDPA kernel, which never materialises the L×L score matrix. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/internal.h" /* vt_scope_adopt */
#include "visft/nn.h"
#include "visft/ops.h"

/* ---- deterministic initialisation (timm: trunc_normal(std=.02) weights, zero biases, unit norms) ---- */

static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void fill_trunc_normal(vt_tensor *t, uint64_t seed, float std) {
    float *p = vt_f32(t);
    uint64_t s = seed;
    for (int64_t i = 0; i < vt_numel(t); i++) {
        double v;
        do {
            double u1 = ((double)(splitmix(&s) >> 11) + 0.5) / 9007199254740992.0;
            double u2 = ((double)(splitmix(&s) >> 11) + 0.5) / 9007199254740992.0;
            v = sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
        } while (fabs(v) > 2.0);
        p[i] = (float)(v * std);
    }
}

static void fill_const(vt_tensor *t, float v) {
    float *p = vt_f32(t);
    for (int64_t i = 0; i < vt_numel(t); i++) p[i] = v;
}

typedef struct builder {
    vt_ctx *c;
    vt_vit *m;
    uint64_t seed;
    vt_err *err;
    bool failed;
} builder;

static vt_tensor *param(builder *b, float init_std, float init_const, int ndim, const int64_t *shape,
                        const char *fmt, int idx) {
    if (b->failed) return NULL;
    vt_tensor *t = vt_tensor_create(b->c, VT_F32, ndim, shape);
    if (!t) {
        vt_err_set(b->err, VT_ENOMEM, "vit: cannot allocate parameter: %s", vt_ctx_error(b->c)->msg);
        b->failed = true;
        return NULL;
    }
    /* with skip_init the zeros vt_tensor_create wrote stay until a checkpoint fills the tensor */
    if (!b->m->cfg.skip_init && init_std > 0)
        fill_trunc_normal(t, b->seed++ * 7919u + 17u, init_std);
    else if (!b->m->cfg.skip_init)
        fill_const(t, init_const);
    char name[128];
    snprintf(name, sizeof name, fmt, idx);
    if (vt_tensor_list_add(&b->m->params, t, "%s", name) != VT_OK) {
        vt_tensor_release(t);
        vt_err_set(b->err, VT_ENOMEM, "vit: out of memory");
        b->failed = true;
        return NULL;
    }
    vt_set_requires_grad(t, true);
    return t;
}

#define P(b, std, cst, name, idx, ...) param(b, std, cst, VT_SHAPE(__VA_ARGS__), name, idx)

vt_vit *vt_vit_create(vt_ctx *c, const vt_vit_config *cfg, vt_err *err) {
    if (cfg->width <= 0 || cfg->depth <= 0 || cfg->heads <= 0 || cfg->width % cfg->heads || cfg->patch_size <= 0 ||
        cfg->image_size <= 0 || cfg->image_size % cfg->patch_size || cfg->mlp_hidden <= 0 || cfg->in_chans <= 0) {
        vt_err_set(err, VT_EINVAL,
                   "vit: invalid config (width %d must be a positive multiple of heads %d; image size %d a multiple "
                   "of patch size %d; depth %d, mlp %d, channels %d positive)",
                   cfg->width, cfg->heads, cfg->image_size, cfg->patch_size, cfg->depth, cfg->mlp_hidden,
                   cfg->in_chans);
        return NULL;
    }
    if (cfg->num_classes < 0 || cfg->embed_dim < 0 || (cfg->num_classes > 0 && cfg->embed_dim > 0) ||
        !(cfg->ln_eps > 0) || (unsigned)cfg->qkv_bias > VT_QKV_BIAS_QV || (unsigned)cfg->act > VT_ACT_QUICK_GELU) {
        vt_err_set(err, VT_EINVAL,
                   "vit: invalid config (num_classes %d and embed_dim %d: non-negative, at most one set; ln_eps %g "
                   "positive; qkv_bias %d, act %d known)",
                   cfg->num_classes, cfg->embed_dim, cfg->ln_eps, (int)cfg->qkv_bias, (int)cfg->act);
        return NULL;
    }
    vt_vit *m = calloc(1, sizeof *m);
    if (!m || !(m->blocks = calloc((size_t)cfg->depth, sizeof *m->blocks))) {
        free(m);
        vt_err_set(err, VT_ENOMEM, "vit: out of memory");
        return NULL;
    }
    m->cfg = *cfg;
    vt_tensor_list_init(&m->params);
    builder b = {c, m, 1, err, false};
    int64_t D = cfg->width, p = cfg->patch_size, g = cfg->image_size / p, L = g * g + (cfg->class_token ? 1 : 0);
    m->patch_w = P(&b, .02f, 0, "patch_embed.proj.weight", 0, D, cfg->in_chans, p, p);
    if (cfg->patch_bias) m->patch_b = P(&b, 0, 0, "patch_embed.proj.bias", 0, D);
    if (cfg->class_token) m->cls_token = P(&b, 1e-6f, 0, "cls_token", 0, 1, 1, D);
    m->pos_embed = P(&b, .02f, 0, "pos_embed", 0, 1, L, D);
    if (cfg->ln_pre) {
        m->ln_pre_w = P(&b, 0, 1, "norm_pre.weight", 0, D);
        m->ln_pre_b = P(&b, 0, 0, "norm_pre.bias", 0, D);
    }
    for (int i = 0; i < cfg->depth; i++) {
        vt_vit_block *k = &m->blocks[i];
        k->norm1_w = P(&b, 0, 1, "blocks.%d.norm1.weight", i, D);
        k->norm1_b = P(&b, 0, 0, "blocks.%d.norm1.bias", i, D);
        k->qkv_w = P(&b, .02f, 0, "blocks.%d.attn.qkv.weight", i, 3 * D, D);
        if (cfg->qkv_bias == VT_QKV_BIAS_ALL) k->qkv_b = P(&b, 0, 0, "blocks.%d.attn.qkv.bias", i, 3 * D);
        if (cfg->qkv_bias == VT_QKV_BIAS_QV) {
            k->q_bias = P(&b, 0, 0, "blocks.%d.attn.q_bias", i, D);
            k->v_bias = P(&b, 0, 0, "blocks.%d.attn.v_bias", i, D);
        }
        k->proj_w = P(&b, .02f, 0, "blocks.%d.attn.proj.weight", i, D, D);
        k->proj_b = P(&b, 0, 0, "blocks.%d.attn.proj.bias", i, D);
        k->norm2_w = P(&b, 0, 1, "blocks.%d.norm2.weight", i, D);
        k->norm2_b = P(&b, 0, 0, "blocks.%d.norm2.bias", i, D);
        k->fc1_w = P(&b, .02f, 0, "blocks.%d.mlp.fc1.weight", i, cfg->mlp_hidden, D);
        k->fc1_b = P(&b, 0, 0, "blocks.%d.mlp.fc1.bias", i, cfg->mlp_hidden);
        k->fc2_w = P(&b, .02f, 0, "blocks.%d.mlp.fc2.weight", i, D, cfg->mlp_hidden);
        k->fc2_b = P(&b, 0, 0, "blocks.%d.mlp.fc2.bias", i, D);
    }
    if (cfg->final_norm) {
        m->norm_w = P(&b, 0, 1, "norm.weight", 0, D);
        m->norm_b = P(&b, 0, 0, "norm.bias", 0, D);
    }
    /* classifier or projection: both are timm's "head" (open_clip's proj is stored transposed there) */
    int64_t head_out = cfg->num_classes > 0 ? cfg->num_classes : cfg->embed_dim;
    if (head_out > 0) {
        m->head_w = P(&b, .02f, 0, "head.weight", 0, head_out, D);
        if (cfg->num_classes > 0 || cfg->proj_bias) m->head_b = P(&b, 0, 0, "head.bias", 0, head_out);
    }
    for (int i = 0; i < cfg->depth; i++) m->blocks[i].owner = m;
    if (b.failed) {
        vt_vit_destroy(m);
        return NULL;
    }
    return m;
}

void vt_vit_destroy(vt_vit *m) {
    if (!m) return;
    for (size_t i = 0; i < m->params.n; i++) vt_tensor_release(m->params.items[i].tensor);
    vt_tensor_list_free(&m->params);
    for (int i = 0; m->blocks && i < m->cfg.depth; i++) vt_lora_destroy(m->blocks[i].qkv_lora);
    free(m->blocks);
    free(m);
}

/* ---- forward ---- */

static vt_tensor *act(vt_ctx *c, vt_act_kind a, vt_tensor *x) {
    switch (a) {
    case VT_ACT_GELU_TANH: return vt_gelu_tanh(c, x);
    case VT_ACT_QUICK_GELU: return vt_quick_gelu(c, x);
    default: return vt_gelu(c, x);
    }
}

/* The fused qkv bias: EVA's q_bias | 0 | v_bias (the zero k part gets no gradient), else qkv.bias or none. */
static vt_tensor *qkv_bias(vt_ctx *c, const vt_vit_block *k) {
    if (!k->q_bias) return k->qkv_b;
    vt_tensor *zero = vt_zeros_on(c, k->q_bias->device, VT_F32, VT_SHAPE(k->q_bias->shape[0]));
    return vt_concat(c, 3, (vt_tensor *[]){k->q_bias, zero, k->v_bias}, 0);
}

static vt_tensor *attention(vt_ctx *c, const vt_vit *m, const vt_vit_block *k, vt_tensor *h) {
    const vt_vit_config *cfg = &m->cfg;
    if (!h) return NULL;
    int64_t B = h->shape[0], L = h->shape[1], D = cfg->width, H = cfg->heads, hd = D / H;
    vt_tensor *bias = qkv_bias(c, k);
    vt_tensor *qkv = k->qkv_lora ? vt_lora_forward(c, k->qkv_lora, h, k->qkv_w, bias) : vt_linear(c, h, k->qkv_w, bias);
    vt_tensor *t = vt_permute(c, vt_reshape(c, qkv, VT_SHAPE(B, L, 3, H, hd)), (int[]){2, 0, 3, 1, 4});
    vt_tensor *q = vt_squeeze(c, vt_slice(c, t, 0, 0, 1, 1), 0);
    vt_tensor *kk = vt_squeeze(c, vt_slice(c, t, 0, 1, 2, 1), 0);
    vt_tensor *v = vt_squeeze(c, vt_slice(c, t, 0, 2, 3, 1), 0);
    vt_tensor *o = vt_sdpa(c, q, kk, v, NULL, 1.0 / sqrt((double)hd), false);       /* [B, H, L, hd] */
    o = vt_reshape(c, vt_permute(c, o, (int[]){0, 2, 1, 3}), VT_SHAPE(B, L, D));
    return vt_linear(c, o, k->proj_w, k->proj_b);
}

static vt_tensor *mlp(vt_ctx *c, const vt_vit_config *cfg, const vt_vit_block *k, vt_tensor *h) {
    return vt_linear(c, act(c, cfg->act, vt_linear(c, h, k->fc1_w, k->fc1_b)), k->fc2_w, k->fc2_b);
}

/* A vt_checkpoint_fn: user is the block (its owner gives the config). */
static vt_tensor *block_forward(vt_ctx *c, void *user, vt_tensor *x) {
    const vt_vit_block *k = user;
    const vt_vit *m = k->owner;
    const vt_vit_config *cfg = &m->cfg;
    if (cfg->post_norm) { /* EVA02-E (timm EvaBlockPostNorm): the norm sits on the residual branch's output */
        x = vt_add(c, x, vt_layer_norm(c, attention(c, m, k, x), k->norm1_w, k->norm1_b, cfg->ln_eps));
        return vt_add(c, x, vt_layer_norm(c, mlp(c, cfg, k, x), k->norm2_w, k->norm2_b, cfg->ln_eps));
    }
    x = vt_add(c, x, attention(c, m, k, vt_layer_norm(c, x, k->norm1_w, k->norm1_b, cfg->ln_eps)));
    return vt_add(c, x, mlp(c, cfg, k, vt_layer_norm(c, x, k->norm2_w, k->norm2_b, cfg->ln_eps)));
}

static vt_tensor *run_block(vt_ctx *c, const vt_vit *m, vt_vit_block *k, vt_tensor *x) {
    if (!m->cfg.grad_checkpoint) return block_forward(c, k, x);
    vt_tensor *ps[20];
    int n = 0;
    vt_tensor *all[] = {k->norm1_w, k->norm1_b, k->qkv_w, k->qkv_b, k->q_bias, k->v_bias, k->proj_w, k->proj_b,
                        k->norm2_w, k->norm2_b, k->fc1_w, k->fc1_b, k->fc2_w, k->fc2_b};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        if (all[i]) ps[n++] = all[i];
    for (int s = 0; k->qkv_lora && s < 3; s++)
        if (k->qkv_lora->A[s]) ps[n++] = k->qkv_lora->A[s], ps[n++] = k->qkv_lora->B[s];
    return vt_checkpoint(c, block_forward, k, x, n, ps);
}

vt_status vt_vit_forward(vt_ctx *c, const vt_vit *m, vt_tensor *images, vt_vit_output *out) {
    memset(out, 0, sizeof *out);
    if (!vt_ctx_ok(c)) return vt_ctx_error(c)->code;
    const vt_vit_config *cfg = &m->cfg;
    char s[VT_SHAPE_STR_MAX];
    int64_t p = cfg->patch_size;
    if (!images || images->ndim != 4 || images->shape[1] != cfg->in_chans || images->shape[2] % p ||
        images->shape[3] % p || images->shape[2] == 0 || images->shape[3] == 0 || images->shape[0] == 0)
        return vt_ctx_fail(c, VT_ESHAPE, "vit: images must be [B, %d, H, W] with H, W positive multiples of %lld, got %s",
                           cfg->in_chans, (long long)p, images ? vt_shape_str(images, s, sizeof s) : "NULL");
    int64_t B = images->shape[0], gh = images->shape[2] / p, gw = images->shape[3] / p, D = cfg->width;
    /* patch embedding: [B,C,gh,p,gw,p] -> [B,gh,gw,C,p,p] -> [B, N, C·p·p] · Wᵀ */
    vt_tensor *x = vt_reshape(c, images, VT_SHAPE(B, cfg->in_chans, gh, p, gw, p));
    x = vt_reshape(c, vt_permute(c, x, (int[]){0, 2, 4, 1, 3, 5}), VT_SHAPE(B, gh * gw, cfg->in_chans * p * p));
    x = vt_linear(c, x, vt_reshape(c, m->patch_w, VT_SHAPE(D, -1)), m->patch_b);
    if (m->cls_token) x = vt_concat(c, 2, (vt_tensor *[]){vt_expand(c, m->cls_token, VT_SHAPE(B, 1, D)), x}, 1);
    x = vt_add(c, x, vt_vit_pos_embed(c, m, gh, gw));
    if (m->ln_pre_w) x = vt_layer_norm(c, x, m->ln_pre_w, m->ln_pre_b, cfg->ln_eps);
    for (int i = 0; i < cfg->depth; i++) {
        if (vt_grad_enabled(c)) {
            x = run_block(c, m, &m->blocks[i], x);
            continue;
        }
        /* inference: nothing refers back to a block's intermediates, so free them per block, not per forward */
        vt_scope_push(c);
        vt_tensor *y = vt_tensor_retain(run_block(c, m, &m->blocks[i], x));
        vt_scope_pop(c);
        x = y ? vt_scope_adopt(c, y) : NULL;
    }
    if (m->norm_w) x = vt_layer_norm(c, x, m->norm_w, m->norm_b, cfg->ln_eps);
    if (!x) return vt_ctx_error(c)->code;
    int64_t first = m->cls_token ? 1 : 0;
    vt_tensor *patches = vt_slice(c, x, 1, first, x->shape[1], 1);
    out->tokens = x;
    out->features = vt_permute(c, vt_reshape(c, patches, VT_SHAPE(B, gh, gw, D)), (int[]){0, 3, 1, 2});
    out->pooled = m->cls_token ? vt_squeeze(c, vt_slice(c, x, 1, 0, 1, 1), 1) : vt_mean(c, patches, 1, (int[]){1}, false);
    vt_tensor *head = m->head_w ? vt_linear(c, out->pooled, m->head_w, m->head_b) : NULL;
    if (cfg->num_classes > 0) out->logits = head;
    out->embedding = cfg->embed_dim > 0 ? head : out->pooled;
    return vt_ctx_ok(c) ? VT_OK : vt_ctx_error(c)->code;
}

vt_status vt_vit_add_lora(vt_ctx *c, vt_vit *m, const vt_lora_config *cfg, vt_tensor_list *lora_params, vt_err *err) {
    for (int i = 0; i < m->cfg.depth; i++) {
        vt_vit_block *k = &m->blocks[i];
        if (k->qkv_lora) return vt_err_set(err, VT_ESTATE, "vit: block %d already has a LoRA adapter", i);
        k->qkv_lora = vt_lora_create(c, cfg, m->cfg.width, 3 * (int64_t)m->cfg.width, err);
        if (!k->qkv_lora) return err->code;
        /* adapters are initialised on the host (the same values on every device) and live beside their weight */
        for (int s = 0; s < 8; s++) {
            vt_tensor *ab[2] = {k->qkv_lora->A[s], k->qkv_lora->B[s]};
            for (int j = 0; j < 2; j++)
                if (ab[j] && vt_tensor_move_(c, ab[j], k->qkv_w->device) != VT_OK)
                    return vt_err_set(err, vt_ctx_error(c)->code, "vit: LoRA adapters: %s", vt_ctx_error(c)->msg);
        }
        char prefix[64];
        snprintf(prefix, sizeof prefix, "blocks.%d.attn.qkv", i);
        vt_status st = lora_params ? vt_lora_parameters(k->qkv_lora, lora_params, prefix) : VT_OK;
        if (st != VT_OK) return vt_err_set(err, st, "vit: out of memory listing LoRA parameters");
    }
    return VT_OK;
}

double vt_vit_forward_flops(const vt_vit_config *cfg, int batch) {
    double p = cfg->patch_size, g = cfg->image_size / cfg->patch_size, N = g * g;
    double L = N + (cfg->class_token ? 1 : 0), D = cfg->width, M = cfg->mlp_hidden;
    double per_block = 2 * L * D * 3 * D + 2 * 2 * L * L * D + 2 * L * D * D + 2 * 2 * L * D * M;
    double total = 2 * N * cfg->in_chans * p * p * D + cfg->depth * per_block +
                   2 * D * (cfg->num_classes > 0 ? cfg->num_classes : cfg->embed_dim);
    return total * batch;
}
