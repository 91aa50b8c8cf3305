/* Linear probe math (see probe_math.h). Cross-entropy uses log-sum-exp shifted by the row max so large
 * logits cannot overflow. */
#include "probe_math.h"

#include <math.h>
#include <stdlib.h>

static uint64_t xorshift(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static double uniform(uint64_t *s) { return ((double)(xorshift(s) >> 11) + 0.5) / 9007199254740992.0; }

bool probe_init(probe *p, int64_t dim, int64_t classes, bool bias, bool pool_cls, double smoothing, double init_std) {
    p->dim = dim;
    p->classes = classes;
    p->pool_cls = pool_cls;
    p->smoothing = smoothing;
    p->w = malloc((size_t)(dim * classes) * sizeof *p->w);
    p->b = bias ? calloc((size_t)classes, sizeof *p->b) : NULL;
    if (!p->w || (bias && !p->b)) {
        probe_free(p);
        return false;
    }
    uint64_t seed = 0x9E3779B97F4A7C15ull;
    for (int64_t i = 0; i < dim * classes; i++) /* Box-Muller */
        p->w[i] = (float)(init_std * sqrt(-2.0 * log(uniform(&seed))) * cos(6.283185307179586 * uniform(&seed)));
    return true;
}

void probe_free(probe *p) {
    free(p->w);
    free(p->b);
    p->w = p->b = NULL;
}

void probe_logits(const probe *p, const float *features, int64_t batch, int64_t tokens, float *logits) {
    for (int64_t n = 0; n < batch; n++) {
        const float *f = features + n * tokens * p->dim;
        for (int64_t c = 0; c < p->classes; c++) {
            double acc = 0;
            for (int64_t t = 0; t < (p->pool_cls ? 1 : tokens); t++)
                for (int64_t d = 0; d < p->dim; d++) acc += (double)f[t * p->dim + d] * p->w[c * p->dim + d];
            if (!p->pool_cls) acc /= (double)tokens;
            logits[n * p->classes + c] = (float)(acc + (p->b ? p->b[c] : 0.0f));
        }
    }
}

double probe_loss(const probe *p, const float *features, int64_t batch, int64_t tokens, const int64_t *labels,
                  float *logits) {
    probe_logits(p, features, batch, tokens, logits);
    double total = 0;
    for (int64_t n = 0; n < batch; n++) {
        if (labels[n] < 0 || labels[n] >= p->classes) return NAN;
        const float *z = logits + n * p->classes;
        double max = z[0], sum = 0, mean_z = 0;
        for (int64_t c = 1; c < p->classes; c++) max = z[c] > max ? z[c] : max;
        for (int64_t c = 0; c < p->classes; c++) {
            sum += exp(z[c] - max);
            mean_z += z[c];
        }
        double lse = max + log(sum);
        mean_z /= (double)p->classes;
        /* smoothed target: (1 - eps) on the label, eps spread evenly over all classes */
        total += (1.0 - p->smoothing) * (lse - z[labels[n]]) + p->smoothing * (lse - mean_z);
    }
    return total / (double)batch;
}
