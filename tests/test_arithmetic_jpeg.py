"""Arithmetic-coded JPEGs (valid, written by ``jpegtran -arithmetic`` or
``cjpeg -arithmetic``), which Pillow's libjpeg does not decode: every picveil
path that decodes pixels (reveal, inspect, detect, protect's own decode)
reads them through their lossless Huffman copy (``codec.huffman_copy``), so
that a user never hears that a good file is "truncated or corrupt"."""

from __future__ import annotations

import io
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from picveil import api
from picveil.crypto import Keyring
from picveil.jpeg.codec import huffman_copy, read_coefficients
from picveil.regions.detectors import load_image
from picveil.robust import extract_from_jpeg
from picveil.robust.reveal import reveal_pixels

pytestmark = pytest.mark.skipif(shutil.which("jpegtran") is None, reason="jpegtran (libjpeg-turbo-progs) not installed")

BOX = (160, 96, 192, 160)


def _arithmetic(jpeg: bytes) -> bytes:
    """The same JPEG, arithmetic-coded, every marker kept (jpegtran, lossless)."""
    out = subprocess.run(["jpegtran", "-arithmetic", "-copy", "all"], input=jpeg, capture_output=True, check=True).stdout
    assert read_coefficients(out).arithmetic
    return out


def _pixels(jpeg: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(jpeg)) as im:
        return np.asarray(im.convert("RGB"))


@pytest.fixture(scope="module")
def photo() -> bytes:
    """scikit-image's coffee (a real photo), upscaled to 800 x 600, JPEG q92 with
    an EXIF orientation tag (1: as stored) and a comment."""
    from skimage import data

    im = Image.fromarray(data.coffee()).resize((800, 600), Image.Resampling.LANCZOS)
    exif = Image.Exif()
    exif[0x0112] = 1
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=92, exif=exif.tobytes(), comment=b"a comment")
    return buf.getvalue()


@pytest.fixture(scope="module")
def keyrings(tmp_path_factory):
    d = tmp_path_factory.mktemp("arith")
    me = Keyring.open(d / "me", create=True)
    friend = Keyring.open(d / "friend", create=True)
    me.create_circle("family")
    friend.import_circle(me.share_circle("family", [friend.recipient]))
    return me, friend


def test_pillow_cannot_decode_it_and_the_copy_has_the_same_pixels_and_markers(photo):
    arith = _arithmetic(photo)
    with pytest.raises(OSError):
        _pixels(arith)  # the reason for the copy: were Pillow to learn it, the copy would only cost time
    copy = huffman_copy(arith)
    assert copy is not None and not read_coefficients(copy).arithmetic
    np.testing.assert_array_equal(_pixels(copy), _pixels(photo))
    with Image.open(io.BytesIO(copy)) as im:
        assert im.getexif()[0x0112] == 1 and im.info.get("comment") == b"a comment"
    assert huffman_copy(photo) is None  # a Huffman JPEG: nothing to do
    assert huffman_copy(b"\x89PNG\r\n\x1a\n not a jpeg") is None
    assert huffman_copy(arith[: len(arith) // 2]) is None  # truncated: the caller reports it as such


def test_detect_reads_an_arithmetic_jpeg(photo):
    rgb, orientation = load_image(_arithmetic(photo))
    np.testing.assert_array_equal(rgb, _pixels(photo))
    assert orientation == 1


def test_protect_and_reveal_an_arithmetic_jpeg(photo, keyrings):
    """A photo saved arithmetic-coded is protected (its pixels decoded for the
    header's closed loop too); the protected file, stripped and saved
    arithmetic-coded, and a re-encoded copy saved so, reveal as their
    Huffman twins do."""
    me, friend = keyrings
    prot, report, _ = api._protect(_arithmetic(photo), [BOX], circle="family", keyring=me)
    assert report.warnings == ()
    original = _pixels(photo)
    x, y, w, h = BOX
    stripped = read_coefficients(prot).encode()  # the coefficients, no container
    buf = io.BytesIO()
    Image.fromarray(_pixels(prot)).save(buf, "JPEG", quality=85)
    for received in (stripped, buf.getvalue()):
        twin, _ = reveal_pixels(received, keyring=friend)
        arith = _arithmetic(received)
        assert extract_from_jpeg(arith) == extract_from_jpeg(received)
        revealed, rep = reveal_pixels(arith, keyring=friend)
        np.testing.assert_array_equal(revealed, twin)
        err = revealed[y : y + h, x : x + w].astype(float) - original[y : y + h, x : x + w]
        assert 10 * np.log10(255.0**2 / np.mean(err**2)) > 33  # the region, not the scrambled picture (about 12 dB)
        assert rep.revealed == (0,)


def test_simulate_and_the_web_preview_read_an_arithmetic_jpeg(photo):
    """The platform simulator reads an arithmetic-coded upload as its Huffman
    twin (the same pixels: the same re-encoded bytes), and the web app's
    preview is a JPEG a browser (and Pillow) decodes."""
    from picveil.platforms.simulate import parse_chain
    from picveil.web.imaging import preview_source, probe

    arith = _arithmetic(photo)
    chain = parse_chain("strip,resize:640,jpeg:80")
    assert chain.run(arith) == chain.run(photo)
    info = probe(arith, 10**8)
    assert info.format == "jpeg"
    preview, boxes, scale = preview_source(arith, info, [])
    assert not read_coefficients(preview).arithmetic
    np.testing.assert_array_equal(_pixels(preview), _pixels(photo))
    assert scale == 1.0 and boxes == []


def test_protect_for_a_passphrase_and_fit_an_arithmetic_jpeg(photo):
    """The painted looks (a passphrase or age recipients, no robust header)
    decode the photo's pixels, and ``fit`` resizes them: both read an
    arithmetic-coded photo as its Huffman twin (they failed with Pillow's
    "broken data stream" on it), and the exact reveal gives the twin's very
    pixels back."""
    from picveil.platforms.fitting import fit

    arith = _arithmetic(photo)
    prot = api.protect(arith, [BOX], passphrase="correct horse")
    twin = api.protect(photo, [BOX], passphrase="correct horse")
    assert _pixels(prot).shape == _pixels(twin).shape
    x, y, w, h = BOX
    assert np.abs(_pixels(prot)[y : y + h, x : x + w].astype(int) - _pixels(photo)[y : y + h, x : x + w]).mean() > 10
    restored = api.reveal(prot, passphrase="correct horse", keyring=False)
    np.testing.assert_array_equal(_pixels(restored), _pixels(photo))
    fitted, plain = fit(arith, "instagram"), fit(photo, "instagram")
    assert fitted.jpeg == plain.jpeg and fitted.size == plain.size == (800, 600)
