/* The CPU backend: OpenBLAS GEMMs and OpenMP-parallel, vectorisable loops. It is the reference semantics
 * every other backend is tested against. Each family's kernels live beside their op in core/ops/ and are
 * declared weak here, so a family that is not linked in is reported as unsupported rather than failing the
 * link. */
#include "backend/backend.h"

extern const char vt_cpu_elementwise_kernels[] __attribute__((weak));
extern const char vt_cpu_matmul_kernels[] __attribute__((weak));
extern const char vt_cpu_reduce_kernels[] __attribute__((weak));
extern const char vt_cpu_norm_kernels[] __attribute__((weak));
extern const char vt_cpu_index_kernels[] __attribute__((weak));
extern const char vt_cpu_conv_kernels[] __attribute__((weak));
extern const char vt_cpu_resample_kernels[] __attribute__((weak));
extern const char vt_cpu_attention_kernels[] __attribute__((weak));
extern const char vt_cpu_loss_kernels[] __attribute__((weak));
extern const char vt_cpu_random_kernels[] __attribute__((weak));
extern const char vt_cpu_optim_kernels[] __attribute__((weak));

const vt_backend *vt_cpu_backend(void) {
    static const vt_backend cpu = {
        .size = sizeof(vt_backend),
        .name = "cpu",
        .kind = VT_DEVICE_CPU,
        .families = {
            [VT_FAM_ELEMENTWISE] = vt_cpu_elementwise_kernels,
            [VT_FAM_MATMUL] = vt_cpu_matmul_kernels,
            [VT_FAM_REDUCE] = vt_cpu_reduce_kernels,
            [VT_FAM_NORM] = vt_cpu_norm_kernels,
            [VT_FAM_INDEX] = vt_cpu_index_kernels,
            [VT_FAM_CONV] = vt_cpu_conv_kernels,
            [VT_FAM_RESAMPLE] = vt_cpu_resample_kernels,
            [VT_FAM_ATTENTION] = vt_cpu_attention_kernels,
            [VT_FAM_LOSS] = vt_cpu_loss_kernels,
            [VT_FAM_RANDOM] = vt_cpu_random_kernels,
            [VT_FAM_OPTIM] = vt_cpu_optim_kernels,
        },
    };
    return &cpu;
}
