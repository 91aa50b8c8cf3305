"""Tiny ViT (with and without LoRA) parity references (tests/unit/test_nn_vit.c)."""
import os

from st import save
from vit_reference import TINY, reference


def generate(out):
    save(os.path.join(out, "vit_tiny.safetensors"), reference(TINY, batch=2, seed=3))
    save(os.path.join(out, "vit_tiny_lora.safetensors"), reference(TINY, batch=2, seed=4, lora=True))
