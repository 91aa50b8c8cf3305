#!/usr/bin/env python3
"""EVA01-CLIP-g/14 inference throughput: timm's Eva in PyTorch next to `visft bench vit --mode infer`, on the
same threads, random weights, 224 px, batch 1 and 8 (medians of --runs timed forwards, no_grad, eval mode).

timm's eva_giant_patch14_clip_224 layout: 1408 wide, 40 blocks, 16 heads, MLP 6144, q/v bias, class token,
final norm, head to 1024 — the same as visft's eva01-g-14 preset. Needs timm (the venv .venv-ref).

Usage: .venv-ref/bin/python bench/torch_eva.py [--threads 2] [--runs 3] [--batches 1,8] [--visft build/visft]
       [--model eva01-g-14]"""
import argparse
import json
import statistics
import subprocess
import sys
import time

PRESETS = {  # visft preset -> timm Eva kwargs
    "eva01-g-14": dict(embed_dim=1408, depth=40, num_heads=16, mlp_ratio=6144 / 1408, qkv_bias=True),
    "eva02-e-14": dict(embed_dim=1792, depth=64, num_heads=16, mlp_ratio=15360 / 1792, qkv_bias=True,
                       use_post_norm=True),
}


def torch_eva(args, batch):
    import torch
    from timm.models.eva import Eva
    torch.set_num_threads(args.threads)
    m = Eva(img_size=224, patch_size=14, class_token=True, global_pool="token", num_classes=1024,
            **PRESETS[args.model]).eval()
    x = torch.full((batch, 3, 224, 224), 0.5)
    times = []
    with torch.no_grad():
        for r in range(args.warmup + args.runs):
            t0 = time.perf_counter()
            m(x)
            if r >= args.warmup:
                times.append(time.perf_counter() - t0)
    del m
    return batch / statistics.median(times)


def visft(args, batch):
    cmd = [args.visft, "bench", "vit", "--model", args.model, "--mode", "infer", "--batch", str(batch),
           "--threads", str(args.threads), "--runs", str(args.runs), "--warmup", str(args.warmup), "--json"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.startswith("{"):
            return json.loads(line)["img_s"]
        print("  " + line)
    raise RuntimeError("visft printed no JSON line")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--model", default="eva01-g-14", choices=sorted(PRESETS))
    ap.add_argument("--visft", default="build/visft")
    args = ap.parse_args()
    try:
        import timm  # noqa: F401
    except ImportError as e:
        print(f"torch_eva: SKIP (timm not importable: {e}); use .venv-ref/bin/python")
        sys.exit(77)
    for b in (int(v) for v in args.batches.split(",")):
        t = torch_eva(args, b)
        v = visft(args, b)
        print(f"{args.model} infer batch {b}, {args.threads} threads: timm Eva {t:.3f} img/s, visft {v:.3f} img/s, "
              f"visft/torch {v / t:.2f}x", flush=True)


if __name__ == "__main__":
    main()
