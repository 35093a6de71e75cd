"""Priorities and security levels (seed 001, "SISA": selective encryption by
region of interest). Pure functions over detections; no image access.

Priority
--------
Each detection gets a priority in ``[0, 1]``, the weighted sum of three terms
(weights from :class:`Preferences`, normalised to sum to 1):

* **class**: the user's preference for its class (default: face 1.0,
  plate 0.9, text 0.8, person 0.6);
* **centre affinity**: ``1 - d / d_max``, where ``d`` is the distance from
  the box centre to the image centre and ``d_max`` half the image diagonal.
  This is the paper's default scheme ("objects closest to the image's
  centre" are what the photographer cared about);
* **size**: ``sqrt(box area / image area)``: larger regions first.

Ties break on detector score, then on position (top to bottom, left to right).

Security levels
---------------
The level sets the share of the image area to protect, in priority order. The
paper protects 30 % at its lowest level and "linearly" more above it; with
five levels, protecting everything at the top:

=====  ==========================  ===============================================
level  area budget (of the image)  meaning
=====  ==========================  ===============================================
1      30 %                        the most important regions only (paper's lowest)
2      47.5 %                      30 % + 1 × 17.5 %
3      65 %                        30 % + 2 × 17.5 %
4      82.5 %                      30 % + 3 × 17.5 %
5      100 %                       every detection
=====  ==========================  ===============================================

``budget(level) = 0.30 + 0.175 × (level − 1)`` of ``width × height``.

:func:`select_by_level` walks the detections by decreasing priority and keeps
each one while the *union* of the kept boxes stays within the budget. It stops
at the first one that would exceed it, so a region is never left visible
while one of lower priority is protected; the first region is always kept,
even when it alone exceeds the budget. The selections of increasing levels
are therefore nested (monotone). When all detections together cover less than
the budget, every level protects them all: the budget caps what is
protected, it never adds undetected area. Areas are of the boxes as
detected; the core later snaps each box outward to the JPEG MCU grid, which
adds at most one MCU row and column per box.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .detectors.base import Detection, canonical_class
from .region import Box

LEVELS = (1, 2, 3, 4, 5)
LEVEL_BASE = 0.30
LEVEL_STEP = 0.175

DEFAULT_CLASS_PREFERENCE = {"face": 1.0, "plate": 0.9, "text": 0.8, "person": 0.6}


def level_budget(level: int) -> float:
    """Share of the image area protected at ``level`` (1..5): 0.30, 0.475, 0.65, 0.825, 1.0."""
    if isinstance(level, bool) or not isinstance(level, int) or level not in LEVELS:
        raise ValueError(f"The security level is an integer from 1 to 5, got {level!r}.")
    return round(min(1.0, LEVEL_BASE + LEVEL_STEP * (level - 1)), 6)


def level_table() -> list[tuple[int, float]]:
    """``[(level, budget), ...]`` for display (``picveil inspect``, ``--help``)."""
    return [(lv, level_budget(lv)) for lv in LEVELS]


@dataclass(frozen=True)
class Preferences:
    """How priorities are computed. Weights need not sum to 1 (they are normalised).

    ``classes`` maps a class (``"face"``, ``"faces"``, ...) to a preference in
    ``[0, 1]``; classes not listed get 0.5.
    """

    classes: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_CLASS_PREFERENCE))
    class_weight: float = 0.4
    centre_weight: float = 0.4
    size_weight: float = 0.2

    def __post_init__(self) -> None:
        ws = (self.class_weight, self.centre_weight, self.size_weight)
        if any(w < 0 or not math.isfinite(w) for w in ws) or sum(ws) <= 0:
            raise ValueError(f"Priority weights must be non-negative and not all zero, got {ws}.")
        for k, v in self.classes.items():
            canonical_class(k)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"Class preference for {k!r} must be in [0, 1], got {v!r}.")

    def class_preference(self, cls: str) -> float:
        prefs = {canonical_class(k): v for k, v in self.classes.items()}
        return prefs.get(canonical_class(cls), 0.5)


@dataclass(frozen=True)
class ScoredDetection:
    """A detection with its priority and the three terms it came from (each in [0, 1])."""

    detection: Detection
    priority: float
    class_term: float
    centre_term: float
    size_term: float


def centre_affinity(box: Box, width: int, height: int) -> float:
    """``1 - d / d_max`` (1 at the image centre, 0 at a corner)."""
    d = math.hypot(box.x + box.w / 2 - width / 2, box.y + box.h / 2 - height / 2)
    return max(0.0, 1.0 - d / (math.hypot(width, height) / 2))


def prioritise(
    detections: Sequence[Detection], width: int, height: int, prefs: Preferences | None = None
) -> list[ScoredDetection]:
    """Score detections and sort them by decreasing priority (see the module docstring).

    Parameters
    ----------
    detections : sequence of Detection
        Boxes in pixels of a ``width × height`` image.
    width, height : int
        Image size, positive.
    prefs : Preferences, optional
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"Image size must be positive, got {width}×{height}.")
    p = prefs or Preferences()
    total = p.class_weight + p.centre_weight + p.size_weight
    wc, wm, ws = p.class_weight / total, p.centre_weight / total, p.size_weight / total
    area = float(width * height)
    scored = []
    for d in detections:
        c = p.class_preference(d.cls)
        m = centre_affinity(d.box, width, height)
        s = min(1.0, math.sqrt(max(0, d.box.w) * max(0, d.box.h) / area))
        scored.append(ScoredDetection(d, wc * c + wm * m + ws * s, c, m, s))
    scored.sort(key=lambda sd: (-sd.priority, -sd.detection.score, sd.detection.box.y, sd.detection.box.x))
    return scored


def union_area(boxes: Sequence[Box], width: int, height: int) -> int:
    """Exact area of the union of ``boxes`` clipped to the image (coordinate compression)."""
    clipped = []
    for b in boxes:
        x0, y0 = max(0, b.x), max(0, b.y)
        x1, y1 = min(width, b.x + b.w), min(height, b.y + b.h)
        if x1 > x0 and y1 > y0:
            clipped.append((x0, y0, x1, y1))
    if not clipped:
        return 0
    xs = sorted({v for c in clipped for v in (c[0], c[2])})
    ys = sorted({v for c in clipped for v in (c[1], c[3])})
    xi = {v: i for i, v in enumerate(xs)}
    yi = {v: i for i, v in enumerate(ys)}
    covered = [[False] * (len(xs) - 1) for _ in range(len(ys) - 1)]
    for x0, y0, x1, y1 in clipped:
        for j in range(yi[y0], yi[y1]):
            row = covered[j]
            for i in range(xi[x0], xi[x1]):
                row[i] = True
    total = 0
    for j, row in enumerate(covered):
        h = ys[j + 1] - ys[j]
        total += h * sum(xs[i + 1] - xs[i] for i, c in enumerate(row) if c)
    return total


def select_by_level(scored: Sequence[ScoredDetection], level: int, width: int, height: int) -> list[Detection]:
    """The detections protected at ``level``: the longest prefix of ``scored``
    (already in priority order) whose union fits the level's area budget;
    at least the first. See the module docstring for the table."""
    budget = level_budget(level) * width * height
    chosen: list[Detection] = []
    for sd in scored:
        trial = [d.box for d in chosen] + [sd.detection.box]
        if chosen and union_area(trial, width, height) > budget:
            break
        chosen.append(sd.detection)
    return chosen
