/* The stages: heads (each head alone on a frozen backbone), lora (LoRA only, tasks sampled), full. */
#include <math.h>
#include <stdlib.h>

#include "train/trainer_internal.h"
#include "visft/autograd.h"

static void set_trainable(const vt_tensor_list *l, bool on) { vt_tensor_list_set_requires_grad(l, on); }

/* Logs progress every log_every steps and at the stage's end. */
static vt_status progress(vt_trainer *t, const vt_exp_stage *s, const vt_optim *o, const char *task, int64_t step,
                          int64_t total, double started, vt_err *err) {
    if (step % t->opts.log_every != 0 && step != total) return VT_OK;
    if (t->metrics) {
        const char *names[] = {"train/loss", "train/lr", "train/skipped_steps"};
        double values[] = {t->stats.last_loss, vt_optim_num_groups(o) ? vt_optim_get_lr(o, 0) : 0,
                           (double)t->stats.skipped};
        vt_status st = vt_metrics_log_scalars(t->metrics, t->global_step, names, values, 3, err);
        if (st != VT_OK) return st;
    }
    if (!t->opts.log) return VT_OK;
    double el = vt_now() - started, per = step > 0 ? el / (double)step : 0;
    vt_trainer_logf(t, "stage %s%s%s step %lld/%lld loss %.4f skipped %lld  %.1f steps/s  ETA %.0fs", s->kind_name,
                    task ? " " : "", task ? task : "", (long long)step, (long long)total, t->stats.last_loss,
                    (long long)t->stats.skipped, per > 0 ? 1.0 / per : 0.0, per * (double)(total - step));
    return VT_OK;
}

/* Runs one step and books the wall time the step helpers did not account for as trainer overhead. */
static vt_status timed_step(vt_trainer *t, vt_trainer_head *h, bool bb_grad, double w, vt_optim *o,
                            const vt_exp_stage *s, int64_t i, vt_err *err) {
    vt_trainer_timing before = t->stats.timing;
    double t0 = vt_now();
    bool skipped;
    vt_status st = vt_trainer_step(t, h, bb_grad, w, o, s, i, &skipped, err);
    vt_trainer_timing *tm = &t->stats.timing;
    double wall = vt_now() - t0;
    double inner = (tm->data_s - before.data_s) + (tm->fwd_bwd_s - before.fwd_bwd_s) + (tm->optim_s - before.optim_s);
    tm->total_s += wall;
    tm->overhead_s += wall > inner ? wall - inner : 0;
    return st;
}

static vt_status stage_heads(vt_trainer *t, const vt_exp_stage *s, vt_err *err) {
    set_trainable(&t->vit->params, false);
    vt_status st = VT_OK;
    for (size_t k = 0; st == VT_OK && k < s->n_tasks; k++) {
        vt_trainer_head *h = &t->heads[s->task_index[k]];
        vt_tensor_list p;
        vt_tensor_list_init(&p);
        vt_optim *o = NULL;
        st = vt_trainer_head_trainable(h, &p, err);
        if (st == VT_OK) set_trainable(&p, true);
        if (st == VT_OK) st = vt_trainer_make_optim(t, s, &p, &o, err);
        double started = vt_now();
        for (int64_t i = 0; st == VT_OK && i < s->iterations; i++) {
            st = timed_step(t, h, false, 1.0, o, s, i, err);
            if (st == VT_OK) st = progress(t, s, o, h->task->name, i + 1, s->iterations, started, err);
        }
        set_trainable(&p, false);
        vt_optim_destroy(o);
        vt_tensor_list_free(&p);
    }
    return st;
}

static vt_status add_lora(vt_trainer *t, const vt_exp_stage *s, vt_err *err) {
    if (t->has_lora) return VT_OK; /* a second lora stage continues training the same adapters */
    vt_lora_config lc = {(int)s->lora.rank, s->lora.alpha, s->lora.dropout, 3, s->lora.qkv_mask};
    vt_status st = vt_vit_add_lora(t->c, t->vit, &lc, &t->lora, err);
    if (st != VT_OK) return vt_err_prefix(err, "stage lora");
    t->has_lora = true;
    return VT_OK;
}

/* lora and full: one optimizer over the stage's parameters, one task drawn per step. */
static vt_status stage_sampled(vt_trainer *t, const vt_exp_stage *s, vt_err *err) {
    vt_tensor_list p;
    vt_tensor_list_init(&p);
    vt_status st = VT_OK;
    set_trainable(&t->vit->params, s->kind == VT_STAGE_FULL);
    if (s->kind == VT_STAGE_LORA) {
        st = add_lora(t, s, err);
        for (size_t i = 0; st == VT_OK && i < t->lora.n; i++)
            if (vt_tensor_list_add(&p, t->lora.items[i].tensor, "%s", t->lora.items[i].name) != VT_OK)
                st = vt_err_set(err, VT_ENOMEM, "trainer: out of memory");
    } else {
        for (size_t i = 0; i < t->vit->params.n && st == VT_OK; i++)
            if (vt_tensor_list_add(&p, t->vit->params.items[i].tensor, "%s", t->vit->params.items[i].name) != VT_OK)
                st = vt_err_set(err, VT_ENOMEM, "trainer: out of memory");
        set_trainable(&t->lora, t->has_lora); /* adapters from an earlier lora stage keep training */
        for (size_t i = 0; st == VT_OK && t->has_lora && i < t->lora.n; i++)
            if (vt_tensor_list_add(&p, t->lora.items[i].tensor, "%s", t->lora.items[i].name) != VT_OK)
                st = vt_err_set(err, VT_ENOMEM, "trainer: out of memory");
        for (size_t k = 0; st == VT_OK && k < s->n_tasks; k++)
            st = vt_trainer_head_trainable(&t->heads[s->task_index[k]], &p, err);
    }
    if (st == VT_OK) set_trainable(&p, true);
    double *ratios = calloc(s->n_tasks + 1, sizeof *ratios);
    if (st == VT_OK && !ratios) st = vt_err_set(err, VT_ENOMEM, "trainer: out of memory");
    for (size_t k = 0; st == VT_OK && k < s->n_tasks; k++) ratios[k] = t->heads[s->task_index[k]].task->ratio;
    vt_optim *o = NULL;
    if (st == VT_OK) st = vt_trainer_make_optim(t, s, &p, &o, err);
    double started = vt_now();
    for (int64_t i = 0; st == VT_OK && i < s->iterations; i++) {
        size_t k = vt_trainer_sample_task((uint64_t)t->exp->run.seed, t->global_step, ratios, s->n_tasks);
        vt_trainer_head *h = &t->heads[s->task_index[k]];
        st = timed_step(t, h, true, h->task->loss_weight, o, s, i, err);
        if (st == VT_OK) st = progress(t, s, o, NULL, i + 1, s->iterations, started, err);
    }
    set_trainable(&p, false);
    vt_optim_destroy(o);
    free(ratios);
    vt_tensor_list_free(&p);
    return st;
}

vt_status vt_trainer_run_stages(vt_trainer *t, vt_err *err) {
    /* Everything starts frozen; each stage turns on exactly what it trains (heads may create their
     * parameters with requires_grad, which would make a lora step accumulate gradients into them). */
    vt_tensor_list all;
    vt_tensor_list_init(&all);
    vt_status st = vt_trainer_head_params(t, &all, err);
    set_trainable(&all, false);
    vt_tensor_list_free(&all);
    set_trainable(&t->vit->params, false);
    vt_set_training(t->c, true);
    for (size_t i = 0; st == VT_OK && i < t->exp->n_stages; i++) {
        const vt_exp_stage *s = &t->exp->stages[i];
        vt_trainer_logf(t, "stage %zu/%zu: %s, %lld iterations%s", i + 1, t->exp->n_stages, s->kind_name,
                        (long long)s->iterations, s->kind == VT_STAGE_HEADS ? " per task" : "");
        t->consecutive_bad = 0;
        st = s->kind == VT_STAGE_HEADS ? stage_heads(t, s, err) : stage_sampled(t, s, err);
        if (st != VT_OK) vt_err_prefix(err, "stages[%zu]", i);
    }
    vt_set_training(t->c, false);
    const vt_trainer_timing *tm = &t->stats.timing;
    if (tm->steps > 0 && tm->total_s > 0)
        vt_trainer_logf(t, "timing: %lld steps, %.2fs: data wait %.1f%%, forward+backward %.1f%%, optimizer %.1f%%, "
                        "trainer overhead %.1f%%; %lld skipped",
                        (long long)tm->steps, tm->total_s, 100 * tm->data_s / tm->total_s,
                        100 * tm->fwd_bwd_s / tm->total_s, 100 * tm->optim_s / tm->total_s,
                        100 * tm->overhead_s / tm->total_s, (long long)t->stats.skipped);
    return st;
}
