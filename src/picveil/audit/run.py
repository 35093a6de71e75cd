"""Run the audit: data sets × sizes × obfuscations, attacks, report.

``run_audit`` is the entry point for code (and for ``picveil audit``);
``main(argv)`` is a plain command line (``python -m picveil.audit``).

For every (data set, size, obfuscation) cell the training and test images
are obfuscated once, each with its own fresh key, and cached under
``<out>/cache/``; the CNN and the global-statistics attackers are trained on
the obfuscated training images and scored on the obfuscated test images.
Finished cells are cached too, so an interrupted run resumes where it stopped
when it is started again with the same settings.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shlex
import sys
import time
import zlib
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Sequence

import numpy as np

from . import data as _data
from . import obfuscations as _obf
from .attack import AttackConfig

__all__ = ["Mode", "QUICK", "FULL", "Row", "Results", "run_audit", "main"]

#: Schema of results.json; bump when its meaning changes.
RESULTS_VERSION = 1
#: Part of every cache key: bump when obfuscation or training code changes results.
CODE_VERSION = 2
NATIVE = 32


@dataclass(frozen=True)
class Mode:
    """How big a run is: images per split and training length."""

    name: str
    n_train: int
    n_test: int
    max_epochs: int
    patience: int


#: A few minutes on 2 cores: a look, not a measurement.
QUICK = Mode("quick", n_train=2000, n_test=500, max_epochs=8, patience=3)
#: The measurement; sized to finish within an hour on 2 CPU cores (see the README).
FULL = Mode("full", n_train=8000, n_test=2000, max_epochs=20, patience=4)

DEFAULT_DATASETS = ("mnist", "fashion-mnist")
DEFAULT_SIZES = (32, 128)

#: Seed 004, Table 2, MNIST (top-1, per cent), and the tolerance the issue sets.
SEED004_MNIST = {"none": 98.71, "mosaic2": 98.49, "mosaic4": 96.17, "mosaic8": 83.42, "mosaic16": 52.13,
                 "p3-20": 79.93, "p3-10": 74.19, "p3-1": 58.54}
VALIDATION_TOLERANCE = 5.0


@dataclass
class Row:
    """One attack on one cell. Accuracies are fractions in [0, 1]."""

    dataset: str
    size: int
    obfuscation: str
    family: str
    attack: str           # "cnn", "stats-lr", "stats-mlp", "spectrum-gbt"
    top1: float
    top5: float
    chance: float
    epochs: int = 0
    best_epoch: int = 0
    seconds: float = 0.0
    obfuscate_seconds: float = 0.0
    cpu_seconds: float = 0.0            # CPU time of this attack's training (all threads)
    obfuscate_cpu_seconds: float = 0.0  # CPU time of obfuscating the cell (0 when cached)


@dataclass
class Results:
    """What a run measured, plus the settings it ran with."""

    config: dict
    rows: list[Row] = field(default_factory=list)
    seconds: float = 0.0
    cipher: dict | None = None  #: :class:`picveil.audit.cipher.CipherResults` as a dict, with ``--cipher``
    faces: dict | None = None  #: :class:`picveil.audit.faces.FaceResults` as a dict, with ``--faces``

    def get(self, dataset: str, size: int, obfuscation: str, attack: str = "cnn") -> Row | None:
        for r in self.rows:
            if (r.dataset, r.size, r.obfuscation, r.attack) == (dataset, size, obfuscation, attack):
                return r
        return None

    def to_json(self) -> str:
        return json.dumps(
            {"version": RESULTS_VERSION, "config": self.config, "seconds": self.seconds,
             "rows": [asdict(r) for r in self.rows], "cipher": self.cipher, "faces": self.faces},
            indent=1,
        )

    @classmethod
    def from_json(cls, text: str) -> "Results":
        d = json.loads(text)
        if d.get("version") != RESULTS_VERSION:
            raise ValueError(f"results.json version {d.get('version')!r}, expected {RESULTS_VERSION}")
        return cls(d["config"], [Row(**r) for r in d["rows"]], d.get("seconds", 0.0), d.get("cipher"), d.get("faces"))


# --- helpers -----------------------------------------------------------------

def _key(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _image_rng(seed: int, dataset: str, size: int, name: str, index: int) -> np.random.Generator:
    """Independent generator for one image: its fresh key under this run's seed."""
    ss = np.random.SeedSequence([seed, zlib.crc32(dataset.encode()), size, zlib.crc32(name.encode()), index])
    return np.random.default_rng(ss)


def _obfuscate(ob, images: np.ndarray, index: np.ndarray, seed: int, dataset: str, size: int, tick=None) -> np.ndarray:
    out = np.empty_like(images)
    for j, (i, im) in enumerate(zip(index, images)):
        out[j] = ob(im, _image_rng(seed, dataset, size, ob.name, int(i)))
        if tick is not None and j % 256 == 255:
            tick(256)
    if tick is not None:
        tick(len(images) % 256)
    return out


def _versions() -> dict:
    v = {"python": platform.python_version(), "numpy": np.__version__}
    for mod in ("torch", "sklearn", "scipy"):
        try:
            v[mod] = __import__(mod).__version__
        except Exception:
            v[mod] = None
    try:
        import picveil

        v["picveil"] = getattr(picveil, "__version__", None)
    except Exception:
        v["picveil"] = None
    return v


class _NullProgress:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False

    def add_task(self, *a, **k):
        return 0

    def update(self, *a, **k):
        pass

    def advance(self, *a, **k):
        pass

    def remove_task(self, *a, **k):
        pass


def _progress(enabled: bool):
    if not enabled:
        return _NullProgress()
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[info]}"),
    )


# --- one cell ----------------------------------------------------------------------

@dataclass(frozen=True)
class _Cell:
    """Everything a worker needs to run one (data set, size, obfuscation) cell; picklable."""

    dataset: str
    size: int
    obfuscation: str
    n_train: int
    n_test: int
    seed: int
    attack: AttackConfig
    obf_file: str
    cell_file: str

    @property
    def label(self) -> str:
        return f"{self.dataset} {self.size}px {self.obfuscation}"


_LOADED: dict = {}  # per-process cache of loaded data sets


def _run_cell(cell: _Cell, report=None) -> list[dict]:
    """Obfuscate (or load the cached set), train the attackers, write and return the rows.

    ``report(kind, label, a, b)`` receives progress events: ``("obf", label,
    done, total)`` and ``("epoch", label, epoch, val_top1)``.
    """
    from .attack import train_cnn, train_stats

    if Path(cell.cell_file).is_file():  # another run finished it meanwhile
        return json.loads(Path(cell.cell_file).read_text())

    def emit(*event):
        if report is not None:
            report(*event)

    if cell.dataset not in _LOADED:
        _LOADED[cell.dataset] = _data.load_dataset(cell.dataset)
    ds = _LOADED[cell.dataset]
    ob = _obf.get(cell.obfuscation)
    tr, te = _data.split_indices(ds.labels, cell.n_train, cell.n_test, cell.seed)
    idx = np.concatenate([tr, te])
    obf_file = Path(cell.obf_file)
    t0, c0 = time.perf_counter(), time.process_time()
    if obf_file.is_file():
        with np.load(obf_file) as z:
            xtr, xte = z["train"], z["test"]
    else:
        base = _data.prepare(ds.images[idx], cell.size, NATIVE)
        done = [0]

        def tick(k):
            done[0] += k
            emit("obf", cell.label, done[0], len(base))

        allx = _obfuscate(ob, base, idx, cell.seed, cell.dataset, cell.size, tick=tick)
        xtr, xte = allx[: cell.n_train], allx[cell.n_train:]
        tmp = obf_file.with_name(f"{obf_file.stem}.{os.getpid()}.tmp.npz")
        np.savez_compressed(tmp, train=xtr, test=xte)
        tmp.replace(obf_file)
    t_obf, c_obf = time.perf_counter() - t0, time.process_time() - c0
    ytr, yte = ds.labels[tr], ds.labels[te]
    chance = 1.0 / ds.n_classes
    c0 = time.process_time()
    r = train_cnn(xtr, ytr, xte, yte, n_classes=ds.n_classes, grid=ob.grid, config=cell.attack,
                  on_epoch=lambda e, v: emit("epoch", cell.label, e, v))
    rows = [Row(cell.dataset, cell.size, ob.name, ob.family, "cnn", r.top1, r.top5, chance,
                r.epochs, r.best_epoch, r.seconds, t_obf, time.process_time() - c0, c_obf)]
    for aname, sr in train_stats(xtr, ytr, xte, yte, seed=cell.seed).items():
        rows.append(Row(cell.dataset, cell.size, ob.name, ob.family, aname, sr.top1, sr.top5, chance,
                        seconds=sr.seconds, obfuscate_seconds=t_obf, cpu_seconds=sr.cpu_seconds,
                        obfuscate_cpu_seconds=c_obf))
    out = [asdict(x) for x in rows]
    tmp = Path(f"{cell.cell_file}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(out))
    tmp.replace(cell.cell_file)
    return out


def _worker_init() -> None:
    # Idle OpenMP threads must sleep, not spin: with several processes on few
    # cores, spinning threads slow training down many times over.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _run_cell_queued(cell: _Cell, queue) -> list[dict]:
    return _run_cell(cell, report=lambda *ev: queue.put(ev))


# --- the run -------------------------------------------------------------------

def run_audit(
    out_dir: str | os.PathLike,
    datasets: Sequence[str] = DEFAULT_DATASETS,
    obfuscations: Sequence[str] | None = None,
    sizes: Sequence[int] = DEFAULT_SIZES,
    quick: bool = False,
    seed: int = 0,
    progress: bool = True,
    *,
    mode: Mode | None = None,
    workers: int | None = None,
    write_report: bool = True,
    command: str | None = None,
    cipher: bool = False,
    faces: bool = False,
) -> Results:
    """Train every attack on every cell and write ``out_dir/README.md``, plots and ``results.json``.

    Parameters
    ----------
    out_dir : path
        Created if missing. ``cache/`` inside it holds obfuscated sets and
        finished cells.
    datasets : names from :data:`picveil.audit.data.DATASETS`
    obfuscations : names from :func:`picveil.audit.obfuscations.available`, or
        ``picveil:<scheme>``; default :data:`~picveil.audit.obfuscations.DEFAULT_SET`
        plus ``picveil:default`` and ``picveil:default-circle`` when picveil's API is importable.
    sizes : image sizes in pixels, multiples of 32; 32 is the native size
        (padded), larger sizes are bilinear upscales of it.
    quick : use :data:`QUICK` instead of :data:`FULL` (ignored if ``mode`` is given).
    seed : fixes the split, every key, the initialisation and the batches.
    progress : show rich progress bars and print a summary table.
    mode : explicit :class:`Mode` (image counts and epochs).
    workers : cells trained at once, each in its own process with one thread
        (default: the number of CPUs, at most 4). ``1`` runs in this process.
        The small networks use one core poorly, so two one-thread workers on
        two cores finish about twice as fast as one two-thread run. Results
        do not depend on the number of workers.
    write_report : write README.md, plots and results.json into ``out_dir``.
    command : the command line to print under "Reproduce" in the report.
    cipher : also run :func:`picveil.audit.cipher.run_cipher_checks` (histograms,
        key sensitivity, jigsaw attack) for every picveil scheme; under a minute.
    faces : also run :func:`picveil.audit.faces.run_checks` (face detectors and
        dlib embedding distance on real photos, every picveil mode and the
        mosaic/blur baselines; about a minute; needs the identify and detect extras).
    """
    t_start = time.perf_counter()
    _worker_init()
    out = Path(out_dir)
    cache = out / "cache"
    (cache / "obf").mkdir(parents=True, exist_ok=True)
    (cache / "cells").mkdir(parents=True, exist_ok=True)
    mode = mode or (QUICK if quick else FULL)
    if obfuscations is None:
        obfuscations = list(_obf.DEFAULT_SET) + (["picveil:default", "picveil:default-circle"] if _obf.picveil_available() else [])
    obs = [_obf.get(n) for n in obfuscations]  # unknown names fail here, before any work
    for s in sizes:
        if s < NATIVE or s % NATIVE:
            raise ValueError(f"size must be a multiple of {NATIVE}, got {s}")
    workers = max(1, min(os.cpu_count() or 1, 4) if workers is None else workers)
    # One thread per cell: the same arithmetic whether cells run inline or in workers.
    cfg = AttackConfig(max_epochs=mode.max_epochs, patience=mode.patience, seed=seed, threads=1)
    config = {
        "mode": asdict(mode), "datasets": list(datasets), "sizes": list(sizes),
        "obfuscations": [o.name for o in obs], "seed": seed, "attack": cfg.to_dict(),
        "jpeg_quality": _obf.JPEG_QUALITY, "upscale": "bilinear (align_corners=False)",
        "versions": _versions(), "cpus": os.cpu_count(), "workers": workers, "command": command,
    }
    results = Results(config)
    loaded = {name: _data.load_dataset(name) for name in datasets}  # fail early on missing data
    _LOADED.update(loaded)

    cells: list[_Cell] = []
    cached: dict[int, list[dict]] = {}
    for dname in datasets:
        ds = loaded[dname]
        n_train = min(mode.n_train, int(len(ds.labels) * 0.8))
        n_test = min(mode.n_test, len(ds.labels) - n_train)
        for size in sizes:
            for ob in obs:
                picveil_v = config["versions"].get("picveil") if ob.family == "picveil" else None
                obf_key = _key(dname, size, ob.name, ob.params, n_train, n_test, seed, picveil_v,
                               _obf.JPEG_QUALITY, CODE_VERSION)
                cell_key = _key(obf_key, cfg.to_dict(), RESULTS_VERSION)
                stem = f"{dname}-{size}-{ob.name.replace(':', '_')}"
                cell = _Cell(dname, size, ob.name, n_train, n_test, seed, cfg,
                             str(cache / "obf" / f"{stem}-{obf_key}.npz"),
                             str(cache / "cells" / f"{stem}-{cell_key}.json"))
                if Path(cell.cell_file).is_file():
                    cached[len(cells)] = json.loads(Path(cell.cell_file).read_text())
                cells.append(cell)

    done: dict[int, list[dict]] = dict(cached)
    with _progress(progress) as prog:
        overall = prog.add_task("audit", total=len(cells), completed=len(cached), info="")
        tasks: dict[str, int] = {}

        def on_event(kind, label, a, b):
            if kind == "obf":
                if label not in tasks:
                    tasks[label] = prog.add_task(f"obfuscate {label}", total=b, info="")
                prog.update(tasks[label], completed=a)
                if a >= b:
                    prog.remove_task(tasks.pop(label))
            elif kind == "epoch":
                if label not in tasks:
                    tasks[label] = prog.add_task(f"train {label}", total=cfg.max_epochs, info="")
                prog.update(tasks[label], completed=a, info=f"val {b:.3f}")

        def finish(i, rows):
            done[i] = rows
            label = cells[i].label
            if label in tasks:
                prog.remove_task(tasks.pop(label))
            top1 = next(r["top1"] for r in rows if r["attack"] == "cnn")
            prog.update(overall, info=f"{label}: top-1 {top1:.1%}")
            prog.advance(overall)

        todo = [i for i in range(len(cells)) if i not in cached]
        if workers == 1 or len(todo) <= 1:
            for i in todo:
                finish(i, _run_cell(cells[i], report=on_event))
        else:
            _pool_run(cells, todo, workers, on_event, finish)

    for i in range(len(cells)):
        results.rows += [Row(**r) for r in done[i]]
    if cipher:
        from .cipher import run_cipher_checks

        results.cipher = run_cipher_checks(seed=seed).to_dict()
    if faces:
        from .faces import markdown_table, run_checks

        face_results = run_checks(progress=(lambda s: print(s, file=sys.stderr, flush=True)) if progress else None)
        results.faces = face_results.to_dict()
        if progress:
            print(markdown_table(face_results))
    results.seconds = time.perf_counter() - t_start
    if write_report:
        from .report import write_report as _write

        _write(results, out)
    if progress:
        from .report import print_summary

        print_summary(results)
    return results


def _pool_run(cells, todo, workers, on_event, finish) -> None:
    """Run ``cells[i] for i in todo`` in ``workers`` spawned processes, relaying progress events."""
    import multiprocessing as mp
    import queue as _queue
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    ctx = mp.get_context("spawn")  # no fork of a process that may hold threads
    with ctx.Manager() as manager:
        q = manager.Queue()
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_worker_init) as pool:
            futures = {pool.submit(_run_cell_queued, cells[i], q): i for i in todo}
            pending = set(futures)
            while pending:
                finished, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                while True:
                    try:
                        on_event(*q.get_nowait())
                    except _queue.Empty:
                        break
                for f in finished:
                    finish(futures[f], f.result())  # re-raises a worker's exception here


# --- command line ----------------------------------------------------------------

def _csv(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _faces_available() -> bool:
    """Whether the face checks can run here; if not, say why on stderr (the audit goes on without them)."""
    from ..regions.detectors import DetectorUnavailableError
    from .faces import load_detectors

    try:
        load_detectors()
    except DetectorUnavailableError as e:
        print(f"picveil audit: face checks skipped: {e.message}", file=sys.stderr)
        if e.hint:
            print(f"hint: {e.hint}", file=sys.stderr)
        return False
    return True


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="picveil audit",
        description="Attack picveil's modes and known obfuscations with trained networks; write a report.",
    )
    p.add_argument("--out", default="report", help="output directory (default: report)")
    p.add_argument("--datasets", default=",".join(DEFAULT_DATASETS),
                   help=f"comma-separated, from {sorted(_data.DATASETS)} (default: %(default)s)")
    p.add_argument("--obfuscations", default=None,
                   help="comma-separated names (default: the standard set; --list shows all)")
    p.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)),
                   help="comma-separated image sizes, multiples of 32 (default: %(default)s)")
    p.add_argument("--quick", action="store_true", help=f"small run: {QUICK.n_train}/{QUICK.n_test} images, "
                   f"at most {QUICK.max_epochs} epochs")
    p.add_argument("--n-train", type=int, help="override the number of training images")
    p.add_argument("--n-test", type=int, help="override the number of test images")
    p.add_argument("--max-epochs", type=int, help="override the epoch limit")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, help="cells trained at once (default: CPUs, at most 4)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars or summary table")
    p.add_argument("--list", action="store_true", help="list the obfuscations and exit")
    p.add_argument("--cipher", action="store_true",
                   help="add cipher statistics of every picveil scheme: histograms, key sensitivity, jigsaw attack")
    p.add_argument("--faces", action="store_true",
                   help="add checks on real faces: detectors (CenterFace, Haar, dlib CNN) and dlib embedding "
                        "distance for every picveil mode and the mosaic/blur baselines (identify + detect extras)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Command line; returns the exit status (0 ok, 2 usage, 3 missing data or bad option)."""
    args = build_parser().parse_args(argv)
    if args.list:
        for name in _obf.available():
            print(f"{name:16s} {_obf.get(name).summary}")
        return 0
    mode = QUICK if args.quick else FULL
    overrides = {k: v for k, v in (("n_train", args.n_train), ("n_test", args.n_test),
                                   ("max_epochs", args.max_epochs)) if v is not None}
    if overrides:
        mode = replace(mode, name=mode.name + "+custom", **overrides)
    try:
        sizes = [int(s) for s in _csv(args.sizes)]
        run_audit(
            args.out, datasets=_csv(args.datasets),
            obfuscations=_csv(args.obfuscations) if args.obfuscations else None,
            sizes=sizes, seed=args.seed, progress=not args.no_progress, mode=mode, workers=args.workers,
            cipher=args.cipher, faces=args.faces and _faces_available(),
            command="picveil audit " + shlex.join(sys.argv[1:] if argv is None else list(argv)),
        )
    except _data.DatasetNotFoundError as e:
        msg, _, hint = str(e).partition("\nhint: ")
        print(f"picveil audit: error: {msg}", file=sys.stderr)
        if hint:
            print(f"hint: {hint}", file=sys.stderr)
        return 3
    except ValueError as e:
        print(f"picveil audit: error: {e}", file=sys.stderr)
        return 3
    return 0
