"""The robust header written over the regions: how much of its pattern a reveal takes out.

When the circle default's header (with each region's sealed gains) does not
fit outside the regions, protect writes it over the whole picture (robust
SPEC §13.5) and a reveal from pixels estimates the pattern inside each
region before unscrambling it (``reveal._remove_header_pattern``). This
script protects packaged photos for a circle, keeps the cases where the
header went over a scramble-v5/v6/v7 region (or, with ``--fallback``, over a
scramble-v4 region: photos under 0.4 MP, where the default's header fits
nowhere and protect falls back), and reveals each received file three ways,
on the *same* file (paired, keys and boxes alike):

* **shipped**: the estimate as picveil ships it (``PATTERN_MIXED_OPERATOR``,
  seam curvature since the fourteenth session; ``PATTERN_OPERATOR`` for
  scramble-v4, first differences);
* **other**: the other operator with its keep test (first differences for
  scramble-v5/v6/v7, what they got before; seam curvature for scramble-v4,
  tried in the sixteenth session and not adopted);
* **left in**: no estimate at all (the pattern unscrambled into block noise).

It prints, per chain, the decrypted regions' PSNR of each and the
differences in dB (mean, worst, best over cases, and how many cases lose
more than 0.1 dB), then each case. Not a test: a measurement (STYLE.md
point 10). Photos: scikit-image's and Debian's ``opencv-doc`` examples (if
installed) from 0.4 MP (under it with ``--fallback``), each with four box
layouts (:data:`LAYOUTS`). Usage::

    python benchmarks/bench_header_pattern.py            # about 15 min on 2 cores
    python benchmarks/bench_header_pattern.py --fallback # about 20 min on 2 cores
    python benchmarks/bench_header_pattern.py --fallback --layouts bench --draws 3 \
        --chains png,jpeg:85,jpeg:75,jpeg:50,webp:75       # bench_robust's own boxes
    python benchmarks/bench_header_pattern.py --chains png,jpeg:75 --photos 4
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_robust as br  # noqa: E402 - the photos, boxes and measures of the robustness benchmark

#: Photos smaller than this (pixels) rarely take the default scheme with its header over a region.
MIN_PIXELS = 400_000
CHAINS = ("png", "jpeg:75", "webp:75")
#: Box layouts: one centred region of 36 % or 64 % of the picture, four
#: regions of 12 % each (a 2 x 2 group photo), and bench_robust's seeded 1-4 boxes.
#: ``bench`` (on request, ``--layouts``): the very boxes bench_robust's run gives
#: the photo (its seed for the photo's place among all packaged photos, redrawn
#: until the header fits, :func:`bench_robust.protect_fitting`).
LAYOUTS = ("centred", "large", "four", "random")


def _variants(rv, mixed: bool) -> dict[str, dict[str, object]]:
    """The reveals compared, as settings of ``reveal``'s module constants: the
    shipped estimate, the other operator with its keep ratio, and none."""
    if mixed:
        return {
            "shipped": {},
            "other": {"PATTERN_MIXED_OPERATOR": "first-difference"},
            "left in": {"PATTERN_MIXED_KEEP_RATIO": 0.0, "PATTERN_KEEP_RATIO": 0.0},
        }
    other = "seam-curvature" if rv.PATTERN_OPERATOR == "first-difference" else "first-difference"
    return {
        "shipped": {},
        "other": {"PATTERN_OPERATOR": other},
        "left in": {"PATTERN_KEEP_RATIO": 0.0, "PATTERN_SEAM_KEEP_RATIO": 0.0},
    }


def run_case(job) -> dict | None:
    """Protect one photo with one box layout; None if the header is not over a
    region of the scheme family asked for (`mixed`: scramble-v5/v6/v7, else scramble-v4)."""
    name, rgb, layout, seed, chains, mixed, draw = job
    warnings.simplefilter("ignore")
    from picveil import api
    from picveil.crypto import Keyring
    from picveil.platforms.simulate import parse_chain
    from picveil.robust import header as rh
    from picveil.robust import reveal as rv
    from picveil.robust.extractor import extract_report

    h, w = rgb.shape[:2]
    src = br.source_jpeg(rgb)
    original = br.decode(src)
    me = Keyring.open(os.path.join(tempfile.mkdtemp(prefix="pv-pattern-"), "me"), create=True)
    me.create_circle("family")
    if layout in ("centred", "large"):
        side = 0.6 if layout == "centred" else 0.8
        bw, bh = int(w * side), int(h * side)
        boxes = [((w - bw) // 2, (h - bh) // 2, bw, bh)]
    elif layout == "four":
        bw, bh = int(w * 0.35), int(h * 0.35)
        boxes = [(int(w * fx) - bw // 2, int(h * fy) - bh // 2, bw, bh) for fy in (0.28, 0.72) for fx in (0.28, 0.72)]
    elif layout == "random":
        boxes = br.random_boxes(w, h, np.random.default_rng(seed))
    if layout == "bench":
        found = br.protect_fitting(src, w, h, np.random.default_rng(seed), me)
        if found is None:
            return None
        prot, report, _ = found
    else:
        prot, report, _ = api._protect(src, boxes, circle="family", keyring=me)
        if report.warnings:
            return None
    found = extract_report(br.decode(prot))
    header = rh.RobustHeader.from_bytes(found.payload)
    if rv._header_grid_in_regions(header, len(found.payload), found.grid) is None:
        return None  # outside the regions: nothing to estimate
    if (header.scheme_id in rv._MixScramble.scheme_ids) != mixed:
        return None
    snapped = [(r.box.x, r.box.y, r.box.w, r.box.h) for r in report.regions]
    label = layout if not draw else f"{layout} #{draw + 1}"
    out = {"name": name, "layout": label, "mp": w * h / 1e6, "regions": len(snapped), "chains": {}}
    for spec in chains:
        received = parse_chain("strip," + spec).run(prot)
        row = {}
        for label, settings in _variants(rv, mixed).items():
            saved = {k: getattr(rv, k) for k in settings}
            for k, v in settings.items():
                setattr(rv, k, v)
            try:
                revealed, _ = rv.reveal_pixels(received, keyring=me)
            finally:
                for k, v in saved.items():
                    setattr(rv, k, v)
            row[label] = br.region_scores(revealed, original, snapped)[0]
        row["plain"] = br.region_scores(br.decode(parse_chain("strip," + spec).run(src)), original, snapped)[0]
        out["chains"][spec] = row
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chains", default=",".join(CHAINS), help="comma-separated chains (bench_robust's syntax)")
    parser.add_argument("--photos", type=int, default=0, help="use only the first N photos (0: all)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--layouts", default=",".join(LAYOUTS),
                        help="comma-separated box layouts: centred, large, four, random, bench")
    parser.add_argument("--draws", type=int, default=1, help="protects (fresh keys) per photo and layout")
    parser.add_argument("--fallback", action="store_true",
                        help="photos under 0.4 MP and their scramble-v4 regions (the circle default's fallback) instead")
    args = parser.parse_args(argv)
    chains = [c for c in args.chains.split(",") if c]
    mixed = not args.fallback
    photos = {n: p for n, p in sorted(br.load_photos().items()) if (p.shape[0] * p.shape[1] >= MIN_PIXELS) == mixed}
    names = list(photos)[: args.photos or None]
    layouts = [x for x in args.layouts.split(",") if x]
    unknown = sorted(set(layouts) - set(LAYOUTS) - {"bench"})
    if unknown:
        parser.error(f"unknown layout(s) {', '.join(unknown)}; known: {', '.join(LAYOUTS)}, bench")
    everyone = sorted(br.load_photos())  # bench_robust seeds a photo by its place among all

    def seed(i: int, name: str, layout: str) -> int:
        return br.SEED + (everyone.index(name) if layout == "bench" else i)

    jobs = [
        (n, photos[n], layout, seed(i, n, layout), chains, mixed, d)
        for i, n in enumerate(names)
        for layout in layouts
        for d in range(max(1, args.draws))
    ]
    t0 = time.time()
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as ex:
        cases = [c for c in ex.map(run_case, jobs) if c is not None]
    from picveil.robust import reveal as rv

    other = next(iter(_variants(rv, mixed)["other"].values()))  # the other operator's name
    what, size = (
        ("scramble-v5/v6/v7", f"at least {MIN_PIXELS / 1e6:.1f} MP")
        if mixed
        else ("scramble-v4 (the fallback)", f"under {MIN_PIXELS / 1e6:.1f} MP")
    )
    print(f"### Header over {what} regions: {len(cases)} cases of {len(jobs)} "
          f"({len(names)} photos {size}, box layouts {', '.join(layouts)}, {max(1, args.draws)} key draw(s) each); "
          f"{time.time() - t0:.0f} s\n")
    print("Decrypted regions' PSNR (dB) on the same received file; differences in dB.\n")
    print(f"| chain | cases | shipped | {other} | left in | plain | shipped - {other}: mean | worst | best "
          "| cases below -0.1 | shipped - left in: mean | worst |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for spec in chains:
        rows = [c["chains"][spec] for c in cases]
        if not rows:
            continue
        d1 = [r["shipped"] - r["other"] for r in rows]
        d2 = [r["shipped"] - r["left in"] for r in rows]
        plain = [r["plain"] for r in rows if math.isfinite(r["plain"])]
        print(f"| {spec} | {len(rows)} | {np.mean([r['shipped'] for r in rows]):.2f} | "
              f"{np.mean([r['other'] for r in rows]):.2f} | {np.mean([r['left in'] for r in rows]):.2f} | "
              f"{np.mean(plain) if plain else math.inf:.2f} | {np.mean(d1):+.2f} | {min(d1):+.2f} | {max(d1):+.2f} | "
              f"{sum(d < -0.1 for d in d1)} | {np.mean(d2):+.2f} | {min(d2):+.2f} |")
    print("\n| photo | MP | layout | regions | " + " | ".join(f"{c}: shipped - {other}" for c in chains) + " |")
    print("|---|---|---|---|" + "---|" * len(chains))
    for c in cases:
        cells = [f"{c['chains'][s]['shipped'] - c['chains'][s]['other']:+.2f}" for s in chains]
        print(f"| {c['name']} | {c['mp']:.1f} | {c['layout']} | {c['regions']} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
