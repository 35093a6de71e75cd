"""scramble-v5: each frequency brought to a fixed energy, then mixed over the
whole region by a keyed orthogonal transform.

Why. scramble-v1…v4 move whole blocks and flip signs. That keeps every
coefficient at its frequency, which is what lets a friend reveal after a
platform re-encodes the photo, but it also keeps, for each of the 64
frequencies, the region's energy and the histogram of its values over the
blocks. The privacy audit (issue 3) reads the class of a scrambled digit
from those 64 energies as well as from the unprotected digit, and a CNN
reads it from the shuffled blocks. scramble-v5 keeps what the robustness
needs (every coefficient stays at its frequency, so a re-encode quantizes
it as it quantized the photo) and removes what the attacks read:

1. **Gains.** Per component and frequency ``f``, the region's rms
   ``ρ_f`` (over its blocks, dequantized, DC level-shifted as in JPEG) is
   coded on a 1/3-octave grid with a keyed *subtractive dither*, and the
   frequency is multiplied by ``g_f = T_f / ρ̂_f``. ``T`` is a fixed public
   profile (:data:`TARGET_LUMA`, :data:`TARGET_CHROMA`: the mean spectrum of
   photos, luma AC at 1.4×, chroma AC at 1.5×). The region's mean (per
   component) is taken out first and travels with the codes. With the
   dither, ``ρ_f / ρ̂_f`` is uniform on ``[2^-1/6, 2^1/6)`` whatever the
   content, so the energy the picture shows at each frequency is ``T_f²``
   times a factor that carries nothing of the region.
2. **Mixing.** Per frequency, the region's ``n`` values (one per block) go
   through three rounds of: a keyed permutation of the blocks (shared by the
   frequencies), keyed signs (per block and frequency), and the orthonormal
   DCT-II of length ``n`` along the blocks. Each round is orthogonal, so
   the energies of step 1 are kept exactly, and the values come out as
   Gaussian noise whatever the region held: no block of the picture shows a
   block of the region, and the block histograms are those of noise.
3. **Quantization** to the protected file's own table.

A friend's reveal divides by the gains and unmixes: a linear map, so a
platform's re-encoding noise passes through it like through scramble-v4's
(the reveal's least-squares machinery uses it unchanged). Frequencies whose
region is darker in energy than ``T`` are amplified, and the platform's noise
on them is divided by the same gain on reveal.

The codes (6 bits per transmitted frequency: 64 for component 0, the
:data:`CHROMA_FREQS` lowest zigzag frequencies for the others) are the
scheme's ``robust`` parameters, sealed under the region key (they are the
region's spectrum: secret). Chroma frequencies above those are written as
zero (a public constant; the container's ``aux`` keeps them, and a reveal
from pixels loses them: at 4:2:0 they are a small share of a photo's chroma).
A transmitted frequency that is empty in the region (code 0) is filled with
keyed ±``T_f · 2^((d_f − ½)/3)`` noise, which a reveal drops, so that an
empty frequency shows the same energies as any other.

The exact reveal does not invert the float transform: the ``aux`` bytes (in
the container, encrypted) are the region's original quantized blocks,
zlib-compressed. A file whose container was stripped but whose coefficients
are intact is revealed through the float inverse (within about one
quantization step of the protected file per coefficient).

Key streams (region key, labels ``"picveil scramble-v5 <use>" ‖ u8 c [‖ u8 r]``;
container SPEC §10.4): ``perm`` (c, r): 4·n bytes, big-endian u32 words, the
round's permutation is their stable ascending argsort (output block ``i``
takes input block ``σ[i]``); ``sign`` (c, r): n·64 bits, MSB first, bit
``j`` negates block ``j // 64``'s frequency ``j % 64`` (natural order) of the
permuted values; ``dither`` (c): 64 big-endian u16 ``w_f``, dither
``d_f = (w_f + ½) / 65536``; ``fill`` (c): n·64 bits as ``sign``.

What it leaks: the region's size and position; with the codes sealed,
nothing of its content beyond what its size says (the audit: chance on
MNIST and Fashion-MNIST for the CNN, statistics and block-spectrum
attackers, ``docs/audit``).
"""

from __future__ import annotations

import zlib

import numpy as np

from .base import KeyStream, Protected, inflate_exactly

_PERM = b"picveil scramble-v5 perm"
_SIGN = b"picveil scramble-v5 sign"
_DITHER = b"picveil scramble-v5 dither"
_FILL = b"picveil scramble-v5 fill"
#: seal_short label of the robust parameters (the gain codes).
PARAMS_LABEL = b"picveil scramble-v5 gains"

#: Mixing rounds (permutation, signs, DCT-II along the blocks).
ROUNDS = 3
#: Codes per octave, bits per code, and the rms of code 1's grid origin (log2).
STEPS = 3
CODE_BITS = 6
LOG2_FLOOR = -9.0
#: Zigzag frequencies transmitted for components after the first.
CHROMA_FREQS = 15
#: Largest |quantized coefficient| written.
COEF_LIMIT = 1023
#: Bits of each component's region mean (DC units, offset binary: m + 2048).
MEAN_BITS = 12

#: JPEG's zigzag order: ZIGZAG[k] is the natural-order index (u * 8 + v) of zigzag position k.
ZIGZAG = np.array([
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5,
    12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
    35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
    58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
])

#: Target rms per frequency (natural order, JPEG coefficient units = orthonormal
#: 8×8 DCT of level-shifted samples) of component 0: the mean spectrum of 63
#: packaged photos' 256×256 crops, AC × 1.4; DC 240 (block means, with the
#: region's mean taken out, ~ N(128, 30)). Higher targets leave fewer frequencies
#: with a gain under 1 (whose noise a reveal amplifies) and clip more of the
#: shown region: on 4 photos, AC × 0.7 / 1.0 / 1.4 / 2.0 clipped 0.1-0.4 / 0.4-0.7 /
#: 1.1-1.5 / 3-4 % of the region's pixels, and × 1.4 revealed best after JPEG
#: q75 and q50 and WebP 75 on 3 of 4 photos (tenth session; 2.0 was even).
TARGET_LUMA = np.array([
    240.0, 169.0, 76.25, 43.0, 29.25, 20.75, 14.0, 10.5,
    173.0, 70.0, 40.5, 26.25, 18.75, 14.0, 10.5, 8.25,
    79.25, 42.5, 28.0, 20.0, 15.5, 12.0, 9.25, 7.5,
    44.0, 28.25, 20.75, 16.75, 13.75, 10.5, 8.5, 6.75,
    28.5, 20.25, 16.5, 14.25, 12.5, 9.5, 7.5, 6.25,
    20.5, 14.75, 12.75, 11.5, 10.25, 8.5, 7.0, 5.75,
    14.5, 11.0, 9.75, 9.0, 8.25, 7.5, 6.25, 5.25,
    11.0, 8.5, 7.75, 7.0, 6.75, 6.0, 5.25, 4.5,
])
#: The same for chroma (4:2:0 planes of the same crops, AC × 1.5; DC 96: block
#: means ~ N(128, 12)). Only the first CHROMA_FREQS zigzag entries are used.
TARGET_CHROMA = np.array([
    96.0, 26.25, 12.25, 6.75, 4.25, 2.75, 2.0, 1.75,
    24.25, 12.25, 7.5, 4.75, 3.25, 2.25, 1.75, 1.5,
    11.0, 7.75, 5.5, 3.75, 2.5, 2.0, 1.5, 1.25,
    6.25, 5.0, 3.75, 3.0, 2.25, 1.75, 1.25, 1.0,
    4.0, 3.5, 2.75, 2.25, 1.75, 1.5, 1.25, 1.0,
    2.75, 2.25, 2.0, 1.75, 1.5, 1.25, 1.0, 1.0,
    2.25, 2.0, 1.75, 1.5, 1.25, 1.0, 1.0, 0.75,
    1.75, 1.5, 1.5, 1.25, 1.25, 1.0, 0.75, 0.75,
])


def transmitted(ci: int) -> np.ndarray:
    """Natural-order indices of the frequencies component `ci` codes (zigzag order)."""
    return ZIGZAG if ci == 0 else ZIGZAG[:CHROMA_FREQS]


def target(ci: int) -> np.ndarray:
    """``(64,)`` target rms of component `ci` (natural order)."""
    return TARGET_LUMA if ci == 0 else TARGET_CHROMA


def _bits(key: KeyStream, label: bytes, n: int) -> np.ndarray:
    """``n`` key-stream bits as bool, MSB first."""
    raw = np.frombuffer(key.stream(label, (n + 7) // 8), dtype=np.uint8)
    return np.unpackbits(raw)[:n].astype(bool)


class Mixer:
    """The keyed orthogonal mixing of step 2 for one component of ``n`` blocks."""

    def __init__(self, key: KeyStream, ci: int, n: int) -> None:
        self.n = n
        self.perms, self.signs = [], []
        for r in range(ROUNDS):
            words = np.frombuffer(key.stream(_PERM + bytes([ci, r]), 4 * n), dtype=">u4")
            self.perms.append(np.argsort(words, kind="stable"))
            self.signs.append(np.where(_bits(key, _SIGN + bytes([ci, r]), 64 * n).reshape(n, 64), -1.0, 1.0))

    def mix(self, v: np.ndarray) -> np.ndarray:
        """``(n, 64)`` float -> mixed ``(n, 64)`` (orthogonal along the blocks, per frequency)."""
        from scipy.fft import dct

        for perm, sign in zip(self.perms, self.signs):
            v = dct(v[perm] * sign, type=2, norm="ortho", axis=0)
        return v

    def unmix(self, y: np.ndarray) -> np.ndarray:
        """The inverse (and adjoint) of :meth:`mix`."""
        from scipy.fft import idct

        for perm, sign in zip(self.perms[::-1], self.signs[::-1]):
            u = idct(y, type=2, norm="ortho", axis=0) * sign
            y = np.empty_like(u)
            y[perm] = u
        return y


def dither(key: KeyStream, ci: int) -> np.ndarray:
    """``(64,)`` keyed dither in [0, 1) of component `ci` (natural order)."""
    w = np.frombuffer(key.stream(_DITHER + bytes([ci]), 128), dtype=">u2").astype(np.float64)
    return (w + 0.5) / 65536.0


def encode_codes(rms: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Step 1's codes: int ``(64,)``, 0 for an empty frequency, else 1..63.

    ``code = clip(round((log2 ρ − LOG2_FLOOR) · STEPS + d), 1, 63)``.
    """
    rms = np.asarray(rms, dtype=np.float64)
    with np.errstate(divide="ignore"):
        lg = np.log2(np.where(rms > 0, rms, 1.0))
    code = np.clip(np.floor((lg - LOG2_FLOOR) * STEPS + d + 0.5), 1, (1 << CODE_BITS) - 1).astype(np.int64)
    return np.where(rms > 0, code, 0)


def decode_rms(code: np.ndarray, d: np.ndarray) -> np.ndarray:
    """``ρ̂ = 2^(LOG2_FLOOR + (code − d) / STEPS)``; 0 where the code is 0."""
    code = np.asarray(code, dtype=np.float64)
    return np.where(code > 0, 2.0 ** (LOG2_FLOOR + (code - d) / STEPS), 0.0)


def gains(codes: np.ndarray, d: np.ndarray, ci: int) -> np.ndarray:
    """``(64,)`` gains of component `ci`: ``T_f / ρ̂_f`` where coded, 0 elsewhere
    (empty and untransmitted frequencies)."""
    g = np.zeros(64)
    rho = decode_rms(codes, d)
    idx = transmitted(ci)
    ok = rho[idx] > 0
    g[idx[ok]] = target(ci)[idx[ok]] / rho[idx[ok]]
    return g


def fill_rms(ci: int, d: np.ndarray) -> np.ndarray:
    """``(64,)`` rms of the keyed fill of an empty frequency: ``T_f · 2^((d_f − ½) / 3)``,
    so that it shows the same spread of energies as a coded one (``T_f ρ_f / ρ̂_f``,
    whose log2 is uniform over ±1/6 octave): an empty frequency is not told apart
    by an energy of exactly ``T_f²``."""
    return target(ci) * 2.0 ** ((np.asarray(d) - 0.5) / STEPS)


def _to_bits(vals, width: int) -> np.ndarray:
    return ((np.asarray(vals, dtype=np.int64)[:, None] >> np.arange(width - 1, -1, -1)) & 1).astype(np.uint8).ravel()


def _from_bits(bits: np.ndarray, width: int) -> np.ndarray:
    return (bits.reshape(-1, width).astype(np.int64) << np.arange(width - 1, -1, -1)).sum(axis=1)


def _plain_length(n_components: int) -> int:
    n = sum(len(transmitted(ci)) for ci in range(n_components))
    return (n * CODE_BITS + n_components * MEAN_BITS + 7) // 8


def pack_params(codes: list[np.ndarray], means: list[int]) -> bytes:
    """The plaintext of the robust parameters: the transmitted codes of every
    component (zigzag order, CODE_BITS each), then each component's region mean
    (MEAN_BITS, offset binary ``m + 2048``), MSB first, zero-padded to bytes."""
    vals = np.concatenate([c[transmitted(ci)] for ci, c in enumerate(codes)])
    bits = np.concatenate([_to_bits(vals, CODE_BITS), _to_bits(np.asarray(means) + (1 << (MEAN_BITS - 1)), MEAN_BITS)])
    return np.packbits(bits).tobytes()


def unpack_params(raw: bytes, n_components: int) -> tuple[list[np.ndarray], list[int]]:
    """Inverse of :func:`pack_params`; ``ValueError`` if the length is wrong."""
    counts = [len(transmitted(ci)) for ci in range(n_components)]
    total = sum(counts)
    if len(raw) != _plain_length(n_components):
        raise ValueError("scramble-v5 parameters do not match the region")
    bits = np.unpackbits(np.frombuffer(raw, dtype=np.uint8))
    vals = _from_bits(bits[: total * CODE_BITS], CODE_BITS)
    end = total * CODE_BITS + n_components * MEAN_BITS
    means = _from_bits(bits[total * CODE_BITS : end], MEAN_BITS) - (1 << (MEAN_BITS - 1))
    codes, pos = [], 0
    for ci, k in enumerate(counts):
        c = np.zeros(64, dtype=np.int64)
        c[transmitted(ci)] = vals[pos : pos + k]
        codes.append(c)
        pos += k
    return codes, [int(m) for m in means]


def params_length(n_components: int) -> int:
    """Bytes of the sealed robust parameters of a region with this many components."""
    return _plain_length(n_components) + 4


def open_params(key, params: bytes, n_components: int) -> tuple[list[np.ndarray], list[int]] | None:
    """The codes and means sealed in a region's robust parameters; ``None`` if they do not open."""
    return GainCodec().open(key, params, n_components)


def component_gains(key: KeyStream, codes: list[np.ndarray]) -> list[np.ndarray]:
    """Per component, the ``(64,)`` gains of step 1."""
    return [gains(c, dither(key, ci), ci) for ci, c in enumerate(codes)]


class GainCodec:
    """How step 1's gains are coded and carried: scramble-v5's 6-bit codes on a
    1/3-octave grid (the functions above). scramble-v6 (:mod:`.scramble_v6`)
    codes the same gains more compactly; everything else is shared."""

    label = PARAMS_LABEL

    def encode(self, rms: np.ndarray, d: np.ndarray, ci: int) -> np.ndarray:
        """``(64,)`` codes of component `ci` (0 at empty and untransmitted frequencies)."""
        code = np.zeros(64, dtype=np.int64)
        idx = transmitted(ci)
        code[idx] = encode_codes(rms[idx], d[idx])
        return code

    #: ``(codes, d, ci) -> (64,)`` gains; ``(ci, d) -> (64,)`` rms of an empty frequency's fill;
    #: ``(codes, means) -> bytes``; ``(bytes, n_components) -> (codes, means)``; sealed length.
    gains = staticmethod(gains)
    fill_rms = staticmethod(fill_rms)
    pack = staticmethod(pack_params)
    unpack = staticmethod(unpack_params)
    params_length = staticmethod(params_length)

    def open(self, key, params: bytes, n_components: int) -> tuple[list[np.ndarray], list[int]] | None:
        """The codes and means sealed in `params`; ``None`` if they do not open."""
        raw = key.open_short(self.label, b"", params)
        if raw is None:
            return None
        try:
            return self.unpack(raw, n_components)
        except ValueError:
            return None

    def component_gains(self, key: KeyStream, codes: list[np.ndarray]) -> list[np.ndarray]:
        return [self.gains(c, dither(key, ci), ci) for ci, c in enumerate(codes)]


class ScrambleV5:
    scheme_id = 6
    name = "scramble-v5"
    codec = GainCodec()

    def protect(self, blocks: list[np.ndarray], key, quant: list[np.ndarray]) -> Protected:
        out, codes, means = [], [], []
        for ci, comp in enumerate(blocks):
            n = comp.shape[0] * comp.shape[1]
            q = np.asarray(quant[ci], dtype=np.float64).reshape(64)
            v = comp.reshape(n, 64).astype(np.float64) * q
            m = int(np.clip(np.rint(np.mean(v[:, 0])), -2048, 2047))
            v[:, 0] -= m
            means.append(m)
            rms = np.sqrt(np.mean(v * v, axis=0))
            d = dither(key, ci)
            idx = transmitted(ci)
            code = self.codec.encode(rms, d, ci)
            g = self.codec.gains(code, d, ci)
            w = v * g
            empty = idx[code[idx] == 0]
            if empty.size:
                fill = np.where(_bits(key, _FILL + bytes([ci]), 64 * n).reshape(n, 64), -1.0, 1.0)
                w[:, empty] = fill[:, empty] * self.codec.fill_rms(ci, d)[empty]
            y = Mixer(key, ci, n).mix(w)
            yq = np.clip(np.rint(y / q), -COEF_LIMIT, COEF_LIMIT).astype(np.int16)
            out.append(yq.reshape(comp.shape))
            codes.append(code)
        original = b"".join(np.ascontiguousarray(b, dtype="<i2").tobytes() for b in blocks)
        robust = key.seal_short(self.codec.label, b"", self.codec.pack(codes, means))
        return Protected(out, aux=zlib.compress(original, 9), robust=robust)

    #: The ``aux`` bytes are the region's original blocks: :meth:`reveal` reads nothing
    #: else (not the protected blocks' values, only their shapes).
    aux_is_original = True

    def reveal(self, blocks: list[np.ndarray], key: KeyStream, quant=None, aux: bytes | None = None) -> list[np.ndarray]:
        """Exact, from the ``aux`` bytes (the original blocks); ``ValueError`` without them."""
        if aux is None:
            raise ValueError("scramble-v5 reveals exactly only with its aux data (the container)")
        raw = inflate_exactly(aux, sum(b.size for b in blocks) * 2, "scramble-v5")
        out, pos = [], 0
        for b in blocks:
            k = b.size * 2
            out.append(np.frombuffer(raw[pos : pos + k], dtype="<i2").astype(np.int16).reshape(b.shape))
            pos += k
        return out
