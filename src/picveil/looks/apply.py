"""Paint a look into a region's coefficients (pixels -> JPEG blocks)."""

from __future__ import annotations

import numpy as np

from ..jpeg import pixels as px
from . import LookParams
from .paint import PAINTERS, _dilate, gaussian_like_blur, harmonic_fill, shape_mask

#: context margin around a region, as a share of its larger side (at least 16 px)
MARGIN_SHARE = 0.25


def _keyed_noise(key, h: int, w: int) -> np.ndarray:
    """Zero-mean keyed noise ``(h, w)`` from the region key (frost grain), smooth-ish."""
    raw = np.frombuffer(key.stream(b"picveil look frost", h * w), dtype=np.uint8).astype(np.float64)
    return (raw.reshape(h, w) - 127.5) / 127.5


def paint_region(
    decoded, coeffs, rect, ranges, look: str, params: LookParams, key, quant, mask=None, hidden=None
) -> list[np.ndarray]:
    """Return the region's new blocks (one int16 array per component) showing ``look``.

    Parameters
    ----------
    decoded : ndarray (H, W, C), uint8 or float64 0..255
        The whole image decoded (C = 1 or 3); only the region's context is read.
    coeffs : JpegCoefficients
        For geometry (sampling factors, MCU size).
    rect : McuRect
    ranges : list of (by0, by1, bx0, bx1)
        The region's block ranges per component.
    look : str
        A name from :data:`picveil.looks.paint.PAINTERS`.
    params : LookParams
    key : RegionKey
        Source of keyed noise (frost).
    quant : list of (8, 8) uint16
    mask : ndarray (H, W) bool, optional
        The user's mask for ``shape="mask"``.
    hidden : ndarray (H, W) bool, optional
        Pixels of the image's other protected regions. A painter never reads
        them: they are replaced by a fill from the unprotected pixels around
        (a fill or inpaint next to another region once carried that region's
        original edge into its own look, 0.8-0.98 correlated).
    """
    H, W, C = decoded.shape
    mw, mh = coeffs.mcu_width, coeffs.mcu_height
    X0, Y0 = rect.x * mw, rect.y * mh
    X1, Y1 = (rect.x + rect.w) * mw, (rect.y + rect.h) * mh  # may pass the image edge (padding)
    margin = max(16, int(MARGIN_SHARE * max(X1 - X0, Y1 - Y0)))
    cx0, cy0 = max(0, X0 - margin), max(0, Y0 - margin)
    cx1, cy1 = min(W, X1 + margin), min(H, Y1 + margin)
    context = np.asarray(decoded[cy0:cy1, cx0:cx1], dtype=np.float64)
    ch, cw = context.shape[:2]
    bx, by = X0 - cx0, Y0 - cy0
    bw, bh = min(X1, W) - X0, min(Y1, H) - Y0
    user = None
    if params.shape == "mask" and mask is not None:
        user = np.asarray(mask, dtype=bool)[cy0:cy1, cx0:cx1]
    inside = shape_mask(ch, cw, (bx, by, bw, bh), params.shape, user)
    rect_area = np.zeros((ch, cw), dtype=bool)
    rect_area[by : by + bh, bx : bx + bw] = True
    inside &= rect_area
    if not inside.any():
        inside = rect_area
    if hidden is not None:
        others = np.asarray(hidden[cy0:cy1, cx0:cx1], dtype=bool) & ~rect_area
        if others.any():  # neither this region's original nor theirs goes into the stand-in
            context = np.where(others[..., None], harmonic_fill(context, others | rect_area), context)
    painted = PAINTERS[look](context, inside, params, lambda h, w: _keyed_noise(key, h, w))
    alpha = inside.astype(np.float64)
    if params.feather > 0 and look != "scramble":
        # The soft edge lies outside the shape, never in it: every pixel of the
        # shape shows the look alone (the edge once ramped inwards, and showed the
        # original over the shape's rim; over all of it from a feather as wide as
        # the shape). Only the MCU rectangle's blocks are painted, so the edge
        # fades over what of the rectangle lies around the shape (an ellipse's or
        # a mask's corners; none for a box, whose rectangle it fills).
        grown = _dilate(inside, max(1, params.feather // 2))
        alpha = np.clip(gaussian_like_blur(grown[..., None].astype(np.float64), params.feather / 3.0)[..., 0], 0, 1)
        alpha = np.where(inside, 1.0, np.where(rect_area, alpha, 0.0))
    # alpha is 0 outside the rectangle: blend the MCU rectangle's pixels only,
    # edge-padded to whole MCUs
    win = (slice(by, by + bh), slice(bx, bx + bw))
    a = alpha[win][..., None]
    tile = context[win] * (1 - a) + painted[win] * a
    tile = np.pad(tile, ((0, (Y1 - Y0) - bh), (0, (X1 - X0) - bw), (0, 0)), mode="edge")
    tile = np.clip(tile, 0, 255)
    if C == 1:
        planes = [tile[..., 0]]
    else:
        ycc = px.rgb_to_ycbcr(tile)
        planes = [ycc[..., i] for i in range(3)]
    max_h = max(c.h_samp for c in coeffs.components)
    max_v = max(c.v_samp for c in coeffs.components)
    out = []
    for ci, (comp_info, (by0, by1, bx0, bx1)) in enumerate(zip(coeffs.components, ranges)):
        plane = px.downsample(planes[ci], max_v // comp_info.v_samp, max_h // comp_info.h_samp)
        blocks = px.plane_blocks(plane, 0, by1 - by0, 0, bx1 - bx0)
        q = quant[ci].astype(np.float64)
        coef = np.round(px.fdct(blocks) / q)
        coef = np.clip(coef, -1023, 1023)
        coef[..., 0, 0] = np.clip(coef[..., 0, 0], -1024, 1023)
        out.append(coef.astype(np.int16))
    return out
