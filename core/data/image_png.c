/* PNG decoding through libpng's classic API (the simplified API applies gamma conversion to 16-bit and
 * gAMA files; PIL does not, and neither do we). Transforms: palette and low-bit gray expanded, 16-bit
 * reduced to its high byte, gray replicated to RGB, alpha dropped — PIL's convert("RGB"). libpng reports
 * errors (bad CRC in a critical chunk, truncation, bad zlib data) by longjmp to png_jmpbuf; we capture its
 * message and name the file. */
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

#include "data/image_internal.h"

typedef struct png_src {
    const uint8_t *data;
    size_t len, pos;
    char msg[256];
} png_src;

static void on_png_error(png_structp png, png_const_charp msg) {
    png_src *s = png_get_error_ptr(png);
    snprintf(s->msg, sizeof s->msg, "%s", msg ? msg : "unknown error");
    png_longjmp(png, 1);
}

static void on_png_warning(png_structp png, png_const_charp msg) { (void)png, (void)msg; }

static void on_png_read(png_structp png, png_bytep out, size_t n) {
    png_src *s = png_get_io_ptr(png);
    if (n > s->len - s->pos) png_error(png, "unexpected end of data (truncated file)");
    memcpy(out, s->data + s->pos, n);
    s->pos += n;
}

/* Everything read after longjmp lives here (not in registers). */
typedef struct png_job {
    png_src src;
    png_structp png;
    png_infop info;
    png_bytep *rows;
    uint8_t *tmp; /* RGBA/RGB rows when the output needs stripping */
} png_job;

static vt_status start(png_job *j, const uint8_t *data, size_t len, const char *name, vt_err *err) {
    j->src.data = data;
    j->src.len = len;
    j->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &j->src, on_png_error, on_png_warning);
    if (!j->png) return vt_err_set(err, VT_ENOMEM, "%s: out of memory", name);
    j->info = png_create_info_struct(j->png);
    if (!j->info) return vt_err_set(err, VT_ENOMEM, "%s: out of memory", name);
    png_set_read_fn(j->png, &j->src, on_png_read);
    /* No decompression bombs: a chunk may not claim more than 64 MB, and the caps below apply. */
    png_set_chunk_malloc_max(j->png, 64u << 20);
    png_set_user_limits(j->png, VT_IMAGE_MAX_SIDE, VT_IMAGE_MAX_SIDE);
    return VT_OK;
}

static void finish(png_job *j) {
    if (j->png) png_destroy_read_struct(&j->png, j->info ? &j->info : NULL, NULL);
    free(j->rows);
    free(j->tmp);
    free(j);
}

vt_status vt_png_probe(const uint8_t *data, size_t len, const char *name, int32_t *w, int32_t *h, vt_err *err) {
    png_job *j = calloc(1, sizeof *j);
    if (!j) return vt_err_set(err, VT_ENOMEM, "%s: out of memory", name);
    vt_status st = start(j, data, len, name, err);
    if (st) goto done;
    if (setjmp(png_jmpbuf(j->png))) {
        st = vt_err_set(err, VT_EFORMAT, "%s: corrupt PNG: %s", name, j->src.msg);
        goto done;
    }
    png_read_info(j->png, j->info);
    *w = (int32_t)png_get_image_width(j->png, j->info);
    *h = (int32_t)png_get_image_height(j->png, j->info);
done:
    finish(j);
    return st;
}

vt_status vt_png_decode(const uint8_t *data, size_t len, const char *name, vt_image *img, vt_err *err) {
    png_job *j = calloc(1, sizeof *j);
    if (!j) return vt_err_set(err, VT_ENOMEM, "%s: out of memory", name);
    vt_status st = start(j, data, len, name, err);
    if (st) goto done;
    if (setjmp(png_jmpbuf(j->png))) {
        st = vt_err_set(err, VT_EFORMAT, "%s: corrupt PNG: %s", name, j->src.msg);
        goto done;
    }
    png_read_info(j->png, j->info);
    png_uint_32 w = png_get_image_width(j->png, j->info), h = png_get_image_height(j->png, j->info);
    if ((st = vt_image_check_size(w, h, name, err))) goto done;
    int color = png_get_color_type(j->png, j->info), depth = png_get_bit_depth(j->png, j->info);
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(j->png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(j->png);
    if (depth == 16) png_set_strip_16(j->png);
    if (color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(j->png);
    /* tRNS is ignored (no png_set_tRNS_to_alpha) and a real alpha channel stripped: RGB out. */
    if (color & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(j->png);
    png_set_interlace_handling(j->png);
    png_read_update_info(j->png, j->info);
    if (png_get_rowbytes(j->png, j->info) != (size_t)w * 3) {
        st = vt_err_set(err, VT_EFORMAT, "%s: unsupported PNG layout (color type %d, depth %d)", name, color, depth);
        goto done;
    }
    if ((st = vt_image_alloc(img, (int32_t)w, (int32_t)h, err))) {
        vt_err_prefix(err, "%s", name);
        goto done;
    }
    if (!(j->rows = malloc(sizeof *j->rows * h))) {
        st = vt_err_set(err, VT_ENOMEM, "%s: out of memory", name);
        goto done;
    }
    for (png_uint_32 y = 0; y < h; y++) j->rows[y] = img->data + (size_t)y * img->stride;
    png_read_image(j->png, j->rows);
    png_read_end(j->png, NULL);
done:
    finish(j);
    return st;
}
