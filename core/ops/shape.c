/* Shape ops: views share storage and record the inverse view for backward. */
#include <string.h>

#include "ops/op_util.h"
#include "visft/ops.h"

/* A scope-owned view of x with new geometry. */
static vt_tensor *make_view(vt_ctx *c, vt_tensor *x, int ndim, const int64_t *shape, const int64_t *stride,
                            int64_t offset) {
    return vt_scope_adopt(c, vt_tensor_view_raw(c, x->storage, x->dtype, ndim, shape, stride, offset));
}

/* ---- reshape ---- */

static vt_status reshape_backward(vt_ctx *c, vt_node *n, vt_tensor *g, vt_tensor **grad_in) {
    grad_in[0] = vt_reshape(c, g, (int)n->iattr[0], &n->iattr[1]);
    return grad_in[0] ? VT_OK : c->err.code;
}

static bool record_input_shape(vt_node *n, const vt_tensor *x) {
    n->iattr[0] = x->ndim;
    for (int i = 0; i < x->ndim; i++) n->iattr[1 + i] = x->shape[i];
    return true;
}

vt_tensor *vt_reshape(vt_ctx *c, vt_tensor *x, int ndim, const int64_t *shape_in) {
    if (!VT_OP_READY(c, "reshape", x)) return NULL;
    if (ndim < 0 || ndim > VT_MAX_DIMS) {
        vt_ctx_fail(c, VT_ESHAPE, "reshape: %d dimensions (supported: 0..%d)", ndim, VT_MAX_DIMS);
        return NULL;
    }
    int64_t shape[VT_MAX_DIMS], known = 1;
    int infer = -1;
    for (int i = 0; i < ndim; i++) {
        shape[i] = shape_in[i];
        if (shape[i] == -1) {
            if (infer >= 0) {
                vt_ctx_fail(c, VT_ESHAPE, "reshape: more than one -1 in the target shape");
                return NULL;
            }
            infer = i;
        } else if (shape[i] < 0) {
            vt_ctx_fail(c, VT_ESHAPE, "reshape: negative size %lld", (long long)shape[i]);
            return NULL;
        } else {
            known *= shape[i];
        }
    }
    int64_t numel = vt_numel(x);
    if (infer >= 0) shape[infer] = known ? numel / known : 0;
    if (vt_shape_numel(ndim, shape) != numel) {
        char s[VT_SHAPE_STR_MAX];
        vt_ctx_fail(c, VT_ESHAPE, "reshape: cannot reshape %s (%lld elements) to a %d-d shape with %lld elements",
                    vt_shape_str(x, s, sizeof s), (long long)numel, ndim, (long long)vt_shape_numel(ndim, shape));
        return NULL;
    }
    vt_tensor *src = x;
    if (!vt_is_contiguous(x)) {
        vt_no_grad_begin(c);
        src = vt_contiguous_data(c, x);
        vt_no_grad_end(c);
        if (!src) return NULL;
    }
    int64_t stride[VT_MAX_DIMS];
    vt_contiguous_strides(ndim, shape, stride);
    vt_tensor *y = make_view(c, src, ndim, shape, stride, src->offset);
    if (y && vt_needs_grad(c, 1, &x)) {
        vt_node *n = vt_node_attach(c, y, "reshape", reshape_backward, 1, &x);
        if (!n) return NULL;
        record_input_shape(n, x);
    }
    return y;
}

vt_tensor *vt_flatten(vt_ctx *c, vt_tensor *x, int start, int end) {
    if (!VT_OP_READY(c, "flatten", x)) return NULL;
    if (x->ndim == 0) return vt_reshape(c, x, 1, (int64_t[]){1});
    if (!vt_op_dim(c, "flatten", x->ndim, &start) || !vt_op_dim(c, "flatten", x->ndim, &end)) return NULL;
    if (start > end) {
        vt_ctx_fail(c, VT_EINVAL, "flatten: start dim %d after end dim %d", start, end);
        return NULL;
    }
    int64_t shape[VT_MAX_DIMS];
    int nd = 0;
    for (int i = 0; i < start; i++) shape[nd++] = x->shape[i];
    int64_t m = 1;
    for (int i = start; i <= end; i++) m *= x->shape[i];
    shape[nd++] = m;
    for (int i = end + 1; i < x->ndim; i++) shape[nd++] = x->shape[i];
    return vt_reshape(c, x, nd, shape);
}

/* ---- permute / transpose ---- */

static vt_status permute_backward(vt_ctx *c, vt_node *n, vt_tensor *g, vt_tensor **grad_in) {
    int inv[VT_MAX_DIMS];
    for (int i = 0; i < n->out_ndim; i++) inv[n->iattr[i]] = i;
    grad_in[0] = vt_permute(c, g, inv);
    return grad_in[0] ? VT_OK : c->err.code;
}

vt_tensor *vt_permute(vt_ctx *c, vt_tensor *x, const int *perm) {
    if (!VT_OP_READY(c, "permute", x)) return NULL;
    int64_t shape[VT_MAX_DIMS], stride[VT_MAX_DIMS];
    bool seen[VT_MAX_DIMS] = {0};
    for (int i = 0; i < x->ndim; i++) {
        int p = perm[i];
        if (p < 0) p += x->ndim;
        if (p < 0 || p >= x->ndim || seen[p]) {
            vt_ctx_fail(c, VT_EINVAL, "permute: %d is not a valid permutation entry for a %d-d tensor", perm[i],
                        x->ndim);
            return NULL;
        }
        seen[p] = true;
        shape[i] = x->shape[p];
        stride[i] = x->stride[p];
    }
    vt_tensor *y = make_view(c, x, x->ndim, shape, stride, x->offset);
    if (y && vt_needs_grad(c, 1, &x)) {
        vt_node *n = vt_node_attach(c, y, "permute", permute_backward, 1, &x);
        if (!n) return NULL;
        for (int i = 0; i < x->ndim; i++) n->iattr[i] = perm[i] < 0 ? perm[i] + x->ndim : perm[i];
    }
    return y;
}

vt_tensor *vt_transpose(vt_ctx *c, vt_tensor *x, int d0, int d1) {
    if (!VT_OP_READY(c, "transpose", x)) return NULL;
    if (!vt_op_dim(c, "transpose", x->ndim, &d0) || !vt_op_dim(c, "transpose", x->ndim, &d1)) return NULL;
    int perm[VT_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) perm[i] = i;
    perm[d0] = d1;
    perm[d1] = d0;
    return vt_permute(c, x, perm);
}

/* ---- slice ---- */

static vt_status slice_backward(vt_ctx *c, vt_node *n, vt_tensor *g, vt_tensor **grad_in) {
    int nd = (int)n->iattr[0];
    vt_tensor *gx = vt_zeros_on(c, g->device, VT_F32, nd, &n->iattr[1]);
    if (!gx) return c->err.code;
    int dim = (int)n->iattr[9];
    int64_t start = n->iattr[10], len = n->iattr[11], step = n->iattr[12];
    int64_t shape[VT_MAX_DIMS], stride[VT_MAX_DIMS];
    memcpy(shape, gx->shape, sizeof shape);
    memcpy(stride, gx->stride, sizeof stride);
    shape[dim] = len;
    stride[dim] *= step;
    vt_tensor *dst = vt_tensor_view_raw(c, gx->storage, VT_F32, nd, shape, stride, start * gx->stride[dim]);
    if (!dst) return c->err.code;
    vt_status st = vt_copy_(c, dst, g);
    vt_tensor_release(dst);
    grad_in[0] = gx;
    return st;
}

vt_tensor *vt_slice(vt_ctx *c, vt_tensor *x, int dim, int64_t start, int64_t end, int64_t step) {
    if (!VT_OP_READY(c, "slice", x) || !vt_op_dim(c, "slice", x->ndim, &dim)) return NULL;
    if (x->ndim == 0) {
        vt_ctx_fail(c, VT_EINVAL, "slice: cannot slice a 0-d tensor");
        return NULL;
    }
    if (step <= 0) {
        vt_ctx_fail(c, VT_EINVAL, "slice: step must be positive, got %lld", (long long)step);
        return NULL;
    }
    int64_t size = x->shape[dim];
    if (start < 0) start += size;
    if (end < 0) end += size;
    if (start < 0) start = 0;
    if (end > size) end = size;
    if (start > size) start = size;
    int64_t len = end > start ? (end - start + step - 1) / step : 0;
    int64_t shape[VT_MAX_DIMS], stride[VT_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    memcpy(stride, x->stride, sizeof stride);
    shape[dim] = len;
    stride[dim] *= step;
    vt_tensor *y = make_view(c, x, x->ndim, shape, stride, x->offset + start * x->stride[dim]);
    if (y && vt_needs_grad(c, 1, &x)) {
        vt_node *n = vt_node_attach(c, y, "slice", slice_backward, 1, &x);
        if (!n) return NULL;
        record_input_shape(n, x);
        n->iattr[9] = dim;
        n->iattr[10] = start;
        n->iattr[11] = len;
        n->iattr[12] = step;
    }
    return y;
}

/* ---- expand / squeeze / unsqueeze ---- */

static vt_status expand_backward(vt_ctx *c, vt_node *n, vt_tensor *g, vt_tensor **grad_in) {
    grad_in[0] = vt_sum_to_shape(c, g, (int)n->iattr[0], &n->iattr[1]);
    return grad_in[0] ? VT_OK : c->err.code;
}

vt_tensor *vt_expand(vt_ctx *c, vt_tensor *x, int ndim, const int64_t *shape_in) {
    if (!VT_OP_READY(c, "expand", x)) return NULL;
    if (ndim < x->ndim || ndim > VT_MAX_DIMS) {
        vt_ctx_fail(c, VT_ESHAPE, "expand: target has %d dims, input has %d", ndim, x->ndim);
        return NULL;
    }
    int64_t shape[VT_MAX_DIMS], stride[VT_MAX_DIMS];
    int lead = ndim - x->ndim;
    for (int i = 0; i < ndim; i++) {
        int ix = i - lead;
        int64_t have = ix >= 0 ? x->shape[ix] : 1;
        int64_t want = shape_in[i] == -1 ? have : shape_in[i];
        if (have != want && have != 1) {
            char s[VT_SHAPE_STR_MAX];
            vt_ctx_fail(c, VT_ESHAPE, "expand: cannot expand %s: dimension %d is %lld, target %lld",
                        vt_shape_str(x, s, sizeof s), i, (long long)have, (long long)want);
            return NULL;
        }
        shape[i] = want;
        stride[i] = (ix >= 0 && have == want) ? x->stride[ix] : 0;
    }
    vt_tensor *y = make_view(c, x, ndim, shape, stride, x->offset);
    if (y && vt_needs_grad(c, 1, &x)) {
        vt_node *n = vt_node_attach(c, y, "expand", expand_backward, 1, &x);
        if (!n) return NULL;
        record_input_shape(n, x);
    }
    return y;
}

/* squeeze / unsqueeze only insert or drop a size-1 dim: always views, whatever the strides. */
static vt_tensor *drop_or_insert_dim(vt_ctx *c, const char *op, vt_tensor *x, int dim, bool insert) {
    int64_t shape[VT_MAX_DIMS], stride[VT_MAX_DIMS];
    int nd = 0;
    for (int i = 0; i <= x->ndim; i++) {
        if (insert && i == dim) {
            shape[nd] = 1;
            stride[nd++] = i < x->ndim ? x->stride[i] * x->shape[i] : 1;
        }
        if (i == x->ndim || (!insert && i == dim)) continue;
        shape[nd] = x->shape[i];
        stride[nd++] = x->stride[i];
    }
    vt_tensor *y = make_view(c, x, nd, shape, stride, x->offset);
    if (y && vt_needs_grad(c, 1, &x)) {
        vt_node *n = vt_node_attach(c, y, op, reshape_backward, 1, &x);
        if (!n) return NULL;
        record_input_shape(n, x);
    }
    return y;
}

vt_tensor *vt_unsqueeze(vt_ctx *c, vt_tensor *x, int dim) {
    if (!VT_OP_READY(c, "unsqueeze", x)) return NULL;
    if (dim < 0) dim += x->ndim + 1;
    if (dim < 0 || dim > x->ndim || x->ndim >= VT_MAX_DIMS) {
        vt_ctx_fail(c, VT_EINVAL, "unsqueeze: dim out of range for a %d-d tensor", x->ndim);
        return NULL;
    }
    return drop_or_insert_dim(c, "unsqueeze", x, dim, true);
}

vt_tensor *vt_squeeze(vt_ctx *c, vt_tensor *x, int dim) {
    if (!VT_OP_READY(c, "squeeze", x) || !vt_op_dim(c, "squeeze", x->ndim, &dim)) return NULL;
    if (x->ndim == 0 || x->shape[dim] != 1) return x;
    return drop_or_insert_dim(c, "squeeze", x, dim, false);
}

/* ---- contiguous ---- */

static vt_status identity_backward(vt_ctx *c, vt_node *n, vt_tensor *g, vt_tensor **grad_in) {
    grad_in[0] = g;
    return VT_OK;
}

vt_tensor *vt_contiguous(vt_ctx *c, vt_tensor *x) {
    if (!VT_OP_READY(c, "contiguous", x)) return NULL;
    if (vt_is_contiguous(x)) return x;
    vt_tensor *y = vt_empty_like(c, x);
    if (!y || vt_copy_(c, y, x) != VT_OK) return NULL;
    if (vt_needs_grad(c, 1, &x) && !vt_node_attach(c, y, "contiguous", identity_backward, 1, &x)) return NULL;
    return y;
}

/* ---- concat / split ---- */

static vt_status concat_backward(vt_ctx *c, vt_node *n, vt_tensor *g, vt_tensor **grad_in) {
    int dim = (int)n->iattr[0];
    int64_t off = 0;
    for (int i = 0; i < n->n_inputs; i++) {
        int64_t len = n->iattr[1 + i];
        if (n->inputs[i]) grad_in[i] = vt_slice(c, g, dim, off, off + len, 1);
        off += len;
    }
    return vt_ctx_ok(c) ? VT_OK : c->err.code;
}

#define CONCAT_GROUP 8 /* autograd nodes hold at most VT_NODE_MAX_INPUTS inputs */

vt_tensor *vt_concat(vt_ctx *c, int n, vt_tensor *const *xs, int dim) {
    if (!vt_ctx_ok(c)) return NULL;
    if (n <= 0) {
        vt_ctx_fail(c, VT_EINVAL, "concat: no inputs");
        return NULL;
    }
    if (n > CONCAT_GROUP) {
        vt_tensor *head = vt_concat(c, CONCAT_GROUP, xs, dim);
        vt_tensor *rest[CONCAT_GROUP];
        int m = n - CONCAT_GROUP + 1;
        if (m > CONCAT_GROUP) {
            vt_tensor *tail = vt_concat(c, n - CONCAT_GROUP, xs + CONCAT_GROUP, dim);
            return vt_concat(c, 2, (vt_tensor *[]){head, tail}, dim);
        }
        rest[0] = head;
        for (int i = 1; i < m; i++) rest[i] = xs[CONCAT_GROUP + i - 1];
        return vt_concat(c, m, rest, dim);
    }
    if (!vt_op_ready(c, "concat", n, xs)) return NULL;
    const vt_tensor *x0 = xs[0];
    if (!vt_op_dim(c, "concat", x0->ndim, &dim)) return NULL;
    int64_t shape[VT_MAX_DIMS];
    memcpy(shape, x0->shape, sizeof shape);
    shape[dim] = 0;
    for (int i = 0; i < n; i++) {
        const vt_tensor *x = xs[i];
        bool ok = x->ndim == x0->ndim && x->dtype == x0->dtype;
        for (int d = 0; ok && d < x0->ndim; d++) ok = d == dim || x->shape[d] == x0->shape[d];
        if (!ok) {
            char a[VT_SHAPE_STR_MAX], b[VT_SHAPE_STR_MAX];
            vt_ctx_fail(c, VT_ESHAPE, "concat: input %d %s %s does not match input 0 %s %s outside dim %d", i,
                        vt_shape_str(x, a, sizeof a), vt_dtype_name(x->dtype), vt_shape_str(x0, b, sizeof b),
                        vt_dtype_name(x0->dtype), dim);
            return NULL;
        }
        shape[dim] += x->shape[dim];
    }
    vt_tensor *y = vt_empty_on(c, x0->device, x0->dtype, x0->ndim, shape);
    if (!y) return NULL;
    int64_t off = 0;
    for (int i = 0; i < n; i++) {
        int64_t sub[VT_MAX_DIMS];
        memcpy(sub, shape, sizeof sub);
        sub[dim] = xs[i]->shape[dim];
        vt_tensor *dst = vt_tensor_view_raw(c, y->storage, y->dtype, y->ndim, sub, y->stride, off * y->stride[dim]);
        vt_status st = dst ? vt_copy_(c, dst, xs[i]) : c->err.code;
        vt_tensor_release(dst);
        if (st != VT_OK) return NULL;
        off += xs[i]->shape[dim];
    }
    if (vt_needs_grad(c, n, xs)) {
        vt_node *nd = vt_node_attach(c, y, "concat", concat_backward, n, xs);
        if (!nd) return NULL;
        nd->iattr[0] = dim;
        for (int i = 0; i < n; i++) nd->iattr[1 + i] = xs[i]->shape[dim];
    }
    return y;
}

int vt_split(vt_ctx *c, vt_tensor *x, int64_t size, int dim, vt_tensor **out, int max_out) {
    if (!VT_OP_READY(c, "split", x) || !vt_op_dim(c, "split", x->ndim, &dim)) return 0;
    if (size <= 0) {
        vt_ctx_fail(c, VT_EINVAL, "split: piece size must be positive");
        return 0;
    }
    int count = 0;
    for (int64_t off = 0; off < x->shape[dim]; off += size) {
        if (count == max_out) {
            vt_ctx_fail(c, VT_EINVAL, "split: more than %d pieces", max_out);
            return 0;
        }
        out[count++] = vt_slice(c, x, dim, off, off + size, 1);
    }
    return vt_ctx_ok(c) ? count : 0;
}

/* ---- dtype conversion ---- */

vt_tensor *vt_to_dtype(vt_ctx *c, vt_tensor *x, vt_dtype dt) {
    if (!VT_OP_READY(c, "to_dtype", x)) return NULL;
    if (x->dtype == dt) return x;
    vt_tensor *y = vt_empty_on(c, x->device, dt, x->ndim, x->shape);
    if (!y || vt_copy_(c, y, x) != VT_OK) return NULL;
    return y; /* dtype changes are not differentiated (parameters stay f32) */
}
