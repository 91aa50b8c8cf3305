#!/usr/bin/env bash
# Everything that needs a GPU, in one command: builds visft with the CUDA backend, runs the GPU tests (every
# engine op on CUDA against the CPU backend), the GPU benchmark (ViT-B/16 and EVA01-g/14 full and LoRA steps:
# img/s, TFLOP/s, MFU; PyTorch eager next to it when a CUDA PyTorch is installed) and a short two-stage training
# run on the GPU. Logs go to OUT_DIR; a summary is printed at the end. Budget: under 8 minutes on one H200.
#   tests/gpu/run.sh OUT_DIR
set -uo pipefail
out=${1:?usage: tests/gpu/run.sh OUT_DIR}
src=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
build=${VISFT_GPU_BUILD:-$src/build-gpu}
jobs=$(nproc)
summary=$out/summary.txt
: >"$summary"
note() { echo "$*" | tee -a "$summary"; }
step() { # step NAME TIMEOUT_S CMD...: runs CMD with a time limit, logs to OUT_DIR/NAME.log, notes the outcome
    local name=$1 limit=$2
    shift 2
    local t0=$SECONDS
    timeout "$limit" "$@" >"$out/$name.log" 2>&1
    local rc=$?
    note "$(printf '%-14s rc=%-3d %4ds  (%s)' "$name" "$rc" $((SECONDS - t0)) "$out/$name.log")"
    return $rc
}

note "visft GPU checks, $(date -u +%FT%TZ), $(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo unknown)"
{ nvidia-smi || echo "nvidia-smi not found"; } >"$out/nvidia-smi.log" 2>&1
note "GPU: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | head -1)"

# 1. build (sm_90 only: H100/H200; override with VISFT_CUDA_ARCHITECTURES)
step configure 300 cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DVISFT_CUDA=ON \
    -DVISFT_CUDA_ARCHITECTURES="${VISFT_CUDA_ARCHITECTURES:-90}" || { note "configure failed"; exit 1; }
step build 400 cmake --build "$build" -j"$jobs" || { tail -30 "$out/build.log"; note "build failed"; exit 1; }

# 2. GPU tests: the op suite on CUDA vs CPU, device plumbing
step gpu-tests 240 env CK_DEFAULT_TIMEOUT=200 "$build/tests/test_cuda_ops"
grep -E "SKIPPED|Checks:|FAILED|failed" "$out/gpu-tests.log" | tail -8 | tee -a "$summary"
step device-test 60 "$build/tests/test_device"

# 3. benchmarks: ViT-B/16 (batch 64) and EVA01-g/14 (batch 16), full and LoRA steps
step bench-vit-b 240 "$build/visft" bench vit --device cuda --model openclip-vit-b-16 --batch 64 --runs 5 --json --precision bf16
step bench-eva-g 300 "$build/visft" bench vit --device cuda --model eva01-g-14 --batch 16 --runs 3 --json --precision bf16
grep -hE "^(full|lora) " "$out"/bench-vit-b.log "$out"/bench-eva-g.log | tee -a "$summary"
py=python3
if $py -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
    step torch-vit-b 240 $py "$src/bench/torch_vit.py" --device cuda --model vit-b-16 --batch 64 --runs 5 --precision bf16 \
        --visft "$build/visft"
    step torch-eva-g 300 $py "$src/bench/torch_vit.py" --device cuda --model eva01-g-14 --batch 16 --runs 3 --precision bf16 \
        --visft "$build/visft"
    grep -hE "ratio|^(full|lora) " "$out"/torch-*.log | tee -a "$summary"
else
    note "torch-bench    skipped: no PyTorch with CUDA on this machine"
fi

# 4. a short two-stage training run (heads, then LoRA) on the GPU
step train 240 "$build/visft" run "$src/configs/shapes_linear.yaml" --set run.device=cuda:0 \
    --set run.out_dir="$out/runs" --set 'stages[0].iterations=50' --set 'stages[1].iterations=50'
tail -3 "$out/train.log" | tee -a "$summary"
note "done in ${SECONDS}s; logs in $out"
