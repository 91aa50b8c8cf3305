#!/usr/bin/env bash
# Installs the Debian packages visft needs to build and test, when they are missing.
# As root it runs apt-get; otherwise it prints the exact command to run and exits non-zero.
# Usage: scripts/setup.sh [--quiet]
set -euo pipefail

pkgs=(build-essential cmake pkg-config libopenblas-dev libopenblas-openmp-dev libyaml-dev check libjpeg62-turbo-dev libpng-dev
      python3-torch python3-numpy python3-venv python3-pil python3-torchvision python3-regex python3-yaml
      python3-requests python3-psutil python3-protobuf python3-absl python3-scipy zlib1g-dev libopenmpi-dev
      openmpi-bin)
quiet=0
for arg in "$@"; do
  case "$arg" in
    --quiet) quiet=1 ;;
    *) echo "setup.sh: unknown option '$arg' (expected --quiet)" >&2; exit 2 ;;
  esac
done

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "setup.sh: not a Debian-based system; install the equivalents of: ${pkgs[*]}" >&2
  exit 1
fi

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  [ "$quiet" = 1 ] || echo "setup.sh: all packages present"
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  echo "setup.sh: missing packages: ${missing[*]}" >&2
  echo "setup.sh: run: sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi

echo "setup.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup.sh: installed ${missing[*]}"
