/* libFuzzer target for COCO RLE decoding and the mask math behind it. Input: byte 0 picks the mode, bytes
 * 1-2 the mask size (up to 63 x 63), the rest is a compressed counts string (mode 0), little-endian uint16
 * uncompressed counts (mode 1) or int16 polygon coordinates in quarter pixels (mode 2). Whatever decodes
 * must survive every other operation and round-trip; anything else must fail with a message. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "visft/coco_mask.h"

static void exercise(const vt_rle *r) {
    size_t n = (size_t)r->h * r->w;
    uint8_t *m = malloc(n ? n : 1), *m2 = malloc(n ? n : 1);
    vt_rle_to_mask(r, m);
    uint32_t area = 0;
    for (size_t i = 0; i < n; i++) area += m[i];
    if (vt_rle_area(r) != area) abort();
    /* pycocotools' box arithmetic wraps on zero-length inner runs; check bounds on canonical RLEs only */
    bool canonical = true;
    for (size_t j = 1; j < r->m; j++) canonical &= r->counts[j] != 0;
    double bb[4];
    vt_rle_to_bbox(r, bb);
    if (canonical && (bb[0] < 0 || bb[1] < 0 || bb[0] + bb[2] > r->w || bb[1] + bb[3] > r->h)) abort();
    /* string round trip keeps the counts exactly */
    size_t len;
    char *s = vt_rle_to_string(r, &len);
    vt_rle back;
    vt_err err;
    if (!s || vt_rle_from_string(s, len, r->h, r->w, &back, &err) != VT_OK) abort();
    if (back.m != r->m || (r->m && memcmp(back.counts, r->counts, r->m * sizeof *r->counts))) abort();
    /* encode of the pixels gives the same pixels */
    vt_rle enc;
    if (vt_rle_encode(m, r->h, r->w, &enc, &err) != VT_OK) abort();
    vt_rle_to_mask(&enc, m2);
    if (memcmp(m, m2, n)) abort();
    /* merge with itself is itself (as pixels); IoU with itself is 1 unless empty */
    vt_rle pair[2] = {*r, enc}, u;
    if (vt_rle_merge(pair, 2, false, &u, &err) != VT_OK) abort();
    vt_rle_to_mask(&u, m2);
    if (memcmp(m, m2, n)) abort();
    double o;
    vt_rle_iou(r, 1, &enc, 1, NULL, &o);
    if (area && o != 1) abort();
    vt_rle_free(&u);
    vt_rle_free(&enc);
    vt_rle_free(&back);
    free(s);
    free(m);
    free(m2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 3) return 0;
    int mode = data[0] % 3;
    int64_t h = data[1] % 64, w = data[2] % 64;
    data += 3, size -= 3;
    vt_rle r;
    vt_err err;
    vt_status st;
    if (mode == 0) {
        st = vt_rle_from_string((const char *)data, size, h, w, &r, &err);
    } else if (mode == 1) {
        size_t m = size / 2;
        int64_t *c = malloc((m ? m : 1) * sizeof *c);
        for (size_t i = 0; i < m; i++) c[i] = data[2 * i] | data[2 * i + 1] << 8;
        st = vt_rle_from_counts(c, m, h, w, &r, &err);
        free(c);
    } else {
        size_t m = size / 2;
        double *xy = malloc((m ? m : 1) * sizeof *xy);
        for (size_t i = 0; i < m; i++) xy[i] = (int16_t)(data[2 * i] | data[2 * i + 1] << 8) / 4.0;
        st = vt_rle_from_poly(xy, m, h, w, &r, &err);
        free(xy);
    }
    if (st != VT_OK) {
        if (!err.msg[0] || r.counts) abort();
        return 0;
    }
    exercise(&r);
    vt_rle_free(&r);
    return 0;
}
