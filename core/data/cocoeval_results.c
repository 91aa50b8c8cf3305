/* COCO results files (a list of {image_id, category_id, score, bbox, segmentation}) read against the
 * ground truth, with pycocotools' loadRes conventions for areas and boxes (see visft/cocoeval.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/coco_json.h"
#include "visft/cocoeval.h"
#include "visft/json.h"

void vt_coco_dets_free(vt_coco_dets *d) {
    if (!d) return;
    for (size_t i = 0; i < d->n; i++) vt_rle_free(&d->v[i].segm);
    free(d->v);
    d->v = NULL;
    d->n = 0;
}

static int32_t find_label(const vt_coco *gt, int64_t id) {
    size_t lo = 0, hi = gt->n_cats; /* cats are sorted by id */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (gt->cats[mid].id < id) lo = mid + 1;
        else hi = mid;
    }
    return lo < gt->n_cats && gt->cats[lo].id == id ? (int32_t)lo : -1;
}

static bool finite_number(const vt_json *v, double *out) {
    if (!vt_json_is_number(v)) return false;
    *out = vt_json_number(v);
    return isfinite(*out);
}

/* An RLE object {"size": [h, w], "counts": "..." | [...]}. */
static vt_status parse_rle(const vt_json *seg, vt_rle *out, vt_err *err) {
    const vt_json *size = vt_json_get(seg, "size"), *counts = vt_json_get(seg, "counts");
    int64_t h, w;
    if (!vt_json_is_array(size) || vt_json_len(size) != 2 || !vt_json_int64(vt_json_at(size, 0), &h) ||
        !vt_json_int64(vt_json_at(size, 1), &w))
        return vt_err_set(err, VT_EFORMAT, "segmentation.size is not [height, width] integers");
    if (vt_json_is_string(counts))
        return vt_rle_from_string(vt_json_string(counts), vt_json_string_len(counts), h, w, out, err);
    if (!vt_json_is_array(counts))
        return vt_err_set(err, VT_EFORMAT, "segmentation.counts is neither a string nor a list");
    size_t m = vt_json_len(counts);
    int64_t *c = malloc((m ? m : 1) * sizeof *c);
    if (!c) return vt_err_set(err, VT_ENOMEM, "out of memory");
    for (size_t i = 0; i < m; i++) {
        if (!vt_json_int64(vt_json_at(counts, i), &c[i])) {
            free(c);
            return vt_err_set(err, VT_EFORMAT, "segmentation.counts[%zu] is not an integer", i);
        }
    }
    vt_status st = vt_rle_from_counts(c, m, h, w, out, err);
    free(c);
    return st;
}

/* Polygons [[x0, y0, ...], ...] rasterised and united on the image's grid (pycocotools' annToRLE). */
static vt_status parse_polys(const vt_json *seg, const vt_coco_image *im, vt_rle *out, vt_err *err) {
    size_t n = vt_json_len(seg);
    vt_rle *parts = calloc(n ? n : 1, sizeof *parts);
    vt_status st = parts ? VT_OK : vt_err_set(err, VT_ENOMEM, "out of memory");
    for (size_t p = 0; st == VT_OK && p < n; p++) {
        const vt_json *poly = vt_json_at(seg, p);
        if (!vt_json_is_array(poly)) {
            st = vt_err_set(err, VT_EFORMAT, "segmentation[%zu] is not a list of coordinates", p);
            break;
        }
        size_t k = vt_json_len(poly);
        double *xy = malloc((k ? k : 1) * sizeof *xy);
        if (!xy) {
            st = vt_err_set(err, VT_ENOMEM, "out of memory");
            break;
        }
        for (size_t i = 0; st == VT_OK && i < k; i++)
            if (!finite_number(vt_json_at(poly, i), &xy[i]))
                st = vt_err_set(err, VT_EFORMAT, "segmentation[%zu][%zu] is not a finite number", p, i);
        if (st == VT_OK) st = vt_rle_from_poly(xy, k, im->height, im->width, &parts[p], err);
        free(xy);
    }
    if (st == VT_OK) st = vt_rle_merge(parts, n, false, out, err);
    for (size_t p = 0; parts && p < n; p++) vt_rle_free(&parts[p]);
    free(parts);
    return st;
}

static vt_status parse_entry(const vt_json *e, const vt_coco *gt, bool box_mode, vt_coco_det *d, vt_err *err) {
    if (!vt_json_is_object(e)) return vt_err_set(err, VT_EFORMAT, "not an object");
    int64_t img_id, cat_id;
    if (!vt_json_int64(vt_json_get(e, "image_id"), &img_id))
        return vt_err_set(err, VT_EFORMAT, "image_id is missing or not an integer");
    if (!vt_json_int64(vt_json_get(e, "category_id"), &cat_id))
        return vt_err_set(err, VT_EFORMAT, "category_id is missing or not an integer");
    if (!finite_number(vt_json_get(e, "score"), &d->score))
        return vt_err_set(err, VT_EFORMAT, "score is missing or not a finite number");
    int64_t im = vt_coco_find_image(gt, img_id);
    if (im < 0) return vt_err_set(err, VT_EINVAL, "image_id %lld is not in the ground truth's images", (long long)img_id);
    d->image = (uint32_t)im;
    d->label = find_label(gt, cat_id);

    const vt_json *bb = vt_json_get(e, "bbox");
    if (bb && !(vt_json_is_array(bb) && vt_json_len(bb) == 0)) {
        if (!vt_json_is_array(bb) || vt_json_len(bb) != 4) return vt_err_set(err, VT_EFORMAT, "bbox is not [x, y, w, h]");
        for (size_t i = 0; i < 4; i++)
            if (!finite_number(vt_json_at(bb, i), &d->bbox[i]))
                return vt_err_set(err, VT_EFORMAT, "bbox[%zu] is not a finite number", i);
        d->has_bbox = 1;
    }
    const vt_json *seg = vt_json_get(e, "segmentation");
    if (seg) {
        vt_status st;
        if (vt_json_is_object(seg)) st = parse_rle(seg, &d->segm, err);
        else if (vt_json_is_array(seg)) st = parse_polys(seg, &gt->images[d->image], &d->segm, err);
        else st = vt_err_set(err, VT_EFORMAT, "segmentation is neither an RLE object nor a list of polygons");
        if (st != VT_OK) return st;
        d->has_segm = 1;
    }
    if (box_mode) { /* loadRes: the first entry had a box, so every entry needs one and area = w*h */
        if (!d->has_bbox) return vt_err_set(err, VT_EFORMAT, "bbox is missing (entry 0 has one, so every entry needs one)");
        d->area = d->bbox[2] * d->bbox[3];
    } else {
        if (!d->has_segm)
            return vt_err_set(err, VT_EFORMAT, "has neither bbox nor segmentation (entry 0 has no bbox, so a segmentation is needed)");
        d->area = (double)vt_rle_area(&d->segm);
        if (!d->has_bbox) vt_rle_to_bbox(&d->segm, d->bbox);
        d->has_bbox = 1;
    }
    return VT_OK;
}

vt_status vt_coco_dets_parse(const char *text, size_t len, const char *name, const vt_coco *gt,
                             vt_coco_dets *out, vt_err *err) {
    memset(out, 0, sizeof *out);
    vt_json_opts jo = {.name = name};
    vt_json_doc *doc = NULL;
    vt_status st = vt_json_parse(text, len, &jo, &doc, NULL, err);
    if (st != VT_OK) return st;
    const vt_json *root = vt_json_root(doc);
    if (!vt_json_is_array(root)) {
        st = vt_err_set(err, VT_EFORMAT, "%s: results must be a list of detections, not %s", name,
                        vt_json_type_name(vt_json_typeof(root)));
        vt_json_doc_free(doc);
        return st;
    }
    size_t n = vt_json_len(root);
    out->v = calloc(n ? n : 1, sizeof *out->v);
    if (!out->v) {
        vt_json_doc_free(doc);
        return vt_err_set(err, VT_ENOMEM, "%s: out of memory for %zu detections", name, n);
    }
    const vt_json *bb0 = n ? vt_json_get(vt_json_at(root, 0), "bbox") : NULL;
    bool box_mode = bb0 && !(vt_json_is_array(bb0) && vt_json_len(bb0) == 0);
    for (size_t i = 0; i < n; i++) {
        out->n = i + 1; /* so a partly parsed entry is freed too */
        st = parse_entry(vt_json_at(root, i), gt, box_mode, &out->v[i], err);
        if (st != VT_OK) {
            vt_err_prefix(err, "%s: entry %zu", name, i);
            break;
        }
    }
    vt_json_doc_free(doc);
    if (st != VT_OK) vt_coco_dets_free(out);
    return st;
}

vt_status vt_coco_dets_load(const char *path, const vt_coco *gt, vt_coco_dets *out, vt_err *err) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) return vt_err_set(err, VT_EIO, "%s: cannot open", path);
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 1 << 20;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return vt_err_set(err, VT_ENOMEM, "%s: out of memory reading the file", path);
            }
            buf = nb;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    bool bad = ferror(f);
    fclose(f);
    vt_status st = bad ? vt_err_set(err, VT_EIO, "%s: read error", path) : vt_coco_dets_parse(buf, len, path, gt, out, err);
    free(buf);
    return st;
}
