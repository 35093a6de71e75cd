"""Licence-plate detectors.

``plate-text`` (preferred) reuses the DB text detector: a plate is a short,
isolated, high-contrast line of text. Each text box is scored on

* geometry: the rotated box's aspect ratio (long / short side) within
  :data:`ASPECT` (plates carry 4 to 9 characters), and at least
  :data:`MIN_HEIGHT` px high;
* contrast: the 5th–95th percentile spread of grey levels inside the box,
  at least :data:`MIN_CONTRAST` of 255;
* isolation: no other text line of similar height directly above or below
  it (that is a paragraph, not a plate).

A candidate's score is the text score times the share of these checks it
passes softly (see :func:`plate_likeness`); its box grows from the characters
to the plate (:data:`GROW_X` of the text height on each side,
:data:`GROW_Y` of it above and below).

``plate-haar`` is OpenCV's ``haarcascade_russian_plate_number.xml``: the
fallback when the text model is not installed. It finds frontal,
high-contrast plates only, with many false alarms.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._runtime import OPENCV_PIN, import_cv2
from .base import Detection, ModelFile, xyxy_to_box

HAAR_PLATE = ModelFile(
    package="cv2",
    relpath="data/haarcascade_russian_plate_number.xml",
    sha256=("814cb5954682af570e58361f9e5f8b5b513a4112776bb9ecacef9f0e4ca6c2d7",),  # OpenCV 4.x
    install=OPENCV_PIN,
)

ASPECT = (1.8, 8.0)
MIN_HEIGHT = 7
MIN_CONTRAST = 0.25
NEIGHBOUR_GAP = 1.6  # text heights: a line this close above/below is a neighbour
GROW_X = 0.45
GROW_Y = 0.45


def _rotated_size(poly: tuple[tuple[int, int], ...]) -> tuple[float, float]:
    p = np.asarray(poly, dtype=np.float64)
    a = np.hypot(*(p[1] - p[0]))
    b = np.hypot(*(p[2] - p[1]))
    return max(a, b), min(a, b)


def plate_likeness(text: Detection, others: list[Detection], gray: np.ndarray) -> float:
    """How plate-like a text detection is, in ``[0, 1]`` (1: every check passes)."""
    b = text.box
    long_side, short_side = _rotated_size(text.polygon) if text.polygon else (float(max(b.w, b.h)), float(min(b.w, b.h)))
    if short_side < MIN_HEIGHT:
        return 0.0
    aspect = long_side / short_side
    lo, hi = ASPECT
    geometry = 1.0 if lo <= aspect <= hi else max(0.0, 1.0 - min(abs(aspect - lo), abs(aspect - hi)) / lo)
    patch = gray[b.y : b.y + b.h, b.x : b.x + b.w]
    if patch.size == 0:
        return 0.0
    p5, p95 = np.percentile(patch, (5, 95))
    contrast = min(1.0, (p95 - p5) / 255.0 / MIN_CONTRAST)
    isolated = 1.0
    for o in others:
        if o is text:
            continue
        ob = o.box
        similar = 0.6 < ob.h / max(b.h, 1) < 1.6
        x_overlap = min(b.x + b.w, ob.x + ob.w) - max(b.x, ob.x) > 0.3 * min(b.w, ob.w)
        gap = max(ob.y - (b.y + b.h), b.y - (ob.y + ob.h))
        if similar and x_overlap and gap < NEIGHBOUR_GAP * b.h:
            isolated = 0.0
            break
    if geometry == 0.0 or isolated == 0.0:
        return 0.0
    return float(geometry * contrast)


class TextPlateDetector:
    """Plates as plate-like text boxes (needs the DB text model)."""

    name = "plate-text"
    cls = "plate"

    def __init__(self) -> None:
        from . import get

        self._text = get("db-text")  # shared instance: one model load, one pass per image
        self._cv2 = import_cv2()

    def __call__(self, rgb: np.ndarray, cache: dict[str, Any]) -> list[Detection]:
        cv2 = self._cv2
        height, width = rgb.shape[:2]
        texts = self._text(rgb, cache)
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        out = []
        for t in texts:
            like = plate_likeness(t, texts, gray)
            if like <= 0.0:
                continue
            b = t.box
            short = _rotated_size(t.polygon)[1] if t.polygon else min(b.w, b.h)
            box = xyxy_to_box(
                b.x - GROW_X * short, b.y - GROW_Y * short, b.x + b.w + GROW_X * short, b.y + b.h + GROW_Y * short, width, height
            )
            if box is not None:
                out.append(Detection("plate", t.score * (0.5 + 0.5 * like), box, t.polygon, self.name))
        return out


class HaarPlateDetector:
    """OpenCV's Russian-plate Haar cascade. Scores: ``n / (n + 3)`` for ``n``
    confirming neighbours (uncalibrated)."""

    name = "plate-haar"
    cls = "plate"
    MAX_SIDE = 2048

    def __init__(self) -> None:
        path = HAAR_PLATE.locate()
        cv2 = import_cv2()
        self._cv2 = cv2
        self._cascade = cv2.CascadeClassifier(str(path))

    def __call__(self, rgb: np.ndarray, cache: dict[str, Any]) -> list[Detection]:
        cv2 = self._cv2
        height, width = rgb.shape[:2]
        s = min(1.0, self.MAX_SIDE / max(width, height))
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        if s < 1.0:
            gray = cv2.resize(gray, (round(width * s), round(height * s)), interpolation=cv2.INTER_AREA)
        rects, counts = self._cascade.detectMultiScale2(gray, scaleFactor=1.1, minNeighbors=3, minSize=(40, 12))
        out = []
        for (x, y, w, h), n in zip(np.asarray(rects).reshape(-1, 4), np.asarray(counts).reshape(-1)):
            box = xyxy_to_box(x / s, y / s, (x + w) / s, (y + h) / s, width, height)
            if box is not None:
                out.append(Detection("plate", float(n) / (float(n) + 3.0), box, None, self.name))
        return out


__all__ = ["HaarPlateDetector", "TextPlateDetector", "plate_likeness", "OPENCV_PIN"]
