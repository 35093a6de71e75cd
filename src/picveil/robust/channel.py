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

from .layout import DELTA, Grid, Layout, window_matrix

__all__ = ["cell_llrs", "features", "luma", "qim_targets", "soft_values", "working_luma"]

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
        rgb = arr[..., :3].astype(np.float32)
        r, g, b = LUMA_WEIGHTS
        return rgb[..., 0] * r + rgb[..., 1] * g + rgb[..., 2] * b
    raise ValueError(f"image must have shape (H, W) or (H, W, 3), got {arr.shape}")


def working_luma(image: np.ndarray) -> np.ndarray:
    """:func:`luma`, area-averaged to a long edge of at most :data:`WORK_LONG_EDGE`.

    Features are weighted means over cells of at least ``long / 128`` pixels,
    so averaging the picture first changes them by far less than a JPEG
    does, and makes extraction time independent of the input size.
    """
    from PIL import Image

    y = luma(image)
    h, w = y.shape
    scale = WORK_LONG_EDGE / max(h, w)
    if scale >= 1.0:
        return y
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = Image.fromarray(y, mode="F").resize(size, Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float32)


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
        ``F[r, c] = sum(wy[r] * wx[c] * y) / (sum(wy[r]) * sum(wx[c]))``
        with the windows of :func:`~picveil.robust.layout.window_matrix`.
    """
    h, w = y.shape
    ax = window_matrix(w, grid.cols)
    ay = window_matrix(h, grid.rows)
    num = (ay @ np.asarray(y, dtype=np.float32)) @ ax.T
    den = np.outer(ay.sum(axis=1, dtype=np.float64), ax.sum(axis=1, dtype=np.float64))
    return num.astype(np.float64) / den


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


def pilot_score(s: np.ndarray, lay: Layout) -> float:
    """z-score of the pilots: their agreement, in units of its standard deviation under no signal.

    Without a signal, ``s`` is uniform on ``[-1, 1]`` (variance 1/3) and the
    score is approximately standard normal.
    """
    flat = s.reshape(-1)[lay.pilot_cells]
    signed = flat * (1.0 - 2.0 * lay.pilot_bits)
    return float(signed.mean() * np.sqrt(3.0 * lay.n_pilot))


def cell_llrs(s: np.ndarray, lay: Layout) -> np.ndarray:
    """Log-likelihood ratio (positive for bit 0) of every cell.

    Model: a cell either carries the signal, with Gaussian noise of standard
    deviation ``sigma`` around ``s = +1`` (bit 0) or ``-1`` (bit 1), or is
    garbage (inside a protected region, clipped, destroyed), uniform on
    ``[-1, 1]``. ``sigma`` is estimated from the pilots; the garbage
    probability of each cell from the agreement of the pilots and the
    sharpness ``2|s| - 1`` of the other cells in its neighbourhood.

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

    evidence = 2.0 * np.abs(flat) - 1.0
    evidence[lay.pilot_cells] = signed_pilots
    present = _box_mean(evidence.reshape(s.shape), PRESENCE_RADIUS)
    reference = max(0.3, float(np.quantile(present, 0.9)))
    p = np.clip(present / reference, 0.02, 0.98)

    def loglik(dist: np.ndarray) -> np.ndarray:
        gauss = np.exp(-0.5 * (dist / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi))
        return np.log(p * gauss + (1.0 - p) * 0.5)

    llr = loglik(1.0 - s) - loglik(1.0 + s)
    return np.clip(llr, -LLR_MAX, LLR_MAX)
