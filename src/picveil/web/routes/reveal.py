"""``POST /api/reveal``."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from ... import api
from ...errors import KeyFileError, NotRecipientError
from .. import features
from ..forms import form_body, read_form
from ._common import (
    ERROR_RESPONSES,
    JPEG_RESPONSE,
    binary_response,
    check_passphrase,
    config,
    download_name,
    keyring_passphrase,
    parse_identities,
)

router = APIRouter(tags=["reveal"])


@router.post(
    "/api/reveal",
    summary="Reveal the regions your keys open",
    description=(
        "Returns the restored JPEG (`image/jpeg`, as an attachment); regions the keys do not "
        "open stay protected. The header `X-Picveil-Report` carries `{revealed, locked, total, warnings}` "
        "(region indices). Give an identity file, a passphrase, `use_keyring`, or several. "
        "A wrong key answers 403."
    ),
    response_class=Response,
    responses={**JPEG_RESPONSE, 403: {"description": "The keys open no region: `{error, hint, kind}`"}, **ERROR_RESPONSES},
    openapi_extra=form_body(
        ["image"],
        image=("file", "A picveil-protected JPEG."),
        identity=("file", "An age identity file (AGE-SECRET-KEY-1…), e.g. from `picveil keygen`."),
        passphrase=("string", "The passphrase the photo was protected with."),
        use_keyring=("boolean", "Also try the keyring: its identity, and its circles where supported."),
        require_all=("boolean", "Fail unless every region opens."),
    ),
)
async def reveal(request: Request):
    cfg = config(request)
    form = await read_form(request, max_bytes=cfg.max_upload_bytes)
    image, filename = form.file("image", what="protected image")
    identity_file = form.optional_file("identity")
    passphrase = check_passphrase(form.texts("passphrase"))
    use_keyring, require_all = form.flag("use_keyring"), form.flag("require_all")
    if identity_file is None and passphrase is None and not use_keyring:
        raise NotRecipientError(
            "No key given.",
            hint="Choose your identity file, type the passphrase, or use your keyring.",
        )
    kr_pass = keyring_passphrase(request)

    def work():
        identities = parse_identities(identity_file) if identity_file is not None else []
        ring = None
        if use_keyring:
            ring = features.open_keyring(cfg.keyring_home, kr_pass, create=False)
            if ring.identity is not None:
                identities.append(ring.identity)
            elif not features.circles_for_reveal() and not identities and passphrase is None:
                raise KeyFileError("Your keyring has no identity to reveal with.")
        extra = features.reveal_options(ring)
        return api._reveal(
            image,
            identities=identities,
            passphrase=passphrase,
            max_pixels=cfg.max_pixels,
            require_all=require_all,
            **extra,
        )

    out, report = await run_in_threadpool(work)
    summary = {
        "revealed": list(report.revealed),
        "locked": list(report.locked),
        "total": len(report.revealed) + len(report.locked),
        "warnings": list(report.warnings),
    }
    return binary_response(out, media_type="image/jpeg", filename=download_name(filename, "revealed"), report=summary)
