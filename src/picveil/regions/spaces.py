"""Box spaces: a photo's *stored* pixels and its *displayed* ones.

picveil's boxes are in stored pixels: the pixel grid of the file, before the
EXIF Orientation tag (TIFF 6.0 / EXIF 2.3 tag 274) is applied. A viewer shows
the photo *displayed*: turned or mirrored as the tag says, so a phone photo
taken upright and stored sideways (orientation 6 or 8) shows its face where
the stored grid has something else. Everything here is pure arithmetic on
points (pixel-edge coordinates: ``(0, 0)`` is the top-left corner of the top-left
pixel) for an image stored ``width × height``.
"""

from __future__ import annotations

import numpy as np

from .region import Box

__all__ = ["box_to_displayed", "box_to_stored", "mask_to_stored", "point_to_displayed", "point_to_stored"]


def point_to_stored(u: float, v: float, orientation: int, width: int, height: int) -> tuple[float, float]:
    """A displayed point (``u`` right, ``v`` down) as a stored point."""
    w, h = width, height
    return {
        1: (u, v),
        2: (w - u, v),
        3: (w - u, h - v),
        4: (u, h - v),
        5: (v, u),
        6: (v, h - u),
        7: (w - v, h - u),
        8: (w - v, u),
    }[orientation]


def point_to_displayed(x: float, y: float, orientation: int, width: int, height: int) -> tuple[float, float]:
    """Inverse of :func:`point_to_stored`."""
    w, h = width, height
    return {
        1: (x, y),
        2: (w - x, y),
        3: (w - x, h - y),
        4: (x, h - y),
        5: (y, x),
        6: (h - y, x),
        7: (h - y, w - x),
        8: (y, w - x),
    }[orientation]


def _map_box(box: Box, fn, orientation: int, width: int, height: int) -> Box:
    x0, y0 = fn(box.x, box.y, orientation, width, height)
    x1, y1 = fn(box.x + box.w, box.y + box.h, orientation, width, height)
    return Box(int(min(x0, x1)), int(min(y0, y1)), int(abs(x1 - x0)), int(abs(y1 - y0)))


def box_to_stored(box: Box, orientation: int, width: int, height: int) -> Box:
    """A box in displayed pixels, in stored pixels (`width` × `height`: the stored size)."""
    return _map_box(box, point_to_stored, orientation, width, height)


def box_to_displayed(box: Box, orientation: int, width: int, height: int) -> Box:
    """A box in stored pixels, in displayed pixels (`width` × `height`: the stored size)."""
    return _map_box(box, point_to_displayed, orientation, width, height)


def mask_to_stored(mask: np.ndarray, orientation: int) -> np.ndarray:
    """A ``(H, W, ...)`` array drawn over the displayed photo, on the stored grid
    (the inverse of turning the stored pixels for display)."""
    ops = {
        1: lambda a: a,
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.swapaxes(0, 1),
        6: lambda a: np.rot90(a, 1),
        7: lambda a: a.swapaxes(0, 1)[::-1, ::-1],
        8: lambda a: np.rot90(a, -1),
    }
    return np.ascontiguousarray(ops[orientation](mask))
