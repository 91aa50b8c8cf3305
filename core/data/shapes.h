/* shapes: a procedural, deterministic, COCO-like dataset — the embedded default every quickstart and test
 * uses, since it ships with the code and needs no download.
 *
 * A sample is a function of (params, seed, split, index) only: the scene's random draws come from Philox
 * (visft/rng.h) keyed by the seed, with the split name and the index in the counter, so any sample can be
 * made on any thread in any order and is identical bytes every time.
 *
 * A scene: a background, 1..max_objects coloured shapes (8 classes, 10 colours, 3 size classes, rotated)
 * painted in order so later ones occlude earlier ones, and optionally a short string of glyphs from the
 * built-in 5x7 font painted on top. `ids` records which object each pixel shows, so instance masks are
 * the visible pixels after occlusion (disjoint by construction) and boxes are their tight boxes.
 * Placement rejects a shape that would hide too much of an earlier one, so every annotated object stays
 * recognisable.
 *
 * The `domain` parameter shifts the distributions for out-of-domain evaluation: textured / noisy /
 * gradient backgrounds, another range of object scales, pastel or dark shades of the palette.
 *
 * Used by the `shapes` dataset plugin (plugins/datasets/shapes) and by `visft data export shapes`. */
#ifndef VISFT_DATA_SHAPES_H
#define VISFT_DATA_SHAPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "visft/error.h"
#include "visft/params.h"

#define VT_SHAPES_NUM_SHAPES 8
#define VT_SHAPES_NUM_COLORS 10
#define VT_SHAPES_NUM_SIZES 3
#define VT_SHAPES_MAX_OBJECTS 16
#define VT_SHAPES_MAX_TEXT 12
#define VT_SHAPES_MAX_CAPTIONS 5
#define VT_SHAPES_CAPTION_MAX 512
/* The value of `ids` at a text pixel (objects are 1..n, background 0). */
#define VT_SHAPES_TEXT_ID 255

typedef enum vt_shapes_shape {
    VT_SHAPE_CIRCLE = 0, VT_SHAPE_SQUARE, VT_SHAPE_TRIANGLE, VT_SHAPE_STAR,
    VT_SHAPE_HEXAGON, VT_SHAPE_CROSS, VT_SHAPE_ELLIPSE, VT_SHAPE_RING
} vt_shapes_shape;

typedef enum vt_shapes_label_kind {
    VT_SHAPES_LABEL_DOMINANT_SHAPE = 0, /* shape of the object with the most visible pixels (8 classes) */
    VT_SHAPES_LABEL_OBJECT_COUNT,       /* number of objects - 1 (max_objects classes) */
    VT_SHAPES_LABEL_GLYPH               /* first character of the text (36 classes; forces glyphs on) */
} vt_shapes_label_kind;

typedef enum vt_shapes_background {
    VT_SHAPES_BG_PLAIN = 0, VT_SHAPES_BG_NOISE, VT_SHAPES_BG_GRADIENT, VT_SHAPES_BG_TEXTURE
} vt_shapes_background;

/* The params struct the host fills from YAML through vt_shapes_param_specs (plugin params, and
 * `visft data export shapes --set k=v`). */
typedef struct vt_shapes_params {
    int64_t seed;
    int64_t image_size;
    int64_t min_objects, max_objects;
    int64_t train_size, val_size, test_size;
    int64_t length;       /* > 0: every split has this many samples */
    char *domain;         /* default | background | scale | palette | shifted */
    char *background;     /* auto | plain | noise | gradient | texture */
    char *label;          /* dominant_shape | object_count | glyph */
    bool glyphs;
    int64_t glyph_min_len, glyph_max_len;
    int64_t captions;     /* captions per image */
    double max_occlusion; /* most of an object's pixels a later one may hide */
} vt_shapes_params;

extern const vt_param_spec vt_shapes_param_specs[];

/* The resolved generator settings (enums parsed, shifts decided). */
typedef struct vt_shapes_opts {
    uint64_t seed;
    int size;
    int min_objects, max_objects;
    bool shift_background, shift_scale, shift_palette;
    int background;       /* -1: by domain; else a vt_shapes_background forced for every sample */
    vt_shapes_label_kind label;
    bool glyphs;
    int glyph_min_len, glyph_max_len;
    int captions;
    double max_occlusion;
} vt_shapes_opts;

/* Defaults equal to the spec table's (128 px, 1..4 objects, default domain, no glyphs). */
void vt_shapes_opts_default(vt_shapes_opts *o);
/* Checks and resolves a filled params struct. */
vt_status vt_shapes_opts_from_params(const vt_shapes_params *p, vt_shapes_opts *out, vt_err *err);
/* Length of a split under these params ("train", "val", "test"; any other name needs `length`). */
vt_status vt_shapes_split_length(const vt_shapes_params *p, const char *split, size_t *out, vt_err *err);

typedef struct vt_shapes_object {
    int shape, color, size_class;   /* indices into the name tables below */
    float cx, cy, radius, angle;    /* placement in pixels / radians */
    int x0, y0, x1, y1;             /* tight box of the visible pixels, inclusive */
    int64_t area;                   /* visible pixels */
    int64_t full_area;              /* pixels inside the image before occlusion */
    uint8_t rgb[3];
} vt_shapes_object;

typedef struct vt_shapes_scene {
    int width, height;
    uint8_t *rgb;          /* height x width x 3, row-major, owned */
    uint8_t *ids;          /* height x width: 0 background, k+1 object k, VT_SHAPES_TEXT_ID text; owned */
    int background;        /* the vt_shapes_background used */
    int n_objects;
    vt_shapes_object objects[VT_SHAPES_MAX_OBJECTS];
    bool has_text;
    char text[VT_SHAPES_MAX_TEXT + 1];
    int text_x0, text_y0, text_x1, text_y1; /* tight box of the text pixels, inclusive */
    int label;             /* per opts.label */
    int n_captions;
    char captions[VT_SHAPES_MAX_CAPTIONS][VT_SHAPES_CAPTION_MAX];
} vt_shapes_scene;

/* Generates sample `index` of `split`. *scene is overwritten (its buffers allocated); free with
 * vt_shapes_scene_free. Thread-safe: touches nothing but its arguments. */
vt_status vt_shapes_generate(const vt_shapes_opts *o, const char *split, uint64_t index, vt_shapes_scene *scene,
                             vt_err *err);
void vt_shapes_scene_free(vt_shapes_scene *scene);

/* Names: shape, colour and size classes (category names of the exported COCO files). */
const char *vt_shapes_shape_name(int shape);
const char *vt_shapes_color_name(int color);
const char *vt_shapes_size_name(int size_class);
const char *vt_shapes_background_name(int background);
/* Classes of a label kind and the name of class i ("circle", "3", "A"); NULL out of range. */
int vt_shapes_label_classes(const vt_shapes_opts *o);
const char *vt_shapes_label_name(const vt_shapes_opts *o, int i, char *buf, size_t size);

/* ---- internals shared by the shapes_*.c files ---- */

/* A sequential Philox stream for one (seed, split, index, stream) tuple. */
typedef struct vt_shapes_rng {
    uint32_t key[2], ctr[4], buf[4];
    int pos;
} vt_shapes_rng;
void vt_shapes_rng_init(vt_shapes_rng *r, uint64_t seed, const char *split, uint64_t index, uint32_t stream);
uint32_t vt_shapes_rng_u32(vt_shapes_rng *r);
float vt_shapes_rng_uniform(vt_shapes_rng *r, float lo, float hi);
int vt_shapes_rng_int(vt_shapes_rng *r, int lo, int hi); /* inclusive */

/* Whether the pixel centre (px, py) lies inside the object's full (unoccluded) shape. */
bool vt_shapes_inside(const vt_shapes_object *obj, float px, float py);
/* Pixel ranges (inclusive, clipped to the image) that may contain the object. */
void vt_shapes_object_extent(const vt_shapes_object *obj, int w, int h, int *x0, int *y0, int *x1, int *y1);

/* Fills scene->captions and scene->label from the finished scene. */
void vt_shapes_describe(const vt_shapes_opts *o, vt_shapes_scene *scene, vt_shapes_rng *rng);

#endif
