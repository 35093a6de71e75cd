"""Reveal after the platforms: robust header payload, and reveal from pixels.

A ~2 MP real photo is protected for a circle, put through simulated platform
chains (metadata stripped, JPEG by Pillow and OpenCV, WebP, PNG, a downscale)
and revealed with nothing but a friend's keyring. The decrypted regions are
compared with the *same chain applied to the unprotected photo* (the physical
limit): the gap must stay within the margins measured for this photo (see
MARGINS). Errors: no circle, no header, a damaged header.
"""

from __future__ import annotations

import io
from dataclasses import replace
import random

import numpy as np
import pytest
from PIL import Image, features

import picveil
from picveil import api, errors
from picveil.crypto import Keyring
from picveil.platforms.simulate import parse_chain
from picveil.robust import HeaderDamagedError
from picveil.robust import header as rh
from picveil.robust import reveal as rv

BOXES = [(608, 256, 208, 240), (1248, 784, 160, 128)]

#: Decrypted-region PSNR gap (revealed minus plain chain, dB) that each chain
#: must beat on this photo, measured with scramble-v1 (the default): pillow
#: q75 -11.3, opencv q50 -9.8, WebP q75 -19.7, resize to 1080 + q75 -17.4.
#: Each margin is about 2 dB below the measurement (keys are random, so the
#: clipped pixels differ from run to run), so that the test catches a
#: regression, not noise. This colourful photo is a hard case: the scrambled
#: regions leave the RGB gamut often, and the viewer clips them. The issue's
#: targets (-0.5 dB at Q >= 50, -2 dB after a downscale) are not met: see
#: benchmarks/bench_robust.py for the table over 24 photos.
MARGINS = {
    "jpeg:75": -13.5,
    "jpeg:50:opencv": -12.0,
    "webp:75": -22.0,
    "resize:1080,jpeg:75": -19.5,
}
#: Lowest decrypted-region PSNR (dB) for chains whose plain version is lossless
#: (measured with scramble-v5, the default: strip 48.3-48.6, the float inverse of the
#: intact coefficients, whose quantization by the protected file's own table the
#: gains amplify where the region holds more energy than the target; png 46.5.
#: scramble-v4 gave strip 52.9, png 45.5).
ABSOLUTE = {"strip": 46.0, "png": 43.0}


def _jpeg(rgb: np.ndarray, quality: int = 92) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=quality, subsampling=2)
    return buf.getvalue()


def _decode(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def _region_mask(shape, boxes, scale: float = 1.0) -> np.ndarray:
    mask = np.zeros(shape[:2], dtype=bool)
    for x, y, w, h in boxes:
        mask[round(y * scale) : round((y + h) * scale), round(x * scale) : round((x + w) * scale)] = True
    return mask


@pytest.fixture(scope="module")
def keyrings(tmp_path_factory):
    d = tmp_path_factory.mktemp("keyrings")
    me = Keyring.open(d / "me", create=True)
    friend = Keyring.open(d / "friend", create=True)
    me.create_circle("family")
    friend.import_circle(me.share_circle("family", [friend.recipient]))
    stranger = Keyring.open(d / "stranger", create=True)
    stranger.create_circle("family")  # same name, another key
    return me, friend, stranger


@pytest.fixture(scope="module")
def photo() -> bytes:
    """scikit-image's coffee (a real photo) upscaled to 1800 x 1200 (2.2 MP), JPEG q92."""
    from skimage import data

    rgb = Image.fromarray(data.coffee()).resize((1800, 1200), Image.Resampling.LANCZOS)
    return _jpeg(np.asarray(rgb))


@pytest.fixture(scope="module")
def protected(photo, keyrings):
    me, _, _ = keyrings
    out, report, _ = api._protect(photo, BOXES, circle="family", keyring=me)
    assert report.warnings == ()
    return out, report


@pytest.fixture(scope="module")
def protected_v4(photo, keyrings):
    """The same photo protected with scramble-v4 (the circle fallback), for the
    reveal machinery that measurably helps it and not scramble-v5: lattice
    snapping and the choice of the downscale filter (see the tests).

    With fixed keys (a circle of its own, shared with the friend, made while
    the operating system's random bytes come from a seeded generator), so
    that the tests are repeatable: which filter the reveal picks after a
    downscale depends on the keys. With fresh keys in every run, the
    bilinear case picked bicubic in 1 of 16 runs (twelfth session; and with
    seed 20261206 here: its reveal then 2.0 dB below the true filter's, 0.7
    above Lanczos'), a known weakness of the cross-validated choice; seeds 1,
    2 and 3 pick right."""
    out, report = _protect_with_fixed_keys(photo, BOXES, keyrings, "fixed-keys", 1, scheme="scramble-v4")
    assert report.warnings == ()
    return out, report


def _protect_with_fixed_keys(photo: bytes, boxes, keyrings, circle: str, seed: int, **kw):
    """Protect for a new `circle` (shared with the friend) made, like the
    protect's salts, while the operating system's random bytes come from a
    generator seeded with `seed`: the same keys in every run."""
    import os

    me, friend, _ = keyrings
    rng = np.random.default_rng(seed)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(os, "urandom", lambda n: rng.bytes(n))
        me.create_circle(circle)
        friend.import_circle(me.share_circle(circle, [friend.recipient]))
        out, report, _ = api._protect(photo, boxes, circle=circle, keyring=me, **kw)
    return out, report


# --- the payload ------------------------------------------------------------------------------
def _header(**kw) -> rh.RobustHeader:
    base = dict(
        scheme_id=1,
        width=1800,
        height=1200,
        layout="4:2:0",
        seed=bytes(range(8)),
        regions=(rh.RegionEntry(38, 16, 13, 15, 0), rh.RegionEntry(78, 49, 10, 8, 1, params=b"\x01\x02")),
        groups=(rh.GroupEntry(b"\xaa" * 8, b"\x01\x02\x03\x04"), rh.GroupEntry(b"\xbb" * 4, b"\x05\x06\x07\x08")),
    )
    base.update(kw)
    return rh.RobustHeader(**base)


def test_payload_round_trip_and_size():
    h = _header()
    raw = h.to_bytes()
    assert rh.RobustHeader.from_bytes(raw) == h
    assert rh.RobustHeader.from_bytes(raw).to_bytes() == raw
    one = _header(regions=(rh.RegionEntry(38, 16, 13, 15, 0),), groups=(rh.GroupEntry(b"\xaa" * 8, b"\x01\x02\x03\x04"),))
    assert len(one.to_bytes()) == 29  # head 1, scheme 1, size 4, seed 8, tables 1, regions 1 + 5, group 8
    assert h.mcu == (16, 16) and h.region_box(1) == (1248, 784, 160, 128)
    # version 3 (what protect writes): the coefficient check, two bytes after the tables
    checked = _header(coef_check=0xBEEF)
    raw3 = checked.to_bytes()
    assert raw3[0] >> 4 == 3 and len(raw3) == len(raw) + 2 and raw3[15:17] == b"\xbe\xef"
    assert rh.RobustHeader.from_bytes(raw3) == checked and rh.RobustHeader.from_bytes(raw3).to_bytes() == raw3
    assert rh.RobustHeader.from_bytes(raw).coef_check is None  # versions 1 and 2 have none
    with pytest.raises(ValueError):
        _header(coef_check=0x10000)
    # version 4 (what protect writes now): version 3's bytes; over the regions, the fill rule (SPEC.md §10)
    filled = _header(coef_check=0xBEEF, region_fill=True)
    raw4 = filled.to_bytes()
    assert raw4[0] >> 4 == 4 and raw4[1:] == raw3[1:]
    parsed = rh.RobustHeader.from_bytes(raw4)
    assert parsed == filled and parsed.region_fill and not rh.RobustHeader.from_bytes(raw3).region_fill
    with pytest.raises(ValueError):
        _header(region_fill=True).to_bytes()  # version 4 carries the coefficient check


def test_payload_vector_with_the_coefficient_check():
    """SPEC.md §11, §13.1: the committed version-3 vector's check is that of its JPEG."""
    import json
    from pathlib import Path

    from picveil.jpeg.codec import read_coefficients

    path = Path(rh.__file__).parent / "vectors" / "payload" / "payload_v3_check.json"
    v = json.loads(path.read_text())
    payload = bytes.fromhex(v["payload_hex"])
    hdr = rh.RobustHeader.from_bytes(payload)
    assert payload[0] >> 4 == 3 and hdr.to_bytes() == payload and hdr.coef_check == v["coef_check"]
    v4 = bytes([0x40 | payload[0] & 0x0F]) + payload[1:]  # version 4 is version 3's encoding
    assert rh.RobustHeader.from_bytes(v4) == replace(hdr, region_fill=True)
    assert [[r.x, r.y, r.w, r.h] for r in hdr.regions] == v["regions_mcu"]
    co = read_coefficients(bytes.fromhex(v["jpeg_hex"]))
    assert rh.coefficient_check(co, hdr) == v["coef_check"]
    # one coefficient changed in a region's chroma: the low byte tells (1 in 256 it would not)
    blocks = co.array(1).copy()
    blocks[0, 1, 0, 1] += 1
    co.set_blocks(1, 0, 0, blocks)
    changed = rh.coefficient_check(co, hdr)
    assert changed >> 8 == v["coef_check"] >> 8 and changed & 0xFF != v["coef_check"] & 0xFF


def test_payload_rejects_non_canonical_and_damaged():
    raw = bytearray(_header().to_bytes())
    with pytest.raises(errors.UnsupportedVersionError):
        rh.RobustHeader.from_bytes(bytes([0x53]) + raw[1:])  # version 5: unknown (3 = check, 4 = fill rule)
    with pytest.raises(HeaderDamagedError):
        rh.RobustHeader.from_bytes(bytes([0x1A]) + raw[1:])  # unknown layout
    with pytest.raises(HeaderDamagedError):
        rh.RobustHeader.from_bytes(raw + b"\x00")  # trailing byte
    with pytest.raises(HeaderDamagedError):
        rh.RobustHeader.from_bytes(raw[:-1])
    # scheme id 1 written as a two-byte varint
    with pytest.raises(HeaderDamagedError):
        rh.RobustHeader.from_bytes(raw[:1] + b"\x81\x00" + raw[2:])
    with pytest.raises(ValueError):
        _header(regions=(rh.RegionEntry(0, 0, 4, 4, 0), rh.RegionEntry(3, 3, 4, 4, 0)))  # overlap
    with pytest.raises(ValueError):
        _header(regions=(rh.RegionEntry(110, 0, 4, 4, 0),), groups=(rh.GroupEntry(b"\xaa" * 4, b"\0" * 4),))


def test_payload_fuzz():
    """Mutated payloads parse to something that serialises back to them, or fail cleanly."""
    rng = random.Random(4)
    seeds = [
        _header().to_bytes(), _header(scheme_id=2, layout="gray").to_bytes(), _header(coef_check=77).to_bytes(),
        _header(coef_check=78, region_fill=True).to_bytes(),
    ]
    for _ in range(3000):
        raw = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 4)):
            op = rng.random()
            pos = rng.randrange(len(raw))
            if op < 0.6:
                raw[pos] = rng.randrange(256)
            elif op < 0.8:
                del raw[pos]
            else:
                raw.insert(pos, rng.randrange(256))
        try:
            parsed = rh.RobustHeader.from_bytes(bytes(raw))
        except (HeaderDamagedError, errors.UnsupportedVersionError):
            continue
        assert parsed.to_bytes() == bytes(raw)


def test_salts_are_derived():
    fs = rh.file_salt_from_seed(bytes(8))
    assert len(fs) == 16 and fs != rh.file_salt_from_seed(b"\x01" + bytes(7))
    assert rh.region_salt(fs, 0) != rh.region_salt(fs, 1)
    # a test vector, recomputed here with hashlib only (SPEC.md §13.3)
    import hashlib

    assert fs == hashlib.sha256(b"picveil v1 file salt" + bytes(8)).digest()[:16]
    assert rh.region_salt(fs, 3) == hashlib.sha256(b"picveil v1 region salt" + fs + b"\x00\x03").digest()[:16]


# --- pieces of the reveal ------------------------------------------------------------------------
@pytest.mark.parametrize("scheme_id", [1, 2, 4])
def test_float_unscramble_matches_the_scheme(scheme_id):
    """The float inverse used on pixels is the scheme's own (SPEC labels), AC and DC signs alike."""
    from picveil.crypto import GroupKey
    from picveil.schemes import get_scheme

    key = GroupKey(bytes(32)).region_key(bytes(16))
    rng = np.random.default_rng(0)
    blocks = [rng.integers(-40, 40, (4, 6, 8, 8)).astype(np.int16), rng.integers(-9, 9, (2, 3, 8, 8)).astype(np.int16)]
    quant = [np.full((8, 8), 4, np.uint16)] * 2
    prot = get_scheme(scheme_id).protect(blocks, key, quant)
    params = prot.robust
    s = rv._Scramble(scheme_id, key, [(4, 6), (2, 3)], params if scheme_id == 2 else b"")
    for ci, (orig, p) in enumerate(zip(blocks, prot.blocks)):
        back = s.inverse(ci, p.reshape(-1, 8, 8).astype(np.float64))
        assert np.array_equal(back[:, 1:, :], orig.reshape(-1, 8, 8)[:, 1:, :])
        assert np.array_equal(back[:, 0, 1:], orig.reshape(-1, 8, 8)[:, 0, 1:])
        if scheme_id in (1, 4):
            assert np.array_equal(back[:, 0, 0], orig.reshape(-1, 8, 8)[:, 0, 0])
        assert np.allclose(s.forward(ci, back), p.reshape(-1, 8, 8))


@pytest.mark.parametrize("layout", ["4:2:0", "4:4:4", "gray"])
def test_shown_pixels_of_a_window_are_those_of_the_whole(layout):
    """Reveal converts only the part of the picture its regions need (a 48 MP
    reveal after a same-size q85 went from 57 s and 7.4 GB to 27 s and 1.9 GB,
    benchmarks/bench_large.py): that part must equal the same part of the whole."""
    hdr = _header(layout=layout, width=203, height=117, regions=(rh.RegionEntry(1, 1, 2, 2, 0),), groups=(rh.GroupEntry(b"\xaa" * 8, b"\x01\x02\x03\x04"),))
    rng = np.random.default_rng(3)
    planes = [rng.uniform(0, 255, (hb * 8, wb * 8)) for _, _, hb, wb in rv._plane_shapes(hdr)]
    whole = rv._to_rgb(planes, hdr)
    for y0, y1, x0, x1 in [(0, 117, 0, 203), (16, 48, 32, 97), (96, 117, 176, 203), (0, 5, 0, 9), (32, 33, 48, 49)]:
        np.testing.assert_allclose(rv._to_rgb(planes, hdr, (y0, y1, x0, x1)), whole[y0:y1, x0:x1], atol=1e-9)
    assert rv._window(20.5, 40.2, 33.0, 60.0, hdr) == (16, 41, 32, 60)
    assert rv._window(20, 40, 33, 60, hdr, margin=30) == (0, 70, 0, 90)
    assert rv._window(100, 117, 190, 203, hdr, margin=30) == (64, 117, 160, 203)


@pytest.mark.parametrize("layout", ["4:2:0", "4:4:4", "gray"])
def test_planes_of_windows_are_those_of_the_whole(layout):
    """After a downscale, reveal converts the received picture back to the
    original grid only near its regions (a 48 MP reveal from a 2048 px copy
    spent a third of its time converting the whole, four times): inside the
    windows every value is the one the whole conversion gives, bit for bit,
    and nothing is converted elsewhere."""
    from skimage import data

    rgb = data.astronaut()[::-1, :, :]  # a real photo (512 x 512), upside down: the face low
    received = np.asarray(Image.fromarray(rgb).resize((331, 250), Image.Resampling.LANCZOS))
    if layout == "gray":
        received = received.mean(axis=-1).astype(np.uint8)
    hdr = _header(layout=layout, width=700, height=531, regions=(rh.RegionEntry(1, 1, 2, 2, 0),), groups=(rh.GroupEntry(b"\xaa" * 8, b"\x01\x02\x03\x04"),))
    whole = rv._pixel_planes(received, hdr)
    windows = [(40, 300, 50, 203), (250, 531, 600, 700), (500, 531, 0, 13)]
    parts = rv._pixel_planes(received, hdr, windows)
    factors = [(1, 1)] if layout == "gray" else rv._factors(hdr)
    for w, p, (fy, fx) in zip(whole, parts, factors):
        assert p.shape == w.shape
        inside = np.zeros(w.shape, dtype=bool)
        for y0, y1, x0, x1 in windows:
            inside[y0 // fy : -(-y1 // fy), x0 // fx : -(-x1 // fx)] = True
            assert np.array_equal(p[y0 // fy : -(-y1 // fy), x0 // fx : -(-x1 // fx)], w[y0 // fy : -(-y1 // fy), x0 // fx : -(-x1 // fx)])
        assert w[inside].std() > 10  # the photo's content, not a constant
        assert (p[~inside] == 0).mean() > 0.5  # most of the rest not converted
    # the received picture at the original size: no resize, the same rule
    same = np.asarray(Image.fromarray(received).resize((700, 531)))
    for w, p, (fy, fx) in zip(rv._pixel_planes(same, hdr), rv._pixel_planes(same, hdr, windows[:1]), factors):
        assert np.array_equal(p[40 // fy : 300 // fy, 50 // fx : -(-203 // fx)], w[40 // fy : 300 // fy, 50 // fx : -(-203 // fx)])


def test_ycbcr_planes_are_the_stacked_conversion():
    """``ycbcr_planes`` (plane by plane, what reveal converts with) gives the very
    values of ``rgb_to_ycbcr`` (stacked), on a real photo."""
    from skimage import data

    from picveil.jpeg.pixels import rgb_to_ycbcr, ycbcr_planes

    rgb = data.chelsea().astype(np.float64)
    stacked = rgb_to_ycbcr(rgb)
    for i, plane in enumerate(ycbcr_planes(rgb[..., 0], rgb[..., 1], rgb[..., 2])):
        assert np.array_equal(plane, stacked[..., i])
    assert 100 < stacked[..., 0].mean() < 140 and stacked[..., 1].std() > 3


def test_deconvolve_inverts_the_chroma_blur():
    """Triangle upsampling then box downsampling is the blur [1/8, 3/4, 1/8]; deconvolve undoes it."""
    rng = np.random.default_rng(1)
    c = rng.uniform(0, 255, (40, 56))
    blurred = rv._box_down(rv._fancy_up(c, 2, 2, (80, 112)), 2, 2)
    assert np.sqrt(np.mean((blurred - c) ** 2)) > 10
    exact = rv.deconvolve(blurred, rv.JPEG_CHROMA_BLUR, nu=1e-9)
    assert np.sqrt(np.mean((exact - c)[2:-2, 2:-2] ** 2)) < 0.5
    # the default regularisation gives up a little at the highest frequencies, which white noise is full of
    back = rv.deconvolve(blurred, rv.JPEG_CHROMA_BLUR)
    assert np.sqrt(np.mean((back - c)[2:-2, 2:-2] ** 2)) < 0.35 * np.sqrt(np.mean((blurred - c) ** 2))


# --- protect writes it ------------------------------------------------------------------------
def test_protect_embeds_and_keeps_the_exact_path(photo, protected, keyrings):
    _, friend, _ = keyrings
    out, _ = protected
    from picveil.robust import extract_from_jpeg

    h = rh.RobustHeader.from_bytes(extract_from_jpeg(out))
    assert (h.width, h.height, h.layout, h.scheme_id) == (1800, 1200, "4:2:0", 9)  # the default, scramble-v8
    assert [h.region_box(i) for i in range(2)] == BOXES
    circle = friend.get("family")
    assert circle.circle_id.startswith(h.groups[0].circle_id)
    # the container is derived from the same seed, and the exact path still reveals exactly
    info = picveil.inspect(out)
    assert info.regions[0].circle == circle.id_hex
    # ... everywhere: the container's pvru record takes the header out again
    revealed = picveil.reveal(out, keyring=friend)
    assert np.array_equal(_decode(revealed), _decode(photo))
    from picveil.jpeg.codec import read_coefficients

    a, b = read_coefficients(revealed), read_coefficients(photo)
    assert all(np.array_equal(a.array(ci), b.array(ci)) for ci in range(3))
    assert "pvru" in info.extra_boxes
    # while the protected file itself differs outside the regions (the header is there)
    outside = ~_region_mask((1200, 1800), BOXES)
    assert not np.array_equal(_decode(out)[outside], _decode(photo)[outside])


def test_undo_record_is_checked(protected):
    from picveil.container import decode_container
    from picveil.container.format import BOX_ROBUST_UNDO
    from picveil.jpeg import markers
    from picveil.jpeg.codec import read_coefficients

    out, _ = protected
    c = decode_container(markers.app11_payloads(out))
    undo = next(e.body for e in c.extras if e.box_type == BOX_ROBUST_UNDO)
    assert len(undo) < 0.02 * len(out)  # a few kB, not a copy of the changes
    coeffs = read_coefficients(out)
    before = coeffs.array(0).copy()
    for bad in (undo[:-1] + bytes([undo[-1] ^ 1]), undo[:20], b"", bytes([9]) + undo[1:]):
        assert rh.apply_undo(coeffs, bad) is False
        assert np.array_equal(coeffs.array(0), before)  # left as it was
    assert rh.apply_undo(coeffs, undo) is True
    assert not np.array_equal(coeffs.array(0), before)


def test_robust_off_and_non_circle_groups(photo, keyrings, identities):
    me, _, _ = keyrings
    out = picveil.protect(photo, BOXES, circle="family", keyring=me, robust=False)
    with pytest.raises(errors.NoPicveilDataError):
        rv.reveal_pixels(parse_chain("strip").run(out), keyring=me)
    # age recipients: no robust header by default, and asking for one is an error
    out = picveil.protect(photo, BOXES[:1], recipients=[identities[0].recipient])
    with pytest.raises(errors.NoPicveilDataError):
        picveil.reveal(parse_chain("strip").run(out), keyring=me)
    with pytest.raises(errors.InputError):
        picveil.protect(photo, BOXES[:1], recipients=[identities[0].recipient], robust=True)


def test_all_region_image_carries_the_header_in_its_regions(photo, keyrings):
    me, friend, _ = keyrings
    out, report, _ = api._protect(photo, [(0, 0, 1800, 1200)], circle="family", keyring=me)
    assert report.warnings == ()
    # the exact path is exact: the undo record is applied before the region tags are checked
    assert np.array_equal(_decode(picveil.reveal(out, keyring=friend)), _decode(photo))
    # and after a platform the header is found and the whole picture revealed from pixels
    received = parse_chain("jpeg:75").run(out)
    revealed, rep = api._reveal(received, keyring=friend)
    assert rep.revealed == (0,) and rep.warnings
    plain = _decode(parse_chain("jpeg:75").run(photo))
    assert _psnr(_decode(revealed), _decode(photo)) > _psnr(plain, _decode(photo)) + MARGINS["jpeg:75"]  # measured -9.4 (scramble-v4), -5.9 (scramble-v6, the default since)


def test_too_small_for_a_header_is_a_warning_not_a_failure(keyrings):
    me, _, _ = keyrings
    tiny = _jpeg(np.full((96, 128, 3), 120, dtype=np.uint8))
    out, report, _ = api._protect(tiny, [(16, 16, 32, 32)], circle="family", keyring=me)
    assert len(report.warnings) == 1 and "robust in-image header" in report.warnings[0]
    picveil.reveal(out, keyring=me)  # the container still works


# --- reveal after the platforms ------------------------------------------------------------------
@pytest.mark.parametrize("chain", ["strip", "png", "jpeg:75", "jpeg:50:opencv", "webp:75", "resize:1080,jpeg:75"])
def test_reveal_after_platform(chain, photo, protected, keyrings):
    _, friend, _ = keyrings
    out, _ = protected
    ch = parse_chain("strip," + chain)
    received = ch.run(out)
    revealed = _decode(picveil.reveal(received, keyring=friend))
    plain = _decode(ch.run(photo))
    original = _decode(photo)
    if revealed.shape != original.shape:  # measured against the resized original
        h, w = revealed.shape[:2]
        original = np.asarray(Image.fromarray(original).resize((w, h), Image.Resampling.LANCZOS))
    mask = _region_mask(revealed.shape, BOXES, revealed.shape[1] / 1800)
    p_reveal = _psnr(revealed[mask], original[mask])
    p_plain = _psnr(plain[mask], original[mask])
    p_scrambled = _psnr(_decode(received)[mask], original[mask])
    assert p_reveal > p_scrambled + 10, "the region is not revealed"
    if chain in ABSOLUTE:
        assert p_reveal >= ABSOLUTE[chain], (p_reveal, p_plain)
    else:
        assert p_reveal - p_plain >= MARGINS[chain], (p_reveal, p_plain)


def test_the_lattice_refinement_is_bounded_on_large_regions():
    """rv.CLIP_LATTICE_WORK: every round up to 0.3 MP, fewer rounds and then
    fewer iterations above, none where under 10 iterations would be left."""
    full = (rv.CLIP_LATTICE_ROUNDS, rv.CLIP_LATTICE_ITERATIONS)
    assert rv._lattice_schedule(64 * 1000) == full and rv._lattice_schedule(300_000) == full
    sizes = [300_000, 600_000, 1_200_000, 2_160_000, 4_000_000]
    work = [r * i for r, i in map(rv._lattice_schedule, sizes)]
    assert work == sorted(work, reverse=True) and all(w * n <= rv.CLIP_LATTICE_WORK for w, n in zip(work, sizes))
    assert rv._lattice_schedule(2_160_000)[0] == 1 and rv._lattice_schedule(5_000_000) == (0, 0)


def test_a_lossless_webp_copy_reveals_as_a_png_copy(photo, protected, keyrings):
    """A lossless WebP holds the shown pixels exactly, as a PNG does: its reveal
    is the PNG's, not a lossy WebP's (whose noise model cost about 10 dB on an
    opencv-doc photo)."""
    _, friend, _ = keyrings
    out, _ = protected
    shown = Image.open(io.BytesIO(out)).convert("RGB")
    copies = {}
    for fmt, options in (("PNG", {}), ("WEBP", {"lossless": True})):
        buf = io.BytesIO()
        shown.save(buf, fmt, **options)
        copies[fmt] = buf.getvalue()
    assert np.array_equal(_decode(copies["PNG"]), _decode(copies["WEBP"]))
    from_png = _decode(picveil.reveal(copies["PNG"], keyring=friend, output_format="png"))
    from_webp = _decode(picveil.reveal(copies["WEBP"], keyring=friend, output_format="png"))
    assert np.array_equal(from_png, from_webp)
    mask = _region_mask(from_webp.shape, BOXES)
    assert _psnr(from_webp[mask], _decode(photo)[mask]) > 40


@pytest.mark.parametrize("fmt, quality", [("AVIF", 80), ("HEIF", 70)])
def test_an_avif_or_heic_copy_is_revealed_with_its_formats_model(fmt, quality, photo, protected, keyrings, monkeypatch):
    """A platform may serve AVIF or HEIC. Both reveal, each with its format's
    chroma blur and noise steps (rv.OTHER_LOSSY_MODELS), and AVIF's chroma,
    blurred like a WebP's, comes back better than with a JPEG's model."""
    if fmt == "HEIF":
        pillow_heif = pytest.importorskip("pillow_heif")
        pillow_heif.register_heif_opener()
    elif not features.check("avif"):
        pytest.skip("this Pillow writes no AVIF")
    _, friend, _ = keyrings
    out, _ = protected

    def encode(data: bytes) -> bytes:
        buf = io.BytesIO()
        Image.open(io.BytesIO(data)).convert("RGB").save(buf, fmt, quality=quality)
        return buf.getvalue()

    received = encode(out)
    original = _decode(photo)
    mask = _region_mask(original.shape, BOXES)
    plain = _psnr(np.asarray(Image.open(io.BytesIO(encode(photo))).convert("RGB"))[mask], original[mask])
    modelled = _psnr(_decode(picveil.reveal(received, keyring=friend))[mask], original[mask])
    assert modelled > plain - 4.0, (modelled, plain)
    if fmt == "AVIF":
        monkeypatch.setattr(rv, "OTHER_LOSSY_MODELS", {})
        unmodelled = _psnr(_decode(picveil.reveal(received, keyring=friend))[mask], original[mask])
        assert modelled > unmodelled + 1.0, (modelled, unmodelled, plain)


@pytest.mark.parametrize("scheme", ["scramble-v3", "scramble-v4"])
def test_stripped_file_reveals_from_its_integer_coefficients(scheme, photo, keyrings):
    """Metadata stripped, coefficients intact: scramble-v3 reveals exactly; scramble-v4's
    block means need the container's bits, so without them every AC coefficient is exact
    and each DC within one quantization step (the nearest of its one or two candidates)."""
    from picveil.jpeg.codec import read_coefficients

    me, friend, _ = keyrings
    out, _, _ = api._protect(photo, BOXES, circle="family", keyring=me, scheme=scheme)
    revealed, report = rv.reveal_pixels(parse_chain("strip").run(out), keyring=friend)
    assert report.source == ("jpeg-coefficients (exact)" if scheme == "scramble-v3" else "jpeg-coefficients (integer)")
    a, b = read_coefficients(photo), read_coefficients(report.jpeg)
    for ci, f in enumerate((8, 16, 16)):  # the regions' blocks (the header changed others, §13)
        x0, y0, w, h = BOXES[0]
        win = np.s_[y0 // f : (y0 + h) // f, x0 // f : (x0 + w) // f]
        x, y = a.array(ci)[win].astype(int), b.array(ci)[win].astype(int)
        assert np.array_equal(x[..., 1:, :], y[..., 1:, :]) and np.array_equal(x[..., 0, 1:], y[..., 0, 1:])
        dc = np.abs(x[..., 0, 0] - y[..., 0, 0])
        assert dc.max() == (0 if scheme == "scramble-v3" else 1)
    mask = _region_mask(revealed.shape, BOXES, 1.0)
    p = _psnr(revealed[mask], _decode(photo)[mask])
    assert p == float("inf") if scheme == "scramble-v3" else p > 50.0
    # and the user is told whether it is exact
    _, rep = api._reveal(parse_chain("strip").run(out), keyring=friend)
    assert (rep.warnings == ()) if scheme == "scramble-v3" else ("within one quantization step" in rep.warnings[0])


def test_unrelated_keyring_is_told_which_circle(protected, keyrings):
    me, _, stranger = keyrings
    received = parse_chain("strip,jpeg:80").run(protected[0])
    prefix = me.get("family").circle_id[:4].hex()
    with pytest.raises(errors.CircleNotFoundError, match=prefix):
        picveil.reveal(received, keyring=stranger)


def test_plain_photo_has_no_header(photo, keyrings):
    _, friend, _ = keyrings
    with pytest.raises(errors.NoPicveilDataError):
        picveil.reveal(parse_chain("strip,jpeg:75").run(photo), keyring=friend)


def test_damaged_header_is_an_error_not_a_garbled_image(protected, keyrings):
    """Noise strong enough to break the header: a clear error, never pixels."""
    _, friend, _ = keyrings
    rgb = _decode(parse_chain("strip").run(protected[0])).astype(np.float64)
    rng = np.random.default_rng(7)
    noisy = np.clip(rgb + rng.normal(0, 30, rgb.shape), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(noisy).save(buf, "PNG")
    with pytest.raises((HeaderDamagedError, errors.NoPicveilDataError)):
        picveil.reveal(buf.getvalue(), keyring=friend)


def test_cropped_picture_is_refused(protected, keyrings):
    _, friend, _ = keyrings
    rgb = _decode(parse_chain("strip").run(protected[0]))
    buf = io.BytesIO()
    Image.fromarray(rgb[:, :1500]).save(buf, "PNG")
    with pytest.raises((HeaderDamagedError, errors.NoPicveilDataError)):
        picveil.reveal(buf.getvalue(), keyring=friend)


@pytest.mark.parametrize("cut, chain", [((1, 0, 0, 0), "png"), ((0, 0, 2, 1), "jpeg:85"), ((3, 5, 0, 0), "png")])
def test_a_picture_cropped_by_a_few_pixels_is_put_back_in_place(cut, chain, photo, protected, keyrings):
    """A crop of a few pixels (to even dimensions, say) has nearly the size of a
    resize by a pixel or two; read as one, it came back garbled (25 dB) and was
    reported revealed. The regions' 8x8 grid tells the crop: revealed in place."""
    _, friend, _ = keyrings
    left, top, right, bottom = cut
    rgb = _decode(parse_chain("strip").run(protected[0]))
    h, w = rgb.shape[:2]
    cropped = rgb[top : h - bottom, left : w - right]
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(cropped)).save(buf, "PNG")
    received = parse_chain(chain).run(buf.getvalue()) if chain != "png" else buf.getvalue()
    out, report = api._reveal(received, keyring=friend)
    assert report.revealed == (0, 1)
    assert any("cropped by" in x for x in report.warnings), report.warnings
    revealed = _decode(out)
    original = _decode(photo)[top : h - bottom, left : w - right]
    mask = _region_mask(rgb.shape, BOXES)[top : h - bottom, left : w - right]
    assert revealed.shape == cropped.shape
    assert _psnr(revealed[mask], original[mask]) > (40 if chain == "png" else 36)
    info = picveil.inspect(received)
    assert "cropped by" in info.received and info.placement is not None


@pytest.mark.parametrize("edit, chain", [((2.0, 1.0), "png"), ((-1.0, 1.0), "jpeg:85"), ((0.0, 1.03), "jpeg:85")])
def test_a_picture_whose_brightness_was_edited_is_revealed(edit, chain, photo, protected, keyrings):
    """The header's lattices are 5.5 grey levels apart, so a brightness edit of
    a level or two (auto-enhance, levels) erased it: "no picveil data". The
    extractor reads the tone change off the pilots; the regions are revealed
    with it undone and given it again, to match the picture around them."""
    _, friend, _ = keyrings
    offset, gain = edit

    def edited(data: bytes) -> bytes:
        x = _decode(parse_chain("strip").run(data)).astype(np.float64)
        y = np.clip(np.round(offset + 128 + gain * (x - 128)), 0, 255).astype(np.uint8)
        buf = io.BytesIO()
        Image.fromarray(y).save(buf, "PNG")
        return buf.getvalue() if chain == "png" else parse_chain(chain).run(buf.getvalue())

    received = edited(protected[0])
    out, report = api._reveal(received, keyring=friend)
    assert report.revealed == (0, 1)
    assert any("brightness had been edited" in w for w in report.warnings), report.warnings
    mask = _region_mask(_decode(photo).shape, BOXES)
    target = _decode(edited(photo))  # the unprotected photo, edited and sent the same way
    original = np.clip(np.round(offset + 128 + gain * (_decode(photo).astype(float) - 128)), 0, 255)
    got = _psnr(_decode(out)[mask], original[mask])
    assert got > (40 if chain == "png" else min(36.0, _psnr(target[mask], original[mask]) - 6)), got


@pytest.mark.parametrize("offset", [3.0, 8.0, -10.0])
def test_a_brightness_edit_on_a_small_region_finds_its_period(offset, photo, keyrings):
    """The header tells a brightness offset only modulo its 5.5-level lattice step;
    for a small region the regions' mean grey cannot settle it (+8 read as +2.5:
    a blocky reveal, 26 dB), so the reveal tries the neighbouring periods and
    keeps the smoothest. (+5, about a whole step, reads as no edit; it is tried
    only when the regions' grey says so, which for 320 blocks it does not always.)"""
    me, friend, _ = keyrings
    box = [(1248, 784, 160, 128)]  # 320 luma blocks
    out, _, _ = api._protect(photo, box, circle="family", keyring=me)

    def edited(data: bytes) -> bytes:
        x = _decode(parse_chain("strip").run(data)).astype(np.float64)
        buf = io.BytesIO()
        Image.fromarray(np.clip(np.round(x + offset), 0, 255).astype(np.uint8)).save(buf, "JPEG", quality=85)
        return buf.getvalue()

    revealed, report = api._reveal(edited(out), keyring=friend)
    mask = _region_mask(_decode(photo).shape, box)
    original = np.clip(_decode(photo).astype(float) + offset, 0, 255)
    plain = _psnr(_decode(edited(photo))[mask], original[mask])
    assert _psnr(_decode(revealed)[mask], original[mask]) > plain - 6, plain


def test_a_copy_converted_to_display_p3_is_read_in_srgb(photo, protected, keyrings):
    """Protect writes sRGB; a copy converted to Display P3 afterwards (an editor's
    export, tagged) had its header's levels moved by a non-linear map: "no picveil
    data". The reveal converts such a copy to sRGB first."""
    from PIL import ImageCms

    from picveil.jpeg.colour import display_p3

    _, friend, _ = keyrings
    p3 = ImageCms.ImageCmsProfile(io.BytesIO(display_p3()))
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))

    def to_p3(data: bytes) -> bytes:
        im = Image.fromarray(_decode(parse_chain("strip").run(data)))
        buf = io.BytesIO()
        ImageCms.profileToProfile(im, srgb, p3, outputMode="RGB").save(buf, "JPEG", quality=92, icc_profile=display_p3())
        return buf.getvalue()

    out, report = api._reveal(to_p3(protected[0]), keyring=friend)
    assert report.revealed == (0, 1) and any("converted to sRGB" in w for w in report.warnings), report.warnings
    mask = _region_mask(_decode(photo).shape, BOXES)
    assert _psnr(_decode(out)[mask], _decode(photo)[mask]) > 36


def test_a_picture_resized_by_one_pixel_is_not_taken_for_a_crop(photo, protected, keyrings):
    _, friend, _ = keyrings
    rgb = Image.fromarray(_decode(parse_chain("strip").run(protected[0])))
    buf = io.BytesIO()
    rgb.resize((1799, 1200), Image.Resampling.LANCZOS).save(buf, "JPEG", quality=85)
    _, report = api._reveal(buf.getvalue(), keyring=friend)
    assert report.revealed == (0, 1) and not any("cropped" in x for x in report.warnings)
    assert any("shrunk" in x for x in report.warnings)


def test_converted_picture_beside_its_sidecar(protected, keyrings, tmp_path):
    """A sidecar's container with a picture converted to WebP: the exact path
    cannot apply, the robust header does."""
    _, friend, _ = keyrings
    out, _ = protected
    webp = tmp_path / "post.webp"
    webp.write_bytes(parse_chain("strip,webp:90").run(out))
    (tmp_path / "post.webp.picveil").write_bytes(api.sidecar_bytes(out))
    revealed, report = api._reveal(webp, keyring=friend)
    assert report.revealed == (0, 1) and report.locked == ()
    assert revealed[:2] == b"\xff\xd8"


@pytest.mark.parametrize("k", [-1, 1, 2])
def test_turned_picture_is_found_and_revealed_as_received(k, photo, protected, keyrings):
    """Platforms apply a phone photo's EXIF orientation: the pixels arrive turned.
    The turned copy is revealed from its decoded pixels, not from its JPEG
    coefficients as the straight copy is: measured 40.9-41.6 dB against 42.8
    (the unprotected photo through the same q85: 45.3). Before the chroma was
    estimated with the received tables' noise model: 32.7 against 35.0; before
    the reader modelled its own chroma upsampling, a second blur: 28.7."""
    _, friend, _ = keyrings
    out, _ = protected
    mask = _region_mask((1200, 1800), BOXES)
    straight, rep = api._reveal(_jpeg(_decode(out), quality=85), keyring=friend)
    assert rep.revealed == (0, 1)
    reference = _psnr(_decode(straight)[mask], _decode(photo)[mask])
    received = _jpeg(np.ascontiguousarray(np.rot90(_decode(out), k)), quality=85)
    revealed, rep = api._reveal(received, keyring=friend)
    assert rep.revealed == (0, 1) and any("turn" in w for w in rep.warnings)
    got, want = _decode(revealed), np.rot90(_decode(photo), k)
    assert got.shape == want.shape  # returned as received
    turned_mask = np.rot90(mask, k)
    assert _psnr(got[turned_mask], want[turned_mask]) > reference - 3.5
    assert _psnr(got[turned_mask], want[turned_mask]) > _psnr(np.rot90(_decode(out), k)[turned_mask], want[turned_mask]) + 10


@pytest.mark.parametrize("k", [0, 1])
def test_mirrored_picture_is_found_and_revealed_as_received(k, photo, protected, keyrings):
    """A photo whose EXIF orientation mirrors (2, 4, 5, 7: some phones' front
    cameras), which a platform applies, or one flipped in an editor: its
    pixels arrive mirrored (and turned by k quarter turns). They once read as
    carrying no picveil data; they are looked for mirrored back, and revealed
    as received."""
    from picveil.robust.reveal import read_header

    _, friend, _ = keyrings
    out, _ = protected
    received = _jpeg(np.ascontiguousarray(np.rot90(_decode(out)[:, ::-1], k)), quality=85)
    _, where = read_header(received)
    assert where.mirrored and where.rotated == (360 - 90 * k) % 360
    revealed, rep = api._reveal(received, keyring=friend)
    assert rep.revealed == (0, 1) and any("mirrored" in w for w in rep.warnings)
    got, want = _decode(revealed), np.rot90(_decode(photo)[:, ::-1], k)
    assert got.shape == want.shape  # returned as received
    mask = np.rot90(_region_mask((1200, 1800), BOXES)[:, ::-1], k)
    assert _psnr(got[mask], want[mask]) > 40  # measured 46.5-47.9 (fresh keys, both cases)
    assert _psnr(got[mask], want[mask]) > _psnr(_decode(received)[mask], want[mask]) + 10


def test_a_received_orientation_is_kept_in_a_jpeg_and_applied_in_a_png(photo, protected, keyrings):
    """A copy whose pixels are as stored and whose EXIF still says to turn them
    (orientation 6: a quarter turn clockwise; a messenger that keeps EXIF):
    the revealed JPEG carries the same orientation, so that a viewer shows it
    as it showed the received file; a revealed PNG (whose viewers ignore EXIF)
    is turned upright. Both once came back as stored, shown sideways. The
    container path's PNG is turned upright too."""
    _, friend, _ = keyrings
    out, _ = protected
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    Image.fromarray(_decode(out)).save(buf, "JPEG", quality=85, exif=exif.tobytes())
    as_jpeg, rep = api._reveal(buf.getvalue(), keyring=friend)
    assert rep.revealed == (0, 1)
    as_png, _ = api._reveal(buf.getvalue(), keyring=friend, output_format="png")
    with Image.open(io.BytesIO(as_jpeg)) as im:
        assert im.size == (1800, 1200) and im.getexif().get(0x0112) == 6
        stored = np.asarray(im.convert("RGB"))
    with Image.open(io.BytesIO(as_png)) as im:
        assert im.format == "PNG" and im.size == (1200, 1800)
        upright = np.asarray(im.convert("RGB"))
    mask = np.rot90(_region_mask((1200, 1800), BOXES), -1)
    want = np.rot90(_decode(photo), -1)
    assert _psnr(upright[mask], want[mask]) > 35  # the revealed regions, turned (the scrambled ones: about 13)
    assert _psnr(upright, np.rot90(stored, -1)) > 45  # the JPEG's pixels, turned as a viewer turns them
    # the container path (the protected file itself, given the orientation): a PNG turned upright as well
    from picveil.jpeg.markers import insert_segments
    from picveil.jpeg.metadata import APP1

    turned_file = insert_segments(out, [(APP1, exif.tobytes())])
    with Image.open(io.BytesIO(api._reveal(turned_file, keyring=friend, output_format="png")[0])) as im:
        assert im.size == (1200, 1800)
        np.testing.assert_array_equal(np.asarray(im.convert("RGB")), np.rot90(_decode(api._reveal(out, keyring=friend)[0]), -1))


@pytest.mark.parametrize("size, floor", [((1800, 1200), 44.0), ((1080, 720), 37.0)])
def test_colour_photo_received_in_gray(size, floor, photo, protected, keyrings):
    """A network (or a friend's editor) turned the protected colour photo to
    gray, at full size and shrunk: the luma is revealed and a gray picture
    comes back (it once failed on pasting colour into gray). Measured on this
    photo, three protects, against the gray original: 47.2-47.7 dB at full
    size, 39.5-39.6 dB at 1080 px (the unprotected photo through the same
    chain: 50.0 and 45.6; the scrambled regions: 13.5-14.3)."""
    _, friend, _ = keyrings
    out, _ = protected
    with Image.open(io.BytesIO(out)) as im:
        gray = im.convert("L").resize(size, Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    gray.save(buf, "JPEG", quality=85)
    revealed, rep = api._reveal(buf.getvalue(), keyring=friend)
    assert rep.revealed == (0, 1)
    with Image.open(io.BytesIO(revealed)) as im:
        assert im.mode == "L" and im.size == size
        got = np.asarray(im)
    with Image.open(io.BytesIO(photo)) as im:
        want = np.asarray(im.convert("L").resize(size, Image.Resampling.LANCZOS))
    mask = _region_mask(want.shape, BOXES, size[0] / 1800)
    assert _psnr(got[mask], want[mask]) > floor
    assert _psnr(got[mask], want[mask]) > _psnr(np.asarray(gray)[mask], want[mask]) + 20


# --- the header written over the regions (SPEC §13.5) ------------------------------------------------
def test_reveal_takes_the_header_out_of_a_region_it_was_written_over(keyrings, monkeypatch):
    """A region 40 % of the picture leaves no room outside for the header
    on any grid, so it goes over the region too: a reveal from the displayed pixels (PNG)
    must estimate that smooth pattern and take it out before unscrambling,
    not turn it into block noise. Luma of a mid-contrast astronaut (nothing
    clips): 41 dB with the pattern left in, about 46 dB taken out; a
    revealer that skips the step is measured in the same test."""
    from skimage import data

    me, friend, _ = keyrings
    rgb = (64 + 0.5 * data.astronaut().astype(np.float64)).round().astype(np.uint8)
    src = _jpeg(rgb)
    box = (96, 96, 320, 320)
    prot, report, _ = api._protect(src, [box], circle="family", keyring=me)
    png = parse_chain("strip,png").run(prot)
    from picveil.robust.extractor import extract, extract_report

    found = extract_report(_decode(png))
    header = rh.RobustHeader.from_bytes(found.payload)
    assert rv._header_grid_in_regions(header, len(found.payload), found.grid) is not None  # it did go over the region
    x, y, w, h = box

    def luma(a):
        a = a.astype(np.float64)[y : y + h, x : x + w]
        return 0.299 * a[..., 0] + 0.587 * a[..., 1] + 0.114 * a[..., 2]

    def luma_psnr(img):
        return _psnr(luma(img), luma(_decode(src)))

    revealed, _ = rv.reveal_pixels(png, keyring=friend)
    with_step = luma_psnr(revealed)
    monkeypatch.setattr(rv, "_header_grid_in_regions", lambda *args: None)
    without, _ = rv.reveal_pixels(png, keyring=friend)
    assert with_step >= 44.0 and with_step >= luma_psnr(without) + 3.0, (with_step, luma_psnr(without))
    # a header that fits outside the regions is not "estimated" away: nothing to take out
    small, report, _ = api._protect(src, [(192, 192, 64, 64)], circle="family", keyring=me)
    payload = extract(_decode(small))
    assert rv._header_grid_in_regions(rh.RobustHeader.from_bytes(payload), len(payload)) is None


def test_a_header_over_the_regions_covers_only_the_cells_it_needs(keyrings, monkeypatch):
    """Payload version 4 (SPEC.md §10's fill rule): a header that does not fit
    outside the regions takes only the cells over them that it needs, and the
    reveal estimates the pattern on those alone. scikit-image's astronaut
    (512 x 512) with two regions, the circle fallback (scramble-v4), the same
    keys both ways; a lossless copy measured 39.5 dB against 38.2 with every
    region cell modulated (versions 1-3)."""
    from skimage import data

    from picveil.robust import embedder
    from picveil.robust.extractor import extract_report

    src = _jpeg(data.astronaut())
    boxes = [(160, 32, 160, 176), (16, 320, 128, 144)]
    mask = _region_mask((512, 512), boxes)
    scores, cells = {}, {}
    for rule in ("fill", "every cell"):
        if rule == "every cell":  # the writer and the reader both, as versions 1-3
            monkeypatch.setattr(embedder, "region_cells", lambda p, length: None)
        out, _ = _protect_with_fixed_keys(src, boxes, keyrings, f"fill-{rule.split()[0]}", 3)
        png = parse_chain("strip,png").run(out)
        found = extract_report(_decode(png))
        header = rh.RobustHeader.from_bytes(found.payload)
        assert header.region_fill
        grid = rv._header_grid_in_regions(header, len(found.payload), found.grid)
        assert grid is not None  # it went over the regions
        live = rv._header_cells(header, len(found.payload), grid)
        cells[rule] = None if live is None else int(live.sum())
        revealed = _decode(picveil.reveal(png, keyring=keyrings[1], output_format="png"))
        scores[rule] = _psnr(revealed[mask], _decode(src)[mask])
    assert cells["every cell"] is None and 0 < cells["fill"] < grid.cells
    assert scores["fill"] > scores["every cell"] + 0.6, scores


def test_header_taken_out_of_a_textured_scramble_v7_region(keyrings, monkeypatch):
    """scramble-v7's header (89 bytes with its sealed gains) goes over a region
    of half of a 1024 x 512 picture (the circle default, scramble-v8, goes over
    the regions where its shorter header still does not fit outside them). Unmixing turns its smooth
    pattern into noise in each block's mean, which the estimate finds from
    the unscrambled region's curvature across block seams. On this picture
    (astronaut beside the textured immunohistochemistry slide), lossless
    copy, two key draws: 38.3-38.6 dB taken out, 33.9-35.2 left in; the
    first-difference estimate of the block-moving schemes, 37.8-38.2."""
    from skimage import data

    from picveil.robust.extractor import extract_report
    from picveil.schemes import get_scheme

    me, friend, _ = keyrings
    src = _jpeg(np.hstack([data.astronaut(), data.immunohistochemistry()]))
    box = (256, 128, 512, 256)
    prot, report, _ = api._protect(src, [box], circle="family", keyring=me, scheme="scramble-v7")
    png = parse_chain("strip,png").run(prot)
    found = extract_report(_decode(png))
    header = rh.RobustHeader.from_bytes(found.payload)
    assert header.scheme_id == get_scheme("scramble-v7").scheme_id
    assert rv._header_grid_in_regions(header, len(found.payload), found.grid) is not None
    x, y, w, h = box
    ref = _decode(src)[y : y + h, x : x + w]
    taken_out, _ = rv.reveal_pixels(png, keyring=friend)
    monkeypatch.setattr(rv, "PATTERN_MIXED_OPERATOR", "first-difference")
    first, _ = rv.reveal_pixels(png, keyring=friend)
    monkeypatch.setattr(rv, "PATTERN_MIXED_OPERATOR", "seam-curvature")
    monkeypatch.setattr(rv, "PATTERN_MIXED_KEEP_RATIO", 0.0)  # never take it out
    left_in, _ = rv.reveal_pixels(png, keyring=friend)
    p_out, p_in = _psnr(taken_out[y : y + h, x : x + w], ref), _psnr(left_in[y : y + h, x : x + w], ref)
    p_first = _psnr(first[y : y + h, x : x + w], ref)
    assert p_out >= p_in + 1.5, (p_out, p_in)
    assert p_out >= p_first - 0.1, (p_out, p_first)


def test_seam_curvature_sees_block_noise_only_at_seams():
    """The operator the scramble-v5/v6/v7 pattern estimate minimises: its
    adjoint is exact, a noise in each block's mean shows in it alone (no
    curvature inside the blocks), and a linear ramp shows nowhere."""
    rng = np.random.default_rng(3)
    for shape in ((40, 56), (17, 23), (8, 8), (3, 9)):
        u = rng.normal(size=shape)
        gx, gy = rv._seam_curvature(u)
        a, b = rng.normal(size=gx.shape), rng.normal(size=gy.shape)
        lhs = float((gx * a).sum() + (gy * b).sum())
        assert abs(lhs - float((u * rv._seam_curvature_adjoint(a, b, shape)).sum())) < 1e-9
    offsets = np.kron(rng.normal(0, 5, (5, 7)), np.ones((8, 8)))
    at_seams = sum(float(np.abs(g).sum()) for g in rv._seam_curvature(offsets))
    everywhere = float(np.abs(np.diff(offsets, n=2, axis=1)).sum() + np.abs(np.diff(offsets, n=2, axis=0)).sum())
    assert at_seams > 0 and abs(at_seams - everywhere) < 1e-9
    ramp = np.add.outer(np.arange(40) * 0.7, np.arange(56) * -1.3)
    assert all(np.allclose(g, 0) for g in rv._seam_curvature(ramp))


def test_header_falls_back_to_finer_cells(keyrings):
    """A region of a fifth of a 512 x 512 photo leaves too little room
    outside it for the header on the default grid (cells of 12.8 px); the
    writer then takes a finer grid (SPEC.md §9), so the header stays outside
    the region and survives JPEG q30 and WebP 50; the reader does not take
    it for a header written over the region."""
    from skimage import data

    from picveil.robust import embedder
    from picveil.robust.extractor import extract_report

    me, friend, _ = keyrings
    src = _jpeg(data.astronaut())
    box = (144, 144, 224, 224)
    default = embedder.plan(512, 512, [box])
    assert embedder.choose_parity(default, 29) is None  # no room on the default grid
    prot, report, _ = api._protect(src, [box], circle="family", keyring=me)
    assert not any("No robust" in w for w in report.warnings)
    for chain in ("strip,jpeg:30", "strip,webp:50"):
        got = parse_chain(chain).run(prot)
        found = extract_report(_decode(got))
        assert found.grid[0] > default.grid.cols and found.cell_px < 12.0
        header = rh.RobustHeader.from_bytes(found.payload)
        assert rv._header_grid_in_regions(header, len(found.payload), found.grid) is None
        revealed, rep = rv.reveal_pixels(got, keyring=friend)
        x, y, w, h = box
        assert _psnr(revealed[y : y + h, x : x + w], _decode(src)[y : y + h, x : x + w]) > 24.0


def test_header_pattern_kept_where_its_estimate_is_texture(keyrings, monkeypatch):
    """On a textured picture (scikit-image's immunohistochemistry, a
    scramble-v4 region: the circle default's header fits nowhere on 0.26 MP)
    the first-difference estimate of the header pattern barely clears the
    unscrambled block seams, so with that operator reveal keeps the pattern
    (PATTERN_KEEP_RATIO); without the estimate's ridge (PATTERN_RIDGE 1e-4,
    before the seventh session) the smoothness prior took texture for pattern
    and forced removal lost 0.1-0.7 dB here, and forced removal is checked not
    to lose. The seam-curvature estimate (PATTERN_OPERATOR = "seam-curvature",
    an option for block-moving regions, not their default: it loses on small
    regions of other textured photos) is not fooled by this texture: it is
    taken out, and gains on leaving the pattern in (benchmarks/bench_header_pattern.py
    --fallback: 3.0 to 5.0 dB on a lossless copy in this photo's four layouts)."""
    from skimage import data

    from picveil.robust.extractor import extract_report

    me, friend, _ = keyrings
    src = _jpeg(data.immunohistochemistry())
    box = (102, 102, 307, 307)
    prot, report, _ = api._protect(src, [box], circle="family", keyring=me)
    png = parse_chain("strip,png").run(prot)
    found = extract_report(_decode(png))
    header = rh.RobustHeader.from_bytes(found.payload)
    assert header.scheme_id == 5  # scramble-v4, the fallback
    assert rv._header_grid_in_regions(header, len(found.payload), found.grid) is not None
    x, y, w, h = box
    ref = _decode(src)[y : y + h, x : x + w]

    def region_psnr(img):
        return _psnr(img[y : y + h, x : x + w], ref)

    assert rv.PATTERN_OPERATOR == "first-difference"
    guarded, _ = rv.reveal_pixels(png, keyring=friend)
    monkeypatch.setattr(rv, "PATTERN_OPERATOR", "seam-curvature")
    curvature, _ = rv.reveal_pixels(png, keyring=friend)
    monkeypatch.setattr(rv, "PATTERN_OPERATOR", "first-difference")
    monkeypatch.setattr(rv, "PATTERN_KEEP_RATIO", float("inf"))
    forced, _ = rv.reveal_pixels(png, keyring=friend)
    monkeypatch.setattr(rv, "_header_grid_in_regions", lambda *args: None)
    kept, _ = rv.reveal_pixels(png, keyring=friend)
    assert region_psnr(forced) >= region_psnr(guarded) - 0.5, (region_psnr(guarded), region_psnr(forced))
    assert np.array_equal(guarded, kept)
    assert region_psnr(curvature) >= region_psnr(kept) + 2.0, (region_psnr(curvature), region_psnr(kept))
    # the seam measure itself: about 1 for a natural picture, more for block noise
    pic = _decode(src)[..., 1].astype(np.float64)
    noise = np.kron(np.random.default_rng(0).normal(0, 20, (64, 64)), np.ones((8, 8)))
    assert 0.8 < rv._blockiness(pic) < 1.3 and rv._blockiness(pic + noise) > 2.0


@pytest.mark.parametrize("scheme_id", [4, 5])
def test_scramble_adjoints_are_adjoints(scheme_id):
    """The estimates need the adjoints of the scramble's float maps; scramble-v4's
    block-mean scale makes them differ from the inverses: <S⁻¹x, y> = <x, S⁻ᵀy>,
    <Sx, y> = <x, Sᵀy>, and S⁻¹S = identity."""
    from picveil.crypto import RegionKey

    shapes = [(6, 8), (3, 4), (3, 4)]
    sc = rv._Scramble(scheme_id, RegionKey(b"k" * 32), shapes, b"")
    rng = np.random.default_rng(0)
    for ci, (r, c) in enumerate(shapes):
        x, y = rng.normal(size=(r * c, 8, 8)), rng.normal(size=(r * c, 8, 8))
        assert np.isclose(np.sum(sc.inverse(ci, x) * y), np.sum(x * sc.inverse_adjoint(ci, y)))
        assert np.isclose(np.sum(sc.forward(ci, x) * y), np.sum(x * sc.forward_adjoint(ci, y)))
        assert np.allclose(sc.inverse(ci, sc.forward(ci, x)), x)
    assert sc.dc == ([0.7] * 3 if scheme_id == 5 else [1.0] * 3)


def _bars_photo() -> np.ndarray:
    """Black bars on a bright, slightly green light box, as in pca_test1 (opencv-doc):
    the sharp, full-range edges that a scramble pushes out of 0..255 most."""
    from PIL import ImageDraw

    im = Image.new("RGB", (640, 480), (222, 240, 222))
    d = ImageDraw.Draw(im)
    for k in range(5):
        y = 70 + 75 * k
        d.polygon([(150, y), (560, y - 40), (565, y - 8), (155, y + 32)], fill=(18, 20, 18))
    d.rectangle([60, 60, 100, 420], fill=(18, 20, 18))
    rng = np.random.default_rng(7)
    return np.clip(np.asarray(im, dtype=np.float64) + rng.normal(0, 1.5, (480, 640, 1)), 0, 255).astype(np.uint8)


def test_clipping_recovery_keeps_sharp_edges(keyrings, monkeypatch):
    """What the viewer clipped is recovered under an edge-preserving prior, with
    the YCbCr components the viewer clamped before its colour conversion: on
    sharp black-on-white edges both matter (measured: PNG copy 40.7 dB, 28.7
    with a quadratic prior, 30.2 without the component clamps; JPEG q95 40.3)."""
    me, friend, _ = keyrings
    src = _jpeg(_bars_photo())
    boxes = [(48, 32, 272, 224), (336, 224, 240, 208)]
    out, report, _ = api._protect(src, boxes, circle="family", keyring=me)
    assert report.warnings == ()
    original = _decode(src)
    mask = _region_mask(original.shape, [(r.box.x, r.box.y, r.box.w, r.box.h) for r in report.regions])

    def revealed(received) -> float:
        return _psnr(_decode(picveil.reveal(received, keyring=friend))[mask], original[mask])

    for chain in ("png", "jpeg:95"):
        received = parse_chain("strip," + chain).run(out)
        shown = _decode(received)[mask]
        assert ((shown == 0) | (shown == 255)).any(axis=-1).mean() > 0.005  # the case at hand: clipped pixels
        best = revealed(received)
        assert best > 37.0, (chain, best)
        with monkeypatch.context() as m:
            m.setattr(rv, "CLIP_EDGE", 1e6)  # quadratic: 2e(sqrt(g^2 + e^2) - e) = g^2 to 1e-6
            quadratic = revealed(received)
        assert best > quadratic + 5.0, (chain, best, quadratic)
        if chain == "png":
            with monkeypatch.context() as m:
                m.setattr(rv, "COMPONENT_CLIP_THRESHOLD", -1.0)  # only exact 0/255 components: RGB clipping alone
                rgb_only = revealed(received)
            assert best > rgb_only + 5.0, (best, rgb_only)


def _sign_photo() -> np.ndarray:
    """Coloured lettering on coloured signs over a photo (as scenetext05, opencv-doc):
    chroma with sharp edges, which a quadratic smoothness prior smears."""
    from PIL import ImageDraw, ImageFont
    from skimage import data

    im = Image.fromarray(data.coffee()).resize((1024, 768), Image.Resampling.LANCZOS)
    d = ImageDraw.Draw(im)
    font = ImageFont.load_default(size=34)
    for k, (back, ink) in enumerate([((200, 30, 40), (250, 230, 60)), ((20, 70, 170), (240, 240, 240)), ((30, 140, 60), (250, 120, 20))]):
        d.rectangle([40, 40 + 140 * k, 600, 150 + 140 * k], fill=back)
        d.text((60, 60 + 140 * k), "PICVEIL SIGN 42" if k != 1 else "SCRAMBLED TEXT", fill=ink, font=font)
    return np.asarray(im)


def test_chroma_estimate_keeps_colour_edges(keyrings, monkeypatch):
    """The chroma of a re-encoded file is estimated under an edge-preserving
    prior (reweighted passes, CHROMA_IRLS): coloured lettering keeps its edges
    (measured on this picture at JPEG q75: 32.9 dB against 30.2 with one
    quadratic pass)."""
    me, friend, _ = keyrings
    src = _jpeg(_sign_photo())
    boxes = [(32, 32, 576, 128), (32, 304, 576, 128)]
    out, report, _ = api._protect(src, boxes, circle="family", keyring=me)
    original = _decode(src)
    mask = _region_mask(original.shape, [(r.box.x, r.box.y, r.box.w, r.box.h) for r in report.regions])
    received = parse_chain("strip,jpeg:75").run(out)
    best = _psnr(rv.reveal_pixels(received, keyring=friend)[0][mask], original[mask])
    monkeypatch.setattr(rv, "CHROMA_IRLS", 1)
    quadratic = _psnr(rv.reveal_pixels(received, keyring=friend)[0][mask], original[mask])
    assert best > quadratic + 1.0, (best, quadratic)


def test_charbonnier_gradient():
    g = np.random.default_rng(3).normal(0, 20, (9, 7))
    val, grad = rv._charbonnier(g, 4.0)
    h = 1e-6
    for idx in [(0, 0), (4, 3), (8, 6)]:
        step = np.zeros_like(g)
        step[idx] = h
        assert abs((rv._charbonnier(g + step, 4.0)[0] - rv._charbonnier(g - step, 4.0)[0]) / (2 * h) - grad[idx]) < 1e-4
    small = np.full(3, 0.01)
    assert abs(rv._charbonnier(small, 4.0)[0] - float(np.sum(small**2))) < 1e-8  # quadratic near 0
    assert rv._charbonnier(np.array([100.0]), 4.0)[0] < 0.1 * 100.0**2  # linear far out


def test_downscaled_saturated_colours_get_the_stronger_chroma_prior(keyrings, monkeypatch):
    """After a downscale, a saturated photo's chroma is revealed under a prior 16 times
    stronger than luma's (RESIZE_CHROMA_FACTOR): measured on scikit-image's retina
    (deep red) cropped to 1024 px, then 640 px + JPEG q75: 29.4 dB against 26.2
    with the luma's weight (the unprotected photo through the same chain: 42.1).
    Measured with scramble-v4, the scheme the factor was chosen on (scramble-v5
    gains about 0.5 dB from it on this photo: 42.4 against 41.8)."""
    from skimage import data

    me, friend, _ = keyrings
    src = _jpeg(np.ascontiguousarray(data.retina()[200:1224, 200:1224]))
    boxes = [(256, 256, 320, 320)]
    out, report, _ = api._protect(src, boxes, circle="family", keyring=me, scheme="scramble-v4")
    assert report.warnings == ()
    received = parse_chain("strip,resize:640,jpeg:75").run(out)
    ref = np.asarray(Image.fromarray(_decode(src)).resize((640, 640), Image.Resampling.LANCZOS))
    mask = _region_mask(ref.shape, [(r.box.x, r.box.y, r.box.w, r.box.h) for r in report.regions], 640 / 1024)
    strong = _psnr(_decode(picveil.reveal(received, keyring=friend))[mask], ref[mask])
    with monkeypatch.context() as m:
        m.setattr(rv, "RESIZE_CHROMA_FACTOR", 1.0)
        plain_prior = _psnr(_decode(picveil.reveal(received, keyring=friend))[mask], ref[mask])
    assert strong > plain_prior + 1.0, (strong, plain_prior)


def test_downscale_inverse_keeps_edges(keyrings, monkeypatch):
    """The downscale inverse reweights its smoothness prior towards an
    edge-preserving penalty (RESIZE_IRLS): lettering on signs shrunk to 640 px
    and re-encoded at q75 gains over one quadratic pass (measured: 27.5 dB
    against 26.2 before the fit was weighed by the received file's noise; since,
    with fixed keys, 28.5 against 28.3, and 0.2-0.3 dB for three key draws;
    since the resizer's clipping is modelled, 28.88 against 28.79: the clip
    passes took over part of what the reweighting did).
    Not every photo gains: of 13 measured, coffee lost 0.2 dB and ela_original 0.5."""
    _, friend, _ = keyrings
    src = _jpeg(_sign_photo())
    out, report = _protect_with_fixed_keys(src, [(32, 32, 576, 128), (32, 304, 576, 128)], keyrings, "fixed-edges", 11)
    received = parse_chain("strip,resize:640,jpeg:75").run(out)
    revealed = _decode(picveil.reveal(received, keyring=friend))
    h, w = revealed.shape[:2]
    ref = np.asarray(Image.fromarray(_decode(src)).resize((w, h), Image.Resampling.LANCZOS))
    mask = _region_mask(ref.shape, [(r.box.x, r.box.y, r.box.w, r.box.h) for r in report.regions], w / 1024)
    robust = _psnr(revealed[mask], ref[mask])
    monkeypatch.setattr(rv, "RESIZE_IRLS", 1)
    quadratic = _psnr(_decode(picveil.reveal(received, keyring=friend))[mask], ref[mask])
    assert robust > quadratic + 0.05, (robust, quadratic)


@pytest.mark.parametrize("chain, gain", [("resize:960,png", 0.3), ("resize:960,jpeg:85", 0.15)])
def test_downscale_inverse_models_the_resizers_clipping(chain, gain, keyrings, monkeypatch):
    """A resizer writes 8-bit pixels: where Lanczos overshoots next to the
    shown region's clipped, noise-like pixels, it clips, and the linear model
    of the downscale took a clipped pixel for its value. The clip passes model
    it (RESIZE_OUTPUT_CLIP). A slight shrink (1024 to 960 px), where the filter
    keeps most of the scrambled region's detail and overshoots most, with fixed
    keys: measured 40.66 dB against 39.98 (PNG) and 39.04 against 38.67 (q85);
    coffee, astronaut, retina and rocket gained 0.23-0.52 and 0.12-0.30, the
    benchmark's scenetext02, aloeL and retina 0.04-0.65 on 15 shrinks to 1200,
    1080 and 800 px."""
    from skimage import data

    rgb = np.asarray(Image.fromarray(data.chelsea()).resize((1024, 688), Image.Resampling.LANCZOS))
    src = _jpeg(rgb)
    out, report = _protect_with_fixed_keys(src, [(256, 172, 512, 229)], keyrings, f"fixed-resizer-clip-{chain[11:14]}", 5)
    assert report.warnings == ()
    received = parse_chain("strip," + chain).run(out)
    ref = _resized_reference(_decode(src), chain.split(",")[0])
    mask = _region_mask(ref.shape, [(r.box.x, r.box.y, r.box.w, r.box.h) for r in report.regions], 960 / 1024)
    _, friend, _ = keyrings
    modelled = _psnr(rv.reveal_pixels(received, keyring=friend)[0][mask], ref[mask])
    monkeypatch.setattr(rv, "RESIZE_OUTPUT_CLIP", False)
    linear = _psnr(rv.reveal_pixels(received, keyring=friend)[0][mask], ref[mask])
    assert modelled > linear + gain, (modelled, linear)


@pytest.mark.parametrize("quality", [75, 85])
def test_downscale_inverse_weighs_the_fit_by_the_received_jpegs_noise(quality, keyrings, monkeypatch):
    """A re-encoder keeps the low frequencies of the shrunk region almost
    exactly and the high ones barely: the downscale inverse weighs its fit to a
    received JPEG's luma by the inverse of the quantization noise per DCT
    frequency of the received blocks (RESIZE_NOISE_WEIGHTS), with half the
    smoothness weight (RESIZE_NOISE_PRIOR). Lettering on signs shrunk to 640 px,
    fixed keys: measured 28.3 dB against 27.1 unweighted at q75, 29.9 against
    28.8 at q85 (the unprotected photo 30.3 and 31.9)."""
    src = _jpeg(_sign_photo())
    boxes = [(32, 32, 576, 128), (32, 304, 576, 128)]
    out, report = _protect_with_fixed_keys(src, boxes, keyrings, f"fixed-weighed-{quality}", 7)
    assert report.warnings == ()
    chain = f"resize:640,jpeg:{quality}"
    received = parse_chain("strip," + chain).run(out)
    ref = _resized_reference(_decode(src), "resize:640")
    mask = _region_mask(ref.shape, [(r.box.x, r.box.y, r.box.w, r.box.h) for r in report.regions], 640 / 1024)
    _, friend, _ = keyrings
    weighed = _psnr(rv.reveal_pixels(received, keyring=friend)[0][mask], ref[mask])
    monkeypatch.setattr(rv, "RESIZE_NOISE_WEIGHTS", False)
    unweighed = _psnr(rv.reveal_pixels(received, keyring=friend)[0][mask], ref[mask])
    assert weighed > unweighed + 0.6, (weighed, unweighed)
    plain = _psnr(_decode(parse_chain("strip," + chain).run(src))[mask], ref[mask])
    assert weighed > plain - 3.0, (weighed, plain)


def test_the_noise_weights_act_per_frequency_of_the_received_blocks():
    """`_ResizeProblem._weigh` is ``Dᵀ N D`` on the received grid's 8x8 blocks:
    one block's DCT pattern at frequency f comes back times N[f], the noise
    variance ``q² / 12`` (and the pixels' rounding) relative to its mean over
    the 4x4 lowest frequencies; a pattern cut at the picture's edge stays there.
    For a component the received file subsampled, the blocks are those of the
    encoder's average (scaled so that a flat residual weighs as before)."""
    table = np.arange(1, 65, dtype=np.float64).reshape(8, 8)
    var = table**2 / 12.0 + rv.PIXEL_ROUNDING_RMS**2
    problem = object.__new__(rv._ResizeProblem)
    problem.noise = float(var[:4, :4].mean()) / var
    for f in [(0, 0), (1, 2), (7, 7)]:
        r = np.zeros((16, 21))  # two block rows, three block columns (the last cut at 5)
        basis = np.outer(rv._D8[f[0]], rv._D8[f[1]])
        r[8:16, 8:16] = basis
        np.testing.assert_allclose(problem._weigh(r), r * problem.noise[f], atol=1e-12)
    assert problem.noise[0, 0] > 1.0 > problem.noise[7, 7]
    cut = np.zeros((16, 21))
    cut[:8, 16:] = 1.0
    assert problem._weigh(cut).shape == (16, 21)
    # a 4:2:0 component: weighed after the encoder's 2x2 average, on 16x16 received pixels a block
    problem.subsampled = (2, 2)
    flat = np.zeros((32, 40))
    flat[16:32, 16:32] = 3.0
    np.testing.assert_allclose(problem._weigh(flat), flat * problem.noise[0, 0], atol=1e-12)
    checker = np.indices((32, 40)).sum(axis=0) % 2 * 2.0 - 1.0  # what the average takes out entirely
    np.testing.assert_allclose(problem._weigh(checker), 0.0, atol=1e-12)


@pytest.mark.parametrize("quality", [75, 50])
def test_a_lossy_webp_is_revealed_without_its_deblocking_filter(quality, photo, protected_v4, keyrings, monkeypatch):
    """VP8's loop filter blends scrambled blocks; the reveal decodes a WebP
    without it (picveil.jpeg.vp8) and gains over Pillow's filtered decode.
    On scramble-v4, whose blocks the filter blends most (scramble-v5 gains
    about 2 dB from it at WebP 75 on this photo: 41.2 against 39.2)."""
    from picveil.jpeg import vp8

    _, friend, _ = keyrings
    out, _ = protected_v4
    ch = parse_chain(f"strip,webp:{quality}")
    received = ch.run(out)
    original = _decode(photo)
    mask = _region_mask(original.shape, BOXES)
    plain = _psnr(_decode(ch.run(photo))[mask], original[mask])
    unfiltered = _psnr(_decode(picveil.reveal(received, keyring=friend))[mask], original[mask])
    monkeypatch.setattr(vp8, "_binding", lambda: None)  # as without the webp package: Pillow decodes
    filtered = _psnr(_decode(picveil.reveal(received, keyring=friend))[mask], original[mask])
    # measured: q75 36.5 dB against 29.5-30.1 filtered (plain 41.0); q50 34.8 against 22.9 (plain 39.6)
    assert unfiltered > filtered + 3.0, (unfiltered, filtered, plain)
    assert unfiltered > plain - 6.5, (unfiltered, plain)


def test_resubsample_matrix_predicts_a_420_jpegs_chroma():
    """The model of a received 4:2:0 file's chroma (box average, then the
    decoder's triangle upsampling) matches what Pillow's libjpeg-turbo does."""
    rng = np.random.default_rng(5)
    h, w = 61, 83  # odd sizes: the edge groups are padded by replication
    cb = np.clip(128 + 60 * rng.standard_normal((h, w)), 0, 255)
    ycc = np.stack([np.full((h, w), 128.0), cb, np.full((h, w), 128.0)], axis=-1).round().astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(ycc, "YCbCr").save(buf, "JPEG", quality=100, subsampling=2)
    with Image.open(io.BytesIO(buf.getvalue())) as im:
        got = np.asarray(im.convert("YCbCr"))[..., 1].astype(float)  # libjpeg decodes straight to YCbCr
    model = rv._resubsample_matrix(h, 2) @ ycc[..., 1].astype(float) @ rv._resubsample_matrix(w, 2).T.toarray()
    err = np.sqrt(np.mean((got - model) ** 2))
    assert err < 1.5, err  # quantization at q100 and rounding
    assert np.sqrt(np.mean((got - ycc[..., 1]) ** 2)) > 10 * err  # the identity is far off
    assert rv._box_down_matrix(5, 2).toarray().tolist() == [
        [0.5, 0.5, 0, 0, 0], [0, 0, 0.5, 0.5, 0], [0, 0, 0, 0, 1.0]
    ]


@pytest.mark.parametrize("chain", ["resize:1080,jpeg:75", "resize:1080,webp:75"])
def test_a_downscale_reveal_models_the_received_files_chroma_subsampling(chain, photo, protected_v4, keyrings, monkeypatch):
    """After a downscale, the received 4:2:0 file averaged the scrambled chroma
    over pairs of its own pixels; the least-squares inverse models that and
    gains over a model that ignores it. On scramble-v4 (scramble-v5 gains about
    1.5 dB from it on this photo, where scramble-v4 gains over 3)."""
    _, friend, _ = keyrings
    out, _ = protected_v4
    ch = parse_chain("strip," + chain)
    received = ch.run(out)
    plain = _decode(ch.run(photo))
    h, w = plain.shape[:2]
    ref = np.asarray(Image.fromarray(_decode(photo)).resize((w, h), Image.Resampling.LANCZOS))
    mask = _region_mask(plain.shape, BOXES, w / 1800)
    modelled = _psnr(_decode(picveil.reveal(received, keyring=friend))[mask], ref[mask])
    monkeypatch.setattr(rv, "_received_factors", lambda *a: (1, 1))
    ignored = _psnr(_decode(picveil.reveal(received, keyring=friend))[mask], ref[mask])
    # measured: JPEG 33.3 dB against 27.1 ignoring it (plain 40.1); WebP 33.5 against 27.7 (plain 39.1)
    assert modelled > ignored + 3.0, (modelled, ignored)


def test_resize_prior_follows_the_received_files_noise(photo):
    """The downscale inverse's smoothness weight grows with the received JPEG's
    low-frequency quantization steps; a lossless copy gets the floor, a WebP the default."""
    weights = [rv._resize_prior(parse_chain(f"jpeg:{q}").run(photo), "jpeg") for q in (95, 85, 75, 50)]
    assert weights == sorted(weights) and weights[0] < rv.RESIZE_PRIOR < weights[-1]
    assert rv._resize_prior(None, "png") == rv.RESIZE_PRIOR_FLOOR < weights[0]
    assert rv._resize_prior(parse_chain("webp:75").run(photo), "webp") == rv.RESIZE_PRIOR


@pytest.mark.parametrize("chain, gain", [("png", 0.5), ("jpeg:95", 0.5), ("jpeg:85", 0.0)])
def test_a_copy_finer_than_the_protected_file_is_put_back_on_its_lattice(chain, gain, photo, protected_v4, keyrings, monkeypatch):
    """A PNG copy or a q95 re-encode of the q92 protected file still shows its
    quantization lattice: the reveal snaps the regions' coefficients back to it
    (picveil.robust.lattice) and gains over the plain inverse (measured on this
    photo with scramble-v4: png 47.8 -> 49.6 dB, q95 47.2 -> 49.2). A coarser
    re-encode shows no lattice: nothing changes. (scramble-v5 gains nothing
    measurable here: its reveal of a fine copy is bounded by the protected file's
    own quantization of the mixed coefficients, 46.5-46.7 dB either way.)"""
    _, friend, _ = keyrings
    received = parse_chain("strip," + chain).run(protected_v4[0])
    mask = _region_mask((1200, 1800), BOXES)
    original = _decode(photo)[mask]
    with_lattice = rv.reveal_pixels(received, keyring=friend)[0]
    monkeypatch.setattr(rv, "LATTICE_SNAP", False)
    without = rv.reveal_pixels(received, keyring=friend)[0]
    p_with, p_without = _psnr(with_lattice[mask], original), _psnr(without[mask], original)
    if gain:
        assert p_with >= p_without + gain, (p_with, p_without)
    else:
        assert np.array_equal(with_lattice, without)


def test_a_reencode_at_the_protected_files_own_quality_is_not_taken_for_it(photo, protected, keyrings, monkeypatch):
    """A platform that re-encodes at the very quality of the protected file (what
    `picveil fit` writes for it) keeps its quantization tables. The header's
    coefficient check (version 3) tells that file from the stripped original:
    it gets the reveal after a re-encode (clipping and chroma repairs):
    46.9 dB on this photo, against 31.9 when its coefficients were taken for
    the protected ones."""
    _, friend, _ = keyrings
    out, _ = protected
    assert rh.RobustHeader.from_bytes(picveil.robust.extract(_decode(out))).coef_check is not None
    same = parse_chain("strip,jpeg:92").run(out)  # the photo is a Pillow q92 JPEG: the same tables
    revealed, report = rv.reveal_pixels(same, keyring=friend)
    assert report.source == "jpeg-coefficients"
    stripped = rv.reveal_pixels(parse_chain("strip").run(out), keyring=friend)[1]
    assert stripped.source == "jpeg-coefficients (integer)"  # the file itself: its coefficients
    mask = _region_mask((1200, 1800), BOXES)
    original = _decode(photo)[mask]
    monkeypatch.setattr(rv, "_intact", lambda *a: (True, True))  # what a version-2 header allowed
    taken_for_it, old = rv.reveal_pixels(same, keyring=friend)
    assert old.source == "jpeg-coefficients (integer)"
    assert _psnr(revealed[mask], original) >= _psnr(taken_for_it[mask], original) + 3.0


def _resized_reference(rgb: np.ndarray, chain: str) -> np.ndarray:
    """The original through the same resize step (the yardstick of a downscale)."""
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG")
    return _decode(parse_chain(chain).run(buf.getvalue()))


@pytest.mark.parametrize("method, kernel", [("bilinear", "bilinear"), ("box", "box")])
def test_a_downscale_is_inverted_with_the_platforms_resampling_filter(method, kernel, photo, protected_v4, keyrings, monkeypatch):
    """A platform that shrinks with another filter than Lanczos: the reveal
    picks the filter by cross-validation (reported in `resampling`) and beats
    a Lanczos model of the same received file. On scramble-v4, whose choice is
    reliable (scramble-v5's, on this photo: bilinear right, box taken for Lanczos;
    its reveal after this 44 % shrink is 3-4 dB below scramble-v4's)."""
    from picveil.robust.reveal import reveal_pixels

    _, friend, _ = keyrings
    out, _ = protected_v4
    received = parse_chain(f"strip,resize:800:{method},jpeg:85").run(out)
    ref = _resized_reference(_decode(photo), f"resize:800:{method}")
    mask = _region_mask(ref.shape, BOXES, ref.shape[1] / _decode(photo).shape[1])
    revealed, report = reveal_pixels(received, keyring=friend)
    assert report.resampling == kernel
    chosen = _psnr(revealed[mask], ref[mask])
    _, rep = api._reveal(received, keyring=friend)  # and the user is told
    assert any(f"resampling as {kernel}" in w and "shrunk to 44%" in w for w in rep.warnings), rep.warnings
    monkeypatch.setattr(rv, "RESIZE_KERNELS", ("lanczos",))
    revealed, report = reveal_pixels(received, keyring=friend)
    assert report.resampling == "lanczos"
    lanczos = _psnr(revealed[mask], ref[mask])
    assert chosen > lanczos + 0.5, (chosen, lanczos)


@pytest.fixture(scope="module")
def protected_large(photo, keyrings):
    """The photo with one large region (the circle default, scramble-v7), with
    fixed keys as `protected_v4`: the filter read from the spectrum depends on
    the keys where two filters are close (bench_resize_kernel.py measures it
    over fresh keys)."""
    out, report = _protect_with_fixed_keys(photo, [(400, 224, 960, 720)], keyrings, "fixed-large", 2)
    assert report.warnings == ()
    assert rh.RobustHeader.from_bytes(picveil.robust.extract(_decode(out))).scheme_id in rv._MixScramble.scheme_ids
    return out


@pytest.mark.parametrize(
    "method, kernel",
    [("lanczos", "lanczos"), ("bicubic", "bicubic"), ("bilinear", "bilinear"), ("opencv-area", "area"), ("nearest", "nearest")],
)
def test_the_filter_of_a_downscale_is_read_from_the_mixed_regions_spectrum(method, kernel, protected_large, keyrings):
    """scramble-v7 regions are random fields with public energies per
    frequency, so the platform's filter is read from the energies the
    received blocks show there (`_spectral_kernel`), whatever the keys and the
    region: Lanczos (which the cross-validation took for bilinear on mixed
    regions), bilinear and OpenCV's INTER_AREA, after a 44 % shrink and a q85
    re-encode; the fit of the true filter is far below the others'."""
    _, friend, _ = keyrings
    received = parse_chain(f"strip,resize:800:{method},jpeg:85").run(protected_large)
    image = _decode(received)
    header = rh.RobustHeader.from_bytes(picveil.robust.extract(image))
    keys, _ = rv._open_groups(header, friend)
    regs, _, _ = rv._regions(header, keys)
    fits, blocks = rv._spectral_fits(image, header, regs, rv._luma_table(received, "jpeg"))
    assert blocks > 1000 and set(fits) == set(rv.RESIZE_KERNELS)
    assert rv._spectral_kernel(image, header, regs, rv._luma_table(received, "jpeg")) == kernel, fits
    assert fits[kernel] < rv.KERNEL_SPECTRUM_FIT
    if method == "lanczos":  # what the cross-validation took it for fits far worse
        assert fits["bilinear"] > 3 * fits["lanczos"], fits


def test_a_near_tie_in_the_spectrum_is_decided_by_the_profiles(protected_large, keyrings, monkeypatch):
    """The spectral fit of the true filter moves with the key draw, and Pillow's
    box sometimes fitted a Lanczos shrink a little better (the 4 MP mosaic at
    1080 px, 3 of 17 draws). Any kernel within KERNEL_TWIN_RATIO of the best
    is then weighed by the energy's pattern across rows and columns, where
    Lanczos and box are far apart (measured 0.70-0.80 against 0.40-0.54)."""
    _, friend, _ = keyrings
    received = parse_chain("strip,resize:800,jpeg:85").run(protected_large)
    image = _decode(received)
    header = rh.RobustHeader.from_bytes(picveil.robust.extract(image))
    keys, _ = rv._open_groups(header, friend)
    regs, _, _ = rv._regions(header, keys)
    table = rv._luma_table(received, "jpeg")
    profiles = rv._profile_fits(image, header, regs, ["lanczos", "box"])
    assert profiles["lanczos"] > profiles["box"] + 0.15, profiles
    fits, blocks = rv._spectral_fits(image, header, regs, table)
    tied = dict(fits, box=0.9 * fits["lanczos"])  # as in those draws: box a little ahead
    monkeypatch.setattr(rv, "_spectral_fits", lambda *a, **k: (tied, blocks))
    assert rv._spectral_kernel(image, header, regs, table) == "lanczos"
    far = {k: 10.0 * v for k, v in fits.items()} | {"box": 0.9 * fits["lanczos"]}  # beyond the ratio: the spectrum decides
    monkeypatch.setattr(rv, "_spectral_fits", lambda *a, **k: (far, blocks))
    assert rv._spectral_kernel(image, header, regs, table) == "box"


def test_a_downscale_of_mixed_regions_is_modelled_with_the_filter_read(photo, keyrings, monkeypatch):
    """The reveal after a shrink of the circle default's regions models it with
    the filter `_spectral_kernel` read, names it, and reveals the regions. With
    fixed keys, as `protected_large`: the filter read depends on the keys (with
    fresh keys this passed 25 runs of 25, 1.2-2.1 dB under the unprotected
    photo, and failed once in a full run of this file)."""
    _, friend, _ = keyrings
    out, report = _protect_with_fixed_keys(photo, BOXES, keyrings, "fixed-mixed", 6)
    assert report.warnings == ()
    received = parse_chain("strip,resize:800:bilinear,jpeg:85").run(out)
    calls = []
    spectral = rv._spectral_kernel
    monkeypatch.setattr(rv, "_spectral_kernel", lambda *a, **k: calls.append(spectral(*a, **k)) or calls[-1])
    revealed, report = rv.reveal_pixels(received, keyring=friend)
    assert calls == ["bilinear"] and report.resampling == "bilinear"
    ref = _resized_reference(_decode(photo), "resize:800:bilinear")
    mask = _region_mask(ref.shape, BOXES, ref.shape[1] / _decode(photo).shape[1])
    plain = _decode(parse_chain("strip,resize:800:bilinear,jpeg:85").run(photo))
    assert _psnr(revealed[mask], ref[mask]) > _psnr(plain[mask], ref[mask]) - 6.0


def test_a_nearest_neighbour_downscale_is_modelled_as_one(keyrings, monkeypatch):
    """A naive pipeline that shrinks with Pillow's NEAREST keeps one scrambled
    pixel in each input span and drops the others. The reveal reads that
    filter from the mixed region's spectrum and models the shrink as those
    picks (the same ones as Pillow's, ties included), with a stronger prior
    (KERNEL_PRIOR_FACTORS). The spectrum fits Pillow's box as well (it
    averages one or two input pixels at this 1.3x shrink), and read box before
    NEAREST was a candidate; the energy's pattern across rows and columns
    tells them apart (`_profile_fits`). On scikit-image's retina (2 MP, its own
    detail, not an upscale), with fixed keys: nearest 43.7 dB, the box model
    38.9, the unprotected photo through the same chain 44.0."""
    from skimage import data

    _, friend, _ = keyrings
    photo = _jpeg(data.retina())
    box = (512, 384, 432, 400)
    out, report = _protect_with_fixed_keys(photo, [box], keyrings, "fixed-nearest", 4)
    assert report.warnings == ()
    chain = "strip,resize:1080:nearest,jpeg:85"
    received = parse_chain(chain).run(out)
    ref = _resized_reference(_decode(photo), "resize:1080:nearest")
    scale = ref.shape[1] / 1411
    mask = _region_mask(ref.shape, [box], scale)
    image = _decode(received)
    header = rh.RobustHeader.from_bytes(picveil.robust.extract(image))
    keys, _ = rv._open_groups(header, friend)
    regs, _, _ = rv._regions(header, keys)
    fits, _ = rv._spectral_fits(image, header, regs, rv._luma_table(received, "jpeg"))
    assert fits["box"] < rv.KERNEL_TWIN_RATIO * fits["nearest"]  # the spectrum alone cannot tell them apart
    profiles = rv._profile_fits(image, header, regs, ["box", "nearest"])
    assert profiles["nearest"] > profiles["box"] + 0.1, profiles
    revealed, report = rv.reveal_pixels(received, keyring=friend)
    assert report.resampling == "nearest"
    nearest = _psnr(revealed[mask], ref[mask])
    plain = _decode(parse_chain(chain).run(photo))
    assert nearest > _psnr(plain[mask], ref[mask]) - 1.5, (nearest, _psnr(plain[mask], ref[mask]))
    monkeypatch.setattr(rv, "RESIZE_KERNELS", ("box",))
    revealed, report = rv.reveal_pixels(received, keyring=friend)
    assert report.resampling == "box"
    assert nearest > _psnr(revealed[mask], ref[mask]) + 3.0, (nearest, _psnr(revealed[mask], ref[mask]))


def test_a_nearest_neighbour_downscale_of_regions_off_the_mcu_grid(keyrings):
    """The benchmark's boxes on retina, NEAREST to 1080 px: the resizer-clipping
    model (which such a filter never needs: it picks, it does not overshoot)
    once read a window of the picture that its picks did not reach to the
    region's edge, and the reveal failed with a ValueError."""
    from skimage import data

    _, friend, _ = keyrings
    photo = _jpeg(data.retina())
    boxes = [(709, 214, 272, 341), (1076, 429, 272, 341), (66, 412, 272, 341)]
    out, report = _protect_with_fixed_keys(photo, boxes, keyrings, "fixed-nearest-off-grid", 6)
    received = parse_chain("strip,resize:1080:nearest,jpeg:85").run(out)
    revealed, rep = rv.reveal_pixels(received, keyring=friend)
    assert rep.revealed == (0, 1, 2) and rep.resampling == "nearest"
    ref = _resized_reference(_decode(photo), "resize:1080:nearest")
    mask = _region_mask(ref.shape, [(r.box.x, r.box.y, r.box.w, r.box.h) for r in report.regions], ref.shape[1] / 1411)
    assert _psnr(revealed[mask], ref[mask]) > _psnr(_decode(received)[mask], ref[mask]) + 10


@pytest.mark.parametrize("encode, halo_gain", [("png", 5.0), ("jpeg:75", 1.0)])
def test_a_downscale_reveal_models_the_clipping_and_clears_the_pixels_beside_the_regions(encode, halo_gain, photo, keyrings, monkeypatch):
    """The viewer clipped the shown (scrambled) regions before the platform shrank
    them, and the shrink mixed each region into the received pixels beside it.
    The reveal models the clipping (RESIZE_CLIP_PASSES) and swaps the scrambled
    regions' share of the pixels beside them for the revealed regions'
    (RESIZE_CLEAN): the regions come back closer to the shrunk original, and
    the three pixels around them lose most of the scrambled halo they showed.
    With fixed keys (the gain depends on them). After a JPEG re-encode, the
    pixels around a region keep the noise of the received blocks that the
    scrambled region reached into, which no reveal takes back. Measured
    (region, pixels around it, in dB): a PNG 41.8 and 34.4 against 39.1 and
    27.3 before; JPEG q75 37.7 and 24.8 against 36.4 and 23.3 (unprotected
    40.1 and 40.0)."""
    _, friend, _ = keyrings
    out, report = _protect_with_fixed_keys(photo, BOXES, keyrings, "fixed-halo-" + encode.replace(":", ""), 3)
    assert report.warnings == ()
    ch = parse_chain(f"strip,resize:1080,{encode}")
    received = ch.run(out)
    ref = _resized_reference(_decode(photo), "resize:1080")
    scale = ref.shape[1] / _decode(photo).shape[1]
    boxes = [(r.box.x, r.box.y, r.box.w, r.box.h) for r in report.regions]
    inside = _region_mask(ref.shape, boxes, scale)
    grown = [(x - 3 / scale, y - 3 / scale, w + 6 / scale, h + 6 / scale) for x, y, w, h in boxes]
    around = _region_mask(ref.shape, grown, scale) & ~inside

    def scores(img):
        return _psnr(img[inside], ref[inside]), _psnr(img[around], ref[around])

    new = scores(_decode(picveil.reveal(received, keyring=friend)))
    monkeypatch.setattr(rv, "RESIZE_CLIP_PASSES", 0)
    monkeypatch.setattr(rv, "RESIZE_CLEAN", False)
    old = scores(_decode(picveil.reveal(received, keyring=friend)))
    unprotected = scores(_decode(ch.run(photo)))
    assert new[0] > old[0] + 0.3, (new, old, unprotected)
    assert new[1] > old[1] + halo_gain, (new, old, unprotected)


@pytest.mark.parametrize("seed", [4, 5])
def test_the_filter_is_read_from_the_spectrums_shape(seed, photo, keyrings, monkeypatch):
    """What a shrunk mixed region shows is the predicted spectrum times a factor
    common to all frequencies (the viewer's clipping, the header's pattern, the
    gain codes' dither), so the fit takes out half of the log ratios' mean
    (KERNEL_SPECTRUM_LEVEL_SHARE). With these keys (one large region, a
    Lanczos shrink to 1080 px, q75) the fit of the energies themselves took the
    shrink for bicubic; the fit reads Lanczos."""
    _, friend, _ = keyrings
    out, report = _protect_with_fixed_keys(photo, [(400, 224, 960, 720)], keyrings, f"fixed-shape-{seed}", seed)
    assert report.warnings == ()
    received = parse_chain("strip,resize:1080,jpeg:75").run(out)
    image = _decode(received)
    header = rh.RobustHeader.from_bytes(picveil.robust.extract(image))
    regs, _, _ = rv._regions(header, rv._open_groups(header, friend)[0])
    table = rv._luma_table(received, "jpeg")
    assert rv._spectral_kernel(image, header, regs, table) == "lanczos"
    monkeypatch.setattr(rv, "KERNEL_SPECTRUM_LEVEL_SHARE", 0.0)
    fits, _ = rv._spectral_fits(image, header, regs, table)
    assert min(fits, key=fits.get) != "lanczos", fits  # what the energies themselves said


def test_spectral_kernel_needs_mixed_blocks_and_a_fit(photo, protected_v4, keyrings):
    """Block-moving regions (scramble-v4) show their content's spectrum, not a
    public one: no filter is read from them (the cross-validation decides)."""
    _, friend, _ = keyrings
    out, _ = protected_v4
    received = parse_chain("strip,resize:800,jpeg:85").run(out)
    header = rh.RobustHeader.from_bytes(picveil.robust.extract(_decode(received)))
    keys, _ = rv._open_groups(header, friend)
    regs, _, _ = rv._regions(header, keys)
    assert regs and rv._spectral_kernel(_decode(received), header, regs) is None


def test_the_spectrum_is_read_only_behind_libjpegs_tables(protected_large, keyrings):
    """The spectral fits model libjpeg's rounding: a mozjpeg re-encode (its own
    tables, trellis quantization) is left to the cross-validation, a Pillow or
    OpenCV one (libjpeg's tables at any quality) and a WebP are not."""
    _, friend, _ = keyrings
    for chain, read in (("jpeg:75:mozjpeg", False), ("jpeg:75:opencv", True), ("jpeg:60", True), ("webp:75", True)):
        received = parse_chain(f"strip,resize:800,{chain}").run(protected_large)
        image = _decode(received)
        header = rh.RobustHeader.from_bytes(picveil.robust.extract(image))
        regs, _, _ = rv._regions(header, rv._open_groups(header, friend)[0])
        fmt = "webp" if chain.startswith("webp") else "jpeg"
        table = rv._luma_table(received, fmt)
        assert (table is None) == (fmt == "webp")
        assert (rv._spectral_kernel(image, header, regs, table) is not None) == read, chain


def test_quantized_energy_is_what_rounding_leaves_of_a_gaussian():
    """`_quantized_energy` against a Monte Carlo of libjpeg's rounding: the
    variance plus q²/12 when the step is small, almost nothing when it is large."""
    rng = np.random.default_rng(3)
    var = np.array([400.0, 100.0, 25.0, 4.0, 1.0, 0.25])
    step = np.array([1.0, 10.0, 10.0, 10.0, 1.0, 8.0])
    x = rng.standard_normal((200_000, 1)) * np.sqrt(var)
    mc = np.mean((step * np.round(x / step)) ** 2, axis=0)
    got = rv._quantized_energy(var, step)
    assert np.allclose(got, mc, rtol=0.03, atol=1e-3), (got, mc)
    assert abs(got[0] - (400 + 1 / 12)) < 0.05 and got[-1] < 1e-6


def test_resampling_matrices_match_the_resizers():
    """The downscale model's matrices are Pillow's filters (and OpenCV's
    INTER_AREA and INTER_LINEAR) to float precision, also on a part of the
    picture (Pillow's box)."""
    import cv2

    rng = np.random.default_rng(1)
    x = rng.uniform(0, 255, (90, 700)).astype(np.float32)
    for kernel, flt in rv._PILLOW_FILTERS.items():
        want = np.asarray(Image.fromarray(x, "F").resize((213, 40), getattr(Image.Resampling, flt), box=(10.5, 3.25, 650.0, 88.0)))
        got = rv._resample_matrix(90, 40, kernel, (3.25, 88.0)) @ x @ rv._resample_matrix(700, 213, kernel, (10.5, 650.0)).T.toarray()
        assert np.abs(got - want).max() < 1e-3, kernel
    for kernel, flag in (("area", cv2.INTER_AREA), ("linear", cv2.INTER_LINEAR)):
        want = cv2.resize(x, (213, 40), interpolation=flag)
        assert np.abs(rv._resize_float(x, (213, 40), None, kernel) - want).max() < 1e-3, kernel
    # NEAREST takes single pixels: the very ones Pillow takes, also where
    # (i + 0.5) * scale falls on a pixel's edge (640 -> 480: every third one)
    for (h, w), (oh, ow) in (((90, 700), (40, 213)), ((480, 640), (360, 480)), ((1200, 1800), (1000, 1500))):
        y = rng.uniform(0, 255, (h, w)).astype(np.float32)
        want = np.asarray(Image.fromarray(y, "F").resize((ow, oh), Image.Resampling.NEAREST))
        assert np.array_equal(rv._resize_float(y, (ow, oh), None, "nearest"), want), (h, w)


def _ring_mask(shape, boxes, width: int, scale: float = 1.0) -> np.ndarray:
    """The pixels within `width` of a box scaled by `scale` (chessboard distance) and in none."""
    near = np.zeros(shape[:2], dtype=bool)
    for x, y, w, h in boxes:
        x0, y0, x1, y1 = round(x * scale), round(y * scale), round((x + w) * scale), round((y + h) * scale)
        near[max(y0 - width, 0) : y1 + width, max(x0 - width, 0) : x1 + width] = True
    return near & ~_region_mask(shape, boxes, scale)


#: Measured on the module's photo in two runs (ring PSNR, cleaned / left as
#: received / plain chain): PNG 50.9-53.3 / 28.0 / inf, JPEG q85 40.8-41.3 /
#: 26.2 / 44.7, WebP 75 36.5-37.1 / 25.8-25.9 / 40.5; shrunk to 1080 px, PNG
#: 41.9-42.1 / 34.0-34.6 / inf, q85 32.1-32.2 / 25.3-25.8 / 41.6. After a
#: lossy re-encode the rest is the re-encoder's quantization of the blocks
#: beside the region, which is not linear (and a shrink's received blocks
#: straddle the region's edge).
@pytest.mark.parametrize(
    "chain, gain, floor, plain_margin",
    [
        ("png", 15.0, 45.0, None),
        ("jpeg:85", 10.0, None, -6.0),
        ("webp:75", 8.0, None, -6.0),
        ("resize:1080,png", 5.0, 39.0, None),
        ("resize:1080,jpeg:85", 4.5, None, -12.0),
    ],
)
def test_the_ring_around_a_region_loses_the_scrambled_chroma(chain, gain, floor, plain_margin, photo, protected, keyrings, monkeypatch):
    """A viewer's triangle upsampling of 4:2:0 chroma puts a quarter of a
    region's edge samples on the pixel just outside it, and a re-encoder
    spreads that over two or three. The reveal takes the scrambled chroma's
    share out of those pixels (rv.RING_CLEAN); before, each revealed region
    was framed in coloured noise. After a downscale, the share goes through
    the platform's filter and the received file's own chroma subsampling
    (rv._cleaned). Pixels beyond its reach are left as they were."""
    _, friend, _ = keyrings
    out, _ = protected
    ch = parse_chain("strip," + chain)
    received = ch.run(out)
    original, plain = _decode(photo), _decode(ch.run(photo))
    cleaned, _ = rv.reveal_pixels(received, keyring=friend)
    if cleaned.shape != original.shape:
        original = np.asarray(Image.fromarray(original).resize(cleaned.shape[1::-1], Image.Resampling.LANCZOS))
    scale = cleaned.shape[1] / 1800
    monkeypatch.setattr(rv, "RING_CLEAN", False)
    left, _ = rv.reveal_pixels(received, keyring=friend)
    ring = _ring_mask(original.shape, BOXES, 3, scale)
    p_clean, p_left = _psnr(cleaned[ring], original[ring]), _psnr(left[ring], original[ring])
    p_plain = _psnr(plain[ring], original[ring])
    assert p_clean > p_left + gain, (p_clean, p_left)
    if floor is not None:
        assert p_clean > floor, p_clean
    if plain_margin is not None:
        assert p_clean - p_plain > plain_margin, (p_clean, p_plain)
    far = ~_ring_mask(original.shape, BOXES, 40, scale) & ~_region_mask(original.shape, BOXES, scale)
    assert np.array_equal(cleaned[far], left[far])


@pytest.fixture(scope="module")
def protected_444(keyrings):
    """The coffee photo at 1200 x 800 as a 4:4:4 JPEG (what GIMP and many
    exports write), protected as it is for a circle: its regions' chroma is
    scrambled at full resolution, which a network's 4:2:0 re-encode keeps only
    a quarter of."""
    from skimage import data

    rgb = np.asarray(Image.fromarray(data.coffee()).resize((1200, 800), Image.Resampling.LANCZOS))
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=95, subsampling=0)
    me, _, _ = keyrings
    boxes = [(400, 168, 224, 208), (880, 480, 160, 144)]
    out, report, _ = api._protect(buf.getvalue(), boxes, circle="family", keyring=me)
    assert report.warnings == () and any("4:4:4" in a for a in report.advice)
    return buf.getvalue(), out, [(r.box.x, r.box.y, r.box.w, r.box.h) for r in report.regions]


#: Measured on this photo in two runs (region PSNR, estimated / upsampled and
#: unscrambled / the unprotected 4:4:4 JPEG through the same chain): JPEG q85
#: 42.05-42.12 / 37.08-37.50 / 40.07, WebP 75 38.77-39.07 / 35.43-35.91 / 37.46.
@pytest.mark.parametrize("chain, gain, plain_margin", [("jpeg:85", 3.5, -0.5), ("webp:75", 2.2, -1.0)])
def test_chroma_kept_finer_than_the_received_file_is_estimated(chain, gain, plain_margin, protected_444, keyrings, monkeypatch):
    """A region protected at 4:4:4 and received 4:2:0: its full-resolution
    scrambled chroma is estimated from the received samples (the frequencies
    the scheme writes, under its prior) instead of upsampled and unscrambled,
    which spreads the lost three quarters over the region as colour noise."""
    source, prot, boxes = protected_444
    _, friend, _ = keyrings
    received = parse_chain("strip," + chain).run(prot)
    ref = _decode(source)
    mask = _region_mask(ref.shape, boxes)
    plain = _psnr(_decode(parse_chain("strip," + chain).run(source))[mask], ref[mask])
    got, outs = {}, {}
    for on in (True, False):
        monkeypatch.setattr(rv, "CHROMA_MAP_DOWN", on)
        outs[on], report = rv.reveal_pixels(received, keyring=friend)
        assert report.revealed == (0, 1)
        got[on] = _psnr(outs[on][mask], ref[mask])
    assert got[True] > got[False] + gain, (got, plain)
    assert got[True] > plain + plain_margin, (got, plain)
    far = ~_ring_mask(ref.shape, boxes, 16) & ~mask  # beyond the ring that the regions' chroma reaches
    assert np.array_equal(outs[True][far], outs[False][far])


def test_a_downscale_of_regions_that_touch_reads_each_beside_the_others_revealed(photo, keyrings, monkeypatch):
    """Two regions side by side (a face and the badge below a shoulder, two
    faces): in the downscale inverse's clip passes each region's fit read the
    picture beside it revealed (the other region's scrambled share swapped
    out) but fitted it to received pixels that still held that share, and each
    pass made both worse. The received pixels are now read the same way
    (RESIZE_NEIGHBOURS). Measured with these keys after 1080 px + q85: 37.3 dB
    against 26.6 (the unprotected photo through the same chain: 41.2)."""
    _, friend, _ = keyrings
    boxes = [(400, 288, 256, 320), (656, 288, 256, 208)]
    out, report = _protect_with_fixed_keys(photo, boxes, keyrings, "fixed-touching", 5)
    assert len(report.regions) == 2
    received = parse_chain("strip,resize:1080,jpeg:85").run(out)
    h, w = _decode(received).shape[:2]
    ref = np.asarray(Image.fromarray(_decode(photo)).resize((w, h), Image.Resampling.LANCZOS))
    mask = _region_mask(ref.shape, [(r.box.x, r.box.y, r.box.w, r.box.h) for r in report.regions], w / 1800)
    plain = _psnr(_decode(parse_chain("strip,resize:1080,jpeg:85").run(photo))[mask], ref[mask])
    got = {}
    for on in (True, False):
        monkeypatch.setattr(rv, "RESIZE_NEIGHBOURS", on)
        got[on] = _psnr(_decode(picveil.reveal(received, keyring=friend))[mask], ref[mask])
    assert got[True] > got[False] + 5.0, (got, plain)
    assert got[True] > plain - 6.0, (got, plain)


# --- a screenshot: the picture inside a plain border ------------------------------------
def _canvas(rgb: np.ndarray, pads: tuple[int, int, int, int], colour, scale: float = 1.0) -> np.ndarray:
    """`rgb` (resized by `scale`) on a plain `colour` with ``left, top, right, bottom`` pixels around it."""
    im = Image.fromarray(rgb)
    if scale != 1.0:
        im = im.resize((round(im.width * scale), round(im.height * scale)), Image.Resampling.LANCZOS)
    left, top, right, bottom = pads
    out = Image.new("RGB", (im.width + left + right, im.height + top + bottom), colour)
    out.paste(im, (left, top))
    return np.asarray(out)


def test_picture_frames_find_a_picture_inside_a_plain_border(photo):
    rgb = _decode(photo)[:400, :600]
    h, w = rgb.shape[:2]

    def first(img):
        frames = rv.picture_frames(img)
        return frames[0] if frames else None

    assert rv.picture_frames(rgb) == []  # a photo is no border
    assert first(_canvas(rgb, (40, 10, 0, 200), (24, 24, 28))) == (40, 10, 40 + w, 10 + h)
    assert first(_canvas(rgb, (3, 3, 3, 3), (255, 255, 255))) == (3, 3, 3 + w, 3 + h)
    # a JPEG of it rings beside the edge, inside the block that holds it
    ringing = _decode(_jpeg(_canvas(rgb, (25, 21, 13, 30), (255, 255, 255)), 80))
    assert first(ringing) == (25, 21, 25 + w, 21 + h)
    gray = _canvas(rgb, (9, 9, 9, 9), (0, 0, 0))[:, :, 0]
    assert first(gray) == (9, 9, 9 + w, 9 + h)
    assert rv.picture_frames(_canvas(rgb[:50], (9, 9, 9, 9), (0, 0, 0))) == []  # too little left inside
    assert rv.picture_frames(np.full((300, 300, 3), 7, np.uint8)) == []  # all border
    # a picture whose own edge is near the border's colour (dark on black): the true frame is a candidate
    dark = rgb.copy()
    dark[:, :12] = 4
    frames = rv.picture_frames(_canvas(dark, (17, 17, 17, 17), (0, 0, 0)))
    assert frames[0] == (29, 17, 17 + w, 17 + h) and (17, 17, 17 + w, 17 + h) in frames
    frames = rv.picture_frames(_canvas(dark, (0, 0, 0, 90), (0, 0, 0)))  # a border below only
    assert frames[0] == (12, 0, w, h) and (0, 0, w, h) in frames
    # a card: the photo on white, a 2 px outline, on an app's grey (the outline spans only the card)
    card = _canvas(_canvas(_canvas(rgb, (12,) * 4, (255, 255, 255)), (2,) * 4, (225, 225, 225)), (40,) * 4, (242, 242, 242))
    assert first(card) == (54, 54, 54 + w, 54 + h)
    # rounded corners (a chat bubble) leave the edge lines mostly picture
    from PIL import ImageDraw

    mask = Image.new("L", (w, h), 0)
    ImageDraw.Draw(mask).rounded_rectangle([0, 0, w - 1, h - 1], 24, fill=255)
    bubble = Image.new("RGB", (w, h), (250, 250, 250))
    bubble.paste(Image.fromarray(rgb), (0, 0), mask)
    assert first(_canvas(np.asarray(bubble), (30,) * 4, (250, 250, 250))) == (30, 30, 30 + w, 30 + h)


@pytest.mark.parametrize(
    ("pads", "colour", "scale", "fmt"),
    [((31, 77, 31, 140), (16, 16, 20), 0.6, "png"), ((25, 25, 25, 25), (255, 255, 255), 1.0, "jpeg")],
    ids=["png-screenshot-shrunk", "jpeg-white-border"],
)
def test_a_screenshot_of_the_photo_on_a_plain_background_reveals(photo, protected, keyrings, pads, colour, scale, fmt):
    """A friend's screenshot (the photo shown smaller, app background around
    it) or a repost on a plain border: the picture inside is found and revealed."""
    _, friend, _ = keyrings
    shot = _canvas(_decode(protected[0]), pads, colour, scale)
    plain = _canvas(_decode(photo), pads, colour, scale)
    buf = io.BytesIO()
    Image.fromarray(shot).save(buf, "PNG" if fmt == "png" else "JPEG", **({} if fmt == "png" else {"quality": 90}))
    from picveil.robust.extractor import extract

    with pytest.raises((errors.NoPicveilDataError, HeaderDamagedError)):  # the grid is not the image's
        extract(shot)
    out, report = api._reveal(buf.getvalue(), keyring=friend)
    revealed = _decode(out)
    assert revealed.shape == shot.shape and any("plain border" in w for w in report.warnings)
    left, top = pads[:2]
    mask = np.zeros(shot.shape[:2], bool)
    mask[top:, left:] = _region_mask(shot[top:, left:].shape, BOXES, scale)
    assert _psnr(revealed[mask], plain[mask]) > 32
    assert _psnr(shot[mask], plain[mask]) < 20  # what it was before the reveal
    border = np.ones(shot.shape[:2], bool)
    border[top : top + round(1200 * scale), left : left + round(1800 * scale)] = False
    assert _psnr(revealed[border], _decode(buf.getvalue())[border]) > 40  # returned as received


def test_inspect_reads_the_in_image_header_of_a_downloaded_copy(photo, protected, keyrings):
    """A friend's `picveil inspect` on what a network served (no picveil data
    left) reads the in-image header: the regions and the circle to ask for."""
    me, _, _ = keyrings
    prot, report = protected
    served = parse_chain("strip,resize:1080,jpeg:75").run(prot)
    info = picveil.inspect(served)
    assert info.source == "in-image header" and "shrunk to 60% of 1800×1200" in info.received
    assert (info.width, info.height, info.scheme) == (1800, 1200, "scramble-v8")
    assert [r.box for r in info.regions] == [r.box for r in report.regions]
    assert {r.circle for r in info.regions} == {me.get("family").id_hex[:8]}
    assert any("in-image header" in w for w in info.warnings)
    # a screenshot of it: found inside its border
    shot = _canvas(_decode(parse_chain("strip,png").run(prot)), (20, 50, 20, 90), (250, 250, 250), 0.5)
    buf = io.BytesIO()
    Image.fromarray(shot).save(buf, "PNG")
    info = picveil.inspect(buf.getvalue())
    assert info.source == "in-image header" and "inside a plain border" in info.received
    # the protected file itself is read from its container; a plain photo has nothing
    assert picveil.inspect(prot).source == "container"
    with pytest.raises(errors.NoPicveilDataError):
        picveil.inspect(photo)
