"""The JPEG marker walk: header segments as a table.

A JPEG file is a sequence of *markers* (``0xFF`` followed by a code byte).
Most markers start a *segment*: a big-endian 2-byte length (which counts
itself) and ``length - 2`` payload bytes. The header runs from SOI (start of
image) to the first SOS (start of scan); after SOS comes entropy-coded data,
which this module never touches.

Everything here is a pure function on ``bytes``. Lengths read from the data
are never trusted: a segment that claims more bytes than remain raises
:class:`~picveil.errors.CorruptImageError`, never ``IndexError``.

The walk follows libjpeg (``jdmarker.c``, ``next_marker``), which is the
decoder picveil's codec is built on, so both see the same segments:

* any number of ``0xFF`` fill bytes may precede a marker code;
* stray bytes between segments (and ``FF 00`` pairs) are skipped, as libjpeg
  skips them with a warning; :func:`remove_segments` keeps them in place;
* RSTn and TEM are standalone markers (no length); EOI or a second SOI before
  SOS means there is no image, and is an error.

Marker values are the full 16-bit codes (``0xFFEB`` for APP11), as in the
JPEG standard (ITU-T T.81, Table B.1).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from picveil.errors import CorruptImageError, NotAnImageError

__all__ = [
    "APP0",
    "APP11",
    "APP14",
    "COM",
    "EOI",
    "MARKERS",
    "MAX_PAYLOAD",
    "SOI",
    "SOS",
    "Segment",
    "app11_payloads",
    "encode_segment",
    "insert_segments",
    "marker_name",
    "read_segments",
    "remove_segments",
    "sos_offset",
]

SOI = 0xFFD8
EOI = 0xFFD9
SOS = 0xFFDA
APP0 = 0xFFE0
APP11 = 0xFFEB
APP14 = 0xFFEE
COM = 0xFFFE

#: Largest payload one segment can hold: the 2-byte length counts itself.
MAX_PAYLOAD = 0xFFFF - 2

#: Every marker code of ITU-T T.81 Table B.1 -> (name, description).
#: Codes 0xFF02..0xFFBF (RES, reserved) are not listed; :func:`marker_name`
#: names them.
MARKERS: dict[int, tuple[str, str]] = {
    0xFF01: ("TEM", "For temporary private use in arithmetic coding"),
    0xFFC0: ("SOF0", "Baseline DCT"),
    0xFFC1: ("SOF1", "Extended sequential DCT, Huffman"),
    0xFFC2: ("SOF2", "Progressive DCT, Huffman"),
    0xFFC3: ("SOF3", "Lossless (sequential), Huffman"),
    0xFFC4: ("DHT", "Define Huffman table(s)"),
    0xFFC5: ("SOF5", "Differential sequential DCT, Huffman"),
    0xFFC6: ("SOF6", "Differential progressive DCT, Huffman"),
    0xFFC7: ("SOF7", "Differential lossless, Huffman"),
    0xFFC8: ("JPG", "Reserved for JPEG extensions"),
    0xFFC9: ("SOF9", "Extended sequential DCT, arithmetic"),
    0xFFCA: ("SOF10", "Progressive DCT, arithmetic"),
    0xFFCB: ("SOF11", "Lossless (sequential), arithmetic"),
    0xFFCC: ("DAC", "Define arithmetic coding conditioning(s)"),
    0xFFCD: ("SOF13", "Differential sequential DCT, arithmetic"),
    0xFFCE: ("SOF14", "Differential progressive DCT, arithmetic"),
    0xFFCF: ("SOF15", "Differential lossless, arithmetic"),
    **{0xFFD0 + n: (f"RST{n}", f"Restart with modulo 8 count {n}") for n in range(8)},
    0xFFD8: ("SOI", "Start of image"),
    0xFFD9: ("EOI", "End of image"),
    0xFFDA: ("SOS", "Start of scan"),
    0xFFDB: ("DQT", "Define quantization table(s)"),
    0xFFDC: ("DNL", "Define number of lines"),
    0xFFDD: ("DRI", "Define restart interval"),
    0xFFDE: ("DHP", "Define hierarchical progression"),
    0xFFDF: ("EXP", "Expand reference component(s)"),
    0xFFE0: ("APP0", "Application segment 0 (JFIF, JFXX)"),
    0xFFE1: ("APP1", "Application segment 1 (Exif, XMP)"),
    0xFFE2: ("APP2", "Application segment 2 (ICC profile, MPF)"),
    **{0xFFE0 + n: (f"APP{n}", f"Application segment {n}") for n in range(3, 16)},
    0xFFEB: ("APP11", "Application segment 11 (JPEG XT, JUMBF; picveil reveal data)"),
    0xFFED: ("APP13", "Application segment 13 (Photoshop IRB, IPTC)"),
    0xFFEE: ("APP14", "Application segment 14 (Adobe colour transform)"),
    **{0xFFF0 + n: (f"JPG{n}", "Reserved for JPEG extensions") for n in range(14)},
    0xFFFE: ("COM", "Comment"),
}

# Markers without a length field (T.81 B.1.1.3): SOI, EOI, RST0-7, TEM.
_STANDALONE = frozenset({0xFF01, SOI, EOI, *range(0xFFD0, 0xFFD8)})

# Leading segments that a JPEG writer (libjpeg) emits before everything else,
# recognised by marker and payload signature.
_WRITER_HEADERS = ((APP0, b"JFIF\x00"), (APP14, b"Adobe"))


def marker_name(marker: int) -> str:
    """Return the short name of a 16-bit marker code (``0xFFE1`` -> ``'APP1'``).

    Parameters
    ----------
    marker : int
        Full marker code, ``0xFF01`` .. ``0xFFFE``.

    Returns
    -------
    str
        The name from :data:`MARKERS`, ``'RES'`` for reserved codes, or the
        code in hex when it is not a marker at all.
    """
    if marker in MARKERS:
        return MARKERS[marker][0]
    if 0xFF02 <= marker <= 0xFFBF:
        return "RES"
    return f"0x{marker:04X}"


@dataclass(frozen=True)
class Segment:
    """One header segment.

    Attributes
    ----------
    marker : int
        Full 16-bit marker code, e.g. ``0xFFE1`` for APP1.
    offset : int
        Index in the file of the ``0xFF`` byte directly before the marker
        code (fill bytes, if any, come before it).
    payload : bytes
        The segment's content without the 2-byte length; empty for
        standalone markers (RSTn, TEM).
    """

    marker: int
    offset: int
    payload: bytes

    @property
    def has_length(self) -> bool:
        """Whether the segment carries a length field (all but RSTn/TEM)."""
        return self.marker not in _STANDALONE

    @property
    def end(self) -> int:
        """Index just past the segment's last byte."""
        return self.offset + 2 + (2 + len(self.payload) if self.has_length else 0)

    @property
    def name(self) -> str:
        """Short marker name, e.g. ``'APP1'``."""
        return marker_name(self.marker)


def _walk(data: bytes) -> tuple[list[Segment], int]:
    """Walk the header; return its segments and the offset of the SOS marker."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if data[:2] != b"\xff\xd8":
        raise NotAnImageError(
            f"This data is not a JPEG (it starts with {data[:4].hex(' ') or 'nothing'}, "
            "not ff d8)."
        )
    segments: list[Segment] = []
    size = len(data)
    pos = 2
    while True:
        # libjpeg's next_marker(): skip to an 0xFF, skip fill bytes, and
        # discard FF 00 pairs; stray bytes are tolerated.
        while pos < size and data[pos] != 0xFF:
            pos += 1
        while pos + 1 < size and data[pos + 1] == 0xFF:
            pos += 1
        if pos + 1 >= size:
            raise CorruptImageError(
                "The JPEG is truncated: its header ends before the image data (SOS)."
            )
        code = data[pos + 1]
        if code == 0x00:
            pos += 2
            continue
        marker = 0xFF00 | code
        if marker == SOS:
            return segments, pos
        if marker in (SOI, EOI):
            raise CorruptImageError(
                f"The JPEG header holds {marker_name(marker)} at byte {pos} before "
                "any image data (SOS)."
            )
        if marker in _STANDALONE:
            segments.append(Segment(marker, pos, b""))
            pos += 2
            continue
        if pos + 4 > size:
            raise CorruptImageError(
                f"The JPEG is truncated inside the {marker_name(marker)} segment at byte {pos}."
            )
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if length < 2:
            raise CorruptImageError(
                f"The {marker_name(marker)} segment at byte {pos} has an impossible "
                f"length ({length})."
            )
        end = pos + 2 + length
        if end > size:
            raise CorruptImageError(
                f"The {marker_name(marker)} segment at byte {pos} claims {length} bytes "
                f"but only {size - pos - 2} remain."
            )
        segments.append(Segment(marker, pos, data[pos + 4 : end]))
        pos = end


def read_segments(data: bytes) -> list[Segment]:
    """List the header segments of a JPEG, from SOI up to (not including) SOS.

    SOI itself is not listed. Standalone markers met in the header (RSTn,
    TEM) are listed with an empty payload.

    Parameters
    ----------
    data : bytes
        A complete JPEG file (at least its header).

    Returns
    -------
    list of Segment
        In file order.

    Raises
    ------
    NotAnImageError
        `data` does not start with ``FF D8``.
    CorruptImageError
        A length is impossible or runs past the end of `data`, the header ends
        without SOS, or EOI/SOI appears before SOS.
    """
    return _walk(data)[0]


def sos_offset(data: bytes) -> int:
    """Return the index of the first SOS marker (where the header ends).

    Parameters
    ----------
    data : bytes
        A JPEG file.

    Returns
    -------
    int
        Index of the ``0xFF`` byte of ``FF DA``.

    Raises
    ------
    NotAnImageError, CorruptImageError
        As :func:`read_segments`.
    """
    return _walk(data)[1]


def app11_payloads(data: bytes) -> list[bytes]:
    """Return the payloads of all APP11 (``0xFFEB``) header segments, in order.

    Parameters
    ----------
    data : bytes
        A JPEG file.

    Returns
    -------
    list of bytes
        Payloads without the length field; empty when there is no APP11.

    Raises
    ------
    NotAnImageError, CorruptImageError
        As :func:`read_segments`.
    """
    return [s.payload for s in read_segments(data) if s.marker == APP11]


def _check_new_segment(marker: int, payload: bytes) -> None:
    if not isinstance(marker, int) or not (APP0 <= marker <= 0xFFEF or marker == COM):
        shown = f"0x{marker:04X}" if isinstance(marker, int) else repr(marker)
        raise ValueError(
            f"only APPn (0xFFE0..0xFFEF) and COM (0xFFFE) segments can be inserted, not {shown}"
        )
    if not isinstance(payload, (bytes, bytearray)):
        raise TypeError(f"segment payload must be bytes, not {type(payload).__name__}")
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(
            f"a {marker_name(marker)} payload holds at most {MAX_PAYLOAD} bytes, "
            f"got {len(payload)}; split it into chunks"
        )


def encode_segment(marker: int, payload: bytes) -> bytes:
    """Serialise one APPn or COM segment: marker, length, payload.

    Parameters
    ----------
    marker : int
        ``0xFFE0`` .. ``0xFFEF`` or ``0xFFFE``.
    payload : bytes
        At most :data:`MAX_PAYLOAD` (65533) bytes.

    Returns
    -------
    bytes

    Raises
    ------
    ValueError
        Another marker, or a payload that does not fit in one segment.
    """
    _check_new_segment(marker, payload)
    return marker.to_bytes(2, "big") + (len(payload) + 2).to_bytes(2, "big") + bytes(payload)


def insert_segments(jpeg: bytes, segments: Sequence[tuple[int, bytes]]) -> bytes:
    """Insert segments after SOI and the writer's leading JFIF/Adobe segments.

    The insertion point is after SOI and after any run of APP0 ``JFIF``
    and APP14 ``Adobe`` segments that directly follows it, so a JFIF file
    stays a JFIF file. Everything else is copied unchanged.

    Parameters
    ----------
    jpeg : bytes
        A JPEG file.
    segments : sequence of (int, bytes)
        ``(marker, payload)`` pairs, inserted in the given order. Only APPn
        and COM markers are accepted.

    Returns
    -------
    bytes
        The new file.

    Raises
    ------
    ValueError
        A marker is not APPn/COM, or a payload exceeds 65533 bytes.
    NotAnImageError, CorruptImageError
        As :func:`read_segments`.
    """
    encoded = b"".join(encode_segment(marker, payload) for marker, payload in segments)
    header, _ = _walk(jpeg)
    at = 2
    for seg in header:
        if seg.offset != at:  # fill or stray bytes: stop at the first gap
            break
        if not any(seg.marker == m and seg.payload.startswith(sig) for m, sig in _WRITER_HEADERS):
            break
        at = seg.end
    return bytes(jpeg[:at]) + encoded + bytes(jpeg[at:])


def remove_segments(jpeg: bytes, predicate: Callable[[Segment], bool]) -> bytes:
    """Remove the header segments (before SOS) for which `predicate` is true.

    Only the segments' own bytes (marker, length, payload) are removed; every
    other byte, fill and stray bytes included, is kept, so removing nothing
    returns `jpeg` unchanged.

    Parameters
    ----------
    jpeg : bytes
        A JPEG file.
    predicate : callable
        Called with each :class:`Segment` (SOI and SOS are never offered).

    Returns
    -------
    bytes

    Raises
    ------
    NotAnImageError, CorruptImageError
        As :func:`read_segments`.
    """
    header, _ = _walk(jpeg)
    data = bytes(jpeg)
    parts: list[bytes] = []
    pos = 0
    for seg in header:
        if predicate(seg):
            parts.append(data[pos : seg.offset])
            pos = seg.end
    parts.append(data[pos:])
    return b"".join(parts)
