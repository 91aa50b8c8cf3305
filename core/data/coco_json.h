/* COCO 2017 annotation files (instances_*.json, captions_*.json) loaded into compact arrays.
 *
 * The file is read in batches of array elements, each parsed with visft/json.h and converted at once, so
 * memory stays near the size of the result (~0.5x the file for instances) instead of the DOM of the whole
 * file (~2.5x). Annotations end up grouped by image (file order within an image, as pycocotools'
 * imgToAnns); categories are sorted by id and an annotation's label is its category's index there.
 *
 * Polygon coordinates are stored as int32 hundredths when that is exact for every coordinate of the
 * annotation (COCO writes two decimals), else as doubles; vt_coco_ann_coords gives back the exact doubles
 * the file holds, so rasterising them matches pycocotools bit for bit. RLE segmentations, uncompressed or
 * compressed, are stored as uncompressed counts, validated on load.
 *
 * Invalid annotations (image_id not in images, unknown category_id, negative box size, odd polygon,
 * RLE counts not summing to h*w, missing or mistyped fields) and invalid images are either skipped and
 * counted (VT_COCO_SKIP, the default; vt_coco_summary lists them with the first example of each) or the
 * first one is an error (VT_COCO_FAIL). Messages name the file, line:column and byte offset. */
#ifndef VISFT_DATA_COCO_JSON_H
#define VISFT_DATA_COCO_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "visft/coco_mask.h"
#include "visft/error.h"

typedef enum vt_coco_policy { VT_COCO_SKIP = 0, VT_COCO_FAIL = 1 } vt_coco_policy;

typedef struct vt_coco_opts {
    vt_coco_policy on_bad;
} vt_coco_opts;

typedef enum vt_coco_seg_kind {
    VT_COCO_SEG_NONE = 0,
    VT_COCO_SEG_POLYGONS = 1,
    VT_COCO_SEG_RLE = 2 /* from uncompressed or compressed counts */
} vt_coco_seg_kind;

typedef struct vt_coco_image {
    int64_t id;
    int32_t width, height;
    uint32_t file_name;         /* offset into strings */
    uint32_t first_ann, n_anns; /* range in anns */
    uint32_t first_cap, n_caps; /* range in caps */
} vt_coco_image;

typedef struct vt_coco_ann {
    int64_t id;
    double bbox[4]; /* x, y, width, height as in the file */
    double area;
    uint32_t image;  /* index into images */
    int32_t label;   /* index into cats */
    uint8_t iscrowd;
    uint8_t seg_kind;  /* vt_coco_seg_kind */
    uint8_t seg_fixed; /* polygons stored as int32 hundredths */
    uint32_t n_polys;  /* polygons: count, lengths at poly_lens[lens_off] */
    int32_t rle_h, rle_w;
    uint64_t lens_off;
    uint64_t data_off; /* polygons: into fixed or coords; RLE: into counts */
    uint64_t n_data;   /* coordinates or counts */
} vt_coco_ann;

typedef struct vt_coco_category {
    int64_t id;
    uint32_t name, supercategory; /* offsets into strings */
} vt_coco_category;

typedef struct vt_coco_caption {
    int64_t id;
    uint32_t image;
    uint32_t text; /* offset into strings */
} vt_coco_caption;

/* Why things were skipped. */
typedef enum vt_coco_bad {
    VT_COCO_BAD_IMAGE = 0,    /* image entry missing id/size or with a duplicate id */
    VT_COCO_BAD_NO_IMAGE,     /* annotation whose image_id is not in images */
    VT_COCO_BAD_CATEGORY,     /* unknown category_id */
    VT_COCO_BAD_BOX,          /* bbox missing, not 4 numbers, or negative width/height */
    VT_COCO_BAD_SEGMENTATION, /* odd polygon, RLE counts not summing to h*w, bad types */
    VT_COCO_BAD_FIELD,        /* other missing or mistyped fields */
    VT_COCO_BAD_COUNT
} vt_coco_bad;

typedef struct vt_coco {
    vt_coco_image *images;
    size_t n_images;
    vt_coco_ann *anns; /* grouped by image */
    size_t n_anns;
    vt_coco_category *cats; /* sorted by id; label = index */
    size_t n_cats;
    vt_coco_caption *caps; /* grouped by image */
    size_t n_caps;
    char *strings;
    size_t strings_len;
    int32_t *poly_lens;
    int32_t *fixed;    /* polygon coordinates x100 */
    double *coords;    /* polygon coordinates that are not exact hundredths */
    uint32_t *counts;  /* RLE counts */
    size_t n_bad[VT_COCO_BAD_COUNT];
    char first_bad[VT_COCO_BAD_COUNT][160]; /* first message of each kind */
    char *path;
    void *index; /* image id -> index */
} vt_coco;

vt_status vt_coco_load(const char *path, const vt_coco_opts *opts, vt_coco **out, vt_err *err);
void vt_coco_free(vt_coco *c);

static inline const char *vt_coco_str(const vt_coco *c, uint32_t off) { return c->strings + off; }
/* Index of the image with this id, or -1. */
int64_t vt_coco_find_image(const vt_coco *c, int64_t id);
/* Writes the annotation's polygon coordinates as doubles (a->n_data values) into out. */
void vt_coco_ann_coords(const vt_coco *c, const vt_coco_ann *a, double *out);
/* The annotation's mask as pycocotools' COCO.annToRLE makes it on the image's h x w grid: polygons
 * rasterised and united, RLE copied. No segmentation is an error. */
vt_status vt_coco_ann_rle(const vt_coco *c, const vt_coco_ann *a, vt_rle *out, vt_err *err);
/* One line per kind of skipped entry ("skipped 3 annotations: image_id not in images (first: ...)");
 * empty when nothing was skipped. Returns the length written (snprintf-style). */
size_t vt_coco_summary(const vt_coco *c, char *buf, size_t size);

#endif
