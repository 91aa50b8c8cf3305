/* sum / mean over dims. The input is arranged so the reduced dims form either a contiguous suffix (row sums)
 * or prefix (column sums); other patterns are permuted into a suffix first. */
#include <string.h>

#include "ops/elementwise_kernels.h"
#include "ops/op_util.h"
#include "ops/reduce_kernels.h"
#include "visft/ops.h"

static vt_status sum_backward(vt_ctx *c, vt_node *n, vt_tensor *g, vt_tensor **grad_in) {
    /* g has the keepdim shape stored in iattr[9..]; expand it back to the input shape */
    int nd = (int)n->iattr[0];
    vt_tensor *gk = vt_reshape(c, g, nd, &n->iattr[9]);
    vt_tensor *ge = vt_expand(c, gk, nd, &n->iattr[1]);
    double scale = n->fattr[0];
    vt_tensor *gx = vt_contiguous(c, ge);
    if (gx && scale != 1.0) gx = vt_mul_scalar(c, gx, scale);
    grad_in[0] = gx;
    return gx ? VT_OK : c->err.code;
}

static vt_tensor *reduce_sum(vt_ctx *c, const char *op, vt_tensor *x, int ndims, const int *dims_in, bool keepdim,
                             bool mean) {
    if (!VT_OP_READY(c, op, x) || !vt_op_dtype(c, op, "input", x, VT_F32)) return NULL;
    bool red[VT_MAX_DIMS] = {0};
    if (ndims == 0) {
        for (int i = 0; i < x->ndim; i++) red[i] = true;
    } else {
        for (int i = 0; i < ndims; i++) {
            int d = dims_in[i];
            if (!vt_op_dim(c, op, x->ndim, &d)) return NULL;
            red[d] = true;
        }
    }
    int64_t keep_shape[VT_MAX_DIMS], out_shape[VT_MAX_DIMS];
    int out_nd = 0;
    int64_t rows = 1, cols = 1; /* kept elements, reduced elements */
    for (int i = 0; i < x->ndim; i++) {
        keep_shape[i] = red[i] ? 1 : x->shape[i];
        if (red[i])
            cols *= x->shape[i];
        else
            rows *= x->shape[i];
        if (!red[i] || keepdim) out_shape[out_nd++] = keep_shape[i];
    }
    const vt_reduce_kernels *k = vt_kernels(c, x->device, VT_FAM_REDUCE, op);
    vt_tensor *y = vt_empty_on(c, x->device, VT_F32, out_nd, out_shape);
    if (!k || !y) return NULL;

    /* find whether reduced dims are a suffix or a prefix (ignoring size-1 dims) */
    int first_red = x->ndim, last_keep = -1, first_keep = x->ndim, last_red = -1;
    for (int i = 0; i < x->ndim; i++) {
        if (x->shape[i] == 1) continue;
        if (red[i]) {
            if (first_red == x->ndim) first_red = i;
            last_red = i;
        } else {
            if (first_keep == x->ndim) first_keep = i;
            last_keep = i;
        }
    }
    vt_no_grad_begin(c);
    vt_tensor *xc = NULL;
    bool as_cols = false;
    if (last_keep < first_red) {
        xc = vt_contiguous_data(c, x);
    } else if (last_red < first_keep) {
        xc = vt_contiguous_data(c, x);
        as_cols = true;
    } else {
        int perm[VT_MAX_DIMS], p = 0;
        for (int i = 0; i < x->ndim; i++)
            if (!red[i]) perm[p++] = i;
        for (int i = 0; i < x->ndim; i++)
            if (red[i]) perm[p++] = i;
        xc = vt_contiguous_data(c, vt_permute(c, x, perm));
    }
    vt_no_grad_end(c);
    if (!xc) return NULL;
    if (as_cols)
        k->sum_cols(c, vt_dptr_f32(xc), vt_dptr_f32(y), cols, rows);
    else
        k->sum_rows(c, vt_dptr_f32(xc), vt_dptr_f32(y), rows, cols);
    double scale = 1.0;
    if (mean) {
        scale = cols ? 1.0 / (double)cols : 0.0;
        if (vt_on_cpu(y)) {
            float *py = vt_dptr_f32(y), s = (float)scale;
            for (int64_t i = 0; i < rows; i++) py[i] *= s;
        } else { /* the same scaling in place on the device */
            const vt_elementwise_kernels *ek = vt_kernels(c, y->device, VT_FAM_ELEMENTWISE, op);
            if (!ek) return NULL;
            ek->unary(c, VT_UN_MUL_S, vt_dptr_f32(y), vt_dptr_f32(y), rows, (double)(float)scale, 0.0);
        }
    }
    if (vt_needs_grad(c, 1, &x)) {
        vt_node *n = vt_node_attach(c, y, op, sum_backward, 1, &x);
        if (!n) return NULL;
        n->iattr[0] = x->ndim;
        for (int i = 0; i < x->ndim; i++) {
            n->iattr[1 + i] = x->shape[i];
            n->iattr[9 + i] = keep_shape[i];
        }
        n->fattr[0] = scale;
    }
    return y;
}

vt_tensor *vt_sum(vt_ctx *c, vt_tensor *x, int ndims, const int *dims, bool keepdim) {
    return reduce_sum(c, "sum", x, ndims, dims, keepdim, false);
}
vt_tensor *vt_mean(vt_ctx *c, vt_tensor *x, int ndims, const int *dims, bool keepdim) {
    return reduce_sum(c, "mean", x, ndims, dims, keepdim, true);
}
vt_tensor *vt_sum_all(vt_ctx *c, vt_tensor *x) { return vt_sum(c, x, 0, NULL, false); }
vt_tensor *vt_mean_all(vt_ctx *c, vt_tensor *x) { return vt_mean(c, x, 0, NULL, false); }

/* ---- max / argmax ---- */

/* Splits x around dim into [outer, n, inner] and the output shape without (or with a 1 at) dim. */
static void dim_split(const vt_tensor *x, int dim, bool keepdim, int64_t *outer, int64_t *n, int64_t *inner,
                      int *out_nd, int64_t *out_shape) {
    *outer = 1, *n = 1, *inner = 1;
    *out_nd = 0;
    for (int i = 0; i < x->ndim; i++) {
        if (i < dim) *outer *= x->shape[i];
        if (i == dim) *n = x->shape[i];
        if (i > dim) *inner *= x->shape[i];
        if (i != dim) out_shape[(*out_nd)++] = x->shape[i];
        else if (keepdim) out_shape[(*out_nd)++] = 1;
    }
}

static vt_status max_dim_backward(vt_ctx *c, vt_node *n, vt_tensor *g, vt_tensor **grad_in) {
    const vt_reduce_kernels *k = vt_kernels(c, g->device, VT_FAM_REDUCE, n->op);
    vt_tensor *gc = vt_contiguous_data(c, g);
    vt_tensor *gx = vt_empty_on(c, g->device, VT_F32, (int)n->iattr[3], &n->iattr[4]);
    if (!k || !gc || !gx) return c->err.code;
    k->max_dim_backward(c, vt_dptr_i64(n->saved[0]), vt_dptr_f32(gc), vt_dptr_f32(gx), n->iattr[0], n->iattr[1], n->iattr[2]);
    grad_in[0] = gx;
    return VT_OK;
}

/* Values and/or indices of the max along dim; either out pointer may be NULL. */
static bool max_dim(vt_ctx *c, const char *op, vt_tensor *x, int dim, bool keepdim, vt_tensor **val,
                    vt_tensor **idx) {
    if (!VT_OP_READY(c, op, x) || !vt_op_dtype(c, op, "input", x, VT_F32) || !vt_op_dim(c, op, x->ndim, &dim))
        return false;
    int64_t outer, n, inner, out_shape[VT_MAX_DIMS];
    int out_nd;
    dim_split(x, dim, keepdim, &outer, &n, &inner, &out_nd, out_shape);
    if (n == 0) {
        char s[VT_SHAPE_STR_MAX];
        vt_ctx_fail(c, VT_ESHAPE, "%s: cannot reduce %s over its empty dim %d", op, vt_shape_str(x, s, sizeof s), dim);
        return false;
    }
    const vt_reduce_kernels *k = vt_kernels(c, x->device, VT_FAM_REDUCE, op);
    vt_tensor *xc = vt_contiguous_data(c, x);
    vt_tensor *v = val ? vt_empty_on(c, x->device, VT_F32, out_nd, out_shape) : NULL;
    vt_tensor *ix = vt_empty_on(c, x->device, VT_I64, out_nd, out_shape);
    if (!k || !xc || (val && !v) || !ix) return false;
    k->max_dim(c, vt_dptr_f32(xc), v ? vt_dptr_f32(v) : NULL, vt_dptr_i64(ix), outer, n, inner);
    if (val && vt_needs_grad(c, 1, &x)) {
        vt_node *nd = vt_node_attach(c, v, op, max_dim_backward, 1, &x);
        if (!nd || vt_node_save(c, nd, 0, ix) != VT_OK) return false;
        nd->iattr[0] = outer, nd->iattr[1] = n, nd->iattr[2] = inner, nd->iattr[3] = x->ndim;
        for (int i = 0; i < x->ndim; i++) nd->iattr[4 + i] = x->shape[i];
    }
    if (val) *val = v;
    if (idx) *idx = ix;
    return true;
}

vt_tensor *vt_max(vt_ctx *c, vt_tensor *x, int dim, bool keepdim) {
    vt_tensor *v = NULL;
    return max_dim(c, "max", x, dim, keepdim, &v, NULL) ? v : NULL;
}

vt_tensor *vt_argmax(vt_ctx *c, vt_tensor *x, int dim, bool keepdim) {
    vt_tensor *i = NULL;
    return max_dim(c, "argmax", x, dim, keepdim, NULL, &i) ? i : NULL;
}

static vt_status max_all_backward(vt_ctx *c, vt_node *n, vt_tensor *g, vt_tensor **grad_in) {
    const vt_reduce_kernels *k = vt_kernels(c, g->device, VT_FAM_REDUCE, n->op);
    vt_tensor *x = n->saved[0];
    vt_tensor *gx = vt_empty_like(c, x);
    if (!k || !gx) return c->err.code;
    k->max_all_backward(c, vt_dptr_f32(x), vt_dptr_f32(n->saved[1]), vt_dptr_f32(g), vt_dptr_f32(gx), vt_numel(x));
    grad_in[0] = gx;
    return VT_OK;
}

vt_tensor *vt_max_all(vt_ctx *c, vt_tensor *x) {
    if (!VT_OP_READY(c, "max_all", x) || !vt_op_dtype(c, "max_all", "input", x, VT_F32)) return NULL;
    if (vt_numel(x) == 0) {
        char s[VT_SHAPE_STR_MAX];
        vt_ctx_fail(c, VT_ESHAPE, "max_all: cannot reduce the empty tensor %s", vt_shape_str(x, s, sizeof s));
        return NULL;
    }
    const vt_reduce_kernels *k = vt_kernels(c, x->device, VT_FAM_REDUCE, "max_all");
    vt_tensor *xc = vt_contiguous_data(c, x);
    vt_tensor *y = vt_empty_on(c, x->device, VT_F32, 0, NULL);
    if (!k || !xc || !y) return NULL;
    k->max_dim(c, vt_dptr_f32(xc), vt_dptr_f32(y), NULL, 1, vt_numel(x), 1);
    if (vt_needs_grad(c, 1, &x)) {
        vt_node *n = vt_node_attach(c, y, "max_all", max_all_backward, 1, &x);
        if (!n || vt_node_save(c, n, 0, xc) != VT_OK || vt_node_save(c, n, 1, y) != VT_OK) return NULL;
    }
    return y;
}
