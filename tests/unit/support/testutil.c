/* Test helpers (see testutil.h). */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

vt_ctx *vt_test_ctx(void) {
    vt_ctx_options o = {.threads = 2, .seed = 1234};
    return vt_ctx_create(&o);
}

static uint64_t next_u64(uint64_t *s) {
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    return x;
}
static double next_unit(uint64_t *s) { return ((double)(next_u64(s) >> 11) + 0.5) / 9007199254740992.0; }

vt_tensor *vt_test_randn(vt_ctx *c, int ndim, const int64_t *shape, uint64_t seed, float scale) {
    vt_tensor *t = vt_empty(c, VT_F32, ndim, shape);
    if (!t) return NULL;
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    float *p = vt_f32(t);
    for (int64_t i = 0; i < vt_numel(t); i++) {
        double u1 = next_unit(&s), u2 = next_unit(&s);
        p[i] = (float)(scale * sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
    }
    return t;
}

vt_tensor *vt_test_uniform(vt_ctx *c, int ndim, const int64_t *shape, uint64_t seed, float lo, float hi) {
    vt_tensor *t = vt_empty(c, VT_F32, ndim, shape);
    if (!t) return NULL;
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 7;
    float *p = vt_f32(t);
    for (int64_t i = 0; i < vt_numel(t); i++) p[i] = lo + (hi - lo) * (float)next_unit(&s);
    return t;
}

vt_tensor *vt_test_param(vt_ctx *c, int ndim, const int64_t *shape, uint64_t seed, float scale) {
    vt_tensor *t = vt_tensor_create(c, VT_F32, ndim, shape);
    if (!t) return NULL;
    vt_scope_push(c);
    vt_tensor *r = vt_test_randn(c, ndim, shape, seed, scale);
    if (r) vt_copy_(c, t, r);
    vt_scope_pop(c);
    vt_set_requires_grad(t, true);
    return t;
}

double vt_test_close_ratio(const vt_tensor *a, const vt_tensor *b, double atol, double rtol, char *why, size_t len) {
    char sa[VT_SHAPE_STR_MAX], sb[VT_SHAPE_STR_MAX];
    if (!a || !b) {
        snprintf(why, len, "NULL tensor (%s)", !a ? "actual" : "expected");
        return INFINITY;
    }
    if (vt_numel(a) != vt_numel(b)) {
        snprintf(why, len, "shapes differ: %s vs %s", vt_shape_str(a, sa, sizeof sa), vt_shape_str(b, sb, sizeof sb));
        return INFINITY;
    }
    double worst = 0.0;
    int64_t wi = -1;
    for (int64_t i = 0; i < vt_numel(a); i++) {
        double x = vt_item_at(a, i), y = vt_item_at(b, i);
        double diff = fabs(x - y);
        double r = diff == 0.0 ? 0.0 : diff / (atol + rtol * fabs(y));
        if (isnan(x) != isnan(y)) r = INFINITY;
        if (r > worst || (wi < 0 && r != r)) {
            worst = r;
            wi = i;
        }
    }
    if (wi >= 0)
        snprintf(why, len, "worst element %lld: %.8g vs %.8g (ratio %.3g to tolerance)", (long long)wi,
                 vt_item_at(a, wi), vt_item_at(b, wi), worst);
    else
        snprintf(why, len, "all equal");
    return worst;
}

/* loss = sum(fn(inputs) * R) computed in double from the f32 output, for finite differences */
static double eval_loss(vt_ctx *c, vt_test_fn fn, vt_tensor **inputs, void *user, const vt_tensor *R) {
    vt_scope_push(c);
    vt_no_grad_begin(c);
    vt_tensor *y = fn(c, inputs, user);
    double s = NAN;
    if (y && vt_numel(y) == vt_numel(R)) {
        s = 0.0;
        for (int64_t i = 0; i < vt_numel(y); i++) s += vt_item_at(y, i) * vt_item_at(R, i);
    }
    vt_no_grad_end(c);
    vt_scope_pop(c);
    return s;
}

bool vt_gradcheck(vt_ctx *c, vt_test_fn fn, int n, vt_tensor **inputs, void *user, double eps, double atol,
                  double rtol, char *why, size_t len) {
    vt_scope_push(c);
    bool ok = true;
    for (int i = 0; i < n; i++) vt_zero_grad(inputs[i]);
    vt_tensor *y = fn(c, inputs, user);
    if (!y) {
        snprintf(why, len, "forward failed: %s", vt_ctx_error(c)->msg);
        vt_scope_pop(c);
        return false;
    }
    vt_tensor *R = vt_test_randn(c, y->ndim, y->shape, 99, 1.0f);
    vt_tensor *loss = vt_sum_all(c, vt_mul(c, y, R));
    if (!loss || vt_backward(c, loss) != VT_OK) {
        snprintf(why, len, "backward failed: %s", vt_ctx_error(c)->msg);
        vt_scope_pop(c);
        return false;
    }
    for (int i = 0; i < n && ok; i++) {
        vt_tensor *x = inputs[i];
        if (!x->requires_grad) continue;
        if (!x->grad) {
            snprintf(why, len, "input %d received no gradient", i);
            ok = false;
            break;
        }
        float *p = vt_f32(x);
        for (int64_t j = 0; j < vt_numel(x); j++) {
            float keep = p[j];
            p[j] = keep + (float)eps;
            double lp = eval_loss(c, fn, inputs, user, R);
            p[j] = keep - (float)eps;
            double lm = eval_loss(c, fn, inputs, user, R);
            p[j] = keep;
            double num = (lp - lm) / (2.0 * eps);
            double ana = vt_item_at(x->grad, j);
            if (!(fabs(num - ana) <= atol + rtol * fabs(num))) {
                snprintf(why, len, "input %d element %lld: analytic %.6g, numeric %.6g", i, (long long)j, ana, num);
                ok = false;
                break;
            }
        }
    }
    vt_scope_pop(c);
    return ok;
}
