/* NCCL communicator for device buffers (see comm_nccl.h): the collectives, the waits, and the two ways of
 * handing rank 0's ncclUniqueId to every rank (MPI broadcast, or a small TCP rendezvous). */
#include "comm_nccl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <cuda_runtime.h>
#include <nccl.h>

#ifdef VISFT_HAVE_MPI
#include <mpi.h>
#endif

#include "train/dist_url.h"

typedef struct nccl_impl {
    ncclComm_t comm;     /* NULL after an abort (or before init) */
    cudaStream_t stream; /* owned; non-blocking, so the legacy default stream never serialises with it */
    float *scratch;      /* one device float, the payload of the barrier */
    void *stage;         /* device staging for host buffers (the trainer's losses and flags), grown on demand */
    size_t stage_bytes;
    int device;
    bool owns_mpi_init;  /* create_mpi initialised MPI, so destroy finalises it */
} nccl_impl;

/* ---- error reporting ---- */

static vt_status cuda_fail(vt_err *err, const char *what, cudaError_t e) {
    /* Clear the runtime's last error: left set, it would be blamed on the next kernel launch check. */
    (void)cudaGetLastError();
    return vt_err_set(err, VT_EIO, "comm nccl: %s failed: %s", what, cudaGetErrorString(e));
}

static vt_status nccl_fail(vt_err *err, const char *what, ncclResult_t r) {
    /* ncclGetLastError holds NCCL's detailed reason for the latest failure on this thread. */
    const char *detail = ncclGetLastError(NULL);
    if (detail && *detail)
        return vt_err_set(err, VT_EIO, "comm nccl: %s failed: %s (%s)", what, ncclGetErrorString(r), detail);
    return vt_err_set(err, VT_EIO, "comm nccl: %s failed: %s", what, ncclGetErrorString(r));
}

/* ---- device-side state ---- */

/* Makes the device current and creates the stream and barrier scratch. Done before any bootstrap, so a
 * rank whose device is unusable fails before the others commit to ncclCommInitRank. */
static vt_status local_setup(nccl_impl *m, int device, vt_err *err) {
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) return cuda_fail(err, "cudaGetDeviceCount", e);
    if (device < 0 || device >= count)
        return vt_err_set(err, VT_EINVAL, "comm nccl: device %d outside the %d visible CUDA devices", device, count);
    m->device = device;
    e = cudaSetDevice(device);
    if (e != cudaSuccess) return cuda_fail(err, "cudaSetDevice", e);
    e = cudaStreamCreateWithFlags(&m->stream, cudaStreamNonBlocking);
    if (e != cudaSuccess) {
        m->stream = NULL;
        return cuda_fail(err, "cudaStreamCreateWithFlags", e);
    }
    e = cudaMalloc((void **)&m->scratch, sizeof(float));
    if (e != cudaSuccess) {
        m->scratch = NULL;
        return cuda_fail(err, "cudaMalloc(barrier scratch)", e);
    }
    /* Zero, so the barrier's repeated sums stay 0. Same stream as the barrier, so ordered before it. */
    e = cudaMemsetAsync(m->scratch, 0, sizeof(float), m->stream);
    if (e != cudaSuccess) return cuda_fail(err, "cudaMemsetAsync(barrier scratch)", e);
    return VT_OK;
}

static void local_teardown(nccl_impl *m) {
    if (m->stream) cudaStreamSynchronize(m->stream);
    if (m->scratch) cudaFree(m->scratch);
    if (m->stage) cudaFree(m->stage);
    if (m->stream) cudaStreamDestroy(m->stream);
    m->scratch = NULL;
    m->stream = NULL;
    (void)cudaGetLastError(); /* teardown errors have nowhere to go; do not leave them for a later check */
}

/* Waits for the stream. Polls instead of cudaStreamSynchronize so that a NCCL failure (a peer died, the
 * network broke) reported by ncclCommGetAsyncError ends the wait rather than hanging it forever. On such a
 * failure the communicator is aborted (its kernels are stopped) and m->comm becomes NULL. */
static vt_status stream_wait(nccl_impl *m, const char *what, vt_err *err) {
    for (unsigned spins = 0;; spins++) {
        cudaError_t e = cudaStreamQuery(m->stream);
        if (e == cudaSuccess) return VT_OK;
        if (e != cudaErrorNotReady) return cuda_fail(err, what, e);
        if (m->comm) {
            ncclResult_t async = ncclSuccess;
            ncclResult_t r = ncclCommGetAsyncError(m->comm, &async);
            if (r != ncclSuccess) async = r;
            if (async != ncclSuccess && async != ncclInProgress) {
                vt_status s = nccl_fail(err, what, async);
                ncclCommAbort(m->comm);
                m->comm = NULL;
                return s;
            }
        }
        /* Yield at first (collectives are usually short), then sleep so a long wait does not burn a core. */
        if (spins < 2000) {
            sched_yield();
        } else {
            struct timespec ts = {0, 50 * 1000};
            nanosleep(&ts, NULL);
        }
    }
}

static vt_status live_impl(vt_comm *c, const char *what, nccl_impl **out, vt_err *err) {
    nccl_impl *m = c ? c->impl : NULL;
    if (!m) return vt_err_set(err, VT_EINVAL, "comm nccl %s: NULL communicator", what);
    if (!m->comm)
        return vt_err_set(err, VT_ESTATE, "comm nccl %s: the communicator was aborted after an earlier error", what);
    *out = m;
    return VT_OK;
}

/* NCCL reads and writes the buffer on the communicator's device. Device memory of another device is refused
 * with a clear message; host memory (small values: losses, flags, broadcast bytes) is staged through a
 * device buffer of the communicator. *host says which. */
static vt_status check_buffer(const nccl_impl *m, const void *buf, const char *what, bool *host, vt_err *err) {
    struct cudaPointerAttributes a;
    memset(&a, 0, sizeof a);
    *host = false;
    cudaError_t e = cudaPointerGetAttributes(&a, buf);
    if (e != cudaSuccess) return cuda_fail(err, "cudaPointerGetAttributes", e);
    if (a.type == cudaMemoryTypeManaged) return VT_OK;
    if (a.type != cudaMemoryTypeDevice) {
        *host = true;
        return VT_OK;
    }
    if (a.device != m->device)
        return vt_err_set(err, VT_EINVAL, "comm nccl %s: buffer %p is on device %d, the communicator on device %d",
                          what, buf, a.device, m->device);
    return VT_OK;
}

/* The device buffer a collective runs on: buf itself, or the staging buffer holding a copy of host buf. */
static vt_status stage_in(nccl_impl *m, void *buf, size_t bytes, bool host, void **dev, vt_err *err) {
    *dev = buf;
    if (!host) return VT_OK;
    if (bytes > m->stage_bytes) {
        if (m->stage) cudaFree(m->stage);
        m->stage = NULL;
        m->stage_bytes = 0;
        cudaError_t e = cudaMalloc(&m->stage, bytes);
        if (e != cudaSuccess) return cuda_fail(err, "cudaMalloc(staging)", e);
        m->stage_bytes = bytes;
    }
    cudaError_t e = cudaMemcpyAsync(m->stage, buf, bytes, cudaMemcpyHostToDevice, m->stream);
    if (e != cudaSuccess) return cuda_fail(err, "cudaMemcpyAsync(host -> staging)", e);
    *dev = m->stage;
    return VT_OK;
}

static vt_status stage_out(nccl_impl *m, void *buf, size_t bytes, bool host, vt_err *err) {
    if (!host) return VT_OK;
    cudaError_t e = cudaMemcpyAsync(buf, m->stage, bytes, cudaMemcpyDeviceToHost, m->stream);
    return e == cudaSuccess ? VT_OK : cuda_fail(err, "cudaMemcpyAsync(staging -> host)", e);
}

/* ---- collectives ---- */

static vt_status allreduce_enqueue(vt_comm *c, void *buf, size_t n, ncclDataType_t dt, size_t elem, const char *what,
                                   nccl_impl **mp, vt_err *err) {
    nccl_impl *m = NULL;
    vt_status s = live_impl(c, what, &m, err);
    if (s != VT_OK) return s;
    *mp = m;
    if (n == 0) return VT_OK;
    bool host;
    void *dev;
    if ((s = check_buffer(m, buf, what, &host, err)) != VT_OK) return s;
    if ((s = stage_in(m, buf, n * elem, host, &dev, err)) != VT_OK) return s;
    ncclResult_t r = ncclAllReduce(dev, dev, n, dt, ncclSum, m->comm, m->stream);
    if (r != ncclSuccess) return nccl_fail(err, what, r);
    return stage_out(m, buf, n * elem, host, err);
}

static vt_status nccl_allreduce_f32(vt_comm *c, float *buf, size_t n, vt_err *err) {
    nccl_impl *m = NULL;
    vt_status s = allreduce_enqueue(c, buf, n, ncclFloat32, sizeof(float), "allreduce_sum_f32", &m, err);
    return s == VT_OK && n > 0 ? stream_wait(m, "allreduce_sum_f32", err) : s;
}

static vt_status nccl_allreduce_f64(vt_comm *c, double *buf, size_t n, vt_err *err) {
    nccl_impl *m = NULL;
    vt_status s = allreduce_enqueue(c, buf, n, ncclFloat64, sizeof(double), "allreduce_sum_f64", &m, err);
    return s == VT_OK && n > 0 ? stream_wait(m, "allreduce_sum_f64", err) : s;
}

static vt_status nccl_broadcast(vt_comm *c, void *buf, size_t n, int root, vt_err *err) {
    nccl_impl *m = NULL;
    vt_status s = live_impl(c, "broadcast_bytes", &m, err);
    if (s != VT_OK) return s;
    if (root < 0 || root >= c->world_size)
        return vt_err_set(err, VT_EINVAL, "comm nccl broadcast_bytes: root %d outside world of %d", root, c->world_size);
    if (n == 0) return VT_OK;
    bool host;
    void *dev;
    if ((s = check_buffer(m, buf, "broadcast_bytes", &host, err)) != VT_OK) return s;
    if ((s = stage_in(m, buf, n, host, &dev, err)) != VT_OK) return s;
    ncclResult_t r = ncclBroadcast(dev, dev, n, ncclUint8, root, m->comm, m->stream);
    if (r != ncclSuccess) return nccl_fail(err, "ncclBroadcast", r);
    if ((s = stage_out(m, buf, n, host, err)) != VT_OK) return s;
    return stream_wait(m, "broadcast_bytes", err);
}

/* NCCL has no barrier: a one-element all-reduce completes only once every rank has joined it. */
static vt_status nccl_barrier(vt_comm *c, vt_err *err) {
    nccl_impl *m = NULL;
    vt_status s = live_impl(c, "barrier", &m, err);
    if (s != VT_OK) return s;
    ncclResult_t r = ncclAllReduce(m->scratch, m->scratch, 1, ncclFloat32, ncclSum, m->comm, m->stream);
    if (r != ncclSuccess) return nccl_fail(err, "ncclAllReduce(barrier)", r);
    return stream_wait(m, "barrier", err);
}

static void nccl_destroy(vt_comm *c) {
    if (!c) return;
    nccl_impl *m = c->impl;
    if (m) {
        if (m->comm) {
            /* Let an unawaited async all-reduce finish first; if the wait fails, abort instead of destroying
             * (ncclCommDestroy could wait forever on a broken peer). stream_wait may already have aborted. */
            vt_status s = m->stream ? stream_wait(m, "destroy", NULL) : VT_OK;
            if (m->comm) {
                if (s == VT_OK) ncclCommDestroy(m->comm);
                else ncclCommAbort(m->comm);
                m->comm = NULL;
            }
        }
        local_teardown(m);
#ifdef VISFT_HAVE_MPI
        int finalized = 0;
        MPI_Finalized(&finalized);
        if (m->owns_mpi_init && !finalized) MPI_Finalize();
#endif
        free(m);
    }
    free(c);
}

static const vt_comm_ops nccl_ops = {nccl_allreduce_f32, nccl_allreduce_f64, nccl_broadcast, nccl_barrier,
                                     nccl_destroy};

/* ---- public entry points beyond the table ---- */

bool vt_comm_nccl_available(void) { return true; }

static vt_status nccl_comm_of(vt_comm *c, const char *what, nccl_impl **out, vt_err *err) {
    if (!c || c->ops != &nccl_ops)
        return vt_err_set(err, VT_EINVAL, "comm nccl %s: not an NCCL communicator (backend '%s')", what,
                          c && c->backend ? c->backend : "none");
    return live_impl(c, what, out, err);
}

vt_status vt_comm_nccl_allreduce_async(vt_comm *c, float *dev_buf, size_t n, vt_err *err) {
    nccl_impl *m = NULL;
    vt_status s = nccl_comm_of(c, "allreduce_async", &m, err);
    if (s != VT_OK) return s;
    if (n > 0 && !dev_buf) return vt_err_set(err, VT_EINVAL, "comm nccl allreduce_async: NULL buffer of %zu elements", n);
    return allreduce_enqueue(c, dev_buf, n, ncclFloat32, sizeof(float), "allreduce_async", &m, err);
}

vt_status vt_comm_nccl_wait(vt_comm *c, vt_err *err) {
    nccl_impl *m = NULL;
    vt_status s = nccl_comm_of(c, "wait", &m, err);
    if (s != VT_OK) return s;
    return stream_wait(m, "wait", err);
}

cudaStream_t vt_comm_nccl_stream(vt_comm *c) {
    if (!c || c->ops != &nccl_ops || !c->impl) return NULL;
    return ((nccl_impl *)c->impl)->stream;
}

/* ---- creation, shared by both bootstraps ---- */

static vt_status new_comm(vt_comm **cp, nccl_impl **mp, vt_err *err) {
    vt_comm *c = calloc(1, sizeof *c);
    nccl_impl *m = calloc(1, sizeof *m);
    if (!c || !m) {
        free(c);
        free(m);
        return vt_err_set(err, VT_ENOMEM, "comm nccl: out of memory");
    }
    m->device = -1;
    c->ops = &nccl_ops;
    c->backend = "nccl";
    c->impl = m;
    *cp = c;
    *mp = m;
    return VT_OK;
}

/* Joins the NCCL communicator once every rank has the same id. Blocks until all ranks call it. */
static vt_status init_rank(vt_comm *c, nccl_impl *m, int rank, int world, const ncclUniqueId *id, vt_err *err) {
    cudaError_t e = cudaSetDevice(m->device); /* NCCL binds the communicator to the current device */
    if (e != cudaSuccess) return cuda_fail(err, "cudaSetDevice", e);
    ncclComm_t comm = NULL;
    ncclResult_t r = ncclCommInitRank(&comm, world, *id, rank);
    if (r != ncclSuccess) return nccl_fail(err, "ncclCommInitRank", r);
    m->comm = comm;
    c->rank = rank;
    c->world_size = world;
    return VT_OK;
}

/* Frees a communicator whose creation failed (no NCCL communicator yet). */
static void discard_comm(vt_comm *c, nccl_impl *m) {
    local_teardown(m);
    free(m);
    free(c);
}

/* ---- bootstrap over MPI ---- */

#ifdef VISFT_HAVE_MPI

static vt_status mpi_fail(vt_err *err, const char *what, int rc) {
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS) len = 0;
    msg[len < MPI_MAX_ERROR_STRING ? len : MPI_MAX_ERROR_STRING - 1] = '\0';
    return vt_err_set(err, VT_EIO, "comm nccl: %s failed: %s", what, len ? msg : "unknown error");
}

vt_status vt_comm_nccl_create_mpi(int device, vt_comm **out, vt_err *err) {
    if (!out) return vt_err_set(err, VT_EINVAL, "comm nccl: NULL output");
    *out = NULL;
    int inited = 0, finalized = 0;
    MPI_Initialized(&inited);
    MPI_Finalized(&finalized);
    if (finalized) return vt_err_set(err, VT_ESTATE, "comm nccl: MPI was already finalised in this process");
    bool owns = false;
    if (!inited) {
        /* FUNNELED, as comm_mpi.c: only the thread that made the communicator calls MPI. */
        int provided = 0;
        int rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
        if (rc != MPI_SUCCESS) return mpi_fail(err, "MPI_Init_thread", rc);
        owns = true;
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    int rank = 0, world = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world);

    unsigned char msg[1 + NCCL_UNIQUE_ID_BYTES]; /* byte 0: rank 0 made the id; then the id */
    memset(msg, 0, sizeof msg);
    ncclUniqueId id;
    memset(&id, 0, sizeof id);
    vt_comm *c = NULL;
    nccl_impl *m = NULL;
    vt_status s = new_comm(&c, &m, err);
    if (s == VT_OK) {
        m->owns_mpi_init = owns;
        s = local_setup(m, device, err);
    }

    /* Vote: every rank learns whether all devices are ready, so one rank's failure fails the others here
     * instead of leaving them waiting in ncclCommInitRank. */
    int ok = s == VT_OK, all_ok = 0, rc;
    rc = MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) {
        if (s == VT_OK) s = mpi_fail(err, "MPI_Allreduce(readiness)", rc);
        goto fail;
    }
    if (!all_ok) {
        if (s == VT_OK) s = vt_err_set(err, VT_EIO, "comm nccl: another rank could not set up its CUDA device (see its error)");
        goto fail;
    }

    /* Rank 0 makes the id; byte 0 says whether it could, so a failure there fails every rank. */
    if (rank == 0) {
        ncclResult_t r = ncclGetUniqueId(&id);
        if (r == ncclSuccess) {
            msg[0] = 1;
            memcpy(msg + 1, &id, NCCL_UNIQUE_ID_BYTES);
        } else {
            s = nccl_fail(err, "ncclGetUniqueId", r);
        }
    }
    rc = MPI_Bcast(msg, (int)sizeof msg, MPI_BYTE, 0, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) {
        if (s == VT_OK) s = mpi_fail(err, "MPI_Bcast(ncclUniqueId)", rc);
        goto fail;
    }
    if (!msg[0]) {
        if (s == VT_OK) s = vt_err_set(err, VT_EIO, "comm nccl: rank 0 could not create the NCCL id (see its error)");
        goto fail;
    }
    memcpy(&id, msg + 1, NCCL_UNIQUE_ID_BYTES);

    s = init_rank(c, m, rank, world, &id, err);
    if (s != VT_OK) goto fail;
    *out = c;
    return VT_OK;

fail:
    if (c) discard_comm(c, m);
    if (owns) {
        int fin = 0;
        MPI_Finalized(&fin);
        if (!fin) MPI_Finalize();
    }
    return s;
}

#else /* !VISFT_HAVE_MPI */

vt_status vt_comm_nccl_create_mpi(int device, vt_comm **out, vt_err *err) {
    if (out) *out = NULL;
    return vt_err_set(err, VT_EUNSUPPORTED,
                      "comm nccl: built without MPI, so the id cannot be shared over MPI; use "
                      "vt_comm_nccl_create_tcp with a tcp://HOST:PORT address, or rebuild with MPI");
}

#endif

/* ---- bootstrap over TCP ----
 * Protocol (all integers big-endian u32):
 *   rank r > 0 -> rank 0:  magic, version, r, world size, NCCL version      (HELLO_BYTES)
 *   rank 0 -> rank r:      magic, version, world size, ncclUniqueId bytes    (REPLY_BYTES)
 * Rank 0 replies only after every rank has said hello, so a timeout at rank 0 reaches every waiting rank as
 * a closed connection instead of leaving some of them inside ncclCommInitRank. */

#define BOOT_MAGIC 0x5654434eu /* "VTCN" */
#define BOOT_VERSION 1u
#define HELLO_BYTES (5 * 4)
#define REPLY_BYTES (3 * 4 + NCCL_UNIQUE_ID_BYTES)
#define HELLO_TIMEOUT_MS 10000 /* a connection that sends no hello in this time is not one of ours */
#define RETRY_SLEEP_MS 250

static void put_u32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static uint32_t get_u32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int ms_left(int64_t deadline) {
    int64_t left = deadline - now_ms();
    if (left < 0) return 0;
    return left > INT_MAX ? INT_MAX : (int)left;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int init_timeout_s(void) {
    const char *v = getenv("VISFT_NCCL_INIT_TIMEOUT_S");
    if (v && *v) {
        char *end;
        long t = strtol(v, &end, 10);
        if (*end == '\0' && t > 0 && t <= 86400) return (int)t;
    }
    return VT_COMM_NCCL_INIT_TIMEOUT_S;
}

static int set_nonblocking(int fd) {
    int fl = fcntl(fd, F_GETFL, 0);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Sends or receives exactly n bytes on a non-blocking socket before the deadline. NULL on success, else
 * the reason. MSG_NOSIGNAL: a peer that went away must give an error, not kill us with SIGPIPE. */
static const char *io_full(int fd, void *buf, size_t n, bool sending, int64_t deadline) {
    unsigned char *p = buf;
    while (n > 0) {
        int left = ms_left(deadline);
        if (left == 0) return "timed out";
        struct pollfd pf = {fd, sending ? POLLOUT : POLLIN, 0};
        int pr = poll(&pf, 1, left);
        if (pr < 0 && errno != EINTR) return strerror(errno);
        if (pr <= 0) continue;
        ssize_t k = sending ? send(fd, p, n, MSG_NOSIGNAL) : recv(fd, p, n, 0);
        if (k < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
            return strerror(errno);
        }
        if (k == 0) return "connection closed by the peer";
        p += k;
        n -= (size_t)k;
    }
    return NULL;
}

/* Listens on every interface (IPv6 dual-stack when the host has IPv6, else IPv4): the URL's host names
 * rank 0 as the others reach it, which need not be an address rank 0 can bind (NAT, /etc/hosts aliases). */
static vt_status tcp_listen(int port, int *out_fd, vt_err *err) {
    int families[2] = {AF_INET6, AF_INET};
    int last_errno = 0;
    const char *last_call = "socket";
    for (int i = 0; i < 2; i++) {
        int fd = socket(families[i], SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            last_errno = errno;
            last_call = "socket";
            continue;
        }
        int one = 1, zero = 0;
        /* SO_REUSEADDR: a restarted job can bind while the last one's connections sit in TIME_WAIT. */
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        int rc;
        if (families[i] == AF_INET6) {
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
            struct sockaddr_in6 a;
            memset(&a, 0, sizeof a);
            a.sin6_family = AF_INET6;
            a.sin6_addr = in6addr_any;
            a.sin6_port = htons((uint16_t)port);
            rc = bind(fd, (struct sockaddr *)&a, sizeof a);
        } else {
            struct sockaddr_in a;
            memset(&a, 0, sizeof a);
            a.sin_family = AF_INET;
            a.sin_addr.s_addr = htonl(INADDR_ANY);
            a.sin_port = htons((uint16_t)port);
            rc = bind(fd, (struct sockaddr *)&a, sizeof a);
        }
        if (rc != 0) {
            last_errno = errno;
            last_call = "bind";
        } else if (listen(fd, SOMAXCONN) != 0) {
            last_errno = errno;
            last_call = "listen";
        } else if (set_nonblocking(fd) != 0) {
            last_errno = errno;
            last_call = "fcntl";
        } else {
            *out_fd = fd;
            return VT_OK;
        }
        close(fd);
        if (last_errno == EADDRINUSE) break; /* IPv4 would be refused the same way */
    }
    return vt_err_set(err, VT_EIO, "comm nccl: rank 0 cannot listen on port %d: %s: %s%s", port, last_call,
                      strerror(last_errno),
                      last_errno == EADDRINUSE ? " (another job or an earlier run still holds it; pick another port)" : "");
}

/* Rank 0: accepts the other ranks, then sends each the id. */
static vt_status tcp_serve_id(int port, int world, const ncclUniqueId *id, int timeout_s, vt_err *err) {
    int lfd = -1;
    vt_status s = tcp_listen(port, &lfd, err);
    if (s != VT_OK) return s;
    int *fds = malloc((size_t)world * sizeof *fds); /* fds[r]: rank r's connection, -1 until it joins */
    if (!fds) {
        close(lfd);
        return vt_err_set(err, VT_ENOMEM, "comm nccl: out of memory");
    }
    for (int r = 0; r < world; r++) fds[r] = -1;

    uint32_t nccl_version = 0;
    {
        int v = 0;
        if (ncclGetVersion(&v) == ncclSuccess) nccl_version = (uint32_t)v;
    }
    int64_t deadline = now_ms() + (int64_t)timeout_s * 1000;
    int joined = 0;
    while (s == VT_OK && joined < world - 1) {
        int left = ms_left(deadline);
        if (left == 0) {
            /* Name the missing ranks (as many as fit in one line). */
            char list[160];
            size_t len = 0;
            int missing = 0;
            bool cut = false;
            for (int r = 1; r < world; r++) {
                if (fds[r] >= 0) continue;
                missing++;
                if (sizeof list - len > 16) { /* ", " and an int always fit in 16 */
                    int k = snprintf(list + len, sizeof list - len, "%s%d", len ? ", " : "", r);
                    if (k > 0) len += (size_t)k;
                } else {
                    cut = true;
                }
            }
            list[len] = '\0';
            s = vt_err_set(err, VT_EIO,
                           "comm nccl: rank 0 timed out after %d s on port %d waiting for rank%s %s%s (%d of %d "
                           "missing): check they started, use the same URL and world size, and can reach this host",
                           timeout_s, port, missing == 1 ? "" : "s", list, cut ? ", ..." : "", missing, world - 1);
            break;
        }
        struct pollfd pf = {lfd, POLLIN, 0};
        int pr = poll(&pf, 1, left);
        if (pr < 0 && errno != EINTR) {
            s = vt_err_set(err, VT_EIO, "comm nccl: rank 0 poll failed: %s", strerror(errno));
            break;
        }
        if (pr <= 0) continue;
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) {
            /* A connection that went away before accept: wait for the next. Anything else (EMFILE...) would
             * make poll report the socket ready forever, so it is an error. */
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
                continue;
            s = vt_err_set(err, VT_EIO, "comm nccl: rank 0 accept failed: %s", strerror(errno));
            break;
        }
        if (set_nonblocking(fd) != 0) {
            close(fd);
            continue;
        }
        int64_t hello_deadline = now_ms() + HELLO_TIMEOUT_MS;
        if (hello_deadline > deadline) hello_deadline = deadline;
        unsigned char hello[HELLO_BYTES];
        if (io_full(fd, hello, sizeof hello, false, hello_deadline) != NULL || get_u32(hello) != BOOT_MAGIC) {
            close(fd); /* not a visft rank (a port scanner, a stale client): ignore it */
            continue;
        }
        uint32_t version = get_u32(hello + 4), r = get_u32(hello + 8), w = get_u32(hello + 12);
        uint32_t their_nccl = get_u32(hello + 16);
        if (version != BOOT_VERSION)
            s = vt_err_set(err, VT_EIO, "comm nccl: a rank connected with bootstrap protocol %u, rank 0 speaks %u "
                           "(mixed visft versions)", version, BOOT_VERSION);
        else if (w != (uint32_t)world)
            s = vt_err_set(err, VT_EINVAL, "comm nccl: rank %u was started with world size %u, rank 0 with %d", r, w,
                           world);
        else if (r == 0 || r >= (uint32_t)world)
            s = vt_err_set(err, VT_EINVAL, "comm nccl: a rank connected claiming rank %u, outside 1..%d", r, world - 1);
        else if (fds[r] >= 0)
            s = vt_err_set(err, VT_EINVAL, "comm nccl: two processes connected as rank %u", r);
        else if (their_nccl != nccl_version)
            s = vt_err_set(err, VT_EIO, "comm nccl: rank %u runs NCCL %u, rank 0 NCCL %u (install the same NCCL "
                           "everywhere)", r, their_nccl, nccl_version);
        if (s != VT_OK) {
            close(fd);
            break;
        }
        fds[r] = fd;
        joined++;
    }

    if (s == VT_OK) {
        unsigned char reply[REPLY_BYTES];
        put_u32(reply, BOOT_MAGIC);
        put_u32(reply + 4, BOOT_VERSION);
        put_u32(reply + 8, (uint32_t)world);
        memcpy(reply + 12, id, NCCL_UNIQUE_ID_BYTES);
        int64_t send_deadline = now_ms() + HELLO_TIMEOUT_MS;
        for (int r = 1; r < world && s == VT_OK; r++) {
            const char *why = io_full(fds[r], reply, sizeof reply, true, send_deadline);
            if (why)
                s = vt_err_set(err, VT_EIO, "comm nccl: rank 0 could not send the NCCL id to rank %d: %s", r, why);
        }
    }
    /* Closing is also how a failure reaches the waiting ranks. */
    for (int r = 0; r < world; r++)
        if (fds[r] >= 0) close(fds[r]);
    free(fds);
    close(lfd);
    return s;
}

/* Waits for a non-blocking connect to finish (at most until the deadline, and 10 s per address). */
static bool connect_wait(int fd, const struct addrinfo *ai, int64_t deadline, char *why, size_t why_len) {
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) return true;
    if (errno != EINPROGRESS && errno != EINTR) {
        snprintf(why, why_len, "connect: %s", strerror(errno));
        return false;
    }
    int64_t until = now_ms() + 10000;
    if (until > deadline) until = deadline;
    for (;;) {
        struct pollfd pf = {fd, POLLOUT, 0};
        int pr = poll(&pf, 1, ms_left(until));
        if (pr < 0 && errno == EINTR) continue;
        if (pr < 0) {
            snprintf(why, why_len, "poll: %s", strerror(errno));
            return false;
        }
        if (pr == 0) {
            snprintf(why, why_len, "connect: timed out");
            return false;
        }
        break;
    }
    int soerr = 0;
    socklen_t len = sizeof soerr;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0) soerr = errno;
    if (soerr != 0) {
        snprintf(why, why_len, "connect: %s", strerror(soerr));
        return false;
    }
    return true;
}

/* One attempt over every address of host; the connected non-blocking socket, or -1 with why filled. */
static int tcp_connect_once(const char *host, int port, int64_t deadline, char *why, size_t why_len) {
    char port_s[16];
    snprintf(port_s, sizeof port_s, "%d", port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    struct addrinfo *res = NULL;
    int g = getaddrinfo(host, port_s, &hints, &res);
    if (g != 0) {
        snprintf(why, why_len, "cannot resolve host: %s", gai_strerror(g));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            snprintf(why, why_len, "socket: %s", strerror(errno));
            continue;
        }
        if (set_nonblocking(fd) != 0) {
            snprintf(why, why_len, "fcntl: %s", strerror(errno));
        } else if (connect_wait(fd, ai, deadline, why, why_len)) {
            break;
        }
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

/* Rank r > 0: connects to rank 0 (retrying while it is not up yet), says hello, receives the id. */
static vt_status tcp_fetch_id(const char *host, int port, int rank, int world, ncclUniqueId *id, int timeout_s,
                              vt_err *err) {
    int64_t deadline = now_ms() + (int64_t)timeout_s * 1000;
    char why[160] = "no attempt made";
    int fd = -1;
    for (;;) {
        fd = tcp_connect_once(host, port, deadline, why, sizeof why);
        if (fd >= 0) break;
        int left = ms_left(deadline);
        if (left == 0)
            return vt_err_set(err, VT_EIO, "comm nccl: rank %d could not reach rank 0 at %s:%d within %d s (last "
                              "error: %s)", rank, host, port, timeout_s, why);
        sleep_ms(left < RETRY_SLEEP_MS ? left : RETRY_SLEEP_MS);
    }

    unsigned char hello[HELLO_BYTES];
    int v = 0;
    if (ncclGetVersion(&v) != ncclSuccess) v = 0;
    put_u32(hello, BOOT_MAGIC);
    put_u32(hello + 4, BOOT_VERSION);
    put_u32(hello + 8, (uint32_t)rank);
    put_u32(hello + 12, (uint32_t)world);
    put_u32(hello + 16, (uint32_t)v);
    const char *e = io_full(fd, hello, sizeof hello, true, now_ms() + HELLO_TIMEOUT_MS);
    if (e) {
        close(fd);
        return vt_err_set(err, VT_EIO, "comm nccl: rank %d could not greet rank 0 at %s:%d: %s", rank, host, port, e);
    }
    /* A fresh full timeout for the reply: rank 0 bounds this wait itself (it gives up and closes the
     * connection at its own timeout), and this rank may have started long before it. */
    unsigned char reply[REPLY_BYTES];
    e = io_full(fd, reply, sizeof reply, false, now_ms() + (int64_t)timeout_s * 1000);
    close(fd);
    if (e)
        return vt_err_set(err, VT_EIO, "comm nccl: rank %d got no NCCL id from rank 0 at %s:%d: %s (rank 0 gives up "
                          "and closes when a rank is missing or misconfigured: see its error)", rank, host, port, e);
    if (get_u32(reply) != BOOT_MAGIC || get_u32(reply + 4) != BOOT_VERSION || get_u32(reply + 8) != (uint32_t)world)
        return vt_err_set(err, VT_EIO, "comm nccl: rank %d got a malformed reply from %s:%d (is that a visft rank 0 of "
                          "this job?)", rank, host, port);
    memcpy(id, reply + 12, NCCL_UNIQUE_ID_BYTES);
    return VT_OK;
}

vt_status vt_comm_nccl_create_tcp(const char *init_url, int rank, int world_size, int device, vt_comm **out,
                                  vt_err *err) {
    if (!out) return vt_err_set(err, VT_EINVAL, "comm nccl: NULL output");
    *out = NULL;
    char host[VT_TCP_URL_HOST_MAX + 1];
    int port = 0;
    vt_status s = (vt_status)vt_parse_tcp_url(init_url, host, sizeof host, &port, err);
    if (s != VT_OK) {
        if (err) vt_err_prefix(err, "comm nccl");
        return s;
    }
    if (world_size < 1) return vt_err_set(err, VT_EINVAL, "comm nccl: world size %d must be at least 1", world_size);
    if (rank < 0 || rank >= world_size)
        return vt_err_set(err, VT_EINVAL, "comm nccl: rank %d outside world of %d (ranks are 0..%d)", rank, world_size,
                          world_size - 1);

    int timeout_s = init_timeout_s();
    ncclUniqueId id;
    memset(&id, 0, sizeof id);
    vt_comm *c = NULL;
    nccl_impl *m = NULL;
    s = new_comm(&c, &m, err);
    if (s != VT_OK) return s;
    s = local_setup(m, device, err);
    if (s != VT_OK) goto fail;

    if (rank == 0) {
        ncclResult_t r = ncclGetUniqueId(&id);
        if (r != ncclSuccess) {
            s = nccl_fail(err, "ncclGetUniqueId", r);
            goto fail;
        }
        if (world_size > 1) s = tcp_serve_id(port, world_size, &id, timeout_s, err);
    } else {
        s = tcp_fetch_id(host, port, rank, world_size, &id, timeout_s, err);
    }
    if (s != VT_OK) goto fail;

    s = init_rank(c, m, rank, world_size, &id, err);
    if (s != VT_OK) goto fail;
    *out = c;
    return VT_OK;

fail:
    discard_comm(c, m);
    return s;
}
