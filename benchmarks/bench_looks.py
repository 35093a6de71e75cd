"""Looks side by side (issue 6): gallery images for the README, and a table.

For each look on the bundled sample photo (the face region): the protected
and revealed images (written under docs/looks/), file growth against the
region's share of the file, exactness of the reveal, and, where the
detection extra is installed, whether a face detector still finds the face.

    python benchmarks/bench_looks.py [--out docs/looks] [--markdown]
"""

from __future__ import annotations

import argparse
import io
import time
from importlib.resources import files
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

import picveil
from picveil.crypto import Identity
from picveil.looks import LOOK_IDS, LEAKY

FACE = (150, 10, 155, 175)


def decode(b: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(b)).convert("RGB"))


def face_found(rgb: np.ndarray) -> str:
    try:
        from picveil.regions.detectors import get
    except Exception:
        return "n/a"
    try:
        dets = get("faces").detect(rgb) if hasattr(get("faces"), "detect") else []
    except Exception:
        return "n/a"
    x, y, w, h = FACE
    hit = any(d.box.x < x + w and d.box.x + d.box.w > x and d.box.y < y + h and d.box.y + d.box.h > y for d in dets)
    return "yes" if hit else "no"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("docs/looks"))
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    src = files("picveil").joinpath("data/astronaut.jpg").read_bytes()
    me = Identity.generate()
    area_share = (176 * 192) / (512 * 512)
    rows, tiles = [], []
    for look in LOOK_IDS:
        opts = {"look": look}
        if look in ("fill", "blur", "pixelate", "frost"):
            opts.update(shape="ellipse", feather=8)
        t0 = time.perf_counter()
        prot = picveil.protect(src, [FACE], recipients=[me.recipient], **opts)
        t1 = time.perf_counter()
        rev = picveil.reveal(prot, identities=[me])
        t2 = time.perf_counter()
        exact = np.array_equal(decode(rev), decode(src))
        growth = len(prot) / len(src) - 1
        Image.open(io.BytesIO(prot)).save(args.out / f"{look}.jpg", quality=92)
        tiles.append((look, decode(prot)[0:224, 112:352]))
        rows.append((look, "yes" if look in LEAKY else "no", f"{100 * growth:+.1f}%", f"{growth / area_share:.2f}×",
                     "yes" if exact else "NO", face_found(decode(prot)), f"{1000 * (t1 - t0):.0f}", f"{1000 * (t2 - t1):.0f}"))
    # gallery: original, each look, revealed
    orig = decode(src)[0:224, 112:352]
    cells = [("original", orig)] + tiles + [("revealed (any look)", orig)]
    w, h = orig.shape[1], orig.shape[0] + 22
    sheet = Image.new("RGB", (w * 4, h * ((len(cells) + 3) // 4)), "white")
    d = ImageDraw.Draw(sheet)
    for i, (name, arr) in enumerate(cells):
        x, y = (i % 4) * w, (i // 4) * h
        sheet.paste(Image.fromarray(arr), (x, y + 22))
        d.text((x + 4, y + 4), name, fill="black")
    sheet.save(args.out / "gallery.png")
    head = ("look", "leaky", "file growth", "growth ÷ region share", "exact reveal", "face detected", "protect ms", "reveal ms")
    if args.markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for r in rows:
            print("| " + " | ".join(r) + " |")
    else:
        from rich.console import Console
        from rich.table import Table

        t = Table(title=f"Looks on the sample photo (region = {100 * area_share:.1f}% of the area)")
        for c in head:
            t.add_column(c)
        for r in rows:
            t.add_row(*r)
        Console().print(t)
    print(f"gallery: {args.out / 'gallery.png'}")


if __name__ == "__main__":
    main()
