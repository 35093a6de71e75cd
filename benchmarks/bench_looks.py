"""Looks side by side (issue 6): gallery images for the README, and a table.

For each look on the bundled sample photo (the face region): the protected
and revealed images (written under docs/looks/), file growth against the
region's share of the file, exactness of the reveal, and:

* where the identify and detect extras are installed, the checks on real
  faces of :mod:`picveil.audit.faces`: does CenterFace, OpenCV's Haar
  cascade or dlib's CNN still find the face (IoU >= 0.3 with its tight box),
  and the dlib embedding distance between the original and the protected
  face (below 0.6: the same person to dlib);
* what a friend can still reveal after a platform chain stripped the
  container (``jpeg:85``; ``resize:1080,jpeg:75``): the photo is protected
  for a circle, so the robust in-image header is written (painted looks
  carry an encrypted low-resolution copy in it; scramble is inverted from
  the pixels), and ``picveil.reveal`` runs on what the platform delivered.
  Cells give the PSNR (dB) of the revealed region against the original
  region (resized as the platform resized), and after "/" that of the
  received look itself. The 512 × 512 sample has too little room outside
  the region for the header, so these columns use the sample upscaled to
  :data:`CHAIN_SIDE` pixels square (about 2 MP, as shared photos are).

    python benchmarks/bench_looks.py [--out docs/looks] [--markdown]
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from importlib.resources import files
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

import picveil
from picveil.crypto import Identity, Keyring
from picveil.platforms.simulate import parse_chain
from picveil.looks import LOOK_IDS, LEAKY

FACE = (150, 10, 155, 175)
#: Platform chains a friend's copy goes through, and the side of the upscaled sample they run on.
CHAINS = ("jpeg:85", "resize:1080,jpeg:75")
CHAIN_SIDE = 1440


def decode(b: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(b)).convert("RGB"))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


class FaceChecks:
    """The audit's checks on real faces for the sample's face, or ``None`` columns without the extras."""

    def __init__(self, src: bytes) -> None:
        self.why = None
        try:
            from picveil.audit import faces
            from picveil.regions.identify import embed_faces
            from picveil.regions.region import Box

            self._faces = faces
            self.detectors = faces.load_detectors()
            face = faces.largest_face(src)
            if face is None:
                raise RuntimeError("CenterFace finds no face in the sample")
            rgb = decode(src)
            self.photo = faces.FacePhoto("astronaut", "picveil/data/astronaut.jpg", src, rgb, face, Box(*FACE))
            self.reference = embed_faces(rgb, [face])[0]
        except Exception as exc:  # a missing extra: the columns say n/a
            self.detectors, self.why = None, f"{type(exc).__name__}: {exc}"

    def cells(self, protected: np.ndarray, look: str) -> tuple[str, str, str, str]:
        if self.detectors is None:
            return ("n/a",) * 4
        c = self._faces.check_image(self.detectors, self.photo, protected, look, reference=self.reference)
        yn = lambda hit: "yes" if hit else "no"  # noqa: E731
        cf = f"yes ({c.centerface_score:.2f})" if c.centerface else "no"
        return cf, yn(c.haar), yn(c.dlib_cnn), f"{c.distance:.3f}"


def upscaled(src: bytes, side: int) -> tuple[bytes, tuple[int, int, int, int]]:
    """The sample upscaled (Lanczos) to ``side`` × ``side`` as a q92 JPEG, and FACE mapped onto it."""
    img = Image.open(io.BytesIO(src)).convert("RGB")
    s = side / img.width
    buf = io.BytesIO()
    img.resize((side, side), Image.Resampling.LANCZOS).save(buf, "JPEG", quality=92)
    x, y, w, h = FACE
    return buf.getvalue(), (round(x * s), round(y * s), round(w * s), round(h * s))


def after_chains(big: bytes, box: tuple[int, int, int, int], opts: dict, keyring) -> list[str]:
    """For each chain: "revealed PSNR / received look PSNR" of the region (dB), or why nothing was revealed."""
    orig = decode(big)
    prot = picveil.protect(big, [box], circle="family", keyring=keyring, **opts)
    out = []
    for spec in CHAINS:
        recv = parse_chain(spec).run(prot)
        got = decode(recv)
        ref = orig if got.shape == orig.shape else np.asarray(
            Image.fromarray(orig).resize((got.shape[1], got.shape[0]), Image.Resampling.LANCZOS))
        sx, sy = got.shape[1] / orig.shape[1], got.shape[0] / orig.shape[0]
        x, y, w, h = box
        x0, y0, x1, y1 = round(x * sx), round(y * sy), round((x + w) * sx), round((y + h) * sy)
        look_db = psnr(got[y0:y1, x0:x1], ref[y0:y1, x0:x1])
        try:
            shown = decode(picveil.reveal(recv, keyring=keyring))
        except Exception as exc:  # the header did not survive this chain
            out.append(f"lost ({type(exc).__name__}) / {look_db:.1f}")
            continue
        out.append(f"{psnr(shown[y0:y1, x0:x1], ref[y0:y1, x0:x1]):.1f} / {look_db:.1f}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("docs/looks"))
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    src = files("picveil").joinpath("data/astronaut.jpg").read_bytes()
    me = Identity.generate()
    checks = FaceChecks(src)
    keyring = Keyring.open(Path(tempfile.mkdtemp(prefix="bench-looks-")) / "keyring", create=True)
    keyring.create_circle("family")
    big, big_box = upscaled(src, CHAIN_SIDE)
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
                     "yes" if exact else "NO", *checks.cells(decode(prot), look),
                     *after_chains(big, big_box, opts, keyring), f"{1000 * (t1 - t0):.0f}", f"{1000 * (t2 - t1):.0f}"))
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
    head = ("look", "leaky", "file growth", "growth ÷ region share", "exact reveal",
            "CenterFace hit", "Haar hit", "dlib-CNN hit", "embedding distance",
            *(f"after {c}: reveal / look dB" for c in CHAINS), "protect ms", "reveal ms")
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
    if checks.why:
        print(f"face checks n/a: {checks.why}")
    print(f"face checks: hit = IoU >= 0.3 with the tight face box; distance: dlib embedding, < 0.6 = same person. "
          f"Chains run on the sample upscaled to {CHAIN_SIDE}x{CHAIN_SIDE}, protected for a circle.")
    print(f"gallery: {args.out / 'gallery.png'}")


if __name__ == "__main__":
    main()
