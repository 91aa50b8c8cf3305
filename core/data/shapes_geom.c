/* shapes: the random stream and the geometry of the eight shape classes.
 *
 * Every shape lives in the unit disc of its local frame (centre, radius, rotation), so one extent serves
 * all of them and sizes compare across classes. A pixel belongs to a shape when its centre is inside: no
 * antialiasing, so the mask is exact and the painted pixels are exactly the mask. */
#include <math.h>
#include <string.h>

#include "data/shapes.h"
#include "visft/rng.h"

static const char *const shape_names[VT_SHAPES_NUM_SHAPES] = {"circle",  "square", "triangle", "star",
                                                              "hexagon", "cross",  "ellipse",  "ring"};
static const char *const color_names[VT_SHAPES_NUM_COLORS] = {"red",    "green",   "blue",  "yellow", "orange",
                                                              "purple", "cyan",    "magenta", "brown", "pink"};
static const char *const size_names[VT_SHAPES_NUM_SIZES] = {"small", "medium", "large"};
static const char *const background_names[] = {"plain", "noise", "gradient", "texture"};

const char *vt_shapes_shape_name(int s) { return s >= 0 && s < VT_SHAPES_NUM_SHAPES ? shape_names[s] : NULL; }
const char *vt_shapes_color_name(int c) { return c >= 0 && c < VT_SHAPES_NUM_COLORS ? color_names[c] : NULL; }
const char *vt_shapes_size_name(int s) { return s >= 0 && s < VT_SHAPES_NUM_SIZES ? size_names[s] : NULL; }
const char *vt_shapes_background_name(int b) { return b >= 0 && b < 4 ? background_names[b] : NULL; }

/* ---- random stream ----------------------------------------------------------------------------------
 * Counter words: block number, index (low, high), and the split name's FNV-1a hash mixed with a stream
 * tag, so splits and sub-streams (scene layout, per-pixel noise, caption variants) never share blocks. */

static uint32_t fnv1a(const char *s) {
    uint32_t h = 2166136261u;
    for (; s && *s; s++) h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

void vt_shapes_rng_init(vt_shapes_rng *r, uint64_t seed, const char *split, uint64_t index, uint32_t stream) {
    r->key[0] = (uint32_t)seed;
    r->key[1] = (uint32_t)(seed >> 32);
    r->ctr[0] = 0;
    r->ctr[1] = (uint32_t)index;
    r->ctr[2] = (uint32_t)(index >> 32);
    r->ctr[3] = fnv1a(split) ^ (stream * 0x9E3779B9u);
    r->pos = 4;
}

uint32_t vt_shapes_rng_u32(vt_shapes_rng *r) {
    if (r->pos == 4) {
        vt_philox4x32_10(r->ctr, r->key, r->buf);
        r->ctr[0]++;
        r->pos = 0;
    }
    return r->buf[r->pos++];
}

float vt_shapes_rng_uniform(vt_shapes_rng *r, float lo, float hi) {
    return lo + (hi - lo) * vt_rng_unit(vt_shapes_rng_u32(r));
}

int vt_shapes_rng_int(vt_shapes_rng *r, int lo, int hi) {
    if (hi <= lo) return lo;
    uint64_t span = (uint64_t)((int64_t)hi - lo + 1);
    return lo + (int)(((uint64_t)vt_shapes_rng_u32(r) * span) >> 32); /* multiply-shift: no modulo bias to speak of */
}

/* ---- geometry -------------------------------------------------------------------------------------- */

/* Crossing-number test on a closed polygon. */
static bool in_polygon(float u, float v, const float (*p)[2], int n) {
    bool in = false;
    for (int i = 0, j = n - 1; i < n; j = i++) {
        if ((p[i][1] > v) != (p[j][1] > v)) {
            float x = p[j][0] + (v - p[j][1]) * (p[i][0] - p[j][0]) / (p[i][1] - p[j][1]);
            if (u < x) in = !in;
        }
    }
    return in;
}

/* Regular polygon (or star when inner > 0) with its first vertex pointing up (-v in image coordinates). */
static bool in_regular(float u, float v, int n, float inner) {
    float p[2 * 8][2];
    int m = inner > 0 ? 2 * n : n;
    for (int i = 0; i < m; i++) {
        float a = (float)(2.0 * M_PI * i / m - M_PI / 2);
        float r = (inner > 0 && (i & 1)) ? inner : 1.0f;
        p[i][0] = r * cosf(a);
        p[i][1] = r * sinf(a);
    }
    return in_polygon(u, v, (const float (*)[2])p, m);
}

bool vt_shapes_inside(const vt_shapes_object *o, float px, float py) {
    float dx = px - o->cx, dy = py - o->cy;
    float c = cosf(o->angle), s = sinf(o->angle), inv = 1.0f / o->radius;
    float u = (dx * c + dy * s) * inv, v = (-dx * s + dy * c) * inv;
    float rr = u * u + v * v;
    if (rr > 1.0f) return false; /* every shape lies in the unit disc */
    switch (o->shape) {
    case VT_SHAPE_CIRCLE: return true;
    case VT_SHAPE_SQUARE: return fabsf(u) <= 0.7071f && fabsf(v) <= 0.7071f;
    case VT_SHAPE_TRIANGLE: return in_regular(u, v, 3, 0);
    case VT_SHAPE_STAR: return in_regular(u, v, 5, 0.45f);
    case VT_SHAPE_HEXAGON: return in_regular(u, v, 6, 0);
    case VT_SHAPE_CROSS:
        return (fabsf(u) <= 0.95f && fabsf(v) <= 0.3f) || (fabsf(u) <= 0.3f && fabsf(v) <= 0.95f);
    case VT_SHAPE_ELLIPSE: return u * u + (v * v) / (0.55f * 0.55f) <= 1.0f;
    case VT_SHAPE_RING: return rr >= 0.5f * 0.5f;
    default: return false;
    }
}

void vt_shapes_object_extent(const vt_shapes_object *o, int w, int h, int *x0, int *y0, int *x1, int *y1) {
    /* A pixel centre x+0.5 can be inside only if |x+0.5-cx| <= r. */
    int a = (int)floorf(o->cx - o->radius - 0.5f), b = (int)ceilf(o->cx + o->radius - 0.5f);
    int c = (int)floorf(o->cy - o->radius - 0.5f), d = (int)ceilf(o->cy + o->radius - 0.5f);
    *x0 = a < 0 ? 0 : a;
    *x1 = b > w - 1 ? w - 1 : b;
    *y0 = c < 0 ? 0 : c;
    *y1 = d > h - 1 ? h - 1 : d;
}
