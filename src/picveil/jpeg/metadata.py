"""What metadata a protected output may carry: an allow-list.

A protected photo must not leak what its protection hides. Metadata is the
classic leak: an EXIF thumbnail is an unprotected small copy of the photo,
GPS says where it was taken, serial numbers tie it to a camera and its owner,
XMP can carry location and face regions, and MPF carries preview images.

So nothing is copied by default except what is on the allow-list below, and
EXIF is *rewritten* tag by tag rather than copied:

==================  ======================================================
ICC profile         kept (APP2 ``ICC_PROFILE``, all chunks, in order)
EXIF                rewritten: orientation, resolution, dates, make/model,
                    lens model and exposure data kept; the IFD1 thumbnail
                    is always removed; GPS removed unless ``keep_gps``;
                    a value whose type or count is not what the standard
                    says for its tag is removed;
                    serial numbers, owner/artist, ImageUniqueID and the
                    MakerNote removed unless ``keep_serials``; free text
                    (ImageDescription, UserComment, XP* tags), embedded
                    XMP/IPTC/ICC and unknown or private tags always removed
XMP, MPF, IPTC,     dropped unless ``keep_all``
other APPn, COM
APP0 JFIF,          never returned: the JPEG writer emits its own
APP14 Adobe
APP11               never returned: picveil writes its own
==================  ======================================================

EXIF that Pillow cannot parse is dropped, not copied: what cannot be
inspected cannot be cleaned.

Pillow is imported inside the functions that need it, so importing this
module stays cheap.
"""

from __future__ import annotations

import struct
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from picveil.jpeg.markers import APP0, APP11, APP14, COM, MAX_PAYLOAD, Segment, read_segments

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

__all__ = [
    "MetadataPolicy",
    "describe_metadata",
    "exif_orientation",
    "sanitize_exif",
    "select_metadata",
]

APP1 = 0xFFE1
APP2 = 0xFFE2
APP13 = 0xFFED

# Payload signatures of the APP segments this module recognises.
EXIF_SIG = b"Exif\x00\x00"
XMP_SIG = b"http://ns.adobe.com/xap/1.0/\x00"
XMP_EXT_SIG = b"http://ns.adobe.com/xmp/extension/\x00"
ICC_SIG = b"ICC_PROFILE\x00"
MPF_SIG = b"MPF\x00"
JFIF_SIG = b"JFIF\x00"
JFXX_SIG = b"JFXX\x00"
ADOBE_SIG = b"Adobe"
PHOTOSHOP_SIG = b"Photoshop 3.0\x00"

# IFD pointer tags (EXIF 2.32 section 4.6.3).
_EXIF_IFD = 0x8769
_GPS_IFD = 0x8825
_INTEROP_IFD = 0xA005
_ORIENTATION = 0x0112
_MAKERNOTE = 0x927C

# --- the allow-lists ------------------------------------------------------------
# Each entry: tag -> (EXIF name, kind, count), from EXIF 2.32 (CIPA DC-008)
# tables 4-7 and 14. kind is "num" (SHORT/LONG/RATIONAL...), "text" (ASCII)
# or "bytes" (UNDEFINED); count is the fixed count, or None where the
# standard allows any. A value that does not fit its entry is dropped: a
# damaged or crafted count could otherwise make an innocent tag carry other
# bytes of the segment (the thumbnail, say) into the output.
_TagSpec = tuple[str, str, "int | None"]

# IFD0 tags copied by default.
_IFD0_KEEP: dict[int, _TagSpec] = {
    0x010F: ("Make", "text", None),
    0x0110: ("Model", "text", None),
    0x0112: ("Orientation", "num", 1),
    0x011A: ("XResolution", "num", 1),
    0x011B: ("YResolution", "num", 1),
    0x0128: ("ResolutionUnit", "num", 1),
    0x0131: ("Software", "text", None),
    0x0132: ("DateTime", "text", 20),
    0x013E: ("WhitePoint", "num", 2),
    0x013F: ("PrimaryChromaticities", "num", 6),
    0x0211: ("YCbCrCoefficients", "num", 3),
    0x0213: ("YCbCrPositioning", "num", 1),
    0x0214: ("ReferenceBlackWhite", "num", 6),
    0x8298: ("Copyright", "text", None),
}
# IFD0 tags that identify the camera or its owner: copied only with keep_serials.
_IFD0_IDENTIFYING: dict[int, _TagSpec] = {
    0x013B: ("Artist", "text", None),
    0xC62F: ("CameraSerialNumber", "text", None),  # DNG 1.6
}
# Exif IFD tags copied by default: capture settings and dates.
_EXIF_KEEP: dict[int, _TagSpec] = {
    0x829A: ("ExposureTime", "num", 1),
    0x829D: ("FNumber", "num", 1),
    0x8822: ("ExposureProgram", "num", 1),
    0x8824: ("SpectralSensitivity", "text", None),
    0x8827: ("PhotographicSensitivity", "num", None),
    0x8830: ("SensitivityType", "num", 1),
    0x8831: ("StandardOutputSensitivity", "num", 1),
    0x8832: ("RecommendedExposureIndex", "num", 1),
    0x8833: ("ISOSpeed", "num", 1),
    0x8834: ("ISOSpeedLatitudeyyy", "num", 1),
    0x8835: ("ISOSpeedLatitudezzz", "num", 1),
    0x9000: ("ExifVersion", "bytes", 4),
    0x9003: ("DateTimeOriginal", "text", 20),
    0x9004: ("DateTimeDigitized", "text", 20),
    0x9010: ("OffsetTime", "text", 7),
    0x9011: ("OffsetTimeOriginal", "text", 7),
    0x9012: ("OffsetTimeDigitized", "text", 7),
    0x9101: ("ComponentsConfiguration", "bytes", 4),
    0x9102: ("CompressedBitsPerPixel", "num", 1),
    0x9201: ("ShutterSpeedValue", "num", 1),
    0x9202: ("ApertureValue", "num", 1),
    0x9203: ("BrightnessValue", "num", 1),
    0x9204: ("ExposureBiasValue", "num", 1),
    0x9205: ("MaxApertureValue", "num", 1),
    0x9206: ("SubjectDistance", "num", 1),
    0x9207: ("MeteringMode", "num", 1),
    0x9208: ("LightSource", "num", 1),
    0x9209: ("Flash", "num", 1),
    0x920A: ("FocalLength", "num", 1),
    0x9214: ("SubjectArea", "num", None),  # 2, 3 or 4
    0x9290: ("SubSecTime", "text", None),
    0x9291: ("SubSecTimeOriginal", "text", None),
    0x9292: ("SubSecTimeDigitized", "text", None),
    0xA000: ("FlashpixVersion", "bytes", 4),
    0xA001: ("ColorSpace", "num", 1),
    0xA002: ("PixelXDimension", "num", 1),
    0xA003: ("PixelYDimension", "num", 1),
    0xA20B: ("FlashEnergy", "num", 1),
    0xA20E: ("FocalPlaneXResolution", "num", 1),
    0xA20F: ("FocalPlaneYResolution", "num", 1),
    0xA210: ("FocalPlaneResolutionUnit", "num", 1),
    0xA214: ("SubjectLocation", "num", 2),
    0xA215: ("ExposureIndex", "num", 1),
    0xA217: ("SensingMethod", "num", 1),
    0xA300: ("FileSource", "bytes", 1),
    0xA301: ("SceneType", "bytes", 1),
    0xA302: ("CFAPattern", "bytes", None),
    0xA401: ("CustomRendered", "num", 1),
    0xA402: ("ExposureMode", "num", 1),
    0xA403: ("WhiteBalance", "num", 1),
    0xA404: ("DigitalZoomRatio", "num", 1),
    0xA405: ("FocalLengthIn35mmFilm", "num", 1),
    0xA406: ("SceneCaptureType", "num", 1),
    0xA407: ("GainControl", "num", 1),
    0xA408: ("Contrast", "num", 1),
    0xA409: ("Saturation", "num", 1),
    0xA40A: ("Sharpness", "num", 1),
    0xA40C: ("SubjectDistanceRange", "num", 1),
    0xA432: ("LensSpecification", "num", 4),
    0xA433: ("LensMake", "text", None),
    0xA434: ("LensModel", "text", None),
    0xA460: ("CompositeImage", "num", 1),
    0xA461: ("SourceImageNumberOfCompositeImage", "num", 2),
    0xA462: ("SourceExposureTimesOfCompositeImage", "bytes", None),
    0xA500: ("Gamma", "num", 1),
}
# Exif IFD tags that identify the camera, lens, owner or this very shot:
# copied only with keep_serials. The MakerNote is here because vendors put
# serial numbers in it; it is copied whole (count None, no size cap).
_EXIF_IDENTIFYING: dict[int, _TagSpec] = {
    0x927C: ("MakerNote", "bytes", None),
    0xA420: ("ImageUniqueID", "text", 33),
    0xA430: ("CameraOwnerName", "text", None),
    0xA431: ("BodySerialNumber", "text", None),
    0xA435: ("LensSerialNumber", "text", None),
}
_INTEROP_KEEP: dict[int, _TagSpec] = {
    0x0001: ("InteroperabilityIndex", "text", None),
    0x0002: ("InteroperabilityVersion", "bytes", 4),
}
# Caps for values whose count the standard leaves open.
_MAX_TEXT = 255  # characters of one ASCII value
_MAX_BYTES = 255  # bytes of one UNDEFINED value (MakerNote excepted)
_MAX_NUMBERS = 4  # numbers in one variable-count numeric value


def _fits(tag: int, spec: _TagSpec, value: Any) -> bool:
    """Whether a parsed value has the kind and count its allow-list entry says."""
    from numbers import Real

    _, kind, count = spec
    if kind == "text":
        # ASCII counts include the NUL, which Pillow strips.
        limit = _MAX_TEXT if count is None else count - 1
        return isinstance(value, str) and len(value) <= limit
    if kind == "bytes":
        if not isinstance(value, bytes):
            return False
        if count is not None:
            return len(value) == count
        return tag == _MAKERNOTE or len(value) <= _MAX_BYTES
    numbers = value if isinstance(value, tuple) else (value,)
    if not numbers or not all(isinstance(v, Real) and not isinstance(v, bool) for v in numbers):
        return False
    return len(numbers) == count if count is not None else len(numbers) <= _MAX_NUMBERS


def _filter(values: dict[int, Any], allowed: dict[int, _TagSpec]) -> dict[int, Any]:
    return {t: v for t, v in values.items() if t in allowed and _fits(t, allowed[t], v)}


# What Pillow may raise on malformed EXIF; any of these means "unreadable".
_EXIF_ERRORS: tuple[type[BaseException], ...] = (
    SyntaxError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    OSError,
    EOFError,
    OverflowError,
    struct.error,
)


@dataclass(frozen=True)
class MetadataPolicy:
    """Which metadata a protected output keeps besides the safe default.

    Attributes
    ----------
    keep_gps : bool
        Keep the EXIF GPS IFD (where the photo was taken).
    keep_serials : bool
        Keep camera/lens serial numbers, camera owner and artist names,
        ImageUniqueID and the MakerNote. The MakerNote is copied as opaque
        bytes; vendor notes that use absolute offsets may not survive the
        move.
    keep_all : bool
        **Unsafe.** Copy every APPn and COM segment as it is (EXIF with its
        GPS and thumbnail, XMP, MPF previews, ...), except APP11 and the
        writer's own APP0 JFIF / APP14 Adobe. Use only for images whose
        metadata you have checked yourself.
    """

    keep_gps: bool = False
    keep_serials: bool = False
    keep_all: bool = False


def _kind(seg: Segment) -> str:
    """Name the kind of an APPn/COM segment from its marker and signature."""
    p = seg.payload
    m = seg.marker
    if m == APP0:
        if p.startswith(JFIF_SIG):
            return "jfif"
        if p.startswith(JFXX_SIG):
            return "jfxx"
    elif m == APP1:
        if p.startswith(EXIF_SIG):
            return "exif"
        if p.startswith(XMP_SIG) or p.startswith(XMP_EXT_SIG):
            return "xmp"
    elif m == APP2:
        if p.startswith(ICC_SIG):
            return "icc"
        if p.startswith(MPF_SIG):
            return "mpf"
    elif m == APP11:
        return "app11"
    elif m == APP13:
        if p.startswith(PHOTOSHOP_SIG):
            return "photoshop"
    elif m == APP14:
        if p.startswith(ADOBE_SIG):
            return "adobe"
    elif m == COM:
        return "comment"
    if 0xFFE0 <= m <= 0xFFEF:
        return "other_app"
    return "structure"  # DQT, DHT, SOFn, DRI, ...


def _load_exif(payload: bytes) -> Image.Exif | None:
    """Parse an APP1 EXIF payload with Pillow; None when it is unreadable."""
    return _parse_exif(payload)[0]


def _parse_exif(payload: bytes) -> tuple[Image.Exif | None, bool]:
    """Parse an APP1 EXIF payload; return it (None if unparseable) and whether
    Pillow found damage on the way (it warns and carries on)."""
    from PIL import Image

    exif = Image.Exif()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # Pillow warns on every odd tag
        try:
            exif.load(payload)
            dict(exif)  # force the lazy IFD0 parse so errors surface here
        except _EXIF_ERRORS:
            return None, True
    return exif, bool(caught)


def _get_ifd(exif: Image.Exif, tag: int) -> dict[int, Any]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return dict(exif.get_ifd(tag))
    except _EXIF_ERRORS:
        return {}


def _ifd1(exif: Image.Exif) -> dict[int, Any]:
    from PIL import ExifTags

    return _get_ifd(exif, ExifTags.IFD.IFD1)


def sanitize_exif(exif: Image.Exif, policy: MetadataPolicy = MetadataPolicy()) -> bytes | None:
    """Rewrite parsed EXIF through the allow-list.

    Parameters
    ----------
    exif : PIL.Image.Exif
        Parsed EXIF (from an APP1 payload, or ``Image.getexif()`` of a PNG,
        TIFF or WebP file). It is not modified.
    policy : MetadataPolicy
        ``keep_gps`` and ``keep_serials`` widen the allow-list; ``keep_all``
        is ignored here (it copies segments, not parsed EXIF).

    Returns
    -------
    bytes or None
        A complete APP1 payload (``b"Exif\\0\\0"`` + TIFF structure) with no
        IFD1 thumbnail, or None when nothing on the allow-list is present or
        the result cannot be written.
    """
    from PIL import Image

    ifd0_keep = {**_IFD0_KEEP, **(_IFD0_IDENTIFYING if policy.keep_serials else {})}
    exif_keep = {**_EXIF_KEEP, **(_EXIF_IDENTIFYING if policy.keep_serials else {})}

    out = Image.Exif()
    out.endian = exif.endian or ">"  # keep the byte order (MakerNotes depend on it)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ifd0 = dict(exif)
    except _EXIF_ERRORS:
        return None
    for tag, value in _filter(ifd0, ifd0_keep).items():
        out[tag] = value

    sub = _filter(_get_ifd(exif, _EXIF_IFD), exif_keep)
    interop = _filter(_get_ifd(exif, _INTEROP_IFD), _INTEROP_KEEP)
    if interop:
        sub[_INTEROP_IFD] = interop
    if sub:
        out[_EXIF_IFD] = sub
    if policy.keep_gps:
        gps = _get_ifd(exif, _GPS_IFD)
        if gps:
            out[_GPS_IFD] = gps
    if len(out) == 0:
        return None

    # Pillow infers TIFF types from its tag tables; a value it cannot write
    # drops the EXIF to orientation only, and then to nothing (fail closed).
    attempts = [out]
    if _ORIENTATION in out:
        minimal = Image.Exif()
        minimal.endian = out.endian
        minimal[_ORIENTATION] = out[_ORIENTATION]
        attempts.append(minimal)
    for candidate in attempts:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                data = candidate.tobytes()
        except _EXIF_ERRORS:
            continue
        if len(data) <= MAX_PAYLOAD:
            return data
    return None


def select_metadata(
    src_jpeg: bytes, policy: MetadataPolicy = MetadataPolicy()
) -> list[tuple[int, bytes]]:
    """Choose the metadata segments to copy from a source JPEG to its output.

    Parameters
    ----------
    src_jpeg : bytes
        The source JPEG file.
    policy : MetadataPolicy
        What to keep beyond the safe default (see the module docstring).

    Returns
    -------
    list of (int, bytes)
        ``(marker, payload)`` pairs in source order, ready for
        :func:`picveil.jpeg.markers.insert_segments`. Never contains APP11,
        APP0 JFIF or APP14 Adobe.

    Raises
    ------
    NotAnImageError, CorruptImageError
        `src_jpeg` is not a JPEG, or its header is damaged.
    """
    chosen: list[tuple[int, bytes]] = []
    seen_exif = False
    for seg in read_segments(src_jpeg):
        kind = _kind(seg)
        if kind in ("structure", "app11", "jfif", "adobe"):
            continue
        if policy.keep_all:
            chosen.append((seg.marker, seg.payload))
            continue
        if kind == "icc":
            chosen.append((seg.marker, seg.payload))
        elif kind == "exif" and not seen_exif:
            # Only the first EXIF segment is EXIF (EXIF 2.32 section 4.5.4);
            # later ones are dropped.
            seen_exif = True
            parsed = _load_exif(seg.payload)
            cleaned = sanitize_exif(parsed, policy) if parsed is not None else None
            if cleaned is not None:
                chosen.append((APP1, cleaned))
    return chosen


def icc_profile(src_jpeg: bytes) -> bytes | None:
    """The ICC profile embedded in a JPEG (its APP2 ``ICC_PROFILE`` chunks
    joined in sequence-number order), or None when it has none or its chunks
    are inconsistent (missing, repeated, or counts that disagree).

    Raises
    ------
    NotAnImageError, CorruptImageError
        `src_jpeg` is not a JPEG, or its header is damaged.
    """
    chunks: dict[int, bytes] = {}
    total = None
    for seg in read_segments(src_jpeg):
        if seg.marker != APP2 or not seg.payload.startswith(ICC_SIG) or len(seg.payload) < len(ICC_SIG) + 2:
            continue
        seq, count = seg.payload[len(ICC_SIG)], seg.payload[len(ICC_SIG) + 1]
        if total not in (None, count) or seq in chunks or not 1 <= seq <= count:
            return None
        total = count
        chunks[seq] = bytes(seg.payload[len(ICC_SIG) + 2 :])
    if total is None or len(chunks) != total:
        return None
    return b"".join(chunks[i] for i in range(1, total + 1))


def describe_metadata(src_jpeg: bytes) -> dict[str, Any]:
    """Say which kinds of metadata a JPEG carries, for inspection.

    Parameters
    ----------
    src_jpeg : bytes
        A JPEG file.

    Returns
    -------
    dict
        Booleans ``exif``, ``exif_unreadable`` (Pillow could not parse it, or
        found damage), ``gps``, ``thumbnail``,
        ``serials`` (serial numbers, owner, artist or ImageUniqueID),
        ``makernote``, ``xmp``, ``icc``, ``mpf``, ``photoshop`` (APP13,
        usually IPTC), ``comment``, ``jfif``, ``jfxx``, ``adobe``, ``app11``;
        ``orientation`` (int, 1 when absent); and ``other``, a list of the
        marker names of unrecognised APPn segments, in file order.

    Raises
    ------
    NotAnImageError, CorruptImageError
        As :func:`picveil.jpeg.markers.read_segments`.
    """
    flags = (
        "exif exif_unreadable gps thumbnail serials makernote xmp icc mpf "
        "photoshop comment jfif jfxx adobe app11"
    ).split()
    info: dict[str, Any] = dict.fromkeys(flags, False)
    info["orientation"] = 1
    info["other"] = []
    first_exif = True
    for seg in read_segments(src_jpeg):
        kind = _kind(seg)
        if kind == "structure":
            continue
        if kind == "other_app":
            info["other"].append(seg.name)
            continue
        info[kind] = True
        if kind != "exif":
            continue
        exif, damaged = _parse_exif(seg.payload)
        info["exif_unreadable"] |= damaged
        if exif is None:
            continue
        ifd0 = dict(exif)
        sub = _get_ifd(exif, _EXIF_IFD)
        if _GPS_IFD in ifd0 and _get_ifd(exif, _GPS_IFD):
            info["gps"] = True
        if _ifd1(exif):
            info["thumbnail"] = True
        if any(t in ifd0 for t in _IFD0_IDENTIFYING) or any(
            t in sub for t in _EXIF_IDENTIFYING if t != _MAKERNOTE
        ):
            info["serials"] = True
        if _MAKERNOTE in sub:
            info["makernote"] = True
        if first_exif:
            info["orientation"] = _orientation_of(exif)
        first_exif = False
    return info


def _orientation_of(exif: Image.Exif) -> int:
    try:
        value = exif.get(_ORIENTATION, 1)
    except _EXIF_ERRORS:
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def exif_orientation(src_jpeg: bytes) -> int:
    """Return the EXIF Orientation of a JPEG (1..8; 1 if absent or invalid).

    Parameters
    ----------
    src_jpeg : bytes
        A JPEG file.

    Returns
    -------
    int
        The value of tag 0x0112 in the first EXIF segment; 1 when there is
        no EXIF, it is unreadable, or the value is outside 1..8.

    Raises
    ------
    NotAnImageError, CorruptImageError
        As :func:`picveil.jpeg.markers.read_segments`.
    """
    for seg in read_segments(src_jpeg):
        if _kind(seg) == "exif":
            exif = _load_exif(seg.payload)
            return 1 if exif is None else _orientation_of(exif)
    return 1
