"""PyTorch 1.13 baseline for bench/attention_bench.c: explicit softmax(q·kᵀ·scale)·v (1.13 has no fused
SDPA), median of 5 after warm-up. Usage: /usr/bin/python3 bench/attention_bench_torch.py [B H L D [threads]]"""
import statistics
import sys
import time

import torch


def main():
    b, h, l, d = (int(x) for x in sys.argv[1:5]) if len(sys.argv) >= 5 else (8, 6, 197, 64)
    torch.set_num_threads(int(sys.argv[5]) if len(sys.argv) >= 6 else 2)
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(b, h, l, d, generator=g).requires_grad_() for _ in range(3))
    gy = torch.full((b, h, l, d), 0.01)
    scale = d ** -0.5

    def attn():
        return torch.softmax(q @ k.transpose(-1, -2) * scale, -1) @ v

    def fwd():
        with torch.no_grad():
            attn()

    def fwd_bwd():
        attn().backward(gy)

    for name, f in (("fwd", fwd), ("fwd+bwd", fwd_bwd)):
        ts = []
        for r in range(7):
            t0 = time.perf_counter()
            f()
            if r >= 2:
                ts.append((time.perf_counter() - t0) * 1e3)
        print(f"torch {torch.__version__} B={b} H={h} L={l} D={d} threads={torch.get_num_threads()} "
              f"{name}: {statistics.median(ts):.2f} ms")


if __name__ == "__main__":
    main()
