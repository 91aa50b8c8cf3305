"""Reference results for optimizers, gradient clipping and lr schedules (tests/unit/test_optim.c).

Layout of optim.safetensors:
    init.<i>            initial value of parameter i (shapes [4, 5], [5], [3, 2])
    grads.<i>           [STEPS, *shape]: gradient of parameter i at each step
    has_grad            [STEPS, 3] i64: 0 where parameter i has no gradient at that step (skipped)
    <case>.p<i>         [STEPS, *shape]: parameter i after each step of torch.optim.<case>
    clip.g<i>           gradients before clipping; parameter 3 has none
    <clip case>.total   [1] the returned total norm;  <clip case>.g<i>  gradients after clipping
    <sched case>        [N, 2]: lr of two groups (base 0.1 and 0.01) at steps 0..N-1
The hyper-parameters of each case are fixed in the C test, keyed by the case name (keep the two in sync)."""
import math
import os
import warnings

import torch

from golden import randn
from st import save

STEPS = 10
SHAPES = [(4, 5), (5,), (3, 2)]
GRAD_SCALE = [1.0, 1e-3, 0.5]  # tiny bias gradients make AdamW's eps placement matter

# name: (optimizer factory kwargs, group 0 (lr, wd), group 1 (lr, wd)); group 0 = params 0 and 2, group 1 = 1.
# Every case halves group 0's lr from step 5 on (per-group lr changes).
OPT_CASES = {
    "adamw": (torch.optim.AdamW, dict(betas=(0.9, 0.999), eps=1e-8), (1e-2, 0.05), (5e-3, 0.0)),
    "adamw_eps": (torch.optim.AdamW, dict(betas=(0.8, 0.95), eps=1e-3), (3e-2, 0.1), (1e-2, 0.02)),
    "sgd": (torch.optim.SGD, dict(), (0.1, 0.01), (0.05, 0.0)),
    "sgd_momentum": (torch.optim.SGD, dict(momentum=0.9), (0.05, 0.1), (0.02, 0.0)),
    "sgd_nesterov": (torch.optim.SGD, dict(momentum=0.9, nesterov=True), (0.05, 0.05), (0.02, 0.0)),
    "sgd_dampening": (torch.optim.SGD, dict(momentum=0.8, dampening=0.3), (0.05, 0.02), (0.03, 0.01)),
}


def run_optimizer(t, name, cls, kw, g0, g1, init, grads, has_grad):
    ps = [x.clone().requires_grad_(True) for x in init]
    opt = cls([{"params": [ps[0], ps[2]], "lr": g0[0], "weight_decay": g0[1]},
               {"params": [ps[1]], "lr": g1[0], "weight_decay": g1[1]}], **kw)
    hist = [[] for _ in ps]
    for s in range(STEPS):
        if s == 5:
            opt.param_groups[0]["lr"] = g0[0] * 0.5
        for i, p in enumerate(ps):
            p.grad = grads[i][s].clone() if has_grad[s, i] else None
        opt.step()
        for i, p in enumerate(ps):
            hist[i].append(p.detach().clone())
    for i in range(len(ps)):
        t[f"{name}.p{i}"] = torch.stack(hist[i]).numpy()


def clip_cases(t):
    gs = [randn(4, 5, seed=40, scale=2.0), randn(5, seed=41), randn(3, 2, seed=42, scale=0.5)]
    for i, g in enumerate(gs):
        t[f"clip.g{i}"] = g.numpy()
    # name: (max_norm, norm_type)
    for name, (mx, nt) in {"clip_l2": (1.0, 2.0), "clip_inf": (0.5, math.inf), "clip_l1": (3.0, 1.0),
                           "clip_p3": (0.7, 3.0), "clip_noop": (100.0, 2.0)}.items():
        ps = [torch.zeros_like(g, requires_grad=True) for g in gs] + [torch.zeros(2, requires_grad=True)]
        for p, g in zip(ps, gs):
            p.grad = g.clone()
        total = torch.nn.utils.clip_grad_norm_(ps, mx, nt)
        t[f"{name}.total"] = total.reshape(1).numpy()
        for i in range(len(gs)):
            t[f"{name}.g{i}"] = ps[i].grad.numpy()


def sched_cases(t):
    def record(name, n, make):
        ps = [torch.zeros(1, requires_grad=True), torch.zeros(1, requires_grad=True)]
        opt = torch.optim.SGD([{"params": [ps[0]], "lr": 0.1}, {"params": [ps[1]], "lr": 0.01}], lr=0.1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sched = make(opt)
            lrs = []
            for _ in range(n):
                lrs.append([g["lr"] for g in opt.param_groups])
                opt.step()
                sched.step()
        t[name] = torch.tensor(lrs, dtype=torch.float64).numpy()

    lr = torch.optim.lr_scheduler
    # cosine with linear warmup from 0.1·base over 5 steps, 25 decay steps to an absolute 1e-4
    record("sched_cosine_warmup", 31, lambda o: lr.SequentialLR(
        o, [lr.LinearLR(o, start_factor=0.1, total_iters=5), lr.CosineAnnealingLR(o, T_max=25, eta_min=1e-4)],
        milestones=[5]))
    record("sched_cosine", 21, lambda o: lr.CosineAnnealingLR(o, T_max=20, eta_min=0.0))
    # HF get_cosine_schedule_with_warmup: base·s/W, then to 0 (relative floor 0.05 here)
    W, T, r = 4, 16, 0.05
    record("sched_cosine_hf", 20, lambda o: lr.LambdaLR(
        o, lambda s: s / W if s < W else r + (1 - r) * 0.5 * (1 + math.cos(math.pi * min(s - W, T - W) / (T - W)))))
    record("sched_step", 20, lambda o: lr.MultiStepLR(o, milestones=[4, 9, 15], gamma=0.1))
    record("sched_step_warmup", 20, lambda o: lr.ChainedScheduler(
        [lr.LinearLR(o, start_factor=0.25, total_iters=3), lr.MultiStepLR(o, milestones=[4, 9, 15], gamma=0.1)]))
    record("sched_constant_warmup", 16, lambda o: lr.LinearLR(o, start_factor=0.2, total_iters=8))


def generate(out):
    t = {}
    init = [randn(*s, seed=20 + i) for i, s in enumerate(SHAPES)]
    grads = [randn(STEPS, *s, seed=30 + i, scale=GRAD_SCALE[i]) for i, s in enumerate(SHAPES)]
    has_grad = torch.ones(STEPS, len(SHAPES), dtype=torch.int64)
    has_grad[3, 2] = has_grad[7, 2] = 0  # parameter 2 skips two steps: its own step count lags
    has_grad[0, 1] = 0                   # parameter 1's state starts one step late
    for i in range(len(SHAPES)):
        t[f"init.{i}"] = init[i].numpy()
        t[f"grads.{i}"] = grads[i].numpy()
    t["has_grad"] = has_grad.numpy()
    for name, (cls, kw, g0, g1) in OPT_CASES.items():
        run_optimizer(t, name, cls, kw, g0, g1, init, grads, has_grad)
    clip_cases(t)
    sched_cases(t)
    save(os.path.join(out, "optim.safetensors"), t, {"generator": "tests/ref/gen_optim.py", "torch": torch.__version__})
