/* CPU kernels of scaled dot-product attention, FlashAttention-2 style.
 *
 * Forward: a work item is one block of BQ query rows of one (batch, head). It walks the keys in blocks of
 * BK: S = scale·Q·Kᵀ (+ mask) into a BQ×BK tile, an online softmax keeps each row's running max m and sum l
 * (rescaling the partial output when the max grows), and O += P·V. Only O and lse = m + log l are kept; the
 * Lq×Lk score matrix never exists.
 *
 * Backward recomputes P = exp(S − lse) tile by tile, with delta = rowsum(dO ∘ O):
 *     dV += Pᵀ·dO,  dP = dO·Vᵀ,  dS = P ∘ (dP − delta),  dQ += dS·K·scale,  dK += dSᵀ·Q·scale.
 * Each dK/dV key block and each dQ query block is accumulated by one thread in ascending block order, so
 * results do not depend on the thread count. With many heads a work item is a whole head (five GEMMs per
 * tile); with few, key blocks (dK, dV) and query blocks (dQ) are separate items (seven GEMMs per tile, every
 * thread busy). Both schedules do the same float operations on the same tiles, so they agree bitwise.
 *
 * The GEMMs are single-threaded OpenBLAS calls inside the OpenMP region (as matmul_cpu.c does for small
 * batched products); the softmax loops vectorise through vmath.h's vt_expf. */
#include <math.h>
#include <string.h>

#include "backend/cpu/vmath.h"
#include "backend/cpu/blas.h"
#include "ops/attention_kernels.h"
#include "ops/reduce_row.h"

/* Tile sizes: a 128×128 f32 tile is 64 KiB; forward keeps one on the stack, backward two (S and dP). 128 rows
 * amortise the GEMM packing best on ViT/EVA sizes (L = 197/257), and a 197-token head needs two key tiles. */
#define BQ 128
#define BK 128
#define PAR_FLOPS 2e5 /* smaller problems run on one thread */

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* OpenBLAS's thread count is process-wide: set it before (never inside) the parallel region. */
static void blas_single_thread(void) { vt_blas_threads(1); }

static inline void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                        const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    vt_blas_sgemm(ta, tb, (int)M, (int)N, (int)K, alpha, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
}

static inline const float *q_row(const vt_sdpa_args *a, int64_t bh, int64_t i) {
    return a->q + (bh / a->H) * a->qs[0] + (bh % a->H) * a->qs[1] + i * a->qs[2];
}
static inline const float *k_row(const vt_sdpa_args *a, int64_t bh, int64_t j) {
    return a->k + (bh / a->H) * a->ks[0] + (bh % a->H) * a->ks[1] + j * a->ks[2];
}
static inline const float *v_row(const vt_sdpa_args *a, int64_t bh, int64_t j) {
    return a->v + (bh / a->H) * a->vs[0] + (bh % a->H) * a->vs[1] + j * a->vs[2];
}

/* Keys visible to some row of [q0, q0+mq) lie in [0, key_end). Tiles always span [k0, min(k0+BK, Lk)) so
 * that every schedule computes identical tiles; causal masking handles the overhang. */
static inline int64_t key_end(const vt_sdpa_args *a, int64_t q0, int64_t mq) {
    return a->causal ? min64(a->Lk, q0 + mq) : a->Lk;
}

/* S[i][j] = scale·q·k + mask, or -inf where masked out, for query rows q0.. (mq) and keys k0.. (nk). */
static void tile_scores(const vt_sdpa_args *a, int64_t bh, int64_t q0, int64_t mq, int64_t k0, int64_t nk, float *S) {
    gemm(false, true, mq, nk, a->D, a->scale, q_row(a, bh, q0), a->qs[2], k_row(a, bh, k0), a->ks[2], 0.0f, S, BK);
    if (a->mask_kind != VT_SDPA_MASK_NONE) {
        const int64_t s2 = a->ms[2], s3 = a->ms[3];
        const int64_t base = (bh / a->H) * a->ms[0] + (bh % a->H) * a->ms[1] + q0 * s2 + k0 * s3;
        for (int64_t i = 0; i < mq; i++) {
            float *s = S + i * BK;
            if (a->mask_kind == VT_SDPA_MASK_ADD) {
                const float *m = (const float *)a->mask + base + i * s2;
#pragma omp simd
                for (int64_t j = 0; j < nk; j++) s[j] += m[j * s3];
            } else {
                const uint8_t *m = (const uint8_t *)a->mask + base + i * s2;
#pragma omp simd
                for (int64_t j = 0; j < nk; j++) s[j] = m[j * s3] ? s[j] : -INFINITY;
            }
        }
    }
    if (a->causal && k0 + nk - 1 > q0)
        for (int64_t i = 0; i < mq; i++) {
            int64_t first = q0 + i + 1 - k0;
            for (int64_t j = first < 0 ? 0 : first; j < nk; j++) S[i * BK + j] = -INFINITY;
        }
}

/* Output rows q0.. of head bh (and their lse) by online softmax over key tiles. */
static void forward_block(const vt_sdpa_args *a, int64_t bh, int64_t q0, float *out, float *lse, float *S) {
    const int64_t mq = min64(BQ, a->Lq - q0), Dv = a->Dv;
    float m[BQ], l[BQ];
    float *O = out + (bh * a->Lq + q0) * Dv;
    memset(O, 0, sizeof(float) * (size_t)(mq * Dv));
    for (int64_t i = 0; i < mq; i++) {
        m[i] = -INFINITY;
        l[i] = 0.0f;
    }
    const int64_t kend = key_end(a, q0, mq);
    for (int64_t k0 = 0; k0 < kend; k0 += BK) {
        const int64_t nk = min64(BK, a->Lk - k0);
        tile_scores(a, bh, q0, mq, k0, nk, S);
        for (int64_t i = 0; i < mq; i++) {
            float *s = S + i * BK;
            const float mx = vt_row_max(s, nk);
            const float mnew = mx > m[i] ? mx : m[i];
            /* With no visible key yet, subtract 0: masked scores give exp(-inf) = 0, NaN scores stay NaN. */
            const float mref = mnew == -INFINITY ? 0.0f : mnew;
            float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
            for (int64_t j = 0; j < nk; j++) {
                float p = vt_expf(s[j] - mref);
                s[j] = p;
                sum += p;
            }
            const float alpha = vt_expf(m[i] - mref); /* 0 until a key was visible */
            if (l[i] != 0.0f && alpha != 1.0f) {
                float *o = O + i * Dv;
#pragma omp simd
                for (int64_t d = 0; d < Dv; d++) o[d] *= alpha;
            }
            l[i] = l[i] * alpha + sum;
            m[i] = mnew;
        }
        gemm(false, false, mq, Dv, nk, 1.0f, S, BK, v_row(a, bh, k0), a->vs[2], 1.0f, O, Dv);
    }
    for (int64_t i = 0; i < mq; i++) {
        if (l[i] > 0.0f) { /* a row with no visible key keeps its zeros (a NaN row its NaNs) */
            const float r = 1.0f / l[i];
            float *o = O + i * Dv;
#pragma omp simd
            for (int64_t d = 0; d < Dv; d++) o[d] *= r;
        }
        /* +inf: the backward's exp(s - lse) is then 0 for such a row, where log 0 = -inf would give NaN */
        if (lse) lse[bh * a->Lq + q0 + i] = l[i] > 0.0f ? m[i] + logf(l[i]) : INFINITY;
    }
}

static void cpu_sdpa_forward(vt_ctx *c, const vt_sdpa_args *a, float *out, float *lse) {
    const int64_t nqb = (a->Lq + BQ - 1) / BQ, items = a->B * a->H * nqb;
    const double flops = 2.0 * (double)(a->B * a->H) * (double)a->Lq * (double)a->Lk * (double)(a->D + a->Dv);
    const int nt = vt_ctx_threads(c);
    blas_single_thread();
#pragma omp parallel num_threads(nt) if (nt > 1 && items > 1 && flops > PAR_FLOPS)
    {
        _Alignas(64) float S[BQ * BK];
#pragma omp for schedule(dynamic)
        for (int64_t it = 0; it < items; it++) forward_block(a, it / nqb, (it % nqb) * BQ, out, lse, S);
    }
}

/* ---- backward ---- */

typedef struct bwd_io {
    const float *lse, *delta, *gout;
    float *dq, *dk, *dv, *dmask;
} bwd_io;

enum { BW_KV = 1, BW_Q = 2 }; /* which gradients a tile contributes to */

/* One (query block, key block) tile. P overwrites S, dS overwrites dP. */
static void backward_tile(const vt_sdpa_args *a, const bwd_io *io, int what, int64_t bh, int64_t q0, int64_t k0,
                          float *S, float *dP) {
    const int64_t mq = min64(BQ, a->Lq - q0), nk = min64(BK, a->Lk - k0), D = a->D, Dv = a->Dv;
    tile_scores(a, bh, q0, mq, k0, nk, S);
    const float *lse = io->lse + bh * a->Lq + q0, *delta = io->delta + bh * a->Lq + q0;
    for (int64_t i = 0; i < mq; i++) {
        float *s = S + i * BK;
        const float li = lse[i];
#pragma omp simd
        for (int64_t j = 0; j < nk; j++) s[j] = vt_expf(s[j] - li);
    }
    const float *dO = io->gout + (bh * a->Lq + q0) * Dv;
    const bool kv = (what & BW_KV) != 0, dq = (what & BW_Q) && io->dq;
    if (kv && io->dv) gemm(true, false, nk, Dv, mq, 1.0f, S, BK, dO, Dv, 1.0f, io->dv + (bh * a->Lk + k0) * Dv, Dv);
    if (!dq && !(kv && (io->dk || io->dmask))) return;
    gemm(false, true, mq, nk, Dv, 1.0f, dO, Dv, v_row(a, bh, k0), a->vs[2], 0.0f, dP, BK);
    for (int64_t i = 0; i < mq; i++) {
        float *ds = dP + i * BK;
        const float *p = S + i * BK, di = delta[i];
#pragma omp simd
        for (int64_t j = 0; j < nk; j++) ds[j] = p[j] * (ds[j] - di);
    }
    if (kv && io->dmask)
        for (int64_t i = 0; i < mq; i++)
            memcpy(io->dmask + (bh * a->Lq + q0 + i) * a->Lk + k0, dP + i * BK, sizeof(float) * (size_t)nk);
    if (kv && io->dk)
        gemm(true, false, nk, D, mq, a->scale, dP, BK, q_row(a, bh, q0), a->qs[2], 1.0f, io->dk + (bh * a->Lk + k0) * D,
             D);
    if (dq)
        gemm(false, false, mq, D, nk, a->scale, dP, BK, k_row(a, bh, k0), a->ks[2], 1.0f, io->dq + (bh * a->Lq + q0) * D,
             D);
}

/* dK, dV (and with BW_Q also dQ contributions) of key block k0, over the query blocks that see it. */
static void backward_key_block(const vt_sdpa_args *a, const bwd_io *io, int what, int64_t bh, int64_t k0, float *S,
                               float *dP) {
    const int64_t nk = min64(BK, a->Lk - k0);
    if (io->dk) memset(io->dk + (bh * a->Lk + k0) * a->D, 0, sizeof(float) * (size_t)(nk * a->D));
    if (io->dv) memset(io->dv + (bh * a->Lk + k0) * a->Dv, 0, sizeof(float) * (size_t)(nk * a->Dv));
    /* causal: a query block sees this key block only if its last row is >= k0 (as key_end decides) */
    for (int64_t q0 = a->causal ? k0 / BQ * BQ : 0; q0 < a->Lq; q0 += BQ)
        if (!a->causal || q0 + min64(BQ, a->Lq - q0) > k0) backward_tile(a, io, what, bh, q0, k0, S, dP);
}

static void backward_query_block(const vt_sdpa_args *a, const bwd_io *io, int64_t bh, int64_t q0, float *S, float *dP) {
    const int64_t mq = min64(BQ, a->Lq - q0), kend = key_end(a, q0, mq);
    memset(io->dq + (bh * a->Lq + q0) * a->D, 0, sizeof(float) * (size_t)(mq * a->D));
    for (int64_t k0 = 0; k0 < kend; k0 += BK) backward_tile(a, io, BW_Q, bh, q0, k0, S, dP);
}

static void backward_head(const vt_sdpa_args *a, const bwd_io *io, int64_t bh, float *S, float *dP) {
    if (io->dq) memset(io->dq + bh * a->Lq * a->D, 0, sizeof(float) * (size_t)(a->Lq * a->D));
    for (int64_t k0 = 0; k0 < a->Lk; k0 += BK) backward_key_block(a, io, BW_KV | BW_Q, bh, k0, S, dP);
}

static void cpu_sdpa_backward(vt_ctx *c, const vt_sdpa_args *a, const float *out, const float *lse, const float *gout,
                              float *delta, float *dq, float *dk, float *dv, float *dmask) {
    const int64_t BH = a->B * a->H, rows = BH * a->Lq, Dv = a->Dv;
    const int64_t nqb = (a->Lq + BQ - 1) / BQ, nkb = (a->Lk + BK - 1) / BK;
    const double flops = 2.0 * (double)BH * (double)a->Lq * (double)a->Lk * (double)(a->D + a->Dv);
    const int nt = vt_ctx_threads(c);
    const bool par = nt > 1 && flops > PAR_FLOPS;
    const bool per_head = nt == 1 || BH >= 4 * nt; /* enough heads to balance the threads */
    const bool want_kv = dk || dv || dmask;
    const bwd_io io = {lse, delta, gout, dq, dk, dv, dmask};
    blas_single_thread();
#pragma omp parallel num_threads(nt) if (par)
    {
#pragma omp for schedule(static)
        for (int64_t r = 0; r < rows; r++) delta[r] = vt_row_dot(out + r * Dv, gout + r * Dv, Dv);
        _Alignas(64) float S[BQ * BK];
        _Alignas(64) float dP[BQ * BK];
        if (per_head) {
#pragma omp for schedule(dynamic)
            for (int64_t bh = 0; bh < BH; bh++) backward_head(a, &io, bh, S, dP);
        } else {
            if (want_kv) {
#pragma omp for schedule(dynamic) nowait
                for (int64_t it = 0; it < BH * nkb; it++)
                    backward_key_block(a, &io, BW_KV, it / nkb, (it % nkb) * BK, S, dP);
            }
            if (dq) {
#pragma omp for schedule(dynamic)
                for (int64_t it = 0; it < BH * nqb; it++) backward_query_block(a, &io, it / nqb, (it % nqb) * BQ, S, dP);
            }
        }
    }
}

const vt_attention_kernels vt_cpu_attention_kernels = {
    .size = sizeof(vt_attention_kernels),
    .sdpa_forward = cpu_sdpa_forward,
    .sdpa_backward = cpu_sdpa_backward,
};
