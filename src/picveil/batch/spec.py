"""Job specs: what to do to one file, shipped to worker processes.

A spec is a small frozen dataclass of options (no images, no loaded keys),
picklable so that the same object travels to a local process pool or to
Dask workers. Each spec offers:

* :meth:`check`: cheap validation in the parent before any file is read;
* :meth:`run_one` (``protect_one`` / ``reveal_one``): read ``src``, compute,
  write ``dst`` atomically, return an :class:`Outcome`; raises a
  :class:`~picveil.errors.PicveilError` when the file cannot be done;
* :meth:`fingerprint`: a digest of the options an output depends on (never
  of secrets), so that changing them redoes the files;
* :meth:`warm`: load what every file needs (detector models) once per
  worker process; loaders cache per process, so later files reuse them.

:func:`process` wraps ``run_one`` for the runner: it checks whether the
file is already up to date (input and output checksums), and turns every
error into a ``failed`` manifest row, so one bad file never stops a batch.

Features that other parts of picveil add (detection, looks, platform
fitting) are looked up when a file needs them; when one is missing the
file fails with :class:`FeatureUnavailableError`, saying what to install.
"""

from __future__ import annotations

import hashlib
import inspect
import io
import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import ClassVar

from ..errors import InputError, NoPicveilDataError, PicveilError, RecipientError, RegionError, UnsupportedImageError
from ..jpeg.loading import heic_available, heic_to_png  # noqa: F401 - HEIC is read there; kept importable from here
from ..regions.region import Box, parse_box
from .manifest import Row
from .walk import PROTECT_SUFFIXES, REVEAL_SUFFIXES

DEFAULT_MAX_PIXELS = 200_000_000
#: Chunk size for hashing files that are not otherwise read.
_HASH_CHUNK = 1 << 20


class FeatureUnavailableError(PicveilError):
    """A batch option needs a part of picveil (or an extra) that is not installed."""

    exit_code = 3
    default_hint = "Install the extra it names, or run the batch without that option."


# --- outcomes ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Outcome:
    """What :meth:`BatchSpec.protect_one` / :meth:`RevealSpec.reveal_one` did to one file.

    ``output_sha256`` is ``None`` when nothing was written (nothing found to
    protect); ``note`` then says why, and otherwise adds detail (regions
    that stayed locked).
    """

    input_sha256: str
    input_bytes: int
    output_sha256: str | None
    output_bytes: int | None
    regions: int
    note: str = ""


@dataclass(frozen=True)
class Task:
    """One file for a worker: paths, and the manifest row of its last run if it may be up to date."""

    rel: str
    src: str
    dst: str
    out_rel: str
    prev: Row | None = None


def sha256_file(path: str | os.PathLike) -> str | None:
    """SHA-256 of a file, read in chunks; ``None`` if it cannot be read."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(_HASH_CHUNK):
                h.update(chunk)
    except OSError:
        return None
    return h.hexdigest()


def _read(path: str | os.PathLike) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError(f"No such file: {path} (was it moved during the batch?)") from None
    except OSError as exc:
        raise InputError(f"Cannot read {path}: {exc.strerror}", hint="Check the file's permissions.") from None


def _write(dst: str, data: bytes) -> str:
    from ..api import write_atomic
    from ..errors import OutputError

    try:
        os.makedirs(os.path.dirname(dst), exist_ok=True)
    except OSError as exc:
        raise OutputError(f"Cannot create the folder of {dst}: {exc.strerror}") from None
    write_atomic(dst, data)
    return hashlib.sha256(data).hexdigest()


def _api_accepts(name: str) -> bool:
    """Whether ``picveil.api._protect`` takes the keyword ``name`` (features land over time)."""
    from .. import api

    return name in inspect.signature(api._protect).parameters


def _as_tuple(items: Iterable[str] | str | None) -> tuple[str, ...]:
    if items is None:
        return ()
    if isinstance(items, str):
        items = items.split(",")
    return tuple(s.strip() for s in items if s and s.strip())


def _as_box(item) -> Box:
    if isinstance(item, Box):
        return item
    if isinstance(item, str):
        return parse_box(item)
    try:
        x, y, w, h = (int(v) for v in item)
    except (TypeError, ValueError):
        raise RegionError(f"Cannot read a box from {item!r}; expected (x, y, w, h).") from None
    return Box(x, y, w, h)


_KEYRINGS: dict = {}


def _open_keyring(home: str | None, passphrase: str | None):
    """The keyring in ``home`` opened with ``passphrase``, once per process
    (opening a passphrase-protected keyring runs scrypt)."""
    from ..crypto import Keyring

    key = (home, passphrase)
    if key not in _KEYRINGS:
        _KEYRINGS[key] = Keyring.open(home, passphrase=passphrase)
    return _KEYRINGS[key]


def _digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


# --- protect ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BatchSpec:
    """How every photo of a batch is protected.

    Parameters
    ----------
    detect : tuple of str
        Classes to find and protect in each photo (``"faces"``, ``"plates"``,
        ``"text"``, ``"people"``); needs :mod:`picveil.regions.detectors`.
    boxes : tuple of Box or (x, y, w, h) or "X,Y,W,H"
        Boxes protected in every photo (stored pixels of the input; with
        ``clip``, boxes are clipped to each photo and dropped where they
        miss it).
    circle, recipients, passphrase, keyring
        Who can reveal, as for :func:`picveil.protect`.
    keyring_passphrase : str, optional
        The passphrase of a passphrase-protected keyring (each worker opens
        the keyring once).
    look : str, optional
        How protected regions look (:mod:`picveil.looks`; default auto:
        scramble for circles, else fill).
    cells, feather, shape : optional
        Options of painted looks, passed on when given.
    platform : str, optional
        Fit each photo to this network's profile first (:func:`picveil.platforms.fit`);
        ``boxes`` are mapped onto the fitted photo, detection runs on it.
    level : int, optional
        Security level 1..5: protect the detections in priority order up to
        the level's share of the image (:mod:`picveil.regions.priority`).
    min_score : float, optional
        Drop weaker detections (default: the detectors' per-class thresholds).
    min_face : float
        Smallest face height to look for, in pixels.
    scheme, quality, keep_gps, keep_serials, max_pixels
        As for :func:`picveil.protect`.
    clip : bool
        Clip boxes to each photo (default ``True``: a library mixes sizes).
    allow_empty : bool
        Photos with nothing to protect (no detection, boxes off the photo) are
        still written, without protected regions but with the metadata
        allow-list applied. By default they are skipped and not written.
    """

    detect: tuple[str, ...] = ()
    boxes: tuple[Box, ...] = ()
    circle: str | None = None
    recipients: tuple[str, ...] = ()
    passphrase: str | None = field(default=None, repr=False)
    keyring: str | None = None
    keyring_passphrase: str | None = field(default=None, repr=False)
    look: str | None = None
    cells: int | None = None
    feather: int | None = None
    shape: str | None = None
    platform: str | None = None
    level: int | None = None
    min_score: float | None = None
    min_face: float = 20.0
    scheme: str | None = None
    quality: int = 95
    clip: bool = True
    allow_empty: bool = False
    keep_gps: bool = False
    keep_serials: bool = False
    max_pixels: int = DEFAULT_MAX_PIXELS

    operation: ClassVar[str] = "protect"
    suffixes: ClassVar[frozenset[str]] = PROTECT_SUFFIXES

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "detect", _as_tuple(self.detect))
        set_(self, "recipients", _as_tuple(self.recipients))
        set_(self, "boxes", tuple(_as_box(b) for b in ((self.boxes,) if isinstance(self.boxes, (str, Box)) else self.boxes)))
        if self.keyring is not None:
            set_(self, "keyring", str(self.keyring))
        if self.look == "auto":
            set_(self, "look", None)

    # -- in the parent --
    def check(self) -> None:
        """Validate the options before any file is read (typed errors for users)."""
        from ..crypto import parse_recipient

        if not self.detect and not self.boxes:
            raise RegionError("Nothing to protect.", hint="Give --detect faces,plates and/or --box X,Y,W,H.")
        if not self.recipients and not self.passphrase and not self.circle:
            raise RecipientError("No one to reveal the regions.", hint="Add --to age1…, --circle NAME or --passphrase.")
        for r in self.recipients:
            parse_recipient(r)
        if self.circle:
            from ..crypto import Keyring

            _open_keyring(self.keyring, self.keyring_passphrase).get(self.circle)  # a missing keyring or circle: now, not per file
        for b in self.boxes:
            if b.w <= 0 or b.h <= 0:
                raise RegionError(f"The box {b} is empty: its width and height must be positive.")
        if self.detect:
            try:
                from ..regions.detectors.base import canonical_class
            except ImportError:
                raise FeatureUnavailableError("Detection is not available in this picveil.") from None
            for c in self.detect:
                try:
                    canonical_class(c)
                except ValueError as exc:
                    raise RegionError(str(exc), hint="--detect takes a comma-separated list: faces,text,plates,people.") from None
        if self.level is not None:
            if not self.detect:
                raise RegionError("--level chooses among detections; it needs --detect.")
            if self.level not in range(1, 6):
                raise RegionError(f"The security level is an integer from 1 to 5, got {self.level!r}.")
        if self.min_score is not None and not 0.0 <= self.min_score <= 1.0:
            raise RegionError(f"--min-score must be in [0, 1], got {self.min_score!r}.")
        look_options = {k: v for k, v in self._look_options().items() if k != "look"}
        if self.look is not None or look_options:
            if not all(_api_accepts(k) for k in ["look", *look_options]):
                raise FeatureUnavailableError(f"The look {self.look!r} or its options are not available in this picveil.")
            from ..looks import LookParams, look_id

            if self.look is not None:
                look_id(self.look)
            LookParams(**look_options)
            if self.shape == "mask":
                raise RegionError("--shape mask needs a mask per photo, which batch runs do not take.", hint="Use box or ellipse.")
        if self.platform is not None:
            try:
                from ..platforms import get_profile
            except ImportError:
                raise FeatureUnavailableError("Platform profiles are not available in this picveil.") from None
            get_profile(self.platform)

    def fingerprint(self) -> str:
        """Digest of every option the outputs depend on; secrets only as present/absent."""
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("passphrase", "keyring_passphrase")}
        d["passphrase"] = self.passphrase is not None
        d["recipients"] = sorted(self.recipients)
        d["operation"] = self.operation
        return _digest(d)

    # -- in the workers --
    def warm(self) -> None:
        """Load the detector models once in this process (errors resurface per file)."""
        if not self.detect:
            return
        try:
            import numpy as np

            from ..regions.detectors import detect

            detect(np.zeros((64, 64, 3), np.uint8), self.detect, min_face=self.min_face)
        except Exception:  # reported, with its real message, by the first file that needs it
            pass

    def protect_one(self, src: str | os.PathLike, dst: str | os.PathLike, *, data: bytes | None = None) -> Outcome:
        """Protect the photo ``src`` into the JPEG ``dst`` (written atomically; ``src`` is never modified).

        Returns an :class:`Outcome` (with ``output_sha256`` ``None`` when
        nothing was found to protect: then nothing is written). Raises a
        :class:`~picveil.errors.PicveilError` when the photo cannot be protected.
        """
        from .. import api
        from ..jpeg.loading import sniff

        if data is None:
            data = _read(src)
        in_sha = hashlib.sha256(data).hexdigest()
        image = data
        if sniff(data[:16]) == "heic":
            image = heic_to_png(data, max_pixels=self.max_pixels)
        options: dict = dict(
            recipients=list(self.recipients),
            passphrase=self.passphrase,
            circle=self.circle,
            keyring=_open_keyring(self.keyring, self.keyring_passphrase) if self.keyring_passphrase else self.keyring,
            quality=self.quality,
            scheme=self.scheme,
            keep_gps=self.keep_gps,
            keep_serials=self.keep_serials,
            max_pixels=self.max_pixels,
            clip=self.clip,
        )
        boxes = list(self.boxes)
        if self.platform is not None:  # fitted here (not by protect) so that detection sees the fitted photo
            image, boxes = self._fit(image, boxes)
        for key, value in self._look_options().items():
            if not _api_accepts(key):
                raise FeatureUnavailableError(f"The look option {key}={value!r} is not available in this picveil.")
            options[key] = value
        width, height = _image_size(image, self.max_pixels)
        if self.detect:
            boxes += self._detect(image)
        if self.clip:
            boxes = [b for b in boxes if b.x < width and b.y < height and b.x + b.w > 0 and b.y + b.h > 0]
        note = ""
        if not boxes:
            what = ", ".join(self.detect) if self.detect else "the boxes miss this photo"
            note = f"nothing to protect ({'no ' + what + ' found' if self.detect else what})"
            if not self.allow_empty:
                return Outcome(in_sha, len(data), None, None, 0, note)
            if not _api_accepts("allow_empty"):
                raise FeatureUnavailableError("--allow-empty is not available in this picveil.")
            options["allow_empty"] = True
            note += "; written without protected regions (--allow-empty)"
        out, report, _ = api._protect(image, boxes, **options)
        out_sha = _write(str(dst), out)
        return Outcome(in_sha, len(data), out_sha, len(out), len(report.regions), note)

    run_one = protect_one

    def _look_options(self) -> dict:
        """``look``, ``cells``, ``feather``, ``shape`` for :func:`picveil.protect`, those given only."""
        return {k: getattr(self, k) for k in ("look", "cells", "feather", "shape") if getattr(self, k) is not None}

    def _fit(self, image: bytes, boxes: list[Box]) -> tuple[bytes, list[Box]]:
        try:
            from ..platforms import fit
        except ImportError:
            raise FeatureUnavailableError("Platform fitting is not available in this picveil.") from None
        fitted = fit(image, self.platform, max_pixels=self.max_pixels)
        return fitted.jpeg, [Box(*fitted.map_box((b.x, b.y, b.w, b.h))) for b in boxes]

    def _detect(self, image: bytes) -> list[Box]:
        try:
            from ..regions.detectors import detect, load_image
        except ImportError:
            raise FeatureUnavailableError("Detection is not available in this picveil.", hint='Install the detection extra: pip install "picveil[detect]".') from None
        rgb, orientation = load_image(image, max_pixels=self.max_pixels)
        found = detect(rgb, self.detect, min_score=self.min_score, min_face=self.min_face, orientation=orientation, max_pixels=self.max_pixels)
        if self.level is not None and found:
            from ..regions.priority import prioritise, select_by_level

            h, w = rgb.shape[:2]
            found = select_by_level(prioritise(found, w, h), self.level, w, h)
        return [d.box for d in found]


def _image_size(image: bytes, max_pixels: int) -> tuple[int, int]:
    """(width, height) from the header only."""
    from ..errors import CorruptImageError
    from ..jpeg.loading import check_jpeg_size, sniff

    if sniff(image[:16]) == "jpeg":
        return check_jpeg_size(image, max_pixels)
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(image)) as im:
            return im.size
    except UnidentifiedImageError:
        raise UnsupportedImageError("picveil cannot read this image.") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise CorruptImageError(f"The image could not be read: {exc}") from None


# --- reveal ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RevealSpec:
    """How every protected JPEG of a batch is revealed (as :func:`picveil.reveal`).

    ``identities`` are paths to age identity files, read by each worker (key
    material is never pickled); on a cluster they and ``keyring`` must be
    readable at the same paths on every worker.
    """

    identities: tuple[str, ...] = ()
    passphrase: str | None = field(default=None, repr=False)
    keyring: str | None = None
    keyring_passphrase: str | None = field(default=None, repr=False)
    require_all: bool = False
    max_pixels: int = DEFAULT_MAX_PIXELS

    operation: ClassVar[str] = "reveal"
    suffixes: ClassVar[frozenset[str]] = REVEAL_SUFFIXES

    def __post_init__(self) -> None:
        ids = (self.identities,) if isinstance(self.identities, (str, os.PathLike)) else self.identities
        object.__setattr__(self, "identities", tuple(str(Path(p).expanduser().resolve()) for p in ids))
        if self.keyring is not None:
            object.__setattr__(self, "keyring", str(Path(self.keyring).expanduser().resolve()))

    def check(self) -> None:
        from ..crypto import load_identities

        if self.identities:
            load_identities(list(self.identities))  # KeyFileError now, not once per file

    def fingerprint(self) -> str:
        return _digest(
            {
                "operation": self.operation,
                "identities": sorted(self.identities),
                "passphrase": self.passphrase is not None,
                "keyring": self.keyring,
                "require_all": self.require_all,
                "max_pixels": self.max_pixels,
            }
        )

    def warm(self) -> None:
        pass

    def reveal_one(self, src: str | os.PathLike, dst: str | os.PathLike, *, data: bytes | None = None) -> Outcome:
        """Reveal ``src`` into ``dst`` (atomically). Regions the keys cannot open
        stay protected (noted), unless ``require_all``."""
        from .. import api

        if data is None:
            data = _read(src)
        in_sha = hashlib.sha256(data).hexdigest()
        out, report = api._reveal(
            data,
            identities=list(self.identities),
            passphrase=self.passphrase,
            keyring=_open_keyring(self.keyring, self.keyring_passphrase) if self.keyring_passphrase else self.keyring,
            require_all=self.require_all,
            max_pixels=self.max_pixels,
        )
        out_sha = _write(str(dst), out)
        n = len(report.revealed) + len(report.locked)
        note = f"{len(report.locked)} of {n} regions stay protected (not for these keys)" if report.locked else ""
        return Outcome(in_sha, len(data), out_sha, len(out), len(report.revealed), note)

    run_one = reveal_one


# --- the worker's entry point -------------------------------------------------------------------------
def warm(spec) -> None:
    """Worker initializer: load models once per process."""
    spec.warm()


def process(spec, task: Task) -> Row:
    """Do one file and describe it as a manifest row; never raises for a bad file.

    When ``task.prev`` is set (the last run did this file with the same
    options), the input's SHA-256 and the output file's SHA-256 are compared
    with the recorded ones first: if both match the file is ``skipped``.
    """
    t0 = time.perf_counter()

    def row(status: str, reason: str = "", outcome: Outcome | None = None, **kw) -> Row:
        base = dict(input=task.rel, output=None, status=status, reason=reason, seconds=round(time.perf_counter() - t0, 4))
        if outcome is not None:
            base.update(
                input_sha256=outcome.input_sha256,
                input_bytes=outcome.input_bytes,
                output_sha256=outcome.output_sha256,
                output_bytes=outcome.output_bytes,
                regions=outcome.regions,
                output=task.out_rel if outcome.output_sha256 is not None else None,
            )
        base.update(kw)
        return Row(**base)

    try:
        data = _read(task.src)
        prev = task.prev
        if prev is not None and prev.input_sha256 == hashlib.sha256(data).hexdigest():
            if prev.output_sha256 is None and prev.regions == 0:
                return replace(prev, status="skipped", reason="up to date (nothing to protect)", seconds=round(time.perf_counter() - t0, 4))
            if prev.output == task.out_rel and prev.output_sha256 == sha256_file(task.dst):
                return replace(prev, status="skipped", reason="up to date (checksums match)", seconds=round(time.perf_counter() - t0, 4))
        outcome = spec.run_one(task.src, task.dst, data=data)
        if outcome.output_sha256 is None:
            return row("skipped", outcome.note, outcome)
        return row("done", outcome.note, outcome)
    except NoPicveilDataError as exc:
        if spec.operation == "reveal":  # a photo that was never protected (or was copied as it was)
            return row("skipped", f"not protected: {exc.message}")
        return row("failed", exc.message)
    except PicveilError as exc:
        return row("failed", exc.message)
    except MemoryError:
        return row("failed", "out of memory while processing this file")
    except Exception as exc:  # a bug: the batch goes on, the manifest says what happened
        return row("failed", f"internal error ({type(exc).__name__}: {exc}); please report it")
