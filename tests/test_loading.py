"""Tests for picveil.jpeg.loading: sniffing, conversion to JPEG, size limits."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import ExifTags, Image, ImageCms, JpegImagePlugin
from skimage import data as skdata

from picveil.errors import (
    CorruptImageError,
    PicveilError,
    ImageTooLargeError,
    NotAnImageError,
    UnsupportedImageError,
)
from picveil.jpeg.loading import check_jpeg_size, read_input, sniff, to_jpeg
from picveil.jpeg.markers import read_segments

# Height and width differ so that a transposition (rotation) would show.
H, W = 96, 128


@pytest.fixture(scope="module")
def rgb() -> np.ndarray:
    """Astronaut, downsized to W x H, uint8 RGB."""
    return np.asarray(Image.fromarray(skdata.astronaut()).resize((W, H), Image.LANCZOS))


def _encode(im: Image.Image, fmt: str, **options: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **options)
    return buf.getvalue()


def _decode(jpeg: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(jpeg))
    assert im.format == "JPEG"
    im.load()
    return im


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims width x height, with no pixel data at all."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", b"")
        + _png_chunk(b"IEND", b"")
    )


# --- sniff -----------------------------------------------------------------------
def test_sniff_every_format(rgb: np.ndarray) -> None:
    im = Image.fromarray(rgb)
    assert sniff(_encode(im, "JPEG")) == "jpeg"
    assert sniff(_encode(im, "PNG")) == "png"
    assert sniff(_encode(im, "BMP")) == "bmp"
    assert sniff(_encode(im, "TIFF")) == "tiff"
    assert sniff(b"MM\x00*\x00\x00\x00\x08") == "tiff"
    assert sniff(_encode(im, "WEBP")) == "webp"
    assert sniff(_encode(im, "GIF")) == "gif"
    ftyp = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"
    assert sniff(ftyp) == "heic"
    assert sniff(ftyp.replace(b"ftypheic", b"ftypmif1")) == "heic"
    assert sniff(ftyp.replace(b"ftypheic", b"ftypavif")) == "avif"


@pytest.mark.parametrize(
    "data",
    [b"", b"<!DOCTYPE html><html>", b"%PDF-1.7\n", b"\x00\x00\x00\x18ftypisom", b"RIFF\x00\x00\x00\x00WAVE"],
)
def test_sniff_rejects_non_images(data: bytes) -> None:
    with pytest.raises(NotAnImageError, match="not an image picveil can read"):
        sniff(data)


def test_sniff_message_shows_start() -> None:
    with pytest.raises(NotAnImageError, match=r"starts with 25 50 44 46"):
        sniff(b"%PDF-1.7\n")


# --- to_jpeg: modes ---------------------------------------------------------------
def test_png_rgb(rgb: np.ndarray) -> None:
    out = _decode(to_jpeg(_encode(Image.fromarray(rgb), "PNG")))
    assert out.mode == "RGB" and out.size == (W, H)
    assert _psnr(np.asarray(out), rgb) > 35
    assert JpegImagePlugin.get_sampling(out) == 0  # 4:4:4 by default


def test_png_rgba_composited_on_white(rgb: np.ndarray) -> None:
    alpha = np.full((H, W), 255, np.uint8)
    alpha[:, : W // 2] = 0  # left half fully transparent
    rgba = np.dstack([rgb, alpha])
    out = np.asarray(_decode(to_jpeg(_encode(Image.fromarray(rgba, "RGBA"), "PNG"))))
    assert out.shape == (H, W, 3)
    assert out[:, : W // 2 - 8].min() >= 250  # white, away from the edge
    assert _psnr(out[:, W // 2 + 8 :], rgb[:, W // 2 + 8 :]) > 35


def test_png_la_composited_on_white(rgb: np.ndarray) -> None:
    gray = np.asarray(Image.fromarray(rgb).convert("L"))
    alpha = np.full((H, W), 255, np.uint8)
    alpha[: H // 2] = 0
    la = Image.merge("LA", [Image.fromarray(gray), Image.fromarray(alpha)])
    out = _decode(to_jpeg(_encode(la, "PNG")))
    assert out.mode == "L"
    arr = np.asarray(out)
    assert arr[: H // 2 - 8].min() >= 250
    assert _psnr(arr[H // 2 + 8 :], gray[H // 2 + 8 :]) > 35


def test_png_palette(rgb: np.ndarray) -> None:
    pal = Image.fromarray(rgb).quantize(64)
    out = _decode(to_jpeg(_encode(pal, "PNG")))
    assert out.mode == "RGB"
    assert _psnr(np.asarray(out), np.asarray(pal.convert("RGB"))) > 35
    # With a transparent palette entry: those pixels become white.
    index = np.asarray(pal)[0, 0]
    transparent = _encode(pal, "PNG", transparency=int(index))
    arr = np.asarray(_decode(to_jpeg(transparent)))
    mask = np.asarray(pal) == index
    assert arr[mask].mean() > 240


def test_png_16bit_gray() -> None:
    ramp = np.tile(np.linspace(0, 65535, W).astype(np.uint16), (H, 1))
    im = Image.fromarray(ramp)
    assert im.mode == "I;16"
    out = _decode(to_jpeg(_encode(im, "PNG")))
    assert out.mode == "L"
    expected = (ramp.astype(np.uint32) * 255 + 32767) // 65535
    assert np.abs(np.asarray(out).astype(int) - expected.astype(int)).max() <= 3
    assert np.asarray(out)[:, -1].min() >= 250  # not clipped to the low byte


def test_png_gray_stays_gray(rgb: np.ndarray) -> None:
    gray = Image.fromarray(rgb).convert("L")
    out = _decode(to_jpeg(_encode(gray, "PNG")))
    assert out.mode == "L"
    sof = next(s for s in read_segments(to_jpeg(_encode(gray, "PNG"))) if s.name == "SOF0")
    assert sof.payload[5] == 1  # one component
    assert _psnr(np.asarray(out), np.asarray(gray)) > 35


@pytest.mark.parametrize("fmt, options", [("BMP", {}), ("TIFF", {}), ("TIFF", {"compression": "tiff_lzw"}), ("WEBP", {"lossless": True})])
def test_other_formats(rgb: np.ndarray, fmt: str, options: dict) -> None:
    out = _decode(to_jpeg(_encode(Image.fromarray(rgb), fmt, **options)))
    assert out.size == (W, H) and out.mode == "RGB"
    assert _psnr(np.asarray(out), rgb) > 35


def test_webp_with_alpha(rgb: np.ndarray) -> None:
    alpha = np.full((H, W), 255, np.uint8)
    alpha[:16] = 0
    data = _encode(Image.fromarray(np.dstack([rgb, alpha]), "RGBA"), "WEBP", lossless=True)
    arr = np.asarray(_decode(to_jpeg(data)))
    assert arr[:8].min() >= 245


def test_cmyk_tiff(rgb: np.ndarray) -> None:
    cmyk = Image.fromarray(rgb).convert("CMYK")
    out = _decode(to_jpeg(_encode(cmyk, "TIFF")))
    assert out.mode == "RGB"
    assert _psnr(np.asarray(out), np.asarray(cmyk.convert("RGB"))) > 35


@pytest.mark.parametrize("mode, values", [("I", np.int32), ("F", np.float32)])
def test_32bit_pixels_refused(mode: str, values: type) -> None:
    data = _encode(Image.fromarray(np.zeros((8, 8), values)), "TIFF")
    with pytest.raises(UnsupportedImageError, match="8- or 16-bit"):
        to_jpeg(data)


# --- to_jpeg: metadata -----------------------------------------------------------
def test_icc_profile_carried(rgb: np.ndarray) -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    out = _decode(to_jpeg(_encode(Image.fromarray(rgb), "PNG", icc_profile=srgb)))
    assert out.info["icc_profile"] == srgb
    # An RGB profile does not describe grayscale pixels: it is dropped.
    gray = Image.fromarray(rgb).convert("L")
    out = _decode(to_jpeg(_encode(gray, "PNG", icc_profile=srgb)))
    assert "icc_profile" not in out.info


def test_exif_orientation_carried_not_applied(rgb: np.ndarray) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x0110] = "Pixel 9"
    exif[ExifTags.IFD.GPSInfo] = {1: "N", 2: (52.0, 13.0, 31.5)}
    exif[ExifTags.IFD.Exif] = {0xA431: "SERIAL-123"}
    data = _encode(Image.fromarray(rgb), "PNG", exif=exif)
    jpeg = to_jpeg(data)
    out = _decode(jpeg)
    assert out.size == (W, H)  # pixels as stored, not rotated
    got = out.getexif()
    assert got[0x0112] == 6 and got[0x0110] == "Pixel 9"
    assert got.get_ifd(ExifTags.IFD.GPSInfo) == {}
    assert b"SERIAL-123" not in jpeg


def test_subsampling_and_quality(rgb: np.ndarray) -> None:
    png = _encode(Image.fromarray(rgb), "PNG")
    for name, code in (("4:4:4", 0), ("4:2:2", 1), ("4:2:0", 2)):
        assert JpegImagePlugin.get_sampling(_decode(to_jpeg(png, subsampling=name))) == code
    assert len(to_jpeg(png, quality=20)) < len(to_jpeg(png, quality=95))


@pytest.mark.parametrize("quality", [0, 101, -5, True, 95.0, "95"])
def test_bad_quality(rgb: np.ndarray, quality: object) -> None:
    with pytest.raises(ValueError, match="quality"):
        to_jpeg(_encode(Image.fromarray(rgb), "PNG"), quality=quality)  # type: ignore[arg-type]


def test_bad_subsampling(rgb: np.ndarray) -> None:
    with pytest.raises(ValueError, match="subsampling"):
        to_jpeg(_encode(Image.fromarray(rgb), "PNG"), subsampling="4:1:1")


# --- to_jpeg: refusals ---------------------------------------------------------
def test_gif_unsupported(rgb: np.ndarray) -> None:
    with pytest.raises(UnsupportedImageError, match="GIF"):
        to_jpeg(_encode(Image.fromarray(rgb), "GIF"))


def test_heic_unsupported() -> None:
    with pytest.raises(UnsupportedImageError, match="HEIC"):
        to_jpeg(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64)


def test_bomb_rejected_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import ImageFile

    def no_decoding(self: object) -> None:
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    bomb = _png_header_only(50_000, 50_000)
    assert len(bomb) < 100
    with pytest.raises(ImageTooLargeError, match="50000×50000") as info:
        to_jpeg(bomb)
    assert "200,000,000" in str(info.value)
    with pytest.raises(ImageTooLargeError):
        read_input(bomb)


def test_caller_limit_applies(rgb: np.ndarray) -> None:
    png = _encode(Image.fromarray(rgb), "PNG")
    with pytest.raises(ImageTooLargeError, match=f"{W}×{H}"):
        to_jpeg(png, max_pixels=W * H - 1)
    to_jpeg(png, max_pixels=W * H)


def test_side_over_jpeg_limit_refused() -> None:
    with pytest.raises(UnsupportedImageError, match="65535"):
        to_jpeg(_png_header_only(70_000, 10))


def test_pillow_bomb_error_becomes_too_large(rgb: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    # Pillow's WebP plugin applies its own (process-wide) limit while opening
    # (Pillow 13; Pillow 12, the last for Python 3.10, does not): reported as
    # too large, never as a traceback. picveil's own limit applies either way.
    from PIL import WebPImagePlugin

    data = _encode(Image.fromarray(rgb), "WEBP")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    try:
        WebPImagePlugin.WebPImageFile(io.BytesIO(data))
        plugin_checks = False
    except Image.DecompressionBombError:
        plugin_checks = True
    if plugin_checks:
        with pytest.raises(ImageTooLargeError):
            to_jpeg(data)
    else:
        assert to_jpeg(data)[:2] == b"\xff\xd8"
    with pytest.raises(ImageTooLargeError):
        to_jpeg(data, max_pixels=100)


@pytest.mark.parametrize("fmt", ["PNG", "BMP", "TIFF", "WEBP"])
def test_truncated_input_is_corrupt(rgb: np.ndarray, fmt: str) -> None:
    data = _encode(Image.fromarray(rgb), fmt)
    for cut in (len(data) // 2, 40, 20):
        with pytest.raises(CorruptImageError):
            to_jpeg(data[:cut])


def test_garbage_after_signature_is_corrupt() -> None:
    with pytest.raises(CorruptImageError):
        to_jpeg(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)


# --- JPEG inputs ---------------------------------------------------------------
def test_read_input_passes_jpeg_through(rgb: np.ndarray) -> None:
    jpeg = _encode(Image.fromarray(rgb), "JPEG", quality=80)
    out, fmt = read_input(jpeg)
    assert fmt == "jpeg" and out == jpeg
    with pytest.raises(ImageTooLargeError, match=f"{W}×{H}"):
        read_input(jpeg, max_pixels=100)


def test_read_input_converts_png(rgb: np.ndarray) -> None:
    out, fmt = read_input(_encode(Image.fromarray(rgb), "PNG"), quality=90, subsampling="4:2:0")
    assert fmt == "png"
    im = _decode(out)
    assert im.size == (W, H) and JpegImagePlugin.get_sampling(im) == 2


def test_check_jpeg_size(rgb: np.ndarray) -> None:
    im = Image.fromarray(rgb)
    assert check_jpeg_size(_encode(im, "JPEG")) == (W, H)
    assert check_jpeg_size(_encode(im, "JPEG", progressive=True)) == (W, H)
    with pytest.raises(ImageTooLargeError):
        check_jpeg_size(_encode(im, "JPEG"), W * H - 1)


def test_check_jpeg_size_bad_frames(rgb: np.ndarray) -> None:
    jpeg = bytearray(_encode(Image.fromarray(rgb), "JPEG"))
    sof = next(s for s in read_segments(bytes(jpeg)) if s.name == "SOF0")
    height_at = sof.offset + 4 + 1
    dnl = bytearray(jpeg)
    dnl[height_at : height_at + 2] = b"\x00\x00"
    with pytest.raises(UnsupportedImageError, match="DNL"):
        check_jpeg_size(bytes(dnl))
    zero_width = bytearray(jpeg)
    zero_width[height_at + 2 : height_at + 4] = b"\x00\x00"
    with pytest.raises(CorruptImageError):
        check_jpeg_size(bytes(zero_width))
    no_sof = bytearray(jpeg)
    no_sof[sof.offset + 1] = 0xE9  # turn SOF0 into APP9
    with pytest.raises(CorruptImageError, match="SOF"):
        check_jpeg_size(bytes(no_sof))
    with pytest.raises(NotAnImageError):
        check_jpeg_size(b"\x89PNG\r\n\x1a\n")


@pytest.fixture(scope="module")
def small_inputs(rgb: np.ndarray) -> list[bytes]:
    small = Image.fromarray(rgb[:16, :24])
    return [
        _encode(small, "PNG"),
        _encode(small, "BMP"),
        _encode(small, "TIFF"),
        _encode(small, "TIFF", compression="tiff_deflate"),
        _encode(small, "WEBP"),
        _encode(small, "WEBP", lossless=True),
    ]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    which=st.integers(0, 5),
    edits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=4),
    cut=st.none() | st.integers(0, 10**6),
)
def test_fuzz_to_jpeg(small_inputs: list[bytes], which: int, edits: list, cut: int | None) -> None:
    """Damaged inputs raise picveil's typed errors, nothing else."""
    data = bytearray(small_inputs[which])
    for where, value in edits:
        data[where % len(data)] = value
    if cut is not None:
        del data[cut % len(data) :]
    try:
        out = to_jpeg(bytes(data), max_pixels=10**6)
    except PicveilError:
        return
    assert out[:3] == b"\xff\xd8\xff"


def test_heic_photo_is_read_through_pillow_heif(rgb: np.ndarray) -> None:
    """protect, detect and fit take a phone's HEIC photo when pillow-heif
    (the heic extra) is installed: read_input decodes it (bomb check first)
    and gives a JPEG of the same size."""
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    buf = io.BytesIO()
    try:
        Image.fromarray(rgb).save(buf, "HEIF", quality=90)
    except (OSError, KeyError, ValueError) as exc:  # a libheif without an HEVC encoder
        pytest.skip(f"cannot write HEIC here: {exc}")
    data = buf.getvalue()
    assert sniff(data) == "heic"
    jpeg, fmt = read_input(data)
    assert fmt == "heic" and sniff(jpeg) == "jpeg"
    with Image.open(io.BytesIO(jpeg)) as im:
        assert im.size == (rgb.shape[1], rgb.shape[0])
        assert np.abs(np.asarray(im.convert("RGB"), np.int16) - rgb.astype(np.int16)).mean() < 8
    with pytest.raises(ImageTooLargeError):
        read_input(data, max_pixels=100)
    from picveil.regions.detectors import load_image

    assert load_image(data)[0].shape == rgb.shape


def test_cmyk_jpeg_is_converted_to_rgb(rgb: np.ndarray) -> None:
    """read_input passes YCbCr JPEGs through and converts CMYK ones (Adobe, inverted) to RGB."""
    from picveil.jpeg.loading import CMYK_JPEG, jpeg_components, read_input

    cmyk = Image.fromarray(rgb).convert("CMYK")
    data = _encode(cmyk, "JPEG", quality=95)
    assert jpeg_components(data) == 4
    out, fmt = read_input(data)
    assert fmt == CMYK_JPEG and jpeg_components(out) == 3
    shown = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    assert _psnr(np.asarray(_decode(out)), shown) > 35
    plain = _encode(Image.fromarray(rgb), "JPEG", quality=90)
    assert read_input(plain) == (plain, "jpeg")


def test_transparent_pixels_are_reported_and_opaque_alpha_is_not():
    """Putting transparent pixels on white changes the picture: the caller's
    `notes` say so; an alpha channel that is opaque everywhere changes nothing
    and says nothing."""
    from picveil.jpeg.loading import TRANSPARENCY_NOTE, read_input

    rgb = np.full((32, 48, 3), 40, dtype=np.uint8)
    for alpha, noted in ((0, True), (200, True), (255, False)):
        rgba = np.dstack([rgb, np.full((32, 48), alpha, dtype=np.uint8)])
        notes: list[str] = []
        jpeg, fmt = read_input(_encode(Image.fromarray(rgba, "RGBA"), "PNG"), notes=notes)
        assert fmt == "png" and (notes == [TRANSPARENCY_NOTE]) == noted, (alpha, notes)
        if alpha == 0:
            assert np.asarray(_decode(jpeg)).min() > 240  # on white
    notes = []
    read_input(_encode(Image.fromarray(rgb), "PNG"), notes=notes)
    assert notes == []


def test_protect_warns_when_it_put_transparent_pixels_on_white(identities):
    from picveil import api

    rgba = np.dstack([np.full((64, 64, 3), 90, dtype=np.uint8), np.full((64, 64), 0, dtype=np.uint8)])
    png = _encode(Image.fromarray(rgba, "RGBA"), "PNG")
    _, report, _ = api._protect(png, [(8, 8, 16, 16)], recipients=identities[0].recipient)
    assert any("transparent" in w for w in report.warnings)
