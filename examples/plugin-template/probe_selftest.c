/* Checks the probe math against values worked out by hand. Exit 0 when all hold. */
#include <math.h>
#include <stdio.h>

#include "probe_math.h"

static int failures;

static void expect(const char *what, double got, double want) {
    if (fabs(got - want) > 1e-5 * (1 + fabs(want))) {
        fprintf(stderr, "FAIL %s: got %.8f, want %.8f\n", what, got, want);
        failures++;
    }
}

int main(void) {
    /* zero weights: every class equally likely, loss = ln(classes) whatever the smoothing */
    probe p;
    if (!probe_init(&p, 3, 4, true, false, 0.1, 0.0)) return 2;
    float feats[2 * 2 * 3] = {1, 2, 3, 4, 5, 6, -1, 0, 1, 2, 2, 2};
    int64_t labels[2] = {0, 3};
    float logits[2 * 4];
    expect("uniform loss", probe_loss(&p, feats, 2, 2, labels, logits), log(4.0));

    /* one-hot weights on a 2-class, 2-dim probe: logits are the pooled features themselves */
    probe q;
    if (!probe_init(&q, 2, 2, false, true, 0.0, 0.0)) return 2;
    q.w[0] = 1, q.w[3] = 1; /* identity */
    float f2[1 * 2 * 2] = {2, 0, 9, 9}; /* cls token (2, 0); the second token is ignored with pool_cls */
    int64_t l2[1] = {0};
    expect("cls logits loss", probe_loss(&q, f2, 1, 2, l2, logits), log(1 + exp(-2.0)));
    expect("logit 0", logits[0], 2.0);
    expect("logit 1", logits[1], 0.0);
    q.pool_cls = false; /* mean of (2, 0) and (9, 9) = (5.5, 4.5) */
    probe_loss(&q, f2, 1, 2, l2, logits);
    expect("mean-pool logit 0", logits[0], 5.5);

    int64_t bad[1] = {7};
    if (!isnan(probe_loss(&q, f2, 1, 2, bad, logits))) {
        fprintf(stderr, "FAIL: out-of-range label accepted\n");
        failures++;
    }
    probe_free(&p);
    probe_free(&q);
    if (!failures) printf("probe_selftest: all checks passed\n");
    return failures ? 1 : 0;
}
