/* Which dataset indices a loader visits, in which order, with which random seeds.
 *
 * Everything here is a pure function of (seed, epoch, position): no state, no tables. The epoch's shuffle is
 * a keyed bijection on [0, n) — a 6-round Feistel network over the smallest even-bit power of two >= n whose
 * round function is Philox, "cycle-walked" back into [0, n) (Black & Rogaway, "Ciphers with arbitrary finite
 * domains", 2002). So the k-th index of any epoch costs O(1) time and memory, any worker can compute any
 * batch, and resuming from (epoch, batch) needs nothing saved but those two numbers. The domain is < 4n, so a
 * lookup takes fewer than 4 Feistel evaluations on average. */
#include <string.h>

#include "visft/loader.h"
#include "visft/rng.h"

#define FEISTEL_ROUNDS 6
/* Distinct key tweaks keep the shuffle and per-sample streams independent for the same user seed. */
#define PERM_KEY_TWEAK 0x243F6A8885A308D3ull
#define SAMPLE_KEY_TWEAK 0x13198A2E03707344ull

static uint32_t feistel_round(uint64_t key, uint64_t epoch, uint32_t round, uint32_t half) {
    uint32_t out[4];
    vt_philox4x32_10_inline(half, round, (uint32_t)epoch, (uint32_t)(epoch >> 32), (uint32_t)key,
                            (uint32_t)(key >> 32), out);
    return out[0];
}

uint64_t vt_loader_perm(uint64_t seed, uint64_t epoch, uint64_t n, uint64_t i) {
    if (n <= 1 || i >= n) return i;
    int bits = 64 - __builtin_clzll(n - 1); /* values < n fit in `bits` bits */
    int h = (bits + 1) / 2;                  /* two halves of h bits each */
    uint64_t mask = (h == 32) ? 0xFFFFFFFFull : ((1ull << h) - 1);
    uint64_t key = seed ^ PERM_KEY_TWEAK;
    uint64_t x = i;
    do { /* cycle-walk: x's orbit under the bijection returns to [0, n) because i started there */
        uint64_t l = x >> h, r = x & mask;
        for (uint32_t k = 0; k < FEISTEL_ROUNDS; k++) {
            uint64_t t = l ^ (feistel_round(key, epoch, k, (uint32_t)r) & mask);
            l = r;
            r = t;
        }
        x = (l << h) | r;
    } while (x >= n);
    return x;
}

uint64_t vt_loader_sample_seed(uint64_t seed, uint64_t epoch, uint64_t index) {
    uint64_t key = seed ^ SAMPLE_KEY_TWEAK;
    uint32_t out[4];
    vt_philox4x32_10_inline((uint32_t)index, (uint32_t)(index >> 32), (uint32_t)epoch, (uint32_t)(epoch >> 32),
                            (uint32_t)key, (uint32_t)(key >> 32), out);
    return ((uint64_t)out[1] << 32) | out[0];
}

vt_status vt_loader_plan_init(vt_loader_plan *p, uint64_t n, const vt_loader_opts *o, vt_err *err) {
    memset(p, 0, sizeof *p);
    if (o->batch_size < 1) return vt_err_set(err, VT_EINVAL, "loader: batch_size must be >= 1, got %lld",
                                             (long long)o->batch_size);
    if (o->world_size < 1 || o->rank < 0 || o->rank >= o->world_size)
        return vt_err_set(err, VT_EINVAL, "loader: rank %d is not in [0, world_size %d)", o->rank, o->world_size);
    p->n = n;
    p->seed = o->seed;
    p->shuffle = o->shuffle;
    p->rank = (uint64_t)o->rank;
    p->world = (uint64_t)o->world_size;
    p->batch_size = (uint64_t)o->batch_size;
    p->drop_last = o->drop_last;
    p->even_shards = o->even_shards;
    /* Even shards follow torch's DistributedSampler: every rank gets the same count (so collective steps
     * stay in lock-step), padding by wrapping around (or, with drop_last, truncating). */
    if (p->world == 1 || !p->even_shards) {
        p->total = n;
        p->shard_len = n > p->rank ? (n - p->rank + p->world - 1) / p->world : 0;
    } else {
        p->shard_len = p->drop_last ? n / p->world : (n + p->world - 1) / p->world;
        p->total = p->shard_len * p->world;
    }
    p->batches = p->drop_last ? p->shard_len / p->batch_size
                              : (p->shard_len + p->batch_size - 1) / p->batch_size;
    if (p->batches == 0)
        return vt_err_set(err, VT_EINVAL,
                          "loader: %llu samples (%llu on rank %llu of %llu) make no batch of %llu%s",
                          (unsigned long long)n, (unsigned long long)p->shard_len, (unsigned long long)p->rank,
                          (unsigned long long)p->world, (unsigned long long)p->batch_size,
                          p->drop_last ? " with drop_last" : "");
    /* A fingerprint of everything that decides the order, so a position saved under one setup is refused
     * under another instead of silently resuming somewhere else. */
    uint32_t out[4];
    vt_philox4x32_10_inline((uint32_t)n, (uint32_t)(n >> 32), (uint32_t)p->batch_size,
                            (uint32_t)(p->world << 16 | p->rank) ^ (p->shuffle ? 1u << 31 : 0) ^
                                (p->drop_last ? 1u << 30 : 0) ^ (p->even_shards ? 1u << 29 : 0),
                            (uint32_t)p->seed, (uint32_t)(p->seed >> 32), out);
    p->fingerprint = ((uint64_t)out[1] << 32) | out[0];
    return VT_OK;
}

uint64_t vt_loader_plan_index(const vt_loader_plan *p, uint64_t epoch, uint64_t pos) {
    uint64_t j = p->rank + pos * p->world; /* position in the global epoch order */
    if (j >= p->n) j %= p->n;              /* padding wraps to the epoch's first samples */
    return p->shuffle ? vt_loader_perm(p->seed, epoch, p->n, j) : j;
}

uint64_t vt_loader_plan_batch_len(const vt_loader_plan *p, uint64_t batch) {
    if (batch >= p->batches) return 0;
    uint64_t start = batch * p->batch_size;
    uint64_t left = p->shard_len - start;
    return left < p->batch_size ? left : p->batch_size;
}
