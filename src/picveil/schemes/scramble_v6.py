"""scramble-v6: scramble-v5 with its gains coded in 53 bytes instead of 75.

scramble-v5 (:mod:`.scramble_v5`) hides a region's content by bringing every
frequency to a fixed public energy and mixing it over the region's blocks.
A reveal from pixels needs the gains, so they travel, sealed, in the robust
in-image header; at 6 bits for each of the 94 frequencies of a colour region
they are 79 bytes, and the header channel carries about 60 bytes at
0.26 MP, 220 at 0.8 MP and 400 from about 1.5 MP. scramble-v6 codes the same
kind of gains in 57 bytes (38 for gray), so that its header fits outside
the regions of smaller photos and with more regions, where scramble-v5's
goes over the regions (a worse reveal) or does not fit at all.

The transform is scramble-v5's (container SPEC §10.4: mean taken out,
gains, keyed fill of empty frequencies, three rounds of keyed permutation,
signs and DCT along the blocks, quantization), with scramble-v5's key
streams (a region key serves one region of one image, so the labels need
not differ). Only the codes and their sealing label
(``"picveil scramble-v6 gains"``) differ (container SPEC §10.5):

* **Relative to the target, half an octave.** A frequency's code ``c`` means
  ``ρ̂_f = T_f · 2^(LOG2_FLOOR + (c − d_f) / STEPS)`` with ``STEPS = 2``, so the
  gain is ``g_f = T_f / ρ̂_f = 2^−(LOG2_FLOOR + (c − d_f) / STEPS)``. A photo's
  spectrum divided by the mean photo spectrum ``T`` is nearly flat, so codes
  of neighbouring frequencies are close.
* **Predicted from the neighbours.** In zigzag order, the first two
  transmitted frequencies of a component (DC and the first AC) carry their
  code in 6 bits. Every later one carries 4 bits: 0 for an empty frequency,
  else ``s = r + 9`` for the residual ``r ∈ [−8, 6]`` against the prediction
  ``p`` = the rounded mean of the codes of its coded neighbours above and to
  the left, or the last code written when both are empty.
* **The dither still hides the content.** Without a clamp, ``c`` is exactly
  ``round(x_f + d_f)`` (``x_f`` the frequency's log level on the code grid),
  the subtractive-dither quantizer of scramble-v5 at a coarser step, so
  ``ρ_f / ρ̂_f`` is uniform on ``[2^−1/4, 2^1/4)`` whatever the region holds.
  A residual outside ``[−8, 6]`` (four octaves down, three up against the
  neighbours) is clamped; measured on 328 crops of packaged photos and 600
  digits and clothes at 128 px, 0.01 % of frequencies (0 on the digits and
  clothes), so the shown energies carry nothing of the region but in that
  rare case.
* The coarser step costs a reveal about 0.05 dB of noise against
  scramble-v5's (the mean of ``(ρ̂/ρ)²`` over the dither: 1.020 against 1.009).

Sizes (sealed, with ``seal_short``'s 4-byte tag): colour 53 + 4 = 57 bytes
(luma 2 × 6 + 62 × 4 bits, each chroma component 2 × 6 + 13 × 4, three
12-bit means), gray 34 + 4 = 38.

What it leaks: as scramble-v5, the region's size and position.
"""

from __future__ import annotations

import numpy as np

from . import scramble_v5 as v5

PARAMS_LABEL = b"picveil scramble-v6 gains"
#: Code steps per octave, and the log2 of ``ρ̂ / T`` at code 0.
STEPS = 2
LOG2_FLOOR = -14.0
#: Zigzag frequencies per component whose code is written in full (ANCHOR_BITS bits).
ANCHORS = 2
ANCHOR_BITS = 6
#: Bits of every later frequency's symbol, and the residuals they carry.
SYMBOL_BITS = 4
RESIDUAL_MIN, RESIDUAL_MAX = -8, 6
#: The prediction of a frequency none of whose neighbours was coded, before any code.
START = 28


def _neighbours(f: int) -> tuple[int, ...]:
    """Natural-order indices of the frequencies above and to the left of `f`."""
    u, v = divmod(int(f), 8)
    return tuple(n for n, ok in (((u - 1) * 8 + v, u > 0), (u * 8 + v - 1, v > 0)) if ok)


def encode_codes(rms: np.ndarray, d: np.ndarray, ci: int, t: np.ndarray | None = None) -> np.ndarray:
    """``(64,)`` codes of component `ci`: 0 at empty and untransmitted
    frequencies, else ``≥ 1`` (module docstring; container SPEC §10.5).
    `t`: the ``(64,)`` public target (default scramble-v5's, :func:`.scramble_v5.target`)."""
    rms = np.asarray(rms, dtype=np.float64)
    t = v5.target(ci) if t is None else t
    code = np.zeros(64, dtype=np.int64)
    level = START
    for k, f in enumerate(v5.transmitted(ci)):
        if rms[f] <= 0:
            continue
        want = int(np.floor((np.log2(rms[f] / t[f]) - LOG2_FLOOR) * STEPS + d[f] + 0.5))
        if k < ANCHORS:
            c = min(max(want, 1), (1 << ANCHOR_BITS) - 1)
        else:
            p = predict(code, f, level)
            c = p + min(max(want - p, RESIDUAL_MIN, 1 - p), RESIDUAL_MAX)
        code[f] = level = c
    return code


def predict(code: np.ndarray, f: int, level: int) -> int:
    """The prediction of frequency `f`'s code from its coded neighbours, or `level`."""
    nb = [int(code[n]) for n in _neighbours(f) if code[n] > 0]
    return int(np.floor(sum(nb) / len(nb) + 0.5)) if nb else level


def decode_rms(code: np.ndarray, d: np.ndarray, ci: int, t: np.ndarray | None = None) -> np.ndarray:
    """``ρ̂ = T · 2^(LOG2_FLOOR + (code − d) / STEPS)``; 0 where the code is 0
    (`t` as in :func:`encode_codes`)."""
    code = np.asarray(code, dtype=np.float64)
    t = v5.target(ci) if t is None else t
    return np.where(code > 0, t * 2.0 ** (LOG2_FLOOR + (code - d) / STEPS), 0.0)


def residual_symbols(code: np.ndarray, ci: int) -> list[int]:
    """The symbols of component `ci`'s later transmitted frequencies (all but the
    anchors), in zigzag order: 0 for an empty frequency, else its residual
    against :func:`predict` minus RESIDUAL_MIN plus 1 (1..15); ``ValueError``
    for a residual out of range."""
    idx = v5.transmitted(ci)
    syms, level = [], int(next((code[f] for f in idx[:ANCHORS][::-1] if code[f] > 0), START))
    for f in idx[ANCHORS:]:
        if code[f] == 0:
            syms.append(0)
            continue
        r = int(code[f]) - predict(code, f, level)
        if not RESIDUAL_MIN <= r <= RESIDUAL_MAX:
            raise ValueError("scramble-v6 codes out of range")
        syms.append(r - RESIDUAL_MIN + 1)
        level = int(code[f])
    return syms


def codes_from_symbols(anchors, syms, ci: int) -> np.ndarray:
    """Inverse of :func:`residual_symbols` with the anchors' codes: the ``(64,)``
    codes of component `ci`; ``ValueError`` if a code comes out below 1."""
    idx = v5.transmitted(ci)
    code = np.zeros(64, dtype=np.int64)
    code[idx[:ANCHORS]] = anchors
    level = int(next((code[f] for f in idx[:ANCHORS][::-1] if code[f] > 0), START))
    for f, s in zip(idx[ANCHORS:], syms):
        if s:
            code[f] = level = predict(code, f, level) + int(s) - 1 + RESIDUAL_MIN
            if level < 1:
                raise ValueError("scramble-v6 parameters do not match the region")
    return code


def pack_params(codes: list[np.ndarray], means: list[int]) -> bytes:
    """The plaintext of the robust parameters: per component, in zigzag order,
    the anchors' codes (ANCHOR_BITS each) and the later frequencies' symbols
    (SYMBOL_BITS each: :func:`residual_symbols`); then each component's mean
    (12 bits, offset binary ``m + 2048``); MSB first, zero-padded to bytes."""
    return np.packbits(pack_bits(codes, means)).tobytes()


def pack_bits(codes: list[np.ndarray], means: list[int]) -> np.ndarray:
    """:func:`pack_params`'s bits before the padding (``uint8`` 0/1)."""
    parts = []
    for ci, code in enumerate(codes):
        parts.append(v5._to_bits(code[v5.transmitted(ci)[:ANCHORS]], ANCHOR_BITS))
        parts.append(v5._to_bits(residual_symbols(code, ci), SYMBOL_BITS))
    parts.append(v5._to_bits(np.asarray(means) + (1 << (v5.MEAN_BITS - 1)), v5.MEAN_BITS))
    return np.concatenate(parts)


def _plain_length(n_components: int) -> int:
    bits = sum(ANCHORS * ANCHOR_BITS + (len(v5.transmitted(ci)) - ANCHORS) * SYMBOL_BITS for ci in range(n_components))
    return (bits + n_components * v5.MEAN_BITS + 7) // 8


def unpack_params(raw: bytes, n_components: int) -> tuple[list[np.ndarray], list[int]]:
    """Inverse of :func:`pack_params`; ``ValueError`` if the length is wrong or
    a code comes out below 1."""
    if len(raw) != _plain_length(n_components):
        raise ValueError("scramble-v6 parameters do not match the region")
    return unpack_bits(np.unpackbits(np.frombuffer(raw, dtype=np.uint8)), n_components)[:2]


def unpack_bits(bits: np.ndarray, n_components: int) -> tuple[list[np.ndarray], list[int], int]:
    """Codes and means from the start of `bits` (:func:`pack_bits`'s layout), and
    how many bits they took; ``ValueError`` if `bits` is too short or a code
    comes out below 1."""
    pos, codes = 0, []
    for ci in range(n_components):
        n = len(v5.transmitted(ci)) - ANCHORS
        end = pos + ANCHORS * ANCHOR_BITS + n * SYMBOL_BITS
        if end > bits.size:
            raise ValueError("scramble-v6 parameters do not match the region")
        anchors = v5._from_bits(bits[pos : pos + ANCHORS * ANCHOR_BITS], ANCHOR_BITS)
        syms = v5._from_bits(bits[pos + ANCHORS * ANCHOR_BITS : end], SYMBOL_BITS)
        codes.append(codes_from_symbols(anchors, syms, ci))
        pos = end
    end = pos + n_components * v5.MEAN_BITS
    if end > bits.size:
        raise ValueError("scramble-v6 parameters do not match the region")
    means = v5._from_bits(bits[pos:end], v5.MEAN_BITS) - (1 << (v5.MEAN_BITS - 1))
    return codes, [int(m) for m in means], end


def params_length(n_components: int) -> int:
    """Bytes of the sealed robust parameters of a region with this many components."""
    return _plain_length(n_components) + 4


class CompactCodec(v5.GainCodec):
    """scramble-v6's codes (module docstring), relative to the public target
    :meth:`target` (scramble-v5's; scramble-v7 raises its chroma)."""

    label = PARAMS_LABEL
    pack = staticmethod(pack_params)
    unpack = staticmethod(unpack_params)
    params_length = staticmethod(params_length)
    #: ``ci -> (64,)`` public target rms of component `ci`.
    target = staticmethod(v5.target)

    def encode(self, rms: np.ndarray, d: np.ndarray, ci: int) -> np.ndarray:
        return encode_codes(rms, d, ci, self.target(ci))

    def gains(self, code: np.ndarray, d: np.ndarray, ci: int) -> np.ndarray:
        """``(64,)`` gains ``T_f / ρ̂_f`` where coded, 0 elsewhere."""
        t = self.target(ci)
        rho = decode_rms(code, d, ci, t)
        return np.divide(t, rho, out=np.zeros(64), where=rho > 0)

    def fill_rms(self, ci: int, d: np.ndarray) -> np.ndarray:
        """``T_f · 2^((d_f − ½) / STEPS)``: the spread of energies a coded frequency shows."""
        return self.target(ci) * 2.0 ** ((np.asarray(d) - 0.5) / STEPS)


class ScrambleV6(v5.ScrambleV5):
    """scramble-v5's transform and key streams, with :class:`CompactCodec`'s gains."""

    scheme_id = 7
    name = "scramble-v6"
    codec = CompactCodec()
