"""``picveil fit``, ``picveil simulate`` and ``picveil platforms``.

Wired into the main app by ``register(app)`` (called at the end of
``cli/main.py``). Output meant for scripts (the written path, the Markdown
table) goes to stdout; messages go to stderr. Errors become
``picveil: error:`` / ``hint:`` lines through ``main._reports_errors``.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

_EXTENSIONS = {"jpeg": "jpg", "png": "png", "webp": "webp", "bmp": "bmp", "tiff": "tif"}


def _read(path: Path) -> bytes:
    from ..errors import InputError

    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"No such file: {path}", hint="Check the path.") from None
    except IsADirectoryError:
        raise InputError(f"{path} is a folder, not an image.", hint="Give an image file.") from None
    except OSError as exc:
        raise InputError(f"Cannot read {path}: {exc.strerror}", hint="Check the file's permissions.") from None


def _check_output(dst: Path, src: Path, force: bool, writes: tuple[str, ...] = (), what: str = "") -> None:
    """Refuse to write over the input (ever), over an existing file (without
    --force), or under a name that says another format than `writes`."""
    from ..api import _check_output as check, format_for_output

    if writes:
        format_for_output(dst, writes, what)
    check(dst, src, force)


def _size(wh: tuple[int, int]) -> str:
    return f"{wh[0]}×{wh[1]}"


def fit_command(
    image: Path = typer.Argument(..., help="Photo to prepare (JPEG, PNG, BMP, TIFF, WebP)."),
    platform: str = typer.Option(..., "--platform", "-P", help="x, facebook, instagram, whatsapp, telegram or generic (see `picveil platforms`)."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="JPEG to write. Default: NAME.PLATFORM.jpg."),
    quality: Optional[int] = typer.Option(None, "--quality", "-q", min=1, max=100, help="JPEG quality instead of the profile's."),
    box: List[str] = typer.Option([], "--box", "-b", help="X,Y,W,H in the input's pixels: print where it lands in the output. Repeatable."),
    aspect: str = typer.Option("pad", "--aspect", help="A shape the network would crop (Instagram: outside 4:5 to 1.91:1): pad it (default), crop it here, or keep it."),
    max_pixels: int = typer.Option(200_000_000, "--max-pixels", help="Refuse larger images."),
    force: bool = typer.Option(False, "--force", help="Replace an existing output file."),
) -> None:
    """Resize and re-encode IMAGE for a network, so that it need not resize it (do this before protect)."""
    from ..errors import InputError
    from ..platforms.fitting import ASPECT_MODES

    if aspect not in ASPECT_MODES:
        raise InputError(f"--aspect must be one of {', '.join(ASPECT_MODES)}, not {aspect!r}.")
    from ..api import write_atomic
    from ..platforms import fit, get_profile
    from ..regions import parse_box
    from .main import err, out

    profile = get_profile(platform)
    boxes = [parse_box(b) for b in box]
    dst = output or image.with_name(f"{image.stem}.{profile.name}.jpg")
    _check_output(dst, image, force, ("jpeg",), "picveil fit")
    data = _read(image)
    result = fit(data, profile, quality=quality, max_pixels=max_pixels, aspect=aspect)
    write_atomic(dst, result.jpeg)
    for note in result.notes:
        err.print(f"picveil: warning: {note}", markup=False)
    err.print(f"{result.describe(profile)}, {len(data):,} → {len(result.jpeg):,} bytes", markup=False)
    for b in boxes:
        x, y, w, h = result.map_box(b)
        err.print(f"box {b} → {x},{y},{w},{h}" if w and h else f"box {b} → cropped away", markup=False)
    if result.resized and not boxes:
        err.print("hint: choose --box regions on the new file, or map old ones with `picveil fit --box`.", markup=False)
    out.print(str(dst), markup=False, soft_wrap=True)


def simulate_command(
    image: Path = typer.Argument(..., help="Image as it would be uploaded (e.g. a protected JPEG)."),
    chain: str = typer.Option(..., "--chain", "-c", help='A preset (facebook, instagram, x, whatsapp, telegram, webp75, png) or steps, e.g. "resize:1080,jpeg:75:opencv".'),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Where to write what the network would serve. Default: NAME.simulated.EXT."),
    max_pixels: int = typer.Option(200_000_000, "--max-pixels", help="Refuse larger images."),
    force: bool = typer.Option(False, "--force", help="Replace an existing output file."),
) -> None:
    """Put IMAGE through what a network may do to it (strip, resize, re-encode, WebP) and print each step."""
    from rich.table import Table

    from ..api import write_atomic
    from ..platforms import parse_chain
    from .main import err, out

    steps = parse_chain(chain)
    data = _read(image)
    if output is not None:
        _check_output(output, image, force)
    reports = steps.trace(data, max_pixels=max_pixels)
    final = reports[-1]
    dst = output or image.with_name(f"{image.stem}.simulated.{_EXTENSIONS.get(final.format, 'bin')}")
    _check_output(dst, image, force, (final.format,), f"The chain {steps}")
    write_atomic(dst, final.data)

    t = Table(title=f"simulate {steps}", title_justify="left")
    for col in ("#", "step", "format", "size", "bytes"):
        t.add_column(col, justify="right" if col in ("#", "bytes") else "left")
    for i, r in enumerate(reports):
        what = "input" if r.step is None else r.step.describe()
        if i and r.data == reports[i - 1].data:
            what += " (nothing to do)"
        t.add_row(str(i), what, r.format, _size(r.size), f"{r.nbytes:,}")
    err.print(t)
    out.print(str(dst), markup=False, soft_wrap=True)


def platforms_command(
    markdown: bool = typer.Option(False, "--markdown", help="Print the table as Markdown (for the README)."),
) -> None:
    """List the network profiles that `picveil fit --platform` knows, with their sources."""
    from rich.table import Table

    from ..platforms import PROFILES, profiles_markdown
    from ..platforms.simulate import PRESETS
    from .main import out

    if markdown:
        out.print(profiles_markdown(), markup=False, end="", soft_wrap=True)
        return
    sources: list[str] = []
    for p in PROFILES.values():
        sources += [s for s in p.sources if s not in sources]
    t = Table(title="Platform profiles (reported behaviour, not guarantees)", title_justify="left", box=None, header_style="bold")
    for col in ("profile", "edge px", "w/h", "reported q", "chroma", "serves", "strips", "fit", "sources"):
        t.add_column(col, no_wrap=col in ("profile", "w/h"))
    for p in PROFILES.values():
        t.add_row(
            p.name,
            str(p.max_long_edge),
            p.aspect_text.replace(" (w/h)", ""),
            p.quality_text,
            p.subsampling,
            ", ".join(p.formats_served),
            "yes" if p.strips_metadata else "no",
            f"{p.fit_edge} q{p.jpeg_quality}",
            ",".join(str(sources.index(s) + 1) for s in p.sources),
        )
    out.print(t)
    out.print("Sources:", markup=False)
    for i, s in enumerate(sources, 1):
        out.print(f"{i}. {s}", markup=False, soft_wrap=True)
    out.print("")
    for p in PROFILES.values():
        out.print(f"{p.name} ({p.title}): {p.notes}", markup=False, soft_wrap=True)
    out.print("")
    out.print("`picveil simulate --chain NAME` presets (lowest reported quality):", markup=False)
    for name, chain in PRESETS.items():
        out.print(f"  {name}: {chain.spec}", markup=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add ``fit``, ``simulate`` and ``platforms`` to the picveil app."""
    from .main import _reports_errors

    app.command("fit")(_reports_errors(fit_command))
    app.command("simulate")(_reports_errors(simulate_command))
    app.command("platforms")(_reports_errors(platforms_command))
