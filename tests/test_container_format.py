"""picveil container format v1: vectors, round trips, and the rules of SPEC.md."""

from __future__ import annotations

import json
import runpy
import struct
import sys
from pathlib import Path

import pytest

import picveil.container as container_pkg
from picveil.container import (
    AGE_PREFIX,
    MAX_SEGMENT_PAYLOAD,
    PACKET_CHUNK_SIZE,
    PICVEIL_INSTANCE,
    PICVEIL_UUID,
    ComponentInfo,
    Container,
    ExtraBox,
    Header,
    KeyGroup,
    RegionRecord,
    Wrap,
    decode_container,
    encode_container,
    from_app11_payloads,
    is_picveil_packet,
    to_app11_payloads,
)
from picveil.errors import NoPicveilDataError, TamperedError, UnsupportedVersionError

VECTOR_DIR = Path(container_pkg.__file__).parent / "vectors"
VECTOR_FILES = sorted(VECTOR_DIR.glob("*.json"))
OUTCOMES = {
    TamperedError: "tampered",
    UnsupportedVersionError: "unsupported_version",
    NoPicveilDataError: "no_picveil_data",
}
TAMPERED_MESSAGE = "The picveil data in this image is damaged or was altered."


def load(path: Path) -> tuple[dict, list[bytes]]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    return doc, [bytes.fromhex(h) for h in doc["app11_payloads_hex"]]


def canonical(payloads: list[bytes]) -> list[bytes]:
    """The picveil packets of a payload list, ordered by Z."""
    return sorted((p for p in payloads if is_picveil_packet(p)), key=lambda p: p[4:8])


def outcome(payloads: list[bytes]) -> tuple[str, Container | None]:
    try:
        return "ok", decode_container(payloads)
    except tuple(OUTCOMES) as exc:
        return OUTCOMES[type(exc)], None


def summary(c: Container) -> dict:
    h = c.header
    return {
        "scheme_id": h.scheme_id,
        "width": h.width,
        "height": h.height,
        "mcu": [h.mcu_width, h.mcu_height],
        "components": [[k.id, k.h_samp, k.v_samp] for k in h.components],
        "regions": [[r.x, r.y, r.w, r.h, r.group, r.look] for r in h.regions],
        "groups": len(c.groups),
        "wraps": [[[w.kind, len(w.data)] for w in g.wraps] for g in c.groups],
        "extras": [e.box_type.decode("latin-1") for e in c.extras],
    }


def salt(i: int) -> bytes:
    return bytes([i]) * 16


def small_container(**header_overrides) -> Container:
    fields = dict(
        scheme_id=1,
        width=640,
        height=480,
        mcu_width=16,
        mcu_height=16,
        components=(ComponentInfo(1, 2, 2), ComponentInfo(2, 1, 1), ComponentInfo(3, 1, 1)),
        file_salt=salt(0xF),
        regions=(
            RegionRecord(0, 0, 2, 2, 0, 0, salt(1)),
            RegionRecord(2, 0, 2, 2, 1, 0, salt(2)),
            RegionRecord(0, 2, 1, 1, 0, 0, salt(3)),
        ),
    )
    fields.update(header_overrides)
    header = Header(**fields)
    return Container(
        header,
        (
            KeyGroup(0, (Wrap(1, AGE_PREFIX + b"a"), Wrap(2, AGE_PREFIX + b"b")), b"H" * 32, (b"r" * 32, b"s" * 32)),
            KeyGroup(1, (Wrap(1, AGE_PREFIX + b"c"),), b"I" * 32, (b"t" * 32,)),
        ),
        (ExtraBox(b"pvxt", b"later"),),
    )


# --- vectors -------------------------------------------------------------------------------
def test_vector_set_is_complete() -> None:
    expected = [json.loads(p.read_text())["expected"] for p in VECTOR_FILES]
    assert expected.count("ok") >= 5
    assert len(expected) - expected.count("ok") >= 10
    assert set(expected) == {"ok", "tampered", "unsupported_version", "no_picveil_data"}


@pytest.mark.parametrize("path", VECTOR_FILES, ids=lambda p: p.stem)
def test_vector(path: Path) -> None:
    doc, payloads = load(path)
    assert set(doc) >= {"description", "app11_payloads_hex", "expected"}
    got, parsed = outcome(payloads)
    assert got == doc["expected"], doc["description"]
    if got == "ok":
        assert summary(parsed) == doc["parsed"]
        assert encode_container(parsed) == canonical(payloads)
        assert parsed.header.raw == parsed.header.to_bytes()
        assert decode_container(encode_container(parsed)) == parsed


@pytest.mark.parametrize("path", VECTOR_FILES, ids=lambda p: p.stem)
def test_vector_errors_are_opaque(path: Path) -> None:
    doc, payloads = load(path)
    if doc["expected"] == "tampered":
        with pytest.raises(TamperedError) as info:
            decode_container(payloads)
        assert str(info.value) == TAMPERED_MESSAGE
        assert info.value.__cause__ is None and info.value.__suppress_context__


def test_vectors_are_reproducible(tmp_path: Path) -> None:
    script = VECTOR_DIR / "make_vectors.py"
    argv = sys.argv
    sys.argv = [str(script), "--out", str(tmp_path)]
    try:
        runpy.run_path(str(script), run_name="__main__")
    finally:
        sys.argv = argv
    made = sorted(p.name for p in tmp_path.glob("*.json"))
    assert made == [p.name for p in VECTOR_FILES]
    for name in made:
        assert (tmp_path / name).read_bytes() == (VECTOR_DIR / name).read_bytes(), name


# --- round trips -------------------------------------------------------------------------------
def test_round_trip_small() -> None:
    c = small_container()
    payloads = encode_container(c)
    assert len(payloads) == 1
    assert decode_container(payloads) == c
    assert encode_container(decode_container(payloads)) == payloads
    assert Container.from_jumbf(c.to_jumbf()).to_jumbf() == c.to_jumbf()
    assert Header.from_bytes(c.header.to_bytes()) == c.header


def test_header_layout_matches_spec_table() -> None:
    h = small_container().header
    body = h.to_bytes()
    assert body[:12] == struct.pack(">BHHHHBBB", 1, 1, 0, 640, 480, 16, 16, 3)
    assert body[12:21] == bytes([1, 2, 2, 2, 1, 1, 3, 1, 1])
    assert body[21:37] == salt(0xF)
    assert body[37:39] == b"\x00\x03"
    assert body[39:65] == struct.pack(">HHHHBB", 0, 0, 2, 2, 0, 0) + salt(1)
    assert len(body) == 39 + 3 * 26


def test_jumbf_layout() -> None:
    jumbf = small_container().to_jumbf()
    assert int.from_bytes(jumbf[:4], "big") == len(jumbf)
    assert jumbf[4:8] == b"jumb"
    assert jumbf[8:16] == b"\x00\x00\x00\x21jumd"
    assert jumbf[16:32] == PICVEIL_UUID
    assert jumbf[32:41] == b"\x03picveil\x00"
    assert jumbf[41:49] == (8 + 39 + 3 * 26).to_bytes(4, "big") + b"pvhd"


def test_regions_of() -> None:
    c = small_container()
    assert c.regions_of(0) == [0, 2]
    assert c.regions_of(1) == [1]
    assert c.regions_of(5) == []


def test_parsed_header_keeps_raw_bytes() -> None:
    body = small_container().header.to_bytes()
    parsed = Header.from_bytes(bytearray(body))
    assert parsed.raw == body and type(parsed.raw) is bytes


def test_block_geometry() -> None:
    # 4:2:0, 100x37: Y is 13x5 blocks, chroma 50x19 px -> 7x3 blocks; MCU grid 7x3.
    h = Header(
        1, 100, 37, 16, 16,
        (ComponentInfo(1, 2, 2), ComponentInfo(2, 1, 1), ComponentInfo(3, 1, 1)),
        salt(0),
        (RegionRecord(5, 1, 2, 2, 0, 0, salt(1)),),
    )  # fmt: skip
    assert (h.mcu_cols, h.mcu_rows) == (7, 3)
    assert h.component_blocks(0) == (13, 5)
    assert h.component_blocks(1) == (7, 3)
    assert h.region_blocks(0, 0) == (10, 2, 13, 5)  # clipped from (14, 6)
    assert h.region_blocks(0, 1) == (5, 1, 7, 3)


# --- transport -------------------------------------------------------------------------------------
def big_container(wrap_size: int) -> Container:
    c = small_container()
    g0 = KeyGroup(0, (Wrap(1, AGE_PREFIX + bytes(wrap_size)),), c.groups[0].header_tag, c.groups[0].region_tags)
    return Container(c.header, (g0, c.groups[1]), c.extras)


@pytest.mark.parametrize("extra", [-1, 0, 1])
def test_packet_boundaries(extra: int) -> None:
    base = len(big_container(0).to_jumbf()) - 8
    c = big_container(PACKET_CHUNK_SIZE - base + extra)
    jumbf = c.to_jumbf()
    payloads = to_app11_payloads(jumbf)
    assert len(jumbf) - 8 == PACKET_CHUNK_SIZE + extra
    assert len(payloads) == (2 if extra > 0 else 1)
    assert len(payloads[0]) == (MAX_SEGMENT_PAYLOAD if extra >= 0 else MAX_SEGMENT_PAYLOAD - 1)
    for z, p in enumerate(payloads, start=1):
        assert p[:16] == b"JP" + struct.pack(">HII", PICVEIL_INSTANCE, z, len(jumbf)) + b"jumb"
    assert from_app11_payloads(payloads) == jumbf
    assert decode_container(payloads) == c


def test_multi_packet_faults() -> None:
    payloads = encode_container(big_container(200_000))
    assert len(payloads) == 4
    assert decode_container(payloads[::-1]) == decode_container(payloads)
    lbox = payloads[0][8:12]
    bad_lbox = payloads[1][:8] + (int.from_bytes(lbox, "big") + 1).to_bytes(4, "big") + payloads[1][12:]
    cases = {
        "missing middle": payloads[:1] + payloads[2:],
        "missing last": payloads[:-1],
        "duplicate": payloads + payloads[1:2],
        "inconsistent LBox": payloads[:1] + [bad_lbox] + payloads[2:],
        "short middle": payloads[:1] + [payloads[1][:-1]] + payloads[2:],
        "bad CI in middle": payloads[:1] + [b"JQ" + payloads[1][2:]] + payloads[2:],
        "extra packet": payloads + [payloads[-1][:4] + (5).to_bytes(4, "big") + payloads[-1][8:]],
        "oversized packet": payloads[:1] + [payloads[1] + b"x"] + payloads[2:],
    }
    for name, case in cases.items():
        with pytest.raises(TamperedError):
            decode_container(case)
        assert name


def test_non_full_middle_packet_is_rejected() -> None:
    jumbf = big_container(100_000).to_jumbf()
    content = jumbf[8:]
    split = [content[:1000], content[1000 : 1000 + PACKET_CHUNK_SIZE], content[1000 + PACKET_CHUNK_SIZE :]]
    payloads = [
        b"JP" + struct.pack(">HI", PICVEIL_INSTANCE, z) + jumbf[:8] + chunk for z, chunk in enumerate(split, 1)
    ]
    with pytest.raises(TamperedError):
        decode_container(payloads)


def test_foreign_box_under_our_instance_is_not_ours() -> None:
    # Another product's JUMBF using En 0x5056, split its own (non-canonical) way.
    foreign_content = b"\x00\x00\x00\x1fjumd" + bytes(range(16)) + b"\x03abc\x00" + b"\x00\x00\x00\x0cjson{}{}"
    lbox = (8 + len(foreign_content)).to_bytes(4, "big")
    head = b"JP" + PICVEIL_INSTANCE.to_bytes(2, "big")
    payloads = [
        head + (1).to_bytes(4, "big") + lbox + b"jumb" + foreign_content[:30],
        head + (2).to_bytes(4, "big") + lbox + b"jumb" + foreign_content[30:],
    ]
    with pytest.raises(NoPicveilDataError) as info:
        decode_container(payloads)
    assert str(info.value) == "This image carries no picveil data."


def test_other_app11_payloads_are_ignored() -> None:
    payloads = encode_container(small_container())
    noise = [b"", b"J", b"JP", b"JP\x00\x01" + bytes(40), b"XMP stuff", b"JPX"]
    assert decode_container(noise + payloads + noise) == small_container()


def test_from_jumbf_rejects_other_uuid_as_no_data() -> None:
    jumbf = bytearray(small_container().to_jumbf())
    jumbf[16] ^= 1
    with pytest.raises(NoPicveilDataError):
        Container.from_jumbf(bytes(jumbf))


@pytest.mark.parametrize(
    "jumbf",
    [b"", b"\x00\x00\x00\x08jumb", b"\x00\x00\x00\x09jumd\x00", b"\x00\x00\x00\x09jumb\x00extra", b"\x00\x00\x00\x07jumb"],
)
def test_to_app11_payloads_rejects_non_superbox(jumbf: bytes) -> None:
    with pytest.raises(ValueError):
        to_app11_payloads(jumbf)


# --- header-level parse errors ------------------------------------------------------------------------
def test_header_version_checked_before_length() -> None:
    with pytest.raises(UnsupportedVersionError):
        Header.from_bytes(b"\x02")
    with pytest.raises(UnsupportedVersionError):
        Header.from_bytes(b"\x01\x00\x01\x80\x00")
    for body in (b"", b"\x01", b"\x01\x00\x01\x00"):
        with pytest.raises(TamperedError):
            Header.from_bytes(body)


def test_header_huge_region_count_is_rejected_cheaply() -> None:
    body = small_container().header.to_bytes()
    mutated = body[:37] + b"\xff\xff" + body[39:]
    with pytest.raises(TamperedError):
        Header.from_bytes(mutated)


# --- writer validation (ValueError) ---------------------------------------------------------------------
GOOD_REGION = dict(x=0, y=0, w=1, h=1, group=0, look=0, salt=salt(1))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"x": -1}, {"x": 65536}, {"w": 0}, {"h": 0}, {"group": 256}, {"look": -1},
        {"salt": b"short"}, {"salt": "not bytes" * 2}, {"w": True}, {"x": 1.0},
    ],
)  # fmt: skip
def test_region_record_validation(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        RegionRecord(**{**GOOD_REGION, **kwargs})


@pytest.mark.parametrize(
    "kwargs",
    [
        {"version": 2},
        {"flags": 1},
        {"width": 0},
        {"height": 70000},
        {"mcu_width": 12},
        {"mcu_width": 8},  # inconsistent with h_samp 2
        {"components": ()},
        {"components": (ComponentInfo(1, 1, 1), ComponentInfo(1, 1, 1))},
        {"components": (ComponentInfo(1, 2, 2),)},  # single component must be 1x1
        {"file_salt": bytes(15)},
        {"regions": ()},
        {"regions": (RegionRecord(39, 0, 2, 1, 0, 0, salt(1)),)},  # 40 MCU columns
        {"regions": (RegionRecord(0, 29, 1, 2, 0, 0, salt(1)),)},  # 30 MCU rows
        {"regions": (RegionRecord(0, 0, 3, 3, 0, 0, salt(1)), RegionRecord(2, 2, 1, 1, 0, 0, salt(2)))},
        {"regions": ("not a region",)},
        {"scheme_id": 1 << 16},
    ],
)
def test_header_validation(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        small_container(**kwargs)


def test_adjacent_regions_do_not_overlap() -> None:
    regions = (
        RegionRecord(0, 0, 2, 2, 0, 0, salt(1)),
        RegionRecord(2, 0, 2, 2, 1, 0, salt(2)),
        RegionRecord(0, 2, 1, 1, 0, 0, salt(3)),
    )
    assert small_container(regions=regions).header.regions == regions


def test_wrap_keygroup_extra_validation() -> None:
    with pytest.raises(ValueError):
        Wrap(1, b"age-encryption.org/v2\n")
    with pytest.raises(ValueError):
        Wrap(256, b"")
    assert Wrap(9, b"").data == b""
    with pytest.raises(ValueError):
        KeyGroup(0, (), b"H" * 32, ())
    with pytest.raises(ValueError):
        KeyGroup(0, (Wrap(9, b""),), b"H" * 31, ())
    with pytest.raises(ValueError):
        KeyGroup(0, (Wrap(9, b""),), b"H" * 32, (b"x",))
    for box_type in (b"pvkg", b"pvhd", b"jumd", b"jumb", b"abc", b"abcde"):
        with pytest.raises(ValueError):
            ExtraBox(box_type, b"")


def test_container_validation() -> None:
    c = small_container()
    g0, g1 = c.groups
    with pytest.raises(ValueError):
        Container(c.header, ())
    with pytest.raises(ValueError):
        Container(c.header, (g1, g0))  # indices out of order
    with pytest.raises(ValueError):
        Container(c.header, (g0,))  # region 1 refers to group 1
    with pytest.raises(ValueError):
        Container(c.header, (g0, g1, KeyGroup(2, g1.wraps, g1.header_tag, ())))  # group 2 has no region
    with pytest.raises(ValueError):
        Container(c.header, (g0, KeyGroup(1, g1.wraps, g1.header_tag, ())))  # tag count
    with pytest.raises(ValueError):
        Container(c.header, c.groups, (b"pvxt",))


def test_sequences_are_normalised_to_tuples() -> None:
    c = small_container()
    h = c.header
    h2 = Header(h.scheme_id, h.width, h.height, h.mcu_width, h.mcu_height, list(h.components),
                bytearray(h.file_salt), list(h.regions))  # fmt: skip
    assert h2 == h and isinstance(h2.regions, tuple) and type(h2.file_salt) is bytes
    assert hash(h2) == hash(h)
