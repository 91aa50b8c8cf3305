/* Run checkpoints of the trainer and exact resume (visft/run_checkpoint.h, docs/checkpoints-run.md).
 *
 * A checkpoint's step is the global step (steps taken over all stages) and its stage the index of the stage
 * in progress; where inside the stage the run was follows from the stage lengths. Groups: weights
 * "backbone", "lora" (once injected), "heads" (every head, "heads.<task>.<name>"), optimizer "stage" (the
 * optimizer in use: per task in a heads stage, whole-stage in lora/full). Loader positions are in task
 * order; a task whose loader was never opened is saved as all zeros and not seeked on resume.
 *
 * Exactness: everything is created first (backbone, heads, LoRA) and only then overwritten from the
 * checkpoint, so random init consumes the ctx RNG as the first run did; the RNG offset is restored after.
 * Loader order is a function of (seed, epoch, index), the task draw of (seed, step), the lr schedule of the
 * stage step, so they all continue where they were. */
#include <stdlib.h>
#include <string.h>

#include "train/trainer_internal.h"
#include "visft/comm.h"
#include "visft/run_checkpoint.h"

#define OPTIM_GROUP "stage"

int64_t vt_trainer_stage_steps(const vt_exp_stage *s) {
    return s->kind == VT_STAGE_HEADS ? s->iterations * (int64_t)s->n_tasks : s->iterations;
}

static int64_t stage_start(const vt_experiment *exp, size_t stage) {
    int64_t n = 0;
    for (size_t i = 0; i < stage && i < exp->n_stages; i++) n += vt_trainer_stage_steps(&exp->stages[i]);
    return n;
}

vt_status vt_trainer_add_lora(vt_trainer *t, const vt_exp_stage *s, vt_err *err) {
    if (t->has_lora) return VT_OK; /* a second lora stage continues training the same adapters */
    vt_lora_config lc = {(int)s->lora.rank, s->lora.alpha, s->lora.dropout, 3, s->lora.qkv_mask};
    vt_status st = vt_vit_add_lora(t->c, t->vit, &lc, &t->lora, err);
    if (st != VT_OK) return vt_err_prefix(err, "stage lora");
    t->has_lora = true;
    return VT_OK;
}

static bool position_unset(const vt_loader_position *p) { return !p->epoch && !p->batch && !p->fingerprint; }

static vt_status save(vt_trainer *t, size_t stage, vt_optim *o, vt_err *err) {
    vt_run_state rs;
    memset(&rs, 0, sizeof rs);
    rs.step = t->global_step;
    rs.stage = (int)stage;
    rs.rng_seed = vt_ctx_get_seed(t->c);
    rs.rng_offset = vt_ctx_rng_offset(t->c);
    rs.config = t->opts.config_text;
    if (t->n_heads > VT_RUN_MAX_LOADERS)
        return vt_err_set(err, VT_EUNSUPPORTED, "checkpoint: %zu tasks, at most %d can be checkpointed", t->n_heads,
                          VT_RUN_MAX_LOADERS);
    rs.n_loaders = t->n_heads;
    for (size_t i = 0; i < t->n_heads; i++)
        if (t->heads[i].pipe) rs.loaders[i] = vt_loader_tell(vt_pipeline_loader(t->heads[i].pipe));
    vt_tensor_list heads;
    vt_tensor_list_init(&heads);
    vt_status st = vt_trainer_head_params(t, &heads, err);
    vt_run_weights w[3] = {{"backbone", &t->vit->params}, {"heads", &heads}, {"lora", &t->lora}};
    vt_run_optim ro = {OPTIM_GROUP, o};
    vt_run_ckpt_opts co = {(int)t->exp->run.keep_last, NULL, NULL};
    if (st == VT_OK)
        st = vt_run_ckpt_save(t->opts.run_dir, &rs, w, t->has_lora ? 3 : 2, &ro, o ? 1 : 0, &co, err);
    vt_tensor_list_free(&heads);
    return st;
}

vt_status vt_trainer_checkpoint(vt_trainer *t, size_t stage, vt_optim *o, bool stage_end, vt_err *err) {
    /* One writer per run directory: rank 0 (the ranks hold the same weights). Resuming a data-parallel run
     * exactly would also need every rank's loader position: not saved yet. */
    if (!t->opts.checkpoints || !t->opts.run_dir || (t->opts.comm && t->opts.comm->rank != 0)) return VT_OK;
    int64_t every = t->exp->run.checkpoint_every;
    if (!stage_end && !(every > 0 && t->global_step % every == 0)) return VT_OK;
    return save(t, stage, o, err);
}

int64_t vt_trainer_resume_offset(const vt_trainer *t, size_t stage) {
    return t->resumed && stage == t->resume_stage ? t->resume_offset : 0;
}

vt_status vt_trainer_resume_optim(vt_trainer *t, vt_optim *o, bool restore, vt_err *err) {
    if (!t->resume) return VT_OK;
    vt_status st = restore ? vt_run_ckpt_restore_optim(t->resume, OPTIM_GROUP, o, err) : VT_OK;
    vt_run_ckpt_close(t->resume);
    t->resume = NULL;
    return st;
}

static vt_status restore(vt_trainer *t, const vt_run_ckpt *ck, vt_err *err) {
    const vt_run_state *rs = vt_run_ckpt_state(ck);
    const vt_experiment *exp = t->exp;
    if (rs->stage < 0 || (size_t)rs->stage >= exp->n_stages)
        return vt_err_set(err, VT_EINVAL, "stage %d: the config has %zu stages", rs->stage, exp->n_stages);
    size_t stage = (size_t)rs->stage;
    int64_t off = rs->step - stage_start(exp, stage);
    if (off < 0 || off > vt_trainer_stage_steps(&exp->stages[stage]))
        return vt_err_set(err, VT_EINVAL, "step %lld is not inside stage %zu of this config (different iterations?)",
                          (long long)rs->step, stage);
    if (rs->rng_seed != vt_ctx_get_seed(t->c))
        return vt_err_set(err, VT_EINVAL, "saved with seed %llu, the config has run.seed %llu",
                          (unsigned long long)rs->rng_seed, (unsigned long long)vt_ctx_get_seed(t->c));
    if (rs->n_loaders != t->n_heads)
        return vt_err_set(err, VT_EINVAL, "%zu loader positions for %zu tasks", rs->n_loaders, t->n_heads);
    /* LoRA exists once a lora stage started: create it (consuming RNG as the first run did) before restoring. */
    for (size_t i = 0; i <= stage; i++)
        if (exp->stages[i].kind == VT_STAGE_LORA) {
            vt_status st = vt_trainer_add_lora(t, &exp->stages[i], err);
            if (st != VT_OK) return st;
            break;
        }
    vt_tensor_list heads;
    vt_tensor_list_init(&heads);
    vt_status st = vt_trainer_head_params(t, &heads, err);
    if (st == VT_OK) st = vt_run_ckpt_restore_weights(ck, "backbone", &t->vit->params, err);
    if (st == VT_OK) st = vt_run_ckpt_restore_weights(ck, "heads", &heads, err);
    if (st == VT_OK && t->has_lora) st = vt_run_ckpt_restore_weights(ck, "lora", &t->lora, err);
    vt_tensor_list_free(&heads);
    for (size_t i = 0; st == VT_OK && i < t->n_heads; i++) {
        if (position_unset(&rs->loaders[i])) continue;
        st = vt_trainer_pipe(t, &t->heads[i], err);
        if (st == VT_OK) st = vt_loader_seek(vt_pipeline_loader(t->heads[i].pipe), rs->loaders[i], err);
        if (st != VT_OK) vt_err_prefix(err, "tasks.%s: loader position", t->heads[i].task->name);
    }
    if (st != VT_OK) return st;
    vt_ctx_set_rng_offset(t->c, rs->rng_offset);
    t->global_step = rs->step;
    t->resumed = true;
    t->resume_stage = stage;
    t->resume_offset = off;
    return VT_OK;
}

vt_status vt_trainer_resume(vt_trainer *t, const char *run_dir, vt_err *err) {
    if (t->resumed) return vt_err_set(err, VT_ESTATE, "resume %s: the trainer was already resumed", run_dir);
    char note[VT_RUN_NOTE_MAX] = "";
    vt_run_ckpt *ck = NULL;
    vt_status st = vt_run_ckpt_load_latest(run_dir, &ck, note, sizeof note, err);
    if (note[0]) vt_trainer_logf(t, "%s", note);
    if (st != VT_OK) return vt_err_prefix(err, "resume %s", run_dir);
    if ((st = restore(t, ck, err)) != VT_OK) {
        vt_err_prefix(err, "resume %s", vt_run_ckpt_path(ck));
        vt_run_ckpt_close(ck);
        return st;
    }
    const vt_run_state *rs = vt_run_ckpt_state(ck);
    vt_trainer_logf(t, "resumed from %s: stage %d, step %lld", vt_run_ckpt_path(ck), rs->stage + 1,
                    (long long)rs->step);
    t->resume = ck;
    return VT_OK;
}
