"""A numpy model of baseline JPEG for grayscale images (audit use only).

This is the part of JPEG that matters to coefficient-domain obfuscations:
8×8 block DCT (the JPEG DCT-II, which for 8×8 equals the orthonormal DCT),
quantisation with the IJG-scaled standard luminance table, and the inverse.
Entropy coding is lossless and irrelevant here, so it is left out. Decoding
uses a floating-point IDCT, so pixels may differ by ±1 from libjpeg's
integer IDCT; that does not change what an attacker can learn.

Arrays
------
``coefficients`` : ``int32``, shape ``(by, bx, 8, 8)``, natural (row-major,
not zig-zag) order inside each block, quantised values, ``[..., 0, 0]`` is DC.
``image`` : ``uint8``, shape ``(H, W)``; ``H`` and ``W`` need not be multiples
of 8 (edges are replicated to a full block as encoders do, then cropped).
"""

from __future__ import annotations

import numpy as np

from picveil.platforms.quality import STD_LUMINANCE, ijg_quant_table


def quant_table(quality: int) -> np.ndarray:
    """IJG libjpeg scaling of the standard luminance table (baseline, clamped 1..255), int32."""
    return ijg_quant_table(quality).astype(np.int32)


def forward(image: np.ndarray, quality: int = 75) -> np.ndarray:
    """Grayscale ``uint8`` image -> quantised coefficients ``(by, bx, 8, 8)`` int32."""
    if image.dtype != np.uint8 or image.ndim != 2:
        raise ValueError("image must be a uint8 array of shape (H, W)")
    from scipy.fft import dctn

    h, w = image.shape
    ph, pw = -h % 8, -w % 8
    x = np.pad(image, ((0, ph), (0, pw)), mode="edge").astype(np.float64) - 128.0
    by, bx = x.shape[0] // 8, x.shape[1] // 8
    blocks = x.reshape(by, 8, bx, 8).transpose(0, 2, 1, 3)
    coef = dctn(blocks, type=2, axes=(2, 3), norm="ortho")
    return np.rint(coef / quant_table(quality)).astype(np.int32)


def inverse(coef: np.ndarray, shape: tuple[int, int], quality: int = 75) -> np.ndarray:
    """Quantised coefficients -> ``uint8`` image of ``shape`` (cropped, clamped, rounded)."""
    if coef.ndim != 4 or coef.shape[2:] != (8, 8):
        raise ValueError("coefficients must have shape (by, bx, 8, 8)")
    from scipy.fft import idctn

    by, bx = coef.shape[:2]
    pix = idctn(coef.astype(np.float64) * quant_table(quality), type=2, axes=(2, 3), norm="ortho")
    img = pix.transpose(0, 2, 1, 3).reshape(by * 8, bx * 8) + 128.0
    h, w = shape
    return np.clip(np.rint(img[:h, :w]), 0, 255).astype(np.uint8)
