/* Antialiased resize, a port of Pillow's Resample.c (ImagingResample for 8-bit images), so visft's resize
 * matches PIL's Image.resize pixel for pixel: per output pixel a filter window scaled by the downscale
 * factor (antialiasing), coefficients normalised then quantised to 22-bit fixed point, a horizontal pass
 * into a u8 temporary (only the rows the vertical pass needs) and then a vertical pass. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/transform_internal.h"

#define PRECISION_BITS (32 - 8 - 2)

static double bilinear_filter(double x) {
    if (x < 0.0) x = -x;
    if (x < 1.0) return 1.0 - x;
    return 0.0;
}

static double bicubic_filter(double x) {
    const double a = -0.5; /* Pillow's (and Keys') choice */
    if (x < 0.0) x = -x;
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

typedef struct coeffs {
    int ksize;
    int *bounds; /* per output: xmin, count */
    int32_t *kk; /* out * ksize fixed-point weights */
} coeffs;

static vt_status precompute(int in_size, double in0, double in1, int out_size, vt_image_filter interp, coeffs *c,
                            vt_err *err) {
    double (*filter)(double) = interp == VT_FILTER_BICUBIC ? bicubic_filter : bilinear_filter;
    double fsupport = interp == VT_FILTER_BICUBIC ? 2.0 : 1.0;
    double scale = (in1 - in0) / out_size, filterscale = scale < 1.0 ? 1.0 : scale;
    double support = fsupport * filterscale;
    int ksize = (int)ceil(support) * 2 + 1;
    c->ksize = ksize;
    c->bounds = malloc(sizeof(int) * 2 * (size_t)out_size);
    c->kk = malloc(sizeof(int32_t) * (size_t)out_size * (size_t)ksize);
    double *k = malloc(sizeof(double) * (size_t)ksize);
    if (!c->bounds || !c->kk || !k) {
        free(k);
        return vt_err_set(err, VT_ENOMEM, "out of memory resizing an image");
    }
    for (int xx = 0; xx < out_size; xx++) {
        double center = in0 + (xx + 0.5) * scale, ww = 0.0, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        int x;
        for (x = 0; x < xmax; x++) {
            double w = filter((x + xmin - center + 0.5) * ss);
            k[x] = w;
            ww += w;
        }
        for (x = 0; x < xmax; x++)
            if (ww != 0.0) k[x] /= ww;
        for (; x < ksize; x++) k[x] = 0;
        int32_t *q = c->kk + (size_t)xx * ksize;
        for (x = 0; x < ksize; x++)
            q[x] = k[x] < 0 ? (int32_t)(-0.5 + k[x] * (1 << PRECISION_BITS))
                            : (int32_t)(0.5 + k[x] * (1 << PRECISION_BITS));
        c->bounds[2 * xx] = xmin;
        c->bounds[2 * xx + 1] = xmax;
    }
    free(k);
    return VT_OK;
}

static inline uint8_t clip8(int32_t v) {
    v >>= PRECISION_BITS;
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* Horizontal pass: rows [y0, y0 + n) of src -> n rows of dst, output columns [x_first, x_first + w) of the
 * full-width result (a window costs only its own pixels, and each is the same integer sum).
 *
 * Speed without changing a single sum: one RGB pixel is widened into an int32 lane quadruple (R, G, B, and a
 * spare lane that reads the next byte and is never stored), so a tap is one widen + one multiply + one add;
 * blocks of four rows share each column's bounds and coefficient loads; the tap count is a compile-time
 * constant for the common kernel sizes so the taps unroll. Taps past a column's real count have weight 0 (as in
 * Pillow's table), so summing all K of them adds only zeros. */
#if defined(__GNUC__) || defined(__clang__)
#ifdef __SSE4_1__
#include <smmintrin.h>
#endif
typedef int32_t v4i __attribute__((vector_size(16)));
typedef uint8_t v4b __attribute__((vector_size(4)));

/* Pixel at p plus the byte after it (that byte must be readable). GCC 12 lowers the generic u8 -> i32
 * conversion to byte-by-byte extracts, so SSE4.1's one-instruction zero-extension is used when available. */
static inline v4i load4(const uint8_t *p) {
#ifdef __SSE4_1__
    int32_t u;
    memcpy(&u, p, 4);
    return (v4i)_mm_cvtepu8_epi32(_mm_cvtsi32_si128(u));
#else
    v4b b;
    memcpy(&b, p, 4);
    return __builtin_convertvector(b, v4i);
#endif
}

/* The last pixel of a row: nothing after it may be read. */
static inline v4i load3(const uint8_t *p) {
    v4b b = {p[0], p[1], p[2], 0};
    return __builtin_convertvector(b, v4i);
}

/* Shifts, clamps to 0..255 and stores 3 bytes; `room` says 4 may be written (the 4th is overwritten later). */
static inline void store_px(uint8_t *o, v4i acc, int room) {
    acc >>= PRECISION_BITS;
#ifdef __SSE4_1__
    /* the two unsigned-saturating packs are exactly the clamp to 0..255 */
    __m128i v = _mm_packus_epi32((__m128i)acc, (__m128i)acc);
    int32_t u = _mm_cvtsi128_si32(_mm_packus_epi16(v, v));
    if (room) memcpy(o, &u, 4);
    else memcpy(o, &u, 3);
#else
    acc &= ~(acc < 0);
    v4i hi = acc > 255;
    acc = (acc & ~hi) | (hi & 255);
    v4b b = __builtin_convertvector(acc, v4b);
    if (room) memcpy(o, &b, 4); /* constant sizes: single stores, not a byte loop */
    else memcpy(o, &b, 3);
#endif
}

#define HALF (1 << (PRECISION_BITS - 1))

/* R rows (1..4) from `in` (stride sstride) over K taps; K and R are constants after inlining. */
static inline __attribute__((always_inline)) void h_rows(const uint8_t *in, size_t sstride, uint8_t *out,
                                                        size_t dstride, int R, int K, int in_w, int x_first,
                                                        int w, const coeffs *c) {
    for (int j = 0; j < w; j++) {
        int xx = x_first + j, xmin = c->bounds[2 * xx];
        const int32_t *k = c->kk + (size_t)xx * K;
        const uint8_t *p = in + 3 * (size_t)xmin;
        v4i acc[4];
        for (int r = 0; r < R; r++) acc[r] = (v4i){HALF, HALF, HALF, HALF};
        if (xmin + K < in_w) { /* every tap, and the byte after the last, lies inside the row */
            for (int x = 0; x < K; x++)
                for (int r = 0; r < R; r++) acc[r] += load4(p + r * sstride + 3 * x) * k[x];
        } else { /* right edge: the real taps only, the row's last pixel read without its next byte */
            int xmax = c->bounds[2 * xx + 1];
            for (int x = 0; x < xmax; x++)
                for (int r = 0; r < R; r++) {
                    const uint8_t *q = p + r * sstride + 3 * x;
                    acc[r] += (xmin + x + 1 < in_w ? load4(q) : load3(q)) * k[x];
                }
        }
        for (int r = 0; r < R; r++) store_px(out + r * dstride + 3 * (size_t)j, acc[r], j + 1 < w);
    }
}

#define H_KERNEL(K)                                                                                            \
    static void pass_h_##K(const uint8_t *src, size_t sstride, int in_w, int y0, int n, uint8_t *dst,         \
                           size_t dstride, int x_first, int w, const coeffs *c) {                             \
        int yy = 0;                                                                                            \
        for (; yy + 4 <= n; yy += 4)                                                                           \
            h_rows(src + (size_t)(yy + y0) * sstride, sstride, dst + (size_t)yy * dstride, dstride, 4, K,      \
                   in_w, x_first, w, c);                                                                       \
        for (; yy < n; yy++)                                                                                   \
            h_rows(src + (size_t)(yy + y0) * sstride, sstride, dst + (size_t)yy * dstride, dstride, 1, K,      \
                   in_w, x_first, w, c);                                                                       \
    }
H_KERNEL(3)
H_KERNEL(5)
H_KERNEL(7)
H_KERNEL(9)

static void pass_h_any(const uint8_t *src, size_t sstride, int in_w, int y0, int n, uint8_t *dst, size_t dstride,
                       int x_first, int w, const coeffs *c) {
    int yy = 0;
    for (; yy + 4 <= n; yy += 4)
        h_rows(src + (size_t)(yy + y0) * sstride, sstride, dst + (size_t)yy * dstride, dstride, 4, c->ksize, in_w,
               x_first, w, c);
    for (; yy < n; yy++)
        h_rows(src + (size_t)(yy + y0) * sstride, sstride, dst + (size_t)yy * dstride, dstride, 1, c->ksize, in_w,
               x_first, w, c);
}

static void pass_h(const uint8_t *src, size_t sstride, int in_w, int y0, int n, uint8_t *dst, size_t dstride,
                   int x_first, int w, const coeffs *c) {
    switch (c->ksize) {
    case 3: pass_h_3(src, sstride, in_w, y0, n, dst, dstride, x_first, w, c); break;
    case 5: pass_h_5(src, sstride, in_w, y0, n, dst, dstride, x_first, w, c); break;
    case 7: pass_h_7(src, sstride, in_w, y0, n, dst, dstride, x_first, w, c); break;
    case 9: pass_h_9(src, sstride, in_w, y0, n, dst, dstride, x_first, w, c); break;
    default: pass_h_any(src, sstride, in_w, y0, n, dst, dstride, x_first, w, c); break;
    }
}
#else
/* Portable scalar version: the same sums, one channel at a time. */
static void pass_h(const uint8_t *src, size_t sstride, int in_w, int y0, int n, uint8_t *dst, size_t dstride,
                   int x_first, int w, const coeffs *c) {
    (void)in_w;
    for (int yy = 0; yy < n; yy++) {
        const uint8_t *in = src + (size_t)(yy + y0) * sstride;
        uint8_t *out = dst + (size_t)yy * dstride;
        for (int j = 0; j < w; j++) {
            int xx = x_first + j;
            int xmin = c->bounds[2 * xx], xmax = c->bounds[2 * xx + 1];
            const int32_t *k = c->kk + (size_t)xx * c->ksize;
            int32_t acc[3] = {1 << (PRECISION_BITS - 1), 1 << (PRECISION_BITS - 1), 1 << (PRECISION_BITS - 1)};
            const uint8_t *p = in + 3 * (size_t)xmin;
            for (int x = 0; x < xmax; x++) {
                acc[0] += p[3 * x] * k[x];
                acc[1] += p[3 * x + 1] * k[x];
                acc[2] += p[3 * x + 2] * k[x];
            }
            out[3 * j] = clip8(acc[0]);
            out[3 * j + 1] = clip8(acc[1]);
            out[3 * j + 2] = clip8(acc[2]);
        }
    }
}
#endif

/* Row-wise accumulation (taps outer, pixels inner) keeps reads sequential and lets the compiler vectorise;
 * the sums are the same integers Pillow computes. Output rows [y_first, y_first + h); `row_base` is the
 * source row that src's first row holds. acc holds 3 * w int32. */
static void pass_v(const uint8_t *src, size_t sstride, int row_base, int w, uint8_t *dst, size_t dstride,
                   int y_first, int h, const coeffs *c, int32_t *acc) {
    int n = 3 * w;
    for (int i = 0; i < h; i++) {
        int yy = y_first + i;
        int ymin = c->bounds[2 * yy] - row_base, ymax = c->bounds[2 * yy + 1];
        const int32_t *k = c->kk + (size_t)yy * c->ksize;
        for (int xx = 0; xx < n; xx++) acc[xx] = 1 << (PRECISION_BITS - 1);
        for (int y = 0; y < ymax; y++) {
            const uint8_t *p = src + (size_t)(ymin + y) * sstride;
            int32_t ky = k[y];
            for (int xx = 0; xx < n; xx++) acc[xx] += p[xx] * ky;
        }
        uint8_t *out = dst + (size_t)i * dstride;
        for (int xx = 0; xx < n; xx++) out[xx] = clip8(acc[xx]);
    }
}

static void flip_rows(vt_image *im) {
    for (int32_t y = 0; y < im->height; y++) {
        uint8_t *row = im->data + (size_t)y * im->stride;
        for (int32_t a = 0, b = im->width - 1; a < b; a++, b--)
            for (int c = 0; c < 3; c++) {
                uint8_t t = row[3 * a + c];
                row[3 * a + c] = row[3 * b + c];
                row[3 * b + c] = t;
            }
    }
}

vt_status vt_image_resample_window(const vt_image *src, int32_t src_w, int32_t src_h, vt_image *dst, int32_t out_w,
                                   int32_t out_h, int32_t wx, int32_t wy, int32_t ww, int32_t wh, bool flip,
                                   vt_image_filter interp, vt_err *err) {
    if (src_w <= 0 || src_h <= 0 || out_w <= 0 || out_h <= 0 || src_w > src->width || src_h > src->height)
        return vt_err_set(err, VT_EINVAL, "resize %dx%d -> %dx%d: bad size", src_w, src_h, out_w, out_h);
    if (wx < 0 || wy < 0 || ww <= 0 || wh <= 0 || wx + ww > out_w || wy + wh > out_h)
        return vt_err_set(err, VT_EINVAL, "resize window %dx%d at (%d, %d) outside %dx%d", ww, wh, wx, wy, out_w, out_h);
    vt_status st = vt_image_alloc(dst, ww, wh, err);
    if (st) return st;
    bool need_h = out_w != src_w, need_v = out_h != src_h;
    coeffs ch = {0}, cv = {0};
    uint8_t *tmp = NULL;
    int32_t *acc = NULL;
    if (!need_h && !need_v) {
        for (int32_t y = 0; y < wh; y++)
            memcpy(dst->data + (size_t)y * dst->stride, src->data + (size_t)(y + wy) * src->stride + 3 * (size_t)wx,
                   (size_t)ww * 3);
        goto done;
    }
    acc = malloc(sizeof *acc * 3 * (size_t)ww);
    if (!acc) {
        st = vt_err_set(err, VT_ENOMEM, "out of memory resizing an image");
        goto done;
    }
    if (need_h && (st = precompute(src_w, 0, src_w, out_w, interp, &ch, err))) goto done;
    if (need_v && (st = precompute(src_h, 0, src_h, out_h, interp, &cv, err))) goto done;
    if (!need_v) {
        pass_h(src->data, src->stride, src_w, wy, wh, dst->data, dst->stride, wx, ww, &ch);
    } else if (!need_h) {
        pass_v(src->data + 3 * (size_t)wx, src->stride, 0, ww, dst->data, dst->stride, wy, wh, &cv, acc);
    } else {
        /* only the source rows the window's vertical pass reads go through the horizontal pass */
        int first = cv.bounds[2 * wy], last = cv.bounds[2 * (wy + wh - 1)] + cv.bounds[2 * (wy + wh - 1) + 1];
        for (int i = wy; i < wy + wh; i++) {
            int lo = cv.bounds[2 * i], hi = lo + cv.bounds[2 * i + 1];
            if (lo < first) first = lo;
            if (hi > last) last = hi;
        }
        size_t tstride = (size_t)ww * 3;
        tmp = malloc(tstride * (size_t)(last - first) + 1);
        if (!tmp) {
            st = vt_err_set(err, VT_ENOMEM, "out of memory resizing an image");
            goto done;
        }
        pass_h(src->data, src->stride, src_w, first, last - first, tmp, tstride, wx, ww, &ch);
        pass_v(tmp, tstride, first, ww, dst->data, dst->stride, wy, wh, &cv, acc);
    }
done:
    if (st == VT_OK && flip) flip_rows(dst);
    free(ch.bounds);
    free(ch.kk);
    free(cv.bounds);
    free(cv.kk);
    free(tmp);
    free(acc);
    return st;
}

vt_status vt_image_resample(const vt_image *src, int32_t src_w, int32_t src_h, vt_image *dst, int32_t out_w,
                            int32_t out_h, vt_image_filter interp, vt_err *err) {
    return vt_image_resample_window(src, src_w, src_h, dst, out_w, out_h, 0, 0, out_w, out_h, false, interp, err);
}
