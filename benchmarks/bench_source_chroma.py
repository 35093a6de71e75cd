"""Colour kept finer than a network keeps it: a circle photo written 4:2:0 or 4:4:4.

picveil encodes a non-JPEG input (PNG, WebP, HEIC, TIFF, a screenshot) to JPEG
before protecting it. For a circle it now writes 4:2:0, what every network
re-encodes to; it used to write 4:4:4, whose full-resolution scrambled colour
a network's 4:2:0 averages over 2x2 pixels, so that three quarters of it are
lost. A 4:4:4 JPEG input (GIMP's and many exports' default) is still protected
as it is, and the reveal now estimates its regions' full-resolution scrambled
chroma from the received samples (``reveal._chroma_map_down``) instead of
upsampling and unscrambling them, which spread the loss over the region as
colour noise.

For each packaged photo (as a PNG: the input a user has), the same boxes are
protected both ways (one keyring, fresh keys each), every chain is simulated
and the friend reveals from the pixels; the 4:4:4 file is revealed twice, with
the estimate and without it (``reveal.CHROMA_MAP_DOWN = False``, the reveal
before it), from the same received file. Printed, one table per run (STYLE.md
point 10: ratios measured side by side in one run, not a test): per chain, the
regions' PSNR against the PNG for the unprotected PNG through the same chain
(**plain**, the physical limit), for each arm, their gaps to plain, and on how
many photos 4:2:0 beats 4:4:4; and the PSNR outside the regions of the
protected file against the PNG (what every viewer sees: 4:2:0 has half the
colour resolution, the robust header costs about 41 dB either way).
Usage::

    python benchmarks/bench_source_chroma.py             # 8 photos, 7 chains (about 20 min on 2 cores)
    python benchmarks/bench_source_chroma.py --photos retina,aloeL --chains jpeg:85,webp:75 --markdown
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_robust as br  # noqa: E402  (photos, boxes and scores shared with the platform benchmark)

PHOTOS = ("astronaut", "coffee", "graf1", "retina", "aloeL", "scenetext02", "scenetext05")
CHAINS = ("png", "jpeg:95", "jpeg:85", "jpeg:75", "jpeg:50", "webp:75", "resize:1080,jpeg:85")
ARMS = ("4:2:0", "4:4:4")
#: the 4:4:4 file revealed as before the estimate of its chroma
UPSAMPLED = "4:4:4 upsampled"


def png_bytes(rgb: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG")
    return buf.getvalue()


def run_photo(name: str, rgb: np.ndarray, chains, keyring, seed: int) -> dict | None:
    """Protect one PNG both ways with the same boxes; every chain; both reveals
    (``None`` if no draw of boxes lets the header fit)."""
    from PIL import Image

    from picveil import api
    from picveil.platforms.simulate import parse_chain
    from picveil.robust.reveal import reveal_pixels

    h, w = rgb.shape[:2]
    src = png_bytes(rgb)
    rng = np.random.default_rng(seed)
    for _ in range(20):  # boxes whose header fits (as bench_robust.protect_fitting)
        boxes = br.random_boxes(w, h, rng)
        prot = {}
        for arm in ARMS:
            data, report, _ = api._protect(src, boxes, circle="family", keyring=keyring, subsampling=arm)
            prot[arm] = (data, report)
        if not any(r.warnings for _, r in prot.values()):
            break
    else:
        print(f"  {name}: no header fits beside 20 draws of boxes; skipped", file=sys.stderr)
        return None
    snapped = [(r.box.x, r.box.y, r.box.w, r.box.h) for r in prot[ARMS[0]][1].regions]
    outside = np.ones((h, w), dtype=bool)
    for x, y, bw, bh in snapped:
        outside[y : y + bh, x : x + bw] = False
    result = {
        "name": name,
        "mp": w * h / 1e6,
        "scheme": "scramble-v4 (fallback)" if any("scramble-v4" in a for a in prot[ARMS[0]][1].advice) else "default",
        "outside": {arm: br.psnr(br.decode(prot[arm][0])[outside], rgb[outside]) for arm in ARMS},
        "chains": {},
    }
    for spec in chains:
        edge = br.resize_edge(spec)
        if edge is not None and max(h, w) <= edge:
            continue
        chain = parse_chain("strip," + spec)
        plain = br.decode(chain.run(src))
        rh, rw = plain.shape[:2]
        if (rh, rw) == (h, w):
            ref = rgb
        else:  # measured against the resized original
            buf = io.BytesIO()
            Image.fromarray(rgb).save(buf, "PNG")
            ref = br.decode(parse_chain(br.resize_step(spec)).run(buf.getvalue()))
        boxes = br.scaled(snapped, rw / w, rh / h)
        row = {"plain": br.region_scores(plain, ref, boxes)[0] if spec != "png" else float("inf")}
        from picveil.robust import reveal as rv

        for arm in ARMS + (UPSAMPLED,):
            rv.CHROMA_MAP_DOWN = arm != UPSAMPLED
            try:
                out, _ = reveal_pixels(chain.run(prot[arm.split()[0]][0]), keyring=keyring)
            finally:
                rv.CHROMA_MAP_DOWN = True
            row[arm] = br.region_scores(out, ref, boxes)[0]
        result["chains"][spec] = row
        print(f"  {name:12s} {spec:20s} " + " ".join(f"{k} {v:6.2f}" for k, v in row.items()), file=sys.stderr, flush=True)
    return result


def print_tables(results: list[dict], chains, elapsed: float, markdown: bool) -> None:
    mps = [r["mp"] for r in results]
    print(f"### A non-JPEG photo protected for a circle: written 4:2:0 against 4:4:4; {len(results)} photos "
          f"({min(mps):.2f}-{max(mps):.2f} MP), 1-4 regions each; {elapsed:.0f} s\n")
    rows = []
    for spec in chains:
        got = [r["chains"][spec] for r in results if spec in r["chains"]]
        if not got:
            continue
        arms = ARMS + (UPSAMPLED,)
        mean = {k: float(np.mean([g[k] for g in got])) for k in ("plain",) + arms}
        lossless = spec == "png"
        gaps = {arm: (float(np.mean([g[arm] - g["plain"] for g in got])) if not lossless else None) for arm in arms}
        diff = [g["4:2:0"] - g["4:4:4"] for g in got]
        est = [g["4:4:4"] - g[UPSAMPLED] for g in got]
        cells = []
        for arm in arms:
            cells += [f"{mean[arm]:.2f}", "–" if lossless else f"{gaps[arm]:+.2f}"]
        rows.append([
            spec, str(len(got)), "∞" if lossless else f"{mean['plain']:.2f}", *cells,
            f"{np.mean(est):+.2f} ({sum(e > 0 for e in est)}/{len(est)})",
            f"{np.mean(diff):+.2f} ({sum(d > 0 for d in diff)}/{len(diff)})",
        ])
    br.print_grid(["chain", "photos", "plain PSNR", "4:2:0 PSNR", "4:2:0 gap dB", "4:4:4 PSNR", "4:4:4 gap dB",
                   "4:4:4 upsampled PSNR", "upsampled gap dB", "estimate gain dB (better)", "4:2:0 − 4:4:4 dB (better)"], rows, markdown)
    print()
    out = {arm: [r["outside"][arm] for r in results] for arm in ARMS}
    print(f"* outside the regions, protected file against the PNG (mean): 4:2:0 {np.mean(out['4:2:0']):.2f} dB, "
          f"4:4:4 {np.mean(out['4:4:4']):.2f} dB (the robust header alone costs about 41 dB)")
    fb = [r["name"] for r in results if r["scheme"] != "default"]
    if fb:
        print(f"* protected with the circle fallback (scramble-v4, the header does not fit beside scramble-v8's): {', '.join(fb)}")
    print("* per photo, 4:2:0 − 4:4:4 dB: " + "; ".join(
        f"{r['name']} ({r['mp']:.2f} MP) " + ", ".join(f"{s} {c['4:2:0'] - c['4:4:4']:+.1f}" for s, c in r["chains"].items())
        for r in results))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--photos", default=",".join(PHOTOS), help="comma-separated packaged photo names")
    ap.add_argument("--chains", default=",".join(CHAINS).replace("resize:1080,jpeg:85", "resize:1080+jpeg:85"),
                    help="comma-separated chains; '+' joins the steps of one chain")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    from picveil.crypto import Keyring

    photos = br.load_photos()
    from skimage import data as skdata

    for extra in ("coffee",):  # under bench_robust's 0.25 MP floor: a phone crop's size
        if extra not in photos:
            photos[extra] = getattr(skdata, extra)()
    names = [n for n in args.photos.split(",") if n in photos]
    chains = [c.replace("+", ",") for c in args.chains.split(",")]
    keyring = Keyring.open(os.path.join(tempfile.mkdtemp(), "me"), create=True)
    keyring.create_circle("family")
    started = time.perf_counter()
    results = [run_photo(n, photos[n], chains, keyring, br.SEED + i) for i, n in enumerate(names)]
    results = [r for r in results if r is not None]
    print_tables(results, chains, time.perf_counter() - started, args.markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
