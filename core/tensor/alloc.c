/* Size-class caching allocator for tensor storage.
 *
 * Classes: up to 4 KiB everything rounds to 64-byte multiples; above, each power of two is split in four
 * (2^k, 1.25·2^k, 1.5·2^k, 1.75·2^k), so the waste is at most 25%. Buffers are 64-byte aligned. Freed
 * buffers go on their class's list and are reused first, so a repeated training step stops calling malloc. */
#include <stdlib.h>
#include <string.h>

#include "tensor/internal.h"

static int size_class(size_t n, size_t *cap) {
    if (n <= 4096) {
        size_t c = (n + 63) / 64;
        if (c == 0) c = 1;
        *cap = c * 64;
        return (int)c - 1; /* classes 0..63 */
    }
    int k = 63 - __builtin_clzll((unsigned long long)(n - 1)); /* 2^k < n <= 2^(k+1) */
    size_t base = (size_t)1 << k;
    size_t q = base / 4;
    size_t steps = (n - base + q - 1) / q; /* 1..4 */
    *cap = base + steps * q;
    int cls = 64 + (k - 12) * 4 + (int)steps - 1;
    return cls < VT_ALLOC_CLASSES ? cls : -1;
}

static void note_live(vt_allocator *a, size_t cap) {
    a->stats.live_bytes += cap;
    if (a->stats.live_bytes > a->stats.peak_bytes) a->stats.peak_bytes = a->stats.live_bytes;
}

void *vt_alloc_get(vt_allocator *a, size_t nbytes, size_t *capacity) {
    size_t cap;
    int cls = size_class(nbytes, &cap);
    a->stats.allocs++;
    if (cls >= 0 && a->free_lists[cls]) {
        void *p = a->free_lists[cls];
        memcpy(&a->free_lists[cls], p, sizeof(void *));
        a->stats.cached_bytes -= cap;
        a->stats.cache_hits++;
        note_live(a, cap);
        *capacity = cap;
        return p;
    }
    if (cls < 0) cap = (nbytes + 63) & ~(size_t)63;
    void *p = NULL;
    if (posix_memalign(&p, 64, cap) != 0) return NULL;
    note_live(a, cap);
    *capacity = cap;
    return p;
}

void vt_alloc_put(vt_allocator *a, void *p, size_t capacity) {
    if (!p) return;
    size_t cap;
    int cls = size_class(capacity, &cap);
    a->stats.live_bytes -= capacity;
    if (cls < 0 || cap != capacity) {
        free(p);
        return;
    }
    memcpy(p, &a->free_lists[cls], sizeof(void *));
    a->free_lists[cls] = p;
    a->stats.cached_bytes += capacity;
}

void vt_alloc_trim(vt_allocator *a) {
    for (int i = 0; i < VT_ALLOC_CLASSES; i++) {
        void *p = a->free_lists[i];
        while (p) {
            void *next;
            memcpy(&next, p, sizeof(void *));
            free(p);
            p = next;
        }
        a->free_lists[i] = NULL;
    }
    a->stats.cached_bytes = 0;
}
