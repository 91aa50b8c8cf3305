/* The CUDA backend lives in its own library, libvisft_cuda.so (kernels/), beside libvisft. It is opened on
 * the first request for a CUDA device, so a process that never asks for one does not load the CUDA runtime,
 * cuBLASLt, cuDNN or NCCL (about 200 MiB of resident memory at startup when linked directly). The handle is a
 * process-wide, load-once cache of a shared library, like the dynamic loader's own; no device state lives
 * here. */
#define _GNU_SOURCE /* dladdr */
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"

#define CUDA_LIB "libvisft_cuda.so"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static void *handle;
static const vt_backend *backend;
static char why[512] = "this build has no CUDA backend (configure with -DVISFT_CUDA=ON)";

static void load(void) {
    /* beside this libvisft first (build tree and install prefix alike), then the loader's search path */
    char path[PATH_MAX] = CUDA_LIB;
    Dl_info di;
    if (dladdr((void *)&vt_backend_of, &di) && di.dli_fname) {
        const char *slash = strrchr(di.dli_fname, '/');
        if (slash) snprintf(path, sizeof path, "%.*s/%s", (int)(slash - di.dli_fname), di.dli_fname, CUDA_LIB);
    }
    handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!handle && strcmp(path, CUDA_LIB)) handle = dlopen(CUDA_LIB, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        const char *e = dlerror();
        /* a missing library means a CPU-only build; anything else (a missing CUDA runtime) is worth showing */
        if (e && !strstr(e, "No such file")) snprintf(why, sizeof why, "the CUDA backend cannot be loaded: %s", e);
        return;
    }
    const vt_backend *(*get)(void) = (const vt_backend *(*)(void))dlsym(handle, "vt_cuda_backend");
    if (!get) {
        snprintf(why, sizeof why, "%s has no vt_cuda_backend", path);
        return;
    }
    backend = get();
}

const vt_backend *vt_cuda_backend_loaded(void) {
    pthread_once(&once, load);
    return backend;
}

const char *vt_cuda_backend_unavailable_reason(void) {
    pthread_once(&once, load);
    return backend ? NULL : why;
}

void *vt_cuda_backend_symbol(const char *name) {
    pthread_once(&once, load);
    return backend && handle ? dlsym(handle, name) : NULL;
}
