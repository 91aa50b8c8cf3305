"""The timm model weights, LoRA adapter and images of the PEFT round trip (tests/unit/test_checkpoint_peft.c);
the check itself runs at test time through peft_roundtrip.py."""
import os

from golden import SkipGenerator
from peft_roundtrip import make


def generate(out):
    try:
        import timm  # noqa: F401
    except ImportError:
        raise SkipGenerator("timm is not importable (scripts/setup_refs.sh installs it)")
    make(os.path.join(out, "checkpoint_peft.safetensors"))
