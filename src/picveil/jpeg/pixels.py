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
