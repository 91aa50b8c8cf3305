#!/bin/sh
# The quickstart pipeline end to end: `visft run configs/shapes_linear.yaml` with short stages must print the
# before/after table and write results.json (before, after and delta of linear_probe's metrics) and
# config.yaml into the run directory. Usage: shapes_pipeline.sh VISFT_BINARY SOURCE_DIR
set -eu
visft=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$visft" run "$src/configs/shapes_linear.yaml" -q \
    --set run.out_dir="$tmp" --set run.name=it \
    --set 'stages[0].iterations=10' --set 'stages[1].iterations=10' \
    --set 'benchmarks[0].epochs=20' >"$tmp/out.txt"
cat "$tmp/out.txt"
fail() { echo "shapes_pipeline: $*" >&2; exit 1; }
grep -q '^benchmark  *metric  *before  *after  *delta' "$tmp/out.txt" || fail "no before/after table"
grep -q '^linear_probe  *acc1 ' "$tmp/out.txt" || fail "no linear_probe acc1 row"
r="$tmp/it/results.json"
[ -f "$r" ] || fail "missing $r"
for key in '"before"' '"after"' '"delta"' '"acc1"' '"acc5"' '"mean_per_class_recall"'; do
    grep -q "$key" "$r" || fail "$r lacks $key"
done
[ "$(grep -c '"acc1": -\{0,1\}[0-9]' "$r")" -eq 3 ] || fail "$r: acc1 is not a number in before, after and delta"
[ -f "$tmp/it/config.yaml" ] || fail "missing config.yaml"
[ -s "$tmp/it/metrics.jsonl" ] || fail "missing metrics.jsonl"
grep -q 'iterations: 10' "$tmp/it/config.yaml" || fail "config.yaml is not the resolved config"
echo "shapes_pipeline: ok"
