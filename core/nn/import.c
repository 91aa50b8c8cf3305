/* Checkpoint import: a file's keys mapped through its format's rules onto visft parameter names, checked against
 * the model's parameter list as a whole, then copied (converting dtype and layout) straight from the mapping.
 *
 * Checking comes first and copies nothing until everything fits, so a failed load leaves the model unchanged.
 * The copy reads each tensor once into its destination: f32 tensors with pread(2) straight from the file (a
 * kernel copy, no page faults on a 4 GB mapping), f16/bf16 through the mapping with conversion. Loading costs
 * about one pass over the file. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nn/import_internal.h"

#define NAME_MAX_LEN 256
#define LIST_FIRST 4

typedef struct entry {
    char name[NAME_MAX_LEN];             /* visft name */
    const vt_st_tensor *src[3];          /* COPY-like: src[0]; fused slots: one per third (NULL: zeros) */
    vt_ckpt_xf xf;                       /* VT_XF_SLOT0 for any fused entry */
    int ndim;
    int64_t shape[VT_MAX_DIMS];          /* the visft shape the file gives */
    bool bad;                            /* slots disagree in shape */
} entry;

typedef struct mapping {
    entry *e;
    size_t n;
    const char **unmapped; /* file keys no rule takes */
    size_t n_unmapped;
    size_t ignored;
} mapping;

static bool has_prefix(const char *s, const char *const *prefixes) {
    for (size_t i = 0; prefixes && prefixes[i]; i++)
        if (strncmp(s, prefixes[i], strlen(prefixes[i])) == 0) return true;
    return false;
}

static entry *find_entry(const mapping *m, const char *name) {
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->e[i].name, name) == 0) return &m->e[i];
    return NULL;
}

/* The visft shape of a file tensor under xf. */
static void visft_shape(const vt_st_tensor *t, vt_ckpt_xf xf, entry *e) {
    e->ndim = t->ndim;
    memcpy(e->shape, t->shape, sizeof(int64_t) * (size_t)t->ndim);
    if (xf == VT_XF_LEAD1 || xf == VT_XF_LEAD2) {
        int lead = xf == VT_XF_LEAD1 ? 1 : 2;
        if (t->ndim + lead > VT_MAX_DIMS) return;
        for (int d = t->ndim - 1; d >= 0; d--) e->shape[d + lead] = t->shape[d];
        for (int d = 0; d < lead; d++) e->shape[d] = 1;
        e->ndim = t->ndim + lead;
    } else if (xf == VT_XF_T && t->ndim == 2) {
        e->shape[0] = t->shape[1], e->shape[1] = t->shape[0];
    }
}

static void recompute_fused_shape(entry *e) {
    const vt_st_tensor *first = NULL;
    for (int s = 0; s < 3; s++)
        if (e->src[s]) {
            if (!first) first = e->src[s];
            else if (e->src[s]->ndim != first->ndim ||
                     memcmp(e->src[s]->shape, first->shape, sizeof(int64_t) * (size_t)first->ndim) != 0)
                e->bad = true;
        }
    e->ndim = first->ndim;
    memcpy(e->shape, first->shape, sizeof(int64_t) * (size_t)first->ndim);
    if (e->ndim > 0) e->shape[0] *= 3;
}

static vt_status build_mapping(const vt_st_file *f, vt_ckpt_format fmt, const vt_ckpt_load_opts *o, mapping *m,
                               vt_err *err) {
    size_t nrules, n = vt_st_count(f);
    const vt_ckpt_rule *rules = vt_ckpt_rules(fmt, &nrules);
    m->e = calloc(2 * n + 1, sizeof *m->e); /* reconcile may add fused entries */
    m->unmapped = calloc(n + 1, sizeof *m->unmapped);
    if (!m->e || !m->unmapped) return vt_err_set(err, VT_ENOMEM, "%s: out of memory", vt_st_path(f));
    for (size_t i = 0; i < n; i++) {
        const vt_st_tensor *t = vt_st_tensor_at(f, i);
        if (has_prefix(t->name, o->ignore)) {
            m->ignored++;
            continue;
        }
        char name[NAME_MAX_LEN];
        const vt_ckpt_rule *r = NULL;
        for (size_t k = 0; k < nrules && !r; k++)
            if (vt_ckpt_translate(rules[k].file, rules[k].visft, t->name, name, sizeof name)) r = &rules[k];
        if (!r) {
            m->unmapped[m->n_unmapped++] = t->name;
            continue;
        }
        bool slot = r->xf >= VT_XF_SLOT0;
        entry *e = slot ? find_entry(m, name) : NULL;
        if (e && e->xf != VT_XF_SLOT0) e = NULL; /* an unfused tensor of the same name: reported as a duplicate */
        if (!e) {
            e = &m->e[m->n++];
            snprintf(e->name, sizeof e->name, "%s", name);
            e->xf = slot ? VT_XF_SLOT0 : r->xf;
        }
        if (slot) {
            e->src[r->xf - VT_XF_SLOT0] = t;
            recompute_fused_shape(e);
        } else {
            e->src[0] = t;
            visft_shape(t, r->xf, e);
        }
    }
    for (size_t i = 0; i < m->n; i++)
        for (size_t j = i + 1; j < m->n; j++)
            if (strcmp(m->e[i].name, m->e[j].name) == 0)
                return vt_err_set(err, VT_EFORMAT, "%s: keys '%s' and '%s' both map to '%s'", vt_st_path(f),
                                  m->e[i].src[0] ? m->e[i].src[0]->name : "?",
                                  m->e[j].src[0] ? m->e[j].src[0]->name : "?", m->e[i].name);
    return VT_OK;
}

/* ---- reconciling model-dependent layouts ---- */

/* EVA's q_bias/v_bias feed a model with one full qkv bias as [q, 0, v]; open_clip's in_proj_bias feeds a model
 * with q/v-only bias only if its k third is zero (checked at copy time). */
static vt_status reconcile(const vt_tensor_list *params, mapping *m, vt_err *err) {
    for (size_t i = 0; i < params->n; i++) {
        const char *want = params->items[i].name;
        if (find_entry(m, want)) continue;
        size_t len = strlen(want);
        if (len > 9 && strcmp(want + len - 9, ".qkv.bias") == 0) {
            char q[NAME_MAX_LEN], v[NAME_MAX_LEN];
            snprintf(q, sizeof q, "%.*s.q_bias", (int)(len - 9), want);
            snprintf(v, sizeof v, "%.*s.v_bias", (int)(len - 9), want);
            entry *eq = find_entry(m, q), *ev = find_entry(m, v);
            if (!eq || !ev || eq->xf != VT_XF_COPY || ev->xf != VT_XF_COPY) continue;
            entry *e = &m->e[m->n++]; /* room: each q_bias/v_bias pair frees one entry below */
            memset(e, 0, sizeof *e);
            snprintf(e->name, sizeof e->name, "%s", want);
            e->xf = VT_XF_SLOT0;
            e->src[0] = eq->src[0], e->src[2] = ev->src[0];
            recompute_fused_shape(e);
            eq->name[0] = ev->name[0] = '\0'; /* consumed */
        }
    }
    (void)err;
    return VT_OK;
}

/* ---- the report ---- */

static void append_list(char *buf, size_t cap, const char *what, const char *const *names, size_t n) {
    size_t p = strlen(buf);
    if (n == 0 || p + 1 >= cap) return;
    p += (size_t)snprintf(buf + p, cap - p, "%s%zu %s (", p ? "; " : "", n, what);
    for (size_t i = 0; i < n && i < LIST_FIRST && p < cap; i++)
        p += (size_t)snprintf(buf + p, cap - p, i ? ", %s" : "%s", names[i]);
    if (p < cap) snprintf(buf + p, cap - p, n > LIST_FIRST ? ", ...)" : ")");
}

static char *shape_str(int ndim, const int64_t *shape, char *buf, size_t cap) {
    size_t p = (size_t)snprintf(buf, cap, "[");
    for (int d = 0; d < ndim && p < cap; d++) p += (size_t)snprintf(buf + p, cap - p, d ? ", %lld" : "%lld", (long long)shape[d]);
    if (p < cap) snprintf(buf + p, cap - p, "]");
    return buf;
}

typedef struct check {
    const char **missing, **unexpected;
    char (*shape_bad)[NAME_MAX_LEN + 96];
    const char **shape_ptr;
    size_t nm, nu, ns, allowed_missing, zero_filled;
    char **zero; /* names of zero-filled params (borrowed from params) */
} check;

static const vt_st_tensor *first_src(const entry *e) { return e->src[0] ? e->src[0] : e->src[1] ? e->src[1] : e->src[2]; }

static bool float_dtype(vt_dtype d) { return d == VT_F32 || d == VT_F16 || d == VT_BF16; }

static bool entry_fits(const entry *e, const vt_tensor *t) {
    if (e->bad || e->ndim != t->ndim) return false;
    for (int s = 0; s < 3; s++)
        if (e->src[s] && !float_dtype(e->src[s]->dtype)) return false;
    for (int d = 0; d < t->ndim; d++)
        if (e->shape[d] != t->shape[d]) return false;
    return true;
}

static bool implicit_zero(vt_ckpt_format fmt, const char *name) {
    const char *const *z = vt_ckpt_implicit_zeros(fmt);
    for (size_t i = 0; z[i]; i++)
        if (vt_ckpt_match(z[i], name)) return true;
    return false;
}

/* Compares the mapping with params; fills the report lists. Returns true when everything fits. */
static bool compare(const vt_tensor_list *params, const mapping *m, vt_ckpt_format fmt, const vt_ckpt_load_opts *o,
                    check *k) {
    for (size_t i = 0; i < params->n; i++) {
        const char *name = params->items[i].name;
        const entry *e = find_entry(m, name);
        if (!e) {
            if (implicit_zero(fmt, name)) k->zero_filled++;
            else if (has_prefix(name, o->allow_missing)) k->allowed_missing++;
            else k->missing[k->nm++] = name;
            continue;
        }
        if (!entry_fits(e, params->items[i].tensor)) {
            char a[VT_SHAPE_STR_MAX], b[VT_SHAPE_STR_MAX];
            snprintf(k->shape_bad[k->ns], sizeof k->shape_bad[k->ns], "%s: file %s, model %s", name,
                     e->bad ? "[q/k/v shapes differ]"
                     : !float_dtype(first_src(e)->dtype) ? vt_dtype_st_name(first_src(e)->dtype)
                                                         : shape_str(e->ndim, e->shape, a, sizeof a),
                     vt_shape_str(params->items[i].tensor, b, sizeof b));
            k->shape_ptr[k->ns] = k->shape_bad[k->ns];
            k->ns++;
        }
    }
    for (size_t i = 0; i < m->n_unmapped; i++) k->unexpected[k->nu++] = m->unmapped[i];
    for (size_t i = 0; i < m->n; i++) {
        const entry *e = &m->e[i];
        if (!e->name[0] || vt_tensor_list_find(params, e->name)) continue;
        for (int s = 0; s < 3; s++)
            if (e->src[s]) k->unexpected[k->nu++] = e->src[s]->name;
    }
    return k->nm == 0 && k->ns == 0 && (k->nu == 0 || o->allow_unexpected);
}

/* ---- copying ---- */

/* Where a tensor's bytes start in the file: after the u64 header length and the header. */
typedef struct raw_file {
    int fd;
    uint64_t data_start;
} raw_file;

static void raw_open(const char *path, raw_file *r) {
    unsigned char h[8];
    r->fd = open(path, O_RDONLY);
    r->data_start = 0;
    if (r->fd >= 0 && pread(r->fd, h, 8, 0) == 8) {
        for (int i = 7; i >= 0; i--) r->data_start = r->data_start << 8 | h[i];
        r->data_start += 8;
    } else if (r->fd >= 0) {
        close(r->fd);
        r->fd = -1;
    }
}

/* Reads an f32 tensor's bytes into dst with pread; false when that is not possible (caller falls back). */
static bool raw_read(const raw_file *r, const vt_st_tensor *t, float *dst, size_t count) {
    if (r->fd < 0 || t->dtype != VT_F32 || t->numel != count) return false;
    char *p = (char *)dst;
    size_t left = t->nbytes;
    off_t off = (off_t)(r->data_start + t->offset);
    while (left > 0) {
        ssize_t n = pread(r->fd, p, left > (1u << 30) ? (1u << 30) : left, off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        p += n, off += n, left -= (size_t)n;
    }
    return true;
}

static vt_status read_f32(const raw_file *r, const vt_st_file *f, const vt_st_tensor *t, float *dst, size_t count,
                          vt_err *err) {
    return raw_read(r, t, dst, count) ? VT_OK : vt_st_read_f32(f, t, dst, count, err);
}

static vt_status copy_entry(const raw_file *raw, const vt_st_file *f, const entry *e, vt_tensor *dst, vt_err *err) {
    float *out = vt_f32(dst);
    size_t n = (size_t)vt_numel(dst);
    if (!out) return vt_err_set(err, VT_EDTYPE, "%s: parameter %s must be a contiguous f32 CPU tensor", vt_st_path(f), e->name);
    if (e->xf == VT_XF_SLOT0) {
        size_t third = n / 3;
        for (int s = 0; s < 3; s++) {
            vt_status st = e->src[s] ? read_f32(raw, f, e->src[s], out + s * third, third, err) : VT_OK;
            if (!e->src[s]) memset(out + s * third, 0, third * sizeof *out);
            if (st != VT_OK) return st;
        }
        return VT_OK;
    }
    if (e->xf != VT_XF_T) return read_f32(raw, f, e->src[0], out, n, err);
    float *tmp = malloc(n * sizeof *tmp);
    if (!tmp) return vt_err_set(err, VT_ENOMEM, "%s: out of memory reading %s", vt_st_path(f), e->src[0]->name);
    vt_status st = vt_st_read_f32(f, e->src[0], tmp, n, err);
    int64_t rows = e->src[0]->shape[0], cols = e->src[0]->shape[1];
    for (int64_t r = 0; st == VT_OK && r < rows; r++)
        for (int64_t c = 0; c < cols; c++) out[c * rows + r] = tmp[r * cols + c];
    free(tmp);
    return st;
}

vt_status vt_ckpt_load(vt_ctx *c, const vt_tensor_list *params, const char *path, const vt_ckpt_load_opts *opts,
                       vt_ckpt_report *rep, vt_err *err) {
    (void)c;
    vt_ckpt_load_opts o = {0};
    if (opts) o = *opts;
    vt_st_file *f = NULL;
    vt_status st = vt_st_open(path, &f, err);
    if (st != VT_OK) return st;
    vt_ckpt_format fmt = o.format;
    mapping m = {0};
    check k = {0};
    if (fmt == VT_CKPT_AUTO && (st = vt_ckpt_detect(f, &fmt, err)) != VT_OK) goto done;
    if ((st = build_mapping(f, fmt, &o, &m, err)) != VT_OK) goto done;
    if ((st = reconcile(params, &m, err)) != VT_OK) goto done;
    size_t cap = params->n + vt_st_count(f) + 1;
    k.missing = calloc(cap, sizeof *k.missing);
    k.unexpected = calloc(cap, sizeof *k.unexpected);
    k.shape_bad = calloc(cap, sizeof *k.shape_bad);
    k.shape_ptr = calloc(cap, sizeof *k.shape_ptr);
    if (!k.missing || !k.unexpected || !k.shape_bad || !k.shape_ptr) {
        st = vt_err_set(err, VT_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    if (!compare(params, &m, fmt, &o, &k)) {
        char msg[VT_ERR_MSG_MAX] = "";
        append_list(msg, sizeof msg, "missing", k.missing, k.nm);
        append_list(msg, sizeof msg, "with mismatched shapes", k.shape_ptr, k.ns);
        if (!o.allow_unexpected) append_list(msg, sizeof msg, "unexpected", k.unexpected, k.nu);
        const char *hint = "";
        if (fmt == VT_CKPT_LAVIS && !vt_ckpt_format_has_final_norm(fmt, f) && vt_tensor_list_find(params, "norm.weight"))
            hint = " [LAVIS eva_vit_g has no final norm: use a backbone with final_norm off]";
        st = vt_err_set(err, VT_EFORMAT, "%s (%s): %s%s", path, vt_ckpt_format_name(fmt), msg, hint);
        goto done;
    }
    raw_file raw;
    raw_open(path, &raw);
    /* Tensors are independent: copied in parallel (concurrent preads and conversions), first error kept. */
    long np = (long)params->n;
    int failed = 0;
#pragma omp parallel for schedule(dynamic, 1)
    for (long i = 0; i < np; i++) {
        int stop;
#pragma omp atomic read
        stop = failed;
        if (stop) continue;
        const entry *e = find_entry(&m, params->items[i].name);
        vt_err e1 = {0};
        vt_status s1 = VT_OK;
        if (e) s1 = copy_entry(&raw, f, e, params->items[i].tensor, &e1);
        else if (implicit_zero(fmt, params->items[i].name)) {
            vt_tensor *z = params->items[i].tensor;
            if (vt_f32(z)) memset(vt_f32(z), 0, vt_nbytes(z));
            else s1 = vt_err_set(&e1, VT_EDTYPE, "%s: parameter %s must be a contiguous f32 CPU tensor", path,
                                 params->items[i].name);
        }
        if (s1 != VT_OK) {
#pragma omp critical(vt_ckpt_load_err)
            {
                int already;
#pragma omp atomic read
                already = failed;
                if (!already) {
                    st = s1;
                    if (err) *err = e1;
#pragma omp atomic write
                    failed = 1;
                }
            }
        }
    }
    if (raw.fd >= 0) close(raw.fd);
    if (st == VT_OK && rep) {
        rep->format = fmt;
        rep->loaded = params->n - k.zero_filled - k.allowed_missing;
        rep->zero_filled = k.zero_filled;
        rep->missing_allowed = k.allowed_missing;
        rep->ignored = m.ignored;
        rep->unexpected_allowed = k.nu;
    }
done:
    free(k.missing);
    free(k.unexpected);
    free(k.shape_bad);
    free(k.shape_ptr);
    free(m.e);
    free(m.unmapped);
    vt_st_close(f);
    return st;
}
