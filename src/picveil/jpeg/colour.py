"""Colour profiles: is a photo sRGB, and converting it to sRGB.

Networks colour-manage uploads: most convert a photo tagged with a wider
colour space (Display P3, every iPhone photo since 2016; Adobe RGB, many
cameras' and editors' exports) to sRGB and drop the profile. That is a
non-linear map of every pixel, 27–30 dB of change on a saturated photo
(Adobe RGB), and picveil's robust header, written in the pixels, does not
survive it: a friend could then not reveal the photo at all. So a photo
protected for circles is put in sRGB first (:func:`to_srgb`), as ``picveil
fit`` does for any photo; the network then has nothing to convert.

Everything here works on Pillow images and ICC profile bytes and needs
Pillow's LittleCMS binding (``PIL.ImageCms``); where Pillow was built without
it, every profile counts as sRGB and nothing is converted.

:func:`matrix_profile` writes a small ICC v2 matrix/TRC profile (RGB
primaries, white point and the sRGB tone curve); :func:`display_p3` is the
one for Display P3 (tests and the benchmark). A reveal converts a received
copy tagged with another space to sRGB before it reads the header
(``picveil.robust.reveal._srgb_pixels``).
"""

from __future__ import annotations

import functools
import io
import struct
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

__all__ = ["SRGB_TOLERANCE", "adobe_rgb", "display_p3", "is_srgb", "matrix_profile", "profile_name", "srgb_profile", "to_srgb"]

#: Largest difference (8-bit levels, any channel) between a colour and its
#: conversion to sRGB for a profile to count as sRGB: the many sRGB profiles
#: in circulation (IEC 61966-2.1, compact v4 ones, camera makers' copies)
#: differ from one another by about one level.
SRGB_TOLERANCE = 2

#: Levels per channel of the colour grid that :func:`is_srgb` converts (17³ = 4913 colours).
_GRID_LEVELS = 17


def _cms():
    """``PIL.ImageCms``, or None where Pillow has no LittleCMS."""
    try:
        from PIL import ImageCms
    except ImportError:  # pragma: no cover - Pillow built without LittleCMS
        return None
    return ImageCms


@functools.lru_cache(maxsize=1)
def srgb_profile() -> bytes:
    """LittleCMS's built-in sRGB profile as ICC bytes (588 bytes)."""
    cms = _cms()
    if cms is None:  # pragma: no cover
        return b""
    return cms.ImageCmsProfile(cms.createProfile("sRGB")).tobytes()


def _rgb_profile(icc: bytes):
    """The profile as LittleCMS reads it, or None: not an RGB profile, or one it cannot read."""
    cms = _cms()
    if cms is None or not icc or len(icc) < 128 or icc[16:20] != b"RGB ":
        return None
    try:
        return cms.ImageCmsProfile(io.BytesIO(icc))
    except (OSError, ValueError, cms.PyCMSError):
        return None


def profile_name(icc: bytes | None) -> str:
    """The profile's description (``'Display P3'``), or ``'an unnamed colour profile'``."""
    cms = _cms()
    prof = _rgb_profile(icc) if icc else None
    if cms is None or prof is None:
        return "an unnamed colour profile"
    try:
        name = (cms.getProfileDescription(prof) or "").strip()
    except cms.PyCMSError:  # pragma: no cover
        name = ""
    return name or "an unnamed colour profile"


@functools.lru_cache(maxsize=32)
def is_srgb(icc: bytes | None) -> bool:
    """Whether an RGB image tagged with `icc` is already sRGB.

    Decided by what the profile does, not by its name: a grid of 4913 colours
    is converted to sRGB, and the profile is sRGB when no colour moves by
    more than :data:`SRGB_TOLERANCE` levels. No profile counts as sRGB (what
    every viewer assumes), as does a profile that is not RGB or that
    LittleCMS cannot read (nothing could convert it: a network cannot
    either).
    """
    if not icc:
        return True
    prof = _rgb_profile(icc)
    if prof is None:
        return True
    import numpy as np
    from PIL import Image

    levels = np.linspace(0, 255, _GRID_LEVELS).round().astype(np.uint8)
    grid = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), axis=-1).reshape(-1, 1, 3)
    im = Image.fromarray(grid, "RGB")
    try:
        out = _convert(im, prof)
    except Exception:  # noqa: BLE001 - LittleCMS refused the transform: nothing can convert it
        return True
    diff = np.abs(np.asarray(out, dtype=np.int16) - grid.astype(np.int16))
    return int(diff.max()) <= SRGB_TOLERANCE


def _convert(im: Image.Image, prof) -> Image.Image:
    cms = _cms()
    srgb = cms.ImageCmsProfile(cms.createProfile("sRGB"))
    return cms.profileToProfile(im, prof, srgb, renderingIntent=cms.Intent.RELATIVE_COLORIMETRIC, outputMode="RGB")


def to_srgb(im: Image.Image, icc: bytes | None) -> Image.Image | None:
    """The RGB image `im`, tagged with `icc`, converted to sRGB; None when
    there is nothing to convert (:func:`is_srgb`).

    Relative colorimetric, as LittleCMS does for matrix profiles whatever the
    intent: colours outside sRGB's gamut are clipped. The result carries no
    profile; embed :func:`srgb_profile` or none.
    """
    if im.mode != "RGB" or is_srgb(icc):
        return None
    return _convert(im, _rgb_profile(icc))


# --- writing matrix/TRC profiles -------------------------------------------------

#: Display P3: DCI-P3 primaries, D65 white, the sRGB tone curve.
DISPLAY_P3_PRIMARIES = ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060))
D65 = (0.3127, 0.3290)
_D50_XYZ = (0.9642, 1.0, 0.8249)
_BRADFORD = ((0.8951, 0.2664, -0.1614), (-0.7502, 1.7135, 0.0367), (0.0389, -0.0685, 1.0296))


def _xyz(xy: tuple[float, float]) -> list[float]:
    x, y = xy
    return [x / y, 1.0, (1 - x - y) / y]


def _s15(v: float) -> bytes:
    return struct.pack(">i", round(v * 65536))


def _tag_xyz(v) -> bytes:
    return b"XYZ \0\0\0\0" + b"".join(_s15(c) for c in v)


def _tag_text(sig: bytes, text: str) -> bytes:
    raw = text.encode("ascii") + b"\0"
    if sig == b"desc":  # textDescriptionType: ASCII, then empty Unicode and ScriptCode parts
        return b"desc\0\0\0\0" + struct.pack(">I", len(raw)) + raw + b"\0" * 4 + b"\0" * 4 + b"\0" * 3 + b"\0" * 67
    return b"text\0\0\0\0" + raw


def _srgb_curve(n: int = 1024) -> bytes:
    out = []
    for i in range(n):
        v = i / (n - 1)
        lin = v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4
        out.append(round(lin * 65535))
    return b"curv\0\0\0\0" + struct.pack(">I", n) + struct.pack(f">{n}H", *out)


def matrix_profile(name: str, primaries, white=D65, gamma: float | None = None) -> bytes:
    """An ICC v2 display profile for RGB with the given primaries and white
    point (CIE xy) and the sRGB tone curve, or a pure power curve.

    Pure function. The colorants are adapted to the profile connection
    space's D50 white with the Bradford transform, as ICC requires.

    Parameters
    ----------
    name : str
        ASCII description.
    primaries : ((float, float), (float, float), (float, float))
        Red, green and blue chromaticities.
    white : (float, float)
        White point chromaticity (default D65).
    gamma : float or None
        The exponent of a pure power tone curve (Adobe RGB: 563/256); None:
        the sRGB curve.

    Returns
    -------
    bytes
        The profile (about 2.6 KB).
    """
    import numpy as np

    cols = np.array([_xyz(p) for p in primaries]).T  # columns: XYZ of each primary, Y = 1
    w = np.array(_xyz(white))
    m = cols * np.linalg.solve(cols, w)  # RGB → XYZ with the white at (1, 1, 1)
    brad = np.array(_BRADFORD)
    cat = np.linalg.inv(brad) @ np.diag((brad @ np.array(_D50_XYZ)) / (brad @ w)) @ brad
    m50 = cat @ m
    curve = _srgb_curve() if gamma is None else b"curv\0\0\0\0" + struct.pack(">IH", 1, round(gamma * 256))
    tags = [
        (b"desc", _tag_text(b"desc", name)),
        (b"cprt", _tag_text(b"cprt", "No copyright, use freely")),
        (b"wtpt", _tag_xyz(_D50_XYZ)),
        (b"rXYZ", _tag_xyz(m50[:, 0])),
        (b"gXYZ", _tag_xyz(m50[:, 1])),
        (b"bXYZ", _tag_xyz(m50[:, 2])),
        (b"rTRC", curve),
        (b"gTRC", curve),
        (b"bTRC", curve),
    ]
    table = struct.pack(">I", len(tags))
    body = b""
    offset = 128 + 4 + 12 * len(tags)
    placed: dict[bytes, int] = {}  # the three tone curves share one copy, as ICC allows
    for sig, data in tags:
        if data not in placed:
            placed[data] = offset + len(body)
            body += data + b"\0" * (-len(data) % 4)
        table += sig + struct.pack(">II", placed[data], len(data))
    size = 128 + len(table) + len(body)
    header = (
        struct.pack(">I", size) + b"\0\0\0\0" + bytes((2, 0x10, 0, 0)) + b"mntrRGB XYZ " + b"\0" * 12
        + b"acsp" + b"\0" * 24 + struct.pack(">I", 0) + b"".join(_s15(c) for c in _D50_XYZ) + b"\0" * 48
    )
    return header + table + body


#: Adobe RGB (1998): its primaries, D65 white, a power curve of 563/256.
ADOBE_RGB_PRIMARIES = ((0.64, 0.33), (0.21, 0.71), (0.15, 0.06))


@functools.lru_cache(maxsize=1)
def display_p3() -> bytes:
    """A Display P3 profile (:func:`matrix_profile` with :data:`DISPLAY_P3_PRIMARIES`)."""
    return matrix_profile("Display P3", DISPLAY_P3_PRIMARIES)


@functools.lru_cache(maxsize=1)
def adobe_rgb() -> bytes:
    """A profile with Adobe RGB (1998)'s primaries, white and tone curve."""
    return matrix_profile("Adobe RGB (1998) compatible", ADOBE_RGB_PRIMARIES, gamma=563 / 256)
