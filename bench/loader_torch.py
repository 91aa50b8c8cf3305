#!/usr/bin/python3
"""`visft bench loader` next to the same pipeline in PIL + torchvision, on the same JPEGs and cores.

Pipeline (both): decode JPEG -> RGB, Resize(256) bilinear (PIL's antialiased resize), RandomHorizontalFlip,
RandomCrop(224), ToTensor + Normalize(ImageNet mean/std), default_collate into [B, 3, 224, 224] f32.

    /usr/bin/python3 bench/loader_torch.py --visft build/visft --workers 1      # images/s per core
    /usr/bin/python3 bench/loader_torch.py --visft build/visft --workers 2

--workers 0 or 1 runs torch in a plain loop on this thread (one core); N > 1 uses a DataLoader with N worker
processes (visft then uses N worker threads). torch and OpenCV-style intra-op threads are pinned to 1.
Needs Debian's python3-torch, python3-torchvision (0.14) and python3-pil.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

try:
    import torch
    import torchvision.transforms as T
    from PIL import Image
    from torch.utils.data import DataLoader, Dataset
    from torch.utils.data.dataloader import default_collate
except ImportError as e:  # pragma: no cover
    print(f"SKIP: torch/torchvision/PIL not importable ({e})")
    sys.exit(0)


class Files(Dataset):
    def __init__(self, paths, tf):
        self.paths, self.tf = paths, tf

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        with Image.open(self.paths[i]) as im:
            return self.tf(im.convert("RGB"))


def torch_epoch(ds, batch, workers):
    t0 = time.perf_counter()
    n = 0
    if workers <= 1:
        for s in range(0, len(ds), batch):
            b = default_collate([ds[i] for i in range(s, min(s + batch, len(ds)))])
            n += b.shape[0]
    else:
        dl = DataLoader(ds, batch_size=batch, shuffle=True, num_workers=workers)
        for b in dl:
            n += b.shape[0]
    return time.perf_counter() - t0, n


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--visft", default="build/visft", help="the visft binary (default build/visft)")
    ap.add_argument("--dir", help="JPEGs to use (default: visft generates 200 into a temporary dir)")
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(1)
    tmp = None
    d = a.dir
    if not d:
        tmp = tempfile.mkdtemp(prefix="visft_loader_torch_")
        d = tmp
    try:
        cmd = [a.visft, "bench", "loader", "--dir", d, "--count", str(a.count), "--workers", str(a.workers),
               "--batch", str(a.batch), "--runs", str(a.runs), "--warmup", str(a.warmup), "--json"]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"{' '.join(cmd)} failed: {r.stderr.strip()}")
        print(r.stdout, end="")
        vis = json.loads([l for l in r.stdout.splitlines() if l.startswith("{")][-1])
        paths = sorted(os.path.join(d, f) for f in os.listdir(d) if f.lower().endswith((".jpg", ".jpeg")))
        tf = T.Compose([T.Resize(256, interpolation=T.InterpolationMode.BILINEAR), T.RandomHorizontalFlip(),
                        T.RandomCrop(224), T.ToTensor(),
                        T.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])])
        ds = Files(paths, tf)
        times = []
        for r_ in range(a.warmup + a.runs):
            t, n = torch_epoch(ds, a.batch, a.workers)
            if r_ >= a.warmup:
                times.append(t)
        t = statistics.median(times)
        cores = max(a.workers, 1)
        ips = n / t
        print(f"torch {torch.__version__} / torchvision loader (PIL): {n} JPEGs, batch {a.batch}, "
              f"{'plain loop' if a.workers <= 1 else f'DataLoader num_workers={a.workers}'}")
        print(f"  {ips:.1f} images/s, {ips / cores:.1f} images/s per core (median of {a.runs} epochs, {t:.3f} s each)")
        ratio = vis["images_per_s_per_core"] / (ips / cores)
        print(f"ratio visft / torchvision (per core): {ratio:.2f}x (target >= 2x)")
        print(json.dumps({"bench": "loader", "impl": "torchvision", "images_per_s": ips,
                          "images_per_s_per_core": ips / cores, "ratio": ratio}))
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
