"""Unit tests of the robust channel's codes and layout (no images)."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from picveil.robust import coding
from picveil.robust.layout import (
    DELTA,
    LEVELS,
    Grid,
    axis_windows,
    candidate_grids,
    grid_for,
    layout,
    stream,
    window_extent,
    window_matrix,
)


def test_crc8_check_value():
    # CRC-8 (poly 0x07, init 0, no reflection, no xorout): check value of "123456789" is 0xF4.
    assert coding.crc8(b"123456789") == 0xF4


def test_stream_is_sha256_counter_mode():
    import hashlib

    label = b"x"
    expected = hashlib.sha256(b"x\0\0\0\0").digest() + hashlib.sha256(b"x\0\0\0\1").digest()
    assert stream(label, 40) == expected[:40]


@pytest.mark.parametrize("byte", [0, 1, 0x7F, 0x80, 0xA5, 0xFF])
def test_rm_round_trip_with_noise_and_puncturing(byte):
    rng = np.random.default_rng(byte)
    word = coding.rm_encode(byte)
    assert word.shape == (128,) and set(np.unique(word)) <= {0, 1}
    llr = (1 - 2 * word.astype(float)) + rng.normal(0, 0.8, 128)
    llr[rng.permutation(128)[:80]] = 0  # 80 of 128 positions punctured
    assert coding.rm_decode(llr)[0] == byte


def test_rm_minimum_distance_is_64():
    words = np.stack([coding.rm_encode(b) for b in range(256)])
    dist = (words[:, None, :] != words[None, :, :]).sum(-1)
    assert dist[~np.eye(256, dtype=bool)].min() == 64


@pytest.mark.parametrize("length", [1, 37, 300, coding.MAX_PAYLOAD])
@pytest.mark.parametrize("pc", range(4))
def test_preamble_round_trip(length, pc):
    pre = coding.Preamble(coding.VERSION, pc, length)
    bits = coding.preamble_encode(pre)
    assert bits.size == coding.PRE_BITS
    assert coding.preamble_decode(1.0 - 2.0 * bits) == pre


def test_preamble_rejects_noise():
    rng = np.random.default_rng(0)
    accepted = sum(coding.preamble_decode(rng.normal(size=coding.PRE_BITS)) is not None for _ in range(200))
    assert accepted <= 3  # CRC-8 and version: about 1 in 4096 by chance


@pytest.mark.parametrize("length", [1, 50, 200, 700])
@pytest.mark.parametrize("pc", range(4))
def test_body_shape_is_valid(length, pc):
    sizes, nsym = coding.body_shape(length, pc)
    assert sum(sizes) == length + 4
    assert max(sizes) - min(sizes) <= 1
    assert max(sizes) + nsym <= 255 and nsym >= coding.MIN_NSYM


def test_body_round_trip_errors_and_erasures():
    rng = np.random.default_rng(1)
    payload = rng.integers(0, 256, 150, dtype=np.uint8).tobytes()
    bits = coding.body_encode(payload, 1)
    assert bits.size == coding.body_bits(150, 1)
    llr = 4.0 * (1.0 - 2.0 * bits)
    _, nsym = coding.body_shape(150, 1)
    n_bytes = bits.size // 8
    # Errors in confident bytes and erasure-like zero-confidence bytes, spread over the blocks.
    bad = rng.permutation(n_bytes)[: nsym // 2]
    for i in bad[: nsym // 8]:
        llr[8 * i] = -llr[8 * i]  # a confident error
    for i in bad[nsym // 8 :]:
        llr[8 * i : 8 * i + 8] = rng.normal(0, 0.05, 8)  # garbage, low confidence
    assert coding.body_decode(llr, 150, 1) == payload


def test_body_decode_rejects_garbage():
    rng = np.random.default_rng(2)
    n = coding.body_bits(60, 0)
    assert all(coding.body_decode(rng.normal(size=n), 60, 0) is None for _ in range(5))


def test_body_crc_is_crc32_of_payload():
    payload = b"picveil"
    bits = coding.body_encode(payload, 0)
    sizes, nsym = coding.body_shape(len(payload), 0)
    assert sizes == [11]
    stream_bytes = np.packbits(bits).tobytes()
    # One block: the interleaved stream is the codeword, data first.
    assert stream_bytes[:11] == payload + zlib.crc32(payload).to_bytes(4, "big")


def test_windows_partition_unity_inside():
    lo, wlo, hi, whi = axis_windows(1000, 37)
    np.testing.assert_allclose(wlo + whi, 1.0)
    m = window_matrix(1000, 37)
    inner = slice(30, 970)
    np.testing.assert_allclose(m.sum(0)[inner], 1.0)
    first, last = window_extent(1000, 37)
    assert np.all(first[1:] > first[:-1]) and np.all(last > first)


def test_grid_choice_and_candidates():
    assert grid_for(4000, 3000) == Grid(128, 96)
    assert grid_for(3000, 4000) == Grid(96, 128)
    assert grid_for(100, 80) is None
    g = grid_for(1282, 1110)
    assert g.cols in LEVELS and 1282 / g.cols >= 12
    # The extractor finds the embedding grid from a resized copy's size.
    for w, h in [(4000, 3000), (4032, 3024), (4000, 2667), (1282, 1110), (3000, 4000)]:
        g = grid_for(w, h)
        for scale in (1.0, 0.51, 0.27):
            assert g in candidate_grids(round(w * scale), round(h * scale)), (w, h, scale)


def test_layout_is_deterministic_and_partitioned():
    lay = layout(Grid(64, 48))
    assert sorted(lay.order.tolist()) == list(range(64 * 48))
    assert lay.n_pilot + lay.n_pre + lay.n_body == 64 * 48
    assert lay.dither.min() >= 0 and lay.dither.max() < DELTA
    # Recomputed from scratch (bypassing the cache): the same layout.
    again = layout.__wrapped__(Grid(64, 48))
    assert np.array_equal(again.order, lay.order) and np.array_equal(again.pilot_bits, lay.pilot_bits)
