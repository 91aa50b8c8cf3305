/* Shared between coco_json.c (scanning, batching) and coco_json_items.c (turning parsed elements into
 * vt_coco arrays). */
#ifndef VISFT_DATA_COCO_JSON_INTERNAL_H
#define VISFT_DATA_COCO_JSON_INTERNAL_H

#include <stdbool.h>

#include "coco_json.h"
#include "visft/json.h"

typedef struct coco_builder {
    vt_coco *c;
    const char *name, *text;
    size_t len, dropped;
    bool mapped;
    int fd; /* the open file (text is its mapping or a copy) */
    vt_coco_policy policy;
    vt_err *err;
    /* growth capacities of c's arrays, and per-annotation raw ids resolved at the end */
    size_t cap_images, cap_anns, cap_cats, cap_caps, cap_strings, cap_lens, n_lens, cap_fixed, n_fixed,
        cap_coords, n_coords, cap_counts, n_counts;
    int64_t *ann_image, *ann_cat; /* raw ids per annotation */
    size_t *ann_off;              /* byte offset per annotation */
    int64_t *cap_image;           /* raw image id per caption */
    size_t *cap_off;
    size_t *img_off;
} coco_builder;

vt_status coco_builder_init(coco_builder *b);
void coco_builder_free(coco_builder *b);
vt_status coco_add_image(coco_builder *b, const vt_json *v, size_t off);
vt_status coco_add_annotation(coco_builder *b, const vt_json *v, size_t off);
vt_status coco_add_category(coco_builder *b, const vt_json *v, size_t off);
/* Resolves ids, drops invalid entries, groups annotations and captions by image. */
vt_status coco_finish(coco_builder *b);

/* Counts a skipped entry (VT_COCO_SKIP; returns VT_OK) or fails with the message (VT_COCO_FAIL). */
vt_status coco_bad(coco_builder *b, vt_coco_bad kind, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void coco_line_col(const coco_builder *b, size_t off, size_t *line, size_t *col);

/* Scanner pieces of coco_json.c: whitespace, one value's extent (NULL: broken or cut), and the error for
 * broken JSON at p (the whole file reparsed by vt_json_parse for its message). */
const char *coco_skip_ws(const char *p, const char *end);
const char *coco_skip_value(const char *p, const char *end);
vt_status coco_syntax_error(coco_builder *b, const char *p, vt_err *err);

/* The annotations array read without a DOM (coco_json_fast.c); p just after '[', *pp receives the position
 * after ']'. Same results as array_batches with coco_add_annotation under VT_COCO_SKIP. */
vt_status coco_fast_annotations(coco_builder *b, const char *p, const char **pp);
/* The same for "images" (coco_add_image), on one thread. */
vt_status coco_fast_images(coco_builder *b, const char *p, const char **pp);

#endif
