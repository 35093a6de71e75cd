"""Build picveil's small labelled detection set from packaged photos.

Nothing is downloaded and no large image is committed: this script makes the
images on demand, deterministically, and ``gt.json`` beside it holds the
ground truth (hand-labelled boxes of the real photos, and the boxes this
script computes for the synthetic ones; ``--check`` verifies they agree).

Images
------
real (hand-labelled, ``gt.json`` "real" section)
    scikit-image ``astronaut``, ``camera``, ``coffee`` (no face), ``page``,
    ``text``; Debian's ``opencv-doc`` ``messi5.jpg`` and
    ``licenseplate_motion.jpg`` (skipped when ``opencv-doc`` is not installed:
    ``apt-get install opencv-doc``).
group_1..3 (12 MP, 4000×3000 "group photos")
    a scikit-image scene enlarged as background, with faces pasted at heights
    from 16 to 800 px: head-and-shoulders crops of ``astronaut`` (frontal)
    and ``camera`` (three-quarter profile), faces labelled by hand in their
    source. Seeded brightness, mirroring and placement; saved as JPEG
    quality 90. Only two identities: this measures size and clutter, not
    diversity. (scikit-image's 25×25 LFW faces were tried and dropped: cut
    at brow and chin, without a head around them, CenterFace scores them
    about 0.25 even at full size, which says nothing about real photos.)
plates_1..8 (3 MP, 2000×1500)
    five rendered plates each, in DejaVu fonts, on enlarged scenes: EU, UK,
    US and Indian-style strings, white or yellow, 60 to 360 px wide, random
    perspective (corners moved by up to 18 % of the plate height), rotation
    within ±8°, slight blur; saved as JPEG quality 85.

Usage::

    python tests/data/detect/make_detect_set.py OUTDIR          # write images
    python tests/data/detect/make_detect_set.py OUTDIR --check  # and compare GT
    python tests/data/detect/make_detect_set.py OUTDIR --write-gt

Labelling rule for faces: brow to chin, ear to ear (CenterFace's convention).
Text: one box per line. Plates: the whole plate, border included.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
GT_PATH = HERE / "gt.json"
OPENCV_DOC = Path("/usr/share/doc/opencv-doc/examples/data")
FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))
FONTS = ("DejaVuSans-Bold.ttf", "DejaVuSansMono-Bold.ttf", "DejaVuSansCondensed-Bold.ttf")

# Face boxes in the source photos (hand-labelled, x, y, w, h).
FACE_SOURCES = {"astronaut": (181, 58, 89, 120), "camera": (202, 118, 56, 79)}
GROUP_SIZE = (4000, 3000)
GROUP_BACKGROUNDS = ("coffee", "rocket", "stereo_motorcycle")
GROUP_HEIGHTS = (16, 18, 20, 22, 24, 26, 28, 30, 32, 36, 40, 44, 48, 56, 64, 72, 80, 96, 112, 128,
                 160, 192, 224, 256, 320, 384, 448, 512, 640, 800)
GROUP_EXTRA_SMALL = (16, 18, 20, 22, 24, 26, 28, 30, 32, 36, 40, 20, 24, 28, 32)
PLATE_SIZE = (2000, 1500)
PLATE_BACKGROUNDS = ("coffee", "rocket", "stereo_motorcycle", "chelsea", "coffee", "rocket", "stereo_motorcycle", "hubble_deep_field")
PLATES_PER_IMAGE = 5


@dataclass
class Item:
    name: str
    path: Path
    width: int
    height: int
    objects: list[dict] = field(default_factory=list)  # {"class", "box"}
    ignore: list[dict] = field(default_factory=list)  # {"class", "box"}: detections here are neither TP nor FP
    kind: str = "real"
    labelled: tuple[str, ...] = ("face", "text", "plate", "person")  # classes labelled exhaustively


def _skimage(name: str) -> np.ndarray:
    from skimage import data

    img = getattr(data, name)()
    if isinstance(img, tuple):  # stereo_motorcycle: (left, right, disparity)
        img = img[0]
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    return np.ascontiguousarray(img[:, :, :3])


def _background(name: str, size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    from PIL import Image

    bg = Image.fromarray(_skimage(name)).resize(size, Image.Resampling.BICUBIC)
    arr = np.asarray(bg).astype(np.float32)
    arr += rng.normal(0, 3.0, arr.shape).astype(np.float32)
    return np.clip(arr, 0, 255).astype(np.uint8)


def _feather(h: int, w: int, ramp: int) -> np.ndarray:
    ramp = max(1, min(ramp, h // 2, w // 2))
    y = np.minimum(np.arange(h), np.arange(h)[::-1]) / ramp
    x = np.minimum(np.arange(w), np.arange(w)[::-1]) / ramp
    return np.clip(np.minimum(y[:, None], x[None, :]), 0, 1)[:, :, None]


def _face_crop(source: str) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """A head-and-shoulders crop, and the face box inside it."""
    img = _skimage(source)
    x, y, w, h = FACE_SOURCES[source]
    x0, y0 = max(0, int(x - 0.8 * w)), max(0, int(y - 0.6 * h))
    x1, y1 = min(img.shape[1], int(x + w + 0.8 * w)), min(img.shape[0], int(y + h + 1.2 * h))
    return img[y0:y1, x0:x1], (x - x0, y - y0, w, h)


def make_group(index: int, outdir: Path) -> Item:
    from PIL import Image

    rng = np.random.default_rng(1000 + index)
    W, H = GROUP_SIZE
    canvas = _background(GROUP_BACKGROUNDS[(index - 1) % len(GROUP_BACKGROUNDS)], GROUP_SIZE, rng).astype(np.float32)
    heights = list(GROUP_HEIGHTS) + list(GROUP_EXTRA_SMALL)
    rng.shuffle(heights)
    heights.sort(reverse=True)  # place big ones first
    occupied: list[tuple[int, int, int, int]] = []
    objects = []
    for k, target in enumerate(heights):
        source = ("astronaut", "camera")[k % 2]
        crop, (fx, fy, fw, fh) = _face_crop(source)
        s = target / fh
        cw, ch = max(1, round(crop.shape[1] * s)), max(1, round(crop.shape[0] * s))
        im = Image.fromarray(crop).resize((cw, ch), Image.Resampling.LANCZOS if s < 1 else Image.Resampling.BICUBIC)
        patch = np.asarray(im).astype(np.float32) * float(rng.uniform(0.75, 1.25))
        mirrored = bool(rng.random() < 0.5)
        if mirrored:
            patch = patch[:, ::-1]
            fx = crop.shape[1] - fx - fw
        for _ in range(400):
            px, py = int(rng.integers(0, W - cw + 1)), int(rng.integers(0, H - ch + 1))
            gap = max(8, ch // 10)
            if all(px + cw + gap <= a or a + c + gap <= px or py + ch + gap <= b or b + d + gap <= py for a, b, c, d in occupied):
                break
        else:
            continue  # no room left: skip this face (deterministic)
        occupied.append((px, py, cw, ch))
        alpha = _feather(ch, cw, max(2, min(cw, ch) // 12))
        region = canvas[py : py + ch, px : px + cw]
        canvas[py : py + ch, px : px + cw] = alpha * patch + (1 - alpha) * region
        box = [round(px + fx * s), round(py + fy * s), max(1, round(fw * s)), max(1, round(fh * s))]
        objects.append({"class": "face", "box": box, "source": source})
    path = outdir / f"group_{index}.jpg"
    Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8)).save(path, quality=90)
    objects.sort(key=lambda o: (o["box"][1], o["box"][0]))
    return Item(path.stem, path, W, H, objects, [], "group", ("face",))


def _font_path(name: str) -> Path | None:
    for d in FONT_DIRS:
        if (d / name).is_file():
            return d / name
    return None


def _plate_text(rng: np.random.Generator, style: int) -> str:
    L = "ABCDEFGHJKLMNPRSTUVWXYZ"
    D = "0123456789"

    def pick(chars: str, n: int) -> str:
        return "".join(chars[int(rng.integers(len(chars)))] for _ in range(n))

    return [
        f"{pick(L, 2)}-{pick(D, 3)}-{pick(L, 2)}",
        f"{pick(L, 2)}{pick(D, 2)} {pick(L, 3)}",
        f"{pick(D, 1)}{pick(L, 3)}{pick(D, 3)}",
        f"{pick(L, 1)} {pick(L, 2)} {pick(D, 4)}",
        f"{pick(L, 2)} {pick(D, 2)} {pick(L, 2)} {pick(D, 4)}",
    ][style % 5]


def _render_plate(text: str, font_path: Path, yellow: bool, two_to_one: bool):
    from PIL import Image, ImageDraw, ImageFont

    pw, ph = (300, 150) if two_to_one else (520, 112)
    bg = (250, 205, 20) if yellow else (245, 245, 240)
    im = Image.new("RGB", (pw, ph), bg)
    d = ImageDraw.Draw(im)
    d.rounded_rectangle([2, 2, pw - 3, ph - 3], radius=10, outline=(20, 20, 20), width=5)
    size = int(ph * (0.45 if two_to_one else 0.72))
    font = ImageFont.truetype(str(font_path), size)
    while d.textlength(text, font=font) > pw * 0.86 and size > 10:
        size -= 2
        font = ImageFont.truetype(str(font_path), size)
    x0, y0, x1, y1 = d.textbbox((0, 0), text, font=font)
    d.text(((pw - (x1 - x0)) / 2 - x0, (ph - (y1 - y0)) / 2 - y0), text, fill=(15, 15, 15), font=font)
    return np.asarray(im)


def make_plates(index: int, outdir: Path) -> Item | None:
    import cv2
    from PIL import Image

    fonts = [p for p in (_font_path(f) for f in FONTS) if p is not None]
    if not fonts:
        return None
    rng = np.random.default_rng(2000 + index)
    W, H = PLATE_SIZE
    canvas = _background(PLATE_BACKGROUNDS[(index - 1) % len(PLATE_BACKGROUNDS)], PLATE_SIZE, rng)
    objects, occupied = [], []
    for k in range(PLATES_PER_IMAGE):
        style = int(rng.integers(5))
        plate = _render_plate(_plate_text(rng, style), fonts[int(rng.integers(len(fonts)))], bool(rng.random() < 0.35), style == 2 and bool(rng.random() < 0.5))
        ph, pw = plate.shape[:2]
        target_w = float(np.exp(rng.uniform(np.log(60), np.log(360))))
        s = target_w / pw
        src = np.float32([[0, 0], [pw, 0], [pw, ph], [0, ph]])
        angle = np.deg2rad(rng.uniform(-8, 8))
        rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        dst = (src - [pw / 2, ph / 2]) * s @ rot.T
        dst += rng.uniform(-0.18, 0.18, dst.shape) * ph * s
        bw, bh = dst[:, 0].max() - dst[:, 0].min(), dst[:, 1].max() - dst[:, 1].min()
        for _ in range(400):
            cx, cy = rng.uniform(bw, W - bw), rng.uniform(bh, H - bh)
            box = (cx + dst[:, 0].min(), cy + dst[:, 1].min(), bw, bh)
            if all(box[0] + box[2] + 20 <= a or a + c + 20 <= box[0] or box[1] + box[3] + 20 <= b or b + d + 20 <= box[1] for a, b, c, d in occupied):
                break
        else:
            continue
        occupied.append(box)
        quad = (dst + [cx, cy]).astype(np.float32)
        M = cv2.getPerspectiveTransform(src, quad)
        warped = cv2.warpPerspective(plate, M, (W, H), flags=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
        mask = cv2.warpPerspective(np.full((ph, pw), 255, np.uint8), M, (W, H), flags=cv2.INTER_LINEAR)
        sigma = float(rng.uniform(0.0, 1.0))
        if sigma > 0.3:
            warped = cv2.GaussianBlur(warped, (0, 0), sigma)
        a = (mask.astype(np.float32) / 255.0)[:, :, None]
        canvas = (a * warped + (1 - a) * canvas).astype(np.uint8)
        x0, y0 = int(np.floor(quad[:, 0].min())), int(np.floor(quad[:, 1].min()))
        x1, y1 = int(np.ceil(quad[:, 0].max())), int(np.ceil(quad[:, 1].max()))
        objects.append({"class": "plate", "box": [x0, y0, x1 - x0, y1 - y0]})
    path = outdir / f"plates_{index}.jpg"
    Image.fromarray(canvas).save(path, quality=85)
    objects.sort(key=lambda o: (o["box"][1], o["box"][0]))
    return Item(path.stem, path, W, H, objects, [], "plates", ("plate",))


def make_real(outdir: Path, gt: dict) -> list[Item]:
    from PIL import Image

    items = []
    for name, spec in gt["real"].items():
        src = spec["source"]
        if src.startswith("skimage:"):
            img = _skimage(src.split(":", 1)[1])
            path = outdir / f"{name}.png"
            Image.fromarray(img).save(path)
        elif src.startswith("opencv-doc:"):
            p = OPENCV_DOC / src.split(":", 1)[1]
            if not p.is_file():
                continue
            path = outdir / p.name
            shutil.copyfile(p, path)
        else:  # pragma: no cover
            raise ValueError(src)
        items.append(Item(name, path, spec["width"], spec["height"], spec["objects"], spec.get("ignore", []), "real"))
    return items


def build(outdir: Path, *, groups: int = 3, plates: int = 8, real: bool = True) -> list[Item]:
    """Write the images into ``outdir``; return them with their ground truth."""
    outdir.mkdir(parents=True, exist_ok=True)
    gt = json.loads(GT_PATH.read_text())
    items = make_real(outdir, gt) if real else []
    items += [make_group(i, outdir) for i in range(1, groups + 1)]
    items += [p for p in (make_plates(i, outdir) for i in range(1, plates + 1)) if p is not None]
    return items


def synthetic_gt(items: list[Item]) -> dict:
    return {it.name: [{"class": o["class"], "box": o["box"]} for o in it.objects] for it in items if it.kind != "real"}


def dump_gt(gt: dict) -> str:
    """gt.json's text: one image per line in "real", one object per line in "synthetic"."""
    lines = ["{", f' "version": {json.dumps(gt["version"])},', f' "about": {json.dumps(gt["about"])},', ' "real": {']
    real = list(gt["real"].items())
    for i, (name, spec) in enumerate(real):
        lines.append(f"  {json.dumps(name)}: {json.dumps(spec)}" + ("," if i < len(real) - 1 else ""))
    lines += [" },", ' "synthetic": {']
    syn = list(gt.get("synthetic", {}).items())
    for i, (name, objs) in enumerate(syn):
        lines.append(f"  {json.dumps(name)}: [")
        lines += [f"   {json.dumps(o)}" + ("," if j < len(objs) - 1 else "") for j, o in enumerate(objs)]
        lines.append("  ]" + ("," if i < len(syn) - 1 else ""))
    lines += [" }", "}"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir", type=Path)
    ap.add_argument("--check", action="store_true", help="compare the synthetic GT with gt.json")
    ap.add_argument("--write-gt", action="store_true", help="store the synthetic GT in gt.json")
    args = ap.parse_args(argv)
    items = build(args.outdir)
    syn = synthetic_gt(items)
    gt = json.loads(GT_PATH.read_text())
    if args.write_gt:
        gt["synthetic"] = syn
        GT_PATH.write_text(dump_gt(gt))
    if args.check and gt.get("synthetic") != syn:
        print("synthetic ground truth differs from gt.json", file=sys.stderr)
        return 1
    n = sum(len(it.objects) for it in items)
    print(f"{len(items)} images, {n} labelled objects in {args.outdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
