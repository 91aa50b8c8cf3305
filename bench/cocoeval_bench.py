"""COCO evaluation: `visft cocoeval` vs pycocotools' COCOeval (evaluate + accumulate) on one val2017-scale set.

Writes a deterministic synthetic ground truth shaped like instances_val2017 (5,000 images, ~36k boxes,
80 categories with COCO's sparse ids, ~1% crowds, every area range) and a results file with 100 detections
per image (about half jittered ground-truth boxes, the rest random; scores with ties) into a temp dir, then
  - pycocotools: COCO(gt), loadRes(res), COCOeval(bbox): times evaluate() + accumulate() only (loading and
    summarize() excluded, which favours pycocotools);
  - visft: times the whole `visft cocoeval GT RES --json OUT` process (JSON loading included);
checks that the 12 numbers agree to 1e-6 and prints both times and the ratio (target >= 5x).

Usage: .venv-ref/bin/python bench/cocoeval_bench.py [--build build] [--images 5000] [--dets 100] [--threads N]
       [--keep DIR]"""
import argparse
import contextlib
import io
import json
import os
import pathlib
import random
import shutil
import subprocess
import sys
import tempfile
import time

root = pathlib.Path(__file__).resolve().parent.parent
COCO_IDS = [i for i in range(1, 91) if i not in (12, 26, 29, 30, 45, 66, 68, 69, 71, 83)]


def write_files(d, n_images, dets_per_image, seed=2017):
    rnd = random.Random(seed)
    images, anns, res = [], [], []
    aid = 1
    for i in range(n_images):
        iid = 139 + 7 * i
        w, h = rnd.choice([(640, 480), (480, 640), (640, 427), (500, 375)])
        images.append({"id": iid, "file_name": f"{iid:012d}.jpg", "width": w, "height": h})
        gts = []
        for _ in range(round(rnd.expovariate(1 / 7.3))):  # val2017: 36,781 boxes on 5,000 images
            s = rnd.choice([12, 24, 40, 70, 120, 250])  # small, medium and large objects
            bw, bh = s * rnd.uniform(0.5, 1.5), s * rnd.uniform(0.5, 1.5)
            x, y = rnd.uniform(0, max(1, w - bw)), rnd.uniform(0, max(1, h - bh))
            bb = [round(x, 2), round(y, 2), round(bw, 2), round(bh, 2)]
            crowd = int(rnd.random() < 0.01)
            a = {"id": aid, "image_id": iid, "category_id": rnd.choice(COCO_IDS[:40] if rnd.random() < 0.7 else COCO_IDS),
                 "bbox": bb, "area": round(bw * bh * 0.7, 2), "iscrowd": crowd,
                 "segmentation": [[bb[0], bb[1], bb[0] + bb[2], bb[1], bb[0] + bb[2], bb[1] + bb[3]]]}
            anns.append(a)
            gts.append(a)
            aid += 1
        for _ in range(dets_per_image):
            if gts and rnd.random() < 0.5:
                g = rnd.choice(gts)
                x, y, bw, bh = g["bbox"]
                j = [rnd.uniform(-0.2, 0.2) for _ in range(4)]
                bb = [x + j[0] * bw, y + j[1] * bh, bw * (1 + j[2]), bh * (1 + j[3])]
                cat = g["category_id"] if rnd.random() < 0.8 else rnd.choice(COCO_IDS)
            else:
                bw, bh = rnd.uniform(5, 300), rnd.uniform(5, 300)
                bb = [rnd.uniform(0, w - 5), rnd.uniform(0, h - 5), bw, bh]
                cat = rnd.choice(COCO_IDS)
            res.append({"image_id": iid, "category_id": cat, "bbox": [round(v, 2) for v in bb],
                        "score": round(rnd.random(), 3)})
    cats = [{"id": c, "name": f"c{c}", "supercategory": "s"} for c in COCO_IDS]
    gt = {"images": images, "annotations": anns, "categories": cats}
    with open(os.path.join(d, "gt.json"), "w") as f:
        json.dump(gt, f, separators=(",", ":"))
    with open(os.path.join(d, "res.json"), "w") as f:
        json.dump(res, f, separators=(",", ":"))
    return len(anns), len(res)


def run_pycocotools(d):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(os.path.join(d, "gt.json"))
        dt = gt.loadRes(os.path.join(d, "res.json"))
        e = COCOeval(gt, dt, "bbox")
        t0 = time.perf_counter()
        e.evaluate()
        e.accumulate()
        secs = time.perf_counter() - t0
        e.summarize()
    return secs, list(e.stats)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--images", type=int, default=5000)
    ap.add_argument("--dets", type=int, default=100)
    ap.add_argument("--threads", type=int, default=0, help="visft worker threads (0: all cores)")
    ap.add_argument("--keep", help="write the files here and keep them")
    a = ap.parse_args()
    exe = root / a.build / "visft"
    if not exe.exists():
        sys.exit(f"{exe} not found: build the visft_cli target first")
    d = a.keep or tempfile.mkdtemp(prefix="visft_cocoeval_")
    os.makedirs(d, exist_ok=True)
    try:
        n_anns, n_res = write_files(d, a.images, a.dets)
        print(f"{a.images} images, {n_anns} ground-truth boxes, {n_res} detections")
        cmd = [str(exe), "cocoeval", os.path.join(d, "gt.json"), os.path.join(d, "res.json"), "--json",
               os.path.join(d, "stats.json")]
        if a.threads:
            cmd += ["--threads", str(a.threads)]
        t0 = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, text=True)
        vt_secs = time.perf_counter() - t0
        if out.returncode != 0:
            sys.exit(f"visft cocoeval failed: {out.stderr.strip()}")
        vt_stats = json.load(open(os.path.join(d, "stats.json")))["stats"]
        py_secs, py_stats = run_pycocotools(d)
        print(out.stdout, end="")
        worst = max(abs(x - y) for x, y in zip(vt_stats, py_stats))
        print(f"max |visft - pycocotools| over the 12 numbers: {worst:.3g}")
        print(f"pycocotools evaluate+accumulate: {py_secs:.2f} s")
        print(f"visft cocoeval (whole process, loading included): {vt_secs:.2f} s")
        print(f"speedup: {py_secs / vt_secs:.1f}x (target >= 5x)")
        if worst > 1e-6:
            sys.exit("numbers differ from pycocotools")
    finally:
        if not a.keep:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
