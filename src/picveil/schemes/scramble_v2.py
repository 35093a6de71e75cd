"""scramble-v2: scramble-v1's permutation and AC sign scrambling, plus
rank-equalised block means.

scramble-v1 keeps every coefficient's magnitude, so the histogram of block
means (|DC|) survives: how much "ink", skin or hair a region holds. The
privacy audit measured what that leaks (global-statistics attacker 32–34 %
top-1 on digits against a chance of 10 %). scramble-v2 replaces every block
mean by a value that depends only on its *rank* in the region:

For each component ``c`` of a region with ``n`` blocks and DC quantizer
``q`` (all steps keyed by streams labelled ``"picveil scramble-v2 <use>"`` ‖
u8 c, see SPEC §10):

1. **Dither and rank.** ``u_b`` = big-endian u32 ``b`` of the ``dither``
   stream ÷ 2³²; the rank ``r_b`` of block ``b`` is its position in the
   stable ascending argsort of ``DC_b + 0.999·u_b`` (equal DCs are ordered
   by the keyed dither, so ties leak nothing).
2. **Equalise.** The new mean is ``t_b = L + (r_b + ½)·(H − L)/n`` grey
   levels with ``L, H = 40, 216`` for the first component and ``88, 168``
   for the others (a calmer colour), written as
   ``DC'_b = round((t_b − 128)·8/q)``. The multiset of block means is
   therefore the same for every region of ``n`` blocks: nothing of the
   content's brightness distribution is left, and blocks stay away from
   black and white, which keeps recompression from clipping them.
3. **Permute and flip.** As scramble-v1 (labels ``perm`` and ``sign``),
   except that DC signs are left alone.

Exact reveal needs the original DC values, which are the scheme's ``aux``
bytes (stored encrypted in the container): the ``n`` DC values of each
component as little-endian int16, components in order, zlib-compressed.
A reveal from re-encoded pixels uses the ``robust`` bytes instead: the
quantile function of the original block means, as u8 grey levels at 17
evenly spaced ranks for the first component and 5 for the others; the
revealer maps each received mean back through it.

What it leaks: the region's size, and the multiset of AC magnitude vectors
(how much texture the region has; scramble-v1's remaining leak). Block
means, positions and signs are hidden.
"""

from __future__ import annotations

import zlib

import numpy as np

from .base import KeyStream, Protected
from .scramble_v1 import keyed_permutation, keyed_signs

LOW, HIGH = 40.0, 216.0  #: luma (first component) target range of block means
CHROMA_LOW, CHROMA_HIGH = 88.0, 168.0  #: other components: a calmer colour range
KNOTS_FIRST, KNOTS_OTHER = 17, 5
_DITHER = b"picveil scramble-v2 dither"
_PERM = b"picveil scramble-v2 perm"
_SIGN = b"picveil scramble-v2 sign"


def _dither(key: KeyStream, ci: int, n: int) -> np.ndarray:
    raw = np.frombuffer(key.stream(_DITHER + bytes([ci]), 4 * n), dtype=">u4").astype(np.float64)
    return raw / 2.0**32


def _range(ci: int) -> tuple[float, float]:
    return (LOW, HIGH) if ci == 0 else (CHROMA_LOW, CHROMA_HIGH)


def equalised_dc(dc: np.ndarray, dither: np.ndarray, q_dc: float, low: float = LOW, high: float = HIGH) -> tuple[np.ndarray, np.ndarray]:
    """Rank-equalised DC values.

    Parameters
    ----------
    dc : ndarray of int, shape (n,)
        Original quantized DC values.
    dither : ndarray of float in [0, 1), shape (n,)
    q_dc : float
        The component's DC quantizer.

    Returns
    -------
    new_dc : ndarray of int16, shape (n,)
    order : ndarray of int64, shape (n,)
        ``order[r]`` is the block of rank ``r``.
    """
    n = dc.size
    order = np.argsort(dc.astype(np.float64) + 0.999 * dither, kind="stable")
    ranks = np.empty(n, dtype=np.int64)
    ranks[order] = np.arange(n)
    target = low + (ranks + 0.5) * (high - low) / n
    return np.round((target - 128.0) * 8.0 / q_dc).astype(np.int16), order


def quantile_knots(dc: np.ndarray, order: np.ndarray, q_dc: float, k: int) -> bytes:
    """u8 grey levels of the original block means at ``k`` evenly spaced ranks."""
    means = np.clip(dc[order].astype(np.float64) * q_dc / 8.0 + 128.0, 0, 255)
    pos = np.linspace(0, means.size - 1, k)
    return bytes(np.round(np.interp(pos, np.arange(means.size), means)).astype(np.uint8))


def mean_from_equalised(mean: np.ndarray, knots: bytes, ci: int = 0) -> np.ndarray:
    """Map received (equalised) block means of component ``ci`` back to original means (grey levels)."""
    low, high = _range(ci)
    k = np.frombuffer(knots, dtype=np.uint8).astype(np.float64)
    frac = np.clip((np.asarray(mean, dtype=np.float64) - low) / (high - low), 0.0, 1.0)
    return np.interp(frac, np.linspace(0.0, 1.0, k.size), k)


class ScrambleV2:
    scheme_id = 2
    name = "scramble-v2"

    def signed_permutations(self, key: KeyStream, shapes: list[tuple[int, int]]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per component ``(perm, signs)`` of step 3 (DC signs +1): ``blocks[perm] * signs``
        scrambles blocks whose means are already equalised."""
        out = []
        for ci, (rows, cols) in enumerate(shapes):
            n = rows * cols
            signs = keyed_signs(key, _SIGN + bytes([ci]), n)
            signs[:, 0, 0] = 1
            out.append((keyed_permutation(key, _PERM + bytes([ci]), n), signs))
        return out

    def protect(self, blocks: list[np.ndarray], key: KeyStream, quant: list[np.ndarray]) -> Protected:
        out, dcs, robust = [], [], []
        keys = self.signed_permutations(key, [b.shape[:2] for b in blocks])
        for ci, comp in enumerate(blocks):
            shape = comp.shape
            n = shape[0] * shape[1]
            flat = comp.reshape(n, 8, 8)
            q_dc = float(quant[ci][0, 0])
            dc = flat[:, 0, 0].astype(np.int64)
            new_dc, order = equalised_dc(dc, _dither(key, ci, n), q_dc, *_range(ci))
            robust.append(quantile_knots(dc, order, q_dc, KNOTS_FIRST if ci == 0 else KNOTS_OTHER))
            dcs.append(flat[:, 0, 0].astype("<i2").tobytes())
            work = flat.copy()
            work[:, 0, 0] = new_dc
            perm, signs = keys[ci]
            scr = work[perm] * signs
            out.append(scr.reshape(shape))
        return Protected(out, aux=zlib.compress(b"".join(dcs), 6), robust=b"".join(robust))

    def _unscramble(self, blocks, key):
        out = []
        for comp, (perm, signs) in zip(blocks, self.signed_permutations(key, [b.shape[:2] for b in blocks])):
            n = comp.shape[0] * comp.shape[1]
            scr = comp.reshape(n, 8, 8) * signs
            orig = np.empty_like(scr)
            orig[perm] = scr
            out.append(orig)
        return out

    def reveal(self, blocks: list[np.ndarray], key: KeyStream, quant=None, aux: bytes | None = None) -> list[np.ndarray]:
        if aux is None:
            raise ValueError("scramble-v2 needs its aux data (the original DC values) for an exact reveal")
        flat = self._unscramble(blocks, key)
        raw = zlib.decompress(aux)
        sizes = [f.shape[0] for f in flat]
        if len(raw) != 2 * sum(sizes):
            raise ValueError("scramble-v2 aux data does not match the region")
        dc = np.frombuffer(raw, dtype="<i2")
        out, pos = [], 0
        for comp, f, n in zip(blocks, flat, sizes):
            f[:, 0, 0] = dc[pos : pos + n]
            pos += n
            out.append(f.reshape(comp.shape))
        return out

