"""Looks: what a protected region shows instead of its content.

``scramble`` is not a look painted from pixels: it is the scheme's keyed
coefficient scramble, the only look whose reveal survives re-encoding
without the container. Every other look paints the region from pixels and
sends the region's original coefficients, encrypted, in the container (or a
sidecar), so reveal stays exact.

The default, ``auto`` (:func:`resolve_auto`), takes ``scramble`` only where
that buys something: when the protect writes the robust in-image header
(every region for a circle), so friends can reveal the picture a platform
served. Otherwise the file is revealable only with its container, a
scrambled region would buy nothing, and it would leak its texture amount
(picveil's audit: a CNN names 25-49 % of scrambled digits, chance 10 %); so
``auto`` paints ``fill`` (:data:`PRIVATE_DEFAULT`), which carries nothing of
the region and looks like a soft blur of its surroundings.

Content-independent looks (nothing of the region's interior reaches them):
``fill``, ``inpaint``, ``frost``, ``sticker``. Derived looks computed from the
original, which a neural network can partly see through (seed 004 and
picveil's audit): ``blur``, ``pixelate``.

Each look is a pure function
``paint(context: np.ndarray (H, W, C) float64 0..255, inside: np.ndarray (H, W) bool, params: LookParams, noise) -> (H, W, C) float64``
that must only read ``context`` where ``~inside`` unless the look is derived.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InputError

#: look name -> numeric id stored in the container's region record.
LOOK_IDS = {"scramble": 0, "fill": 1, "inpaint": 2, "frost": 3, "sticker": 4, "blur": 5, "pixelate": 6}
LOOK_NAMES = {v: k for k, v in LOOK_IDS.items()}
LEAKY = frozenset({"blur", "pixelate"})
#: The default look: resolved per protect by :func:`resolve_auto`.
AUTO = "auto"
#: What ``auto`` paints when no robust header is written: content-independent.
PRIVATE_DEFAULT = "fill"
#: Every name ``look=`` takes, the default first (the web app lists these).
LOOKS = (AUTO, *LOOK_IDS)
SHAPES = ("box", "ellipse", "mask")


#: Most mosaic cells / blur strength across a region (the privacy audit measures
#: up to 48): a face is recognised by eye long before; at hundreds the region is
#: shown nearly unchanged (10000 cells: 57 dB from the original).
MAX_CELLS = 64


@dataclass(frozen=True)
class LookParams:
    """Options of a painted look.

    ``cells``: mosaic cells (pixelate) or blur strength (blur) across the
    region's longer side; ``feather``: soft edge width in pixels;
    ``shape``: ``box``, ``ellipse`` or ``mask``.
    """

    cells: int = 6
    feather: int = 0
    shape: str = "box"

    def __post_init__(self) -> None:
        if self.cells < 1:
            raise InputError("--cells must be at least 1.", hint="Try --cells 6 (six cells across a face).")
        if self.cells > MAX_CELLS:  # --cells 10000 showed the face itself (57 dB from it)
            raise InputError(
                f"--cells is at most {MAX_CELLS}: more cells show the region almost as it is.",
                hint="Try --cells 6 (six cells across a face); blur and pixelate can be recognised at any setting.",
            )
        if self.feather < 0:
            raise InputError("--feather must not be negative.", hint="Give a width in pixels, e.g. --feather 8.")
        if self.shape not in SHAPES:
            raise InputError(f"Unknown shape {self.shape!r}.", hint=f"Use one of: {', '.join(SHAPES)}.")


def look_id(name: str) -> int:
    try:
        return LOOK_IDS[name]
    except KeyError:
        raise InputError(f"Unknown look {name!r}.", hint=f"Use one of: auto, {', '.join(LOOK_IDS)}.") from None


def resolve_auto(name: str, *, robust_header: bool, scheme_given: bool = False) -> str:
    """The look ``name`` stands for: itself, or for ``auto`` ``scramble`` when the
    protect writes the robust header or names a scheme, else :data:`PRIVATE_DEFAULT`."""
    if name != AUTO:
        return name
    return "scramble" if robust_header or scheme_given else PRIVATE_DEFAULT


def leak_warning(name: str) -> str | None:
    """A user-facing warning for looks computed from the original, else ``None``."""
    if name in LEAKY:
        return (
            f"The '{name}' look is computed from the original region: neural networks can recognise "
            "faces and digits through blur and mosaic (see picveil's audit). Use scramble, fill, "
            "inpaint, frost or sticker for privacy."
        )
    return None


__all__ = ["AUTO", "LEAKY", "LOOKS", "LOOK_IDS", "LOOK_NAMES", "LookParams", "PRIVATE_DEFAULT", "SHAPES", "leak_warning", "look_id", "resolve_auto"]
