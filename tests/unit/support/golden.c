/* Golden-file access for op parity tests. */
#include "golden.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "visft/safetensors.h"

struct vt_golden {
    vt_st_file *f;
};

vt_golden *vt_golden_open(const char *file) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", VISFT_GOLDEN_DIR, file);
    vt_err err = {0};
    vt_golden *g = calloc(1, sizeof *g);
    ck_assert_ptr_nonnull(g);
    if (vt_st_open(path, &g->f, &err) != VT_OK) ck_abort_msg("cannot open golden file: %s", err.msg);
    return g;
}

void vt_golden_close(vt_golden *g) {
    if (!g) return;
    vt_st_close(g->f);
    free(g);
}

vt_tensor *vt_golden_get(vt_ctx *c, vt_golden *g, const char *key) {
    const vt_st_tensor *st = vt_st_find(g->f, key);
    if (!st) return NULL;
    vt_dtype dt = st->dtype == VT_F16 || st->dtype == VT_BF16 ? VT_F32 : st->dtype;
    vt_tensor *t = vt_empty(c, dt, st->ndim, st->shape);
    if (!t) return NULL;
    vt_err err = {0};
    vt_status s = VT_OK;
    if (dt == VT_F32)
        s = vt_st_read_f32(g->f, st, vt_f32(t), (size_t)vt_numel(t), &err);
    else if (vt_nbytes(t) == st->nbytes)
        memcpy(t->data, st->data, st->nbytes);
    else
        s = VT_EFORMAT;
    if (s != VT_OK) ck_abort_msg("golden tensor %s: %s", key, err.msg);
    return t;
}

void vt_golden_check(vt_ctx *c, vt_golden *g, const char *name, vt_test_fn fn, void *user, double atol, double rtol) {
    char key[256];
    vt_tensor *inputs[16] = {0};
    bool owned[16] = {0};
    int n = 0;
    vt_scope_push(c);
    for (; n < 16; n++) {
        snprintf(key, sizeof key, "%s.in.%d", name, n);
        vt_tensor *x = vt_golden_get(c, g, key);
        if (!x) break;
        snprintf(key, sizeof key, "%s.grad.%d", name, n);
        if (vt_st_find(g->f, key)) { /* a leaf that requires grad must be caller-owned */
            vt_tensor *leaf = vt_tensor_create(c, VT_F32, x->ndim, x->shape);
            vt_copy_(c, leaf, x);
            vt_set_requires_grad(leaf, true);
            x = leaf;
            owned[n] = true;
        }
        inputs[n] = x;
    }
    ck_assert_msg(n > 0, "golden case %s has no inputs", name);
    vt_tensor *out = fn(c, inputs, user);
    ck_assert_msg(out != NULL, "%s: op failed: %s", name, vt_ctx_error(c)->msg);
    snprintf(key, sizeof key, "%s.out", name);
    vt_tensor *want = vt_golden_get(c, g, key);
    ck_assert_msg(want != NULL, "golden case %s has no output", name);
    char why[256];
    ck_assert_msg(vt_same_shape(out, want) || vt_numel(out) == vt_numel(want), "%s: output shape differs", name);
    double r = vt_test_close_ratio(out, want, atol, rtol, why, sizeof why);
    ck_assert_msg(r <= 1.0, "%s forward vs PyTorch: %s", name, why);
    snprintf(key, sizeof key, "%s.gout", name);
    vt_tensor *gout = vt_golden_get(c, g, key);
    if (gout) {
        gout = vt_reshape(c, gout, out->ndim, out->shape);
        ck_assert_msg(vt_backward_with(c, out, gout) == VT_OK, "%s backward: %s", name, vt_ctx_error(c)->msg);
        for (int i = 0; i < n; i++) {
            if (!owned[i]) continue;
            snprintf(key, sizeof key, "%s.grad.%d", name, i);
            vt_tensor *gw = vt_golden_get(c, g, key);
            ck_assert_msg(inputs[i]->grad != NULL, "%s: input %d got no gradient", name, i);
            r = vt_test_close_ratio(inputs[i]->grad, gw, atol, rtol, why, sizeof why);
            ck_assert_msg(r <= 1.0, "%s gradient of input %d vs PyTorch: %s", name, i, why);
        }
    }
    vt_scope_pop(c);
    for (int i = 0; i < n; i++)
        if (owned[i]) vt_tensor_release(inputs[i]);
}
