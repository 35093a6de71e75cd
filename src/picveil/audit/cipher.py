"""Cipher statistics of picveil's schemes: histogram leakage, key sensitivity, a jigsaw attack.

The analyses of seeds 002 and 003, run on real photo regions (scikit-image's
astronaut face, coffee, chelsea, camera) and on generated images, for every
scheme picveil ships:

* **Histograms** (seed 002, Table I). Distances between the coefficient
  histograms of an original region and its protected version, for the block
  means (DC) and the AC coefficients, signed and as magnitudes. Two references
  give the numbers a scale: the same region re-encoded once more at the same
  quality (content unchanged: a small distance) and a region of an unrelated
  image (different content: the distance a real change of content gives).
  A distance of 0 means the histogram is leaked exactly.
* **Key sensitivity** (seed 003, §4.2.2). The region is protected with a key
  and revealed with the same key with one bit flipped: either the 32-byte
  region key handed to the scheme, or the 32-byte group ("file") key that
  region keys are derived from with HKDF. Reported: the luma PSNR of that
  reveal against the original, next to a reveal under an independent random
  key (what a random guess gives) and to the exact reveal (infinite), and the
  share of the region's coefficients that differ between the protections under
  the two keys, next to the share for two independent keys.
* **Jigsaw attack** (seed 003, §4.4.1, after Chuman et al.). The protected
  region's luma blocks are decoded to 8×8 pixel tiles and handed to a greedy
  jigsaw solver that knows the region's size in blocks. Reported: the share of
  true neighbour pairs the solver's assembly contains ("neighbour comparison")
  and the share of true neighbours that are the best match of their partner's
  edge, against the expected share of a random placement; the same solver on
  a permutation-only scramble of the same region (plain block permutation,
  nothing else) shows that it is competent.

Everything here is a pure function of numpy arrays except
:func:`run_cipher_checks`, which encodes the images, calls picveil, and
collects the results, and :func:`main` (``python -m picveil.audit.cipher``).
Pixel tiles are ``float64`` grey levels, shape ``(n, 8, 8)``; coefficient
arrays are quantized DCT blocks, shape ``(rows, cols, 8, 8)``, natural order,
``[..., 0, 0]`` is DC.
"""

from __future__ import annotations

import io
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Sequence

import numpy as np

__all__ = [
    "HISTOGRAMS", "MEASURES", "histogram_distances", "blocks_to_tiles", "psnr", "KeySensitivity",
    "key_sensitivity", "edge_dissimilarities", "solve_jigsaw", "neighbour_share", "random_share",
    "JigsawResult", "jigsaw_attack", "tracer_permutation", "CipherResults", "run_cipher_checks",
    "markdown_section", "main",
]

#: Histograms compared: name -> (what, bin edges). DC in grey levels of the block
#: mean offset from 128 (``DC·q/8``), AC in quantizer steps, values outside the
#: range counted in the outer bins.
HISTOGRAMS: dict[str, tuple[str, np.ndarray]] = {
    "DC": ("signed block means, 32 bins of 8 grey levels", np.linspace(-128.0, 128.0, 33)),
    "|DC|": ("block-mean magnitudes, 16 bins of 8 grey levels", np.linspace(0.0, 128.0, 17)),
    "AC": ("signed AC values, one bin per step in −20..20", np.arange(-20.5, 21.0, 1.0)),
    "|AC|": ("AC magnitudes, one bin per step in 0..20", np.arange(-0.5, 21.0, 1.0)),
}
#: Distance measures between two normalised histograms ``p`` and ``q``.
MEASURES = ("chi2", "bhattacharyya", "js", "euclidean")

#: Region size in pixels for the standard run (16×16 luma blocks).
REGION = 128
JPEG_QUALITY = 90
#: Regions of interest (x, y) of the real photos, each REGION × REGION pixels.
PHOTO_REGIONS = {
    "astronaut": (160, 32),   # the face
    "coffee": (224, 128),     # the cup
    "chelsea": (144, 48),     # the cat's face
    "camera": (192, 48),      # the cameraman's head (grey image)
}
PERMUTATION_ONLY = "permutation-only"
#: The "same content" histogram reference moves the image by this many pixels
#: against the 8×8 grid before encoding: same scene, different blocks.
SHIFT = 4


# --- histograms ------------------------------------------------------------------

def _features(coef: np.ndarray, q_dc: float) -> dict[str, np.ndarray]:
    flat = np.asarray(coef).reshape(-1, 64).astype(np.float64)
    dc = flat[:, 0] * q_dc / 8.0
    ac = flat[:, 1:].ravel()
    return {"DC": dc, "|DC|": np.abs(dc), "AC": ac, "|AC|": np.abs(ac)}


def _hist(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    v = np.clip(values, edges[0] + 1e-9, edges[-1] - 1e-9)
    h = np.histogram(v, bins=edges)[0].astype(np.float64)
    return h / max(h.sum(), 1.0)


def _distances(p: np.ndarray, q: np.ndarray) -> dict[str, float]:
    s = p + q
    nz = s > 0
    chi2 = 0.5 * float(np.sum((p[nz] - q[nz]) ** 2 / s[nz]))
    bc = float(np.sum(np.sqrt(p * q)))
    bhatt = math.inf if bc <= 0 else max(0.0, -math.log(min(bc, 1.0)))
    m = 0.5 * s

    def kl(a):
        k = a > 0
        return float(np.sum(a[k] * np.log2(a[k] / m[k])))

    js = 0.5 * kl(p) + 0.5 * kl(q)
    return {"chi2": chi2, "bhattacharyya": bhatt, "js": max(0.0, js), "euclidean": float(np.linalg.norm(p - q))}


def histogram_distances(original: np.ndarray, other: np.ndarray, q_dc: float) -> dict[str, dict[str, float]]:
    """Distances between the coefficient histograms of two regions.

    Parameters
    ----------
    original, other : ndarray of int, shape ``(rows, cols, 8, 8)`` (any leading shape ending in 8, 8)
        Quantized luma blocks of the two regions, quantized with the same
        table; the block counts may differ (histograms are normalised).
    q_dc : float
        The DC quantizer (``quant[0, 0]``), to express block means in grey levels.

    Returns
    -------
    dict
        ``{histogram: {measure: value}}`` for every name in :data:`HISTOGRAMS`
        and :data:`MEASURES`: ``chi2`` = ½Σ(p−q)²/(p+q) in [0, 1];
        ``bhattacharyya`` = −ln Σ√(pq) in [0, ∞]; ``js`` = Jensen–Shannon
        divergence in bits, [0, 1] (the symmetric, finite form of KL);
        ``euclidean`` = ‖p − q‖₂ (seed 002's measure). All are 0 exactly when
        the two histograms are equal.
    """
    if q_dc <= 0:
        raise ValueError(f"q_dc must be positive, got {q_dc}")
    fa, fb = _features(original, q_dc), _features(other, q_dc)
    return {name: _distances(_hist(fa[name], edges), _hist(fb[name], edges))
            for name, (_, edges) in HISTOGRAMS.items()}


# --- pixels -----------------------------------------------------------------------

def blocks_to_tiles(coef: np.ndarray, quant: np.ndarray) -> np.ndarray:
    """Decode quantized blocks to pixel tiles as a JPEG decoder would (float IDCT, clamp).

    Parameters
    ----------
    coef : ndarray of int, shape ``(..., 8, 8)``, natural order
    quant : ndarray, shape ``(8, 8)``, the component's quantization table

    Returns
    -------
    ndarray of float64, same shape, grey levels in [0, 255] (not rounded)
    """
    from scipy.fft import idctn

    pix = idctn(np.asarray(coef, dtype=np.float64) * np.asarray(quant, dtype=np.float64),
                type=2, axes=(-2, -1), norm="ortho")
    return np.clip(pix + 128.0, 0.0, 255.0)


def _assemble(tiles: np.ndarray) -> np.ndarray:
    """``(rows, cols, 8, 8)`` tiles -> ``(8 rows, 8 cols)`` image."""
    r, c = tiles.shape[:2]
    return tiles.transpose(0, 2, 1, 3).reshape(8 * r, 8 * c)


def psnr(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    """PSNR in dB between two images of the same shape (``inf`` when equal)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    mse = float(np.mean((a - b) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(peak * peak / mse)


# --- key sensitivity ----------------------------------------------------------------

def _flip_bit(key: bytes, bit: int) -> bytes:
    if not 0 <= bit < 8 * len(key):
        raise ValueError(f"bit must be in 0..{8 * len(key) - 1}, got {bit}")
    b = bytearray(key)
    b[bit // 8] ^= 0x80 >> (bit % 8)
    return bytes(b)


@dataclass
class KeySensitivity:
    """One region, one scheme, one one-bit key change. PSNRs are luma, in dB."""

    level: str                 #: "region" (the scheme's key) or "file" (the group key)
    bit: int
    psnr_correct: float        #: reveal with the right key (inf when exact)
    psnr_flipped: float        #: reveal with the one-bit-changed key
    psnr_random: float         #: reveal with independent random keys (mean): a random guess
    psnr_protected: float      #: the protected region as it is
    changed_flipped: float     #: share of coefficients that differ, key vs flipped key
    changed_random: float      #: the same for independent keys (mean): the ceiling


def key_sensitivity(
    blocks: list[np.ndarray],
    quant: list[np.ndarray],
    scheme,
    key: bytes,
    *,
    level: str = "region",
    bit: int = 0,
    salt: bytes = bytes(16),
    random_keys: Sequence[bytes] = (),
) -> KeySensitivity:
    """Protect with ``key``, reveal with ``key`` with one bit flipped, and compare.

    Parameters
    ----------
    blocks : list of ndarray, one per component, shape ``(rows, cols, 8, 8)`` int16
        A region's blocks, as :class:`picveil.schemes.Scheme` takes them.
    quant : list of ndarray ``(8, 8)``, the components' quantization tables
    scheme : a :class:`picveil.schemes.Scheme`
    key : 32 bytes
        ``level="region"``: the region key itself (:class:`picveil.crypto.RegionKey`).
        ``level="file"``: the group key (:class:`picveil.crypto.GroupKey`); the
        region key is derived from it with ``salt`` as picveil does.
    bit : which bit to flip (0 = most significant bit of the first byte)
    random_keys : further 32-byte keys of the same level, for the random-guess reference

    Returns
    -------
    KeySensitivity
        The wrong-key reveals are given the scheme's true ``aux`` bytes (for
        scramble-v2, the original DC values), which favours the attacker: in
        picveil the aux bytes are sealed under the region key and a wrong key
        opens nothing at all. Where the scheme refuses them under the wrong
        key (scramble-v4's rounding bits do not fit the blocks a wrong key
        unscrambles), that reveal goes without them. The gain-mixing schemes
        (scramble-v5, -v6, -v7), whose ``aux`` is the region itself, are
        revealed by their float inverse instead (:func:`mixed_reveal`), with
        the gains the right key opens: again more than a wrong key gets.
    """
    from ..crypto import GroupKey, RegionKey

    if level not in ("region", "file"):
        raise ValueError(f"level must be 'region' or 'file', got {level!r}")

    def region_key(k: bytes):
        return RegionKey(k) if level == "region" else GroupKey(k).region_key(salt)

    right = scheme.protect(blocks, region_key(key), quant)
    original = _assemble(blocks_to_tiles(blocks[0], quant[0]))

    def luma_psnr(revealed):
        return psnr(_assemble(blocks_to_tiles(revealed[0], quant[0])), original)

    def changed(other):
        a = np.concatenate([np.asarray(b).ravel() for b in right.blocks])
        b = np.concatenate([np.asarray(x).ravel() for x in other.blocks])
        return float(np.mean(a != b))

    def reveal_with(k: bytes):
        if hasattr(scheme, "codec"):  # a gain-mixing scheme: its aux is the region itself
            return mixed_reveal(scheme, right, region_key(key), region_key(k), quant)
        try:
            return scheme.reveal(right.blocks, region_key(k), quant, right.aux)
        except ValueError:
            return scheme.reveal(right.blocks, region_key(k), quant, None)

    flipped = _flip_bit(key, bit)
    p_right = luma_psnr(reveal_with(key))
    p_flip = luma_psnr(reveal_with(flipped))
    c_flip = changed(scheme.protect(blocks, region_key(flipped), quant))
    p_rand, c_rand = [], []
    for rk in random_keys:
        p_rand.append(luma_psnr(reveal_with(rk)))
        c_rand.append(changed(scheme.protect(blocks, region_key(rk), quant)))
    return KeySensitivity(
        level, bit, p_right, p_flip, float(np.mean(p_rand)) if p_rand else math.nan,
        psnr(_assemble(blocks_to_tiles(right.blocks[0], quant[0])), original), c_flip,
        float(np.mean(c_rand)) if c_rand else math.nan,
    )


def mixed_reveal(scheme, protected, gains_key, key, quant: list[np.ndarray]) -> list[np.ndarray]:
    """A gain-mixing scheme's region (scramble-v5, -v6, -v7) revealed through its
    float inverse with `key`, given the gains and means sealed in
    ``protected.robust`` opened with `gains_key` (the right key: what a wrong
    `key` alone could not open). Per component: dequantize, unmix with
    `key`'s mixer, divide by the gains (with `key`'s dither), add the mean
    back, quantize. ``list`` of int16 blocks shaped as ``protected.blocks``."""
    from ..schemes import scramble_v5 as v5

    opened = scheme.codec.open(gains_key, protected.robust, len(protected.blocks))
    if opened is None:
        raise ValueError(f"{scheme.name}: the parameters do not open with the key given for them")
    codes, means = opened
    out = []
    for ci, yq in enumerate(protected.blocks):
        n = yq.shape[0] * yq.shape[1]
        q = np.asarray(quant[ci], dtype=np.float64).reshape(64)
        g = scheme.codec.gains(codes[ci], v5.dither(key, ci), ci)
        v = v5.Mixer(key, ci, n).unmix(yq.reshape(n, 64).astype(np.float64) * q) * np.divide(1.0, g, out=np.zeros(64), where=g > 0)
        v[:, 0] += means[ci]
        out.append(np.clip(np.rint(v / q), -2048, 2047).astype(np.int16).reshape(yq.shape))
    return out


# --- jigsaw solver --------------------------------------------------------------------

def edge_dissimilarities(tiles: np.ndarray, method: str = "prediction") -> tuple[np.ndarray, np.ndarray]:
    """Dissimilarity of every ordered pair of tiles across a shared edge.

    Parameters
    ----------
    tiles : ndarray, shape ``(n, s, s)``, grey levels (float)
    method : ``"prediction"`` (default) or ``"mgc"``
        ``mgc``: Gallagher's Mahalanobis gradient compatibility for one
        channel: the gradient across the edge is scored against the mean and
        variance of the gradients just inside each tile (variance + 1 grey
        level², which plays the role of Gallagher's dummy gradients), summed
        over both sides. ``prediction``: squared error of each side's linear
        extrapolation of its border into the other tile (Pomeranz et al.).
        On 8×8 luma tiles of the photos here ``prediction`` assembled more
        true neighbours than ``mgc`` with one grey channel.

    Returns
    -------
    lr, tb : ndarray float64, shape ``(n, n)``
        ``lr[i, j]``: tile ``j`` placed right of tile ``i``; ``tb[i, j]``:
        ``j`` placed below ``i``. The diagonals are ``inf``.
    """
    t = np.asarray(tiles, dtype=np.float64)
    if t.ndim != 3 or t.shape[1] != t.shape[2] or t.shape[1] < 2:
        raise ValueError(f"tiles must have shape (n, s, s) with s >= 2, got {t.shape}")
    if method not in ("mgc", "prediction"):
        raise ValueError(f"method must be 'mgc' or 'prediction', got {method!r}")

    def pair(a_last, a_prev, b_first, b_next):
        # a's border a_last meets b's border b_first; each (n, s)
        if method == "prediction":
            pa = 2 * a_last - a_prev          # a extrapolated one pixel into b
            pb = 2 * b_first - b_next         # b extrapolated one pixel into a
            d = ((pa[:, None, :] - b_first[None, :, :]) ** 2).sum(-1)
            d += ((pb[None, :, :] - a_last[:, None, :]) ** 2).sum(-1)
        else:
            ga, gb = a_last - a_prev, b_first - b_next        # gradients inside each tile
            mua, mub = ga.mean(1), gb.mean(1)
            va, vb = ga.var(1) + 1.0, gb.var(1) + 1.0
            cross = b_first[None, :, :] - a_last[:, None, :]  # a -> b across the edge
            d = ((cross - mua[:, None, None]) ** 2).sum(-1) / va[:, None]
            d += ((-cross - mub[None, :, None]) ** 2).sum(-1) / vb[None, :]
        np.fill_diagonal(d, np.inf)
        return d

    lr = pair(t[:, :, -1], t[:, :, -2], t[:, :, 0], t[:, :, 1])
    tb = pair(t[:, -1, :], t[:, -2, :], t[:, 0, :], t[:, 1, :])
    return lr, tb


def _normalise(d: np.ndarray) -> np.ndarray:
    """Divide by the second-best score of either piece (Gallagher): distinctive matches get small values."""
    n = d.shape[0]
    if n < 3:
        return d.copy()
    row2 = np.partition(d, 1, axis=1)[:, 1]
    col2 = np.partition(d, 1, axis=0)[1, :]
    den = np.minimum(row2[:, None], col2[None, :]) + 1e-6
    return d / den


def solve_jigsaw(lr: np.ndarray, tb: np.ndarray, rows: int, cols: int, *, starts: int = 4) -> np.ndarray:
    """Greedy placer with known puzzle size (Pomeranz-style, Gallagher's normalised scores).

    Starts from the tile with the most best buddies (pairs that are each
    other's best match), then repeatedly fills the most confident empty slot
    next to the placed tiles: for each slot the free tiles are scored by their
    mean normalised dissimilarity to the slot's placed neighbours, and the
    slot whose best tile beats its runner-up by the largest ratio is filled
    with that tile. A slot is allowed only while the placed tiles fit in a
    ``rows × cols`` box. (On the permutation-only baseline this placement
    rule recovered about a quarter more neighbour pairs than taking the
    lowest score.) This is repeated from the ``starts`` tiles with the most
    best buddies, and the assembly whose neighbour pairs have the lowest total
    normalised dissimilarity wins (the solver judges itself; it never sees
    the truth). A greedy placer is chaotic, an early mistake is never undone,
    and several starts make the result less dependent on luck.

    Parameters
    ----------
    lr, tb : ndarray ``(n, n)`` from :func:`edge_dissimilarities`, ``n = rows * cols``
    rows, cols : the puzzle's size in tiles
    starts : how many start tiles to try (at least 1)

    Returns
    -------
    ndarray of int64, shape ``(rows, cols)``: the tile index placed in each cell.
    """
    n = lr.shape[0]
    if lr.shape != (n, n) or tb.shape != (n, n) or rows * cols != n:
        raise ValueError(f"need (n, n) scores with n = rows * cols, got {lr.shape}, {tb.shape}, {rows}×{cols}")
    if n == 1:
        return np.zeros((1, 1), dtype=np.int64)
    L, T = _normalise(lr), _normalise(tb)
    buddies = np.zeros(n, dtype=np.int64)
    for d in (lr, tb):
        right, left = d.argmin(1), d.argmin(0)
        mutual = left[right] == np.arange(n)
        buddies += mutual
        np.add.at(buddies, right[mutual], 1)
    best_total, best_grid = math.inf, None
    for first in np.argsort(-buddies, kind="stable")[: max(1, starts)]:
        g = _place(L, T, rows, cols, int(first))
        total = float(L[g[:, :-1], g[:, 1:]].sum() + T[g[:-1, :], g[1:, :]].sum())
        if best_grid is None or total < best_total:
            best_total, best_grid = total, g
    return best_grid


def _place(L: np.ndarray, T: np.ndarray, rows: int, cols: int, first: int) -> np.ndarray:
    """One greedy placement from tile ``first`` (see :func:`solve_jigsaw`)."""
    n = L.shape[0]
    H, W = 2 * rows - 1, 2 * cols - 1
    grid = np.full((H, W), -1, dtype=np.int64)
    r0, c0 = rows - 1, cols - 1
    grid[r0, c0] = first
    placed = np.zeros(n, dtype=bool)
    placed[grid[r0, c0]] = True
    top, bottom, left_, right_ = r0, r0, c0, c0
    for _ in range(n - 1):
        best = (math.inf, -1, -1, -1)
        free = ~placed
        for r in range(max(0, bottom - rows + 1), min(H, top + rows)):
            for c in range(max(0, right_ - cols + 1), min(W, left_ + cols)):
                if grid[r, c] >= 0:
                    continue
                cost = np.zeros(n)
                k = 0
                if c > 0 and grid[r, c - 1] >= 0:
                    cost += L[grid[r, c - 1], :]
                    k += 1
                if c + 1 < W and grid[r, c + 1] >= 0:
                    cost += L[:, grid[r, c + 1]]
                    k += 1
                if r > 0 and grid[r - 1, c] >= 0:
                    cost += T[grid[r - 1, c], :]
                    k += 1
                if r + 1 < H and grid[r + 1, c] >= 0:
                    cost += T[:, grid[r + 1, c]]
                    k += 1
                if k == 0:
                    continue
                cost = np.where(free, cost / k, math.inf)
                two = np.partition(cost, 1)[:2] if cost.size > 1 else np.array([cost[0], math.inf])
                if not np.isfinite(two[0]):
                    continue
                # confidence: the best tile for this slot, relative to the runner-up
                ratio = float(two[0] / (two[1] + 1e-9)) if np.isfinite(two[1]) else 0.0
                if ratio < best[0]:
                    best = (ratio, r, c, int(np.argmin(cost)))
        _, r, c, j = best
        if j < 0:  # only infinite costs left: take any free tile
            r, c = next((r, c) for r in range(max(0, bottom - rows + 1), min(H, top + rows))
                        for c in range(max(0, right_ - cols + 1), min(W, left_ + cols)) if grid[r, c] < 0)
            j = int(np.flatnonzero(~placed)[0])
        grid[r, c] = j
        placed[j] = True
        top, bottom, left_, right_ = min(top, r), max(bottom, r), min(left_, c), max(right_, c)
    return grid[top:top + rows, left_:left_ + cols].copy()


def neighbour_share(placement: np.ndarray, truth: np.ndarray) -> float:
    """Share of adjacent pairs in ``placement`` that are adjacent the same way in the original.

    Parameters
    ----------
    placement : ndarray int, shape ``(rows, cols)``: tile index per cell
    truth : ndarray int, shape ``(n, 2)``: each tile's original (row, col)

    Returns
    -------
    float in [0, 1]: correct pairs ÷ (rows·(cols−1) + (rows−1)·cols) ("neighbour comparison").
    """
    p = np.asarray(placement)
    rows, cols = p.shape
    total = rows * (cols - 1) + (rows - 1) * cols
    if total == 0:
        return math.nan
    pos = np.asarray(truth)
    a, b = pos[p[:, :-1]], pos[p[:, 1:]]
    ok = np.sum((b[..., 0] == a[..., 0]) & (b[..., 1] == a[..., 1] + 1))
    a, b = pos[p[:-1, :]], pos[p[1:, :]]
    ok += np.sum((b[..., 1] == a[..., 1]) & (b[..., 0] == a[..., 0] + 1))
    return float(ok) / total


def random_share(rows: int, cols: int) -> float:
    """Expected :func:`neighbour_share` of a uniformly random placement of ``rows × cols`` tiles."""
    n = rows * cols
    h, v = rows * (cols - 1), (rows - 1) * cols
    if n < 2 or h + v == 0:
        return math.nan
    return (h * h + v * v) / (n * (n - 1)) / (h + v)


def _best_match_share(lr: np.ndarray, tb: np.ndarray, truth: np.ndarray, rows: int, cols: int) -> float:
    """Share of true neighbour pairs (both directions) where the partner is the best-scoring tile."""
    at = np.full((rows, cols), -1, dtype=np.int64)
    at[truth[:, 0], truth[:, 1]] = np.arange(len(truth))
    ok = total = 0
    for d, a, b in ((lr, at[:, :-1], at[:, 1:]), (tb, at[:-1, :], at[1:, :])):
        a, b = a.ravel(), b.ravel()
        ok += int(np.sum(d[a].argmin(1) == b)) + int(np.sum(d[:, b].argmin(0) == a))
        total += 2 * a.size
    return ok / total if total else math.nan


@dataclass
class JigsawResult:
    """What the jigsaw solver recovered from one region."""

    solver_share: float      #: neighbour comparison of the greedy assembly
    best_match_share: float  #: true neighbours that are their partner's best match
    random_share: float      #: expected neighbour comparison of a random placement
    best_match_random: float  #: expected best-match share of random scores (1 / (n − 1))
    seconds: float


def jigsaw_attack(tiles: np.ndarray, truth: np.ndarray, rows: int, cols: int, *, method: str = "prediction") -> JigsawResult:
    """Run the jigsaw solver on shuffled tiles and score it against the truth.

    Parameters
    ----------
    tiles : ndarray ``(n, 8, 8)`` float, grey levels: the region's blocks in
        the order the attacker sees them (``n = rows * cols``).
    truth : ndarray int ``(n, 2)``: the original (row, col) of each tile; used
        only for scoring, never by the solver.
    rows, cols : the region's size in blocks (public: the protected region has it)
    method : edge score, see :func:`edge_dissimilarities`
    """
    t0 = time.perf_counter()
    truth = np.asarray(truth, dtype=np.int64)
    if truth.shape != (len(tiles), 2) or rows * cols != len(tiles):
        raise ValueError("truth must be (n, 2) and rows * cols must equal the number of tiles")
    lr, tb = edge_dissimilarities(tiles, method)
    placement = solve_jigsaw(lr, tb, rows, cols)
    n = rows * cols
    return JigsawResult(neighbour_share(placement, truth), _best_match_share(lr, tb, truth, rows, cols),
                        random_share(rows, cols), 1.0 / (n - 1) if n > 1 else math.nan,
                        time.perf_counter() - t0)


def tracer_permutation(scheme, key, shapes: Sequence[tuple[int, int]], quant: list[np.ndarray]) -> list[np.ndarray]:
    """Where each protected block of a scheme came from, found by protecting tracer blocks.

    Every coefficient of block ``b`` is set to ``b + 1``; the schemes move
    whole blocks with a keyed, data-independent permutation and change AC
    coefficients only in sign or within the block, so ``|AC[0, 1]| − 1`` of
    protected block ``k`` is its source. Used only to score the jigsaw
    attack. Raises ``ValueError`` if the result is not a permutation (a
    scheme whose block positions depend on the data).

    Returns
    -------
    list (one per component) of int64 arrays ``(rows·cols,)``: ``src[k]`` is
    the raster index of the original block now at raster position ``k``.
    """
    blocks = []
    for rows, cols in shapes:
        n = rows * cols
        if n > 1023:
            raise ValueError("tracer blocks support at most 1023 blocks per component")
        blocks.append(np.broadcast_to((np.arange(n, dtype=np.int16) + 1)[:, None, None], (n, 8, 8))
                      .reshape(rows, cols, 8, 8).copy())
    out = []
    for (rows, cols), p in zip(shapes, scheme.protect(blocks, key, quant).blocks):
        src = np.abs(np.asarray(p, dtype=np.int64).reshape(-1, 64)[:, 1]) - 1
        if not np.array_equal(np.sort(src), np.arange(rows * cols)):
            raise ValueError(f"{scheme.name}: block positions are not a data-independent permutation")
        out.append(src)
    return out


# --- images and regions -----------------------------------------------------------------

def _generated(name: str, size: int = 256) -> np.ndarray:
    """Synthetic RGB test images (seeded): smooth shapes, and a textured scene."""
    rng = np.random.default_rng(20240 + (0 if name == "generated-shapes" else 1))
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    img = np.stack([60 + 120 * xx / size, 80 + 100 * yy / size, 170 - 80 * (xx + yy) / (2 * size)], -1)
    for _ in range(9):
        cy, cx = rng.uniform(0, size, 2)
        ry, rx = rng.uniform(size / 14, size / 4, 2)
        colour = rng.uniform(20, 235, 3)
        inside = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
        img[inside] = colour
    if name == "generated-texture":
        img += 40 * np.sin(xx / 3.0 + 2 * np.sin(yy / 11.0))[..., None]
        img += rng.normal(0, 6, img.shape)
    else:
        img += rng.normal(0, 2, img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def cipher_images(names: Sequence[str] | None = None) -> list[tuple[str, np.ndarray, tuple[int, int, int, int]]]:
    """``(name, image uint8 (H, W[, 3]), box (x, y, w, h))`` of the standard set.

    Real photos come from scikit-image's bundled data (skipped if scikit-image
    is missing); the generated images always exist.
    """
    out = []
    want = list(names) if names is not None else list(PHOTO_REGIONS) + ["generated-shapes", "generated-texture"]
    for name in want:
        if name in PHOTO_REGIONS:
            try:
                from skimage import data as skdata
            except ImportError:
                continue
            img = getattr(skdata, name)()
            x, y = PHOTO_REGIONS[name]
        elif name in ("generated-shapes", "generated-texture"):
            img = _generated(name)
            x, y = 64, 64
        else:
            raise ValueError(f"unknown image {name!r}")
        out.append((name, img, (x, y, REGION, REGION)))
    return out


def _encode(img: np.ndarray, quality: int = JPEG_QUALITY) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    if img.ndim == 2:
        Image.fromarray(img).save(buf, "JPEG", quality=quality)
    else:
        Image.fromarray(img).save(buf, "JPEG", quality=quality, subsampling=2)
    return buf.getvalue()


def _region_blocks(jpeg: bytes, box: tuple[int, int, int, int]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Blocks of every component inside an MCU-aligned box, and the quantization tables."""
    from ..jpeg.codec import read_coefficients

    co = read_coefficients(jpeg)
    x, y, w, h = box
    if x % co.mcu_width or y % co.mcu_height or w % co.mcu_width or h % co.mcu_height:
        raise ValueError(f"box {box} is not aligned to the {co.mcu_width}×{co.mcu_height} MCU grid")
    blocks = []
    for ci, c in enumerate(co.components):
        bx0, by0 = x // co.mcu_width * c.h_samp, y // co.mcu_height * c.v_samp
        bx1, by1 = (x + w) // co.mcu_width * c.h_samp, (y + h) // co.mcu_height * c.v_samp
        blocks.append(co.blocks(ci, by0, by1, bx0, bx1))
    return blocks, [co.quant_table(ci) for ci in range(len(co.components))]


# --- the whole check ----------------------------------------------------------------------

@dataclass
class CipherResults:
    """Rows of the three analyses; ``to_dict`` / ``from_dict`` for JSON."""

    config: dict
    histograms: list[dict] = field(default_factory=list)  # scheme, image, histogram, measure, protected, reencoded, shifted, unrelated
    keys: list[dict] = field(default_factory=list)        # scheme, image, + KeySensitivity fields
    jigsaw: list[dict] = field(default_factory=list)      # scheme, image, + JigsawResult fields
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "CipherResults":
        return cls(**d)


def run_cipher_checks(
    schemes: Sequence[str] | None = None,
    images: Sequence[str] | None = None,
    *,
    seed: int = 0,
    method: str = "prediction",
    random_keys: int = 3,
    log: Callable[[str], None] | None = None,
) -> CipherResults:
    """Histogram distances, key sensitivity and the jigsaw attack for every scheme and image.

    Each image is encoded as a JPEG (quality :data:`JPEG_QUALITY`, 4:2:0, or
    grey), and its region (``REGION`` pixels square) is protected through
    :func:`picveil.protect` with a fresh identity for the histograms. The key
    and jigsaw analyses call the scheme directly with keys from a generator
    seeded with ``seed`` (they need to know or change the key). The
    permutation-only baseline is scored by the jigsaw solver too.

    Parameters
    ----------
    schemes : scheme names (default: every scheme picveil ships)
    images : names from :func:`cipher_images` (default: all)
    seed : fixes every key, salt and the baseline's permutation
    method : the jigsaw solver's edge score (``mgc`` or ``prediction``)
    random_keys : independent keys for the random-guess references
    log : called with a line of progress per image, if given
    """
    import picveil
    from ..crypto import Identity, RegionKey
    from ..schemes import get_scheme, scheme_names

    t0 = time.perf_counter()
    names = list(schemes) if schemes is not None else scheme_names()
    sch = [get_scheme(s) for s in names]
    imgs = cipher_images(images)
    if not imgs:
        raise ValueError("no images to check")
    rng = np.random.default_rng(seed)
    res = CipherResults({"seed": seed, "schemes": names, "images": [n for n, _, _ in imgs], "region": REGION,
                         "jpeg_quality": JPEG_QUALITY, "method": method, "random_keys": random_keys})
    recipient = Identity.generate().recipient
    jpegs = {name: _encode(img) for name, img, _ in imgs}
    regions = {name: _region_blocks(jpegs[name], box) for name, _, box in imgs}
    for i, (name, img, box) in enumerate(imgs):
        blocks, quant = regions[name]
        luma, q = blocks[0], quant[0]
        rows, cols = luma.shape[:2]
        uname = imgs[(i + 1) % len(imgs)][0]
        unrelated = regions[uname][0][0]
        from PIL import Image

        reenc = _region_blocks(_encode(np.asarray(Image.open(io.BytesIO(jpegs[name])))), box)[0][0]
        ref_re = histogram_distances(luma, reenc, float(q[0, 0]))
        shifted = _region_blocks(_encode(np.ascontiguousarray(img[SHIFT:, SHIFT:])), box)[0][0]
        ref_sh = histogram_distances(luma, shifted, float(q[0, 0]))
        ref_un = histogram_distances(luma, unrelated, float(q[0, 0]))

        # the permutation-only baseline: the blocks, shuffled, nothing else
        tiles = blocks_to_tiles(luma, q).reshape(-1, 8, 8)
        perm = rng.permutation(rows * cols)
        truth = np.stack(np.divmod(perm, cols), 1)
        jr = jigsaw_attack(tiles[perm], truth, rows, cols, method=method)
        res.jigsaw.append({"scheme": PERMUTATION_ONLY, "image": name, **asdict(jr)})
        for s in sch:
            prot = picveil.protect(jpegs[name], [box], recipients=[recipient], scheme=s.name)
            pblocks, _ = _region_blocks(prot, box)
            d = histogram_distances(luma, pblocks[0], float(q[0, 0]))
            for h in HISTOGRAMS:
                for m in MEASURES:
                    res.histograms.append({"scheme": s.name, "image": name, "histogram": h, "measure": m,
                                           "protected": d[h][m], "reencoded": ref_re[h][m], "shifted": ref_sh[h][m],
                                           "unrelated": ref_un[h][m]})
            for level in ("region", "file"):
                key = rng.bytes(32)
                ks = key_sensitivity(blocks, quant, s, key, level=level, bit=int(rng.integers(256)),
                                     salt=rng.bytes(16), random_keys=[rng.bytes(32) for _ in range(random_keys)])
                res.keys.append({"scheme": s.name, "image": name, **asdict(ks)})
            k = RegionKey(rng.bytes(32))
            try:
                src = tracer_permutation(s, k, [b.shape[:2] for b in blocks], quant)[0]
            except ValueError:  # a gain-mixing scheme: every shown block mixes all of the region's
                if s.name not in res.config.setdefault("no_jigsaw", []):
                    res.config["no_jigsaw"].append(s.name)
                continue
            ptiles = blocks_to_tiles(s.protect(blocks, k, quant).blocks[0], q).reshape(-1, 8, 8)
            truth = np.stack(np.divmod(src, cols), 1)
            jr = jigsaw_attack(ptiles, truth, rows, cols, method=method)
            res.jigsaw.append({"scheme": s.name, "image": name, **asdict(jr)})
        if log is not None:
            log(f"cipher checks: {name} done ({time.perf_counter() - t0:.0f} s)")
    res.seconds = time.perf_counter() - t0
    return res


# --- report -------------------------------------------------------------------------------

def _mean(rows: list[dict], key: str) -> float:
    vals = [r[key] for r in rows]
    return float(np.mean(vals)) if vals else math.nan


def _db(x: float) -> str:
    return "∞" if x == math.inf else ("–" if x != x else f"{x:.1f}")


def _order(results: CipherResults, rows: list[dict]) -> list[str]:
    seen = []
    for r in rows:
        if r["scheme"] not in seen:
            seen.append(r["scheme"])
    return seen


def markdown_section(results: CipherResults, *, level: int = 2) -> str:
    """The three analyses as a Markdown section ("Cipher statistics"), means over the images."""
    hd = "#" * level
    cfg = results.config
    imgs = ", ".join(cfg.get("images", []))
    lines = [
        f"{hd} Cipher statistics", "",
        f"Seeds 002 and 003's analyses on {len(cfg.get('images', []))} luma regions of "
        f"{cfg.get('region')}×{cfg.get('region')} pixels ({imgs}), JPEG quality {cfg.get('jpeg_quality')}; "
        f"means over the regions; {results.seconds:.0f} s. Rerun alone with `python -m picveil.audit.cipher`.", "",
        f"{hd}# Histogram distances, original vs protected region", "",
        "χ² = ½Σ(p−q)²/(p+q) in [0, 1] and Bhattacharyya distance −ln Σ√(pq); 0 = the histogram is leaked "
        "exactly. References: the same region re-encoded once more at the same quality (JPEG at the same "
        f"quality is nearly idempotent: the noise floor), the same scene moved by {SHIFT} pixels against the "
        "8×8 grid before encoding (same content, different blocks), and the region of the next, unrelated "
        "image (a real change of content). "
        + "; ".join(f"{k}: {v[0]}" for k, v in HISTOGRAMS.items()) + ".", "",
        "| scheme | histogram | χ² protected | χ² re-encoded | χ² shifted | χ² unrelated | Bhatt. protected | Bhatt. shifted | Bhatt. unrelated |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in _order(results, results.histograms):
        for h in HISTOGRAMS:
            c = [r for r in results.histograms if r["scheme"] == s and r["histogram"] == h and r["measure"] == "chi2"]
            b = [r for r in results.histograms if r["scheme"] == s and r["histogram"] == h and r["measure"] == "bhattacharyya"]
            label = h.replace("|", "\\|")  # a literal bar inside a Markdown table cell
            lines.append(f"| {s} | {label} | {_mean(c, 'protected'):.3f} | {_mean(c, 'reencoded'):.3f} | "
                         f"{_mean(c, 'shifted'):.3f} | {_mean(c, 'unrelated'):.3f} | {_mean(b, 'protected'):.3f} | "
                         f"{_mean(b, 'shifted'):.3f} | {_mean(b, 'unrelated'):.3f} |")
    lines += [
        "",
        f"{hd}# Key sensitivity: one bit of the key changed", "",
        "Luma PSNR (dB) of the region revealed with a key that differs in one random bit from the right one, "
        "for the region key the scheme uses and for the group (file) key it is derived from; next to it the "
        f"mean over {cfg.get('random_keys')} independent random keys (a random guess), the right key, and the "
        "protected region as it is. Changed: share of the region's coefficients (all components) that differ "
        "between the protections under the two keys, and under two independent keys. Wrong-key reveals get the "
        "scheme's true aux bytes, which only helps them: picveil seals the aux bytes under the region key, so "
        "a wrong key opens nothing. (scramble-v2's aux bytes are the original block means in raster order, so "
        "with them any key shows the low-resolution picture; that, not the key, is its higher wrong-key PSNR.) "
        "The gain-mixing schemes (scramble-v5, -v6, -v7) are revealed by their float inverse with the gains the "
        "right key opens (again more than a wrong key gets), so their right-key PSNR is that of the float "
        "inverse, not the exact reveal from the container.", "",
        "| scheme | key | PSNR right key | PSNR 1-bit change | PSNR random key | PSNR protected | changed, 1 bit | changed, random key |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for s in _order(results, results.keys):
        for lv in ("region", "file"):
            rs = [r for r in results.keys if r["scheme"] == s and r["level"] == lv]
            if not rs:
                continue
            right = min(r["psnr_correct"] for r in rs)
            lines.append(f"| {s} | {lv} | {_db(right)} | {_db(_mean(rs, 'psnr_flipped'))} | "
                         f"{_db(_mean(rs, 'psnr_random'))} | {_db(_mean(rs, 'psnr_protected'))} | "
                         f"{100 * _mean(rs, 'changed_flipped'):.1f}% | {100 * _mean(rs, 'changed_random'):.1f}% |")
    lines += [
        "",
        f"{hd}# Jigsaw attack on the protected blocks", "",
        f"A greedy jigsaw solver ({'Mahalanobis gradient compatibility' if cfg.get('method') == 'mgc' else 'prediction-based'} "
        "edge scores normalised by the second-best match, best-buddy seed, placement into the known region size) "
        "works on the protected region's luma blocks decoded to pixels. Solver: share of true neighbour pairs in "
        "its assembly (neighbour comparison); best match: share of true neighbours that are their partner's "
        "best-scoring edge. The permutation-only baseline (blocks shuffled, nothing else) shows what the solver "
        "can do; random is the expectation for a random placement / random scores.", "",
        "| scheme | solver | random placement | best match | random best match | per image (solver) |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for s in _order(results, results.jigsaw):
        rs = [r for r in results.jigsaw if r["scheme"] == s]
        per = ", ".join(f"{r['image']} {100 * r['solver_share']:.1f}" for r in rs)
        lines.append(f"| {s} | {100 * _mean(rs, 'solver_share'):.1f}% | {100 * _mean(rs, 'random_share'):.2f}% | "
                     f"{100 * _mean(rs, 'best_match_share'):.1f}% | {100 * _mean(rs, 'best_match_random'):.2f}% | {per} |")
    if cfg.get("no_jigsaw"):
        lines += ["", f"Not applicable to {', '.join(cfg['no_jigsaw'])}: every block they show is a keyed mix of all of "
                  "the region's blocks (per frequency), so there are no region blocks to put back together."]
    lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m picveil.audit.cipher [--schemes a,b] [--images x,y] [--seed N] [--method mgc|prediction]``."""
    import argparse
    import sys

    p = argparse.ArgumentParser(prog="python -m picveil.audit.cipher",
                                description="Print histogram, key-sensitivity and jigsaw statistics of picveil's schemes.")
    p.add_argument("--schemes", help="comma-separated scheme names (default: all)")
    p.add_argument("--images", help="comma-separated image names (default: all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--method", default="prediction", choices=("mgc", "prediction"))
    args = p.parse_args(argv)

    def split(s):
        return [t.strip() for t in s.split(",") if t.strip()] if s else None

    try:
        res = run_cipher_checks(split(args.schemes), split(args.images), seed=args.seed, method=args.method,
                                log=lambda m: print(m, file=sys.stderr))
    except ValueError as e:
        print(f"picveil audit: error: {e}", file=sys.stderr)
        return 3
    print(markdown_section(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
