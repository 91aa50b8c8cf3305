/* Data-parallel training (visft/comm.h): each rank loads its shard of every global batch, the per-step loss
 * is averaged over ranks and the gradients are all-reduced (averaged) before clipping and the optimizer, so
 * N ranks × batch B/N take the same steps as one rank × batch B (up to float summation order).
 *
 * Global batch = the task's batch_size. The loader interleaves ranks (rank r takes global positions
 * r, r+N, r+2N, ...), so with a per-rank batch of B/N the union of the ranks' batch b is exactly the
 * single-process batch b, epoch boundaries included (drop_last: floor(floor(n/N)/(B/N)) = floor(n/B)). */
#include <math.h>
#include <string.h>

#include "train/trainer_internal.h"
#include "visft/comm.h"

static int world(const vt_trainer *t) { return t->opts.comm ? t->opts.comm->world_size : 1; }

vt_status vt_trainer_dist_task(const vt_trainer *t, const vt_exp_task *task, vt_pipeline_opts *po,
                               vt_exp_task *local, vt_err *err) {
    *local = *task;
    int n = world(t);
    if (n <= 1) return VT_OK;
    if (task->batch_size % n != 0)
        return vt_err_set(err, VT_EINVAL,
                          "tasks.%s.batch_size: %lld is not divisible by the %d data-parallel ranks (the "
                          "batch size is the global one)",
                          task->name, (long long)task->batch_size, n);
    local->batch_size = task->batch_size / n;
    po->loader.rank = t->opts.comm->rank;
    po->loader.world_size = n;
    po->loader.even_shards = true; /* equal batch counts on every rank keep the collectives in lock-step */
    return VT_OK;
}

/* One collective carries the loss and a consistency check: the sum over ranks of k and k² for the task
 * index and the global step. They agree on every rank iff Σk² / N == (Σk / N)², exact in doubles for
 * these small integers. A mismatch would mean the ranks train different tasks (or are out of step) and
 * their gradient sums would be meaningless. */
vt_status vt_trainer_dist_loss(vt_trainer *t, size_t task_index, double *loss, vt_err *err) {
    int n = world(t);
    if (n <= 1) return VT_OK;
    double k = (double)task_index, s = (double)t->global_step;
    double buf[5] = {*loss, k, k * k, s, s * s};
    vt_status st = vt_comm_allreduce_sum_f64(t->opts.comm, buf, 5, err);
    if (st != VT_OK) return vt_err_prefix(err, "data-parallel loss");
    double N = (double)n;
    if (buf[2] * N != buf[1] * buf[1] || buf[4] * N != buf[3] * buf[3])
        return vt_err_set(err, VT_ESTATE,
                          "data-parallel: rank %d is at step %lld on task %zu but the ranks disagree (mean task "
                          "%g, mean step %g)",
                          t->opts.comm->rank, (long long)t->global_step, task_index, buf[1] / N, buf[3] / N);
    *loss = buf[0] / N; /* NaN on any rank makes it NaN everywhere: every rank skips the step together */
    return VT_OK;
}

vt_status vt_trainer_dist_grads(vt_trainer *t, const vt_optim *o, vt_err *err) {
    if (world(t) <= 1) return VT_OK;
    vt_tensor_list p;
    vt_tensor_list_init(&p);
    vt_status st = VT_OK;
    for (size_t g = 0; st == VT_OK && g < vt_optim_num_groups(o); g++)
        for (size_t i = 0; st == VT_OK && i < vt_optim_group_size(o, g); i++)
            if (vt_tensor_list_add(&p, vt_optim_group_param(o, g, i), "group%zu.%zu", g, i) != VT_OK)
                st = vt_err_set(err, VT_ENOMEM, "data-parallel: out of memory");
    /* Same optimizer, same parameter order on every rank: the buckets line up. */
    if (st == VT_OK) st = vt_comm_allreduce_grads(t->opts.comm, &p, true, err);
    vt_tensor_list_free(&p);
    return st == VT_OK ? VT_OK : vt_err_prefix(err, "data-parallel gradients");
}
