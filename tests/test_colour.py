"""Colour profiles: a photo in Display P3 or Adobe RGB is put in sRGB before
protection for circles, because a network's conversion to sRGB erases the
robust header (picveil.jpeg.colour, fit, the simulator's srgb step)."""

import io

import numpy as np
import pytest
from PIL import Image, ImageCms

import picveil
from picveil import errors
from picveil.api import _protect
from picveil.cli.main import main
from picveil.crypto import Keyring
from picveil.jpeg.colour import adobe_rgb, display_p3, is_srgb, matrix_profile, profile_name, srgb_profile, to_srgb
from picveil.jpeg.metadata import describe_metadata, icc_profile
from picveil.platforms import fit, parse_chain
from picveil.robust.errors import HeaderDamagedError

from .conftest import psnr

SRGB_PRIMARIES = ((0.64, 0.33), (0.30, 0.60), (0.15, 0.06))
#: Linear Display P3 → linear sRGB, both D65 (the matrix published with CSS Color 4's
#: conversion code, rounded): an outside reference for the profile picveil writes.
P3_TO_SRGB = np.array([[1.2249, -0.2247, 0.0], [-0.0420, 1.0419, 0.0], [-0.0197, -0.0786, 1.0979]])
FACE = (150, 10, 155, 175)


def _decode_srgb(v):
    v = np.asarray(v, float) / 255
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def _encode_srgb(lin):
    lin = np.clip(lin, 0, 1)
    return 255 * np.where(lin <= 0.0031308, lin * 12.92, 1.055 * lin ** (1 / 2.4) - 0.055)


def _tagged_jpeg(rgb: np.ndarray, icc: bytes, quality: int = 92, **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=quality, icc_profile=icc, **kw)
    return buf.getvalue()


def _big_photo(photo: np.ndarray) -> np.ndarray:
    """The sample at 1024×1024: room for the default scheme's header outside a face."""
    return np.asarray(Image.fromarray(photo).resize((1024, 1024), Image.Resampling.LANCZOS))


@pytest.fixture()
def keyring(tmp_path):
    kr = Keyring.open(tmp_path / "me", create=True)
    kr.create_circle("family")
    return kr


def test_srgb_is_decided_by_what_a_profile_does():
    assert is_srgb(None) and is_srgb(b"")
    assert is_srgb(srgb_profile())
    assert is_srgb(matrix_profile("an sRGB of our own", SRGB_PRIMARIES))  # another sRGB profile, other bytes
    assert not is_srgb(display_p3()) and not is_srgb(adobe_rgb())
    assert not is_srgb(matrix_profile("wide", ((0.7347, 0.2653), (0.1152, 0.8264), (0.1566, 0.0177))))
    assert is_srgb(b"not a profile" * 20)  # unreadable: nothing (no network either) can convert it
    gray = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
    assert is_srgb(gray)  # not an RGB profile
    assert profile_name(display_p3()) == "Display P3"
    assert profile_name(None) == "an unnamed colour profile"


def test_display_p3_converts_as_the_published_matrix_says():
    rng = np.random.default_rng(7)
    colours = rng.integers(0, 256, (400, 3)).astype(np.uint8)
    im = Image.fromarray(colours.reshape(20, 20, 3))
    got = np.asarray(to_srgb(im, display_p3()), float).reshape(-1, 3)
    want = _encode_srgb(_decode_srgb(colours) @ P3_TO_SRGB.T)
    assert np.abs(got - want).max() <= 2.0
    # gray stays gray, and sRGB pictures are left alone
    grays = Image.fromarray(np.repeat(np.arange(256, dtype=np.uint8), 3).reshape(16, 16, 3))
    assert np.abs(np.asarray(to_srgb(grays, display_p3()), int) - np.asarray(grays, int)).max() <= 1
    assert to_srgb(im, srgb_profile()) is None and to_srgb(im, None) is None


def test_icc_profile_joins_the_chunks_of_a_jpeg(photo):
    small = _tagged_jpeg(photo, display_p3())
    assert icc_profile(small) == display_p3()
    big = display_p3() + bytes(range(256)) * 400  # over one APP2 segment: Pillow splits it
    split = _tagged_jpeg(photo, big)
    assert split.count(b"ICC_PROFILE\0") == 2 and icc_profile(split) == big
    plain = io.BytesIO()
    Image.fromarray(photo).save(plain, "JPEG")
    assert icc_profile(plain.getvalue()) is None


def test_the_simulator_converts_to_srgb_as_networks_do(photo):
    p3 = _tagged_jpeg(photo, display_p3())
    step = parse_chain("srgb").steps[0]
    assert step.spec == "srgb" and step.describe() == "convert colours to sRGB"
    out = step.apply(p3)
    with Image.open(io.BytesIO(out)) as im:
        assert im.format == "PNG" and is_srgb(im.info["icc_profile"])
        want = np.asarray(to_srgb(Image.open(io.BytesIO(p3)).convert("RGB"), display_p3()))
        assert np.array_equal(np.asarray(im.convert("RGB")), want)
    srgb = _tagged_jpeg(photo, srgb_profile())
    assert step.apply(srgb) == srgb
    for name in ("facebook", "instagram", "x", "whatsapp", "telegram"):
        assert parse_chain(name).steps[0] == step


def test_fit_puts_a_wide_gamut_photo_in_srgb(photo):
    p3 = _tagged_jpeg(_big_photo(photo), display_p3(), quality=95)
    r = fit(p3, "facebook")
    assert r.colour_from == "Display P3" and "converted from Display P3 to sRGB" in r.describe("facebook")
    assert is_srgb(icc_profile(r.jpeg)) and describe_metadata(r.jpeg)["icc"]
    converted = np.asarray(to_srgb(Image.open(io.BytesIO(p3)).convert("RGB"), display_p3()))
    assert psnr(np.asarray(Image.open(io.BytesIO(r.jpeg)).convert("RGB")), converted) > 38
    # an sRGB photo keeps its profile and its colours
    s = fit(_tagged_jpeg(_big_photo(photo), srgb_profile(), quality=95), "facebook")
    assert s.colour_from is None and icc_profile(s.jpeg) == srgb_profile()


def test_a_wide_gamut_photo_for_a_circle_survives_a_network_that_converts_it(photo, keyring):
    src = _tagged_jpeg(_big_photo(photo), display_p3(), quality=95)
    face = (300, 20, 310, 350)
    chain = parse_chain("srgb,strip,jpeg:85")
    # what the network does to the unprotected photo: the reference
    original = np.asarray(to_srgb(Image.open(io.BytesIO(src)).convert("RGB"), display_p3()))
    plain = np.asarray(Image.open(io.BytesIO(chain.run(src))).convert("RGB"))
    x, y, w, h = face
    region = (slice(y, y + h), slice(x, x + w))

    prot, report, _ = _protect(src, [face], circle="family", keyring=keyring)
    assert any("Display P3" in w and "sRGB" in w for w in report.warnings)
    assert is_srgb(icc_profile(prot))
    served = chain.run(prot)
    out = np.asarray(Image.open(io.BytesIO(picveil.reveal(served, keyring=keyring))).convert("RGB"))
    converted = psnr(out[region], original[region])
    assert converted > psnr(plain[region], original[region]) - 3

    # kept in Display P3, the same conversion erases the header (on saturated photos)
    # or, where the header survives it, garbles the scrambled region (this one: 10 dB worse)
    kept, report, _ = _protect(src, [face], circle="family", keyring=keyring, colour="keep")
    assert icc_profile(kept) == display_p3() and not any("sRGB" in w for w in report.warnings)
    try:
        out = np.asarray(Image.open(io.BytesIO(picveil.reveal(chain.run(kept), keyring=keyring))).convert("RGB"))
    except (errors.NoPicveilDataError, HeaderDamagedError):
        return
    assert psnr(out[region], original[region]) < converted - 6


def test_the_colour_choice(photo, keyring, identities):
    src = _tagged_jpeg(photo, display_p3(), exif=_gps_exif())
    # not for circles: the photo's coefficients and profile stay as they were
    out = picveil.protect(src, [FACE], recipients=[identities[0].recipient])
    assert icc_profile(out) == display_p3()
    # asked for: converted, and the caller's metadata choices still hold
    conv, report, _ = _protect(src, [FACE], recipients=[identities[0].recipient], colour="srgb", keep_gps=True)
    assert is_srgb(icc_profile(conv)) and describe_metadata(conv)["gps"] and report.source_format == "jpeg"
    restored = picveil.reveal(conv, identities=[identities[0]])
    assert is_srgb(icc_profile(restored)) or icc_profile(restored) is None
    # a PNG in Display P3 for a circle is converted too
    buf = io.BytesIO()
    Image.fromarray(photo).save(buf, "PNG", icc_profile=display_p3())
    png, report, _ = _protect(buf.getvalue(), [FACE], circle="family", keyring=keyring)
    assert is_srgb(icc_profile(png)) and any("Display P3" in w for w in report.warnings)
    with pytest.raises(errors.InputError, match="colour"):
        picveil.protect(src, [FACE], circle="family", keyring=keyring, colour="adobe")


def _gps_exif() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "PicveilCam"
    exif.get_ifd(0x8825)[2] = (48.0, 51.0, 24.0)
    return exif.tobytes()


def test_cli_colour_option(photo, tmp_path, capsys):
    home = tmp_path / "home"
    assert main(["circle", "create", "family", "--keyring", str(home)]) == 0
    src = tmp_path / "p3.jpg"
    src.write_bytes(_tagged_jpeg(photo, display_p3()))
    before = src.read_bytes()
    capsys.readouterr()
    assert main(["protect", str(src), "-o", str(tmp_path / "a.jpg"), "--box", "150,10,155,175", "--circle", "family", "--keyring", str(home)]) == 0
    err = capsys.readouterr().err
    assert "Display P3" in err and "sRGB" in err
    assert is_srgb(icc_profile((tmp_path / "a.jpg").read_bytes()))
    assert main(["protect", str(src), "-o", str(tmp_path / "b.jpg"), "--box", "150,10,155,175", "--circle", "family", "--keyring", str(home), "--colour", "keep"]) == 0
    assert icc_profile((tmp_path / "b.jpg").read_bytes()) == display_p3()
    code = main(["protect", str(src), "-o", str(tmp_path / "c.jpg"), "--box", "150,10,155,175", "--circle", "family", "--keyring", str(home), "--colour", "p3"])
    assert code != 0 and not (tmp_path / "c.jpg").exists()
    assert src.read_bytes() == before
