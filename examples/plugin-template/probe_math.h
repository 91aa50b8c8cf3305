/* The linear probe's math in plain C floats: pooling a ViT feature map, logits, cross-entropy with label
 * smoothing. Kept free of visft types so it can be checked on its own (probe_selftest.c); the plugin calls
 * it once features arrive as visft tensors. */
#ifndef PROBE_MATH_H
#define PROBE_MATH_H

#include <stdbool.h>
#include <stdint.h>

typedef struct probe {
    int64_t dim, classes;
    float *w; /* classes x dim, row-major */
    float *b; /* classes, or NULL without bias */
    bool pool_cls;     /* true: use token 0 (class token); false: mean over all tokens */
    double smoothing;  /* label smoothing epsilon in [0, 1) */
} probe;

/* Allocates weights ~ N(0, init_std²) from a fixed seed (reproducible), bias zero. false on OOM. */
bool probe_init(probe *p, int64_t dim, int64_t classes, bool bias, bool pool_cls, double smoothing, double init_std);
void probe_free(probe *p);

/* features: batch x tokens x dim. logits (out): batch x classes. */
void probe_logits(const probe *p, const float *features, int64_t batch, int64_t tokens, float *logits);

/* Mean over the batch of smoothed cross-entropy; labels in [0, classes). Returns NAN for a bad label. */
double probe_loss(const probe *p, const float *features, int64_t batch, int64_t tokens, const int64_t *labels,
                  float *logits_scratch);

#endif
