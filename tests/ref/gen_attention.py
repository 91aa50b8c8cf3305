"""Reference results for scaled dot-product attention (tests/unit/test_ops_attention.c).

The reference is PyTorch's explicit formula softmax(q·kᵀ·scale + mask)·v (1.13 has no fused SDPA). Boolean
masks keep the true positions; causal is top-left aligned. Rows with no visible key are defined to give
zeros (the explicit formula gives NaN): `ref` zeroes them in a way whose gradient is zero too. The C test
fixes each case's scale and causal flag by name (see `cases` there)."""
import os

import torch

from golden import Golden, randn


def ref(q, k, v, mask=None, causal=False, scale=None):
    scale = q.shape[-1] ** -0.5 if scale is None else scale
    s = q @ k.transpose(-1, -2) * scale
    if mask is not None:
        s = s.masked_fill(~mask.bool(), float("-inf")) if mask.dtype in (torch.bool, torch.uint8) else s + mask
    if causal:
        lq, lk = s.shape[-2], s.shape[-1]
        s = s.masked_fill(torch.ones(lq, lk, dtype=torch.bool).triu(1), float("-inf"))
    dead = torch.isneginf(s).all(-1, keepdim=True)
    p = torch.softmax(s.masked_fill(dead, 0.0), -1).masked_fill(dead, 0.0)
    return p @ v


def qkv(b, h, lq, lk, d, dv=None, seed=0):
    return [randn(b, h, lq, d, seed=seed), randn(b, h, lk, d, seed=seed + 1), randn(b, h, lk, dv or d, seed=seed + 2)]


def generate(out):
    g = Golden()
    g.case("plain", ref, qkv(2, 3, 17, 17, 16, seed=1))
    # additive mask [1, H, Lq, Lk] (a learned position bias): broadcast over batch, gets a gradient
    g.case("additive", lambda q, k, v, m: ref(q, k, v, m), qkv(2, 3, 11, 11, 8, seed=10) + [randn(1, 3, 11, 11, seed=13)])
    # boolean mask [B, 1, Lq, Lk], broadcast over heads
    keep = randn(2, 1, 9, 12, seed=23) > -0.8
    keep[..., 0] = True
    g.case("bool_heads", lambda q, k, v, m: ref(q, k, v, m), qkv(2, 3, 9, 12, 8, seed=20) + [keep])
    # u8 key padding mask [B, 1, 1, Lk]: batch 0 sees 10 keys, batch 1 sees 6
    pad = torch.zeros(2, 1, 1, 10, dtype=torch.uint8)
    pad[0, ..., :10] = 1
    pad[1, ..., :6] = 1
    g.case("u8_padding", lambda q, k, v, m: ref(q, k, v, m), qkv(2, 2, 7, 10, 8, seed=30) + [pad])
    # causal across query and key tiles (128 rows each)
    g.case("causal", lambda q, k, v: ref(q, k, v, causal=True), qkv(1, 1, 150, 150, 8, seed=40))
    # causal with Lq > Lk (rows past Lk see every key) and Lq < Lk
    g.case("causal_tall", lambda q, k, v: ref(q, k, v, causal=True), qkv(1, 2, 9, 5, 8, seed=43))
    g.case("causal_wide", lambda q, k, v: ref(q, k, v, causal=True), qkv(1, 2, 5, 9, 8, seed=46))
    # causal text tower with padding
    keep = torch.ones(2, 1, 1, 12, dtype=torch.bool)
    keep[1, ..., 8:] = False
    g.case("causal_padding", lambda q, k, v, m: ref(q, k, v, m, causal=True), qkv(2, 2, 12, 12, 8, seed=50) + [keep])
    # cross attention: Lq != Lk, Lk spans two key tiles (online softmax rescaling), Dv != D
    g.case("cross", ref, qkv(1, 2, 5, 150, 8, dv=12, seed=60))
    # ViT-S/16 sequence length (not a multiple of any tile), small D to keep the file small
    g.case("l197", ref, qkv(1, 1, 197, 197, 8, seed=70))
    g.case("d64", ref, qkv(1, 1, 40, 40, 64, seed=80))
    g.case("d88", ref, qkv(1, 1, 24, 24, 88, seed=90))
    g.case("d5", lambda q, k, v: ref(q, k, v, scale=0.3), qkv(2, 1, 11, 7, 5, seed=100))
    # q, k, v as permuted slices of one fused projection [B, L, 3·H·D]
    def fused(x, b=2, l=19, h=2, d=8):
        t = x.reshape(b, l, 3, h, d).permute(2, 0, 3, 1, 4)
        return ref(t[0], t[1], t[2])
    g.case("fused_qkv", fused, [randn(2, 19, 3 * 2 * 8, seed=110)])
    # rows with no visible key: query 2 of batch 0 masked everywhere, batch 1 head 1 masked by -inf entirely
    keep = randn(2, 1, 5, 6, seed=121) > -1.0
    keep[0, :, 2] = False
    g.case("dead_rows_bool", lambda q, k, v, m: ref(q, k, v, m), qkv(2, 2, 5, 6, 4, seed=120) + [keep])
    add = randn(2, 2, 5, 6, seed=131)
    add[1, 1] = float("-inf")
    add[0, 0, :, 3] = float("-inf")
    g.case("dead_rows_additive", lambda q, k, v, m: ref(q, k, v, m), qkv(2, 2, 5, 6, 4, seed=130) + [add],
           grad_inputs=[0, 1, 2])
    g.save(os.path.join(out, "attention.safetensors"))
