/* Kernel table of the loss family.
 *
 * Kernels produce per-sample losses; the op layer reduces them (sum / weighted mean) with the reduce
 * family. Cross-entropy kernels see logits as contiguous rows [S, C], one row per sample (the op layer moves
 * the class dim last for [N, C, d1, ...] inputs). Backward kernels take the upstream gradient of each
 * sample's loss as g[s·gs]: gs = 1 for reduction 'none', gs = 0 for one shared (already scaled) value. */
#ifndef VISFT_CORE_LOSS_KERNELS_H
#define VISFT_CORE_LOSS_KERNELS_H

#include "backend/backend.h"

typedef struct vt_loss_kernels {
    size_t size;
    /* Class-index targets t [S]. Per sample: lse[s] = log Σ exp(x[s]), and unless t[s] == ignore_index
     *     loss[s] = (1−ε)·w[t]·(lse − x[t]) + ε/C·Σ_c w[c]·(lse − x[c]),   wt[s] = w[t]
     * (w = 1 when NULL); ignored samples get loss = wt = 0. Returns the first sample whose target is neither
     * in [0, C) nor ignore_index (nothing is guaranteed written then), or -1. */
    int64_t (*cross_entropy)(vt_ctx *c, const float *x, const int64_t *t, const float *w, int64_t S, int64_t C,
                             int64_t ignore_index, float smoothing, float *lse, float *loss, float *wt);
    /* dx [S, C] of Σ_s g[s·gs]·loss[s]; rows of ignored samples are 0. */
    void (*cross_entropy_backward)(vt_ctx *c, const float *x, const int64_t *t, const float *w, const float *lse,
                                   const float *g, int64_t gs, int64_t S, int64_t C, int64_t ignore_index,
                                   float smoothing, float *dx);
    /* Class-probability targets p [S, C]: loss[s] = Σ_c w[c]·q[c]·(lse − x[c]) with q = (1−ε)·p + ε/C. */
    void (*cross_entropy_soft)(vt_ctx *c, const float *x, const float *p, const float *w, int64_t S, int64_t C,
                               float smoothing, float *lse, float *loss);
    void (*cross_entropy_soft_backward)(vt_ctx *c, const float *x, const float *p, const float *w, const float *lse,
                                        const float *g, int64_t gs, int64_t S, int64_t C, float smoothing, float *dx);
    /* Elementwise over n: loss = w·((1−t)·x + (1 + (pw−1)·t)·softplus(−x)), in the overflow-free form
     * softplus(−x) = log1p(exp(−|x|)) + max(−x, 0). w and pw are full-size or NULL (1). */
    void (*bce_with_logits)(vt_ctx *c, const float *x, const float *t, const float *w, const float *pw, float *loss,
                            int64_t n);
    /* dx = g·w·((1 + (pw−1)·t)·σ(x) − pw·t),  dt = g·w·((pw−1)·softplus(−x) − x); dx or dt may be NULL. */
    void (*bce_with_logits_backward)(vt_ctx *c, const float *x, const float *t, const float *w, const float *pw,
                                     const float *g, int64_t gs, float *dx, float *dt, int64_t n);
} vt_loss_kernels;

#endif
