"""A lossy WebP for the reveal: decoded without VP8's deblocking filter, and its quantizers.

* :func:`decode_unfiltered`: the pixels without the in-loop filter (below);
* :func:`chroma_quantizer_index`: how coarse the file's chroma is, from the
  key frame's header (RFC 6386 §9.3, §9.6), for the chroma estimate's noise;
* :func:`is_lossy`: VP8 (4:2:0) or VP8L (lossless), from the RIFF chunks.

A lossy WebP is one VP8 key frame. Its decoder smooths every macroblock and
4×4 sub-block edge whose step is small (the "loop filter"; RFC 6386 §15),
because in a photo such a step is a coding artifact. In a scrambled region
neighbouring blocks are unrelated, so their small steps are real, and the
filter blends blocks that the reveal must later move apart again: measured on
22 packaged photos (scramble-v4), it cost 2.7 dB of the revealed regions'
PSNR at WebP quality 75 and 2.9 dB at quality 50, and up to 13 dB on a deep
red photo. VP8 predicts a key frame from the unfiltered reconstruction, so
skipping the filter loses nothing else: the unfiltered picture is the
encoder's own reconstruction (on plain photos 0.0-0.5 dB below the filtered
one, which is what every viewer shows).

Pillow cannot switch the filter off; libwebp can
(``WebPDecoderOptions.bypass_filtering``). It is reached through the ``webp``
package (MIT; cffi bindings with libwebp inside its wheels), whose binding
declares only some of that struct's fields, so the field is written at its
offset in libwebp's stable ABI, checked against a declared neighbour first.

:func:`decode_unfiltered` returns ``None`` (the caller decodes as usual)
when the package is missing, the layout check fails, or the file is not a
plain lossy WebP (lossless, animated, or with alpha).
"""

from __future__ import annotations

import numpy as np

#: ``WebPDecoderOptions`` (libwebp decode.h): ``bypass_filtering`` is its first
#: int, ``use_threads`` its eleventh; both ints, so ``use_threads`` sits at 40.
_BYPASS_FILTERING_INDEX = 0
_USE_THREADS_OFFSET = 40
#: ``WebPBitstreamFeatures.format``: 1 is lossy (VP8), 2 lossless (VP8L), 0 mixed.
_FORMAT_LOSSY = 1


def is_lossy(data: bytes) -> bool:
    """Whether a WebP file's picture is lossy VP8 (chroma at half resolution),
    from its RIFF chunks: the first ``VP8 `` or ``VP8L`` chunk decides (an
    animation's frames sit inside ``ANMF`` chunks and are not looked at)."""
    return _vp8_frame(bytes(data)) is not None


def is_lossless(data: bytes) -> bool:
    """Whether a WebP file's picture is lossless VP8L, from its RIFF chunks: a
    ``VP8L`` chunk comes before any ``VP8 `` one (an animation's frames sit
    inside ``ANMF`` chunks: neither lossy nor lossless here)."""
    found = _picture_chunk(bytes(data))
    return found is not None and found[0] == b"VP8L"


def _binding():
    """``(ffi, lib)`` of the ``webp`` package, or ``None`` when it is not
    installed or its struct layout is not the one this module writes to."""
    try:
        from webp._webp import ffi, lib
    except ImportError:
        return None
    try:
        if ffi.offsetof("struct WebPDecoderOptions", "use_threads") != _USE_THREADS_OFFSET:
            return None
    except (AttributeError, KeyError, TypeError):  # pragma: no cover - another binding
        return None
    return ffi, lib


def available() -> bool:
    """Whether :func:`decode_unfiltered` can work here."""
    return _binding() is not None


def decode_unfiltered(data: bytes) -> np.ndarray | None:
    """RGB pixels ``uint8 (H, W, 3)`` of a lossy WebP decoded with the loop filter off.

    Parameters
    ----------
    data : bytes
        A whole WebP file. The caller has already checked its size (this
        function allocates ``H × W × 3`` bytes without asking).

    Returns
    -------
    ndarray or None
        ``None`` when the ``webp`` package is missing or incompatible, or the
        file is lossless, animated, has alpha, or does not decode: decode it
        the usual way then. Otherwise the pixels as libwebp's decoder makes
        them (fancy chroma upsampling, BT.601), minus the deblocking.
    """
    binding = _binding()
    if binding is None:
        return None
    ffi, lib = binding
    data = bytes(data)
    cfg = ffi.new("WebPDecoderConfig*")
    if not lib.WebPInitDecoderConfig(cfg):  # pragma: no cover - ABI mismatch
        return None
    src = ffi.from_buffer(data)
    if lib.WebPGetFeatures(src, len(data), ffi.addressof(cfg, "input")) != lib.VP8_STATUS_OK:
        return None
    features = cfg.input
    if features.format != _FORMAT_LOSSY or features.has_alpha or features.has_animation:
        return None
    width, height = int(features.width), int(features.height)
    out = np.empty((height, width, 3), dtype=np.uint8)
    ffi.cast("int*", ffi.addressof(cfg, "options"))[_BYPASS_FILTERING_INDEX] = 1
    cfg.output.colorspace = lib.MODE_RGB
    cfg.output.is_external_memory = 1
    cfg.output.u.RGBA.rgba = ffi.cast("uint8_t*", ffi.from_buffer(out))
    cfg.output.u.RGBA.stride = width * 3
    cfg.output.u.RGBA.size = out.size
    status = lib.WebPDecode(src, len(data), cfg)
    lib.WebPFreeDecBuffer(ffi.addressof(cfg, "output"))
    return out if status == lib.VP8_STATUS_OK else None


# --- the frame header's quantizer indices (RFC 6386 §9.2-9.6, §19.2) ---------------------------
class _BoolDecoder:
    """VP8's boolean entropy decoder (RFC 6386 §7.3), enough to read the frame
    header: ``bit(prob)``, ``literal(n)`` (n bits at probability 128, most
    significant first) and ``signed(n)`` (magnitude, then sign)."""

    def __init__(self, data: bytes) -> None:
        if len(data) < 2:
            raise ValueError("truncated VP8 partition")
        self._data, self._pos = data, 2
        self._value, self._range, self._count = (data[0] << 8) | data[1], 255, 0

    def bit(self, prob: int) -> int:
        split = 1 + (((self._range - 1) * prob) >> 8)
        big = split << 8
        if self._value >= big:
            out, self._range, self._value = 1, self._range - split, self._value - big
        else:
            out, self._range = 0, split
        while self._range < 128:
            self._value <<= 1
            self._range <<= 1
            self._count += 1
            if self._count == 8:
                self._count = 0
                if self._pos >= len(self._data):
                    raise ValueError("truncated VP8 partition")
                self._value |= self._data[self._pos]
                self._pos += 1
        return out

    def literal(self, n: int) -> int:
        v = 0
        for _ in range(n):
            v = (v << 1) | self.bit(128)
        return v

    def signed(self, n: int) -> int:
        v = self.literal(n)
        return -v if self.bit(128) else v

    def flagged(self, n: int, signed: bool = True) -> int:
        """An optional field: a flag bit, then the value (0 when absent)."""
        if not self.bit(128):
            return 0
        return self.signed(n) if signed else self.literal(n)


def _vp8_frame(data: bytes) -> bytes | None:
    """The payload of a WebP's first ``VP8 `` chunk, or ``None`` when a ``VP8L``
    chunk (lossless) comes first or there is none."""
    found = _picture_chunk(data)
    return found[1] if found is not None and found[0] == b"VP8 " else None


def _picture_chunk(data: bytes) -> tuple[bytes, bytes] | None:
    """``(fourcc, payload)`` of a WebP's first top-level ``VP8 `` or ``VP8L`` chunk, or ``None``."""
    pos = 12
    while pos + 8 <= len(data):
        fourcc, size = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "little")
        if fourcc in (b"VP8 ", b"VP8L"):
            return fourcc, data[pos + 8 : pos + 8 + size]
        pos += 8 + size + (size & 1)
    return None


def _quantizer_indices(data: bytes) -> tuple[list[int], int] | None:
    """``(luma AC index per segment, not clamped; chroma AC delta)`` from a lossy
    WebP's key frame header (RFC 6386 §9.3, §9.6), or ``None`` (see
    :func:`chroma_quantizer_index`)."""
    frame = _vp8_frame(bytes(data))
    if frame is None or len(frame) < 10 or frame[0] & 1:  # bit 0 of the frame tag: 0 for a key frame
        return None
    first = (frame[0] | (frame[1] << 8) | (frame[2] << 16)) >> 5
    if frame[3:6] != b"\x9d\x01\x2a" or 10 + first > len(frame):
        return None
    try:
        b = _BoolDecoder(frame[10 : 10 + first])
        b.literal(2)  # colour space, clamping type
        segments: list[int] = []
        absolute = False
        if b.literal(1):  # segmentation enabled
            update_map, update_data = b.literal(1), b.literal(1)
            if update_data:
                absolute = bool(b.literal(1))
                segments = [b.flagged(7) for _ in range(4)]
                for _ in range(4):
                    b.flagged(6)  # loop filter level per segment
            if update_map:
                for _ in range(3):
                    b.flagged(8, signed=False)  # segment tree probabilities
        b.literal(1 + 6 + 3)  # filter type, level, sharpness
        if b.literal(1) and b.literal(1):  # loop filter deltas: enabled, updated
            for _ in range(8):
                b.flagged(6)
        b.literal(2)  # DCT partitions
        y_ac = b.literal(7)
        _y_dc, _y2_dc, _y2_ac, _uv_dc, uv_ac = (b.flagged(4) for _ in range(5))
    except ValueError:
        return None
    return [s if absolute else y_ac + s for s in segments] or [y_ac], uv_ac


def luma_quantizer_index(data: bytes) -> float | None:
    """The mean luma AC quantizer index (0..127) of a lossy WebP's segments
    (:func:`chroma_quantizer_index`'s reading, without the chroma delta);
    ``None`` as there."""
    got = _quantizer_indices(data)
    return None if got is None else float(np.mean([min(max(q, 0), 127) for q in got[0]]))


def chroma_quantizer_index(data: bytes) -> float | None:
    """The mean chroma AC quantizer index (0..127) of a lossy WebP's segments.

    Read from the key frame's header (RFC 6386 §9.3 segments, §9.6 quantizer
    indices): each segment's luma AC index (absolute, or a delta on the
    frame's) plus the chroma AC delta, clamped to 0..127, averaged over the
    segments the header defines (one without segmentation). Larger means
    coarser chroma: libwebp's quality 95 gives about 3, 75 about 27, 30 about
    55 (it gives smooth segments finer steps). ``None`` for a lossless or
    animated WebP, or a header that does not parse.
    """
    got = _quantizer_indices(data)
    if got is None:
        return None
    bases, uv_ac = got
    return float(np.mean([min(max(q + uv_ac, 0), 127) for q in bases]))
