"""Licence-plate detectors.

``plate-text`` (preferred) reuses the DB text detector: a plate is a short,
isolated, high-contrast line of text. Each text box is scored on

* geometry: the rotated box's aspect ratio (long / short side) within
  :data:`ASPECT` (plates carry 4 to 9 characters), and at least
  :data:`MIN_HEIGHT` px high;
* contrast: the 5th–95th percentile spread of grey levels inside the box,
  at least :data:`MIN_CONTRAST` of 255;
* isolation: at most :data:`MAX_LINES` lines of similar height stacked
  together (three or more make a paragraph, not a plate).

A candidate's score is the text score times ``0.5 + 0.5 × likeness``
(see :func:`plate_likeness`). Its box grows from the characters to the
plate in the text line's own (rotated) frame: :data:`GROW_X` of the line's
length at each end, :data:`GROW_Y` of its height above and below; the
detection's box is the upright bounding box of that rotated rectangle.

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
MAX_LINES = 2  # plates have one or two lines; three or more is a paragraph
GROW_X = 0.12
GROW_Y = 0.3


def _rotated_size(poly: tuple[tuple[int, int], ...]) -> tuple[float, float]:
    p = np.asarray(poly, dtype=np.float64)
    a = np.hypot(*(p[1] - p[0]))
    b = np.hypot(*(p[2] - p[1]))
    return max(a, b), min(a, b)


def _neighbours(a: Detection, b: Detection) -> bool:
    """Two text lines of similar height, one right above the other."""
    ab, bb = a.box, b.box
    similar = 0.6 < bb.h / max(ab.h, 1) < 1.6
    x_overlap = min(ab.x + ab.w, bb.x + bb.w) - max(ab.x, bb.x) > 0.3 * min(ab.w, bb.w)
    gap = max(bb.y - (ab.y + ab.h), ab.y - (bb.y + bb.h))
    return similar and x_overlap and gap < NEIGHBOUR_GAP * min(ab.h, bb.h)


def paragraph_sizes(texts: list[Detection]) -> list[int]:
    """For each text line, the number of lines in its paragraph (lines linked
    by :func:`_neighbours`, transitively)."""
    parent = list(range(len(texts)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(texts)):
        for j in range(i + 1, len(texts)):
            if _neighbours(texts[i], texts[j]):
                parent[find(i)] = find(j)
    roots = [find(i) for i in range(len(texts))]
    return [roots.count(r) for r in roots]


def plate_likeness(text: Detection, paragraph: int, gray: np.ndarray) -> float:
    """How plate-like a text detection is, in ``[0, 1]`` (1: every check
    passes); ``paragraph`` is the number of lines in its paragraph."""
    b = text.box
    long_side, short_side = _rotated_size(text.polygon) if text.polygon else (float(max(b.w, b.h)), float(min(b.w, b.h)))
    if short_side < MIN_HEIGHT or paragraph > MAX_LINES:
        return 0.0
    aspect = long_side / short_side
    lo, hi = ASPECT
    geometry = 1.0 if lo <= aspect <= hi else max(0.0, 1.0 - min(abs(aspect - lo), abs(aspect - hi)) / lo)
    patch = gray[b.y : b.y + b.h, b.x : b.x + b.w]
    if patch.size == 0 or geometry == 0.0:
        return 0.0
    p5, p95 = np.percentile(patch, (5, 95))
    contrast = min(1.0, (p95 - p5) / 255.0 / MIN_CONTRAST)
    return float(geometry * contrast)


def grow_plate(text: Detection) -> np.ndarray:
    """The plate's rotated rectangle (4×2 float array) around a text line."""
    b = text.box
    if text.polygon is None:
        p = np.array([[b.x, b.y], [b.x + b.w, b.y], [b.x + b.w, b.y + b.h], [b.x, b.y + b.h]], dtype=np.float64)
    else:
        p = np.asarray(text.polygon, dtype=np.float64)
    centre = p.mean(axis=0)
    e1, e2 = p[1] - p[0], p[2] - p[1]
    long_e, short_e = (e1, e2) if np.hypot(*e1) >= np.hypot(*e2) else (e2, e1)
    L, S = np.hypot(*long_e), np.hypot(*short_e)
    u = long_e / max(L, 1e-9)
    v = short_e / max(S, 1e-9)
    hl, hs = L / 2 + GROW_X * L, S / 2 + GROW_Y * S
    return np.array([centre - hl * u - hs * v, centre + hl * u - hs * v, centre + hl * u + hs * v, centre - hl * u + hs * v])


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
        for t, lines in zip(texts, paragraph_sizes(texts)):
            like = plate_likeness(t, lines, gray)
            if like <= 0.0:
                continue
            poly = grow_plate(t)
            box = xyxy_to_box(poly[:, 0].min(), poly[:, 1].min(), poly[:, 0].max(), poly[:, 1].max(), width, height)
            if box is not None:
                pts = tuple((int(np.clip(round(x), 0, width)), int(np.clip(round(y), 0, height))) for x, y in poly)
                out.append(Detection("plate", t.score * (0.5 + 0.5 * like), box, pts, self.name))
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


__all__ = ["HaarPlateDetector", "TextPlateDetector", "paragraph_sizes", "plate_likeness"]
