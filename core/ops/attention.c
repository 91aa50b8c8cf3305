/* vt_sdpa: argument checks, operand layout and autograd. Kernels: attention_cpu.c.
 *
 * Backward keeps q, k, v, the mask, the output and one logsumexp per query row — O(L·D) per head, never the
 * O(L²) probabilities — and recomputes the scores tile by tile. */
#include <limits.h>
#include <math.h>
#include <stdio.h>

#include "ops/attention_kernels.h"
#include "ops/op_util.h"
#include "visft/ops.h"

#define OP "sdpa"

static bool check_inputs(vt_ctx *c, vt_tensor *q, vt_tensor *k, vt_tensor *v, vt_tensor *mask, double scale) {
    if (!vt_op_dtype(c, OP, "q", q, VT_F32) || !vt_op_dtype(c, OP, "k", k, VT_F32) ||
        !vt_op_dtype(c, OP, "v", v, VT_F32))
        return false;
    char sq[VT_SHAPE_STR_MAX], sk[VT_SHAPE_STR_MAX], sv[VT_SHAPE_STR_MAX];
    vt_shape_str(q, sq, sizeof sq);
    vt_shape_str(k, sk, sizeof sk);
    vt_shape_str(v, sv, sizeof sv);
    if (q->ndim != 4 || k->ndim != 4 || v->ndim != 4) {
        vt_ctx_fail(c, VT_ESHAPE, "%s: q, k, v must be 4-d [B, H, L, D], got q %s, k %s, v %s", OP, sq, sk, sv);
        return false;
    }
    if (k->shape[0] != q->shape[0] || k->shape[1] != q->shape[1] || k->shape[3] != q->shape[3] ||
        v->shape[0] != q->shape[0] || v->shape[1] != q->shape[1] || v->shape[2] != k->shape[2]) {
        vt_ctx_fail(c, VT_ESHAPE,
                    "%s: q %s, k %s, v %s do not match (want q [B, H, Lq, D], k [B, H, Lk, D], v [B, H, Lk, Dv])",
                    OP, sq, sk, sv);
        return false;
    }
    if (q->shape[3] == 0 || v->shape[3] == 0) {
        vt_ctx_fail(c, VT_ESHAPE, "%s: head dims must be positive, got q %s, v %s", OP, sq, sv);
        return false;
    }
    if (!isfinite(scale)) {
        vt_ctx_fail(c, VT_EINVAL, "%s: scale must be finite, got %g", OP, scale);
        return false;
    }
    if (!mask) return true;
    char sm[VT_SHAPE_STR_MAX];
    vt_shape_str(mask, sm, sizeof sm);
    if (mask->dtype != VT_F32 && mask->dtype != VT_BOOL && mask->dtype != VT_U8) {
        vt_ctx_fail(c, VT_EDTYPE, "%s: mask must be f32 (additive) or bool/u8 (true keeps), got %s %s", OP,
                    vt_dtype_name(mask->dtype), sm);
        return false;
    }
    const int64_t full[4] = {q->shape[0], q->shape[1], q->shape[2], k->shape[2]};
    bool ok = mask->ndim <= 4;
    for (int i = 0; ok && i < mask->ndim; i++) {
        int64_t d = mask->shape[i], want = full[4 - mask->ndim + i];
        ok = d == want || d == 1;
    }
    if (!ok) {
        vt_ctx_fail(c, VT_ESHAPE, "%s: mask %s does not broadcast to [B, H, Lq, Lk] = [%lld, %lld, %lld, %lld]", OP, sm,
                    (long long)full[0], (long long)full[1], (long long)full[2], (long long)full[3]);
        return false;
    }
    return true;
}

/* Points the kernel at t's data when its layout suits the GEMM (unit-stride rows whose stride is a valid
 * leading dimension), else at a contiguous copy; *used is the tensor actually read. */
static bool operand(vt_ctx *c, vt_tensor *t, const float **p, int64_t st[3], vt_tensor **used) {
    const int64_t L = t->shape[2], D = t->shape[3];
    bool ok = (t->stride[3] == 1 || D == 1) && (L <= 1 || (t->stride[2] >= D && t->stride[2] <= INT_MAX));
    vt_tensor *u = ok ? t : vt_contiguous_data(c, t);
    if (!u) return false;
    *p = (const float *)u->data;
    st[0] = u->stride[0];
    st[1] = u->stride[1];
    st[2] = L <= 1 ? D : u->stride[2]; /* a single row: any valid leading dimension */
    *used = u;
    return true;
}

static bool fill_args(vt_ctx *c, vt_tensor *q, vt_tensor *k, vt_tensor *v, vt_tensor *mask, double scale,
                      bool causal, vt_sdpa_args *a, vt_tensor *used[3]) {
    *a = (vt_sdpa_args){.B = q->shape[0], .H = q->shape[1], .Lq = q->shape[2], .Lk = k->shape[2],
                        .D = q->shape[3], .Dv = v->shape[3], .causal = causal};
    a->scale = (float)(scale != 0.0 ? scale : 1.0 / sqrt((double)a->D));
    if (!operand(c, q, &a->q, a->qs, &used[0]) || !operand(c, k, &a->k, a->ks, &used[1]) ||
        !operand(c, v, &a->v, a->vs, &used[2]))
        return false;
    if (mask) {
        const int64_t full[4] = {a->B, a->H, a->Lq, a->Lk};
        a->mask_kind = mask->dtype == VT_F32 ? VT_SDPA_MASK_ADD : VT_SDPA_MASK_KEEP;
        a->mask = mask->data;
        for (int i = 0; i < 4; i++) {
            int im = mask->ndim - 4 + i;
            a->ms[i] = im >= 0 && mask->shape[im] == full[i] ? mask->stride[im] : 0;
        }
    }
    return true;
}

static vt_status sdpa_backward(vt_ctx *c, vt_node *n, vt_tensor *g, vt_tensor **grad_in) {
    vt_tensor *q = n->saved[0], *k = n->saved[1], *v = n->saved[2], *mask = n->saved[3];
    vt_tensor *out = n->saved[4], *lse = n->saved[5];
    const vt_attention_kernels *kt = vt_kernels(c, g->device, VT_FAM_ATTENTION, OP);
    vt_sdpa_args a;
    vt_tensor *used[3];
    if (!kt || !fill_args(c, q, k, v, mask, n->fattr[0], n->iattr[0] != 0, &a, used)) return c->err.code;
    g = vt_contiguous_data(c, g);
    vt_tensor *dq = n->inputs[0] ? vt_empty_on(c, q->device, VT_F32, 4, q->shape) : NULL;
    vt_tensor *dk = n->inputs[1] ? vt_empty_on(c, q->device, VT_F32, 4, k->shape) : NULL;
    vt_tensor *dv = n->inputs[2] ? vt_empty_on(c, q->device, VT_F32, 4, v->shape) : NULL;
    /* zeroed: a causal kernel skips tiles no query can see and leaves their mask gradient unwritten */
    vt_tensor *dmask = n->inputs[3] ? vt_zeros_on(c, q->device, VT_F32, 4, (int64_t[]){a.B, a.H, a.Lq, a.Lk}) : NULL;
    vt_tensor *delta = vt_empty_on(c, q->device, VT_F32, 1, (int64_t[]){a.B * a.H * a.Lq});
    if (!vt_ctx_ok(c) || !g) return c->err.code;
    if (vt_numel(out) == 0 || a.Lk == 0) { /* nothing flows back */
        vt_tensor *gs[4] = {dq, dk, dv, dmask};
        for (int i = 0; i < 4; i++)
            if (gs[i]) vt_fill_(c, gs[i], 0.0);
    } else {
        kt->sdpa_backward(c, &a, vt_dptr_f32(out), vt_dptr_f32(lse), vt_dptr_f32(g), vt_dptr_f32(delta), dq ? vt_dptr_f32(dq) : NULL,
                          dk ? vt_dptr_f32(dk) : NULL, dv ? vt_dptr_f32(dv) : NULL, dmask ? vt_dptr_f32(dmask) : NULL);
    }
    grad_in[0] = dq;
    grad_in[1] = dk;
    grad_in[2] = dv;
    if (dmask) grad_in[3] = vt_sum_to_shape(c, dmask, mask->ndim, mask->shape);
    return vt_ctx_ok(c) ? VT_OK : c->err.code;
}

vt_tensor *vt_sdpa(vt_ctx *c, vt_tensor *q, vt_tensor *k, vt_tensor *v, vt_tensor *mask, double scale,
                   bool is_causal) {
    if (!VT_OP_READY(c, OP, q, k, v) || (mask && !VT_OP_READY(c, OP, q, mask)) ||
        !check_inputs(c, q, k, v, mask, scale))
        return NULL;
    const vt_attention_kernels *kt = vt_kernels(c, q->device, VT_FAM_ATTENTION, OP);
    vt_sdpa_args a;
    vt_tensor *used[3];
    if (!kt || !fill_args(c, q, k, v, mask, scale, is_causal, &a, used)) return NULL;
    /* only an additive mask is differentiable */
    vt_tensor *ins[4] = {q, k, v, mask && mask->dtype == VT_F32 ? mask : NULL};
    const bool grad = vt_needs_grad(c, 4, ins);
    vt_tensor *out = vt_empty_on(c, q->device, VT_F32, 4, (int64_t[]){a.B, a.H, a.Lq, a.Dv});
    vt_tensor *lse = grad ? vt_empty_on(c, q->device, VT_F32, 3, (int64_t[]){a.B, a.H, a.Lq}) : NULL;
    if (!out || (grad && !lse)) return NULL;
    if (vt_numel(out) > 0) kt->sdpa_forward(c, &a, vt_dptr_f32(out), lse ? vt_dptr_f32(lse) : NULL);
    if (!grad) return out;
    vt_node *n = vt_node_attach(c, out, OP, sdpa_backward, 4, ins);
    if (!n) return NULL;
    n->iattr[0] = is_causal;
    n->fattr[0] = scale; /* as given: fill_args resolves it again */
    for (int i = 0; i < 3; i++)
        if (vt_node_save(c, n, i, used[i]) != VT_OK) return NULL;
    if ((mask && vt_node_save(c, n, 3, mask) != VT_OK) || vt_node_save(c, n, 4, out) != VT_OK ||
        vt_node_save(c, n, 5, lse) != VT_OK)
        return NULL;
    return out;
}
