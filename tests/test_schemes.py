"""scramble-v1: invertibility, key dependence, robustness of its operations."""

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from picveil.crypto import RegionKey
from picveil.errors import UnsupportedVersionError
from picveil.schemes import get_scheme
from picveil.schemes.scramble_v1 import keyed_permutation, keyed_signs

VECTORS = Path(__file__).parent / "vectors" / "scramble_v1.json"


def blocks_for(rng, shapes):
    return [rng.integers(-300, 300, size=(h, w, 8, 8), dtype=np.int16) for h, w in shapes]


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=32, max_size=32), st.lists(st.tuples(st.integers(1, 9), st.integers(1, 9)), min_size=1, max_size=3), st.integers(0, 2**32 - 1))
def test_reveal_inverts_protect(key, shapes, seed):
    s = get_scheme("scramble-v1")
    k = RegionKey(key)
    b = blocks_for(np.random.default_rng(seed), shapes)
    copy = [x.copy() for x in b]
    p = s.protect(b, k).blocks
    assert all(np.array_equal(x, y) for x, y in zip(b, copy))  # input untouched
    r = s.reveal(p, k)
    assert all(np.array_equal(x, y) for x, y in zip(b, r))


def test_wrong_key_gives_garbage():
    s = get_scheme(1)
    b = blocks_for(np.random.default_rng(0), [(12, 12)])
    p = s.protect(b, RegionKey(bytes(32))).blocks
    wrong = bytearray(32)
    wrong[31] = 1  # one-bit key change
    r = s.reveal(p, RegionKey(bytes(wrong)))[0]
    assert np.mean(r == b[0]) < 0.6  # most coefficients wrong (zeros match by chance)


def test_permutation_is_uniform_enough():
    n = 6
    counts = np.zeros((n, n))
    for i in range(600):
        perm = keyed_permutation(RegionKey(i.to_bytes(32, "big")), b"t", n)
        assert sorted(perm) == list(range(n))
        counts[np.arange(n), perm] += 1
    # every position receives every index about 100 times (chi-square-ish bound)
    assert counts.min() > 60 and counts.max() < 140


def test_signs_balanced():
    s = keyed_signs(RegionKey(bytes(32)), b"s", 1000)
    assert s.shape == (1000, 8, 8) and set(np.unique(s)) == {-1, 1}
    assert 0.48 < (s < 0).mean() < 0.52


def test_commutes_with_requantisation():
    """Permutation and sign flips commute with rounding to a coarser table (same grid)."""
    s = get_scheme(1)
    k = RegionKey(b"k" * 32)
    rng = np.random.default_rng(3)
    raw = rng.normal(0, 80, size=(6, 7, 8, 8))
    q = rng.integers(1, 30, size=(8, 8))
    def quant(x):
        return np.round(x / q).astype(np.int16)
    # scramble the fine coefficients, then requantise == requantise then scramble
    a = s.protect([np.round(raw).astype(np.int16)], k).blocks[0]
    assert np.array_equal(quant(a.astype(float)), s.protect([quant(np.round(raw))], k).blocks[0])


def test_unknown_scheme():
    with pytest.raises(UnsupportedVersionError):
        get_scheme(999)
    with pytest.raises(ValueError):
        get_scheme("nope")


def test_committed_vector():
    """Key-stream and scramble vector (generated once by tests/vectors/make_scramble_vector.py)."""
    v = json.loads(VECTORS.read_text())
    k = RegionKey(bytes.fromhex(v["region_key"]))
    assert k.stream(v["label"].encode(), 32).hex() == v["stream32"]
    assert keyed_permutation(k, b"picveil scramble-v1 perm\x00", v["n"]).tolist() == v["perm"]
    blocks = [np.array(v["input"], dtype=np.int16).reshape(v["rows"], v["cols"], 8, 8)]
    out = get_scheme(1).protect(blocks, k).blocks[0]
    assert out.ravel().tolist() == v["output"]


def test_key_stream_matches_openssl():
    """Outside reference: OpenSSL's HKDF and AES-256-CTR give the same stream."""
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    v = json.loads(VECTORS.read_text())
    kdf = subprocess.run(
        ["openssl", "kdf", "-keylen", "32", "-kdfopt", "digest:SHA256", "-kdfopt", f"hexkey:{v['region_key']}",
         "-kdfopt", f"info:{v['label']}", "HKDF"], capture_output=True, text=True)
    if kdf.returncode != 0:
        pytest.skip("this openssl has no kdf command")
    sub = kdf.stdout.strip().replace(":", "")
    enc = subprocess.run(["openssl", "enc", "-aes-256-ctr", "-K", sub, "-iv", "0" * 32], input=bytes(32), capture_output=True)
    assert enc.stdout.hex() == v["stream32"]


@pytest.mark.parametrize("name", ["scramble-v1", "scramble-v3", "scramble-v4"])
def test_black_quality_100_blocks(name):
    """A DC of −1024 (a black block at DC step 1) has no negation in JPEG's
    range: scramble-v1/v3, which negate DC, raise it to −1023 first (container
    SPEC §9, DC floor) and the output stays legal; everything else is exact.
    scramble-v4 scales means to ±717 before negating: exact throughout."""
    import io

    from PIL import Image

    import picveil
    from picveil import Identity

    px = np.zeros((64, 96, 3), np.uint8)
    px[:, 48:] = 255
    px[16:40, 8:80] = (10, 200, 30)
    buf = io.BytesIO()
    Image.fromarray(px).save(buf, "JPEG", quality=100)
    src = buf.getvalue()
    me = Identity.generate()
    out = picveil.protect(src, [(0, 0, 96, 64)], recipients=[me.recipient], scheme=name, look="scramble")
    back = picveil.reveal(out, identities=[me])
    from picveil.jpeg.codec import read_coefficients

    a, b = read_coefficients(src).array(0), read_coefficients(back).array(0)
    assert (a[..., 0, 0] == -1024).any()  # the case this is about
    floor = np.where(a[..., 0, 0] == -1024, -1023 if name != "scramble-v4" else -1024, a[..., 0, 0])
    assert np.array_equal(b[..., 0, 0], floor)
    a[..., 0, 0] = 0
    b[..., 0, 0] = 0
    assert np.array_equal(a, b)
    with Image.open(io.BytesIO(back)) as im1, Image.open(io.BytesIO(src)) as im2:
        assert np.abs(np.asarray(im1, np.int16) - np.asarray(im2, np.int16)).max() <= 1
