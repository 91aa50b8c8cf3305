/* CUDA kernels of the matmul family (ops/matmul_kernels.h) through cuBLASLt.
 *
 * visft's matrices are row-major; cuBLASLt's are column-major. A row-major M×N matrix with row stride ld is
 * the column-major N×M matrix (its transpose) with the same ld, so we compute
 *     Cᵀ (N×M) = op(B)ᵀ (N×K) · op(A)ᵀ (K×M)
 * passing B as cuBLAS's first operand and A as its second, with the transpose flags unchanged.
 *
 * Precision: f32 in and out, CUBLAS_COMPUTE_32F (true f32 FMA, no TF32), because the CPU backend is the
 * specification. Under bf16 autocast (vt_ctx_autocast) both operands are first converted to bf16 scratch copies
 * (same layout and strides, round to nearest even) and the GEMM runs on bf16 tensor cores with f32 accumulation
 * and an f32 result — what the CPU computes on bf16-rounded inputs, up to summation order.
 *
 * Descriptors, layouts and the heuristic's algorithm are cached per problem in the context's device state (see
 * "plans" below; no global state).
 *
 * Degenerate cases follow BLAS (OpenBLAS on the CPU): M, N or batch 0 does nothing; K == 0 or alpha == 0
 * only scales C by beta without reading A or B, and beta == 0 writes zeros without reading C. */
#include <cuda_bf16.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_state.h"
#include "ops/matmul_kernels.h"

#define THREADS 256

/* cuBLAS failures: an allocation failure is VT_ENOMEM, a problem no algorithm supports VT_EUNSUPPORTED,
 * anything else (rejected layout, execution failure) VT_EDEVICE. */
static vt_status lt_code(cublasStatus_t st) {
    switch (st) {
    case CUBLAS_STATUS_ALLOC_FAILED: return VT_ENOMEM;
    case CUBLAS_STATUS_NOT_SUPPORTED: return VT_EUNSUPPORTED;
    default: return VT_EDEVICE;
    }
}

static bool lt_ok(vt_ctx *c, cublasStatus_t st, const char *what) {
    if (st == CUBLAS_STATUS_SUCCESS) return true;
    vt_ctx_fail(c, lt_code(st), "cublasLt: %s: %s", what, cublasLtGetStatusString(st));
    return false;
}

/* C[b] = beta·C[b] over the M×N window of each matrix; beta == 0 writes zeros (C may hold NaN garbage). */
static __global__ void scale_kernel(float *C, int64_t M, int64_t N, int64_t ldc, int64_t stride_c, int64_t batch,
                                    float beta) {
    const int64_t per = M * N, total = per * batch;
    for (int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; t < total; t += (int64_t)gridDim.x * blockDim.x) {
        const int64_t b = t / per, r = t % per, m = r / N, n = r % N;
        float *p = C + b * stride_c + m * ldc + n;
        *p = beta == 0.0f ? 0.0f : beta * *p;
    }
}

/* The largest power of two (<= 256) dividing the address and, when they are used, the byte offsets that
 * reach the matrix's other columns (ld) and other batch entries (stride). cuBLASLt's heuristic assumes 256-byte
 * alignment unless told otherwise, and views/batch offsets are often only 4-byte aligned. */
static uint32_t alignment(const void *p, int64_t ld, bool multi_col, int64_t stride, bool batched, size_t elem) {
    uint64_t bits = (uint64_t)(uintptr_t)p | 256u;
    if (multi_col) bits |= (uint64_t)ld * elem;
    if (batched) bits |= (uint64_t)stride * elem;
    return (uint32_t)(bits & (~bits + 1));
}

/* y[i] = bf16(x[i]) over a span of n elements (the layout is kept: the same ld and batch strides apply). */
static __global__ void to_bf16_kernel(const float *x, __nv_bfloat16 *y, int64_t n) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        y[i] = __float2bfloat16_rn(x[i]);
}

/* Elements from the first to the last one a strided batch of rows x cols matrices (row stride ld) touches. */
static int64_t span_of(int64_t rows, int64_t cols, int64_t ld, int64_t stride, int64_t batch) {
    if (rows <= 0 || cols <= 0 || batch <= 0) return 0;
    return (batch - 1) * stride + (rows - 1) * ld + cols;
}

/* A column-major rows×cols f32 layout. A single column never uses ld, but cuBLASLt still wants ld >= rows
 * (a one-row visft matrix may come with any row stride). */
static cublasStatus_t make_layout(cublasLtMatrixLayout_t *l, cudaDataType_t dt, uint64_t rows, uint64_t cols,
                                  int64_t ld, int32_t batch, int64_t stride) {
    if (cols == 1 && ld < (int64_t)rows) ld = (int64_t)rows;
    cublasStatus_t st = cublasLtMatrixLayoutCreate(l, dt, rows, cols, ld);
    if (st != CUBLAS_STATUS_SUCCESS || batch == 1) return st;
    st = cublasLtMatrixLayoutSetAttribute(*l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &batch, sizeof batch);
    if (st != CUBLAS_STATUS_SUCCESS) return st;
    return cublasLtMatrixLayoutSetAttribute(*l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride, sizeof stride);
}

/* ---- plans: descriptors, layouts and the heuristic's algorithm per problem, cached per device state ----
 * A ViT step repeats a few dozen GEMM shapes thousands of times; building descriptors and asking the heuristic
 * on every call costs tens of microseconds each. The key is everything the plan depends on (shapes, strides,
 * transposes, precision, the alignments the heuristic was promised); pointers, alpha and beta are not in it. */
typedef struct gemm_key {
    int64_t M, N, K, lda, ldb, ldc, sa, sb, sc;
    int32_t batch;
    uint32_t al_a, al_b, al_c;
    uint8_t ta, tb, bf16, pad;
} gemm_key;

typedef struct gemm_plan {
    gemm_key key;
    bool used;
    cublasLtMatmulDesc_t op;
    cublasLtMatrixLayout_t la, lb, lc; /* cuBLAS's A (our B), B (our A), C = D */
    cublasLtMatmulAlgo_t algo;
} gemm_plan;

#define PLAN_SLOTS 256

typedef struct gemm_plans {
    gemm_plan slot[PLAN_SLOTS];
} gemm_plans;

static void plan_release(gemm_plan *p) {
    if (p->lc) cublasLtMatrixLayoutDestroy(p->lc);
    if (p->lb) cublasLtMatrixLayoutDestroy(p->lb);
    if (p->la) cublasLtMatrixLayoutDestroy(p->la);
    if (p->op) cublasLtMatmulDescDestroy(p->op);
    memset(p, 0, sizeof *p);
}

extern "C" void vt_cuda_gemm_plans_free(void *plans) {
    gemm_plans *g = (gemm_plans *)plans;
    if (!g) return;
    for (int i = 0; i < PLAN_SLOTS; i++)
        if (g->slot[i].used) plan_release(&g->slot[i]);
    free(g);
}

static uint32_t key_hash(const gemm_key *k) {
    const unsigned char *b = (const unsigned char *)k;
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < sizeof *k; i++) h = (h ^ b[i]) * 16777619u;
    return h;
}

/* Builds p for key k; on failure releases what was made and names the step in *what. */
static cublasStatus_t plan_build(vt_cuda_state *s, const gemm_key *k, gemm_plan *p, const char **what) {
    memset(p, 0, sizeof *p);
    p->key = *k;
    cublasLtMatmulPreference_t pref = NULL;
    cublasLtMatmulHeuristicResult_t res;
    int found = 0;
    const cublasOperation_t opa = k->tb ? CUBLAS_OP_T : CUBLAS_OP_N, opb = k->ta ? CUBLAS_OP_T : CUBLAS_OP_N;
    const uint64_t ws = s->lt_workspace ? (uint64_t)s->lt_workspace_bytes : 0;
    const cudaDataType_t in_dt = k->bf16 ? CUDA_R_16BF : CUDA_R_32F;
    const uint64_t M = (uint64_t)k->M, N = (uint64_t)k->N, K = (uint64_t)k->K;
    cublasStatus_t st;

    *what = "matmul descriptor";
    st = cublasLtMatmulDescCreate(&p->op, CUBLAS_COMPUTE_32F, CUDA_R_32F);
    if (st == CUBLAS_STATUS_SUCCESS) st = cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_TRANSA, &opa, sizeof opa);
    if (st == CUBLAS_STATUS_SUCCESS) st = cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_TRANSB, &opb, sizeof opb);
    if (st == CUBLAS_STATUS_SUCCESS) {
        *what = "matrix layout";
        /* stored B: row-major K×N (column-major N×K) or, transposed, row-major N×K (column-major K×N) */
        st = k->tb ? make_layout(&p->la, in_dt, K, N, k->ldb, k->batch, k->sb)
                   : make_layout(&p->la, in_dt, N, K, k->ldb, k->batch, k->sb);
    }
    if (st == CUBLAS_STATUS_SUCCESS) /* stored A: row-major M×K (column-major K×M) or K×M (column-major M×K) */
        st = k->ta ? make_layout(&p->lb, in_dt, M, K, k->lda, k->batch, k->sa)
                   : make_layout(&p->lb, in_dt, K, M, k->lda, k->batch, k->sa);
    if (st == CUBLAS_STATUS_SUCCESS) st = make_layout(&p->lc, CUDA_R_32F, N, M, k->ldc, k->batch, k->sc);
    if (st == CUBLAS_STATUS_SUCCESS) {
        *what = "matmul preference";
        st = cublasLtMatmulPreferenceCreate(&pref);
    }
    if (st == CUBLAS_STATUS_SUCCESS)
        st = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws);
    if (st == CUBLAS_STATUS_SUCCESS)
        st = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &k->al_a, sizeof k->al_a);
    if (st == CUBLAS_STATUS_SUCCESS)
        st = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &k->al_b, sizeof k->al_b);
    if (st == CUBLAS_STATUS_SUCCESS)
        st = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &k->al_c, sizeof k->al_c);
    if (st == CUBLAS_STATUS_SUCCESS)
        st = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &k->al_c, sizeof k->al_c);
    if (st == CUBLAS_STATUS_SUCCESS) {
        *what = "no algorithm for this problem";
        st = cublasLtMatmulAlgoGetHeuristic(s->lt, p->op, p->la, p->lb, p->lc, p->lc, pref, 1, &res, &found);
        if (st == CUBLAS_STATUS_SUCCESS && found < 1) st = CUBLAS_STATUS_NOT_SUPPORTED;
    }
    if (pref) cublasLtMatmulPreferenceDestroy(pref);
    if (st != CUBLAS_STATUS_SUCCESS) {
        plan_release(p);
        return st;
    }
    p->algo = res.algo;
    p->used = true;
    return st;
}

/* One strided-batched cuBLASLt matmul (batch <= INT_MAX, K > 0) through the state's plan cache (a plan per
 * problem, built on first use; a colliding slot is replaced). Returns the first failing status and names the
 * failing step in *what; records nothing (the caller decides whether to retry or report). */
static cublasStatus_t lt_gemm(vt_cuda_state *s, bool bf16, bool ta, bool tb, int64_t M, int64_t N, int64_t K,
                              float alpha, const void *A, int64_t lda, int64_t stride_a, const void *B, int64_t ldb,
                              int64_t stride_b, float beta, float *C, int64_t ldc, int64_t stride_c, int32_t batch,
                              const char **what) {
    const bool batched = batch > 1;
    const size_t in_elem = bf16 ? sizeof(__nv_bfloat16) : sizeof(float);
    gemm_key k;
    memset(&k, 0, sizeof k); /* padding bytes take part in the hash and the comparison */
    k.M = M, k.N = N, k.K = K, k.lda = lda, k.ldb = ldb, k.ldc = ldc;
    k.sa = batched ? stride_a : 0, k.sb = batched ? stride_b : 0, k.sc = batched ? stride_c : 0;
    k.batch = batch;
    k.al_a = alignment(B, ldb, tb ? N > 1 : K > 1, stride_b, batched, in_elem);
    k.al_b = alignment(A, lda, ta ? K > 1 : M > 1, stride_a, batched, in_elem);
    k.al_c = alignment(C, ldc, M > 1, stride_c, batched, sizeof(float));
    k.ta = ta, k.tb = tb, k.bf16 = bf16;

    gemm_plans *plans = (gemm_plans *)s->gemm_plans;
    if (!plans && (plans = (gemm_plans *)calloc(1, sizeof *plans))) s->gemm_plans = plans;
    gemm_plan local, *p = plans ? &plans->slot[key_hash(&k) % PLAN_SLOTS] : &local;
    cublasStatus_t st = CUBLAS_STATUS_SUCCESS;
    if (!plans || !p->used || memcmp(&p->key, &k, sizeof k) != 0) {
        if (plans && p->used) plan_release(p);
        if ((st = plan_build(s, &k, p, what)) != CUBLAS_STATUS_SUCCESS) return st;
    }
    const uint64_t ws = s->lt_workspace ? (uint64_t)s->lt_workspace_bytes : 0;
    *what = "matmul";
    st = cublasLtMatmul(s->lt, p->op, &alpha, B, p->la, A, p->lb, &beta, C, p->lc, C, p->lc, &p->algo,
                        ws ? s->lt_workspace : NULL, (size_t)ws, s->stream);
    if (!plans) plan_release(p); /* no cache (out of host memory): this call's plan only */
    return st;
}

static void cuda_gemm_batched(vt_ctx *c, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                              const float *A, int64_t lda, int64_t stride_a, const float *B, int64_t ldb,
                              int64_t stride_b, float beta, float *C, int64_t ldc, int64_t stride_c, int64_t batch) {
    vt_cuda_state *s = vt_cuda_current(c);
    if (!s || M <= 0 || N <= 0 || batch <= 0) return;
    if (stride_c == 0 && batch > 1) {
        /* every product lands in the same C: run them in order, as the definition reads */
        for (int64_t b = 0; b < batch && vt_ctx_ok(c); b++)
            cuda_gemm_batched(c, ta, tb, M, N, K, alpha, A + b * stride_a, lda, 0, B + b * stride_b, ldb, 0, beta, C,
                              ldc, 0, 1);
        return;
    }
    if (K <= 0 || alpha == 0.0f) {
        if (beta == 1.0f) return;
        scale_kernel<<<vt_cuda_blocks(M * N * batch, THREADS), THREADS, 0, s->stream>>>(C, M, N, ldc, stride_c, batch,
                                                                                       beta);
        vt_cuda_launched(c, "matmul (beta scale)");
        return;
    }
    /* bf16 autocast: both operands converted once (same layout) into scratch */
    const bool bf16 = vt_ctx_autocast(c) == VT_BF16;
    const size_t in_elem = bf16 ? sizeof(__nv_bfloat16) : sizeof(float);
    const void *Av = A, *Bv = B;
    void *ha = NULL, *hb = NULL;
    const int64_t na = span_of(ta ? K : M, ta ? M : K, lda, stride_a, batch);
    const int64_t nbs = span_of(tb ? N : K, tb ? K : N, ldb, stride_b, batch);
    if (bf16) {
        ha = vt_cuda_scratch(c, (size_t)na * sizeof(__nv_bfloat16));
        hb = ha ? vt_cuda_scratch(c, (size_t)nbs * sizeof(__nv_bfloat16)) : NULL;
        if (!ha || !hb) {
            if (ha) vt_cuda_scratch_free(c, ha, (size_t)na * sizeof(__nv_bfloat16));
            return;
        }
        to_bf16_kernel<<<vt_cuda_blocks(na, THREADS), THREADS, 0, s->stream>>>(A, (__nv_bfloat16 *)ha, na);
        to_bf16_kernel<<<vt_cuda_blocks(nbs, THREADS), THREADS, 0, s->stream>>>(B, (__nv_bfloat16 *)hb, nbs);
        if (!vt_cuda_launched(c, "matmul (bf16 operands)")) {
            vt_cuda_scratch_free(c, hb, (size_t)nbs * sizeof(__nv_bfloat16));
            vt_cuda_scratch_free(c, ha, (size_t)na * sizeof(__nv_bfloat16));
            return;
        }
        Av = ha, Bv = hb;
    }
    for (int64_t b0 = 0; b0 < batch; b0 += INT_MAX) { /* cuBLASLt counts the batch in an int32 */
        const int32_t nb = (int32_t)(batch - b0 < INT_MAX ? batch - b0 : INT_MAX);
        const char *Ab = (const char *)Av + b0 * stride_a * (int64_t)in_elem;
        const char *Bb = (const char *)Bv + b0 * stride_b * (int64_t)in_elem;
        float *Cb = C + b0 * stride_c;
        const char *what = "";
        cublasStatus_t st = lt_gemm(s, bf16, ta, tb, M, N, K, alpha, Ab, lda, stride_a, Bb, ldb, stride_b, beta, Cb,
                                    ldc, stride_c, nb, &what);
        if (st == CUBLAS_STATUS_NOT_SUPPORTED && nb > 1) {
            /* some strided-batch shapes (e.g. a broadcast operand with stride 0) may have no batched algorithm:
             * fall back to one matmul per batch entry */
            st = CUBLAS_STATUS_SUCCESS;
            for (int32_t b = 0; b < nb && st == CUBLAS_STATUS_SUCCESS; b++)
                st = lt_gemm(s, bf16, ta, tb, M, N, K, alpha, Ab + b * stride_a * (int64_t)in_elem, lda, 0,
                             Bb + b * stride_b * (int64_t)in_elem, ldb, 0, beta, Cb + b * stride_c, ldc, 0, 1, &what);
        }
        if (!lt_ok(c, st, what)) break;
    }
    /* stream-ordered: the scratch is reused only by work queued after these GEMMs */
    if (hb) vt_cuda_scratch_free(c, hb, (size_t)nbs * sizeof(__nv_bfloat16));
    if (ha) vt_cuda_scratch_free(c, ha, (size_t)na * sizeof(__nv_bfloat16));
}

extern "C" const vt_matmul_kernels vt_cuda_matmul_kernels = {
    sizeof(vt_matmul_kernels),
    cuda_gemm_batched,
};
