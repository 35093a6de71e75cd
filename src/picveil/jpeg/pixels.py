"""Pixels <-> JPEG-domain planes and blocks, for reveals from re-encoded images.

Pure numpy (+ scipy.fft) functions. Conventions follow JFIF/libjpeg:
full-range YCbCr (ITU-R BT.601), level shift 128, and the 8×8 DCT-II in
JPEG's normalisation, which for 8×8 blocks equals the orthonormal DCT.
"""

from __future__ import annotations

import numpy as np


def rgb_to_ycbcr(rgb: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` RGB (any real dtype, 0..255) -> ``(H, W, 3)`` float64 YCbCr (JFIF)."""
    x = np.asarray(rgb, dtype=np.float64)
    return np.stack(ycbcr_planes(x[..., 0], x[..., 1], x[..., 2]), axis=-1)


def ycbcr_planes(r: np.ndarray, g: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Float64 planes R, G, B (same shape, 0..255) -> float64 planes ``(Y, Cb, Cr)``
    (JFIF): :func:`rgb_to_ycbcr` without stacking, the same values bit for bit."""
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cb = -0.168735892 * r - 0.331264108 * g + 0.5 * b + 128.0
    cr = 0.5 * r - 0.418687589 * g - 0.081312411 * b + 128.0
    return y, cb, cr


def ycbcr_to_rgb(ycc: np.ndarray) -> np.ndarray:
    """Inverse of :func:`rgb_to_ycbcr`; float64, not clipped."""
    y, cb, cr = ycc[..., 0], ycc[..., 1] - 128.0, ycc[..., 2] - 128.0
    r = y + 1.402 * cr
    g = y - 0.344136286 * cb - 0.714136286 * cr
    b = y + 1.772 * cb
    return np.stack([r, g, b], axis=-1)


def downsample(plane: np.ndarray, fy: int, fx: int) -> np.ndarray:
    """Box-average ``plane`` by integer factors (edge-padded to a multiple)."""
    if fy == 1 and fx == 1:
        return np.asarray(plane, dtype=np.float64)
    h, w = plane.shape
    ph, pw = -(-h // fy) * fy, -(-w // fx) * fx
    p = np.pad(np.asarray(plane, dtype=np.float64), ((0, ph - h), (0, pw - w)), mode="edge")
    return p.reshape(ph // fy, fy, pw // fx, fx).mean(axis=(1, 3))


def upsample(plane: np.ndarray, fy: int, fx: int, shape: tuple[int, int]) -> np.ndarray:
    """Replicate samples by integer factors and crop to ``shape``."""
    up = np.repeat(np.repeat(plane, fy, axis=0), fx, axis=1)
    return up[: shape[0], : shape[1]]


def fancy_upsample(plane: np.ndarray, fy: int, fx: int, shape: tuple[int, int]) -> np.ndarray:
    """libjpeg's "fancy" (triangle) upsampling by 1 or 2 per axis (replication
    for larger factors), cropped to `shape`: what a viewer does to 4:2:0 chroma."""

    def up2(a: np.ndarray, axis: int) -> np.ndarray:
        a = np.moveaxis(a, axis, 0)
        prev = np.concatenate([a[:1], a[:-1]])
        nxt = np.concatenate([a[1:], a[-1:]])
        out = np.empty((2 * a.shape[0],) + a.shape[1:])
        out[0::2] = 0.75 * a + 0.25 * prev
        out[1::2] = 0.75 * a + 0.25 * nxt
        return np.moveaxis(out, 0, axis)

    p = plane
    for axis, f in ((0, fy), (1, fx)):
        if f == 2:
            p = up2(p, axis)
        elif f > 2:
            p = np.repeat(p, f, axis=axis)
    return p[: shape[0], : shape[1]]


def blocks_to_pixels(
    blocks: list[np.ndarray], tables: list[np.ndarray], sampling: list[tuple[int, int]], size: tuple[int, int], rgb: bool = False
) -> np.ndarray:
    """The pixels a viewer shows for a JPEG region's quantized blocks.

    Pure function. `blocks`: per component ``(rows, cols, 8, 8)`` quantized
    coefficients (natural order), starting on an MCU boundary; `tables`: each
    component's ``(8, 8)`` quantization table (natural order); `sampling`: each
    component's ``(h, v)`` factors; `size`: ``(width, height)`` of the region
    in pixels (its blocks may reach past it). `rgb`: three components that are
    R, G and B (no colour transform), else one is gray and three are YCbCr.
    Returns ``uint8`` ``(height, width)`` (gray) or ``(height, width, 3)``:
    dequantized, inverse-DCT'd, chroma upsampled as libjpeg's fancy upsampling
    does (inside the region only: at its border a viewer also reads the
    neighbouring blocks), converted to RGB, rounded and clipped."""
    width, height = size
    hmax = max(h for h, _ in sampling)
    vmax = max(v for _, v in sampling)
    planes = []
    for b, q, (h, v) in zip(blocks, tables, sampling):
        plane = blocks_to_plane(idct(np.asarray(b, dtype=np.float64) * np.asarray(q, dtype=np.float64)))
        fy, fx = vmax // v, hmax // h
        planes.append(fancy_upsample(plane, fy, fx, (height, width)) if (fy, fx) != (1, 1) else plane[:height, :width])
    if len(planes) == 1:
        out = planes[0]
    else:
        stacked = np.stack(planes, axis=-1)
        out = stacked if rgb else ycbcr_to_rgb(stacked)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _dct_matrix() -> np.ndarray:
    k = np.arange(8)
    m = np.cos(np.pi * (2 * k[None, :] + 1) * k[:, None] / 16.0) * np.sqrt(2.0 / 8.0)
    m[0] /= np.sqrt(2.0)
    return m


_D = _dct_matrix()


def plane_blocks(plane: np.ndarray, by0: int, by1: int, bx0: int, bx1: int) -> np.ndarray:
    """8×8 blocks of a plane, ``(by1-by0, bx1-bx0, 8, 8)`` float64, edge-padded beyond the plane."""
    h, w = plane.shape
    need_h, need_w = by1 * 8, bx1 * 8
    p = np.asarray(plane, dtype=np.float64)
    if need_h > h or need_w > w:
        p = np.pad(p, ((0, max(0, need_h - h)), (0, max(0, need_w - w))), mode="edge")
    sub = p[by0 * 8 : by1 * 8, bx0 * 8 : bx1 * 8]
    return sub.reshape(by1 - by0, 8, bx1 - bx0, 8).transpose(0, 2, 1, 3)


def fdct(blocks: np.ndarray) -> np.ndarray:
    """JPEG forward DCT of level-shifted pixel blocks ``(..., 8, 8)`` -> coefficients (float)."""
    return _D @ (blocks - 128.0) @ _D.T


def idct(coefs: np.ndarray) -> np.ndarray:
    """JPEG inverse DCT ``(..., 8, 8)`` -> pixel blocks (float, level shift undone, not clipped)."""
    return _D.T @ coefs @ _D + 128.0


def blocks_to_plane(blocks: np.ndarray) -> np.ndarray:
    """``(rows, cols, 8, 8)`` -> ``(rows*8, cols*8)``."""
    r, c = blocks.shape[:2]
    return blocks.transpose(0, 2, 1, 3).reshape(r * 8, c * 8)
