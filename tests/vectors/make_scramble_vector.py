"""Regenerate tests/vectors/scramble_v1.json (run once; the JSON is committed).

The key stream is also checked independently with OpenSSL's command line
when available: subkey = HKDF-SHA256(region_key, salt="", info=label),
stream = AES-256-CTR(subkey, IV=0) of zero bytes.
"""

import json
from pathlib import Path

import numpy as np

from picveil.crypto import RegionKey
from picveil.schemes import get_scheme
from picveil.schemes.scramble_v1 import keyed_permutation

key = bytes(range(32))
k = RegionKey(key)
rows, cols = 2, 3
inp = (np.arange(rows * cols * 64, dtype=np.int16) % 97 - 48).reshape(rows, cols, 8, 8)
out = get_scheme(1).protect([inp], k).blocks[0]
v = {
    "description": "scramble-v1 on one 2×3-block component with region_key = 00 01 .. 1f",
    "region_key": key.hex(),
    "label": "picveil test label",
    "stream32": k.stream(b"picveil test label", 32).hex(),
    "n": 6,
    "perm": keyed_permutation(k, b"picveil scramble-v1 perm\x00", 6).tolist(),
    "rows": rows,
    "cols": cols,
    "input": inp.ravel().tolist(),
    "output": out.ravel().tolist(),
}
Path(__file__).with_name("scramble_v1.json").write_text(json.dumps(v, indent=1) + "\n")
