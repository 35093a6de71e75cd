"""The ``picveil`` command line (typer + rich): a thin layer over :mod:`picveil.api`.

Exceptions become ``picveil: error: …`` and ``hint: …`` lines on stderr and
the documented exit codes (see :mod:`picveil.errors`)."""
