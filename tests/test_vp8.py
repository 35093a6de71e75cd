"""picveil.jpeg.vp8: a lossy WebP decoded without VP8's deblocking filter."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from picveil.jpeg import vp8

from .conftest import sample_rgb

pytestmark = pytest.mark.skipif(not vp8.available(), reason="the webp package is not installed")


def _webp(rgb: np.ndarray, **options) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "WEBP", **options)
    return buf.getvalue()


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255.0**2 / np.mean((a.astype(float) - b.astype(float)) ** 2)))


@pytest.mark.parametrize("quality", [90, 50, 20])
def test_unfiltered_decode_is_the_reconstruction_without_the_loop_filter(quality):
    rgb = sample_rgb()
    data = _webp(rgb, quality=quality)
    shown = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    raw = vp8.decode_unfiltered(data)
    assert raw is not None and raw.shape == rgb.shape and raw.dtype == np.uint8
    # Not Pillow's picture (the filter changed it) but as faithful: a key frame is
    # predicted from the unfiltered reconstruction, so nothing drifts.
    assert (raw != shown).mean() > 0.01
    assert abs(_psnr(raw, rgb) - _psnr(shown, rgb)) < 1.0
    # Block edges are where the filter worked: the unfiltered picture steps more
    # across 4-pixel sub-block seams than the filtered one.
    def seam_step(img: np.ndarray) -> float:
        g = img[..., 1].astype(float)
        return float(np.abs(g[:, 4::4] - g[:, 3:-1:4]).mean())

    assert seam_step(raw) > seam_step(shown)


def test_other_webps_are_left_to_pillow():
    rgb = sample_rgb()
    assert vp8.decode_unfiltered(_webp(rgb, lossless=True)) is None
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 200, np.uint8)])
    assert vp8.decode_unfiltered(_webp(rgba, quality=80)) is None  # alpha
    frames = [Image.fromarray(rgb), Image.fromarray(np.ascontiguousarray(rgb[::-1]))]
    buf = io.BytesIO()
    frames[0].save(buf, "WEBP", save_all=True, append_images=frames[1:], quality=80)
    assert vp8.decode_unfiltered(buf.getvalue()) is None  # an animation
    assert vp8.decode_unfiltered(b"RIFF\x00\x00\x00\x00WEBPVP8 garbage") is None


def test_is_lossy_reads_the_riff_chunks():
    rgb = sample_rgb()
    assert vp8.is_lossy(_webp(rgb, quality=80))
    assert not vp8.is_lossy(_webp(rgb, lossless=True))
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 200, np.uint8)])
    assert vp8.is_lossy(_webp(rgba, quality=80))  # VP8X, ALPH, then VP8
    assert not vp8.is_lossy(b"RIFF\x04\x00\x00\x00WEBP")


def test_is_lossless_reads_the_riff_chunks():
    rgb = sample_rgb()
    assert vp8.is_lossless(_webp(rgb, lossless=True))
    assert not vp8.is_lossless(_webp(rgb, quality=80))
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 200, np.uint8)])
    assert vp8.is_lossless(_webp(rgba, lossless=True))  # VP8X, then VP8L
    frames = [Image.fromarray(rgb), Image.fromarray(np.ascontiguousarray(rgb[::-1]))]
    buf = io.BytesIO()
    frames[0].save(buf, "WEBP", save_all=True, append_images=frames[1:], lossless=True)
    assert not vp8.is_lossless(buf.getvalue())  # an animation: its frames are in ANMF chunks
    assert not vp8.is_lossless(b"RIFF\x04\x00\x00\x00WEBP")


@pytest.mark.parametrize("index", [vp8.chroma_quantizer_index, vp8.luma_quantizer_index])
def test_quantizer_indices_follow_the_quality(index):
    """The header's chroma and luma quantizer indices grow as the quality
    drops; 0 at quality 100; None for lossless or damaged files."""
    rgb = sample_rgb()
    indices = [index(_webp(rgb, quality=q)) for q in (100, 95, 75, 50, 10)]
    assert indices[0] == 0.0
    assert all(a < b for a, b in zip(indices, indices[1:])), indices
    assert all(0 <= i <= 127 for i in indices)
    assert index(_webp(rgb, lossless=True)) is None
    data = _webp(rgb, quality=75)
    assert index(data[:40]) is None  # the header is cut
    broken = bytearray(data)
    broken[_frame_offset(data) + 3] ^= 0xFF  # the key frame's start code
    assert index(bytes(broken)) is None


def test_chroma_quantizer_index_without_segments():
    """libwebp's cwebp with one segment: the frame's own index, no segment table."""
    import shutil
    import subprocess

    if shutil.which("cwebp") is None:
        pytest.skip("cwebp (Debian's webp package) is not installed")
    rgb = sample_rgb()
    png = io.BytesIO()
    Image.fromarray(rgb).save(png, "PNG")
    one = subprocess.run(["cwebp", "-quiet", "-q", "75", "-segments", "1", "-o", "-", "--", "-"],
                         input=png.getvalue(), capture_output=True, check=True).stdout
    four = _webp(rgb, quality=75)
    i1, i4 = vp8.chroma_quantizer_index(one), vp8.chroma_quantizer_index(four)
    assert i1 is not None and i4 is not None and 10 < i1 < 40 and 10 < i4 < 40


def _frame_offset(data: bytes) -> int:
    pos = 12
    while data[pos : pos + 4] != b"VP8 ":
        pos += 8 + int.from_bytes(data[pos + 4 : pos + 8], "little")
    return pos + 8
