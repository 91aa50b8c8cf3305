"""PEFT round trip for visft's exported LoRA adapters (run by tests/unit/test_checkpoint_peft.c).

    peft_roundtrip.py make OUT.safetensors
        writes a small timm VisionTransformer's weights (random, timm names = visft names), a visft LoRA file's
        tensors (lora.blocks.N.attn.qkv.lora_{A,B}.{q,v}.weight, rank 4, alpha 8) and input images.
    peft_roundtrip.py check WEIGHTS.safetensors ADAPTER_DIR VISFT_LOGITS.safetensors
        builds the same timm model, loads the weights, applies the adapter with peft's PeftModel.from_pretrained,
        and compares its logits with visft's (max relative error <= 1e-4). Exit 0 pass, 1 fail, 77 skip.

Needs timm and peft (pip install --no-deps into the venv over Debian's torch 1.13); skips with one line
when they cannot be imported."""
import os
import zlib
import sys

sys.path.insert(0, os.path.dirname(__file__))

CFG = dict(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, mlp_ratio=2.0, num_classes=10,
           qkv_bias=True, class_token=True, global_pool="token")


def model():
    import timm.models.vision_transformer as vit
    return vit.VisionTransformer(**CFG).eval()


def make(out):
    import numpy as np
    import torch
    from st import save
    torch.manual_seed(7)
    m = model()
    t = {k: v.detach().numpy().copy() for k, v in m.state_dict().items()}
    for k in t:  # timm zero-initialises biases and norms: randomise so every parameter matters
        t[k] = (np.random.default_rng(zlib.crc32(k.encode())).standard_normal(t[k].shape) * 0.05 + (
            1.0 if k.endswith("norm1.weight") or k.endswith("norm2.weight") or k == "norm.weight" else 0.0)).astype(
            np.float32)
    g = np.random.default_rng(3)
    for i in range(CFG["depth"]):
        for s in ("q", "v"):
            t[f"lora.blocks.{i}.attn.qkv.lora_A.{s}.weight"] = (g.standard_normal((4, 32)) * 0.2).astype(np.float32)
            t[f"lora.blocks.{i}.attn.qkv.lora_B.{s}.weight"] = (g.standard_normal((32, 4)) * 0.2).astype(np.float32)
    t["images"] = g.standard_normal((2, 3, 32, 32)).astype(np.float32)
    save(out, t)


def check(weights, adapter, logits_path):
    try:
        import torch
        import peft  # noqa: F401
        from peft import PeftModel
        import timm  # noqa: F401
    except Exception as e:  # noqa: BLE001
        print(f"SKIP: peft/timm not importable ({type(e).__name__}: {e})")
        return 77
    from st import load
    w = load(weights)
    m = model()
    m.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in w.items() if not k.startswith("lora.") and k != "images"})
    pm = PeftModel.from_pretrained(m, adapter).eval()
    with torch.no_grad():
        ref = pm(torch.from_numpy(w["images"].copy())).numpy()
        base = m.base_model.model if hasattr(m, "base_model") else None  # noqa: F841
    got = load(logits_path)["logits"]
    err = float(abs(got - ref).max() / max(abs(ref).max(), 1e-30))
    n_lora = sum(1 for n, _ in pm.named_parameters() if "lora_" in n)
    print(f"peft {peft.__version__}: {n_lora} LoRA tensors loaded; max rel err visft vs peft {err:.2e}")
    return 0 if err <= 1e-4 and n_lora > 0 else 1


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2])
    else:
        sys.exit(check(*sys.argv[2:5]))
