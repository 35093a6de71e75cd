"""Reveal from decoded pixels: after metadata stripping, recompression, WebP, PNG or resizing.

When a platform has stripped picveil's container, the robust in-image header
(SPEC.md §13) still says where the regions are, which circle opens them and
how the image was sampled. :func:`reveal_pixels` reads it, derives the region
keys from the revealer's keyring, and inverts the scramble on the block DCT of
the *received* pixels, mapped back onto the protected image's 8×8 grid:

1. decode the received file (a lossy WebP without VP8's deblocking filter,
   :mod:`picveil.jpeg.vp8`); extract and parse the header (if there is none,
   try the picture turned by 90, 270 and 180 degrees: a platform may have
   applied the photo's EXIF orientation; the result is turned back);
2. open the key groups with the keyring's circles (id prefix + key check);
3. measure the scale (received size against the header's) and map the
   picture back to the original grid: a JPEG of the original size is read
   from its coefficients (YCbCr planes, unclipped, chroma at its own
   resolution); anything else is converted to YCbCr (resized up to the
   original size first if the platform shrank it), chroma box-averaged to
   the original sampling;
4. if the header had to be written over the regions (SPEC.md §13.5), take
   its smooth luma pattern out of them first (:func:`_remove_header_pattern`);
5. undo the blur of the scrambled chroma between protected and received file
   (the viewer's triangle upsampling then an encoder's box downsampling:
   ``[1/8, 3/4, 1/8]`` per axis; WebP blurs more): from a re-encoded JPEG, a
   MAP estimate with the received tables' quantization noise and a smooth
   unscrambled chroma (:func:`_chroma_map`; a WebP with a flat noise level);
   otherwise a Wiener-regularised inverse (:func:`deconvolve`). Chroma the
   protected file kept at a finer sampling than the received file (a 4:4:4
   photo re-encoded 4:2:0 by a network, or served as a lossy WebP) is
   estimated at full resolution from the received samples: only the
   frequencies the scheme writes, under the smoothness of the unscrambled
   chroma (:func:`_chroma_map_down`). Nothing to undo when the JPEG is the protected
   file itself (same quantization tables as the header's fingerprint: then
   scramble-v1/v3 is revealed exactly, on the integer coefficients, and
   scramble-v4 but for block means within one DC step);
6. recover what the viewer's clipping to 0..255 took away (same size only):
   a scrambled picture leaves the RGB gamut far more often than a photo, and
   pixels seen at 0 or 255 are only bounds; the values that make the
   unscrambled region smoothest within those bounds, under an edge-preserving
   roughness (quadratic for small steps, linear for edges), are found by a
   projected L-BFGS (:class:`_ClipProblem`); the YCbCr components the viewer
   clamped before its colour conversion are bounds too; where a mixed
   region's unmixed luma shows the original's lattice, the values are then
   moved, within the same bounds, towards the region snapped to it
   (:data:`CLIP_LATTICE_ROUNDS`);
7. invert the scheme in floating point (scramble-v1/v3: signed block permutations,
   scramble-v4 also block means divided by 0.7;
   scramble-v2: also the block means, through the header's quantile knots);
8. if the picture was shrunk: refine the unscrambled region by least squares
   against the received pixels, modelling the downscale (an antialiased
   filter, Lanczos, bicubic, bilinear, box or area, or a naive linear or
   nearest-neighbour one: :data:`RESIZE_KERNELS`, read from the spectrum of
   the scramble-v5/v6/v7/v8 regions, :func:`_spectral_kernel`, where it cannot
   tell box, linear and nearest apart from the energy's pattern across rows
   and columns, else chosen by cross-validation) with an edge-preserving
   smoothness prior (:class:`_ResizeProblem`); solve again with the viewer's
   clipping of the shown region, as the estimate implies it, taken out of the
   received pixels (:data:`RESIZE_CLIP_PASSES`; a region that touches
   another is fitted to the received pixels with the other's scrambled share
   swapped for its revealed one, as the picture beside it is read:
   :data:`RESIZE_NEIGHBOURS`); swap the scrambled region's
   share of the received pixels beside it for the revealed region's
   (:func:`_cleaned`; that share counts the pixels just outside the region
   that the viewer's chroma upsampling gave part of it, and the received
   file's own chroma subsampling); then resize the revealed picture to the
   received size with that filter and paste; at the original size, paste and
   take the scrambled chroma's share out of the pixels around each region
   (:func:`_ring_shares_around`: the viewer's upsampling of 4:2:0 chroma put a
   quarter of the region's edge samples on the pixel outside it, and a
   re-encoder spreads that over two or three);
9. regions painted with another look (fill, blur, ...) cannot be inverted;
   when the header carries their encrypted thumbnail (SPEC.md §13.7) and it
   authenticates, it is rendered at the region's received size (DCT
   resampling: smooth) and pasted with a feathered edge: a low-resolution
   copy, reported in ``low_res``.

Pure numpy/scipy on arrays; the keys come from :mod:`picveil.crypto` objects.

What limits the quality (measured in ``benchmarks/bench_robust.py``): the
viewer's clipping of the scrambled picture, which the smoothness prior only
partly recovers; the JPEG noise of a *resized* scrambled picture, which is
noise-like at every frequency and loses far more than a photo does (protect
with ``--platform`` so that the platform need not resize); scramble-v2's
block means, known only through 17 (luma) and 5 (chroma) knots.
"""

from __future__ import annotations

import io
import itertools
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from picveil.errors import (
    CircleNotFoundError,
    CorruptImageError,
    ImageTooLargeError,
    NotAnImageError,
    UnsupportedVersionError,
)
from picveil.jpeg.pixels import blocks_to_plane, fancy_upsample, rgb_to_ycbcr, ycbcr_planes, ycbcr_to_rgb

from .errors import HeaderDamagedError
from .header import RobustHeader
from .lattice import FIT_MAX_BLOCKS, find_tables, snap

__all__ = [
    "OUTPUT_QUALITY",
    "PixelHeaderInfo",
    "PixelRevealReport",
    "deconvolve",
    "encode_output",
    "picture_frames",
    "read_header",
    "reveal_pixels",
]

#: Largest image, in pixels, decoded by default (decompression-bomb guard).
DEFAULT_MAX_PIXELS = 200_000_000
#: JPEG quality of the revealed picture.
OUTPUT_QUALITY = 95
#: A received picture matches the header's aspect ratio if its size is that of
#: the original scaled by one factor, give or take this many pixels per side.
ASPECT_TOLERANCE_PX = 2.0
#: Relative size difference under which the picture counts as not resized.
SAME_SIZE_TOLERANCE = 1e-9
#: Blur ``[a, 1 - 2a, a]`` per axis of subsampled chroma between the protected
#: file and the received one (see :func:`_blur_model`), and the Wiener
#: regularisation (noise-to-signal power) of its inverse.
JPEG_CHROMA_BLUR = 0.125
WEBP_CHROMA_BLUR = 0.22
#: Other lossy formats a platform may serve, whose quantizers picveil does not
#: read: ``fmt -> (chroma blur a, flat luma step, flat chroma step)``, the
#: steps as a JPEG-style table's (see :func:`_mixed_noise`, :data:`WEBP_LUMA_STEPS`).
#: Chosen (eighteenth session) on 5 photos (scikit-image's coffee and chelsea
#: at 2x, opencv-doc's aloeR, ela_modified and fruits; scramble-v8, three
#: regions each) against the JPEG blur and no noise model, same files and
#: keys; on the three of them tried with every setting: AVIF (Pillow's
#: libavif, q60 and q80; chroma blurred like a WebP's) -6.3 -> -2.7 dB mean
#: gap, worst -8.3 -> -4.5; HEIC (pillow-heif's x265, q70; like a JPEG's)
#: -2.6 -> -2.0. On 11 other photos (docs/robust): AVIF 80 -4.67 -> -2.74,
#: AVIF 60 -2.51 -> -1.42. The steps are a
#: WebP's at quantizer index 20 (AVIF) and 10 (HEIC): their files' quantizers
#: are not read, so one middle quality stands for all.
OTHER_LOSSY_MODELS: dict[str, tuple[float, float, float]] = {
    "avif": (WEBP_CHROMA_BLUR, 17.2, 7.5),
    "heic": (JPEG_CHROMA_BLUR, 9.9, 4.5),
}
WIENER_NU = 0.01
WEBP_WIENER_NU = 0.05
#: Typical rms of scrambled chroma (the signal the Wiener inverse weighs noise against).
CHROMA_SIGNAL_RMS = 25.0
#: Pixels around a region also read when deconvolving (the inverse blur's reach).
DECONV_MARGIN = 16

_D8 = np.array(
    [[(math.sqrt(1 / 8) if u == 0 else 0.5) * math.cos((2 * x + 1) * u * math.pi / 16) for x in range(8)] for u in range(8)]
)


# --- results ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class PixelRevealReport:
    """What :func:`reveal_pixels` did.

    Attributes
    ----------
    header : RobustHeader
        The robust header read from the picture.
    revealed : tuple of int
        Indices of the regions restored.
    locked : tuple of int
        Regions the keyring could not open (another circle).
    container_only : tuple of int
        Regions whose look can only be undone with the container (not
        scramble) and that got no thumbnail back.
    low_res : tuple of int
        Painted regions shown as their low-resolution thumbnail (SPEC.md
        §13.7): a reduced-quality copy of the original, not a reveal.
    received_size : (int, int)
        Width and height of the received picture (also of the output).
    scale : float
        Received size over original size (1.0: not resized).
    source : str
        ``"jpeg-coefficients"`` (planes read from the JPEG's DCT), ``"jpeg-coefficients
        (exact)"`` (scramble-v1/v3 on the protected coefficients themselves: an
        exact reveal) or ``"pixels"``.
    circles : tuple of str
        Names (in this keyring) of the circles that opened regions.
    blur : tuple of (float, float, float)
        Per component, the blur ``(a_y, a_x)`` of ``[a, 1 - 2a, a]`` that was
        undone and the regularisation ``nu`` (see :func:`deconvolve`).
    clipped : int
        Received pixels found clipped inside the regions and re-estimated.
    jpeg : bytes
        For an exact reveal only: the restored JPEG (the received coefficients,
        regions unscrambled; no metadata), else empty.
    rotated : int
        Degrees (90, 180, 270, counter-clockwise) by which the received picture
        was turned against the protected one (a platform applied the EXIF
        orientation); the revealed picture is turned the same way.
    resampling : str
        For a shrunk picture, the platform's resampling filter as the reveal
        estimated it (one of :data:`RESIZE_KERNELS`), else empty.
    frame : (int, int, int, int) or None
        ``x0, y0, x1, y1`` of the protected picture inside a plain border of
        the received one (a screenshot; :func:`picture_frames`), which alone
        was revealed; the output is the whole received picture. None: the
        picture filled the received one.
    mirrored : bool
        The received picture was the protected one mirrored (left to right,
        then turned by `rotated`: an EXIF orientation that mirrors, or a flip);
        the revealed picture is mirrored the same way.
    cropped : (int, int, int, int) or None
        Pixels cut off the protected picture's left, top, right and bottom
        edges (at most :data:`CROP_MAX_PX` each way, :func:`_small_crop`);
        the reveal put the picture back in place, and returns it as received.
    tone : (float, float) or None
        ``(b, c)``: the received picture's grey levels were the protected
        one's changed to ``x + b + c (x - 128)`` (a brightness or contrast
        edit); the regions were revealed with it undone, then given it again.
    to_srgb : bool
        The received file was tagged with another colour space's ICC profile
        (converted after protection, which writes sRGB): it was converted to
        sRGB, revealed, and is returned in sRGB.
    """

    header: RobustHeader
    revealed: tuple[int, ...]
    locked: tuple[int, ...]
    container_only: tuple[int, ...]
    received_size: tuple[int, int]
    scale: float
    source: str
    circles: tuple[str, ...] = ()
    blur: tuple[tuple[float, ...], ...] = ()
    clipped: int = 0
    jpeg: bytes = field(default=b"", repr=False)
    low_res: tuple[int, ...] = ()
    rotated: int = 0
    resampling: str = ""
    frame: tuple[int, int, int, int] | None = None
    mirrored: bool = False
    cropped: tuple[int, int, int, int] | None = None
    tone: tuple[float, float] | None = None
    to_srgb: bool = False


# --- decoding ------------------------------------------------------------------------------------
def _decode_image(data: bytes, max_pixels: int) -> tuple[np.ndarray, str]:
    """Decode any image Pillow reads into ``uint8`` ``(H, W, 3)`` RGB or ``(H, W)`` gray.

    A lossy WebP is decoded without VP8's deblocking filter when the ``webp``
    package can (:func:`picveil.jpeg.vp8.decode_unfiltered`): the filter blends
    scrambled blocks that the reveal must move apart again."""
    import warnings

    from PIL import Image, UnidentifiedImageError

    from picveil.jpeg.loading import sniff
    from picveil.jpeg.vp8 import decode_unfiltered, is_lossless

    fmt = sniff(data)
    if fmt == "webp" and is_lossless(data):
        fmt = WEBP_LOSSLESS  # the pixels as shown: a lossless copy, like a PNG
    if fmt == "heic":  # decoded by pillow-heif (the heic extra), which says what to install if missing
        from picveil.jpeg.loading import heic_to_png

        return _decode_image(heic_to_png(data, max_pixels=max_pixels), max_pixels)[0], fmt
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                if im.width * im.height > max_pixels:
                    raise ImageTooLargeError(
                        f"The image is {im.width}x{im.height} pixels, over the limit of {max_pixels:,} pixels."
                    )
                unfiltered = decode_unfiltered(data) if fmt == "webp" else None
                if unfiltered is not None:  # a lossy WebP, without VP8's deblocking (see picveil.jpeg.vp8)
                    arr = unfiltered
                elif im.mode in ("L", "I;16", "I", "F", "1"):
                    arr = np.asarray(im.convert("L"))
                elif im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
                    rgba = im.convert("RGBA")
                    back = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                    arr = np.asarray(Image.alpha_composite(back, rgba).convert("RGB"))
                else:
                    arr = np.asarray(im.convert("RGB"))
    except (ImageTooLargeError, NotAnImageError):
        raise
    except UnidentifiedImageError as exc:
        raise NotAnImageError("The data is not an image picveil can read.") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLargeError(f"The image is too large to decode safely: {exc}") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        from picveil.jpeg.codec import huffman_copy

        copy = huffman_copy(data, max_pixels=max_pixels) if fmt == "jpeg" else None
        if copy is not None:  # an arithmetic-coded JPEG: its Huffman copy has the same pixels
            return _decode_image(copy, max_pixels)
        raise CorruptImageError(f"The image is truncated or corrupt: {exc}.") from exc
    return np.ascontiguousarray(arr), fmt


def encode_output(rgb: np.ndarray, fmt: str = "jpeg", *, quality: int = OUTPUT_QUALITY, orientation: int = 1) -> bytes:
    """Encode a revealed picture: JPEG (4:2:0 off: 4:4:4, quality 95) or PNG.

    Parameters
    ----------
    rgb : numpy.ndarray
        ``uint8`` ``(H, W, 3)`` or ``(H, W)``, as the received file stores it.
    fmt : str
        ``"jpeg"`` or ``"png"``.
    orientation : int
        The received file's EXIF Orientation (1..8): a JPEG carries it in an
        EXIF segment of its own (so that a viewer shows it as it showed the
        received file), a PNG gets its pixels turned upright (PNG viewers
        ignore EXIF).
    """
    from PIL import Image

    buf = io.BytesIO()
    im = Image.fromarray(np.asarray(rgb, dtype=np.uint8))
    if fmt == "png":
        if orientation in _TRANSPOSE:
            im = im.transpose(getattr(Image.Transpose, _TRANSPOSE[orientation]))
        im.save(buf, "PNG", compress_level=6)
    elif fmt == "jpeg":
        options = {"exif": orientation_exif(orientation)} if orientation in _TRANSPOSE else {}
        im.save(buf, "JPEG", quality=quality, subsampling=0 if im.mode == "RGB" else -1, **options)
    else:
        raise ValueError(f"fmt must be 'jpeg' or 'png', got {fmt!r}")
    return buf.getvalue()


def orientation_exif(orientation: int) -> bytes:
    """An APP1 EXIF payload (``Exif\\0\\0`` and a TIFF block) holding only the Orientation tag."""
    from PIL import Image

    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


#: EXIF Orientation (2..8) -> the Pillow transpose that turns the stored pixels upright (as ``ImageOps.exif_transpose``).
_TRANSPOSE = {
    2: "FLIP_LEFT_RIGHT", 3: "ROTATE_180", 4: "FLIP_TOP_BOTTOM", 5: "TRANSPOSE", 6: "ROTATE_270", 7: "TRANSVERSE", 8: "ROTATE_90",
}


# --- keys -------------------------------------------------------------------------------------------
def _open_groups(header: RobustHeader, keyring, identities: Sequence = ()) -> tuple[dict[int, object], dict[int, str]]:
    """Group keys the keyring opens, and the names of the circles used.

    A group names its circle by a prefix of the circle id; the circle whose
    id starts so *and* whose key check for this image matches opens it.

    Raises
    ------
    CircleNotFoundError
        No group opens: names the circle(s) needed by id prefix (a header
        cannot carry names: it is public).
    HeaderDamagedError
        A circle of the keyring has the id but fails the key check (a damaged
        or forged header).
    """
    salt = header.file_salt
    circles = list(keyring.circles) if keyring is not None else []
    keys: dict[int, object] = {}
    names: dict[int, str] = {}
    missing: list[bytes] = []
    mismatched: list[str] = []
    for g, entry in enumerate(header.groups):
        candidates = [c for c in circles if c.circle_id.startswith(entry.circle_id)]
        match = next((c for c in candidates if c.matches(salt, entry.key_check)), None)
        if match is not None:
            keys[g] = match.image_group_key(salt)
            names[g] = match.name
        elif candidates:
            mismatched.append(candidates[0].name)
        else:
            missing.append(entry.circle_id)
    if keys:
        return keys, names
    if mismatched and not missing:
        raise HeaderDamagedError(
            f"The picveil header names your circle {mismatched[0]!r}, but its key check fails: "
            "the header is damaged or was not made with this circle."
        )
    ids = ", ".join(dict.fromkeys(c.hex() + "…" for c in missing))
    where = "your keyring" if keyring is not None else "a keyring (none was found)"
    hint = None
    if identities:
        hint = (
            "age identities open only the picveil data that platforms strip; the picture itself "
            "names a circle. Ask for the circle (`picveil circle import`), or for the original file."
        )
    elif keyring is None:
        hint = (
            "Ask whoever shared the photo to share the circle with you (`picveil circle whoami` prints the "
            "recipient to give them), then `picveil circle import FILE`."
        )
    raise CircleNotFoundError(
        f"This image was protected for circle {ids}, which is not in {where}.",
        hint=hint,
        circle_id=missing[0] if missing else None,
    )


# --- geometry -------------------------------------------------------------------------------------
def _scale(header: RobustHeader, width: int, height: int) -> float:
    """Received size over original size, checking that the aspect ratio matches.

    Raises
    ------
    HeaderDamagedError
        The received picture's aspect ratio is not the original's (cropped,
        padded or rotated): the header's geometry does not apply.
    """
    W, H = header.width, header.height
    sx, sy = width / W, height / H
    s = (width + height) / (W + H)
    if abs(W * s - width) > ASPECT_TOLERANCE_PX or abs(H * s - height) > ASPECT_TOLERANCE_PX:
        raise HeaderDamagedError(
            f"The picture is {width}x{height}; it was protected at {W}x{H}, which is another shape: "
            "it was cropped or rotated after protection, and the regions cannot be located.",
            hint="Reveal a copy that was only resized or re-encoded, not cropped or rotated.",
        )
    if abs(sx - 1) < SAME_SIZE_TOLERANCE and abs(sy - 1) < SAME_SIZE_TOLERANCE:
        return 1.0
    return s


#: A received picture at most this many pixels narrower and shorter than the
#: protected one may be a crop of it (one 8×8 grid phase per axis tells the offset).
CROP_MAX_PX = 7
#: A crop's regions show the protected 8×8 grid sharply: block edges at one
#: phase, this many times stronger than at either neighbouring phase, along
#: every axis the crop shortened. Measured (aloeL and an enlarged coffee, two
#: regions, PNG and q85 copies): crops 2.7-3.5; resizes by 1-6 px 1.1-2.7, and
#: their phase drifts from region to region (a resize shifts the grid by a
#: growing fraction of a pixel across the picture, which blurs its edges).
CROP_EDGE_RATIO = 2.4
#: ... and at least this many times the median phase (a grid at all).
CROP_GRID_RATIO = 2.0


def _luma64(image: np.ndarray) -> np.ndarray:
    """``float64`` luma (JFIF weights) of an RGB(A) or gray picture, ``(H, W)``."""
    from .channel import LUMA_WEIGHTS

    y = np.asarray(image, dtype=np.float64)
    return y[..., :3] @ np.asarray(LUMA_WEIGHTS) if y.ndim == 3 else y


def _block_phase(luma: np.ndarray, y0: int, y1: int, x0: int, x1: int) -> tuple[tuple[int, float, float], ...]:
    """Where 8×8 block edges fall in a window of a picture, per axis (columns,
    then rows): ``(phase, over_median, over_neighbours)``, the phase mod 8 of
    the strongest mean jump between neighbouring pixels, and how much stronger
    it is than the median phase's and than the stronger neighbouring phase's."""
    sub = luma[y0:y1, x0:x1]
    out = []
    for axis, start in ((1, x0), (0, y0)):
        jump = np.abs(np.diff(sub, axis=axis)).mean(axis=1 - axis)
        at = (np.arange(jump.size) + start + 1) % 8  # phase of the pixel after each jump
        score = np.array([jump[at == k].mean() if np.any(at == k) else 0.0 for k in range(8)])
        p = int(score.argmax())
        med, nb = float(np.median(score)), float(max(score[(p - 1) % 8], score[(p + 1) % 8]))
        out.append((p, score[p] / med if med > 0 else 0.0, score[p] / nb if nb > 0 else 0.0))
    return tuple(out)


def _small_crop(header: RobustHeader, image: np.ndarray) -> tuple[int, int] | None:
    """``(left, top)``: the pixels a picture a few pixels smaller than the
    protected one lost on its left and top edges, when it is a crop of it
    (the protected 8×8 grid shows sharply, at the same phase in every region:
    :data:`CROP_EDGE_RATIO`), else None (not smaller, or a resize: its grid
    drifts and blurs).

    A resize by a pixel or two and a crop of a pixel or two have nearly the
    same size, and reading a crop as a resize garbles the regions (25 dB where
    a resize gives 40), so the regions' block edges decide."""
    height, width = image.shape[:2]
    dx, dy = header.width - width, header.height - height
    if not (0 <= dx <= CROP_MAX_PX and 0 <= dy <= CROP_MAX_PX) or dx + dy == 0 or not header.regions:
        return None
    luma = _luma64(image)
    phases = set()
    for i in range(len(header.regions)):
        y, x, h, w = _region_rect(header, i)
        y0, y1 = max(0, y + 8), min(height, y + h - 8 - dy)
        x0, x1 = max(0, x + 8), min(width, x + w - 8 - dx)
        if y1 - y0 < 24 or x1 - x0 < 24:
            continue
        (px, gx, ex), (py, gy, ey) = _block_phase(luma, y0, y1, x0, x1)
        for cut, grid, edge in ((dx, gx, ex), (dy, gy, ey)):
            if cut and (grid < CROP_GRID_RATIO or edge < CROP_EDGE_RATIO):
                return None
        phases.add((px, py))
    if len(phases) != 1:
        return None
    px, py = phases.pop()
    left, top = (8 - px) % 8, (8 - py) % 8
    if (left or top) and _resize_size(header, width, height):
        # a size a resize could give, and the grid shifted: a resize by a few pixels shifts a region's
        # grid by a growing fraction of a pixel, which one region's edges cannot tell from a crop's
        return None
    return (left, top) if left <= dx and top <= dy else None


def _resize_size(header: RobustHeader, width: int, height: int) -> bool:
    """Whether ``width × height`` is a size a resizer gives the protected picture:
    each side the other's scale applied to the original, rounded either way."""
    import math

    def fits(n: int, exact: float) -> bool:
        return n in (math.floor(exact), math.ceil(exact))

    return fits(height, header.height * width / header.width) and fits(width, header.width * height / header.height)


#: Right and bottom pads (px) at which :func:`_crop_headers` first measures how
#: strongly a header's grid shows (the extractor's presence score tolerates a
#: pad off by one or two pixels: measured 5-37 there, 1-3 without a header),
#: then reads the header at the best pad and its neighbours.
CROP_PAD_STEPS = (0, 3, 6)
#: Presence score from which a padded picture is taken to hold a cropped header.
CROP_PRESENCE = 5.0


def _crop_headers(image: np.ndarray):
    """Robust headers found in a picture padded back as if a few pixels had
    been cropped off it: its 8×8 grid's phase gives the left and top crop;
    the right and bottom pads are searched by the header's presence score
    (:data:`CROP_PAD_STEPS`), and the header read at the best pad and at
    the pads around it."""
    from picveil.errors import NoPicveilDataError

    from .extractor import extract, presence

    h, w = image.shape[:2]
    y0, x0 = max(0, h // 2 - 1024), max(0, w // 2 - 1024)  # the middle 2048 px square tells the phase
    luma = _luma64(image[y0 : y0 + 2048, x0 : x0 + 2048])
    (px, rx, _), (py, ry, _) = _block_phase(luma, 0, luma.shape[0], 0, luma.shape[1])
    px, py = (px + x0) % 8, (py + y0) % 8
    left = (8 - px) % 8 if rx >= 1.2 else 0
    top = (8 - py) % 8 if ry >= 1.2 else 0

    def padded(right: int, bottom: int) -> np.ndarray:
        return np.pad(image, ((top, bottom), (left, right)) + ((0, 0),) * (image.ndim - 2), mode="edge")

    scores = {(r, b): presence(padded(r, b)) for r in CROP_PAD_STEPS for b in CROP_PAD_STEPS}
    (r0, b0), best = max(scores.items(), key=lambda kv: kv[1])
    if best < CROP_PRESENCE:
        return
    near = sorted(
        {(r, b) for r in range(max(0, r0 - 2), r0 + 3) for b in range(max(0, b0 - 2), b0 + 3)},
        key=lambda rb: abs(rb[0] - r0) + abs(rb[1] - b0),
    )
    for right, bottom in near[:9]:
        try:
            yield RobustHeader.from_bytes(extract(padded(right, bottom), tones=False))
        except (NoPicveilDataError, HeaderDamagedError):
            continue


def _uncrop(image: np.ndarray, header: RobustHeader, left: int, top: int) -> np.ndarray:
    """A cropped picture put back at its place on the protected picture's size,
    the lost edges repeated from the nearest kept pixels."""
    height, width = image.shape[:2]
    pad = ((top, header.height - height - top), (left, header.width - width - left)) + ((0, 0),) * (image.ndim - 2)
    return np.pad(image, pad, mode="edge")


def _plane_shapes(header: RobustHeader) -> list[tuple[int, int, int, int]]:
    """Per component ``(height, width, height_in_blocks, width_in_blocks)`` (container SPEC §6.3)."""
    samp = header.sampling
    mh, mv = max(h for h, _ in samp), max(v for _, v in samp)
    out = []
    for h, v in samp:
        pw, ph = -(-header.width * h // mh), -(-header.height * v // mv)
        out.append((ph, pw, -(-ph // 8), -(-pw // 8)))
    return out


def _factors(header: RobustHeader) -> list[tuple[int, int]]:
    """Per component downsampling factors ``(fy, fx)`` relative to full resolution."""
    samp = header.sampling
    mh, mv = max(h for h, _ in samp), max(v for _, v in samp)
    return [(mv // v, mh // h) for h, v in samp]


def _block_ranges(header: RobustHeader, index: int) -> list[tuple[int, int, int, int]]:
    """Per component ``(by0, by1, bx0, bx1)`` of region `index` (container SPEC §6.3)."""
    r = header.regions[index]
    out = []
    for (h, v), (_, _, hb, wb) in zip(header.sampling, _plane_shapes(header)):
        out.append((r.y * v, min((r.y + r.h) * v, hb), r.x * h, min((r.x + r.w) * h, wb)))
    return out


# --- planes ---------------------------------------------------------------------------------------
def _box_down(plane: np.ndarray, fy: int, fx: int) -> np.ndarray:
    if fy == 1 and fx == 1:
        return plane
    h, w = plane.shape
    ph, pw = -(-h // fy) * fy, -(-w // fx) * fx
    p = np.pad(plane, ((0, ph - h), (0, pw - w)), mode="edge")
    return p.reshape(ph // fy, fy, pw // fx, fx).mean(axis=(1, 3))


#: libjpeg's "fancy" (triangle) chroma upsampling (:func:`picveil.jpeg.pixels.fancy_upsample`).
_fancy_up = fancy_upsample


def _received_coefficients(data: bytes, max_pixels: int):
    """A received JPEG's coefficients (read once per reveal), or ``None`` if unreadable."""
    from picveil.jpeg.codec import read_coefficients

    try:
        return read_coefficients(data, max_pixels=max_pixels)
    except Exception:  # noqa: BLE001 - any unreadable JPEG falls back to decoded pixels
        return None


def _jpeg_planes(co, header: RobustHeader) -> list[np.ndarray] | None:
    """The YCbCr planes of a received JPEG of the original size, from its DCT
    coefficients ``co`` (unclipped), on the original sampling grid; ``None`` if
    the JPEG cannot be read that way."""
    if co is None or (co.width, co.height) != (header.width, header.height):
        return None
    want = header.color_space
    if want == "rgb" or co.color_space not in ("gray", "ycbcr"):
        return None
    if want == "ycbcr" and co.color_space != "ycbcr":
        return None
    comps = co.components[: len(header.sampling)]
    mh, mv = max(c.h_samp for c in co.components), max(c.v_samp for c in co.components)
    out = []
    for ci, (c, (fy0, fx0)) in enumerate(zip(comps, _factors(header))):
        coef = co.array(ci).astype(np.float64) * co.quant_table(ci).astype(np.float64)
        plane = blocks_to_plane(_D8.T @ coef @ _D8 + 128.0)
        fy, fx = mv // c.v_samp, mh // c.h_samp
        if (fy, fx) != (fy0, fx0):  # sampled otherwise than the original: via full resolution
            full = _fancy_up(plane, fy, fx, (header.height, header.width))
            plane = _box_down(full, fy0, fx0)
        out.append(plane)
    return out


def _resize_float(
    channel: np.ndarray, size: tuple[int, int], box: tuple[float, float, float, float] | None = None, kernel: str = "lanczos"
) -> np.ndarray:
    """Resize a float plane to ``(width, height)`` with one of
    :data:`RESAMPLING_KERNELS`; `box` (left, top, right, bottom, in `channel`'s
    pixels) resizes that part."""
    from PIL import Image

    if kernel in _PILLOW_FILTERS:
        im = Image.fromarray(np.asarray(channel, dtype=np.float32), mode="F")
        return np.asarray(im.resize(size, getattr(Image.Resampling, _PILLOW_FILTERS[kernel]), box=box), dtype=np.float64)
    h, w = channel.shape
    left, top, right, bottom = box if box is not None else (0.0, 0.0, float(w), float(h))
    ry = _resample_matrix(h, size[1], kernel, (top, bottom))
    rx = _resample_matrix(w, size[0], kernel, (left, right))
    return np.asarray(ry @ (rx @ np.asarray(channel, dtype=np.float64).T).T)


#: The :data:`RESAMPLING_KERNELS` that Pillow resizes with, by its filter's name.
_PILLOW_FILTERS = {"lanczos": "LANCZOS", "bicubic": "BICUBIC", "bilinear": "BILINEAR", "box": "BOX"}


#: Rows of the original grid converted at a time by :func:`_pixel_planes` (a multiple of 16).
PLANE_BAND = 256


def _pixel_planes(
    image: np.ndarray, header: RobustHeader, windows: Sequence[tuple[int, int, int, int]] | None = None
) -> list[np.ndarray]:
    """Component planes on the original grid from decoded pixels (resized to
    the original size if needed).

    Converted in bands of :data:`PLANE_BAND` rows, each the same as that part
    of the whole (the resize reads the received rows its filter reaches), so
    that a 48 MP original never needs its float RGB whole.

    `windows` (``(y0, y1, x0, x1)``, original pixels): convert only the
    bands and columns these meet (widened to whole MCUs), the rest of each
    plane being 0; every value converted is the same, bit for bit, as in the
    whole. A reveal after a downscale reads the planes near its regions only,
    and converting a 48 MP picture whole took it half a minute each time."""
    from PIL import Image

    W, H = header.width, header.height
    height, width = image.shape[:2]
    chans = [image] if image.ndim == 2 else [image[..., i] for i in range(3)]
    resize = (height, width) != (H, W)
    if resize:
        ims = [Image.fromarray(np.asarray(c, dtype=np.float32), mode="F") for c in chans]
    factors = [(1, 1)] if header.color_space == "gray" else _factors(header)
    shapes = [(-(-H // fy), -(-W // fx)) for fy, fx in factors]
    out = [np.empty(shape) if windows is None else np.zeros(shape) for shape in shapes]
    mcu = 16  # a multiple of every sampling factor: the box averages see whole cells
    for y0 in range(0, H, PLANE_BAND):
        y1 = min(y0 + PLANE_BAND, H)
        if windows is None:
            spans = [(0, W)]
        else:
            spans = _merged_spans(
                [(max(wx0, 0) // mcu * mcu, min(-(-wx1 // mcu) * mcu, W)) for wy0, wy1, wx0, wx1 in windows if wy0 < y1 and y0 < wy1]
            )
            if not spans:
                continue
        if resize:
            box = (0.0, y0 * height / H, float(width), y1 * height / H)
            band = [np.asarray(im.resize((W, y1 - y0), Image.Resampling.LANCZOS, box=box)) for im in ims]
        else:
            band = [c[y0:y1] for c in chans]
        for x0, x1 in spans:
            part = [b[:, x0:x1].astype(np.float64) for b in band]
            # plane by plane (no stacked float RGB: a 48 MP reveal spent half this function stacking)
            if header.color_space == "gray":
                comps = part[:1] if len(part) == 1 else list(ycbcr_planes(*part)[:1])
            else:
                rgb = part if len(part) == 3 else part * 3
                comps = rgb if header.color_space == "rgb" else list(ycbcr_planes(*rgb))
            for plane, comp, (fy, fx) in zip(out, comps, factors):
                plane[y0 // fy : y0 // fy + -(-(y1 - y0) // fy), x0 // fx : x0 // fx + -(-(x1 - x0) // fx)] = _box_down(comp, fy, fx)
    return out


def _merged_spans(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Half-open intervals, sorted, overlapping or touching ones merged."""
    out: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _resize_windows(header: RobustHeader, regs: Sequence["_Region"], scale: float) -> list[tuple[int, int, int, int]]:
    """The parts of the original grid ``(y0, y1, x0, x1)`` that a reveal after a
    downscale by `scale` reads of its planes (:func:`_pixel_planes`): each
    region grown by what the fit reads around it (the received pixels the
    resize of the region reaches, widened to the received JPEG's whole blocks
    of up to 16 pixels, and the original pixels those reach, with the widest
    filter, Lanczos) and by what pasting it back reads (:func:`_compose_window`)."""
    reach = int(math.ceil((2 * LANCZOS_A + 16 + 2) / min(scale, 1.0))) + 32
    out = []
    for reg in regs:
        y, x, h, w = _region_rect(header, reg.index)
        out.append((max(y - reach, 0), min(y + h + reach, header.height), max(x - reach, 0), min(x + w + reach, header.width)))
    return out


# --- deconvolution ------------------------------------------------------------------------------
def _blur_eigen(n: int, a: float) -> np.ndarray:
    """Eigenvalues of the blur ``[a, 1-2a, a]`` with half-sample symmetric ends
    (what edge replication gives) in the DCT-II basis of length `n`."""
    return 1.0 - 2.0 * a * (1.0 - np.cos(np.pi * np.arange(n) / n))


def _wiener_nu(co, fmt: str) -> float:
    """Regularisation of the inverse chroma blur: the re-encoding noise's power
    relative to a scrambled chroma signal's (:data:`CHROMA_SIGNAL_RMS`),
    from the received JPEG's chroma quantization table (`co`, its
    coefficients; ``None`` for any other file: fixed).
    Measured: the inverse gains 1-5 dB on lossless and q95 files, and costs
    up to 1 dB at q50 without this regularisation."""
    if co is None:
        return WIENER_NU if fmt in LOSSLESS_FORMATS else WEBP_WIENER_NU
    q = co.quant_table(len(co.components) - 1).astype(np.float64)
    noise = math.sqrt(float(np.mean(q * q)) / 12.0)
    return float(np.clip((noise / CHROMA_SIGNAL_RMS) ** 2, WIENER_NU, 0.5))


def _blur_model(fmt: str, factors: tuple[int, int]) -> tuple[float, float]:
    """Blur parameters ``(a_y, a_x)`` (per axis ``[a, 1 - 2a, a]``) between a
    component of the protected file and the same component read back from a
    received `fmt` file, for a component subsampled by `factors` ``(fy, fx)``.

    An axis at full resolution goes through unblurred. A subsampled one is
    upsampled by the viewer (libjpeg's triangle filter) and box-averaged by
    the next encoder, or by this reader: ``[1/8, 3/4, 1/8]``. A WebP adds
    its own chroma downsampling and upsampling: measured ``a`` ≈ 0.22.
    (Fitting ``a`` per image from the seams of the unscrambled region was
    tried and fails: clipping leaves more seams than any blur.)
    """
    a = WEBP_CHROMA_BLUR if fmt == "webp" else OTHER_LOSSY_MODELS.get(fmt, (JPEG_CHROMA_BLUR,))[0]
    return tuple(a if f == 2 else 0.0 for f in factors)  # type: ignore[return-value]


def deconvolve(plane: np.ndarray, a: float | tuple[float, ...], nu: float = WIENER_NU) -> np.ndarray:
    """Undo a separable blur ``[a, 1 - 2a, a]`` (per axis) of a plane.

    The blur models what happens to a subsampled plane between the protected
    file and the received one: a decoder's triangle upsampling followed by an
    encoder's box downsampling is ``[1/8, 3/4, 1/8]`` per axis (``a = 1/8``);
    WebP's filters blur more. The inverse is Wiener-regularised
    (``H / (H² + nu)``), computed in the DCT-II basis, which diagonalises the
    blur with the edge replication codecs use.

    Parameters
    ----------
    plane : numpy.ndarray
        ``(h, w)`` float.
    a : float or (float, float) or (float, float, float) or (float, float, float, int)
        Blur parameter, ``0 <= a < 0.25``, for both axes or ``(a_y, a_x)``;
        0 returns the plane unchanged. A third value overrides `nu`; a fourth
        is how many times the blur was applied (default 1: a received JPEG's
        own planes; 2 when this reader also upsampled and box-averaged them,
        decoding a subsampled JPEG to pixels).
    nu : float
        Regularisation.
    """
    passes = 1
    if np.isscalar(a):
        ay = ax = float(a)
    else:
        ay, ax = a[0], a[1]
        nu = a[2] if len(a) > 2 else nu
        passes = int(a[3]) if len(a) > 3 else 1
    if ay <= 0 and ax <= 0:
        return np.asarray(plane, dtype=np.float64)
    from scipy.fft import dctn, idctn

    h, w = plane.shape
    hy, hx = _blur_eigen(h, ay), _blur_eigen(w, ax)
    gain = np.outer(hy, hx) ** passes
    inv = gain * (1.0 + nu) / (gain * gain + nu)
    mean = float(plane.mean())
    return idctn(dctn(plane - mean, type=2, norm="ortho") * inv, type=2, norm="ortho") + mean


# --- the schemes, in floating point ----------------------------------------------------------------
#: Schemes that a reveal from pixels can invert: signed block permutations
#: (each scheme's ``signed_permutations``), scramble-v2 with its block-mean knots.
_PIXEL_SCHEMES = frozenset({1, 2, 4, 5, 6, 7, 8, 9})
#: Schemes that are linear maps of the coefficients given the key (and, for
#: scramble-v5/v6/v7/v8, their sealed gains): signed block permutations, for scramble-v4
#: after block means scaled by 0.7; scramble-v5/v6/v7/v8's gains and orthogonal mixing.
_LINEAR_SCHEMES = frozenset({1, 4, 5, 6, 7, 8, 9})
#: Schemes whose integer inverse needs nothing but the key (no aux data): exact
#: from the protected file. scramble-v4's needs its aux bits for the block means
#: (in the container): without them each is within one DC quantization step.
_KEY_ONLY_SCHEMES = frozenset({1, 4})
_V2_KNOTS = (17, 5, 5)


class _Scramble:
    """A region's keyed signed permutation of blocks, per component, on float DCT blocks.

    ``forward`` scrambles (what protect did, minus scramble-v2's block means),
    ``inverse`` unscrambles. For signed permutations both are orthogonal and
    each is the other's adjoint; scramble-v4 also scales block means
    (``dc``), so the estimates below use :meth:`inverse_adjoint` and
    :meth:`forward_adjoint` where they need adjoints.
    """

    def __init__(self, scheme_id: int, key, shapes: Sequence[tuple[int, int]], params: bytes) -> None:
        from picveil.schemes import get_scheme

        self.scheme_id = scheme_id
        self.perms, self.signs = [], []
        for src, signs in get_scheme(scheme_id).signed_permutations(key, [tuple(s) for s in shapes]):
            self.perms.append(src)
            self.signs.append(signs.astype(np.float64))
        #: per component, the factor protect multiplied block means by (scramble-v4: 0.7)
        self.dc = [float(getattr(get_scheme(scheme_id), "dc_scale", 1.0))] * len(shapes)
        self.knots: list[bytes] = []
        if scheme_id == 2:
            need = sum(_V2_KNOTS[: len(shapes)])
            if len(params) != need:
                raise HeaderDamagedError("The image carries a picveil header, but it is too damaged to read.")
            pos = 0
            for k in _V2_KNOTS[: len(shapes)]:
                self.knots.append(params[pos : pos + k])
                pos += k

    def _permute_back(self, ci: int, coef: np.ndarray) -> np.ndarray:
        s = coef * self.signs[ci]
        out = np.empty_like(s)
        out[self.perms[ci]] = s
        return out

    def _permute(self, ci: int, coef: np.ndarray) -> np.ndarray:
        return coef[self.perms[ci]] * self.signs[ci]

    def _scale_dc(self, coef: np.ndarray, factor: float) -> np.ndarray:
        if factor == 1.0:
            return coef
        out = coef.copy()
        out[:, 0, 0] *= factor
        return out

    def inverse(self, ci: int, coef: np.ndarray) -> np.ndarray:
        """Scrambled ``(n, 8, 8)`` float DCT blocks -> original order and signs."""
        return self._permute_back(ci, self._scale_dc(coef, 1.0 / self.dc[ci]))

    def forward(self, ci: int, coef: np.ndarray) -> np.ndarray:
        """The inverse of :meth:`inverse` (what protect did, in floating point)."""
        return self._scale_dc(self._permute(ci, coef), self.dc[ci])

    def inverse_adjoint(self, ci: int, coef: np.ndarray) -> np.ndarray:
        """Adjoint of :meth:`inverse` (equal to :meth:`forward` when the scramble is orthogonal)."""
        return self._scale_dc(self._permute(ci, coef), 1.0 / self.dc[ci])

    def forward_adjoint(self, ci: int, coef: np.ndarray) -> np.ndarray:
        """Adjoint of :meth:`forward` (equal to :meth:`inverse` when the scramble is orthogonal)."""
        return self._permute_back(ci, self._scale_dc(coef, self.dc[ci]))

    def means(self, ci: int, dc: np.ndarray) -> np.ndarray:
        """scramble-v2: received (equalised) DC values -> estimated original DC values."""
        if self.scheme_id != 2:
            return dc
        from scipy.interpolate import PchipInterpolator

        from picveil.schemes.scramble_v2 import CHROMA_HIGH, CHROMA_LOW, HIGH, LOW

        low, high = (LOW, HIGH) if ci == 0 else (CHROMA_LOW, CHROMA_HIGH)
        knots = np.frombuffer(self.knots[ci], dtype=np.uint8).astype(np.float64)
        frac = np.clip((dc / 8.0 + 128.0 - low) / (high - low), 0.0, 1.0)
        grid = np.linspace(0.0, 1.0, knots.size)
        mean = PchipInterpolator(grid, knots)(frac)
        return (mean - 128.0) * 8.0


class _MixScramble:
    """scramble-v5 and -v6 (:mod:`picveil.schemes.scramble_v5`) with :class:`_Scramble`'s
    interface: per component, gains per frequency then a keyed orthogonal mixing
    of the blocks. ``inverse`` gives 0 at the frequencies protect did not code
    (chroma above the transmitted ones) or filled (empty ones): the fill is keyed
    noise, not content; in ``forward`` those frequencies are not modelled."""

    #: scramble-v5, -v6, -v7 and -v8 (the same transform; their gains coded differently,
    #: v7's and v8's chroma target higher)
    scheme_ids = frozenset({6, 7, 8, 9})

    def __init__(self, scheme_id: int, key, shapes: Sequence[tuple[int, int]], params: bytes) -> None:
        from picveil.schemes import get_scheme
        from picveil.schemes import scramble_v5 as v5

        codec = get_scheme(scheme_id).codec
        opened = codec.open(key, params, len(shapes))
        if opened is None:
            raise HeaderDamagedError("The image carries a picveil header, but it is too damaged to read.")
        self.scheme_id = scheme_id
        codes, self.dc_means = opened
        self.gains = codec.component_gains(key, codes)
        self.inv_gains = [np.divide(1.0, g, out=np.zeros(64), where=g > 0) for g in self.gains]
        self.mixers = [v5.Mixer(key, ci, r * c) for ci, (r, c) in enumerate(shapes)]

    def _flat(self, coef: np.ndarray) -> np.ndarray:
        return coef.reshape(coef.shape[0], 64)

    def subspace(self, ci: int) -> np.ndarray:
        """``(64,)``: 1 at the frequencies (natural order) that protect writes
        in component `ci`'s blocks, 0 at those it leaves at zero."""
        from picveil.schemes import scramble_v5 as v5

        sub = np.zeros(64)
        sub[v5.transmitted(ci)] = 1.0
        return sub

    def inverse(self, ci: int, coef: np.ndarray) -> np.ndarray:
        """Scrambled ``(n, 8, 8)`` float DCT blocks -> the region's."""
        return (self.mixers[ci].unmix(self._flat(coef)) * self.inv_gains[ci]).reshape(coef.shape)

    def forward(self, ci: int, coef: np.ndarray) -> np.ndarray:
        return self.mixers[ci].mix(self._flat(coef) * self.gains[ci]).reshape(coef.shape)

    def inverse_adjoint(self, ci: int, coef: np.ndarray) -> np.ndarray:
        return self.mixers[ci].mix(self._flat(coef) * self.inv_gains[ci]).reshape(coef.shape)

    def forward_adjoint(self, ci: int, coef: np.ndarray) -> np.ndarray:
        return (self.mixers[ci].unmix(self._flat(coef)) * self.gains[ci]).reshape(coef.shape)

    def means(self, ci: int, dc: np.ndarray) -> np.ndarray:
        """Unscrambled block means (DC, dequantized) -> the region's: the linear maps
        above work on the region with its mean taken out (protect's step 1), which
        the smoothness priors do not see; the mean comes back here."""
        return dc + self.dc_means[ci]


def _make_scramble(scheme_id: int, key, shapes: Sequence[tuple[int, int]], params: bytes):
    """The float model of a region's scheme (:class:`_Scramble` or :class:`_MixScramble`)."""
    if scheme_id in _MixScramble.scheme_ids:
        return _MixScramble(scheme_id, key, shapes, params)
    return _Scramble(scheme_id, key, shapes, params)


def _blocks(plane: np.ndarray, by0: int, by1: int, bx0: int, bx1: int) -> np.ndarray:
    """``(n, 8, 8)`` pixel blocks of a plane (edge-padded), level-shifted DCT."""
    h, w = plane.shape
    if by1 * 8 > h or bx1 * 8 > w:
        plane = np.pad(plane, ((0, max(0, by1 * 8 - h)), (0, max(0, bx1 * 8 - w))), mode="edge")
    sub = plane[by0 * 8 : by1 * 8, bx0 * 8 : bx1 * 8] - 128.0
    blocks = sub.reshape(by1 - by0, 8, bx1 - bx0, 8).transpose(0, 2, 1, 3).reshape(-1, 8, 8)
    return _D8 @ blocks @ _D8.T


def _pixels(coef: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Inverse of :func:`_blocks`: ``(n, 8, 8)`` DCT blocks -> ``(8 rows, 8 cols)`` pixels."""
    px = (_D8.T @ coef @ _D8).reshape(rows, cols, 8, 8)
    return blocks_to_plane(px) + 128.0


# --- one region -------------------------------------------------------------------------------------
@dataclass
class _Region:
    """A region to reveal: its blocks per component and its scramble."""

    index: int
    ranges: list[tuple[int, int, int, int]]
    scramble: _Scramble

    def shape(self, ci: int) -> tuple[int, int]:
        by0, by1, bx0, bx1 = self.ranges[ci]
        return by1 - by0, bx1 - bx0


def _crop(ranges: tuple[int, int, int, int], plane_shape: tuple[int, int], margin: int) -> tuple[int, int, int, int]:
    """Pixel window ``(y0, y1, x0, x1)`` of a block range plus `margin` pixels, inside the plane."""
    by0, by1, bx0, bx1 = ranges
    h, w = plane_shape
    return max(0, by0 * 8 - margin), min(h, by1 * 8 + margin), max(0, bx0 * 8 - margin), min(w, bx1 * 8 + margin)


def _scrambled_coefficients(plane: np.ndarray, ranges, a: float | tuple[float, ...]) -> np.ndarray:
    """Deconvolved ``(n, 8, 8)`` DCT blocks of a region's component (still scrambled)."""
    y0, y1, x0, x1 = _crop(ranges, plane.shape, DECONV_MARGIN)
    window = deconvolve(plane[y0:y1, x0:x1], a)
    by0, by1, bx0, bx1 = ranges
    return _blocks(window, by0 - y0 // 8, by1 - y0 // 8, bx0 - x0 // 8, bx1 - x0 // 8)


def _unscrambled_coefficients(
    reg: _Region, ci: int, coef: np.ndarray, dc_step: float | None = None, table: np.ndarray | None = None
) -> np.ndarray:
    """A region's component unscrambled: ``(n, 8, 8)`` level-shifted DCT blocks,
    put on a lattice by :func:`_on_lattice`."""
    out = reg.scramble.inverse(ci, coef)
    out[:, 0, 0] = reg.scramble.means(ci, out[:, 0, 0])
    return _on_lattice(out, dc_step, table)


def _on_lattice(out: np.ndarray, dc_step: float | None = None, table: np.ndarray | None = None) -> np.ndarray:
    """Unscrambled blocks `out`, with `table` (:func:`_unmixed_tables`) snapped
    to the original's lattice where they show it; else, with `dc_step` (the
    protected file's DC step, when the scrambled DC values were snapped to
    it), their block means put on the nearest multiple, as :func:`_exact`
    does with integers; else as they are."""
    if table is not None:
        return snap(out, table)[0]
    if dc_step is not None:
        out[:, 0, 0] = np.rint(out[:, 0, 0] / dc_step) * dc_step
    return out


def _unscrambled_pixels(reg: _Region, ci: int, coef: np.ndarray, dc_step: float | None = None) -> np.ndarray:
    """:func:`_unscrambled_coefficients` as pixels."""
    return _pixels(_unscrambled_coefficients(reg, ci, coef, dc_step), *reg.shape(ci))


#: scramble-v5/v6/v7/v8: after unmixing, put a region's coefficients back on the
#: original's lattice (protect keeps the photo's tables) at the frequencies
#: that show it (:func:`picveil.robust.lattice.snap` measures each). The gains
#: divide a platform's noise on the frequencies a region holds little of, so
#: those come back near their lattice even after a re-encode that hides the
#: lattice of the scrambled picture. Measured on three 800 px photos (q85
#: sources, scramble-v6, same keys): PNG copy +1.4 to +2.5 dB, JPEG q95 +1.6
#: to +2.4, q85 +1.0 to +2.1, q75 0 to +1.1, q50 0 to +0.4, WebP 75 0 to
#: +0.4; never worse.
UNMIXED_SNAP = True
#: ... when the best candidate table shows at least this many frequencies with
#: a lattice fit of FIT_MEAN (lattice.py) in the region's unmixed luma.
UNMIXED_MIN_FREQUENCIES = 3


def _unmixed_tables(luma: np.ndarray, candidates) -> list[np.ndarray] | None:
    """The tables (IJG, with the header's fingerprint: `candidates`) whose
    lattice a region's unmixed `luma` (``(n, 8, 8)``) shows best, or ``None``
    (another encoder's tables, or too much noise to tell)."""
    from .lattice import FIT_MEAN, lattice_fit

    best, best_n = None, UNMIXED_MIN_FREQUENCIES - 1
    for _, tables in candidates:
        fit = lattice_fit(luma, tables[0])
        n = int(np.sum(np.nan_to_num(fit, nan=0.0) >= FIT_MEAN))
        if n > best_n:
            best, best_n = tables, n
    return best


#: scramble-v5/v6/v7/v8: where a region's unmixed luma shows no lattice to snap to,
#: shrink each frequency towards zero by its posterior mean under a sparse
#: prior fitted to the region's own values (:func:`picveil.robust.shrink.shrink`),
#: given the noise the received picture's format puts on the scrambled
#: coefficients (:func:`_mixed_noise`) divided by the gains.
UNMIXED_SHRINK = True
#: rms per coefficient of a lossless copy's rounding to 8-bit pixels (1/12 per
#: coefficient, orthonormal DCT), also added to a JPEG's quantization noise.
PIXEL_ROUNDING_RMS = math.sqrt(1.0 / 12.0)


#: A lossy WebP's luma noise on scrambled coefficients, as a flat JPEG-style
#: step, against the file's mean luma AC quantizer index
#: (:func:`picveil.jpeg.vp8.luma_quantizer_index`): ``(index, step)`` points,
#: interpolated. Fitted (least squares on log rms over the 64 frequencies) on
#: scikit-image's astronaut and opencv-doc's aloeL, scramble-v6 regions, libwebp
#: through Pillow at quality 95, 90, 75, 50 and 30, decoded as the reveal
#: decodes: the two photos' steps agreed within 0.3, and the model the rms
#: within 4-15 % per frequency. The last point extends the slope of the two before.
WEBP_LUMA_STEPS = ((0.0, 2.5), (4.3, 5.7), (9.0, 9.2), (27.2, 22.4), (40.5, 31.5), (54.2, 48.0), (127.0, 135.0))


def _mixed_noise(
    received, fmt: str, source: str, data: bytes | None = None, tables: Sequence[np.ndarray] | None = None
) -> np.ndarray | None:
    """``(8, 8)`` modelled rms of a received picture's noise on a scramble-v5/v6/v7/v8
    region's scrambled luma coefficients: a re-encoded JPEG read from its
    coefficients, the quantization error of its luma steps on Gaussian values
    of the public luma target's rms (the same for the three schemes;
    :func:`_quantization_rms`: ``q/√12`` for
    steps small against it, the values themselves where the step zeroes
    them) plus the viewer's rounding; a lossy WebP (`data`, the file), the
    same with the flat step of :data:`WEBP_LUMA_STEPS`; an AVIF or HEIC, its
    format's flat step (:data:`OTHER_LOSSY_MODELS`); a lossless copy, the
    rounding alone; a JPEG seen as pixels (turned back a quarter turn),
    its own `tables` (:func:`_chroma_tables`, luma first). ``None`` otherwise
    (a WebP whose header does not give its quantizer)."""
    from picveil.schemes.scramble_v5 import target

    if source == "jpeg-coefficients" and received is not None:
        q = received.quant_table(0).astype(np.float64).ravel()
    elif fmt == "jpeg" and tables is not None:
        q = np.asarray(tables[0], dtype=np.float64).ravel()
    elif fmt == "webp" and data is not None:
        from picveil.jpeg.vp8 import luma_quantizer_index

        index = luma_quantizer_index(data)
        if index is None:
            return None
        points = np.asarray(WEBP_LUMA_STEPS)
        q = np.full(64, float(np.interp(index, points[:, 0], points[:, 1])))
    elif fmt in OTHER_LOSSY_MODELS:
        q = np.full(64, OTHER_LOSSY_MODELS[fmt][1])
    elif fmt in LOSSLESS_FORMATS:
        return np.full((8, 8), PIXEL_ROUNDING_RMS)
    else:
        return None
    err = np.array([_quantization_rms(float(t), float(step)) for t, step in zip(target(0), q)])
    return np.sqrt(err * err + PIXEL_ROUNDING_RMS**2).reshape(8, 8)


def _quantization_rms(rms: float, step: float) -> float:
    """rms of ``step · round(s / step) − s`` for ``s ~ N(0, rms²)``."""
    if step <= 0 or rms <= 0:
        return 0.0
    s = np.linspace(-8.0 * rms, 8.0 * rms, 4001)
    p = np.exp(-0.5 * (s / rms) ** 2)
    e = step * np.rint(s / step) - s
    return float(np.sqrt((p * e * e).sum() / p.sum()))


def _shrink_unmixed(coef: np.ndarray, gains: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """A scramble-v5/v6/v7/v8 region's unmixed luma ``(n, 8, 8)`` with every AC
    frequency replaced by :func:`picveil.robust.shrink.shrink`'s posterior
    means, the noise there being `noise` (scrambled domain, ``(8, 8)``)
    divided by the frequency's gain (``(64,)``, natural order; 0 where
    protect did not code the frequency, which is then left alone). DC is left
    as it is: the block means of a photo are not sparse. Returns a new array.

    Only where no lattice was found (:func:`_unmixed_tables`): where one is,
    the noise is small against its steps and snapping to it does better
    (coffee at 800 px, q85, with keys for which the lattice shows: squared
    error 0.89 snapped, 0.97 shrunk)."""
    from .shrink import shrink

    out = np.array(coef, dtype=np.float64, copy=True)
    g = np.asarray(gains, dtype=np.float64).reshape(8, 8)
    for u in range(8):
        for v in range(8):
            if (u or v) and g[u, v] > 0:
                out[:, u, v] = shrink(out[:, u, v], float(noise[u, v] / g[u, v]))[0]
    return out


# --- linear pieces of the estimates below ----------------------------------------------------------
def _in_blocks(op, reg: "_Region", ci: int, x: np.ndarray) -> np.ndarray:
    """Apply ``op(ci, dct_blocks)`` (one of the scramble's linear maps) to level-shifted pixels."""
    rows, cols = reg.shape(ci)
    return _pixels(op(ci, _blocks(x + 128.0, 0, rows, 0, cols)), rows, cols) - 128.0


def _unscramble_px(reg: "_Region", ci: int, x: np.ndarray) -> np.ndarray:
    """Level-shifted pixels of a region's component -> the same, unscrambled (linear)."""
    return _in_blocks(reg.scramble.inverse, reg, ci, x)


def _scramble_px(reg: "_Region", ci: int, x: np.ndarray) -> np.ndarray:
    """The inverse of :func:`_unscramble_px`."""
    return _in_blocks(reg.scramble.forward, reg, ci, x)


def _unscramble_px_adjoint(reg: "_Region", ci: int, x: np.ndarray) -> np.ndarray:
    """The adjoint of :func:`_unscramble_px` (:func:`_scramble_px` when the scramble is orthogonal)."""
    return _in_blocks(reg.scramble.inverse_adjoint, reg, ci, x)


def _scramble_px_adjoint(reg: "_Region", ci: int, x: np.ndarray) -> np.ndarray:
    """The adjoint of :func:`_scramble_px` (:func:`_unscramble_px` when the scramble is orthogonal)."""
    return _in_blocks(reg.scramble.forward_adjoint, reg, ci, x)


def _diff_adjoint(gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
    """Adjoint of the first differences ``(diff along x, diff along y)`` of an image."""
    out = np.zeros((gy.shape[0] + 1, gx.shape[1] + 1))
    out[:, 1:] += gx
    out[:, :-1] -= gx
    out[1:, :] += gy
    out[:-1, :] -= gy
    return out


# --- chroma of a re-encoded JPEG: a MAP estimate ------------------------------------------------------
#: Prior: the spread of the unscrambled chroma's pixel-to-pixel differences
#: (levels); photos' chroma is smooth. Conjugate-gradient steps of the estimate.
CHROMA_GRADIENT_RMS, CHROMA_MAP_STEPS = 6.0, 40
#: Passes of the estimate (the first quadratic, then reweighted towards a
#: Charbonnier penalty: quadratic for differences under CHROMA_EDGE levels,
#: about linear above, so that colour edges are kept, not smeared) and
#: conjugate-gradient steps of each reweighted pass. Measured (same keys), 18
#: packaged photos at JPEG q95/q85/q75/q50/q30 and WebP 75 against one
#: quadratic pass: on the 12 held out, mean gap q95 -5.22 -> -4.12 dB,
#: q75 -2.03 -> -1.82, q30 -0.85 -> -0.57, WebP 75 -1.98 -> -1.86 (at most
#: 0.14 dB lost on one photo); scenetext05 (coloured text) q50 -3.44 -> -0.97.
#: An edge of 1 did alike, 4 and 8 less well, 5 passes worse.
CHROMA_IRLS, CHROMA_IRLS_STEPS, CHROMA_EDGE = 3, 20, 2.0
#: A WebP's chroma noise, as a flat JPEG-style step: ``WEBP_CHROMA_NOISE_BASE +
#: WEBP_CHROMA_NOISE_PER_INDEX * i`` for the file's mean chroma quantizer index
#: ``i`` (:func:`picveil.jpeg.vp8.chroma_quantizer_index`), WEBP_CHROMA_NOISE_Q
#: when the header does not say. Fitted on 10 packaged photos at WebP 95-30
#: (the best flat step went from 3 or less at index 3 to 12-18 at index 52);
#: against the flat 6 on 9 other photos, same keys: +0.32 dB at WebP 30, +0.20
#: at 50, +0.07 at 75, -0.04 at 90, -0.06 at 95 (worst photo +0.4 there).
WEBP_CHROMA_NOISE_Q = 6.0
WEBP_CHROMA_NOISE_BASE, WEBP_CHROMA_NOISE_PER_INDEX = 1.5, 0.3


def _webp_chroma_noise(data: bytes | None) -> float:
    """The flat chroma noise step of a received WebP (see WEBP_CHROMA_NOISE_BASE)."""
    from picveil.jpeg.vp8 import chroma_quantizer_index

    index = chroma_quantizer_index(data) if data is not None else None
    if index is None:
        return WEBP_CHROMA_NOISE_Q
    return WEBP_CHROMA_NOISE_BASE + WEBP_CHROMA_NOISE_PER_INDEX * index
#: Work budget (chroma pixels times steps) above which a region keeps the Wiener inverse.
CHROMA_MAP_WORK = 200_000_000


def _conjugate_gradients(normal, rhs: np.ndarray, x: np.ndarray, steps: int, tol: float = 1e-12) -> np.ndarray:
    """At most `steps` conjugate-gradient steps on ``normal(x) = rhs`` (`normal`
    symmetric positive semi-definite), updating `x` in place, until the
    squared residual is at most `tol`; returns `x`."""
    r = rhs - normal(x)
    d = r.copy()
    rr = float((r * r).sum())
    for _ in range(steps):
        if rr <= tol:
            break
        q = normal(d)
        alpha = rr / float((d * q).sum())
        x += alpha * d
        r -= alpha * q
        rr, rr_old = float((r * r).sum()), rr
        d = r + (rr / rr_old) * d
    return x


def _chroma_map(reg: "_Region", ci: int, plane: np.ndarray, blur: tuple, qtab: np.ndarray) -> np.ndarray | None:
    """Scrambled DCT blocks ``(n, 8, 8)`` of a region's subsampled chroma
    component from a re-encoded JPEG, estimated rather than inverted.

    The received chroma is the protected chroma blurred (``blur``, see
    :func:`deconvolve`) plus the re-encoder's quantization noise, whose power
    in each DCT frequency is ``q² / 12`` for that frequency's step ``q`` in
    the received file's table (``qtab``): its low frequencies are precise, its
    high ones barely known. (A WebP gets a flat table,
    :data:`WEBP_CHROMA_NOISE_Q`.) The estimate ``x`` (the region's scrambled chroma
    pixels; the pixels around it keep :func:`deconvolve`'s values) minimises

        sum over received blocks and frequencies (DCT(K x) - DCT(y))² / (q² / 12)
        + sum of w · |first differences of unscramble(x)|² / CHROMA_GRADIENT_RMS²,

    the second term because the *unscrambled* chroma of a photo is smooth
    while the scramble's is not. Conjugate gradients from the Wiener inverse,
    first with ``w = 1``, then :data:`CHROMA_IRLS` - 1 times with Charbonnier
    weights ``w = 1 / sqrt(1 + (difference / CHROMA_EDGE)²)`` from the last
    estimate, so that the sharp colour edges of signs and text survive.
    Measured on scikit-image's coffee and astronaut (region a quarter of the
    picture, nothing clipped): the chroma gap to the unprotected picture after
    JPEG q75 falls from 2.5-3 dB to 0.3-0.8 dB. ``None`` when the region is
    too large for :data:`CHROMA_MAP_WORK`.
    """
    by0, by1, bx0, bx1 = reg.ranges[ci]
    rows, cols = by1 - by0, bx1 - bx0
    if rows * cols * 64 * CHROMA_MAP_STEPS > CHROMA_MAP_WORK:
        return None
    passes = int(blur[3]) if len(blur) > 3 else 1
    wy0, wy1, wx0, wx1 = _crop(reg.ranges[ci], plane.shape, DECONV_MARGIN)
    y = np.asarray(plane[wy0:wy1, wx0:wx1], dtype=np.float64) - 128.0
    h, w = y.shape
    iy, ix = by0 * 8 - wy0, bx0 * 8 - wx0
    ih, iw = min(rows * 8, h - iy), min(cols * 8, w - ix)
    from scipy.fft import dctn, idctn

    gain = np.outer(_blur_eigen(h, blur[0]), _blur_eigen(w, blur[1])) ** passes

    def blur_op(z: np.ndarray) -> np.ndarray:
        return idctn(dctn(z, type=2, norm="ortho") * gain, type=2, norm="ortho")

    hp, wp = -(-h // 8) * 8, -(-w // 8) * 8
    weight = 1.0 / (np.asarray(qtab, dtype=np.float64) ** 2 / 12.0 + 0.25)

    def weigh(r: np.ndarray) -> np.ndarray:  # the data term's inverse noise covariance, per DCT frequency
        pad = np.zeros((hp, wp))
        pad[:h, :w] = r
        b = _D8 @ pad.reshape(hp // 8, 8, wp // 8, 8).transpose(0, 2, 1, 3) @ _D8.T
        return (_D8.T @ (b * weight) @ _D8).transpose(0, 2, 1, 3).reshape(hp, wp)[:h, :w]

    def put(x: np.ndarray) -> np.ndarray:
        z = np.zeros((h, w))
        z[iy : iy + ih, ix : ix + iw] = x[:ih, :iw]
        return z

    def take(z: np.ndarray) -> np.ndarray:
        out = np.zeros((rows * 8, cols * 8))
        out[:ih, :iw] = z[iy : iy + ih, ix : ix + iw]
        return out

    lam = 1.0 / CHROMA_GRADIENT_RMS**2
    wx = wy = None  # robust weights of the differences (None: quadratic)

    def normal(x: np.ndarray) -> np.ndarray:
        u = _unscramble_px(reg, ci, x)
        gx, gy = np.diff(u, axis=1), np.diff(u, axis=0)
        if wx is not None:
            gx, gy = gx * wx, gy * wy
        return take(blur_op(weigh(blur_op(put(x))))) + lam * _unscramble_px_adjoint(reg, ci, _diff_adjoint(gx, gy))

    start = deconvolve(y + 128.0, blur) - 128.0
    outside = start.copy()
    outside[iy : iy + ih, ix : ix + iw] = 0.0
    rhs = take(blur_op(weigh(y - blur_op(outside))))
    x = take(start)
    for irls in range(CHROMA_IRLS):
        if irls:  # Charbonnier weights: quadratic below CHROMA_EDGE, about linear above (keeps colour edges)
            u = _unscramble_px(reg, ci, x)
            wx = 1.0 / np.sqrt(1.0 + (np.diff(u, axis=1) / CHROMA_EDGE) ** 2)
            wy = 1.0 / np.sqrt(1.0 + (np.diff(u, axis=0) / CHROMA_EDGE) ** 2)
        _conjugate_gradients(normal, rhs, x, CHROMA_MAP_STEPS if not irls else CHROMA_IRLS_STEPS)
    return _blocks(x + 128.0, 0, rows, 0, cols)


#: Estimate the full-resolution chroma of a region protected at 4:4:4 (or
#: 4:2:2) from a received JPEG or lossy WebP that subsampled it further
#: (:func:`_chroma_map_down`); off, it is upsampled (the reveal before).
CHROMA_MAP_DOWN = True


def _subsampled_chroma(co, ci: int) -> np.ndarray:
    """A received JPEG's component `ci` at its own sampling (level-shifted
    back to 0..255, unclipped, block-padded), from its coefficients."""
    coef = co.array(ci).astype(np.float64) * co.quant_table(ci).astype(np.float64)
    return blocks_to_plane(_D8.T @ coef @ _D8 + 128.0)


def _chroma_map_down(
    reg: "_Region", ci: int, half: np.ndarray, down: tuple[int, int], qtab: np.ndarray, blur: tuple[float, float] = (0.0, 0.0)
) -> np.ndarray | None:
    """Scrambled DCT blocks ``(n, 8, 8)`` of a region's *full-resolution*
    chroma component (the protected file is 4:4:4 there) from a received JPEG
    or lossy WebP that keeps it subsampled by `down` ``(fy, fx)`` (a
    network's 4:2:0): `half`, the received component at its own sampling.

    The received samples over the region are box averages of the scrambled
    chroma (an encoder's downsampling; a region's edges lie on 8-pixel block
    lines, so no average straddles one) plus the re-encoder's quantization
    noise: ``half = D x + n``. That keeps a quarter of the scrambled samples,
    and the scramble spreads what is lost over the whole region as colour
    noise when the upsampled samples are simply unscrambled. The estimate
    minimises, as :func:`_chroma_map` does,

        sum over received blocks and frequencies (DCT(D x) - DCT(half))² / (q² / 12)
        + sum of w · |first differences of unscramble(x)|² / CHROMA_GRADIENT_RMS²

    (the received samples beside the region taken as they are), by conjugate
    gradients from the upsampled samples, with the same Charbonnier passes.
    For scramble-v5..v8 the unknowns are only the frequencies the scheme
    writes in a chroma block (15 of 64: a 4:2:0 re-encode keeps 16 samples a
    block, so they are determined): over all 64 pixels, the smoothness prior
    alone let the estimate drift where the downsampling sees nothing and the
    unscrambling amplifies, and it was worse the longer it ran (aloeL after
    q85, Cb / Cr squared error: 1.6 / 4.2 after 40 steps, 3.1 / 8.1 after
    120; with the written frequencies only, 0.6 / 1.5 either way). Measured on
    seven packaged photos as 4:4:4 JPEG q95 sources, same files and keys,
    against upsampling: region gap to the unprotected photo's chain q95
    −7.78 → −2.29 dB, q85 −4.73 → −0.83, q50 −3.22 → −0.30, WebP 75 −2.08 →
    +0.59 (a target-spectrum Gaussian prior on the written frequencies on
    top gave nothing: −2.30, −0.89, −0.46, +0.59).
    `blur` ``(a_y, a_x)``: a blur ``[a, 1 - 2a, a]`` on the received grid
    after the downsampling, along an axis that the protected file already
    subsampled as the received one does (a 4:2:2 file re-encoded 4:2:0: the
    viewer's upsampling and the encoder's box average across its columns),
    the received samples beside the region then taken as deconvolved.
    ``None`` when the region is too large for :data:`CHROMA_MAP_WORK`.
    """
    by0, by1, bx0, bx1 = reg.ranges[ci]
    rows, cols = by1 - by0, bx1 - bx0
    if rows * cols * 64 * CHROMA_MAP_STEPS > CHROMA_MAP_WORK:
        return None
    fy, fx = down
    hh, hw = half.shape
    # the region on the received grid, and the 8x8 blocks of that grid around it
    ry0, ry1, rx0, rx1 = by0 * 8 // fy, -(-by1 * 8 // fy), bx0 * 8 // fx, -(-bx1 * 8 // fx)
    wy0, wx0 = ry0 // 8 * 8, rx0 // 8 * 8
    wy1, wx1 = min(hh, -(-ry1 // 8) * 8), min(hw, -(-rx1 // 8) * 8)
    if ry1 > wy1 or rx1 > wx1:
        return None
    y = np.asarray(half[wy0:wy1, wx0:wx1], dtype=np.float64) - 128.0
    h, w = y.shape
    weight = 1.0 / (np.asarray(qtab, dtype=np.float64) ** 2 / 12.0 + 0.25)
    mask = np.zeros((h, w))
    mask[ry0 - wy0 : ry1 - wy0, rx0 - wx0 : rx1 - wx0] = 1.0  # the received samples the region feeds

    def weigh(r: np.ndarray) -> np.ndarray:  # the data term's inverse noise covariance, per DCT frequency
        b = _D8 @ r.reshape(h // 8, 8, w // 8, 8).transpose(0, 2, 1, 3) @ _D8.T
        return (_D8.T @ (b * weight) @ _D8).transpose(0, 2, 1, 3).reshape(h, w)

    H, W = rows * 8, cols * 8
    oy, ox = by0 * 8 - ry0 * fy, bx0 * 8 - rx0 * fx  # the region's offset in its first received sample
    inside = (slice(ry0 - wy0, ry1 - wy0), slice(rx0 - wx0, rx1 - wx0))
    if blur[0] > 0 or blur[1] > 0:
        from scipy.fft import dctn, idctn

        gain = np.outer(_blur_eigen(h, blur[0]), _blur_eigen(w, blur[1]))

        def blurred(z: np.ndarray) -> np.ndarray:  # symmetric: its own adjoint
            return idctn(dctn(z, type=2, norm="ortho") * gain, type=2, norm="ortho")

        beside = deconvolve(y + 128.0, blur) - 128.0
        beside[inside] = 0.0
        y = y - blurred(beside)
    else:

        def blurred(z: np.ndarray) -> np.ndarray:
            return z

    def forward(x: np.ndarray) -> np.ndarray:  # D: the region's pixels -> received samples (window grid)
        pad = np.zeros(((ry1 - ry0) * fy, (rx1 - rx0) * fx))
        pad[oy : oy + H, ox : ox + W] = x
        out = np.zeros((h, w))
        out[inside] = pad.reshape(ry1 - ry0, fy, rx1 - rx0, fx).mean(axis=(1, 3))
        return blurred(out)

    def adjoint(z: np.ndarray) -> np.ndarray:
        s = blurred(z)[inside] / (fy * fx)
        return np.repeat(np.repeat(s, fy, axis=0), fx, axis=1)[oy : oy + H, ox : ox + W]

    # scramble-v5..v8 write only the transmitted frequencies of a chroma block: the
    # unknowns are those (16 received samples per block against 15 unknowns for 4:2:0)
    sub = reg.scramble.subspace(ci).reshape(8, 8) if isinstance(reg.scramble, _MixScramble) else np.ones((8, 8))

    def px(c: np.ndarray) -> np.ndarray:
        return _pixels(c * sub, rows, cols) - 128.0

    def px_adjoint(x: np.ndarray) -> np.ndarray:
        return _blocks(x + 128.0, 0, rows, 0, cols) * sub

    lam = 1.0 / CHROMA_GRADIENT_RMS**2
    wgx = wgy = None

    def normal(c: np.ndarray) -> np.ndarray:
        x = px(c)
        u = _unscramble_px(reg, ci, x)
        gx, gy = np.diff(u, axis=1), np.diff(u, axis=0)
        if wgx is not None:
            gx, gy = gx * wgx, gy * wgy
        prior = px_adjoint(_unscramble_px_adjoint(reg, ci, _diff_adjoint(gx, gy)))
        return px_adjoint(adjoint(mask * weigh(mask * forward(x)))) + lam * prior

    rhs = px_adjoint(adjoint(mask * weigh(mask * y)))
    x0 = _fancy_up(y, fy, fx, (h * fy, w * fx))[ry0 * fy - wy0 * fy + oy :, rx0 * fx - wx0 * fx + ox :][:H, :W]
    c = px_adjoint(x0)
    for irls in range(CHROMA_IRLS):
        if irls:
            u = _unscramble_px(reg, ci, px(c))
            wgx = 1.0 / np.sqrt(1.0 + (np.diff(u, axis=1) / CHROMA_EDGE) ** 2)
            wgy = 1.0 / np.sqrt(1.0 + (np.diff(u, axis=0) / CHROMA_EDGE) ** 2)
        _conjugate_gradients(normal, rhs, c, CHROMA_MAP_STEPS if not irls else CHROMA_IRLS_STEPS)
    return c * sub


# --- the header written over the regions ------------------------------------------------------------
#: Conjugate-gradient steps and ridge (relative to the operator's scale) of
#: the header-pattern estimate inside a region (SPEC §13.5). The ridge keeps
#: the amplitudes from taking the picture's own structure: measured on the 8
#: packaged photos of 0.3 MP or less, two box sets each (the header over the
#: regions in every case), 0.1 against 1e-4: +0.43 dB on a lossless copy,
#: +0.10 at JPEG q75, +0.12 at q50; 0.03 did alike, 0.3 and 1 worse.
PATTERN_CG_STEPS, PATTERN_RIDGE = 80, 0.1
#: Reweighted passes (the first is plain least squares) and the floor of the
#: robust weights' differences, in luma levels.
PATTERN_IRLS, PATTERN_L1_FLOOR = 8, 1.0
#: Work budget of the estimate, in luma blocks times conjugate-gradient steps
#: (about 3 s on one core): larger regions get fewer steps, down to
#: PATTERN_MIN_STEPS in each of PATTERN_MIN_IRLS passes; a region too large
#: even for that (over about 1.6 MP) keeps the pattern, as before (41 dB).
PATTERN_WORK, PATTERN_MIN_IRLS, PATTERN_MIN_STEPS = 1_500_000, 3, 20
#: scramble-v5/v6/v7/v8 regions, whose unscrambling (an unmixing) costs some 30 times
#: a permutation's, get this many passes of at most this many steps. Same files
#: and keys, two 1.2-1.4 MP photos with five regions each (scramble-v6, header
#: over the regions), PNG copy, JPEG q85, WebP 75: 0.00 to 0.03 dB below 8 x 80
#: (which gains 0.07 to 0.42 dB over no estimate) in a quarter to a fifth of the time.
PATTERN_MIXED_IRLS, PATTERN_MIXED_STEPS = 3, 30
#: The estimate is taken out only if it makes the unscrambled region's block
#: seams at least this much less pronounced (:func:`_blockiness`, after over
#: before). The unscrambled pattern is block noise, so a right estimate
#: clears seams; on textured pictures the smoothness prior takes texture for
#: pattern and the seams barely change. Chosen on 17 packaged photos (one
#: region of 36 % of a 0.3 MP picture, PNG and JPEG q75): taking it out
#: helped (up to +8 dB) wherever the ratio was 0.91 or less and hurt (up to
#: -3.6 dB) wherever it was 0.94 or more; checked on 10 more photos and a
#: two-region layout (41 cases in all, robust/SPEC.md §13.5).
PATTERN_KEEP_RATIO = 0.92
#: What the estimate makes smallest in the block-moving schemes' regions
#: (scramble-v1...v4; in practice the circle fallback's scramble-v4 on photos
#: under about 0.5 MP): ``"first-difference"`` with :data:`PATTERN_KEEP_RATIO`,
#: or ``"seam-curvature"`` (:func:`_seam_curvature`) with
#: :data:`PATTERN_SEAM_KEEP_RATIO` (the mixing schemes' value). Measured in the
#: sixteenth session and not adopted, because the two measures disagree:
#: ``benchmarks/bench_header_pattern.py --fallback`` (40 cases, 11 photos of
#: 0.26-0.31 MP, four box layouts, same files; docs/robust/header-pattern-fallback.md)
#: gave the seam curvature +0.66 dB on a lossless copy, +0.39 after JPEG q75
#: and +0.15 after WebP 75 on average (worst -2.14 / -0.89 / -0.88), most of
#: it from the looser keep test and from one large region per photo; on the
#: six fallback photos of bench_robust whose header goes over the regions,
#: with that benchmark's boxes (1-4 smaller regions) and three key draws each
#: (``--layouts bench --draws 3``, 18 cases, same files), it lost 0.27 / 0.25 /
#: 0.43 dB on average (png, q75, WebP 75; board, camera and orange up to -3.8
#: on a lossless copy: textured regions whose small size makes the keep
#: test's ratio noisy; astronaut and immunohistochemistry gained up to +4.4).
PATTERN_OPERATOR = "first-difference"
PATTERN_SEAM_KEEP_RATIO = 0.96
#: What the estimate makes smallest in scramble-v5/v6/v7/v8 regions:
#: ``"seam-curvature"`` (:func:`_seam_curvature`) or ``"first-difference"``
#: (as for the block-moving schemes, and for these before the fourteenth
#: session; ``benchmarks/bench_header_pattern.py`` compares the two), and the
#: keep ratio that goes with the seam curvature. Measured there (fourteenth
#: session, docs/robust/header-pattern.md: 21 cases, 11 photos of 0.4-2 MP,
#: one to four regions, same files): +0.83 dB on a lossless copy, +0.48
#: after JPEG q75, +0.37 after WebP 75 on average, up to +3.7 / +2.2 / +1.6,
#: never more than 0.08 dB worse; +2.3 / +1.7 / +1.3 against leaving the
#: pattern in. The curvature estimate is taken out where the first-difference
#: one was left out as texture, and leaves less of the pattern where both are.
PATTERN_MIXED_OPERATOR = "seam-curvature"
PATTERN_MIXED_KEEP_RATIO = 0.96


def _header_grid_in_regions(header: RobustHeader, payload_len: int, found: tuple[int, int] | None = None):
    """The cell grid if the header had to go over the regions (SPEC §13.5: a
    plain header that does not fit outside them), else ``None``. The writer's
    choice is a pure function of the geometry and the payload's length, so the
    reader repeats it (SPEC §10): over the regions if the payload fits
    outside them on no grid (then on `found`, the grid the extractor read,
    ``(cols, rows)``), or if it was read from the default grid and does not
    fit outside there (writers before the finer grids tried only that one)."""
    from .embedder import choose_parity, choose_plan, plan
    from .layout import Grid

    if any(r.thumbnail for r in header.regions):
        return None  # a header with thumbnails is written only where it fits outside
    boxes = [header.region_box(i) for i in range(len(header.regions))]
    p = plan(header.width, header.height, boxes, header.mcu)
    if p is None or choose_parity(p, payload_len) is not None:
        return None  # fits outside on the default grid
    if found is None or tuple(found) == (p.grid.cols, p.grid.rows):
        return p.grid  # the default grid, and it does not fit outside there
    if choose_plan(header.width, header.height, boxes, payload_len, header.mcu) is None:
        return Grid(*found)  # over the regions on a finer grid (§10)
    return None  # outside the regions on a finer grid (§9)


def _header_cells(header: RobustHeader, payload_len: int, grid) -> np.ndarray | None:
    """``bool (rows, cols)``: the cells that may carry the header's pattern
    when it went over the regions on `grid`; ``None`` for all of them
    (payload versions 1-3). A version 4 header covers only the cells over the
    regions it needed (SPEC §10's fill rule), which the reader repeats: the
    cells whose window touches no region, and :func:`picveil.robust.embedder.region_cells`."""
    from .embedder import plan, region_cells

    if not header.region_fill:
        return None
    boxes = [header.region_box(i) for i in range(len(header.regions))]
    p = plan(header.width, header.height, boxes, header.mcu, grid=grid)
    extra = region_cells(p, payload_len) if p is not None else None
    return None if extra is None else p.usable | extra


def _windows(n_px: int, n_cells: int, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the cells whose windows reach pixels ``a .. b`` (zero past ``n_px``), and their indices."""
    from .layout import window_matrix

    k = np.zeros((n_cells, b - a))
    m = max(0, min(b, n_px) - a)
    k[:, :m] = window_matrix(n_px, n_cells)[:, a : a + m]
    idx = np.flatnonzero(k.any(axis=1))
    return k[idx], idx


def _remove_header_pattern(
    luma: np.ndarray, header: RobustHeader, grid, reg: "_Region", cells: np.ndarray | None = None
) -> float:
    """Take the robust header's luma pattern out of a region, in place; return its rms.

    When the header went over the regions, the region's pixels are the
    scrambled region *plus* the header's smooth pattern (sum of cos² windows
    times unknown amplitudes, SPEC §9), which unscrambling would turn into
    block noise (about 41 dB). The amplitudes of the cells over the region are
    the least-squares solution that makes the unscrambled region smoothest,
    found by conjugate gradients on the normal equations: the true picture
    is smooth across its block seams, the unscrambled pattern is not; the
    weights are reweighted towards L1 (:data:`PATTERN_IRLS` passes;
    :data:`PATTERN_MIXED_IRLS` for scramble-v5/v6/v7/v8), so the picture's own
    edges count little. Smoothest means the smallest first differences for
    the block-moving schemes (:data:`PATTERN_OPERATOR`), and for
    scramble-v5/v6/v7/v8 the smallest second differences across the block seams
    (:func:`_seam_curvature`): their unscrambled pattern is noise in each
    block's mean and lowest frequencies, which a seam's curvature shows and a
    picture's texture or gradient does not (they pass through seams and block
    interiors alike; :data:`PATTERN_MIXED_OPERATOR`).
    Only the amplitudes of `cells` (``bool (rows, cols)``, :func:`_header_cells`;
    ``None``: every cell) are estimated, the others being zero.
    Luma only (the channel modulates luma). The estimate is kept only if it
    clears the unscrambled region's block seams (:data:`PATTERN_KEEP_RATIO`;
    :data:`PATTERN_MIXED_KEEP_RATIO`, :data:`PATTERN_SEAM_KEEP_RATIO` with the
    seam curvature);
    else, and for a region too large for the bounded work
    (:data:`PATTERN_WORK`), the region is left as it is and ``0.0`` returned.
    """
    by0, by1, bx0, bx1 = reg.ranges[0]
    rows, cols = by1 - by0, bx1 - bx0
    mixed = isinstance(reg.scramble, _MixScramble)
    irls, cg = (PATTERN_MIXED_IRLS, PATTERN_MIXED_STEPS) if mixed else (PATTERN_IRLS, PATTERN_CG_STEPS)
    seams = (PATTERN_MIXED_OPERATOR if mixed else PATTERN_OPERATOR) == "seam-curvature"
    passes, steps = irls, min(cg, PATTERN_WORK // max(1, rows * cols * irls))
    if steps < PATTERN_MIN_STEPS:
        passes, steps = PATTERN_MIN_IRLS, PATTERN_WORK // max(1, rows * cols * PATTERN_MIN_IRLS)
        if steps < PATTERN_MIN_STEPS:
            return 0.0
    y0, y1, x0, x1 = by0 * 8, by1 * 8, bx0 * 8, bx1 * 8
    ky, iy = _windows(header.height, grid.rows, y0, y1)
    kx, ix = _windows(header.width, grid.cols, x0, x1)
    if not ky.size or not kx.size:
        return 0.0
    live = np.ones((len(iy), len(ix))) if cells is None else cells[np.ix_(iy, ix)].astype(np.float64)
    if not live.any():
        return 0.0

    def unscramble(img: np.ndarray) -> np.ndarray:
        return _unscramble_px(reg, 0, img)

    def grad(img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return _seam_curvature(img) if seams else (np.diff(img, axis=1), np.diff(img, axis=0))

    def scramble_grad_t(gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
        adjoint = _seam_curvature_adjoint(gx, gy, (y1 - y0, x1 - x0)) if seams else _diff_adjoint(gx, gy)
        return _unscramble_px_adjoint(reg, 0, adjoint)

    region = luma[y0:y1, x0:x1] - 128.0
    bx_, by_ = grad(unscramble(region))
    wx, wy = np.ones_like(bx_), np.ones_like(by_)

    def normal(a: np.ndarray) -> np.ndarray:
        gx, gy = grad(unscramble(ky.T @ (live * a) @ kx))
        return live * (ky @ scramble_grad_t(wx * gx, wy * gy) @ kx.T)

    a = np.zeros((ky.shape[0], kx.shape[0]))
    scale = float(np.abs(normal(live)).sum() / live.sum() + 1e-12)
    for _ in range(passes):
        # robust (about L1) weights: the picture's own edges are large differences,
        # the unscrambled pattern's seams small ones
        if _:
            gx, gy = grad(unscramble(region - ky.T @ a @ kx))
            wx, wy = 1.0 / np.maximum(np.abs(gx), PATTERN_L1_FLOOR), 1.0 / np.maximum(np.abs(gy), PATTERN_L1_FLOOR)
            scale = float(np.abs(normal(live)).sum() / live.sum() + 1e-12)
        ridge = PATTERN_RIDGE * scale
        rhs = live * (ky @ scramble_grad_t(wx * bx_, wy * by_) @ kx.T)
        _conjugate_gradients(lambda v: normal(v) + ridge * v, rhs, a, steps, tol=1e-18)
    pattern = ky.T @ (live * a) @ kx
    keep_ratio = (PATTERN_MIXED_KEEP_RATIO if mixed else PATTERN_SEAM_KEEP_RATIO) if seams else PATTERN_KEEP_RATIO
    if _blockiness(unscramble(region - pattern)) > keep_ratio * _blockiness(unscramble(region)):
        return 0.0  # the estimate does not clear the seams: it is not the pattern (texture)
    luma[y0:y1, x0:x1] -= pattern
    return float(np.sqrt(np.mean(pattern * pattern)))


def _seam_columns(n: int) -> np.ndarray:
    """Of the ``n - 2`` second differences along an axis of ``n`` pixels (entry
    ``j`` centred on pixel ``j + 1``), those centred on the last or the first
    pixel of an 8-pixel block: the two either side of each seam."""
    return np.isin((np.arange(max(0, n - 2)) + 1) % 8, (7, 0))


def _seam_curvature(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Second differences of ``u`` ``(h, w)`` across its 8x8 block seams:
    ``(along x: (h, k_x), along y: (k_y, w))``, each centred on a pixel either
    side of a seam (:func:`_seam_columns`). A picture's texture and gradients
    give them no more than its block interiors; noise in each block's mean
    and lowest frequencies shows in them alone."""
    sx = u[:, :-2] - 2.0 * u[:, 1:-1] + u[:, 2:]
    sy = u[:-2, :] - 2.0 * u[1:-1, :] + u[2:, :]
    return sx[:, _seam_columns(u.shape[1])], sy[_seam_columns(u.shape[0]), :]


def _seam_curvature_adjoint(gx: np.ndarray, gy: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The adjoint of :func:`_seam_curvature` for pictures of `shape`."""
    h, w = shape
    fx = np.zeros((h, max(0, w - 2)))
    fx[:, _seam_columns(w)] = gx
    fy = np.zeros((max(0, h - 2), w))
    fy[_seam_columns(h), :] = gy
    out = np.zeros((h, w))
    out[:, :-2] += fx
    out[:, 1:-1] -= 2.0 * fx
    out[:, 2:] += fx
    out[:-2, :] += fy
    out[1:-1, :] -= 2.0 * fy
    out[2:, :] += fy
    return out


def _blockiness(u: np.ndarray) -> float:
    """How much more ``u`` changes across its 8x8 block seams than inside the
    blocks: mean |second difference| over the pixels on either side of a
    seam, divided by the same inside the blocks (about 1 for a natural
    picture, more for unscrambled block noise)."""
    sx = np.abs(np.diff(u, n=2, axis=1))  # column j: centred on pixel j + 1
    sy = np.abs(np.diff(u, n=2, axis=0))
    seam_x, seam_y = _seam_columns(u.shape[1]), _seam_columns(u.shape[0])
    seam = np.concatenate([sx[:, seam_x].ravel(), sy[seam_y, :].ravel()])
    inner = np.concatenate([sx[:, ~seam_x].ravel(), sy[~seam_y, :].ravel()])
    if not seam.size or not inner.size:
        return 1.0
    return float(seam.mean() / max(inner.mean(), 1e-9))


# --- output ------------------------------------------------------------------------------------------
def _to_rgb(planes: list[np.ndarray], header: RobustHeader, window: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """Float ``(H, W, 3)`` RGB (or ``(H, W)`` gray) of component planes, as a
    decoder shows them (triangle upsampling of chroma), not clipped.

    With ``window = (y0, y1, x0, x1)`` (pixels, ``y0`` and ``x0`` multiples
    of 16) only that part, equal to the same part of the whole: each plane is
    cut with one sample of margin, which is all the triangle filter reads."""
    H, W = header.height, header.width
    y0, y1, x0, x1 = window or (0, H, 0, W)
    if header.color_space == "gray":
        return planes[0][y0:y1, x0:x1]
    full = []
    for p, (fy, fx) in zip(planes, _factors(header)):
        sy0, sx0 = max(y0 // fy - 1, 0), max(x0 // fx - 1, 0)
        sy1, sx1 = min(-(-y1 // fy) + 1, p.shape[0]), min(-(-x1 // fx) + 1, p.shape[1])
        up = _fancy_up(p[sy0:sy1, sx0:sx1], fy, fx, ((sy1 - sy0) * fy, (sx1 - sx0) * fx))
        full.append(up[y0 - sy0 * fy : y1 - sy0 * fy, x0 - sx0 * fx : x1 - sx0 * fx])
    stacked = np.stack(full, axis=-1)
    return stacked if header.color_space == "rgb" else ycbcr_to_rgb(stacked)


#: Pillow's ``subsampling`` for the chroma factors ``(fy, fx)`` it can write.
_PIL_SUBSAMPLING = {(1, 1): 0, (1, 2): 1, (2, 2): 2}


def _lattice_rgb(planes: list[np.ndarray], header: RobustHeader, window: tuple[int, int, int, int], tables) -> np.ndarray | None:
    """:func:`_to_rgb` of `window`, but with every coefficient put on the
    protected file's lattice (`tables`, :func:`_find_lattice`) and decoded
    by libjpeg (Pillow), as a viewer decodes the original: its integer IDCT,
    upsampling and rounding, not this module's floating-point ones (those
    differ from libjpeg's by about 0.35 grey levels rms). What rounding to
    the lattice changes (coefficients too noisy to have been snapped) is
    added back in floating point, which is linear. One MCU around the
    window gives the chroma upsampling its neighbours. ``None`` for a layout
    Pillow cannot write (the caller then uses :func:`_to_rgb`)."""
    from PIL import Image

    from picveil.jpeg.codec import AC_MAX, AC_MIN, DC_MAX, DC_MIN, read_coefficients

    gray = header.color_space == "gray"
    factors = [(1, 1)] if gray else _factors(header)
    sub = None if gray else _PIL_SUBSAMPLING.get(factors[1])
    if not gray and (sub is None or any(f != factors[1] for f in factors[1:])):
        return None
    mw, mh = header.mcu
    y0, y1, x0, x1 = window
    gy0, gx0 = max(y0 - mh, 0) // mh * mh, max(x0 - mw, 0) // mw * mw
    gy1, gx1 = min(y1 + mh, header.height), min(x1 + mw, header.width)
    qt = [np.asarray(tables[0], dtype=int).ravel().tolist()]
    if not gray:
        qt.append(np.asarray(tables[1], dtype=int).ravel().tolist())
    buf = io.BytesIO()
    kw = {} if gray else {"subsampling": sub}
    Image.new("L" if gray else "RGB", (gx1 - gx0, gy1 - gy0)).save(buf, "JPEG", qtables=qt, **kw)
    co = read_coefficients(buf.getvalue())
    residual = []
    for ci, (plane, (fy, fx)) in enumerate(zip(planes, factors)):
        comp = co.components[ci]
        rows, cols = comp.height_in_blocks, comp.width_in_blocks
        by0, bx0 = gy0 // (8 * fy), gx0 // (8 * fx)
        q = np.asarray(tables[ci], dtype=np.float64)
        blk = _blocks(plane, by0, by0 + rows, bx0, bx0 + cols)
        k = np.rint(blk / q)
        k[:, 1:, :] = np.clip(k[:, 1:, :], AC_MIN, AC_MAX)
        k[:, 0, 1:] = np.clip(k[:, 0, 1:], AC_MIN, AC_MAX)
        k[:, 0, 0] = np.clip(k[:, 0, 0], DC_MIN, DC_MAX)
        co.set_blocks(ci, 0, 0, k.reshape(rows, cols, 8, 8).astype(np.int16))
        # what the lattice leaves out (frequencies too noisy to snap): added back linearly below
        residual.append(_pixels(blk - k * q, rows, cols) - 128.0 + (0.0 if ci == 0 or gray else 128.0))
    with Image.open(io.BytesIO(co.encode())) as im:
        px = np.asarray(im.convert("L" if gray else "RGB"), dtype=np.float64)
    gh, gw = gy1 - gy0, gx1 - gx0
    px = px + (residual[0][:gh, :gw] if gray else _to_rgb(residual, header, (0, gh, 0, gw)))
    return px[y0 - gy0 : y1 - gy0, x0 - gx0 : x1 - gx0]


def _window(y0: float, y1: float, x0: float, x1: float, header: RobustHeader, margin: int = 0) -> tuple[int, int, int, int]:
    """The pixel rectangle ``(y0, y1, x0, x1)`` grown by `margin`, its start
    rounded down to a multiple of 16 (whole MCUs), clipped to the picture."""
    return (
        max(int(math.floor(y0)) - margin, 0) // 16 * 16,
        min(int(math.ceil(y1)) + margin, header.height),
        max(int(math.floor(x0)) - margin, 0) // 16 * 16,
        min(int(math.ceil(x1)) + margin, header.width),
    )


def _compose(
    image: np.ndarray, header: RobustHeader, planes: list[np.ndarray], indices: Sequence[int], scale: float, lattice=None,
    kernel: str = "lanczos",
) -> np.ndarray:
    """Paste the revealed regions of `planes` (original grid) into the received picture.

    At the original size the regions' pixels replace the received ones. A
    shrunk picture gets the revealed picture resized to its size (with the
    platform's `kernel`) and pasted over the regions' scaled rectangles.

    Only the parts of the picture the regions need are converted (and
    resized): a window around each group of regions, with the resampling
    filter's reach; regions whose windows meet are one group, so that the
    result is the same as converting the whole picture.
    """
    out = image.copy()
    groups = [[header.region_box(i)] for i in indices]
    windows = [_compose_window(image, header, g, scale) for g in groups]
    merged = True
    while merged:
        merged = False
        for a in range(len(groups)):
            for b in range(a + 1, len(groups)):
                (ay0, ay1, ax0, ax1), (by0, by1, bx0, bx1) = windows[a], windows[b]
                if ay0 < by1 and by0 < ay1 and ax0 < bx1 and bx0 < ax1:
                    groups[a] += groups.pop(b)
                    windows.pop(b)
                    windows[a] = _compose_window(image, header, groups[a], scale)
                    merged = True
                    break
            if merged:
                break
    for boxes, win in zip(groups, windows):
        _compose_group(out, image, header, planes, boxes, scale, win, lattice, kernel)
    return out


def _scaled_boxes(image: np.ndarray, header: RobustHeader, boxes) -> list[tuple[int, int, int, int]]:
    """Boxes of the original grid on the received picture `image` (edges rounded)."""
    height, width = image.shape[:2]
    sx, sy = width / header.width, height / header.height
    return [
        (round(x * sx), round(y * sy), round((x + w) * sx) - round(x * sx), round((y + h) * sy) - round(y * sy))
        for x, y, w, h in boxes
    ]


def _compose_window(image: np.ndarray, header: RobustHeader, boxes, scale: float) -> tuple[int, int, int, int]:
    """The window ``(y0, y1, x0, x1)`` of the original grid that pasting `boxes` reads."""
    if scale == 1.0:
        left, top = min(b[0] for b in boxes), min(b[1] for b in boxes)
        right, bottom = max(b[0] + b[2] for b in boxes), max(b[1] + b[3] for b in boxes)
        return _window(top, bottom, left, right, header)
    height, width = image.shape[:2]
    sx, sy = width / header.width, height / header.height
    scaled = _scaled_boxes(image, header, boxes)
    X0, Y0 = min(b[0] for b in scaled), min(b[1] for b in scaled)
    X1, Y1 = max(b[0] + b[2] for b in scaled), max(b[1] + b[3] for b in scaled)
    reach = int(math.ceil(LANCZOS_A / min(sx, sy, 1.0))) + 2  # the widest kernel's support (Lanczos), in original pixels
    top, bottom, left, right = (Y0 / sy, Y1 / sy, X0 / sx, X1 / sx)
    return _window(top, bottom, left, right, header, reach)


def _compose_group(
    out: np.ndarray, image: np.ndarray, header: RobustHeader, planes, boxes, scale: float, win, lattice=None, kernel: str = "lanczos"
) -> None:
    """Paste `boxes` (original pixels) into `out` from `win` of the planes
    (:func:`_compose`); decoded on the `lattice` (:func:`_lattice_rgb`) when given."""
    wy0, wy1, wx0, wx1 = win
    full = _lattice_rgb(planes, header, win, lattice) if lattice is not None and scale == 1.0 and LATTICE_DECODE else None
    if full is None:
        full = _to_rgb(planes, header, win)
    if full.ndim == 2 and image.ndim == 3:
        full = np.repeat(full[..., None], 3, axis=-1)
    elif full.ndim == 3 and image.ndim == 2:  # a colour original received in gray: its luma
        full = rgb_to_ycbcr(full)[..., 0]
    if scale != 1.0:
        height, width = image.shape[:2]
        sx, sy = width / header.width, height / header.height
        scaled = _scaled_boxes(image, header, boxes)
        X0, Y0 = min(b[0] for b in scaled), min(b[1] for b in scaled)
        X1, Y1 = max(b[0] + b[2] for b in scaled), max(b[1] + b[3] for b in scaled)
        chans = [full] if full.ndim == 2 else [full[..., i] for i in range(full.shape[-1])]
        if kernel == "nearest":  # the whole picture's picks: a window's own would round some ties otherwise
            ry = _resample_matrix(header.height, height, kernel)[Y0:Y1, wy0:wy1]
            rx = _resample_matrix(header.width, width, kernel)[X0:X1, wx0:wx1]
            full = np.stack([np.asarray(ry @ (rx @ c.T).T) for c in chans], axis=-1)
        else:
            src_box = (X0 / sx - wx0, Y0 / sy - wy0, X1 / sx - wx0, Y1 / sy - wy0)
            full = np.stack([_resize_float(c, (X1 - X0, Y1 - Y0), src_box, kernel) for c in chans], axis=-1)
        if full.shape[-1] == 1:
            full = full[..., 0]
        boxes, wx0, wy0 = scaled, X0, Y0
    for x, y, w, h in boxes:
        out[y : y + h, x : x + w] = np.clip(np.rint(full[y - wy0 : y - wy0 + h, x - wx0 : x - wx0 + w]), 0, 255).astype(np.uint8)


def _regions(header: RobustHeader, keys: dict[int, object]) -> tuple[list["_Region"], list[int], list[int]]:
    """The regions to reveal (with their scrambles), those locked (another
    circle) and those whose look only the container can undo."""
    regs, locked, container_only = [], [], []
    for i, entry in enumerate(header.regions):
        if not entry.robust:
            container_only.append(i)
        elif entry.group not in keys:
            locked.append(i)
        else:
            ranges = _block_ranges(header, i)
            shapes = [(b1 - b0, x1 - x0) for b0, b1, x0, x1 in ranges]
            rkey = keys[entry.group].region_key(header.region_salt(i))
            regs.append(_Region(i, ranges, _make_scramble(header.scheme_id, rkey, shapes, entry.params)))
    return regs, locked, container_only


#: Feathered edge of a pasted thumbnail: this share of the region's shorter
#: side (at least THUMBNAIL_FEATHER_MIN_PX pixels), blended linearly with the
#: received (painted) pixels, whose border matches the surroundings.
THUMBNAIL_FEATHER = 0.04
THUMBNAIL_FEATHER_MIN_PX = 2


def _paste_thumbnails(out: np.ndarray, header: RobustHeader, keys: dict[int, object], scale: float) -> list[int]:
    """Paste, in place, the thumbnails of the painted regions that the keys open.

    Parameters
    ----------
    out : numpy.ndarray
        ``uint8`` ``(h, w, 3)`` or ``(h, w)``, the picture at the received size.
    keys : dict
        Group index -> group key (:func:`_open_groups`).
    scale : float
        Received size over the original size.

    Returns
    -------
    list of int
        The regions pasted (their thumbnail authenticated and decoded).
    """
    from .header import open_thumbnail

    height, width = out.shape[:2]
    done = []
    for i, entry in enumerate(header.regions):
        if entry.robust or not entry.thumbnail or entry.group not in keys:
            continue
        x, y, w, h = header.region_box(i)
        if scale != 1.0:
            x, y, w, h = _scaled_boxes(out, header, [(x, y, w, h)])[0]
        w, h = min(w, width - x), min(h, height - y)
        if w < 1 or h < 1:
            continue
        rkey = keys[entry.group].region_key(header.region_salt(i))
        thumb = open_thumbnail(header, i, rkey, out_size=(h, w))
        if thumb is None:
            continue
        if thumb.ndim == 2 and out.ndim == 3:
            thumb = np.repeat(thumb[..., None], 3, axis=-1)
        feather = max(THUMBNAIL_FEATHER_MIN_PX, THUMBNAIL_FEATHER * min(w, h))
        dy = np.minimum(np.arange(h), np.arange(h)[::-1]) + 0.5
        dx = np.minimum(np.arange(w), np.arange(w)[::-1]) + 0.5
        alpha = np.clip(np.minimum(dy[:, None], dx[None, :]) / feather, 0.0, 1.0)
        if out.ndim == 3:
            alpha = alpha[..., None]
        sub = out[y : y + h, x : x + w].astype(np.float64)
        out[y : y + h, x : x + w] = np.clip(np.rint(alpha * thumb + (1 - alpha) * sub), 0, 255).astype(np.uint8)
        done.append(i)
    return done


def _pad_to_blocks(plane: np.ndarray, hb: int, wb: int) -> np.ndarray:
    """Edge-pad a plane to at least ``(8 hb, 8 wb)`` (what an encoder does)."""
    h, w = plane.shape
    if h >= hb * 8 and w >= wb * 8:
        return plane
    return np.pad(plane, ((0, max(0, hb * 8 - h)), (0, max(0, wb * 8 - w))), mode="edge")


# --- the recipe ------------------------------------------------------------------------------------------
def reveal_pixels(
    data: bytes,
    *,
    keyring,
    identities: Sequence = (),
    max_pixels: int = DEFAULT_MAX_PIXELS,
    recover_clipped: bool = True,
) -> tuple[np.ndarray, PixelRevealReport]:
    """Reveal a protected picture from its pixels, with the keyring's circles.

    Parameters
    ----------
    data : bytes
        Any image file Pillow reads (JPEG, WebP, PNG, ...) that carries a
        robust picveil header: the protected JPEG after a platform stripped
        its metadata, re-encoded, converted or resized it.
    keyring : picveil.crypto.Keyring or None
        Circles to open the regions with.
    identities : sequence, optional
        age identities; they cannot open a robust header (only circles can),
        and are accepted so that callers can pass what they have.
    max_pixels : int
        Refuse larger pictures.

    Returns
    -------
    (numpy.ndarray, PixelRevealReport)
        The revealed picture, ``uint8`` ``(h, w, 3)`` (or ``(h, w)`` gray), at
        the received size, and what was done. A picture turned by a platform
        is looked for turned back, and one inside a plain border (a
        screenshot) is looked for inside it (:func:`picture_frames`).

    Raises
    ------
    NoPicveilDataError
        No robust header in the picture.
    HeaderDamagedError
        A header is present but cannot be read exactly, its geometry does not
        fit the picture (cropped, rotated), or a known circle's key check fails.
    CircleNotFoundError
        No key group opens with the keyring; names the circle needed.
    UnsupportedVersionError
        The header's format or scheme is newer than this picveil.
    NotAnImageError, CorruptImageError, ImageTooLargeError
        The file cannot be decoded.
    """
    from picveil.errors import NoPicveilDataError

    from .extractor import extract

    data = bytes(data)
    image, fmt = _decode_image(data, max_pixels)
    sampling = _jpeg_sampling(data) if fmt == "jpeg" else None
    factors = _received_factors(fmt, sampling, data)
    srgb = _srgb_pixels(data, image)
    try:
        if srgb is not None:  # tagged with another colour space (a copy converted to Display P3, say): read in sRGB
            from dataclasses import replace

            try:
                out, report = _reveal_decoded(
                    None, srgb, fmt, keyring, identities, max_pixels, recover_clipped, sampling, received_factors=factors
                )
                return out, replace(report, to_srgb=True)
            except (NoPicveilDataError, HeaderDamagedError):
                pass
        return _reveal_decoded(
            data, image, fmt, keyring, identities, max_pixels, recover_clipped, sampling, received_factors=factors
        )
    except (NoPicveilDataError, HeaderDamagedError) as first:
        for header in _crop_headers(image):  # a few pixels cropped off: the header's grid is read padded back
            crop = _small_crop(header, image)
            if crop is not None:
                return _reveal_cropped(
                    image, header, crop, fmt, keyring, identities, max_pixels, recover_clipped, sampling, None, factors
                )
        for view, k, mirrored, frame in _other_views(image):
            try:
                extract(view, tones=False)
            except (NoPicveilDataError, HeaderDamagedError):
                continue
            tables = None
            if fmt == "jpeg":
                tables = _chroma_tables(_received_coefficients(data, max_pixels), turned=k % 2 == 1)
            out, report = _reveal_decoded(
                None, view, fmt, keyring, identities, max_pixels, recover_clipped, sampling, tables,
                received_factors=factors[::-1] if k % 2 else factors,
            )
            from dataclasses import replace

            if frame is not None:
                x0, y0, x1, y1 = frame
                whole = image.copy()
                whole[y0:y1, x0:x1] = out
                return whole, replace(report, received_size=(image.shape[1], image.shape[0]), frame=frame)
            return _view_back(out, k, mirrored), replace(report, rotated=(360 - 90 * k) % 360, mirrored=mirrored)
        raise first


def _srgb_pixels(data: bytes, image: np.ndarray) -> np.ndarray | None:
    """The received picture converted to sRGB when its file is tagged with an
    ICC profile of another RGB space, else None. Protect writes sRGB (a photo in
    Display P3 or Adobe RGB is converted first), so the header is in sRGB
    levels; a copy converted to a wide space after protection (an editor's
    export) has them moved by a non-linear map, and reads again in sRGB."""
    if image.ndim != 3:
        return None
    try:
        from PIL import Image

        from picveil.jpeg.colour import to_srgb

        with Image.open(io.BytesIO(data)) as im:
            icc = im.info.get("icc_profile")
        if not icc:
            return None
        out = to_srgb(Image.fromarray(image), icc)
    except Exception:  # noqa: BLE001 - an unreadable profile: the picture as it is
        return None
    return None if out is None else np.asarray(out)


def _other_views(image: np.ndarray):
    """Where else a picture whose header is not found as it is may hold it, in
    the order :func:`reveal_pixels` tries them: ``(view, k, mirrored, frame)``.

    First the picture turned back by ``k`` quarter turns (a platform applied
    the EXIF orientation and turned the pixels of a phone photo), then
    mirrored back (``view = rot90(fliplr(image), k)``: an orientation that
    mirrors, 2, 4, 5 or 7, or a flip in an editor), then the picture inside a
    plain border, ``frame`` (a screenshot on an app's background, a
    letterboxed repost; :func:`picture_frames`, those in which a header's grid
    shows, :func:`picveil.robust.extractor.frames_found`). :func:`_view_back`
    undoes a view."""
    for k in (1, 3, 2):
        yield np.ascontiguousarray(np.rot90(image, k)), k, False, None
    for k in (0, 1, 2, 3):
        yield np.ascontiguousarray(np.rot90(image[:, ::-1], k)), k, True, None
    from .extractor import frames_found

    for frame in frames_found(image, picture_frames(image)):
        x0, y0, x1, y1 = frame
        yield np.ascontiguousarray(image[y0:y1, x0:x1]), 0, False, frame


def _view_back(out: np.ndarray, k: int, mirrored: bool) -> np.ndarray:
    """A picture revealed in the view ``rot90(fliplr(image) if mirrored else image, k)``, as `image` holds it."""
    back = np.rot90(out, -k)
    return np.ascontiguousarray(back[:, ::-1] if mirrored else back)


def read_header(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[RobustHeader, PixelHeaderInfo]:
    """The robust header of a picture, found as :func:`reveal_pixels` finds
    it (turned back, inside a plain border); needs no key.

    Raises
    ------
    NoPicveilDataError, HeaderDamagedError, UnsupportedVersionError
        As :func:`reveal_pixels`.
    NotAnImageError, CorruptImageError, ImageTooLargeError
        The file cannot be decoded.
    """
    from picveil.errors import NoPicveilDataError

    from .extractor import extract

    image, _ = _decode_image(bytes(data), max_pixels)
    first = None
    for view, k, mirrored, frame in itertools.chain([(image, 0, False, None)], _other_views(image)):
        try:
            header = RobustHeader.from_bytes(extract(view, tones=first is None))  # a tone edit: the picture as it is
            crop = _small_crop(header, view)
            scale = 1.0 if crop is not None else _scale(header, view.shape[1], view.shape[0])
        except (NoPicveilDataError, HeaderDamagedError) as exc:
            if first is None:  # not as it is: a few pixels cropped off, perhaps (as reveal_pixels tries next)
                for header in _crop_headers(image):
                    crop = _small_crop(header, image)
                    if crop is not None:
                        w, h = image.shape[1], image.shape[0]
                        return header, PixelHeaderInfo(
                            received_size=(w, h), scale=1.0,
                            cropped=(crop[0], crop[1], header.width - w - crop[0], header.height - h - crop[1]),
                        )
            first = first or exc
            continue
        cut = None
        if crop is not None:
            cut = (crop[0], crop[1], header.width - view.shape[1] - crop[0], header.height - view.shape[0] - crop[1])
        return header, PixelHeaderInfo(
            received_size=(image.shape[1], image.shape[0]), scale=scale, rotated=(360 - 90 * k) % 360, frame=frame,
            mirrored=mirrored, cropped=cut,
        )
    raise first


@dataclass(frozen=True)
class PixelHeaderInfo:
    """Where :func:`read_header` found the header.

    Attributes
    ----------
    received_size : (int, int)
        Width and height of the received picture.
    scale : float
        The protected picture's size in it over its original size (1.0: not resized).
    rotated, frame, mirrored, cropped
        As :class:`PixelRevealReport`'s.
    """

    received_size: tuple[int, int]
    scale: float
    rotated: int = 0
    frame: tuple[int, int, int, int] | None = None
    mirrored: bool = False
    cropped: tuple[int, int, int, int] | None = None


#: Largest difference (levels, any channel) from a border's colour of the pixels of a plain border's rows and columns.
FRAME_TOLERANCE = 10
#: Share of a row or column's pixels that must be within :data:`FRAME_TOLERANCE` for it to count as border
#: (a lossy copy rings beside the picture's edge and has stray pixels).
FRAME_SHARE = 0.98
#: Lines beyond the plain ones in which :func:`picture_frames` looks for the picture's edge (a JPEG block).
FRAME_RING = 8
#: Rise (levels) of a line's mean distance from the border's colour over the outermost lines' that
#: :func:`picture_frames` takes for the picture's edge when the picture's own edge is near that colour.
FRAME_RISE = 2.0
#: Rounds in which :func:`picture_frames` peels borders inside borders (a card on a background).
FRAME_ROUNDS = 4
#: Smallest width and height of the picture inside a border.
FRAME_MIN_SIDE = 64


def picture_frames(image: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Where a picture may sit inside a plain border, likeliest first: a
    screenshot of a photo on an app's background, a repost letterboxed on a
    plain colour.

    Pure function. For each side, the border's depth is estimated three
    ways, each a candidate edge:

    1. rows (columns) are taken off while they are plain: at least
       :data:`FRAME_SHARE` of their pixels within :data:`FRAME_TOLERANCE`
       levels of the line's own colour (a background, and a separator line
       or a second background inside it); a lossy copy rings up to a
       block beside the picture's edge, so the edge is then put where the
       lines' mean distance from the last plain line's colour rises most,
       within :data:`FRAME_RING` lines of there;
    2. where that mean distance first rises :data:`FRAME_RISE` levels above
       the outermost line's (a picture whose own edge is near the border's
       colour, dark on black);
    3. no border on that side.

    (1) is repeated on what is left, up to :data:`FRAME_ROUNDS` times, for
    a border inside a border (a card's outline on an app's background);
    (2) and (3) are taken in the last round that took anything off.
    The frames are: every side at (1); each side in turn at (2), then at
    (3); every side at (2); then what the earlier rounds left, latest
    first (a photo whose own margins are plain, a fundus photo on black,
    loses them in a later round). A picture with no border on any side, or any
    frame under :data:`FRAME_MIN_SIDE` pixels wide or tall, is left out.

    Parameters
    ----------
    image : numpy.ndarray
        ``uint8``, ``(H, W)`` or ``(H, W, 3)``.

    Returns
    -------
    list of (int, int, int, int)
        ``x0, y0, x1, y1`` (exclusive ends), distinct; empty when (1) finds
        no border on any side.
    """
    img = np.asarray(image).astype(np.int16)
    if img.ndim == 2:
        img = img[:, :, None]
    h, w = img.shape[:2]

    def plain_lines(lines: np.ndarray) -> int:
        """How many of `lines` (outermost first) are plain, each within
        :data:`FRAME_TOLERANCE` of its own colour: a background, and any
        separator line or second background inside it (looked at 32 lines at a time)."""
        for start in range(0, len(lines), 32):
            chunk = lines[start : start + 32]
            own = np.abs(chunk - np.median(chunk, axis=1)[:, None, :]).max(axis=2)
            plain = (own <= FRAME_TOLERANCE).mean(axis=1) >= FRAME_SHARE
            if not plain.all():
                return start + int(np.argmin(plain))
        return len(lines)

    def depths(lines: np.ndarray) -> tuple[int, int]:
        """Border depths (1) and (2) of `lines` (outermost first, each ``(n, channels)``)."""
        d = plain_lines(lines)
        if d == 0 or d == len(lines):
            return d, d
        near = lines[: d + FRAME_RING + 1]
        inner = np.median(lines[d - 1], axis=0)  # the colour beside the picture
        dev = np.abs(near - inner).max(axis=2).mean(axis=1)
        lo, hi = d, min(d + FRAME_RING, len(dev) - 1)
        strict = lo + int(np.argmax(np.diff(dev[lo - 1 : hi + 1]))) if hi >= lo else d
        outer = np.abs(near - np.median(lines[0], axis=0)).max(axis=2).mean(axis=1)
        risen = np.flatnonzero(outer > outer[0] + FRAME_RISE)
        return strict, int(risen[0]) if risen.size else strict

    # Peeled in rounds: a line that spans only the inside of an outer background
    # (a card's outline) is plain once that background is off.
    outer = (0, 0, w, h)
    sides = None
    peeled = []  # the frame after each round: a picture whose own margins are plain (a photo on black) is one of them
    for _ in range(FRAME_ROUNDS):
        x0, y0, x1, y1 = outer
        sub = img[y0:y1, x0:x1]
        found = [depths(sub), depths(sub[::-1]), depths(sub.transpose(1, 0, 2)), depths(sub.transpose(1, 0, 2)[::-1])]
        if not any(d for d, _ in found):
            break
        sides, base = found, outer
        (top, _), (bottom, _), (left, _), (right, _) = found
        outer = (x0 + left, y0 + top, x1 - right, y1 - bottom)
        peeled.append(outer)
        if outer[2] - outer[0] < FRAME_MIN_SIDE or outer[3] - outer[1] < FRAME_MIN_SIDE:
            break
    if sides is None:
        return []
    first = [d for d, _ in sides]
    tries = [first]
    for alternative in (1, None):
        for i, (d, r) in enumerate(sides):
            alt = r if alternative else 0
            if alt != d:
                tries.append(first[:i] + [alt] + first[i + 1 :])
    tries.append([r for _, r in sides])
    bx0, by0, bx1, by1 = base
    candidates = [(bx0 + left, by0 + top, bx1 - right, by1 - bottom) for top, bottom, left, right in tries]
    frames = []
    for frame in candidates + peeled[-2::-1]:
        if frame != (0, 0, w, h) and frame not in frames and min(frame[2] - frame[0], frame[3] - frame[1]) >= FRAME_MIN_SIDE:
            frames.append(frame)
    return frames


def _chroma_tables(co, *, turned: bool = False) -> list[np.ndarray] | None:
    """A received JPEG's quantization table per component, from its
    coefficients ``co`` (for the chroma estimate's noise model); a picture
    turned a quarter turn has its blocks transposed, so the table is taken
    symmetric. ``None`` if ``co`` is."""
    if co is None:
        return None
    tables = [co.quant_table(ci).astype(np.float64) for ci in range(len(co.components))]
    return [(t + t.T) / 2.0 for t in tables] if turned else tables


def _received_factors(fmt: str, sampling: int | None, data: bytes) -> tuple[int, int]:
    """The received file's own chroma subsampling ``(fy, fx)``: a lossy WebP
    is always 4:2:0; a JPEG as `sampling` (Pillow's code, :func:`_jpeg_sampling`)
    says; lossless files keep full chroma."""
    from picveil.jpeg.vp8 import is_lossy

    if fmt == "webp":
        return (2, 2) if is_lossy(data) else (1, 1)
    if fmt == "jpeg":
        return {1: (1, 2), 2: (2, 2)}.get(sampling, (1, 1))  # type: ignore[arg-type]
    return (1, 1)


def _jpeg_sampling(data: bytes) -> int | None:
    """Pillow's chroma subsampling code of a JPEG (0 4:4:4, 1 4:2:2, 2 4:2:0), else None."""
    from PIL import Image, JpegImagePlugin

    try:
        with Image.open(io.BytesIO(data)) as im:
            return JpegImagePlugin.get_sampling(im) if im.format == "JPEG" else None
    except Exception:  # only a hint for the blur model
        return None


def _reveal_cropped(image, header, crop, fmt, *args):
    """:func:`_reveal_decoded` of a picture cropped by a few pixels (`crop`:
    the left and top ones, :func:`_small_crop`), put back in place on the
    protected picture's size; the revealed picture is cut as received."""
    from dataclasses import replace

    height, width = image.shape[:2]
    left, top = crop
    out, report = _reveal_decoded(None, _uncrop(image, header, left, top), fmt, *args)
    cut = (left, top, header.width - width - left, header.height - height - top)
    return np.ascontiguousarray(out[top : top + height, left : left + width]), replace(
        report, received_size=(width, height), cropped=cut
    )


#: Spread (grey levels) of a mixing scheme's shown block means about 128; a
#: region's mean over n blocks is 128 give or take this / sqrt(n) (measured on
#: four photos: 0.8 at most over 1400 blocks, 11 over 16).
REGION_MEAN_SPREAD = 30.0


def _tone_level(image: np.ndarray, header: RobustHeader, tone: tuple[float, float]):
    """The extractor's tone change ``(b, c)`` with ``b`` on the right lattice
    period: the header tells ``b`` only modulo its lattice step (5.5 grey
    levels: +3 reads as -2.5). A mixing scheme's region shows mean grey 128
    whatever it holds (its mean travels in the header, scramble-v5 on), so
    the regions' received mean luma tells which period, when they hold
    enough blocks for their mean to be sure (:data:`REGION_MEAN_SPREAD`).
    Returns ``(sure, guess)``: the tone change when the period is sure, else
    None and the likeliest one (the caller tries it and its neighbouring
    periods); for other schemes and resized pictures the smallest ``b``, sure."""
    from .layout import DELTA

    b, c = tone
    if not header.regions or header.scheme_id not in _MixScramble.scheme_ids or image.shape[:2] != (header.height, header.width):
        return (b, c), None
    y = _luma64(image)
    total, count = 0.0, 0
    for i, reg in enumerate(header.regions):
        if reg.look != 0:  # a painted region shows its look, not the scheme's mean grey
            continue
        ry, rx, rh, rw = _region_rect(header, i)
        part = y[ry : ry + rh, rx : rx + rw]
        total, count = total + float(part.sum()), count + part.size
    if not count:
        return (b, c), None
    shift = total / count - 128.0  # what the edit did to mid-grey
    k = round((shift - b) / DELTA)
    if REGION_MEAN_SPREAD / np.sqrt(count / 64.0) > DELTA / 6:  # the mean's spread: 3 sigma within half a period
        return None, (b + k * DELTA, c)
    return (b + k * DELTA, c), None


def _reveal_toned(image, tone, fmt, *args):
    """:func:`_reveal_decoded` of a picture whose grey levels were changed to
    ``x + b + c (x - 128)`` (`tone`, read by the extractor): undone first, so the
    regions' inverse sees the protected levels, and done again on what the
    reveal changed, so the regions match the edited picture around them."""
    from dataclasses import replace

    b, c = tone
    x = np.asarray(image, dtype=np.float64)
    undone = np.clip(np.round((x - b + 128.0 * c) / (1.0 + c)), 0, 255).astype(np.uint8)
    out, report = _reveal_decoded(None, undone, fmt, *args, toned=True)
    changed = out != undone
    redone = np.clip(np.round(out * (1.0 + c) + b - 128.0 * c), 0, 255).astype(np.uint8)
    return np.where(changed, redone, image), replace(report, tone=(float(b), float(c)))


def _attempts(calls) -> list:
    """The results of those `calls` (reveals through different tone changes) that
    find a header; the first one's error when none does."""
    from picveil.errors import NoPicveilDataError

    out, first = [], None
    for call in calls:
        try:
            out.append(call())
        except (NoPicveilDataError, HeaderDamagedError) as exc:
            first = first or exc
    if not out:
        raise first
    return out


def _seam_score(out: np.ndarray, header: RobustHeader) -> float:
    """The revealed regions' :func:`_blockiness` (luma), summed: a reveal through the
    wrong tone change leaves block noise at the seams."""
    y = _luma64(out)
    total = 0.0
    for i in range(len(header.regions)):
        ry, rx, rh, rw = _region_rect(header, i)
        part = y[ry : ry + rh, rx : rx + rw]
        if min(part.shape) >= 16:
            total += _blockiness(part)
    return total


def _reveal_decoded(
    data, image, fmt, keyring, identities, max_pixels, recover_clipped, received_sampling=None, received_tables=None,
    received_factors=(1, 1), toned: bool = False,
):
    """:func:`reveal_pixels` on a decoded picture. `data` is the received file, or
    ``None`` when `image` is not its pixels as decoded (turned): the JPEG
    coefficient paths are then skipped. `received_factors`: the received
    file's own chroma subsampling ``(fy, fx)`` in `image`'s orientation
    (:func:`_received_factors`)."""
    from picveil.schemes import get_scheme

    from .extractor import extract_report

    extraction = extract_report(image)
    payload = extraction.payload
    header = RobustHeader.from_bytes(payload)
    if not toned:  # its tones were edited (a whole lattice step, +5.5, reads as none): revealed as they were, edited again
        args = (fmt, keyring, identities, max_pixels, recover_clipped, received_sampling, received_tables, received_factors)
        fitted = extraction.tone or (0.0, 0.0)
        tone, guess = _tone_level(image, header, fitted)
        if tone is None and extraction.tone is not None:  # the period is not sure: the smoothest of three
            from .layout import DELTA

            b, c = guess
            tries = _attempts([lambda k=k: _reveal_toned(image, (b + k * DELTA, c), *args) for k in (0, -1, 1)])
            return min(tries, key=lambda t: _seam_score(t[0], header))
        if tone is None and guess[0] != 0.0:  # read as it is, but the regions' grey says a whole step (+5.5) perhaps
            tries = _attempts([lambda: _reveal_decoded(data, image, *args, toned=True), lambda: _reveal_toned(image, guess, *args)])
            return min(tries, key=lambda t: _seam_score(t[0], header))
        if tone is not None and tone != (0.0, 0.0):
            return _reveal_toned(image, tone, *args)
    sch = get_scheme(header.scheme_id)  # UnsupportedVersionError for unknown schemes
    if header.scheme_id not in _PIXEL_SCHEMES:
        raise UnsupportedVersionError(
            f"This image uses protection scheme {sch.name}, which cannot be revealed from re-encoded pixels.",
            hint="Reveal the original protected file (with its picveil data).",
        )
    if header.width * header.height > max_pixels:
        raise ImageTooLargeError(
            f"The picture was protected at {header.width}x{header.height}, over the limit of {max_pixels:,} pixels."
        )
    keys, names = _open_groups(header, keyring, identities)
    height, width = image.shape[:2]
    crop = _small_crop(header, image)
    if crop is not None:  # a few pixels cut off: revealed in place on the full grid, then cut again
        return _reveal_cropped(image, header, crop, fmt, keyring, identities, max_pixels, recover_clipped,
                               received_sampling, received_tables, received_factors)
    scale = _scale(header, width, height)
    regs, locked, container_only = _regions(header, keys)

    received = _received_coefficients(data, max_pixels) if scale == 1.0 and fmt == "jpeg" and data is not None else None
    planes = _jpeg_planes(received, header)
    source = "jpeg-coefficients" if planes is not None else "pixels"
    if planes is None:  # after a downscale, only the parts the regions' inverse reads
        planes = _pixel_planes(image, header, _resize_windows(header, regs, scale) if scale != 1.0 else None)
    planes = [_pad_to_blocks(p, hb, wb) for p, (_, _, hb, wb) in zip(planes, _plane_shapes(header))]
    nu = _wiener_nu(received if source == "jpeg-coefficients" else None, fmt)
    # A subsampled JPEG decoded here to pixels went through a second triangle
    # upsampling and box average (ours) on top of the viewer's and the platform's.
    passes = 2 if source == "pixels" and fmt == "jpeg" and received_sampling in (1, 2) else 1
    blur = [(*_blur_model(fmt, f), nu, passes) if scale == 1.0 else (0.0, 0.0, nu) for f in _factors(header)]
    clip = None
    intact = _intact(received, header) if regs and source == "jpeg-coefficients" else (False, False)
    if intact[1] and len(planes) > 1:
        blur[1:] = [(0.0, 0.0, nu)] * (len(planes) - 1)  # the protected chroma itself: nothing to undo
    if regs and source == "jpeg-coefficients":
        if all(intact):
            blur = [(0.0, 0.0, nu)] * len(planes)  # the protected coefficients themselves: nothing to undo
            if header.scheme_id in _LINEAR_SCHEMES:  # and the scheme needs nothing else: the integer inverse
                exact = _exact(data, header, regs, image, max_pixels)
                if exact is not None:
                    pixels = np.array(exact[0], copy=True)
                    low_res = _paste_thumbnails(pixels, header, keys, 1.0)
                    return pixels, PixelRevealReport(
                        header=header, revealed=tuple(r.index for r in regs), locked=tuple(locked),
                        container_only=tuple(i for i in container_only if i not in low_res),
                        received_size=(width, height), scale=1.0,
                        source="jpeg-coefficients (exact)" if header.scheme_id in _KEY_ONLY_SCHEMES else "jpeg-coefficients (integer)",
                        circles=tuple(dict.fromkeys(names.values())),
                        blur=tuple(blur), jpeg=b"" if low_res else exact[1], low_res=tuple(low_res),
                    )
        elif recover_clipped:
            # What the viewer shows over each region (only there: a whole 48 MP picture is seconds and GBs).
            shown = {}
            for reg in regs:
                y, x, h, w = _region_rect(header, reg.index)
                win = _window(y, y + h, x, x + w, header)
                shown[reg.index] = (win[0], win[2]), _to_rgb(planes, header, win)
            clip = shown, _clip_threshold(received, fmt)
    elif regs and scale == 1.0 and recover_clipped:
        clip = {reg.index: ((0, 0), image) for reg in regs}, _clip_threshold(None, fmt)
    revealed = [p.copy() for p in planes]
    clipped = 0
    resampling = ""
    if scale != 1.0:
        resampling, image = _reveal_resized(
            image, header, planes, regs, revealed, received_factors, _resize_prior(data, fmt), _luma_table(data, fmt),
            _chroma_table(data, fmt),
        )
    grid = _header_grid_in_regions(header, len(payload), extraction.grid) if regs and scale == 1.0 else None
    if grid is not None and header.scheme_id in _LINEAR_SCHEMES and header.color_space in ("ycbcr", "gray"):
        cells = _header_cells(header, len(payload), grid)
        for reg in regs:  # the header went over the regions (SPEC §13.5): take it out first
            _remove_header_pattern(planes[0], header, grid, reg, cells)
    chroma_q = None  # a re-encoded JPEG's own chroma tables: the chroma is estimated (MAP), not inverted
    if header.scheme_id in _LINEAR_SCHEMES and header.color_space == "ycbcr":
        if received_tables is not None:
            chroma_q = received_tables
        elif received is not None:
            chroma_q = _chroma_tables(received)
        elif fmt == "webp":
            chroma_q = [np.full((8, 8), _webp_chroma_noise(data))] * len(planes)
        elif fmt in OTHER_LOSSY_MODELS:
            chroma_q = [np.full((8, 8), OTHER_LOSSY_MODELS[fmt][2])] * len(planes)
    lattice = _find_lattice(header, planes, received if source == "jpeg-coefficients" else None) if regs and scale == 1.0 else None
    noise = None  # the received picture's noise on scramble-v5/v6/v7/v8 luma, where no lattice takes it out
    if UNMIXED_SHRINK and scale == 1.0 and lattice is None and any(isinstance(r.scramble, _MixScramble) for r in regs):
        noise = _mixed_noise(received, fmt, source, data, received_tables)
    candidates = None
    if UNMIXED_SNAP and scale == 1.0 and any(isinstance(r.scramble, _MixScramble) for r in regs):
        from .lattice import candidate_tables

        candidates = candidate_tables(header.tables, len(planes))
    # chroma the protected file kept finer than the received JPEG does (4:4:4 re-encoded 4:2:0): estimated (MAP)
    finer: dict[int, tuple[np.ndarray, tuple[int, int]]] = {}
    if CHROMA_MAP_DOWN and chroma_q is not None and scale == 1.0 and (source == "jpeg-coefficients" or fmt == "webp"):
        for ci, (hfy, hfx) in enumerate(_factors(header)):
            fy, fx = received_factors
            if 0 < ci < len(chroma_q) and fy % hfy == 0 and fx % hfx == 0 and (fy > hfy or fx > hfx):
                if source == "jpeg-coefficients":
                    finer[ci] = _subsampled_chroma(received, ci), (fy // hfy, fx // hfx)
                else:  # a lossy WebP's 4:2:0 chroma, as its decoder's triangle upsampling and our box average leave it
                    half = _box_down(planes[ci], fy // hfy, fx // hfx)
                    half = np.pad(half, ((0, -half.shape[0] % 8), (0, -half.shape[1] % 8)), mode="edge")
                    finer[ci] = deconvolve(half, tuple(JPEG_CHROMA_BLUR if f > 1 else 0.0 for f in (fy // hfy, fx // hfx))), (fy // hfy, fx // hfx)

    def one_region(reg: _Region):
        """Region `reg` revealed at the received size: ``([(component, y0, y1, x0,
        x1), revealed pixels, its scrambled samples (chroma; else None)], clipped pixels)``."""
        out, n_clipped = [], 0

        def shown_coefficients(ci: int) -> np.ndarray:  # the region's scrambled component as protected
            c = None
            if ci in finer and not intact[1]:
                half, down = finer[ci]
                along = tuple(a if f == 1 else 0.0 for a, f in zip(blur[ci][:2], down))  # the axes sampled alike
                c = _chroma_map_down(reg, ci, half, down, chroma_q[ci], along)
            elif chroma_q is not None and 0 < ci < len(chroma_q) and (blur[ci][0] > 0 or blur[ci][1] > 0):
                c = _chroma_map(reg, ci, planes[ci], blur[ci], chroma_q[ci])
            return c if c is not None else _scrambled_coefficients(planes[ci], reg.ranges[ci], blur[ci])

        coefs = [shown_coefficients(ci) for ci in range(len(planes))]
        if clip is not None:
            origin, shown_px = clip[0][reg.index]
            low, high, inside = _clip_masks(shown_px, header, reg.index, clip[1], origin)
            n_clipped = int((low | high).any(axis=-1).sum())
            coefs = _ClipProblem(reg, header, planes, coefs, blur, low, high, inside, clip[1]).solve(candidates) or coefs
        dc_steps = [None] * len(coefs)
        if lattice is not None:
            for ci, coef in enumerate(coefs):
                keep = _clipped_blocks(low | high, header, reg, ci) if clip is not None else None
                coefs[ci], ratio = snap(coef, lattice[ci], keep)
                if ratio[0, 0] < DC_SNAP_RATIO:
                    dc_steps[ci] = float(lattice[ci][0, 0])
        luma, tables = None, None
        if candidates and isinstance(reg.scramble, _MixScramble):  # unmixed once: chooses the tables, then revealed
            luma = _unscrambled_coefficients(reg, 0, coefs[0])
            tables = _unmixed_tables(luma, candidates)
        for ci, coef in enumerate(coefs):
            by0, by1, bx0, bx1 = reg.ranges[ci]
            table = tables[ci] if tables is not None else None
            if ci == 0 and luma is not None:
                back = _on_lattice(luma, dc_steps[0], table)
            else:
                back = _unscrambled_coefficients(reg, ci, coef, dc_steps[ci], table)
            if ci == 0 and table is None and noise is not None and isinstance(reg.scramble, _MixScramble):
                back = _shrink_unmixed(back, reg.scramble.gains[0], noise)  # without a table, only DC was moved
            out.append(((ci, by0 * 8, by1 * 8, bx0 * 8, bx1 * 8), _pixels(back, *reg.shape(ci)), _pixels(coef, *reg.shape(ci)) if ci > 0 else None))
        return out, n_clipped

    # The regions are independent (each reads the planes, none writes them): side by side (REVEAL_THREADS).
    shown: dict[tuple[int, int], np.ndarray] = {}  # (region, chroma component): its scrambled samples as protected
    same_size = list(regs) if scale == 1.0 else []
    for reg, (parts, n_clipped) in zip(same_size, _in_parallel([one_region] * len(same_size), [(r,) for r in same_size])):
        clipped += n_clipped
        for (ci, y0, y1, x0, x1), back, coef in parts:
            revealed[ci][y0:y1, x0:x1] = back
            if coef is not None:
                shown[reg.index, ci] = coef
    rings = _ring_shares_around(header, regs, shown, revealed, received_factors) if RING_CLEAN and scale == 1.0 and image.ndim == 3 else []
    for (wy0, _, wx0, _), shares in rings:  # the picture beside the regions, as the revealed regions' edges read it
        for k, (fy, fx) in enumerate(_factors(header)[1:]):
            down = _box_down(shares[..., k], fy, fx)
            revealed[k + 1][wy0 // fy : wy0 // fy + down.shape[0], wx0 // fx : wx0 // fx + down.shape[1]] -= down
    out = _compose(image, header, revealed, [r.index for r in regs], scale, lattice, resampling or "lanczos")
    for (wy0, wy1, wx0, wx1), shares in rings:
        part = out[wy0:wy1, wx0:wx1]
        part[...] = np.clip(np.rint(part - shares @ _YCC_TO_RGB.T[1:]), 0, 255).astype(out.dtype)
    low_res = _paste_thumbnails(out, header, keys, scale)
    report = PixelRevealReport(
        header=header,
        revealed=tuple(r.index for r in regs),
        locked=tuple(locked),
        container_only=tuple(i for i in container_only if i not in low_res),
        low_res=tuple(low_res),
        received_size=(width, height),
        scale=scale,
        source=source,
        circles=tuple(dict.fromkeys(names.values())),
        blur=tuple(blur),
        clipped=clipped,
        resampling=resampling,
    )
    return out, report


# --- the ring around a region -----------------------------------------------------------------------
#: A viewer upsamples a 4:2:0 picture's chroma with a triangle filter, so the
#: pixels just outside a region (one at 4:2:0) show a quarter of its scrambled
#: chroma samples, and a platform that re-encodes what the viewer shows keeps
#: that in its own chroma samples, which its viewer spreads over two or three
#: pixels. The region's pixels are replaced on reveal, those are not: they
#: framed each revealed region in coloured noise (retina, PNG copy: Cb / Cr
#: squared error 92 / 267 on the ring, nothing on the next pixels). With
#: RING_CLEAN, the reveal takes out of the received pixels around each region
#: what the scrambled chroma (:func:`_ring_shares`) put there less what the
#: revealed chroma would have.
RING_CLEAN = True


def _ring_shares(
    header: RobustHeader, reg: "_Region", deltas: Sequence[np.ndarray], inside: np.ndarray, window, received_factors
) -> np.ndarray:
    """What region `reg`'s chroma put on the pixels of `window` ``(y0, y1, x0,
    x1)`` outside the revealed regions (`inside`: True on their pixels, over the
    window), as a ``(h, w, 2)`` (Cb, Cr) float array: `deltas` are the region's
    chroma components (its sample planes) as protected less as revealed; a
    viewer's triangle upsampling by the protected file's factors takes them
    into the pixels outside, and a received file with its own subsampling
    `received_factors` ``(fy, fx)`` box-averages the shown pixels (the
    region's too) into its own samples, which its viewer upsamples again.
    Linear in `deltas`; zero beyond the upsampling's reach."""
    y0, y1, x0, x1 = window
    h, w = y1 - y0, x1 - x0
    out = np.zeros((h, w, len(deltas)))
    ry, rx = received_factors
    for k, (delta, (fy, fx)) in enumerate(zip(deltas, _factors(header)[1:])):
        by0, by1, bx0, bx1 = reg.ranges[k + 1]
        plane = np.zeros((-(-h // fy), -(-w // fx)))
        sy, sx = by0 * 8 - y0 // fy, bx0 * 8 - x0 // fx
        rows, cols = min(delta.shape[0], plane.shape[0] - sy), min(delta.shape[1], plane.shape[1] - sx)
        plane[sy : sy + rows, sx : sx + cols] = delta[:rows, :cols]
        up = _fancy_up(plane, fy, fx, (h, w))
        if (ry, rx) != (1, 1):
            up = _fancy_up(_box_down(up, ry, rx), ry, rx, (h, w))
        out[..., k] = np.where(inside, 0.0, up)
    return out


def _ring_shares_around(
    header: RobustHeader, regs: Sequence["_Region"], shown: dict, revealed: list[np.ndarray], received_factors: tuple[int, int],
) -> list[tuple[tuple[int, int, int, int], np.ndarray]]:
    """What each region's scrambled chroma put on the received pixels around it
    at the original size (:data:`RING_CLEAN`), as ``(window, (h, w, 2) Cb and
    Cr shares)`` per region (:func:`_ring_shares`; zero on the regions):
    `shown[(region, ci)]` the region's chroma samples as protected (estimated
    from the received picture), `revealed` the planes with the regions revealed.
    The reveal takes the shares out of the planes beside the regions (which the
    viewer's upsampling of the regions' edges reads) and out of the pixels."""
    if header.color_space != "ycbcr" or all(f == (1, 1) for f in _factors(header)[1:]):
        return []
    H, W = header.height, header.width
    rects = [_region_rect(header, reg.index) for reg in regs]
    out = []
    for reg in regs:
        if any((reg.index, ci) not in shown for ci in range(1, len(revealed))):
            continue
        deltas = []
        for ci in range(1, len(revealed)):
            by0, by1, bx0, bx1 = reg.ranges[ci]
            deltas.append(shown[reg.index, ci] - revealed[ci][by0 * 8 : by1 * 8, bx0 * 8 : bx1 * 8])
        y, x, h, w = _region_rect(header, reg.index)
        mh, mw = header.mcu
        window = (max(y - 2 * mh, 0), min(y + h + 2 * mh, H), max(x - 2 * mw, 0), min(x + w + 2 * mw, W))
        wy0, wy1, wx0, wx1 = window
        inside = np.zeros((wy1 - wy0, wx1 - wx0), dtype=bool)
        for ry, rx, rh, rw in rects:
            inside[max(ry - wy0, 0) : max(ry + rh - wy0, 0), max(rx - wx0, 0) : max(rx + rw - wx0, 0)] = True
        if inside.all():  # no pixel outside the regions within reach (a picture that is all region)
            continue
        out.append((window, _ring_shares(header, reg, deltas, inside, window, received_factors)))
    return out


# --- the protected file's lattice -------------------------------------------------------------------
#: Put a received picture's region coefficients back on the protected file's
#: lattice when it still shows (:mod:`picveil.robust.lattice`): a PNG copy or
#: a finer re-encode. Measured on 6 photos (same keys): +0.1-1.9 dB on PNG
#: copies, +0.2-2.5 dB at JPEG q95 of a q92 file; no change at q90 and below.
LATTICE_SNAP = True
#: ... and decode the result with libjpeg (:func:`_lattice_rgb`): another
#: +0.1-2.0 dB on PNG copies, none at q95.
LATTICE_DECODE = True
#: Block means are put on the DC lattice after unscrambling when the scrambled
#: DC values' noise is below this share of the step.
DC_SNAP_RATIO = 0.2


def _find_lattice(header: RobustHeader, planes: list[np.ndarray], received) -> list[np.ndarray] | None:
    """The protected file's quantization tables if the received planes still
    lie on them (:func:`picveil.robust.lattice.find_tables`), else ``None``.
    `received`: the received JPEG's coefficients when `planes` come from them."""
    if not LATTICE_SNAP or header.scheme_id not in _LINEAR_SCHEMES or header.color_space not in ("ycbcr", "gray"):
        return None
    luma = planes[0]
    hb, wb = luma.shape[0] // 8, luma.shape[1] // 8
    if hb == 0 or wb == 0:
        return None
    step = max(1, -(-hb * wb // FIT_MAX_BLOCKS))  # rows of blocks read
    blocks = np.concatenate([_blocks(luma, by, by + 1, 0, wb) for by in range(0, hb, step)])
    rtab = received.quant_table(0) if received is not None else None
    return find_tables(blocks, header.tables, len(planes), rtab)


def _clipped_blocks(mask: np.ndarray, header: RobustHeader, reg: "_Region", ci: int) -> np.ndarray:
    """``(n,)`` bool over a region's blocks of component `ci`: blocks that hold
    a clipped pixel (`mask`: ``(h, w, C)`` over the region's MCU rectangle)."""
    fy, fx = (1, 1) if header.color_space == "gray" else _factors(header)[ci]
    rows, cols = reg.shape(ci)
    m = mask.any(axis=-1) if mask.ndim == 3 else mask
    m = m[: rows * 8 * fy, : cols * 8 * fx]
    m = np.pad(m, ((0, rows * 8 * fy - m.shape[0]), (0, cols * 8 * fx - m.shape[1])))
    return m.reshape(rows, 8 * fy, cols, 8 * fx).any(axis=(1, 3)).ravel()


# --- clipping -----------------------------------------------------------------------------------------
#: RGB -> YCbCr rows without offsets (JFIF), for corrections made in RGB.
_RGB_TO_YCC = np.array(
    [[0.299, 0.587, 0.114], [-0.168735892, -0.331264108, 0.5], [0.5, -0.418687589, -0.081312411]]
)
_YCC_TO_RGB = np.linalg.inv(_RGB_TO_YCC)
#: Weights of the unscrambled components' smoothness in the clipping prior
#: (chroma is smoother than luma in photos, so its roughness costs more).
CLIP_WEIGHTS = (1.0, 4.0, 4.0)
#: Iterations of the clipping recovery, per region.
CLIP_ITERATIONS = 30
#: scramble-v5/v6/v7/v8 regions whose unmixed luma shows the original's lattice (a
#: lossless copy, a finer re-encode): after the smoothness solve, rounds of
#: (snap the unmixed region to the lattice; move the clipped values, within
#: their bounds, towards the snapped region: :meth:`_ClipProblem.solve`) and
#: iterations per round. The mixing spreads what the smoothness prior got wrong
#: in the clipped pixels over every coefficient of the region, thinly, where
#: the lattice takes most of it back. Measured on six packaged photos of
#: 0.4-1.4 MP (seventeenth session, same files and keys): lossless copy +0.14
#: to +2.4 dB (mean +1.2), JPEG q95 -0.40 to +1.32 (mean +0.50), q92 -0.30 to
#: +1.13, q85 0 to +0.52, WebP 90 -0.36 to +0.29 (leuvenA, the smallest region,
#: is the one that loses); 2 rounds of 25 gained about half as much.
CLIP_LATTICE_ROUNDS, CLIP_LATTICE_ITERATIONS = 4, 40
#: Bound on the refinement's work: luma pixels of the region times iterations in
#: all rounds. Regions up to 0.3 MP get all of them; a larger one gets
#: fewer rounds, then fewer iterations, and none under 10 (a 2 MP region, the
#: whole of a 2 MP photo: one round of 22, where all rounds took 190 s of its
#: 250 s reveal here).
CLIP_LATTICE_WORK = 48_000_000
#: Grey levels where the clipping prior turns from quadratic to linear (:func:`_charbonnier`).
#: Measured (22 packaged photos, scramble-v4): against the quadratic prior it took
#: back 1.0 dB at JPEG q95, 0.7 at q85, 0.2 at q50 and 0.1 at q30 on average, up to
#: 6.7 dB on a photo of sharp black shapes on white; 1, 2 and 4 did alike.
CLIP_EDGE = 4.0
#: How far from 0/255 a YCbCr component sample may lie and still have been clamped
#: by the viewer, at least. Not half a level even in a lossless picture: where an
#: RGB channel was clipped too, the components computed from the shown RGB miss
#: the clamped values by what that clipping took. Measured on 22 packaged photos
#: (PNG copies, scramble-v4): 12 gained up to 8.4 dB over 1 (mean 1.3 dB), and
#: lost nowhere.
COMPONENT_CLIP_THRESHOLD = 12.0
#: Formats whose pixels are exactly what the viewer showed.
#: What :func:`_decode_image` calls a lossless WebP (a ``VP8L`` picture): the
#: pixels as shown, like a PNG, unlike a lossy WebP's.
WEBP_LOSSLESS = "webp-lossless"
LOSSLESS_FORMATS = frozenset({"png", "bmp", "tiff", "gif", WEBP_LOSSLESS})
#: How far from 0/255 a possibly clipped value may lie: in a lossy non-JPEG
#: file; in a JPEG, this many times the re-encoding noise of red (rms, from
#: its luma and chroma tables), at most MAX_CLIP_THRESHOLD. Measured: a factor
#: of 3 recovers 2-7 dB more than 1 at JPEG q90-95; at q75 and below the cap holds.
LOSSY_CLIP_THRESHOLD = 12.0
JPEG_CLIP_NOISE_FACTOR = 3.0
MAX_CLIP_THRESHOLD = 16.0


def _clip_matrix(header: RobustHeader) -> np.ndarray:
    """Linear map from corrections in the displayed channels to the components."""
    if header.color_space == "gray":
        return np.ones((1, 1))
    if header.color_space == "rgb":
        return np.eye(3)
    return _RGB_TO_YCC


def _exact(data: bytes, header: RobustHeader, regs: list[_Region], image: np.ndarray, max_pixels: int) -> tuple[np.ndarray, bytes] | None:
    """scramble-v1/v3/v4 on the protected coefficients themselves (metadata stripped,
    nothing re-encoded): unscramble the integer coefficients, which gives the
    original coefficients exactly (scramble-v4: the block means within one DC
    quantization step, the nearest of their one or two candidates); the
    picture decoded and the JPEG. ``None`` if the file's layout is not the header's."""
    from picveil.jpeg.codec import read_coefficients

    co = read_coefficients(data, max_pixels=max_pixels)
    if tuple((c.h_samp, c.v_samp) for c in co.components) != header.sampling and len(co.components) > 1:
        return None
    for reg in regs:
        for ci, (by0, by1, bx0, bx1) in enumerate(reg.ranges):
            blocks = co.blocks(ci, by0, by1, bx0, bx1).reshape(-1, 8, 8)
            q = np.asarray(co.quant_table(ci), dtype=np.float64)  # the schemes work on dequantized values
            back = reg.scramble.inverse(ci, blocks * q)
            back[:, 0, 0] = reg.scramble.means(ci, back[:, 0, 0])
            back = np.clip(np.rint(back / q), -1024, 1023).astype(np.int16)
            co.set_blocks(ci, by0, bx0, back.reshape(by1 - by0, bx1 - bx0, 8, 8))
    jpeg = co.encode()
    decoded, _ = _decode_image(jpeg, max_pixels)
    return decoded, jpeg


def _intact(co, header: RobustHeader) -> tuple[bool, bool]:
    """Whether a JPEG of the original size (its coefficients `co`) still holds
    the protected file's luma and chroma coefficients (metadata stripped, nothing re-encoded):
    ``(luma, chroma)``, both ``False`` unless it has the protected quantization
    tables (the header's fingerprint, SPEC.md §13.1) and sampling.

    A version-3 header's coefficient check tells each: a platform that
    re-encodes at the very quality of the protected file (what ``picveil
    fit`` writes for it) keeps the tables but not the coefficients; a header
    written over the regions changes their luma only. A version-1 or -2
    header has no check: a file with the same tables (or a 1-in-256
    fingerprint clash) is taken to be intact, and gets the unclipped inverse,
    without the clipping and chroma-blur repairs.
    """
    from .header import coefficient_check, tables_fingerprint

    if len(co.components) != len(header.sampling):
        return False, False
    if tables_fingerprint([co.quant_table(ci) for ci in range(len(co.components))]) != header.tables:
        return False, False
    if tuple((c.h_samp, c.v_samp) for c in co.components) != header.sampling and len(co.components) > 1:
        return False, False
    if header.coef_check is None:
        return True, True
    check = coefficient_check(co, header)
    return (check >> 8) == (header.coef_check >> 8), (check & 0xFF) == (header.coef_check & 0xFF)


def _clip_threshold(co, fmt: str) -> float:
    """How far from 0 and 255 a received value may lie and still have been clipped.

    A lossless file (PNG, ...) shows clipped values exactly at 0 and 255. A
    JPEG read from its coefficients gives the re-encoded values unclipped: a
    value clipped before the re-encoding lies at 0 or 255 give or take the
    re-encoding noise, estimated from the file's luma quantization table
    (`co`, its coefficients; ``None`` for a file read as pixels).
    """
    if co is None:
        return 0.5 if fmt in LOSSLESS_FORMATS else LOSSY_CLIP_THRESHOLD
    var = [float(np.mean(co.quant_table(ci).astype(np.float64) ** 2)) / 12.0 for ci in range(len(co.components))]
    noise = math.sqrt(var[0] + (1.402**2 * var[-1] if len(var) > 1 else 0.0))  # R = Y + 1.402 Cr
    return min(max(JPEG_CLIP_NOISE_FACTOR * noise, 1.0), MAX_CLIP_THRESHOLD)


def _region_rect(header: RobustHeader, index: int) -> tuple[int, int, int, int]:
    """Region `index`'s MCU rectangle ``(y, x, h, w)`` in pixels (it may run past the picture's edge)."""
    r = header.regions[index]
    mw, mh = header.mcu
    return r.y * mh, r.x * mw, r.h * mh, r.w * mw


def _clip_masks(
    image: np.ndarray, header: RobustHeader, index: int, threshold: float, origin: tuple[int, int] = (0, 0)
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Clipped-low, clipped-high and inside-the-picture masks over region
    `index`'s MCU rectangle at full resolution, ``(h, w, C)`` / ``(h, w)``.
    `image` is the picture, or the part of it whose top-left pixel is at
    `origin` ``(y, x)``, as long as it covers the rectangle's pixels inside the picture."""
    y0, x0, h, w = _region_rect(header, index)
    y0, x0 = y0 - origin[0], x0 - origin[1]
    px = image if image.ndim == 3 else image[..., None]
    if header.color_space == "gray" and px.shape[-1] == 3:
        px = px.min(axis=-1, keepdims=True)  # a gray picture shown in colour: any channel clips it
    sub = px[y0 : y0 + h, x0 : x0 + w]
    low = np.zeros((h, w, px.shape[-1]), dtype=bool)
    high = np.zeros_like(low)
    low[: sub.shape[0], : sub.shape[1]] = (sub <= threshold) & (sub >= -threshold)
    high[: sub.shape[0], : sub.shape[1]] = (sub >= 255 - threshold) & (sub <= 255 + threshold)
    inside = np.zeros((h, w), dtype=bool)
    inside[: sub.shape[0], : sub.shape[1]] = True
    return low, high, inside


class _ClipProblem:
    """Recover a region's scrambled values that the viewer clipped to 0..255.

    Unknowns ``d``: corrections, in the displayed channels (RGB or gray) at
    full resolution over the region's blocks, of the pixels seen clipped
    (bounded: ``d <= 0`` where seen at 0, ``d >= 0`` at 255) and of the
    padding beyond the picture's edge (free: the platform replaced it by
    edge replication). The components of the scrambled region move by
    ``deconvolve(box_down(M d))``. In a YCbCr picture, each component sample
    within ``max(threshold, COMPONENT_CLIP_THRESHOLD)`` of 0 or 255 gets a
    bounded correction of its own, added to its component directly: the
    viewer clamped the components before converting them to RGB. The cost is
    the weighted edge-preserving roughness (:func:`_charbonnier`) of the
    *unscrambled* components, including the step to the received pixels
    just outside the region.
    """

    def __init__(
        self,
        reg: _Region,
        header: RobustHeader,
        planes: list[np.ndarray],
        coef0: list[np.ndarray],
        blur: Sequence[tuple[float, ...]],
        low: np.ndarray,
        high: np.ndarray,
        inside: np.ndarray,
        threshold: float = 0.0,
    ) -> None:
        self.reg, self.header, self.blur = reg, header, blur
        self.factors = _factors(header)
        self.m = _clip_matrix(header)
        self.coef0 = coef0
        self.base = [_unscrambled_pixels(reg, ci, c) for ci, c in enumerate(coef0)]
        self.rings = []
        for ci, plane in enumerate(planes):
            by0, by1, bx0, bx1 = reg.ranges[ci]
            ph, pw = plane.shape
            y0, y1, x0, x1 = by0 * 8, by1 * 8, bx0 * 8, bx1 * 8
            ring = {
                "top": plane[y0 - 1, x0:x1] if y0 > 0 else None,
                "bottom": plane[y1, x0:x1] if y1 < ph and y1 < _plane_shapes(header)[ci][0] else None,
                "left": plane[y0:y1, x0 - 1] if x0 > 0 else None,
                "right": plane[y0:y1, x1] if x1 < pw and x1 < _plane_shapes(header)[ci][1] else None,
            }
            self.rings.append(ring)
        nch = self.m.shape[1]
        shape = low.shape[:2]
        self.shape = shape
        # the unknowns are channel-first, (nch, rows, cols): the products with self.m run along contiguous planes
        lo = np.moveaxis(low.reshape(shape + (-1,))[..., :nch], -1, 0)
        hi = np.moveaxis(high.reshape(shape + (-1,))[..., :nch], -1, 0)
        pad = np.broadcast_to(~inside, (nch,) + shape)
        self.idx = np.flatnonzero(lo | hi | pad)
        lb = np.where(hi & ~pad, 0.0, -np.inf).reshape(-1)[self.idx]
        ub = np.where(lo & ~pad, 0.0, np.inf).reshape(-1)[self.idx]
        # A viewer also clamps each YCbCr component to 0..255 right after its
        # IDCT, before the colour conversion (libjpeg's range limit): a bright
        # coloured block whose luma went over 255 shows no RGB channel at 255.
        # Component samples seen at a limit get their own bounded corrections.
        self.comp_idx: list[np.ndarray] = []
        bounds = [(lb, ub)]
        for ci, plane in enumerate(planes if header.color_space == "ycbcr" else ()):
            by0, by1, bx0, bx1 = reg.ranges[ci]
            sub = plane[by0 * 8 : by1 * 8, bx0 * 8 : bx1 * 8]
            ch, cw = _plane_shapes(header)[ci][:2]
            real = np.zeros(sub.shape, dtype=bool)
            real[: max(0, ch - by0 * 8), : max(0, cw - bx0 * 8)] = True
            t = max(threshold, COMPONENT_CLIP_THRESHOLD)
            c_lo, c_hi = real & (sub <= t), real & (sub >= 255.0 - t)
            idx = np.flatnonzero(c_lo | c_hi)
            self.comp_idx.append(idx)
            bounds.append((np.where(c_hi.reshape(-1)[idx], 0.0, -np.inf), np.where(c_lo.reshape(-1)[idx], 0.0, np.inf)))
        self.n_rgb = self.idx.size
        self.lower = np.concatenate([b[0] for b in bounds])
        self.upper = np.concatenate([b[1] for b in bounds])

    def _deltas(self, x: np.ndarray) -> list[np.ndarray]:
        """The scrambled components' corrections for unknowns ``x`` (displayed
        channels first, then each component's own)."""
        d = np.zeros((self.m.shape[1],) + self.shape)
        d.reshape(-1)[self.idx] = x[: self.n_rgb]
        comps = self._components(d)
        pos = self.n_rgb
        for ci, idx in enumerate(self.comp_idx):
            comps[ci].reshape(-1)[idx] += x[pos : pos + idx.size]
            pos += idx.size
        return comps

    def _deltas_adjoint(self, grads: list[np.ndarray]) -> np.ndarray:
        parts = [self._components_adjoint(grads).reshape(-1)[self.idx]]
        parts += [grads[ci].reshape(-1)[idx] for ci, idx in enumerate(self.comp_idx)]
        return np.concatenate(parts)

    def _components(self, d: np.ndarray) -> list[np.ndarray]:
        out = []
        for ci, (fy, fx) in enumerate(self.factors):
            rows, cols = self.reg.shape(ci)
            comp = _box_down(np.tensordot(self.m[ci], d, axes=1), fy, fx)[: rows * 8, : cols * 8]
            out.append(deconvolve(comp, self.blur[ci]))
        return out

    def _components_adjoint(self, g: list[np.ndarray]) -> np.ndarray:
        fulls = []
        for ci, (fy, fx) in enumerate(self.factors):
            gc = deconvolve(g[ci], self.blur[ci])  # the blur and its inverse are symmetric
            full = np.zeros((-(-self.shape[0] // fy), -(-self.shape[1] // fx)))
            full[: gc.shape[0], : gc.shape[1]] = gc
            if (fy, fx) != (1, 1):
                full = np.repeat(np.repeat(full, fy, axis=0), fx, axis=1) / (fy * fx)
            fulls.append(full[: self.shape[0], : self.shape[1]])
        return np.tensordot(self.m.T, np.stack(fulls), axes=1)

    def _roughness(self, ci: int, u: np.ndarray) -> tuple[float, np.ndarray]:
        """Edge-preserving roughness of ``u`` and its gradient: :func:`_charbonnier`
        of every step between neighbours, and to the received pixels just outside."""
        ring = self.rings[ci]
        gx, gy = np.diff(u, axis=1), np.diff(u, axis=0)
        vx, dx = _charbonnier(gx)
        vy, dy = _charbonnier(gy)
        val = vx + vy
        grad = np.zeros_like(u)
        grad[:, 1:] += dx
        grad[:, :-1] -= dx
        grad[1:, :] += dy
        grad[:-1, :] -= dy
        for side, sl in (("top", (0, slice(None))), ("bottom", (-1, slice(None))), ("left", (slice(None), 0)), ("right", (slice(None), -1))):
            r = ring[side]
            if r is None:
                continue
            v, d = _charbonnier(u[sl] - r)
            val += v
            grad[sl] += d
        return val, grad

    def _component_cost(self, ci: int, comp: np.ndarray) -> tuple[float, np.ndarray]:
        rows, cols = self.reg.shape(ci)
        u = self.base[ci] + _unscramble_px(self.reg, ci, comp)
        val, g = self._roughness(ci, u)
        w = CLIP_WEIGHTS[min(ci, len(CLIP_WEIGHTS) - 1)]
        gcoef = self.reg.scramble.inverse_adjoint(ci, _blocks(w * g + 128.0, 0, rows, 0, cols))
        return w * val, _pixels(gcoef, rows, cols) - 128.0

    def cost(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        comps = self._deltas(x)
        parts = [self._component_cost(ci, comp) for ci, comp in enumerate(comps)]
        return sum(v for v, _ in parts), self._deltas_adjoint([g for _, g in parts])

    def _coefficients(self, x: np.ndarray) -> list[np.ndarray]:
        out = []
        for ci, comp in enumerate(self._deltas(x)):
            rows, cols = self.reg.shape(ci)
            out.append(self.coef0[ci] + _blocks(comp + 128.0, 0, rows, 0, cols))
        return out

    def _lattice_cost(self, targets: list[np.ndarray]):
        """Squared distance of the unscrambled components to `targets` (pixels), and its gradient."""

        def cost(x: np.ndarray) -> tuple[float, np.ndarray]:
            total, grads = 0.0, []
            for ci, comp in enumerate(self._deltas(x)):
                d = self.base[ci] + _unscramble_px(self.reg, ci, comp) - targets[ci]
                total += float(np.sum(d * d))
                grads.append(_unscramble_px_adjoint(self.reg, ci, 2.0 * d))
            return total, self._deltas_adjoint(grads)

        return cost

    def solve(self, candidates=None) -> list[np.ndarray] | None:
        """Corrected scrambled DCT coefficients per component, or ``None`` if nothing to do.

        `candidates`: the IJG tables with the header's fingerprint
        (:func:`picveil.robust.lattice.candidate_tables`); for a mixed region
        whose unmixed luma shows one's lattice (:func:`_unmixed_tables`), the
        smoothest values are then refined towards the lattice
        (:data:`CLIP_LATTICE_ROUNDS`)."""
        if self.lower.size == 0:
            return None
        x = _box_qp(self.cost, np.zeros(self.lower.size), self.lower, self.upper, CLIP_ITERATIONS)
        coefs = self._coefficients(x)
        if not candidates or not CLIP_LATTICE_ROUNDS or not isinstance(self.reg.scramble, _MixScramble):
            return coefs
        rounds, iterations = _lattice_schedule(64 * self.reg.shape(0)[0] * self.reg.shape(0)[1])  # blocks -> pixels
        if not rounds:
            return coefs
        tables = _unmixed_tables(_unscrambled_coefficients(self.reg, 0, coefs[0]), candidates)
        if tables is None:
            return coefs
        for _ in range(rounds):
            targets = [
                _pixels(_unscrambled_coefficients(self.reg, ci, c, table=tables[ci]), *self.reg.shape(ci))
                for ci, c in enumerate(coefs)
            ]
            x = _box_qp(self._lattice_cost(targets), x, self.lower, self.upper, iterations)
            coefs = self._coefficients(x)
        return coefs


def _lattice_schedule(pixels: int) -> tuple[int, int]:
    """``(rounds, iterations per round)`` of the lattice refinement of a region
    of `pixels` luma pixels, within :data:`CLIP_LATTICE_WORK`; ``(0, 0)`` when
    fewer than 10 iterations would be left."""
    total = min(CLIP_LATTICE_ROUNDS * CLIP_LATTICE_ITERATIONS, CLIP_LATTICE_WORK // max(1, pixels))
    if total < 10:
        return 0, 0
    rounds = min(CLIP_LATTICE_ROUNDS, max(1, total // CLIP_LATTICE_ITERATIONS))
    return rounds, min(CLIP_LATTICE_ITERATIONS, total // rounds)


def _charbonnier(g: np.ndarray, edge: float | None = None) -> tuple[float, np.ndarray]:
    """``Σ 2e(√(g² + e²) − e)`` over steps ``g`` between neighbouring pixels, and
    its derivative: ``g²`` for steps well under ``e = edge`` grey levels (default
    :data:`CLIP_EDGE`), ``2e|g|`` (linear, so a sharp edge costs far less than
    under a quadratic) well over."""
    edge = CLIP_EDGE if edge is None else edge
    s = np.sqrt(g * g + edge * edge)
    return float(2.0 * edge * np.sum(s - edge)), 2.0 * edge * g / s


def _box_qp(cost, x: np.ndarray, lower: np.ndarray, upper: np.ndarray, iterations: int, memory: int = 8) -> np.ndarray:
    """Minimise a smooth convex ``cost`` (returning value and gradient)
    under box bounds: projected L-BFGS on the free variables, backtracking
    on the projected path (an active-set method; all vector work in numpy)."""
    x = np.clip(x, lower, upper)
    f, g = cost(x)
    hist: list[tuple[np.ndarray, np.ndarray, float]] = []
    for _ in range(iterations):
        active = ((x <= lower) & (g > 0)) | ((x >= upper) & (g < 0))
        q = np.where(active, 0.0, g)
        if not q.any():
            break
        coeffs = []
        for s_k, y_k, rho in reversed(hist):
            a_k = rho * float(s_k @ q)
            coeffs.append(a_k)
            q = q - a_k * y_k
        if hist:
            s_k, y_k, _ = hist[-1]
            q = q * (float(s_k @ y_k) / float(y_k @ y_k))
        else:
            q = q / max(float(np.abs(g).max()), 1e-12)
        for (s_k, y_k, rho), a_k in zip(hist, reversed(coeffs)):
            q = q + s_k * (a_k - rho * float(y_k @ q))
        d = -np.where(active, 0.0, q)
        if float(g @ d) >= 0:
            d = -np.where(active, 0.0, g) / max(float(np.abs(g).max()), 1e-12)
            hist.clear()
        t = 1.0
        for _ in range(12):
            x_new = np.clip(x + t * d, lower, upper)
            f_new, g_new = cost(x_new)
            if f_new <= f + 1e-4 * float(g @ (x_new - x)):
                break
            t *= 0.3
        else:
            break
        s_k, y_k = x_new - x, g_new - g
        sy = float(s_k @ y_k)
        if sy > 1e-12:
            hist.append((s_k, y_k, 1.0 / sy))
            if len(hist) > memory:
                hist.pop(0)
        rel = (f - f_new) / max(abs(f), 1e-12)
        x, f, g = x_new, f_new, g_new
        if rel < 1e-6:
            break
    return x


# --- resized pictures ------------------------------------------------------------------------------
#: Weight of the smoothness prior when inverting a downscale (per original pixel,
#: relative to one received pixel's squared error), and CG iterations.
RESIZE_PRIOR = 0.3
#: The prior's weight follows the received file's noise (:func:`_resize_prior`):
#: ``RESIZE_PRIOR_FLOOR + RESIZE_PRIOR_PER_STEP * q`` for a JPEG whose luma
#: quantization steps average ``q`` over the 4x4 lowest frequencies; the floor
#: alone for a lossless file; RESIZE_PRIOR for anything else (WebP).
RESIZE_PRIOR_FLOOR, RESIZE_PRIOR_PER_STEP = 0.05, 0.03
#: Conjugate-gradient steps of the first (quadratic) pass of the downscale inverse.
RESIZE_ITERATIONS = 15
#: The prior's weight on the colour differences (Cb, Cr) relative to luma: a
#: photo's chroma is far smoother than its luma. Measured (11 packaged photos
#: over 1 MP, downscales to 1080, 800 and 640 px then JPEG q75/q85, 27 cases):
#: against 1, 16 narrowed the mean gap by 0.5-1.0 dB (saturated photos: retina
#: +3.4, ela_original +1.4 dB) and lost at most 0.14 dB; 64 and 256 lost more
#: on textured colour (scenetext05 -1.3 and -2.9 dB).
RESIZE_CHROMA_FACTOR = 16.0
#: Passes of the downscale inverse (the first quadratic, then reweighted
#: towards a Charbonnier penalty, quadratic for differences under
#: RESIZE_EDGE levels and about linear above) and the conjugate-gradient
#: steps of each reweighted pass. Chosen on 4 photos (1080 + q75, 800 + q85:
#: mean gap -5.30 -> -4.73 and -5.33 -> -4.98 dB), checked on 7 others
#: (600 + q75, 512 + q85, 600 + WebP 75): -5.01 -> -4.50, -5.72 -> -5.27,
#: -5.17 -> -4.23, one photo 0.5 dB worse (ela_original). Edges 4 and 8 did alike, 2 worse.
#: 15 + 10 + 10 steps gave the same result as 25 + 15 + 15 (4 photos) in 0.76 of the time.
RESIZE_IRLS, RESIZE_IRLS_STEPS, RESIZE_EDGE = 3, 10, 6.0
#: The viewer clipped the shown (scrambled) region to 0..255 before the platform
#: shrank it, and the shrink mixed it into the received pixels beside the region.
#: After the first solve, RESIZE_CLIP_PASSES passes each take out of the received
#: pixels what the last estimate says the clipping took, read the picture beside
#: the region without the scrambled region's share (:func:`_cleaned`), and solve
#: again from the last estimate with RESIZE_WARM_PASSES reweighted passes. With
#: RESIZE_CLEAN, the revealed picture beside the regions (what the shrunk output
#: shows there: a scrambled halo before) is the received one with the scrambled
#: region's share swapped for the revealed region's. Measured (nineteenth
#: session, same files, 1080 + q75): scenetext02 -2.29 -> -1.30 dB, retina -3.66
#: -> -2.79, aloeL -1.29 -> -1.05 (the reveal 2.3x as long with 2 and 2 passes,
#: 1.7x with 2 and 1, the same result); the squared error of the three received
#: pixels around a region from 260-510 to 50-80 against 2-10 unprotected.
#: Since the passes also model the resizer's own clipping (RESIZE_OUTPUT_CLIP,
#: twenty-seventh session), which each pass reads better from a better
#: estimate, a third pass pays: same files, fresh keys, shrinks to 1200 and
#: 1080 px (PNG, q85, q75), 2 -> 3 passes: scenetext02 +0.19 to +0.30 dB,
#: aloeL +0.12 to +0.25, retina +0.10 to +0.31, scenetext05 +0.04 to +0.08,
#: the reveal 5-25 % longer (a fourth: another +0.02 to +0.21, not taken).
RESIZE_CLIP_PASSES, RESIZE_WARM_PASSES, RESIZE_CLEAN = 3, 1, True
#: Weigh the downscale inverse's fit to a received JPEG's luma by the inverse
#: of its quantization noise per DCT frequency of the received blocks
#: (:meth:`_ResizeProblem._weigh`: a generalised least squares), and multiply
#: the smoothness weight of every component's fit to a received JPEG by
#: RESIZE_NOISE_PRIOR (the weighed fit no longer leans on the high frequencies
#: the re-encoder all but dropped, and needs less smoothing). Measured
#: (twenty-first session, paired on the same files and keys: scenetext02,
#: scenetext05, retina, aloeL and the 4 MP mosaic, 1080 px by Pillow's
#: Lanczos and bicubic and OpenCV's INTER_AREA, then q75 or q85, and the
#: mosaic at 2048 + q75; 22 cases): the gap +0.38 dB on average, lettering
#: +0.5 to +1.2 (scenetext02 and 05), retina -0.23 to -0.29 and the mosaic at
#: 1080 + q85 -0.18 and -0.30 (smooth or fine content, which a stronger prior
#: suits). The weights alone with the luma's prior halved: scenetext02 alike,
#: scenetext05 +0.1 to +0.2 (its coloured lettering gains from the weaker
#: chroma prior), retina unchanged. Priors x0.25: retina -0.6.
RESIZE_NOISE_WEIGHTS = True
RESIZE_NOISE_PRIOR = 0.5
#: Weigh the chroma's fit too, by the received JPEG's chroma table, after the
#: received file's own subsampling (its 2x2 average for a 4:2:0 file).
#: Measured on top of the above (same session, paired, 10 cases: scenetext02,
#: scenetext05 and retina at 1080 px by Lanczos + q75 and bicubic + q85, aloeL
#: and the 4 MP mosaic at 1080 + q75 and q85): +0.26 dB on average, 9 of 10
#: better (scenetext05 +1.03 and +0.32, the mosaic +0.39 and +0.18; retina
#: +0.22 and -0.17). With the chroma's prior left as strong as before: +0.26 too.
RESIZE_CHROMA_WEIGHTS = True
#: Lanczos support (lobes) of the resampling the platforms are modelled with.
LANCZOS_A = 3.0


def _lanczos(x: np.ndarray) -> np.ndarray:
    out = np.sinc(x) * np.sinc(x / LANCZOS_A)
    out[np.abs(x) >= LANCZOS_A] = 0.0
    return out


def _bicubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution with a = -0.5 (Pillow's, libvips', ImageMagick's Catrom)."""
    a, x = -0.5, np.abs(x)
    near = ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    far = (((x - 5.0) * x + 8.0) * x - 4.0) * a
    return np.where(x < 1.0, near, np.where(x < 2.0, far, 0.0))


def _triangle(x: np.ndarray) -> np.ndarray:
    return np.clip(1.0 - np.abs(x), 0.0, None)


def _box(x: np.ndarray) -> np.ndarray:
    return ((x > -0.5) & (x <= 0.5)).astype(np.float64)


#: Resampling filters a platform may shrink with: ``name: (filter, support)``,
#: each stretched by the scale as an antialiasing resizer does (Pillow,
#: libvips, ImageMagick), but ``linear``. ``area`` is the exact area average
#: (OpenCV's INTER_AREA); ``box`` is Pillow's box filter sampled at pixel centres.
RESAMPLING_KERNELS = {
    "lanczos": (_lanczos, LANCZOS_A),
    "bicubic": (_bicubic, 2.0),
    "bilinear": (_triangle, 1.0),
    "box": (_box, 0.5),
    "area": (None, 0.5),
    "linear": (_triangle, 1.0),  # not stretched: OpenCV's INTER_LINEAR, which does not antialias
    "nearest": (_box, 0.5),  # not stretched: input pixel floor((i + 0.5) * scale), Pillow's NEAREST
}
#: The kernels above that are not stretched by the scale (no antialiasing).
_POINT_KERNELS = ("linear", "nearest")
#: The kernels a reveal after a downscale chooses from: read from the
#: scramble-v5/v6/v7/v8 regions' spectrum where they allow it (:func:`_spectral_kernel`),
#: else by cross-validation (:func:`_reveal_resized`): the model is fitted to the received pixels but a
#: random :data:`KERNEL_HELD_OUT` share of them, on the luma of the smallest
#: regions that hold :data:`KERNEL_RECEIVED` received pixels together
#: (:func:`_validation_regions`), and the kernel that predicts the held-out
#: pixels best is taken. Measured with fixed keys on 5 photos (0.8-12 MP)
#: shrunk by Pillow's bilinear or OpenCV's INTER_AREA and re-encoded: the
#: Lanczos model's gap -5.97 dB, the chosen kernel's -5.10 (up to 3.9 dB on
#: one photo); on Lanczos shrinks no loss (the choice is sometimes bicubic or
#: bilinear where those predict better, and then the reveal is better too).
#: "linear" (a naive, not antialiased shrink such as OpenCV's INTER_LINEAR) was
#: added after those runs: on 4 photos shrunk that way (800 px, q85) the gap
#: went from -5.20 to -4.94 dB (one photo +0.9), the Lanczos shrinks of the same photos unchanged.
#: scramble-v5/v6/v7/v8's downscale inverse runs this many times the iterations (its problem
#: converges more slowly, even preconditioned), and its cross-validation of the
#: filter KERNEL_CV_MIX_FACTOR times (with the usual count it took bilinear and
#: box shrinks for Lanczos). The reveal's solves had 4 until the twentieth
#: session; paired on the same files (scenetext02, retina and the 4 MP mosaic,
#: Lanczos to 1080 px + q75 and bicubic + q85), 2 gave the same regions (within
#: 0.01 dB) in 60 % of the time.
RESIZE_MIX_FACTOR = 2
KERNEL_CV_MIX_FACTOR = 4
RESIZE_KERNELS = ("lanczos", "bicubic", "bilinear", "box", "area", "linear", "nearest")
KERNEL_HELD_OUT = 0.5
KERNEL_RECEIVED = 16384
#: The smoothness weight grows with the scale ``s`` (received over original
#: size) as ``s ** RESIZE_PRIOR_POWER``: a stronger shrink leaves fewer
#: received pixels per unknown, and the prior must fill in more. Was 2; 1 was
#: better by 0.25 dB on average over 33 fixed-key cases (11 photos, 1080 and
#: 600 px, Lanczos and bilinear shrinks; up to +1.6 dB on a strong shrink,
#: -0.6 on one photo). The kernel is still cross-validated with the power
#: KERNEL_CV_POWER: the stronger prior blurs the differences between kernels
#: (with 1 there, bilinear shrinks were taken for bicubic on 4 of 11 photos).
RESIZE_PRIOR_POWER = 1.0
KERNEL_CV_POWER = 2.0
#: The smoothness weight times this for a shrink with the kernel. A
#: nearest-neighbour shrink keeps single scrambled pixels and drops whole rows
#: and columns between them: nothing averaged the scrambled region's fine
#: detail away first, so it comes back as aliasing that the inverse must lean
#: on the prior to explain. Measured (twentieth session, same files: scenetext02
#: and retina with the benchmark's boxes, Pillow's NEAREST to 1080 px then
#: lossless, q85, and to 720 px then q75), gap against x 1: x 3 +1.6 dB on
#: scenetext02 at q85, +0.2 on retina, -0.05 to +0.1 at 720 px; x 10 was best on
#: a lossless copy (+3.3 and +0.1) and lost at q85 and 720 px (-0.1 to -2.1).
KERNEL_PRIOR_FACTORS = {"nearest": 3.0}
#: Where other kernels fit the spectrum within KERNEL_TWIN_RATIO times as well
#: as the best, the energy's pattern across rows and columns decides among
#: them (:func:`_profile_fits`). Kernels can keep the same energy per frequency
#: while they take other input pixels (at a slight shrink Pillow's box averages
#: one or two input pixels where NEAREST takes one; at an integer factor OpenCV's
#: INTER_LINEAR takes the very pixels NEAREST takes), and the spectral fit of
#: the true kernel moves with the key draw (the viewer's clipping of the
#: scrambled region, the gain codes' dither): the 4 MP mosaic shrunk to 1080 px
#: by Lanczos then q75 read as box in 3 of 17 key draws. Measured: twentieth
#: session (box, INTER_LINEAR and NEAREST only), retina shrunk to 1080 px by
#: NEAREST then q85, spectral fits box 0.0085 and nearest 0.0087, profiles
#: 0.77 / 0.60, the true one the highest in all 7 cases tried; twenty-first
#: session (every kernel), the 4 MP mosaic, scenetext02, scenetext05 and retina,
#: three key draws each, shrunk to 1080 or 800 px by Lanczos, bicubic,
#: bilinear, INTER_AREA, box and NEAREST then q75 or q85 (108 reads): the
#: platform's filter read in 107 against 101 by the spectrum with the box /
#: INTER_LINEAR / NEAREST tie-break alone (its misreads: Lanczos as box or
#: bicubic, bicubic and INTER_AREA as INTER_LINEAR or bilinear). Lanczos and box
#: are far apart in profile (0.70-0.80 against 0.40-0.54), Lanczos and bicubic
#: close (by 0.01-0.02, the true one higher in 13 of 14).
KERNEL_TWIN_RATIO = 2.0



def _resample_matrix(n_in: int, n_out: int, kernel: str = "lanczos", span: tuple[float, float] | None = None):
    """``(n_out, n_in)`` sparse matrix of an antialiased resampling along one
    axis with one of :data:`RESAMPLING_KERNELS` (Pillow's arithmetic: weights
    taken at the input pixels' centres, normalised to sum 1); `span`
    ``(lo, hi)``: the part of the input resampled (Pillow's ``box``), else all."""
    import scipy.sparse as sp

    func, support = RESAMPLING_KERNELS[kernel]
    lo_in, hi_in = span if span is not None else (0.0, float(n_in))
    scale = (hi_in - lo_in) / n_out
    if kernel == "nearest":
        # Pillow steps through the input in doubles, adding the scale once per
        # output pixel; its sums decide the ties that (i + 0.5) * scale would not
        taken = np.floor(np.cumsum(np.r_[lo_in + 0.5 * scale, np.full(n_out - 1, scale)])).astype(np.int64)
        taken = np.clip(taken, 0, n_in - 1)
        return sp.csr_matrix((np.ones(n_out), (np.arange(n_out), taken)), shape=(n_out, n_in))
    fscale = 1.0 if kernel in _POINT_KERNELS else max(scale, 1.0)
    support = support * fscale
    i = np.arange(n_out, dtype=np.float64)[:, None]
    center = lo_in + (i + 0.5) * scale
    lo = np.maximum((center - support + 0.5).astype(np.int64) - 1, 0)
    hi = np.minimum((center + support + 0.5).astype(np.int64) + 1, n_in)
    x = lo + np.arange(int((hi - lo).max(initial=1)))[None, :]  # (n_out, widest window)
    if func is None:  # the share of each input pixel [x, x + 1) inside the output pixel's span
        a = lo_in + i * scale
        w = np.clip(np.minimum(x + 1.0, a + scale) - np.maximum(x, a), 0.0, None)
    else:
        w = func((x - center + 0.5) / fscale)
    w = np.where(x < hi, w, 0.0)
    total = w.sum(axis=1, keepdims=True)
    w = np.divide(w, total, out=w, where=total != 0)
    rows, cols = np.nonzero(w)
    vals = w[rows, cols]
    cols = x[rows, cols]
    return sp.csr_matrix((vals, (rows, cols)), shape=(n_out, n_in))


def _upsample_matrix(n_in: int, factor: int, n_out: int):
    """``(n_out, n_in)`` sparse matrix of a viewer's upsampling along one axis:
    identity, libjpeg's triangle filter for 2, replication for more."""
    import scipy.sparse as sp

    if factor == 1:
        return sp.identity(n_in, format="csr")[:n_out]
    rows, cols, vals = [], [], []
    if factor == 2:
        for j in range(n_in):
            for k, nb in ((0, max(j - 1, 0)), (1, min(j + 1, n_in - 1))):
                if 2 * j + k < n_out:
                    rows += [2 * j + k, 2 * j + k]
                    cols += [j, nb]
                    vals += [0.75, 0.25]
    else:
        rows = list(range(min(n_out, n_in * factor)))
        cols = [i // factor for i in rows]
        vals = [1.0] * len(rows)
    return sp.csr_matrix((vals, (rows, cols)), shape=(n_out, n_in))


class _ResizeProblem:
    """Invert a downscale of a scrambled region by least squares.

    The received component is modelled as ``Ay · P · Axᵀ``: the protected
    plane ``P`` on the original grid, upsampled as a viewer does (chroma) and
    resized with an antialiased Lanczos filter. Inside the region
    ``P = scramble(u)``; the unscrambled region ``u`` minimises the squared
    error to the received pixels plus a smoothness prior on ``u`` (conjugate
    gradients from the plain unscrambled estimate; stronger on chroma,
    :data:`RESIZE_CHROMA_FACTOR`; reweighted towards an edge-preserving
    penalty, :data:`RESIZE_IRLS`). Outside, ``P`` is the received picture
    resized up, held fixed.
    """

    def __init__(
        self, reg: _Region, ci: int, plane: np.ndarray, received, ay, ax, scale: float, chroma: bool = False,
        prior: float = RESIZE_PRIOR, power: float | None = None, table: np.ndarray | None = None,
        subsampled: tuple[int, int] = (1, 1),
    ) -> None:
        """`received(rows, cols)`: the received component at those rows and columns;
        `chroma`: the component is a colour difference (Cb, Cr), whose prior is stronger;
        `prior`: the smoothness weight for the received file's noise (:func:`_resize_prior`);
        `table`: the ``(8, 8)`` quantization steps (natural order) of the received
        JPEG's blocks of this component on the received grid, which weigh the fit
        (:meth:`_weigh`); None: every received pixel weighs alike; `subsampled`:
        the received file's own subsampling ``(fy, fx)`` of this component (its
        blocks span ``8 fy`` received rows and ``8 fx`` columns)."""
        self.reg, self.ci = reg, ci
        by0, by1, bx0, bx1 = reg.ranges[ci]
        y0, y1, x0, x1 = by0 * 8, by1 * 8, bx0 * 8, bx1 * 8
        ay_reg, ax_reg = ay[:, y0:y1], ax[:, x0:x1]
        self.rows = np.unique(ay_reg.nonzero()[0])
        self.cols = np.unique(ax_reg.nonzero()[0])
        self.noise = None
        if table is not None:
            # whole received blocks, so that the fit can be weighed per DCT frequency
            by, bx = 8 * subsampled[0], 8 * subsampled[1]
            r0, c0 = int(self.rows[0]) // by * by, int(self.cols[0]) // bx * bx
            self.rows = np.arange(r0, min(-(-(int(self.rows[-1]) + 1) // by) * by, ay.shape[0]))
            self.cols = np.arange(c0, min(-(-(int(self.cols[-1]) + 1) // bx) * bx, ax.shape[0]))
            var = np.asarray(table, dtype=np.float64).reshape(8, 8) ** 2 / 12.0 + PIXEL_ROUNDING_RMS**2
            self.noise = float(var[:4, :4].mean()) / var
            self.subsampled = subsampled
        self.ay = ay_reg[self.rows].tocsr()
        self.ax = ax_reg[self.cols].tocsr()
        self.ay_t, self.ax_t = self.ay.T.tocsr(), self.ax.T.tocsr()
        # What the pixels around the region add to the received rows and columns it
        # reaches, from the plane's rows and columns that those reach (not the whole plane).
        ay_rows, ax_cols = ay[self.rows], ax[self.cols]
        py = np.unique(ay_rows.nonzero()[1])
        px = np.unique(ax_cols.nonzero()[1])
        outside = plane[np.ix_(py, px)].copy()
        iy = (py >= y0) & (py < y1)
        ix = (px >= x0) & (px < x1)
        outside[np.ix_(iy, ix)] = 128.0  # the region enters level-shifted (u, x are pixels - 128)
        base = (ay_rows[:, py] @ outside) @ ax_cols[:, px].T.toarray()
        self.target = received(self.rows, self.cols) - base
        self.shape = (y1 - y0, x1 - x0)
        self.weight = prior * scale ** (power if power is not None else RESIZE_PRIOR_POWER) * (RESIZE_CHROMA_FACTOR if chroma else 1.0)
        self.precond = self._preconditioner() if isinstance(reg.scramble, _MixScramble) else None

    def _preconditioner(self) -> np.ndarray:
        """``(8, 8)`` diagonal of the normal operator in block-DCT coordinates, for
        scramble-v5/v6/v7/v8: its gains span orders of magnitude, and plain conjugate
        gradients stall on them. Per frequency ``(u, v)``: ``g² κ_u κ_v + w λ``,
        ``κ`` the share of a block-DCT pattern with random signs per block (what
        the mixing makes of any content) that the resize keeps, ``λ`` the
        smoothness prior's eigenvalue, ``g`` the region's gain at that frequency."""
        rng = np.random.default_rng(0)

        def kept(a: np.ndarray) -> np.ndarray:
            n = a.shape[1]
            nb = n // 8
            out = np.empty(8)
            for u in range(8):
                basis = _D8[u]
                x = (rng.choice((-1.0, 1.0), size=(4, nb))[:, :, None] * basis).reshape(4, nb * 8)
                out[u] = float(np.mean(np.sum((x @ a.T) ** 2, axis=1) / np.sum(x * x, axis=1)))
            return out

        ky, kx = kept(self.ay.toarray()), kept(self.ax.toarray())
        k = np.arange(8)
        lam = (2.0 - 2.0 * np.cos(np.pi * k / 8.0))
        lam2 = lam[:, None] + lam[None, :]
        g = self.reg.scramble.gains[self.ci].reshape(8, 8)
        return g * g * np.outer(ky, kx) + self.weight * lam2 + 1e-6

    def _apply_precond(self, r: np.ndarray) -> np.ndarray:
        rows, cols = self.shape[0] // 8, self.shape[1] // 8
        coef = _blocks(r + 128.0, 0, rows, 0, cols) / self.precond
        return _pixels(coef, rows, cols) - 128.0

    def _scramble(self, u: np.ndarray) -> np.ndarray:
        return _scramble_px(self.reg, self.ci, u)

    def _resize(self, x: np.ndarray) -> np.ndarray:
        """``Ay · x · Axᵀ`` (the sparse resize matrices: a few taps per row)."""
        return np.asarray(self.ax @ np.asarray(self.ay @ x).T).T

    def _resize_adjoint(self, r: np.ndarray) -> np.ndarray:
        """``Ayᵀ · r · Ax``."""
        return np.asarray(self.ax_t @ np.asarray(self.ay_t @ r).T).T

    def _scramble_adjoint(self, x: np.ndarray) -> np.ndarray:
        return _scramble_px_adjoint(self.reg, self.ci, x)

    wx = wy = None  # robust weights of the differences (None: quadratic)
    mask = None  # 1.0 on the received pixels the fit reads (None: all of them)
    subsampled = (1, 1)  # the received file's own subsampling of the component (with `noise`)

    def _weigh(self, r: np.ndarray) -> np.ndarray:
        """``Dᵀ N D r``: received pixels `r` (whole blocks from the received grid's
        block edges, the last ones cut at the picture's edge) weighed by the
        inverse of the received JPEG's quantization noise per DCT frequency
        (``q² / 12`` and the pixels' rounding), relative to its mean over the 4x4
        lowest frequencies: a re-encoder keeps the low frequencies that a
        shrink leaves almost exactly and the high ones barely."""
        fy, fx = self.subsampled
        h, w = r.shape
        hp, wp = -(-h // (8 * fy)) * 8 * fy, -(-w // (8 * fx)) * 8 * fx
        pad = np.zeros((hp, wp))
        pad[:h, :w] = r
        if (fy, fx) != (1, 1):  # the encoder's box average (times fy fx: the received pixels' share), and its adjoint after
            pad = pad.reshape(hp // fy, fy, wp // fx, fx).sum(axis=(1, 3)) / math.sqrt(fy * fx)
        sh, sw = pad.shape
        b = _D8 @ pad.reshape(sh // 8, 8, sw // 8, 8).transpose(0, 2, 1, 3) @ _D8.T
        out = (_D8.T @ (b * self.noise) @ _D8).transpose(0, 2, 1, 3).reshape(sh, sw)
        if (fy, fx) != (1, 1):
            out = np.repeat(np.repeat(out, fy, axis=0), fx, axis=1) / math.sqrt(fy * fx)
        return out[:h, :w]

    def _normal(self, u: np.ndarray) -> np.ndarray:
        """``(SᵀAᵀMAS + w LᵀWL) u``."""
        x = self._scramble(u)
        r = self._resize(x)
        if self.mask is not None:
            r = r * self.mask
        elif self.noise is not None:
            r = self._weigh(r)
        back = self._scramble_adjoint(self._resize_adjoint(r))
        lap = np.zeros_like(u)
        gx, gy = np.diff(u, axis=1), np.diff(u, axis=0)
        if self.wx is not None:
            gx, gy = gx * self.wx, gy * self.wy
        lap[:, 1:] += gx
        lap[:, :-1] -= gx
        lap[1:, :] += gy
        lap[:-1, :] -= gy
        return back + self.weight * lap

    def solve(self, u0: np.ndarray, passes: int | None = None, warm: bool = False, mix_factor: int | None = None) -> np.ndarray:
        """The unscrambled region (pixels, not level-shifted back: ``u + 128``);
        `passes`: the quadratic one, then the reweighted ones (:data:`RESIZE_IRLS` in all);
        `warm`: `u0` is already a solution of a nearby problem, and the quadratic pass is left out;
        `mix_factor`: the iterations' multiple for a mixed region (default :data:`RESIZE_MIX_FACTOR`)."""
        passes = RESIZE_IRLS if passes is None else passes
        mix_factor = RESIZE_MIX_FACTOR if mix_factor is None else mix_factor
        u = u0 - 128.0
        self.wx = self.wy = None
        target = self.target * self.mask if self.mask is not None else self._weigh(self.target) if self.noise is not None else self.target
        rhs = self._scramble_adjoint(self._resize_adjoint(target))
        for irls in range(1 if warm else 0, passes):
            if irls:
                self.wx = 1.0 / np.sqrt(1.0 + (np.diff(u, axis=1) / RESIZE_EDGE) ** 2)
                self.wy = 1.0 / np.sqrt(1.0 + (np.diff(u, axis=0) / RESIZE_EDGE) ** 2)
            r = rhs - self._normal(u)
            z = r if self.precond is None else self._apply_precond(r)
            p = z.copy()
            rr = float(np.sum(r * z))
            steps = RESIZE_ITERATIONS if not irls else RESIZE_IRLS_STEPS
            for _ in range(steps * (mix_factor if self.precond is not None else 1)):
                ap = self._normal(p)
                denom = float(np.sum(p * ap))
                if denom <= 0 or rr <= 1e-12:
                    break
                alpha = rr / denom
                u += alpha * p
                r -= alpha * ap
                z = r if self.precond is None else self._apply_precond(r)
                rr_new = float(np.sum(r * z))
                p = z + (rr_new / rr) * p
                rr = rr_new
        return u + 128.0

    def held_out_error(self, u0: np.ndarray, share: float = KERNEL_HELD_OUT) -> tuple[float, int]:
        """Cross-validation of the model: the squared error summed over a
        random `share` of the received pixels (seeded: a reveal is repeatable)
        that the fit (the quadratic pass) left out, and their number."""
        keep = np.random.default_rng(0).random(self.target.shape) >= share
        self.mask = keep.astype(np.float64)
        try:
            u = self.solve(u0, passes=1, mix_factor=KERNEL_CV_MIX_FACTOR) - 128.0
        finally:
            self.mask = None
        res = (self._resize(self._scramble(u)) - self.target)[~keep]
        return float(np.sum(res**2)), int(res.size)


def _resize_prior(data: bytes | None, fmt: str) -> float:
    """The smoothness weight for inverting a downscale, from the received file's
    noise: the JPEG re-encoding noise that the inverse amplifies grows with the
    quantization steps of the low frequencies (those a downscale keeps), and a
    lossless copy has none. Measured on a retina photo and 3 mosaics at 1080 px:
    the best constant weight was 0.1 at q95 and for a PNG, 0.1-0.3 at q85, 0.3 at
    q75, 0.3-1.0 at q50; this rule follows that line. Other files (WebP, a
    turned picture): :data:`RESIZE_PRIOR`."""
    if fmt in LOSSLESS_FORMATS:
        return RESIZE_PRIOR_FLOOR
    table = _luma_table(data, fmt)
    if table is None:
        return RESIZE_PRIOR
    return RESIZE_PRIOR_FLOOR + RESIZE_PRIOR_PER_STEP * float(table[:4, :4].mean())


def _luma_table(data: bytes | None, fmt: str) -> np.ndarray | None:
    """The received JPEG's ``(8, 8)`` luma quantization table (natural order), or
    None for another format or a file whose tables cannot be read."""
    return _quant_table(data, fmt, 0)


def _chroma_table(data: bytes | None, fmt: str) -> np.ndarray | None:
    """As :func:`_luma_table`, the table of the chroma (Cb; None for a gray JPEG)."""
    return _quant_table(data, fmt, 1)


def _quant_table(data: bytes | None, fmt: str, index: int) -> np.ndarray | None:
    """The received JPEG's quantization table `index` (natural order), or None."""
    if fmt != "jpeg" or data is None:
        return None
    from PIL import Image

    try:  # the header's tables only (no coefficient is decoded), natural order
        with Image.open(io.BytesIO(data)) as im:
            return np.asarray(im.quantization[index], dtype=np.float64).reshape(8, 8)
    except Exception:  # noqa: BLE001 - only a model input; the picture was decoded already
        return None


def _ijg_table(table: np.ndarray) -> bool:
    """Whether an ``(8, 8)`` luma quantization table (natural order) is libjpeg's
    for some quality (Pillow, OpenCV, libjpeg-turbo and most software write these)."""
    from picveil.platforms.quality import ijg_quant_table

    table = np.asarray(table, dtype=np.float64).reshape(8, 8)
    return any(np.array_equal(table, ijg_quant_table(q)) for q in range(1, 101))


def _box_down_matrix(n: int, factor: int):
    """``(ceil(n / factor), n)`` sparse matrix of an encoder's chroma
    downsampling along one axis: the mean of each `factor` samples (the last
    group padded by replicating the edge sample, as libjpeg does)."""
    import scipy.sparse as sp

    m = -(-n // factor)
    rows, cols, vals = [], [], []
    for i in range(m):
        for k in range(factor):
            rows.append(i)
            cols.append(min(i * factor + k, n - 1))
            vals.append(1.0 / factor)
    return sp.csr_matrix((vals, (rows, cols)), shape=(m, n))


def _resubsample_matrix(n: int, factor: int):
    """``(n, n)`` sparse matrix of what a received file with chroma subsampled by
    `factor` along this axis did to a chroma row of `n` samples: the encoder's
    box average, then the decoder's upsampling back (identity for 1)."""
    import scipy.sparse as sp

    if factor == 1:
        return sp.identity(n, format="csr")
    down = _box_down_matrix(n, factor)
    return (_upsample_matrix(down.shape[0], factor, n) @ down).tocsr()


def _reveal_resized(
    image: np.ndarray,
    header: RobustHeader,
    planes: list[np.ndarray],
    regs: list[_Region],
    revealed: list[np.ndarray],
    received_factors: tuple[int, int] = (1, 1),
    prior: float = RESIZE_PRIOR,
    luma_table: np.ndarray | None = None,
    chroma_table: np.ndarray | None = None,
) -> tuple[str, np.ndarray]:
    """Replace the regions of `revealed` by the least-squares inverse of the
    downscale (in place, and the picture beside them: :data:`RESIZE_CLEAN`);
    returns the resampling kernel it modelled the downscale with (``""`` when
    there was no region to invert) and the received `image` with the regions'
    scrambled share of the pixels beside them swapped for the revealed
    regions' (:func:`_cleaned`; `image` itself without RESIZE_CLEAN). The kernel
    is the one of :data:`RESIZE_KERNELS` whose spectrum the scramble-v5/v6/v7/v8
    regions show (:func:`_spectral_kernel`, `luma_table`: the received JPEG's
    ``(8, 8)`` luma quantization table, natural order, None for other files);
    where that does not decide, the one that predicts received pixels left
    out of the fit best (:meth:`_ResizeProblem.held_out_error`).

    `prior`: the smoothness prior's weight (:func:`_resize_prior`).

    With `luma_table` (and `chroma_table`, the received JPEG's chroma table),
    the fits are weighed by the received file's quantization noise and their
    prior is :data:`RESIZE_NOISE_PRIOR` times as strong
    (:data:`RESIZE_NOISE_WEIGHTS`, :meth:`_ResizeProblem._weigh`).

    `received_factors` ``(fy, fx)``: the chroma subsampling of the received
    file itself (a 4:2:0 JPEG or a lossy WebP: ``(2, 2)``); its chroma went
    through that box average and the decoder's upsampling after the resize,
    and the model includes both."""
    height, width = image.shape[:2]
    scale = (width + height) / (header.width + header.height)

    def received(ci: int, rows: np.ndarray, cols: np.ndarray, source: np.ndarray | None = None) -> np.ndarray:
        """Component `ci` of the received picture (or `source`, the same with
        other regions' shares swapped) at `rows` x `cols` (converted there only)."""
        r0, c0 = int(rows.min()), int(cols.min())
        px = (image if source is None else source)[r0 : int(rows.max()) + 1, c0 : int(cols.max()) + 1].astype(np.float64)
        if header.color_space == "gray":
            comp = px if px.ndim == 2 else rgb_to_ycbcr(px)[..., 0]
        else:
            rgb = px if px.ndim == 3 else np.repeat(px[..., None], 3, axis=-1)
            comp = (rgb if header.color_space == "rgb" else rgb_to_ycbcr(rgb))[..., ci]
        return comp[np.ix_(rows - r0, cols - c0)]

    resample: dict[str, tuple] = {}  # kernel: (rows, columns) of the original grid to the received one
    matrices: dict[tuple[str, int], tuple] = {}  # (kernel, component): the component's model

    full: dict[tuple[str, int], tuple] = {}  # (kernel, component): the full-resolution grid to the received component

    def full_res(kernel: str, ci: int):
        """The resize from the full-resolution grid to the received component `ci`
        (for chroma, with the received file's own subsampling)."""
        if (kernel, ci) not in full:
            if kernel not in resample:
                resample[kernel] = (_resample_matrix(header.height, height, kernel), _resample_matrix(header.width, width, kernel))
            ry, rx = resample[kernel]
            if ci > 0 and header.color_space == "ycbcr":
                ry = (_resubsample_matrix(height, received_factors[0]) @ ry).tocsr()
                rx = (_resubsample_matrix(width, received_factors[1]) @ rx).tocsr()
            full[kernel, ci] = ry, rx
        return full[kernel, ci]

    def problem(
        reg: _Region, ci: int, kernel: str, power: float | None = None, plane: np.ndarray | None = None, weighed: bool = True,
        source: np.ndarray | None = None,
    ) -> _ResizeProblem:
        if (kernel, ci) not in matrices:
            ry, rx = full_res(kernel, ci)
            (fy, fx), (ph, pw) = _factors(header)[ci], planes[ci].shape
            matrices[kernel, ci] = (
                (ry @ _upsample_matrix(ph, fy, header.height)).tocsr(),
                (rx @ _upsample_matrix(pw, fx, header.width)).tocsr(),
            )
        ay, ax = matrices[kernel, ci]
        weighed = weighed and luma_table is not None and RESIZE_NOISE_WEIGHTS
        return _ResizeProblem(
            reg, ci, planes[ci] if plane is None else plane, lambda rows, cols: received(ci, rows, cols, source), ay, ax, scale,
            chroma=ci > 0 and header.color_space == "ycbcr", power=power,
            prior=prior * KERNEL_PRIOR_FACTORS.get(kernel, 1.0) * (RESIZE_NOISE_PRIOR if weighed else 1.0),
            table=(luma_table if ci == 0 else chroma_table if RESIZE_CHROMA_WEIGHTS else None) if weighed and header.color_space != "rgb" else None,
            subsampled=received_factors if ci > 0 else (1, 1),
        )

    plains: dict[tuple[int, int], np.ndarray] = {}

    def plain(reg: _Region, ci: int) -> np.ndarray:
        """The plain unscrambled estimate the solver starts from (once per region and component)."""
        if (reg.index, ci) not in plains:
            rows, cols = reg.shape(ci)
            coef = reg.scramble.inverse(ci, _scrambled_coefficients(planes[ci], reg.ranges[ci], 0.0))
            plains[reg.index, ci] = _pixels(coef, rows, cols)
        return plains[reg.index, ci]

    def validated(candidates) -> str:
        """The kernel of `candidates` that predicts received pixels left out of the fit best."""
        sample = _validation_regions(regs, scale)
        errors = {}
        for k in candidates:
            sse, n = np.sum([problem(reg, 0, k, KERNEL_CV_POWER, weighed=False).held_out_error(plain(reg, 0)) for reg in sample], axis=0)
            errors[k] = sse / max(n, 1)
        return min(candidates, key=lambda k: errors[k])

    kernel = RESIZE_KERNELS[0]
    spectral = _spectral_kernel(image, header, regs, luma_table) if len(RESIZE_KERNELS) > 1 else None
    if spectral is not None:
        kernel = spectral
    elif len(RESIZE_KERNELS) > 1 and regs:
        kernel = validated(RESIZE_KERNELS)
    windows = _resize_windows(header, regs, scale)
    solved: dict[tuple[int, int], np.ndarray] = {}
    firsts = [(reg, ci, problem(reg, ci, kernel)) for ci in range(len(planes)) for reg in regs]
    starts = [plain(reg, ci) for reg, ci, _ in firsts]
    for (reg, ci, _), u in zip(firsts, _in_parallel([p.solve for _, _, p in firsts], [(u,) for u in starts])):
        solved[reg.index, ci] = u
    cleaned = image
    for _ in range(RESIZE_CLIP_PASSES if regs else 0):
        # The viewer showed the scrambled region clipped to 0..255 before the platform
        # shrank it, and the received pixels beside the region hold some of it: each
        # pass solves again with what the last estimate says the clipping took out
        # of the received pixels, and with the picture beside the region read from
        # the received one without the scrambled region's share (:func:`_cleaned`).
        cleaned = _cleaned(image, header, planes, regs, solved, resample[kernel], received_factors)
        beside = [_pad_to_blocks(p, hb, wb) for p, (_, _, hb, wb) in zip(_pixel_planes(cleaned, header, windows), _plane_shapes(header))]
        again = []
        for reg in regs:
            (y0, y1, x0, x1), shown = _region_rgb(header, beside, reg, _shown_values(reg, solved, len(planes)))
            taken = (np.clip(shown, 0.0, 255.0) - shown) @ _clip_matrix(header).T
            # the picture beside the region is now read without the other regions' scrambled
            # shares: so must the received pixels it is fitted to be (else a neighbouring
            # region's scrambled share is fitted with its revealed one: worse each pass)
            near = [r for r in regs if r is not reg and _regions_meet(header, r, reg, RESIZE_NEAR_PX / scale)]
            source = _cleaned(image, header, planes, near, solved, resample[kernel], received_factors) if near and RESIZE_NEIGHBOURS else None
            resizer = (  # only filters with negative lobes overshoot a clipped picture
                _resizer_clipping(header, beside, (y0, y1, x0, x1), np.clip(shown, 0.0, 255.0), resample[kernel], received_factors)
                if RESIZE_OUTPUT_CLIP and kernel in _OVERSHOOTING else None
            )
            for ci in range(len(planes)):
                p = problem(reg, ci, kernel, plane=beside[ci], source=source)
                ry, rx = full_res(kernel, ci)
                p.target = p.target - (ry[p.rows][:, y0:y1] @ taken[..., ci]) @ rx[p.cols][:, x0:x1].T.toarray()
                if resizer is not None:
                    p.target = p.target - _window_values(resizer[ci], p.rows, p.cols)
                again.append((reg, ci, p))
        warm = [(solved[reg.index, ci], 1 + RESIZE_WARM_PASSES, True) for reg, ci, _ in again]
        for (reg, ci, _), u in zip(again, _in_parallel([p.solve for _, _, p in again], warm)):
            solved[reg.index, ci] = u
    if RESIZE_CLEAN and regs:
        # what is shown beside the regions: the received picture without their scrambled share
        cleaned = _cleaned(image, header, planes, regs, solved, resample[kernel], received_factors)
        for ci, p in enumerate(_pixel_planes(cleaned, header, windows)):
            (fy, fx) = _factors(header)[ci] if header.color_space != "gray" else (1, 1)
            for y0, y1, x0, x1 in windows:  # only the windows were converted
                part = (slice(y0 // fy, -(-y1 // fy)), slice(x0 // fx, -(-x1 // fx)))
                revealed[ci][part] = p[part]
    for ci in range(len(planes)):
        for reg in regs:
            by0, by1, bx0, bx1 = reg.ranges[ci]
            revealed[ci][by0 * 8 : by1 * 8, bx0 * 8 : bx1 * 8] = _map_means(reg, ci, solved[reg.index, ci])
    return (kernel if regs else ""), cleaned


def _resizer_clipping(
    header: RobustHeader, beside: list[np.ndarray], rect: tuple[int, int, int, int], shown: np.ndarray, resample,
    received_factors: tuple[int, int],
) -> list[tuple[int, int, np.ndarray]] | None:
    """What the platform's resizer clipped off the received pixels around a
    region, by the current estimate, per component: ``(row0, col0, values)``
    on the received grid (values to subtract from the linear model's target),
    or None where nothing was clipped.

    A resizer writes 8-bit pixels: where its filter overshoots (Lanczos and
    bicubic ring next to the shown region's clipped, noise-like pixels) it
    clips to 0..255, which the linear model ``A · shown`` does not know. The
    shown picture around `rect` (``y0, y1, x0, x1``, original pixels) is read
    from `beside` (component planes on the original grid) with `shown` (the
    region's displayed channels, as the viewer clipped them) in place; its
    resize by `resample` (``(rows, columns)`` matrices, original grid to the
    received one) is clipped as a resizer clips, channel by channel, and the
    difference taken to the components (and through the received file's own
    chroma subsampling `received_factors`). With it the model's residual inside
    the regions at a slight Lanczos shrink fell from 1.19 to 0.48 grey levels
    rms (scenetext02 at 1264 px; 0.29 is the 8-bit rounding), and the fit then
    reads a clipped pixel as "at least 255" instead of "255". Pillow also clips
    between its horizontal and vertical passes (0.48 -> 0.29); that is left out,
    as other resizers do not."""
    ry_all, rx_all = resample
    y0, y1, x0, x1 = rect
    rows = np.unique(ry_all[:, y0:y1].nonzero()[0])
    cols = np.unique(rx_all[:, x0:x1].nonzero()[0])
    if not rows.size or not cols.size:
        return None
    r0, r1, c0, c1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    ry, rx = ry_all[r0:r1], rx_all[c0:c1]
    py, px = np.unique(ry.nonzero()[1]), np.unique(rx.nonzero()[1])
    mcu = 16  # _to_rgb's windows start on a multiple of 16; they hold the region too (a point kernel may skip its edge)
    wy0, wy1 = min(int(py[0]), y0) // mcu * mcu, max(int(py[-1]) + 1, y1)
    wx0, wx1 = min(int(px[0]), x0) // mcu * mcu, max(int(px[-1]) + 1, x1)
    picture = np.array(_to_rgb(beside, header, (wy0, wy1, wx0, wx1)), dtype=np.float64)
    if picture.ndim == 2:
        picture = picture[..., None]
    picture[y0 - wy0 : y1 - wy0, x0 - wx0 : x1 - wx0] = shown.reshape(y1 - y0, x1 - x0, -1)
    ay, ax = ry[:, wy0:wy1].tocsr(), rx[:, wx0:wx1].tocsr()
    linear = np.stack([np.asarray(ax @ np.asarray(ay @ picture[..., c]).T).T for c in range(picture.shape[2])], axis=-1)
    cut = np.clip(linear, 0.0, 255.0) - linear
    if not cut.any():
        return None
    comps = cut @ _clip_matrix(header).T
    out = []
    for ci in range(comps.shape[2]):
        fy, fx = received_factors if ci > 0 and header.color_space == "ycbcr" else (1, 1)
        v, a0, b0 = comps[..., ci], r0, c0
        if (fy, fx) != (1, 1):  # the received file's chroma: box-averaged by its encoder, upsampled by its decoder
            height, width = ry_all.shape[0], rx_all.shape[0]
            a0, a1 = max(r0 - r0 % fy - fy, 0), min(r1 + 2 * fy, height)
            b0, b1 = max(c0 - c0 % fx - fx, 0), min(c1 + 2 * fx, width)
            sy = _resubsample_matrix(height, fy)[a0:a1][:, r0:r1]
            sx = _resubsample_matrix(width, fx)[b0:b1][:, c0:c1]
            v = np.asarray(sx @ np.asarray(sy @ v).T).T
        out.append((a0, b0, v))
    return out


def _window_values(window: tuple[int, int, np.ndarray], rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """The values of ``window = (row0, col0, values)`` at `rows` x `cols` (0 outside it)."""
    r0, c0, v = window
    iy, ix = rows - r0, cols - c0
    okay, okx = (iy >= 0) & (iy < v.shape[0]), (ix >= 0) & (ix < v.shape[1])
    out = np.zeros((len(rows), len(cols)))
    out[np.ix_(okay, okx)] = v[np.ix_(iy[okay], ix[okx])]
    return out


#: Model the platform resizer's own clipping in the downscale inverse's clip
#: passes (:func:`_resizer_clipping`), for the filters that can overshoot (a
#: box, triangle, area or nearest filter averages or picks: never beyond 0..255).
RESIZE_OUTPUT_CLIP = True
_OVERSHOOTING = ("lanczos", "bicubic")


#: In the downscale inverse's clip passes, a region's fit reads the received
#: pixels with the scrambled shares of the regions within this many original
#: pixels (divided by the scale) swapped, as it reads the picture beside it.
RESIZE_NEAR_PX, RESIZE_NEIGHBOURS = 16.0, True


def _regions_meet(header: RobustHeader, a: _Region, b: _Region, margin: float) -> bool:
    """Whether region `a`'s rectangle, grown by `margin` pixels, meets region `b`'s."""
    ay, ax, ah, aw = _region_rect(header, a.index)
    by, bx, bh, bw = _region_rect(header, b.index)
    return ay - margin < by + bh and by < ay + ah + margin and ax - margin < bx + bw and bx < ax + aw + margin


#: Threads that reveal the regions of a picture at its protected size side by
#: side, and solve the downscale inverse's problems (one per region and
#: component): NumPy's and SciPy's heavy steps (the block DCTs, the mixing's
#: transforms, the sparse products) run outside the interpreter lock. The
#: results do not depend on it.
REVEAL_THREADS = min(os.cpu_count() or 1, 8)


def _in_parallel(calls: list, args: list[tuple]) -> list:
    """``[call(*a) for call, a in zip(calls, args)]``, on up to :data:`REVEAL_THREADS` threads."""
    if REVEAL_THREADS <= 1 or len(calls) <= 1:
        return [call(*a) for call, a in zip(calls, args)]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(REVEAL_THREADS, len(calls))) as pool:
        return list(pool.map(lambda job: job[0](*job[1]), zip(calls, args)))


def _shown_values(reg: _Region, solved: dict, n: int) -> list[np.ndarray]:
    """The region's `n` components as a viewer got them (scrambled), from the
    estimate `solved` (``u + 128`` per ``(region, component)``)."""
    return [_scramble_px(reg, ci, solved[reg.index, ci] - 128.0) + 128.0 for ci in range(n)]


def _region_rgb(header: RobustHeader, planes: list[np.ndarray], reg: _Region, values: list[np.ndarray], ring: bool = False):
    """The displayed channels (RGB, or one for gray; float, not clipped) of the
    region's full-resolution window with `values` (one array per component, the
    region's blocks) in place of the region in `planes`: ``((y0, y1, x0, x1),
    (y1 - y0, x1 - x0, channels))``. Chroma is upsampled as a viewer does,
    reading the planes one sample around the region. With `ring`, the window
    also holds the pixels outside the region that the upsampling gives a share
    of it (one at a factor 2)."""
    factors = _factors(header)
    by0, by1, bx0, bx1 = reg.ranges[0]
    fy0, fx0 = factors[0]
    y0, y1 = by0 * 8 * fy0, min(by1 * 8 * fy0, header.height)
    x0, x1 = bx0 * 8 * fx0, min(bx1 * 8 * fx0, header.width)
    if ring:
        ry = 1 if any(f[0] == 2 for f in factors[1:]) else 0
        rx = 1 if any(f[1] == 2 for f in factors[1:]) else 0
        y0, y1, x0, x1 = max(y0 - ry, 0), min(y1 + ry, header.height), max(x0 - rx, 0), min(x1 + rx, header.width)
    comps = []
    for ci, plane in enumerate(planes):
        (fy, fx), (cy0, cy1, cx0, cx1) = factors[ci], reg.ranges[ci]
        py0, py1 = max(cy0 * 8 - 1, 0), min(cy1 * 8 + 1, plane.shape[0])
        px0, px1 = max(cx0 * 8 - 1, 0), min(cx1 * 8 + 1, plane.shape[1])
        local = plane[py0:py1, px0:px1].copy()
        local[cy0 * 8 - py0 : cy1 * 8 - py0, cx0 * 8 - px0 : cx1 * 8 - px0] = values[ci]
        uy = _upsample_matrix(plane.shape[0], fy, header.height)[y0:y1][:, py0:py1]
        ux = _upsample_matrix(plane.shape[1], fx, header.width)[x0:x1][:, px0:px1]
        comps.append((uy @ local) @ ux.T.toarray())
    offsets = np.array([0.0, 128.0, 128.0]) if header.color_space == "ycbcr" else np.zeros(len(planes))
    return (y0, y1, x0, x1), (np.stack(comps, axis=-1) - offsets) @ np.linalg.inv(_clip_matrix(header)).T


def _cleaned(
    image: np.ndarray, header: RobustHeader, planes: list[np.ndarray], regs: list[_Region], solved: dict, resample,
    received_factors: tuple[int, int] = (1, 1),
) -> np.ndarray:
    """The received picture with each region's shown (scrambled, clipped) share of
    the received pixels swapped for the revealed region's, through the
    platform's resize `resample` ``(rows, columns)``: around a region, where the
    resize mixed it with the picture beside it, what is left is that picture.
    With :data:`RING_CLEAN`, the share counts the pixels just outside the
    region that the viewer's chroma upsampling gave part of it, and, in a
    received file with its own chroma subsampling `received_factors`, goes
    through that file's box average and its viewer's triangle upsampling (as
    :func:`_ring_shares` at the original size). A copy (``uint8``); unchanged
    beyond the resize's reach, and only the windows that reach holds are
    converted to float."""
    ry, rx = resample
    out = image.copy()
    H, W = image.shape[:2]
    fy, fx = received_factors if RING_CLEAN and image.ndim == 3 and header.color_space == "ycbcr" else (1, 1)
    for reg in regs:
        win, shown = _region_rgb(header, planes, reg, _shown_values(reg, solved, len(planes)), ring=RING_CLEAN)
        _, rev = _region_rgb(
            header, planes, reg, [_map_means(reg, ci, solved[reg.index, ci]) for ci in range(len(planes))], ring=RING_CLEAN
        )
        y0, y1, x0, x1 = win
        diff = np.clip(rev, 0.0, 255.0) - np.clip(shown, 0.0, 255.0)
        ay, ax = ry[:, y0:y1], rx[:, x0:x1]
        rows, cols = np.unique(ay.nonzero()[0]), np.unique(ax.nonzero()[0])
        if not rows.size or not cols.size:
            continue
        ay, ax = ay[rows], ax[cols].T.toarray()
        r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1  # contiguous: a filter's reach
        channels = image.shape[-1] if image.ndim == 3 else 1
        delta = np.stack([(ay @ diff[..., min(c, diff.shape[-1] - 1)]) @ ax for c in range(channels)], axis=-1)
        if (fy, fx) != (1, 1):
            # the received file's chroma: its own samples (whole ones, from its grid) spread again by its viewer
            e0, e1 = max(r0 - 2 * fy, 0) // fy * fy, min(r1 + 2 * fy, H)
            g0, g1 = max(c0 - 2 * fx, 0) // fx * fx, min(c1 + 2 * fx, W)
            grown = np.zeros((e1 - e0, g1 - g0, channels))
            grown[r0 - e0 : r1 - e0, c0 - g0 : c1 - g0] = delta
            ycc = grown @ _RGB_TO_YCC.T
            for c in (1, 2):
                ycc[..., c] = _fancy_up(_box_down(ycc[..., c], fy, fx), fy, fx, ycc.shape[:2])
            delta, (r0, r1, c0, c1) = ycc @ _YCC_TO_RGB.T, (e0, e1, g0, g1)
        part = out[r0:r1, c0:c1].astype(np.float64)
        part += delta if part.ndim == 3 else delta[..., 0]
        out[r0:r1, c0:c1] = np.clip(np.rint(part), 0, 255).astype(np.uint8)
    return out


#: Identifying the downscale's kernel from the scrambled regions' spectrum
#: (:func:`_spectral_kernel`): received 8x8 blocks at least this many received
#: pixels inside a region's edges (beyond every kernel's reach, so that only the
#: region's own pixels enter them), at least this many blocks in all, random
#: fields per kernel, and the largest mean squared log ratio between the
#: observed and predicted energies that counts as a fit (above it the model
#: does not hold: a filter or an encoder it does not know; and the
#: cross-validation decides). Measured (benchmarks/bench_resize_kernel.py,
#: docs/robust/resize-kernel.md: 11 photos of 0.4-2 MP shrunk to 1080 or 640 px
#: with Pillow's Lanczos, bicubic and bilinear filters and OpenCV's INTER_AREA
#: and INTER_LINEAR, then JPEG q75/q85, WebP 75 or mozjpeg q75 (left to the
#: cross-validation, :func:`_spectral_kernel`), the same files revealed both
#: ways): the platform's filter named in 57 of 88 cases against 44 by the
#: cross-validation alone (which took bilinear for most Lanczos shrinks of
#: mixed regions), the gap +0.06 dB on average (Lanczos + q85 +0.25, best
#: +1.04, worst -0.46), and the reveal in 13 s instead of 18.
KERNEL_SPECTRUM_MARGIN = 4
KERNEL_SPECTRUM_BLOCKS = 64
KERNEL_SPECTRUM_FIELDS = 4
KERNEL_SPECTRUM_FIT = 0.05
#: Share of the log ratios' mean that the fit takes out. What the received
#: region shows is the prediction times a factor common to all frequencies (the
#: viewer clipped part of the shown region, the header's pattern may lie over
#: it, the gain codes' dither), which is not the filter's; but how much energy
#: the shrink kept in all is, in part. Measured (nineteenth session, paired on
#: the same files: mosaic 4 MP, retina, aloeL, scenetext02 and scenetext05 with
#: the benchmark's boxes, three key draws each, shrunk to 1080 or 2048 px by
#: Pillow's Lanczos then q75, and to 1080 px by its bicubic or OpenCV's
#: INTER_AREA then q85; 48 cases): the true filter read in 31 cases with none of
#: the mean taken out, 44 with half, 41 with all of it. Lanczos shrinks were
#: read as bicubic or box, INTER_AREA as bilinear.
KERNEL_SPECTRUM_LEVEL_SHARE = 0.5
#: The fit threshold grows by this over the number of blocks read (the
#: energies' sampling noise: about 2 / blocks per frequency, observed and predicted).
KERNEL_SPECTRUM_NOISE = 4.0
#: The frequencies compared: predicted energy above this many squared received
#: steps (below, the rounding model decides too much of the energy).
KERNEL_SPECTRUM_MIN_ENERGY = 1.0


def _quantized_energy(var: np.ndarray, step: np.ndarray) -> np.ndarray:
    """``E[(q · round(X / q))²]`` for ``X ~ N(0, var)`` and step ``q`` (elementwise):
    the energy a zero-mean Gaussian coefficient keeps through a quantizer that
    rounds to the nearest step (libjpeg's; a lossless file: step 1)."""
    from scipy.special import ndtr

    sigma = np.sqrt(np.maximum(var, 1e-12))[..., None]
    q = np.asarray(step, dtype=np.float64)[..., None]
    top = int(np.ceil(float(np.max(8.0 * sigma / q)))) + 2
    k = np.arange(1, top + 1, dtype=np.float64)
    p = ndtr((k + 0.5) * q / sigma) - ndtr((k - 0.5) * q / sigma)
    return np.sum(2.0 * (k * q) ** 2 * p, axis=-1)


def _spectral_kernel(
    image: np.ndarray, header: RobustHeader, regs: list[_Region], luma_table: np.ndarray | None = None
) -> str | None:
    """The resampling kernel of a downscale, read from the spectrum of the
    scramble-v5/v6/v7/v8 regions (the best of :func:`_spectral_fits`; of those
    within :data:`KERNEL_TWIN_RATIO` of it, the best of :func:`_profile_fits`), or None
    where there are too few of their blocks or no kernel fits
    (:data:`KERNEL_SPECTRUM_FIT`), or a JPEG whose luma table is not one of
    libjpeg's (:func:`_ijg_table`): the fits model libjpeg's rounding, and an
    encoder with its own tables may quantize otherwise (mozjpeg, whose tables
    differ, also trellis-quantizes: it zeroes more than rounding would, and
    the filter that fits best was then bicubic or Lanczos for Lanczos shrinks
    whose reveal came out 0.4-0.8 dB below the cross-validation's bilinear;
    fifteenth session, bench_resize_kernel.py)."""
    if luma_table is not None and not _ijg_table(luma_table):
        return None
    fits, blocks = _spectral_fits(image, header, regs, luma_table)
    if not fits:
        return None
    best = min(fits, key=fits.get)
    if fits[best] > KERNEL_SPECTRUM_FIT + KERNEL_SPECTRUM_NOISE / blocks:
        return None
    near = [k for k in fits if fits[k] <= KERNEL_TWIN_RATIO * fits[best]]
    if len(near) > 1:
        profiles = _profile_fits(image, header, regs, near)
        best = max(near, key=lambda k: np.nan_to_num(profiles.get(k, -1.0), nan=-1.0))  # a flat profile: no correlation
    return best


def _spectral_fits(
    image: np.ndarray, header: RobustHeader, regs: list[_Region], luma_table: np.ndarray | None = None
) -> tuple[dict[str, float], int]:
    """How well each of :data:`RESIZE_KERNELS` explains the spectrum of the
    scramble-v5/v6/v7/v8 regions of a shrunk picture: ``{kernel: mean squared
    log ratio}`` (0 is a perfect fit; empty where there are fewer than
    :data:`KERNEL_SPECTRUM_BLOCKS` of their blocks), and the number of
    received blocks read.

    A mixed region is a random field whose statistics are public and carry
    nothing of the region: independent 8x8 blocks whose DCT coefficient at
    frequency ``f`` has the energy ``T_f²`` (the scheme's target; the gains
    and the mixing put it there whatever the region held), rounded to the
    protected file's steps. So the energy per frequency that the received
    picture's own 8x8 blocks show inside the region is predictable for each
    candidate kernel: the kernel applied to random fields of those
    statistics, then the received JPEG's rounding to its luma steps
    (:func:`_quantized_energy`). The kernel whose prediction
    matches best (mean squared log ratio over the frequencies whose predicted
    energy is above the step's rounding noise, block means left out, less a
    share of its mean: :data:`KERNEL_SPECTRUM_LEVEL_SHARE`) is the platform's.
    Unlike :meth:`_ResizeProblem.held_out_error`, this does not depend on how
    well a smoothness prior models the region.
    """
    cases = _mixed_cases(image, header, regs)
    if not cases:
        return {}, 0
    height, width = image.shape[:2]
    px = image.astype(np.float64)
    luma = px if px.ndim == 2 else rgb_to_ycbcr(px)[..., 0]
    step = np.ones((8, 8)) if luma_table is None else np.asarray(luma_table, dtype=np.float64).reshape(8, 8)
    blocks = sum((r1 - r0) * (c1 - c0) // 64 for _, _, (r0, r1), (c0, c1) in cases)
    if blocks < KERNEL_SPECTRUM_BLOCKS:
        return {}, blocks

    def energy(plane: np.ndarray) -> np.ndarray:
        """Summed squared DCT coefficients of `plane`'s 8x8 blocks (the level shift only moves DC, which is not compared)."""
        return np.sum(_blocks(plane, 0, plane.shape[0] // 8, 0, plane.shape[1] // 8) ** 2, axis=0)

    observed = sum(energy(luma[r0:r1, c0:c1]) for _, _, (r0, r1), (c0, c1) in cases) / blocks
    fields = _mixed_fields(header, cases)
    fits = {}
    for k in RESIZE_KERNELS:
        ay_all = _resample_matrix(header.height, height, k)
        ax_all = _resample_matrix(header.width, width, k)
        predicted = np.zeros((8, 8))
        for (reg, (y0, y1, x0, x1), (r0, r1), (c0, c1)), f in zip(cases, fields):
            ay = ay_all[r0:r1, y0:y1].toarray()
            ax = ax_all[c0:c1, x0:x1].toarray()
            predicted += sum(energy(ay @ one @ ax.T) for one in f) / KERNEL_SPECTRUM_FIELDS
        predicted /= blocks
        ok = predicted > KERNEL_SPECTRUM_MIN_ENERGY * step * step
        ok[0, 0] = False
        if ok.sum() < 8:
            continue
        ratio = np.log(np.maximum(observed[ok], 1e-9) / np.maximum(_quantized_energy(predicted, step)[ok], 1e-9))
        ratio = ratio - KERNEL_SPECTRUM_LEVEL_SHARE * np.mean(ratio)
        fits[k] = float(np.mean(ratio * ratio))
    return fits, blocks


def _mixed_cases(image: np.ndarray, header: RobustHeader, regs: list[_Region]) -> list[tuple]:
    """The scramble-v5/v6/v7/v8 regions whose received interior the filter read
    looks at: ``(region, (y0, y1, x0, x1) on the original grid, (r0, r1) and
    (c0, c1) received rows and columns)``, the received span cut to whole 8x8
    blocks :data:`KERNEL_SPECTRUM_MARGIN` pixels inside the region's edges;
    empty for an RGB header."""
    if header.color_space == "rgb":
        return []
    height, width = image.shape[:2]
    sy, sx = height / header.height, width / header.width
    m = KERNEL_SPECTRUM_MARGIN
    cases = []
    for reg in regs:
        if not isinstance(reg.scramble, _MixScramble):
            continue
        by0, by1, bx0, bx1 = reg.ranges[0]
        y0, y1, x0, x1 = by0 * 8, min(by1 * 8, header.height), bx0 * 8, min(bx1 * 8, header.width)
        ry0, ry1 = -(-(math.ceil(y0 * sy) + m) // 8), (int(y1 * sy) - m) // 8
        rx0, rx1 = -(-(math.ceil(x0 * sx) + m) // 8), (int(x1 * sx) - m) // 8
        if ry1 > ry0 and rx1 > rx0:
            cases.append((reg, (y0, y1, x0, x1), (ry0 * 8, ry1 * 8), (rx0 * 8, rx1 * 8)))
    return cases


def _mixed_fields(header: RobustHeader, cases: list[tuple]) -> list[list[np.ndarray]]:
    """:data:`KERNEL_SPECTRUM_FIELDS` random fields per case of :func:`_mixed_cases`
    with a mixed region's public statistics (luma, level-shifted pixels of the
    region's rectangle on the original grid): independent 8x8 blocks whose DCT
    coefficient at frequency ``f`` is Gaussian with rms ``T_f`` (the scheme's
    target), rounded to the protected file's luma steps where the header's
    fingerprint names one IJG table. The same fields for the same cases."""
    from picveil.schemes import get_scheme
    from picveil.schemes import scramble_v5 as v5

    from .lattice import candidate_tables

    # the protected file's own rounding of the fields (its luma table, when the
    # header's fingerprint names one IJG quality): its steps at the highest
    # frequencies are about the target's rms, and rounding takes energy there
    found = candidate_tables(header.tables, 1 if header.color_space == "gray" else 3) if header.tables else []
    source = found[0][1][0] if len(found) == 1 else None
    rng = np.random.default_rng(0)
    fields = []
    for reg, (y0, y1, x0, x1), _, _ in cases:
        codec = get_scheme(reg.scramble.scheme_id).codec
        t = np.asarray(getattr(codec, "target", v5.target)(0), dtype=np.float64).reshape(8, 8)
        nby, nbx = -(-(y1 - y0) // 8), -(-(x1 - x0) // 8)
        coef = rng.standard_normal((KERNEL_SPECTRUM_FIELDS, nby * nbx, 8, 8)) * t
        if source is not None:
            coef = np.round(coef / source) * source
        fields.append([_pixels(c, nby, nbx)[: y1 - y0, : x1 - x0] - 128.0 for c in coef])
    return fields


def _profile_fits(image: np.ndarray, header: RobustHeader, regs: list[_Region], kernels) -> dict[str, float]:
    """How well each of `kernels` explains how the received mixed regions'
    energy varies from row to row and column to column: ``{kernel: mean of the
    rows' and the columns' correlation}`` between the received interior's mean
    squared luma (its mean taken out) per row and per column and each kernel's
    prediction from the random fields of :func:`_mixed_fields` (1 is a
    perfect fit). Where two kernels keep the same energy per frequency (Pillow's
    box at a slight shrink averages one or two input pixels; NEAREST takes one),
    this tells them apart: averaging two pixels lowers the energy of the rows
    and columns where the shrink does it, on a pattern the kernel fixes."""
    cases = _mixed_cases(image, header, regs)
    if not cases:
        return {}
    height, width = image.shape[:2]
    px = image.astype(np.float64)
    luma = px if px.ndim == 2 else rgb_to_ycbcr(px)[..., 0]
    observed_rows, observed_cols = [], []
    for _, _, (r0, r1), (c0, c1) in cases:
        part = luma[r0:r1, c0:c1]
        part = (part - part.mean()) ** 2
        observed_rows.append(part.mean(axis=1))
        observed_cols.append(part.mean(axis=0))
    observed_rows, observed_cols = np.concatenate(observed_rows), np.concatenate(observed_cols)
    fields = _mixed_fields(header, cases)
    fits = {}
    for k in kernels:
        ay_all = _resample_matrix(header.height, height, k)
        ax_all = _resample_matrix(header.width, width, k)
        rows, cols = [], []
        for (_, (y0, y1, x0, x1), (r0, r1), (c0, c1)), f in zip(cases, fields):
            ay = ay_all[r0:r1, y0:y1].toarray()
            ax = ax_all[c0:c1, x0:x1].toarray()
            e = np.mean([(ay @ one @ ax.T) ** 2 for one in f], axis=0)
            rows.append(e.mean(axis=1))
            cols.append(e.mean(axis=0))
        fits[k] = 0.5 * (float(np.corrcoef(observed_rows, np.concatenate(rows))[0, 1]) + float(np.corrcoef(observed_cols, np.concatenate(cols))[0, 1]))
    return fits


def _validation_regions(regs: list[_Region], scale: float) -> list[_Region]:
    """The regions whose luma cross-validates the downscale model: the
    smallest that hold :data:`KERNEL_RECEIVED` received pixels together
    (all, if they hold fewer)."""
    chosen, total = [], 0.0
    for reg in sorted(regs, key=lambda r: r.shape(0)[0] * r.shape(0)[1]):
        if total >= KERNEL_RECEIVED:
            break
        chosen.append(reg)
        total += reg.shape(0)[0] * reg.shape(0)[1] * 64 * scale * scale
    return chosen


def _map_means(reg: _Region, ci: int, px: np.ndarray) -> np.ndarray:
    """scramble-v2: map the (equalised) block means of unscrambled pixels back
    through the header's knots; scramble-v5/v6/v7/v8: add the region's mean back;
    scramble-v1/v3/v4: unchanged."""
    if reg.scramble.scheme_id != 2 and not isinstance(reg.scramble, _MixScramble):
        return px
    rows, cols = reg.shape(ci)
    coef = _blocks(px, 0, rows, 0, cols)
    coef[:, 0, 0] = reg.scramble.means(ci, coef[:, 0, 0])
    return _pixels(coef, rows, cols)

