"""A plain PyTorch vision transformer with timm's parameter names and semantics (vit_small_patch16_224 when
called with the defaults), plus LoRA on the fused qkv like visft's. Shared by the ViT parity generator and
bench/torch_vit.py, so both measure exactly the model visft implements. No timm dependency."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class LoRAQKV(nn.Module):
    """Rank-r adapters on the q and v slices of a fused qkv linear (k untouched), scaling alpha/r."""

    def __init__(self, dim, rank, alpha):
        super().__init__()
        self.scaling = alpha / rank
        self.A_q = nn.Parameter(torch.empty(rank, dim))
        self.B_q = nn.Parameter(torch.zeros(dim, rank))
        self.A_v = nn.Parameter(torch.empty(rank, dim))
        self.B_v = nn.Parameter(torch.zeros(dim, rank))
        nn.init.kaiming_uniform_(self.A_q, a=math.sqrt(5))
        nn.init.kaiming_uniform_(self.A_v, a=math.sqrt(5))

    def forward(self, x, qkv):
        dq = F.linear(F.linear(x, self.A_q), self.B_q) * self.scaling
        dv = F.linear(F.linear(x, self.A_v), self.B_v) * self.scaling
        return qkv + torch.cat([dq, torch.zeros_like(dq), dv], -1)


class Attention(nn.Module):
    # bench/torch_vit.py --device cuda turns this on: PyTorch eager with its fused SDPA, the fair GPU baseline.
    use_sdpa = False

    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        self.lora = None

    def forward(self, x):
        B, L, D = x.shape
        qkv = self.qkv(x)
        if self.lora is not None:
            qkv = self.lora(x, qkv)
        q, k, v = qkv.reshape(B, L, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)
        if Attention.use_sdpa:
            x = nn.functional.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(B, L, D)
            return self.proj(x)
        attn = (q @ k.transpose(-2, -1)) * (D // self.heads) ** -0.5
        x = (attn.softmax(-1) @ v).transpose(1, 2).reshape(B, L, D)
        return self.proj(x)


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim, heads, hidden, eps):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, hidden)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, patch, chans, dim):
        super().__init__()
        self.proj = nn.Conv2d(chans, dim, patch, patch)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class ViT(nn.Module):
    def __init__(self, image_size=224, patch=16, chans=3, dim=384, depth=12, heads=6, hidden=1536, classes=1000,
                 eps=1e-6):
        super().__init__()
        self.patch_embed = PatchEmbed(patch, chans, dim)
        n = (image_size // patch) ** 2
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim) * 1e-6)
        self.pos_embed = nn.Parameter(torch.randn(1, n + 1, dim) * 0.02)
        self.blocks = nn.ModuleList([Block(dim, heads, hidden, eps) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=eps)
        self.head = nn.Linear(dim, classes)
        for m in self.modules():  # timm: trunc_normal(.02) weights, zero biases
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)

    def add_lora(self, rank=64, alpha=1.0):
        params = []
        for b in self.blocks:
            b.attn.lora = LoRAQKV(b.attn.qkv.in_features, rank, alpha)
            params += list(b.attn.lora.parameters())
        return params

    def forward(self, x):
        x = self.patch_embed(x)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], 1) + self.pos_embed
        for b in self.blocks:
            x = b(x)
        x = self.norm(x)
        return self.head(x[:, 0])

    def flops(self, batch):
        """Forward FLOPs (2 per multiply-add), same formula as visft's vt_vit_forward_flops."""
        b0 = self.blocks[0]
        D, M = b0.attn.qkv.in_features, b0.mlp.fc1.out_features
        L = self.pos_embed.shape[1]
        N = L - 1
        p = self.patch_embed.proj.kernel_size[0]
        per_block = 2 * L * D * 3 * D + 2 * 2 * L * L * D + 2 * L * D * D + 2 * 2 * L * D * M
        C = self.head.out_features
        return batch * (2 * N * 3 * p * p * D + len(self.blocks) * per_block + 2 * D * C)
