/* The CUDA backend: its kernel tables (one kernels/cuda/<family>.cu each) and its memory operations
 * (cuda_runtime.c). Tables are weak references, like the CPU backend's, so a family without CUDA kernels is
 * reported as unsupported on CUDA instead of failing the link. */
#include "backend/backend.h"

extern const vt_mem_ops vt_cuda_mem_ops;

extern const char vt_cuda_elementwise_kernels[] __attribute__((weak));
extern const char vt_cuda_matmul_kernels[] __attribute__((weak));
extern const char vt_cuda_reduce_kernels[] __attribute__((weak));
extern const char vt_cuda_norm_kernels[] __attribute__((weak));
extern const char vt_cuda_index_kernels[] __attribute__((weak));
extern const char vt_cuda_conv_kernels[] __attribute__((weak));
extern const char vt_cuda_resample_kernels[] __attribute__((weak));
extern const char vt_cuda_attention_kernels[] __attribute__((weak));
extern const char vt_cuda_loss_kernels[] __attribute__((weak));
extern const char vt_cuda_random_kernels[] __attribute__((weak));
extern const char vt_cuda_optim_kernels[] __attribute__((weak));

const vt_backend *vt_cuda_backend(void);

const vt_backend *vt_cuda_backend(void) {
    static const vt_backend cuda = {
        .size = sizeof(vt_backend),
        .name = "cuda",
        .kind = VT_DEVICE_CUDA,
        .families = {
            [VT_FAM_ELEMENTWISE] = vt_cuda_elementwise_kernels,
            [VT_FAM_MATMUL] = vt_cuda_matmul_kernels,
            [VT_FAM_REDUCE] = vt_cuda_reduce_kernels,
            [VT_FAM_NORM] = vt_cuda_norm_kernels,
            [VT_FAM_INDEX] = vt_cuda_index_kernels,
            [VT_FAM_CONV] = vt_cuda_conv_kernels,
            [VT_FAM_RESAMPLE] = vt_cuda_resample_kernels,
            [VT_FAM_ATTENTION] = vt_cuda_attention_kernels,
            [VT_FAM_LOSS] = vt_cuda_loss_kernels,
            [VT_FAM_RANDOM] = vt_cuda_random_kernels,
            [VT_FAM_OPTIM] = vt_cuda_optim_kernels,
        },
        .mem = &vt_cuda_mem_ops,
    };
    return &cuda;
}
