"""The protected file's quantization lattice, found again in received pixels (picveil.robust.lattice)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from picveil.platforms.quality import ijg_quant_table
from picveil.robust import lattice
from picveil.robust.header import tables_fingerprint


def _tables(quality: int, n: int = 3) -> list[np.ndarray]:
    return [ijg_quant_table(quality)] + [ijg_quant_table(quality, chroma=True)] * (n - 1)


def _luma_blocks(rgb: np.ndarray) -> np.ndarray:
    """Orthonormal 8x8 DCT blocks of the luma of an RGB picture (what the reveal reads)."""
    from picveil.jpeg.pixels import rgb_to_ycbcr
    from picveil.robust.reveal import _blocks

    y = rgb_to_ycbcr(rgb.astype(np.float64))[..., 0]
    return _blocks(y, 0, y.shape[0] // 8, 0, y.shape[1] // 8)


@pytest.fixture(scope="module")
def coffee_q92() -> bytes:
    from skimage import data

    buf = io.BytesIO()
    Image.fromarray(data.coffee()).save(buf, "JPEG", quality=92, subsampling=2)
    return buf.getvalue()


def _reencode(data: bytes, fmt: str, **kw) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        buf = io.BytesIO()
        im.convert("RGB").save(buf, fmt, **kw)
    with Image.open(io.BytesIO(buf.getvalue())) as im:
        return np.asarray(im.convert("RGB"))


def test_candidates_are_the_ijg_qualities_with_the_fingerprint():
    for quality in (30, 75, 92, 100):
        found = lattice.candidate_tables(tables_fingerprint(_tables(quality)), 3)
        assert quality in [q for q, _ in found]
        for q, tables in found:
            assert tables_fingerprint(tables) == tables_fingerprint(_tables(q))
            assert len(tables) == 3 and tables[0].shape == (8, 8)
    gray = lattice.candidate_tables(tables_fingerprint(_tables(92, 1)), 1)
    assert 92 in [q for q, _ in gray] and all(len(t) == 1 for _, t in gray)


def test_tables_are_found_in_a_png_copy_and_a_finer_reencode(coffee_q92):
    fp = tables_fingerprint(_tables(92))
    png = _luma_blocks(_reencode(coffee_q92, "PNG"))
    found = lattice.find_tables(png, fp, 3)
    assert found is not None and np.array_equal(found[0], ijg_quant_table(92)) and np.array_equal(found[1], ijg_quant_table(92, chroma=True))
    # a q95 re-encode, read from its own coefficients: the finer table is given
    q95 = _luma_blocks(_reencode(coffee_q92, "JPEG", quality=95))
    assert lattice.find_tables(q95, fp, 3, ijg_quant_table(95)) is not None
    # a coarser re-encode hides the lattice: nothing is found, rather than a wrong table
    q75 = _luma_blocks(_reencode(coffee_q92, "JPEG", quality=75))
    assert lattice.find_tables(q75, fp, 3, ijg_quant_table(75)) is None
    assert lattice.find_tables(q75, fp, 3) is None


def test_a_file_with_other_tables_gets_none(coffee_q92):
    """A camera's own table (here IJG q92's, every step one larger) shares no fingerprint
    candidate's lattice, even when the fingerprint is the same."""
    custom = [t + 1 for t in _tables(92)]
    with Image.open(io.BytesIO(coffee_q92)) as im:
        buf = io.BytesIO()
        im.save(buf, "JPEG", qtables=[custom[0].ravel().tolist(), custom[1].ravel().tolist()], subsampling=2)
    png = _luma_blocks(_reencode(buf.getvalue(), "PNG"))
    assert lattice.find_tables(png, tables_fingerprint(custom), 3) is None
    # told the fingerprint of q92 (a clash), the picture still does not fit q92's lattice
    assert lattice.find_tables(png, tables_fingerprint(_tables(92)), 3) is None


def test_snap_puts_small_noise_back_on_the_lattice_and_leaves_large_noise():
    rng = np.random.default_rng(0)
    q = ijg_quant_table(80).astype(np.float64)
    ints = np.rint(rng.laplace(0, 2.0, size=(3000, 8, 8)))
    truth = ints * q
    noisy = truth + rng.normal(0, 0.1, size=truth.shape) * q
    out, ratio = lattice.snap(noisy, q)
    assert np.mean(np.abs(out - truth) < 1e-6 * q) > 0.999
    assert np.all(np.abs(ratio - 0.1) < 0.03)
    # noise of 0.6 steps: the lattice cannot be told from the noise; left as it is
    loud = truth + rng.normal(0, 0.6, size=truth.shape) * q
    out, ratio = lattice.snap(loud, q)
    assert np.array_equal(out, loud) and np.isinf(ratio).all()
    # blocks kept are neither moved nor measured
    keep = np.zeros(len(noisy), dtype=bool)
    keep[:10] = True
    out, _ = lattice.snap(noisy, q, keep)
    assert np.array_equal(out[:10], noisy[:10]) and np.mean(np.abs(out[10:] - truth[10:]) < 1e-6 * q) > 0.999
