/* Kernel table of the norm family (layer_norm, group_norm).
 *
 * Forward kernels write the per-row (per-group) mean and 1/sqrt(var + eps) that backward reuses. Backward
 * kernels compute dx, dweight and dbias in one pass; the weight/bias sums go through partials in a caller-
 * provided scratch buffer with a layout fixed by the shapes alone (never by the thread count), summed in a
 * fixed order, so gradients are bitwise reproducible across thread counts. */
#ifndef VISFT_CORE_NORM_KERNELS_H
#define VISFT_CORE_NORM_KERNELS_H

#include "backend/backend.h"

/* layer_norm backward splits rows into chunks of this many rows, one dweight/dbias partial per chunk: a
 * function of the row count only (at most 128 chunks, at least 16 rows each). */
static inline int64_t vt_layer_norm_chunk_rows(int64_t rows) {
    int64_t r = (rows + 127) / 128;
    return r < 16 ? 16 : r;
}
static inline int64_t vt_layer_norm_chunks(int64_t rows) {
    int64_t r = vt_layer_norm_chunk_rows(rows);
    return (rows + r - 1) / r;
}

typedef struct vt_norm_kernels {
    size_t size;
    /* x contiguous [rows, d]: y = (x − mean)·rstd·w + b over each row; w, b may be NULL. */
    void (*layer_norm)(vt_ctx *c, const float *x, const float *w, const float *b, float *y, float *mean, float *rstd,
                       int64_t rows, int64_t d, float eps);
    /* Any of dx, dw, db may be NULL (not wanted). scratch holds 2·vt_layer_norm_chunks(rows)·d floats when dw
     * or db is wanted. */
    void (*layer_norm_backward)(vt_ctx *c, const float *x, const float *w, const float *mean, const float *rstd,
                                const float *gy, float *dx, float *dw, float *db, float *scratch, int64_t rows,
                                int64_t d);
    /* x contiguous [n, C, hw], statistics over each of `groups` channel groups: mean, rstd are [n, groups]. */
    void (*group_norm)(vt_ctx *c, const float *x, const float *w, const float *b, float *y, float *mean, float *rstd,
                       int64_t n, int64_t C, int64_t hw, int64_t groups, float eps);
    /* scratch holds 2·n·C floats (per-sample, per-channel partials). */
    void (*group_norm_backward)(vt_ctx *c, const float *x, const float *w, const float *mean, const float *rstd,
                                const float *gy, float *dx, float *dw, float *db, float *scratch, int64_t n,
                                int64_t C, int64_t hw, int64_t groups);
} vt_norm_kernels;

#endif
