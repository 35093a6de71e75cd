"""The interface every protection scheme implements."""

from __future__ import annotations

from typing import Protocol

import numpy as np


class KeyStream(Protocol):
    """What a scheme may ask of a region key (see :class:`picveil.crypto.RegionKey`)."""

    def stream(self, label: bytes, n: int) -> bytes: ...


class Scheme(Protocol):
    """A keyed, exactly invertible transform of one region's blocks.

    ``blocks`` is a list with one array per JPEG component, each of shape
    ``(rows, cols, 8, 8)``, dtype ``int16``, holding quantized DCT
    coefficients in natural (row-major) order: exactly the component's blocks
    inside the region, in raster order. ``protect`` and ``reveal`` return new
    arrays of the same shapes and dtype and never modify their input; for any
    key, ``reveal(protect(b, k), k) == b``.
    """

    scheme_id: int
    name: str

    def protect(self, blocks: list[np.ndarray], key: KeyStream) -> list[np.ndarray]: ...

    def reveal(self, blocks: list[np.ndarray], key: KeyStream) -> list[np.ndarray]: ...
