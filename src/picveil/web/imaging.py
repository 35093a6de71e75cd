"""Image helpers for the web app: size and orientation, box spaces, previews.

Two coordinate spaces
---------------------
picveil's boxes are in *stored* pixels: the pixel grid of the file, before
the EXIF Orientation tag is applied (the CLI and the Python API use these).
A browser shows a photo *displayed*: rotated or mirrored as its EXIF
Orientation says. The page works in displayed pixels, so that boxes sit over
what the user sees; endpoints that take or return boxes have a ``space`` field
(``stored``, the default, or ``displayed``) and convert with
:func:`to_stored` / :func:`to_displayed`.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from ..errors import CorruptImageError, RegionError
from ..regions import Box
from .errors import WebError

SPACES = ("stored", "displayed")
#: Longest edge of the live preview, pixels.
PREVIEW_EDGE = 1024
PREVIEW_QUALITY = 90


@dataclass(frozen=True)
class ImageInfo:
    """What the app needs to know of an upload before touching its pixels."""

    format: str  #: ``jpeg``, ``png``, ``bmp``, ``tiff`` or ``webp``
    width: int  #: stored width
    height: int  #: stored height
    orientation: int  #: EXIF Orientation, 1..8 (1 when absent)

    @property
    def displayed_size(self) -> tuple[int, int]:
        return (self.height, self.width) if self.orientation >= 5 else (self.width, self.height)


def uploaded_photo(data: bytes, max_pixels: int) -> bytes:
    """The photo as the routes work on it: a phone's HEIC/HEIF decoded to a
    PNG (pillow-heif, the heic extra, applies its rotation), anything else
    unchanged. Errors as :func:`picveil.jpeg.loading.heic_to_png`."""
    from ..jpeg.loading import heic_to_png, sniff

    try:
        heic = sniff(data) == "heic"
    except Exception:  # noqa: BLE001 - not an image: probe reports it
        return data
    return heic_to_png(data, max_pixels=max_pixels) if heic else data


def probe(data: bytes, max_pixels: int) -> ImageInfo:
    """Format, stored size and orientation of an image, from its header only.

    Raises the same typed errors as :func:`picveil.protect` does for the same
    file: :class:`NotAnImageError`, :class:`UnsupportedImageError` (GIF,
    HEIC…), :class:`ImageTooLargeError` over ``max_pixels``,
    :class:`CorruptImageError`.
    """
    from ..errors import ImageTooLargeError, UnsupportedImageError
    from ..jpeg.loading import check_jpeg_size, sniff

    fmt = sniff(data)
    if fmt == "jpeg":
        from ..jpeg.metadata import exif_orientation

        width, height = check_jpeg_size(data, max_pixels)
        return ImageInfo(fmt, width, height, exif_orientation(data))
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
    return ImageInfo(fmt, width, height, orientation)


# --- box spaces ----------------------------------------------------------------------------
def _point_to_stored(u: float, v: float, o: int, w: int, h: int) -> tuple[float, float]:
    """A displayed point (``u`` right, ``v`` down) as a stored point, for an image
    stored ``w × h`` with EXIF orientation ``o`` (TIFF 6.0 / EXIF 2.3 tag 274)."""
    return {
        1: (u, v),
        2: (w - u, v),
        3: (w - u, h - v),
        4: (u, h - v),
        5: (v, u),
        6: (v, h - u),
        7: (w - v, h - u),
        8: (w - v, u),
    }[o]


def _point_to_displayed(x: float, y: float, o: int, w: int, h: int) -> tuple[float, float]:
    """Inverse of :func:`_point_to_stored`."""
    return {
        1: (x, y),
        2: (w - x, y),
        3: (w - x, h - y),
        4: (x, h - y),
        5: (y, x),
        6: (h - y, x),
        7: (h - y, w - x),
        8: (y, w - x),
    }[o]


def _map_box(box: Box, fn, o: int, w: int, h: int) -> Box:
    x0, y0 = fn(box.x, box.y, o, w, h)
    x1, y1 = fn(box.x + box.w, box.y + box.h, o, w, h)
    return Box(int(min(x0, x1)), int(min(y0, y1)), int(abs(x1 - x0)), int(abs(y1 - y0)))


def to_stored(box: Box, info: ImageInfo) -> Box:
    """A box in displayed pixels, in stored pixels."""
    return _map_box(box, _point_to_stored, info.orientation, info.width, info.height)


def to_displayed(box: Box, info: ImageInfo) -> Box:
    """A box in stored pixels, in displayed pixels."""
    return _map_box(box, _point_to_displayed, info.orientation, info.width, info.height)


def check_space(space: str | None) -> str:
    space = (space or "stored").strip().lower()
    if space not in SPACES:
        raise WebError(f"space must be 'stored' or 'displayed', got {space!r}.", status=422)
    return space


def parse_boxes(text: str | None) -> list[Box]:
    """Boxes from the ``boxes`` field: a JSON list of ``{"x","y","w","h"}`` objects
    or ``[x, y, w, h]`` lists, integers in pixels."""
    import json

    if not text:
        raise RegionError("No region to protect.", hint="Draw a box over what to hide, or let picveil detect faces.")
    try:
        items = json.loads(text)
    except ValueError:
        raise RegionError("The boxes field is not valid JSON.", hint='Send e.g. [{"x": 10, "y": 20, "w": 80, "h": 80}].') from None
    if not isinstance(items, list):
        raise RegionError("The boxes field must be a JSON list of boxes.")
    boxes = []
    for item in items:
        if isinstance(item, dict):
            values = [item.get(k) for k in ("x", "y", "w", "h")]
        elif isinstance(item, list) and len(item) == 4:
            values = item
        else:
            raise RegionError(f"Cannot read a box from {item!r}; expected {{x, y, w, h}}.")
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            raise RegionError(f"Cannot read a box from {item!r}; x, y, w and h must be numbers.")
        x, y, w, h = (round(v) for v in values)
        if w <= 0 or h <= 0:
            raise RegionError(f"The box {x},{y},{w},{h} is empty.")
        boxes.append(Box(x, y, w, h))
    if not boxes:
        raise RegionError("No region to protect.", hint="Draw a box over what to hide, or let picveil detect faces.")
    return boxes


# --- preview -----------------------------------------------------------------------------
def preview_source(data: bytes, info: ImageInfo, boxes_displayed: list[Box]) -> tuple[bytes, list[Box], float]:
    """A small, upright JPEG for the live preview, and the boxes scaled onto it.

    Returns ``(jpeg, boxes, scale)``. A small upright JPEG is used as it is
    (the preview is then exactly the final result); anything else is decoded,
    turned upright, shrunk to :data:`PREVIEW_EDGE` and encoded once.
    """
    dw, dh = info.displayed_size
    if info.format == "jpeg" and info.orientation == 1 and max(dw, dh) <= PREVIEW_EDGE:
        return data, boxes_displayed, 1.0
    from PIL import Image, ImageOps

    try:
        with Image.open(io.BytesIO(data)) as im:
            im = ImageOps.exif_transpose(im)
            scale = min(1.0, PREVIEW_EDGE / max(im.size))
            if scale < 1.0:
                im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), Image.Resampling.LANCZOS)
            if im.mode not in ("L", "RGB"):
                im = im.convert("RGB")
            buf = io.BytesIO()
            im.save(buf, "JPEG", quality=PREVIEW_QUALITY)
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise CorruptImageError(f"The image could not be decoded: {exc}") from None
    boxes = [Box(round(b.x * scale), round(b.y * scale), max(1, round(b.w * scale)), max(1, round(b.h * scale))) for b in boxes_displayed]
    return buf.getvalue(), boxes, scale
