"""Keyless features of a JPEG's quantized coefficients (numpy only, the DCT domain).

Everything here is computed from the coefficients and quantization tables of
a file, without any key, and is **invariant under its scheme**: a plain JPEG
and any searchable-v1 protection of it give the same :func:`cipher_tokens`,
and any searchable-v2 protection the same :func:`tile_tokens`, to the bit.
That is the whole reason search over protected photos works, and it is also
exactly what the schemes leak (see :mod:`picveil.schemes.searchable_v2` and
:mod:`picveil.schemes.searchable_v1`).

Arrays
------
* *blocks*: ``int16`` ``(n, 8, 8)`` or ``(h, w, 8, 8)``, natural order.
* *profiles* (:func:`diagonal_profiles`): ``uint16`` ``(n, 64)``; row ``i``
  is block ``i``'s |coefficients| gathered along the 15 anti-diagonals
  ``k = u + v`` (in the order ``DIAG_ORDER`` of the scheme) and sorted in
  decreasing order within each diagonal. Column 0 is ``|DC|``.
* *block features* (:func:`block_features`): ``float32`` ``(n, 64)`` in
  ``[0, 1]``: ``log1p(profile · Q̄_k) / log1p(AMPLITUDE_MAX)``, where ``Q̄_k``
  is the mean quantizer of diagonal ``k`` of the component's table, so
  files saved at different qualities land on one scale.
* *tokens* (:func:`cipher_tokens`): ``uint8`` ``(SLOT_ROWS_TOTAL, 64)``: for
  each of three component slots (luma, chroma 1, chroma 2), the block
  features sorted by a keyless key (``|DC|``, then AC energy, then the whole
  row, so that the order never depends on block positions) and resampled
  to a fixed number of rows at evenly spaced ranks -- the quantile function
  of the block-feature distribution. A one-component (grayscale) file fills
  the chroma slots with the features of a neutral chroma block (all zero),
  which is what a colour JPEG of a grey picture holds.
* *tile tokens* (:func:`tile_tokens`, searchable-v2): ``uint8``
  ``(64 · TILE_ROWS_TOTAL, 64)``: the same sorted, resampled block features,
  per tile of searchable-v2's keyless 8 × 8 grid (4 luma rows, 2 per
  chroma), tile by tile in raster order.
"""

from __future__ import annotations

import numpy as np

from ..schemes.searchable_v1 import DIAG_ORDER, DIAG_SLICES, DIAGONAL

__all__ = [
    "AMPLITUDE_MAX",
    "HIST_BINS",
    "SLOT_ROWS",
    "block_features",
    "cipher_tokens",
    "diagonal_profiles",
    "histogram_features",
    "plain_patches",
    "tile_features",
    "tile_features_from_tokens",
    "tile_tokens",
    "tile_tokens_from_coefficients",
    "tokens_from_coefficients",
]

#: Largest dequantized DCT amplitude of an 8-bit JPEG (1023 · 8 would be the
#: extreme quantizer of a 1023 value; larger products are clipped).
AMPLITUDE_MAX = 8184.0
_LOG_MAX = float(np.log1p(AMPLITUDE_MAX))
#: Rows per component slot in :func:`cipher_tokens`: luma, chroma, chroma.
SLOT_ROWS = (128, 32, 32)
SLOT_ROWS_TOTAL = sum(SLOT_ROWS)
#: Histogram features: log2 bins of dequantized |AC| per diagonal, and of |DC|.
HIST_BINS = 12


def _flat(blocks: np.ndarray) -> np.ndarray:
    blocks = np.asarray(blocks)
    if blocks.shape[-2:] != (8, 8):
        raise ValueError(f"blocks must end in (8, 8), got shape {blocks.shape}")
    return blocks.reshape(-1, 64)


def diagonal_profiles(blocks: np.ndarray) -> np.ndarray:
    """Per block, |coefficients| sorted within each anti-diagonal.

    Parameters
    ----------
    blocks : numpy.ndarray
        Integer, ``(n, 8, 8)`` or ``(h, w, 8, 8)``, natural order.

    Returns
    -------
    numpy.ndarray
        ``uint16``, ``(n, 64)``; diagonal ``k`` occupies columns
        ``DIAG_SLICES[k]``, largest magnitude first. The multiset of rows is
        the same for a plain file and any searchable-v1 protection of it.
    """
    mags = np.abs(_flat(blocks).astype(np.int32))[:, DIAG_ORDER].astype(np.uint16)
    for start, length in DIAG_SLICES:
        if length > 1:
            part = mags[:, start:start + length]
            part.sort(axis=1)
            mags[:, start:start + length] = part[:, ::-1]
    return mags


def diagonal_quantizers(quant: np.ndarray) -> np.ndarray:
    """``float32`` ``(64,)``: the mean table entry of each column's diagonal, in profile order."""
    q = np.asarray(quant, dtype=np.float64).reshape(64)
    means = np.bincount(DIAGONAL, weights=q, minlength=15) / np.bincount(DIAGONAL, minlength=15)
    return means[DIAGONAL[DIAG_ORDER]].astype(np.float32)


def block_features(profiles: np.ndarray, quant: np.ndarray) -> np.ndarray:
    """Scale profiles to ``[0, 1]`` on a log scale of (approximately) dequantized amplitude.

    Returns ``float32`` ``(n, 64)``.
    """
    amp = profiles.astype(np.float32) * diagonal_quantizers(quant)
    return np.log1p(np.minimum(amp, AMPLITUDE_MAX)) / _LOG_MAX


def _sort_key(feats: np.ndarray) -> np.ndarray:
    # |DC| first, then AC energy, then the whole row: a total order on distinct
    # rows, so the result does not depend on the order blocks came in.
    keys = [feats[:, j] for j in range(63, 0, -1)] + [feats[:, 1:].sum(axis=1), feats[:, 0]]
    return np.lexsort(keys)


def _resample(feats: np.ndarray, rows: int) -> np.ndarray:
    order = _sort_key(feats)
    idx = np.rint(np.linspace(0, len(order) - 1, rows)).astype(np.intp)
    return feats[order[idx]]


_NEUTRAL = np.zeros((1, 64), dtype=np.float32)


def tokens_from_coefficients(components: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Network input from ``[(blocks, quant), …]``, one pair per component.

    Returns ``uint8`` ``(SLOT_ROWS_TOTAL, 64)`` (features × 255, rounded).
    Components beyond the third are ignored; missing chroma is neutral.
    """
    if not components:
        raise ValueError("need at least one component")
    slots = []
    for s, rows in enumerate(SLOT_ROWS):
        if s < len(components):
            blocks, quant = components[s]
            feats = block_features(diagonal_profiles(blocks), quant)
            if len(feats) == 0:
                feats = _NEUTRAL
        else:
            feats = _NEUTRAL
        slots.append(_resample(feats, rows))
    return np.rint(np.concatenate(slots) * 255.0).astype(np.uint8)


#: searchable-v2 tokens: rows per tile for each component slot (luma, chroma, chroma).
TILE_ROWS = (4, 2, 2)
TILE_ROWS_TOTAL = sum(TILE_ROWS)


def tile_tokens_from_coefficients(components: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Network input for searchable-v2 files from ``[(blocks, quant), …]``.

    ``blocks`` are ``(rows, cols, 8, 8)``. Each component is cut into the
    scheme's keyless 8 × 8 grid of tiles
    (:func:`picveil.schemes.searchable_v2.tile_index`); inside a tile the
    block features are sorted by the same keyless key as
    :func:`tokens_from_coefficients` and resampled to :data:`TILE_ROWS` rows
    at evenly spaced ranks, so nothing depends on where a block sits inside
    its tile. An empty tile (an image under 8 blocks a side) or a missing
    chroma component is neutral.

    Returns ``uint8`` ``(TILES² · TILE_ROWS_TOTAL, 64)``: tile by tile in
    raster order, each tile's luma rows then each chroma's rows. The same
    for a plain file and any searchable-v2 protection of it.
    """
    from ..schemes.searchable_v2 import TILES, tile_index

    if not components:
        raise ValueError("need at least one component")
    out = np.zeros((TILES * TILES, TILE_ROWS_TOTAL, 64), dtype=np.float32)
    start = 0
    for s, rows in enumerate(TILE_ROWS):
        if s < len(components):
            blocks, quant = components[s]
            blocks = np.asarray(blocks)
            if blocks.ndim != 4:
                raise ValueError(f"blocks must be (rows, cols, 8, 8), got shape {blocks.shape}")
            feats = block_features(diagonal_profiles(blocks), quant)
            tile = tile_index(blocks.shape[0], blocks.shape[1])
            order = np.argsort(tile, kind="stable")
            bounds = np.searchsorted(tile[order], np.arange(TILES * TILES + 1))
            for t in range(TILES * TILES):
                members = order[bounds[t]:bounds[t + 1]]
                if len(members):
                    out[t, start:start + rows] = _resample(feats[members], rows)
        start += rows
    return np.rint(out.reshape(-1, 64) * 255.0).astype(np.uint8)


def tile_tokens(data: bytes, *, max_pixels: int = 200_000_000) -> np.ndarray:
    """:func:`tile_tokens_from_coefficients` of a JPEG file's bytes (no key, no pixel decoding)."""
    from ..jpeg.codec import read_coefficients

    coeffs = read_coefficients(data, max_pixels=max_pixels)
    return tile_tokens_from_coefficients([(coeffs.array(ci), coeffs.quant_table(ci)) for ci in range(len(coeffs.components))])


def tile_features_from_tokens(tokens: np.ndarray) -> np.ndarray:
    """Hand-made keyless features of searchable-v2 files (no network): per tile
    of the 8 × 8 grid, the mean luma block feature on each of the 15
    anti-diagonals (detail at each scale, and |DC| for diagonal 0).

    ``tokens``: ``uint8`` from :func:`tile_tokens`. Returns ``float32``
    ``(64 · 15,)``, centred and of unit length (compare by cosine). They match
    near duplicates of real photos better than the bundled network, which
    only ever saw Fashion-MNIST (``benchmarks/bench_search.py``).
    """
    from ..schemes.searchable_v2 import TILES

    t = np.asarray(tokens, dtype=np.float32).reshape(TILES * TILES, TILE_ROWS_TOTAL, 64)[:, : TILE_ROWS[0]].mean(axis=1)
    f = np.stack([t[:, s:s + n].mean(axis=1) for s, n in DIAG_SLICES], axis=1).reshape(-1)
    f = f - f.mean()
    norm = float(np.linalg.norm(f))
    return (f / norm if norm > 0 else f).astype(np.float32)


def tile_features(data: bytes, *, max_pixels: int = 200_000_000) -> np.ndarray:
    """:func:`tile_features_from_tokens` of a JPEG file's bytes."""
    return tile_features_from_tokens(tile_tokens(data, max_pixels=max_pixels))


#: Network kind (``config["kind"]``) -> the scheme whose files it reads.
SCHEME_OF_KIND = {"cipher": "searchable-v1", "cipher-tiles": "searchable-v2"}


def tokens_for(kind: str):
    """The keyless token function that feeds a network of this kind."""
    if kind == "cipher":
        return cipher_tokens
    if kind == "cipher-tiles":
        return tile_tokens
    raise ValueError(f"no keyless features for network kind {kind!r}")


def _components(data: bytes, max_pixels: int):
    from ..jpeg.codec import read_coefficients

    coeffs = read_coefficients(data, max_pixels=max_pixels)
    return [(coeffs.array(ci), coeffs.quant_table(ci)) for ci in range(len(coeffs.components))]


def cipher_tokens(data: bytes, *, max_pixels: int = 200_000_000) -> np.ndarray:
    """:func:`tokens_from_coefficients` of a JPEG file's bytes (no key, no pixel decoding)."""
    return tokens_from_coefficients(_components(data, max_pixels))


def histogram_features_from_coefficients(components: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Hand-made baseline in the manner of the histogram schemes seed 002 compares with.

    Per component slot (as in :func:`tokens_from_coefficients`): a histogram
    of ``log2(1 + |DC|·Q)`` and, for each diagonal ``k = 1 .. 14``, of
    ``log2(1 + |AC|·Q̄_k)``, :data:`HIST_BINS` bins each, normalized by the
    number of coefficients. Returned as the element-wise square root
    (``float32``, ``(3 · 15 · HIST_BINS,)``), unit length, so that the cosine
    similarity of two vectors is the Bhattacharyya coefficient of their
    histograms (Hellinger affinity).
    """
    out = []
    for s in range(len(SLOT_ROWS)):
        if s < len(components):
            blocks, quant = components[s]
            amp = diagonal_profiles(blocks).astype(np.float32) * diagonal_quantizers(quant)
        else:
            amp = np.zeros((1, 64), dtype=np.float32)
        if len(amp) == 0:
            amp = np.zeros((1, 64), dtype=np.float32)
        bins = np.minimum(np.log2(1.0 + amp).astype(np.intp), HIST_BINS - 1)
        for start, length in DIAG_SLICES:
            h = np.bincount(bins[:, start:start + length].ravel(), minlength=HIST_BINS).astype(np.float64)
            out.append(h / h.sum())
    vec = np.sqrt(np.concatenate(out))
    return (vec / np.linalg.norm(vec)).astype(np.float32)


def histogram_features(data: bytes, *, max_pixels: int = 200_000_000) -> np.ndarray:
    """:func:`histogram_features_from_coefficients` of a JPEG file's bytes."""
    return histogram_features_from_coefficients(_components(data, max_pixels))


def plain_patches(gray: np.ndarray, patch: int = 16) -> np.ndarray:
    """Non-overlapping ``patch``×``patch`` pixel patches in raster order.

    Input to the plaintext upper-bound network of the benchmark (not usable on
    protected files). ``gray``: ``uint8`` ``(H, W)`` with ``H`` and ``W``
    multiples of ``patch``. Returns ``uint8`` ``(H·W / patch², patch²)``.
    """
    h, w = gray.shape
    if h % patch or w % patch:
        raise ValueError(f"image size {w}x{h} is not a multiple of {patch}")
    return gray.reshape(h // patch, patch, w // patch, patch).transpose(0, 2, 1, 3).reshape(-1, patch * patch)
