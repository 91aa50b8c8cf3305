/* conv2d as layout change + GEMM (GEMMs through the matmul family's kernel table).
 *
 * Three paths, chosen by geometry; all compute out[n, g] [O/g, Ho·Wo] = W_g [O/g, K_g] · cols_g [K_g, Ho·Wo]:
 *  - pointwise (1x1, stride 1, no padding): the image itself is the column matrix, no copy at all;
 *  - patch embedding (kernel == stride, no padding/dilation, groups 1; the ViT stem): windows do not
 *    overlap, so one permutation copy of the batch gives patches [N, P, K] and one batched GEMM does the rest;
 *  - generic: im2col of one image at a time, tiled over output rows so the column buffer stays under
 *    COL_BUDGET floats whatever the image size (3x3 stride 1/2 convs, dilation, depthwise).
 * Backward recomputes the columns from the saved input instead of keeping them (they are kh·kw times the
 * input's size). The weight gradient sums over images sequentially, so it does not depend on thread count. */
#include <string.h>

#include "ops/conv_kernels.h"
#include "ops/matmul_kernels.h"
#include "ops/op_util.h"
#include "visft/ops.h"

#define COL_BUDGET ((int64_t)1 << 22) /* floats in one im2col tile (16 MiB) */

typedef enum conv_path { PATH_GENERIC, PATH_POINTWISE, PATH_PATCH } conv_path;

/* Everything the forward and backward passes share. */
typedef struct conv_plan {
    vt_win2d g;
    int64_t N, O, groups, Cg, Og, Kg, P; /* Kg = Cg·kh·kw inputs per output, P = Ho·Wo */
    conv_path path;
    vt_device dev; /* where the op runs: scratch buffers go there (plan_init leaves it CPU) */
} conv_plan;

/* Scratch buffers get a scope of their own, released as soon as the op is done with them. False (with the
 * ctx error set) when the scope stack is full, so the caller's scope is never popped by mistake. */
static bool scratch_push(vt_ctx *c) {
    int depth = vt_scope_depth(c);
    vt_scope_push(c);
    return vt_scope_depth(c) > depth;
}

static int64_t tile_rows(const conv_plan *p) {
    int64_t per_row = p->g.C * p->g.kh * p->g.kw * p->g.Wo;
    int64_t rows = per_row > 0 ? COL_BUDGET / per_row : p->g.Ho;
    if (rows < 1) rows = 1;
    return rows < p->g.Ho ? rows : p->g.Ho;
}

/* y = conv(x, w) (+ y when beta = 1) for every image. */
static void conv_forward(vt_ctx *c, const conv_plan *p, const vt_conv_kernels *ck, const vt_matmul_kernels *mk,
                         const float *x, const float *w, float *y, float beta) {
    const vt_win2d *g = &p->g;
    const int64_t HW = g->H * g->W, OP = p->O * p->P;
    if (p->path == PATH_PATCH) {
        if (!scratch_push(c)) return;
        vt_tensor *pt = vt_empty_on(c, p->dev, VT_F32, VT_SHAPE(p->N, p->P, p->Kg));
        if (pt) {
            ck->patchify(c, g, p->N, x, vt_dptr_f32(pt));
            mk->gemm_batched(c, false, true, p->O, p->P, p->Kg, 1.0f, w, p->Kg, 0, vt_dptr_f32(pt), p->Kg, p->P * p->Kg,
                             beta, y, p->P, OP, p->N);
        }
        vt_scope_pop(c);
        return;
    }
    if (p->path == PATH_POINTWISE) {
        if (p->groups == 1)
            mk->gemm_batched(c, false, false, p->O, p->P, p->Kg, 1.0f, w, p->Kg, 0, x, p->P, g->C * HW, beta, y,
                             p->P, OP, p->N);
        else
            for (int64_t n = 0; n < p->N; n++)
                mk->gemm_batched(c, false, false, p->Og, p->P, p->Kg, 1.0f, w, p->Kg, p->Og * p->Kg,
                                 x + n * g->C * HW, p->P, p->Cg * HW, beta, y + n * OP, p->P, p->Og * p->P, p->groups);
        return;
    }
    const int64_t rows = tile_rows(p);
    if (!scratch_push(c)) return;
    vt_tensor *col = vt_empty_on(c, p->dev, VT_F32, VT_SHAPE(p->groups * p->Kg * rows * g->Wo));
    for (int64_t n = 0; col && n < p->N; n++)
        for (int64_t oh0 = 0; oh0 < g->Ho; oh0 += rows) {
            int64_t oh1 = oh0 + rows < g->Ho ? oh0 + rows : g->Ho, L = (oh1 - oh0) * g->Wo;
            ck->im2col(c, g, x + n * g->C * HW, vt_dptr_f32(col), oh0, oh1);
            mk->gemm_batched(c, false, false, p->Og, L, p->Kg, 1.0f, w, p->Kg, p->Og * p->Kg, vt_dptr_f32(col), L,
                             p->Kg * L, beta, y + n * OP + oh0 * g->Wo, p->P, p->Og * p->P, p->groups);
        }
    vt_scope_pop(c);
}

/* gw [O, Kg] = Σ_n gy[n] · cols[n]ᵀ, per group. */
static void conv_grad_weight(vt_ctx *c, const conv_plan *p, const vt_conv_kernels *ck, const vt_matmul_kernels *mk,
                             const float *x, const float *gy, float *gw) {
    const vt_win2d *g = &p->g;
    const int64_t HW = g->H * g->W, OP = p->O * p->P;
    if (!scratch_push(c)) return;
    if (p->path == PATH_PATCH) {
        vt_tensor *pt = vt_empty_on(c, p->dev, VT_F32, VT_SHAPE(p->N, p->P, p->Kg));
        if (pt) ck->patchify(c, g, p->N, x, vt_dptr_f32(pt));
        for (int64_t n = 0; pt && n < p->N; n++)
            mk->gemm_batched(c, false, false, p->O, p->Kg, p->P, 1.0f, gy + n * OP, p->P, 0,
                             vt_dptr_f32(pt) + n * p->P * p->Kg, p->Kg, 0, n ? 1.0f : 0.0f, gw, p->Kg, 0, 1);
    } else if (p->path == PATH_POINTWISE) {
        for (int64_t n = 0; n < p->N; n++)
            mk->gemm_batched(c, false, true, p->Og, p->Kg, p->P, 1.0f, gy + n * OP, p->P, p->Og * p->P,
                             x + n * g->C * HW, p->P, p->Cg * HW, n ? 1.0f : 0.0f, gw, p->Kg, p->Og * p->Kg, p->groups);
    } else {
        const int64_t rows = tile_rows(p);
        vt_tensor *col = vt_empty_on(c, p->dev, VT_F32, VT_SHAPE(p->groups * p->Kg * rows * g->Wo));
        bool first = true;
        for (int64_t n = 0; col && n < p->N; n++)
            for (int64_t oh0 = 0; oh0 < g->Ho; oh0 += rows, first = false) {
                int64_t oh1 = oh0 + rows < g->Ho ? oh0 + rows : g->Ho, L = (oh1 - oh0) * g->Wo;
                ck->im2col(c, g, x + n * g->C * HW, vt_dptr_f32(col), oh0, oh1);
                mk->gemm_batched(c, false, true, p->Og, p->Kg, L, 1.0f, gy + n * OP + oh0 * g->Wo, p->P, p->Og * p->P,
                                 vt_dptr_f32(col), L, p->Kg * L, first ? 0.0f : 1.0f, gw, p->Kg, p->Og * p->Kg, p->groups);
            }
    }
    vt_scope_pop(c);
}

/* gx = Wᵀ · gy scattered back through the layout change. */
static void conv_grad_input(vt_ctx *c, const conv_plan *p, const vt_conv_kernels *ck, const vt_matmul_kernels *mk,
                            const float *w, const float *gy, float *gx) {
    const vt_win2d *g = &p->g;
    const int64_t HW = g->H * g->W, OP = p->O * p->P;
    if (!scratch_push(c)) return;
    if (p->path == PATH_PATCH) {
        vt_tensor *pt = vt_empty_on(c, p->dev, VT_F32, VT_SHAPE(p->N, p->P, p->Kg));
        if (pt) { /* patches [P, K] = gy[n]ᵀ [P, O] · W [O, K] */
            mk->gemm_batched(c, true, false, p->P, p->Kg, p->O, 1.0f, gy, p->P, OP, w, p->Kg, 0, 0.0f, vt_dptr_f32(pt),
                             p->Kg, p->P * p->Kg, p->N);
            ck->unpatchify(c, g, p->N, vt_dptr_f32(pt), gx);
        }
    } else if (p->path == PATH_POINTWISE) {
        if (p->groups == 1)
            mk->gemm_batched(c, true, false, p->Kg, p->P, p->O, 1.0f, w, p->Kg, 0, gy, p->P, OP, 0.0f, gx, p->P,
                             g->C * HW, p->N);
        else
            for (int64_t n = 0; n < p->N; n++)
                mk->gemm_batched(c, true, false, p->Kg, p->P, p->Og, 1.0f, w, p->Kg, p->Og * p->Kg, gy + n * OP, p->P,
                                 p->Og * p->P, 0.0f, gx + n * g->C * HW, p->P, p->Cg * HW, p->groups);
    } else {
        const int64_t rows = tile_rows(p);
        vt_tensor *col = vt_empty_on(c, p->dev, VT_F32, VT_SHAPE(p->groups * p->Kg * rows * g->Wo));
        /* host memory is zeroed here; a device gx arrives zeroed (conv2d_backward) */
        if (col && p->dev.kind == VT_DEVICE_CPU) memset(gx, 0, (size_t)(p->N * g->C * HW) * sizeof *gx);
        for (int64_t n = 0; col && n < p->N; n++)
            for (int64_t oh0 = 0; oh0 < g->Ho; oh0 += rows) {
                int64_t oh1 = oh0 + rows < g->Ho ? oh0 + rows : g->Ho, L = (oh1 - oh0) * g->Wo;
                mk->gemm_batched(c, true, false, p->Kg, L, p->Og, 1.0f, w, p->Kg, p->Og * p->Kg,
                                 gy + n * OP + oh0 * g->Wo, p->P, p->Og * p->P, 0.0f, vt_dptr_f32(col), L, p->Kg * L,
                                 p->groups);
                ck->col2im(c, g, vt_dptr_f32(col), gx + n * g->C * HW, oh0, oh1);
            }
    }
    vt_scope_pop(c);
}

/* Plan geometry lives in the node's iattr so backward can rebuild it. */
enum { A_N, A_C, A_H, A_W, A_O, A_KH, A_KW, A_SH, A_SW, A_PH, A_PW, A_DH, A_DW, A_GROUPS, A_COUNT };

static void plan_init(conv_plan *p, const int64_t *a) {
    memset(p, 0, sizeof *p);
    p->N = a[A_N];
    p->O = a[A_O];
    p->groups = a[A_GROUPS];
    vt_win2d *g = &p->g;
    g->C = a[A_C], g->H = a[A_H], g->W = a[A_W];
    g->kh = a[A_KH], g->kw = a[A_KW], g->sh = a[A_SH], g->sw = a[A_SW];
    g->ph = a[A_PH], g->pw = a[A_PW], g->dh = a[A_DH], g->dw = a[A_DW];
    g->Ho = (g->H + 2 * g->ph - g->dh * (g->kh - 1) - 1) / g->sh + 1;
    g->Wo = (g->W + 2 * g->pw - g->dw * (g->kw - 1) - 1) / g->sw + 1;
    p->Cg = g->C / p->groups;
    p->Og = p->O / p->groups;
    p->Kg = p->Cg * g->kh * g->kw;
    p->P = g->Ho * g->Wo;
    bool nopad = g->ph == 0 && g->pw == 0;
    if (g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && nopad)
        p->path = PATH_POINTWISE;
    else if (g->kh == g->sh && g->kw == g->sw && nopad && g->dh == 1 && g->dw == 1 && p->groups == 1)
        p->path = PATH_PATCH;
    else
        p->path = PATH_GENERIC;
}

static vt_status conv2d_backward(vt_ctx *c, vt_node *n, vt_tensor *gy, vt_tensor **grad_in) {
    conv_plan p;
    plan_init(&p, n->iattr);
    p.dev = gy->device;
    vt_tensor *x = n->saved[0], *w = n->saved[1];
    const vt_conv_kernels *ck = vt_kernels(c, gy->device, VT_FAM_CONV, "conv2d");
    const vt_matmul_kernels *mk = vt_kernels(c, gy->device, VT_FAM_MATMUL, "conv2d");
    gy = vt_contiguous_data(c, gy);
    if (!ck || !mk || !gy) return c->err.code;
    if (n->inputs[2]) grad_in[2] = vt_sum(c, gy, 3, (int[]){0, 2, 3}, false);
    if (n->inputs[1]) {
        vt_tensor *gw = vt_empty_on(c, p.dev, VT_F32, w->ndim, w->shape);
        if (!gw) return c->err.code;
        if (p.N == 0 || p.P == 0 || p.Og == 0 || p.Kg == 0)
            vt_zero_(c, gw);
        else
            conv_grad_weight(c, &p, ck, mk, vt_dptr_f32(x), vt_dptr_f32(gy), vt_dptr_f32(gw));
        grad_in[1] = gw;
    }
    if (n->inputs[0]) {
        vt_tensor *gx = p.dev.kind == VT_DEVICE_CPU ? vt_empty_on(c, p.dev, VT_F32, VT_SHAPE(p.N, p.g.C, p.g.H, p.g.W))
                                                    : vt_zeros_on(c, p.dev, VT_F32, VT_SHAPE(p.N, p.g.C, p.g.H, p.g.W));
        if (!gx) return c->err.code;
        if (p.N > 0 && p.P > 0 && p.O > 0 && p.Kg > 0)
            conv_grad_input(c, &p, ck, mk, vt_dptr_f32(w), vt_dptr_f32(gy), vt_dptr_f32(gx));
        else
            vt_zero_(c, gx);
        grad_in[0] = gx;
    }
    return vt_ctx_ok(c) ? VT_OK : c->err.code;
}

static bool conv_check(vt_ctx *c, vt_tensor *x, vt_tensor *w, vt_tensor *bias, const vt_conv2d_opts *o,
                       int64_t *a) {
    char sx[VT_SHAPE_STR_MAX], sw[VT_SHAPE_STR_MAX], sb[VT_SHAPE_STR_MAX];
    vt_shape_str(x, sx, sizeof sx);
    vt_shape_str(w, sw, sizeof sw);
    if (bias) vt_shape_str(bias, sb, sizeof sb);
    for (int i = 0; i < 2; i++)
        if (o->stride[i] < 0 || o->padding[i] < 0 || o->dilation[i] < 0) {
            vt_ctx_fail(c, VT_EINVAL, "conv2d: negative stride, padding or dilation (input %s, weight %s)", sx, sw);
            return false;
        }
    int64_t groups = o->groups ? o->groups : 1;
    if (x->ndim != 4 || w->ndim != 4 || groups < 1 || x->shape[1] % groups || w->shape[0] % groups ||
        w->shape[1] * groups != x->shape[1] || (bias && (bias->ndim != 1 || bias->shape[0] != w->shape[0]))) {
        vt_ctx_fail(c, VT_ESHAPE,
                    "conv2d: input %s, weight %s, bias %s, groups %lld do not fit "
                    "([N, C, H, W], [O, C/groups, kh, kw], [O], groups dividing C and O)",
                    sx, sw, bias ? sb : "none", (long long)groups);
        return false;
    }
    int64_t v[A_COUNT] = {
        [A_N] = x->shape[0], [A_C] = x->shape[1], [A_H] = x->shape[2], [A_W] = x->shape[3], [A_O] = w->shape[0],
        [A_KH] = w->shape[2], [A_KW] = w->shape[3], [A_SH] = o->stride[0] ? o->stride[0] : 1,
        [A_SW] = o->stride[1] ? o->stride[1] : 1, [A_PH] = o->padding[0], [A_PW] = o->padding[1],
        [A_DH] = o->dilation[0] ? o->dilation[0] : 1, [A_DW] = o->dilation[1] ? o->dilation[1] : 1,
        [A_GROUPS] = groups,
    };
    int64_t eh = v[A_DH] * (v[A_KH] - 1) + 1, ew = v[A_DW] * (v[A_KW] - 1) + 1;
    if (v[A_KH] < 1 || v[A_KW] < 1 || v[A_H] + 2 * v[A_PH] < eh || v[A_W] + 2 * v[A_PW] < ew) {
        vt_ctx_fail(c, VT_ESHAPE, "conv2d: kernel %s (dilated %lldx%lld) does not fit input %s padded by (%lld, %lld)",
                    sw, (long long)eh, (long long)ew, sx, (long long)v[A_PH], (long long)v[A_PW]);
        return false;
    }
    memcpy(a, v, sizeof v);
    return true;
}

vt_tensor *vt_conv2d(vt_ctx *c, vt_tensor *x, vt_tensor *w, vt_tensor *bias, const vt_conv2d_opts *opts) {
    if (!VT_OP_READY(c, "conv2d", x, w) || (bias && !VT_OP_READY(c, "conv2d", x, bias))) return NULL;
    if (!vt_op_dtype(c, "conv2d", "input", x, VT_F32) || !vt_op_dtype(c, "conv2d", "weight", w, VT_F32) ||
        (bias && !vt_op_dtype(c, "conv2d", "bias", bias, VT_F32)))
        return NULL;
    static const vt_conv2d_opts defaults; /* zero: all PyTorch defaults */
    int64_t a[A_COUNT];
    if (!conv_check(c, x, w, bias, opts ? opts : &defaults, a)) return NULL;
    conv_plan p;
    plan_init(&p, a);
    p.dev = x->device;
    const vt_conv_kernels *ck = vt_kernels(c, x->device, VT_FAM_CONV, "conv2d");
    const vt_matmul_kernels *mk = vt_kernels(c, x->device, VT_FAM_MATMUL, "conv2d");
    vt_tensor *xc = vt_contiguous_data(c, x), *wc = vt_contiguous_data(c, w);
    vt_tensor *bc = bias ? vt_contiguous_data(c, bias) : NULL;
    vt_tensor *y = vt_empty_on(c, p.dev, VT_F32, VT_SHAPE(p.N, p.O, p.g.Ho, p.g.Wo));
    if (!ck || !mk || !xc || !wc || (bias && !bc) || !y) return NULL;
    float *py = vt_dptr_f32(y);
    if (bc && p.dev.kind != VT_DEVICE_CPU) { /* the same, as a copy from a stride-0 view of the bias */
        vt_tensor *bv = vt_tensor_view_raw(c, bc->storage, VT_F32, 4, y->shape, (int64_t[]){0, 1, 0, 0}, bc->offset);
        if (bv) vt_copy_(c, y, bv);
        vt_tensor_release(bv);
    } else if (bc) { /* start from the bias and let the GEMM accumulate on top */
        const float *pb = vt_dptr_f32(bc);
#pragma omp parallel for num_threads(vt_ctx_threads(c)) if (p.N * p.O * p.P > 65536)
        for (int64_t r = 0; r < p.N * p.O; r++)
            for (int64_t i = 0; i < p.P; i++) py[r * p.P + i] = pb[r % p.O];
    } else if (p.Kg == 0) {
        vt_zero_(c, y);
    }
    if (p.N > 0 && p.O > 0 && p.P > 0 && p.Kg > 0)
        conv_forward(c, &p, ck, mk, vt_dptr_f32(xc), vt_dptr_f32(wc), py, bc ? 1.0f : 0.0f);
    if (!vt_ctx_ok(c)) return NULL;
    vt_tensor *ins[3] = {x, w, bias};
    if (vt_needs_grad(c, 3, ins)) {
        vt_node *n = vt_node_attach(c, y, "conv2d", conv2d_backward, 3, ins);
        if (!n) return NULL;
        memcpy(n->iattr, a, sizeof a);
        /* x only for the weight gradient; w for the input gradient and gw's shape */
        if (n->inputs[1] && vt_node_save(c, n, 0, xc) != VT_OK) return NULL;
        if (vt_node_save(c, n, 1, wc) != VT_OK) return NULL;
    }
    return y;
}
