/* Communicators for data-parallel training: the trainer's only view of the other ranks.
 *
 * A vt_comm is a rank, a world size and a small table of collectives. Implementations:
 *   - vt_comm_single():      world 1, every collective a no-op (the default, always available);
 *   - vt_comm_mpi_create():  OpenMPI over MPI_COMM_WORLD (CPU buffers; VT_EUNSUPPORTED in builds without MPI);
 *   - vt_comm_nccl_open():   NCCL for CUDA devices (builds with the CUDA backend): gradients are reduced on
 *                            the device; host values (losses, flags) are staged through it.
 * Collectives are blocking and must be called by every rank in the same order with the same sizes. */
#ifndef VISFT_COMM_H
#define VISFT_COMM_H

#include <stdbool.h>
#include <stddef.h>

#include "visft/error.h"
#include "visft/nn.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vt_comm vt_comm;

typedef struct vt_comm_ops {
    /* In place: buf[i] = Σ over ranks of buf[i]. */
    vt_status (*allreduce_sum_f32)(vt_comm *c, float *buf, size_t n, vt_err *err);
    vt_status (*allreduce_sum_f64)(vt_comm *c, double *buf, size_t n, vt_err *err);
    /* buf on every rank = buf on root. */
    vt_status (*broadcast_bytes)(vt_comm *c, void *buf, size_t n, int root, vt_err *err);
    vt_status (*barrier)(vt_comm *c, vt_err *err);
    void (*destroy)(vt_comm *c);
} vt_comm_ops;

struct vt_comm {
    const vt_comm_ops *ops;
    int rank, world_size;
    const char *backend; /* "single", "mpi", "nccl" */
    void *impl;          /* implementation state */
};

/* The world-1 communicator (a static object: destroying it does nothing). Never NULL. */
vt_comm *vt_comm_single(void);

/* Joins MPI_COMM_WORLD, calling MPI_Init_thread (FUNNELED) unless MPI is already initialised; destroy
 * finalises MPI only if this call initialised it. argc/argv may be NULL. VT_EUNSUPPORTED when visft was
 * built without MPI. */
vt_status vt_comm_mpi_create(int *argc, char ***argv, vt_comm **out, vt_err *err);
/* True when this build has the MPI communicator. */
bool vt_comm_mpi_available(void);

/* True when this build has the NCCL communicator (the CUDA backend). */
bool vt_comm_has_nccl(void);
/* An NCCL communicator on CUDA device `device`. init_url "tcp://HOST:PORT" (rank 0's host; every rank passes the
 * same URL and world size) bootstraps over TCP with the given rank and world size; init_url NULL bootstraps
 * over MPI under mpirun (rank and world size from MPI; MPI is initialised if needed). VT_EUNSUPPORTED in builds
 * without NCCL; VT_EINVAL for a malformed URL, rank or world size. */
vt_status vt_comm_nccl_open(const char *init_url, int rank, int world_size, int device, vt_comm **out, vt_err *err);

/* MPI when launched under mpirun (OMPI_COMM_WORLD_SIZE or PMI_SIZE set, > 1) and built with MPI; otherwise
 * the single communicator. Launched under mpirun in a build without MPI is an error (each rank would silently
 * train alone). */
vt_status vt_comm_from_env(int *argc, char ***argv, vt_comm **out, vt_err *err);

/* Checked wrappers over the table (NULL comm or buffer with n > 0, bad root: VT_EINVAL). */
vt_status vt_comm_allreduce_sum_f32(vt_comm *c, float *buf, size_t n, vt_err *err);
vt_status vt_comm_allreduce_sum_f64(vt_comm *c, double *buf, size_t n, vt_err *err);
vt_status vt_comm_broadcast_bytes(vt_comm *c, void *buf, size_t n, int root, vt_err *err);
vt_status vt_comm_barrier(vt_comm *c, vt_err *err);
void vt_comm_destroy(vt_comm *c); /* NULL is fine */

/* Default bucket size of vt_comm_allreduce_grads. */
#define VT_COMM_BUCKET_BYTES ((size_t)4 << 20)

/* Sums (average: then divides by world size) the gradients of every parameter in the list across ranks:
 * packs them in list order into buckets of at most bucket_bytes (0: VT_COMM_BUCKET_BYTES; a gradient larger
 * than a bucket is reduced in bucket-sized pieces), one allreduce per bucket, and unpacks. Parameters without
 * a gradient are skipped, so every rank must have gradients for the same parameters. Gradients must be
 * contiguous f32 tensors, all on the CPU or all on one device: device gradients are packed into the same buckets
 * on the device and reduced there by the NCCL communicator, or through one host copy per bucket by a host
 * communicator (MPI). *n_calls (may be NULL) receives the number of allreduce calls made. */
vt_status vt_comm_allreduce_grads_ex(vt_comm *c, const vt_tensor_list *params, bool average, size_t bucket_bytes,
                                     size_t *n_calls, vt_err *err);
vt_status vt_comm_allreduce_grads(vt_comm *c, const vt_tensor_list *params, bool average, vt_err *err);

#ifdef __cplusplus
}
#endif
#endif
