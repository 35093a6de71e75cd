"""scramble-v1: keyed block permutation and sign scrambling in the DCT domain.

For each component of a region (independently keyed per component):

1. **Permutation.** The region's ``n`` blocks, in raster order, are permuted:
   ``out[i] = in[perm[i]]`` where ``perm`` is the stable ascending argsort of
   ``n`` big-endian unsigned 64-bit words from the key stream labelled
   ``"picveil scramble-v1 perm" ‖ u8 component``.
2. **Signs.** Every coefficient of every output block, DC included, is
   negated where the corresponding bit of the stream labelled
   ``"picveil scramble-v1 sign" ‖ u8 component`` is 1 (bit ``j`` = bit
   ``7 - j % 8`` of byte ``j // 8``; coefficient ``j`` = block ``j // 64``,
   natural-order position ``j % 64``).

What it preserves: quantization tables, block count, every coefficient's
magnitude (so file size barely changes), and the multiset of ``|coefficient|``
vectors of the region. Both operations commute with requantization on the same
8×8 grid with the same table, which the robustness work builds on.

What it leaks: the histogram of block energies and of ``|DC|`` (for example
how much "ink" or skin a region holds), and the region's size. Positions and
signs, hence shapes, edges and the low-resolution picture, are hidden.
"""

from __future__ import annotations

import numpy as np

from .base import KeyStream, Protected, raise_dc_floor

_PERM = b"picveil scramble-v1 perm"
_SIGN = b"picveil scramble-v1 sign"


def keyed_permutation(key: KeyStream, label: bytes, n: int) -> np.ndarray:
    """Permutation of ``range(n)`` (int64 array) from the key stream ``label``."""
    words = np.frombuffer(key.stream(label, 8 * n), dtype=">u8").astype(np.uint64)
    return np.argsort(words, kind="stable")


def keyed_signs(key: KeyStream, label: bytes, n_blocks: int) -> np.ndarray:
    """int16 array ``(n_blocks, 8, 8)`` of ±1: −1 where a coefficient is negated."""
    bits = np.unpackbits(np.frombuffer(key.stream(label, 8 * n_blocks), dtype=np.uint8))
    return (1 - 2 * bits.astype(np.int16)).reshape(n_blocks, 8, 8)


class ScrambleV1:
    scheme_id = 1
    name = "scramble-v1"

    def _keys(self, key: KeyStream, ci: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        tag = bytes([ci])
        return keyed_permutation(key, _PERM + tag, n), keyed_signs(key, _SIGN + tag, n)

    def signed_permutations(self, key: KeyStream, shapes: list[tuple[int, int]]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per component ``(perm, signs)``: the scrambled blocks are ``blocks[perm] * signs``."""
        return [self._keys(key, ci, rows * cols) for ci, (rows, cols) in enumerate(shapes)]

    def protect(self, blocks: list[np.ndarray], key: KeyStream, quant=None) -> Protected:
        out = []
        for ci, comp in enumerate(raise_dc_floor(blocks)):  # DC signs flip: −1024 has no negation
            rows, cols = comp.shape[:2]
            n = rows * cols
            flat = comp.reshape(n, 8, 8)
            perm, signs = self._keys(key, ci, n)
            scr = flat[perm]
            scr *= signs
            out.append(scr.reshape(comp.shape))
        return Protected(out)

    def reveal(self, blocks: list[np.ndarray], key: KeyStream, quant=None, aux: bytes | None = None) -> list[np.ndarray]:
        out = []
        for ci, comp in enumerate(blocks):
            rows, cols = comp.shape[:2]
            n = rows * cols
            perm, signs = self._keys(key, ci, n)
            scr = comp.reshape(n, 8, 8) * signs
            orig = np.empty_like(scr)
            orig[perm] = scr
            out.append(orig.reshape(comp.shape))
        return out
