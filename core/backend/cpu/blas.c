/* Thin wrappers over OpenBLAS (see blas.h). */
#include "backend/cpu/blas.h"

#include <cblas.h>

void vt_blas_sgemm(bool ta, bool tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                   int ldb, float beta, float *C, int ldc) {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda,
                B, ldb, beta, C, ldc);
}

void vt_blas_threads(int n) {
    if (openblas_get_num_threads() != n) openblas_set_num_threads(n);
}

const char *vt_blas_core(void) { return openblas_get_corename(); }
