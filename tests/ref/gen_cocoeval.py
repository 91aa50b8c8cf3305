"""Reference results for COCO evaluation (tests/unit/test_cocoeval.c), computed by pycocotools' COCOeval.

A random ground truth (several categories, one without annotations, crowds with RLE masks, polygons, areas
on the small/medium/large boundaries, images without annotations) and random detections (score ties across
and within images, images with more than 100 detections, images without detections, detections on images
without ground truth, an unknown category) are stored as JSON text, with the 12 summary numbers for
  bbox  res_bbox.json (boxes only)              --iou-type bbox
  segm  res_segm.json (RLE masks only)          --iou-type segm
  both  res_both.json (boxes and RLE masks)     --iou-type segm (areas from the boxes, as loadRes does)
  boxsegm res_bbox.json                         --iou-type segm (loadRes gives boxes box polygons)
Files: <case>.json as uint8 bytes; stats.<case> as float64 bit patterns in int64."""
import contextlib
import io
import json
import os
import pathlib
import sys

import numpy as np

here = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(here))
from st import save  # noqa: E402

NAME = "cocoeval.safetensors"


def polygon(rng, cx, cy, rw, rh):
    k = int(rng.integers(3, 9))
    ang = np.sort(rng.uniform(0, 2 * np.pi, k))
    rad = rng.uniform(0.6, 1.0, k)
    xy = []
    for a, r in zip(ang, rad):
        xy += [round(float(cx + rw * r * np.cos(a)), 2), round(float(cy + rh * r * np.sin(a)), 2)]
    return xy


def make_gt(rng, mm):
    cats = [{"id": i, "name": f"c{i}", "supercategory": "s"} for i in (1, 2, 5, 7, 9)]  # 9: no annotations
    images, anns = [], []
    aid = 1
    img_ids = [int(x) for x in rng.permutation(np.arange(100, 100 + 3 * 60, 3))]  # file order != id order
    for n, iid in enumerate(img_ids):
        h, w = int(rng.integers(120, 260)), int(rng.integers(120, 260))
        images.append({"id": iid, "width": w, "height": h, "file_name": f"{iid}.png"})
        if n % 7 == 3:
            continue  # no ground truth (detections may still land here)
        for _ in range(int(rng.integers(1, 9))):
            cat = int(rng.choice([1, 1, 2, 5, 7]))
            scale = float(rng.choice([8, 16, 30, 48, 70, 110]))
            rw, rh = scale * rng.uniform(0.5, 1.2), scale * rng.uniform(0.5, 1.2)
            cx, cy = rng.uniform(0, w), rng.uniform(0, h)  # some reach past the border
            crowd = rng.random() < 0.08
            xy = polygon(rng, cx, cy, rw / 2, rh / 2)
            prev = [a for a in anns if a["image_id"] == iid and not a["iscrowd"]]
            if prev and rng.random() < 0.3:  # a crowd around an existing object: detections prefer the object
                crowd, base = True, prev[-1]
                cat, p = base["category_id"], base["segmentation"][0]
                mx, my = np.mean(p[0::2]), np.mean(p[1::2])
                xy = [round(float((v - (mx if i % 2 == 0 else my)) * 1.4 + (mx if i % 2 == 0 else my)), 2)
                      for i, v in enumerate(p)]
            rle = mm.frPyObjects([xy], h, w)[0]
            if crowd:  # crowds carry uncompressed RLE, as in COCO
                m = mm.decode(rle)
                flat = m.flatten(order="F")
                counts, cur, run = [], 0, 0
                for v in flat:
                    if v != cur:
                        counts.append(run)
                        run, cur = 0, v
                    run += 1
                counts.append(run)
                seg = {"counts": [int(c) for c in counts], "size": [h, w]}
            else:
                seg = [xy]
            area = float(mm.area(rle))
            r = rng.random()
            if r < 0.05:
                area = 32.0 * 32.0  # range boundaries are inclusive on both sides
            elif r < 0.1:
                area = 96.0 * 96.0
            bb = [round(float(v), 2) for v in mm.toBbox(rle)]
            anns.append({"id": aid, "image_id": iid, "category_id": cat, "bbox": bb, "area": area,
                         "iscrowd": int(crowd), "segmentation": seg})
            aid += 1
    return {"images": images, "annotations": anns, "categories": cats}


def make_dets(rng, gt, mm):
    by_img = {}
    for a in gt["annotations"]:
        by_img.setdefault(a["image_id"], []).append(a)
    bbox_res, segm_res, both_res = [], [], []
    for n, im in enumerate(gt["images"]):
        if n % 11 == 5:
            continue  # no detections
        h, w = im["height"], im["width"]
        k = int(rng.integers(0, 30)) if n % 13 != 2 else int(rng.integers(101, 130))
        g = by_img.get(im["id"], [])
        for _ in range(k):
            src = None
            if g and rng.random() < 0.7:
                a = src = g[int(rng.integers(len(g)))]
                x, y, bw, bh = a["bbox"]
                j = rng.uniform(-0.25, 0.25, 4)
                bb = [x + j[0] * bw, y + j[1] * bh, bw * (1 + j[2]), bh * (1 + j[3])]
                cat = a["category_id"] if rng.random() < 0.85 else int(rng.choice([1, 2, 5, 7, 9]))
            else:
                bw, bh = rng.uniform(4, 120), rng.uniform(4, 120)
                bb = [rng.uniform(0, w), rng.uniform(0, h), bw, bh]
                cat = int(rng.choice([1, 2, 5, 7, 9, 99]))  # 99: not a ground-truth category
            bb = [round(float(v), 2) for v in bb]
            if rng.random() < 0.03:
                bb[2], bb[3] = 32.0, 32.0  # a detection area exactly on a boundary
            score = round(float(rng.random()), 2)  # ties within and across images
            if src is not None and isinstance(src["segmentation"], list) and rng.random() < 0.8:
                dx, dy = rng.uniform(-0.15, 0.15, 2) * src["bbox"][2:]  # the true mask, shifted
                xy = [round(v + (dx if i % 2 == 0 else dy), 2) for i, v in enumerate(src["segmentation"][0])]
            else:
                xy = polygon(rng, bb[0] + bb[2] / 2, bb[1] + bb[3] / 2, bb[2] / 2, bb[3] / 2)
            rle = mm.frPyObjects([xy], h, w)[0]
            seg = {"size": [h, w], "counts": rle["counts"].decode("ascii")}
            bbox_res.append({"image_id": im["id"], "category_id": cat, "bbox": bb, "score": score})
            segm_res.append({"image_id": im["id"], "category_id": cat, "segmentation": seg, "score": score})
            both_res.append({"image_id": im["id"], "category_id": cat, "bbox": bb, "segmentation": seg,
                             "score": score})
    return bbox_res, segm_res, both_res


def evaluate(gt_path, res_path, iou_type):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        cg = COCO(gt_path)
        cd = cg.loadRes(res_path)
        e = COCOeval(cg, cd, iou_type)
        e.evaluate()
        e.accumulate()
        e.summarize()
    return np.array(e.stats, dtype=np.float64)


def generate_here(out):
    import tempfile

    from pycocotools import mask as mm

    rng = np.random.default_rng(8)
    gt = make_gt(rng, mm)
    bbox_res, segm_res, both_res = make_dets(rng, gt, mm)
    t = {}
    with tempfile.TemporaryDirectory() as d:
        files = {"gt": gt, "res_bbox": bbox_res, "res_segm": segm_res, "res_both": both_res}
        for k, v in files.items():
            text = json.dumps(v).encode()
            pathlib.Path(d, k + ".json").write_bytes(text)
            t[k + ".json"] = np.frombuffer(text, dtype=np.uint8).copy()
        gp = os.path.join(d, "gt.json")
        for case, res, typ in (("bbox", "res_bbox", "bbox"), ("segm", "res_segm", "segm"), ("both", "res_both", "segm"),
                               ("boxsegm", "res_bbox", "segm")):
            s = evaluate(gp, os.path.join(d, res + ".json"), typ)
            t["stats." + case] = s.view(np.int64)
            print(case, " ".join(f"{x:.4f}" for x in s))
    save(os.path.join(out, NAME), t, {"generator": "tests/ref/gen_cocoeval.py", "pycocotools": "2.0"})


def generate(out):
    try:
        import pycocotools  # noqa: F401
    except ImportError:
        from golden import SkipGenerator
        raise SkipGenerator("pycocotools not importable (scripts/setup_refs.sh installs it)")
    generate_here(out)


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    generate_here(ap.parse_args().out)
