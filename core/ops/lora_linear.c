/* Fused linear + LoRA (see vt_lora_linear in visft/ops_matmul.h).
 *
 * Every product is one GEMM straight into or out of a strided slice of the [R, out] output: the adapter's
 * update is accumulated with beta = 1 into its slice, and in backward each slice's gradient is read in
 * place (leading dimension = out). Compared with concat(zeros, delta) + add, this removes three passes over
 * the qkv-sized activation per layer and direction, which is most of a LoRA step's non-GEMM time. */
#include <string.h>

#include "ops/matmul_kernels.h"
#include "ops/op_util.h"
#include "ops/reduce_kernels.h"
#include "visft/ops.h"

#define MAX_SLICES 4
/* node input slots: 0 x, 1 w, 2 bias, 3 x_lora (when distinct from x), 4 + 2s: A[s], 5 + 2s: B[s] */
#define SLOT_A(s) (4 + 2 * (s))
#define SLOT_B(s) (5 + 2 * (s))
/* The adapters' A matrices are stacked into one [Σrank, in] matrix, so the down-projection x·Aᵀ, its weight
 * gradient Tᵀ·x and the input gradient T·A are one GEMM each over all slices (wider and faster than one per
 * slice); only the per-slice up-projections with B stay separate.
 * saved slots: 0 x, 1 w, 2 x_lora (when distinct), 3 H = x_lora·A_catᵀ [R, Σrank], 4 A_cat, 5 + s: B[s].
 * iattr: 0 n_slices, 1 Σrank, 2 + s: slice s's offset in the stack (-1: no adapter). */
#define SAVED_B(s) (5 + (s))

static vt_status lora_linear_backward(vt_ctx *c, vt_node *n, vt_tensor *g, vt_tensor **grad_in) {
    const vt_matmul_kernels *k = vt_kernels(c, g->device, VT_FAM_MATMUL, "lora_linear");
    const vt_reduce_kernels *rk = vt_kernels(c, g->device, VT_FAM_REDUCE, "lora_linear");
    g = vt_contiguous_data(c, g);
    if (!k || !rk || !g) return c->err.code;
    vt_tensor *x = n->saved[0], *w = n->saved[1], *xl = n->saved[2] ? n->saved[2] : x;
    vt_tensor *H = n->saved[3], *Acat = n->saved[4];
    int ns = (int)n->iattr[0];
    int64_t rt = n->iattr[1];
    float scaling = (float)n->fattr[0];
    bool shared_input = n->saved[2] == NULL;
    int64_t N = w->shape[0], K = w->shape[1], R = vt_numel(g) / (N ? N : 1), Ns = N / ns;
    const float *pg = vt_dptr_f32(g);

    vt_tensor *gx = NULL, *gxl = NULL;
    if (n->inputs[0] || (shared_input && n->n_inputs > 3)) {
        gx = vt_empty_on(c, x->device, VT_F32, x->ndim, x->shape);
        if (!gx) return c->err.code;
        k->gemm_batched(c, false, false, R, K, N, 1.0f, pg, N, 0, vt_dptr_f32(w), K, 0, 0.0f, vt_dptr_f32(gx), K, 0, 1);
    }
    if (!shared_input && n->inputs[3]) {
        gxl = vt_zeros_on(c, x->device, VT_F32, xl->ndim, xl->shape);
        if (!gxl) return c->err.code;
    }
    vt_tensor *into = shared_input ? gx : gxl; /* where the adapters' input gradient accumulates */
    vt_tensor *T = vt_empty_on(c, x->device, VT_F32, VT_SHAPE(R, rt)); /* T[:, slice s] = g_s·B_s */
    if (!T) return c->err.code;
    bool any_A = false;
    for (int s = 0; s < ns; s++) {
        int64_t off = n->iattr[2 + s];
        if (off < 0) continue;
        vt_tensor *Bs = n->saved[SAVED_B(s)];
        int64_t r = Bs->shape[1];
        const float *gs = pg + s * Ns; /* the slice's gradient, rows of stride N */
        k->gemm_batched(c, false, false, R, r, Ns, 1.0f, gs, N, 0, vt_dptr_f32(Bs), r, 0, 0.0f, vt_dptr_f32(T) + off, rt, 0, 1);
        if (n->inputs[SLOT_B(s)]) { /* gB = scaling · g_sᵀ·H_s */
            vt_tensor *gB = vt_empty_on(c, x->device, VT_F32, VT_SHAPE(Ns, r));
            if (!gB) return c->err.code;
            k->gemm_batched(c, true, false, Ns, r, R, scaling, gs, N, 0, vt_dptr_f32(H) + off, rt, 0, 0.0f, vt_dptr_f32(gB), r, 0,
                            1);
            grad_in[SLOT_B(s)] = gB;
        }
        any_A |= n->inputs[SLOT_A(s)] != NULL;
    }
    if (any_A) { /* gA_cat = scaling · Tᵀ·x_lora, then each slice's rows */
        vt_tensor *gA = vt_empty_on(c, x->device, VT_F32, VT_SHAPE(rt, K));
        if (!gA) return c->err.code;
        k->gemm_batched(c, true, false, rt, K, R, scaling, vt_dptr_f32(T), rt, 0, vt_dptr_f32(xl), K, 0, 0.0f, vt_dptr_f32(gA), K, 0, 1);
        for (int s = 0; s < ns; s++) {
            int64_t off = n->iattr[2 + s];
            if (off >= 0 && n->inputs[SLOT_A(s)])
                grad_in[SLOT_A(s)] = vt_slice(c, gA, 0, off, off + n->saved[SAVED_B(s)]->shape[1], 1);
        }
    }
    if (into && rt > 0) /* d x_lora += scaling · T·A_cat */
        k->gemm_batched(c, false, false, R, K, rt, scaling, vt_dptr_f32(T), rt, 0, vt_dptr_f32(Acat), K, 0, 1.0f, vt_dptr_f32(into), K,
                        0, 1);
    if (n->inputs[0]) grad_in[0] = gx;
    if (gxl) grad_in[3] = gxl;
    if (n->inputs[1]) { /* gw = gᵀ·x */
        vt_tensor *gw = vt_empty_on(c, x->device, VT_F32, 2, w->shape);
        if (!gw) return c->err.code;
        k->gemm_batched(c, true, false, N, K, R, 1.0f, pg, N, 0, vt_dptr_f32(x), K, 0, 0.0f, vt_dptr_f32(gw), K, 0, 1);
        grad_in[1] = gw;
    }
    if (n->inputs[2]) {
        vt_tensor *gb = vt_empty_on(c, x->device, VT_F32, 1, &N);
        if (!gb) return c->err.code;
        rk->sum_cols(c, pg, vt_dptr_f32(gb), R, N);
        grad_in[2] = gb;
    }
    return vt_ctx_ok(c) ? VT_OK : c->err.code;
}

vt_tensor *vt_lora_linear(vt_ctx *c, vt_tensor *x, vt_tensor *w, vt_tensor *bias, vt_tensor *x_lora, int n_slices,
                          vt_tensor *const *A, vt_tensor *const *B, double scaling) {
    static const char *op = "lora_linear";
    if (!VT_OP_READY(c, op, x, w) || (x_lora && !VT_OP_READY(c, op, x, x_lora))) return NULL;
    if (n_slices < 1 || n_slices > MAX_SLICES || w->ndim != 2 || w->shape[0] % n_slices) {
        vt_ctx_fail(c, VT_EINVAL, "%s: %d slices of a weight with %lld rows (1..%d equal slices)", op, n_slices,
                    (long long)(w->ndim == 2 ? w->shape[0] : -1), MAX_SLICES);
        return NULL;
    }
    if (!x_lora) x_lora = x;
    char sx[VT_SHAPE_STR_MAX], sa[VT_SHAPE_STR_MAX], sb[VT_SHAPE_STR_MAX];
    int64_t N = w->shape[0], K = w->shape[1], Ns = N / n_slices;
    if (!vt_same_shape(x_lora, x)) {
        vt_ctx_fail(c, VT_ESHAPE, "%s: x_lora %s differs from x %s", op, vt_shape_str(x_lora, sa, sizeof sa),
                    vt_shape_str(x, sx, sizeof sx));
        return NULL;
    }
    for (int s = 0; s < n_slices; s++) {
        if (!A[s] && !B[s]) continue;
        if (!A[s] || !B[s] || A[s]->ndim != 2 || B[s]->ndim != 2 || A[s]->shape[1] != K || B[s]->shape[0] != Ns ||
            B[s]->shape[1] != A[s]->shape[0] || A[s]->dtype != VT_F32 || B[s]->dtype != VT_F32) {
            vt_ctx_fail(c, VT_ESHAPE, "%s: slice %d adapter A %s, B %s do not fit [rank, %lld] and [%lld, rank]", op, s,
                        A[s] ? vt_shape_str(A[s], sa, sizeof sa) : "none", B[s] ? vt_shape_str(B[s], sb, sizeof sb) : "none",
                        (long long)K, (long long)Ns);
            return NULL;
        }
        if (!VT_OP_READY(c, op, x, A[s], B[s])) return NULL;
    }
    /* the base product, with the shape and dtype checks of vt_linear */
    vt_no_grad_begin(c);
    vt_tensor *y = vt_linear(c, x, w, bias);
    vt_no_grad_end(c);
    if (!y) return NULL;
    const vt_matmul_kernels *k = vt_kernels(c, x->device, VT_FAM_MATMUL, op);
    vt_tensor *xc = vt_contiguous_data(c, x), *xlc = x_lora == x ? xc : vt_contiguous_data(c, x_lora);
    if (!k || !xc || !xlc) return NULL;
    int64_t R = vt_numel(x) / (K ? K : 1);
    /* stack the enabled slices' A into one matrix: one down-projection GEMM for all of them */
    int64_t off[MAX_SLICES], rt = 0;
    for (int s = 0; s < n_slices; s++) {
        off[s] = A[s] ? rt : -1;
        if (A[s]) rt += A[s]->shape[0];
    }
    vt_tensor *Acat = NULL, *H = NULL, *Bc[MAX_SLICES] = {0};
    if (rt > 0) {
        Acat = vt_empty_on(c, x->device, VT_F32, VT_SHAPE(rt, K));
        H = vt_empty_on(c, x->device, VT_F32, VT_SHAPE(R, rt));
        if (!Acat || !H) return NULL;
        for (int s = 0; s < n_slices; s++) {
            if (!A[s]) continue;
            vt_tensor *Ac = vt_contiguous_data(c, A[s]);
            Bc[s] = vt_contiguous_data(c, B[s]);
            if (!Ac || !Bc[s]) return NULL;
            if (vt_on_cpu(Acat)) {
                memcpy(vt_dptr_f32(Acat) + off[s] * K, vt_dptr_f32(Ac), vt_nbytes(Ac));
            } else { /* the same rows of Acat, through the device's copy */
                vt_tensor *rows = vt_tensor_view_raw(c, Acat->storage, VT_F32, 2, Ac->shape, Acat->stride,
                                                     Acat->offset + off[s] * K);
                vt_status st = rows ? vt_copy_(c, rows, Ac) : c->err.code;
                vt_tensor_release(rows);
                if (st != VT_OK) return NULL;
            }
        }
        k->gemm_batched(c, false, true, R, rt, K, 1.0f, vt_dptr_f32(xlc), K, 0, vt_dptr_f32(Acat), K, 0, 0.0f, vt_dptr_f32(H), rt, 0, 1);
        for (int s = 0; s < n_slices; s++) {
            if (!A[s]) continue;
            int64_t r = A[s]->shape[0];
            k->gemm_batched(c, false, true, R, Ns, r, (float)scaling, vt_dptr_f32(H) + off[s], rt, 0, vt_dptr_f32(Bc[s]), r, 0, 1.0f,
                            vt_dptr_f32(y) + s * Ns, N, 0, 1);
        }
    }
    vt_tensor *ins[VT_NODE_MAX_INPUTS] = {x, w, bias, x_lora == x ? NULL : x_lora};
    for (int s = 0; s < n_slices; s++) {
        ins[SLOT_A(s)] = A[s];
        ins[SLOT_B(s)] = B[s];
    }
    if (vt_needs_grad(c, SLOT_B(n_slices - 1) + 1, ins)) {
        vt_node *n = vt_node_attach(c, y, op, lora_linear_backward, SLOT_B(n_slices - 1) + 1, ins);
        if (!n) return NULL;
        n->iattr[0] = n_slices;
        n->iattr[1] = rt;
        for (int s = 0; s < n_slices; s++) n->iattr[2 + s] = off[s];
        n->fattr[0] = scaling;
        bool ok = vt_node_save(c, n, 0, xc) == VT_OK && vt_node_save(c, n, 1, vt_contiguous_data(c, w)) == VT_OK;
        if (ok && x_lora != x) ok = vt_node_save(c, n, 2, xlc) == VT_OK;
        if (ok && rt > 0) ok = vt_node_save(c, n, 3, H) == VT_OK && vt_node_save(c, n, 4, Acat) == VT_OK;
        for (int s = 0; ok && s < n_slices; s++)
            if (Bc[s]) ok = vt_node_save(c, n, SAVED_B(s), Bc[s]) == VT_OK;
        if (!ok) return NULL;
    }
    return y;
}
