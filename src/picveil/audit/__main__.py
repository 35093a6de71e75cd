"""``python -m picveil.audit``: run the audit from the command line."""

import sys

from .run import main

sys.exit(main())
