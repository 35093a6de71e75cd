"""The robust in-image header on real photos: embed, platform chains, extract.

Photos: scikit-image's coffee (upscaled to 2 MP) and chelsea, and the bundled
astronaut. Regions are scrambled like scramble-v1 (block permutation and sign
flips, seeded), so the extractor sees the same garbage it meets in practice.
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from picveil import robust
from picveil.errors import NoPicveilDataError, NotAnImageError
from picveil.jpeg.codec import read_coefficients

from .conftest import sample_rgb

PAYLOAD_BYTES = 120


def _jpeg(rgb: np.ndarray, quality: int = 92, **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=quality, **kw)
    return buf.getvalue()


def _decode(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("L") if im.mode == "L" else im.convert("RGB"))


def _resize(rgb: np.ndarray, long_edge: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    s = long_edge / max(h, w)
    return np.asarray(Image.fromarray(rgb).resize((round(w * s), round(h * s)), Image.Resampling.LANCZOS))


def _scramble(coeffs, boxes, seed: int) -> None:
    """Permute blocks and flip signs inside the MCU-snapped boxes, per component."""
    rng = np.random.default_rng(seed)
    mw, mh = coeffs.mcu_width, coeffs.mcu_height
    max_h = max(c.h_samp for c in coeffs.components)
    max_v = max(c.v_samp for c in coeffs.components)
    for x, y, w, h in boxes:
        cx0, cy0, cx1, cy1 = x // mw, y // mh, -(-(x + w) // mw), -(-(y + h) // mh)
        for ci, comp in enumerate(coeffs.components):
            sx, sy = mw // 8 * comp.h_samp // max_h, mh // 8 * comp.v_samp // max_v
            bx1, by1 = min(cx1 * sx, comp.width_in_blocks), min(cy1 * sy, comp.height_in_blocks)
            blk = coeffs.blocks(ci, cy0 * sy, by1, cx0 * sx, bx1)
            flat = blk.reshape(-1, 8, 8)[rng.permutation(blk.shape[0] * blk.shape[1])]
            flat = flat * rng.choice(np.array([-1, 1], dtype=np.int16), size=flat.shape)
            coeffs.set_blocks(ci, cy0 * sy, cx0 * sx, flat.reshape(blk.shape))


class Protected:
    def __init__(self, rgb: np.ndarray, boxes, payload_bytes: int, seed: int) -> None:
        self.boxes = boxes
        self.source = _jpeg(rgb)
        coeffs = read_coefficients(self.source)
        _scramble(coeffs, boxes, seed)
        self.scrambled = _decode(coeffs.encode())
        self.scrambled_coeffs = [coeffs.array(ci) for ci in range(len(coeffs.components))]
        rng = np.random.default_rng(seed)
        self.payload = rng.integers(0, 256, payload_bytes, dtype=np.uint8).tobytes()
        self.report = robust.embed(coeffs, self.payload, boxes)
        self.coeffs = coeffs
        self.jpeg = coeffs.encode()
        self.pixels = _decode(self.jpeg)


@pytest.fixture(scope="session")
def coffee2mp() -> Protected:
    from skimage import data

    rgb = np.asarray(Image.fromarray(data.coffee()).resize((1728, 1152), Image.Resampling.LANCZOS))
    return Protected(rgb, [(560, 150, 420, 520), (1300, 700, 250, 300)], PAYLOAD_BYTES, seed=1)


@pytest.fixture(scope="session")
def astronaut() -> Protected:
    return Protected(sample_rgb(), [(150, 10, 155, 175)], 24, seed=2)


# --- round trips through platform chains ---------------------------------------------------
def test_round_trip_full_quality(coffee2mp):
    assert robust.extract(coffee2mp.pixels) == coffee2mp.payload
    assert robust.extract_from_jpeg(coffee2mp.jpeg) == coffee2mp.payload


def test_report(coffee2mp):
    rep = coffee2mp.report
    assert rep.payload_bytes == PAYLOAD_BYTES and rep.grid == (128, 85)
    assert rep.copies >= 2 and rep.usable_cells < rep.cells
    assert 40.0 <= rep.psnr_outside < 60


def test_pillow_q30(coffee2mp):
    assert robust.extract_from_jpeg(_jpeg(coffee2mp.pixels, 30)) == coffee2mp.payload


def test_opencv_q50(coffee2mp):
    cv2 = pytest.importorskip("cv2")
    ok, enc = cv2.imencode(".jpg", cv2.cvtColor(coffee2mp.pixels, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 50])
    assert ok
    assert robust.extract_from_jpeg(enc.tobytes()) == coffee2mp.payload


def test_webp_q75(coffee2mp):
    buf = io.BytesIO()
    Image.fromarray(coffee2mp.pixels).save(buf, "WEBP", quality=75)
    assert robust.extract_from_jpeg(buf.getvalue()) == coffee2mp.payload


def test_png(coffee2mp):
    buf = io.BytesIO()
    Image.fromarray(coffee2mp.pixels).save(buf, "PNG")
    assert robust.extract_from_jpeg(buf.getvalue()) == coffee2mp.payload


@pytest.mark.parametrize("edge, quality", [(1080, 75), (720, 70)])
def test_downscale_then_jpeg(coffee2mp, edge, quality):
    small = _jpeg(_resize(coffee2mp.pixels, edge), quality)
    got = robust.extract_report(_decode(small))
    assert got.payload == coffee2mp.payload
    assert got.grid == coffee2mp.report.grid
    assert got.cell_px == pytest.approx(edge / 128, rel=0.01)


def test_small_photo_progressive_q40(astronaut):
    data = _jpeg(astronaut.pixels, 40, progressive=True)
    assert robust.extract_from_jpeg(data) == astronaut.payload


def test_gray_jpeg():
    from skimage import data

    gray = np.asarray(Image.fromarray(data.camera()).resize((768, 768), Image.Resampling.LANCZOS))
    coeffs = read_coefficients(_jpeg(gray))
    rep = robust.embed(coeffs, b"gray header", [])
    assert rep.psnr_outside >= 40
    assert robust.extract_from_jpeg(_jpeg(_decode(coeffs.encode()), 35)) == b"gray header"


# --- what embedding may and may not change -------------------------------------------------
def test_regions_untouched(coffee2mp):
    """Every coefficient of every block inside the MCU-snapped regions is unchanged."""
    co = coffee2mp.coeffs
    mw, mh = co.mcu_width, co.mcu_height
    for x, y, w, h in coffee2mp.boxes:
        cx0, cy0, cx1, cy1 = x // mw, y // mh, -(-(x + w) // mw), -(-(y + h) // mh)
        for ci in range(3):
            sx = mw // 8 if ci == 0 else 1
            sy = mh // 8 if ci == 0 else 1
            now = co.array(ci)[cy0 * sy : cy1 * sy, cx0 * sx : cx1 * sx]
            was = coffee2mp.scrambled_coeffs[ci][cy0 * sy : cy1 * sy, cx0 * sx : cx1 * sx]
            assert np.array_equal(now, was)
    # ... and the chroma does not change anywhere.
    for ci in (1, 2):
        assert np.array_equal(co.array(ci), coffee2mp.scrambled_coeffs[ci])


def test_psnr_outside_regions(coffee2mp, astronaut):
    for prot in (coffee2mp, astronaut):
        mask = np.ones(prot.pixels.shape[:2], dtype=bool)
        for x, y, w, h in prot.boxes:
            mask[y // 16 * 16 : -(-(y + h) // 16) * 16, x // 16 * 16 : -(-(x + w) // 16) * 16] = False
        diff = prot.pixels.astype(float)[mask] - prot.scrambled.astype(float)[mask]
        psnr = 10 * math.log10(255**2 / np.mean(diff**2))
        assert psnr >= 40.0
        assert psnr == pytest.approx(prot.report.psnr_outside, abs=0.05)


# --- refusals ------------------------------------------------------------------------------
def _unprotected_photos() -> list[np.ndarray]:
    from skimage import data

    photos = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket(), data.camera(), data.immunohistochemistry()]
    out = []
    for p in photos:
        out.append(p)
        out.append(np.ascontiguousarray(p[::-1, ::-1]))
        out.append(_resize(p, 1024))
    return out[:20]


def test_no_false_positive_on_unembedded_photos():
    photos = _unprotected_photos()
    assert len(photos) >= 18
    for p in photos:
        with pytest.raises(NoPicveilDataError):
            robust.extract(_decode(_jpeg(p, 85)))


def test_uniform_image_has_no_header():
    with pytest.raises(NoPicveilDataError):
        robust.extract(np.full((600, 800, 3), 127, dtype=np.uint8))


def test_destroyed_body_is_damaged_not_wrong(coffee2mp):
    """Signal still found, data gone: a clear error, never a wrong payload."""
    mixed = coffee2mp.pixels.copy()
    cut = int(0.25 * mixed.shape[0])
    mixed[cut:] = coffee2mp.scrambled[cut:]
    with pytest.raises(robust.HeaderDamagedError):
        robust.extract(mixed)


def test_sharp_wrong_cells_are_found_through_known_bits(astronaut):
    """A quarter of the picture 3 grey levels brighter puts its cells on the other
    lattice: sharp and wrong, which the sharpness-based garbage estimate trusts, so
    the first decoding fails. The extra passes (SPEC §8.3) see those cells disagree
    with the decoded preamble's bits and with the body's surest votes, and decode."""
    from picveil.robust import coding, extractor
    from picveil.robust.channel import cell_llrs, features, soft_values, working_luma
    from picveil.robust.layout import layout

    px = astronaut.pixels.astype(int)
    px[3 * px.shape[0] // 4 :] += 3
    shifted = np.clip(px, 0, 255).astype(np.uint8)
    (_, grid), *_ = extractor.detect(shifted)
    lay, y = layout(grid), working_luma(shifted)
    llr = cell_llrs(soft_values(features(y, grid), lay.dither), lay).reshape(-1)
    pre_llr = np.bincount(np.arange(lay.n_pre) % coding.PRE_BITS, weights=llr[lay.preamble_cells], minlength=coding.PRE_BITS)
    pre = coding.preamble_decode(pre_llr)
    assert pre is not None and pre.length == len(astronaut.payload)
    n = coding.body_bits(pre.length, pre.parity_class)
    first = np.bincount(np.arange(lay.n_body) % n, weights=llr[lay.body_cells], minlength=n)[:n]
    assert coding.body_decode(first, pre.length, pre.parity_class) is None  # the first pass alone fails
    assert robust.extract(shifted) == astronaut.payload


def test_noise_never_gives_a_wrong_payload(astronaut):
    rng = np.random.default_rng(0)
    for amplitude in (10, 25, 60):
        noisy = np.clip(astronaut.pixels.astype(int) + rng.integers(-amplitude, amplitude + 1, astronaut.pixels.shape), 0, 255)
        try:
            got = robust.extract(noisy.astype(np.uint8))
        except (robust.HeaderDamagedError, NoPicveilDataError):
            continue
        assert got == astronaut.payload


def test_capacity_errors():
    rgb = sample_rgb()
    cap = robust.capacity(512, 512, [(150, 10, 155, 175)])
    assert 24 <= cap < PAYLOAD_BYTES
    with pytest.raises(robust.HeaderCapacityError):
        robust.embed(read_coefficients(_jpeg(rgb)), bytes(cap + 1), [(150, 10, 155, 175)])
    # The whole image is region: refused by default, written into it on request.
    whole = [(0, 0, 512, 512)]
    assert robust.capacity(512, 512, whole) == 0
    with pytest.raises(robust.HeaderCapacityError):
        robust.embed(read_coefficients(_jpeg(rgb)), b"x" * 20, whole)
    coeffs = read_coefficients(_jpeg(rgb))
    rep = robust.embed(coeffs, b"x" * 20, whole, allow_in_regions=True)
    assert rep.in_regions
    assert robust.extract_from_jpeg(coeffs.encode()) == b"x" * 20
    # Too small for any grid.
    assert robust.capacity(64, 48) == 0
    with pytest.raises(robust.HeaderCapacityError):
        robust.embed(read_coefficients(_jpeg(rgb[:64, :64])), b"x", [])
    assert robust.HeaderCapacityError("x").exit_code == 3


def test_capacity_grows_with_size():
    caps = [robust.capacity(w, h) for w, h in [(640, 480), (1280, 960), (2048, 1536), (4000, 3000)]]
    assert caps == sorted(caps) and caps[0] >= 40 and caps[1] >= 200 and caps[-1] >= 400


def test_finer_grids_when_the_default_is_full():
    """The writer's grids (SPEC §9 step 1): the default first, then finer
    ones down to 7-pixel cells, each sized with a larger design error; the
    capacity is the best of them, and a payload goes on the first that takes it."""
    from picveil.robust import embedder

    box = [(150, 150, 200, 200)]
    plans = embedder.plans(512, 512, box)
    sides = [512 / p.grid.cols for p in plans]
    assert sides[0] >= 12.0 and sides == sorted(sides, reverse=True) and sides[-1] >= 7.0
    errors = [p.p_cell for p in plans]
    assert errors == sorted(errors) and errors[0] == embedder.P_CELL and errors[-1] <= 0.12
    assert embedder.choose_parity(plans[0], 29) is None  # the default grid cannot take it
    chosen, _ = embedder.choose_plan(512, 512, box, 29)
    assert chosen.grid != plans[0].grid
    assert robust.capacity(512, 512, box) >= 29
    coeffs = read_coefficients(_jpeg(sample_rgb()))
    payload = bytes(range(29))
    rep = robust.embed(coeffs, payload, box)
    assert not rep.in_regions and rep.grid == (chosen.grid.cols, chosen.grid.rows) and rep.psnr_outside > 38
    assert robust.extract_from_jpeg(coeffs.encode()) == payload


def test_fill_rule_vectors():
    """SPEC.md §10's fill rule against the committed vectors (vectors/fill/region_cells.json):
    the grid a header that goes over the regions takes, and the cells over them it modulates."""
    from picveil.robust import embedder

    cases = json.loads((VECTORS / "fill" / "region_cells.json").read_text())
    assert len(cases) >= 5 and sum(c["expected"] is not None for c in cases) >= 4
    for case in cases:
        w, h, mcu, boxes, length = case["width"], case["height"], tuple(case["mcu"]), case["boxes"], case["length"]
        got = None
        if embedder.choose_plan(w, h, boxes, length, mcu) is None:
            for p in embedder.plans(w, h, boxes, mcu):
                extra = embedder.region_cells(p, length)
                if extra is not None:
                    got = {"grid": [p.grid.cols, p.grid.rows], "cells": [int(i) for i in np.flatnonzero(extra)]}
                    break
        assert got == case["expected"], case["name"]


def test_fill_rule_takes_few_region_cells_and_survives_q30():
    """Over the regions, the header takes only the cells it needs (SPEC.md §10's
    fill rule): the shortest prefix, nearest the usable cells first, with which
    it fits, fewer than all; it changes the regions' coefficients less than
    the old rule (every cell), and reads back after JPEG q30."""
    from picveil.robust import embedder

    rgb = sample_rgb()
    boxes = [(96, 96, 224, 224), (352, 320, 128, 160)]
    payload = bytes(range(36))
    assert embedder.choose_plan(512, 512, boxes, len(payload)) is None  # it does not fit outside
    p = next(q for q in embedder.plans(512, 512, boxes) if embedder.region_cells(q, len(payload)) is not None)
    extra = embedder.region_cells(p, len(payload))
    others = ~p.usable
    assert 0 < extra.sum() < others.sum() and not (extra & p.usable).any()
    assert embedder.choose_parity(p, len(payload), p.usable | extra) is not None
    coeffs = read_coefficients(_jpeg(rgb))
    before = coeffs.array(0).copy()
    rep = robust.embed(coeffs, payload, boxes, allow_in_regions=True, region_prefix=True)
    assert rep.in_regions and rep.grid == (p.grid.cols, p.grid.rows) and rep.region_cells == int(extra.sum())
    q30 = np.asarray(Image.open(io.BytesIO(coeffs.encode())).convert("RGB"))
    buf = io.BytesIO()
    Image.fromarray(q30).save(buf, "JPEG", quality=30)
    assert robust.extract_from_jpeg(buf.getvalue()) == payload
    # the old rule modulates every cell, and changes the regions' coefficients more
    every = read_coefficients(_jpeg(rgb))
    assert robust.embed(every, payload, boxes, allow_in_regions=True).region_cells == int(others.sum())
    q = coeffs.quant_table(0).astype(np.float64)
    inside = p.excluded_blocks[: before.shape[0], : before.shape[1]]

    def energy(co) -> float:
        return float((((co.array(0).astype(np.float64) - before) * q)[inside] ** 2).sum())

    assert energy(coeffs) < 0.9 * energy(every), (energy(coeffs), energy(every))  # measured 0.77


def test_bad_arguments():
    coeffs = read_coefficients(_jpeg(sample_rgb()))
    with pytest.raises(ValueError):
        robust.embed(coeffs, b"", [])
    with pytest.raises(ValueError):
        robust.embed(coeffs, b"x", [(500, 500, 50, 50)])
    with pytest.raises(ValueError):
        robust.extract(np.zeros((100, 100), dtype=np.float32))
    with pytest.raises(NotAnImageError):
        robust.extract_from_jpeg(b"not an image")


# --- committed test vectors ----------------------------------------------------------------
#: The vectors in the source tree (the tests run from a checkout; an installed
#: package carries them too when its package data lists them).
VECTORS = Path(__file__).resolve().parents[1] / "src" / "picveil" / "robust" / "vectors"


def test_vectors_present():
    assert len(list(VECTORS.glob("*.json"))) >= 4


@pytest.mark.parametrize("name", sorted(p.name for p in VECTORS.glob("*.json")))
def test_vectors(name):
    vec = json.loads((VECTORS / name).read_text())
    data = (VECTORS / vec["file"]).read_bytes()
    if vec["outcome"] == "success":
        got = robust.extract_report(_decode(data))
        assert got.payload.hex() == vec["payload_hex"]
        assert list(got.grid) == vec["grid"]
    elif vec["outcome"] == "no header":
        with pytest.raises(NoPicveilDataError):
            robust.extract_from_jpeg(data)
    else:
        assert vec["outcome"] == "header damaged"
        with pytest.raises(robust.HeaderDamagedError):
            robust.extract_from_jpeg(data)
