#!/usr/bin/env bash
# ViT-S/16 parity with PyTorch at full size: the reference (weights, logits, every gradient; ~180 MB) is made
# at test time instead of committed. Skips cleanly when Debian's python3-torch is not importable.
set -euo pipefail
test_bin=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
if ! /usr/bin/python3 -c "import torch" 2>/dev/null; then
  echo "vit_s_parity: skipped (PyTorch not importable by /usr/bin/python3)"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 "$root/tests/ref/vit_reference.py" --vit-s "$tmp/vit_s.safetensors"
VISFT_VIT_S_REF="$tmp/vit_s.safetensors" "$test_bin"
