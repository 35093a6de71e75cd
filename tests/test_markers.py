"""Tests for picveil.jpeg.markers: the header walk, insertion and removal."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageCms
from skimage import data as skdata

from picveil.errors import CorruptImageError, NotAnImageError, PicveilError
from picveil.jpeg.markers import (
    APP0,
    APP11,
    APP14,
    COM,
    MARKERS,
    MAX_PAYLOAD,
    SOS,
    Segment,
    app11_payloads,
    encode_segment,
    insert_segments,
    marker_name,
    read_segments,
    remove_segments,
    sos_offset,
)

APP1, APP2 = 0xFFE1, 0xFFE2


def _astronaut() -> Image.Image:
    return Image.fromarray(skdata.astronaut())


def _srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


@pytest.fixture(scope="module")
def jpeg_exif_icc() -> bytes:
    """A real JPEG as Pillow writes it, with EXIF and an ICC profile."""
    exif = Image.Exif()
    exif[0x010F] = "picveil-test"
    exif[0x0112] = 1
    buf = io.BytesIO()
    _astronaut().save(buf, "JPEG", quality=90, exif=exif.tobytes(), icc_profile=_srgb_icc())
    return buf.getvalue()


@pytest.fixture(scope="module")
def plain_jpeg() -> bytes:
    buf = io.BytesIO()
    _astronaut().save(buf, "JPEG", quality=90)
    return buf.getvalue()


def _pixels(jpeg: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(jpeg)) as im:
        return np.asarray(im.convert("RGB"))


def _seg(marker: int, payload: bytes) -> bytes:
    return struct.pack(">HH", marker, len(payload) + 2) + payload


# --- the walk ------------------------------------------------------------------
def test_walk_pillow_jpeg(jpeg_exif_icc: bytes) -> None:
    segs = read_segments(jpeg_exif_icc)
    names = [s.name for s in segs]
    assert names[:3] == ["APP0", "APP1", "APP2"]
    assert "SOF0" in names and "DQT" in names and "DHT" in names
    assert segs[0].payload.startswith(b"JFIF\x00")
    assert segs[1].payload.startswith(b"Exif\x00\x00")
    assert segs[2].payload.startswith(b"ICC_PROFILE\x00")
    # Offsets point at the marker; segments tile the header exactly.
    pos = 2
    for s in segs:
        assert s.offset == pos
        assert jpeg_exif_icc[s.offset : s.offset + 2] == s.marker.to_bytes(2, "big")
        length = int.from_bytes(jpeg_exif_icc[s.offset + 2 : s.offset + 4], "big")
        assert length == len(s.payload) + 2
        pos = s.end
    assert sos_offset(jpeg_exif_icc) == pos
    assert jpeg_exif_icc[pos : pos + 2] == b"\xff\xda"


def test_marker_table() -> None:
    assert MARKERS[0xFFD8][0] == "SOI"
    assert MARKERS[0xFFC2] == ("SOF2", "Progressive DCT, Huffman")
    assert MARKERS[APP11][0] == "APP11"
    assert MARKERS[SOS][0] == "SOS"
    assert all(name for name, _ in MARKERS.values())
    assert marker_name(0xFF50) == "RES"
    assert marker_name(0x1234) == "0x1234"


def test_fill_bytes_stray_bytes_and_standalone(plain_jpeg: bytes) -> None:
    body = plain_jpeg[2:]
    crafted = (
        b"\xff\xd8"
        + b"\xff\xff\xff"  # fill bytes before a marker (T.81 B.1.1.2)
        + _seg(COM, b"hello")
        + b"\xff\xd0"  # RST0, standalone
        + b"\xff\x01"  # TEM, standalone
        + b"\x00\x13"  # stray bytes, skipped as libjpeg does
        + b"\xff\x00"  # stuffed zero, skipped too
        + body
    )
    segs = read_segments(crafted)
    assert [s.name for s in segs[:3]] == ["COM", "RST0", "TEM"]
    assert segs[0].offset == 5 and segs[0].payload == b"hello"
    assert segs[1].payload == b"" and segs[1].end == segs[1].offset + 2
    assert remove_segments(crafted, lambda s: False) == crafted
    # Removing the COM keeps the fill bytes and everything else.
    without = remove_segments(crafted, lambda s: s.marker == COM)
    assert without == crafted.replace(_seg(COM, b"hello"), b"")
    # libjpeg (here through OpenCV) walks the same way and decodes the same
    # pixels. (Pillow's own header parser is stricter: it rejects TEM and
    # stray bytes.)
    cv2 = pytest.importorskip("cv2")
    decode = lambda b: cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_UNCHANGED)  # noqa: E731
    assert np.array_equal(decode(crafted), decode(plain_jpeg))


@pytest.mark.parametrize(
    "data", [b"", b"\xff", b"\x89PNG\r\n\x1a\n", b"GIF89a....", b"\xd8\xff\xe0"]
)
def test_not_a_jpeg(data: bytes) -> None:
    with pytest.raises(NotAnImageError):
        read_segments(data)


def test_every_truncation_is_corrupt(jpeg_exif_icc: bytes) -> None:
    end = sos_offset(jpeg_exif_icc) + 1
    for cut in range(2, end + 1):
        with pytest.raises(CorruptImageError):
            read_segments(jpeg_exif_icc[:cut])


def test_lying_lengths(plain_jpeg: bytes) -> None:
    app0 = read_segments(plain_jpeg)[0]
    for bad in (0, 1, 0xFFFF):
        data = bytearray(plain_jpeg[:200])
        data[app0.offset + 2 : app0.offset + 4] = bad.to_bytes(2, "big")
        with pytest.raises(CorruptImageError):
            read_segments(bytes(data))
    # A length running past the end of a whole file.
    data = bytearray(plain_jpeg)
    last = read_segments(plain_jpeg)[-1]
    data[last.offset + 2 : last.offset + 4] = b"\xff\xff"
    with pytest.raises(CorruptImageError):
        read_segments(bytes(data[: last.offset + 100]))


def test_eoi_before_sos_is_corrupt() -> None:
    with pytest.raises(CorruptImageError):
        read_segments(b"\xff\xd8" + _seg(COM, b"x") + b"\xff\xd9")
    with pytest.raises(CorruptImageError):
        read_segments(b"\xff\xd8\xff\xd8" + _seg(COM, b"x"))


# --- insertion -------------------------------------------------------------------
def test_insert_after_jfif_decodes_identically(jpeg_exif_icc: bytes) -> None:
    new = insert_segments(jpeg_exif_icc, [(APP11, b"picveil-1"), (APP11, b"picveil-2")])
    segs = read_segments(new)
    assert segs[0].marker == APP0 and segs[0].payload.startswith(b"JFIF")
    assert [(s.marker, s.payload) for s in segs[1:3]] == [(APP11, b"picveil-1"), (APP11, b"picveil-2")]
    assert segs[3].payload.startswith(b"Exif")
    assert app11_payloads(new) == [b"picveil-1", b"picveil-2"]
    assert app11_payloads(jpeg_exif_icc) == []
    assert np.array_equal(_pixels(new), _pixels(jpeg_exif_icc))
    # ... and removing them gives back the original bytes.
    assert remove_segments(new, lambda s: s.marker == APP11) == jpeg_exif_icc


def test_insert_after_adobe() -> None:
    buf = io.BytesIO()
    _astronaut().convert("CMYK").resize((64, 64)).save(buf, "JPEG", quality=90)
    cmyk = buf.getvalue()
    first = read_segments(cmyk)[0]
    assert first.marker == APP14 and first.payload.startswith(b"Adobe")
    new = insert_segments(cmyk, [(APP11, b"x")])
    segs = read_segments(new)
    assert segs[0].marker == APP14 and segs[1].marker == APP11


def test_insert_into_bare_jpeg_goes_after_soi(plain_jpeg: bytes) -> None:
    bare = remove_segments(plain_jpeg, lambda s: s.marker == APP0)
    new = insert_segments(bare, [(COM, b"c")])
    assert new == b"\xff\xd8" + _seg(COM, b"c") + bare[2:]


def test_insert_limits(plain_jpeg: bytes) -> None:
    ok = insert_segments(plain_jpeg, [(APP11, b"\x00" * MAX_PAYLOAD)])
    assert app11_payloads(ok) == [b"\x00" * MAX_PAYLOAD]
    with pytest.raises(ValueError, match="65533"):
        insert_segments(plain_jpeg, [(APP11, b"\x00" * (MAX_PAYLOAD + 1))])
    with pytest.raises(ValueError):
        insert_segments(plain_jpeg, [(0xFFDB, b"\x00")])  # DQT is not metadata
    with pytest.raises(ValueError):
        encode_segment(SOS, b"")


def test_remove_nothing_is_identity(jpeg_exif_icc: bytes) -> None:
    assert remove_segments(jpeg_exif_icc, lambda s: False) == jpeg_exif_icc


def test_remove_metadata_keeps_pixels(jpeg_exif_icc: bytes) -> None:
    stripped = remove_segments(jpeg_exif_icc, lambda s: s.marker in (APP1, APP2))
    assert [s.marker for s in read_segments(stripped)].count(APP1) == 0
    assert np.array_equal(_pixels(stripped), _pixels(jpeg_exif_icc))
    # Only header segments are offered to the predicate.
    offered: list[Segment] = []
    remove_segments(jpeg_exif_icc, lambda s: offered.append(s) or False)
    assert offered == read_segments(jpeg_exif_icc)


# --- fuzzing -------------------------------------------------------------------
_mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10**6), st.integers(0, 255)),
    st.tuples(st.just("insert"), st.integers(0, 10**6), st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("delete"), st.integers(0, 10**6), st.integers(1, 8)),
    st.tuples(st.just("truncate"), st.integers(0, 10**6), st.just(0)),
)


def _mutate(data: bytes, mutations: list[tuple[str, int, object]]) -> bytes:
    buf = bytearray(data)
    for kind, where, arg in mutations:
        i = where % (len(buf) + 1)
        if kind == "flip" and i < len(buf):
            buf[i] = int(arg)  # type: ignore[arg-type]
        elif kind == "insert":
            buf[i:i] = arg  # type: ignore[assignment]
        elif kind == "delete":
            del buf[i : i + int(arg)]  # type: ignore[arg-type]
        elif kind == "truncate":
            del buf[i:]
    return bytes(buf)


@pytest.fixture(scope="module")
def header_sample() -> bytes:
    """A real header (small JPEG with EXIF + ICC) plus the start of its scan."""
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    _astronaut().resize((32, 32)).save(buf, "JPEG", exif=exif.tobytes(), icc_profile=b"\x00" * 300)
    data = buf.getvalue()
    return data[: sos_offset(data) + 40]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutations=st.lists(_mutation, min_size=1, max_size=6))
def test_fuzz_read_segments(header_sample: bytes, mutations: list) -> None:
    data = _mutate(header_sample, mutations)
    try:
        segs = read_segments(data)
    except PicveilError:
        return
    # Whatever parses must round-trip byte for byte.
    assert remove_segments(data, lambda s: False) == data
    for s in segs:
        assert s.end <= len(data)
    tag = b"picveil-fuzz-unique-\x00\x01"
    grown = insert_segments(data, [(APP11, tag)])
    assert tag in app11_payloads(grown)
    assert remove_segments(grown, lambda s: s.marker == APP11 and s.payload == tag) == data
