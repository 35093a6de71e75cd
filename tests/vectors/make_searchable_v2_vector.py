"""Regenerate tests/vectors/searchable_v2.json (run once; the JSON is committed).

A 4:2:0 image of 10×12 luma blocks and 5×6 blocks per chroma (so tiles hold
one or two block rows and columns, and the chroma tiles are single blocks
in places), region_key = 00 01 .. 1f. tests/test_searchable.py checks the
scheme against a loop-by-loop reference written from SPEC §10.2 as well as
against this file.
"""

import json
from pathlib import Path

import numpy as np

from picveil.crypto import RegionKey
from picveil.schemes import get_scheme

key = bytes(range(32))
k = RegionKey(key)
shapes = [(10, 12), (5, 6), (5, 6)]
inputs = [((np.arange(r * c * 64, dtype=np.int16) * 7 + 31 * ci) % 201 - 100).reshape(r, c, 8, 8) for ci, (r, c) in enumerate(shapes)]
inputs[0][0, 0, 0, 0] = -1024  # the DC rule: never negated
outputs = get_scheme("searchable-v2").protect(inputs, k).blocks
v = {
    "description": "searchable-v2 (SPEC §10.2) on a 4:2:0 image of 10x12 luma blocks and 5x6 per chroma, region_key = 00 01 .. 1f",
    "region_key": key.hex(),
    "components": [
        {"rows": r, "cols": c, "input": i.ravel().tolist(), "output": o.ravel().tolist()}
        for (r, c), i, o in zip(shapes, inputs, outputs)
    ],
}
Path(__file__).with_name("searchable_v2.json").write_text(json.dumps(v) + "\n")
