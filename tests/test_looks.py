"""Looks (issue 6): every look reveals exactly; content-independent looks use nothing inside."""

import io

import numpy as np
import pytest
from PIL import Image

import picveil
from picveil import errors
from picveil.cli.main import main
from picveil.looks import LOOK_IDS, LookParams, leak_warning
from picveil.looks.paint import PAINTERS

from .conftest import decode, encode_jpeg

FACE = (150, 10, 155, 175)


@pytest.mark.parametrize("look", list(LOOK_IDS))
@pytest.mark.parametrize("sub", ["4:2:0", "gray"])
def test_every_look_reveals_exactly(photo, identities, look, sub):
    src = encode_jpeg(photo, sub=sub)
    prot = picveil.protect(src, [FACE], recipients=[identities[0].recipient], look=look, shape="ellipse", feather=6)
    info = picveil.inspect(prot)
    assert info.regions[0].look == look
    assert bool(info.warnings) == (look in ("blur", "pixelate"))
    assert np.array_equal(decode(picveil.reveal(prot, identities=[identities[0]])), decode(src))
    # the region changed, the rest of the image did not (coefficients outside identical => pixels far away equal)
    a, b = decode(src).astype(int), decode(prot).astype(int)
    assert np.abs(a[300:] - b[300:]).max() == 0
    assert np.abs(a[16:176, 160:300] - b[16:176, 160:300]).mean() > 5


@pytest.mark.parametrize("shape", ["box", "ellipse"])
def test_a_feather_never_shows_the_original_inside_the_region(photo, identities, shape):
    """--feather fades the look's edge outwards: every pixel of the region
    shows the look (the edge once ramped inwards over original pixels: the
    rim of a face showed, and all of it from a feather as wide as the box, with
    "Protected 1 region" printed). The region's pixels match the unfeathered
    look's, and lie as far from the original."""
    src = encode_jpeg(photo)
    me = identities[0]
    original = decode(src).astype(float)
    box = (160, 16, 144, 160)  # on the MCU grid: the region is the box itself
    x, y, w, h = box
    yy, xx = np.mgrid[0:h, 0:w]
    ellipse = ((xx + 0.5 - w / 2) / (w / 2)) ** 2 + ((yy + 0.5 - h / 2) / (h / 2)) ** 2 <= 1.0
    part = np.ones((h, w), bool) if shape == "box" else ellipse
    plain = decode(picveil.protect(src, [box], recipients=[me.recipient], look="fill", shape=shape)).astype(float)
    for feather in (24, 500):
        prot = decode(picveil.protect(src, [box], recipients=[me.recipient], look="fill", shape=shape, feather=feather)).astype(float)
        region, was = prot[y : y + h, x : x + w][part], original[y : y + h, x : x + w][part]
        assert np.abs(region - was).mean() > 0.8 * np.abs(plain[y : y + h, x : x + w][part] - was).mean(), feather
        assert np.abs(region - plain[y : y + h, x : x + w][part]).mean() < 2.0, feather  # the look itself
        assert np.array_equal(decode(picveil.reveal(picveil.protect(src, [box], recipients=[me.recipient], look="fill", shape=shape, feather=feather), identities=[me])), decode(src))


@pytest.mark.parametrize("look", ["fill", "inpaint"])
def test_a_look_never_reads_a_neighbouring_region(photo, identities, look):
    """Two touching regions for different people: each one's look is built from the
    unprotected pixels around, never from the other's original (a fill or inpaint
    once carried the neighbour's edge, 0.82-0.98 correlated with it). Replacing
    the right region's content leaves the left region's look as it was."""
    from picveil.regions.region import Box, Region

    regions = [
        Region(Box(160, 48, 64, 160), recipients=(identities[0].recipient,)),
        Region(Box(224, 48, 64, 160), recipients=(identities[1].recipient,)),
    ]
    other = photo.copy()
    other[48:208, 224:288] = np.random.default_rng(3).integers(0, 256, (160, 64, 3), dtype=np.uint8)
    shown = []
    for img in (photo, other):
        prot = picveil.protect(encode_jpeg(img), regions, look=look)
        assert len(picveil.inspect(prot).regions) == 2
        shown.append(decode(prot).astype(float)[48:208, 160:224])
    assert np.abs(shown[0] - shown[1]).mean() < 1.5, np.abs(shown[0] - shown[1]).mean()


@pytest.mark.parametrize("look", ["fill", "inpaint", "frost", "sticker"])
def test_content_independent_looks_ignore_the_interior(look):
    rng = np.random.default_rng(0)
    ctx = rng.uniform(0, 255, size=(96, 96, 3))
    inside = np.zeros((96, 96), bool)
    inside[24:72, 24:72] = True
    other = ctx.copy()
    other[inside] = rng.uniform(0, 255, size=(inside.sum(), 3))  # different content inside only
    noise = lambda h, w: np.zeros((h, w))  # noqa: E731
    a = PAINTERS[look](ctx, inside, LookParams(), noise)
    b = PAINTERS[look](other, inside, LookParams(), noise)
    assert np.allclose(a[inside], b[inside])


def test_derived_looks_do_depend_on_the_interior():
    rng = np.random.default_rng(0)
    ctx = rng.uniform(0, 255, size=(64, 64, 1))
    inside = np.ones((64, 64), bool)
    for look in ("blur", "pixelate"):
        assert leak_warning(look)
        a = PAINTERS[look](ctx, inside, LookParams(cells=4))
        assert not np.allclose(a, PAINTERS[look](255 - ctx, inside, LookParams(cells=4)))
    cells = PAINTERS["pixelate"](ctx, inside, LookParams(cells=4))[..., 0]
    assert len(np.unique(cells)) == 16


def test_bad_look_options(photo, identities):
    src = encode_jpeg(photo)
    for kw in ({"look": "sparkle"}, {"look": "pixelate", "cells": 0}, {"look": "pixelate", "cells": 10000}, {"look": "fill", "shape": "star"}):
        with pytest.raises(errors.InputError):
            picveil.protect(src, [FACE], recipients=[identities[0].recipient], **kw)


def test_sidecar_reveals_after_metadata_strip(photo, identities, tmp_path):
    src = tmp_path / "p.jpg"
    src.write_bytes(encode_jpeg(photo))
    out = tmp_path / "post.jpg"
    picveil.protect_file(src, out, [FACE], recipients=[identities[0].recipient], look="sticker", sidecar=True)
    side = tmp_path / "post.jpg.picveil"
    assert side.exists()
    from picveil.jpeg.markers import remove_segments

    stripped = tmp_path / "downloaded.jpg"
    stripped.write_bytes(remove_segments(out.read_bytes(), lambda s: 0xFFE1 <= s.marker <= 0xFFEF))
    with pytest.raises(errors.NoPicveilDataError):
        picveil.reveal(stripped.read_bytes(), identities=[identities[0]])
    rev = picveil.reveal(stripped.read_bytes(), identities=[identities[0]], sidecar=side)
    assert np.array_equal(decode(rev), decode(src.read_bytes()))


def test_cli_look_and_mask(photo, tmp_path, capsys, identities):
    src = tmp_path / "p.jpg"
    src.write_bytes(encode_jpeg(photo))
    m = np.zeros((512, 512), np.uint8)
    m[20:180, 160:300] = 255
    Image.fromarray(m).save(tmp_path / "mask.png")
    out = tmp_path / "o.jpg"
    assert main(["protect", str(src), "-o", str(out), "--mask", str(tmp_path / "mask.png"),
                 "--look", "pixelate", "--to", identities[0].recipient]) == 0
    assert "warning" in capsys.readouterr().err
    assert main(["inspect", str(out)]) == 0
    assert "warning" in capsys.readouterr().out
    assert np.array_equal(decode(picveil.reveal(out.read_bytes(), identities=[identities[0]])), decode(src.read_bytes()))


def test_cli_mask_parts_and_size(photo, tmp_path, capsys, identities):
    """A mask's separate white parts become separate regions (they became one
    bounding box: a face and a badge took half the photo), and a mask of
    another size than the photo is refused (it protected the wrong place)."""
    src = tmp_path / "p.jpg"
    src.write_bytes(encode_jpeg(photo))
    m = np.zeros((512, 512), np.uint8)
    m[20:180, 160:300] = 255
    m[400:450, 400:450] = 255
    Image.fromarray(m).save(tmp_path / "two.png")
    out = tmp_path / "o.jpg"
    assert main(["protect", str(src), "-o", str(out), "--mask", str(tmp_path / "two.png"), "--to", identities[0].recipient]) == 0
    boxes = sorted((r.box.x, r.box.y, r.box.w, r.box.h) for r in picveil.inspect(out.read_bytes()).regions)
    assert len(boxes) == 2 and sum(w * h for _, _, w, h in boxes) < 0.15 * 512 * 512, boxes
    Image.fromarray(m[::2, ::2]).save(tmp_path / "half.png")
    capsys.readouterr()
    code = main(["protect", str(src), "-o", str(tmp_path / "h.jpg"), "--mask", str(tmp_path / "half.png"), "--to", identities[0].recipient])
    assert code == 3 and "256×256" in capsys.readouterr().err and not (tmp_path / "h.jpg").exists()


def test_protect_for_a_platform_maps_boxes(identities):
    import io

    from skimage import data
    from skimage.transform import resize

    big = (resize(data.astronaut(), (2400, 2400), order=1) * 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(big).save(buf, "JPEG", quality=90)
    prot = picveil.protect(buf.getvalue(), [(700, 50, 730, 820)], recipients=[identities[0].recipient], platform="instagram")
    info = picveil.inspect(prot)
    assert (info.width, info.height) == (1080, 1080)
    b = info.regions[0].box  # 700*0.45=315, 50*0.45=22.5 -> snapped outward to 16 px
    assert b.x <= 315 and b.y <= 22 and b.x + b.w >= 315 + 328 and b.y + b.h >= 22 + 369


def test_smooth_fill_on_a_coarse_grid_matches_the_full_solve_and_ignores_the_interior():
    """Large regions are filled on a coarse grid (fast on 12 MP photos): still independent of
    the interior, and within a few grey levels of the full-resolution membrane + blur."""
    from picveil.looks.paint import gaussian_like_blur, harmonic_fill, smooth_fill

    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[:600, :640]
    ctx = np.stack([60 + 0.2 * yy, 200 - 0.15 * xx, 100 + 0.1 * (xx + yy)], -1) + rng.normal(0, 6, (600, 640, 3))
    inside = np.zeros((600, 640), bool)
    inside[150:450, 160:480] = True
    sigma = 320 / 12.0
    fast = smooth_fill(ctx, inside, sigma)
    other = ctx.copy()
    other[inside] = rng.uniform(0, 255, size=(inside.sum(), 3))
    assert np.array_equal(fast[inside], smooth_fill(other, inside, sigma)[inside])
    slow = gaussian_like_blur(harmonic_fill(ctx, inside), sigma)
    assert fast.shape == slow.shape
    assert np.abs(fast[inside] - slow[inside]).mean() < 3.0
