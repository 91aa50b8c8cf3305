/* Kernel table of the reduce family: sums, max/argmax and the normalised exponentials (softmax and
 * log_softmax). Dim reductions see their input as a contiguous [outer, n, inner] block reduced over n. */
#ifndef VISFT_CORE_REDUCE_KERNELS_H
#define VISFT_CORE_REDUCE_KERNELS_H

#include <stdbool.h>

#include "backend/backend.h"

typedef struct vt_reduce_kernels {
    size_t size;
    /* x is contiguous [rows, cols]: out[r] = sum_j x[r, j] */
    void (*sum_rows)(vt_ctx *c, const float *x, float *out, int64_t rows, int64_t cols);
    /* x is contiguous [rows, cols]: out[j] = sum_r x[r, j] */
    void (*sum_cols)(vt_ctx *c, const float *x, float *out, int64_t rows, int64_t cols);
    /* val[o, i] = max_k x[o, k, i] and idx[o, i] = the first k attaining it; NaN counts as the largest value
     * (PyTorch). Either output may be NULL. n >= 1. */
    void (*max_dim)(vt_ctx *c, const float *x, float *val, int64_t *idx, int64_t outer, int64_t n, int64_t inner);
    /* gx [outer, n, inner] = gy[o, i] where k == idx[o, i], else 0. */
    void (*max_dim_backward)(vt_ctx *c, const int64_t *idx, const float *gy, float *gx, int64_t outer, int64_t n,
                             int64_t inner);
    /* gx[j] = gy[0] / count where x[j] equals the maximum m[0] (NaN matching NaN), else 0: PyTorch spreads
     * the gradient of a full max evenly over ties. */
    void (*max_all_backward)(vt_ctx *c, const float *x, const float *m, const float *gy, float *gx, int64_t n);
    /* y = softmax (or log_softmax when log) of x along n. */
    void (*softmax)(vt_ctx *c, const float *x, float *y, int64_t outer, int64_t n, int64_t inner, bool log);
    /* From the forward output y: softmax gx = y·(gy − Σ gy·y); log_softmax gx = gy − exp(y)·Σ gy. */
    void (*softmax_backward)(vt_ctx *c, const float *y, const float *gy, float *gx, int64_t outer, int64_t n,
                             int64_t inner, bool log);
} vt_reduce_kernels;

#endif
