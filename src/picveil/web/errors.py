"""How errors leave the web app: JSON ``{error, hint, kind}`` with a 4xx status.

Every :class:`~picveil.errors.PicveilError` becomes one JSON object with the
message written for the user, a hint, and ``kind`` (the exception's class
name, for scripts and for the page). Anything else is a bug: it is logged on
the server and answered with a plain 500 message, never with a stack trace.

Status codes
------------
=====  ==================================================================
400    malformed request (not multipart, broken form, bad JSON field)
403    the given keys open nothing (wrong key, wrong passphrase, not a recipient),
       or a cross-site request
404    no such circle / no keyring yet / no such endpoint
413    upload over the byte limit, or image over the pixel limit
415    the request is not ``multipart/form-data`` where a form is expected
422    the input cannot be used: not an image, unsupported, corrupt, bad box,
       bad recipient or identity, no picveil data, tampered or re-encoded data
501    the feature is not installed in this picveil (detection, looks, …)
500    a bug
=====  ==================================================================
"""

from __future__ import annotations

import logging

from ..errors import (
    CircleNotFoundError,
    ImageTooLargeError,
    InputError,
    IntegrityError,
    KeyError_,
    KeyringNotFoundError,
    NoPicveilDataError,
    NotRecipientError,
    PicveilError,
    UnsupportedVersionError,
)

log = logging.getLogger("picveil.web")


class WebError(PicveilError):
    """An error of the web layer itself (the request, not the image), with its HTTP status."""

    exit_code = 2

    def __init__(self, message: str, *, status: int = 400, hint: str | None = None, kind: str = "RequestError") -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.kind = kind


class FeatureUnavailableError(WebError):
    """A feature (detection, looks, platforms, circles) is not installed in this picveil."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, status=501, hint=hint, kind="FeatureUnavailableError")


def too_large(limit: int) -> WebError:
    """The 413 for a request body over ``limit`` bytes."""
    mib = limit / (1 << 20)
    shown = f"{mib:.0f} MiB" if mib >= 1 else f"{limit:,} bytes"
    return WebError(
        f"The upload is larger than this app's limit of {shown}.",
        status=413,
        kind="UploadTooLargeError",
        hint="Use a smaller file, or restart the app with a higher `picveil serve --max-upload-mb`.",
    )


# Hints written for the page, used when an error carries its class's default
# hint (which speaks of command-line flags). Looked up along the class's MRO.
_WEB_HINTS: dict[str, str] = {
    "NotRecipientError": (
        "Use the identity file, passphrase or keyring the photo was protected for; "
        "the Inspect tab shows how many recipients each region has."
    ),
    "ImageTooLargeError": "Use a smaller photo, or restart the app with a higher `picveil serve --max-pixels`.",
    "KeyringNotFoundError": "Create a circle on the Keyring tab; that creates your keyring.",
    "CircleNotFoundError": "The Keyring tab lists your circles; ask the person who shared the photo to share the circle with you.",
}

# Most specific first: the first class the error is an instance of decides.
_STATUS: tuple[tuple[type[PicveilError], int], ...] = (
    (ImageTooLargeError, 413),
    (CircleNotFoundError, 404),
    (KeyringNotFoundError, 404),
    (NotRecipientError, 403),
    (InputError, 422),
    (KeyError_, 422),
    (IntegrityError, 422),
    (NoPicveilDataError, 422),
    (UnsupportedVersionError, 422),
)


def status_of(exc: PicveilError) -> int:
    """The HTTP status for a picveil error (see the module docstring)."""
    status = getattr(exc, "status", None)
    if isinstance(status, int):
        return status
    if type(exc).__name__ == "DetectorUnavailableError":  # regions.detectors is optional
        return 501
    for cls, code in _STATUS:
        if isinstance(exc, cls):
            return code
    return 400


def body_of(exc: PicveilError) -> dict[str, str]:
    """The JSON body for a picveil error: ``{error, hint, kind}``."""
    kind = getattr(exc, "kind", None) or type(exc).__name__
    hint = exc.hint or ""
    if hint == type(exc).default_hint:  # not written for this case: prefer a web hint
        for cls in type(exc).__mro__:
            if cls.__name__ in _WEB_HINTS:
                hint = _WEB_HINTS[cls.__name__]
                break
    return {"error": exc.message, "hint": hint, "kind": kind}


INTERNAL_ERROR = {
    "error": "Something went wrong inside picveil; this is a bug.",
    "hint": "The details are in the terminal that runs `picveil serve`; please report them.",
    "kind": "InternalError",
}
