"""Parity references for the ViT family against the real implementations (tests/unit/test_nn_vit_family.c):
timm's Eva (EVA01 pre-norm and EVA02-E post-norm, q/v bias), timm's VisionTransformer (norm_pre, QuickGELU)
and open_clip's VisionTransformer (no patch bias, ln_pre, proj, QuickGELU), scaled down (width 64, depth 2)
with every structural feature of the presets, random weights.

Each file holds the weights under visft's timm-style names ("param.*"; open_clip keys renamed here until the
checkpoint importers exist), the input images, the patch feature map after the final norm and the projected
pooled embedding, at the native 32 px and at a non-native size (position embedding resampled as each
reference does it: timm dynamic_img_size / open_clip resize_pos_embed = bicubic with antialias; EVA-CLIP's
interpolate_pos_embed = bicubic without).

Needs timm and open_clip_torch (the venv /work/main/.venv-ref); without them generate() skips.
  .venv-ref/bin/python tests/ref/gen_vit_family.py --out tests/golden        regenerate
  .venv-ref/bin/python tests/ref/gen_vit_family.py --compare tests/golden    regenerate to a temp dir, compare
Exit status 77 (skip) when the packages are not importable."""
import argparse
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

import torch
import torch.nn.functional as F

here = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(here))
from st import save  # noqa: E402

TIMM_VERSION = "0.9.16"
OPEN_CLIP_VERSION = "2.23.0"
W, DEPTH, HEADS, PATCH, IMG, EMBED = 64, 2, 4, 8, 32, 48


def have_refs():
    try:
        import open_clip  # noqa: F401
        import timm  # noqa: F401
        return True
    except Exception as e:  # noqa: BLE001 (any import failure means: skip)
        print(f"gen_vit_family: SKIP (timm/open_clip not importable: {e})")
        return False


def randomise(model, seed):
    """Every parameter gets non-trivial values (biases, q/v bias, norms) so each one is exercised."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1 and ("norm" in name or "ln_" in name) and name.endswith("weight"):
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.08 * torch.randn(p.shape, generator=g))


def outputs(tokens, pooled_out, grid, prefix=1):
    B, _, D = tokens.shape
    fmap = tokens[:, prefix:].reshape(B, grid[0], grid[1], D).permute(0, 3, 1, 2)
    return fmap.contiguous().numpy(), pooled_out.contiguous().numpy()


def timm_case(model, seed, big):
    """model: a timm Eva / VisionTransformer with dynamic_img_size (antialiased resample)."""
    randomise(model, seed)
    model.eval()
    g = torch.Generator().manual_seed(seed + 1)
    out = {"param." + k: v.numpy() for k, v in model.state_dict().items()}
    for tag, size in (("", IMG), ("big.", big)):
        x = torch.randn(2, 3, size, size, generator=g)
        with torch.no_grad():
            tok = model.forward_features(x)
            emb = model.forward_head(tok)
        f, e = outputs(tok, emb, (size // PATCH, size // PATCH))
        out[tag + "images"], out[tag + "features"], out[tag + "embedding"] = x.numpy(), f, e
    return out


def eva_noaa(model_cls, kwargs, sd, x):
    """EVA-CLIP's way to another size: interpolate_pos_embed (bicubic, no antialias) into a model built for it."""
    size = x.shape[-1]
    m = model_cls(img_size=size, **kwargs)
    pe = sd["pos_embed"]
    g0, g1 = IMG // PATCH, size // PATCH
    grid = pe[:, 1:].reshape(1, g0, g0, -1).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=(g1, g1), mode="bicubic", align_corners=False)
    sd = dict(sd, pos_embed=torch.cat([pe[:, :1], grid.permute(0, 2, 3, 1).reshape(1, g1 * g1, -1)], 1))
    m.load_state_dict(sd)
    m.eval()
    with torch.no_grad():
        tok = m.forward_features(x)
        emb = m.forward_head(tok)
    return outputs(tok, emb, (g1, g1))


def eva(post_norm, seed, big):
    from timm.models.eva import Eva
    kw = dict(patch_size=PATCH, embed_dim=W, depth=DEPTH, num_heads=HEADS, mlp_ratio=2.0, qkv_bias=True,
              use_post_norm=post_norm, class_token=True, global_pool="token", num_classes=EMBED)
    m = Eva(img_size=IMG, dynamic_img_size=True, **kw)
    out = timm_case(m, seed, big)
    sd = {k: v.clone() for k, v in m.state_dict().items()}
    f, e = eva_noaa(Eva, kw, sd, torch.from_numpy(out["big.images"]))
    out["bignoaa.features"], out["bignoaa.embedding"] = f, e
    return out


def timm_vit(seed, big):
    from timm.layers import QuickGELU
    from timm.models.vision_transformer import VisionTransformer
    m = VisionTransformer(img_size=IMG, patch_size=PATCH, embed_dim=W, depth=DEPTH, num_heads=HEADS, mlp_ratio=3.0,
                          qkv_bias=True, pre_norm=True, class_token=True, global_pool="token", num_classes=EMBED,
                          act_layer=QuickGELU, dynamic_img_size=True)
    return timm_case(m, seed, big)


OPENCLIP_RENAME = [("conv1.", "patch_embed.proj."), ("ln_pre.", "norm_pre."), ("ln_post.", "norm."),
                   ("transformer.resblocks.", "blocks."), (".ln_1.", ".norm1."), (".ln_2.", ".norm2."),
                   (".attn.in_proj_weight", ".attn.qkv.weight"), (".attn.in_proj_bias", ".attn.qkv.bias"),
                   (".attn.out_proj.", ".attn.proj."), (".mlp.c_fc.", ".mlp.fc1."), (".mlp.c_proj.", ".mlp.fc2.")]


def openclip_to_visft(sd):
    out = {}
    for k, v in sd.items():
        if k == "class_embedding":
            out["cls_token"] = v.reshape(1, 1, -1)
        elif k == "positional_embedding":
            out["pos_embed"] = v.unsqueeze(0)
        elif k == "proj":
            out["head.weight"] = v.t().contiguous()  # pooled @ proj == linear with proj.T
        else:
            for a, b in OPENCLIP_RENAME:
                k = k.replace(a, b)
            out[k] = v
    return out


def openclip(seed, big):
    from open_clip.model import resize_pos_embed
    from open_clip.transformer import QuickGELU, VisionTransformer

    def make(size):
        return VisionTransformer(image_size=size, patch_size=PATCH, width=W, layers=DEPTH, heads=HEADS, mlp_ratio=4.0,
                                 output_dim=EMBED, act_layer=QuickGELU, output_tokens=True)

    m = make(IMG)
    randomise(m, seed)
    m.eval()
    g = torch.Generator().manual_seed(seed + 1)
    out = {"param." + k: v.numpy() for k, v in openclip_to_visft(m.state_dict()).items()}
    m2 = make(big)  # open_clip's own resize (bicubic, antialias) as it loads a checkpoint into another size

    class Wrap:
        visual = m2

    sd = {"visual." + k: v for k, v in m.state_dict().items()}
    resize_pos_embed(sd, Wrap)
    m2.load_state_dict({k[len("visual."):]: v for k, v in sd.items()})
    m2.eval()
    for tag, size, model in (("", IMG, m), ("big.", big, m2)):
        x = torch.randn(2, 3, size, size, generator=g)
        with torch.no_grad():
            pooled, tokens = model(x)
        f, e = outputs(tokens, pooled, (size // PATCH, size // PATCH), prefix=0)
        out[tag + "images"], out[tag + "features"], out[tag + "embedding"] = x.numpy(), f, e
    return out


def generate(out_dir):
    if not have_refs():
        from golden import SkipGenerator
        raise SkipGenerator("timm/open_clip not importable (scripts/setup_refs.sh installs them)")
    import open_clip  # noqa: F401
    import timm
    torch.set_num_threads(1)
    meta = {"timm": timm.__version__, "torch": torch.__version__}
    save(os.path.join(out_dir, "vit_family_eva01.safetensors"), eva(False, 11, 40), meta)
    save(os.path.join(out_dir, "vit_family_eva02e.safetensors"), eva(True, 12, 24), meta)
    save(os.path.join(out_dir, "vit_family_timm_vit.safetensors"), timm_vit(13, 48), meta)
    save(os.path.join(out_dir, "vit_family_openclip.safetensors"), openclip(14, 40), meta)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out")
    ap.add_argument("--compare", help="committed golden dir to compare fresh files against")
    a = ap.parse_args()
    if not have_refs():
        sys.exit(77)
    if a.out:
        os.makedirs(a.out, exist_ok=True)
        generate(a.out)
    if a.compare:
        with tempfile.TemporaryDirectory() as fresh, tempfile.TemporaryDirectory() as mine:
            generate(fresh)
            for p in pathlib.Path(fresh).glob("*.safetensors"):  # compare_golden also flags other files
                src = pathlib.Path(a.compare) / p.name
                if src.exists():
                    shutil.copy(src, mine)
            sys.exit(subprocess.call([sys.executable, str(here / "compare_golden.py"), mine, fresh]))


if __name__ == "__main__":
    main()
