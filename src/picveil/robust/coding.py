"""Error correction of the robust channel: preamble and body codes (SPEC.md §6-§7).

* The **preamble** (3 bytes: version, parity class, payload length, CRC-8) is
  coded byte by byte with the first-order Reed-Muller code RM(1, 7): 8 bits
  into 128, minimum distance 64, decoded soft and exactly (maximum
  likelihood) with a fast Hadamard transform. Punctured positions (when a
  small grid has fewer preamble cells than coded bits) get a zero LLR.
* The **body** (payload ‖ CRC-32) is split into Reed-Solomon blocks over
  GF(2^8) (``reedsolo``: primitive polynomial 0x11D, generator 2, first
  root alpha^0), byte-interleaved, and repeated over the body cells; the
  decoder sums the soft values of the copies, then corrects errors and
  erasures (least reliable bytes first) and checks the CRC-32.

LLRs are positive for a 0 bit throughout.
"""

from __future__ import annotations

import itertools
import math
import zlib
from dataclasses import dataclass

import numpy as np

__all__ = [
    "MAX_PAYLOAD",
    "PARITY_RATIOS",
    "Preamble",
    "body_decode",
    "body_encode",
    "body_shape",
    "crc8",
    "preamble_decode",
    "preamble_encode",
    "rm_decode",
    "rm_encode",
]

#: Largest payload, in bytes, the preamble's 10-bit length field can state.
MAX_PAYLOAD = 1024
#: Parity symbols per data symbol of each Reed-Solomon block, by parity class 0..3.
PARITY_RATIOS = (0.25, 0.5, 1.0, 2.0)
#: Fewest parity symbols per block.
MIN_NSYM = 8
#: Longest Reed-Solomon codeword over GF(2^8).
RS_N = 255
#: Preamble: bytes, RM(1, 7) code length, coded bits.
PRE_BYTES, RM_N = 3, 128
PRE_BITS = PRE_BYTES * RM_N
#: Version field of the preamble for this channel.
VERSION = 1
#: How many erasure patterns, and decoded candidates per block, the body decoder tries.
MAX_CANDIDATES, MAX_COMBINATIONS = 4, 64

_RS_PRIM, _RS_GENERATOR, _RS_FCR = 0x11D, 2, 0


def crc8(data: bytes) -> int:
    """CRC-8 with polynomial 0x07, initial value 0, no reflection, no final XOR."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def _rm_order() -> np.ndarray:
    """Order in which the 128 positions of an RM(1, 7) codeword are sent."""
    from .layout import stream

    words = np.frombuffer(stream(b"picveil robust-v1 rm order", 8 * RM_N), dtype=">u8")
    return np.argsort(words, kind="stable").astype(np.int64)


_RM_ORDER = _rm_order()
_PARITY = np.array([bin(i).count("1") & 1 for i in range(RM_N)], dtype=np.uint8)


def rm_encode(byte: int) -> np.ndarray:
    """RM(1, 7) codeword of one byte, positions in natural order 0..127.

    Bit ``x`` of the codeword is ``b7 XOR parity(b & 0x7F & x)`` where ``b7``
    is the byte's most significant bit.

    Returns
    -------
    numpy.ndarray
        ``uint8`` 0/1, shape ``(128,)``.
    """
    x = np.arange(RM_N)
    return (((byte >> 7) & 1) ^ _PARITY[(byte & 0x7F) & x]).astype(np.uint8)


def rm_decode(llr: np.ndarray) -> tuple[int, float]:
    """Maximum-likelihood decoding of one RM(1, 7) codeword.

    Parameters
    ----------
    llr : numpy.ndarray
        Shape ``(128,)``, natural order, positive for bit 0; 0 where punctured.

    Returns
    -------
    (int, float)
        The byte, and its margin: the best correlation minus the second best
        (0 means a tie).
    """
    h = np.asarray(llr, dtype=np.float64).copy()
    step = 1
    while step < RM_N:  # fast Walsh-Hadamard transform
        h = h.reshape(-1, 2, step)
        a, b = h[:, 0, :].copy(), h[:, 1, :].copy()
        h[:, 0, :], h[:, 1, :] = a + b, a - b
        h = h.reshape(-1)
        step *= 2
    mags = np.abs(h)
    best = int(np.argmax(mags))
    second = float(np.partition(mags, -2)[-2])
    top = 0 if h[best] >= 0 else 1
    return (top << 7) | best, float(mags[best] - second)


@dataclass(frozen=True)
class Preamble:
    """The decoded preamble: what the body decoder needs to know."""

    version: int
    parity_class: int
    length: int  # payload bytes, 1..MAX_PAYLOAD


def _preamble_bytes(pre: Preamble) -> bytes:
    n = pre.length - 1
    head = bytes([(pre.version << 4) | (pre.parity_class << 2) | (n >> 8), n & 0xFF])
    return head + bytes([crc8(head)])


def preamble_encode(pre: Preamble) -> np.ndarray:
    """The :data:`PRE_BITS` coded preamble bits, in transmission order.

    Transmitted bit ``j`` is bit ``_RM_ORDER[j // 3]`` of the RM(1, 7)
    codeword of preamble byte ``j % 3``.
    """
    if not (1 <= pre.length <= MAX_PAYLOAD and 0 <= pre.parity_class < 4 and 0 <= pre.version < 16):
        raise ValueError(f"preamble field out of range: {pre}")
    raw = _preamble_bytes(pre)
    words = np.stack([rm_encode(b) for b in raw])  # (3, 128) natural order
    return words[:, _RM_ORDER].T.reshape(-1).copy()  # j = 3 * p + byte


def preamble_decode(llr: np.ndarray) -> Preamble | None:
    """Decode the preamble from the summed LLR of each of its :data:`PRE_BITS` coded bits.

    Returns ``None`` if the CRC-8 fails, the version is not :data:`VERSION`,
    or a field is out of range.
    """
    llr = np.asarray(llr, dtype=np.float64).reshape(RM_N, PRE_BYTES)  # [p, byte]
    raw = bytearray()
    for i in range(PRE_BYTES):
        natural = np.zeros(RM_N)
        natural[_RM_ORDER] = llr[:, i]
        raw.append(rm_decode(natural)[0])
    if crc8(bytes(raw[:2])) != raw[2]:
        return None
    version, parity_class = raw[0] >> 4, (raw[0] >> 2) & 3
    length = (((raw[0] & 3) << 8) | raw[1]) + 1
    if version != VERSION:
        return None
    return Preamble(version, parity_class, length)


# --- body ---------------------------------------------------------------------------
def body_shape(length: int, parity_class: int) -> tuple[list[int], int]:
    """Reed-Solomon block sizes of a `length`-byte payload.

    The message is the payload followed by its CRC-32 (``M = length + 4``
    bytes). With ``ratio = PARITY_RATIOS[parity_class]``, the largest data
    block is ``kmax = floor(255 / (1 + ratio))`` bytes, the message is cut
    into ``B = ceil(M / kmax)`` blocks whose sizes differ by at most one (the
    longer ones first), and every block gets
    ``nsym = max(MIN_NSYM, ceil(ratio * ceil(M / B)))`` parity bytes.

    Returns
    -------
    (list of int, int)
        The data bytes of each block, and ``nsym``.
    """
    if not (1 <= length <= MAX_PAYLOAD):
        raise ValueError(f"payload length must be 1..{MAX_PAYLOAD} bytes, got {length}")
    ratio = PARITY_RATIOS[parity_class]
    m = length + 4
    kmax = math.floor(RS_N / (1 + ratio))
    blocks = -(-m // kmax)
    base, extra = divmod(m, blocks)
    sizes = [base + 1] * extra + [base] * (blocks - extra)
    nsym = max(MIN_NSYM, math.ceil(ratio * -(-m // blocks)))
    if max(sizes) + nsym > RS_N:
        nsym = RS_N - max(sizes)
    return sizes, nsym


def body_bits(length: int, parity_class: int) -> int:
    """Number of coded body bits of a `length`-byte payload."""
    sizes, nsym = body_shape(length, parity_class)
    return 8 * (sum(sizes) + nsym * len(sizes))


def _rs():
    import reedsolo

    reedsolo.init_tables(prim=_RS_PRIM, generator=_RS_GENERATOR, c_exp=8)
    return reedsolo


def interleave_index(sizes: list[int], nsym: int) -> list[tuple[int, int]]:
    """(block, position) of each coded byte in transmission order: position-major."""
    lengths = [k + nsym for k in sizes]
    return [(b, p) for p in range(max(lengths)) for b in range(len(lengths)) if p < lengths[b]]


def body_encode(payload: bytes, parity_class: int) -> np.ndarray:
    """The coded body bits of `payload`, in transmission order.

    Returns
    -------
    numpy.ndarray
        ``uint8`` 0/1 of length :func:`body_bits`; byte ``i`` of the
        interleaved stream is bits ``8i .. 8i+7``, most significant first.
    """
    rs = _rs()
    sizes, nsym = body_shape(len(payload), parity_class)
    msg = bytes(payload) + zlib.crc32(payload).to_bytes(4, "big")
    codewords, start = [], 0
    for k in sizes:
        codewords.append(bytes(rs.rs_encode_msg(msg[start : start + k], nsym, fcr=_RS_FCR, generator=_RS_GENERATOR)))
        start += k
    stream_bytes = bytes(codewords[b][p] for b, p in interleave_index(sizes, nsym))
    return np.unpackbits(np.frombuffer(stream_bytes, dtype=np.uint8))


def _block_candidates(rs, word: bytes, reliab: np.ndarray, nsym: int):
    """Distinct decodings of one block, lazily: no erasures first, then the
    2, 4, ... least reliable bytes erased."""
    seen: list[bytes] = []
    order = [int(i) for i in np.argsort(reliab, kind="stable")]
    for n_erase in [0, *range(2, nsym + 1, 2)]:
        erase = sorted(order[:n_erase]) or None
        try:
            data, _, _ = rs.rs_correct_msg(bytearray(word), nsym, fcr=_RS_FCR, generator=_RS_GENERATOR, erase_pos=erase)
        except rs.ReedSolomonError:
            continue
        data = bytes(data)
        if data not in seen:
            seen.append(data)
            yield data


def body_decode(llr: np.ndarray, length: int, parity_class: int) -> bytes | None:
    """Decode the body from the summed LLR of each coded bit.

    Each block is decoded with errors only, then with its least reliable
    bytes (smallest ``min |LLR|`` over the byte's bits) declared erased, 2 at a
    time up to ``nsym``; the first combination of block decodings (at most
    :data:`MAX_CANDIDATES` per block) whose CRC-32 matches is the payload.

    Returns
    -------
    bytes or None
        The payload, or ``None`` if nothing passes the CRC-32.
    """
    rs = _rs()
    sizes, nsym = body_shape(length, parity_class)
    llr = np.asarray(llr, dtype=np.float64)
    stream_bytes = np.packbits((llr < 0).astype(np.uint8))
    byte_rel = np.abs(llr).reshape(-1, 8).min(axis=1)
    words = [bytearray(k + nsym) for k in sizes]
    rels = [np.zeros(k + nsym) for k in sizes]
    for i, (b, p) in enumerate(interleave_index(sizes, nsym)):
        words[b][p] = int(stream_bytes[i])
        rels[b][p] = byte_rel[i]
    gens = [_block_candidates(rs, bytes(w), r, nsym) for w, r in zip(words, rels)]
    cands: list[list[bytes]] = [[] for _ in sizes]
    tried: set[tuple[int, ...]] = set()
    for depth in range(1, MAX_CANDIDATES + 1):
        grew = False
        for b, gen in enumerate(gens):
            if len(cands[b]) < depth:
                nxt = next(gen, None)
                if nxt is not None:
                    cands[b].append(nxt)
                    grew = True
            if not cands[b]:
                return None
        if depth > 1 and not grew:
            return None
        for combo in itertools.islice(itertools.product(*(range(len(c)) for c in cands)), MAX_COMBINATIONS):
            if combo in tried:
                continue
            tried.add(combo)
            msg = b"".join(cands[b][i] for b, i in enumerate(combo))
            payload, crc = msg[:-4], msg[-4:]
            if zlib.crc32(payload).to_bytes(4, "big") == crc:
                return payload
    return None
