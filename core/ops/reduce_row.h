/* Vectorised reductions over one contiguous row, shared by the CPU kernels of softmax, cross-entropy and
 * the norms.
 *
 * Sums use VT_LANES independent partial sums (element j goes to lane j % VT_LANES) added up in a fixed
 * order at the end: the inner loop over lanes vectorises, the rounding error grows with n / VT_LANES instead
 * of n, and the result depends only on n — never on the thread count. (GCC 12 vectorises `omp simd
 * reduction` loops unreliably once they are inlined into OpenMP regions; explicit lanes always work.) */
#ifndef VISFT_CORE_REDUCE_ROW_H
#define VISFT_CORE_REDUCE_ROW_H

#include <math.h>
#include <stdint.h>

#include "backend/cpu/vmath.h"

#define VT_LANES 16

/* Runs the statements in ... for j = 0 .. n-1 with k = j % VT_LANES; full blocks of VT_LANES vectorise over
 * k, so the statements should only accumulate into lane arrays indexed by k (and write element j). */
#define VT_LANE_FOR(n, j, k, ...)                                                      \
    do {                                                                               \
        const int64_t j##_n = (n);                                                     \
        int64_t j##_0 = 0;                                                             \
        for (; j##_0 + VT_LANES <= j##_n; j##_0 += VT_LANES) {                         \
            _Pragma("omp simd") for (int k = 0; k < VT_LANES; k++) {                   \
                const int64_t j = j##_0 + k;                                           \
                __VA_ARGS__                                                            \
            }                                                                          \
        }                                                                              \
        for (int k = 0; j##_0 + k < j##_n; k++) {                                      \
            const int64_t j = j##_0 + k;                                               \
            __VA_ARGS__                                                                \
        }                                                                              \
    } while (0)

static inline float vt_lanes_sum(const float *acc) {
    float s = 0.0f;
    for (int k = 0; k < VT_LANES; k++) s += acc[k];
    return s;
}

/* Max of a row (n >= 1). A NaN may or may not win here; callers feed the result through exp, which turns a
 * row holding NaN into NaN either way. */
static inline float vt_row_max(const float *x, int64_t n) {
    float acc[VT_LANES];
    for (int k = 0; k < VT_LANES; k++) acc[k] = -INFINITY;
    VT_LANE_FOR(n, j, k, acc[k] = x[j] > acc[k] ? x[j] : acc[k];);
    float m = acc[0];
    for (int k = 1; k < VT_LANES; k++) m = acc[k] > m ? acc[k] : m;
    return m;
}

static inline float vt_row_sum(const float *x, int64_t n) {
    float acc[VT_LANES] = {0};
    VT_LANE_FOR(n, j, k, acc[k] += x[j];);
    return vt_lanes_sum(acc);
}

static inline float vt_row_dot(const float *x, const float *y, int64_t n) {
    float acc[VT_LANES] = {0};
    VT_LANE_FOR(n, j, k, acc[k] += x[j] * y[j];);
    return vt_lanes_sum(acc);
}

/* Σ exp(x − m). */
static inline float vt_row_expsum(const float *x, float m, int64_t n) {
    float acc[VT_LANES] = {0};
    VT_LANE_FOR(n, j, k, acc[k] += vt_expf(x[j] - m););
    return vt_lanes_sum(acc);
}

/* log Σ exp(x): the max is taken out first so no term overflows (a row of -inf gives NaN, as in
 * PyTorch's log_softmax). */
static inline float vt_row_logsumexp(const float *x, int64_t n) {
    float m = vt_row_max(x, n);
    return m + logf(vt_row_expsum(x, m, n));
}

#endif
