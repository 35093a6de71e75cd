"""After a downscale: the resampling filter read from the scrambled regions' spectrum, against the cross-validation.

A reveal after a platform shrank the picture inverts a model of the shrink,
and the model needs the platform's resampling filter (Lanczos, bicubic,
bilinear, box, OpenCV's INTER_AREA or INTER_LINEAR). Since the ninth session
the reveal fitted the model with each filter to half of the received pixels
and kept the one that predicted the other half best; with scramble-v5/v6/v7
regions that choice leans on the smoothness prior and took bilinear for most
Lanczos shrinks. Since the fifteenth session the filter is read from the
regions' spectrum where they allow it (``reveal._spectral_kernel``): a mixed
region is a random field with public energies per frequency, so each filter
predicts the energies the received picture's blocks show there.

This script protects packaged photos for a circle (one seeded set of boxes
each), puts each through downscales with several filters, and reveals every
received file twice, on the *same* file (paired: keys and boxes alike):

* **shipped**: the filter read from the spectrum (the cross-validation
  where that does not decide);
* **cross-validation**: the choice before (``_spectral_kernel`` switched off).

It prints, per chain, the gap of each to the unprotected photo through the
same chain (against the original through the chain's own resize step, as
bench_robust), the difference, how often each named the platform's filter,
and the reveal times. Not a test: a measurement (STYLE.md point 10).
Photos: those from 0.4 MP (scramble-v7 there), shrunk to 1080 px when larger
than 1200 px, else to 640 px. Usage::

    python benchmarks/bench_resize_kernel.py              # about 40 min on 2 cores
    python benchmarks/bench_resize_kernel.py --photos 2 --chains lanczos
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_robust as br  # noqa: E402 - the photos, boxes and measures of the robustness benchmark

MIN_PIXELS = 400_000
#: ``(resize method, re-encode, the filter a reveal should name)``; EDGE is filled per photo.
CHAINS = (
    ("lanczos", "jpeg:75", "lanczos"),
    ("lanczos", "jpeg:85", "lanczos"),
    ("bicubic", "jpeg:85", "bicubic"),
    ("bilinear", "jpeg:85", "bilinear"),
    ("opencv-area", "jpeg:85", "area"),
    ("opencv-linear", "jpeg:85", "linear"),
    ("lanczos", "webp:75", "lanczos"),
    ("lanczos", "jpeg:75:mozjpeg", "lanczos"),
)


def label(method: str, encode: str) -> str:
    return f"{method} + {encode}"


def run_photo(job) -> list[dict]:
    name, rgb, seed, chains = job
    warnings.simplefilter("ignore")
    from PIL import Image

    from picveil.crypto import Keyring
    from picveil.platforms.simulate import parse_chain
    from picveil.robust import reveal as rv

    h, w = rgb.shape[:2]
    edge = 1080 if max(h, w) > 1200 else 640
    src = br.source_jpeg(rgb)
    original = br.decode(src)
    png = io.BytesIO()
    Image.fromarray(original).save(png, "PNG")
    me = Keyring.open(os.path.join(tempfile.mkdtemp(prefix="pv-kernel-"), "me"), create=True)
    me.create_circle("family")
    found = br.protect_fitting(src, w, h, np.random.default_rng(seed), me)
    if found is None:
        return []
    prot, report, _ = found
    snapped = [(r.box.x, r.box.y, r.box.w, r.box.h) for r in report.regions]
    rows = []
    for method, encode, truth in chains:
        spec = f"resize:{edge}:{method},{encode}"
        chain = parse_chain("strip," + spec)
        received = chain.run(prot)
        got = br.decode(received)
        rh, rw = got.shape[:2]
        ref = br.decode(parse_chain(f"resize:{edge}:{method}").run(png.getvalue()))
        bx = br.scaled(snapped, rw / w, rh / h)
        plain = br.region_scores(br.decode(chain.run(src)), ref, bx)[0]
        row = {"name": name, "mp": w * h / 1e6, "edge": edge, "chain": label(method, encode), "truth": truth, "plain": plain}
        shipped = rv._spectral_kernel
        for key, fn in (("shipped", shipped), ("cross-validation", lambda *a, **k: None)):
            rv._spectral_kernel = fn
            try:
                t0 = time.perf_counter()
                revealed, rep = rv.reveal_pixels(received, keyring=me)
                row[key + " s"] = time.perf_counter() - t0
            finally:
                rv._spectral_kernel = shipped
            row[key] = br.region_scores(revealed, ref, bx)[0] - plain
            row[key + " filter"] = rep.resampling
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chains", default="", help="only chains whose resize method or encoder contains one of these comma-separated strings")
    parser.add_argument("--photos", type=int, default=0, help="use only the first N photos (0: all)")
    parser.add_argument("--names", default="", help="comma-separated photo names instead")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    chains = [c for c in CHAINS if not args.chains or any(p in label(c[0], c[1]) for p in args.chains.split(","))]
    photos = {n: p for n, p in sorted(br.load_photos().items()) if p.shape[0] * p.shape[1] >= MIN_PIXELS}
    names = args.names.split(",") if args.names else list(photos)[: args.photos or None]
    jobs = [(n, photos[n], br.SEED + i, chains) for i, n in enumerate(names)]
    jobs.sort(key=lambda j: -j[1].size)
    t0 = time.time()
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as ex:
        rows = [r for rs in ex.map(run_photo, jobs) for r in rs]
    print(f"### The downscale's filter: read from the spectrum (shipped) against cross-validation; "
          f"{len(names)} photos of at least {MIN_PIXELS / 1e6:.1f} MP; {time.time() - t0:.0f} s\n")
    print("Gap to the unprotected photo through the same chain (dB), same received file for both reveals.\n")
    print("| chain | cases | shipped gap | cross-validation gap | difference: mean | worst | best | "
          "filter named: shipped | cross-validation | reveal s: shipped | cross-validation |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for method, encode, truth in chains:
        sel = [r for r in rows if r["chain"] == label(method, encode)]
        if not sel:
            continue
        d = [r["shipped"] - r["cross-validation"] for r in sel]
        right = {k: sum(r[k + " filter"] == truth for r in sel) for k in ("shipped", "cross-validation")}
        print(f"| {label(method, encode)} | {len(sel)} | {np.mean([r['shipped'] for r in sel]):+.2f} | "
              f"{np.mean([r['cross-validation'] for r in sel]):+.2f} | {np.mean(d):+.2f} | {min(d):+.2f} | {max(d):+.2f} | "
              f"{right['shipped']}/{len(sel)} | {right['cross-validation']}/{len(sel)} | "
              f"{np.mean([r['shipped s'] for r in sel]):.0f} | {np.mean([r['cross-validation s'] for r in sel]):.0f} |")
    d = [r["shipped"] - r["cross-validation"] for r in rows]
    if d:
        print(f"| all | {len(d)} | {np.mean([r['shipped'] for r in rows]):+.2f} | {np.mean([r['cross-validation'] for r in rows]):+.2f} "
              f"| {np.mean(d):+.2f} | {min(d):+.2f} | {max(d):+.2f} | | | | |")
    print("\n| photo | MP | edge | chain | plain dB | shipped: filter | gap | cross-validation: filter | gap |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['name']} | {r['mp']:.1f} | {r['edge']} | {r['chain']} | {r['plain']:.2f} | {r['shipped filter']} | "
              f"{r['shipped']:+.2f} | {r['cross-validation filter']} | {r['cross-validation']:+.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
