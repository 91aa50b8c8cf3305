/* Shared op argument checks and broadcasting helpers. */
#include "ops/op_util.h"

#include <string.h>

#include "visft/ops.h"

bool vt_op_ready(vt_ctx *c, const char *op, int n, vt_tensor *const *ts) {
    if (!vt_ctx_ok(c)) return false;
    for (int i = 0; i < n; i++) {
        if (!ts[i]) {
            vt_ctx_fail(c, VT_EINVAL, "%s: input %d is NULL", op, i);
            return false;
        }
        if (ts[i]->device.kind != ts[0]->device.kind || ts[i]->device.index != ts[0]->device.index) {
            vt_ctx_fail(c, VT_EINVAL, "%s: inputs are on different devices", op);
            return false;
        }
    }
    return true;
}

bool vt_op_dtype(vt_ctx *c, const char *op, const char *what, const vt_tensor *t, vt_dtype dt) {
    if (t->dtype == dt) return true;
    char s[VT_SHAPE_STR_MAX];
    vt_ctx_fail(c, VT_EDTYPE, "%s: %s must be %s, got %s %s", op, what, vt_dtype_name(dt), vt_dtype_name(t->dtype),
                vt_shape_str(t, s, sizeof s));
    return false;
}

bool vt_broadcast_shape(vt_ctx *c, const char *op, const vt_tensor *a, const vt_tensor *b, int *ndim,
                        int64_t *out_shape) {
    int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
    for (int i = 0; i < nd; i++) {
        int ia = a->ndim - nd + i, ib = b->ndim - nd + i;
        int64_t da = ia >= 0 ? a->shape[ia] : 1, db = ib >= 0 ? b->shape[ib] : 1;
        if (da != db && da != 1 && db != 1) {
            char sa[VT_SHAPE_STR_MAX], sb[VT_SHAPE_STR_MAX];
            vt_ctx_fail(c, VT_ESHAPE, "%s: shapes %s and %s do not broadcast (dimension %d: %lld vs %lld)", op,
                        vt_shape_str(a, sa, sizeof sa), vt_shape_str(b, sb, sizeof sb), i, (long long)da,
                        (long long)db);
            return false;
        }
        out_shape[i] = da == 1 ? db : da;
    }
    *ndim = nd;
    return true;
}

vt_tensor *vt_broadcast_view(vt_ctx *c, const vt_tensor *t, int ndim, const int64_t *shape) {
    int64_t stride[VT_MAX_DIMS];
    for (int i = 0; i < ndim; i++) {
        int it = t->ndim - ndim + i;
        stride[i] = (it >= 0 && t->shape[it] == shape[i]) ? t->stride[it] : 0;
    }
    return vt_tensor_view_raw(c, t->storage, t->dtype, ndim, shape, stride, t->offset);
}

vt_tensor *vt_sum_to_shape(vt_ctx *c, vt_tensor *g, int ndim, const int64_t *shape) {
    if (!g) return NULL;
    if (g->ndim == ndim && memcmp(g->shape, shape, (size_t)ndim * sizeof *shape) == 0) return g;
    int dims[VT_MAX_DIMS], nd = 0;
    int lead = g->ndim - ndim;
    for (int i = 0; i < g->ndim; i++) {
        int is = i - lead;
        if (is < 0 || (shape[is] == 1 && g->shape[i] != 1)) dims[nd++] = i;
    }
    vt_tensor *s = nd ? vt_sum(c, g, nd, dims, true) : g;
    return vt_reshape(c, s, ndim, shape);
}

vt_tensor *vt_contiguous_data(vt_ctx *c, vt_tensor *x) {
    if (!x || vt_is_contiguous(x)) return x;
    vt_tensor *y = vt_empty_like(c, x);
    if (y && vt_copy_(c, y, x) != VT_OK) return NULL;
    return y;
}

vt_status vt_zero_(vt_ctx *c, vt_tensor *t) {
    if (!t) return vt_ctx_fail(c, VT_EINVAL, "zero_: NULL tensor");
    if (t->device.kind == VT_DEVICE_CPU && vt_is_contiguous(t)) {
        memset(t->data, 0, vt_nbytes(t));
        return VT_OK;
    }
    return vt_fill_(c, t, 0.0);
}

vt_tensor *vt_host_copy(vt_ctx *c, vt_tensor *t) {
    if (!t) return NULL;
    vt_no_grad_begin(c);
    vt_tensor *h = vt_to_device(c, t, vt_cpu());
    vt_no_grad_end(c);
    return h;
}

bool vt_op_dim(vt_ctx *c, const char *op, int ndim, int *dim) {
    int d = *dim < 0 ? *dim + ndim : *dim;
    int hi = ndim > 0 ? ndim : 1;
    if (d < 0 || d >= hi) {
        vt_ctx_fail(c, VT_EINVAL, "%s: dim %d out of range for a %d-d tensor", op, *dim, ndim);
        return false;
    }
    *dim = d;
    return true;
}
