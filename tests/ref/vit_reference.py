"""ViT parity references: weights (timm names), images, logits, and the gradient of sum(logits * gout) for
every parameter. Used by gen_vit.py (a tiny committed case) and, at test time, for ViT-S/16 (too large to
commit): `vit_reference.py --vit-s OUT.safetensors`."""
import argparse
import pathlib
import sys

import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from st import save  # noqa: E402
from vit_model import ViT  # noqa: E402


def lora_name(torch_name):
    # blocks.3.attn.lora.A_q -> blocks.3.attn.qkv.lora_A.q.weight
    head, leaf = torch_name.rsplit(".lora.", 1)
    mat, slice_ = leaf.split("_")
    return f"{head}.qkv.lora_{mat}.{slice_}.weight"


def reference(model_kwargs, batch, seed, lora=False):
    torch.manual_seed(seed)
    m = ViT(**model_kwargs)
    with torch.no_grad():  # non-trivial norms and biases so their gradients are exercised
        for name, p in m.named_parameters():
            if name.endswith("bias") or "norm" in name:
                p.add_(torch.randn_like(p) * 0.1)
    if lora:
        m.add_lora(rank=4, alpha=8.0)
        with torch.no_grad():
            for name, p in m.named_parameters():
                if ".lora.B" in name:
                    p.copy_(torch.randn_like(p) * 0.05)
    size = model_kwargs.get("image_size", 224)
    x = torch.randn(batch, 3, size, size)
    logits = m(x)
    gout = torch.randn_like(logits)
    (logits * gout).sum().backward()
    out = {"images": x.numpy(), "logits": logits.detach().numpy(), "gout": gout.numpy()}
    for name, p in m.named_parameters():
        key = lora_name(name) if ".lora." in name else name
        out["param." + key] = p.detach().numpy()
        out["grad." + key] = p.grad.numpy()
    return out


TINY = dict(image_size=32, patch=8, dim=32, depth=2, heads=2, hidden=64, classes=10)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vit-s", required=True, help="output safetensors path")
    args = ap.parse_args()
    torch.set_num_threads(2)
    save(args.vit_s, reference({}, batch=2, seed=7), {"model": "vit_small_patch16_224"})


if __name__ == "__main__":
    main()
