/* Kernel table of the resample family: interpolate and grid_sample over contiguous NCHW f32 images. */
#ifndef VISFT_CORE_RESAMPLE_KERNELS_H
#define VISFT_CORE_RESAMPLE_KERNELS_H

#include <stdbool.h>

#include "backend/backend.h"
#include "visft/ops_resample.h"

typedef struct vt_interp_geom {
    int64_t planes, H, W, Ho, Wo;
    double scale_h, scale_w; /* the user's scale factors, 0 when output sizes were given */
    vt_interp_mode mode;
    bool align_corners;
} vt_interp_geom;

typedef struct vt_resample_kernels {
    size_t size;
    /* y [planes, Ho, Wo] from x [planes, H, W]. */
    void (*interpolate)(vt_ctx *c, const vt_interp_geom *g, const float *x, float *y);
    /* gx [planes, H, W] (overwritten) from gy [planes, Ho, Wo]. */
    void (*interpolate_backward)(vt_ctx *c, const vt_interp_geom *g, const float *gy, float *gx);
    /* y [N, C, Ho, Wo] = x [N, C, H, W] sampled at grid [N, Ho, Wo, 2]. */
    void (*grid_sample)(vt_ctx *c, bool align_corners, int64_t N, int64_t C, int64_t H, int64_t W, int64_t Ho,
                        int64_t Wo, const float *x, const float *grid, float *y);
    /* gx (overwritten) and ggrid (overwritten); either may be NULL when not wanted. */
    void (*grid_sample_backward)(vt_ctx *c, bool align_corners, int64_t N, int64_t C, int64_t H, int64_t W,
                                 int64_t Ho, int64_t Wo, const float *x, const float *grid, const float *gy, float *gx,
                                 float *ggrid);
} vt_resample_kernels;

/* The CPU grid_sample kernels (grid_sample_cpu.c), gathered into vt_cpu_resample_kernels by resample_cpu.c. */
void vt_cpu_grid_sample(vt_ctx *c, bool align_corners, int64_t N, int64_t C, int64_t H, int64_t W, int64_t Ho,
                        int64_t Wo, const float *x, const float *grid, float *y);
void vt_cpu_grid_sample_backward(vt_ctx *c, bool align_corners, int64_t N, int64_t C, int64_t H, int64_t W,
                                 int64_t Ho, int64_t Wo, const float *x, const float *grid, const float *gy, float *gx,
                                 float *ggrid);

#endif
