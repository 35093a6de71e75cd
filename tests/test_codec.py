"""Tests of picveil.jpeg.codec, the coefficient-access layer, on real photos.

Test images are scikit-image's ``astronaut`` (RGB) and ``camera`` (gray),
cropped to sizes that are not multiples of the MCU so edge blocks are
exercised, and encoded by Pillow (libjpeg-turbo) at quality 90.
"""

from __future__ import annotations

import io
import shutil
import struct
import subprocess

import numpy as np
import pytest
from PIL import Image

from picveil.errors import (
    CorruptImageError,
    ImageTooLargeError,
    NotAnImageError,
    UnsupportedImageError,
)
from picveil.jpeg.codec import (
    AC_MAX,
    AC_MIN,
    DC_MAX,
    DC_MIN,
    DEFAULT_MAX_PIXELS,
    JpegCoefficients,
    read_coefficients,
)

skimage_data = pytest.importorskip("skimage.data")

QUALITY = 90
WIDTH, HEIGHT = 501, 389  # not multiples of 8 or 16
# Pillow's subsampling= argument -> name and luma sampling factors (h, v).
SUBSAMPLINGS = {0: ("4:4:4", (1, 1)), 1: ("4:2:2", (2, 1)), 2: ("4:2:0", (2, 2))}

# ITU-T T.81 Annex K, Table K.1 (luminance) and K.2 (chrominance), natural order.
ANNEX_K_LUMA = [
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
]  # fmt: skip
ANNEX_K_CHROMA = [
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99,
    24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99,
] + [99] * 32  # fmt: skip


def _scaled_table(base: list[int], quality: int) -> np.ndarray:
    """libjpeg's jpeg_quality_scaling + jpeg_add_quant_table (jcparam.c)."""
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    values = [min(max((b * scale + 50) // 100, 1), 255) for b in base]
    return np.array(values, dtype=np.uint16).reshape(8, 8)


def _encode(image: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=QUALITY, **options)
    return buffer.getvalue()


def _pixels(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image)


def _segments(data: bytes) -> list[tuple[int, int]]:
    """(marker, offset) of every header segment up to SOS (test helper)."""
    found, pos = [], 2
    while True:
        marker = struct.unpack(">H", data[pos : pos + 2])[0]
        found.append((marker, pos))
        if marker == 0xFFDA:
            return found
        pos += 2 + struct.unpack(">H", data[pos + 2 : pos + 4])[0]


@pytest.fixture(scope="module")
def color_image() -> Image.Image:
    return Image.fromarray(skimage_data.astronaut()[:HEIGHT, :WIDTH])


@pytest.fixture(scope="module")
def gray_image() -> Image.Image:
    return Image.fromarray(skimage_data.camera()[:HEIGHT, :WIDTH])


VARIANTS = [(s, p) for s in SUBSAMPLINGS for p in (False, True)] + [
    ("gray", False),
    ("gray", True),
]


@pytest.fixture(scope="module", params=VARIANTS, ids=lambda v: f"{v[0]}-{'prog' if v[1] else 'base'}")
def variant(request, color_image, gray_image) -> tuple[object, bool, bytes]:
    sampling, progressive = request.param
    if sampling == "gray":
        data = _encode(gray_image, progressive=progressive)
    else:
        data = _encode(color_image, subsampling=sampling, progressive=progressive)
    return sampling, progressive, data


@pytest.fixture(scope="module")
def gray_baseline(gray_image) -> bytes:
    return _encode(gray_image)


@pytest.fixture(scope="module")
def color_baseline(color_image) -> bytes:
    return _encode(color_image, subsampling=2)


# --- lossless round trip ------------------------------------------------------


def test_encode_unchanged_gives_identical_pixels(variant):
    _, progressive, data = variant
    coefficients = read_coefficients(data)
    assert coefficients.progressive is progressive
    out = coefficients.encode()
    np.testing.assert_array_equal(_pixels(out), _pixels(data))
    assert read_coefficients(out).progressive is progressive


def test_encode_keeps_every_coefficient(variant):
    _, _, data = variant
    before = read_coefficients(data)
    for progressive in (False, True):
        after = read_coefficients(before.encode(progressive=progressive, optimize=True))
        assert after.progressive is progressive
        assert after.components == before.components
        for comp in before.components:
            np.testing.assert_array_equal(after.array(comp.index), before.array(comp.index))
            np.testing.assert_array_equal(after.quant_table(comp.index), before.quant_table(comp.index))


def test_encode_is_repeatable(color_baseline):
    coefficients = read_coefficients(color_baseline)
    assert coefficients.encode() == coefficients.encode()


# --- geometry and tables ------------------------------------------------------


def test_geometry(variant):
    sampling, _, data = variant
    coefficients = read_coefficients(data)
    assert (coefficients.width, coefficients.height) == (WIDTH, HEIGHT)
    if sampling == "gray":
        assert coefficients.color_space == "gray"
        assert coefficients.subsampling() == "gray"
        assert (coefficients.mcu_width, coefficients.mcu_height) == (8, 8)
        (comp,) = coefficients.components
        assert (comp.width_in_blocks, comp.height_in_blocks) == (-(-WIDTH // 8), -(-HEIGHT // 8))
        return
    name, (max_h, max_v) = SUBSAMPLINGS[sampling]
    assert coefficients.color_space == "ycbcr"
    assert coefficients.subsampling() == name
    assert (coefficients.mcu_width, coefficients.mcu_height) == (8 * max_h, 8 * max_v)
    assert [c.id for c in coefficients.components] == [1, 2, 3]
    assert [(c.h_samp, c.v_samp) for c in coefficients.components] == [(max_h, max_v), (1, 1), (1, 1)]
    for comp in coefficients.components:
        # T.81 A.1.1: a component has ceil(X * H / Hmax) samples per line.
        samples_x = -(-WIDTH * comp.h_samp // max_h)
        samples_y = -(-HEIGHT * comp.v_samp // max_v)
        assert comp.width_in_blocks == -(-samples_x // 8)
        assert comp.height_in_blocks == -(-samples_y // 8)
        assert coefficients.array(comp.index).shape == (comp.height_in_blocks, comp.width_in_blocks, 8, 8)


def test_quant_tables_match_pillow_and_annex_k(variant):
    sampling, _, data = variant
    coefficients = read_coefficients(data)
    with Image.open(io.BytesIO(data)) as image:
        # Pillow >= 8.3 reports DQT tables in natural order (python-pillow/Pillow#4989).
        pillow_tables = {k: np.array(v, dtype=np.uint16).reshape(8, 8) for k, v in image.quantization.items()}
    for comp in coefficients.components:
        table = coefficients.quant_table(comp.index)
        assert table.dtype == np.uint16 and table.shape == (8, 8)
        np.testing.assert_array_equal(table, pillow_tables[comp.quant_index])
        base = ANNEX_K_LUMA if comp.index == 0 else ANNEX_K_CHROMA
        np.testing.assert_array_equal(table, _scaled_table(base, QUALITY))


@pytest.mark.skipif(shutil.which("cjpeg") is None, reason="cjpeg not installed")
@pytest.mark.parametrize(
    ("sample", "name"),
    [("4x1,1x1,1x1", "4:1:1"), ("1x2,1x1,1x1", "4:4:0"), ("2x1,1x2,1x1", "h2v1,h1v2,h1v1")],
)
def test_unusual_sampling_factors(color_image, sample, name):
    ppm = io.BytesIO()
    color_image.save(ppm, "PPM")
    data = subprocess.run(
        ["cjpeg", "-quality", str(QUALITY), "-sample", sample], input=ppm.getvalue(), capture_output=True, check=True
    ).stdout
    coefficients = read_coefficients(data)
    assert coefficients.subsampling() == name
    max_h = max(c.h_samp for c in coefficients.components)
    max_v = max(c.v_samp for c in coefficients.components)
    assert (coefficients.mcu_width, coefficients.mcu_height) == (8 * max_h, 8 * max_v)
    np.testing.assert_array_equal(_pixels(coefficients.encode()), _pixels(data))


# --- block access ---------------------------------------------------------------


def test_blocks_round_trip(color_baseline):
    coefficients = read_coefficients(color_baseline)
    comp = coefficients.components[1]
    whole = coefficients.array(1)
    part = coefficients.blocks(1, 3, 7, 5, 12)
    assert part.dtype == np.int16 and part.shape == (4, 7, 8, 8)
    assert part.flags.c_contiguous
    np.testing.assert_array_equal(part, whole[3:7, 5:12])
    changed = -part
    coefficients.set_blocks(1, 3, 5, changed)
    np.testing.assert_array_equal(coefficients.blocks(1, 3, 7, 5, 12), changed)
    expected = whole.copy()
    expected[3:7, 5:12] = changed
    np.testing.assert_array_equal(coefficients.array(1), expected)
    # The last block row and column are reachable; empty rectangles are fine.
    h, w = comp.height_in_blocks, comp.width_in_blocks
    assert coefficients.blocks(1, h - 1, h, w - 1, w).shape == (1, 1, 8, 8)
    assert coefficients.blocks(1, 0, 0, 0, w).shape == (0, w, 8, 8)
    # Blocks are copies: changing one does not change the image.
    part[...] = 0
    np.testing.assert_array_equal(coefficients.blocks(1, 3, 7, 5, 12), changed)


def test_set_blocks_accepts_other_integer_dtypes(gray_baseline):
    coefficients = read_coefficients(gray_baseline)
    blocks = np.full((2, 3, 8, 8), 5, dtype=np.int64)
    coefficients.set_blocks(0, 1, 1, blocks)
    np.testing.assert_array_equal(coefficients.blocks(0, 1, 3, 1, 4), blocks)


def test_changing_one_block_changes_only_its_pixels(gray_baseline):
    coefficients = read_coefficients(gray_baseline)
    by, bx = 10, 20
    block = coefficients.blocks(0, by, by + 1, bx, bx + 1)
    block[0, 0, 0, 0] += 4  # DC: the whole 8x8 area gets brighter
    block[0, 0, 1, 2] -= 3  # one AC coefficient
    coefficients.set_blocks(0, by, bx, block)
    diff = _pixels(coefficients.encode()).astype(int) - _pixels(gray_baseline).astype(int)
    changed_rows, changed_cols = np.nonzero(diff)
    assert changed_rows.size > 0
    assert set(changed_rows) <= set(range(8 * by, 8 * by + 8))
    assert set(changed_cols) <= set(range(8 * bx, 8 * bx + 8))


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ((3, 0, 1, 0, 1), ValueError),  # no component 3 in a gray image
        ((0, 0, 50, 0, 1), ValueError),  # 49 block rows
        ((0, 0, 1, 60, 64), ValueError),  # 63 block columns
        ((0, 2, 1, 0, 1), ValueError),  # reversed
        ((0, -1, 1, 0, 1), ValueError),
        ((0, 0.5, 1, 0, 1), TypeError),
    ],
)
def test_blocks_rejects_bad_rectangles(gray_baseline, args, error):
    with pytest.raises(error):
        read_coefficients(gray_baseline).blocks(*args)


@pytest.mark.parametrize(
    ("blocks", "position", "error"),
    [
        (np.zeros((1, 1, 8, 8), np.float32), (0, 0), TypeError),
        (np.zeros((1, 1, 64), np.int16), (0, 0), ValueError),
        (np.zeros((1, 2, 8, 8), np.int16), (0, 62), ValueError),  # past the right edge
        (np.zeros((1, 1, 8, 8), np.int16), (49, 0), ValueError),  # past the bottom
        (np.full((1, 1, 8, 8), AC_MAX + 1, np.int16), (0, 0), ValueError),
        (np.full((1, 1, 8, 8), 40000, np.int32), (0, 0), ValueError),  # would wrap in int16
        (np.full((1, 1, 8, 8), DC_MIN, np.int16), (0, 0), ValueError),  # AC may not be -1024
    ],
)
def test_set_blocks_rejects_bad_input(gray_baseline, blocks, position, error):
    coefficients = read_coefficients(gray_baseline)
    before = coefficients.array(0)
    with pytest.raises(error):
        coefficients.set_blocks(0, *position, blocks)
    np.testing.assert_array_equal(coefficients.array(0), before)


def test_extreme_coefficients_encode(gray_baseline):
    coefficients = read_coefficients(gray_baseline)
    low = np.full((1, 1, 8, 8), AC_MIN, np.int16)
    low[0, 0, 0, 0] = DC_MIN
    high = np.full((1, 1, 8, 8), AC_MAX, np.int16)
    high[0, 0, 0, 0] = DC_MAX
    extremes = np.concatenate([low, high, low], axis=1)  # DC differences of 2047
    coefficients.set_blocks(0, 0, 0, extremes)
    for progressive in (False, True):
        again = read_coefficients(coefficients.encode(progressive=progressive))
        np.testing.assert_array_equal(again.blocks(0, 0, 1, 0, 3), extremes)


# --- other decoders and markers -------------------------------------------------


@pytest.mark.skipif(shutil.which("djpeg") is None, reason="djpeg not installed")
def test_output_opens_in_djpeg(variant):
    out = read_coefficients(variant[2]).encode()
    result = subprocess.run(["djpeg", "-outfile", "/dev/null"], input=out, capture_output=True, check=False)
    assert result.returncode == 0
    assert result.stderr == b""  # djpeg prints libjpeg warnings here


def test_output_opens_in_opencv(variant):
    cv2 = pytest.importorskip("cv2")
    data = variant[2]
    out = read_coefficients(data).encode()
    decoded = cv2.imdecode(np.frombuffer(out, np.uint8), cv2.IMREAD_UNCHANGED)
    assert decoded is not None
    np.testing.assert_array_equal(decoded, cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED))


def test_only_jfif_is_copied(color_image):
    data = _encode(color_image, dpi=(300, 300), comment=b"private", exif=b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x00")
    markers = {m for m, _ in _segments(data)}
    assert {0xFFE1, 0xFFFE} <= markers  # the input has EXIF and a comment
    out = read_coefficients(data).encode()
    assert {m for m, _ in _segments(out)} & {0xFFE1, 0xFFFE} == set()
    assert _segments(out)[0][0] == 0xFFE0
    with Image.open(io.BytesIO(out)) as image:
        assert image.info["dpi"] == (300, 300)


@pytest.mark.skipif(shutil.which("jpegtran") is None, reason="jpegtran not installed")
def test_arithmetic_input_is_written_as_huffman(color_baseline):
    arithmetic = subprocess.run(
        ["jpegtran", "-arithmetic"], input=color_baseline, capture_output=True, check=True
    ).stdout
    coefficients = read_coefficients(arithmetic)
    assert coefficients.arithmetic
    out = coefficients.encode()
    assert not read_coefficients(out).arithmetic
    np.testing.assert_array_equal(_pixels(out), _pixels(color_baseline))


def test_accepts_bytes_like(gray_baseline):
    assert read_coefficients(bytearray(gray_baseline)).width == WIDTH
    assert read_coefficients(memoryview(gray_baseline)).width == WIDTH


def test_repr(color_baseline):
    assert repr(read_coefficients(color_baseline)) == f"<JpegCoefficients {WIDTH}x{HEIGHT} ycbcr 4:2:0 baseline>"


# --- errors ---------------------------------------------------------------------


@pytest.mark.parametrize("cut", [0.5, 0.9, 0.999])
def test_truncated_file_is_corrupt(variant, cut):
    data = variant[2]
    with pytest.raises(CorruptImageError, match="truncated or corrupt"):
        read_coefficients(data[: int(len(data) * cut)])


def test_truncated_header_is_corrupt(color_baseline):
    with pytest.raises(CorruptImageError):
        read_coefficients(color_baseline[:200])


def test_random_bytes_are_not_an_image():
    rng = np.random.default_rng(1)
    with pytest.raises(NotAnImageError):
        read_coefficients(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(NotAnImageError):
        read_coefficients(b"")


def test_garbage_after_soi_is_corrupt():
    rng = np.random.default_rng(2)
    garbage = rng.integers(0, 256, 4096, dtype=np.uint8).tobytes()
    with pytest.raises(CorruptImageError):
        read_coefficients(b"\xff\xd8" + garbage)
    with pytest.raises(CorruptImageError):
        read_coefficients(b"\xff\xd8")


def test_corrupt_entropy_data_is_corrupt(color_baseline):
    sos = _segments(color_baseline)[-1][1]
    data = bytearray(color_baseline)
    rng = np.random.default_rng(3)
    start = sos + 1000
    data[start : start + 2000] = rng.integers(0, 256, 2000, dtype=np.uint8).tobytes()
    with pytest.raises(CorruptImageError):
        read_coefficients(bytes(data))


def test_extraneous_bytes_before_a_marker_are_tolerated(gray_baseline):
    """Camera files often pad before EOI; every decoder skips such bytes, and no coefficient is lost."""
    data = gray_baseline[:-2] + b"\x00\x00\x00" + gray_baseline[-2:]
    a, b = read_coefficients(data), read_coefficients(gray_baseline)
    assert np.array_equal(a.array(0), b.array(0))


def test_too_many_pixels(color_baseline):
    with pytest.raises(ImageTooLargeError, match=r"501×389 = 0.2 megapixels, over the limit of 0.1 megapixels"):
        read_coefficients(color_baseline, max_pixels=100_000)
    assert read_coefficients(color_baseline, max_pixels=WIDTH * HEIGHT).width == WIDTH
    assert DEFAULT_MAX_PIXELS == 200_000_000


@pytest.mark.parametrize("max_pixels", [0, -5, True])
def test_bad_max_pixels(color_baseline, max_pixels):
    with pytest.raises(ValueError):
        read_coefficients(color_baseline, max_pixels=max_pixels)


def test_cmyk_is_unsupported(color_image):
    with pytest.raises(UnsupportedImageError, match="CMYK"):
        read_coefficients(_encode(color_image.convert("CMYK")))


def _patch_sof(data: bytes, *, marker: int | None = None, precision: int | None = None) -> bytes:
    (_, offset), = [(m, o) for m, o in _segments(data) if m in (0xFFC0, 0xFFC2)]
    patched = bytearray(data)
    if marker is not None:
        patched[offset + 1] = marker & 0xFF
    if precision is not None:
        patched[offset + 4] = precision
    return bytes(patched)


def test_12_bit_is_unsupported(gray_baseline):
    with pytest.raises(UnsupportedImageError, match="precision 12"):
        read_coefficients(_patch_sof(gray_baseline, marker=0xFFC1, precision=12))


def test_lossless_is_unsupported(gray_baseline):
    with pytest.raises(UnsupportedImageError, match="SOF type 0xc3"):
        read_coefficients(_patch_sof(gray_baseline, marker=0xFFC3))


def test_two_components_are_unsupported(color_baseline):
    # Drop the Cr component from SOF and SOS: a valid-looking 2-component file.
    segments = dict((m, o) for m, o in _segments(color_baseline))
    sof, sos = segments[0xFFC0], segments[0xFFDA]
    data = bytearray(color_baseline)
    # SOS: length, Ns, then Ns x 2 bytes; remove the third component selector.
    data[sos + 2 : sos + 5] = struct.pack(">HB", 6 + 2 * 2, 2)
    del data[sos + 9 : sos + 11]
    # SOF: length, P, Y, X, Nf, then Nf x 3 bytes.
    data[sof + 2 : sof + 4] = struct.pack(">H", 8 + 3 * 2)
    data[sof + 9] = 2
    del data[sof + 16 : sof + 19]
    with pytest.raises(UnsupportedImageError, match="2 components"):
        read_coefficients(bytes(data))


def test_coefficients_type_is_exported():
    assert JpegCoefficients.__module__ == "picveil.jpeg.codec"


def test_damaged_files_raise_typed_errors_only(color_baseline):
    """Seeded mutation fuzz: any damage ends in a typed error or a clean read."""
    rng = np.random.default_rng(4)
    for _ in range(300):
        data = bytearray(color_baseline)
        for position in rng.integers(2, len(data), rng.integers(1, 8)):
            data[position] = rng.integers(0, 256)
        if rng.random() < 0.3:
            del data[rng.integers(2, len(data)) :]
        try:
            coefficients = read_coefficients(bytes(data))
        except (CorruptImageError, UnsupportedImageError):
            continue
        for comp in coefficients.components:
            coefficients.array(comp.index)
        coefficients.encode()


def _one_block_jpeg(ac_value: int) -> bytes:
    """An 8x8 gray baseline JPEG, built by hand, whose only block is DC 0 and
    one AC coefficient (position 1 in zigzag order) equal to `ac_value` > 0."""

    def segment(marker: int, payload: bytes) -> bytes:
        return struct.pack(">HH", marker, len(payload) + 2) + payload

    size = ac_value.bit_length()  # the Huffman category
    dqt = bytes([0]) + bytes([1] * 64)
    sof = struct.pack(">BHHB", 8, 8, 8, 1) + bytes([1, 0x11, 0])
    dc_table = bytes([0x00]) + bytes([1] + [0] * 15) + bytes([0])  # '0' -> category 0
    ac_table = bytes([0x10]) + bytes([0, 2] + [0] * 14) + bytes([size, 0x00])  # '00' -> (0, size), '01' -> EOB
    sos = bytes([1, 1, 0x00, 0, 63, 0])
    bits = "0" + "00" + format(ac_value, f"0{size}b") + "01"
    bits += "1" * (-len(bits) % 8)
    scan = int(bits, 2).to_bytes(len(bits) // 8, "big").replace(b"\xff", b"\xff\x00")
    return (
        b"\xff\xd8"
        + segment(0xFFDB, dqt)
        + segment(0xFFC0, sof)
        + segment(0xFFC4, dc_table)
        + segment(0xFFC4, ac_table)
        + segment(0xFFDA, sos)
        + scan
        + b"\xff\xd9"
    )


def test_hand_built_block_is_read_exactly():
    coefficients = read_coefficients(_one_block_jpeg(AC_MAX))
    expected = np.zeros((1, 1, 8, 8), np.int16)
    expected[0, 0, 0, 1] = AC_MAX  # zigzag position 1 is row 0, column 1
    np.testing.assert_array_equal(coefficients.array(0), expected)
    np.testing.assert_array_equal(read_coefficients(coefficients.encode()).array(0), expected)


def test_out_of_range_coefficient_is_corrupt():
    # Category 11 is legal for DC differences only; libjpeg decodes it anyway.
    with pytest.raises(CorruptImageError, match="out of range"):
        read_coefficients(_one_block_jpeg(2047))


def test_quant_table_redefined_between_scans_is_unsupported(gray_image):
    # libjpeg keeps the table a component's first scan used; the encoder could
    # only write the redefined one, so such (legal, rare) files are refused.
    data = _encode(gray_image, progressive=True)
    second_sos = data.index(b"\xff\xda", _segments(data)[-1][1] + 2)
    dqt = struct.pack(">HHB", 0xFFDB, 67, 0) + bytes([1] * 64)
    with pytest.raises(UnsupportedImageError, match="redefined"):
        read_coefficients(data[:second_sos] + dqt + data[second_sos:])
