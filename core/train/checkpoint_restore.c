/* Run checkpoints: copying weights and optimizer state back into the caller's tensors, by name, bit for bit.
 * Everything is checked before anything is copied, so a failed restore changes nothing it was given
 * (except that an optimizer may have state allocated for entries it lacked). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/internal.h"
#include "train/checkpoint_internal.h"
#include "visft/run_checkpoint.h"
#include "visft/safetensors.h"

/* Collects up to a few names per kind of mismatch, with counts, for one error line. */
typedef struct mismatch {
    char missing[160], shape[160], unexpected[160];
    size_t n_missing, n_shape, n_unexpected;
} mismatch;

static void note(char *buf, size_t *count, const char *name) {
    size_t n = strlen(buf);
    if (*count < 3 && n + 1 < 160) snprintf(buf + n, 160 - n, "%s%s", n ? ", " : "", name);
    (*count)++;
}

static vt_status report(const mismatch *m, const char *what, vt_err *err) {
    if (!m->n_missing && !m->n_shape && !m->n_unexpected) return VT_OK;
    return vt_err_set(err, VT_ESHAPE, "%s: %zu missing [%s], %zu mismatched dtype/shape [%s], %zu unexpected [%s]",
                      what, m->n_missing, m->missing, m->n_shape, m->shape, m->n_unexpected, m->unexpected);
}

static bool fits(const vt_tensor *t, const vt_st_tensor *s) {
    if (!t || !vt_is_contiguous(t) || t->dtype != s->dtype ||
        t->ndim != s->ndim || vt_nbytes(t) != s->nbytes)
        return false;
    for (int d = 0; d < t->ndim; d++)
        if (t->shape[d] != s->shape[d]) return false;
    return true;
}

static size_t count_prefix(const vt_st_file *f, const char *prefix, mismatch *m, const vt_tensor_list *l) {
    size_t n = 0, lp = strlen(prefix);
    for (size_t i = 0; i < vt_st_count(f); i++) {
        const vt_st_tensor *t = vt_st_tensor_at(f, i);
        if (strncmp(t->name, prefix, lp)) continue;
        n++;
        if (l && !vt_tensor_list_find(l, t->name + lp)) note(m->unexpected, &m->n_unexpected, t->name + lp);
    }
    return n;
}

vt_status vt_run_ckpt_restore_weights(const vt_run_ckpt *ck, const char *group, const vt_tensor_list *list,
                                      vt_err *err) {
    const vt_st_file *f = ck->file;
    char prefix[256], name[1024], what[512];
    snprintf(prefix, sizeof prefix, "weights/%s/", group);
    snprintf(what, sizeof what, "%s: weights '%s'", vt_run_ckpt_path(ck), group);
    mismatch m = {0};
    const vt_st_tensor **src = calloc(list->n ? list->n : 1, sizeof *src);
    if (!src) return vt_err_set(err, VT_ENOMEM, "%s: out of memory", what);
    for (size_t i = 0; i < list->n; i++) {
        snprintf(name, sizeof name, "%s%s", prefix, list->items[i].name);
        src[i] = vt_st_find(f, name);
        if (!src[i]) note(m.missing, &m.n_missing, list->items[i].name);
        else if (!fits(list->items[i].tensor, src[i])) note(m.shape, &m.n_shape, list->items[i].name);
    }
    count_prefix(f, prefix, &m, list);
    vt_status s = report(&m, what, err);
    for (size_t i = 0; !s && i < list->n; i++)
        if (vt_tensor_write_bytes(list->items[i].tensor, src[i]->data) != VT_OK)
            s = vt_err_set(err, VT_EDEVICE, "%s: writing '%s' to its device: %s", what, list->items[i].name,
                           vt_ctx_error(list->items[i].tensor->ctx)->msg);
    free(src);
    return s;
}

vt_status vt_run_ckpt_restore_optim(const vt_run_ckpt *ck, const char *group, vt_optim *optim, vt_err *err) {
    const vt_st_file *f = ck->file;
    char prefix[256], key[64], what[512];
    snprintf(prefix, sizeof prefix, "optim/%s/", group);
    snprintf(key, sizeof key, "optim_steps.%.40s", group);
    snprintf(what, sizeof what, "%s: optimizer '%s'", vt_run_ckpt_path(ck), group);
    const char *steps_s = vt_st_metadata(f, key);
    char *end = NULL;
    long long steps = steps_s ? strtoll(steps_s, &end, 10) : -1;
    if (!steps_s || !*steps_s || *end || steps < 0)
        return vt_err_set(err, VT_EFORMAT, "%s: __metadata__ '%s' missing or not a count", what, key);
    size_t lp = strlen(prefix), n = 0;
    mismatch m = {0};
    /* Pass 1: every entry of the file must name a state tensor of this optimizer with the same layout. */
    for (size_t i = 0; i < vt_st_count(f); i++) {
        const vt_st_tensor *t = vt_st_tensor_at(f, i);
        if (strncmp(t->name, prefix, lp)) continue;
        n++;
        vt_tensor *dst = vt_optim_state_lookup(optim, t->name + lp, true);
        if (!dst) note(m.unexpected, &m.n_unexpected, t->name + lp);
        else if (!fits(dst, t)) note(m.shape, &m.n_shape, t->name + lp);
    }
    if (m.n_unexpected && vt_optim_num_groups(optim) && vt_optim_group_size(optim, 0)) {
        /* the failed lookups recorded a ctx error; the error returned here is the one that matters */
        vt_tensor *p = vt_optim_group_param(optim, 0, 0);
        if (p && p->ctx) vt_ctx_clear_error(p->ctx);
    }
    if (vt_optim_state_count(optim) != n && !m.n_unexpected) {
        vt_optim_state_entry e;
        char name[VT_OPTIM_STATE_NAME_MAX + 256];
        for (size_t i = 0; vt_optim_state_at(optim, i, &e); i++) {
            snprintf(name, sizeof name, "%s%s", prefix, e.name);
            if (!vt_st_find(f, name)) note(m.missing, &m.n_missing, e.name);
        }
    }
    vt_status s = report(&m, what, err);
    if (s) return s;
    for (size_t i = 0; i < vt_st_count(f); i++) {
        const vt_st_tensor *t = vt_st_tensor_at(f, i);
        if (strncmp(t->name, prefix, lp)) continue;
        vt_tensor *dst = vt_optim_state_lookup(optim, t->name + lp, false);
        if (vt_tensor_write_bytes(dst, t->data) != VT_OK)
            return vt_err_set(err, VT_EDEVICE, "%s: writing '%s' to its device: %s", what, t->name,
                              vt_ctx_error(dst->ctx)->msg);
    }
    vt_optim_set_step_count(optim, (int64_t)steps);
    return VT_OK;
}
