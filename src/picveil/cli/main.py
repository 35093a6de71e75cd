"""typer commands. Output meant for scripts goes to stdout; messages to stderr."""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.table import Table

from ..errors import PicveilError, RecipientError, RegionError

app = typer.Typer(
    name="picveil",
    help="Protect chosen regions of a photo; reveal them for chosen people.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False)

PASSPHRASE_ENV = "PICVEIL_PASSPHRASE"
SAMPLE_FACE = "150,10,155,175"
SAMPLE_BADGE = "276,336,58,36"


def _reports_errors(fn):
    """Turn a PicveilError into `picveil: error:` / `hint:` lines and its exit code."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except PicveilError as exc:
            err.print(f"picveil: error: {exc.message}", markup=False)
            if exc.hint:
                err.print(f"hint: {exc.hint}", markup=False)
            raise typer.Exit(exc.exit_code) from None

    return wrapper


def command(*args, **kwargs):
    """``app.command`` with picveil's error reporting."""

    def register(fn):
        return app.command(*args, **kwargs)(_reports_errors(fn))

    return register


def _passphrase(enabled: bool, *, confirm: bool) -> Optional[str]:
    if not enabled:
        return None
    env = os.environ.get(PASSPHRASE_ENV)
    if env:
        return env
    if not sys.stdin.isatty():
        raise RecipientError(
            "--passphrase needs a terminal to ask for it.",
            hint=f"Set {PASSPHRASE_ENV} when running non-interactively.",
        )
    pw = typer.prompt("Passphrase", hide_input=True, confirmation_prompt=confirm, err=True)
    if not pw:
        raise RecipientError("The passphrase is empty.")
    return pw


def _parse_groups(groups: List[str]) -> dict[str, tuple[str, ...]]:
    named: dict[str, tuple[str, ...]] = {}
    for g in groups:
        name, sep, rest = g.partition("=")
        if not sep or not name.strip() or not rest.strip():
            raise RecipientError(f"--group takes NAME=age1…[,age1…], got {g!r}.")
        if name.strip() in named:  # the last one silently won: the first one's people could reveal nothing
            raise RecipientError(
                f"--group {name.strip()} is defined twice.",
                hint=f"Give it once, with every recipient: --group {name.strip()}=age1…,age1…",
            )
        named[name.strip()] = tuple(r.strip() for r in rest.split(",") if r.strip())
    return named


def _regions(boxes: List[str], groups: dict[str, tuple[str, ...]], circle_names: set[str]):
    from ..regions import Region, parse_box

    regions = []
    for text in boxes:
        spec, at, gname = text.partition("@")
        box = parse_box(spec)
        if at:
            if gname in groups:
                regions.append(Region(box, recipients=groups[gname], label=gname))
            elif gname in circle_names:
                regions.append(Region(box, circle=gname, label=gname))
            else:
                import difflib

                close = difflib.get_close_matches(gname, [*groups, *circle_names], n=1)
                raise RegionError(
                    f"--box {text}: no group or circle named {gname!r}." + (f" Did you mean {close[0]!r}?" if close else ""),
                    hint=f"Define a group with --group {gname}=age1…, or create the circle with `picveil circle create {gname}`.",
                )
        else:
            regions.append(Region(box))
    return regions


_TURNS = {2: "mirrored", 3: "turned 180°", 4: "flipped upside down", 5: "turned and mirrored",
          6: "turned 90° clockwise", 7: "turned and mirrored", 8: "turned 90° anticlockwise"}


def _box_space(image: Path, given: Optional[str], has_boxes: bool, max_pixels: int) -> str:
    """The space of --box and --mask: `given`, else "stored", which is what a
    viewer shows unless the photo's EXIF orientation turns it; then boxes are
    ambiguous (a box read off a viewer would protect the wrong part of the
    photo) and the user must say."""
    if given is not None:
        if given not in ("stored", "displayed"):
            raise RegionError(f"--box-space is displayed or stored, got {given!r}.")
        return given
    if not has_boxes:
        return "stored"
    from ..jpeg.loading import probe_image

    try:
        _, width, height, orientation = probe_image(image.read_bytes(), max_pixels)
    except Exception:  # noqa: BLE001 - protect reports an unreadable input itself
        return "stored"
    if orientation == 1:
        return "stored"
    shown = f"{height}×{width}" if orientation >= 5 else f"{width}×{height}"
    raise RegionError(
        f"{image.name} is shown {_TURNS[orientation]} (EXIF orientation {orientation}): a viewer shows it "
        f"{shown}, while its pixels are stored {width}×{height}, so a box means a different part of the photo "
        "in each.",
        hint="Say which you measured: --box-space displayed (as a viewer shows the photo) or --box-space stored "
        "(the file's pixel grid, as `picveil detect` prints it).",
    )


KEYRING_PASSPHRASE_ENV = "PICVEIL_KEYRING_PASSPHRASE"


def _keyring_passphrase(keyring_dir: Optional[Path], *, ask: bool = True) -> Optional[str]:
    """The passphrase of a passphrase-protected keyring (``None`` for a
    keyring encrypted to ``identity.key``, or none at all): from
    $PICVEIL_KEYRING_PASSPHRASE, else $PICVEIL_PASSPHRASE, else asked on the
    terminal. With ``ask=False`` only the variables are read."""
    from ..crypto import Keyring

    if not Keyring.needs_passphrase(keyring_dir):
        return None
    for name in (KEYRING_PASSPHRASE_ENV, PASSPHRASE_ENV):
        if os.environ.get(name):
            return os.environ[name]
    if not ask:
        return None
    if not sys.stdin.isatty():
        raise RecipientError(
            "Your keyring is protected by a passphrase, and there is no terminal to ask for it.",
            hint=f"Set {KEYRING_PASSPHRASE_ENV} (or {PASSPHRASE_ENV}) when running non-interactively.",
        )
    pw = typer.prompt("Keyring passphrase", hide_input=True, err=True)
    if not pw:
        raise RecipientError("The passphrase is empty.")
    return pw


def _refuse_keyring_passphrase(pw: str, keyring_dir) -> None:
    """Refuse a photo passphrase that opens the user's keyring: whoever is told it
    could open a copy of the keyring and take every circle key (easy to do by
    accident: $PICVEIL_PASSPHRASE stands in for the keyring's passphrase)."""
    from ..crypto import Keyring, default_home

    home = keyring_dir.home if isinstance(keyring_dir, Keyring) else (keyring_dir or default_home())
    if not Keyring.needs_passphrase(home):
        return
    try:
        Keyring.open(home, passphrase=pw)
    except PicveilError:
        return
    raise RecipientError(
        "The photo's passphrase is your keyring's passphrase: anyone you tell it to could open your keyring, "
        "and every circle key in it.",
        hint=f"Protect with another passphrase; keep the keyring's in {KEYRING_PASSPHRASE_ENV}, not {PASSPHRASE_ENV}.",
    )


def _keyring(keyring_dir: Optional[Path], *, ask: bool = True):
    """``keyring_dir`` as the API takes it: a passphrase-protected keyring is
    opened here (the library never asks for passphrases); any other keyring
    stays a path, opened by the API when it needs circles."""
    from ..crypto import Keyring

    pw = _keyring_passphrase(keyring_dir, ask=ask)
    if pw is None:
        return keyring_dir
    return Keyring.open(keyring_dir, passphrase=pw)


def _circle_names(keyring) -> set[str]:
    from ..crypto import Keyring, default_home

    if isinstance(keyring, Keyring):
        return {c.name for c in keyring.circles}
    home = keyring or default_home()
    if not (home / "keyring.age").exists():
        return set()
    return {c.name for c in Keyring.open(home).circles}


def _region_table(infos, title: str) -> Table:
    t = Table(title=title, title_justify="left")
    for col in ("#", "box (x,y,w,h)", "group", "look", "recipients", "passphrase", "circle"):
        t.add_column(col)
    for r in infos:
        t.add_row(
            str(r.index + 1), str(r.box), str(r.group), r.look, str(r.recipients),
            "yes" if r.passphrase else "no", r.circle or "",
        )
    return t


def _read_mask(path: Path):
    """A mask PNG -> (bool array, boxes of its connected parts)."""
    import numpy as np
    from PIL import Image

    from ..regions import Box

    try:
        with Image.open(path) as im:
            m = np.asarray(im.convert("L")) > 127
    except (OSError, ValueError) as exc:
        raise RegionError(f"Cannot read the mask {path}: {exc}") from None
    if not m.any():
        raise RegionError(f"The mask {path} is empty (no white pixels).")
    from scipy import ndimage

    labels, _ = ndimage.label(m, structure=np.ones((3, 3)))  # one box per separate white part
    return m, [
        Box(int(sx.start), int(sy.start), int(sx.stop - sx.start), int(sy.stop - sy.start))
        for sy, sx in ndimage.find_objects(labels)
    ]


def _default_output(src: Path, suffix: str) -> Path:
    return src.with_name(f"{src.stem}.{suffix}.jpg")


def _is_png(path: Path) -> bool:
    """Whether the file at `path` starts with the PNG signature (False if unreadable)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(8) == b"\x89PNG\r\n\x1a\n"
    except OSError:
        return False


@command()
def keygen(
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Write the identity here (mode 600). Default: stdout."),
    show_recipient: Optional[Path] = typer.Option(None, "-y", help="Print the recipient of an existing identity file."),
    force: bool = typer.Option(False, "--force", help="Replace an existing output file."),
) -> None:
    """Create an age identity (compatible with age-keygen) and print its public recipient."""
    from ..api import write_atomic
    from ..crypto import Identity, load_identities
    from ..errors import OutputError

    if show_recipient is not None:
        for ident in load_identities(show_recipient):
            out.print(ident.recipient)
        return
    ident = Identity.generate()
    if output is None:
        out.print(ident.to_file_text(), end="")
        err.print(f"Public key: {ident.recipient}")
        return
    if output.exists() and not force:
        raise OutputError(
            f"{output} already exists; picveil will not overwrite a key.",
            hint="Choose another -o path; --force replaces the file (whatever it holds, and the key in it is lost).",
        )
    write_atomic(output, ident.to_file_text().encode(), mode=0o600)
    err.print(f"Wrote identity to {output}")
    out.print(ident.recipient)


@command()
def protect(
    image: Path = typer.Argument(..., help="Photo to protect (JPEG, PNG, BMP, TIFF, WebP)."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Protected JPEG to write. Default: NAME.protected.jpg."),
    box: List[str] = typer.Option([], "--box", "-b", help="X,Y,W,H in pixels, optionally @GROUP. Repeatable."),
    to: List[str] = typer.Option([], "--to", "-r", help="age recipient (age1…) for boxes without @GROUP. Repeatable."),
    recipients_file: List[Path] = typer.Option([], "--recipients-file", "-R", help="File of age recipients, one per line."),
    group: List[str] = typer.Option([], "--group", help="NAME=age1…[,age1…]: recipients for boxes marked @NAME."),
    circle: Optional[str] = typer.Option(None, "--circle", "-c", help="Circle (from your keyring) for boxes without @NAME; @CIRCLE works per box."),
    keyring_dir: Optional[Path] = typer.Option(None, "--keyring", help="Keyring folder (default: $PICVEIL_HOME or ~/.config/picveil); a passphrase-protected one is asked for, or read from $PICVEIL_KEYRING_PASSPHRASE."),
    passphrase: bool = typer.Option(False, "--passphrase", "-p", help=f"Also protect with a passphrase (asked, or ${PASSPHRASE_ENV})."),
    look: str = typer.Option("auto", "--look", help="auto (default: scramble for circles, which survives re-encoding; else fill, which leaks nothing), scramble, fill, inpaint, frost, sticker, blur, pixelate."),
    cells: int = typer.Option(6, "--cells", help="Cells across a region for pixelate/blur."),
    feather: int = typer.Option(0, "--feather", help="Soft edge in pixels, outside an ellipse or mask shape (painted looks; the shape itself is always fully painted)."),
    shape: str = typer.Option("box", "--shape", help="box, ellipse or mask (painted looks; scramble stays MCU-aligned)."),
    mask: Optional[Path] = typer.Option(None, "--mask", help="PNG mask (white = protect) for --shape mask; also adds its boxes."),
    sidecar: bool = typer.Option(False, "--sidecar", help="Also write OUTPUT.picveil, the reveal data, for platforms that strip it."),
    platform: Optional[str] = typer.Option(None, "--platform", help="Fit for x, facebook, instagram, whatsapp, telegram or generic first (see `picveil platforms`)."),
    detect: Optional[str] = typer.Option(None, "--detect", help="Find regions: faces,text,plates,people (needs the detect extra)."),
    level: Optional[int] = typer.Option(None, "--level", min=1, max=5, help="Security level 1..5: share of the area protected in priority order (30%…100%)."),
    min_score: Optional[float] = typer.Option(None, "--min-score", min=0.0, max=1.0, help="Minimum detection score, 0..1 (default: per class)."),
    exclude: Optional[str] = typer.Option(None, "--exclude", help="Detection ids to keep visible, e.g. 3,5 (ids from `picveil detect`)."),
    regions_file: Optional[Path] = typer.Option(None, "--regions", help="regions.json from `picveil detect` (edit it, then pass it back)."),
    only: Optional[str] = typer.Option(None, "--only", help="Protect only these people's faces, e.g. kid1,kid2 (gallery: `picveil people`; needs the identify extra)."),
    except_people: Optional[str] = typer.Option(None, "--except", help="Protect every face except these people's, e.g. me; unknown faces stay protected."),
    allow_empty: bool = typer.Option(False, "--allow-empty", help="Write the image even if nothing is to be protected."),
    quality: int = typer.Option(95, "--quality", "-q", min=1, max=100, help="JPEG quality for non-JPEG inputs."),
    subsampling: Optional[str] = typer.Option(None, "--subsampling", help="Chroma subsampling for non-JPEG inputs: 4:2:0, 4:2:2 or 4:4:4 (default: 4:2:0 for circles, which networks keep; else 4:4:4)."),
    colour: str = typer.Option("auto", "--colour", help="Put a photo in a wider colour space (Display P3, Adobe RGB) in sRGB first: auto (default: when protecting for circles, since networks convert colours and that would erase the in-image header), srgb (always) or keep (never)."),
    keep_gps: bool = typer.Option(False, "--keep-gps", help="Keep GPS location in the EXIF data."),
    keep_serials: bool = typer.Option(False, "--keep-serials", help="Keep camera serial numbers and maker notes."),
    keep_metadata: bool = typer.Option(False, "--keep-all-metadata", help="Copy all metadata (unsafe: XMP, previews…)."),
    progressive: Optional[bool] = typer.Option(None, "--progressive/--baseline", help="Output mode (default: as the input)."),
    clip: bool = typer.Option(False, "--clip", help="Clip boxes to the image instead of refusing them."),
    box_space: Optional[str] = typer.Option(None, "--box-space", help="What --box and --mask are drawn over: displayed (the photo as a viewer shows it) or stored (the file's pixel grid, as `picveil detect` prints). Needed for a photo whose EXIF orientation turns it; else they agree."),
    whole: bool = typer.Option(False, "--whole", help="Encrypt the entire image (scheme searchable-v2 by default: searchable with `picveil index`)."),
    scheme: Optional[str] = typer.Option(None, "--scheme", help="scramble (scramble-v8, the default; for circles scramble-v4 when the photo has no room for its header), scramble-v7, scramble-v6, scramble-v5, scramble-v4, scramble-v3, scramble-v1, scramble-v2, searchable (searchable-v2) or searchable-v1."),
    robust: Optional[bool] = typer.Option(None, "--robust/--no-robust", help="In-image header that survives platforms (default: on when every region is for a circle)."),
    max_pixels: int = typer.Option(200_000_000, "--max-pixels", help="Refuse larger images."),
    force: bool = typer.Option(False, "--force", help="Replace an existing output file."),
) -> None:
    """Protect boxes of IMAGE so that only the recipients can reveal them."""
    from ..api import protect_file
    from ..crypto import parse_recipient

    recipients = list(to)
    for rf in recipients_file:
        try:
            lines = rf.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise RecipientError(f"Cannot read recipients file {rf}: {exc.strerror}") from None
        recipients += [ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith("#")]
    for r in recipients:
        parse_recipient(r)
    groups = _parse_groups(group)
    for members in groups.values():
        for r in members:
            parse_recipient(r)
    from ..looks import look_id

    if look != "auto":
        look_id(look)
    mask_arr = None
    if mask is not None:
        mask_arr, mask_boxes = _read_mask(mask)
        box = list(box) + [f"{b.x},{b.y},{b.w},{b.h}" for b in mask_boxes]
        shape = "mask"
    if not box and not detect and regions_file is None and not allow_empty and not whole and not (only or except_people):
        raise RegionError("No region to protect.", hint="Give --box X,Y,W,H, --detect faces, or --regions regions.json.")
    try:
        exclude_ids = [int(x) for x in exclude.split(",") if x.strip()] if exclude else []
    except ValueError:
        raise RegionError(f"--exclude takes detection ids like 3,5, got {exclude!r}.") from None
    needs_circles = circle is not None or any("@" in b and b.split("@", 1)[1] not in groups for b in box)
    if needs_circles or only or except_people:
        keyring_dir = _keyring(keyring_dir)
    regions = _regions(box, groups, _circle_names(keyring_dir) if needs_circles else set())
    needs_default = any(r.recipients is None and r.circle is None for r in regions)
    pw = _passphrase(passphrase, confirm=True)
    if pw:
        _refuse_keyring_passphrase(pw, keyring_dir)
    if needs_default and not recipients and not pw and circle is None:
        raise RecipientError(
            "No recipient for the boxes without @GROUP.",
            hint="Add --to age1… (see `picveil keygen`), --circle NAME or --passphrase.",
        )
    space = _box_space(image, box_space, bool(box) or mask is not None, max_pixels)
    dst = output or _default_output(image, "protected")
    with err.status(f"Protecting {image.name}…"):  # detection and the in-image header take seconds
        report = protect_file(
            image,
            dst,
            regions,
            recipients=recipients,
            passphrase=pw,
            circle=circle,
            keyring=keyring_dir,
            look=look,
            cells=cells,
            feather=feather,
            shape=shape,
            mask=mask_arr,
            sidecar=sidecar,
            platform=platform,
            detect=detect,
            level=level,
            min_score=min_score,
            exclude=exclude_ids,
            regions_file=regions_file,
            only=only,
            except_people=except_people,
            allow_empty=allow_empty,
            quality=quality,
            subsampling=subsampling,
            colour=colour,
            keep_gps=keep_gps,
            keep_serials=keep_serials,
            keep_all_metadata=keep_metadata,
            progressive=progressive,
            clip=clip,
            whole=whole,
            scheme=scheme,
            robust=robust,
            max_pixels=max_pixels,
            overwrite=force,
            box_space=space,
        )
    if report.fitted:
        err.print(f"Fitted for {report.fitted}", markup=False)
    err.print(_region_table(report.regions, f"Protected {len(report.regions)} region(s)"))
    for w in report.warnings:
        err.print(f"picveil: warning: {w}", markup=False)
    for a in report.advice:
        err.print(f"picveil: note: {a}", markup=False)
    from ..api import SCHEME_ALIASES
    from ..schemes import DEFAULT_WHOLE_SCHEME, leak_summary

    leak = leak_summary(SCHEME_ALIASES.get(scheme, scheme) if scheme else (DEFAULT_WHOLE_SCHEME if whole else ""))
    if leak:
        err.print(f"picveil: note: {leak}", markup=False)
    growth = 100.0 * (report.output_bytes / report.input_bytes - 1)
    err.print(f"{report.input_bytes:,} → {report.output_bytes:,} bytes ({growth:+.1f}%)")
    out.print(str(report.output))


@command()
def reveal(
    image: Path = typer.Argument(..., help="Protected JPEG, or the JPEG, WebP or PNG a platform served."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Restored image to write: .jpg, or .png for the revealed pixels losslessly. Default: NAME.revealed.jpg (NAME.revealed.png for a PNG)."),
    identity: List[Path] = typer.Option([], "--identity", "-i", help="age identity file. Repeatable."),
    passphrase: bool = typer.Option(False, "--passphrase", "-p", help=f"Use a passphrase (asked, or ${PASSPHRASE_ENV})."),
    require_all: bool = typer.Option(False, "--require-all", help="Fail unless every region can be revealed."),
    keyring_dir: Optional[Path] = typer.Option(None, "--keyring", help="Keyring folder whose circles are tried (default: yours); a passphrase-protected one is asked for, or read from $PICVEIL_KEYRING_PASSPHRASE."),
    sidecar: Optional[Path] = typer.Option(None, "--sidecar", help="Reveal data written by protect --sidecar (IMAGE.picveil is found by itself)."),
    max_pixels: int = typer.Option(200_000_000, "--max-pixels", help="Refuse larger images."),
    force: bool = typer.Option(False, "--force", help="Replace an existing output file."),
) -> None:
    """Restore the regions of IMAGE that your identity or passphrase opens."""
    from ..api import reveal_file

    pw = _passphrase(passphrase, confirm=False)
    # Circles: a passphrase-protected keyring is asked for only when no other key was given.
    if identity or pw:
        try:
            keyring_dir = _keyring(keyring_dir, ask=False)
        except PicveilError:  # e.g. the image passphrase is not the keyring's: the given keys still count
            pass
    else:
        keyring_dir = _keyring(keyring_dir)
    dst = output or _default_output(image, "revealed")
    if output is None and _is_png(image):  # a lossless copy of the shown pixels stays lossless
        dst = dst.with_suffix(".png")
    # a copy a platform re-encoded is revealed from its pixels: up to a minute for a 12 MP photo
    with err.status(f"Revealing {image.name}…"):
        report = reveal_file(
            image,
            dst,
            identities=identity,
            passphrase=pw,
            keyring=keyring_dir,
            sidecar=sidecar,
            require_all=require_all,
            max_pixels=max_pixels,
            overwrite=force,
        )
    n = len(report.revealed) + len(report.locked)
    err.print(f"Revealed {len(report.revealed)} of {n} region(s).")
    for w in report.warnings:
        err.print(f"picveil: warning: {w}", markup=False)
    if report.locked:
        err.print(f"Still protected (not for these keys): {', '.join(str(i + 1) for i in report.locked)}")
    out.print(str(report.output))


@command()
def inspect(
    image: Path = typer.Argument(..., help="Any image."),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
) -> None:
    """Show what picveil data IMAGE carries (no key needed)."""
    from dataclasses import asdict

    from ..api import inspect as do_inspect

    try:
        info = do_inspect(image)
    except PicveilError as exc:
        if as_json:  # a script reading stdout gets JSON either way; stderr and the exit code as for any error
            out.print_json(json.dumps({"error": {"type": type(exc).__name__, "message": exc.message, "hint": exc.hint, "exit_code": exc.exit_code}}))
        raise
    if as_json:
        d = asdict(info)
        out.print_json(json.dumps(d, default=str))
        return
    looks = sorted({r.look for r in info.regions})
    if looks and "scramble" not in looks:  # the header names a scheme, but no region uses it
        out.print(f"picveil format v{info.format_version}, regions painted ({', '.join(looks)}); "
                  "their originals travel encrypted in the picveil data", markup=False)
    else:
        out.print(f"picveil format v{info.format_version}, scheme {info.scheme} (id {info.scheme_id})")
    if info.source != "container":
        out.print(f"read from: the {info.source}; received picture {info.received}", markup=False)
    out.print(f"image {info.width}×{info.height}, {info.subsampling}, MCU {info.mcu[0]}×{info.mcu[1]}")
    out.print(f"{len(info.regions)} region(s) in {info.groups} key group(s)")
    out.print(_region_table(info.regions, "Regions"))
    for w in info.warnings:
        out.print(f"warning: {w}")
    from ..schemes import leak_summary

    if leak := leak_summary(info.scheme):
        out.print(f"leaks: {leak}", markup=False)
    from ..regions.priority import level_table

    out.print("security levels (--level): " + ", ".join(f"{lv}={100 * share:.1f}%" for lv, share in level_table()) + " of the image area, in priority order")
    if "pvru" in info.extra_boxes:
        out.print("robust in-image header: yes (a circle's members can reveal this picture after a platform re-encodes it)")
    if "pvrd" in info.extra_boxes:
        out.print("region data: the painted regions' originals (or scheme data), encrypted per region")
    unknown = [b for b in info.extra_boxes if b not in ("pvrd", "pvru")]
    if unknown:
        out.print(f"extra boxes (ignored by this version): {', '.join(unknown)}")


@command()
def demo(
    outdir: Optional[Path] = typer.Option(None, "--out", "-o", help="Folder for the demo files (default: picveil-demo, or picveil-demo-2, -3… if that one holds an earlier demo)."),
    force: bool = typer.Option(False, "--force", help="Write over files of an earlier demo in --out."),
) -> None:
    """Protect a bundled sample photo and reveal it again; print where the files are."""
    from importlib.resources import files

    from ..api import inspect as do_inspect
    from ..api import protect_file, reveal_file, write_atomic
    from ..crypto import Identity
    from ..errors import OutputError
    from ..jpeg.codec import read_coefficients
    from ..regions import Region, parse_box

    names = ("sample.jpg", "family.key", "owner.key", "protected.jpg", "revealed.jpg", "revealed-by-family.jpg")
    if outdir is None:  # never over an earlier demo's files (its keys among them): the next free folder
        outdir = Path("picveil-demo")
        n = 1
        while any((outdir / name).exists() for name in names):
            n += 1
            outdir = Path(f"picveil-demo-{n}")
    elif not force and any((outdir / name).exists() for name in names):
        taken = ", ".join(name for name in names if (outdir / name).exists())
        raise OutputError(f"{outdir} already holds {taken}.", hint="Choose another --out folder, or pass --force to replace them.")
    outdir.mkdir(parents=True, exist_ok=True)
    sample = outdir / "sample.jpg"
    src = files("picveil").joinpath("data/astronaut.jpg").read_bytes()
    write_atomic(sample, src)
    family, owner = Identity.generate(), Identity.generate()
    write_atomic(outdir / "family.key", family.to_file_text().encode(), mode=0o600)
    write_atomic(outdir / "owner.key", owner.to_file_text().encode(), mode=0o600)
    regions = [
        Region(parse_box(SAMPLE_FACE), recipients=(family.recipient, owner.recipient), label="face"),
        Region(parse_box(SAMPLE_BADGE), recipients=(owner.recipient,), label="name badge"),
    ]
    protected = outdir / "protected.jpg"
    protect_file(sample, protected, regions, overwrite=True)
    revealed = outdir / "revealed.jpg"
    family_view = outdir / "revealed-by-family.jpg"
    r_owner = reveal_file(protected, revealed, identities=[outdir / "owner.key"], overwrite=True)
    r_family = reveal_file(protected, family_view, identities=[outdir / "family.key"], overwrite=True)
    a, b = read_coefficients(src), read_coefficients(revealed.read_bytes())
    exact = all((a.array(i) == b.array(i)).all() for i in range(len(a.components)))
    err.print(_region_table(do_inspect(protected).regions, "Protected regions (face: family+owner, badge: owner)"))
    t = Table(title="picveil demo", title_justify="left")
    t.add_column("file")
    t.add_column("what")
    t.add_row(str(sample), "the original sample photo")
    looks = ", ".join(sorted({r.look for r in do_inspect(protected).regions}))
    t.add_row(str(protected), f"protected: face and name badge hidden (look {looks}), a normal JPEG")
    t.add_row(str(revealed), f"revealed with owner.key: {len(r_owner.revealed)}/2 regions, exact: {'yes' if exact else 'NO'}")
    t.add_row(str(family_view), f"revealed with family.key: {len(r_family.revealed)}/2 regions (badge stays private)")
    t.add_row(str(outdir / "family.key") + ", " + str(outdir / "owner.key"), "the two age identities")
    out.print(t)
    if not exact:
        raise PicveilError("The demo's reveal was not exact; this is a bug.")


def main(argv: Optional[list[str]] = None) -> int:
    """Run the app and return its exit code (usage errors: 2; picveil errors: see errors.py)."""
    try:
        app(args=argv, prog_name="picveil", standalone_mode=True)
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0


def run() -> None:  # console-script entry point
    sys.exit(main())


# --- sub-commands defined in their own modules ----------------------------------------
from .circle_cmd import circle_app  # noqa: E402

app.add_typer(circle_app, name="circle")
from .platform_cmd import register as _register_platform_cmds  # noqa: E402

_register_platform_cmds(app)
from .web_cmd import register as _register_web  # noqa: E402

_register_web(app)
from .detect_cmd import register as _register_detect  # noqa: E402

_register_detect(app)
from .batch_cmd import register as _register_batch  # noqa: E402

_register_batch(app)
from .search_cmd import register as _register_search  # noqa: E402

_register_search(app)


@app.command(
    "audit",
    add_help_option=False,
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def audit(ctx: typer.Context) -> None:
    """Attack the protection modes with neural networks and write a report (needs the audit extra; --help for options)."""
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        err.print('picveil: error: The audit needs PyTorch.\nhint: pip install "picveil[audit]"', markup=False)
        raise typer.Exit(3)
    from ..audit.run import main as audit_main

    raise typer.Exit(audit_main(list(ctx.args)))


from .people_cmd import people_app  # noqa: E402

app.add_typer(people_app, name="people")
