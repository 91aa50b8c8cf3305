/* COCO mask math: run-length encoded binary masks with the exact semantics of pycocotools' maskApi.c, so
 * masks, areas, boxes and IoUs computed here match what the COCO evaluation computes bit for bit.
 *
 * An RLE describes an h×w mask in column-major order (down the first column, then the next) as alternating
 * run lengths starting with a run of zeros (which may be 0): counts [2 3 1] is 0 0 1 1 1 0. COCO files
 * carry counts either as a list (uncompressed) or as a string (compressed: LEB128-like, 6 bits per char,
 * chars 48..111, counts after the third delta-coded against the count two before).
 *
 * Masks handed to and from this module as pixel arrays are row-major h×w bytes (mask[y * w + x]), the
 * natural C layout; nonzero means set. Runs are in COCO's column-major order regardless.
 *
 * Everything that reads outside input validates it: counts must sum to h×w, sizes must be non-negative and
 * h×w must fit COCO's 32-bit counts, polygons need an even number of finite coordinates. Failures return
 * a status and a one-line message; nothing aborts. */
#ifndef VISFT_COCO_MASK_H
#define VISFT_COCO_MASK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "visft/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vt_rle {
    uint32_t h, w;
    size_t m;          /* number of counts */
    uint32_t *counts;  /* owned (malloc); NULL when m == 0 */
} vt_rle;

/* Largest |coordinate| a polygon may have: beyond it pycocotools' integer conversion is undefined. */
#define VT_RLE_MAX_COORD 1.0e7

/* Frees the counts and zeroes the struct (safe on a zeroed struct). */
void vt_rle_free(vt_rle *r);
/* Deep copy. */
vt_status vt_rle_copy(const vt_rle *src, vt_rle *dst, vt_err *err);
/* Checks h, w (non-negative, h×w < 2^32) and returns them as uint32. `what` names the input in errors. */
vt_status vt_rle_check_size(int64_t h, int64_t w, const char *what, vt_err *err);

/* Uncompressed counts (a COCO "counts": [...] list). Each count must be in [0, 2^32) and they must sum to
 * h×w. On failure *out is left zeroed. */
vt_status vt_rle_from_counts(const int64_t *counts, size_t m, int64_t h, int64_t w, vt_rle *out, vt_err *err);
/* Compressed counts string of `len` bytes (need not be NUL-terminated). Rejects characters outside 48..111,
 * a value cut off at the end, counts out of uint32 range and counts not summing to h×w; errors give the
 * byte offset in the string. */
vt_status vt_rle_from_string(const char *s, size_t len, int64_t h, int64_t w, vt_rle *out, vt_err *err);
/* The compressed string (malloc'd, NUL-terminated; *len without the NUL if len != NULL), NULL on OOM. */
char *vt_rle_to_string(const vt_rle *r, size_t *len);

/* Encodes a row-major h×w mask. */
vt_status vt_rle_encode(const uint8_t *mask, int64_t h, int64_t w, vt_rle *out, vt_err *err);
/* Writes the row-major h×w mask (0/1 bytes) into mask[h*w]. */
void vt_rle_to_mask(const vt_rle *r, uint8_t *mask);

/* Rasterises one polygon given as n_coords values x0 y0 x1 y1 ... (pycocotools' rleFrPoly: the boundary
 * is walked at 5× resolution, so results match COCO's masks exactly, including partial pixels). Zero
 * coordinates give an empty mask; an odd count, a non-finite value or |value| > VT_RLE_MAX_COORD is an
 * error. Memory is proportional to the number of boundary crossings, not to the polygon's perimeter. */
vt_status vt_rle_from_poly(const double *xy, size_t n_coords, int64_t h, int64_t w, vt_rle *out, vt_err *err);
/* The mask of box [x, y, width, height] (pycocotools' rleFrBbox: a 4-point polygon). */
vt_status vt_rle_from_bbox(const double bb[4], int64_t h, int64_t w, vt_rle *out, vt_err *err);

/* Union (intersect = false) or intersection of n masks of one size; n == 0 gives an empty 0×0 RLE and
 * n == 1 a copy. Masks of different sizes are an error (pycocotools silently returns an empty RLE). */
vt_status vt_rle_merge(const vt_rle *rles, size_t n, bool intersect, vt_rle *out, vt_err *err);

/* Set pixels (sum of the odd counts), with pycocotools' 32-bit arithmetic. */
uint32_t vt_rle_area(const vt_rle *r);
/* Tight box [x, y, width, height] around the set pixels; all zeros for an empty mask. */
void vt_rle_to_bbox(const vt_rle *r, double bb[4]);

/* IoU of every detection with every ground truth: out[d * n_gt + g] (the layout of pycocotools'
 * mask.iou(dt, gt, iscrowd), an m×n array). iscrowd (may be NULL) marks crowd ground truths, for which the
 * union is the detection's area. A pair whose sizes differ gets -1, as in pycocotools. */
void vt_rle_iou(const vt_rle *dt, size_t n_dt, const vt_rle *gt, size_t n_gt, const uint8_t *iscrowd,
                double *out);
/* The same for boxes [x, y, w, h] (4 doubles each). */
void vt_bbox_iou(const double *dt, size_t n_dt, const double *gt, size_t n_gt, const uint8_t *iscrowd,
                 double *out);

#ifdef __cplusplus
}
#endif
#endif
