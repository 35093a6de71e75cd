"""Search without keys: features, metrics, the library index, weights, the CLI."""

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import picveil
from picveil.jpeg.codec import read_coefficients
from picveil.search import features, metrics
from picveil.search.errors import IndexFileError

from .conftest import encode_jpeg, sample_bytes


def protect_whole(data: bytes, recipient: str) -> bytes:
    c = read_coefficients(data)
    return picveil.protect(data, [(0, 0, c.width, c.height)], scheme="searchable-v1", recipients=[recipient])


@pytest.fixture(scope="module")
def small_set(identities):
    """12 small pictures in 3 visually distinct kinds, plain and protected (each under its own key)."""
    rng = np.random.default_rng(0)
    plain, labels = [], []
    for i in range(12):
        kind = i % 3
        if kind == 0:  # flat grey with a little noise
            img = np.clip(128 + rng.normal(0, 2, (64, 64)), 0, 255)
        elif kind == 1:  # fine random texture
            img = rng.integers(0, 256, (64, 64))
        else:  # bright disc on black
            yy, xx = np.mgrid[:64, :64]
            img = 255.0 * ((yy - 32) ** 2 + (xx - 32) ** 2 < (10 + i) ** 2)
        buf = io.BytesIO()
        Image.fromarray(img.astype(np.uint8)).save(buf, "JPEG", quality=85)
        plain.append(buf.getvalue())
        labels.append(kind)
    protected = [protect_whole(d, identities[0].recipient) for d in plain]
    return plain, protected, np.array(labels)


# --- features -----------------------------------------------------------------------------------
def test_features_are_invariant_under_the_scheme(identities):
    src = sample_bytes()
    prot = protect_whole(src, identities[0].recipient)
    a, b = features.cipher_tokens(src), features.cipher_tokens(prot)
    assert a.dtype == np.uint8 and a.shape == (features.SLOT_ROWS_TOTAL, 64)
    assert np.array_equal(a, b)
    assert np.array_equal(features.histogram_features(src), features.histogram_features(prot))


def test_features_are_deterministic_and_content_dependent(small_set):
    plain, protected, _ = small_set
    assert np.array_equal(features.cipher_tokens(protected[0]), features.cipher_tokens(protected[0]))
    assert not np.array_equal(features.cipher_tokens(protected[0]), features.cipher_tokens(protected[1]))
    h = features.histogram_features(protected[0])
    assert h.dtype == np.float32 and abs(float(np.linalg.norm(h)) - 1) < 1e-5


def test_grayscale_fills_chroma_with_neutral_blocks(photo):
    gray = features.cipher_tokens(encode_jpeg(photo, sub="gray"))
    y = features.SLOT_ROWS[0]
    assert (gray[y:] == 0).all()  # a neutral chroma block: all coefficients 0
    assert gray[:y].any()


def test_profiles_sort_within_diagonals():
    b = np.zeros((1, 8, 8), dtype=np.int16)
    b[0, 0, 1], b[0, 1, 0] = 3, -7  # diagonal 1: |3|, |-7|
    b[0, 0, 0] = -50
    p = features.diagonal_profiles(b)
    assert p.dtype == np.uint16 and p.shape == (1, 64)
    assert list(p[0, :3]) == [50, 7, 3]


def test_plain_patches_shape():
    img = np.arange(32 * 48, dtype=np.uint8).reshape(32, 48)
    p = features.plain_patches(img, 16)
    assert p.shape == (6, 256) and np.array_equal(p[1], img[:16, 16:32].ravel())
    with pytest.raises(ValueError):
        features.plain_patches(img[:30], 16)


# --- metrics ------------------------------------------------------------------------------------
def test_metrics_perfect_and_random():
    labels = np.repeat(np.arange(4), 10)
    onehot = np.eye(4)[labels].astype(np.float32)
    s = metrics.ranking_metrics(metrics.cosine_similarity(onehot), labels)
    assert s.mAP == pytest.approx(1.0) and s.precision_at_10 == pytest.approx(0.9)  # 9 relevant of 10
    assert s.recall_at_10 == pytest.approx(1.0) and s.queries == 40
    r = metrics.ranking_metrics(metrics.random_scores(40), labels)
    assert 0.1 < r.mAP < 0.5


def test_metrics_hand_computed():
    sim = np.array([[9, 3, 2, 1], [3, 9, 1, 2], [2, 1, 9, 3], [1, 2, 3, 9]], dtype=np.float32)
    labels = np.array([0, 0, 1, 0])
    s = metrics.ranking_metrics(sim, labels)
    # query 0 ranks 1 (rel), 2, 3 (rel): AP 5/6; query 1 ranks 0 (rel), 3 (rel), 2: AP 1;
    # query 3 ranks 2, 1 (rel), 0 (rel): AP 7/12; image 2 is alone in its class: no query.
    assert s.queries == 3
    assert s.mAP == pytest.approx((5 / 6 + 1 + 7 / 12) / 3)
    assert s.precision_at_10 == pytest.approx(2 / 3) and s.recall_at_10 == pytest.approx(1.0)


# --- the index (histogram features: no PyTorch) ----------------------------------------------------
def test_index_build_search_incremental(tmp_path, small_set):
    pytest.importorskip("faiss")
    from picveil.search.index import HistogramExtractor, Library, jpeg_files

    _, protected, labels = small_set
    folder = tmp_path / "lib"
    folder.mkdir()
    for i, d in enumerate(protected):
        (folder / f"{labels[i]}_{i:02d}.jpg").write_bytes(d)
    (folder / "notes.txt").write_text("not a photo")
    ex = HistogramExtractor()
    db = tmp_path / "library.db"
    paths = jpeg_files(folder)
    assert len(paths) == 12
    with Library.open(db, create=True) as lib:
        r = lib.add_files(paths[:8], ex)
        assert (r.added, r.already, r.failed) == (8, 0, [])
    with Library.open(db) as lib:  # incremental: only the new files are added
        r = lib.add_files(paths, ex)
        assert (r.added, r.already) == (4, 8) and len(lib) == 12
        assert lib.extractor_name == "histogram-v1"
        for i in (0, 5, 10):
            hits = lib.search(protected[i], ex, k=4)
            assert hits[0].path.endswith(f"_{i:02d}.jpg") and hits[0].score == pytest.approx(1.0, abs=1e-5)
            assert [h.rank for h in hits] == [1, 2, 3, 4]
            assert hits[0].scheme == "searchable-v1" and (hits[0].width, hits[0].height) == (64, 64)
            # the nearest other pictures are of the same kind
            assert sum(int(h.path.split("/")[-1][0]) == labels[i] for h in hits[1:]) >= 2


def test_index_survives_a_lost_faiss_blob(tmp_path, small_set):
    pytest.importorskip("faiss")
    import sqlite3

    from picveil.search.index import HistogramExtractor, Library

    _, protected, _ = small_set
    p = tmp_path / "a.jpg"
    p.write_bytes(protected[0])
    db = tmp_path / "library.db"
    with Library.open(db, create=True) as lib:
        lib.add_files([p], HistogramExtractor())
    con = sqlite3.connect(db)
    con.execute("DELETE FROM meta WHERE key = 'faiss'")
    con.commit()
    con.close()
    with Library.open(db) as lib:
        assert lib.search(protected[0], HistogramExtractor(), 1)[0].path == str(p)


def test_a_library_takes_whole_searchable_photos_only(tmp_path, small_set, identities):
    """A library holds cipher images of one searchable scheme: an unprotected
    photo, one protected in regions (even with a searchable scheme) and one
    protected whole with a scramble scheme are each reported as a failed file
    (they were indexed, and searched as if they were cipher images)."""
    pytest.importorskip("faiss")
    from picveil.search.index import HistogramExtractor, Library

    plain, protected, _ = small_set
    me = identities[0].recipient
    files = {
        "ok.jpg": protected[0],
        "plain.jpg": plain[1],
        "regions.jpg": picveil.protect(plain[2], [(0, 0, 32, 32)], scheme="searchable-v1", recipients=[me]),
        "scramble.jpg": picveil.protect(plain[3], [], whole=True, scheme="scramble-v8", recipients=[me]),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    with Library.open(tmp_path / "lib.db", create=True) as lib:
        r = lib.add_files([tmp_path / n for n in files], HistogramExtractor())
        assert r.added == 1 and len(lib) == 1
        reasons = {Path(p).name: why for p, why in r.failed}
        assert set(reasons) == {"plain.jpg", "regions.jpg", "scramble.jpg"}
        assert "not protected" in reasons["plain.jpg"] and "regions" in reasons["regions.jpg"] and "scramble-v8" in reasons["scramble.jpg"]


def test_index_refuses_foreign_files(tmp_path):
    pytest.importorskip("faiss")
    import sqlite3

    from picveil.search.index import Library

    with pytest.raises(IndexFileError):
        Library.open(tmp_path / "missing.db")
    other = tmp_path / "other.db"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE t(x)")
    con.commit()
    con.close()
    with pytest.raises(IndexFileError):
        Library.open(other, create=True)


# --- the network (PyTorch) --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_model(small_set):
    pytest.importorskip("torch")
    from picveil.search.model import DEFAULT_CIPHER_CONFIG
    from picveil.search.training import TrainSettings, train_network

    _, protected, labels = small_set
    x = np.stack([features.cipher_tokens(d) for d in protected])
    config = dict(DEFAULT_CIPHER_CONFIG, n_classes=3, d=16, d_block=16, depth=1)
    model = train_network(x, labels, config, TrainSettings(epochs=2, classes_per_batch=3, per_class=4))
    return model, x


def test_weights_round_trip_and_hash(tmp_path, tiny_model):
    from picveil.search.errors import WeightsError, WeightsIntegrityError
    from picveil.search.training import embed, load_weights, save_weights

    model, x = tiny_model
    path = tmp_path / "w.pt"
    digest = save_weights(model, path, meta={"note": "test"})
    assert (tmp_path / "w.pt.sha256").read_text().split() == [digest, "w.pt"]
    loaded = load_weights(path)
    assert loaded.sha256 == digest and loaded.meta == {"note": "test"}
    a, b = embed(model, x), embed(loaded, x)
    assert a.shape == (12, 16) and np.allclose(a, b, atol=1e-6)
    assert np.allclose(np.linalg.norm(a, axis=1), 1, atol=1e-5)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(WeightsIntegrityError):
        load_weights(path)
    (tmp_path / "w.pt.sha256").unlink()
    with pytest.raises(WeightsError):
        load_weights(path)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not torch")
    with pytest.raises(WeightsError):
        load_weights(junk, sha256=__import__("hashlib").sha256(b"not torch").hexdigest())


def test_network_index_refuses_other_features(tmp_path, tiny_model, small_set):
    pytest.importorskip("faiss")
    from picveil.search.index import HistogramExtractor, Library, NetworkExtractor
    from picveil.search.training import load_weights, save_weights

    model, _ = tiny_model
    save_weights(model, tmp_path / "w.pt")
    ex = NetworkExtractor(load_weights(tmp_path / "w.pt"))
    _, protected, _ = small_set
    p = tmp_path / "x.jpg"
    p.write_bytes(protected[3])
    db = tmp_path / "n.db"
    with Library.open(db, create=True) as lib:
        assert lib.add_files([p], ex).added == 1
        assert lib.search(protected[3], ex, 1)[0].path == str(p)
        with pytest.raises(IndexFileError):
            lib.search(protected[3], HistogramExtractor(), 1)


# --- the CLI --------------------------------------------------------------------------------------
def test_cli_index_and_search(tmp_path, small_set):
    pytest.importorskip("faiss")
    import typer
    from typer.testing import CliRunner

    from picveil.cli.search_cmd import register

    app = typer.Typer()
    register(app)
    _, protected, _ = small_set
    folder = tmp_path / "lib"
    folder.mkdir()
    for i, d in enumerate(protected):
        (folder / f"{i:02d}.jpg").write_bytes(d)
    db = tmp_path / "library.db"
    runner = CliRunner()
    r = runner.invoke(app, ["index", "build", str(folder), "--db", str(db), "--features", "histogram"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["search", str(folder / "04.jpg"), "--db", str(db), "-k", "3", "--json"])
    assert r.exit_code == 0, r.output
    got = json.loads(r.stdout)
    assert len(got["results"]) == 3 and got["results"][0]["path"].endswith("04.jpg")
    r = runner.invoke(app, ["search", str(folder / "04.jpg"), "--db", str(tmp_path / "none.db")])
    assert r.exit_code == 3 and "picveil: error:" in r.output


def test_bundled_network_is_pinned_and_searches(tmp_path, small_set):
    pytest.importorskip("torch")
    pytest.importorskip("faiss")
    import typer
    from typer.testing import CliRunner

    from picveil.cli.search_cmd import register
    from picveil.search.training import BUNDLED, load_bundled

    for scheme, (_, digest) in BUNDLED.items():
        model = load_bundled(scheme)
        assert model.sha256 == digest and model.meta["scheme"] == scheme
    assert load_bundled().meta["scheme"] == "searchable-v2"
    app = typer.Typer()
    register(app)
    _, protected, _ = small_set
    folder = tmp_path / "lib"
    folder.mkdir()
    for i, d in enumerate(protected[:6]):
        (folder / f"{i:02d}.jpg").write_bytes(d)
    db = tmp_path / "library.db"
    runner = CliRunner()
    r = runner.invoke(app, ["index", "build", str(folder), "--db", str(db), "--scheme", "searchable-v1"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["search", str(folder / "02.jpg"), "--db", str(db), "-k", "2", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["results"][0]["path"].endswith("02.jpg")
    # a library built with the network refuses histogram queries
    r = runner.invoke(app, ["index", "build", str(folder), "--db", str(db), "--features", "histogram"])
    assert r.exit_code == 3 and "picveil: error:" in r.output


def test_one_scheme_per_library(tmp_path, identities):
    """The default network reads searchable-v2 files: v1 files are refused by name, in builds and queries."""
    pytest.importorskip("torch")
    pytest.importorskip("faiss")
    import typer
    from typer.testing import CliRunner

    from picveil.cli.search_cmd import register

    app = typer.Typer()
    register(app)
    src = encode_jpeg(np.asarray(Image.open(io.BytesIO(sample_bytes())))[:256, :320])
    v2 = picveil.protect(src, [], whole=True, recipients=[identities[0].recipient])
    v1 = protect_whole(src, identities[0].recipient)
    folder = tmp_path / "lib"
    folder.mkdir()
    (folder / "a-v2.jpg").write_bytes(v2)
    (folder / "b-v1.jpg").write_bytes(v1)
    db = tmp_path / "library.db"
    runner = CliRunner()
    r = runner.invoke(app, ["index", "build", str(folder), "--db", str(db)])
    assert r.exit_code == 0, r.output
    assert "skipped" in r.output and "b-v1.jpg" in r.output and "searchable-v1" in r.output
    r = runner.invoke(app, ["search", str(folder / "a-v2.jpg"), "--db", str(db), "-k", "1", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["results"][0]["path"].endswith("a-v2.jpg")
    r = runner.invoke(app, ["search", str(folder / "b-v1.jpg"), "--db", str(db)])
    assert r.exit_code == 3 and "searchable-v1" in r.output
    r = runner.invoke(app, ["index", "build", str(folder), "--db", str(db), "--scheme", "searchable-v1"])
    assert r.exit_code == 3 and "indexes searchable-v2" in r.output


def test_tile_features_find_near_duplicates_without_a_network(tmp_path, identities):
    """Hand-made searchable-v2 tile features: keyless, invariant, and a cropped, re-encoded copy
    of a photo finds its original first among other photos (each file under its own key)."""
    pytest.importorskip("faiss")
    from skimage import data as skdata

    from picveil.search.index import Library, TileExtractor

    photos = [skdata.astronaut(), skdata.chelsea(), skdata.coffee(), np.stack([skdata.camera()] * 3, -1)]
    folder = tmp_path / "lib"
    folder.mkdir()
    queries = []
    for i, img in enumerate(photos):
        a = encode_jpeg(np.ascontiguousarray(img[:256, :256]), quality=90)
        b = encode_jpeg(np.ascontiguousarray(img[6:250, 6:250]), quality=75)
        pa = picveil.protect(a, [], whole=True, recipients=[identities[0].recipient])
        pb = picveil.protect(b, [], whole=True, recipients=[identities[0].recipient])
        assert np.array_equal(features.tile_features(a), features.tile_features(pa))  # keyless, invariant
        (folder / f"{i}.jpg").write_bytes(pa)
        queries.append(pb)
    f = features.tile_features(queries[0])
    assert f.dtype == np.float32 and f.shape == (64 * 15,) and abs(float(np.linalg.norm(f)) - 1) < 1e-5
    ex = TileExtractor()
    with Library.open(tmp_path / "t.db", create=True) as lib:
        assert lib.add_files(sorted(folder.iterdir()), ex).added == 4
        for i, q in enumerate(queries):
            assert lib.search(q, ex, 1)[0].path.endswith(f"{i}.jpg")


def test_cli_train_search_for_either_scheme(tmp_path, monkeypatch):
    """`picveil train-search --scheme …` on a (monkeypatched, generated) labelled set writes
    hash-pinned weights whose network reads that scheme's keyless tokens."""
    pytest.importorskip("torch")
    import typer
    from typer.testing import CliRunner

    from picveil.cli.search_cmd import register
    from picveil.search import data as sdata
    from picveil.search.training import load_weights

    def fake_labelled(name, per_class, *, seed=0):
        rng = np.random.default_rng(seed)
        imgs, labels = [], []
        for c in range(3):
            for _ in range(per_class):
                img = np.zeros((28, 28), np.uint8)
                if c == 0:
                    img[4:24, 4:24] = 200 + rng.integers(0, 40)
                elif c == 1:
                    img[:, 10:18] = 255
                else:
                    img[:] = rng.integers(0, 256, (28, 28))
                imgs.append(img)
                labels.append(c)
        return np.stack(imgs), np.array(labels), ("square", "bar", "noise")

    monkeypatch.setattr(sdata, "load_labelled", fake_labelled)
    app = typer.Typer()
    register(app)
    runner = CliRunner()
    for scheme, kind in (("searchable-v2", "cipher-tiles"), ("searchable-v1", "cipher")):
        out = tmp_path / f"{scheme}.pt"
        r = runner.invoke(app, ["train-search", "--out", str(out), "--per-class", "10", "--epochs", "1", "--min-steps", "3", "--size", "64", "--scheme", scheme])
        assert r.exit_code == 0, r.output
        model = load_weights(out)
        assert model.meta["scheme"] == scheme and model.config["kind"] == kind and model.config["n_classes"] == 3
        assert model.meta["settings"]["min_steps"] == 3  # 21 pictures: 1 step a pass, so 3 passes
    r = runner.invoke(app, ["train-search", "--out", str(tmp_path / "x.pt"), "--scheme", "scramble-v3"])
    assert r.exit_code == 3 and "--scheme" in r.output


def test_min_steps_gives_small_sets_more_passes():
    from picveil.search.training import TrainSettings

    s = TrainSettings(epochs=12, min_steps=1000)  # batches of 10 classes x 8
    assert s.steps_per_epoch(7000, 10) == 87 and s.epochs_for(7000, 10) == 12  # 1,044 steps already
    assert s.steps_per_epoch(2800, 10) == 35 and s.epochs_for(2800, 10) == 29  # 1,015 steps
    assert s.steps_per_epoch(30, 3) == 1 and s.epochs_for(30, 3) == 1000
    assert TrainSettings(epochs=12).epochs_for(2800, 10) == 12  # no floor by default
