"""Region types and MCU-grid planning (pure functions, no I/O)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import RegionError


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in pixels: top-left ``(x, y)``, size ``w × h``."""

    x: int
    y: int
    w: int
    h: int

    def __str__(self) -> str:
        return f"{self.x},{self.y},{self.w},{self.h}"


@dataclass(frozen=True)
class Region:
    """A box to protect, optionally with its own recipients.

    ``recipients`` / ``passphrase`` / ``circle`` all ``None`` mean "use the
    defaults given to :func:`picveil.protect`". Regions with the same
    recipients, passphrase and circle share one key group.
    """

    box: Box
    recipients: tuple[str, ...] | None = None
    passphrase: str | None = field(default=None, repr=False)
    label: str = ""
    circle: str | None = None  #: name of a circle in the keyring
    look: str | None = None  #: a look name (see picveil.looks); None: the protect() default


@dataclass(frozen=True)
class McuRect:
    """A rectangle in MCU units, with the index of its key group."""

    x: int
    y: int
    w: int
    h: int
    group: int

    def pixels(self, mcu_w: int, mcu_h: int, width: int, height: int) -> Box:
        """The rectangle in pixels, clipped to the image."""
        x0, y0 = self.x * mcu_w, self.y * mcu_h
        return Box(x0, y0, min((self.x + self.w) * mcu_w, width) - x0, min((self.y + self.h) * mcu_h, height) - y0)


def parse_box(text: str) -> Box:
    """Parse ``"X,Y,W,H"`` (integers, pixels); :class:`RegionError` if malformed."""
    parts = text.replace(" ", "").split(",")
    if len(parts) != 4:
        raise RegionError(f"A box is X,Y,W,H (four integers), got {text!r}.")
    try:
        x, y, w, h = (int(p) for p in parts)
    except ValueError:
        raise RegionError(f"A box is X,Y,W,H (four integers), got {text!r}.") from None
    return Box(x, y, w, h)


def _as_box(item: object) -> Box:
    if isinstance(item, Box):
        return item
    if isinstance(item, str):
        return parse_box(item)
    if isinstance(item, Sequence) and len(item) == 4:
        try:
            return Box(*(int(v) for v in item))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            pass
    raise RegionError(f"Cannot read a box from {item!r}; expected (x, y, w, h).")


def as_region(item: object) -> Region:
    """Coerce a :class:`Region`, :class:`Box`, ``(x, y, w, h)`` or ``"X,Y,W,H"``."""
    return item if isinstance(item, Region) else Region(_as_box(item))


def plan_regions(
    boxes: Sequence[Box],
    groups: Sequence[int],
    *,
    width: int,
    height: int,
    mcu_w: int,
    mcu_h: int,
    clip: bool = False,
) -> list[McuRect]:
    """Snap boxes outward to the MCU grid and split them into disjoint rectangles.

    Parameters
    ----------
    boxes : sequence of Box
        Pixel boxes. Each must have ``w, h > 0`` and lie inside the image
        (unless ``clip``, which clips it to the image first).
    groups : sequence of int
        Key-group index of each box.
    width, height : int
        Image size in pixels.
    mcu_w, mcu_h : int
        MCU size in pixels (8, 16, ...).

    Returns
    -------
    list of McuRect
        Disjoint rectangles covering exactly the union of the snapped boxes,
        in raster order of their top-left cells. Overlapping boxes of the same
        group merge; overlapping boxes of different groups raise
        :class:`RegionError` (a cell can be revealed by one group only).
    """
    if len(boxes) != len(groups):
        raise ValueError("one group per box")
    if not boxes:
        raise RegionError("No region to protect.", hint="Give at least one --box X,Y,W,H.")
    cols, rows = math.ceil(width / mcu_w), math.ceil(height / mcu_h)
    owner = np.full((rows, cols), -1, dtype=np.int32)
    first_box = np.full((rows, cols), -1, dtype=np.int32)
    for i, (b, g) in enumerate(zip(boxes, groups)):
        if clip and b.w > 0 and b.h > 0:
            x0, y0 = max(b.x, 0), max(b.y, 0)
            x1, y1 = min(b.x + b.w, width), min(b.y + b.h, height)
            if x1 <= x0 or y1 <= y0:
                raise RegionError(
                    f"Box {i + 1} ({b}) lies wholly outside the {width}×{height} image: clipping leaves nothing of it.",
                    hint="Boxes are X,Y,W,H in the image's pixels, from its top-left corner.",
                )
            b = Box(x0, y0, x1 - x0, y1 - y0)
        if b.w <= 0 or b.h <= 0:
            raise RegionError(f"Box {i + 1} ({b}) is empty: its width and height must be positive.")
        if b.x < 0 or b.y < 0 or b.x + b.w > width or b.y + b.h > height:
            whole = b.x + b.w <= 0 or b.y + b.h <= 0 or b.x >= width or b.y >= height
            raise RegionError(
                f"Box {i + 1} ({b}) lies {'' if whole else 'partly '}outside the {width}×{height} image.",
                hint=None if whole else "--clip (clip=True) protects the part inside the image.",
            )
        cx0, cy0 = b.x // mcu_w, b.y // mcu_h
        cx1, cy1 = -(-(b.x + b.w) // mcu_w), -(-(b.y + b.h) // mcu_h)
        cells = owner[cy0:cy1, cx0:cx1]
        clash = (cells >= 0) & (cells != g)
        if clash.any():
            other = int(first_box[cy0:cy1, cx0:cx1][clash][0]) + 1
            raise RegionError(
                f"Boxes {other} and {i + 1} overlap on the {mcu_w}×{mcu_h} MCU grid but have different recipients.",
                hint="Move them apart or give them the same recipients.",
            )
        fresh = cells < 0
        first_box[cy0:cy1, cx0:cx1][fresh] = i
        cells[...] = g
    # Decompose each group's cells into rectangles: runs per row, merged downwards.
    rects: list[McuRect] = []
    open_runs: dict[tuple[int, int, int], list[int]] = {}  # (x0, x1, g) -> [y0, y1]
    busy = np.flatnonzero((owner >= 0).any(axis=1))
    scan = sorted(set(busy.tolist()) | set((busy + 1).tolist()))  # rows with cells, and the row after each
    for y in scan:
        runs: set[tuple[int, int, int]] = set()
        if y < rows:
            row = owner[y]
            # runs of equal owner, found with numpy: change points of the padded row
            padded = np.concatenate(([-2], row, [-2]))
            edges = np.flatnonzero(padded[1:] != padded[:-1])
            for x0, x1 in zip(edges[:-1], edges[1:]):
                g = int(row[x0])
                if g >= 0:
                    runs.add((int(x0), int(x1), g))
        for key in list(open_runs):
            if key in runs:
                open_runs[key][1] = y + 1
                runs.discard(key)
            else:
                y0, y1 = open_runs.pop(key)
                rects.append(McuRect(key[0], y0, key[1] - key[0], y1 - y0, key[2]))
        for key in runs:
            open_runs[key] = [y, y + 1]
    rects.sort(key=lambda r: (r.y, r.x))
    return rects
