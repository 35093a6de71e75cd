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
import math
from dataclasses import dataclass

from ..errors import CorruptImageError, RegionError
from ..regions import Box
from ..regions.spaces import box_to_displayed, box_to_stored
from .errors import WebError

SPACES = ("stored", "displayed")
#: Longest edge of the live preview, pixels.
PREVIEW_EDGE = 1024
#: Largest |x|, |y|, |w|, |h| of a box (pixels; a JPEG side is at most 65535).
_BOX_LIMIT = 1 << 20
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
    """Format, stored size and orientation of an image, from its header only
    (:func:`picveil.jpeg.loading.probe_image`; the same typed errors as
    :func:`picveil.protect` for the same file)."""
    from ..jpeg.loading import probe_image

    return ImageInfo(*probe_image(data, max_pixels))


# --- box spaces ----------------------------------------------------------------------------
def to_stored(box: Box, info: ImageInfo) -> Box:
    """A box in displayed pixels, in stored pixels."""
    return box_to_stored(box, info.orientation, info.width, info.height)


def to_displayed(box: Box, info: ImageInfo) -> Box:
    """A box in stored pixels, in displayed pixels."""
    return box_to_displayed(box, info.orientation, info.width, info.height)


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
        if not all(math.isfinite(v) and abs(v) <= _BOX_LIMIT for v in values):
            raise RegionError(f"Cannot read a box from {item!r}; x, y, w and h must be finite pixel counts.")
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
    if info.format == "jpeg":
        from picveil.jpeg.codec import huffman_copy

        data = huffman_copy(data) or data  # an arithmetic-coded JPEG, which neither Pillow nor a browser decodes
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
