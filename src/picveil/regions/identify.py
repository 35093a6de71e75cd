"""Who is in the photo: face embeddings, a gallery of named people, and the
``--only`` / ``--except`` selection of faces to protect (the ``[identify]`` extra).

Faces are embedded with dlib's ResNet face-recognition model (128 numbers per
face, Euclidean distance; two faces of one person are usually closer than
:data:`DEFAULT_THRESHOLD`, dlib's own value, which dlib reports as 99.38 %
accurate on the LFW benchmark). The models are the files of the
``face-recognition-models`` package, run by ``dlib`` (the ``dlib-bin``
wheels); both are imported, and the model files checked by SHA-256, only when
the first face is embedded. Nothing here touches key material: the gallery
is stored, encrypted, by :class:`picveil.crypto.Keyring` (``people``).

Face boxes come from picveil's own face detector
(:func:`picveil.regions.detectors.detect`). dlib's 5-point landmark model
places the eyes and nose inside a *tight* face box (brow to chin, like
CenterFace's raw boxes); padded head boxes are shrunk back with
:func:`unpad_box` first.

Selection rules (:func:`select`):

* ``only=("kid1", "kid2")`` keeps the faces matched to those people; unknown
  faces are *not* protected;
* ``except_=("me",)`` keeps every face except those matched to ``me``;
  unknown faces *are* protected;
* names must be in the gallery, and the two options exclude each other.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar

import numpy as np

from ..errors import InputError, NoFaceError, PersonNotFoundError
from .detectors.base import NO_PADDING, DetectorUnavailableError, FacePadding, ModelFile, xyxy_to_box
from .region import Box

__all__ = [
    "DEFAULT_THRESHOLD",
    "EMBEDDING_DIM",
    "Gallery",
    "Match",
    "check_selection",
    "embed_faces",
    "embed_photo",
    "identify_boxes",
    "select",
    "unpad_box",
]

INSTALL = 'pip install "picveil[identify]"'

LANDMARKS_5 = ModelFile(
    package="face_recognition_models",
    relpath="models/shape_predictor_5_face_landmarks.dat",
    sha256=("c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888",),  # face-recognition-models 0.3.0
    install=INSTALL,
)
RESNET = ModelFile(
    package="face_recognition_models",
    relpath="models/dlib_face_recognition_resnet_model_v1.dat",
    sha256=("55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",),  # face-recognition-models 0.3.0
    install=INSTALL,
)

#: Length of one embedding.
EMBEDDING_DIM = 128
#: dlib's recommended distance threshold: closer faces are taken as the same person.
DEFAULT_THRESHOLD = 0.6
#: Width / height of CenterFace's brow-to-chin box (astronaut 89/120, messi5 31/40),
#: used by :func:`unpad_box` when a padded box was clipped on both sides of one axis.
FACE_ASPECT = 0.75
#: Smallest face (box height, px) a gallery photo may show: dlib's model is
#: trained on 150 × 150 face chips, and tiny faces give unreliable embeddings.
MIN_GALLERY_FACE = 40
#: Smallest face (tight box height, px) that :func:`select` lets ``--only`` /
#: ``--except`` decide about. Smaller faces embed unreliably (a 17×23 px face
#: matched the wrong person in a new-user test) and are always protected.
MIN_MATCH_FACE = 40

_MODELS: dict[str, Any] = {}


def _load() -> tuple[Any, Any, Any]:
    """``(dlib, shape predictor, face recogniser)``, loaded once per process."""
    if not _MODELS:
        try:
            import dlib
        except ImportError:
            raise DetectorUnavailableError(
                "Identifying people needs dlib, which is not installed.", hint=f"Install the extra: {INSTALL}"
            ) from None
        predictor = dlib.shape_predictor(str(LANDMARKS_5.locate()))
        recogniser = dlib.face_recognition_model_v1(str(RESNET.locate()))
        _MODELS.update(dlib=dlib, predictor=predictor, recogniser=recogniser)
    return _MODELS["dlib"], _MODELS["predictor"], _MODELS["recogniser"]


def _as_box(b: Box | Sequence[int]) -> Box:
    return b if isinstance(b, Box) else Box(*(int(v) for v in b))


# --- embeddings ------------------------------------------------------------------------------
def embed_faces(rgb: np.ndarray, boxes: Iterable[Box | Sequence[int]], *, jitters: int = 0) -> np.ndarray:
    """Embed the faces in tight ``boxes`` of an upright RGB image.

    Parameters
    ----------
    rgb : ndarray, shape (H, W, 3), uint8
        The image as a viewer shows it (EXIF orientation applied).
    boxes : iterable of Box or (x, y, w, h)
        Tight face boxes (brow to chin, as the detectors return them with
        ``face_padding=None``), in pixels of ``rgb``.
    jitters : int
        dlib's ``num_jitters``: average over this many random crops (slower,
        slightly more stable); 0 embeds the face once.

    Returns
    -------
    ndarray, shape (n, 128), float64
        One row per box, in order; rows have unit-ish norm (dlib's output).

    Raises
    ------
    ValueError
        ``rgb`` is not ``uint8`` ``(H, W, 3)``, or a box is empty.
    DetectorUnavailableError
        dlib or the model files are missing (the message says what to install).
    """
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"embed_faces takes an RGB uint8 image of shape (H, W, 3), got {rgb.dtype} {rgb.shape}.")
    if jitters < 0:
        raise ValueError(f"jitters must be >= 0, got {jitters!r}.")
    boxes = [_as_box(b) for b in boxes]
    if not boxes:
        return np.zeros((0, EMBEDDING_DIM), dtype=np.float64)
    for b in boxes:
        if b.w <= 0 or b.h <= 0:
            raise ValueError(f"A face box must not be empty, got {b}.")
    dlib, predictor, recogniser = _load()
    img = np.ascontiguousarray(rgb)
    out = np.empty((len(boxes), EMBEDDING_DIM), dtype=np.float64)
    for i, b in enumerate(boxes):
        shape = predictor(img, dlib.rectangle(b.x, b.y, b.x + b.w, b.y + b.h))
        out[i] = np.asarray(recogniser.compute_face_descriptor(img, shape, jitters), dtype=np.float64)
    return out


def unpad_box(box: Box, padding: FacePadding, width: int, height: int) -> Box:
    """The tight face box that ``padding.apply`` grew into ``box`` (inverse of
    :meth:`FacePadding.apply` in a ``width × height`` image).

    Exact when the padded box was not clipped by the image edge. When it was,
    the unclipped edge and the other axis's size are used, and
    :data:`FACE_ASPECT` stands in for a size lost on both sides.
    """
    b = _as_box(box)
    x0, y0, x1, y1 = b.x, b.y, b.x + b.w, b.y + b.h
    cut_l, cut_r, cut_t, cut_b = x0 <= 0, x1 >= width, y0 <= 0, y1 >= height
    w = b.w / (1 + 2 * padding.side) if not (cut_l or cut_r) else None
    h = b.h / (1 + padding.top + padding.bottom) if not (cut_t or cut_b) else None
    if w is None and h is None:
        w, h = min(b.w, b.h * FACE_ASPECT), min(b.h, b.w / FACE_ASPECT)
    elif w is None:
        w = h * FACE_ASPECT
    elif h is None:
        h = w / FACE_ASPECT
    if not cut_l:
        fx0 = x0 + padding.side * w
    elif not cut_r:
        fx0 = x1 - padding.side * w - w
    else:
        fx0 = (x0 + x1 - w) / 2
    if not cut_t:
        fy0 = y0 + padding.top * h
    elif not cut_b:
        fy0 = y1 - padding.bottom * h - h
    else:
        fy0 = (y0 + y1 - h) / 2
    out = xyxy_to_box(fx0, fy0, fx0 + w, fy0 + h, width, height)
    return out if out is not None else b


def _to_upright_box(b: Box, orientation: int, stored_w: int, stored_h: int) -> Box:
    """A box of the stored pixels in the upright view (inverse of the detectors' mapping)."""
    from .detectors import to_stored

    if orientation == 1:
        return b
    inverse = {1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 8, 7: 7, 8: 6}[orientation]
    up_w, up_h = (stored_h, stored_w) if orientation >= 5 else (stored_w, stored_h)
    (u0, v0), (u1, v1) = (to_stored(b.x, b.y, inverse, up_w, up_h), to_stored(b.x + b.w, b.y + b.h, inverse, up_w, up_h))
    return Box(int(min(u0, u1)), int(min(v0, v1)), int(abs(u1 - u0)), int(abs(v1 - v0)))


def identify_boxes(
    image: Any,
    boxes: Sequence[Box | Sequence[int]],
    *,
    padding: FacePadding | None = FacePadding(),
    max_pixels: int | None = None,
    min_face: int = 0,
) -> np.ndarray:
    """Embed the faces in ``boxes`` of an image file, its bytes or an array.

    ``boxes`` are in stored pixels (EXIF-unrotated), as every picveil box, and
    padded with ``padding`` (the detectors' default; ``None`` or
    :data:`~picveil.regions.detectors.NO_PADDING` for tight boxes). The faces
    are embedded in the upright view. Returns ``(len(boxes), 128)`` float64;
    the row of a face whose tight box is less than ``min_face`` pixels high
    is NaN (too small to identify: :func:`select` always protects it).
    """
    from .detectors import DEFAULT_MAX_PIXELS, load_image, upright

    rgb, orientation = load_image(image, max_pixels=max_pixels or DEFAULT_MAX_PIXELS)
    stored_h, stored_w = rgb.shape[:2]
    view = upright(rgb, orientation)
    vh, vw = view.shape[:2]
    pad = padding or NO_PADDING
    tight = [unpad_box(_to_upright_box(_as_box(b), orientation, stored_w, stored_h), pad, vw, vh) for b in boxes]
    out = np.full((len(tight), EMBEDDING_DIM), np.nan)
    big = [i for i, b in enumerate(tight) if b.h >= min_face]
    if big:
        out[big] = embed_faces(view, [tight[i] for i in big])
    return out


def embed_photo(image: Any, *, label: str = "the photo", min_face: int = MIN_GALLERY_FACE) -> np.ndarray:
    """The embedding ``(128,)`` of the largest face in a gallery photo.

    Raises
    ------
    NoFaceError
        No face at least ``min_face`` pixels high is found.
    """
    from .detectors import detect, load_image, upright

    rgb, orientation = load_image(image)
    view = upright(rgb, orientation)
    faces = detect(view, ("faces",), face_padding=None)
    if not faces:
        raise NoFaceError(f"No face found in {label}.")
    largest = max(faces, key=lambda d: d.box.w * d.box.h)
    if largest.box.h < min_face:
        raise NoFaceError(f"The largest face in {label} is {largest.box.h} px high; a gallery photo needs at least {min_face} px.")
    return embed_faces(view, [largest.box])[0]


# --- the gallery ------------------------------------------------------------------------------
class Match(NamedTuple):
    """The gallery's answer for one face: ``name`` (``None`` if nobody is close enough) and
    the distance to the nearest stored embedding (``inf`` for an empty gallery)."""

    name: str | None
    distance: float


@dataclass(frozen=True)
class Gallery:
    """Named people and their face embeddings; :meth:`match` names a face.

    Parameters
    ----------
    people : mapping of str to array-like, shape (k, 128)
        Each person's embeddings (one per gallery photo).
    threshold : float
        Largest distance still taken as the same person (default 0.6, dlib's).
    """

    people: Mapping[str, np.ndarray]
    threshold: float = DEFAULT_THRESHOLD

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold < 2.0:
            raise ValueError(f"The match threshold must be in (0, 2), got {self.threshold!r}.")
        fixed = {}
        for name, rows in self.people.items():
            arr = np.asarray(rows, dtype=np.float64)
            if arr.ndim == 1:
                arr = arr[None]
            if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] != EMBEDDING_DIM:
                raise ValueError(f"{name!r}: embeddings have shape (k, {EMBEDDING_DIM}), got {arr.shape}.")
            fixed[name] = arr
        object.__setattr__(self, "people", fixed)

    @classmethod
    def from_keyring(cls, keyring: Any, *, threshold: float = DEFAULT_THRESHOLD) -> "Gallery":
        """The gallery stored in a :class:`picveil.crypto.Keyring` (its ``people``)."""
        return cls({name: np.asarray(rows) for name, rows in keyring.people.items()}, threshold=threshold)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self.people))

    def __len__(self) -> int:
        return len(self.people)

    def distances(self, embedding: np.ndarray) -> dict[str, float]:
        """Each person → distance from ``embedding`` (128,) to their nearest stored embedding."""
        e = np.asarray(embedding, dtype=np.float64).reshape(-1)
        if e.shape != (EMBEDDING_DIM,):
            raise ValueError(f"An embedding has shape ({EMBEDDING_DIM},), got {np.shape(embedding)}.")
        return {n: float(np.min(np.linalg.norm(rows - e, axis=1))) for n, rows in self.people.items()}

    def match(self, embedding: np.ndarray) -> Match:
        """The nearest person if closer than :attr:`threshold`, else ``Match(None, distance)``."""
        d = self.distances(embedding)
        if not d:
            return Match(None, float("inf"))
        name = min(d, key=lambda n: (d[n], n))
        return Match(name if d[name] < self.threshold else None, d[name])

    def match_many(self, embeddings: np.ndarray) -> list[Match]:
        """:meth:`match` for each row of ``embeddings`` (n, 128)."""
        return [self.match(e) for e in np.asarray(embeddings, dtype=np.float64).reshape(-1, EMBEDDING_DIM)]


# --- selection --------------------------------------------------------------------------------
def _names(value: str | Iterable[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = value.split(",")
    return tuple(dict.fromkeys(n.strip() for n in value if n and n.strip()))


def check_selection(
    gallery: Gallery | None, only: str | Iterable[str] | None, except_: str | Iterable[str] | None
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Validate ``--only`` / ``--except`` names; return them as tuples.

    Raises
    ------
    InputError
        Both are given, or one is given but empty.
    PersonNotFoundError
        A name is not in the gallery (or there is no gallery).
    """
    o, x = _names(only), _names(except_)
    if only is not None and except_ is not None:
        raise InputError(
            "--only and --except exclude each other.",
            hint="Use --only NAMES to protect just those people, or --except NAMES to protect everyone else.",
        )
    if (only is not None and not o) or (except_ is not None and not x):
        raise InputError("--only/--except needs at least one name.", hint="Names are comma-separated: --only kid1,kid2.")
    known = set(gallery.names) if gallery is not None else set()
    missing = [n for n in (*o, *x) if n not in known]
    if missing:
        listed = ", ".join(sorted(known)) or "nobody yet"
        raise PersonNotFoundError(f"Not in your face gallery: {', '.join(missing)} (it holds: {listed}).")
    return o, x


_T = TypeVar("_T")


def select(
    faces: Sequence[_T],
    embeddings: np.ndarray,
    gallery: Gallery,
    *,
    only: str | Iterable[str] | None = None,
    except_: str | Iterable[str] | None = None,
) -> list[_T]:
    """The faces to protect.

    Parameters
    ----------
    faces : sequence
        Anything (detections, regions), one per face.
    embeddings : ndarray, shape (len(faces), 128)
        Their embeddings (:func:`embed_faces`, :func:`identify_boxes`). A
        row of NaN is a face too small to identify: it is always kept (a
        stranger protected is safer than a person left visible).
    gallery : Gallery
    only, except_ : str (comma-separated) or iterable of str, optional
        At most one of them. ``only``: keep faces matched to these people
        (unknown faces are dropped). ``except_``: keep all faces except those
        matched to these people (unknown faces are kept). Neither: keep all.
    """
    o, x = check_selection(gallery, only, except_)
    emb = np.asarray(embeddings, dtype=np.float64).reshape(-1, EMBEDDING_DIM)
    if len(emb) != len(faces):
        raise ValueError(f"{len(faces)} faces but {len(emb)} embeddings.")
    if not o and not x:
        return list(faces)
    unknown = np.isnan(emb).any(axis=1)
    names = [None if u else m.name for u, m in zip(unknown, gallery.match_many(np.nan_to_num(emb)))]
    if o:
        return [f for f, n, u in zip(faces, names, unknown) if u or n in o]
    return [f for f, n, u in zip(faces, names, unknown) if u or n not in x]
