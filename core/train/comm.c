/* Communicator front end: the single-rank communicator, checked wrappers, selection from the launch
 * environment and bucketed gradient all-reduce. The MPI implementation is in comm_mpi.c. */
#include "visft/comm.h"

#include "backend/backend.h"
#include "tensor/internal.h"
#include "visft/context.h"
#include "visft/ops.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- single rank: every collective is the identity ---- */

static vt_status single_allreduce_f32(vt_comm *c, float *buf, size_t n, vt_err *err) { return VT_OK; }
static vt_status single_allreduce_f64(vt_comm *c, double *buf, size_t n, vt_err *err) { return VT_OK; }
static vt_status single_broadcast(vt_comm *c, void *buf, size_t n, int root, vt_err *err) { return VT_OK; }
static vt_status single_barrier(vt_comm *c, vt_err *err) { return VT_OK; }
static void single_destroy(vt_comm *c) {}

static const vt_comm_ops single_ops = {single_allreduce_f32, single_allreduce_f64, single_broadcast,
                                       single_barrier, single_destroy};
static vt_comm single_comm = {&single_ops, 0, 1, "single", NULL};

vt_comm *vt_comm_single(void) { return &single_comm; }

/* ---- checked wrappers ---- */

static vt_status check_comm(vt_comm *c, const void *buf, size_t n, const char *what, vt_err *err) {
    if (!c || !c->ops) return vt_err_set(err, VT_EINVAL, "comm %s: NULL communicator", what);
    if (n > 0 && !buf) return vt_err_set(err, VT_EINVAL, "comm %s: NULL buffer of %zu elements", what, n);
    return VT_OK;
}

vt_status vt_comm_allreduce_sum_f32(vt_comm *c, float *buf, size_t n, vt_err *err) {
    vt_status s = check_comm(c, buf, n, "allreduce_sum_f32", err);
    if (s != VT_OK || n == 0) return s;
    return c->ops->allreduce_sum_f32(c, buf, n, err);
}

vt_status vt_comm_allreduce_sum_f64(vt_comm *c, double *buf, size_t n, vt_err *err) {
    vt_status s = check_comm(c, buf, n, "allreduce_sum_f64", err);
    if (s != VT_OK || n == 0) return s;
    return c->ops->allreduce_sum_f64(c, buf, n, err);
}

vt_status vt_comm_broadcast_bytes(vt_comm *c, void *buf, size_t n, int root, vt_err *err) {
    vt_status s = check_comm(c, buf, n, "broadcast_bytes", err);
    if (s != VT_OK) return s;
    if (root < 0 || root >= c->world_size)
        return vt_err_set(err, VT_EINVAL, "comm broadcast_bytes: root %d outside world of %d", root, c->world_size);
    if (n == 0) return VT_OK;
    return c->ops->broadcast_bytes(c, buf, n, root, err);
}

vt_status vt_comm_barrier(vt_comm *c, vt_err *err) {
    vt_status s = check_comm(c, NULL, 0, "barrier", err);
    if (s != VT_OK) return s;
    return c->ops->barrier(c, err);
}

void vt_comm_destroy(vt_comm *c) {
    if (c && c->ops && c->ops->destroy) c->ops->destroy(c);
}

/* ---- selection from the environment ---- */

/* World size announced by the launcher (OpenMPI's mpirun, or a PMI launcher such as MPICH/Slurm), 0 if none. */
static long launcher_world_size(void) {
    const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v) {
            char *end;
            long n = strtol(v, &end, 10);
            if (*end == '\0' && n > 0) return n;
        }
    }
    return 0;
}

vt_status vt_comm_from_env(int *argc, char ***argv, vt_comm **out, vt_err *err) {
    if (!out) return vt_err_set(err, VT_EINVAL, "comm from_env: NULL output");
    *out = vt_comm_single();
    long world = launcher_world_size();
    if (world == 0) return VT_OK;
    if (!vt_comm_mpi_available()) {
        if (world == 1) return VT_OK; /* mpirun -np 1 without MPI is still a correct single-rank run */
        return vt_err_set(err, VT_EUNSUPPORTED,
                          "comm: launched by mpirun with %ld ranks but visft was built without MPI "
                          "(apt-get install libopenmpi-dev openmpi-bin, then rebuild)", world);
    }
    vt_comm *c = NULL;
    vt_status s = vt_comm_mpi_create(argc, argv, &c, err);
    if (s != VT_OK) return s;
    *out = c;
    return VT_OK;
}

/* ---- bucketed gradient all-reduce ---- */

static float *grad_data(const vt_tensor_list_item *it, size_t *n, vt_err *err, vt_status *s) {
    vt_tensor *g = it->tensor ? it->tensor->grad : NULL;
    *s = VT_OK;
    *n = 0;
    if (!g) return NULL;
    float *p = vt_is_contiguous(g) ? vt_f32(g) : NULL;
    if (!p) {
        *s = vt_err_set(err, VT_EUNSUPPORTED, "comm allreduce_grads: gradient of '%s' is not a contiguous f32 CPU tensor",
                        it->name ? it->name : "?");
        return NULL;
    }
    *n = (size_t)vt_numel(g);
    return p;
}

/* Copies floats between the bucket and the gradients in the order they were packed; to_bucket picks the direction.
 * The scale is applied on unpacking (1 when not averaging). */
static vt_status bucket_move(const vt_tensor_list *params, size_t first, size_t first_off, float *buf, size_t count,
                             bool to_bucket, float divisor, vt_err *err) {
    size_t pos = 0, off = first_off;
    for (size_t i = first; pos < count && i < params->n; i++, off = 0) {
        size_t n;
        vt_status s;
        float *g = grad_data(&params->items[i], &n, err, &s);
        if (s != VT_OK) return s;
        if (!g || off >= n) continue;
        size_t take = n - off < count - pos ? n - off : count - pos;
        if (to_bucket) {
            memcpy(buf + pos, g + off, take * sizeof(float));
        } else if (divisor != 1.0f) {
            for (size_t k = 0; k < take; k++) g[off + k] = buf[pos + k] / divisor;
        } else {
            memcpy(g + off, buf + pos, take * sizeof(float));
        }
        pos += take;
    }
    return VT_OK;
}

/* ---- NCCL (kernels/cuda/comm_nccl.c, linked in builds with the CUDA backend) ---- */

typedef vt_status (*nccl_mpi_fn)(int device, vt_comm **out, vt_err *err);
typedef vt_status (*nccl_tcp_fn)(const char *init_url, int rank, int world_size, int device, vt_comm **out,
                                 vt_err *err);

bool vt_comm_has_nccl(void) { return vt_cuda_backend_symbol("vt_comm_nccl_create_tcp") != NULL; }

vt_status vt_comm_nccl_open(const char *init_url, int rank, int world_size, int device, vt_comm **out, vt_err *err) {
    if (!out) return vt_err_set(err, VT_EINVAL, "comm nccl: NULL output");
    *out = NULL;
    nccl_tcp_fn tcp = (nccl_tcp_fn)vt_cuda_backend_symbol("vt_comm_nccl_create_tcp");
    nccl_mpi_fn mpi = (nccl_mpi_fn)vt_cuda_backend_symbol("vt_comm_nccl_create_mpi");
    if (!tcp || !mpi) {
        const char *why = vt_cuda_backend_unavailable_reason();
        return vt_err_set(err, VT_EUNSUPPORTED, "comm nccl: %s", why ? why : "the CUDA library has no NCCL communicator");
    }
    if (init_url) return tcp(init_url, rank, world_size, device, out, err);
    return mpi(device, out, err);
}

/* ---- gradients on a device ---- */

/* A 1-D view of n floats of contiguous t from element off, in the current scope. */
static vt_tensor *flat_view(vt_ctx *ctx, vt_tensor *t, int64_t off, int64_t n) {
    const int64_t one = 1;
    return vt_scope_adopt(ctx, vt_tensor_view_raw(ctx, t->storage, VT_F32, 1, &n, &one, t->offset + off));
}

typedef struct piece {
    vt_tensor *g;
    int64_t off, n, pos; /* n floats of g from off, at pos in the bucket */
} piece;

static vt_status ctx_err(vt_ctx *ctx, const char *what, vt_err *err) {
    return vt_err_set(err, VT_EDEVICE, "comm allreduce_grads: %s: %s", what, vt_ctx_error(ctx)->msg);
}

/* Reduces one packed bucket fb (used floats) in place: on the device with NCCL (after the context's queued work
 * that produced it), otherwise through the host staging buffer. */
static vt_status reduce_bucket(vt_comm *c, vt_ctx *ctx, vt_tensor *fb, vt_tensor *host, size_t used, vt_err *err) {
    if (!host) {
        if (vt_device_synchronize(ctx, fb->device) != VT_OK) return ctx_err(ctx, "synchronize", err);
        return vt_comm_allreduce_sum_f32(c, (float *)fb->data, used, err);
    }
    vt_tensor *hb = flat_view(ctx, host, 0, (int64_t)used);
    if (!hb || vt_copy_(ctx, hb, fb) != VT_OK) return ctx_err(ctx, "to the host", err);
    vt_status s = vt_comm_allreduce_sum_f32(c, (float *)hb->data, used, err);
    if (s == VT_OK && vt_copy_(ctx, fb, hb) != VT_OK) return ctx_err(ctx, "back to the device", err);
    return s;
}

/* Gradients on a device: the same buckets as the host path (list order, split at the bucket size), packed into
 * a device buffer, reduced (reduce_bucket), divided by the world size when averaging (the host path's division,
 * on the device) and unpacked. */
static vt_status allreduce_device_buckets(vt_comm *c, const vt_tensor_list *params, bool average, size_t cap,
                                          size_t *n_calls, vt_tensor *first, vt_err *err) {
    vt_ctx *ctx = first->ctx;
    vt_device dev = first->device;
    bool nccl = c->backend && !strcmp(c->backend, "nccl");
    size_t total = 0;
    for (size_t i = 0; i < params->n; i++) {
        vt_tensor *g = params->items[i].tensor ? params->items[i].tensor->grad : NULL;
        if (!g) continue;
        if (g->dtype != VT_F32 || !vt_is_contiguous(g) || !vt_device_equal(g->device, dev))
            return vt_err_set(err, VT_EUNSUPPORTED,
                              "comm allreduce_grads: gradient of '%s' is not a contiguous f32 tensor on the first "
                              "gradient's device",
                              params->items[i].name ? params->items[i].name : "?");
        total += (size_t)vt_numel(g);
    }
    if (total == 0 || c->world_size == 1) return VT_OK;
    if (cap > total) cap = total;
    piece *pieces = calloc(params->n + 1, sizeof *pieces);
    if (!pieces) return vt_err_set(err, VT_ENOMEM, "comm allreduce_grads: out of memory");
    vt_status s = VT_OK;
    vt_scope_push(ctx);
    vt_no_grad_begin(ctx);
    const int64_t capn = (int64_t)cap;
    vt_tensor *flat = vt_empty_on(ctx, dev, VT_F32, 1, &capn), *host = nccl ? NULL : vt_empty(ctx, VT_F32, 1, &capn);
    vt_tensor *world = average ? vt_full_on(ctx, dev, VT_F32, 0, NULL, (double)c->world_size) : NULL;
    if (!flat || (!nccl && !host) || (average && !world)) s = ctx_err(ctx, "bucket", err);
    size_t np = 0, used = 0;
    for (size_t i = 0; i <= params->n && s == VT_OK; i++) {
        vt_tensor *g = i < params->n && params->items[i].tensor ? params->items[i].tensor->grad : NULL;
        int64_t n = g ? vt_numel(g) : 0, off = 0;
        for (;;) {
            bool end = i == params->n;
            if (used == cap || (end && used > 0)) {
                vt_scope_push(ctx);
                vt_tensor *fb = flat_view(ctx, flat, 0, (int64_t)used);
                for (size_t k = 0; k < np; k++)
                    vt_copy_(ctx, flat_view(ctx, flat, pieces[k].pos, pieces[k].n),
                             flat_view(ctx, pieces[k].g, pieces[k].off, pieces[k].n));
                s = vt_ctx_ok(ctx) ? reduce_bucket(c, ctx, fb, host, used, err) : ctx_err(ctx, "packing", err);
                vt_tensor *src = s == VT_OK && average ? vt_div(ctx, fb, world) : fb;
                for (size_t k = 0; s == VT_OK && k < np; k++)
                    vt_copy_(ctx, flat_view(ctx, pieces[k].g, pieces[k].off, pieces[k].n),
                             flat_view(ctx, src, pieces[k].pos, pieces[k].n));
                if (s == VT_OK && !vt_ctx_ok(ctx)) s = ctx_err(ctx, "unpacking", err);
                vt_scope_pop(ctx);
                if (s != VT_OK) break;
                if (n_calls) (*n_calls)++;
                used = np = 0;
                continue;
            }
            if (off >= n) break;
            int64_t take = n - off < (int64_t)(cap - used) ? n - off : (int64_t)(cap - used);
            pieces[np++] = (piece){g, off, take, (int64_t)used};
            used += (size_t)take;
            off += take;
        }
    }
    vt_no_grad_end(ctx);
    vt_scope_pop(ctx);
    free(pieces);
    return s;
}

vt_status vt_comm_allreduce_grads_ex(vt_comm *c, const vt_tensor_list *params, bool average, size_t bucket_bytes,
                                     size_t *n_calls, vt_err *err) {
    if (n_calls) *n_calls = 0;
    if (!c || !c->ops) return vt_err_set(err, VT_EINVAL, "comm allreduce_grads: NULL communicator");
    if (!params) return vt_err_set(err, VT_EINVAL, "comm allreduce_grads: NULL parameter list");
    if (bucket_bytes == 0) bucket_bytes = VT_COMM_BUCKET_BYTES;
    size_t cap = bucket_bytes / sizeof(float);
    if (cap == 0) return vt_err_set(err, VT_EINVAL, "comm allreduce_grads: bucket of %zu bytes holds no float", bucket_bytes);
    for (size_t i = 0; i < params->n; i++) { /* the first gradient's device decides */
        vt_tensor *g = params->items[i].tensor ? params->items[i].tensor->grad : NULL;
        if (g && g->device.kind != VT_DEVICE_CPU) return allreduce_device_buckets(c, params, average, cap, n_calls, g, err);
        if (g) break;
    }

    /* Validate every gradient before the first collective, so a bad one fails all ranks alike and early. */
    size_t total = 0;
    for (size_t i = 0; i < params->n; i++) {
        size_t n;
        vt_status s;
        grad_data(&params->items[i], &n, err, &s);
        if (s != VT_OK) return s;
        total += n;
    }
    if (total == 0) return VT_OK;
    /* World 1: nothing to sum and the average is the identity, so skip the copies. */
    if (c->world_size == 1) return VT_OK;
    if (cap > total) cap = total;

    float *buf = malloc(cap * sizeof(float));
    if (!buf) return vt_err_set(err, VT_ENOMEM, "comm allreduce_grads: cannot allocate a %zu-byte bucket", cap * sizeof(float));
    float divisor = average ? (float)c->world_size : 1.0f;

    /* Walk the gradients in list order, filling the bucket; each full bucket is reduced and unpacked, then
     * the partial last one. The packing depends only on the list, so every rank cuts the same buckets. */
    vt_status s = VT_OK;
    size_t b_first = 0, b_off = 0, used = 0;
    for (size_t i = 0; i <= params->n && s == VT_OK; i++) {
        size_t n = 0;
        if (i < params->n) grad_data(&params->items[i], &n, err, &s);
        size_t off = 0;
        for (;;) {
            if (s != VT_OK) break;
            bool end = i == params->n;
            if (used == cap || (end && used > 0)) {
                s = bucket_move(params, b_first, b_off, buf, used, true, 1.0f, err);
                if (s == VT_OK) s = vt_comm_allreduce_sum_f32(c, buf, used, err);
                if (s == VT_OK) s = bucket_move(params, b_first, b_off, buf, used, false, divisor, err);
                if (s == VT_OK && n_calls) (*n_calls)++;
                used = 0;
                continue;
            }
            if (off >= n) break;
            if (used == 0) {
                b_first = i;
                b_off = off;
            }
            size_t take = n - off < cap - used ? n - off : cap - used;
            used += take;
            off += take;
        }
    }
    free(buf);
    return s;
}

vt_status vt_comm_allreduce_grads(vt_comm *c, const vt_tensor_list *params, bool average, vt_err *err) {
    return vt_comm_allreduce_grads_ex(c, params, average, 0, NULL, err);
}
