"""Region thumbnails in the robust header (issue 6, req. 3): quality against capacity.

For real photos (scikit-image's astronaut, coffee, chelsea, rocket) upscaled
to about 1, 2, 5 and 12 megapixels, with 1 or 3 regions of about face size,
protected with a painted look (``fill``) for a circle: the robust header's
size without thumbnails, the thumbnail bytes per region and per megapixel,
and what a friend sees of each region after the platform stripped the
container (strip + JPEG q85; resize to 1080 + JPEG q75): PSNR / SSIM of the
low-resolution copy against the original region, next to the painted look
alone (what reveal showed before thumbnails). A last table compares the
codec with a plain YCbCr grid (4-bit luma, 3-bit half-resolution chroma) at
the same size, which is why the spec uses a DCT code (SPEC.md §13.7.2).

    python benchmarks/bench_thumbnail.py [--quick] [--look fill]
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time

import numpy as np
from PIL import Image

from picveil import api
from picveil.crypto import Keyring
from picveil.platforms.simulate import parse_chain
from picveil.robust import extract_from_jpeg, thumbnail
from picveil.robust import header as rh
from picveil.robust import reveal as rv

#: Regions as fractions (x, y, w, h) of the image: a face-sized first region
#: (about 1/4 of the short side), then two smaller ones.
REGIONS = {
    "astronaut": [(0.33, 0.06, 0.22, 0.30), (0.70, 0.55, 0.12, 0.14), (0.05, 0.60, 0.12, 0.14)],
    "coffee": [(0.33, 0.20, 0.16, 0.26), (0.70, 0.55, 0.10, 0.14), (0.05, 0.08, 0.10, 0.14)],
    "chelsea": [(0.25, 0.10, 0.22, 0.35), (0.70, 0.55, 0.10, 0.15), (0.05, 0.70, 0.10, 0.15)],
    "rocket": [(0.40, 0.10, 0.14, 0.22), (0.70, 0.60, 0.10, 0.14), (0.05, 0.60, 0.10, 0.14)],
}
SIZES_MP = (1, 2, 5, 12)
CHAINS = ("jpeg:85", "resize:1080,jpeg:75")


def _jpeg(rgb: np.ndarray, quality: int = 92) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=quality, subsampling=2)
    return buf.getvalue()


def _decode(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))


def _psnr(a, b) -> float:
    mse = float(np.mean((np.asarray(a, float) - np.asarray(b, float)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def _ssim(a, b) -> float:
    from skimage.metrics import structural_similarity

    return float(structural_similarity(a, b, channel_axis=-1, data_range=255))


def _photo(name: str, mp: float) -> np.ndarray:
    from skimage import data

    rgb = getattr(data, name)()
    h, w = rgb.shape[:2]
    s = (mp * 1e6 / (w * h)) ** 0.5
    size = (round(w * s / 16) * 16, round(h * s / 16) * 16)
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.LANCZOS))


def _boxes(name: str, n: int, width: int, height: int) -> list[tuple[int, int, int, int]]:
    out = []
    for fx, fy, fw, fh in REGIONS[name][:n]:
        x, y = int(fx * width) // 16 * 16, int(fy * height) // 16 * 16
        out.append((x, y, max(16, int(fw * width) // 16 * 16), max(16, int(fh * height) // 16 * 16)))
    return out


def _scaled(box, sx, sy):
    x, y, w, h = box
    x0, y0 = round(x * sx), round(y * sy)
    return x0, y0, round((x + w) * sx) - x0, round((y + h) * sy) - y0


def _crop(img, box):
    x, y, w, h = box
    return img[y : y + h, x : x + w]


def _grid(region: np.ndarray, size: int) -> np.ndarray:
    """A YCbCr grid (luma 4 bits, chroma at half resolution 3 bits) of at most `size` bytes, bicubic up."""
    from picveil.jpeg.pixels import rgb_to_ycbcr, ycbcr_to_rgb

    h, w = region.shape[:2]
    dims = None
    for n in range(2, 128):
        gw, gh = n, max(1, round(n * h / w))
        cw, ch = max(1, gw // 2), max(1, gh // 2)
        if gw * gh * 4 + cw * ch * 6 <= 8 * size:
            dims = gw, gh, cw, ch
    gw, gh, cw, ch = dims
    ycc = rgb_to_ycbcr(region)

    def down(a, s):
        return np.asarray(Image.fromarray(a.astype(np.float32)).resize(s, Image.Resampling.BOX), dtype=np.float64)

    def up(a):
        return np.asarray(Image.fromarray(a.astype(np.float32)).resize((w, h), Image.Resampling.BICUBIC), dtype=np.float64)

    y = np.round(down(ycc[..., 0], (gw, gh)) / 17) * 17
    cs = [np.clip(np.round((down(ycc[..., i], (cw, ch)) - 128) / 8), -4, 3) * 8 + 128 for i in (1, 2)]
    return ycbcr_to_rgb(np.stack([up(y), up(cs[0]), up(cs[1])], axis=-1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2 photos, 1 and 5 MP")
    ap.add_argument("--look", default="fill")
    args = ap.parse_args()
    names = list(REGIONS)[:2] if args.quick else list(REGIONS)
    sizes = (1, 5) if args.quick else SIZES_MP

    d = tempfile.mkdtemp()
    me = Keyring.open(f"{d}/me", create=True)
    friend = Keyring.open(f"{d}/friend", create=True)
    me.create_circle("family")
    friend.import_circle(me.share_circle("family", [friend.recipient]))

    head = (
        f"{'photo':<10}{'MP':>5}{'reg':>4}{'share':>7}{'hdr B':>6}{'thumb B/reg':>12}{'B/MP':>6}{'bits/px':>8}"
        + "".join(f" | {c[:14]:^14} thumb  vs  {args.look}" for c in CHAINS)
    )
    sub = " " * 48 + "".join(" | PSNR  SSIM      PSNR  SSIM " + " " * 8 for _ in CHAINS)
    print(f"look {args.look!r}; region PSNR (dB) / SSIM against the original region (same resize), mean over regions")
    print(head)
    print(sub)
    gains = []
    t0 = time.time()
    for name in names:
        for mp in sizes:
            rgb = _photo(name, mp)
            height, width = rgb.shape[:2]
            src = _jpeg(rgb)
            for n in (1, 3):
                boxes = _boxes(name, n, width, height)
                out, rep, _ = api._protect(src, boxes, circle="family", keyring=me, look=args.look)
                hdr = rh.RobustHeader.from_bytes(extract_from_jpeg(out))
                base = len(rh.RobustHeader(**{**hdr.__dict__, "regions": tuple(
                    rh.RegionEntry(r.x, r.y, r.w, r.h, r.group, r.look, r.params) for r in hdr.regions)}).to_bytes())
                thumbs = [len(r.thumbnail) for r in hdr.regions]
                share = sum(w * h for _, _, w, h in boxes) / (width * height)
                region_px = sum(w * h for _, _, w, h in boxes)
                cells = []
                for chain in CHAINS:
                    recv = parse_chain(chain).run(out)
                    got = _decode(recv)
                    rw, rhh = got.shape[1], got.shape[0]
                    ref = rgb if (rw, rhh) == (width, height) else np.asarray(
                        Image.fromarray(rgb).resize((rw, rhh), Image.Resampling.LANCZOS))
                    sx, sy = rw / width, rhh / height
                    try:
                        shown, prep = rv.reveal_pixels(recv, keyring=friend)
                        ok = len(prep.low_res)
                    except Exception as exc:  # header lost on this chain
                        shown, ok = None, f"lost ({type(exc).__name__})"
                    t_p, t_s, p_p, p_s = [], [], [], []
                    for b in boxes:
                        sb = _scaled(b, sx, sy)
                        o = _crop(ref, sb)
                        p_p.append(_psnr(_crop(got, sb), o))
                        p_s.append(_ssim(_crop(got, sb), o))
                        if shown is not None:
                            t_p.append(_psnr(_crop(shown, sb), o))
                            t_s.append(_ssim(_crop(shown, sb), o))
                    if shown is None:
                        cells.append(f" | {'header ' + str(ok):<22}{np.mean(p_p):6.1f} {np.mean(p_s):5.2f}       ")
                    else:
                        gains.append(np.mean(t_p) - np.mean(p_p))
                        cells.append(
                            f" | {np.mean(t_p):5.1f} {np.mean(t_s):5.2f}{'' if ok == n else '*':1}    "
                            f"{np.mean(p_p):6.1f} {np.mean(p_s):5.2f}       "
                        )
                tb = [t for t in thumbs if t]
                print(
                    f"{name:<10}{width * height / 1e6:5.1f}{n:>4}{100 * share:6.1f}%{base:>6}"
                    f"{(f'{np.mean(tb):.0f}' if tb else '0'):>12}{sum(thumbs) / (width * height / 1e6):6.0f}"
                    f"{8 * sum(thumbs) / region_px:8.4f}" + "".join(cells),
                    flush=True,
                )
    print(f"\nmean PSNR gain of the low-resolution copy over the look alone: {np.mean(gains):+.1f} dB "
          f"({len(gains)} image x chain pairs); '*': some region showed no copy; {time.time() - t0:.0f} s")

    print("\nCodec choice at equal size (first region of each photo at 2 MP, original pixels, no platform):")
    print(f"{'photo':<10}{'bytes':>6}{'DCT (spec)':>12}{'YCbCr grid':>12}{'mean only':>11}")
    for name in names:
        rgb = _photo(name, 2)
        box = _boxes(name, 1, rgb.shape[1], rgb.shape[0])[0]
        reg = _crop(rgb, box).astype(np.float64)
        mean = np.broadcast_to(reg.mean(axis=(0, 1)), reg.shape)
        for size in (32, 100, 300):
            dct = np.clip(thumbnail.decode(thumbnail.encode(reg, size), *reg.shape[:2]), 0, 255)
            grid = np.clip(_grid(reg, size), 0, 255)
            print(f"{name:<10}{size:>6}{_psnr(dct, reg):12.2f}{_psnr(grid, reg):12.2f}{_psnr(mean, reg):11.2f}")


if __name__ == "__main__":
    main()
