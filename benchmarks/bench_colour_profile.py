"""A photo in a wide colour space, protected for a circle, through a network that converts it to sRGB.

Every iPhone photo since 2016 is tagged Display P3, and many cameras' and
editors' exports Adobe RGB. Networks colour-manage uploads: most convert such a
photo to sRGB and drop the profile, a non-linear change of every pixel (27 to
30 dB on a saturated photo in Adobe RGB). picveil's robust header lives in the
pixels; protect used to keep the photo's profile, and the conversion then
erased the header (no reveal at all) or, where the header survived, garbled
the scrambled regions. protect now puts such a photo in sRGB first when it is
for circles (``colour="auto"``), so the network has nothing to convert.

For each packaged photo, its pixels are taken as Display P3 and as Adobe RGB
(a JPEG q92 tagged with the profile: what a phone or a camera writes), the same
boxes are protected both ways, ``auto`` (converted) and ``keep`` (as before),
every chain is simulated, and the friend reveals from the pixels. Printed,
one table per run (ratios measured side by side in one run, not a test): per
colour space and chain, the regions' PSNR against the original put in sRGB for
the unprotected photo through the same chain (**plain**, the physical limit),
and for each arm the share of files whose header was found and revealed and
the mean gap to plain of those it revealed.
Usage::

    python benchmarks/bench_colour_profile.py            # 6 photos, 2 spaces, 3 chains (about 10 min on 2 cores)
    python benchmarks/bench_colour_profile.py --photos retina,aloeL --chains facebook --markdown
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_robust as br  # noqa: E402  (photos, boxes and scores shared with the platform benchmark)

PHOTOS = ("retina", "aloeL", "scenetext02", "graf1", "hubble_deep_field", "ela_original")
#: converting chains: the network's conversion, then what it re-encodes to (``facebook`` also resizes)
CHAINS = ("srgb,strip,jpeg:85", "srgb,strip,jpeg:75", "srgb,strip,webp:75")
ARMS = ("auto", "keep")


def spaces() -> dict[str, bytes]:
    from picveil.jpeg.colour import adobe_rgb, display_p3

    return {"Display P3": display_p3(), "Adobe RGB": adobe_rgb()}


def tagged_jpeg(rgb: np.ndarray, icc: bytes) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=92, subsampling=2, icc_profile=icc)
    return buf.getvalue()


def run_photo(name: str, rgb: np.ndarray, chains, keyring, seed: int) -> list[dict]:
    """Both colour spaces of one photo: protect both ways with the same boxes, every chain, reveal."""
    from PIL import Image

    from picveil import api, errors
    from picveil.jpeg.colour import to_srgb
    from picveil.platforms.simulate import parse_chain
    from picveil.robust.errors import HeaderDamagedError
    from picveil.robust.reveal import reveal_pixels

    h, w = rgb.shape[:2]
    rows = []
    for space, icc in spaces().items():
        src = tagged_jpeg(rgb, icc)
        original = np.asarray(to_srgb(Image.open(io.BytesIO(src)).convert("RGB"), icc))
        rng = np.random.default_rng(seed)
        for _ in range(20):  # boxes whose header fits beside them
            boxes = br.random_boxes(w, h, rng)
            prot = {arm: api._protect(src, boxes, circle="family", keyring=keyring, colour=arm)[:2] for arm in ARMS}
            if not any("sRGB" not in x for _, r in prot.values() for x in r.warnings):
                break
        snapped = [(r.box.x, r.box.y, r.box.w, r.box.h) for r in prot["auto"][1].regions]
        for spec in chains:
            chain = parse_chain(spec)
            plain = br.decode(chain.run(src))
            rh, rw = plain.shape[:2]
            if (rh, rw) != (h, w):  # a chain that resizes: against the original put in sRGB, resized
                buf = io.BytesIO()
                Image.fromarray(original).save(buf, "PNG")
                ref = br.decode(parse_chain(f"resize:{max(rh, rw)}").run(buf.getvalue()))
            else:
                ref = original
            sc = br.scaled(snapped, rw / w, rh / h)
            row = {"photo": name, "mp": w * h / 1e6, "space": space, "chain": spec, "plain": br.region_scores(plain, ref, sc)[0]}
            for arm in ARMS:
                try:
                    out, _ = reveal_pixels(chain.run(prot[arm][0]), keyring=keyring)
                    row[arm] = br.region_scores(out, ref, sc)[0]
                except (errors.NoPicveilDataError, HeaderDamagedError) as exc:
                    row[arm] = None
                    row[arm + " error"] = type(exc).__name__
            rows.append(row)
            print(f"  {name:18s} {space:10s} {spec:20s} plain {row['plain']:6.2f} "
                  + " ".join(f"{a} {row[a]:6.2f}" if row[a] is not None else f"{a} {row[a + ' error']}" for a in ARMS),
                  file=sys.stderr, flush=True)
    return rows


def print_tables(rows: list[dict], chains, elapsed: float, markdown: bool) -> None:
    photos = sorted({(r["photo"], r["mp"]) for r in rows}, key=lambda p: p[1])
    print(f"### A wide-gamut photo for a circle through a network that converts it to sRGB: {len(photos)} photos "
          f"({photos[0][1]:.2f}-{photos[-1][1]:.2f} MP), 1-4 regions each; {elapsed:.0f} s\n")
    body = []
    for space in spaces():
        for spec in chains:
            got = [r for r in rows if r["space"] == space and r["chain"] == spec]
            if not got:
                continue
            cells = []
            for arm in ARMS:
                ok = [r for r in got if r[arm] is not None]
                gap = f"{np.mean([r[arm] - r['plain'] for r in ok]):+.2f}" if ok else "–"
                worst = f"{min(r[arm] - r['plain'] for r in ok):+.2f}" if ok else "–"
                cells += [f"{100 * len(ok) / len(got):.0f}%", gap, worst]
            body.append([space, spec, str(len(got)), f"{np.mean([r['plain'] for r in got]):.2f}", *cells])
    br.print_grid(["colour space", "chain", "files", "plain PSNR", "auto: revealed", "auto: gap dB", "auto: worst",
                   "keep: revealed", "keep: gap dB (revealed)", "keep: worst"], body, markdown)
    print()
    print("* auto: put in sRGB before protection (picveil's default for circles); keep: the photo's profile kept (before)")
    print("* keep, not revealed: " + (", ".join(
        f"{r['photo']} {r['space']} {r['chain']} ({r['keep error']})" for r in rows if r["keep"] is None) or "none"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--photos", default=",".join(PHOTOS), help="comma-separated packaged photo names")
    ap.add_argument("--chains", default=";".join(CHAINS), help="semicolon-separated chains (presets or steps)")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    photos = br.load_photos()
    names = [n for n in args.photos.split(",") if n in photos]
    chains = args.chains.split(";")
    keyring = br.family_keyring()
    started = time.perf_counter()
    rows = [row for i, n in enumerate(names) for row in run_photo(n, photos[n], chains, keyring, br.SEED + i)]
    print_tables(rows, chains, time.perf_counter() - started, args.markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
