"""picveil: protect chosen regions of a photo, reveal them for chosen people.

The public API (imported lazily, so ``import picveil`` is cheap):

* :func:`protect`, :func:`protect_file`: scramble regions into a valid JPEG;
* :func:`reveal`, :func:`reveal_file`: restore them with an age identity or passphrase;
* :func:`inspect`: what a protected image carries, without a key;
* :func:`detect`: find faces, text, licence plates and people (the ``[detect]`` extra);
* :class:`Region`, :class:`Box`; :class:`Identity` (age keys); errors in :mod:`picveil.errors`.

Subpackages, from the top down (arrows run one way):

* ``cli``: the ``picveil`` command (typer);
* ``api``: the recipes above;
* ``schemes``: protection transforms on DCT blocks, one module per scheme;
* ``regions``: boxes, MCU snapping (detectors later);
* ``container``: the APP11/JUMBF byte format, its SPEC.md and test vectors;
* ``jpeg``: coefficient access (C extension), markers, metadata policy, input loading;
* ``crypto``: the only package holding key material (age, HKDF, AES-CTR, HMAC);
* ``audit``: the privacy evaluation harness (optional extra; never imported by the core).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from . import errors
from .errors import PicveilError

__version__ = "0.1.0"

_LAZY = {
    "protect": "api",
    "protect_file": "api",
    "reveal": "api",
    "reveal_file": "api",
    "inspect": "api",
    "Inspection": "api",
    "RegionInfo": "api",
    "ProtectReport": "api",
    "RevealReport": "api",
    "Region": "regions",
    "Box": "regions",
    "Identity": "crypto",
    "detect": "regions.detectors",
    "Detection": "regions.detectors",
}

__all__ = ["PicveilError", "errors", "__version__", *_LAZY]

if TYPE_CHECKING:  # pragma: no cover
    from .api import Inspection, ProtectReport, RegionInfo, RevealReport, inspect, protect, protect_file, reveal, reveal_file
    from .crypto import Identity
    from .regions import Box, Region


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'picveil' has no attribute {name!r}")
