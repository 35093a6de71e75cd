"""picveil's local web app: ``picveil serve``.

* :mod:`.app`: :func:`create_app`, the FastAPI application (error handling,
  limits, host and origin checks, the page);
* :mod:`.routes`: the ``/api`` endpoints, one module per feature;
* :mod:`.forms`: multipart uploads parsed in memory under a byte limit;
* :mod:`.imaging`: sizes, EXIF orientation and box spaces, live previews;
* :mod:`.features`: which optional features (detection, circles, looks,
  platforms) this picveil has;
* ``static/``: the page, plain HTML, CSS and JavaScript (no build step, no CDN).

Needs the ``[web]`` extra (FastAPI, uvicorn, python-multipart). Importing
this package does not import FastAPI; :func:`create_app` does.
"""

from __future__ import annotations


def create_app(*args, **kwargs):
    """See :func:`picveil.web.app.create_app`."""
    from .app import create_app as _create_app

    return _create_app(*args, **kwargs)


__all__ = ["create_app"]
