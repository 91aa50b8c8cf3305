/* Absolute position embedding at any patch grid, resampled exactly as the reference implementations do:
 *
 *   timm resample_abs_pos_embed / open_clip resize_pos_embed: F.interpolate(bicubic, align_corners=False,
 *     antialias=True). PyTorch's antialiased bicubic is a different filter from the plain one (PIL's: Keys
 *     a = -0.5, support widened by the scale when shrinking, weights renormalised over the taps inside the
 *     image), so it is reproduced here as two small separable weight matrices applied with matmuls, which also
 *     makes it differentiable for free.
 *   EVA-CLIP interpolate_pos_embed: F.interpolate(bicubic, align_corners=False) without antialias: the
 *     vt_interpolate op (Keys a = -0.75, clamped taps).
 *
 * Prefix tokens (the class token) are kept as they are; only the grid part is resampled. */
#include <math.h>

#include "visft/nn.h"
#include "visft/ops.h"

static double aa_bicubic(double x) {
    const double a = -0.5;
    if (x < 0) x = -x;
    if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
    return 0;
}

/* W [out, in]: row i holds the antialiased bicubic weights of output i (ATen's _compute_indices_weights_aa),
 * computed on the host and moved to dev. */
static vt_tensor *aa_weights(vt_ctx *c, int64_t in, int64_t out, vt_device dev) {
    vt_tensor *w = vt_zeros(c, VT_F32, VT_SHAPE(out, in));
    if (!w) return NULL;
    float *p = vt_f32(w);
    double scale = (double)in / (double)out;
    double support = scale >= 1.0 ? 2.0 * scale : 2.0, invscale = scale >= 1.0 ? 1.0 / scale : 1.0;
    for (int64_t i = 0; i < out; i++) {
        double center = scale * ((double)i + 0.5);
        int64_t lo = (int64_t)(center - support + 0.5), hi = (int64_t)(center + support + 0.5);
        if (lo < 0) lo = 0;
        if (hi > in) hi = in;
        double total = 0, tap[64];
        int64_t n = hi - lo < 64 ? hi - lo : 64;
        for (int64_t j = 0; j < n; j++) total += tap[j] = aa_bicubic(((double)(j + lo) - center + 0.5) * invscale);
        for (int64_t j = 0; j < n; j++) p[i * in + lo + j] = (float)(total != 0 ? tap[j] / total : tap[j]);
    }
    return dev.kind == VT_DEVICE_CPU ? w : vt_to_device(c, w, dev);
}

vt_tensor *vt_vit_pos_embed(vt_ctx *c, const vt_vit *m, int64_t gh, int64_t gw) {
    if (!vt_ctx_ok(c)) return NULL;
    int64_t g0 = m->cfg.image_size / m->cfg.patch_size, D = m->cfg.width, prefix = m->cls_token ? 1 : 0;
    if (gh == g0 && gw == g0) return m->pos_embed;
    if (gh <= 0 || gw <= 0 || (m->cfg.pos_antialias && g0 > 64 * gh) || (m->cfg.pos_antialias && g0 > 64 * gw)) {
        vt_ctx_fail(c, VT_ESHAPE, "vit: cannot resample a %lldx%lld position embedding to %lldx%lld", (long long)g0,
                    (long long)g0, (long long)gh, (long long)gw);
        return NULL;
    }
    vt_tensor *grid = vt_slice(c, m->pos_embed, 1, prefix, prefix + g0 * g0, 1); /* [1, g0², D] */
    vt_tensor *r;
    if (m->cfg.pos_antialias) {
        vt_tensor *t = vt_matmul(c, aa_weights(c, g0, gh, m->pos_embed->device), vt_reshape(c, grid, VT_SHAPE(g0, g0 * D)));
        t = vt_matmul(c, aa_weights(c, g0, gw, m->pos_embed->device), vt_reshape(c, t, VT_SHAPE(gh, g0, D))); /* [gh, gw, D] */
        r = vt_reshape(c, t, VT_SHAPE(1, gh * gw, D));
    } else {
        vt_tensor *img = vt_permute(c, vt_reshape(c, grid, VT_SHAPE(1, g0, g0, D)), (int[]){0, 3, 1, 2});
        img = vt_interpolate(c, img, gh, gw, VT_INTERP_BICUBIC, false);
        r = vt_reshape(c, vt_permute(c, img, (int[]){0, 2, 3, 1}), VT_SHAPE(1, gh * gw, D));
    }
    if (!prefix) return r;
    return vt_concat(c, 2, (vt_tensor *[]){vt_slice(c, m->pos_embed, 1, 0, prefix, 1), r}, 1);
}
