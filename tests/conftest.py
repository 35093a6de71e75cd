"""Shared fixtures: real photos (scikit-image's astronaut, the bundled sample)
encoded in every JPEG variant picveil supports, and age identities."""

from __future__ import annotations

import io
from importlib.resources import files

import numpy as np
import pytest
from PIL import Image

SUBSAMPLING = {"4:4:4": 0, "4:2:2": 1, "4:2:0": 2}
VARIANTS = [
    (sub, prog) for sub in ("4:4:4", "4:2:2", "4:2:0", "gray") for prog in (False, True)
]


def sample_bytes() -> bytes:
    return files("picveil").joinpath("data/astronaut.jpg").read_bytes()


def sample_rgb() -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(sample_bytes())).convert("RGB"))


def encode_jpeg(rgb: np.ndarray, *, sub: str = "4:2:0", progressive: bool = False, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    if sub == "gray":
        Image.fromarray(rgb).convert("L").save(buf, "JPEG", quality=quality, progressive=progressive)
    else:
        Image.fromarray(rgb).save(buf, "JPEG", quality=quality, progressive=progressive, subsampling=SUBSAMPLING[sub])
    return buf.getvalue()


def decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


def load_mix_vector(path):
    """A scramble-v5/v6 test vector (tools/make_scramble_mix_vectors.py): ``(vector,
    region key bytes, input blocks per component, tables per component)``."""
    import json

    vec = json.loads(path.read_text())
    blocks = [np.array(c["input"], dtype=np.int16).reshape(c["rows"], c["cols"], 8, 8) for c in vec["components"]]
    quant = [np.array(c["quant"], dtype=np.uint16).reshape(8, 8) for c in vec["components"]]
    return vec, bytes.fromhex(vec["region_key"]), blocks, quant


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two 8-bit pictures (any shape, compared as floats)."""
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    return float(10 * np.log10(255.0**2 / np.mean(d * d)))


@pytest.fixture(autouse=True)
def _isolated_keyring(tmp_path_factory, monkeypatch):
    """Never touch the developer's own keyring: every test gets an empty PICVEIL_HOME."""
    monkeypatch.setenv("PICVEIL_HOME", str(tmp_path_factory.mktemp("picveil-home")))


@pytest.fixture(scope="session")
def photo() -> np.ndarray:
    """The bundled sample photo (512×512 RGB, a face at about 150,10,155,175)."""
    return sample_rgb()


@pytest.fixture(scope="session")
def odd_photo() -> np.ndarray:
    """A real photo with a size that is not a multiple of the MCU (partial edge blocks)."""
    rgb = sample_rgb()
    return np.ascontiguousarray(rgb[:437, :389])


@pytest.fixture(scope="session")
def identities():
    from picveil.crypto import Identity

    return [Identity.generate() for _ in range(3)]


@pytest.fixture(scope="session")
def key_files(tmp_path_factory, identities):
    d = tmp_path_factory.mktemp("keys")
    paths = []
    for i, ident in enumerate(identities):
        p = d / f"id{i}.key"
        p.write_text(ident.to_file_text())
        paths.append(p)
    return paths
