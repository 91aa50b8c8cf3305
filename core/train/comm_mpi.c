/* MPI communicator over MPI_COMM_WORLD (OpenMPI from Debian). Built with MPI only when CMake found it
 * (VISFT_HAVE_MPI); otherwise vt_comm_mpi_create reports how to get it. */
#include "visft/comm.h"

#include <stdlib.h>

#ifdef VISFT_HAVE_MPI
#include <limits.h>
#include <mpi.h>

typedef struct mpi_impl {
    bool owns_init; /* this communicator called MPI_Init_thread, so it finalises */
} mpi_impl;

static vt_status mpi_fail(vt_err *err, const char *what, int rc) {
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS) len = 0;
    msg[len < MPI_MAX_ERROR_STRING ? len : MPI_MAX_ERROR_STRING - 1] = '\0';
    return vt_err_set(err, VT_EIO, "comm mpi: %s failed: %s", what, len ? msg : "unknown error");
}

/* MPI counts are int: larger buffers go in INT_MAX-element pieces. */
static vt_status mpi_allreduce(void *buf, size_t n, size_t elem, MPI_Datatype dt, const char *what, vt_err *err) {
    char *p = buf;
    while (n > 0) {
        int cnt = n > (size_t)INT_MAX ? INT_MAX : (int)n;
        int rc = MPI_Allreduce(MPI_IN_PLACE, p, cnt, dt, MPI_SUM, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) return mpi_fail(err, what, rc);
        p += (size_t)cnt * elem;
        n -= (size_t)cnt;
    }
    return VT_OK;
}

static vt_status mpi_allreduce_f32(vt_comm *c, float *buf, size_t n, vt_err *err) {
    return mpi_allreduce(buf, n, sizeof(float), MPI_FLOAT, "MPI_Allreduce(float)", err);
}

static vt_status mpi_allreduce_f64(vt_comm *c, double *buf, size_t n, vt_err *err) {
    return mpi_allreduce(buf, n, sizeof(double), MPI_DOUBLE, "MPI_Allreduce(double)", err);
}

static vt_status mpi_broadcast(vt_comm *c, void *buf, size_t n, int root, vt_err *err) {
    char *p = buf;
    while (n > 0) {
        int cnt = n > (size_t)INT_MAX ? INT_MAX : (int)n;
        int rc = MPI_Bcast(p, cnt, MPI_BYTE, root, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) return mpi_fail(err, "MPI_Bcast", rc);
        p += cnt;
        n -= (size_t)cnt;
    }
    return VT_OK;
}

static vt_status mpi_barrier(vt_comm *c, vt_err *err) {
    int rc = MPI_Barrier(MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? VT_OK : mpi_fail(err, "MPI_Barrier", rc);
}

static void mpi_destroy(vt_comm *c) {
    mpi_impl *m = c->impl;
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (m && m->owns_init && !finalized) MPI_Finalize();
    free(m);
    free(c);
}

static const vt_comm_ops mpi_ops = {mpi_allreduce_f32, mpi_allreduce_f64, mpi_broadcast, mpi_barrier, mpi_destroy};

bool vt_comm_mpi_available(void) { return true; }

vt_status vt_comm_mpi_create(int *argc, char ***argv, vt_comm **out, vt_err *err) {
    if (!out) return vt_err_set(err, VT_EINVAL, "comm mpi: NULL output");
    *out = NULL;
    int inited = 0, finalized = 0;
    MPI_Initialized(&inited);
    MPI_Finalized(&finalized);
    if (finalized) return vt_err_set(err, VT_ESTATE, "comm mpi: MPI was already finalised in this process");
    bool owns = false;
    if (!inited) {
        /* FUNNELED: only the thread that made the communicator calls MPI (OpenMP workers never do). */
        int provided = 0;
        int rc = MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
        if (rc != MPI_SUCCESS) return mpi_fail(err, "MPI_Init_thread", rc);
        owns = true;
    }
    /* Errors come back as return codes rather than aborting the job, so they reach vt_err. */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    vt_comm *c = calloc(1, sizeof *c);
    mpi_impl *m = calloc(1, sizeof *m);
    if (!c || !m) {
        free(c);
        free(m);
        if (owns) MPI_Finalize();
        return vt_err_set(err, VT_ENOMEM, "comm mpi: out of memory");
    }
    m->owns_init = owns;
    c->ops = &mpi_ops;
    c->backend = "mpi";
    c->impl = m;
    MPI_Comm_rank(MPI_COMM_WORLD, &c->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &c->world_size);
    *out = c;
    return VT_OK;
}

#else /* !VISFT_HAVE_MPI */

bool vt_comm_mpi_available(void) { return false; }

vt_status vt_comm_mpi_create(int *argc, char ***argv, vt_comm **out, vt_err *err) {
    if (out) *out = NULL;
    return vt_err_set(err, VT_EUNSUPPORTED, "comm mpi: built without MPI (apt-get install libopenmpi-dev openmpi-bin)");
}

#endif
