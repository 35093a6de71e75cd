"""Who is in the photo (issue 5, part 4): face embeddings, the encrypted gallery,
``picveil people`` and ``protect --only/--except``.

Real faces only: scikit-image's astronaut (Eileen Collins) and matplotlib's
sample photo of Grace Hopper, two different people; scikit-image's coffee
has no face. Skipped without dlib (the ``[identify]`` extra).
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

dlib = pytest.importorskip("dlib")

import picveil  # noqa: E402
from picveil import errors  # noqa: E402
from picveil.cli.main import main  # noqa: E402
from picveil.crypto import Keyring  # noqa: E402
from picveil.regions.detectors import FacePadding  # noqa: E402
from picveil.regions.identify import (  # noqa: E402
    DEFAULT_THRESHOLD,
    Gallery,
    embed_photo,
    select,
    unpad_box,
)
from picveil.regions.region import Box  # noqa: E402

from .conftest import encode_jpeg  # noqa: E402


def _models_ready() -> str | None:
    from picveil.regions import identify
    from picveil.regions.detectors import DetectorUnavailableError, get

    try:
        identify._load()
        get("faces")
    except DetectorUnavailableError as exc:
        return exc.message
    return None


_WHY = _models_ready()
pytestmark = pytest.mark.skipif(_WHY is not None, reason=f"identification models unavailable: {_WHY}")


# --- real faces -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    from skimage import data

    return data.astronaut()


@pytest.fixture(scope="module")
def hopper() -> np.ndarray:
    cbook = pytest.importorskip("matplotlib.cbook")
    with Image.open(cbook.get_sample_data("grace_hopper.jpg")) as im:
        im = im.convert("RGB")
        return np.asarray(im.resize((round(im.width * 512 / im.height), 512), Image.LANCZOS))


@pytest.fixture(scope="module")
def eileen(astronaut) -> np.ndarray:
    return embed_photo(astronaut)


@pytest.fixture(scope="module")
def composite(astronaut, hopper) -> bytes:
    """Two different real people side by side: Eileen Collins left, Grace Hopper right."""
    return encode_jpeg(np.ascontiguousarray(np.concatenate([astronaut, hopper], axis=1)), quality=92)


def _jpeg_roundtrip(rgb: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def _augment(rgb: np.ndarray, kind: str) -> np.ndarray:
    im = Image.fromarray(rgb)
    if kind == "flip":
        return rgb[:, ::-1].copy()
    if kind == "darker":
        return np.clip(rgb.astype(np.float64) * 0.6, 0, 255).astype(np.uint8)
    if kind == "brighter":
        return np.clip(rgb.astype(np.float64) * 1.3 + 10, 0, 255).astype(np.uint8)
    if kind == "rotate":
        return np.asarray(im.rotate(8, resample=Image.BICUBIC, fillcolor=(128, 128, 128)))
    if kind == "smaller":
        return np.asarray(im.resize((256, 256), Image.LANCZOS))
    if kind == "jpeg30":
        return _jpeg_roundtrip(rgb, 30)
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["flip", "darker", "brighter", "rotate", "smaller", "jpeg30"])
def test_same_person_matches_under_augmentation(astronaut, hopper, eileen, kind):
    gallery = Gallery({"eileen": eileen[None], "grace": embed_photo(hopper)[None]})
    name, distance = gallery.match(embed_photo(_augment(astronaut, kind)))
    assert name == "eileen", distance
    assert distance < DEFAULT_THRESHOLD


def test_different_person_is_rejected(hopper, eileen):
    gallery = Gallery({"eileen": eileen})
    name, distance = gallery.match(embed_photo(hopper))
    assert name is None and distance >= DEFAULT_THRESHOLD
    assert len(gallery) == 1 and gallery.names == ("eileen",)


def test_no_face_in_photo_is_a_typed_error():
    from skimage import data

    with pytest.raises(errors.NoFaceError) as exc:
        embed_photo(data.coffee(), label="coffee.png")
    assert "coffee.png" in exc.value.message


# --- pure helpers -----------------------------------------------------------------------
def test_unpad_box_inverts_the_detectors_padding():
    pad = FacePadding()
    rng = np.random.default_rng(5)
    for _ in range(200):
        w, h = int(rng.integers(20, 200)), int(rng.integers(20, 200))
        b = Box(int(rng.integers(60, 400)), int(rng.integers(100, 400)), w, h)
        padded = pad.apply(b, 1000, 1000)
        back = unpad_box(padded, pad, 1000, 1000)
        assert max(abs(back.x - b.x), abs(back.y - b.y), abs(back.w - b.w), abs(back.h - b.h)) <= 2
    # clipped at the top: the bottom edge and the width still place the face
    b = Box(100, 5, 90, 120)
    back = unpad_box(pad.apply(b, 1000, 1000), pad, 1000, 1000)
    assert abs(back.y + back.h - (b.y + b.h)) <= 2 and abs(back.x - b.x) <= 2


def test_select_rules():
    e = np.eye(3, 128)
    gallery = Gallery({"a": e[0], "b": e[1]})
    faces = ["face-a", "face-b", "stranger"]
    assert select(faces, e, gallery) == faces
    assert select(faces, e, gallery, only="a") == ["face-a"]  # unknown faces are not protected
    assert select(faces, e, gallery, only=["a", "b"]) == ["face-a", "face-b"]
    assert select(faces, e, gallery, except_="a") == ["face-b", "stranger"]  # unknown faces are
    with pytest.raises(errors.PersonNotFoundError):
        select(faces, e, gallery, only="c")
    with pytest.raises(errors.InputError):
        select(faces, e, gallery, only="a", except_="b")
    with pytest.raises(ValueError):
        Gallery({"a": np.zeros(5)})
    tiny = e.copy()
    tiny[0] = np.nan  # face-a too small to identify: protected whatever the choice
    assert select(faces, tiny, gallery, except_="a") == faces
    assert select(faces, tiny, gallery, only="b") == ["face-a", "face-b"]


# --- the gallery in the keyring -----------------------------------------------------------
def test_gallery_is_encrypted_at_rest(tmp_path, eileen):
    home = tmp_path / "home"
    ring = Keyring.open(home, create=True)
    assert ring.add_person("eileen", [eileen.tolist()]) == 1
    assert ring.add_person("eileen", [(eileen * 0.5).tolist()]) == 2
    again = Keyring.open(home)
    assert list(again.people) == ["eileen"]
    np.testing.assert_array_equal(np.asarray(again.people["eileen"][0]), eileen)
    gallery = Gallery.from_keyring(again)
    assert gallery.match(eileen) == ("eileen", 0.0)
    on_disk = b"".join(p.read_bytes() for p in home.iterdir() if p.is_file())
    for v in eileen[:16]:
        for text in (repr(float(v)), f"{v:.6f}", f"{v:.4f}"):
            assert text.encode() not in on_disk
    assert b"eileen" not in on_disk
    assert np.asarray(eileen, dtype="<f8").tobytes()[:16] not in on_disk
    assert np.asarray(eileen, dtype="<f4").tobytes()[:16] not in on_disk
    again.remove_person("eileen")
    assert Keyring.open(home).people == {}
    with pytest.raises(errors.PersonNotFoundError):
        again.remove_person("eileen")
    with pytest.raises(errors.PersonNameError):
        again.add_person("no spaces", [eileen.tolist()])


# --- the command line -----------------------------------------------------------------------
def _run(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture()
def photo_files(tmp_path, astronaut, hopper, composite):
    paths = {"eileen": tmp_path / "eileen.png", "grace": tmp_path / "grace.jpg", "group": tmp_path / "group.jpg"}
    Image.fromarray(astronaut).save(paths["eileen"])
    paths["grace"].write_bytes(encode_jpeg(hopper, quality=85))
    paths["group"].write_bytes(composite)
    return paths


def _protected_boxes(path) -> list[Box]:
    return [r.box for r in picveil.inspect(path.read_bytes()).regions]


def test_cli_people_and_protect_only_except(capsys, tmp_path, photo_files, identities):
    rcpt = identities[0].recipient
    code, out, err = _run(capsys, "people", "list")
    assert code == 0 and "Nobody" in err
    code, out, err = _run(capsys, "people", "add", "eileen", photo_files["eileen"])
    assert code == 0, err
    assert out.strip() == "eileen"
    group = photo_files["group"]

    # --except eileen: Grace is unknown to the gallery, so she is protected
    dst = tmp_path / "except.jpg"
    code, _, err = _run(capsys, "protect", group, "-o", dst, "--detect", "faces", "--except", "eileen", "--to", rcpt)
    assert code == 0, err
    (box,) = _protected_boxes(dst)
    assert box.x >= 512  # the right half: Grace
    # --only eileen: only her face; the unknown face stays visible
    dst = tmp_path / "only.jpg"
    code, _, err = _run(capsys, "protect", group, "-o", dst, "--detect", "faces", "--only", "eileen", "--to", rcpt)
    assert code == 0, err
    (box,) = _protected_boxes(dst)
    assert box.x + box.w <= 512 and box.x <= 181 and box.x + box.w >= 270  # Eileen's face (about 181..270)

    # a second person: --only grace picks her
    assert _run(capsys, "people", "add", "grace", photo_files["grace"])[0] == 0
    code, out, _ = _run(capsys, "people", "list")
    assert code == 0 and "eileen" in out and "grace" in out
    dst = tmp_path / "only_grace.jpg"
    code, _, err = _run(capsys, "protect", group, "-o", dst, "--detect", "faces", "--only", "grace", "--to", rcpt)
    assert code == 0, err
    (box,) = _protected_boxes(dst)
    assert box.x >= 512
    # --except both: nothing left to protect, which is refused without --allow-empty
    code, _, err = _run(
        capsys, "protect", group, "-o", tmp_path / "none.jpg", "--detect", "faces", "--except", "eileen,grace", "--to", rcpt
    )
    assert code == 3 and "Nothing to protect" in err

    assert _run(capsys, "people", "remove", "grace")[0] == 0
    code, out, _ = _run(capsys, "people", "list")
    assert "grace" not in out and "eileen" in out
    # the keyring folder holds no plaintext names or numbers of the gallery
    home = Path(os.environ["PICVEIL_HOME"])
    assert (home / "keyring.age").is_file()
    blob = b"".join(p.read_bytes() for p in home.iterdir() if p.is_file())
    assert b"eileen" not in blob and b"embeddings" not in blob


def test_cli_error_paths(capsys, tmp_path, photo_files, identities):
    from skimage import data

    rcpt = identities[0].recipient
    group = photo_files["group"]
    no_face = tmp_path / "coffee.png"
    Image.fromarray(data.coffee()).save(no_face)

    code, _, err = _run(capsys, "people", "add", "cup", no_face)
    assert code == 3 and "No face found" in err and "hint:" in err
    code, _, err = _run(capsys, "people", "add", "bad name", photo_files["eileen"])
    assert code == 3 and "Invalid person name" in err
    code, _, err = _run(capsys, "people", "remove", "nobody")
    assert code == 3 and "nobody" in err
    # unknown name (there is no gallery at all yet)
    code, _, err = _run(capsys, "protect", group, "-o", tmp_path / "o.jpg", "--detect", "faces", "--only", "kid1", "--to", rcpt)
    assert code == 3 and "kid1" in err and "people add" in err
    assert _run(capsys, "people", "add", "eileen", photo_files["eileen"])[0] == 0
    code, _, err = _run(capsys, "protect", group, "-o", tmp_path / "o.jpg", "--detect", "faces", "--except", "eileen,kid1", "--to", rcpt)
    assert code == 3 and "kid1" in err and "eileen" in err  # lists who is in the gallery
    # both options
    code, _, err = _run(
        capsys, "protect", group, "-o", tmp_path / "o.jpg", "--detect", "faces", "--only", "eileen", "--except", "eileen", "--to", rcpt
    )
    assert code == 3 and "exclude each other" in err
    # no face detection
    code, _, err = _run(capsys, "protect", group, "-o", tmp_path / "o.jpg", "--box", "0,0,64,64", "--only", "eileen", "--to", rcpt)
    assert code == 3 and "face detection is off" in err and "--detect faces" in err
    assert not (tmp_path / "o.jpg").exists()


def test_api_only_except(composite, eileen, identities, tmp_path):
    home = tmp_path / "ring"
    ring = Keyring.open(home, create=True)
    ring.add_person("eileen", [eileen.tolist()])
    rcpt = [identities[0].recipient]
    out = picveil.protect(composite, [], detect="faces", except_people=["eileen"], recipients=rcpt, keyring=ring)
    assert [r.box.x >= 512 for r in picveil.inspect(out).regions] == [True]
    # manual boxes are always kept; --only filters detected faces only
    out = picveil.protect(composite, [(512, 400, 64, 64)], detect="faces", only="eileen", recipients=rcpt, keyring=home)
    boxes = sorted((r.box.x, r.box.y) for r in picveil.inspect(out).regions)
    assert len(boxes) == 2 and boxes[0][0] < 512 and boxes[1] == (512, 400)
    with pytest.raises(errors.InputError, match="exclude each other"):
        picveil.protect(composite, [], detect="faces", only="eileen", except_people="eileen", recipients=rcpt, keyring=ring)
    with pytest.raises(errors.InputError, match="face detection is off"):
        picveil.protect(composite, [(0, 0, 16, 16)], only="eileen", recipients=rcpt, keyring=ring)
    # every detected face left visible by the choice: said so, not "nothing detected"
    ring.add_person("grace", [identify_one(composite, right=True).tolist()])
    with pytest.raises(errors.RegionError, match="2 of 2 detected face"):
        picveil.protect(composite, [], detect="faces", except_people="eileen,grace", recipients=rcpt, keyring=ring)
    # a regions.json (as `picveil detect` writes it) works too
    regions = tmp_path / "regions.json"
    assert main(["detect", str(_write(tmp_path / "g.jpg", composite)), "--json", str(regions), "--classes", "faces"]) == 0
    doc = json.loads(regions.read_text())
    assert sum(r["class"] == "face" for r in doc["regions"]) == 2
    out = picveil.protect(composite, [], regions_file=regions, only="eileen", recipients=rcpt, keyring=ring)
    assert [r.box.x < 512 for r in picveil.inspect(out).regions] == [True]


def test_api_small_face_is_always_protected(astronaut, hopper, eileen, identities, tmp_path):
    """A face under MIN_MATCH_FACE px is not matched (tiny faces embed unreliably): --except
    keeps it protected and the report says so."""
    from picveil.regions.identify import MIN_MATCH_FACE

    small = np.asarray(Image.fromarray(astronaut).resize((128, 128), Image.LANCZOS))  # her face about 30 px high
    canvas = np.full((512, 512, 3), 120, np.uint8)
    canvas[160:288, 160:288] = small
    src = _write(tmp_path / "g.jpg", encode_jpeg(np.ascontiguousarray(np.concatenate([canvas, hopper], axis=1)), quality=92))
    ring = Keyring.open(tmp_path / "ring", create=True)
    ring.add_person("eileen", [eileen.tolist()])
    report = picveil.protect_file(
        src, tmp_path / "o.jpg", [], detect="faces", except_people="eileen", recipients=[identities[0].recipient], keyring=ring
    )
    xs = sorted(r.box.x for r in picveil.inspect(tmp_path / "o.jpg").regions)
    assert len(xs) == 2 and xs[0] < 288 <= 512 <= xs[1], xs  # the small Eileen and Hopper: both protected
    assert any(f"less than {MIN_MATCH_FACE} px" in w for w in report.warnings), report.warnings


def identify_one(photo: bytes, *, right: bool) -> np.ndarray:
    """The embedding of the right-hand (or left-hand) detected face of a photo."""
    from picveil.regions.detectors import detect
    from picveil.regions.identify import identify_boxes

    faces = sorted(detect(photo, "faces"), key=lambda d: d.box.x)
    return identify_boxes(photo, [faces[-1 if right else 0].box])[0]


def _write(path, data: bytes):
    path.write_bytes(data)
    return path
