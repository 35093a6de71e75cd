"""Batch runs: protect or reveal whole folder trees, resumably, locally or on Dask.

* :mod:`~picveil.batch.spec`: job specs, :class:`BatchSpec` (protect: boxes,
  detection, looks, platform fitting) and :class:`RevealSpec`, each with a
  ``run_one(src, dst)`` that a worker calls per file;
* :mod:`~picveil.batch.walk`: the streaming tree walk and output naming
  (outputs mirror the tree, always ``.jpg``);
* :mod:`~picveil.batch.manifest`: the SQLite manifest (one row per file:
  done, skipped or failed with the reason, checksums, sizes, time);
* :mod:`~picveil.batch.runner`: :func:`run_batch`, a bounded window of
  tasks on a local process pool or a Dask cluster.

Originals are never written; outputs are written atomically; a rerun skips
files whose input and output still match the manifest's checksums. Nothing
heavy is imported until a batch runs (Dask only with ``dask=``).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

_LAZY = {
    "BatchSpec": "spec",
    "RevealSpec": "spec",
    "Outcome": "spec",
    "FeatureUnavailableError": "spec",
    "Manifest": "manifest",
    "MANIFEST_NAME": "manifest",
    "Row": "manifest",
    "Summary": "runner",
    "run_batch": "runner",
    "default_workers": "runner",
    "EXIT_SOME_FAILED": "runner",
    "EXIT_INTERRUPTED": "runner",
}

__all__ = sorted(_LAZY)

if TYPE_CHECKING:  # pragma: no cover
    from .manifest import MANIFEST_NAME, Manifest, Row
    from .runner import EXIT_INTERRUPTED, EXIT_SOME_FAILED, Summary, default_workers, run_batch
    from .spec import BatchSpec, FeatureUnavailableError, Outcome, RevealSpec


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
