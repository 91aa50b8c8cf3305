/* What CUDA kernels need from the runtime (kernels/cuda/cuda_runtime.c): the per-context, per-device state
 * (stream, cuBLASLt handle and workspace, cuDNN handle), scratch memory from the context's stream-ordered
 * caching allocator, and error reporting into the context.
 *
 * There is no global device state: each vt_ctx owns one vt_cuda_state per device it has used, created on
 * first use and destroyed with the context. Every kernel of a context runs on that context's stream, in
 * order, so memory freed to the cache may be handed out again at once: any later use is ordered after every
 * earlier one by the stream itself ("stream-ordered reuse").
 *
 * Kernel tables receive only the vt_ctx: the device they run on is the one the op layer looked the table up
 * for (vt_kernels records it in the context), returned by vt_cuda_current(). Kernels are asynchronous; a
 * kernel that must hand a value back to the host (a norm, a validation index) synchronises the stream. */
#ifndef VISFT_KERNELS_CUDA_STATE_H
#define VISFT_KERNELS_CUDA_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cublasLt.h>
#include <cuda_runtime.h>

#include "visft/context.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vt_cuda_state {
    int device;
    cudaStream_t stream;         /* every kernel of the context on this device runs here */
    cublasLtHandle_t lt;
    void *lt_workspace;          /* cuBLASLt workspace (lt_workspace_bytes) */
    size_t lt_workspace_bytes;
    void *cudnn;                 /* cudnnHandle_t, created by vt_cuda_cudnn() on first use */
    int sm_count;
    int cc_major, cc_minor;
    size_t max_smem_per_block;   /* opt-in maximum (cudaDevAttrMaxSharedMemoryPerBlockOptin) */
    void *gemm_plans;            /* matmul.cu's cache of cuBLASLt plans, freed by vt_cuda_gemm_plans_free */
} vt_cuda_state;

/* Frees matmul.cu's plan cache (called when the state is destroyed). */
void vt_cuda_gemm_plans_free(void *plans);

/* The state of the device the current kernel runs on (creating it on first use), or NULL with a context
 * error "cuda: ..." when the device cannot be initialised. */
vt_cuda_state *vt_cuda_current(vt_ctx *c);
/* The state of CUDA device `device` of this context (creating it on first use). */
vt_cuda_state *vt_cuda_state_of(vt_ctx *c, int device);
/* The cuDNN handle (a cudnnHandle_t) of the state, bound to its stream, created on first use; NULL with a
 * context error when cuDNN cannot be initialised. */
void *vt_cuda_cudnn(vt_ctx *c, vt_cuda_state *s);

/* Scratch memory on the current device from the context's caching allocator, stream-ordered (see above).
 * NULL with a context error when out of memory. Free with the same size. */
void *vt_cuda_scratch(vt_ctx *c, size_t nbytes);
void vt_cuda_scratch_free(vt_ctx *c, void *p, size_t nbytes);

/* True when e == cudaSuccess; otherwise records "cuda: WHAT: <cudaGetErrorString>" in the context. */
bool vt_cuda_ok(vt_ctx *c, cudaError_t e, const char *what);
/* After a kernel launch: checks cudaGetLastError (a launch failure) and records it as above. */
bool vt_cuda_launched(vt_ctx *c, const char *what);
/* Waits for the current device's stream; records errors raised by earlier asynchronous work. */
bool vt_cuda_sync(vt_ctx *c);

/* Launch geometry helper: blocks of `threads` covering n items, capped to a grid-stride-friendly count. */
static inline unsigned vt_cuda_blocks(int64_t n, unsigned threads) {
    int64_t b = (n + threads - 1) / threads;
    if (b < 1) b = 1;
    if (b > 65535 * 8) b = 65535 * 8;
    return (unsigned)b;
}

#ifdef __cplusplus
}
#endif
#endif
