"""Errors of the robust in-image header, written for the person who reads them.

Both derive from the project's error tree (:mod:`picveil.errors`), so the CLI
turns them into ``picveil: error:`` and ``hint:`` lines with the right exit
code. An image with no robust header at all raises the project's
:class:`~picveil.errors.NoPicveilDataError` (exit code 6).
"""

from __future__ import annotations

from picveil.errors import InputError, IntegrityError


class HeaderCapacityError(InputError):
    """The header does not fit in the part of the image outside the regions."""

    default_hint = (
        "Use fewer or smaller regions, a larger image, or a shorter header; "
        "`picveil.robust.capacity()` tells how many bytes an image can carry."
    )


class HeaderDamagedError(IntegrityError):
    """A robust header is present but too damaged to be read exactly.

    Deliberately uninformative about which check failed.
    """

    default_hint = (
        "The image was compressed, resized or edited too much for its picveil "
        "header to survive; ask the sender for a less processed copy."
    )


__all__ = ["HeaderCapacityError", "HeaderDamagedError"]
