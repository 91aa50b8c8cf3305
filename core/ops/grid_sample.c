/* grid_sample (bilinear, zero padding): argument checks and autograd for the input and the grid.
 * Kernels: grid_sample_cpu.c. */
#include "ops/op_util.h"
#include "ops/resample_kernels.h"
#include "visft/ops.h"

static vt_status grid_sample_backward(vt_ctx *c, vt_node *n, vt_tensor *gy, vt_tensor **grad_in) {
    vt_tensor *x = n->saved[0], *grid = n->saved[1];
    const vt_resample_kernels *k = vt_kernels(c, gy->device, VT_FAM_RESAMPLE, "grid_sample");
    gy = vt_contiguous_data(c, gy);
    vt_tensor *gx = n->inputs[0] ? vt_empty_on(c, x->device, VT_F32, x->ndim, x->shape) : NULL;
    vt_tensor *gg = n->inputs[1] ? vt_empty_on(c, x->device, VT_F32, grid->ndim, grid->shape) : NULL;
    if (!k || !gy || (n->inputs[0] && !gx) || (n->inputs[1] && !gg)) return c->err.code;
    k->grid_sample_backward(c, n->iattr[0] != 0, x->shape[0], x->shape[1], x->shape[2], x->shape[3], grid->shape[1],
                            grid->shape[2], vt_dptr_f32(x), vt_dptr_f32(grid), vt_dptr_f32(gy), gx ? vt_dptr_f32(gx) : NULL,
                            gg ? vt_dptr_f32(gg) : NULL);
    grad_in[0] = gx;
    grad_in[1] = gg;
    return VT_OK;
}

vt_tensor *vt_grid_sample(vt_ctx *c, vt_tensor *x, vt_tensor *grid, bool align_corners) {
    static const char *op = "grid_sample";
    if (!VT_OP_READY(c, op, x, grid) || !vt_op_dtype(c, op, "input", x, VT_F32) ||
        !vt_op_dtype(c, op, "grid", grid, VT_F32))
        return NULL;
    if (x->ndim != 4 || grid->ndim != 4 || grid->shape[0] != x->shape[0] || grid->shape[3] != 2 || x->shape[2] < 1 ||
        x->shape[3] < 1) {
        char sx[VT_SHAPE_STR_MAX], sg[VT_SHAPE_STR_MAX];
        vt_ctx_fail(c, VT_ESHAPE,
                    "grid_sample: input %s and grid %s do not fit ([N, C, H, W] with H, W >= 1, [N, Ho, Wo, 2])",
                    vt_shape_str(x, sx, sizeof sx), vt_shape_str(grid, sg, sizeof sg));
        return NULL;
    }
    const vt_resample_kernels *k = vt_kernels(c, x->device, VT_FAM_RESAMPLE, op);
    vt_tensor *xc = vt_contiguous_data(c, x), *gc = vt_contiguous_data(c, grid);
    vt_tensor *y = vt_empty_on(c, x->device, VT_F32, VT_SHAPE(x->shape[0], x->shape[1], grid->shape[1], grid->shape[2]));
    if (!k || !xc || !gc || !y) return NULL;
    k->grid_sample(c, align_corners, x->shape[0], x->shape[1], x->shape[2], x->shape[3], grid->shape[1],
                   grid->shape[2], vt_dptr_f32(xc), vt_dptr_f32(gc), vt_dptr_f32(y));
    vt_tensor *ins[2] = {x, grid};
    if (vt_needs_grad(c, 2, ins)) {
        vt_node *n = vt_node_attach(c, y, op, grid_sample_backward, 2, ins);
        if (!n || vt_node_save(c, n, 0, xc) != VT_OK || vt_node_save(c, n, 1, gc) != VT_OK) return NULL;
        n->iattr[0] = align_corners;
    }
    return y;
}
