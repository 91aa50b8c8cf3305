/* Backend lookup. The CPU backend is always present; the CUDA backend is libvisft_cuda.so, opened on the first
 * request for a CUDA device (core/backend/cuda_loader.c); the emulated accelerator (core/backend/emu/) is in
 * every build. */
#include "backend/backend.h"
#include "tensor/internal.h"

const vt_backend *vt_backend_of(vt_device_kind kind) {
    if (kind == VT_DEVICE_CPU) return vt_cpu_backend();
    if (kind == VT_DEVICE_CUDA) return vt_cuda_backend_loaded();
    if (kind == VT_DEVICE_EMU) return vt_emu_backend();
    return NULL;
}

void **vt_ctx_backend_slot(vt_ctx *c, vt_device_kind kind) {
    return (unsigned)kind < VT_DEVICE_KINDS ? &c->backend_state[kind] : NULL;
}

int vt_ctx_current_device(const vt_ctx *c) { return c->current_device; }

const void *vt_kernels(vt_ctx *c, vt_device dev, vt_op_family fam, const char *op) {
    const vt_backend *b = vt_backend_of(dev.kind);
    if (!b) {
        vt_ctx_fail(c, VT_EUNSUPPORTED, "%s: no backend for device kind %d in this build", op, (int)dev.kind);
        return NULL;
    }
    const void *k = (unsigned)fam < VT_FAM_COUNT ? b->families[fam] : NULL;
    if (!k) vt_ctx_fail(c, VT_EUNSUPPORTED, "%s: not supported on the %s backend", op, b->name);
    c->current_device = dev.index;
    return k;
}
