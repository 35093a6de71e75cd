"""Batch runs (`picveil batch`): mirrored outputs, the manifest, resume by
checksum, per-file failures, reveal, worker crashes, and the same job on a
Dask LocalCluster."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from picveil.batch import BatchSpec, Manifest, RevealSpec, run_batch
from picveil.batch.manifest import MANIFEST_NAME
from picveil.batch.spec import Task, process
from picveil.batch.walk import count, output_names, walk
from picveil.cli import batch_cmd
from picveil.cli import main as cli

from .conftest import decode, encode_jpeg, sample_rgb

if not any(g.name == "batch" for g in cli.app.registered_groups):  # until main.py wires it
    batch_cmd.register(cli.app)

BOX = "8,8,64,64"
#: Input tree: relative path -> (expected status, expected output path or None).
EXPECTED = {
    "top.jpg": ("done", "top.jpg"),
    "album/a.jpg": ("done", "album/a.jpg"),
    "album/a.png": ("done", "album/a.png.jpg"),  # a.jpg takes the name a.jpg
    "album/deep/gray.jpg": ("done", "album/deep/gray.jpg"),
    "album/deep/c.png": ("done", "album/deep/c.jpg"),
    "album/broken.jpg": ("failed", None),
    "album/fake.png": ("failed", None),
    "notes.txt": ("skipped", None),
}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_tree(root: Path) -> Path:
    rgb = sample_rgb()
    (root / "album" / "deep").mkdir(parents=True)
    (root / "top.jpg").write_bytes(encode_jpeg(rgb))
    (root / "album" / "a.jpg").write_bytes(encode_jpeg(rgb[:240, :320], sub="4:4:4", progressive=True))
    Image.fromarray(rgb[100:260, 50:250]).save(root / "album" / "a.png")
    (root / "album" / "deep" / "gray.jpg").write_bytes(encode_jpeg(rgb[:200, :300], sub="gray"))
    Image.fromarray(rgb[::3, ::3]).save(root / "album" / "deep" / "c.png")
    (root / "album" / "broken.jpg").write_bytes(encode_jpeg(rgb)[:700])
    (root / "album" / "fake.png").write_text("not a picture")
    (root / "notes.txt").write_text("shopping list")
    (root / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")  # hidden: not an input at all
    return root


def rows(out_dir: Path) -> dict:
    with Manifest.open(out_dir / MANIFEST_NAME) as mf:
        return {r.input: r for r in mf.rows()}


def run(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


@pytest.fixture()
def tree(tmp_path) -> Path:
    return make_tree(tmp_path / "photos")


@pytest.fixture(scope="module")
def me(tmp_path_factory):
    from picveil.crypto import Identity

    ident = Identity.generate()
    key = tmp_path_factory.mktemp("key") / "me.key"
    key.write_text(ident.to_file_text())
    return ident.recipient, key


# --- the whole story through the command line ----------------------------------------------------
def test_protect_resume_and_reveal(tmp_path, tree, me, capsys):
    recipient, key = me
    out = tmp_path / "protected"
    originals = {p: _sha(p) for p in tree.rglob("*") if p.is_file()}

    code, stdout, err = run(capsys, "batch", tree, out, "--to", recipient, "--box", BOX, "--workers", 2)
    assert code == 8, err  # some files failed
    assert stdout.strip() == str(out / MANIFEST_NAME)
    assert "Why files failed" in err and "album/broken.jpg" in err
    got = rows(out)
    assert {k: (r.status, r.output) for k, r in got.items()} == EXPECTED
    assert "not an image" in got["album/fake.png"].reason
    assert got["album/broken.jpg"].reason  # says what is wrong with it
    written = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() and not p.name.startswith(".")}
    assert written == {o for _, o in EXPECTED.values() if o}
    for rel, r in got.items():
        if r.status == "done":
            assert _sha(out / r.output) == r.output_sha256
            assert _sha(tree / rel) == r.input_sha256
            assert r.regions == 1 and r.seconds > 0
    from picveil import api

    assert len(api.inspect(out / "album/deep/c.jpg").regions) == 1

    # Rerun: every finished file is skipped, verified by checksum; nothing is rewritten.
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*.jpg")}
    code, _, err = run(capsys, "batch", "protect", tree, out, "--to", recipient, "--box", BOX, "-j", 2)
    assert code == 8
    again = rows(out)
    for rel, (status, _) in EXPECTED.items():
        want = "skipped" if status == "done" else status
        assert again[rel].status == want, (rel, again[rel])
    assert again["top.jpg"].reason == "up to date (checksums match)"
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.jpg")} == stamps

    # A deleted output and a damaged one are redone; a stale temporary file is cleaned.
    (out / "album/a.jpg").unlink()
    damaged = out / "album/deep/gray.jpg"
    damaged.write_bytes(damaged.read_bytes()[:-10])
    stale = out / "album" / ".a.png.jpg.abcd1234.part"
    stale.write_bytes(b"partial")
    code, _, _ = run(capsys, "batch", tree, out, "--to", recipient, "--box", BOX, "-j", 2)
    third = rows(out)
    redone = {k for k, r in third.items() if r.status == "done"}
    assert redone == {"album/a.jpg", "album/deep/gray.jpg"}
    assert not stale.exists()
    assert _sha(out / "album/deep/gray.jpg") == third["album/deep/gray.jpg"].output_sha256

    # Originals untouched, byte for byte.
    assert {p: _sha(p) for p in tree.rglob("*") if p.is_file()} == originals

    # Batch reveal restores every image exactly (PNGs: the JPEG picveil made of them).
    back = tmp_path / "revealed"
    code, _, err = run(capsys, "batch", "reveal", out, back, "-i", key, "-j", 2)
    assert code == 0, err
    rev = rows(back)
    assert {r.status for r in rev.values()} == {"done"} and len(rev) == 5
    from picveil.jpeg.loading import read_input

    for rel, (status, output) in EXPECTED.items():
        if status != "done":
            continue
        original_jpeg, _ = read_input((tree / rel).read_bytes())
        restored = (back / output).read_bytes()
        assert np.array_equal(decode(restored), decode(original_jpeg)), rel
        assert not np.array_equal(decode((out / output).read_bytes()), decode(original_jpeg)), rel

    # A photo in the folder that was never protected is skipped, not failed, and says why.
    (out / "plain.jpg").write_bytes((tree / "top.jpg").read_bytes())
    code, _, err = run(capsys, "batch", "reveal", out, tmp_path / "revealed2", "-i", key, "-j", 2)
    assert code == 0, err
    rev = rows(tmp_path / "revealed2")
    assert rev["plain.jpg"].status == "skipped" and rev["plain.jpg"].reason.startswith("not protected:")
    assert not (tmp_path / "revealed2" / "plain.jpg").exists()
    assert sum(r.status == "done" for r in rev.values()) == 5


def test_changed_options_redo_the_files(tmp_path, tree, me):
    recipient, _ = me
    out = tmp_path / "out"
    first = run_batch(BatchSpec(boxes=[BOX], recipients=[recipient]), tree, out, workers=1)
    assert (first.done, first.failed, first.skipped) == (5, 2, 1)
    assert first.exit_code == 8
    second = run_batch(BatchSpec(boxes=["16,16,32,32"], recipients=[recipient]), tree, out, workers=1)
    assert second.done == 5  # a different box: the outputs are stale
    third = run_batch(BatchSpec(boxes=["16,16,32,32"], recipients=[recipient]), tree, out, workers=1, redo=True)
    assert third.done == 5


@pytest.mark.parametrize(
    "where",
    [lambda t: t, lambda t: t / "album" / "out", lambda t: t.parent],
    ids=["same", "inside", "contains"],
)
def test_refuses_output_folder_overlapping_input(tree, me, capsys, where):
    code, _, err = run(capsys, "batch", tree, where(tree), "--to", me[0], "--box", BOX)
    assert code == 7 and "picveil: error:" in err and "hint:" in err


def test_refuses_bad_options_before_reading_files(tmp_path, tree, me, capsys):
    code, _, err = run(capsys, "batch", tree, tmp_path / "o1", "--box", BOX)
    assert code == 4 and "No one to reveal" in err
    code, _, err = run(capsys, "batch", tree, tmp_path / "o2", "--to", me[0])
    assert code == 3 and "Nothing to protect" in err
    code, _, err = run(capsys, "batch", tree, tmp_path / "o3", "--to", me[0], "--detect", "cats")
    assert code == 3 and "cats" in err
    code, _, _ = run(capsys, "batch", "protect", tree, tmp_path / "o4", "--to", "age1nope", "--box", BOX)
    assert code == 4
    run_batch(BatchSpec(boxes=[BOX], recipients=[me[0]]), tree, tmp_path / "o5", workers=1)
    code, _, err = run(capsys, "batch", "reveal", tree, tmp_path / "o5", "-i", me[1])
    assert code == 7 and "manifest of a batch protect" in err


def test_manifest_command_prints_json_lines(tmp_path, tree, me, capsys):
    import json

    out = tmp_path / "out"
    run_batch(BatchSpec(boxes=[BOX], recipients=[me[0]]), tree, out, workers=1)
    code, stdout, _ = run(capsys, "batch", "manifest", out, "--status", "failed")
    assert code == 0
    failed = [json.loads(line) for line in stdout.splitlines()]
    assert sorted(r["input"] for r in failed) == ["album/broken.jpg", "album/fake.png"]
    code, stdout, _ = run(capsys, "batch", "manifest", out, "--counts")
    assert stdout.split() == ["done", "5", "skipped", "1", "failed", "2"]


def test_circle_protect_and_keyring_reveal(tmp_path, tree, capsys):
    from picveil.crypto import Keyring

    home = tmp_path / "home"
    Keyring.open(home, create=True).create_circle("family")
    out, back = tmp_path / "out", tmp_path / "back"
    code, _, err = run(capsys, "batch", tree, out, "--circle", "family", "--keyring", home, "--box", BOX, "-j", 1)
    assert code == 8 and rows(out)["top.jpg"].status == "done", err
    code, _, err = run(capsys, "batch", tree, tmp_path / "o2", "--circle", "friends", "--keyring", home, "--box", BOX)
    assert code == 4 and "friends" in err  # refused before any file is read
    code, _, err = run(capsys, "batch", "reveal", out, back, "--keyring", home, "-j", 1)
    assert code == 0, err
    assert np.array_equal(decode((back / "top.jpg").read_bytes()), decode((tree / "top.jpg").read_bytes()))


# --- walking and naming --------------------------------------------------------------------------
def test_walk_streams_sorted_and_skips_hidden_and_linked_folders(tmp_path, tree):
    (tree / "album" / ".hidden").mkdir()
    (tree / "album" / ".hidden" / "x.jpg").write_bytes(b"x")
    os.symlink(tree / "album", tree / "link-to-album")
    it = walk(tree, tmp_path / "out", BatchSpec.suffixes)
    assert iter(it) is it  # a generator: nothing is listed up front
    entries = list(it)
    assert [e.rel for e in entries] == [
        "notes.txt", "top.jpg",
        "album/a.jpg", "album/a.png", "album/broken.jpg", "album/fake.png",
        "album/deep/c.png", "album/deep/gray.jpg",
    ]  # fmt: skip
    assert count(tree) == len(entries)


def test_output_names_never_collide():
    names = ["a.jpg", "a.PNG", "a.png", "A.tif", "a.png.jpg", "b.jpeg", "b.JPG", "notes.txt"]
    out = output_names(names, BatchSpec.suffixes)
    assert "notes.txt" not in out
    assert out["a.jpg"] == "a.jpg" and out["a.png.jpg"] == "a.png.jpg"
    assert len({v.lower() for v in out.values()}) == len(out) == 7
    assert all(v.endswith(".jpg") for v in out.values())
    assert output_names(list(reversed(names)), BatchSpec.suffixes) == out  # order-independent


def test_fingerprint_is_stable_across_processes(me):
    code = (
        "from picveil.batch import BatchSpec;"
        f"print(BatchSpec(boxes=['{BOX}'], recipients=['{me[0]}'], detect='faces,plates', passphrase='x').fingerprint())"
    )
    prints = {
        subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONHASHSEED": seed}, capture_output=True, text=True, check=True).stdout
        for seed in ("1", "2")
    }
    assert len(prints) == 1
    # The passphrase itself never enters the fingerprint, only that there is one.
    a = BatchSpec(boxes=[BOX], passphrase="one").fingerprint()
    assert a == BatchSpec(boxes=[BOX], passphrase="two").fingerprint() != BatchSpec(boxes=[BOX], recipients=[me[0]]).fingerprint()


# --- one file at a time (what a worker does) ---------------------------------------------------------
def _task(tree: Path, out: Path, rel: str, prev=None) -> Task:
    return Task(rel, str(tree / rel), str(out / rel), rel, prev)


def test_boxes_that_miss_a_photo_write_nothing_and_stay_skipped(tmp_path, tree, me):
    spec = BatchSpec(boxes=["4000,4000,10,10"], recipients=[me[0]])
    out = tmp_path / "out"
    row = process(spec, _task(tree, out, "top.jpg"))
    assert row.status == "skipped" and "nothing to protect" in row.reason
    assert row.input_sha256 and row.output is None and not (out / "top.jpg").exists()
    again = process(spec, _task(tree, out, "top.jpg", prev=row))
    assert again.status == "skipped" and again.reason == "up to date (nothing to protect)"
    # --allow-empty writes it anyway, without regions (metadata allow-list applied).
    written = process(BatchSpec(boxes=["4000,4000,10,10"], recipients=[me[0]], allow_empty=True), _task(tree, out, "top.jpg"))
    assert written.status == "done" and written.regions == 0 and "allow-empty" in written.reason
    assert np.array_equal(decode((out / "top.jpg").read_bytes()), decode((tree / "top.jpg").read_bytes()))


def test_missing_feature_fails_the_file_clearly(tmp_path, tree, me, monkeypatch):
    monkeypatch.setitem(sys.modules, "picveil.regions.detectors", None)  # "not installed"
    spec = BatchSpec(detect=("faces",), recipients=[me[0]])
    row = process(spec, _task(tree, tmp_path, "top.jpg"))
    assert row.status == "failed" and "Detection is not available" in row.reason


def test_detector_models_load_once_per_process(tmp_path, tree, me):
    from picveil.regions import detectors
    from picveil.regions.detectors import Detection
    from picveil.regions.region import Box

    built = []

    class FakeFaces:
        def __init__(self, **options):
            built.append(options)

        def __call__(self, rgb, cache):
            return [Detection(cls="face", score=0.9, box=Box(10, 10, 40, 40), source="fake")]

    detectors.register("fake-face", FakeFaces, cls="face", preferred=True)
    try:
        spec = BatchSpec(detect=("faces",), recipients=[me[0]])
        spec.warm()
        for rel in ("top.jpg", "album/a.jpg", "album/deep/gray.jpg"):
            row = process(spec, _task(tree, tmp_path, rel))
            assert row.status == "done" and row.regions == 1, row
        assert len(built) == 1
    finally:
        detectors._REGISTRY.pop("fake-face")
        detectors._ORDER["face"].remove("fake-face")
        for key in [k for k in detectors._LOADED if k[0] == "fake-face"]:
            del detectors._LOADED[key]


def test_heic_input(tmp_path, me):
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    src = tmp_path / "phone.heic"
    try:
        Image.fromarray(sample_rgb()).save(src, quality=90)
    except (OSError, KeyError, ValueError) as exc:  # a libheif without an HEVC encoder
        pytest.skip(f"cannot write HEIC here: {exc}")
    out = tmp_path / "phone.jpg"
    outcome = BatchSpec(boxes=[BOX], recipients=[me[0]]).protect_one(src, out)
    assert outcome.regions == 1 and outcome.output_sha256 == _sha(out)
    assert Image.open(out).size == (512, 512)


@dataclass(frozen=True)
class CrashingSpec(BatchSpec):
    """Kills its worker process on files named crash*: a native crash or the OOM killer."""

    def run_one(self, src, dst, *, data=None):
        if Path(src).name.startswith("crash"):
            os._exit(1)
        return super().run_one(src, dst, data=data)


def test_a_dying_worker_fails_only_its_file(tmp_path, me):
    src = tmp_path / "in"
    src.mkdir()
    jpeg = encode_jpeg(sample_rgb()[:128, :128])
    for name in ("a.jpg", "b.jpg", "crash.jpg", "d.jpg", "e.jpg"):
        (src / name).write_bytes(jpeg)
    s = run_batch(CrashingSpec(boxes=[BOX], recipients=[me[0]]), src, tmp_path / "out", workers=2)
    got = rows(tmp_path / "out")
    assert got["crash.jpg"].status == "failed" and "died" in got["crash.jpg"].reason
    assert {k for k, r in got.items() if r.status == "done"} == {"a.jpg", "b.jpg", "d.jpg", "e.jpg"}
    assert (s.done, s.failed) == (4, 1)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigterm_stops_like_ctrl_c(tmp_path, me):
    """SIGTERM (``kill``, a service manager) stops a run as Ctrl-C does: the
    running files finish and are recorded, the workers exit with the parent,
    and the command ends with 130. It once killed the parent alone: the
    workers ran on, holding the caller's pipes open, and the manifest's
    journal stayed behind."""
    import signal
    import time

    src = tmp_path / "in"
    src.mkdir()
    jpeg = encode_jpeg(sample_rgb())
    for i in range(40):
        (src / f"p{i:02d}.jpg").write_bytes(jpeg)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "picveil", "batch", str(src), str(out), "--box", BOX, "--to", me[0], "--workers", "2", "--no-progress"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    deadline = time.time() + 120
    while time.time() < deadline and not any(p.suffix == ".jpg" for p in out.glob("*.jpg")):
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)  # no worker left holding the pipes
    assert proc.returncode == 130, err.decode()
    assert b"Interrupted" in err
    got = rows(out)
    assert 0 < sum(r.status == "done" for r in got.values()) < 40
    assert not list(out.glob("*-journal"))


# --- Dask ---------------------------------------------------------------------------------------------
def test_dask_local_cluster_gives_the_same_manifest(tmp_path, tree, me):
    pytest.importorskip("distributed")
    spec = BatchSpec(boxes=[BOX], recipients=[me[0]])
    local = run_batch(spec, tree, tmp_path / "local", workers=2)
    on_dask = run_batch(spec, tree, tmp_path / "dask", workers=2, dask="local")
    assert on_dask.backend == "dask-local" and on_dask.workers == 2
    a, b = rows(tmp_path / "local"), rows(tmp_path / "dask")
    assert {k: (r.status, r.output, r.input_sha256) for k, r in a.items()} == {k: (r.status, r.output, r.input_sha256) for k, r in b.items()}
    assert (local.done, local.skipped, local.failed) == (on_dask.done, on_dask.skipped, on_dask.failed) == (5, 1, 2)
    rerun = run_batch(spec, tree, tmp_path / "dask", workers=2, dask="local")
    assert rerun.done == 0 and rerun.skip_reasons["up to date (checksums match)"] == 5
    # Reveal on Dask too.
    back = run_batch(RevealSpec(identities=[me[1]]), tmp_path / "dask", tmp_path / "back", workers=2, dask="local")
    assert back.done == 5 and back.failed == 0
    assert np.array_equal(decode((tmp_path / "back" / "top.jpg").read_bytes()), decode((tree / "top.jpg").read_bytes()))
