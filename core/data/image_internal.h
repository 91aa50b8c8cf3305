/* Decoder entry points shared by core/data/image*.c (not public). */
#ifndef VT_DATA_IMAGE_INTERNAL_H
#define VT_DATA_IMAGE_INTERNAL_H

#include "visft/data.h"

/* Total pixel cap (on top of VT_IMAGE_MAX_SIDE): a lying header must not allocate more than ~400 MB. */
#define VT_IMAGE_MAX_PIXELS ((int64_t)1 << 27)

vt_status vt_jpeg_decode(const uint8_t *data, size_t len, const char *name, const vt_decode_opts *opts,
                         vt_image *img, vt_err *err);
vt_status vt_jpeg_probe(const uint8_t *data, size_t len, const char *name, int32_t *w, int32_t *h, vt_err *err);
vt_status vt_png_decode(const uint8_t *data, size_t len, const char *name, vt_image *img, vt_err *err);
vt_status vt_png_probe(const uint8_t *data, size_t len, const char *name, int32_t *w, int32_t *h, vt_err *err);

/* Reads a whole file; *out is malloc'ed (free() it). Errors name the file. */
vt_status vt_image_read_file(const char *path, uint8_t **out, size_t *len, vt_err *err);

/* Checks decoded dimensions against the caps. */
vt_status vt_image_check_size(int64_t w, int64_t h, const char *name, vt_err *err);

#endif
