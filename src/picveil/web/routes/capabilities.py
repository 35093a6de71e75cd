"""``GET /api/capabilities``: which optional features this picveil has."""

from __future__ import annotations

from fastapi import APIRouter, Request

from ... import __version__
from .. import features
from ._common import config

router = APIRouter(tags=["app"])


@router.get(
    "/api/capabilities",
    summary="Features and limits of this app",
    description=(
        "`detection` (available, classes), `keyring`, `circles` (protect/reveal), `looks` and "
        "`platforms` (empty lists when unavailable), and the upload `limits`. The page hides "
        "the controls of missing features."
    ),
)
def capabilities(request: Request) -> dict:
    cfg = config(request)
    return {
        "version": __version__,
        **features.capabilities(),
        "limits": {"max_upload_bytes": cfg.max_upload_bytes, "max_pixels": cfg.max_pixels},
    }
