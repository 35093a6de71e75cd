"""Small photos: does the robust in-image header fit, and does it survive?

A robust header (robust/SPEC.md) needs room outside the protected regions.
The writer's default grid has cells of at least 12 pixels; when the header
does not fit there, it falls back to finer grids (down to 7-pixel cells,
with error correction sized for their higher error rate, SPEC §9 step 1).
This benchmark measures what that buys on small photos, where it matters:

* packaged photos (scikit-image, scikit-learn, Debian's opencv-doc)
  resized to long edges of 320-768 pixels (0.07-0.45 MP), each with one
  centred region covering 10 % or 25 % of the picture, protected for a
  circle through ``picveil.api``;
* per size: the share of photos whose header fits outside the region **on
  the default grid** (what the writer did before the fallback) and **with
  the fallback**, the share where it had to go **over the region** (SPEC
  §10: the reveal takes it out again), the cell size used, and the **recovery rate** of the exact header after JPEG
  q30 (Pillow), q40 (OpenCV), q75, WebP 50 and a PNG copy; a wrong payload
  or a refusal counts as a failure.

Printed as one table per run (STYLE.md point 10: rates measured side by
side, not a timed test). Usage::

    python benchmarks/bench_header_small.py            # 2 region shares, 6 sizes
    python benchmarks/bench_header_small.py --quick    # 25 % regions, 3 sizes
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

#: Long edges (pixels) the photos are resized to, and the regions' share of the picture.
EDGES = (768, 640, 512, 448, 384, 320)
QUICK_EDGES = (640, 448, 320)
SHARES = (0.10, 0.25)
#: The chains a friend's download may have gone through (strip first).
CHAINS = ("jpeg:30", "jpeg:40:opencv", "jpeg:75", "webp:50", "png")
SOURCE_QUALITY = 92


def photos() -> dict[str, np.ndarray]:
    """The colour photos of bench_robust (packaged data only), by name."""
    from bench_robust import load_photos

    return {k: v for k, v in load_photos().items() if v.ndim == 3}


def resized(rgb: np.ndarray, edge: int) -> np.ndarray:
    from PIL import Image

    h, w = rgb.shape[:2]
    s = edge / max(h, w)
    return np.asarray(Image.fromarray(rgb).resize((max(1, round(w * s)), max(1, round(h * s))), Image.Resampling.LANCZOS))


def centred_box(w: int, h: int, share: float) -> tuple[int, int, int, int]:
    bw, bh = int(w * share**0.5), int(h * share**0.5)
    return (w - bw) // 2, (h - bh) // 2, bw, bh


def run(edges, shares) -> list[dict]:
    from PIL import Image

    from picveil import api
    from picveil.crypto import Keyring
    from picveil.platforms.simulate import parse_chain
    from picveil.robust import embedder
    from picveil.robust.extractor import extract_report
    from picveil.robust.header import RobustHeader
    from picveil.robust.reveal import _header_grid_in_regions

    home = tempfile.mkdtemp(prefix="pv-small-")
    me = Keyring.open(os.path.join(home, "me"), create=True)
    me.create_circle("family")
    rows = []
    for share in shares:
        for edge in edges:
            for name, rgb in photos().items():
                px = resized(rgb, edge)
                h, w = px.shape[:2]
                buf = io.BytesIO()
                Image.fromarray(px).save(buf, "JPEG", quality=SOURCE_QUALITY)
                box = centred_box(w, h, share)
                prot, report, _ = api._protect(buf.getvalue(), [box], circle="family", keyring=me)
                snapped = [(r.box.x, r.box.y, r.box.w, r.box.h) for r in report.regions]
                row = {"share": share, "edge": edge, "name": name, "mp": w * h / 1e6, "chains": {}}
                written = not any("No robust" in m for m in report.warnings)
                row["written"] = written
                if written:
                    found = extract_report(np.asarray(Image.open(io.BytesIO(prot)).convert("RGB")))
                    payload = found.payload
                    default = embedder.plan(w, h, snapped, (16, 16))
                    row["default_fits"] = default is not None and embedder.choose_parity(default, len(payload)) is not None
                    row["cell_px"] = found.cell_px
                    header = RobustHeader.from_bytes(payload)
                    row["over"] = _header_grid_in_regions(header, len(payload), found.grid) is not None
                    for spec in CHAINS:
                        got = parse_chain("strip," + spec).run(prot)
                        try:
                            ok = extract_report(np.asarray(Image.open(io.BytesIO(got)).convert("RGB"))).payload == payload
                        except Exception:  # noqa: BLE001 - NoPicveilDataError / HeaderDamagedError: a failure
                            ok = False
                        row["chains"][spec] = ok
                else:
                    row["default_fits"] = row["over"] = False
                rows.append(row)
    return rows


def table(rows: list[dict], markdown: bool) -> str:
    head = ["region", "long edge", "MP", "photos", "outside: default grid", "outside: with fallback", "over the region", "cell px"] + list(CHAINS)
    lines = []
    sep = " | " if markdown else "  "
    lines.append(sep.join(head))
    if markdown:
        lines.append("|".join(["---"] * len(head)))
    for share in sorted({r["share"] for r in rows}):
        for edge in sorted({r["edge"] for r in rows if r["share"] == share}, reverse=True):
            group = [r for r in rows if r["share"] == share and r["edge"] == edge]
            n = len(group)
            written = [r for r in group if r["written"]]
            cells = [r["cell_px"] for r in written]
            rec = []
            for spec in CHAINS:
                ok = sum(r["chains"][spec] for r in written)
                rec.append(f"{ok}/{len(written)}" if written else "-")
            line = [
                f"{share:.0%}",
                str(edge),
                f"{np.mean([r['mp'] for r in group]):.2f}",
                str(n),
                f"{sum(r['default_fits'] for r in group)}/{n}",
                f"{sum(r['written'] and not r['over'] for r in group)}/{n}",
                f"{sum(r['over'] for r in group)}/{n}",
                f"{min(cells):.1f}-{max(cells):.1f}" if cells else "-",
            ] + rec
            lines.append(sep.join(line))
    if markdown:
        lines = ["| " + ln + " |" if i != 1 else "|" + ln + "|" for i, ln in enumerate(lines)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="25 %% regions, 3 sizes")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    t0 = time.perf_counter()
    rows = run(QUICK_EDGES if args.quick else EDGES, (0.25,) if args.quick else SHARES)
    print("Robust header on small photos: fits outside the region on the default grid (cells >= 12 px) / with")
    print("the finer-grid fallback (cells >= 7 px) / goes over the region; cell size; exact recovery per chain.")
    print(table(rows, args.markdown))
    total = sum(len(r["chains"]) for r in rows)
    ok = sum(sum(r["chains"].values()) for r in rows)
    print(f"\n{len(rows)} protects, {ok}/{total} recoveries, {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
