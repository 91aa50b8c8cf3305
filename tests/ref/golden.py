"""Helpers for op reference generators.

A golden file holds cases; each case `NAME` stores
    NAME.in.<i>     inputs (float32 inputs that need gradients are marked in NAME.grad.<i>)
    NAME.out        forward output of the op in PyTorch
    NAME.gout       the upstream gradient used for backward (fixed random)
    NAME.grad.<i>   gradient of sum(out * gout) w.r.t. input i
and any op arguments the C test needs are fixed in the C test itself, keyed by the case name."""
import torch

from st import save


class SkipGenerator(Exception):
    """Raised by a generate(out) whose reference package is not importable here: gen_all reports it and the
    golden comparison leaves that generator's committed files unchecked instead of failing."""


class Golden:
    def __init__(self):
        self.tensors = {}

    def case(self, name, fn, inputs, grad_inputs=None, seed=0):
        """Runs fn(*inputs) in float32; records inputs, output, and gradients for grad_inputs indices
        (default: every floating input)."""
        g = torch.Generator().manual_seed(1000 + seed)
        ins = []
        for i, x in enumerate(inputs):
            x = x.detach().clone()
            want = x.is_floating_point() if grad_inputs is None else i in grad_inputs
            x.requires_grad_(want)
            ins.append(x)
            self.tensors[f"{name}.in.{i}"] = x.detach().numpy()
        out = fn(*ins)
        self.tensors[f"{name}.out"] = out.detach().numpy()
        if out.is_floating_point() and any(x.requires_grad for x in ins):
            gout = torch.randn(out.shape, generator=g, dtype=torch.float32)
            self.tensors[f"{name}.gout"] = gout.numpy()
            grads = torch.autograd.grad(out, [x for x in ins if x.requires_grad], gout, allow_unused=True)
            it = iter(grads)
            for i, x in enumerate(ins):
                if x.requires_grad:
                    gr = next(it)
                    if gr is None:
                        gr = torch.zeros_like(x)
                    self.tensors[f"{name}.grad.{i}"] = gr.numpy()
        return out

    def save(self, path):
        save(path, self.tensors, {"generator": "tests/ref", "torch": torch.__version__})


def randn(*shape, seed=0, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float32) * scale


def uniform(*shape, lo=0.0, hi=1.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    return lo + (hi - lo) * torch.rand(*shape, generator=g, dtype=torch.float32)
