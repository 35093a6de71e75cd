"""Boxes over a photo whose EXIF orientation turns it: stored or displayed pixels.

A phone photo is often stored sideways with an Orientation tag that tells a
viewer to turn it. A box read off a viewer is then in *displayed* pixels and
means another part of the stored grid: protecting it as stored pixels would
leave the face it was meant for visible.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageOps

import picveil
from picveil import errors
from picveil.cli.main import main
from picveil.regions import Box
from picveil.regions.detectors import upright
from picveil.regions.spaces import box_to_displayed, box_to_stored, mask_to_stored

from .conftest import sample_rgb

#: The astronaut's face as a viewer shows the sample photo (x, y, w, h).
FACE = (150, 10, 155, 175)


def _stored_sideways(orientation: int) -> bytes:
    """The sample photo stored so that `orientation` shows it upright, as a JPEG with that tag."""
    shown = sample_rgb()[:, :448]  # not square: a turn changes the shape
    stored = mask_to_stored(shown, orientation)
    assert np.array_equal(upright(stored, orientation), shown)
    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    Image.fromarray(stored).save(buf, "JPEG", quality=92, exif=exif.tobytes())
    return buf.getvalue()


def _displayed(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(ImageOps.exif_transpose(im).convert("RGB")).astype(np.int16)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_box_and_mask_maps_round_trip(orientation):
    w, h = 50, 30
    for box in (Box(7, 4, 13, 6), Box(0, 0, 1, 1), Box(0, 0, w, h) if orientation < 5 else Box(0, 0, h, w)):
        assert box_to_displayed(box_to_stored(box, orientation, w, h), orientation, w, h) == box
    marked = np.zeros((h, w), dtype=np.uint8)
    marked[4:10, 7:20] = 1
    shown = upright(marked[..., None], orientation)[..., 0]
    assert np.array_equal(mask_to_stored(shown, orientation), marked)
    ys, xs = np.nonzero(shown)
    displayed = Box(int(xs.min()), int(ys.min()), int(np.ptp(xs)) + 1, int(np.ptp(ys)) + 1)
    assert box_to_stored(displayed, orientation, w, h) == Box(7, 4, 13, 6)


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_a_displayed_box_protects_what_the_viewer_shows_there(orientation, identities):
    """With box_space="displayed" the pixels that change, seen as a viewer
    shows the output, are those of the box snapped to the MCU grid, and the
    rest of the picture is as it was; as stored pixels the same box hits
    another part of the photo."""
    src = _stored_sideways(orientation)
    before = _displayed(src)
    changed = {}
    for space in ("displayed", "stored"):
        out = picveil.protect(src, [FACE], recipients=identities[0].recipient, box_space=space)
        diff = np.abs(_displayed(out) - before).max(axis=-1) > 40
        changed[space] = diff
    ys, xs = np.nonzero(changed["displayed"])
    x, y, w, h = FACE
    assert xs.min() >= x - 16 and xs.max() < x + w + 16 and ys.min() >= max(y - 16, 0) and ys.max() < y + h + 16
    inside = np.zeros_like(changed["displayed"])
    inside[y : y + h, x : x + w] = True
    assert changed["displayed"][inside].mean() > 0.5  # the face is hidden
    assert changed["stored"][inside].mean() < 0.5  # as stored pixels the face would have stayed visible


def test_an_upright_photo_is_the_same_in_both_spaces(identities):
    src = _stored_sideways(1)
    a = picveil.inspect(picveil.protect(src, [FACE], recipients=identities[0].recipient, box_space="displayed"))
    b = picveil.inspect(picveil.protect(src, [FACE], recipients=identities[0].recipient))
    assert a.regions[0].box == b.regions[0].box
    with pytest.raises(errors.InputError, match="box space"):
        picveil.protect(src, [FACE], recipients=identities[0].recipient, box_space="upright")


def test_the_cli_asks_which_space_a_box_of_a_turned_photo_is_in(tmp_path, identities, capsys):
    """No output and a clear error until --box-space says; then the output."""
    src = tmp_path / "phone.jpg"
    src.write_bytes(_stored_sideways(6))
    out = tmp_path / "out.jpg"
    args = ["protect", str(src), "-o", str(out), "--box", ",".join(map(str, FACE)), "--to", identities[0].recipient]
    assert main(args) != 0
    err = capsys.readouterr().err
    assert "orientation 6" in err and "--box-space displayed" in err and not out.exists()
    assert main(args + ["--box-space", "displayed"]) == 0 and out.exists()
    assert main(args + ["--box-space", "sideways", "--force"]) != 0
    upright_src = tmp_path / "upright.jpg"
    upright_src.write_bytes(_stored_sideways(1))
    assert main(["protect", str(upright_src), "-o", str(tmp_path / "u.jpg"), "--box", "150,10,155,175", "--to", identities[0].recipient]) == 0
