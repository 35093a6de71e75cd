"""scramble-v8: scramble-v7 with its gain codes written with a prefix code.

A reveal from pixels needs each scrambled region's gains, so they travel,
sealed, in the robust in-image header (robust SPEC §13.4). scramble-v7
(:mod:`.scramble_v7`) writes them in 53 bytes for a colour region: 4 bits for
every residual symbol of scramble-v6's prediction (:mod:`.scramble_v6`). The
header channel carries about 60 bytes at 0.26 MP, 140 at 0.8 MP and 400 from
1.5 MP, and a header that does not fit outside the regions is written over
them: a reveal then has to estimate its pattern inside each region and leaves
part of it (measured on the benchmark's photos whose scramble-v7 header went
over the regions, 0.5–1.4 MP with one to four regions: the region's luma error
on a lossless copy was 3–8 times what it is with the pattern known, and 2.6
to 3.7 dB was lost after JPEG q75 and q95). Those headers missed the space
outside by 11–27 bytes.

The symbols are far from uniform (measured on crops of packaged photos: 33 %
residual 0, 19 % −1, 15 % +1, 20 % empty, mostly in a run that ends the
component), so scramble-v8 writes them with a static prefix code (canonical,
as JPEG's Huffman tables) and ends a component's run of trailing empty
frequencies with one end-of-component symbol. Colour regions take 30–40
bytes sealed instead of 57. Everything else is scramble-v7's: transform, key
streams, targets, code grid and prediction, so the picture a region shows is
the same for the same key; only the parameters' coding and sealing label
(``"picveil scramble-v8 gains"``) differ.

* **Two modes.** The plaintext's first bit says which: 1 for the prefix code,
  0 for scramble-v6's fixed 4-bit layout (:func:`.scramble_v6.pack_bits`),
  which bounds the worst case (a spectrum of rare residuals) at scramble-v7's
  size plus one bit. The writer takes whichever is shorter once padded; a
  reader rejects the other (a canonical encoding).
* **Lengths in steps of 4 bytes.** The plaintext is zero-padded to a multiple
  of :data:`PAD_BYTES`. The codes are sealed, but their length is public (the
  header carries it), and how well they compress says how smooth the
  region's spectrum is and how many of its highest frequencies are empty. The
  padding leaves 3–4 length classes for the photos measured, the price of
  about 1.5 bytes a region.
* The tables (:data:`LUMA_LENGTHS`, :data:`CHROMA_LENGTHS`) come from
  ``tools/train_scramble_v8_code.py``: built on half of the packaged photos
  and checked on the other half.

What it leaks: as scramble-v5, the region's size and position, and the class
of its parameters' length.
"""

from __future__ import annotations

import numpy as np

from . import scramble_v5 as v5
from . import scramble_v6 as v6
from . import scramble_v7 as v7

PARAMS_LABEL = b"picveil scramble-v8 gains"
#: Symbols: 0 an empty frequency, 1..15 a residual (scramble-v6's 4-bit symbols), 16 the end of a component.
N_SYMBOLS = 17
END = 16
#: Code lengths of symbols 0..16 (canonical code: container SPEC §10.7).
LUMA_LENGTHS = (5, 13, 11, 10, 9, 7, 6, 5, 2, 1, 3, 6, 8, 12, 14, 14, 6)
CHROMA_LENGTHS = (4, 11, 10, 9, 7, 6, 5, 4, 2, 2, 2, 5, 8, 12, 13, 13, 5)
#: The plaintext's length is a multiple of this many bytes.
PAD_BYTES = 4


def canonical_code(lengths) -> dict[int, tuple[int, int]]:
    """``symbol -> (length, codeword)`` of the canonical prefix code with these
    lengths: symbols sorted by (length, symbol) get consecutive codewords, the
    codeword shifted left whenever the length grows (as JPEG's Huffman tables)."""
    out, code, prev = {}, 0, 0
    for length, s in sorted((n, s) for s, n in enumerate(lengths) if n > 0):
        code <<= length - prev
        out[s] = (length, code)
        code, prev = code + 1, length
    return out


_CODES = (canonical_code(LUMA_LENGTHS), canonical_code(CHROMA_LENGTHS))
_DECODE = tuple({v: s for s, v in table.items()} for table in _CODES)


def symbols(code: np.ndarray, ci: int) -> list[int]:
    """Component `ci`'s symbols after its anchors: scramble-v6's residual symbols
    (:func:`.scramble_v6.residual_symbols`) with a run of empty frequencies
    that ends the component replaced by :data:`END`."""
    syms = v6.residual_symbols(code, ci)
    n = len(syms)
    while n and syms[n - 1] == 0:
        n -= 1
    return syms[:n] + ([END] if n < len(syms) else [])


def _table(ci: int) -> int:
    return 0 if ci == 0 else 1


def _pad(bits: np.ndarray) -> bytes:
    raw = np.packbits(bits).tobytes()
    return raw + bytes(-len(raw) % PAD_BYTES)


def _prefix_bits(codes: list[np.ndarray], means: list[int]) -> np.ndarray:
    out = [1]
    for ci, code in enumerate(codes):
        out.extend(v5._to_bits(code[v5.transmitted(ci)[: v6.ANCHORS]], v6.ANCHOR_BITS).tolist())
        table = _CODES[_table(ci)]
        for s in symbols(code, ci):
            n, word = table[s]
            out.extend((word >> (n - 1 - i)) & 1 for i in range(n))
    out.extend(v5._to_bits(np.asarray(means) + (1 << (v5.MEAN_BITS - 1)), v5.MEAN_BITS).tolist())
    return np.asarray(out, dtype=np.uint8)


def pack_params(codes: list[np.ndarray], means: list[int]) -> bytes:
    """The plaintext of the robust parameters (container SPEC §10.7): a mode bit,
    then the prefix-coded layout (mode 1: per component the anchors'
    ANCHOR_BITS-bit codes and the symbols of :func:`symbols` in the
    component's table, then the 12-bit means) or scramble-v6's fixed layout
    (mode 0), whichever is shorter once zero-padded to a multiple of
    :data:`PAD_BYTES` (the prefix code on a tie)."""
    prefixed = _pad(_prefix_bits(codes, means))
    fixed = _pad(np.concatenate([np.zeros(1, dtype=np.uint8), v6.pack_bits(codes, means)]))
    return prefixed if len(prefixed) <= len(fixed) else fixed


def _read_prefix(bits: np.ndarray, pos: int, n_components: int) -> tuple[list[np.ndarray], list[int], int]:
    codes = []
    for ci in range(n_components):
        end = pos + v6.ANCHORS * v6.ANCHOR_BITS
        if end > bits.size:
            raise ValueError("scramble-v8 parameters do not match the region")
        anchors = v5._from_bits(bits[pos:end], v6.ANCHOR_BITS)
        pos, syms, want = end, [], len(v5.transmitted(ci)) - v6.ANCHORS
        lookup = _DECODE[_table(ci)]
        while len(syms) < want:
            word, n = 0, 0
            while (n, word) not in lookup:
                if pos >= bits.size or n >= 16:
                    raise ValueError("scramble-v8 parameters do not match the region")
                word, n, pos = (word << 1) | int(bits[pos]), n + 1, pos + 1
            s = lookup[n, word]
            if s == END:
                syms.extend([0] * (want - len(syms)))
                break
            syms.append(s)
        codes.append(v6.codes_from_symbols(anchors, syms, ci))
    end = pos + n_components * v5.MEAN_BITS
    if end > bits.size:
        raise ValueError("scramble-v8 parameters do not match the region")
    means = v5._from_bits(bits[pos:end], v5.MEAN_BITS) - (1 << (v5.MEAN_BITS - 1))
    return codes, [int(m) for m in means], end


def unpack_params(raw: bytes, n_components: int) -> tuple[list[np.ndarray], list[int]]:
    """Inverse of :func:`pack_params`; ``ValueError`` for anything
    :func:`pack_params` would not have written (wrong length, a symbol that
    is not in the table, a code below 1, non-zero padding, the longer mode)."""
    if not raw or len(raw) % PAD_BYTES:
        raise ValueError("scramble-v8 parameters do not match the region")
    bits = np.unpackbits(np.frombuffer(raw, dtype=np.uint8))
    if bits[0]:
        codes, means, _ = _read_prefix(bits, 1, n_components)
    else:
        codes, means, _ = v6.unpack_bits(bits[1:], n_components)
    if pack_params(codes, means) != bytes(raw):  # padding, mode, a needless end symbol
        raise ValueError("scramble-v8 parameters do not match the region")
    return codes, means


def params_length(n_components: int) -> int:
    """The most bytes the sealed robust parameters of a region with this many
    components take (the fixed layout, padded, and the 4-byte tag); the
    actual length depends on the region (``len(Protected.robust)``)."""
    bits = 1 + len(v6.pack_bits([np.zeros(64, dtype=np.int64)] * n_components, [0] * n_components))
    whole_bytes = -(-bits // 8)
    return -(-whole_bytes // PAD_BYTES) * PAD_BYTES + 4


class PrefixCodec(v7.BrightChromaCodec):
    """scramble-v7's codes and target, written with :func:`pack_params`."""

    label = PARAMS_LABEL
    pack = staticmethod(pack_params)
    unpack = staticmethod(unpack_params)
    params_length = staticmethod(params_length)


class ScrambleV8(v7.ScrambleV7):
    """scramble-v7 with :class:`PrefixCodec`'s parameters (module docstring)."""

    scheme_id = 9
    name = "scramble-v8"
    codec = PrefixCodec()
