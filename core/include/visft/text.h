/* CLIP text side: the byte-level BPE tokenizer of open_clip (SimpleTokenizer) and the CLIP text transformer
 * (open_clip's TextTransformer), for zero-shot benchmarks.
 *
 * The tokenizer reads open_clip's vocabulary file (bpe_simple_vocab_16e6.txt.gz, or any file in its format:
 * one header line, then one "a b" merge per line; gzip or plain text) and gives the same ids as open_clip:
 * text cleaned (html entities, whitespace, lower case), split by open_clip's regex, bytes mapped to unicode,
 * merged by rank; [SOT, ids..., EOT] truncated to the context length keeping EOT, zero padded.
 *
 * The text tower's parameters carry open_clip's names (token_embedding.weight, positional_embedding,
 * transformer.resblocks.N.attn.in_proj_weight, ..., ln_final.weight, text_projection), so the text half of an
 * open_clip CLIP checkpoint loads with vt_tensor_list_load directly. */
#ifndef VISFT_TEXT_H
#define VISFT_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "visft/context.h"
#include "visft/nn.h"
#include "visft/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- BPE tokenizer ---- */

typedef struct vt_bpe vt_bpe;

#define VT_CLIP_CONTEXT_LENGTH 77
#define VT_CLIP_SOT_ID 49406 /* with open_clip's vocabulary; vt_bpe_sot_id() in general */
#define VT_CLIP_EOT_ID 49407

/* Loads a vocabulary file (gzip or plain). Uses the first 48894 merges, as open_clip does. Fails with a
 * message naming the file and line for an unreadable, corrupt or malformed file. */
vt_status vt_bpe_load(const char *path, vt_bpe **out, vt_err *err);
/* The same from a buffer (gzip or plain); name is used in messages. */
vt_status vt_bpe_load_memory(const void *buf, size_t len, const char *name, vt_bpe **out, vt_err *err);
void vt_bpe_free(vt_bpe *b);

int64_t vt_bpe_vocab_size(const vt_bpe *b); /* 512 + merges + 2 (49408 for open_clip's file) */
int64_t vt_bpe_sot_id(const vt_bpe *b);
int64_t vt_bpe_eot_id(const vt_bpe *b);

/* Token ids of text (len bytes, any bytes: invalid UTF-8 is read as U+FFFD) without SOT/EOT, as open_clip's
 * SimpleTokenizer.encode. Writes at most cap ids and stops encoding there; *n gets the count written. */
vt_status vt_bpe_encode(const vt_bpe *b, const char *text, size_t len, int64_t *ids, size_t cap, size_t *n,
                        vt_err *err);
/* open_clip's tokenize for one text: out[context_length] = SOT, ids..., EOT, zeros; when too long, the
 * first context_length - 2 ids are kept and the last slot is EOT. */
vt_status vt_bpe_tokenize(const vt_bpe *b, const char *text, size_t len, int64_t context_length, int64_t *out,
                          vt_err *err);
/* n NUL-terminated texts -> i64 [n, context_length] in the current scope (NULL and ctx error on failure). */
vt_tensor *vt_bpe_tokenize_batch(vt_ctx *c, const vt_bpe *b, const char *const *texts, int64_t n,
                                 int64_t context_length);

/* ---- text transformer ---- */

typedef struct vt_text_config {
    int context_length, vocab_size;
    int width, heads, layers, mlp_hidden;
    int embed_dim;  /* text_projection is [width, embed_dim] */
    vt_act_kind act; /* VT_ACT_GELU (open_clip's default) or VT_ACT_QUICK_GELU (OpenAI weights) */
    double ln_eps;
} vt_text_config;

/* open_clip ViT-B-16 text tower: 512 wide, 8 heads, 12 layers, embed 512. */
vt_text_config vt_text_config_openclip_b16(void);
/* open_clip ViT-L-14 text tower: 768 wide, 12 heads, 12 layers, embed 768. */
vt_text_config vt_text_config_openclip_l14(void);
/* Tests and the quickstart: 64 wide, 4 heads, 2 layers, embed 32, vocab 49408, context 77. */
vt_text_config vt_text_config_tiny(void);
/* "openclip-vit-b-16", "openclip-vit-l-14" or "tiny"; VT_ENOTFOUND otherwise. */
vt_status vt_text_config_preset(const char *name, vt_text_config *out, vt_err *err);

typedef struct vt_text_block {
    vt_tensor *ln_1_w, *ln_1_b, *in_proj_w, *in_proj_b, *out_proj_w, *out_proj_b;
    vt_tensor *ln_2_w, *ln_2_b, *c_fc_w, *c_fc_b, *c_proj_w, *c_proj_b;
} vt_text_block;

typedef struct vt_text_tower {
    vt_text_config cfg;
    vt_tensor *token_embedding;     /* [vocab, width] */
    vt_tensor *positional_embedding;/* [context_length, width] */
    vt_text_block *blocks;
    vt_tensor *ln_final_w, *ln_final_b;
    vt_tensor *text_projection;     /* [width, embed_dim], applied as x @ P */
    vt_tensor_list params;          /* every parameter, open_clip names */
} vt_text_tower;

typedef struct vt_text_output {
    vt_tensor *tokens; /* [B, L, width] after ln_final */
    vt_tensor *pooled; /* [B, width]: the token at argmax(ids) (the EOT) */
    vt_tensor *embeds; /* [B, embed_dim]: pooled @ text_projection */
} vt_text_output;

/* Creates a tower with open_clip's initialisation (normal, std as TextTransformer.init_parameters) drawn
 * from the ctx RNG; parameters require grad. */
vt_text_tower *vt_text_tower_create(vt_ctx *c, const vt_text_config *cfg, vt_err *err);
void vt_text_tower_destroy(vt_text_tower *m);
/* ids: i64 [B, L] with 1 <= L <= context_length, values in [0, vocab). Causal attention; pooled at the first
 * position of each row's largest id (open_clip's argmax pooling: the EOT token). */
vt_status vt_text_tower_forward(vt_ctx *c, const vt_text_tower *m, vt_tensor *ids, vt_text_output *out);

#ifdef __cplusplus
}
#endif
#endif
