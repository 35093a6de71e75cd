"""The protected file's quantization lattice, found again in a received picture.

Every coefficient picveil writes, scrambled or not, is an integer times the
protected JPEG's quantization step for its frequency. A lossless copy of the
displayed pixels (a PNG, a screenshot at 100 %), or a re-encode finer than
the protected file (JPEG quality 95 of a quality 92 file), moves each
coefficient by less than half a step, so the nearest multiple is the value
picveil wrote. Snapping to it removes the copy's noise instead of passing it
on to the revealed region.

The protected file's tables are not in the robust header, only their
fingerprint (SPEC.md §13.1). :func:`find_tables` looks for them among the
tables of the IJG quality scale (libjpeg, libjpeg-turbo, Pillow, OpenCV and
most software; what ``picveil fit`` writes) whose fingerprint matches, and
keeps the one the received luma fits, if any fits clearly. A photo whose
tables are its camera's own gets no snapping: the reveal is then what it was
before.

:func:`snap` replaces each coefficient by its posterior mean given the
lattice: a Gaussian noise per frequency, its strength measured from the
region's own coefficients (circular statistics), and a Laplacian prior over
the multiples. Where the noise is small against the step this is the nearest
multiple; where it is not (a coarser re-encode) it moves the coefficient
little or not at all.
"""

from __future__ import annotations

import numpy as np

__all__ = ["candidate_tables", "find_tables", "lattice_fit", "snap"]

#: A table fits when, over the frequencies that can tell (:func:`lattice_fit`),
#: the mean of cos(2πc/Q) over each one's informative coefficients (1 on the
#: lattice, about 0 off it) averages at least this ...
FIT_MEAN = 0.5
#: ... and is at least this at every one of them (a table of another quality
#: shares many steps with the right one, but not all).
FIT_MIN = 0.15
#: A frequency can tell with at least this many coefficients off the zero multiple ...
FIT_MIN_SAMPLES = 30
#: ... and a fit needs at least this many such frequencies.
FIT_MIN_FREQUENCIES = 3
#: Frequencies whose coefficients' mean cos(2πc/Q) is below this are left
#: alone by :func:`snap` (noise above about a quarter of the step).
SNAP_MIN_COHERENCE = 0.1
#: Most luma blocks :func:`find_tables` reads (a regular subsample beyond).
FIT_MAX_BLOCKS = 40_000


def candidate_tables(fingerprint: int, n_components: int) -> list[tuple[int, list[np.ndarray]]]:
    """IJG qualities whose tables (luma, then chroma for every further
    component) have the header's u8 `fingerprint`: ``[(quality, tables)]``,
    tables ``(8, 8)`` float64 in natural order."""
    from picveil.platforms.quality import ijg_quant_table

    from .header import tables_fingerprint

    out = []
    for quality in range(1, 101):
        luma = ijg_quant_table(quality)
        tables = [luma] + [ijg_quant_table(quality, chroma=True)] * (n_components - 1)
        if tables_fingerprint(tables) == fingerprint:
            out.append((quality, [t.astype(np.float64) for t in tables]))
    return out


def lattice_fit(blocks: np.ndarray, table: np.ndarray, received: np.ndarray | None = None) -> np.ndarray:
    """How well DCT `blocks` ``(n, 8, 8)`` lie on the lattice of `table`, per frequency.

    Only frequencies whose step is at least 2, and at least twice the received
    file's own step (`received`, a JPEG's table; ``None`` for pixels), can
    tell, and of their coefficients only those off the zero multiple
    (``|c| > Q/2``), when there are :data:`FIT_MIN_SAMPLES` of them.
    Returns ``(8, 8)``: the mean of cos(2πc/Q) over those coefficients, about
    1 on the lattice and 0 off it; NaN where the frequency cannot tell.
    """
    q = np.asarray(table, dtype=np.float64)
    usable = q >= 2
    if received is not None:
        usable &= np.asarray(received, dtype=np.float64) * 2 <= q
    out = np.full((8, 8), np.nan)
    for u, v in zip(*np.nonzero(usable)):
        c = blocks[:, u, v]
        c = c[np.abs(c) > q[u, v] / 2]
        if len(c) >= FIT_MIN_SAMPLES:
            out[u, v] = float(np.cos(2 * np.pi * c / q[u, v]).mean())
    return out


def _fits(scores: np.ndarray) -> float | None:
    """The mean of a :func:`lattice_fit` result if it passes (:data:`FIT_MEAN`, :data:`FIT_MIN`), else ``None``."""
    s = scores[np.isfinite(scores)]
    if len(s) < FIT_MIN_FREQUENCIES or s.min() < FIT_MIN or s.mean() < FIT_MEAN:
        return None
    return float(s.mean())


def find_tables(
    luma: np.ndarray, fingerprint: int, n_components: int, received: np.ndarray | None = None
) -> list[np.ndarray] | None:
    """The protected file's quantization tables, if a received picture still shows them.

    Parameters
    ----------
    luma : numpy.ndarray
        ``(n, 8, 8)`` DCT blocks of the received luma on the original grid
        (any subset of blocks: inside and outside regions alike lie on the lattice).
    fingerprint : int
        The robust header's ``tables`` (SPEC.md §13.1).
    n_components : int
        1 (gray) or 3.
    received : numpy.ndarray or None
        The received JPEG's luma table, when `luma` comes from its coefficients.

    Returns
    -------
    list of numpy.ndarray or None
        One ``(8, 8)`` float64 table per component, or ``None`` when no IJG
        table with that fingerprint fits (:data:`FIT_MEAN`, :data:`FIT_MIN`):
        another encoder's tables, or a re-encode too coarse to show them.
    """
    if len(luma) > FIT_MAX_BLOCKS:
        luma = luma[:: -(-len(luma) // FIT_MAX_BLOCKS)]
    best, best_score = None, -1.0
    for _, tables in candidate_tables(fingerprint, n_components):
        score = _fits(lattice_fit(luma, tables[0], received))
        if score is not None and score > best_score:
            best, best_score = tables, score
    return best


def snap(coef: np.ndarray, table: np.ndarray, keep: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Move noisy DCT coefficients back towards the lattice of `table`.

    Parameters
    ----------
    coef : numpy.ndarray
        ``(n, 8, 8)`` float coefficients of one component of one region, each
        a multiple of `table` plus noise.
    table : numpy.ndarray
        ``(8, 8)`` quantization steps.
    keep : numpy.ndarray or None
        ``(n,)`` bool: blocks left as they are (clipped blocks, whose
        estimates carry more than noise), also left out of the noise measurement.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        The snapped coefficients (a new array) and ``(8, 8)`` noise-to-step
        ratios ``sigma / Q`` measured per frequency (``inf`` where the
        frequency was left alone).

    Per frequency: ``m = mean cos(2πc/Q)`` over the blocks used gives the noise
    ``sigma = Q·sqrt(-ln m / 2π²)`` (a wrapped Gaussian); below
    :data:`SNAP_MIN_COHERENCE` nothing changes. Otherwise each coefficient
    becomes the mean of its three nearest multiples weighted by the Gaussian
    likelihood and a Laplacian prior of scale ``max(mean |c|, Q/2)``.
    """
    out = np.array(coef, dtype=np.float64, copy=True)
    ratio = np.full((8, 8), np.inf)
    use = np.ones(len(out), dtype=bool) if keep is None else ~np.asarray(keep, dtype=bool)
    if not use.any():
        return out, ratio
    for u in range(8):
        for v in range(8):
            q = float(table[u, v])
            c = out[use, u, v]
            m = float(np.cos(2 * np.pi * c / q).mean())
            if m < SNAP_MIN_COHERENCE:
                continue
            sigma = q * max(np.sqrt(-np.log(min(m, 1.0 - 1e-12)) / (2 * np.pi**2)), 0.02)
            ratio[u, v] = sigma / q
            scale = max(float(np.abs(c).mean()), q / 2)
            k = np.rint(c / q)
            points = (k[:, None] + np.array([-1.0, 0.0, 1.0])) * q
            logw = -0.5 * ((c[:, None] - points) / sigma) ** 2 - np.abs(points) / scale
            w = np.exp(logw - logw.max(axis=1, keepdims=True))
            out[use, u, v] = (w * points).sum(axis=1) / w.sum(axis=1)
    return out, ratio
