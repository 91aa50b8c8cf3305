/* Gradient checkpointing: y = fn(x) runs under no_grad, so none of fn's activations outlive the forward;
 * the node keeps only x and the RNG offset fn started from. Its backward re-runs fn with grad on (same
 * offset, so dropout masks repeat exactly), then backpropagates the upstream gradient through the recomputed
 * graph with a nested vt_backward_with. That nested pass accumulates parameter gradients straight into the
 * leaves fn reaches, and x's gradient into a detached leaf alias of x, which this node hands on. Memory: one
 * block's activations live at a time in backward instead of every block's for the whole step. */
#include <stdlib.h>

#include "autograd/node.h"
#include "visft/autograd.h"
#include "visft/nn.h"
#include "visft/ops.h"

typedef struct ckpt_extra {
    vt_checkpoint_fn fn;
    void *user;
    uint64_t rng_offset;
} ckpt_extra;

static void ckpt_free(vt_node *n) { free(n->extra); }

static vt_status ckpt_backward(vt_ctx *c, vt_node *n, vt_tensor *gy, vt_tensor **grad_in) {
    const ckpt_extra *e = n->extra;
    vt_tensor *x = vt_alias(c, n->saved[0]); /* a fresh leaf: the recomputed graph stops here */
    if (!x) return c->err.code;
    bool want_x = n->inputs[0] != NULL;
    if (want_x && vt_set_requires_grad(x, true) != VT_OK) return c->err.code;
    uint64_t rng_now = vt_ctx_rng_offset(c);
    int depth = c->no_grad_depth; /* backward runs under no_grad; the recompute must record a graph */
    vt_ctx_set_rng_offset(c, e->rng_offset);
    c->no_grad_depth = 0;
    vt_tensor *y = e->fn(c, e->user, x);
    c->no_grad_depth = depth;
    vt_ctx_set_rng_offset(c, rng_now);
    if (!y) return vt_ctx_ok(c) ? vt_ctx_fail(c, VT_ESTATE, "checkpoint: recomputation returned NULL") : c->err.code;
    if (!vt_same_shape(y, gy))
        return vt_ctx_fail(c, VT_ESTATE, "checkpoint: recomputation changed the output shape");
    if (!y->requires_grad) return VT_OK; /* nothing inside needed a gradient after all */
    vt_status st = vt_backward_with(c, y, gy);
    if (st == VT_OK && want_x) grad_in[0] = x->grad; /* owned by x, which lives until this scope pops */
    return st;
}

vt_tensor *vt_checkpoint(vt_ctx *c, vt_checkpoint_fn fn, void *user, vt_tensor *x, int n_params,
                         vt_tensor *const *params) {
    if (!vt_ctx_ok(c) || !x) return NULL;
    if (!fn) {
        vt_ctx_fail(c, VT_EINVAL, "checkpoint: NULL function");
        return NULL;
    }
    bool need = vt_grad_enabled(c) && x->requires_grad;
    for (int i = 0; i < n_params && !need && vt_grad_enabled(c); i++) need = params[i] && params[i]->requires_grad;
    if (!need) return fn(c, user, x);

    uint64_t rng_offset = vt_ctx_rng_offset(c);
    /* fn's intermediates live in a scope of their own, released right away; only y moves out to the caller's */
    vt_no_grad_begin(c);
    vt_scope_push(c);
    vt_tensor *y = vt_tensor_retain(fn(c, user, x));
    vt_scope_pop(c);
    vt_no_grad_end(c);
    if (!y) return NULL;
    vt_scope_adopt(c, y);
    if (y == x || y->storage == x->storage) /* a view of x would make x's own graph ambiguous: copy it */
        y = vt_contiguous(c, vt_mul_scalar(c, y, 1.0));
    ckpt_extra *e = malloc(sizeof *e);
    if (!e) {
        vt_ctx_fail(c, VT_ENOMEM, "checkpoint: out of memory");
        return NULL;
    }
    *e = (ckpt_extra){fn, user, rng_offset};
    vt_node *n = vt_node_attach(c, y, "checkpoint", ckpt_backward, 1, &x);
    if (!n) {
        free(e);
        return NULL;
    }
    n->extra = e;
    n->free_extra = ckpt_free;
    if (vt_node_save(c, n, 0, x) != VT_OK) return NULL;
    return y;
}
