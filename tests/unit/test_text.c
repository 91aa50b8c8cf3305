/* CLIP text transformer: parity with open_clip's TextTransformer (width 64, 2 layers, random weights under
 * open_clip's key names; tests/ref/gen_text.py) for the pooled embedding, the per-token output and every
 * parameter gradient; a finite-difference gradient check; bad inputs are errors. */
#include <math.h>
#include <string.h>

#include "golden.h"
#include "visft/safetensors.h"
#include "visft/text.h"
#include "vt_test.h"

static vt_text_config golden_config(vt_act_kind act) {
    vt_text_config cfg = vt_text_config_tiny();
    cfg.context_length = 16, cfg.vocab_size = 200, cfg.act = act;
    return cfg;
}

/* max|a-b| / max|b| */
static double rel_err(const vt_tensor *a, const float *b, int64_t n) {
    double num = 0, den = 1e-30;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs(vt_item_at(a, i) - b[i]);
        if (!(d <= num)) num = d;
        if (fabs(b[i]) > den) den = fabs(b[i]);
    }
    return num / den;
}

static vt_tensor *read_tensor(vt_ctx *c, vt_st_file *f, const char *name) {
    const vt_st_tensor *t = vt_st_find(f, name);
    ck_assert_msg(t != NULL, "golden has no %s", name);
    vt_err err = {0};
    vt_tensor *x = vt_empty(c, t->dtype == VT_I64 ? VT_I64 : VT_F32, t->ndim, t->shape);
    if (t->dtype == VT_I64) ck_assert_int_eq(vt_st_read_i64(f, t, vt_i64(x), (size_t)vt_numel(x), &err), VT_OK);
    else ck_assert_int_eq(vt_st_read_f32(f, t, vt_f32(x), (size_t)vt_numel(x), &err), VT_OK);
    return x;
}

static void check_parity(const char *file, vt_act_kind act, bool grads) {
    vt_ctx *c = vt_test_ctx();
    vt_err err = {0};
    vt_text_config cfg = golden_config(act);
    vt_text_tower *m = vt_text_tower_create(c, &cfg, &err);
    ck_assert_msg(m != NULL, "%s", err.msg);
    /* open_clip's own key names: the golden's extra tensors (ids, outputs, gradients) are allowed */
    ck_assert_msg(vt_tensor_list_load(c, &m->params, file, true, NULL, &err) == VT_OK, "%s", err.msg);
    vt_st_file *f = NULL;
    ck_assert_int_eq(vt_st_open(file, &f, &err), VT_OK);
    vt_tensor *ids = read_tensor(c, f, "ids");
    vt_text_output o;
    ck_assert_msg(vt_text_tower_forward(c, m, ids, &o) == VT_OK, "%s", vt_ctx_error(c)->msg);
    const vt_st_tensor *we = vt_st_find(f, "out.embeds"), *wt = vt_st_find(f, "out.tokens");
    ck_assert(o.embeds->shape[0] == 3 && o.embeds->shape[1] == cfg.embed_dim);
    double ee = rel_err(o.embeds, we->data, (int64_t)we->numel), et = rel_err(o.tokens, wt->data, (int64_t)wt->numel);
    ck_assert_msg(ee <= 1e-4, "pooled embedding: relative error %.3g > 1e-4", ee);
    ck_assert_msg(et <= 1e-4, "tokens: relative error %.3g > 1e-4", et);
    double worst = 0;
    const char *worst_name = "-";
    if (grads) {
        vt_tensor *ge = read_tensor(c, f, "gout.embeds"), *gt = read_tensor(c, f, "gout.tokens");
        vt_tensor *loss = vt_add(c, vt_sum_all(c, vt_mul(c, o.embeds, ge)), vt_sum_all(c, vt_mul(c, o.tokens, gt)));
        ck_assert_msg(vt_backward(c, loss) == VT_OK, "%s", vt_ctx_error(c)->msg);
        for (size_t i = 0; i < m->params.n; i++) {
            char key[300];
            snprintf(key, sizeof key, "grad.%s", m->params.items[i].name);
            const vt_st_tensor *g = vt_st_find(f, key);
            ck_assert_msg(g != NULL, "golden has no %s", key);
            vt_tensor *got = m->params.items[i].tensor->grad;
            ck_assert_msg(got != NULL, "%s received no gradient", m->params.items[i].name);
            double e = rel_err(got, g->data, (int64_t)g->numel);
            ck_assert_msg(e <= 1e-4, "gradient of %s: relative error %.3g > 1e-4", m->params.items[i].name, e);
            if (e > worst) worst = e, worst_name = m->params.items[i].name;
        }
    }
    printf("%s: embeds %.2g, tokens %.2g, worst gradient %.2g (%s)\n", file, ee, et, worst, worst_name);
    vt_st_close(f);
    vt_text_tower_destroy(m);
    vt_ctx_destroy(c);
}

START_TEST(tower_matches_open_clip) { check_parity(VISFT_GOLDEN_DIR "/text_tower.safetensors", VT_ACT_GELU, true); }
END_TEST

START_TEST(quick_gelu_tower_matches_open_clip) {
    check_parity(VISFT_GOLDEN_DIR "/text_tower_quickgelu.safetensors", VT_ACT_QUICK_GELU, false);
}
END_TEST

typedef struct grad_case {
    vt_text_tower *m;
    vt_tensor *ids;
} grad_case;

static vt_tensor *tower_fn(vt_ctx *c, vt_tensor **inputs, void *user) {
    (void)inputs; /* the inputs are the tower's own parameters, perturbed in place by the check */
    grad_case *g = user;
    vt_text_output o;
    if (vt_text_tower_forward(c, g->m, g->ids, &o) != VT_OK) return NULL;
    return vt_concat(c, 2, (vt_tensor *[]){o.embeds, vt_reshape(c, o.tokens, VT_SHAPE(o.embeds->shape[0], -1))}, 1);
}

START_TEST(gradients_match_finite_differences) {
    vt_ctx *c = vt_test_ctx();
    vt_err err = {0};
    vt_text_config cfg = {.context_length = 6, .vocab_size = 12, .width = 16, .heads = 2, .layers = 1,
                          .mlp_hidden = 16, .embed_dim = 4, .act = VT_ACT_QUICK_GELU, .ln_eps = 1e-5};
    vt_text_tower *m = vt_text_tower_create(c, &cfg, &err);
    ck_assert_msg(m != NULL, "%s", err.msg);
    for (size_t i = 0; i < m->params.n; i++) { /* bigger weights than the init, so every path matters */
        vt_tensor *t = m->params.items[i].tensor;
        vt_tensor *r = vt_test_randn(c, t->ndim, t->shape, 100 + i, 0.2f);
        float *p = vt_f32(t);
        for (int64_t j = 0; j < vt_numel(t); j++) p[j] += vt_f32(r)[j];
    }
    int64_t ids[] = {11, 3, 5, 0, 0, 0, 2, 4, 7, 9, 11, 0};
    grad_case g = {m, vt_from_i64(c, VT_SHAPE(2, 6), ids)};
    vt_tensor *inputs[] = {m->token_embedding, m->positional_embedding, m->blocks[0].in_proj_w, m->blocks[0].in_proj_b,
                           m->blocks[0].c_fc_w, m->ln_final_w, m->text_projection};
    char why[512];
    bool ok = vt_gradcheck(c, tower_fn, 7, inputs, &g, 1e-2, 2e-3, 2e-2, why, sizeof why);
    ck_assert_msg(ok, "gradcheck: %s", why);
    /* causal attention: positions after the last EOT (row 1's, at 4) cannot reach the pooled embedding */
    vt_tensor_list_zero_grad(&m->params);
    vt_text_output o;
    ck_assert_int_eq(vt_text_tower_forward(c, m, g.ids, &o), VT_OK);
    ck_assert_int_eq(vt_backward(c, vt_sum_all(c, o.embeds)), VT_OK);
    const float *gp = vt_f32(m->positional_embedding->grad);
    double before = 0;
    for (int j = 0; j < 5 * cfg.width; j++) before += fabs(gp[j]);
    ck_assert(before > 0);
    for (int j = 5 * cfg.width; j < 6 * cfg.width; j++) ck_assert_msg(gp[j] == 0.0f, "position 5 has gradient %g", gp[j]);
    vt_text_tower_destroy(m);
    vt_ctx_destroy(c);
}
END_TEST

START_TEST(bad_inputs_and_configs_are_errors) {
    vt_ctx *c = vt_test_ctx();
    vt_err err = {0};
    vt_text_config cfg = golden_config(VT_ACT_GELU);
    cfg.heads = 5;
    ck_assert_ptr_null(vt_text_tower_create(c, &cfg, &err));
    ck_assert_msg(strstr(err.msg, "multiple of heads 5"), "%s", err.msg);
    ck_assert_int_eq(vt_text_config_preset("vit-h-14", &cfg, &err), VT_ENOTFOUND);
    ck_assert_msg(strstr(err.msg, "unknown preset 'vit-h-14'"), "%s", err.msg);
    ck_assert_int_eq(vt_text_config_preset("openclip-vit-l-14", &cfg, &err), VT_OK);
    ck_assert(cfg.width == 768 && cfg.heads == 12 && cfg.layers == 12 && cfg.embed_dim == 768 && cfg.vocab_size == 49408);
    ck_assert_int_eq(vt_text_config_preset("openclip-vit-b-16", &cfg, &err), VT_OK);
    ck_assert(cfg.width == 512 && cfg.heads == 8 && cfg.embed_dim == 512 && cfg.context_length == 77);

    cfg = golden_config(VT_ACT_GELU);
    vt_text_tower *m = vt_text_tower_create(c, &cfg, &err);
    vt_text_output o;
    ck_assert_int_eq(vt_text_tower_forward(c, m, vt_zeros(c, VT_I64, VT_SHAPE(1, 17)), &o), VT_ESHAPE);
    ck_assert_msg(strstr(vt_ctx_error(c)->msg, "1 <= L <= 16"), "%s", vt_ctx_error(c)->msg);
    vt_ctx_clear_error(c);
    ck_assert_int_eq(vt_text_tower_forward(c, m, vt_zeros(c, VT_F32, VT_SHAPE(1, 4)), &o), VT_ESHAPE);
    vt_ctx_clear_error(c);
    int64_t ids[] = {1, 2, 200, 0};
    ck_assert_int_eq(vt_text_tower_forward(c, m, vt_from_i64(c, VT_SHAPE(1, 4), ids), &o), VT_EINVAL);
    ck_assert_msg(strstr(vt_ctx_error(c)->msg, "token id 200 at [0, 2]"), "%s", vt_ctx_error(c)->msg);
    vt_ctx_clear_error(c);
    /* shorter than the context works (the position embedding is sliced) */
    int64_t ok_ids[] = {1, 2, 199, 0};
    ck_assert_int_eq(vt_text_tower_forward(c, m, vt_from_i64(c, VT_SHAPE(1, 4), ok_ids), &o), VT_OK);
    ck_assert(o.tokens->shape[1] == 4 && o.pooled->shape[1] == 64 && o.embeds->shape[1] == 32);
    vt_text_tower_destroy(m);
    vt_ctx_destroy(c);
}
END_TEST

START_TEST(tokenizer_feeds_tower) {
    vt_ctx *c = vt_test_ctx();
    vt_err err = {0};
    vt_bpe *b = NULL;
    ck_assert_msg(vt_bpe_load(VISFT_TEST_DATA_DIR "/text/tiny_vocab.txt.gz", &b, &err) == VT_OK, "%s", err.msg);
    vt_text_config cfg = vt_text_config_tiny();
    cfg.vocab_size = (int)vt_bpe_vocab_size(b), cfg.layers = 1;
    vt_text_tower *m = vt_text_tower_create(c, &cfg, &err);
    ck_assert_msg(m != NULL, "%s", err.msg);
    const char *texts[] = {"a photo of a cat", "a photo of a dog with a much longer caption"};
    vt_tensor *ids = vt_bpe_tokenize_batch(c, b, texts, 2, cfg.context_length);
    vt_text_output o;
    ck_assert_msg(vt_text_tower_forward(c, m, ids, &o) == VT_OK, "%s", vt_ctx_error(c)->msg);
    /* pooled is the token at the EOT position */
    for (int r = 0; r < 2; r++) {
        int64_t eot = 0;
        while (vt_i64(ids)[r * cfg.context_length + eot] != vt_bpe_eot_id(b)) eot++;
        for (int d = 0; d < cfg.width; d++)
            ck_assert_float_eq(vt_f32(o.pooled)[r * cfg.width + d],
                               vt_f32(o.tokens)[(r * cfg.context_length + eot) * cfg.width + d]);
    }
    vt_text_tower_destroy(m);
    vt_bpe_free(b);
    vt_ctx_destroy(c);
}
END_TEST

VT_TEST_MAIN("text", tower_matches_open_clip, quick_gelu_tower_matches_open_clip, gradients_match_finite_differences,
             bad_inputs_and_configs_are_errors, tokenizer_feeds_tower)
