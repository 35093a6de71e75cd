"""The robust header's payload: what a reveal from pixels needs, in as few bytes as possible.

The robust channel (``channel.py``, SPEC.md §1-§12) carries opaque bytes. This
module defines what picveil puts in them (SPEC.md §13): the image geometry
and sampling, an 8-byte file-salt seed, the regions in MCU units with their
key group and look, one circle reference and key check per key group, and
each scramble region's scheme parameters for a reveal from pixels.

Pure functions and frozen dataclasses; no I/O. Nothing here is secret: the
channel is public, so the payload holds no key material, only public
identifiers (circle ids) and a 4-byte key check per group.

* :meth:`RobustHeader.to_bytes` / :meth:`RobustHeader.from_bytes`: the
  canonical encoding (every value has exactly one byte form; parse then
  serialise gives the input back);
* :func:`file_salt_from_seed`, :func:`region_salt`: the salts the container
  uses when protect writes a robust header (SPEC.md §13.3);
* :func:`embed_header`: build the payload for a protected image and embed it
  (what :func:`picveil.protect` calls), with an encrypted low-resolution
  thumbnail of each painted region when the channel has room (SPEC.md §13.7,
  ``thumbnail.py``).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, replace

import numpy as np

from picveil.errors import UnsupportedVersionError

from .errors import HeaderDamagedError

__all__ = [
    "CIRCLE_ID_BYTES",
    "CHECK_VERSION",
    "FILL_VERSION",
    "FORMAT_VERSION",
    "KEY_CHECK_BYTES",
    "LAYOUTS",
    "LOOK_OTHER",
    "SEED_BYTES",
    "THUMBNAIL_LABEL",
    "GroupEntry",
    "RegionEntry",
    "RobustHeader",
    "apply_undo",
    "coefficient_check",
    "embed_header",
    "encode_undo",
    "file_salt_from_seed",
    "layout_of",
    "open_thumbnail",
    "region_salt",
    "tables_fingerprint",
    "thumbnail_aad",
    "thumbnail_budget",
]

#: Version of the payload format (the high nibble of its first byte): 1, or
#: 2 when at least one region carries a thumbnail (SPEC.md §13.7); 3 (what
#: picveil writes now) adds the coefficient check (§13.1) and allows thumbnails.
FORMAT_VERSION = 1
THUMBNAIL_VERSION = 2
CHECK_VERSION = 3
#: Version 4 (what picveil writes now): version 3's encoding; a header that went
#: over the regions covers only the cells over them that it needs (the channel's
#: fill rule, SPEC.md §10), not all of them.
FILL_VERSION = 4
#: Bytes of the file-salt seed carried in the header (SPEC.md §13.3).
SEED_BYTES = 8
#: Bytes of the circle id carried per group: a prefix of the keyring's 8-byte id
#: (it routes and names; the key check authenticates), SPEC.md §13.2.
CIRCLE_ID_BYTES = 4
KEY_CHECK_BYTES = 4
#: Container salts are 16 bytes (container SPEC §2).
SALT_BYTES = 16
#: Looks are coded on 4 bits; this value stands for any look id >= 15.
LOOK_OTHER = 15
#: Flag of a region's ``group/look`` varint: scheme parameters follow.
_HAS_PARAMS = 0x10
#: Largest value a header varint may hold (u32).
VARINT_MAX = 2**32 - 1

#: Layout code -> (name, colour space, sampling factors (h, v) per component).
LAYOUTS: dict[int, tuple[str, str, tuple[tuple[int, int], ...]]] = {
    0: ("gray", "gray", ((1, 1),)),
    1: ("4:4:4", "ycbcr", ((1, 1), (1, 1), (1, 1))),
    2: ("4:2:2", "ycbcr", ((2, 1), (1, 1), (1, 1))),
    3: ("4:2:0", "ycbcr", ((2, 2), (1, 1), (1, 1))),
    4: ("4:4:0", "ycbcr", ((1, 2), (1, 1), (1, 1))),
    5: ("rgb", "rgb", ((1, 1), (1, 1), (1, 1))),
}
_CODE_OF = {(cs, samp): code for code, (_, cs, samp) in LAYOUTS.items()}

_FILE_SALT_LABEL = b"picveil v1 file salt"
_REGION_SALT_LABEL = b"picveil v1 region salt"
_DAMAGED = "The image carries a picveil header, but it is too damaged to read."


# --- salts ------------------------------------------------------------------------------
def file_salt_from_seed(seed: bytes) -> bytes:
    """The container's 16-byte ``file_salt`` of an image whose robust header carries `seed`.

    ``file_salt = SHA-256("picveil v1 file salt" ‖ seed)[:16]``, `seed` being
    :data:`SEED_BYTES` random bytes (SPEC.md §13.3).
    """
    seed = bytes(seed)
    if len(seed) != SEED_BYTES:
        raise ValueError(f"a file-salt seed is {SEED_BYTES} bytes, got {len(seed)}")
    return hashlib.sha256(_FILE_SALT_LABEL + seed).digest()[:SALT_BYTES]


def region_salt(file_salt: bytes, index: int) -> bytes:
    """The 16-byte salt of region `index` of an image with a robust header.

    ``salt_r = SHA-256("picveil v1 region salt" ‖ file_salt ‖ u16be(r))[:16]``
    (SPEC.md §13.3): unique per image and region, so it need not be carried.
    """
    if len(file_salt) != SALT_BYTES:
        raise ValueError(f"file_salt is {SALT_BYTES} bytes, got {len(file_salt)}")
    if not 0 <= index <= 0xFFFF:
        raise ValueError(f"region index must be 0..65535, got {index}")
    return hashlib.sha256(_REGION_SALT_LABEL + bytes(file_salt) + index.to_bytes(2, "big")).digest()[:SALT_BYTES]


def tables_fingerprint(tables) -> int:
    """u8 fingerprint of a JPEG's quantization tables, one ``(8, 8)`` table per
    component in component order: CRC-8 (SPEC.md §7.1's) of the values as
    u16be in natural order (SPEC.md §13.1)."""
    from .coding import crc8

    raw = b"".join(np.asarray(t, dtype=">u2").tobytes() for t in tables)
    return crc8(raw)


_COEF_CHECK_LABEL = b"picveil v1 coefficient check"


def coefficient_check(coeffs, header: "RobustHeader") -> int:
    """u16 check of the protected coefficients the header's regions hold (SPEC.md §13.1).

    High byte: the first byte of ``SHA-256("picveil v1 coefficient check" ‖
    "Y" ‖ blocks of component 0)``; low byte: the same with ``"C"`` and the
    blocks of every other component (a gray image: of component 0 again).
    ``blocks`` is, region by region in header order and component by
    component, the region's blocks (its MCU rectangle, clipped to the
    component's blocks) in raster order, each as 64 i16be in natural order.

    A reader that finds the protected tables (``tables``) and both bytes in
    a received JPEG holds the protected coefficients themselves (metadata
    stripped, nothing re-encoded). A platform that re-encodes at the very same
    quality keeps the tables but not the coefficients. Only the luma byte
    fails when the header was written over the regions (§13.5).
    """
    return (_component_check(coeffs, header, b"Y", [0]) << 8) | _component_check(
        coeffs, header, b"C", list(range(1, len(coeffs.components))) or [0]
    )


def _component_check(coeffs, header: "RobustHeader", tag: bytes, comps: list[int]) -> int:
    digest = hashlib.sha256(_COEF_CHECK_LABEL + tag)
    for r in header.regions:
        for ci in comps:
            c = coeffs.components[ci]
            by0, bx0 = r.y * c.v_samp, r.x * c.h_samp
            by1 = min((r.y + r.h) * c.v_samp, c.height_in_blocks)
            bx1 = min((r.x + r.w) * c.h_samp, c.width_in_blocks)
            if by1 > by0 and bx1 > bx0:
                digest.update(np.asarray(coeffs.blocks(ci, by0, by1, bx0, bx1), dtype=">i2").tobytes())
    return digest.digest()[0]


def layout_of(color_space: str, sampling: tuple[tuple[int, int], ...]) -> str | None:
    """The layout name of a JPEG's colour space and per-component ``(h, v)``
    sampling factors, or ``None`` if the robust header cannot describe it."""
    code = _CODE_OF.get((color_space, tuple(tuple(s) for s in sampling)))
    return None if code is None else LAYOUTS[code][0]


# --- varints ------------------------------------------------------------------------------
def _put_varint(out: bytearray, value: int) -> None:
    if not 0 <= value <= VARINT_MAX:
        raise ValueError(f"value {value} does not fit a header varint (0..{VARINT_MAX})")
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return


class _Reader:
    """Bounds-checked reads; every failure is the one opaque :class:`HeaderDamagedError`."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise HeaderDamagedError(_DAMAGED)
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def varint(self) -> int:
        value, shift = 0, 0
        for i in range(5):
            byte = self.u8()
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                if (i > 0 and byte == 0) or value > VARINT_MAX:  # not minimal, or too large
                    raise HeaderDamagedError(_DAMAGED)
                return value
            shift += 7
        raise HeaderDamagedError(_DAMAGED)

    def end(self) -> None:
        if self.pos != len(self.data):
            raise HeaderDamagedError(_DAMAGED)


# --- the payload ------------------------------------------------------------------------------
@dataclass(frozen=True)
class RegionEntry:
    """One protected rectangle, in MCUs (as the container's ``pvhd`` region record).

    ``look`` 0 is the scheme's scramble, the only look a reveal from pixels
    can undo; any other value is a "container only" look (:data:`LOOK_OTHER`
    stands for ids of 15 and more). ``params`` are the scheme's robust
    parameters (:attr:`picveil.schemes.Protected.robust`), empty for other looks.
    ``thumbnail`` is, for other looks only, the sealed low-resolution copy of
    the region (SPEC.md §13.7: ciphertext ‖ 4-byte tag), or empty.
    """

    x: int
    y: int
    w: int
    h: int
    group: int
    look: int = 0
    params: bytes = b""
    thumbnail: bytes = b""

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", bytes(self.params))
        object.__setattr__(self, "thumbnail", bytes(self.thumbnail))
        for name in ("x", "y", "w", "h", "group"):
            v = getattr(self, name)
            if not isinstance(v, int) or not 0 <= v <= VARINT_MAX:
                raise ValueError(f"region {name} must be an integer 0..{VARINT_MAX}, got {v!r}")
        if self.w < 1 or self.h < 1:
            raise ValueError(f"a region is at least 1x1 MCU, got {self.w}x{self.h}")
        if not 0 <= self.look <= LOOK_OTHER:
            raise ValueError(f"look must be 0..{LOOK_OTHER}, got {self.look}")
        if self.look != 0 and self.params:
            raise ValueError("only scramble regions (look 0) carry scheme parameters")
        if self.look == 0 and self.thumbnail:
            raise ValueError("scramble regions (look 0) carry no thumbnail")

    @property
    def robust(self) -> bool:
        """Whether a reveal from pixels can undo this region (the scramble look)."""
        return self.look == 0


@dataclass(frozen=True)
class GroupEntry:
    """A key group opened by a circle: a prefix of its public id and a key check for this image.

    ``circle_id`` may be given whole (8 bytes, as :attr:`picveil.crypto.Circle.circle_id`);
    only its first :data:`CIRCLE_ID_BYTES` are kept.
    """

    circle_id: bytes
    key_check: bytes

    def __post_init__(self) -> None:
        object.__setattr__(self, "circle_id", bytes(self.circle_id)[:CIRCLE_ID_BYTES])
        object.__setattr__(self, "key_check", bytes(self.key_check))
        if len(self.circle_id) != CIRCLE_ID_BYTES:
            raise ValueError(f"circle_id is at least {CIRCLE_ID_BYTES} bytes, got {len(self.circle_id)}")
        if len(self.key_check) != KEY_CHECK_BYTES:
            raise ValueError(f"key_check is {KEY_CHECK_BYTES} bytes, got {len(self.key_check)}")


@dataclass(frozen=True)
class RobustHeader:
    """The payload of the robust in-image header (SPEC.md §13).

    Attributes
    ----------
    scheme_id : int
        The protection scheme (container SPEC §9, §10).
    width, height : int
        Size in pixels of the protected image, 1..65535.
    layout : str
        Colour space and sampling: a name in :data:`LAYOUTS` (``"4:2:0"``, ...).
    seed : bytes
        :data:`SEED_BYTES` random bytes; ``file_salt = file_salt_from_seed(seed)``.
    tables : int
        :func:`tables_fingerprint` of the protected JPEG's quantization tables
        (tells a file that may still hold the protected coefficients from a re-encoded one).
    regions : tuple of RegionEntry
        In container order (region ``r`` has salt ``region_salt(file_salt, r)``).
    groups : tuple of GroupEntry
        Key groups, in container order; every group has at least one region.
    coef_check : int or None
        :func:`coefficient_check` of the regions' protected coefficients
        (version 3, what picveil writes); ``None`` in versions 1 and 2.
        With `tables` it tells the protected file, metadata stripped, from a
        re-encode at the same quality.
    region_fill : bool
        Version 4 (needs `coef_check`): where the header goes over the regions,
        it covers only the cells over them that it needs (SPEC.md §10's fill
        rule, :func:`picveil.robust.embedder.region_cells`); versions 1-3 cover them all.
    """

    scheme_id: int
    width: int
    height: int
    layout: str
    seed: bytes
    regions: tuple[RegionEntry, ...]
    groups: tuple[GroupEntry, ...]
    tables: int = 0
    coef_check: int | None = None
    region_fill: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "seed", bytes(self.seed))
        object.__setattr__(self, "regions", tuple(self.regions))
        object.__setattr__(self, "groups", tuple(self.groups))
        if not 0 <= self.scheme_id <= VARINT_MAX:
            raise ValueError(f"scheme_id must be 0..{VARINT_MAX}, got {self.scheme_id}")
        if not (1 <= self.width <= 0xFFFF and 1 <= self.height <= 0xFFFF):
            raise ValueError(f"image size must be 1..65535 pixels a side, got {self.width}x{self.height}")
        if self.layout not in {name for name, _, _ in LAYOUTS.values()}:
            raise ValueError(f"unknown layout {self.layout!r}")
        if len(self.seed) != SEED_BYTES:
            raise ValueError(f"seed is {SEED_BYTES} bytes, got {len(self.seed)}")
        if not 0 <= self.tables <= 0xFF:
            raise ValueError(f"tables is a u8 fingerprint, got {self.tables}")
        if self.coef_check is not None and not 0 <= self.coef_check <= 0xFFFF:
            raise ValueError(f"coef_check is a u16, got {self.coef_check}")
        if not self.regions or not self.groups:
            raise ValueError("a header has at least one region and one group")
        cols, rows = self.mcu_cols, self.mcu_rows
        seen = set()
        for i, r in enumerate(self.regions):
            if r.x + r.w > cols or r.y + r.h > rows:
                raise ValueError(f"region {i} lies outside the {cols}x{rows} MCU grid")
            if r.group >= len(self.groups):
                raise ValueError(f"region {i} names group {r.group}; there are {len(self.groups)}")
            seen.add(r.group)
        if len(seen) != len(self.groups):
            raise ValueError("every group must have at least one region")
        rects = sorted((r.y, r.x, r.w, r.h) for r in self.regions)
        for i, (y, x, w, h) in enumerate(rects):
            for y2, x2, w2, h2 in rects[i + 1 :]:
                if y2 >= y + h:
                    break
                if x < x2 + w2 and x2 < x + w:
                    raise ValueError("regions overlap")

    # -- derived ------------------------------------------------------------------------
    @property
    def color_space(self) -> str:
        return next(cs for name, cs, _ in LAYOUTS.values() if name == self.layout)

    @property
    def sampling(self) -> tuple[tuple[int, int], ...]:
        """``(h, v)`` sampling factors per component, in component order."""
        return next(s for name, _, s in LAYOUTS.values() if name == self.layout)

    @property
    def mcu(self) -> tuple[int, int]:
        """MCU width and height in pixels."""
        s = self.sampling
        return 8 * max(h for h, _ in s), 8 * max(v for _, v in s)

    @property
    def mcu_cols(self) -> int:
        return -(-self.width // self.mcu[0])

    @property
    def mcu_rows(self) -> int:
        return -(-self.height // self.mcu[1])

    @property
    def file_salt(self) -> bytes:
        """The container's 16-byte file salt (:func:`file_salt_from_seed`)."""
        return file_salt_from_seed(self.seed)

    def region_salt(self, index: int) -> bytes:
        """Salt of region `index` (:func:`region_salt`)."""
        return region_salt(self.file_salt, index)

    def region_box(self, index: int) -> tuple[int, int, int, int]:
        """Region `index` in pixels ``(x, y, w, h)``, clipped to the image."""
        r = self.regions[index]
        mw, mh = self.mcu
        x0, y0 = r.x * mw, r.y * mh
        return x0, y0, min((r.x + r.w) * mw, self.width) - x0, min((r.y + r.h) * mh, self.height) - y0

    # -- bytes ------------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """The canonical encoding (SPEC.md §13.1)."""
        code = next(c for c, (name, _, _) in LAYOUTS.items() if name == self.layout)
        if self.region_fill and self.coef_check is None:
            raise ValueError("a version 4 header (region_fill) carries the coefficient check")
        if self.coef_check is not None:
            version = FILL_VERSION if self.region_fill else CHECK_VERSION
        else:
            version = THUMBNAIL_VERSION if any(r.thumbnail for r in self.regions) else FORMAT_VERSION
        out = bytearray([version << 4 | code])
        _put_varint(out, self.scheme_id)
        _put_varint(out, self.width)
        _put_varint(out, self.height)
        out += self.seed
        out.append(self.tables)
        if self.coef_check is not None:
            out += self.coef_check.to_bytes(2, "big")
        _put_varint(out, len(self.regions))
        for r in self.regions:
            for v in (r.x, r.y, r.w, r.h):
                _put_varint(out, v)
            _put_varint(out, r.group << 5 | (_HAS_PARAMS if r.params or r.thumbnail else 0) | r.look)
        for g in self.groups:
            out += g.circle_id + g.key_check
        for r in self.regions:
            extra = r.params or r.thumbnail
            if extra:
                _put_varint(out, len(extra))
                out += extra
        return bytes(out)

    @classmethod
    def from_bytes(cls, data: bytes) -> RobustHeader:
        """Parse a payload; the inverse of :meth:`to_bytes`.

        Raises
        ------
        UnsupportedVersionError
            The payload's format version is not 1 to 4 (a newer picveil wrote it).
        HeaderDamagedError
            Any other rule of SPEC.md §13.1 is broken (one opaque message).
        """
        rd = _Reader(bytes(data))
        head = rd.u8()
        version = head >> 4
        if version not in (FORMAT_VERSION, THUMBNAIL_VERSION, CHECK_VERSION, FILL_VERSION):
            raise UnsupportedVersionError(
                f"This image's picveil header has format version {head >> 4}, which this picveil does not know.",
                hint="Update picveil.",
            )
        code = head & 0x0F
        if code not in LAYOUTS:
            raise HeaderDamagedError(_DAMAGED)
        scheme_id, width, height = rd.varint(), rd.varint(), rd.varint()
        seed = rd.take(SEED_BYTES)
        tables = rd.u8()
        coef_check = int.from_bytes(rd.take(2), "big") if version in (CHECK_VERSION, FILL_VERSION) else None
        n_regions = rd.varint()
        if not 1 <= n_regions <= len(rd.data):  # each region takes at least 5 bytes: bounds the loop
            raise HeaderDamagedError(_DAMAGED)
        raw_regions = []
        for _ in range(n_regions):
            x, y, w, h, gl = rd.varint(), rd.varint(), rd.varint(), rd.varint(), rd.varint()
            raw_regions.append((x, y, w, h, gl >> 5, gl & 0x0F, bool(gl & _HAS_PARAMS)))
        n_groups = max(r[4] for r in raw_regions) + 1  # every group has a region
        if n_groups * (CIRCLE_ID_BYTES + KEY_CHECK_BYTES) > len(rd.data) - rd.pos:
            raise HeaderDamagedError(_DAMAGED)
        groups = []
        for _ in range(n_groups):
            cid = rd.take(CIRCLE_ID_BYTES)
            groups.append((cid, rd.take(KEY_CHECK_BYTES)))
        regions = []
        for x, y, w, h, group, look, has_params in raw_regions:
            params = thumb = b""
            if has_params:
                extra = rd.take(rd.varint())
                if not extra:  # the flag says "some"; an empty field is not canonical
                    raise HeaderDamagedError(_DAMAGED)
                if look == 0:
                    params = extra
                elif version in (THUMBNAIL_VERSION, CHECK_VERSION, FILL_VERSION):
                    thumb = extra
                else:  # version 1: only scramble regions carry a field
                    raise HeaderDamagedError(_DAMAGED)
            regions.append((x, y, w, h, group, look, params, thumb))
        rd.end()
        if version == THUMBNAIL_VERSION and not any(r[7] for r in regions):
            raise HeaderDamagedError(_DAMAGED)  # version 2 without a thumbnail: not canonical
        try:
            return cls(
                scheme_id=scheme_id,
                width=width,
                height=height,
                layout=LAYOUTS[code][0],
                seed=seed,
                regions=tuple(RegionEntry(*r) for r in regions),
                groups=tuple(GroupEntry(c, k) for c, k in groups),
                tables=tables,
                coef_check=coef_check,
                region_fill=version == FILL_VERSION,
            )
        except ValueError:
            raise HeaderDamagedError(_DAMAGED) from None


# --- thumbnails (SPEC.md §13.7) ---------------------------------------------------------------
#: HKDF info of the thumbnail's subkeys (``RegionKey.seal_short``).
THUMBNAIL_LABEL = b"picveil v1 robust thumbnail"
#: Bytes of a thumbnail's authentication tag.
THUMBNAIL_TAG_BYTES = 4
#: Payload sizes tried below the capacity before giving up on thumbnails.
SPARE_TRIES = 64


def thumbnail_aad(index: int, entry: RegionEntry) -> bytes:
    """Associated data of region `index`'s thumbnail: ``u16be(r) ‖ u32be(x, y, w, h) ‖ u8(look)``
    (SPEC.md §13.7.3), so that a thumbnail cannot be moved to another region."""
    import struct

    return struct.pack(">HIIIIB", index, entry.x, entry.y, entry.w, entry.h, entry.look)


def _varint_len(value: int) -> int:
    return max(1, -(-value.bit_length() // 7))


def thumbnail_budget(spare: int, areas: dict[int, int]) -> dict[int, int]:
    """Plaintext bytes of each region's thumbnail (SPEC.md §13.7.1).

    Parameters
    ----------
    spare : int
        Payload bytes left in the channel after the header without thumbnails.
    areas : dict
        Region index -> area in pixels, for the regions that may get one.

    Returns
    -------
    dict
        Region index -> plaintext bytes, each at least ``thumbnail.MIN_BYTES``;
        regions left out get none. The space goes to the regions in proportion
        to their areas; while the smallest share is too small to be useful, the
        smallest region (the last in index order among equals) is dropped.
    """
    from .thumbnail import MIN_BYTES

    active = sorted(areas, key=lambda i: (-areas[i], i))
    while active:
        total = sum(areas[i] for i in active)
        out = {}
        for i in active:
            share = spare * areas[i] // total  # sealed field, with its length
            n = share - THUMBNAIL_TAG_BYTES - 1
            while n > 0 and n + THUMBNAIL_TAG_BYTES + _varint_len(n + THUMBNAIL_TAG_BYTES) > share:
                n -= 1
            out[i] = n
        if min(out.values()) >= MIN_BYTES:
            return out
        active.pop()
    return {}


# --- writing it into a protected image -----------------------------------------------------------
def header_fits(
    scheme_id: int, width: int, height: int, layout: str, rects, groups: int, params_lengths, mcu: tuple[int, int],
    *, outside: bool = True,
) -> bool:
    """Whether a header with these regions (``(x, y, w, h, group, look)`` in MCUs)
    and robust parameters of these lengths would fit outside the regions
    (``outside``) or over the whole image (SPEC §13.5), before anything is
    protected: protect chooses the circle scheme with it (``api``)."""
    from .embedder import choose_plan

    rh = _planned_header(scheme_id, width, height, layout, rects, groups, params_lengths)
    boxes = [rh.region_box(i) for i in range(len(rh.regions))] if outside else []
    return choose_plan(width, height, boxes, len(rh.to_bytes()), mcu) is not None


def header_length(scheme_id: int, width: int, height: int, layout: str, rects, groups: int, params_lengths) -> int:
    """Bytes of the plain header :func:`header_fits` weighs (same arguments)."""
    return len(_planned_header(scheme_id, width, height, layout, rects, groups, params_lengths).to_bytes())


def _planned_header(scheme_id: int, width: int, height: int, layout: str, rects, groups: int, params_lengths) -> "RobustHeader":
    return RobustHeader(
        scheme_id=scheme_id, width=width, height=height, layout=layout, seed=bytes(SEED_BYTES),
        regions=tuple(
            RegionEntry(x, y, w, h, g, min(look, LOOK_OTHER), bytes(n) if look == 0 else b"")
            for (x, y, w, h, g, look), n in zip(rects, params_lengths)
        ),
        groups=tuple(GroupEntry(bytes(CIRCLE_ID_BYTES), bytes(KEY_CHECK_BYTES)) for _ in range(groups)),
        coef_check=0,
    )


def embed_header(
    coeffs, container_header, seed: bytes, circles, params, *, original=None, region_keys=None
) -> tuple[str | None, bytes]:
    """Build the robust header of a protected image and embed it into `coeffs`.

    Parameters
    ----------
    coeffs : picveil.jpeg.codec.JpegCoefficients
        The protected image's coefficients (regions already scrambled); the
        luma outside the regions changes in place.
    container_header : picveil.container.Header
        The container's header, whose ``file_salt`` is
        ``file_salt_from_seed(seed)`` and whose region salts are
        :func:`region_salt`.
    seed : bytes
        The :data:`SEED_BYTES` seed.
    circles : sequence of picveil.crypto.Circle
        The circle of every key group, in group order.
    params : sequence of bytes
        Each region's scheme parameters for a reveal from pixels.
    original : numpy.ndarray, optional
        The image before protection, ``(H, W, C)`` (C = 1 or 3), values
        0..255: source of the thumbnails of painted regions.
    region_keys : dict, optional
        Region index -> :class:`picveil.crypto.RegionKey`, for the painted
        regions (look != 0) that should get a thumbnail. Thumbnails take the
        room the header leaves in the channel (SPEC.md §13.7.1); regions for
        which it is too small get none, and nothing fails for want of room.

    Returns
    -------
    (str or None, bytes)
        The warning: ``None`` when the header was embedded, else why not (the
        image then reveals only with its container). And the undo record
        (:func:`encode_undo`; empty when nothing was embedded) that the
        container carries so that an exact reveal also restores the pixels
        outside the regions.
    """
    from picveil.errors import UnsupportedImageError

    from .embedder import embed
    from .errors import HeaderCapacityError

    h = container_header
    if file_salt_from_seed(seed) != h.file_salt:
        raise ValueError("the container's file_salt does not come from this seed")
    sampling = tuple((c.h_samp, c.v_samp) for c in h.components)
    layout = layout_of(coeffs.color_space, sampling)
    if layout is None:
        return (
            "No robust in-image header: this JPEG's colour layout cannot carry one; "
            "the image reveals only with its picveil data (keep the file, or a sidecar).",
            b"",
        )
    rh = RobustHeader(
        scheme_id=h.scheme_id,
        width=h.width,
        height=h.height,
        layout=layout,
        seed=seed,
        regions=tuple(
            RegionEntry(r.x, r.y, r.w, r.h, r.group, min(r.look, LOOK_OTHER), bytes(p) if r.look == 0 else b"")
            for r, p in zip(h.regions, params)
        ),
        groups=tuple(GroupEntry(c.circle_id, c.key_check(h.file_salt)) for c in circles),
        tables=tables_fingerprint([coeffs.quant_table(ci) for ci in range(len(coeffs.components))]),
    )
    rh = replace(rh, coef_check=coefficient_check(coeffs, rh), region_fill=True)
    boxes = [rh.region_box(i) for i in range(len(rh.regions))]
    payloads = [rh.to_bytes()]
    if original is not None and region_keys:
        full = _with_thumbnails(rh, boxes, np.asarray(original), region_keys, (coeffs.mcu_width, coeffs.mcu_height))
        if full is not None:
            payloads.insert(0, full.to_bytes())
    from .embedder import _components

    try:
        before = {ci: coeffs.array(ci).copy() for ci in _components(coeffs)}
        report = None
        for payload in payloads:
            try:
                report = embed(coeffs, payload, boxes)
                break
            except HeaderCapacityError:
                continue
        if report is None:
            # No room outside the regions (SPEC §13.5): the plain header goes over
            # the whole image, regions included (§10). The container's undo record
            # takes it out again before the region tags are checked, so the exact
            # path stays exact; a reveal from pixels shows it as faint noise.
            report = embed(coeffs, payloads[-1], boxes, allow_in_regions=True, region_prefix=rh.region_fill)
    except HeaderCapacityError as exc:
        mp = size_for_header(coeffs.width, coeffs.height, len(payloads[-1]), (coeffs.mcu_width, coeffs.mcu_height))
        advice = (
            f"protect a larger copy of the photo (from about {mp:.1f} MP) or fewer or smaller regions."
            if mp is not None
            else f"protect it with fewer regions (a {len(payloads[-1])}-byte header fits no image)."
        )
        return (
            f"No robust in-image header: {exc.message} The image reveals only with its picveil data; "
            f"to reveal it after a platform, {advice}",
            b"",
        )
    except (UnsupportedImageError, ValueError) as exc:
        return f"No robust in-image header: {exc}. The image reveals only with its picveil data.", b""
    return None, encode_undo(coeffs, before, report.amplitudes, report.excluded_blocks)


def size_for_header(width: int, height: int, length: int, mcu: tuple[int, int]) -> float | None:
    """Megapixels from which a copy of this picture, same aspect, carries a
    `length`-byte header over its whole area (SPEC §13.5), to 0.1 MP; ``None``
    if no size does (the channel's capacity levels off, :func:`capacity`)."""
    from .embedder import capacity

    def fits(scale: float) -> bool:
        return capacity(max(1, round(width * scale)), max(1, round(height * scale)), (), mcu) >= length

    if fits(1.0):  # the picture itself would do (the regions are what is in the way)
        return round(width * height / 1e6, 1)
    lo, hi = 1.0, 2.0
    while not fits(hi):
        lo, hi = hi, hi * 2.0
        if hi > 64.0:
            return None
    for _ in range(8):
        mid = (lo + hi) / 2.0
        lo, hi = (lo, mid) if fits(mid) else (mid, hi)
    return math.ceil(width * height * hi * hi / 1e5) / 10.0


def _with_thumbnails(rh: RobustHeader, boxes, original: np.ndarray, region_keys, mcu) -> RobustHeader | None:
    """`rh` with sealed thumbnails of the painted regions that fit, or ``None`` if none fits."""

    from . import thumbnail
    from .embedder import capacity, choose_plan

    base = len(rh.to_bytes())
    areas = {
        i: boxes[i][2] * boxes[i][3]
        for i, r in enumerate(rh.regions)
        if r.look != 0 and i in region_keys
    }
    if not areas:
        return None
    # whether a length fits is not monotonic near the capacity (Reed-Solomon
    # block sizes): shrink the spare room until the payload fits
    spare = capacity(rh.width, rh.height, boxes, mcu) - base
    for _ in range(SPARE_TRIES):
        budget = thumbnail_budget(spare, areas)
        if not budget:
            return None
        size = base + sum(n + THUMBNAIL_TAG_BYTES + _varint_len(n + THUMBNAIL_TAG_BYTES) for n in budget.values())
        if choose_plan(rh.width, rh.height, boxes, size, mcu) is not None:
            break
        spare -= 1
    else:
        return None
    if original.ndim == 2:
        original = original[..., None]
    ncomp = 1 if rh.color_space == "gray" else 3
    regions = list(rh.regions)
    for i, n in budget.items():
        x, y, w, h = boxes[i]
        pixels = original[y : y + h, x : x + w]
        if ncomp == 1:
            pixels = pixels.mean(axis=-1) if pixels.shape[-1] == 3 else pixels[..., 0]
        elif pixels.shape[-1] == 1:
            pixels = np.repeat(pixels, 3, axis=-1)
        plain = thumbnail.encode(pixels, n)
        sealed = region_keys[i].seal_short(THUMBNAIL_LABEL, thumbnail_aad(i, regions[i]), plain, THUMBNAIL_TAG_BYTES)
        regions[i] = replace(regions[i], thumbnail=sealed)
    return replace(rh, regions=tuple(regions))


def open_thumbnail(header: RobustHeader, index: int, region_key, out_size: tuple[int, int] | None = None):
    """Decrypt and render region `index`'s thumbnail (SPEC.md §13.7).

    Parameters
    ----------
    header : RobustHeader
    index : int
    region_key : picveil.crypto.RegionKey
        The region's key (from the circle that opens its group).
    out_size : (int, int), optional
        ``(height, width)`` to render at; default the region's size.

    Returns
    -------
    numpy.ndarray or None
        float64 ``(h, w, 3)`` RGB (``(h, w)`` for gray), not clipped; ``None``
        if the region has no thumbnail, or it does not authenticate (wrong
        key, damage) or decode: never unauthenticated pixels.
    """
    from . import thumbnail

    entry = header.regions[index]
    if not entry.thumbnail:
        return None
    plain = region_key.open_short(THUMBNAIL_LABEL, thumbnail_aad(index, entry), entry.thumbnail, THUMBNAIL_TAG_BYTES)
    if plain is None:
        return None
    _, _, w, h = header.region_box(index)
    return thumbnail.decode(plain, h, w, ncomp=1 if header.color_space == "gray" else 3, out_size=out_size)


# --- undo record (container SPEC §4.4, box `pvru`) --------------------------------------------
UNDO_VERSION = 1


def _digest(arrays: dict) -> bytes:
    h = hashlib.sha256(b"picveil v1 robust undo")
    for ci in sorted(arrays):
        h.update(np.ascontiguousarray(arrays[ci], dtype="<i2").tobytes())
    return h.digest()


def encode_undo(coeffs, before: dict, amplitudes: np.ndarray, excluded_blocks: np.ndarray) -> bytes:
    """The record that undoes an embedded header exactly (container SPEC §4.4).

    Parameters
    ----------
    coeffs : picveil.jpeg.codec.JpegCoefficients
        The coefficients after :func:`picveil.robust.embed`.
    before : dict
        Component index -> the coefficient array before embedding.
    amplitudes, excluded_blocks : numpy.ndarray
        ``EmbedReport.amplitudes`` and ``EmbedReport.excluded_blocks``.

    Returns
    -------
    bytes
        ``u8 version ‖ u16 cols, rows ‖ u16 mask width, height ‖ u32 n ‖ zlib(int8 amplitudes) ‖ u32 ‖ zlib(mask bits)
        ‖ u32 m ‖ m × (u8 component ‖ u32 index ‖ i16 value) ‖ 32-byte SHA-256``:
        the amplitudes regenerate the change (``pattern_deltas``); the
        exceptions are the coefficients where subtracting it does not give the
        original back (clipping); the digest is over the original arrays.
    """
    import struct
    import zlib

    from .embedder import pattern_deltas

    rows, cols = amplitudes.shape
    z = zlib.compress(amplitudes.astype(np.int8).tobytes(), 9)
    rebuilt = {ci: coeffs.array(ci).astype(np.int32) - d for ci, d in pattern_deltas(coeffs, amplitudes, excluded_blocks).items()}
    exceptions = bytearray()
    m = 0
    for ci in sorted(before):
        flat_b, flat_r = before[ci].reshape(-1), rebuilt[ci].reshape(-1)
        for i in np.flatnonzero(flat_b != flat_r):
            exceptions += struct.pack(">BIh", ci, int(i), int(flat_b[i]))
            m += 1
    ex = excluded_blocks.astype(np.uint8)
    ex_z = zlib.compress(np.packbits(ex.reshape(-1)).tobytes(), 9)
    return (
        struct.pack(">BHHHHI", UNDO_VERSION, cols, rows, ex.shape[1], ex.shape[0], len(z)) + z
        + struct.pack(">I", len(ex_z)) + ex_z
        + struct.pack(">I", m) + bytes(exceptions) + _digest(before)
    )


def apply_undo(coeffs, undo: bytes) -> bool:
    """Undo an embedded header in place from its :func:`encode_undo` record.

    Returns
    -------
    bool
        True when the result matches the record's digest (the coefficients
        the writer had before embedding, exactly). False when the record is
        malformed or does not fit this image, or the result differs from the
        digest (a different floating-point platform rounded a value
        differently): `coeffs` is then left unchanged.
    """
    import struct
    import zlib

    from .embedder import _components, pattern_deltas

    try:
        version, cols, rows, exw, exh, n = struct.unpack_from(">BHHHHI", undo, 0)
        if version != UNDO_VERSION:
            return False
        pos = struct.calcsize(">BHHHHI")
        amps = np.frombuffer(zlib.decompress(undo[pos:pos + n]), dtype=np.int8)
        pos += n
        (n_ex,) = struct.unpack_from(">I", undo, pos)
        pos += 4
        bits = np.unpackbits(np.frombuffer(zlib.decompress(undo[pos:pos + n_ex]), dtype=np.uint8))
        pos += n_ex
        excluded = bits[: exw * exh].astype(bool).reshape(exh, exw)
        (m,) = struct.unpack_from(">I", undo, pos)
        pos += 4
        items = [struct.unpack_from(">BIh", undo, pos + 7 * k) for k in range(m)]
        pos += 7 * m
        digest = undo[pos:pos + 32]
        if len(digest) != 32 or pos + 32 != len(undo) or amps.size != rows * cols:
            return False
        comps = _components(coeffs)
        deltas = pattern_deltas(coeffs, amps.reshape(rows, cols), excluded)
        restored = {}
        for ci in comps:
            arr = coeffs.array(ci).astype(np.int32) - deltas[ci]
            restored[ci] = arr
        for ci, i, v in items:
            restored[ci].reshape(-1)[i] = v
        restored = {ci: a.astype(np.int16) for ci, a in restored.items()}
    except (struct.error, zlib.error, ValueError, IndexError, KeyError, TypeError):
        return False
    except Exception as exc:  # an UnsupportedImageError from _components: not our record
        from picveil.errors import UnsupportedImageError

        if isinstance(exc, UnsupportedImageError):
            return False
        raise
    if _digest(restored) != digest:
        return False
    for ci, a in restored.items():
        coeffs.set_blocks(ci, 0, 0, a)
    return True
