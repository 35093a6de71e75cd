"""picveil container format, version 1: bytes <-> frozen dataclasses.

This module is the executable form of ``SPEC.md`` (same folder); the SPEC is
normative and this code follows it section by section. It does no I/O and
imports no cryptography: it turns the APP11 payloads of a JPEG into a
:class:`Container` and back, and it checks every structural rule of the SPEC.

Two kinds of failure, on purpose kept apart:

* A **writer** that builds a dataclass with an impossible value gets a
  :class:`ValueError` naming the field and what was expected.
* A **parser** given malformed bytes raises :class:`~picveil.errors.TamperedError`
  with one opaque message, whatever the check that failed;
  :class:`~picveil.errors.UnsupportedVersionError` for a ``format_version``
  other than 1 or non-zero ``flags``; :class:`~picveil.errors.NoPicveilDataError`
  when the payloads hold no picveil container. Nothing else escapes.

The encoding is canonical: every value has exactly one byte form and parsers
reject all others, so ``parse(serialise(x)) == x`` and
``serialise(parse(b)) == b`` for every ``b`` that parses.
"""

from __future__ import annotations

import bisect
import struct
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import NoReturn

from picveil.errors import NoPicveilDataError, TamperedError, UnsupportedVersionError

# --- constants (SPEC §2) ------------------------------------------------------
FORMAT_VERSION = 1
"""The only ``format_version`` this module reads and writes."""

PICVEIL_UUID = bytes.fromhex("f4d49211cfba4883aecae3d3a7013ca8")
"""JUMBF content-type UUID of a picveil superbox (f4d49211-cfba-4883-aeca-e3d3a7013ca8)."""

PICVEIL_LABEL = "picveil"
PICVEIL_INSTANCE = 0x5056
"""JPEG XT box instance number (``En``) of picveil's APP11 packets ("PV")."""

MAX_SEGMENT_PAYLOAD = 65533
"""Largest APP11 payload: 65535 (segment length field) minus its own 2 bytes."""

APP11_CI = b"JP"
PACKET_HEADER_SIZE = 16
"""CI(2) En(2) Z(4) LBox(4) TBox(4)."""
PACKET_CHUNK_SIZE = MAX_SEGMENT_PAYLOAD - PACKET_HEADER_SIZE
"""Superbox content bytes carried by every packet but the last (65517)."""

BOX_JUMB = b"jumb"
BOX_JUMD = b"jumd"
BOX_HEADER = b"pvhd"
BOX_KEYGROUP = b"pvkg"
BOX_ROBUST_UNDO = b"pvru"  #: extra box: undoes the robust in-image header (SPEC §4.4)
RESERVED_BOX_TYPES = frozenset({BOX_JUMB, BOX_JUMD, BOX_HEADER, BOX_KEYGROUP})
"""Box types that cannot be used for an :class:`ExtraBox`."""

JUMD_TOGGLES = 0x03
"""requestable (0x01) | label present (0x02); picveil v1 sets no other bit."""
JUMD_BODY = PICVEIL_UUID + bytes([JUMD_TOGGLES]) + PICVEIL_LABEL.encode("ascii") + b"\x00"

SCHEME_SCRAMBLE_V1 = 1
LOOK_SCRAMBLE = 0

WRAP_AGE_X25519 = 1
WRAP_AGE_SCRYPT = 2
AGE_WRAP_KINDS = frozenset({WRAP_AGE_X25519, WRAP_AGE_SCRYPT})
AGE_PREFIX = b"age-encryption.org/v1\n"

SALT_SIZE = 16
TAG_SIZE = 32
KEY_SIZE = 32
"""Size of a group key K (what the age files wrap)."""

MCU_SIZES = (8, 16, 24, 32)
MAX_SAMPLING = 4
MAX_COMPONENTS = 4

# Labels for the key schedule and tags (SPEC §6). Computing them is the
# crypto package's job; the byte strings belong to the format, so they live here.
MAC_KEY_INFO = b"picveil v1 mac"
HEADER_TAG_PREFIX = b"picveil v1 header\x00"
REGION_TAG_PREFIX = b"picveil v1 region\x00"
REGION_KEY_INFO = b"picveil v1 region"

TAMPERED_MESSAGE = "The picveil data in this image is damaged or was altered."
NO_DATA_MESSAGE = "This image carries no picveil data."

_U8 = 0xFF
_U16 = 0xFFFF
_U32 = 0xFFFFFFFF
_BOX_HEADER_SIZE = 8
_REGION_SIZE = 4 * 2 + 1 + 1 + SALT_SIZE


# --- helpers ----------------------------------------------------------------------
class _Malformed(Exception):
    """Internal: raised by the reader; turned into TamperedError at the API edge."""


def _tampered() -> TamperedError:
    return TamperedError(TAMPERED_MESSAGE)


def _fail() -> NoReturn:
    raise _Malformed


class _Reader:
    """Bounds-checked big-endian reader over an immutable byte string."""

    __slots__ = ("_data", "_pos", "_end")

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0
        self._end = len(data)

    @property
    def remaining(self) -> int:
        return self._end - self._pos

    def take(self, n: int) -> bytes:
        if n < 0 or n > self._end - self._pos:
            _fail()
        out = self._data[self._pos : self._pos + n]
        self._pos += n
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "big")

    def u32(self) -> int:
        return int.from_bytes(self.take(4), "big")

    def expect_end(self) -> None:
        if self._pos != self._end:
            _fail()


def _as_bytes(value: object, name: str) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise ValueError(f"{name} must be bytes, got {type(value).__name__}.")


def _check_int(value: object, name: str, lo: int, hi: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{name} must be an int, got {type(value).__name__}.")
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be in {lo}..{hi}, got {value}.")


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)


def _box(box_type: bytes, body: bytes) -> bytes:
    size = _BOX_HEADER_SIZE + len(body)
    if size > _U32:
        raise ValueError(f"A {box_type!r} box of {size} bytes does not fit a 32-bit LBox.")
    return size.to_bytes(4, "big") + box_type + body


def _split_boxes(data: bytes) -> list[tuple[bytes, bytes]]:
    """Split ``data`` into (type, body) pairs; the boxes must fill it exactly."""
    boxes = []
    r = _Reader(data)
    while r.remaining:
        size = r.u32()
        box_type = r.take(4)
        if size < _BOX_HEADER_SIZE:  # 0 (to end), 1 (XLBox) and 2..7 are not used
            _fail()
        boxes.append((box_type, r.take(size - _BOX_HEADER_SIZE)))
    return boxes


def _region_counts(header: Header) -> Counter[int]:
    return Counter(r.group for r in header.regions)


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _find_overlap(rects: Sequence[tuple[int, int, int, int]]) -> tuple[int, int] | None:
    """Indices of two overlapping ``(x, y, w, h)`` rectangles, or None.

    Sweep over x with the y-intervals of the active rectangles kept sorted;
    while no overlap has been found the active intervals are disjoint, so a
    new one only needs comparing with its two neighbours. O(n log n) compares.
    """
    events = []
    for i, (x, _y, w, _h) in enumerate(rects):
        events.append((x + w, 0, i))  # removals sort before insertions at equal x
        events.append((x, 1, i))
    events.sort()
    starts: list[int] = []  # sorted y starts of active rectangles
    owners: list[int] = []
    for _coord, kind, i in events:
        y0 = rects[i][1]
        y1 = y0 + rects[i][3]
        if kind == 0:
            # Active intervals are disjoint and non-empty, so their starts are unique.
            pos = bisect.bisect_left(starts, y0)
            del starts[pos], owners[pos]
            continue
        pos = bisect.bisect_left(starts, y0)
        if pos < len(starts) and starts[pos] < y1:
            return owners[pos], i
        if pos > 0:
            prev = owners[pos - 1]
            if rects[prev][1] + rects[prev][3] > y0:
                return prev, i
        starts.insert(pos, y0)
        owners.insert(pos, i)
    return None


# --- dataclasses (SPEC §5, §6) ----------------------------------------------------------
@dataclass(frozen=True)
class ComponentInfo:
    """One image component as in the JPEG frame header: ``id`` and sampling factors (1..4)."""

    id: int
    h_samp: int
    v_samp: int

    def __post_init__(self) -> None:
        _check_int(self.id, "ComponentInfo.id", 0, _U8)
        _check_int(self.h_samp, "ComponentInfo.h_samp", 1, MAX_SAMPLING)
        _check_int(self.v_samp, "ComponentInfo.v_samp", 1, MAX_SAMPLING)


@dataclass(frozen=True)
class RegionRecord:
    """A protected rectangle in MCU units, its key group, look and 16-byte salt."""

    x: int
    y: int
    w: int
    h: int
    group: int
    look: int
    salt: bytes

    def __post_init__(self) -> None:
        _check_int(self.x, "RegionRecord.x", 0, _U16)
        _check_int(self.y, "RegionRecord.y", 0, _U16)
        _check_int(self.w, "RegionRecord.w", 1, _U16)
        _check_int(self.h, "RegionRecord.h", 1, _U16)
        _check_int(self.group, "RegionRecord.group", 0, _U8)
        _check_int(self.look, "RegionRecord.look", 0, _U8)
        salt = _as_bytes(self.salt, "RegionRecord.salt")
        if len(salt) != SALT_SIZE:
            raise ValueError(f"RegionRecord.salt must be {SALT_SIZE} bytes, got {len(salt)}.")
        _set(self, "salt", salt)


@dataclass(frozen=True)
class Header:
    """The ``pvhd`` box: image geometry, components, file salt and regions.

    ``mcu_width``/``mcu_height`` are in pixels and MUST equal 8 times the
    largest horizontal/vertical sampling factor; a single-component image
    records sampling 1x1 (its scan is non-interleaved, one block per MCU).
    Region coordinates are in MCUs. :attr:`raw` is the exact body bytes,
    which is what the header tag authenticates.
    """

    scheme_id: int
    width: int
    height: int
    mcu_width: int
    mcu_height: int
    components: tuple[ComponentInfo, ...]
    file_salt: bytes
    regions: tuple[RegionRecord, ...]
    version: int = FORMAT_VERSION
    flags: int = 0

    def __post_init__(self) -> None:
        if type(self.version) is not int or self.version != FORMAT_VERSION:
            raise ValueError(f"Header.version must be {FORMAT_VERSION}, got {self.version!r}.")
        if type(self.flags) is not int or self.flags != 0:
            raise ValueError(f"Header.flags must be 0 in format version 1, got {self.flags!r}.")
        _check_int(self.scheme_id, "Header.scheme_id", 0, _U16)
        _check_int(self.width, "Header.width", 1, _U16)
        _check_int(self.height, "Header.height", 1, _U16)
        for name in ("mcu_width", "mcu_height"):
            value = getattr(self, name)
            _check_int(value, f"Header.{name}", 0, _U8)
            if value not in MCU_SIZES:
                raise ValueError(f"Header.{name} must be one of {MCU_SIZES}, got {value}.")

        components = tuple(self.components)
        if not 1 <= len(components) <= MAX_COMPONENTS:
            raise ValueError(f"Header.components must hold 1..{MAX_COMPONENTS} entries, got {len(components)}.")
        if not all(isinstance(c, ComponentInfo) for c in components):
            raise ValueError("Header.components must hold ComponentInfo objects.")
        if len({c.id for c in components}) != len(components):
            raise ValueError("Header.components must have distinct ids.")
        if len(components) == 1 and (components[0].h_samp, components[0].v_samp) != (1, 1):
            raise ValueError("A single-component Header must record sampling 1x1.")
        max_h = max(c.h_samp for c in components)
        max_v = max(c.v_samp for c in components)
        if (self.mcu_width, self.mcu_height) != (8 * max_h, 8 * max_v):
            raise ValueError(
                f"Header MCU size must be {8 * max_h}x{8 * max_v} pixels for these sampling "
                f"factors, got {self.mcu_width}x{self.mcu_height}."
            )
        _set(self, "components", components)

        file_salt = _as_bytes(self.file_salt, "Header.file_salt")
        if len(file_salt) != SALT_SIZE:
            raise ValueError(f"Header.file_salt must be {SALT_SIZE} bytes, got {len(file_salt)}.")
        _set(self, "file_salt", file_salt)

        regions = tuple(self.regions)
        if not 1 <= len(regions) <= _U16:
            raise ValueError(f"Header.regions must hold 1..{_U16} regions, got {len(regions)}.")
        if not all(isinstance(r, RegionRecord) for r in regions):
            raise ValueError("Header.regions must hold RegionRecord objects.")
        cols, rows = self.mcu_cols, self.mcu_rows
        for i, r in enumerate(regions):
            if r.x + r.w > cols or r.y + r.h > rows:
                raise ValueError(
                    f"Region {i} ({r.x},{r.y},{r.w},{r.h}) lies outside the {cols}x{rows} MCU grid."
                )
        overlap = _find_overlap([(r.x, r.y, r.w, r.h) for r in regions])
        if overlap is not None:
            raise ValueError(f"Regions {overlap[0]} and {overlap[1]} overlap.")
        _set(self, "regions", regions)

    # -- geometry (SPEC §6.3) --
    @property
    def mcu_cols(self) -> int:
        """Number of MCU columns: ceil(width / mcu_width)."""
        return _ceil_div(self.width, self.mcu_width)

    @property
    def mcu_rows(self) -> int:
        """Number of MCU rows: ceil(height / mcu_height)."""
        return _ceil_div(self.height, self.mcu_height)

    def component_blocks(self, component: int) -> tuple[int, int]:
        """``(width_in_blocks, height_in_blocks)`` of a component (its 8x8 blocks
        that carry image data, without the MCU padding)."""
        c = self.components[component]
        max_h = max(k.h_samp for k in self.components)
        max_v = max(k.v_samp for k in self.components)
        return (
            _ceil_div(_ceil_div(self.width * c.h_samp, max_h), 8),
            _ceil_div(_ceil_div(self.height * c.v_samp, max_v), 8),
        )

    def region_blocks(self, region: int, component: int) -> tuple[int, int, int, int]:
        """Block rectangle ``(bx0, by0, bx1, by1)`` (end exclusive) of a region in a component."""
        r = self.regions[region]
        c = self.components[component]
        wb, hb = self.component_blocks(component)
        return (
            r.x * c.h_samp,
            r.y * c.v_samp,
            min((r.x + r.w) * c.h_samp, wb),
            min((r.y + r.h) * c.v_samp, hb),
        )

    # -- bytes --
    def to_bytes(self) -> bytes:
        """The ``pvhd`` body (SPEC §5)."""
        out = bytearray()
        out += struct.pack(
            ">BHHHHBBB",
            self.version,
            self.scheme_id,
            self.flags,
            self.width,
            self.height,
            self.mcu_width,
            self.mcu_height,
            len(self.components),
        )
        for c in self.components:
            out += struct.pack(">BBB", c.id, c.h_samp, c.v_samp)
        out += self.file_salt
        out += struct.pack(">H", len(self.regions))
        for r in self.regions:
            out += struct.pack(">HHHHBB", r.x, r.y, r.w, r.h, r.group, r.look)
            out += r.salt
        return bytes(out)

    @cached_property
    def raw(self) -> bytes:
        """The exact ``pvhd`` body bytes (equal to :meth:`to_bytes`: the encoding is canonical)."""
        return self.to_bytes()

    @classmethod
    def from_bytes(cls, body: bytes) -> Header:
        """Parse a ``pvhd`` body. Raises TamperedError / UnsupportedVersionError."""
        body = bytes(body)
        try:
            return cls._parse(body)
        except (_Malformed, ValueError):
            raise _tampered() from None

    @classmethod
    def _parse(cls, body: bytes) -> Header:
        r = _Reader(body)
        version = r.u8()
        if version != FORMAT_VERSION:
            raise UnsupportedVersionError(
                f"This image was protected with picveil format version {version}; "
                f"this picveil reads version {FORMAT_VERSION} only."
            )
        scheme_id = r.u16()
        flags = r.u16()
        if flags != 0:
            raise UnsupportedVersionError(
                f"This image uses picveil format features (flags 0x{flags:04x}) "
                "that this picveil cannot read."
            )
        width, height = r.u16(), r.u16()
        mcu_width, mcu_height = r.u8(), r.u8()
        n_components = r.u8()
        components = tuple(ComponentInfo(r.u8(), r.u8(), r.u8()) for _ in range(n_components))
        file_salt = r.take(SALT_SIZE)
        n_regions = r.u16()
        if r.remaining != n_regions * _REGION_SIZE:
            _fail()
        regions = tuple(
            RegionRecord(r.u16(), r.u16(), r.u16(), r.u16(), r.u8(), r.u8(), r.take(SALT_SIZE))
            for _ in range(n_regions)
        )
        r.expect_end()
        header = cls(scheme_id, width, height, mcu_width, mcu_height, components, file_salt, regions)
        header.__dict__["raw"] = body  # the authenticated bytes, exactly as read
        return header


@dataclass(frozen=True)
class Wrap:
    """One way to recover a group key: ``kind`` (1 = age/X25519, 2 = age/scrypt,
    others kept opaque) and the binary age file (or opaque data)."""

    kind: int
    data: bytes

    def __post_init__(self) -> None:
        _check_int(self.kind, "Wrap.kind", 0, _U8)
        data = _as_bytes(self.data, "Wrap.data")
        if len(data) > _U32:
            raise ValueError("Wrap.data does not fit a 32-bit length.")
        if self.kind in AGE_WRAP_KINDS and not data.startswith(AGE_PREFIX):
            raise ValueError(f"Wrap.data of kind {self.kind} must be an age file starting {AGE_PREFIX!r}.")
        _set(self, "data", data)


@dataclass(frozen=True)
class KeyGroup:
    """The ``pvkg`` box of one key group: its wraps and its 32-byte tags.

    ``region_tags`` follow the header order of the regions of this group.
    """

    index: int
    wraps: tuple[Wrap, ...]
    header_tag: bytes
    region_tags: tuple[bytes, ...]

    def __post_init__(self) -> None:
        _check_int(self.index, "KeyGroup.index", 0, _U8)
        wraps = tuple(self.wraps)
        if not 1 <= len(wraps) <= _U8:
            raise ValueError(f"KeyGroup.wraps must hold 1..{_U8} wraps, got {len(wraps)}.")
        if not all(isinstance(w, Wrap) for w in wraps):
            raise ValueError("KeyGroup.wraps must hold Wrap objects.")
        _set(self, "wraps", wraps)
        header_tag = _as_bytes(self.header_tag, "KeyGroup.header_tag")
        if len(header_tag) != TAG_SIZE:
            raise ValueError(f"KeyGroup.header_tag must be {TAG_SIZE} bytes, got {len(header_tag)}.")
        _set(self, "header_tag", header_tag)
        tags = tuple(_as_bytes(t, "KeyGroup.region_tags[]") for t in self.region_tags)
        if any(len(t) != TAG_SIZE for t in tags):
            raise ValueError(f"Every KeyGroup.region_tags entry must be {TAG_SIZE} bytes.")
        _set(self, "region_tags", tags)

    def to_bytes(self) -> bytes:
        """The ``pvkg`` body (SPEC §6)."""
        out = bytearray(struct.pack(">BB", self.index, len(self.wraps)))
        for w in self.wraps:
            out += struct.pack(">BI", w.kind, len(w.data))
            out += w.data
        out += self.header_tag
        for t in self.region_tags:
            out += t
        return bytes(out)

    @classmethod
    def _parse(cls, body: bytes, region_counts: Counter[int]) -> KeyGroup:
        r = _Reader(body)
        index = r.u8()
        n_wraps = r.u8()
        wraps = []
        for _ in range(n_wraps):
            kind = r.u8()
            wraps.append(Wrap(kind, r.take(r.u32())))
        header_tag = r.take(TAG_SIZE)
        n_tags = region_counts[index]
        if r.remaining != n_tags * TAG_SIZE:
            _fail()
        tags = tuple(r.take(TAG_SIZE) for _ in range(n_tags))
        r.expect_end()
        return cls(index, tuple(wraps), header_tag, tags)


@dataclass(frozen=True)
class ExtraBox:
    """A box of any type other than jumb/jumd/pvhd/pvkg, kept byte for byte.

    v1 readers ignore its meaning; it MUST NOT be needed for reveal.
    """

    box_type: bytes
    body: bytes

    def __post_init__(self) -> None:
        box_type = _as_bytes(self.box_type, "ExtraBox.box_type")
        if len(box_type) != 4:
            raise ValueError(f"ExtraBox.box_type must be 4 bytes, got {len(box_type)}.")
        if box_type in RESERVED_BOX_TYPES:
            raise ValueError(f"ExtraBox.box_type cannot be the reserved type {box_type!r}.")
        _set(self, "box_type", box_type)
        body = _as_bytes(self.body, "ExtraBox.body")
        if len(body) > _U32 - _BOX_HEADER_SIZE:
            raise ValueError("ExtraBox.body does not fit a 32-bit LBox.")
        _set(self, "body", body)


@dataclass(frozen=True)
class Container:
    """A whole picveil container: header, key groups 0..n-1, extra boxes."""

    header: Header
    groups: tuple[KeyGroup, ...]
    extras: tuple[ExtraBox, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.header, Header):
            raise ValueError("Container.header must be a Header.")
        groups = tuple(self.groups)
        if not all(isinstance(g, KeyGroup) for g in groups):
            raise ValueError("Container.groups must hold KeyGroup objects.")
        if not groups:
            raise ValueError("Container.groups must hold at least one key group.")
        for i, g in enumerate(groups):
            if g.index != i:
                raise ValueError(f"Container.groups[{i}] has index {g.index}; indices must be 0..n-1 in order.")
        counts = _region_counts(self.header)
        for i, g in enumerate(groups):
            if counts[i] == 0:
                raise ValueError(f"Key group {i} protects no region.")
            if len(g.region_tags) != counts[i]:
                raise ValueError(f"Key group {i} has {len(g.region_tags)} region tags for {counts[i]} regions.")
        missing = sorted(set(counts) - set(range(len(groups))))
        if missing:
            raise ValueError(f"Regions refer to key group {missing[0]}, which does not exist.")
        _set(self, "groups", groups)
        extras = tuple(self.extras)
        if not all(isinstance(e, ExtraBox) for e in extras):
            raise ValueError("Container.extras must hold ExtraBox objects.")
        _set(self, "extras", extras)

    def regions_of(self, group: int) -> list[int]:
        """Header indices of the regions protected by key group ``group``, in header order."""
        return [i for i, r in enumerate(self.header.regions) if r.group == group]

    def to_jumbf(self) -> bytes:
        """The ``jumb`` superbox (SPEC §4), header included."""
        parts = [_box(BOX_JUMD, JUMD_BODY), _box(BOX_HEADER, self.header.to_bytes())]
        parts += [_box(BOX_KEYGROUP, g.to_bytes()) for g in self.groups]
        parts += [_box(e.box_type, e.body) for e in self.extras]
        return _box(BOX_JUMB, b"".join(parts))

    @classmethod
    def from_jumbf(cls, data: bytes) -> Container:
        """Parse a ``jumb`` superbox.

        Raises NoPicveilDataError when it is a JUMBF box of another content
        type, UnsupportedVersionError, or TamperedError for anything malformed.
        """
        data = bytes(data)
        try:
            return cls._parse(data)
        except (_Malformed, ValueError):
            raise _tampered() from None

    @classmethod
    def _parse(cls, data: bytes) -> Container:
        outer = _split_boxes(data)
        if len(outer) != 1 or outer[0][0] != BOX_JUMB:
            _fail()
        content = outer[0][1]
        boxes = _split_boxes(content)
        if not boxes or boxes[0][0] != BOX_JUMD or len(boxes[0][1]) < len(PICVEIL_UUID):
            _fail()
        if boxes[0][1][: len(PICVEIL_UUID)] != PICVEIL_UUID:
            raise NoPicveilDataError(NO_DATA_MESSAGE)
        if boxes[0][1] != JUMD_BODY:
            _fail()
        if len(boxes) < 2 or boxes[1][0] != BOX_HEADER:
            _fail()
        header = Header._parse(boxes[1][1])
        counts = _region_counts(header)
        groups = []
        pos = 2
        while pos < len(boxes) and boxes[pos][0] == BOX_KEYGROUP:
            groups.append(KeyGroup._parse(boxes[pos][1], counts))
            pos += 1
        extras = tuple(ExtraBox(t, b) for t, b in boxes[pos:])  # ValueError on a reserved type
        return cls(header, tuple(groups), extras)


# --- APP11 transport (SPEC §3) --------------------------------------------------------
def to_app11_payloads(jumbf: bytes) -> list[bytes]:
    """Split a ``jumb`` superbox into APP11 payloads (without marker and length).

    Every payload but the last is exactly :data:`MAX_SEGMENT_PAYLOAD` bytes.
    """
    jumbf = _as_bytes(jumbf, "jumbf")
    if len(jumbf) < _BOX_HEADER_SIZE or jumbf[4:8] != BOX_JUMB:
        raise ValueError("to_app11_payloads needs a 'jumb' superbox.")
    lbox = int.from_bytes(jumbf[:4], "big")
    if lbox != len(jumbf):
        raise ValueError(f"The superbox's LBox ({lbox}) differs from its length ({len(jumbf)}).")
    content = jumbf[_BOX_HEADER_SIZE:]
    if not content:
        raise ValueError("An empty superbox cannot be a picveil container.")
    payloads = []
    for z, start in enumerate(range(0, len(content), PACKET_CHUNK_SIZE), start=1):
        head = APP11_CI + struct.pack(">HII", PICVEIL_INSTANCE, z, lbox) + BOX_JUMB
        payloads.append(head + content[start : start + PACKET_CHUNK_SIZE])
    return payloads


def is_picveil_packet(payload: bytes) -> bool:
    """Whether an APP11 payload belongs to picveil's box instance (CI "JP", En 0x5056).

    Such a payload is picveil's to validate: a malformed one is tampering,
    not someone else's data.
    """
    return len(payload) >= 4 and payload[:2] == APP11_CI and payload[2:4] == PICVEIL_INSTANCE.to_bytes(2, "big")


def from_app11_payloads(payloads: Iterable[bytes]) -> bytes:
    """Reassemble picveil's ``jumb`` superbox from the APP11 payloads of a file.

    Payloads of other APP11 users (other CI, or JUMBF with another ``En``)
    are ignored; picveil packets are ordered by their sequence number ``Z``.
    Raises NoPicveilDataError when there are no picveil packets or they hold
    a JUMBF box of another content type, TamperedError for anything malformed.
    """
    try:
        return _reassemble([bytes(p) for p in payloads])
    except _Malformed:
        raise _tampered() from None


def _is_foreign(candidates: list[bytes]) -> bool:
    """Whether packets with picveil's En carry a JUMBF box of another content type.

    Decided from the first packets (Z = 1), whose content starts with the
    ``jumd`` box: all of them hold a well-formed jumd start with a UUID
    that is not picveil's.
    """
    start = PACKET_HEADER_SIZE
    firsts = [p for p in candidates if p[4:8] == b"\x00\x00\x00\x01" and len(p) >= start + 24]
    return bool(firsts) and all(
        p[start + 4 : start + 8] == BOX_JUMD and p[start + 8 : start + 24] != PICVEIL_UUID for p in firsts
    )


def _reassemble(payloads: list[bytes]) -> bytes:
    candidates = [p for p in payloads if is_picveil_packet(p)]
    if not candidates or _is_foreign(candidates):
        raise NoPicveilDataError(NO_DATA_MESSAGE)
    if any(len(p) <= PACKET_HEADER_SIZE or len(p) > MAX_SEGMENT_PAYLOAD for p in candidates):
        _fail()
    lboxes = {p[8:12] for p in candidates}
    if len(lboxes) != 1 or any(p[12:16] != BOX_JUMB for p in candidates):
        _fail()
    lbox = int.from_bytes(lboxes.pop(), "big")
    packets: dict[int, bytes] = {}
    for p in candidates:
        z = int.from_bytes(p[4:8], "big")
        if z in packets:
            _fail()
        packets[z] = p[PACKET_HEADER_SIZE:]
    if lbox < _BOX_HEADER_SIZE + 1:  # also rules out LBox 1 (XLBox) and 0
        _fail()
    content_size = lbox - _BOX_HEADER_SIZE
    n = _ceil_div(content_size, PACKET_CHUNK_SIZE)
    if sorted(packets) != list(range(1, n + 1)):
        _fail()
    for z in range(1, n):
        if len(packets[z]) != PACKET_CHUNK_SIZE:
            _fail()
    if len(packets[n]) != content_size - (n - 1) * PACKET_CHUNK_SIZE:
        _fail()
    content = b"".join(packets[z] for z in range(1, n + 1))
    if content[4:8] != BOX_JUMD or content[8:24] != PICVEIL_UUID:
        _fail()
    return lbox.to_bytes(4, "big") + BOX_JUMB + content


def encode_container(container: Container) -> list[bytes]:
    """Container -> APP11 payloads, in sequence order."""
    return to_app11_payloads(container.to_jumbf())


def decode_container(payloads: Iterable[bytes]) -> Container:
    """APP11 payloads (any order, other APP11 users mixed in) -> Container."""
    return Container.from_jumbf(from_app11_payloads(payloads))


__all__ = [
    "AGE_PREFIX",
    "AGE_WRAP_KINDS",
    "FORMAT_VERSION",
    "HEADER_TAG_PREFIX",
    "KEY_SIZE",
    "LOOK_SCRAMBLE",
    "MAC_KEY_INFO",
    "MAX_SEGMENT_PAYLOAD",
    "PACKET_CHUNK_SIZE",
    "PICVEIL_INSTANCE",
    "PICVEIL_LABEL",
    "PICVEIL_UUID",
    "REGION_KEY_INFO",
    "REGION_TAG_PREFIX",
    "SALT_SIZE",
    "SCHEME_SCRAMBLE_V1",
    "TAG_SIZE",
    "WRAP_AGE_SCRYPT",
    "WRAP_AGE_X25519",
    "ComponentInfo",
    "Container",
    "ExtraBox",
    "Header",
    "KeyGroup",
    "RegionRecord",
    "Wrap",
    "decode_container",
    "encode_container",
    "from_app11_payloads",
    "is_picveil_packet",
    "to_app11_payloads",
]
