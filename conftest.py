"""Repository-level pytest configuration.

The doctests of ``fluxds/interop/*.py`` import gammapy, an optional extra: collect them only where
gammapy is installed. (The rest of the configuration is in ``pyproject.toml`` and ``tests/conftest.py``.)
"""

import importlib.util

collect_ignore_glob = [] if importlib.util.find_spec("gammapy") else ["fluxds/interop/*.py"]
