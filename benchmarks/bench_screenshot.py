"""A screenshot of a protected photo: the picture inside a plain border.

A friend who only has a screenshot of the post (the photo shown smaller, on an
app's plain background) or a repost letterboxed on a plain colour used to get
"no picveil data": the robust header's grid is laid over the whole picture, and
a border of more than about a pixel moves every cell. The reveal now looks for
the picture inside a plain border when the header is not found
(``reveal.picture_frames``) and reveals it there.

For each packaged photo, protected for a circle, every case puts the protected
file and the unprotected one on the same canvas (a border around the photo,
shown at a scale), saves it as the case says, and reveals it. Printed, one
table per run (ratios measured side by side in one run, not a test): per case,
the share of files revealed, and the regions' PSNR against the original shown
the same way: the reveal of the screenshot, the reveal of the same picture
without its border (the bound: what the frame search can reach), and the
unprotected screenshot (**plain**; ∞ for a lossless copy at full size).
Usage::

    python benchmarks/bench_screenshot.py            # 6 photos, 8 cases (about 10 min on 2 cores)
    python benchmarks/bench_screenshot.py --photos retina,aloeL --markdown
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
#: name: (left, top, right, bottom border, colour, scale the photo is shown at, how it is saved[, style])
#: style: "rounded" (corners of radius 24 px, a chat bubble) or "card" (on white, a 2 px outline)
CASES = {
    "PNG, 24 px dark border": ((24, 24, 24, 24), (24, 24, 28), 1.0, "png"),
    "PNG, shown at 75 %, app background": ((31, 120, 31, 260), (245, 245, 245), 0.75, "png"),
    "PNG, shown at 50 %, one side only": ((0, 0, 0, 90), (0, 0, 0), 0.5, "png"),
    "PNG, shown at 60 %, a card with an outline": ((40, 90, 40, 200), (242, 242, 242), 0.6, "png", "card"),
    "JPEG q90, 25 px white border": ((25, 25, 25, 25), (255, 255, 255), 1.0, "jpeg:90"),
    "JPEG q90, shown at 75 %, rounded corners": ((33, 33, 33, 33), (250, 250, 250), 0.75, "jpeg:90", "rounded"),
    "JPEG q80, shown at 60 %, black border": ((17, 17, 17, 17), (0, 0, 0), 0.6, "jpeg:80"),
    "WebP 75, shown at 75 %, app background": ((31, 120, 31, 260), (245, 245, 245), 0.75, "webp:75"),
}


def canvas(rgb: np.ndarray, pads, colour, scale: float, style: str = "") -> np.ndarray:
    """The photo shown at `scale` on a plain `colour` with `pads` around it, in a `style` (:data:`CASES`)."""
    from PIL import Image, ImageDraw

    im = Image.fromarray(rgb)
    if scale != 1.0:
        im = im.resize((round(im.width * scale), round(im.height * scale)), Image.Resampling.LANCZOS)
    left, top, right, bottom = pads
    out = Image.new("RGB", (im.width + left + right, im.height + top + bottom), colour)
    mask = None
    if style == "rounded":
        mask = Image.new("L", im.size, 0)
        ImageDraw.Draw(mask).rounded_rectangle([0, 0, im.width - 1, im.height - 1], 24, fill=255)
    elif style == "card":
        draw = ImageDraw.Draw(out)
        draw.rectangle([left - 14, top - 14, left + im.width + 13, top + im.height + 13], fill=(225, 225, 225))
        draw.rectangle([left - 12, top - 12, left + im.width + 11, top + im.height + 11], fill=(255, 255, 255))
    out.paste(im, (left, top), mask)
    return np.asarray(out)


def save(rgb: np.ndarray, how: str) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    kind, _, q = how.partition(":")
    if kind == "png":
        Image.fromarray(rgb).save(buf, "PNG")
    else:
        Image.fromarray(rgb).save(buf, "JPEG" if kind == "jpeg" else "WEBP", quality=int(q))
    return buf.getvalue()


def run_photo(name: str, rgb: np.ndarray, keyring, seed: int) -> list[dict]:
    from picveil import errors
    from picveil.robust.errors import HeaderDamagedError
    from picveil.robust.reveal import reveal_pixels

    h, w = rgb.shape[:2]
    src = br.source_jpeg(rgb)
    got = br.protect_fitting(src, w, h, np.random.default_rng(seed), keyring)
    if got is None:
        print(f"  {name}: no header fits; skipped", file=sys.stderr)
        return []
    prot, report, _ = got
    boxes = [(r.box.x, r.box.y, r.box.w, r.box.h) for r in report.regions]
    protected, original = br.decode(prot), br.decode(src)
    rows = []
    for case, (pads, colour, scale, how, *style) in CASES.items():
        left, top = pads[:2]
        shown = canvas(original, pads, colour, scale, *style)
        ref = shown[top:, left:][: round(h * scale), : round(w * scale)]
        sc = br.scaled(boxes, ref.shape[1] / w, ref.shape[0] / h)
        plain = br.decode(save(shown, how))[top:, left:][: ref.shape[0], : ref.shape[1]]
        row = {"photo": name, "mp": w * h / 1e6, "case": case,
               "plain": br.region_scores(plain, ref, sc)[0] if how != "png" or scale != 1.0 else float("inf")}
        shot = canvas(protected, pads, colour, scale, *style)
        bare = shot[top:, left:][: ref.shape[0], : ref.shape[1]]
        for arm, data in (("screenshot", save(shot, how)), ("no border", save(bare, how))):
            try:
                out, _ = reveal_pixels(data, keyring=keyring)
            except (errors.NoPicveilDataError, HeaderDamagedError) as exc:
                row[arm] = None
                row[arm + " error"] = type(exc).__name__
                continue
            if arm == "screenshot":
                out = out[top:, left:][: ref.shape[0], : ref.shape[1]]
            row[arm] = br.region_scores(out, ref, sc)[0]
        rows.append(row)
        print(f"  {name:18s} {case:42s} " + " ".join(
            f"{k} {row[k]:6.2f}" if row.get(k) is not None else f"{k} {row.get(k + ' error')}"
            for k in ("plain", "screenshot", "no border")), file=sys.stderr, flush=True)
    return rows


def print_table(rows: list[dict], elapsed: float, markdown: bool) -> None:
    heads = ["case", "files", "revealed", "screenshot PSNR", "same without border", "plain PSNR", "screenshot − plain dB"]
    body = []
    for case in CASES:
        got = [r for r in rows if r["case"] == case]
        if not got:
            continue
        ok = [r for r in got if r["screenshot"] is not None]
        both = [r for r in ok if r["no border"] is not None]
        lossy = [r for r in ok if np.isfinite(r["plain"])]
        body.append([
            case, str(len(got)), f"{100 * len(ok) / len(got):.0f}%",
            f"{np.mean([r['screenshot'] for r in ok]):.2f}" if ok else "–",
            f"{np.mean([r['no border'] for r in both]):.2f} ({len(both)})" if both else "–",
            f"{np.mean([r['plain'] for r in got]):.2f}" if all(np.isfinite(r["plain"]) for r in got) else "∞",
            f"{np.mean([r['screenshot'] - r['plain'] for r in lossy]):+.2f}" if lossy else "–",
        ])
    photos = sorted({(r["photo"], r["mp"]) for r in rows}, key=lambda p: p[1])
    print(f"### A screenshot of a protected photo (the picture inside a plain border): {len(photos)} photos "
          f"({photos[0][1]:.2f}-{photos[-1][1]:.2f} MP), 1-4 regions each; {elapsed:.0f} s\n")
    br.print_grid(heads, body, markdown)
    print()
    print("* PSNR of the regions against the original shown the same way; before this change no screenshot revealed")
    missed = [f"{r['photo']} {r['case']} ({r['screenshot error']})" for r in rows if r["screenshot"] is None]
    print("* not revealed: " + (", ".join(missed) if missed else "none"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--photos", default=",".join(PHOTOS), help="comma-separated packaged photo names")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    photos = br.load_photos()
    names = [n for n in args.photos.split(",") if n in photos]
    keyring = br.family_keyring()
    started = time.perf_counter()
    rows = [row for i, n in enumerate(names) for row in run_photo(n, photos[n], keyring, br.SEED + i)]
    print_table(rows, time.perf_counter() - started, args.markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
