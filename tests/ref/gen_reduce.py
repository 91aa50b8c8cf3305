"""Reference results for reductions and softmax (tests/unit/test_ops_reduce.c)."""
import os

import torch
import torch.nn.functional as F

from golden import Golden, randn


def with_ties(*shape, seed):
    """Values rounded to a coarse grid so max has ties (the gradient must go to the first index)."""
    return torch.round(randn(*shape, seed=seed) * 2.0) / 2.0


def generate(out):
    g = Golden()
    x = randn(3, 4, 5, seed=1)
    g.case("sum_dims02", lambda t: t.sum(dim=(0, 2)), [x])
    g.case("sum_all", lambda t: t.sum(), [x])
    g.case("mean_last_keep", lambda t: t.mean(dim=-1, keepdim=True), [x])

    ties = with_ties(4, 6, 5, seed=2)
    g.case("max_dim1", lambda t: t.max(dim=1).values, [ties])
    g.case("max_last_keep", lambda t: t.max(dim=-1, keepdim=True).values, [ties])
    g.case("max_dim0", lambda t: t.max(dim=0).values, [ties])
    g.case("argmax_dim1", lambda t: t.argmax(dim=1), [ties], grad_inputs=[])
    g.case("argmax_last_keep", lambda t: t.argmax(dim=-1, keepdim=True), [ties], grad_inputs=[])
    g.case("max_all_ties", lambda t: t.max(), [with_ties(3, 7, seed=3).clamp(max=1.0)])

    # softmax: odd row length (vector tail), non-last dims with inner < and > the kernel's 64-wide block
    g.case("softmax_last", lambda t: F.softmax(t, dim=-1), [randn(6, 37, seed=10, scale=3.0)])
    g.case("softmax_dim1", lambda t: F.softmax(t, dim=1), [randn(3, 9, 5, seed=11, scale=3.0)])
    g.case("softmax_dim0", lambda t: F.softmax(t, dim=0), [randn(7, 130, seed=12, scale=3.0)])
    g.case("softmax_large", lambda t: F.softmax(t, dim=-1), [randn(4, 50, seed=13, scale=30.0) + 1000.0])
    g.case("log_softmax_last", lambda t: F.log_softmax(t, dim=-1), [randn(6, 37, seed=14, scale=3.0)])
    g.case("log_softmax_dim1", lambda t: F.log_softmax(t, dim=1), [randn(2, 11, 70, seed=15, scale=3.0)])
    g.case("log_softmax_large", lambda t: F.log_softmax(t, dim=-1), [randn(4, 50, seed=16, scale=30.0) - 1000.0])
    masked = randn(5, 8, seed=17)
    masked[:, 5:] = float("-inf")  # attention padding mask
    g.case("softmax_masked", lambda t: F.softmax(t, dim=-1), [masked])
    g.case("log_softmax_masked_dim0", lambda t: F.log_softmax(t, dim=0), [masked.t().contiguous()])
    g.save(os.path.join(out, "reduce.safetensors"))
