"""``POST /api/protect`` and ``POST /api/preview``."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from ... import api
from ...errors import RecipientError
from .. import features
from ..forms import form_body, read_form
from ..imaging import check_space, parse_boxes, preview_source, probe, to_displayed, to_stored, uploaded_photo
from ._common import (
    ERROR_RESPONSES,
    JPEG_RESPONSE,
    binary_response,
    check_passphrase,
    config,
    download_name,
    keyring_passphrase,
    parse_recipients,
    region_json,
)

router = APIRouter(tags=["protect"])

_BOXES_DOC = 'JSON list of boxes in pixels: [{"x": 150, "y": 10, "w": 155, "h": 175}, …] (or [x, y, w, h] lists).'
_SPACE_DOC = "Coordinate space of the boxes: 'stored' (the file's pixels, as the CLI; default) or 'displayed' (EXIF orientation applied, as a browser shows it)."


@router.post(
    "/api/protect",
    summary="Protect boxes of a photo",
    description=(
        "Returns the protected JPEG (`image/jpeg`, as an attachment). The header "
        "`X-Picveil-Report` carries a JSON report: source format, sizes, and the "
        "protected regions (snapped to the MCU grid) in the requested space. "
        "Give recipients, a passphrase, circles, or several."
    ),
    response_class=Response,
    responses={**JPEG_RESPONSE, **ERROR_RESPONSES},
    openapi_extra=form_body(
        ["photo", "boxes"],
        photo=("file", "The photo: JPEG, PNG, BMP, TIFF or WebP (HEIC with the heic extra)."),
        boxes=("string", _BOXES_DOC),
        space=("string", _SPACE_DOC),
        recipients=("string[]", "age recipients (age1…), separated by new lines, commas or spaces. Repeatable."),
        passphrase=("string", "A passphrase that also opens the regions."),
        circle=("string", "A circle name from the keyring (when available): its members reveal with their keyring."),
        look=("string", "The look of protected regions (see /api/capabilities); default auto: scramble for circles (revealable after a platform), else fill."),
        platform=("string", "A platform profile name (see /api/capabilities): the photo is first resized and re-encoded for it, as `picveil fit` does."),
    ),
)
async def protect(request: Request):
    cfg = config(request)
    form = await read_form(request, max_bytes=cfg.max_upload_bytes)
    raw, filename = form.file("photo", what="photo")
    space = check_space(form.text("space"))
    boxes = parse_boxes(form.text("boxes"))
    recipients = parse_recipients(form.texts("recipients"))
    passphrase = check_passphrase(form.texts("passphrase"))
    circle = form.text("circle")
    look, platform = form.text("look"), form.text("platform")
    if not recipients and not passphrase and not circle:
        raise RecipientError(
            "Nobody could reveal this photo: give at least one recipient, a passphrase or a circle.",
            hint="Paste a friend's age1… key, pick a circle, or type a passphrase to share with them.",
        )
    kr_pass = keyring_passphrase(request)

    def work():
        photo = uploaded_photo(raw, cfg.max_pixels)
        info = probe(photo, cfg.max_pixels)
        stored = [to_stored(b, info) for b in boxes] if space == "displayed" else boxes
        cut = [i + 1 for i, b in enumerate(stored) if b.x < 0 or b.y < 0 or b.x + b.w > info.width or b.y + b.h > info.height]
        keyring = features.open_keyring(cfg.keyring_home, kr_pass, create=False) if circle else None
        extra = features.protect_options(look=look, circle=circle, keyring=keyring)
        source, stored, fit_options = features.fit_for_platform(photo, stored, platform, max_pixels=cfg.max_pixels)
        if source is not photo:
            info = probe(source, cfg.max_pixels)  # the report's boxes are in the fitted photo
        out, report, _ = api._protect(
            source,
            stored,
            recipients=recipients,
            passphrase=passphrase,
            max_pixels=cfg.max_pixels,
            clip=True,
            **extra,
            **fit_options,
        )
        if fit_options:  # fitted inside protect: the report's boxes are in the fitted (padded, resized) photo
            info = probe(out, cfg.max_pixels)
        return out, info, report, cut

    out, info, report, cut = await run_in_threadpool(work)
    edge = [f"Box{'es' if len(cut) > 1 else ''} {', '.join(map(str, cut))} reached past the photo's edge and "
            f"{'were' if len(cut) > 1 else 'was'} cut at it."] if cut else []
    summary = {
        "source_format": report.source_format,
        "input_bytes": report.input_bytes,
        "output_bytes": report.output_bytes,
        "warnings": edge + list(report.warnings),
        "advice": list(report.advice),
        "fitted": report.fitted,
        "space": space,
        "regions": [region_json(r, info, space) for r in report.regions],
    }
    return binary_response(out, media_type="image/jpeg", filename=download_name(filename, "protected"), report=summary)


@router.post(
    "/api/preview",
    summary="Quick, low-resolution preview of a protection",
    description=(
        "Protects an upright copy of the photo, shrunk to at most 1024 px, for a throwaway "
        "key, and returns it as `image/jpeg`: what the result will look like, nothing to share. "
        "The preview is upright (EXIF orientation applied) and carries no metadata."
    ),
    response_class=Response,
    responses={**JPEG_RESPONSE, **ERROR_RESPONSES},
    openapi_extra=form_body(
        ["photo", "boxes"],
        photo=("file", "The photo."),
        boxes=("string", _BOXES_DOC),
        space=("string", _SPACE_DOC),
        look=("string", "The look of protected regions; default auto (scramble for circles, else fill)."),
    ),
)
async def preview(request: Request):
    cfg = config(request)
    form = await read_form(request, max_bytes=cfg.max_upload_bytes)
    raw, filename = form.file("photo", what="photo")
    space = check_space(form.text("space"))
    boxes = parse_boxes(form.text("boxes"))
    look = form.text("look")

    def work():
        from ...crypto import Identity

        photo = uploaded_photo(raw, cfg.max_pixels)
        info = probe(photo, cfg.max_pixels)
        displayed = boxes if space == "displayed" else [to_displayed(b, info) for b in boxes]
        small, small_boxes, _ = preview_source(photo, info, displayed)
        extra = features.protect_options(look=look, circle=None, keyring=None)
        return api.protect(small, small_boxes, recipients=[Identity.generate().recipient], clip=True, **extra)

    out = await run_in_threadpool(work)
    return binary_response(out, media_type="image/jpeg", filename=download_name(filename, "preview"))
