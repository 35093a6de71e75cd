"""The optional ``pvrd`` box: per-region encrypted data (SPEC §4.3).

Bytes <-> dataclasses only; no crypto here (the ciphertexts are opaque).
Entries carry what a region's scheme or look needs beyond the scrambled
coefficients, e.g. the original DC values (scheme 2) or the original
coefficients of a region painted with a look (issue 6).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ..errors import TamperedError

BOX_REGION_DATA = b"pvrd"

#: Entry kinds.
DATA_SCHEME_AUX = 1  #: scheme-specific exact-reveal data (scheme 2: original DC values)
DATA_ORIGINAL = 2  #: the region's original coefficients (looks other than scramble), zlib of int16
DATA_ORIGINAL_JPEG = 3  #: the same, Huffman-coded as a small JPEG (picveil.jpeg.blockpack)
DATA_TABLES = 4  #: the protected file's quantization tables (zlib of u16be, natural order), to show the original elsewhere
DATA_PICTURE = 5  #: the picture around the regions: a digest of its coefficients and a 16×16 luma thumbnail (one per key group)

_TAMPERED = "The picveil data in this image is damaged or was altered."


@dataclass(frozen=True)
class RegionDataEntry:
    region: int
    kind: int
    ciphertext: bytes


def encode_region_data(entries: list[RegionDataEntry]) -> bytes:
    """Serialise entries (sorted by region, then kind; pairs unique)."""
    keys = [(e.region, e.kind) for e in entries]
    if keys != sorted(set(keys)):
        raise ValueError("region data entries must be sorted and unique by (region, kind)")
    out = [struct.pack(">H", len(entries))]
    for e in entries:
        out.append(struct.pack(">HBI", e.region, e.kind, len(e.ciphertext)))
        out.append(bytes(e.ciphertext))
    return b"".join(out)


def decode_region_data(body: bytes) -> list[RegionDataEntry]:
    """Parse a ``pvrd`` body; :class:`TamperedError` on any malformation."""
    try:
        (n,) = struct.unpack_from(">H", body, 0)
        pos, entries = 2, []
        for _ in range(n):
            region, kind, length = struct.unpack_from(">HBI", body, pos)
            pos += 7
            if pos + length > len(body):
                raise TamperedError(_TAMPERED)
            entries.append(RegionDataEntry(region, kind, bytes(body[pos : pos + length])))
            pos += length
    except struct.error:
        raise TamperedError(_TAMPERED) from None
    keys = [(e.region, e.kind) for e in entries]
    if pos != len(body) or keys != sorted(set(keys)):
        raise TamperedError(_TAMPERED)
    return entries
