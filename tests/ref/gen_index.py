"""Reference results for index ops (tests/unit/test_ops_index.c) and Philox4x32-10 words (tests/unit/test_rng.c).

Op arguments (dim, k, padding_idx, ...) are fixed per case name in the C test. Sort/topk cases store their
indices under NAME.indices; their inputs have distinct values so the indices are unique, except the *_ties
cases, which compare against torch.sort(stable=True)."""
import os

import torch
import torch.nn.functional as F

from golden import Golden, randn

# ---- Philox4x32-10, written from the Random123 paper independently of the C code ----
M0, M1, W0, W1, MASK = 0xD2511F53, 0xCD9E8D57, 0x9E3779B9, 0xBB67AE85, 0xFFFFFFFF


def philox4x32_10(ctr, key):
    c, k0, k1 = list(ctr), key[0], key[1]
    for r in range(10):
        if r:
            k0, k1 = (k0 + W0) & MASK, (k1 + W1) & MASK
        p0, p1 = M0 * c[0], M1 * c[2]
        c = [(p1 >> 32) ^ c[1] ^ k0, p1 & MASK, (p0 >> 32) ^ c[3] ^ k1, p0 & MASK]
    return c


# Random123 tests/kat_vectors, philox4x32 10: counter, key, expected
KAT = [
    ([0, 0, 0, 0], [0, 0], [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]),
    ([MASK] * 4, [MASK] * 2, [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD]),
    ([0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344], [0xA4093822, 0x299F31D0],
     [0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1]),
]


def philox_stream(seed, blocks):
    """visft's stream layout: block b of seed = Philox(counter {b lo, b hi, 0, 0}, key {seed lo, seed hi})."""
    key = [seed & MASK, seed >> 32]
    return [philox4x32_10([b & MASK, b >> 32, 0, 0], key) for b in blocks]


def distinct(*shape, seed=0):
    """Distinct values (a shuffled range, scaled) so sort/topk indices are unique."""
    g = torch.Generator().manual_seed(seed)
    n = 1
    for s in shape:
        n *= s
    return (torch.randperm(n, generator=g).float() * 0.37 - 5.0).reshape(shape)


def ints(lo, hi, *shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(lo, hi, shape, generator=g, dtype=torch.int64)


def generate(out):
    for ctr, key, want in KAT:
        assert philox4x32_10(ctr, key) == want, "Python Philox reference disagrees with Random123's KAT"
    g = Golden()
    t = g.tensors

    x = randn(4, 5, 6, seed=1)
    g.case("index_select_d1", lambda a, i: torch.index_select(a, 1, i), [x, torch.tensor([3, 0, 3, 1, 4])])
    g.case("index_select_d0", lambda a, i: torch.index_select(a, 0, i), [x, torch.tensor([2, 2, 0])])
    g.case("index_select_dlast", lambda a, i: torch.index_select(a, -1, i), [x, torch.tensor([5, 1, 1, 0, 5, 2, 3])])

    g.case("gather_d1", lambda a, i: torch.gather(a, 1, i), [randn(3, 5, 4, seed=2), ints(0, 5, 3, 7, 4, seed=3)])
    g.case("gather_d0_small", lambda a, i: torch.gather(a, 0, i), [randn(4, 5, seed=4), ints(0, 4, 6, 3, seed=5)])
    g.case("gather_dlast", lambda a, i: torch.gather(a, 2, i), [randn(2, 3, 6, seed=6), ints(0, 6, 2, 2, 9, seed=7)])

    g.case("scatter_add_d1", lambda a, i, s: a.scatter_add(1, i, s),
           [randn(3, 5, 4, seed=8), ints(0, 5, 3, 7, 4, seed=9), randn(3, 7, 4, seed=10)], grad_inputs=[0, 2])
    g.case("scatter_add_d0", lambda a, i, s: a.scatter_add(0, i, s),
           [randn(4, 6, seed=11), ints(0, 4, 9, 6, seed=12), randn(9, 6, seed=13)], grad_inputs=[0, 2])
    g.case("scatter_add_dlast", lambda a, i, s: a.scatter_add(-1, i, s),
           [randn(2, 3, 4, seed=14), ints(0, 4, 2, 3, 10, seed=15), randn(2, 3, 10, seed=16)], grad_inputs=[0, 2])

    w = randn(10, 8, seed=17)
    ids = ints(0, 10, 3, 4, seed=18)
    ids[0, 0] = ids[1, 2] = ids[2, 3] = 2  # repeated ids and some padding rows
    g.case("embedding", lambda a, i: F.embedding(i, a), [w, ids])
    g.case("embedding_pad", lambda a, i: F.embedding(i, a, padding_idx=2), [w, ids])
    g.case("embedding_1d", lambda a, i: F.embedding(i, a), [w, torch.tensor([9, 0, 9, 4])])

    g.case("masked_fill", lambda a, m: a.masked_fill(m, -1e4),
           [randn(3, 4, 5, seed=19), torch.tensor([[True], [False], [True], [False]])])
    g.case("masked_fill_full", lambda a, m: a.masked_fill(m, 2.5),
           [randn(3, 4, seed=20), randn(3, 4, seed=21) > 0.3])
    g.case("where", torch.where,
           [randn(3, 1, 5, seed=22) > 0, randn(4, 5, seed=23), randn(3, 4, 1, seed=24)])
    g.case("where_same", torch.where, [randn(6, 7, seed=25) < 0, randn(6, 7, seed=26), randn(6, 7, seed=27)])

    g.case("cumsum_d1", lambda a: torch.cumsum(a, 1), [randn(3, 4, 5, seed=28)])
    g.case("cumsum_d0", lambda a: torch.cumsum(a, 0), [randn(6, 300, seed=29)])
    g.case("cumsum_dlast", lambda a: torch.cumsum(a, -1), [randn(4, 50, seed=30)])

    def sort_case(name, x, fn):
        r = g.case(name, lambda a: fn(a).values, [x], grad_inputs=[])
        t[f"{name}.indices"] = fn(x).indices.numpy()
        return r

    x = distinct(4, 7, seed=31)
    sort_case("sort_d1_asc", x, lambda a: torch.sort(a, 1))
    sort_case("sort_d1_desc", x, lambda a: torch.sort(a, 1, descending=True))
    sort_case("sort_d0_desc", distinct(5, 3, 2, seed=32), lambda a: torch.sort(a, 0, descending=True))
    x = distinct(5, 40, seed=33)
    sort_case("topk_d1_largest", x, lambda a: torch.topk(a, 4, 1))
    sort_case("topk_d1_smallest", x, lambda a: torch.topk(a, 4, 1, largest=False))
    sort_case("topk_d0_big_k", distinct(9, 3, seed=34), lambda a: torch.topk(a, 7, 0))
    ties = torch.tensor([[1.0, 3.0, 1.0, 2.0, 3.0, 1.0, float("nan"), 2.0, 0.0, -0.0] * 4])
    sort_case("sort_ties_asc", ties, lambda a: torch.sort(a, dim=1, stable=True))
    sort_case("sort_ties_desc", ties, lambda a: torch.sort(a, dim=1, descending=True, stable=True))

    g.case("one_hot", lambda i: F.one_hot(i, 5).float(), [ints(0, 5, 2, 3, seed=35)])
    t["arange.f32"] = torch.arange(-1.5, 2.7, 0.1).numpy()
    t["arange.f32_neg"] = torch.arange(3.0, -2.0, -0.7).numpy()
    t["arange.i64"] = torch.arange(-7, 20, 3).numpy()

    seeds = [0, 1234, 0x0123456789ABCDEF]
    blocks = [0, 1, 2, 3, 1000, (1 << 32) - 1, 1 << 32, (1 << 32) + 5, (1 << 62) + 12345]
    t["philox.seeds"] = torch.tensor(seeds, dtype=torch.int64).numpy()
    t["philox.blocks"] = torch.tensor(blocks, dtype=torch.int64).numpy()
    t["philox.words"] = torch.tensor([philox_stream(s, blocks) for s in seeds], dtype=torch.int64).numpy()
    g.save(os.path.join(out, "index.safetensors"))
