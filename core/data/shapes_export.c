/* shapes -> COCO on disk: DIR/images/<split>_<index>.png, DIR/annotations/instances_<split>.json and
 * captions_<split>.json, in the layout pycocotools and the `coco` plugin read.
 *
 * Ids: image id = sample index + 1 (COCO ids start at 1), category id = shape class + 1, annotation ids
 * count from 1 in export order. Masks are compressed COCO RLE of the visible pixels (exact, unlike a traced
 * polygon); bbox is their tight box [x, y, w, h] and area their pixel count, so pycocotools' toBbox and
 * area agree with the file. Extra keys (colour, size, text, label) ride along; COCO readers ignore them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/shapes.h"
#include "data/shapes_export.h"
#include "visft/coco_mask.h"
#include "visft/data.h"
#include "visft/json.h"

static vt_status make_dir(const char *path, vt_err *err) {
    if (mkdir(path, 0777) == 0 || errno == EEXIST) {
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return VT_OK;
        return vt_err_set(err, VT_EIO, "%s: exists and is not a directory", path);
    }
    return vt_err_set(err, VT_EIO, "%s: cannot create directory: %s", path, strerror(errno));
}

/* Writes text to path through a temporary file and rename, so a reader never sees half a file. */
static vt_status write_file_atomic(const char *path, const char *text, size_t len, vt_err *err) {
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return vt_err_set(err, VT_EINVAL, "%s: path too long", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return vt_err_set(err, VT_EIO, "%s: cannot write: %s", tmp, strerror(errno));
    bool ok = fwrite(text, 1, len, f) == len;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        remove(tmp);
        return vt_err_set(err, VT_EIO, "%s: write failed: %s", path, strerror(errno));
    }
    return VT_OK;
}

static void write_image_entry(vt_json_writer *w, const vt_shapes_scene *sc, int64_t id, const char *file,
                              const vt_shapes_opts *o) {
    vt_json_write_object_begin(w);
    vt_json_write_key(w, "id"), vt_json_write_int(w, id);
    vt_json_write_key(w, "file_name"), vt_json_write_string(w, file);
    vt_json_write_key(w, "width"), vt_json_write_int(w, sc->width);
    vt_json_write_key(w, "height"), vt_json_write_int(w, sc->height);
    vt_json_write_key(w, "background"), vt_json_write_string(w, vt_shapes_background_name(sc->background));
    char name[32];
    vt_json_write_key(w, "label"), vt_json_write_int(w, sc->label);
    vt_json_write_key(w, "label_name"), vt_json_write_string(w, vt_shapes_label_name(o, sc->label, name, sizeof name));
    if (sc->has_text) {
        vt_json_write_key(w, "text"), vt_json_write_string(w, sc->text);
        vt_json_write_key(w, "text_bbox"), vt_json_write_array_begin(w);
        int b[4] = {sc->text_x0, sc->text_y0, sc->text_x1 - sc->text_x0 + 1, sc->text_y1 - sc->text_y0 + 1};
        for (int i = 0; i < 4; i++) vt_json_write_int(w, b[i]);
        vt_json_write_array_end(w);
    }
    vt_json_write_object_end(w);
}

static vt_status write_annotation(vt_json_writer *w, const vt_shapes_scene *sc, int k, int64_t ann_id,
                                  int64_t image_id, uint8_t *mask, vt_err *err) {
    const vt_shapes_object *ob = &sc->objects[k];
    size_t npix = (size_t)sc->width * sc->height;
    for (size_t i = 0; i < npix; i++) mask[i] = sc->ids[i] == k + 1;
    vt_rle rle = {0};
    vt_status st = vt_rle_encode(mask, sc->height, sc->width, &rle, err);
    if (st != VT_OK) return st;
    char *counts = vt_rle_to_string(&rle, NULL);
    vt_rle_free(&rle);
    if (!counts) return vt_err_set(err, VT_ENOMEM, "shapes export: out of memory encoding a mask");
    vt_json_write_object_begin(w);
    vt_json_write_key(w, "id"), vt_json_write_int(w, ann_id);
    vt_json_write_key(w, "image_id"), vt_json_write_int(w, image_id);
    vt_json_write_key(w, "category_id"), vt_json_write_int(w, ob->shape + 1);
    vt_json_write_key(w, "segmentation"), vt_json_write_object_begin(w);
    vt_json_write_key(w, "size"), vt_json_write_array_begin(w);
    vt_json_write_int(w, sc->height), vt_json_write_int(w, sc->width);
    vt_json_write_array_end(w);
    vt_json_write_key(w, "counts"), vt_json_write_string(w, counts);
    vt_json_write_object_end(w);
    vt_json_write_key(w, "area"), vt_json_write_int(w, ob->area);
    vt_json_write_key(w, "bbox"), vt_json_write_array_begin(w);
    int b[4] = {ob->x0, ob->y0, ob->x1 - ob->x0 + 1, ob->y1 - ob->y0 + 1};
    for (int i = 0; i < 4; i++) vt_json_write_int(w, b[i]);
    vt_json_write_array_end(w);
    vt_json_write_key(w, "iscrowd"), vt_json_write_int(w, 0);
    vt_json_write_key(w, "color"), vt_json_write_string(w, vt_shapes_color_name(ob->color));
    vt_json_write_key(w, "size"), vt_json_write_string(w, vt_shapes_size_name(ob->size_class));
    vt_json_write_object_end(w);
    free(counts);
    return VT_OK;
}

static void write_header(vt_json_writer *w, const vt_shapes_opts *o, const char *split, const char *what) {
    vt_json_write_object_begin(w);
    vt_json_write_key(w, "info"), vt_json_write_object_begin(w);
    char desc[160];
    snprintf(desc, sizeof desc, "visft shapes: %s, split %s, seed %llu", what, split, (unsigned long long)o->seed);
    vt_json_write_key(w, "description"), vt_json_write_string(w, desc);
    vt_json_write_key(w, "version"), vt_json_write_string(w, "1.0");
    vt_json_write_object_end(w);
    vt_json_write_key(w, "licenses"), vt_json_write_array_begin(w), vt_json_write_array_end(w);
}

vt_status vt_shapes_export_coco(const vt_shapes_opts *o, const char *split, uint64_t start, size_t count,
                                const char *dir, vt_shapes_export_stats *stats, vt_err *err) {
    char path[4096], file[64];
    if (!split || !*split || strchr(split, '/') || strlen(split) > 40)
        return vt_err_set(err, VT_EINVAL, "shapes export: bad split name '%s'", split ? split : "");
    if (stats) memset(stats, 0, sizeof *stats);
    vt_status st = make_dir(dir, err);
    snprintf(path, sizeof path, "%s/images", dir);
    if (st == VT_OK) st = make_dir(path, err);
    snprintf(path, sizeof path, "%s/annotations", dir);
    if (st == VT_OK) st = make_dir(path, err);
    if (st != VT_OK) return st;

    /* Three documents grow together: image entries (shared), annotations, captions. */
    vt_json_writer images, anns, caps;
    vt_json_writer_init(&images), vt_json_writer_init(&anns), vt_json_writer_init(&caps);
    vt_json_write_array_begin(&images), vt_json_write_array_begin(&anns), vt_json_write_array_begin(&caps);
    uint8_t *mask = malloc((size_t)o->size * o->size);
    if (!mask) st = vt_err_set(err, VT_ENOMEM, "shapes export: out of memory");
    int64_t ann_id = 1, cap_id = 1;
    for (size_t n = 0; st == VT_OK && n < count; n++) {
        uint64_t index = start + n;
        int64_t image_id = (int64_t)index + 1;
        vt_shapes_scene sc;
        st = vt_shapes_generate(o, split, index, &sc, err);
        if (st != VT_OK) break;
        snprintf(file, sizeof file, "%s_%06llu.png", split, (unsigned long long)index);
        snprintf(path, sizeof path, "%s/images/%s", dir, file);
        vt_image img = {.width = sc.width, .height = sc.height, .stride = (size_t)sc.width * 3, .data = sc.rgb};
        st = vt_image_save_png(&img, path, err);
        write_image_entry(&images, &sc, image_id, file, o);
        for (int k = 0; st == VT_OK && k < sc.n_objects; k++)
            st = write_annotation(&anns, &sc, k, ann_id++, image_id, mask, err);
        for (int c = 0; st == VT_OK && c < sc.n_captions; c++) {
            vt_json_write_object_begin(&caps);
            vt_json_write_key(&caps, "id"), vt_json_write_int(&caps, cap_id++);
            vt_json_write_key(&caps, "image_id"), vt_json_write_int(&caps, image_id);
            vt_json_write_key(&caps, "caption"), vt_json_write_string(&caps, sc.captions[c]);
            vt_json_write_object_end(&caps);
        }
        if (stats) stats->images++, stats->annotations += (size_t)sc.n_objects, stats->captions += (size_t)sc.n_captions;
        vt_shapes_scene_free(&sc);
    }
    free(mask);
    vt_json_write_array_end(&images), vt_json_write_array_end(&anns), vt_json_write_array_end(&caps);
    if (st == VT_OK) st = vt_json_writer_status(&images, err);
    if (st == VT_OK) st = vt_json_writer_status(&anns, err);
    if (st == VT_OK) st = vt_json_writer_status(&caps, err);

    const char *images_json = vt_json_writer_str(&images, NULL);
    for (int doc = 0; st == VT_OK && doc < 2; doc++) {
        vt_json_writer w;
        vt_json_writer_init(&w);
        write_header(&w, o, split, doc == 0 ? "instances" : "captions");
        vt_json_write_key(&w, "images"), vt_json_write_raw_value(&w, images_json, strlen(images_json));
        size_t alen;
        const char *a = vt_json_writer_str(doc == 0 ? &anns : &caps, &alen);
        vt_json_write_key(&w, "annotations"), vt_json_write_raw_value(&w, a, alen);
        if (doc == 0) {
            vt_json_write_key(&w, "categories"), vt_json_write_array_begin(&w);
            for (int c = 0; c < VT_SHAPES_NUM_SHAPES; c++) {
                vt_json_write_object_begin(&w);
                vt_json_write_key(&w, "id"), vt_json_write_int(&w, c + 1);
                vt_json_write_key(&w, "name"), vt_json_write_string(&w, vt_shapes_shape_name(c));
                vt_json_write_key(&w, "supercategory"), vt_json_write_string(&w, "shape");
                vt_json_write_object_end(&w);
            }
            vt_json_write_array_end(&w);
        }
        vt_json_write_object_end(&w);
        st = vt_json_writer_status(&w, err);
        snprintf(path, sizeof path, "%s/annotations/%s_%s.json", dir, doc == 0 ? "instances" : "captions", split);
        size_t len;
        const char *text = vt_json_writer_str(&w, &len);
        if (st == VT_OK) st = write_file_atomic(path, text, len, err);
        vt_json_writer_free(&w);
    }
    vt_json_writer_free(&images), vt_json_writer_free(&anns), vt_json_writer_free(&caps);
    return st;
}
