/* Autograd graph nodes (internal API for op implementations).
 *
 * An op whose inputs require grad (with grad mode on) attaches a node to its output: the node keeps
 * references to the inputs that need gradients (to route them), detached aliases of any tensors the
 * backward formula needs (saved), and a few scalar attributes. Backward visits nodes in reverse creation
 * order — a valid topological order in a define-by-run graph — and frees each node's saved tensors as soon as
 * it has run. */
#ifndef VISFT_CORE_AUTOGRAD_NODE_H
#define VISFT_CORE_AUTOGRAD_NODE_H

#include "tensor/internal.h"

#define VT_NODE_MAX_INPUTS 12
#define VT_NODE_MAX_SAVED 16
#define VT_NODE_MAX_ATTRS 24

/* Computes the gradients of the node's inputs from the gradient of its output.
 * grad_in[i] must be set for every i with n->inputs[i] != NULL that needs a gradient (NULL means zero).
 * Tensors written to grad_in belong to the current scope (the engine retains what it keeps). */
typedef vt_status (*vt_backward_fn)(vt_ctx *c, vt_node *n, vt_tensor *grad_out, vt_tensor **grad_in);

/* Optional cleanup of op-owned extra data. */
typedef void (*vt_node_free_fn)(vt_node *n);

struct vt_node {
    const char *op;
    vt_backward_fn backward;
    int64_t seq;
    int n_inputs;
    vt_tensor *inputs[VT_NODE_MAX_INPUTS]; /* retained; NULL: no gradient needed for that slot */
    vt_tensor *saved[VT_NODE_MAX_SAVED];   /* retained detached aliases */
    int64_t iattr[VT_NODE_MAX_ATTRS];
    double fattr[VT_NODE_MAX_ATTRS];
    int64_t out_shape[VT_MAX_DIMS];       /* output geometry, for reductions and views */
    int out_ndim;
    void *extra;                           /* op-owned, freed by free_extra */
    vt_node_free_fn free_extra;
    /* engine bookkeeping */
    vt_ctx *ctx;                           /* owner: freed nodes return to its pool */
    vt_node *next_free;
    vt_tensor *grad_acc;                   /* gradient flowing into the output during backward */
    int mark;
};

/* True when an op over these inputs must record a node (grad mode on and any input requires grad). */
bool vt_needs_grad(vt_ctx *c, int n, vt_tensor *const *inputs);
/* Creates a node for `out`, marks out->requires_grad, and retains those of inputs[0..n) that require grad
 * (others stay NULL). Returns NULL (ctx error) on failure. */
vt_node *vt_node_attach(vt_ctx *c, vt_tensor *out, const char *op, vt_backward_fn backward, int n,
                        vt_tensor *const *inputs);
/* Saves a detached alias of t in slot i (shares storage; no grad_fn, so no reference cycle). */
vt_status vt_node_save(vt_ctx *c, vt_node *n, int i, vt_tensor *t);
void vt_node_free(vt_node *n);

/* Detached alias: a new scope-owned tensor struct sharing t's storage and geometry, with no autograd. */
vt_tensor *vt_alias(vt_ctx *c, const vt_tensor *t);

#endif
