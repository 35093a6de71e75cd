"""Regenerate the robust channel's test vectors (SPEC.md §11).

Run from the repository root: ``python src/picveil/robust/vectors/make_vectors.py``.
Every vector is a picture file and a JSON file stating the expected outcome;
the script checks each outcome with the reference reader before writing.

1. ``success_01``: the bundled astronaut (512 x 512, 4:2:0, quality 90) with
   its face scrambled like scramble-v1 (seeded), carrying a 20-byte payload;
2. ``success_02``: vector 1's pixels downscaled to 384 x 384 (Lanczos) and
   re-encoded by Pillow at quality 40;
3. ``none_03``: the same photo without a header;
4. ``damaged_04``: vector 1's pixels with the lower 70 % taken from
   the photo without a header, quality 90: the signal is still found, the
   data not.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
from PIL import Image

from picveil import robust
from picveil.errors import NoPicveilDataError
from picveil.jpeg.codec import read_coefficients

HERE = Path(__file__).resolve().parent
SAMPLE = HERE.parent.parent / "data" / "astronaut.jpg"
BOX = (150, 10, 155, 175)
PAYLOAD = b"picveil robust v1 #1"
SEED = 4


def _decode(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))


def _jpeg(rgb: np.ndarray, quality: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=quality, subsampling=2)
    return buf.getvalue()


def _scramble(coeffs, box, seed: int) -> None:
    rng = np.random.default_rng(seed)
    mw, mh = coeffs.mcu_width, coeffs.mcu_height
    x, y, w, h = box
    cx0, cy0, cx1, cy1 = x // mw, y // mh, -(-(x + w) // mw), -(-(y + h) // mh)
    for ci, comp in enumerate(coeffs.components):
        sx, sy = mw // 8 * comp.h_samp // 2, mh // 8 * comp.v_samp // 2
        blk = coeffs.blocks(ci, cy0 * sy, cy1 * sy, cx0 * sx, cx1 * sx)
        flat = blk.reshape(-1, 8, 8)[rng.permutation(blk.shape[0] * blk.shape[1])]
        flat = flat * rng.choice(np.array([-1, 1], dtype=np.int16), size=flat.shape)
        coeffs.set_blocks(ci, cy0 * sy, cx0 * sx, flat.reshape(blk.shape))


def _outcome(data: bytes) -> tuple[str, bytes | None, list[int] | None]:
    try:
        got = robust.extract_report(_decode(data))
    except NoPicveilDataError:
        return "no header", None, None
    except robust.HeaderDamagedError:
        return "header damaged", None, None
    return "success", got.payload, list(got.grid)


def _write(name: str, ext: str, data: bytes, expected: str, description: str) -> None:
    outcome, payload, grid = _outcome(data)
    if outcome != expected or (outcome == "success" and payload != PAYLOAD):
        raise SystemExit(f"{name}: expected {expected}, the reader says {outcome}")
    (HERE / f"{name}.{ext}").write_bytes(data)
    record = {"file": f"{name}.{ext}", "outcome": outcome, "description": description}
    if outcome == "success":
        record |= {"payload_hex": payload.hex(), "grid": grid}
    (HERE / f"{name}.json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"{name}: {outcome}")


def main() -> None:
    photo = _decode(SAMPLE.read_bytes())
    source = _jpeg(photo, 90)
    coeffs = read_coefficients(source)
    _scramble(coeffs, BOX, SEED)
    unembedded = _decode(coeffs.encode())
    robust.embed(coeffs, PAYLOAD, [BOX])
    embedded = coeffs.encode()
    _write("success_01", "jpg", embedded, "success", "astronaut 512x512 4:2:0 q90, face scrambled, 20-byte payload")
    small = np.asarray(Image.fromarray(_decode(embedded)).resize((384, 384), Image.Resampling.LANCZOS))
    _write("success_02", "jpg", _jpeg(small, 40), "success", "success_01 downscaled to 384x384 (Lanczos), Pillow quality 40")
    _write("none_03", "jpg", _jpeg(unembedded, 90), "no header", "the same scrambled photo without a header")
    mixed = _decode(embedded).copy()
    cut = int(0.3 * mixed.shape[0])
    mixed[cut:] = unembedded[cut:]
    _write("damaged_04", "jpg", _jpeg(mixed, 90), "header damaged", "success_01 with its lower 70% replaced by the unembedded pixels")


if __name__ == "__main__":
    main()
