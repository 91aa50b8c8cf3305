/* Test helpers: deterministic random tensors, closeness checks, finite-difference gradient checks and
 * golden-file access. */
#ifndef VT_TESTUTIL_H
#define VT_TESTUTIL_H

#include <stdbool.h>
#include <stdint.h>

#include "visft/autograd.h"
#include "visft/context.h"
#include "visft/ops.h"
#include "visft/tensor.h"

vt_ctx *vt_test_ctx(void);

/* Normal(0, scale²) values from a fixed seed (xorshift + Box-Muller), in the current scope. */
vt_tensor *vt_test_randn(vt_ctx *c, int ndim, const int64_t *shape, uint64_t seed, float scale);
/* Uniform [lo, hi) values. */
vt_tensor *vt_test_uniform(vt_ctx *c, int ndim, const int64_t *shape, uint64_t seed, float lo, float hi);
/* A caller-owned leaf that requires grad, filled like vt_test_randn. */
vt_tensor *vt_test_param(vt_ctx *c, int ndim, const int64_t *shape, uint64_t seed, float scale);

/* Max |a-b| / (atol + rtol·|b|) over elements; <= 1 means close. Writes a description of the worst element. */
double vt_test_close_ratio(const vt_tensor *a, const vt_tensor *b, double atol, double rtol, char *why, size_t len);
/* Check-style assertion: shapes equal and all elements close. */
#define VT_ASSERT_CLOSE(a, b, atol, rtol)                                                   \
    do {                                                                                    \
        char why_[256];                                                                     \
        double r_ = vt_test_close_ratio((a), (b), (atol), (rtol), why_, sizeof why_);       \
        ck_assert_msg(r_ <= 1.0, "%s vs %s: %s", #a, #b, why_);                             \
    } while (0)

/* The function under a gradient check: builds an output from inputs (all in the current scope). */
typedef vt_tensor *(*vt_test_fn)(vt_ctx *c, vt_tensor **inputs, void *user);

/* Compares backward's gradients of sum(fn(inputs) · R) (R fixed random) with central differences, for every
 * input that requires grad. Returns true when all match; otherwise writes the worst mismatch to why. */
bool vt_gradcheck(vt_ctx *c, vt_test_fn fn, int n, vt_tensor **inputs, void *user, double eps, double atol,
                  double rtol, char *why, size_t len);
#define VT_ASSERT_GRADCHECK(c, fn, n, inputs, user)                                                  \
    do {                                                                                             \
        char why_[512];                                                                              \
        ck_assert_msg(vt_gradcheck((c), (fn), (n), (inputs), (user), 1e-2, 2e-3, 2e-2, why_, sizeof why_), \
                      "gradcheck %s: %s", #fn, why_);                                               \
    } while (0)

#endif
