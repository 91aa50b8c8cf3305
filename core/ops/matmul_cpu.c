/* CPU GEMM through OpenBLAS. Small batched products (attention-sized) are spread over threads with one
 * single-threaded GEMM each; large ones let OpenBLAS thread inside the GEMM.
 *
 * Under bf16 autocast (vt_ctx_set_autocast) both input matrices are first rounded to bf16 (round to nearest
 * even) in scratch copies and the f32 GEMM runs on those: the product of two bf16 values is exact in f32, so this
 * is what a bf16 tensor-core GEMM with f32 accumulation computes, up to summation order. */
#include <stdlib.h>

#include "backend/cpu/blas.h"
#include "ops/matmul_kernels.h"

static void gemm_batched(vt_ctx *c, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                         int64_t lda, int64_t stride_a, const float *B, int64_t ldb, int64_t stride_b, float beta,
                         float *C, int64_t ldc, int64_t stride_c, int64_t batch) {
    int nt = vt_ctx_threads(c);
    double flops = 2.0 * (double)M * (double)N * (double)K;
    if (batch > 1 && flops < 4e6 && nt > 1) {
        vt_blas_threads(1);
#pragma omp parallel for num_threads(nt) schedule(static)
        for (int64_t b = 0; b < batch; b++)
            vt_blas_sgemm(ta, tb, (int)M, (int)N, (int)K, alpha, A + b * stride_a, (int)lda, B + b * stride_b, (int)ldb, beta, C + b * stride_c,
                        (int)ldc);
        return;
    }
    vt_blas_threads(flops < 2e5 ? 1 : nt);
    for (int64_t b = 0; b < batch; b++)
        vt_blas_sgemm(ta, tb, (int)M, (int)N, (int)K, alpha, A + b * stride_a, (int)lda, B + b * stride_b, (int)ldb, beta, C + b * stride_c,
                    (int)ldc);
}

/* Elements from the first to the last one a strided batch of rows x cols matrices (row stride ld) touches. */
static int64_t span_of(int64_t rows, int64_t cols, int64_t ld, int64_t stride, int64_t batch) {
    if (rows <= 0 || cols <= 0 || batch <= 0) return 0;
    return (batch - 1) * stride + (rows - 1) * ld + cols;
}

/* A copy of n floats rounded to bf16 precision (NULL when out of memory). */
static float *bf16_rounded(vt_ctx *c, const float *x, int64_t n) {
    float *y = malloc((size_t)(n > 0 ? n : 1) * sizeof *y);
    if (!y) return NULL;
#pragma omp parallel for num_threads(vt_ctx_threads(c)) if (n > 65536)
    for (int64_t i = 0; i < n; i++) y[i] = vt_bf16_to_f32(vt_f32_to_bf16(x[i]));
    return y;
}

static void autocast_gemm(vt_ctx *c, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                          int64_t lda, int64_t stride_a, const float *B, int64_t ldb, int64_t stride_b, float beta,
                          float *C, int64_t ldc, int64_t stride_c, int64_t batch) {
    int64_t na = span_of(ta ? K : M, ta ? M : K, lda, stride_a, batch);
    int64_t nb = span_of(tb ? N : K, tb ? K : N, ldb, stride_b, batch);
    float *ra = bf16_rounded(c, A, na), *rb = bf16_rounded(c, B, nb);
    if (!ra || !rb) {
        vt_ctx_fail(c, VT_ENOMEM, "matmul (bf16 autocast): out of memory for rounded inputs");
    } else {
        gemm_batched(c, ta, tb, M, N, K, alpha, ra, lda, stride_a, rb, ldb, stride_b, beta, C, ldc, stride_c, batch);
    }
    free(ra);
    free(rb);
}

static void cpu_gemm_batched(vt_ctx *c, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                             const float *A, int64_t lda, int64_t stride_a, const float *B, int64_t ldb,
                             int64_t stride_b, float beta, float *C, int64_t ldc, int64_t stride_c, int64_t batch) {
    if (vt_ctx_autocast(c) == VT_BF16 && M > 0 && N > 0 && K > 0 && batch > 0) {
        autocast_gemm(c, ta, tb, M, N, K, alpha, A, lda, stride_a, B, ldb, stride_b, beta, C, ldc, stride_c, batch);
        return;
    }
    if (!vt_ctx_profiling(c)) {
        gemm_batched(c, ta, tb, M, N, K, alpha, A, lda, stride_a, B, ldb, stride_b, beta, C, ldc, stride_c, batch);
        return;
    }
    double t0 = vt_now();
    gemm_batched(c, ta, tb, M, N, K, alpha, A, lda, stride_a, B, ldb, stride_b, beta, C, ldc, stride_c, batch);
    vt_ctx_profile_add(c, VT_FAM_MATMUL, vt_now() - t0, 2.0 * (double)M * (double)N * (double)K * (double)batch);
}

const vt_matmul_kernels vt_cpu_matmul_kernels = {
    .size = sizeof(vt_matmul_kernels),
    .gemm_batched = cpu_gemm_batched,
};
