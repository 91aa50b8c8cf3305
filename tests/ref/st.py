"""Minimal safetensors reader/writer for the reference generators (no dependency beyond numpy).

Layout: u64 little-endian header length, JSON header, data buffer; tensors stored back to back in key order,
header padded with spaces to an 8-byte boundary (as the official writer does)."""
import json
import struct

import numpy as np

_DT = {np.dtype('float32'): 'F32', np.dtype('int64'): 'I64', np.dtype('int32'): 'I32', np.dtype('uint8'): 'U8',
       np.dtype('bool'): 'BOOL', np.dtype('float16'): 'F16'}
_NP = {v: k for k, v in _DT.items()}


def save(path, tensors, metadata=None):
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        a = np.require(tensors[name], requirements="C")  # keeps 0-d arrays 0-d
        if a.dtype == np.float64:
            a = a.astype(np.float32)
        if a.dtype not in _DT:
            raise TypeError(f"{name}: unsupported dtype {a.dtype}")
        b = a.tobytes()
        header[name] = {"dtype": _DT[a.dtype], "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - (8 + len(h)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def load(path):
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        out[name] = np.frombuffer(data[b:e], dtype=_NP[info["dtype"]]).reshape(info["shape"])
    return out
