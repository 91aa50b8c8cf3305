/* Instance masks on demand: a vt_mask rasterised at the current (or a scaled) image size. Polygons go
 * through pycocotools' rasteriser (vt_rle_from_poly, coco_mask.c) at the output size, so an unscaled mask is
 * bit-exact with COCO's; RLE masks are decoded on their own grid and sampled nearest-neighbour through the
 * affine map the transforms accumulated. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "visft/coco_mask.h"
#include "visft/data.h"

static vt_status rasterize_polygons(const vt_mask *m, float fx, float fy, int32_t width, int32_t height,
                                    uint8_t *out, vt_err *err) {
    double *xy = malloc(sizeof *xy * (m->n_coords ? m->n_coords : 1));
    vt_rle *parts = calloc((size_t)(m->n_polys ? m->n_polys : 1), sizeof *parts);
    vt_rle merged = {0};
    vt_status st = VT_OK;
    if (!xy || !parts) {
        st = vt_err_set(err, VT_ENOMEM, "out of memory rasterising a mask");
        goto done;
    }
    size_t off = 0;
    for (int32_t k = 0; k < m->n_polys && !st; k++) {
        size_t len = (size_t)m->poly_len[k];
        for (size_t i = 0; i < len; i += 2) {
            xy[i] = m->coords[off + i] * fx;
            xy[i + 1] = m->coords[off + i + 1] * fy;
        }
        st = vt_rle_from_poly(xy, len, height, width, &parts[k], err);
        off += len;
    }
    if (!st && m->n_polys == 1) vt_rle_to_mask(&parts[0], out);
    else if (!st && m->n_polys > 1 && !(st = vt_rle_merge(parts, (size_t)m->n_polys, false, &merged, err)))
        vt_rle_to_mask(&merged, out);
done:
    for (int32_t k = 0; parts && k < m->n_polys; k++) vt_rle_free(&parts[k]);
    vt_rle_free(&merged);
    free(parts);
    free(xy);
    return st;
}

static vt_status rasterize_rle(const vt_mask *m, float fx, float fy, int32_t width, int32_t height, uint8_t *out,
                               vt_err *err) {
    int32_t rh = m->rle_h, rw = m->rle_w;
    if (rh <= 0 || rw <= 0) return VT_OK;
    uint64_t sum = 0;
    for (size_t i = 0; i < m->n_counts; i++) sum += m->counts[i];
    if (sum != (uint64_t)rh * (uint64_t)rw)
        return vt_err_set(err, VT_EFORMAT, "RLE counts sum to %llu, expected h*w = %d*%d", (unsigned long long)sum, rh, rw);
    uint8_t *grid = malloc((size_t)rh * (size_t)rw);
    int32_t *col = malloc(sizeof *col * (size_t)(width ? width : 1));
    if (!grid || !col) {
        free(grid);
        free(col);
        return vt_err_set(err, VT_ENOMEM, "out of memory rasterising a mask");
    }
    vt_rle view = {(uint32_t)rh, (uint32_t)rw, m->n_counts, m->counts};
    vt_rle_to_mask(&view, grid);
    /* Output pixel centre (x + 0.5) / f in current pixels; source = (current - t) / s. */
    double ax = (double)m->sx * fx, bx = (double)m->tx * fx, ay = (double)m->sy * fy, by = (double)m->ty * fy;
    for (int32_t x = 0; x < width; x++) {
        double u = ax != 0 ? (x + 0.5 - bx) / ax : -1;
        col[x] = (u >= 0 && u < rw) ? (int32_t)u : -1;
    }
    for (int32_t y = 0; y < height; y++) {
        double v = ay != 0 ? (y + 0.5 - by) / ay : -1;
        if (!(v >= 0 && v < rh)) continue;
        const uint8_t *src = grid + (size_t)(int32_t)v * (size_t)rw;
        uint8_t *dst = out + (size_t)y * (size_t)width;
        for (int32_t x = 0; x < width; x++)
            if (col[x] >= 0) dst[x] = src[col[x]] != 0;
    }
    free(col);
    free(grid);
    return VT_OK;
}

vt_status vt_mask_rasterize_scaled(const vt_mask *m, float fx, float fy, int32_t width, int32_t height,
                                   uint8_t *out, vt_err *err) {
    if (width < 0 || height < 0 || width > VT_IMAGE_MAX_SIDE || height > VT_IMAGE_MAX_SIDE)
        return vt_err_set(err, VT_EINVAL, "mask size %dx%d out of range", width, height);
    if (!(fx > 0 && fy > 0 && isfinite(fx) && isfinite(fy)))
        return vt_err_set(err, VT_EINVAL, "mask scale %g x %g is not positive", fx, fy);
    memset(out, 0, (size_t)width * (size_t)height);
    if (!m || (size_t)width * (size_t)height == 0) return VT_OK;
    if (m->kind == VT_MASK_POLYGONS) return rasterize_polygons(m, fx, fy, width, height, out, err);
    if (m->kind == VT_MASK_RLE) return rasterize_rle(m, fx, fy, width, height, out, err);
    return VT_OK;
}

vt_status vt_mask_rasterize(const vt_mask *m, int32_t width, int32_t height, uint8_t *out, vt_err *err) {
    return vt_mask_rasterize_scaled(m, 1.0f, 1.0f, width, height, out, err);
}

vt_status vt_rle_from_polygon(const double *xy, size_t n_xy, int32_t h, int32_t w, uint32_t **counts,
                              size_t *n_counts, vt_err *err) {
    vt_rle r = {0};
    *counts = NULL;
    *n_counts = 0;
    vt_status st = vt_rle_from_poly(xy, n_xy, h, w, &r, err);
    if (st) return st;
    *counts = r.counts; /* ownership moves to the caller */
    *n_counts = r.m;
    return VT_OK;
}
