/* Optimizer internals shared by optimizer.c (groups, step), state.c (state enumeration) and clip.c. */
#ifndef VISFT_CORE_OPTIM_INTERNAL_H
#define VISFT_CORE_OPTIM_INTERNAL_H

#include "tensor/internal.h"
#include "visft/optim.h"

#define VT_OPTIM_MAX_STATE 3

typedef struct vt_optim_param {
    vt_tensor *p;                         /* retained */
    vt_tensor *state[VT_OPTIM_MAX_STATE]; /* by key index; all NULL until the first update */
} vt_optim_param;

typedef struct vt_optim_group {
    double lr, base_lr, weight_decay;
    vt_optim_param *params;
    size_t n;
} vt_optim_group;

struct vt_optim {
    vt_ctx *c;
    vt_optim_options opt;
    vt_optim_group *groups;
    size_t n_groups;
    int64_t steps;
};

/* The state keys of this optimizer's kind, in storage order; returns their count. */
int vt_optim_state_keys(const vt_optim *o, const char *const **keys);
/* Allocates a parameter's state (zeros; AdamW's step 0). */
vt_status vt_optim_init_state(vt_optim *o, vt_optim_param *pp);
/* "<name>" or "group<g>.param<i>" for an unnamed parameter. */
void vt_optim_param_name(const vt_optim *o, size_t group, size_t i, char *buf, size_t len);
/* The gradient of p is usable by the kernels (f32, contiguous, p's shape and device); else a ctx error. */
bool vt_optim_grad_ok(vt_ctx *c, const char *op, const vt_tensor *p, const char *pname);

#endif
