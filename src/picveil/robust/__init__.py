"""The robust in-image header: a few hundred bytes that survive the platforms.

picveil's container lives in APP11 segments, which social networks strip.
This package hides a copy of the header *in the picture itself*, outside the
protected regions, so that it survives metadata stripping, JPEG re-encoding
(down to quality 30), WebP, PNG screenshots of the pixels and downscaling.
The channel is specified in ``SPEC.md`` beside this file.

* :func:`capacity`: payload bytes an image can carry;
* :func:`embed`: write a payload into a :class:`~picveil.jpeg.codec.JpegCoefficients`
  (coefficient domain, in place);
* :func:`extract`, :func:`extract_from_jpeg`: read it back from decoded pixels
  or from any image file Pillow reads; :func:`extract_report` also says how;
* errors: :class:`HeaderCapacityError`, :class:`HeaderDamagedError` (and the
  project's :class:`~picveil.errors.NoPicveilDataError`).

Modules: ``layout`` (grid, windows, cell roles), ``channel`` (features, QIM,
soft values), ``coding`` (RM(1,7) preamble, Reed-Solomon body, CRCs),
``embedder``, ``extractor``.
"""

from __future__ import annotations

from .embedder import EmbedReport, capacity, embed
from .errors import HeaderCapacityError, HeaderDamagedError
from .extractor import Extraction, extract, extract_from_jpeg, extract_report

__all__ = [
    "EmbedReport",
    "Extraction",
    "HeaderCapacityError",
    "HeaderDamagedError",
    "capacity",
    "embed",
    "extract",
    "extract_from_jpeg",
    "extract_report",
]
