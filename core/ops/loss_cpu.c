/* CPU loss kernels. Cross-entropy works on whole rows in L1: log-sum-exp with the max taken out, then the
 * gradient softmax(x)·Σ(coefficients) − coefficients written in one vectorised pass. Rows are independent,
 * so results do not depend on the thread count. */

#include <math.h>
#include <string.h>

#include "backend/cpu/vmath.h"
#include "ops/loss_kernels.h"
#include "ops/reduce_row.h"

#define PAR_THRESHOLD 16384

static float weight_sum(const float *w, int64_t C) { return w ? vt_row_sum(w, C) : (float)C; }

static int64_t cpu_cross_entropy(vt_ctx *c, const float *x, const int64_t *t, const float *w, int64_t S, int64_t C,
                                 int64_t ignore_index, float eps, float *lse, float *loss, float *wt) {
    for (int64_t s = 0; s < S; s++)
        if (t[s] != ignore_index && (t[s] < 0 || t[s] >= C)) return s;
    const float sc = eps / (float)C;
#pragma omp parallel for num_threads(vt_ctx_threads(c)) if (S * C > PAR_THRESHOLD) schedule(static)
    for (int64_t s = 0; s < S; s++) {
        const float *xr = x + s * C;
        const float l = vt_row_logsumexp(xr, C);
        const int64_t ts = t[s];
        lse[s] = l;
        if (ts == ignore_index) {
            loss[s] = wt[s] = 0.0f;
            continue;
        }
        const float wts = w ? w[ts] : 1.0f;
        float v = (1.0f - eps) * wts * (l - xr[ts]);
        if (eps > 0.0f) { /* Σ w·(lse − x) directly: no cancellation between two large sums */
            float sm[VT_LANES] = {0};
            if (w)
                VT_LANE_FOR(C, j, k, sm[k] += w[j] * (l - xr[j]););
            else
                VT_LANE_FOR(C, j, k, sm[k] += l - xr[j];);
            v += sc * vt_lanes_sum(sm);
        }
        loss[s] = v;
        wt[s] = wts;
    }
    return -1;
}

static void cpu_cross_entropy_backward(vt_ctx *c, const float *x, const int64_t *t, const float *w, const float *lse,
                                       const float *g, int64_t gs, int64_t S, int64_t C, int64_t ignore_index,
                                       float eps, float *dx) {
    const float sc = eps / (float)C, sw = weight_sum(w, C);
#pragma omp parallel for num_threads(vt_ctx_threads(c)) if (S * C > PAR_THRESHOLD) schedule(static)
    for (int64_t s = 0; s < S; s++) {
        const float *xr = x + s * C;
        float *dr = dx + s * C;
        const int64_t ts = t[s];
        if (ts == ignore_index) { /* also keeps an all-ignored mean's 0/0 scale out of the gradient */
            memset(dr, 0, (size_t)C * sizeof *dr);
            continue;
        }
        /* loss = Σ_k a_k·(lse − x_k) with a_k = (1−ε)·w_t·[k = t] + ε/C·w_k, so dx_k = g·(p_k·Σa − a_k) */
        const float gi = g[s * gs], l = lse[s], at = (1.0f - eps) * (w ? w[ts] : 1.0f), tot = at + sc * sw;
        if (w) {
#pragma omp simd
            for (int64_t k = 0; k < C; k++) dr[k] = gi * (vt_expf(xr[k] - l) * tot - sc * w[k]);
        } else {
#pragma omp simd
            for (int64_t k = 0; k < C; k++) dr[k] = gi * (vt_expf(xr[k] - l) * tot - sc);
        }
        dr[ts] -= gi * at;
    }
}

static void cpu_cross_entropy_soft(vt_ctx *c, const float *x, const float *p, const float *w, int64_t S, int64_t C,
                                   float eps, float *lse, float *loss) {
    const float sc = eps / (float)C;
#pragma omp parallel for num_threads(vt_ctx_threads(c)) if (S * C > PAR_THRESHOLD) schedule(static)
    for (int64_t s = 0; s < S; s++) {
        const float *xr = x + s * C, *pr = p + s * C;
        const float l = vt_row_logsumexp(xr, C);
        float v[VT_LANES] = {0};
        VT_LANE_FOR(C, j, k, v[k] += (w ? w[j] : 1.0f) * ((1.0f - eps) * pr[j] + sc) * (l - xr[j]););
        lse[s] = l;
        loss[s] = vt_lanes_sum(v);
    }
}

static void cpu_cross_entropy_soft_backward(vt_ctx *c, const float *x, const float *p, const float *w,
                                            const float *lse, const float *g, int64_t gs, int64_t S, int64_t C,
                                            float eps, float *dx) {
    const float sc = eps / (float)C;
#pragma omp parallel for num_threads(vt_ctx_threads(c)) if (S * C > PAR_THRESHOLD) schedule(static)
    for (int64_t s = 0; s < S; s++) {
        const float *xr = x + s * C, *pr = p + s * C;
        float *dr = dx + s * C;
        const float gi = g[s * gs], l = lse[s];
        float lanes[VT_LANES] = {0}; /* Σ_k a_k with a_k = w_k·q_k */
        VT_LANE_FOR(C, j, k, lanes[k] += (w ? w[j] : 1.0f) * ((1.0f - eps) * pr[j] + sc););
        const float tot = vt_lanes_sum(lanes);
#pragma omp simd
        for (int64_t k = 0; k < C; k++)
            dr[k] = gi * (vt_expf(xr[k] - l) * tot - (w ? w[k] : 1.0f) * ((1.0f - eps) * pr[k] + sc));
    }
}

/* softplus(−x) = log(1 + exp(−x)) without overflow for either sign of x. */
static inline float softplus_neg(float x) { return log1pf(vt_expf(-fabsf(x))) + (x < 0.0f ? -x : 0.0f); }

static void cpu_bce_with_logits(vt_ctx *c, const float *x, const float *t, const float *w, const float *pw,
                                float *loss, int64_t n) {
#pragma omp parallel for num_threads(vt_ctx_threads(c)) if (n > PAR_THRESHOLD) schedule(static)
    for (int64_t i = 0; i < n; i++) {
        const float lw = pw ? 1.0f + (pw[i] - 1.0f) * t[i] : 1.0f;
        const float v = (1.0f - t[i]) * x[i] + lw * softplus_neg(x[i]);
        loss[i] = w ? w[i] * v : v;
    }
}

static void cpu_bce_with_logits_backward(vt_ctx *c, const float *x, const float *t, const float *w, const float *pw,
                                         const float *g, int64_t gs, float *dx, float *dt, int64_t n) {
#pragma omp parallel for num_threads(vt_ctx_threads(c)) if (n > PAR_THRESHOLD) schedule(static)
    for (int64_t i = 0; i < n; i++) {
        const float gi = g[i * gs] * (w ? w[i] : 1.0f), p = pw ? pw[i] : 1.0f;
        if (dx) dx[i] = gi * ((1.0f + (p - 1.0f) * t[i]) * vt_sigmoidf(x[i]) - p * t[i]);
        if (dt) dt[i] = gi * ((p - 1.0f) * softplus_neg(x[i]) - x[i]);
    }
}

const vt_loss_kernels vt_cpu_loss_kernels = {
    .size = sizeof(vt_loss_kernels),
    .cross_entropy = cpu_cross_entropy,
    .cross_entropy_backward = cpu_cross_entropy_backward,
    .cross_entropy_soft = cpu_cross_entropy_soft,
    .cross_entropy_soft_backward = cpu_cross_entropy_soft_backward,
    .bce_with_logits = cpu_bce_with_logits,
    .bce_with_logits_backward = cpu_bce_with_logits_backward,
};
