"""Reading the robust header from decoded pixels, at any scale (SPEC.md §8).

The extractor needs nothing but the picture: it tries every grid the
received size allows (:func:`~picveil.robust.layout.candidate_grids`),
keeps those whose cells sit on the QIM lattices (and whose pilots agree)
far beyond chance, and decodes the preamble
and then the body of the best one. The grid is defined relative to the
image, so a resized copy is read without knowing the scale.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from picveil.errors import CorruptImageError, NoPicveilDataError, NotAnImageError

from . import coding
from .channel import area_resize, cell_llrs, features, presence_score, soft_values, working_luma
from .layout import DELTA
from .errors import HeaderDamagedError
from .layout import Grid, candidate_grids, layout

__all__ = ["Extraction", "detect", "extract", "extract_from_jpeg", "extract_report", "frames_found"]

#: Presence score from which a grid counts as found (about 1e-9 by chance per grid).
Z_FOUND = 6.0
#: Share of the body's coded bits, least sure first, left out of the third
#: decoding pass's extra pilots (the others count as known).
SURE_SHARE = 0.2
#: Long edge of the copy on which grids are searched (cells stay >= 8 px at 128 levels).
DETECT_LONG_EDGE = 1024


@dataclass(frozen=True)
class Extraction:
    """A decoded robust header and how it was found.

    Attributes
    ----------
    payload : bytes
    grid : (int, int)
        Cells across and down.
    score : float
        Presence score: evidence of the signal in standard deviations of
        chance (SPEC.md §8.2).
    cell_px : float
        Cell width in pixels of the received image.
    tone : (float, float) or None
        ``(b, c)``: the picture's grey levels had been changed to
        ``x + b + c (x - 128)`` (a brightness, contrast or gamma edit,
        :data:`TONE_GAINS`); None when the header was read as it is.
    """

    payload: bytes
    grid: tuple[int, int]
    score: float
    cell_px: float
    tone: tuple[float, float] | None = None


def detect(image: np.ndarray) -> list[tuple[float, Grid]]:
    """Grids whose signal is found in `image`, best first.

    Parameters
    ----------
    image : numpy.ndarray
        ``uint8``, ``(H, W)`` or ``(H, W, 3)``.

    Returns
    -------
    list of (float, Grid)
        Presence scores of at least :data:`Z_FOUND`, in decreasing order; empty
        if the image carries no robust header (or one damaged beyond recognition).
    """
    return [(z, grid) for z, grid, _ in _detect(image)]


def presence(image: np.ndarray) -> float:
    """The largest presence score of any grid in `image` (at the working size,
    as it is): about 3 for a picture without a header (the best of many
    chance scores), more where a damaged or misaligned header shows."""
    y = working_luma(image)
    h, w = np.asarray(image).shape[:2]
    small = area_resize(y, DETECT_LONG_EDGE)
    best = 0.0
    for grid in candidate_grids(w, h):
        try:
            lay = layout(grid)
            f = features(small, grid)
        except ValueError:
            continue
        best = max(best, presence_score(soft_values(f, lay.dither), lay))
    return best


def _detect(image: np.ndarray, tones: bool = False) -> list[tuple[float, Grid, tuple[float, float] | None]]:
    """:func:`detect`, with each grid's tone change (:func:`_found`); with
    `tones`, read through :data:`TONE_GAINS`' tone changes only."""
    y = working_luma(image)
    h, w = np.asarray(image).shape[:2]
    found = _found(area_resize(y, DETECT_LONG_EDGE), w, h, tones)
    if not found and max(y.shape) > DETECT_LONG_EDGE:
        # A picture that is fine-grained noise all over (a region scrambled with
        # scramble-v5/v6/v7 across the whole image, the header over it) loses the
        # features to a box filter of non-integer factor: 1.6 levels rms on a
        # 1800 px picture, against 0.15 at the working size. Look there too.
        found = _found(y, w, h, tones)
    return found


def frames_found(image: np.ndarray, frames) -> list[tuple[int, int, int, int]]:
    """Those of `frames` (``x0, y0, x1, y1`` in `image`) inside which
    :func:`detect` finds a header's grid, in the given order.

    Searched on one copy of the picture at the working size (the frames
    scaled to it), so that trying many frames of a large picture costs
    about as much as one :func:`detect`; :func:`extract` on the frame
    itself then reads the header."""
    y = working_luma(image)
    h, w = y.shape
    small = area_resize(y, DETECT_LONG_EDGE) if max(h, w) > DETECT_LONG_EDGE else y
    fy, fx = small.shape[0] / h, small.shape[1] / w
    out = []
    for x0, y0, x1, y1 in frames:
        crop = small[round(y0 * fy) : round(y1 * fy), round(x0 * fx) : round(x1 * fx)]
        if min(crop.shape) and _found(crop, x1 - x0, y1 - y0):
            out.append((x0, y0, x1, y1))
    return out


#: Tone changes the extractor undoes when it finds no header as the picture is:
#: the cells' features are read as ``f + b + c (f - 128)``, ``c`` one of these
#: and ``b`` fitted to the pilots (SPEC.md §8.4). A header moves features onto
#: lattices 5.5 grey levels apart, so a brightness change of one or two levels
#: (an auto-enhance, a "levels" edit, a full/limited range mix-up), or a gain
#: or gamma change of 1-5 %, erased it (a new-user test: +1, -1, x1.01, gamma
#: 0.98 all gave "no picveil data").
TONE_GAINS = (0.0, -0.02, 0.02, -0.04, 0.04, -0.06, 0.06)


def _tone(f: np.ndarray, lay) -> tuple[float, float]:
    """``(b, c)``: the global tone change of the features `f` of `lay`'s grid,
    read from its pilots (whose bits are known): for each gain ``c`` of
    :data:`TONE_GAINS`, the offset ``b`` is the circular mean of the pilots'
    distances to their lattice, and the pair whose mean is most concentrated wins."""
    cells = lay.pilot_cells
    fp = f.reshape(-1)[cells]
    r = fp - lay.dither.reshape(-1)[cells] - lay.pilot_bits * (DELTA / 2.0)
    best = (-1.0, 0.0, 0.0)
    for c in TONE_GAINS:
        m = np.exp(2j * np.pi * (r - c * (fp - 128.0)) / DELTA).mean()
        if abs(m) > best[0]:
            best = (abs(m), float(np.angle(m)) * DELTA / (2 * np.pi), c)
    return best[1], best[2]


def _untoned(f: np.ndarray, tone: tuple[float, float] | None) -> np.ndarray:
    return f if tone is None else f - (tone[0] + tone[1] * (f - 128.0))


def _found(y: np.ndarray, w: int, h: int, tones: bool = False) -> list[tuple[float, Grid, tuple[float, float] | None]]:
    """:func:`detect` on the luma `y` of a ``w × h`` image: ``(z, grid, tone)``
    (``tone`` None, or with `tones` the change :func:`_tone` undid)."""
    found = []
    for grid in candidate_grids(w, h):
        try:
            lay = layout(grid)
        except ValueError:
            continue
        try:
            f = features(y, grid)
        except ValueError:  # cells smaller than a pixel: not this grid
            continue
        tone = _tone(f, lay) if tones else None
        z = presence_score(soft_values(_untoned(f, tone), lay.dither), lay)
        if z >= Z_FOUND:
            found.append((z, grid, tone))
    found.sort(key=lambda t: -t[0])
    return found


def _decode_grid(y: np.ndarray, grid: Grid, tone: tuple[float, float] | None = None) -> bytes | None:
    lay = layout(grid)
    s = soft_values(_untoned(features(y, grid), tone), lay.dither)
    llr = cell_llrs(s, lay).reshape(-1)
    pre_llr = np.bincount(
        np.arange(lay.n_pre) % coding.PRE_BITS, weights=llr[lay.preamble_cells], minlength=coding.PRE_BITS
    )
    pre = coding.preamble_decode(pre_llr)
    if pre is None:
        return None
    n_bits = coding.body_bits(pre.length, pre.parity_class)
    idx = np.arange(lay.n_body) % n_bits  # the coded bit each body cell carries

    def votes(cell_llr: np.ndarray) -> np.ndarray:
        return np.bincount(idx, weights=cell_llr[lay.body_cells], minlength=n_bits)[:n_bits]

    def body(cell_llr: np.ndarray) -> bytes | None:
        return coding.body_decode(votes(cell_llr), pre.length, pre.parity_class)

    payload = body(llr)
    if payload is None:  # again, with the decoded preamble's cells as extra pilots (a finer garbage map)
        pre_bits = coding.preamble_encode(pre)[np.arange(lay.n_pre) % coding.PRE_BITS]
        known = (lay.preamble_cells, pre_bits)
        llr = cell_llrs(s, lay, known).reshape(-1)
        payload = body(llr)
        if payload is None:  # and with the body bits the cells' combined vote is surest of
            vote = votes(llr)
            sure = np.abs(vote) >= np.quantile(np.abs(vote), SURE_SHARE)
            cells = np.concatenate([known[0], lay.body_cells[sure[idx]]])
            bits = np.concatenate([known[1], (vote[idx][sure[idx]] < 0).astype(np.uint8)])
            payload = body(cell_llrs(s, lay, (cells, bits)).reshape(-1))
    return payload


def extract_report(image: np.ndarray, *, tones: bool = True) -> Extraction:
    """Find and decode the robust header of a decoded image.

    Parameters
    ----------
    image : numpy.ndarray
        ``uint8``, ``(H, W)`` gray or ``(H, W, 3)`` RGB, at any scale of the
        embedded image (same aspect ratio, no crop).
    tones : bool
        When nothing is found as it is, look again through a tone change
        (:data:`TONE_GAINS`); False for a second look at another view of a
        picture already searched so (it doubles the time of a miss).

    Returns
    -------
    Extraction

    Raises
    ------
    NoPicveilDataError
        If no grid's signal is found.
    HeaderDamagedError
        If the signal is found but the header does not decode exactly.
    ValueError
        If `image` is not a ``uint8`` gray or RGB array.
    """
    y = working_luma(image)
    w = np.asarray(image).shape[1]
    seen = False
    for toned in (False, True) if tones else (False,):  # as it is, then through a tone change (a brightness edit)
        found = _detect(image, toned)
        seen = seen or bool(found)
        for z, grid, tone in found:
            payload = _decode_grid(y, grid, tone)
            if payload is not None:
                return Extraction(payload, (grid.cols, grid.rows), z, w / grid.cols, tone)
    if not seen:
        raise NoPicveilDataError(
            "No picveil header was found in the image.",
            hint="The image carries no robust picveil header, or it was cropped, rotated or edited.",
        )
    raise HeaderDamagedError("The image carries a picveil header, but it is too damaged to read.")


def extract(image: np.ndarray, *, tones: bool = True) -> bytes:
    """The payload of the robust header of a decoded image (see :func:`extract_report`)."""
    return extract_report(image, tones=tones).payload


def extract_from_jpeg(data: bytes) -> bytes:
    """Decode an image file with Pillow (JPEG, WebP, PNG, ...) and :func:`extract` its header.

    Raises
    ------
    NotAnImageError, CorruptImageError
        If Pillow cannot read `data`.
    NoPicveilDataError, HeaderDamagedError
        As :func:`extract_report`.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(bytes(data))) as im:
            im = im.convert("L") if im.mode in ("L", "I;16", "I", "F") else im.convert("RGB")
            image = np.asarray(im)
    except UnidentifiedImageError as exc:
        raise NotAnImageError("The data is not an image Pillow can read.") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        from picveil.jpeg.codec import huffman_copy

        copy = huffman_copy(bytes(data))
        if copy is not None:  # an arithmetic-coded JPEG: its Huffman copy has the same pixels
            return extract_from_jpeg(copy)
        raise CorruptImageError(f"The image is truncated or corrupt: {exc}.") from exc
    return extract(image)
