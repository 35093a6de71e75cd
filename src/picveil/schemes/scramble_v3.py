"""scramble-v3: a keyed permutation of whole MCUs, the same for every
component, with keyed mirroring and negation per MCU and AC sign scrambling.

scramble-v1 permutes each component's 8×8 blocks with its own permutation
and flips every coefficient's sign. After that, a block's luma no longer sits
under its own chroma, and random signs turn smooth blocks into patterns whose
pixels leave the 0..255 range: a viewer clips 25–35 % of a scrambled region's
RGB pixels (2–14 % in the photos themselves), and what is clipped is lost to
a reveal from the displayed pixels (after a platform re-encoded the photo).
scramble-v3 keeps colour and brightness together, so the scrambled region
stays in the RGB gamut about as well as the photo did.

Units. A region's components hold ``rows_c × cols_c`` blocks; its *units*
form a ``R × C`` grid with ``R = gcd(rows_c)`` and ``C = gcd(cols_c)`` over
the components (for a JPEG, its MCUs: 16×16 pixels in 4:2:0, 16×8 in 4:2:2,
8×8 in 4:4:4 and grayscale). A unit of component ``c`` is its
``fy × fx = (rows_c / R) × (cols_c / C)`` blocks at that place.

For a region with ``n = R·C`` units (key streams of the region key, labels
``"picveil scramble-v3 <use>"``, container SPEC §10.1):

1. **Permutation.** ``perm`` = stable ascending argsort of ``n`` big-endian
   u64 words of the ``unit`` stream: output unit ``i`` is made from input
   unit ``perm[i]``, in every component alike.
2. **Flips and negation.** Byte ``i`` of the ``flip`` stream: bit 0 (LSB)
   mirrors output unit ``i`` left–right, bit 1 top–bottom, bit 2 negates it.
   Mirroring a unit reverses the order of its blocks along that axis and
   mirrors each block: coefficient ``(u, v)`` (row ``u``, natural order)
   is multiplied by ``(-1)^v`` left–right, ``(-1)^u`` top–bottom. Negation
   multiplies every coefficient of the unit, DC included, in every
   component, by −1 (the photographic negative: 8-bit value ``p`` becomes
   about ``256 − p`` in R, G and B alike, so it stays in gamut).
3. **AC signs.** Each component's AC coefficients are then negated where
   the bit of the stream labelled ``"picveil scramble-v3 sign" ‖ u8 c`` is 1
   (bit ``j`` = bit ``7 − j % 8`` of byte ``j // 8``; coefficient ``j`` =
   block ``j // 64`` of the component's output in raster order,
   natural-order position ``j % 64``); DC positions are never negated by
   this step, so each unit's colour stays consistent. This hides the shapes
   inside each unit, in luma and chroma.

Every step is a signed permutation of whole blocks that keeps each
coefficient at its frequency, so quantization steps are unchanged, the
transform commutes with requantization on the same 8×8 grid with any table,
and it is orthogonal on real DCT blocks (the robust reveal inverts it on the
DCT of decoded pixels, as for scramble-v1). It needs no ``aux`` data.

What it leaks: the region's size; the multiset of units up to mirroring,
negation and AC signs: each unit's colour (up to the negative),
brightness spread and texture amount, i.e. a shuffled low-resolution
palette of the region at MCU size, and the |AC| histograms.
Positions, shapes and the arrangement of the region are hidden. Compared
with scramble-v1, the per-unit colour is kept together with the luma
(scramble-v1 shuffles chroma and luma separately), which is why it stays in
gamut.
"""

from __future__ import annotations

from math import gcd

import numpy as np

from .base import KeyStream, Protected
from .scramble_v1 import keyed_permutation, keyed_signs

_UNIT = b"picveil scramble-v3 unit"
_FLIP = b"picveil scramble-v3 flip"
_SIGN = b"picveil scramble-v3 sign"

_U = np.arange(8)[:, None]
_V = np.arange(8)[None, :]
_MIRROR_LR = np.where(_V % 2 == 1, -1, 1).astype(np.int16)  # (-1)^v
_MIRROR_TB = np.where(_U % 2 == 1, -1, 1).astype(np.int16)  # (-1)^u


def unit_grid(shapes: list[tuple[int, int]]) -> tuple[int, int]:
    """``(R, C)``: the unit grid of a region whose components have these block shapes."""
    rows = cols = 0
    for r, c in shapes:
        rows, cols = gcd(rows, r), gcd(cols, c)
    return rows, cols


def signed_permutations(key: KeyStream, shapes: list[tuple[int, int]]) -> list[tuple[np.ndarray, np.ndarray]]:
    """The scramble as one signed block permutation per component.

    Parameters
    ----------
    key : KeyStream
        The region key.
    shapes : list of (rows, cols)
        Block shape of each component inside the region (all multiples of
        the unit grid, see :func:`unit_grid`).

    Returns
    -------
    list of (src, signs)
        Per component: ``src``, int64 ``(n_blocks,)``, and ``signs``, int16
        ``(n_blocks, 8, 8)`` of ±1, such that the scrambled blocks (raster
        order) are ``blocks[src] * signs``.
    """
    R, C = unit_grid(shapes)
    n = R * C
    if n == 0:
        return [(np.zeros(0, dtype=np.int64), np.ones((0, 8, 8), dtype=np.int16)) for _ in shapes]
    perm = keyed_permutation(key, _UNIT, n)
    flags = np.frombuffer(key.stream(_FLIP, n), dtype=np.uint8)
    lr, tb, neg = (flags & 1).astype(bool), (flags & 2).astype(bool), (flags & 4).astype(bool)
    out_r, out_c = np.divmod(np.arange(n), C)
    src_r, src_c = np.divmod(perm, C)
    result = []
    for ci, (rows, cols) in enumerate(shapes):
        fy, fx = rows // R, cols // C
        a = np.arange(fy)[None, :, None]  # output sub-block row inside the unit
        b = np.arange(fx)[None, None, :]
        sa = np.where(tb[:, None, None], fy - 1 - a, a)
        sb = np.where(lr[:, None, None], fx - 1 - b, b)
        dst = (out_r[:, None, None] * fy + a) * cols + out_c[:, None, None] * fx + b  # (n, fy, fx)
        src_at = (src_r[:, None, None] * fy + sa) * cols + src_c[:, None, None] * fx + sb
        src = np.empty(rows * cols, dtype=np.int64)
        src[dst.reshape(-1)] = src_at.reshape(-1)
        unit_signs = np.ones((n, 8, 8), dtype=np.int16)
        unit_signs[lr] *= _MIRROR_LR
        unit_signs[tb] *= _MIRROR_TB
        unit_signs[neg] *= -1
        signs = np.empty((rows * cols, 8, 8), dtype=np.int16)
        signs[dst.reshape(-1)] = np.repeat(unit_signs, fy * fx, axis=0)
        ac = keyed_signs(key, _SIGN + bytes([ci]), rows * cols)
        ac[:, 0, 0] = 1
        signs *= ac
        result.append((src, signs))
    return result


class ScrambleV3:
    scheme_id = 4
    name = "scramble-v3"

    def protect(self, blocks: list[np.ndarray], key: KeyStream, quant=None) -> Protected:
        keys = signed_permutations(key, [b.shape[:2] for b in blocks])
        out = []
        for comp, (src, signs) in zip(blocks, keys):
            n = comp.shape[0] * comp.shape[1]
            out.append((comp.reshape(n, 8, 8)[src] * signs).reshape(comp.shape))
        return Protected(out)

    def reveal(self, blocks: list[np.ndarray], key: KeyStream, quant=None, aux: bytes | None = None) -> list[np.ndarray]:
        keys = signed_permutations(key, [b.shape[:2] for b in blocks])
        out = []
        for comp, (src, signs) in zip(blocks, keys):
            n = comp.shape[0] * comp.shape[1]
            orig = np.empty((n, 8, 8), dtype=comp.dtype)
            orig[src] = comp.reshape(n, 8, 8) * signs
            out.append(orig.reshape(comp.shape))
        return out
