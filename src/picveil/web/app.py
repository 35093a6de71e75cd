"""The FastAPI application: :func:`create_app`.

The app serves the page (``/``, assets under ``/static``) and a JSON/binary
API under ``/api`` that the page uses and scripts may use too; FastAPI
documents it at ``/openapi.json`` and ``/docs``. Routes live one module per
feature in :mod:`picveil.web.routes`.

Safety of a local server
------------------------
* Uploads are parsed in memory (:mod:`picveil.web.forms`); photos, keys and
  passphrases are never written to disk. Only the keyring endpoints write,
  to the keyring folder the user chose.
* Uploads over ``max_upload_bytes`` (413) and images over ``max_pixels``
  (413) are refused before any pixel is decoded.
* Requests must name an allowed host (default: loopback names), which stops
  DNS-rebinding pages; a request that changes or reveals something and comes
  from another origin (``Origin`` header of a different site) is refused
  (403), which stops cross-site form posts.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..errors import PicveilError
from .errors import INTERNAL_ERROR, body_of, log, status_of, too_large

#: Default limits: a 50 MiB upload, 50 megapixels (a 12 MP phone photo is far below).
DEFAULT_MAX_UPLOAD_BYTES = 50 << 20
DEFAULT_MAX_PIXELS = 50_000_000
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")

_CSP = (
    "default-src 'self'; img-src 'self' blob: data:; script-src 'self'; style-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
_SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


@dataclass(frozen=True)
class WebConfig:
    """Settings of one app instance (on ``app.state.config``)."""

    keyring_home: Path | None = None  #: keyring folder; ``None``: the default (``$PICVEIL_HOME``…)
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    max_pixels: int = DEFAULT_MAX_PIXELS
    allowed_hosts: tuple[str, ...] = LOOPBACK_HOSTS


def config_of(request: Request) -> WebConfig:
    return request.app.state.config


def _host_name(host_header: str) -> str:
    """``"[::1]:8765"`` → ``"::1"``, ``"localhost:8765"`` → ``"localhost"``."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def create_app(
    keyring_home: Path | None = None,
    *,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    allowed_hosts: tuple[str, ...] | list[str] = LOOPBACK_HOSTS,
) -> FastAPI:
    """Build the picveil web app.

    Parameters
    ----------
    keyring_home : Path, optional
        The keyring folder the keyring endpoints use (default:
        :func:`picveil.crypto.keyring.default_home`, read when used).
    max_upload_bytes : int
        Largest request body accepted (413 beyond).
    max_pixels : int
        Largest image accepted, width × height (413 beyond).
    allowed_hosts : sequence of str
        Host names the ``Host`` header may carry (``"*"`` allows any).
    """
    if max_upload_bytes < 1 or max_pixels < 1:
        raise ValueError("max_upload_bytes and max_pixels must be positive")
    from .routes import ROUTERS

    app = FastAPI(
        title="picveil",
        version=__version__,
        summary="Protect chosen regions of photos; reveal them for chosen people.",
        description=(
            "The API behind picveil's local web app. Uploads are `multipart/form-data` and are "
            "processed in memory. Errors are JSON `{error, hint, kind}` with a 4xx status."
        ),
    )
    app.state.config = WebConfig(
        keyring_home=Path(keyring_home) if keyring_home is not None else None,
        max_upload_bytes=max_upload_bytes,
        max_pixels=max_pixels,
        allowed_hosts=tuple(h.lower() for h in allowed_hosts),
    )

    @app.middleware("http")
    async def guard(request: Request, call_next):
        cfg = config_of(request)
        host = _host_name(request.headers.get("host", ""))
        if "*" not in cfg.allowed_hosts and host not in cfg.allowed_hosts:
            return JSONResponse(
                {"error": f"This picveil app does not answer to the host name {host!r}.", "hint": "Open it at the address `picveil serve` printed.", "kind": "HostError"},
                status_code=400,
            )
        origin = request.headers.get("origin")
        if request.method not in _SAFE_METHODS and origin is not None:
            # "null": a sandboxed frame or a file:// page on any site; the app's own page sends its origin
            origin_host = origin.split("://", 1)[-1] if origin != "null" else ""
            if origin_host.lower() != request.headers.get("host", "").lower():
                return JSONResponse(
                    {"error": "Requests from other web sites are refused.", "hint": "Use the page `picveil serve` serves.", "kind": "OriginError"},
                    status_code=403,
                )
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cfg.max_upload_bytes:  # any endpoint; forms also count while streaming
            return JSONResponse(body_of(too_large(cfg.max_upload_bytes)), status_code=413)
        try:
            response = await call_next(request)
        except Exception:  # noqa: BLE001 - answered here: Starlette's outermost handler would re-raise, and the server then drops the connection
            log.exception("picveil web: unexpected error on %s %s", request.method, request.url.path)
            response = JSONResponse(INTERNAL_ERROR, status_code=500)
        path = request.url.path
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if path.startswith("/api/"):
            response.headers.setdefault("Cache-Control", "no-store")
        elif path not in ("/docs", "/redoc"):  # FastAPI's doc pages load their scripts from a CDN
            response.headers.setdefault("Content-Security-Policy", _CSP)
        return response

    @app.exception_handler(PicveilError)
    async def picveil_error(request: Request, exc: PicveilError):
        return JSONResponse(body_of(exc), status_code=status_of(exc))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'body'}: {e.get('msg', 'invalid')}" for e in exc.errors()
        )
        return JSONResponse(
            {"error": f"The request is not valid: {problems}.", "hint": "See /docs for this endpoint's fields.", "kind": "RequestError"},
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        message = exc.detail if isinstance(exc.detail, str) else "The request failed."
        return JSONResponse({"error": message, "hint": "", "kind": "HTTPError"}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception):
        log.exception("picveil web: unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse(INTERNAL_ERROR, status_code=500)

    for router in ROUTERS:
        app.include_router(router)

    static = files("picveil.web").joinpath("static")
    app.mount("/static", StaticFiles(directory=str(static)), name="static")

    @app.get("/", include_in_schema=False)
    async def index():
        return FileResponse(str(static.joinpath("index.html")), media_type="text/html")

    return app
