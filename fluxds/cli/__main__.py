"""``python -m fluxds.cli``: the ``fluxds`` command line."""

from __future__ import annotations

import sys

from fluxds.cli import main

if __name__ == "__main__":
    sys.exit(main())
