/* The detr head's network (DETR/UniT layout, post-norm): input projection, task token + encoder with sine
 * positions on q/k, residual memory, projection to the decoder width, decoder with learned queries, class and
 * box heads on every decoder layer. */
#include "detr_net.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- parameters ---- */

static vt_tensor *add_param(detr_net *n, vt_ctx *ctx, const char *name, int ndim, const int64_t *shape) {
    if (n->n_params == n->cap_params) {
        size_t cap = n->cap_params ? 2 * n->cap_params : 64;
        vt_named_tensor *p = realloc(n->params, cap * sizeof *p);
        if (!p) return NULL;
        n->params = p;
        char **nm = realloc(n->names, cap * sizeof *nm);
        if (!nm) return NULL;
        n->names = nm;
        n->cap_params = cap;
    }
    vt_tensor *t = vt_tensor_create(ctx, VT_F32, ndim, shape);
    char *s = malloc(strlen(name) + 1);
    if (!t || !s) {
        vt_tensor_release(t);
        free(s);
        return NULL;
    }
    strcpy(s, name);
    vt_set_requires_grad(t, true);
    n->names[n->n_params] = s;
    n->params[n->n_params++] = (vt_named_tensor){s, t, VT_TENSOR_TRAINABLE};
    return t;
}

/* PyTorch's nn.Linear init (kaiming-uniform weight, uniform bias in ±1/sqrt(in)) keeps the deep post-norm
 * stack well scaled; DETR uses xavier for the transformer, which matches it closely enough at these widths. */
static bool linear(detr_net *n, vt_ctx *ctx, const char *prefix, int64_t out, int64_t in, vt_tensor **w,
                   vt_tensor **b) {
    char name[96];
    snprintf(name, sizeof name, "%s.weight", prefix);
    *w = add_param(n, ctx, name, 2, (int64_t[]){out, in});
    snprintf(name, sizeof name, "%s.bias", prefix);
    *b = add_param(n, ctx, name, 1, (int64_t[]){out});
    if (!*w || !*b) return false;
    vt_init_xavier_uniform_(ctx, *w);
    double bound = 1.0 / sqrt((double)in);
    vt_init_uniform_(ctx, *b, -bound, bound);
    return true;
}

static bool norm(detr_net *n, vt_ctx *ctx, const char *prefix, int64_t dim, detr_norm *out) {
    char name[96];
    snprintf(name, sizeof name, "%s.weight", prefix);
    out->w = add_param(n, ctx, name, 1, (int64_t[]){dim});
    snprintf(name, sizeof name, "%s.bias", prefix);
    out->b = add_param(n, ctx, name, 1, (int64_t[]){dim});
    if (!out->w || !out->b) return false;
    float *g = vt_f32(out->w);
    for (int64_t i = 0; i < dim; i++) g[i] = 1.0f; /* bias starts at zero */
    return true;
}

static bool attn(detr_net *n, vt_ctx *ctx, const char *prefix, int64_t dim, detr_attn *a) {
    char p[80];
    snprintf(p, sizeof p, "%s.q", prefix);
    if (!linear(n, ctx, p, dim, dim, &a->wq, &a->bq)) return false;
    snprintf(p, sizeof p, "%s.k", prefix);
    if (!linear(n, ctx, p, dim, dim, &a->wk, &a->bk)) return false;
    snprintf(p, sizeof p, "%s.v", prefix);
    if (!linear(n, ctx, p, dim, dim, &a->wv, &a->bv)) return false;
    snprintf(p, sizeof p, "%s.out", prefix);
    return linear(n, ctx, p, dim, dim, &a->wo, &a->bo);
}

static bool ffn(detr_net *n, vt_ctx *ctx, const char *prefix, int64_t dim, int64_t hidden, detr_ffn *f) {
    char p[80];
    snprintf(p, sizeof p, "%s.fc1", prefix);
    if (!linear(n, ctx, p, hidden, dim, &f->w1, &f->b1)) return false;
    snprintf(p, sizeof p, "%s.fc2", prefix);
    return linear(n, ctx, p, dim, hidden, &f->w2, &f->b2);
}

vt_status detr_net_init(detr_net *n, vt_ctx *ctx, const detr_sizes *s, vt_err *err) {
    memset(n, 0, sizeof *n);
    n->s = *s;
    if (s->enc_width % s->enc_heads || s->dec_width % s->dec_heads)
        return vt_err_set(err, VT_EINVAL, "detr: enc_width %lld / dec_width %lld must be multiples of their heads",
                          (long long)s->enc_width, (long long)s->dec_width);
    if (s->enc_width % 4 || s->dec_width % 4)
        return vt_err_set(err, VT_EINVAL, "detr: enc_width and dec_width must be multiples of 4 (sine positions)");
    int64_t E = s->enc_width, Dd = s->dec_width;
    n->enc = calloc((size_t)s->enc_layers, sizeof *n->enc);
    n->dec = calloc((size_t)s->dec_layers, sizeof *n->dec);
    bool ok = n->enc && n->dec && linear(n, ctx, "input_proj", E, s->in_width, &n->in_w, &n->in_b);
    if (ok && (n->task_embed = add_param(n, ctx, "task_embed", 2, (int64_t[]){1, E})))
        vt_init_normal_(ctx, n->task_embed, 0.0, 1.0); /* nn.Embedding's init */
    ok = ok && n->task_embed;
    char p[64];
    for (int64_t l = 0; ok && l < s->enc_layers; l++) {
        detr_enc_layer *L = &n->enc[l];
        snprintf(p, sizeof p, "encoder.%lld.attn", (long long)l);
        ok = attn(n, ctx, p, E, &L->attn);
        snprintf(p, sizeof p, "encoder.%lld.norm1", (long long)l);
        ok = ok && norm(n, ctx, p, E, &L->n1);
        snprintf(p, sizeof p, "encoder.%lld.ffn", (long long)l);
        ok = ok && ffn(n, ctx, p, E, s->enc_ffn, &L->ffn);
        snprintf(p, sizeof p, "encoder.%lld.norm2", (long long)l);
        ok = ok && norm(n, ctx, p, E, &L->n2);
    }
    ok = ok && linear(n, ctx, "memory_proj", Dd, E, &n->mem_w, &n->mem_b);
    if (ok && (n->query_pos = add_param(n, ctx, "query_pos", 2, (int64_t[]){s->num_queries, Dd})))
        vt_init_normal_(ctx, n->query_pos, 0.0, 1.0);
    ok = ok && n->query_pos;
    for (int64_t l = 0; ok && l < s->dec_layers; l++) {
        detr_dec_layer *L = &n->dec[l];
        snprintf(p, sizeof p, "decoder.%lld.self_attn", (long long)l);
        ok = attn(n, ctx, p, Dd, &L->self_attn);
        snprintf(p, sizeof p, "decoder.%lld.norm1", (long long)l);
        ok = ok && norm(n, ctx, p, Dd, &L->n1);
        snprintf(p, sizeof p, "decoder.%lld.cross_attn", (long long)l);
        ok = ok && attn(n, ctx, p, Dd, &L->cross_attn);
        snprintf(p, sizeof p, "decoder.%lld.norm2", (long long)l);
        ok = ok && norm(n, ctx, p, Dd, &L->n2);
        snprintf(p, sizeof p, "decoder.%lld.ffn", (long long)l);
        ok = ok && ffn(n, ctx, p, Dd, s->dec_ffn, &L->ffn);
        snprintf(p, sizeof p, "decoder.%lld.norm3", (long long)l);
        ok = ok && norm(n, ctx, p, Dd, &L->n3);
    }
    ok = ok && norm(n, ctx, "decoder.norm", Dd, &n->dec_norm);
    ok = ok && linear(n, ctx, "class_embed", s->num_classes + 1, Dd, &n->cls_w, &n->cls_b);
    for (int i = 0; ok && i < 3; i++) {
        snprintf(p, sizeof p, "bbox_embed.%d", i);
        ok = linear(n, ctx, p, i == 2 ? 4 : Dd, Dd, &n->box_w[i], &n->box_b[i]);
    }
    if (!ok) {
        detr_net_free(n);
        return vt_err_set(err, VT_ENOMEM, "detr: out of memory for the head's parameters");
    }
    return VT_OK;
}

void detr_net_free(detr_net *n) {
    for (size_t i = 0; i < n->n_params; i++) {
        vt_tensor_release(n->params[i].tensor);
        free(n->names[i]);
    }
    free(n->params);
    free(n->names);
    free(n->enc);
    free(n->dec);
    memset(n, 0, sizeof *n);
}

/* ---- forward ---- */

vt_tensor *detr_sine_pos(vt_ctx *c, int64_t H, int64_t W, int64_t dim) {
    vt_tensor *t = vt_zeros(c, VT_F32, 2, (int64_t[]){H * W, dim});
    if (!t) return NULL;
    float *o = vt_f32(t);
    const double scale = 2.0 * M_PI, eps = 1e-6, temp = 10000.0;
    int64_t npf = dim / 2;
    for (int64_t y = 0; y < H; y++)
        for (int64_t x = 0; x < W; x++) {
            /* normalize=True: the cumulative (1-based) coordinate over the last one, times 2π */
            double ye = (double)(y + 1) / ((double)H + eps) * scale, xe = (double)(x + 1) / ((double)W + eps) * scale;
            float *row = o + (y * W + x) * dim;
            for (int64_t j = 0; j < npf; j++) {
                double dt = pow(temp, 2.0 * (double)(j / 2) / (double)npf);
                row[j] = (float)((j % 2) ? cos(ye / dt) : sin(ye / dt));
                row[npf + j] = (float)((j % 2) ? cos(xe / dt) : sin(xe / dt));
            }
        }
    return t;
}

/* Multi-head attention, [B, L, E] in and out; q and k already carry their position encodings. */
static vt_tensor *mha(vt_ctx *c, const detr_attn *a, vt_tensor *q, vt_tensor *k, vt_tensor *v, int64_t heads) {
    int64_t B = q->shape[0], Lq = q->shape[1], Lk = k->shape[1], E = q->shape[2], Dh = E / heads;
    static const int perm[4] = {0, 2, 1, 3};
    vt_tensor *qh = vt_permute(c, vt_reshape(c, vt_linear(c, q, a->wq, a->bq), 4, (int64_t[]){B, Lq, heads, Dh}), perm);
    vt_tensor *kh = vt_permute(c, vt_reshape(c, vt_linear(c, k, a->wk, a->bk), 4, (int64_t[]){B, Lk, heads, Dh}), perm);
    vt_tensor *vh = vt_permute(c, vt_reshape(c, vt_linear(c, v, a->wv, a->bv), 4, (int64_t[]){B, Lk, heads, Dh}), perm);
    vt_tensor *o = vt_sdpa(c, qh, kh, vh, NULL, 0.0, false);
    o = vt_reshape(c, vt_contiguous(c, vt_permute(c, o, perm)), 3, (int64_t[]){B, Lq, E});
    return vt_linear(c, o, a->wo, a->bo);
}

static vt_tensor *ffn_fwd(vt_ctx *c, const detr_ffn *f, vt_tensor *x, double p) {
    vt_tensor *h = vt_dropout(c, vt_relu(c, vt_linear(c, x, f->w1, f->b1)), p);
    return vt_linear(c, h, f->w2, f->b2);
}

static vt_tensor *add_norm(vt_ctx *c, vt_tensor *x, vt_tensor *y, const detr_norm *nm, double p) {
    return vt_layer_norm(c, vt_add(c, x, vt_dropout(c, y, p)), nm->w, nm->b, 1e-5);
}

vt_status detr_net_forward(detr_net *n, vt_ctx *c, vt_tensor *features, vt_detr_pred *out, vt_err *err) {
    const detr_sizes *s = &n->s;
    if (!features || features->ndim != 4 || features->dtype != VT_F32 || features->shape[1] != s->in_width)
        return vt_err_set(err, VT_EINVAL, "detr: features must be [B, %lld, H, W] f32", (long long)s->in_width);
    int64_t B = features->shape[0], H = features->shape[2], W = features->shape[3], E = s->enc_width,
            Dd = s->dec_width, Q = s->num_queries;
    if (B <= 0 || H <= 0 || W <= 0) return vt_err_set(err, VT_EINVAL, "detr: empty feature map");
    double p = s->dropout;
    /* [B, D, H, W] -> [B, HW, D] -> [B, HW, E]: the 1x1 conv */
    vt_tensor *x = vt_contiguous(c, vt_permute(c, vt_flatten(c, features, 2, 3), (int[]){0, 2, 1}));
    vt_tensor *src = vt_linear(c, x, n->in_w, n->in_b);
    vt_tensor *task = vt_expand(c, vt_unsqueeze(c, n->task_embed, 0), 3, (int64_t[]){B, 1, E});
    src = vt_concat(c, 2, (vt_tensor *[]){task, src}, 1); /* [B, 1 + HW, E] */
    /* the task token sits outside the grid: zero position */
    vt_tensor *grid = detr_sine_pos(c, H, W, E);
    /* position encodings are made on the host and moved to the features' device (constants: no gradient) */
    vt_device dev = features->device;
    vt_tensor *pos = vt_to_device(
        c, vt_unsqueeze(c, vt_concat(c, 2, (vt_tensor *[]){vt_zeros(c, VT_F32, 2, (int64_t[]){1, E}), grid}, 0), 0), dev);
    vt_tensor *h = src;
    for (int64_t l = 0; l < s->enc_layers; l++) {
        const detr_enc_layer *L = &n->enc[l];
        vt_tensor *qk = vt_add(c, h, pos);
        h = add_norm(c, h, mha(c, &L->attn, qk, qk, h, s->enc_heads), &L->n1, p);
        h = add_norm(c, h, ffn_fwd(c, &L->ffn, h, p), &L->n2, p);
    }
    vt_tensor *memory = vt_linear(c, vt_add(c, src, h), n->mem_w, n->mem_b); /* [B, 1 + HW, Dd] */
    vt_tensor *dgrid = detr_sine_pos(c, H, W, Dd);
    vt_tensor *mpos = vt_to_device(
        c, vt_unsqueeze(c, vt_concat(c, 2, (vt_tensor *[]){vt_zeros(c, VT_F32, 2, (int64_t[]){1, Dd}), dgrid}, 0), 0), dev);
    vt_tensor *mem_k = vt_add(c, memory, mpos);
    vt_tensor *qpos = vt_unsqueeze(c, n->query_pos, 0); /* [1, Q, Dd] */
    vt_tensor *tgt = vt_zeros_on(c, dev, VT_F32, 3, (int64_t[]){B, Q, Dd});
    for (int64_t l = 0; l < s->dec_layers; l++) {
        const detr_dec_layer *L = &n->dec[l];
        vt_tensor *qk = vt_add(c, tgt, qpos);
        tgt = add_norm(c, tgt, mha(c, &L->self_attn, qk, qk, tgt, s->dec_heads), &L->n1, p);
        tgt = add_norm(c, tgt, mha(c, &L->cross_attn, vt_add(c, tgt, qpos), mem_k, memory, s->dec_heads), &L->n2, p);
        tgt = add_norm(c, tgt, ffn_fwd(c, &L->ffn, tgt, p), &L->n3, p);
        vt_tensor *hs = vt_layer_norm(c, tgt, n->dec_norm.w, n->dec_norm.b, 1e-5);
        out[l].logits = vt_linear(c, hs, n->cls_w, n->cls_b);
        vt_tensor *b = vt_relu(c, vt_linear(c, hs, n->box_w[0], n->box_b[0]));
        b = vt_relu(c, vt_linear(c, b, n->box_w[1], n->box_b[1]));
        out[l].boxes = vt_sigmoid(c, vt_linear(c, b, n->box_w[2], n->box_b[2]));
    }
    vt_tensor *last = s->dec_layers > 0 ? out[s->dec_layers - 1].boxes : NULL;
    if (!last) {
        const vt_err *e = vt_ctx_error(c);
        return vt_err_set(err, e && e->code ? e->code : VT_EINVAL, "detr: forward: %s",
                          e && e->code ? e->msg : "failed");
    }
    return VT_OK;
}
