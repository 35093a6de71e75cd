"""``picveil circle …``: create, list, share, import and remove circles.

A circle is a named group key in the local keyring (``picveil.crypto.keyring``).
Wired into the main app with ``app.add_typer(circle_app, name="circle")``.
Output meant for scripts goes to stdout; messages to stderr.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import List, Optional

import typer

circle_app = typer.Typer(
    name="circle",
    help="Circles: named group keys, kept in your keyring, that you share with friends.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_KEYRING_HELP = "Keyring folder. Default: $PICVEIL_HOME, else $XDG_CONFIG_HOME/picveil or ~/.config/picveil."
_PASSPHRASE_HELP = "The keyring is protected by a passphrase (asked, or $PICVEIL_PASSPHRASE)."


def _command(*args, **kwargs):
    """``circle_app.command`` with picveil's error reporting.

    ``main`` imports this module at its end, so the reporter is looked up
    when a command runs, not at import (either module may be imported first).
    """

    def register(fn):
        @functools.wraps(fn)
        def wrapper(*a, **k):
            from .main import _reports_errors

            return _reports_errors(fn)(*a, **k)

        return circle_app.command(*args, **kwargs)(wrapper)

    return register


def _open(keyring: Optional[Path], passphrase: bool, *, create: bool):
    import os

    from ..crypto import Keyring
    from ..crypto.keyring import KEYRING_FILE, default_home
    from .main import KEYRING_PASSPHRASE_ENV, _keyring_passphrase, _passphrase, err

    home = keyring if keyring is not None else default_home()
    is_new = not (home / KEYRING_FILE).exists()
    if not is_new and Keyring.needs_passphrase(home):  # as protect and reveal read it: the variables, else the terminal
        pw = _keyring_passphrase(home)
    elif passphrase and os.environ.get(KEYRING_PASSPHRASE_ENV):
        pw = os.environ[KEYRING_PASSPHRASE_ENV]
    else:
        pw = _passphrase(passphrase, confirm=create and is_new)
    ring = Keyring.open(home, passphrase=pw, create=create)
    if is_new and create:
        how = "a passphrase" if ring.passphrase_protected else f"your identity {ring.recipient}"
        err.print(f"Created a keyring at {ring.home}, protected by {how}.", markup=False)
    return ring


@_command("create")
def create(
    name: str = typer.Argument(..., help="Circle name: 1-64 characters from A-Z a-z 0-9 . _ -"),
    keyring: Optional[Path] = typer.Option(None, "--keyring", help=_KEYRING_HELP),
    passphrase: bool = typer.Option(False, "--passphrase", "-p", help=_PASSPHRASE_HELP),
) -> None:
    """Create a circle with a fresh random key; prints its public id."""
    from .main import err, out

    ring = _open(keyring, passphrase, create=True)
    circle = ring.create_circle(name)
    err.print(f"Created circle {circle.name} (id {circle.id_hex}).", markup=False, soft_wrap=True)
    err.print(f"hint: share it with `picveil circle share {circle.name} --to age1… -o {circle.name}.circle`.", markup=False, soft_wrap=True)
    out.print(circle.id_hex, markup=False, soft_wrap=True)


@_command("list")
def list_(
    keyring: Optional[Path] = typer.Option(None, "--keyring", help=_KEYRING_HELP),
    passphrase: bool = typer.Option(False, "--passphrase", "-p", help=_PASSPHRASE_HELP),
) -> None:
    """List your circles: name, id, creation time, and how many people you shared each with."""
    from rich.table import Table

    from .main import err, out

    ring = _open(keyring, passphrase, create=False)
    if not ring.circles:
        err.print(f"No circles in {ring.path}.", markup=False, soft_wrap=True)
        err.print("hint: `picveil circle create NAME` creates one.", markup=False, soft_wrap=True)
        return
    table = Table(title=f"Circles in {ring.path}", title_justify="left")
    for col in ("name", "id", "created", "shared with"):
        table.add_column(col)
    for c in ring.circles:
        table.add_row(c.name, c.id_hex, c.created, str(len(c.shared_with)))
    out.print(table)


@_command("share")
def share(
    name: str = typer.Argument(..., help="The circle to share."),
    to: List[str] = typer.Option([], "--to", "-r", help="age recipient (age1…) of a friend. Repeatable."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Circle file to write. Default: NAME.circle."),
    keyring: Optional[Path] = typer.Option(None, "--keyring", help=_KEYRING_HELP),
    passphrase: bool = typer.Option(False, "--passphrase", "-p", help=_PASSPHRASE_HELP),
) -> None:
    """Write a circle file, encrypted to friends' age recipients; they `picveil circle import` it."""
    from ..api import write_atomic
    from ..errors import OutputError
    from .main import err, out

    output = output if output is not None else Path(f"{name}.circle")
    if output.exists():
        raise OutputError(f"{output} already exists; picveil will not overwrite it.", hint="Choose another path with -o.")
    ring = _open(keyring, passphrase, create=False)
    blob = ring.share_circle(name, to)
    write_atomic(output, blob, mode=0o600)
    err.print(f"Wrote circle {name} for {len(set(to))} recipient(s) to {output}.", markup=False, soft_wrap=True)
    err.print(f"hint: they run `picveil circle import {output.name}`; whoever holds it can reveal photos for {name}.", markup=False, soft_wrap=True)
    out.print(str(output), markup=False, soft_wrap=True)


@_command("import")
def import_(
    file: Path = typer.Argument(..., help="Circle file from `picveil circle share` (an age file)."),
    as_name: Optional[str] = typer.Option(None, "--as", help="Import under this name instead of the sender's."),
    identity: List[Path] = typer.Option([], "-i", "--identity", help="Identity file to open it with. Default: the keyring's own."),
    keyring: Optional[Path] = typer.Option(None, "--keyring", help=_KEYRING_HELP),
    passphrase: bool = typer.Option(False, "--passphrase", "-p", help=_PASSPHRASE_HELP),
) -> None:
    """Add a circle a friend shared with you to your keyring."""
    from ..errors import InputError
    from .main import err, out

    try:
        data = file.read_bytes()
    except OSError as exc:
        raise InputError(f"Cannot read {file}: {exc.strerror}.", hint="Check the path of the circle file.") from None
    from ..crypto.keyring import KEYRING_FILE, default_home

    if not identity and not ((keyring if keyring is not None else default_home()) / KEYRING_FILE).exists():
        # nothing could have been shared to a keyring that does not exist: say how, and create nothing
        raise InputError(
            "You have no keyring yet, so this circle file cannot be for it.",
            hint="Run `picveil circle whoami` (it creates your keyring and prints your recipient), give that recipient "
            "to the friend to share the circle to, then import the file they send; or open it with -i IDENTITY.",
        )
    ring = _open(keyring, passphrase, create=True)
    before = {c.circle_id for c in ring.circles}
    circle = ring.import_circle(data, identities=identity, rename=as_name)
    if circle.circle_id in before:
        err.print(f"You already have this circle, as {circle.name} (id {circle.id_hex}).", markup=False, soft_wrap=True)
    else:
        err.print(f"Imported circle {circle.name} (id {circle.id_hex}).", markup=False, soft_wrap=True)
    out.print(circle.name, markup=False, soft_wrap=True)


@_command("remove")
def remove(
    name: str = typer.Argument(..., help="The circle to delete."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Confirm: the key is deleted for good."),
    keyring: Optional[Path] = typer.Option(None, "--keyring", help=_KEYRING_HELP),
    passphrase: bool = typer.Option(False, "--passphrase", "-p", help=_PASSPHRASE_HELP),
) -> None:
    """Delete a circle. Photos protected only for it can no longer be revealed with this keyring."""
    from ..errors import InputError
    from .main import err

    ring = _open(keyring, passphrase, create=False)
    ring.get(name)  # a missing circle is reported before asking
    if not yes:
        if not sys.stdin.isatty():
            raise InputError(
                f"Removing circle {name} deletes its key for good.",
                hint="Add --yes to confirm.",
            )
        typer.confirm(f"Delete circle {name} and its key for good?", abort=True, err=True)
    ring.remove_circle(name)
    err.print(f"Removed circle {name}.", markup=False, soft_wrap=True)


@_command("whoami")
def whoami(
    keyring: Optional[Path] = typer.Option(None, "--keyring", help=_KEYRING_HELP),
    passphrase: bool = typer.Option(False, "--passphrase", "-p", help=_PASSPHRASE_HELP),
) -> None:
    """Print your age recipient, for friends to share circles to (creates the keyring if needed)."""
    from ..errors import KeyFileError
    from .main import out

    ring = _open(keyring, passphrase, create=True)
    if ring.recipient is None:
        raise KeyFileError(
            f"The keyring at {ring.home} is protected by a passphrase and has no identity.",
            hint=f"Create one with `picveil keygen -o {ring.home / 'identity.key'}`.",
        )
    out.print(ring.recipient, markup=False, soft_wrap=True)
