/* COCO RLE mask math (see visft/coco_mask.h). The algorithms follow pycocotools' maskApi.c step for step,
 * including its integer widths and rounding, because COCO's ground truth is defined by what that code
 * computes: the polygon rasteriser walks each edge on a 5× grid, rounds with (int)(v + .5), and keeps only
 * the crossings of pixel-column centres. Where maskApi.c has undefined behaviour on bad input (NaN
 * coordinates, counts not covering the mask, unterminated strings) this module returns an error instead. */
#include "visft/coco_mask.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void vt_rle_free(vt_rle *r) {
    if (!r) return;
    free(r->counts);
    memset(r, 0, sizeof *r);
}

static vt_status oom(vt_err *err, const char *what) {
    return vt_err_set(err, VT_ENOMEM, "%s: out of memory", what);
}

vt_status vt_rle_check_size(int64_t h, int64_t w, const char *what, vt_err *err) {
    if (h < 0 || w < 0)
        return vt_err_set(err, VT_EINVAL, "%s: negative mask size %lldx%lld (h x w)", what, (long long)h,
                          (long long)w);
    /* COCO counts are 32-bit: a mask must have fewer than 2^32 pixels. */
    if (h > UINT32_MAX || w > UINT32_MAX || (h && (uint64_t)w > UINT32_MAX / (uint64_t)h))
        return vt_err_set(err, VT_EINVAL, "%s: mask size %lldx%lld has 2^32 pixels or more", what,
                          (long long)h, (long long)w);
    return VT_OK;
}

/* Takes ownership of counts[0..m). */
static void rle_set(vt_rle *r, int64_t h, int64_t w, uint32_t *counts, size_t m) {
    r->h = (uint32_t)h;
    r->w = (uint32_t)w;
    r->m = m;
    r->counts = counts;
}

static uint64_t counts_sum(const uint32_t *c, size_t m) {
    uint64_t s = 0;
    for (size_t i = 0; i < m; i++) s += c[i];
    return s;
}

vt_status vt_rle_copy(const vt_rle *src, vt_rle *dst, vt_err *err) {
    memset(dst, 0, sizeof *dst);
    uint32_t *c = NULL;
    if (src->m) {
        c = malloc(src->m * sizeof *c);
        if (!c) return oom(err, "rle copy");
        memcpy(c, src->counts, src->m * sizeof *c);
    }
    rle_set(dst, src->h, src->w, c, src->m);
    return VT_OK;
}

/* The one-count RLE of an all-zero mask. */
static vt_status rle_empty(int64_t h, int64_t w, vt_rle *out, vt_err *err) {
    uint32_t *c = malloc(sizeof *c);
    if (!c) return oom(err, "rle");
    c[0] = (uint32_t)(h * w);
    rle_set(out, h, w, c, 1);
    return VT_OK;
}

vt_status vt_rle_from_counts(const int64_t *counts, size_t m, int64_t h, int64_t w, vt_rle *out, vt_err *err) {
    memset(out, 0, sizeof *out);
    vt_status st = vt_rle_check_size(h, w, "rle", err);
    if (st) return st;
    uint64_t sum = 0;
    for (size_t i = 0; i < m; i++) {
        if (counts[i] < 0 || counts[i] > UINT32_MAX)
            return vt_err_set(err, VT_EFORMAT, "rle: count %zu is %lld, outside [0, 2^32)", i,
                              (long long)counts[i]);
        sum += (uint64_t)counts[i];
    }
    if (sum != (uint64_t)(h * w))
        return vt_err_set(err, VT_EFORMAT, "rle: counts sum to %llu, expected h*w = %lld*%lld = %lld",
                          (unsigned long long)sum, (long long)h, (long long)w, (long long)(h * w));
    uint32_t *c = m ? malloc(m * sizeof *c) : NULL;
    if (m && !c) return oom(err, "rle");
    for (size_t i = 0; i < m; i++) c[i] = (uint32_t)counts[i];
    rle_set(out, h, w, c, m);
    return VT_OK;
}

/* ---- compressed string form ---- */

/* 7 chars carry 35 bits: enough for any delta of two 32-bit counts. */
#define RLE_MAX_CHARS 7

vt_status vt_rle_from_string(const char *s, size_t len, int64_t h, int64_t w, vt_rle *out, vt_err *err) {
    memset(out, 0, sizeof *out);
    vt_status st = vt_rle_check_size(h, w, "rle string", err);
    if (st) return st;
    uint32_t *c = malloc((len ? len : 1) * sizeof *c); /* at most one count per char */
    if (!c) return oom(err, "rle string");
    size_t m = 0, p = 0;
    uint64_t sum = 0;
    while (p < len) {
        size_t start = p;
        uint64_t ux = 0;
        int k = 0, more = 1;
        while (more) {
            if (p >= len) {
                free(c);
                return vt_err_set(err, VT_EFORMAT, "rle string: value starting at byte %zu is cut off at the end",
                                  start);
            }
            unsigned char ch = (unsigned char)s[p];
            if (ch < 48 || ch > 111) {
                free(c);
                return vt_err_set(err, VT_EFORMAT, "rle string: invalid character 0x%02x at byte %zu", ch, p);
            }
            if (k == RLE_MAX_CHARS) {
                free(c);
                return vt_err_set(err, VT_EFORMAT, "rle string: value at byte %zu is longer than %d characters",
                                  start, RLE_MAX_CHARS);
            }
            unsigned v = ch - 48u;
            ux |= (uint64_t)(v & 0x1f) << (5 * k);
            more = (v & 0x20) != 0;
            p++;
            k++;
            if (!more && (v & 0x10)) ux |= ~UINT64_C(0) << (5 * k); /* sign-extend */
        }
        int64_t x;
        memcpy(&x, &ux, sizeof x);
        if (m > 2) x += c[m - 2];
        if (x < 0 || x > UINT32_MAX) {
            free(c);
            return vt_err_set(err, VT_EFORMAT, "rle string: count %zu (byte %zu) is %lld, outside [0, 2^32)", m,
                              start, (long long)x);
        }
        c[m++] = (uint32_t)x;
        sum += (uint64_t)x;
    }
    if (sum != (uint64_t)(h * w)) {
        free(c);
        return vt_err_set(err, VT_EFORMAT, "rle string: counts sum to %llu, expected h*w = %lld*%lld = %lld",
                          (unsigned long long)sum, (long long)h, (long long)w, (long long)(h * w));
    }
    rle_set(out, h, w, c, m);
    return VT_OK;
}

char *vt_rle_to_string(const vt_rle *r, size_t *len) {
    char *s = malloc(r->m * RLE_MAX_CHARS + 1);
    if (!s) return NULL;
    size_t p = 0;
    for (size_t i = 0; i < r->m; i++) {
        int64_t x = r->counts[i];
        if (i > 2) x -= r->counts[i - 2]; /* COCO delta-codes from the fourth count on */
        int more = 1;
        while (more) {
            int c = (int)(x & 0x1f);
            x >>= 5; /* arithmetic: gcc and clang shift signed values arithmetically */
            more = (c & 0x10) ? x != -1 : x != 0;
            if (more) c |= 0x20;
            s[p++] = (char)(c + 48);
        }
    }
    s[p] = '\0';
    if (len) *len = p;
    return s;
}

/* ---- pixels ---- */

vt_status vt_rle_encode(const uint8_t *mask, int64_t h, int64_t w, vt_rle *out, vt_err *err) {
    memset(out, 0, sizeof *out);
    vt_status st = vt_rle_check_size(h, w, "rle encode", err);
    if (st) return st;
    uint64_t n = (uint64_t)(h * w);
    /* Count the runs first so the counts array is exact. */
    size_t m = 1;
    uint8_t p = 0;
    for (int64_t x = 0; x < w; x++)
        for (int64_t y = 0; y < h; y++) {
            uint8_t v = mask[y * w + x] != 0;
            if (v != p) m++, p = v;
        }
    uint32_t *c = malloc(m * sizeof *c);
    if (!c) return oom(err, "rle encode");
    size_t k = 0;
    uint32_t run = 0;
    p = 0;
    for (int64_t x = 0; x < w; x++)
        for (int64_t y = 0; y < h; y++) {
            uint8_t v = mask[y * w + x] != 0;
            if (v != p) c[k++] = run, run = 0, p = v;
            run++;
        }
    c[k++] = run;
    (void)n;
    rle_set(out, h, w, c, k);
    return VT_OK;
}

void vt_rle_to_mask(const vt_rle *r, uint8_t *mask) {
    uint64_t n = (uint64_t)r->h * r->w, pos = 0;
    if (!n) return;
    memset(mask, 0, n);
    uint8_t v = 0;
    for (size_t j = 0; j < r->m && pos < n; j++, v = !v) {
        uint64_t end = pos + r->counts[j];
        if (end > n) end = n; /* a hand-built RLE that overshoots is cut at the mask's end */
        if (v)
            for (uint64_t q = pos; q < end; q++) mask[(q % r->h) * r->w + q / r->h] = 1;
        pos = end;
    }
}

/* ---- polygons ---- */

typedef struct u32vec {
    uint32_t *a;
    size_t n, cap;
} u32vec;

static int u32vec_push(u32vec *v, uint32_t x) {
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 64;
        uint32_t *a = realloc(v->a, cap * sizeof *a);
        if (!a) return -1;
        v->a = a;
        v->cap = cap;
    }
    v->a[v->n++] = x;
    return 0;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x > y ? 1 : x < y ? -1 : 0;
}

/* The walk emits points (u, v) on the 5× grid one by one; only consecutive pairs matter, so nothing but the
 * column crossings is stored. */
typedef struct poly_walk {
    uint32_t h, w;
    int have_prev, pu, pv;
    u32vec cross; /* column-major pixel index of each crossing */
    int oom;
} poly_walk;

static void walk_point(poly_walk *pw, int u, int v) {
    if (pw->have_prev && u != pw->pu) {
        const double scale = 5;
        double xd = (double)(u < pw->pu ? u : u - 1);
        xd = (xd + .5) / scale - .5;
        if (floor(xd) == xd && xd >= 0 && xd <= (double)pw->w - 1) {
            double yd = (double)(v < pw->pv ? v : pw->pv);
            yd = (yd + .5) / scale - .5;
            if (yd < 0) yd = 0;
            else if (yd > pw->h) yd = pw->h;
            yd = ceil(yd);
            uint32_t idx = (uint32_t)xd * pw->h + (uint32_t)yd;
            if (u32vec_push(&pw->cross, idx)) pw->oom = 1;
        }
    }
    pw->have_prev = 1;
    pw->pu = u;
    pw->pv = v;
}

/* One edge, walked along its major axis from the lower end so both directions rasterise alike, then
 * emitted in the edge's own direction. Kept as separate statements so no compiler fuses s * t + ys into
 * an FMA, which would change the rounding. */
static void walk_edge(poly_walk *pw, int xs, int ys, int xe, int ye) {
    int dx = abs(xe - xs), dy = abs(ys - ye);
    int flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
    if (flip) {
        int t = xs;
        xs = xe, xe = t;
        t = ys;
        ys = ye, ye = t;
    }
    if (dx >= dy) {
        /* dx == dy == 0: maskApi.c divides 0 by 0 here; that point's v is never read (its u equals its
         * neighbours'), so 0 is as good. */
        double s = dx ? (double)(ye - ys) / dx : 0;
        for (int d = 0; d <= dx; d++) {
            int t = flip ? dx - d : d;
            double st = s * t;
            double yv = ys + st;
            walk_point(pw, t + xs, (int)(yv + .5));
        }
    } else {
        double s = (double)(xe - xs) / dy;
        for (int d = 0; d <= dy; d++) {
            int t = flip ? dy - d : d;
            double st = s * t;
            double xv = xs + st;
            walk_point(pw, (int)(xv + .5), t + ys);
        }
    }
}

static int scaled(double v) {
    double t = 5 * v; /* two statements: no FMA */
    return (int)(t + .5);
}

vt_status vt_rle_from_poly(const double *xy, size_t n_coords, int64_t h, int64_t w, vt_rle *out, vt_err *err) {
    memset(out, 0, sizeof *out);
    vt_status st = vt_rle_check_size(h, w, "polygon", err);
    if (st) return st;
    if (n_coords % 2)
        return vt_err_set(err, VT_EFORMAT, "polygon: odd number of coordinates (%zu); expected x, y pairs",
                          n_coords);
    for (size_t i = 0; i < n_coords; i++)
        if (!isfinite(xy[i]) || fabs(xy[i]) > VT_RLE_MAX_COORD)
            return vt_err_set(err, VT_EFORMAT, "polygon: coordinate %zu is %g (not finite or beyond +-%g)", i,
                              xy[i], VT_RLE_MAX_COORD);
    size_t k = n_coords / 2;
    if (k == 0 || h == 0 || w == 0) return rle_empty(h, w, out, err);

    poly_walk pw = {.h = (uint32_t)h, .w = (uint32_t)w};
    for (size_t j = 0; j < k; j++) {
        size_t nj = j + 1 < k ? j + 1 : 0; /* the polygon closes back to its first point */
        walk_edge(&pw, scaled(xy[2 * j]), scaled(xy[2 * j + 1]), scaled(xy[2 * nj]), scaled(xy[2 * nj + 1]));
    }
    if (!pw.oom && u32vec_push(&pw.cross, (uint32_t)(h * w))) pw.oom = 1;
    if (pw.oom) {
        free(pw.cross.a);
        return oom(err, "polygon");
    }
    /* Sorted crossings toggle the mask on and off; their differences are the runs. A zero difference
     * means two crossings at one pixel, which cancel: the run after them joins the run before. */
    uint32_t *a = pw.cross.a;
    size_t n = pw.cross.n;
    qsort(a, n, sizeof *a, cmp_u32);
    uint32_t prev = 0;
    for (size_t j = 0; j < n; j++) {
        uint32_t t = a[j];
        a[j] -= prev;
        prev = t;
    }
    size_t m = 0, j = 0;
    a[m++] = a[j++]; /* in place: m never passes j */
    while (j < n) {
        if (a[j] > 0) {
            a[m++] = a[j++];
        } else {
            j++;
            if (j < n) a[m - 1] += a[j++];
        }
    }
    uint32_t *c = realloc(a, m * sizeof *c);
    rle_set(out, h, w, c ? c : a, m);
    return VT_OK;
}

vt_status vt_rle_from_bbox(const double bb[4], int64_t h, int64_t w, vt_rle *out, vt_err *err) {
    double xs = bb[0], xe = xs + bb[2], ys = bb[1], ye = ys + bb[3];
    double xy[8] = {xs, ys, xs, ye, xe, ye, xe, ys};
    return vt_rle_from_poly(xy, 8, h, w, out, err);
}

/* ---- merge, area, bbox, IoU ---- */

static uint32_t umin(uint32_t a, uint32_t b) { return a < b ? a : b; }
static uint32_t umax(uint32_t a, uint32_t b) { return a > b ? a : b; }

/* Walks two run sequences of equal total together; out needs am + bm slots. Returns the count written. */
static size_t merge2(const uint32_t *A, size_t am, const uint32_t *B, size_t bm, bool intersect, uint32_t *out) {
    uint32_t ca = A[0], cb = B[0], run = 0, ct;
    int va = 0, vb = 0, v = 0;
    size_t ia = 1, ib = 1, m = 0;
    do {
        uint32_t c = umin(ca, cb);
        run += c;
        ca -= c;
        if (!ca && ia < am) ca = A[ia++], va = !va;
        cb -= c;
        if (!cb && ib < bm) cb = B[ib++], vb = !vb;
        ct = ca + cb; /* 32-bit, as in maskApi.c */
        int vp = v;
        v = intersect ? (va && vb) : (va || vb);
        if (v != vp || ct == 0) out[m++] = run, run = 0;
        if (c == 0 && ((!ca && ia == am) || (!cb && ib == bm)) && ct) break; /* unequal totals: stop */
    } while (ct > 0);
    return m;
}

vt_status vt_rle_merge(const vt_rle *rles, size_t n, bool intersect, vt_rle *out, vt_err *err) {
    memset(out, 0, sizeof *out);
    if (n == 0) return VT_OK;
    uint32_t h = rles[0].h, w = rles[0].w;
    uint64_t total = (uint64_t)h * w;
    for (size_t i = 0; i < n; i++) {
        if (rles[i].h != h || rles[i].w != w)
            return vt_err_set(err, VT_EINVAL, "rle merge: mask %zu is %ux%u, mask 0 is %ux%u", i, rles[i].h,
                              rles[i].w, h, w);
        if (counts_sum(rles[i].counts, rles[i].m) != total || (!rles[i].m && total))
            return vt_err_set(err, VT_EFORMAT, "rle merge: mask %zu: counts do not sum to h*w = %llu", i,
                              (unsigned long long)total);
    }
    if (n == 1) return vt_rle_copy(&rles[0], out, err);
    if (total == 0) return rle_empty(h, w, out, err); /* 0-pixel masks may come without counts */
    uint32_t *acc = malloc(rles[0].m * sizeof *acc);
    if (!acc) return oom(err, "rle merge");
    memcpy(acc, rles[0].counts, rles[0].m * sizeof *acc);
    size_t am = rles[0].m;
    for (size_t i = 1; i < n; i++) {
        uint32_t *next = malloc((am + rles[i].m + 1) * sizeof *next);
        if (!next) {
            free(acc);
            return oom(err, "rle merge");
        }
        am = merge2(acc, am, rles[i].counts, rles[i].m, intersect, next);
        free(acc);
        acc = next;
    }
    rle_set(out, h, w, acc, am);
    return VT_OK;
}

uint32_t vt_rle_area(const vt_rle *r) {
    uint32_t a = 0;
    for (size_t j = 1; j < r->m; j += 2) a += r->counts[j];
    return a;
}

void vt_rle_to_bbox(const vt_rle *r, double bb[4]) {
    uint32_t h = r->h, w = r->w, xs = w, ys = h, xe = 0, ye = 0, cc = 0, xp = 0;
    size_t m = r->m / 2 * 2; /* a trailing run of zeros does not matter */
    if (m == 0 || h == 0) {
        bb[0] = bb[1] = bb[2] = bb[3] = 0;
        return;
    }
    for (size_t j = 0; j < m; j++) {
        cc += r->counts[j];
        uint32_t t = cc - (uint32_t)(j % 2); /* first set pixel of a run, or the last one */
        uint32_t y = t % h, x = (t - y) / h;
        if (j % 2 == 0) xp = x;
        else if (xp < x) ys = 0, ye = h - 1; /* a run that wraps into the next column spans full height */
        xs = umin(xs, x);
        xe = umax(xe, x);
        ys = umin(ys, y);
        ye = umax(ye, y);
    }
    bb[0] = xs;
    bb[2] = (double)(uint32_t)(xe - xs + 1);
    bb[1] = ys;
    bb[3] = (double)(uint32_t)(ye - ys + 1);
}

void vt_bbox_iou(const double *dt, size_t n_dt, const double *gt, size_t n_gt, const uint8_t *iscrowd,
                 double *out) {
    for (size_t g = 0; g < n_gt; g++) {
        const double *G = gt + 4 * g;
        double ga = G[2] * G[3];
        int crowd = iscrowd && iscrowd[g];
        for (size_t d = 0; d < n_dt; d++) {
            const double *D = dt + 4 * d;
            double da = D[2] * D[3], *o = &out[d * n_gt + g];
            *o = 0;
            double iw = fmin(D[2] + D[0], G[2] + G[0]) - fmax(D[0], G[0]);
            if (iw <= 0) continue;
            double ih = fmin(D[3] + D[1], G[3] + G[1]) - fmax(D[1], G[1]);
            if (ih <= 0) continue;
            double i = iw * ih, u = crowd ? da : da + ga - i;
            *o = i / u;
        }
    }
}

/* Intersection and union pixel counts of two masks of one size (32-bit, as in maskApi.c). */
static void rle_inter_union(const vt_rle *a, const vt_rle *b, uint32_t *inter, uint32_t *uni) {
    uint32_t ca = a->counts[0], cb = b->counts[0], i = 0, u = 0, ct;
    int va = 0, vb = 0;
    size_t ia = 1, ib = 1;
    do {
        uint32_t c = umin(ca, cb);
        if (va || vb) {
            u += c;
            if (va && vb) i += c;
        }
        ca -= c;
        if (!ca && ia < a->m) ca = a->counts[ia++], va = !va;
        cb -= c;
        if (!cb && ib < b->m) cb = b->counts[ib++], vb = !vb;
        ct = ca + cb;
        if (c == 0 && ((!ca && ia == a->m) || (!cb && ib == b->m)) && ct) break; /* unequal totals */
    } while (ct > 0);
    *inter = i;
    *uni = u;
}

void vt_rle_iou(const vt_rle *dt, size_t n_dt, const vt_rle *gt, size_t n_gt, const uint8_t *iscrowd,
                double *out) {
    double *db = malloc((n_dt ? n_dt : 1) * 4 * sizeof *db), *gb = malloc((n_gt ? n_gt : 1) * 4 * sizeof *gb);
    if (!db || !gb) { /* no error channel here: report every pair as incomparable */
        for (size_t k = 0; k < n_dt * n_gt; k++) out[k] = -1;
        free(db);
        free(gb);
        return;
    }
    for (size_t d = 0; d < n_dt; d++) vt_rle_to_bbox(&dt[d], db + 4 * d);
    for (size_t g = 0; g < n_gt; g++) vt_rle_to_bbox(&gt[g], gb + 4 * g);
    vt_bbox_iou(db, n_dt, gb, n_gt, iscrowd, out);
    free(db);
    free(gb);
    for (size_t g = 0; g < n_gt; g++)
        for (size_t d = 0; d < n_dt; d++) {
            double *o = &out[d * n_gt + g];
            if (!(*o > 0)) continue; /* boxes do not overlap: the masks cannot either */
            if (dt[d].h != gt[g].h || dt[d].w != gt[g].w) {
                *o = -1;
                continue;
            }
            uint32_t i, u;
            rle_inter_union(&dt[d], &gt[g], &i, &u);
            if (i == 0) u = 1;
            else if (iscrowd && iscrowd[g]) u = vt_rle_area(&dt[d]);
            *o = (double)i / (double)u;
        }
}
