/* Optimizer objects: options, parameter groups and the update step (AdamW, SGD). The per-element work is a
 * fused kernel (optim_cpu.c); this file checks arguments, allocates state lazily and computes each
 * parameter's scalars in double exactly as PyTorch does before they reach the kernel as floats. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op_util.h"
#include "ops/optim_kernels.h"
#include "autograd/node.h"
#include "optim/internal.h"
#include "visft/autograd.h"

vt_optim_options vt_adamw_options(void) {
    vt_optim_options o = {.kind = VT_OPTIM_ADAMW, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
    return o;
}

vt_optim_options vt_sgd_options(double momentum, bool nesterov) {
    vt_optim_options o = {.kind = VT_OPTIM_SGD, .momentum = momentum, .nesterov = nesterov};
    return o;
}

static bool options_ok(vt_ctx *c, const vt_optim_options *o) {
    if (o->kind == VT_OPTIM_ADAMW) {
        if (!(o->beta1 >= 0 && o->beta1 < 1) || !(o->beta2 >= 0 && o->beta2 < 1)) {
            vt_ctx_fail(c, VT_EINVAL, "optim: AdamW betas (%g, %g) must lie in [0, 1)", o->beta1, o->beta2);
            return false;
        }
        if (!(o->eps >= 0)) {
            vt_ctx_fail(c, VT_EINVAL, "optim: AdamW eps %g must be >= 0", o->eps);
            return false;
        }
        return true;
    }
    if (o->kind != VT_OPTIM_SGD) {
        vt_ctx_fail(c, VT_EINVAL, "optim: unknown optimizer kind %d", (int)o->kind);
        return false;
    }
    if (!(o->momentum >= 0) || !(o->dampening >= 0 && o->dampening <= 1)) {
        vt_ctx_fail(c, VT_EINVAL, "optim: SGD momentum %g must be >= 0 and dampening %g in [0, 1]", o->momentum,
                    o->dampening);
        return false;
    }
    if (o->nesterov && (o->momentum <= 0 || o->dampening != 0)) {
        vt_ctx_fail(c, VT_EINVAL, "optim: SGD nesterov needs momentum > 0 and dampening 0 (got %g, %g)",
                    o->momentum, o->dampening);
        return false;
    }
    return true;
}

vt_optim *vt_optim_create(vt_ctx *c, const vt_optim_options *opts) {
    if (!c || !vt_ctx_ok(c)) return NULL;
    if (!opts) {
        vt_ctx_fail(c, VT_EINVAL, "optim: NULL options");
        return NULL;
    }
    if (!options_ok(c, opts)) return NULL;
    vt_optim *o = calloc(1, sizeof *o);
    if (!o) {
        vt_ctx_fail(c, VT_ENOMEM, "optim: out of memory");
        return NULL;
    }
    o->c = c;
    o->opt = *opts;
    return o;
}

void vt_optim_destroy(vt_optim *o) {
    if (!o) return;
    for (size_t g = 0; g < o->n_groups; g++) {
        for (size_t i = 0; i < o->groups[g].n; i++) {
            vt_optim_param *pp = &o->groups[g].params[i];
            for (int k = 0; k < VT_OPTIM_MAX_STATE; k++) vt_tensor_release(pp->state[k]);
            vt_tensor_release(pp->p);
        }
        free(o->groups[g].params);
    }
    free(o->groups);
    free(o);
}

/* Parameter i of a group being added is acceptable: a contiguous f32 CPU leaf, new to the optimizer, with a
 * name no other parameter has. */
static bool param_ok(vt_optim *o, vt_tensor *const *params, size_t i) {
    vt_ctx *c = o->c;
    const vt_tensor *t = params[i];
    char shape[VT_SHAPE_STR_MAX];
    const char *nm = t && t->name ? t->name : "";
    size_t g = o->n_groups;
    if (!t) {
        vt_ctx_fail(c, VT_EINVAL, "optim: parameter %zu of group %zu is NULL", i, g);
        return false;
    }
    vt_shape_str(t, shape, sizeof shape);
    if (t->grad_fn) {
        vt_ctx_fail(c, VT_EINVAL, "optim: parameter %zu of group %zu ('%s' %s) is not a leaf (made by %s)", i, g,
                    nm, shape, t->grad_fn->op ? t->grad_fn->op : "an op");
        return false;
    }
    if (t->dtype != VT_F32) {
        vt_ctx_fail(c, VT_EDTYPE, "optim: parameter %zu of group %zu ('%s' %s) must be f32, got %s", i, g, nm, shape,
                    vt_dtype_name(t->dtype));
        return false;
    }
    if (!vt_is_contiguous(t)) {
        vt_ctx_fail(c, VT_EINVAL, "optim: parameter %zu of group %zu ('%s' %s) must be contiguous", i, g, nm, shape);
        return false;
    }
    for (size_t j = 0; j < i; j++)
        if (params[j] == t || (t->name && params[j]->name && !strcmp(params[j]->name, t->name))) goto dup;
    for (size_t h = 0; h < o->n_groups; h++)
        for (size_t j = 0; j < o->groups[h].n; j++) {
            const vt_tensor *u = o->groups[h].params[j].p;
            if (u == t || (t->name && u->name && !strcmp(u->name, t->name))) goto dup;
        }
    return true;
dup:
    vt_ctx_fail(c, VT_EINVAL, "optim: parameter %zu of group %zu ('%s' %s) is already in the optimizer, or shares "
                "its name with one that is (state names must be unique)", i, g, nm, shape);
    return false;
}

int vt_optim_add_group(vt_optim *o, vt_tensor *const *params, size_t n, double lr, double weight_decay) {
    if (!o) return VT_EINVAL;
    vt_ctx *c = o->c;
    if (!vt_ctx_ok(c)) return vt_ctx_error(c)->code;
    if (n > 0 && !params) return vt_ctx_fail(c, VT_EINVAL, "optim: group %zu has NULL parameters", o->n_groups);
    if (!(lr >= 0) || !isfinite(lr) || !(weight_decay >= 0) || !isfinite(weight_decay))
        return vt_ctx_fail(c, VT_EINVAL, "optim: group %zu has lr %g and weight_decay %g (both must be finite, >= 0)",
                           o->n_groups, lr, weight_decay);
    for (size_t i = 0; i < n; i++)
        if (!param_ok(o, params, i)) return vt_ctx_error(c)->code;
    vt_optim_group *gs = realloc(o->groups, (o->n_groups + 1) * sizeof *gs);
    if (!gs) return vt_ctx_fail(c, VT_ENOMEM, "optim: out of memory");
    o->groups = gs;
    vt_optim_group *g = &gs[o->n_groups];
    memset(g, 0, sizeof *g);
    g->params = calloc(n ? n : 1, sizeof *g->params);
    if (!g->params) return vt_ctx_fail(c, VT_ENOMEM, "optim: out of memory");
    for (size_t i = 0; i < n; i++) g->params[i].p = vt_tensor_retain(params[i]);
    g->n = n;
    g->lr = g->base_lr = lr;
    g->weight_decay = weight_decay;
    return (int)o->n_groups++;
}

size_t vt_optim_num_groups(const vt_optim *o) { return o ? o->n_groups : 0; }
size_t vt_optim_group_size(const vt_optim *o, size_t g) { return o && g < o->n_groups ? o->groups[g].n : 0; }
vt_tensor *vt_optim_group_param(const vt_optim *o, size_t g, size_t i) {
    return o && g < o->n_groups && i < o->groups[g].n ? o->groups[g].params[i].p : NULL;
}
double vt_optim_get_lr(const vt_optim *o, size_t g) { return o && g < o->n_groups ? o->groups[g].lr : NAN; }
double vt_optim_base_lr(const vt_optim *o, size_t g) { return o && g < o->n_groups ? o->groups[g].base_lr : NAN; }
double vt_optim_weight_decay(const vt_optim *o, size_t g) {
    return o && g < o->n_groups ? o->groups[g].weight_decay : NAN;
}

vt_status vt_optim_set_lr(vt_optim *o, size_t g, double lr) {
    if (!o) return VT_EINVAL;
    if (g >= o->n_groups) return vt_ctx_fail(o->c, VT_EINVAL, "optim: set_lr: no group %zu (%zu groups)", g, o->n_groups);
    if (!(lr >= 0) || !isfinite(lr)) return vt_ctx_fail(o->c, VT_EINVAL, "optim: set_lr: lr %g of group %zu", lr, g);
    o->groups[g].lr = lr;
    return VT_OK;
}

int64_t vt_optim_step_count(const vt_optim *o) { return o ? o->steps : 0; }
void vt_optim_set_step_count(vt_optim *o, int64_t steps) {
    if (o) o->steps = steps < 0 ? 0 : steps;
}

void vt_optim_zero_grad(vt_optim *o) {
    if (!o) return;
    for (size_t g = 0; g < o->n_groups; g++)
        for (size_t i = 0; i < o->groups[g].n; i++) vt_zero_grad(o->groups[g].params[i].p);
}

bool vt_optim_grad_ok(vt_ctx *c, const char *op, const vt_tensor *p, const char *pname) {
    const vt_tensor *gr = p->grad;
    if (gr->dtype == VT_F32 && vt_same_shape(gr, p) && vt_is_contiguous(gr) && gr->device.kind == p->device.kind &&
        gr->device.index == p->device.index)
        return true;
    char a[VT_SHAPE_STR_MAX], b[VT_SHAPE_STR_MAX];
    vt_ctx_fail(c, VT_ESHAPE, "%s: gradient of '%s' is %s %s%s, parameter is %s f32", op, pname,
                vt_shape_str(gr, a, sizeof a), vt_dtype_name(gr->dtype), vt_is_contiguous(gr) ? "" : " non-contiguous",
                vt_shape_str(p, b, sizeof b));
    return false;
}

static void update_adamw(vt_optim *o, const vt_optim_kernels *k, const vt_optim_group *g, vt_optim_param *pp) {
    int64_t *step = vt_i64(pp->state[0]); /* a host scalar (state.c) */
    *step += 1;
    const double b1 = o->opt.beta1, b2 = o->opt.beta2, lr = g->lr, t = (double)*step;
    const double bc1 = 1.0 - pow(b1, t), bc2 = 1.0 - pow(b2, t);
    vt_adamw_hparams h = {
        .decay = (float)(1.0 - lr * g->weight_decay),
        .beta1 = (float)b1,
        .beta2 = (float)b2,
        .one_m_beta1 = (float)(1.0 - b1),
        .one_m_beta2 = (float)(1.0 - b2),
        .neg_step_size = (float)-(lr / bc1),
        .bc2_sqrt = (float)sqrt(bc2),
        .eps = (float)o->opt.eps,
    };
    k->adamw(o->c, vt_dptr_f32(pp->p), vt_dptr_f32(pp->p->grad), vt_dptr_f32(pp->state[1]), vt_dptr_f32(pp->state[2]),
             vt_numel(pp->p), &h);
}

static void update_sgd(vt_optim *o, const vt_optim_kernels *k, const vt_optim_group *g, vt_optim_param *pp,
                       bool first) {
    vt_sgd_hparams h = {
        .neg_lr = (float)-g->lr,
        .weight_decay = (float)g->weight_decay,
        .momentum = (float)o->opt.momentum,
        .one_m_damp = (float)(1.0 - o->opt.dampening),
        .nesterov = o->opt.nesterov,
        .first = first,
    };
    k->sgd(o->c, vt_dptr_f32(pp->p), vt_dptr_f32(pp->p->grad), pp->state[0] ? vt_dptr_f32(pp->state[0]) : NULL,
           vt_numel(pp->p), &h);
}

vt_status vt_optim_step(vt_optim *o) {
    if (!o) return VT_EINVAL;
    vt_ctx *c = o->c;
    if (!vt_ctx_ok(c)) return vt_ctx_error(c)->code;
    const char *op = o->opt.kind == VT_OPTIM_ADAMW ? "adamw" : "sgd";
    char name[VT_OPTIM_STATE_NAME_MAX];
    /* check every gradient before touching any parameter, so a failed step changes nothing */
    for (size_t gi = 0; gi < o->n_groups; gi++)
        for (size_t i = 0; i < o->groups[gi].n; i++) {
            const vt_tensor *p = o->groups[gi].params[i].p;
            if (!p->grad) continue;
            vt_optim_param_name(o, gi, i, name, sizeof name);
            if (!vt_optim_grad_ok(c, op, p, name)) return vt_ctx_error(c)->code;
            if (!vt_kernels(c, p->device, VT_FAM_OPTIM, op)) return vt_ctx_error(c)->code;
        }
    const int nkeys = vt_optim_state_keys(o, NULL);
    for (size_t gi = 0; gi < o->n_groups; gi++) {
        const vt_optim_group *g = &o->groups[gi];
        for (size_t i = 0; i < g->n; i++) {
            vt_optim_param *pp = &g->params[i];
            if (!pp->p->grad) continue; /* no gradient this step: untouched, as in PyTorch */
            const vt_optim_kernels *k = vt_kernels(c, pp->p->device, VT_FAM_OPTIM, op);
            /* the buffer's first fill is special in SGD; a state restored from a checkpoint is not fresh */
            bool fresh = nkeys > 0 && !pp->state[0];
            if (fresh && vt_optim_init_state(o, pp) != VT_OK) return vt_ctx_error(c)->code;
            if (o->opt.kind == VT_OPTIM_ADAMW) update_adamw(o, k, g, pp);
            else update_sgd(o, k, g, pp, fresh);
        }
    }
    o->steps++;
    return VT_OK;
}
