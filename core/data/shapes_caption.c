/* shapes: captions and classification labels, read off a finished scene.
 *
 * Caption grammar: "<a> <relation> <b>[, with <c>, <d> and the text "AB3"]" where each object phrase is
 * "a <size> <colour> <shape>" and the relation (left of / right of / above / below) compares the centres
 * of the two objects' visible boxes along the axis where they differ most. Every object is mentioned, so
 * a caption names every shape present. Caption 0 follows painting order; further captions (the `captions`
 * param) mention the objects in other random orders. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/font.h"
#include "data/shapes.h"

static void append(char *buf, size_t size, size_t *len, const char *s) {
    int n = snprintf(buf + *len, *len < size ? size - *len : 0, "%s", s);
    if (n > 0) *len = *len + (size_t)n < size ? *len + (size_t)n : size - 1;
}

static void phrase(const vt_shapes_object *ob, char *buf, size_t size) {
    snprintf(buf, size, "a %s %s %s", vt_shapes_size_name(ob->size_class), vt_shapes_color_name(ob->color),
             vt_shapes_shape_name(ob->shape));
}

static const char *relation(const vt_shapes_object *a, const vt_shapes_object *b) {
    int dx = (a->x0 + a->x1) - (b->x0 + b->x1), dy = (a->y0 + a->y1) - (b->y0 + b->y1); /* 2x centres */
    if (abs(dx) >= abs(dy)) return dx < 0 ? "left of" : "right of";
    return dy < 0 ? "above" : "below";
}

static void caption(const vt_shapes_scene *sc, const int *order, char *buf, size_t size) {
    size_t len = 0;
    char p[96];
    buf[0] = 0;
    int n = sc->n_objects;
    if (n == 0) {
        append(buf, size, &len, "an empty picture");
    } else {
        phrase(&sc->objects[order[0]], p, sizeof p);
        append(buf, size, &len, p);
    }
    if (n >= 2) {
        append(buf, size, &len, " ");
        append(buf, size, &len, relation(&sc->objects[order[0]], &sc->objects[order[1]]));
        append(buf, size, &len, " ");
        phrase(&sc->objects[order[1]], p, sizeof p);
        append(buf, size, &len, p);
    }
    int extras = (n > 2 ? n - 2 : 0) + (sc->has_text ? 1 : 0);
    for (int e = 0; e < extras; e++) {
        append(buf, size, &len, e == 0 ? ", with " : e == extras - 1 ? " and " : ", ");
        if (e < n - 2) {
            phrase(&sc->objects[order[e + 2]], p, sizeof p);
            append(buf, size, &len, p);
        } else {
            snprintf(p, sizeof p, "the text \"%s\"", sc->text);
            append(buf, size, &len, p);
        }
    }
}

void vt_shapes_describe(const vt_shapes_opts *o, vt_shapes_scene *sc, vt_shapes_rng *rng) {
    int order[VT_SHAPES_MAX_OBJECTS];
    sc->n_captions = o->captions;
    for (int c = 0; c < o->captions && c < VT_SHAPES_MAX_CAPTIONS; c++) {
        for (int i = 0; i < sc->n_objects; i++) order[i] = i;
        for (int i = sc->n_objects - 1; c > 0 && i > 0; i--) { /* Fisher-Yates */
            int j = vt_shapes_rng_int(rng, 0, i), t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        caption(sc, order, sc->captions[c], VT_SHAPES_CAPTION_MAX);
    }
    switch (o->label) {
    case VT_SHAPES_LABEL_OBJECT_COUNT: sc->label = sc->n_objects - 1; break;
    case VT_SHAPES_LABEL_GLYPH: sc->label = sc->has_text ? vt_font_index(sc->text[0]) : -1; break;
    default: {
        int best = -1;
        for (int i = 0; i < sc->n_objects; i++)
            if (best < 0 || sc->objects[i].area > sc->objects[best].area) best = i;
        sc->label = best < 0 ? -1 : sc->objects[best].shape;
        break;
    }
    }
}

int vt_shapes_label_classes(const vt_shapes_opts *o) {
    switch (o->label) {
    case VT_SHAPES_LABEL_OBJECT_COUNT: return o->max_objects;
    case VT_SHAPES_LABEL_GLYPH: return VT_FONT_NCHARS;
    default: return VT_SHAPES_NUM_SHAPES;
    }
}

const char *vt_shapes_label_name(const vt_shapes_opts *o, int i, char *buf, size_t size) {
    if (i < 0 || i >= vt_shapes_label_classes(o) || size < 2) return NULL;
    switch (o->label) {
    case VT_SHAPES_LABEL_OBJECT_COUNT: snprintf(buf, size, "%d", i + 1); return buf;
    case VT_SHAPES_LABEL_GLYPH: buf[0] = vt_font_alphabet[i], buf[1] = 0; return buf;
    default: snprintf(buf, size, "%s", vt_shapes_shape_name(i)); return buf;
    }
}
