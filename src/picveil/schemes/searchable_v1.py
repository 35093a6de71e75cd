"""searchable-v1: whole-image, format-compliant JPEG encryption that a server can search.

The coefficient-domain counterpart of seed 002 ("A Privacy-Preserving and
End-to-End-Based Encrypted Image Retrieval Scheme"): per-block rotation,
substitution of the block transform by a keyed orthogonal transform, and block
permutation, with independent keys per colour component. It is meant to be
applied to the whole image (one region ``(0, 0, W, H)``), so that a server
holding only protected files can still rank them by similarity with the
feature network of :mod:`picveil.search`.

Algorithm
---------
Blocks are ``int16`` arrays in natural order, ``b[v, u]`` = vertical
frequency ``v``, horizontal frequency ``u`` (see :mod:`picveil.jpeg.codec`).
For component ``ci`` (one byte ``c = u8(ci)`` appended to every stream label,
so each component has independent keys) and its ``n`` blocks in raster
order, block ``b = 0 .. n-1``:

1. **Rotation** (the dihedral transforms without transposition). Byte ``b``
   of the stream ``"picveil searchable-v1 rot" ‖ c`` gives ``h`` = bit 0 and
   ``w`` = bit 1; the block is mirrored left-right if ``h`` and top-bottom if
   ``w``. On DCT coefficients a mirror is a sign change:
   ``b[v, u] *= (-1)**(h*u + w*v)`` -- identity, H-flip, V-flip or 180°.
   The four transforms that also transpose the block (90°/270° rotations,
   the two diagonal mirrors) are **never used**, whatever the table: a
   transpose moves ``q[v, u]`` to ``(u, v)``, where the decoder multiplies it
   by ``Q[u, v]``, which differs from ``Q[v, u]`` in the standard tables and
   in almost every camera's, so the decoded block would not be a rotation of
   the original. Using transposes only for symmetric tables would make the
   algorithm depend on the table and add nothing: a transpose keeps every
   value on its anti-diagonal, so step 2 already covers it.
2. **Orthogonal-transform substitution.** Each block's 8×8 DCT basis is
   replaced by a keyed *signed permutation* of itself that maps every
   anti-diagonal ``k = u + v`` (``k = 0 .. 14``, i.e. each contiguous run of
   the zig-zag scan) onto itself. This is an orthogonal transform of the 64
   coefficients with entries in {-1, 0, 1}, so quantized integers stay
   integers and keep their magnitudes (the JPEG range holds; see the DC rule
   below). Positions on diagonal ``k`` are listed by increasing ``v``:
   ``D_k = [(v, k - v) for v in max(0, k-7) .. min(k, 7)]``; all diagonals
   concatenated give the order ``P = D_0 ‖ D_1 ‖ … ‖ D_14`` of the 64
   positions. Block ``b`` takes 256 bytes at offset ``256 b`` of the stream
   ``"picveil searchable-v1 diag" ‖ c``, read as 64 big-endian ``uint32``
   words ``W[0 .. 63]`` aligned with ``P``; on diagonal ``k`` (slice
   ``s .. s + L`` of ``P``) the local permutation is
   ``pi = stable_argsort(W[s .. s + L])`` and the output is
   ``out[P[s + i]] = sign[P[s + i]] * in[P[s + pi[i]]]``.
   The signs are 64 bits per block, 8 bytes at offset ``8 b`` of the stream
   ``"picveil searchable-v1 sign" ‖ c``; bit ``j`` (bit ``7 - j % 8`` of byte
   ``j // 8``) is the sign of natural-order position ``j`` (``-1`` where set).
   **DC rule:** the DC sign is not applied to a block whose DC is -1024 (its
   negation, +1024, is outside the 8-bit JPEG range). The rule is its own
   inverse: negation never produces -1024 from a valid value, so ``reveal``
   sees -1024 exactly where ``protect`` did. Moving a value along a diagonal
   dequantizes it with a different table entry; that changes only what the
   cipher image looks like (noise either way), never the exact round trip.
3. **Block permutation.** ``out[i] = in[perm[i]]`` where ``perm`` is the
   stable argsort of ``n`` big-endian ``uint64`` words of the stream
   ``"picveil searchable-v1 perm" ‖ c`` (as in scramble-v1).

``reveal`` applies the inverses in reverse order. The quantization tables
are not used, and there are no ``aux`` bytes: the key alone inverts it. Steps 1 and 2 compose into
one signed permutation per block; as a group element the rotation is absorbed
by the substitution's free signs, so it adds no key space of its own. It is
kept as a separate, named step to follow the seed. Key space per block:
``2**64 * prod_k |D_k|! = 2**64 · (2!·3!·…·7!)**2 · 8!`` ≈ 2**153, times
``n!`` for the positions -- keyed afresh for every protected image.

What it preserves (and why search works)
----------------------------------------
Everything outside the coefficients: size, sampling factors, quantization
tables, the allow-listed metadata. Per component, the **multiset over blocks
of each block's diagonal magnitude profile**: for every block and every
diagonal ``k``, the sorted multiset of ``|coefficient|`` on that diagonal
(``|DC|`` for ``k = 0``). That is a bag of local radial spectra: how many
blocks are flat, how many hold fine detail and how much, the distribution of
block brightness *distance from mid-grey*, the sharpness, noise and JPEG
quality of the photo. :mod:`picveil.search` computes exactly this profile
(``picveil.search.features.block_profiles``) and learns to compare images
by it; retrieval works because image classes differ in these statistics.

What it leaks -- plainly
------------------------
A keyless observer (the server) learns the profile bag above, hence coarse
content statistics: "mostly flat with one detailed object", "textured
everywhere", "dark or bright against mid-grey", and -- by design -- which
protected images look alike (near duplicates match strongly even under
different keys). The benchmark ``benchmarks/bench_search.py`` measures how
much class information that is: a keyless network trained on labelled cipher
images *is* an attacker, and its accuracy is printed. The histogram of
``|DC|`` values is kept exactly, so a seed-002 style "DC histogram distance"
is non-zero only because signs change; do not read it as "no leakage".
Measured (``benchmarks/bench_search.py``): a keyless attacker trained on
7,000 labelled protected Fashion-MNIST pictures names the class of new ones
64 % of the time (chance 10 %; 89 % on the plain pictures). Also kept: the
file size, +5 % (quality 90) to +12 % (quality 10) over the plain JPEG on
photos, mostly because block permutation breaks DC prediction.

What it hides: where any block is (layout, shapes, the low-resolution
picture), every coefficient's sign (brightness polarity, edge phase), which
position on its diagonal a magnitude came from (edge orientation:
horizontal, vertical or oblique), and which Y, Cb and Cr blocks belong
together (the permutations are independent per component).

Compared with scramble-v1 applied to the whole image, which keeps each
``|q[v, u]|`` at its own position (orientation included), searchable-v1
reveals strictly less per block; the private modes protect *regions* and so
leave the rest of the photo in the clear, which is a different trade.
"""

from __future__ import annotations

import numpy as np

from .base import KeyStream, Protected
from .scramble_v1 import keyed_permutation

_ROT = b"picveil searchable-v1 rot"
_DIAG = b"picveil searchable-v1 diag"
_SIGN = b"picveil searchable-v1 sign"
_PERM = b"picveil searchable-v1 perm"

#: One paragraph for `picveil inspect` and the docs: what anyone can read without a key.
LEAK_SUMMARY = (
    "searchable-v1 (whole image): without any key, anyone can read each 8x8 block's detail "
    "profile (how much fine or coarse detail, how far from mid-grey), hence coarse statistics of "
    "the photo, and can tell which protected photos look alike -- that is what makes search "
    "work. Hidden: where every block is (layout, shapes, the picture), all signs, edge "
    "orientation, and which colour blocks belong together."
)

#: The lowest DC value of an 8-bit JPEG; its negation would be out of range.
DC_LOW = -1024


def _diagonal_order() -> tuple[np.ndarray, tuple[tuple[int, int], ...]]:
    """Natural-order positions sorted by anti-diagonal, then row; and the
    ``(start, length)`` slice of each diagonal in that order."""
    pos, slices = [], []
    for k in range(15):
        start = len(pos)
        for v in range(max(0, k - 7), min(k, 7) + 1):
            pos.append(8 * v + (k - v))
        slices.append((start, len(pos) - start))
    return np.asarray(pos, dtype=np.intp), tuple(slices)


#: ``DIAG_ORDER[i]`` = natural-order index of the i-th position of P (see above).
DIAG_ORDER, DIAG_SLICES = _diagonal_order()
#: ``DIAGONAL[j]`` = anti-diagonal ``u + v`` of natural-order position ``j``.
DIAGONAL = (np.arange(64) // 8 + np.arange(64) % 8).astype(np.intp)

_U = np.arange(64) % 8  # horizontal frequency of natural-order position j
_V = np.arange(64) // 8  # vertical frequency
#: The four flip transforms as sign patterns, index ``h + 2 w``.
FLIP_SIGNS = np.stack(
    [np.where((h * _U + w * _V) % 2 == 1, -1, 1) for w in (0, 1) for h in (0, 1)]
).astype(np.int16)


def block_transforms(key: KeyStream, ci: int, n: int, labels: tuple[bytes, bytes, bytes] = (_ROT, _DIAG, _SIGN)) -> tuple[np.ndarray, np.ndarray]:
    """Steps 1 and 2 for ``n`` blocks of component ``ci``: ``(gather, signs)``.

    ``gather`` (n, 64) intp and ``signs`` (n, 64) int16 combine the rotation
    and the substitution: ``out[:, j] = signs[:, j] * in[:, gather[:, j]]``
    (before the DC rule). ``labels`` are the stream labels of the rotation,
    diagonal and sign streams (searchable-v2 uses its own).
    """
    rot_label, diag_label, sign_label = labels
    tag = bytes([ci])
    rot = np.frombuffer(key.stream(rot_label + tag, n), dtype=np.uint8) & 3
    words = np.frombuffer(key.stream(diag_label + tag, 256 * n), dtype=">u4").reshape(n, 64)
    bits = np.unpackbits(np.frombuffer(key.stream(sign_label + tag, 8 * n), dtype=np.uint8)).reshape(n, 64)
    gather = np.empty((n, 64), dtype=np.intp)
    for start, length in DIAG_SLICES:
        dst = DIAG_ORDER[start:start + length]
        if length == 1:
            gather[:, dst] = dst
            continue
        local = np.argsort(words[:, start:start + length], axis=1, kind="stable")
        gather[:, dst] = DIAG_ORDER[start + local]
    # The rotation acts before the substitution: its sign for output position j
    # is that of the input position the value came from.
    rot_signs = np.take_along_axis(FLIP_SIGNS[rot], gather, axis=1)
    signs = (1 - 2 * bits.astype(np.int16)) * rot_signs
    return gather, signs.astype(np.int16)


def dc_rule(signs: np.ndarray, dc: np.ndarray) -> np.ndarray:
    """Leave the DC of blocks whose DC is -1024 unsigned (see the module docstring)."""
    signs = signs.copy()
    signs[dc == DC_LOW, 0] = 1
    return signs


class SearchableV1:
    scheme_id = 16
    name = "searchable-v1"

    def _keys(self, key: KeyStream, ci: int, rows: int, cols: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(gather, signs, perm)`` for component ``ci`` of ``rows × cols`` blocks (steps 1-3);
        subclasses change the permutation (searchable-v2) and the labels."""
        n = rows * cols
        gather, signs = block_transforms(key, ci, n)
        return gather, signs, keyed_permutation(key, _PERM + bytes([ci]), n)

    def protect(self, blocks: list[np.ndarray], key: KeyStream, quant: list[np.ndarray] | None = None) -> Protected:
        out = []
        for ci, comp in enumerate(blocks):
            rows, cols = comp.shape[:2]
            n = rows * cols
            flat = comp.reshape(n, 64)
            gather, signs, perm = self._keys(key, ci, rows, cols)
            signs = dc_rule(signs, flat[:, 0])
            sub = np.take_along_axis(flat, gather, axis=1) * signs
            out.append(sub[perm].reshape(comp.shape))
        return Protected(out)

    def reveal(
        self, blocks: list[np.ndarray], key: KeyStream, quant: list[np.ndarray] | None = None, aux: bytes | None = None
    ) -> list[np.ndarray]:
        out = []
        for ci, comp in enumerate(blocks):
            rows, cols = comp.shape[:2]
            n = rows * cols
            gather, signs, perm = self._keys(key, ci, rows, cols)
            sub = np.empty((n, 64), dtype=comp.dtype)
            sub[perm] = comp.reshape(n, 64)
            signs = dc_rule(signs, sub[:, 0])
            orig = np.empty_like(sub)
            np.put_along_axis(orig, gather, sub * signs, axis=1)
            out.append(orig.reshape(comp.shape))
        return out
