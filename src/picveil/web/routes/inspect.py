"""``POST /api/inspect``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from ... import api
from ..forms import form_body, read_form
from ..imaging import check_space, probe
from ._common import ERROR_RESPONSES, config, region_json

router = APIRouter(tags=["inspect"])


@router.post(
    "/api/inspect",
    summary="What a protected image carries (no key needed)",
    description=(
        "Format version, scheme, geometry, and each region's box, key group, look, number of "
        "recipients and whether a passphrase opens it. Boxes are in the requested space. "
        "An image without picveil data answers 422 with kind `NoPicveilDataError`."
    ),
    responses=ERROR_RESPONSES,
    openapi_extra=form_body(
        ["image"],
        image=("file", "Any image."),
        space=("string", "Coordinate space of the returned boxes: 'stored' (default) or 'displayed'."),
    ),
)
async def inspect(request: Request) -> dict:
    cfg = config(request)
    form = await read_form(request, max_bytes=cfg.max_upload_bytes)
    image, _ = form.file("image", what="image")
    space = check_space(form.text("space"))

    def work():
        found = api.inspect(image)  # NoPicveilDataError first: a plain photo gets the clearest message
        return found, probe(image, cfg.max_pixels)

    found, info = await run_in_threadpool(work)
    dw, dh = info.displayed_size
    return {
        "format_version": found.format_version,
        "scheme": found.scheme,
        "scheme_id": found.scheme_id,
        "width": found.width,
        "height": found.height,
        "orientation": info.orientation,
        "displayed_width": dw,
        "displayed_height": dh,
        "mcu": list(found.mcu),
        "subsampling": found.subsampling,
        "groups": found.groups,
        "space": space,
        "regions": [region_json(r, info, space) for r in found.regions],
        "extra_boxes": list(found.extra_boxes),
    }
