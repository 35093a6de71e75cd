"""searchable-v1: exact round trip, the JPEG range, what it keeps and what it moves."""

import hashlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import picveil
from picveil.crypto import RegionKey
from picveil.jpeg.codec import read_coefficients
from picveil.schemes import get_scheme
from picveil.schemes.searchable_v1 import DIAG_ORDER, DIAG_SLICES, DIAGONAL, FLIP_SIGNS
from picveil.search.features import diagonal_profiles

from .conftest import encode_jpeg, sample_bytes

SCHEME = get_scheme("searchable-v1")


def random_blocks(rng, shapes, lo=-1023, hi=1023):
    out = []
    for h, w in shapes:
        b = rng.integers(lo, hi + 1, size=(h, w, 8, 8)).astype(np.int16)
        b[..., 0, 0] = rng.integers(-1024, 1024, size=(h, w))
        out.append(b)
    return out


def test_registered():
    from picveil.schemes import scheme_names

    assert SCHEME.scheme_id == 16 and get_scheme(16) is SCHEME
    assert "searchable-v1" in scheme_names()


def reference_substitute(comp, key, ci, prefix=b"picveil searchable-v1"):
    """Steps 1 and 2 of the module docstring for one component, block by block (slow, literal).
    Returns ``(n, 64)`` int64 and the perm stream's words (step 3 is the caller's)."""
    c = bytes([ci])
    n = comp.shape[0] * comp.shape[1]
    flat = comp.reshape(n, 64).astype(np.int64)
    rot = key.stream(prefix + b" rot" + c, n)
    diag = key.stream(prefix + b" diag" + c, 256 * n)
    sign = key.stream(prefix + b" sign" + c, 8 * n)
    perm_words = key.stream(prefix + b" perm" + c, 8 * n)
    order = [8 * v + (k - v) for k in range(15) for v in range(max(0, k - 7), min(k, 7) + 1)]
    sub = np.zeros_like(flat)
    for b in range(n):
        h, w = rot[b] & 1, (rot[b] >> 1) & 1
        x = flat[b].copy()
        for j in range(64):
            if (h * (j % 8) + w * (j // 8)) % 2:
                x[j] = -x[j]
        words = [int.from_bytes(diag[256 * b + 4 * i: 256 * b + 4 * i + 4], "big") for i in range(64)]
        y = np.zeros(64, dtype=np.int64)
        start = 0
        for k in range(15):
            length = min(k, 7) - max(0, k - 7) + 1
            pi = sorted(range(length), key=lambda i: (words[start + i], i))
            for i in range(length):
                y[order[start + i]] = x[order[start + pi[i]]]
            start += length
        for j in range(64):
            bit = (sign[8 * b + j // 8] >> (7 - j % 8)) & 1
            if bit and not (j == 0 and y[0] == -1024):
                y[j] = -y[j]
        sub[b] = y
    return sub, [int.from_bytes(perm_words[8 * i: 8 * i + 8], "big") for i in range(n)]


def reference_protect(blocks, key):
    """The module docstring's algorithm, written out block by block (slow, literal)."""
    out = []
    for ci, comp in enumerate(blocks):
        sub, words = reference_substitute(comp, key, ci)
        perm = sorted(range(len(words)), key=lambda i: (words[i], i))
        out.append(sub[perm].reshape(comp.shape).astype(np.int16))
    return out


def test_matches_the_written_algorithm():
    rng = np.random.default_rng(7)
    b = random_blocks(rng, [(3, 4), (2, 3)])
    b[0][1, 2, 0, 0] = -1024
    key = RegionKey(bytes(range(32, 64)))
    got = SCHEME.protect(b, key).blocks
    want = reference_protect(b, key)
    assert all(np.array_equal(x, y) for x, y in zip(got, want))


@settings(max_examples=60, deadline=None)
@given(
    st.binary(min_size=32, max_size=32),
    st.lists(st.tuples(st.integers(1, 7), st.integers(1, 7)), min_size=1, max_size=3),
    st.integers(0, 2**32 - 1),
)
def test_reveal_inverts_protect(key, shapes, seed):
    k = RegionKey(key)
    b = random_blocks(np.random.default_rng(seed), shapes)
    b[0][0, 0, 0, 0] = -1024  # the DC whose negation would leave the JPEG range
    copy = [x.copy() for x in b]
    p = SCHEME.protect(b, k).blocks
    assert all(np.array_equal(x, y) for x, y in zip(b, copy))  # input untouched
    for x, y in zip(b, p):
        assert y.shape == x.shape and y.dtype == np.int16
        assert y[..., 0, 0].min() >= -1024 and y[..., 0, 0].max() <= 1023
        ac = y.reshape(-1, 64)[:, 1:]
        assert ac.min() >= -1023 and ac.max() <= 1023
    r = SCHEME.reveal(p, k)
    assert all(np.array_equal(x, y) for x, y in zip(b, r))


def test_empty_component():
    k = RegionKey(bytes(32))
    b = [np.zeros((0, 3, 8, 8), dtype=np.int16)]
    p = SCHEME.protect(b, k).blocks
    assert p[0].shape == (0, 3, 8, 8)
    assert SCHEME.reveal(p, k)[0].shape == (0, 3, 8, 8)


def test_keeps_diagonal_profiles_and_nothing_finer():
    rng = np.random.default_rng(1)
    b = random_blocks(rng, [(6, 6)], -40, 40)
    p = SCHEME.protect(b, RegionKey(bytes(range(32)))).blocks[0].reshape(-1, 64)
    flat = b[0].reshape(-1, 64)
    # The multiset of per-diagonal sorted magnitudes is kept exactly ...
    key = lambda a: sorted(map(bytes, diagonal_profiles(a)))
    assert key(flat.reshape(-1, 8, 8)) == key(p.reshape(-1, 8, 8))
    # ... and every value stays on its anti-diagonal (so the JPEG range holds).
    prof_p = diagonal_profiles(p.reshape(-1, 8, 8))
    assert prof_p.shape == (36, 64)
    # ... but positions, signs and places on a diagonal change.
    assert not np.array_equal(np.sort(flat, axis=0), np.sort(p, axis=0))
    assert (np.sign(flat) != np.sign(p)).mean() > 0.3


def test_substitution_moves_values_along_diagonals():
    # One block whose values name their own position: after protection each
    # magnitude must sit on the diagonal it came from.
    v = np.arange(64, dtype=np.int16).reshape(1, 1, 8, 8) + 100
    p = SCHEME.protect([v], RegionKey(bytes(32))).blocks[0].reshape(64)
    origin = np.abs(p) - 100
    assert sorted(origin) == list(range(64))
    assert np.array_equal(DIAGONAL[origin], DIAGONAL)
    assert not np.array_equal(origin, np.arange(64))  # some value moved


def test_flip_patterns_are_the_four_mirrors():
    u, w = np.arange(64) % 8, np.arange(64) // 8
    assert np.array_equal(FLIP_SIGNS[0], np.ones(64))
    assert np.array_equal(FLIP_SIGNS[1], (-1) ** u)  # left-right mirror: (-1)^u
    assert np.array_equal(FLIP_SIGNS[2], (-1) ** w)  # top-bottom mirror: (-1)^v
    assert np.array_equal(FLIP_SIGNS[3], (-1) ** (u + w))  # 180°
    assert [n for _, n in DIAG_SLICES] == [1, 2, 3, 4, 5, 6, 7, 8, 7, 6, 5, 4, 3, 2, 1]
    assert sorted(DIAG_ORDER) == list(range(64))


def test_components_have_independent_keys():
    block = random_blocks(np.random.default_rng(2), [(4, 4)])[0]
    p = SCHEME.protect([block, block.copy()], RegionKey(bytes(32))).blocks
    assert not np.array_equal(p[0], p[1])


def test_wrong_key_gives_garbage():
    b = random_blocks(np.random.default_rng(3), [(10, 10)], -200, 200)
    p = SCHEME.protect(b, RegionKey(bytes(32))).blocks
    wrong = bytearray(32)
    wrong[31] = 1
    r = SCHEME.reveal(p, RegionKey(bytes(wrong)))[0]
    assert np.mean(r == b[0]) < 0.2


def test_known_answer():
    """Pins the algorithm: a change to any step or stream label changes this digest."""
    rng = np.random.default_rng(20240501)
    b = random_blocks(rng, [(3, 5), (2, 2)], -60, 60)
    p = SCHEME.protect(b, RegionKey(bytes(range(32)))).blocks
    digest = hashlib.sha256(b"".join(np.ascontiguousarray(x, dtype="<i2").tobytes() for x in p)).hexdigest()
    assert digest == KNOWN_DIGEST


KNOWN_DIGEST = "b71925a3ed96afe141c80a7780eb90973ee96bb5913b7520bda92a4583d09d58"


@pytest.mark.parametrize("variant", ["bundled", "gray", "4:4:4-progressive"])
def test_protect_reveal_whole_photo_exactly(variant, identities, photo):
    if variant == "bundled":
        src = sample_bytes()
    elif variant == "gray":
        src = encode_jpeg(photo, sub="gray")
    else:
        src = encode_jpeg(photo[:437, :389], sub="4:4:4", progressive=True)
    c = read_coefficients(src)
    prot = picveil.protect(src, [(0, 0, c.width, c.height)], scheme="searchable-v1", recipients=[identities[0].recipient])
    info = picveil.inspect(prot)
    assert info.scheme == "searchable-v1" and info.scheme_id == 16
    p = read_coefficients(prot)
    assert any(not np.array_equal(c.array(i), p.array(i)) for i in range(len(c.components)))
    back = read_coefficients(picveil.reveal(prot, identities=[identities[0]]))
    assert all(np.array_equal(c.array(i), back.array(i)) for i in range(len(c.components)))
