"""Reveal from decoded pixels: after metadata stripping, recompression, WebP, PNG or resizing.

When a platform has stripped picveil's container, the robust in-image header
(SPEC.md §13) still says where the regions are, which circle opens them and
how the image was sampled. :func:`reveal_pixels` reads it, derives the region
keys from the revealer's keyring, and inverts the scramble on the block DCT of
the *received* pixels, mapped back onto the protected image's 8×8 grid:

1. decode the received file; extract and parse the header;
2. open the key groups with the keyring's circles (circle id + key check);
3. measure the scale (received size against the header's), and map the
   picture back to the original grid: a JPEG of the original size is read
   from its coefficients (YCbCr planes, unclipped, chroma at its own
   resolution); anything else is converted to YCbCr (resized up to the
   original size first if the platform shrank it), chroma box-averaged to
   the original sampling;
4. undo the platform's blur of the scrambled planes (decoder upsampling then
   encoder downsampling of chroma, WebP's filters): a separable 3-tap blur is
   fitted per component by minimising the seams of the unscrambled region,
   and inverted with a Wiener-regularised filter (:func:`deconvolve`);
5. recover what the viewer's clipping to 0..255 took away (:func:`recover_clipping`):
   a scrambled block is noise-like and leaves the RGB gamut far more often than
   a photo does; pixels seen at 0 or 255 are only bounds, and the values that
   make the unscrambled region smoothest within those bounds are found by
   L-BFGS-B (same size only);
6. invert the scheme in floating point (scramble-v1: signs and permutation;
   scramble-v2: also the block means, through the header's quantile knots);
7. back to RGB; if the image was shrunk, resize the revealed region to the
   received size and clean the block seams; paste into the received picture.

Pure numpy/scipy on arrays; the keys come from :mod:`picveil.crypto` objects.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from picveil.errors import (
    CircleNotFoundError,
    CorruptImageError,
    ImageTooLargeError,
    NotAnImageError,
    NotRecipientError,
    UnsupportedVersionError,
)
from picveil.jpeg.pixels import blocks_to_plane, rgb_to_ycbcr, ycbcr_to_rgb

from .errors import HeaderDamagedError
from .header import RobustHeader

__all__ = [
    "OUTPUT_QUALITY",
    "PixelRevealReport",
    "deconvolve",
    "encode_output",
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
WIENER_NU = 0.01
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
        Regions whose look can only be undone with the container (not scramble).
    received_size : (int, int)
        Width and height of the received picture (also of the output).
    scale : float
        Received size over original size (1.0: not resized).
    source : str
        ``"jpeg-coefficients"`` (planes read from the JPEG's DCT) or ``"pixels"``.
    circles : tuple of str
        Names (in this keyring) of the circles that opened regions.
    blur : tuple of float
        Fitted per-component blur parameter ``a`` of ``[a, 1 - 2a, a]`` (see :func:`deconvolve`).
    clipped : int
        Received pixels found clipped inside the regions and re-estimated.
    """

    header: RobustHeader
    revealed: tuple[int, ...]
    locked: tuple[int, ...]
    container_only: tuple[int, ...]
    received_size: tuple[int, int]
    scale: float
    source: str
    circles: tuple[str, ...] = ()
    blur: tuple[float, ...] = ()
    clipped: int = 0
    warnings: tuple[str, ...] = field(default=())


# --- decoding ------------------------------------------------------------------------------------
def _decode_image(data: bytes, max_pixels: int) -> tuple[np.ndarray, str]:
    """Decode any image Pillow reads into ``uint8`` ``(H, W, 3)`` RGB or ``(H, W)`` gray."""
    import warnings

    from PIL import Image, UnidentifiedImageError

    from picveil.jpeg.loading import sniff

    fmt = sniff(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                if im.width * im.height > max_pixels:
                    raise ImageTooLargeError(
                        f"The image is {im.width}x{im.height} pixels, over the limit of {max_pixels:,} pixels."
                    )
                if im.mode in ("L", "I;16", "I", "F", "1"):
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
        raise CorruptImageError(f"The image is truncated or corrupt: {exc}.") from exc
    return np.ascontiguousarray(arr), fmt


def encode_output(rgb: np.ndarray, fmt: str = "jpeg", *, quality: int = OUTPUT_QUALITY) -> bytes:
    """Encode a revealed picture: JPEG (4:2:0 off: 4:4:4, quality 95) or PNG.

    Parameters
    ----------
    rgb : numpy.ndarray
        ``uint8`` ``(H, W, 3)`` or ``(H, W)``.
    fmt : str
        ``"jpeg"`` or ``"png"``.
    """
    from PIL import Image

    buf = io.BytesIO()
    im = Image.fromarray(np.asarray(rgb, dtype=np.uint8))
    if fmt == "png":
        im.save(buf, "PNG", compress_level=6)
    elif fmt == "jpeg":
        im.save(buf, "JPEG", quality=quality, subsampling=0 if im.mode == "RGB" else -1)
    else:
        raise ValueError(f"fmt must be 'jpeg' or 'png', got {fmt!r}")
    return buf.getvalue()


# --- keys -------------------------------------------------------------------------------------------
def _open_groups(header: RobustHeader, keyring) -> tuple[dict[int, object], dict[int, str]]:
    """Group keys the keyring opens, and the names of the circles used.

    Raises
    ------
    CircleNotFoundError
        No group opens: names the circle(s) needed, by name if the keyring
        knows the id (its key check then failed), else by id.
    HeaderDamagedError
        A known circle's key check does not match (a damaged or forged header).
    """
    salt = header.file_salt
    keys: dict[int, object] = {}
    names: dict[int, str] = {}
    missing: list[bytes] = []
    mismatched: list[str] = []
    for g, entry in enumerate(header.groups):
        circle = keyring.find_by_id(entry.circle_id) if keyring is not None else None
        if circle is None:
            missing.append(entry.circle_id)
            continue
        if not circle.matches(salt, entry.key_check):
            mismatched.append(circle.name)
            continue
        keys[g] = circle.image_group_key(salt)
        names[g] = circle.name
    if keys:
        return keys, names
    if mismatched and not missing:
        raise HeaderDamagedError(
            f"The picveil header names your circle {mismatched[0]!r}, but its key check fails: "
            "the header is damaged or was not made with this circle."
        )
    ids = ", ".join(dict.fromkeys(c.hex() for c in missing))
    where = "your keyring" if keyring is not None else "a keyring (none was found)"
    raise CircleNotFoundError(
        f"This image was protected for circle {ids}, which is not in {where}.",
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


def _fancy_up(plane: np.ndarray, fy: int, fx: int, shape: tuple[int, int]) -> np.ndarray:
    """libjpeg's "fancy" (triangle) upsampling by 1 or 2 per axis, cropped to `shape`."""

    def up2(a: np.ndarray, axis: int) -> np.ndarray:
        a = np.moveaxis(a, axis, 0)
        prev = np.concatenate([a[:1], a[:-1]])
        nxt = np.concatenate([a[1:], a[-1:]])
        out = np.empty((2 * a.shape[0],) + a.shape[1:])
        out[0::2] = 0.75 * a + 0.25 * prev
        out[1::2] = 0.75 * a + 0.25 * nxt
        return np.moveaxis(out, 0, axis)

    p = plane
    for axis, f in ((0, fy), (1, fx)):
        if f == 2:
            p = up2(p, axis)
        elif f > 2:
            p = np.repeat(p, f, axis=axis)
    return p[: shape[0], : shape[1]]


def _jpeg_planes(data: bytes, header: RobustHeader, max_pixels: int) -> list[np.ndarray] | None:
    """The YCbCr planes of a received JPEG of the original size, from its DCT
    coefficients (unclipped), on the original sampling grid; ``None`` if the
    JPEG cannot be read that way."""
    from picveil.jpeg.codec import read_coefficients

    try:
        co = read_coefficients(data, max_pixels=max_pixels)
    except Exception:  # noqa: BLE001 - any unreadable JPEG falls back to decoded pixels
        return None
    if (co.width, co.height) != (header.width, header.height):
        return None
    want = header.color_space
    if want == "rgb" or co.color_space not in ("gray", "ycbcr"):
        return None
    if want == "ycbcr" and co.color_space != "ycbcr":
        return None
    comps = co.components
    mh, mv = max(c.h_samp for c in comps), max(c.v_samp for c in comps)
    planes = []
    for ci, c in enumerate(comps[: len(header.sampling)]):
        coef = co.array(ci).astype(np.float64) * co.quant_table(ci).astype(np.float64)
        planes.append(blocks_to_plane(_D8.T @ coef @ _D8 + 128.0))
        # planes hold the component at its own resolution (with block padding)
        planes[-1] = (planes[-1], mv // c.v_samp, mh // c.h_samp)
    out = []
    shapes = _plane_shapes(header)
    for ci, ((plane, fy, fx), (fy0, fx0)) in enumerate(zip(planes, _factors(header))):
        ph, pw = shapes[ci][:2]
        if (fy, fx) == (fy0, fx0):
            out.append(plane)
            continue
        # another sampling than the original's: go through full resolution
        full = _fancy_up(plane, fy, fx, (header.height, header.width)) if (fy, fx) != (1, 1) else plane[: header.height, : header.width]
        out.append(_box_down(full, fy0, fx0))
    return out


def _resize_float(channel: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a float plane to ``(width, height)`` with Pillow's Lanczos filter."""
    from PIL import Image

    im = Image.fromarray(np.asarray(channel, dtype=np.float32), mode="F")
    return np.asarray(im.resize(size, Image.Resampling.LANCZOS), dtype=np.float64)


def _pixel_planes(image: np.ndarray, header: RobustHeader) -> tuple[list[np.ndarray], np.ndarray]:
    """Component planes on the original grid from decoded pixels (resized to the
    original size if needed), and the full-resolution float picture used."""
    W, H = header.width, header.height
    px = image.astype(np.float64)
    if px.shape[:2] != (H, W):
        chans = [px] if px.ndim == 2 else [px[..., i] for i in range(3)]
        px = np.stack([_resize_float(c, (W, H)) for c in chans], axis=-1)
        if image.ndim == 2:
            px = px[..., 0]
    if header.color_space == "gray":
        y = px if px.ndim == 2 else rgb_to_ycbcr(px)[..., 0]
        return [y], px
    rgb = px if px.ndim == 3 else np.repeat(px[..., None], 3, axis=-1)
    full = rgb if header.color_space == "rgb" else rgb_to_ycbcr(rgb)
    planes = [_box_down(full[..., i], fy, fx) for i, (fy, fx) in enumerate(_factors(header))]
    return planes, px


# --- deconvolution ------------------------------------------------------------------------------
def _blur_eigen(n: int, a: float) -> np.ndarray:
    """Eigenvalues of the blur ``[a, 1-2a, a]`` with half-sample symmetric ends
    (what edge replication gives) in the DCT-II basis of length `n`."""
    return 1.0 - 2.0 * a * (1.0 - np.cos(np.pi * np.arange(n) / n))


def _blur_model(fmt: str, factors: tuple[int, int]) -> float:
    """Blur parameter ``a`` (per axis ``[a, 1 - 2a, a]``) between a component
    of the protected file and the same component read back from a received
    `fmt` file, for a component subsampled by `factors`.

    A full-resolution component goes through unblurred. A subsampled one is
    upsampled by the viewer (libjpeg's triangle filter) and box-averaged by
    the next encoder, or by this reader: ``[1/8, 3/4, 1/8]``. A WebP adds
    its own chroma downsampling and upsampling: measured ``a`` ≈ 0.22.
    (Fitting ``a`` per image from the seams of the unscrambled region was
    tried and fails: clipping leaves more seams than any blur.)
    """
    if factors == (1, 1):
        return 0.0
    return WEBP_CHROMA_BLUR if fmt == "webp" else JPEG_CHROMA_BLUR


def deconvolve(plane: np.ndarray, a: float, nu: float = WIENER_NU) -> np.ndarray:
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
    a : float
        Blur parameter, ``0 <= a < 0.25``; 0 returns the plane unchanged.
    nu : float
        Regularisation.
    """
    if a <= 0:
        return np.asarray(plane, dtype=np.float64)
    from scipy.fft import dctn, idctn

    h, w = plane.shape
    hy, hx = _blur_eigen(h, a), _blur_eigen(w, a)
    gain = np.outer(hy, hx)
    inv = gain * (1.0 + nu) / (gain * gain + nu)
    mean = float(plane.mean())
    return idctn(dctn(plane - mean, type=2, norm="ortho") * inv, type=2, norm="ortho") + mean


# --- the schemes, in floating point ----------------------------------------------------------------
#: Key-stream labels of the schemes (container SPEC §9, §10), and scramble-v2's knots per component.
_LABELS = {1: (b"picveil scramble-v1 perm", b"picveil scramble-v1 sign"), 2: (b"picveil scramble-v2 perm", b"picveil scramble-v2 sign")}
_V2_KNOTS = (17, 5, 5)


class _Scramble:
    """A region's keyed signed permutation of blocks, per component, on float DCT blocks.

    ``forward`` scrambles (what protect did, minus scramble-v2's block means),
    ``inverse`` unscrambles; both are orthogonal, adjoint to each other.
    """

    def __init__(self, scheme_id: int, key, counts: Sequence[int], params: bytes) -> None:
        from picveil.schemes.scramble_v1 import keyed_permutation, keyed_signs

        perm_label, sign_label = _LABELS[scheme_id]
        self.scheme_id = scheme_id
        self.perms, self.signs = [], []
        for ci, n in enumerate(counts):
            self.perms.append(keyed_permutation(key, perm_label + bytes([ci]), n))
            signs = keyed_signs(key, sign_label + bytes([ci]), n).astype(np.float64)
            if scheme_id == 2:
                signs[:, 0, 0] = 1.0
            self.signs.append(signs)
        self.knots: list[bytes] = []
        if scheme_id == 2:
            need = sum(_V2_KNOTS[: len(counts)])
            if len(params) != need:
                raise HeaderDamagedError("The image carries a picveil header, but it is too damaged to read.")
            pos = 0
            for k in _V2_KNOTS[: len(counts)]:
                self.knots.append(params[pos : pos + k])
                pos += k

    def inverse(self, ci: int, coef: np.ndarray) -> np.ndarray:
        """Scrambled ``(n, 8, 8)`` float DCT blocks -> original order and signs."""
        s = coef * self.signs[ci]
        out = np.empty_like(s)
        out[self.perms[ci]] = s
        return out

    def forward(self, ci: int, coef: np.ndarray) -> np.ndarray:
        """Adjoint of :meth:`inverse` (the scramble's signed permutation)."""
        return coef[self.perms[ci]] * self.signs[ci]

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


def _scrambled_coefficients(plane: np.ndarray, ranges, a: float) -> np.ndarray:
    """Deconvolved ``(n, 8, 8)`` DCT blocks of a region's component (still scrambled)."""
    y0, y1, x0, x1 = _crop(ranges, plane.shape, DECONV_MARGIN)
    window = deconvolve(plane[y0:y1, x0:x1], a)
    by0, by1, bx0, bx1 = ranges
    return _blocks(window, by0 - y0 // 8, by1 - y0 // 8, bx0 - x0 // 8, bx1 - x0 // 8)


def _unscrambled_pixels(reg: _Region, ci: int, coef: np.ndarray) -> np.ndarray:
    out = reg.scramble.inverse(ci, coef)
    out[:, 0, 0] = reg.scramble.means(ci, out[:, 0, 0])
    return _pixels(out, *reg.shape(ci))


# --- output ------------------------------------------------------------------------------------------
def _to_rgb(planes: list[np.ndarray], header: RobustHeader) -> np.ndarray:
    """Float ``(H, W, 3)`` RGB (or ``(H, W)`` gray) of component planes, as a
    decoder shows them (triangle upsampling of chroma), not clipped."""
    H, W = header.height, header.width
    if header.color_space == "gray":
        return planes[0][:H, :W]
    full = [_fancy_up(p, fy, fx, (H, W)) for p, (fy, fx) in zip(planes, _factors(header))]
    stacked = np.stack(full, axis=-1)
    return stacked if header.color_space == "rgb" else ycbcr_to_rgb(stacked)


def _deblock(px: np.ndarray, boxes: Sequence[tuple[int, int, int, int]], strength: float = 0.8, limit: float = 24.0) -> np.ndarray:
    """Soften the seams of 8-pixel blocks inside `boxes` (a light deblocking
    before a downscale).

    At every block boundary the step beyond what the gradients on either side
    predict, clamped to ``±limit``, is spread linearly over 4 pixels on either
    side and reduced by the share `strength`. Works on ``(H, W)`` or ``(H, W, C)``.
    """
    out = np.array(px, dtype=np.float64, copy=True)
    ramp = np.array([4.0, 3.0, 2.0, 1.0]) / 8.0 * strength
    for x, y, w, h in boxes:
        sub = out[y : y + h, x : x + w]
        for arr in (sub, np.swapaxes(sub, 0, 1)):  # views: columns, then rows
            for b in range(8, arr.shape[1] - 3, 8):
                p0, p1 = arr[:, b - 1], arr[:, b - 2]
                q0, q1 = arr[:, b], arr[:, b + 1]
                c = np.clip((q0 - p0) - 0.5 * ((q1 - q0) + (p0 - p1)), -limit, limit)
                for k in range(4):
                    arr[:, b - 1 - k] += c * ramp[k]
                    arr[:, b + k] -= c * ramp[k]
    return out


# --- the recipe ------------------------------------------------------------------------------------------
def reveal_pixels(
    data: bytes,
    *,
    keyring,
    identities: Sequence = (),
    max_pixels: int = DEFAULT_MAX_PIXELS,
    recover_clipped: bool = True,
    clip_threshold: float = 2.0,
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
        the received size, and what was done.

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
    from picveil.schemes import get_scheme

    from .extractor import extract

    data = bytes(data)
    image, fmt = _decode_image(data, max_pixels)
    header = RobustHeader.from_bytes(extract(image))
    sch = get_scheme(header.scheme_id)  # UnsupportedVersionError for unknown schemes
    if header.scheme_id not in _LABELS:
        raise UnsupportedVersionError(
            f"This image uses protection scheme {sch.name}, which cannot be revealed from re-encoded pixels.",
            hint="Reveal the original protected file (with its picveil data).",
        )
    if header.width * header.height > max_pixels:
        raise ImageTooLargeError(
            f"The picture was protected at {header.width}x{header.height}, over the limit of {max_pixels:,} pixels."
        )
    keys, names = _open_groups(header, keyring)
    height, width = image.shape[:2]
    scale = _scale(header, width, height)

    planes = _jpeg_planes(data, header, max_pixels) if scale == 1.0 and fmt == "jpeg" else None
    source = "jpeg-coefficients" if planes is not None else "pixels"
    if planes is None:
        planes, _ = _pixel_planes(image, header)
    shapes = _plane_shapes(header)
    planes = [
        np.pad(p, ((0, max(0, hb * 8 - p.shape[0])), (0, max(0, wb * 8 - p.shape[1]))), mode="edge")[: max(hb * 8, p.shape[0]), : max(wb * 8, p.shape[1])]
        for p, (_, _, hb, wb) in zip(planes, shapes)
    ]

    regs, locked, container_only = [], [], []
    for i, entry in enumerate(header.regions):
        if not entry.robust:
            container_only.append(i)
            continue
        if entry.group not in keys:
            locked.append(i)
            continue
        ranges = _block_ranges(header, i)
        counts = [(b1 - b0) * (x1 - x0) for b0, b1, x0, x1 in ranges]
        rkey = keys[entry.group].region_key(header.region_salt(i))
        regs.append(_Region(i, ranges, _Scramble(header.scheme_id, rkey, counts, entry.params)))

    blur = [_blur_model(fmt, f) for f in _factors(header)]

    revealed_planes = [p.copy() for p in planes]
    clipped = 0
    for reg in regs:
        coefs = [_scrambled_coefficients(planes[ci], reg.ranges[ci], blur[ci]) for ci in range(len(planes))]
        if scale == 1.0 and recover_clipped:
            low, high, inside = _clip_masks(image, header, reg.index, clip_threshold)
            clipped += int((low | high).any(axis=-1).sum()) if low.ndim == 3 else int((low | high).sum())
            fixed = _ClipProblem(reg, header, planes, coefs, blur, low, high, inside).solve()
            coefs = fixed if fixed is not None else coefs
        for ci in range(len(planes)):
            by0, by1, bx0, bx1 = reg.ranges[ci]
            revealed_planes[ci][by0 * 8 : by1 * 8, bx0 * 8 : bx1 * 8] = _unscrambled_pixels(reg, ci, coefs[ci])

    boxes = [header.region_box(r.index) for r in regs]
    full = _to_rgb(revealed_planes, header)
    out = image.copy()
    if scale == 1.0:
        for x, y, w, h in boxes:
            out[y : y + h, x : x + w] = np.clip(np.rint(full[y : y + h, x : x + w]), 0, 255).astype(np.uint8).reshape(
                out[y : y + h, x : x + w].shape
            )
    else:
        full = _deblock(full, boxes)
        chans = [full] if full.ndim == 2 else [full[..., i] for i in range(full.shape[-1])]
        small = np.stack([_resize_float(c, (width, height)) for c in chans], axis=-1)
        if full.ndim == 2:
            small = small[..., 0]
        if out.ndim == 3 and small.ndim == 2:
            small = np.repeat(small[..., None], 3, axis=-1)
        for x, y, w, h in boxes:
            sx0, sy0 = int(round(x * width / header.width)), int(round(y * height / header.height))
            sx1, sy1 = int(round((x + w) * width / header.width)), int(round((y + h) * height / header.height))
            patch = np.clip(np.rint(small[sy0:sy1, sx0:sx1]), 0, 255).astype(np.uint8)
            out[sy0:sy1, sx0:sx1] = patch.reshape(out[sy0:sy1, sx0:sx1].shape) if patch.ndim == out.ndim else patch[..., 0]
    report = PixelRevealReport(
        header=header,
        revealed=tuple(r.index for r in regs),
        locked=tuple(locked),
        container_only=tuple(container_only),
        received_size=(width, height),
        scale=scale,
        source=source,
        circles=tuple(dict.fromkeys(names.values())),
        blur=tuple(blur),
        clipped=clipped,
    )
    return out, report


# --- clipping -----------------------------------------------------------------------------------------
#: RGB -> YCbCr rows without offsets (JFIF), for corrections made in RGB.
_RGB_TO_YCC = np.array(
    [[0.299, 0.587, 0.114], [-0.168735892, -0.331264108, 0.5], [0.5, -0.418687589, -0.081312411]]
)
#: Weights of the unscrambled components' smoothness in the clipping prior
#: (chroma is smoother than luma in photos, so its roughness costs more).
CLIP_WEIGHTS = (1.0, 4.0, 4.0)
#: L-BFGS-B iterations of the clipping recovery, per region.
CLIP_ITERATIONS = 60


def _clip_matrix(header: RobustHeader) -> np.ndarray:
    """Linear map from corrections in the displayed channels to the components."""
    if header.color_space == "gray":
        return np.ones((1, 1))
    if header.color_space == "rgb":
        return np.eye(3)
    return _RGB_TO_YCC


def _clip_masks(image: np.ndarray, header: RobustHeader, index: int, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Clipped-low, clipped-high and inside-the-picture masks over region
    `index`'s MCU rectangle at full resolution, ``(h, w, C)`` / ``(h, w)``."""
    r = header.regions[index]
    mw, mh = header.mcu
    y0, x0 = r.y * mh, r.x * mw
    h, w = r.h * mh, r.w * mw
    px = image if image.ndim == 3 else image[..., None]
    if header.color_space == "gray" and px.shape[-1] == 3:
        px = px.min(axis=-1, keepdims=True)  # a gray picture shown in colour: any channel clips it
    sub = px[y0 : y0 + h, x0 : x0 + w]
    low = np.zeros((h, w, px.shape[-1]), dtype=bool)
    high = np.zeros_like(low)
    low[: sub.shape[0], : sub.shape[1]] = sub <= threshold
    high[: sub.shape[0], : sub.shape[1]] = sub >= 255 - threshold
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
    ``deconvolve(box_down(M d))``; the cost is the weighted squared gradient
    of the *unscrambled* components, including the step to the received
    pixels just outside the region.
    """

    def __init__(self, reg: _Region, header: RobustHeader, planes: list[np.ndarray], coef0: list[np.ndarray], blur: Sequence[float], low: np.ndarray, high: np.ndarray, inside: np.ndarray) -> None:
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
        lo = low.reshape(shape + (-1,))[..., :nch]
        hi = high.reshape(shape + (-1,))[..., :nch]
        pad = ~inside[..., None] & np.ones(nch, dtype=bool)
        self.var = lo | hi | pad
        self.idx = np.flatnonzero(self.var)
        lb = np.where(hi & ~pad, 0.0, -np.inf).reshape(-1)[self.idx]
        ub = np.where(lo & ~pad, 0.0, np.inf).reshape(-1)[self.idx]
        self.lower, self.upper = lb, ub

    def _components(self, d: np.ndarray) -> list[np.ndarray]:
        out = []
        for ci, (fy, fx) in enumerate(self.factors):
            rows, cols = self.reg.shape(ci)
            comp = _box_down(np.tensordot(d, self.m[ci], axes=([2], [0])), fy, fx)[: rows * 8, : cols * 8]
            out.append(deconvolve(comp, self.blur[ci]))
        return out

    def _components_adjoint(self, g: list[np.ndarray]) -> np.ndarray:
        d = np.zeros(self.shape + (self.m.shape[1],))
        for ci, (fy, fx) in enumerate(self.factors):
            gc = deconvolve(g[ci], self.blur[ci])  # the blur and its inverse are symmetric
            full = np.zeros((-(-self.shape[0] // fy), -(-self.shape[1] // fx)))
            full[: gc.shape[0], : gc.shape[1]] = gc
            if (fy, fx) != (1, 1):
                full = np.repeat(np.repeat(full, fy, axis=0), fx, axis=1) / (fy * fx)
            d += full[: self.shape[0], : self.shape[1], None] * self.m[ci][None, None, :]
        return d

    def _roughness(self, ci: int, u: np.ndarray) -> tuple[float, np.ndarray]:
        ring = self.rings[ci]
        gx, gy = np.diff(u, axis=1), np.diff(u, axis=0)
        val = float(np.sum(gx * gx) + np.sum(gy * gy))
        grad = np.zeros_like(u)
        grad[:, 1:] += 2 * gx
        grad[:, :-1] -= 2 * gx
        grad[1:, :] += 2 * gy
        grad[:-1, :] -= 2 * gy
        for side, sl, sign in (("top", (0, slice(None)), 1), ("bottom", (-1, slice(None)), 1), ("left", (slice(None), 0), 1), ("right", (slice(None), -1), 1)):
            r = ring[side]
            if r is None:
                continue
            diff = u[sl] - r
            val += float(np.sum(diff * diff))
            grad[sl] += 2 * diff * sign
        return val, grad

    def cost(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        d = np.zeros(self.shape + (self.m.shape[1],))
        d.reshape(-1)[self.idx] = x
        comps = self._components(d)
        total, grads = 0.0, []
        for ci, comp in enumerate(comps):
            rows, cols = self.reg.shape(ci)
            delta = _pixels(self.reg.scramble.inverse(ci, _blocks(comp + 128.0, 0, rows, 0, cols)), rows, cols) - 128.0
            u = self.base[ci] + delta
            val, g = self._roughness(ci, u)
            w = CLIP_WEIGHTS[min(ci, len(CLIP_WEIGHTS) - 1)]
            total += w * val
            gcoef = self.reg.scramble.forward(ci, _blocks(w * g + 128.0, 0, rows, 0, cols))
            grads.append(_pixels(gcoef, rows, cols) - 128.0)
        gd = self._components_adjoint(grads)
        return total, gd.reshape(-1)[self.idx]

    def solve(self) -> list[np.ndarray] | None:
        """Corrected scrambled DCT coefficients per component, or ``None`` if nothing to do."""
        if self.idx.size == 0:
            return None
        x = _box_qp(self.cost, np.zeros(self.idx.size), self.lower, self.upper, CLIP_ITERATIONS)
        d = np.zeros(self.shape + (self.m.shape[1],))
        d.reshape(-1)[self.idx] = x
        comps = self._components(d)
        out = []
        for ci, comp in enumerate(comps):
            rows, cols = self.reg.shape(ci)
            out.append(self.coef0[ci] + _blocks(comp + 128.0, 0, rows, 0, cols))
        return out


def _box_qp(cost, x: np.ndarray, lower: np.ndarray, upper: np.ndarray, iterations: int) -> np.ndarray:
    """Minimise a convex quadratic ``cost`` (returning value and gradient)
    under box bounds, by projected gradient with Barzilai-Borwein steps and
    an exact line search (the gradient is affine, so one evaluation per
    iteration gives the value and gradient anywhere on the segment)."""
    f, g = cost(x)
    alpha = 1.0 / max(float(np.abs(g).max()), 1e-12)
    for _ in range(iterations):
        d = np.clip(x - alpha * g, lower, upper) - x
        gd = float(g @ d)
        if gd >= -1e-12 * max(abs(f), 1.0):
            break
        f1, g1 = cost(x + d)
        q = f1 - f - gd  # = d' H d / 2 * 2: the curvature along d
        t = 1.0 if q <= 0 else min(1.0, -gd / (2.0 * q))
        step = t * d
        g_new = g + t * (g1 - g)
        f = f + t * gd + t * t * q
        y = g_new - g
        sy = float(step @ y)
        alpha = float(step @ step) / sy if sy > 1e-12 else alpha * 2.0
        x = x + step
        g = g_new
    return x
