/* The detr head's network: parameters, the encoder-decoder forward pass and the sine position encoding.
 * Internal to the plugin (detr.c is the ABI side). */
#ifndef VISFT_PLUGIN_DETR_NET_H
#define VISFT_PLUGIN_DETR_NET_H

#include <stdbool.h>
#include <stdint.h>

#include <visft/detr_loss.h>
#include <visft/visft.h>

typedef struct detr_sizes {
    int64_t in_width;                   /* backbone channels */
    int64_t num_classes;                /* without no-object */
    int64_t enc_width, enc_layers, enc_heads, enc_ffn;
    int64_t dec_width, dec_layers, dec_heads, dec_ffn;
    int64_t num_queries;
    double dropout;
} detr_sizes;

typedef struct detr_attn {
    vt_tensor *wq, *bq, *wk, *bk, *wv, *bv, *wo, *bo;
} detr_attn;

typedef struct detr_ffn {
    vt_tensor *w1, *b1, *w2, *b2;
} detr_ffn;

typedef struct detr_norm {
    vt_tensor *w, *b;
} detr_norm;

typedef struct detr_enc_layer {
    detr_attn attn;
    detr_norm n1, n2;
    detr_ffn ffn;
} detr_enc_layer;

typedef struct detr_dec_layer {
    detr_attn self_attn, cross_attn;
    detr_norm n1, n2, n3;
    detr_ffn ffn;
} detr_dec_layer;

typedef struct detr_net {
    detr_sizes s;
    vt_tensor *in_w, *in_b;     /* 1x1 conv as a linear on the flattened map: [E, D], [E] */
    vt_tensor *task_embed;      /* [1, E]: the learned task token prepended to the sequence */
    detr_enc_layer *enc;
    vt_tensor *mem_w, *mem_b;   /* encoder -> decoder width: [Dd, E], [Dd] */
    vt_tensor *query_pos;       /* [Q, Dd] */
    detr_dec_layer *dec;
    detr_norm dec_norm;         /* DETR's final decoder norm, applied to every layer's output */
    vt_tensor *cls_w, *cls_b;   /* [C + 1, Dd] */
    vt_tensor *box_w[3], *box_b[3];
    /* every tensor above, named (checkpoint keys) */
    vt_named_tensor *params;
    char **names;
    size_t n_params, cap_params;
} detr_net;

/* Allocates and initialises every parameter; VT_OK or a status with err set. */
vt_status detr_net_init(detr_net *n, vt_ctx *ctx, const detr_sizes *s, vt_err *err);
void detr_net_free(detr_net *n);

/* features [B, D, H, W] -> per decoder layer: logits [B, Q, C + 1] and sigmoid boxes [B, Q, 4] (cxcywh);
 * out_layers must hold dec_layers entries. VT_OK or a status with err set. */
vt_status detr_net_forward(detr_net *n, vt_ctx *c, vt_tensor *features, vt_detr_pred *out_layers, vt_err *err);

/* DETR's PositionEmbeddingSine(normalize=True) on an H x W grid: [H*W, dim] f32 (row-major cells), y
 * channels first then x; dim must be even. Plain values (no gradient). */
vt_tensor *detr_sine_pos(vt_ctx *c, int64_t H, int64_t W, int64_t dim);

#endif
