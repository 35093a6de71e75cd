"""End-to-end behaviour of picveil.protect / reveal / inspect on real photos."""

from __future__ import annotations

import errno
import hashlib
import io
import os

import numpy as np
import pytest
from PIL import Image

import picveil
from picveil import api
from picveil import errors
from picveil.jpeg.codec import read_coefficients
from picveil.regions import Box, Region

from .conftest import VARIANTS, decode, encode_jpeg

FACE = (150, 10, 155, 175)
BADGE = (276, 336, 58, 36)


def coeff_arrays(data: bytes) -> list[np.ndarray]:
    c = read_coefficients(data)
    return [c.array(i) for i in range(len(c.components))]


def region_mask(data: bytes, boxes) -> list[np.ndarray]:
    """Per component, True for blocks inside the MCU-snapped boxes."""
    c = read_coefficients(data)
    masks = []
    for comp in c.components:
        m = np.zeros((comp.height_in_blocks, comp.width_in_blocks), bool)
        for x, y, w, h in boxes:
            x0, y0 = x // c.mcu_width, y // c.mcu_height
            x1, y1 = -(-(x + w) // c.mcu_width), -(-(y + h) // c.mcu_height)
            m[y0 * comp.v_samp : y1 * comp.v_samp, x0 * comp.h_samp : x1 * comp.h_samp] = True
        masks.append(m)
    return masks


@pytest.mark.parametrize("sub,progressive", VARIANTS)
def test_exact_round_trip_every_variant(photo, identities, sub, progressive):
    src = encode_jpeg(photo, sub=sub, progressive=progressive)
    prot = picveil.protect(src, [FACE, BADGE], recipients=[identities[0].recipient])
    # a valid JPEG that Pillow opens, same size, same mode
    im = Image.open(io.BytesIO(prot))
    assert im.size == (512, 512)
    assert im.format == "JPEG"
    assert bool(im.info.get("progressive", 0)) == progressive
    # coefficients outside the regions are identical, inside they changed
    before, after = coeff_arrays(src), coeff_arrays(prot)
    masks = region_mask(src, [FACE, BADGE])
    for b, a, m in zip(before, after, masks):
        assert np.array_equal(b[~m], a[~m])
        assert not np.array_equal(b[m], a[m])
    # quantization tables identical
    qs, qp = read_coefficients(src), read_coefficients(prot)
    for i in range(len(qs.components)):
        assert np.array_equal(qs.quant_table(i), qp.quant_table(i))
    # exact reveal: coefficient for coefficient, hence pixel for pixel
    rev = picveil.reveal(prot, identities=[identities[0]])
    for b, r in zip(before, coeff_arrays(rev)):
        assert np.array_equal(b, r)
    assert np.array_equal(decode(src), decode(rev))


def test_odd_size_image_edge_region(odd_photo, identities):
    src = encode_jpeg(odd_photo, sub="4:2:0")
    # a box touching the bottom-right corner: partial MCUs and partial blocks
    prot = picveil.protect(src, [(300, 380, 89, 57)], recipients=[identities[0].recipient])
    assert Image.open(io.BytesIO(prot)).size == (389, 437)
    rev = picveil.reveal(prot, identities=[identities[0]])
    assert np.array_equal(decode(src), decode(rev))


def test_region_is_unrecognisable(photo, identities):
    """The scramble (the circle default; fill's independence of the interior is in test_looks)."""
    src = encode_jpeg(photo, sub="4:2:0")
    x, y, w, h = 144, 0, 176, 192  # the face box snapped to the 16-px MCU grid
    orig = decode(src)[y : y + h, x : x + w].astype(float).mean(axis=2)
    bm_o = orig.reshape(h // 8, 8, w // 8, 8).mean(axis=(1, 3))
    # Each protect draws a fresh key, and one key's correlation spreads around
    # its mean 0.05 (over 150 keys: 2 % above 0.15), so the test averages 5 keys.
    pixel, blocks = [], []
    for _ in range(5):
        prot = picveil.protect(src, [FACE], recipients=[identities[0].recipient], look="scramble")
        scr = decode(prot)[y : y + h, x : x + w].astype(float).mean(axis=2)
        pixel.append(abs(np.corrcoef(orig.ravel(), scr.ravel())[0, 1]))
        bm_s = scr.reshape(h // 8, 8, w // 8, 8).mean(axis=(1, 3))
        blocks.append(abs(np.corrcoef(bm_o.ravel(), bm_s.ravel())[0, 1]))
    # pixels: essentially uncorrelated with the original
    assert np.mean(pixel) < 0.15
    # block means do not form a readable low-resolution picture
    assert np.mean(blocks) < 0.2
    # and the picture outside the snapped region is untouched in coefficients
    outside = decode(prot).astype(int) - decode(src).astype(int)
    assert np.abs(outside[300:, :]).max() == 0


def test_fresh_key_every_time(photo, identities):
    src = encode_jpeg(photo)
    a = picveil.protect(src, [FACE], recipients=[identities[0].recipient], look="scramble")
    b = picveil.protect(src, [FACE], recipients=[identities[0].recipient], look="scramble")
    assert coeff_arrays(a)[0].tobytes() != coeff_arrays(b)[0].tobytes()


def test_default_look_scrambles_only_where_the_robust_header_makes_it_pay(photo, identities, tmp_path):
    """look="auto": a protect for recipients paints `fill` (nothing of the region leaks, and
    without the robust header a scramble would not survive a platform anyway); a protect for
    circles, which writes the robust header, scrambles; naming a scheme scrambles."""
    from picveil.crypto import Keyring

    src = encode_jpeg(photo)
    me = identities[0]
    to_me = picveil.protect(src, [FACE], recipients=[me.recipient])
    assert [r.look for r in picveil.inspect(to_me).regions] == ["fill"]
    assert np.array_equal(decode(picveil.reveal(to_me, identities=[me])), decode(src))  # still exact
    x, y, w, h = 144, 0, 176, 192  # the snapped face: smooth, nothing of the face left
    painted = decode(to_me)[y : y + h, x : x + w].astype(float)
    orig = decode(src)[y : y + h, x : x + w].astype(float)
    assert np.abs(np.diff(painted, axis=0)).mean() < 0.5 * np.abs(np.diff(orig, axis=0)).mean()
    named = picveil.protect(src, [FACE], recipients=[me.recipient], scheme="scramble-v3")
    assert [r.look for r in picveil.inspect(named).regions] == ["scramble"]
    keyring = Keyring.open(tmp_path / "kr", create=True)
    keyring.create_circle("family")
    circle = picveil.protect(src, [FACE], circle="family", keyring=keyring)
    assert [r.look for r in picveil.inspect(circle).regions] == ["scramble"]
    no_header = picveil.protect(src, [FACE], circle="family", keyring=keyring, robust=False)
    assert [r.look for r in picveil.inspect(no_header).regions] == ["fill"]
    mixed = picveil.protect(src, [FACE, picveil.Region(picveil.Box(300, 300, 64, 64), look="scramble")], recipients=[me.recipient])
    assert sorted(r.look for r in picveil.inspect(mixed).regions) == ["fill", "scramble"]


def test_multi_recipient_and_per_region_recipients(photo, identities, key_files):
    family, owner, stranger = identities
    src = encode_jpeg(photo)
    regions = [
        Region(Box(*FACE), recipients=(family.recipient, owner.recipient)),
        Region(Box(*BADGE), recipients=(owner.recipient,)),
    ]
    prot = picveil.protect(src, regions)
    info = picveil.inspect(prot)
    assert [r.recipients for r in info.regions] == [2, 1]
    assert info.groups == 2
    # the owner reveals everything
    full = api._reveal(prot, identities=[key_files[1]])[1]
    assert full.revealed == (0, 1) and full.locked == ()
    assert np.array_equal(decode(picveil.reveal(prot, identities=[owner])), decode(src))
    # the family reveals the face only; the badge stays scrambled
    out, rep = api._reveal(prot, identities=[family])
    assert rep.revealed == (0,) and rep.locked == (1,)
    masks = region_mask(src, [BADGE])
    fam, orig = coeff_arrays(out), coeff_arrays(src)
    assert not np.array_equal(fam[0][masks[0]], orig[0][masks[0]])
    assert np.array_equal(fam[0][~masks[0]], orig[0][~masks[0]])
    with pytest.raises(errors.NotRecipientError):
        picveil.reveal(prot, identities=[family], require_all=True)
    # a stranger opens nothing
    with pytest.raises(errors.NotRecipientError):
        picveil.reveal(prot, identities=[stranger])


def test_passphrase(photo):
    src = encode_jpeg(photo)
    prot = picveil.protect(src, [FACE], passphrase="correct horse")
    assert picveil.inspect(prot).regions[0].passphrase
    assert np.array_equal(decode(picveil.reveal(prot, passphrase="correct horse")), decode(src))
    with pytest.raises(errors.NotRecipientError):
        picveil.reveal(prot, passphrase="wrong horse")


def test_no_key_given_and_no_recipient(photo, identities):
    src = encode_jpeg(photo)
    with pytest.raises(errors.RecipientError):
        picveil.protect(src, [FACE])
    prot = picveil.protect(src, [FACE], recipients=[identities[0].recipient])
    with pytest.raises(errors.NotRecipientError):
        picveil.reveal(prot)
    with pytest.raises(errors.RecipientError):
        picveil.protect(src, [FACE], recipients=["age1notarecipient"])


def test_overlapping_boxes_merge_or_refuse(photo, identities):
    src = encode_jpeg(photo)
    prot = picveil.protect(src, [(100, 100, 100, 100), (150, 150, 100, 100)], recipients=[identities[0].recipient])
    info = picveil.inspect(prot)
    boxes = [r.box for r in info.regions]
    # disjoint rectangles whose union is the union of the two snapped boxes
    cover = np.zeros((512, 512), int)
    for b in boxes:
        cover[b.y : b.y + b.h, b.x : b.x + b.w] += 1
    expect = np.zeros((512, 512), int)
    expect[96:208, 96:208] = 1
    expect[144:256, 144:256] = 1
    assert cover.max() == 1 and np.array_equal(cover, expect)
    assert np.array_equal(decode(picveil.reveal(prot, identities=[identities[0]])), decode(src))
    regions = [Region(Box(100, 100, 100, 100), recipients=(identities[0].recipient,)),
               Region(Box(150, 150, 100, 100), recipients=(identities[1].recipient,))]
    with pytest.raises(errors.RegionError, match="overlap"):
        picveil.protect(src, regions)


@pytest.mark.parametrize("box", [(0, 0, 0, 10), (10, 10, 10, -5), (500, 500, 20, 20), (-1, 0, 10, 10)])
def test_bad_regions(photo, identities, box):
    with pytest.raises(errors.RegionError):
        picveil.protect(encode_jpeg(photo), [box], recipients=[identities[0].recipient])


def test_clip_option(photo, identities):
    prot = picveil.protect(encode_jpeg(photo), [(500, 500, 20, 20)], recipients=[identities[0].recipient], clip=True)
    assert picveil.inspect(prot).regions[0].box == Box(496, 496, 16, 16)


@pytest.mark.parametrize("fmt", ["PNG", "BMP", "TIFF", "WEBP"])
def test_non_jpeg_inputs(photo, identities, fmt):
    buf = io.BytesIO()
    Image.fromarray(photo).save(buf, fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    prot = picveil.protect(buf.getvalue(), [FACE], recipients=[identities[0].recipient], quality=93)
    rev = picveil.reveal(prot, identities=[identities[0]])
    # the reveal equals the JPEG the input was first encoded to
    from picveil.jpeg.loading import to_jpeg

    first = to_jpeg(buf.getvalue(), quality=93)
    assert np.array_equal(decode(rev), decode(first))
    # and that JPEG is a faithful, high-quality copy of the input
    err = decode(rev).astype(float) - photo.astype(float)
    assert 10 * np.log10(255**2 / np.mean(err**2)) > 38


@pytest.mark.parametrize("fmt", ["WEBP", "TIFF", "PNG"])
def test_only_the_first_frame_is_protected_and_the_user_is_told(photo, identities, fmt, tmp_path):
    """An animation or a multi-page file becomes a one-frame JPEG: the report says so."""
    second = np.ascontiguousarray(photo[::-1])
    kw = {"lossless": True} if fmt == "WEBP" else {}
    Image.fromarray(photo).save(tmp_path / "many", fmt, save_all=True, append_images=[Image.fromarray(second)], **kw)
    report = picveil.protect_file(tmp_path / "many", tmp_path / "many.jpg", [FACE], recipients=[identities[0].recipient])
    assert any("2 frames" in w and "first one only" in w for w in report.warnings), report.warnings
    # the first frame is what was protected: outside the region it is the photo, not the second frame
    got = decode((tmp_path / "many.jpg").read_bytes()).astype(float)
    assert np.abs(got[300:] - photo[300:]).mean() < 3 < np.abs(got[300:] - second[300:]).mean()
    Image.fromarray(photo).save(tmp_path / "one", fmt, **kw)
    report = picveil.protect_file(tmp_path / "one", tmp_path / "one.jpg", [FACE], recipients=[identities[0].recipient])
    assert not any("frames" in w for w in report.warnings)


def test_not_an_image_and_corrupt(photo, identities, tmp_path):
    r = [identities[0].recipient]
    with pytest.raises(errors.NotAnImageError):
        picveil.protect(b"hello, this is text", [FACE], recipients=r)
    src = encode_jpeg(photo)
    with pytest.raises(errors.CorruptImageError):
        picveil.protect(src[: len(src) // 2], [FACE], recipients=r)
    gif = io.BytesIO()
    Image.fromarray(photo).save(gif, "GIF")
    with pytest.raises(errors.UnsupportedImageError):
        picveil.protect(gif.getvalue(), [FACE], recipients=r)
    with pytest.raises(errors.InputError):
        picveil.protect(tmp_path / "missing.jpg", [FACE], recipients=r)


def test_wrong_arguments_are_typed_errors_written_for_users(photo, identities):
    """The library's promise: a caller's mistake is a PicveilError with a
    message, not a bare TypeError or AttributeError from deep inside (an
    array, None, a bad quality, a number for recipients, an unknown detection
    class or level). A single box or an Identity is taken for what it means."""
    src, me = encode_jpeg(photo), identities[0]
    with pytest.raises(errors.InputError, match="path or as the file's bytes"):
        picveil.protect(photo, [(0, 0, 8, 8)], recipients=me.recipient)
    with pytest.raises(errors.InputError, match="path or as the file's bytes"):
        picveil.reveal(None)
    with pytest.raises(errors.InputError, match="path or as the file's bytes"):
        picveil.inspect(None)
    for q in (0, 101, "high", True):
        with pytest.raises(errors.InputError, match="quality"):
            picveil.protect(src, [(0, 0, 8, 8)], recipients=me.recipient, quality=q)
    with pytest.raises(errors.RecipientError, match="not int"):
        picveil.protect(src, [(0, 0, 8, 8)], recipients=5)
    with pytest.raises(errors.InputError, match="cats"):
        picveil.protect(src, [], recipients=me.recipient, detect=["faces", "cats"])
    with pytest.raises(errors.InputError, match="level"):
        picveil.protect(src, [], recipients=me.recipient, detect="faces", level=9)
    with pytest.raises(errors.InputError, match="min_score"):  # was a traceback from the detector
        picveil.protect(src, [], recipients=me.recipient, detect="faces", min_score=5)
    one = picveil.protect(src, "150,10,155,175", recipients=[me])  # a box alone, an Identity for its recipient
    assert [r.box for r in picveil.inspect(one).regions] == [r.box for r in picveil.inspect(picveil.protect(src, [(150, 10, 155, 175)], recipients=me.recipient)).regions]
    np.testing.assert_array_equal(decode(picveil.reveal(one, identities=[me])), decode(src))
    with pytest.raises(errors.KeyringNotFoundError, match="no keyring at"):  # a named keyring that is not there: it was ignored
        picveil.reveal(one, keyring="/nonexistent/keyring")


@pytest.mark.parametrize("look", ["fill", "scramble"])
def test_a_network_copy_beside_its_sidecar_shows_the_original_regions(photo, identities, look):
    """Every network re-encodes (and may shrink or convert) the photo: the
    sidecar could not restore such a copy ("exact reveal impossible"), so a
    photo protected for age recipients or a passphrase could not be revealed
    from a post at all. The picveil data holds each region's original
    coefficients and, since container kind 4, the tables that decode them: the
    original regions are pasted into the received picture, scaled as it was.
    Data without kind 4 (older files) is refused as before, and a kind-4 entry
    that does not authenticate is tampering."""
    from picveil.container import decode_container
    from picveil.container.region_data import DATA_TABLES
    from picveil.jpeg.markers import app11_payloads
    from picveil.platforms.simulate import parse_chain

    src, me = encode_jpeg(photo, quality=92), identities[0]
    box = (150, 10, 155, 175)
    prot = picveil.protect(src, [box], recipients=me.recipient, look=look)
    side = api.sidecar_bytes(prot)
    entries = decode_container(app11_payloads(prot))
    assert any(e.box_type == b"pvrd" for e in entries.extras)
    original = decode(src)
    x, y, w, h = 144, 0, 176, 192  # the box snapped to the MCU grid
    for chain, size in (("strip,jpeg:80", None), ("strip,resize:384,jpeg:85", 384), ("strip,webp:75", None)):
        received = parse_chain(chain).run(prot)
        got, report = api._reveal(received, identities=[me], sidecar=side)
        assert report.revealed == (0,) and any("restored from the originals" in wn for wn in report.warnings)
        img = decode(got)
        if size is None:
            ref = original
            want = _psnr(img[y : y + h, x : x + w], ref[y : y + h, x : x + w])
            assert want > 45, (chain, want)  # the original region itself (the received copy's region: about 11 dB)
        else:
            k = size / 512
            ref = np.asarray(Image.fromarray(original).resize((size, size), Image.Resampling.LANCZOS))
            r = (slice(round(y * k) + 2, round((y + h) * k) - 2), slice(round(x * k) + 2, round((x + w) * k) - 2))
            assert _psnr(img[r], ref[r]) > 35, chain  # against the original shrunk the same way
    # written before kind 4: refused as before
    from picveil.container.region_data import BOX_REGION_DATA, decode_region_data, encode_region_data

    c = decode_container(app11_payloads(prot))
    extras = []
    for e in c.extras:
        if e.box_type == BOX_REGION_DATA:
            kept = [d for d in decode_region_data(e.body) if d.kind != DATA_TABLES]
            tampered = [d if d.kind != DATA_TABLES else type(d)(d.region, d.kind, bytes([d.ciphertext[0] ^ 1]) + d.ciphertext[1:]) for d in decode_region_data(e.body)]
            extras.append((type(e)(e.box_type, encode_region_data(kept)), type(e)(e.box_type, encode_region_data(tampered))))
        else:
            extras.append((e, e))
    from dataclasses import replace

    received = parse_chain("strip,jpeg:80").run(prot)
    old = replace(c, extras=tuple(a for a, _ in extras)).to_jumbf()
    with pytest.raises(errors.ContentModifiedError):
        api._reveal(received, identities=[me], sidecar=old)
    bad = replace(c, extras=tuple(b for _, b in extras)).to_jumbf()
    with pytest.raises(errors.TamperedError):
        api._reveal(received, identities=[me], sidecar=bad)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def test_pixel_limit(photo, identities):
    with pytest.raises(errors.ImageTooLargeError):
        picveil.protect(encode_jpeg(photo), [FACE], recipients=[identities[0].recipient], max_pixels=100_000)


def test_cmyk_jpeg_is_converted_and_the_user_is_told(photo, identities, tmp_path):
    """A print export (CMYK JPEG) is converted to RGB like a CMYK TIFF, with a warning."""
    src = tmp_path / "print.jpg"
    Image.fromarray(photo).convert("CMYK").save(src, "JPEG", quality=95)
    report = picveil.protect_file(src, tmp_path / "out.jpg", [FACE], recipients=[identities[0].recipient])
    assert report.source_format == "jpeg-cmyk"
    assert any("CMYK" in w and "re-encoded" in w for w in report.warnings), report.warnings
    restored = decode(picveil.reveal((tmp_path / "out.jpg").read_bytes(), identities=[identities[0]])).astype(float)
    # the RGB picture a viewer shows for the CMYK file, within one JPEG re-encode
    shown = np.asarray(Image.open(src).convert("RGB")).astype(float)
    assert 10 * np.log10(255**2 / np.mean((restored - shown) ** 2)) > 33
    # a plain JPEG passes through untouched and gets no such warning
    plain = tmp_path / "plain.jpg"
    plain.write_bytes(encode_jpeg(photo))
    report = picveil.protect_file(plain, tmp_path / "out2.jpg", [FACE], recipients=[identities[0].recipient])
    assert report.source_format == "jpeg" and not any("CMYK" in w for w in report.warnings)


def test_already_protected_and_plain_images(photo, identities):
    src = encode_jpeg(photo)
    prot = picveil.protect(src, [FACE], recipients=[identities[0].recipient])
    with pytest.raises(errors.InputError, match="already protected"):
        picveil.protect(prot, [BADGE], recipients=[identities[0].recipient])
    with pytest.raises(errors.NoPicveilDataError):
        picveil.inspect(src)
    with pytest.raises(errors.NoPicveilDataError):
        picveil.reveal(src, identities=[identities[0]])


def _app11_positions(data: bytes):
    from picveil.jpeg.markers import read_segments

    return [s for s in read_segments(data) if s.marker == 0xFFEB]


def test_tampered_container_is_detected(photo, identities):
    src = encode_jpeg(photo)
    prot = picveil.protect(src, [FACE, BADGE], recipients=[identities[0].recipient])
    seg = _app11_positions(prot)[0]
    from picveil.container import decode_container
    from picveil.jpeg.markers import app11_payloads

    c = decode_container(app11_payloads(prot))
    # change the second region's salt inside the header (a valid container, wrong tag)
    raw = c.header.to_bytes()
    salt = c.header.regions[1].salt
    i = raw.index(salt)
    start = seg.offset + 4 + bytes(seg.payload).index(raw)  # payload starts after marker+length
    pos = start + i
    bad = bytearray(prot)
    bad[pos] ^= 0x01
    with pytest.raises(errors.TamperedError):
        picveil.reveal(bytes(bad), identities=[identities[0]])
    # random damage anywhere in the container: a typed integrity error, never a garbled picture; damage
    # that leaves the sealed originals intact (a region's tag) may give them back, said so, and exact
    rng = np.random.default_rng(1)
    original = decode(src)
    for _ in range(40):
        bad = bytearray(prot)
        p = int(seg.offset + 4 + rng.integers(0, len(seg.payload)))
        bad[p] ^= 1 << int(rng.integers(0, 8))
        try:
            out, report = api._reveal(bytes(bad), identities=[identities[0]])
        except (errors.IntegrityError, errors.NotRecipientError, errors.UnsupportedVersionError, errors.NoPicveilDataError):
            continue
        assert any("restored from the originals" in w for w in report.warnings)
        for x, y, w, h in (FACE, BADGE):
            assert _psnr(decode(out)[y : y + h, x : x + w], original[y : y + h, x : x + w]) > 45


def test_modified_pixels_are_detected(photo, identities):
    src = encode_jpeg(photo)
    prot = picveil.protect(src, [FACE], recipients=[identities[0].recipient])
    c = read_coefficients(prot)
    blk = c.blocks(0, 2, 3, 20, 21)
    blk[0, 0, 0, 1] += 1
    c.set_blocks(0, 2, 20, blk)
    from picveil.jpeg.markers import app11_payloads, insert_segments
    from picveil.jpeg.metadata import MetadataPolicy, select_metadata

    segments = select_metadata(prot, MetadataPolicy(keep_all=True)) + [(0xFFEB, p) for p in app11_payloads(prot)]
    edited = insert_segments(c.encode(), segments)
    # the edit is caught (the region's tag), and as the rest of the file is as written
    # (container kind 5's digest), it was an edit in place, not a network's re-encode: an error
    with pytest.raises(errors.ContentModifiedError, match="edited after protection"):
        api._reveal(edited, identities=[identities[0]])
    # a re-encoded copy with the picveil data kept: the sealed original comes back, and the report says so
    buf = io.BytesIO()
    Image.open(io.BytesIO(prot)).save(buf, "JPEG", quality=90)
    recoded = insert_segments(buf.getvalue(), [(0xFFEB, p) for p in app11_payloads(prot)])
    out, report = api._reveal(recoded, identities=[identities[0]])
    assert any("re-encoded or edited" in w for w in report.warnings)
    x, y, w, h = FACE
    assert _psnr(decode(out)[y : y + h, x : x + w], decode(src)[y : y + h, x : x + w]) > 45
    # data written before the originals' tables were sealed with them (container kind 4): refused, as it was
    from picveil.container import decode_container
    from picveil.container.region_data import BOX_REGION_DATA, DATA_TABLES, decode_region_data, encode_region_data
    from dataclasses import replace

    cont = decode_container(app11_payloads(prot))
    extras = tuple(
        replace(e, body=encode_region_data([d for d in decode_region_data(e.body) if d.kind != DATA_TABLES]))
        if e.box_type == BOX_REGION_DATA else e
        for e in cont.extras
    )
    with pytest.raises(errors.ContentModifiedError):
        api._reveal(c.encode(), identities=[identities[0]], sidecar=replace(cont, extras=extras).to_jumbf())
    # a re-encode through Pillow (which keeps no APP11) has no picveil data at all
    buf = io.BytesIO()
    Image.open(io.BytesIO(prot)).save(buf, "JPEG", quality=85)
    with pytest.raises(errors.NoPicveilDataError):
        picveil.reveal(buf.getvalue(), identities=[identities[0]])


def test_files_input_untouched_atomic_outputs(photo, identities, tmp_path):
    src = tmp_path / "photo.jpg"
    src.write_bytes(encode_jpeg(photo))
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    mtime = src.stat().st_mtime_ns
    out = tmp_path / "shared.jpg"
    rep = picveil.protect_file(src, out, [FACE], recipients=[identities[0].recipient])
    assert rep.output == out and out.exists()
    with pytest.raises(errors.OutputError):
        picveil.protect_file(src, src, [FACE], recipients=[identities[0].recipient])
    with pytest.raises(errors.OutputError):
        picveil.protect_file(src, tmp_path / "." / "photo.jpg", [FACE], recipients=[identities[0].recipient])
    with pytest.raises(errors.OutputError, match="exists"):
        picveil.protect_file(src, out, [FACE], recipients=[identities[0].recipient])
    # a failing protect leaves no partial output behind
    with pytest.raises(errors.RegionError):
        picveil.protect_file(src, tmp_path / "bad.jpg", [(0, 0, 0, 0)], recipients=[identities[0].recipient])
    assert not (tmp_path / "bad.jpg").exists()
    rev = picveil.reveal_file(out, tmp_path / "restored.jpg", identities=[identities[0]])
    assert rev.revealed == (0,)
    assert np.array_equal(decode((tmp_path / "restored.jpg").read_bytes()), decode(src.read_bytes()))
    assert hashlib.sha256(src.read_bytes()).hexdigest() == digest and src.stat().st_mtime_ns == mtime
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".part")]


def test_metadata_allow_list(photo, identities):
    img = Image.fromarray(photo)
    exif = Image.Exif()
    exif[0x0112] = 1  # orientation
    exif[0x010F] = "Camera maker"
    exif[0x8825] = {1: "N", 2: (52.0, 22.0, 1.0)}  # GPS IFD
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90, exif=exif)
    prot = picveil.protect(buf.getvalue(), [FACE], recipients=[identities[0].recipient])
    got = Image.open(io.BytesIO(prot)).getexif()
    assert got.get(0x010F) == "Camera maker"
    assert 0x8825 not in got or not got.get_ifd(0x8825)
    kept = picveil.protect(buf.getvalue(), [FACE], recipients=[identities[0].recipient], keep_gps=True)
    assert Image.open(io.BytesIO(kept)).getexif().get_ifd(0x8825)


def test_output_opens_in_opencv_and_djpeg(photo, identities, tmp_path):
    import shutil
    import subprocess

    cv2 = pytest.importorskip("cv2")
    prot = picveil.protect(encode_jpeg(photo, progressive=True), [FACE], recipients=[identities[0].recipient])
    arr = cv2.imdecode(np.frombuffer(prot, np.uint8), cv2.IMREAD_COLOR)
    assert arr is not None and arr.shape == (512, 512, 3)
    if shutil.which("djpeg") is None:
        pytest.skip("djpeg (libjpeg-turbo-progs) not installed")
    p = tmp_path / "p.jpg"
    p.write_bytes(prot)
    res = subprocess.run(["djpeg", "-outfile", str(tmp_path / "p.ppm"), str(p)], capture_output=True)
    assert res.returncode == 0 and res.stderr == b""
    assert np.array_equal(np.asarray(Image.open(tmp_path / "p.ppm")), decode(prot))


CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--allow-file-access-from-files", "--virtual-time-budget=5000", "--dump-dom",
]


def test_output_opens_in_chromium(photo, identities, tmp_path):
    import shutil
    import subprocess

    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip("Debian's chromium is not installed")
    imgs = []
    for sub, prog in VARIANTS:
        name = f"{sub.replace(':', '')}_{int(prog)}.jpg"
        (tmp_path / name).write_bytes(
            picveil.protect(encode_jpeg(photo, sub=sub, progressive=prog), [FACE], recipients=[identities[0].recipient])
        )
        imgs.append(name)
    handler = "window.seen=(window.seen||[]);seen.push(%s);if(seen.length==%d)document.title=seen.sort().join(',')"
    ok = handler % ("this.naturalWidth+'x'+this.naturalHeight", len(imgs))
    bad = handler % ("'error'", len(imgs))
    page = "".join(f'<img src="{n}" onload="{ok}" onerror="{bad}">' for n in imgs)
    (tmp_path / "page.html").write_text(f"<html><body>{page}</body></html>")
    res = subprocess.run(
        [exe, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", (tmp_path / "page.html").as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    title = res.stdout.split("<title>")[1].split("</title>")[0]
    assert title.split(",") == ["512x512"] * len(imgs)


def test_grayscale_with_declared_2x2_sampling(photo, identities):
    """Single-component JPEGs may declare 2×2 sampling (Pillow does with subsampling=2); it has no effect."""
    buf = io.BytesIO()
    Image.fromarray(photo).convert("L").save(buf, "JPEG", quality=90, subsampling=2)
    src = buf.getvalue()
    prot = picveil.protect(src, [FACE], recipients=[identities[0].recipient])
    assert picveil.inspect(prot).mcu == (8, 8)
    assert np.array_equal(decode(picveil.reveal(prot, identities=[identities[0]])), decode(src))


def test_container_over_64k_is_chunked(photo):
    """Hundreds of recipients make a container bigger than one APP11 segment."""
    from picveil.crypto import Identity
    from picveil.jpeg.markers import app11_payloads

    many = [Identity.generate() for _ in range(700)]
    prot = picveil.protect(encode_jpeg(photo), [FACE], recipients=[i.recipient for i in many])
    payloads = app11_payloads(prot)
    assert len(payloads) >= 2 and sum(map(len, payloads)) > 65535
    assert picveil.inspect(prot).regions[0].recipients == 700
    assert np.array_equal(decode(picveil.reveal(prot, identities=[many[-1]])), decode(encode_jpeg(photo)))


def test_outputs_follow_the_umask_and_write_failures_are_output_errors(tmp_path, monkeypatch):
    """Outputs get 0666 less the umask (a revealed photo was 0644 even under umask 077);
    a full disk is OutputError with the partial file removed; --force never replaces a
    device or FIFO."""
    from picveil.api import write_atomic

    old = os.umask(0o077)
    try:
        write_atomic(tmp_path / "private.jpg", b"x")
    finally:
        os.umask(old)
    assert (tmp_path / "private.jpg").stat().st_mode & 0o777 == 0o600
    old = os.umask(0o022)
    try:
        write_atomic(tmp_path / "shared.jpg", b"x")
        write_atomic(tmp_path / "key.txt", b"x", mode=0o600)
    finally:
        os.umask(old)
    assert (tmp_path / "shared.jpg").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "key.txt").stat().st_mode & 0o777 == 0o600

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(errors.OutputError, match="No space left"):
        write_atomic(tmp_path / "full.jpg", b"x" * 1000)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["key.txt", "private.jpg", "shared.jpg"]

    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    src = tmp_path / "in.jpg"
    src.write_bytes(encode_jpeg(np.full((64, 64, 3), 90, np.uint8)))
    with pytest.raises(errors.OutputError, match="not a regular file"):
        picveil.protect_file(src, fifo, ["0,0,16,16"], passphrase="pw", overwrite=True)


def test_regions_moved_into_another_picture_are_told(photo, identities, tmp_path):
    """The picture around the regions is tied to them (container kind 5): a
    protected region spliced into another photo reveals with a warning, and a
    sidecar beside another photo is refused, not pasted into it."""
    from picveil.jpeg.markers import app11_payloads, insert_segments

    me = identities[0]
    src = encode_jpeg(photo)
    prot = picveil.protect(src, [FACE], recipients=[me.recipient])
    other_rgb = np.ascontiguousarray(photo[::-1, ::-1])  # another picture of the same size
    other = read_coefficients(encode_jpeg(other_rgb))
    mine = read_coefficients(prot)
    b = picveil.inspect(prot).regions[0].box  # on the 16 px MCU grid (4:2:0)
    for ci, d in ((0, 8), (1, 16), (2, 16)):  # the region's blocks, with the picveil data, into the other photo
        rng = (b.y // d, (b.y + b.h) // d, b.x // d, (b.x + b.w) // d)
        other.set_blocks(ci, rng[0], rng[2], mine.blocks(ci, *rng))
    x, y, w, h = FACE
    spliced = insert_segments(other.encode(), [(0xFFEB, p) for p in app11_payloads(prot)])
    out, report = api._reveal(spliced, identities=[me])
    assert any("not the one that was protected" in w for w in report.warnings), report.warnings
    out, report = api._reveal(prot, identities=[me])
    assert not any("not the one" in w for w in report.warnings)
    # a sidecar beside another photo (no picveil data of its own): refused
    side = tmp_path / "post.jpg.picveil"
    side.write_bytes(api.sidecar_bytes(prot))
    with pytest.raises(errors.ContentModifiedError, match="does not match the picture"):
        api._reveal(encode_jpeg(other_rgb, quality=80), identities=[me], sidecar=side)
    # beside a network's copy of its own photo it still reveals
    buf = io.BytesIO()
    Image.open(io.BytesIO(prot)).save(buf, "JPEG", quality=80)
    out, report = api._reveal(buf.getvalue(), identities=[me], sidecar=side)
    assert _psnr(decode(out)[y : y + h, x : x + w], decode(src)[y : y + h, x : x + w]) > 40
