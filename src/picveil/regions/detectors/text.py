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

The runtime is onnxruntime when installed, else OpenCV's DNN module (same
outputs to 1e-4, about 20 % slower).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._runtime import import_cv2, load_onnx
from .base import Detection, ModelFile, xyxy_to_box

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


def input_scale(width: int, height: int, max_side: int = MAX_SIDE) -> float:
    """The resize factor RapidOCR would use (short side ≥ 736), capped so the
    long side stays ≤ ``max_side`` and enlargement ≤ 4×."""
    s = max(1.0, MIN_SIDE / min(width, height))
    s = min(s, MAX_UPSCALE, max_side / max(width, height))
    return s


class DBTextDetector:
    """PP-OCRv4 DB text detection. Detections carry the rotated 4-point polygon."""

    name = "db-text"
    cls = "text"

    def __init__(self, max_side: int = MAX_SIDE) -> None:
        self.max_side = int(max_side)
        path = DB_MODEL.locate()
        self._cv2 = import_cv2()
        self._run, self.backend = load_onnx(path)

    def probability(self, rgb: np.ndarray) -> tuple[np.ndarray, float, float]:
        """The text probability map and the x/y factors from map to image pixels."""
        cv2 = self._cv2
        h, w = rgb.shape[:2]
        s = input_scale(w, h, self.max_side)
        W, H = max(32, int(round(w * s / 32)) * 32), max(32, int(round(h * s / 32)) * 32)
        img = cv2.resize(rgb, (W, H), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
        x = img.astype(np.float32) * (2.0 / 255.0) - 1.0
        prob = self._run(x.transpose(2, 0, 1)[None])[0][0, 0]
        return prob, w / W, h / H

    def __call__(self, rgb: np.ndarray, cache: dict[str, Any]) -> list[Detection]:
        if "text" in cache:
            return cache["text"]
        cv2 = self._cv2
        height, width = rgb.shape[:2]
        prob, fx, fy = self.probability(rgb)
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
            corners[:, 0] *= fx
            corners[:, 1] *= fy
            box = xyxy_to_box(corners[:, 0].min(), corners[:, 1].min(), corners[:, 0].max(), corners[:, 1].max(), width, height)
            if box is None:
                continue
            poly = tuple(
                (int(np.clip(round(px), 0, width)), int(np.clip(round(py), 0, height))) for px, py in corners
            )
            out.append(Detection("text", score, box, poly, self.name))
        cache["text"] = out
        return out
