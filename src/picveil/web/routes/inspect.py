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
        "A downloaded copy (its picveil data stripped) is read from its in-image header: `source` says "
        "so, `received` how the copy was shrunk or framed, and the boxes are where the regions are in it. "
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
        from ...errors import UnsupportedImageError

        try:  # the size limit first, from the header: no pixel decoded past it
            info = probe(image, cfg.max_pixels)
        except UnsupportedImageError:  # GIF, HEIC: not probed; inspect says what they carry
            info = None
        found = api.inspect(image)
        return found, info or probe(image, cfg.max_pixels)

    found, info = await run_in_threadpool(work)
    regions = found.regions
    if found.placement is not None:  # a downloaded copy: its regions where they are in this picture
        from dataclasses import replace

        regions = [replace(r, box=placed_box(r.box, found)) for r in regions]
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
        "regions": [region_json(r, info, space) for r in regions],
        "extra_boxes": list(found.extra_boxes),
        "source": found.source,
        "received": found.received,
    }


def placed_box(box, found):
    """A region's box in the protected picture, mapped to where that picture
    sits in the received one (``found.placement``), grown outward to whole pixels."""
    import math

    from ...regions import Box

    px, py, pw, ph = found.placement
    sx, sy = pw / found.width, ph / found.height
    x0, y0 = px + math.floor(box.x * sx), py + math.floor(box.y * sy)
    x1, y1 = px + math.ceil((box.x + box.w) * sx), py + math.ceil((box.y + box.h) * sy)
    return Box(x0, y0, x1 - x0, y1 - y0)
