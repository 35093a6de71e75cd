"""``regions.json``: detections a user can review, edit and pass back, and
mask images turned into boxes.

Schema, version 1 (UTF-8 JSON)::

    {
      "version": 1,
      "image": {"width": 4000, "height": 3000},
      "regions": [
        {"id": 1, "class": "face", "score": 0.93, "box": [x, y, w, h],
         "polygon": [[x, y], ...] or null, "enabled": true, "source": "centerface"}
      ]
    }

* ``box`` is in stored pixels (EXIF-unrotated), integers, ``w, h > 0``.
* ``id`` is a positive integer, unique in the file; ``--exclude 3,5`` names ids.
* ``enabled: false`` keeps a region visible (the user's edit); missing: true.
* ``class`` is free text (``"face"``, ``"text"``, ``"plate"``, ``"person"``, or
  a user's own, e.g. ``"manual"``); ``score``, ``polygon`` and ``source`` are
  optional. Unknown keys are ignored, so later versions can add fields.

Every reading problem raises :class:`~picveil.errors.RegionsFileError` (a
:class:`~picveil.errors.RegionError`, with a hint on the format) naming the
file and, for malformed JSON, the line and column.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import RegionsFileError
from .detectors.base import Detection
from .region import Box, Region

VERSION = 1


@dataclass(frozen=True)
class RegionEntry:
    """One region of a regions file."""

    id: int
    cls: str
    box: Box
    score: float | None = None
    polygon: tuple[tuple[int, int], ...] | None = None
    enabled: bool = True
    source: str = ""

    def detection(self) -> Detection:
        """The entry as a :class:`Detection` (score 1.0 when absent: a user's own box),
        e.g. for :func:`picveil.regions.priority.prioritise`."""
        return Detection(self.cls, 1.0 if self.score is None else self.score, self.box, self.polygon, self.source or "regions-file")

    def region(self, **kwargs: Any) -> Region:
        """A :class:`Region` for :func:`picveil.protect`, labelled with the class."""
        return Region(self.box, label=kwargs.pop("label", self.cls), **kwargs)


@dataclass(frozen=True)
class RegionsFile:
    """A parsed regions file."""

    width: int
    height: int
    regions: tuple[RegionEntry, ...]

    def enabled(self, exclude: Iterable[int] = ()) -> list[RegionEntry]:
        """Entries that are enabled and not among the ``exclude`` ids.

        Raises :class:`RegionsFileError` if an excluded id is not in the file
        (a typo would otherwise silently protect the wrong set).
        """
        ex = set(exclude)
        unknown = ex - {r.id for r in self.regions}
        if unknown:
            raise RegionsFileError(
                f"--exclude names id(s) {', '.join(map(str, sorted(unknown)))}, which are not in the regions list.",
                hint="`picveil detect` prints the ids.",
            )
        return [r for r in self.regions if r.enabled and r.id not in ex]

    def check_image(self, width: int, height: int, *, label: str = "The regions file") -> None:
        """:class:`RegionsFileError` unless the file was made for a ``width × height`` image."""
        if (width, height) != (self.width, self.height):
            raise RegionsFileError(
                f"{label} is for a {self.width}×{self.height} image, but this image is {width}×{height}.",
                hint="Run `picveil detect` on this image to make a matching regions file.",
            )


def from_detections(detections: Sequence[Detection], width: int, height: int) -> RegionsFile:
    """Number detections 1..n in their order."""
    entries = tuple(
        RegionEntry(i + 1, d.cls, d.box, float(d.score), d.polygon, True, d.source) for i, d in enumerate(detections)
    )
    return RegionsFile(int(width), int(height), entries)


def to_json(doc: RegionsFile) -> str:
    """Serialise: stable key order, one region per line (easy to edit by
    hand and to diff), trailing newline."""
    regions = []
    for r in doc.regions:
        item: dict[str, Any] = {"id": r.id, "class": r.cls}
        if r.score is not None:
            item["score"] = round(float(r.score), 4)
        item["box"] = [r.box.x, r.box.y, r.box.w, r.box.h]
        item["polygon"] = [list(p) for p in r.polygon] if r.polygon is not None else None
        item["enabled"] = r.enabled
        if r.source:
            item["source"] = r.source
        regions.append(item)
    head = f'{{\n  "version": {VERSION},\n  "image": {json.dumps({"width": doc.width, "height": doc.height})},\n'
    if not regions:
        return head + '  "regions": []\n}\n'
    body = ",\n".join("    " + json.dumps(item) for item in regions)
    return head + '  "regions": [\n' + body + "\n  ]\n}\n"


def write(path: str | PathLike, doc: RegionsFile) -> None:
    """Write ``doc`` to ``path`` atomically."""
    from ..api import write_atomic

    write_atomic(path, to_json(doc).encode("utf-8"))


def _int(v: Any, where: str, *, positive: bool = False) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or int(v) != v:
        raise RegionsFileError(f"{where} must be an integer, got {json.dumps(v)}.")
    if positive and v <= 0:
        raise RegionsFileError(f"{where} must be positive, got {int(v)}.")
    return int(v)


def parse(text: str, *, name: str = "regions.json") -> RegionsFile:
    """Parse and validate the text of a regions file (see the module docstring)."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RegionsFileError(
            f"{name}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}.",
            hint="Fix the file by hand, or run `picveil detect --json` again.",
        ) from None
    if not isinstance(obj, dict):
        raise RegionsFileError(f"{name}: the top level must be an object with version, image and regions.")
    version = obj.get("version")
    if version != VERSION:
        raise RegionsFileError(
            f"{name}: version {json.dumps(version)} is not supported (this picveil reads version {VERSION}).",
            hint="Write the file with `picveil detect --json`.",
        )
    image = obj.get("image")
    if not isinstance(image, dict):
        raise RegionsFileError(f"{name}: \"image\" must be an object {{\"width\": W, \"height\": H}}.")
    width = _int(image.get("width"), f"{name}: image.width", positive=True)
    height = _int(image.get("height"), f"{name}: image.height", positive=True)
    items = obj.get("regions")
    if not isinstance(items, list):
        raise RegionsFileError(f"{name}: \"regions\" must be a list.")
    entries: list[RegionEntry] = []
    seen: set[int] = set()
    for i, item in enumerate(items):
        where = f"{name}: regions[{i}]"
        if not isinstance(item, dict):
            raise RegionsFileError(f"{where} must be an object.")
        rid = _int(item.get("id", i + 1), f"{where}.id", positive=True)
        if rid in seen:
            raise RegionsFileError(f"{where}: id {rid} appears twice; ids must be unique.")
        seen.add(rid)
        cls = item.get("class", "manual")
        if not isinstance(cls, str) or not cls:
            raise RegionsFileError(f"{where}.class must be a non-empty string.")
        box = item.get("box")
        if not isinstance(box, list) or len(box) != 4:
            raise RegionsFileError(f"{where}.box must be [x, y, w, h], got {json.dumps(box)}.")
        x, y = (_int(v, f"{where}.box") for v in box[:2])
        w, h = (_int(v, f"{where}.box width/height", positive=True) for v in box[2:])
        if x < 0 or y < 0 or x + w > width or y + h > height:
            raise RegionsFileError(f"{where}.box {box} lies outside the {width}×{height} image.")
        score = item.get("score")
        if score is not None and (isinstance(score, bool) or not isinstance(score, (int, float)) or not 0 <= score <= 1):
            raise RegionsFileError(f"{where}.score must be a number in [0, 1] or absent.")
        poly_raw = item.get("polygon")
        polygon = None
        if poly_raw is not None:
            if not isinstance(poly_raw, list) or len(poly_raw) < 3:
                raise RegionsFileError(f"{where}.polygon must be null or a list of at least 3 [x, y] points.")
            pts = []
            for p in poly_raw:
                if not isinstance(p, list) or len(p) != 2:
                    raise RegionsFileError(f"{where}.polygon points must be [x, y] pairs.")
                pts.append((_int(p[0], f"{where}.polygon"), _int(p[1], f"{where}.polygon")))
            polygon = tuple(pts)
        enabled = item.get("enabled", True)
        if not isinstance(enabled, bool):
            raise RegionsFileError(f"{where}.enabled must be true or false.")
        source = item.get("source", "")
        entries.append(
            RegionEntry(rid, cls, Box(x, y, w, h), None if score is None else float(score), polygon, enabled, str(source))
        )
    return RegionsFile(width, height, tuple(entries))


def read(path: str | PathLike) -> RegionsFile:
    """Read and validate a regions file; :class:`RegionsFileError` on any problem."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise RegionsFileError(f"No such regions file: {p}", hint="Check the path.") from None
    except OSError as exc:
        raise RegionsFileError(f"Cannot read {p}: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RegionsFileError(f"{p}: not UTF-8 text (byte {exc.start}).", hint="A regions file is JSON.") from None
    return parse(text, name=str(p))


# --- masks ------------------------------------------------------------------------------------------
def mask_to_boxes(mask: np.ndarray, *, min_area: int = 16) -> list[Box]:
    """Bounding boxes of the 8-connected components of a mask.

    Parameters
    ----------
    mask : ndarray, shape (H, W)
        Non-zero (or ``True``) pixels are to be protected.
    min_area : int
        Components with fewer pixels are dropped (stray specks).

    Returns
    -------
    list of Box
        One per component, top to bottom, then left to right.

    Runs in NumPy and plain Python on row runs (no OpenCV needed).
    """
    m = np.asarray(mask)
    if m.ndim != 2:
        raise ValueError(f"A mask is a 2-D array, got shape {m.shape}.")
    m = m != 0
    parent: list[int] = []

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    runs: list[tuple[int, int, int]] = []  # (row, x0, x1) with x1 exclusive
    prev: list[int] = []  # run indices of the previous row
    for y in range(m.shape[0]):
        row = m[y]
        if not row.any():
            prev = []
            continue
        edges = np.flatnonzero(np.diff(np.concatenate(([False], row, [False])).astype(np.int8)))
        cur = []
        j = 0
        for x0, x1 in zip(edges[::2].tolist(), edges[1::2].tolist()):
            idx = len(runs)
            runs.append((y, x0, x1))
            parent.append(idx)
            # 8-connectivity: previous-row runs overlapping [x0 - 1, x1 + 1)
            while j < len(prev) and runs[prev[j]][2] < x0:
                j += 1
            k = j
            while k < len(prev) and runs[prev[k]][1] <= x1:
                ra, rb = find(idx), find(prev[k])
                if ra != rb:
                    parent[max(ra, rb)] = min(ra, rb)
                k += 1
            cur.append(idx)
        prev = cur
    comps: dict[int, list[int]] = {}
    for i, (y, x0, x1) in enumerate(runs):
        r = find(i)
        c = comps.setdefault(r, [y, x0, y + 1, x1, 0])
        c[0], c[1] = min(c[0], y), min(c[1], x0)
        c[2], c[3] = max(c[2], y + 1), max(c[3], x1)
        c[4] += x1 - x0
    boxes = [Box(x0, y0, x1 - x0, y1 - y0) for y0, x0, y1, x1, area in comps.values() if area >= min_area]
    boxes.sort(key=lambda b: (b.y, b.x))
    return boxes


def read_mask(path: str | PathLike, *, min_area: int = 16) -> list[Box]:
    """Boxes of a mask image (PNG etc.): pixels brighter than mid-grey, or
    opaque where the image has alpha, are to be protected."""
    from PIL import Image, UnidentifiedImageError

    p = Path(path)
    try:
        with Image.open(p) as im:
            if im.mode in ("RGBA", "LA") or (im.mode == "P" and "transparency" in im.info):
                alpha = np.asarray(im.convert("RGBA"))[:, :, 3]
                mask = alpha >= 128
            else:
                mask = np.asarray(im.convert("L")) >= 128
    except FileNotFoundError:
        raise RegionsFileError(f"No such mask file: {p}", hint="Check the path.") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise RegionsFileError(f"Cannot read the mask {p}: {exc}", hint="A mask is a PNG: white (or opaque) = protect.") from None
    return mask_to_boxes(mask, min_area=min_area)
