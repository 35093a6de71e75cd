"""What comes in: recognise an input file and turn it into a JPEG.

picveil works in the JPEG DCT domain, so every input becomes a JPEG first:

* JPEG passes through unchanged (after a cheap size check on its SOF header);
  no pixels are decoded, nothing is re-encoded.
* PNG, BMP, TIFF and WebP are decoded with Pillow and encoded once as JPEG
  (this is the only lossy step, and it happens before protection).
* GIF, HEIC/HEIF/AVIF and anything else are refused with a typed error.

Formats are recognised by their magic bytes only, never by file name.
Pillow is imported inside the functions that need it.
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from typing import TYPE_CHECKING

from picveil.errors import (
    CorruptImageError,
    ImageTooLargeError,
    NotAnImageError,
    UnsupportedImageError,
)
from picveil.jpeg.markers import read_segments

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "SUBSAMPLINGS",
    "check_jpeg_size",
    "heic_available",
    "heic_to_png",
    "probe_image",
    "read_input",
    "jpeg_components",
    "CMYK_JPEG",
    "frame_count",
    "sniff",
    "to_jpeg",
]

#: Default limit on width x height for any input.
DEFAULT_MAX_PIXELS = 200_000_000
#: Chroma subsampling choices for :func:`to_jpeg` (ignored for grayscale).
SUBSAMPLINGS = ("4:4:4", "4:2:2", "4:2:0")
#: JPEG stores width and height in 16 bits (T.81 B.2.2).
_JPEG_MAX_SIDE = 0xFFFF
#: Colour that transparent pixels are composited on.
_BACKGROUND = 255

# SOFn markers that carry frame dimensions (all SOF0..SOF15 but DHT, JPG, DAC).
_SOF_MARKERS = frozenset(range(0xFFC0, 0xFFD0)) - {0xFFC4, 0xFFC8, 0xFFCC}

# HEIF-family brands (ISO/IEC 23008-12 and the AVIF spec) in an ISO BMFF
# "ftyp" box.
_HEIF_BRANDS = frozenset(
    {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1"}
)
_AVIF_BRANDS = frozenset({b"avif", b"avis"})

# Human names for errors.
_FORMAT_NAMES = {
    "jpeg": "JPEG",
    "png": "PNG",
    "bmp": "BMP",
    "tiff": "TIFF",
    "webp": "WebP",
    "gif": "GIF",
    "heic": "HEIC/HEIF",
    "avif": "AVIF",
}

# What Pillow raises on damaged files (plugins raise SyntaxError for bad
# headers, OSError for truncated or undecodable data, and a few lower-level
# errors on fuzzed input).
_PILLOW_ERRORS: tuple[type[BaseException], ...] = (
    SyntaxError,
    OSError,
    ValueError,
    EOFError,
    IndexError,
    KeyError,
    TypeError,
    struct.error,
    zlib.error,
)


def sniff(data: bytes) -> str:
    """Name an image format from its first bytes.

    Parameters
    ----------
    data : bytes
        The start of a file (16 bytes suffice).

    Returns
    -------
    str
        One of ``'jpeg'``, ``'png'``, ``'bmp'``, ``'tiff'``, ``'webp'``,
        ``'gif'``, ``'heic'`` (any HEIF brand) or ``'avif'``.

    Raises
    ------
    NotAnImageError
        No known signature matches.
    """
    head = bytes(data[:16])
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"BM"):
        return "bmp"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):  # TIFF, BigTIFF
        return "tiff"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _HEIF_BRANDS:
            return "heic"
        if brand in _AVIF_BRANDS:
            return "avif"
    if not head:
        raise NotAnImageError("This file is not an image picveil can read (it is empty).")
    shown = head[:8]
    printable = "".join(chr(b) if 32 <= b < 127 else "." for b in shown)
    raise NotAnImageError(
        f"This file is not an image picveil can read (starts with {shown.hex(' ')}, "
        f'"{printable}").'
    )


def _check_options(quality: int, subsampling: str, max_pixels: int) -> None:
    if isinstance(quality, bool) or not isinstance(quality, int) or not 1 <= quality <= 100:
        raise ValueError(f"quality must be an integer from 1 to 100, got {quality!r}")
    if subsampling not in SUBSAMPLINGS:
        raise ValueError(f"subsampling must be one of {', '.join(SUBSAMPLINGS)}, got {subsampling!r}")
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, int) or max_pixels < 1:
        raise ValueError(f"max_pixels must be a positive integer, got {max_pixels!r}")


def _check_pixels(width: int, height: int, max_pixels: int, what: str) -> None:
    if width * height > max_pixels:
        raise ImageTooLargeError(
            f"The {what} image is {width}×{height} = {width * height:,} pixels, "
            f"over the limit of {max_pixels:,} pixels."
        )


def check_jpeg_size(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[int, int]:
    """Read a JPEG's dimensions from its SOF header and enforce a pixel limit.

    No pixel is decoded: this is cheap early rejection. (picveil's coefficient
    reader checks again.)

    Parameters
    ----------
    data : bytes
        A JPEG file.
    max_pixels : int
        Largest accepted width x height.

    Returns
    -------
    (int, int)
        ``(width, height)`` from the first SOFn segment.

    Raises
    ------
    ImageTooLargeError
        width x height exceeds `max_pixels`.
    CorruptImageError
        No SOFn before SOS, a short SOFn, or a zero width.
    UnsupportedImageError
        The height is zero (defined later by a DNL marker).
    NotAnImageError
        `data` is not a JPEG.
    """
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, int) or max_pixels < 1:
        raise ValueError(f"max_pixels must be a positive integer, got {max_pixels!r}")
    for seg in read_segments(data):
        if seg.marker not in _SOF_MARKERS:
            continue
        # SOF payload: P (1 byte), Y (2), X (2), Nf (1), components...
        if len(seg.payload) < 6:
            raise CorruptImageError(
                f"The JPEG frame header ({seg.name}) is too short ({len(seg.payload)} bytes)."
            )
        height = int.from_bytes(seg.payload[1:3], "big")
        width = int.from_bytes(seg.payload[3:5], "big")
        if width == 0:
            raise CorruptImageError("The JPEG frame header says the image is 0 pixels wide.")
        if height == 0:
            raise UnsupportedImageError(
                "This JPEG defines its height after the image data (DNL marker), "
                "which picveil does not support."
            )
        _check_pixels(width, height, max_pixels, "JPEG")
        return width, height
    raise CorruptImageError("The JPEG has no frame header (SOFn) before its image data.")


def _open_header(data: bytes, fmt: str) -> Image.Image:
    """Parse only the header of `data` with the Pillow plugin for `fmt`.

    The plugin class is instantiated directly rather than through
    ``Image.open`` so that the caller's ``max_pixels`` is the limit that
    applies: ``Image.open`` would also apply Pillow's process-wide
    ``MAX_IMAGE_PIXELS`` (about 179 Mpx as an error), which cannot be raised
    for one call without affecting other threads. Pillow's own bomb checks
    inside the plugins still run and are reported as ImageTooLargeError.
    """
    from PIL import (
        BmpImagePlugin,
        Image,
        JpegImagePlugin,
        PngImagePlugin,
        TiffImagePlugin,
        WebPImagePlugin,
    )

    plugin = {
        "jpeg": JpegImagePlugin.JpegImageFile,
        "png": PngImagePlugin.PngImageFile,
        "bmp": BmpImagePlugin.BmpImageFile,
        "tiff": TiffImagePlugin.TiffImageFile,
        "webp": WebPImagePlugin.WebPImageFile,
    }[fmt]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # damage is reported by raising, below
            return plugin(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(f"The {_FORMAT_NAMES[fmt]} image is too large: {exc}") from exc
    except _PILLOW_ERRORS as exc:
        raise CorruptImageError(
            f"The {_FORMAT_NAMES[fmt]} file could not be read: {exc}"
        ) from exc


def frame_count(data: bytes) -> int:
    """How many frames (animation frames, TIFF pages) a PNG, BMP, TIFF or WebP
    file holds, read from its header; 1 for a JPEG or anything unreadable
    (reading it for real reports the error). :func:`to_jpeg` keeps only the
    first frame, so a caller can tell the user when that drops something."""
    fmt = sniff(data)
    if fmt not in ("png", "bmp", "tiff", "webp"):
        return 1
    try:
        im = _open_header(data, fmt)
    except (UnsupportedImageError, ImageTooLargeError, CorruptImageError):
        return 1
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return max(1, int(getattr(im, "n_frames", 1)))
    except _PILLOW_ERRORS:
        return 1
    finally:
        im.close()


def _icc_colour_space(icc: bytes | None) -> bytes | None:
    """Return the data colour space signature of an ICC profile (header bytes 16..20)."""
    if not icc or len(icc) < 128:
        return None
    return icc[16:20]


def _to_8bit_gray(im: Image.Image) -> Image.Image:
    """Scale a 16-bit grayscale image to 8 bits, rounding (v * 255 / 65535)."""
    import numpy as np
    from PIL import Image

    arr = np.asarray(im).astype(np.uint32)
    out = (arr * 255 + 32767) // 65535
    return Image.fromarray(out.astype(np.uint8), mode="L")


#: What :func:`to_jpeg` and :func:`read_input` add to their `notes` for an image with transparent pixels.
TRANSPARENCY_NOTE = (
    "The image has transparent pixels, and a JPEG has none: picveil put them on white "
    "(save it on the background you want first)."
)


def _composite(im: Image.Image, mode: str, notes: list[str] | None = None) -> Image.Image:
    """Composite an image with alpha on white; return it in `mode` ('L' or 'RGB').
    Appends :data:`TRANSPARENCY_NOTE` to `notes` if any pixel is not opaque."""
    from PIL import Image

    rgba = im.convert("LA" if mode == "L" else "RGBA")
    if notes is not None and rgba.getchannel("A").getextrema()[0] < 255:
        notes.append(TRANSPARENCY_NOTE)
    background = Image.new(mode, rgba.size, _BACKGROUND if mode == "L" else (_BACKGROUND,) * 3)
    background.paste(rgba.convert(mode), mask=rgba.getchannel("A"))
    return background


def _normalise(im: Image.Image, icc: bytes | None, notes: list[str] | None = None) -> tuple[Image.Image, bytes | None]:
    """Turn a decoded image into 8-bit L or RGB; adjust the ICC profile to match
    (`notes`: see :func:`_composite`)."""
    mode = im.mode
    if mode in ("L", "RGB"):
        out = im
    elif mode == "1":
        out = im.convert("L")
    elif mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        out = _to_8bit_gray(im)
    elif mode in ("I", "F"):
        raise UnsupportedImageError(
            f"This image has {'32-bit integer' if mode == 'I' else 'floating-point'} pixels, "
            "whose range picveil cannot know; save it as 8- or 16-bit first."
        )
    elif mode == "LA" or mode == "La":
        out = _composite(im, "L", notes)
    elif mode in ("RGBA", "RGBa", "PA"):
        out = _composite(im, "RGB", notes)
    elif mode == "P":
        palette_mode = im.palette.mode if im.palette is not None else ""
        if "transparency" in im.info or palette_mode == "RGBA":
            out = _composite(im, "RGB", notes)
        else:
            out = im.convert("RGB")
    elif mode == "CMYK":
        return _cmyk_to_rgb(im, icc)
    else:  # RGBX, YCbCr, LAB, HSV, ...
        try:
            out = im.convert("RGB")
        except ValueError as exc:
            raise UnsupportedImageError(
                f"picveil cannot convert images in Pillow mode {mode!r} to RGB."
            ) from exc
    # Keep the profile only where it describes the pixels we write.
    expected = b"GRAY" if out.mode == "L" else b"RGB "
    if _icc_colour_space(icc) != expected:
        icc = None
    return out, icc


def _cmyk_to_rgb(im: Image.Image, icc: bytes | None) -> tuple[Image.Image, bytes | None]:
    """Convert CMYK to RGB, colour-managed when the image has a CMYK profile.

    With a CMYK ICC profile and Pillow's LittleCMS, the pixels are converted
    to sRGB and an sRGB profile is embedded. Otherwise Pillow's naive
    conversion is used and no profile is embedded.
    """
    if _icc_colour_space(icc) == b"CMYK":
        try:
            from PIL import ImageCms
        except ImportError:  # Pillow built without LittleCMS
            ImageCms = None
        if ImageCms is not None:
            try:
                src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
                srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
                out = ImageCms.profileToProfile(im, src, srgb, outputMode="RGB")
            except (OSError, ValueError, ImageCms.PyCMSError):
                pass  # a broken profile: fall back to the naive conversion
            else:
                return out, srgb.tobytes()
    return im.convert("RGB"), None


def _decode(data: bytes, fmt: str, max_pixels: int) -> tuple[Image.Image, bytes | None, Image.Exif]:
    """Header check, then decode the first frame; return pixels, ICC and EXIF."""
    from PIL import Image

    im = _open_header(data, fmt)
    width, height = im.size
    _check_pixels(width, height, max_pixels, _FORMAT_NAMES[fmt])
    if width > _JPEG_MAX_SIDE or height > _JPEG_MAX_SIDE:
        raise UnsupportedImageError(
            f"The image is {width}×{height}; a JPEG can be at most {_JPEG_MAX_SIDE} "
            "pixels wide and tall."
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            im.load()
            exif = im.getexif()
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(f"The {_FORMAT_NAMES[fmt]} image is too large: {exc}") from exc
    except _PILLOW_ERRORS as exc:
        from .codec import huffman_copy

        copy = huffman_copy(data, max_pixels=max_pixels) if fmt == "jpeg" else None
        if copy is None:
            raise CorruptImageError(
                f"The {_FORMAT_NAMES[fmt]} file is damaged and could not be decoded: {exc}"
            ) from exc
        # an arithmetic-coded JPEG: the pixels of its Huffman copy, the metadata of the file itself
        decoded = Image.open(io.BytesIO(copy))
        decoded.load()
        decoded.info.update(im.info)
        exif = im.getexif()
        im = decoded
    icc = im.info.get("icc_profile") or None
    return im, icc, exif


def to_jpeg(
    data: bytes,
    *,
    quality: int = 95,
    subsampling: str = "4:4:4",
    max_pixels: int = DEFAULT_MAX_PIXELS,
    notes: list[str] | None = None,
    srgb: bool = False,
) -> bytes:
    """Decode a PNG, BMP, TIFF or WebP image and encode it as JPEG.

    The pixel count is checked from the header before any pixel is decoded.
    Pixels are kept as stored (EXIF orientation is *not* applied; it is
    carried instead). For multi-frame files (animated WebP/PNG, multi-page
    TIFF) only the first frame is used. Modes are converted as follows:

    =====================  =============================================
    L, RGB                 unchanged
    1 (bilevel)            L
    I;16 (16-bit gray)     L, scaled: round(v * 255 / 65535)
    LA, RGBA, PA, P with   composited on opaque white, then L or RGB; the
    transparency           colour under transparent pixels is discarded
    P                      RGB
    CMYK                   RGB (colour-managed to sRGB if it has a CMYK
                           ICC profile)
    other (YCbCr, LAB...)  RGB
    I, F (32-bit)          refused: no defined range
    =====================  =============================================

    16-bit-per-channel RGB(A) is reduced to 8 bits by Pillow on reading.

    The ICC profile is embedded when it matches the output colour space.
    EXIF (PNG eXIf, TIFF tags, WebP EXIF) is rewritten through
    :func:`picveil.jpeg.metadata.sanitize_exif` with the default policy (no
    GPS, no serial numbers, no thumbnail) and embedded; notably the
    orientation survives. Nothing else (XMP, PNG text chunks, TIFF tags off
    the allow-list) is carried.

    Parameters
    ----------
    data : bytes
        The whole input file. A JPEG is decoded and re-encoded too (lossy);
        use :func:`read_input` to pass JPEG through.
    quality : int
        JPEG quality, 1..100.
    subsampling : {'4:4:4', '4:2:2', '4:2:0'}
        Chroma subsampling; ignored for grayscale output.
    max_pixels : int
        Largest accepted width x height.
    notes : list of str, optional
        What the conversion changed that the caller may want to tell the
        user is appended here (:data:`TRANSPARENCY_NOTE`, :func:`srgb_note`).
    srgb : bool
        Convert colour pixels tagged with a profile other than sRGB to sRGB
        (:func:`picveil.jpeg.colour.to_srgb`) and embed an sRGB profile
        instead of theirs.

    Returns
    -------
    bytes
        A baseline JFIF JPEG, grayscale or YCbCr.

    Raises
    ------
    ValueError
        `quality`, `subsampling` or `max_pixels` is out of range.
    NotAnImageError
        The data has no known image signature.
    UnsupportedImageError
        GIF, HEIC/HEIF, AVIF, 32-bit integer or float pixels, or a side over
        65535 pixels.
    ImageTooLargeError
        width x height exceeds `max_pixels` (or Pillow's own bomb limit).
    CorruptImageError
        Pillow cannot read or decode the file.
    """
    from picveil.jpeg.metadata import sanitize_exif

    _check_options(quality, subsampling, max_pixels)
    fmt = sniff(data)
    if fmt not in ("jpeg", "png", "bmp", "tiff", "webp"):
        raise UnsupportedImageError(
            f"picveil cannot read {_FORMAT_NAMES[fmt]} images; convert the file to "
            "JPEG or PNG first."
        )
    im, icc, exif = _decode(data, fmt, max_pixels)
    out, icc = _normalise(im, icc, notes)
    if srgb and out.mode == "RGB":
        from .colour import srgb_profile, to_srgb

        converted = to_srgb(out, icc)
        if converted is not None:
            if notes is not None:
                notes.append(srgb_note(icc))
            if out is not im:
                out.close()
            out, icc = converted, srgb_profile()
    exif_payload = sanitize_exif(exif) if len(exif) else None

    options: dict[str, object] = {"quality": quality, "subsampling": subsampling}
    if icc:
        options["icc_profile"] = icc
    if exif_payload:
        options["exif"] = exif_payload
    buf = io.BytesIO()
    try:
        out.save(buf, format="JPEG", **options)
    except (OSError, ValueError) as exc:  # pragma: no cover - Pillow encoder failure
        raise CorruptImageError(f"The image could not be encoded as JPEG: {exc}") from exc
    finally:
        if out is not im:
            out.close()
        im.close()
    return buf.getvalue()


def srgb_note(icc: bytes | None) -> str:
    """What :func:`to_jpeg` adds to its `notes` when it converts a photo to sRGB."""
    from .colour import profile_name

    return (
        f"The photo's colours were in {profile_name(icc)}; picveil converted them to sRGB, as networks do "
        "(a conversion after protection would erase the header a friend's reveal needs). "
        "Colours beyond sRGB's range are a little less saturated."
    )


#: :func:`read_input`'s source format for a CMYK/YCCK JPEG, which it converts to RGB.
CMYK_JPEG = "jpeg-cmyk"


def jpeg_components(data: bytes) -> int:
    """The number of colour components in a JPEG's first frame header (1, 3
    or 4; CMYK and YCCK JPEGs have 4). The data must be a JPEG whose header
    :func:`check_jpeg_size` accepts."""
    for seg in read_segments(data):
        if seg.marker in _SOF_MARKERS and len(seg.payload) >= 6:
            return seg.payload[5]
    raise CorruptImageError("The JPEG has no frame header (SOFn) before its image data.")


def probe_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[str, int, int, int]:
    """``(format, width, height, orientation)`` of an image from its header
    only: the stored size and the EXIF Orientation (1..8, 1 when absent).

    Raises
    ------
    NotAnImageError, UnsupportedImageError, ImageTooLargeError, CorruptImageError
        As :func:`read_input` for the same file (HEIC and GIF are not probed).
    """
    fmt = sniff(data)
    if fmt == "jpeg":
        from .metadata import exif_orientation

        width, height = check_jpeg_size(data, max_pixels)
        return fmt, width, height, exif_orientation(data)
    if fmt not in ("png", "bmp", "tiff", "webp"):
        raise UnsupportedImageError(f"picveil cannot read {fmt.upper()} images.")
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data), formats=[fmt.upper()]) as im:
            width, height = im.size
            if width * height > max_pixels:
                raise ImageTooLargeError(
                    f"The image is {width}×{height} = {width * height:,} pixels, over the limit of {max_pixels:,} pixels."
                )
            orientation = im.getexif().get(0x0112, 1)
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(f"The image is too large: {exc}") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise CorruptImageError(f"The {fmt.upper()} file could not be read: {exc}") from None
    if not (isinstance(orientation, int) and 1 <= orientation <= 8):
        orientation = 1
    return fmt, width, height, orientation


def read_input(
    data: bytes,
    *,
    quality: int = 95,
    subsampling: str = "4:4:4",
    max_pixels: int = DEFAULT_MAX_PIXELS,
    notes: list[str] | None = None,
    srgb: bool = False,
) -> tuple[bytes, str]:
    """Turn any supported input into JPEG bytes for protection.

    Parameters
    ----------
    data : bytes
        The whole input file.
    quality, subsampling, max_pixels, notes, srgb
        As :func:`to_jpeg`; `quality`, `subsampling` and `notes` apply to
        non-JPEG inputs, and to a JPEG that `srgb` converts.

    Returns
    -------
    (bytes, str)
        The JPEG (the input itself, unchanged, when it is a grayscale or
        YCbCr/RGB JPEG that `srgb` leaves alone, but for an arithmetic-coded
        one: its lossless Huffman copy, :func:`picveil.jpeg.codec.huffman_copy`,
        which every decoder reads; re-encoded when `srgb` converts its colours)
        and the source format as :func:`sniff` names it. A
        CMYK or YCCK JPEG is converted to RGB like a CMYK TIFF (colour-managed
        when it carries a CMYK profile) and re-encoded; its format is then
        :data:`CMYK_JPEG`. A HEIC/HEIF photo is read with pillow-heif when it
        is installed (:func:`heic_to_png`).

    Raises
    ------
    ValueError, NotAnImageError, UnsupportedImageError, ImageTooLargeError, CorruptImageError
        As :func:`to_jpeg` and :func:`check_jpeg_size`.
    """
    _check_options(quality, subsampling, max_pixels)
    fmt = sniff(data)
    if fmt == "jpeg":
        check_jpeg_size(data, max_pixels)
        if jpeg_components(data) == 4:  # CMYK or YCCK (print exports): converted like a CMYK TIFF
            return to_jpeg(data, quality=quality, subsampling=subsampling, max_pixels=max_pixels), CMYK_JPEG
        if srgb:
            from .colour import is_srgb
            from .metadata import icc_profile

            if not is_srgb(icc_profile(data)):
                return to_jpeg(data, quality=quality, subsampling=subsampling, max_pixels=max_pixels, notes=notes, srgb=True), fmt
        from .codec import huffman_copy

        return huffman_copy(data, max_pixels=max_pixels) or bytes(data), fmt
    if fmt == "heic":  # phone photos: decoded by pillow-heif (the heic extra), then as a PNG
        data = heic_to_png(data, max_pixels=max_pixels)
    return to_jpeg(data, quality=quality, subsampling=subsampling, max_pixels=max_pixels, notes=notes, srgb=srgb), fmt


#: PNG compression used for the HEIC → PNG hand-over (speed over size: it is never stored).
_HEIC_PNG_LEVEL = 1
_HEIF_REGISTERED = False


def heic_available() -> bool:
    """Whether pillow-heif (``pip install "picveil[heic]"``) is installed."""
    try:
        import pillow_heif  # noqa: F401
    except ImportError:
        return False
    return True


def heic_to_png(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> bytes:
    """Decode a HEIC/HEIF photo (pillow-heif) into PNG bytes that :func:`to_jpeg` reads.

    pillow-heif applies the HEIF rotation and mirroring and resets the EXIF
    orientation to 1; EXIF (sanitised later by picveil's allow-list) and the
    ICC profile are carried. The pixel count is checked before decoding.

    Raises
    ------
    UnsupportedImageError
        pillow-heif is not installed (the hint says what to install).
    ImageTooLargeError
        width x height exceeds `max_pixels`.
    CorruptImageError
        pillow-heif cannot decode the file.
    """
    global _HEIF_REGISTERED
    try:
        import pillow_heif
    except ImportError:
        raise UnsupportedImageError(
            "This is a HEIC/HEIF photo, and reading HEIC needs pillow-heif.",
            hint='pip install "picveil[heic]" (or pillow-heif), or convert the photo to JPEG first.',
        ) from None
    from PIL import Image

    from picveil.errors import PicveilError

    if not _HEIF_REGISTERED:
        pillow_heif.register_heif_opener()
        _HEIF_REGISTERED = True
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.width * im.height > max_pixels:
                raise ImageTooLargeError(f"The HEIC image is {im.width}×{im.height}, over the limit of {max_pixels:,} pixels.")
            im.load()
            options = {k: im.info[k] for k in ("exif", "icc_profile") if im.info.get(k)}
            buf = io.BytesIO()
            im.save(buf, "PNG", compress_level=_HEIC_PNG_LEVEL, **options)
    except PicveilError:
        raise
    except (OSError, ValueError, SyntaxError, RuntimeError) as exc:
        raise CorruptImageError(f"The HEIC file could not be decoded: {exc}") from None
    return buf.getvalue()
