"""What hiding the block spectrum would cost a scramble that survives re-encoding (issue 3).

A scramble that a friend can still undo after a platform re-encodes the photo
must leave every DCT coefficient at its frequency (a re-encode then quantizes
it as it would have quantized the original; picveil's scramble-v4 moves and
flips coefficients that way). Such a scramble keeps the energy of each of the
64 frequencies over the region, and the audit's spectrum attacker
(:func:`picveil.audit.attack.spectrum_features`) reads the class from those 64
numbers.

For a transform that is the same for every region, the only way to hide them
and stay linear (so that re-encoding noise still passes through the inverse)
is to attenuate the content and add a keyed mask
that the key holder subtracts::

    shown = beta * scramble(x) + (1 - beta) * mask(key)

(This holds for transforms that do not depend on the region. A gain per
frequency computed from the region and sent sealed in the robust header, as
scramble-v5 does, shows a public constant energy at every frequency and
escapes the bound: docs/audit/tradeoff.md, "Correction".)

The shown values stay in 0..255 for any mask in 0..255. The reveal divides
whatever noise the platform adds by beta, so it costs ``20 log10(1 / beta)`` dB
of revealed-region PSNR after every re-encode. This script measures the
spectrum attacker's top-1 for several beta and two masks (white noise over the
full range; random block means with a little texture), on the audit's data at
128 px, and prints one table. The scramble here is the ideal one (8x8 blocks
permuted, mirrored at random), not picveil's, so the numbers speak for the
whole family.

    python benchmarks/audit_tradeoff.py [--datasets mnist,fashion-mnist] [--betas 1,0.5,0.25,0.125,0.0625]

Needs the audit extra and the data sets (``picveil audit --help``); about
2 minutes per data set and row on 2 cores.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np


def block_scramble(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """8x8 blocks permuted and mirrored at random: every coefficient keeps its frequency."""
    h, w = image.shape
    b = image.reshape(h // 8, 8, w // 8, 8).transpose(0, 2, 1, 3).reshape(-1, 8, 8)
    b = b[rng.permutation(len(b))].copy()
    flip = rng.random(len(b)) < 0.5
    b[flip] = b[flip][:, :, ::-1]
    flip = rng.random(len(b)) < 0.5
    b[flip] = b[flip][:, ::-1, :]
    return b.reshape(h // 8, w // 8, 8, 8).transpose(0, 2, 1, 3).reshape(h, w)


def mask(shape: tuple[int, int], rng: np.random.Generator, kind: str) -> np.ndarray:
    """A keyed mask in 0..255: ``white`` (uniform pixels) or ``blocks`` (uniform block means, ±32 texture)."""
    h, w = shape
    if kind == "white":
        return rng.uniform(0, 255, shape)
    means = np.repeat(np.repeat(rng.uniform(32, 223, (h // 8, w // 8)), 8, 0), 8, 1)
    return np.clip(means + rng.uniform(-32, 32, shape), 0, 255)


def shown(images: np.ndarray, beta: float, kind: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.empty_like(images)
    for i, im in enumerate(images):
        y = beta * block_scramble(im, rng) + (1.0 - beta) * mask(im.shape, rng, kind)
        out[i] = np.clip(np.rint(y), 0, 255).astype(np.uint8)
    return out


def spectrum_top1(images: np.ndarray, labels: np.ndarray, n_train: int, seed: int) -> float:
    from sklearn.ensemble import HistGradientBoostingClassifier

    from picveil.audit.attack import spectrum_features

    f = spectrum_features(images)
    clf = HistGradientBoostingClassifier(max_iter=200, early_stopping=False, random_state=seed)
    clf.fit(f[:n_train], labels[:n_train])
    return float((clf.predict(f[n_train:]) == labels[n_train:]).mean())


def main(argv: list[str] | None = None) -> int:
    from picveil.audit import data

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", default="mnist,fashion-mnist")
    ap.add_argument("--betas", default="1,0.5,0.25,0.125,0.0625")
    ap.add_argument("--masks", default="white,blocks")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--n-train", type=int, default=8000)
    ap.add_argument("--n-test", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    betas = [float(b) for b in args.betas.split(",")]
    kinds = args.masks.split(",")
    t0 = time.perf_counter()
    rows = []
    for name in args.datasets.split(","):
        ds = data.load_dataset(name)
        tr, te = data.split_indices(ds.labels, args.n_train, args.n_test, args.seed)
        idx = np.concatenate([tr, te])
        x, y = data.prepare(ds.images[idx], args.size), ds.labels[idx]
        chance = 1.0 / ds.n_classes
        for beta in betas:
            for kind in kinds if beta < 1.0 else ["none"]:
                acc = spectrum_top1(shown(x, beta, kind, args.seed), y, len(tr), args.seed)
                rows.append((name, beta, kind, acc, chance))
                print(f"  {name} beta {beta:g} mask {kind}: {100 * acc:.1f}%", flush=True)
    print()
    print(f"### Spectrum attacker against an attenuated robust scramble, {args.size} px, "
          f"{args.n_train}/{args.n_test} images, seed {args.seed}; {time.perf_counter() - t0:.0f} s")
    print()
    print("| data set | beta | mask | reveal cost after a re-encode | spectrum top-1 | chance + 2 |")
    print("|---|---:|---|---:|---:|---:|")
    for name, beta, kind, acc, chance in rows:
        cost = 20 * math.log10(1 / beta) or 0.0
        print(f"| {name} | {beta:g} | {kind} | {-cost if cost else 0.0:.1f} dB | {100 * acc:.1f} % | {100 * chance + 2:.0f} % |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
