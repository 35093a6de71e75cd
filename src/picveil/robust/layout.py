"""Geometry of the robust channel: the cell grid, its windows, the cell roles.

Everything here depends only on the grid size (``cols`` x ``rows`` cells), never
on the image's pixel size, so an extractor computes the same layout at any
resolution (SPEC.md §3-§5). Pseudo-random choices come from a public SHA-256
counter stream (:func:`stream`): the channel is not secret, only reproducible.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

__all__ = [
    "DELTA",
    "LEVELS",
    "MIN_CELL_PX",
    "Grid",
    "Layout",
    "candidate_grids",
    "grid_for",
    "layout",
    "stream",
    "axis_windows",
    "window_extent",
    "window_matrix",
]

#: Version of the channel (SPEC.md); part of every stream label.
CHANNEL_VERSION = 1
#: QIM step in 8-bit luma levels: lattice points of one bit are DELTA apart.
DELTA = 5.5
#: Allowed numbers of cells along the long edge of the image.
LEVELS = (16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 112, 128)
#: Smallest cell side, in pixels of the embedded image, an embedder uses by default.
MIN_CELL_PX = 12.0
#: Fewest cells along the short edge of a grid.
MIN_SHORT_CELLS = 6
#: Pilot cells: one in this many, and at least this many.
PILOT_DIVISOR, MIN_PILOTS = 16, 64
#: Preamble cells: one in this many, clamped to this range.
PREAMBLE_DIVISOR, MIN_PREAMBLE, MAX_PREAMBLE = 8, 128, 768
#: Fewest body cells of a valid grid.
MIN_BODY = 64

_LABEL = b"picveil robust-v1 "


def stream(label: bytes, n: int) -> bytes:
    """``n`` bytes of the public stream ``label``: SHA-256(label ‖ u32be(i)), i = 0, 1, ...

    Parameters
    ----------
    label : bytes
        Domain-separation label.
    n : int
        Number of bytes, ``n >= 0``.

    Returns
    -------
    bytes
        Exactly ``n`` bytes.
    """
    out = bytearray()
    counter = 0
    while len(out) < n:
        out += hashlib.sha256(label + counter.to_bytes(4, "big")).digest()
        counter += 1
    return bytes(out[:n])


def _round_half_up(x: float) -> int:
    return int(math.floor(x + 0.5))


@dataclass(frozen=True, order=True)
class Grid:
    """A grid of ``cols`` x ``rows`` cells laid over the whole image.

    Cell ``(r, c)`` covers, in coordinates normalised to the image size,
    ``[c / cols, (c + 1) / cols) x [r / rows, (r + 1) / rows)``.
    """

    cols: int
    rows: int

    @property
    def cells(self) -> int:
        return self.cols * self.rows

    @property
    def label(self) -> bytes:
        return self.cols.to_bytes(2, "big") + self.rows.to_bytes(2, "big")


def grid_of_level(level: int, width: int, height: int) -> Grid | None:
    """The grid of ``level`` cells along the long edge of a ``width`` x ``height`` image.

    The short edge gets ``round_half_up(level * short / long)`` cells; ``None``
    if that is fewer than :data:`MIN_SHORT_CELLS`. A square image counts its
    width as the long edge.
    """
    if width >= height:
        short = _round_half_up(level * height / width)
        cols, rows = level, short
    else:
        short = _round_half_up(level * width / height)
        cols, rows = short, level
    if short < MIN_SHORT_CELLS:
        return None
    return Grid(cols, rows)


def grid_for(width: int, height: int, *, min_cell_px: float = MIN_CELL_PX) -> Grid | None:
    """The grid an embedder uses for a ``width`` x ``height`` image.

    The largest level of :data:`LEVELS` whose cells are at least `min_cell_px`
    pixels along the long edge; ``None`` if even the smallest level does not
    fit (the image is too small to carry a robust header).
    """
    long_edge = max(width, height)
    for level in sorted(LEVELS, reverse=True):
        if long_edge / level >= min_cell_px:
            return grid_of_level(level, width, height)
    return None


def candidate_grids(width: int, height: int) -> list[Grid]:
    """Every grid an extractor tries on a received ``width`` x ``height`` image.

    For each level, both roundings of the short-edge cell count when the
    received aspect ratio leaves it ambiguous (a resize rounds the pixel size,
    which moves the ratio by up to about one pixel), and both orientations when
    the image is nearly square. Sorted from the finest grid to the coarsest.
    """
    out: set[Grid] = set()
    slack = 2.0 / max(1, min(width, height))
    for level in LEVELS:
        for w, h in ((width, height), (height, width)) if abs(width - height) <= 2 else ((width, height),):
            ratio = min(w, h) / max(w, h)
            for r in (ratio * (1 - slack), ratio, ratio * (1 + slack)):
                short = _round_half_up(level * min(r, 1.0))
                if short < MIN_SHORT_CELLS:
                    continue
                out.add(Grid(level, short) if w >= h else Grid(short, level))
    return sorted(out, key=lambda g: (-g.cells, g.cols, g.rows))


def axis_windows(n_px: int, n_cells: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The two windows every pixel of an axis of ``n_px`` pixels belongs to.

    In cell units, pixel ``j`` is at ``x = (j + 0.5) * n_cells / n_px``.
    Window ``c`` is centred on cell ``c`` and two cells wide:
    ``K_c(x) = cos(pi * (x - c - 0.5) / 2) ** 2`` for ``|x - c - 0.5| < 1``,
    else 0. Windows overlap by half, and ``K_c + K_(c+1) = 1`` between the
    centres of cells ``c`` and ``c + 1`` (a partition of unity away from the
    image's edges). Pixel ``j`` lies in windows ``lo = floor(x - 0.5)`` and
    ``hi = lo + 1`` with weights ``cos(pi * t / 2) ** 2`` and
    ``sin(pi * t / 2) ** 2``, ``t = x - lo - 0.5``; an index outside
    ``0 .. n_cells - 1`` means no window (at the edges).

    Returns
    -------
    (lo, w_lo, hi, w_hi)
        ``int64`` and ``float64`` arrays of shape ``(n_px,)``; ``lo`` and ``hi``
        never decrease along the axis.
    """
    x = (np.arange(n_px, dtype=np.float64) + 0.5) * (n_cells / n_px)
    lo = np.floor(x - 0.5).astype(np.int64)
    t = x - lo - 0.5
    return lo, np.cos(np.pi * t / 2) ** 2, lo + 1, np.sin(np.pi * t / 2) ** 2


def window_matrix(n_px: int, n_cells: int) -> np.ndarray:
    """The windows of :func:`axis_windows` as a dense ``(n_cells, n_px)`` ``float64`` matrix."""
    lo, w_lo, hi, w_hi = axis_windows(n_px, n_cells)
    out = np.zeros((n_cells, n_px), dtype=np.float64)
    cols = np.arange(n_px)
    for idx, w in ((lo, w_lo), (hi, w_hi)):
        ok = (idx >= 0) & (idx < n_cells)
        out[idx[ok], cols[ok]] = w[ok]
    return out


def window_extent(n_px: int, n_cells: int) -> tuple[np.ndarray, np.ndarray]:
    """First and one-past-last pixel where each window of the axis is non-zero."""
    lo, w_lo, hi, w_hi = axis_windows(n_px, n_cells)
    first = np.full(n_cells, n_px, dtype=np.int64)
    last = np.full(n_cells, -1, dtype=np.int64)
    cols = np.arange(n_px)
    for idx, w in ((lo, w_lo), (hi, w_hi)):
        ok = (idx >= 0) & (idx < n_cells) & (w > 0)
        np.minimum.at(first, idx[ok], cols[ok])
        np.maximum.at(last, idx[ok], cols[ok])
    return first, last + 1


@dataclass(frozen=True)
class Layout:
    """Roles and constants of every cell of one grid (SPEC.md §5).

    Attributes
    ----------
    grid : Grid
    order : numpy.ndarray
        ``int64`` permutation of the raster cell indices ``0 .. cells-1``; the
        first ``n_pilot`` are pilots, the next ``n_pre`` carry the preamble,
        the rest the body.
    n_pilot, n_pre, n_body : int
    pilot_bits : numpy.ndarray
        ``uint8`` 0/1, shape ``(n_pilot,)``: the bit of pilot ``k`` (cell ``order[k]``).
    dither : numpy.ndarray
        ``float64`` in ``[0, DELTA)``, shape ``(rows, cols)``: the QIM dither of each cell.
    """

    grid: Grid
    order: np.ndarray
    n_pilot: int
    n_pre: int
    n_body: int
    pilot_bits: np.ndarray
    dither: np.ndarray

    @property
    def pilot_cells(self) -> np.ndarray:
        return self.order[: self.n_pilot]

    @property
    def preamble_cells(self) -> np.ndarray:
        return self.order[self.n_pilot : self.n_pilot + self.n_pre]

    @property
    def body_cells(self) -> np.ndarray:
        return self.order[self.n_pilot + self.n_pre :]


def role_counts(n: int) -> tuple[int, int, int]:
    """``(n_pilot, n_pre, n_body)`` for a grid of ``n`` cells (SPEC.md §5)."""
    n_pilot = max(MIN_PILOTS, -(-n // PILOT_DIVISOR))
    n_pre = min(MAX_PREAMBLE, max(MIN_PREAMBLE, _round_half_up(n / PREAMBLE_DIVISOR)))
    return n_pilot, n_pre, n - n_pilot - n_pre


@lru_cache(maxsize=64)
def layout(grid: Grid) -> Layout:
    """The :class:`Layout` of `grid` (cached; the arrays are read-only).

    Raises
    ------
    ValueError
        If the grid has too few cells for pilots, preamble and a body.
    """
    n = grid.cells
    n_pilot, n_pre, n_body = role_counts(n)
    if n_body < MIN_BODY:
        raise ValueError(f"a {grid.cols}x{grid.rows} grid is too small for the robust channel")
    words = np.frombuffer(stream(_LABEL + b"order" + grid.label, 8 * n), dtype=">u8")
    order = np.argsort(words, kind="stable").astype(np.int64)
    raw = np.frombuffer(stream(_LABEL + b"dither" + grid.label, 4 * n), dtype=">u4").astype(np.float64)
    dither = (raw * (DELTA / 2.0**32)).reshape(grid.rows, grid.cols)
    pbits = np.unpackbits(np.frombuffer(stream(_LABEL + b"pilot" + grid.label, -(-n_pilot // 8)), dtype=np.uint8))
    pilot_bits = pbits[:n_pilot].copy()
    for arr in (order, dither, pilot_bits):
        arr.setflags(write=False)
    return Layout(grid, order, n_pilot, n_pre, n_body, pilot_bits, dither)
