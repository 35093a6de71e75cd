"""Optional features, probed once: detection, circles, looks, platform profiles.

picveil grows by features that other parts of the package provide (detectors
in ``regions.detectors``, circles in ``crypto.keyring``, looks and platform
profiles as options of :func:`picveil.api.protect`). The web app never
assumes one is there: :func:`capabilities` tries the imports and reads the
API's signature, the page hides the controls of what is missing, and an
endpoint asked for a missing feature answers 501 (:class:`FeatureUnavailableError`).

This module is also the one seam between the web app and those features:
the keyword arguments the app adds to ``api._protect`` / ``api._reveal`` for
circles, looks and platforms are built here and nowhere else.
"""

from __future__ import annotations

import functools
import inspect as _inspect
from importlib import import_module
from pathlib import Path
from typing import Any

from .errors import FeatureUnavailableError

#: What the issue that adds looks names; used when the looks module lists none.
_KNOWN_LOOKS = ("auto", "scramble", "fill", "inpaint", "frost", "sticker", "blur", "pixelate")
#: Likewise for platform profiles, when ``picveil.platforms`` has no ``PROFILES``.
_KNOWN_PLATFORMS = ("generic", "facebook", "instagram", "x", "whatsapp", "telegram")


@functools.cache
def _params(fn_name: str) -> frozenset[str]:
    from .. import api

    fn = getattr(api, fn_name)
    return frozenset(_inspect.signature(fn).parameters)


def _try_import(name: str):
    try:
        return import_module(name)
    except ImportError:
        return None


def _names(module, attrs: tuple[str, ...], fallback: tuple[str, ...]) -> list[str]:
    """Option names a module lists (a mapping, a sequence, or a function returning one)."""
    for attr in attrs:
        value = getattr(module, attr, None) if module is not None else None
        if callable(value):
            try:
                value = value()
            except Exception:  # a broken optional module must not break the page
                value = None
        if isinstance(value, dict):
            return [str(k) for k in value]
        if isinstance(value, (list, tuple)) and value:
            return [str(v) for v in value]
    return list(fallback)


# --- detection ---------------------------------------------------------------------------
def detectors_module():
    """``picveil.regions.detectors``, or :class:`FeatureUnavailableError`."""
    mod = _try_import("picveil.regions.detectors")
    if mod is None or not hasattr(mod, "detect"):
        raise FeatureUnavailableError(
            "Automatic detection is not available in this picveil.",
            hint="Draw the boxes by hand, or install the detection extra: pip install \"picveil[detect]\".",
        )
    return mod


@functools.cache
def detector_status() -> dict[str, str | None]:
    """Each detection class → ``None`` if a detector for it loads here, else why not.

    Loading the models costs about a second, so this runs on the first
    detection, not when the page asks for capabilities.
    """
    mod = detectors_module()
    out: dict[str, str | None] = {}
    for cls in mod.CLASSES:
        try:
            mod.get(cls)
            out[cls] = None
        except mod.DetectorUnavailableError as exc:
            out[cls] = f"{exc.message} {exc.hint}".strip()
    return out


# --- circles ------------------------------------------------------------------------------
def keyring_available() -> bool:
    return _try_import("picveil.crypto.keyring") is not None


def circles_for_protect() -> bool:
    """Whether :func:`picveil.api.protect` takes ``circle=`` (a circle name) and ``keyring=``."""
    return keyring_available() and {"circle", "keyring"} <= _params("_protect")


def circles_for_reveal() -> bool:
    """Whether :func:`picveil.api.reveal` takes ``keyring=`` (to try the keyring's circles)."""
    return keyring_available() and "keyring" in _params("_reveal")


def open_keyring(home: Path | None, passphrase: str | None, *, create: bool):
    from ..crypto.keyring import Keyring

    return Keyring.open(home, passphrase=passphrase or None, create=create)


# --- looks and platforms -----------------------------------------------------------------
def looks() -> list[str]:
    """Looks :func:`picveil.api.protect` offers; empty when it has no ``look=`` option."""
    if "look" not in _params("_protect"):
        return []
    mod = _try_import("picveil.looks") or _try_import("picveil.schemes.looks")
    return _names(mod, ("LOOKS", "names", "available"), _KNOWN_LOOKS)


def platforms() -> list[dict[str, Any]]:
    """Platform profiles, ``[{name, title, max_long_edge, fit_long_edge}]``; empty when there are none.

    They work through ``api.protect(platform=…)`` when the API has that
    option, else by fitting the photo first (:func:`fit_for_platform`).
    """
    if "platform" not in _params("_protect") and _try_import("picveil.platforms") is None:
        return []
    try:
        from ..platforms import PROFILES
    except ImportError:
        return [{"name": n, "title": n, "max_long_edge": None} for n in _KNOWN_PLATFORMS]
    return [
        {"name": p.name, "title": p.title, "max_long_edge": p.max_long_edge, "fit_long_edge": p.fit_edge}
        for p in PROFILES.values()
    ]


def fit_for_platform(photo: bytes, boxes: list, platform: str | None, *, max_pixels: int) -> tuple[bytes, list, dict[str, Any]]:
    """Prepare a photo and its (stored-pixel) boxes for a platform profile.

    Returns ``(photo, boxes, options)``: when :func:`picveil.api.protect`
    takes ``platform=``, the inputs unchanged and that option; otherwise the
    photo resized and re-encoded by :func:`picveil.platforms.fit` (as
    ``picveil fit`` does before ``picveil protect``), the boxes mapped onto it,
    and no option.
    """
    if not platform:
        return photo, boxes, {}
    names = [p["name"] for p in platforms()]
    if platform not in names:
        if not names:
            raise FeatureUnavailableError("Platform profiles are not available in this picveil.")
        from ..errors import InputError

        raise InputError(f"No platform profile named {platform!r}; choose one of {', '.join(names)}.")
    if "platform" in _params("_protect"):
        return photo, boxes, {"platform": platform}
    from ..platforms import fit
    from ..regions import Box

    fitted = fit(photo, platform, max_pixels=max_pixels)
    return fitted.jpeg, [Box(*fitted.map_box((b.x, b.y, b.w, b.h))) for b in boxes], {}


# --- the seam -----------------------------------------------------------------------------
def protect_options(*, look: str | None, circle: str | None, keyring) -> dict[str, Any]:
    """Keyword arguments for ``api._protect`` for a look and a circle.

    ``look`` ``None`` and ``circle`` ``None`` add nothing, so the core API
    is then called exactly as the CLI calls it (look ``auto``). (Platforms:
    :func:`fit_for_platform`.)
    """
    opts: dict[str, Any] = {}
    if look:
        if look not in looks():
            from ..errors import InputError

            raise InputError(f"There is no look {look!r}.", hint=f"The looks: {', '.join(looks())} (see /api/capabilities).")
        opts["look"] = look
    if circle:
        if not circles_for_protect():
            raise FeatureUnavailableError("Protecting for circles is not available in this picveil yet.")
        opts["circle"] = circle
        opts["keyring"] = keyring
    return opts


def reveal_options(keyring) -> dict[str, Any]:
    """Keyword arguments for ``api._reveal``: the keyring to try circles with, or
    none at all (``keyring=False``), so that the app never falls back on a
    keyring the user did not choose."""
    if not circles_for_reveal():
        return {}
    return {"keyring": keyring if keyring is not None else False}


def capabilities() -> dict[str, Any]:
    """What this picveil offers, for ``GET /api/capabilities`` and the page."""
    try:
        det = detectors_module()
        detection = {"available": True, "classes": list(det.CLASSES), "reason": None}
    except FeatureUnavailableError as exc:
        detection = {"available": False, "classes": [], "reason": exc.message}
    return {
        "detection": detection,
        "keyring": {"available": keyring_available()},
        "circles": {"protect": circles_for_protect(), "reveal": circles_for_reveal()},
        "looks": looks(),
        "platforms": platforms(),
    }
