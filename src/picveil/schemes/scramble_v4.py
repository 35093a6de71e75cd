"""scramble-v4: scramble-v3 with every block mean pulled 30 % towards mid-grey first.

What is lost in a reveal from displayed pixels (after a platform re-encoded
the photo) is mostly what the viewer clipped: a scrambled unit keeps its
mean colour but gets random AC signs, and a bright or dark unit with texture
then leaves the 0..255 range. Clipping takes information that no later step
can give back: a lossless PNG of a scramble-v3 picture reveals at about
42 dB, and a JPEG at quality 95 loses 7 dB against the same photo without
protection (``benchmarks/bench_robust.py``). scramble-v4 multiplies every
quantized DC coefficient by 7/10 before scrambling, so each block mean moves
30 % of the way to mid-grey (DC 0 is grey 128 in JPEG's level shift) and
every unit gains that much headroom. Measured by
``benchmarks/bench_robust.py --scheme scramble-v3,scramble-v4`` (24 photos,
one run): a lossless PNG copy reveals at 42.1 dB instead of 40.6, and the
mean gap to the unprotected photo narrows at JPEG q95 from −8.1 to −6.8 dB,
q75 −3.6 → −3.0, q50 −1.5 → −1.3, WebP 90 −5.6 → −4.9, after a downscale
to 1080 px −8.8 → −8.4. (Those figures are the fifth session's; the reveal's
edge-preserving clipping recovery since then gives 44.2 dB for the PNG copy
and −5.5 dB at q95: ``docs/robust/README.md``.)

The price: a reveal from re-encoded pixels divides the received means by
0.7, which multiplies the DC part of the platform's noise by 1.43. DC
noise is a small share of a JPEG's error (q30 stays at −1.1 dB, WebP 75 at
−5.0), but where the noise is large it can outweigh the headroom (WebP 50:
−5.0 → −5.2 dB on average, −7.3 dB on one photo).

Steps (region key streams, labels ``"picveil scramble-v4 <use>"``, container
SPEC §10.3):

0. **Compress the means.** Every block's quantized DC ``d``, in every
   component, becomes ``d' = ⌊(7·d + 5) / 10⌋`` (``round(0.7·d)``, halves
   up; integer arithmetic). Then ``|d'| ≤ 717``, so the negation of step 2
   always stays in range (no DC floor is needed).
1–3. **Scramble.** scramble-v3's unit permutation, mirrors, negation and AC
   signs (:mod:`.scramble_v3`), on the compressed blocks, with the labels
   ``"picveil scramble-v4 unit"``, ``"… flip"`` and ``"… sign" ‖ u8 c``.

Step 0 maps one or two original values to each ``d'``: the originals are
``lo(d') = ⌈(10·d' − 5) / 7⌉`` and, when it also maps to ``d'``,
``lo(d') + 1``. The exact reveal needs which one: the scheme's ``aux`` bytes
(stored encrypted in the container, ``pvrd`` kind 1) hold one bit per block,
``d − lo(d')``, per component in raster order, most significant bit first,
each component padded to whole bytes, all components concatenated and
zlib-compressed. Without them (a file whose container was stripped but whose
coefficients are intact) :meth:`ScrambleV4.reveal` takes the candidate
nearest ``10·d' / 7``: each block mean within one DC quantization step of the
original (an eighth of a step of grey per unit of ``q``).

What it leaks: as scramble-v3 (the multiset of units up to mirroring,
negation and AC signs; each unit's mean colour, now scaled by a public
factor, so no less).
"""

from __future__ import annotations

import zlib

import numpy as np

from .base import KeyStream, Protected, inflate_exactly
from .scramble_v3 import signed_permutations as _v3_signed_permutations

LABELS = (b"picveil scramble-v4 unit", b"picveil scramble-v4 flip", b"picveil scramble-v4 sign")
#: The factor of step 0, as a fraction (numerator, denominator).
DC_NUM, DC_DEN = 7, 10
#: The same as a float: the factor a reveal from pixels divides received means by.
DC_SCALE = DC_NUM / DC_DEN


def compress_dc(dc: np.ndarray) -> np.ndarray:
    """Step 0: ``⌊(7·d + 5) / 10⌋`` of int DC values (any shape); int64."""
    return np.floor_divide(DC_NUM * np.asarray(dc, dtype=np.int64) + DC_DEN // 2, DC_DEN)


def dc_candidates(dc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The original values that step 0 maps to each compressed ``dc``.

    Returns ``(lo, two)``: int64 ``lo = ⌈(10·d' − 5) / 7⌉`` and a bool array,
    true where ``lo + 1`` maps to ``d'`` too.
    """
    d = np.asarray(dc, dtype=np.int64)
    lo = -np.floor_divide(DC_DEN // 2 - DC_DEN * d, DC_NUM)
    return lo, compress_dc(lo + 1) == d


def signed_permutations(key: KeyStream, shapes: list[tuple[int, int]]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per component ``(src, signs)`` of steps 1–3 (see :func:`.scramble_v3.signed_permutations`)."""
    return _v3_signed_permutations(key, shapes, LABELS)


class ScrambleV4:
    scheme_id = 5
    name = "scramble-v4"
    #: Per component, the factor step 0 applies to block means (for reveals from pixels).
    dc_scale = DC_SCALE

    def signed_permutations(self, key: KeyStream, shapes: list[tuple[int, int]]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per component ``(src, signs)``: the scrambled blocks are ``compressed[src] * signs``."""
        return signed_permutations(key, shapes)

    def protect(self, blocks: list[np.ndarray], key: KeyStream, quant=None) -> Protected:
        keys = signed_permutations(key, [b.shape[:2] for b in blocks])
        out, bits = [], []
        for comp, (src, signs) in zip(blocks, keys):
            n = comp.shape[0] * comp.shape[1]
            flat = comp.reshape(n, 8, 8).astype(np.int16, copy=True)
            dc = flat[:, 0, 0].astype(np.int64)
            small = compress_dc(dc)
            lo, _ = dc_candidates(small)
            bits.append(np.packbits((dc - lo).astype(np.uint8)).tobytes())
            flat[:, 0, 0] = small
            out.append((flat[src] * signs).reshape(comp.shape))
        return Protected(out, aux=zlib.compress(b"".join(bits), 9))

    def reveal(self, blocks: list[np.ndarray], key: KeyStream, quant=None, aux: bytes | None = None) -> list[np.ndarray]:
        """Exact with the ``aux`` bytes; without them, each DC within one quantization step."""
        keys = signed_permutations(key, [b.shape[:2] for b in blocks])
        sizes = [b.shape[0] * b.shape[1] for b in blocks]
        chosen = None
        if aux is not None:
            raw = inflate_exactly(aux, sum((n + 7) // 8 for n in sizes), "scramble-v4")
            chosen, pos = [], 0
            for n in sizes:
                chosen.append(np.unpackbits(np.frombuffer(raw[pos : pos + (n + 7) // 8], dtype=np.uint8))[:n].astype(bool))
                pos += (n + 7) // 8
        out = []
        for ci, (comp, (src, signs), n) in enumerate(zip(blocks, keys, sizes)):
            orig = np.empty((n, 8, 8), dtype=comp.dtype)
            orig[src] = comp.reshape(n, 8, 8) * signs
            small = orig[:, 0, 0].astype(np.int64)
            lo, two = dc_candidates(small)
            if chosen is not None:
                up = chosen[ci]
                if np.any(up & ~two):
                    raise ValueError("scramble-v4 aux data does not match the region")
            else:  # the candidate nearest 10·d'/7 (ties: the lower)
                up = two & (np.abs(DC_NUM * (lo + 1) - DC_DEN * small) < np.abs(DC_NUM * lo - DC_DEN * small))
            orig[:, 0, 0] = np.clip(lo + up, -1024, 1023)  # only a forged file reaches beyond
            out.append(orig.reshape(comp.shape))
        return out
