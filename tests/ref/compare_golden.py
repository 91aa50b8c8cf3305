#!/usr/bin/env python3
"""Checks that committed golden files match freshly regenerated ones (same keys, same shapes, values within
a tight tolerance), so a reference script change without regenerated files fails the suite.
Usage: compare_golden.py COMMITTED_DIR FRESH_DIR"""
import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from st import load  # noqa: E402


def main():
    committed, fresh = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    bad = 0
    files = sorted(p.name for p in fresh.glob("*.safetensors"))
    for name in files:
        if not (committed / name).exists():
            print(f"golden: {name} is generated but not committed (run: make golden)")
            bad += 1
            continue
        a, b = load(committed / name), load(fresh / name)
        if set(a) != set(b):
            print(f"golden: {name}: keys differ: only committed {sorted(set(a) - set(b))[:5]}, "
                  f"only fresh {sorted(set(b) - set(a))[:5]}")
            bad += 1
            continue
        for k in sorted(a):
            if a[k].shape != b[k].shape or not np.allclose(a[k], b[k], rtol=1e-5, atol=1e-6, equal_nan=True):
                print(f"golden: {name}: tensor {k} differs from the regenerated reference")
                bad += 1
                break
    skipped = (fresh / "SKIPPED").read_text().split() if (fresh / "SKIPPED").exists() else []
    unchecked = 0
    for p in sorted(committed.glob("*.safetensors")):
        if p.name not in files:
            if skipped:  # a generator whose reference package is missing here made nothing to compare
                unchecked += 1
                continue
            print(f"golden: {p.name} is committed but no generator produces it")
            bad += 1
    if unchecked:
        print(f"golden: {unchecked} committed files not regenerated here (skipped generators: {', '.join(skipped)})")
    print(f"golden files: {len(files)} checked, {bad} mismatched")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
