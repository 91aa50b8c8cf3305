"""Reference results for elementwise ops (tests/unit/test_ops_elementwise.c)."""
import os

import torch
import torch.nn.functional as F

from golden import Golden, randn, uniform


def generate(out):
    g = Golden()
    x = randn(3, 5, 7, seed=1)
    pos = uniform(3, 5, 7, lo=0.2, hi=3.0, seed=2)
    g.case("neg", torch.neg, [x])
    g.case("exp", torch.exp, [x])
    g.case("log", torch.log, [pos])
    g.case("sqrt", torch.sqrt, [pos])
    g.case("rsqrt", torch.rsqrt, [pos])
    g.case("abs", torch.abs, [x])
    g.case("clamp", lambda t: torch.clamp(t, -0.5, 0.7), [x])
    g.case("tanh", torch.tanh, [randn(3, 5, 7, seed=3, scale=3.0)])
    g.case("sigmoid", torch.sigmoid, [randn(3, 5, 7, seed=4, scale=4.0)])
    g.case("relu", torch.relu, [x])
    g.case("gelu", F.gelu, [randn(3, 5, 7, seed=5, scale=3.0)])
    g.case("gelu_tanh", lambda t: F.gelu(t, approximate="tanh"), [randn(3, 5, 7, seed=6, scale=3.0)])
    g.case("quick_gelu", lambda t: t * torch.sigmoid(1.702 * t), [randn(3, 5, 7, seed=7, scale=3.0)])
    g.case("silu", F.silu, [randn(3, 5, 7, seed=8, scale=3.0)])
    g.case("add_scalar", lambda t: t + 0.25, [x])
    g.case("mul_scalar", lambda t: t * -1.5, [x])
    g.case("rsub_scalar", lambda t: 2.0 - t, [x])
    g.case("rdiv_scalar", lambda t: 2.0 / t, [pos])
    g.case("pow_scalar", lambda t: t ** 2.5, [pos])
    a, b = randn(4, 1, 6, seed=10), randn(3, 1, seed=11)
    g.case("add_bcast", torch.add, [a, b])
    g.case("sub_bcast", torch.sub, [a, b])
    g.case("mul_bcast", torch.mul, [a, b])
    g.case("div_bcast", torch.div, [a, uniform(3, 1, lo=0.5, hi=2.0, seed=12)])
    g.case("mul_same", torch.mul, [randn(5, 8, seed=13), randn(5, 8, seed=14)])
    g.case("add_row", torch.add, [randn(6, 16, seed=15), randn(16, seed=16)])
    g.save(os.path.join(out, "elementwise.safetensors"))
