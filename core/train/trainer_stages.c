/* The stages: heads (each head alone on a frozen backbone), lora (LoRA only, tasks sampled), full. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/trainer_internal.h"
#include "visft/autograd.h"
#include "visft/progress.h"

static void set_trainable(const vt_tensor_list *l, bool on) { vt_tensor_list_set_requires_grad(l, on); }

/* Scalars to the metrics files every log_every steps and at the stage's end; the progress line (live on a
 * terminal, periodic lines otherwise). */
static vt_status progress(vt_trainer *t, vt_progress *pr, const vt_optim *o, int64_t step, int64_t total,
                          int64_t images, vt_err *err) {
    double lr = vt_optim_num_groups(o) ? vt_optim_get_lr(o, 0) : 0;
    if (t->opts.log) vt_progress_update(pr, step, t->stats.last_loss, lr, images);
    if (!t->metrics || (step % t->opts.log_every != 0 && step != total)) return VT_OK;
    const char *names[] = {"train/loss", "train/lr", "train/skipped_steps"};
    double values[] = {t->stats.last_loss, lr, (double)t->stats.skipped};
    return vt_metrics_log_scalars(t->metrics, t->global_step, names, values, 3, err);
}

static void progress_begin(vt_trainer *t, vt_progress *pr, const vt_exp_stage *s, const char *task, int64_t start,
                           int64_t total) {
    if (!t->opts.log) return;
    vt_progress_opts po;
    memset(&po, 0, sizeof po);
    po.out = t->opts.log;
    po.mode = VT_PROGRESS_AUTO;
    po.every_steps = t->opts.log_every;
    char name[32];
    snprintf(name, sizeof name, "%s%s%.20s", s->kind_name, task ? " " : "", task ? task : "");
    vt_progress_begin(pr, &po, name, start, total);
}

static void progress_end(vt_trainer *t, vt_progress *pr) {
    if (t->opts.log) vt_progress_finish(pr);
}

/* Runs one step and books the wall time the step helpers did not account for as trainer overhead. */
static vt_status timed_step(vt_trainer *t, vt_trainer_head *h, bool bb_grad, double w, vt_optim *o,
                            const vt_exp_stage *s, int64_t i, int64_t *images, vt_err *err) {
    vt_trainer_timing before = t->stats.timing;
    double t0 = vt_now();
    bool skipped;
    vt_status st = vt_trainer_step(t, h, bb_grad, w, o, s, i, &skipped, err);
    vt_trainer_timing *tm = &t->stats.timing;
    double wall = vt_now() - t0;
    double inner = (tm->data_s - before.data_s) + (tm->fwd_bwd_s - before.fwd_bwd_s) + (tm->optim_s - before.optim_s);
    tm->total_s += wall;
    tm->overhead_s += wall > inner ? wall - inner : 0;
    *images = tm->images - before.images;
    return st;
}

static vt_status stage_heads(vt_trainer *t, size_t si, const vt_exp_stage *s, vt_err *err) {
    set_trainable(&t->vit->params, false);
    vt_status st = VT_OK;
    int64_t done = vt_trainer_resume_offset(t, si), iters = s->iterations;
    if (iters <= 0) return VT_OK;
    for (size_t k = (size_t)(done / iters); st == VT_OK && k < s->n_tasks; k++) {
        vt_trainer_head *h = &t->heads[s->task_index[k]];
        int64_t first = k == (size_t)(done / iters) ? done % iters : 0;
        vt_tensor_list p;
        vt_tensor_list_init(&p);
        vt_optim *o = NULL;
        vt_progress pr;
        st = vt_trainer_head_trainable(h, &p, err);
        if (st == VT_OK) set_trainable(&p, true);
        if (st == VT_OK) st = vt_trainer_make_optim(t, s, &p, &o, err);
        /* A checkpoint taken inside this task holds its optimizer's state; one at its start has none. */
        if (st == VT_OK) st = vt_trainer_resume_optim(t, o, first > 0, err);
        progress_begin(t, &pr, s, h->task->name, first, iters);
        for (int64_t i = first; st == VT_OK && i < iters; i++) {
            int64_t images = 0;
            st = timed_step(t, h, false, 1.0, o, s, i, &images, err);
            if (st == VT_OK) st = progress(t, &pr, o, i + 1, iters, images, err);
            if (st == VT_OK) st = vt_trainer_checkpoint(t, si, o, k + 1 == s->n_tasks && i + 1 == iters, err);
        }
        progress_end(t, &pr);
        set_trainable(&p, false);
        vt_optim_destroy(o);
        vt_tensor_list_free(&p);
    }
    return st;
}

/* lora and full: one optimizer over the stage's parameters, one task drawn per step. */
static vt_status stage_sampled(vt_trainer *t, size_t si, const vt_exp_stage *s, vt_err *err) {
    vt_tensor_list p;
    vt_tensor_list_init(&p);
    vt_status st = VT_OK;
    set_trainable(&t->vit->params, s->kind == VT_STAGE_FULL);
    if (s->kind == VT_STAGE_LORA) {
        st = vt_trainer_add_lora(t, s, err);
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
    int64_t first = vt_trainer_resume_offset(t, si);
    if (st == VT_OK) st = vt_trainer_resume_optim(t, o, first > 0, err);
    vt_progress pr;
    progress_begin(t, &pr, s, NULL, first, s->iterations);
    for (int64_t i = first; st == VT_OK && i < s->iterations; i++) {
        size_t k = vt_trainer_sample_task((uint64_t)t->exp->run.seed, t->global_step, ratios, s->n_tasks);
        vt_trainer_head *h = &t->heads[s->task_index[k]];
        int64_t images = 0;
        st = timed_step(t, h, true, h->task->loss_weight, o, s, i, &images, err);
        if (st == VT_OK) st = progress(t, &pr, o, i + 1, s->iterations, images, err);
        if (st == VT_OK) st = vt_trainer_checkpoint(t, si, o, i + 1 == s->iterations, err);
    }
    progress_end(t, &pr);
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
        if (t->resumed && (i < t->resume_stage || vt_trainer_resume_offset(t, i) >= vt_trainer_stage_steps(s))) {
            vt_trainer_logf(t, "stage %zu/%zu: %s, done before the resume", i + 1, t->exp->n_stages, s->kind_name);
            continue;
        }
        vt_trainer_logf(t, "stage %zu/%zu: %s, %lld iterations%s", i + 1, t->exp->n_stages, s->kind_name,
                        (long long)s->iterations, s->kind == VT_STAGE_HEADS ? " per task" : "");
        t->consecutive_bad = 0;
        st = s->kind == VT_STAGE_HEADS ? stage_heads(t, i, s, err) : stage_sampled(t, i, s, err);
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
