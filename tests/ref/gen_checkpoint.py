"""Checkpoints in the external key formats visft imports, for tests/unit/test_checkpoint.c.

Each file is written the way its project lays the weights out (names and shapes from open_clip's
VisionTransformer, EVA-CLIP's / timm's Eva and LAVIS's eva_vit), from one set of random weights in visft (timm)
names that is saved beside them as the expected result of importing. Small sizes: width 32, 2 blocks, 2 heads,
MLP 64, patch 8, image 32 (16 patches + class token), projection 16. numpy only.

Run with /usr/bin/python3 tests/ref/gen_checkpoint.py (writes tests/golden/checkpoint_*.safetensors)."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from st import save  # noqa: E402

D, DEPTH, MLP, P, L, E = 32, 2, 64, 8, 17, 16
rng = np.random.default_rng(1234)


def r(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def vision(qkv_bias, patch_bias, ln_pre, final_norm, head, head_bias):
    """Random visft-named vision weights."""
    w = {"patch_embed.proj.weight": r(D, 3, P, P), "cls_token": r(1, 1, D), "pos_embed": r(1, L, D)}
    if patch_bias:
        w["patch_embed.proj.bias"] = r(D)
    if ln_pre:
        w["norm_pre.weight"], w["norm_pre.bias"] = r(D), r(D)
    for i in range(DEPTH):
        b = f"blocks.{i}."
        w[b + "norm1.weight"], w[b + "norm1.bias"] = r(D), r(D)
        w[b + "attn.qkv.weight"] = r(3 * D, D)
        if qkv_bias == "all":
            w[b + "attn.qkv.bias"] = r(3 * D)
        elif qkv_bias == "qv":
            w[b + "attn.q_bias"], w[b + "attn.v_bias"] = r(D), r(D)
        w[b + "attn.proj.weight"], w[b + "attn.proj.bias"] = r(D, D), r(D)
        w[b + "norm2.weight"], w[b + "norm2.bias"] = r(D), r(D)
        w[b + "mlp.fc1.weight"], w[b + "mlp.fc1.bias"] = r(MLP, D), r(MLP)
        w[b + "mlp.fc2.weight"], w[b + "mlp.fc2.bias"] = r(D, MLP), r(D)
    if final_norm:
        w["norm.weight"], w["norm.bias"] = r(D), r(D)
    if head:
        w["head.weight"] = r(E, D)
        if head_bias:
            w["head.bias"] = r(E)
    return w


def text_tower(prefix):
    return {prefix + "token_embedding.weight": r(50, D), prefix + "positional_embedding": r(8, D),
            prefix + "transformer.resblocks.0.attn.in_proj_weight": r(3 * D, D),
            prefix + "ln_final.weight": r(D), prefix + "text_projection": r(D, E), "logit_scale": r()}


def to_open_clip(w):
    """open_clip VisionTransformer layout: conv1 without bias, class_embedding [D], positional_embedding [L, D],
    fused in_proj, proj [D, E] used as x @ proj."""
    o = {"visual.conv1.weight": w["patch_embed.proj.weight"], "visual.class_embedding": w["cls_token"].reshape(D),
         "visual.positional_embedding": w["pos_embed"].reshape(L, D), "visual.ln_pre.weight": w["norm_pre.weight"],
         "visual.ln_pre.bias": w["norm_pre.bias"], "visual.ln_post.weight": w["norm.weight"],
         "visual.ln_post.bias": w["norm.bias"], "visual.proj": np.ascontiguousarray(w["head.weight"].T)}
    names = {"norm1": "ln_1", "attn.qkv": "attn.in_proj_", "attn.proj": "attn.out_proj", "norm2": "ln_2",
             "mlp.fc1": "mlp.c_fc", "mlp.fc2": "mlp.c_proj"}
    for i in range(DEPTH):
        for vt, oc in names.items():
            for kind in ("weight", "bias"):
                key = f"visual.transformer.resblocks.{i}." + (oc + kind if oc.endswith("_") else f"{oc}.{kind}")
                o[key] = w[f"blocks.{i}.{vt}.{kind}"]
    return o


def prefixed(w, prefix):
    return {prefix + k: v for k, v in w.items()}


def generate(out):
    expect = {}
    # open_clip: some tensors in f16 (converted on load); expected values are the f16-rounded ones
    oc = vision("all", False, True, True, True, False)
    for k in ("blocks.0.mlp.fc1.weight", "pos_embed"):
        oc[k] = oc[k].astype(np.float16).astype(np.float32)
    f = to_open_clip(oc)
    f["visual.transformer.resblocks.0.mlp.c_fc.weight"] = oc["blocks.0.mlp.fc1.weight"].astype(np.float16)
    f["visual.positional_embedding"] = oc["pos_embed"].reshape(L, D).astype(np.float16)
    save(os.path.join(out, "checkpoint_open_clip.safetensors"), {**f, **text_tower("")})
    expect.update(prefixed(oc, "open_clip."))

    # the mismatch case: block 1 missing, an extra key, ln_post.weight of the wrong shape
    bad = {k: v for k, v in f.items() if ".resblocks.1." not in k}
    bad["visual.extra_key"] = r(3)
    bad["visual.ln_post.weight"] = r(D + 1)
    save(os.path.join(out, "checkpoint_mismatch.safetensors"), bad)

    # EVA-CLIP (EVA01 layout): fused qkv without bias + q_bias/v_bias, head with bias, text tower under text.
    ev = vision("qv", True, False, True, True, True)
    save(os.path.join(out, "checkpoint_eva_clip.safetensors"), {**prefixed(ev, "visual."), **text_tower("text.")})
    expect.update(prefixed(ev, "eva_clip."))

    # EVA-CLIP with separate q/k/v projections (fused on import)
    sp = {}
    for k, v in prefixed(ev, "visual.").items():
        if k.endswith("attn.qkv.weight"):
            stem = k[: -len("qkv.weight")]
            sp[stem + "q_proj.weight"], sp[stem + "k_proj.weight"], sp[stem + "v_proj.weight"] = v[:D], v[D:2 * D], v[2 * D:]
        else:
            sp[k] = v
    save(os.path.join(out, "checkpoint_eva_split.safetensors"), sp)

    # timm Eva inside open_clip (visual.trunk., projection at visual.head.proj)
    tm = {("visual.head.proj." + k[5:]) if k.startswith("head.") else "visual.trunk." + k: v for k, v in ev.items()}
    save(os.path.join(out, "checkpoint_timm_trunk.safetensors"), tm)

    # LAVIS eva_vit_g: EVA names, no final norm, no head (here 2 blocks)
    lv = vision("qv", True, False, False, False, False)
    save(os.path.join(out, "checkpoint_lavis.safetensors"), lv)
    expect.update(prefixed(lv, "lavis."))
    # BLIP-2: visual_encoder. prefix, final LayerNorm outside the ViT as ln_vision, plus unrelated modules
    b2 = prefixed(lv, "visual_encoder.")
    b2["ln_vision.weight"], b2["ln_vision.bias"] = r(D), r(D)
    b2["Qformer.bert.embeddings.weight"] = r(4, 4)
    save(os.path.join(out, "checkpoint_blip2.safetensors"), b2)
    expect["blip2.norm.weight"], expect["blip2.norm.bias"] = b2["ln_vision.weight"], b2["ln_vision.bias"]

    save(os.path.join(out, "checkpoint_expected.safetensors"), expect)


if __name__ == "__main__":
    generate(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden"))
