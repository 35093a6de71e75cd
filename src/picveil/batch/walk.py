"""Find the inputs of a batch and name their outputs, streaming.

The tree is walked with :func:`os.scandir`, one folder at a time, depth
first, in sorted order: only the folder being read and the stack of folders
still to visit are held, never the whole file list. Names starting with
``.`` (hidden files and folders, macOS ``._*`` resource forks, picveil's own
manifest) are not inputs. Symbolic links to files are followed; symbolic
links to folders are not (no loops, no escaping the tree).

Which files are images is decided by their suffix here, cheaply and without
reading them; the worker then recognises the format by its magic bytes, as
every picveil input is (a ``.jpg`` that is text fails with "not an image").
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError, OutputError

#: Suffixes (lower case) of the files ``batch protect`` reads. HEIC/HEIF needs pillow-heif.
JPEG_SUFFIXES = frozenset({".jpg", ".jpeg", ".jpe", ".jfif"})
HEIC_SUFFIXES = frozenset({".heic", ".heif", ".hif"})
PROTECT_SUFFIXES = JPEG_SUFFIXES | HEIC_SUFFIXES | frozenset({".png", ".bmp", ".tif", ".tiff", ".webp"})
#: ``batch reveal`` reads JPEGs only: every picveil output is one.
REVEAL_SUFFIXES = JPEG_SUFFIXES
#: Suffix of every output.
OUTPUT_SUFFIX = ".jpg"
#: The temporary files :func:`picveil.api.write_atomic` leaves if it is killed
#: (``tempfile.mkstemp(prefix=".NAME.", suffix=".part")``: 8 random characters).
_PART_RE = re.compile(r"^\..+\.jpg\.[a-z0-9_]{8}\.part$")


@dataclass(frozen=True)
class Entry:
    """One file of the input tree.

    ``rel`` is the path relative to the input folder with ``/`` separators
    (the manifest's key); ``dst`` is ``None`` for files that are not inputs
    (``kind`` ``"other"``) and for folders that cannot be listed
    (``kind`` ``"unreadable"``, ``reason`` says why).
    """

    rel: str
    src: str
    dst: str | None
    kind: str  # "image", "other" or "unreadable"
    reason: str = ""


def check_folders(in_dir: str | os.PathLike, out_dir: str | os.PathLike) -> tuple[Path, Path]:
    """Resolve both folders and refuse layouts where an output could land on an input.

    The output folder is created if needed. Raises :class:`InputError` when
    ``in_dir`` is not a folder, :class:`OutputError` when ``out_dir`` equals
    ``in_dir``, lies inside it, or contains it.
    """
    src = Path(in_dir).expanduser()
    if not src.is_dir():
        raise InputError(f"{src} is not a folder." if src.exists() else f"No such folder: {src}", hint="Give the folder of photos to process.")
    src = src.resolve()
    dst = Path(out_dir).expanduser().resolve()
    if dst == src:
        raise OutputError("The output folder is the input folder; picveil never writes over its inputs.", hint="Give a new, separate OUT_DIR.")
    if src in dst.parents:
        raise OutputError(f"The output folder {dst} is inside the input folder {src}.", hint="Choose an OUT_DIR outside IN_DIR, so outputs never mix with originals.")
    if dst in src.parents:
        raise OutputError(f"The input folder {src} is inside the output folder {dst}.", hint="Choose an OUT_DIR that does not contain IN_DIR.")
    if dst.exists() and not dst.is_dir():
        raise OutputError(f"{dst} exists and is not a folder.", hint="Give a folder for OUT_DIR.")
    try:
        dst.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"Cannot create {dst}: {exc.strerror}") from None
    return src, dst


def output_names(names: list[str], suffixes: frozenset[str]) -> dict[str, str]:
    """Output file names for the inputs ``names`` of one folder.

    An output is ``STEM.jpg``. When two inputs of a folder would get the same
    name (``a.jpg`` and ``a.png``; compared case-insensitively, for macOS and
    Windows disks), JPEG inputs are served first and the others become
    ``NAME.jpg`` (``a.png.jpg``), then ``STEM.N.jpg``. The result depends only
    on the set of names, so reruns give the same outputs.
    """
    inputs = [n for n in names if Path(n).suffix.lower() in suffixes]
    order = sorted(inputs, key=lambda n: (Path(n).suffix.lower() not in JPEG_SUFFIXES, n))
    taken: set[str] = set()
    out: dict[str, str] = {}
    for name in order:
        stem = Path(name).stem
        candidates = [stem + OUTPUT_SUFFIX, name + OUTPUT_SUFFIX]
        candidates += (f"{stem}.{i}{OUTPUT_SUFFIX}" for i in range(2, len(names) + 3))
        for cand in candidates:
            if cand.lower() not in taken:
                taken.add(cand.lower())
                out[name] = cand
                break
    return out


def _display(rel: str) -> str:
    """A file name as text that SQLite and JSON accept (undecodable bytes escaped)."""
    return rel.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _listing(folder: str) -> tuple[list[os.DirEntry], str | None]:
    try:
        with os.scandir(folder) as it:
            return sorted((e for e in it if not e.name.startswith(".")), key=lambda e: e.name), None
    except OSError as exc:
        return [], exc.strerror or str(exc)


def walk(in_dir: Path, out_dir: Path, suffixes: frozenset[str]) -> Iterator[Entry]:
    """Yield every file under ``in_dir`` (see the module docstring), with its output path.

    Folders come depth first in name order, each folder's files before its
    sub-folders. The output of ``IN/a/b.png`` is ``OUT/a/b.jpg`` (see
    :func:`output_names`).
    """
    stack: list[tuple[str, str]] = [(str(in_dir), "")]
    while stack:
        folder, rel_folder = stack.pop()
        entries, error = _listing(folder)
        if error is not None:
            yield Entry(_display(rel_folder or "."), folder, None, "unreadable", f"cannot list the folder: {error}")
            continue
        files, dirs = [], []
        for e in entries:
            try:
                if e.is_dir(follow_symlinks=False):
                    dirs.append(e)
                elif e.is_file():
                    files.append(e)
            except OSError:
                continue
        names = output_names([e.name for e in files], suffixes)
        out_folder = os.path.join(out_dir, rel_folder) if rel_folder else str(out_dir)
        for e in files:
            rel = f"{rel_folder}/{e.name}" if rel_folder else e.name
            if e.name in names:
                yield Entry(_display(rel), e.path, os.path.join(out_folder, names[e.name]), "image")
            else:
                yield Entry(_display(rel), e.path, None, "other", f"not an image (by its name: {Path(e.name).suffix or 'no suffix'})")
        for d in reversed(dirs):
            stack.append((d.path, f"{rel_folder}/{d.name}" if rel_folder else d.name))


def count(in_dir: Path) -> int:
    """How many entries :func:`walk` will yield for ``in_dir`` (a cheap scandir pass, no reads)."""
    n = 0
    stack = [str(in_dir)]
    while stack:
        entries, error = _listing(stack.pop())
        if error is not None:
            n += 1
            continue
        for e in entries:
            try:
                if e.is_dir(follow_symlinks=False):
                    stack.append(e.path)
                elif e.is_file():
                    n += 1
            except OSError:
                continue
    return n


def output_rel(dst: str, out_dir: Path) -> str:
    return _display(Path(os.path.relpath(dst, out_dir)).as_posix())


def clean_partials(folder: str) -> int:
    """Remove the temporary files an interrupted :func:`~picveil.api.write_atomic`
    left in ``folder`` (not recursive); return how many. Call it before any
    worker writes into that folder."""
    removed = 0
    try:
        with os.scandir(folder) as it:
            stale = [e.path for e in it if _PART_RE.match(e.name) and e.is_file(follow_symlinks=False)]
    except OSError:
        return 0
    for path in stale:
        try:
            os.unlink(path)
            removed += 1
        except OSError:
            pass
    return removed
