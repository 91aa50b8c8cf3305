/* Internals shared by core/data/transform*.c (not public). */
#ifndef VT_DATA_TRANSFORM_INTERNAL_H
#define VT_DATA_TRANSFORM_INTERNAL_H

#include "visft/data.h"

typedef enum vt_image_filter { VT_FILTER_BILINEAR = 0, VT_FILTER_BICUBIC = 1 } vt_image_filter;

/* Resizes the top-left src_w x src_h region of src into dst (out_w x out_h), exactly as Pillow's
 * Image.resize (antialiased separable convolution, 22-bit fixed point). dst must not alias src. */
vt_status vt_image_resample(const vt_image *src, int32_t src_w, int32_t src_h, vt_image *dst, int32_t out_w,
                            int32_t out_h, vt_image_filter interp, vt_err *err);
/* The window [wx, wx + ww) x [wy, wy + wh) of that resize (mirrored left-right when flip), computing only the
 * window's pixels: identical to resizing, flipping and cropping in full. */
vt_status vt_image_resample_window(const vt_image *src, int32_t src_w, int32_t src_h, vt_image *dst, int32_t out_w,
                                   int32_t out_h, int32_t wx, int32_t wy, int32_t ww, int32_t wh, bool flip,
                                   vt_image_filter interp, vt_err *err);

/* Geometry of a sample (image, boxes, masks) — transform_geom.c. */
/* Resizes the valid region to out_w x out_h and scales every target. */
vt_status vt_sample_resize(vt_sample *s, int32_t out_w, int32_t out_h, vt_image_filter interp, vt_err *err);
/* Mirrors the valid region left-right with its targets. */
void vt_sample_hflip(vt_sample *s);
/* Crops the region [x0, x0 + w) x [y0, y0 + h) of the valid region (parts outside read as 0), clips boxes
 * and drops instances left empty. The result is w x h, all valid. */
vt_status vt_sample_crop(vt_sample *s, int32_t x0, int32_t y0, int32_t w, int32_t h, vt_err *err);
/* Pads bottom/right with zeros to w x h (>= the current size); the valid region stays. */
/* The target half of resize / hflip / crop (boxes, masks, areas, valid size), for callers that move the
 * pixels themselves (the transform runner defers them into one windowed resample). */
void vt_sample_resize_targets(vt_sample *s, int32_t out_w, int32_t out_h);
void vt_sample_hflip_targets(vt_sample *s);
void vt_sample_crop_targets(vt_sample *s, int32_t x0, int32_t y0, int32_t w, int32_t h);
vt_status vt_sample_pad(vt_sample *s, int32_t w, int32_t h, vt_err *err);


/* ---- pipeline (transform_parse.c builds it, transform.c runs it) ---- */

typedef enum vt_op_kind {
    VT_OP_RESIZE = 0,    /* short side (+ max) or a fixed size */
    VT_OP_RANDOM_RESIZE, /* short side drawn from a list (+ max) */
    VT_OP_FLIP,          /* horizontal, with probability p */
    VT_OP_RANDOM_CROP,   /* DETR RandomSizeCrop(min, max) */
    VT_OP_CENTER_CROP,
    VT_OP_LSJ,           /* large-scale jitter: resize by a random scale, fixed-size crop, pad */
    VT_OP_PAD,           /* pad bottom/right to a fixed size */
    VT_OP_NORMALIZE,     /* recorded for collate; no-op on the sample */
    VT_OP_SELECT         /* with probability p run branch a, else branch b */
} vt_op_kind;

typedef struct vt_op vt_op;
typedef struct vt_op_list {
    vt_op *ops;
    size_t n;
} vt_op_list;

struct vt_op {
    vt_op_kind kind;
    uint32_t id;           /* position in the whole pipeline: the Philox counter word of its draws */
    int32_t shorts[32];    /* RESIZE: shorts[0]; RANDOM_RESIZE: the choices */
    int n_shorts;
    int32_t max_size;      /* 0: none */
    int32_t size_h, size_w;/* fixed size (RESIZE with size, CENTER_CROP, LSJ, PAD); 0 when unused */
    int32_t crop_min, crop_max;
    double p, min_scale, max_scale;
    vt_image_filter interp;
    vt_op_list a, b;       /* SELECT branches */
};

struct vt_transforms {
    vt_op_list ops;
    float mean[3], std[3];
    bool has_normalize;
};

#endif
