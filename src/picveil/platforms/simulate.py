"""A platform simulator: what a network may do to an uploaded photo.

Every step is a pure function from the bytes of an image file to the bytes of
another; :class:`Chain` runs steps in order and reports what each did.

============  ==================================================================
step          what it does
============  ==================================================================
``strip``     removes metadata without touching pixels: in a JPEG every APPn
              and COM segment but the JFIF/Adobe headers (so EXIF, XMP, ICC,
              IPTC, MPF and picveil's APP11 container) and anything after EOI;
              in a PNG every ancillary chunk; in a WebP the ICCP/EXIF/XMP chunks
``srgb``      converts the pixels from the image's colour profile to sRGB and
              tags it sRGB (output: PNG), as most networks do with a photo in a
              wider colour space (Display P3, Adobe RGB); an image that has no
              profile, or an sRGB one, comes back as it is
``orient``    applies the EXIF Orientation to the pixels (output: PNG, no EXIF);
              a network that strips EXIF but still shows the photo upright has
              done this. Orientation 1 (or none): the input comes back as it is
``resize``    shrinks so the long edge is at most EDGE (output: PNG, lossless);
              never enlarges, and returns the input unchanged when it fits
``crop``      crops to the nearest shape (width / height) in LOW..HIGH,
              centred, as a network that shows only those shapes does
              (Instagram's feed: 0.8..1.91); output PNG, or the input
              unchanged when its shape is inside
``jpeg``      decodes and encodes a JPEG at quality Q with one of
              :data:`ENCODERS`, 4:2:0 unless told, baseline or progressive; no
              metadata is written
``webp``      decodes and encodes a lossy WebP at quality Q (libwebp via Pillow)
``avif``      decodes and encodes an AVIF at quality Q, 4:2:0 (libavif via Pillow,
              where Pillow was built with it): what some CDNs serve
``png``       decodes to 8-bit pixels (alpha composited on white) and writes a
              PNG: a lossless copy of the displayed pixels
============  ==================================================================

Intermediate results of ``srgb``, ``orient``, ``crop`` and ``resize`` are PNGs, so the only
lossy steps are the ones that say so (``jpeg``, ``webp``, ``avif``). No step applies
the EXIF orientation except ``orient``.

Encoders
--------
``pillow``   libjpeg-turbo as bundled with Pillow.
``opencv``   ``cv2.imencode``, OpenCV's own libjpeg-turbo build. With the same
             settings it writes the *same* coefficients as ``pillow`` (both are
             libjpeg-turbo with libjpeg's defaults; the tests check this), so it
             is a cross-check and the encoder of published measurements, not an
             independent encoder.
``mozjpeg``  mozjpeg 4.0.3 as shipped by the ``jpeglib`` package (PyPI): its own
             default quantization tables (quality means something else than in
             libjpeg) and trellis quantization; genuinely different coefficients.
``libjpeg``  IJG libjpeg 9f, also from ``jpeglib``: libjpeg's tables, but
             chroma downsampling by DCT scaling, so different chroma.
``mozjpeg`` and ``libjpeg`` need ``jpeglib``; :func:`available_encoders` says
which encoders this installation has. Baseline versus progressive is switched
losslessly (same coefficients) where an encoder cannot do it itself.

Mini-syntax (:func:`parse_chain`)
---------------------------------
A chain is items separated by commas; an item is a preset name
(:data:`PRESETS`) or a step::

    strip | srgb | orient | png
    resize:EDGE[:METHOD]                 METHOD: see RESIZE_METHODS (lanczos)
    crop:LOW:HIGH                        shapes kept whole, width / height
    jpeg:Q[:ENCODER][:OPTION...]         OPTION: baseline | progressive | 444 | 422 | 420
    webp:Q | avif:Q

e.g. ``"resize:1080,jpeg:75:opencv"``, ``"facebook,webp:75"``,
``"jpeg:60:mozjpeg:progressive"``.
"""

from __future__ import annotations

import io
import os
import struct
import tempfile
import threading
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from picveil.errors import (
    CorruptImageError,
    ImageTooLargeError,
    InputError,
    UnsupportedImageError,
)
from picveil.jpeg.loading import DEFAULT_MAX_PIXELS, check_jpeg_size, sniff

from .fitting import PILLOW_SUBSAMPLING, aspect_frame, target_size
from .profiles import PROFILES, PlatformProfile

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

__all__ = [
    "ENCODERS",
    "PRESETS",
    "RESIZE_METHODS",
    "Chain",
    "Step",
    "StepReport",
    "apply_orientation",
    "available_encoders",
    "convert_to_srgb",
    "crop_aspect",
    "parse_chain",
    "preset",
    "reencode",
    "resize_max_edge",
    "strip_metadata",
    "to_png",
    "to_avif",
    "to_webp",
]

#: JPEG encoders by name, with what each one is.
ENCODERS: dict[str, str] = {
    "pillow": "libjpeg-turbo through Pillow",
    "opencv": "libjpeg-turbo through OpenCV's cv2.imencode",
    "mozjpeg": "mozjpeg 4.0.3 through the jpeglib package",
    "libjpeg": "IJG libjpeg 9f through the jpeglib package",
}
#: The jpeglib library version behind each jpeglib-based encoder.
_JPEGLIB_VERSIONS = {"mozjpeg": "mozjpeg403", "libjpeg": "9f"}
#: Resampling methods of :func:`resize_max_edge`.
RESIZE_METHODS: dict[str, str] = {
    "lanczos": "Pillow Lanczos (a = 3), antialiased",
    "bicubic": "Pillow bicubic, antialiased",
    "bilinear": "Pillow bilinear, antialiased",
    "box": "Pillow box (area average)",
    "nearest": "nearest neighbour",
    "opencv-area": "OpenCV INTER_AREA",
    "opencv-linear": "OpenCV INTER_LINEAR (no antialiasing, as naive pipelines do)",
}
SUBSAMPLINGS = tuple(PILLOW_SUBSAMPLING)
_OPTION_SUBSAMPLING = {"444": "4:4:4", "422": "4:2:2", "420": "4:2:0"}
#: zlib level for the lossless PNG intermediates: fast, sizes don't matter here.
_PNG_LEVEL = 1
# libjpeg's sampling factors (v, h) for jpeglib, per component.
_JPEGLIB_SAMPLING = {"4:4:4": [[1, 1], [1, 1], [1, 1]], "4:2:2": [[1, 2], [1, 1], [1, 1]], "4:2:0": [[2, 2], [1, 1], [1, 1]]}
# jpeglib switches its library process-wide and writes through files.
_JPEGLIB_LOCK = threading.Lock()
_WHITE = 255

# JPEG markers (T.81 B.1.1.3).
_APP0, _APP14, _COM = 0xFFE0, 0xFFEE, 0xFFFE
_SOF_PROGRESSIVE = frozenset({0xFFC2, 0xFFC6, 0xFFCA, 0xFFCE})
_EOI = b"\xff\xd9"
# WebP chunks that carry metadata, and the VP8X flag bits announcing them
# (WebP container spec: ICC 0x20, EXIF 0x08, XMP 0x04).
_WEBP_META_CHUNKS = frozenset({b"ICCP", b"EXIF", b"XMP "})
_VP8X_META_FLAGS = 0x20 | 0x08 | 0x04
# PNG chunks that hold pixels (ISO/IEC 15948 5.6: the critical chunks, plus tRNS).
_PNG_KEEP = frozenset({b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS"})


# --- decoding -------------------------------------------------------------------
_PILLOW_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError, struct.error)


def _open(data: bytes, max_pixels: int) -> tuple[Image.Image, str]:
    """Decode an image file with Pillow; check its size first. Returns the image and its format."""
    from PIL import Image

    fmt = sniff(data)
    if fmt not in ("jpeg", "png", "bmp", "tiff", "webp", "avif"):
        raise UnsupportedImageError(f"The simulator reads JPEG, PNG, BMP, TIFF, WebP and AVIF, not {fmt}.")
    if fmt == "jpeg":
        check_jpeg_size(data, max_pixels)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            im = Image.open(io.BytesIO(data))
            if im.width * im.height > max_pixels:
                raise ImageTooLargeError(
                    f"The image is {im.width}×{im.height} pixels, over the limit of {max_pixels:,}."
                )
            im.load()
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(f"The image is too large: {exc}") from exc
    except _PILLOW_ERRORS as exc:
        from picveil.jpeg.codec import huffman_copy

        copy = huffman_copy(data, max_pixels=max_pixels) if fmt == "jpeg" else None
        if copy is not None:  # an arithmetic-coded JPEG: its Huffman copy has the same pixels and metadata
            return _open(copy, max_pixels)
        raise CorruptImageError(f"The {fmt.upper()} file could not be decoded: {exc}") from exc
    return im, fmt


def _pixels(im: Image.Image) -> Image.Image:
    """8-bit L or RGB, transparency composited on white (what a viewer shows)."""
    from PIL import Image

    if im.mode in ("L", "RGB"):
        return im
    if im.mode.startswith("I;16") or im.mode == "I":
        import numpy as np

        arr = np.asarray(im).astype(np.int64)
        if im.mode == "I" and arr.max(initial=0) <= 255:
            return Image.fromarray(arr.clip(0, 255).astype(np.uint8), mode="L")
        return Image.fromarray(((arr.clip(0, 65535) * 255 + 32767) // 65535).astype(np.uint8), mode="L")
    has_alpha = im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info
    if has_alpha:
        gray = im.mode in ("LA", "La") or (im.mode == "L" and "transparency" in im.info)
        mode = "L" if gray else "RGB"
        rgba = im.convert("LA" if gray else "RGBA")
        out = Image.new(mode, im.size, _WHITE if gray else (_WHITE,) * 3)
        out.paste(rgba.convert(mode), mask=rgba.getchannel("A"))
        return out
    return im.convert("L" if im.mode in ("1", "F") else "RGB")  # P, CMYK, YCbCr...: plain conversion


def _png(im: Image.Image, icc: bytes | None = None) -> bytes:
    buf = io.BytesIO()
    im.info = {}  # Pillow copies info["icc_profile"] into a PNG by itself
    options: dict[str, object] = {"compress_level": _PNG_LEVEL}
    if icc:
        options["icc_profile"] = icc
    im.save(buf, "PNG", **options)
    return buf.getvalue()


def _check_quality(quality: int) -> None:
    if isinstance(quality, bool) or not isinstance(quality, int) or not 1 <= quality <= 100:
        raise ValueError(f"quality must be an integer from 1 to 100, got {quality!r}")


# --- the steps ------------------------------------------------------------------
def strip_metadata(data: bytes) -> bytes:
    """Remove all metadata, leaving the pixels exactly as they are.

    Parameters
    ----------
    data : bytes
        A JPEG, PNG or WebP file (BMP and TIFF become a PNG without metadata).

    Returns
    -------
    bytes
        The same format (JPEG: the same entropy-coded data, byte for byte).
        JPEG: every APPn and COM segment is removed except the APP0 JFIF
        header (its thumbnail dropped) and APP14 Adobe (it says how to decode
        the colours); bytes after EOI (appended previews) are dropped.
        Only the header before the first scan is examined (segments between
        the scans of a progressive JPEG are kept).
        PNG: only the critical chunks and tRNS are kept (colour chunks such
        as iCCP, gAMA and sRGB go too). WebP: ICCP, EXIF and XMP chunks are
        removed and the VP8X flags cleared to match.

    Raises
    ------
    NotAnImageError, CorruptImageError, UnsupportedImageError
        Not a readable image.
    """
    fmt = sniff(data)
    if fmt == "jpeg":
        return _strip_jpeg(data)
    if fmt == "png":
        return _strip_png(data)
    if fmt == "webp":
        return _strip_webp(data)
    im, _ = _open(data, DEFAULT_MAX_PIXELS)
    return _png(_pixels(im))


def _strip_jpeg(data: bytes) -> bytes:
    from picveil.jpeg.markers import encode_segment, read_segments, remove_segments, sos_offset

    def is_metadata(seg) -> bool:
        if seg.marker == _APP0 and seg.payload.startswith(b"JFIF\x00"):
            return False
        if seg.marker == _APP14 and seg.payload.startswith(b"Adobe"):
            return False
        return 0xFFE0 <= seg.marker <= 0xFFEF or seg.marker == _COM

    out = remove_segments(data, is_metadata)
    # A JFIF header may carry a thumbnail (X/Ythumbnail at payload bytes 12, 13).
    for seg in read_segments(out):
        if seg.marker == _APP0 and seg.payload.startswith(b"JFIF\x00") and len(seg.payload) > 14:
            clean = seg.payload[:12] + b"\x00\x00"
            out = out[: seg.offset] + encode_segment(_APP0, clean) + out[seg.end :]
            break
    # Entropy-coded data never contains FF D9 (0xFF is stuffed as FF 00), so
    # the first FF D9 after the first SOS ends the image.
    end = out.find(_EOI, sos_offset(out))
    return out[: end + 2] if end >= 0 else out


def _strip_png(data: bytes) -> bytes:
    """Keep the critical PNG chunks and tRNS (transparency is pixel data), in order."""
    chunks: list[bytes] = []
    pos = 8
    while True:
        if pos + 12 > len(data):
            raise CorruptImageError("The PNG file ends inside a chunk (no IEND).")
        length = int.from_bytes(data[pos : pos + 4], "big")
        tag = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if end > len(data):
            raise CorruptImageError(f"The PNG chunk {tag!r} runs past the end of the file.")
        if tag in _PNG_KEEP:
            chunks.append(data[pos:end])
        pos = end
        if tag == b"IEND":
            return data[:8] + b"".join(chunks)


def _strip_webp(data: bytes) -> bytes:
    if len(data) < 12:
        raise CorruptImageError("The WebP file is too short.")
    declared = int.from_bytes(data[4:8], "little") + 8
    if declared > len(data):
        raise CorruptImageError(f"The WebP file is truncated ({len(data)} of {declared} bytes).")
    chunks: list[bytes] = []
    pos = 12
    while pos < declared:
        if pos + 8 > declared:
            raise CorruptImageError("The WebP file ends inside a chunk header.")
        tag = data[pos : pos + 4]
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        end = pos + 8 + size + (size & 1)  # chunks are padded to even sizes
        if pos + 8 + size > declared:
            raise CorruptImageError(f"The WebP chunk {tag!r} runs past the end of the file.")
        chunk = data[pos:end]
        if tag == b"VP8X" and size >= 1:
            chunk = chunk[:8] + bytes([chunk[8] & ~_VP8X_META_FLAGS & 0xFF]) + chunk[9:]
        if tag not in _WEBP_META_CHUNKS:
            chunks.append(chunk)
        pos = end
    body = b"WEBP" + b"".join(chunks)
    return b"RIFF" + len(body).to_bytes(4, "little") + body


def apply_orientation(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> bytes:
    """Rotate/flip the pixels as the EXIF Orientation says, as a network does.

    Parameters
    ----------
    data : bytes
        An image file.
    max_pixels : int
        Refuse larger images.

    Returns
    -------
    bytes
        `data` itself when the orientation is 1 or absent; otherwise a PNG of
        the upright pixels (no EXIF, ICC kept).
    """
    from PIL import ImageOps

    im, _ = _open(data, max_pixels)
    try:
        orientation = im.getexif().get(0x0112, 1)
    except _PILLOW_ERRORS:
        orientation = 1
    if orientation not in range(2, 9):
        return data
    icc = im.info.get("icc_profile")
    return _png(_pixels(ImageOps.exif_transpose(im)), icc)


def convert_to_srgb(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> bytes:
    """Convert an image's pixels from its colour profile to sRGB, as a network
    that colour-manages uploads does.

    Parameters
    ----------
    data : bytes
        An image file.

    Returns
    -------
    bytes
        `data` itself when it has no colour profile, an sRGB one
        (:func:`picveil.jpeg.colour.is_srgb`) or is not RGB; otherwise a PNG
        of the converted pixels tagged with an sRGB profile (no EXIF).
    """
    from picveil.jpeg.colour import srgb_profile, to_srgb

    im, _ = _open(data, max_pixels)
    icc = im.info.get("icc_profile")
    if not icc:
        return data
    pixels = _pixels(im)
    converted = to_srgb(pixels, icc)
    if converted is None:
        return data
    return _png(converted, srgb_profile())


def crop_aspect(data: bytes, low: float, high: float, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> bytes:
    """Crop an image, centred, to the nearest shape ``width / height`` in ``low..high``.

    What a network that shows only some shapes does to the others (see
    :func:`picveil.platforms.fitting.aspect_frame`, mode ``"crop"``; the
    stored pixels are measured, so run ``orient`` first for a phone photo).

    Returns
    -------
    bytes
        `data` unchanged when its shape is inside the range; otherwise a PNG
        (lossless; ICC kept, EXIF not) of the crop.

    Raises
    ------
    ValueError
        Not ``0 < low <= high``.
    """
    if not 0 < low <= high:
        raise ValueError(f"crop needs 0 < low <= high, got {low} and {high}")
    im, _ = _open(data, max_pixels)
    x, y, w, h = aspect_frame(im.width, im.height, (low, high), "crop")
    if (w, h) == im.size:
        return data
    icc = im.info.get("icc_profile")
    return _png(_pixels(im).crop((x, y, x + w, y + h)), icc)


def resize_max_edge(
    data: bytes, max_edge: int, method: str = "lanczos", *, max_pixels: int = DEFAULT_MAX_PIXELS
) -> bytes:
    """Shrink an image so its long edge is at most `max_edge` (never enlarge).

    Parameters
    ----------
    data : bytes
        An image file.
    max_edge : int
        Largest long edge, in pixels.
    method : str
        One of :data:`RESIZE_METHODS`.
    max_pixels : int
        Refuse larger images.

    Returns
    -------
    bytes
        `data` unchanged when it already fits; otherwise a PNG (lossless
        intermediate; ICC kept, EXIF not) of size
        :func:`picveil.platforms.fitting.target_size`.

    Raises
    ------
    ValueError
        Unknown `method` or non-positive `max_edge`.
    """
    from PIL import Image

    if method not in RESIZE_METHODS:
        raise ValueError(f"method must be one of {', '.join(RESIZE_METHODS)}, got {method!r}")
    if isinstance(max_edge, bool) or not isinstance(max_edge, int) or max_edge < 1:
        raise ValueError(f"max_edge must be a positive integer, got {max_edge!r}")
    im, _ = _open(data, max_pixels)
    size = target_size(im.width, im.height, max_edge)
    if size == im.size:
        return data
    icc = im.info.get("icc_profile")
    px = _pixels(im)
    if method.startswith("opencv-"):
        if "opencv" not in available_encoders():
            raise InputError(
                f"The resize method {method} needs OpenCV, which is not installed here.",
                hint="Install opencv-python-headless (pip install 'picveil[platforms]'), or use lanczos.",
            )
        import cv2
        import numpy as np

        interp = cv2.INTER_AREA if method == "opencv-area" else cv2.INTER_LINEAR
        out = Image.fromarray(cv2.resize(np.asarray(px), size, interpolation=interp), mode=px.mode)
    else:
        resample = {
            "lanczos": Image.Resampling.LANCZOS,
            "bicubic": Image.Resampling.BICUBIC,
            "bilinear": Image.Resampling.BILINEAR,
            "box": Image.Resampling.BOX,
            "nearest": Image.Resampling.NEAREST,
        }[method]
        out = px.resize(size, resample)
    return _png(out, icc)


def available_encoders() -> tuple[str, ...]:
    """The names in :data:`ENCODERS` that work in this installation."""
    names = ["pillow"]
    try:
        import cv2  # noqa: F401

        names.append("opencv")
    except ImportError:  # pragma: no cover - OpenCV is a test dependency
        pass
    try:
        import jpeglib

        have = set(jpeglib.version.versions())
        names += [n for n, v in _JPEGLIB_VERSIONS.items() if v in have]
    except (ImportError, OSError, RuntimeError):  # pragma: no cover - optional
        pass
    return tuple(names)


def reencode(
    data: bytes,
    quality: int,
    encoder: str = "pillow",
    subsampling: str = "4:2:0",
    progressive: bool = False,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> bytes:
    """Decode an image and encode it as a JPEG, writing no metadata.

    Parameters
    ----------
    data : bytes
        An image file (its EXIF orientation is not applied: use
        :func:`apply_orientation` first, as a network would).
    quality : int
        1..100, in the encoder's own sense (mozjpeg scales its own tables).
    encoder : str
        One of :data:`ENCODERS` (see :func:`available_encoders`).
    subsampling : str
        ``'4:2:0'``, ``'4:2:2'`` or ``'4:4:4'`` (ignored for grayscale).
    progressive : bool
        Progressive instead of baseline sequential.
    max_pixels : int
        Refuse larger images.

    Returns
    -------
    bytes
        A JPEG with only the encoder's JFIF header.

    Raises
    ------
    ValueError
        A bad `quality`, `encoder` or `subsampling`.
    InputError
        The encoder is not installed here.
    """
    _check_quality(quality)
    if encoder not in ENCODERS:
        raise ValueError(f"encoder must be one of {', '.join(ENCODERS)}, got {encoder!r}")
    if subsampling not in SUBSAMPLINGS:
        raise ValueError(f"subsampling must be one of {', '.join(SUBSAMPLINGS)}, got {subsampling!r}")
    if encoder not in available_encoders():
        package = "jpeglib" if encoder in _JPEGLIB_VERSIONS else "opencv-python-headless"
        raise InputError(
            f"The {encoder} encoder ({ENCODERS[encoder]}) is not available here.",
            hint=f"Install the {package} package, which ships it (pip install 'picveil[platforms]').",
        )
    im, _ = _open(data, max_pixels)
    px = _pixels(im)
    px.info = {}  # Pillow would copy a JPEG comment from info
    if encoder == "pillow":
        buf = io.BytesIO()
        options: dict[str, object] = {"quality": quality, "progressive": progressive}
        if px.mode == "RGB":
            options["subsampling"] = PILLOW_SUBSAMPLING[subsampling]
        px.save(buf, "JPEG", **options)
        return buf.getvalue()
    if encoder == "opencv":
        return _encode_opencv(px, quality, subsampling, progressive)
    return _encode_jpeglib(px, quality, _JPEGLIB_VERSIONS[encoder], subsampling, progressive)


def _encode_opencv(px: Image.Image, quality: int, subsampling: str, progressive: bool) -> bytes:
    import cv2
    import numpy as np

    arr = np.asarray(px)
    if arr.ndim == 3:
        arr = np.ascontiguousarray(arr[..., ::-1])  # OpenCV wants BGR
    factor = {
        "4:4:4": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444,
        "4:2:2": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_422,
        "4:2:0": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420,
    }[subsampling]
    params = [
        cv2.IMWRITE_JPEG_QUALITY, quality,
        cv2.IMWRITE_JPEG_PROGRESSIVE, int(progressive),
        cv2.IMWRITE_JPEG_SAMPLING_FACTOR, factor,
    ]  # fmt: skip
    ok, buf = cv2.imencode(".jpg", arr, params)
    if not ok:  # pragma: no cover - OpenCV failure
        raise CorruptImageError("OpenCV could not encode the image as JPEG.")
    return buf.tobytes()


def _is_progressive(jpeg: bytes) -> bool:
    from picveil.jpeg.markers import read_segments

    return any(s.marker in _SOF_PROGRESSIVE for s in read_segments(jpeg))


def _encode_jpeglib(px: Image.Image, quality: int, version: str, subsampling: str, progressive: bool) -> bytes:
    import jpeglib
    import numpy as np

    from picveil.jpeg.codec import read_coefficients

    arr = np.asarray(px)
    arr = np.ascontiguousarray(arr[..., None] if arr.ndim == 2 else arr)
    with _JPEGLIB_LOCK, tempfile.TemporaryDirectory(prefix="picveil-") as tmp:
        previous = jpeglib.version.get()
        jpeglib.version.set(version)
        try:
            im = jpeglib.from_spatial(arr)
            if arr.shape[2] == 3:
                im.samp_factor = np.array(_JPEGLIB_SAMPLING[subsampling])
            path = os.path.join(tmp, "out.jpg")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                im.write_spatial(path, qt=quality)
            with open(path, "rb") as fh:
                out = fh.read()
        finally:
            if previous and previous != version:
                jpeglib.version.set(previous)
    if _is_progressive(out) != progressive:
        # Same coefficients, other entropy coding: lossless.
        out = read_coefficients(out).encode(progressive=progressive, optimize=True)
    return out


def to_webp(data: bytes, quality: int, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> bytes:
    """Decode an image and encode it as a lossy WebP (libwebp through Pillow), no metadata.

    Parameters
    ----------
    data : bytes
        An image file.
    quality : int
        1..100, libwebp's quality.
    max_pixels : int
        Refuse larger images.

    Returns
    -------
    bytes
        A WebP file (``RIFF....WEBP``).
    """
    _check_quality(quality)
    return _reencoded(data, max_pixels, "WEBP", quality=quality, lossless=False)


def _reencoded(data: bytes, max_pixels: int, fmt: str, **options) -> bytes:
    """The decoded 8-bit pixels of `data`, saved by Pillow as `fmt` with `options`, no metadata."""
    im, _ = _open(data, max_pixels)
    px = _pixels(im)
    px.info = {}
    buf = io.BytesIO()
    px.save(buf, fmt, **options)
    return buf.getvalue()


def to_avif(data: bytes, quality: int, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> bytes:
    """Decode an image and encode it as an AVIF (libavif through Pillow, 4:2:0), no metadata.

    Parameters
    ----------
    data : bytes
        An image file.
    quality : int
        1..100, Pillow's AVIF quality.
    max_pixels : int
        Refuse larger images.

    Returns
    -------
    bytes
        An AVIF file.

    Raises
    ------
    UnsupportedImageError
        This Pillow was built without AVIF.
    """
    from PIL import features

    _check_quality(quality)
    if not features.check("avif"):
        raise UnsupportedImageError(
            "This Pillow cannot write AVIF.", hint="Install a Pillow built with libavif (Pillow 11.3 or later wheels)."
        )
    return _reencoded(data, max_pixels, "AVIF", quality=quality, subsampling="4:2:0")


def to_png(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> bytes:
    """Decode an image to 8-bit pixels and write them as a PNG, no metadata.

    Parameters
    ----------
    data : bytes
        An image file (EXIF orientation not applied: use :func:`apply_orientation`).
    max_pixels : int
        Refuse larger images.

    Returns
    -------
    bytes
        A PNG of the decoded pixels (transparency composited on white).
    """
    im, _ = _open(data, max_pixels)
    return _png(_pixels(im))


# --- steps and chains -------------------------------------------------------------
_KINDS = ("strip", "srgb", "orient", "crop", "resize", "jpeg", "webp", "avif", "png")


@dataclass(frozen=True)
class Step:
    """One simulator step.

    Attributes
    ----------
    kind : str
        ``'strip'``, ``'srgb'``, ``'orient'``, ``'crop'``, ``'resize'``, ``'jpeg'``, ``'webp'``, ``'avif'`` or ``'png'``.
    quality : int or None
        For ``jpeg``, ``webp`` and ``avif``.
    max_edge : int or None
        For ``resize``.
    method : str
        Resampling for ``resize`` (:data:`RESIZE_METHODS`).
    aspect : (float, float) or None
        For ``crop``: the shapes (width / height) kept whole.
    encoder : str
        For ``jpeg`` (:data:`ENCODERS`).
    subsampling : str
        For ``jpeg``.
    progressive : bool
        For ``jpeg``.
    """

    kind: str
    quality: int | None = None
    max_edge: int | None = None
    method: str = "lanczos"
    encoder: str = "pillow"
    subsampling: str = "4:2:0"
    progressive: bool = False
    aspect: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"kind must be one of {', '.join(_KINDS)}, got {self.kind!r}")
        if self.kind in ("jpeg", "webp", "avif"):
            _check_quality(self.quality)  # type: ignore[arg-type]
        if self.kind == "resize" and (not isinstance(self.max_edge, int) or self.max_edge < 1):
            raise ValueError(f"a resize step needs a positive max_edge, got {self.max_edge!r}")
        if self.kind == "crop" and (self.aspect is None or not 0 < self.aspect[0] <= self.aspect[1]):
            raise ValueError(f"a crop step needs aspect=(low, high) with 0 < low <= high, got {self.aspect!r}")
        if self.method not in RESIZE_METHODS:
            raise ValueError(f"method must be one of {', '.join(RESIZE_METHODS)}, got {self.method!r}")
        if self.encoder not in ENCODERS:
            raise ValueError(f"encoder must be one of {', '.join(ENCODERS)}, got {self.encoder!r}")
        if self.subsampling not in SUBSAMPLINGS:
            raise ValueError(f"subsampling must be one of {', '.join(SUBSAMPLINGS)}, got {self.subsampling!r}")

    @property
    def spec(self) -> str:
        """The step in the mini-syntax (``parse_chain(step.spec)`` gives it back)."""
        if self.kind == "resize":
            return f"resize:{self.max_edge}:{self.method}"
        if self.kind == "crop":
            return f"crop:{self.aspect[0]:g}:{self.aspect[1]:g}"  # type: ignore[index]
        if self.kind == "jpeg":
            mode = "progressive" if self.progressive else "baseline"
            return f"jpeg:{self.quality}:{self.encoder}:{mode}:{self.subsampling.replace(':', '')}"
        if self.kind in ("webp", "avif"):
            return f"{self.kind}:{self.quality}"
        return self.kind

    def describe(self) -> str:
        """The step in words."""
        if self.kind == "strip":
            return "strip metadata"
        if self.kind == "orient":
            return "apply EXIF orientation"
        if self.kind == "srgb":
            return "convert colours to sRGB"
        if self.kind == "resize":
            return f"resize to long edge ≤ {self.max_edge} px ({self.method})"
        if self.kind == "crop":
            return f"crop to a shape of {self.aspect[0]:g} to {self.aspect[1]:g} (width / height)"  # type: ignore[index]
        if self.kind == "jpeg":
            mode = "progressive" if self.progressive else "baseline"
            return f"JPEG q{self.quality}, {self.encoder}, {self.subsampling}, {mode}"
        if self.kind == "webp":
            return f"WebP q{self.quality}"
        if self.kind == "avif":
            return f"AVIF q{self.quality}"
        return "PNG (lossless)"

    def apply(self, data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> bytes:
        """Run this step on the bytes of an image file."""
        if self.kind == "strip":
            return strip_metadata(data)
        if self.kind == "orient":
            return apply_orientation(data, max_pixels=max_pixels)
        if self.kind == "srgb":
            return convert_to_srgb(data, max_pixels=max_pixels)
        if self.kind == "resize":
            return resize_max_edge(data, self.max_edge, self.method, max_pixels=max_pixels)  # type: ignore[arg-type]
        if self.kind == "crop":
            return crop_aspect(data, *self.aspect, max_pixels=max_pixels)  # type: ignore[misc]
        if self.kind == "jpeg":
            return reencode(
                data, self.quality, self.encoder, self.subsampling, self.progressive, max_pixels=max_pixels  # type: ignore[arg-type]
            )
        if self.kind == "webp":
            return to_webp(data, self.quality, max_pixels=max_pixels)  # type: ignore[arg-type]
        if self.kind == "avif":
            return to_avif(data, self.quality, max_pixels=max_pixels)  # type: ignore[arg-type]
        return to_png(data, max_pixels=max_pixels)


@dataclass(frozen=True)
class StepReport:
    """What one step produced (see :meth:`Chain.trace`).

    Attributes
    ----------
    step : Step or None
        The step; None for the chain's input.
    format : str
        The output's format, as :func:`picveil.jpeg.loading.sniff` names it.
    size : (int, int)
        ``(width, height)`` in stored pixels.
    data : bytes
        The output file.
    """

    step: Step | None
    format: str
    size: tuple[int, int]
    data: bytes = field(repr=False)

    @property
    def nbytes(self) -> int:
        return len(self.data)


def _describe_file(data: bytes) -> tuple[str, tuple[int, int]]:
    from PIL import Image

    fmt = sniff(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as im:
                return fmt, im.size
    except _PILLOW_ERRORS + (Image.DecompressionBombError,) as exc:
        raise CorruptImageError(f"The {fmt.upper()} file could not be read: {exc}") from exc


@dataclass(frozen=True)
class Chain:
    """Simulator steps run in order.

    Attributes
    ----------
    steps : tuple of Step
    name : str
        A label (the preset's name, or the spec it was parsed from).
    """

    steps: tuple[Step, ...]
    name: str = ""

    @property
    def spec(self) -> str:
        """The chain in the mini-syntax."""
        return ",".join(s.spec for s in self.steps)

    def __str__(self) -> str:
        return self.name or self.spec

    def trace(self, data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> list[StepReport]:
        """Run the chain; report the input and every step's output, in order.

        Raises
        ------
        PicveilError
            As the steps (bad or unsupported input, missing encoder).
        """
        reports = [StepReport(None, *_describe_file(data), data=bytes(data))]
        for step in self.steps:
            data = step.apply(data, max_pixels=max_pixels)
            reports.append(StepReport(step, *_describe_file(data), data=data))
        return reports

    def run(self, data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> bytes:
        """Run the chain and return the final file."""
        for step in self.steps:
            data = step.apply(data, max_pixels=max_pixels)
        return bytes(data)


def _platform_chain(p: PlatformProfile, *, progressive: bool = False) -> Chain:
    """sRGB, orient, strip, crop to the shapes shown whole (if the network crops),
    resize to the limit, JPEG at the lowest reported quality."""
    if p.observed_quality_range is None:
        raise ValueError(f"the profile {p.name!r} has no reported quality to simulate")
    crop = (Step("crop", aspect=p.aspect_range),) if p.aspect_range is not None else ()
    return Chain(
        (
            Step("srgb"),
            Step("orient"),
            Step("strip"),
            *crop,
            Step("resize", max_edge=p.max_long_edge),
            Step("jpeg", quality=p.observed_quality_range[0], subsampling=p.subsampling, progressive=progressive),
        ),
        name=p.name,
    )


#: Named chains. The network presets take the *lowest* reported quality (the
#: worst case a reveal must survive); Facebook's downloads are reported to be
#: progressive. ``webp75`` and ``png`` are format changes alone.
PRESETS: dict[str, Chain] = {
    "facebook": _platform_chain(PROFILES["facebook"], progressive=True),
    "instagram": _platform_chain(PROFILES["instagram"]),
    "x": _platform_chain(PROFILES["x"]),
    "whatsapp": _platform_chain(PROFILES["whatsapp"]),
    "telegram": _platform_chain(PROFILES["telegram"]),
    "webp75": Chain((Step("webp", quality=75),), name="webp75"),
    "png": Chain((Step("png"),), name="png"),
}


def preset(name: str) -> Chain:
    """A chain from :data:`PRESETS` by name; :class:`InputError` listing the names otherwise."""
    try:
        return PRESETS[name.strip().lower()]
    except KeyError:
        raise InputError(
            f"No simulator preset named {name!r}; presets are {', '.join(PRESETS)}.",
            hint=_CHAIN_HINT,
        ) from None


_CHAIN_HINT = (
    "A chain is comma-separated presets (" + ", ".join(PRESETS) + ") and steps: strip, srgb, orient, png, "
    "resize:EDGE[:METHOD], crop:LOW:HIGH, jpeg:Q[:ENCODER][:baseline|progressive][:444|422|420], webp:Q, avif:Q; "
    "e.g. \"resize:1080,jpeg:75:opencv\"."
)


def _int_arg(item: str, text: str, what: str, low: int, high: int) -> int:
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise InputError(
            f"In the chain item {item!r}: {what} must be an integer from {low} to {high}, got {text!r}.",
            hint=_CHAIN_HINT,
        )
    return value


def _parse_item(item: str) -> list[Step]:
    if item.lower() in PRESETS:
        return list(PRESETS[item.lower()].steps)
    kind, *args = item.split(":")
    kind = kind.lower()
    if kind not in _KINDS:
        raise InputError(
            f"Unknown chain item {item!r}: not a preset ({', '.join(PRESETS)}) "
            f"nor a step ({', '.join(_KINDS)}).",
            hint=_CHAIN_HINT,
        )
    if kind in ("strip", "srgb", "orient", "png"):
        if args:
            raise InputError(f"The chain step {kind!r} takes no arguments, got {item!r}.", hint=_CHAIN_HINT)
        return [Step(kind)]
    if not args or not args[0]:
        need = {
            "resize": "a long edge (resize:EDGE)",
            "crop": "the shapes kept whole (crop:LOW:HIGH, width / height)",
            "jpeg": "a quality (jpeg:Q)",
            "webp": "a quality (webp:Q)",
            "avif": "a quality (avif:Q)",
        }
        raise InputError(f"The chain step {item!r} needs {need[kind]}.", hint=_CHAIN_HINT)
    if kind == "crop":
        try:
            low, high = (float(a) for a in args)
        except ValueError:
            low = high = float("nan")
        if not 0 < low <= high < 1000:
            raise InputError(
                f"The chain step {item!r} takes crop:LOW:HIGH, two shapes (width / height) with 0 < LOW <= HIGH.",
                hint=_CHAIN_HINT,
            )
        return [Step("crop", aspect=(low, high))]
    if kind in ("webp", "avif"):
        if len(args) > 1:
            raise InputError(f"The chain step {kind!r} takes one argument ({kind}:Q), got {item!r}.", hint=_CHAIN_HINT)
        return [Step(kind, quality=_int_arg(item, args[0], f"the {'WebP' if kind == 'webp' else 'AVIF'} quality", 1, 100))]
    if kind == "resize":
        edge = _int_arg(item, args[0], "the long edge", 1, 65535)
        if len(args) > 2:
            raise InputError(f"resize takes resize:EDGE[:METHOD], got {item!r}.", hint=_CHAIN_HINT)
        method = args[1].lower() if len(args) == 2 else "lanczos"
        if method not in RESIZE_METHODS:
            raise InputError(
                f"In the chain item {item!r}: unknown resize method {args[1]!r}; "
                f"methods are {', '.join(RESIZE_METHODS)}.",
                hint=_CHAIN_HINT,
            )
        return [Step("resize", max_edge=edge, method=method)]
    quality = _int_arg(item, args[0], "the JPEG quality", 1, 100)
    encoder, subsampling, progressive = "pillow", "4:2:0", False
    seen: set[str] = set()
    for i, raw in enumerate(args[1:]):
        token = raw.lower()
        if i == 0 and token in ENCODERS:
            encoder = token
            continue
        group = "mode" if token in ("baseline", "progressive") else "subsampling" if token in _OPTION_SUBSAMPLING else None
        if group is None:
            raise InputError(
                f"In the chain item {item!r}: {raw!r} is not an encoder ({', '.join(ENCODERS)}, "
                f"right after the quality) nor an option (baseline, progressive, 444, 422, 420).",
                hint=_CHAIN_HINT,
            )
        if group in seen:
            raise InputError(f"In the chain item {item!r}: the {group} is given twice.", hint=_CHAIN_HINT)
        seen.add(group)
        if group == "mode":
            progressive = token == "progressive"
        else:
            subsampling = _OPTION_SUBSAMPLING[token]
    return [Step("jpeg", quality=quality, encoder=encoder, subsampling=subsampling, progressive=progressive)]


def parse_chain(spec: str) -> Chain:
    """Parse the chain mini-syntax (see the module docstring).

    Parameters
    ----------
    spec : str
        E.g. ``"facebook"``, ``"resize:1080,jpeg:75:opencv"``,
        ``"strip,jpeg:60:mozjpeg:progressive,webp:75"``.

    Returns
    -------
    Chain
        Named `spec` itself when it is a single preset's name, else unnamed.

    Raises
    ------
    InputError
        The message names the item that cannot be parsed and why; the hint
        gives the grammar.
    """
    items = [part.strip() for part in str(spec).split(",")]
    if not any(items):
        raise InputError("The chain is empty.", hint=_CHAIN_HINT)
    if "" in items:
        raise InputError(f"The chain {spec!r} has an empty item (two commas in a row?).", hint=_CHAIN_HINT)
    steps: list[Step] = []
    for item in items:
        steps += _parse_item(item)
    name = items[0].lower() if len(items) == 1 and items[0].lower() in PRESETS else ""
    return Chain(tuple(steps), name=name)
