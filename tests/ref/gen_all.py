#!/usr/bin/env python3
"""Regenerates every golden file: runs generate(out_dir) of each tests/ref/gen_*.py module.

Run with Debian's /usr/bin/python3 (python3-torch). Usage: gen_all.py --out DIR [--only NAME]"""
import argparse
import importlib
import os
import pathlib
import sys

import torch

here = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(here))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", default=None, help="run only gen_<ONLY>.py")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)  # reductions then sum in one fixed order
    from golden import SkipGenerator
    mods = sorted(p.stem for p in here.glob("gen_*.py") if p.stem != "gen_all")
    skipped = []
    for m in mods:
        if args.only and m != f"gen_{args.only}":
            continue
        try:
            importlib.import_module(m).generate(args.out)
            print(f"  {m}: ok")
        except SkipGenerator as e:
            print(f"  {m}: skipped ({e})")
            skipped.append(m)
    # the comparison leaves these generators' committed files unchecked
    with open(os.path.join(args.out, "SKIPPED"), "w") as f:
        f.write("\n".join(skipped))


if __name__ == "__main__":
    main()
