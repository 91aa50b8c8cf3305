/* CPU kernels of the optimizer family. Updates are one fused, vectorised pass per parameter (memory bound:
 * AdamW reads 4 and writes 3 floats per element), threaded for big tensors. Each element's arithmetic is
 * written in the order PyTorch's single-tensor AdamW/SGD applies its in-place ops, so results agree to the
 * last bit or two. The gradient norm sums fixed-size chunks in a fixed order, so it does not depend on the
 * thread count. */
#include <math.h>

#include "ops/optim_kernels.h"

#define PAR_THRESHOLD 32768 /* below this, threading costs more than it saves */
#define NORM_MIN_CHUNK 8192 /* elements per partial sum, at least */
#define NORM_MAX_CHUNKS 512 /* partial sums per tensor (a stack array: no allocation) */

static void cpu_adamw(vt_ctx *c, float *restrict p, const float *restrict g, float *restrict m, float *restrict v,
                      int64_t n, const vt_adamw_hparams *h) {
    const float decay = h->decay, b1 = h->beta1, b2 = h->beta2, omb1 = h->one_m_beta1, omb2 = h->one_m_beta2;
    const float nss = h->neg_step_size, bc2 = h->bc2_sqrt, eps = h->eps;
    const int nt = vt_ctx_threads(c);
#pragma omp parallel for simd num_threads(nt) if (n > PAR_THRESHOLD)
    for (int64_t i = 0; i < n; i++) {
        float gi = g[i];
        float mi = m[i] * b1 + omb1 * gi;      /* exp_avg.mul_(β1).add_(g, alpha=1−β1) */
        float vi = v[i] * b2 + omb2 * gi * gi; /* exp_avg_sq.mul_(β2).addcmul_(g, g, value=1−β2) */
        float denom = sqrtf(vi) / bc2 + eps;
        m[i] = mi;
        v[i] = vi;
        p[i] = p[i] * decay + nss * mi / denom; /* mul_(1−lr·wd), then addcdiv_(m, denom, value=−step) */
    }
}

/* One element of SGD. The flags are compile-time constants at each call site below, so every variant is a
 * separate branch-free loop (a runtime flag would reach OpenMP's outlined body as data and stop
 * vectorisation). */
static inline void sgd_elem(float *restrict p, const float *restrict g, float *restrict buf, int64_t i,
                            const vt_sgd_hparams *h, bool decay, bool mom, bool first, bool nesterov) {
    float d = g[i];
    if (decay) d = d + h->weight_decay * p[i];
    if (mom) {
        float b = first ? d : buf[i] * h->momentum + h->one_m_damp * d;
        buf[i] = b;
        d = nesterov ? d + h->momentum * b : b;
    }
    p[i] = p[i] + h->neg_lr * d;
}

#define SGD_LOOP(DECAY, MOM, FIRST, NESTEROV)                                      \
    do {                                                                           \
        _Pragma("omp parallel for simd num_threads(nt) if (n > PAR_THRESHOLD)")    \
        for (int64_t i = 0; i < n; i++) sgd_elem(p, g, buf, i, &hp, DECAY, MOM, FIRST, NESTEROV); \
    } while (0)

static void cpu_sgd(vt_ctx *c, float *p, const float *g, float *buf, int64_t n, const vt_sgd_hparams *h) {
    const int nt = vt_ctx_threads(c);
    const vt_sgd_hparams hp = *h;
    const bool decay = h->weight_decay != 0.0f;
    if (!buf || h->momentum == 0.0f) {
        if (decay) SGD_LOOP(true, false, false, false);
        else SGD_LOOP(false, false, false, false);
    } else if (h->first) {
        if (decay && h->nesterov) SGD_LOOP(true, true, true, true);
        else if (decay) SGD_LOOP(true, true, true, false);
        else if (h->nesterov) SGD_LOOP(false, true, true, true);
        else SGD_LOOP(false, true, true, false);
    } else {
        if (decay && h->nesterov) SGD_LOOP(true, true, false, true);
        else if (decay) SGD_LOOP(true, true, false, false);
        else if (h->nesterov) SGD_LOOP(false, true, false, true);
        else SGD_LOOP(false, true, false, false);
    }
}

/* Σ|x|^p of one chunk (max |x| for p = ∞, NaN if any element is NaN). */
static double chunk_norm_pow(const float *x, int64_t n, double p) {
    double s = 0.0;
    if (p == 2.0) {
#pragma omp simd reduction(+ : s)
        for (int64_t i = 0; i < n; i++) s += (double)x[i] * (double)x[i];
    } else if (p == 1.0) {
#pragma omp simd reduction(+ : s)
        for (int64_t i = 0; i < n; i++) s += fabs((double)x[i]);
    } else if (isinf(p)) {
        int nan = 0;
#pragma omp simd reduction(max : s) reduction(| : nan)
        for (int64_t i = 0; i < n; i++) {
            double a = fabs((double)x[i]);
            s = a > s ? a : s;
            nan |= a != a;
        }
        if (nan) s = NAN;
    } else {
        for (int64_t i = 0; i < n; i++) s += pow(fabs((double)x[i]), p);
    }
    return s;
}

static double cpu_norm_pow(vt_ctx *c, const float *x, int64_t n, double p) {
    /* the chunk size depends on n only, never on the thread count; one parallel region per tensor */
    int64_t chunk = (n + NORM_MAX_CHUNKS - 1) / NORM_MAX_CHUNKS;
    if (chunk < NORM_MIN_CHUNK) chunk = NORM_MIN_CHUNK;
    const int nchunks = (int)((n + chunk - 1) / chunk);
    double part[NORM_MAX_CHUNKS];
#pragma omp parallel for num_threads(vt_ctx_threads(c)) if (nchunks > 1 && n > PAR_THRESHOLD)
    for (int j = 0; j < nchunks; j++) {
        int64_t start = (int64_t)j * chunk;
        part[j] = chunk_norm_pow(x + start, n - start < chunk ? n - start : chunk, p);
    }
    const bool is_max = isinf(p);
    double total = 0.0;
    for (int j = 0; j < nchunks; j++) {
        if (!is_max) total += part[j];
        else if (isnan(part[j]) || part[j] > total) total = part[j]; /* NaN sticks: NaN > x is false */
    }
    return total;
}

const vt_optim_kernels vt_cpu_optim_kernels = {
    .size = sizeof(vt_optim_kernels),
    .adamw = cpu_adamw,
    .sgd = cpu_sgd,
    .norm_pow = cpu_norm_pow,
};
