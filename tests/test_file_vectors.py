"""Whole-file reveal vectors: each committed file gives its stated outcome."""

import hashlib
import json
from pathlib import Path

import pytest

import picveil
from picveil import api
from picveil import errors
from picveil.jpeg.codec import read_coefficients

FILES = Path(__file__).parent / "vectors" / "files"
VECTORS = json.loads((FILES / "vectors.json").read_text())
ERRORS = {
    "not_recipient": errors.NotRecipientError,
    "tampered": errors.TamperedError,
    "content_modified": errors.ContentModifiedError,
    "no_picveil_data": errors.NoPicveilDataError,
    "unsupported_version": errors.UnsupportedVersionError,
}


def digest(data: bytes) -> str:
    c = read_coefficients(data)
    h = hashlib.sha256()
    for i in range(len(c.components)):
        h.update(c.array(i).astype("<i2").tobytes())
    return h.hexdigest()


@pytest.mark.parametrize("v", VECTORS, ids=[v["file"] for v in VECTORS])
def test_file_vector(v):
    data = (FILES / v["file"]).read_bytes()
    key = FILES / v["identity"]
    if v["expected"] == "ok":
        out, rep = api._reveal(data, identities=[key])
        assert rep.locked == ()
        assert digest(out) == v["revealed_coefficients_sha256"]
    elif v["expected"] == "partial":
        out, rep = api._reveal(data, identities=[key])
        assert rep.revealed == (1,) and rep.locked == (0,)
    else:
        with pytest.raises(ERRORS[v["expected"]]):
            picveil.reveal(data, identities=[key])
