"""The IJG quality scale, and the quality a JPEG was written at.

Most encoders (libjpeg, libjpeg-turbo, so Pillow and OpenCV) turn a quality
``Q`` in 1..100 into quantization tables by scaling the example tables of
ITU-T T.81 Annex K (K.1 luminance, K.2 chrominance) as libjpeg's
``jpeg_quality_scaling`` does::

    scale = 5000 / Q        if Q < 50
            200 - 2 * Q     otherwise
    table = clamp((base * scale + 50) // 100, 1, 255)   # baseline

:func:`estimate_quality` inverts that: it finds the ``Q`` whose scaled tables
are nearest to a file's tables. For libjpeg-turbo files (Pillow, OpenCV,
most software) the match is exact. IJG libjpeg 9 changed the chrominance DC
entry of K.2 from 17 to 16, so its files estimate right but not exactly;
for an encoder with its own tables (mozjpeg's default, camera firmware) the
estimate is only the nearest point on the IJG scale, and ``exact`` is False.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from picveil.errors import CorruptImageError

__all__ = ["STD_CHROMINANCE", "STD_LUMINANCE", "QualityEstimate", "estimate_quality", "ijg_quant_table"]

#: ITU-T T.81 Annex K, table K.1 (luminance), natural (row-major) order.
STD_LUMINANCE = np.array(
    [
        [16, 11, 10, 16, 24, 40, 51, 61],
        [12, 12, 14, 19, 26, 58, 60, 55],
        [14, 13, 16, 24, 40, 57, 69, 56],
        [14, 17, 22, 29, 51, 87, 80, 62],
        [18, 22, 37, 56, 68, 109, 103, 77],
        [24, 35, 55, 64, 81, 104, 113, 92],
        [49, 64, 78, 87, 103, 121, 120, 101],
        [72, 92, 95, 98, 112, 100, 103, 99],
    ],
    dtype=np.int64,
)
#: ITU-T T.81 Annex K, table K.2 (chrominance), natural order.
STD_CHROMINANCE = np.array(
    [
        [17, 18, 24, 47, 99, 99, 99, 99],
        [18, 21, 26, 66, 99, 99, 99, 99],
        [24, 26, 56, 99, 99, 99, 99, 99],
        [47, 66, 99, 99, 99, 99, 99, 99],
        [99, 99, 99, 99, 99, 99, 99, 99],
        [99, 99, 99, 99, 99, 99, 99, 99],
        [99, 99, 99, 99, 99, 99, 99, 99],
        [99, 99, 99, 99, 99, 99, 99, 99],
    ],
    dtype=np.int64,
)


def ijg_quant_table(quality: int, *, chroma: bool = False) -> np.ndarray:
    """The quantization table libjpeg writes for `quality` (baseline, 8-bit).

    Parameters
    ----------
    quality : int
        1..100.
    chroma : bool
        The chrominance table (K.2) instead of the luminance table (K.1).

    Returns
    -------
    numpy.ndarray
        ``uint16``, shape ``(8, 8)``, natural order, values 1..255.

    Raises
    ------
    ValueError
        `quality` is not an integer from 1 to 100.
    """
    if isinstance(quality, bool) or not isinstance(quality, (int, np.integer)) or not 1 <= quality <= 100:
        raise ValueError(f"quality must be an integer from 1 to 100, got {quality!r}")
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    base = STD_CHROMINANCE if chroma else STD_LUMINANCE
    return np.clip((base * scale + 50) // 100, 1, 255).astype(np.uint16)


@dataclass(frozen=True)
class QualityEstimate:
    """The IJG quality nearest to a JPEG's quantization tables.

    Attributes
    ----------
    quality : int
        1..100.
    exact : bool
        The file's tables are exactly libjpeg's tables for `quality`.
    error : float
        Mean absolute difference between the file's tables and libjpeg's for
        `quality` (0.0 when exact).
    """

    quality: int
    exact: bool
    error: float


def estimate_quality(jpeg: bytes) -> QualityEstimate:
    """Estimate the IJG quality a JPEG was encoded at, from its DQT tables.

    Only the header is parsed (Pillow reads the tables without decoding any
    pixel). Luminance table 0 is compared, and chrominance table 1 too when
    present.

    Parameters
    ----------
    jpeg : bytes
        A JPEG file.

    Returns
    -------
    QualityEstimate

    Raises
    ------
    CorruptImageError
        The file is not a JPEG Pillow can read, or it has no table 0.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(jpeg)) as im:
            tables = {k: np.asarray(v, dtype=np.int64).reshape(8, 8) for k, v in getattr(im, "quantization", {}).items()}
            fmt = im.format
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise CorruptImageError(f"Cannot read the JPEG's quantization tables: {exc}") from exc
    if fmt != "JPEG" or 0 not in tables:
        raise CorruptImageError("The file has no JPEG quantization table 0 to estimate a quality from.")

    def distance(q: int) -> float:
        err = float(np.abs(tables[0] - ijg_quant_table(q)).mean())
        if 1 in tables:
            err = (err + float(np.abs(tables[1] - ijg_quant_table(q, chroma=True)).mean())) / 2
        return err

    # min() keeps the first of equal distances: the lowest such quality.
    err, quality = min((distance(q), q) for q in range(1, 101))
    return QualityEstimate(quality=quality, exact=err == 0.0, error=err)
