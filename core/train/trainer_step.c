/* One training step, the optimizer a stage builds, and the task draw of lora/full stages. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train/trainer_internal.h"
#include "visft/autograd.h"
#include "visft/ops.h"
#include "visft/rng.h"

/* Philox stream id of the task draw, distinct from the ones loaders and dropout use. */
#define TASK_STREAM 0x7461736bull /* "task" */

size_t vt_trainer_sample_task(uint64_t seed, int64_t global_step, const double *ratios, size_t n) {
    if (n <= 1) return 0;
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += ratios[i] > 0 ? ratios[i] : 0;
    double u = vt_rng_unit_open(vt_rng_u32(seed, TASK_STREAM, (uint64_t)global_step)); /* (0, 1] */
    if (!(sum > 0)) {
        size_t k = (size_t)(u * (double)n);
        return k < n ? k : n - 1;
    }
    double acc = 0, target = u * sum;
    size_t last = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(ratios[i] > 0)) continue;
        acc += ratios[i];
        last = i;
        if (target <= acc) return i;
    }
    return last; /* rounding at the top end */
}

static bool no_decay(const vt_tensor *p, const char *name) {
    size_t len = strlen(name);
    return p->ndim <= 1 || (len >= 4 && strcmp(name + len - 4, "bias") == 0) || strstr(name, "norm") != NULL;
}

vt_status vt_trainer_make_optim(vt_trainer *t, const vt_exp_stage *s, const vt_tensor_list *params, vt_optim **out,
                                vt_err *err) {
    vt_optim_options oo = s->optimizer == VT_OPTIM_SGD ? vt_sgd_options(0.9, false) : vt_adamw_options();
    vt_optim *o = vt_optim_create(t->c, &oo);
    if (!o) return vt_err_set(err, VT_EINVAL, "stage %s: %s", s->kind_name, vt_ctx_error(t->c)->msg);
    vt_tensor **decay = calloc(params->n + 1, sizeof *decay), **plain = calloc(params->n + 1, sizeof *plain);
    size_t nd = 0, np = 0;
    vt_status st = decay && plain ? VT_OK : vt_err_set(err, VT_ENOMEM, "trainer: out of memory");
    for (size_t i = 0; st == VT_OK && i < params->n; i++) {
        vt_tensor *p = params->items[i].tensor;
        if (no_decay(p, params->items[i].name)) plain[np++] = p;
        else decay[nd++] = p;
    }
    if (st == VT_OK && nd && vt_optim_add_group(o, decay, nd, s->lr, s->weight_decay) < 0)
        st = vt_err_set(err, VT_EINVAL, "stage %s: optimizer: %s", s->kind_name, vt_ctx_error(t->c)->msg);
    if (st == VT_OK && np && vt_optim_add_group(o, plain, np, s->lr, 0.0) < 0)
        st = vt_err_set(err, VT_EINVAL, "stage %s: optimizer: %s", s->kind_name, vt_ctx_error(t->c)->msg);
    free(decay);
    free(plain);
    if (st != VT_OK) {
        vt_optim_destroy(o);
        return st;
    }
    *out = o;
    return VT_OK;
}

vt_lr_schedule vt_trainer_schedule(const vt_exp_stage *s, int64_t total) {
    vt_lr_schedule ls;
    memset(&ls, 0, sizeof ls);
    ls.kind = s->schedule;
    ls.warmup_steps = s->warmup < total ? s->warmup : total;
    ls.total_steps = total > ls.warmup_steps ? total : ls.warmup_steps + 1;
    ls.min_lr = s->min_lr;
    ls.gamma = 0.1;
    if (s->schedule == VT_LR_STEP) { /* no milestones in the schema yet: decay at 2/3 and 8/9 of the stage */
        ls.n_milestones = 2;
        ls.milestones[0] = total * 2 / 3;
        ls.milestones[1] = total * 8 / 9;
        if (ls.milestones[1] <= ls.milestones[0]) ls.n_milestones = 1;
    }
    return ls;
}

static vt_status ctx_fail(vt_trainer *t, const char *what, vt_err *err) {
    const vt_err *ce = vt_ctx_error(t->c);
    return vt_err_set(err, ce->code ? ce->code : VT_EINVAL, "%s: %s", what, ce->msg);
}

static vt_status forward_loss(vt_trainer *t, vt_trainer_head *h, const vt_batch *b, bool backbone_grad, double weight,
                              double *loss, vt_tensor **scaled, vt_err *err) {
    vt_vit_output o;
    if (!backbone_grad) vt_no_grad_begin(t->c);
    vt_status st = vt_vit_forward(t->c, t->vit, b->images, &o);
    if (!backbone_grad) vt_no_grad_end(t->c);
    if (st != VT_OK) return ctx_fail(t, "backbone forward", err);
    vt_tensor *total = NULL;
    vt_named_tensors terms = {0};
    if ((st = h->vt->loss(h->self, t->c, o.features, b, &total, &terms, err)) != VT_OK)
        return vt_err_prefix(err, "tasks.%s.head (%s): loss", h->task->name, h->task->head.plugin);
    if (!total || total->ndim > 1 || vt_numel(total) != 1)
        return vt_err_set(err, VT_EINVAL, "tasks.%s.head (%s): loss is not a scalar", h->task->name,
                          h->task->head.plugin);
    *scaled = weight == 1.0 ? total : vt_mul_scalar(t->c, total, weight);
    if (!*scaled) return ctx_fail(t, "loss weight", err);
    *loss = vt_item(*scaled);
    return VT_OK;
}

vt_status vt_trainer_step(vt_trainer *t, vt_trainer_head *h, bool backbone_grad, double weight, vt_optim *o,
                          const vt_exp_stage *s, int64_t stage_step, bool *skipped, vt_err *err) {
    *skipped = false;
    vt_status st = vt_trainer_pipe(t, h, err);
    if (st != VT_OK) return st;
    double t0 = vt_now();
    const vt_batch *b = NULL;
    vt_loader_position pos;
    if ((st = vt_pipeline_next(h->pipe, &b, &pos, err)) != VT_OK) return vt_err_prefix(err, "tasks.%s", h->task->name);
    if (!b) return vt_err_set(err, VT_ESTATE, "tasks.%s: the loader ended (empty dataset?)", h->task->name);
    double t1 = vt_now();
    vt_scope_push(t->c);
    double loss = NAN, gnorm = NAN;
    vt_tensor *scaled = NULL;
    vt_batch db; /* the batch on run.device (b itself on the CPU) */
    st = vt_trainer_device_batch(t, b, &db, err);
    if (st == VT_OK) st = forward_loss(t, h, &db, backbone_grad, weight, &loss, &scaled, err);
    if (st == VT_OK && t->opts.loss_hook) loss = t->opts.loss_hook(t->opts.hook_user, t->global_step, loss);
    if (st == VT_OK) st = vt_trainer_dist_loss(t, (size_t)(h - t->heads), &loss, err); /* mean over ranks */
    bool finite = isfinite(loss);
    if (st == VT_OK && finite && vt_backward(t->c, scaled) != VT_OK) st = ctx_fail(t, "backward", err);
    if (st == VT_OK && finite) st = vt_trainer_dist_grads(t, o, err); /* before clipping: all ranks clip alike */
    double t2 = vt_now();
    if (st == VT_OK && finite) {
        /* The norm is needed even without clipping: it is how a non-finite gradient is seen. */
        gnorm = vt_optim_clip_grad_norm(o, s->clip_norm > 0 ? s->clip_norm : INFINITY, 2.0);
        finite = isfinite(gnorm);
        if (gnorm < 0 && finite) st = ctx_fail(t, "clip_grad_norm", err);
    }
    if (st == VT_OK && finite) {
        vt_lr_schedule ls = vt_trainer_schedule(s, s->iterations); /* heads: per task; lora/full: in total */
        if (vt_optim_apply_schedule(o, &ls, stage_step) != VT_OK || vt_optim_step(o) != VT_OK)
            st = ctx_fail(t, "optimizer", err);
    }
    vt_optim_zero_grad(o);
    double t3 = vt_now();
    int64_t n_img = b->size;
    vt_scope_pop(t->c);
    vt_pipeline_release(h->pipe, b);
    if (st != VT_OK) return st;
    vt_trainer_timing *tm = &t->stats.timing;
    tm->data_s += t1 - t0;
    tm->fwd_bwd_s += t2 - t1;
    tm->optim_s += t3 - t2;
    tm->steps++;
    tm->images += n_img;
    t->stats.steps++;
    t->global_step++;
    if (!finite) {
        t->stats.skipped++;
        t->consecutive_bad++;
        vt_trainer_logf(t, "stage %s step %lld: non-finite %s (%g): step skipped (%d in a row)", s->kind_name,
                        (long long)stage_step + 1, isfinite(loss) ? "gradient norm" : "loss",
                        isfinite(loss) ? gnorm : loss, t->consecutive_bad);
        *skipped = true;
        if (t->consecutive_bad >= t->opts.nan_patience)
            return vt_err_set(err, VT_ESTATE,
                              "stage %s step %lld: %d non-finite steps in a row (last: %s %g); stopping — "
                              "lower the lr or set clip_norm",
                              s->kind_name, (long long)stage_step + 1, t->consecutive_bad,
                              isfinite(loss) ? "gradient norm" : "loss", isfinite(loss) ? gnorm : loss);
        return VT_OK;
    }
    t->consecutive_bad = 0;
    t->stats.last_loss = loss;
    return VT_OK;
}
