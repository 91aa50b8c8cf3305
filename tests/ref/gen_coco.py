"""Reference results for COCO mask math (tests/unit/test_coco_mask.c), computed by pycocotools.

Every result must match bit for bit, so doubles (polygon coordinates, boxes, IoUs) are stored as their
IEEE bit patterns in int64 tensors, RLE counts as int64, compressed strings as concatenated uint8 bytes with
offsets. Layout (one group per operation):
  poly.*    random polygons rasterised with rleFrPoly: h, w, coord offsets + coords, counts offsets + counts,
            the compressed string, area and bbox of each result
  mask.*    random masks (row-major u8) encoded with rleEncode: counts, string, area, bbox
  ucrle.*   uncompressed counts (with zero runs) turned into strings by frPyObjects
  bbox.*    rleFrBbox of random boxes
  merge.*   union and intersection of groups of RLEs of one size
  iou.*     rleIou / bbIou between groups of detections and ground truths with iscrowd flags

pycocotools is not in Debian: when this interpreter cannot import it, generate() re-runs this file with the
venv at .venv-ref (see scripts/setup.sh), and if there is none it says so and keeps the committed file."""
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np

here = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(here))
from st import save  # noqa: E402

NAME = "coco.safetensors"


def bits(a):
    return np.ascontiguousarray(np.asarray(a, dtype=np.float64)).view(np.int64)


def ragged(items, dtype):
    """Concatenation + offsets (n+1) of a list of 1-d sequences."""
    offs = np.zeros(len(items) + 1, dtype=np.int64)
    for i, x in enumerate(items):
        offs[i + 1] = offs[i] + len(x)
    flat = np.concatenate([np.asarray(x, dtype=dtype) for x in items]) if items else np.zeros(0, dtype)
    return offs, flat.astype(dtype)


def str_counts(s):
    """Uncompressed counts of a compressed COCO string (the inverse of rleToString)."""
    cnts, p = [], 0
    while p < len(s):
        x, k, more = 0, 0, 1
        while more:
            c = s[p] - 48
            x |= (c & 0x1F) << (5 * k)
            more = c & 0x20
            p += 1
            k += 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
        if len(cnts) > 2:
            x += cnts[-2]
        cnts.append(x)
    return cnts


def random_coord(rng, lim):
    kind = rng.integers(4)
    if kind == 0:  # two decimals, as COCO files write them
        return round(float(rng.uniform(-3, lim + 3)), 2)
    if kind == 1:  # ties of the 5x grid rounding: k/5 - 0.1
        return int(rng.integers(-2, 5 * lim + 3)) / 5 - 0.1
    if kind == 2:  # integers and halves
        return int(rng.integers(-2, 2 * lim + 3)) / 2
    return float(rng.uniform(-lim * 0.2, lim * 1.2))  # arbitrary doubles, some outside the image


def gen_polys(rng, t, mu):
    hs, ws, polys, counts, strs, areas, bbs = [], [], [], [], [], [], []
    for i in range(2000):
        h, w = int(rng.integers(1, 48)), int(rng.integers(1, 48))
        if i % 200 == 0:
            h, w = int(rng.integers(100, 300)), int(rng.integers(100, 300))
        k = int(rng.choice([1, 2, 3, 3, 4, 5, 6, 8, 12, 20]))
        if rng.random() < 0.5:  # star-shaped around a centre: mostly simple polygons
            cx, cy = rng.uniform(0, w), rng.uniform(0, h)
            ang = np.sort(rng.uniform(0, 2 * np.pi, k))
            rad = rng.uniform(0.5, max(h, w) * 0.6, k)
            xy = []
            for a, r in zip(ang, rad):
                xy += [round(float(cx + r * np.cos(a)), 2), round(float(cy + r * np.sin(a)), 2)]
        else:  # anything, self-intersections included
            xy = []
            for _ in range(k):
                xy += [random_coord(rng, w), random_coord(rng, h)]
        rle = mu.frPoly([xy], h, w)[0]
        hs.append(h), ws.append(w), polys.append(xy)
        counts.append(str_counts(rle["counts"]))
        strs.append(np.frombuffer(rle["counts"], dtype=np.uint8))
        areas.append(int(mu.area([rle])[0]))
        bbs.append(mu.toBbox([rle])[0])
    t["poly.h"], t["poly.w"] = np.array(hs, np.int64), np.array(ws, np.int64)
    t["poly.xy_off"], t["poly.xy"] = ragged(polys, np.float64)
    t["poly.xy"] = bits(t["poly.xy"])
    t["poly.counts_off"], t["poly.counts"] = ragged(counts, np.int32)
    t["poly.str_off"], t["poly.str"] = ragged(strs, np.uint8)
    t["poly.area"] = np.array(areas, np.int64)
    t["poly.bbox"] = bits(np.array(bbs))


def random_mask(rng, h, w):
    kind = rng.integers(3)
    if kind == 0:
        return (rng.random((h, w)) < rng.uniform(0.05, 0.95)).astype(np.uint8)
    m = np.zeros((h, w), np.uint8)
    for _ in range(int(rng.integers(0, 4))):  # a few rectangles: long runs, runs wrapping columns
        y0, x0 = int(rng.integers(0, h)), int(rng.integers(0, w))
        m[y0:y0 + int(rng.integers(1, h + 1)), x0:x0 + int(rng.integers(1, w + 1))] = 1
    if kind == 2:
        m = 1 - m
    return m


def gen_masks(rng, t, mu):
    hs, ws, masks, counts, strs, areas, bbs = [], [], [], [], [], [], []
    for i in range(1000):
        h, w = int(rng.integers(1, 24)), int(rng.integers(1, 24))
        m = random_mask(rng, h, w)
        rle = mu.encode(np.asfortranarray(m))
        hs.append(h), ws.append(w), masks.append(m.reshape(-1))
        counts.append(str_counts(rle["counts"]))
        strs.append(np.frombuffer(rle["counts"], dtype=np.uint8))
        areas.append(int(mu.area(rle)))
        bbs.append(mu.toBbox(rle))
    t["mask.h"], t["mask.w"] = np.array(hs, np.int64), np.array(ws, np.int64)
    t["mask.px_off"], t["mask.px"] = ragged(masks, np.uint8)
    t["mask.counts_off"], t["mask.counts"] = ragged(counts, np.int32)
    t["mask.str_off"], t["mask.str"] = ragged(strs, np.uint8)
    t["mask.area"] = np.array(areas, np.int64)
    t["mask.bbox"] = bits(np.array(bbs))


def gen_ucrle(rng, t, mu):
    hs, ws, counts, strs = [], [], [], []
    for i in range(300):
        h, w = int(rng.integers(1, 3000)), int(rng.integers(1, 3000))
        n = int(rng.integers(1, 40))
        cuts = np.sort(rng.integers(0, h * w + 1, n - 1)) if n > 1 else np.zeros(0, np.int64)
        c = np.diff(np.concatenate([[0], cuts, [h * w]])).tolist()  # zero runs appear where cuts repeat
        if i % 7 == 0:
            c = [0] + c[:-1] + [c[-1]] if len(c) > 1 else [0, h * w]
        rle = mu.frPyObjects({"counts": c, "size": [h, w]}, h, w)
        hs.append(h), ws.append(w), counts.append(c)
        strs.append(np.frombuffer(rle["counts"], dtype=np.uint8))
    t["ucrle.h"], t["ucrle.w"] = np.array(hs, np.int64), np.array(ws, np.int64)
    t["ucrle.counts_off"], t["ucrle.counts"] = ragged(counts, np.int32)
    t["ucrle.str_off"], t["ucrle.str"] = ragged(strs, np.uint8)


def gen_bbox(rng, t, mu):
    hs, ws, boxes, counts = [], [], [], []
    for i in range(300):
        h, w = int(rng.integers(1, 64)), int(rng.integers(1, 64))
        b = [random_coord(rng, w), random_coord(rng, h), abs(random_coord(rng, w)) / 2, abs(random_coord(rng, h)) / 2]
        rle = mu.frPyObjects(np.array([b], dtype=np.float64), h, w)[0]
        hs.append(h), ws.append(w), boxes.append(b), counts.append(str_counts(rle["counts"]))
    t["bbox.h"], t["bbox.w"] = np.array(hs, np.int64), np.array(ws, np.int64)
    t["bbox.box"] = bits(np.array(boxes))
    t["bbox.counts_off"], t["bbox.counts"] = ragged(counts, np.int32)


def group_rles(rng, mu, h, w, n):
    out = []
    for _ in range(n):
        if rng.random() < 0.5:
            out.append(mu.encode(np.asfortranarray(random_mask(rng, h, w))))
        else:
            cx, cy = rng.uniform(0, w), rng.uniform(0, h)
            xy = []
            for a in np.sort(rng.uniform(0, 2 * np.pi, 6)):
                r = rng.uniform(1, max(h, w) * 0.5)
                xy += [round(float(cx + r * np.cos(a)), 2), round(float(cy + r * np.sin(a)), 2)]
            out.append(mu.frPoly([xy], h, w)[0])
    return out


def gen_merge_iou(rng, t, mu):
    # merge: groups of 2..5 masks of one size
    g_hw, g_in, g_union, g_inter = [], [], [], []
    g_in_off = [0]
    for i in range(150):
        h, w = int(rng.integers(1, 40)), int(rng.integers(1, 40))
        rles = group_rles(rng, mu, h, w, int(rng.integers(2, 6)))
        g_hw += [h, w]
        g_in += [str_counts(r["counts"]) for r in rles]
        g_in_off.append(len(g_in))
        g_union.append(str_counts(mu.merge(rles, intersect=False)["counts"]))
        g_inter.append(str_counts(mu.merge(rles, intersect=True)["counts"]))
    t["merge.hw"] = np.array(g_hw, np.int64)
    t["merge.group_off"] = np.array(g_in_off, np.int64)
    t["merge.in_off"], t["merge.in"] = ragged(g_in, np.int32)
    t["merge.union_off"], t["merge.union"] = ragged(g_union, np.int32)
    t["merge.inter_off"], t["merge.inter"] = ragged(g_inter, np.int32)

    # iou: m detections x n ground truths of one size, plus box IoU of random boxes
    hw, dts, gts, crowd, ious, biou, bdt, bgt = [], [], [], [], [], [], [], []
    nd, ng = [], []
    for i in range(150):
        h, w = int(rng.integers(4, 40)), int(rng.integers(4, 40))
        m, n = int(rng.integers(1, 6)), int(rng.integers(1, 5))
        d, g = group_rles(rng, mu, h, w, m), group_rles(rng, mu, h, w, n)
        c = (rng.random(n) < 0.3).astype(np.uint8)
        o = np.asarray(mu.iou(d, g, c.tolist()), dtype=np.float64).reshape(m, n)
        hw += [h, w]
        nd.append(m), ng.append(n)
        dts += [str_counts(r["counts"]) for r in d]
        gts += [str_counts(r["counts"]) for r in g]
        crowd += c.tolist()
        ious += o.reshape(-1).tolist()
        db = np.round(rng.uniform(-5, 40, (m, 4)), 2)
        gb = np.round(rng.uniform(-5, 40, (n, 4)), 2)
        db[:, 2:] = np.abs(db[:, 2:])
        gb[:, 2:] = np.abs(gb[:, 2:])
        bo = np.asarray(mu.iou(db, gb, c.tolist()), dtype=np.float64).reshape(m, n)
        bdt += db.reshape(-1).tolist()
        bgt += gb.reshape(-1).tolist()
        biou += bo.reshape(-1).tolist()
    t["iou.hw"] = np.array(hw, np.int64)
    t["iou.nd"], t["iou.ng"] = np.array(nd, np.int64), np.array(ng, np.int64)
    t["iou.dt_off"], t["iou.dt"] = ragged(dts, np.int32)
    t["iou.gt_off"], t["iou.gt"] = ragged(gts, np.int32)
    t["iou.crowd"] = np.array(crowd, np.uint8)
    t["iou.out"] = bits(ious)
    t["iou.bdt"], t["iou.bgt"], t["iou.bout"] = bits(bdt), bits(bgt), bits(biou)


def generate_here(out):
    from pycocotools import _mask as mu  # noqa: F401  (frPoly lives in the extension)
    from pycocotools import mask as mm

    class M:  # one namespace for what the generators call
        frPoly = staticmethod(mu.frPoly)
        encode = staticmethod(mm.encode)
        area = staticmethod(mm.area)
        toBbox = staticmethod(mm.toBbox)
        merge = staticmethod(mm.merge)
        iou = staticmethod(mm.iou)
        frPyObjects = staticmethod(mm.frPyObjects)

    rng = np.random.default_rng(2017)
    t = {}
    gen_polys(rng, t, M)
    gen_masks(rng, t, M)
    gen_ucrle(rng, t, M)
    gen_bbox(rng, t, M)
    gen_merge_iou(rng, t, M)
    save(os.path.join(out, NAME), t, {"generator": "tests/ref/gen_coco.py", "pycocotools": "2.0"})


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
