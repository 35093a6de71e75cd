"""``POST /api/keygen``: a new age identity, made in memory and never stored."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

router = APIRouter(tags=["keys"])


class NewIdentity(BaseModel):
    identity: str = Field(description="The identity file's text (secret: save it, mode 600). Works with `age -d -i`.")
    recipient: str = Field(description="The public age1… recipient to give to people who protect photos for you.")


@router.post(
    "/api/keygen",
    summary="Create an age identity",
    description="Like `picveil keygen`: returns a fresh identity and its recipient. The server keeps no copy.",
    response_model=NewIdentity,
)
def keygen() -> NewIdentity:
    from ...crypto import Identity

    ident = Identity.generate()
    return NewIdentity(identity=ident.to_file_text(), recipient=ident.recipient)
