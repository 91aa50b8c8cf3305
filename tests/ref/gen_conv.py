"""Reference results for conv2d and pooling (tests/unit/test_ops_conv.c).

Every case's first input is an int64 `args` tensor holding the op's options, so the C test reads them from
the golden file instead of repeating them:
    conv:  [stride_h, stride_w, pad_h, pad_w, dil_h, dil_w, groups, has_bias]
    pool:  [kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, ceil_mode, count_include_pad]
    adaptive pool: [out_h, out_w]"""
import os

import torch
import torch.nn.functional as F

from golden import Golden, randn

CONV = [
    # name, x shape, w shape, stride, padding, dilation, groups, bias
    ("conv_s1_p1", (2, 4, 7, 6), (6, 4, 3, 3), (1, 1), (1, 1), (1, 1), 1, True),
    ("conv_s1_p0_nobias", (2, 4, 7, 6), (5, 4, 3, 3), (1, 1), (0, 0), (1, 1), 1, False),
    ("conv_s2_p1", (2, 4, 9, 8), (6, 4, 3, 3), (2, 2), (1, 1), (1, 1), 1, True),
    ("conv_s2_p0_nobias", (2, 3, 10, 9), (4, 3, 3, 3), (2, 2), (0, 0), (1, 1), 1, False),
    ("conv_dil2", (1, 3, 9, 10), (4, 3, 3, 3), (1, 1), (2, 2), (2, 2), 1, True),
    ("conv_dil2_s2_nobias", (2, 2, 11, 9), (3, 2, 3, 2), (2, 1), (1, 0), (2, 3), 1, False),
    ("conv_groups2", (2, 4, 6, 6), (6, 2, 3, 3), (1, 1), (1, 1), (1, 1), 2, True),
    ("conv_depthwise", (2, 4, 7, 7), (4, 1, 3, 3), (1, 1), (1, 1), (1, 1), 4, True),
    ("conv_depthwise_s2_mult2", (2, 3, 8, 7), (6, 1, 3, 3), (2, 2), (1, 1), (1, 1), 3, False),
    ("conv_patch", (2, 3, 32, 32), (16, 3, 8, 8), (8, 8), (0, 0), (1, 1), 1, True),
    ("conv_patch_crop_nobias", (2, 3, 30, 29), (5, 3, 8, 8), (8, 8), (0, 0), (1, 1), 1, False),
    ("conv_patch_rect", (1, 2, 12, 15), (4, 2, 4, 5), (4, 5), (0, 0), (1, 1), 1, True),
    ("conv_1x1", (2, 5, 6, 7), (3, 5, 1, 1), (1, 1), (0, 0), (1, 1), 1, True),
    ("conv_1x1_groups2_nobias", (2, 6, 4, 5), (4, 3, 1, 1), (1, 1), (0, 0), (1, 1), 2, False),
    ("conv_1x1_s2", (2, 5, 7, 6), (3, 5, 1, 1), (2, 2), (0, 0), (1, 1), 1, True),
    ("conv_rect_asym", (2, 3, 8, 11), (4, 3, 3, 5), (2, 1), (1, 2), (1, 1), 1, True),
]

POOL = [
    # name, fn, x shape, kernel, stride, padding, ceil_mode, count_include_pad
    ("avg_k2s2", "avg", (2, 3, 8, 8), (2, 2), (2, 2), (0, 0), False, True),
    ("avg_k3s2p1", "avg", (2, 3, 9, 8), (3, 3), (2, 2), (1, 1), False, True),
    ("avg_k3s2p1_excl", "avg", (2, 3, 9, 8), (3, 3), (2, 2), (1, 1), False, False),
    ("avg_ceil", "avg", (1, 2, 8, 7), (3, 3), (2, 2), (1, 1), True, True),
    ("avg_ceil_excl", "avg", (1, 2, 8, 7), (3, 2), (2, 2), (1, 1), True, False),
    ("avg_rect", "avg", (2, 2, 7, 9), (2, 3), (1, 2), (1, 1), False, True),
    ("max_k2s2", "max", (2, 3, 8, 8), (2, 2), (2, 2), (0, 0), False, True),
    ("max_k3s2p1", "max", (2, 3, 9, 8), (3, 3), (2, 2), (1, 1), False, True),
    ("max_ceil", "max", (1, 2, 8, 7), (3, 3), (2, 2), (1, 1), True, True),
    ("max_rect", "max", (2, 2, 7, 9), (2, 3), (1, 2), (1, 1), False, True),
]

ADAPTIVE = [
    ("adaptive_7to3", (2, 3, 7, 7), (3, 3)),
    ("adaptive_uneven", (2, 2, 10, 9), (4, 5)),
    ("adaptive_up", (1, 2, 5, 4), (7, 6)),
    ("adaptive_global", (2, 3, 6, 5), (1, 1)),
]


def i64(*v):
    return torch.tensor(v, dtype=torch.int64)


def generate(out):
    g = Golden()
    for i, (name, xs, ws, s, p, d, groups, bias) in enumerate(CONV):
        x, w = randn(*xs, seed=100 + i), randn(*ws, seed=200 + i, scale=0.5)
        args = i64(*s, *p, *d, groups, int(bias))
        if bias:
            g.case(name, lambda a, x, w, b: F.conv2d(x, w, b, s, p, d, groups),
                   [args, x, w, randn(ws[0], seed=300 + i)])
        else:
            g.case(name, lambda a, x, w: F.conv2d(x, w, None, s, p, d, groups), [args, x, w])
    for i, (name, kind, xs, k, s, p, ceil, incl) in enumerate(POOL):
        x = randn(*xs, seed=400 + i)
        args = i64(*k, *s, *p, int(ceil), int(incl))
        if kind == "avg":
            g.case(name, lambda a, x: F.avg_pool2d(x, k, s, p, ceil, incl), [args, x])
        else:
            g.case(name, lambda a, x: F.max_pool2d(x, k, s, p, ceil_mode=ceil), [args, x])
    # small integers: many ties, which must go to the first maximum of each window
    ties = torch.randint(-2, 3, (2, 2, 7, 7), generator=torch.Generator().manual_seed(7)).float()
    g.case("max_ties", lambda a, x: F.max_pool2d(x, 3, 2, 1), [i64(3, 3, 2, 2, 1, 1, 0, 1), ties])
    for i, (name, xs, o) in enumerate(ADAPTIVE):
        g.case(name, lambda a, x: F.adaptive_avg_pool2d(x, o), [i64(*o), randn(*xs, seed=500 + i)])
    g.save(os.path.join(out, "conv.safetensors"))
