/* Backend lookup. Only the CPU backend exists in a CPU-only build; the CUDA backend registers itself in
 * builds with VISFT_CUDA. */
#include "backend/backend.h"

const void *vt_kernels(vt_ctx *c, vt_device dev, vt_op_family fam, const char *op) {
    const vt_backend *b = NULL;
    if (dev.kind == VT_DEVICE_CPU) b = vt_cpu_backend();
    if (!b) {
        vt_ctx_fail(c, VT_EUNSUPPORTED, "%s: no backend for device kind %d in this build", op, (int)dev.kind);
        return NULL;
    }
    const void *k = (unsigned)fam < VT_FAM_COUNT ? b->families[fam] : NULL;
    if (!k) vt_ctx_fail(c, VT_EUNSUPPORTED, "%s: not supported on the %s backend", op, b->name);
    return k;
}
