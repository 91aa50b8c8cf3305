/* One batch: read each sample through the dataset vtable, transform it, collate the good ones.
 *
 * Runs on a worker thread with no lock held. Its output depends only on the batch number, so whichever
 * worker builds a batch, it comes out the same. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/loader_impl.h"
#include "visft/context.h"

/* Failures that mean "this sample's file is bad", as opposed to a failing host. */
static bool is_bad_sample(vt_status st) { return st == VT_EIO || st == VT_EFORMAT || st == VT_ENOTFOUND; }

static void note_bad(loader_result *r, uint64_t index, const vt_err *e) {
    r->n_bad++;
    if (r->n_bad_msgs >= VT_LOADER_MAX_BAD_LOG) return;
    if (!r->bad_msgs) {
        r->bad_msgs = calloc(VT_LOADER_MAX_BAD_LOG, sizeof *r->bad_msgs);
        if (!r->bad_msgs) return; /* the count still holds; only the message is lost */
    }
    size_t len = strlen(e->msg) + 48;
    char *line = malloc(len);
    if (!line) return;
    snprintf(line, len, "sample %llu: %s", (unsigned long long)index, e->msg);
    r->bad_msgs[r->n_bad_msgs++] = line;
}

void vt_loader_build(struct vt_loader *L, loader_worker *w, uint64_t seq, loader_result *r) {
    struct vt_loader_core *c = vt_loader_core_of(L);
    const vt_loader_hooks *h = &c->o.hooks;
    uint64_t epoch = seq / c->plan.batches, b = seq % c->plan.batches;
    uint64_t len = vt_loader_plan_batch_len(&c->plan, b), start = b * c->plan.batch_size;
    r->worker = w->id;
    size_t n_ok = 0;
    for (uint64_t k = 0; k < len; k++) {
        uint64_t index = vt_loader_plan_index(&c->plan, epoch, start + k);
        vt_sample *s = &w->samples[n_ok];
        vt_sample_clear(s);
        s->decode = c->o.decode;
        vt_err e = {0};
        double t = vt_now();
        vt_status st = c->vt->sample(c->ds, (size_t)index, s, &e);
        double t1 = vt_now();
        r->read_s += t1 - t;
        if (st == VT_OK && h->transform) {
            st = h->transform(h->user, w->id, s, c->plan.seed, epoch, index, &e);
            r->transform_s += vt_now() - t1;
        }
        if (st == VT_OK) {
            w->ptrs[n_ok++] = s;
            continue;
        }
        if (e.msg[0] == '\0') snprintf(e.msg, sizeof e.msg, "%s", vt_status_name(st));
        if (is_bad_sample(st) && c->o.on_bad == VT_LOADER_SKIP) {
            note_bad(r, index, &e);
            continue;
        }
        r->status = vt_err_set(&r->err, st, "loader: epoch %llu batch %llu, sample %llu: %s",
                               (unsigned long long)epoch, (unsigned long long)b, (unsigned long long)index,
                               e.msg);
        return;
    }
    if (n_ok == 0) return; /* every sample skipped: an empty slot the consumer steps over */
    vt_err e = {0};
    double t = vt_now();
    vt_status st = h->collate(h->user, w->id, w->ptrs, n_ok, &r->batch, &e);
    r->collate_s += vt_now() - t;
    if (st != VT_OK) {
        r->batch = NULL;
        r->status = vt_err_set(&r->err, st, "loader: epoch %llu batch %llu: collate: %s", (unsigned long long)epoch,
                               (unsigned long long)b, e.msg[0] ? e.msg : vt_status_name(st));
        return;
    }
    r->n_samples = n_ok;
}

void vt_loader_free_batch(struct vt_loader *L, int worker, void *batch) {
    if (!batch) return;
    const vt_loader_hooks *h = &vt_loader_core_of(L)->o.hooks;
    if (h->free_batch)
        h->free_batch(h->user, worker, batch);
    else
        free(batch);
}

void vt_loader_result_clear(struct vt_loader *L, loader_result *r, bool free_batch) {
    if (free_batch) vt_loader_free_batch(L, r->worker, r->batch);
    for (size_t i = 0; i < r->n_bad_msgs; i++) free(r->bad_msgs[i]);
    free(r->bad_msgs);
    memset(r, 0, sizeof *r);
}
