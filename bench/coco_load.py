"""COCO instances load: visft's loader vs pycocotools' COCO(path) on one train2017-scale file.

Writes a deterministic synthetic instances file shaped like instances_train2017.json (118,287 images,
~860k annotations with ~24-vertex polygons, 1% crowd annotations with uncompressed RLE, 80 categories with
COCO's sparse ids, compact separators) into a temp dir, then times
  - visft: bench/coco_load.c (compiled here against BUILD/core/libvisft.so) -> seconds, peak RSS
  - pycocotools: COCO(path) in a fresh interpreter -> seconds, peak RSS
and prints both (wall and CPU seconds: on a shared machine CPU time is the steadier figure), the speed
ratio (target >= 20x) and visft's peak RSS / file size (target <= 2).

Usage: .venv-ref/bin/python bench/coco_load.py [--build build] [--images 118287] [--anns 860001] [--keep DIR]"""
import argparse
import json
import math
import os
import pathlib
import random
import shutil
import subprocess
import sys
import tempfile

root = pathlib.Path(__file__).resolve().parent.parent
COCO_IDS = [i for i in range(1, 91) if i not in (12, 26, 29, 30, 45, 66, 68, 69, 71, 83)]


def write_file(path, n_images, n_anns, seed=2017):
    rnd = random.Random(seed)
    with open(path, "w") as f:
        f.write('{"info":{"description":"visft synthetic COCO","year":2017},"licenses":[{"id":1,"name":"x"}],')
        f.write('"images":[')
        sizes = []
        for i in range(n_images):
            w, h = rnd.choice([(640, 480), (480, 640), (640, 427), (500, 375), (640, 640)])
            sizes.append((w, h))
            f.write(("," if i else "") + json.dumps(
                {"license": 1, "file_name": f"{i + 1:012d}.jpg", "coco_url": f"http://x/{i + 1:012d}.jpg",
                 "height": h, "width": w, "date_captured": "2013-11-14 17:02:52", "id": i + 1},
                separators=(",", ":")))
        f.write('],"annotations":[')
        for a in range(n_anns):
            img = rnd.randrange(n_images)
            w, h = sizes[img]
            bw, bh = rnd.uniform(4, w / 2), rnd.uniform(4, h / 2)
            x0, y0 = rnd.uniform(0, w - bw), rnd.uniform(0, h - bh)
            ann = {"area": round(bw * bh * 0.6, 5), "iscrowd": 0, "image_id": img + 1,
                   "bbox": [round(x0, 2), round(y0, 2), round(bw, 2), round(bh, 2)],
                   "category_id": rnd.choice(COCO_IDS), "id": a + 1}
            if rnd.random() < 0.01:  # crowd: uncompressed RLE, as train2017 stores them
                counts, left = [], w * h
                while left > 0:
                    c = min(left, rnd.randrange(1, 4000))
                    counts.append(c)
                    left -= c
                if len(counts) % 2 == 0:
                    counts.append(0)
                ann["iscrowd"] = 1
                ann["segmentation"] = {"counts": counts, "size": [h, w]}
            else:
                k = rnd.randrange(8, 40)
                cx, cy = x0 + bw / 2, y0 + bh / 2
                poly = []
                for j in range(k):
                    t = 6.283185307179586 * j / k
                    r = rnd.uniform(0.5, 1.0)
                    poly += [round(cx + r * bw / 2 * math.cos(t), 2),
                             round(cy + r * bh / 2 * math.sin(t), 2)]
                ann["segmentation"] = [poly]
            f.write(("," if a else "") + json.dumps(ann, separators=(",", ":")))
        f.write('],"categories":[')
        f.write(",".join(json.dumps({"supercategory": "thing", "id": i, "name": f"class{i}"}, separators=(",", ":"))
                         for i in COCO_IDS))
        f.write("]}")


PY_LOAD = """
import json, resource, sys, time
from pycocotools.coco import COCO
t, ct = time.perf_counter(), time.process_time()
c = COCO(sys.argv[1])
dt, dct = time.perf_counter() - t, time.process_time() - ct
print(json.dumps({"seconds": dt, "cpu_seconds": dct, "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                  "images": len(c.imgs), "annotations": len(c.anns), "categories": len(c.cats)}))
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--images", type=int, default=118287)
    ap.add_argument("--anns", type=int, default=860001)
    ap.add_argument("--keep", default=None, help="write the file here and keep it (reused if present)")
    args = ap.parse_args()
    build = (root / args.build).resolve()
    lib = build / "core" / "libvisft.so"
    if not lib.exists():
        sys.exit(f"coco_load: {lib} not built (cmake --build {args.build} --target visft)")
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="visft-coco-"))
    try:
        exe = tmp / "coco_load"
        subprocess.run(["cc", "-O2", "-std=c11", "-D_POSIX_C_SOURCE=200809L", f"-I{root}/core/include",
                        f"-I{root}/core/data", str(root / "bench" / "coco_load.c"), f"-L{lib.parent}", "-lvisft",
                        f"-Wl,-rpath,{lib.parent}", "-o", str(exe)], check=True)
        path = pathlib.Path(args.keep) / "instances_synthetic.json" if args.keep else tmp / "instances.json"
        if not path.exists():
            print(f"writing {path} ({args.images} images, {args.anns} annotations) ...", flush=True)
            path.parent.mkdir(parents=True, exist_ok=True)
            write_file(path, args.images, args.anns)
        size = path.stat().st_size
        print(f"file: {size / 1e6:.1f} MB")
        env = dict(os.environ, OMP_NUM_THREADS="1")
        v = json.loads(subprocess.run([str(exe), str(path)], check=True, capture_output=True, text=True,
                                      env=env).stdout)
        print(f"visft:       {v['seconds']:.3f} s ({v['cpu_seconds']:.3f} s CPU), peak RSS {v['peak_rss_bytes'] / 1e6:.0f} MB "
              f"({v['peak_rss_bytes'] / size:.2f}x the file), {v['images']} images, {v['annotations']} annotations")
        try:
            out = subprocess.run([sys.executable, "-c", PY_LOAD, str(path)], check=True, capture_output=True,
                                 text=True).stdout
            p = json.loads(out.strip().splitlines()[-1])
        except subprocess.CalledProcessError as e:
            print(f"pycocotools: not runnable with {sys.executable} ({e.stderr.strip().splitlines()[-1]})")
            return
        print(f"pycocotools: {p['seconds']:.3f} s ({p['cpu_seconds']:.3f} s CPU), peak RSS {p['peak_rss_bytes'] / 1e6:.0f} MB, "
              f"{p['images']} images, {p['annotations']} annotations")
        print(f"speed-up: {p['seconds'] / v['seconds']:.1f}x wall, {p['cpu_seconds'] / v['cpu_seconds']:.1f}x CPU "
              f"(target >= 20x); "
              f"visft peak memory {v['peak_rss_bytes'] / size:.2f}x the file (target <= 2x)")
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
