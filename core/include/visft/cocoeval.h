/* COCO detection / instance segmentation evaluation with the semantics of pycocotools' COCOeval
 * (evaluate + accumulate + summarize), so the 12 standard numbers equal pycocotools' to rounding:
 *
 *   - IoU thresholds .50:.05:.95 and recall points 0:.01:1 (numpy linspace values), maxDets 1/10/100,
 *     area ranges all/small/medium/large by ground-truth area, both ends inclusive;
 *   - per (image, category): detections stably sorted by descending score, top 100 kept; greedy matching
 *     per threshold, preferring non-ignored ground truth; crowd ground truth (IoU = intersection / detection
 *     area) can match many detections and is always ignored; unmatched detections outside the area range
 *     are ignored;
 *   - per category: detections of all images (sorted image ids) stably sorted by score, interpolated
 *     precision at the 101 recall points; categories without non-ignored ground truth are -1 and left out
 *     of the means.
 *
 * Results files are what pycocotools' loadRes reads: a list of {image_id, category_id, score, bbox and/or
 * segmentation}. As there, the first entry decides how areas are taken: if it has a non-empty bbox every
 * detection's area is its box's w*h, otherwise its mask's area. Detections on images not in the ground
 * truth are an error (pycocotools asserts); detections of unknown categories are not evaluated. */
#ifndef VISFT_COCOEVAL_H
#define VISFT_COCOEVAL_H

#include <stddef.h>
#include <stdint.h>

#include "visft/coco_mask.h"
#include "visft/error.h"

#ifdef __cplusplus
extern "C" {
#endif

struct vt_coco; /* ground truth: core/data/coco_json.h */

typedef enum vt_cocoeval_iou { VT_COCOEVAL_BBOX = 0, VT_COCOEVAL_SEGM = 1 } vt_cocoeval_iou;

typedef struct vt_coco_det {
    uint32_t image;   /* index into the ground truth's images */
    int32_t label;    /* index into its categories; -1 for a category it lacks (not evaluated) */
    double score;
    double bbox[4];   /* x, y, w, h (zeros when the entry has none) */
    double area;      /* as pycocotools' loadRes sets it (see above) */
    uint8_t has_bbox, has_segm;
    vt_rle segm;      /* the mask when has_segm */
} vt_coco_det;

typedef struct vt_coco_dets {
    vt_coco_det *v; /* in file order */
    size_t n;
} vt_coco_dets;

/* Parses a results file's text against the ground truth `gt`. `name` is used in messages, which name the
 * entry index and key ("res.json: entry 3: score is not a number"). Polygon segmentations are rasterised
 * on the image's size. */
vt_status vt_coco_dets_parse(const char *text, size_t len, const char *name, const struct vt_coco *gt,
                             vt_coco_dets *out, vt_err *err);
vt_status vt_coco_dets_load(const char *path, const struct vt_coco *gt, vt_coco_dets *out, vt_err *err);
void vt_coco_dets_free(vt_coco_dets *d);

#define VT_COCOEVAL_NSTATS 12

typedef struct vt_cocoeval_opts {
    vt_cocoeval_iou iou_type;
    int threads; /* <= 0: OpenMP's default */
} vt_cocoeval_opts;

/* The 12 numbers of COCOeval.summarize() in its order: AP, AP50, AP75, AP small/medium/large, AR@1, AR@10,
 * AR@100, AR small/medium/large (-1 where nothing could be measured). Results do not depend on threads. */
vt_status vt_cocoeval(const struct vt_coco *gt, const vt_coco_dets *dt, const vt_cocoeval_opts *opts,
                      double stats[VT_COCOEVAL_NSTATS], vt_err *err);

/* Line i (0..11) of pycocotools' summary, without newline, e.g.
 * " Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.372". */
void vt_cocoeval_summary_line(int i, double value, char *buf, size_t size);
/* Short names of the stats: "AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs",
 * "ARm", "ARl". */
const char *vt_cocoeval_stat_name(int i);

#ifdef __cplusplus
}
#endif
#endif
