/* The one place visft calls OpenBLAS: row-major SGEMM and OpenBLAS's thread count.
 *
 * visft links OpenBLAS's OpenMP build (pinned by RPATH: Debian's libopenblas.so.0 alternative usually points
 * at the pthread build), so GEMMs run on visft's own OpenMP thread pool instead of a second pool that spins
 * against it. OpenBLAS chooses its kernels itself (or from OPENBLAS_CORETYPE); visft never overrides that,
 * since some OpenBLAS releases compute wrong results with the kernels they would pick on some CPUs. */
#ifndef VISFT_CPU_BLAS_H
#define VISFT_CPU_BLAS_H

#include <stdbool.h>

/* C = alpha·op(A)·op(B) + beta·C, row-major; op = transpose when ta/tb. */
void vt_blas_sgemm(bool ta, bool tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                   int ldb, float beta, float *C, int ldc);
/* OpenBLAS's thread count is process-wide: set it only when it changes, and never inside a parallel region. */
void vt_blas_threads(int n);
/* The kernel family OpenBLAS runs ("Haswell", "SkylakeX", ...), for benchmark reports. */
const char *vt_blas_core(void);

#endif
