"""scramble-v3: a keyed permutation of whole MCUs, the same for every
component, with keyed mirroring and negation per MCU and AC sign scrambling.

scramble-v1 permutes each component's 8×8 blocks with its own permutation
and flips every coefficient's sign. After that, a block's luma no longer sits
under its own chroma, and random signs turn smooth blocks into patterns whose
pixels leave the 0..255 range: a viewer clips 7–34 % of a scrambled region's
RGB pixels (2–14 % in the photos themselves), and what is clipped is lost to
a reveal from the displayed pixels (after a platform re-encoded the photo).
scramble-v3 keeps colour and brightness together, so far fewer of the
scrambled region's pixels leave the RGB gamut (7–19 % on the same three
scikit-image photos, ``tests/test_scramble_v3.py``).

Units. A region's components hold ``rows_c × cols_c`` blocks; its *units*
form a ``R × C`` grid with ``R = min(rows_c)`` and ``C = min(cols_c)`` over
the components (for a JPEG, its MCUs: 16×16 pixels in 4:2:0, 16×8 in 4:2:2,
8×8 in 4:4:4 and grayscale). Unit ``(r, k)`` of component ``c`` is its
blocks in rows ``r·fy .. min((r+1)·fy, rows_c) − 1`` and columns
``k·fx .. min((k+1)·fx, cols_c) − 1``, with ``fy = ⌈rows_c / R⌉`` and
``fx = ⌈cols_c / C⌉``: a full MCU, or fewer blocks where the image's edge
cuts the last MCU column or row. A unit's *shape* is the number of block
rows and columns it holds in every component.

For a region with ``n = R·C`` units (key streams of the region key, labels
``"picveil scramble-v3 <use>"``, container SPEC §10.1):

1. **Permutation.** Word ``i`` is the ``i``-th big-endian u64 of the
   ``unit`` stream (8·n bytes). Units are permuted among units of the same
   shape: listing a shape's units in raster order as ``m[0..k-1]``, output
   unit ``m[j]`` is made from input unit ``m[σ[j]]``, where ``σ`` is the
   stable ascending argsort of their words; the same in every component.
   (Without cut units all units share one shape.)
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

import numpy as np

from .base import KeyStream, Protected, raise_dc_floor
from .scramble_v1 import keyed_signs

_UNIT = b"picveil scramble-v3 unit"
_FLIP = b"picveil scramble-v3 flip"
_SIGN = b"picveil scramble-v3 sign"

_U = np.arange(8)[:, None]
_V = np.arange(8)[None, :]
_MIRROR_LR = np.where(_V % 2 == 1, -1, 1).astype(np.int16)  # (-1)^v
_MIRROR_TB = np.where(_U % 2 == 1, -1, 1).astype(np.int16)  # (-1)^u


def unit_grid(shapes: list[tuple[int, int]]) -> tuple[int, int, list[tuple[int, int]]]:
    """The unit grid of a region whose components have these block shapes.

    Returns ``(R, C, factors)``: ``R``, ``C`` the smallest block counts over
    the components (the region's MCU rows and columns: a component sampled
    once per MCU has exactly that many), and per component ``(fy, fx)`` =
    ``(ceil(rows / R), ceil(cols / C))``, the blocks of a full unit.
    """
    if not shapes or min(min(r, c) for r, c in shapes) == 0:
        return 0, 0, [(0, 0) for _ in shapes]
    R, C = min(r for r, _ in shapes), min(c for _, c in shapes)
    return R, C, [(-(-r // R), -(-c // C)) for r, c in shapes]


def _span(index: np.ndarray, f: int, n: int) -> np.ndarray:
    """Blocks of each unit along one axis: ``min(f, n - index * f)``, at least 0."""
    return np.clip(n - index * f, 0, f)


def signed_permutations(
    key: KeyStream, shapes: list[tuple[int, int]], labels: tuple[bytes, bytes, bytes] = (_UNIT, _FLIP, _SIGN)
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The scramble as one signed block permutation per component.

    Parameters
    ----------
    key : KeyStream
        The region key.
    shapes : list of (rows, cols)
        Block shape of each component inside the region.
    labels : (unit, flip, sign)
        Key-stream labels of the three steps (scramble-v4 uses its own).

    Returns
    -------
    list of (src, signs)
        Per component: ``src``, int64 ``(n_blocks,)``, and ``signs``, int16
        ``(n_blocks, 8, 8)`` of ±1, such that the scrambled blocks (raster
        order) are ``blocks[src] * signs``.

    Notes
    -----
    Units that the region's edge cuts (the last MCU column or row of an
    image whose size is not a multiple of the MCU) hold fewer blocks of some
    component. Units are therefore grouped by their *shape* (the blocks they
    hold in every component), and each group is permuted within itself by
    the argsort of its members' words: without cut units, one group, the
    whole grid.
    """
    R, C, factors = unit_grid(shapes)
    n = R * C
    if n == 0:
        return [(np.arange(r * c, dtype=np.int64), np.ones((r * c, 8, 8), dtype=np.int16)) for r, c in shapes]
    unit_label, flip_label, sign_label = labels
    words = np.frombuffer(key.stream(unit_label, 8 * n), dtype=">u8").astype(np.uint64)
    ur, uc = np.divmod(np.arange(n), C)
    heights = np.stack([_span(ur, fy, rows) for (rows, _), (fy, _) in zip(shapes, factors)], 1)
    widths = np.stack([_span(uc, fx, cols) for (_, cols), (_, fx) in zip(shapes, factors)], 1)
    signature = np.concatenate([heights, widths], 1)
    source = np.empty(n, dtype=np.int64)  # output unit i is made from input unit source[i]
    _, group = np.unique(signature, axis=0, return_inverse=True)
    for g in np.unique(group):
        members = np.flatnonzero(group.reshape(-1) == g)
        source[members] = members[np.argsort(words[members], kind="stable")]
    flags = np.frombuffer(key.stream(flip_label, n), dtype=np.uint8)
    lr, tb, neg = (flags & 1).astype(bool), (flags & 2).astype(bool), (flags & 4).astype(bool)
    sr, sc = np.divmod(source, C)
    result = []
    for ci, ((rows, cols), (fy, fx)) in enumerate(zip(shapes, factors)):
        src = np.empty(rows * cols, dtype=np.int64)
        signs = np.ones((rows * cols, 8, 8), dtype=np.int16)
        h, w = heights[:, ci], widths[:, ci]
        for a in range(fy):  # output sub-block (a, b) of each unit, where the unit has it
            for b in range(fx):
                has = (a < h) & (b < w)
                sa = np.where(tb, h - 1 - a, a)[has]
                sb = np.where(lr, w - 1 - b, b)[has]
                dst = (ur[has] * fy + a) * cols + uc[has] * fx + b
                src[dst] = (sr[has] * fy + sa) * cols + sc[has] * fx + sb
                signs[dst[lr[has]]] *= _MIRROR_LR
                signs[dst[tb[has]]] *= _MIRROR_TB
                signs[dst[neg[has]]] *= -1
        ac = keyed_signs(key, sign_label + bytes([ci]), rows * cols)
        ac[:, 0, 0] = 1
        signs *= ac
        result.append((src, signs))
    return result


class ScrambleV3:
    scheme_id = 4
    name = "scramble-v3"

    def signed_permutations(self, key: KeyStream, shapes: list[tuple[int, int]]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per component ``(src, signs)``: the scrambled blocks are ``blocks[src] * signs``."""
        return signed_permutations(key, shapes)

    def protect(self, blocks: list[np.ndarray], key: KeyStream, quant=None) -> Protected:
        keys = signed_permutations(key, [b.shape[:2] for b in blocks])
        out = []
        for comp, (src, signs) in zip(raise_dc_floor(blocks), keys):  # negation: −1024 has none
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
