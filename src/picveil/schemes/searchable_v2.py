"""searchable-v2: searchable-v1 with the block permutation kept inside an 8×8 grid of tiles.

searchable-v1 permutes every block across the whole image under a fresh key
per file, so a server sees one bag of block profiles per image: retrieval
then reached only half of what the same network gets on plaintext (issue 8,
``benchmarks/bench_search.py``). Seed 002 keeps the layout by encrypting a
whole library under one key, which picveil never does (one known picture
would then unlock the permutation of every other). searchable-v2 keeps a
fresh key for every file and instead bounds how far a block may move: the
image is cut into a fixed grid of ``TILES × TILES`` = 8 × 8 tiles, whatever
its size, and blocks are shuffled only inside their tile. A server then sees
an 8 × 8 map of per-tile bags of block profiles, which is what lets it
compare layouts.

Algorithm
---------
Per component ``ci`` (``c = u8(ci)`` appended to every label; keys are
independent per component) with ``rows × cols`` blocks in raster order:

1. and 2. **Rotation and substitution**: exactly searchable-v1's steps 1 and
   2 (including its DC rule), with the stream labels
   ``"picveil searchable-v2 rot"``, ``"picveil searchable-v2 diag"`` and
   ``"picveil searchable-v2 sign"``.
3. **Tile-bounded permutation.** Block ``b = r · cols + k`` lies in tile
   ``t_b = ⌊r · 8 / rows⌋ · 8 + ⌊k · 8 / cols⌋`` (8 tiles per axis for any
   image of at least 8 blocks a side; a smaller image has single block rows
   or columns as tiles). Word ``w_b`` is the ``b``-th big-endian u64 of the
   stream ``"picveil searchable-v2 perm" ‖ c`` (8·n bytes). Listing a tile's
   blocks in raster order as ``m[0..k-1]``, output block ``m[j]`` is input
   block ``m[σ[j]]``, where ``σ`` is the stable ascending argsort of
   ``w_{m[0]} … w_{m[k-1]}``.

``reveal`` applies the inverses in reverse order; no ``aux`` bytes, no
quantization tables: the key alone inverts it, exactly.

What it leaks -- plainly
------------------------
Everything searchable-v1 leaks (each block's diagonal magnitude profile:
detail amount and |brightness - mid-grey|), **plus where those bags are at
1/8 of the picture's size**: an 8 × 8 map, per tile, of how detailed and how
far from mid-grey its blocks are. That is a coarse composition of the photo
(sky above, a detailed object in the middle), enough for a network to tell
classes apart much better than from one bag (measured in
``benchmarks/bench_search.py``: the keyless attacker's accuracy is printed
next to the retrieval scores, and ``picveil audit`` attacks it too). It
still hides every sign (polarity, edge phase), edge orientation, the
arrangement of blocks inside each tile, and which colour blocks belong
together. Choose searchable-v1 when the coarse composition must stay
hidden, at the price of weaker search; neither is a private mode.
"""

from __future__ import annotations

import numpy as np

from .base import KeyStream
from .searchable_v1 import SearchableV1, block_transforms

_ROT = b"picveil searchable-v2 rot"
_DIAG = b"picveil searchable-v2 diag"
_SIGN = b"picveil searchable-v2 sign"
_PERM = b"picveil searchable-v2 perm"

#: Tiles per axis: blocks move only inside their tile.
TILES = 8

#: One paragraph for `picveil inspect` and the docs: what anyone can read without a key.
LEAK_SUMMARY = (
    "searchable-v2 (whole image): without any key, anyone can read each 8x8 block's detail "
    "profile (how much fine or coarse detail, how far from mid-grey) and, on an 8x8 grid of tiles, "
    "where those profiles are: a coarse composition of the photo at 1/8 of its size. That is what "
    "makes search work, and it tells which protected photos look alike. Hidden: the picture inside "
    "each tile, all signs, edge orientation, and which colour blocks belong together."
)


def tile_index(rows: int, cols: int, tiles: int = TILES) -> np.ndarray:
    """Tile of every block of a ``rows × cols`` grid, raster order.

    Returns ``int64`` ``(rows · cols,)`` with values in ``0 .. tiles² - 1``:
    ``⌊r · tiles / rows⌋ · tiles + ⌊k · tiles / cols⌋`` for block ``(r, k)``.
    Needs no key (search features use it too).
    """
    r = (np.arange(rows, dtype=np.int64) * tiles) // max(rows, 1)
    k = (np.arange(cols, dtype=np.int64) * tiles) // max(cols, 1)
    return (r[:, None] * tiles + k[None, :]).reshape(-1)


def tile_permutation(key: KeyStream, label: bytes, rows: int, cols: int) -> np.ndarray:
    """Step 3 as a gather: output block ``i`` is input block ``perm[i]`` (int64 ``(n,)``)."""
    n = rows * cols
    words = np.frombuffer(key.stream(label, 8 * n), dtype=">u8").astype(np.uint64)
    tile = tile_index(rows, cols)
    dst = np.argsort(tile, kind="stable")  # each tile's blocks, tile by tile, raster order within
    src = np.lexsort((words, tile))  # the same tiles in the same order, by word within
    perm = np.empty(n, dtype=np.int64)
    perm[dst] = src
    return perm


class SearchableV2(SearchableV1):
    """searchable-v1's protect and reveal with the labels and tile-bounded permutation above."""

    scheme_id = 17
    name = "searchable-v2"

    def _keys(self, key: KeyStream, ci: int, rows: int, cols: int):
        gather, signs = block_transforms(key, ci, rows * cols, (_ROT, _DIAG, _SIGN))
        return gather, signs, tile_permutation(key, _PERM + bytes([ci]), rows, cols)
