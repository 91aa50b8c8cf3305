/* The emulated accelerator ("emu:N", VT_EMU_DEVICES devices): an accelerator whose memory is host memory that
 * faults when host code touches it, so the device code paths (op glue allocating on the input's device,
 * vt_to_device, optimizers and checkpoints of device tensors) are exercised on machines without a GPU.
 *
 * Memory: per context and device, one arena of ARENA_BYTES of address space reserved PROT_NONE (no memory is
 * committed until touched), created on the first allocation. Blocks come from a bump pointer in the CPU
 * allocator's size classes (64-byte aligned) and, once freed, from per-class free lists kept on the host (a
 * block's own bytes cannot hold the link). The used part of every arena is PROT_READ|PROT_WRITE only in
 * "device mode": while a kernel (emu_kernels.c: the CPU backend's kernels, wrapped) or a memory operation
 * runs. Anything else that dereferences a device pointer gets SIGSEGV: that is the point.
 *
 * Copies and fills switch to device mode and run the CPU's vt_copy_ / vt_fill_ on CPU-kind aliases of the
 * tensors (same data, shape, strides), so results are the CPU's to the bit. Work is synchronous; synchronize
 * is a no-op. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "backend/emu/emu.h"
#include "tensor/internal.h"

#define ARENA_BYTES ((size_t)16 << 30)    /* address space per context and device */
#define COMMIT_STEP ((size_t)2 << 20)     /* the protected (used) part grows in these steps */
#define NCLASSES 160                      /* the CPU allocator's classes up to 2^36 bytes */

typedef struct block_list {
    void **ptrs;
    size_t n, cap;
} block_list;

typedef struct emu_arena {
    char *base;   /* NULL until the first allocation */
    size_t top;   /* bump pointer (bytes from base) */
    size_t used;  /* [base, base + used) follows the mode; used >= top, a multiple of COMMIT_STEP */
    int index;
    block_list cache[NCLASSES];
    vt_mem_stats stats;
    struct emu_arena *prev, *next; /* every live arena of the process, for mode switches */
} emu_arena;

typedef struct emu_ctx {
    emu_arena dev[VT_EMU_DEVICES];
} emu_ctx;

/* ---- device mode ---- */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static emu_arena *arenas; /* guarded by lock, as is depth */
static int depth;

static void protect(emu_arena *a, size_t from, size_t to, int prot) {
    if (to > from && mprotect(a->base + from, to - from, prot) != 0) {
        fprintf(stderr, "visft: emu:%d: mprotect failed\n", a->index);
        abort(); /* the emulator's invariant is gone: no result could be trusted */
    }
}

void vt_emu_enter(void) {
    pthread_mutex_lock(&lock);
    if (depth++ == 0)
        for (emu_arena *a = arenas; a; a = a->next) protect(a, 0, a->used, PROT_READ | PROT_WRITE);
    pthread_mutex_unlock(&lock);
}

void vt_emu_leave(void) {
    pthread_mutex_lock(&lock);
    if (--depth == 0)
        for (emu_arena *a = arenas; a; a = a->next) protect(a, 0, a->used, PROT_NONE);
    pthread_mutex_unlock(&lock);
}

/* ---- state ---- */

static int device_count(void) { return VT_EMU_DEVICES; }

static emu_arena *arena_of(vt_ctx *c, int device, bool create) {
    if (device < 0 || device >= VT_EMU_DEVICES) {
        if (create)
            vt_ctx_fail(c, VT_EUNSUPPORTED, "emu:%d: index out of range (the emulator has %d devices)", device,
                        VT_EMU_DEVICES);
        return NULL;
    }
    void **slot = vt_ctx_backend_slot(c, VT_DEVICE_EMU);
    if (!*slot) {
        if (!create) return NULL;
        emu_ctx *e = calloc(1, sizeof *e);
        if (!e) {
            vt_ctx_fail(c, VT_ENOMEM, "emu: out of host memory");
            return NULL;
        }
        for (int i = 0; i < VT_EMU_DEVICES; i++) e->dev[i].index = i;
        *slot = e;
    }
    emu_arena *a = &((emu_ctx *)*slot)->dev[device];
    if (a->base || !create) return a;
    void *p = mmap(NULL, ARENA_BYTES, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        vt_ctx_fail(c, VT_ENOMEM, "emu:%d: cannot reserve %zu GiB of address space", device, ARENA_BYTES >> 30);
        return NULL;
    }
    pthread_mutex_lock(&lock);
    a->base = p;
    a->prev = NULL;
    a->next = arenas;
    if (arenas) arenas->prev = a;
    arenas = a;
    pthread_mutex_unlock(&lock);
    return a;
}

static void release_state(vt_ctx *c, void *state) {
    emu_ctx *e = state;
    for (int i = 0; i < VT_EMU_DEVICES; i++) {
        emu_arena *a = &e->dev[i];
        for (int k = 0; k < NCLASSES; k++) free(a->cache[k].ptrs);
        if (!a->base) continue;
        pthread_mutex_lock(&lock);
        if (a->prev) a->prev->next = a->next;
        else arenas = a->next;
        if (a->next) a->next->prev = a->prev;
        pthread_mutex_unlock(&lock);
        munmap(a->base, ARENA_BYTES);
    }
    free(e);
}

/* ---- allocator ---- */

/* The CPU allocator's classes (core/tensor/alloc.c): 64-byte steps up to 4 KiB, then quarters of powers of 2. */
static int size_class(size_t n, size_t *cap) {
    if (n <= 4096) {
        size_t k = (n + 63) / 64;
        if (k == 0) k = 1;
        *cap = k * 64;
        return (int)k - 1;
    }
    int k = 63 - __builtin_clzll((unsigned long long)(n - 1)); /* 2^k < n <= 2^(k+1) */
    size_t base = (size_t)1 << k, q = base / 4;
    size_t steps = (n - base + q - 1) / q; /* 1..4 */
    *cap = base + steps * q;
    int cls = 64 + (k - 12) * 4 + (int)steps - 1;
    return cls < NCLASSES ? cls : -1;
}

static void *mem_alloc(vt_ctx *c, int device, size_t nbytes, size_t *capacity) {
    emu_arena *a = arena_of(c, device, true);
    if (!a) return NULL;
    size_t cap;
    int cls = size_class(nbytes, &cap);
    if (cls < 0 || cap > ARENA_BYTES) {
        vt_ctx_fail(c, VT_ENOMEM, "emu:%d: cannot allocate %zu bytes (the arena holds %zu GiB)", device, nbytes,
                    ARENA_BYTES >> 30);
        return NULL;
    }
    void *p = NULL;
    pthread_mutex_lock(&lock);
    a->stats.allocs++;
    block_list *l = &a->cache[cls];
    if (l->n) {
        p = l->ptrs[--l->n];
        a->stats.cached_bytes -= cap;
        a->stats.cache_hits++;
    } else if (cap <= ARENA_BYTES - a->top) {
        p = a->base + a->top;
        a->top += cap;
        if (a->top > a->used) {
            size_t used = (a->top + COMMIT_STEP - 1) / COMMIT_STEP * COMMIT_STEP;
            if (used > ARENA_BYTES) used = ARENA_BYTES;
            if (depth > 0) protect(a, a->used, used, PROT_READ | PROT_WRITE);
            a->used = used;
        }
    }
    if (p) {
        a->stats.live_bytes += cap;
        if (a->stats.live_bytes > a->stats.peak_bytes) a->stats.peak_bytes = a->stats.live_bytes;
    }
    pthread_mutex_unlock(&lock);
    if (!p) {
        vt_ctx_fail(c, VT_ENOMEM, "emu:%d: out of memory allocating %.1f MiB (%.1f MiB live in this context)", device,
                    (double)cap / 1048576.0, (double)a->stats.live_bytes / 1048576.0);
        return NULL;
    }
    *capacity = cap;
    return p;
}

static void mem_free(vt_ctx *c, int device, void *p, size_t capacity) {
    emu_arena *a = p ? arena_of(c, device, false) : NULL;
    if (!a || !a->base) return; /* cannot happen: the block came from this arena */
    size_t cap;
    int cls = size_class(capacity, &cap);
    pthread_mutex_lock(&lock);
    a->stats.live_bytes -= capacity;
    block_list *l = cls >= 0 && cap == capacity ? &a->cache[cls] : NULL;
    if (l && l->n == l->cap) {
        size_t ncap = l->cap ? 2 * l->cap : 16;
        void **np = realloc(l->ptrs, ncap * sizeof *np);
        if (np) l->ptrs = np, l->cap = ncap;
    }
    if (l && l->n < l->cap) { /* otherwise the block is lost to this context (address space only) */
        l->ptrs[l->n++] = p;
        a->stats.cached_bytes += capacity;
    }
    pthread_mutex_unlock(&lock);
}

static vt_mem_stats mem_stats(vt_ctx *c, int device) {
    vt_mem_stats z = {0};
    emu_arena *a = arena_of(c, device, false);
    return a ? a->stats : z;
}

/* ---- copies, fills, synchronisation ---- */

static vt_status check_index(vt_ctx *c, vt_device d) {
    if (d.kind != VT_DEVICE_EMU || (d.index >= 0 && d.index < VT_EMU_DEVICES)) return VT_OK;
    return vt_ctx_fail(c, VT_EUNSUPPORTED, "emu:%d: index out of range (the emulator has %d devices)", d.index,
                       VT_EMU_DEVICES);
}

/* The CPU's copy on CPU-kind aliases of dst and src: any strides, any dtype conversion, host or emu. */
static vt_status mem_copy(vt_ctx *c, vt_tensor *dst, const vt_tensor *src) {
    if (check_index(c, dst->device) != VT_OK || check_index(c, src->device) != VT_OK) return c->err.code;
    vt_tensor d = *dst, s = *src;
    d.device = vt_cpu();
    s.device = vt_cpu();
    vt_emu_enter();
    vt_status st = vt_copy_(c, &d, &s);
    vt_emu_leave();
    return st;
}

static vt_status mem_fill(vt_ctx *c, vt_tensor *t, double value) {
    if (check_index(c, t->device) != VT_OK) return c->err.code;
    vt_tensor a = *t;
    a.device = vt_cpu();
    vt_emu_enter();
    vt_status st = vt_fill_(c, &a, value);
    vt_emu_leave();
    return st;
}

static vt_status mem_synchronize(vt_ctx *c, int device) { return check_index(c, vt_emu(device)); }

static const vt_mem_ops emu_mem_ops = {
    .size = sizeof(vt_mem_ops),
    .device_count = device_count,
    .alloc = mem_alloc,
    .free = mem_free,
    .copy = mem_copy,
    .fill = mem_fill,
    .synchronize = mem_synchronize,
    .release_state = release_state,
    .stats = mem_stats,
};

/* ---- the backend ---- */

static vt_backend emu_backend;
static pthread_once_t emu_once = PTHREAD_ONCE_INIT;

static void emu_init(void) {
    emu_backend.size = sizeof(vt_backend);
    emu_backend.name = "emu";
    emu_backend.kind = VT_DEVICE_EMU;
    vt_emu_kernel_tables(emu_backend.families);
    emu_backend.mem = &emu_mem_ops;
}

const vt_backend *vt_emu_backend(void) {
    pthread_once(&emu_once, emu_init);
    return &emu_backend;
}
