/* vt_ctx: error chain, scope stack, autograd mode, RNG counter and allocator statistics. */
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "autograd/node.h"
#include "backend/backend.h"
#include "tensor/internal.h"

vt_ctx *vt_ctx_create(const vt_ctx_options *opts) {
    vt_ctx *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->threads = opts && opts->threads > 0 ? opts->threads : omp_get_max_threads();
    c->seed = opts ? opts->seed : 0;
    c->training = true;
    c->nscopes = 1; /* root scope */
    return c;
}

static void scope_clear(vt_scope *s) {
    /* release in reverse creation order: later tensors may view earlier ones */
    for (size_t i = s->n; i-- > 0;) vt_tensor_release(s->items[i]);
    s->n = 0;
}

void vt_ctx_destroy(vt_ctx *c) {
    if (!c) return;
    while (c->nscopes > 0) {
        scope_clear(&c->scopes[c->nscopes - 1]);
        c->nscopes--;
    }
    /* device buffers go back to their backend before its state (streams, caches) is released */
    for (int k = 0; k < VT_DEVICE_KINDS; k++) {
        const vt_backend *b = vt_backend_of((vt_device_kind)k);
        if (c->backend_state[k] && b && b->mem && b->mem->release_state) b->mem->release_state(c, c->backend_state[k]);
        c->backend_state[k] = NULL;
    }
    for (int i = 0; i < VT_MAX_SCOPES; i++) free(c->scopes[i].items); /* popped scopes keep their arrays */
    vt_alloc_trim(&c->alloc);
    for (vt_tensor *t = c->tensor_pool; t;) {
        vt_tensor *next = (vt_tensor *)t->grad;
        free(t);
        t = next;
    }
    for (vt_node *n = c->node_pool; n;) {
        vt_node *next = n->next_free;
        free(n);
        n = next;
    }
    for (vt_storage *s = c->storage_pool; s;) {
        vt_storage *next = s->next_free;
        free(s);
        s = next;
    }
    free(c);
}

int vt_ctx_threads(const vt_ctx *c) { return c->threads; }
void vt_ctx_set_threads(vt_ctx *c, int threads) { c->threads = threads > 0 ? threads : omp_get_max_threads(); }

bool vt_ctx_ok(const vt_ctx *c) { return c && c->err.code == VT_OK; }
const vt_err *vt_ctx_error(const vt_ctx *c) { return &c->err; }
void vt_ctx_clear_error(vt_ctx *c) { vt_err_clear(&c->err); }

vt_status vt_ctx_fail(vt_ctx *c, vt_status code, const char *fmt, ...) {
    if (!c) return code;
    if (c->err.code != VT_OK) return code; /* keep the first error of a chain */
    va_list ap;
    va_start(ap, fmt);
    vt_err_setv(&c->err, code, fmt, ap);
    va_end(ap);
    return code;
}

void vt_scope_push(vt_ctx *c) {
    if (c->nscopes >= VT_MAX_SCOPES) {
        vt_ctx_fail(c, VT_ESTATE, "scope stack overflow (%d nested scopes)", VT_MAX_SCOPES);
        return;
    }
    c->nscopes++;
}

void vt_scope_pop(vt_ctx *c) {
    if (c->nscopes <= 1) {
        vt_ctx_fail(c, VT_ESTATE, "vt_scope_pop without a matching vt_scope_push");
        return;
    }
    scope_clear(&c->scopes[c->nscopes - 1]);
    c->nscopes--;
}

int vt_scope_depth(const vt_ctx *c) { return c->nscopes - 1; }

vt_tensor *vt_scope_adopt(vt_ctx *c, vt_tensor *t) {
    if (!t) return NULL;
    vt_scope *s = &c->scopes[c->nscopes - 1];
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        vt_tensor **items = realloc(s->items, cap * sizeof *items);
        if (!items) {
            vt_tensor_release(t);
            vt_ctx_fail(c, VT_ENOMEM, "out of memory growing the tensor scope");
            return NULL;
        }
        s->items = items;
        s->cap = cap;
    }
    s->items[s->n++] = t;
    return t;
}

void vt_no_grad_begin(vt_ctx *c) { c->no_grad_depth++; }
void vt_no_grad_end(vt_ctx *c) {
    if (c->no_grad_depth > 0) c->no_grad_depth--;
}
bool vt_grad_enabled(const vt_ctx *c) { return c->no_grad_depth == 0; }
void vt_set_training(vt_ctx *c, bool training) { c->training = training; }
bool vt_is_training(const vt_ctx *c) { return c->training; }

void vt_ctx_seed(vt_ctx *c, uint64_t seed) {
    c->seed = seed;
    c->rng_offset = 0;
}
uint64_t vt_ctx_get_seed(const vt_ctx *c) { return c->seed; }
uint64_t vt_ctx_rng_reserve(vt_ctx *c, uint64_t n) {
    uint64_t first = c->rng_offset;
    c->rng_offset += n;
    return first;
}
uint64_t vt_ctx_rng_offset(const vt_ctx *c) { return c->rng_offset; }
void vt_ctx_set_rng_offset(vt_ctx *c, uint64_t offset) { c->rng_offset = offset; }

vt_mem_stats vt_ctx_mem_stats(const vt_ctx *c) { return c->alloc.stats; }
void vt_ctx_reset_peak(vt_ctx *c) { c->alloc.stats.peak_bytes = c->alloc.stats.live_bytes; }
void vt_ctx_trim(vt_ctx *c) { vt_alloc_trim(&c->alloc); }

bool vt_ctx_set_autocast(vt_ctx *c, vt_dtype dt) {
    if (dt != VT_F32 && dt != VT_BF16) return false;
    c->autocast = dt;
    return true;
}
vt_dtype vt_ctx_autocast(const vt_ctx *c) { return c->autocast; }

void vt_ctx_set_profiling(vt_ctx *c, bool on) { c->profiling = on; }
bool vt_ctx_profiling(const vt_ctx *c) { return c->profiling; }
void vt_ctx_profile_add(vt_ctx *c, int family, double seconds, double flops) {
    if (family < 0 || family >= 16) return;
    c->profile.seconds[family] += seconds;
    c->profile.flops[family] += flops;
    c->profile.calls[family]++;
}
vt_profile vt_ctx_profile(const vt_ctx *c) { return c->profile; }
void vt_ctx_profile_reset(vt_ctx *c) { memset(&c->profile, 0, sizeof c->profile); }

double vt_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
