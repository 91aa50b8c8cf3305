/* The loader's threads and its in-order prefetch queue.
 *
 * Batches are numbered epoch-major (seq = epoch * batches_per_epoch + batch). Workers claim the lowest
 * unclaimed seq, but only while it is fewer than `depth` ahead of the consumer, build it without the lock,
 * and put it in ring slot seq % depth; the consumer takes slot next_take % depth once it holds that seq. So
 * at most `depth` batches exist ahead of the consumer, and they come out in order however the work was split.
 *
 * Seek bumps a generation: ready batches are queued for freeing, builds still in flight are dropped by their
 * worker when it finishes, and claiming restarts at the new seq. Threads live from create to destroy. */
#include <stdlib.h>
#include <string.h>

#include "data/loader_impl.h"
#include "visft/context.h"

typedef struct loader_slot {
    bool ready;
    uint64_t seq;
    loader_result r;
} loader_slot;

typedef struct held_batch {
    void *batch;
    int worker;
} held_batch;

struct vt_loader {
    struct vt_loader_core core;
    pthread_mutex_t mu;
    pthread_cond_t cv_work, cv_ready;
    loader_slot *slots;
    uint64_t depth;
    uint64_t next_claim, next_take, end_seq, gen;
    bool stop, halt;          /* halt: a fatal result was built, claim nothing more */
    int n_threads;            /* 0: synchronous (workers[0] runs on the caller's thread) */
    loader_worker *workers;
    int n_workers;
    held_batch *held;         /* batches the consumer holds, to route vt_loader_release */
    size_t n_held, cap_held;
    /* failure, seen by the consumer */
    vt_status failed;
    vt_err fail_err;
    /* stats (under mu) */
    vt_loader_stats st;
    double t0;
    char *bad_log[VT_LOADER_MAX_BAD_LOG];
    size_t n_bad_log;
};

struct vt_loader_core *vt_loader_core_of(struct vt_loader *L) { return &L->core; }

vt_loader_opts vt_loader_defaults(void) {
    vt_loader_opts o;
    memset(&o, 0, sizeof o);
    o.batch_size = 8;
    o.workers = 2;
    o.shuffle = true;
    o.world_size = 1;
    o.even_shards = true;
    o.on_bad = VT_LOADER_SKIP;
    return o;
}

/* Appends to a growable pointer array; false when out of memory. */
static bool push_free(loader_worker *w, void *batch) {
    if (w->n_free == w->cap_free) {
        size_t cap = w->cap_free ? 2 * w->cap_free : 8;
        void **p = realloc(w->to_free, cap * sizeof *p);
        if (!p) return false;
        w->to_free = p;
        w->cap_free = cap;
    }
    w->to_free[w->n_free++] = batch;
    return true;
}

/* Hands a batch back to the worker that built it; with no threads (or none left) frees it here. Under mu. */
static void route_free(vt_loader *L, int worker, void *batch) {
    if (!batch) return;
    if (L->n_threads == 0 || !push_free(&L->workers[worker], batch))
        vt_loader_free_batch(L, worker, batch); /* OOM fallback: the hooks must then tolerate it (free()) */
    pthread_cond_broadcast(&L->cv_work);
}

/* Frees the batches queued for w. Called by w's own thread with mu held; drops mu while freeing. */
static void drain_frees(vt_loader *L, loader_worker *w) {
    while (w->n_free) {
        void *b = w->to_free[--w->n_free];
        pthread_mutex_unlock(&L->mu);
        vt_loader_free_batch(L, w->id, b);
        pthread_mutex_lock(&L->mu);
    }
}

static void *worker_main(void *arg) {
    loader_worker *w = arg;
    vt_loader *L = w->L;
    pthread_mutex_lock(&L->mu);
    for (;;) {
        drain_frees(L, w);
        if (L->stop) break;
        if (L->halt || L->next_claim >= L->end_seq || L->next_claim >= L->next_take + L->depth) {
            pthread_cond_wait(&L->cv_work, &L->mu);
            continue;
        }
        uint64_t seq = L->next_claim++, gen = L->gen;
        pthread_mutex_unlock(&L->mu);
        loader_result r;
        memset(&r, 0, sizeof r);
        vt_loader_build(L, w, seq, &r);
        pthread_mutex_lock(&L->mu);
        if (gen != L->gen || L->stop) { /* seeked away (or stopping) while building: drop it here */
            pthread_mutex_unlock(&L->mu);
            vt_loader_result_clear(L, &r, true);
            pthread_mutex_lock(&L->mu);
            continue;
        }
        if (r.status != VT_OK) L->halt = true;
        loader_slot *s = &L->slots[seq % L->depth];
        s->r = r;
        s->seq = seq;
        s->ready = true;
        pthread_cond_broadcast(&L->cv_ready);
    }
    pthread_mutex_unlock(&L->mu);
    return NULL;
}

static void stop_threads(vt_loader *L) {
    pthread_mutex_lock(&L->mu);
    L->stop = true;
    /* Everything not yet freed goes back to its worker, which frees it before exiting. */
    for (uint64_t i = 0; i < L->depth; i++)
        if (L->slots[i].ready) {
            route_free(L, L->slots[i].r.worker, L->slots[i].r.batch);
            L->slots[i].r.batch = NULL;
            vt_loader_result_clear(L, &L->slots[i].r, false);
            L->slots[i].ready = false;
        }
    for (size_t i = 0; i < L->n_held; i++) route_free(L, L->held[i].worker, L->held[i].batch);
    L->n_held = 0;
    pthread_cond_broadcast(&L->cv_work);
    pthread_mutex_unlock(&L->mu);
    for (int i = 0; i < L->n_workers; i++)
        if (L->workers[i].thread_started) pthread_join(L->workers[i].thread, NULL);
}

void vt_loader_destroy(vt_loader *L) {
    if (!L) return;
    if (L->n_threads > 0) {
        stop_threads(L);
    } else {
        for (size_t i = 0; i < L->n_held; i++) vt_loader_free_batch(L, 0, L->held[i].batch);
    }
    const vt_loader_hooks *h = &L->core.o.hooks;
    for (int i = 0; i < L->n_workers; i++) {
        loader_worker *w = &L->workers[i];
        /* A worker that failed to start (or a free that found no memory to queue) may leave batches. */
        for (size_t k = 0; k < w->n_free; k++) vt_loader_free_batch(L, w->id, w->to_free[k]);
        if (w->hooks_started && h->worker_stop) h->worker_stop(h->user, w->id);
        for (int64_t k = 0; w->samples && k < L->core.o.batch_size; k++) vt_sample_free(&w->samples[k]);
        free(w->samples);
        free(w->ptrs);
        free(w->to_free);
    }
    for (uint64_t i = 0; L->slots && i < L->depth; i++) vt_loader_result_clear(L, &L->slots[i].r, false);
    for (size_t i = 0; i < L->n_bad_log; i++) free(L->bad_log[i]);
    free(L->slots);
    free(L->workers);
    free(L->held);
    pthread_cond_destroy(&L->cv_work);
    pthread_cond_destroy(&L->cv_ready);
    pthread_mutex_destroy(&L->mu);
    free(L);
}

/* Per-worker state; hooks->worker_start runs on the creating thread (before the worker thread exists) so a
 * failure is reported by create. worker_stop runs in destroy after the thread has ended. */
static vt_status worker_init(vt_loader *L, loader_worker *w, int id, vt_err *err) {
    w->L = L;
    w->id = id;
    size_t B = (size_t)L->core.o.batch_size;
    w->samples = calloc(B, sizeof *w->samples);
    w->ptrs = calloc(B, sizeof *w->ptrs);
    if (!w->samples || !w->ptrs) return vt_err_set(err, VT_ENOMEM, "loader: out of memory for %zu samples", B);
    for (size_t k = 0; k < B; k++) vt_sample_init(&w->samples[k]);
    const vt_loader_hooks *h = &L->core.o.hooks;
    if (h->worker_start) {
        vt_status st = h->worker_start(h->user, id, err);
        if (st != VT_OK) return vt_err_prefix(err, "loader: worker %d", id);
    }
    w->hooks_started = true;
    return VT_OK;
}

vt_status vt_loader_create(const vt_dataset_vtable *vtable, void *ds, const vt_loader_opts *opts, vt_loader **out,
                           vt_err *err) {
    *out = NULL;
    if (!vtable || !vtable->length || !vtable->sample)
        return vt_err_set(err, VT_EINVAL, "loader: dataset vtable lacks length/sample");
    if (!opts->hooks.collate) return vt_err_set(err, VT_EINVAL, "loader: no collate hook");
    if (opts->workers < 0 || opts->workers > 256)
        return vt_err_set(err, VT_EINVAL, "loader: workers must be in [0, 256], got %d", opts->workers);
    if (opts->prefetch < 0 || opts->prefetch > 4096)
        return vt_err_set(err, VT_EINVAL, "loader: prefetch must be in [0, 4096], got %d", opts->prefetch);
    if (opts->batch_size > (1 << 20))
        return vt_err_set(err, VT_EINVAL, "loader: batch_size %lld is too large", (long long)opts->batch_size);
    vt_loader_plan plan;
    vt_status st = vt_loader_plan_init(&plan, vtable->length(ds), opts, err);
    if (st != VT_OK) return st;

    vt_loader *L = calloc(1, sizeof *L);
    if (!L) return vt_err_set(err, VT_ENOMEM, "loader: out of memory");
    L->core.vt = vtable;
    L->core.ds = ds;
    L->core.o = *opts;
    L->core.plan = plan;
    pthread_mutex_init(&L->mu, NULL);
    pthread_cond_init(&L->cv_work, NULL);
    pthread_cond_init(&L->cv_ready, NULL);
    L->n_threads = opts->workers;
    L->n_workers = opts->workers > 0 ? opts->workers : 1;
    L->depth = opts->prefetch > 0 ? (uint64_t)opts->prefetch : (opts->workers > 0 ? 2 * (uint64_t)opts->workers : 1);
    if (L->depth < (uint64_t)L->n_threads) L->depth = (uint64_t)L->n_threads; /* every worker can have one */
    L->end_seq = opts->epochs ? opts->epochs * plan.batches : UINT64_MAX;
    L->t0 = vt_now();
    L->slots = calloc(L->depth, sizeof *L->slots);
    L->workers = calloc((size_t)L->n_workers, sizeof *L->workers);
    if (!L->slots || !L->workers) {
        vt_loader_destroy(L);
        return vt_err_set(err, VT_ENOMEM, "loader: out of memory");
    }
    for (int i = 0; i < L->n_workers; i++) {
        st = worker_init(L, &L->workers[i], i, err);
        if (st != VT_OK) {
            vt_loader_destroy(L);
            return st;
        }
    }
    for (int i = 0; i < L->n_threads; i++) {
        if (pthread_create(&L->workers[i].thread, NULL, worker_main, &L->workers[i]) != 0) {
            vt_loader_destroy(L);
            return vt_err_set(err, VT_EUNSUPPORTED, "loader: could not start worker thread %d", i);
        }
        L->workers[i].thread_started = true;
    }
    *out = L;
    return VT_OK;
}

static vt_loader_position position_of(const vt_loader *L, uint64_t seq) {
    vt_loader_position p = {seq / L->core.plan.batches, seq % L->core.plan.batches, L->core.plan.fingerprint};
    return p;
}

/* Accounts a taken result (under mu, or with no threads) and hands over its batch. */
static void take_result(vt_loader *L, loader_result *r) {
    L->st.bad_samples += r->n_bad;
    for (size_t i = 0; i < r->n_bad_msgs; i++) {
        if (L->n_bad_log < VT_LOADER_MAX_BAD_LOG) {
            L->bad_log[L->n_bad_log++] = r->bad_msgs[i];
            r->bad_msgs[i] = NULL;
        }
    }
    L->st.read_s += r->read_s;
    L->st.transform_s += r->transform_s;
    L->st.collate_s += r->collate_s;
    if (r->batch) {
        L->st.batches++;
        L->st.samples += r->n_samples;
    }
}

static vt_status hold(vt_loader *L, void *batch, int worker, vt_err *err) {
    if (L->n_held == L->cap_held) {
        size_t cap = L->cap_held ? 2 * L->cap_held : 8;
        held_batch *p = realloc(L->held, cap * sizeof *p);
        if (!p) return vt_err_set(err, VT_ENOMEM, "loader: out of memory");
        L->held = p;
        L->cap_held = cap;
    }
    L->held[L->n_held++] = (held_batch){batch, worker};
    return VT_OK;
}

vt_status vt_loader_next(vt_loader *L, void **batch, vt_loader_position *pos, vt_err *err) {
    *batch = NULL;
    if (L->failed != VT_OK) return vt_err_set(err, L->failed, "%s", L->fail_err.msg);
    for (;;) {
        pthread_mutex_lock(&L->mu);
        if (L->next_take >= L->end_seq) {
            pthread_mutex_unlock(&L->mu);
            return VT_OK;
        }
        uint64_t seq = L->next_take;
        loader_result r;
        if (L->n_threads == 0) {
            pthread_mutex_unlock(&L->mu);
            memset(&r, 0, sizeof r);
            vt_loader_build(L, &L->workers[0], seq, &r);
            pthread_mutex_lock(&L->mu);
        } else {
            loader_slot *s = &L->slots[seq % L->depth];
            double t = vt_now();
            while (!(s->ready && s->seq == seq)) pthread_cond_wait(&L->cv_ready, &L->mu);
            L->st.wait_s += vt_now() - t;
            r = s->r;
            memset(&s->r, 0, sizeof s->r);
            s->ready = false;
            pthread_cond_broadcast(&L->cv_work); /* a slot is free: the next claim may go ahead */
        }
        L->next_take++;
        if (L->n_threads == 0) L->next_claim = L->next_take;
        take_result(L, &r);
        vt_status st = r.status;
        if (st == VT_OK && r.batch) st = hold(L, r.batch, r.worker, &r.err);
        if (st != VT_OK) {
            L->failed = st;
            L->fail_err = r.err;
            route_free(L, r.worker, r.batch); /* only when hold() failed: a failed build has no batch */
            r.batch = NULL;
            vt_loader_result_clear(L, &r, false);
            pthread_mutex_unlock(&L->mu);
            return vt_err_set(err, st, "%s", L->fail_err.msg);
        }
        pthread_mutex_unlock(&L->mu);
        void *b = r.batch;
        r.batch = NULL;
        vt_loader_result_clear(L, &r, false);
        if (b) {
            *batch = b;
            if (pos) *pos = position_of(L, seq);
            return VT_OK;
        }
        /* every sample of this batch was skipped: go on to the next */
    }
}

void vt_loader_release(vt_loader *L, void *batch) {
    if (!batch) return;
    pthread_mutex_lock(&L->mu);
    for (size_t i = 0; i < L->n_held; i++) {
        if (L->held[i].batch != batch) continue;
        int worker = L->held[i].worker;
        L->held[i] = L->held[--L->n_held];
        route_free(L, worker, batch);
        break;
    }
    pthread_mutex_unlock(&L->mu);
}

vt_loader_position vt_loader_tell(const vt_loader *L) {
    pthread_mutex_lock((pthread_mutex_t *)&L->mu);
    vt_loader_position p = position_of(L, L->next_take);
    pthread_mutex_unlock((pthread_mutex_t *)&L->mu);
    return p;
}

vt_status vt_loader_seek(vt_loader *L, vt_loader_position pos, vt_err *err) {
    const vt_loader_plan *p = &L->core.plan;
    if (pos.fingerprint != p->fingerprint)
        return vt_err_set(err, VT_EINVAL,
                          "loader: the saved position was made with other loader settings (seed, shuffle, batch "
                          "size, dataset length or shard differ)");
    if (pos.batch >= p->batches || pos.epoch > (UINT64_MAX - pos.batch) / p->batches)
        return vt_err_set(err, VT_EINVAL, "loader: position epoch %llu batch %llu is out of range (%llu batches "
                          "per epoch)", (unsigned long long)pos.epoch, (unsigned long long)pos.batch,
                          (unsigned long long)p->batches);
    uint64_t seq = pos.epoch * p->batches + pos.batch;
    pthread_mutex_lock(&L->mu);
    L->gen++;
    for (uint64_t i = 0; i < L->depth; i++)
        if (L->slots[i].ready) {
            route_free(L, L->slots[i].r.worker, L->slots[i].r.batch);
            L->slots[i].r.batch = NULL;
            vt_loader_result_clear(L, &L->slots[i].r, false);
            L->slots[i].ready = false;
        }
    L->next_take = L->next_claim = seq;
    L->halt = false;
    L->failed = VT_OK;
    pthread_cond_broadcast(&L->cv_work);
    pthread_mutex_unlock(&L->mu);
    return VT_OK;
}

uint64_t vt_loader_batches_per_epoch(const vt_loader *L) { return L->core.plan.batches; }
uint64_t vt_loader_samples_per_epoch(const vt_loader *L) { return L->core.plan.shard_len; }

vt_loader_stats vt_loader_get_stats(const vt_loader *L) {
    pthread_mutex_lock((pthread_mutex_t *)&L->mu);
    vt_loader_stats s = L->st;
    pthread_mutex_unlock((pthread_mutex_t *)&L->mu);
    s.elapsed_s = vt_now() - L->t0;
    return s;
}

size_t vt_loader_bad_log(const vt_loader *L, const char **lines, size_t max) {
    pthread_mutex_lock((pthread_mutex_t *)&L->mu);
    size_t n = L->n_bad_log < max ? L->n_bad_log : max;
    for (size_t i = 0; i < n; i++) lines[i] = L->bad_log[i];
    pthread_mutex_unlock((pthread_mutex_t *)&L->mu);
    return n;
}

void vt_loader_summary(const vt_loader *L, FILE *out) {
    vt_loader_stats s = vt_loader_get_stats(L);
    fprintf(out, "loader: %llu batches, %llu samples in %.2f s (%.1f samples/s); worker time: read %.2f s, "
                 "transform %.2f s, collate %.2f s; waited %.2f s\n",
            (unsigned long long)s.batches, (unsigned long long)s.samples, s.elapsed_s,
            s.elapsed_s > 0 ? (double)s.samples / s.elapsed_s : 0.0, s.read_s, s.transform_s, s.collate_s,
            s.wait_s);
    if (s.bad_samples == 0) return;
    fprintf(out, "loader: skipped %llu bad sample%s:\n", (unsigned long long)s.bad_samples,
            s.bad_samples == 1 ? "" : "s");
    const char *lines[VT_LOADER_MAX_BAD_LOG];
    size_t n = vt_loader_bad_log(L, lines, VT_LOADER_MAX_BAD_LOG);
    for (size_t i = 0; i < n; i++) fprintf(out, "  %s\n", lines[i]);
    if (s.bad_samples > n) fprintf(out, "  ... and %llu more\n", (unsigned long long)(s.bad_samples - n));
}
