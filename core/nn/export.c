/* Checkpoint export: visft parameters written under open_clip / EVA-CLIP key names (or visft's own, tagged).
 *
 * The import rules run backwards (first rule whose visft side matches; the q/k/v split rules are import-only,
 * a fused qkv is exported fused). Layout differences a format expresses differently are bridged exactly or
 * refused: EVA q/v biases become open_clip's in_proj_bias [q, 0, v]; a full qkv bias becomes EVA's q_bias and
 * v_bias only if its k third is zero; a parameter the format holds implicitly as zero (open_clip's conv1
 * bias) is dropped only if it is zero. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/import_internal.h"

#define NAME_MAX_LEN 256

typedef struct out_tensor {
    char name[NAME_MAX_LEN]; /* visft name */
    int ndim;
    int64_t shape[VT_MAX_DIMS];
    const float *data;
    float *owned;
} out_tensor;

typedef struct out_list {
    out_tensor *t;
    size_t n, cap;
} out_list;

static out_tensor *push(out_list *l, const char *name, int ndim, const int64_t *shape, const float *data) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        out_tensor *t = realloc(l->t, cap * sizeof *t);
        if (!t) return NULL;
        l->t = t, l->cap = cap;
    }
    out_tensor *o = &l->t[l->n++];
    memset(o, 0, sizeof *o);
    snprintf(o->name, sizeof o->name, "%s", name);
    o->ndim = ndim;
    memcpy(o->shape, shape, sizeof(int64_t) * (size_t)ndim);
    o->data = data;
    return o;
}

static bool all_zero(const float *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0.0f) return false;
    return true;
}

static bool ends_with(const char *s, const char *suffix, size_t *stem) {
    size_t a = strlen(s), b = strlen(suffix);
    if (a < b || strcmp(s + a - b, suffix) != 0) return false;
    *stem = a - b;
    return true;
}

/* Rewrites the parameter set into the tensors fmt stores (visft names still). */
static vt_status adapt(const vt_tensor_list *params, vt_ckpt_format fmt, const char *path, out_list *out, vt_err *err) {
    for (size_t i = 0; i < params->n; i++) {
        const char *name = params->items[i].name;
        const vt_tensor *t = params->items[i].tensor;
        const float *p = vt_f32(t);
        size_t n = (size_t)vt_numel(t), stem;
        if (!p || !vt_is_contiguous(t))
            return vt_err_set(err, VT_EDTYPE, "%s: parameter %s must be a contiguous f32 CPU tensor", path, name);
        const char *const *zeros = vt_ckpt_implicit_zeros(fmt);
        bool implicit = false;
        for (size_t z = 0; zeros[z]; z++) implicit |= vt_ckpt_match(zeros[z], name);
        if (implicit) {
            if (!all_zero(p, n))
                return vt_err_set(err, VT_EUNSUPPORTED, "%s: %s has no place in the %s format and is not zero", path,
                                  name, vt_ckpt_format_name(fmt));
            continue;
        }
        if (fmt == VT_CKPT_OPEN_CLIP && ends_with(name, ".attn.q_bias", &stem)) {
            char vname[NAME_MAX_LEN], qkv[NAME_MAX_LEN];
            snprintf(vname, sizeof vname, "%.*s.attn.v_bias", (int)stem, name);
            snprintf(qkv, sizeof qkv, "%.*s.attn.qkv.bias", (int)stem, name);
            const vt_tensor *v = vt_tensor_list_find(params, vname);
            if (!v || vt_numel(v) != (int64_t)n)
                return vt_err_set(err, VT_EFORMAT, "%s: %s has no matching %s", path, name, vname);
            out_tensor *o = push(out, qkv, 1, (int64_t[]){3 * (int64_t)n}, NULL);
            float *buf = o ? calloc(3 * n, sizeof *buf) : NULL;
            if (!buf) return vt_err_set(err, VT_ENOMEM, "%s: out of memory", path);
            memcpy(buf, p, n * sizeof *buf);
            memcpy(buf + 2 * n, vt_f32(v), n * sizeof *buf);
            o->data = o->owned = buf;
            continue;
        }
        if (fmt == VT_CKPT_OPEN_CLIP && ends_with(name, ".attn.v_bias", &stem)) continue; /* folded above */
        if (fmt == VT_CKPT_EVA_CLIP && ends_with(name, ".attn.qkv.bias", &stem)) {
            size_t third = n / 3;
            if (!all_zero(p + third, third))
                return vt_err_set(err, VT_EUNSUPPORTED,
                                  "%s: %s has a non-zero k bias, which EVA-CLIP's q_bias/v_bias cannot hold", path, name);
            char qname[NAME_MAX_LEN], vname[NAME_MAX_LEN];
            snprintf(qname, sizeof qname, "%.*s.attn.q_bias", (int)stem, name);
            snprintf(vname, sizeof vname, "%.*s.attn.v_bias", (int)stem, name);
            if (!push(out, qname, 1, (int64_t[]){(int64_t)third}, p) ||
                !push(out, vname, 1, (int64_t[]){(int64_t)third}, p + 2 * third))
                return vt_err_set(err, VT_ENOMEM, "%s: out of memory", path);
            continue;
        }
        if (!push(out, name, t->ndim, t->shape, p)) return vt_err_set(err, VT_ENOMEM, "%s: out of memory", path);
    }
    return VT_OK;
}

/* The file name and layout of one tensor; NULL rule when the format has no place for it. */
static const vt_ckpt_rule *reverse_rule(vt_ckpt_format fmt, const char *name, char *file_name, size_t cap) {
    size_t nrules;
    const vt_ckpt_rule *rules = vt_ckpt_rules(fmt, &nrules);
    for (size_t k = 0; k < nrules; k++) {
        if (rules[k].xf >= VT_XF_SLOT0) continue; /* import-only: visft keeps qkv fused */
        if (vt_ckpt_translate(rules[k].visft, rules[k].file, name, file_name, cap)) return &rules[k];
    }
    return NULL;
}

/* Applies the inverse layout transform in place on o (shape, and data for a transpose). */
static vt_status to_file_layout(out_tensor *o, vt_ckpt_xf xf, const char *path, vt_err *err) {
    if (xf == VT_XF_LEAD1 || xf == VT_XF_LEAD2) {
        int lead = xf == VT_XF_LEAD1 ? 1 : 2;
        for (int d = 0; d < lead; d++)
            if (d >= o->ndim || o->shape[d] != 1)
                return vt_err_set(err, VT_ESHAPE, "%s: %s must have %d leading unit dimension(s)", path, o->name, lead);
        memmove(o->shape, o->shape + lead, sizeof(int64_t) * (size_t)(o->ndim - lead));
        o->ndim -= lead;
    } else if (xf == VT_XF_T) {
        if (o->ndim != 2) return vt_err_set(err, VT_ESHAPE, "%s: %s must be 2-D to transpose", path, o->name);
        int64_t r = o->shape[0], c = o->shape[1];
        float *buf = malloc((size_t)(r * c) * sizeof *buf);
        if (!buf) return vt_err_set(err, VT_ENOMEM, "%s: out of memory", path);
        for (int64_t i = 0; i < r; i++)
            for (int64_t j = 0; j < c; j++) buf[j * r + i] = o->data[i * c + j];
        free(o->owned);
        o->data = o->owned = buf;
        o->shape[0] = c, o->shape[1] = r;
    }
    return VT_OK;
}

vt_status vt_ckpt_export(const vt_tensor_list *params, vt_ckpt_format fmt, const char *path, vt_err *err) {
    if (fmt != VT_CKPT_OPEN_CLIP && fmt != VT_CKPT_EVA_CLIP && fmt != VT_CKPT_VISFT)
        return vt_err_set(err, VT_EUNSUPPORTED, "%s: cannot export to the %s format (open_clip, eva_clip or visft)",
                          path, vt_ckpt_format_name(fmt));
    out_list out = {0};
    vt_st_writer *w = vt_st_writer_new();
    vt_status st = w ? adapt(params, fmt, path, &out, err) : vt_err_set(err, VT_ENOMEM, "%s: out of memory", path);
    char file_name[NAME_MAX_LEN];
    for (size_t i = 0; st == VT_OK && i < out.n; i++) {
        out_tensor *o = &out.t[i];
        const vt_ckpt_rule *r = reverse_rule(fmt, o->name, file_name, sizeof file_name);
        if (!r) {
            st = vt_err_set(err, VT_EUNSUPPORTED, "%s: parameter %s has no key in the %s format", path, o->name,
                            vt_ckpt_format_name(fmt));
            break;
        }
        st = to_file_layout(o, r->xf, path, err);
        if (st == VT_OK) st = vt_st_writer_add(w, file_name, VT_F32, o->ndim, o->shape, o->data, err);
    }
    /* "pt" is the safetensors convention for PyTorch state dicts; visft's own files say so for detection. */
    if (st == VT_OK) st = vt_st_writer_set_metadata(w, "format", fmt == VT_CKPT_VISFT ? "visft" : "pt", err);
    if (st == VT_OK) st = vt_st_writer_set_metadata(w, "visft.keys", vt_ckpt_format_name(fmt), err);
    if (st == VT_OK) st = vt_st_writer_save(w, path, err); /* duplicate keys are reported here */
    vt_st_writer_free(w);
    for (size_t i = 0; i < out.n; i++) free(out.t[i].owned);
    free(out.t);
    return st;
}
