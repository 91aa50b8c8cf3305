#!/usr/bin/env bash
# Slow checks kept out of the default suite: a bounded libFuzzer run of every fuzz target (clang), each
# starting from its committed seed corpus (copied, so new inputs stay out of the tree).
# Usage: scripts/long_check.sh [BUILD_DIR] ; FUZZ_SECONDS (default 60) sets the time per target.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${FUZZ_SECONDS:-60}
if ! command -v clang >/dev/null 2>&1; then
  echo "long_check: clang is needed for libFuzzer targets (apt-get install clang)" >&2
  exit 1
fi
fuzz_build="$root/build-fuzz"
cmake -S "$root" -B "$fuzz_build" -DCMAKE_C_COMPILER=clang -DVISFT_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
targets=$(for src in "$root"/tests/fuzz/fuzz_*.c; do basename "$src" .c; done)
# only the fuzz targets: the instrumented library is not meant for the ordinary executables
# shellcheck disable=SC2086
cmake --build "$fuzz_build" -j"$(nproc)" --target $targets >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
for src in "$root"/tests/fuzz/fuzz_*.c; do
  name=$(basename "$src" .c)
  corpus=${name#fuzz_}
  mkdir -p "$work/$corpus"
  cp -r "$root/tests/fuzz/corpus/$corpus/." "$work/$corpus/" 2>/dev/null || true
  echo "== $name: ${secs}s =="
  if ! "$fuzz_build/tests/$name" -max_total_time="$secs" -print_final_stats=1 "$work/$corpus" \
       >"$work/$name.log" 2>&1; then
    tail -40 "$work/$name.log"
    echo "long_check: $name found a failing input (see above)" >&2
    status=1
  else
    grep -E "stat::number_of_executed_units|stat::new_units_added" "$work/$name.log" | tr '\n' ' '; echo
  fi
done
exit $status
