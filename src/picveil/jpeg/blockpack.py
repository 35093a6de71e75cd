"""Store blocks of quantized DCT coefficients compactly, as a small JPEG.

A painted look (fill, blur, ...) keeps the region's original coefficients,
encrypted, in the container (container SPEC §4.3, kind 3). Written as raw
int16 and zlib'd they take about twice the bytes the same blocks take inside
the JPEG; Huffman-coded by libjpeg (optimised tables, progressive) they take
about what they took in the photo. The small JPEG is only a container for
integers: its pixels and its quantization tables mean nothing, and readers
take its coefficients, never its pixels.

* :func:`pack_blocks`: ``None`` when the layout has no such JPEG (the
  caller then stores the blocks another way);
* :func:`unpack_blocks`: the arrays back, checked against the shapes the
  caller expects.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np

__all__ = ["pack_blocks", "unpack_blocks"]

#: Pillow's ``subsampling`` argument for each ``(h, v)`` of the first component
#: when the others are 1×1.
_PILLOW_SUBSAMPLING = {(1, 1): 0, (2, 1): 1, (2, 2): 2}


def pack_blocks(blocks: Sequence[np.ndarray], sampling: Sequence[tuple[int, int]], width: int, height: int) -> bytes | None:
    """A JPEG whose component coefficient arrays are `blocks`.

    Parameters
    ----------
    blocks : sequence of numpy.ndarray
        Per component, ``(rows, cols, 8, 8)`` int16 quantized coefficients
        (a region of a JPEG, starting on an MCU boundary).
    sampling : sequence of (int, int)
        Each component's ``(h_samp, v_samp)`` in the source JPEG.
    width, height : int
        The region's size in pixels, clipped to the source image (so that the
        component block counts come out as in the source).

    Returns
    -------
    bytes or None
        A progressive JPEG with optimised Huffman tables whose coefficients
        are exactly `blocks`; ``None`` for layouts other than grayscale and
        three components at 4:4:4, 4:2:2 or 4:2:0 (or if the block counts do
        not come out as given).
    """
    from PIL import Image

    from .codec import read_coefficients

    if len(blocks) != len(sampling) or width < 1 or height < 1:
        return None
    if len(blocks) == 1:
        mode, kwargs = "L", {}
    elif len(blocks) == 3 and all(s == (1, 1) for s in sampling[1:]) and tuple(sampling[0]) in _PILLOW_SUBSAMPLING:
        mode, kwargs = "RGB", {"subsampling": _PILLOW_SUBSAMPLING[tuple(sampling[0])]}
    else:
        return None
    buf = io.BytesIO()
    Image.new(mode, (width, height)).save(buf, "JPEG", quality=50, **kwargs)
    carrier = read_coefficients(buf.getvalue())
    if len(carrier.components) != len(blocks):
        return None
    for ci, arr in enumerate(blocks):
        if carrier.array(ci).shape != arr.shape:
            return None
        carrier.set_blocks(ci, 0, 0, np.ascontiguousarray(arr, dtype=np.int16))
    return carrier.encode(progressive=True, optimize=True)


def unpack_blocks(data: bytes, shapes: Sequence[tuple[int, int]]) -> list[np.ndarray] | None:
    """The coefficient arrays of a :func:`pack_blocks` JPEG.

    Parameters
    ----------
    data : bytes
        What :func:`pack_blocks` returned.
    shapes : sequence of (int, int)
        The ``(rows, cols)`` of blocks expected per component.

    Returns
    -------
    list of numpy.ndarray or None
        ``(rows, cols, 8, 8)`` int16 per component; ``None`` if `data` is not
        a JPEG or its block arrays do not have the expected shapes.
    """
    from picveil.errors import PicveilError

    from .codec import read_coefficients

    try:
        carrier = read_coefficients(data)
    except (PicveilError, RuntimeError, ValueError):
        return None
    if len(carrier.components) != len(shapes):
        return None
    out = []
    for ci, (rows, cols) in enumerate(shapes):
        arr = carrier.array(ci)
        if arr.shape != (rows, cols, 8, 8):
            return None
        out.append(np.array(arr, dtype=np.int16))
    return out
