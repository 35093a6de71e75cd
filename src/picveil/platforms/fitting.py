"""Prepare a photo for a network *before* protecting it (``picveil fit``).

The module is called ``fitting`` rather than ``fit`` so that the submodule
cannot shadow the function :func:`fit` on the package.

:func:`fit` resizes a photo so that its long edge is at most the profile's
limit (``profile.fit_edge``: the smallest limit the sources report) and encodes it once as a baseline 4:2:0 JPEG at the profile's quality.
Protected afterwards, the photo is then small enough that the network has no
reason to resize it, which is the transformation that hurts a reveal most.

What ``fit`` keeps and what it changes
--------------------------------------
* **Pixels stay in stored orientation.** The EXIF Orientation tag is *not*
  applied to the pixels; it is copied to the output. Boxes given in
  stored-pixel coordinates (what ``picveil protect --box`` takes) therefore
  keep their meaning, after mapping with :func:`scale_box` /
  :meth:`FitResult.map_box`.
* **Metadata goes through picveil's allow-list**
  (:func:`picveil.jpeg.metadata.select_metadata` with the default
  :class:`~picveil.jpeg.metadata.MetadataPolicy`): the ICC profile is kept,
  EXIF is rewritten with GPS, serial numbers and the thumbnail removed and the
  orientation kept; EXIF PixelXDimension / PixelYDimension are set to the new
  size. XMP, IPTC, MPF and comments are dropped.
* **Resampling** is Pillow's Lanczos (a = 3) on the gamma-encoded (sRGB)
  values, as nearly every image tool and network does; resampling in linear
  light would darken fine bright detail slightly less, but would also differ
  from what the networks do. The image is never upscaled.
* **Non-JPEG input** (PNG, BMP, TIFF, WebP) is first turned into a JPEG by
  picveil's loader at quality 100, 4:4:4 (:func:`picveil.jpeg.loading.read_input`),
  so its size limits, alpha handling and EXIF cleaning apply; that step
  costs far less than the final encode.
* **Colour** is put in sRGB: a photo tagged with another colour profile
  (Display P3, Adobe RGB) is converted (:func:`picveil.jpeg.colour.to_srgb`)
  and tagged sRGB, as networks do on upload; the conversion is a non-linear
  change of every pixel that would otherwise erase picveil's robust header
  after protection. :attr:`FitResult.colour_from` names the profile converted from.
* **Shape.** A network that crops photos outside a range of shapes
  (``profile.aspect_range``: Instagram shows 4:5 to 1.91:1 whole) would cut
  off part of the photo and, with it, picveil's robust header. ``fit`` pads
  such a photo to the nearest allowed shape (centred, with the photo's mean
  colour kept between 40 and 215 so that the header can be written there too;
  ``aspect="pad"``, the default), or crops it itself, centred
  (``aspect="crop"``), or leaves it (``aspect="keep"``). The shape is the
  *displayed* one: a photo whose EXIF orientation turns it is measured turned.
  :func:`aspect_frame` computes the rectangle; :meth:`FitResult.map_box`
  follows it.
* The output is always re-encoded, even when no resize is needed, so that
  what is protected is exactly what the profile describes.
"""

from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass

from picveil.errors import CorruptImageError, InputError, UnsupportedImageError
from picveil.jpeg.loading import DEFAULT_MAX_PIXELS, read_input

from .profiles import PlatformProfile, get_profile

__all__ = ["ASPECT_MODES", "FitResult", "aspect_frame", "fit", "scale_box", "target_size"]

#: What :func:`fit` does to a photo whose shape the network would crop.
ASPECT_MODES = ("pad", "crop", "keep")
#: Pad colour limits: the photo's mean colour, kept where the robust header's
#: cells neither clip nor saturate.
PAD_LEVELS = (40, 215)

#: Pillow's chroma subsampling codes for ``Image.save(..., subsampling=)``.
PILLOW_SUBSAMPLING = {"4:4:4": 0, "4:2:2": 1, "4:2:0": 2}

# EXIF Exif-IFD pointer and the pixel-dimension tags inside it (EXIF 2.32 4.6.5).
_EXIF_IFD = 0x8769
_PIXEL_X = 0xA002
_PIXEL_Y = 0xA003


def target_size(width: int, height: int, max_edge: int) -> tuple[int, int]:
    """The size after shrinking ``width × height`` so its long edge is ``max_edge``.

    Never enlarges: a size whose long edge is at most `max_edge` comes back
    unchanged. Otherwise the long edge becomes exactly `max_edge` and the
    short edge ``round(short * max_edge / long)``, at least 1.

    Parameters
    ----------
    width, height : int
        Positive sizes in pixels.
    max_edge : int
        Positive limit in pixels.

    Returns
    -------
    (int, int)
        ``(width, height)``.

    Raises
    ------
    ValueError
        A non-positive argument.
    """
    if min(width, height, max_edge) < 1:
        raise ValueError(f"sizes must be positive, got {width}×{height} and max edge {max_edge}")
    long_edge = max(width, height)
    if long_edge <= max_edge:
        return width, height

    def short(n: int) -> int:
        return max(1, min(max_edge, round(n * max_edge / long_edge)))

    return (max_edge, short(height)) if width >= height else (short(width), max_edge)


def aspect_frame(
    width: int, height: int, aspect_range: tuple[float, float] | None, mode: str = "pad", *, turned: bool = False
) -> tuple[int, int, int, int]:
    """The rectangle of a ``width × height`` picture that has an allowed shape.

    Pure function. The shape is ``width / height`` as *displayed*: with
    ``turned`` (EXIF orientations 5-8) the displayed shape is
    ``height / width``. A shape inside `aspect_range` (or no range, or mode
    ``"keep"``) gives the whole picture ``(0, 0, width, height)``. Otherwise
    the nearest allowed shape, centred: ``"pad"`` extends the short side
    (negative ``x`` or ``y``: the padding before the picture), ``"crop"``
    shortens the long one. Sizes are rounded so that the result is inside
    the range (padding rounds up, cropping down).

    Parameters
    ----------
    width, height : int
        Positive stored size in pixels.
    aspect_range : (float, float) or None
        Narrowest and widest displayed ``width / height``.
    mode : str
        One of :data:`ASPECT_MODES`.
    turned : bool
        The picture is displayed turned a quarter.

    Returns
    -------
    (int, int, int, int)
        ``x, y, w, h`` in stored pixels of the input.

    Raises
    ------
    ValueError
        Non-positive size, or an unknown mode.
    """
    if mode not in ASPECT_MODES:
        raise ValueError(f"aspect mode must be one of {', '.join(ASPECT_MODES)}, got {mode!r}")
    if min(width, height) < 1:
        raise ValueError(f"sizes must be positive, got {width}×{height}")
    if aspect_range is None or mode == "keep":
        return 0, 0, width, height
    w, h = (height, width) if turned else (width, height)  # displayed
    low, high = aspect_range
    a = w / h
    if low <= a <= high:
        return 0, 0, width, height
    if mode == "pad":
        if a > high:
            nw, nh = w, math.ceil(w / high - 1e-9)
        else:
            nw, nh = math.ceil(h * low - 1e-9), h
    else:
        if a > high:
            nw, nh = max(1, math.floor(h * high + 1e-9)), h
        else:
            nw, nh = w, max(1, math.floor(w / low + 1e-9))
    x, y = (w - nw) // 2 if nw < w else -((nw - w) // 2), (h - nh) // 2 if nh < h else -((nh - h) // 2)
    return (y, x, nh, nw) if turned else (x, y, nw, nh)


def _box_fields(box) -> tuple[int, int, int, int]:
    """``x, y, w, h`` of a 4-tuple or of anything with those fields (:class:`picveil.regions.Box`)."""
    fields = (box.x, box.y, box.w, box.h) if hasattr(box, "w") else tuple(box)
    if len(fields) != 4:
        raise ValueError(f"a box is (x, y, w, h), got {box!r}")
    return tuple(int(v) for v in fields)  # type: ignore[return-value]


def scale_box(
    box: tuple[int, int, int, int], from_size: tuple[int, int], to_size: tuple[int, int]
) -> tuple[int, int, int, int]:
    """Map a box ``(x, y, w, h)`` from an image of `from_size` to one of `to_size`.

    The box grows outward to whole pixels (its left/top edge rounded down,
    right/bottom edge rounded up), so that what it covered before it still
    covers; it is clipped to the new image.

    Parameters
    ----------
    box : (int, int, int, int)
        ``x, y, w, h`` in pixels of the source image (anything with four
        integer fields, e.g. :class:`picveil.regions.Box`, also works).
    from_size, to_size : (int, int)
        ``(width, height)`` of the source and of the resized image.

    Returns
    -------
    (int, int, int, int)
        ``x, y, w, h`` in pixels of the resized image.
    """
    x, y, w, h = _box_fields(box)
    sx, sy = to_size[0] / from_size[0], to_size[1] / from_size[1]
    x0, y0 = max(0, math.floor(x * sx + 1e-9)), max(0, math.floor(y * sy + 1e-9))
    x1 = min(to_size[0], math.ceil((x + w) * sx - 1e-9))
    y1 = min(to_size[1], math.ceil((y + h) * sy - 1e-9))
    return x0, y0, max(0, x1 - x0), max(0, y1 - y0)


@dataclass(frozen=True)
class FitResult:
    """What :func:`fit` produced.

    Attributes
    ----------
    jpeg : bytes
        The baseline JPEG, ready to protect and upload.
    scale : float
        ``new long edge / old long edge``: 1.0 when no resize was needed,
        otherwise exactly ``profile.fit_edge / old long edge`` (the short
        edge is rounded to whole pixels, so use :meth:`map_box` to map boxes).
    size : (int, int)
        ``(width, height)`` of the output, in stored (not EXIF-rotated) pixels.
    source_size : (int, int)
        ``(width, height)`` of the input, in stored pixels.
    quality : int
        The JPEG quality used.
    frame : (int, int, int, int) or None
        ``x, y, w, h`` in the input's stored pixels of what became the output
        before resizing: the whole input (``None``), a padded frame (negative
        ``x`` or ``y``) or a crop (see :func:`aspect_frame`).
    colour_from : str or None
        The colour profile the photo was converted to sRGB from
        (``'Display P3'``), or None when it was sRGB already.
    notes : tuple of str
        What reading the input changed, for the user (transparent pixels
        put on white: :data:`picveil.jpeg.loading.TRANSPARENCY_NOTE`).
    """

    jpeg: bytes
    scale: float
    size: tuple[int, int]
    source_size: tuple[int, int]
    quality: int
    frame: tuple[int, int, int, int] | None = None
    colour_from: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def resized(self) -> bool:
        """The output's pixels no longer line up with the input's (resized, padded or cropped)."""
        return self.size != self.source_size or self.reframed

    @property
    def region(self) -> tuple[int, int, int, int]:
        """``x, y, w, h`` of what was resized, in the input's stored pixels: :attr:`frame`, or the whole input."""
        return self.frame or (0, 0, *self.source_size)

    @property
    def reframed(self) -> bool:
        """The photo was padded or cropped to a shape the network shows whole."""
        return self.region != (0, 0, *self.source_size)

    @property
    def padded(self) -> bool:
        return self.region[0] < 0 or self.region[1] < 0

    def describe(self, profile: PlatformProfile | str) -> str:
        """What the fit did, in words: ``"Instagram: 548×1100 → 864×1080 (padded
        to 880×1100 so that Instagram shows it whole, scale 0.9818), JPEG q85"``."""
        prof = get_profile(profile)
        fw, fh = self.region[2:]
        how = f"scale {self.scale:.4f}" if self.size != (fw, fh) else "no resize needed"
        if self.reframed:
            how = f"{'padded' if self.padded else 'cropped'} to {fw}×{fh} so that {prof.title} shows it whole, {how}"
        (sw, sh), (w, h) = self.source_size, self.size
        colour = f", colours converted from {self.colour_from} to sRGB" if self.colour_from else ""
        return f"{prof.title}: {sw}×{sh} → {w}×{h} ({how}), JPEG q{self.quality} {prof.subsampling} baseline{colour}"

    def map_box(self, box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        """Map a box in the input's stored pixels to the output (see :func:`scale_box`).

        A box cropped away entirely comes back with zero width or height."""
        fx, fy, fw, fh = self.region
        x, y, w, h = _box_fields(box)
        x0, y0 = min(max(x - fx, 0), fw), min(max(y - fy, 0), fh)
        x1, y1 = min(max(x + w - fx, 0), fw), min(max(y + h - fy, 0), fh)
        return scale_box((x0, y0, x1 - x0, y1 - y0), (fw, fh), self.size)

    def map_mask(self, mask):
        """Map a boolean mask of the input's stored size to the output's size."""
        import numpy as np
        from PIL import Image

        m = np.asarray(mask, dtype=bool)
        if m.shape != (self.source_size[1], self.source_size[0]):
            raise ValueError(f"the mask is {m.shape[1]}×{m.shape[0]}, the photo {self.source_size[0]}×{self.source_size[1]}")
        fx, fy, fw, fh = self.region
        canvas = np.zeros((fh, fw), dtype=np.uint8)
        sx0, sy0 = max(fx, 0), max(fy, 0)
        sx1, sy1 = min(fx + fw, m.shape[1]), min(fy + fh, m.shape[0])
        canvas[sy0 - fy : sy1 - fy, sx0 - fx : sx1 - fx] = m[sy0:sy1, sx0:sx1] * 255
        return np.asarray(Image.fromarray(canvas).resize(self.size)) > 127


def _update_pixel_dimensions(payload: bytes, size: tuple[int, int]) -> bytes | None:
    """Set EXIF PixelX/YDimension in an (already cleaned) APP1 payload, if present."""
    from PIL import Image

    exif = Image.Exif()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exif.load(payload)
            sub = exif.get_ifd(_EXIF_IFD)
            if _PIXEL_X not in sub and _PIXEL_Y not in sub:
                return payload
            if _PIXEL_X in sub:
                sub[_PIXEL_X] = size[0]
            if _PIXEL_Y in sub:
                sub[_PIXEL_Y] = size[1]
            return exif.tobytes()
    except (SyntaxError, ValueError, TypeError, KeyError, IndexError, OSError, EOFError):
        return None  # cannot be rewritten: dropped (fail closed)


def fit(
    image: bytes,
    profile: PlatformProfile | str,
    *,
    quality: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    aspect: str = "pad",
) -> FitResult:
    """Resize and re-encode a photo for a network's profile.

    Parameters
    ----------
    image : bytes
        A JPEG, PNG, BMP, TIFF or WebP file.
    profile : PlatformProfile or str
        The profile, or its name (see :data:`picveil.platforms.profiles.PROFILES`).
    quality : int, optional
        JPEG quality 1..100 instead of ``profile.jpeg_quality``.
    max_pixels : int
        Refuse inputs with more pixels than this.
    aspect : str
        What to do with a shape the network would crop (``profile.aspect_range``):
        ``"pad"`` (default), ``"crop"`` or ``"keep"``; see :func:`aspect_frame`.

    Returns
    -------
    FitResult
        The JPEG, the scale applied and the sizes (see the module docstring
        for what is kept).

    Raises
    ------
    InputError
        Unknown profile name, or a photo picveil already protected (its
        picveil data would be lost: fit before protecting).
    ValueError
        `quality` outside 1..100, or an unknown `aspect`.
    NotAnImageError, CorruptImageError, UnsupportedImageError, ImageTooLargeError
        As :func:`picveil.jpeg.loading.read_input` (which converts a CMYK JPEG to RGB).
    """
    from PIL import Image

    from picveil.jpeg.colour import profile_name, srgb_profile, to_srgb
    from picveil.jpeg.markers import insert_segments
    from picveil.jpeg.metadata import APP1, APP2, EXIF_SIG, ICC_SIG, MetadataPolicy, icc_profile, select_metadata

    prof = get_profile(profile)
    q = prof.jpeg_quality if quality is None else quality
    if isinstance(q, bool) or not isinstance(q, int) or not 1 <= q <= 100:
        raise ValueError(f"quality must be an integer from 1 to 100, got {q!r}")
    if aspect not in ASPECT_MODES:
        raise ValueError(f"aspect must be one of {', '.join(ASPECT_MODES)}, got {aspect!r}")

    notes: list[str] = []
    jpeg, fmt = read_input(image, quality=100, subsampling="4:4:4", max_pixels=max_pixels, notes=notes)
    if fmt == "jpeg":
        from picveil.container import is_picveil_packet
        from picveil.jpeg.markers import app11_payloads

        if any(is_picveil_packet(p) for p in app11_payloads(image)):
            raise InputError(
                "This photo is already protected by picveil: fitting it would re-encode it and drop its picveil "
                "data, and regions protected for keys or a passphrase could never be revealed again.",
                hint="Fit the original photo, then protect the fitted one (or protect it with --platform, which does both).",
            )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            im = Image.open(io.BytesIO(jpeg))
            im.load()
    except (OSError, SyntaxError, ValueError) as exc:
        raise CorruptImageError(f"The JPEG could not be decoded: {exc}") from exc
    if im.mode not in ("L", "RGB"):
        raise UnsupportedImageError(f"picveil fits grayscale and RGB photos, not {im.mode} JPEGs.")
    turned = im.getexif().get(0x0112, 1) in (5, 6, 7, 8)
    icc = icc_profile(jpeg)
    srgb = to_srgb(im, icc)
    colour_from = None
    if srgb is not None:
        colour_from, im = profile_name(icc), srgb
    src_size = im.size
    frame = aspect_frame(*src_size, prof.aspect_range, aspect, turned=turned)
    if frame != (0, 0, *src_size):
        im = _reframe(im, frame)
    new_size = target_size(*im.size, prof.fit_edge)
    if prof.aspect_range is not None and aspect != "keep":
        new_size = _keep_shape(new_size, prof.aspect_range, turned)
    if new_size != im.size:
        im = im.resize(new_size, Image.Resampling.LANCZOS)
    scale = max(new_size) / max(frame[2:])

    im.info = {}  # Pillow would copy a JPEG comment from info; metadata goes below
    buf = io.BytesIO()
    options: dict[str, object] = {"quality": q, "progressive": False, "optimize": True}
    if im.mode == "RGB":
        options["subsampling"] = PILLOW_SUBSAMPLING[prof.subsampling]
    im.save(buf, "JPEG", **options)

    segments = []
    if colour_from is not None:  # tagged sRGB instead of the profile converted from
        segments.append((APP2, ICC_SIG + b"\x01\x01" + srgb_profile()))
    for marker, payload in select_metadata(jpeg, MetadataPolicy()):
        if colour_from is not None and marker == APP2 and payload.startswith(ICC_SIG):
            continue
        if marker == APP1 and payload.startswith(EXIF_SIG):
            payload = _update_pixel_dimensions(payload, new_size)
            if payload is None:
                continue
        segments.append((marker, payload))
    out = insert_segments(buf.getvalue(), segments)
    return FitResult(
        jpeg=out, scale=scale, size=new_size, source_size=src_size, quality=q, frame=frame, colour_from=colour_from,
        notes=tuple(notes),
    )


def _keep_shape(size: tuple[int, int], aspect_range: tuple[float, float], turned: bool) -> tuple[int, int]:
    """`size` with its short edge moved by the pixel that rounding may have put
    outside `aspect_range` (a 1.91:1 frame resized to 1080 × 565 is 1.9115)."""
    w, h = size
    dw, dh = (h, w) if turned else (w, h)  # displayed
    low, high = aspect_range
    if dw / dh > high:  # too wide by rounding: one more row (the short side; the long one stays)
        dh += 1
    elif dw / dh < low:  # too narrow: one more column
        dw += 1
    return (dh, dw) if turned else (dw, dh)


def _reframe(im, frame: tuple[int, int, int, int]):
    """`im` cropped to `frame`, or pasted centred on a canvas of the frame's
    size filled with its mean colour (kept within :data:`PAD_LEVELS`)."""
    from PIL import Image, ImageStat

    x, y, w, h = frame
    if x >= 0 and y >= 0:
        return im.crop((x, y, x + w, y + h))
    mean = [min(max(round(v), PAD_LEVELS[0]), PAD_LEVELS[1]) for v in ImageStat.Stat(im).mean]
    fill = tuple(mean) if im.mode == "RGB" else mean[0]
    canvas = Image.new(im.mode, (w, h), fill)
    canvas.paste(im, (-x, -y))
    return canvas
