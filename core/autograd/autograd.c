/* The backward engine and node bookkeeping.
 *
 * Order: node sequence numbers grow as ops run, so visiting reachable nodes in decreasing sequence is a
 * topological order of the reversed graph. Each node's backward runs inside its own scope; the gradients it
 * produces are kept (retained) only as long as the nodes that consume them need them. */
#include <stdlib.h>
#include <string.h>

#include "autograd/node.h"
#include "ops/elementwise_kernels.h"
#include "visft/autograd.h"

bool vt_needs_grad(vt_ctx *c, int n, vt_tensor *const *inputs) {
    if (!vt_grad_enabled(c)) return false;
    for (int i = 0; i < n; i++)
        if (inputs[i] && inputs[i]->requires_grad) return true;
    return false;
}

vt_node *vt_node_attach(vt_ctx *c, vt_tensor *out, const char *op, vt_backward_fn backward, int n,
                        vt_tensor *const *inputs) {
    if (!out) return NULL;
    if (n > VT_NODE_MAX_INPUTS) {
        vt_ctx_fail(c, VT_EINVAL, "%s: too many autograd inputs (%d)", op, n);
        return NULL;
    }
    /* nodes come from the context's pool: a training step records thousands of them */
    vt_node *node = c->node_pool;
    if (node) {
        c->node_pool = node->next_free;
        memset(node, 0, sizeof *node);
    } else {
        node = calloc(1, sizeof *node);
    }
    if (!node) {
        vt_ctx_fail(c, VT_ENOMEM, "%s: out of memory recording the autograd graph", op);
        return NULL;
    }
    node->op = op;
    node->ctx = c;
    node->backward = backward;
    node->seq = ++c->node_seq;
    node->n_inputs = n;
    for (int i = 0; i < n; i++)
        if (inputs[i] && inputs[i]->requires_grad) node->inputs[i] = vt_tensor_retain(inputs[i]);
    node->out_ndim = out->ndim;
    memcpy(node->out_shape, out->shape, sizeof out->shape);
    out->grad_fn = node;
    out->requires_grad = true;
    return node;
}

vt_status vt_node_save(vt_ctx *c, vt_node *n, int i, vt_tensor *t) {
    if (!n || !t || i < 0 || i >= VT_NODE_MAX_SAVED) return vt_ctx_fail(c, VT_EINVAL, "node_save: bad slot");
    vt_tensor *a = vt_tensor_view_raw(c, t->storage, t->dtype, t->ndim, t->shape, t->stride, t->offset);
    if (!a) return c->err.code;
    vt_tensor_release(n->saved[i]);
    n->saved[i] = a;
    return VT_OK;
}

static void node_drop_refs(vt_node *n) {
    for (int i = 0; i < VT_NODE_MAX_INPUTS; i++) {
        vt_tensor_release(n->inputs[i]);
        n->inputs[i] = NULL;
    }
    for (int i = 0; i < VT_NODE_MAX_SAVED; i++) {
        vt_tensor_release(n->saved[i]);
        n->saved[i] = NULL;
    }
    vt_tensor_release(n->grad_acc);
    n->grad_acc = NULL;
    if (n->free_extra) n->free_extra(n);
    n->free_extra = NULL;
    n->extra = NULL;
}

void vt_node_free(vt_node *n) {
    if (!n) return;
    node_drop_refs(n);
    n->next_free = n->ctx->node_pool;
    n->ctx->node_pool = n;
}

/* ---- gradient accumulation ---- */

static void add_into(vt_ctx *c, float *dst, const float *src, int64_t n) {
#pragma omp parallel for simd num_threads(c->threads) if (n > 65536)
    for (int64_t i = 0; i < n; i++) dst[i] += src[i];
}

/* dst (contiguous) += g on a non-CPU device, through the device's elementwise add (g may be strided). */
static vt_status add_into_device(vt_ctx *c, vt_tensor *dst, vt_tensor *g, const char *op) {
    const vt_elementwise_kernels *k = vt_kernels(c, dst->device, VT_FAM_ELEMENTWISE, op);
    if (!k) return c->err.code;
    k->binary(c, VT_BIN_ADD, dst, g, dst);
    return vt_ctx_ok(c) ? VT_OK : c->err.code;
}

/* Adds g into *slot, taking g over when *slot is empty and g can safely be owned exclusively. */
static vt_status accumulate(vt_ctx *c, vt_tensor **slot, vt_tensor *g, const vt_tensor *like, const char *op) {
    if (!vt_same_shape(g, like) || g->dtype != VT_F32) {
        char a[VT_SHAPE_STR_MAX], b[VT_SHAPE_STR_MAX];
        return vt_ctx_fail(c, VT_ESHAPE, "backward of %s: gradient %s %s does not match input %s %s", op,
                           vt_shape_str(g, a, sizeof a), vt_dtype_name(g->dtype), vt_shape_str(like, b, sizeof b),
                           vt_dtype_name(like->dtype));
    }
    if (!vt_device_equal(g->device, like->device)) {
        char a[16], b[16];
        return vt_ctx_fail(c, VT_EINVAL, "backward of %s: gradient on %s for an input on %s", op,
                           vt_device_str(g->device, a, sizeof a), vt_device_str(like->device, b, sizeof b));
    }
    if (!*slot) {
        /* take g over only when nothing else can see its memory (a pass-through gradient handed to two
         * inputs, or a saved activation, must be copied, or in-place accumulation would corrupt it) */
        if (vt_is_contiguous(g) && g->refcount == 1 && g->storage->refcount == 1 && g->grad_fn == NULL) {
            *slot = vt_tensor_retain(g);
        } else {
            vt_tensor *fresh = vt_tensor_create_on(c, g->device, VT_F32, g->ndim, g->shape);
            if (!fresh) return c->err.code;
            vt_status st = vt_copy_(c, fresh, g);
            if (st != VT_OK) {
                vt_tensor_release(fresh);
                return st;
            }
            *slot = fresh;
        }
        return VT_OK;
    }
    vt_tensor *dst = *slot;
    if (dst->device.kind != VT_DEVICE_CPU) return add_into_device(c, dst, g, op);
    if (vt_is_contiguous(g)) {
        add_into(c, (float *)dst->data, (const float *)g->data, vt_numel(g));
        return VT_OK;
    }
    vt_tensor *tmp = vt_tensor_create(c, VT_F32, g->ndim, g->shape);
    if (!tmp) return c->err.code;
    vt_status st = vt_copy_(c, tmp, g);
    if (st == VT_OK) add_into(c, (float *)dst->data, (const float *)tmp->data, vt_numel(g));
    vt_tensor_release(tmp);
    return st;
}

static int cmp_seq_desc(const void *a, const void *b) {
    const vt_node *x = *(vt_node *const *)a, *y = *(vt_node *const *)b;
    return x->seq < y->seq ? 1 : x->seq > y->seq ? -1 : 0;
}

/* Collects every node reachable from root (iterative DFS; graphs can be thousands of nodes deep). */
static vt_node **collect(vt_ctx *c, vt_node *root, size_t *count) {
    size_t cap = 1024, n = 0, sp = 0, scap = 1024;
    vt_node **out = malloc(cap * sizeof *out), **stack = malloc(scap * sizeof *stack);
    if (!out || !stack) goto oom;
    int mark = (int)(c->node_seq & 0x3fffffff) + 1;
    stack[sp++] = root;
    root->mark = mark;
    while (sp) {
        vt_node *nd = stack[--sp];
        if (n == cap) {
            vt_node **o = realloc(out, (cap *= 2) * sizeof *out);
            if (!o) goto oom;
            out = o;
        }
        out[n++] = nd;
        for (int i = 0; i < nd->n_inputs; i++) {
            vt_tensor *in = nd->inputs[i];
            if (!in || !in->grad_fn || in->grad_fn->mark == mark) continue;
            in->grad_fn->mark = mark;
            if (sp == scap) {
                vt_node **s = realloc(stack, (scap *= 2) * sizeof *stack);
                if (!s) goto oom;
                stack = s;
            }
            stack[sp++] = in->grad_fn;
        }
    }
    free(stack);
    qsort(out, n, sizeof *out, cmp_seq_desc);
    *count = n;
    return out;
oom:
    free(out);
    free(stack);
    vt_ctx_fail(c, VT_ENOMEM, "backward: out of memory walking the graph");
    return NULL;
}

vt_status vt_backward_with(vt_ctx *c, vt_tensor *out, vt_tensor *grad_out) {
    if (!vt_ctx_ok(c)) return c->err.code;
    if (!out || !grad_out) return vt_ctx_fail(c, VT_EINVAL, "backward: NULL tensor");
    if (!out->requires_grad) return vt_ctx_fail(c, VT_ESTATE, "backward: tensor does not require grad");
    if (!out->grad_fn) /* a leaf: its gradient is the seed itself */
        return accumulate(c, &out->grad, grad_out, out, "backward");
    if (!out->grad_fn->backward)
        return vt_ctx_fail(c, VT_ESTATE, "backward: graph already consumed by an earlier backward");

    size_t count = 0;
    vt_node **order = collect(c, out->grad_fn, &count);
    if (!order) return c->err.code;
    vt_status st = accumulate(c, &out->grad_fn->grad_acc, grad_out, out, "backward");

    vt_no_grad_begin(c);
    for (size_t k = 0; k < count && st == VT_OK; k++) {
        vt_node *n = order[k];
        if (!n->grad_acc) { /* no gradient reached this node (e.g. a discarded branch) */
            node_drop_refs(n);
            n->backward = NULL;
            continue;
        }
        if (!n->backward) {
            st = vt_ctx_fail(c, VT_ESTATE, "backward: graph through %s already consumed", n->op);
            break;
        }
        vt_tensor *grad_in[VT_NODE_MAX_INPUTS] = {0};
        vt_scope_push(c);
        st = n->backward(c, n, n->grad_acc, grad_in);
        if (st == VT_OK && !vt_ctx_ok(c)) st = c->err.code;
        for (int i = 0; i < n->n_inputs && st == VT_OK; i++) {
            vt_tensor *in = n->inputs[i];
            if (!in || !grad_in[i]) continue;
            vt_tensor **slot = in->grad_fn ? &in->grad_fn->grad_acc : &in->grad;
            st = accumulate(c, slot, grad_in[i], in, n->op);
        }
        vt_scope_pop(c);
        node_drop_refs(n);
        n->backward = NULL;
    }
    vt_no_grad_end(c);
    /* on failure, release whatever is still held */
    for (size_t k = 0; k < count; k++) node_drop_refs(order[k]);
    free(order);
    return st;
}

vt_status vt_backward(vt_ctx *c, vt_tensor *loss) {
    if (!vt_ctx_ok(c)) return c->err.code;
    if (!loss) return vt_ctx_fail(c, VT_EINVAL, "backward: NULL loss");
    if (vt_numel(loss) != 1) {
        char s[VT_SHAPE_STR_MAX];
        return vt_ctx_fail(c, VT_ESHAPE, "backward: loss must have one element, got shape %s",
                           vt_shape_str(loss, s, sizeof s));
    }
    vt_scope_push(c);
    vt_tensor *seed = vt_full_on(c, loss->device, VT_F32, loss->ndim, loss->shape, 1.0);
    vt_status st = seed ? vt_backward_with(c, loss, seed) : c->err.code;
    vt_scope_pop(c);
    return st;
}

vt_status vt_set_requires_grad(vt_tensor *t, bool requires_grad) {
    if (!t) return VT_EINVAL;
    if (t->grad_fn) return vt_ctx_fail(t->ctx, VT_ESTATE, "set_requires_grad: only leaves can change it");
    if (requires_grad && t->dtype != VT_F32)
        return vt_ctx_fail(t->ctx, VT_EDTYPE, "set_requires_grad: only f32 tensors can require grad (got %s)",
                           vt_dtype_name(t->dtype));
    t->requires_grad = requires_grad;
    return VT_OK;
}

void vt_zero_grad(vt_tensor *t) {
    if (!t) return;
    vt_tensor_release(t->grad);
    t->grad = NULL;
}

vt_tensor *vt_detach(vt_ctx *c, vt_tensor *t) {
    if (!vt_ctx_ok(c) || !t) return NULL;
    return vt_alias(c, t);
}
