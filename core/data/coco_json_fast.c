/* The annotations and images arrays without a DOM (see coco_json_internal.h); VT_COCO_SKIP only.
 *
 * Why: the batch path spends most of its time building DOM nodes for ~40 numbers per annotation and then
 * reading them back. Here each element is read straight into the vt_coco arrays. Only the common shape is
 * handled (annotations: keys id, image_id, category_id, bbox, area, iscrowd, segmentation as polygons;
 * images: id, width, height, file_name and other plain members; integers as plain literals; no escapes);
 * anything else - an RLE, a caption, an unknown or repeated key, a bad value, broken JSON - makes that one
 * element go through vt_json_parse and coco_add_annotation / coco_add_image, so messages and results are
 * the batch path's. Nothing is committed before an element is fully read.
 *
 * Numbers are converted exactly as vt_json does (integers exact, Clinger's fast path, else strtod), so
 * values are bit-identical. Polygon coordinates with at most two decimals become int32 hundredths directly
 * from their digits: for such text t, nearbyint(strtod(t) * 100) is the digits' integer and /100.0 gives
 * strtod(t) back, which is what coco_json_items.c checks.
 *
 * Parallel (annotations): the array is cut at guessed element starts ("}" "," "{" found after evenly
 * spaced bytes) and each piece is read on its own thread into its own builder. A guess is only trusted when
 * the piece before it, read from a known element start, stops exactly there; otherwise the later pieces
 * are dropped and the rest is read on the calling thread. Pieces are appended in file order, so results
 * never depend on timing. Test hooks (environment): VISFT_COCO_PIECE_BYTES, VISFT_COCO_WINDOW_BYTES. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coco_json_internal.h"

#define MAX_PIECES 8
#define PIECE_BYTES ((size_t)8 << 20) /* below this per thread, threads cost more than they save */

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

static inline const char *ws(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
    return p;
}

static inline unsigned digit(const char *p, const char *end) { return p < end ? (unsigned)(*p - '0') : 10u; }

/* ---- numbers ---- */

/* A plain integer literal of at most 18 digits (vt_json_int64 is true for it); NULL for anything else,
 * including -0, which vt_json keeps as a double. */
static const char *read_int(const char *p, const char *end, int64_t *out) {
    bool neg = p < end && *p == '-';
    p += neg;
    unsigned c = digit(p, end);
    if (c > 9) return NULL;
    uint64_t m = c;
    int n = 1;
    if (c == 0) p++;
    else
        for (p++; (c = digit(p, end)) <= 9; p++, n++) m = m * 10 + c;
    if (n > 18 || (neg && m == 0) || digit(p, end) <= 9) return NULL;
    if (p < end && (*p == '.' || *p == 'e' || *p == 'E')) return NULL;
    *out = neg ? -(int64_t)m : (int64_t)m;
    return p;
}

static const double k_pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                  1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* Any JSON number, converted as vt_json's parse_number does; NULL when the text is not a valid number or
 * the value is out of range (the DOM then says why). */
static const char *read_double(const char *p, const char *end, double *out) {
    const char *start = p;
    bool neg = false, integer = true, exact = true;
    uint64_t mant = 0;
    int ndig = 0;
    long exp10 = 0;
    if (p < end && *p == '-') neg = true, p++;
    unsigned c = digit(p, end);
    if (c > 9) return NULL;
    if (c == 0) {
        if (digit(++p, end) <= 9) return NULL;
    } else {
        for (; (c = digit(p, end)) <= 9; p++) {
            if (ndig < 19) mant = mant * 10 + c, ndig++;
            else exact = false, exp10++;
        }
    }
    if (p < end && *p == '.') {
        integer = false;
        if (digit(++p, end) > 9) return NULL;
        for (; (c = digit(p, end)) <= 9; p++) {
            if (mant == 0 && c == 0) exp10--;
            else if (ndig < 19) mant = mant * 10 + c, ndig++, exp10--;
            else exact = false;
        }
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        integer = false;
        bool eneg = false;
        p++;
        if (p < end && (*p == '+' || *p == '-')) eneg = *p++ == '-';
        if (digit(p, end) > 9) return NULL;
        long e = 0;
        for (; (c = digit(p, end)) <= 9; p++)
            if (e < 100000) e = e * 10 + c;
        exp10 += eneg ? -e : e;
    }
    double d;
    if (integer && exact && (ndig < 19 || mant <= (uint64_t)INT64_MAX + (neg ? 1u : 0u))) {
        d = neg ? (mant ? (double)(int64_t)(0 - mant) : -0.0) : (double)(int64_t)mant;
    } else if (exact && mant <= (1ull << 53) && exp10 >= -22 && exp10 <= 22) {
        d = exp10 < 0 ? (double)mant / k_pow10[-exp10] : (double)mant * k_pow10[exp10];
        if (neg) d = -d;
    } else {
        size_t n = (size_t)(p - start);
        char buf[128];
        if (n >= sizeof buf) return NULL; /* rare: the DOM handles it */
        memcpy(buf, start, n);
        buf[n] = '\0';
        char *stop;
        d = strtod(buf, &stop);
        if (stop != buf + n) return NULL;
    }
    if (d - d != 0) return NULL; /* infinite */
    *out = d;
    return p;
}

/* A coordinate with at most two decimals and |value| <= VT_RLE_MAX_COORD, as int32 hundredths; NULL for
 * anything else (read_double then decides). */
static inline const char *read_hundredths(const char *p, const char *end, int32_t *out) {
    bool neg = p < end && *p == '-';
    p += neg;
    unsigned c = digit(p, end);
    if (c > 9) return NULL;
    uint64_t v = c;
    p++;
    if (c == 0) {
        if (digit(p, end) <= 9) return NULL;
    } else {
        for (; (c = digit(p, end)) <= 9; p++)
            if ((v = v * 10 + c) > (uint64_t)VT_RLE_MAX_COORD) return NULL;
    }
    v *= 100;
    if (p < end && *p == '.') {
        if ((c = digit(++p, end)) > 9) return NULL;
        v += 10 * c;
        if ((c = digit(++p, end)) <= 9) {
            v += c;
            if (digit(++p, end) <= 9) return NULL;
        }
    }
    if ((p < end && (*p == 'e' || *p == 'E')) || v > (uint64_t)(VT_RLE_MAX_COORD * 100)) return NULL;
    *out = neg ? -(int32_t)v : (int32_t)v;
    return p;
}

/* read_hundredths for p at least 16 bytes before the end: no bounds checks (it reads at most 14 bytes). */
static inline const char *read_hundredths_inside(const char *p, int32_t *out) {
    bool neg = *p == '-';
    p += neg;
    unsigned c = (unsigned)(*p - '0');
    if (c > 9) return NULL;
    uint32_t v = c;
    p++;
    if (c == 0) {
        if ((unsigned)(*p - '0') <= 9) return NULL;
    } else {
        for (int i = 0; (c = (unsigned)(*p - '0')) <= 9; p++)
            if (++i > 6) return NULL; /* 8+ digits may pass VT_RLE_MAX_COORD: read_double decides */
            else v = v * 10 + c;
    }
    v *= 100;
    if (*p == '.') {
        if ((c = (unsigned)(*++p - '0')) > 9) return NULL;
        v += 10 * c;
        if ((c = (unsigned)(*++p - '0')) <= 9) {
            v += c;
            if ((unsigned)(*++p - '0') <= 9) return NULL;
        }
    }
    if (*p == 'e' || *p == 'E') return NULL;
    *out = neg ? -(int32_t)v : (int32_t)v;
    return p;
}

/* A bbox value: most have at most two decimals, and then h / 100.0 is the correctly rounded value, as
 * strtod's (but -0.00 must stay -0.0). */
static inline const char *read_box_value(const char *p, const char *end, double *out) {
    int32_t h;
    const char *q = end - p > 16 ? read_hundredths_inside(p, &h) : NULL;
    if (q && h != 0) {
        *out = h / 100.0;
        return q;
    }
    return read_double(p, end, out);
}

/* ---- one annotation ---- */

enum { F_ID = 1, F_IMAGE = 2, F_CAT = 4, F_BBOX = 8, F_AREA = 16, F_CROWD = 32, F_SEG = 64 };

static int field_of(const char *k, size_t n) {
    switch (n) {
    case 2: return !memcmp(k, "id", 2) ? F_ID : 0;
    case 4: return !memcmp(k, "bbox", 4) ? F_BBOX : !memcmp(k, "area", 4) ? F_AREA : 0;
    case 7: return !memcmp(k, "iscrowd", 7) ? F_CROWD : 0;
    case 8: return !memcmp(k, "image_id", 8) ? F_IMAGE : 0;
    case 11: return !memcmp(k, "category_id", 11) ? F_CAT : 0;
    case 12: return !memcmp(k, "segmentation", 12) ? F_SEG : 0;
    default: return 0;
    }
}

/* Polygons into the pools past their committed ends, as seg_polygons stores them. p just after '['. */
static int read_polygons(coco_builder *b, const char *p, const char *end, vt_coco_ann *a, const char **out) {
    vt_coco *c = b->c;
    size_t np = 0, total = 0, f0 = b->n_fixed, d0 = b->n_coords;
    bool fixed = true;
    p = ws(p, end);
    if (p < end && *p == ']') { /* [] is no segmentation */
        *out = p + 1;
        return 0;
    }
    for (;;) {
        if (p >= end || *p != '[') return 1;
        if (grow(&c->poly_lens, &b->cap_lens, b->n_lens + np + 1, sizeof *c->poly_lens)) return -1;
        p = ws(p + 1, end);
        size_t n = 0;
        if (p < end && *p == ']') p++;
        else
            for (;;) {
                size_t at = total + n;
                if (fixed) {
                    if (f0 + at >= b->cap_fixed && grow(&c->fixed, &b->cap_fixed, f0 + at + 1, sizeof *c->fixed))
                        return -1;
                    int32_t h;
                    const char *q = end - p > 16 ? read_hundredths_inside(p, &h) : read_hundredths(p, end, &h);
                    if (q) {
                        c->fixed[f0 + at] = h;
                        p = q;
                    } else {
                        double d;
                        if (!(q = read_double(p, end, &d)) || fabs(d) > VT_RLE_MAX_COORD) return 1;
                        p = q;
                        double r = nearbyint(d * 100);
                        if (r / 100.0 == d) {
                            c->fixed[f0 + at] = (int32_t)r;
                        } else { /* from here on doubles, earlier ones moved over */
                            fixed = false;
                            if (grow(&c->coords, &b->cap_coords, d0 + at + 1, sizeof *c->coords)) return -1;
                            for (size_t t = 0; t < at; t++) c->coords[d0 + t] = c->fixed[f0 + t] / 100.0;
                            c->coords[d0 + at] = d;
                        }
                    }
                } else {
                    if (d0 + at >= b->cap_coords && grow(&c->coords, &b->cap_coords, d0 + at + 1, sizeof *c->coords))
                        return -1;
                    double d;
                    const char *q = read_double(p, end, &d);
                    if (!q || fabs(d) > VT_RLE_MAX_COORD) return 1;
                    c->coords[d0 + at] = d;
                    p = q;
                }
                n++;
                p = ws(p, end);
                if (p < end && *p == ',') {
                    p = ws(p + 1, end);
                    continue;
                }
                if (p < end && *p == ']') {
                    p++;
                    break;
                }
                return 1;
            }
        if (n % 2 || n > INT32_MAX) return 1;
        c->poly_lens[b->n_lens + np++] = (int32_t)n;
        total += n;
        p = ws(p, end);
        if (p < end && *p == ',') {
            p = ws(p + 1, end);
            continue;
        }
        if (p < end && *p == ']') break;
        return 1;
    }
    a->lens_off = b->n_lens;
    a->n_polys = (uint32_t)np;
    a->n_data = total;
    a->seg_fixed = fixed;
    a->data_off = fixed ? f0 : d0;
    a->seg_kind = VT_COCO_SEG_POLYGONS;
    *out = p + 1;
    return 0;
}

/* 0: read and committed, *out after the object; 1: not the common shape (use the DOM); -1: out of memory. */
static int read_annotation(coco_builder *b, const char *p, const char *end, size_t off, const char **out) {
    if (p >= end || *p != '{') return 1;
    vt_coco_ann a = {.id = -1};
    int64_t image_id = 0, cat_id = 0, crowd = 0;
    int seen = 0;
    p = ws(p + 1, end);
    for (;;) {
        if (p >= end || *p != '"') return 1;
        const char *k = p + 1, *ke = k;
        while (ke < end && *ke != '"' && *ke != '\\') ke++;
        if (ke >= end || *ke != '"') return 1;
        int f = field_of(k, (size_t)(ke - k));
        if (!f || (seen & f)) return 1;
        seen |= f;
        p = ws(ke + 1, end);
        if (p >= end || *p != ':') return 1;
        p = ws(p + 1, end);
        const char *q = NULL;
        switch (f) {
        case F_ID: q = read_int(p, end, &a.id); break;
        case F_IMAGE: q = read_int(p, end, &image_id); break;
        case F_CAT: q = read_int(p, end, &cat_id); break;
        case F_CROWD:
            if ((q = read_int(p, end, &crowd)) && (crowd < 0 || crowd > 1)) return 1;
            break;
        case F_AREA: q = read_double(p, end, &a.area); break;
        case F_BBOX:
            if (*p != '[') return 1;
            q = p + 1;
            for (int i = 0; i < 4 && q; i++) {
                q = read_box_value(ws(q, end), end, &a.bbox[i]);
                if (q) q = ws(q, end);
                if (q && (q >= end || *q != (i < 3 ? ',' : ']'))) q = NULL;
                if (q) q++;
            }
            if (q && (a.bbox[2] < 0 || a.bbox[3] < 0)) return 1;
            break;
        case F_SEG: {
            if (*p != '[') return 1;
            int rc = read_polygons(b, p + 1, end, &a, &q);
            if (rc) return rc;
            break;
        }
        }
        if (!q) return 1;
        p = ws(q, end);
        if (p < end && *p == ',') {
            p = ws(p + 1, end);
            continue;
        }
        if (p < end && *p == '}') break;
        return 1;
    }
    if ((seen & (F_IMAGE | F_CAT | F_BBOX)) != (F_IMAGE | F_CAT | F_BBOX)) return 1;
    a.iscrowd = (uint8_t)crowd;
    vt_coco *c = b->c;
    size_t n = c->n_anns, c1 = b->cap_anns, c2 = b->cap_anns, c3 = b->cap_anns;
    if (grow(&c->anns, &b->cap_anns, n + 1, sizeof *c->anns) || grow(&b->ann_image, &c1, n + 1, sizeof(int64_t)) ||
        grow(&b->ann_cat, &c2, n + 1, sizeof(int64_t)) || grow(&b->ann_off, &c3, n + 1, sizeof(size_t)))
        return -1;
    if (a.seg_kind == VT_COCO_SEG_POLYGONS) {
        b->n_lens += a.n_polys;
        if (a.seg_fixed) b->n_fixed += a.n_data;
        else b->n_coords += a.n_data;
    }
    c->anns[n] = a;
    b->ann_image[n] = image_id, b->ann_cat[n] = cat_id, b->ann_off[n] = off;
    c->n_anns++;
    *out = p + 1;
    return 0;
}

/* ---- one image ---- */

/* A string of printable ASCII without escapes (what the DOM would give back unchanged); NULL otherwise.
 * p at the opening quote; *s, *n receive the text. */
static const char *read_plain_string(const char *p, const char *end, const char **s, size_t *n) {
    if (p >= end || *p != '"') return NULL;
    const char *q = p + 1;
    while (q < end && *q != '"' && (unsigned char)*q >= 0x20 && (unsigned char)*q < 0x7f && *q != '\\') q++;
    if (q >= end || *q != '"') return NULL;
    *s = p + 1, *n = (size_t)(q - p - 1);
    return q + 1;
}

enum { I_ID = 1, I_W = 2, I_H = 4, I_FILE = 8 };

/* As read_annotation, for an element of "images" (coco_add_image's result). Other members must be plain
 * integers or plain strings, which are valid JSON without looking further. */
static int read_image(coco_builder *b, const char *p, const char *end, size_t off, const char **out) {
    if (p >= end || *p != '{') return 1;
    int64_t id = 0, w = 0, h = 0, skip;
    const char *name = NULL, *sv;
    size_t name_len = 0, sn;
    int seen = 0;
    p = ws(p + 1, end);
    for (;;) {
        const char *k, *q;
        size_t kn;
        if (!(q = read_plain_string(p, end, &k, &kn))) return 1;
        int f = kn == 2 && !memcmp(k, "id", 2) ? I_ID : kn == 5 && !memcmp(k, "width", 5) ? I_W
              : kn == 6 && !memcmp(k, "height", 6) ? I_H : kn == 9 && !memcmp(k, "file_name", 9) ? I_FILE : 0;
        if (seen & f) return 1; /* repeated: the DOM takes the first */
        seen |= f;
        p = ws(q, end);
        if (p >= end || *p != ':') return 1;
        p = ws(p + 1, end);
        switch (f) {
        case I_ID: q = read_int(p, end, &id); break;
        case I_W: q = read_int(p, end, &w); break;
        case I_H: q = read_int(p, end, &h); break;
        case I_FILE: q = read_plain_string(p, end, &name, &name_len); break;
        default: q = p < end && *p == '"' ? read_plain_string(p, end, &sv, &sn) : read_int(p, end, &skip); break;
        }
        if (!q) return 1;
        p = ws(q, end);
        if (p < end && *p == ',') {
            p = ws(p + 1, end);
            continue;
        }
        if (p < end && *p == '}') break;
        return 1;
    }
    if (seen != (I_ID | I_W | I_H | I_FILE) || w <= 0 || h <= 0 || w > INT32_MAX || h > INT32_MAX) return 1;
    vt_coco *c = b->c;
    size_t cap = b->cap_images;
    if (c->strings_len + name_len + 1 > UINT32_MAX) return 1;
    if (grow(&c->images, &b->cap_images, c->n_images + 1, sizeof *c->images) ||
        grow(&b->img_off, &cap, c->n_images + 1, sizeof *b->img_off) ||
        grow(&c->strings, &b->cap_strings, c->strings_len + name_len + 1, 1))
        return -1;
    vt_coco_image *im = &c->images[c->n_images];
    memset(im, 0, sizeof *im);
    im->id = id, im->width = (int32_t)w, im->height = (int32_t)h;
    memcpy(c->strings + c->strings_len, name, name_len);
    c->strings[c->strings_len + name_len] = '\0';
    im->file_name = (uint32_t)c->strings_len;
    c->strings_len += name_len + 1;
    b->img_off[c->n_images++] = off;
    *out = p + 1;
    return 0;
}

/* ---- pieces ---- */

/* Where a piece's text comes from: pread into a window that slides along (file pages are then never
 * mapped into the process, which costs more kernel time than copying them, and never count in its
 * memory), or the text itself when it is not a mapping. */
typedef struct window {
    const coco_builder *b;
    char *buf;
    size_t cap, off, n; /* buf holds the file's bytes [off, off + n) */
} window;

#define WINDOW_BYTES ((size_t)8 << 20)
#define AHEAD_BYTES ((size_t)1 << 20) /* an element shorter than this never needs a second try */

/* Makes the window hold [pos, pos + want) or up to the end of the file; -1 on a read error or out of
 * memory. */
static int window_at(window *w, size_t pos, size_t want) {
    const coco_builder *b = w->b;
    if (!b->mapped && !w->buf) { /* text is a copy in memory: no window */
        w->off = 0, w->n = b->len;
        return 0;
    }
    if (!b->mapped) return 0;
    if (pos >= w->off && pos - w->off <= w->n && (w->off + w->n - pos >= want || w->off + w->n == b->len))
        return 0;
    if (want > w->cap / 2) {
        size_t nc = w->cap;
        while (want > nc / 2) nc *= 2;
        char *nb = malloc(nc);
        if (!nb) return -1;
        if (pos >= w->off && pos - w->off < w->n) memcpy(nb, w->buf + (pos - w->off), w->off + w->n - pos);
        free(w->buf);
        w->buf = nb, w->cap = nc;
    } else if (pos >= w->off && pos - w->off < w->n) {
        memmove(w->buf, w->buf + (pos - w->off), w->off + w->n - pos);
    }
    size_t have = pos >= w->off && pos - w->off < w->n ? w->off + w->n - pos : 0;
    w->off = pos, w->n = have;
    while (w->n < w->cap && w->off + w->n < b->len) {
        size_t ask = w->cap - w->n < b->len - w->off - w->n ? w->cap - w->n : b->len - w->off - w->n;
        ssize_t r = pread(b->fd, w->buf + w->n, ask, (off_t)(w->off + w->n));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        w->n += (size_t)r;
    }
    return 0;
}

static const char *window_ptr(const window *w, size_t pos) {
    return (w->buf ? w->buf : w->b->text) + (pos - w->off);
}

typedef struct piece {
    int (*read)(coco_builder *b, const char *p, const char *end, size_t off, const char **out);
    vt_status (*add)(coco_builder *b, const vt_json *v, size_t off); /* the batch path's, for the rest */
    coco_builder *b; /* the caller's for the first piece, &own for the others */
    size_t window;   /* read window size, 0: the default */
    coco_builder own;
    vt_err err;
    size_t start, limit; /* first element; stop at the first element start at or past limit (offsets) */
    size_t stop;         /* that element start, or just after ']' */
    bool closed;         /* ']' reached */
    size_t broken;       /* broken JSON here, or SIZE_MAX */
    vt_status st;        /* out of memory, read error */
} piece;

static void *read_piece(void *arg) {
    piece *pc = arg;
    coco_builder *b = pc->b;
    window w = {.b = b};
    pc->broken = SIZE_MAX;
    size_t cap = pc->window ? pc->window : WINDOW_BYTES, ahead = pc->window ? cap / 8 : AHEAD_BYTES;
    if (b->mapped && !(w.buf = malloc(cap))) {
        pc->st = vt_err_set(b->err, VT_ENOMEM, "%s: out of memory", b->name);
        return NULL;
    }
    w.cap = b->mapped ? cap : 0;
    size_t pos = pc->start, want = ahead;
    bool element = true, first = true; /* next: an element, or the ',' or ']' after one */
    for (;;) {
        if (window_at(&w, pos, want)) {
            pc->st = vt_err_set(b->err, VT_EIO, "%s: cannot read the file", b->name);
            break;
        }
        bool at_eof = w.off + w.n == b->len;
        const char *base = window_ptr(&w, w.off), *end = base + w.n, *p = ws(base + (pos - w.off), end), *q;
        if (p == end && !at_eof) { /* whitespace longer than the window */
            want = 2 * (size_t)(end - base) + ahead;
            continue;
        }
        size_t at = w.off + (size_t)(p - base);
        if (element) {
            if (!first && at >= pc->limit) {
                pc->stop = at;
                break;
            }
            first = false;
            int rc = pc->read(b, p, end, at, &q);
            if (rc < 0) {
                pc->st = vt_err_set(b->err, VT_ENOMEM, "%s: out of memory", b->name);
                break;
            }
            if (rc > 0) { /* not the common shape, or cut by the window's end */
                q = coco_skip_value(p, end);
                if (!q && !at_eof) { /* longer than the window holds: widen it, read the element again */
                    want = 2 * (size_t)(end - p) + ahead;
                    pos = at;
                    continue;
                }
                vt_json_doc *doc = NULL;
                if (!q || vt_json_parse(p, (size_t)(q - p), NULL, &doc, NULL, NULL) != VT_OK) {
                    pc->broken = at;
                    break;
                }
                pc->st = pc->add(b, vt_json_root(doc), at);
                vt_json_doc_free(doc);
                if (pc->st) break;
            }
            want = ahead;
            element = false;
            p = ws(q, end);
            if (p == end && !at_eof) {
                pos = w.off + (size_t)(q - base);
                continue;
            }
            at = w.off + (size_t)(p - base);
        }
        if (p < end && *p == ',') {
            pos = at + 1;
            element = true;
            continue;
        }
        if (p < end && *p == ']') {
            pc->closed = true;
            pc->stop = at + 1;
            break;
        }
        pc->broken = at;
        break;
    }
    free(w.buf);
    return NULL;
}

/* The next "}" "," "{" from g: a likely element start (only ever a guess). */
static const char *find_start(const char *g, const char *end) {
    while (g < end && (g = memchr(g, '}', (size_t)(end - g)))) {
        const char *q = ws(g + 1, end);
        if (q < end && *q == ',' && (q = ws(q + 1, end)) < end && *q == '{') return q;
        g++;
    }
    return NULL;
}

typedef struct copy_job {
    void *dst;
    const void *src;
    size_t n;
} copy_job;

static void *copy_run(void *arg) {
    copy_job *j = arg;
    memcpy(j->dst, j->src, j->n);
    return NULL;
}

/* Appends what piece o read to b, moving pool offsets past b's. */
static vt_status append(coco_builder *b, coco_builder *o) {
    vt_coco *c = b->c, *s = o->c;
    size_t na = c->n_anns + s->n_anns, c1 = b->cap_anns, c2 = b->cap_anns, c3 = b->cap_anns;
    size_t nc = c->n_caps + s->n_caps, k1 = b->cap_caps, k2 = b->cap_caps;
    if (grow(&c->anns, &b->cap_anns, na, sizeof *c->anns) || grow(&b->ann_image, &c1, na, sizeof(int64_t)) ||
        grow(&b->ann_cat, &c2, na, sizeof(int64_t)) || grow(&b->ann_off, &c3, na, sizeof(size_t)) ||
        grow(&c->caps, &b->cap_caps, nc, sizeof *c->caps) || grow(&b->cap_image, &k1, nc, sizeof(int64_t)) ||
        grow(&b->cap_off, &k2, nc, sizeof(size_t)) ||
        grow(&c->poly_lens, &b->cap_lens, b->n_lens + o->n_lens, sizeof *c->poly_lens) ||
        grow(&c->fixed, &b->cap_fixed, b->n_fixed + o->n_fixed, sizeof *c->fixed) ||
        grow(&c->coords, &b->cap_coords, b->n_coords + o->n_coords, sizeof *c->coords) ||
        grow(&c->counts, &b->cap_counts, b->n_counts + o->n_counts, sizeof *c->counts) ||
        grow(&c->strings, &b->cap_strings, c->strings_len + s->strings_len, 1))
        return vt_err_set(b->err, VT_ENOMEM, "%s: out of memory", b->name);
    /* the largest pool is copied on a second thread meanwhile (the copy is most of the serial time) */
    copy_job job = {o->n_fixed ? c->fixed + b->n_fixed : NULL, s->fixed, o->n_fixed * sizeof *c->fixed};
    pthread_t th;
    bool threaded = job.n > ((size_t)1 << 20) && pthread_create(&th, NULL, copy_run, &job) == 0;
    if (!threaded && job.n) memcpy(job.dst, job.src, job.n);
    for (size_t i = 0; i < s->n_anns; i++) {
        vt_coco_ann a = s->anns[i];
        if (a.seg_kind == VT_COCO_SEG_POLYGONS) {
            a.lens_off += b->n_lens;
            a.data_off += a.seg_fixed ? b->n_fixed : b->n_coords;
        } else if (a.seg_kind == VT_COCO_SEG_RLE) {
            a.data_off += b->n_counts;
        }
        c->anns[c->n_anns + i] = a;
    }
    if (s->n_anns) { /* (memcpy with NULL is undefined even for 0 bytes) */
        memcpy(b->ann_image + c->n_anns, o->ann_image, s->n_anns * sizeof(int64_t));
        memcpy(b->ann_cat + c->n_anns, o->ann_cat, s->n_anns * sizeof(int64_t));
        memcpy(b->ann_off + c->n_anns, o->ann_off, s->n_anns * sizeof(size_t));
    }
    c->n_anns = na;
    for (size_t i = 0; i < s->n_caps; i++) {
        c->caps[c->n_caps + i] = s->caps[i];
        c->caps[c->n_caps + i].text += (uint32_t)c->strings_len;
    }
    if (s->n_caps) {
        memcpy(b->cap_image + c->n_caps, o->cap_image, s->n_caps * sizeof(int64_t));
        memcpy(b->cap_off + c->n_caps, o->cap_off, s->n_caps * sizeof(size_t));
    }
    c->n_caps = nc;
    if (o->n_lens) memcpy(c->poly_lens + b->n_lens, s->poly_lens, o->n_lens * sizeof *c->poly_lens);
    if (o->n_coords) memcpy(c->coords + b->n_coords, s->coords, o->n_coords * sizeof *c->coords);
    if (o->n_counts) memcpy(c->counts + b->n_counts, s->counts, o->n_counts * sizeof *c->counts);
    if (s->strings_len) memcpy(c->strings + c->strings_len, s->strings, s->strings_len);
    if (threaded) pthread_join(th, NULL);
    b->n_lens += o->n_lens, b->n_fixed += o->n_fixed, b->n_coords += o->n_coords, b->n_counts += o->n_counts;
    c->strings_len += s->strings_len;
    for (int k = 0; k < VT_COCO_BAD_COUNT; k++) {
        if (!c->n_bad[k] && s->n_bad[k]) memcpy(c->first_bad[k], s->first_bad[k], sizeof c->first_bad[k]);
        c->n_bad[k] += s->n_bad[k];
    }
    return VT_OK;
}

static void free_own(piece *pc) {
    if (pc->b != &pc->own) return;
    coco_builder_free(&pc->own);
    vt_coco_free(pc->own.c);
    pc->b = NULL;
}

/* Checks one finished piece in file order: 1 means go on with the next piece. */
static int settle(coco_builder *b, piece *pc, vt_status *st, const char **pp) {
    if (pc->st) {
        if (pc->b != b && b->err) *b->err = pc->err;
        *st = pc->st;
        return 0;
    }
    if (pc->broken != SIZE_MAX) {
        *st = coco_syntax_error(b, b->text + pc->broken, b->err);
        return 0;
    }
    if (pc->b != b) {
        if ((*st = append(b, &pc->own))) return 0;
        free_own(pc); /* early: less memory at the peak */
    }
    if (pc->closed) *pp = b->text + pc->stop;
    return !pc->closed;
}

typedef int (*read_fn)(coco_builder *b, const char *p, const char *end, size_t off, const char **out);
typedef vt_status (*add_fn)(coco_builder *b, const vt_json *v, size_t off);

/* One array read in up to max_pieces pieces (see the top of the file). */
static vt_status fast_array(coco_builder *b, const char *p, const char **pp, read_fn rd, add_fn add, size_t max_pieces) {
    const char *end = b->text + b->len;
    p = ws(p, end);
    if (p < end && *p == ']') {
        *pp = p + 1;
        return VT_OK;
    }
    size_t piece_bytes = PIECE_BYTES, rest = (size_t)(end - p);
    const char *env = getenv("VISFT_COCO_PIECE_BYTES"); /* tests: up to MAX_PIECES pieces on small files */
    if (env && atol(env) > 0) piece_bytes = (size_t)atol(env);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    size_t n = rest / piece_bytes;
    if (!env && n > (size_t)(ncpu > 0 ? ncpu : 1)) n = (size_t)(ncpu > 0 ? ncpu : 1);
    if (n > max_pieces) n = max_pieces;
    piece pcs[MAX_PIECES];
    memset(pcs, 0, sizeof pcs);
    pcs[0].b = b, pcs[0].start = (size_t)(p - b->text);
    size_t k = 1;
    for (size_t i = 1; i < n; i++) {
        const char *s = find_start(p + rest / n * i, end);
        if (!s || (size_t)(s - b->text) <= pcs[k - 1].start) break;
        pcs[k].start = (size_t)(s - b->text);
        pcs[k].own = (coco_builder){.name = b->name, .text = b->text, .len = b->len, .mapped = b->mapped, .fd = b->fd,
                                    .policy = b->policy, .err = &pcs[k].err, .c = calloc(1, sizeof(vt_coco))};
        if (!pcs[k].own.c) break;
        pcs[k].b = &pcs[k].own;
        k++;
    }
    pthread_t th[MAX_PIECES];
    bool threaded[MAX_PIECES] = {false};
    const char *wenv = getenv("VISFT_COCO_WINDOW_BYTES"); /* tests: elements cut by the window's end */
    size_t window = wenv && atol(wenv) >= 64 ? (size_t)atol(wenv) : 0;
    for (size_t i = 0; i < k; i++) {
        pcs[i].read = rd, pcs[i].add = add, pcs[i].window = window;
        pcs[i].limit = i + 1 < k ? pcs[i + 1].start : b->len;
        if (i) threaded[i] = pthread_create(&th[i], NULL, read_piece, &pcs[i]) == 0;
    }
    read_piece(&pcs[0]);
    for (size_t i = 1; i < k; i++) {
        if (threaded[i]) pthread_join(th[i], NULL);
        else read_piece(&pcs[i]);
    }
    vt_status st = VT_OK;
    for (size_t i = 0; i < k; i++) {
        if (!settle(b, &pcs[i], &st, pp)) break;
        if (i + 1 < k && pcs[i].stop == pcs[i + 1].start) continue;
        /* the next guess was wrong (or this was the last piece and it ran into the end): read on here */
        piece tail = {.read = rd, .add = add, .b = b, .window = window, .start = pcs[i].stop, .limit = b->len};
        read_piece(&tail);
        if (settle(b, &tail, &st, pp)) st = coco_syntax_error(b, b->text + tail.stop, b->err);
        break;
    }
    for (size_t i = 1; i < k; i++) free_own(&pcs[i]);
    return st;
}

vt_status coco_fast_annotations(coco_builder *b, const char *p, const char **pp) {
    return fast_array(b, p, pp, read_annotation, coco_add_annotation, MAX_PIECES);
}

/* One piece: appending images would need their strings and ids merged too, and they are a small part. */
vt_status coco_fast_images(coco_builder *b, const char *p, const char **pp) {
    return fast_array(b, p, pp, read_image, coco_add_image, 1);
}
