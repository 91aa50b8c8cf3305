/* Image buffers, file reading and format dispatch. The decoders themselves are image_jpeg.c / image_png.c;
 * everything decodes from memory, so a file is read whole first (one read, and the same code path the
 * fuzzer exercises). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <png.h>

#include "data/image_internal.h"

vt_status vt_image_check_size(int64_t w, int64_t h, const char *name, vt_err *err) {
    if (w <= 0 || h <= 0 || w > VT_IMAGE_MAX_SIDE || h > VT_IMAGE_MAX_SIDE || w * h > VT_IMAGE_MAX_PIXELS)
        return vt_err_set(err, VT_EFORMAT, "%s: image size %lldx%lld is out of range (max side %d, max %lld pixels)",
                          name, (long long)w, (long long)h, VT_IMAGE_MAX_SIDE, (long long)VT_IMAGE_MAX_PIXELS);
    return VT_OK;
}

vt_status vt_image_alloc(vt_image *img, int32_t width, int32_t height, vt_err *err) {
    if (width < 0 || height < 0 || width > VT_IMAGE_MAX_SIDE || height > VT_IMAGE_MAX_SIDE)
        return vt_err_set(err, VT_EINVAL, "image size %dx%d out of range", width, height);
    size_t stride = (size_t)width * 3, need = stride * (size_t)height;
    if (need > img->capacity) {
        uint8_t *p = realloc(img->data, need);
        if (!p) return vt_err_set(err, VT_ENOMEM, "out of memory allocating a %dx%d image", width, height);
        img->data = p;
        img->capacity = need;
    }
    img->width = width;
    img->height = height;
    img->stride = stride;
    return VT_OK;
}

void vt_image_free(vt_image *img) {
    if (!img) return;
    free(img->data);
    memset(img, 0, sizeof *img);
}

static const uint8_t k_png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

static bool is_jpeg(const uint8_t *d, size_t n) { return n >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF; }
static bool is_png(const uint8_t *d, size_t n) { return n >= 8 && memcmp(d, k_png_sig, 8) == 0; }

static vt_status check_signature(const uint8_t *d, size_t len, const char *name, vt_err *err) {
    if (len == 0) return vt_err_set(err, VT_EFORMAT, "%s: empty file (0 bytes), not an image", name);
    if (is_jpeg(d, len) || is_png(d, len)) return VT_OK;
    return vt_err_set(err, VT_EFORMAT, "%s: not a JPEG or PNG image (unrecognised signature)", name);
}

vt_status vt_image_load_mem(const void *data, size_t len, const char *name, const vt_decode_opts *opts,
                            vt_image *img, vt_err *err) {
    if (!name) name = "<memory>";
    const uint8_t *d = data;
    if (!d && len) return vt_err_set(err, VT_EINVAL, "%s: NULL data", name);
    vt_status st = check_signature(d, len, name, err);
    if (st) return st;
    if (is_jpeg(d, len)) return vt_jpeg_decode(d, len, name, opts, img, err);
    return vt_png_decode(d, len, name, img, err);
}

vt_status vt_image_probe_mem(const void *data, size_t len, const char *name, int32_t *width, int32_t *height,
                             vt_err *err) {
    if (!name) name = "<memory>";
    const uint8_t *d = data;
    vt_status st = check_signature(d, len, name, err);
    if (st) return st;
    if (is_jpeg(d, len)) return vt_jpeg_probe(d, len, name, width, height, err);
    return vt_png_probe(d, len, name, width, height, err);
}

/* Reads a whole file; *out is malloc'ed (at least 1 byte even for an empty file). */
vt_status vt_image_read_file(const char *path, uint8_t **out, size_t *len, vt_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return vt_err_set(err, VT_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return vt_err_set(err, VT_EIO, "%s: not a regular file", path);
    }
    size_t n = (size_t)sb.st_size;
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) {
        fclose(f);
        return vt_err_set(err, VT_ENOMEM, "%s: out of memory reading %zu bytes", path, n);
    }
    size_t got = n ? fread(buf, 1, n, f) : 0;
    int bad = ferror(f);
    fclose(f);
    if (bad || got != n) {
        free(buf);
        return vt_err_set(err, VT_EIO, "%s: read error", path);
    }
    *out = buf;
    *len = n;
    return VT_OK;
}

vt_status vt_image_load_file(const char *path, const vt_decode_opts *opts, vt_image *img, vt_err *err) {
    if (!path) return vt_err_set(err, VT_EINVAL, "vt_image_load_file: NULL path");
    uint8_t *buf = NULL;
    size_t len = 0;
    vt_status st = vt_image_read_file(path, &buf, &len, err);
    if (st) return st;
    st = vt_image_load_mem(buf, len, path, opts, img, err);
    free(buf);
    return st;
}

/* ---- PNG writing (simplified libpng API: no setjmp needed on our side) ---- */

vt_status vt_image_save_png(const vt_image *img, const char *path, vt_err *err) {
    if (!img || !img->data || img->width <= 0 || img->height <= 0)
        return vt_err_set(err, VT_EINVAL, "%s: cannot save an empty image", path ? path : "<null>");
    png_image pi;
    memset(&pi, 0, sizeof pi);
    pi.version = PNG_IMAGE_VERSION;
    pi.width = (png_uint_32)img->width;
    pi.height = (png_uint_32)img->height;
    pi.format = PNG_FORMAT_RGB;
    if (!png_image_write_to_file(&pi, path, 0, img->data, (png_int_32)img->stride, NULL)) {
        vt_status st = vt_err_set(err, VT_EIO, "%s: cannot write PNG: %s", path, pi.message);
        png_image_free(&pi);
        return st;
    }
    return VT_OK;
}
