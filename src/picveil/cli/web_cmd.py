"""``picveil serve``: the local web app (needs the ``[web]`` extra).

Wired into the main app by ``register(app)`` at the end of ``cli/main.py``.
FastAPI and uvicorn are imported only when the command runs, so the rest of
the CLI works without the extra.
"""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path
from typing import Optional

import typer

from ..errors import PicveilError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


class ServeError(PicveilError):
    """The app cannot start: a missing extra, or a port that cannot be used."""

    exit_code = 2


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{shown}:{port}/"


def _bind(host: str, port: int) -> socket.socket:
    """A listening-ready socket on ``host:port`` (bound here so the real port is known)."""
    try:
        family = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)[0][0]
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        raise ServeError(
            f"Cannot listen on {host} port {port}: {exc.strerror or exc}.",
            hint="Another program may use that port: choose another with --port (0 picks a free one).",
        ) from None
    return sock


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the ``picveil`` command."""
    from .main import _reports_errors

    @app.command("web", hidden=True, help="The same as `picveil serve`.")
    @app.command("serve")
    @_reports_errors
    def serve(
        port: int = typer.Option(DEFAULT_PORT, "--port", min=0, max=65535, help="TCP port (0: any free port)."),
        host: str = typer.Option(
            DEFAULT_HOST, "--host", help="Address to listen on. Anything but loopback lets other machines use the app."
        ),
        keyring: Optional[Path] = typer.Option(
            None, "--keyring", help="Keyring folder. Default: $PICVEIL_HOME, else $XDG_CONFIG_HOME/picveil or ~/.config/picveil."
        ),
        max_upload_mb: int = typer.Option(50, "--max-upload-mb", min=1, help="Largest upload, MiB."),
        max_pixels: int = typer.Option(50_000_000, "--max-pixels", min=1, help="Largest image, width × height."),
    ) -> None:
        """Start the web app in your browser's reach: protect, reveal and inspect photos, manage circles."""
        from .main import err, out

        try:
            import uvicorn

            from ..web.app import LOOPBACK_HOSTS, create_app
        except ImportError as exc:
            raise ServeError(
                f"The web app needs packages that are not installed ({exc.name}).",
                hint='Install them: pip install "picveil[web]".',
            ) from None
        loopback = _is_loopback(host)
        allowed = LOOPBACK_HOSTS if loopback else ("*",)
        web = create_app(keyring, max_upload_bytes=max_upload_mb << 20, max_pixels=max_pixels, allowed_hosts=allowed)
        if not loopback:
            err.print(
                f"picveil: warning: listening on {host}: anyone who can reach this machine can use the app, "
                "including your keyring's circles, and traffic is not encrypted (plain HTTP).",
                markup=False,
                soft_wrap=True,
            )
        sock = _bind(host, port)
        url = _url(host, sock.getsockname()[1])
        out.print(url, markup=False, soft_wrap=True)
        err.print("Open that address in your browser; Ctrl+C stops the app.", markup=False, soft_wrap=True)
        config = uvicorn.Config(web, log_level="warning", access_log=False)
        uvicorn.Server(config).run(sockets=[sock])
