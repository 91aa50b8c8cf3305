/* The emulated accelerator's kernel tables: every entry enters device mode, runs the CPU backend's kernel with
 * the same arguments and leaves device mode, so emu results equal the CPU's to the bit and only host code
 * outside kernels can fault. A static assertion per table counts its entries: a kernel added to a family's
 * table must be wrapped here too. */
#include <stddef.h>

#include "backend/emu/emu.h"
#include "ops/attention_kernels.h"
#include "ops/conv_kernels.h"
#include "ops/elementwise_kernels.h"
#include "ops/index_kernels.h"
#include "ops/loss_kernels.h"
#include "ops/matmul_kernels.h"
#include "ops/norm_kernels.h"
#include "ops/optim_kernels.h"
#include "ops/random_kernels.h"
#include "ops/reduce_kernels.h"
#include "ops/resample_kernels.h"

#define FAM_elementwise VT_FAM_ELEMENTWISE
#define FAM_matmul VT_FAM_MATMUL
#define FAM_reduce VT_FAM_REDUCE
#define FAM_norm VT_FAM_NORM
#define FAM_index VT_FAM_INDEX
#define FAM_conv VT_FAM_CONV
#define FAM_resample VT_FAM_RESAMPLE
#define FAM_attention VT_FAM_ATTENTION
#define FAM_loss VT_FAM_LOSS
#define FAM_random VT_FAM_RANDOM
#define FAM_optim VT_FAM_OPTIM

/* The CPU backend's table of a family (vt_emu_kernel_tables only wraps families the CPU has). */
#define CPU(fam) ((const vt_##fam##_kernels *)vt_cpu_backend()->families[FAM_##fam])
/* fam_name: the CPU's fam.name in device mode, for void and value-returning entries. */
#define WRAP(fam, name, params, args) \
    static void fam##_##name params { vt_emu_enter(); CPU(fam)->name args; vt_emu_leave(); }
#define WRAP_RET(type, fam, name, params, args) \
    static type fam##_##name params { vt_emu_enter(); type r = CPU(fam)->name args; vt_emu_leave(); return r; }
/* The table holds its size and n entries. */
#define ENTRIES(fam, n)                                                                        \
    _Static_assert(sizeof(vt_##fam##_kernels) == sizeof(size_t) + (n) * sizeof(void (*)(void)), \
                   "emu_kernels.c: wrap every entry of vt_" #fam "_kernels")

/* ---- elementwise ---- */
ENTRIES(elementwise, 3);
WRAP(elementwise, unary, (vt_ctx *c, vt_unary_op op, const float *x, float *y, int64_t n, double p0, double p1),
     (c, op, x, y, n, p0, p1))
WRAP(elementwise, unary_backward,
     (vt_ctx *c, vt_unary_op op, const float *x, const float *y, const float *gy, float *gx, int64_t n, double p0,
      double p1),
     (c, op, x, y, gy, gx, n, p0, p1))
WRAP(elementwise, binary, (vt_ctx *c, vt_binary_op op, const vt_tensor *a, const vt_tensor *b, vt_tensor *out),
     (c, op, a, b, out))

/* ---- matmul ---- */
ENTRIES(matmul, 1);
WRAP(matmul, gemm_batched,
     (vt_ctx *c, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
      int64_t stride_a, const float *B, int64_t ldb, int64_t stride_b, float beta, float *C, int64_t ldc,
      int64_t stride_c, int64_t batch),
     (c, ta, tb, M, N, K, alpha, A, lda, stride_a, B, ldb, stride_b, beta, C, ldc, stride_c, batch))

/* ---- reduce ---- */
ENTRIES(reduce, 7);
WRAP(reduce, sum_rows, (vt_ctx *c, const float *x, float *out, int64_t rows, int64_t cols), (c, x, out, rows, cols))
WRAP(reduce, sum_cols, (vt_ctx *c, const float *x, float *out, int64_t rows, int64_t cols), (c, x, out, rows, cols))
WRAP(reduce, max_dim, (vt_ctx *c, const float *x, float *val, int64_t *idx, int64_t outer, int64_t n, int64_t inner),
     (c, x, val, idx, outer, n, inner))
WRAP(reduce, max_dim_backward,
     (vt_ctx *c, const int64_t *idx, const float *gy, float *gx, int64_t outer, int64_t n, int64_t inner),
     (c, idx, gy, gx, outer, n, inner))
WRAP(reduce, max_all_backward, (vt_ctx *c, const float *x, const float *m, const float *gy, float *gx, int64_t n),
     (c, x, m, gy, gx, n))
WRAP(reduce, softmax, (vt_ctx *c, const float *x, float *y, int64_t outer, int64_t n, int64_t inner, bool log),
     (c, x, y, outer, n, inner, log))
WRAP(reduce, softmax_backward,
     (vt_ctx *c, const float *y, const float *gy, float *gx, int64_t outer, int64_t n, int64_t inner, bool log),
     (c, y, gy, gx, outer, n, inner, log))

/* ---- norm ---- */
ENTRIES(norm, 4);
WRAP(norm, layer_norm,
     (vt_ctx *c, const float *x, const float *w, const float *b, float *y, float *mean, float *rstd, int64_t rows,
      int64_t d, float eps),
     (c, x, w, b, y, mean, rstd, rows, d, eps))
WRAP(norm, layer_norm_backward,
     (vt_ctx *c, const float *x, const float *w, const float *mean, const float *rstd, const float *gy, float *dx,
      float *dw, float *db, float *scratch, int64_t rows, int64_t d),
     (c, x, w, mean, rstd, gy, dx, dw, db, scratch, rows, d))
WRAP(norm, group_norm,
     (vt_ctx *c, const float *x, const float *w, const float *b, float *y, float *mean, float *rstd, int64_t n,
      int64_t C, int64_t hw, int64_t groups, float eps),
     (c, x, w, b, y, mean, rstd, n, C, hw, groups, eps))
WRAP(norm, group_norm_backward,
     (vt_ctx *c, const float *x, const float *w, const float *mean, const float *rstd, const float *gy, float *dx,
      float *dw, float *db, float *scratch, int64_t n, int64_t C, int64_t hw, int64_t groups),
     (c, x, w, mean, rstd, gy, dx, dw, db, scratch, n, C, hw, groups))

/* ---- index ---- */
ENTRIES(index, 9);
WRAP(index, index_select,
     (vt_ctx *c, const void *x, const int64_t *idx, void *out, int64_t outer, int64_t rows, int64_t n, int64_t inner,
      size_t elem),
     (c, x, idx, out, outer, rows, n, inner, elem))
WRAP(index, index_add,
     (vt_ctx *c, const float *g, const int64_t *idx, float *gx, int64_t outer, int64_t rows, int64_t n, int64_t inner,
      int64_t skip),
     (c, g, idx, gx, outer, rows, n, inner, skip))
WRAP(index, gather, (vt_ctx *c, const vt_tensor *x, int dim, const vt_tensor *idx, vt_tensor *out),
     (c, x, dim, idx, out))
WRAP(index, scatter_add, (vt_ctx *c, vt_tensor *out, int dim, const vt_tensor *idx, const vt_tensor *src),
     (c, out, dim, idx, src))
WRAP(index, where, (vt_ctx *c, const vt_tensor *cond, const vt_tensor *a, const vt_tensor *b, vt_tensor *out),
     (c, cond, a, b, out))
WRAP(index, sort,
     (vt_ctx *c, const float *x, float *vals, int64_t *idx, int64_t outer, int64_t n, int64_t inner, int64_t k,
      bool descending, bool sorted, vt_sort_item *scratch),
     (c, x, vals, idx, outer, n, inner, k, descending, sorted, scratch))
WRAP(index, cumsum, (vt_ctx *c, const float *x, float *y, int64_t outer, int64_t n, int64_t inner, bool reverse),
     (c, x, y, outer, n, inner, reverse))
WRAP(index, one_hot, (vt_ctx *c, const int64_t *ids, float *out, int64_t n, int64_t classes), (c, ids, out, n, classes))
WRAP(index, arange, (vt_ctx *c, void *out, vt_dtype dt, int64_t n, double start, double step),
     (c, out, dt, n, start, step))

/* ---- conv ---- */
ENTRIES(conv, 10);
WRAP(conv, im2col, (vt_ctx *c, const vt_win2d *g, const float *x, float *col, int64_t oh0, int64_t oh1),
     (c, g, x, col, oh0, oh1))
WRAP(conv, col2im, (vt_ctx *c, const vt_win2d *g, const float *col, float *gx, int64_t oh0, int64_t oh1),
     (c, g, col, gx, oh0, oh1))
WRAP(conv, patchify, (vt_ctx *c, const vt_win2d *g, int64_t N, const float *x, float *p), (c, g, N, x, p))
WRAP(conv, unpatchify, (vt_ctx *c, const vt_win2d *g, int64_t N, const float *p, float *gx), (c, g, N, p, gx))
WRAP(conv, avg_pool, (vt_ctx *c, const vt_win2d *g, bool exclude_pad, const float *x, float *y),
     (c, g, exclude_pad, x, y))
WRAP(conv, avg_pool_backward, (vt_ctx *c, const vt_win2d *g, bool exclude_pad, const float *gy, float *gx),
     (c, g, exclude_pad, gy, gx))
WRAP(conv, max_pool, (vt_ctx *c, const vt_win2d *g, const float *x, float *y, int64_t *idx), (c, g, x, y, idx))
WRAP(conv, max_pool_backward, (vt_ctx *c, const vt_win2d *g, const float *gy, const int64_t *idx, float *gx),
     (c, g, gy, idx, gx))
WRAP(conv, adaptive_avg_pool, (vt_ctx *c, const vt_win2d *g, const float *x, float *y), (c, g, x, y))
WRAP(conv, adaptive_avg_pool_backward, (vt_ctx *c, const vt_win2d *g, const float *gy, float *gx), (c, g, gy, gx))

/* ---- resample ---- */
ENTRIES(resample, 4);
WRAP(resample, interpolate, (vt_ctx *c, const vt_interp_geom *g, const float *x, float *y), (c, g, x, y))
WRAP(resample, interpolate_backward, (vt_ctx *c, const vt_interp_geom *g, const float *gy, float *gx), (c, g, gy, gx))
WRAP(resample, grid_sample,
     (vt_ctx *c, bool align_corners, int64_t N, int64_t C, int64_t H, int64_t W, int64_t Ho, int64_t Wo,
      const float *x, const float *grid, float *y),
     (c, align_corners, N, C, H, W, Ho, Wo, x, grid, y))
WRAP(resample, grid_sample_backward,
     (vt_ctx *c, bool align_corners, int64_t N, int64_t C, int64_t H, int64_t W, int64_t Ho, int64_t Wo,
      const float *x, const float *grid, const float *gy, float *gx, float *ggrid),
     (c, align_corners, N, C, H, W, Ho, Wo, x, grid, gy, gx, ggrid))

/* ---- attention ---- */
ENTRIES(attention, 2);
WRAP(attention, sdpa_forward, (vt_ctx *c, const vt_sdpa_args *a, float *out, float *lse), (c, a, out, lse))
WRAP(attention, sdpa_backward,
     (vt_ctx *c, const vt_sdpa_args *a, const float *out, const float *lse, const float *gout, float *delta, float *dq,
      float *dk, float *dv, float *dmask),
     (c, a, out, lse, gout, delta, dq, dk, dv, dmask))

/* ---- loss ---- */
ENTRIES(loss, 6);
WRAP_RET(int64_t, loss, cross_entropy,
         (vt_ctx *c, const float *x, const int64_t *t, const float *w, int64_t S, int64_t C, int64_t ignore_index,
          float smoothing, float *lse, float *loss, float *wt),
         (c, x, t, w, S, C, ignore_index, smoothing, lse, loss, wt))
WRAP(loss, cross_entropy_backward,
     (vt_ctx *c, const float *x, const int64_t *t, const float *w, const float *lse, const float *g, int64_t gs,
      int64_t S, int64_t C, int64_t ignore_index, float smoothing, float *dx),
     (c, x, t, w, lse, g, gs, S, C, ignore_index, smoothing, dx))
WRAP(loss, cross_entropy_soft,
     (vt_ctx *c, const float *x, const float *p, const float *w, int64_t S, int64_t C, float smoothing, float *lse,
      float *loss),
     (c, x, p, w, S, C, smoothing, lse, loss))
WRAP(loss, cross_entropy_soft_backward,
     (vt_ctx *c, const float *x, const float *p, const float *w, const float *lse, const float *g, int64_t gs,
      int64_t S, int64_t C, float smoothing, float *dx),
     (c, x, p, w, lse, g, gs, S, C, smoothing, dx))
WRAP(loss, bce_with_logits,
     (vt_ctx *c, const float *x, const float *t, const float *w, const float *pw, float *loss, int64_t n),
     (c, x, t, w, pw, loss, n))
WRAP(loss, bce_with_logits_backward,
     (vt_ctx *c, const float *x, const float *t, const float *w, const float *pw, const float *g, int64_t gs,
      float *dx, float *dt, int64_t n),
     (c, x, t, w, pw, g, gs, dx, dt, n))

/* ---- random ---- */
ENTRIES(random, 4);
WRAP(random, uniform, (vt_ctx *c, uint64_t seed, uint64_t block0, float *out, int64_t n, double lo, double hi),
     (c, seed, block0, out, n, lo, hi))
WRAP(random, normal, (vt_ctx *c, uint64_t seed, uint64_t block0, float *out, int64_t n, double mean, double std),
     (c, seed, block0, out, n, mean, std))
WRAP(random, trunc_normal,
     (vt_ctx *c, uint64_t seed, uint64_t block0, float *out, int64_t n, double mean, double std, double a, double b),
     (c, seed, block0, out, n, mean, std, a, b))
WRAP(random, dropout,
     (vt_ctx *c, uint64_t seed, uint64_t block0, const float *x, float *y, int64_t n, uint32_t threshold,
      float scale),
     (c, seed, block0, x, y, n, threshold, scale))

/* ---- optim ---- */
ENTRIES(optim, 3);
WRAP(optim, adamw, (vt_ctx *c, float *p, const float *g, float *m, float *v, int64_t n, const vt_adamw_hparams *h),
     (c, p, g, m, v, n, h))
WRAP(optim, sgd, (vt_ctx *c, float *p, const float *g, float *buf, int64_t n, const vt_sgd_hparams *h),
     (c, p, g, buf, n, h))
WRAP_RET(double, optim, norm_pow, (vt_ctx *c, const float *x, int64_t n, double p), (c, x, n, p))

/* ---- the tables ---- */

static vt_elementwise_kernels emu_elementwise;
static vt_matmul_kernels emu_matmul;
static vt_reduce_kernels emu_reduce;
static vt_norm_kernels emu_norm;
static vt_index_kernels emu_index;
static vt_conv_kernels emu_conv;
static vt_resample_kernels emu_resample;
static vt_attention_kernels emu_attention;
static vt_loss_kernels emu_loss;
static vt_random_kernels emu_random;
static vt_optim_kernels emu_optim;

/* An entry wraps the CPU's, or is NULL (unsupported) where the CPU's is. */
#define SET(fam, name) emu_##fam.name = CPU(fam)->name ? fam##_##name : NULL
/* A family's table, or NULL where the CPU has none. */
#define TABLE(fam) (families[FAM_##fam] = CPU(fam) ? (emu_##fam.size = sizeof emu_##fam, &emu_##fam) : NULL)

void vt_emu_kernel_tables(const void *families[VT_FAM_COUNT]) {
    if (TABLE(elementwise)) {
        SET(elementwise, unary);
        SET(elementwise, unary_backward);
        SET(elementwise, binary);
    }
    if (TABLE(matmul)) SET(matmul, gemm_batched);
    if (TABLE(reduce)) {
        SET(reduce, sum_rows);
        SET(reduce, sum_cols);
        SET(reduce, max_dim);
        SET(reduce, max_dim_backward);
        SET(reduce, max_all_backward);
        SET(reduce, softmax);
        SET(reduce, softmax_backward);
    }
    if (TABLE(norm)) {
        SET(norm, layer_norm);
        SET(norm, layer_norm_backward);
        SET(norm, group_norm);
        SET(norm, group_norm_backward);
    }
    if (TABLE(index)) {
        SET(index, index_select);
        SET(index, index_add);
        SET(index, gather);
        SET(index, scatter_add);
        SET(index, where);
        SET(index, sort);
        SET(index, cumsum);
        SET(index, one_hot);
        SET(index, arange);
    }
    if (TABLE(conv)) {
        SET(conv, im2col);
        SET(conv, col2im);
        SET(conv, patchify);
        SET(conv, unpatchify);
        SET(conv, avg_pool);
        SET(conv, avg_pool_backward);
        SET(conv, max_pool);
        SET(conv, max_pool_backward);
        SET(conv, adaptive_avg_pool);
        SET(conv, adaptive_avg_pool_backward);
    }
    if (TABLE(resample)) {
        SET(resample, interpolate);
        SET(resample, interpolate_backward);
        SET(resample, grid_sample);
        SET(resample, grid_sample_backward);
    }
    if (TABLE(attention)) {
        SET(attention, sdpa_forward);
        SET(attention, sdpa_backward);
    }
    if (TABLE(loss)) {
        SET(loss, cross_entropy);
        SET(loss, cross_entropy_backward);
        SET(loss, cross_entropy_soft);
        SET(loss, cross_entropy_soft_backward);
        SET(loss, bce_with_logits);
        SET(loss, bce_with_logits_backward);
    }
    if (TABLE(random)) {
        SET(random, uniform);
        SET(random, normal);
        SET(random, trunc_normal);
        SET(random, dropout);
    }
    if (TABLE(optim)) {
        SET(optim, adamw);
        SET(optim, sgd);
        SET(optim, norm_pow);
    }
}
