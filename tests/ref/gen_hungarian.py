"""Reference optimal assignment costs for tests/unit/test_hungarian.c from scipy.optimize.linear_sum_assignment.

The cost matrices are not stored: both sides draw them from splitmix64 (counter i of matrix `seed` gives
mix(seed·2^32 + i·γ)), u = top 53 bits / 2^53, then by kind
    0: u             (continuous)      1: floor(5u)          (small integers: many ties)
    2: (2u − 1)·1e6  (large, signed)   3: floor(2u)          (0/1: massive ties)
Stored: hungarian.cases i64 [K, 4] = (n, m, kind, seed); hungarian.total i64 [K] = the optimal cost's
float64 bit pattern (the golden format keeps no float64)."""
import os

import numpy as np

from golden import SkipGenerator
from st import save

GAMMA = np.uint64(0x9E3779B97F4A7C15)


def costs(n, m, kind, seed):
    with np.errstate(over="ignore"):
        i = np.arange(1, n * m + 1, dtype=np.uint64)
        z = np.uint64(seed) * np.uint64(1 << 32) + i * GAMMA
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    u = (z >> np.uint64(11)).astype(np.float64) * 2.0 ** -53
    c = [u, np.floor(5 * u), (2 * u - 1) * 1e6, np.floor(2 * u)][kind]
    return c.reshape(n, m)


def generate(out):
    try:
        from scipy.optimize import linear_sum_assignment
    except ImportError as e:
        raise SkipGenerator(f"scipy not importable ({e}); apt-get install python3-scipy") from e
    rng = np.random.default_rng(8)
    cases = []
    for k in range(3000):
        n = int(rng.integers(1, 31))
        m = n if k % 3 == 0 else int(rng.integers(1, 31))
        cases.append((n, m, k % 4, k + 1))
    for k, (n, m) in enumerate([(100, 300), (300, 100), (100, 300), (150, 150)]):
        cases.append((n, m, k % 4, 10000 + k))
    totals = []
    for n, m, kind, seed in cases:
        c = costs(n, m, kind, seed)
        r, col = linear_sum_assignment(c)
        totals.append(float(c[r, col].sum()))
    save(os.path.join(out, "hungarian.safetensors"),
         {"hungarian.cases": np.array(cases, dtype=np.int64),
          "hungarian.total": np.array(totals, dtype=np.float64).view(np.int64)},
         {"generator": "tests/ref/gen_hungarian.py"})
