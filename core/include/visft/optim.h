/* Optimizers (AdamW, SGD with momentum), global-norm gradient clipping and learning-rate schedules.
 *
 * Semantics follow PyTorch 1.13 (torch.optim.AdamW / SGD, torch.nn.utils.clip_grad_norm_) so a run can be
 * checked against a PyTorch reference step by step. An optimizer holds parameter groups, each with its own
 * lr and weight decay and a list of caller-owned leaf f32 tensors. A step updates every parameter that has
 * a gradient in t->grad and skips the others, as PyTorch does; per-parameter state is allocated on the
 * first step that parameter has a gradient.
 *
 * AdamW, per parameter with gradient g at its t-th update (t counts that parameter's own updates):
 *     p  = p·(1 − lr·wd)                         (decoupled decay, before the moments)
 *     m  = β1·m + (1−β1)·g;   v = β2·v + (1−β2)·g²
 *     denom = sqrt(v) / sqrt(1−β2^t) + eps;   p = p − (lr / (1−β1^t)) · m / denom
 * SGD (weight decay coupled into the gradient; dampening is not applied to the first momentum step):
 *     d = g + wd·p;   b = d on the first step, else μ·b + (1−τ)·d;   d = nesterov ? d + μ·b : b;   p = p − lr·d
 *
 * Checkpointing: every state tensor has a stable name "<param>.<key>" (see vt_optim_state_at); saving them
 * and the step count, then restoring them into a fresh optimizer over the same parameters, gives bit-identical
 * subsequent steps. */
#ifndef VISFT_OPTIM_H
#define VISFT_OPTIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "visft/context.h"
#include "visft/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- optimizers ---- */

typedef enum vt_optim_kind { VT_OPTIM_SGD = 0, VT_OPTIM_ADAMW } vt_optim_kind;

typedef struct vt_optim_options {
    vt_optim_kind kind;
    double beta1, beta2, eps; /* AdamW: 0 <= beta < 1, eps >= 0 */
    double momentum;          /* SGD: >= 0; 0 keeps no state */
    double dampening;         /* SGD: 0 <= dampening <= 1 */
    bool nesterov;            /* SGD: needs momentum > 0 and dampening 0 (as PyTorch) */
} vt_optim_options;

/* PyTorch's defaults: AdamW betas (0.9, 0.999), eps 1e-8; SGD without momentum. */
vt_optim_options vt_adamw_options(void);
vt_optim_options vt_sgd_options(double momentum, bool nesterov);

typedef struct vt_optim vt_optim;

/* NULL (ctx error naming the bad option) on invalid options. */
vt_optim *vt_optim_create(vt_ctx *c, const vt_optim_options *opts);
/* Releases the state and the references to the parameters (the parameters themselves stay the caller's). */
void vt_optim_destroy(vt_optim *o);

/* Adds a group of n parameters with its lr (the group's base lr for schedules) and weight decay, and returns
 * its index, or a negative vt_status (ctx error) when a parameter is NULL, not a leaf, not f32, not a
 * contiguous CPU tensor, already in the optimizer, or shares a name with another parameter. The optimizer
 * keeps a reference to each parameter. */
int vt_optim_add_group(vt_optim *o, vt_tensor *const *params, size_t n, double lr, double weight_decay);
size_t vt_optim_num_groups(const vt_optim *o);
size_t vt_optim_group_size(const vt_optim *o, size_t group);
vt_tensor *vt_optim_group_param(const vt_optim *o, size_t group, size_t i);
double vt_optim_get_lr(const vt_optim *o, size_t group);
double vt_optim_base_lr(const vt_optim *o, size_t group);
double vt_optim_weight_decay(const vt_optim *o, size_t group);
vt_status vt_optim_set_lr(vt_optim *o, size_t group, double lr);

/* One update of every parameter with a gradient; then increments the step count. */
vt_status vt_optim_step(vt_optim *o);
/* Drops every parameter's gradient (PyTorch's zero_grad(set_to_none=True)). */
void vt_optim_zero_grad(vt_optim *o);
/* Number of vt_optim_step calls (restored from checkpoints; schedules are usually driven by it). */
int64_t vt_optim_step_count(const vt_optim *o);
void vt_optim_set_step_count(vt_optim *o, int64_t steps);

/* ---- state, for checkpoints ---- */

#define VT_OPTIM_STATE_NAME_MAX 256

/* One state tensor. Keys: AdamW "step" (i64 scalar: that parameter's update count), "exp_avg",
 * "exp_avg_sq"; SGD with momentum "momentum_buffer". */
typedef struct vt_optim_state_entry {
    char name[VT_OPTIM_STATE_NAME_MAX]; /* "<param name>.<key>", or "group<g>.param<i>.<key>" if unnamed */
    const char *key;
    size_t group, index;                /* position of the parameter */
    vt_tensor *param;
    vt_tensor *tensor;                  /* owned by the optimizer: read it to save, write into it to restore */
} vt_optim_state_entry;

/* Number of state tensors allocated so far (parameters that never had a gradient have none). */
size_t vt_optim_state_count(const vt_optim *o);
/* Entry i in (group, parameter, key) order; false when i is out of range. */
bool vt_optim_state_at(const vt_optim *o, size_t i, vt_optim_state_entry *e);
/* The state tensor with this name. With create, a parameter without state gets all of its state allocated
 * (zeros, step 0) first, so a checkpoint can be copied in before any step. NULL (ctx error VT_ENOTFOUND)
 * when no parameter or key matches. */
vt_tensor *vt_optim_state_lookup(vt_optim *o, const char *name, bool create);

/* ---- gradient clipping ---- */

/* Scales the gradients of params (those without one are skipped) so that their global norm is at most
 * max_norm, as torch.nn.utils.clip_grad_norm_: total = (Σ|g|^p)^(1/p) over all elements (max |g| for
 * norm_type INFINITY), computed in double in a fixed order; coef = max_norm / (total + 1e-6); gradients are
 * multiplied by coef when it is below 1 (or NaN). Returns total, or a negative value with a ctx error for
 * bad arguments (norm_type must be > 0 or INFINITY, max_norm >= 0). */
double vt_clip_grad_norm(vt_ctx *c, vt_tensor *const *params, size_t n, double max_norm, double norm_type);
/* The same over every parameter of the optimizer. */
double vt_optim_clip_grad_norm(vt_optim *o, double max_norm, double norm_type);

/* ---- learning-rate schedules ----
 * Pure functions of the step s = number of optimizer steps already taken (0 for the first update), applied
 * to each group's base lr `base`:
 *   warmup factor w(s) = r0 + (1 − r0)·s/W for s < W, else 1     (W = warmup_steps, r0 = warmup_start_ratio;
 *                                                                  torch LinearLR(r0, 1, W); r0 = 0 gives
 *                                                                  HF-style base·s/W)
 *   CONSTANT: lr = base·w(s)
 *   STEP:     lr = base·w(s)·γ^k, k = number of milestones <= s   (milestones in absolute steps, as
 *                                                                  torch MultiStepLR; with warmup this is
 *                                                                  ChainedScheduler(LinearLR, MultiStepLR))
 *   COSINE:   s < W: lr = base·w(s); else, with t = min(s − W, T), T = total_steps − W,
 *             lr = min + 0.5·(base − min)·(1 + cos(π·t/T))        (closed form of torch CosineAnnealingLR
 *                                                                  with T_max = T, eta_min = min; held at
 *                                                                  min after total_steps)
 *   where min = min_lr_ratio·base when min_lr_ratio > 0, else min_lr. */
#define VT_LR_MAX_MILESTONES 16

typedef enum vt_lr_kind { VT_LR_CONSTANT = 0, VT_LR_COSINE, VT_LR_STEP } vt_lr_kind;

typedef struct vt_lr_schedule {
    vt_lr_kind kind;
    int64_t warmup_steps;
    double warmup_start_ratio;
    int64_t total_steps;   /* COSINE: warmup plus decay */
    double min_lr;         /* COSINE: absolute floor */
    double min_lr_ratio;   /* COSINE: floor relative to base (overrides min_lr when > 0) */
    int64_t milestones[VT_LR_MAX_MILESTONES]; /* STEP: increasing */
    int n_milestones;
    double gamma;          /* STEP */
} vt_lr_schedule;

/* VT_OK, or VT_EINVAL with a message naming the bad field. */
vt_status vt_lr_schedule_check(const vt_lr_schedule *s, vt_err *err);
/* The lr at step s (formulas above); step < 0 is treated as 0. */
double vt_lr_at(const vt_lr_schedule *s, double base_lr, int64_t step);
/* Sets each group's lr to vt_lr_at(s, its base lr, step). */
vt_status vt_optim_apply_schedule(vt_optim *o, const vt_lr_schedule *s, int64_t step);

#ifdef __cplusplus
}
#endif
#endif
