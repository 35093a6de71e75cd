"""Embedding the robust header into a JPEG's coefficients (SPEC.md §9, informative).

The embedder works in the DCT domain of the protected JPEG: it adds a smooth
luma pattern (one cos² window two cells wide per cell,
``sum amp[r, c] * Ky_r * Kx_c``: a smooth random field, no grid of dots) to
the quantized luma blocks outside the excluded MCU rectangles, never
decoding and re-encoding pixels. The windows overlap, so the amplitudes
solve a small linear system (damped Jacobi on the cell grid). Because the realisation is quantized and
decoders clip to ``[0, 255]``, it runs closed-loop: encode, decode with
Pillow, measure the features, correct the amplitudes, a few times. Cells
that cannot move the required way (clipped near black or white) switch to
the lattice point on the other side.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from picveil.errors import UnsupportedImageError
from picveil.jpeg.codec import AC_MAX, AC_MIN, DC_MAX, DC_MIN

from . import coding
from .channel import features, luma, qim_targets
from .errors import HeaderCapacityError
from .layout import DELTA, LEVELS, MIN_CELL_PX, Grid, Layout, grid_for, grid_of_level, layout, window_extent, window_matrix

__all__ = [
    "EmbedReport", "Plan", "capacity", "choose_plan", "embed", "pattern_deltas", "plan", "plans", "region_cells", "unembed",
]

#: Design error rate of one usable cell after the worst supported chain
#: (JPEG quality 30 or WebP 50 at 12-pixel cells): sizes the error correction.
P_CELL = 0.02
#: Smallest cell side (pixels) of the finer grids a writer falls back to when
#: the header does not fit the default grid (SPEC.md §9), and the design error
#: rate of a cell by its side: measured on seven packaged photos (0.1-1 MP),
#: worst of JPEG q30 and WebP 50, mean (worst photo) 12 px: 1.2 % (1.6),
#: 10: 2.6 % (3.4), 8: 7.6 % (9.6), about 7: 11 % (13); the table is set
#: near the worst photo. Smaller cells carry the pattern in the JPEG
#: blocks' first AC coefficients, which coarse quantization removes.
FALLBACK_MIN_CELL_PX = 7.0
P_CELL_BY_SIDE = ((7.0, 0.12), (8.0, 0.09), (10.0, 0.04), (12.0, P_CELL))
#: Fewest usable preamble cells (the preamble is 384 coded bits of RM(1, 7)).
MIN_USABLE_PREAMBLE = 96
#: A header written over the regions takes their cells in at most this many
#: steps (SPEC.md §10, :func:`region_cells`).
REGION_CELL_STEPS = 32
#: Closed-loop iterations, the one at which stuck cells switch lattice point,
#: and the cap on a window's amplitude in units of DELTA.
ITERATIONS, SWITCH_AT, AMP_CAP = 4, 1, 4.0
#: Jacobi steps (and damping) solving for the amplitudes of overlapping windows.
JACOBI_STEPS, JACOBI_DAMPING = 40, 0.9
#: A usable cell whose final feature misses its target by more than this counts as failed.
FAIL_TOLERANCE = DELTA / 8
#: Window amplitudes are kept on a grid of ``1 / AMP_SCALE`` so that they fit
#: int8 (``AMP_CAP * DELTA * AMP_SCALE`` = 88) and can be stored for an exact undo (:func:`unembed`).
AMP_SCALE = 4

_D8 = np.array(
    [[(math.sqrt(1 / 8) if u == 0 else 0.5) * math.cos((2 * x + 1) * u * math.pi / 16) for x in range(8)] for u in range(8)]
)

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class Plan:
    """Where the header goes in one image (the geometry part of embedding).

    Attributes
    ----------
    grid : Grid
    layout : Layout
    usable : numpy.ndarray
        ``bool`` ``(rows, cols)``: cells whose window (two cells wide) touches
        no excluded luma block.
    excluded_blocks : numpy.ndarray
        ``bool`` ``(ceil(H/8), ceil(W/8))``: luma blocks inside the (MCU-snapped) boxes.
    p_cell : float
        Design error rate of one usable cell at this grid's cell size (:func:`cell_error`).
    """

    grid: Grid
    layout: Layout
    usable: np.ndarray
    excluded_blocks: np.ndarray
    p_cell: float = P_CELL

    def usable_of(self, cells: np.ndarray) -> int:
        return int(self.usable.reshape(-1)[cells].sum())

    @property
    def usable_body(self) -> int:
        return self.usable_of(self.layout.body_cells)

    @property
    def usable_preamble(self) -> int:
        return self.usable_of(self.layout.preamble_cells)


def _check_boxes(width: int, height: int, boxes: Sequence[Box]) -> list[Box]:
    out = []
    for i, box in enumerate(boxes):
        if len(box) != 4:
            raise ValueError(f"excluded box {i + 1} must be (x, y, w, h), got {box!r}")
        x, y, w, h = (int(v) for v in box)
        if w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > width or y + h > height:
            raise ValueError(f"excluded box {i + 1} {box!r} is empty or outside the {width}x{height} image")
        out.append((x, y, w, h))
    return out


def cell_error(cell_px: float) -> float:
    """Design error rate of one usable cell whose side is `cell_px` pixels
    (:data:`P_CELL_BY_SIDE`, interpolated; :data:`P_CELL` from 12 pixels up)."""
    sides, rates = zip(*P_CELL_BY_SIDE)
    return float(np.interp(cell_px, sides, rates))


def plan(
    width: int, height: int, excluded: Sequence[Box], mcu: tuple[int, int] = (16, 16), grid: Grid | None = None
) -> Plan | None:
    """Grid, layout and usable cells of a ``width`` x ``height`` image.

    Parameters
    ----------
    width, height : int
        Image size in pixels.
    excluded : sequence of (x, y, w, h)
        Pixel boxes of the protected regions; each is snapped outwards to the
        MCU grid.
    mcu : (int, int)
        MCU width and height in pixels (16 x 16 for 4:2:0, 8 x 8 for gray or 4:4:4).
    grid : Grid, optional
        The cell grid; default the writer's first choice (:func:`grid_for`).

    Returns
    -------
    Plan or None
        ``None`` if the image is too small for any grid.
    """
    grid = grid if grid is not None else grid_for(width, height)
    if grid is None:
        return None
    try:
        lay = layout(grid)
    except ValueError:
        return None
    mw, mh = mcu
    if mw % 8 or mh % 8 or mw <= 0 or mh <= 0:
        raise ValueError(f"mcu must be multiples of 8 pixels, got {mcu!r}")
    hb, wb = -(-height // 8), -(-width // 8)
    blocks = np.zeros((hb, wb), dtype=bool)
    for x, y, w, h in _check_boxes(width, height, excluded):
        cx0, cy0 = x // mw, y // mh
        cx1, cy1 = -(-(x + w) // mw), -(-(y + h) // mh)
        blocks[cy0 * mh // 8 : cy1 * mh // 8, cx0 * mw // 8 : cx1 * mw // 8] = True
    cum = np.zeros((hb + 1, wb + 1), dtype=np.int64)
    cum[1:, 1:] = np.cumsum(np.cumsum(blocks, 0), 1)
    x0, x1 = window_extent(width, grid.cols)
    y0, y1 = window_extent(height, grid.rows)
    bx0, bx1 = x0 // 8, (x1 - 1) // 8 + 1
    by0, by1 = y0 // 8, (y1 - 1) // 8 + 1
    count = (
        cum[by1[:, None], bx1[None, :]]
        - cum[by0[:, None], bx1[None, :]]
        - cum[by1[:, None], bx0[None, :]]
        + cum[by0[:, None], bx0[None, :]]
    )
    side = max(width, height) / max(grid.cols, grid.rows)  # along the long edge, as grid_for counts it
    return Plan(grid, lay, count == 0, blocks, cell_error(side))


def plans(width: int, height: int, excluded: Sequence[Box], mcu: tuple[int, int] = (16, 16)) -> list[Plan]:
    """The plans a writer tries, in order (SPEC.md §9): the default grid
    (:func:`grid_for`, cells of at least 12 pixels), then the finer levels
    down to cells of :data:`FALLBACK_MIN_CELL_PX`, coarsest first."""
    first = grid_for(width, height)
    grids = [first] if first is not None else []
    long_edge = max(width, height)
    for level in sorted(LEVELS):
        g = grid_of_level(level, width, height)
        if g is None or g in grids or long_edge / level >= MIN_CELL_PX or long_edge / level < FALLBACK_MIN_CELL_PX:
            continue
        grids.append(g)
    out = []
    for g in grids:
        p = plan(width, height, excluded, mcu, grid=g)
        if p is not None:
            out.append(p)
    return out


def choose_plan(
    width: int, height: int, excluded: Sequence[Box], length: int, mcu: tuple[int, int] = (16, 16)
) -> tuple[Plan, int] | None:
    """The first of :func:`plans` a `length`-byte payload fits outside the
    regions of, with its parity class; ``None`` if none does."""
    for p in plans(width, height, excluded, mcu):
        pc = choose_parity(p, length)
        if pc is not None:
            return p, pc
    return None


def _bit_error(copies: np.ndarray, p: float = P_CELL) -> np.ndarray:
    """Design error probability of a coded bit read from ``copies`` usable cells
    (soft-combined), when one cell is wrong with probability `p`.

    A lone usable copy counts double: the garbage copies from the regions
    sometimes outvote it when compression has weakened it."""
    return np.select([copies == 0, copies == 1, copies == 2, copies <= 4], [0.5, 2 * p, p, 3 * p**2], 10 * p**3)


def body_margin(p: Plan, length: int, parity_class: int, usable: np.ndarray | None = None) -> float:
    """Spare parity of the weakest Reed-Solomon block, as a share of its parity.

    With the usable cells of `p`, every coded bit has a known number of usable
    copies. A byte with a bit of no usable copy is *dead*: the decoder sees
    garbage and erases it (cost 1 parity symbol). Any other byte is wrong
    with the probability that one of its bits is (:func:`_bit_error`) and
    then costs 2. The margin is ``(nsym - mean - 3 sd) / nsym`` of the cost;
    the body is expected to decode when it is at least 0.
    """
    lay = p.layout
    flags = (p.usable if usable is None else usable).reshape(-1)[lay.body_cells].astype(np.int64)
    n_bits = coding.body_bits(length, parity_class)
    copies = np.bincount(np.arange(lay.n_body) % n_bits, weights=flags, minlength=n_bits)[:n_bits]
    dead = (copies < 1).reshape(-1, 8).any(axis=1)
    wrong = 1.0 - np.prod(1.0 - _bit_error(copies, p.p_cell).reshape(-1, 8), axis=1)
    mean = np.where(dead, 1.0, 2.0 * wrong)
    var = np.where(dead, 0.0, 4.0 * wrong * (1.0 - wrong))
    sizes, nsym = coding.body_shape(length, parity_class)
    block = np.array([b for b, _ in coding.interleave_index(sizes, nsym)])
    cost = np.bincount(block, weights=mean, minlength=len(sizes))
    sd = np.sqrt(np.bincount(block, weights=var, minlength=len(sizes)))
    return float(np.min((nsym - cost - 3.0 * sd) / nsym))


def choose_parity(p: Plan, length: int, usable: np.ndarray | None = None) -> int | None:
    """The parity class with the largest :func:`body_margin` for a `length`-byte
    payload, or ``None`` if no class has a non-negative margin or too few
    preamble cells are usable."""
    n_pre = p.usable_preamble if usable is None else int(usable.reshape(-1)[p.layout.preamble_cells].sum())
    if n_pre < MIN_USABLE_PREAMBLE:
        return None
    margins = [body_margin(p, length, pc, usable) for pc in range(len(coding.PARITY_RATIOS))]
    best = int(np.argmax(margins))
    return best if margins[best] >= 0 else None


def region_cells(p: Plan, length: int) -> np.ndarray | None:
    """The cells a `length`-byte header written over the regions of `p` adds
    to its usable ones (SPEC.md §10, the fill rule): ``bool (rows, cols)``,
    as few as the payload needs, so that the regions carry little of the pattern.

    The cells that are not usable are ranked by their chessboard distance, in
    cells, to the nearest usable cell or to the grid's edge, ties in the
    layout's order (pilots, preamble, body); the result is the shortest prefix
    of that ranking, grown in steps of ``ceil(n / REGION_CELL_STEPS)`` cells,
    with which the payload fits (:func:`choose_parity`). The header thus grows
    into the regions from their edges as one piece: a reader tells the cells
    that carry it from those that do not by their neighbours
    (:func:`picveil.robust.channel.cell_llrs`), which cells scattered among
    unmodulated ones would defeat. ``None`` if the payload fits outside the
    regions, or not even with every cell.
    """
    from scipy.ndimage import distance_transform_cdt

    flat = p.usable.reshape(-1)
    if flat.all() or choose_parity(p, length) is not None:
        return None
    free = np.pad(p.usable, 1, constant_values=True)
    dist = distance_transform_cdt(~free, metric="chessboard")[1:-1, 1:-1].reshape(-1)
    others = p.layout.order[~flat[p.layout.order]]  # layout order
    ranked = others[np.argsort(dist[others], kind="stable")]
    n = len(ranked)
    step = -(-n // REGION_CELL_STEPS)
    for k in [*range(step, n, step), n]:
        extra = np.zeros(flat.shape, dtype=bool)
        extra[ranked[:k]] = True
        extra = extra.reshape(p.usable.shape)
        if choose_parity(p, length, p.usable | extra) is not None:
            return extra
    return None


def capacity(width: int, height: int, excluded: Sequence[Box] = (), mcu: tuple[int, int] = (16, 16)) -> int:
    """Largest payload, in bytes, :func:`embed` accepts for this geometry.

    Parameters
    ----------
    width, height : int
        Image size in pixels.
    excluded : sequence of (x, y, w, h)
        Pixel boxes of the protected regions (snapped outwards to the MCU grid).
    mcu : (int, int)
        MCU size in pixels.

    Returns
    -------
    int
        0 if the image is too small or too covered to carry any header.
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    best = 0
    for p in plans(width, height, excluded, mcu):
        lo, hi = 0, coding.MAX_PAYLOAD
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if choose_parity(p, mid) is not None:
                lo = mid
            else:
                hi = mid - 1
        best = max(best, lo)
    return best


@dataclass(frozen=True)
class EmbedReport:
    """What :func:`embed` did.

    Attributes
    ----------
    grid : (int, int)
        Cells across and down.
    cell_px : float
        Cell width in pixels of the embedded image.
    payload_bytes, parity_class, coded_bits : int
        Payload size, Reed-Solomon parity class (SPEC.md §7) and coded body bits.
    cells, usable_cells : int
        All cells, and those the embedder could modulate.
    copies : float
        Mean number of usable cells per coded body bit.
    failed_cells : int
        Usable cells whose feature ends further than ``DELTA / 8`` from its
        target (clipped near black or white); the error correction covers them.
    in_regions : bool
        True if the header had to be written into the excluded regions too.
    region_cells : int
        Cells over the regions that carry the header (0 unless `in_regions`).
    psnr_outside : float
        PSNR (dB, RGB or gray, 8-bit) of the decoded image after embedding
        against before, over the pixels outside the excluded MCU rectangles;
        ``inf`` if nothing changed.
    amplitudes : numpy.ndarray
        ``(rows, cols)`` int8: the window amplitudes in units of
        ``1 / AMP_SCALE``; with `excluded_blocks` they determine every
        coefficient change (:func:`pattern_deltas`), so :func:`unembed` can undo it.
    excluded_blocks : numpy.ndarray
        ``(blocks down, blocks across)`` bool: the luma blocks left untouched.
    """

    grid: tuple[int, int]
    cell_px: float
    payload_bytes: int
    parity_class: int
    coded_bits: int
    cells: int
    usable_cells: int
    copies: float
    failed_cells: int
    in_regions: bool
    psnr_outside: float
    region_cells: int = 0
    amplitudes: np.ndarray | None = None
    excluded_blocks: np.ndarray | None = None


def _decode(data: bytes) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        im = im.convert("L") if im.mode == "L" else im.convert("RGB")
        return np.asarray(im)


def _components(coeffs) -> list[int]:
    comps = coeffs.components
    max_h = max(c.h_samp for c in comps)
    max_v = max(c.v_samp for c in comps)
    if coeffs.color_space in ("gray", "ycbcr"):
        if (comps[0].h_samp, comps[0].v_samp) != (max_h, max_v):
            raise UnsupportedImageError("The robust header needs a full-resolution luma component.")
        return [0]
    if coeffs.color_space == "rgb" and all((c.h_samp, c.v_samp) == (1, 1) for c in comps):
        return [0, 1, 2]
    raise UnsupportedImageError(f"The robust header cannot be embedded in a {coeffs.color_space} JPEG with this sampling.")


def _cell_bits(lay: Layout, payload: bytes, parity_class: int) -> np.ndarray:
    """The bit every cell carries, ``(rows, cols)`` uint8 (SPEC.md §5)."""
    bits = np.zeros(lay.grid.cells, dtype=np.uint8)
    bits[lay.pilot_cells] = lay.pilot_bits
    pre = coding.preamble_encode(coding.Preamble(coding.VERSION, parity_class, len(payload)))
    bits[lay.preamble_cells] = pre[np.arange(lay.n_pre) % pre.size]
    body = coding.body_encode(payload, parity_class)
    bits[lay.body_cells] = body[np.arange(lay.n_body) % body.size]
    return bits.reshape(lay.grid.rows, lay.grid.cols)


#: Block rows :func:`pattern_deltas` transforms at a time (a 48 MP picture's
#: whole float64 pattern and its transforms took seconds of page faults per round).
DCT_BAND = 64


def _block_dct(pattern: np.ndarray, hb: int, wb: int) -> np.ndarray:
    """Orthonormal 8x8 DCT (= the JPEG FDCT) of `pattern` padded to ``(8hb, 8wb)``."""
    pad = np.zeros((hb * 8, wb * 8), dtype=np.float64)
    h, w = pattern.shape
    pad[:h, :w] = pattern
    blocks = pad.reshape(hb, 8, wb, 8).transpose(0, 2, 1, 3)
    return np.matmul(np.matmul(_D8, blocks), _D8.T)


def embed(
    coeffs, payload: bytes, excluded_boxes: Sequence[Box], *, allow_in_regions: bool = False, region_prefix: bool = False
) -> EmbedReport:
    """Write `payload` as a robust header into `coeffs`, in place.

    Parameters
    ----------
    coeffs : picveil.jpeg.codec.JpegCoefficients
        The protected JPEG (gray, YCbCr with full-resolution luma, or 4:4:4 RGB).
        Only luma coefficients of blocks outside `excluded_boxes` change
        (unless `allow_in_regions` is needed).
    payload : bytes
        1 to 1024 opaque bytes.
    excluded_boxes : sequence of (x, y, w, h)
        Pixel boxes of the protected regions, snapped outwards to the MCU grid.
    allow_in_regions : bool, keyword-only
        If the header does not fit outside the regions, write it over the
        whole image, regions included (SPEC.md §10) instead of raising.
    region_prefix : bool, keyword-only
        With `allow_in_regions`: modulate only the cells over the regions that
        the payload needs (:func:`region_cells`, SPEC.md §10's fill rule),
        instead of all of them. A reader must be told which rule was used
        (picveil: the payload's version, §13.1).

    Returns
    -------
    EmbedReport

    Raises
    ------
    HeaderCapacityError
        If the header does not fit (see :func:`capacity`).
    ValueError
        If `payload` is empty or too long, or a box is out of the image.
    UnsupportedImageError
        For JPEG layouts the channel cannot modulate.
    """
    payload = bytes(payload)
    if not 1 <= len(payload) <= coding.MAX_PAYLOAD:
        raise ValueError(f"payload must be 1..{coding.MAX_PAYLOAD} bytes, got {len(payload)}")
    comps = _components(coeffs)
    width, height = coeffs.width, coeffs.height
    mcu = (coeffs.mcu_width, coeffs.mcu_height)
    chosen = choose_plan(width, height, excluded_boxes, len(payload), mcu)
    if chosen is not None:
        p, pc = chosen
    else:
        p, pc = plan(width, height, excluded_boxes, mcu), None
        if p is None:
            raise HeaderCapacityError(f"A {width}x{height} image is too small to carry a robust header.")
    in_regions = False
    usable, excluded_blocks = p.usable, p.excluded_blocks
    if pc is None and allow_in_regions:  # the first grid it fits over everything (SPEC.md §10)
        for q in plans(width, height, excluded_boxes, mcu):
            if region_prefix:
                extra = region_cells(q, len(payload))
                usable = q.usable | extra if extra is not None else np.ones_like(q.usable)
            else:
                usable = np.ones_like(q.usable)
            pc = choose_parity(q, len(payload), usable)
            if pc is not None:
                p = q
                break
        in_regions = True
        excluded_blocks = np.zeros_like(excluded_blocks)
    if pc is None:
        raise HeaderCapacityError(
            f"The {len(payload)}-byte header does not fit outside the regions of this "
            f"{width}x{height} image: at most {capacity(width, height, excluded_boxes, mcu)} bytes do."
        )
    lay, grid = p.layout, p.grid
    bits = _cell_bits(lay, payload, pc)

    ax = window_matrix(width, grid.cols)
    ay = window_matrix(height, grid.rows)
    # Feature change per unit amplitude: F += My @ amp @ Mx.T (SPEC.md §9).
    mx = (ax / ax.sum(1, keepdims=True)) @ ax.T
    my = (ay / ay.sum(1, keepdims=True)) @ ay.T
    diag = np.outer(np.diag(my), np.diag(mx))

    base = {ci: coeffs.array(ci) for ci in comps}
    before = _decode(coeffs.encode())
    f = features(luma(before), grid)
    target = qim_targets(f, bits, lay.dither)
    amp = np.zeros_like(f)
    for it in range(ITERATIONS):
        if it == SWITCH_AT:
            stuck = usable & (np.abs(target - f) > DELTA / 4)
            target = np.where(stuck, target + DELTA * np.sign(f - target), target)
        err = np.where(usable, target - f, 0.0)
        step = np.zeros_like(amp)
        for _ in range(JACOBI_STEPS):  # solve My @ step @ Mx.T = err on the usable cells
            resid = np.where(usable, err - my @ step @ mx.T, 0.0)
            step += JACOBI_DAMPING * resid / diag
        amp = np.rint(np.clip(amp + step, -AMP_CAP * DELTA, AMP_CAP * DELTA) * AMP_SCALE) / AMP_SCALE
        amp_q = np.rint(amp * AMP_SCALE).astype(np.int8)
        for ci, delta in pattern_deltas(coeffs, amp_q, excluded_blocks).items():
            new = base[ci].astype(np.int32) + delta
            dc = np.clip(new[..., 0, 0], DC_MIN, DC_MAX)
            new = np.clip(new, AC_MIN, AC_MAX)
            new[..., 0, 0] = dc
            coeffs.set_blocks(ci, 0, 0, new.astype(np.int16))
        after = _decode(coeffs.encode())
        f = features(luma(after), grid)

    failed = int((usable & (np.abs(target - f) > FAIL_TOLERANCE)).sum())
    outside = ~np.repeat(np.repeat(p.excluded_blocks, 8, 0), 8, 1)[:height, :width]
    sq, n = 0, 0
    for y in range(0, height, 256):  # in bands: a whole 48 MP difference in float64 is 2 GB
        band = outside[y : y + 256]
        d = after[y : y + 256][band].astype(np.int32) - before[y : y + 256][band].astype(np.int32)
        sq, n = sq + int(np.sum(d * d, dtype=np.int64)), n + d.size
    mse = sq / n if n else 0.0
    psnr = math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)
    n_bits = coding.body_bits(len(payload), pc)
    used_body = int(usable.reshape(-1)[lay.body_cells].sum())
    return EmbedReport(
        grid=(grid.cols, grid.rows),
        cell_px=width / grid.cols,
        payload_bytes=len(payload),
        parity_class=pc,
        coded_bits=n_bits,
        cells=grid.cells,
        usable_cells=int(usable.sum()),
        copies=used_body / n_bits,
        failed_cells=failed,
        in_regions=in_regions,
        psnr_outside=psnr,
        region_cells=int((usable & ~p.usable).sum()) if in_regions else 0,
        amplitudes=amp_q,
        excluded_blocks=excluded_blocks.copy(),
    )


def pattern_deltas(coeffs, amplitudes: np.ndarray, excluded_blocks: np.ndarray) -> dict[int, np.ndarray]:
    """The coefficient change that window amplitudes make, per modulated component.

    Parameters
    ----------
    coeffs : picveil.jpeg.codec.JpegCoefficients
        Supplies the geometry, the components and the quantization tables.
    amplitudes : numpy.ndarray
        ``(rows, cols)`` int8, in units of ``1 / AMP_SCALE`` (``EmbedReport.amplitudes``).
    excluded_blocks : numpy.ndarray
        ``(blocks down, blocks across)`` bool; those blocks get no change.

    Returns
    -------
    dict
        Component index -> int32 array shaped like ``coeffs.array(ci)``:
        ``rint(FDCT(pattern) / Q)``, before the writer clips to the legal range.
        A pure function of its inputs (float32 arithmetic; the caller checks
        the result when exactness matters, see :func:`unembed`).
    """
    rows, cols = amplitudes.shape
    ax = window_matrix(coeffs.width, cols).astype(np.float32)
    ayt = window_matrix(coeffs.height, rows).T.astype(np.float32)
    pattern = (ayt @ (amplitudes.astype(np.float32) / np.float32(AMP_SCALE))) @ ax
    out = {}
    for ci in _components(coeffs):
        comp = coeffs.components[ci]
        hb, wb = comp.height_in_blocks, comp.width_in_blocks
        q = coeffs.quant_table(ci).astype(np.float64)
        delta = np.empty((hb, wb, 8, 8), dtype=np.int32)
        for b0 in range(0, hb, DCT_BAND):  # a band of block rows at a time: the same values, far less memory
            b1 = min(b0 + DCT_BAND, hb)
            delta[b0:b1] = np.rint(_block_dct(pattern[b0 * 8 : b1 * 8], b1 - b0, wb) / q)
        delta[excluded_blocks[:hb, :wb]] = 0
        out[ci] = delta
    return out


def unembed(coeffs, amplitudes: np.ndarray, excluded_blocks: np.ndarray) -> None:
    """Subtract the pattern :func:`embed` added (in place): the inverse of
    :func:`embed` wherever the writer did not clip. Callers that need an exact
    result keep the writer's exceptions and a hash (picveil's ``pvru`` box,
    container SPEC §4.4)."""
    for ci, delta in pattern_deltas(coeffs, amplitudes, excluded_blocks).items():
        coeffs.set_blocks(ci, 0, 0, (coeffs.array(ci).astype(np.int32) - delta).astype(np.int16))
