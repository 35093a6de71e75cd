"""The interface every protection scheme implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


class KeyStream(Protocol):
    """What a scheme may ask of a region key (see :class:`picveil.crypto.RegionKey`)."""

    def stream(self, label: bytes, n: int) -> bytes: ...

    def seal_short(self, label: bytes, aad: bytes, plaintext: bytes, tag_bytes: int = 4) -> bytes: ...

    def open_short(self, label: bytes, aad: bytes, sealed: bytes, tag_bytes: int = 4) -> bytes | None: ...


@dataclass(frozen=True)
class Protected:
    """What a scheme returns for one region.

    ``blocks``: the protected blocks, as written into the image.
    ``aux``: bytes an exact reveal needs besides the blocks (may be empty);
    picveil stores them encrypted under the region key in the container.
    ``robust``: compact parameters a reveal from re-encoded pixels needs (may
    be empty); they travel encrypted in the robust in-image header.
    """

    blocks: list[np.ndarray]
    aux: bytes = b""
    robust: bytes = b""


class Scheme(Protocol):
    """A keyed, exactly invertible transform of one region's blocks.

    ``blocks`` is a list with one array per JPEG component, each of shape
    ``(rows, cols, 8, 8)``, dtype ``int16``, holding quantized DCT
    coefficients in natural (row-major) order: exactly the component's blocks
    inside the region, in raster order. ``quant`` holds each component's
    quantization table, ``(8, 8)`` ``uint16``. ``protect`` and ``reveal``
    never modify their input; for any key,
    ``reveal(p.blocks, k, quant, p.aux) == blocks`` where
    ``p = protect(blocks, k, quant)``.
    """

    scheme_id: int
    name: str

    def protect(self, blocks: list[np.ndarray], key: KeyStream, quant: list[np.ndarray]) -> Protected: ...

    def reveal(
        self, blocks: list[np.ndarray], key: KeyStream, quant: list[np.ndarray], aux: bytes | None = None
    ) -> list[np.ndarray]: ...


def inflate_exactly(aux: bytes, want: int, scheme: str) -> bytes:
    """A scheme's zlib ``aux`` data, which must inflate to exactly `want` bytes.

    Bounded: never more than ``want + 1`` bytes are inflated, so a forged
    container cannot make a reveal allocate more than the region needs.
    Raises ``ValueError`` (the container reports it as tampering) if the data
    is not zlib or has another length.
    """
    import zlib

    try:
        raw = zlib.decompressobj().decompress(aux, want + 1)
    except zlib.error:
        raise ValueError(f"{scheme} aux data is not zlib") from None
    if len(raw) != want:
        raise ValueError(f"{scheme} aux data does not match the region")
    return raw


#: Lowest DC a scheme that negates DC coefficients keeps (container SPEC §9,
#: "DC floor"): −1024 is legal, its negation +1024 is not.
DC_FLOOR = -1023


def raise_dc_floor(blocks: list[np.ndarray]) -> list[np.ndarray]:
    """Copies of `blocks` (``(rows, cols, 8, 8)`` int16 per component) with
    every DC of −1024 raised to :data:`DC_FLOOR`.

    Only a DC quantization step of 1 (a black block of a quality-100 JPEG)
    allows −1024; schemes that negate DC coefficients apply this first, and
    their reveal returns −1023 there (1/8 of a grey level).
    """
    out = []
    for comp in blocks:
        comp = np.array(comp, copy=True)
        dc = comp[..., 0, 0]
        dc[dc < DC_FLOOR] = DC_FLOOR
        out.append(comp)
    return out
