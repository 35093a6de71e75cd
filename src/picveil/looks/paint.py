"""The painted looks: pure numpy functions (OpenCV used for inpainting when installed)."""

from __future__ import annotations

import numpy as np

from . import LookParams


def _box_blur(img: np.ndarray, r: int) -> np.ndarray:
    """Separable box blur of radius ``r`` (edge-replicated), any number of channels."""
    if r <= 0:
        return img
    out = img
    for axis in (0, 1):
        pad = [(0, 0)] * out.ndim
        pad[axis] = (r + 1, r)
        c = np.cumsum(np.pad(out, pad, mode="edge"), axis=axis)
        hi = np.take(c, np.arange(2 * r + 1, c.shape[axis]), axis=axis)
        lo = np.take(c, np.arange(0, c.shape[axis] - 2 * r - 1), axis=axis)
        out = (hi - lo) / (2 * r + 1)
    return out


def gaussian_like_blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """Three box blurs approximating a Gaussian of ``sigma`` pixels."""
    r = max(0, int(round(np.sqrt(12 * sigma * sigma / 3 + 1) / 2)))
    out = img
    for _ in range(3):
        out = _box_blur(out, r)
    return out


def harmonic_fill(context: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """Smooth fill of ``inside`` from the surrounding pixels only (a membrane).

    Solves Laplace's equation with the outside pixels as boundary values, on
    a coarse grid first, then refined; nothing inside the mask is read.
    """
    h, w = inside.shape
    out = context.copy()
    known = ~inside
    if not known.any():
        return np.full_like(context, 128.0)
    # initial guess: mean colour of the ring around the region
    ring = known & _dilate(inside, max(2, min(h, w) // 16))
    mean = context[ring].mean(axis=0) if ring.any() else context[known].mean(axis=0)
    out[inside] = mean
    scale = 1
    while max(h, w) // (scale * 2) >= 32:
        scale *= 2
    while scale >= 1:
        sub = out[::scale, ::scale]
        free = ~known[::scale, ::scale]
        # Jacobi sweeps on an edge-padded copy (the image border is a mirror, not a wrap)
        pad = np.pad(sub, ((1, 1), (1, 1), (0, 0)), mode="edge")
        core = pad[1:-1, 1:-1]
        free3 = np.broadcast_to(free[..., None], core.shape)
        avg = np.empty_like(core)
        for _ in range(60 if scale > 1 else 30):
            np.add(pad[:-2, 1:-1], pad[2:, 1:-1], out=avg)
            avg += pad[1:-1, :-2]
            avg += pad[1:-1, 2:]
            avg *= 0.25
            np.copyto(core, avg, where=free3)
            pad[0, 1:-1], pad[-1, 1:-1] = core[0], core[-1]
            pad[:, 0], pad[:, -1] = pad[:, 1], pad[:, -2]
        up = np.repeat(np.repeat(core, scale, 0), scale, 1)[:h, :w]
        out = np.where(inside[..., None], up, context)
        scale //= 2
    return out


#: A smooth fill is solved on a grid this many cells across at most (then
#: upsampled): its blur is far wider than a cell, so nothing visible is lost,
#: and a 12 MP photo's regions paint in milliseconds, not seconds.
SMOOTH_GRID = 64


def smooth_fill(context: np.ndarray, inside: np.ndarray, sigma: float) -> np.ndarray:
    """:func:`harmonic_fill` then :func:`gaussian_like_blur` of ``sigma`` px, computed
    on a coarser grid when the blur allows it; only pixels outside ``inside`` are read.

    The grid averages the *outside* pixels of each cell (a cell with none is
    unknown and filled), so the interior never leaks in; the result is
    upsampled bilinearly over ``inside``'s bounding box (elsewhere the result
    is ``context`` itself). ``(H, W, C)`` float64 in and out.
    """
    h, w = inside.shape
    f = int(max(1, min(sigma / 3.0, max(h, w) / SMOOTH_GRID)))
    if f == 1:
        return gaussian_like_blur(harmonic_fill(context, inside), sigma)
    hh, ww = -(-h // f), -(-w // f)
    known = np.zeros((hh * f, ww * f), dtype=np.float64)
    known[:h, :w] = ~inside
    vals = np.zeros((hh * f, ww * f, context.shape[2]), dtype=np.float64)
    np.multiply(context, known[:h, :w, None], out=vals[:h, :w])
    count = known.reshape(hh, f, ww, f).sum(axis=(1, 3))
    sums = vals.reshape(hh, f, ww, f, -1).sum(axis=(1, 3))
    small = sums / np.maximum(count, 1.0)[..., None]
    lo = gaussian_like_blur(harmonic_fill(small, count == 0), sigma / f)
    # bilinear upsampling (cell centres at (i + 0.5) * f - 0.5), inside's bounding box only:
    # outside it the context is returned as it is
    rs, cs = np.flatnonzero(inside.any(axis=1)), np.flatnonzero(inside.any(axis=0))
    out = context.copy()
    if rs.size == 0:
        return out
    ys = np.clip((np.arange(rs[0], rs[-1] + 1) + 0.5) / f - 0.5, 0, hh - 1)
    xs = np.clip((np.arange(cs[0], cs[-1] + 1) + 0.5) / f - 0.5, 0, ww - 1)
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y1, x1 = np.minimum(y0 + 1, hh - 1), np.minimum(x0 + 1, ww - 1)
    wy, wx = (ys - y0)[:, None, None], (xs - x0)[None, :, None]
    rows = lo[y0] * (1 - wy) + lo[y1] * wy  # separable, rows first
    out[rs[0] : rs[-1] + 1, cs[0] : cs[-1] + 1] = rows[:, x0] * (1 - wx) + rows[:, x1] * wx
    return out


def _dilate(mask: np.ndarray, r: int) -> np.ndarray:
    return _box_blur(mask.astype(np.float64)[..., None], r)[..., 0] > 0


def fill(context, inside, params: LookParams, noise=None):
    """A soft fill in the surrounding colours: a heavily smoothed membrane."""
    return smooth_fill(context, inside, max(inside.shape) / 12.0)


def inpaint(context, inside, params: LookParams, noise=None):
    """Inpainting from the region's border only (OpenCV Telea when available)."""
    try:
        import cv2
    except ImportError:
        return harmonic_fill(context, inside)
    src = np.clip(np.where(inside[..., None], 0, context), 0, 255).astype(np.uint8)
    radius = max(3, min(inside.shape) // 20)
    if src.shape[2] == 1:
        out = cv2.inpaint(src[..., 0], inside.astype(np.uint8), radius, cv2.INPAINT_TELEA)[..., None]
    else:
        out = cv2.inpaint(src, inside.astype(np.uint8), radius, cv2.INPAINT_TELEA)
    return out.astype(np.float64)


def frost(context, inside, params: LookParams, noise=None):
    """Smooth keyed noise over the inpainting: a frosted-glass look."""
    base = smooth_fill(context, inside, max(inside.shape) / 20.0)
    if noise is None:
        return base
    h, w = inside.shape
    grain = noise(h, w)
    return base + gaussian_like_blur(grain[..., None] * 40.0, 2.0)


def sticker(context, inside, params: LookParams, noise=None):
    """A clean smiley sticker drawn with vector primitives over a soft fill."""
    from PIL import Image, ImageDraw

    h, w = inside.shape
    base = fill(context, inside, params)
    ys, xs = np.nonzero(inside)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    size = int(min(y1 - y0, x1 - x0) * 0.92)
    ss = 4  # supersampling for smooth edges
    canvas = Image.new("LA", (size * ss, size * ss), (0, 0))
    d = ImageDraw.Draw(canvas)
    s = size * ss
    d.ellipse([0, 0, s - 1, s - 1], fill=(255, 255))
    d.ellipse([s * 0.06, s * 0.06, s * 0.94, s * 0.94], fill=(230, 255))
    for ex in (0.33, 0.67):
        d.ellipse([s * (ex - 0.06), s * 0.30, s * (ex + 0.06), s * 0.46], fill=(40, 255))
    d.arc([s * 0.25, s * 0.35, s * 0.75, s * 0.78], start=20, end=160, fill=(40, 255), width=max(1, int(s * 0.05)))
    canvas = canvas.resize((size, size), Image.LANCZOS)
    arr = np.asarray(canvas, dtype=np.float64)
    lum, alpha = arr[..., 0], arr[..., 1] / 255.0
    colour = np.array([255.0, 204.0, 51.0])[: base.shape[2]] if base.shape[2] == 3 else np.array([220.0])
    out = base.copy()
    oy, ox = y0 + ((y1 - y0) - size) // 2, x0 + ((x1 - x0) - size) // 2
    patch = out[oy : oy + size, ox : ox + size]
    tint = colour * (lum[..., None] / 230.0)
    patch[...] = patch * (1 - alpha[..., None]) + np.clip(tint, 0, 255) * alpha[..., None]
    return out


def blur(context, inside, params: LookParams, noise=None):
    """Gaussian-like blur of the original (LEAKY): ``cells`` sets the strength."""
    h, w = inside.shape
    sigma = max(h, w) / (2.0 * params.cells)
    return gaussian_like_blur(context, sigma)


def pixelate(context, inside, params: LookParams, noise=None):
    """Mosaic of the original with ``cells`` cells across the region's longer side (LEAKY)."""
    ys, xs = np.nonzero(inside)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    cell = max(1, int(np.ceil(max(y1 - y0, x1 - x0) / params.cells)))
    out = context.copy()
    for yy in range(y0, y1, cell):
        for xx in range(x0, x1, cell):
            blk = context[yy : min(yy + cell, y1), xx : min(xx + cell, x1)]
            out[yy : min(yy + cell, y1), xx : min(xx + cell, x1)] = blk.reshape(-1, blk.shape[2]).mean(axis=0)
    return out


PAINTERS = {"fill": fill, "inpaint": inpaint, "frost": frost, "sticker": sticker, "blur": blur, "pixelate": pixelate}


def shape_mask(h: int, w: int, box: tuple[int, int, int, int], shape: str, user_mask: np.ndarray | None = None) -> np.ndarray:
    """Boolean ``(h, w)`` mask of the protected shape inside the canvas.

    ``box`` is the region's pixel box ``(x, y, w, h)`` in canvas coordinates.
    """
    x, y, bw, bh = box
    m = np.zeros((h, w), dtype=bool)
    if shape == "ellipse":
        yy, xx = np.mgrid[0:h, 0:w]
        cy, cx = y + bh / 2.0, x + bw / 2.0
        m = ((yy + 0.5 - cy) / (bh / 2.0)) ** 2 + ((xx + 0.5 - cx) / (bw / 2.0)) ** 2 <= 1.0
    elif shape == "mask" and user_mask is not None:
        m = user_mask.astype(bool)
    else:
        m[y : y + bh, x : x + bw] = True
    return m


def feathered_alpha(inside: np.ndarray, feather: int, limit: np.ndarray) -> np.ndarray:
    """Alpha in [0, 1]: 1 inside, a soft ramp of ``feather`` pixels outward, 0 beyond ``limit``."""
    a = inside.astype(np.float64)
    if feather > 0:
        a = np.maximum(a, gaussian_like_blur(_dilate(inside, feather // 2)[..., None].astype(np.float64), feather / 3.0)[..., 0])
    return np.where(limit, a, 0.0)
