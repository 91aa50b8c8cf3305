#!/bin/sh
# Data-parallel equivalence through the CLI (issue 6): `mpirun -np 2 visft train CFG` with a global batch of 8
# (4 per rank) must end with the same final.safetensors as `visft train CFG` in one process with batch 8,
# within 1e-5 (only the float summation order differs: mean of two means of 4 vs one mean of 8).
# Tiny config: shapes, the tiny backbone, linear_cls, a few steps of the heads and lora stages, dropout 0.
# The 2-rank run is repeated on the emulated accelerator (run.device: emu:0), where gradients are reduced from
# device buckets. Usage: train_equivalence.sh VISFT_BINARY MPIEXEC
set -eu
visft=$1
mpiexec=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "train_equivalence: $*" >&2; exit 1; }
cat >"$tmp/cfg.yaml" <<'YAML'
run: {name: one, out_dir: OUT, seed: 3, threads: 1}
backbone: {preset: tiny}
tasks:
  cls:
    head: {plugin: linear_cls, num_classes: 8}
    dataset: {plugin: shapes, image_size: 32, train_size: 40, val_size: 8, test_size: 8, label: dominant_shape}
    transforms:
      - {normalize: {mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225]}}
    batch_size: 8
stages:
  - {kind: heads, iterations: 4, lr: 1.0e-2, warmup: 1, weight_decay: 0.0}
  - {kind: lora, iterations: 7, lr: 1.0e-2, warmup: 1, clip_norm: 1.0,
     lora: {rank: 4, alpha: 8, dropout: 0, targets: [q, v]}}
YAML
sed -i "s|OUT|$tmp|" "$tmp/cfg.yaml"
# 7 lora steps of 8 over 40 samples (5 batches an epoch) cross an epoch boundary.
"$visft" train "$tmp/cfg.yaml" -q >"$tmp/one.txt" 2>&1 || { cat "$tmp/one.txt"; fail "single-process run failed"; }
"$mpiexec" -np 2 --oversubscribe "$visft" train "$tmp/cfg.yaml" -q --set run.name=two >"$tmp/two.txt" 2>&1 ||
    { cat "$tmp/two.txt"; fail "mpirun -np 2 run failed"; }
cat "$tmp/two.txt"
[ "$(grep -c '^wrote ' "$tmp/two.txt")" -eq 1 ] || fail "expected exactly one rank to write final.safetensors"
# Batch 8 must divide by the ranks: 3 ranks is refused with a message naming the key.
if "$mpiexec" -np 3 --oversubscribe "$visft" train "$tmp/cfg.yaml" -q --set run.name=three >"$tmp/three.txt" 2>&1; then
    fail "3 ranks with batch 8 should fail"
fi
grep -q 'batch_size: 8 is not divisible' "$tmp/three.txt" || { cat "$tmp/three.txt"; fail "no divisibility error"; }
# The same on a device (the emulated accelerator): gradients packed into device buckets, reduced through MPI.
"$mpiexec" -np 2 --oversubscribe "$visft" train "$tmp/cfg.yaml" -q --set run.name=two_emu --set run.device=emu:0 \
    >"$tmp/two_emu.txt" 2>&1 || { cat "$tmp/two_emu.txt"; fail "mpirun -np 2 run on emu:0 failed"; }
python=/usr/bin/python3
[ -x "$python" ] || python=python3
for other in two two_emu; do
"$python" - "$tmp/one/final.safetensors" "$tmp/$other/final.safetensors" <<'PY'
import json, struct, sys
import numpy as np

def load(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    body = raw[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", (name, info["dtype"])
        a, b = info["data_offsets"]
        out[name] = np.frombuffer(body[a:b], dtype="<f4").reshape(info["shape"])
    return out

one, two = load(sys.argv[1]), load(sys.argv[2])
if sorted(one) != sorted(two):
    sys.exit("train_equivalence: the two runs saved different tensors")
worst, where, moved = 0.0, "", 0
for k in one:
    d = float(np.max(np.abs(one[k].astype(np.float64) - two[k]))) if one[k].size else 0.0
    if d > worst:
        worst, where = d, k
print("train_equivalence: %d tensors, max |diff| %.3g (%s)" % (len(one), worst, where))
if not np.all([np.all(np.isfinite(v)) for v in one.values()]):
    sys.exit("train_equivalence: non-finite weights")
if any(k.startswith("lora.") for k in one) is False:
    sys.exit("train_equivalence: no LoRA tensors saved: the lora stage did not run")
if worst > 1e-5:
    sys.exit("train_equivalence: max |diff| %.3g > 1e-5 in %s" % (worst, where))
PY
done
echo "train_equivalence: ok"
