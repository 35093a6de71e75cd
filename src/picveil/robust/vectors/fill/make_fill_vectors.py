"""Regenerate region_cells.json: where a header that goes over the regions is
written under the fill rule (SPEC.md §10, payload version 4, §13.1), for
independent implementations.

Run from the repository root: ``python src/picveil/robust/vectors/fill/make_fill_vectors.py``.
Each case gives a geometry (picture size, MCU size, excluded boxes in pixels)
and a payload length; the expected outcome is the grid the writer takes
(the first of SPEC §9's grids on which the payload fits with every cell but
the pilots) and the cells over the regions that it modulates besides the
usable ones, as raster indices ``row * cols + col``; or ``null`` when the
payload fits outside the regions, or on no grid even over them.
"""

import json
from pathlib import Path

from picveil.robust.embedder import choose_plan, plans, region_cells

HERE = Path(__file__).parent  # robust/vectors/fill/
CASES = [
    ("two regions of 512 x 512", 512, 512, (16, 16), [(100, 100, 120, 120), (300, 250, 100, 100)], 46),
    ("four regions of 512 x 512", 512, 512, (16, 16), [(100, 100, 100, 100), (300, 250, 100, 100), (50, 350, 90, 90), (380, 60, 80, 80)], 46),
    ("one region of 640 x 480, 4:4:4", 640, 480, (8, 8), [(200, 150, 140, 160)], 76),
    ("two regions of 800 x 600", 800, 600, (16, 16), [(100, 100, 200, 200), (450, 250, 200, 200)], 114),
    ("a picture that is all region", 512, 512, (16, 16), [(0, 0, 512, 512)], 20),
    ("fits outside", 1024, 768, (16, 16), [(100, 100, 120, 120)], 46),
    ("fits nowhere", 512, 512, (16, 16), [(100, 100, 120, 120)], 400),
]

out = []
for name, w, h, mcu, boxes, length in CASES:
    case = {"name": name, "width": w, "height": h, "mcu": list(mcu), "boxes": [list(b) for b in boxes], "length": length}
    result = None
    if choose_plan(w, h, boxes, length, mcu) is None:
        for p in plans(w, h, boxes, mcu):
            extra = region_cells(p, length)
            if extra is not None:
                result = {"grid": [p.grid.cols, p.grid.rows], "cells": [int(i) for i in extra.reshape(-1).nonzero()[0]]}
                break
    case["expected"] = result
    out.append(case)
(HERE / "region_cells.json").write_text(json.dumps(out, indent=1) + "\n")
print("\n".join(f"{c['name']}: {None if c['expected'] is None else (c['expected']['grid'], len(c['expected']['cells']))}" for c in out))
