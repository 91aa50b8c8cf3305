/* JPEG decoding through libjpeg-turbo.
 *
 * libjpeg reports fatal errors through error_exit, which by default calls exit(): ours longjmps back to the
 * decode call instead, with the library's message. A truncated stream is only a *warning* to libjpeg (it
 * pads the rest with gray); we turn that warning into an error, as PIL does ("image file is truncated").
 * CMYK/YCCK come out of libjpeg as CMYK (Adobe files store it inverted) and are converted here with PIL's
 * formula R = (255 - K) - C * (255 - K) / 255. DCT-domain downscaling (scale 1/2, 1/4, 1/8) is used when the
 * caller's min_short allows it. */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>

#include "data/image_internal.h"

typedef struct jerr_ctx {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    int truncated;        /* saw "premature end of data" */
    char msg[JMSG_LENGTH_MAX];
} jerr_ctx;

static void on_error_exit(j_common_ptr cinfo) {
    jerr_ctx *e = (jerr_ctx *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->msg);
    longjmp(e->jump, 1);
}

/* Warnings (level -1) are silent, except a premature end which we remember; trace messages are dropped. */
static void on_emit_message(j_common_ptr cinfo, int level) {
    jerr_ctx *e = (jerr_ctx *)cinfo->err;
    if (level < 0) {
        if (cinfo->err->msg_code == JWRN_JPEG_EOF) e->truncated = 1;
        cinfo->err->num_warnings++;
    }
}

static void on_output_message(j_common_ptr cinfo) { (void)cinfo; }

static void setup_err(struct jpeg_decompress_struct *cinfo, jerr_ctx *e) {
    memset(e, 0, sizeof *e);
    cinfo->err = jpeg_std_error(&e->pub);
    e->pub.error_exit = on_error_exit;
    e->pub.emit_message = on_emit_message;
    e->pub.output_message = on_output_message;
}

vt_status vt_jpeg_probe(const uint8_t *data, size_t len, const char *name, int32_t *w, int32_t *h, vt_err *err) {
    struct jpeg_decompress_struct cinfo;
    jerr_ctx e;
    setup_err(&cinfo, &e);
    jpeg_create_decompress(&cinfo);
    if (setjmp(e.jump)) {
        jpeg_destroy_decompress(&cinfo);
        return vt_err_set(err, VT_EFORMAT, "%s: corrupt JPEG header: %s", name, e.msg);
    }
    jpeg_mem_src(&cinfo, data, (unsigned long)len);
    jpeg_read_header(&cinfo, TRUE);
    *w = (int32_t)cinfo.image_width;
    *h = (int32_t)cinfo.image_height;
    jpeg_destroy_decompress(&cinfo);
    return VT_OK;
}

/* Largest denominator d in {8, 4, 2} with ceil(short / d) >= min_short; 1 when none fits. */
static unsigned pick_denom(unsigned w, unsigned h, int32_t min_short) {
    if (min_short <= 0) return 1;
    unsigned s = w < h ? w : h;
    for (unsigned d = 8; d >= 2; d /= 2)
        if ((s + d - 1) / d >= (unsigned)min_short) return d;
    return 1;
}

static inline uint8_t mul255(unsigned a, unsigned b) {
    unsigned t = a * b + 128;
    return (uint8_t)((t + (t >> 8)) >> 8);
}

/* State kept out of registers across setjmp: anything modified after setjmp and read after longjmp must be
 * volatile or live in memory. */
typedef struct jpeg_job {
    struct jpeg_decompress_struct cinfo;
    jerr_ctx e;
    uint8_t *row; /* CMYK scanline scratch */
} jpeg_job;

vt_status vt_jpeg_decode(const uint8_t *data, size_t len, const char *name, const vt_decode_opts *opts,
                         vt_image *img, vt_err *err) {
    jpeg_job *job = calloc(1, sizeof *job);
    if (!job) return vt_err_set(err, VT_ENOMEM, "%s: out of memory", name);
    struct jpeg_decompress_struct *cinfo = &job->cinfo;
    setup_err(cinfo, &job->e);
    jpeg_create_decompress(cinfo);
    vt_status st = VT_OK;
    if (setjmp(job->e.jump)) {
        st = vt_err_set(err, VT_EFORMAT, "%s: corrupt JPEG: %s", name, job->e.msg);
        goto done;
    }
    jpeg_mem_src(cinfo, data, (unsigned long)len);
    jpeg_read_header(cinfo, TRUE);
    if ((st = vt_image_check_size(cinfo->image_width, cinfo->image_height, name, err))) goto done;
    bool cmyk = cinfo->jpeg_color_space == JCS_CMYK || cinfo->jpeg_color_space == JCS_YCCK;
    cinfo->out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    cinfo->dct_method = JDCT_ISLOW; /* PIL's default: decoded pixels match PIL's exactly */
    cinfo->scale_num = 1;
    cinfo->scale_denom = pick_denom(cinfo->image_width, cinfo->image_height, opts ? opts->min_short : 0);
    jpeg_start_decompress(cinfo);
    int32_t w = (int32_t)cinfo->output_width, h = (int32_t)cinfo->output_height;
    if ((st = vt_image_alloc(img, w, h, err))) {
        vt_err_prefix(err, "%s", name);
        goto done;
    }
    if (cmyk && !(job->row = malloc((size_t)w * 4))) {
        st = vt_err_set(err, VT_ENOMEM, "%s: out of memory", name);
        goto done;
    }
    bool inverted = cinfo->saw_Adobe_marker; /* Adobe writes CMYK inverted (0 = full ink) */
    while (cinfo->output_scanline < cinfo->output_height) {
        uint8_t *dst = img->data + (size_t)cinfo->output_scanline * img->stride;
        if (!cmyk) {
            JSAMPROW rows[1] = {dst};
            jpeg_read_scanlines(cinfo, rows, 1);
        } else {
            JSAMPROW rows[1] = {job->row};
            jpeg_read_scanlines(cinfo, rows, 1);
            for (int32_t x = 0; x < w; x++) {
                const uint8_t *p = job->row + 4 * x;
                unsigned c = p[0], m = p[1], y = p[2], k = p[3];
                if (inverted) c = 255 - c, m = 255 - m, y = 255 - y, k = 255 - k;
                unsigned nk = 255 - k; /* PIL's cmyk2rgb, rounding included */
                dst[3 * x] = (uint8_t)(nk - mul255(c, nk));
                dst[3 * x + 1] = (uint8_t)(nk - mul255(m, nk));
                dst[3 * x + 2] = (uint8_t)(nk - mul255(y, nk));
            }
        }
        if (job->e.truncated) break;
    }
    if (job->e.truncated) {
        st = vt_err_set(err, VT_EFORMAT, "%s: truncated JPEG (data ends at scanline %u of %u)", name,
                        cinfo->output_scanline, cinfo->output_height);
        goto done;
    }
    /* Every scanline arrived: a missing end-of-image marker alone is tolerated (as PIL does). */
    jpeg_finish_decompress(cinfo);
done:
    jpeg_destroy_decompress(cinfo);
    free(job->row);
    free(job);
    return st;
}
