"""Reference results for interpolate and grid_sample (tests/unit/test_ops_resample.c).

Every case's first input is an int64 `args` tensor with the op's options, so the C test reads them from the
golden file:
    interpolate: [mode (0 nearest, 1 bilinear, 2 bicubic), align_corners, by_scale,
                  out_h, out_w, scale_h numerator, denominator, scale_w numerator, denominator]
      (scales as exact ratios, so C computes the same double as Python)
    grid_sample: [align_corners]"""
import os

import torch
import torch.nn.functional as F

from golden import Golden, randn, uniform

MODES = ["nearest", "bilinear", "bicubic"]


def i64(*v):
    return torch.tensor(v, dtype=torch.int64)


def interp_case(g, name, x, mode, align, size=None, scale=None, grads=True):
    m = MODES.index(mode)
    kw = {} if mode == "nearest" else {"align_corners": align}
    if size is not None:
        args = i64(m, int(align), 0, *size, 0, 1, 0, 1)
        g.case(name, lambda a, t: F.interpolate(t, size=size, mode=mode, **kw), [args, x],
               grad_inputs=None if grads else [])
    else:
        (nh, dh), (nw, dw) = scale
        args = i64(m, int(align), 1, 0, 0, nh, dh, nw, dw)
        g.case(name, lambda a, t: F.interpolate(t, scale_factor=(nh / dh, nw / dw), mode=mode, **kw), [args, x],
               grad_inputs=None if grads else [])


def generate(out):
    g = Golden()
    small, large = randn(2, 3, 5, 7, seed=1), randn(2, 3, 11, 13, seed=2)
    for mode in MODES:
        for align in ([False] if mode == "nearest" else [False, True]):
            tag = f"{mode}_{'ac' if align else 'hp'}"
            interp_case(g, f"{tag}_up_size", small, mode, align, size=(9, 12))
            interp_case(g, f"{tag}_down_size", large, mode, align, size=(4, 6))
            # 5·1.7 = 8.5 and 7·2.3 = 16.1: truncated sizes, so the given scale and in/out differ
            interp_case(g, f"{tag}_up_scale", small, mode, align, scale=((17, 10), (23, 10)))
            interp_case(g, f"{tag}_down_scale", large, mode, align, scale=((9, 20), (3, 5)))
            interp_case(g, f"{tag}_mixed_size", small, mode, align, size=(3, 7))
    interp_case(g, "nearest_x2_scale", small, "nearest", False, scale=((2, 1), (2, 1)))
    interp_case(g, "nearest_x3_size", small, "nearest", False, size=(15, 21))
    interp_case(g, "bilinear_to_1x1", large, "bilinear", True, size=(1, 1))
    for mode in MODES:
        interp_case(g, f"{mode}_third_scale", large, mode, False, scale=((3, 10), (1, 3)))
        interp_case(g, f"{mode}_big_scale", small, mode, False, scale=((37, 10), (29, 7)))
        # 5·1.1 and 7·1.05 truncate to the input size, yet forward still resamples with the given scale.
        # Forward only: PyTorch's nearest and bicubic backward copy such an axis instead of inverting forward.
        interp_case(g, f"{mode}_same_size_scale", small, mode, False, scale=((11, 10), (21, 20)),
                    grads=mode == "bilinear")
    # ViT position-embedding resampling: a 16x16 grid of 8 channels to 37x37
    interp_case(g, "bicubic_posembed", randn(1, 8, 16, 16, seed=3), "bicubic", False, size=(37, 37))

    x = randn(2, 3, 5, 6, seed=10)
    grid = uniform(2, 4, 7, 2, lo=-1.3, hi=1.3, seed=11)  # some points outside [-1, 1]
    for align in (False, True):
        name = f"grid_sample_{'ac' if align else 'hp'}"
        g.case(name, lambda a, t, gr: F.grid_sample(t, gr, mode="bilinear", padding_mode="zeros",
                                                    align_corners=align), [i64(int(align)), x, grid])
    # border and far-away points: exactly ±1, just outside, pixel centres and edges, ±1e6
    special = torch.tensor([-1.0, 1.0, -1.0000001, 1.0000001, 0.0, -0.6, 0.2, 1.2, -1.2, 1e6, -1e6, 0.5])
    sg = torch.stack(torch.meshgrid(special, special[:6], indexing="xy"), dim=-1)
    sg = sg.reshape(1, 6, 12, 2).repeat(2, 1, 1, 1)
    for align in (False, True):
        name = f"grid_sample_border_{'ac' if align else 'hp'}"
        g.case(name, lambda a, t, gr: F.grid_sample(t, gr, align_corners=align), [i64(int(align)), x, sg])
    # Mask2Former-style point sampling: [N, P, 1, 2] points, many channels
    pts = uniform(2, 20, 1, 2, lo=-1.05, hi=1.05, seed=12)
    g.case("grid_sample_points", lambda a, t, gr: F.grid_sample(t, gr, align_corners=False),
           [i64(0), randn(2, 9, 8, 8, seed=13), pts])
    g.save(os.path.join(out, "resample.safetensors"))
