"""``/api/keyring…``: the user's circles and own recipient (``picveil circle …``).

The only endpoints that write to disk: the keyring folder the user manages
(``create_app(keyring_home=…)``, default ``$PICVEIL_HOME`` or
``~/.config/picveil``). A keyring protected by a passphrase needs it in the
``X-Picveil-Keyring-Passphrase`` header: as it is, or, for characters beyond
Latin-1, as ``utf-8''`` and its percent-encoded UTF-8 (what the page sends).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ...errors import KeyFileError, KeyringNotFoundError, NotRecipientError
from .. import features
from ..errors import FeatureUnavailableError
from ..forms import form_body, read_form
from ._common import ERROR_RESPONSES, KEYRING_PASSPHRASE_HEADER, binary_response, config, keyring_passphrase

router = APIRouter(tags=["keyring"])

#: A circle file is a few hundred bytes; anything much larger is not one.
MAX_CIRCLE_FILE = 64 << 10


class CircleInfo(BaseModel):
    name: str
    id: str = Field(description="Public 16-hex-digit circle id.")
    created: str
    shared_with: list[str] = Field(description="age recipients this keyring shared the circle to.")


class KeyringInfo(BaseModel):
    exists: bool
    home: str = Field(description="The keyring folder.")
    recipient: str | None = Field(None, description="Your own age1… recipient, for friends to share circles to.")
    passphrase_protected: bool = False
    circles: list[CircleInfo] = []


class NewCircle(BaseModel):
    name: str = Field(description="1–64 characters from A–Z a–z 0–9 . _ -", examples=["family"])


class ShareRequest(BaseModel):
    recipients: list[str] = Field(description="Friends' age1… recipients.", min_length=1)


class ImportResult(BaseModel):
    circle: CircleInfo
    already: bool = Field(description="True when the keyring had this circle already (nothing changed).")


def _circle(c) -> CircleInfo:
    return CircleInfo(name=c.name, id=c.id_hex, created=c.created, shared_with=list(c.shared_with))


def _info(ring) -> KeyringInfo:
    return KeyringInfo(
        exists=True,
        home=str(ring.home),
        recipient=ring.recipient,
        passphrase_protected=ring.passphrase_protected,
        circles=[_circle(c) for c in ring.circles],
    )


def _open(request: Request, *, create: bool):
    if not features.keyring_available():
        raise FeatureUnavailableError("Circles and the keyring are not available in this picveil.")
    passphrase = keyring_passphrase(request)
    try:
        return features.open_keyring(config(request).keyring_home, passphrase, create=create)
    except NotRecipientError as exc:
        if type(exc) is not NotRecipientError:  # e.g. CircleNotFoundError: keep its own hint
            raise
        hint = (
            "The keyring passphrase is wrong." if passphrase else "Your keyring is protected by a passphrase: type it in the Keyring passphrase field."
        )
        raise NotRecipientError(exc.message, hint=hint) from None


_PASS_DOC = f"Keyrings protected by a passphrase need it in the `{KEYRING_PASSPHRASE_HEADER}` header."


@router.get("/api/keyring", summary="Your keyring: circles and own recipient", description=_PASS_DOC, response_model=KeyringInfo)
async def keyring(request: Request) -> KeyringInfo:
    def work():
        try:
            return _info(_open(request, create=False))
        except KeyringNotFoundError:
            from ...crypto.keyring import default_home

            home = config(request).keyring_home or default_home()
            return KeyringInfo(exists=False, home=str(home))

    return await run_in_threadpool(work)


@router.post(
    "/api/keyring",
    summary="Create your keyring (if there is none)",
    description="Creates the folder, an identity and an empty keyring; with the passphrase header, a passphrase-protected keyring without identity. "
    + _PASS_DOC,
    response_model=KeyringInfo,
)
async def create_keyring(request: Request) -> KeyringInfo:
    return await run_in_threadpool(lambda: _info(_open(request, create=True)))


@router.get(
    "/api/keyring/whoami",
    summary="Your own age recipient",
    description="404 when there is no keyring yet (POST /api/keyring creates one). " + _PASS_DOC,
)
async def whoami(request: Request) -> dict:
    def work():
        ring = _open(request, create=False)
        if ring.recipient is None:
            raise KeyFileError("Your keyring is protected by a passphrase and has no identity.", hint="Use an identity file instead (Create a key).")
        return {"recipient": ring.recipient}

    return await run_in_threadpool(work)


@router.post(
    "/api/keyring/circles",
    summary="Create a circle",
    description="Creates the keyring too when there is none. " + _PASS_DOC,
    response_model=CircleInfo,
    status_code=201,
    responses=ERROR_RESPONSES,
)
async def create_circle(request: Request, body: NewCircle) -> CircleInfo:
    from ...crypto.keyring import check_circle_name

    check_circle_name(body.name)  # before a keyring is created for it

    return await run_in_threadpool(lambda: _circle(_open(request, create=True).create_circle(body.name)))


@router.post(
    "/api/keyring/circles/{name}/share",
    summary="Share a circle with friends",
    description=(
        "Returns the circle file (an age file, `application/octet-stream`, as NAME.circle) "
        "encrypted to the recipients; they import it. " + _PASS_DOC
    ),
    responses={200: {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}, **ERROR_RESPONSES},
)
async def share_circle(request: Request, name: str, body: ShareRequest):
    from ._common import parse_recipients

    def work():
        recipients = parse_recipients(body.recipients)
        return _open(request, create=False).share_circle(name, recipients)

    blob = await run_in_threadpool(work)
    return binary_response(blob, media_type="application/octet-stream", filename=f"{name}.circle")


@router.post(
    "/api/keyring/import",
    summary="Import a circle a friend shared with you",
    description="Opens the circle file with the keyring's identity and adds the circle (creating the keyring if needed). " + _PASS_DOC,
    response_model=ImportResult,
    responses=ERROR_RESPONSES,
    openapi_extra=form_body(
        ["file"],
        file=("file", "The circle file (NAME.circle)."),
        rename=("string", "Import under this name instead of the sender's."),
    ),
)
async def import_circle(request: Request) -> ImportResult:
    form = await read_form(request, max_bytes=min(MAX_CIRCLE_FILE, config(request).max_upload_bytes))
    data, _ = form.file("file", what="circle file")
    rename = form.text("rename")

    def work():
        ring = _open(request, create=True)
        before = {c.circle_id for c in ring.circles}
        circle = ring.import_circle(data, rename=rename)
        return ImportResult(circle=_circle(circle), already=circle.circle_id in before)

    return await run_in_threadpool(work)
