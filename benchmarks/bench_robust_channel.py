"""Benchmark the robust in-image header against what platforms do to photos.

Prints tables measured in one run (STYLE.md point 10: rates, not timed tests):

* **recovery**: for every platform chain (JPEG Q 95..30 through Pillow and
  OpenCV, progressive, WebP 90/75/50, PNG, downscales to 2048 and 1080 px
  long edge then JPEG), the share of protected photos whose header is
  extracted exactly, per size class; a wrong payload would count as a
  failure, a refusal (``NoPicveilDataError`` / ``HeaderDamagedError``) too;
* **cost**: payload size, capacity, grid, and PSNR of the embedding outside
  the regions;
* **false positives**: extraction on the unprotected originals;
* **seed 003**: the 1024-bit / QF 20-40 claim on 512 x 512 grayscale.

Photos come from packaged data only: scikit-image, scikit-learn's sample
images and Debian's ``opencv-doc`` examples (found with ``dpkg -L``; skipped
if the package is absent). Large frames (4 and 12 MP) are mosaics of those
photos, upscaled at most twice, with seeded sensor noise, because no
packaged photo is larger than 2 MP. Regions are 1-4 boxes scrambled like
scramble-v1 (block permutation and sign flips, seeded). Usage::

    python benchmarks/bench_robust_channel.py            # everything
    python benchmarks/bench_robust_channel.py --quick    # fewer photos and chains
    python benchmarks/bench_robust_channel.py --payload 200
"""

from __future__ import annotations

import argparse
import io
import math
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np

#: Seed of everything random (boxes, payloads, noise, scrambling keys).
SEED = 20260601
#: JPEG settings of the photo before protection.
SOURCE_QUALITY = 92
#: Payload bytes: a header with 2 regions (the lead's format is about 40 + 36 per region).
PAYLOAD_BYTES = 120
#: Mosaic frames: megapixels, aspect, most upscaling of a tile, sensor noise sigma.
LARGE_MP = (4, 12)
ASPECT = 4 / 3
MAX_UPSCALE, NOISE_SIGMA = 2.0, 2.0
#: Share of the image covered by regions: drawn uniformly from this range.
REGION_SHARE = (0.05, 0.35)
#: Fewest payload bytes a case must be able to carry (regions are redrawn until it can).
MIN_PAYLOAD = 12
#: Photos smaller than this (pixels) are left out (they carry too little).
MIN_PIXELS = 150_000

OPENCV_DOC = "/usr/share/doc/opencv-doc/examples/"
OPENCV_PHOTOS = (
    "data/aloeL.jpg", "data/aloeR.jpg", "text/scenetext05.jpg", "text/scenetext02.jpg",
    "text/scenetext04.jpg", "data/building.jpg", "data/starry_night.jpg", "data/leuvenA.jpg",
    "data/ela_original.jpg", "data/pca_test1.jpg", "text/scenetext01.jpg", "data/graf1.png",
    "data/board.jpg", "data/aero1.jpg", "data/stuff.jpg", "data/baboon.jpg", "data/fruits.jpg",
    "data/home.jpg", "data/messi5.jpg", "data/orange.jpg",
)
SKIMAGE_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry", "retina", "camera")


# --- photos -------------------------------------------------------------------------------
def load_photos() -> dict[str, np.ndarray]:
    """Every packaged photo available here, ``uint8`` RGB (or gray), by name."""
    from PIL import Image
    from skimage import data as skdata

    out = {n: getattr(skdata, n)() for n in SKIMAGE_PHOTOS}
    try:
        from sklearn.datasets import load_sample_images

        for name, im in zip(("china", "flower"), load_sample_images().images):
            out[name] = im
    except ImportError:
        pass
    if os.path.isdir(OPENCV_DOC):
        for rel in OPENCV_PHOTOS:
            path = OPENCV_DOC + rel
            if os.path.exists(path):
                with Image.open(path) as im:
                    out[os.path.splitext(os.path.basename(rel))[0]] = np.asarray(im.convert("RGB"))
    return {k: v for k, v in out.items() if v.shape[0] * v.shape[1] >= MIN_PIXELS}


def mosaic(photos: list[np.ndarray], mp: float, seed: int) -> np.ndarray:
    """A ``mp``-megapixel 4:3 frame tiled with `photos`, plus seeded sensor noise."""
    from PIL import Image, ImageOps

    width = round(math.sqrt(mp * 1e6 * ASPECT))
    height = round(width / ASPECT)
    rgb = [p if p.ndim == 3 else np.stack([p] * 3, -1) for p in photos]
    tile = min(min(p.shape[:2]) for p in rgb) * MAX_UPSCALE
    cols, rows = max(1, math.ceil(width / tile)), max(1, math.ceil(height / tile))
    canvas = Image.new("RGB", (width, height))
    rng = np.random.default_rng(seed)
    for r in range(rows):
        for c in range(cols):
            x0, x1 = c * width // cols, (c + 1) * width // cols
            y0, y1 = r * height // rows, (r + 1) * height // rows
            src = Image.fromarray(rgb[int(rng.integers(len(rgb)))])
            canvas.paste(ImageOps.fit(src, (x1 - x0, y1 - y0), Image.Resampling.LANCZOS), (x0, y0))
    pixels = np.asarray(canvas, dtype=np.float32) + rng.normal(0, NOISE_SIGMA, (height, width, 3)).astype(np.float32)
    return np.clip(np.rint(pixels), 0, 255).astype(np.uint8)


def random_boxes(width: int, height: int, rng: np.random.Generator) -> list[tuple[int, int, int, int]]:
    """1-4 non-overlapping face-like boxes covering about :data:`REGION_SHARE` of the image."""
    n = int(rng.integers(1, 5))
    share = rng.uniform(*REGION_SHARE)
    boxes: list[tuple[int, int, int, int]] = []
    for _ in range(200):
        if len(boxes) == n:
            break
        area = share * width * height / n
        bw = int(min(width - 1, math.sqrt(area * 0.8)))
        bh = int(min(height - 1, area / max(bw, 1)))
        x, y = int(rng.integers(0, width - bw)), int(rng.integers(0, height - bh))
        if all(x + bw <= a or a + w <= x or y + bh <= b or b + h <= y for a, b, w, h in boxes):
            boxes.append((x, y, bw, bh))
    return boxes


# --- protection: scramble-v1 regions, then the header ---------------------------------------
def encode_jpeg(rgb: np.ndarray, quality: int) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=quality, subsampling=2)
    return buf.getvalue()


def scramble_regions(coeffs, boxes, seed: int) -> None:
    """Scramble the MCU-snapped `boxes` of `coeffs` in place, as scramble-v1 does.

    Every component's blocks of a region are permuted and every coefficient's
    sign is flipped at random (a seeded generator stands in for the key
    stream: the statistics of the scrambled pixels are what matters here).
    """
    rng = np.random.default_rng(seed)
    mw, mh = coeffs.mcu_width, coeffs.mcu_height
    max_h = max(c.h_samp for c in coeffs.components)
    max_v = max(c.v_samp for c in coeffs.components)
    for x, y, w, h in boxes:
        cx0, cy0, cx1, cy1 = x // mw, y // mh, -(-(x + w) // mw), -(-(y + h) // mh)
        for ci, comp in enumerate(coeffs.components):
            sx, sy = mw // 8 * comp.h_samp // max_h, mh // 8 * comp.v_samp // max_v
            bx0, by0 = cx0 * sx, cy0 * sy
            bx1, by1 = min(cx1 * sx, comp.width_in_blocks), min(cy1 * sy, comp.height_in_blocks)
            blk = coeffs.blocks(ci, by0, by1, bx0, bx1)
            flat = blk.reshape(-1, 8, 8)[rng.permutation(blk.shape[0] * blk.shape[1])]
            flat = flat * rng.choice(np.array([-1, 1], dtype=np.int16), size=flat.shape)
            coeffs.set_blocks(ci, by0, bx0, flat.reshape(blk.shape))


def decode(data: bytes) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("L") if im.mode == "L" else im.convert("RGB"))


# --- platform chains ------------------------------------------------------------------------
def _pil(rgb, q, progressive=False):
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=q, subsampling=2, progressive=progressive)
    return decode(buf.getvalue())


def _cv(rgb, q):
    import cv2

    img = rgb if rgb.ndim == 2 else cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    ok, enc = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, q])
    assert ok
    return decode(enc.tobytes())


def _webp(rgb, q):
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "WEBP", quality=q)
    return decode(buf.getvalue())


def _png(rgb):
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG")
    return decode(buf.getvalue())


def _resize(rgb, long_edge, method):
    from PIL import Image

    h, w = rgb.shape[:2]
    s = long_edge / max(h, w)
    if s >= 1:
        return rgb
    size = (round(w * s), round(h * s))
    if method == "area":
        import cv2

        return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    resample = {"lanczos": Image.Resampling.LANCZOS, "bicubic": Image.Resampling.BICUBIC}[method]
    return np.asarray(Image.fromarray(rgb).resize(size, resample))


def chains(quick: bool) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """Platform chains by name: each maps decoded pixels to decoded pixels."""
    out: dict[str, Callable[[np.ndarray], np.ndarray]] = {"png": _png}
    for q in (95, 85, 75, 60, 50, 40, 30):
        out[f"pillow q{q}"] = lambda x, q=q: _pil(x, q)
        if not quick or q in (75, 30):
            out[f"opencv q{q}"] = lambda x, q=q: _cv(x, q)
    out["pillow q75 progressive"] = lambda x: _pil(x, 75, True)
    for q in (90, 75, 50):
        out[f"webp q{q}"] = lambda x, q=q: _webp(x, q)
    for edge in (2048, 1080):
        for q in (85, 75):
            out[f"{edge}px lanczos q{q}"] = lambda x, e=edge, q=q: _pil(_resize(x, e, "lanczos"), q)
        if not quick:
            out[f"{edge}px area q75 (opencv)"] = lambda x, e=edge: _cv(_resize(x, e, "area"), 75)
            out[f"{edge}px bicubic q75"] = lambda x, e=edge: _pil(_resize(x, e, "bicubic"), 75)
    out["1080px lanczos q50"] = lambda x: _pil(_resize(x, 1080, "lanczos"), 50)
    out["720px lanczos q70"] = lambda x: _pil(_resize(x, 720, "lanczos"), 70)
    return out


# --- one photo ------------------------------------------------------------------------------
@dataclass
class Result:
    name: str
    size_class: str
    megapixels: float
    payload: int
    capacity: int
    grid: tuple[int, int]
    region_share: float
    psnr_outside: float
    embed_s: float
    outcomes: dict[str, str]  # chain -> "ok" | "none" | "damaged" | "WRONG"
    false_positive: bool


def size_class(pixels: int) -> str:
    mp = pixels / 1e6
    return "<0.5 MP" if mp < 0.5 else "0.5-2 MP" if mp < 2 else "2-6 MP" if mp < 6 else ">6 MP"


def run_one(args) -> Result:
    from picveil import robust
    from picveil.errors import NoPicveilDataError
    from picveil.jpeg.codec import read_coefficients

    name, rgb, payload_bytes, quick, seed = args
    rng = np.random.default_rng(seed)
    h, w = rgb.shape[:2]
    src = encode_jpeg(rgb, SOURCE_QUALITY)
    coeffs = read_coefficients(src)
    mcu = (coeffs.mcu_width, coeffs.mcu_height)
    for _ in range(20):  # small photos: redraw the regions until some header fits
        boxes = random_boxes(w, h, rng)
        cap = robust.capacity(w, h, boxes, mcu)
        if cap >= MIN_PAYLOAD:
            break
    scramble_regions(coeffs, boxes, seed)
    n = min(payload_bytes, cap)
    payload = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
    t0 = time.perf_counter()
    report = robust.embed(coeffs, payload, boxes)
    embed_s = time.perf_counter() - t0
    emb = decode(coeffs.encode())
    outcomes = {}
    for cname, chain in chains(quick).items():
        try:
            got = robust.extract(chain(emb))
            outcomes[cname] = "ok" if got == payload else "WRONG"
        except NoPicveilDataError:
            outcomes[cname] = "none"
        except robust.HeaderDamagedError:
            outcomes[cname] = "damaged"
    try:
        robust.extract(decode(src))
        fp = True
    except (NoPicveilDataError, robust.HeaderDamagedError):
        fp = False
    share = sum(bw * bh for _, _, bw, bh in boxes) / (w * h)
    return Result(name, size_class(w * h), w * h / 1e6, n, cap, report.grid, share, report.psnr_outside, embed_s, outcomes, fp)


# --- seed 003 comparison --------------------------------------------------------------------
def seed003(photos: dict[str, np.ndarray]) -> list[str]:
    """Largest payload with exact recovery at QF 20, 30, 40 on 512x512 gray photos."""
    from PIL import Image

    from picveil import robust
    from picveil.errors import NoPicveilDataError
    from picveil.jpeg.codec import read_coefficients

    gray = []
    for name in ("camera", "astronaut", "coffee", "baboon", "fruits", "china"):
        if name in photos:
            im = Image.fromarray(photos[name]).convert("L").resize((512, 512), Image.Resampling.LANCZOS)
            gray.append((name, np.asarray(im)))
    lines = []
    rng = np.random.default_rng(SEED)
    for name, g in gray:
        buf = io.BytesIO()
        Image.fromarray(g).save(buf, "JPEG", quality=SOURCE_QUALITY)
        cap = robust.capacity(512, 512, [], (8, 8))
        payload = rng.integers(0, 256, cap, dtype=np.uint8).tobytes()
        coeffs = read_coefficients(buf.getvalue())
        rep = robust.embed(coeffs, payload, [])
        emb = decode(coeffs.encode())
        res = []
        for q in (40, 30, 20, 10):
            out = io.BytesIO()
            Image.fromarray(emb).save(out, "JPEG", quality=q)
            try:
                ok = robust.extract(decode(out.getvalue())) == payload
            except (NoPicveilDataError, robust.HeaderDamagedError):
                ok = False
            res.append(f"QF{q}:{'ok' if ok else 'FAIL'}")
        lines.append(f"| {name} | {cap} B = {8 * cap} bits | {rep.psnr_outside:.1f} dB | {' '.join(res)} |")
    return lines


# --- report ---------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer photos and chains")
    parser.add_argument("--payload", type=int, default=PAYLOAD_BYTES, help="payload bytes (capped at capacity)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)

    photos = load_photos()
    names = sorted(photos)
    if args.quick:
        names = names[:8]
    jobs = [(n, photos[n], args.payload, args.quick, SEED + i) for i, n in enumerate(names)]
    pool = [photos[n] for n in names if photos[n].ndim == 3]
    for i, mp in enumerate(LARGE_MP if not args.quick else LARGE_MP[:1]):
        for k in range(3 if not args.quick else 1):
            jobs.append((f"mosaic {mp} MP #{k + 1}", mosaic(pool, mp, SEED + 100 * i + k), args.payload, args.quick, SEED + 1000 + 10 * i + k))

    t0 = time.time()
    with ProcessPoolExecutor(max_workers=args.jobs) as ex:
        results = list(ex.map(run_one, jobs))
    elapsed = time.time() - t0

    classes = ["<0.5 MP", "0.5-2 MP", "2-6 MP", ">6 MP"]
    present = [c for c in classes if any(r.size_class == c for r in results)]
    chain_names = list(results[0].outcomes)
    print(f"# Robust header recovery ({len(results)} photos, payload {args.payload} B or capacity, {elapsed:.0f} s)\n")
    print("| chain | " + " | ".join(f"{c} (n={sum(r.size_class == c for r in results)})" for c in present) + " | all |")
    print("|---" * (len(present) + 2) + "|")
    for cn in chain_names:
        cells = []
        for c in present + ["all"]:
            rs = [r for r in results if c == "all" or r.size_class == c]
            ok = sum(r.outcomes[cn] == "ok" for r in rs)
            wrong = sum(r.outcomes[cn] == "WRONG" for r in rs)
            cells.append(f"{100 * ok / len(rs):.0f}%" + (f" ({wrong} WRONG)" if wrong else ""))
        print(f"| {cn} | " + " | ".join(cells) + " |")

    print("\n# Cost and capacity per photo\n")
    print("| photo | MP | grid | regions | capacity B | payload B | PSNR outside | embed s | failed chains |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in sorted(results, key=lambda r: r.megapixels):
        bad = [f"{c}:{o}" for c, o in r.outcomes.items() if o != "ok"]
        print(
            f"| {r.name} | {r.megapixels:.2f} | {r.grid[0]}x{r.grid[1]} | {100 * r.region_share:.0f}% | {r.capacity} | "
            f"{r.payload} | {r.psnr_outside:.1f} dB | {r.embed_s:.1f} | {', '.join(bad) or '-'} |"
        )
    psnrs = [r.psnr_outside for r in results]
    print(f"\nPSNR outside regions: min {min(psnrs):.1f} dB, median {np.median(psnrs):.1f} dB")
    fps = sum(r.false_positive for r in results)
    print(f"False positives on the {len(results)} unprotected originals: {fps}")

    print("\n# Seed 003 comparison (512x512 gray, no regions; seed 003: 1024 bits, 0 errors at QF 20-40, PSNR > 33 dB)\n")
    print("| photo | capacity | PSNR | exact recovery |")
    print("|---|---|---|---|")
    for line in seed003(photos):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
