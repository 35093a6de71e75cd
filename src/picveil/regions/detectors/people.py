"""People detector: OpenCV's HOG + linear SVM pedestrian detector (Dalal and
Triggs; the coefficients ship inside OpenCV, so there is no file to pin),
completed by bodies inferred from faces.

* HOG finds standing, whole people at least 128 px tall at its working
  scale; the image is shrunk so its long side is at most :data:`HOG_SIDE`,
  so in a 12 MP photo it finds people taller than about 500 px.
* HOG misses seated people, crowds and upper bodies, which fill most
  personal photos. So each face found (when a face detector is available)
  also yields a body box below it: :data:`BODY_WIDTH` face widths wide and
  :data:`BODY_HEIGHT` face heights tall from the top of the head, clipped to
  the image, scored :data:`FACE_BODY_WEIGHT` × the face's score. These boxes
  are coarse by construction (source ``"face-body"``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._runtime import import_cv2
from .base import Detection, nms_detections, xyxy_to_box

HOG_SIDE = 1280
HOG_SCALE = 1.08
BODY_WIDTH = 3.5
BODY_HEIGHT = 7.0
FACE_BODY_WEIGHT = 0.8
FACE_MIN_SCORE = 0.5


class HogPeopleDetector:
    """HOG pedestrians plus face-anchored bodies (see the module docstring)."""

    name = "hog-people"
    cls = "person"

    def __init__(self, use_faces: bool = True) -> None:
        cv2 = import_cv2()
        self._cv2 = cv2
        self._hog = cv2.HOGDescriptor()
        self._hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
        self.use_faces = use_faces

    def _faces(self, rgb: np.ndarray, cache: dict[str, Any]) -> list[Detection]:
        if "faces" in cache:
            return cache["faces"]
        from . import get
        from .base import DetectorUnavailableError

        try:
            det = get("faces")
        except DetectorUnavailableError:
            return []
        cache["faces"] = det(rgb, cache)
        return cache["faces"]

    def __call__(self, rgb: np.ndarray, cache: dict[str, Any]) -> list[Detection]:
        cv2 = self._cv2
        height, width = rgb.shape[:2]
        s = min(1.0, HOG_SIDE / max(width, height))
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        if s < 1.0:
            gray = cv2.resize(gray, (round(width * s), round(height * s)), interpolation=cv2.INTER_AREA)
        out: list[Detection] = []
        if min(gray.shape) >= 128:
            rects, weights = self._hog.detectMultiScale(gray, winStride=(8, 8), padding=(8, 8), scale=HOG_SCALE)
            for (x, y, w, h), wt in zip(np.asarray(rects).reshape(-1, 4), np.asarray(weights).reshape(-1)):
                box = xyxy_to_box(x / s, y / s, (x + w) / s, (y + h) / s, width, height)
                if box is not None:
                    # SVM margin → (0, 1): 0 at the decision boundary maps to 0.5
                    out.append(Detection("person", float(1 / (1 + np.exp(-2.0 * float(wt)))), box, None, "hog"))
        if self.use_faces:
            for f in self._faces(rgb, cache):
                if f.score < FACE_MIN_SCORE:
                    continue
                b = f.box
                cx = b.x + b.w / 2
                top = b.y - 0.5 * b.h
                box = xyxy_to_box(cx - BODY_WIDTH * b.w / 2, top, cx + BODY_WIDTH * b.w / 2, top + BODY_HEIGHT * b.h, width, height)
                if box is not None:
                    out.append(Detection("person", FACE_BODY_WEIGHT * f.score, box, None, "face-body"))
        return nms_detections(out, 0.5, contain=0.8)
