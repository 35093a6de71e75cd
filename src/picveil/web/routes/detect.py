"""``POST /api/detect``: candidate boxes (faces, text, plates, people)."""

from __future__ import annotations

import threading

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from .. import features
from ..errors import FeatureUnavailableError, WebError
from ..forms import form_body, read_form
from ..imaging import check_space, probe, uploaded_photo
from ._common import ERROR_RESPONSES, box_json, config

router = APIRouter(tags=["protect"])

#: Detector networks (OpenCV DNN in particular) are not safe to run from two
#: threads at once; requests come from a thread pool, so they take turns.
_DETECT_LOCK = threading.Lock()


@router.post(
    "/api/detect",
    summary="Find what to protect",
    description=(
        "Runs picveil's detectors and returns candidate boxes: `{width, height, orientation, "
        "detections: [{cls, score, box: {x, y, w, h}, source}], unavailable: {class: reason}}`. "
        "`width`/`height` are the image's size in the requested space. Classes whose detector "
        "cannot load here are listed in `unavailable` and skipped; when detection is not "
        "installed at all, or no requested class can run, the answer is 501."
    ),
    responses={**ERROR_RESPONSES, 501: {"description": "Detection is not available: `{error, hint, kind}`"}},
    openapi_extra=form_body(
        ["photo"],
        photo=("file", "The photo."),
        classes=("string", "Comma-separated classes: faces, text, plates, people (default: all)."),
        min_score=("string", "Drop detections scoring below this, 0..1 (default: per-class thresholds)."),
        space=("string", "Coordinate space of the returned boxes: 'stored' (default) or 'displayed'."),
    ),
)
async def detect(request: Request) -> dict:
    cfg = config(request)
    form = await read_form(request, max_bytes=cfg.max_upload_bytes)
    raw, _ = form.file("photo", what="photo")
    space = check_space(form.text("space"))
    mod = features.detectors_module()
    try:
        wanted = [mod.canonical_class(c) for c in (form.text("classes") or ",".join(mod.CLASSES)).split(",") if c.strip()]
        text = form.text("min_score")
        try:
            min_score = float(text) if text is not None else None
        except ValueError:
            raise ValueError(f"min_score must be a number between 0 and 1, not {text!r}.") from None
        if min_score is not None and not 0.0 <= min_score <= 1.0:
            raise ValueError("min_score must be between 0 and 1.")
    except ValueError as exc:
        raise WebError(str(exc), status=422) from None

    def work():
        photo = uploaded_photo(raw, cfg.max_pixels)
        info = probe(photo, cfg.max_pixels)
        status = features.detector_status()
        runnable = [c for c in dict.fromkeys(wanted) if status.get(c) is None]
        unavailable = {c: status[c] for c in dict.fromkeys(wanted) if status.get(c) is not None}
        if not runnable:
            raise FeatureUnavailableError(
                "No detector for the requested classes can run here.",
                hint=" ".join(unavailable.values()) or None,
            )
        with _DETECT_LOCK:
            found = mod.detect(photo, runnable, min_score=min_score, max_pixels=cfg.max_pixels)
        return info, found, unavailable

    info, found, unavailable = await run_in_threadpool(work)
    width, height = info.displayed_size if space == "displayed" else (info.width, info.height)
    return {
        "width": width,
        "height": height,
        "orientation": info.orientation,
        "space": space,
        "detections": [
            {"cls": d.cls, "score": round(float(d.score), 4), "box": box_json(d.box, info, space), "source": d.source}
            for d in found
        ],
        "unavailable": unavailable,
    }
