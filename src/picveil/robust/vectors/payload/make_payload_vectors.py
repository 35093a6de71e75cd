"""Regenerate payload_v2_thumbnail.json: a robust header payload (SPEC.md §13)
with a sealed region thumbnail (§13.7), and payload_v3_check.json: a version-3
payload with the coefficient check of a small JPEG (§13.1), for independent
implementations.

Run from the repository root: ``python src/picveil/robust/vectors/payload/make_payload_vectors.py``.
The vector gives the payload bytes, the parsed fields, the region key (a test
key, bytes 0..31), the thumbnail's plaintext, and the decoded thumbnail
rendered at the region's size and rounded to integers (a conforming decoder
matches within ±1). A reader MUST reject the payload's thumbnail when any bit
of it is flipped (the tag).
"""

import json
from pathlib import Path

import numpy as np
from skimage import data

from picveil.crypto import RegionKey
from picveil.robust import header as rh
from picveil.robust import thumbnail

HERE = Path(__file__).parent  # robust/vectors/payload/
key = RegionKey(bytes(range(32)))
region = data.astronaut()[96:112, 176:208]  # 32 x 16 px: two 16x16 MCUs of the face
plain = thumbnail.encode(region, 40)
entry = rh.RegionEntry(11, 6, 2, 1, 0, 1)  # fill look, at MCU (11, 6), 2 x 1 MCUs
sealed = key.seal_short(rh.THUMBNAIL_LABEL, rh.thumbnail_aad(0, entry), plain, rh.THUMBNAIL_TAG_BYTES)
from dataclasses import replace

entry = replace(entry, thumbnail=sealed)
hdr = rh.RobustHeader(
    scheme_id=1, width=512, height=512, layout="4:2:0", seed=bytes(range(8)), regions=(entry,),
    groups=(rh.GroupEntry(bytes.fromhex("a1b2c3d4e5f60718"), bytes.fromhex("01020304")),),
    tables=0x5A,
)
rendered = rh.open_thumbnail(hdr, 0, key)
vec = {
    "description": "robust header payload version 2 with one fill region and its sealed thumbnail (SPEC.md §13.1, §13.7)",
    "payload_hex": hdr.to_bytes().hex(),
    "width": 512, "height": 512, "layout": "4:2:0", "scheme_id": 1, "seed_hex": bytes(range(8)).hex(), "tables": 0x5A,
    "region": {"x": 11, "y": 6, "w": 2, "h": 1, "group": 0, "look": 1},
    "region_key_hex": bytes(range(32)).hex(),
    "thumbnail_plaintext_hex": plain.hex(),
    "rendered_rgb": np.rint(rendered).astype(int).tolist(),
}
(HERE / "payload_v2_thumbnail.json").write_text(json.dumps(vec) + "\n")
print("payload", len(hdr.to_bytes()), "bytes; thumbnail", len(sealed))

# version 3: the coefficient check of a 64 x 48 4:2:0 JPEG (scikit-image's astronaut, q90)
import io

from PIL import Image

from picveil.jpeg.codec import read_coefficients

buf = io.BytesIO()
Image.fromarray(data.astronaut()[80:128, 160:224]).save(buf, "JPEG", quality=90, subsampling=2)
jpeg = buf.getvalue()
regions = (rh.RegionEntry(1, 0, 2, 2, 0), rh.RegionEntry(0, 2, 1, 1, 0))  # MCUs (x, y, w, h)
hdr3 = rh.RobustHeader(
    scheme_id=5, width=64, height=48, layout="4:2:0", seed=bytes(range(8, 16)), regions=regions,
    groups=(rh.GroupEntry(bytes.fromhex("a1b2c3d4"), bytes.fromhex("01020304")),), tables=0x5A,
)
check = rh.coefficient_check(read_coefficients(jpeg), hdr3)
hdr3 = replace(hdr3, coef_check=check)
vec3 = {
    "description": "robust header payload version 3: two regions and the coefficient check of the JPEG given "
    "(SPEC.md §13.1); high byte over component 0, low byte over components 1 and 2",
    "payload_hex": hdr3.to_bytes().hex(),
    "jpeg_hex": jpeg.hex(),
    "regions_mcu": [[r.x, r.y, r.w, r.h] for r in regions],
    "coef_check": check,
}
(HERE / "payload_v3_check.json").write_text(json.dumps(vec3) + "\n")
print("payload v3", len(hdr3.to_bytes()), "bytes; check", hex(check))
