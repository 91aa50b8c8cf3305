/* The `coco` dataset plugin: COCO 2017 instances or captions JSON plus an images folder, through
 * vt_dataset_vtable. The file is loaded once at open (core/data/coco_json.c); sample() decodes the image
 * and adds the targets the task needs:
 *   detection              boxes (xyxy), contiguous labels, category ids, iscrowd, area
 *   instance_segmentation  the same plus masks (polygons or RLE, compact; rasterised on demand)
 *   captioning             the image's captions
 * Paths may contain "{split}", replaced by the split name ("annotations/instances_{split}2017.json").
 * sample() only reads the loaded file: thread-safe. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <visft/data.h>
#include <visft/plugin.h>

#include "data/coco_json.h"

typedef struct coco_params {
    char *annotations;
    char *images;
    char *task;
    char *empty_images;
    char *on_bad;
    bool crowd;
} coco_params;

static const char *const task_choices[] = {"detection", "instance_segmentation", "captioning", NULL};
static const char *const empty_choices[] = {"keep", "skip", NULL};
static const char *const bad_choices[] = {"skip", "fail", NULL};

static const vt_param_spec coco_specs[] = {
    {.name = "annotations", .type = VT_PARAM_STRING, .offset = offsetof(coco_params, annotations),
     .required = true, .min = 1, .max = 0,
     .help = "instances or captions JSON; {split} is replaced by the split name"},
    {.name = "images", .type = VT_PARAM_STRING, .offset = offsetof(coco_params, images), .required = true,
     .min = 1, .max = 0, .help = "folder holding the images' file_name; {split} is replaced by the split name"},
    {.name = "task", .type = VT_PARAM_ENUM, .offset = offsetof(coco_params, task), .default_value = "detection",
     .choices = task_choices, .min = 1, .max = 0, .help = "which targets samples carry"},
    {.name = "empty_images", .type = VT_PARAM_ENUM, .offset = offsetof(coco_params, empty_images),
     .default_value = "skip", .choices = empty_choices, .min = 1, .max = 0,
     .help = "images without annotations (captions when captioning): keep them or leave them out"},
    {.name = "on_bad", .type = VT_PARAM_ENUM, .offset = offsetof(coco_params, on_bad), .default_value = "skip",
     .choices = bad_choices, .min = 1, .max = 0,
     .help = "invalid annotations (unknown image or category, negative box, bad mask): skip and count, or fail"},
    {.name = "crowd", .type = VT_PARAM_BOOL, .offset = offsetof(coco_params, crowd), .default_value = "true",
     .min = 1, .max = 0, .help = "include iscrowd annotations (flagged iscrowd = 1)"},
    VT_PARAM_END,
};

enum { TASK_DET, TASK_SEG, TASK_CAP };

typedef struct coco_ds {
    vt_coco *coco;
    uint32_t *index; /* sample -> image */
    size_t n;
    int task;
    bool crowd;
    char *images;
} coco_ds;

/* s with every "{split}" replaced; malloc'd. */
static char *with_split(const char *s, const char *split) {
    size_t n = strlen(s) + 1, sl = strlen(split);
    for (const char *p = strstr(s, "{split}"); p; p = strstr(p + 7, "{split}")) n += sl;
    char *out = malloc(n), *o = out;
    if (!out) return NULL;
    while (*s) {
        if (!strncmp(s, "{split}", 7)) {
            memcpy(o, split, sl);
            o += sl, s += 7;
        } else {
            *o++ = *s++;
        }
    }
    *o = '\0';
    return out;
}

static void coco_close(void *self) {
    coco_ds *ds = self;
    if (!ds) return;
    vt_coco_free(ds->coco);
    free(ds->index);
    free(ds->images);
    free(ds);
}

static vt_status coco_open(const void *params, const char *split, const vt_host *host, void **out, vt_err *err) {
    const coco_params *p = params;
    coco_ds *ds = calloc(1, sizeof *ds);
    char *ann = ds ? with_split(p->annotations, split ? split : "") : NULL;
    if (ds) ds->images = with_split(p->images, split ? split : "");
    if (!ds || !ann || !ds->images) {
        free(ann);
        coco_close(ds);
        return vt_err_set(err, VT_ENOMEM, "coco: out of memory");
    }
    ds->task = !strcmp(p->task, "captioning") ? TASK_CAP : !strcmp(p->task, "instance_segmentation") ? TASK_SEG
                                                                                                       : TASK_DET;
    ds->crowd = p->crowd;
    vt_coco_opts o = {.on_bad = !strcmp(p->on_bad, "fail") ? VT_COCO_FAIL : VT_COCO_SKIP};
    vt_status st = vt_coco_load(ann, &o, &ds->coco, err);
    free(ann);
    if (st == VT_OK && !(ds->index = malloc((ds->coco->n_images ? ds->coco->n_images : 1) * sizeof *ds->index)))
        st = vt_err_set(err, VT_ENOMEM, "coco: out of memory");
    if (st != VT_OK) {
        coco_close(ds);
        return st;
    }
    const vt_coco *c = ds->coco;
    bool skip_empty = !strcmp(p->empty_images, "skip");
    for (size_t i = 0; i < c->n_images; i++) {
        size_t have = ds->task == TASK_CAP ? c->images[i].n_caps : c->images[i].n_anns;
        if (!skip_empty || have) ds->index[ds->n++] = (uint32_t)i;
    }
    if (host && host->log) {
        char line[2048];
        size_t n = vt_coco_summary(c, line, sizeof line);
        if (n) host->log(host, VT_LOG_WARN, line);
        snprintf(line, sizeof line, "coco %s: %zu of %zu images (%s), %zu annotations, %zu captions, %zu categories",
                 split ? split : "", ds->n, c->n_images, skip_empty ? "empty ones skipped" : "empty ones kept",
                 c->n_anns, c->n_caps, c->n_cats);
        host->log(host, VT_LOG_INFO, line);
    }
    *out = ds;
    return VT_OK;
}

static size_t coco_length(void *self) { return ((coco_ds *)self)->n; }

static vt_status add_mask(const vt_coco *c, const vt_coco_ann *a, vt_sample *s, size_t i, vt_err *err) {
    if (a->seg_kind == VT_COCO_SEG_RLE)
        return vt_sample_set_rle(s, i, a->rle_h, a->rle_w, c->counts + a->data_off, a->n_data, err);
    if (a->seg_kind != VT_COCO_SEG_POLYGONS) return VT_OK;
    double *xy = malloc((a->n_data ? a->n_data : 1) * sizeof *xy);
    if (!xy) return vt_err_set(err, VT_ENOMEM, "coco: out of memory");
    vt_coco_ann_coords(c, a, xy);
    vt_status st = vt_sample_set_polygons(s, i, (int32_t)a->n_polys, c->poly_lens + a->lens_off, xy, err);
    free(xy);
    return st;
}

static vt_status coco_sample(void *self, size_t index, vt_sample *s, vt_err *err) {
    const coco_ds *ds = self;
    if (index >= ds->n) return vt_err_set(err, VT_EINVAL, "coco: sample %zu of %zu", index, ds->n);
    const vt_coco *c = ds->coco;
    const vt_coco_image *im = &c->images[ds->index[index]];
    size_t plen = strlen(ds->images) + strlen(vt_coco_str(c, im->file_name)) + 2;
    char *path = malloc(plen);
    if (!path) return vt_err_set(err, VT_ENOMEM, "coco: out of memory");
    snprintf(path, plen, "%s/%s", ds->images, vt_coco_str(c, im->file_name));
    vt_status st = vt_sample_load_image(s, path, err);
    free(path);
    if (st != VT_OK) return st;
    s->image_id = im->id;
    if (ds->task == TASK_CAP) {
        for (uint32_t k = 0; k < im->n_caps && st == VT_OK; k++)
            st = vt_sample_add_caption(s, vt_coco_str(c, c->caps[im->first_cap + k].text), err);
        return st;
    }
    for (uint32_t k = 0; k < im->n_anns && st == VT_OK; k++) {
        const vt_coco_ann *a = &c->anns[im->first_ann + k];
        if (a->iscrowd && !ds->crowd) continue;
        float box[4] = {(float)a->bbox[0], (float)a->bbox[1], (float)(a->bbox[0] + a->bbox[2]),
                        (float)(a->bbox[1] + a->bbox[3])};
        size_t i;
        st = vt_sample_add_instance(s, box, a->label, c->cats[a->label].id, a->iscrowd, (float)a->area, &i, err);
        if (st == VT_OK && ds->task == TASK_SEG) st = add_mask(c, a, s, i, err);
    }
    return st;
}

static const vt_dataset_vtable coco_vtable = {
    .struct_size = sizeof(vt_dataset_vtable),
    .open = coco_open,
    .close = coco_close,
    .length = coco_length,
    .sample = coco_sample,
};

static vt_status coco_init(vt_registrar *reg, vt_err *err) {
    return vt_register_dataset(reg, "coco", "COCO 2017 instances/captions JSON with an images folder", coco_specs,
                               sizeof(coco_params), &coco_vtable, err);
}

VISFT_PLUGIN_DEFINE("coco", "0.1.0", "COCO 2017 detection, instance segmentation and captioning data", "MIT",
                    coco_init);
