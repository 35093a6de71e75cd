"""scramble-v4: step 0 (block means × 7/10) and its candidates, exact inverse with the aux
bits, the inverse without them (each DC within one step), the committed vector, a
reference reading of SPEC §10.3, and what it is for: fewer clipped pixels than
scramble-v3, so a reveal from displayed pixels loses less."""

import json
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

from picveil.crypto import RegionKey
from picveil.schemes import DEFAULT_SCHEME, get_scheme
from picveil.schemes.scramble_v1 import keyed_permutation
from picveil.schemes.scramble_v4 import compress_dc, dc_candidates

from .test_scramble_v3 import clipped_shares, region_cases, unit_blocks

VECTOR = Path(__file__).parent / "vectors" / "scramble_v4.json"
SCHEME = get_scheme("scramble-v4")
V3 = get_scheme("scramble-v3")


def reference_protect(blocks, key):
    """SPEC §10.3 read literally: step 0 on every DC with Python integers, then
    scramble-v3's steps 1-3 (checked against their own reference in
    test_scramble_v3) with the scramble-v4 labels."""
    from picveil.schemes.scramble_v3 import signed_permutations

    small = []
    for comp in blocks:
        c = comp.astype(np.int64).copy()
        for idx in np.ndindex(c.shape[:2]):
            d = int(c[idx][0, 0])
            c[idx][0, 0] = (7 * d + 5) // 10  # Python's // is the floor
        small.append(c)
    labels = (b"picveil scramble-v4 unit", b"picveil scramble-v4 flip", b"picveil scramble-v4 sign")
    out = []
    for comp, (src, signs) in zip(small, signed_permutations(key, [b.shape[:2] for b in blocks], labels)):
        n = comp.shape[0] * comp.shape[1]
        out.append((comp.reshape(n, 8, 8)[src] * signs).reshape(comp.shape))
    return out


def test_the_circle_fallback_scheme():
    """scramble-v8 is the default; scramble-v4 is what a circle protect falls back to
    when the default's header fits the photo nowhere (tests/test_scramble_v8.py)."""
    from picveil.schemes import CIRCLE_FALLBACK_SCHEME

    assert DEFAULT_SCHEME == "scramble-v8" and CIRCLE_FALLBACK_SCHEME == "scramble-v4" and SCHEME.scheme_id == 5


def test_dc_candidates_over_the_whole_range():
    """Every legal DC maps into ±717 and is one of the one or two candidates of its image;
    each image has exactly the originals that map to it."""
    d = np.arange(-1024, 1024)
    small = compress_dc(d)
    assert small.min() == -717 and small.max() == 716
    assert np.array_equal(small, [(7 * int(x) + 5) // 10 for x in d])
    lo, two = dc_candidates(small)
    assert np.all((d == lo) | ((d == lo + 1) & two))
    for v in np.unique(small):
        pre = d[small == v]
        lo_v, two_v = dc_candidates(np.array([v]))
        cands = range(int(lo_v[0]), int(lo_v[0]) + 1 + int(two_v[0]))
        assert pre.tolist() == [c for c in cands if -1024 <= c <= 1023]


@settings(max_examples=60, deadline=None)
@region_cases
def test_reveal_inverts_protect_and_matches_the_reference(key, R, C, factors, seed, cut):
    k = RegionKey(key)
    b = unit_blocks(np.random.default_rng(seed), R, C, factors, lo=-1024, hi=1024, cut=cut)
    copy = [x.copy() for x in b]
    p = SCHEME.protect(b, k)
    assert all(np.array_equal(x, y) for x, y in zip(b, copy))  # input untouched
    assert all(np.array_equal(x, y) for x, y in zip(p.blocks, reference_protect(b, k)))
    assert all(np.array_equal(x, y) for x, y in zip(b, SCHEME.reveal(p.blocks, k, aux=p.aux)))
    # without the aux bits: AC exact, each DC within one step of the original
    approx = SCHEME.reveal(p.blocks, k)
    for x, y in zip(b, approx):
        assert np.array_equal(x[..., 1:, :], y[..., 1:, :]) and np.array_equal(x[..., 0, 1:], y[..., 0, 1:])
        assert np.abs(x[..., 0, 0].astype(int) - y[..., 0, 0]).max() <= 1


def test_aux_is_one_bit_per_block():
    b = unit_blocks(np.random.default_rng(1), 6, 5, [(2, 2), (1, 1), (1, 1)])
    p = SCHEME.protect(b, RegionKey(b"a" * 32))
    raw = zlib.decompress(p.aux)
    assert len(raw) == sum((x.shape[0] * x.shape[1] + 7) // 8 for x in b) == 15 + 4 + 4
    assert p.robust == b""  # nothing for the robust header: the factor is the scheme's


def test_aux_that_does_not_fit_is_refused():
    b = unit_blocks(np.random.default_rng(2), 4, 4, [(2, 2), (1, 1), (1, 1)])
    k = RegionKey(b"b" * 32)
    p = SCHEME.protect(b, k)
    with pytest.raises(ValueError, match="aux"):
        SCHEME.reveal(p.blocks, k, aux=zlib.compress(zlib.decompress(p.aux) + b"\0"))
    with pytest.raises(ValueError, match="aux"):  # a bit set where the DC has one candidate
        SCHEME.reveal(p.blocks, k, aux=zlib.compress(b"\xff" * len(zlib.decompress(p.aux))))


def test_block_means_move_towards_grey_and_nothing_else_changes_size():
    b = unit_blocks(np.random.default_rng(3), 5, 5, [(2, 2), (1, 1), (1, 1)], lo=-600, hi=600)
    p = SCHEME.protect(b, RegionKey(b"c" * 32)).blocks
    for x, y in zip(b, p):
        assert sorted(np.abs(y[..., 0, 0]).ravel().tolist()) == sorted(np.abs(compress_dc(x[..., 0, 0])).ravel().tolist())
        assert sorted(np.abs(y[..., 1:, :]).ravel().tolist()) == sorted(np.abs(x[..., 1:, :]).ravel().tolist())


def test_vector():
    v = json.loads(VECTOR.read_text())
    k = RegionKey(bytes.fromhex(v["region_key"]))
    blocks = [np.array(c["input"], dtype=np.int16).reshape(c["rows"], c["cols"], 8, 8) for c in v["components"]]
    p = SCHEME.protect(blocks, k)
    assert [o.ravel().tolist() for o in p.blocks] == [c["output"] for c in v["components"]]
    assert zlib.decompress(p.aux).hex() == v["aux_bits"]
    assert keyed_permutation(k, b"picveil scramble-v4 unit", v["units"]).tolist() == v["unit_perm"]
    assert k.stream(b"picveil scramble-v4 flip", v["units"]).hex() == v["flip_bytes"]
    assert all(np.array_equal(x, y) for x, y in zip(blocks, SCHEME.reveal(p.blocks, k, aux=p.aux)))


def test_not_scramble_v3_with_other_labels_only():
    """Its own labels: the same key scrambles differently from scramble-v3."""
    b = unit_blocks(np.random.default_rng(4), 6, 6, [(2, 2), (1, 1), (1, 1)])
    k = RegionKey(b"d" * 32)
    v3 = V3.protect(b, k).blocks
    v3_small = V3.protect([np.where(np.arange(64).reshape(8, 8) == 0, compress_dc(x[..., :1, :1]), x).astype(np.int16) for x in b], k).blocks
    v4 = SCHEME.protect(b, k).blocks
    assert not np.array_equal(v4[0], v3_small[0]) and not np.array_equal(v4[0], v3[0])


@pytest.mark.parametrize("photo", ["coffee", "chelsea", "astronaut"])
def test_fewer_clipped_pixels_than_scramble_v3_and_exact_with_the_container(photo):
    """What scramble-v4 is for: the viewer clips fewer of the scrambled region's pixels
    than with scramble-v3 (means 30 % nearer grey), and the container still reveals exactly
    (both checked by clipped_shares); means over three fresh keys each."""
    share, _ = clipped_shares(photo, ("scramble-v3", "scramble-v4"), keys=3)
    assert share["scramble-v4"] < share["scramble-v3"], share
