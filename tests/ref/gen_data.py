"""Image fixtures and PIL references for the data path (tests/unit/test_data_*.c).

Writes tiny images to tests/data/images/ (good ones in every colour layout the decoders convert, and the bad
inputs of issue 5: truncated JPEG, PNG with a bad CRC, zero-byte file) and data.safetensors with
    decode.<file>           PIL's Image.open(file).convert("RGB") as u8 [H, W, 3] (16-bit gray: high byte)
    resize.<filter>.<w>x<h> PIL's resize of src.png to w x h as u8 [H, W, 3]
Needs Pillow (python3-pil); without it nothing is written."""
import io
import os

import numpy as np

from st import save

HERE = os.path.dirname(os.path.abspath(__file__))
IMAGES = os.path.join(HERE, "..", "data", "images")
RESIZES = [(40, 30), (25, 19), (13, 7), (110, 80), (97, 40), (60, 73), (8, 8)]


def _pattern(w, h, seed):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([255 * x / w, 255 * y / h, 128 + 100 * np.sin(x / 3.0) * np.cos(y / 4.0)], -1)
    blocks = ((x // 8 + y // 8) % 2)[..., None] * 60
    return np.clip(base + blocks + rng.normal(0, 12, (h, w, 3)), 0, 255).astype(np.uint8)


def generate(out_dir):
    try:
        from PIL import Image
    except ImportError:
        print("  gen_data: Pillow not importable (apt-get install python3-pil); skipped")
        return
    os.makedirs(IMAGES, exist_ok=True)
    t = {}
    src = Image.fromarray(_pattern(97, 73, 1))
    rgb = Image.fromarray(_pattern(48, 32, 2))
    files = {
        "src.png": (src, {}),
        "rgb.png": (rgb, {}),
        "rgba.png": (Image.fromarray(np.dstack([_pattern(20, 12, 3), _pattern(20, 12, 4)[..., 0]]), "RGBA"), {}),
        "gray.png": (rgb.convert("L"), {}),
        "gray16.png": (Image.fromarray((_pattern(17, 9, 5)[..., 0].astype(np.uint16) * 257 + 3), "I;16"), {}),
        "palette.png": (rgb.convert("P", palette=Image.ADAPTIVE, colors=16), {}),
        "bw.png": (rgb.convert("1"), {}),
        "rgb.jpg": (rgb, {"quality": 90}),
        "gray.jpg": (rgb.convert("L"), {"quality": 90}),
        "cmyk.jpg": (rgb.convert("CMYK"), {"quality": 95}),
        "progressive.jpg": (rgb, {"quality": 85, "progressive": True}),
        "large.jpg": (Image.fromarray(_pattern(160, 120, 6)), {"quality": 90}),
    }
    for name, (im, kw) in files.items():
        im.save(os.path.join(IMAGES, name), **kw)
        t[f"decode.{name}"] = np.asarray(Image.open(os.path.join(IMAGES, name)).convert("RGB"))
    # PIL clips 16-bit gray to 255 on convert("RGB"); visft (like libpng's strip_16 and torchvision) keeps the
    # high byte, so that reference is computed here instead.
    g16 = np.asarray(Image.open(os.path.join(IMAGES, "gray16.png"))).astype(np.uint16)
    t["decode.gray16.png"] = np.repeat((g16 >> 8).astype(np.uint8)[..., None], 3, axis=2)
    # Bad inputs: truncated JPEG (first half), PNG with its IHDR CRC flipped, zero bytes.
    raw = open(os.path.join(IMAGES, "large.jpg"), "rb").read()
    open(os.path.join(IMAGES, "truncated.jpg"), "wb").write(raw[: len(raw) // 2])
    png = bytearray(open(os.path.join(IMAGES, "rgb.png"), "rb").read())
    png[29] ^= 0xFF  # IHDR CRC: 8 signature + 8 length/type + 13 data = 29
    open(os.path.join(IMAGES, "badcrc.png"), "wb").write(bytes(png))
    open(os.path.join(IMAGES, "empty.jpg"), "wb").close()
    for filt, code in (("bilinear", Image.BILINEAR), ("bicubic", Image.BICUBIC)):
        for w, h in RESIZES:
            t[f"resize.{filt}.{w}x{h}"] = np.asarray(src.resize((w, h), code))
    save(os.path.join(out_dir, "data.safetensors"), t, {"generator": "tests/ref/gen_data.py",
                                                          "pillow": Image.__version__})


if __name__ == "__main__":
    generate(os.path.join(HERE, "..", "golden"))
