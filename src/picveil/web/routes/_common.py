"""Helpers shared by the route modules."""

from __future__ import annotations

import json
import re
from dataclasses import asdict

from fastapi import Request, Response

from ...errors import KeyFileError, RecipientError
from ..app import WebConfig, config_of
from ..imaging import ImageInfo, to_displayed

#: Header carrying the keyring's passphrase, for keyrings protected by one.
KEYRING_PASSPHRASE_HEADER = "X-Picveil-Keyring-Passphrase"
#: Header carrying an endpoint's JSON report next to binary image bytes.
REPORT_HEADER = "X-Picveil-Report"

_STEM_RE = re.compile(r"[^A-Za-z0-9._-]+")

ERROR_RESPONSES = {
    413: {"description": "Upload or image over the limits: `{error, hint, kind}`"},
    422: {"description": "The input cannot be used: `{error, hint, kind}`"},
}
JPEG_RESPONSE = {200: {"content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}}}}


def config(request: Request) -> WebConfig:
    return config_of(request)


def keyring_passphrase(request: Request) -> str | None:
    """The keyring passphrase of :data:`KEYRING_PASSPHRASE_HEADER`: HTTP headers
    carry Latin-1, so a passphrase with other characters (Cyrillic, CJK, emoji)
    comes as ``utf-8''`` followed by its percent-encoded UTF-8 (RFC 8187's
    form; the web page always sends it so); any other value is taken as it is."""
    value = request.headers.get(KEYRING_PASSPHRASE_HEADER)
    if not value:
        return None
    if value[:7].lower() == "utf-8''":
        from urllib.parse import unquote

        try:
            return unquote(value[7:], encoding="utf-8", errors="strict") or None
        except UnicodeDecodeError:
            raise RecipientError(
                f"The {KEYRING_PASSPHRASE_HEADER} header's percent-encoded passphrase is not UTF-8.", hint=""
            ) from None
    return value


def download_name(filename: str, suffix: str, ext: str = "jpg") -> str:
    """``"IMG 0042.HEIC.jpg"``, ``"protected"`` → ``"IMG_0042.HEIC.protected.jpg"`` (ASCII, safe)."""
    stem = filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    stem = stem.rsplit(".", 1)[0] if "." in stem else stem
    for known in (".protected", ".revealed"):
        if stem.endswith(known):
            stem = stem[: -len(known)]
    stem = _STEM_RE.sub("_", stem).strip("._")[:80] or "photo"
    return f"{stem}.{suffix}.{ext}"


def binary_response(data: bytes, *, media_type: str, filename: str, report: dict | None = None) -> Response:
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if report is not None:
        headers[REPORT_HEADER] = json.dumps(report, separators=(",", ":"))
    return Response(content=data, media_type=media_type, headers=headers)


def box_json(box, info: ImageInfo | None = None, space: str = "stored") -> dict[str, int]:
    if space == "displayed" and info is not None:
        box = to_displayed(box, info)
    return {"x": box.x, "y": box.y, "w": box.w, "h": box.h}


def region_json(region, info: ImageInfo | None = None, space: str = "stored") -> dict:
    d = asdict(region)
    d["box"] = box_json(region.box, info, space)
    return d


def parse_recipients(values: list[str]) -> list[str]:
    """age recipients from text fields: separated by commas, spaces or new lines; ``#`` comments ignored."""
    from ...crypto import parse_recipient

    found: list[str] = []
    for value in values:
        for line in value.splitlines():
            line = line.split("#", 1)[0]
            for item in re.split(r"[\s,;]+", line):
                if item:
                    parse_recipient(item)  # RecipientError for anything else
                    if item not in found:
                        found.append(item)
    return found


def parse_identities(text: bytes):
    """age identities from the contents of an identity file (``AGE-SECRET-KEY-1…`` lines)."""
    from ...crypto import Identity

    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError:
        raise KeyFileError("The identity file is not a text file.") from None
    found = []
    for line in decoded.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if not line.startswith("AGE-SECRET-KEY-1"):
            raise KeyFileError("This is not an age identity file (it should hold a line starting with AGE-SECRET-KEY-1).")
        found.append(Identity.from_str(line))
    if not found:
        raise KeyFileError("The identity file holds no identity.")
    return found


def check_passphrase(values: list[str]) -> str | None:
    """The passphrase field, unstripped (spaces are part of a passphrase); ``None`` if empty."""
    value = values[0] if values else ""
    if value and not value.strip():
        raise RecipientError("The passphrase is only spaces.")
    return value or None


__all__ = [
    "ERROR_RESPONSES",
    "JPEG_RESPONSE",
    "KEYRING_PASSPHRASE_HEADER",
    "REPORT_HEADER",
    "binary_response",
    "box_json",
    "check_passphrase",
    "config",
    "download_name",
    "keyring_passphrase",
    "parse_identities",
    "parse_recipients",
    "region_json",
]
