/* CPU GEMM through OpenBLAS. Small batched products (attention-sized) are spread over threads with one
 * single-threaded GEMM each; large ones let OpenBLAS thread inside the GEMM. */

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

static void cpu_gemm_batched(vt_ctx *c, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                             const float *A, int64_t lda, int64_t stride_a, const float *B, int64_t ldb,
                             int64_t stride_b, float beta, float *C, int64_t ldc, int64_t stride_c, int64_t batch) {
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
