"""Region thumbnails: a low-resolution copy of a painted region in a few hundred bytes.

A region painted with a look other than scramble (fill, inpaint, blur, ...)
cannot be undone from pixels: its original coefficients travel only in the
container. When the robust header has room to spare, protect adds to each
such region a *thumbnail* (SPEC.md §13.7): the lowest frequencies of the
region's DCT, coded in as many bits as the budget allows, encrypted under
the region key (:meth:`picveil.crypto.RegionKey.seal_short`). A friend who
receives the picture stripped of its container still sees a smooth,
reduced-quality original instead of the painted look.

The codec (SPEC.md §13.7.2) is a transform code without entropy coding, so
that its size is exactly the budget:

* the region, as YCbCr (JFIF; luma only for gray images), is transformed
  with a whole-region orthonormal 2-D DCT; coefficients are normalised by
  ``sqrt(h * w)``, so that the DC is the mean and every value is in pixel
  units whatever the region's size;
* the means are sent as they are (8 bits luma, 7 bits chroma); every other
  coefficient ``(u, v)`` of component ``c`` is modelled as having the
  standard deviation ``sigma = s_c / f^beta``, ``f^2 = u^2 w/h + v^2 h/w``,
  from a gain ``s_c`` (one byte per component) and a slope ``beta`` (2 bits);
* the bits go greedily to the coefficients whose weighted variance left is
  largest (reverse water-filling), at most :data:`MAX_BITS` each, and each
  coefficient is quantized uniformly over ``±sigma (1 + b / 2)``.

The encoder picks the slope and gains by analysis by synthesis (the
reconstruction error is exact in the DCT domain, which is orthonormal).
Decoding depends only on basic IEEE-754 operations and square roots, so
every reader allocates the same bits.

Pure numpy/scipy; no key material (encryption is the caller's, through
:mod:`picveil.crypto`).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "BETAS",
    "FIXED_BYTES",
    "MAX_BITS",
    "MIN_BYTES",
    "decode",
    "encode",
]

#: Slopes ``beta`` of the coefficient model, by their 2-bit code.
BETAS = (0.75, 1.0, 1.25, 1.5)
#: Most bits a coefficient gets.
MAX_BITS = 8
#: Largest frequency index coded, per axis.
MAX_FREQ = 32
#: Weights of the components' squared error (Y, Cb, Cr): each component's
#: share of the squared RGB error (R, G, B rows of the JFIF inverse).
WEIGHTS = (1.0, 1.087, 0.827)
#: Bits of the means: luma (0..255, step 1), chroma (0..254, step 2).
DC_BITS = (8, 7, 7)
#: Bytes before the coefficient bits: the slope byte and one gain per component
#: (colour), plus the means; the smallest thumbnail plaintext is ``MIN_BYTES``.
FIXED_BYTES = {1: 2 + 1, 3: 4 + 3}  # head + gains + ceil(dc bits / 8)
MIN_BYTES = 16
#: Work size: the encoder box-averages a region down to at most this many
#: pixels per side before its DCT (only the lowest frequencies are kept).
WORK_PX = 96


def _dct_matrix(n: int, k: int) -> np.ndarray:
    """Rows ``0..k-1`` of the orthonormal DCT-II of size `n`."""
    x = np.arange(n)
    m = np.cos(np.pi * (2 * x[None, :] + 1) * np.arange(k)[:, None] / (2 * n)) * np.sqrt(2.0 / n)
    m[0] /= np.sqrt(2.0)
    return m


def _candidates(h: int, w: int, ncomp: int, beta_code: int, gains: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The coded coefficients in stream order and their model deviations.

    Returns ``(keys, sigma)``: ``keys`` is ``(K, 3)`` int ``(c, u, v)``,
    components in order, then by ``u + v``, then by ``u``; ``sigma`` is ``(K,)``.
    """
    nu, nv = min(h, MAX_FREQ), min(w, MAX_FREQ)
    u, v = np.meshgrid(np.arange(nu), np.arange(nv), indexing="ij")
    u, v = u.ravel(), v.ravel()
    order = np.lexsort((u, u + v))
    u, v = u[order][1:], v[order][1:]  # drop the mean (0, 0)
    f2 = (u * u) * (w / h) + (v * v) * (h / w)
    beta = BETAS[beta_code]
    # f^beta with square roots only (bit-exact on every IEEE-754 platform)
    r = np.sqrt(f2)  # f
    powers = {0.75: np.sqrt(r) * np.sqrt(np.sqrt(r)), 1.0: r, 1.25: r * np.sqrt(np.sqrt(r)), 1.5: r * np.sqrt(r)}
    fb = powers[beta]
    keys, sig = [], []
    for c in range(ncomp):
        keys.append(np.stack([np.full_like(u, c), u, v], axis=1))
        sig.append((gains[c] / 4.0) / fb)
    return np.concatenate(keys), np.concatenate(sig)


def _allocate(keys: np.ndarray, sigma: np.ndarray, nbits: int) -> np.ndarray:
    """Greedy bit allocation: the `nbits` offers of largest value ``w_c sigma^2 / 4^j``
    (``j = 0 .. MAX_BITS - 1``, one bit each), ties to the earlier coefficient
    then the lower ``j``. Returns bits per coefficient, ``(K,)`` int."""
    bits = np.zeros(len(keys), dtype=np.int64)
    if nbits <= 0 or len(keys) == 0:
        return bits
    wts = np.asarray(WEIGHTS)[keys[:, 0]]
    base = wts * sigma * sigma
    scale = 0.25 ** np.arange(MAX_BITS)  # exact powers of two
    val = (base[:, None] * scale[None, :]).ravel()
    idx = np.repeat(np.arange(len(keys)), MAX_BITS)
    j = np.tile(np.arange(MAX_BITS), len(keys))
    live = val > 0
    val, idx, j = val[live], idx[live], j[live]
    order = np.lexsort((j, idx, -val))[:nbits]
    np.add.at(bits, idx[order], 1)
    return bits


def _range(sigma: np.ndarray, bits: np.ndarray) -> np.ndarray:
    """Half-width of the quantizer of each coefficient: ``sigma (1 + b / 2)``."""
    return sigma * (1.0 + bits / 2.0)


def _quantize(x: np.ndarray, sigma: np.ndarray, bits: np.ndarray) -> np.ndarray:
    n = np.left_shift(1, bits)
    step = 2 * _range(sigma, bits) / np.maximum(n, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.floor(x / step + n / 2.0)
    return np.where(bits > 0, np.clip(np.nan_to_num(q), 0, n - 1), 0).astype(np.int64)


def _dequantize(q: np.ndarray, sigma: np.ndarray, bits: np.ndarray) -> np.ndarray:
    n = np.left_shift(1, bits)
    step = 2 * _range(sigma, bits) / np.maximum(n, 1)
    return np.where(bits > 0, (q + 0.5 - n / 2.0) * step, 0.0)


class _Bits:
    def __init__(self, data: bytes = b"") -> None:
        self.acc = int.from_bytes(data, "big") if data else 0
        self.total = 8 * len(data)
        self.pos = 0
        self.out: list[tuple[int, int]] = []

    def put(self, value: int, n: int) -> None:
        self.out.append((int(value), int(n)))

    def get(self, n: int) -> int:
        self.pos += n
        return (self.acc >> (self.total - self.pos)) & ((1 << n) - 1)

    def to_bytes(self, size: int) -> bytes:
        acc, used = 0, 0
        for value, n in self.out:
            acc = (acc << n) | (value & ((1 << n) - 1))
            used += n
        return (acc << (8 * size - used)).to_bytes(size, "big")


def _ycc(rgb: np.ndarray) -> np.ndarray:
    """``(h, w, 3)`` RGB or ``(h, w)`` gray -> ``(ncomp, h, w)`` float planes (YCbCr, JFIF)."""
    from picveil.jpeg.pixels import rgb_to_ycbcr

    x = np.asarray(rgb, dtype=np.float64)
    if x.ndim == 3 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim == 2:
        return x[None]
    return np.moveaxis(rgb_to_ycbcr(x), -1, 0)


def _box_down(plane: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Area-average a ``(h, w)`` plane to `size` (``(h2, w2)``, no larger)."""
    h, w = plane.shape
    h2, w2 = size

    def mat(n, m):
        edges = np.arange(m + 1) * n / m
        a = np.zeros((m, n))
        for i in range(m):
            lo, hi = edges[i], edges[i + 1]
            for k in range(int(np.floor(lo)), int(np.ceil(hi))):
                a[i, k] = min(hi, k + 1) - max(lo, k)
        return a / a.sum(axis=1, keepdims=True)

    return mat(h, h2) @ plane @ mat(w, w2).T


def _spectrum(rgb: np.ndarray) -> tuple[np.ndarray, int, int]:
    """Normalised low-frequency DCT coefficients ``(ncomp, MAX_FREQ', MAX_FREQ')`` of a region."""
    planes = _ycc(rgb)
    _, h, w = planes.shape
    h2, w2 = min(h, WORK_PX), min(w, WORK_PX)
    nu, nv = min(h, MAX_FREQ), min(w, MAX_FREQ)
    dy, dx = _dct_matrix(h2, nu), _dct_matrix(w2, nv)
    out = []
    for p in planes:
        small = _box_down(p, (h2, w2)) if (h2, w2) != (h, w) else p
        out.append(dy @ small @ dx.T / np.sqrt(h2 * w2))
    return np.stack(out), h, w


def _code(spec: np.ndarray, h: int, w: int, size: int, beta_code: int, gains: tuple[int, ...]):
    """Quantize `spec` with the given model; returns ``(bits, q, reconstructed AC, cost)``."""
    ncomp = spec.shape[0]
    keys, sigma = _candidates(h, w, ncomp, beta_code, gains)
    nbits = 8 * size - 8 * FIXED_BYTES[ncomp]
    bits = _allocate(keys, sigma, nbits)
    x = spec[keys[:, 0], keys[:, 1], keys[:, 2]]
    q = _quantize(x, sigma, bits)
    rec = _dequantize(q, sigma, bits)
    wts = np.asarray(WEIGHTS)[keys[:, 0]]
    cost = float(np.sum(wts * (x - rec) ** 2))
    return keys, bits, q, cost


def encode(rgb: np.ndarray, size: int) -> bytes:
    """A thumbnail of a region in exactly `size` bytes (SPEC.md §13.7.2).

    Parameters
    ----------
    rgb : numpy.ndarray
        The original region: ``(h, w, 3)`` RGB or ``(h, w)`` / ``(h, w, 1)``
        gray, any real dtype, values 0..255.
    size : int
        Bytes of the thumbnail, at least :data:`MIN_BYTES`.

    Returns
    -------
    bytes
        The plaintext thumbnail (the caller encrypts it).
    """
    if size < MIN_BYTES:
        raise ValueError(f"a thumbnail is at least {MIN_BYTES} bytes, got {size}")
    spec, h, w = _spectrum(rgb)
    ncomp = spec.shape[0]
    nu, nv = spec.shape[1:]
    # gains from the data: least-squares fit of |x| ~ s / f^beta (in the log domain), refined below
    u, v = np.meshgrid(np.arange(nu), np.arange(nv), indexing="ij")
    f = np.sqrt((u * u) * (w / h) + (v * v) * (h / w))
    f[0, 0] = np.inf
    best = None
    for beta_code, beta in enumerate(BETAS):
        fb = f**beta
        gains = []
        for c in range(ncomp):
            s = np.sqrt(np.mean((spec[c] * fb)[np.isfinite(fb) & (f > 0)] ** 2)) if nu * nv > 1 else 0.0
            gains.append(int(np.clip(round(4 * s), 1, 255)))
        for _ in range(2):  # coordinate descent on each gain
            for c in range(ncomp):
                trials = {int(np.clip(round(gains[c] * m), 1, 255)) for m in (0.5, 0.7, 0.85, 1.0, 1.2, 1.45)}
                scored = []
                for g in sorted(trials):
                    gs = tuple(gains[:c] + [g] + gains[c + 1 :])
                    scored.append((_code(spec, h, w, size, beta_code, gs)[3], g))
                gains[c] = min(scored)[1]
        gs = tuple(gains)
        cost = _code(spec, h, w, size, beta_code, gs)[3]
        if best is None or cost < best[0]:
            best = (cost, beta_code, gs)
    _, beta_code, gains = best
    keys, bits, q, _ = _code(spec, h, w, size, beta_code, gains)
    bw = _Bits()
    bw.put(beta_code << 6 | (ncomp == 3), 8)  # head: slope code, colour flag; other bits 0
    for g in gains:
        bw.put(g, 8)
    for c in range(ncomp):
        mean = spec[c, 0, 0]
        bw.put(int(np.clip(round(mean), 0, 255)) if c == 0 else int(np.clip(round(mean / 2), 0, 127)), DC_BITS[c])
    pad = 8 * FIXED_BYTES[ncomp] - 8 - 8 * ncomp - sum(DC_BITS[:ncomp])
    bw.put(0, pad)
    for value, n in zip(q[bits > 0], bits[bits > 0]):
        bw.put(int(value), int(n))
    return bw.to_bytes(size)


def decode(data: bytes, height: int, width: int, *, ncomp: int = 3, out_size: tuple[int, int] | None = None) -> np.ndarray | None:
    """Render a thumbnail.

    Parameters
    ----------
    data : bytes
        The plaintext thumbnail (:func:`encode`).
    height, width : int
        The region's size in pixels in the protected image (the bit
        allocation depends on it).
    out_size : (int, int), optional
        ``(height, width)`` to render at (default: the region's size). The
        coefficients are normalised, so any size shows the same picture,
        resampled by the DCT: smooth, without blocks.
    ncomp : int
        3 for a colour image, 1 for gray: must match the thumbnail's colour flag.

    Returns
    -------
    numpy.ndarray or None
        float64 ``(height, width, 3)`` RGB (``(height, width)`` for gray),
        not clipped; ``None`` when `data` is malformed (too short, reserved
        bits set, a colour flag that does not match, a zero gain).
    """
    if ncomp not in FIXED_BYTES or len(data) < MIN_BYTES or height < 1 or width < 1:
        return None
    br = _Bits(bytes(data))
    head = br.get(8)
    if head & 0x3E or (head & 1) != (ncomp == 3):
        return None
    beta_code = head >> 6
    gains = tuple(br.get(8) for _ in range(ncomp))
    if 0 in gains:
        return None
    means = [br.get(DC_BITS[c]) for c in range(ncomp)]
    pad = 8 * FIXED_BYTES[ncomp] - 8 - 8 * ncomp - sum(DC_BITS[:ncomp])
    if br.get(pad):
        return None
    oh, ow = out_size if out_size is not None else (height, width)
    if oh < 1 or ow < 1:
        return None
    h, w = height, width
    keys, sigma = _candidates(h, w, ncomp, beta_code, gains)
    nbits = 8 * len(data) - 8 * FIXED_BYTES[ncomp]
    bits = _allocate(keys, sigma, nbits)
    q = np.zeros(len(keys), dtype=np.int64)
    for k in np.flatnonzero(bits):
        q[k] = br.get(int(bits[k]))
    if br.total - br.pos and br.get(br.total - br.pos):  # unused trailing bits are zero
        return None
    rec = _dequantize(q, sigma, bits)
    nu, nv = min(h, MAX_FREQ), min(w, MAX_FREQ)
    spec = np.zeros((ncomp, nu, nv))
    spec[keys[:, 0], keys[:, 1], keys[:, 2]] = rec
    for c in range(ncomp):
        spec[c, 0, 0] = means[c] if c == 0 else 2 * means[c] + 1
    ku, kv = min(nu, oh), min(nv, ow)  # a smaller rendering drops what it cannot show
    dy, dx = _dct_matrix(oh, ku), _dct_matrix(ow, kv)
    planes = np.stack([dy.T @ spec[c, :ku, :kv] @ dx * np.sqrt(oh * ow) for c in range(ncomp)])
    if ncomp == 1:
        return planes[0]
    from picveil.jpeg.pixels import ycbcr_to_rgb

    return ycbcr_to_rgb(np.moveaxis(planes, 0, -1))
