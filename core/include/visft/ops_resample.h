/* Resampling of NCHW f32 images with PyTorch's exact semantics: interpolate (torch.nn.functional.interpolate,
 * without antialias) and grid_sample (bilinear, zero padding). Both are differentiable; grid_sample also with
 * respect to the grid. */
#ifndef VISFT_OPS_RESAMPLE_H
#define VISFT_OPS_RESAMPLE_H

#include <stdbool.h>

#include "visft/context.h"
#include "visft/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vt_interp_mode {
    VT_INTERP_NEAREST,  /* PyTorch 'nearest': src = min(floor(dst·scale), in-1) (not 'nearest-exact') */
    VT_INTERP_BILINEAR,
    VT_INTERP_BICUBIC,  /* Keys cubic with A = -0.75, taps clamped to the border; may overshoot the input range */
} vt_interp_mode;

/* x [N, C, H, W] -> [N, C, out_h, out_w]. align_corners must be false for nearest (as in PyTorch). */
vt_tensor *vt_interpolate(vt_ctx *c, vt_tensor *x, int64_t out_h, int64_t out_w, vt_interp_mode mode,
                          bool align_corners);
/* By scale factor: out = floor(in·scale), and the source coordinates use 1/scale itself (PyTorch's
 * scale_factor with recompute_scale_factor unset), which differs from the size form when in·scale is not an
 * integer. */
vt_tensor *vt_interpolate_scale(vt_ctx *c, vt_tensor *x, double scale_h, double scale_w, vt_interp_mode mode,
                                bool align_corners);

/* x [N, C, H, W] sampled at grid [N, Ho, Wo, 2] (x then y, -1..1 spanning the input: pixel centres of the
 * corner pixels when align_corners, their outer edges otherwise) -> [N, C, Ho, Wo]; bilinear, zero outside. */
vt_tensor *vt_grid_sample(vt_ctx *c, vt_tensor *x, vt_tensor *grid, bool align_corners);

#ifdef __cplusplus
}
#endif
#endif
