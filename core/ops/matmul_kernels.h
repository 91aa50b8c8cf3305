/* Kernel table of the matmul family. */
#ifndef VISFT_CORE_MATMUL_KERNELS_H
#define VISFT_CORE_MATMUL_KERNELS_H

#include <stdbool.h>

#include "backend/backend.h"

typedef struct vt_matmul_kernels {
    size_t size;
    /* Row-major C[M,N] = alpha·op(A)·op(B) + beta·C, op = transpose when ta/tb; lda/ldb/ldc are row strides.
     * Repeated `batch` times with the given element strides between matrices (0 broadcasts). */
    void (*gemm_batched)(vt_ctx *c, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                         int64_t lda, int64_t stride_a, const float *B, int64_t ldb, int64_t stride_b, float beta,
                         float *C, int64_t ldc, int64_t stride_c, int64_t batch);
} vt_matmul_kernels;

#endif
