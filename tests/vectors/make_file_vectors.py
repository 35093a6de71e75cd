"""Regenerate the whole-file reveal vectors in tests/vectors/files/ (run once; committed).

Each vector is a small protected JPEG plus the outcome a conforming reader
must give with the committed test identity (`test.key`, a throwaway key that
protects nothing real). Outcomes: ok (with the SHA-256 of the revealed
coefficients), not_recipient, tampered, content_modified, no_picveil_data,
unsupported_version.
"""

import hashlib
import io
import json
from pathlib import Path

import numpy as np
from PIL import Image

import picveil
from picveil.crypto import Identity
from picveil.jpeg.codec import read_coefficients
from picveil.jpeg.markers import app11_payloads, insert_segments, read_segments
from picveil.container import decode_container

HERE = Path(__file__).with_name("files")
HERE.mkdir(exist_ok=True)


def coeff_digest(data: bytes) -> str:
    c = read_coefficients(data)
    h = hashlib.sha256()
    for i in range(len(c.components)):
        h.update(c.array(i).astype("<i2").tobytes())
    return h.hexdigest()


me, other = Identity.generate(), Identity.generate()
(HERE / "test.key").write_text(me.to_file_text())
rgb = np.asarray(Image.open(io.BytesIO((Path(picveil.__file__).parent / "data/astronaut.jpg").read_bytes())).convert("RGB"))[16:112, 160:288]
buf = io.BytesIO()
Image.fromarray(rgb).save(buf, "JPEG", quality=85, subsampling=2)
src = buf.getvalue()
vectors = []


def add(name, data, outcome, description):
    (HERE / f"{name}.jpg").write_bytes(data)
    v = {"file": f"{name}.jpg", "identity": "test.key", "expected": outcome, "description": description}
    if outcome == "ok":
        v["revealed_coefficients_sha256"] = coeff_digest(src)
    vectors.append(v)


prot = picveil.protect(src, [(8, 8, 60, 70), (96, 40, 20, 20)], recipients=[me.recipient])
add("ok_two_regions", prot, "ok", "two regions, one group; the reveal equals the source coefficients")
both = picveil.protect(src, [picveil.Region(picveil.Box(0, 0, 64, 96), recipients=(other.recipient,)), picveil.Region(picveil.Box(64, 0, 64, 96), recipients=(me.recipient,))])
add("partial_other_group", both, "partial", "two groups; test.key opens only the right half (region 2)")
add("not_recipient", picveil.protect(src, [(0, 0, 32, 32)], recipients=[other.recipient]), "not_recipient", "protected for someone else")
raw = decode_container(app11_payloads(prot)).header.to_bytes()
i = prot.index(raw) + len(raw) - 3
add("tampered_header", prot[:i] + bytes([prot[i] ^ 1]) + prot[i + 1 :], "tampered", "one bit of a region salt flipped")
c = read_coefficients(prot)
b = c.blocks(0, 1, 2, 1, 2)
b[0, 0, 0, 0] += 1
segs = [(s.marker, bytes(s.payload)) for s in read_segments(prot) if 0xFFE1 <= s.marker <= 0xFFEF and s.marker != 0xFFE0]
c.set_blocks(0, 1, 1, b)
add("content_modified", insert_segments(c.encode(), segs), "content_modified", "one protected DC coefficient changed by 1")
add("no_container", src, "no_picveil_data", "a plain JPEG")
# version 2 header: rewrite format_version byte and leave tags as they are
j = prot.index(raw)
add("version_2", prot[:j] + b"\x02" + prot[j + 1 :], "unsupported_version", "format_version = 2")
(HERE / "vectors.json").write_text(json.dumps(vectors, indent=1) + "\n")
print(len(vectors), "vectors")
