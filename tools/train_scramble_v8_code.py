"""Derive scramble-v8's prefix code (container SPEC §10.7) from packaged photos.

scramble-v8 writes scramble-v7's gain codes with a prefix code instead of 4
bits per symbol. This script measures how often each symbol occurs and builds
the code: crops of 3-24 MCUs a side (12 per photo, JPEG q92 and q85, 4:2:0)
of the packaged photos that ``benchmarks/bench_robust.py`` loads, with a
uniform random dither, the symbols of scramble-v7's coding (residuals against
the prediction, 0 for an empty frequency) and an end-of-component symbol in
place of a run of empty frequencies that ends a component.

* the code is built from the photos of even index (names sorted) and checked
  on those of odd index, which it never saw;
* lengths come from Huffman's construction on the counts plus one half (so
  every symbol has a code), ties broken by the symbol's number; luma and
  chroma get a table each.

Run from the repository root (prints the tables for
``picveil/schemes/scramble_v8.py`` and the held-out sizes):

    python tools/train_scramble_v8_code.py
"""

from __future__ import annotations

import heapq
import io
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

QUALITIES = (92, 85)
CROPS = 12
SEED = 8


def huffman_lengths(counts: list[float]) -> list[int]:
    """Code lengths of Huffman's construction; ties broken by the lowest symbol."""
    heap = [(c, s, (s,)) for s, c in enumerate(counts)]
    heapq.heapify(heap)
    lengths = [0] * len(counts)
    while len(heap) > 1:
        c1, k1, a = heapq.heappop(heap)
        c2, k2, b = heapq.heappop(heap)
        for s in a + b:
            lengths[s] += 1
        heapq.heappush(heap, (c1 + c2, min(k1, k2), a + b))
    return lengths


def region_symbols(rng: np.random.Generator, photos: dict, names: list[str]):
    """Per crop: the scramble-v8 symbols of each component (list of lists), and the codes and means."""
    from PIL import Image

    from picveil.jpeg.codec import read_coefficients
    from picveil.schemes import scramble_v8 as v8

    codec = v8.PrefixCodec()
    for name in names:
        rgb = photos[name]
        h, w = rgb.shape[:2]
        for quality in QUALITIES:
            buf = io.BytesIO()
            Image.fromarray(rgb).save(buf, "JPEG", quality=quality, subsampling=2)
            co = read_coefficients(buf.getvalue())
            for _ in range(CROPS):
                mw = int(rng.integers(3, max(4, min(24, w // 16))))
                mh = int(rng.integers(3, max(4, min(24, h // 16))))
                mx, my = int(rng.integers(0, w // 16 - mw + 1)), int(rng.integers(0, h // 16 - mh + 1))
                codes, means = [], []
                for ci in range(3):
                    f = 2 if ci == 0 else 1
                    b = co.blocks(ci, my * f, (my + mh) * f, mx * f, (mx + mw) * f).reshape(-1, 64).astype(np.float64)
                    v = b * co.quant_table(ci).reshape(64).astype(np.float64)
                    m = int(np.clip(np.rint(v[:, 0].mean()), -2048, 2047))
                    v[:, 0] -= m
                    codes.append(codec.encode(np.sqrt((v * v).mean(0)), rng.random(64), ci))
                    means.append(m)
                yield [v8.symbols(c, ci) for ci, c in enumerate(codes)], codes, means


def main() -> None:
    import bench_robust

    from picveil.schemes import scramble_v6 as v6
    from picveil.schemes import scramble_v8 as v8

    photos = bench_robust.load_photos()
    names = sorted(photos)
    train, held_out = names[0::2], names[1::2]
    rng = np.random.default_rng(SEED)
    counts = {"luma": np.full(v8.N_SYMBOLS, 0.5), "chroma": np.full(v8.N_SYMBOLS, 0.5)}
    for syms, _, _ in region_symbols(rng, photos, train):
        for ci, s in enumerate(syms):
            np.add.at(counts["luma" if ci == 0 else "chroma"], s, 1)
    for kind in ("luma", "chroma"):
        print(f"{kind.upper()}_LENGTHS = {tuple(huffman_lengths(list(counts[kind])))}")
    fixed, huff = [], []
    for _, codes, means in region_symbols(rng, photos, held_out):
        fixed.append(len(v6.pack_params(codes, means)))
        huff.append(len(v8.pack_params(codes, means)))
    fixed, huff = np.array(fixed), np.array(huff)
    print(f"held out ({len(held_out)} photos, {len(huff)} crops): plaintext bytes scramble-v7 {fixed.mean():.1f}, "
          f"scramble-v8 mean {huff.mean():.1f}, median {np.median(huff):.0f}, p95 {np.percentile(huff, 95):.0f}, "
          f"max {huff.max()}")


if __name__ == "__main__":
    main()
