"""Reveal after the platforms: decrypted-region quality against the physical limit.

For real photos protected for a circle (picveil's protect with its robust
in-image header), every platform chain of the issue is simulated with
:mod:`picveil.platforms.simulate` (metadata stripped first), and the friend's
keyring reveals the received file from its pixels
(:func:`picveil.robust.reveal.reveal_pixels`). Printed, one table per run
(STYLE.md point 10: ratios measured in one run, not a test):

* per chain: **header** recovery rate (the exact payload), the decrypted
  regions' **PSNR** and **SSIM** against the original (the *resized*
  original after a downscale), the same for the **plain** chain (the
  unprotected photo through the same chain: the physical limit), and the
  **gap** in dB (reveal minus plain; mean and worst over photos);
* the **ring**: the PSNR of the received pixels just outside the regions
  (:data:`RING_PX`), which a viewer's chroma upsampling and a re-encoder
  mix with the scrambled region, and its gap to the plain chain's;
* the **PSNR cost of the header** outside the regions (protected with the
  header against without, same keys), and the header size;
* lines comparing with Scramb.py's gaps quoted in the issue and with seed
  003's numbers (512 x 512 grayscale).

Photos come from packaged data only: scikit-image, scikit-learn's sample
images and Debian's ``opencv-doc`` examples (skipped if absent), 0.3 to 2 MP
as shipped, plus mosaics of them at 4 and 12 MP (full mode) with seeded
sensor noise. Each gets 1-4 seeded boxes (4-20 % of its area, redrawn
until the header fits). The source is a Pillow JPEG q92 4:2:0. Usage::

    python benchmarks/bench_robust.py                 # everything (long: an hour or more on 2 cores)
    python benchmarks/bench_robust.py --quick         # 6 photos and a 4 MP mosaic, 11 chains
    python benchmarks/bench_robust.py --scheme scramble-v2 --markdown
    python benchmarks/bench_robust.py --scheme scramble-v4,auto   # auto (the default): what protect chooses for a circle
    python benchmarks/bench_robust.py --scheme all --jobs 8
    python benchmarks/bench_robust.py --per-photo jpeg:95,jpeg:75,jpeg:50,webp:75   # and each photo's gap
    python benchmarks/bench_robust.py --chains resize --compare-lanczos   # downscales, and the Lanczos-only model on the same files
    python benchmarks/bench_robust.py --chains resize --compare-unweighed  # and the fit unweighed by the JPEG's noise
    python benchmarks/bench_robust.py --quick --compare-unringed  # and the ring around the regions left as received
    python benchmarks/bench_robust.py --chains resize --compare-unclipped  # and the resizer's clipping not modelled
    python benchmarks/bench_robust.py --save run.jsonl   # each photo's result kept as it finishes; rerun to resume

With ``--save FILE`` every finished photo is appended to FILE (one JSON
line), and a later run with the same FILE and options runs only the photos
not yet in it, then prints the tables over all of them: a long run can be
stopped and resumed, or read before it ends (``--tables-only``).
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import math
import os
import sys
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field

import numpy as np

#: The scheme label for "what protect chooses for a circle" (no scheme named).
AUTO = "auto"
#: Seed of everything random (boxes, mosaics, noise).
SEED = 20260704
#: The photo as the user has it before protection.
SOURCE_QUALITY = 92
#: Share of a photo covered by its boxes (uniform in this range) and the number of boxes.
REGION_SHARE = (0.04, 0.20)
MAX_BOXES = 4
#: Photos smaller than this (pixels) are left out; mosaics of the photos at these sizes (MP).
MIN_PIXELS = 250_000
MOSAIC_MP = (4, 12)
MOSAIC_NOISE = 2.0
#: Photos larger than this (pixels) run the quick chains and the downscales only.
LARGE_PIXELS = 6_000_000
#: JPEG qualities, WebP qualities and downscales of the issue.
JPEG_QUALITIES = (95, 85, 75, 60, 50, 40, 30)
WEBP_QUALITIES = (90, 75, 50)
#: AVIF, which some CDNs serve (not among the issue's chains; where Pillow writes it).
AVIF_QUALITIES = (80, 60)
RESIZES = ("resize:2048,jpeg:85", "resize:2048,jpeg:75", "resize:1080,jpeg:85", "resize:1080,jpeg:75", "resize:1080,jpeg:75:opencv")
#: Downscales with other resampling filters than Pillow's Lanczos (the reveal estimates the filter);
#: Pillow's box and NEAREST stand for naive pipelines.
RESIZES_OTHER = (
    "resize:1080:bicubic,jpeg:85", "resize:1080:bilinear,jpeg:85", "resize:1080:opencv-area,jpeg:85",
    "resize:1080:box,jpeg:85", "resize:1080:nearest,jpeg:85",
)
#: Gaps (dB) of Scramb.py's "ultra" scrambler on a Kodak photo re-encoded by OpenCV (the issue).
SCRAMB_PY = {95: -11.2, 75: -3.8, 50: -3.2, 30: -3.0}
#: Other reveals a run can reveal each received file with besides the current
#: one (``--compare-NAME``): what the notes call them, the
#: ``picveil.robust.reveal`` settings they take, and whether they apply to
#: every chain or only to the downscales.
COMPARISONS = {
    "lanczos": ("the downscale modelled as Lanczos only", {"RESIZE_KERNELS": ("lanczos",)}, "resize"),
    "unweighed": ("the fit unweighed by the received JPEG's noise", {"RESIZE_NOISE_WEIGHTS": False}, "resize"),
    "unringed": ("the ring around the regions left as received", {"RING_CLEAN": False}, "all"),
    "unclipped": ("the resizer's clipping not modelled, two clip passes",
                  {"RESIZE_OUTPUT_CLIP": False, "RESIZE_CLIP_PASSES": 2}, "resize"),
}
#: The ring scored around each region: this many received pixels outside its box
#: (a viewer's chroma upsampling and a re-encoder's blocks carry the scrambled
#: region into them; they are not in the region's PSNR).
RING_PX = 3
#: Seed 003: decrypted PSNR on 512 x 512 grayscale at QF 90 and 50; 1024-bit header error-free at QF 20-40.
SEED_003 = {90: 31.7, 50: 23.9}

OPENCV_DOC = "/usr/share/doc/opencv-doc/examples/"
OPENCV_PHOTOS = (
    "data/aloeL.jpg", "text/scenetext05.jpg", "text/scenetext02.jpg", "data/building.jpg",
    "data/starry_night.jpg", "data/leuvenA.jpg", "data/ela_original.jpg", "data/pca_test1.jpg",
    "data/graf1.png", "data/board.jpg", "data/aero1.jpg", "data/stuff.jpg", "data/baboon.jpg",
    "data/fruits.jpg", "data/home.jpg", "data/messi5.jpg", "data/orange.jpg", "data/lena.jpg",
)
SKIMAGE_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry", "retina", "camera", "cat")
#: Photos of the quick mode (all colour, 0.27-2 MP).
QUICK = ("astronaut", "coffee", "china", "aloeL", "fruits", "retina")


# --- photos ---------------------------------------------------------------------------------
def load_photos() -> dict[str, np.ndarray]:
    """Every packaged photo available here, ``uint8`` RGB, by name."""
    from PIL import Image
    from skimage import data as skdata

    out: dict[str, np.ndarray] = {}
    for name in SKIMAGE_PHOTOS:
        try:
            out[name] = getattr(skdata, name)()
        except Exception:  # noqa: BLE001 - a data file missing from this installation
            continue
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
    rgb = {k: (v if v.ndim == 3 else np.stack([v] * 3, -1))[..., :3] for k, v in out.items()}
    return {k: np.ascontiguousarray(v) for k, v in rgb.items() if v.shape[0] * v.shape[1] >= MIN_PIXELS}


def mosaic(photos: list[np.ndarray], mp: float, seed: int) -> np.ndarray:
    """A 3:2 ``mp``-megapixel frame tiled with `photos` (at most 2x upscaled), plus seeded noise."""
    from PIL import Image, ImageOps

    width = round(math.sqrt(mp * 1e6 * 1.5))
    height = round(width / 1.5)
    tile = min(min(p.shape[:2]) for p in photos) * 2
    cols, rows = max(1, math.ceil(width / tile)), max(1, math.ceil(height / tile))
    canvas = Image.new("RGB", (width, height))
    rng = np.random.default_rng(seed)
    for r in range(rows):
        for c in range(cols):
            x0, x1 = c * width // cols, (c + 1) * width // cols
            y0, y1 = r * height // rows, (r + 1) * height // rows
            src = Image.fromarray(photos[int(rng.integers(len(photos)))])
            canvas.paste(ImageOps.fit(src, (x1 - x0, y1 - y0), Image.Resampling.LANCZOS), (x0, y0))
    px = np.asarray(canvas, dtype=np.float32) + rng.normal(0, MOSAIC_NOISE, (height, width, 3)).astype(np.float32)
    return np.clip(np.rint(px), 0, 255).astype(np.uint8)


def random_boxes(width: int, height: int, rng: np.random.Generator) -> list[tuple[int, int, int, int]]:
    """1-4 non-overlapping face-like boxes covering about :data:`REGION_SHARE` of the image."""
    n = int(rng.integers(1, MAX_BOXES + 1))
    share = rng.uniform(*REGION_SHARE)
    boxes: list[tuple[int, int, int, int]] = []
    for _ in range(500):
        if len(boxes) == n:
            break
        area = share * width * height / n
        bw = int(min(width - 40, math.sqrt(area * 0.8)))
        bh = int(min(height - 40, area / max(bw, 1)))
        x, y = int(rng.integers(0, width - bw)), int(rng.integers(0, height - bh))
        if all(x + bw + 16 <= a or a + w + 16 <= x or y + bh + 16 <= b or b + h + 16 <= y for a, b, w, h in boxes):
            boxes.append((x, y, bw, bh))
    return boxes


# --- chains ------------------------------------------------------------------------------
def chain_specs(quick: bool, encoders: tuple[str, ...]) -> list[str]:
    """Chain specs (after metadata stripping), in table order."""
    if quick:
        return [
            "strip", "png", "jpeg:95", f"jpeg:{SOURCE_QUALITY}", "jpeg:75", "jpeg:50", "jpeg:30", "jpeg:75:opencv",
            "jpeg:50:mozjpeg" if "mozjpeg" in encoders else "jpeg:50:opencv", "webp:75",
            "resize:2048,jpeg:75", "resize:1080,jpeg:75",
        ]
    # the source's own quality: the same tables as the protected file (what `picveil fit` writes for a network)
    specs = ["strip", "png", f"jpeg:{SOURCE_QUALITY}"]
    for enc in encoders:
        specs += [f"jpeg:{q}" + ("" if enc == "pillow" else f":{enc}") for q in JPEG_QUALITIES]
    specs += ["jpeg:75:progressive"]
    specs += [f"webp:{q}" for q in WEBP_QUALITIES]
    from PIL import features

    specs += [f"avif:{q}" for q in AVIF_QUALITIES] if features.check("avif") else []
    specs += list(RESIZES) + list(RESIZES_OTHER)
    return specs


def resize_step(spec: str) -> str | None:
    """The chain's resize step (``resize:EDGE[:METHOD]``), if it resizes."""
    return next((item for item in spec.split(",") if item.startswith("resize:")), None)


def resize_edge(spec: str) -> int | None:
    """The long edge a chain resizes to, if it resizes."""
    for item in spec.split(","):
        if item.startswith("resize:"):
            return int(item.split(":")[1])
    return None


# --- measures ------------------------------------------------------------------------------
def source_jpeg(rgb: np.ndarray) -> bytes:
    """The photo as the user has it before protection: Pillow JPEG at SOURCE_QUALITY, 4:2:0."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=SOURCE_QUALITY, subsampling=2)
    return buf.getvalue()


def decode(data: bytes) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def region_scores(img: np.ndarray, ref: np.ndarray, boxes) -> tuple[float, float]:
    """PSNR over all region pixels, and area-weighted SSIM of the region crops."""
    from skimage.metrics import structural_similarity

    pix_a, pix_b, ssim, area = [], [], 0.0, 0
    for x, y, w, h in boxes:
        a, b = img[y : y + h, x : x + w], ref[y : y + h, x : x + w]
        if min(a.shape[:2]) < 7:
            continue
        pix_a.append(a.reshape(-1, 3))
        pix_b.append(b.reshape(-1, 3))
        ssim += structural_similarity(a, b, channel_axis=-1, data_range=255) * a.shape[0] * a.shape[1]
        area += a.shape[0] * a.shape[1]
    return psnr(np.concatenate(pix_a), np.concatenate(pix_b)), ssim / max(area, 1)


def ring_psnr(img: np.ndarray, ref: np.ndarray, boxes, width: int = RING_PX) -> float:
    """PSNR over the pixels within `width` of a box (chessboard distance) and in none."""
    h, w = img.shape[:2]
    inside = np.zeros((h, w), dtype=bool)
    near = np.zeros((h, w), dtype=bool)
    for x, y, bw, bh in boxes:
        inside[y : y + bh, x : x + bw] = True
        near[max(y - width, 0) : y + bh + width, max(x - width, 0) : x + bw + width] = True
    ring = near & ~inside
    if not ring.any():
        return math.nan
    return psnr(img[ring], ref[ring])


def scaled(boxes, sx: float, sy: float):
    return [(round(x * sx), round(y * sy), round((x + w) * sx) - round(x * sx), round((y + h) * sy) - round(y * sy)) for x, y, w, h in boxes]


def _default_scheme() -> str:
    from picveil.schemes import DEFAULT_SCHEME

    return DEFAULT_SCHEME


def _fallback_scheme() -> str:
    from picveil.schemes import CIRCLE_FALLBACK_SCHEME

    return CIRCLE_FALLBACK_SCHEME


def protect_fitting(src: bytes, w: int, h: int, rng: np.random.Generator, keyring, scheme: str | None = None):
    """Protect `src` for the keyring's circle "family" with :func:`random_boxes`
    drawn from `rng` until the robust header fits (20 draws at most):
    ``(protected, report, boxes)``, or None if it never did."""
    from picveil import api

    for _ in range(20):
        boxes = random_boxes(w, h, rng)
        prot, report, _ = api._protect(src, boxes, circle="family", keyring=keyring, scheme=scheme)
        if not report.warnings:
            return prot, report, boxes
    return None


# --- one photo -------------------------------------------------------------------------------
@dataclass
class PhotoResult:
    name: str
    megapixels: float
    scheme: str
    boxes: int
    share: float
    header_bytes: int
    header_psnr: float
    chains: dict[str, dict] = field(default_factory=dict)
    skipped: str = ""
    #: the scheme protect chose under ``auto`` when it was not the default (the circle fallback)
    fallback: str = ""
    #: wall time of this photo's protect, chains and reveals
    seconds: float = 0.0


def run_photo(job) -> PhotoResult:
    """Protect one photo, run every chain, reveal; everything measured."""
    name, rgb, scheme, specs, seed, compare = job
    started = time.perf_counter()
    warnings.simplefilter("ignore")
    from PIL import Image

    from picveil import api
    from picveil.crypto import Keyring
    from picveil.platforms.simulate import parse_chain
    from picveil.robust import extract
    from picveil.robust.reveal import reveal_pixels

    h, w = rgb.shape[:2]
    src = source_jpeg(rgb)
    original = decode(src)
    home = tempfile.mkdtemp(prefix="pv-bench-")
    me = Keyring.open(os.path.join(home, "me"), create=True)
    me.create_circle("family")
    friend = Keyring.open(os.path.join(home, "friend"), create=True)
    friend.import_circle(me.share_circle("family", [friend.recipient]))
    found = protect_fitting(src, w, h, np.random.default_rng(seed), me, scheme=None if scheme == AUTO else scheme)
    if found is None:
        return PhotoResult(name, w * h / 1e6, scheme, 0, 0, 0, math.nan, skipped="header never fits")
    prot, report, boxes = found
    snapped = [(r.box.x, r.box.y, r.box.w, r.box.h) for r in report.regions]
    payload = extract(decode(prot))
    # header cost: the same protection without the header (identical regions) against with it
    from picveil.robust.header import RobustHeader
    from picveil.schemes import get_scheme

    used = get_scheme(RobustHeader.from_bytes(payload).scheme_id).name
    plain_prot = api._protect(src, boxes, circle="family", keyring=me, scheme=used, robust=False)[0]
    outside = np.ones((h, w), dtype=bool)
    for x, y, bw, bh in snapped:
        outside[max(0, y - 2) : y + bh + 2, max(0, x - 2) : x + bw + 2] = False
    header_psnr = psnr(decode(prot)[outside], decode(plain_prot)[outside])
    res = PhotoResult(
        name, w * h / 1e6, scheme, len(snapped), float((~outside).mean()), len(payload), header_psnr,
        fallback=used if scheme == AUTO and used != _default_scheme() else "",
    )
    if w * h > LARGE_PIXELS:  # bound the run time: the quick chains and the downscales
        specs = [s for s in specs if s in chain_specs(True, ("pillow", "opencv", "mozjpeg")) or resize_edge(s)]
    for spec in specs:
        edge = resize_edge(spec)
        if edge is not None and max(h, w) <= edge:
            continue  # the chain would not resize this photo: it belongs to the JPEG rows
        chain = parse_chain("strip," + spec if spec != "strip" else "strip")
        received = chain.run(prot)
        plain = decode(chain.run(src))
        got = decode(received)
        rh, rw = got.shape[:2]
        if (rh, rw) == (h, w):
            ref = original
        else:  # the original through the chain's own resize step, losslessly
            png = io.BytesIO()
            Image.fromarray(original).save(png, "PNG")
            ref = decode(parse_chain(resize_step(spec)).run(png.getvalue()))
        bx = scaled(snapped, rw / w, rh / h)
        row = {"header": "ok"}
        try:
            row["header"] = "ok" if extract(got) == payload else "WRONG"
        except Exception as exc:  # noqa: BLE001 - NoPicveilDataError / HeaderDamagedError
            row["header"] = type(exc).__name__
        t0 = time.perf_counter()
        try:
            revealed, rep = reveal_pixels(received, keyring=friend)
            row["psnr"], row["ssim"] = region_scores(revealed, ref, bx)
            row["ring_psnr"] = ring_psnr(revealed, ref, bx)
            row["resampling"] = rep.resampling
            for other in compare:  # the same file, revealed otherwise
                from picveil.robust import reveal as rv

                if COMPARISONS[other][2] == "resize" and edge is None:
                    continue
                saved = {k: getattr(rv, k) for k in COMPARISONS[other][1]}
                try:
                    for k, v in COMPARISONS[other][1].items():
                        setattr(rv, k, v)
                    again = reveal_pixels(received, keyring=friend)[0]
                    row[f"psnr_{other}"] = region_scores(again, ref, bx)[0]
                    row[f"ring_{other}"] = ring_psnr(again, ref, bx)
                finally:
                    for k, v in saved.items():
                        setattr(rv, k, v)
        except Exception as exc:  # noqa: BLE001 - counted as a failed reveal
            row["error"] = type(exc).__name__
        row["seconds"] = time.perf_counter() - t0
        row["plain_psnr"], row["plain_ssim"] = region_scores(plain, ref, bx)
        row["plain_ring_psnr"] = ring_psnr(plain, ref, bx)
        res.chains[spec] = row
    res.seconds = time.perf_counter() - started
    return res


def seed003_case(scheme: str) -> dict[int, tuple[float, float]]:
    """512 x 512 grayscale camera, one centred region of a quarter of the picture:
    decrypted-region PSNR (and the plain chain's) at QF 90 and 50, Pillow."""
    from PIL import Image
    from skimage import data as skdata

    from picveil import api
    from picveil.crypto import Keyring
    from picveil.platforms.simulate import parse_chain
    from picveil.robust.reveal import reveal_pixels

    buf = io.BytesIO()
    Image.fromarray(skdata.camera()).save(buf, "JPEG", quality=SOURCE_QUALITY)
    src = buf.getvalue()
    original = np.asarray(Image.open(io.BytesIO(src)).convert("L"))
    home = tempfile.mkdtemp(prefix="pv-bench-")
    me = Keyring.open(os.path.join(home, "me"), create=True)
    me.create_circle("family")
    box = (192, 160, 144, 176)
    prot, report, _ = api._protect(src, [box], circle="family", keyring=me, scheme=None if scheme == AUTO else scheme)
    out = {}
    if report.warnings:
        return out
    b = report.regions[0].box
    sl = (slice(b.y, b.y + b.h), slice(b.x, b.x + b.w))
    for q in SEED_003:
        chain = parse_chain(f"strip,jpeg:{q}")
        got, _ = reveal_pixels(chain.run(prot), keyring=me)
        gray = got if got.ndim == 2 else got[..., 0]
        plain = np.asarray(Image.open(io.BytesIO(chain.run(src))).convert("L"))
        out[q] = (psnr(gray[sl], original[sl]), psnr(plain[sl], original[sl]))
    return out


# --- report ------------------------------------------------------------------------------------
def summarise(results: list[PhotoResult], specs: list[str]):
    rows = []
    for spec in specs:
        cells = [r.chains[spec] for r in results if spec in r.chains]
        ok = [c for c in cells if "psnr" in c]
        gaps = [c["psnr"] - c["plain_psnr"] for c in ok if math.isfinite(c["plain_psnr"])]
        rings = [c for c in ok if math.isfinite(c.get("ring_psnr", math.nan))]
        ring_gaps = [c["ring_psnr"] - c["plain_ring_psnr"] for c in rings if math.isfinite(c["plain_ring_psnr"])]
        rows.append(
            {
                "spec": spec,
                "chain": spec + (f" (n={len(cells)})" if len(cells) != len(results) else ""),
                "n": len(cells),
                "header": 100.0 * sum(c["header"] == "ok" for c in cells) / max(len(cells), 1),
                "wrong": sum(c["header"] == "WRONG" for c in cells),
                "revealed": 100.0 * len(ok) / max(len(cells), 1),
                "psnr": float(np.mean([c["psnr"] for c in ok])) if ok else math.nan,
                "ssim": float(np.mean([c["ssim"] for c in ok])) if ok else math.nan,
                "plain_psnr": float(np.mean([c["plain_psnr"] for c in cells if math.isfinite(c["plain_psnr"])])) if any(math.isfinite(c["plain_psnr"]) for c in cells) else math.inf,
                "plain_ssim": float(np.mean([c["plain_ssim"] for c in cells])) if cells else math.nan,
                "gap": float(np.mean(gaps)) if gaps else math.nan,
                "median": float(np.median(gaps)) if gaps else math.nan,
                "worst": float(np.min(gaps)) if gaps else math.nan,
                "seconds": float(np.mean([c["seconds"] for c in cells])) if cells else math.nan,
                "ring": float(np.mean([c["ring_psnr"] for c in rings])) if rings else math.nan,
                "ring_gap": float(np.mean(ring_gaps)) if ring_gaps else math.nan,
            }
        )
    return rows


def paired(results: list[PhotoResult], specs: list[str], a: str, b: str) -> list[list[str]]:
    """Per chain, scheme `b` against scheme `a` photo by photo (the same photos and
    boxes, each with its own keys): on how many photos `b`'s revealed regions score
    higher, and the median and smallest PSNR difference ``b - a`` in dB."""
    by = {(r.scheme, r.name): r for r in results if not r.skipped}
    names = sorted({n for s, n in by if s == a} & {n for s, n in by if s == b})
    out = []
    for spec in specs:
        d = [
            by[(b, n)].chains[spec]["psnr"] - by[(a, n)].chains[spec]["psnr"]
            for n in names
            if spec in by[(a, n)].chains and spec in by[(b, n)].chains
            and "psnr" in by[(a, n)].chains[spec] and "psnr" in by[(b, n)].chains[spec]
            and math.isfinite(by[(a, n)].chains[spec]["psnr"]) and math.isfinite(by[(b, n)].chains[spec]["psnr"])
        ]
        if d:
            out.append([spec, f"{sum(x > 0 for x in d)}/{len(d)}", fmt(float(np.median(d)), sign=True), fmt(float(np.min(d)), sign=True)])
    return out


def fmt(v: float, digits: int = 2, sign: bool = False) -> str:
    if isinstance(v, float) and math.isnan(v):
        return "–"
    if isinstance(v, float) and math.isinf(v):
        return "∞"
    return f"{v:+.{digits}f}" if sign else f"{v:.{digits}f}"


def family_keyring():
    """A fresh keyring in a temporary folder with one circle, "family" (what the benchmarks protect for)."""
    from picveil.crypto import Keyring

    keyring = Keyring.open(os.path.join(tempfile.mkdtemp(), "me"), create=True)
    keyring.create_circle("family")
    return keyring


def print_grid(heads: list[str], rows: list[list[str]], markdown: bool) -> None:
    """Print a table: Markdown, or plain columns padded to their widest cell
    (shared by the benchmarks that import this module)."""
    if markdown:
        print("| " + " | ".join(heads) + " |")
        print("|" + "---|" * len(heads))
        for row in rows:
            print("| " + " | ".join(row) + " |")
        return
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(heads)]
    print("  ".join(h.ljust(n) for h, n in zip(heads, widths)))
    for row in rows:
        print("  ".join(c.ljust(n) for c, n in zip(row, widths)))


def print_tables(results, specs, schemes, seed003, elapsed: float, markdown: bool) -> None:
    headers = ["scheme", "chain", "header ok", "revealed", "PSNR", "SSIM", "plain PSNR", "plain SSIM", "gap dB", "median gap", "worst gap", "ring PSNR", "ring gap dB", "reveal s"]
    body = []
    for scheme in schemes:
        rs = [r for r in results if r.scheme == scheme and not r.skipped]
        for row in summarise(rs, specs):
            body.append(
                [
                    scheme, row["chain"],
                    f"{row['header']:.0f}%" + (f" ({row['wrong']} WRONG)" if row["wrong"] else ""),
                    f"{row['revealed']:.0f}%", fmt(row["psnr"]), fmt(row["ssim"], 3), fmt(row["plain_psnr"]),
                    fmt(row["plain_ssim"], 3), fmt(row["gap"], sign=True), fmt(row["median"], sign=True), fmt(row["worst"], sign=True),
                    fmt(row["ring"]), fmt(row["ring_gap"], sign=True), fmt(row["seconds"], 1),
                ]
            )
    photos = sorted({r.name for r in results})
    mp = [r.megapixels for r in results]
    title = (
        f"Reveal from pixels after platform chains: {len(photos)} photos ({min(mp):.1f}-{max(mp):.1f} MP), "
        f"1-{MAX_BOXES} regions each, source JPEG q{SOURCE_QUALITY}; {elapsed:.0f} s"
    )
    notes = []
    for scheme in schemes:
        rs = [r for r in results if r.scheme == scheme and not r.skipped]
        if rs:
            hp = [r.header_psnr for r in rs]
            hb = [r.header_bytes for r in rs]
            notes.append(
                f"{scheme}: header {min(hb)}-{max(hb)} bytes ({8 * min(hb)}-{8 * max(hb)} bits); PSNR cost outside the regions "
                f"median {np.median(hp):.1f} dB, worst {min(hp):.1f} dB; regions cover {100 * np.mean([r.share for r in rs]):.0f}% on average"
            )
        fell = [f"{r.name} ({r.megapixels:.2f} MP)" for r in results if r.scheme == scheme and r.fallback]
        if fell:
            notes.append(f"{scheme}: protected with the circle fallback ({_fallback_scheme()}, the default's header does not fit): {', '.join(fell)}")
        skipped = [r.name for r in results if r.scheme == scheme and r.skipped]
        if skipped:
            notes.append(f"{scheme}: skipped (header never fits): {', '.join(skipped)}")
        chosen = []
        for spec in specs:
            if resize_step(spec):
                picks = [r.chains[spec].get("resampling") for r in rs if spec in r.chains and r.chains[spec].get("resampling")]
                if picks:
                    chosen.append(f"{spec}: " + ", ".join(f"{k} {picks.count(k)}" for k in sorted(set(picks))))
        for other, (what, _, _) in COMPARISONS.items():
            cells, ring_cells = [], []
            for spec in specs:
                chains = [c for c in (r.chains.get(spec, {}) for r in rs) if f"psnr_{other}" in c]
                pairs = [(c["psnr"], c[f"psnr_{other}"], c["plain_psnr"]) for c in chains if math.isfinite(c["plain_psnr"])]
                if pairs:
                    this_gap = np.mean([a - p for a, _, p in pairs])
                    other_gap = np.mean([b - p for _, b, p in pairs])
                    better = sum(a > b for a, b, _ in pairs)
                    cells.append(f"{spec}: {other_gap:+.2f} (this reveal {this_gap:+.2f}, better on {better}/{len(pairs)})")
                rings = [(c["ring_psnr"], c[f"ring_{other}"]) for c in chains if f"ring_{other}" in c and math.isfinite(c["ring_psnr"])]
                if rings:
                    better = sum(a > b for a, b in rings)
                    ring_cells.append(
                        f"{spec}: {np.mean([b for _, b in rings]):.2f} (this reveal {np.mean([a for a, _ in rings]):.2f}, "
                        f"better on {better}/{len(rings)})"
                    )
            if cells:
                notes.append(f"{scheme}: mean gap with {what}, same files: " + "; ".join(cells))
            if ring_cells:
                notes.append(f"{scheme}: ring PSNR ({RING_PX} px around the regions) with {what}, same files: " + "; ".join(ring_cells))
        if chosen:
            from picveil.robust.reveal import RESIZE_KERNELS

            notes.append(f"{scheme}: resampling filter the reveal chose (of {', '.join(RESIZE_KERNELS)}): " + "; ".join(chosen))
        summary = {row["spec"]: row for row in summarise(rs, specs)}
        cmp = []
        for q, theirs in SCRAMB_PY.items():
            key = f"jpeg:{q}:opencv" if f"jpeg:{q}:opencv" in summary else f"jpeg:{q}"
            if key in summary:
                cmp.append(f"Q{q}: {fmt(summary[key]['gap'], sign=True)} vs {theirs:+.1f}")
        if cmp:
            notes.append(f"{scheme} against Scramb.py (OpenCV re-encode; issue's table; target 6x smaller): " + "; ".join(cmp))
        if seed003.get(scheme):
            s3 = "; ".join(
                f"QF{q}: {mine:.1f} dB (plain {plain:.1f}) vs seed 003 {SEED_003[q]:.1f}" for q, (mine, plain) in seed003[scheme].items()
            )
            notes.append(f"{scheme} on 512x512 grayscale camera, one region: {s3}")
    pair = paired(results, specs, schemes[0], schemes[-1]) if len(schemes) > 1 else []
    pair_headers = ["chain", f"{schemes[-1]} better", "median Δ dB", "worst Δ dB"]
    pair_title = f"{schemes[-1]} against {schemes[0]}, photo by photo (revealed-region PSNR difference)"
    if markdown:

        def md_table(heads: list[str], rows: list[list[str]]) -> None:
            print("| " + " | ".join(heads) + " |")
            print("|" + "---|" * len(heads))
            for row in rows:
                print("| " + " | ".join(row) + " |")

        print(f"### {title}\n")
        md_table(headers, body)
        print()
        for n in notes:
            print(f"* {n}")
        if pair:
            print(f"\n### {pair_title}\n")
            md_table(pair_headers, pair)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for h in headers:
        table.add_column(h, justify="left" if h in ("scheme", "chain") else "right")
    for row in body:
        table.add_row(*row)
    console = Console(width=200)
    console.print(table)
    for n in notes:
        console.print(f"• {n}")
    if pair:
        t2 = Table(title=pair_title)
        for h in pair_headers:
            t2.add_column(h, justify="left" if h == "chain" else "right")
        for row in pair:
            t2.add_row(*row)
        console.print(t2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="6 photos and a 4 MP mosaic, 11 chains")
    parser.add_argument("--markdown", action="store_true", help="print Markdown instead of a rich table")
    parser.add_argument("--scheme", default=AUTO, help=f"comma-separated schemes, or all, or {AUTO} (default: what protect "
                        "chooses for a circle: the default scheme, or its fallback where the default's header does not fit)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--photos", type=int, default=0, help="use only the first N photos (0: all)")
    parser.add_argument("--names", default="", help="comma-separated photo names to use instead of the default set "
                        "(with --quick: besides its mosaic), or none")
    parser.add_argument("--mosaics", default="", help="comma-separated mosaic sizes in MP, or none "
                        f"(default: {MOSAIC_MP[0]} with --quick, else {','.join(map(str, MOSAIC_MP))})")
    parser.add_argument("--chains", default="", help="only chains containing one of these comma-separated strings "
                        "(=STRING: only the chain named exactly so, e.g. =jpeg:75 leaves out jpeg:75:opencv and the resizes; "
                        "separate them with ; instead to name chains that hold commas: '=resize:1080,jpeg:85;=strip')")
    parser.add_argument("--per-photo", default="", metavar="CHAINS",
                        help="also print each photo's gap for these comma-separated chains (e.g. jpeg:75,webp:75)")
    parser.add_argument("--compare-lanczos", action="store_true",
                        help="after a downscale, also reveal each file with the downscale modelled as Lanczos only")
    parser.add_argument("--compare-unweighed", action="store_true",
                        help="after a downscale, also reveal each file with the inverse's fit unweighed by the received "
                        "JPEG's noise (as before the twenty-first session)")
    parser.add_argument("--compare-unringed", action="store_true",
                        help="also reveal each file leaving the ring of pixels around the regions as received "
                        "(as before the twenty-second session)")
    parser.add_argument("--compare-unclipped", action="store_true",
                        help="after a downscale, also reveal each file without modelling the resizer's clipping, with "
                        "two clip passes (as before the twenty-seventh session)")
    parser.add_argument("--save", default="", metavar="FILE",
                        help="append each finished photo's result to FILE (JSON lines) and skip photos already in it")
    parser.add_argument("--tables-only", action="store_true", help="with --save: print the tables of FILE's results, run nothing")
    args = parser.parse_args(argv)
    if args.tables_only and not args.save:
        parser.error("--tables-only needs --save FILE")
    from picveil.platforms.simulate import available_encoders
    from picveil.schemes import scheme_names

    # "all": every region scramble the registry has (the whole-image searchable schemes are not region schemes)
    schemes = [n for n in scheme_names() if n.startswith("scramble-")] if args.scheme == "all" else (args.scheme or AUTO).split(",")

    encoders = tuple(e for e in ("pillow", "opencv", "mozjpeg") if e in available_encoders())
    specs = chain_specs(args.quick, encoders)
    if args.chains:
        parts = args.chains.split(";") if ";" in args.chains else args.chains.split(",")
        specs = [s for s in specs if any(s == part[1:] if part.startswith("=") else part in s for part in parts)]
    photos = load_photos()
    names = [n for n in QUICK if n in photos] if args.quick else sorted(photos)
    if args.names == "none":
        names = []
    elif args.names:
        unknown = [n for n in args.names.split(",") if n not in photos]
        if unknown:
            parser.error(f"unknown photo(s) {', '.join(unknown)}; available here: {', '.join(sorted(photos))}")
        names = args.names.split(",")
    if args.photos:
        names = names[: args.photos]
    items = [(n, photos[n]) for n in names]
    pool = [photos[n] for n in sorted(photos)]
    sizes = (MOSAIC_MP[:1] if args.quick else MOSAIC_MP) if not args.mosaics else (
        () if args.mosaics == "none" else tuple(int(m) for m in args.mosaics.split(",")))
    items += [(f"mosaic {mp} MP", mosaic(pool, mp, SEED + mp)) for mp in sizes]
    # each photo's seed (its boxes) is its place in the full run, so that a run of some photos draws what the full run does
    full = sorted(photos) + [f"mosaic {mp} MP" for mp in MOSAIC_MP]
    index = {n: (full.index(n) if n in full else len(full) + i) for i, (n, _) in enumerate(items)}
    compare = tuple(k for k in COMPARISONS if getattr(args, f"compare_{k}"))
    jobs = [(n, rgb, scheme, specs, SEED + index[n], compare) for scheme in schemes for n, rgb in items]
    saved = load_saved(args.save, specs) if args.save else {}
    results = [saved[(j[2], j[0])] for j in jobs if (j[2], j[0]) in saved]
    jobs = [j for j in jobs if (j[2], j[0]) not in saved]
    if args.tables_only:
        jobs = []
    t0 = time.time()
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as ex:
        # the largest photos first: with several workers, the run ends sooner (each job keeps its own seed)
        futures = [ex.submit(run_photo, j) for j in sorted(jobs, key=lambda j: -j[1].shape[0] * j[1].shape[1])]
        seed003 = {s: ex.submit(seed003_case, s) for s in schemes}
        for f in as_completed(futures):
            results.append(f.result())
            if args.save:
                save_result(args.save, results[-1], specs)
        seed003 = {s: f.result() for s, f in seed003.items()}
    order = {(s, n): i for i, (s, n) in enumerate((s, n) for s in schemes for n, _ in items)}
    results.sort(key=lambda r: order.get((r.scheme, r.name), len(order)))
    elapsed = time.time() - t0 + sum(r.seconds for r in results if (r.scheme, r.name) in saved)
    print_tables(results, specs, schemes, seed003, elapsed, args.markdown)
    if args.per_photo:
        print_per_photo(results, [c for c in args.per_photo.split(",") if c in specs])
    return 0


def _spec_key(specs: list[str]) -> str:
    return ",".join(specs)


def load_saved(path: str, specs: list[str]) -> dict[tuple[str, str], PhotoResult]:
    """The results `path` holds for this run's chains, by (scheme, photo); {} if it does not exist."""
    out: dict[tuple[str, str], PhotoResult] = {}
    if not os.path.exists(path):
        return out
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            rec = json.loads(line)
            if rec.get("specs") != _spec_key(specs):
                continue  # another run's chains: not comparable
            r = PhotoResult(**rec["result"])
            out[(r.scheme, r.name)] = r
    return out


def save_result(path: str, result: PhotoResult, specs: list[str]) -> None:
    """Append one photo's result to `path` (one JSON line, written whole, flushed)."""
    line = json.dumps({"specs": _spec_key(specs), "result": dataclasses.asdict(result)}, allow_nan=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(line + "\n")
        f.flush()
        os.fsync(f.fileno())


def print_per_photo(results: list[PhotoResult], chains: list[str]) -> None:
    """Each photo's gap (dB) for `chains`, one Markdown row per photo and scheme."""
    print("\n| scheme | photo | MP | " + " | ".join(chains) + " |")
    print("|---|---|---|" + "---|" * len(chains))
    for r in sorted(results, key=lambda r: (r.scheme, r.name)):
        if r.skipped:
            continue
        cells = []
        for spec in chains:
            c = r.chains.get(spec, {})
            ok = "psnr" in c and math.isfinite(c.get("plain_psnr", math.inf))
            cells.append(fmt(c["psnr"] - c["plain_psnr"], sign=True) if ok else "")
        print(f"| {r.scheme} | {r.name} | {r.megapixels:.1f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    sys.exit(main())
