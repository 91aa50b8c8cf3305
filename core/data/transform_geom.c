/* Geometry applied to a whole sample: the image's valid region and every target move together.
 * Boxes are xyxy with pixel edges at integers; polygons move vertex by vertex; RLE masks only update their
 * affine map (x' = sx * x + tx), so no mask is rasterised until collate asks for it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/transform_internal.h"

static void swap_images(vt_image *a, vt_image *b) {
    vt_image t = *a;
    *a = *b;
    *b = t;
}

/* Scales and translates every target: x' = ax * x + bx, y' = ay * y + by (ax, ay > 0 or ax = -1 flips). */
static void map_targets(vt_sample *s, double ax, double bx, double ay, double by) {
    double *m = s->to_image; /* compose: now = a·(previous) + b */
    m[0] = ax * m[0], m[1] = ax * m[1] + bx, m[2] = ay * m[2], m[3] = ay * m[3] + by;
    for (size_t i = 0; i < s->n_instances; i++) {
        vt_instance *in = &s->instances[i];
        double x0 = ax * in->box[0] + bx, x1 = ax * in->box[2] + bx;
        in->box[0] = (float)(x0 < x1 ? x0 : x1);
        in->box[2] = (float)(x0 < x1 ? x1 : x0);
        in->box[1] = (float)(ay * in->box[1] + by);
        in->box[3] = (float)(ay * in->box[3] + by);
        vt_mask *m = &in->mask;
        if (m->kind == VT_MASK_POLYGONS) {
            for (size_t k = 0; k < m->n_coords; k += 2) {
                m->coords[k] = ax * m->coords[k] + bx;
                m->coords[k + 1] = ay * m->coords[k + 1] + by;
            }
        } else if (m->kind == VT_MASK_RLE) {
            m->sx = (float)(ax * m->sx);
            m->tx = (float)(ax * m->tx + bx);
            m->sy = (float)(ay * m->sy);
            m->ty = (float)(ay * m->ty + by);
        }
    }
}

vt_status vt_sample_resize(vt_sample *s, int32_t out_w, int32_t out_h, vt_image_filter interp, vt_err *err) {
    int32_t vw = s->valid_width, vh = s->valid_height;
    if (vw == out_w && vh == out_h && s->image.width == vw && s->image.height == vh) return VT_OK;
    vt_image dst = {0};
    vt_status st = vt_image_resample(&s->image, vw, vh, &dst, out_w, out_h, interp, err);
    if (st) {
        vt_image_free(&dst);
        return vt_err_prefix(err, "%s", s->source ? s->source : "image");
    }
    swap_images(&s->image, &dst);
    vt_image_free(&dst);
    vt_sample_resize_targets(s, out_w, out_h);
    return VT_OK;
}

void vt_sample_resize_targets(vt_sample *s, int32_t out_w, int32_t out_h) {
    double fx = (double)out_w / s->valid_width, fy = (double)out_h / s->valid_height;
    map_targets(s, fx, 0, fy, 0);
    for (size_t i = 0; i < s->n_instances; i++) s->instances[i].area = (float)(s->instances[i].area * fx * fy);
    s->valid_width = out_w;
    s->valid_height = out_h;
}

void vt_sample_hflip(vt_sample *s) {
    int32_t w = s->valid_width;
    for (int32_t y = 0; y < s->valid_height; y++) {
        uint8_t *row = s->image.data + (size_t)y * s->image.stride;
        for (int32_t a = 0, b = w - 1; a < b; a++, b--)
            for (int c = 0; c < 3; c++) {
                uint8_t t = row[3 * a + c];
                row[3 * a + c] = row[3 * b + c];
                row[3 * b + c] = t;
            }
    }
    vt_sample_hflip_targets(s);
}

void vt_sample_hflip_targets(vt_sample *s) { map_targets(s, -1.0, s->valid_width, 1.0, 0); }

/* Removes instance i, keeping its buffers for reuse at the end of the array. */
static void drop_instance(vt_sample *s, size_t i) {
    vt_instance gone = s->instances[i];
    memmove(&s->instances[i], &s->instances[i + 1], sizeof gone * (s->n_instances - i - 1));
    s->n_instances--;
    s->instances[s->n_instances] = gone;
}

vt_status vt_sample_crop(vt_sample *s, int32_t x0, int32_t y0, int32_t w, int32_t h, vt_err *err) {
    if (w <= 0 || h <= 0) return vt_err_set(err, VT_EINVAL, "crop to %dx%d: empty", w, h);
    vt_image dst = {0};
    vt_status st = vt_image_alloc(&dst, w, h, err);
    if (st) return st;
    int32_t vw = s->valid_width, vh = s->valid_height;
    for (int32_t y = 0; y < h; y++) {
        uint8_t *out = dst.data + (size_t)y * dst.stride;
        memset(out, 0, (size_t)w * 3);
        int32_t sy = y + y0;
        if (sy < 0 || sy >= vh) continue;
        int32_t xa = x0 < 0 ? -x0 : 0, xb = (x0 + w > vw) ? vw - x0 : w; /* output columns with a source */
        if (xb > xa) memcpy(out + 3 * (size_t)xa, s->image.data + (size_t)sy * s->image.stride + 3 * (size_t)(xa + x0),
                            3 * (size_t)(xb - xa));
    }
    swap_images(&s->image, &dst);
    vt_image_free(&dst);
    vt_sample_crop_targets(s, x0, y0, w, h);
    return VT_OK;
}

void vt_sample_crop_targets(vt_sample *s, int32_t x0, int32_t y0, int32_t w, int32_t h) {
    map_targets(s, 1.0, -x0, 1.0, -y0);
    /* DETR: clip boxes to the crop, area = clipped box area, drop boxes left empty. */
    for (size_t i = 0; i < s->n_instances;) {
        vt_instance *in = &s->instances[i];
        for (int k = 0; k < 4; k++) {
            float lim = (float)(k % 2 ? h : w);
            in->box[k] = in->box[k] < 0 ? 0 : in->box[k] > lim ? lim : in->box[k];
        }
        if (in->box[2] <= in->box[0] || in->box[3] <= in->box[1]) {
            drop_instance(s, i);
            continue;
        }
        in->area = (in->box[2] - in->box[0]) * (in->box[3] - in->box[1]);
        i++;
    }
    s->valid_width = w;
    s->valid_height = h;
}

vt_status vt_sample_pad(vt_sample *s, int32_t w, int32_t h, vt_err *err) {
    if (w < s->image.width) w = s->image.width;
    if (h < s->image.height) h = s->image.height;
    if (w == s->image.width && h == s->image.height) return VT_OK;
    vt_image dst = {0};
    vt_status st = vt_image_alloc(&dst, w, h, err);
    if (st) return st;
    for (int32_t y = 0; y < h; y++) {
        uint8_t *out = dst.data + (size_t)y * dst.stride;
        memset(out, 0, (size_t)w * 3);
        if (y < s->image.height) memcpy(out, s->image.data + (size_t)y * s->image.stride, (size_t)s->image.width * 3);
    }
    swap_images(&s->image, &dst);
    vt_image_free(&dst);
    return VT_OK;
}
