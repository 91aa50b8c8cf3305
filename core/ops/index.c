/* Ops that move elements by integer index: index_select, embedding, gather, scatter_add, one_hot.
 * Indices are checked here, before any kernel runs; the gradients of the selecting ops are the scatter-add
 * kernels (and the other way round), whose fixed summation order keeps them thread-count independent. */
#include <stdio.h>
#include <string.h>

#include "ops/index_kernels.h"
#include "ops/op_util.h"
#include "visft/ops.h"

/* Every value of contiguous i64 idx lies in [0, size), else an error naming the op, the value, its position
 * and what it indexes. A device idx is read through a host copy (synchronising). */
static bool check_range(vt_ctx *c, const char *op, const vt_tensor *idx, int64_t size, const char *what,
                        const vt_tensor *x) {
    const vt_tensor *h = vt_on_cpu(idx) ? idx : vt_host_copy(c, (vt_tensor *)idx);
    if (!h) return false;
    const int64_t *p = vt_i64(h);
    for (int64_t i = 0; i < vt_numel(idx); i++) {
        if (p[i] >= 0 && p[i] < size) continue;
        char s[VT_SHAPE_STR_MAX], si[VT_SHAPE_STR_MAX];
        vt_ctx_fail(c, VT_EINVAL, "%s: index %lld at position %lld of index %s is out of range for %s of size %lld (%s)",
                    op, (long long)p[i], (long long)i, vt_shape_str(idx, si, sizeof si), what, (long long)size,
                    vt_shape_str(x, s, sizeof s));
        return false;
    }
    return true;
}

static void split_at(const int64_t *shape, int ndim, int dim, int64_t *outer, int64_t *inner) {
    *outer = 1;
    *inner = 1;
    for (int d = 0; d < dim; d++) *outer *= shape[d];
    for (int d = dim + 1; d < ndim; d++) *inner *= shape[d];
}

/* An f32 contiguous copy-or-self of a backward's upstream gradient. */
static vt_tensor *grad_data(vt_ctx *c, vt_tensor *g) { return vt_contiguous_data(c, g); }

/* ---- index_select ---- */

static vt_status index_select_backward(vt_ctx *c, vt_node *n, vt_tensor *g, vt_tensor **grad_in) {
    const vt_tensor *x = n->inputs[0], *idx = n->saved[0];
    const int dim = (int)n->iattr[0];
    const vt_index_kernels *k = vt_kernels(c, g->device, VT_FAM_INDEX, n->op);
    vt_tensor *gc = grad_data(c, g), *gx = vt_zeros_on(c, x->device, VT_F32, x->ndim, x->shape);
    if (!k || !gc || !gx) return c->err.code;
    int64_t outer, inner;
    split_at(x->shape, x->ndim, dim, &outer, &inner);
    k->index_add(c, vt_dptr_f32(gc), vt_dptr_i64(idx), vt_dptr_f32(gx), outer, x->shape[dim], vt_numel(idx), inner, -1);
    grad_in[0] = gx;
    return VT_OK;
}

vt_tensor *vt_index_select(vt_ctx *c, vt_tensor *x, int dim, vt_tensor *idx) {
    const char *op = "index_select";
    if (!VT_OP_READY(c, op, x, idx) || !vt_op_dtype(c, op, "index", idx, VT_I64)) return NULL;
    char s[VT_SHAPE_STR_MAX], si[VT_SHAPE_STR_MAX];
    if (x->ndim == 0 || idx->ndim > 1) {
        vt_ctx_fail(c, VT_ESHAPE, "%s: needs an input with at least 1 dim and a 0-d or 1-d index, got input %s, index %s",
                    op, vt_shape_str(x, s, sizeof s), vt_shape_str(idx, si, sizeof si));
        return NULL;
    }
    if (!vt_op_dim(c, op, x->ndim, &dim)) return NULL;
    char what[32];
    snprintf(what, sizeof what, "dim %d", dim);
    vt_tensor *ic = vt_contiguous_data(c, idx), *xc = vt_contiguous_data(c, x);
    if (!ic || !xc || !check_range(c, op, ic, x->shape[dim], what, x)) return NULL;
    const vt_index_kernels *k = vt_kernels(c, x->device, VT_FAM_INDEX, op);
    int64_t shape[VT_MAX_DIMS], outer, inner;
    memcpy(shape, x->shape, sizeof shape);
    shape[dim] = vt_numel(ic);
    vt_tensor *y = vt_empty_on(c, x->device, x->dtype, x->ndim, shape);
    if (!k || !y) return NULL;
    split_at(x->shape, x->ndim, dim, &outer, &inner);
    k->index_select(c, xc->data, vt_dptr_i64(ic), y->data, outer, x->shape[dim], shape[dim], inner, vt_dtype_size(x->dtype));
    if (x->dtype == VT_F32 && vt_needs_grad(c, 1, &x)) {
        vt_node *n = vt_node_attach(c, y, op, index_select_backward, 1, &x);
        if (!n || vt_node_save(c, n, 0, ic) != VT_OK) return NULL;
        n->iattr[0] = dim;
    }
    return y;
}

/* ---- embedding ---- */

static vt_status embedding_backward(vt_ctx *c, vt_node *n, vt_tensor *g, vt_tensor **grad_in) {
    const vt_tensor *w = n->inputs[0], *ids = n->saved[0];
    const vt_index_kernels *k = vt_kernels(c, g->device, VT_FAM_INDEX, n->op);
    vt_tensor *gc = grad_data(c, g), *gw = vt_zeros_on(c, w->device, VT_F32, 2, w->shape);
    if (!k || !gc || !gw) return c->err.code;
    k->index_add(c, vt_dptr_f32(gc), vt_dptr_i64(ids), vt_dptr_f32(gw), 1, w->shape[0], vt_numel(ids), w->shape[1], n->iattr[0]);
    grad_in[0] = gw;
    return VT_OK;
}

vt_tensor *vt_embedding(vt_ctx *c, vt_tensor *weight, vt_tensor *ids, int64_t padding_idx) {
    const char *op = "embedding";
    if (!VT_OP_READY(c, op, weight, ids) || !vt_op_dtype(c, op, "weight", weight, VT_F32) ||
        !vt_op_dtype(c, op, "ids", ids, VT_I64))
        return NULL;
    char s[VT_SHAPE_STR_MAX], si[VT_SHAPE_STR_MAX];
    if (weight->ndim != 2 || ids->ndim >= VT_MAX_DIMS) {
        vt_ctx_fail(c, VT_ESHAPE, "%s: needs weight [V, D] and ids with at most %d dims, got weight %s, ids %s", op,
                    VT_MAX_DIMS - 1, vt_shape_str(weight, s, sizeof s), vt_shape_str(ids, si, sizeof si));
        return NULL;
    }
    const int64_t V = weight->shape[0], D = weight->shape[1];
    int64_t pad = padding_idx;
    if (pad != VT_NO_PADDING) {
        if (pad < 0) pad += V;
        if (pad < 0 || pad >= V) {
            vt_ctx_fail(c, VT_EINVAL, "%s: padding_idx %lld is out of range for weight %s", op, (long long)padding_idx,
                        vt_shape_str(weight, s, sizeof s));
            return NULL;
        }
    } else {
        pad = -1;
    }
    vt_tensor *ic = vt_contiguous_data(c, ids), *wc = vt_contiguous_data(c, weight);
    if (!ic || !wc || !check_range(c, op, ic, V, "the rows of weight", weight)) return NULL;
    const vt_index_kernels *k = vt_kernels(c, weight->device, VT_FAM_INDEX, op);
    int64_t shape[VT_MAX_DIMS];
    memcpy(shape, ids->shape, (size_t)ids->ndim * sizeof *shape);
    shape[ids->ndim] = D;
    vt_tensor *y = vt_empty_on(c, ids->device, VT_F32, ids->ndim + 1, shape);
    if (!k || !y) return NULL;
    k->index_select(c, wc->data, vt_dptr_i64(ic), y->data, 1, V, vt_numel(ic), D, sizeof(float));
    if (vt_needs_grad(c, 1, &weight)) {
        vt_node *n = vt_node_attach(c, y, op, embedding_backward, 1, &weight);
        if (!n || vt_node_save(c, n, 0, ic) != VT_OK) return NULL;
        n->iattr[0] = pad;
    }
    return y;
}

/* ---- gather / scatter_add ---- */

/* idx has ref's ndim (>= 1) and fits inside `inside` (in every dim but skip_dim; skip_dim < 0: all dims). */
static bool check_fits(vt_ctx *c, const char *op, const vt_tensor *idx, const vt_tensor *inside, int skip_dim,
                       const char *inside_name) {
    bool ok = idx->ndim == inside->ndim && idx->ndim >= 1;
    for (int d = 0; ok && d < idx->ndim; d++) ok = d == skip_dim || idx->shape[d] <= inside->shape[d];
    if (ok) return true;
    char s[VT_SHAPE_STR_MAX], si[VT_SHAPE_STR_MAX];
    vt_ctx_fail(c, VT_ESHAPE, "%s: index %s must have the same number of dims as %s %s (at least 1) and be no larger%s",
                op, vt_shape_str(idx, si, sizeof si), inside_name, vt_shape_str(inside, s, sizeof s),
                skip_dim >= 0 ? " outside dim" : "");
    return false;
}

static vt_status gather_backward(vt_ctx *c, vt_node *n, vt_tensor *g, vt_tensor **grad_in) {
    const vt_tensor *x = n->inputs[0];
    const vt_index_kernels *k = vt_kernels(c, g->device, VT_FAM_INDEX, n->op);
    vt_tensor *gc = grad_data(c, g), *gx = vt_zeros_on(c, x->device, VT_F32, x->ndim, x->shape);
    if (!k || !gc || !gx) return c->err.code;
    k->scatter_add(c, gx, (int)n->iattr[0], n->saved[0], gc);
    grad_in[0] = gx;
    return VT_OK;
}

vt_tensor *vt_gather(vt_ctx *c, vt_tensor *x, int dim, vt_tensor *idx) {
    const char *op = "gather";
    if (!VT_OP_READY(c, op, x, idx) || !vt_op_dtype(c, op, "input", x, VT_F32) ||
        !vt_op_dtype(c, op, "index", idx, VT_I64) || !vt_op_dim(c, op, x->ndim, &dim) ||
        !check_fits(c, op, idx, x, dim, "input"))
        return NULL;
    char what[32];
    snprintf(what, sizeof what, "dim %d", dim);
    vt_tensor *ic = vt_contiguous_data(c, idx), *xc = vt_contiguous_data(c, x);
    if (!ic || !xc || !check_range(c, op, ic, x->shape[dim], what, x)) return NULL;
    const vt_index_kernels *k = vt_kernels(c, x->device, VT_FAM_INDEX, op);
    vt_tensor *y = vt_empty_on(c, x->device, VT_F32, idx->ndim, idx->shape);
    if (!k || !y) return NULL;
    k->gather(c, xc, dim, ic, y);
    if (vt_needs_grad(c, 1, &x)) {
        vt_node *n = vt_node_attach(c, y, op, gather_backward, 1, &x);
        if (!n || vt_node_save(c, n, 0, ic) != VT_OK) return NULL;
        n->iattr[0] = dim;
    }
    return y;
}

static vt_status scatter_add_backward(vt_ctx *c, vt_node *n, vt_tensor *g, vt_tensor **grad_in) {
    const int dim = (int)n->iattr[0];
    vt_tensor *idx = n->saved[0];
    if (n->inputs[0]) grad_in[0] = g;
    if (n->inputs[1]) {
        const vt_tensor *src = n->inputs[1];
        const vt_index_kernels *k = vt_kernels(c, g->device, VT_FAM_INDEX, n->op);
        vt_tensor *gc = grad_data(c, g), *gi = vt_empty_on(c, src->device, VT_F32, idx->ndim, idx->shape);
        if (!k || !gc || !gi) return c->err.code;
        k->gather(c, gc, dim, idx, gi);
        if (vt_same_shape(gi, src)) {
            grad_in[1] = gi;
        } else { /* src elements outside the index's extent were not used: zero gradient */
            vt_tensor *gs = vt_zeros_on(c, src->device, VT_F32, src->ndim, src->shape);
            if (!gs) return c->err.code;
            vt_tensor *dst = vt_tensor_view_raw(c, gs->storage, VT_F32, gi->ndim, gi->shape, gs->stride, gs->offset);
            vt_status st = dst ? vt_copy_(c, dst, gi) : c->err.code;
            vt_tensor_release(dst);
            if (st != VT_OK) return st;
            grad_in[1] = gs;
        }
    }
    return VT_OK;
}

vt_tensor *vt_scatter_add(vt_ctx *c, vt_tensor *x, int dim, vt_tensor *idx, vt_tensor *src) {
    const char *op = "scatter_add";
    if (!VT_OP_READY(c, op, x, idx, src) || !vt_op_dtype(c, op, "input", x, VT_F32) ||
        !vt_op_dtype(c, op, "index", idx, VT_I64) || !vt_op_dtype(c, op, "src", src, VT_F32) ||
        !vt_op_dim(c, op, x->ndim, &dim) || !check_fits(c, op, idx, x, dim, "input") ||
        !check_fits(c, op, idx, src, -1, "src"))
        return NULL;
    char what[32];
    snprintf(what, sizeof what, "dim %d", dim);
    vt_tensor *ic = vt_contiguous_data(c, idx), *sc = vt_contiguous_data(c, src);
    if (!ic || !sc || !check_range(c, op, ic, x->shape[dim], what, x)) return NULL;
    const vt_index_kernels *k = vt_kernels(c, x->device, VT_FAM_INDEX, op);
    vt_tensor *y = vt_empty_on(c, x->device, VT_F32, x->ndim, x->shape);
    if (!k || !y || vt_copy_(c, y, x) != VT_OK) return NULL;
    k->scatter_add(c, y, dim, ic, sc);
    vt_tensor *ins[2] = {x, src};
    if (vt_needs_grad(c, 2, ins)) {
        vt_node *n = vt_node_attach(c, y, op, scatter_add_backward, 2, ins);
        if (!n || vt_node_save(c, n, 0, ic) != VT_OK) return NULL;
        n->iattr[0] = dim;
    }
    return y;
}

/* ---- one_hot ---- */

vt_tensor *vt_one_hot(vt_ctx *c, vt_tensor *ids, int64_t num_classes) {
    const char *op = "one_hot";
    if (!VT_OP_READY(c, op, ids) || !vt_op_dtype(c, op, "ids", ids, VT_I64)) return NULL;
    char s[VT_SHAPE_STR_MAX];
    if (ids->ndim >= VT_MAX_DIMS) {
        vt_ctx_fail(c, VT_ESHAPE, "%s: ids %s have too many dims", op, vt_shape_str(ids, s, sizeof s));
        return NULL;
    }
    vt_tensor *ic = vt_contiguous_data(c, ids);
    /* the ids are read on the host (class inference, range check): a device ic through a synchronising copy */
    vt_tensor *hc = ic && !vt_on_cpu(ic) ? vt_host_copy(c, ic) : ic;
    if (!ic || !hc) return NULL;
    const int64_t n = vt_numel(ic), *p = vt_i64(hc);
    if (num_classes <= 0) { /* infer, as PyTorch does for -1 */
        if (n == 0) {
            vt_ctx_fail(c, VT_EINVAL, "%s: cannot infer the number of classes from empty ids %s", op,
                        vt_shape_str(ids, s, sizeof s));
            return NULL;
        }
        num_classes = 1;
        for (int64_t i = 0; i < n; i++)
            if (p[i] + 1 > num_classes) num_classes = p[i] + 1;
    }
    if (!check_range(c, op, hc, num_classes, "the classes", ids)) return NULL;
    const vt_index_kernels *k = vt_kernels(c, ids->device, VT_FAM_INDEX, op);
    int64_t shape[VT_MAX_DIMS];
    memcpy(shape, ids->shape, (size_t)ids->ndim * sizeof *shape);
    shape[ids->ndim] = num_classes;
    vt_tensor *y = vt_empty_on(c, ids->device, VT_F32, ids->ndim + 1, shape);
    if (!k || !y) return NULL;
    k->one_hot(c, vt_dptr_i64(ic), vt_dptr_f32(y), n, num_classes);
    return y;
}
