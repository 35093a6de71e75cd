"""Errors of the search subsystem (children of :class:`picveil.errors.PicveilError`)."""

from __future__ import annotations

from ..errors import InputError, IntegrityError, PicveilError

__all__ = ["IndexFileError", "MissingExtraError", "WeightsError", "WeightsIntegrityError"]


class MissingExtraError(PicveilError):
    """An optional dependency of search (PyTorch, FAISS) is not installed."""

    exit_code = 3
    default_hint = "Install the search extra: pip install 'picveil[search]'."


class WeightsError(InputError):
    """A weights file cannot be used (wrong format, no recorded hash)."""

    default_hint = "Train weights with `picveil train-search`, or leave --weights out to use the bundled model."


class WeightsIntegrityError(IntegrityError):
    """A weights file does not match the SHA-256 recorded for it."""

    default_hint = "The weights file was changed after it was written; train it again or restore it."


class IndexFileError(InputError):
    """A library database is missing, not a picveil index, or built with other features."""

    default_hint = "Build the library with `picveil index build DIR --db FILE`."
