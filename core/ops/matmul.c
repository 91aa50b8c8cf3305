/* matmul / bmm / linear. Operands are handed to the GEMM in place whenever their last two dims are row- or
 * column-major (so transposed views cost nothing) and their batch dims collapse to one stride; otherwise a
 * contiguous copy is made. A 2-d right operand with a batched left one folds the batch into M: one large
 * GEMM instead of many small ones, forward and backward. */
#include <string.h>

#include "ops/matmul_kernels.h"
#include "ops/op_util.h"
#include "ops/reduce_kernels.h"
#include "visft/ops.h"

/* How a [batch..., R, C] operand is passed to the GEMM. */
typedef struct gemm_operand {
    const float *p;
    bool trans;
    int64_t ld, batch_stride;
} gemm_operand;

/* Fills op for tensor t viewed with batch shape bshape (nb dims); false if t needs a copy first. */
static bool as_operand(const vt_tensor *t, int nb, const int64_t *bshape, gemm_operand *op) {
    int nd = t->ndim;
    int64_t rows = t->shape[nd - 2], cols = t->shape[nd - 1];
    int64_t s0 = t->stride[nd - 2], s1 = t->stride[nd - 1];
    if ((s1 == 1 || cols == 1) && s0 >= (cols > 1 ? cols : 1)) {
        op->trans = false;
        op->ld = s0 > 0 ? s0 : 1;
        if (rows == 1) op->ld = cols > 1 ? cols : 1;
    } else if ((s0 == 1 || rows == 1) && s1 >= (rows > 1 ? rows : 1)) {
        op->trans = true;
        op->ld = s1 > 0 ? s1 : 1;
        if (cols == 1) op->ld = rows > 1 ? rows : 1;
    } else {
        return false;
    }
    /* batch dims of t (right-aligned against bshape) must collapse to a single stride, or all broadcast */
    int tb = nd - 2, lead = nb - tb;
    int64_t stride = -1, expect = -1;
    bool all_bcast = true;
    for (int i = nb - 1; i >= 0; i--) {
        int it = i - lead;
        int64_t sz = bshape[i];
        int64_t st = (it >= 0 && t->shape[it] == sz) ? t->stride[it] : 0;
        if (sz == 1) continue;
        if (st != 0) all_bcast = false;
        if (stride < 0) {
            stride = st;
            expect = st * sz;
        } else {
            if (st != expect) return false;
            expect = st * sz;
        }
    }
    if (!all_bcast && stride == 0) return false;
    op->batch_stride = all_bcast ? 0 : (stride < 0 ? 0 : stride);
    op->p = (const float *)t->data;
    return true;
}

static vt_tensor *matmul_raw(vt_ctx *c, vt_tensor *a, vt_tensor *b);

static vt_status matmul_backward(vt_ctx *c, vt_node *n, vt_tensor *g, vt_tensor **grad_in) {
    vt_tensor *a = n->saved[0], *b = n->saved[1];
    if (b->ndim == 2 && a->ndim > 2) {
        /* folded form: a [R, K], g [R, N] */
        int64_t K = a->shape[a->ndim - 1], N = b->shape[1];
        vt_tensor *a2 = vt_reshape(c, a, 2, (int64_t[]){-1, K});
        vt_tensor *g2 = vt_reshape(c, g, 2, (int64_t[]){-1, N});
        if (n->inputs[0]) grad_in[0] = vt_reshape(c, matmul_raw(c, g2, vt_transpose(c, b, 0, 1)), a->ndim, a->shape);
        if (n->inputs[1]) grad_in[1] = matmul_raw(c, vt_transpose(c, a2, 0, 1), g2);
        return vt_ctx_ok(c) ? VT_OK : c->err.code;
    }
    if (n->inputs[0])
        grad_in[0] = vt_sum_to_shape(c, matmul_raw(c, g, vt_transpose(c, b, -1, -2)), a->ndim, a->shape);
    if (n->inputs[1])
        grad_in[1] = vt_sum_to_shape(c, matmul_raw(c, vt_transpose(c, a, -1, -2), g), b->ndim, b->shape);
    return vt_ctx_ok(c) ? VT_OK : c->err.code;
}

static vt_tensor *matmul_raw(vt_ctx *c, vt_tensor *a, vt_tensor *b) {
    if (!VT_OP_READY(c, "matmul", a, b) || !vt_op_dtype(c, "matmul", "first input", a, VT_F32) ||
        !vt_op_dtype(c, "matmul", "second input", b, VT_F32))
        return NULL;
    char sa[VT_SHAPE_STR_MAX], sb[VT_SHAPE_STR_MAX];
    if (a->ndim < 2 || b->ndim < 2 || a->shape[a->ndim - 1] != b->shape[b->ndim - 2]) {
        vt_ctx_fail(c, VT_ESHAPE, "matmul: shapes %s and %s are not compatible", vt_shape_str(a, sa, sizeof sa),
                    vt_shape_str(b, sb, sizeof sb));
        return NULL;
    }
    int64_t M = a->shape[a->ndim - 2], K = a->shape[a->ndim - 1], N = b->shape[b->ndim - 1];
    /* broadcast batch dims */
    int na = a->ndim - 2, nb = b->ndim - 2, nbatch = na > nb ? na : nb;
    int64_t bshape[VT_MAX_DIMS], batch = 1;
    for (int i = 0; i < nbatch; i++) {
        int ia = i - (nbatch - na), ib = i - (nbatch - nb);
        int64_t da = ia >= 0 ? a->shape[ia] : 1, db = ib >= 0 ? b->shape[ib] : 1;
        if (da != db && da != 1 && db != 1) {
            vt_ctx_fail(c, VT_ESHAPE, "matmul: batch dims of %s and %s do not broadcast",
                        vt_shape_str(a, sa, sizeof sa), vt_shape_str(b, sb, sizeof sb));
            return NULL;
        }
        bshape[i] = da == 1 ? db : da;
        batch *= bshape[i];
    }
    int64_t oshape[VT_MAX_DIMS];
    memcpy(oshape, bshape, (size_t)nbatch * sizeof *oshape);
    oshape[nbatch] = M;
    oshape[nbatch + 1] = N;
    const vt_matmul_kernels *k = vt_kernels(c, a->device, VT_FAM_MATMUL, "matmul");
    vt_tensor *y = vt_empty_on(c, a->device, VT_F32, nbatch + 2, oshape);
    if (!k || !y) return NULL;
    if (M == 0 || N == 0) return y;
    if (K == 0) return vt_zero_(c, y) == VT_OK ? y : NULL;

    /* fold the batch of a into M when b is a single matrix and a's rows are uniformly strided */
    if (nb == 0 && na > 0) {
        vt_tensor *ac = vt_contiguous_data(c, a);
        gemm_operand ob = {0};
        vt_tensor *bc = b;
        if (!as_operand(bc, 0, NULL, &ob)) {
            bc = vt_contiguous_data(c, b);
            if (!bc || !as_operand(bc, 0, NULL, &ob)) return NULL;
        }
        if (!ac) return NULL;
        k->gemm_batched(c, false, ob.trans, batch * M, N, K, 1.0f, vt_dptr_f32(ac), K, 0, ob.p, ob.ld, 0, 0.0f, vt_dptr_f32(y), N,
                        0, 1);
        return y;
    }
    gemm_operand oa = {0}, ob = {0};
    vt_tensor *ac = a, *bc = b;
    /* operands whose batch dims do not collapse (mixed broadcasting) are materialised at the full batch */
    int64_t full[VT_MAX_DIMS];
    memcpy(full, bshape, (size_t)nbatch * sizeof *full);
    if (!as_operand(ac, nbatch, bshape, &oa)) {
        full[nbatch] = M;
        full[nbatch + 1] = K;
        ac = vt_contiguous_data(c, vt_expand(c, a, nbatch + 2, full));
        if (!ac || !as_operand(ac, nbatch, bshape, &oa)) {
            vt_ctx_fail(c, VT_EUNSUPPORTED, "matmul: cannot lay out %s for the GEMM", vt_shape_str(a, sa, sizeof sa));
            return NULL;
        }
    }
    if (!as_operand(bc, nbatch, bshape, &ob)) {
        full[nbatch] = K;
        full[nbatch + 1] = N;
        bc = vt_contiguous_data(c, vt_expand(c, b, nbatch + 2, full));
        if (!bc || !as_operand(bc, nbatch, bshape, &ob)) {
            vt_ctx_fail(c, VT_EUNSUPPORTED, "matmul: cannot lay out %s for the GEMM", vt_shape_str(b, sb, sizeof sb));
            return NULL;
        }
    }
    k->gemm_batched(c, oa.trans, ob.trans, M, N, K, 1.0f, oa.p, oa.ld, oa.batch_stride, ob.p, ob.ld, ob.batch_stride,
                    0.0f, vt_dptr_f32(y), N, M * N, batch);
    return y;
}

static vt_tensor *matmul_2d(vt_ctx *c, vt_tensor *a, vt_tensor *b) {
    vt_tensor *y = matmul_raw(c, a, b);
    vt_tensor *ins[2] = {a, b};
    if (!y || !vt_needs_grad(c, 2, ins)) return y;
    vt_node *n = vt_node_attach(c, y, "matmul", matmul_backward, 2, ins);
    if (!n || vt_node_save(c, n, 0, a) != VT_OK || vt_node_save(c, n, 1, b) != VT_OK) return NULL;
    return y;
}

vt_tensor *vt_matmul(vt_ctx *c, vt_tensor *a, vt_tensor *b) {
    if (!VT_OP_READY(c, "matmul", a, b)) return NULL;
    if (a->ndim == 0 || b->ndim == 0) {
        vt_ctx_fail(c, VT_ESHAPE, "matmul: 0-d operands are not matrices");
        return NULL;
    }
    bool a1 = a->ndim == 1, b1 = b->ndim == 1;
    vt_tensor *aa = a1 ? vt_unsqueeze(c, a, 0) : a;
    vt_tensor *bb = b1 ? vt_unsqueeze(c, b, 1) : b;
    vt_tensor *y = matmul_2d(c, aa, bb);
    if (y && b1) y = vt_squeeze(c, y, -1);
    if (y && a1) y = vt_squeeze(c, y, -2);
    return y;
}

vt_tensor *vt_bmm(vt_ctx *c, vt_tensor *a, vt_tensor *b) {
    if (!VT_OP_READY(c, "bmm", a, b)) return NULL;
    if (a->ndim != 3 || b->ndim != 3 || a->shape[0] != b->shape[0]) {
        char sa[VT_SHAPE_STR_MAX], sb[VT_SHAPE_STR_MAX];
        vt_ctx_fail(c, VT_ESHAPE, "bmm: expected [B, M, K] and [B, K, N], got %s and %s",
                    vt_shape_str(a, sa, sizeof sa), vt_shape_str(b, sb, sizeof sb));
        return NULL;
    }
    return vt_matmul(c, a, b);
}

/* ---- linear ---- */

static vt_status linear_backward(vt_ctx *c, vt_node *n, vt_tensor *g, vt_tensor **grad_in) {
    vt_tensor *x = n->saved[0], *w = n->saved[1];
    const vt_matmul_kernels *k = vt_kernels(c, g->device, VT_FAM_MATMUL, "linear");
    const vt_reduce_kernels *rk = vt_kernels(c, g->device, VT_FAM_REDUCE, "linear");
    g = vt_contiguous_data(c, g);
    if (!k || !rk || !g) return c->err.code;
    int64_t N = w->shape[0], K = w->shape[1], R = vt_numel(g) / (N ? N : 1);
    if (n->inputs[0]) { /* gx [R, K] = g [R, N] · w [N, K] */
        vt_tensor *gx = vt_empty_on(c, w->device, VT_F32, x->ndim, x->shape);
        if (!gx) return c->err.code;
        k->gemm_batched(c, false, false, R, K, N, 1.0f, vt_dptr_f32(g), N, 0, vt_dptr_f32(w), K, 0, 0.0f, vt_dptr_f32(gx), K, 0, 1);
        grad_in[0] = gx;
    }
    if (n->inputs[1]) { /* gw [N, K] = gᵀ [N, R] · x [R, K] */
        vt_tensor *gw = vt_empty_on(c, w->device, VT_F32, 2, w->shape);
        if (!gw) return c->err.code;
        k->gemm_batched(c, true, false, N, K, R, 1.0f, vt_dptr_f32(g), N, 0, vt_dptr_f32(x), K, 0, 0.0f, vt_dptr_f32(gw), K, 0, 1);
        grad_in[1] = gw;
    }
    if (n->inputs[2]) {
        vt_tensor *gb = vt_empty_on(c, w->device, VT_F32, 1, &N);
        if (!gb) return c->err.code;
        rk->sum_cols(c, vt_dptr_f32(g), vt_dptr_f32(gb), R, N);
        grad_in[2] = gb;
    }
    return VT_OK;
}

vt_tensor *vt_linear(vt_ctx *c, vt_tensor *x, vt_tensor *w, vt_tensor *bias) {
    if (!VT_OP_READY(c, "linear", x, w) || (bias && !VT_OP_READY(c, "linear", x, bias))) return NULL;
    if (!vt_op_dtype(c, "linear", "input", x, VT_F32) || !vt_op_dtype(c, "linear", "weight", w, VT_F32) ||
        (bias && !vt_op_dtype(c, "linear", "bias", bias, VT_F32)))
        return NULL;
    char sx[VT_SHAPE_STR_MAX], sw[VT_SHAPE_STR_MAX], sbias[VT_SHAPE_STR_MAX];
    if (x->ndim < 1 || w->ndim != 2 || x->shape[x->ndim - 1] != w->shape[1] ||
        (bias && (bias->ndim != 1 || bias->shape[0] != w->shape[0]))) {
        vt_ctx_fail(c, VT_ESHAPE, "linear: input %s, weight %s, bias %s do not fit ([..., in], [out, in], [out])",
                    vt_shape_str(x, sx, sizeof sx), vt_shape_str(w, sw, sizeof sw),
                    bias ? vt_shape_str(bias, sbias, sizeof sbias) : "none");
        return NULL;
    }
    const vt_matmul_kernels *k = vt_kernels(c, x->device, VT_FAM_MATMUL, "linear");
    vt_tensor *xc = vt_contiguous_data(c, x), *wc = vt_contiguous_data(c, w);
    int64_t N = w->shape[0], K = w->shape[1];
    int64_t oshape[VT_MAX_DIMS];
    memcpy(oshape, x->shape, sizeof oshape);
    oshape[x->ndim - 1] = N;
    vt_tensor *y = vt_empty_on(c, x->device, VT_F32, x->ndim, oshape);
    if (!k || !xc || !wc || !y) return NULL;
    int64_t R = vt_numel(x) / (K ? K : 1);
    if (K == 0) R = vt_numel(y) / (N ? N : 1);
    float beta = 0.0f;
    if (bias) { /* start from the broadcast bias and accumulate the product on top */
        vt_tensor *bc = vt_contiguous_data(c, bias);
        if (!bc) return NULL;
        if (vt_on_cpu(y)) {
            float *py = vt_dptr_f32(y);
            const float *pb = vt_dptr_f32(bc);
#pragma omp parallel for num_threads(vt_ctx_threads(c)) if (R * N > 65536)
            for (int64_t r = 0; r < R; r++) memcpy(py + r * N, pb, (size_t)N * sizeof *pb);
        } else { /* the same, as a device copy from a broadcast view of the bias */
            vt_tensor *bv = vt_broadcast_view(c, bc, y->ndim, y->shape);
            vt_status st = bv ? vt_copy_(c, y, bv) : c->err.code;
            vt_tensor_release(bv);
            if (st != VT_OK) return NULL;
        }
        beta = 1.0f;
    }
    if (K > 0 && R > 0 && N > 0)
        k->gemm_batched(c, false, true, R, N, K, 1.0f, vt_dptr_f32(xc), K, 0, vt_dptr_f32(wc), K, 0, beta, vt_dptr_f32(y), N, 0, 1);
    else if (!bias && vt_zero_(c, y) != VT_OK)
        return NULL;
    vt_tensor *ins[3] = {x, w, bias};
    if (vt_needs_grad(c, 3, ins)) {
        vt_node *n = vt_node_attach(c, y, "linear", linear_backward, 3, ins);
        if (!n) return NULL;
        if ((n->inputs[1] || n->inputs[0]) && vt_node_save(c, n, 0, xc) != VT_OK) return NULL;
        if (vt_node_save(c, n, 1, wc) != VT_OK) return NULL;
    }
    return y;
}
