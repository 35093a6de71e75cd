"""Region thumbnails in the robust header (robust/SPEC.md §13.7).

A painted region (look != scramble) cannot be undone from pixels; when the
channel has room, its encrypted low-resolution copy travels in the robust
header. Payload encoding (version 2), the codec, the sealing, the budget,
and the whole path: a real ~2 MP photo protected with ``look="fill"`` for a
circle, stripped and re-encoded at JPEG q75, revealed with a friend's keyring.
"""

from __future__ import annotations

import io
import random

import numpy as np
import pytest
from PIL import Image

from picveil import api, errors
from picveil.crypto import Keyring
from picveil.crypto.keys import RegionKey
from picveil.platforms.simulate import parse_chain
from picveil.robust import HeaderDamagedError
from picveil.robust import header as rh
from picveil.robust import reveal as rv
from picveil.robust import thumbnail as th

BOX = (608, 256, 208, 240)  # the cup's rim in coffee at 1800 x 1200, MCU-aligned
#: Region PSNR (dB) the low-resolution copy must beat the painted look by,
#: after strip + JPEG q75. Measured on this photo: thumbnail 29.5, fill 15.3
#: (+14.2 dB); the margin leaves room for the random keys and encoders.
MARGIN_DB = 10.0


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


def _crop(img: np.ndarray, box) -> np.ndarray:
    x, y, w, h = box
    return img[y : y + h, x : x + w]


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
    out, report, _ = api._protect(photo, [BOX], circle="family", keyring=me, look="fill")
    assert report.warnings == ()
    return out


@pytest.fixture(scope="module")
def received(protected):
    return parse_chain("jpeg:75").run(protected)


# --- the payload ------------------------------------------------------------------------------
def _header(thumb: bytes = b"\x11" * 40) -> rh.RobustHeader:
    return rh.RobustHeader(
        scheme_id=1,
        width=1800,
        height=1200,
        layout="4:2:0",
        seed=bytes(range(8)),
        regions=(
            rh.RegionEntry(38, 16, 13, 15, 0, look=1, thumbnail=thumb),
            rh.RegionEntry(78, 49, 10, 8, 0, params=b"\x01\x02"),
            rh.RegionEntry(2, 2, 4, 4, 0, look=3),
        ),
        groups=(rh.GroupEntry(b"\xaa" * 8, b"\x01\x02\x03\x04"),),
    )


def test_payload_round_trip_and_canonical_version():
    h = _header()
    raw = h.to_bytes()
    assert raw[0] >> 4 == 2  # a thumbnail: version 2
    assert rh.RobustHeader.from_bytes(raw) == h
    assert rh.RobustHeader.from_bytes(raw).to_bytes() == raw
    assert len(raw) == len(_header(b"").to_bytes()) + 1 + 40  # length byte + field
    v1 = _header(b"").to_bytes()
    assert v1[0] >> 4 == 1  # no thumbnail: the version-1 bytes, readable by older readers
    assert rh.RobustHeader.from_bytes(v1) == _header(b"")
    with pytest.raises(HeaderDamagedError):  # version 2 without a thumbnail is not canonical
        rh.RobustHeader.from_bytes(bytes([0x20 | (v1[0] & 0x0F)]) + v1[1:])
    with pytest.raises(HeaderDamagedError):  # version 1 cannot carry a thumbnail
        rh.RobustHeader.from_bytes(bytes([0x10 | (raw[0] & 0x0F)]) + raw[1:])
    with pytest.raises(errors.UnsupportedVersionError):
        rh.RobustHeader.from_bytes(bytes([0x50 | (raw[0] & 0x0F)]) + raw[1:])
    # version 3 carries the coefficient check, with or without thumbnails
    from dataclasses import replace

    for hdr in (replace(h, coef_check=0x1234), replace(_header(b""), coef_check=0x1234)):
        raw3 = hdr.to_bytes()
        assert raw3[0] >> 4 == 3 and rh.RobustHeader.from_bytes(raw3) == hdr
    with pytest.raises(ValueError):
        rh.RegionEntry(0, 0, 1, 1, 0, look=0, thumbnail=b"x")  # scramble regions have none


def test_payload_fuzz_never_crashes():
    raw = _header(bytes(range(60))).to_bytes()
    rng = random.Random(7)
    for _ in range(1500):
        data = bytearray(raw)
        for _ in range(rng.randint(1, 4)):
            op = rng.random()
            if not data:
                break
            if op < 0.6:
                data[rng.randrange(len(data))] = rng.randrange(256)
            elif op < 0.8:
                del data[rng.randrange(len(data)) :]
            else:
                data.insert(rng.randrange(len(data) + 1), rng.randrange(256))
        try:
            h = rh.RobustHeader.from_bytes(bytes(data))
        except (HeaderDamagedError, errors.UnsupportedVersionError):
            continue
        assert h.to_bytes() == bytes(data)  # whatever parses is canonical


def test_thumbnail_decode_fuzz_never_crashes():
    rng = np.random.default_rng(3)
    for n in (0, 5, 16, 40, 200):
        for _ in range(40):
            data = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
            for ncomp in (1, 3):
                out = th.decode(data, 31, 17, ncomp=ncomp, out_size=(12, 9))
                assert out is None or (out.shape[:2] == (12, 9) and np.isfinite(out).all())


# --- the codec ------------------------------------------------------------------------------
def test_codec_size_quality_and_resampling(photo):
    region = _crop(_decode(photo), BOX).astype(np.float64)
    mean = np.broadcast_to(region.mean(axis=(0, 1)), region.shape)
    last = _psnr(mean, region)
    for size in (16, 64, 256):
        plain = th.encode(region, size)
        assert len(plain) == size
        rec = th.decode(plain, *region.shape[:2])
        assert rec.shape == region.shape
        q = _psnr(np.clip(rec, 0, 255), region)
        assert q > last + 0.5  # more bytes, better picture; and all beat the mean
        last = q
        small = th.decode(plain, *region.shape[:2], out_size=(60, 52))
        assert small.shape == (60, 52, 3)
    gray = region.mean(axis=-1)
    plain = th.encode(gray, 32)
    assert th.decode(plain, *gray.shape, ncomp=1).shape == gray.shape
    assert th.decode(plain, *gray.shape, ncomp=3) is None  # colour flag must match
    with pytest.raises(ValueError):
        th.encode(region, th.MIN_BYTES - 1)


def test_seal_short_authenticates():
    key, other = RegionKey(b"\x01" * 32), RegionKey(b"\x02" * 32)
    sealed = key.seal_short(rh.THUMBNAIL_LABEL, b"aad", b"hello thumbnail")
    assert len(sealed) == len(b"hello thumbnail") + 4
    assert key.open_short(rh.THUMBNAIL_LABEL, b"aad", sealed) == b"hello thumbnail"
    assert other.open_short(rh.THUMBNAIL_LABEL, b"aad", sealed) is None
    assert key.open_short(rh.THUMBNAIL_LABEL, b"aab", sealed) is None
    assert key.open_short(b"another label", b"aad", sealed) is None
    flipped = bytes([sealed[0] ^ 1]) + sealed[1:]
    assert key.open_short(rh.THUMBNAIL_LABEL, b"aad", flipped) is None
    assert key.open_short(rh.THUMBNAIL_LABEL, b"aad", b"abc") is None


def test_budget_shares_by_area_and_skips_tiny():
    assert rh.thumbnail_budget(10, {0: 100}) == {}
    b = rh.thumbnail_budget(300, {0: 300, 1: 100})
    assert set(b) == {0, 1} and b[0] > 2.5 * b[1]
    assert sum(n + rh.THUMBNAIL_TAG_BYTES + (1 if n + 4 < 128 else 2) for n in b.values()) <= 300
    b = rh.thumbnail_budget(60, {0: 1000, 1: 10})  # the small one would be useless: dropped
    assert list(b) == [0] and b[0] >= th.MIN_BYTES


def test_small_image_protects_without_thumbnail(keyrings):
    me, _, _ = keyrings
    from skimage import data

    small = _jpeg(np.asarray(Image.fromarray(data.chelsea()).resize((256, 192))))
    out, report, _ = api._protect(small, [(96, 48, 64, 64)], circle="family", keyring=me, look="fill")
    from picveil.robust import extract_from_jpeg

    try:
        h = rh.RobustHeader.from_bytes(extract_from_jpeg(out))
    except errors.NoPicveilDataError:
        return  # too small for any header: recorded as a warning, never a failure
    assert all(not r.thumbnail for r in h.regions) or len(h.to_bytes()) <= 64


# --- the whole path ------------------------------------------------------------------------------
def test_fill_region_revealed_at_low_resolution(photo, protected, received, keyrings):
    _, friend, _ = keyrings
    from picveil.robust import extract_from_jpeg

    header = rh.RobustHeader.from_bytes(extract_from_jpeg(protected))
    assert header.regions[0].look != 0 and len(header.regions[0].thumbnail) > 100
    rgb, rep = rv.reveal_pixels(received, keyring=friend)
    assert rep.low_res == (0,) and rep.container_only == () and rep.revealed == ()
    original = _crop(_decode(photo), BOX)
    painted = _psnr(_crop(_decode(received), BOX), original)
    low_res = _psnr(_crop(rgb, BOX), original)
    assert low_res > painted + MARGIN_DB, (low_res, painted)
    # the recipe says so, and counts the region as shown
    _, report = api._reveal_from_pixels(received, keyring=friend)
    assert report.revealed == (0,) and report.locked == ()
    assert any("low-resolution" in w and "Region 1" in w for w in report.warnings)


def test_fill_region_after_a_downscale_shows_its_thumbnail(photo, protected, keyrings):
    """A shrunk picture whose only region is painted: nothing to invert (no
    resampling to estimate), and the thumbnail is pasted at the received size."""
    _, friend, _ = keyrings
    received = parse_chain("strip,resize:900,jpeg:80").run(protected)
    rgb, rep = rv.reveal_pixels(received, keyring=friend)
    assert rep.low_res == (0,) and rep.revealed == () and rep.resampling == "" and rep.scale == 0.5
    box = tuple(v // 2 for v in BOX)
    original = _crop(np.asarray(Image.fromarray(_decode(photo)).resize((900, 600), Image.Resampling.LANCZOS)), box)
    assert _psnr(_crop(rgb, box), original) > _psnr(_crop(_decode(received), box), original) + MARGIN_DB


def test_stranger_gets_an_error_naming_the_circle(received, keyrings):
    me, _, stranger = keyrings
    with pytest.raises(errors.CircleNotFoundError) as exc:
        rv.reveal_pixels(received, keyring=stranger)
    assert me.get("family").circle_id[:4].hex() in str(exc.value)


def test_wrong_key_or_damage_never_shows_a_thumbnail(received, keyrings):
    from picveil.crypto.keys import GroupKey
    from picveil.robust import extract

    image = _decode(received)
    header = rh.RobustHeader.from_bytes(extract(image))
    wrong = {0: GroupKey.generate()}
    out = image.copy()
    assert rv._paste_thumbnails(out, header, wrong, 1.0) == []
    assert np.array_equal(out, image)
    # the right key on a damaged thumbnail, or on a thumbnail moved to another place
    _, friend, _ = keyrings
    keys, _ = rv._open_groups(header, friend)
    entry = header.regions[0]
    t = bytearray(entry.thumbnail)
    t[10] ^= 0x40
    from dataclasses import replace

    for bad in (replace(entry, thumbnail=bytes(t)), replace(entry, x=entry.x + 1)):
        damaged = replace(header, regions=(bad,))
        out = image.copy()
        assert rv._paste_thumbnails(out, damaged, keys, 1.0) == []
        assert np.array_equal(out, image)
    assert rv._paste_thumbnails(image.copy(), header, keys, 1.0) == [0]


def test_exact_reveal_with_container_unchanged(photo, protected, keyrings):
    """The container path still restores the original exactly: the thumbnail
    lives in the header outside the regions, which the undo record takes out."""
    me, _, _ = keyrings
    out, report = api._reveal(protected, keyring=me)
    assert report.revealed == (0,) and report.warnings == ()
    assert np.array_equal(_decode(out), _decode(photo))


# --- the committed payload vector (SPEC.md §13.7) ----------------------------------------------
def test_payload_vector_with_a_thumbnail():
    import json
    from pathlib import Path

    from picveil.crypto import RegionKey

    path = Path(__file__).resolve().parents[1] / "src" / "picveil" / "robust" / "vectors" / "payload" / "payload_v2_thumbnail.json"
    v = json.loads(path.read_text())
    payload = bytes.fromhex(v["payload_hex"])
    hdr = rh.RobustHeader.from_bytes(payload)
    assert (hdr.width, hdr.height, hdr.layout, hdr.scheme_id, hdr.seed.hex(), hdr.tables) == (
        v["width"], v["height"], v["layout"], v["scheme_id"], v["seed_hex"], v["tables"])
    r = hdr.regions[0]
    assert (r.x, r.y, r.w, r.h, r.group, r.look) == tuple(v["region"][k] for k in ("x", "y", "w", "h", "group", "look"))
    assert hdr.to_bytes() == payload  # canonical
    key = RegionKey(bytes.fromhex(v["region_key_hex"]))
    plain = key.open_short(rh.THUMBNAIL_LABEL, rh.thumbnail_aad(0, r), r.thumbnail, rh.THUMBNAIL_TAG_BYTES)
    assert plain == bytes.fromhex(v["thumbnail_plaintext_hex"])
    rendered = rh.open_thumbnail(hdr, 0, key)
    assert np.abs(np.rint(rendered) - np.array(v["rendered_rgb"])).max() <= 1
    # any flipped bit of the sealed thumbnail, or another key, shows nothing
    from dataclasses import replace

    for i in (0, len(r.thumbnail) // 2, len(r.thumbnail) - 1):
        bad = bytearray(r.thumbnail)
        bad[i] ^= 0x10
        hurt = replace(hdr, regions=(replace(r, thumbnail=bytes(bad)),))
        assert rh.open_thumbnail(hurt, 0, key) is None
    assert rh.open_thumbnail(hdr, 0, RegionKey(bytes(32))) is None
