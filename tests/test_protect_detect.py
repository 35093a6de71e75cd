"""protect with detection, regions files, levels and --exclude (issue 5 wiring)."""

import json

import numpy as np
import pytest

import picveil
from picveil import errors
from picveil.cli.main import main

from .conftest import decode, encode_jpeg


def _faces_available():
    try:
        from picveil.regions.detectors import get

        get("faces")
        return True
    except Exception:
        return False


def test_detect_faces_and_reveal(photo, identities):
    if not _faces_available():
        pytest.skip("no face detector")
    src = encode_jpeg(photo)
    prot = picveil.protect(src, [], detect="faces", recipients=[identities[0].recipient])
    (r,) = picveil.inspect(prot).regions
    # the padded face box covers the face (about 180..280 x 60..170 in the sample)
    assert r.box.x <= 180 and r.box.y <= 60 and r.box.x + r.box.w >= 280 and r.box.y + r.box.h >= 170
    assert np.array_equal(decode(picveil.reveal(prot, identities=[identities[0]])), decode(src))


def test_regions_file_exclude_level_and_empty(photo, identities, tmp_path, capsys):
    src = tmp_path / "p.jpg"
    src.write_bytes(encode_jpeg(photo))
    doc = {"version": 1, "image": {"width": 512, "height": 512}, "regions": [
        {"id": 1, "class": "face", "score": 0.9, "box": [150, 10, 155, 175], "enabled": True},
        {"id": 2, "class": "text", "score": 0.8, "box": [276, 336, 58, 36], "enabled": True},
        {"id": 3, "class": "person", "score": 0.5, "box": [0, 0, 512, 512], "enabled": False},
    ]}
    rf = tmp_path / "regions.json"
    rf.write_text(json.dumps(doc))
    r = [identities[0].recipient]
    both = picveil.protect(src, [], regions_file=rf, recipients=r)
    assert len(picveil.inspect(both).regions) == 2
    only_face = picveil.protect(src, [], regions_file=rf, exclude=[2], recipients=r)
    assert len(picveil.inspect(only_face).regions) == 1
    with pytest.raises(errors.RegionError):
        picveil.protect(src, [], regions_file=rf, exclude=[9], recipients=r)
    with pytest.raises(errors.RegionError, match="Nothing to protect"):
        picveil.protect(src, [], regions_file=rf, exclude=[1, 2], recipients=r)
    plain = picveil.protect(src, [], regions_file=rf, exclude=[1, 2], recipients=r, allow_empty=True)
    with pytest.raises(errors.NoPicveilDataError):
        picveil.inspect(plain)
    level1 = picveil.protect(src, [], regions_file=rf, level=1, recipients=r)
    assert 1 <= len(picveil.inspect(level1).regions) <= 2
    bad = tmp_path / "bad.json"
    bad.write_text('{"version": 1,\n "image": {"width": 512,, "height": 512}}')
    code = main(["protect", str(src), "-o", str(tmp_path / "o.jpg"), "--regions", str(bad), "--to", r[0]])
    err = capsys.readouterr().err
    assert code == 3 and "line 2" in err
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({**doc, "image": {"width": 100, "height": 100}}))
    with pytest.raises(errors.RegionError, match="100×100"):
        picveil.protect(src, [], regions_file=wrong, recipients=r)


def test_level_says_what_it_left_visible(photo, identities, tmp_path):
    """A big central person box uses up level 1's 30 % budget: the small corner face after it
    stays visible, and the report says so (it used to be silent)."""
    src = tmp_path / "p.jpg"
    src.write_bytes(encode_jpeg(photo))
    doc = {"version": 1, "image": {"width": 512, "height": 512}, "regions": [
        {"id": 1, "class": "person", "score": 0.9, "box": [128, 96, 256, 320], "enabled": True},
        {"id": 2, "class": "face", "score": 0.9, "box": [0, 0, 40, 48], "enabled": True},
    ]}
    rf = tmp_path / "regions.json"
    rf.write_text(json.dumps(doc))
    r = [identities[0].recipient]
    report = picveil.protect_file(src, tmp_path / "l1.jpg", [], regions_file=rf, level=1, recipients=r)
    assert [x.box.x for x in picveil.inspect(tmp_path / "l1.jpg").regions] == [128]
    assert any("left 1 detected region(s) visible (1 face)" in w for w in report.warnings), report.warnings
    report = picveil.protect_file(src, tmp_path / "l5.jpg", [], regions_file=rf, level=5, recipients=r)
    assert len(picveil.inspect(tmp_path / "l5.jpg").regions) == 2
    assert not any("visible" in w for w in report.warnings)
