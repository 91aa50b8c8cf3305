/* Running a transform pipeline on one sample.
 *
 * Randomness: op k of sample `index` in `epoch` draws the four words Philox4x32-10(counter = {index lo,
 * index hi, epoch, op id}, key = seed) — a pure function of (seed, epoch, index, op), so augmentation does
 * not depend on thread count, batch composition or the order samples are processed in.
 *
 * Output sizes follow the references: resize is DETR's get_size_with_aspect_ratio (short side, capped so
 * the long side stays <= max; torchvision's Resize(int) without max), random_crop DETR's RandomSizeCrop,
 * center_crop torchvision's CenterCrop (zero padding when the image is smaller), lsj detectron2's
 * ResizeScale + FixedSizeCrop. When the decoder downscaled a JPEG, the first resize computes its output
 * size from the stored size, so the result matches a full-size decode's size. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "visft/rng.h"
#include "data/transform_internal.h"

/* A resize whose pixels are not computed yet. Flips and in-bounds crops that follow only move targets and
 * narrow this window; the next op that needs pixels (or the end of the pipeline) computes just the window
 * in one pass (vt_image_resample_window) — bit-identical to doing each op in full, and the usual
 * resize -> flip -> crop costs only the crop's pixels. */
typedef struct pending_resize {
    bool active, flip;
    int32_t src_w, src_h, out_w, out_h;
    vt_image_filter interp;
    int32_t wx, wy, ww, wh; /* window over the resized, unflipped image */
} pending_resize;

typedef struct run_state {
    uint64_t seed, epoch, index;
    double lw, lh; /* logical size of the valid region (the stored size until the first geometric op) */
    pending_resize p;
} run_state;

static void draw(const run_state *r, const vt_op *op, uint32_t w[4]) {
    uint32_t ctr[4] = {(uint32_t)r->index, (uint32_t)(r->index >> 32), (uint32_t)r->epoch, op->id};
    uint32_t key[2] = {(uint32_t)r->seed, (uint32_t)(r->seed >> 32)};
    vt_philox4x32_10(ctr, key, w);
}

/* Uniform integer in [lo, hi] (hi >= lo) from one word: multiply-shift, no modulo bias worth noting. */
static int32_t randint(uint32_t u, int32_t lo, int32_t hi) {
    uint64_t span = (uint64_t)((int64_t)hi - lo + 1);
    return lo + (int32_t)(((uint64_t)u * span) >> 32);
}

static double unit(uint32_t u) { return (double)u * (1.0 / 4294967296.0); } /* [0, 1) */

/* Python's round(): halves to even (the default FP rounding mode does the same). */
static double round_even(double x) { return nearbyint(x); }

/* DETR get_size_with_aspect_ratio on a w x h image. */
static void size_short_max(double w, double h, int32_t size, int32_t max_size, int32_t *ow, int32_t *oh) {
    double mn = w < h ? w : h, mx = w < h ? h : w;
    if (max_size > 0 && mx / mn * size > max_size) size = (int32_t)round_even(max_size * mn / mx);
    if ((w <= h && w == size) || (h <= w && h == size)) {
        *ow = (int32_t)w, *oh = (int32_t)h;
    } else if (w < h) {
        *ow = size;
        *oh = (int32_t)(size * h / w);
    } else {
        *oh = size;
        *ow = (int32_t)(size * w / h);
    }
    if (*ow < 1) *ow = 1;
    if (*oh < 1) *oh = 1;
}

static void settle(run_state *r, const vt_sample *s) {
    r->lw = s->valid_width;
    r->lh = s->valid_height;
}

static vt_status materialize(vt_sample *s, run_state *r, vt_err *err) {
    pending_resize *p = &r->p;
    if (!p->active) return VT_OK;
    p->active = false;
    vt_image dst = {0};
    vt_status st = vt_image_resample_window(&s->image, p->src_w, p->src_h, &dst, p->out_w, p->out_h, p->wx, p->wy,
                                            p->ww, p->wh, p->flip, p->interp, err);
    if (st) {
        vt_image_free(&dst);
        return vt_err_prefix(err, "%s", s->source ? s->source : "image");
    }
    vt_image t = s->image;
    s->image = dst;
    vt_image_free(&t);
    return VT_OK;
}

static vt_status resize_to(vt_sample *s, run_state *r, int32_t ow, int32_t oh, vt_image_filter interp, vt_err *err) {
    vt_status st = materialize(s, r, err);
    if (st) return st;
    int32_t vw = s->valid_width, vh = s->valid_height;
    if (vw == ow && vh == oh && s->image.width == vw && s->image.height == vh) return VT_OK;
    if (ow <= 0 || oh <= 0) return vt_err_set(err, VT_EINVAL, "resize %dx%d -> %dx%d: bad size", vw, vh, ow, oh);
    r->p = (pending_resize){.active = true, .src_w = vw, .src_h = vh, .out_w = ow, .out_h = oh, .interp = interp,
                            .ww = ow, .wh = oh};
    vt_sample_resize_targets(s, ow, oh);
    settle(r, s);
    return VT_OK;
}

/* Crop through the pending window when it stays inside the image; otherwise (padding) in full. */
static vt_status crop_to(vt_sample *s, run_state *r, int32_t x0, int32_t y0, int32_t w, int32_t h, vt_err *err) {
    pending_resize *p = &r->p;
    if (p->active && x0 >= 0 && y0 >= 0 && w > 0 && h > 0 && x0 + w <= p->ww && y0 + h <= p->wh) {
        p->wx += p->flip ? p->ww - x0 - w : x0;
        p->wy += y0;
        p->ww = w;
        p->wh = h;
        vt_sample_crop_targets(s, x0, y0, w, h);
        settle(r, s);
        return VT_OK;
    }
    vt_status st = materialize(s, r, err);
    if (!st) st = vt_sample_crop(s, x0, y0, w, h, err);
    settle(r, s);
    return st;
}

static vt_status run_list(const vt_op_list *l, vt_sample *s, run_state *r, vt_err *err);

static vt_status run_op(const vt_op *op, vt_sample *s, run_state *r, vt_err *err) {
    uint32_t w[4];
    int32_t ow, oh;
    switch (op->kind) {
    case VT_OP_NORMALIZE: return VT_OK;
    case VT_OP_RESIZE:
        if (op->size_h) return resize_to(s, r, op->size_w, op->size_h, op->interp, err);
        size_short_max(r->lw, r->lh, op->shorts[0], op->max_size, &ow, &oh);
        return resize_to(s, r, ow, oh, op->interp, err);
    case VT_OP_RANDOM_RESIZE:
        draw(r, op, w);
        size_short_max(r->lw, r->lh, op->shorts[randint(w[0], 0, op->n_shorts - 1)], op->max_size, &ow, &oh);
        return resize_to(s, r, ow, oh, op->interp, err);
    case VT_OP_FLIP:
        draw(r, op, w);
        if (unit(w[0]) < op->p) {
            if (r->p.active) {
                r->p.flip = !r->p.flip;
                vt_sample_hflip_targets(s);
            } else {
                vt_sample_hflip(s);
            }
        }
        return VT_OK;
    case VT_OP_SELECT:
        draw(r, op, w);
        return run_list(unit(w[0]) < op->p ? &op->a : &op->b, s, r, err);
    case VT_OP_RANDOM_CROP: {
        settle(r, s);
        int32_t iw = s->valid_width, ih = s->valid_height;
        draw(r, op, w);
        /* torchvision: randint(min, min(side, max)); when the image is below min, the crop is the image */
        int32_t cw = iw < op->crop_max ? iw : op->crop_max, ch = ih < op->crop_max ? ih : op->crop_max;
        cw = cw >= op->crop_min ? randint(w[0], op->crop_min, cw) : cw;
        ch = ch >= op->crop_min ? randint(w[1], op->crop_min, ch) : ch;
        int32_t y0 = randint(w[2], 0, ih - ch), x0 = randint(w[3], 0, iw - cw);
        return crop_to(s, r, x0, y0, cw, ch, err);
    }
    case VT_OP_CENTER_CROP: {
        settle(r, s);
        int32_t iw = s->valid_width, ih = s->valid_height, tw = op->size_w, th = op->size_h;
        int32_t x0 = iw < tw ? -((tw - iw) / 2) : (int32_t)round_even((iw - tw) / 2.0);
        int32_t y0 = ih < th ? -((th - ih) / 2) : (int32_t)round_even((ih - th) / 2.0);
        return crop_to(s, r, x0, y0, tw, th, err);
    }
    case VT_OP_LSJ: {
        vt_status pst = materialize(s, r, err);
        if (pst) return pst;
        draw(r, op, w);
        double scale = op->min_scale + (op->max_scale - op->min_scale) * unit(w[0]);
        double f = fmin(scale * op->size_h / r->lh, scale * op->size_w / r->lw);
        ow = (int32_t)round_even(r->lw * f);
        oh = (int32_t)round_even(r->lh * f);
        vt_status st = resize_to(s, r, ow < 1 ? 1 : ow, oh < 1 ? 1 : oh, op->interp, err);
        if (!st) st = materialize(s, r, err);
        if (st) return st;
        int32_t iw = s->valid_width, ih = s->valid_height;
        int32_t offx = (int32_t)round_even((iw > op->size_w ? iw - op->size_w : 0) * unit(w[1]));
        int32_t offy = (int32_t)round_even((ih > op->size_h ? ih - op->size_h : 0) * unit(w[2]));
        int32_t cw = iw < op->size_w ? iw : op->size_w, ch = ih < op->size_h ? ih : op->size_h;
        if ((st = vt_sample_crop(s, offx, offy, cw, ch, err))) return st;
        st = vt_sample_pad(s, op->size_w, op->size_h, err);
        settle(r, s);
        return st;
    }
    case VT_OP_PAD: {
        vt_status st = materialize(s, r, err);
        if (!st) st = vt_sample_pad(s, op->size_w, op->size_h, err);
        settle(r, s);
        return st;
    }
    }
    return vt_err_set(err, VT_EINVAL, "unknown transform op %d", (int)op->kind);
}

static vt_status run_list(const vt_op_list *l, vt_sample *s, run_state *r, vt_err *err) {
    for (size_t i = 0; i < l->n; i++) {
        vt_status st = run_op(&l->ops[i], s, r, err);
        if (st) return st;
    }
    return VT_OK;
}

vt_status vt_transforms_apply(const vt_transforms *t, vt_sample *s, uint64_t seed, uint64_t epoch,
                              uint64_t index, vt_err *err) {
    if (!s->image.data || s->valid_width <= 0 || s->valid_height <= 0)
        return vt_err_set(err, VT_EINVAL, "%s: sample has no image", s->source ? s->source : "sample");
    run_state r = {seed, epoch, index, s->valid_width, s->valid_height, {0}};
    /* A DCT-downscaled decode: size decisions use the stored size (same aspect, no rounding drift). */
    if (s->orig_width > s->valid_width && s->orig_height > s->valid_height && s->valid_width == s->image.width &&
        s->valid_height == s->image.height) {
        r.lw = s->orig_width;
        r.lh = s->orig_height;
    }
    vt_status st = t ? run_list(&t->ops, s, &r, err) : VT_OK;
    if (st == VT_OK) st = materialize(s, &r, err);
    return st;
}
