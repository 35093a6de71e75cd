"""MCU snapping and disjoint decomposition of boxes."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from picveil.errors import RegionError
from picveil.regions import Box, parse_box, plan_regions


def cover(rects, rows, cols):
    m = np.zeros((rows, cols), int)
    for r in rects:
        m[r.y : r.y + r.h, r.x : r.x + r.w] += 1
    return m


def test_parse_box():
    assert parse_box("1, 2,3,4") == Box(1, 2, 3, 4)
    for bad in ("1,2,3", "a,b,c,d", "1,2,3,4,5", ""):
        with pytest.raises(RegionError):
            parse_box(bad)


def test_snaps_outward():
    (r,) = plan_regions([Box(17, 5, 1, 30)], [0], width=100, height=80, mcu_w=16, mcu_h=16)
    assert (r.x, r.y, r.w, r.h) == (1, 0, 1, 3)
    assert r.pixels(16, 16, 100, 80) == Box(16, 0, 16, 48)


def test_edge_rect_clipped_to_image():
    (r,) = plan_regions([Box(90, 70, 10, 10)], [0], width=100, height=80, mcu_w=16, mcu_h=16)
    assert r.pixels(16, 16, 100, 80) == Box(80, 64, 20, 16)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 90), st.integers(0, 70), st.integers(1, 40), st.integers(1, 40)), min_size=1, max_size=6))
def test_union_is_preserved_and_disjoint(raw):
    boxes = [Box(x, y, min(w, 100 - x), min(h, 80 - y)) for x, y, w, h in raw]
    rects = plan_regions(boxes, [0] * len(boxes), width=100, height=80, mcu_w=8, mcu_h=8)
    got = cover(rects, 10, 13)
    want = np.zeros((10, 13), int)
    for b in boxes:
        want[b.y // 8 : -(-(b.y + b.h) // 8), b.x // 8 : -(-(b.x + b.w) // 8)] = 1
    assert got.max() == 1
    assert np.array_equal(got, want)


def test_different_groups_may_touch_but_not_overlap():
    rects = plan_regions([Box(0, 0, 16, 16), Box(16, 0, 16, 16)], [0, 1], width=64, height=64, mcu_w=16, mcu_h=16)
    assert sorted(r.group for r in rects) == [0, 1]
    with pytest.raises(RegionError, match="overlap"):
        plan_regions([Box(0, 0, 17, 16), Box(16, 0, 16, 16)], [0, 1], width=64, height=64, mcu_w=16, mcu_h=16)


def test_no_boxes():
    with pytest.raises(RegionError):
        plan_regions([], [], width=10, height=10, mcu_w=8, mcu_h=8)
