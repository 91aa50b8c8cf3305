"""Reference results for layer_norm and group_norm (tests/unit/test_ops_norm.c). Input order per case:
x, then weight and/or bias when the case has them; eps and groups are fixed in the C test's case table."""
import os

import torch.nn.functional as F

from golden import Golden, randn


def generate(out):
    g = Golden()
    x = randn(4, 7, 37, seed=1, scale=2.0) + 0.5
    w, b = randn(37, seed=2) + 1.0, randn(37, seed=3)
    ln = lambda t, w=None, b=None, eps=1e-5: F.layer_norm(t, t.shape[-1:], w, b, eps)
    g.case("ln_affine", lambda t, w, b: ln(t, w, b), [x, w, b])
    g.case("ln_plain", lambda t: ln(t), [x])
    g.case("ln_weight_only", lambda t, w: ln(t, w), [x, w])
    g.case("ln_bias_only", lambda t, b: ln(t, None, b), [x, b])
    # many rows: several dweight/dbias chunks and the threaded path; ViT's eps
    wide_w, wide_b = randn(96, seed=5) + 1.0, randn(96, seed=6)
    g.case("ln_many_rows", lambda t, w, b: ln(t, w, b, 1e-6), [randn(300, 96, seed=4), wide_w, wide_b])
    # a large common offset: a one-pass E[x²] − E[x]² variance would cancel catastrophically
    g.case("ln_offset", lambda t, w, b: ln(t, w, b), [randn(6, 64, seed=7) + 300.0, wide_w[:64], wide_b[:64]])

    gw, gb = randn(6, seed=11) + 1.0, randn(6, seed=12)
    g.case("gn_affine", lambda t, w, b: F.group_norm(t, 3, w, b, 1e-5), [randn(2, 6, 4, 5, seed=10) + 1.0, gw, gb])
    g.case("gn_plain_3d", lambda t: F.group_norm(t, 2, None, None, 1e-5), [randn(3, 8, 7, seed=13)])
    g.case("gn_no_spatial", lambda t, w, b: F.group_norm(t, 2, w, b, 1e-5), [randn(4, 6, seed=14), gw, gb])
    g.case("gn_instance", lambda t, w, b: F.group_norm(t, 6, w, b, 1e-3), [randn(2, 6, 3, 3, seed=15), gw, gb])
    g.case("gn_one_group", lambda t, w: F.group_norm(t, 1, w, None, 1e-5), [randn(3, 6, 10, seed=16), gw])
    g.save(os.path.join(out, "norm.safetensors"))
