/* sort and topk (no gradient): both run the sort kernel, which orders every line along dim stably (NaN
 * largest) and keeps its first k. */
#include "ops/index_kernels.h"
#include "ops/op_util.h"
#include "visft/ops.h"

static vt_status sort_common(vt_ctx *c, const char *op, vt_tensor *x, int64_t k, int dim, bool descending,
                             bool sorted, vt_tensor **values, vt_tensor **indices) {
    if (values) *values = NULL;
    if (indices) *indices = NULL;
    if (!VT_OP_READY(c, op, x)) return c->err.code;
    if (!vt_op_dtype(c, op, "input", x, VT_F32) || !vt_op_dim(c, op, x->ndim, &dim)) return c->err.code;
    /* a 0-d tensor sorts as one element */
    const int64_t n = x->ndim ? x->shape[dim] : 1;
    if (k < 0 || k > n) {
        char s[VT_SHAPE_STR_MAX];
        return vt_ctx_fail(c, VT_EINVAL, "%s: k = %lld is out of range for dim %d of input %s", op, (long long)k, dim,
                           vt_shape_str(x, s, sizeof s));
    }
    int64_t outer = 1, inner = 1, shape[VT_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++) {
        shape[d] = d == dim ? k : x->shape[d];
        if (d < dim) outer *= x->shape[d];
        if (d > dim) inner *= x->shape[d];
    }
    const vt_index_kernels *kt = vt_kernels(c, x->device, VT_FAM_INDEX, op);
    vt_tensor *xc = vt_contiguous_data(c, x);
    vt_tensor *v = vt_empty_on(c, x->device, VT_F32, x->ndim, shape), *ix = vt_empty_on(c, x->device, VT_I64, x->ndim, shape);
    /* per-thread scratch line (16-byte items kept in an f32 tensor so the scope frees it) */
    int64_t scratch_n = (int64_t)vt_ctx_threads(c) * (n > 0 ? n : 1) * (int64_t)(sizeof(vt_sort_item) / sizeof(float));
    vt_tensor *scratch = vt_empty_on(c, x->device, VT_F32, 1, &scratch_n);
    if (!kt || !xc || !v || !ix || !scratch) return c->err.code;
    if (k > 0) kt->sort(c, vt_dptr_f32(xc), vt_dptr_f32(v), vt_dptr_i64(ix), outer, n, inner, k, descending, sorted, scratch->data);
    if (values) *values = v;
    if (indices) *indices = ix;
    return VT_OK;
}

vt_status vt_sort(vt_ctx *c, vt_tensor *x, int dim, bool descending, vt_tensor **values, vt_tensor **indices) {
    int64_t n = 1;
    if (x && x->ndim) {
        int d = dim < 0 ? dim + x->ndim : dim;
        if (d >= 0 && d < x->ndim) n = x->shape[d];
    }
    return sort_common(c, "sort", x, n, dim, descending, true, values, indices);
}

vt_status vt_topk(vt_ctx *c, vt_tensor *x, int64_t k, int dim, bool largest, bool sorted, vt_tensor **values,
                  vt_tensor **indices) {
    return sort_common(c, "topk", x, k, dim, largest, sorted, values, indices);
}
