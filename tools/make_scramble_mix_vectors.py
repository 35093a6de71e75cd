"""Write tests/vectors/scramble_v5.json, scramble_v6.json, scramble_v7.json and
scramble_v8.json (container SPEC §10.4's, §10.5's, §10.6's and §10.7's test vectors).

A gray region of 3×2 blocks and a 4:2:0 colour region of 1×1 MCU would not
exercise the mixing much; the vector is a 4:2:0 region of 2×3 MCUs (luma 4×6
blocks, chroma 2×3 each) with seeded random coefficients, a q90 table,
region key 00 01 .. 1f. Run from the repository root:

    python tools/make_scramble_mix_vectors.py

scramble-v6's, scramble-v7's and scramble-v8's vectors also have the plaintext of the robust parameters
(``params_plain``: its bit packing is the point of the scheme).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from picveil.crypto import RegionKey
from picveil.schemes import get_scheme
from picveil.schemes import scramble_v5 as v5


def write(name: str) -> None:
    rng = np.random.default_rng(2026)
    key = RegionKey(bytes(range(32)))
    shapes = [(4, 6), (2, 3), (2, 3)]
    blocks = []
    for rows, cols in shapes:
        b = np.rint(rng.laplace(0.0, 1.0, (rows, cols, 8, 8)) * (12.0 / (1.0 + np.add.outer(np.arange(8), np.arange(8)))))
        b[..., 0, 0] = rng.integers(-60, 60, (rows, cols))
        flat = b.reshape(rows, cols, 64)
        flat[..., v5.ZIGZAG[12:15]] = 0  # empty frequencies: code 0, keyed fill
        flat[..., v5.ZIGZAG[54:]] = 0
        blocks.append(flat.reshape(rows, cols, 8, 8).astype(np.int16))
    # libjpeg's tables at quality 90 (as Pillow writes them), natural order
    luma_q = np.array([3, 2, 2, 3, 5, 8, 10, 12, 2, 2, 3, 4, 5, 12, 12, 11, 3, 3, 3, 5, 8, 11, 14, 11, 3, 3, 4, 6, 10, 17,
                       16, 12, 4, 4, 7, 11, 14, 22, 21, 15, 5, 7, 11, 13, 16, 21, 23, 18, 10, 13, 16, 17, 21, 24, 24, 20,
                       14, 18, 19, 20, 22, 20, 21, 20], dtype=np.uint16).reshape(8, 8)
    chroma_q = np.full(64, 20, dtype=np.uint16)
    chroma_q[[0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 24, 25]] = [3, 4, 5, 9, 4, 4, 5, 13, 5, 5, 11, 9, 13]
    chroma_q = chroma_q.reshape(8, 8)
    quant = [luma_q, chroma_q, chroma_q]
    scheme = get_scheme(name)
    p = scheme.protect(blocks, key, quant)
    all_codes, means = [], []
    comps = []
    for ci, (b, out, q) in enumerate(zip(blocks, p.blocks, quant)):
        v = b.reshape(-1, 64).astype(np.float64) * q.reshape(64)
        m = int(np.clip(np.rint(np.mean(v[:, 0])), -2048, 2047))
        v[:, 0] -= m
        rms = np.sqrt(np.mean(v * v, axis=0))
        d = v5.dither(key, ci)
        idx = v5.transmitted(ci)
        code = scheme.codec.encode(rms, d, ci)
        all_codes.append(code)
        means.append(m)
        comps.append({
            "rows": int(b.shape[0]), "cols": int(b.shape[1]),
            "quant": q.ravel().tolist(),
            "input": b.ravel().tolist(),
            "dither_u16": key.stream(b"picveil scramble-v5 dither" + bytes([ci]), 128).hex(),
            "perm_round0": np.argsort(np.frombuffer(key.stream(b"picveil scramble-v5 perm" + bytes([ci, 0]), 4 * b.shape[0] * b.shape[1]), dtype=">u4"), kind="stable").tolist(),
            "codes_zigzag": code[idx].tolist(),
            "mean": m,
            "output": out.ravel().tolist(),
        })
    vec = {
        "description": f"{name} on a 4:2:0 region of 2x3 MCUs (luma 4x6 blocks, chroma 2x3 each), libjpeg q90 tables, "
                       "region_key = 00 01 .. 1f; blocks natural order, raster; codes in zigzag order (64 luma, 15 per chroma)",
        "region_key": bytes(range(32)).hex(),
        "params_length": len(p.robust),
        "components": comps,
    }
    if name != "scramble-v5":
        vec["params_plain"] = scheme.codec.pack(all_codes, means).hex()
    path = Path(__file__).resolve().parent.parent / "tests" / "vectors" / f"{name.replace('-', '_')}.json"
    path.write_text(json.dumps(vec, separators=(",", ":")) + "\n")
    print(f"wrote {path} ({path.stat().st_size} bytes)")


def main() -> None:
    for name in ("scramble-v5", "scramble-v6", "scramble-v7", "scramble-v8"):
        write(name)


if __name__ == "__main__":
    main()
