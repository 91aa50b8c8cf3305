/* COCO loader: parsed images, annotations and categories into vt_coco arrays, then id resolution and
 * grouping by image (see coco_json.h). */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coco_json_internal.h"

static int grow(void *pp, size_t *cap, size_t need, size_t elem) {
    void **p = pp;
    if (need <= *cap) return 0;
    size_t nc = *cap ? *cap : 256;
    while (nc < need) nc *= 2;
    void *q = realloc(*p, nc * elem);
    if (!q) return -1;
    *p = q;
    *cap = nc;
    return 0;
}

static vt_status oom(coco_builder *b) { return vt_err_set(b->err, VT_ENOMEM, "%s: out of memory", b->name); }

/* Appends a NUL-terminated copy; *off receives its offset. */
static int add_string(coco_builder *b, const vt_json *s, uint32_t *off) {
    size_t n = vt_json_string_len(s);
    vt_coco *c = b->c;
    if (c->strings_len + n + 1 > UINT32_MAX) return -1;
    if (grow(&c->strings, &b->cap_strings, c->strings_len + n + 1, 1)) return -1;
    memcpy(c->strings + c->strings_len, vt_json_string(s), n);
    c->strings[c->strings_len + n] = '\0';
    *off = (uint32_t)c->strings_len;
    c->strings_len += n + 1;
    return 0;
}

static bool get_int(const vt_json *obj, const char *key, int64_t *out) {
    return vt_json_int64(vt_json_get(obj, key), out);
}

/* ---- hash of image ids ---- */

typedef struct id_index {
    size_t cap; /* power of two */
    int64_t *keys;
    uint32_t *vals; /* UINT32_MAX: empty */
} id_index;

static size_t id_slot(const id_index *ix, int64_t id) {
    uint64_t h = (uint64_t)id * UINT64_C(0x9E3779B97F4A7C15);
    size_t i = (size_t)(h >> 17) & (ix->cap - 1);
    while (ix->vals[i] != UINT32_MAX && ix->keys[i] != id) i = (i + 1) & (ix->cap - 1);
    return i;
}

int64_t vt_coco_find_image(const vt_coco *c, int64_t id) {
    const id_index *ix = c->index;
    if (!ix || !ix->cap) return -1;
    size_t i = id_slot(ix, id);
    return ix->vals[i] == UINT32_MAX ? -1 : (int64_t)ix->vals[i];
}

/* ---- builder ---- */

vt_status coco_builder_init(coco_builder *b) {
    b->c->index = calloc(1, sizeof(id_index));
    return b->c->index ? VT_OK : oom(b);
}

void coco_builder_free(coco_builder *b) {
    free(b->ann_image), free(b->ann_cat), free(b->ann_off);
    free(b->cap_image), free(b->cap_off), free(b->img_off);
}

void vt_coco_free(vt_coco *c) {
    if (!c) return;
    free(c->images), free(c->anns), free(c->cats), free(c->caps), free(c->strings), free(c->poly_lens);
    free(c->fixed), free(c->coords), free(c->counts), free(c->path);
    id_index *ix = c->index;
    if (ix) free(ix->keys), free(ix->vals), free(ix);
    free(c);
}

vt_status coco_add_image(coco_builder *b, const vt_json *v, size_t off) {
    vt_coco *c = b->c;
    int64_t id, w, h;
    const vt_json *fn = vt_json_get(v, "file_name");
    if (!get_int(v, "id", &id)) return coco_bad(b, VT_COCO_BAD_IMAGE, off, "image without an integer id");
    if (!get_int(v, "width", &w) || !get_int(v, "height", &h) || w <= 0 || h <= 0 || w > INT32_MAX ||
        h > INT32_MAX)
        return coco_bad(b, VT_COCO_BAD_IMAGE, off, "image id %lld: width/height missing or not positive",
                        (long long)id);
    if (!vt_json_is_string(fn))
        return coco_bad(b, VT_COCO_BAD_IMAGE, off, "image id %lld: no file_name string", (long long)id);
    size_t cap = b->cap_images;
    if (grow(&c->images, &b->cap_images, c->n_images + 1, sizeof *c->images) ||
        grow(&b->img_off, &cap, c->n_images + 1, sizeof *b->img_off))
        return oom(b);
    vt_coco_image *im = &c->images[c->n_images];
    memset(im, 0, sizeof *im);
    im->id = id, im->width = (int32_t)w, im->height = (int32_t)h;
    if (add_string(b, fn, &im->file_name)) return oom(b);
    b->img_off[c->n_images++] = off;
    return VT_OK;
}

vt_status coco_add_category(coco_builder *b, const vt_json *v, size_t off) {
    vt_coco *c = b->c;
    int64_t id;
    const vt_json *name = vt_json_get(v, "name"), *sup = vt_json_get(v, "supercategory");
    if (!get_int(v, "id", &id) || !vt_json_is_string(name))
        return coco_bad(b, VT_COCO_BAD_FIELD, off, "category without an integer id and a name");
    if (grow(&c->cats, &b->cap_cats, c->n_cats + 1, sizeof *c->cats)) return oom(b);
    vt_coco_category *k = &c->cats[c->n_cats];
    k->id = id;
    if (add_string(b, name, &k->name)) return oom(b);
    k->supercategory = k->name + (uint32_t)vt_json_string_len(name); /* "" unless given */
    if (vt_json_is_string(sup) && add_string(b, sup, &k->supercategory)) return oom(b);
    c->n_cats++;
    return VT_OK;
}

static vt_status add_caption(coco_builder *b, const vt_json *v, int64_t image_id, size_t off) {
    vt_coco *c = b->c;
    size_t cap = b->cap_caps, cap2 = b->cap_caps;
    if (grow(&c->caps, &b->cap_caps, c->n_caps + 1, sizeof *c->caps) ||
        grow(&b->cap_image, &cap, c->n_caps + 1, sizeof *b->cap_image) ||
        grow(&b->cap_off, &cap2, c->n_caps + 1, sizeof *b->cap_off))
        return oom(b);
    vt_coco_caption *k = &c->caps[c->n_caps];
    if (!get_int(v, "id", &k->id)) k->id = -1;
    if (add_string(b, vt_json_get(v, "caption"), &k->text)) return oom(b);
    b->cap_image[c->n_caps] = image_id;
    b->cap_off[c->n_caps++] = off;
    return VT_OK;
}

/* ---- segmentation: returns 0, 1 (invalid: why filled) or -1 (out of memory) ---- */

/* One pass: coordinates go into the int32 pool while they are exact hundredths; the first one that is not
 * moves what was written to the double pool. Nothing is committed until the whole segmentation is valid. */
static int seg_polygons(coco_builder *b, const vt_json *seg, vt_coco_ann *a, char *why, size_t nwhy) {
    vt_coco *c = b->c;
    size_t np = vt_json_len(seg), total = 0;
    if (grow(&c->poly_lens, &b->cap_lens, b->n_lens + np, sizeof *c->poly_lens)) return -1;
    bool fixed = true;
    size_t f0 = b->n_fixed, d0 = b->n_coords;
    for (size_t k = 0; k < np; k++) {
        const vt_json *poly = vt_json_at(seg, k);
        size_t n = vt_json_len(poly);
        if (!vt_json_is_array(poly)) return snprintf(why, nwhy, "polygon %zu is not an array", k), 1;
        if (n % 2) return snprintf(why, nwhy, "polygon %zu has an odd number of coordinates (%zu)", k, n), 1;
        if (n > INT32_MAX) return snprintf(why, nwhy, "polygon %zu is too long", k), 1;
        if (fixed ? grow(&c->fixed, &b->cap_fixed, f0 + total + n, sizeof *c->fixed)
                  : grow(&c->coords, &b->cap_coords, d0 + total + n, sizeof *c->coords))
            return -1;
        for (size_t j = 0; j < n; j++) {
            const vt_json *x = vt_json_at(poly, j);
            if (!vt_json_is_number(x))
                return snprintf(why, nwhy, "polygon %zu: coordinate %zu is not a number", k, j), 1;
            double d = vt_json_number(x);
            if (fabs(d) > VT_RLE_MAX_COORD)
                return snprintf(why, nwhy, "polygon %zu: coordinate %zu (%g) out of range", k, j, d), 1;
            if (fixed) {
                /* exact as hundredths? then k / 100.0 gives back this very double */
                double q = nearbyint(d * 100);
                if (q / 100.0 == d) {
                    c->fixed[f0 + total + j] = (int32_t)q;
                    continue;
                }
                fixed = false;
                if (grow(&c->coords, &b->cap_coords, d0 + total + n, sizeof *c->coords)) return -1;
                for (size_t t = 0; t < total + j; t++) c->coords[d0 + t] = c->fixed[f0 + t] / 100.0;
            }
            c->coords[d0 + total + j] = d;
        }
        c->poly_lens[b->n_lens + k] = (int32_t)n;
        total += n;
    }
    a->lens_off = b->n_lens;
    a->n_polys = (uint32_t)np;
    a->n_data = total;
    a->seg_fixed = fixed;
    a->data_off = fixed ? f0 : d0;
    b->n_lens += np;
    if (fixed) b->n_fixed += total;
    else b->n_coords += total;
    return 0;
}

static int seg_rle(coco_builder *b, const vt_json *seg, vt_coco_ann *a, char *why, size_t nwhy) {
    const vt_json *size = vt_json_get(seg, "size"), *counts = vt_json_get(seg, "counts");
    int64_t h, w;
    if (vt_json_len(size) != 2 || !vt_json_int64(vt_json_at(size, 0), &h) || !vt_json_int64(vt_json_at(size, 1), &w))
        return snprintf(why, nwhy, "RLE without a [height, width] size"), 1;
    vt_err e = {0};
    if (vt_rle_check_size(h, w, "RLE", &e) || h > INT32_MAX || w > INT32_MAX)
        return snprintf(why, nwhy, "%s", e.msg[0] ? e.msg : "RLE size too large"), 1;
    vt_coco *c = b->c;
    a->rle_h = (int32_t)h, a->rle_w = (int32_t)w;
    a->data_off = b->n_counts;
    if (vt_json_is_array(counts)) {
        size_t m = vt_json_len(counts);
        uint64_t sum = 0;
        if (grow(&c->counts, &b->cap_counts, b->n_counts + m, sizeof *c->counts)) return -1;
        for (size_t j = 0; j < m; j++) {
            int64_t x;
            if (!vt_json_int64(vt_json_at(counts, j), &x) || x < 0 || x > UINT32_MAX)
                return snprintf(why, nwhy, "RLE count %zu is not an integer in [0, 2^32)", j), 1;
            c->counts[b->n_counts + j] = (uint32_t)x;
            sum += (uint64_t)x;
        }
        if (sum != (uint64_t)(h * w))
            return snprintf(why, nwhy, "RLE counts sum to %llu, expected h*w = %lld*%lld = %lld",
                            (unsigned long long)sum, (long long)h, (long long)w, (long long)(h * w)), 1;
        b->n_counts += m;
        a->n_data = m;
    } else if (vt_json_is_string(counts)) {
        vt_rle r;
        if (vt_rle_from_string(vt_json_string(counts), vt_json_string_len(counts), h, w, &r, &e))
            return e.code == VT_ENOMEM ? -1 : (snprintf(why, nwhy, "%s", e.msg), 1);
        int fail = grow(&c->counts, &b->cap_counts, b->n_counts + r.m, sizeof *c->counts);
        if (!fail) memcpy(c->counts + b->n_counts, r.counts, r.m * sizeof *r.counts);
        b->n_counts += fail ? 0 : r.m;
        a->n_data = r.m;
        vt_rle_free(&r);
        if (fail) return -1;
    } else {
        return snprintf(why, nwhy, "RLE counts are neither a list nor a string"), 1;
    }
    a->seg_kind = VT_COCO_SEG_RLE;
    return 0;
}

/* The fields of an annotation object, found in one pass over its members (8 lookups by key would each
 * scan them all: measurable over 860k annotations). */
typedef struct ann_fields {
    const vt_json *id, *image_id, *category_id, *bbox, *segmentation, *area, *iscrowd, *caption;
} ann_fields;

static void ann_fields_of(const vt_json *v, ann_fields *f) {
    memset(f, 0, sizeof *f);
    size_t n = vt_json_is_object(v) ? vt_json_len(v) : 0;
    for (size_t i = 0; i < n; i++) {
        const vt_json *k = vt_json_member_key(v, i), *val = vt_json_member_value(v, i), **slot = NULL;
        const char *s = vt_json_string(k);
        switch (vt_json_string_len(k)) {
        case 2: slot = !strcmp(s, "id") ? &f->id : NULL; break;
        case 4: slot = !strcmp(s, "bbox") ? &f->bbox : !strcmp(s, "area") ? &f->area : NULL; break;
        case 7: slot = !strcmp(s, "iscrowd") ? &f->iscrowd : !strcmp(s, "caption") ? &f->caption : NULL; break;
        case 8: slot = !strcmp(s, "image_id") ? &f->image_id : NULL; break;
        case 11: slot = !strcmp(s, "category_id") ? &f->category_id : NULL; break;
        case 12: slot = !strcmp(s, "segmentation") ? &f->segmentation : NULL; break;
        default: break;
        }
        if (slot && !*slot) *slot = val; /* the first of repeated keys, as vt_json_get */
    }
}

vt_status coco_add_annotation(coco_builder *b, const vt_json *v, size_t off) {
    vt_coco *c = b->c;
    int64_t image_id, cat_id, id = -1, crowd = 0;
    ann_fields f;
    ann_fields_of(v, &f);
    if (!vt_json_int64(f.image_id, &image_id))
        return coco_bad(b, VT_COCO_BAD_FIELD, off, "annotation without an integer image_id");
    if (vt_json_is_string(f.caption)) return add_caption(b, v, image_id, off);
    vt_json_int64(f.id, &id);
    if (!vt_json_int64(f.category_id, &cat_id))
        return coco_bad(b, VT_COCO_BAD_FIELD, off, "annotation id %lld: no integer category_id", (long long)id);
    const vt_json *bbox = f.bbox, *seg = f.segmentation;
    vt_coco_ann a = {.id = id};
    if (vt_json_len(bbox) != 4 || !vt_json_is_array(bbox))
        return coco_bad(b, VT_COCO_BAD_BOX, off, "annotation id %lld: bbox is not 4 numbers", (long long)id);
    for (int k = 0; k < 4; k++) {
        const vt_json *x = vt_json_at(bbox, (size_t)k);
        if (!vt_json_is_number(x))
            return coco_bad(b, VT_COCO_BAD_BOX, off, "annotation id %lld: bbox is not 4 numbers", (long long)id);
        a.bbox[k] = vt_json_number(x);
    }
    if (a.bbox[2] < 0 || a.bbox[3] < 0)
        return coco_bad(b, VT_COCO_BAD_BOX, off, "annotation id %lld: negative box %s %g", (long long)id,
                        a.bbox[2] < 0 ? "width" : "height", a.bbox[2] < 0 ? a.bbox[2] : a.bbox[3]);
    a.area = vt_json_number(f.area);
    if (f.iscrowd && (!vt_json_int64(f.iscrowd, &crowd) || crowd < 0 || crowd > 1))
        return coco_bad(b, VT_COCO_BAD_FIELD, off, "annotation id %lld: iscrowd is not 0 or 1", (long long)id);
    a.iscrowd = (uint8_t)crowd;
    char why[200] = "";
    int rc = 0;
    if (vt_json_is_array(seg) && vt_json_len(seg) > 0) {
        rc = seg_polygons(b, seg, &a, why, sizeof why);
        if (rc == 0) a.seg_kind = VT_COCO_SEG_POLYGONS;
    } else if (vt_json_is_object(seg)) {
        rc = seg_rle(b, seg, &a, why, sizeof why);
    } else if (seg && !vt_json_is_array(seg) && !vt_json_is_null(seg)) {
        rc = 1, snprintf(why, sizeof why, "segmentation is a %s", vt_json_type_name(vt_json_typeof(seg)));
    }
    if (rc < 0) return oom(b);
    if (rc > 0) return coco_bad(b, VT_COCO_BAD_SEGMENTATION, off, "annotation id %lld: %s", (long long)id, why);
    size_t n = c->n_anns, c1 = b->cap_anns, c2 = b->cap_anns, c3 = b->cap_anns;
    if (grow(&c->anns, &b->cap_anns, n + 1, sizeof *c->anns) || grow(&b->ann_image, &c1, n + 1, sizeof(int64_t)) ||
        grow(&b->ann_cat, &c2, n + 1, sizeof(int64_t)) || grow(&b->ann_off, &c3, n + 1, sizeof(size_t)))
        return oom(b);
    c->anns[n] = a;
    b->ann_image[n] = image_id, b->ann_cat[n] = cat_id, b->ann_off[n] = off;
    c->n_anns++;
    return VT_OK;
}

/* ---- resolution ---- */

static int cmp_cat(const void *x, const void *y) {
    int64_t a = ((const vt_coco_category *)x)->id, b = ((const vt_coco_category *)y)->id;
    return a > b ? 1 : a < b ? -1 : 0;
}

static int64_t find_cat(const vt_coco *c, int64_t id) {
    size_t lo = 0, hi = c->n_cats;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c->cats[mid].id < id) lo = mid + 1;
        else hi = mid;
    }
    return lo < c->n_cats && c->cats[lo].id == id ? (int64_t)lo : -1;
}

/* Image and category indexes of annotations [from, to): the lookups are most of coco_finish's time, so
 * large files do them on two threads. */
typedef struct resolve_job {
    const coco_builder *b;
    int64_t *im, *cat;
    size_t from, to;
} resolve_job;

static void *resolve_run(void *arg) {
    resolve_job *j = arg;
    for (size_t i = j->from; i < j->to; i++) {
        j->im[i] = vt_coco_find_image(j->b->c, j->b->ann_image[i]);
        j->cat[i] = find_cat(j->b->c, j->b->ann_cat[i]);
    }
    return NULL;
}

/* Annotations of images [lo, hi) to their grouped places; two of these cover all images. */
typedef struct scatter_job {
    const vt_coco_ann *anns;
    const int64_t *ims; /* image index per annotation, -1: dropped */
    size_t n;
    uint32_t *per; /* next free place per image */
    vt_coco_ann *out;
    int64_t lo, hi;
} scatter_job;

static void *scatter_run(void *arg) {
    scatter_job *j = arg;
    for (size_t i = 0; i < j->n; i++) {
        int64_t im = j->ims[i];
        if (im >= j->lo && im < j->hi) j->out[j->per[im]++] = j->anns[i];
    }
    return NULL;
}

vt_status coco_finish(coco_builder *b) {
    vt_coco *c = b->c;
    vt_status st;
    /* images: index by id, dropping repeated ids */
    id_index *ix = c->index;
    ix->cap = 16;
    while (ix->cap < 2 * c->n_images) ix->cap *= 2;
    ix->keys = malloc(ix->cap * sizeof *ix->keys);
    ix->vals = malloc(ix->cap * sizeof *ix->vals);
    if (!ix->keys || !ix->vals) return oom(b);
    memset(ix->vals, 0xff, ix->cap * sizeof *ix->vals);
    size_t k = 0;
    for (size_t i = 0; i < c->n_images; i++) {
        size_t s = id_slot(ix, c->images[i].id);
        if (ix->vals[s] != UINT32_MAX) {
            if ((st = coco_bad(b, VT_COCO_BAD_IMAGE, b->img_off[i], "duplicate image id %lld",
                               (long long)c->images[i].id)))
                return st;
            continue;
        }
        ix->keys[s] = c->images[i].id;
        ix->vals[s] = (uint32_t)k;
        c->images[k++] = c->images[i];
    }
    c->n_images = k;
    /* categories: sorted by id, repeated ids are an error (labels would be ambiguous) */
    if (c->n_cats > 1) qsort(c->cats, c->n_cats, sizeof *c->cats, cmp_cat);
    for (size_t i = 1; i < c->n_cats; i++)
        if (c->cats[i].id == c->cats[i - 1].id)
            return vt_err_set(b->err, VT_EFORMAT, "%s: category id %lld appears twice", b->name,
                              (long long)c->cats[i].id);
    /* annotations: resolve, then group by image with a counting sort (stable: file order per image) */
    uint32_t *per = calloc(c->n_images + 1, sizeof *per);
    int64_t *ims = malloc((c->n_anns ? c->n_anns : 1) * sizeof *ims), *cats = malloc((c->n_anns ? c->n_anns : 1) * sizeof *cats);
    if (!per || !ims || !cats) {
        free(per), free(ims), free(cats);
        return oom(b);
    }
    resolve_job jobs[2] = {{b, ims, cats, 0, c->n_anns / 2}, {b, ims, cats, c->n_anns / 2, c->n_anns}};
    pthread_t th;
    bool threaded = c->n_anns >= 100000 && pthread_create(&th, NULL, resolve_run, &jobs[1]) == 0;
    resolve_run(&jobs[0]);
    if (threaded) pthread_join(th, NULL);
    else resolve_run(&jobs[1]);
    size_t kept = 0;
    for (size_t i = 0; i < c->n_anns; i++) {
        vt_coco_ann *a = &c->anns[i];
        int64_t im = ims[i], cat = cats[i];
        st = VT_OK;
        if (im < 0)
            st = coco_bad(b, VT_COCO_BAD_NO_IMAGE, b->ann_off[i], "annotation id %lld: image_id %lld is not in images",
                          (long long)a->id, (long long)b->ann_image[i]);
        else if (cat < 0)
            st = coco_bad(b, VT_COCO_BAD_CATEGORY, b->ann_off[i], "annotation id %lld: unknown category_id %lld",
                          (long long)a->id, (long long)b->ann_cat[i]);
        if (st) {
            free(per), free(ims), free(cats);
            return st;
        }
        if (im < 0 || cat < 0) {
            a->image = UINT32_MAX;
            ims[i] = -1;
            continue;
        }
        a->image = (uint32_t)im, a->label = (int32_t)cat;
        per[im]++;
        kept++;
    }
    free(cats);
    vt_coco_ann *sorted = malloc((kept ? kept : 1) * sizeof *sorted);
    if (!sorted) {
        free(per), free(ims);
        return oom(b);
    }
    uint32_t run = 0;
    size_t split = c->n_images; /* images [0, split) are written by this thread, the rest by a second one */
    for (size_t i = 0; i < c->n_images; i++) {
        c->images[i].first_ann = run, c->images[i].n_anns = per[i];
        if (split == c->n_images && run >= kept / 2) split = i;
        run += per[i];
        per[i] = c->images[i].first_ann;
    }
    scatter_job parts[2] = {{c->anns, ims, c->n_anns, per, sorted, 0, (int64_t)split},
                            {c->anns, ims, c->n_anns, per, sorted, (int64_t)split, (int64_t)c->n_images}};
    threaded = kept >= 100000 && pthread_create(&th, NULL, scatter_run, &parts[1]) == 0;
    scatter_run(&parts[0]);
    if (threaded) pthread_join(th, NULL);
    else scatter_run(&parts[1]);
    free(ims);
    free(c->anns);
    c->anns = sorted, c->n_anns = kept;
    /* captions the same way */
    memset(per, 0, (c->n_images + 1) * sizeof *per);
    kept = 0;
    uint32_t *cap_img = malloc((c->n_caps ? c->n_caps : 1) * sizeof *cap_img);
    vt_coco_caption *cs = malloc((c->n_caps ? c->n_caps : 1) * sizeof *cs);
    if (!cap_img || !cs) {
        free(per), free(cap_img), free(cs);
        return oom(b);
    }
    for (size_t i = 0; i < c->n_caps; i++) {
        int64_t im = vt_coco_find_image(c, b->cap_image[i]);
        cap_img[i] = im < 0 ? UINT32_MAX : (uint32_t)im;
        if (im < 0) {
            if ((st = coco_bad(b, VT_COCO_BAD_NO_IMAGE, b->cap_off[i], "caption id %lld: image_id %lld is not in images",
                               (long long)c->caps[i].id, (long long)b->cap_image[i]))) {
                free(per), free(cap_img), free(cs);
                return st;
            }
            continue;
        }
        per[im]++;
        kept++;
    }
    run = 0;
    for (size_t i = 0; i < c->n_images; i++) {
        c->images[i].first_cap = run, c->images[i].n_caps = per[i];
        run += per[i];
        per[i] = c->images[i].first_cap;
    }
    for (size_t i = 0; i < c->n_caps; i++)
        if (cap_img[i] != UINT32_MAX) {
            c->caps[i].image = cap_img[i];
            cs[per[cap_img[i]]++] = c->caps[i];
        }
    free(c->caps);
    c->caps = cs, c->n_caps = kept;
    free(cap_img);
    free(per);
    return VT_OK;
}

/* ---- masks ---- */

void vt_coco_ann_coords(const vt_coco *c, const vt_coco_ann *a, double *out) {
    if (a->seg_fixed)
        for (uint64_t j = 0; j < a->n_data; j++) out[j] = c->fixed[a->data_off + j] / 100.0;
    else if (a->n_data)
        memcpy(out, c->coords + a->data_off, a->n_data * sizeof *out);
}

vt_status vt_coco_ann_rle(const vt_coco *c, const vt_coco_ann *a, vt_rle *out, vt_err *err) {
    memset(out, 0, sizeof *out);
    if (a->seg_kind == VT_COCO_SEG_RLE) {
        vt_rle view = {.h = (uint32_t)a->rle_h, .w = (uint32_t)a->rle_w, .m = a->n_data,
                       .counts = c->counts + a->data_off};
        return vt_rle_copy(&view, out, err);
    }
    if (a->seg_kind != VT_COCO_SEG_POLYGONS)
        return vt_err_set(err, VT_EINVAL, "annotation id %lld has no segmentation", (long long)a->id);
    const vt_coco_image *im = &c->images[a->image];
    double *xy = malloc((a->n_data ? a->n_data : 1) * sizeof *xy);
    vt_rle *parts = calloc(a->n_polys ? a->n_polys : 1, sizeof *parts);
    vt_status st = xy && parts ? VT_OK : vt_err_set(err, VT_ENOMEM, "annotation id %lld: out of memory", (long long)a->id);
    if (!st) vt_coco_ann_coords(c, a, xy);
    size_t at = 0;
    for (uint32_t k = 0; k < a->n_polys && !st; k++) {
        size_t n = (size_t)c->poly_lens[a->lens_off + k];
        st = vt_rle_from_poly(xy + at, n, im->height, im->width, &parts[k], err);
        at += n;
    }
    if (!st) st = vt_rle_merge(parts, a->n_polys, false, out, err);
    for (uint32_t k = 0; parts && k < a->n_polys; k++) vt_rle_free(&parts[k]);
    free(parts);
    free(xy);
    return st;
}
