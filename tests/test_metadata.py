"""Tests for picveil.jpeg.metadata: the metadata allow-list."""

from __future__ import annotations

import functools
import io
import struct

import pytest
from PIL import ExifTags, Image, ImageCms
from PIL.TiffImagePlugin import IFDRational
from skimage import data as skdata

from picveil.jpeg.markers import APP11, COM, insert_segments, read_segments
from picveil.jpeg.metadata import (
    MetadataPolicy,
    describe_metadata,
    exif_orientation,
    sanitize_exif,
    select_metadata,
)

APP1, APP2, APP13 = 0xFFE1, 0xFFE2, 0xFFED
GPS, EXIF_IFD, IFD1 = ExifTags.IFD.GPSInfo, ExifTags.IFD.Exif, ExifTags.IFD.IFD1

# Secrets planted in the source; none may reach a default output.
BODY_SERIAL = "BODY-SN-8675309"
LENS_SERIAL = "LENS-SN-424242"
OWNER = "Alice Owner"
UNIQUE_ID = "0123456789abcdef0123456789abcdef"
MAKERNOTE = b"Nikon\x00\x02\x10\x00\x00MAKERNOTE-SERIAL-777" + bytes(range(64))
ARTIST = "Alice Artist"
COMMENT = "ASCII\x00\x00\x00Alice at home"
XMP = (
    b"http://ns.adobe.com/xap/1.0/\x00"
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description exif:GPSLatitude="52,13.5N" mwg-rs:Regions="face"/>'
    b"</rdf:RDF></x:xmpmeta>"
)
MPF = b"MPF\x00II*\x00\x08\x00\x00\x00" + b"\x00" * 32


def _astronaut(size: int | None = None) -> Image.Image:
    im = Image.fromarray(skdata.astronaut())
    return im.resize((size, size)) if size else im


@functools.lru_cache(maxsize=None)
def _srgb_icc() -> bytes:
    """One sRGB profile for the whole module: LittleCMS stamps the creation time
    into the header, so two profiles made a second apart differ in byte 35."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _jpeg(im: Image.Image, **options: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90, **options)
    return buf.getvalue()


def _add_thumbnail(exif_payload: bytes, thumbnail: bytes) -> bytes:
    """Append IFD1 with a JPEG thumbnail to an APP1 EXIF payload.

    The TIFF structure (TIFF 6.0 section 2, EXIF 2.32 section 4.5.4): IFD0's
    next-IFD pointer, which Pillow writes as 0, is set to a new IFD1 holding
    Compression = 6 (JPEG), JPEGInterchangeFormat (offset of the thumbnail)
    and JPEGInterchangeFormatLength, followed by the thumbnail bytes. All
    offsets count from the TIFF header.
    """
    assert exif_payload.startswith(b"Exif\x00\x00")
    tiff = bytearray(exif_payload[6:])
    e = "<" if tiff[:2] == b"II" else ">"
    (ifd0,) = struct.unpack_from(e + "I", tiff, 4)
    (count,) = struct.unpack_from(e + "H", tiff, ifd0)
    next_ptr = ifd0 + 2 + 12 * count
    assert struct.unpack_from(e + "I", tiff, next_ptr) == (0,)
    if len(tiff) % 2:
        tiff += b"\x00"  # IFDs start on a word boundary
    ifd1 = len(tiff)
    n = 3
    thumb_at = ifd1 + 2 + 12 * n + 4
    struct.pack_into(e + "I", tiff, next_ptr, ifd1)
    tiff += struct.pack(e + "H", n)
    tiff += struct.pack(e + "HHIHH", 0x0103, 3, 1, 6, 0)  # Compression: JPEG (SHORT)
    tiff += struct.pack(e + "HHII", 0x0201, 4, 1, thumb_at)  # JPEGInterchangeFormat
    tiff += struct.pack(e + "HHII", 0x0202, 4, 1, len(thumbnail))  # ...Length
    tiff += struct.pack(e + "I", 0)
    tiff += thumbnail
    return b"Exif\x00\x00" + bytes(tiff)


def _full_exif(endian: str = ">") -> tuple[bytes, bytes]:
    """An EXIF payload with everything a camera or phone may write, and its thumbnail."""
    exif = Image.Exif()
    exif.endian = endian
    exif[0x010F] = "Canon"
    exif[0x0110] = "Canon EOS R5"
    exif[0x0112] = 6
    exif[0x0132] = "2024:05:01 12:34:56"
    exif[0x013B] = ARTIST
    exif[0x010E] = "Alice's kitchen"
    exif[EXIF_IFD] = {
        0x829A: IFDRational(1, 250),
        0x829D: IFDRational(28, 10),
        0x8827: 400,
        0x9003: "2024:05:01 12:34:56",
        0x9204: IFDRational(-1, 3),
        0x920A: IFDRational(50, 1),
        0xA434: "RF50mm F1.8 STM",
        0xA431: BODY_SERIAL,
        0xA435: LENS_SERIAL,
        0xA430: OWNER,
        0xA420: UNIQUE_ID,
        0x927C: MAKERNOTE,
        0x9286: COMMENT.encode(),
    }
    exif[GPS] = {
        0: b"\x02\x03\x00\x00",
        1: "N",
        2: (IFDRational(52, 1), IFDRational(13, 1), IFDRational(3150, 100)),
        3: "E",
        4: (IFDRational(21, 1), IFDRational(0, 1), IFDRational(4200, 100)),
    }
    thumbnail = _jpeg(_astronaut(64))
    return _add_thumbnail(exif.tobytes(), thumbnail), thumbnail


@pytest.fixture(scope="module")
def exif_and_thumb() -> tuple[bytes, bytes]:
    return _full_exif()


@pytest.fixture(scope="module")
def source(exif_and_thumb: tuple[bytes, bytes]) -> bytes:
    """A JPEG carrying every kind of metadata, in a realistic order."""
    payload, _ = exif_and_thumb
    base = _jpeg(_astronaut(), exif=payload, icc_profile=_srgb_icc())
    # Pillow wrote APP0 JFIF, APP1 EXIF, APP2 ICC; add the rest after JFIF.
    extra = [
        (APP2, MPF),
        (APP1, XMP),
        (APP13, b"Photoshop 3.0\x008BIM\x04\x04\x00\x00\x00\x00\x00\x00"),
        (0xFFE5, b"vendor stuff"),
        (COM, b"shot at 52.2N 21.0E"),
        (APP11, b"JP\x00\x00old picveil data"),
    ]
    return insert_segments(base, extra)


def test_crafted_exif_is_what_it_claims(exif_and_thumb: tuple[bytes, bytes]) -> None:
    """Pillow itself sees the thumbnail, GPS and serials we planted."""
    payload, thumbnail = exif_and_thumb
    exif = Image.Exif()
    exif.load(payload)
    ifd1 = exif.get_ifd(IFD1)
    at, length = ifd1[0x0201], ifd1[0x0202]
    assert payload[6 + at : 6 + at + length] == thumbnail
    with Image.open(io.BytesIO(thumbnail)) as thumb:
        assert thumb.size == (64, 64)
    assert exif.get_ifd(GPS)[1] == "N"
    assert exif.get_ifd(EXIF_IFD)[0xA431] == BODY_SERIAL
    assert exif.get_ifd(EXIF_IFD)[0x927C] == MAKERNOTE


def test_describe_source(source: bytes) -> None:
    info = describe_metadata(source)
    for kind in (
        "exif", "gps", "thumbnail", "serials", "makernote", "xmp", "icc", "mpf",
        "photoshop", "comment", "jfif", "app11",
    ):
        assert info[kind] is True, kind
    assert info["orientation"] == 6
    assert info["other"] == ["APP5"]
    assert info["adobe"] is False and info["exif_unreadable"] is False


def _exif_of(segments: list[tuple[int, bytes]]) -> tuple[bytes, Image.Exif]:
    payloads = [p for m, p in segments if m == APP1 and p.startswith(b"Exif\x00\x00")]
    assert len(payloads) == 1
    exif = Image.Exif()
    exif.load(payloads[0])
    return payloads[0], exif


def test_default_policy(source: bytes, exif_and_thumb: tuple[bytes, bytes]) -> None:
    chosen = select_metadata(source)
    # Only EXIF (rewritten) and the ICC profile, in source order.
    assert [m for m, _ in chosen] == [APP1, APP2]
    assert chosen[1][1].startswith(b"ICC_PROFILE\x00")
    payload, exif = _exif_of(chosen)
    _, thumbnail = exif_and_thumb

    # Gone: thumbnail, GPS, serials, owner, artist, unique id, MakerNote, free text.
    assert exif.get_ifd(IFD1) == {}
    assert thumbnail not in payload and thumbnail[:200] not in payload
    assert GPS not in exif and exif.get_ifd(GPS) == {}
    sub = exif.get_ifd(EXIF_IFD)
    for tag in (0xA431, 0xA435, 0xA430, 0xA420, 0x927C, 0x9286):
        assert tag not in sub
    for secret in (BODY_SERIAL, LENS_SERIAL, OWNER, UNIQUE_ID, ARTIST, "kitchen", "Alice"):
        assert secret.encode() not in payload
    assert b"MAKERNOTE" not in payload
    assert 0x013B not in exif and 0x010E not in exif

    # Kept: orientation, make/model, dates, exposure data, lens model.
    assert exif[0x0112] == 6
    assert exif[0x010F] == "Canon" and exif[0x0110] == "Canon EOS R5"
    assert exif[0x0132] == "2024:05:01 12:34:56"
    assert sub[0x9003] == "2024:05:01 12:34:56"
    assert sub[0x829A] == pytest.approx(1 / 250)
    assert sub[0x829D] == pytest.approx(2.8)
    assert sub[0x9204] == pytest.approx(-1 / 3)
    assert sub[0x8827] == 400
    assert sub[0xA434] == "RF50mm F1.8 STM"


def test_default_output_round_trips_through_pillow(source: bytes) -> None:
    """Written into a fresh JPEG, the cleaned metadata reads back clean."""
    fresh = _jpeg(_astronaut())
    out = insert_segments(fresh, select_metadata(source))
    info = describe_metadata(out)
    assert info["exif"] and info["icc"] and info["jfif"]
    for kind in ("gps", "thumbnail", "serials", "makernote", "xmp", "mpf", "comment",
                 "photoshop", "app11"):
        assert info[kind] is False, kind
    assert info["other"] == []
    with Image.open(io.BytesIO(out)) as im:
        exif = im.getexif()
        assert exif[0x0112] == 6 and exif[0x0110] == "Canon EOS R5"
        assert exif.get_ifd(GPS) == {} and exif.get_ifd(IFD1) == {}
        assert im.info["icc_profile"] == _srgb_icc()
        assert "xmp" not in im.info and "mpinfo" not in im.info
        im.load()
    # The output's own metadata selection is a fixed point.
    assert select_metadata(out) == select_metadata(source)


def test_keep_gps(source: bytes) -> None:
    _, exif = _exif_of(select_metadata(source, MetadataPolicy(keep_gps=True)))
    gps = exif.get_ifd(GPS)
    assert gps[1] == "N" and gps[3] == "E"
    assert gps[2] == pytest.approx((52.0, 13.0, 31.5))
    assert exif.get_ifd(IFD1) == {}  # the thumbnail goes regardless
    assert 0xA431 not in exif.get_ifd(EXIF_IFD)


def test_keep_serials(source: bytes) -> None:
    payload, exif = _exif_of(select_metadata(source, MetadataPolicy(keep_serials=True)))
    sub = exif.get_ifd(EXIF_IFD)
    assert sub[0xA431] == BODY_SERIAL and sub[0xA435] == LENS_SERIAL
    assert sub[0xA430] == OWNER and sub[0xA420] == UNIQUE_ID
    assert sub[0x927C] == MAKERNOTE
    assert exif[0x013B] == ARTIST
    assert GPS not in exif and exif.get_ifd(IFD1) == {}
    assert 0x9286 not in sub  # free text is never kept


def test_keep_all_is_a_verbatim_copy_minus_app11(source: bytes) -> None:
    chosen = select_metadata(source, MetadataPolicy(keep_all=True))
    expected = [
        (s.marker, s.payload)
        for s in read_segments(source)
        if (0xFFE0 <= s.marker <= 0xFFEF or s.marker == COM)
        and s.marker != APP11
        and not (s.marker == 0xFFE0 and s.payload.startswith(b"JFIF\x00"))
    ]
    assert chosen == expected
    kinds = {p[:4] for _, p in chosen}
    assert {b"Exif", b"http", b"MPF\x00", b"ICC_"} <= kinds


@pytest.mark.parametrize(
    "policy",
    [MetadataPolicy(), MetadataPolicy(keep_gps=True, keep_serials=True), MetadataPolicy(keep_all=True)],
)
def test_app11_jfif_adobe_never_returned(source: bytes, policy: MetadataPolicy) -> None:
    cmyk = _jpeg(_astronaut(32).convert("CMYK"))
    for src in (source, insert_segments(cmyk, [(APP11, b"x"), (COM, b"c")])):
        for marker, payload in select_metadata(src, policy):
            assert marker != APP11
            assert not (marker == 0xFFE0 and payload.startswith(b"JFIF"))
            assert not (marker == 0xFFEE and payload.startswith(b"Adobe"))


def test_little_endian_exif_stays_little_endian() -> None:
    payload, _ = _full_exif("<")
    assert payload[6:8] == b"II"
    src = _jpeg(_astronaut(32), exif=payload)
    out, exif = _exif_of(select_metadata(src))
    assert out[6:8] == b"II"
    assert exif[0x0112] == 6 and exif.get_ifd(IFD1) == {} and exif.get_ifd(GPS) == {}


@pytest.mark.parametrize(
    "payload",
    [
        b"Exif\x00\x00MM\x00*\xff\xff\xff\xf0garbage",  # IFD0 offset out of range
        b"Exif\x00\x00XX\x00*\x00\x00\x00\x08",  # not a TIFF header
        b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x05\x01\x0f\x00\x02",  # truncated IFD
    ],
)
def test_unreadable_exif_is_dropped(payload: bytes) -> None:
    src = _jpeg(_astronaut(32), exif=payload)
    assert select_metadata(src) == []
    info = describe_metadata(src)
    assert info["exif"] and info["exif_unreadable"]
    assert exif_orientation(src) == 1


def test_gps_only_exif_leaves_nothing() -> None:
    exif = Image.Exif()
    exif[GPS] = {1: "N"}
    src = _jpeg(_astronaut(32), exif=exif.tobytes())
    assert select_metadata(src) == []


def test_only_first_exif_segment_counts(source: bytes) -> None:
    second = Image.Exif()
    second[0x0112] = 3
    first_exif = next(s for s in read_segments(source) if s.payload.startswith(b"Exif"))
    pos = first_exif.end
    extra = second.tobytes()
    doubled = source[:pos] + struct.pack(">HH", APP1, len(extra) + 2) + extra + source[pos:]
    chosen = select_metadata(doubled)
    assert sum(1 for m, p in chosen if p.startswith(b"Exif")) == 1
    assert exif_orientation(doubled) == 6


def test_exif_orientation() -> None:
    assert exif_orientation(_jpeg(_astronaut(32))) == 1
    for value in (1, 3, 6, 8):
        exif = Image.Exif()
        exif[0x0112] = value
        assert exif_orientation(_jpeg(_astronaut(32), exif=exif.tobytes())) == value
    exif = Image.Exif()
    exif[0x0112] = 9  # out of range
    assert exif_orientation(_jpeg(_astronaut(32), exif=exif.tobytes())) == 1


def test_sanitize_exif_from_pillow_object(exif_and_thumb: tuple[bytes, bytes]) -> None:
    exif = Image.Exif()
    exif.load(exif_and_thumb[0])
    cleaned = sanitize_exif(exif)
    assert cleaned is not None and cleaned.startswith(b"Exif\x00\x00")
    assert BODY_SERIAL.encode() not in cleaned
    assert sanitize_exif(Image.Exif()) is None


def _ifd_entry(tiff: bytes, ifd_offset: int, tag: int) -> int:
    """Index in `tiff` of the 12-byte IFD entry for `tag` (big-endian TIFF)."""
    (count,) = struct.unpack_from(">H", tiff, ifd_offset)
    for i in range(count):
        at = ifd_offset + 2 + 12 * i
        if struct.unpack_from(">H", tiff, at)[0] == tag:
            return at
    raise LookupError(hex(tag))


def test_stretched_count_cannot_smuggle_bytes(exif_and_thumb: tuple[bytes, bytes]) -> None:
    """A kept tag whose count was altered to run over the thumbnail is dropped."""
    payload, thumbnail = exif_and_thumb
    tiff = bytearray(payload[6:])
    exif_ifd = struct.unpack_from(">I", tiff, _ifd_entry(tiff, 8, EXIF_IFD) + 8)[0]
    for tag, count in ((0x9204, 150), (0xA434, 2000)):  # ExposureBias, LensModel
        entry = _ifd_entry(tiff, exif_ifd, tag)
        struct.pack_into(">I", tiff, entry + 4, count)
    src = _jpeg(_astronaut(32), exif=b"Exif\x00\x00" + bytes(tiff))
    seen = Image.Exif()
    seen.load(b"Exif\x00\x00" + bytes(tiff))
    assert len(seen.get_ifd(EXIF_IFD)[0x9204]) == 150  # Pillow reads the stretched value
    out, exif = _exif_of(select_metadata(src))
    sub = exif.get_ifd(EXIF_IFD)
    assert 0x9204 not in sub and 0xA434 not in sub
    assert sub[0x829A] == pytest.approx(1 / 250)  # the rest survives
    assert thumbnail[:32] not in out and thumbnail[-32:] not in out
