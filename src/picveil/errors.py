"""Typed errors, written for the person who reads them.

Every error picveil raises on purpose is a :class:`PicveilError`. Each class
carries a default ``hint`` (what to do next) and an ``exit_code`` that the CLI
returns. Integrity failures are deliberately coarse: a reader learns *that*
the protected data does not verify, not *which* check failed.

Exit codes (documented in README.md):

====  ==========================================================
1     unexpected internal error (a bug: please report it)
2     command-line usage error (typer/click)
3     bad input: not an image, corrupt, unsupported, too large, bad region
4     key problem: not a recipient, wrong passphrase, unreadable key file
5     integrity: tampered container, or protected pixels changed
6     no picveil data in the image
7     output problem: output equals input, cannot write
8     ``picveil batch``: finished, but some files failed (see the manifest)
130   interrupted (run the same batch again to continue)
====  ==========================================================
"""

from __future__ import annotations


class PicveilError(Exception):
    """Base class of every error picveil raises deliberately."""

    exit_code = 1
    default_hint = ""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = self.default_hint if hint is None else hint

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.message


# --- bad input -------------------------------------------------------------
class InputError(PicveilError):
    """The input image or the request about it cannot be used."""

    exit_code = 3


class NotAnImageError(InputError):
    default_hint = "picveil reads JPEG, PNG, BMP, TIFF and WebP files (HEIC with the heic extra)."


class CorruptImageError(InputError):
    default_hint = "The file is truncated or damaged; try the original file again."


class UnsupportedImageError(InputError):
    default_hint = (
        "picveil protects 8-bit grayscale and YCbCr/RGB JPEGs (baseline or "
        "progressive) and PNG, BMP, TIFF and WebP images (HEIC with the heic extra)."
    )


class ImageTooLargeError(InputError):
    default_hint = "Raise the limit with --max-pixels if you trust this file."


class RegionError(InputError):
    default_hint = (
        "Boxes are X,Y,W,H in the image's pixels, from its top-left corner, inside its bounds "
        "(as stored: for a phone photo with an EXIF rotation, --box-space displayed takes them as a viewer shows it)."
    )


class RegionsFileError(RegionError):
    """A regions file (``picveil detect --json``, ``protect --regions``) that cannot be used."""

    default_hint = (
        "A regions file is the JSON `picveil detect --json` writes: the image's width and height and a list of "
        "regions, each with an id, a class, a box [x, y, w, h] and enabled true or false."
    )


# --- keys -------------------------------------------------------------------
class KeyError_(PicveilError):
    """A problem with key material (named with a trailing underscore so it
    does not shadow the built-in ``KeyError``)."""

    exit_code = 4


class NotRecipientError(KeyError_):
    default_hint = (
        "Use an identity (-i) or passphrase that the image was protected for; "
        "`picveil inspect` shows how many recipients each region has."
    )


class KeyFileError(KeyError_):
    default_hint = "An identity file holds a line starting with AGE-SECRET-KEY-1 (see `picveil keygen`)."


class RecipientError(KeyError_):
    default_hint = "A recipient is an age public key starting with age1 (see `picveil keygen`)."


# --- integrity ----------------------------------------------------------------
class IntegrityError(PicveilError):
    """The protected data does not verify. Deliberately uninformative."""

    exit_code = 5


class TamperedError(IntegrityError):
    default_hint = "The picveil data in this file was altered or damaged; ask for the original file."


class ContentModifiedError(IntegrityError):
    default_hint = (
        "Ask the sender for the original file: the picveil data (or a sidecar) restores only the file it was "
        "written with, and every network re-encodes photos. Photos protected for a circle (--circle) are the "
        "exception: the circle's members reveal a network's copy from its pixels."
    )


class UnsupportedVersionError(PicveilError):
    exit_code = 6
    default_hint = "This file was written by a newer picveil; upgrade picveil to reveal it."


class NoPicveilDataError(PicveilError):
    exit_code = 6
    default_hint = "The image carries no picveil container (was its metadata stripped?)."


# --- output -------------------------------------------------------------------
class OutputError(PicveilError):
    exit_code = 7
    default_hint = "Choose a different output path (-o); picveil never overwrites its input."


# --- circles and the keyring (crypto/keyring.py) --------------------------------
class CircleNotFoundError(NotRecipientError):
    """No circle in the keyring matches; carries what is known of the one needed."""

    default_hint = (
        "`picveil circle list` shows your circles; ask the person who shared the "
        "photo to share the circle with you (`picveil circle share NAME --to age1…`)."
    )

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        name: str | None = None,
        circle_id: bytes | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.name = name
        self.circle_id = circle_id


class CircleNameError(InputError):
    """A circle name breaks the naming rules or is already taken."""

    default_hint = "A circle name is 1–64 characters from A–Z, a–z, 0–9, '.', '_' and '-'."


class KeyringNotFoundError(KeyFileError):
    default_hint = "`picveil circle create NAME` creates a keyring with its first circle."


class KeyringCorruptError(TamperedError):
    default_hint = (
        "The keyring file is damaged; restore keyring.age from a backup, or move it "
        "away and ask your friends to share their circles again."
    )


# --- the face gallery (picveil people, the [identify] extra) -----------------------
class PersonNameError(InputError):
    """A gallery name breaks the naming rules or clashes with what is stored."""

    default_hint = "A person's name is 1–64 characters from A–Z, a–z, 0–9, '.', '_' and '-'."


class PersonNotFoundError(InputError):
    """A name given to --only/--except or `people remove` is not in the face gallery."""

    default_hint = "`picveil people list` shows the gallery; `picveil people add NAME PHOTO…` adds someone."


class NoFaceError(InputError):
    """A gallery photo shows no face that the detector finds."""

    default_hint = "Use a photo where the person's face is visible, frontal and at least 40 pixels high."


__all__ = [name for name in dir() if name.endswith("Error") or name == "KeyError_"]
