"""The physical layer: cell features, QIM lattices and soft values (SPEC.md §3-§4, §8).

A cell's *feature* is the window-weighted mean luma of the cell
(:func:`features`). A bit is carried by dither modulation (QIM): the
embedder moves the feature of a cell onto the lattice
``dither + bit * DELTA / 2 + k * DELTA``; the extractor reads the feature's
position relative to the two lattices as a soft value in ``[-1, 1]``
(:func:`soft_values`) and turns soft values into log-likelihood ratios with
a noise-plus-garbage model (:func:`cell_llrs`).

Image contract: ``uint8`` arrays, ``(H, W)`` gray or ``(H, W, 3)`` RGB (a
fourth alpha channel is ignored), any size with at least one cell per
:data:`~picveil.robust.layout.MIN_SHORT_CELLS` pixels.
"""

from __future__ import annotations

import numpy as np

from .layout import DELTA, Grid, Layout, axis_windows

__all__ = ["area_resize", "cell_llrs", "features", "luma", "presence_score", "qim_targets", "soft_values", "working_luma"]

#: JFIF luma weights of R, G, B.
LUMA_WEIGHTS = (0.299, 0.587, 0.114)
#: Long edge, in pixels, to which the extractor area-averages larger images first.
WORK_LONG_EDGE = 2048
#: Radius, in cells, of the neighbourhood over which the presence of the signal is estimated.
PRESENCE_RADIUS = 2
#: Bounds of the estimated noise (in soft-value units) and of one cell's LLR.
SIGMA_MIN, SIGMA_MAX, LLR_MAX = 0.08, 0.6, 12.0


def luma(image: np.ndarray) -> np.ndarray:
    """Luma of an 8-bit image as ``float32`` ``(H, W)``.

    Parameters
    ----------
    image : numpy.ndarray
        ``uint8``, ``(H, W)`` (gray, returned as is) or ``(H, W, 3|4)`` RGB(A):
        ``0.299 R + 0.587 G + 0.114 B``, alpha ignored.

    Raises
    ------
    ValueError
        For another dtype or shape.
    """
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        raise ValueError(f"image must be uint8 (8-bit), got dtype {arr.dtype}")
    if arr.ndim == 2:
        return arr.astype(np.float32)
    if arr.ndim == 3 and arr.shape[2] in (3, 4):
        # channel by channel, in float32 as (R·r + G·g) + B·b: no float copy of the
        # three channels (a 48 MP picture's took seconds of page faults)
        r, g, b = (np.float32(w) for w in LUMA_WEIGHTS)
        y = np.multiply(arr[..., 0], r, dtype=np.float32)
        y += np.multiply(arr[..., 1], g, dtype=np.float32)
        y += np.multiply(arr[..., 2], b, dtype=np.float32)
        return y
    raise ValueError(f"image must have shape (H, W) or (H, W, 3), got {arr.shape}")


def area_resize(y: np.ndarray, long_edge: int) -> np.ndarray:
    """Area-average a float image to a long edge of at most `long_edge` pixels.

    Returns `y` itself when it is already small enough; otherwise a
    ``float32`` array of about the same aspect ratio (Pillow's box filter,
    which maps the image's extent onto the new one exactly).
    """
    from PIL import Image

    h, w = y.shape
    scale = long_edge / max(h, w)
    if scale >= 1.0:
        return y
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = Image.fromarray(np.asarray(y, dtype=np.float32), mode="F").resize(size, Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float32)


def working_luma(image: np.ndarray) -> np.ndarray:
    """:func:`luma`, area-averaged to a long edge of at most :data:`WORK_LONG_EDGE`.

    Features are weighted means over windows of at least ``2 * long / 128``
    pixels, so averaging the picture first changes them far less than a JPEG
    does, and makes extraction time independent of the input size.
    """
    return area_resize(luma(image), WORK_LONG_EDGE)


#: Rows :func:`_reduce` sums along a row at a time (the same sums: each row's own).
REDUCE_BAND = 512


def _reduce(arr: np.ndarray, axis: int, idx: np.ndarray, w: np.ndarray, n: int) -> np.ndarray:
    """Sum ``arr * w`` along `axis` into ``n`` bins ``idx`` (non-decreasing; out-of-range ignored)."""
    if axis == 1 and arr.ndim == 2 and arr.shape[0] > REDUCE_BAND:  # a large picture: in bands of rows
        return np.concatenate([_reduce(arr[r : r + REDUCE_BAND], 1, idx, w, n) for r in range(0, arr.shape[0], REDUCE_BAND)])
    sel = np.nonzero((idx >= 0) & (idx < n))[0]
    shape = list(arr.shape)
    shape[axis] = n
    out = np.zeros(shape, dtype=np.float64)
    if sel.size == 0:
        return out
    ids = idx[sel]
    starts = np.concatenate(([0], np.nonzero(np.diff(ids))[0] + 1))
    wshape = [1] * arr.ndim
    wshape[axis] = sel.size
    sums = np.add.reduceat(np.take(arr, sel, axis=axis) * w[sel].reshape(wshape), starts, axis=axis)
    index = [slice(None)] * arr.ndim
    index[axis] = ids[starts]
    out[tuple(index)] = sums
    return out


def _window_sums(y: np.ndarray, ny: int, nx: int) -> tuple[np.ndarray, np.ndarray]:
    """``sum(Ky[r] * Kx[c] * y)`` and ``sum(Ky[r]) * sum(Kx[c])`` for all windows."""
    h, w = y.shape
    xlo, xwlo, xhi, xwhi = axis_windows(w, nx)
    ylo, ywlo, yhi, ywhi = axis_windows(h, ny)
    rows = _reduce(y, 1, xlo, xwlo, nx) + _reduce(y, 1, xhi, xwhi, nx)
    num = _reduce(rows, 0, ylo, ywlo, ny) + _reduce(rows, 0, yhi, ywhi, ny)
    one_x, one_y = np.ones((1, w)), np.ones((h, 1))
    den_x = (_reduce(one_x, 1, xlo, xwlo, nx) + _reduce(one_x, 1, xhi, xwhi, nx))[0]
    den_y = (_reduce(one_y, 0, ylo, ywlo, ny) + _reduce(one_y, 0, yhi, ywhi, ny))[:, 0]
    return num, np.outer(den_y, den_x)


def features(y: np.ndarray, grid: Grid) -> np.ndarray:
    """Window-weighted mean luma of every cell of `grid`.

    Parameters
    ----------
    y : numpy.ndarray
        Luma, float ``(H, W)``, any resolution.
    grid : Grid

    Returns
    -------
    numpy.ndarray
        ``float64``, shape ``(rows, cols)``:
        ``F[r, c] = sum(Ky[r] * Kx[c] * y) / (sum(Ky[r]) * sum(Kx[c]))`` with the
        windows of :func:`~picveil.robust.layout.axis_windows`.

    Raises
    ------
    ValueError
        If the image has fewer than 2 pixels per cell along an axis.
    """
    y = np.asarray(y, dtype=np.float64)
    h, w = y.shape
    if w < 2 * grid.cols or h < 2 * grid.rows:
        raise ValueError(f"a {w}x{h} image is too small for a {grid.cols}x{grid.rows} grid")
    num, den = _window_sums(y, grid.rows, grid.cols)
    return num / den


def qim_targets(f: np.ndarray, bits: np.ndarray, dither: np.ndarray) -> np.ndarray:
    """Nearest point to `f` of the lattice ``dither + bits * DELTA/2 + k * DELTA``."""
    offset = dither + bits * (DELTA / 2)
    return offset + np.round((f - offset) / DELTA) * DELTA


def soft_values(f: np.ndarray, dither: np.ndarray) -> np.ndarray:
    """Position of each feature between the two lattices, in ``[-1, 1]``.

    ``+1`` on a point of the bit-0 lattice, ``-1`` on a point of the bit-1
    lattice, linear in between: ``s = 1 - 4 * d0 / DELTA`` where ``d0`` is the
    distance to the nearest bit-0 point.
    """
    t = np.mod((f - dither) / DELTA, 1.0)
    d0 = np.minimum(t, 1.0 - t)  # in units of DELTA, 0 .. 0.5
    return 1.0 - 4.0 * d0


def _box_mean(a: np.ndarray, radius: int) -> np.ndarray:
    """Mean over the (2r+1)^2 neighbourhood, clipped at the grid's edges."""
    pad = np.pad(a, radius, mode="constant")
    ones = np.pad(np.ones_like(a), radius, mode="constant")
    k = 2 * radius + 1
    c = np.cumsum(np.cumsum(np.pad(pad, ((1, 0), (1, 0))), 0), 1)
    n = np.cumsum(np.cumsum(np.pad(ones, ((1, 0), (1, 0))), 0), 1)
    s = c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]
    m = n[k:, k:] - n[:-k, k:] - n[k:, :-k] + n[:-k, :-k]
    return s / m


def _evidence(s: np.ndarray, lay: Layout, known: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Per-cell evidence of the signal, flat: ``s`` signed by the pilot bit on
    pilots (and on the ``known = (cells, bits)``), the sharpness ``2|s| - 1``
    elsewhere. Without a signal ``s`` is uniform on ``[-1, 1]`` (the dither
    sees to that), so every value is uniform on ``[-1, 1]``: mean 0, variance 1/3."""
    flat = s.reshape(-1)
    ev = 2.0 * np.abs(flat) - 1.0
    ev[lay.pilot_cells] = flat[lay.pilot_cells] * (1.0 - 2.0 * lay.pilot_bits)
    if known is not None:
        cells, bits = known
        ev[cells] = flat[cells] * (1.0 - 2.0 * bits)
    return ev


def presence_score(s: np.ndarray, lay: Layout) -> float:
    """Detection statistic: the summed evidence of all cells in standard
    deviations of chance (SPEC.md §8.2); approximately standard normal when
    the image carries no header on this grid."""
    ev = _evidence(s, lay)
    return float(ev.sum() / np.sqrt(ev.size / 3.0))


def cell_llrs(s: np.ndarray, lay: Layout, known: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Log-likelihood ratio (positive for bit 0) of every cell.

    Model: a cell either carries the signal, with Gaussian noise of standard
    deviation ``sigma`` around ``s = +1`` (bit 0) or ``-1`` (bit 1), or is
    garbage (inside a protected region, clipped, destroyed), uniform on
    ``[-1, 1]``. ``sigma`` is estimated from the pilots; the garbage
    probability of each cell from the agreement of the pilots and the
    sharpness ``2|s| - 1`` of the other cells in its neighbourhood. Cells
    whose bits are ``known = (cells, bits)`` (the preamble, once decoded)
    count as pilots: a confident cell that disagrees with its known bit is
    evidence of garbage, which sharpness alone cannot see.

    Returns
    -------
    numpy.ndarray
        ``float64``, shape ``(rows, cols)``, in ``[-LLR_MAX, LLR_MAX]``.
    """
    flat = s.reshape(-1)
    signed_pilots = flat[lay.pilot_cells] * (1.0 - 2.0 * lay.pilot_bits)
    resid = 1.0 - signed_pilots  # 0 .. 2, small where the signal is clean
    good = resid[resid < 0.5]
    sigma = float(np.sqrt(np.mean(good**2))) if good.size >= 8 else SIGMA_MAX
    sigma = min(SIGMA_MAX, max(SIGMA_MIN, sigma))

    evidence = _evidence(s, lay, known)
    present = _box_mean(evidence.reshape(s.shape), PRESENCE_RADIUS)
    reference = max(0.3, float(np.quantile(present, 0.9)))
    p = np.clip(present / reference, 0.02, 0.98)

    def loglik(dist: np.ndarray) -> np.ndarray:
        gauss = np.exp(-0.5 * (dist / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi))
        return np.log(p * gauss + (1.0 - p) * 0.5)

    llr = loglik(1.0 - s) - loglik(1.0 + s)
    return np.clip(llr, -LLR_MAX, LLR_MAX)
