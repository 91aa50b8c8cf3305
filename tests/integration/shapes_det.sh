#!/bin/sh
# The detr head learns on shapes: configs/shapes_det.yaml shortened to 4000 iterations with a 64-wide, 2+2-layer
# head and one thread (about 100 s; frozen random `tiny` backbone at 64 px) must lower the training loss by a
# quarter and lift COCO AP50 and AR100 of the coco_detection benchmark clearly above the untrained head's (0).
# Usage: shapes_det.sh VISFT_BINARY SOURCE_DIR
set -eu
visft=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$visft" run "$src/configs/shapes_det.yaml" -q --set run.out_dir="$tmp" --set run.name=it \
    --set 'stages[0].iterations=4000' --set run.threads=1 \
    --set tasks.det.head.enc_width=64 --set tasks.det.head.enc_layers=2 --set tasks.det.head.enc_ffn=128 \
    --set tasks.det.head.dec_width=64 --set tasks.det.head.dec_layers=2 --set tasks.det.head.dec_ffn=128 \
    >"$tmp/out.txt"
grep -E '^coco_detection +(loss|AP|AP50|AR100) ' "$tmp/out.txt" || true
/usr/bin/python3 - "$tmp/it" <<'PY'
import json, sys
run = sys.argv[1]
res = json.load(open(run + "/results.json"))
def metric(stage, name):
    for k, v in res[stage].items():
        if isinstance(v, dict) and name in v: return v[name]
        if k.endswith(name) or k == name: return v
    raise SystemExit("shapes_det: results.json has no %s in %s" % (name, stage))
losses = [json.loads(l)["train/loss"] for l in open(run + "/metrics.jsonl") if "train/loss" in l]
first, last = sum(losses[:10]) / 10, sum(losses[-20:]) / 20
b50, a50, ar = metric("before", "AP50"), metric("after", "AP50"), metric("after", "AR100")
print("shapes_det: loss %.2f -> %.2f, AP50 %.4f -> %.4f, AR100 after %.4f" % (first, last, b50, a50, ar))
ok = last < 0.75 * first and a50 >= b50 + 0.015 and ar >= 0.02
if not ok: raise SystemExit("shapes_det: the head did not learn enough")
print("shapes_det: ok")
PY
