"""``picveil index …``, ``picveil search`` and ``picveil train-search``.

Search over whole-image protected photos (schemes searchable-v2 and
searchable-v1, one per library) without any key. Wired into the main app by ``register(app)`` (called at the end of
``cli/main.py``). Output meant for scripts goes to stdout; messages to stderr.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Optional

import typer

index_app = typer.Typer(
    name="index",
    help="Build a searchable library of protected photos (no keys needed).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_WEIGHTS_HELP = "Network weights written by `picveil train-search` (default: the bundled network)."
_FEATURES_HELP = (
    "'network' (the cipher-image gMLP), 'tiles' (hand-made tile features of searchable-v2 files: no PyTorch, "
    "best for near duplicates of real photos) or 'histogram' (keyless coefficient histograms, no PyTorch)."
)
_RECORDED_FEATURES = {"histogram-v1": "histogram", "tiles-v1": "tiles"}


def _reporting(fn):
    """picveil's error reporting, looked up when the command runs (as circle_cmd does)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from .main import _reports_errors

        return _reports_errors(fn)(*args, **kwargs)

    return wrapper


def _extractor_for(lib, features: Optional[str], weights: Optional[Path], scheme: Optional[str] = None):
    """The extractor a library needs: what it recorded, else the options (network for ``scheme``)."""
    from ..search.index import bundled_scheme_of, get_extractor

    from ..errors import InputError

    recorded = lib.extractor_name
    if features is None:
        features = _RECORDED_FEATURES.get(recorded, "network")
    if features not in ("network", "histogram", "tiles"):
        raise InputError(f"--features must be 'network', 'histogram' or 'tiles', not {features!r}.")
    if features == "tiles" and scheme not in (None, "searchable-v2"):
        raise InputError("--features tiles reads searchable-v2 files.", hint="Use --features network or histogram.")
    if scheme is not None and scheme not in _SEARCH_SCHEMES:
        raise InputError(f"--scheme must be one of {', '.join(_SEARCH_SCHEMES)}, not {scheme!r}.")
    if features == "network" and weights is None and recorded and recorded not in _RECORDED_FEATURES:
        bundled = bundled_scheme_of(recorded)
        if bundled is None:
            raise InputError(
                f"This library was built with a network that is not bundled ({recorded}).",
                hint="Pass the same --weights file that built it.",
            )
        if scheme is not None and scheme != bundled:
            raise InputError(f"This library indexes {bundled} files, not {scheme}.", hint="Build a separate library for each scheme.")
        scheme = bundled
    return get_extractor(features, weights=weights, scheme=scheme)


_SEARCH_SCHEMES = ("searchable-v2", "searchable-v1")
_SCHEME_HELP = "Which searchable scheme the library's photos use (default searchable-v2, what `protect --whole` writes)."


def _progress():
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from .main import err

    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=err, transient=True
    )


@index_app.command("build")
@_reporting
def index_build(
    folder: Path = typer.Argument(..., help="Folder of protected JPEGs (searched recursively), or one file."),
    db: Path = typer.Option(..., "--db", help="Library database to create or extend (SQLite)."),
    features: Optional[str] = typer.Option(None, "--features", help=_FEATURES_HELP),
    weights: Optional[Path] = typer.Option(None, "--weights", help=_WEIGHTS_HELP),
    scheme: Optional[str] = typer.Option(None, "--scheme", help=_SCHEME_HELP),
    recursive: bool = typer.Option(True, "--recursive/--no-recursive", help="Descend into sub-folders."),
) -> None:
    """Add the photos in FOLDER to the library DB; files already in it are skipped."""
    from ..search.index import Library, jpeg_files
    from .main import err, out

    paths = jpeg_files(folder, recursive=recursive)
    with Library.open(db, create=True) as lib:
        extractor = _extractor_for(lib, features, weights, scheme)
        with _progress() as bar:
            task = bar.add_task("Indexing", total=len(paths))
            report = lib.add_files(paths, extractor, progress=lambda n: bar.advance(task, n))
        total = len(lib)
    for path, why in report.failed:
        err.print(f"picveil: warning: skipped {path}: {why}", markup=False)
    err.print(
        f"Added {report.added}, already there {report.already}, failed {len(report.failed)} "
        f"in {report.seconds:.1f} s; the library holds {total} photos.",
        markup=False,
    )
    out.print(str(db), markup=False)


@index_app.command("info")
@_reporting
def index_info(
    db: Path = typer.Option(..., "--db", help="Library database."),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
) -> None:
    """Describe a library: how many photos, by which scheme, which features."""
    from ..search.index import Library
    from .main import out

    with Library.open(db) as lib:
        by_scheme = lib.scheme_counts()
        info = {"db": str(db), "photos": len(lib), "extractor": lib.extractor_name, "schemes": by_scheme}
    if as_json:
        out.print_json(json.dumps(info))
        return
    out.print(f"{info['photos']} photos, features {info['extractor']}", markup=False)
    for scheme, n in sorted(by_scheme.items()):
        out.print(f"  {scheme}: {n}", markup=False)


@_reporting
def search(
    query: Path = typer.Argument(..., help="Query JPEG (normally itself a protected photo)."),
    db: Path = typer.Option(..., "--db", help="Library database built by `picveil index build`."),
    k: int = typer.Option(10, "-k", min=1, max=10000, help="Number of results."),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
    weights: Optional[Path] = typer.Option(None, "--weights", help=_WEIGHTS_HELP),
) -> None:
    """Print the K library photos most similar to QUERY, best first, with cosine scores."""
    from dataclasses import asdict

    from rich.table import Table

    from ..api import _read_source
    from ..search.index import Library
    from .main import err, out

    data, _ = _read_source(query)
    with Library.open(db) as lib:
        hits = lib.search(data, _extractor_for(lib, None, weights), k)
    if as_json:
        out.print_json(json.dumps({"query": str(query), "db": str(db), "results": [asdict(h) for h in hits]}))
        return
    t = Table(title=f"Nearest to {query}", title_justify="left")
    for col in ("#", "score", "path", "scheme"):
        t.add_column(col)
    for h in hits:
        t.add_row(str(h.rank), f"{h.score:.3f}", h.path, h.scheme)
    out.print(t)
    if not hits:
        err.print("The library is empty.")


@_reporting
def train_search(
    dataset: str = typer.Option("fashion-mnist", "--dataset", help="fashion-mnist or mnist (installed offline)."),
    out_path: Path = typer.Option(..., "--out", help="Weights file to write; its SHA-256 goes to OUT.sha256."),
    per_class: int = typer.Option(1000, "--per-class", min=10, help="Images per class (70 % train, 30 % test)."),
    epochs: int = typer.Option(12, "--epochs", min=1, help="Passes over the training set (at least)."),
    min_steps: int = typer.Option(
        1000, "--min-steps", min=0, help="Train at least this many optimiser steps: a small set gets more passes."
    ),
    size: int = typer.Option(128, "--size", min=32, help="Pixels per side after upscaling."),
    quality: int = typer.Option(90, "--quality", min=1, max=100, help="JPEG quality of the training photos."),
    threads: int = typer.Option(1, "--threads", min=1, help="PyTorch threads (1 is fastest on a busy machine)."),
    scheme: str = typer.Option("searchable-v2", "--scheme", help="The searchable scheme to train for: searchable-v2 or searchable-v1."),
    force: bool = typer.Option(False, "--force", help="Replace an existing weights file."),
) -> None:
    """Train the cipher-image network on protected copies (searchable-v2 by default) of a labelled set."""
    import numpy as np

    from ..audit.data import DatasetNotFoundError
    from ..errors import InputError, OutputError
    from ..search import data as sdata
    from ..search.features import tokens_for
    from ..search.metrics import cosine_similarity, ranking_metrics
    from ..search.model import DEFAULT_CIPHER_CONFIG, DEFAULT_TILE_CONFIG
    from ..search.training import TrainSettings, embed, require_torch, save_weights, train_network
    from .main import err, out

    if scheme not in _SEARCH_SCHEMES:
        raise InputError(f"--scheme must be one of {', '.join(_SEARCH_SCHEMES)}, not {scheme!r}.")
    base_config = DEFAULT_TILE_CONFIG if scheme == "searchable-v2" else DEFAULT_CIPHER_CONFIG
    tokens = tokens_for(base_config["kind"])
    require_torch()
    if out_path.exists() and not force:
        raise OutputError(f"{out_path} already exists.", hint="Choose another --out, or pass --force.")
    try:
        images, labels, names = sdata.load_labelled(dataset, per_class)
    except DatasetNotFoundError as exc:
        raise InputError(f"The data set {dataset!r} is not installed.", hint=f"Install it with `{exc.install}`.") from None
    except ValueError as exc:
        raise InputError(str(exc)) from None
    _, jpegs = sdata.to_jpegs(images, size=size, quality=quality)
    with _progress() as bar:
        task = bar.add_task("Protecting", total=len(jpegs))
        protected = sdata.protect_whole(jpegs, scheme=scheme, progress=lambda n: bar.advance(task, n))
        task = bar.add_task("Features", total=len(protected))
        x = []
        for d in protected:
            x.append(tokens(d))
            bar.advance(task, 1)
    x = np.stack(x)
    train, test = sdata.balanced_split(labels)
    config = dict(base_config, n_classes=len(names))
    settings = TrainSettings(epochs=epochs, threads=threads, min_steps=min_steps)
    with _progress() as bar:
        task = bar.add_task("Training", total=settings.epochs_for(len(train), len(names)))
        model = train_network(
            x[train], labels[train], config, settings, progress=lambda e, n, loss: bar.update(task, completed=e, total=n)
        )
    scores = ranking_metrics(cosine_similarity(embed(model, x[test])), labels[test])
    meta = {
        "dataset": dataset,
        "classes": list(names),
        "per_class": per_class,
        "size": size,
        "quality": quality,
        "scheme": scheme,
        "settings": settings.as_dict(),
        "test_mAP": round(scores.mAP, 4),
    }
    digest = save_weights(model, out_path, meta=meta)
    err.print(f"Test mAP {scores.mAP:.3f}, P@10 {scores.precision_at_10:.3f} on {scores.queries} held-out protected images.")
    err.print(f"SHA-256 {digest} recorded in {out_path.name}.sha256")
    out.print(str(out_path), markup=False)


def register(app: typer.Typer) -> None:
    """Add ``index``, ``search`` and ``train-search`` to the main app."""
    app.add_typer(index_app, name="index")
    app.command("search")(search)
    app.command("train-search")(train_search)
