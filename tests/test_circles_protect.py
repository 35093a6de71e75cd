"""Circles through the container: protect --circle, reveal with the keyring."""

import numpy as np
import pytest

import picveil
from picveil import errors
from picveil.cli.main import main
from picveil.crypto import Keyring
from picveil.regions import Box, Region

from .conftest import decode, encode_jpeg

FACE = (150, 10, 155, 175)
BADGE = (276, 336, 58, 36)


@pytest.fixture()
def two_keyrings(tmp_path):
    me = Keyring.open(tmp_path / "me", create=True)
    friend = Keyring.open(tmp_path / "friend", create=True)
    me.create_circle("family")
    shared = me.share_circle("family", [friend.recipient])
    friend.import_circle(shared)
    return me, friend


def test_circle_round_trip(photo, two_keyrings, tmp_path):
    me, friend = two_keyrings
    src = encode_jpeg(photo)
    prot = picveil.protect(src, [FACE], circle="family", keyring=me)
    info = picveil.inspect(prot)
    assert info.regions[0].circle == me.get("family").id_hex
    assert info.regions[0].recipients == 0
    # the friend reveals with the keyring only: no identity file, no passphrase
    assert np.array_equal(decode(picveil.reveal(prot, keyring=friend)), decode(src))
    # a stranger's keyring is told which circle is needed
    stranger = Keyring.open(tmp_path / "stranger", create=True)
    with pytest.raises(errors.CircleNotFoundError, match=me.get("family").id_hex):
        picveil.reveal(prot, keyring=stranger)


def test_per_region_circles_and_recipients(photo, two_keyrings, identities):
    me, friend = two_keyrings
    me.create_circle("work")
    src = encode_jpeg(photo)
    regions = [Region(Box(*FACE), circle="family", recipients=(identities[0].recipient,)), Region(Box(*BADGE), circle="work")]
    prot = picveil.protect(src, regions, keyring=me)
    out, rep = picveil.api._reveal(prot, keyring=friend)
    assert rep.revealed == (0,) and rep.locked == (1,)
    # --to recipients of a circle region still work through the container
    out, rep = picveil.api._reveal(prot, identities=[identities[0]], keyring=False)
    assert rep.revealed == (0,)
    out, rep = picveil.api._reveal(prot, keyring=me)
    assert rep.revealed == (0, 1)
    assert np.array_equal(decode(out), decode(src))


def test_circle_keys_differ_per_image(photo, two_keyrings):
    me, _ = two_keyrings
    src = encode_jpeg(photo)
    a = picveil.protect(src, [FACE], circle="family", keyring=me)
    b = picveil.protect(src, [FACE], circle="family", keyring=me)
    assert a != b


def test_cli_circle_flow(photo, tmp_path, capsys, monkeypatch):
    home_me, home_friend = tmp_path / "me", tmp_path / "friend"
    assert main(["circle", "create", "family", "--keyring", str(home_me)]) == 0
    assert main(["circle", "whoami", "--keyring", str(home_friend)]) == 0
    friend_rcpt = capsys.readouterr().out.strip().splitlines()[-1]
    assert main(["circle", "share", "family", "--to", friend_rcpt, "-o", str(tmp_path / "family.circle"), "--keyring", str(home_me)]) == 0
    assert main(["circle", "import", str(tmp_path / "family.circle"), "--keyring", str(home_friend)]) == 0
    src = tmp_path / "photo.jpg"
    src.write_bytes(encode_jpeg(photo))
    post = tmp_path / "post.jpg"
    assert main(["protect", str(src), "-o", str(post), "--box", "150,10,155,175", "--circle", "family", "--keyring", str(home_me)]) == 0
    assert main(["protect", str(src), "-o", str(tmp_path / "p2.jpg"), "--box", "150,10,155,175@family", "--keyring", str(home_me)]) == 0
    capsys.readouterr()
    assert main(["reveal", str(post), "-o", str(tmp_path / "r.jpg"), "--keyring", str(home_friend)]) == 0
    assert np.array_equal(decode((tmp_path / "r.jpg").read_bytes()), decode(src.read_bytes()))
    assert main(["inspect", str(post)]) == 0
    shown = capsys.readouterr().out
    assert "robust in-image header: yes" in shown and "ignored by this version" not in shown
    # after a platform (metadata stripped, re-encoded), the friend reveals to PNG
    from picveil.platforms.simulate import parse_chain

    (tmp_path / "downloaded.jpg").write_bytes(parse_chain("jpeg:80").run(post.read_bytes()))
    assert main(["reveal", str(tmp_path / "downloaded.jpg"), "-o", str(tmp_path / "r.png"), "--keyring", str(home_friend)]) == 0
    assert "not exact" in capsys.readouterr().err
    assert (tmp_path / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # a PNG copy of the shown pixels reveals to a PNG by default (lossless stays lossless)
    (tmp_path / "shown.png").write_bytes(parse_chain("png").run(post.read_bytes()))
    assert main(["reveal", str(tmp_path / "shown.png"), "--keyring", str(home_friend)]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "shown.revealed.png")
    assert (tmp_path / "shown.revealed.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    monkeypatch.setenv("PICVEIL_HOME", str(tmp_path / "nobody"))
    assert main(["circle", "whoami"]) == 0
    code = main(["reveal", str(post), "-o", str(tmp_path / "r2.jpg")])
    err = capsys.readouterr().err
    assert code == 4 and "circle" in err and "hint:" in err


def test_cli_passphrase_keyring(photo, tmp_path, capsys, monkeypatch):
    """A keyring created with --passphrase works for protect, reveal and batch:
    the passphrase comes from $PICVEIL_KEYRING_PASSPHRASE or $PICVEIL_PASSPHRASE."""
    home = tmp_path / "ring"
    monkeypatch.setenv("PICVEIL_PASSPHRASE", "correct horse")
    assert main(["circle", "create", "family", "--passphrase", "--keyring", str(home)]) == 0
    assert Keyring.needs_passphrase(home) and not Keyring.needs_passphrase(tmp_path / "none")
    src = tmp_path / "photo.jpg"
    src.write_bytes(encode_jpeg(photo))
    post = tmp_path / "post.jpg"
    assert main(["protect", str(src), "-o", str(post), "--box", "150,10,155,175", "--circle", "family", "--keyring", str(home)]) == 0
    monkeypatch.delenv("PICVEIL_PASSPHRASE")
    monkeypatch.setenv("PICVEIL_KEYRING_PASSPHRASE", "correct horse")
    assert main(["reveal", str(post), "-o", str(tmp_path / "r.jpg"), "--keyring", str(home)]) == 0
    assert np.array_equal(decode((tmp_path / "r.jpg").read_bytes()), decode(src.read_bytes()))
    # batch: each worker opens the keyring with the passphrase
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.jpg").write_bytes(src.read_bytes())
    assert main(["batch", str(tmp_path / "in"), str(tmp_path / "out"), "--box", "150,10,155,175", "--circle", "family", "--keyring", str(home), "--no-progress"]) == 0
    assert main(["batch", "reveal", str(tmp_path / "out"), str(tmp_path / "rev"), "--keyring", str(home), "--no-progress"]) == 0
    assert np.array_equal(decode((tmp_path / "rev" / "a.jpg").read_bytes()), decode(src.read_bytes()))
    capsys.readouterr()
    # the circle commands read it the same way, without --passphrase (they once needed both)
    assert main(["circle", "list", "--keyring", str(home)]) == 0 and "family" in capsys.readouterr().out
    assert main(["circle", "create", "friends", "--keyring", str(home)]) == 0
    assert {c.name for c in Keyring.open(home, passphrase="correct horse").circles} == {"family", "friends"}
    # a new keyring made with --passphrase from $PICVEIL_KEYRING_PASSPHRASE alone
    assert main(["circle", "create", "solo", "--passphrase", "--keyring", str(tmp_path / "ring2")]) == 0
    assert Keyring.open(tmp_path / "ring2", passphrase="correct horse").get("solo")
    capsys.readouterr()
    # a wrong passphrase is reported as such, and nothing is written
    monkeypatch.setenv("PICVEIL_KEYRING_PASSPHRASE", "wrong")
    code = main(["reveal", str(post), "-o", str(tmp_path / "r2.jpg"), "--keyring", str(home)])
    err = capsys.readouterr().err
    assert code == 4 and "wrong passphrase" in err and "hint:" in err
    assert not (tmp_path / "r2.jpg").exists()
    # no passphrase and no terminal: a clear error, not a prompt
    monkeypatch.delenv("PICVEIL_KEYRING_PASSPHRASE")
    code = main(["protect", str(src), "-o", str(tmp_path / "p3.jpg"), "--box", "150,10,155,175", "--circle", "family", "--keyring", str(home)])
    err = capsys.readouterr().err
    assert code != 0 and "PICVEIL_KEYRING_PASSPHRASE" in err and not (tmp_path / "p3.jpg").exists()


def test_a_photo_networks_would_shrink_gets_a_platform_hint(photo, two_keyrings, tmp_path):
    """A circle photo larger than a network's limit warns and names --platform;
    a fitted or small one does not."""
    me, _ = two_keyrings
    wide = tmp_path / "wide.jpg"  # 1800 px: over Instagram's 1080 and WhatsApp's 1600, under Facebook's 2048
    wide.write_bytes(encode_jpeg(np.ascontiguousarray(np.tile(photo, (1, 4, 1))[:, :1800])))
    report = picveil.protect_file(wide, tmp_path / "w.jpg", [FACE], circle="family", keyring=me)
    assert not any("--platform" in w for w in report.warnings)  # advice, not a warning: the output is fine
    hint = [w for w in report.advice if "--platform" in w]
    assert len(hint) == 1 and "Instagram (1080 px)" in hint[0] and "WhatsApp (1600 px)" in hint[0]
    assert "Facebook" not in hint[0] and "1800×512" in hint[0]
    fitted = picveil.protect_file(wide, tmp_path / "f.jpg", [FACE], circle="family", keyring=me, platform="instagram")
    assert not fitted.advice
    small = tmp_path / "small.jpg"
    small.write_bytes(encode_jpeg(photo))
    report = picveil.protect_file(small, tmp_path / "s.jpg", [FACE], circle="family", keyring=me)
    assert not any("--platform" in a for a in report.advice)


def _five_faces(width: int, height: int) -> list[tuple[int, int, int, int]]:
    """Five face-sized boxes (about 3 % of the picture each), apart from each other."""
    bw, bh = width // 7, height // 5
    return [(x * width // 100, y * height // 100, bw, bh) for x, y in ((5, 10), (30, 10), (55, 10), (15, 60), (60, 60))]


def test_a_header_that_fits_nowhere_says_from_what_size_it_would(tmp_path):
    """scramble-v6 named for five faces on a 0.7 MP photo: its header fits neither
    outside the regions nor over the whole picture, so protect warns, and the
    size it names is one from which a copy of the photo does carry it. Seven
    faces' header fits no size at all, and the warning says so."""
    import re

    from PIL import Image
    from skimage import data

    from picveil import api
    from picveil.robust import extract

    me = Keyring.open(tmp_path / "me", create=True)
    me.create_circle("family")
    rgb = data.astronaut()

    def photo(w: int, h: int) -> bytes:
        return encode_jpeg(np.asarray(Image.fromarray(rgb).resize((w, h), Image.Resampling.LANCZOS)), quality=90)

    w, h = 960, 720
    _, report, _ = api._protect(photo(w, h), _five_faces(w, h), circle="family", keyring=me, scheme="scramble-v6")
    (warning,) = report.warnings
    found = re.search(r"from about ([0-9.]+) MP", warning)
    assert found, warning
    mp = float(found.group(1))
    assert mp > w * h / 1e6
    scale = (mp * 1e6 / (w * h)) ** 0.5 * 1.02
    W, H = int(w * scale) // 16 * 16, int(h * scale) // 16 * 16
    big, report, _ = api._protect(photo(W, H), _five_faces(W, H), circle="family", keyring=me, scheme="scramble-v6")
    assert report.warnings == ()
    assert extract(decode(big))  # the header is there, over the regions

    seven = _five_faces(w, h) + [(35 * w // 100, 40 * h // 100, w // 9, h // 8), (80 * w // 100, 35 * h // 100, w // 9, h // 8)]
    _, report, _ = api._protect(photo(w, h), seven, circle="family", keyring=me, scheme="scramble-v6")
    (warning,) = report.warnings
    assert "fits no image" in warning and "MP" not in warning.split("platform,")[-1]


def test_the_circle_fallback_names_the_size_the_default_needs(tmp_path):
    """A circle photo too small for scramble-v6's header gets scramble-v4 and a
    note that names the size from which the default would fit; a copy of that
    size gets the default."""
    import re

    from PIL import Image
    from skimage import data

    from picveil import api

    me = Keyring.open(tmp_path / "me", create=True)
    me.create_circle("family")
    rgb = data.astronaut()

    def protect(side: int):
        photo = encode_jpeg(np.asarray(Image.fromarray(rgb).resize((side, side), Image.Resampling.LANCZOS)), quality=90)
        box = (side * 160 // 512, side * 16 // 512, side * 128 // 512, side * 176 // 512)  # the astronaut's head
        out, report, _ = api._protect(photo, [box], circle="family", keyring=me)
        return picveil.inspect(out).scheme, report

    scheme, report = protect(512)
    assert scheme == "scramble-v4"
    note = " ".join(report.advice)
    found = re.search(r"from about ([0-9.]+) MP", note)
    assert found, note
    mp = float(found.group(1))
    assert 0.27 < mp < 2.0
    side = int((mp * 1e6) ** 0.5 * 1.02) // 16 * 16 + 16
    assert protect(side)[0] == "scramble-v8"


def _png(rgb: np.ndarray) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG")
    return buf.getvalue()


def _region_psnr(img: np.ndarray, ref: np.ndarray, box) -> float:
    x, y, w, h = box
    err = img[y : y + h, x : x + w].astype(np.float64) - ref[y : y + h, x : x + w]
    return float(10 * np.log10(255.0**2 / np.mean(err**2)))


def test_a_non_jpeg_photo_for_a_circle_is_written_4_2_0(photo, two_keyrings):
    """A PNG protected for a circle becomes a 4:2:0 JPEG, as a network serves
    it: its regions reveal from the network's q85 copy within 2 dB of the
    unprotected photo through the same re-encode, and better than from the
    4:4:4 JPEG picveil used to write, whose scrambled colour the network's
    4:2:0 averages over 2x2 pixels (measured on this photo in three key draws:
    38.83-39.09 dB against 38.06-38.24 with the reveal's estimate of the
    full-resolution chroma, about 32.6 without it; plain 39.94)."""
    from picveil.platforms.simulate import parse_chain

    me, friend = two_keyrings
    src = _png(photo)
    chain = parse_chain("strip,jpeg:85")
    scores = {}
    for sub in (None, "4:4:4"):
        prot = picveil.protect(src, [FACE], circle="family", keyring=me, subsampling=sub)
        info = picveil.inspect(prot)
        assert info.subsampling == (sub or "4:2:0")
        box = info.regions[0].box
        box = (box.x, box.y, box.w, box.h)
        scores[sub] = _region_psnr(decode(picveil.reveal(chain.run(prot), keyring=friend)), photo, box)
    plain = _region_psnr(decode(chain.run(src)), photo, box)
    assert scores[None] > plain - 2.0, scores
    assert scores[None] > scores["4:4:4"] + 0.2, scores


def test_the_subsampling_of_a_non_jpeg_input(photo, two_keyrings, identities):
    """4:4:4 (the photo's colour detail) when nothing is for circles or the
    robust header is off; the caller's choice when given; a typed error for a
    name that is not a subsampling. A JPEG input keeps its own."""
    me, _ = two_keyrings
    src = _png(photo)
    cases = [
        (dict(recipients=identities[0].recipient), "4:4:4"),
        (dict(circle="family", keyring=me, robust=False), "4:4:4"),
        (dict(circle="family", keyring=me, subsampling="4:2:2"), "4:2:2"),
        (dict(recipients=identities[0].recipient, subsampling="4:2:0"), "4:2:0"),
    ]
    for options, expected in cases:
        assert picveil.inspect(picveil.protect(src, [FACE], **options)).subsampling == expected, options
    regions = [Region(Box(*FACE), circle="family"), Region(Box(*BADGE), circle="family")]
    assert picveil.inspect(picveil.protect(src, regions, keyring=me)).subsampling == "4:2:0"
    jpeg444 = encode_jpeg(photo, sub="4:4:4")
    assert picveil.inspect(picveil.protect(jpeg444, [FACE], circle="family", keyring=me)).subsampling == "4:4:4"
    with pytest.raises(errors.InputError, match="4:1:1"):
        picveil.protect(src, [FACE], circle="family", keyring=me, subsampling="4:1:1")


def test_an_rgb_jpeg_for_a_circle_is_written_ycbcr_4_2_0(photo, two_keyrings):
    """A JPEG that stores R, G and B (no colour transform) protected for a
    circle is re-encoded as a YCbCr 4:2:0 JPEG first, with a warning: a
    network's 4:2:0 copy kept little of its scrambled planes' differences.
    Measured here after q85, two key draws: 37.3-37.5 dB against 25.5-25.6
    kept RGB (the unprotected photo through the same q85: 38.8). Protected as
    it is (subsampling named), or for a passphrase, it stays RGB."""
    import io

    from PIL import Image

    from picveil.jpeg.codec import read_coefficients
    from picveil.platforms.simulate import parse_chain

    me, friend = two_keyrings
    buf = io.BytesIO()
    Image.fromarray(photo).save(buf, "JPEG", quality=92, keep_rgb=True, subsampling=0)
    src = buf.getvalue()
    assert read_coefficients(src).color_space == "rgb"
    from picveil import api

    prot, report, _ = api._protect(src, [FACE], circle="family", keyring=me)
    assert any("stores its colours as RGB" in w for w in report.warnings)
    assert read_coefficients(prot).color_space == "ycbcr" and picveil.inspect(prot).subsampling == "4:2:0"
    chain = parse_chain("strip,jpeg:85")
    got = _region_psnr(decode(picveil.reveal(chain.run(prot), keyring=friend)), photo, FACE)
    kept = picveil.protect(src, [FACE], circle="family", keyring=me, subsampling="4:4:4")
    assert read_coefficients(kept).color_space == "rgb"
    as_rgb = _region_psnr(decode(picveil.reveal(chain.run(kept), keyring=friend)), photo, FACE)
    plain = _region_psnr(decode(chain.run(src)), photo, FACE)
    assert got > plain - 2.5 and got > as_rgb + 2.0, (got, as_rgb, plain)
    assert read_coefficients(picveil.protect(src, [FACE], passphrase="pw")).color_space == "rgb"


def test_a_4_4_4_jpeg_for_a_circle_is_advised_to_fit_first(photo, two_keyrings, tmp_path):
    """A JPEG with more colour than networks keep is protected as it is (its
    coefficients untouched outside the regions), with advice to fit it first;
    a 4:2:0 JPEG, a fitted one and one not for circles get none."""
    me, _ = two_keyrings
    for sub, options, advised in (
        ("4:4:4", dict(circle="family", keyring=me), True),
        ("4:2:2", dict(circle="family", keyring=me), True),
        ("4:2:0", dict(circle="family", keyring=me), False),
        ("gray", dict(circle="family", keyring=me), False),
        ("4:4:4", dict(circle="family", keyring=me, platform="generic"), False),
        ("4:4:4", dict(passphrase="pw"), False),
    ):
        src = tmp_path / f"in-{sub.replace(':', '')}.jpg"
        src.write_bytes(encode_jpeg(photo, sub=sub))
        report = picveil.protect_file(src, tmp_path / "out.jpg", [FACE], overwrite=True, **options)
        hint = [a for a in report.advice if "re-encodes photos to 4:2:0" in a]
        assert bool(hint) == advised, (sub, options, report.advice)
        if advised:
            assert f"at {sub}" in hint[0] and "--platform" in hint[0]


def test_a_very_low_quality_jpeg_for_a_circle_is_advised_to_fit_first(photo, two_keyrings, tmp_path):
    """A JPEG saved at quality 15 carries its header in coarse steps that a
    network's re-encode wipes out (measured: reveal failed after the simulated
    Facebook and WhatsApp copies of q10-q20 photos): protect advises --platform,
    which re-encodes it at the network's quality first. A q85 photo gets no such advice."""
    me, _ = two_keyrings
    for quality, advised in ((15, True), (85, False)):
        src = tmp_path / f"q{quality}.jpg"
        src.write_bytes(encode_jpeg(photo, quality=quality))
        report = picveil.protect_file(src, tmp_path / "out.jpg", [FACE], overwrite=True, circle="family", keyring=me)
        hint = [a for a in report.advice if "very low quality" in a]
        assert bool(hint) == advised, (quality, report.advice)
        if advised:
            assert "--platform" in hint[0]


def test_a_revealer_with_no_keyring_is_told_which_circle(photo, two_keyrings):
    """No keyring, no identity: the error names the circle and how to get it,
    for the protected file and for a network's copy of it."""
    from picveil.platforms.simulate import parse_chain

    me, _ = two_keyrings
    prot = picveil.protect(encode_jpeg(photo), [FACE], circle="family", keyring=me)
    circle_id = me.get("family").id_hex
    with pytest.raises(errors.CircleNotFoundError, match=circle_id) as exc:
        picveil.reveal(prot)
    assert "circle import" in exc.value.hint
    with pytest.raises(errors.CircleNotFoundError, match=circle_id[:8]):
        picveil.reveal(parse_chain("facebook").run(prot))


def test_boxes_of_two_circles_that_4_2_0_would_join_keep_4_4_4(photo, two_keyrings):
    """Boxes of different circles 4 px apart: 8-pixel MCUs keep them apart,
    4:2:0's 16-pixel ones would put both in one MCU. picveil's own choice of
    4:2:0 must not turn a photo that protects into an error: it falls back to
    4:4:4. A 4:2:0 the caller asked for still reports the clash."""
    me, _ = two_keyrings
    me.create_circle("work")
    src = _png(photo)
    regions = [Region(Box(16, 16, 52, 40), circle="family"), Region(Box(72, 16, 40, 40), circle="work")]
    out = picveil.protect(src, regions, keyring=me)
    info = picveil.inspect(out)
    assert info.subsampling == "4:4:4" and len(info.regions) == 2
    with pytest.raises(errors.RegionError, match="different recipients"):
        picveil.protect(src, regions, keyring=me, subsampling="4:2:0")


def test_mixed_circle_and_recipient_regions_are_told_there_is_no_header(photo, two_keyrings, identities):
    """A circle region beside a --to region gets no in-image header (it needs every
    region for a circle): protect says so, and a misspelt circle gets a suggestion."""
    me, _ = two_keyrings
    src = encode_jpeg(photo)
    regions = [Region(Box(*FACE), circle="family"), Region(Box(*BADGE), recipients=(identities[0].recipient,))]
    from picveil import api

    out, report, _ = api._protect(src, regions, keyring=me)
    assert any("none was written" in a and "--sidecar" in a for a in report.advice), report.advice
    assert "pvru" not in picveil.inspect(out).extra_boxes
    with pytest.raises(errors.CircleNotFoundError, match="Did you mean 'family'") as exc:
        picveil.protect(src, [Region(Box(*FACE), circle="famly")], keyring=me)
    assert "Your circles: family" in exc.value.hint
