/* The CUDA backend's runtime: per-context device state (stream, cuBLASLt, cuDNN), the stream-ordered caching
 * allocator, and the memory operations the core calls through vt_mem_ops (allocate, free, copy across host
 * and devices, fill, synchronise).
 *
 * Allocator: size classes as the CPU's (64-byte steps up to 4 KiB here 512-byte steps; above, each power of two
 * split in four), a free list of device pointers per class per device, cudaMalloc only on a miss. All work of
 * a context on a device runs on its one stream, so a freed block can be reused at once: the stream orders the
 * reuse after every earlier use. On cudaMalloc failure the cache is returned to the driver and the allocation
 * retried once before the error is reported.
 *
 * Host-to-device copies go through pinned staging buffers (two per device, used in turn): the host copies into
 * one and the transfer is queued asynchronously, so the host goes on preparing the next batch while the GPU
 * runs; an event per buffer says when it may be refilled. */
#include <cudnn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "copy.h"
#include "cuda_state.h"
#include "tensor/internal.h"

#define MAX_DEVICES 16
#define NCLASSES 128
#define LT_WORKSPACE_BYTES ((size_t)32 << 20)

typedef struct block_list {
    void **ptrs;
    size_t n, cap;
} block_list;

#define STAGE_SLOTS 2
#define STAGE_MAX_BYTES ((size_t)256 << 20) /* larger copies go straight from pageable memory */

typedef struct stage_slot {
    void *host;        /* pinned (cudaHostAlloc) */
    size_t bytes;
    cudaEvent_t done;  /* recorded after the transfer that last read it */
    bool pending;
} stage_slot;

typedef struct cuda_dev {
    vt_cuda_state s;
    block_list cache[NCLASSES];
    vt_mem_stats stats;
    stage_slot stage[STAGE_SLOTS];
    int next_stage;
} cuda_dev;

typedef struct cuda_ctx {
    cuda_dev *dev[MAX_DEVICES];
} cuda_ctx;

/* ---- errors ---- */

bool vt_cuda_ok(vt_ctx *c, cudaError_t e, const char *what) {
    if (e == cudaSuccess) return true;
    cudaGetLastError(); /* a failed call also sets the thread's last error: the next launch check must not see it */
    vt_ctx_fail(c, e == cudaErrorMemoryAllocation ? VT_ENOMEM : VT_EDEVICE, "cuda: %s: %s", what, cudaGetErrorString(e));
    return false;
}

bool vt_cuda_launched(vt_ctx *c, const char *what) { return vt_cuda_ok(c, cudaGetLastError(), what); }

/* ---- state ---- */

static int device_count(void) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError(); /* no driver or no GPU: not an error, just no devices */
        return 0;
    }
    return n;
}

static cuda_ctx *ctx_state(vt_ctx *c) {
    void **slot = vt_ctx_backend_slot(c, VT_DEVICE_CUDA);
    if (!*slot && !(*slot = calloc(1, sizeof(cuda_ctx)))) vt_ctx_fail(c, VT_ENOMEM, "cuda: out of host memory");
    return *slot;
}

static void dev_destroy(cuda_dev *d);

static cuda_dev *dev_of(vt_ctx *c, int device) {
    if (device < 0 || device >= MAX_DEVICES) {
        vt_ctx_fail(c, VT_EUNSUPPORTED, "cuda:%d: device index out of range", device);
        return NULL;
    }
    cuda_ctx *cc = ctx_state(c);
    if (!cc) return NULL;
    cuda_dev *d = cc->dev[device];
    if (d) {
        /* kernel launches go to the calling thread's current device */
        if (!vt_cuda_ok(c, cudaSetDevice(device), "cudaSetDevice")) return NULL;
        return d;
    }
    int n = device_count();
    if (device >= n) {
        if (n == 0)
            vt_ctx_fail(c, VT_EUNSUPPORTED, "cuda:%d: no CUDA device on this machine (or no driver)", device);
        else
            vt_ctx_fail(c, VT_EUNSUPPORTED, "cuda:%d: index out of range (this machine has %d CUDA device%s)", device,
                        n, n == 1 ? "" : "s");
        return NULL;
    }
    if (!(d = calloc(1, sizeof *d))) {
        vt_ctx_fail(c, VT_ENOMEM, "cuda: out of host memory");
        return NULL;
    }
    d->s.device = device;
    bool ok = vt_cuda_ok(c, cudaSetDevice(device), "cudaSetDevice") &&
              vt_cuda_ok(c, cudaStreamCreateWithFlags(&d->s.stream, cudaStreamNonBlocking), "cudaStreamCreate");
    if (ok) {
        cublasStatus_t st = cublasLtCreate(&d->s.lt);
        if (st != CUBLAS_STATUS_SUCCESS) {
            vt_ctx_fail(c, VT_EDEVICE, "cuda:%d: cublasLtCreate failed (status %d)", device, (int)st);
            ok = false;
        }
    }
    if (ok) {
        d->s.lt_workspace_bytes = LT_WORKSPACE_BYTES;
        ok = vt_cuda_ok(c, cudaMalloc(&d->s.lt_workspace, d->s.lt_workspace_bytes), "cuBLASLt workspace");
    }
    int v = 0;
    if (ok && cudaDeviceGetAttribute(&v, cudaDevAttrMultiProcessorCount, device) == cudaSuccess) d->s.sm_count = v;
    if (ok && cudaDeviceGetAttribute(&v, cudaDevAttrComputeCapabilityMajor, device) == cudaSuccess) d->s.cc_major = v;
    if (ok && cudaDeviceGetAttribute(&v, cudaDevAttrComputeCapabilityMinor, device) == cudaSuccess) d->s.cc_minor = v;
    if (ok && cudaDeviceGetAttribute(&v, cudaDevAttrMaxSharedMemoryPerBlockOptin, device) == cudaSuccess)
        d->s.max_smem_per_block = (size_t)v;
    if (!ok) {
        dev_destroy(d);
        return NULL;
    }
    cc->dev[device] = d;
    return d;
}

vt_cuda_state *vt_cuda_state_of(vt_ctx *c, int device) {
    cuda_dev *d = dev_of(c, device);
    if (d) c->current_device = device;
    return d ? &d->s : NULL;
}

vt_cuda_state *vt_cuda_current(vt_ctx *c) { return vt_cuda_state_of(c, vt_ctx_current_device(c)); }

void *vt_cuda_cudnn(vt_ctx *c, vt_cuda_state *s) {
    if (s->cudnn) return s->cudnn;
    cudnnHandle_t h = NULL;
    cudnnStatus_t st = cudnnCreate(&h);
    if (st == CUDNN_STATUS_SUCCESS) st = cudnnSetStream(h, s->stream);
    if (st != CUDNN_STATUS_SUCCESS) {
        if (h) cudnnDestroy(h);
        vt_ctx_fail(c, VT_EDEVICE, "cudnn: %s", cudnnGetErrorString(st));
        return NULL;
    }
    return s->cudnn = h;
}

bool vt_cuda_sync(vt_ctx *c) {
    vt_cuda_state *s = vt_cuda_current(c);
    return s && vt_cuda_ok(c, cudaStreamSynchronize(s->stream), "stream synchronize");
}

/* ---- caching allocator ---- */

static int size_class(size_t n, size_t *cap) {
    if (n <= 4096) {
        size_t k = (n + 511) / 512;
        if (k == 0) k = 1;
        *cap = k * 512;
        return (int)k - 1; /* classes 0..7 */
    }
    int k = 63 - __builtin_clzll((unsigned long long)(n - 1)); /* 2^k < n <= 2^(k+1), k >= 12 */
    size_t base = (size_t)1 << k, q = base / 4;
    size_t steps = (n - base + q - 1) / q; /* 1..4 */
    *cap = base + steps * q;
    int cls = 8 + (k - 12) * 4 + (int)steps - 1;
    return cls < NCLASSES ? cls : -1;
}

static void trim_dev(cuda_dev *d) {
    cudaStreamSynchronize(d->s.stream); /* cached blocks may still be read by queued work */
    for (int i = 0; i < NCLASSES; i++) {
        block_list *l = &d->cache[i];
        for (size_t j = 0; j < l->n; j++) cudaFree(l->ptrs[j]);
        l->n = 0;
    }
    d->stats.cached_bytes = 0;
}

static void *mem_alloc(vt_ctx *c, int device, size_t nbytes, size_t *capacity) {
    cuda_dev *d = dev_of(c, device);
    if (!d) return NULL;
    size_t cap;
    int cls = size_class(nbytes, &cap);
    d->stats.allocs++;
    void *p = NULL;
    if (cls >= 0 && d->cache[cls].n) {
        p = d->cache[cls].ptrs[--d->cache[cls].n];
        d->stats.cached_bytes -= cap;
        d->stats.cache_hits++;
    } else {
        if (cls < 0) cap = (nbytes + 511) & ~(size_t)511;
        cudaError_t e = cudaMalloc(&p, cap);
        if (e == cudaErrorMemoryAllocation) {
            cudaGetLastError();
            trim_dev(d);
            e = cudaMalloc(&p, cap);
        }
        if (e != cudaSuccess) {
            cudaGetLastError(); /* clear it, or the next kernel launch would report this allocation failure */
            vt_ctx_fail(c, e == cudaErrorMemoryAllocation ? VT_ENOMEM : VT_EDEVICE,
                        "cuda:%d: cannot allocate %.1f MiB (%.1f MiB live in this context): %s", device,
                        (double)cap / 1048576.0, (double)d->stats.live_bytes / 1048576.0, cudaGetErrorString(e));
            return NULL;
        }
    }
    d->stats.live_bytes += cap;
    if (d->stats.live_bytes > d->stats.peak_bytes) d->stats.peak_bytes = d->stats.live_bytes;
    *capacity = cap;
    return p;
}

static void mem_free(vt_ctx *c, int device, void *p, size_t capacity) {
    if (!p) return;
    cuda_ctx *cc = *vt_ctx_backend_slot(c, VT_DEVICE_CUDA);
    cuda_dev *d = cc && device >= 0 && device < MAX_DEVICES ? cc->dev[device] : NULL;
    if (!d) return; /* cannot happen: the block came from this device's state */
    d->stats.live_bytes -= capacity;
    size_t cap;
    int cls = size_class(capacity, &cap);
    block_list *l = cls >= 0 && cap == capacity ? &d->cache[cls] : NULL;
    if (l && l->n == l->cap) {
        size_t ncap = l->cap ? 2 * l->cap : 16;
        void **np = realloc(l->ptrs, ncap * sizeof *np);
        if (np) l->ptrs = np, l->cap = ncap;
    }
    if (!l || l->n == l->cap) {
        cudaSetDevice(device);
        cudaStreamSynchronize(d->s.stream);
        cudaFree(p);
        return;
    }
    l->ptrs[l->n++] = p;
    d->stats.cached_bytes += capacity;
}

static vt_mem_stats mem_stats(vt_ctx *c, int device) {
    vt_mem_stats z = {0};
    cuda_ctx *cc = *vt_ctx_backend_slot(c, VT_DEVICE_CUDA);
    cuda_dev *d = cc && device >= 0 && device < MAX_DEVICES ? cc->dev[device] : NULL;
    return d ? d->stats : z;
}

static void dev_destroy(cuda_dev *d) {
    if (!d) return;
    cudaSetDevice(d->s.device);
    if (d->s.stream) trim_dev(d);
    for (int i = 0; i < STAGE_SLOTS; i++) {
        if (d->stage[i].host) cudaFreeHost(d->stage[i].host);
        if (d->stage[i].done) cudaEventDestroy(d->stage[i].done);
    }
    for (int i = 0; i < NCLASSES; i++) free(d->cache[i].ptrs);
    vt_cuda_gemm_plans_free(d->s.gemm_plans);
    if (d->s.lt_workspace) cudaFree(d->s.lt_workspace);
    if (d->s.lt) cublasLtDestroy(d->s.lt);
    if (d->s.cudnn) cudnnDestroy((cudnnHandle_t)d->s.cudnn);
    if (d->s.stream) cudaStreamDestroy(d->s.stream);
    free(d);
}

static void release_state(vt_ctx *c, void *state) {
    cuda_ctx *cc = state;
    for (int i = 0; i < MAX_DEVICES; i++) dev_destroy(cc->dev[i]);
    free(cc);
}

void *vt_cuda_scratch(vt_ctx *c, size_t nbytes) {
    size_t cap;
    return mem_alloc(c, vt_ctx_current_device(c), nbytes ? nbytes : 1, &cap);
}

void vt_cuda_scratch_free(vt_ctx *c, void *p, size_t nbytes) {
    size_t cap;
    int cls = size_class(nbytes ? nbytes : 1, &cap);
    if (cls < 0) cap = ((nbytes ? nbytes : 1) + 511) & ~(size_t)511;
    mem_free(c, vt_ctx_current_device(c), p, cap);
}

/* ---- pinned staging ---- */

/* Queues dst (device) = src (host bytes) through the next pinned slot; false when staging is not possible
 * (too large, or pinned memory unavailable): the caller copies from pageable memory instead. */
static bool staged_upload(vt_ctx *c, cuda_dev *d, void *dst, const void *src, size_t n, bool *ok) {
    *ok = true;
    if (n > STAGE_MAX_BYTES) return false;
    stage_slot *sl = &d->stage[d->next_stage];
    if (sl->pending && !(*ok = vt_cuda_ok(c, cudaEventSynchronize(sl->done), "staging wait"))) return true;
    sl->pending = false;
    if (sl->bytes < n) {
        if (sl->host) cudaFreeHost(sl->host);
        sl->host = NULL;
        sl->bytes = 0;
        size_t want = n < ((size_t)1 << 20) ? ((size_t)1 << 20) : n;
        if (cudaHostAlloc(&sl->host, want, cudaHostAllocDefault) != cudaSuccess) {
            cudaGetLastError();
            sl->host = NULL;
            return false;
        }
        sl->bytes = want;
    }
    if (!sl->done && cudaEventCreateWithFlags(&sl->done, cudaEventDisableTiming) != cudaSuccess) {
        cudaGetLastError();
        return false;
    }
    memcpy(sl->host, src, n);
    *ok = vt_cuda_ok(c, cudaMemcpyAsync(dst, sl->host, n, cudaMemcpyHostToDevice, d->s.stream), "copy host -> device") &&
          vt_cuda_ok(c, cudaEventRecord(sl->done, d->s.stream), "staging event");
    sl->pending = *ok;
    d->next_stage = (d->next_stage + 1) % STAGE_SLOTS;
    return true;
}

/* ---- copies and fills ---- */

static bool on_cuda(const vt_tensor *t) { return t->device.kind == VT_DEVICE_CUDA; }

/* dst and src (equal numel) with at least one on a CUDA device. Temporaries live in a scope of their own. */
static vt_status mem_copy(vt_ctx *c, vt_tensor *dst, const vt_tensor *src) {
    if (vt_numel(dst) == 0) return VT_OK;
    vt_status st = VT_OK;
    vt_scope_push(c);
    if (on_cuda(dst) && on_cuda(src) && dst->device.index == src->device.index) {
        if (!vt_cuda_state_of(c, dst->device.index)) goto fail;
        st = vt_cuda_copy_on_device(c, dst, (vt_tensor *)src);
    } else if (on_cuda(dst) && on_cuda(src)) {
        /* between two GPUs: through the host (peer copies are an optimisation for later) */
        vt_tensor *h = vt_empty(c, src->dtype, src->ndim, src->shape);
        if (!h || mem_copy(c, h, src) != VT_OK || mem_copy(c, dst, h) != VT_OK) goto fail;
    } else if (on_cuda(dst)) {
        /* host -> device: make the host side contiguous in dst's dtype, one transfer, then scatter on device if
         * dst is strided */
        vt_cuda_state *s = vt_cuda_state_of(c, dst->device.index);
        if (!s) goto fail;
        const vt_tensor *h = src;
        if (!vt_is_contiguous(src) || src->dtype != dst->dtype) {
            vt_tensor *t = vt_empty(c, dst->dtype, src->ndim, src->shape);
            if (!t || vt_copy_(c, t, src) != VT_OK) goto fail;
            h = t;
        }
        vt_tensor *d = dst;
        if (!vt_is_contiguous(dst) && !(d = vt_empty_on(c, dst->device, dst->dtype, dst->ndim, dst->shape))) goto fail;
        bool ok;
        cuda_dev *cd = dev_of(c, dst->device.index);
        if (!cd) goto fail;
        if (!staged_upload(c, cd, d->data, h->data, vt_nbytes(d), &ok))
            /* from pageable memory the call returns once the source has been staged, so h may be freed after */
            ok = vt_cuda_ok(c, cudaMemcpyAsync(d->data, h->data, vt_nbytes(d), cudaMemcpyHostToDevice, s->stream),
                            "copy host -> device");
        if (!ok) goto fail;
        if (d != dst) st = vt_cuda_copy_on_device(c, dst, d);
    } else {
        /* device -> host: contiguous on the device first, one transfer, convert/scatter on the host */
        vt_cuda_state *s = vt_cuda_state_of(c, src->device.index);
        if (!s) goto fail;
        const vt_tensor *d = src;
        if (!vt_is_contiguous(src)) {
            vt_tensor *t = vt_empty_on(c, src->device, src->dtype, src->ndim, src->shape);
            if (!t || vt_cuda_copy_on_device(c, t, src) != VT_OK) goto fail;
            d = t;
        }
        vt_tensor *h = dst;
        if ((!vt_is_contiguous(dst) || dst->dtype != src->dtype) && !(h = vt_empty(c, src->dtype, src->ndim, src->shape)))
            goto fail;
        if (!vt_cuda_ok(c, cudaMemcpyAsync(h->data, d->data, vt_nbytes(h), cudaMemcpyDeviceToHost, s->stream),
                        "copy device -> host") ||
            !vt_cuda_ok(c, cudaStreamSynchronize(s->stream), "copy device -> host"))
            goto fail;
        if (h != dst) st = vt_copy_(c, dst, h);
    }
    vt_scope_pop(c);
    return st;
fail:
    vt_scope_pop(c);
    return vt_ctx_error(c)->code ? vt_ctx_error(c)->code : VT_EDEVICE;
}

static vt_status mem_fill(vt_ctx *c, vt_tensor *t, double value) {
    if (!vt_cuda_state_of(c, t->device.index)) return vt_ctx_error(c)->code;
    return vt_cuda_fill_on_device(c, t, value);
}

static vt_status mem_synchronize(vt_ctx *c, int device) {
    vt_cuda_state *s = vt_cuda_state_of(c, device);
    if (!s) return vt_ctx_error(c)->code;
    return vt_cuda_ok(c, cudaStreamSynchronize(s->stream), "synchronize") ? VT_OK : vt_ctx_error(c)->code;
}

const vt_mem_ops vt_cuda_mem_ops = {
    .size = sizeof(vt_mem_ops),
    .device_count = device_count,
    .alloc = mem_alloc,
    .free = mem_free,
    .copy = mem_copy,
    .fill = mem_fill,
    .synchronize = mem_synchronize,
    .release_state = release_state,
    .stats = mem_stats,
};
