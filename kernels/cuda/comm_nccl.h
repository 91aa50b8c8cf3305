/* NCCL communicator (internal to the CUDA backend): the vt_comm table of visft/comm.h for DEVICE buffers.
 *
 * Each communicator owns one CUDA device (set current at creation) and one non-blocking stream. Every
 * collective of the table is enqueued on that stream and waited for before returning, as comm.h requires;
 * vt_comm_nccl_allreduce_async / vt_comm_nccl_wait split an all-reduce so it can overlap other work.
 * Buffers are device (or managed) memory of the communicator's device, or host memory, which is staged through
 * a device buffer (the trainer's losses, flags and broadcasts are host values). vt_comm_allreduce_grads
 * reduces device gradients in place through it (core/train/comm.c).
 *
 * The comm stream is not the context's compute stream: the caller must order the kernels that produce a
 * buffer before the collective (e.g. cudaEventRecord on the compute stream, cudaStreamWaitEvent on
 * vt_comm_nccl_stream(c)), and must not touch the buffer while an async all-reduce is in flight.
 *
 * Waits poll ncclCommGetAsyncError, so a failure on another rank ends them with an error instead of a hang;
 * the communicator is then aborted and later collectives return VT_ESTATE. */
#ifndef VISFT_KERNELS_CUDA_COMM_NCCL_H
#define VISFT_KERNELS_CUDA_COMM_NCCL_H

#include <stdbool.h>
#include <stddef.h>

#include <cuda_runtime.h>

#include "visft/comm.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Seconds the TCP bootstrap waits for the other ranks (overridable by VISFT_NCCL_INIT_TIMEOUT_S). */
#define VT_COMM_NCCL_INIT_TIMEOUT_S 300

/* True in builds that compile this file (it exists so callers can ask before creating). */
bool vt_comm_nccl_available(void);

/* Under mpirun: initialises MPI unless already initialised (destroy then finalises it, as comm_mpi.c
 * does), takes rank and world size from MPI_COMM_WORLD, and rank 0 broadcasts the ncclUniqueId over MPI.
 * device: the CUDA device of this rank (e.g. its local rank). VT_EUNSUPPORTED when built without MPI. */
vt_status vt_comm_nccl_create_mpi(int device, vt_comm **out, vt_err *err);

/* Without MPI: init_url is "tcp://HOST:PORT" naming rank 0's host. Rank 0 listens on PORT (all interfaces),
 * waits for the world_size-1 other ranks (VT_COMM_NCCL_INIT_TIMEOUT_S; on timeout the error names the
 * missing ranks) and then sends each the ncclUniqueId; the others connect with retries until the timeout.
 * Every rank must pass the same URL and world size. World 1 opens no socket. */
vt_status vt_comm_nccl_create_tcp(const char *init_url, int rank, int world_size, int device, vt_comm **out,
                                  vt_err *err);

/* Enqueues an in-place sum of dev_buf over all ranks on the communicator's stream and returns at once.
 * Complete it with vt_comm_nccl_wait before reading the buffer on another stream or the host. */
vt_status vt_comm_nccl_allreduce_async(vt_comm *c, float *dev_buf, size_t n, vt_err *err);
/* Waits until everything enqueued on the communicator's stream has finished. */
vt_status vt_comm_nccl_wait(vt_comm *c, vt_err *err);
/* The communicator's stream (for event-based ordering), or NULL when c is not an NCCL communicator. */
cudaStream_t vt_comm_nccl_stream(vt_comm *c);

#ifdef __cplusplus
}
#endif
#endif
