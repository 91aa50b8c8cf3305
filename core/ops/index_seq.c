/* Sequences along a dimension: cumsum (its gradient is the reversed running sum) and arange. */
#include <math.h>

#include "ops/index_kernels.h"
#include "ops/op_util.h"
#include "visft/ops.h"

static vt_tensor *cumsum_raw(vt_ctx *c, vt_tensor *x, int dim, bool reverse) {
    const vt_index_kernels *k = vt_kernels(c, x->device, VT_FAM_INDEX, "cumsum");
    vt_tensor *xc = vt_contiguous_data(c, x), *y = vt_empty_on(c, x->device, VT_F32, x->ndim, x->shape);
    if (!k || !xc || !y) return NULL;
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < dim; d++) outer *= x->shape[d];
    for (int d = dim + 1; d < x->ndim; d++) inner *= x->shape[d];
    k->cumsum(c, vt_dptr_f32(xc), vt_dptr_f32(y), outer, x->ndim ? x->shape[dim] : 1, inner, reverse);
    return y;
}

static vt_status cumsum_backward(vt_ctx *c, vt_node *n, vt_tensor *g, vt_tensor **grad_in) {
    grad_in[0] = cumsum_raw(c, g, (int)n->iattr[0], true);
    return grad_in[0] ? VT_OK : c->err.code;
}

vt_tensor *vt_cumsum(vt_ctx *c, vt_tensor *x, int dim) {
    if (!VT_OP_READY(c, "cumsum", x) || !vt_op_dtype(c, "cumsum", "input", x, VT_F32) ||
        !vt_op_dim(c, "cumsum", x->ndim, &dim))
        return NULL;
    vt_tensor *y = cumsum_raw(c, x, dim, false);
    if (y && vt_needs_grad(c, 1, &x)) {
        vt_node *n = vt_node_attach(c, y, "cumsum", cumsum_backward, 1, &x);
        if (!n) return NULL;
        n->iattr[0] = dim;
    }
    return y;
}

vt_tensor *vt_arange(vt_ctx *c, double start, double end, double step, vt_dtype dt) {
    if (!vt_ctx_ok(c)) return NULL;
    if (dt != VT_F32 && dt != VT_I64) {
        vt_ctx_fail(c, VT_EDTYPE, "arange: dtype must be f32 or i64, got %s", vt_dtype_name(dt));
        return NULL;
    }
    double len = step != 0.0 ? ceil((end - start) / step) : NAN;
    if (!isfinite(start) || !isfinite(end) || !(len >= 0.0) || len > (double)INT64_MAX / 8) {
        vt_ctx_fail(c, VT_EINVAL, "arange: start %g, end %g and step %g do not give a finite, non-negative length",
                    start, end, step);
        return NULL;
    }
    int64_t n = (int64_t)len;
    const vt_index_kernels *k = vt_kernels(c, vt_cpu(), VT_FAM_INDEX, "arange");
    vt_tensor *y = vt_empty(c, dt, 1, &n);
    if (!k || !y) return NULL;
    k->arange(c, y->data, dt, n, start, step);
    return y;
}
