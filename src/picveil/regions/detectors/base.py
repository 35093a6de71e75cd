"""What every detector shares: the :class:`Detection` record, model files
located inside installed packages and checked by SHA-256, and small pure
helpers on boxes (non-maximum suppression, padding, clipping).

Nothing here imports OpenCV or a runtime: this module is cheap to import.

Coordinates
-----------
Boxes are integer pixels ``(x, y, w, h)`` of the image as the detector saw it,
top-left origin. :func:`picveil.regions.detectors.detect` maps them to the
*stored* pixels of the file (EXIF-unrotated), the coordinates every picveil
box uses.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ...errors import PicveilError
from ..region import Box

#: Canonical class names. Selectors accept the singular or the plural.
CLASSES = ("face", "text", "plate", "person")
_ALIASES = {
    "face": "face",
    "faces": "face",
    "text": "text",
    "texts": "text",
    "plate": "plate",
    "plates": "plate",
    "licence-plate": "plate",
    "license-plate": "plate",
    "person": "person",
    "people": "person",
    "persons": "person",
}


def canonical_class(name: str) -> str:
    """``"faces"`` → ``"face"``, ``"people"`` → ``"person"``; :class:`ValueError` if unknown."""
    try:
        return _ALIASES[name.strip().lower()]
    except KeyError:
        raise ValueError(
            f"Unknown detection class {name!r}; choose from faces, text, plates, people."
        ) from None


class DetectorUnavailableError(PicveilError):
    """A detector's model file or library is missing or does not match its pinned hash."""

    exit_code = 3
    default_hint = 'Install the detection extra: pip install "picveil[detect]".'


@dataclass(frozen=True)
class Detection:
    """One candidate region found in an image.

    Attributes
    ----------
    cls : str
        ``"face"``, ``"text"``, ``"plate"`` or ``"person"``.
    score : float
        Detector confidence in ``[0, 1]``. Scores of different detectors are
        not calibrated against each other.
    box : Box
        Axis-aligned box in pixels (for faces: padded to cover hair and ears,
        unless padding was switched off).
    polygon : tuple of (x, y) or None
        A tighter outline when the detector has one (rotated text boxes).
    source : str
        The detector that produced it, e.g. ``"centerface"``, ``"haar"``.
    """

    cls: str
    score: float
    box: Box
    polygon: tuple[tuple[int, int], ...] | None = None
    source: str = ""


# --- model files -----------------------------------------------------------------------
@dataclass(frozen=True)
class ModelFile:
    """A model file shipped inside an installed Python package, pinned by SHA-256.

    ``sha256`` lists the accepted digests (one per known release of the file).
    """

    package: str
    relpath: str
    sha256: tuple[str, ...]
    install: str  # the pip command that provides it

    def locate(self) -> Path:
        """The file's path, after checking its digest (cached per process).

        Raises
        ------
        DetectorUnavailableError
            The package is not installed, the file is missing, or its digest
            is not one of the pinned ones.
        """
        return _locate(self)


_VERIFIED: dict[ModelFile, Path] = {}


def package_dir(package: str) -> Path | None:
    """Folder of an installed top-level package, found without importing it."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(spec.origin).parent if spec.origin else None


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _locate(mf: ModelFile) -> Path:
    if mf in _VERIFIED:
        return _VERIFIED[mf]
    root = package_dir(mf.package)
    if root is None:
        raise DetectorUnavailableError(
            f"The package {mf.package!r}, which ships the model {mf.relpath}, is not installed.",
            hint=f"Install it: {mf.install}",
        )
    path = root / mf.relpath
    if not path.is_file():
        raise DetectorUnavailableError(
            f"The model file {path} is missing from the installed {mf.package!r} package.",
            hint=f"Reinstall it: {mf.install} --force-reinstall",
        )
    digest = sha256_file(path)
    if digest not in mf.sha256:
        raise DetectorUnavailableError(
            f"The model file {path} has SHA-256 {digest}, not the pinned {mf.sha256[0]}.",
            hint=f"Install the pinned release: {mf.install} --force-reinstall",
        )
    _VERIFIED[mf] = path
    return path


# --- detector protocol -----------------------------------------------------------------------
class Detector(Protocol):
    """A loaded detector. ``name`` is its registry name, ``cls`` what it finds.

    ``__call__`` takes an RGB ``uint8`` array of shape ``(H, W, 3)`` and a
    per-image ``cache`` dict shared by all detectors run on that image (so the
    plate detector can reuse the text detector's output), and returns raw
    detections (faces unpadded) with all scores, however low.
    """

    name: str
    cls: str

    def __call__(self, rgb: np.ndarray, cache: dict[str, Any]) -> list[Detection]: ...


DetectorFactory = Callable[[], Detector]


# --- box helpers (pure) --------------------------------------------------------------------
def xyxy_to_box(x0: float, y0: float, x1: float, y1: float, width: int, height: int) -> Box | None:
    """Round a float box outward and clip it to the image; ``None`` if empty."""
    ix0, iy0 = max(0, int(np.floor(x0))), max(0, int(np.floor(y0)))
    ix1, iy1 = min(width, int(np.ceil(x1))), min(height, int(np.ceil(y1)))
    if ix1 <= ix0 or iy1 <= iy0:
        return None
    return Box(ix0, iy0, ix1 - ix0, iy1 - iy0)


def box_iou(a: Box, b: Box) -> float:
    ix = max(0, min(a.x + a.w, b.x + b.w) - max(a.x, b.x))
    iy = max(0, min(a.y + a.h, b.y + b.h) - max(a.y, b.y))
    inter = ix * iy
    union = a.w * a.h + b.w * b.h - inter
    return inter / union if union else 0.0


def box_coverage(inner: Box, outer: Box) -> float:
    """Share of ``inner``'s area that lies inside ``outer``."""
    ix = max(0, min(inner.x + inner.w, outer.x + outer.w) - max(inner.x, outer.x))
    iy = max(0, min(inner.y + inner.h, outer.y + outer.h) - max(inner.y, outer.y))
    area = inner.w * inner.h
    return ix * iy / area if area else 0.0


def nms_xyxy(boxes: np.ndarray, scores: np.ndarray, iou: float, contain: float = 1.01) -> np.ndarray:
    """Greedy non-maximum suppression; indices kept, best first.

    A box is also dropped when more than ``contain`` of its area lies inside a
    kept box (``contain > 1`` switches that off).

    Parameters
    ----------
    boxes : ndarray, shape (N, 4), float
        ``x0, y0, x1, y1``.
    scores : ndarray, shape (N,)
    """
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    x0, y0, x1, y1 = boxes.T
    area = np.maximum(x1 - x0, 0) * np.maximum(y1 - y0, 0)
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        iw = np.clip(np.minimum(x1[i], x1[rest]) - np.maximum(x0[i], x0[rest]), 0, None)
        ih = np.clip(np.minimum(y1[i], y1[rest]) - np.maximum(y0[i], y0[rest]), 0, None)
        inter = iw * ih
        union = area[i] + area[rest] - inter
        ov = np.where(union > 0, inter / np.where(union > 0, union, 1), 0)
        inside = np.where(area[rest] > 0, inter / np.where(area[rest] > 0, area[rest], 1), 0)
        order = rest[(ov < iou) & (inside < contain)]
    return np.asarray(keep, dtype=np.int64)


def nms_detections(dets: Sequence[Detection], iou: float, contain: float = 1.01) -> list[Detection]:
    """:func:`nms_xyxy` over detections (all classes together: call it per class)."""
    if not dets:
        return []
    arr = np.array([[d.box.x, d.box.y, d.box.x + d.box.w, d.box.y + d.box.h] for d in dets], dtype=np.float64)
    sc = np.array([d.score for d in dets])
    return [dets[i] for i in nms_xyxy(arr, sc, iou, contain)]


@dataclass(frozen=True)
class FacePadding:
    """How far a face box grows to cover hair, ears and chin, as fractions of
    the face's own width (``side``, each side) and height (``top``, ``bottom``).

    The default (+25 % each side, +40 % on top, +15 % below) turns CenterFace's
    brow-to-chin box into a head box; it was checked on the labelled set in
    ``tests/data/detect`` (see ``benchmarks/bench_detect.py``).
    """

    side: float = 0.25
    top: float = 0.40
    bottom: float = 0.15

    def __post_init__(self) -> None:
        for name in ("side", "top", "bottom"):
            v = getattr(self, name)
            if not (0.0 <= v <= 5.0):
                raise ValueError(f"FacePadding.{name} must be in [0, 5], got {v!r}.")

    def apply(self, box: Box, width: int, height: int) -> Box:
        """The padded box, clipped to a ``width × height`` image."""
        dx, up, down = box.w * self.side, box.h * self.top, box.h * self.bottom
        out = xyxy_to_box(box.x - dx, box.y - up, box.x + box.w + dx, box.y + box.h + down, width, height)
        return out if out is not None else box


NO_PADDING = FacePadding(0.0, 0.0, 0.0)


def boxes_of(dets: Iterable[Detection]) -> list[Box]:
    return [d.box for d in dets]
