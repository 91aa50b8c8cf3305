/* Communicators: the single-rank communicator, argument checks, selection from the environment, the MPI stub
 * in builds without MPI, and the gradient bucketing (through a fake two-rank communicator that records what
 * each all-reduce saw). The real two-rank run is tests/mpi/dp_equivalence.c. */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "visft/comm.h"
#include "vt_test.h"

START_TEST(test_single_collectives) {
    vt_comm *c = vt_comm_single();
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(c->rank, 0);
    ck_assert_int_eq(c->world_size, 1);
    ck_assert_str_eq(c->backend, "single");
    float f[3] = {1.5f, -2.0f, 3.0f};
    double d[2] = {0.25, 7.0};
    char bytes[4] = "abc";
    vt_err err = {0};
    ck_assert_int_eq(vt_comm_allreduce_sum_f32(c, f, 3, &err), VT_OK);
    ck_assert(f[0] == 1.5f && f[1] == -2.0f && f[2] == 3.0f);
    ck_assert_int_eq(vt_comm_allreduce_sum_f64(c, d, 2, &err), VT_OK);
    ck_assert(d[0] == 0.25 && d[1] == 7.0);
    ck_assert_int_eq(vt_comm_broadcast_bytes(c, bytes, 4, 0, &err), VT_OK);
    ck_assert_str_eq(bytes, "abc");
    ck_assert_int_eq(vt_comm_barrier(c, &err), VT_OK);
    ck_assert_int_eq(vt_comm_allreduce_sum_f32(c, NULL, 0, &err), VT_OK); /* empty is fine */
    vt_comm_destroy(c);
    vt_comm_destroy(NULL);
    ck_assert_ptr_eq(vt_comm_single(), c); /* still usable after destroy */
}
END_TEST

START_TEST(test_bad_arguments) {
    vt_comm *c = vt_comm_single();
    float f[1] = {0};
    vt_err err = {0};
    ck_assert_int_eq(vt_comm_allreduce_sum_f32(NULL, f, 1, &err), VT_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "NULL communicator"));
    ck_assert_int_eq(vt_comm_allreduce_sum_f32(c, NULL, 4, &err), VT_EINVAL);
    ck_assert_int_eq(vt_comm_allreduce_sum_f64(c, NULL, 4, &err), VT_EINVAL);
    ck_assert_int_eq(vt_comm_broadcast_bytes(c, f, 4, 1, &err), VT_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "root 1"));
    ck_assert_int_eq(vt_comm_broadcast_bytes(c, f, 4, -1, &err), VT_EINVAL);
    ck_assert_int_eq(vt_comm_barrier(NULL, &err), VT_EINVAL);
    ck_assert_int_eq(vt_comm_allreduce_grads(c, NULL, true, &err), VT_EINVAL);
    ck_assert_int_eq(vt_comm_from_env(NULL, NULL, NULL, &err), VT_EINVAL);
}
END_TEST

START_TEST(test_from_env) {
    vt_err err = {0};
    vt_comm *c = NULL;
    unsetenv("OMPI_COMM_WORLD_SIZE");
    unsetenv("PMI_SIZE");
    ck_assert_int_eq(vt_comm_from_env(NULL, NULL, &c, &err), VT_OK);
    ck_assert_ptr_eq(c, vt_comm_single());
    setenv("PMI_SIZE", "not-a-number", 1); /* garbage is no launcher */
    ck_assert_int_eq(vt_comm_from_env(NULL, NULL, &c, &err), VT_OK);
    ck_assert_ptr_eq(c, vt_comm_single());
    unsetenv("PMI_SIZE");
    if (!vt_comm_mpi_available()) {
        /* Without MPI, a multi-rank launch must fail rather than train each rank alone. */
        setenv("OMPI_COMM_WORLD_SIZE", "2", 1);
        ck_assert_int_eq(vt_comm_from_env(NULL, NULL, &c, &err), VT_EUNSUPPORTED);
        ck_assert_ptr_nonnull(strstr(err.msg, "libopenmpi-dev"));
        setenv("OMPI_COMM_WORLD_SIZE", "1", 1);
        ck_assert_int_eq(vt_comm_from_env(NULL, NULL, &c, &err), VT_OK);
        ck_assert_ptr_eq(c, vt_comm_single());
        unsetenv("OMPI_COMM_WORLD_SIZE");
    }
}
END_TEST

START_TEST(test_mpi_stub) {
    if (vt_comm_mpi_available()) return; /* the real one runs under mpirun in tests/mpi */
    vt_err err = {0};
    vt_comm *c = (vt_comm *)1;
    ck_assert_int_eq(vt_comm_mpi_create(NULL, NULL, &c, &err), VT_EUNSUPPORTED);
    ck_assert_ptr_null(c);
    ck_assert_ptr_nonnull(strstr(err.msg, "built without MPI (apt-get install libopenmpi-dev openmpi-bin)"));
}
END_TEST

/* ---- a fake world of 2 identical ranks: the sum doubles every value; each call is recorded ---- */

#define FAKE_MAX 4096
typedef struct fake_state {
    size_t calls, sizes[64];
    float seen[FAKE_MAX]; /* concatenation of every buffer handed to allreduce, in call order */
    size_t n_seen;
} fake_state;

static vt_status fake_allreduce_f32(vt_comm *c, float *buf, size_t n, vt_err *err) {
    fake_state *st = c->impl;
    if (st->calls < 64) st->sizes[st->calls] = n;
    st->calls++;
    for (size_t i = 0; i < n; i++) {
        if (st->n_seen < FAKE_MAX) st->seen[st->n_seen++] = buf[i];
        buf[i] *= 2.0f;
    }
    return VT_OK;
}
static vt_status fake_allreduce_f64(vt_comm *c, double *buf, size_t n, vt_err *err) { return VT_OK; }
static vt_status fake_broadcast(vt_comm *c, void *buf, size_t n, int root, vt_err *err) { return VT_OK; }
static vt_status fake_barrier(vt_comm *c, vt_err *err) { return VT_OK; }
static void fake_destroy(vt_comm *c) {}
static const vt_comm_ops fake_ops = {fake_allreduce_f32, fake_allreduce_f64, fake_broadcast, fake_barrier,
                                     fake_destroy};

/* Four parameters of 5, 3 (no gradient), 10 and 3 elements; gradient values 100·p + i. */
typedef struct grads_fixture {
    vt_tensor *p[4];
    vt_tensor_list list;
} grads_fixture;

static void fixture_make(vt_ctx *c, grads_fixture *f) {
    const int64_t sizes[4] = {5, 3, 10, 3};
    vt_tensor_list_init(&f->list);
    for (int k = 0; k < 4; k++) {
        f->p[k] = vt_tensor_create(c, VT_F32, 1, &sizes[k]);
        ck_assert_ptr_nonnull(f->p[k]);
        ck_assert_int_eq(vt_tensor_list_add(&f->list, f->p[k], "p%d", k), VT_OK);
        if (k == 1) continue;
        f->p[k]->grad = vt_tensor_create(c, VT_F32, 1, &sizes[k]);
        float *g = vt_f32(f->p[k]->grad);
        for (int64_t i = 0; i < sizes[k]; i++) g[i] = (float)(100 * k + i);
    }
}

static void fixture_free(grads_fixture *f) {
    for (int k = 0; k < 4; k++) vt_tensor_release(f->p[k]);
    vt_tensor_list_free(&f->list);
}

/* The gradients in list order, skipping p1: what the packed stream must be. */
static size_t expected_stream(float *out) {
    const int sizes[4] = {5, 3, 10, 3};
    size_t n = 0;
    for (int k = 0; k < 4; k++)
        if (k != 1)
            for (int i = 0; i < sizes[k]; i++) out[n++] = (float)(100 * k + i);
    return n;
}

START_TEST(test_grads_bucketing) {
    vt_ctx *c = vt_test_ctx();
    grads_fixture f;
    fixture_make(c, &f);
    fake_state st = {0};
    vt_comm fake = {&fake_ops, 0, 2, "fake", &st};
    vt_err err = {0};
    size_t calls = 0;
    /* Buckets of 4 floats over 18 gradient values: 4+4+4+4+2, cutting across parameter boundaries. */
    ck_assert_int_eq(vt_comm_allreduce_grads_ex(&fake, &f.list, false, 4 * sizeof(float), &calls, &err), VT_OK);
    ck_assert_uint_eq(calls, 5);
    ck_assert_uint_eq(st.calls, 5);
    const size_t want_sizes[5] = {4, 4, 4, 4, 2};
    for (int i = 0; i < 5; i++) ck_assert_uint_eq(st.sizes[i], want_sizes[i]);
    float want[32];
    size_t n = expected_stream(want);
    ck_assert_uint_eq(st.n_seen, n);
    for (size_t i = 0; i < n; i++) ck_assert_msg(st.seen[i] == want[i], "packed[%zu] = %g, want %g", i, st.seen[i], want[i]);
    /* Unpacked into the right places: every gradient doubled (sum of 2 ranks), p1 still without one. */
    ck_assert_ptr_null(f.p[1]->grad);
    ck_assert(vt_f32(f.p[0]->grad)[4] == 2.0f * 4);
    ck_assert(vt_f32(f.p[2]->grad)[0] == 2.0f * 200);
    ck_assert(vt_f32(f.p[2]->grad)[9] == 2.0f * 209);
    ck_assert(vt_f32(f.p[3]->grad)[2] == 2.0f * 302);

    /* Averaging: sum then divide by world size gives the values back; the default bucket takes one call. */
    memset(&st, 0, sizeof st);
    ck_assert_int_eq(vt_comm_allreduce_grads(&fake, &f.list, true, &err), VT_OK);
    ck_assert_uint_eq(st.calls, 1);
    ck_assert_uint_eq(st.sizes[0], 18);
    ck_assert(vt_f32(f.p[0]->grad)[4] == 2.0f * 4);
    ck_assert(vt_f32(f.p[3]->grad)[2] == 2.0f * 302);

    /* One bucket per float still works (many calls, same result). */
    memset(&st, 0, sizeof st);
    ck_assert_int_eq(vt_comm_allreduce_grads_ex(&fake, &f.list, true, sizeof(float), &calls, &err), VT_OK);
    ck_assert_uint_eq(calls, 18);
    ck_assert(vt_f32(f.p[2]->grad)[9] == 2.0f * 209);
    fixture_free(&f);
    vt_ctx_destroy(c);
}
END_TEST

/* Gradients on a device (the emulated accelerator): the same buckets, cut at the same places, reduced through
 * the host communicator's buffer and unpacked on the device; averaging divides like the host path. */
START_TEST(test_device_grads_bucketing) {
    vt_ctx *c = vt_test_ctx();
    grads_fixture f;
    fixture_make(c, &f);
    for (int k = 0; k < 4; k++)
        if (f.p[k]->grad) ck_assert_int_eq(vt_tensor_move_(c, f.p[k]->grad, vt_emu(0)), VT_OK);
    fake_state st = {0};
    vt_comm fake = {&fake_ops, 0, 2, "fake", &st};
    vt_err err = {0};
    size_t calls = 0;
    ck_assert_msg(vt_comm_allreduce_grads_ex(&fake, &f.list, false, 4 * sizeof(float), &calls, &err) == VT_OK, "%s",
                  err.msg);
    ck_assert_uint_eq(calls, 5);
    const size_t want_sizes[5] = {4, 4, 4, 4, 2};
    for (int i = 0; i < 5; i++) ck_assert_uint_eq(st.sizes[i], want_sizes[i]);
    float want[32];
    size_t n = expected_stream(want);
    ck_assert_uint_eq(st.n_seen, n);
    for (size_t i = 0; i < n; i++) ck_assert_msg(st.seen[i] == want[i], "packed[%zu] = %g, want %g", i, st.seen[i], want[i]);
    ck_assert_ptr_null(f.p[1]->grad);
    ck_assert(vt_device_equal(f.p[2]->grad->device, vt_emu(0)));
    ck_assert(vt_item_at(f.p[0]->grad, 4) == 2.0 * 4);
    ck_assert(vt_item_at(f.p[2]->grad, 9) == 2.0 * 209);
    ck_assert(vt_item_at(f.p[3]->grad, 2) == 2.0 * 302);
    /* averaging over the 2 fake ranks gives the doubled values back */
    memset(&st, 0, sizeof st);
    ck_assert_int_eq(vt_comm_allreduce_grads(&fake, &f.list, true, &err), VT_OK);
    ck_assert_uint_eq(st.calls, 1);
    ck_assert(vt_item_at(f.p[2]->grad, 9) == 2.0 * 209);
    /* a gradient on another device than the first is refused before any collective */
    vt_tensor_release(f.p[1]->grad);
    f.p[1]->grad = vt_tensor_create(c, VT_F32, VT_SHAPE(3));
    memset(&st, 0, sizeof st);
    ck_assert_int_eq(vt_comm_allreduce_grads(&fake, &f.list, true, &err), VT_EUNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(err.msg, "'p1'"));
    ck_assert_uint_eq(st.calls, 0);
    fixture_free(&f);
    vt_ctx_destroy(c);
}
END_TEST

START_TEST(test_grads_single_and_errors) {
    vt_ctx *c = vt_test_ctx();
    grads_fixture f;
    fixture_make(c, &f);
    vt_err err = {0};
    size_t calls = 7;
    /* World 1: nothing is reduced and averaging leaves the gradients unchanged. */
    ck_assert_int_eq(vt_comm_allreduce_grads_ex(vt_comm_single(), &f.list, true, 0, &calls, &err), VT_OK);
    ck_assert_uint_eq(calls, 0);
    ck_assert(vt_f32(f.p[2]->grad)[9] == 209.0f);

    fake_state st = {0};
    vt_comm fake = {&fake_ops, 0, 2, "fake", &st};
    ck_assert_int_eq(vt_comm_allreduce_grads_ex(&fake, &f.list, true, 2, &calls, &err), VT_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "holds no float"));
    /* A non-f32 gradient fails before any collective, so ranks cannot fall out of step. */
    vt_tensor_release(f.p[1]->grad);
    f.p[1]->grad = vt_tensor_create(c, VT_I64, VT_SHAPE(3));
    ck_assert_int_eq(vt_comm_allreduce_grads(&fake, &f.list, true, &err), VT_EUNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(err.msg, "'p1'"));
    ck_assert_uint_eq(st.calls, 0);
    /* An empty list is a no-op. */
    vt_tensor_list empty;
    vt_tensor_list_init(&empty);
    ck_assert_int_eq(vt_comm_allreduce_grads(&fake, &empty, true, &err), VT_OK);
    fixture_free(&f);
    vt_ctx_destroy(c);
}
END_TEST

VT_TEST_MAIN("comm", test_single_collectives, test_bad_arguments, test_from_env, test_mpi_stub, test_grads_bucketing, test_device_grads_bucketing,
             test_grads_single_and_errors)
