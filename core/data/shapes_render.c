/* shapes: scene generation — background, object placement with occlusion checks, glyph text, painting.
 *
 * Order of the random draws (stream 0): background style and colours, text, then objects, each object
 * drawing a fixed number of words per placement try. Per-pixel noise uses stream 1, so the layout of a
 * sample does not depend on its image size's noise budget. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/font.h"
#include "data/shapes.h"

#define PLACE_TRIES 30
#define MIN_PIXELS 8 /* the least visible pixels an annotated object (or its remains after occlusion) keeps */

static const uint8_t palette[VT_SHAPES_NUM_COLORS][3] = {
    {220, 40, 40},  {40, 180, 60},  {40, 80, 220},  {235, 220, 50}, {245, 140, 30},
    {140, 60, 190}, {50, 210, 220}, {220, 60, 200}, {140, 90, 50},  {250, 160, 190},
};

/* Radius as a fraction of the image side, per size class: in-domain, and the shifted scale. */
static const float radius_frac[2][VT_SHAPES_NUM_SIZES][2] = {
    {{0.07f, 0.10f}, {0.11f, 0.15f}, {0.16f, 0.22f}},
    {{0.04f, 0.06f}, {0.07f, 0.09f}, {0.25f, 0.32f}},
};

typedef struct bg_params {
    int style;
    uint8_t c0[3], c1[3];
    float angle, period;
    bool checker;
} bg_params;

static uint8_t clamp_u8(float v) { return v < 0 ? 0 : v > 255 ? 255 : (uint8_t)lrintf(v); }

static void random_color(vt_shapes_rng *r, uint8_t c[3], int lo, int hi) {
    for (int i = 0; i < 3; i++) c[i] = (uint8_t)vt_shapes_rng_int(r, lo, hi);
}

static void draw_background(const vt_shapes_opts *o, vt_shapes_rng *r, bg_params *bg) {
    if (o->background >= 0)
        bg->style = o->background;
    else
        bg->style = o->shift_background ? vt_shapes_rng_int(r, VT_SHAPES_BG_NOISE, VT_SHAPES_BG_TEXTURE) : VT_SHAPES_BG_PLAIN;
    switch (bg->style) {
    case VT_SHAPES_BG_PLAIN: { /* a dark grey with a slight tint: every palette colour stands out on it */
        int g = vt_shapes_rng_int(r, 35, 95);
        for (int i = 0; i < 3; i++) bg->c0[i] = (uint8_t)(g + vt_shapes_rng_int(r, -10, 10));
        break;
    }
    case VT_SHAPES_BG_NOISE: random_color(r, bg->c0, 40, 200); break;
    case VT_SHAPES_BG_GRADIENT:
        random_color(r, bg->c0, 20, 235);
        random_color(r, bg->c1, 20, 235);
        bg->angle = vt_shapes_rng_uniform(r, 0, (float)(2 * M_PI));
        break;
    default: /* texture: stripes or a checkerboard of two colours, rotated */
        random_color(r, bg->c0, 30, 200);
        for (int i = 0; i < 3; i++) bg->c1[i] = clamp_u8(bg->c0[i] + vt_shapes_rng_uniform(r, 40, 80));
        bg->angle = vt_shapes_rng_uniform(r, 0, (float)M_PI);
        bg->period = vt_shapes_rng_uniform(r, 3, 10) * (float)o->size / 128.0f;
        if (bg->period < 2) bg->period = 2;
        bg->checker = vt_shapes_rng_u32(r) & 1u;
        break;
    }
}

static void paint_background(const vt_shapes_opts *o, const bg_params *bg, const char *split, uint64_t index,
                             uint8_t *rgb, int w, int h) {
    vt_shapes_rng noise;
    vt_shapes_rng_init(&noise, o->seed, split, index, 1);
    float c = cosf(bg->angle), s = sinf(bg->angle);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = rgb + ((size_t)y * w + x) * 3;
            switch (bg->style) {
            case VT_SHAPES_BG_PLAIN: memcpy(p, bg->c0, 3); break;
            case VT_SHAPES_BG_NOISE:
                for (int i = 0; i < 3; i++) p[i] = clamp_u8(bg->c0[i] + vt_shapes_rng_uniform(&noise, -50, 50));
                break;
            case VT_SHAPES_BG_GRADIENT: {
                float t = ((x - w * 0.5f) * c + (y - h * 0.5f) * s) / (0.71f * (float)(w > h ? w : h)) + 0.5f;
                t = t < 0 ? 0 : t > 1 ? 1 : t;
                for (int i = 0; i < 3; i++) p[i] = clamp_u8(bg->c0[i] + t * (bg->c1[i] - bg->c0[i]));
                break;
            }
            default: {
                float u = (x * c + y * s) / bg->period, v = (-x * s + y * c) / bg->period;
                int band = (int)floorf(u) + (bg->checker ? (int)floorf(v) : 0);
                memcpy(p, (band & 1) ? bg->c1 : bg->c0, 3);
                break;
            }
            }
        }
}

/* Random text of glyph_min_len..glyph_max_len characters at a random place, marked VT_SHAPES_TEXT_ID in ids. */
static void place_text(const vt_shapes_opts *o, vt_shapes_rng *r, vt_shapes_scene *sc) {
    int len = vt_shapes_rng_int(r, o->glyph_min_len, o->glyph_max_len);
    int scale = o->size / 64 > 1 ? o->size / 64 : 1;
    if (o->label == VT_SHAPES_LABEL_GLYPH) scale *= 2; /* the label's character should be easy to read */
    while (scale > 1 && len * (VT_FONT_W + 1) * scale > sc->width - 2) scale--;
    while (len > 1 && len * (VT_FONT_W + 1) * scale > sc->width - 2) len--;
    for (int i = 0; i < len; i++) sc->text[i] = vt_font_alphabet[vt_shapes_rng_int(r, 0, VT_FONT_NCHARS - 1)];
    sc->text[len] = 0;
    int tw = len * (VT_FONT_W + 1) * scale - scale, th = VT_FONT_H * scale;
    int x0 = vt_shapes_rng_int(r, 0, sc->width - tw > 0 ? sc->width - tw : 0);
    int y0 = vt_shapes_rng_int(r, 0, sc->height - th > 0 ? sc->height - th : 0);
    sc->has_text = true;
    sc->text_x0 = sc->width, sc->text_y0 = sc->height, sc->text_x1 = -1, sc->text_y1 = -1;
    for (int i = 0; i < len; i++) {
        int g = vt_font_index(sc->text[i]);
        for (int y = 0; y < th; y++)
            for (int x = 0; x < VT_FONT_W * scale; x++) {
                int px = x0 + i * (VT_FONT_W + 1) * scale + x, py = y0 + y;
                if (px >= sc->width || py >= sc->height || !vt_font_pixel(g, x / scale, y / scale)) continue;
                sc->ids[(size_t)py * sc->width + px] = VT_SHAPES_TEXT_ID;
                if (px < sc->text_x0) sc->text_x0 = px;
                if (px > sc->text_x1) sc->text_x1 = px;
                if (py < sc->text_y0) sc->text_y0 = py;
                if (py > sc->text_y1) sc->text_y1 = py;
            }
    }
}

/* Draws one candidate object: a fixed number of words whatever the outcome, so later draws line up. */
static void draw_object(const vt_shapes_opts *o, vt_shapes_rng *r, vt_shapes_object *ob) {
    memset(ob, 0, sizeof *ob);
    ob->shape = vt_shapes_rng_int(r, 0, VT_SHAPES_NUM_SHAPES - 1);
    ob->color = vt_shapes_rng_int(r, 0, VT_SHAPES_NUM_COLORS - 1);
    ob->size_class = vt_shapes_rng_int(r, 0, VT_SHAPES_NUM_SIZES - 1);
    const float *fr = radius_frac[o->shift_scale][ob->size_class];
    ob->radius = vt_shapes_rng_uniform(r, fr[0], fr[1]) * (float)o->size;
    if (ob->radius < 2.5f) ob->radius = 2.5f;
    float m = 0.6f * ob->radius, S = (float)o->size; /* objects may be cut by the border, never mostly */
    ob->cx = m < S - m ? vt_shapes_rng_uniform(r, m, S - m) : (vt_shapes_rng_u32(r), S * 0.5f);
    ob->cy = m < S - m ? vt_shapes_rng_uniform(r, m, S - m) : (vt_shapes_rng_u32(r), S * 0.5f);
    ob->angle = vt_shapes_rng_uniform(r, 0, (float)(2 * M_PI));
    float jitter = o->shift_palette ? 16.0f : 12.0f;
    float mix = 0; /* shifted palette: pastel (towards white) or dark (towards black) shades */
    uint32_t shade = vt_shapes_rng_u32(r);
    if (o->shift_palette) mix = (shade & 1u) ? 0.5f : -0.5f;
    for (int i = 0; i < 3; i++) {
        float c = palette[ob->color][i];
        c = mix > 0 ? c + mix * (255 - c) : c * (1 + mix);
        ob->rgb[i] = clamp_u8(c + vt_shapes_rng_uniform(r, -jitter, jitter));
    }
}

/* Tries to add `cand` as object k on top of the scene; false (scene unchanged) when it would be too small
 * or would hide more than max_occlusion of an earlier object. */
static bool try_place(const vt_shapes_opts *o, vt_shapes_scene *sc, vt_shapes_object *cand) {
    int x0, y0, x1, y1, k = sc->n_objects;
    int64_t covered[VT_SHAPES_MAX_OBJECTS] = {0}, full = 0, own = 0;
    vt_shapes_object_extent(cand, sc->width, sc->height, &x0, &y0, &x1, &y1);
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) {
            if (!vt_shapes_inside(cand, x + 0.5f, y + 0.5f)) continue;
            uint8_t id = sc->ids[(size_t)y * sc->width + x];
            full++;
            if (id == VT_SHAPES_TEXT_ID) continue;
            own++;
            if (id) covered[id - 1]++;
        }
    if (own < MIN_PIXELS || own * 2 < full) return false;
    for (int j = 0; j < k; j++) {
        const vt_shapes_object *e = &sc->objects[j];
        int64_t left = e->area - covered[j];
        if (left < MIN_PIXELS || (double)left < (1.0 - o->max_occlusion) * (double)e->full_area) return false;
    }
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) {
            uint8_t *id = &sc->ids[(size_t)y * sc->width + x];
            if (*id != VT_SHAPES_TEXT_ID && vt_shapes_inside(cand, x + 0.5f, y + 0.5f)) *id = (uint8_t)(k + 1);
        }
    for (int j = 0; j < k; j++) sc->objects[j].area -= covered[j];
    cand->full_area = full;
    cand->area = own;
    sc->objects[k] = *cand;
    sc->n_objects++;
    return true;
}

void vt_shapes_scene_free(vt_shapes_scene *sc) {
    if (!sc) return;
    free(sc->rgb);
    free(sc->ids);
    sc->rgb = sc->ids = NULL;
}

vt_status vt_shapes_generate(const vt_shapes_opts *o, const char *split, uint64_t index, vt_shapes_scene *sc,
                             vt_err *err) {
    memset(sc, 0, sizeof *sc);
    if (o->size < 16 || o->size > 8192 || o->min_objects < 1 || o->max_objects < o->min_objects ||
        o->max_objects > VT_SHAPES_MAX_OBJECTS || o->glyph_min_len < 1 || o->glyph_max_len < o->glyph_min_len ||
        o->glyph_max_len > VT_SHAPES_MAX_TEXT || o->captions < 1 || o->captions > VT_SHAPES_MAX_CAPTIONS ||
        !(o->max_occlusion >= 0 && o->max_occlusion <= 1))
        return vt_err_set(err, VT_EINVAL, "shapes: invalid generator options (size %d, objects %d..%d)", o->size,
                          o->min_objects, o->max_objects);
    sc->width = sc->height = o->size;
    size_t npix = (size_t)o->size * (size_t)o->size;
    sc->rgb = malloc(npix * 3);
    sc->ids = calloc(npix, 1);
    if (!sc->rgb || !sc->ids) {
        vt_shapes_scene_free(sc);
        return vt_err_set(err, VT_ENOMEM, "shapes: out of memory for a %dx%d image", o->size, o->size);
    }
    vt_shapes_rng r;
    vt_shapes_rng_init(&r, o->seed, split, index, 0);
    bg_params bg = {0};
    draw_background(o, &r, &bg);
    sc->background = bg.style;
    if (o->glyphs || o->label == VT_SHAPES_LABEL_GLYPH) place_text(o, &r, sc);

    int n = vt_shapes_rng_int(&r, o->min_objects, o->max_objects);
    for (int k = 0; k < n; k++) {
        bool placed = false;
        for (int t = 0; t < PLACE_TRIES && !placed; t++) {
            vt_shapes_object cand;
            draw_object(o, &r, &cand);
            placed = try_place(o, sc, &cand);
        }
        if (!placed) break; /* the image is full: fewer objects than drawn */
    }

    /* Tight boxes of what is visible. */
    for (int k = 0; k < sc->n_objects; k++) {
        vt_shapes_object *ob = &sc->objects[k];
        ob->x0 = sc->width, ob->y0 = sc->height, ob->x1 = -1, ob->y1 = -1;
    }
    for (int y = 0; y < sc->height; y++)
        for (int x = 0; x < sc->width; x++) {
            uint8_t id = sc->ids[(size_t)y * sc->width + x];
            if (!id || id == VT_SHAPES_TEXT_ID) continue;
            vt_shapes_object *ob = &sc->objects[id - 1];
            if (x < ob->x0) ob->x0 = x;
            if (x > ob->x1) ob->x1 = x;
            if (y < ob->y0) ob->y0 = y;
            if (y > ob->y1) ob->y1 = y;
        }

    paint_background(o, &bg, split, index, sc->rgb, sc->width, sc->height);
    uint8_t text_rgb[3] = {255, 255, 255};
    if (sc->has_text) { /* black or white, whichever stands out on the background under the text */
        double lum = 0;
        int cnt = 0;
        for (int y = sc->text_y0; y <= sc->text_y1; y++)
            for (int x = sc->text_x0; x <= sc->text_x1; x++, cnt++) {
                const uint8_t *p = sc->rgb + ((size_t)y * sc->width + x) * 3;
                lum += 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
            }
        if (cnt && lum / cnt > 128) memset(text_rgb, 0, 3);
    }
    for (size_t i = 0; i < npix; i++) {
        uint8_t id = sc->ids[i];
        if (id == VT_SHAPES_TEXT_ID)
            memcpy(sc->rgb + i * 3, text_rgb, 3);
        else if (id)
            memcpy(sc->rgb + i * 3, sc->objects[id - 1].rgb, 3);
    }
    vt_shapes_rng cap;
    vt_shapes_rng_init(&cap, o->seed, split, index, 2);
    vt_shapes_describe(o, sc, &cap);
    return VT_OK;
}
