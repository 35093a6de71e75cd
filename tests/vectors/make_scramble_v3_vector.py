"""Regenerate tests/vectors/scramble_v3.json (run once; the JSON is committed).

One 4:2:0 region of 2×2 MCUs: luma 4×4 blocks, each chroma 2×2 blocks, with
region_key = 00 01 .. 1f. tests/test_scramble_v3.py checks the scheme against
a loop-by-loop reference written from the SPEC text as well as against this file.
"""

import json
from pathlib import Path

import numpy as np

from picveil.crypto import RegionKey
from picveil.schemes import get_scheme
from picveil.schemes.scramble_v1 import keyed_permutation

key = bytes(range(32))
k = RegionKey(key)
shapes = [(4, 4), (2, 2), (2, 2)]
inputs = [((np.arange(r * c * 64, dtype=np.int16) + 31 * ci) % 97 - 48).reshape(r, c, 8, 8) for ci, (r, c) in enumerate(shapes)]
outputs = get_scheme("scramble-v3").protect(inputs, k).blocks
v = {
    "description": "scramble-v3 on a 4:2:0 region of 2x2 MCUs (luma 4x4 blocks, chroma 2x2 each), region_key = 00 01 .. 1f",
    "region_key": key.hex(),
    "units": 4,
    "unit_perm": keyed_permutation(k, b"picveil scramble-v3 unit", 4).tolist(),
    "flip_bytes": k.stream(b"picveil scramble-v3 flip", 4).hex(),
    "components": [
        {"rows": r, "cols": c, "input": i.ravel().tolist(), "output": o.ravel().tolist()}
        for (r, c), i, o in zip(shapes, inputs, outputs)
    ],
}
Path(__file__).with_name("scramble_v3.json").write_text(json.dumps(v) + "\n")
