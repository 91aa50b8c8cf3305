/* The data loader: reads samples from any dataset plugin through its vtable, transforms them and collates
 * them into batches on worker threads, and hands the batches out in order through a bounded queue.
 *
 * Determinism. Which dataset indices form batch b of epoch e depends only on (seed, epoch, rank, world size,
 * batch size, dataset length): the epoch's shuffle is a Philox-keyed permutation computed on demand
 * (vt_loader_perm). Each sample's randomness (flips, crops) comes from (seed, epoch, dataset index) only.
 * Workers claim whole batches and the consumer receives them in sequence, so the batches are the same
 * whatever the number of workers — and a run resumed from a saved vt_loader_position continues with exactly
 * the batches the interrupted run would have produced.
 *
 * Bad samples. A sample whose dataset call or transform fails with VT_EIO, VT_EFORMAT or VT_ENOTFOUND (a
 * missing, truncated or corrupt file) is dropped from its batch and counted under VT_LOADER_SKIP (the
 * default; vt_loader_summary lists them), or stops the loader under VT_LOADER_FAIL — vt_loader_next then
 * returns that error at that batch. Any other failure (out of memory, a bug) always stops the loader.
 *
 * Threads. The dataset's sample() and the transform/collate hooks run on worker threads (several at once);
 * hooks get the worker's number so they can keep per-worker state. A batch is freed on the worker that
 * built it (vt_loader_release queues it there), so per-worker allocators never see another thread. */
#ifndef VISFT_LOADER_H
#define VISFT_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "visft/data.h"
#include "visft/error.h"
#include "visft/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vt_loader_bad_policy {
    VT_LOADER_SKIP = 0, /* drop the sample, count it, report it in the summary */
    VT_LOADER_FAIL = 1  /* stop: vt_loader_next returns the error */
} vt_loader_bad_policy;

/* What turns samples into batches. Every slot but collate may be NULL. `user` is passed back to each.
 * `worker` is in [0, workers) (0 when the loader runs synchronously). */
typedef struct vt_loader_hooks {
    void *user;
    /* Called once per worker thread before its first batch and after its last (per-worker state such as a
     * vt_ctx). */
    vt_status (*worker_start)(void *user, int worker, vt_err *err);
    void (*worker_stop)(void *user, int worker);
    /* Per-sample transforms. Draw randomness only from (seed, epoch, index) — the loader's seed and the
     * sample's epoch and dataset index — e.g. vt_transforms_apply(t, s, seed, epoch, index, err), or
     * vt_rng_u32(vt_loader_sample_seed(seed, epoch, index), 0, k). */
    vt_status (*transform)(void *user, int worker, vt_sample *s, uint64_t seed, uint64_t epoch, uint64_t index,
                           vt_err *err);
    /* Collates n >= 1 samples into *out (a vt_batch or any type the caller agrees on with its consumer). */
    vt_status (*collate)(void *user, int worker, vt_sample *const *samples, size_t n, void **out, vt_err *err);
    /* Frees what collate made; called on the worker that made it. NULL: free(). */
    void (*free_batch)(void *user, int worker, void *batch);
} vt_loader_hooks;

typedef struct vt_loader_opts {
    int64_t batch_size;         /* >= 1 (default 8) */
    int workers;                /* threads; 0 = load on the caller's thread in vt_loader_next (default 2) */
    int prefetch;               /* batches built ahead of the consumer; 0 = 2 * workers (default 0) */
    uint64_t seed;              /* shuffle and per-sample randomness (default 0) */
    bool shuffle;               /* a new permutation each epoch (default true) */
    bool drop_last;             /* drop the last, short batch (default false) */
    int rank, world_size;       /* this process's shard (defaults 0, 1) */
    bool even_shards;           /* every rank gets ceil(n/world) samples, wrapping (drop_last: floor) like
                                 * torch's DistributedSampler; false: ranks take every world-th sample and
                                 * their counts may differ by one (default true) */
    uint64_t epochs;            /* 0: unlimited; else vt_loader_next reports the end after this many */
    vt_loader_bad_policy on_bad;/* default VT_LOADER_SKIP */
    vt_decode_opts decode;      /* hints put into each sample before dataset->sample (DCT downscaling) */
    vt_loader_hooks hooks;      /* collate is required */
} vt_loader_opts;

vt_loader_opts vt_loader_defaults(void);

/* Where the loader is: the next batch vt_loader_next returns. Save it with a checkpoint and pass it to
 * vt_loader_seek to resume; `fingerprint` ties it to the order-deciding settings (seed, shuffle, sizes,
 * shard) so a position from a different setup is refused. */
typedef struct vt_loader_position {
    uint64_t epoch;
    uint64_t batch;
    uint64_t fingerprint;
} vt_loader_position;

/* Counters since vt_loader_create (times are seconds summed over workers, so they can exceed wall time). */
typedef struct vt_loader_stats {
    uint64_t batches;         /* handed to the consumer */
    uint64_t samples;         /* samples in those batches */
    uint64_t bad_samples;     /* skipped under VT_LOADER_SKIP */
    double read_s;            /* dataset->sample (read + decode) */
    double transform_s;
    double collate_s;
    double wait_s;            /* consumer time blocked in vt_loader_next: > 0 means data starvation */
    double elapsed_s;         /* wall time since create */
} vt_loader_stats;

typedef struct vt_loader vt_loader;

/* A loader over one opened dataset instance (`ds` from vtable->open). The loader does not own it: close it
 * after vt_loader_destroy. Fails on bad options (batch larger than the shard with drop_last, bad rank). */
vt_status vt_loader_create(const vt_dataset_vtable *vtable, void *ds, const vt_loader_opts *opts,
                           vt_loader **out, vt_err *err);
/* Stops the workers and frees every batch still queued (released or not). */
void vt_loader_destroy(vt_loader *L);

/* The next batch in order, or *batch = NULL after the last epoch (opts.epochs). *pos (may be NULL) receives
 * the batch's own position. Release each batch with vt_loader_release; several may be held at once. */
vt_status vt_loader_next(vt_loader *L, void **batch, vt_loader_position *pos, vt_err *err);
void vt_loader_release(vt_loader *L, void *batch);

/* The position of the next batch vt_loader_next will return. */
vt_loader_position vt_loader_tell(const vt_loader *L);
/* Continues from pos (from vt_loader_tell): drops prefetched batches and restarts there. */
vt_status vt_loader_seek(vt_loader *L, vt_loader_position pos, vt_err *err);

uint64_t vt_loader_batches_per_epoch(const vt_loader *L);
/* Samples this rank visits per epoch (before drop_last cuts the short batch). */
uint64_t vt_loader_samples_per_epoch(const vt_loader *L);

vt_loader_stats vt_loader_get_stats(const vt_loader *L);
/* The first few skipped samples' messages (up to VT_LOADER_MAX_BAD_LOG), in the order they were found. */
#define VT_LOADER_MAX_BAD_LOG 16
size_t vt_loader_bad_log(const vt_loader *L, const char **lines, size_t max);
/* Prints a short summary: batches, samples, images/s, time split, skipped samples with their messages. */
void vt_loader_summary(const vt_loader *L, FILE *out);

/* ---- the order, as pure functions (the loader uses these; exposed for tests and tools) ------------------ */

/* Element i of epoch `epoch`'s permutation of [0, n): a bijection for every (seed, epoch). */
uint64_t vt_loader_perm(uint64_t seed, uint64_t epoch, uint64_t n, uint64_t i);
/* The random seed of dataset index `index` in epoch `epoch` (independent of order and workers). */
uint64_t vt_loader_sample_seed(uint64_t seed, uint64_t epoch, uint64_t index);

typedef struct vt_loader_plan {
    uint64_t n, seed, rank, world, batch_size;
    bool shuffle, drop_last, even_shards;
    uint64_t total;      /* samples over all ranks in one epoch (n, or padded/truncated for even shards) */
    uint64_t shard_len;  /* samples this rank visits per epoch */
    uint64_t batches;    /* batches this rank makes per epoch */
    uint64_t fingerprint;
} vt_loader_plan;

vt_status vt_loader_plan_init(vt_loader_plan *p, uint64_t n, const vt_loader_opts *o, vt_err *err);
/* Dataset index of this rank's sample `pos` (< shard_len) in `epoch`. */
uint64_t vt_loader_plan_index(const vt_loader_plan *p, uint64_t epoch, uint64_t pos);
/* Samples in batch `batch` (< batches) of an epoch. */
uint64_t vt_loader_plan_batch_len(const vt_loader_plan *p, uint64_t batch);

#ifdef __cplusplus
}
#endif
#endif
