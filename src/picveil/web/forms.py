"""Multipart forms read entirely in memory, under a byte limit.

FastAPI's ``UploadFile`` spools uploads over 1 MiB to a temporary file on
disk; picveil's web app promises that photos and keys never touch the disk,
so it parses ``multipart/form-data`` itself with ``python-multipart``'s
streaming parser, into ``bytes``, and stops reading as soon as the request
passes its limit (413). :func:`form_body` writes the matching OpenAPI
request-body schema, so ``/docs`` still documents every field.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from fastapi import Request
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from .errors import WebError, too_large

#: Most form fields a request may have; the widest form (protect) has about ten.
MAX_FIELDS = 64
#: Longest text field (recipient lists, box lists), bytes.
MAX_TEXT_BYTES = 1 << 20


@dataclass
class Part:
    name: str
    filename: str | None
    content_type: str
    data: bytearray = field(default_factory=bytearray)


class Form:
    """The parts of a parsed form, by name (a name may repeat)."""

    def __init__(self, parts: Iterable[Part]) -> None:
        self._parts: dict[str, list[Part]] = {}
        for p in parts:
            self._parts.setdefault(p.name, []).append(p)

    def file(self, name: str, *, what: str = "file") -> tuple[bytes, str]:
        """The bytes and file name of the upload ``name``; 422 if it is missing or empty."""
        parts = self._parts.get(name)
        if not parts or not parts[0].data:
            raise WebError(f"No {what} was uploaded (form field {name!r}).", status=422, hint=f"Choose a {what} first.")
        return bytes(parts[0].data), parts[0].filename or ""

    def optional_file(self, name: str) -> bytes | None:
        parts = self._parts.get(name)
        return bytes(parts[0].data) if parts and parts[0].data else None

    def texts(self, name: str) -> list[str]:
        """Every value of the text field ``name`` (empty list when absent)."""
        out = []
        for p in self._parts.get(name, ()):
            if len(p.data) > MAX_TEXT_BYTES:
                raise WebError(f"The form field {name!r} is too long.", status=413)
            try:
                out.append(p.data.decode("utf-8"))
            except UnicodeDecodeError:
                raise WebError(f"The form field {name!r} is not UTF-8 text.", status=400) from None
        return out

    def text(self, name: str, default: str | None = None) -> str | None:
        """The first value of the text field ``name``, stripped; ``default`` if absent or blank."""
        values = self.texts(name)
        value = values[0].strip() if values else ""
        return value if value else default

    def flag(self, name: str) -> bool:
        """A checkbox-like field: true for ``1``, ``true``, ``on``, ``yes``."""
        return (self.text(name, "") or "").lower() in ("1", "true", "on", "yes")


async def read_form(request: Request, *, max_bytes: int) -> Form:
    """Parse the request's ``multipart/form-data`` body in memory.

    Raises
    ------
    WebError
        415 when the body is not multipart, 413 past ``max_bytes`` (checked
        against Content-Length first, then while streaming), 400 when the
        form is malformed or has too many fields.
    """
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary:
        raise WebError(
            "This endpoint takes a multipart/form-data upload.",
            status=415,
            hint="Send the fields as a form, e.g. curl -F photo=@photo.jpg …",
        )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise too_large(max_bytes)

    parts: list[Part] = []
    header_field = bytearray()
    header_value = bytearray()
    headers: dict[bytes, bytes] = {}

    def on_part_begin() -> None:
        headers.clear()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header_field.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header_value.extend(data[start:end])

    def on_header_end() -> None:
        headers[bytes(header_field).lower()] = bytes(header_value)
        header_field.clear()
        header_value.clear()

    def on_headers_finished() -> None:
        if len(parts) >= MAX_FIELDS:
            raise WebError(f"The form has more than {MAX_FIELDS} fields.", status=400)
        _, disp = parse_options_header(headers.get(b"content-disposition", b""))
        name = disp.get(b"name")
        if name is None:
            raise WebError("A form field has no name.", status=400)
        filename = disp.get(b"filename")
        parts.append(
            Part(
                name=name.decode("utf-8", "replace"),
                filename=filename.decode("utf-8", "replace") if filename is not None else None,
                content_type=headers.get(b"content-type", b"").decode("latin-1"),
            )
        )

    def on_part_data(data: bytes, start: int, end: int) -> None:
        parts[-1].data.extend(data[start:end])

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
        },
    )
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > max_bytes:
                raise too_large(max_bytes)
            parser.write(chunk)
        parser.finalize()
    except MultipartParseError:
        raise WebError("The uploaded form is malformed.", status=400) from None
    return Form(parts)


# --- OpenAPI -----------------------------------------------------------------------------
def form_body(required: Iterable[str] = (), **fields: tuple[str, str]) -> dict:
    """``openapi_extra`` documenting a multipart body.

    Each keyword is a field: ``(type, description)`` where ``type`` is
    ``"file"``, ``"string"``, ``"boolean"`` or ``"string[]"`` (repeatable).
    """
    props = {}
    for name, (kind, description) in fields.items():
        if kind == "file":
            schema = {"type": "string", "format": "binary"}
        elif kind == "string[]":
            schema = {"type": "array", "items": {"type": "string"}}
        else:
            schema = {"type": kind}
        props[name] = {**schema, "description": description}
    schema = {"type": "object", "properties": props}
    if required:
        schema["required"] = list(required)
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}}
