"""Append the painted-look vectors to tests/vectors/files/ (run once; committed).

Two files protected with ``look="fill"`` for the committed ``test.key``: one
storing the original coefficients as kind 3 (a small Huffman-coded JPEG, what
picveil writes), one as kind 2 (zlib of int16, what earlier versions wrote and
every reader must still accept). Both reveal to the source's coefficients.
"""

import hashlib
import io
import json
from pathlib import Path

import numpy as np
from PIL import Image

import picveil
from picveil import api
from picveil.container.region_data import DATA_ORIGINAL
from picveil.crypto import load_identities
from picveil.jpeg.codec import read_coefficients

HERE = Path(__file__).with_name("files")
me = load_identities(HERE / "test.key")[0]
rgb = np.asarray(Image.open(io.BytesIO((Path(picveil.__file__).parent / "data/astronaut.jpg").read_bytes())).convert("RGB"))[16:112, 160:288]
buf = io.BytesIO()
Image.fromarray(rgb).save(buf, "JPEG", quality=85, subsampling=2)
src = buf.getvalue()
c = read_coefficients(src)
digest = hashlib.sha256(b"".join(c.array(i).astype("<i2").tobytes() for i in range(3))).hexdigest()
vectors = [v for v in json.loads((HERE / "vectors.json").read_text()) if not v["file"].startswith("ok_look_fill")]

kind3 = picveil.protect(src, [(8, 8, 60, 70), (112, 80, 16, 16)], recipients=[me.recipient], look="fill")
real = api._pack_original
api._pack_original = lambda coeffs, rect, blocks: (DATA_ORIGINAL, __import__("zlib").compress(b"".join(bytes(m) for m in api._region_bytes(blocks)), 6))
kind2 = picveil.protect(src, [(8, 8, 60, 70), (112, 80, 16, 16)], recipients=[me.recipient], look="fill")
api._pack_original = real
for name, data, what in (("ok_look_fill_kind3", kind3, "kind 3: original as a small JPEG"),
                         ("ok_look_fill_kind2", kind2, "kind 2: original as zlib of int16")):
    (HERE / f"{name}.jpg").write_bytes(data)
    vectors.append({"file": f"{name}.jpg", "identity": "test.key", "expected": "ok",
                    "description": f"two fill regions (one at the bottom-right edge), {what}",
                    "revealed_coefficients_sha256": digest})
(HERE / "vectors.json").write_text(json.dumps(vectors, indent=1) + "\n")
print(len(vectors), "vectors")
