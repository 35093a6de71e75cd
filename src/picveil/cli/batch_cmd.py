"""``picveil batch``: protect or reveal whole folder trees.

``main.py`` calls :func:`register` at its end. Commands::

    picveil batch [protect] IN_DIR OUT_DIR --to age1… [--detect faces,plates] [--box X,Y,W,H] ...
    picveil batch reveal IN_DIR OUT_DIR -i me.key
    picveil batch manifest OUT_DIR [--status failed]

``protect`` is the default sub-command: ``picveil batch IN OUT …`` means
``picveil batch protect IN OUT …`` (write ``batch protect`` explicitly for an
input folder named ``reveal`` or ``manifest``).

Exit status: 0 when no file failed, 8 when some files failed (each is in
the manifest with its reason), 130 when interrupted (rerun to continue);
errors that stop the batch before it starts use the codes of
:mod:`picveil.errors`. The progress bar and the summary go to stderr; the
manifest's path goes to stdout.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from typer.core import TyperGroup

MAX_REASON_ROWS = 8


class _ProtectByDefault(TyperGroup):
    """A group whose first argument, when it names no sub-command, starts ``protect``."""

    default_command = "protect"

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


batch_app = typer.Typer(
    cls=_ProtectByDefault,
    help=(
        "Protect (the default: `picveil batch IN OUT …` is `picveil batch protect IN OUT …`) or reveal "
        "every photo in a folder tree; resumable; on local processes or a Dask cluster."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_WORKERS_HELP = "Worker processes (default: the cores available); with --dask local, the cluster's size."
_DASK_HELP = "Run on Dask: 'local' (a LocalCluster on this machine) or a scheduler address (tcp://HOST:8786)."
_MANIFEST_HELP = "Manifest file (SQLite). Default: OUT_DIR/.picveil-manifest.sqlite."
_REDO_HELP = "Ignore the manifest: process every file again."


def _recipients(to: List[str], files: List[Path]) -> list[str]:
    from ..errors import RecipientError

    out = list(to)
    for rf in files:
        try:
            lines = rf.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise RecipientError(f"Cannot read recipients file {rf}: {exc.strerror}") from None
        out += [ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith("#")]
    return out


def protect_command(
    in_dir: Path = typer.Argument(..., help="Folder of photos (JPEG, PNG, BMP, TIFF, WebP; HEIC with pillow-heif)."),
    out_dir: Path = typer.Argument(..., help="Folder for the protected JPEGs (the tree is mirrored; outside IN_DIR)."),
    detect: Optional[str] = typer.Option(None, "--detect", "-d", help="Find and protect these in every photo: faces,plates,text,people."),
    box: List[str] = typer.Option([], "--box", "-b", help="X,Y,W,H protected in every photo (clipped to each). Repeatable."),
    to: List[str] = typer.Option([], "--to", "-r", help="age recipient (age1…). Repeatable."),
    recipients_file: List[Path] = typer.Option([], "--recipients-file", "-R", help="File of age recipients, one per line."),
    circle: Optional[str] = typer.Option(None, "--circle", "-c", help="Circle (from your keyring) that can reveal."),
    keyring_dir: Optional[Path] = typer.Option(None, "--keyring", help="Keyring folder (default: $PICVEIL_HOME or ~/.config/picveil); a passphrase-protected one is asked for, or read from $PICVEIL_KEYRING_PASSPHRASE."),
    passphrase: bool = typer.Option(False, "--passphrase", "-p", help="Also protect with a passphrase (asked, or $PICVEIL_PASSPHRASE)."),
    look: Optional[str] = typer.Option(None, "--look", help="auto (default: scramble for circles, else fill), scramble, fill, inpaint, frost, sticker, blur, pixelate."),
    cells: Optional[int] = typer.Option(None, "--cells", help="Cells across a region for pixelate/blur."),
    feather: Optional[int] = typer.Option(None, "--feather", help="Soft edge in pixels (painted looks)."),
    shape: Optional[str] = typer.Option(None, "--shape", help="box or ellipse (painted looks)."),
    platform: Optional[str] = typer.Option(None, "--platform", "-P", help="Fit every photo to a network's profile first (see `picveil platforms`)."),
    level: Optional[int] = typer.Option(None, "--level", min=1, max=5, help="Security level 1-5: protect detections by priority up to the level's share of the photo."),
    min_score: Optional[float] = typer.Option(None, "--min-score", min=0.0, max=1.0, help="Drop weaker detections (default: per class)."),
    min_face: float = typer.Option(20.0, "--min-face", min=4.0, help="Smallest face height to find, in pixels."),
    quality: int = typer.Option(95, "--quality", "-q", min=1, max=100, help="JPEG quality for non-JPEG inputs."),
    clip: bool = typer.Option(True, "--clip/--no-clip", help="Clip --box to each photo (default) or fail photos it does not fit."),
    allow_empty: bool = typer.Option(False, "--allow-empty", help="Also write photos with nothing to protect (default: skip them)."),
    keep_gps: bool = typer.Option(False, "--keep-gps", help="Keep GPS location in the EXIF data."),
    keep_serials: bool = typer.Option(False, "--keep-serials", help="Keep camera serial numbers and maker notes."),
    max_pixels: int = typer.Option(200_000_000, "--max-pixels", help="Refuse larger images."),
    workers: Optional[int] = typer.Option(None, "--workers", "-j", min=1, help=_WORKERS_HELP),
    dask: Optional[str] = typer.Option(None, "--dask", help=_DASK_HELP),
    manifest: Optional[Path] = typer.Option(None, "--manifest", help=_MANIFEST_HELP),
    redo: bool = typer.Option(False, "--redo", help=_REDO_HELP),
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress bar."),
) -> None:
    """Protect every photo under IN_DIR into OUT_DIR; rerun to resume (finished files are skipped by checksum)."""
    from dataclasses import replace

    from ..batch import BatchSpec
    from .main import _keyring_passphrase, _passphrase, _refuse_keyring_passphrase, err

    spec = BatchSpec(
        detect=detect or (),
        boxes=tuple(box),
        circle=circle,
        recipients=tuple(_recipients(to, recipients_file)),
        keyring=str(keyring_dir.expanduser().resolve()) if keyring_dir else None,
        look=look,
        cells=cells,
        feather=feather,
        shape=shape,
        platform=platform,
        level=level,
        min_score=min_score,
        min_face=min_face,
        quality=quality,
        clip=clip,
        allow_empty=allow_empty,
        keep_gps=keep_gps,
        keep_serials=keep_serials,
        max_pixels=max_pixels,
    )
    # Check every option before asking for a passphrase (a stand-in answers "someone can reveal").
    if circle:
        spec = replace(spec, keyring_passphrase=_keyring_passphrase(keyring_dir))
    (replace(spec, passphrase="?") if passphrase else spec).check()
    if look:
        try:
            from ..looks import leak_warning
        except ImportError:  # pragma: no cover - check() has refused the look already
            leak_warning = None
        warning = leak_warning(look) if leak_warning else None
        if warning:
            err.print(f"picveil: warning: {warning}", markup=False)
    if passphrase:
        spec = replace(spec, passphrase=_passphrase(True, confirm=True))
        _refuse_keyring_passphrase(spec.passphrase, keyring_dir)
    _run(spec, in_dir, out_dir, workers=workers, dask=dask, manifest=manifest, redo=redo, progress=not no_progress)


def reveal_command(
    in_dir: Path = typer.Argument(..., help="Folder of protected JPEGs."),
    out_dir: Path = typer.Argument(..., help="Folder for the revealed JPEGs (the tree is mirrored; outside IN_DIR)."),
    identity: List[Path] = typer.Option([], "--identity", "-i", help="age identity file. Repeatable."),
    passphrase: bool = typer.Option(False, "--passphrase", "-p", help="Use a passphrase (asked, or $PICVEIL_PASSPHRASE)."),
    keyring_dir: Optional[Path] = typer.Option(None, "--keyring", help="Keyring folder whose circles are tried (default: yours); a passphrase-protected one is asked for, or read from $PICVEIL_KEYRING_PASSPHRASE."),
    require_all: bool = typer.Option(False, "--require-all", help="Fail photos in which not every region can be revealed."),
    max_pixels: int = typer.Option(200_000_000, "--max-pixels", help="Refuse larger images."),
    workers: Optional[int] = typer.Option(None, "--workers", "-j", min=1, help=_WORKERS_HELP),
    dask: Optional[str] = typer.Option(None, "--dask", help=_DASK_HELP),
    manifest: Optional[Path] = typer.Option(None, "--manifest", help=_MANIFEST_HELP),
    redo: bool = typer.Option(False, "--redo", help=_REDO_HELP),
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress bar."),
) -> None:
    """Reveal every protected JPEG under IN_DIR into OUT_DIR (regions your keys open); rerun to resume."""
    from ..batch import RevealSpec
    from .main import _keyring_passphrase, _passphrase

    pw = _passphrase(passphrase, confirm=False)
    # A passphrase-protected keyring is asked for only when no other key was given.
    keyring_pw = _keyring_passphrase(keyring_dir, ask=not (identity or pw))
    spec = RevealSpec(
        identities=tuple(identity),
        passphrase=pw,
        keyring=keyring_dir,
        keyring_passphrase=keyring_pw,
        require_all=require_all,
        max_pixels=max_pixels,
    )
    _run(spec, in_dir, out_dir, workers=workers, dask=dask, manifest=manifest, redo=redo, progress=not no_progress)


def manifest_command(
    out_dir: Path = typer.Argument(..., help="Output folder of a batch (or the manifest file itself)."),
    status: Optional[str] = typer.Option(None, "--status", "-s", help="Only rows with this status: done, skipped or failed."),
    counts: bool = typer.Option(False, "--counts", help="Print the number of files per status instead."),
) -> None:
    """Print a batch manifest as JSON Lines (one object per file), e.g. to find failures."""
    from ..batch.manifest import MANIFEST_NAME, STATUSES, Manifest, row_json
    from ..errors import InputError
    from .main import out

    path = out_dir / MANIFEST_NAME if out_dir.is_dir() else out_dir
    if not path.is_file():
        raise InputError(f"No batch manifest at {path}.", hint="Give the OUT_DIR of a `picveil batch` run, or the --manifest file.")
    if status is not None and status not in STATUSES:
        raise InputError(f"--status is one of {', '.join(STATUSES)}, got {status!r}.")
    with Manifest.open(path) as mf:
        if counts:
            c = mf.counts()
            for s in STATUSES:
                out.print(f"{s}\t{c.get(s, 0)}", markup=False, highlight=False)
            return
        for row in mf.rows(status):
            out.print(row_json(row), markup=False, highlight=False, soft_wrap=True)


# --- running with a progress bar, and the summary ----------------------------------------------------
def _run(spec, in_dir: Path, out_dir: Path, *, workers, dask, manifest, redo: bool, progress: bool) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, SpinnerColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
    from rich.text import Text

    from ..batch import run_batch
    from .main import err, out

    class RateColumn(ProgressColumn):
        def render(self, task) -> Text:
            return Text(f"{task.speed:.1f} files/s" if task.speed else "– files/s")

    bar = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(bar_width=24),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
        console=err,
        disable=not progress or not err.is_terminal,
        transient=False,
    )
    counts = {"done": 0, "skipped": 0, "failed": 0}
    task_id = bar.add_task(f"{spec.operation}", total=None)

    def describe() -> str:
        return f"{spec.operation}: [green]{counts['done']} done[/], {counts['skipped']} skipped, [red]{counts['failed']} failed[/]"

    def on_result(row) -> None:
        counts[row.status] += 1
        bar.update(task_id, advance=1, description=describe())

    with bar:
        summary = run_batch(
            spec,
            in_dir,
            out_dir,
            workers=workers,
            dask=dask,
            manifest=manifest,
            redo=redo,
            on_result=on_result,
            on_total=lambda n: bar.update(task_id, total=n),
        )
    _print_summary(err, summary)
    out.print(str(summary.manifest), markup=False, highlight=False, soft_wrap=True)
    if summary.exit_code:
        raise typer.Exit(summary.exit_code)


def _print_summary(console, s) -> None:
    from rich.table import Table

    rate = s.total / s.seconds if s.seconds > 0 else 0.0
    t = Table(title=f"batch {s.operation}: {s.total:,} files in {s.seconds:.1f} s ({rate:.1f} files/s), {s.backend}, {s.workers} worker(s)", title_justify="left")
    t.add_column("status")
    t.add_column("files", justify="right")
    t.add_column("detail")
    worked = s.done + s.failed
    per = f"{s.worker_seconds / worked:.2f} s per file in a worker" if worked else ""
    t.add_row("[green]done[/]", f"{s.done:,}", f"{s.regions:,} regions; {per}" if s.done else "")
    t.add_row("skipped", f"{s.skipped:,}", "; ".join(f"{n:,} {r}" for r, n in s.skip_reasons.most_common(3)))
    t.add_row("[red]failed[/]" if s.failed else "failed", f"{s.failed:,}", "")
    console.print(t)
    if s.failed:
        r = Table(title="Why files failed (most common first; all are in the manifest)", title_justify="left")
        r.add_column("files", justify="right")
        r.add_column("reason")
        r.add_column("e.g.")
        examples = {}
        for path, reason in s.failed_examples:
            examples.setdefault(reason, path)
        for reason, n in s.fail_reasons.most_common(MAX_REASON_ROWS):
            r.add_row(f"{n:,}", reason, examples.get(reason, ""))
        console.print(r)
        console.print(f"hint: `picveil batch manifest {s.manifest.parent if s.manifest.name.startswith('.picveil') else s.manifest} --status failed` lists them; fix and rerun to retry only those.", markup=False, highlight=False)
    if s.interrupted:
        console.print("Interrupted: the files above are recorded; run the same command again to continue.", markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``batch`` (with ``protect``, ``reveal`` and ``manifest``) to the picveil app."""
    from .main import _reports_errors

    if not batch_app.registered_commands:
        batch_app.command("protect")(_reports_errors(protect_command))
        batch_app.command("reveal")(_reports_errors(reveal_command))
        batch_app.command("manifest")(_reports_errors(manifest_command))
    app.add_typer(batch_app, name="batch")
