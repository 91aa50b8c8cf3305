"""Reference results for the losses (tests/unit/test_ops_loss.c). Input order per case: logits/input,
targets, then class weight / weight and pos_weight when the case has them (never differentiated);
reduction, ignore_index and label_smoothing are fixed in the C test's case table."""
import os

import torch
import torch.nn.functional as F

from golden import Golden, randn, uniform


def classes(*shape, n, seed, ignore=None, ignore_every=0):
    g = torch.Generator().manual_seed(seed)
    t = torch.randint(0, n, shape, generator=g, dtype=torch.int64)
    if ignore_every:
        t.view(-1)[::ignore_every] = ignore
    return t


def generate(out):
    g = Golden()
    x = randn(8, 10, seed=1, scale=2.0)
    w = uniform(10, lo=0.2, hi=2.0, seed=2)
    t = classes(8, n=10, seed=3)
    t_ign = classes(8, n=10, seed=3, ignore=-100, ignore_every=3)
    ce = lambda **kw: (lambda x, t, *w: F.cross_entropy(x, t, *w, **kw))
    g.case("ce_mean", ce(), [x, t], grad_inputs=[0])
    g.case("ce_sum", ce(reduction="sum"), [x, t], grad_inputs=[0])
    g.case("ce_none", ce(reduction="none"), [x, t], grad_inputs=[0])
    g.case("ce_ignore", ce(), [x, t_ign], grad_inputs=[0])
    g.case("ce_ignore_valid_class", ce(ignore_index=3), [x, classes(8, n=10, seed=3, ignore=3, ignore_every=2)],
           grad_inputs=[0])
    g.case("ce_weight", ce(), [x, t_ign, w], grad_inputs=[0])
    g.case("ce_smooth", ce(label_smoothing=0.1), [x, t_ign], grad_inputs=[0])
    g.case("ce_weight_smooth", ce(label_smoothing=0.2), [x, t_ign, w], grad_inputs=[0])
    g.case("ce_weight_smooth_sum", ce(label_smoothing=0.2, reduction="sum"), [x, t_ign, w], grad_inputs=[0])
    g.case("ce_weight_smooth_none", ce(label_smoothing=0.2, reduction="none"), [x, t_ign, w], grad_inputs=[0])
    g.case("ce_large_logits", ce(label_smoothing=0.1), [randn(4, 7, seed=4, scale=60.0), classes(4, n=7, seed=5)],
           grad_inputs=[0])
    xs, ts = randn(2, 5, 3, 4, seed=6), classes(2, 3, 4, n=5, seed=7, ignore=-100, ignore_every=5)
    ws = uniform(5, lo=0.2, hi=2.0, seed=8)
    g.case("ce_spatial", ce(label_smoothing=0.15), [xs, ts, ws], grad_inputs=[0])
    g.case("ce_spatial_none", ce(reduction="none"), [xs, ts], grad_inputs=[0])
    g.case("ce_1d", ce(), [randn(6, seed=9), torch.tensor(4)], grad_inputs=[0])
    all_ign = torch.full((8,), -100, dtype=torch.int64)
    g.case("ce_all_ignored", ce(), [x, all_ign], grad_inputs=[0])  # mean: NaN, gradient 0
    g.case("ce_all_ignored_weight_smooth", ce(label_smoothing=0.1), [x, all_ign, w], grad_inputs=[0])
    g.case("ce_all_ignored_sum", ce(reduction="sum"), [x, all_ign], grad_inputs=[0])
    probs = F.softmax(randn(6, 10, seed=10, scale=2.0), dim=1)
    g.case("ce_soft", ce(), [x[:6], probs], grad_inputs=[0])
    g.case("ce_soft_weight_smooth", ce(label_smoothing=0.1), [x[:6], probs, w], grad_inputs=[0])
    g.case("ce_soft_spatial_none", ce(reduction="none"), [xs, F.softmax(randn(2, 5, 3, 4, seed=11), dim=1)],
           grad_inputs=[0])

    bx, bt = randn(6, 5, seed=20, scale=3.0), uniform(6, 5, seed=21)
    pw, bw = uniform(5, lo=0.5, hi=3.0, seed=22), uniform(6, 1, lo=0.1, hi=2.0, seed=23)

    def bce(names=(), reduction="mean"):
        return lambda x, t, *ws: F.binary_cross_entropy_with_logits(x, t, reduction=reduction, **dict(zip(names, ws)))

    g.case("bce_mean", bce(), [bx, bt], grad_inputs=[0, 1])
    g.case("bce_pos_weight_sum", bce(names=("pos_weight",), reduction="sum"), [bx, bt, pw], grad_inputs=[0, 1])
    g.case("bce_weights_none", bce(names=("weight", "pos_weight"), reduction="none"), [bx, bt, bw, pw],
           grad_inputs=[0, 1])
    g.case("bce_extreme", bce(), [randn(4, 6, seed=24, scale=40.0), (uniform(4, 6, seed=25) > 0.5).float()],
           grad_inputs=[0, 1])

    a, b = randn(4, 5, seed=30), randn(4, 5, seed=31)
    for red in ("mean", "sum", "none"):
        g.case(f"l1_{red}", lambda p, q, r=red: F.l1_loss(p, q, reduction=r), [a, b])
        g.case(f"mse_{red}", lambda p, q, r=red: F.mse_loss(p, q, reduction=r), [a, b])
    g.case("mse_broadcast", lambda p, q: F.mse_loss(p, q.expand_as(p)), [a, randn(5, seed=32)])
    g.save(os.path.join(out, "loss.safetensors"))
