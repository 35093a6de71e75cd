"""searchable-v2 (SPEC §10.2): the vector, a literal reading of the SPEC, exact round trips,
tile-bounded movement, keyless tile features, and the whole-image default."""

import json
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import picveil
from picveil.crypto import RegionKey
from picveil.jpeg.codec import read_coefficients
from picveil.schemes import DEFAULT_WHOLE_SCHEME, get_scheme, leak_summary
from picveil.schemes.searchable_v2 import TILES, tile_index
from picveil.search import features

from .conftest import encode_jpeg, sample_bytes
from .test_searchable import random_blocks, reference_substitute

SCHEME = get_scheme("searchable-v2")
VECTOR = Path(__file__).parent / "vectors" / "searchable_v2.json"


def reference_protect(blocks, key):
    """SPEC §10.2 written out block by block (slow, literal): searchable-v1's steps 1-2 with
    v2's labels (the shared literal reading in test_searchable.py), then the tile permutation."""
    out = []
    for ci, comp in enumerate(blocks):
        rows, cols = comp.shape[:2]
        sub, words = reference_substitute(comp, key, ci, prefix=b"picveil searchable-v2")
        tile = [(r * 8 // rows) * 8 + (k * 8 // cols) for r in range(rows) for k in range(cols)]
        res = np.zeros_like(sub)
        for t in sorted(set(tile)):
            m = [b for b in range(rows * cols) if tile[b] == t]
            sigma = sorted(range(len(m)), key=lambda j: (words[m[j]], j))
            for j in range(len(m)):
                res[m[j]] = sub[m[sigma[j]]]
        out.append(res.reshape(comp.shape).astype(np.int16))
    return out


def test_registered_with_its_own_id():
    assert SCHEME.scheme_id == 17 and get_scheme(17) is SCHEME
    assert DEFAULT_WHOLE_SCHEME == "searchable-v2"
    assert "8x8 grid of tiles" in leak_summary("searchable-v2")
    assert leak_summary("scramble-v3") is None


def test_vector():
    v = json.loads(VECTOR.read_text())
    key = RegionKey(bytes.fromhex(v["region_key"]))
    blocks = [np.array(c["input"], dtype=np.int16).reshape(c["rows"], c["cols"], 8, 8) for c in v["components"]]
    want = [np.array(c["output"], dtype=np.int16).reshape(c["rows"], c["cols"], 8, 8) for c in v["components"]]
    got = SCHEME.protect(blocks, key).blocks
    assert all(np.array_equal(g, w) for g, w in zip(got, want))
    assert all(np.array_equal(r, b) for r, b in zip(SCHEME.reveal(want, key), blocks))


def test_matches_the_written_algorithm():
    rng = np.random.default_rng(11)
    b = random_blocks(rng, [(9, 17), (5, 9), (3, 2)])
    b[0][1, 2, 0, 0] = -1024
    key = RegionKey(bytes(range(32, 64)))
    got = SCHEME.protect(b, key).blocks
    want = reference_protect(b, key)
    assert all(np.array_equal(x, y) for x, y in zip(got, want))


@settings(max_examples=60, deadline=None)
@given(
    st.binary(min_size=32, max_size=32),
    st.lists(st.tuples(st.integers(1, 20), st.integers(1, 20)), min_size=1, max_size=3),
    st.integers(0, 2**32 - 1),
)
def test_reveal_inverts_protect(key, shapes, seed):
    k = RegionKey(key)
    b = random_blocks(np.random.default_rng(seed), shapes)
    b[0][0, 0, 0, 0] = -1024
    copy = [x.copy() for x in b]
    p = SCHEME.protect(b, k).blocks
    assert all(np.array_equal(x, y) for x, y in zip(b, copy))  # input untouched
    for x, y in zip(b, p):
        assert y.shape == x.shape and y.dtype == np.int16
        assert y[..., 0, 0].min() >= -1024 and y[..., 0, 0].max() <= 1023
    assert all(np.array_equal(x, y) for x, y in zip(b, SCHEME.reveal(p, k)))


def test_tiles_cover_an_8x8_grid():
    t = tile_index(37, 50).reshape(37, 50)
    assert t.min() == 0 and t.max() == TILES * TILES - 1
    assert len(np.unique(t)) == 64
    assert np.all(np.diff(t // TILES, axis=0) >= 0) and np.all(np.diff(t % TILES, axis=1) >= 0)  # contiguous bands
    small = tile_index(3, 5).reshape(3, 5)  # below 8 a side: single rows/columns are tiles
    assert len(np.unique(small)) == 15


def test_blocks_move_only_inside_their_tile_but_do_move():
    rows, cols = 32, 40
    dc = (np.arange(rows * cols, dtype=np.int16) - 600).reshape(rows, cols)  # every block names itself
    b = np.zeros((rows, cols, 8, 8), dtype=np.int16)
    b[..., 0, 0] = dc
    p = SCHEME.protect([b], RegionKey(bytes(range(32)))).blocks[0]
    origin = np.abs(p[..., 0, 0].astype(np.int64)).ravel()
    src = np.array([np.flatnonzero(np.abs(dc.ravel().astype(np.int64)) == o)[0] for o in origin])
    tile = tile_index(rows, cols)
    # |DC| values repeat (±), so compare the tiles of the blocks they can have come from
    candidates = [np.flatnonzero(np.abs(dc.ravel()) == o) for o in origin]
    assert all(tile[i] in tile[c] for i, c in enumerate(candidates))
    assert (src != np.arange(rows * cols)).mean() > 0.5


def test_tile_tokens_are_keyless_and_invariant(identities):
    src = sample_bytes()
    c = read_coefficients(src)
    prot = picveil.protect(src, [(0, 0, c.width, c.height)], whole=False, scheme="searchable-v2",
                           recipients=[identities[0].recipient])
    a, b = features.tile_tokens(src), features.tile_tokens(prot)
    assert a.dtype == np.uint8 and a.shape == (TILES * TILES * features.TILE_ROWS_TOTAL, 64)
    assert np.array_equal(a, b)
    # but searchable-v1's whole-image bag is not what v2 keeps per tile: the tokens differ between tiles
    per_tile = a.reshape(TILES * TILES, -1)
    assert len({bytes(r) for r in per_tile}) > 32


def test_tile_tokens_of_gray_and_tiny_images(photo):
    gray = encode_jpeg(photo[:40, :24], sub="gray")  # 5x3 blocks: most tiles empty, chroma neutral
    t = features.tile_tokens(gray).reshape(TILES * TILES, features.TILE_ROWS_TOTAL, 64)
    assert np.all(t[:, features.TILE_ROWS[0]:] == 0)
    assert (t[:, 0].sum(axis=1) > 0).sum() <= 15


def test_whole_image_default_is_v2_and_reveals_exactly(identities, photo):
    src = encode_jpeg(photo[:300, :410], sub="4:2:0")
    prot = picveil.protect(src, [], whole=True, recipients=[identities[0].recipient])
    info = picveil.inspect(prot)
    assert info.scheme == "searchable-v2" and info.scheme_id == 17
    c, p = read_coefficients(src), read_coefficients(prot)
    assert any(not np.array_equal(c.array(i), p.array(i)) for i in range(3))
    back = read_coefficients(picveil.reveal(prot, identities=[identities[0]]))
    assert all(np.array_equal(c.array(i), back.array(i)) for i in range(3))
    assert picveil.inspect(picveil.protect(src, [], whole=True, scheme="searchable", recipients=[identities[0].recipient])).scheme == "searchable-v2"
