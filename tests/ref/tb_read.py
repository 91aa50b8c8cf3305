"""Reads a visft run's TensorBoard scalars back with tensorboard's own EventAccumulator and checks them.

    tb_read.py check TB_DIR TAG:STEP:VALUE ...

Exit 0 when every TAG has exactly the listed (step, value) points (float32 tolerance), 1 on a mismatch,
77 when tensorboard is not importable (the caller skips)."""
import math
import sys

try:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
except Exception:  # noqa: BLE001 - any import failure means "not installed properly"
    sys.exit(77)  # the C test prints the one SKIP line


def main(argv):
    if len(argv) < 3 or argv[0] != "check":
        print(__doc__)
        return 2
    want = {}
    for spec in argv[2:]:
        tag, step, value = spec.rsplit(":", 2)
        want.setdefault(tag, []).append((int(step), float(value)))
    acc = EventAccumulator(argv[1], size_guidance={"scalars": 0})
    acc.Reload()
    tags = sorted(acc.Tags()["scalars"])
    if tags != sorted(want):
        print(f"tags differ: got {tags}, want {sorted(want)}")
        return 1
    for tag, points in want.items():
        got = [(e.step, e.value) for e in acc.Scalars(tag)]
        if len(got) != len(points):
            print(f"{tag}: {len(got)} points, want {len(points)}: {got}")
            return 1
        for (gs, gv), (ws, wv) in zip(got, points):
            same = (math.isnan(gv) and math.isnan(wv)) or math.isclose(gv, wv, rel_tol=1e-6, abs_tol=1e-30)
            if gs != ws or not same:
                print(f"{tag}: got step {gs} value {gv!r}, want step {ws} value {wv!r}")
                return 1
    print(f"tensorboard read {sum(len(p) for p in want.values())} scalars over {len(want)} tags")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
