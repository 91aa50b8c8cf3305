#!/usr/bin/env bash
# Creates .venv-ref: the PyPI reference packages (timm, open_clip, peft, pycocotools, safetensors) the parity
# tests compare against, over Debian's python3-torch. Tests that need one of them skip with a clear line
# when it is missing, so a machine without PyPI access still runs the rest of the suite.
# Usage: scripts/setup_refs.sh [--quiet]
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.venv-ref"
req="$root/tests/ref/requirements-refs.txt"
stamp="$venv/.requirements"
quiet=0
[ "${1:-}" = "--quiet" ] && quiet=1

if [ -f "$stamp" ] && cmp -s "$stamp" "$req"; then
  [ "$quiet" = 1 ] || echo "setup_refs.sh: $venv is up to date"
  exit 0
fi
if ! /usr/bin/python3 -c "import torch" 2>/dev/null; then
  echo "setup_refs.sh: Debian's python3-torch is missing; reference tests will be skipped (run scripts/setup.sh)"
  exit 0
fi
if [ ! -x "$venv/bin/python" ]; then
  /usr/bin/python3 -m venv --system-site-packages "$venv" || {
    echo "setup_refs.sh: cannot create $venv (apt-get install python3-venv); reference tests will be skipped"
    exit 0
  }
fi
if "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -r "$req"; then
  cp "$req" "$stamp"
  [ "$quiet" = 1 ] || echo "setup_refs.sh: installed the reference packages into $venv"
else
  echo "setup_refs.sh: pip could not install the reference packages (no PyPI access?); tests that need them will be skipped"
fi
exit 0
