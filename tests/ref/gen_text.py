"""References for the CLIP text side (tests/unit/test_text.c, tests/unit/test_bpe.c), from open_clip itself.

Writes
  tests/data/text/tiny_vocab.txt(.gz) a small BPE vocabulary in open_clip's format, learned here from a corpus,
                                      so the tokenizer's core is tested without open_clip's 1.4 MB file
  tests/golden/text_bpe.safetensors   tricky strings (bytes + offsets) and the ids open_clip's SimpleTokenizer
                                      gives them with the tiny vocabulary (ids_tiny) and with its own (ids_clip)
  tests/golden/text_tower.safetensors a scaled-down open_clip TextTransformer (width 64, 2 layers, GELU and
                                      QuickGELU variants) with random weights under open_clip's key names, its
                                      input ids, outputs and (GELU) every parameter gradient

Needs open_clip_torch (the reference venv):  .venv-ref/bin/python tests/ref/gen_text.py
"""
import collections
import gzip
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from golden import SkipGenerator  # noqa: E402
from st import save  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

STRINGS = [
    "a photo of a cat.",
    "A PHOTO OF A DOG!!!",
    "",
    "   ",
    "hello,    world\t\n  again",
    "It's a dog's life; they'll say we've done what I'd do, I'm sure",
    "don't STOP 'til you're 'S done ''s",
    "numbers 12345 and 3.14159, 1,000,000 and ²³ and ½ ٣",
    "café naïve résumé Ångström Zürich straße",
    "ΣΊΣΥΦΟΣ ΟΔΟΣ σίσυφος",
    "Привет мир, ÇA VA? İstanbul",
    "emoji 😀🐱‍👤 👍🏽 ❤️ 🇫🇷",
    "日本語のテキスト 中文文本 한국어",
    "&amp; &lt;b&gt; &quot;quoted&quot; &#39;single&#39; &#x263A; &copy; &amp;amp; &notit; &nbsp;x",
    "<b>bold</b> &amp; html",
    "tab\tand\u00a0nbsp\u2003emspace\u3000ideographic",
    "curly “quotes” and ‘apostrophes’ and ﬁ ligature and ＦＵＬＬ ｗｉｄｔｈ",
    "<start_of_text> inside <end_of_text> text",
    "punctuation!?... ---- ((brackets)) [x] {y} @user #tag $100 50% a+b=c ~/path\\file",
    "mixed123abc 1st 2nd x2 ab12cd",
    " ".join(["long"] * 100),
    "supercalifragilisticexpialidocious pneumonoultramicroscopicsilicovolcanoconiosis",
    "a" * 300,
    "ΣΑΣ'S ΟΔΟΣ. ΑΣ 핌Σ",
    "&AMP; &EACUTE;&#1234567;&#128; &#0; &; &amp;amp;amp;amp; &ampx &#x41;&#65",
    "ǅ ſ K ﬀ ①② \x00nul\x07bell\x1b[31mred",
]

CORPUS = """a photo of a cat. a photo of a dog. a picture of the small bird on a tree.
there is a photo of many cats and dogs; the dog's toy is red, the cat's bowl is blue.
it's a long way to the top if you wanna rock and roll. numbers 1 2 3 4 5 6 7 8 9 0.
hello world, hello again. we'll see what they've done; i'm sure i'd say it's fine.
café naïve résumé zürich straße привет мир 日本語 emoji 😀 ❤️ & < > " quotes ' apostrophes.
photography photographs photographer photo photos of dogs cats birds trees flowers cars"""


def learn_vocab(path, n_merges=300):
    """Byte-level BPE learned the way CLIP's merges are defined (symbols are byte-unicode strings, the last of a
    word carries </w>); ties broken by the pair's text so the file is reproducible."""
    from open_clip.tokenizer import basic_clean, bytes_to_unicode, whitespace_clean
    import regex as re
    pat = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""", re.IGNORECASE)
    be = bytes_to_unicode()
    words = collections.Counter()
    for tok in re.findall(pat, whitespace_clean(basic_clean(CORPUS)).lower()):
        s = "".join(be[b] for b in tok.encode("utf-8"))
        words[tuple(s[:-1]) + (s[-1] + "</w>",)] += 1
    merges = []
    for _ in range(n_merges):
        pairs = collections.Counter()
        for w, c in words.items():
            for a, b in zip(w, w[1:]):
                pairs[(a, b)] += c
        if not pairs:
            break
        best = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))[0]
        merges.append(best)
        new = collections.Counter()
        for w, c in words.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                    out.append(w[i] + w[i + 1])
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            new[tuple(out)] += c
        words = new
    with open(path, "w", encoding="utf-8") as f:
        f.write("#version: tiny test vocabulary (tests/ref/gen_text.py)\n")
        f.write("\n".join(" ".join(m) for m in merges))  # no final newline: a trailing '' would take an id
    with open(path, "rb") as f, gzip.GzipFile(path + ".gz", "wb", mtime=0) as g:  # open_clip reads gzip only
        g.write(f.read())
    return len(merges)


def tokenizer_golden(out_dir, tiny_path):
    from open_clip.tokenizer import SimpleTokenizer
    tiny, clip = SimpleTokenizer(bpe_path=tiny_path + ".gz"), SimpleTokenizer()
    enc = [s.encode("utf-8") for s in STRINGS]
    offsets = np.cumsum([0] + [len(b) for b in enc]).astype(np.int64)
    return {
        "bytes": np.frombuffer(b"".join(enc), dtype=np.uint8).copy(),
        "offsets": offsets,
        "ids_tiny": tiny(STRINGS).numpy().astype(np.int64),
        "ids_clip": clip(STRINGS).numpy().astype(np.int64),
        "ids_clip_ctx8": clip(STRINGS, context_length=8).numpy().astype(np.int64),
        "tiny_vocab_size": np.array(tiny.vocab_size, dtype=np.int64),
    }


def tower_golden(seed, quick_gelu, grads):
    from open_clip.transformer import QuickGELU, TextTransformer
    torch.manual_seed(seed)
    V, C = 200, 16
    m = TextTransformer(context_length=C, vocab_size=V, width=64, heads=4, layers=2, output_dim=32,
                        act_layer=QuickGELU if quick_gelu else torch.nn.GELU)
    with torch.no_grad():  # every parameter random, so biases and norms are exercised too
        for name, p in m.named_parameters():
            p.copy_(torch.randn_like(p) * (0.5 if "ln" in name else 0.1) + (1.0 if name.endswith("ln_1.weight") or
                    name.endswith("ln_2.weight") or name == "ln_final.weight" else 0.0))
    B = 3
    ids = torch.randint(1, V - 1, (B, C))
    ends = [5, C - 1, 9]
    for b, e in enumerate(ends):  # EOT (the largest id) then zero padding, as tokenize makes them
        ids[b, e] = V - 1
        ids[b, e + 1:] = 0
    m.output_tokens = True
    pooled, tokens = m(ids)
    g_pooled, g_tokens = torch.randn_like(pooled), torch.randn_like(tokens)
    ((pooled * g_pooled).sum() + (tokens * g_tokens).sum()).backward()
    out = {name: p.detach().numpy() for name, p in m.named_parameters()}
    if grads:
        out.update({"grad." + name: p.grad.numpy() for name, p in m.named_parameters()})
    out.update({"ids": ids.numpy().astype(np.int64), "out.embeds": pooled.detach().numpy(),
                "out.tokens": tokens.detach().numpy(), "gout.embeds": g_pooled.numpy(),
                "gout.tokens": g_tokens.numpy()})
    return out


def generate(out, data_dir=None):
    """Goldens into `out`; the tiny vocabulary is learned into data_dir (default: out, so a regeneration check
    leaves the source tree alone; `make golden`-style runs of this file write tests/data/text)."""
    try:
        import open_clip  # noqa: F401
    except ImportError:
        raise SkipGenerator("open_clip_torch is not importable (scripts/setup_refs.sh installs it)")
    golden = out
    data_dir = data_dir or out
    os.makedirs(data_dir, exist_ok=True)
    tiny_path = os.path.join(data_dir, "tiny_vocab.txt")
    n = learn_vocab(tiny_path)
    save(os.path.join(golden, "text_bpe.safetensors"), tokenizer_golden(golden, tiny_path))
    save(os.path.join(golden, "text_tower.safetensors"), tower_golden(5, False, True))
    save(os.path.join(golden, "text_tower_quickgelu.safetensors"), tower_golden(6, True, False))
    print("tiny vocabulary: %d merges; goldens written" % n)


def main():
    generate(os.path.join(ROOT, "tests", "golden"), os.path.join(ROOT, "tests", "data", "text"))


if __name__ == "__main__":
    main()
