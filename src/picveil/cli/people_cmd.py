"""``picveil people …``: the local face gallery behind ``protect --only/--except``.

Each person is a name and the face embeddings of their photos
(:mod:`picveil.regions.identify`, the ``[identify]`` extra), stored in the
keyring (``picveil.crypto.keyring``), encrypted at rest like the circles.
Wired into the main app with ``app.add_typer(people_app, name="people")``.
Output meant for scripts goes to stdout; messages to stderr.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import List, Optional

import typer

people_app = typer.Typer(
    name="people",
    help="Your face gallery: name people so that `protect --only/--except` can pick their faces.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_KEYRING_HELP = "Keyring folder. Default: $PICVEIL_HOME, else $XDG_CONFIG_HOME/picveil or ~/.config/picveil."
_PASSPHRASE_HELP = "The keyring is protected by a passphrase (asked, or $PICVEIL_PASSPHRASE)."


def _command(*args, **kwargs):
    """``people_app.command`` with picveil's error reporting (looked up when a command runs)."""

    def register(fn):
        @functools.wraps(fn)
        def wrapper(*a, **k):
            from .main import _reports_errors

            return _reports_errors(fn)(*a, **k)

        return people_app.command(*args, **kwargs)(wrapper)

    return register


def _open_existing(keyring: Optional[Path], passphrase: bool):
    """The keyring, or ``None`` when there is none yet (so nobody is in the gallery)."""
    from ..crypto.keyring import KEYRING_FILE, default_home
    from .circle_cmd import _open

    home = keyring if keyring is not None else default_home()
    if not (home / KEYRING_FILE).exists():
        return None
    return _open(home, passphrase, create=False)


@_command("add")
def add(
    name: str = typer.Argument(..., help="The person's name: 1-64 characters from A-Z a-z 0-9 . _ -"),
    photos: List[Path] = typer.Argument(..., help="Photos of them, one face each (the largest face is taken)."),
    keyring: Optional[Path] = typer.Option(None, "--keyring", help=_KEYRING_HELP),
    passphrase: bool = typer.Option(False, "--passphrase", "-p", help=_PASSPHRASE_HELP),
) -> None:
    """Add NAME to the gallery (or more photos of them): one face embedding per photo."""
    from ..crypto.keyring import check_person_name
    from ..regions.identify import embed_photo
    from .circle_cmd import _open
    from .main import err, out

    check_person_name(name)
    embeddings = [embed_photo(p, label=str(p)).tolist() for p in photos]  # every photo first: all or nothing
    ring = _open(keyring, passphrase, create=True)
    total = ring.add_person(name, embeddings)
    err.print(f"Added {len(embeddings)} face(s) of {name}; the gallery holds {total} for them.", markup=False, soft_wrap=True)
    err.print(f"hint: `picveil protect PHOTO --detect faces --except {name}` protects everyone else.", markup=False, soft_wrap=True)
    out.print(name, markup=False, soft_wrap=True)


@_command("list")
def list_(
    keyring: Optional[Path] = typer.Option(None, "--keyring", help=_KEYRING_HELP),
    passphrase: bool = typer.Option(False, "--passphrase", "-p", help=_PASSPHRASE_HELP),
) -> None:
    """List the people in the gallery and how many face photos each has."""
    from rich.table import Table

    from .main import err, out

    ring = _open_existing(keyring, passphrase)
    people = ring.people if ring is not None else {}
    if not people:
        where = ring.path if ring is not None else (keyring or "your keyring")
        err.print(f"Nobody in the face gallery of {where}.", markup=False, soft_wrap=True)
        err.print("hint: `picveil people add NAME PHOTO…` adds someone.", markup=False, soft_wrap=True)
        return
    table = Table(title=f"People in {ring.path}", title_justify="left")
    for col in ("name", "faces"):
        table.add_column(col)
    for person, rows in people.items():
        table.add_row(person, str(len(rows)))
    out.print(table)


@_command("remove")
def remove(
    name: str = typer.Argument(..., help="The person to delete from the gallery."),
    keyring: Optional[Path] = typer.Option(None, "--keyring", help=_KEYRING_HELP),
    passphrase: bool = typer.Option(False, "--passphrase", "-p", help=_PASSPHRASE_HELP),
) -> None:
    """Delete NAME and all their face embeddings from the gallery."""
    from ..errors import PersonNotFoundError
    from .main import err

    ring = _open_existing(keyring, passphrase)
    if ring is None:
        raise PersonNotFoundError(f"There is no person named {name!r}: the face gallery is empty.")
    ring.remove_person(name)
    err.print(f"Removed {name} from the face gallery.", markup=False, soft_wrap=True)

