/* vt_sample: lifetime and the fill API datasets use. Coordinates come in original-image pixels and are
 * mapped onto the current image (smaller than the original after DCT-domain downscaling). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/image_internal.h"

void vt_sample_init(vt_sample *s) {
    memset(s, 0, sizeof *s);
    s->struct_size = sizeof *s;
    s->label = -1;
    s->to_image[0] = s->to_image[2] = 1.0;
}

static void mask_reset(vt_mask *m) {
    m->kind = VT_MASK_NONE;
    m->n_polys = 0;
    m->n_coords = 0;
    m->n_counts = 0;
    m->rle_h = m->rle_w = 0;
    m->sx = m->sy = 1;
    m->tx = m->ty = 0;
}

static void mask_free(vt_mask *m) {
    free(m->poly_len);
    free(m->coords);
    free(m->counts);
    memset(m, 0, sizeof *m);
}

void vt_sample_clear(vt_sample *s) {
    for (size_t i = 0; i < s->n_instances; i++) mask_reset(&s->instances[i].mask);
    for (size_t i = 0; i < s->n_captions; i++) {
        free(s->captions[i].text);
        free(s->captions[i].tokens);
        memset(&s->captions[i], 0, sizeof s->captions[i]);
    }
    s->n_instances = s->n_captions = 0;
    s->image.width = s->image.height = 0;
    s->image.stride = 0;
    s->orig_width = s->orig_height = 0;
    s->valid_width = s->valid_height = 0;
    s->to_image[0] = s->to_image[2] = 1.0;
    s->to_image[1] = s->to_image[3] = 0.0;
    s->image_id = 0;
    s->label = -1;
    free(s->source);
    s->source = NULL;
    free(s->text);
    s->text = NULL;
}

void vt_sample_free(vt_sample *s) {
    if (!s) return;
    vt_sample_clear(s);
    for (size_t i = 0; i < s->cap_instances; i++) mask_free(&s->instances[i].mask);
    free(s->instances);
    free(s->captions);
    vt_image_free(&s->image);
    vt_decode_opts keep = s->decode;
    vt_sample_init(s);
    s->decode = keep;
}

/* Grows an array to hold n elements (zero-filling the new part). */
static vt_status grow(void **p, size_t *cap, size_t n, size_t elem, vt_err *err) {
    if (n <= *cap) return VT_OK;
    size_t nc = *cap ? *cap * 2 : 8;
    while (nc < n) nc *= 2;
    void *q = realloc(*p, nc * elem);
    if (!q) return vt_err_set(err, VT_ENOMEM, "out of memory growing a sample");
    memset((char *)q + *cap * elem, 0, (nc - *cap) * elem);
    *p = q;
    *cap = nc;
    return VT_OK;
}

static void after_load(vt_sample *s, int32_t ow, int32_t oh) {
    s->orig_width = ow;
    s->orig_height = oh;
    s->valid_width = s->image.width;
    s->valid_height = s->image.height;
    /* a JPEG decoded at 1/2, 1/4 or 1/8 scale is already smaller than the stored image */
    s->to_image[0] = ow > 0 ? (double)s->image.width / ow : 1.0;
    s->to_image[2] = oh > 0 ? (double)s->image.height / oh : 1.0;
    s->to_image[1] = s->to_image[3] = 0.0;
}

vt_status vt_sample_load_image_mem(vt_sample *s, const void *data, size_t len, const char *name, vt_err *err) {
    int32_t ow = 0, oh = 0;
    vt_status st = vt_image_probe_mem(data, len, name, &ow, &oh, err);
    if (st) return st;
    if ((st = vt_image_load_mem(data, len, name, &s->decode, &s->image, err))) return st;
    after_load(s, ow, oh);
    return name ? vt_sample_set_source(s, name, err) : VT_OK;
}

vt_status vt_sample_load_image(vt_sample *s, const char *path, vt_err *err) {
    if (!path) return vt_err_set(err, VT_EINVAL, "vt_sample_load_image: NULL path");
    uint8_t *buf = NULL;
    size_t len = 0;
    vt_status st = vt_image_read_file(path, &buf, &len, err);
    if (st) return st;
    st = vt_sample_load_image_mem(s, buf, len, path, err);
    free(buf);
    return st;
}

vt_status vt_sample_new_image(vt_sample *s, int32_t width, int32_t height, vt_err *err) {
    vt_status st = vt_image_alloc(&s->image, width, height, err);
    if (st) return st;
    after_load(s, width, height);
    return VT_OK;
}

vt_status vt_sample_set_text(vt_sample *s, const char *text, vt_err *err) {
    char *c = text ? strdup(text) : NULL;
    if (text && !c) return vt_err_set(err, VT_ENOMEM, "out of memory");
    free(s->text);
    s->text = c;
    return VT_OK;
}

vt_status vt_sample_set_source(vt_sample *s, const char *path, vt_err *err) {
    char *c = path ? strdup(path) : NULL;
    if (path && !c) return vt_err_set(err, VT_ENOMEM, "out of memory");
    free(s->source);
    s->source = c;
    return VT_OK;
}

/* Original-image pixels -> current-image pixels. */
static void orig_scale(const vt_sample *s, double *fx, double *fy) {
    *fx = (s->orig_width > 0 && s->image.width > 0) ? (double)s->image.width / s->orig_width : 1.0;
    *fy = (s->orig_height > 0 && s->image.height > 0) ? (double)s->image.height / s->orig_height : 1.0;
}

vt_status vt_sample_add_instance(vt_sample *s, const float box_xyxy[4], int64_t label, int64_t category_id,
                                 bool iscrowd, float area, size_t *index, vt_err *err) {
    for (int k = 0; k < 4; k++)
        if (!isfinite(box_xyxy[k]))
            return vt_err_set(err, VT_EINVAL, "image %lld: box has a non-finite coordinate", (long long)s->image_id);
    if (box_xyxy[2] < box_xyxy[0] || box_xyxy[3] < box_xyxy[1])
        return vt_err_set(err, VT_EINVAL, "image %lld: box [%g, %g, %g, %g] has negative width or height",
                          (long long)s->image_id, box_xyxy[0], box_xyxy[1], box_xyxy[2], box_xyxy[3]);
    size_t old_cap = s->cap_instances;
    vt_status st = grow((void **)&s->instances, &s->cap_instances, s->n_instances + 1, sizeof *s->instances, err);
    if (st) return st;
    for (size_t i = old_cap; i < s->cap_instances; i++) mask_reset(&s->instances[i].mask);
    double fx, fy;
    orig_scale(s, &fx, &fy);
    vt_instance *in = &s->instances[s->n_instances];
    in->box[0] = (float)(box_xyxy[0] * fx);
    in->box[1] = (float)(box_xyxy[1] * fy);
    in->box[2] = (float)(box_xyxy[2] * fx);
    in->box[3] = (float)(box_xyxy[3] * fy);
    in->label = label;
    in->category_id = category_id;
    in->iscrowd = iscrowd ? 1 : 0;
    in->area = (float)(area * fx * fy);
    mask_reset(&in->mask);
    if (index) *index = s->n_instances;
    s->n_instances++;
    return VT_OK;
}

static vt_status check_index(const vt_sample *s, size_t i, vt_err *err) {
    if (i >= s->n_instances)
        return vt_err_set(err, VT_EINVAL, "instance %zu out of range (%zu instances)", i, s->n_instances);
    return VT_OK;
}

vt_status vt_sample_set_polygons(vt_sample *s, size_t i, int32_t n_polys, const int32_t *lens,
                                 const double *coords, vt_err *err) {
    vt_status st = check_index(s, i, err);
    if (st) return st;
    if (n_polys < 0) return vt_err_set(err, VT_EINVAL, "image %lld: negative polygon count", (long long)s->image_id);
    size_t total = 0;
    for (int32_t k = 0; k < n_polys; k++) {
        if (lens[k] < 2 || lens[k] % 2)
            return vt_err_set(err, VT_EINVAL, "image %lld: polygon %d has %d coordinates (need an even number >= 2)",
                              (long long)s->image_id, k, lens[k]);
        total += (size_t)lens[k];
    }
    for (size_t k = 0; k < total; k++)
        if (!isfinite(coords[k]))
            return vt_err_set(err, VT_EINVAL, "image %lld: polygon coordinate %zu is not finite", (long long)s->image_id, k);
    vt_mask *m = &s->instances[i].mask;
    if ((st = grow((void **)&m->poly_len, &m->cap_polys, (size_t)n_polys, sizeof *m->poly_len, err))) return st;
    if ((st = grow((void **)&m->coords, &m->cap_coords, total, sizeof *m->coords, err))) return st;
    double fx, fy;
    orig_scale(s, &fx, &fy);
    mask_reset(m);
    if (n_polys) memcpy(m->poly_len, lens, sizeof *lens * (size_t)n_polys);
    for (size_t k = 0; k < total; k += 2) {
        m->coords[k] = coords[k] * fx;
        m->coords[k + 1] = coords[k + 1] * fy;
    }
    m->n_polys = n_polys;
    m->n_coords = total;
    m->kind = VT_MASK_POLYGONS;
    return VT_OK;
}

vt_status vt_sample_set_rle(vt_sample *s, size_t i, int32_t h, int32_t w, const uint32_t *counts,
                            size_t n_counts, vt_err *err) {
    vt_status st = check_index(s, i, err);
    if (st) return st;
    if (h < 0 || w < 0 || h > VT_IMAGE_MAX_SIDE || w > VT_IMAGE_MAX_SIDE)
        return vt_err_set(err, VT_EINVAL, "image %lld: RLE size %dx%d out of range", (long long)s->image_id, h, w);
    uint64_t sum = 0;
    for (size_t k = 0; k < n_counts; k++) sum += counts[k];
    if (sum != (uint64_t)h * (uint64_t)w)
        return vt_err_set(err, VT_EFORMAT, "image %lld: RLE counts sum to %llu, expected h*w = %d*%d = %llu",
                          (long long)s->image_id, (unsigned long long)sum, h, w, (unsigned long long)h * w);
    vt_mask *m = &s->instances[i].mask;
    if ((st = grow((void **)&m->counts, &m->cap_counts, n_counts, sizeof *m->counts, err))) return st;
    mask_reset(m);
    if (n_counts) memcpy(m->counts, counts, sizeof *counts * n_counts);
    m->n_counts = n_counts;
    m->rle_h = h;
    m->rle_w = w;
    /* The RLE grid covers the original image: map it onto the current one. */
    double fx, fy;
    orig_scale(s, &fx, &fy);
    if (s->orig_width > 0 && w > 0) fx = (double)s->orig_width / w * fx;
    if (s->orig_height > 0 && h > 0) fy = (double)s->orig_height / h * fy;
    m->sx = (float)fx;
    m->sy = (float)fy;
    m->kind = VT_MASK_RLE;
    return VT_OK;
}

vt_status vt_sample_add_caption(vt_sample *s, const char *text, vt_err *err) {
    if (!text) return vt_err_set(err, VT_EINVAL, "image %lld: NULL caption", (long long)s->image_id);
    vt_status st = grow((void **)&s->captions, &s->cap_captions, s->n_captions + 1, sizeof *s->captions, err);
    if (st) return st;
    char *c = strdup(text);
    if (!c) return vt_err_set(err, VT_ENOMEM, "out of memory");
    s->captions[s->n_captions].text = c;
    s->captions[s->n_captions].tokens = NULL;
    s->captions[s->n_captions].n_tokens = 0;
    s->n_captions++;
    return VT_OK;
}

static vt_status copy_mask(vt_mask *d, const vt_mask *m, vt_err *err) {
    vt_status st;
    if ((st = grow((void **)&d->poly_len, &d->cap_polys, (size_t)m->n_polys, sizeof *d->poly_len, err))) return st;
    if ((st = grow((void **)&d->coords, &d->cap_coords, m->n_coords, sizeof *d->coords, err))) return st;
    if ((st = grow((void **)&d->counts, &d->cap_counts, m->n_counts, sizeof *d->counts, err))) return st;
    if (m->n_polys) memcpy(d->poly_len, m->poly_len, sizeof *d->poly_len * (size_t)m->n_polys);
    if (m->n_coords) memcpy(d->coords, m->coords, sizeof *d->coords * m->n_coords);
    if (m->n_counts) memcpy(d->counts, m->counts, sizeof *d->counts * m->n_counts);
    d->kind = m->kind;
    d->n_polys = m->n_polys;
    d->n_coords = m->n_coords;
    d->n_counts = m->n_counts;
    d->rle_h = m->rle_h;
    d->rle_w = m->rle_w;
    d->sx = m->sx, d->sy = m->sy, d->tx = m->tx, d->ty = m->ty;
    return VT_OK;
}

vt_status vt_sample_copy(vt_sample *dst, const vt_sample *src, vt_err *err) {
    if (dst == src) return VT_OK;
    vt_sample_clear(dst);
    vt_status st = vt_image_alloc(&dst->image, src->image.width, src->image.height, err);
    if (st) return st;
    for (int32_t y = 0; y < src->image.height; y++)
        memcpy(dst->image.data + (size_t)y * dst->image.stride, src->image.data + (size_t)y * src->image.stride,
               (size_t)src->image.width * 3);
    dst->orig_width = src->orig_width;
    dst->orig_height = src->orig_height;
    dst->image_id = src->image_id;
    dst->label = src->label;
    dst->valid_width = src->valid_width;
    dst->valid_height = src->valid_height;
    memcpy(dst->to_image, src->to_image, sizeof dst->to_image);
    dst->decode = src->decode;
    if ((st = vt_sample_set_source(dst, src->source, err))) return st;
    if ((st = vt_sample_set_text(dst, src->text, err))) return st;
    size_t old_cap = dst->cap_instances;
    if ((st = grow((void **)&dst->instances, &dst->cap_instances, src->n_instances, sizeof *dst->instances, err)))
        return st;
    for (size_t i = old_cap; i < dst->cap_instances; i++) mask_reset(&dst->instances[i].mask);
    for (size_t i = 0; i < src->n_instances; i++) {
        vt_instance *d = &dst->instances[i];
        const vt_instance *in = &src->instances[i];
        memcpy(d->box, in->box, sizeof d->box);
        d->label = in->label, d->category_id = in->category_id, d->area = in->area, d->iscrowd = in->iscrowd;
        if ((st = copy_mask(&d->mask, &in->mask, err))) return st;
        dst->n_instances = i + 1;
    }
    for (size_t i = 0; i < src->n_captions; i++) {
        if ((st = vt_sample_add_caption(dst, src->captions[i].text, err))) return st;
        const vt_caption *c = &src->captions[i];
        if (c->n_tokens > 0) {
            int32_t *t = malloc(sizeof *t * (size_t)c->n_tokens);
            if (!t) return vt_err_set(err, VT_ENOMEM, "out of memory");
            memcpy(t, c->tokens, sizeof *t * (size_t)c->n_tokens);
            dst->captions[i].tokens = t;
            dst->captions[i].n_tokens = c->n_tokens;
        }
    }
    return VT_OK;
}
