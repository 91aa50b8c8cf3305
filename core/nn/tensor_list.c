/* Named tensor lists and their safetensors load/save (state dicts). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op_util.h"
#include "visft/nn.h"
#include "visft/safetensors.h"

void vt_tensor_list_init(vt_tensor_list *l) { memset(l, 0, sizeof *l); }

void vt_tensor_list_free(vt_tensor_list *l) {
    for (size_t i = 0; i < l->n; i++) free(l->items[i].name);
    free(l->items);
    memset(l, 0, sizeof *l);
}

vt_status vt_tensor_list_add(vt_tensor_list *l, vt_tensor *t, const char *fmt, ...) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        vt_tensor_list_item *items = realloc(l->items, cap * sizeof *items);
        if (!items) return VT_ENOMEM;
        l->items = items;
        l->cap = cap;
    }
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    char *copy = strdup(name);
    if (!copy) return VT_ENOMEM;
    l->items[l->n].name = copy;
    l->items[l->n].tensor = t;
    l->n++;
    if (t && !t->name) vt_tensor_set_name(t, name);
    return VT_OK;
}

vt_tensor *vt_tensor_list_find(const vt_tensor_list *l, const char *name) {
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i].name, name) == 0) return l->items[i].tensor;
    return NULL;
}

int64_t vt_tensor_list_numel(const vt_tensor_list *l) {
    int64_t n = 0;
    for (size_t i = 0; i < l->n; i++) n += vt_numel(l->items[i].tensor);
    return n;
}

void vt_tensor_list_set_requires_grad(const vt_tensor_list *l, bool on) {
    for (size_t i = 0; i < l->n; i++) vt_set_requires_grad(l->items[i].tensor, on);
}

void vt_tensor_list_zero_grad(const vt_tensor_list *l) {
    for (size_t i = 0; i < l->n; i++) vt_zero_grad(l->items[i].tensor);
}

static bool is_optional(const char *name, const char *const *optional) {
    for (size_t i = 0; optional && optional[i]; i++)
        if (strncmp(name, optional[i], strlen(optional[i])) == 0) return true;
    return false;
}

/* Appends "a, b, c" (first few names) to buf. */
static void list_names(char *buf, size_t len, const char *what, const char **names, size_t n) {
    size_t p = strlen(buf);
    if (n == 0 || p >= len) return;
    p += (size_t)snprintf(buf + p, len - p, "%s%zu %s (", p ? "; " : "", n, what);
    for (size_t i = 0; i < n && i < 4 && p < len; i++)
        p += (size_t)snprintf(buf + p, len - p, i ? ", %s" : "%s", names[i]);
    if (p < len) snprintf(buf + p, len - p, n > 4 ? ", ...)" : ")");
}

vt_status vt_tensor_list_load(vt_ctx *c, const vt_tensor_list *l, const char *path, bool allow_unexpected,
                              const char *const *optional, vt_err *err) {
    vt_st_file *f = NULL;
    vt_status st = vt_st_open(path, &f, err);
    if (st != VT_OK) return st;
    const char **missing = calloc(l->n + 1, sizeof *missing), **shape_bad = calloc(l->n + 1, sizeof *shape_bad);
    const char **unexpected = calloc(vt_st_count(f) + 1, sizeof *unexpected);
    size_t nm = 0, ns = 0, nu = 0;
    if (!missing || !shape_bad || !unexpected) {
        st = vt_err_set(err, VT_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    for (size_t i = 0; i < l->n; i++) {
        const vt_st_tensor *t = vt_st_find(f, l->items[i].name);
        vt_tensor *dst = l->items[i].tensor;
        if (!t) {
            if (!is_optional(l->items[i].name, optional)) missing[nm++] = l->items[i].name;
            continue;
        }
        bool same = t->ndim == dst->ndim;
        for (int d = 0; same && d < t->ndim; d++) same = t->shape[d] == dst->shape[d];
        if (!same) shape_bad[ns++] = l->items[i].name;
    }
    for (size_t i = 0; i < vt_st_count(f); i++) {
        const char *name = vt_st_tensor_at(f, i)->name;
        if (!vt_tensor_list_find(l, name)) unexpected[nu++] = name;
    }
    if (nm || ns || (nu && !allow_unexpected)) {
        char msg[VT_ERR_MSG_MAX] = "";
        list_names(msg, sizeof msg, "missing", missing, nm);
        list_names(msg, sizeof msg, "with mismatched shapes", shape_bad, ns);
        if (!allow_unexpected) list_names(msg, sizeof msg, "unexpected", unexpected, nu);
        st = vt_err_set(err, VT_EFORMAT, "%s: %s", path, msg);
        goto done;
    }
    for (size_t i = 0; i < l->n; i++) {
        const vt_st_tensor *t = vt_st_find(f, l->items[i].name);
        if (!t) continue;
        vt_tensor *dst = l->items[i].tensor, *host = dst;
        /* a device tensor is read into a host staging tensor, then copied over */
        const bool staged = !vt_on_cpu(dst);
        bool pushed = false;
        if (staged) {
            int depth = vt_scope_depth(c);
            vt_scope_push(c);
            pushed = vt_scope_depth(c) > depth;
            host = vt_empty(c, dst->dtype, dst->ndim, dst->shape);
            if (!host) {
                st = vt_err_set(err, vt_ctx_error(c)->code, "%s: %s", l->items[i].name, vt_ctx_error(c)->msg);
                if (pushed) vt_scope_pop(c);
                goto done;
            }
        }
        if (dst->dtype == VT_F32)
            st = vt_st_read_f32(f, t, vt_f32(host), (size_t)vt_numel(dst), err);
        else if (dst->dtype == VT_I64)
            st = vt_st_read_i64(f, t, vt_i64(host), (size_t)vt_numel(dst), err);
        else
            st = vt_err_set(err, VT_EDTYPE, "%s: cannot load into a %s tensor", l->items[i].name,
                            vt_dtype_name(dst->dtype));
        if (staged) {
            if (st == VT_OK && vt_copy_(c, dst, host) != VT_OK)
                st = vt_err_set(err, vt_ctx_error(c)->code, "%s: %s", l->items[i].name, vt_ctx_error(c)->msg);
            if (pushed) vt_scope_pop(c);
        }
        if (st != VT_OK) goto done;
    }
done:
    (void)c;
    free(missing);
    free(shape_bad);
    free(unexpected);
    vt_st_close(f);
    return st;
}

vt_status vt_tensor_list_save(const vt_tensor_list *l, const char *path, vt_err *err) {
    vt_st_writer *w = vt_st_writer_new();
    if (!w) return vt_err_set(err, VT_ENOMEM, "%s: out of memory", path);
    vt_status st = VT_OK;
    vt_ctx *hc = NULL; /* device tensors are written from host copies (synchronising), kept until the save */
    bool pushed = false;
    for (size_t i = 0; i < l->n && st == VT_OK; i++) {
        vt_tensor *t = l->items[i].tensor;
        if (!vt_is_contiguous(t)) {
            st = vt_err_set(err, VT_EINVAL, "%s: tensor %s is not contiguous", path, l->items[i].name);
            break;
        }
        if (!vt_on_cpu(t)) {
            if (!hc) {
                hc = t->ctx;
                int depth = vt_scope_depth(hc);
                vt_scope_push(hc);
                pushed = vt_scope_depth(hc) > depth;
            }
            t = vt_host_copy(hc, t);
            if (!t) {
                st = vt_err_set(err, vt_ctx_error(hc)->code, "%s: %s: %s", path, l->items[i].name, vt_ctx_error(hc)->msg);
                break;
            }
        }
        st = vt_st_writer_add(w, l->items[i].name, t->dtype, t->ndim, t->shape, t->data, err);
    }
    if (st == VT_OK) st = vt_st_writer_save(w, path, err);
    vt_st_writer_free(w);
    if (pushed) vt_scope_pop(hc);
    return st;
}
