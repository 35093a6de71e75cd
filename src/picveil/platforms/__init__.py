"""Platforms: what social networks do to uploads, and how to prepare for it.

* :mod:`~picveil.platforms.profiles`: one :class:`PlatformProfile` per
  network (long-edge limit, JPEG quality, what is stripped), each with the
  sources its numbers come from;
* :mod:`~picveil.platforms.fitting`: :func:`fit` resizes and re-encodes a photo
  to a profile *before* protection, so that the network need not resize it;
* :mod:`~picveil.platforms.simulate`: a platform simulator, pure
  bytes → bytes steps (strip, sRGB conversion, orient, resize, JPEG with several encoders,
  WebP, PNG) and :class:`Chain` to run them, with presets per network;
* :mod:`~picveil.platforms.quality`: the IJG quality scale and an estimate
  of the quality a JPEG was written at, from its quantization tables.

Nothing here imports the CLI, the web app or the evaluation code; Pillow,
OpenCV and jpeglib are imported inside the functions that use them, so
importing this package is cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

_LAZY = {
    "PlatformProfile": "profiles",
    "PROFILES": "profiles",
    "get_profile": "profiles",
    "profiles_markdown": "profiles",
    "FitResult": "fitting",
    "ASPECT_MODES": "fitting",
    "aspect_frame": "fitting",
    "fit": "fitting",
    "scale_box": "fitting",
    "target_size": "fitting",
    "Chain": "simulate",
    "Step": "simulate",
    "StepReport": "simulate",
    "ENCODERS": "simulate",
    "PRESETS": "simulate",
    "available_encoders": "simulate",
    "parse_chain": "simulate",
    "preset": "simulate",
    "apply_orientation": "simulate",
    "convert_to_srgb": "simulate",
    "crop_aspect": "simulate",
    "strip_metadata": "simulate",
    "resize_max_edge": "simulate",
    "reencode": "simulate",
    "to_avif": "simulate",
    "to_webp": "simulate",
    "to_png": "simulate",
    "QualityEstimate": "quality",
    "estimate_quality": "quality",
    "ijg_quant_table": "quality",
}

__all__ = sorted(_LAZY)

if TYPE_CHECKING:  # pragma: no cover
    from .fitting import ASPECT_MODES, FitResult, aspect_frame, fit, scale_box, target_size
    from .profiles import PROFILES, PlatformProfile, get_profile, profiles_markdown
    from .quality import QualityEstimate, estimate_quality, ijg_quant_table
    from .simulate import (
        ENCODERS,
        PRESETS,
        Chain,
        Step,
        StepReport,
        apply_orientation,
        available_encoders,
        convert_to_srgb,
        crop_aspect,
        parse_chain,
        preset,
        reencode,
        resize_max_edge,
        strip_metadata,
        to_avif,
        to_png,
        to_webp,
    )


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
