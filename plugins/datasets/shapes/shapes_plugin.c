/* The `shapes` dataset plugin: procedural, deterministic COCO-like samples (core/data/shapes.h) through
 * vt_dataset_vtable. Each sample carries the RGB image, one instance per visible shape (tight xyxy box,
 * contiguous label = shape class, category id = class + 1, visible-pixel area, RLE mask of the visible
 * pixels), the captions and the class label the `label` param chooses. image_id is index + 1, as in the
 * files `visft data export shapes` writes. sample() keeps no state between calls: thread-safe. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <visft/data.h>
#include <visft/plugin.h>

#include "data/shapes.h"

typedef struct shapes_ds {
    vt_shapes_opts opts;
    size_t length;
    char split[64];
} shapes_ds;

static vt_status shapes_open(const void *params, const char *split, const vt_host *host, void **out, vt_err *err) {
    const vt_shapes_params *p = params;
    if (!split) return vt_err_set(err, VT_EINVAL, "shapes: no split name");
    shapes_ds *ds = calloc(1, sizeof *ds);
    if (!ds) return vt_err_set(err, VT_ENOMEM, "shapes: out of memory");
    vt_status st = vt_shapes_opts_from_params(p, &ds->opts, err);
    if (st == VT_OK) st = vt_shapes_split_length(p, split, &ds->length, err);
    if (st == VT_OK && strlen(split) >= sizeof ds->split)
        st = vt_err_set(err, VT_EINVAL, "shapes: split name '%.32s...' is too long", split);
    if (st != VT_OK) {
        free(ds);
        return st;
    }
    snprintf(ds->split, sizeof ds->split, "%s", split);
    if (host && host->log) {
        char line[160];
        snprintf(line, sizeof line, "shapes %s: %zu samples of %dx%d, seed %llu", ds->split, ds->length,
                 ds->opts.size, ds->opts.size, (unsigned long long)ds->opts.seed);
        host->log(host, VT_LOG_INFO, line);
    }
    *out = ds;
    return VT_OK;
}

static void shapes_close(void *self) { free(self); }

static size_t shapes_length(void *self) { return ((shapes_ds *)self)->length; }

/* COCO uncompressed RLE of ids == id: column-major runs, starting with a (possibly empty) run of zeros. */
static size_t rle_counts(const vt_shapes_scene *sc, uint8_t id, uint32_t *counts) {
    size_t n = 0;
    uint32_t run = 0;
    bool cur = false;
    for (int x = 0; x < sc->width; x++)
        for (int y = 0; y < sc->height; y++) {
            bool on = sc->ids[(size_t)y * sc->width + x] == id;
            if (on != cur) {
                counts[n++] = run;
                run = 0;
                cur = on;
            }
            run++;
        }
    counts[n++] = run;
    return n;
}

static vt_status fill(const shapes_ds *ds, const vt_shapes_scene *sc, size_t index, vt_sample *s, vt_err *err) {
    vt_status st = vt_sample_new_image(s, sc->width, sc->height, err);
    if (st != VT_OK) return st;
    for (int y = 0; y < sc->height; y++)
        memcpy(s->image.data + (size_t)y * s->image.stride, sc->rgb + (size_t)y * sc->width * 3, (size_t)sc->width * 3);
    s->image_id = (int64_t)index + 1;
    s->label = sc->label;
    uint32_t *counts = malloc(((size_t)sc->width * sc->height + 1) * sizeof *counts);
    if (!counts) return vt_err_set(err, VT_ENOMEM, "shapes: out of memory");
    for (int k = 0; st == VT_OK && k < sc->n_objects; k++) {
        const vt_shapes_object *ob = &sc->objects[k];
        float box[4] = {(float)ob->x0, (float)ob->y0, (float)(ob->x1 + 1), (float)(ob->y1 + 1)};
        size_t i;
        st = vt_sample_add_instance(s, box, ob->shape, ob->shape + 1, false, (float)ob->area, &i, err);
        if (st == VT_OK) {
            size_t n = rle_counts(sc, (uint8_t)(k + 1), counts);
            st = vt_sample_set_rle(s, i, sc->height, sc->width, counts, n, err);
        }
    }
    free(counts);
    for (int c = 0; st == VT_OK && c < sc->n_captions; c++) st = vt_sample_add_caption(s, sc->captions[c], err);
    if (st == VT_OK && sc->has_text) st = vt_sample_set_text(s, sc->text, err);
    if (st == VT_OK) {
        char src[96];
        snprintf(src, sizeof src, "shapes:%s:%zu", ds->split, index);
        st = vt_sample_set_source(s, src, err);
    }
    return st;
}

static vt_status shapes_sample(void *self, size_t index, struct vt_sample *out, vt_err *err) {
    const shapes_ds *ds = self;
    if (index >= ds->length)
        return vt_err_set(err, VT_EINVAL, "shapes %s: index %zu out of range (length %zu)", ds->split, index, ds->length);
    vt_sample_clear(out);
    vt_shapes_scene sc;
    vt_status st = vt_shapes_generate(&ds->opts, ds->split, index, &sc, err);
    if (st == VT_OK) st = fill(ds, &sc, index, out, err);
    vt_shapes_scene_free(&sc);
    if (st != VT_OK) vt_err_prefix(err, "shapes %s[%zu]", ds->split, index);
    return st;
}

static const vt_dataset_vtable shapes_vtable = {
    .struct_size = sizeof(vt_dataset_vtable),
    .open = shapes_open,
    .close = shapes_close,
    .length = shapes_length,
    .sample = shapes_sample,
};

static vt_status shapes_init(vt_registrar *reg, vt_err *err) {
    return vt_register_dataset(reg, "shapes",
                               "procedural shapes with boxes, masks, captions, glyphs and labels (no download)",
                               vt_shapes_param_specs, sizeof(vt_shapes_params), &shapes_vtable, err);
}

VISFT_PLUGIN_DEFINE("shapes", "0.1.0", "procedural, deterministic COCO-like dataset", "MIT", shapes_init);
