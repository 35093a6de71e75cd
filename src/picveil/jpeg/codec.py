"""Quantized DCT coefficients of a JPEG: read, change, encode (the DCT domain).

:func:`read_coefficients` parses a JPEG with libjpeg(-turbo) into a
:class:`JpegCoefficients` without decoding to pixels; :meth:`~JpegCoefficients.encode`
writes the coefficients back as a Huffman-coded JPEG with the same
quantization tables, sampling factors and component ids. Reading and
encoding with no change is lossless: the output decodes to exactly the
pixels of the input.

Array contracts
---------------
* Blocks are ``int16`` arrays of shape ``(h, w, 8, 8)``: ``h`` block rows by
  ``w`` block columns of one component, each block in natural (row-major)
  order, so ``blocks[..., v, u]`` is the coefficient of vertical frequency
  ``v`` and horizontal frequency ``u`` and ``blocks[..., 0, 0]`` is DC. This
  is libjpeg's ``JBLOCK`` order, not the zigzag order of the file.
* Values are quantized: the DCT output divided by the quantization table.
  An 8-bit Huffman JPEG can hold AC values in ``[-1023, 1023]`` and DC
  values in ``[-1024, 1023]``; :meth:`JpegCoefficients.set_blocks` refuses
  anything else.
* Quantization tables are ``uint16`` arrays of shape ``(8, 8)``, natural order.

Only 8-bit JPEGs with one (grayscale) or three (YCbCr or RGB) components are
accepted; the output carries only a JFIF (APP0) or Adobe (APP14) marker where
libjpeg writes one, so callers add metadata segments themselves.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, replace

import numpy as np

from picveil.errors import (
    CorruptImageError,
    ImageTooLargeError,
    NotAnImageError,
    UnsupportedImageError,
)
from picveil.jpeg import _jpegcoef

__all__ = [
    "AC_MAX",
    "AC_MIN",
    "DC_MAX",
    "DC_MIN",
    "DEFAULT_MAX_PIXELS",
    "LIBJPEG_VERSION",
    "Component",
    "JpegCoefficients",
    "read_coefficients",
]

#: Largest image, in pixels, that :func:`read_coefficients` reads by default.
DEFAULT_MAX_PIXELS = 200_000_000
#: Range of quantized coefficients an 8-bit Huffman JPEG can hold.
AC_MIN, AC_MAX = -_jpegcoef.COEF_MAX, _jpegcoef.COEF_MAX
DC_MIN, DC_MAX = _jpegcoef.DC_MIN, _jpegcoef.COEF_MAX
#: The libjpeg the extension was built against, e.g. ``"libjpeg-turbo 2.1.5"``.
LIBJPEG_VERSION: str = _jpegcoef.LIBJPEG_VERSION

_SOI = b"\xff\xd8"
_BLOCK = 8
# libjpeg's J_COLOR_SPACE values (jpeglib.h).
_COLOR_SPACES = {0: "unknown", 1: "gray", 2: "rgb", 3: "ycbcr", 4: "cmyk", 5: "ycck"}
_SUPPORTED = {1: ("gray",), 3: ("ycbcr", "rgb")}
# (max_h / chroma_h, max_v / chroma_v) -> the usual name.
_SUBSAMPLING_NAMES = {
    (1, 1): "4:4:4",
    (2, 1): "4:2:2",
    (2, 2): "4:2:0",
    (1, 2): "4:4:0",
    (4, 1): "4:1:1",
}
_SUPPORTED_TEXT = "picveil supports 8-bit baseline or progressive JPEGs with 1 or 3 components"


@dataclass(frozen=True)
class Component:
    """Geometry of one component (Y, Cb, Cr or gray) of a JPEG.

    Attributes
    ----------
    index : int
        Position in the frame header, ``0 .. n-1``; the ``ci`` of the methods.
    id : int
        Component identifier written in the file (usually 1, 2, 3).
    h_samp, v_samp : int
        Horizontal and vertical sampling factors (1..4).
    quant_index : int
        Quantization table slot (0..3) the component uses.
    width_in_blocks, height_in_blocks : int
        Size of the component in 8x8 blocks, without the padding blocks that
        complete the last MCU.
    """

    index: int
    id: int
    h_samp: int
    v_samp: int
    quant_index: int
    width_in_blocks: int
    height_in_blocks: int


class JpegCoefficients:
    """The quantized DCT coefficients of one JPEG, changeable in place.

    Create with :func:`read_coefficients`. The attributes describe the input
    and are read-only by convention; block methods copy in and out.

    Attributes
    ----------
    width, height : int
        Image size in pixels.
    components : tuple of Component
        One per component, in frame-header order.
    color_space : str
        ``'gray'``, ``'ycbcr'`` or ``'rgb'`` (libjpeg's reading of the JFIF
        and Adobe markers and component ids).
    progressive, arithmetic : bool
        How the input was coded. :meth:`encode` always writes Huffman codes.
    mcu_width, mcu_height : int
        MCU size in pixels: ``8 * max sampling factor``, and 8 for a
        one-component image (whose scans are never interleaved).

    Notes
    -----
    Not safe to share between threads while one calls :meth:`set_blocks`;
    :meth:`set_blocks` during an :meth:`encode` in another thread raises
    ``RuntimeError``.
    """

    def __init__(self, decoder: _jpegcoef.Decoder) -> None:
        self._decoder = decoder
        self.width: int = decoder.image_width
        self.height: int = decoder.image_height
        self.components: tuple[Component, ...] = tuple(
            Component(ci, *decoder.component(ci)) for ci in range(decoder.num_components)
        )
        self.color_space: str = _COLOR_SPACES.get(decoder.jpeg_color_space, "unknown")
        self.progressive: bool = decoder.progressive_mode
        self.arithmetic: bool = decoder.arith_code
        if len(self.components) == 1:
            # A single-component scan is not interleaved: its MCU is one block,
            # whatever sampling factors the file declares, so report them as 1×1.
            self.components = (replace(self.components[0], h_samp=1, v_samp=1),)
            self.mcu_width = self.mcu_height = _BLOCK
        else:
            self.mcu_width = _BLOCK * decoder.max_h_samp_factor
            self.mcu_height = _BLOCK * decoder.max_v_samp_factor

    def __repr__(self) -> str:
        mode = "progressive" if self.progressive else "baseline"
        return (
            f"<JpegCoefficients {self.width}x{self.height} {self.color_space} "
            f"{self.subsampling()} {mode}>"
        )

    def quant_table(self, ci: int) -> np.ndarray:
        """Return the quantization table of component `ci`.

        Returns
        -------
        numpy.ndarray
            ``uint16``, shape ``(8, 8)``, natural (row-major) order; a copy.
        """
        return self._decoder.quant_table(operator.index(ci))

    def subsampling(self) -> str:
        """Name the chroma subsampling: ``'4:2:0'``, ``'4:2:2'``, ``'4:4:4'``,
        ``'4:4:0'``, ``'4:1:1'`` or ``'gray'``.

        Anything else is described by its sampling factors, e.g.
        ``'h2v1,h1v2,h1v1'``.
        """
        comps = self.components
        if len(comps) == 1:
            return "gray"
        luma, chroma = comps[0], comps[1:]
        max_h = max(c.h_samp for c in comps)
        max_v = max(c.v_samp for c in comps)
        same_chroma = all((c.h_samp, c.v_samp) == (chroma[0].h_samp, chroma[0].v_samp) for c in chroma)
        if (luma.h_samp, luma.v_samp) == (max_h, max_v) and same_chroma:
            c = chroma[0]
            if max_h % c.h_samp == 0 and max_v % c.v_samp == 0:
                name = _SUBSAMPLING_NAMES.get((max_h // c.h_samp, max_v // c.v_samp))
                if name is not None:
                    return name
        return ",".join(f"h{c.h_samp}v{c.v_samp}" for c in comps)

    def blocks(self, ci: int, by0: int, by1: int, bx0: int, bx1: int) -> np.ndarray:
        """Copy out the blocks of rows ``by0:by1`` and columns ``bx0:bx1``.

        Parameters
        ----------
        ci : int
            Component index.
        by0, by1, bx0, bx1 : int
            Block rectangle, half-open, inside
            ``(height_in_blocks, width_in_blocks)`` of the component.

        Returns
        -------
        numpy.ndarray
            ``int16``, shape ``(by1 - by0, bx1 - bx0, 8, 8)``, natural order.

        Raises
        ------
        ValueError
            If `ci` or the rectangle is out of range.
        """
        idx = operator.index
        return self._decoder.get_blocks(idx(ci), idx(by0), idx(by1), idx(bx0), idx(bx1))

    def set_blocks(self, ci: int, by0: int, bx0: int, blocks: np.ndarray) -> None:
        """Overwrite blocks of component `ci`, starting at block row `by0`
        and column `bx0`.

        Parameters
        ----------
        ci, by0, bx0 : int
            Component index and top-left block.
        blocks : numpy.ndarray
            Integer array of shape ``(h, w, 8, 8)``, natural order, with AC
            values in ``[AC_MIN, AC_MAX]`` and DC values in
            ``[DC_MIN, DC_MAX]``. Other integer dtypes are converted to
            ``int16`` after the range check.

        Raises
        ------
        TypeError
            If `blocks` is not an integer array.
        ValueError
            If the shape, the position or a value is out of range.
        """
        array = np.asarray(blocks)
        if array.ndim != 4 or array.shape[2:] != (_BLOCK, _BLOCK):
            raise ValueError(f"blocks must have shape (h, w, 8, 8), got {array.shape}")
        if array.dtype != np.int16:
            if array.dtype.kind not in "iu":
                raise TypeError(f"blocks must be an integer array (int16), got dtype {array.dtype}")
            if array.size and (array.min() < DC_MIN or array.max() > DC_MAX):
                raise ValueError(
                    f"coefficients must lie in [{DC_MIN}, {DC_MAX}], "
                    f"got values in [{array.min()}, {array.max()}]"
                )
            array = array.astype(np.int16)
        array = np.ascontiguousarray(array)
        self._decoder.set_blocks(operator.index(ci), operator.index(by0), operator.index(bx0), array)

    def array(self, ci: int) -> np.ndarray:
        """Copy out all blocks of component `ci`.

        Returns
        -------
        numpy.ndarray
            ``int16``, shape ``(height_in_blocks, width_in_blocks, 8, 8)``,
            natural order.
        """
        comp = self.components[operator.index(ci)]
        return self.blocks(ci, 0, comp.height_in_blocks, 0, comp.width_in_blocks)

    def encode(self, *, progressive: bool | None = None, optimize: bool = False) -> bytes:
        """Write the coefficients as a Huffman-coded JPEG.

        Parameters
        ----------
        progressive : bool or None
            Write libjpeg's standard progressive script (``True``) or a
            baseline file (``False``); ``None`` keeps the input's mode (not
            its scan script).
        optimize : bool
            Compute optimal Huffman tables (always done for progressive).

        Returns
        -------
        bytes
            A complete JPEG: SOI, a JFIF marker if the input had one (with its
            density), an Adobe marker if libjpeg writes one for the color
            space, tables, scans, EOI. No other markers.
        """
        if progressive is None:
            progressive = self.progressive
        try:
            return self._decoder.write(bool(progressive), bool(optimize))
        except _jpegcoef.JpegError as exc:
            raise RuntimeError(f"libjpeg could not encode the coefficients: {exc}") from exc


def read_coefficients(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> JpegCoefficients:
    """Read the quantized DCT coefficients of a JPEG.

    Parameters
    ----------
    data : bytes-like
        A complete JPEG file.
    max_pixels : int
        Refuse images with more pixels than this, before reading any
        coefficients (a 200-megapixel 4:2:0 image needs about 600 MB).

    Returns
    -------
    JpegCoefficients

    Raises
    ------
    NotAnImageError
        If `data` does not start with the JPEG SOI marker.
    CorruptImageError
        If libjpeg reports an error or any corrupt-data warning (a truncated
        file is an error here, never zero-filled).
    UnsupportedImageError
        For valid JPEGs picveil cannot handle: 12-bit, lossless, hierarchical,
        CMYK/YCCK or other component counts.
    ImageTooLargeError
        If ``width * height > max_pixels``.
    """
    if isinstance(max_pixels, bool) or operator.index(max_pixels) <= 0:
        raise ValueError(f"max_pixels must be a positive integer, got {max_pixels!r}")
    data = bytes(data)
    if not data.startswith(_SOI):
        raise NotAnImageError("The data is not a JPEG: it does not start with the SOI marker FF D8.")
    try:
        decoder = _jpegcoef.read_header(data, operator.index(max_pixels))
        _check_supported(decoder)
        decoder.read_coefficients()
    except _jpegcoef.JpegTooLarge as exc:
        width, height = exc.args
        raise ImageTooLargeError(
            f"The image is {width}×{height} = {width * height / 1e6:.1f} megapixels, "
            f"over the limit of {max_pixels / 1e6:g} megapixels."
        ) from None
    except _jpegcoef.JpegUnsupported as exc:
        raise UnsupportedImageError(f"Unsupported JPEG: {exc}; {_SUPPORTED_TEXT}.") from exc
    except _jpegcoef.JpegError as exc:
        raise CorruptImageError(f"The JPEG is truncated or corrupt: {exc}.") from exc
    return JpegCoefficients(decoder)


#: Start-of-frame markers of arithmetic-coded JPEGs (ITU T.81 Table B.1: SOF9-SOF11, SOF13-SOF15).
_ARITHMETIC_SOF = frozenset({0xFFC9, 0xFFCA, 0xFFCB, 0xFFCD, 0xFFCE, 0xFFCF})


def is_arithmetic(data: bytes) -> bool:
    """Whether `data` is a JPEG whose frame is arithmetic-coded (its header alone is read)."""
    from .markers import read_segments

    try:
        return any(seg.marker in _ARITHMETIC_SOF for seg in read_segments(data))
    except (NotAnImageError, CorruptImageError):
        return False


def huffman_copy(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> bytes | None:
    """The same JPEG written with Huffman codes, if `data` is an arithmetic-coded
    JPEG (``SOF9``/``SOF10``: valid, and written by ``jpegtran -arithmetic`` or
    ``cjpeg -arithmetic``), which Pillow's libjpeg does not decode; ``None``
    for anything else, or a JPEG that :func:`read_coefficients` refuses.

    Lossless: the same coefficients, tables and sampling, hence the same
    pixels once decoded, and the same APPn and COM segments (EXIF
    orientation, ICC profile, a picveil container). For the callers that
    decode pixels with Pillow: they retry on this copy when Pillow fails."""
    from .markers import insert_segments, read_segments

    if not is_arithmetic(data):
        return None
    try:
        co = read_coefficients(data, max_pixels=max_pixels)
    except (NotAnImageError, CorruptImageError, UnsupportedImageError, ImageTooLargeError):
        return None
    if not co.arithmetic:
        return None
    copy = co.encode(optimize=True)
    written = {(seg.marker, seg.payload) for seg in read_segments(copy)}  # the JFIF or Adobe segment encode writes
    kept = [
        (seg.marker, seg.payload)
        for seg in read_segments(data)
        if (0xFFE0 <= seg.marker <= 0xFFEF or seg.marker == 0xFFFE) and (seg.marker, seg.payload) not in written
    ]
    return insert_segments(copy, kept)


def _check_supported(decoder: _jpegcoef.Decoder) -> None:
    """Refuse, from the header alone, what picveil does not handle."""
    count = decoder.num_components
    space = _COLOR_SPACES.get(decoder.jpeg_color_space, "unknown")
    if space not in _SUPPORTED.get(count, ()):
        kind = space.upper() if space in ("cmyk", "ycck") else f"{space} color space"
        raise UnsupportedImageError(f"Unsupported JPEG: {count} components, {kind}; {_SUPPORTED_TEXT}.")
