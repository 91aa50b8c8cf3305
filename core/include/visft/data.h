/* Data samples: decoded images and their targets, as dataset plugins produce them and transforms and the
 * loader consume them.
 *
 * A dataset's sample() fills one vt_sample (plugin.h forward-declares it): the decoded RGB image, its
 * original size and id, and whatever targets the dataset has — instances (box, contiguous label, original
 * category id, iscrowd, area, optional mask), captions, a class label. Transforms (transform.h) then resize,
 * flip, crop and pad the image and move every target with it; collate (collate.h) turns a list of samples
 * into a vt_batch.
 *
 * Coordinates. Boxes are xyxy floats in pixels of the *current* image (after decoding and after every
 * transform applied so far), pixel edges at integers: a box covering pixel column 0 only is [0, 1).
 * The fill API (vt_sample_add_instance, vt_sample_set_polygons) takes coordinates in pixels of the
 * *original* image, as annotation files store them, and maps them onto the current image — which may be
 * smaller than the original when the decoder downscaled a JPEG in the DCT domain (see decode_hint). So load
 * the image first, then add targets.
 *
 * Masks are compact (no per-pixel storage until asked for), in one of two forms:
 *   - polygons: (x, y) vertices as doubles, kept in current-image pixels — geometric transforms move the
 *     vertices exactly; rasterised with pycocotools' algorithm (vt_rle_from_poly, coco_mask.h) at the
 *     current size, several polygons of one instance united;
 *   - RLE: COCO uncompressed run lengths (column-major, first run counts zeros) on the grid it was encoded
 *     at (rle_h x rle_w, normally the original image), plus an affine map x' = sx*x + tx, y' = sy*y + ty
 *     from that grid to the current image that transforms update (a flip makes sx negative); rasterised by
 *     sampling each current pixel's centre nearest-neighbour. (Compressed COCO RLE strings are the coco
 *     plugin's to decode into counts.)
 * vt_mask_rasterize produces the u8 H x W mask of one instance at the current image size, or at any size
 * through vt_mask_rasterize_scaled.
 *
 * Ownership. A vt_sample owns every buffer it points to. vt_sample_clear empties it but keeps the buffers
 * for reuse (a loader thread reuses one sample per slot); vt_sample_free releases them. Datasets should fill
 * samples only through the functions below, so the layout can grow without breaking them: the struct starts
 * with struct_size and fields are only ever appended. Everything here is plain C data, safe to fill on any
 * thread; two threads must not touch the same sample. */
#ifndef VISFT_DATA_H
#define VISFT_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "visft/batch.h"
#include "visft/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- images ------------------------------------------------------------------------------------------ */

/* 8-bit RGB, interleaved (HWC), rows `stride` bytes apart (stride >= 3 * width). Owns `data`. */
typedef struct vt_image {
    int32_t width, height;
    size_t stride;   /* bytes per row */
    uint8_t *data;   /* row y starts at data + y * stride; NULL when empty */
    size_t capacity; /* bytes allocated at data (kept across vt_image_alloc calls) */
} vt_image;

/* Images larger than this on either side are refused (a corrupt header must not allocate gigabytes). */
#define VT_IMAGE_MAX_SIDE 32768

/* Makes img width x height with a packed stride (3 * width), reusing its buffer when large enough.
 * Contents are undefined. 0 x 0 is allowed (an empty image). */
vt_status vt_image_alloc(vt_image *img, int32_t width, int32_t height, vt_err *err);
void vt_image_free(vt_image *img); /* releases the buffer and zeroes img */

/* Options for decoding. */
typedef struct vt_decode_opts {
    /* When > 0: the smallest short side the caller will resize to. A JPEG whose short side is at least
     * twice this is downscaled by libjpeg in the DCT domain (scale 1/2, 1/4 or 1/8, the smallest that keeps
     * the short side >= min_short) — much faster, and the later resize still produces the target size.
     * 0: decode at full size. */
    int32_t min_short;
} vt_decode_opts;

/* Decodes a JPEG or PNG (detected by signature) into img as RGB. Grayscale, grayscale+alpha, palette,
 * 16-bit, RGBA (alpha dropped), CMYK and YCCK JPEGs are converted. A missing, empty, truncated or corrupt
 * file is VT_EIO / VT_EFORMAT with a message naming the file. opts may be NULL. */
vt_status vt_image_load_file(const char *path, const vt_decode_opts *opts, vt_image *img, vt_err *err);
/* The same from memory; `name` labels error messages (NULL: "<memory>"). */
vt_status vt_image_load_mem(const void *data, size_t len, const char *name, const vt_decode_opts *opts,
                            vt_image *img, vt_err *err);
/* Reads only the header: the full-size dimensions. */
vt_status vt_image_probe_mem(const void *data, size_t len, const char *name, int32_t *width, int32_t *height,
                             vt_err *err);

/* Writes img as an 8-bit RGB PNG (tests, `visft data export`). */
vt_status vt_image_save_png(const vt_image *img, const char *path, vt_err *err);

/* ---- masks ------------------------------------------------------------------------------------------- */

typedef enum vt_mask_kind {
    VT_MASK_NONE = 0,     /* the instance has no mask */
    VT_MASK_POLYGONS = 1,
    VT_MASK_RLE = 2
} vt_mask_kind;

typedef struct vt_mask {
    vt_mask_kind kind;
    /* VT_MASK_POLYGONS: n_polys polygons; polygon i has poly_len[i] numbers (x0, y0, x1, y1, ...: an even
     * number), stored one after another in coords; current-image pixels. */
    int32_t n_polys;
    int32_t *poly_len;
    double *coords; /* double, as the annotation file: pycocotools rasterises doubles */
    size_t n_coords;
    /* VT_MASK_RLE: run lengths (uncompressed COCO RLE) on an rle_h x rle_w grid, and the affine map from
     * that grid to the current image. */
    int32_t rle_h, rle_w;
    uint32_t *counts;
    size_t n_counts;
    float sx, sy, tx, ty;
    /* allocation sizes (internal) */
    size_t cap_polys, cap_coords, cap_counts;
} vt_mask;

/* ---- samples ----------------------------------------------------------------------------------------- */

/* One annotated object. */
typedef struct vt_instance {
    float box[4];        /* x0, y0, x1, y1 in current-image pixels */
    int64_t label;       /* contiguous class index 0..K-1 */
    int64_t category_id; /* the dataset's own id (COCO category_id) */
    float area;          /* annotation area in current-image pixels (resizes scale it; crops make it the
                          * clipped box area, as DETR does) */
    uint8_t iscrowd;     /* 1: crowd region (ignored by most losses) */
    vt_mask mask;
} vt_instance;

typedef struct vt_caption {
    char *text;      /* UTF-8, owned */
    int32_t *tokens; /* token ids once a tokenizer ran; NULL before (owned) */
    int32_t n_tokens;
} vt_caption;

typedef struct vt_sample {
    size_t struct_size;      /* sizeof(vt_sample) as the host was compiled; set by vt_sample_init */
    vt_image image;          /* current image */
    int32_t orig_width;      /* size of the image as stored (before decode-time downscaling and transforms) */
    int32_t orig_height;
    int64_t image_id;        /* dataset's id (COCO image id; the index when the dataset has none) */
    int64_t label;           /* class label; -1 when absent */
    vt_instance *instances;
    size_t n_instances;
    vt_caption *captions;
    size_t n_captions;
    /* Set by the loader before sample(): decoding hints for vt_sample_load_image (read-only for datasets). */
    vt_decode_opts decode;
    /* Region of `image` holding real pixels ([0, valid_width) x [0, valid_height)); the rest was added by a
     * pad transform and is marked in the batch's padding mask. Equal to the image size unless padded. */
    int32_t valid_width, valid_height;
    /* File the image came from, for messages (owned; may be NULL). */
    char *source;
    /* allocation sizes (internal) */
    size_t cap_instances, cap_captions;
    /* Text drawn in the image, for OCR-style tasks (owned; NULL when the image has none). */
    char *text;
    /* Where the stored image's pixels are now: x_now = to_image[0]*x + to_image[1], y_now = to_image[2]*y +
     * to_image[3] (decode-time downscaling and every resize, flip and crop compose into it). Collate hands its
     * inverse to heads as "image_to_orig", so predictions can be given in the stored image's pixels. */
    double to_image[4];
} vt_sample;

/* Sets (copies) the sample's OCR text; NULL clears it. */
vt_status vt_sample_set_text(vt_sample *s, const char *text, vt_err *err);

/* Zeroes s and sets struct_size (label = -1). Call once before first use. */
void vt_sample_init(vt_sample *s);
/* Empties s (no image, no targets, label -1, ids 0) keeping its buffers and its `decode` hints. */
void vt_sample_clear(vt_sample *s);
/* Releases everything s owns and re-initialises it. */
void vt_sample_free(vt_sample *s);
/* Deep copy of src into dst (dst initialised; its old contents are replaced). */
vt_status vt_sample_copy(vt_sample *dst, const vt_sample *src, vt_err *err);

/* ---- filling a sample (datasets) --------------------------------------------------------------------- */

/* Decodes `path` into s->image using s->decode, sets orig_width/height to the stored size, valid size and
 * source. Errors name the file. */
vt_status vt_sample_load_image(vt_sample *s, const char *path, vt_err *err);
/* The same from memory; name labels messages (may be NULL). */
vt_status vt_sample_load_image_mem(vt_sample *s, const void *data, size_t len, const char *name, vt_err *err);
/* Makes s->image a width x height image the caller draws into (procedural datasets): orig size = this size.
 * Contents undefined. */
vt_status vt_sample_new_image(vt_sample *s, int32_t width, int32_t height, vt_err *err);

/* Appends an instance; box is xyxy in original-image pixels (mapped to the current image), area likewise.
 * A box with x1 < x0 or y1 < y0 or a non-finite coordinate is VT_EINVAL. *index (may be NULL) receives the
 * new instance's index. */
vt_status vt_sample_add_instance(vt_sample *s, const float box_xyxy[4], int64_t label, int64_t category_id,
                                 bool iscrowd, float area, size_t *index, vt_err *err);
/* Gives instance i a polygon mask: n_polys polygons, polygon k with lens[k] numbers (even, >= 2) taken in
 * order from coords, in original-image pixels (COCO "segmentation": [[x, y, ...], ...]). Replaces any mask. */
vt_status vt_sample_set_polygons(vt_sample *s, size_t i, int32_t n_polys, const int32_t *lens,
                                 const double *coords, vt_err *err);
/* Gives instance i an RLE mask on an h x w grid covering the original image (COCO "counts" decoded to run
 * lengths). The counts must sum to h * w (VT_EFORMAT otherwise). Replaces any mask. */
vt_status vt_sample_set_rle(vt_sample *s, size_t i, int32_t h, int32_t w, const uint32_t *counts,
                            size_t n_counts, vt_err *err);
/* Appends a caption (copied). */
vt_status vt_sample_add_caption(vt_sample *s, const char *text, vt_err *err);
/* Sets the source file label (copied). */
vt_status vt_sample_set_source(vt_sample *s, const char *path, vt_err *err);

/* ---- masks on demand ---------------------------------------------------------------------------------- */

/* Rasterises m into out (height x width bytes, row-major, 1 inside, 0 outside) for an image of the current
 * size width x height. VT_MASK_NONE gives all zeros. */
vt_status vt_mask_rasterize(const vt_mask *m, int32_t width, int32_t height, uint8_t *out, vt_err *err);
/* The same with the current image scaled by (fx, fy) first, for masks wanted at another resolution. */
vt_status vt_mask_rasterize_scaled(const vt_mask *m, float fx, float fy, int32_t width, int32_t height,
                                   uint8_t *out, vt_err *err);

/* COCO RLE math (encode, decode, polygon rasterisation bit-exact with pycocotools) is visft/coco_mask.h.
 * This wrapper over its vt_rle_from_poly returns bare counts (malloc'ed, free() them): one polygon on an
 * h x w grid, exactly pycocotools' rleFrPoly. */
vt_status vt_rle_from_polygon(const double *xy, size_t n_xy, int32_t h, int32_t w, uint32_t **counts,
                              size_t *n_counts, vt_err *err);

/* ---- transforms --------------------------------------------------------------------------------------
 * A pipeline is declared per dataset in YAML as a sequence of one-key maps, applied in order:
 *
 *   transforms:
 *     - {random_flip: {p: 0.5}}                       # horizontal; boxes and masks follow
 *     - {random_resize: {short: [480, 512, 544], max: 1333}}     # one short side drawn per sample
 *     - {resize: {short: 800, max: 1333, interp: bilinear}}   # interp: bilinear | bicubic (antialiased,
 *                                                    #   as PIL); also {size: [h, w]} for a fixed size
 *     - {random_crop: {min: 384, max: 600}}           # DETR RandomSizeCrop: boxes clipped, empty dropped
 *     - {center_crop: {size: 224}}                    # or size: [h, w]
 *     - {lsj: {size: 1024, min_scale: 0.1, max_scale: 2.0}}  # large-scale jitter + fixed crop + pad
 *     - {pad: {size: [h, w]}}                         # pad bottom/right (marked in the padding mask)
 *     - {normalize: {mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225]}}  # on pixel/255, at collate
 *     - {random_select: {p: 0.5, a: [...], b: [...]}}  # with probability p run list a, else list b
 * A bare name (`- random_flip`) takes every default. Put pad/lsj last: later ops see only the valid region.
 *
 * Randomness: each random transform draws from Philox keyed by (seed, epoch, sample index) and its position
 * in the pipeline, so a sample's augmentation never depends on which thread or batch processed it.
 * Errors in the declaration name file:line:col of the offending node. */

struct vt_cfg_node;
typedef struct vt_transforms vt_transforms;

/* Parses a sequence node (NULL or an empty sequence: the identity pipeline). */
vt_status vt_transforms_from_cfg(const struct vt_cfg_node *seq, vt_transforms **out, vt_err *err);
void vt_transforms_free(vt_transforms *t);
/* Applies every transform to s in place. Reentrant: one pipeline may serve many threads at once. */
vt_status vt_transforms_apply(const vt_transforms *t, vt_sample *s, uint64_t seed, uint64_t epoch,
                              uint64_t index, vt_err *err);
/* The smallest short side any resize of the pipeline can ask for (the decoder's min_short hint): 0 when
 * the pipeline's output size does not allow decode-time downscaling. */
int32_t vt_transforms_min_short(const vt_transforms *t);
/* Mean and std the pipeline's normalize declares (0 and 1 without one): collate maps a pixel p to
 * (p / 255 - mean) / std. */
void vt_transforms_normalization(const vt_transforms *t, float mean[3], float std[3]);

/* ---- collate -----------------------------------------------------------------------------------------
 * Samples -> one vt_batch: images [B, 3, H, W] f32 normalised, zero-padded bottom/right to the largest H
 * and W in the batch (rounded up to size_divisibility), pad_mask [B, H, W] u8 (1 = padding; NULL when no
 * pixel is padding), and named targets:
 *   "labels"     [B] i64        class labels (-1 where a sample has none)
 *   "boxes"      [N, 4] f32     every instance of the batch, normalised cxcywh (divided by that image's
 *                               valid width/height, as DETR)
 *   "boxes_xyxy" [N, 4] f32     the same boxes in pixels of the padded batch image
 *   "box_image"  [N] i64        which image each box belongs to
 *   "box_labels" [N] i64        contiguous labels
 *   "box_crowd"  [N] u8         iscrowd
 *   "image_to_orig" [B, 4] f32  per image (a, b, c, d): stored-image pixels x = a·x' + b, y = c·y' + d of a
 *                               batch-image point (x', y') — the inverse of vt_sample.to_image
 *   "orig_size"  [B, 2] f32     the stored image's width and height
 *   "masks"      [N, H, W] u8   instance masks rasterised at the padded batch size
 * Captions are not tensors: they travel beside the batch in vt_collated (text, and the image each belongs
 * to). Proposal for batch.h: append `const char *const *captions; const int64_t *caption_image;
 * size_t n_captions;` to vt_batch so heads read them through the batch. */

struct vt_ctx;

#define VT_COLLATE_LABELS 1u
#define VT_COLLATE_BOXES 2u
#define VT_COLLATE_MASKS 4u
#define VT_COLLATE_CAPTIONS 8u

typedef struct vt_collate_opts {
    size_t struct_size;
    unsigned targets;          /* VT_COLLATE_* bits; 0: labels when any sample has one, boxes when any has
                                * instances, masks when any instance has a mask, captions when any exist */
    int32_t size_divisibility; /* pad H and W up to a multiple of this (0 or 1: none) */
    float mean[3], std[3];     /* normalisation (take them from vt_transforms_normalization) */
} vt_collate_opts;

/* Default options: auto targets, no divisibility, mean 0, std 1. */
void vt_collate_opts_default(vt_collate_opts *o);

#define VT_COLLATE_MAX_TARGETS 16

/* A collated batch and what it owns. batch.targets points into items; tensors are caller-owned
 * (vt_tensor_create) and released by vt_collated_free. */
typedef struct vt_collated {
    size_t struct_size;
    vt_batch batch;
    vt_named_tensor items[VT_COLLATE_MAX_TARGETS];
    /* captions of the batch, in sample order; caption_image[i] is the batch index of caption i */
    char **captions;
    int64_t *caption_image;
    size_t n_captions;
} vt_collated;

/* Collates n >= 1 samples (each with a non-empty image) into *out (overwritten; free with
 * vt_collated_free). Tensors are CPU tensors created in ctx. */
vt_status vt_collate(struct vt_ctx *ctx, const vt_sample *const *samples, size_t n, const vt_collate_opts *opts,
                     vt_collated *out, vt_err *err);
void vt_collated_free(vt_collated *c);

#ifdef __cplusplus
}
#endif
#endif
