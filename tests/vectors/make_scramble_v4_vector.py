"""Regenerate tests/vectors/scramble_v4.json (run once; the JSON is committed).

One 4:2:0 region of 2×2 MCUs: luma 4×4 blocks, each chroma 2×2 blocks, with
region_key = 00 01 .. 1f and DC values spread over the whole legal range, so
that blocks with one and with two step-0 candidates both occur.
tests/test_scramble_v4.py checks the scheme against a literal reading of the
SPEC text as well as against this file.
"""

import json
import zlib
from pathlib import Path

import numpy as np

from picveil.crypto import RegionKey
from picveil.schemes import get_scheme
from picveil.schemes.scramble_v1 import keyed_permutation

key = bytes(range(32))
k = RegionKey(key)
shapes = [(4, 4), (2, 2), (2, 2)]
inputs = []
for ci, (r, c) in enumerate(shapes):
    b = ((np.arange(r * c * 64, dtype=np.int16) + 31 * ci) % 97 - 48).reshape(r, c, 8, 8)
    b[..., 0, 0] = (np.arange(r * c).reshape(r, c) * 137 + 53 * ci) % 2048 - 1024
    inputs.append(b)
p = get_scheme("scramble-v4").protect(inputs, k)
v = {
    "description": "scramble-v4 on a 4:2:0 region of 2x2 MCUs (luma 4x4 blocks, chroma 2x2 each), region_key = 00 01 .. 1f",
    "region_key": key.hex(),
    "units": 4,
    "unit_perm": keyed_permutation(k, b"picveil scramble-v4 unit", 4).tolist(),
    "flip_bytes": k.stream(b"picveil scramble-v4 flip", 4).hex(),
    "aux_bits": zlib.decompress(p.aux).hex(),
    "components": [
        {"rows": r, "cols": c, "input": i.ravel().tolist(), "output": o.ravel().tolist()}
        for (r, c), i, o in zip(shapes, inputs, p.blocks)
    ],
}
Path(__file__).with_name("scramble_v4.json").write_text(json.dumps(v) + "\n")
