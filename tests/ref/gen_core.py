"""Reference results for shape ops, sum/mean and matmul/linear (tests/unit/test_ops_core.c)."""
import os

import torch
import torch.nn.functional as F

from golden import Golden, randn


def generate(out):
    g = Golden()
    x = randn(2, 3, 4, seed=1)
    g.case("reshape", lambda t: t.reshape(4, 6) * 1.0, [x])
    g.case("permute", lambda t: t.permute(2, 0, 1).contiguous(), [x])
    g.case("transpose", lambda t: t.transpose(0, 2).contiguous(), [x])
    g.case("slice", lambda t: t[:, 1:3, ::2].contiguous(), [x])
    g.case("expand", lambda t: t.expand(5, 3, 4) * 1.0, [randn(1, 3, 4, seed=2)])
    g.case("concat", lambda a, b: torch.cat([a, b], 1), [x, randn(2, 5, 4, seed=3)])
    g.case("sum_last", lambda t: t.sum(-1), [x])
    g.case("sum_first", lambda t: t.sum(0), [x])
    g.case("sum_middle_keep", lambda t: t.sum(1, keepdim=True), [x])
    g.case("sum_02", lambda t: t.sum((0, 2)), [x])
    g.case("mean_all", lambda t: t.mean(), [x])
    g.case("mean_12", lambda t: t.mean((1, 2)), [x])
    g.case("matmul_2d", torch.matmul, [randn(5, 7, seed=4), randn(7, 3, seed=5)])
    g.case("matmul_batched", torch.matmul, [randn(2, 3, 5, 7, seed=6), randn(2, 3, 7, 4, seed=7)])
    g.case("matmul_bcast", torch.matmul, [randn(2, 1, 5, 7, seed=8), randn(3, 7, 4, seed=9)])
    g.case("matmul_fold", torch.matmul, [randn(2, 3, 5, 7, seed=10), randn(7, 4, seed=11)])
    g.case("matmul_vec", torch.matmul, [randn(3, 5, 7, seed=12), randn(7, seed=13)])
    g.case("matmul_transposed", lambda a, b: a.transpose(-1, -2) @ b.transpose(-1, -2),
           [randn(2, 7, 5, seed=14), randn(2, 4, 7, seed=15)])
    g.case("linear", F.linear, [randn(2, 5, 7, seed=16), randn(3, 7, seed=17), randn(3, seed=18)])
    g.case("linear_nobias", F.linear, [randn(4, 7, seed=19), randn(6, 7, seed=20)])
    def lora(x, w, b, aq, bq, av, bv):
        xl = x * 0.5  # stands in for the adapter's dropout: a distinct input path
        dq = (xl @ aq.T) @ bq.T * 2.0
        dv = (xl @ av.T) @ bv.T * 2.0
        return F.linear(x, w, b) + torch.cat([dq, torch.zeros_like(dq), dv], -1)

    g.case("lora_linear", lora, [randn(2, 5, 6, seed=21), randn(12, 6, seed=22), randn(12, seed=23),
                                 randn(3, 6, seed=24), randn(4, 3, seed=25), randn(3, 6, seed=26),
                                 randn(4, 3, seed=27)])
    g.save(os.path.join(out, "core.safetensors"))
