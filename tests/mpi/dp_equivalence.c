/* Data-parallel equivalence: a tiny MLP (linear 16→32, gelu, linear 32→4, MSE) trained for a few AdamW
 * steps on fixed synthetic batches of 8. Under `mpirun -np W` each rank takes its 8/W rows of every batch,
 * averages its loss over them, and the gradients are averaged across ranks with vt_comm_allreduce_grads, so
 * the run must end with the same weights as one rank on the whole batch. fc1 is trained with AdamW and fc2 with
 * SGD + momentum: SGD is not scale-invariant, so a sum left un-averaged is caught too.
 *
 *   dp_equivalence train OUT.bin     train (world from the launcher); rank 0 writes the final weights
 *   dp_equivalence compare A.bin B.bin [TOL]   max |A-B| <= TOL (default 1e-5), else exit 1 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "visft/comm.h"
#include "visft/context.h"
#include "visft/ops.h"
#include "visft/optim.h"

#define BATCH 8
#define IN 16
#define HID 32
#define OUT 4
#define STEPS 6

/* Small deterministic generator (the data must not depend on rank or thread count). */
static float lcg_uniform(uint64_t *s) {
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((*s >> 40) & 0xFFFFFF) / (float)0x1000000 * 2.0f - 1.0f;
}

static vt_tensor *make_param(vt_ctx *c, int ndim, const int64_t *shape, uint64_t seed, float scale) {
    vt_tensor *t = vt_tensor_create(c, VT_F32, ndim, shape);
    if (!t) return NULL;
    float *p = vt_f32(t);
    for (int64_t i = 0; i < vt_numel(t); i++) p[i] = scale * lcg_uniform(&seed);
    t->requires_grad = true;
    return t;
}

static int train(const char *out_path) {
    vt_err err = {0};
    vt_comm *comm = NULL;
    if (vt_comm_from_env(NULL, NULL, &comm, &err) != VT_OK) {
        fprintf(stderr, "dp_equivalence: %s\n", err.msg);
        return 1;
    }
    int rank = comm->rank, world = comm->world_size;
    if (BATCH % world != 0) {
        fprintf(stderr, "dp_equivalence: batch %d does not split over %d ranks\n", BATCH, world);
        vt_comm_destroy(comm);
        return 1;
    }
    int local = BATCH / world;
    vt_ctx_options co = {.threads = 1, .seed = 1};
    vt_ctx *c = vt_ctx_create(&co);
    vt_tensor *w1 = make_param(c, VT_SHAPE(HID, IN), 11, 0.25f), *b1 = make_param(c, VT_SHAPE(HID), 12, 0.1f);
    vt_tensor *w2 = make_param(c, VT_SHAPE(OUT, HID), 13, 0.18f), *b2 = make_param(c, VT_SHAPE(OUT), 14, 0.1f);
    vt_tensor *params[4] = {w1, b1, w2, b2};
    vt_tensor_list list;
    vt_tensor_list_init(&list);
    const char *names[4] = {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"};
    for (int i = 0; i < 4; i++) vt_tensor_list_add(&list, params[i], "%s", names[i]);
    vt_optim_options oo = vt_adamw_options(), so = vt_sgd_options(0.9, false);
    vt_optim *opt = vt_optim_create(c, &oo), *sgd = vt_optim_create(c, &so);
    int rc = 1;
    if (!opt || !sgd || vt_optim_add_group(opt, params, 2, 1e-2, 0.01) < 0 ||
        vt_optim_add_group(sgd, params + 2, 2, 0.2, 0.0) < 0) {
        fprintf(stderr, "dp_equivalence: %s\n", vt_ctx_error(c)->msg);
        goto done;
    }
    for (int step = 0; step < STEPS; step++) {
        /* The whole batch is generated on every rank; each keeps its slice. */
        float x[BATCH * IN], y[BATCH * OUT];
        uint64_t s = 1000 + (uint64_t)step;
        for (int i = 0; i < BATCH * IN; i++) x[i] = lcg_uniform(&s);
        for (int i = 0; i < BATCH * OUT; i++) y[i] = lcg_uniform(&s);
        vt_scope_push(c);
        vt_optim_zero_grad(opt);
        vt_optim_zero_grad(sgd);
        vt_tensor *xb = vt_from_f32(c, VT_SHAPE(local, IN), x + (size_t)rank * local * IN);
        vt_tensor *yb = vt_from_f32(c, VT_SHAPE(local, OUT), y + (size_t)rank * local * OUT);
        vt_tensor *pred = vt_linear(c, vt_gelu(c, vt_linear(c, xb, w1, b1)), w2, b2);
        vt_tensor *loss = vt_mse_loss(c, pred, yb, VT_REDUCTION_MEAN);
        vt_status st = loss ? vt_backward(c, loss) : VT_EINVAL;
        if (st != VT_OK || !vt_ctx_ok(c)) {
            fprintf(stderr, "dp_equivalence: step %d: %s\n", step, vt_ctx_error(c)->msg);
            vt_scope_pop(c);
            goto done;
        }
        double loss_sum[1] = {vt_item(loss)};
        if (vt_comm_allreduce_grads(comm, &list, true, &err) != VT_OK ||
            vt_comm_allreduce_sum_f64(comm, loss_sum, 1, &err) != VT_OK) {
            fprintf(stderr, "dp_equivalence: step %d: %s\n", step, err.msg);
            vt_scope_pop(c);
            goto done;
        }
        vt_optim_step(opt);
        vt_optim_step(sgd);
        vt_scope_pop(c);
        if (rank == 0) printf("step %d loss %.6f\n", step, loss_sum[0] / world);
    }
    /* Replicas must stay in step exactly: compare each rank's weights with rank 0's. */
    for (int i = 0; i < 4; i++) {
        size_t n = (size_t)vt_numel(params[i]);
        float *mine = vt_f32(params[i]), *r0 = malloc(n * sizeof(float));
        if (!r0) goto done;
        memcpy(r0, mine, n * sizeof(float));
        vt_status st = vt_comm_broadcast_bytes(comm, r0, n * sizeof(float), 0, &err);
        int same = st == VT_OK && memcmp(r0, mine, n * sizeof(float)) == 0;
        free(r0);
        if (!same) {
            fprintf(stderr, "dp_equivalence: rank %d: %s differs from rank 0's %s\n", rank, names[i], st ? err.msg : "");
            goto done;
        }
    }
    if (vt_comm_barrier(comm, &err) != VT_OK) {
        fprintf(stderr, "dp_equivalence: %s\n", err.msg);
        goto done;
    }
    if (rank == 0) {
        FILE *f = fopen(out_path, "wb");
        if (!f) {
            fprintf(stderr, "dp_equivalence: cannot write %s\n", out_path);
            goto done;
        }
        for (int i = 0; i < 4; i++) fwrite(vt_f32(params[i]), sizeof(float), (size_t)vt_numel(params[i]), f);
        if (fclose(f) != 0) goto done;
        printf("world %d: wrote %s\n", world, out_path);
    }
    rc = 0;
done:
    vt_optim_destroy(opt);
    vt_optim_destroy(sgd);
    for (int i = 0; i < 4; i++) vt_tensor_release(params[i]);
    vt_tensor_list_free(&list);
    vt_ctx_destroy(c);
    vt_comm_destroy(comm);
    return rc;
}

static float *read_all(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096;
    float *buf = malloc(cap * sizeof(float));
    *n = buf ? fread(buf, sizeof(float), cap, f) : 0;
    fclose(f);
    return buf;
}

static int compare(const char *a, const char *b, double tol) {
    size_t na = 0, nb = 0;
    float *pa = read_all(a, &na), *pb = read_all(b, &nb);
    int rc = 1;
    if (!pa || !pb || na != nb || na == 0) {
        fprintf(stderr, "dp_equivalence: cannot compare %s (%zu floats) with %s (%zu floats)\n", a, na, b, nb);
    } else {
        double worst = 0;
        size_t at = 0;
        for (size_t i = 0; i < na; i++) {
            double d = fabs((double)pa[i] - (double)pb[i]);
            if (!(d <= worst)) worst = d, at = i;
        }
        printf("max |1 rank - N ranks| = %.3g over %zu weights (at %zu), tolerance %.3g\n", worst, na, at, tol);
        rc = worst <= tol ? 0 : 1;
    }
    free(pa);
    free(pb);
    return rc;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "train") == 0) return train(argv[2]);
    if ((argc == 4 || argc == 5) && strcmp(argv[1], "compare") == 0)
        return compare(argv[2], argv[3], argc == 5 ? atof(argv[4]) : 1e-5);
    fprintf(stderr, "usage: dp_equivalence train OUT.bin | compare A.bin B.bin [TOL]\n");
    return 2;
}
