#!/usr/bin/env python3
"""ViT training-step throughput: PyTorch next to visft, on the same threads (or the same GPU), with ratios.

Runs each step kind in its own process (so peak RSS is per step kind), PyTorch first, then
`visft bench vit --json` for the same step; reports medians of --runs timed steps.

  full  every weight trained: forward, cross-entropy, backward, AdamW
  lora  frozen backbone, LoRA rank 64 (alpha 1) on the q and v slices of every qkv, AdamW on LoRA only

--model picks the architecture (vit-s-16 default; vit-b-16 and eva01-g-14 are the GPU targets: the PyTorch side
builds the same widths/depths/heads with tests/ref/vit_model.py, visft the matching preset). On --device cuda the
PyTorch side uses its fused SDPA, both sides compute in f32 (TF32 off, PyTorch's default for matmul), and
visft reports TFLOP/s and MFU against its measured GEMM peak. --precision bf16 runs PyTorch under bf16 autocast
and visft's GEMMs on bf16 inputs (f32 weights and accumulation in both).

Usage: /usr/bin/python3 bench/torch_vit.py [--threads 2] [--runs 5] [--batch 8] [--mode both]
                                           [--model vit-s-16] [--visft build/visft] [--device cpu|cuda]"""
import argparse
import json
import os
import pathlib
import resource
import statistics
import subprocess
import sys
import time

here = pathlib.Path(__file__).resolve().parent

# name: (PyTorch ViT kwargs, visft preset, image size)
MODELS = {
    "vit-s-16": (dict(patch=16, dim=384, depth=12, heads=6, hidden=1536), "vit-s-16", 224),
    "vit-b-16": (dict(patch=16, dim=768, depth=12, heads=12, hidden=3072), "openclip-vit-b-16", 224),
    "eva01-g-14": (dict(patch=14, dim=1408, depth=40, heads=16, hidden=6144), "eva01-g-14", 224),
}
sys.path.insert(0, str(here.parent / "tests" / "ref"))


def worker(args):
    import torch
    import torch.nn.functional as F
    from vit_model import ViT

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    dev = torch.device(args.device)
    kw, _, size = MODELS[args.model]
    if dev.type == "cuda":
        from vit_model import Attention
        Attention.use_sdpa = True
    model = ViT(image_size=size, **kw).to(dev)
    if args.mode == "lora":
        for p in model.parameters():
            p.requires_grad_(False)
        params = model.add_lora(64, 1.0)
        model.to(dev)
    else:
        params = list(model.parameters())
    opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.05)
    x = torch.randn(args.batch, 3, size, size, device=dev)
    y = torch.randint(0, 1000, (args.batch,), device=dev)
    times = []
    for i in range(args.warmup + args.runs):
        t0 = time.perf_counter()
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=args.precision == "bf16"):
            loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        if i >= args.warmup:
            times.append(time.perf_counter() - t0)
    t = statistics.median(times)
    fwd = model.flops(args.batch)
    step_flops = 3 * fwd if args.mode == "full" else 2 * fwd
    print(json.dumps({"impl": "pytorch", "mode": args.mode, "img_s": args.batch / t, "step_s": t,
                      "gflops": step_flops / t / 1e9,
                      "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
                      "torch": torch.__version__}))


def run_json(cmd, env=None):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    rows = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
    if not rows:
        raise SystemExit(f"no JSON result from: {' '.join(cmd)}\n{out}")
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--mode", choices=["full", "lora", "both"], default="both")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--model", choices=sorted(MODELS), default="vit-s-16")
    ap.add_argument("--precision", choices=["f32", "bf16"], default="f32",
                    help="bf16: autocast (PyTorch) / GEMMs on bf16 inputs (visft), f32 weights in both")
    ap.add_argument("--visft", default=str(here.parent / "build" / "visft"))
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args)
    if args.runs < 5:
        print("note: fewer than 5 runs; medians are noisy", file=sys.stderr)
    modes = ["full", "lora"] if args.mode == "both" else [args.mode]
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), OPENBLAS_NUM_THREADS=str(args.threads))
    where = f"{args.threads} threads" if args.device == "cpu" else args.device
    print(f"{args.model}, {MODELS[args.model][2]} px, batch {args.batch}, {where}, median of {args.runs} steps")
    print(f"{'step':<6} {'impl':<8} {'img/s':>8} {'GFLOP/s':>9} {'peak RSS MiB':>13}")
    for mode in modes:
        common = ["--threads", str(args.threads), "--runs", str(args.runs), "--warmup", str(args.warmup),
                  "--batch", str(args.batch)]
        pt = run_json([sys.executable, __file__, "--worker", "--mode", mode, "--device", args.device,
                       "--model", args.model, "--precision", args.precision] + common, env)[0]
        vcmd = [args.visft, "bench", "vit", "--mode", mode, "--json", "--model", MODELS[args.model][1],
                "--precision", args.precision] + common
        if args.device != "cpu":
            vcmd += ["--device", args.device]
        vt = [r for r in run_json(vcmd, env) if r.get("mode") == mode][0]
        for r, name in ((pt, "pytorch"), (vt, "visft")):
            print(f"{mode:<6} {name:<8} {r['img_s']:8.2f} {r['gflops']:9.1f} {r['peak_rss_mib']:13.0f}")
        print(f"{mode:<6} {'ratio':<8} {vt['img_s'] / pt['img_s']:7.2f}x {'':>9} "
              f"{vt['peak_rss_mib'] / pt['peak_rss_mib']:12.2f}x")


if __name__ == "__main__":
    main()
