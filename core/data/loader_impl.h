/* Internals shared by loader.c (threads, queue, public calls) and loader_build.c (one batch from samples). */
#ifndef VISFT_CORE_DATA_LOADER_IMPL_H
#define VISFT_CORE_DATA_LOADER_IMPL_H

#include <pthread.h>

#include "visft/loader.h"

/* What building one batch produced: a batch (NULL when every sample was skipped), or a failure. */
typedef struct loader_result {
    void *batch;
    int worker;             /* who built it (and frees it) */
    uint64_t n_samples;     /* in the batch */
    uint64_t n_bad;         /* skipped under VT_LOADER_SKIP */
    char **bad_msgs;        /* the first VT_LOADER_MAX_BAD_LOG of them (malloc'ed lines) */
    size_t n_bad_msgs;
    double read_s, transform_s, collate_s;
    vt_status status;       /* VT_OK, or why the loader must stop here */
    vt_err err;
} loader_result;

typedef struct loader_worker {
    struct vt_loader *L;
    int id;
    pthread_t thread;
    bool thread_started, hooks_started;
    vt_sample *samples;     /* batch_size reusable samples */
    vt_sample **ptrs;
    void **to_free;         /* batches released by the consumer, freed by this worker (under L->mu) */
    size_t n_free, cap_free;
} loader_worker;

/* Builds batch number `seq` (epoch-major) on worker w into r (zeroed by the caller). */
void vt_loader_build(struct vt_loader *L, loader_worker *w, uint64_t seq, loader_result *r);
/* Frees a batch through the free hook on worker w's behalf. */
void vt_loader_free_batch(struct vt_loader *L, int worker, void *batch);
void vt_loader_result_clear(struct vt_loader *L, loader_result *r, bool free_batch);

/* The parts of vt_loader loader_build.c reads (opts, dataset, plan). */
struct vt_loader_core {
    const vt_dataset_vtable *vt;
    void *ds;
    vt_loader_opts o;
    vt_loader_plan plan;
};
struct vt_loader_core *vt_loader_core_of(struct vt_loader *L);

#endif
