#!/usr/bin/env bash
# Runs the whole default test suite against a build directory.
# 1. If Debian's python3-torch is importable, regenerates every golden file into a temp dir and checks the
#    committed ones still match what PyTorch computes (so a stale golden file fails the suite).
# 2. Runs every ctest entry (unit tests, plugin fixtures, integration scripts).
set -euo pipefail
build=${1:-build}
shift || true
golden=1
for arg in "$@"; do
  case "$arg" in
    --no-golden) golden=0 ;;
    *) echo "test.sh: unknown option '$arg'" >&2; exit 2 ;;
  esac
done
root=$(cd "$(dirname "$0")/.." && pwd)

if [ "$golden" = 1 ]; then
  # the reference venv (scripts/setup_refs.sh) sees Debian's torch plus timm/open_clip/pycocotools
  py=/usr/bin/python3
  [ -x "$root/.venv-ref/bin/python" ] && py="$root/.venv-ref/bin/python"
  if "$py" -c "import torch, numpy" 2>/dev/null; then
    echo "== regenerating golden files with PyTorch ($py) and comparing =="
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    "$py" "$root/tests/ref/gen_all.py" --out "$tmp"
    "$py" "$root/tests/ref/compare_golden.py" "$root/tests/golden" "$tmp"
  else
    echo "== PyTorch not importable by /usr/bin/python3: using committed golden files only =="
  fi
fi

echo "== ctest =="
cd "$build"
ctest --output-on-failure -j"${CTEST_JOBS:-2}"
