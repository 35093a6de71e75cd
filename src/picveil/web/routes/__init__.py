"""The ``/api`` endpoints, one module per feature.

==============  ==============================================================
capabilities    ``GET /api/capabilities``
detect          ``POST /api/detect``
protect         ``POST /api/protect``, ``POST /api/preview``
reveal          ``POST /api/reveal``
inspect         ``POST /api/inspect``
keys            ``POST /api/keygen``
keyring         ``GET|POST /api/keyring``, ``GET /api/keyring/whoami``,
                ``POST /api/keyring/circles``, ``POST /api/keyring/circles/{name}/share``,
                ``POST /api/keyring/import``
==============  ==============================================================
"""

from __future__ import annotations

from . import capabilities, detect, inspect, keyring, keys, protect, reveal

ROUTERS = (
    capabilities.router,
    detect.router,
    protect.router,
    reveal.router,
    inspect.router,
    keyring.router,
    keys.router,
)

__all__ = ["ROUTERS"]
