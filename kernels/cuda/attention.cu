/* CUDA kernels of scaled dot-product attention (ops/attention_kernels.h), FlashAttention-2 style, in f32.
 * The semantics are attention_cpu.c's; only the tile sizes and the summation order differ.
 *
 * Thread layout shared by every kernel: 256 threads, a "row group" of 8 consecutive lanes per tile row
 * (row = tid / 8, lane8 = tid % 8), so a row's reductions are 8-lane shuffles inside one warp. In a score
 * tile, lane8 owns columns lane8 + 8·j; in an output/gradient row it owns dims lane8 + 8·j (NV registers,
 * NV·8 >= the dims of the chunk). Head dims above 128 are split in chunks of 128 over gridDim.y, each chunk
 * recomputing the scores (shared memory grows with D; sizes the device cannot hold fail VT_EUNSUPPORTED).
 *
 * Forward: one block per (b·h, tile of FBQ queries, Dv chunk). Q stays in shared memory; for each tile of FBK
 * keys, S = scale·Q·Kᵀ (+ mask, causal), online softmax exactly as attention_cpu.c's forward_block (running
 * max m ignoring NaN, sum l, reference 0 while no key is visible, rescale only when l != 0 and alpha != 1),
 * O += P·V. A row with no visible key keeps O = 0 (NaN stays NaN) and lse = +inf.
 *
 * Backward: delta = rowsum(dO ∘ O) (one warp per row); then
 *   dK/dV pass: one block per (b·h, tile of BKB keys, dim chunk) loops over every query tile in ascending
 *     order, recomputing P = exp(S − lse), dP = dO·Vᵀ, dS = P ∘ (dP − delta), and accumulates
 *     dV += Pᵀ·dO, dK += dSᵀ·Q (× scale at the end) in registers; it also writes dmask = dS;
 *   dQ pass: one block per (b·h, tile of BQB queries, dim chunk) loops over the key tiles: dQ += dS·K·scale.
 * Every output element is summed by one thread in a fixed order: deterministic, no atomics.
 * dmask: every element is written. Under causal masking a (query tile, key tile) pair lying entirely above
 * the diagonal is not computed and its dmask is 0 (the CPU kernel leaves those elements unwritten). */
#include <math.h>
#include <stdint.h>

#include "cuda_state.h"
#include "ops/attention_kernels.h"

#define THREADS 256
#define ROWS (THREADS / 8) /* 32 tile rows per block */
#define CHUNK 128          /* head dims per block (gridDim.y splits larger ones) */
#define FBQ ROWS           /* forward: queries per block */
#define FBK 64             /* forward: keys per tile (8 per lane) */
#define BQB ROWS           /* backward: queries per tile */
#define BKB ROWS           /* backward: keys per tile (4 per lane) */
#define FSS (FBK + 8)      /* row stride of the forward P tile: 8·row + col hits distinct banks */
#define BSS (BKB + 8)      /* same for the backward P/dS tiles */
#define FULL 0xffffffffu

static __host__ __device__ __forceinline__ int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
/* An odd row stride: the 4 rows (or 8 columns) a warp reads at one dim fall in distinct banks. */
static inline int odd_stride(int64_t d) { return (int)(d | 1); }

namespace {
/* One (batch, head): its q/k/v base pointers and mask offset, computed once per block (64-bit divisions). */
struct head_base {
    const float *q, *k, *v;
    int64_t m;
};
} // namespace
static __device__ __forceinline__ head_base head_of(const vt_sdpa_args &a, int64_t bh) {
    const int64_t b = bh / a.H, h = bh % a.H;
    head_base hb;
    hb.q = a.q + b * a.qs[0] + h * a.qs[1];
    hb.k = a.k + b * a.ks[0] + h * a.ks[1];
    hb.v = a.v + b * a.vs[0] + h * a.vs[1];
    hb.m = b * a.ms[0] + h * a.ms[1];
    return hb;
}

/* attention_cpu.c's tile_scores for one element: scale·dot, + additive mask / -inf where not kept, then
 * -inf above the causal diagonal. __fmul_rn keeps nvcc from fusing the scale into the mask add. */
static __device__ __forceinline__ float score(const vt_sdpa_args &a, const head_base &hb, int64_t i, int64_t j,
                                              float dot) {
    float s = __fmul_rn(a.scale, dot);
    if (a.mask_kind != VT_SDPA_MASK_NONE) {
        const int64_t m = hb.m + i * a.ms[2] + j * a.ms[3];
        if (a.mask_kind == VT_SDPA_MASK_ADD)
            s += ((const float *)a.mask)[m];
        else
            s = ((const uint8_t *)a.mask)[m] ? s : -INFINITY;
    }
    if (a.causal && j > i) s = -INFINITY;
    return s;
}

/* Rows [r0, r0+nrows) (row stride `ld`, elements [col0, col0+width)) of an operand into a [nrows][stride]
 * shared tile; rows past `valid` are zero. One warp per row, lanes along the row (coalesced). */
static __device__ __forceinline__ void load_rows(const float *base, int64_t ld, int64_t r0, int nrows, int valid,
                                                 int64_t col0, int width, float *dst, int stride) {
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    for (int r = warp; r < nrows; r += THREADS / 32) {
        const float *src = base + (r0 + r) * ld + col0;
        for (int d = lane; d < width; d += 32) dst[r * stride + d] = r < valid ? src[d] : 0.0f;
    }
}

/* ---- forward ---- */

/* out/lse as in the header; nqt query tiles per head. Shared: Q [FBQ][qst], K [FBK][qst], V [FBK][8·NV],
 * P [FBQ][FSS]. */
template <int NV>
static __global__ void __launch_bounds__(THREADS)
    sdpa_forward_kernel(const vt_sdpa_args a, float *out, float *lse, int64_t nqt, int qst) {
    extern __shared__ float smem[];
    const int D = (int)a.D, VW = 8 * NV;
    float *Qs = smem, *Ks = Qs + FBQ * qst, *Vs = Ks + FBK * qst, *Ps = Vs + FBK * VW;
    const int64_t bh = blockIdx.x / nqt, q0 = (int64_t)(blockIdx.x % nqt) * FBQ;
    const int64_t dv0 = (int64_t)blockIdx.y * CHUNK;
    const int dvn = (int)min64(CHUNK, a.Dv - dv0);
    const int mq = (int)min64(FBQ, a.Lq - q0);
    const int row = threadIdx.x >> 3, lane8 = threadIdx.x & 7;
    const int64_t i = q0 + row;
    const bool row_ok = row < mq;
    const head_base hb = head_of(a, bh);

    load_rows(hb.q, a.qs[2], q0, FBQ, mq, 0, D, Qs, qst);
    /* V columns past the chunk stay zero (tile loads write only [0, dvn)), so the P·V loop needs no guard */
    for (int e = threadIdx.x; e < FBK * (VW - dvn); e += THREADS)
        Vs[(e / (VW - dvn)) * VW + dvn + e % (VW - dvn)] = 0.0f;
    float o[NV];
#pragma unroll
    for (int jv = 0; jv < NV; jv++) o[jv] = 0.0f;
    float m = -INFINITY, l = 0.0f; /* replicated in the 8 lanes of the row (butterfly sums agree bitwise) */

    const int64_t kend = a.causal ? min64(a.Lk, q0 + mq) : a.Lk; /* later keys are all above the diagonal */
    for (int64_t k0 = 0; k0 < kend; k0 += FBK) {
        const int nk = (int)min64(FBK, a.Lk - k0);
        __syncthreads(); /* the previous tile's K, V, P are consumed (and Q is stored) */
        load_rows(hb.k, a.ks[2], k0, FBK, nk, 0, D, Ks, qst);
        load_rows(hb.v, a.vs[2], k0, FBK, nk, dv0, dvn, Vs, VW); /* dvn <= VW by the choice of NV */
        __syncthreads();

        float s[FBK / 8];
#pragma unroll
        for (int j = 0; j < FBK / 8; j++) s[j] = 0.0f;
        for (int d = 0; d < D; d++) {
            const float qd = Qs[row * qst + d];
#pragma unroll
            for (int j = 0; j < FBK / 8; j++) s[j] += qd * Ks[(lane8 + 8 * j) * qst + d];
        }
        float mx = -INFINITY; /* `x > mx ? x : mx` never picks a NaN, like vt_row_max */
#pragma unroll
        for (int j = 0; j < FBK / 8; j++) {
            const int col = lane8 + 8 * j;
            if (row_ok && col < nk) {
                s[j] = score(a, hb, i, k0 + col, s[j]);
                mx = s[j] > mx ? s[j] : mx;
            }
        }
#pragma unroll
        for (int off = 4; off >= 1; off >>= 1) {
            const float t = __shfl_xor_sync(FULL, mx, off);
            mx = t > mx ? t : mx;
        }
        const float mnew = mx > m ? mx : m;
        /* no visible key yet: subtract 0, so masked scores give exp(-inf) = 0 and NaN scores stay NaN */
        const float mref = mnew == -INFINITY ? 0.0f : mnew;
        float sum = 0.0f;
#pragma unroll
        for (int j = 0; j < FBK / 8; j++) {
            const int col = lane8 + 8 * j;
            const float p = row_ok && col < nk ? expf(s[j] - mref) : 0.0f;
            Ps[row * FSS + col] = p;
            sum += p;
        }
#pragma unroll
        for (int off = 4; off >= 1; off >>= 1) sum += __shfl_xor_sync(FULL, sum, off);
        const float alpha = expf(m - mref); /* 0 until a key was visible */
        if (l != 0.0f && alpha != 1.0f) {
#pragma unroll
            for (int jv = 0; jv < NV; jv++) o[jv] *= alpha;
        }
        l = l * alpha + sum;
        m = mnew;
        __syncwarp(); /* row `row` of P was written by this warp only */
        for (int col = 0; col < nk; col++) {
            const float p = Ps[row * FSS + col];
#pragma unroll
            for (int jv = 0; jv < NV; jv++) o[jv] += p * Vs[col * VW + lane8 + 8 * jv];
        }
    }
    if (!row_ok) return;
    if (l > 0.0f) { /* a row with no visible key keeps its zeros (a NaN row its NaNs) */
        const float r = 1.0f / l;
#pragma unroll
        for (int jv = 0; jv < NV; jv++) o[jv] *= r;
    }
    float *orow = out + (bh * a.Lq + i) * a.Dv + dv0;
#pragma unroll
    for (int jv = 0; jv < NV; jv++)
        if (lane8 + 8 * jv < dvn) orow[lane8 + 8 * jv] = o[jv];
    /* +inf: the backward's exp(s - lse) is then 0 for such a row, where log 0 = -inf would give NaN */
    if (lse && blockIdx.y == 0 && lane8 == 0) lse[bh * a.Lq + i] = l > 0.0f ? m + logf(l) : INFINITY;
}

/* ---- backward ---- */

/* delta[r] = Σ_d out[r][d]·gout[r][d], one warp per row. */
static __global__ void delta_kernel(const float *out, const float *gout, float *delta, int64_t rows, int64_t Dv) {
    const int lane = threadIdx.x & 31;
    const int64_t warps = (int64_t)gridDim.x * (blockDim.x / 32);
    for (int64_t r = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) / 32; r < rows; r += warps) {
        float acc = 0.0f;
        for (int64_t d = lane; d < Dv; d += 32) acc += out[r * Dv + d] * gout[r * Dv + d];
#pragma unroll
        for (int off = 16; off >= 1; off >>= 1) acc += __shfl_xor_sync(FULL, acc, off);
        if (lane == 0) delta[r] = acc;
    }
}

/* The scores and dO·Vᵀ of tile row `row` against the 4 key columns lane8 + 8·j of the K/V tiles. */
static __device__ __forceinline__ void tile_dots(const float *Qs, const float *dOs, const float *Ks, const float *Vs,
                                                 int qst, int vst, int D, int Dv, int row, int lane8, float s[4],
                                                 float dp[4]) {
#pragma unroll
    for (int j = 0; j < 4; j++) s[j] = dp[j] = 0.0f;
    for (int d = 0; d < D; d++) {
        const float qd = Qs[row * qst + d];
#pragma unroll
        for (int j = 0; j < 4; j++) s[j] += qd * Ks[(lane8 + 8 * j) * qst + d];
    }
    for (int e = 0; e < Dv; e++) {
        const float g = dOs[row * vst + e];
#pragma unroll
        for (int j = 0; j < 4; j++) dp[j] += g * Vs[(lane8 + 8 * j) * vst + e];
    }
}

/* dK, dV (dim chunk blockIdx.y) and dmask of one key tile. Shared: K, Q [.][qst], V, dO [.][vst],
 * P, dS [BQB][BSS], lse, delta [BQB]. */
template <int NV>
static __global__ void __launch_bounds__(THREADS)
    sdpa_backward_kv_kernel(const vt_sdpa_args a, const float *lse, const float *delta, const float *gout,
                            float *dk, float *dv, float *dmask, int64_t nkt, int qst, int vst) {
    extern __shared__ float smem[];
    const int D = (int)a.D, Dv = (int)a.Dv;
    float *Ks = smem, *Qs = Ks + BKB * qst, *Vs = Qs + BQB * qst, *dOs = Vs + BKB * vst, *Ps = dOs + BQB * vst;
    float *dSs = Ps + BQB * BSS, *Ls = dSs + BQB * BSS, *Dl = Ls + BQB;
    const int64_t bh = blockIdx.x / nkt, k0 = (int64_t)(blockIdx.x % nkt) * BKB;
    const int nk = (int)min64(BKB, a.Lk - k0);
    const int d0 = (int)blockIdx.y * CHUNK;
    const int dkn = D - d0 < CHUNK ? D - d0 : CHUNK, dvn = Dv - d0 < CHUNK ? Dv - d0 : CHUNK; /* may be <= 0 */
    const bool first_chunk = blockIdx.y == 0;
    const int row = threadIdx.x >> 3, lane8 = threadIdx.x & 7;
    const head_base hb = head_of(a, bh);

    load_rows(hb.k, a.ks[2], k0, BKB, nk, 0, D, Ks, qst);
    load_rows(hb.v, a.vs[2], k0, BKB, nk, 0, Dv, Vs, vst);
    float ak[NV], av[NV]; /* key row `row` of the tile: dK and dV at dims d0 + lane8 + 8·jv */
#pragma unroll
    for (int jv = 0; jv < NV; jv++) ak[jv] = av[jv] = 0.0f;

    /* causal: query rows < k0 see no key of this tile; their tiles are skipped (dmask 0) */
    for (int64_t q0 = 0; q0 < a.Lq; q0 += BQB) {
        const int mq = (int)min64(BQB, a.Lq - q0);
        if (a.causal && q0 + mq <= k0) {
            if (dmask && first_chunk)
                for (int e = threadIdx.x; e < mq * nk; e += THREADS)
                    dmask[(bh * a.Lq + q0 + e / nk) * a.Lk + k0 + e % nk] = 0.0f;
            continue;
        }
        __syncthreads(); /* the previous query tile is consumed (and K, V are stored) */
        load_rows(hb.q, a.qs[2], q0, BQB, mq, 0, D, Qs, qst);
        load_rows(gout, Dv, bh * a.Lq + q0, BQB, mq, 0, Dv, dOs, vst);
        if (threadIdx.x < BQB) {
            Ls[threadIdx.x] = (int)threadIdx.x < mq ? lse[bh * a.Lq + q0 + threadIdx.x] : 0.0f;
            Dl[threadIdx.x] = (int)threadIdx.x < mq ? delta[bh * a.Lq + q0 + threadIdx.x] : 0.0f;
        }
        __syncthreads();

        /* phase 1, lanes over (query row, key columns): P and dS of the tile */
        float s[4], dp[4];
        tile_dots(Qs, dOs, Ks, Vs, qst, vst, D, Dv, row, lane8, s, dp);
        const int64_t i = q0 + row;
        const float li = Ls[row], di = Dl[row];
#pragma unroll
        for (int j = 0; j < 4; j++) {
            const int col = lane8 + 8 * j;
            float p = 0.0f, ds = 0.0f;
            if (row < mq && col < nk) {
                p = expf(score(a, hb, i, k0 + col, s[j]) - li);
                ds = p * (dp[j] - di);
                if (dmask && first_chunk) dmask[(bh * a.Lq + i) * a.Lk + k0 + col] = ds;
            }
            Ps[row * BSS + col] = p;
            dSs[row * BSS + col] = ds;
        }
        __syncthreads();

        /* phase 2, lanes over (key row, dims): dV += Pᵀ·dO, dK += dSᵀ·Q, in ascending query order */
        for (int r = 0; r < mq; r++) {
            const float p = Ps[r * BSS + row], ds = dSs[r * BSS + row];
#pragma unroll
            for (int jv = 0; jv < NV; jv++) {
                const int d = lane8 + 8 * jv;
                if (d < dvn) av[jv] += p * dOs[r * vst + d0 + d];
                if (d < dkn) ak[jv] += ds * Qs[r * qst + d0 + d];
            }
        }
    }
    if (row >= nk) return;
    const int64_t j = k0 + row;
#pragma unroll
    for (int jv = 0; jv < NV; jv++) {
        const int d = lane8 + 8 * jv;
        if (dv && d < dvn) dv[(bh * a.Lk + j) * Dv + d0 + d] = av[jv];
        if (dk && d < dkn) dk[(bh * a.Lk + j) * D + d0 + d] = a.scale * ak[jv];
    }
}

/* dQ (dim chunk blockIdx.y) of one query tile. Shared: Q, K [.][qst], dO, V [.][vst], dS [BQB][BSS]. */
template <int NV>
static __global__ void __launch_bounds__(THREADS)
    sdpa_backward_q_kernel(const vt_sdpa_args a, const float *lse, const float *delta, const float *gout, float *dq,
                           int64_t nqt, int qst, int vst) {
    extern __shared__ float smem[];
    const int D = (int)a.D, Dv = (int)a.Dv;
    float *Qs = smem, *Ks = Qs + BQB * qst, *dOs = Ks + BKB * qst, *Vs = dOs + BQB * vst, *dSs = Vs + BKB * vst;
    const int64_t bh = blockIdx.x / nqt, q0 = (int64_t)(blockIdx.x % nqt) * BQB;
    const int mq = (int)min64(BQB, a.Lq - q0);
    const int d0 = (int)blockIdx.y * CHUNK, dqn = D - d0 < CHUNK ? D - d0 : CHUNK;
    const int row = threadIdx.x >> 3, lane8 = threadIdx.x & 7;
    const int64_t i = q0 + row;
    const bool row_ok = row < mq;
    const float li = row_ok ? lse[bh * a.Lq + i] : 0.0f, di = row_ok ? delta[bh * a.Lq + i] : 0.0f;
    const head_base hb = head_of(a, bh);

    load_rows(hb.q, a.qs[2], q0, BQB, mq, 0, D, Qs, qst);
    load_rows(gout, Dv, bh * a.Lq + q0, BQB, mq, 0, Dv, dOs, vst); /* dO is contiguous [B·H·Lq][Dv] */
    float acc[NV];
#pragma unroll
    for (int jv = 0; jv < NV; jv++) acc[jv] = 0.0f;

    const int64_t kend = a.causal ? min64(a.Lk, q0 + mq) : a.Lk;
    for (int64_t k0 = 0; k0 < kend; k0 += BKB) {
        const int nk = (int)min64(BKB, a.Lk - k0);
        __syncthreads(); /* the previous K, V tile is consumed (and Q, dO are stored) */
        load_rows(hb.k, a.ks[2], k0, BKB, nk, 0, D, Ks, qst);
        load_rows(hb.v, a.vs[2], k0, BKB, nk, 0, Dv, Vs, vst);
        __syncthreads();
        float s[4], dp[4];
        tile_dots(Qs, dOs, Ks, Vs, qst, vst, D, Dv, row, lane8, s, dp);
#pragma unroll
        for (int j = 0; j < 4; j++) {
            const int col = lane8 + 8 * j;
            float ds = 0.0f;
            if (row_ok && col < nk) ds = expf(score(a, hb, i, k0 + col, s[j]) - li) * (dp[j] - di);
            dSs[row * BSS + col] = ds;
        }
        __syncwarp(); /* row `row` of dS was written by this warp only */
        for (int col = 0; col < nk; col++) {
            const float ds = dSs[row * BSS + col];
#pragma unroll
            for (int jv = 0; jv < NV; jv++)
                if (lane8 + 8 * jv < dqn) acc[jv] += ds * Ks[col * qst + d0 + lane8 + 8 * jv];
        }
    }
    if (!row_ok) return;
#pragma unroll
    for (int jv = 0; jv < NV; jv++)
        if (lane8 + 8 * jv < dqn) dq[(bh * a.Lq + i) * D + d0 + lane8 + 8 * jv] = a.scale * acc[jv];
}

/* ---- launch ---- */

/* Registers per lane for a chunk of up to `width` dims: 8·NV >= width, NV a power of two up to 16. */
static int lanes_for(int64_t width) {
    const int64_t w = width < CHUNK ? width : CHUNK;
    int nv = 1;
    while (8 * nv < w) nv *= 2;
    return nv;
}

/* Checks the dynamic shared memory against the device and opts the kernel in above the 48 KiB default. */
static bool smem_ok(vt_ctx *c, vt_cuda_state *s, const void *kernel, size_t bytes, const char *what) {
    const size_t cap = s->max_smem_per_block ? s->max_smem_per_block : 48 * 1024;
    if (bytes > cap) {
        vt_ctx_fail(c, VT_EUNSUPPORTED, "%s: head dims need %zu bytes of shared memory, the device has %zu", what,
                    bytes, cap);
        return false;
    }
    if (bytes <= 48 * 1024) return true;
    return vt_cuda_ok(c, cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes), what);
}

static bool grid_ok(vt_ctx *c, int64_t blocks, const char *what) {
    if (blocks <= INT32_MAX) return true;
    vt_ctx_fail(c, VT_EUNSUPPORTED, "%s: %lld thread blocks exceed the CUDA grid", what, (long long)blocks);
    return false;
}

template <int NV>
static void forward_nv(vt_ctx *c, vt_cuda_state *s, const vt_sdpa_args *a, float *out, float *lse) {
    const int qst = odd_stride(a->D);
    const int64_t nqt = (a->Lq + FBQ - 1) / FBQ, blocks = a->B * a->H * nqt;
    const size_t bytes = sizeof(float) * ((size_t)(FBQ + FBK) * qst + (size_t)FBK * 8 * NV + (size_t)FBQ * FSS);
    if (!grid_ok(c, blocks, "sdpa_forward") ||
        !smem_ok(c, s, (const void *)sdpa_forward_kernel<NV>, bytes, "sdpa_forward"))
        return;
    const dim3 grid((unsigned)blocks, (unsigned)((a->Dv + CHUNK - 1) / CHUNK));
    sdpa_forward_kernel<NV><<<grid, THREADS, bytes, s->stream>>>(*a, out, lse, nqt, qst);
    vt_cuda_launched(c, "sdpa_forward");
}

static void cuda_sdpa_forward(vt_ctx *c, const vt_sdpa_args *a, float *out, float *lse) {
    vt_cuda_state *s = vt_cuda_current(c);
    if (!s || a->B * a->H * a->Lq == 0 || a->Dv <= 0) return;
    switch (lanes_for(a->Dv)) {
    case 1: forward_nv<1>(c, s, a, out, lse); break;
    case 2: forward_nv<2>(c, s, a, out, lse); break;
    case 4: forward_nv<4>(c, s, a, out, lse); break;
    case 8: forward_nv<8>(c, s, a, out, lse); break;
    default: forward_nv<16>(c, s, a, out, lse); break;
    }
}

template <int NV>
static void backward_nv(vt_ctx *c, vt_cuda_state *s, const vt_sdpa_args *a, const float *lse, const float *gout,
                        const float *delta, float *dq, float *dk, float *dv, float *dmask) {
    const int qst = odd_stride(a->D), vst = odd_stride(a->Dv);
    const int64_t BH = a->B * a->H;
    if ((dk || dv || dmask) && a->Lk > 0) {
        const int64_t nkt = (a->Lk + BKB - 1) / BKB, blocks = BH * nkt;
        const int64_t maxd = a->D > a->Dv ? a->D : a->Dv;
        const size_t bytes = sizeof(float) * ((size_t)(BKB + BQB) * (qst + vst) + 2 * (size_t)BQB * BSS + 2 * BQB);
        if (!grid_ok(c, blocks, "sdpa_backward") ||
            !smem_ok(c, s, (const void *)sdpa_backward_kv_kernel<NV>, bytes, "sdpa_backward"))
            return;
        const dim3 grid((unsigned)blocks, (unsigned)((maxd + CHUNK - 1) / CHUNK));
        sdpa_backward_kv_kernel<NV><<<grid, THREADS, bytes, s->stream>>>(*a, lse, delta, gout, dk, dv, dmask, nkt, qst,
                                                                         vst);
        if (!vt_cuda_launched(c, "sdpa_backward (dk, dv)")) return;
    }
    if (dq && a->Lq > 0) {
        const int64_t nqt = (a->Lq + BQB - 1) / BQB, blocks = BH * nqt;
        const size_t bytes = sizeof(float) * ((size_t)(BKB + BQB) * (qst + vst) + (size_t)BQB * BSS);
        if (!grid_ok(c, blocks, "sdpa_backward") ||
            !smem_ok(c, s, (const void *)sdpa_backward_q_kernel<NV>, bytes, "sdpa_backward"))
            return;
        const dim3 grid((unsigned)blocks, (unsigned)((a->D + CHUNK - 1) / CHUNK));
        sdpa_backward_q_kernel<NV><<<grid, THREADS, bytes, s->stream>>>(*a, lse, delta, gout, dq, nqt, qst, vst);
        vt_cuda_launched(c, "sdpa_backward (dq)");
    }
}

static void cuda_sdpa_backward(vt_ctx *c, const vt_sdpa_args *a, const float *out, const float *lse,
                               const float *gout, float *delta, float *dq, float *dk, float *dv, float *dmask) {
    vt_cuda_state *s = vt_cuda_current(c);
    if (!s || a->B * a->H == 0) return;
    const int64_t rows = a->B * a->H * a->Lq;
    if (rows > 0) {
        delta_kernel<<<vt_cuda_blocks(rows * 32, THREADS), THREADS, 0, s->stream>>>(out, gout, delta, rows, a->Dv);
        if (!vt_cuda_launched(c, "sdpa_backward (delta)")) return;
    }
    /* one register width for both dK (D) and dV (Dv) chunks: the wider one */
    switch (lanes_for(a->D > a->Dv ? a->D : a->Dv)) {
    case 1: backward_nv<1>(c, s, a, lse, gout, delta, dq, dk, dv, dmask); break;
    case 2: backward_nv<2>(c, s, a, lse, gout, delta, dq, dk, dv, dmask); break;
    case 4: backward_nv<4>(c, s, a, lse, gout, delta, dq, dk, dv, dmask); break;
    case 8: backward_nv<8>(c, s, a, lse, gout, delta, dq, dk, dv, dmask); break;
    default: backward_nv<16>(c, s, a, lse, gout, delta, dq, dk, dv, dmask); break;
    }
}

extern "C" const vt_attention_kernels vt_cuda_attention_kernels = {
    sizeof(vt_attention_kernels),
    cuda_sdpa_forward,
    cuda_sdpa_backward,
};
