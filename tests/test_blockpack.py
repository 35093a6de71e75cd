"""picveil.jpeg.blockpack: a painted region's original coefficients as a small JPEG."""

import io
import zlib

import numpy as np
import pytest
from PIL import Image

from picveil.jpeg.blockpack import pack_blocks, unpack_blocks
from picveil.jpeg.codec import read_coefficients

SAMPLE = __import__("pathlib").Path(__import__("picveil").__file__).parent / "data" / "astronaut.jpg"


def photo(mode: str, size: tuple[int, int], subsampling: int | None) -> bytes:
    im = Image.open(SAMPLE).convert(mode).resize(size)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=92, **({} if subsampling is None else {"subsampling": subsampling}))
    return buf.getvalue()


@pytest.mark.parametrize(
    "mode, subsampling, size",
    [("L", None, (330, 250)), ("RGB", 0, (301, 207)), ("RGB", 1, (403, 299)), ("RGB", 2, (515, 389))],
)
def test_round_trip_of_real_regions_including_edge_mcus(mode, subsampling, size):
    c = read_coefficients(photo(mode, size, subsampling))
    mw, mh = c.mcu_width, c.mcu_height
    sampling = [(k.h_samp, k.v_samp) for k in c.components]
    # an interior region and one that runs to the right and bottom edges (partial MCUs)
    for mx, my, nx, ny in ((1, 1, 3, 2), ((size[0] - 1) // mw - 1, (size[1] - 1) // mh - 1, 2, 2)):
        blocks = []
        for k in c.components:
            bx1 = min((mx + nx) * k.h_samp, k.width_in_blocks)
            by1 = min((my + ny) * k.v_samp, k.height_in_blocks)
            blocks.append(c.blocks(list(c.components).index(k), my * k.v_samp, by1, mx * k.h_samp, bx1))
        w = min((mx + nx) * mw, size[0]) - mx * mw
        h = min((my + ny) * mh, size[1]) - my * mh
        packed = pack_blocks(blocks, sampling, w, h)
        assert packed is not None and packed[:2] == b"\xff\xd8"
        back = unpack_blocks(packed, [b.shape[:2] for b in blocks])
        assert back is not None and all(np.array_equal(a, b) for a, b in zip(back, blocks))
        # smaller than what the container stored before (zlib of int16)
        raw = b"".join(np.ascontiguousarray(b, dtype="<i2").tobytes() for b in blocks)
        assert len(packed) < len(zlib.compress(raw, 6)) + 700  # tables and headers cost a few hundred bytes


def test_large_region_is_much_smaller_than_zlib():
    c = read_coefficients(SAMPLE.read_bytes())
    blocks = [c.blocks(0, 2, 26, 20, 38)] + [c.blocks(ci, 1, 13, 10, 19) for ci in (1, 2)]
    packed = pack_blocks(blocks, [(2, 2), (1, 1), (1, 1)], 144, 192)
    raw = b"".join(np.ascontiguousarray(b, dtype="<i2").tobytes() for b in blocks)
    assert len(packed) < 0.75 * len(zlib.compress(raw, 6))


def test_refusals():
    c = read_coefficients(SAMPLE.read_bytes())
    blocks = [c.blocks(0, 0, 4, 0, 4)] + [c.blocks(ci, 0, 2, 0, 2) for ci in (1, 2)]
    assert pack_blocks(blocks, [(2, 2), (1, 1), (1, 1)], 32, 32) is not None
    assert pack_blocks(blocks, [(1, 2), (1, 1), (1, 1)], 32, 32) is None  # 4:4:0: no such carrier
    assert pack_blocks(blocks, [(2, 2), (1, 1), (1, 1)], 48, 32) is None  # block counts would differ
    assert pack_blocks(blocks[:2], [(2, 2), (1, 1)], 32, 32) is None
    packed = pack_blocks(blocks, [(2, 2), (1, 1), (1, 1)], 32, 32)
    assert unpack_blocks(packed, [(4, 4), (2, 2)]) is None  # wrong component count
    assert unpack_blocks(packed, [(4, 4), (2, 2), (2, 3)]) is None  # wrong shape
    assert unpack_blocks(b"not a jpeg", [(4, 4)]) is None
    assert unpack_blocks(packed[: len(packed) // 2], [(4, 4), (2, 2), (2, 2)]) is None  # truncated
