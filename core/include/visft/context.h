/* vt_ctx: everything an op needs that is not in its tensors — the allocator cache, the scope stack that
 * owns intermediate tensors, the autograd mode, the RNG seed and counter, the thread count, and the first
 * error of a chain of op calls. There is no global device state: two contexts are independent.
 *
 * Error chaining: an op that fails records the error here and returns NULL; an op given a NULL input returns
 * NULL without touching the recorded error. So a forward pass can be written straight through and checked
 * once at the end:
 *     vt_tensor *y = vt_gelu(c, vt_linear(c, x, w, b));
 *     if (!y) fprintf(stderr, "%s\n", vt_ctx_error(c)->msg);
 * A context is used from one thread at a time (kernels parallelise inside with OpenMP). */
#ifndef VISFT_CONTEXT_H
#define VISFT_CONTEXT_H

#include <stdbool.h>
#include <stdint.h>

#include "visft/dtype.h"
#include "visft/error.h"
#include "visft/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vt_ctx_options {
    int threads;    /* 0: OpenMP's default */
    uint64_t seed;  /* RNG key for dropout and init */
} vt_ctx_options;

vt_ctx *vt_ctx_create(const vt_ctx_options *opts); /* opts may be NULL */
void vt_ctx_destroy(vt_ctx *c);

int vt_ctx_threads(const vt_ctx *c);
void vt_ctx_set_threads(vt_ctx *c, int threads);

/* ---- errors ---- */
bool vt_ctx_ok(const vt_ctx *c);
const vt_err *vt_ctx_error(const vt_ctx *c);
void vt_ctx_clear_error(vt_ctx *c);
/* Records an error unless one is already recorded; returns code. */
vt_status vt_ctx_fail(vt_ctx *c, vt_status code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- scopes ---- */
/* Tensors made while a scope is innermost are released when it is popped. A root scope always exists. */
void vt_scope_push(vt_ctx *c);
void vt_scope_pop(vt_ctx *c);
int vt_scope_depth(const vt_ctx *c);

/* ---- autograd mode ---- */
void vt_no_grad_begin(vt_ctx *c);
void vt_no_grad_end(vt_ctx *c);
bool vt_grad_enabled(const vt_ctx *c);
/* Training mode (dropout active) vs eval mode. */
void vt_set_training(vt_ctx *c, bool training);
bool vt_is_training(const vt_ctx *c);

/* ---- mixed precision ---- */
/* Autocast: VT_BF16 makes every GEMM (matmul, linear, conv, LoRA; forward and backward) round its two input
 * matrices to bf16 and accumulate in f32 into an f32 result — on the CPU exactly that (the specification), on
 * CUDA through bf16 tensor-core GEMMs. Parameters, gradients, optimizer state and every other op stay f32
 * ("f32 master weights"). VT_F32 (the default) turns it off; other dtypes are refused (returns false). */
bool vt_ctx_set_autocast(vt_ctx *c, vt_dtype dt);
vt_dtype vt_ctx_autocast(const vt_ctx *c);

/* ---- RNG (Philox counter-based: results do not depend on thread count) ---- */
void vt_ctx_seed(vt_ctx *c, uint64_t seed);
uint64_t vt_ctx_get_seed(const vt_ctx *c);
/* Reserves n consecutive counters and returns the first; ops derive per-element randomness from them. */
uint64_t vt_ctx_rng_reserve(vt_ctx *c, uint64_t n);
uint64_t vt_ctx_rng_offset(const vt_ctx *c);
void vt_ctx_set_rng_offset(vt_ctx *c, uint64_t offset);

/* ---- memory ---- */
typedef struct vt_mem_stats {
    uint64_t live_bytes;   /* held by live storages */
    uint64_t cached_bytes; /* freed storages kept for reuse */
    uint64_t peak_bytes;   /* max of live_bytes */
    uint64_t allocs, cache_hits;
} vt_mem_stats;
vt_mem_stats vt_ctx_mem_stats(const vt_ctx *c);
void vt_ctx_reset_peak(vt_ctx *c);
/* Returns cached buffers to the system. */
void vt_ctx_trim(vt_ctx *c);

/* ---- profiling (off by default): kernels report time and FLOPs per op family ---- */
typedef struct vt_profile {
    double seconds[16]; /* indexed by op family (see core/backend/backend.h) */
    double flops[16];
    uint64_t calls[16];
} vt_profile;
void vt_ctx_set_profiling(vt_ctx *c, bool on);
bool vt_ctx_profiling(const vt_ctx *c);
void vt_ctx_profile_add(vt_ctx *c, int family, double seconds, double flops);
vt_profile vt_ctx_profile(const vt_ctx *c);
void vt_ctx_profile_reset(vt_ctx *c);
/* Monotonic wall-clock seconds. */
double vt_now(void);

#ifdef __cplusplus
}
#endif
#endif
