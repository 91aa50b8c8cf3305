/* Writing the shapes dataset as COCO files (`visft data export shapes ... --to coco DIR`). */
#ifndef VISFT_DATA_SHAPES_EXPORT_H
#define VISFT_DATA_SHAPES_EXPORT_H

#include "data/shapes.h"

typedef struct vt_shapes_export_stats {
    size_t images, annotations, captions;
} vt_shapes_export_stats;

/* Writes samples start .. start+count-1 of `split` under dir (created if missing): images/<split>_<index>.png,
 * annotations/instances_<split>.json and annotations/captions_<split>.json. stats may be NULL. */
vt_status vt_shapes_export_coco(const vt_shapes_opts *o, const char *split, uint64_t start, size_t count,
                                const char *dir, vt_shapes_export_stats *stats, vt_err *err);

#endif
