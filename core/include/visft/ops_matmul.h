/* Matrix products through the backend's GEMM (OpenBLAS on CPU). Transposed views (vt_transpose of the last
 * two dims) are passed to the GEMM as transposes, never copied. */
#ifndef VISFT_OPS_MATMUL_H
#define VISFT_OPS_MATMUL_H

#include "visft/context.h"
#include "visft/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* a [..., M, K] @ b [..., K, N] -> [..., M, N]; batch dims broadcast; 1-d b is treated as [K, 1] and squeezed. */
vt_tensor *vt_matmul(vt_ctx *c, vt_tensor *a, vt_tensor *b);
/* a [B, M, K] @ b [B, K, N] */
vt_tensor *vt_bmm(vt_ctx *c, vt_tensor *a, vt_tensor *b);
/* x [..., in] · wᵀ (w [out, in]) + bias [out] (bias may be NULL) -> [..., out]. */
vt_tensor *vt_linear(vt_ctx *c, vt_tensor *x, vt_tensor *w, vt_tensor *bias);

#ifdef __cplusplus
}
#endif
#endif
