/* Golden files: PyTorch reference results written by tests/ref/gen_*.py (see tests/ref/golden.py for the
 * key layout) and compared against visft's ops. */
#ifndef VT_GOLDEN_H
#define VT_GOLDEN_H

#include "testutil.h"

typedef struct vt_golden vt_golden;

/* Opens tests/golden/<file>; fails the current test with the reason if it cannot. */
vt_golden *vt_golden_open(const char *file);
void vt_golden_close(vt_golden *g);
/* Tensor `key` as a scope-owned tensor (f32, i64, i32, u8 or bool), or NULL when absent. */
vt_tensor *vt_golden_get(vt_ctx *c, vt_golden *g, const char *key);

/* Runs one case: loads NAME.in.*, marks those with NAME.grad.* as requiring grad, calls fn, compares the
 * output with NAME.out and, when NAME.gout exists, every gradient with NAME.grad.* (Check assertions). */
void vt_golden_check(vt_ctx *c, vt_golden *g, const char *name, vt_test_fn fn, void *user, double atol, double rtol);

#endif
