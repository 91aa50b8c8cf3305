/* Device-side strided copy with dtype conversion, and fill (kernels/cuda/copy.cu). Both tensors of a copy
 * are on the context's current CUDA device and have the same number of elements. */
#ifndef VISFT_KERNELS_CUDA_COPY_H
#define VISFT_KERNELS_CUDA_COPY_H

#include "cuda_state.h"
#include "visft/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

vt_status vt_cuda_copy_on_device(vt_ctx *c, vt_tensor *dst, const vt_tensor *src);
vt_status vt_cuda_fill_on_device(vt_ctx *c, vt_tensor *t, double value);

#ifdef __cplusplus
}
#endif
#endif
