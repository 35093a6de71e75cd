"""Text detector: the DB (differentiable binarisation) text-detection network
of PP-OCRv4, shipped as ONNX in the ``rapidocr-onnxruntime`` package. Only
detection is used; nothing is recognised or read.

Pre- and post-processing follow RapidOCR's defaults (``config.yaml`` of
rapidocr-onnxruntime 1.4.4): the image is resized so its short side is at
least :data:`MIN_SIDE` (small images are enlarged) and its long side at most
``max_side``, both multiples of 32; inputs are normalised to ``[-1, 1]``;
the probability map is thresholded at :data:`BIN_THRESH` and dilated; each
connected component scores the mean probability inside it and, above
:data:`BOX_THRESH`, becomes its minimum-area rectangle grown by the DB
"unclip" distance ``area × UNCLIP / perimeter``.

A photo longer than ``max_side`` is shrunk for that whole-picture pass, and
small text shrinks with it below what the network sees (a new-user test: in a
6000×4000 photo, lines 8-14 px high were missed and an 18 px line was boxed
only in part). Such a photo also gets a second pass at its full resolution,
in overlapping tiles of :data:`TILE` px (:data:`TILE_OVERLAP` px shared, more
than a line of small text, so a line cut by a tile's edge is covered by the
two tiles' boxes together). A tile box mostly inside a box already found
(:data:`DUPLICATE_COVERAGE`) is dropped as the same text, and so is one whose
line is thick enough for the whole-picture pass to have seen it (short side
over :data:`TILE_MAX_LINE` px at that pass's scale): at full resolution the
network sees large smooth shapes out of context and takes some for text (an
enlarged photo of a coffee cup). The tiles cost about three times the
whole-picture pass on a 12 MP photo.

The runtime is onnxruntime when installed, else OpenCV's DNN module (same
outputs to 1e-4, about 20 % slower).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._runtime import import_cv2, load_onnx
from .base import Detection, ModelFile, box_coverage, xyxy_to_box

DB_MODEL = ModelFile(
    package="rapidocr_onnxruntime",
    relpath="models/ch_PP-OCRv4_det_infer.onnx",
    sha256=("d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9",),  # rapidocr-onnxruntime 1.4.4
    install='pip install --no-deps --ignore-requires-python "rapidocr-onnxruntime==1.4.4"',
)

MIN_SIDE = 736
MAX_SIDE = 2560
MAX_UPSCALE = 4.0
BIN_THRESH = 0.3
BOX_THRESH = 0.5
UNCLIP = 1.6
MIN_BOX_SIDE = 3  # px at the network's input
#: Side of the full-resolution tiles (a multiple of 32), and what neighbouring tiles share.
TILE = 1536
TILE_OVERLAP = 128
#: A tile's box this much inside an earlier box is the same text.
DUPLICATE_COVERAGE = 0.8
#: A tile's box whose short side would be at least this many px at the whole-picture
#: pass's scale is left to that pass (text 10 px high there makes a box about 26 px thick).
TILE_MAX_LINE = 32


def input_scale(width: int, height: int, max_side: int = MAX_SIDE) -> float:
    """The resize factor RapidOCR would use (short side ≥ 736), capped so the
    long side stays ≤ ``max_side`` and enlargement ≤ 4×."""
    s = max(1.0, MIN_SIDE / min(width, height))
    s = min(s, MAX_UPSCALE, max_side / max(width, height))
    return s


def _line_thickness(polygon) -> float:
    """The short side of a detection's rotated rectangle, in pixels."""
    p = np.asarray(polygon, dtype=np.float64)
    return float(min(np.hypot(*(p[1] - p[0])), np.hypot(*(p[2] - p[1]))))


class DBTextDetector:
    """PP-OCRv4 DB text detection. Detections carry the rotated 4-point polygon."""

    name = "db-text"
    cls = "text"

    def __init__(self, max_side: int = MAX_SIDE) -> None:
        self.max_side = int(max_side)
        path = DB_MODEL.locate()
        self._cv2 = import_cv2()
        self._run, self.backend = load_onnx(path)

    def probability(self, rgb: np.ndarray, scale: float | None = None) -> tuple[np.ndarray, float, float]:
        """The text probability map and the x/y factors from map to image pixels
        (``scale``: the resize factor; default :func:`input_scale`'s)."""
        cv2 = self._cv2
        h, w = rgb.shape[:2]
        s = input_scale(w, h, self.max_side) if scale is None else scale
        W, H = max(32, int(round(w * s / 32)) * 32), max(32, int(round(h * s / 32)) * 32)
        img = rgb if (W, H) == (w, h) else cv2.resize(rgb, (W, H), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
        x = img.astype(np.float32) * (2.0 / 255.0) - 1.0
        prob = self._run(x.transpose(2, 0, 1)[None])[0][0, 0]
        return prob, w / W, h / H

    def __call__(self, rgb: np.ndarray, cache: dict[str, Any]) -> list[Detection]:
        if "text" in cache:
            return cache["text"]
        height, width = rgb.shape[:2]
        out = self._boxes(*self.probability(rgb), (0, 0), (height, width))
        scale = input_scale(width, height, self.max_side)
        if scale < 1:  # small text was shrunk away: full resolution, in tiles
            step = TILE - TILE_OVERLAP
            for y0 in range(0, max(1, height - TILE_OVERLAP), step):
                for x0 in range(0, max(1, width - TILE_OVERLAP), step):
                    tile = rgb[y0 : y0 + TILE, x0 : x0 + TILE]
                    for d in self._boxes(*self.probability(tile, 1.0), (x0, y0), (height, width)):
                        if _line_thickness(d.polygon) * scale >= TILE_MAX_LINE:
                            continue
                        if not any(box_coverage(d.box, e.box) >= DUPLICATE_COVERAGE for e in out):
                            out.append(d)
        cache["text"] = out
        return out

    def _boxes(
        self, prob: np.ndarray, fx: float, fy: float, offset: tuple[int, int], image: tuple[int, int]
    ) -> list[Detection]:
        """Detections from the probability map of a picture (``fx``, ``fy``: map to its pixels) whose
        top-left corner is at ``offset`` (x, y) in an image of ``image`` (height, width) pixels."""
        cv2 = self._cv2
        height, width = image
        ox, oy = offset
        mask = (prob > BIN_THRESH).astype(np.uint8)
        mask = cv2.dilate(mask, np.ones((2, 2), np.uint8))
        n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        out: list[Detection] = []
        for i in range(1, n):
            x, y, w, h, area = stats[i]
            if min(w, h) < MIN_BOX_SIDE:
                continue
            comp = labels[y : y + h, x : x + w] == i
            score = float(prob[y : y + h, x : x + w][comp].mean())
            if score < BOX_THRESH * 0.6:  # keep some low scorers; detect() applies min_score
                continue
            ys, xs = np.nonzero(comp)
            pts = np.stack([xs + x, ys + y], axis=1).astype(np.float32)
            (cx, cy), (rw, rh), angle = cv2.minAreaRect(pts)
            rw, rh = rw + 1, rh + 1  # pixel extents, not centre distances
            if min(rw, rh) < MIN_BOX_SIDE:
                continue
            d = rw * rh * UNCLIP / (2 * (rw + rh))
            corners = cv2.boxPoints(((cx, cy), (rw + 2 * d, rh + 2 * d), angle))
            corners[:, 0] = corners[:, 0] * fx + ox
            corners[:, 1] = corners[:, 1] * fy + oy
            box = xyxy_to_box(corners[:, 0].min(), corners[:, 1].min(), corners[:, 0].max(), corners[:, 1].max(), width, height)
            if box is None:
                continue
            poly = tuple(
                (int(np.clip(round(px), 0, width)), int(np.clip(round(py), 0, height))) for px, py in corners
            )
            out.append(Detection("text", score, box, poly, self.name))
        return out
