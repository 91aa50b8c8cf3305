/* Collate: samples -> one vt_batch (layout documented in visft/data.h). Images are written straight into
 * the f32 batch tensor with normalisation fused in (one pass over the pixels), padding (bottom/right, and
 * whatever a pad transform added) stays 0 and is flagged in pad_mask. Masks are rasterised here, at the
 * padded batch size, which is the first time they exist as pixels. */
#include <stdlib.h>
#include <string.h>

#include "visft/context.h"
#include "visft/tensor.h"
#include "data/transform_internal.h"

void vt_collate_opts_default(vt_collate_opts *o) {
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    for (int c = 0; c < 3; c++) o->std[c] = 1.0f;
}

void vt_collated_free(vt_collated *c) {
    if (!c) return;
    vt_tensor_release(c->batch.images);
    vt_tensor_release(c->batch.pad_mask);
    for (size_t i = 0; i < c->batch.targets.n; i++) vt_tensor_release(c->items[i].tensor);
    for (size_t i = 0; i < c->n_captions; i++) free(c->captions[i]);
    free(c->captions);
    free(c->caption_image);
    memset(c, 0, sizeof *c);
}

static vt_tensor *new_tensor(struct vt_ctx *ctx, vt_dtype dt, int ndim, const int64_t *shape, vt_err *err) {
    vt_tensor *t = vt_tensor_create(ctx, dt, ndim, shape);
    if (!t) vt_err_set(err, VT_ENOMEM, "collate: cannot allocate a batch tensor");
    return t;
}

static vt_status add_target(vt_collated *c, const char *name, vt_tensor *t, vt_err *err) {
    if (!t) return err ? err->code : VT_ENOMEM;
    size_t i = c->batch.targets.n;
    c->items[i].name = name;
    c->items[i].tensor = t;
    c->items[i].flags = 0;
    c->batch.targets.n = i + 1;
    return VT_OK;
}

static void fill_image(float *dst, const vt_sample *s, int64_t H, int64_t W, const float mean[3],
                       const float stdv[3]) {
    float scale[3], shift[3]; /* (p / 255 - mean) / std = p * scale + shift */
    for (int c = 0; c < 3; c++) {
        scale[c] = 1.0f / (255.0f * stdv[c]);
        shift[c] = -mean[c] / stdv[c];
    }
    int32_t vw = s->valid_width, vh = s->valid_height;
    for (int c = 0; c < 3; c++)
        for (int32_t y = 0; y < vh; y++) {
            const uint8_t *row = s->image.data + (size_t)y * s->image.stride + c;
            float *out = dst + ((size_t)c * (size_t)H + (size_t)y) * (size_t)W;
            for (int32_t x = 0; x < vw; x++) out[x] = row[3 * x] * scale[c] + shift[c];
        }
}

vt_status vt_collate(struct vt_ctx *ctx, const vt_sample *const *samples, size_t n, const vt_collate_opts *opts,
                     vt_collated *out, vt_err *err) {
    memset(out, 0, sizeof *out);
    out->struct_size = sizeof *out;
    out->batch.struct_size = sizeof out->batch;
    out->batch.targets.items = out->items;
    if (n == 0 || !samples) return vt_err_set(err, VT_EINVAL, "collate: no samples");
    vt_collate_opts def;
    if (!opts) vt_collate_opts_default(&def), opts = &def;
    int64_t H = 0, W = 0;
    size_t n_inst = 0, n_caps = 0;
    bool any_label = false, any_mask = false, padded = false;
    for (size_t b = 0; b < n; b++) {
        const vt_sample *s = samples[b];
        if (!s || !s->image.data || s->valid_width <= 0 || s->valid_height <= 0 || s->valid_width > s->image.width ||
            s->valid_height > s->image.height)
            return vt_err_set(err, VT_EINVAL, "collate: sample %zu (%s) has no valid image", b,
                              s && s->source ? s->source : "?");
        if (s->image.width > W) W = s->image.width;
        if (s->image.height > H) H = s->image.height;
        n_inst += s->n_instances;
        n_caps += s->n_captions;
        any_label |= s->label >= 0;
        for (size_t i = 0; i < s->n_instances; i++) any_mask |= s->instances[i].mask.kind != VT_MASK_NONE;
    }
    int32_t div = opts->size_divisibility;
    if (div > 1) {
        H = (H + div - 1) / div * div;
        W = (W + div - 1) / div * div;
    }
    for (size_t b = 0; b < n; b++) padded |= samples[b]->valid_width != W || samples[b]->valid_height != H;
    unsigned want = opts->targets;
    if (!want)
        want = (any_label ? VT_COLLATE_LABELS : 0) | (n_inst ? VT_COLLATE_BOXES : 0) |
               (any_mask ? VT_COLLATE_MASKS : 0) | (n_caps ? VT_COLLATE_CAPTIONS : 0);
    int64_t B = (int64_t)n, N = (int64_t)n_inst;
    vt_status st = VT_OK;
    out->batch.size = B;
    out->batch.images = new_tensor(ctx, VT_F32, 4, (const int64_t[]){B, 3, H, W}, err);
    if (!out->batch.images) goto fail;
    float *img = vt_f32(out->batch.images);
    for (size_t b = 0; b < n; b++)
        fill_image(img + b * 3 * (size_t)(H * W), samples[b], H, W, opts->mean, opts->std);
    if (padded) {
        out->batch.pad_mask = new_tensor(ctx, VT_U8, 3, (const int64_t[]){B, H, W}, err);
        if (!out->batch.pad_mask) goto fail;
        uint8_t *pm = out->batch.pad_mask->data;
        for (size_t b = 0; b < n; b++)
            for (int64_t y = 0; y < H; y++) {
                uint8_t *row = pm + ((size_t)b * (size_t)H + (size_t)y) * (size_t)W;
                if (y >= samples[b]->valid_height) memset(row, 1, (size_t)W);
                else memset(row + samples[b]->valid_width, 1, (size_t)(W - samples[b]->valid_width));
            }
    }
    if (want & VT_COLLATE_LABELS) {
        vt_tensor *t = new_tensor(ctx, VT_I64, 1, (const int64_t[]){B}, err);
        if ((st = add_target(out, "labels", t, err))) goto fail;
        for (size_t b = 0; b < n; b++) vt_i64(t)[b] = samples[b]->label;
    }
    if (want & (VT_COLLATE_BOXES | VT_COLLATE_MASKS)) {
        vt_tensor *bx = new_tensor(ctx, VT_F32, 2, (const int64_t[]){N, 4}, err);
        if ((st = add_target(out, "boxes", bx, err))) goto fail;
        vt_tensor *bp = new_tensor(ctx, VT_F32, 2, (const int64_t[]){N, 4}, err);
        if ((st = add_target(out, "boxes_xyxy", bp, err))) goto fail;
        vt_tensor *bi = new_tensor(ctx, VT_I64, 1, (const int64_t[]){N}, err);
        if ((st = add_target(out, "box_image", bi, err))) goto fail;
        vt_tensor *bl = new_tensor(ctx, VT_I64, 1, (const int64_t[]){N}, err);
        if ((st = add_target(out, "box_labels", bl, err))) goto fail;
        vt_tensor *bc = new_tensor(ctx, VT_U8, 1, (const int64_t[]){N}, err);
        if ((st = add_target(out, "box_crowd", bc, err))) goto fail;
        /* per image: batch-image pixels -> stored-image pixels (x = a·x' + b, y = c·y' + d), and the stored size */
        vt_tensor *to = new_tensor(ctx, VT_F32, 2, (const int64_t[]){B, 4}, err);
        if ((st = add_target(out, "image_to_orig", to, err))) goto fail;
        vt_tensor *os = new_tensor(ctx, VT_F32, 2, (const int64_t[]){B, 2}, err);
        if ((st = add_target(out, "orig_size", os, err))) goto fail;
        for (size_t b = 0; b < n; b++) {
            const double *m = samples[b]->to_image;
            float *r = vt_f32(to) + 4 * b;
            r[0] = (float)(1.0 / m[0]), r[1] = (float)(-m[1] / m[0]), r[2] = (float)(1.0 / m[2]), r[3] = (float)(-m[3] / m[2]);
            vt_f32(os)[2 * b] = (float)samples[b]->orig_width;
            vt_f32(os)[2 * b + 1] = (float)samples[b]->orig_height;
        }
        size_t k = 0;
        for (size_t b = 0; b < n; b++) {
            const vt_sample *s = samples[b];
            float iw = (float)s->valid_width, ih = (float)s->valid_height;
            for (size_t i = 0; i < s->n_instances; i++, k++) {
                const float *q = s->instances[i].box;
                float *c = vt_f32(bx) + 4 * k;
                c[0] = (q[0] + q[2]) * 0.5f / iw;
                c[1] = (q[1] + q[3]) * 0.5f / ih;
                c[2] = (q[2] - q[0]) / iw;
                c[3] = (q[3] - q[1]) / ih;
                memcpy(vt_f32(bp) + 4 * k, q, 4 * sizeof(float));
                vt_i64(bi)[k] = (int64_t)b;
                vt_i64(bl)[k] = s->instances[i].label;
                ((uint8_t *)bc->data)[k] = s->instances[i].iscrowd;
            }
        }
    }
    if (want & VT_COLLATE_MASKS) {
        vt_tensor *m = new_tensor(ctx, VT_U8, 3, (const int64_t[]){N, H, W}, err);
        if ((st = add_target(out, "masks", m, err))) goto fail;
        size_t k = 0;
        for (size_t b = 0; b < n; b++)
            for (size_t i = 0; i < samples[b]->n_instances; i++, k++) {
                uint8_t *dst = (uint8_t *)m->data + k * (size_t)(H * W);
                if ((st = vt_mask_rasterize(&samples[b]->instances[i].mask, (int32_t)W, (int32_t)H, dst, err))) {
                    vt_err_prefix(err, "collate: %s instance %zu", samples[b]->source ? samples[b]->source : "sample", i);
                    goto fail;
                }
            }
    }
    if ((want & VT_COLLATE_CAPTIONS) && n_caps) {
        out->captions = calloc(n_caps, sizeof *out->captions);
        out->caption_image = calloc(n_caps, sizeof *out->caption_image);
        if (!out->captions || !out->caption_image) goto oom;
        for (size_t b = 0; b < n; b++)
            for (size_t i = 0; i < samples[b]->n_captions; i++) {
                char *t = strdup(samples[b]->captions[i].text);
                if (!t) goto oom;
                out->captions[out->n_captions] = t;
                out->caption_image[out->n_captions++] = (int64_t)b;
            }
        /* token ids (when a tokenizer ran on the loader threads) as a batch target, one row per caption */
        int32_t L = 0;
        for (size_t b = 0; b < n && !L; b++)
            for (size_t i = 0; i < samples[b]->n_captions && !L; i++) L = samples[b]->captions[i].n_tokens;
        if (L > 0) {
            vt_tensor *tok = new_tensor(ctx, VT_I64, VT_SHAPE((int64_t)n_caps, L), err);
            if ((st = add_target(out, "caption_tokens", tok, err))) goto fail;
            int64_t *dst = vt_i64(tok);
            size_t k = 0;
            for (size_t b = 0; b < n; b++)
                for (size_t i = 0; i < samples[b]->n_captions; i++, k++) {
                    const vt_caption *cap = &samples[b]->captions[i];
                    if (cap->n_tokens != L) {
                        st = vt_err_set(err, VT_EINVAL, "collate: caption %zu of sample %zu has %d tokens, others %d",
                                        i, b, cap->n_tokens, L);
                        goto fail;
                    }
                    for (int32_t j = 0; j < L; j++) dst[k * (size_t)L + (size_t)j] = cap->tokens[j];
                }
        }
    }
    return VT_OK;
oom:
    st = vt_err_set(err, VT_ENOMEM, "collate: out of memory");
fail:
    if (!st) st = err && err->code ? err->code : VT_ENOMEM;
    vt_collated_free(out);
    return st;
}
