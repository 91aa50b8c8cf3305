/* Global-norm gradient clipping (torch.nn.utils.clip_grad_norm_). The norm is accumulated in double over
 * parameters in the order given, each parameter's part by a kernel that sums in a fixed order, so the
 * result is the same for any thread count. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "ops/elementwise_kernels.h"
#include "ops/op_util.h"
#include "ops/optim_kernels.h"
#include "optim/internal.h"

#define OP "clip_grad_norm"

double vt_clip_grad_norm(vt_ctx *c, vt_tensor *const *params, size_t n, double max_norm, double norm_type) {
    if (!c || !vt_ctx_ok(c)) return -1.0;
    if (!(norm_type > 0)) { /* NaN too */
        vt_ctx_fail(c, VT_EINVAL, OP ": norm_type %g must be > 0 (2 or INFINITY usually)", norm_type);
        return -1.0;
    }
    if (!(max_norm >= 0)) {
        vt_ctx_fail(c, VT_EINVAL, OP ": max_norm %g must be >= 0", max_norm);
        return -1.0;
    }
    if (n > 0 && !params) {
        vt_ctx_fail(c, VT_EINVAL, OP ": NULL parameter list");
        return -1.0;
    }
    for (size_t i = 0; i < n; i++) {
        char pname[32];
        snprintf(pname, sizeof pname, "parameter %zu", i);
        if (!params[i]) {
            vt_ctx_fail(c, VT_EINVAL, OP ": parameter %zu is NULL", i);
            return -1.0;
        }
        if (params[i]->grad && !vt_optim_grad_ok(c, OP, params[i], params[i]->name ? params[i]->name : pname))
            return -1.0;
    }
    const bool is_max = isinf(norm_type);
    double acc = 0.0;
    bool any = false;
    for (size_t i = 0; i < n; i++) {
        const vt_tensor *g = params[i]->grad;
        if (!g) continue;
        const vt_optim_kernels *k = vt_kernels(c, g->device, VT_FAM_OPTIM, OP);
        if (!k) return -1.0;
        double part = k->norm_pow(c, vt_dptr_f32(g), vt_numel(g), norm_type);
        if (!is_max) acc += part;
        else if (isnan(part) || part > acc) acc = part;
        any = true;
    }
    if (!any) return 0.0; /* PyTorch returns tensor(0.) when no parameter has a gradient */
    double total = is_max ? acc : norm_type == 2.0 ? sqrt(acc) : norm_type == 1.0 ? acc : pow(acc, 1.0 / norm_type);
    double coef = max_norm / (total + 1e-6);
    if (coef >= 1.0) return total; /* PyTorch multiplies by the coef clamped to 1: a no-op */
    for (size_t i = 0; i < n; i++) { /* coef < 1, or NaN (which PyTorch spreads into every gradient too) */
        vt_tensor *g = params[i]->grad;
        if (!g) continue;
        const vt_elementwise_kernels *k = vt_kernels(c, g->device, VT_FAM_ELEMENTWISE, OP);
        if (!k) return -1.0;
        k->unary(c, VT_UN_MUL_S, vt_dptr_f32(g), vt_dptr_f32(g), vt_numel(g), coef, 0.0);
    }
    return total;
}

double vt_optim_clip_grad_norm(vt_optim *o, double max_norm, double norm_type) {
    if (!o) return -1.0;
    size_t n = 0;
    for (size_t g = 0; g < o->n_groups; g++) n += o->groups[g].n;
    vt_tensor **ps = malloc((n ? n : 1) * sizeof *ps);
    if (!ps) {
        vt_ctx_fail(o->c, VT_ENOMEM, OP ": out of memory");
        return -1.0;
    }
    size_t j = 0;
    for (size_t g = 0; g < o->n_groups; g++)
        for (size_t i = 0; i < o->groups[g].n; i++) ps[j++] = o->groups[g].params[i].p;
    double total = vt_clip_grad_norm(o->c, ps, n, max_norm, norm_type);
    free(ps);
    return total;
}
