/* image_text internals: the records both readers (Karpathy JSON, CSV) fill, and the readers. */
#ifndef VISFT_PLUGIN_IMAGE_TEXT_H
#define VISFT_PLUGIN_IMAGE_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <visft/error.h>

typedef struct it_image {
    char *path;        /* full path of the image file */
    int64_t id;        /* the file's own id (Karpathy cocoid/imgid) or the image's position */
    size_t first, n;   /* its captions: captions[first .. first + n) */
} it_image;

typedef struct it_records {
    it_image *images;
    size_t n_images, cap_images;
    char **captions;
    size_t n_captions, cap_captions;
} it_records;

/* What the readers need to know. */
typedef struct it_read_opts {
    const char *name;          /* the annotation file, for messages */
    const char *images_root;   /* joined in front of each file path ("" or NULL: none) */
    const char *split;         /* keep only this split (NULL or "all": everything) */
    bool train_includes_restval;
    char separator;            /* CSV */
    const char *image_column, *caption_column, *split_column; /* CSV header names */
} it_read_opts;

/* Appends an image with its path built from root + dir + file (dir may be NULL). */
vt_status it_add_image(it_records *r, const it_read_opts *o, const char *dir, const char *file, int64_t id,
                       vt_err *err);
/* Appends a caption to the last image added. */
vt_status it_add_caption(it_records *r, const char *text, size_t len, vt_err *err);
void it_records_free(it_records *r);
/* True when a record whose split is `split` (may be NULL: none given) belongs to the requested split. */
bool it_split_matches(const it_read_opts *o, const char *split);

/* Readers over a whole file's text. Errors name the file and line (CSV) or byte offset/index (JSON). */
vt_status it_read_csv(const char *text, size_t len, const it_read_opts *o, it_records *r, vt_err *err);
vt_status it_read_karpathy(const char *text, size_t len, const it_read_opts *o, it_records *r, vt_err *err);

#endif
