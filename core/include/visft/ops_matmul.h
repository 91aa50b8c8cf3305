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

/* A linear layer with LoRA adapters on slices of its output, fused (no concat, no zero slices):
 *   y = x·wᵀ + bias;  y[..., slice s] += scaling · (x_lora·A[s]ᵀ)·B[s]ᵀ  for every s with A[s] != NULL
 * The output's last dim (w's rows) splits into n_slices equal slices (1..4): a fused qkv is 3 slices and
 * ViSFT adapts q and v. A[s] is [rank, in], B[s] is [out/n_slices, rank]. x_lora is x after the adapter's
 * dropout (pass x itself when there is none). */
vt_tensor *vt_lora_linear(vt_ctx *c, vt_tensor *x, vt_tensor *w, vt_tensor *bias, vt_tensor *x_lora, int n_slices,
                          vt_tensor *const *A, vt_tensor *const *B, double scaling);

#ifdef __cplusplus
}
#endif
#endif
