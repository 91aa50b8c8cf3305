/* Learning-rate schedules as pure functions of the step (formulas in visft/optim.h). Closed forms rather
 * than PyTorch's recursive updates, so resuming at any step gives the same lr without replaying history;
 * they agree with torch.optim.lr_scheduler to rounding. */
#include <math.h>

#include "optim/internal.h"

#define PI 3.14159265358979323846

vt_status vt_lr_schedule_check(const vt_lr_schedule *s, vt_err *err) {
    if (!s) return vt_err_set(err, VT_EINVAL, "lr schedule: NULL");
    if (s->kind != VT_LR_CONSTANT && s->kind != VT_LR_COSINE && s->kind != VT_LR_STEP)
        return vt_err_set(err, VT_EINVAL, "lr schedule: unknown kind %d", (int)s->kind);
    if (s->warmup_steps < 0)
        return vt_err_set(err, VT_EINVAL, "lr schedule: warmup_steps %lld must be >= 0", (long long)s->warmup_steps);
    if (!(s->warmup_start_ratio >= 0 && s->warmup_start_ratio <= 1))
        return vt_err_set(err, VT_EINVAL, "lr schedule: warmup_start_ratio %g must lie in [0, 1]",
                          s->warmup_start_ratio);
    if (s->kind == VT_LR_COSINE) {
        if (s->total_steps <= s->warmup_steps)
            return vt_err_set(err, VT_EINVAL, "lr schedule: cosine total_steps %lld must exceed warmup_steps %lld",
                              (long long)s->total_steps, (long long)s->warmup_steps);
        if (!(s->min_lr >= 0) || !(s->min_lr_ratio >= 0 && s->min_lr_ratio <= 1))
            return vt_err_set(err, VT_EINVAL, "lr schedule: cosine min_lr %g must be >= 0 and min_lr_ratio %g in [0, 1]",
                              s->min_lr, s->min_lr_ratio);
    }
    if (s->kind == VT_LR_STEP) {
        if (s->n_milestones < 0 || s->n_milestones > VT_LR_MAX_MILESTONES)
            return vt_err_set(err, VT_EINVAL, "lr schedule: %d milestones (at most %d)", s->n_milestones,
                              VT_LR_MAX_MILESTONES);
        for (int i = 0; i < s->n_milestones; i++)
            if (s->milestones[i] < 0 || (i > 0 && s->milestones[i] <= s->milestones[i - 1]))
                return vt_err_set(err, VT_EINVAL, "lr schedule: milestones must be increasing and >= 0 (milestone %d is %lld)",
                                  i, (long long)s->milestones[i]);
        if (!(s->gamma > 0))
            return vt_err_set(err, VT_EINVAL, "lr schedule: gamma %g must be > 0", s->gamma);
    }
    return VT_OK;
}

double vt_lr_at(const vt_lr_schedule *s, double base, int64_t step) {
    if (!s) return base;
    if (step < 0) step = 0;
    const int64_t W = s->warmup_steps > 0 ? s->warmup_steps : 0;
    const double w = step < W ? s->warmup_start_ratio + (1.0 - s->warmup_start_ratio) * (double)step / (double)W : 1.0;
    switch (s->kind) {
    case VT_LR_COSINE: {
        if (step < W) return base * w;
        const double min = s->min_lr_ratio > 0 ? s->min_lr_ratio * base : s->min_lr;
        const int64_t T = s->total_steps - W, t = step - W;
        if (T <= 0 || t >= T) return min;
        return min + 0.5 * (base - min) * (1.0 + cos(PI * (double)t / (double)T));
    }
    case VT_LR_STEP: {
        double lr = base * w;
        int n = s->n_milestones < VT_LR_MAX_MILESTONES ? s->n_milestones : VT_LR_MAX_MILESTONES;
        for (int i = 0; i < n; i++)
            if (s->milestones[i] <= step) lr *= s->gamma;
        return lr;
    }
    default:
        return base * w;
    }
}

vt_status vt_optim_apply_schedule(vt_optim *o, const vt_lr_schedule *s, int64_t step) {
    if (!o) return VT_EINVAL;
    vt_err err = {0};
    if (vt_lr_schedule_check(s, &err) != VT_OK) return vt_ctx_fail(o->c, err.code, "optim: %s", err.msg);
    for (size_t g = 0; g < o->n_groups; g++) o->groups[g].lr = vt_lr_at(s, o->groups[g].base_lr, step);
    return VT_OK;
}
